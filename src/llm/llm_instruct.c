/*
 * llm_instruct.c — instruction-tuning data from the facts (llm.h,
 * "Fine-tuning data").
 *
 * Every fact becomes one chat example {"messages": [system, user,
 * assistant]} in JSON Lines, the format PEFT/TRL's SFTTrainer and
 * llama.cpp's finetune tooling read. The user turn asks for the fact, the
 * assistant turn states it in words and in hakgal's syntax, so that a
 * tuned model learns both the KB's content and its statement syntax (which
 * is what `hakgal ask` asks it to write claims in).
 *
 * Templates per predicate: "{0}", "{1}", ... stand for the arguments,
 * "{p}" for the predicate split into lower-case words (HasPart -> "has
 * part"), "{s}" for the canonical statement. The defaults cover common
 * predicates; others use a generic pair; a templates file adds or
 * replaces rows (`Predicate | question | answer`).
 *
 * The split is by the SHA-256 of the canonical statement (its first four
 * bytes against the validation fraction), so a fact stays on its side
 * between runs and as the KB grows.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/sha256.h"
#include "llm/llm.h"

static const hk_llm_template k_defaults[] = {
    {"IsA", "What is {0}?", "{0} is a {1}."},
    {"HasPart", "What parts does {0} have?", "{0} has {1} as a part."},
    {"IsPartOf", "What is {0} part of?", "{0} is part of {1}."},
    {"PartOf", "What is {0} part of?", "{0} is part of {1}."},
    {"LocatedIn", "Where is {0} located?", "{0} is located in {1}."},
    {"CapitalOf", "What is the capital of {0}?", "The capital of {0} is {1}."},
    {"Causes", "What does {0} cause?", "{0} causes {1}."},
    {"HasProperty", "What property does {0} have?",
     "{0} has the property {1}."},
    {"MadeBy", "Who made {0}?", "{0} is made by {1}."},
    {"FoundedIn", "When was {0} founded?", "{0} was founded in {1}."},
};

static const hk_llm_template k_generic = {
    NULL, "What does the knowledge base say about {0} and {p}?",
    "{0} {p} {rest}."};

static const hk_llm_template k_generic1 = {NULL, "What is known about {0}?",
                                           "{0} is {p}."};

static const char k_system[] =
    "You answer from a knowledge base of facts written as "
    "Predicate(arg1, arg2, ...). State facts plainly and give the fact in "
    "that syntax.";

void hk_llm_templates_free(hk_llm_template *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        hk_free((char *)v[i].predicate);
        hk_free((char *)v[i].question);
        hk_free((char *)v[i].answer);
    }
    hk_free(v);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
                 s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

hk_err hk_llm_templates_load(const char *path, hk_llm_template **out, size_t *n,
                             hk_error *err)
{
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return hk_error_set(err, errno == ENOENT ? HK_ERR_NOT_FOUND : HK_ERR_IO,
                            "%s: %s", path, strerror(errno));
    size_t cap = 16;
    hk_llm_template *v = hk_calloc(cap, sizeof *v);
    char line[4096];
    uint64_t no = 0;
    hk_err rc = v ? HK_OK : hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    while (rc == HK_OK && fgets(line, sizeof line, f)) {
        no++;
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        char *b1 = strchr(s, '|'), *b2 = b1 ? strchr(b1 + 1, '|') : NULL;
        if (!b2 || *n >= 100000) {
            rc = hk_error_set(err, HK_ERR_INVALID,
                              "%.200s:%llu: expected `Predicate | question | "
                              "answer`",
                              path, (unsigned long long)no);
            err->line = no;
            break;
        }
        *b1 = *b2 = 0;
        if (*n == cap) {
            hk_llm_template *w = hk_realloc(v, 2 * cap * sizeof *v);
            if (!w) {
                rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
                break;
            }
            v = w;
            cap *= 2;
        }
        hk_llm_template *t = &v[(*n)++];
        memset(t, 0, sizeof *t);
        if (!(t->predicate = hk_strdup(trim(s))) ||
            !(t->question = hk_strdup(trim(b1 + 1))) ||
            !(t->answer = hk_strdup(trim(b2 + 1))))
            rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    fclose(f);
    if (rc) {
        hk_llm_templates_free(v, *n);
        *n = 0;
        return rc;
    }
    *out = v;
    return HK_OK;
}

/* "HasPart" -> "has part" into b. */
static hk_err words(const char *p, hk_buf *b)
{
    hk_err rc = HK_OK;
    for (size_t i = 0; p[i] && !rc; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z') {
            if (i) rc = hk_buf_append(b, " ", 1);
            c = (char)(c - 'A' + 'a');
        } else if (c == '_') {
            c = ' ';
        }
        if (!rc) rc = hk_buf_append(b, &c, 1);
    }
    return rc;
}

/* Expands template tpl for statement st into b. */
static hk_err expand(const char *tpl, const hk_statement *st, const char *canon,
                     hk_buf *b)
{
    hk_err rc = HK_OK;
    for (const char *p = tpl; *p && !rc; p++) {
        if (*p == '{') {
            const char *e = strchr(p, '}');
            if (e) {
                size_t len = (size_t)(e - p - 1);
                if (len == 1 && p[1] == 'p') {
                    rc = words(st->predicate, b);
                } else if (len == 1 && p[1] == 's') {
                    rc = hk_buf_append_str(b, canon);
                } else if (len == 4 && !strncmp(p + 1, "rest", 4)) {
                    for (uint32_t i = 1; i < st->n_args && !rc; i++)
                        rc = hk_buf_appendf(b, "%s%s", i > 1 ? ", " : "",
                                            st->args[i]);
                } else if (len >= 1 && len <= 2 && p[1] >= '0' && p[1] <= '9') {
                    unsigned k = (unsigned)atoi(p + 1);
                    rc =
                        hk_buf_append_str(b, k < st->n_args ? st->args[k] : "");
                } else {
                    rc = hk_buf_append(b, p, len + 2);
                }
                p = e;
                continue;
            }
        }
        rc = hk_buf_append(b, p, 1);
    }
    return rc;
}

static const hk_llm_template *find_tpl(const hk_llm_template *v, size_t n,
                                       const char *pred, uint32_t n_args)
{
    for (size_t i = n; i > 0; i--) /* later rows win */
        if (!strcmp(v[i - 1].predicate, pred)) return &v[i - 1];
    for (size_t i = 0; i < sizeof k_defaults / sizeof k_defaults[0]; i++)
        if (!strcmp(k_defaults[i].predicate, pred) && n_args == 2)
            return &k_defaults[i];
    return n_args == 1 ? &k_generic1 : &k_generic;
}

/* One JSONL line for fact f into b. */
static hk_err example(const hk_fact *f, const hk_llm_template *tpl,
                      hk_buf *canon, hk_buf *q, hk_buf *a, hk_buf *b)
{
    hk_buf_reset(canon);
    hk_buf_reset(q);
    hk_buf_reset(a);
    hk_buf_reset(b);
    hk_err rc = hk_statement_format(&f->st, canon);
    if (!rc) rc = expand(tpl->question, &f->st, canon->data, q);
    if (!rc) rc = expand(tpl->answer, &f->st, canon->data, a);
    if (!rc) rc = hk_buf_appendf(a, " [%s]", canon->data);
    if (!rc)
        rc = hk_buf_append_str(
            b, "{\"messages\":[{\"role\":\"system\",\"content\":");
    if (!rc) rc = hk_buf_append_json_string(b, k_system, strlen(k_system));
    if (!rc) rc = hk_buf_append_str(b, "},{\"role\":\"user\",\"content\":");
    if (!rc) rc = hk_buf_append_json_string(b, q->data, q->len);
    if (!rc)
        rc = hk_buf_append_str(b, "},{\"role\":\"assistant\",\"content\":");
    if (!rc) rc = hk_buf_append_json_string(b, a->data, a->len);
    if (!rc)
        rc =
            hk_buf_appendf(b, "}],\"fact\":%llu}\n", (unsigned long long)f->id);
    return rc;
}

hk_err hk_llm_instruct_export(hk_txn *t, const hk_llm_instruct_req *req,
                              hk_llm_instruct_res *res, hk_error *err)
{
    memset(res, 0, sizeof *res);
    if (req->validation < 0 || req->validation > 0.5)
        return hk_error_set(err, HK_ERR_INVALID,
                            "the validation fraction must be 0..0.5");
    hk_scan scan = HK_SCAN_INIT;
    hk_query *q = NULL;
    hk_fact f;
    hk_fact_init(&f);
    hk_buf canon = HK_BUF_INIT, qb = HK_BUF_INIT, ab = HK_BUF_INIT,
           line = HK_BUF_INIT;
    uint32_t cut = (uint32_t)(req->validation * 4294967295.0);
    hk_err rc = hk_query_open_scan(t, &scan, NULL, &q, err);
    while (rc == HK_OK) {
        bool row = false;
        if ((rc = hk_query_next(q, &f, &row, err)) || !row) break;
        if (req->limit && res->train + res->validation >= req->limit) break;
        const hk_llm_template *tpl = find_tpl(req->templates, req->n_templates,
                                              f.st.predicate, f.st.n_args);
        if ((rc = example(&f, tpl, &canon, &qb, &ab, &line))) {
            rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
            break;
        }
        uint8_t h[32];
        hk_sha256(canon.data, canon.len, h);
        uint32_t x = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
                     (uint32_t)h[2] << 8 | h[3];
        bool val = req->validation > 0 && x <= cut;
        FILE *to = val ? req->validation_out : req->train_out;
        if (fwrite(line.data, 1, line.len, to) != line.len) {
            rc = hk_error_set(err, HK_ERR_IO, "write failed: %s",
                              strerror(errno));
            break;
        }
        if (val)
            res->validation++;
        else
            res->train++;
        if (tpl == &k_generic || tpl == &k_generic1) res->generic++;
    }
    hk_query_close(q);
    hk_fact_release(&f);
    hk_buf_free(&canon);
    hk_buf_free(&qb);
    hk_buf_free(&ab);
    hk_buf_free(&line);
    return rc;
}
