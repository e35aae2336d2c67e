/*
 * cmd_graph.c — graph traversal commands: `neighbours` (the subgraph
 * around an entity) and `path` (shortest and k shortest paths between two
 * entities). Each runs in one read transaction over the service functions
 * hk_svc_graph_neighbours and hk_svc_graph_paths.
 */
#include "cli/cli.h"
#include "core/buf.h"
#include "service/service.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OPT_ALLOW 0x2001
#define OPT_DENY 0x2002

/* Predicate lists given with --allow/--deny (comma-separated, repeatable). */
typedef struct pred_lists {
    char *allow[HK_GRAPH_MAX_PREDS]; /* owned copies */
    size_t n_allow;                  /* entries in allow */
    char *deny[HK_GRAPH_MAX_PREDS];  /* owned copies */
    size_t n_deny;                   /* entries in deny */
} pred_lists;

static bool lists_add(const cli_ctx *c, pred_lists *l, bool allow,
                      const char *arg)
{
    char **v = allow ? l->allow : l->deny;
    size_t *n = allow ? &l->n_allow : &l->n_deny;
    const char *p = arg;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len > 0) {
            if (*n == HK_GRAPH_MAX_PREDS) {
                cli_usage_error(c, "at most %u predicates in --%s",
                                HK_GRAPH_MAX_PREDS, allow ? "allow" : "deny");
                return false;
            }
            if (!(v[*n] = strndup(p, len))) {
                cli_msg(c, "out of memory");
                return false;
            }
            (*n)++;
        }
        p += len + (e ? 1 : 0);
    }
    return true;
}

static void lists_free(pred_lists *l)
{
    for (size_t i = 0; i < l->n_allow; i++)
        free(l->allow[i]);
    for (size_t i = 0; i < l->n_deny; i++)
        free(l->deny[i]);
}

static void lists_filter(const pred_lists *l, hk_graph_filter *f)
{
    f->allow = l->n_allow ? (const char *const *)l->allow : NULL;
    f->n_allow = l->n_allow;
    f->deny = l->n_deny ? (const char *const *)l->deny : NULL;
    f->n_deny = l->n_deny;
}

static int open_read(const cli_ctx *c, hk_store **s, hk_txn **t)
{
    *t = NULL;
    int rc = cli_open(c, true, false, s);
    if (rc != HK_EXIT_OK) return rc;
    hk_error e;
    hk_error_clear(&e);
    hk_err err = hk_txn_begin(*s, false, t, &e);
    if (err != HK_OK) {
        hk_store_close(*s);
        *s = NULL;
        return cli_fail(c, err, &e);
    }
    return HK_EXIT_OK;
}

/* ==== neighbours ==== */

int hk_cmd_neighbours(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal neighbours ENTITY [--depth K] [--fanout N]\n"
        "         [--max-edges N] [--direction out|in|both]\n"
        "         [--allow P[,P...]] [--deny P[,P...]] [--data DIR] "
        "[--json]\n\n"
        "Shows the facts around ENTITY up to K hops (default 1) as a\n"
        "subgraph: P(a, b) is an edge a -> b; a fact with another number\n"
        "of arguments is a vertex fact:<id> with an edge P[i] to each\n"
        "argument. --fanout follows at most N facts per entity and hop,\n"
        "--max-edges stops the subgraph at N edges (default 2000);\n"
        "--direction out follows facts from their first argument on,\n"
        "in against it; --allow/--deny restrict the predicates followed.\n"
        "--json prints {\"nodes\":[...],\"edges\":[...],\"truncated\":b}.\n";
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"depth", required_argument, NULL, 'd'},
        {"fanout", required_argument, NULL, 'f'},
        {"max-edges", required_argument, NULL, 'm'},
        {"direction", required_argument, NULL, 'r'},
        {"allow", required_argument, NULL, OPT_ALLOW},
        {"deny", required_argument, NULL, OPT_DENY},
        {0, 0, 0, 0}};
    cli_ctx c;
    cli_init(&c, "neighbours", usage);
    hk_graph_hood_req req = {0};
    pred_lists pl = {0};
    uint64_t v;
    req.depth = 1;
    int o, rc = HK_EXIT_OK;
    while ((o = cli_next_opt(&c, argc, argv, "hd:f:m:r:", opts)) != -1) {
        if (o == CLI_STOP) {
            rc = c.exit_code;
            goto out;
        }
        bool ok = true;
        if (o == 'd') {
            ok =
                cli_parse_u64(&c, "--depth", optarg, 1, HK_GRAPH_MAX_DEPTH, &v);
            req.depth = (unsigned)v;
        } else if (o == 'f') {
            ok = cli_parse_u64(&c, "--fanout", optarg, 1, 100000000, &v);
            req.fanout = (size_t)v;
        } else if (o == 'm') {
            ok = cli_parse_u64(&c, "--max-edges", optarg, 1, 10000000, &v);
            req.max_edges = (size_t)v;
        } else if (o == 'r') {
            if (!hk_svc_graph_dir_parse(optarg, &req.filter.dir)) {
                rc = cli_usage_error(&c, "--direction must be out, in or both");
                goto out;
            }
        } else if (o == OPT_ALLOW || o == OPT_DENY) {
            ok = lists_add(&c, &pl, o == OPT_ALLOW, optarg);
        }
        if (!ok) {
            rc = HK_EXIT_USAGE;
            goto out;
        }
    }
    if (argc - optind != 1) {
        rc = cli_usage_error(&c, "expected one ENTITY");
        goto out;
    }
    req.entity = argv[optind];
    lists_filter(&pl, &req.filter);
    hk_store *s = NULL;
    hk_txn *t = NULL;
    if ((rc = open_read(&c, &s, &t)) != HK_EXIT_OK) goto out;
    hk_graph_walk_res res;
    hk_error e;
    hk_error_clear(&e);
    hk_err err = hk_svc_graph_neighbours(t, &req, &res, &e);
    if (err != HK_OK) {
        rc = cli_fail(&c, err, &e);
    } else if (c.json) {
        hk_buf b = HK_BUF_INIT;
        if (hk_svc_subgraph_write_json(&res, &b) == HK_OK)
            rc = cli_emit(&c, &b);
        else
            rc = cli_fail(&c, HK_ERR_NOMEM, NULL);
        hk_buf_free(&b);
    } else {
        for (size_t i = 0; i < res.n_edges; i++) {
            const hk_graph_edge *ed = &res.edges[i];
            printf("%s -[%s #%llu]-> %s\n", res.nodes[ed->from].id, ed->label,
                   (unsigned long long)ed->fact_id, res.nodes[ed->to].id);
        }
        printf("%zu nodes, %zu edges%s\n", res.n_nodes, res.n_edges,
               res.truncated ? " (truncated)" : "");
    }
    hk_graph_walk_res_free(&res);
    hk_txn_abort(t);
    hk_store_close(s);
out:
    lists_free(&pl);
    return rc;
}

/* ==== path ==== */

int hk_cmd_path(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal path FROM TO [--max-len L] [--k N] [--directed]\n"
        "         [--allow P[,P...]] [--deny P[,P...]] [--data DIR] "
        "[--json]\n\n"
        "Finds up to N (default 1) shortest simple paths from FROM to TO\n"
        "of at most L hops (default 6, at most 32). A hop is one fact: a\n"
        "binary fact links its arguments, a fact with more arguments links\n"
        "all of them. Undirected by default; --directed follows facts\n"
        "from their first argument on. --json prints\n"
        "{\"paths\":[{\"length\":L,\"nodes\":[...],\"facts\":[ids...]}]},\n"
        "an empty list when there is none.\n";
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"max-len", required_argument, NULL, 'l'},
        {"k", required_argument, NULL, 'k'},
        {"directed", no_argument, NULL, 'D'},
        {"allow", required_argument, NULL, OPT_ALLOW},
        {"deny", required_argument, NULL, OPT_DENY},
        {0, 0, 0, 0}};
    cli_ctx c;
    cli_init(&c, "path", usage);
    hk_graph_path_req req = {0};
    pred_lists pl = {0};
    uint64_t v;
    req.max_len = 6;
    req.k = 1;
    int o, rc = HK_EXIT_OK;
    while ((o = cli_next_opt(&c, argc, argv, "hl:k:D", opts)) != -1) {
        if (o == CLI_STOP) {
            rc = c.exit_code;
            goto out;
        }
        bool ok = true;
        if (o == 'l') {
            ok = cli_parse_u64(&c, "--max-len", optarg, 1,
                               HK_GRAPH_PATH_MAX_LEN, &v);
            req.max_len = (unsigned)v;
        } else if (o == 'k') {
            ok = cli_parse_u64(&c, "--k", optarg, 1, HK_GRAPH_PATH_MAX_K, &v);
            req.k = (size_t)v;
        } else if (o == 'D') {
            req.filter.dir = HK_GRAPH_OUT;
        } else if (o == OPT_ALLOW || o == OPT_DENY) {
            ok = lists_add(&c, &pl, o == OPT_ALLOW, optarg);
        }
        if (!ok) {
            rc = HK_EXIT_USAGE;
            goto out;
        }
    }
    if (argc - optind != 2) {
        rc = cli_usage_error(&c, "expected FROM and TO");
        goto out;
    }
    req.from = argv[optind];
    req.to = argv[optind + 1];
    lists_filter(&pl, &req.filter);
    hk_store *s = NULL;
    hk_txn *t = NULL;
    if ((rc = open_read(&c, &s, &t)) != HK_EXIT_OK) goto out;
    hk_graph_path_res res;
    hk_error e;
    hk_error_clear(&e);
    hk_err err = hk_svc_graph_paths(t, &req, &res, &e);
    if (err != HK_OK) {
        rc = cli_fail(&c, err, &e);
    } else if (c.json) {
        hk_buf b = HK_BUF_INIT;
        if (hk_svc_paths_write_json(&res, &b) == HK_OK)
            rc = cli_emit(&c, &b);
        else
            rc = cli_fail(&c, HK_ERR_NOMEM, NULL);
        hk_buf_free(&b);
    } else if (res.n_paths == 0) {
        printf("no path from %s to %s within %u hops\n", req.from, req.to,
               req.max_len);
    } else {
        for (size_t i = 0; i < res.n_paths; i++) {
            const hk_graph_path *p = &res.paths[i];
            printf("%zu:", p->length);
            for (size_t j = 0; j <= p->length; j++) {
                if (j)
                    printf(" -[#%llu]-", (unsigned long long)p->facts[j - 1]);
                printf(" %s", p->nodes[j]);
            }
            printf("\n");
        }
    }
    hk_graph_path_res_free(&res);
    hk_txn_abort(t);
    hk_store_close(s);
out:
    lists_free(&pl);
    return rc;
}

/* ==== analyze ==== */

/* A progress bar on stderr (terminals only). */
static void progress_bar(void *ud, double done, double total, const char *msg)
{
    (void)ud;
    int width = 40, filled = total > 0 ? (int)(width * done / total) : width;
    if (filled > width) filled = width;
    fprintf(stderr, "\r%-9s [%.*s%*s] %3.0f%%", msg, filled,
            "########################################", width - filled, "",
            total > 0 ? 100.0 * done / total : 100.0);
    if (done >= total) fputc('\n', stderr);
    fflush(stderr);
}

int hk_cmd_analyze(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal analyze pagerank|components|communities|degrees|"
        "betweenness\n"
        "         [--top N] [--data DIR] [--json]\n\n"
        "Builds a snapshot of the entity graph (binary facts are edges\n"
        "a -> b, a fact with three or more arguments is a vertex fact:<id>\n"
        "linked to each argument) and ranks it with igraph: pagerank\n"
        "(damping 0.85), weakly connected components and communities\n"
        "(Louvain) by size, the degree distribution by degree, betweenness\n"
        "(exact up to 5000 vertices, else sampled). --top N rows (default\n"
        "10). A progress bar is drawn on a terminal.\n";
    static const struct option opts[] = {CLI_COMMON_OPTIONS,
                                         {"top", required_argument, NULL, 'n'},
                                         {0, 0, 0, 0}};
    cli_ctx c;
    cli_init(&c, "analyze", usage);
    hk_svc_analyze_req req = {0};
    req.top = 10;
    uint64_t v;
    int o, rc;
    while ((o = cli_next_opt(&c, argc, argv, "hn:", opts)) != -1) {
        if (o == CLI_STOP) return c.exit_code;
        if (o == 'n') {
            if (!cli_parse_u64(&c, "--top", optarg, 1, HK_GRAPH_TOP_MAX, &v))
                return HK_EXIT_USAGE;
            req.top = (size_t)v;
        }
    }
    if (argc - optind != 1) return cli_usage_error(&c, "expected one analysis");
    if (!hk_svc_analysis_parse(argv[optind], &req.kind))
        return cli_usage_error(&c, "unknown analysis '%s'", argv[optind]);
    if (isatty(2)) req.progress = progress_bar;
    hk_store *s = NULL;
    hk_txn *t = NULL;
    if ((rc = open_read(&c, &s, &t)) != HK_EXIT_OK) return rc;
    hk_graph_analysis_res res;
    hk_error e;
    hk_error_clear(&e);
    hk_err err = hk_svc_graph_analyze(t, &req, &res, &e);
    if (err != HK_OK) {
        rc = cli_fail(&c, err, &e);
    } else if (c.json) {
        hk_buf b = HK_BUF_INIT;
        if (hk_svc_analysis_write_json(&res, &b) == HK_OK)
            rc = cli_emit(&c, &b);
        else
            rc = cli_fail(&c, HK_ERR_NOMEM, NULL);
        hk_buf_free(&b);
    } else {
        char sz[32];
        printf("%s: %u vertices, %llu edges, snapshot %s\n",
               hk_svc_analysis_name(res.kind), res.n_vertices,
               (unsigned long long)res.n_edges,
               cli_size_text(res.snapshot_bytes, sz));
        if (res.kind == HK_GRAPH_COMPONENTS || res.kind == HK_GRAPH_COMMUNITIES)
            printf("%llu groups\n", (unsigned long long)res.groups);
        if (res.kind == HK_GRAPH_COMMUNITIES)
            printf("modularity %.4f\n", res.modularity);
        for (size_t i = 0; i < res.n_top; i++) {
            const hk_graph_rank *r = &res.top[i];
            if (res.kind == HK_GRAPH_DEGREES)
                printf("degree %llu: %.0f (e.g. %s)\n",
                       (unsigned long long)r->key, r->score, r->name);
            else if (res.kind == HK_GRAPH_PAGERANK ||
                     res.kind == HK_GRAPH_BETWEENNESS)
                printf("%.6g  %s\n", r->score, r->name);
            else
                printf("%.0f  %s ...\n", r->score, r->name);
        }
    }
    hk_graph_analysis_res_free(&res);
    hk_txn_abort(t);
    hk_store_close(s);
    return rc;
}
