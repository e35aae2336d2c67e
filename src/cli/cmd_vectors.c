/*
 * cmd_vectors.c — `hakgal vectors create|list|drop`, `hakgal embed` and
 * `hakgal similar`: vector spaces, the built-in embedder and similarity
 * search (src/service/svc_vector.h) from the command line.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json_text.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "core/clock.h"
#include "core/mem.h"
#include "service/svc_vector.h"

/* ==== Shared ==== */

/* Opens the KB with its vector databases: a writable open has them
 * attached by cli_open; a read-only one attaches them here. */
static int open_vs(const cli_ctx *c, bool read_only, hk_store **s,
                   hkv_store **vs)
{
    hk_error e;
    int rc = cli_open(c, read_only, false, s);
    if (rc) return rc;
    if (!read_only) {
        *vs = cli_vstore(*s);
        return HK_EXIT_OK;
    }
    hk_err err = hkv_store_attach(*s, vs, &e);
    if (err == HK_ERR_NOT_FOUND) {
        /* a KB that never had a vector space, opened read-only */
        cli_close(*s);
        *s = NULL;
        hk_error_set(&e, HK_ERR_NOT_FOUND, "no vector spaces in this KB");
        return cli_fail(c, HK_ERR_NOT_FOUND, &e);
    }
    if (err) {
        cli_close(*s);
        *s = NULL;
        return cli_fail(c, err, &e);
    }
    return HK_EXIT_OK;
}

static void close_vs(hk_store *s, hkv_store *vs)
{
    if (vs != cli_vstore(s)) hkv_store_detach(vs);
    cli_close(s);
}

static int print_json(json_t *j)
{
    char *text = j ? hk_json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) return HK_EXIT_IO;
    puts(text);
    free(text);
    return HK_EXIT_OK;
}

/* ==== vectors ==== */

static int vectors_create(cli_ctx *c, hkv_store *vs, hk_store *s,
                          hk_svc_vspace_arg *a)
{
    hk_error e;
    hk_err err = hk_svc_write(s, NULL, hk_svc_vspace_create_apply, a, &e);
    if (err) return cli_fail(c, err, &e);
    hk_txn *t;
    if ((err = hk_txn_begin(s, false, &t, &e))) return cli_fail(c, err, &e);
    err = hkv_space_get(vs, t, a->sp.name, &a->sp, &e);
    hk_txn_abort(t);
    if (err) return cli_fail(c, err, &e);
    if (c->json) return print_json(hk_svc_vspace_json(&a->sp));
    printf("created vector space %s (%u dimensions, %s)\n", a->sp.name,
           a->sp.params.dim, hk_svc_vmetric_name(a->sp.params.metric));
    return HK_EXIT_OK;
}

/* Lines of put-entities per write transaction. */
#define PUT_ENTITIES_BATCH 10000u

/* Writes the collected batch (names/vecs) in one transaction. */
static int put_entities_flush(cli_ctx *c, hk_store *s, hk_svc_ventity_arg *a,
                              uint64_t line0, uint64_t *total)
{
    hk_error e;
    if (a->n == 0) return HK_EXIT_OK;
    hk_err err = hk_svc_write(s, NULL, hk_svc_ventity_apply, a, &e);
    if (err) {
        fprintf(stderr, "line %llu: ", (unsigned long long)(line0 + a->failed));
        return cli_fail(c, err, &e);
    }
    *total += a->written;
    a->model = NULL; /* recorded with the first batch */
    return HK_EXIT_OK;
}

/* `hakgal vectors put-entities SPACE FILE`: JSON lines {entity, vector}. */
static int vectors_put_entities(cli_ctx *c, int argc, char **argv,
                                const char *model)
{
    if (optind + 2 != argc)
        return cli_usage_error(c, "put-entities needs SPACE and FILE");
    const char *space = argv[optind], *path = argv[optind + 1];
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) return cli_usage_error(c, "cannot open '%s'", path);
    hk_store *s;
    hkv_store *vs;
    int rc = open_vs(c, false, &s, &vs);
    if (rc) {
        if (f != stdin) fclose(f);
        return rc;
    }
    char **names = hk_calloc(PUT_ENTITIES_BATCH, sizeof *names);
    float *vecs = NULL;
    hk_svc_ventity_arg a;
    memset(&a, 0, sizeof a);
    a.vs = vs;
    a.space = space;
    a.model = model[0] ? model : NULL;
    a.names = (const char *const *)names;
    uint64_t line = 0, line0 = 1, total = 0;
    char *buf = NULL;
    size_t cap = 0;
    if (!names) rc = HK_EXIT_IO;
    /* one line at a time: bounded by the file */
    while (!rc && getline(&buf, &cap, f) > 0) {
        line++;
        json_error_t je;
        json_t *j = json_loads(buf, 0, &je);
        json_t *jn = json_object_get(j, "entity");
        json_t *jv = json_object_get(j, "vector");
        size_t dim = json_array_size(jv);
        if (!json_is_string(jn) || !json_is_array(jv) || dim == 0 ||
            dim > HKV_DIM_MAX || (a.n && dim != a.dim)) {
            json_decref(j);
            rc = cli_usage_error(c,
                                 "line %llu: want {\"entity\": NAME, "
                                 "\"vector\": [numbers]} of one dimension",
                                 (unsigned long long)line);
            break;
        }
        if (!vecs) {
            a.dim = (uint32_t)dim;
            vecs = hk_malloc(PUT_ENTITIES_BATCH * dim * sizeof *vecs);
            a.vecs = vecs;
        }
        names[a.n] = vecs ? hk_strdup(json_string_value(jn)) : NULL;
        for (size_t i = 0; names[a.n] && i < dim; i++) {
            json_t *x = json_array_get(jv, i);
            vecs[a.n * dim + i] =
                json_is_number(x) ? (float)json_number_value(x) : NAN;
        }
        json_decref(j);
        if (!names[a.n]) {
            rc = HK_EXIT_IO;
            break;
        }
        if (++a.n == PUT_ENTITIES_BATCH) {
            rc = put_entities_flush(c, s, &a, line0, &total);
            for (size_t i = 0; i < a.n; i++)
                hk_free(names[i]);
            a.n = 0;
            line0 = line + 1;
        }
    }
    if (!rc) rc = put_entities_flush(c, s, &a, line0, &total);
    for (size_t i = 0; i < a.n; i++)
        hk_free(names[i]);
    free(buf);
    hk_free(names);
    hk_free(vecs);
    if (f != stdin) fclose(f);
    close_vs(s, vs);
    if (rc) return rc;
    if (c->json)
        return print_json(json_pack("{s:s, s:I}", "space", space, "written",
                                    (json_int_t)total));
    printf("stored %llu entity vectors in %s\n", (unsigned long long)total,
           space);
    return HK_EXIT_OK;
}

int hk_cmd_vectors(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal vectors create SPACE --dim N [--metric cosine|dot|l2]\n"
        "                     [--int8] [--m M] [--ef-construction N] "
        "[--ef N]\n"
        "                     [--embedder none|hashed|openai [--auto]] "
        "[--json]\n"
        "                     [--kind fact|entity] [--model NAME]\n"
        "       hakgal vectors list [--json]\n"
        "       hakgal vectors drop SPACE [--json]\n"
        "       hakgal vectors put-entities SPACE FILE [--model NAME] "
        "[--json]\n\n"
        "Vector spaces: a named dimension and metric with one vector per\n"
        "fact, stored with the facts. --embedder hashed computes vectors\n"
        "with the built-in embedder (hashed tokens and character trigrams:\n"
        "near in spelling, not in meaning); openai asks an OpenAI-\n"
        "compatible /v1/embeddings endpoint (OPENAI_BASE_URL,\n"
        "HAKGAL_EMBED_MODEL, OPENAI_API_KEY or $HAKGAL_LLM_CONFIG) whose\n"
        "model answers --dim numbers; none (default) takes vectors from\n"
        "clients only. --auto: a running server embeds new facts after\n"
        "they commit (hakgal serve). --kind entity: one vector per entity\n"
        "(embedded from its name; `similar` then returns entities).\n"
        "--model names the model the vectors come from (an openai space\n"
        "records its endpoint's model at its first embedding).\n"
        "put-entities stores entity vectors from FILE ('-': stdin), one\n"
        "JSON object per line: {\"entity\": NAME, \"vector\": [numbers]},\n"
        "in transactions of 10000 lines, each all or nothing.\n";
    cli_ctx c;
    cli_init(&c, "vectors", usage);
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"dim", required_argument, NULL, 'd'},
        {"metric", required_argument, NULL, 'M'},
        {"int8", no_argument, NULL, 'i'},
        {"m", required_argument, NULL, 'm'},
        {"ef-construction", required_argument, NULL, 'c'},
        {"ef", required_argument, NULL, 'e'},
        {"embedder", required_argument, NULL, 'E'},
        {"auto", no_argument, NULL, 'A'},
        {"kind", required_argument, NULL, 'K'},
        {"model", required_argument, NULL, 'N'},
        {0, 0, 0, 0}};
    hk_svc_vspace_arg a;
    memset(&a, 0, sizeof a);
    a.sp.params.metric = HKV_COSINE;
    a.sp.params.quant = HKV_F32;
    uint64_t u;
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1) {
        if (o == CLI_STOP) return c.exit_code;
        switch (o) {
        case 'd':
            if (!cli_parse_u64(&c, "--dim", optarg, 1, HKV_DIM_MAX, &u))
                return HK_EXIT_INVALID;
            a.sp.params.dim = (uint32_t)u;
            break;
        case 'M':
            if (!hk_svc_vmetric_parse(optarg, &a.sp.params.metric))
                return cli_usage_error(&c, "unknown metric '%s'", optarg);
            break;
        case 'i':
            a.sp.params.quant = HKV_I8;
            break;
        case 'A':
            a.sp.auto_embed = true;
            break;
        case 'm':
            if (!cli_parse_u64(&c, "--m", optarg, 2, HKV_M_MAX, &u))
                return HK_EXIT_INVALID;
            a.sp.params.m = (uint32_t)u;
            break;
        case 'c':
        case 'e':
            if (!cli_parse_u64(&c, o == 'c' ? "--ef-construction" : "--ef",
                               optarg, 1, HKV_EF_MAX, &u))
                return HK_EXIT_INVALID;
            if (o == 'c')
                a.sp.params.ef_construction = (uint32_t)u;
            else
                a.sp.params.ef = (uint32_t)u;
            break;
        case 'E':
            if (!hk_svc_vembedder_parse(optarg, &a.sp.embedder))
                return cli_usage_error(&c, "unknown embedder '%s'", optarg);
            break;
        case 'K':
            if (!hk_svc_vkind_parse(optarg, &a.sp.kind))
                return cli_usage_error(&c, "--kind is fact or entity");
            break;
        case 'N':
            if (strlen(optarg) > HKV_MODEL_MAX)
                return cli_usage_error(&c, "model name longer than %u bytes",
                                       HKV_MODEL_MAX);
            strcpy(a.sp.model, optarg);
            break;
        }
    }
    if (optind >= argc)
        return cli_usage_error(&c, "missing create, list or drop");
    const char *sub = argv[optind++];
    bool list = strcmp(sub, "list") == 0;
    if (strcmp(sub, "put-entities") == 0)
        return vectors_put_entities(&c, argc, argv, a.sp.model);
    if (!list && strcmp(sub, "create") != 0 && strcmp(sub, "drop") != 0)
        return cli_usage_error(&c, "unknown subcommand '%s'", sub);
    if (!list) {
        if (optind >= argc) return cli_usage_error(&c, "missing SPACE");
        if (strlen(argv[optind]) > HKV_NAME_MAX)
            return cli_usage_error(&c, "space name longer than %u bytes",
                                   HKV_NAME_MAX);
        strcpy(a.sp.name, argv[optind++]);
    }
    if (optind < argc)
        return cli_usage_error(&c, "unexpected argument '%s'", argv[optind]);
    if (strcmp(sub, "create") == 0 && !a.sp.params.dim)
        return cli_usage_error(&c, "create needs --dim N");

    hk_store *s;
    hkv_store *vs;
    hk_error e;
    int rc = open_vs(&c, list, &s, &vs);
    if (rc) {
        /* an empty list is an answer, not an error */
        if (list && rc == HK_EXIT_NOT_FOUND) return HK_EXIT_OK;
        return rc;
    }
    a.vs = vs;
    if (strcmp(sub, "create") == 0) {
        rc = vectors_create(&c, vs, s, &a);
    } else if (strcmp(sub, "drop") == 0) {
        hk_err err = hk_svc_write(s, NULL, hk_svc_vspace_drop_apply, &a, &e);
        if (err)
            rc = cli_fail(&c, err, &e);
        else if (c.json)
            rc = print_json(json_pack("{s:s}", "dropped", a.sp.name));
        else
            printf("dropped vector space %s\n", a.sp.name);
    } else {
        hkv_space *all = hk_calloc(HKV_SPACES_MAX, sizeof *all);
        size_t n = 0;
        hk_txn *t = NULL;
        hk_err err = all ? hk_txn_begin(s, false, &t, &e) : HK_ERR_NOMEM;
        if (!err) err = hkv_space_list(vs, t, all, &n, &e);
        if (t) hk_txn_abort(t);
        if (err) rc = cli_fail(&c, err, &e);
        for (size_t i = 0; !err && i < n; i++) {
            if (c.json)
                print_json(hk_svc_vspace_json(&all[i]));
            else
                printf("%-16s %5u %-6s %-7s %-6s %10llu vectors  embedder "
                       "%s%s%s\n",
                       all[i].name, all[i].params.dim,
                       hk_svc_vmetric_name(all[i].params.metric),
                       all[i].params.quant == HKV_I8 ? "int8" : "float32",
                       hk_svc_vkind_name(all[i].kind),
                       (unsigned long long)all[i].vectors,
                       hk_svc_vembedder_name(all[i].embedder),
                       all[i].model[0] ? "  model " : "", all[i].model);
        }
        hk_free(all);
    }
    close_vs(s, vs);
    return rc;
}

/* ==== embed ==== */

/* Progress of an endpoint run on stderr: a line rewritten in place on a
 * terminal, else a line at most every second. */
typedef struct embed_progress {
    uint64_t facts;   /* facts in the KB when the run began */
    int64_t shown_us; /* when a line was last printed */
    bool tty;         /* stderr is a terminal */
} embed_progress;

static bool embed_progress_line(void *ud, const hk_svc_embed_run *r)
{
    embed_progress *p = ud;
    int64_t now = hk_now_us();
    if (!p->tty && now - p->shown_us < 1000000) return true;
    p->shown_us = now;
    double pct =
        p->facts ? 100.0 * (double)r->examined / (double)p->facts : 100.0;
    fprintf(stderr, "%sembedded %llu facts, %llu of %llu examined (%.0f%%)%s",
            p->tty ? "\r" : "", (unsigned long long)r->embedded,
            (unsigned long long)r->examined, (unsigned long long)p->facts,
            pct > 100 ? 100 : pct, p->tty ? "" : "\n");
    fflush(stderr);
    return true;
}

/* `hakgal embed` for a space whose embedder is an endpoint. */
static int embed_remote(cli_ctx *c, hk_store *s, hkv_store *vs,
                        const char *space, uint32_t batch, bool force)
{
    embed_progress p = {0, 0, isatty(2) != 0};
    hk_svc_embed_run run;
    hk_stats st;
    hk_error e;
    hk_txn *t;
    memset(&run, 0, sizeof run);
    if (hk_txn_begin(s, false, &t, &e) == HK_OK) {
        if (hk_store_stats(t, &st, &e) == HK_OK) p.facts = st.facts;
        hk_txn_abort(t);
    }
    run.vs = vs;
    run.space = space;
    run.batch = batch;
    run.force = force;
    run.progress = embed_progress_line;
    run.ud = &p;
    hk_err err = hk_svc_embed_space(s, &run, &e);
    if (p.tty && p.shown_us) fputc('\n', stderr);
    if (err) {
        fprintf(stderr,
                "embedded %llu facts into %s before this error (their "
                "vectors are stored; run again to resume):\n",
                (unsigned long long)run.embedded, space);
        return cli_fail(c, err, &e);
    }
    if (c->json)
        return print_json(json_pack("{s:s, s:I, s:I}", "space", space,
                                    "embedded", (json_int_t)run.embedded,
                                    "examined", (json_int_t)run.examined));
    printf("embedded %llu facts into %s\n", (unsigned long long)run.embedded,
           space);
    return HK_EXIT_OK;
}

int hk_cmd_embed(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal embed --space SPACE [--batch N] [--force] [--json]\n\n"
        "Gives every fact without a vector in SPACE one from the space's\n"
        "embedder. The built-in one writes transactions of 10000 facts.\n"
        "An openai space sends batches of N statements (default 256) to\n"
        "the embeddings endpoint with no transaction open and writes each\n"
        "batch's vectors in one transaction; an answer of another\n"
        "dimension than the space's fails the batch and writes nothing.\n"
        "An interrupted run resumes where it stopped: facts with a vector\n"
        "are skipped. Progress goes to stderr. An entity space embeds\n"
        "every entity's name. An openai space refuses an endpoint whose\n"
        "model is not the one its vectors came from; --force drops its\n"
        "vectors and embeds everything again with the endpoint's model.\n";
    cli_ctx c;
    cli_init(&c, "embed", usage);
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"space", required_argument, NULL, 's'},
        {"batch", required_argument, NULL, 'b'},
        {"force", no_argument, NULL, 'F'},
        {0, 0, 0, 0}};
    const char *space = NULL;
    bool force = false;
    uint64_t batch = 0;
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1) {
        if (o == CLI_STOP) return c.exit_code;
        if (o == 's') space = optarg;
        if (o == 'F') force = true;
        if (o == 'b' && !cli_parse_u64(&c, "--batch", optarg, 1, 10000, &batch))
            return HK_EXIT_INVALID;
    }
    if (optind < argc)
        return cli_usage_error(&c, "unexpected argument '%s'", argv[optind]);
    if (!space) return cli_usage_error(&c, "missing --space SPACE");
    hk_store *s;
    hkv_store *vs;
    hk_error e;
    int rc = open_vs(&c, false, &s, &vs);
    if (rc) return rc;
    hkv_space sp;
    hk_txn *t;
    hk_err err = hk_txn_begin(s, false, &t, &e);
    if (!err) {
        err = hkv_space_find(vs, t, space, &sp, &e);
        hk_txn_abort(t);
    }
    if (!err && (sp.embedder == HKV_EMBED_OPENAI ||
                 sp.kind == HKV_KIND_ENTITY || force)) {
        rc = embed_remote(&c, s, vs, space, (uint32_t)batch, force);
        close_vs(s, vs);
        return rc;
    }
    if (err) {
        rc = cli_fail(&c, err, &e);
        close_vs(s, vs);
        return rc;
    }
    hk_svc_embed_arg a;
    memset(&a, 0, sizeof a);
    a.vs = vs;
    a.space = space;
    uint64_t total = 0;
    /* each round moves `after` forward: bounded by the KB's last fact id */
    do {
        err = hk_svc_write(s, NULL, hk_svc_embed_apply, &a, &e);
        if (err) {
            rc = cli_fail(&c, err, &e);
            break;
        }
        total += a.embedded;
        a.after = a.last;
        if (!c.json && isatty(2))
            fprintf(stderr, "\rembedded %llu facts (through id %llu)",
                    (unsigned long long)total, (unsigned long long)a.last);
    } while (!a.done);
    if (!c.json && isatty(2)) fputc('\n', stderr);
    if (!rc) {
        if (c.json)
            rc = print_json(json_pack("{s:s, s:I}", "space", space, "embedded",
                                      (json_int_t)total));
        else
            printf("embedded %llu facts into %s\n", (unsigned long long)total,
                   space);
    }
    close_vs(s, vs);
    return rc;
}

/* ==== similar ==== */

/* Reads whitespace- or comma-separated floats (or a JSON array) from path
 * into *out (caller frees with hk_free). */
static int read_vector_file(cli_ctx *c, const char *path, float **out,
                            uint32_t *dim)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    size_t cap = 0, n = 0;
    float *v = NULL;
    *out = NULL;
    if (!f) {
        cli_msg(c, "cannot open '%s': %s", path, strerror(errno));
        return HK_EXIT_IO;
    }
    int ch, rc = HK_EXIT_OK;
    char num[64];
    size_t len = 0;
    for (;;) {
        ch = fgetc(f);
        bool sep = ch == EOF || ch == ',' || ch == '[' || ch == ']' ||
                   ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r';
        if (!sep) {
            if (len + 1 >= sizeof num) {
                rc = cli_usage_error(c, "a number in '%s' is too long", path);
                break;
            }
            num[len++] = (char)ch;
            continue;
        }
        if (len) {
            num[len] = 0;
            char *end;
            errno = 0;
            float x = strtof(num, &end);
            if (*end || errno) {
                rc = cli_usage_error(c, "'%s' in '%s' is not a number", num,
                                     path);
                break;
            }
            if (n == HKV_DIM_MAX) {
                rc = cli_usage_error(c, "more than %u numbers in '%s'",
                                     HKV_DIM_MAX, path);
                break;
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                float *p = hk_realloc(v, cap * sizeof *p);
                if (!p) {
                    rc = HK_EXIT_IO;
                    break;
                }
                v = p;
            }
            v[n++] = x;
            len = 0;
        }
        if (ch == EOF) break;
    }
    if (f != stdin) fclose(f);
    if (rc) {
        hk_free(v);
        return rc;
    }
    if (n == 0) {
        hk_free(v);
        return cli_usage_error(c, "no numbers in '%s'", path);
    }
    *out = v;
    *dim = (uint32_t)n;
    return HK_EXIT_OK;
}

int hk_cmd_similar(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal similar TEXT|--vector FILE|--fact ID --space SPACE\n"
        "                      [--predicate P] [--entity E] [--filter F]...\n"
        "                      [--k N] [--ef N] [--json]\n\n"
        "The facts whose vectors in SPACE are nearest to the query: TEXT\n"
        "(embedded with the space's built-in embedder), the numbers in FILE\n"
        "('-': stdin), or the vector of fact ID. --predicate and --entity\n"
        "restrict the hits; so does each --filter F: predicate:P, entity:E,\n"
        "tag:T, source:S, or query:Q, the facts a graph query matches\n"
        "(e.g. 'query:HasPart(?x, CPU)'; in an entity space the entities\n"
        "bound to its first variable, or to ?v with 'query:?v:Q'). In an\n"
        "entity space predicate, entity, tag and source admit the entities\n"
        "that occur in the facts they select. Filters combine; a selective\n"
        "one (under 2% of the index, or 1000) is searched exactly.\n"
        "--json prints one object per hit: id, statement, score; in an\n"
        "entity space (kind entity) the hits are entities: entity, score.\n";
    cli_ctx c;
    cli_init(&c, "similar", usage);
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"space", required_argument, NULL, 's'},
        {"vector", required_argument, NULL, 'v'},
        {"fact", required_argument, NULL, 'f'},
        {"predicate", required_argument, NULL, 'p'},
        {"entity", required_argument, NULL, 'E'},
        {"filter", required_argument, NULL, 'F'},
        {"k", required_argument, NULL, 'k'},
        {"ef", required_argument, NULL, 'e'},
        {0, 0, 0, 0}};
    hk_svc_vsimilar_req r;
    hk_error fe;
    memset(&r, 0, sizeof r);
    const char *vfile = NULL;
    uint64_t u;
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1) {
        if (o == CLI_STOP) return c.exit_code;
        switch (o) {
        case 's':
            r.space = optarg;
            break;
        case 'v':
            vfile = optarg;
            break;
        case 'f':
            if (!cli_parse_u64(&c, "--fact", optarg, 1, UINT64_MAX, &u))
                return HK_EXIT_INVALID;
            r.fact = u;
            break;
        case 'p':
            r.predicate = optarg;
            break;
        case 'E':
            r.entity = optarg;
            break;
        case 'F':
            if (!hk_svc_vfilter_parse(optarg, &r, &fe))
                return cli_usage_error(&c, "%s", fe.message);
            break;
        case 'k':
        case 'e':
            if (!cli_parse_u64(&c, o == 'k' ? "--k" : "--ef", optarg, 1,
                               o == 'k' ? 1000 : HKV_EF_MAX, &u))
                return HK_EXIT_INVALID;
            if (o == 'k')
                r.k = (uint32_t)u;
            else
                r.ef = (uint32_t)u;
            break;
        }
    }
    if (optind < argc) r.text = argv[optind++];
    if (optind < argc)
        return cli_usage_error(&c, "unexpected argument '%s'", argv[optind]);
    if (!r.space) return cli_usage_error(&c, "missing --space SPACE");
    if ((r.text != NULL) + (vfile != NULL) + (r.fact != 0) != 1)
        return cli_usage_error(&c, "give one of TEXT, --vector or --fact");
    float *v = NULL;
    int rc;
    if (vfile) {
        if ((rc = read_vector_file(&c, vfile, &v, &r.dim))) return rc;
        r.vector = v;
    }
    hk_store *s;
    hkv_store *vs;
    hk_error e;
    if ((rc = open_vs(&c, true, &s, &vs))) {
        hk_free(v);
        return rc;
    }
    hk_txn *t;
    hk_svc_vsimilar_res res;
    memset(&res, 0, sizeof res);
    hk_err err = hk_txn_begin(s, false, &t, &e);
    if (!err) {
        err = hk_svc_vsimilar(vs, t, &r, &res, &e);
        hk_txn_abort(t);
    }
    if (err) rc = cli_fail(&c, err, &e);
    for (size_t i = 0; !err && i < res.n_hits; i++) {
        const hk_svc_vsimilar_hit *h = &res.hits[i];
        if (c.json)
            print_json(hk_svc_vsimilar_hit_json(h));
        else if (h->entity)
            printf("%.4f  %s\n", h->score, h->entity);
        else
            printf("%.4f  %llu  %s\n", h->score, (unsigned long long)h->id,
                   h->statement);
    }
    hk_svc_vsimilar_res_free(&res);
    close_vs(s, vs);
    hk_free(v);
    return rc;
}

/* ==== search ==== */

/* Prints one hit: JSON (the fact with its score) or "score  id  stmt". */
static hk_err search_print(void *ud, const hk_fact *f, double score,
                           hk_error *err)
{
    const cli_ctx *c = ud;
    if (c->json) {
        json_t *j = hk_svc_fact_jansson(f);
        if (!j || json_object_set_new(j, "score", json_real(score)))
            return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        if (print_json(j)) return hk_error_set(err, HK_ERR_IO, "stdout");
        return HK_OK;
    }
    hk_buf b = HK_BUF_INIT;
    if (hk_statement_format(&f->st, &b))
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    printf("%.4f  %llu  %.*s\n", score, (unsigned long long)f->id, (int)b.len,
           b.data);
    hk_buf_free(&b);
    return HK_OK;
}

int hk_cmd_search(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal search TEXT [--mode text|vector|hybrid] [--space S]\n"
        "                     [--limit N] [--json]\n\n"
        "Facts matching TEXT, best first. --mode text (the default) ranks\n"
        "by shared words; vector by nearness in space S (default: the first\n"
        "space with the built-in embedder, which compares spelling, not\n"
        "meaning, or with the openai embedder when an embeddings endpoint\n"
        "is configured); hybrid fuses both rankings by reciprocal rank (text\n"
        "alone when there is no such space). --json prints one fact per\n"
        "line with its score.\n";
    cli_ctx c;
    cli_init(&c, "search", usage);
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"mode", required_argument, NULL, 'm'},
        {"space", required_argument, NULL, 's'},
        {"limit", required_argument, NULL, 'l'},
        {0, 0, 0, 0}};
    hk_svc_hsearch_req r;
    memset(&r, 0, sizeof r);
    uint64_t u;
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1) {
        if (o == CLI_STOP) return c.exit_code;
        switch (o) {
        case 'm':
            if (!hk_svc_smode_parse(optarg, &r.mode))
                return cli_usage_error(&c, "--mode is text, vector or hybrid");
            break;
        case 's':
            r.space = optarg;
            break;
        case 'l':
            if (!cli_parse_u64(&c, "--limit", optarg, 1, 1000, &u))
                return HK_EXIT_INVALID;
            r.limit = (size_t)u;
            break;
        }
    }
    if (optind < argc) r.query = argv[optind++];
    if (optind < argc)
        return cli_usage_error(&c, "unexpected argument '%s'", argv[optind]);
    if (!r.query || !*r.query) return cli_usage_error(&c, "missing TEXT");
    hk_store *s;
    hkv_store *vs = NULL;
    hk_error e;
    int rc = cli_open(&c, true, false, &s);
    if (rc) return rc;
    hk_err err = hkv_store_attach(s, &vs, &e);
    if (err == HK_ERR_NOT_FOUND) { /* no vector space ever: text only */
        vs = NULL;
        err = HK_OK;
    }
    hk_txn *t = NULL;
    size_t shown = 0;
    r.hit = search_print;
    r.hit_ud = &c;
    if (!err) err = hk_txn_begin(s, false, &t, &e);
    if (!err) err = hk_svc_hsearch(vs, t, &r, &shown, &e);
    if (t) hk_txn_abort(t);
    if (err) rc = cli_fail(&c, err, &e);
    hkv_store_detach(vs);
    cli_close(s);
    return rc;
}
