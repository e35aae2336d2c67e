/*
 * io_format.c — import/export format names and auto-detection.
 *
 * Detection order (first match wins), chosen so that an explicit signal
 * beats a guess:
 *   1. the SQLite header magic "SQLite format 3\0" in the first 16 bytes,
 *      or the first line of an MCP memory file ({"type":"entity"...);
 *   2. the file extension: .jsonl/.ndjson -> JSONL, .tsv -> TSV,
 *      .db/.sqlite/.sqlite3 -> SQLite (even without magic, so that a bad
 *      file gets SQLite's error rather than thousands of rejects);
 *   3. the first line that is neither blank nor a '#' comment: it starts
 *      with '{' -> JSONL; it holds a TAB and no '(' -> TSV;
 *   4. otherwise statement text.
 * A guess from content (3 and 4) is then checked by io_check_guess: text
 * that is binary, or TSV/JSONL of which most sampled records do not parse,
 * is refused as unrecognized instead of being imported as junk.
 * Pure functions; safe from any thread.
 */
#include "io/io_internal.h"
#include "core/utf8.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char SQLITE_MAGIC[16] = "SQLite format 3"; /* + NUL = 16 */

hk_err hk_format_parse(const char *name, hk_format *out, hk_error *err)
{
    static const struct {
        const char *name; /* accepted spelling */
        hk_format format; /* what it means */
    } names[] = {
        {"auto", HK_FORMAT_AUTO},
        {"statements", HK_FORMAT_STATEMENTS},
        {"txt", HK_FORMAT_STATEMENTS},
        {"text", HK_FORMAT_STATEMENTS},
        {"jsonl", HK_FORMAT_JSONL},
        {"ndjson", HK_FORMAT_JSONL},
        {"sqlite", HK_FORMAT_SQLITE},
        {"tsv", HK_FORMAT_TSV},
        {"mcp-memory", HK_FORMAT_MCP_MEMORY},
        {"ntriples", HK_FORMAT_NTRIPLES},
        {"nt", HK_FORMAT_NTRIPLES},
        {"graphml", HK_FORMAT_GRAPHML},
        {"jsongraph", HK_FORMAT_JSONGRAPH},
        {"turtle", HK_FORMAT_TURTLE},
        {"ttl", HK_FORMAT_TURTLE},
        {"cypher", HK_FORMAT_CYPHER},
        {"neo4j", HK_FORMAT_NEO4J},
    };
    if (name == NULL)
        return hk_error_set(err, HK_ERR_INVALID, "format name is missing");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(name, names[i].name) == 0) {
            *out = names[i].format;
            return HK_OK;
        }
    }
    return hk_error_set(err, HK_ERR_INVALID,
                        "unknown format '%.64s': expected auto, statements, "
                        "jsonl, sqlite, tsv, mcp-memory, ntriples, turtle, "
                        "graphml, jsongraph, cypher or neo4j",
                        name);
}

const char *hk_format_name(hk_format f)
{
    switch (f) {
    case HK_FORMAT_AUTO:
        return "auto";
    case HK_FORMAT_STATEMENTS:
        return "statements";
    case HK_FORMAT_JSONL:
        return "jsonl";
    case HK_FORMAT_SQLITE:
        return "sqlite";
    case HK_FORMAT_TSV:
        return "tsv";
    case HK_FORMAT_MCP_MEMORY:
        return "mcp-memory";
    case HK_FORMAT_NTRIPLES:
        return "ntriples";
    case HK_FORMAT_GRAPHML:
        return "graphml";
    case HK_FORMAT_JSONGRAPH:
        return "jsongraph";
    case HK_FORMAT_TURTLE:
        return "turtle";
    case HK_FORMAT_CYPHER:
        return "cypher";
    case HK_FORMAT_NEO4J:
        return "neo4j";
    }
    return "unknown";
}

bool io_has_sqlite_magic(const char *head, size_t len)
{
    return len >= sizeof SQLITE_MAGIC &&
           memcmp(head, SQLITE_MAGIC, sizeof SQLITE_MAGIC) == 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

bool io_format_by_name(const char *path)
{
    return path != NULL &&
           (ends_with(path, ".jsonl") || ends_with(path, ".ndjson") ||
            ends_with(path, ".tsv") || ends_with(path, ".db") ||
            ends_with(path, ".sqlite") || ends_with(path, ".sqlite3") ||
            ends_with(path, ".nt"));
}

/* True when the input begins as a file of the MCP memory server does
 * (whose name is usually memory.jsonl). */
static bool is_mcp_memory(const char *head, size_t len)
{
    static const char *const starts[2] = {"{\"type\":\"entity\"",
                                          "{\"type\":\"relation\""};
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(starts[i]);
        if (len >= n && memcmp(head, starts[i], n) == 0) return true;
    }
    return false;
}

hk_format io_detect_format(const char *path, const char *head, size_t len)
{
    if (io_has_sqlite_magic(head, len)) return HK_FORMAT_SQLITE;
    if (is_mcp_memory(head, len)) return HK_FORMAT_MCP_MEMORY;
    if (path != NULL) {
        if (ends_with(path, ".jsonl") || ends_with(path, ".ndjson"))
            return HK_FORMAT_JSONL;
        if (ends_with(path, ".tsv")) return HK_FORMAT_TSV;
        if (ends_with(path, ".nt")) return HK_FORMAT_NTRIPLES;
        if (ends_with(path, ".db") || ends_with(path, ".sqlite") ||
            ends_with(path, ".sqlite3"))
            return HK_FORMAT_SQLITE;
    }
    /* Look at the first meaningful line within the bytes we have. */
    size_t i = 0;
    while (i < len) {
        size_t eol = i;
        while (eol < len && head[eol] != '\n' && head[eol] != '\r')
            eol++;
        size_t s = i;
        while (s < eol &&
               (head[s] == ' ' || head[s] == '\t' || head[s] == '\r'))
            s++;
        if (s < eol && head[s] != '#') {
            if (head[s] == '{') return HK_FORMAT_JSONL;
            if (head[s] == '<' ||
                (head[s] == '_' && s + 1 < eol && head[s + 1] == ':'))
                return HK_FORMAT_NTRIPLES; /* no statement starts so */
            bool tab = memchr(head + i, '\t', eol - i) != NULL;
            bool paren = memchr(head + i, '(', eol - i) != NULL;
            if (tab && !paren) return HK_FORMAT_TSV;
            return HK_FORMAT_STATEMENTS;
        }
        i = eol + 1;
    }
    return HK_FORMAT_STATEMENTS;
}

/* True when one record parses in format f (a dry run of the importer's
 * line readers; nothing is written). line is not NUL-terminated. */
static bool record_parses(hk_format f, const char *line, size_t len)
{
    if (f == HK_FORMAT_JSONL) {
        json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
        bool ok = json_is_object(obj);
        json_decref(obj);
        return ok;
    }
    if (f == HK_FORMAT_NTRIPLES) return io_nt_line_parses(line, len);
    if (f != HK_FORMAT_TSV) {
        hk_statement st;
        hk_error e;
        if (hk_statement_parse(line, len, &st, &e) != HK_OK) return false;
        hk_statement_release(&st);
        return true;
    }
    /* TSV: predicate<TAB>arg..., every field valid as the store wants. */
    char buf[1024];
    if (len >= sizeof buf) return true; /* long records: no verdict */
    memcpy(buf, line, len);
    buf[len] = '\0';
    hk_statement st;
    memset(&st, 0, sizeof st);
    st.predicate = buf;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\t') continue;
        if (st.n_args == HK_MAX_ARGS) return false;
        buf[i] = '\0';
        st.args[st.n_args++] = buf + i + 1;
    }
    if (st.n_args == 0) return false;
    hk_error e;
    return hk_statement_validate(&st, &e) == HK_OK;
}

#define IO_GUESS_SAMPLE 1000 /* records looked at to confirm a guess */

hk_err io_check_guess(hk_format f, const char *path, const char *head,
                      size_t len, bool whole, hk_error *err)
{
    (void)path; /* callers lead the message with it */
    const char *nul = memchr(head, '\0', len);
    if (nul != NULL)
        return hk_error_set(err, HK_ERR_INVALID,
                            "unrecognized format: a NUL byte at byte %zu, so "
                            "it is not statement text, TSV or JSONL (give "
                            "--format to say what it is)",
                            (size_t)(nul - head) + 1);
    size_t seen = 0, ok = 0, i = 0;
    while (i < len && seen < IO_GUESS_SAMPLE) {
        size_t eol = i;
        while (eol < len && head[eol] != '\n' && head[eol] != '\r')
            eol++;
        if (eol == len && !whole) break; /* a cut last line: no verdict */
        size_t s = i;
        while (s < eol && (head[s] == ' ' || head[s] == '\t'))
            s++;
        if (s < eol && head[s] != '#') {
            seen++;
            if (record_parses(f, head + i, eol - i)) ok++;
        }
        i = eol + 1;
    }
    if (seen == 0) return HK_OK;
    if (f == HK_FORMAT_TSV || f == HK_FORMAT_JSONL || f == HK_FORMAT_NTRIPLES) {
        /* The guess rests on one line's shape: at least half of the
         * sampled records must bear it out. */
        if (ok * 2 >= seen) return HK_OK;
        const char *fn = f == HK_FORMAT_TSV     ? "TSV"
                         : f == HK_FORMAT_JSONL ? "JSONL"
                                                : "N-Triples";
        return hk_error_set(err, HK_ERR_INVALID,
                            "unrecognized format: it looks like %s, but only "
                            "%zu of its first %zu records parse as %s (give "
                            "--format to import it anyway, with rejects)",
                            fn, ok, seen, fn);
    }
    /* Statement text is the fallback: refused only when nothing in the
     * sample is a statement and the bytes are not even text. */
    size_t bad = 0;
    if (ok > 0 || hk_utf8_valid(head, i < len ? i : len, &bad)) return HK_OK;
    return hk_error_set(err, HK_ERR_INVALID,
                        "unrecognized format: bytes that are not UTF-8 at "
                        "byte %zu and no statement in the first %zu records "
                        "(give --format to say what it is)",
                        bad + 1, seen);
}
