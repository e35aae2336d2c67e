/*
 * gql_parse.c — the lexer and parser of GraphQL executable documents
 * (spec October 2021, sections 2 and Appendix B).
 *
 * Design:
 *   1. The lexer works on demand (one token of look-ahead), skipping the
 *      ignored tokens: BOM, white space, line terminators, commas and
 *      comments. Every token carries its line and column (columns count
 *      characters, not bytes: UTF-8 continuation bytes are not counted).
 *   2. Strings are decoded as the spec says: escapes (\uXXXX with
 *      surrogate pairs, the spec's variable-width \u{...}), and block
 *      strings with their common indentation and blank first/last lines
 *      removed. A decoded string never contains NUL (refused), so the
 *      tree can use C strings.
 *   3. The parser is recursive descent over the grammar of executable
 *      definitions. Recursion (selection sets, list and object values,
 *      list types) is bounded by GQL_MAX_NEST and the token count by the
 *      caller's max_tokens, so hostile input costs bounded stack and time.
 *   4. Type system definitions (type, schema, extend ...) are not
 *      executable: the first one's keyword is kept in doc->other and
 *      validation refuses the document, as graphql-js does.
 *
 * The tree is allocated from the document's arena; a failed parse frees
 * it. Any thread (no shared state).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "graphql/gql_int.h"

#define GQL_MAX_NEST 128         /* nested selection sets, values, types */
#define GQL_DEFAULT_TOKENS 20000 /* max_tokens when 0 */

/* ==== Arena ==== */

struct gql_chunk {
    gql_chunk *prev; /* older chunk */
    size_t cap;      /* bytes in data */
    _Alignas(16) unsigned char data[];
};

void *gql_alloc(gql_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (!a->head || a->cap - a->used < n) {
        size_t cap = n > 8192 ? n : 8192;
        gql_chunk *c = hk_malloc(sizeof(*c) + cap);
        if (!c) return NULL;
        c->prev = a->head;
        c->cap = cap;
        a->head = c;
        a->used = 0;
        a->cap = cap;
    }
    void *p = a->head->data + a->used;
    a->used += n;
    memset(p, 0, n);
    return p;
}

void gql_arena_free(gql_arena *a)
{
    gql_chunk *c = a->head;
    while (c) {
        gql_chunk *prev = c->prev;
        hk_free(c);
        c = prev;
    }
    a->head = NULL;
    a->used = a->cap = 0;
}

/* ==== Lexer ==== */

typedef enum tok_kind {
    T_EOF,
    T_PUNCT, /* one of ! $ & ( ) ... : = @ [ ] { | } (text in p) */
    T_NAME,
    T_INT,
    T_FLOAT,
    T_STRING,
    T_BLOCK
} tok_kind;

typedef struct token {
    tok_kind kind;     /* which token */
    const char *start; /* first byte in the source */
    size_t len;        /* bytes in the source */
    char p;            /* punctuator ('.' for ...) */
    gql_loc loc;       /* where it starts */
} token;

typedef struct parser {
    const char *src;   /* the document */
    size_t len;        /* its bytes */
    size_t pos;        /* next byte to lex */
    uint32_t line;     /* line of pos */
    size_t line_start; /* byte offset where that line starts */
    token tok;         /* the current token */
    size_t n_tokens;   /* tokens lexed */
    size_t max_tokens; /* limit */
    unsigned nest;     /* current recursion depth */
    hk_gql_doc *doc;   /* being built */
    hk_error *err;     /* the first error */
    bool failed;       /* err is set */
} parser;

static uint32_t col_of(const parser *ps, size_t at)
{
    uint32_t col = 1;
    for (size_t i = ps->line_start; i < at; i++)
        if (((unsigned char)ps->src[i] & 0xC0) != 0x80) col++;
    return col;
}

static bool fail_at(parser *ps, gql_loc loc, hk_err code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool fail_at(parser *ps, gql_loc loc, hk_err code, const char *fmt, ...)
{
    if (ps->failed) return false;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    hk_error_set(ps->err, code, "Syntax Error: %s", msg);
    if (ps->err) {
        ps->err->line = loc.line;
        ps->err->column = loc.column;
    }
    ps->failed = true;
    return false;
}

static gql_loc here(const parser *ps, size_t at)
{
    gql_loc l = {ps->line, col_of(ps, at)};
    return l;
}

static void newline(parser *ps, size_t after)
{
    ps->line++;
    ps->line_start = after;
}

static bool is_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Skips ignored tokens. */
static void skip_ignored(parser *ps)
{
    while (ps->pos < ps->len) {
        unsigned char c = (unsigned char)ps->src[ps->pos];
        if (c == ' ' || c == '\t' || c == ',') {
            ps->pos++;
        } else if (c == '\n') {
            ps->pos++;
            newline(ps, ps->pos);
        } else if (c == '\r') {
            ps->pos++;
            if (ps->pos < ps->len && ps->src[ps->pos] == '\n') ps->pos++;
            newline(ps, ps->pos);
        } else if (c == 0xEF && ps->pos + 2 < ps->len &&
                   (unsigned char)ps->src[ps->pos + 1] == 0xBB &&
                   (unsigned char)ps->src[ps->pos + 2] == 0xBF) {
            ps->pos += 3;
        } else if (c == '#') {
            while (ps->pos < ps->len && ps->src[ps->pos] != '\n' &&
                   ps->src[ps->pos] != '\r')
                ps->pos++;
        } else {
            break;
        }
    }
}

static bool lex_number(parser *ps, token *t)
{
    size_t p = ps->pos;
    const char *s = ps->src;
    bool is_float = false;
    if (p < ps->len && s[p] == '-') p++;
    if (p >= ps->len || !is_digit(s[p]))
        return fail_at(ps, t->loc, HK_ERR_INVALID, "Invalid number.");
    if (s[p] == '0') {
        p++;
        if (p < ps->len && is_digit(s[p]))
            return fail_at(ps, here(ps, p), HK_ERR_INVALID,
                           "Invalid number, unexpected digit after 0.");
    } else {
        while (p < ps->len && is_digit(s[p]))
            p++;
    }
    if (p < ps->len && s[p] == '.') {
        is_float = true;
        p++;
        if (p >= ps->len || !is_digit(s[p]))
            return fail_at(ps, here(ps, p), HK_ERR_INVALID,
                           "Invalid number, expected digit.");
        while (p < ps->len && is_digit(s[p]))
            p++;
    }
    if (p < ps->len && (s[p] == 'e' || s[p] == 'E')) {
        is_float = true;
        p++;
        if (p < ps->len && (s[p] == '+' || s[p] == '-')) p++;
        if (p >= ps->len || !is_digit(s[p]))
            return fail_at(ps, here(ps, p), HK_ERR_INVALID,
                           "Invalid number, expected digit.");
        while (p < ps->len && is_digit(s[p]))
            p++;
    }
    if (p < ps->len && (s[p] == '.' || is_name_start(s[p])))
        return fail_at(ps, here(ps, p), HK_ERR_INVALID,
                       "Invalid number, expected digit.");
    t->kind = is_float ? T_FLOAT : T_INT;
    t->len = p - ps->pos;
    ps->pos = p;
    return true;
}

/* Finds the end of a string token (the decoding is str_decode's). */
static bool lex_string(parser *ps, token *t)
{
    const char *s = ps->src;
    if (ps->pos + 2 < ps->len && s[ps->pos + 1] == '"' &&
        s[ps->pos + 2] == '"') {
        size_t p = ps->pos + 3;
        while (p < ps->len) {
            if (s[p] == '"' && p + 2 < ps->len && s[p + 1] == '"' &&
                s[p + 2] == '"') {
                t->kind = T_BLOCK;
                t->len = p + 3 - ps->pos;
                ps->pos = p + 3;
                return true;
            }
            if (s[p] == '\\' && p + 3 < ps->len && s[p + 1] == '"' &&
                s[p + 2] == '"' && s[p + 3] == '"') {
                p += 4;
                continue;
            }
            if (s[p] == '\n' || s[p] == '\r') {
                if (s[p] == '\r' && p + 1 < ps->len && s[p + 1] == '\n') p++;
                newline(ps, p + 1);
            }
            p++;
        }
        return fail_at(ps, t->loc, HK_ERR_INVALID, "Unterminated string.");
    }
    size_t p = ps->pos + 1;
    while (p < ps->len) {
        char c = s[p];
        if (c == '"') {
            t->kind = T_STRING;
            t->len = p + 1 - ps->pos;
            ps->pos = p + 1;
            return true;
        }
        if (c == '\n' || c == '\r') break;
        if (c == '\\') p++;
        p++;
    }
    return fail_at(ps, t->loc, HK_ERR_INVALID, "Unterminated string.");
}

static bool next(parser *ps)
{
    if (ps->failed) return false;
    skip_ignored(ps);
    token *t = &ps->tok;
    memset(t, 0, sizeof(*t));
    t->start = ps->src + ps->pos;
    t->loc = here(ps, ps->pos);
    if (ps->pos >= ps->len) {
        t->kind = T_EOF;
        return true;
    }
    if (++ps->n_tokens > ps->max_tokens)
        return fail_at(ps, t->loc, HK_ERR_LIMIT,
                       "Document contains more than %zu tokens.",
                       ps->max_tokens);
    char c = ps->src[ps->pos];
    if (strchr("!$&():=@[]{|}", c) && c) {
        t->kind = T_PUNCT;
        t->p = c;
        t->len = 1;
        ps->pos++;
        return true;
    }
    if (c == '.') {
        if (ps->pos + 2 < ps->len && ps->src[ps->pos + 1] == '.' &&
            ps->src[ps->pos + 2] == '.') {
            t->kind = T_PUNCT;
            t->p = '.';
            t->len = 3;
            ps->pos += 3;
            return true;
        }
        return fail_at(ps, t->loc, HK_ERR_INVALID, "Unexpected \".\".");
    }
    if (is_name_start(c)) {
        size_t p = ps->pos;
        while (p < ps->len && is_name_char(ps->src[p]))
            p++;
        t->kind = T_NAME;
        t->len = p - ps->pos;
        ps->pos = p;
        return true;
    }
    if (c == '-' || is_digit(c)) return lex_number(ps, t);
    if (c == '"') return lex_string(ps, t);
    if ((unsigned char)c < 0x20 && c != '\t')
        return fail_at(ps, t->loc, HK_ERR_INVALID, "Invalid character: U+%04X.",
                       (unsigned)c);
    return fail_at(ps, t->loc, HK_ERR_INVALID, "Unexpected character: \"%c\".",
                   (unsigned char)c < 0x80 ? c : '?');
}

/* ==== String values ==== */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Reads \uXXXX or \u{X...} at s[*i] (just after "\u"); -1 when bad. */
static long read_u(const char *s, size_t n, size_t *i)
{
    uint32_t v = 0;
    if (*i < n && s[*i] == '{') {
        size_t k = *i + 1, digits = 0;
        while (k < n && s[k] != '}') {
            int h = hexval(s[k]);
            if (h < 0 || ++digits > 6) return -1;
            v = v * 16 + (uint32_t)h;
            k++;
        }
        if (k >= n || digits == 0 || v > 0x10FFFF) return -1;
        *i = k + 1;
        return (long)v;
    }
    if (*i + 4 > n) return -1;
    for (size_t k = 0; k < 4; k++) {
        int h = hexval(s[*i + k]);
        if (h < 0) return -1;
        v = v * 16 + (uint32_t)h;
    }
    *i += 4;
    return (long)v;
}

/* Decodes a "..." token into the arena. */
static bool str_decode(parser *ps, const token *t, const char **out,
                       size_t *out_len)
{
    const char *s = t->start + 1;
    size_t n = t->len - 2;
    char *o = gql_alloc(&ps->doc->arena, n + 1);
    if (!o) return fail_at(ps, t->loc, HK_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        char c = s[i];
        if (c != '\\') {
            if ((unsigned char)c < 0x20 && c != '\t')
                return fail_at(ps, t->loc, HK_ERR_INVALID,
                               "Invalid character within String.");
            o[k++] = c;
            i++;
            continue;
        }
        if (i + 1 >= n)
            return fail_at(ps, t->loc, HK_ERR_INVALID,
                           "Invalid character escape sequence.");
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case '"':
            o[k++] = '"';
            break;
        case '\\':
            o[k++] = '\\';
            break;
        case '/':
            o[k++] = '/';
            break;
        case 'b':
            o[k++] = '\b';
            break;
        case 'f':
            o[k++] = '\f';
            break;
        case 'n':
            o[k++] = '\n';
            break;
        case 'r':
            o[k++] = '\r';
            break;
        case 't':
            o[k++] = '\t';
            break;
        case 'u': {
            long cp = read_u(s, n, &i);
            if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < n && s[i] == '\\' &&
                s[i + 1] == 'u') {
                size_t j = i + 2;
                long lo = read_u(s, n, &j);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i = j;
                }
            }
            if (cp <= 0 || (cp >= 0xD800 && cp <= 0xDFFF))
                return fail_at(ps, t->loc, HK_ERR_INVALID,
                               "Invalid Unicode escape sequence.");
            k += put_utf8(o + k, (uint32_t)cp);
            break;
        }
        default:
            return fail_at(ps, t->loc, HK_ERR_INVALID,
                           "Invalid character escape sequence: \"\\%c\".",
                           (unsigned char)e < 0x80 && e >= 0x20 ? e : '?');
        }
    }
    o[k] = 0;
    *out = o;
    *out_len = k;
    return true;
}

/* Decodes a """...""" token (spec: BlockStringValue). */
static bool block_decode(parser *ps, const token *t, const char **out,
                         size_t *out_len)
{
    const char *s = t->start + 3;
    size_t n = t->len - 6;
    char *raw = gql_alloc(&ps->doc->arena, n + 1);
    char *o = gql_alloc(&ps->doc->arena, n + 1);
    if (!raw || !o) return fail_at(ps, t->loc, HK_ERR_NOMEM, "out of memory");
    size_t rn = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] == '\\' && i + 3 < n && s[i + 1] == '"' && s[i + 2] == '"' &&
            s[i + 3] == '"') {
            memcpy(raw + rn, "\"\"\"", 3);
            rn += 3;
            i += 4;
        } else if (s[i] == '\r') {
            raw[rn++] = '\n';
            i += (i + 1 < n && s[i + 1] == '\n') ? 2 : 1;
        } else {
            if (s[i] == 0)
                return fail_at(ps, t->loc, HK_ERR_INVALID,
                               "Invalid character within String.");
            raw[rn++] = s[i++];
        }
    }
    /* common indentation of the lines after the first */
    size_t common = SIZE_MAX;
    size_t ls = 0;
    bool first = true;
    for (size_t i = 0; i <= rn; i++) {
        if (i < rn && raw[i] != '\n') continue;
        if (!first) {
            size_t ind = 0;
            while (ls + ind < i &&
                   (raw[ls + ind] == ' ' || raw[ls + ind] == '\t'))
                ind++;
            if (ls + ind < i && ind < common) common = ind;
        }
        first = false;
        ls = i + 1;
    }
    /* lines with the indentation removed; blank leading and trailing
     * lines dropped (first_line/last_line: the non-blank range) */
    size_t n_lines = 0, first_line = SIZE_MAX, last_line = 0;
    ls = 0;
    for (size_t i = 0; i <= rn; i++) {
        if (i < rn && raw[i] != '\n') continue;
        bool blank = true;
        for (size_t j = ls; j < i; j++)
            if (raw[j] != ' ' && raw[j] != '\t') blank = false;
        if (!blank) {
            if (first_line == SIZE_MAX) first_line = n_lines;
            last_line = n_lines;
        }
        n_lines++;
        ls = i + 1;
    }
    size_t k = 0, line_no = 0;
    ls = 0;
    for (size_t i = 0; i <= rn && first_line != SIZE_MAX; i++) {
        if (i < rn && raw[i] != '\n') continue;
        const char *l = raw + ls;
        size_t ll = i - ls;
        if (line_no > 0 && common != SIZE_MAX) {
            size_t cut = common < ll ? common : ll;
            l += cut;
            ll -= cut;
        }
        if (line_no >= first_line && line_no <= last_line) {
            if (line_no > first_line) o[k++] = '\n';
            memcpy(o + k, l, ll);
            k += ll;
        }
        line_no++;
        ls = i + 1;
    }
    o[k] = 0;
    *out = o;
    *out_len = k;
    return true;
}

/* ==== Parser helpers ==== */

static bool is_punct(const parser *ps, char p)
{
    return ps->tok.kind == T_PUNCT && ps->tok.p == p;
}

static bool is_name(const parser *ps, const char *kw)
{
    return ps->tok.kind == T_NAME && ps->tok.len == strlen(kw) &&
           !memcmp(ps->tok.start, kw, ps->tok.len);
}

static const char *tok_desc(const token *t, char *buf, size_t cap)
{
    switch (t->kind) {
    case T_EOF:
        return "<EOF>";
    case T_PUNCT:
        snprintf(buf, cap, "\"%s\"", t->p == '.' ? "..." : (char[]){t->p, 0});
        return buf;
    case T_NAME:
        snprintf(buf, cap, "Name \"%.*s\"", (int)(t->len > 40 ? 40 : t->len),
                 t->start);
        return buf;
    case T_INT:
        return "Int";
    case T_FLOAT:
        return "Float";
    default:
        return "String";
    }
}

static bool unexpected(parser *ps, const char *want)
{
    char b[80];
    return fail_at(ps, ps->tok.loc, HK_ERR_INVALID, "Expected %s, found %s.",
                   want, tok_desc(&ps->tok, b, sizeof(b)));
}

static bool expect(parser *ps, char p)
{
    if (!is_punct(ps, p)) {
        char w[8];
        snprintf(w, sizeof(w), "\"%s\"", p == '.' ? "..." : (char[]){p, 0});
        return unexpected(ps, w);
    }
    return next(ps);
}

static const char *name_dup(parser *ps)
{
    char *s = gql_alloc(&ps->doc->arena, ps->tok.len + 1);
    if (!s) {
        fail_at(ps, ps->tok.loc, HK_ERR_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(s, ps->tok.start, ps->tok.len);
    return s;
}

static const char *parse_name(parser *ps)
{
    if (ps->tok.kind != T_NAME) {
        unexpected(ps, "Name");
        return NULL;
    }
    const char *s = name_dup(ps);
    if (!s || !next(ps)) return NULL;
    return s;
}

static bool enter(parser *ps)
{
    if (++ps->nest > GQL_MAX_NEST)
        return fail_at(ps, ps->tok.loc, HK_ERR_LIMIT,
                       "Document nests deeper than %d levels.", GQL_MAX_NEST);
    return true;
}

/* ==== Values and types ==== */

static gql_value *parse_value(parser *ps, bool is_const);

static gql_value *new_value(parser *ps, gql_vkind kind)
{
    gql_value *v = gql_alloc(&ps->doc->arena, sizeof(*v));
    if (!v) {
        fail_at(ps, ps->tok.loc, HK_ERR_NOMEM, "out of memory");
        return NULL;
    }
    v->kind = kind;
    v->loc = ps->tok.loc;
    return v;
}

static gql_value *parse_list_or_object(parser *ps, bool is_const, bool obj)
{
    gql_value *v = new_value(ps, obj ? GQL_V_OBJECT : GQL_V_LIST);
    if (!v || !enter(ps) || !next(ps)) return NULL;
    gql_value **tail = &v->items;
    char close = obj ? '}' : ']';
    while (!is_punct(ps, close)) {
        if (ps->tok.kind == T_EOF) {
            unexpected(ps, obj ? "Name" : "\"]\"");
            return NULL;
        }
        gql_value *item;
        if (obj) {
            gql_loc at = ps->tok.loc;
            const char *key = parse_name(ps);
            if (!key || !expect(ps, ':')) return NULL;
            item = parse_value(ps, is_const);
            if (!item) return NULL;
            item->key = key;
            item->loc = at;
        } else {
            item = parse_value(ps, is_const);
            if (!item) return NULL;
        }
        *tail = item;
        tail = &item->next;
    }
    ps->nest--;
    return next(ps) ? v : NULL;
}

static gql_value *parse_value(parser *ps, bool is_const)
{
    token *t = &ps->tok;
    gql_value *v = NULL;
    if (is_punct(ps, '$')) {
        if (is_const) {
            unexpected(ps, "constant value");
            return NULL;
        }
        v = new_value(ps, GQL_V_VAR);
        if (!v || !next(ps)) return NULL;
        v->s = parse_name(ps);
        return v->s ? v : NULL;
    }
    if (is_punct(ps, '[')) return parse_list_or_object(ps, is_const, false);
    if (is_punct(ps, '{')) return parse_list_or_object(ps, is_const, true);
    switch (t->kind) {
    case T_INT:
    case T_FLOAT:
        v = new_value(ps, t->kind == T_INT ? GQL_V_INT : GQL_V_FLOAT);
        if (!v) return NULL;
        v->s = name_dup(ps);
        v->n = t->len;
        if (!v->s) return NULL;
        break;
    case T_STRING:
    case T_BLOCK:
        v = new_value(ps, GQL_V_STRING);
        if (!v) return NULL;
        if (!(t->kind == T_STRING ? str_decode(ps, t, &v->s, &v->n)
                                  : block_decode(ps, t, &v->s, &v->n)))
            return NULL;
        if (strlen(v->s) != v->n) {
            fail_at(ps, t->loc, HK_ERR_INVALID,
                    "Strings may not contain U+0000.");
            return NULL;
        }
        break;
    case T_NAME:
        if (is_name(ps, "true") || is_name(ps, "false")) {
            v = new_value(ps, GQL_V_BOOL);
            if (v) v->b = is_name(ps, "true");
        } else if (is_name(ps, "null")) {
            v = new_value(ps, GQL_V_NULL);
        } else {
            v = new_value(ps, GQL_V_ENUM);
            if (v) v->s = name_dup(ps);
            if (v && !v->s) return NULL;
        }
        if (!v) return NULL;
        break;
    default: {
        char b[80];
        fail_at(ps, t->loc, HK_ERR_INVALID, "Unexpected %s.",
                tok_desc(t, b, sizeof(b)));
        return NULL;
    }
    }
    return next(ps) ? v : NULL;
}

static gql_tref *parse_type(parser *ps)
{
    gql_tref *r = gql_alloc(&ps->doc->arena, sizeof(*r));
    if (!r) {
        fail_at(ps, ps->tok.loc, HK_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (is_punct(ps, '[')) {
        if (!enter(ps) || !next(ps)) return NULL;
        r->of = parse_type(ps);
        if (!r->of || !expect(ps, ']')) return NULL;
        ps->nest--;
    } else {
        r->name = parse_name(ps);
        if (!r->name) return NULL;
    }
    if (is_punct(ps, '!')) {
        r->non_null = true;
        if (!next(ps)) return NULL;
    }
    return r;
}

/* ==== Arguments, directives, selections ==== */

static bool parse_args(parser *ps, bool is_const, gql_arg **out)
{
    *out = NULL;
    if (!is_punct(ps, '(')) return true;
    if (!next(ps)) return false;
    gql_arg **tail = out;
    do {
        gql_arg *a = gql_alloc(&ps->doc->arena, sizeof(*a));
        if (!a) return fail_at(ps, ps->tok.loc, HK_ERR_NOMEM, "out of memory");
        a->loc = ps->tok.loc;
        a->name = parse_name(ps);
        if (!a->name || !expect(ps, ':')) return false;
        a->value = parse_value(ps, is_const);
        if (!a->value) return false;
        *tail = a;
        tail = &a->next;
    } while (!is_punct(ps, ')'));
    return next(ps);
}

static bool parse_dirs(parser *ps, bool is_const, gql_directive **out)
{
    *out = NULL;
    gql_directive **tail = out;
    while (is_punct(ps, '@')) {
        gql_directive *d = gql_alloc(&ps->doc->arena, sizeof(*d));
        if (!d) return fail_at(ps, ps->tok.loc, HK_ERR_NOMEM, "out of memory");
        d->loc = ps->tok.loc;
        if (!next(ps)) return false;
        d->name = parse_name(ps);
        if (!d->name || !parse_args(ps, is_const, &d->args)) return false;
        *tail = d;
        tail = &d->next;
    }
    return true;
}

static bool parse_selset(parser *ps, gql_sel **out);

static gql_sel *parse_selection(parser *ps)
{
    gql_sel *s = gql_alloc(&ps->doc->arena, sizeof(*s));
    if (!s) {
        fail_at(ps, ps->tok.loc, HK_ERR_NOMEM, "out of memory");
        return NULL;
    }
    s->loc = ps->tok.loc;
    if (is_punct(ps, '.')) {
        if (!next(ps)) return NULL;
        if (ps->tok.kind == T_NAME && !is_name(ps, "on")) {
            s->kind = GQL_S_SPREAD;
            s->name = parse_name(ps);
            if (!s->name || !parse_dirs(ps, false, &s->dirs)) return NULL;
            return s;
        }
        s->kind = GQL_S_INLINE;
        if (is_name(ps, "on")) {
            if (!next(ps)) return NULL;
            s->type_cond = parse_name(ps);
            if (!s->type_cond) return NULL;
        }
        if (!parse_dirs(ps, false, &s->dirs)) return NULL;
        if (!is_punct(ps, '{')) {
            unexpected(ps, "\"{\"");
            return NULL;
        }
        s->has_sub = true;
        return parse_selset(ps, &s->sub) ? s : NULL;
    }
    s->kind = GQL_S_FIELD;
    const char *n = parse_name(ps);
    if (!n) return NULL;
    if (is_punct(ps, ':')) {
        if (!next(ps)) return NULL;
        s->alias = n;
        n = parse_name(ps);
        if (!n) return NULL;
    }
    s->name = n;
    if (!parse_args(ps, false, &s->args) || !parse_dirs(ps, false, &s->dirs))
        return NULL;
    if (is_punct(ps, '{')) {
        s->has_sub = true;
        if (!parse_selset(ps, &s->sub)) return NULL;
    }
    return s;
}

static bool parse_selset(parser *ps, gql_sel **out)
{
    *out = NULL;
    if (!expect(ps, '{') || !enter(ps)) return false;
    gql_sel **tail = out;
    do {
        if (ps->tok.kind == T_EOF || is_punct(ps, '}'))
            return unexpected(ps, "Name");
        gql_sel *s = parse_selection(ps);
        if (!s) return false;
        *tail = s;
        tail = &s->next;
    } while (!is_punct(ps, '}'));
    ps->nest--;
    return next(ps);
}

/* ==== Definitions ==== */

static bool parse_vardefs(parser *ps, gql_vardef **out)
{
    *out = NULL;
    if (!is_punct(ps, '(')) return true;
    if (!next(ps)) return false;
    gql_vardef **tail = out;
    do {
        gql_vardef *v = gql_alloc(&ps->doc->arena, sizeof(*v));
        if (!v) return fail_at(ps, ps->tok.loc, HK_ERR_NOMEM, "out of memory");
        v->loc = ps->tok.loc;
        if (!expect(ps, '$')) return false;
        v->name = parse_name(ps);
        if (!v->name || !expect(ps, ':')) return false;
        v->type = parse_type(ps);
        if (!v->type) return false;
        if (is_punct(ps, '=')) {
            if (!next(ps)) return false;
            v->def = parse_value(ps, true);
            if (!v->def) return false;
        }
        gql_directive *d;
        if (!parse_dirs(ps, true, &d)) return false;
        *tail = v;
        tail = &v->next;
    } while (!is_punct(ps, ')'));
    return next(ps);
}

static bool parse_operation(parser *ps, gql_op ***tail)
{
    gql_op *op = gql_alloc(&ps->doc->arena, sizeof(*op));
    if (!op) return fail_at(ps, ps->tok.loc, HK_ERR_NOMEM, "out of memory");
    op->loc = ps->tok.loc;
    if (!is_punct(ps, '{')) {
        op->kind = is_name(ps, "query")      ? GQL_QUERY
                   : is_name(ps, "mutation") ? GQL_MUTATION
                                             : GQL_SUBSCRIPTION;
        if (!next(ps)) return false;
        if (ps->tok.kind == T_NAME) {
            op->name = parse_name(ps);
            if (!op->name) return false;
        }
        if (!parse_vardefs(ps, &op->vars) || !parse_dirs(ps, false, &op->dirs))
            return false;
    }
    if (!parse_selset(ps, &op->sel)) return false;
    **tail = op;
    *tail = &op->next;
    return true;
}

static bool parse_fragment(parser *ps, gql_frag ***tail)
{
    gql_frag *f = gql_alloc(&ps->doc->arena, sizeof(*f));
    if (!f) return fail_at(ps, ps->tok.loc, HK_ERR_NOMEM, "out of memory");
    f->loc = ps->tok.loc;
    if (!next(ps)) return false;
    if (is_name(ps, "on")) return unexpected(ps, "fragment name");
    f->name = parse_name(ps);
    if (!f->name) return false;
    if (!is_name(ps, "on")) return unexpected(ps, "\"on\"");
    if (!next(ps)) return false;
    f->type_cond = parse_name(ps);
    if (!f->type_cond || !parse_dirs(ps, false, &f->dirs) ||
        !parse_selset(ps, &f->sel))
        return false;
    **tail = f;
    *tail = &f->next;
    return true;
}

/* Skips one type system definition (balanced braces/parens) so that the
 * rest of the document still parses; validation refuses it. */
static bool skip_definition(parser *ps)
{
    int depth = 0;
    if (!next(ps)) return false;
    while (ps->tok.kind != T_EOF) {
        if (depth == 0 && ps->tok.kind == T_NAME &&
            (is_name(ps, "query") || is_name(ps, "mutation") ||
             is_name(ps, "subscription") || is_name(ps, "fragment") ||
             is_name(ps, "type") || is_name(ps, "schema") ||
             is_name(ps, "extend") || is_name(ps, "scalar") ||
             is_name(ps, "interface") || is_name(ps, "union") ||
             is_name(ps, "enum") || is_name(ps, "input") ||
             is_name(ps, "directive")))
            return true;
        if (is_punct(ps, '{') || is_punct(ps, '(')) depth++;
        if (is_punct(ps, '}') || is_punct(ps, ')')) {
            if (--depth < 0) return unexpected(ps, "a definition");
            if (depth == 0) return next(ps);
        }
        if (!next(ps)) return false;
    }
    return true;
}

void hk_gql_doc_free(hk_gql_doc *doc)
{
    if (!doc) return;
    gql_arena a = doc->arena;
    gql_arena_free(&a);
}

hk_err hk_gql_parse(const char *src, size_t len, size_t max_tokens,
                    hk_gql_doc **out, hk_error *err)
{
    *out = NULL;
    hk_error_clear(err);
    gql_arena a = {0};
    hk_gql_doc *doc = gql_alloc(&a, sizeof(*doc));
    if (!doc) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    doc->arena = a;
    parser ps = {.src = src,
                 .len = len,
                 .line = 1,
                 .max_tokens = max_tokens ? max_tokens : GQL_DEFAULT_TOKENS,
                 .doc = doc,
                 .err = err};
    gql_op **otail = &doc->ops;
    gql_frag **ftail = &doc->frags;
    if (!next(&ps)) goto fail;
    if (ps.tok.kind == T_EOF) {
        unexpected(&ps, "a definition (query, mutation or fragment)");
        goto fail;
    }
    while (ps.tok.kind != T_EOF) {
        bool ok;
        if (is_punct(&ps, '{') || is_name(&ps, "query") ||
            is_name(&ps, "mutation") || is_name(&ps, "subscription")) {
            ok = parse_operation(&ps, &otail);
        } else if (is_name(&ps, "fragment")) {
            ok = parse_fragment(&ps, &ftail);
        } else if (ps.tok.kind == T_NAME || ps.tok.kind == T_STRING ||
                   ps.tok.kind == T_BLOCK) {
            if (!doc->other) {
                doc->other =
                    ps.tok.kind == T_NAME ? name_dup(&ps) : "described";
                doc->other_loc = ps.tok.loc;
            }
            ok = doc->other && skip_definition(&ps);
        } else {
            ok = unexpected(&ps, "a definition (query, mutation or fragment)");
        }
        /* keep the doc's arena head current: chunks were added to it */
        if (!ok) goto fail;
    }
    *out = doc;
    return HK_OK;
fail:
    if (err && err->code == HK_OK)
        hk_error_set(err, HK_ERR_INVALID, "Syntax Error");
    hk_err rc = err ? err->code : HK_ERR_INVALID;
    hk_gql_doc_free(doc);
    return rc;
}
