/*
 * io_rdf.c — RDF N-Triples export and import ("ntriples").
 *
 * Mapping (docs/INTERCHANGE.md has it with examples). B is the IRI base
 * (default HK_IRI_BASE_DEFAULT), hk: is https://hakgal.org/ns#.
 *   A term of a fact is written as
 *     - an N-Triples literal, verbatim, when the argument already is one
 *       ("x", "x"@en, "x"^^<dt>: how imported literals are kept);
 *     - "N"^^xsd:integer / xsd:decimal / xsd:double for a number;
 *     - <arg> when the argument is an absolute IRI (scheme ":" then no
 *       space or <>"{}|^`\), _:label for a blank node label;
 *     - else <B + percent-encoded argument>.
 *   P(a, b)          -> a' <B P> b' .
 *   P(a1, ..., an)   -> _:hkfID <hk:predicate> <B P> .
 *   (n != 2)            _:hkfID <hk:arg0> a1' .  ...  (one per position)
 * Import reads line by line in constant memory:
 *   s p o .          -> P(s, o) with P the local name of p (after the
 *                       last '#' or '/', percent-decoded, characters not
 *                       allowed in a predicate replaced by '_'); an IRI
 *                       under B loses B and is percent-decoded, any
 *                       other IRI is kept whole, a blank node as _:label,
 *                       a number literal of xsd:integer/decimal/double as
 *                       the bare number, every other literal verbatim
 *                       (language tag and datatype kept).
 *   consecutive hk:predicate / hk:argN triples of one subject
 *                    -> one n-ary fact (a group with a missing position
 *                       or no hk:predicate is rejected).
 * Invalid lines go to the rejects file like any other format's.
 */
#include "core/buf.h"
#include "core/mem.h"
#include "io/io_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HK_NS "https://hakgal.org/ns#"
#define XSD "http://www.w3.org/2001/XMLSchema#"

/* ==== Terms ==== */

int io_number_kind(const char *s, size_t n)
{
    size_t i = 0, d = 0, f = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) i++;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, d++;
    if (i == n) return d ? 1 : 0;
    int kind = 1;
    if (s[i] == '.') {
        i++;
        kind = 2;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, f++;
    }
    if (d + f == 0) return 0;
    if (i == n) return kind;
    if (s[i] != 'e' && s[i] != 'E') return 0;
    i++;
    if (i < n && (s[i] == '-' || s[i] == '+')) i++;
    size_t e = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, e++;
    return e && i == n ? 3 : 0;
}

static bool iri_forbidden(unsigned char c)
{
    return c <= 0x20 || c == '<' || c == '>' || c == '"' || c == '{' ||
           c == '}' || c == '|' || c == '^' || c == '`' || c == '\\';
}

/* An absolute IRI: scheme ':' rest, no character N-Triples forbids. */
static bool is_abs_iri(const char *s)
{
    size_t i = 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    while (s[i] && s[i] != ':') {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))
            return false;
        i++;
    }
    if (s[i] != ':' || s[i + 1] == '\0') return false;
    for (i++; s[i]; i++)
        if (iri_forbidden((unsigned char)s[i])) return false;
    return true;
}

static bool is_pn_char(unsigned char c)
{
    return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

static bool is_blank_label(const char *s)
{
    if (s[0] != '_' || s[1] != ':' || s[2] == '\0' || s[2] == '.') return false;
    size_t i = 2;
    for (; s[i]; i++)
        if (!is_pn_char((unsigned char)s[i])) return false;
    return s[i - 1] != '.';
}

typedef struct nt_term {
    int kind;         /* 'I' IRI, 'B' blank node, 'L' literal */
    const char *raw;  /* the term as written */
    size_t raw_len;   /* its length */
    const char *text; /* IRI / label / lexical form, inside raw */
    size_t text_len;  /* its length (escapes not decoded) */
    const char *dt;   /* literal datatype IRI or NULL */
    size_t dt_len;    /* its length */
} nt_term;

static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

/* Parses one term at s[*i]; returns false (with a reason) when there is
 * none. Literals may hold only ECHAR/UCHAR escapes. */
static bool parse_term(const char *s, size_t n, size_t *pi, nt_term *t,
                       const char **why)
{
    size_t i = *pi;
    memset(t, 0, sizeof *t);
    t->raw = s + i;
    if (i < n && s[i] == '<') {
        size_t j = i + 1;
        while (j < n && s[j] != '>') {
            if (iri_forbidden((unsigned char)s[j])) {
                *why = "a character not allowed in an IRI";
                return false;
            }
            j++;
        }
        if (j == n || j == i + 1) {
            *why = "an IRI without its closing '>'";
            return false;
        }
        t->kind = 'I';
        t->text = s + i + 1;
        t->text_len = j - i - 1;
        *pi = j + 1;
    } else if (i + 2 < n && s[i] == '_' && s[i + 1] == ':') {
        size_t j = i + 2;
        while (j < n && is_pn_char((unsigned char)s[j]))
            j++;
        while (j > i + 2 && s[j - 1] == '.') /* '.' ends the triple */
            j--;
        if (j == i + 2) {
            *why = "a blank node without a label";
            return false;
        }
        t->kind = 'B';
        t->text = s + i;
        t->text_len = j - i;
        *pi = j;
    } else if (i < n && s[i] == '"') {
        size_t j = i + 1;
        while (j < n && s[j] != '"') {
            if ((unsigned char)s[j] < 0x20) {
                *why = "a control character in a literal";
                return false;
            }
            if (s[j] == '\\') {
                if (j + 1 >= n || !strchr("tbnrf\"'\\uU", s[j + 1])) {
                    *why = "an invalid escape in a literal";
                    return false;
                }
                j++;
            }
            j++;
        }
        if (j >= n) {
            *why = "a literal without its closing '\"'";
            return false;
        }
        t->kind = 'L';
        t->text = s + i + 1;
        t->text_len = j - i - 1;
        j++;
        if (j < n && s[j] == '@') {
            size_t k = j + 1;
            while (k < n && ((s[k] >= 'a' && s[k] <= 'z') ||
                             (s[k] >= 'A' && s[k] <= 'Z') ||
                             (s[k] >= '0' && s[k] <= '9') || s[k] == '-'))
                k++;
            if (k == j + 1) {
                *why = "an empty language tag";
                return false;
            }
            j = k;
        } else if (j + 1 < n && s[j] == '^' && s[j + 1] == '^') {
            size_t k = j + 2;
            nt_term d;
            if (!parse_term(s, n, &k, &d, why) || d.kind != 'I') {
                *why = "a datatype that is not an IRI";
                return false;
            }
            t->dt = d.text;
            t->dt_len = d.text_len;
            j = k;
        }
        *pi = j;
    } else {
        *why = "expected an IRI, a blank node or a literal";
        return false;
    }
    t->raw_len = (size_t)(s + *pi - t->raw);
    return true;
}

/* True when the whole of s is one N-Triples literal. */
static bool is_literal(const char *s)
{
    if (s[0] != '"') return false;
    size_t n = strlen(s), i = 0;
    nt_term t;
    const char *why;
    return parse_term(s, n, &i, &t, &why) && i == n;
}

/* ==== Export ==== */

static const char *const XSD_KIND[4] = {NULL, XSD "integer", XSD "decimal",
                                        XSD "double"};

static hk_err put_iri_enc(hk_buf *b, const char *base, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    hk_err rc = hk_buf_append(b, "<", 1);
    if (rc == HK_OK) rc = hk_buf_append_str(b, base);
    for (const unsigned char *p = (const unsigned char *)s; rc == HK_OK && *p;
         p++) {
        if (iri_forbidden(*p) || *p == '%' || *p == '#' || *p == '/' ||
            *p == '?') {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rc = hk_buf_append(b, e, 3);
        } else {
            rc = hk_buf_append(b, (const char *)p, 1);
        }
    }
    if (rc == HK_OK) rc = hk_buf_append(b, ">", 1);
    return rc;
}

static hk_err put_term(hk_buf *b, const char *base, const char *arg)
{
    int k = io_number_kind(arg, strlen(arg));
    if (k) return hk_buf_appendf(b, "\"%s\"^^<%s>", arg, XSD_KIND[k]);
    if (is_literal(arg) || is_blank_label(arg))
        return hk_buf_append_str(b, arg);
    if (is_abs_iri(arg)) return hk_buf_appendf(b, "<%s>", arg);
    return put_iri_enc(b, base, arg);
}

hk_err io_nt_append_fact(const hk_fact *f, const char *base, hk_buf *b)
{
    hk_err rc;
    if (f->st.n_args == 2) {
        rc = put_term(b, base, f->st.args[0]);
        if (rc == HK_OK) rc = hk_buf_append(b, " ", 1);
        if (rc == HK_OK) rc = put_iri_enc(b, base, f->st.predicate);
        if (rc == HK_OK) rc = hk_buf_append(b, " ", 1);
        if (rc == HK_OK) rc = put_term(b, base, f->st.args[1]);
        if (rc == HK_OK) rc = hk_buf_append(b, " .\n", 3);
        return rc;
    }
    unsigned long long id = (unsigned long long)f->id;
    rc = hk_buf_appendf(b, "_:hkf%llu <" HK_NS "predicate> ", id);
    if (rc == HK_OK) rc = put_iri_enc(b, base, f->st.predicate);
    if (rc == HK_OK) rc = hk_buf_append(b, " .\n", 3);
    for (uint32_t i = 0; rc == HK_OK && i < f->st.n_args; i++) {
        rc = hk_buf_appendf(b, "_:hkf%llu <" HK_NS "arg%u> ", id, i);
        if (rc == HK_OK) rc = put_term(b, base, f->st.args[i]);
        if (rc == HK_OK) rc = hk_buf_append(b, " .\n", 3);
    }
    return rc;
}

/* ==== Turtle export ====
 *
 * The same triples as N-Triples, written with the prefixes kb: (the
 * base), hk: and xsd:. A name becomes kb:NAME when its percent-encoded
 * form is a safe Turtle local name (ASCII letters, digits, '_', '-' and
 * %XX escapes, not starting with '-'; Turtle keeps %XX as written, so the
 * IRI is the one N-Triples writes), else a full <IRI>. Numbers in
 * Turtle's own integer/decimal/double syntax are written bare, other
 * numbers as "N"^^xsd:TYPE. Consecutive binary facts of one subject
 * share it (';'), and an n-ary fact is one blank-node subject with its
 * hk:predicate and hk:argN properties.
 */

static bool ttl_local_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* The percent-encoded name (put_iri_enc without base and brackets). */
static hk_err enc_name(hk_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    hk_err rc = HK_OK;
    for (const unsigned char *p = (const unsigned char *)s; rc == HK_OK && *p;
         p++) {
        if (iri_forbidden(*p) || *p == '%' || *p == '#' || *p == '/' ||
            *p == '?') {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rc = hk_buf_append(b, e, 3);
        } else {
            rc = hk_buf_append(b, (const char *)p, 1);
        }
    }
    return rc;
}

static hk_err ttl_name(hk_buf *b, const char *base, const char *name)
{
    size_t start = b->len;
    hk_err rc = hk_buf_append(b, "kb:", 3);
    if (rc == HK_OK) rc = enc_name(b, name);
    if (rc != HK_OK) return rc;
    const char *loc = b->data + start + 3;
    size_t n = b->len - start - 3;
    bool safe = n > 0 && loc[0] != '-';
    for (size_t i = 0; safe && i < n; i++) {
        unsigned char c = (unsigned char)loc[i];
        if (c == '%') /* enc_name writes '%' only as %XX */
            i += 2;
        else
            safe = ttl_local_char(c);
    }
    if (safe) return HK_OK;
    b->len = start;
    return put_iri_enc(b, base, name);
}

/* Turtle's INTEGER, DECIMAL (digits required after '.') or DOUBLE. */
static bool ttl_bare_number(const char *s)
{
    size_t i = 0, d = 0, f = 0;
    if (s[i] == '+' || s[i] == '-') i++;
    while (s[i] >= '0' && s[i] <= '9')
        i++, d++;
    if (s[i] == '\0') return d > 0;
    if (s[i] == '.') {
        i++;
        while (s[i] >= '0' && s[i] <= '9')
            i++, f++;
        if (s[i] == '\0') return f > 0;
    }
    if (d + f == 0 || (s[i] != 'e' && s[i] != 'E')) return false;
    i++;
    if (s[i] == '+' || s[i] == '-') i++;
    size_t e = 0;
    while (s[i] >= '0' && s[i] <= '9')
        i++, e++;
    return e > 0 && s[i] == '\0';
}

static hk_err ttl_term(hk_buf *b, const char *base, const char *arg)
{
    static const char *const kind_name[4] = {NULL, "integer", "decimal",
                                             "double"};
    int k = io_number_kind(arg, strlen(arg));
    if (k && ttl_bare_number(arg)) return hk_buf_append_str(b, arg);
    if (k) return hk_buf_appendf(b, "\"%s\"^^xsd:%s", arg, kind_name[k]);
    if (is_literal(arg) || is_blank_label(arg))
        return hk_buf_append_str(b, arg);
    if (is_abs_iri(arg)) return hk_buf_appendf(b, "<%s>", arg);
    return ttl_name(b, base, arg);
}

hk_err io_ttl_begin(io_ttl_state *st, const char *base, hk_buf *b)
{
    memset(st, 0, sizeof *st);
    st->base = base;
    return hk_buf_appendf(b,
                          "@prefix kb: <%s> .\n"
                          "@prefix hk: <" HK_NS "> .\n"
                          "@prefix xsd: <" XSD "> .\n\n",
                          base);
}

hk_err io_ttl_append_fact(io_ttl_state *st, const hk_fact *f, hk_buf *b)
{
    hk_buf *subj = &st->subject;
    if (f->st.n_args == 2) {
        hk_buf_reset(&st->tmp);
        hk_err rc = ttl_term(&st->tmp, st->base, f->st.args[0]);
        if (rc != HK_OK) return rc;
        if (st->open && subj->len == st->tmp.len &&
            memcmp(subj->data, st->tmp.data, subj->len) == 0) {
            rc = hk_buf_append_str(b, " ;\n    ");
        } else {
            if (st->open) rc = hk_buf_append_str(b, " .\n");
            hk_buf_reset(subj);
            if (rc == HK_OK)
                rc = hk_buf_append(subj, st->tmp.data, st->tmp.len);
            if (rc == HK_OK) rc = hk_buf_append(b, st->tmp.data, st->tmp.len);
            if (rc == HK_OK) rc = hk_buf_append(b, " ", 1);
        }
        if (rc == HK_OK) rc = ttl_name(b, st->base, f->st.predicate);
        if (rc == HK_OK) rc = hk_buf_append(b, " ", 1);
        if (rc == HK_OK) rc = ttl_term(b, st->base, f->st.args[1]);
        st->open = true;
        return rc;
    }
    hk_err rc = st->open ? hk_buf_append_str(b, " .\n") : HK_OK;
    hk_buf_reset(subj);
    st->open = false;
    unsigned long long id = (unsigned long long)f->id;
    if (rc == HK_OK) rc = hk_buf_appendf(b, "_:hkf%llu hk:predicate ", id);
    if (rc == HK_OK) rc = ttl_name(b, st->base, f->st.predicate);
    for (uint32_t i = 0; rc == HK_OK && i < f->st.n_args; i++) {
        rc = hk_buf_appendf(b, " ;\n    hk:arg%u ", i);
        if (rc == HK_OK) rc = ttl_term(b, st->base, f->st.args[i]);
    }
    if (rc == HK_OK) rc = hk_buf_append_str(b, " .\n");
    return rc;
}

hk_err io_ttl_end(io_ttl_state *st, hk_buf *b)
{
    hk_err rc = st->open ? hk_buf_append_str(b, " .\n") : HK_OK;
    hk_buf_free(&st->subject);
    hk_buf_free(&st->tmp);
    memset(st, 0, sizeof *st);
    return rc;
}

/* ==== Import ==== */

struct io_nt_state {
    const char *base;         /* IRI base */
    size_t base_len;          /* its length */
    hk_buf subject;           /* subject of the open group ("" = none) */
    hk_buf pred;              /* predicate of the open group */
    hk_buf args[HK_MAX_ARGS]; /* its arguments */
    uint32_t have;            /* bit i: position i seen */
    uint32_t n;               /* 1 + highest position seen */
    uint64_t line;            /* line of the group's last triple */
    bool open;                /* a group is open */
};

io_nt_state *io_nt_new(const char *base)
{
    io_nt_state *st = hk_malloc(sizeof *st);
    if (st == NULL) return NULL;
    memset(st, 0, sizeof *st);
    st->base = base != NULL && base[0] ? base : HK_IRI_BASE_DEFAULT;
    st->base_len = strlen(st->base);
    return st;
}

void io_nt_free(io_nt_state *st)
{
    if (st == NULL) return;
    hk_buf_free(&st->subject);
    hk_buf_free(&st->pred);
    for (int i = 0; i < HK_MAX_ARGS; i++)
        hk_buf_free(&st->args[i]);
    hk_free(st);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Appends s[0..n) percent-decoded (a '%' not followed by two hex digits
 * stays as it is); a decoded byte below 0x20 or 0x7F stays encoded. */
static hk_err put_decoded(hk_buf *b, const char *s, size_t n)
{
    hk_err rc = HK_OK;
    for (size_t i = 0; rc == HK_OK && i < n; i++) {
        int h, l;
        if (s[i] == '%' && i + 2 < n && (h = hexval(s[i + 1])) >= 0 &&
            (l = hexval(s[i + 2])) >= 0 && h * 16 + l >= 0x20 &&
            h * 16 + l != 0x7F) {
            char c = (char)(h * 16 + l);
            rc = hk_buf_append(b, &c, 1);
            i += 2;
        } else {
            rc = hk_buf_append(b, s + i, 1);
        }
    }
    return rc;
}

/* The argument text of a term into b (NUL-terminated). */
static hk_err term_arg(io_nt_state *st, const nt_term *t, hk_buf *b)
{
    hk_buf_reset(b);
    hk_err rc;
    if (t->kind == 'I' && t->text_len > st->base_len &&
        memcmp(t->text, st->base, st->base_len) == 0)
        rc = put_decoded(b, t->text + st->base_len, t->text_len - st->base_len);
    else if (t->kind == 'I' || t->kind == 'B')
        rc = hk_buf_append(b, t->text, t->text_len);
    else if (t->dt != NULL && io_number_kind(t->text, t->text_len) != 0 &&
             t->dt_len > strlen(XSD) && memcmp(t->dt, XSD, strlen(XSD)) == 0 &&
             (strncmp(t->dt + strlen(XSD), "integer",
                      t->dt_len - strlen(XSD)) == 0 ||
              strncmp(t->dt + strlen(XSD), "decimal",
                      t->dt_len - strlen(XSD)) == 0 ||
              strncmp(t->dt + strlen(XSD), "double", t->dt_len - strlen(XSD)) ==
                  0))
        rc = hk_buf_append(b, t->text, t->text_len);
    else
        rc = hk_buf_append(b, t->raw, t->raw_len);
    return rc;
}

/* The predicate name of an IRI: under the base, the decoded rest; else
 * the local name after the last '#' or '/'. Characters that a predicate
 * cannot hold become '_', and a leading digit gets a '_' before it. */
static hk_err pred_name(io_nt_state *st, const nt_term *t, hk_buf *b)
{
    const char *s = t->text;
    size_t n = t->text_len;
    if (n > st->base_len && memcmp(s, st->base, st->base_len) == 0) {
        s += st->base_len;
        n -= st->base_len;
    } else {
        size_t k = n;
        while (k > 0 && s[k - 1] != '#' && s[k - 1] != '/')
            k--;
        if (k < n) {
            s += k;
            n -= k;
        }
    }
    hk_buf_reset(b);
    hk_err rc = put_decoded(b, s, n);
    if (rc != HK_OK) return rc;
    for (size_t i = 0; i < b->len; i++) {
        unsigned char c = (unsigned char)b->data[i];
        if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_'))
            b->data[i] = '_';
    }
    if (b->len == 0 || (b->data[0] >= '0' && b->data[0] <= '9')) {
        hk_buf tmp = HK_BUF_INIT;
        rc = hk_buf_append(&tmp, "_", 1);
        if (rc == HK_OK) rc = hk_buf_append(&tmp, b->data, b->len);
        hk_buf_free(b);
        *b = tmp;
    }
    return rc;
}

/* Adds the open n-ary group as one fact (or rejects it). */
hk_err io_nt_flush(io_import *im, io_nt_state *st, hk_error *err)
{
    if (!st->open) return HK_OK;
    st->open = false;
    const char *why = NULL;
    if (st->pred.len == 0)
        why = "an n-ary fact without its hk:predicate triple";
    else if (st->n == 0 ||
             st->have != (st->n == 32 ? 0xFFFFFFFFu : (1u << st->n) - 1u))
        why = "an n-ary fact with a missing hk:arg position";
    if (why != NULL)
        return io_import_reject(im, st->line, why, st->subject.data,
                                st->subject.len, err);
    hk_statement s;
    memset(&s, 0, sizeof s);
    s.predicate = st->pred.data;
    s.n_args = st->n;
    for (uint32_t i = 0; i < st->n; i++)
        s.args[i] = st->args[i].data;
    return io_import_add(im, st->line, &s, NULL, st->subject.data,
                         st->subject.len, err);
}

hk_err io_nt_import_line(io_import *im, io_nt_state *st, uint64_t line_no,
                         const char *line, size_t len, hk_error *err)
{
    nt_term t[3];
    const char *why = NULL;
    size_t i = skip_ws(line, 0, len);
    for (int k = 0; k < 3 && why == NULL; k++) {
        if (!parse_term(line, len, &i, &t[k], &why)) break;
        if (k == 0 && t[k].kind == 'L') why = "a literal as subject";
        if (k == 1 && t[k].kind != 'I') why = "a predicate that is not an IRI";
        i = skip_ws(line, i, len);
    }
    if (why == NULL && (i >= len || line[i] != '.'))
        why = "expected '.' at the end of the triple";
    if (why == NULL) {
        i = skip_ws(line, i + 1, len);
        if (i < len && line[i] != '#') why = "text after the triple's '.'";
    }
    if (why != NULL) {
        char msg[128];
        snprintf(msg, sizeof msg, "not an N-Triples triple: %s", why);
        return io_import_reject(im, line_no, msg, line, len, err);
    }
    hk_err rc = HK_OK;
    static const char ns[] = HK_NS;
    size_t nsl = sizeof ns - 1;
    bool grouped = t[1].text_len > nsl && memcmp(t[1].text, ns, nsl) == 0;
    int pos = -1;
    if (grouped) {
        const char *loc = t[1].text + nsl;
        size_t ll = t[1].text_len - nsl;
        if (ll == 9 && memcmp(loc, "predicate", 9) == 0) {
            pos = -2;
        } else if (ll > 3 && ll <= 5 && memcmp(loc, "arg", 3) == 0) {
            pos = 0;
            for (size_t k = 3; k < ll && pos >= 0; k++)
                pos = loc[k] >= '0' && loc[k] <= '9' ? pos * 10 + (loc[k] - '0')
                                                     : -1;
            if (pos >= HK_MAX_ARGS) pos = -1;
        }
        grouped = pos != -1;
    }
    if (st->open && (!grouped || st->subject.len != t[0].raw_len ||
                     memcmp(st->subject.data, t[0].raw, t[0].raw_len) != 0)) {
        rc = io_nt_flush(im, st, err);
        if (rc != HK_OK) return rc;
    }
    if (grouped) {
        if (!st->open) {
            st->open = true;
            st->have = st->n = 0;
            hk_buf_reset(&st->pred);
            hk_buf_reset(&st->subject);
            rc = hk_buf_append(&st->subject, t[0].raw, t[0].raw_len);
        }
        st->line = line_no;
        if (rc == HK_OK && pos == -2) {
            if (t[2].kind != 'I')
                return io_import_reject(im, line_no,
                                        "hk:predicate needs an IRI object",
                                        line, len, err);
            rc = pred_name(st, &t[2], &st->pred);
        } else if (rc == HK_OK) {
            rc = term_arg(st, &t[2], &st->args[pos]);
            st->have |= 1u << pos;
            if ((uint32_t)pos + 1 > st->n) st->n = (uint32_t)pos + 1;
        }
        if (rc != HK_OK)
            return hk_error_set(err, rc, "out of memory reading N-Triples");
        return HK_OK;
    }
    hk_buf p = HK_BUF_INIT, a = HK_BUF_INIT, o = HK_BUF_INIT;
    rc = pred_name(st, &t[1], &p);
    if (rc == HK_OK) rc = term_arg(st, &t[0], &a);
    if (rc == HK_OK) rc = term_arg(st, &t[2], &o);
    if (rc != HK_OK) {
        rc = hk_error_set(err, rc, "out of memory reading N-Triples");
    } else {
        hk_statement s;
        memset(&s, 0, sizeof s);
        s.predicate = p.data;
        s.n_args = 2;
        s.args[0] = a.data;
        s.args[1] = o.data;
        rc = io_import_add(im, line_no, &s, NULL, line, len, err);
    }
    hk_buf_free(&p);
    hk_buf_free(&a);
    hk_buf_free(&o);
    return rc;
}

bool io_nt_line_parses(const char *line, size_t len)
{
    nt_term t;
    const char *why;
    size_t i = skip_ws(line, 0, len);
    for (int k = 0; k < 3; k++) {
        if (!parse_term(line, len, &i, &t, &why)) return false;
        i = skip_ws(line, i, len);
    }
    return i < len && line[i] == '.';
}
