/*
 * cmd_model.c — `hakgal model train|info|eval|score|predict|similar`: the
 * learned model of the KB (src/service/svc_learn.h) from the command
 * line. Training shows a progress bar with the loss and the validation
 * MRR on a terminal (stderr); every subcommand answers one JSON object
 * with --json.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json_text.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "service/svc_learn.h"
#include "service/svc_llm.h"

static int print_json(json_t *j)
{
    char *text = j ? hk_json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) return HK_EXIT_IO;
    puts(text);
    free(text);
    return HK_EXIT_OK;
}

/* ==== Progress ==== */

typedef struct progress {
    bool tty;        /* draw a bar on stderr */
    double last_mrr; /* last validation MRR seen (-1: none yet) */
} progress;

static bool on_epoch(void *ud, uint32_t epoch, uint32_t epochs, double loss,
                     double valid_mrr)
{
    progress *p = ud;
    if (valid_mrr >= 0) p->last_mrr = valid_mrr;
    if (!p->tty) return true;
    int width = 30, done = (int)((double)width * epoch / epochs);
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < done ? '#' : '.';
    bar[width] = '\0';
    if (p->last_mrr >= 0)
        fprintf(stderr, "\r[%s] epoch %u/%u  loss %.4f  valid MRR %.3f ", bar,
                epoch, epochs, loss, p->last_mrr);
    else
        fprintf(stderr, "\r[%s] epoch %u/%u  loss %.4f ", bar, epoch, epochs,
                loss);
    fflush(stderr);
    return true;
}

static void print_metrics(const char *what, const hkl_metrics *m)
{
    printf("%-14s MRR %.4f  Hits@1 %.4f  Hits@3 %.4f  Hits@10 %.4f  (%llu "
           "ranks)\n",
           what, m->mrr, m->hits1, m->hits3, m->hits10,
           (unsigned long long)m->n);
}

/* ==== Subcommands ==== */

static int model_train(cli_ctx *c, hk_svc_model_train_req *r)
{
    hk_store *s;
    /* writable when the embeddings go to a vector space */
    int rc = cli_open(c, r->space == NULL, false, &s);
    if (rc) return rc;
    hk_error e;
    hk_txn *t = NULL;
    hkl_data d;
    hkl_data_init(&d);
    uint64_t seq = 0;
    hk_err err = hk_txn_begin(s, false, &t, &e);
    if (!err) err = hk_svc_model_collect(t, r, &d, &seq, &e);
    if (t) hk_txn_abort(t); /* training needs no snapshot */
    progress pg = {!c->json && isatty(2), -1};
    r->progress = on_epoch;
    r->ud = &pg;
    r->vs = r->space ? cli_vstore(s) : NULL;
    hk_svc_model *h = NULL;
    hk_svc_model_space_res sr;
    memset(&sr, 0, sizeof sr);
    hk_err src = HK_OK;
    hk_error se;
    hk_error_clear(&se);
    if (!err) {
        if (!c->json)
            fprintf(stderr,
                    "training %s (dim %u) on %zu edges of %llu facts, %u "
                    "entities, %u relations, %u threads\n",
                    hkl_kind_name(r->params.kind), r->params.dim,
                    d.n[HKL_TRAIN], (unsigned long long)d.facts, d.ent.n,
                    d.rel.n, r->params.threads);
        err = hk_svc_model_train_space(s, &d, seq, r, &h, &sr, &src, &se, &e);
        if (pg.tty) fputc('\n', stderr);
    }
    hkl_data_free(&d);
    if (err) {
        cli_close(s);
        return cli_fail(c, err, &e);
    }
    const hkl_model *m = hk_svc_model_get(h);
    if (src != HK_OK) { /* the model is stored; say so and fail */
        fprintf(stderr, "model stored, but its entity vectors were not "
                        "written:\n");
        hk_svc_model_release(h);
        rc = cli_fail(c, src, &se);
        cli_close(s);
        return rc;
    }
    if (c->json) {
        json_t *j = hk_svc_model_info_jansson(m, true, 0);
        if (j && r->space)
            json_object_set_new(j, "graph_space",
                                hk_svc_model_space_jansson(&sr));
        rc = print_json(j);
    } else {
        char path[4096];
        hk_svc_model_path(s, path, sizeof path, &e);
        printf("model: %s, dim %u, %u entities, %u relations -> %s\n",
               hkl_kind_name(m->p.kind), m->p.dim, m->ent.n, m->rel.n, path);
        printf("trained %u epochs (best at %u) in %.1f s, %.0f triples x "
               "epochs / s\n",
               m->epochs_run, m->best_epoch, m->train_seconds,
               m->triples_per_sec);
        print_metrics("validation", &m->valid);
        print_metrics("test", &m->test);
        if (r->space)
            printf("entity vectors: %llu in vector space %s (dim %u)\n",
                   (unsigned long long)sr.written, sr.space, sr.dim);
        rc = HK_EXIT_OK;
    }
    hk_svc_model_release(h);
    cli_close(s);
    return rc;
}

/* Opens the KB read-only with its model and a read txn. */
static int open_model(cli_ctx *c, hk_store **s, hk_txn **t, hk_svc_model **h)
{
    hk_error e;
    int rc = cli_open(c, true, false, s);
    if (rc) return rc;
    hk_err err = hk_svc_model_acquire(*s, h, &e);
    if (!err) err = hk_txn_begin(*s, false, t, &e);
    if (err) {
        hk_svc_model_release(*h);
        cli_close(*s);
        return cli_fail(c, err, &e);
    }
    return HK_EXIT_OK;
}

static void close_model(hk_store *s, hk_txn *t, hk_svc_model *h)
{
    hk_txn_abort(t);
    hk_svc_model_release(h);
    cli_close(s);
}

static int model_info(cli_ctx *c)
{
    hk_store *s;
    hk_txn *t;
    hk_svc_model *h;
    int rc = open_model(c, &s, &t, &h);
    if (rc) return rc;
    const hkl_model *m = hk_svc_model_get(h);
    uint64_t age = 0;
    hk_error e;
    hk_err err = hk_svc_model_age(t, m, &age, &e);
    if (err) {
        rc = cli_fail(c, err, &e);
    } else if (c->json) {
        rc = print_json(hk_svc_model_info_jansson(m, true, age));
    } else {
        char when[32];
        hk_time_format(m->trained_us, when);
        printf("model: %s, dim %u, %u entities, %u relations\n",
               hkl_kind_name(m->p.kind), m->p.dim, m->ent.n, m->rel.n);
        printf("trained %s at audit entry %llu; %llu audit entries since\n",
               when, (unsigned long long)m->audit_seq, (unsigned long long)age);
        print_metrics("validation", &m->valid);
        print_metrics("test", &m->test);
        printf("calibration: plausibility = 1 / (1 + exp(-(%.4f s + %.4f)))\n",
               m->platt_a, m->platt_b);
        if (m->combo.fitted) print_metrics("combined, valid", &m->combo.valid);
    }
    close_model(s, t, h);
    return rc;
}

static void print_eval(const hk_svc_model_eval_res *r)
{
    printf("filtered link prediction, %llu test edges, both directions\n",
           (unsigned long long)r->test_triples);
    print_metrics("model", &r->model);
    print_metrics("most frequent", &r->freq);
    print_metrics("1-hop path", &r->path);
    if (r->backoff.n) print_metrics("freq + model", &r->backoff);
    if (r->combo.n) print_metrics("combined", &r->combo);
    if (r->unknown)
        printf("%llu test edges name entities or relations the model never "
               "saw (not ranked)\n",
               (unsigned long long)r->unknown);
}

static int model_eval(cli_ctx *c, const char *split, hk_svc_model_train_req *r,
                      uint64_t max_test)
{
    hk_error e;
    hk_svc_model_eval_res res;
    int rc;
    if (split) {
        progress pg = {!c->json && isatty(2), -1};
        r->progress = on_epoch;
        r->ud = &pg;
        hkl_model *m = NULL;
        hk_err err = hk_svc_model_eval_split(split, r, &res, &m, &e);
        if (pg.tty) fputc('\n', stderr);
        if (err) return cli_fail(c, err, &e);
        if (c->json) {
            json_t *j = hk_svc_model_eval_jansson(&res);
            json_object_set_new(j, "info",
                                hk_svc_model_info_jansson(m, false, 0));
            rc = print_json(j);
        } else {
            printf("%s dim %u: %u epochs (best at %u) in %.1f s, %.0f "
                   "triples x epochs / s\n",
                   hkl_kind_name(m->p.kind), m->p.dim, m->epochs_run,
                   m->best_epoch, m->train_seconds, m->triples_per_sec);
            print_eval(&res);
            rc = HK_EXIT_OK;
        }
        hkl_model_free(m);
        return rc;
    }
    hk_store *s;
    hk_txn *t;
    hk_svc_model *h;
    if ((rc = open_model(c, &s, &t, &h))) return rc;
    hk_err err = hk_svc_model_eval(t, hk_svc_model_get(h), max_test,
                                   r->params.threads, &res, &e);
    if (err)
        rc = cli_fail(c, err, &e);
    else if (c->json)
        rc = print_json(hk_svc_model_eval_jansson(&res));
    else
        print_eval(&res);
    close_model(s, t, h);
    return rc;
}

static int model_score(cli_ctx *c, const char *text)
{
    hk_store *s;
    hk_txn *t;
    hk_svc_model *h;
    int rc = open_model(c, &s, &t, &h);
    if (rc) return rc;
    hk_svc_model_score_res res;
    hk_error e;
    hk_err err = hk_svc_model_score(t, hk_svc_model_get(h), text, strlen(text),
                                    &res, &e);
    if (err == HK_ERR_INVALID && e.column) {
        rc = cli_fail_text(c, "statement", text, &e);
    } else if (err) {
        rc = cli_fail(c, err, &e);
    } else if (c->json) {
        rc = print_json(hk_svc_model_score_jansson(text, &res));
    } else {
        printf("plausibility %.4f  (score %.4f; rank %g of %u entities%s)\n",
               res.plausibility, res.raw, res.rank, res.entities,
               res.in_kb ? "; a fact of the KB" : "");
        if (res.has_combined)
            printf("combined score %.4f  (rank %g under the %s ranker)\n",
                   res.combined, res.rank_ranker, res.ranker);
    }
    close_model(s, t, h);
    return rc;
}

static int model_predict(cli_ctx *c, const char *text, uint32_t k,
                         hkl_ranker ranker)
{
    hk_store *s;
    hk_txn *t;
    hk_svc_model *h;
    int rc = open_model(c, &s, &t, &h);
    if (rc) return rc;
    hk_svc_model_predict_res res;
    hk_error e;
    hk_err err = hk_svc_model_predict_ranker(t, hk_svc_model_get(h), text,
                                             strlen(text), k, ranker, &res, &e);
    if (err == HK_ERR_INVALID && e.column) {
        rc = cli_fail_text(c, "pattern", text, &e);
    } else if (err) {
        rc = cli_fail(c, err, &e);
    } else if (c->json) {
        rc = print_json(hk_svc_model_predict_jansson(text, &res));
    } else {
        printf("ranked by the %s\n",
               !strcmp(res.ranker, "combined") ? "combined ranker" : "model");
        for (size_t i = 0; i < res.n; i++)
            printf("%3zu. %-40s %.4f%s\n", i + 1, res.v[i].statement,
                   res.v[i].plausibility, res.v[i].known ? "  (known)" : "");
    }
    if (!err) hk_svc_model_predict_free(&res);
    close_model(s, t, h);
    return rc;
}

static int model_similar(cli_ctx *c, const char *entity, uint32_t k)
{
    hk_store *s;
    hk_txn *t;
    hk_svc_model *h;
    int rc = open_model(c, &s, &t, &h);
    if (rc) return rc;
    hk_svc_model_similar_res res;
    hk_error e;
    hk_err err = hk_svc_model_similar(hk_svc_model_get(h), entity, k, &res, &e);
    if (err) {
        rc = cli_fail(c, err, &e);
    } else if (c->json) {
        rc = print_json(hk_svc_model_similar_jansson(entity, &res));
    } else {
        for (size_t i = 0; i < res.n; i++)
            printf("%3zu. %-40s %.4f\n", i + 1, res.names[i], res.cos[i]);
    }
    if (!err) hk_svc_model_similar_free(&res);
    close_model(s, t, h);
    return rc;
}

/* Queues the model's link suggestions for review (svc_llm.h). */
static int model_suggest(cli_ctx *c, const char *text, uint32_t k, double min_p,
                         const char *actor)
{
    hk_store *s;
    int rc = cli_open(c, false, false, &s);
    if (rc) return rc;
    hk_svc_model *h = NULL;
    hk_error e;
    hk_err err = hk_svc_model_acquire(s, &h, &e);
    if (err) {
        cli_close(s);
        return cli_fail(c, err, &e);
    }
    hk_svc_suggest_op op;
    memset(&op, 0, sizeof op);
    op.s = s;
    op.m = hk_svc_model_get(h);
    op.pattern = text;
    op.k = k;
    op.min_plausibility = min_p;
    err = hk_svc_write(s, actor, hk_svc_suggest_apply, &op, &e);
    if (err == HK_ERR_INVALID && e.column) {
        rc = cli_fail_text(c, "pattern", text, &e);
    } else if (err) {
        rc = cli_fail(c, err, &e);
    } else if (c->json) {
        rc = print_json(hk_svc_suggest_json(&op));
    } else {
        for (size_t i = 0; i < op.n; i++)
            printf("proposed for review: %llu  %-40s %.4f\n",
                   (unsigned long long)op.ids[i], op.props[i].statement,
                   op.plausibility[i]);
        printf("%zu proposed of %zu candidates (%zu already facts, %zu "
               "already pending, %zu below %.2f)\n",
               op.n, op.considered, op.known, op.pending, op.below, min_p);
    }
    hk_svc_suggest_free(&op);
    hk_svc_model_release(h);
    cli_close(s);
    return rc;
}

/* ==== Command ==== */

int hk_cmd_model(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal model train [--model complex|distmult] [--dim N]\n"
        "                  [--epochs N] [--threads N] [--seed N] [--lr X]\n"
        "                  [--reg X] [--negatives N] [--valid F] [--test F]\n"
        "                  [--space NAME | --no-space]\n"
        "       hakgal model info\n"
        "       hakgal model eval [--max N] | --split DIR [train options]\n"
        "       hakgal model score STATEMENT\n"
        "       hakgal model predict 'P(a, ?x)' | 'P(?x, b)' | '?r(a, b)' "
        "[--k N]\n"
        "                  [--ranker auto|model|combined]\n"
        "       hakgal model similar ENTITY [--k N]\n"
        "       hakgal model suggest PATTERN [--k N] [--min-plausibility X]\n"
        "                  [--actor NAME]\n"
        "(every subcommand takes --json)\n\n"
        "A knowledge-graph embedding learned from the KB's facts (ComplEx\n"
        "with N3 regularisation, or DistMult), stored as learn.model next to\n"
        "the KB. train holds out --valid and --test fractions of the facts\n"
        "(0.05 each) and stops early on validation MRR, then writes the\n"
        "entity embeddings as the entity vector space --space (graph) for\n"
        "hakgal similar --space graph (--no-space: not); eval reports the\n"
        "filtered MRR and Hits@1/3/10 on the held-out test facts next to two\n"
        "baselines, or with --split DIR trains and evaluates on "
        "DIR/train.txt,\n"
        "valid.txt and test.txt (head<TAB>relation<TAB>tail). score gives a\n"
        "plausibility in [0, 1] (Platt scaling fitted on the validation\n"
        "facts) and the rank among all entities as object. suggest puts\n"
        "the predictions that are not facts yet (at least --min-plausibility,\n"
        "default 0.5) into the review queue (origin model): a reviewer\n"
        "approves them with hakgal review; nothing becomes a fact before.\n"
        "--negatives N samples N entities per query (default 64); 0 trains\n"
        "with the softmax over every entity (1-N: slower per epoch, the\n"
        "published recipe).\n";
    cli_ctx c;
    cli_init(&c, "model", usage);
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"model", required_argument, NULL, 'm'},
        {"dim", required_argument, NULL, 'd'},
        {"epochs", required_argument, NULL, 'e'},
        {"threads", required_argument, NULL, 't'},
        {"seed", required_argument, NULL, 's'},
        {"lr", required_argument, NULL, 'l'},
        {"reg", required_argument, NULL, 'r'},
        {"negatives", required_argument, NULL, 'n'},
        {"valid", required_argument, NULL, 'V'},
        {"test", required_argument, NULL, 'T'},
        {"min-plausibility", required_argument, NULL, 'P'},
        {"actor", required_argument, NULL, 'a'},
        {"split", required_argument, NULL, 'S'},
        {"max", required_argument, NULL, 'x'},
        {"k", required_argument, NULL, 'k'},
        {"space", required_argument, NULL, 'G'},
        {"no-space", no_argument, NULL, 'N'},
        {"ranker", required_argument, NULL, 'K'},
        {0, 0, 0, 0}};
    hk_svc_model_train_req req;
    hk_svc_model_train_req_init(&req);
    hkl_params *p = &req.params;
    const char *split = NULL;
    uint64_t u, max_test = 0, k = 10;
    double x, min_p = 0.5;
    const char *actor = "cli";
    hkl_ranker ranker = HKL_RANKER_AUTO;
    bool ranker_set = false;
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1) {
        if (o == CLI_STOP) return c.exit_code;
        switch (o) {
        case 'm':
            if (!hkl_kind_parse(optarg, &p->kind))
                return cli_usage_error(&c, "unknown model '%s'", optarg);
            break;
        case 'd':
            if (!cli_parse_u64(&c, "--dim", optarg, 1, 2048, &u))
                return HK_EXIT_INVALID;
            p->dim = (uint32_t)u;
            break;
        case 'e':
            if (!cli_parse_u64(&c, "--epochs", optarg, 1, 100000, &u))
                return HK_EXIT_INVALID;
            p->epochs = (uint32_t)u;
            break;
        case 't':
            if (!cli_parse_u64(&c, "--threads", optarg, 1, 64, &u))
                return HK_EXIT_INVALID;
            p->threads = (uint32_t)u;
            break;
        case 's':
            if (!cli_parse_u64(&c, "--seed", optarg, 0, UINT64_MAX, &u))
                return HK_EXIT_INVALID;
            p->seed = u;
            break;
        case 'l':
            if (!cli_parse_double(&c, "--lr", optarg, 1e-6, 10, &x))
                return HK_EXIT_INVALID;
            p->lr = (float)x;
            break;
        case 'r':
            if (!cli_parse_double(&c, "--reg", optarg, 0, 10, &x))
                return HK_EXIT_INVALID;
            p->reg = (float)x;
            break;
        case 'n':
            if (!cli_parse_u64(&c, "--negatives", optarg, 0, 65536, &u))
                return HK_EXIT_INVALID;
            p->negatives = (uint32_t)u;
            break;
        case 'V':
        case 'T':
            if (!cli_parse_double(&c, o == 'V' ? "--valid" : "--test", optarg,
                                  0, 0.5, &x))
                return HK_EXIT_INVALID;
            if (o == 'V')
                req.valid = x;
            else
                req.test = x;
            break;
        case 'S':
            split = optarg;
            break;
        case 'x':
            if (!cli_parse_u64(&c, "--max", optarg, 1, UINT32_MAX, &max_test))
                return HK_EXIT_INVALID;
            break;
        case 'k':
            if (!cli_parse_u64(&c, "--k", optarg, 1, 1000, &k))
                return HK_EXIT_INVALID;
            break;
        case 'P':
            if (!cli_parse_double(&c, "--min-plausibility", optarg, 0, 1,
                                  &min_p))
                return HK_EXIT_INVALID;
            break;
        case 'a':
            if (!cli_check_actor(&c, optarg)) return HK_EXIT_INVALID;
            actor = optarg;
            break;
        case 'G':
            req.space = optarg;
            break;
        case 'N':
            req.space = NULL;
            break;
        case 'K':
            if (!hkl_ranker_parse(optarg, &ranker))
                return cli_usage_error(&c,
                                       "--ranker takes auto, model or "
                                       "combined, not '%s'",
                                       optarg);
            ranker_set = true;
            break;
        }
    }
    if (optind >= argc)
        return cli_usage_error(&c, "missing train, info, eval, score, predict "
                                   "or similar");
    const char *sub = argv[optind++];
    bool takes_arg = !strcmp(sub, "score") || !strcmp(sub, "predict") ||
                     !strcmp(sub, "similar") || !strcmp(sub, "suggest");
    const char *arg = NULL;
    if (takes_arg) {
        if (optind >= argc)
            return cli_usage_error(&c, "%s needs an argument", sub);
        arg = argv[optind++];
    }
    if (optind < argc)
        return cli_usage_error(&c, "unexpected argument '%s'", argv[optind]);
    if (split && strcmp(sub, "eval"))
        return cli_usage_error(&c, "--split belongs to eval");
    if (ranker_set && strcmp(sub, "predict"))
        return cli_usage_error(&c, "--ranker belongs to predict");
    if (!strcmp(sub, "train")) return model_train(&c, &req);
    if (!strcmp(sub, "info")) return model_info(&c);
    if (!strcmp(sub, "eval")) return model_eval(&c, split, &req, max_test);
    if (!strcmp(sub, "score")) return model_score(&c, arg);
    if (!strcmp(sub, "predict"))
        return model_predict(&c, arg, (uint32_t)k, ranker);
    if (!strcmp(sub, "similar")) return model_similar(&c, arg, (uint32_t)k);
    if (!strcmp(sub, "suggest"))
        return model_suggest(&c, arg, (uint32_t)k, min_p, actor);
    return cli_usage_error(&c, "unknown subcommand '%s'", sub);
}
