/*
 * time.c — wall-clock time in microseconds and RFC 3339 text.
 *
 * Formatting uses proleptic Gregorian civil-date arithmetic (days from
 * 1970-01-01) instead of gmtime/timegm, so that it is exact for every
 * int64 microsecond value, needs no locale or time zone and is thread-safe.
 * Output is always UTC with 6 fraction digits and 'Z'. Every fact written
 * as JSON formats two times, so years 0000..9999 (all that the store can
 * hold) are written with unsigned date arithmetic and a digit-pair table
 * instead of snprintf; years outside that range (only reachable by a
 * caller passing a raw out-of-range value) take the signed snprintf path,
 * which writes the same text either way.
 *
 * Parsing accepts `YYYY-MM-DD[Tt ]HH:MM:SS[.fraction](Z|z|+hh:mm|-hh:mm)`
 * (fraction 1..9 digits, digits beyond microseconds truncated; second 60
 * accepted as a leap second and folded into the next minute, as POSIX
 * time does) or a plain integer of seconds since the epoch (optional '-').
 * Results must fall in years 0000..9999 UTC, the range the format can
 * write, so that parse(format(t)) == t for every accepted t.
 *
 * Threads: pure functions except hk_now_us, which reads the clock.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/fmt.h"
#include "core/utf8.h"
#include "hakgal.h"

#define US_PER_SEC INT64_C(1000000)
#define SEC_PER_DAY INT64_C(86400)
/* Accepted range: the years RFC 3339 can write, 0000..9999, so that every
 * parsed time formats to text that parses back. */
#define MIN_SECS INT64_C(-62167219200) /* 0000-01-01T00:00:00Z */
#define MAX_SECS INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

int64_t hk_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * US_PER_SEC + ts.tv_nsec / 1000;
}

/* Days since 1970-01-01 of the civil date y-m-d (Howard Hinnant's
 * algorithm, valid for all dates in range). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                  /* [0, 399] */
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

/* Inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Floor division and modulo, so that times before 1970 format correctly. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

/* Writes the two digits of v (0..99). */
static inline char *put2(char *w, unsigned v)
{
    memcpy(w, hk_digit_pairs + 2 * v, 2);
    return w + 2;
}

/* Text of a time outside years 0000..9999 (only reachable by a caller
 * passing a raw out-of-range value): signed civil arithmetic and printf,
 * with a sign and more year digits as needed. */
static char *fmt_time_wide(char *w, int64_t us)
{
    int64_t secs = us / US_PER_SEC;
    int64_t frac = us % US_PER_SEC; /* made [0, 999999] below, no overflow */
    if (frac < 0) {
        frac += US_PER_SEC;
        secs -= 1;
    }
    int64_t days = floor_div(secs, SEC_PER_DAY);
    int64_t sod = secs - days * SEC_PER_DAY; /* [0, 86399] */
    int64_t year;
    int month, day;
    civil_from_days(days, &year, &month, &day);
    /* |year| <= 294247 for any int64 microsecond value, so the text is at
     * most 30 characters; the wider scratch buffer only keeps the
     * compiler's truncation analysis quiet. */
    char text[96];
    snprintf(text, sizeof text, "%04" PRId64 "-%02u-%02uT%02u:%02u:%02u.%06uZ",
             year, (unsigned)month, (unsigned)day, (unsigned)(sod / 3600),
             (unsigned)(sod / 60 % 60), (unsigned)(sod % 60), (unsigned)frac);
    size_t n = strlen(text);
    if (n > 31) n = 31;
    memcpy(w, text, n);
    return w + n;
}

char *hk_fmt_time(char *w, int64_t us)
{
    if (us < MIN_SECS * US_PER_SEC || us > MAX_SECS * US_PER_SEC + 999999)
        return fmt_time_wide(w, us);
    /* Years 0000..9999: everything is non-negative once counted from
     * 0000-01-01, so unsigned arithmetic (cheaper division by constants)
     * and civil_from_days' formula counted from 0400 years before
     * 0000-03-01, which keeps January and February of year 0 positive. */
    uint64_t since0 = (uint64_t)(us - MIN_SECS * US_PER_SEC);
    uint64_t secs = since0 / 1000000;
    unsigned frac = (unsigned)(since0 % 1000000);
    uint32_t days0 = (uint32_t)(secs / 86400); /* since 0000-01-01 */
    unsigned sod = (unsigned)(secs % 86400);
    uint32_t z = days0 + 146097 - 60; /* 0000-03-01 is day 60 */
    uint32_t era = z / 146097;
    uint32_t doe = z - era * 146097;
    uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    uint32_t mp = (5 * doy + 2) / 153;
    unsigned day = doy - (153 * mp + 2) / 5 + 1;
    unsigned month = mp < 10 ? mp + 3 : mp - 9;
    unsigned year = yoe + era * 400 + (month <= 2) - 400;
    w = put2(w, year / 100);
    w = put2(w, year % 100);
    *w++ = '-';
    w = put2(w, month);
    *w++ = '-';
    w = put2(w, day);
    *w++ = 'T';
    w = put2(w, sod / 3600);
    *w++ = ':';
    w = put2(w, sod / 60 % 60);
    *w++ = ':';
    w = put2(w, sod % 60);
    *w++ = '.';
    w = put2(w, frac / 10000);
    w = put2(w, frac / 100 % 100);
    w = put2(w, frac % 100);
    *w++ = 'Z';
    return w;
}

void hk_time_format(int64_t us, char out[32])
{
    char *end = hk_fmt_time(out, us); /* at most 31 bytes */
    *end = '\0';
}

/* Reads exactly n decimal digits at *p into *v. */
static bool read_digits(const char **p, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') return false;
        x = x * 10 + (c - '0');
    }
    *v = x;
    *p += n;
    return true;
}

static int days_in_month(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return days[m - 1];
}

static hk_err time_fail(hk_error *err, const char *s, const char *at,
                        const char *why)
{
    hk_err rc = hk_error_set(
        err, HK_ERR_INVALID, "column %u: invalid time '%.*s': %s",
        (unsigned)(at - s) + 1, (int)hk_utf8_prefix(s, strlen(s), 64), s, why);
    if (err) err->column = (uint32_t)(at - s) + 1;
    return rc;
}

/* Integer seconds since the epoch, optional leading '-'. */
static hk_err parse_epoch_seconds(const char *s, int64_t *us, hk_error *err)
{
    const char *p = s;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    if (*p < '0' || *p > '9') return time_fail(err, s, p, "expected digits");
    int64_t v = 0;
    const int64_t max_secs = INT64_MAX / US_PER_SEC;
    for (; *p; p++) { /* bounded by the overflow check */
        if (*p < '0' || *p > '9')
            return time_fail(err, s, p, "expected only digits");
        v = v * 10 + (*p - '0');
        if (v > max_secs) return time_fail(err, s, p, "out of range");
    }
    v = neg ? -v : v;
    if (v < MIN_SECS || v > MAX_SECS)
        return time_fail(err, s, s, "out of range (years 0000..9999)");
    *us = v * US_PER_SEC;
    return HK_OK;
}

hk_err hk_time_parse(const char *s, int64_t *us, hk_error *err)
{
    if (!s || !*s)
        return hk_error_set(err, HK_ERR_INVALID, "invalid time: empty");
    size_t len = strlen(s);
    /* Integer seconds: all digits (with optional '-'), no date separator. */
    if (strspn(s + (s[0] == '-'), "0123456789") == len - (s[0] == '-'))
        return parse_epoch_seconds(s, us, err);

    const char *p = s;
    int year, month, day, hour, minute, second;
    if (!read_digits(&p, 4, &year))
        return time_fail(err, s, p, "expected a 4-digit year");
    if (*p != '-') return time_fail(err, s, p, "expected '-' after the year");
    p++;
    if (!read_digits(&p, 2, &month) || month < 1 || month > 12)
        return time_fail(err, s, p, "expected a month 01..12");
    if (*p != '-') return time_fail(err, s, p, "expected '-' after the month");
    p++;
    const char *day_at = p;
    if (!read_digits(&p, 2, &day) || day < 1 ||
        day > days_in_month(year, month))
        return time_fail(err, s, day_at, "day out of range for the month");
    if (*p != 'T' && *p != 't' && *p != ' ')
        return time_fail(err, s, p, "expected 'T' between date and time");
    p++;
    const char *hour_at = p;
    if (!read_digits(&p, 2, &hour) || hour > 23)
        return time_fail(err, s, hour_at, "expected an hour 00..23");
    if (*p != ':') return time_fail(err, s, p, "expected ':' after the hour");
    p++;
    const char *min_at = p;
    if (!read_digits(&p, 2, &minute) || minute > 59)
        return time_fail(err, s, min_at, "expected minutes 00..59");
    if (*p != ':')
        return time_fail(err, s, p, "expected ':' after the minutes");
    p++;
    const char *sec_at = p;
    if (!read_digits(&p, 2, &second) || second > 60)
        return time_fail(err, s, sec_at, "expected seconds 00..60");
    int64_t frac_us = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits >= 9)
                return time_fail(err, s, p, "more than 9 fraction digits");
            if (digits < 6) frac_us = frac_us * 10 + (*p - '0');
            digits++;
            p++;
        }
        if (digits == 0)
            return time_fail(err, s, p, "expected digits after '.'");
        for (int i = digits; i < 6; i++)
            frac_us *= 10;
    }
    int64_t offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        p++;
        int oh, om;
        const char *off_at = p;
        if (!read_digits(&p, 2, &oh) || oh > 23 || *p != ':')
            return time_fail(err, s, off_at, "expected an offset hh:mm");
        p++;
        if (!read_digits(&p, 2, &om) || om > 59)
            return time_fail(err, s, off_at, "expected an offset hh:mm");
        offset_s = sign * (oh * 3600 + om * 60);
    } else {
        return time_fail(err, s, p, "expected 'Z' or an offset like +02:00");
    }
    if (*p) return time_fail(err, s, p, "unexpected text after the time");
    int64_t days = days_from_civil(year, month, day);
    int64_t secs =
        days * SEC_PER_DAY + hour * 3600 + minute * 60 + second - offset_s;
    if (secs < MIN_SECS || secs > MAX_SECS)
        return time_fail(err, s, s, "out of range (years 0000..9999 UTC)");
    *us = secs * US_PER_SEC + frac_us;
    return HK_OK;
}
