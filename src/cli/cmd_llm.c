/*
 * cmd_llm.c — `hakgal ask`, `hakgal extract`, `hakgal review` and
 * `hakgal llm on|off|status`: grounded answers, extraction into the review
 * queue, reviewing proposals, and the model switch
 * (src/service/svc_llm.h) from the command line.
 *
 * Model endpoints come from the environment (OPENAI_BASE_URL,
 * OPENAI_API_KEY, HAKGAL_LLM_MODEL), the LLM config file
 * ($HAKGAL_LLM_CONFIG or --llm-config) and the flags --endpoint,
 * --base-url, --model, --api-key, --timeout-ms, --retries (src/llm,
 * llm_config.c). The command line has no roles: whoever runs it on the
 * KB's directory is its administrator; --actor names them in the audit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/json_text.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "core/mem.h"
#include "llm/llm.h"
#include "service/svc_llm.h"
#include "service/svc_vector.h"

/* ==== Shared ==== */

#define OPT_ENDPOINT 0x2001
#define OPT_BASE_URL 0x2002
#define OPT_MODEL 0x2003
#define OPT_API_KEY 0x2004
#define OPT_LLM_CONFIG 0x2005
#define OPT_TIMEOUT 0x2006
#define OPT_RETRIES 0x2007

#define ENDPOINT_OPTIONS                                                       \
    {"endpoint", required_argument, NULL, OPT_ENDPOINT},                       \
        {"base-url", required_argument, NULL, OPT_BASE_URL},                   \
        {"model", required_argument, NULL, OPT_MODEL},                         \
        {"api-key", required_argument, NULL, OPT_API_KEY},                     \
        {"llm-config", required_argument, NULL, OPT_LLM_CONFIG},               \
        {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},                  \
    {                                                                          \
        "retries", required_argument, NULL, OPT_RETRIES                        \
    }

#define ENDPOINT_HELP                                                          \
    "Model endpoint (OpenAI-compatible: llama.cpp server, Ollama, vLLM):\n"    \
    "  --endpoint NAME    a named endpoint of the LLM config file\n"           \
    "  --base-url URL     e.g. http://127.0.0.1:8080/v1 "                      \
    "(default $OPENAI_BASE_URL)\n"                                             \
    "  --model NAME       chat model (default $HAKGAL_LLM_MODEL)\n"            \
    "  --api-key KEY      bearer key (default $OPENAI_API_KEY)\n"              \
    "  --llm-config FILE  endpoints file (default $HAKGAL_LLM_CONFIG)\n"       \
    "  --timeout-ms N     per attempt (default 120000)\n"                      \
    "  --retries N        extra attempts on 429/5xx/network (default 3)\n"

/* Endpoint flags collected before the configuration is loaded. */
typedef struct ep_flags {
    const char *endpoint;  /* --endpoint */
    const char *config;    /* --llm-config */
    const char *set[5][2]; /* (key, value) from the other flags */
    size_t n_set;          /* entries in set */
} ep_flags;

/* Handles an endpoint option; false when o is not one. */
static bool ep_option(ep_flags *f, int o, const char *arg)
{
    const char *key = NULL;
    switch (o) {
    case OPT_ENDPOINT:
        f->endpoint = arg;
        return true;
    case OPT_LLM_CONFIG:
        f->config = arg;
        return true;
    case OPT_BASE_URL:
        key = "base_url";
        break;
    case OPT_MODEL:
        key = "model";
        break;
    case OPT_API_KEY:
        key = "api_key";
        break;
    case OPT_TIMEOUT:
        key = "timeout_ms";
        break;
    case OPT_RETRIES:
        key = "retries";
        break;
    default:
        return false;
    }
    for (size_t i = 0; i < f->n_set; i++)
        if (!strcmp(f->set[i][0], key)) {
            f->set[i][1] = arg;
            return true;
        }
    f->set[f->n_set][0] = key;
    f->set[f->n_set++][1] = arg;
    return true;
}

/* Loads the configuration and makes the client of the chosen endpoint. */
static int make_client(const cli_ctx *c, const ep_flags *f, hk_llm_client **out)
{
    hk_llm_config *cfg = hk_calloc(1, sizeof *cfg);
    if (!cfg) {
        cli_msg(c, "out of memory");
        return HK_EXIT_IO;
    }
    hk_error e;
    hk_error_clear(&e);
    const hk_llm_endpoint *ep = NULL;
    hk_err rc = hk_llm_config_load(cfg, f->config, &e);
    const char *name = f->endpoint ? f->endpoint : "default";
    for (size_t i = 0; !rc && i < f->n_set; i++)
        rc = hk_llm_config_set(cfg, name, f->set[i][0], f->set[i][1], &e);
    if (!rc) rc = hk_llm_config_pick(cfg, f->endpoint, &ep, &e);
    if (!rc) rc = hk_llm_client_new(ep, out, &e);
    hk_free(cfg);
    return rc ? cli_fail(c, rc, &e) : HK_EXIT_OK;
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

/* Opens the KB for writing with the review queue attached. */
static int open_rw(const cli_ctx *c, hk_store **s)
{
    int x = cli_open(c, false, false, s);
    if (x) return x;
    hk_error e;
    hk_err rc = hk_llm_attach(*s, &e);
    if (rc) {
        cli_close(*s);
        *s = NULL;
        return cli_fail(c, rc, &e);
    }
    return HK_EXIT_OK;
}

/* ==== ask ==== */

typedef struct stream_out {
    FILE *to; /* where streamed text goes */
} stream_out;

static hk_err on_delta(void *ud, const char *text, size_t len)
{
    stream_out *so = ud;
    fwrite(text, 1, len, so->to);
    fflush(so->to);
    return HK_OK;
}

static void print_answer(const hk_svc_ask_res *r, bool streamed)
{
    const hk_llm_answer *a = &r->ans;
    if (!r->model_used) {
        printf("%s\nNote: %s\n\n", a->answer, r->note);
        for (size_t i = 0; i < r->ctx.n; i++)
            printf("  [#%llu] %s\n", (unsigned long long)r->ctx.facts[i].id,
                   r->ctx.facts[i].statement);
        if (r->ctx.n == 0) printf("  (no facts found)\n");
        return;
    }
    if (streamed)
        printf("\n\n");
    else
        printf("%s\n\n", a->answer);
    if (!a->structured)
        printf("Note: the model did not answer in the requested JSON form; "
               "no claims could be checked.\n");
    printf("Citations:");
    size_t shown = 0;
    for (size_t i = 0; i < a->n_citations; i++)
        if (a->citations[i].exists && a->citations[i].in_context) {
            printf(" #%llu", (unsigned long long)a->citations[i].id);
            shown++;
        }
    printf("%s\n", shown ? "" : " none");
    for (size_t i = 0; i < a->n_citations; i++)
        if (!a->citations[i].exists || !a->citations[i].in_context)
            printf("  invalid citation #%llu: %s\n",
                   (unsigned long long)a->citations[i].id,
                   !a->citations[i].exists ? "no such fact"
                                           : "not in the context");
    if (a->n_claims) printf("Claims:\n");
    for (size_t i = 0; i < a->n_claims; i++) {
        const hk_llm_claim *c = &a->claims[i];
        printf("  %-12s %s", hk_llm_verdict_name(c->verdict), c->statement);
        if (c->evidence)
            printf("  (#%llu %s)", (unsigned long long)c->evidence,
                   c->evidence_statement ? c->evidence_statement : "");
        else if (c->note[0])
            printf("  (%s)", c->note);
        printf("\n");
    }
}

int hk_cmd_ask(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal ask QUESTION [--json] [--stream] [--budget N]\n"
        "                  [--search MODE] [endpoint options]\n\n"
        "Answers QUESTION from the facts: retrieves facts (search and the\n"
        "neighbourhood of matched entities, plus what the rules derive about\n"
        "those entities, with the facts their proofs rest on), gives them\n"
        "numbered to the\n"
        "model within a token budget, asks for an answer with citations by\n"
        "fact id and the claims it makes, then checks every citation (the\n"
        "fact exists and was in the context) and every claim (supported,\n"
        "contradicted or unknown, with the fact that decides it).\n"
        "When model access is switched off (hakgal llm off) the answer is\n"
        "the retrieval alone, and says so.\n\n"
        "  --json      one JSON object: answer, citations, claims, context\n"
        "  --stream    print the model's text as it arrives (to stderr with\n"
        "              --json)\n"
        "  --budget N  tokens of facts in the prompt (default 2000)\n"
        "  --search MODE  text, vector or hybrid (default hybrid: the text\n"
        "              search fused with a vector space that has the built-in\n"
        "              embedder, or the text search alone without one)\n"
        "  --propose   put the claims the KB does not know (verdict unknown)\n"
        "              into the review queue (origin ask)\n"
        "  --actor NAME  who is recorded for --propose (default "
        "cli)\n\n" ENDPOINT_HELP;
    cli_ctx c;
    cli_init(&c, "ask", usage);
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        ENDPOINT_OPTIONS,
        {"stream", no_argument, NULL, 's'},
        {"budget", required_argument, NULL, 'b'},
        {"search", required_argument, NULL, 'm'},
        {"propose", no_argument, NULL, 'P'},
        {"actor", required_argument, NULL, 'a'},
        {0, 0, 0, 0}};
    ep_flags f;
    memset(&f, 0, sizeof f);
    bool stream = false, propose = false;
    const char *actor = "cli", *search = NULL;
    uint64_t budget = 0;
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1) {
        if (o == CLI_STOP) return c.exit_code;
        if (ep_option(&f, o, optarg)) continue;
        if (o == 'P') propose = true;
        if (o == 'm') search = optarg;
        if (o == 'a') {
            if (!cli_check_actor(&c, optarg)) return HK_EXIT_INVALID;
            actor = optarg;
        }
        if (o == 's')
            stream = true;
        else if (o == 'b' &&
                 !cli_parse_u64(&c, "--budget", optarg, 50, 1000000, &budget))
            return HK_EXIT_INVALID;
    }
    if (optind + 1 != argc)
        return cli_usage_error(&c, "expected one QUESTION (quote it)");
    const char *question = argv[optind];
    hk_store *s = NULL;
    int x = propose ? open_rw(&c, &s) : cli_open(&c, true, false, &s);
    if (x) return x;
    hk_error e;
    hk_error_clear(&e);
    /* read-only: the vector spaces, when the KB has any, for hybrid search */
    hkv_store *own_vs = NULL;
    if (!cli_vstore(s) && hkv_store_attach(s, &own_vs, &e) != HK_OK)
        own_vs = NULL;
    hk_error_clear(&e);
    hk_txn *t = NULL;
    hk_llm_client *client = NULL;
    hk_llm_proposal *props = NULL;
    size_t n_props = 0;
    uint64_t *ids = NULL;
    hk_svc_ask_res res;
    memset(&res, 0, sizeof res);
    hk_err rc = hk_txn_begin(s, false, &t, &e);
    bool on = true;
    if (!rc) rc = hk_llm_models_enabled(s, t, &on, &e);
    if (rc) {
        x = cli_fail(&c, rc, &e);
        goto out;
    }
    if (on && (x = make_client(&c, &f, &client))) goto out;
    stream_out so = {c.json ? stderr : stdout};
    hk_svc_ask_req req;
    memset(&req, 0, sizeof req);
    req.s = s;
    req.question = question;
    req.client = client;
    req.budget_tokens = (unsigned)budget;
    req.search = search;
    req.vs = own_vs ? own_vs : cli_vstore(s);
    if (stream) {
        req.on_delta = on_delta;
        req.ud = &so;
    }
    if ((rc = hk_svc_ask(t, &req, &res, &e))) {
        if (stream) fputc('\n', so.to);
        x = cli_fail(&c, rc, &e);
        goto out;
    }
    hk_txn_abort(t); /* the answer is checked: end the snapshot */
    t = NULL;
    if (propose) {
        rc = hk_svc_ask_proposals(&res, &props, &n_props, &e);
        if (!rc && n_props && !(ids = hk_calloc(n_props, sizeof *ids)))
            rc = hk_error_set(&e, HK_ERR_NOMEM, "out of memory");
        hk_llm_enqueue_arg ea = {s, props, n_props, ids};
        if (!rc && n_props)
            rc = hk_svc_write(s, actor, hk_llm_enqueue_apply, &ea, &e);
        if (rc) {
            x = cli_fail(&c, rc, &e);
            goto out;
        }
    }
    if (c.json) {
        json_t *j = hk_svc_ask_json(question, &res);
        if (j && propose) {
            json_t *arr = json_array();
            for (size_t i = 0; arr && i < n_props; i++)
                json_array_append_new(arr, json_integer((json_int_t)ids[i]));
            json_object_set_new(j, "proposed", arr);
        }
        x = print_json(j);
    } else {
        print_answer(&res, stream && res.model_used);
        for (size_t i = 0; i < n_props; i++)
            printf("proposed for review: %llu  %s\n",
                   (unsigned long long)ids[i], props[i].statement);
    }
out:
    hk_llm_proposals_free(props, n_props);
    hk_free(ids);
    hk_svc_ask_res_free(&res);
    if (t) hk_txn_abort(t);
    hk_llm_client_free(client);
    hkv_store_detach(own_vs);
    cli_close(s);
    return x;
}

/* ==== extract ==== */

/* Reads path ("-" = stdin) into *out, at most max bytes. */
static int read_all(const cli_ctx *c, const char *path, size_t max, char **out,
                    size_t *len)
{
    FILE *in = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!in) {
        cli_msg(c, "cannot open '%s': %s", path, strerror(errno));
        return errno == ENOENT ? HK_EXIT_NOT_FOUND : HK_EXIT_IO;
    }
    char *b = hk_malloc(max + 1);
    size_t n = b ? fread(b, 1, max + 1, in) : 0;
    bool bad = b && ferror(in);
    if (in != stdin) fclose(in);
    if (!b || bad) {
        hk_free(b);
        cli_msg(c, "cannot read '%s'", path);
        return HK_EXIT_IO;
    }
    if (n > max) {
        hk_free(b);
        cli_msg(c, "'%s' is longer than %zu bytes (split it)", path, max);
        return HK_EXIT_INVALID;
    }
    b[n] = 0;
    *out = b;
    *len = n;
    return HK_EXIT_OK;
}

int hk_cmd_extract(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal extract FILE|- [--source NAME] [--actor NAME] "
        "[--json]\n"
        "                      [endpoint options]\n\n"
        "Asks the model for the facts a text states, in hakgal's statement\n"
        "syntax, and puts each one that parses into the review queue with\n"
        "its provenance (model, prompt hash, the quoted source text). No\n"
        "fact is added: a reviewer approves or rejects each proposal\n"
        "(hakgal review).\n\n"
        "  --source NAME  document name recorded (default: FILE)\n"
        "  --actor NAME   who is recorded in the audit log (default "
        "cli)\n\n" ENDPOINT_HELP;
    cli_ctx c;
    cli_init(&c, "extract", usage);
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        ENDPOINT_OPTIONS,
        {"source", required_argument, NULL, 'S'},
        {"actor", required_argument, NULL, 'a'},
        {0, 0, 0, 0}};
    ep_flags f;
    memset(&f, 0, sizeof f);
    const char *source = NULL, *actor = "cli";
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1) {
        if (o == CLI_STOP) return c.exit_code;
        if (ep_option(&f, o, optarg)) continue;
        if (o == 'S') source = optarg;
        if (o == 'a') {
            if (!cli_check_actor(&c, optarg)) return HK_EXIT_INVALID;
            actor = optarg;
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error(&c, "expected one FILE (or - for stdin)");
    const char *path = argv[optind];
    if (!source) source = strcmp(path, "-") ? path : "stdin";
    char *text = NULL;
    size_t len = 0;
    int x = read_all(&c, path, HK_SVC_EXTRACT_MAX_BYTES, &text, &len);
    if (x) return x;
    if (len == 0) {
        hk_free(text);
        cli_msg(&c, "'%s' is empty", path);
        return HK_EXIT_INVALID;
    }
    hk_store *s = NULL;
    hk_llm_client *client = NULL;
    hk_svc_extract_res res;
    memset(&res, 0, sizeof res);
    hk_error e;
    hk_error_clear(&e);
    if ((x = open_rw(&c, &s))) goto out;
    hk_txn *t = NULL;
    bool on = true;
    hk_err rc = hk_txn_begin(s, false, &t, &e);
    if (!rc) rc = hk_llm_models_enabled(s, t, &on, &e);
    if (t) hk_txn_abort(t);
    if (!rc && !on)
        rc = hk_error_set(&e, HK_ERR_STATE,
                          "model access is switched off by an administrator "
                          "(hakgal llm on enables it)");
    if (rc) {
        x = cli_fail(&c, rc, &e);
        goto out;
    }
    if ((x = make_client(&c, &f, &client))) goto out;
    hk_svc_extract_req req = {s, client, text, len, source};
    if ((rc = hk_svc_extract(NULL, &req, &res, &e))) {
        x = cli_fail(&c, rc, &e);
        goto out;
    }
    if (res.n) {
        hk_llm_enqueue_arg a = hk_svc_extract_enqueue_arg(s, &res);
        if ((rc = hk_svc_write(s, actor, hk_llm_enqueue_apply, &a, &e))) {
            x = cli_fail(&c, rc, &e);
            goto out;
        }
    }
    if (c.json) {
        x = print_json(hk_svc_extract_json(&res));
    } else {
        printf("%zu proposal%s queued for review (model %s)\n", res.n,
               res.n == 1 ? "" : "s", res.model);
        for (size_t i = 0; i < res.n; i++)
            printf("  %llu  %s\n", (unsigned long long)res.ids[i],
                   res.props[i].statement);
        for (size_t i = 0; i < res.n_invalid; i++)
            printf("  not a statement, skipped: %s\n", res.invalid[i]);
    }
out:
    hk_svc_extract_res_free(&res);
    hk_llm_client_free(client);
    cli_close(s);
    hk_free(text);
    return x;
}

/* ==== review ==== */

static void print_proposal(const hk_llm_proposal *p)
{
    printf("%llu  %-8s %s", (unsigned long long)p->id,
           hk_llm_status_name(p->status), p->statement);
    if (p->final_statement) printf("  -> %s", p->final_statement);
    if (p->fact) printf("  (fact #%llu)", (unsigned long long)p->fact);
    printf("\n      model %s, %s%s%s\n", p->model ? p->model : "?",
           p->origin ? p->origin : "?", p->source ? " from " : "",
           p->source ? p->source : "");
    if (p->span) printf("      \"%s\"\n", p->span);
    if (p->reviewer) printf("      decided by %s\n", p->reviewer);
}

static int review_list(cli_ctx *c, int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"status", required_argument, NULL, 's'},
        {"after", required_argument, NULL, 'A'},
        {"limit", required_argument, NULL, 'l'},
        {0, 0, 0, 0}};
    bool any = false;
    hk_llm_status status = HK_LLM_PENDING;
    uint64_t after = 0, limit = 100;
    int o;
    while ((o = cli_next_opt(c, argc, argv, "h", opts)) != -1) {
        if (o == CLI_STOP) return c->exit_code;
        if (o == 's') {
            if (!strcmp(optarg, "all"))
                any = true;
            else if (!hk_llm_status_parse(optarg, &status))
                return cli_usage_error(c, "--status: pending, approved, "
                                          "rejected or all");
        } else if (o == 'A' &&
                   !cli_parse_u64(c, "--after", optarg, 0, UINT64_MAX, &after))
            return HK_EXIT_INVALID;
        else if (o == 'l' &&
                 !cli_parse_u64(c, "--limit", optarg, 1, 10000, &limit))
            return HK_EXIT_INVALID;
    }
    if (optind != argc) return cli_usage_error(c, "unexpected argument");
    hk_store *s = NULL;
    int x = cli_open(c, true, false, &s);
    if (x) return x;
    hk_error e;
    hk_txn *t = NULL;
    hk_llm_proposal *v = NULL;
    size_t n = 0;
    hk_err rc = hk_txn_begin(s, false, &t, &e);
    if (!rc)
        rc = hk_llm_review_list(s, t, any, status, after, (size_t)limit, &v, &n,
                                &e);
    if (t) hk_txn_abort(t);
    if (rc) {
        x = cli_fail(c, rc, &e);
    } else if (c->json) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++)
            if (json_array_append_new(arr, hk_svc_proposal_json(&v[i]))) {
                json_decref(arr);
                arr = NULL;
            }
        x = print_json(arr ? json_pack("{s:o, s:I}", "proposals", arr, "count",
                                       (json_int_t)n)
                           : NULL);
    } else {
        for (size_t i = 0; i < n; i++)
            print_proposal(&v[i]);
        if (n == 0)
            printf("no %s%sproposals\n", any ? "" : hk_llm_status_name(status),
                   any ? "" : " ");
    }
    hk_llm_proposals_free(v, n);
    cli_close(s);
    return x;
}

static int review_decide(cli_ctx *c, bool approve, int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"edit", required_argument, NULL, 'e'},
        {"actor", required_argument, NULL, 'a'},
        {"note", required_argument, NULL, 'n'},
        {0, 0, 0, 0}};
    hk_llm_decide_arg a;
    memset(&a, 0, sizeof a);
    a.approve = approve;
    a.reviewer = "cli";
    int o;
    while ((o = cli_next_opt(c, argc, argv, "h", opts)) != -1) {
        if (o == CLI_STOP) return c->exit_code;
        if (o == 'e') {
            if (!approve) return cli_usage_error(c, "--edit goes with approve");
            a.edit = optarg;
        } else if (o == 'a') {
            if (!cli_check_actor(c, optarg)) return HK_EXIT_INVALID;
            a.reviewer = optarg;
        } else if (o == 'n')
            a.note = optarg;
    }
    if (optind + 1 != argc) return cli_usage_error(c, "expected one ID");
    if (!cli_parse_u64(c, "ID", argv[optind], 1, UINT64_MAX, &a.id))
        return HK_EXIT_INVALID;
    hk_store *s = NULL;
    int x = open_rw(c, &s);
    if (x) return x;
    a.s = s;
    hk_error e;
    hk_error_clear(&e);
    hk_err rc = hk_svc_write(s, a.reviewer, hk_llm_decide_apply, &a, &e);
    if (rc == HK_ERR_INVALID && a.edit)
        x = cli_fail_text(c, "edited statement", a.edit, &e);
    else if (rc)
        x = cli_fail(c, rc, &e);
    else if (c->json)
        x = print_json(
            json_pack("{s:I, s:s, s:o, s:b}", "id", (json_int_t)a.id, "status",
                      approve ? "approved" : "rejected", "fact",
                      a.fact ? json_integer((json_int_t)a.fact) : json_null(),
                      "created", a.created));
    else if (approve)
        printf("approved %llu: fact #%llu%s\n", (unsigned long long)a.id,
               (unsigned long long)a.fact, a.created ? " added" : " (existed)");
    else
        printf("rejected %llu\n", (unsigned long long)a.id);
    cli_close(s);
    return x;
}

int hk_cmd_review(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal review list [--status pending|approved|rejected|all]\n"
        "                          [--after ID] [--limit N] [--json]\n"
        "       hakgal review approve ID [--edit STATEMENT] [--actor NAME]\n"
        "                                [--note TEXT] [--json]\n"
        "       hakgal review reject ID [--actor NAME] [--note TEXT] "
        "[--json]\n\n"
        "The review queue: facts proposed by models (hakgal extract) wait\n"
        "here until a person decides. approve adds the fact (or the edited\n"
        "statement) with the reviewer as the audit actor and the\n"
        "proposal's provenance in its context; reject keeps the proposal\n"
        "as rejected. Every decision is in the audit log.\n";
    cli_ctx c;
    cli_init(&c, "review", usage);
    int at = 1;
    while (at < argc && argv[at][0] == '-')
        at += strcmp(argv[at], "--data") == 0 ? 2 : 1;
    if (at >= argc) {
        int stop = cli_parse_common_only(&c, argc, argv);
        if (stop >= 0) return stop;
        return cli_usage_error(&c, "expected list, approve or reject");
    }
    const char *sub = argv[at];
    /* drop the subcommand word; options before it stay */
    for (int i = at; i + 1 < argc; i++)
        argv[i] = argv[i + 1];
    argc--;
    if (!strcmp(sub, "list")) return review_list(&c, argc, argv);
    if (!strcmp(sub, "approve")) return review_decide(&c, true, argc, argv);
    if (!strcmp(sub, "reject")) return review_decide(&c, false, argc, argv);
    return cli_usage_error(&c, "unknown subcommand '%s'", sub);
}

/* ==== llm on|off|read-only|writable|status ==== */

int hk_cmd_llm(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal llm on|off|read-only|writable|status [--actor NAME] "
        "[--json]\n\n"
        "The manual overrides, stored in the KB and audited (op control):\n"
        "  off        stops every model call of every process on this KB\n"
        "             (ask then answers from retrieval only, extract "
        "refuses)\n"
        "  on         allows model calls again\n"
        "  read-only  refuses every change of facts, by any writer that\n"
        "             opens the KB with hakgal (REST, MCP, CLI, review\n"
        "             approvals)\n"
        "  writable   lifts it\n"
        "  status     shows both switches\n";
    cli_ctx c;
    cli_init(&c, "llm", usage);
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"actor", required_argument, NULL, 'a'},
        {0, 0, 0, 0}};
    const char *actor = "cli";
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1) {
        if (o == CLI_STOP) return c.exit_code;
        if (o == 'a') {
            if (!cli_check_actor(&c, optarg)) return HK_EXIT_INVALID;
            actor = optarg;
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error(&c, "expected on, off, read-only, writable or "
                                   "status");
    const char *what = argv[optind];
    bool status = !strcmp(what, "status");
    bool models = !strcmp(what, "on") || !strcmp(what, "off");
    bool kb = !strcmp(what, "read-only") || !strcmp(what, "writable");
    if (!status && !models && !kb)
        return cli_usage_error(&c, "expected on, off, read-only, writable or "
                                   "status");
    hk_store *s = NULL;
    int x = status ? cli_open(&c, true, false, &s) : open_rw(&c, &s);
    if (x) return x;
    hk_error e;
    hk_error_clear(&e);
    hk_err rc = HK_OK;
    bool on = true, ro = false, was = false;
    if (models) {
        hk_llm_switch_arg a = {s, !strcmp(what, "on"), true};
        rc = hk_svc_write(s, actor, hk_llm_switch_apply, &a, &e);
        was = a.was_on != a.on;
    } else if (kb) {
        hk_llm_kb_mode_arg a = {s, !strcmp(what, "read-only"), false};
        rc = hk_svc_write(s, actor, hk_llm_kb_mode_apply, &a, &e);
        was = a.was_ro != a.read_only;
    }
    hk_txn *t = NULL;
    if (!rc) rc = hk_txn_begin(s, false, &t, &e);
    if (!rc) rc = hk_llm_models_enabled(s, t, &on, &e);
    if (!rc) rc = hk_llm_kb_read_only(s, t, &ro, &e);
    if (t) hk_txn_abort(t);
    if (rc)
        x = cli_fail(&c, rc, &e);
    else if (c.json)
        x = print_json(json_pack("{s:s, s:s, s:b}", "models", on ? "on" : "off",
                                 "kb", ro ? "read-only" : "writable", "changed",
                                 was));
    else
        printf("model access is %s; the knowledge base is %s%s\n",
               on ? "on" : "off", ro ? "read-only" : "writable",
               status || was ? "" : " (unchanged)");
    cli_close(s);
    return x;
}

/* ==== export --format instruct ==== */

int hk_cli_export_instruct(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal export --format instruct --out DIR [--validation F]\n"
        "                     [--templates FILE] [--limit N] [--json]\n\n"
        "Writes fine-tuning data from the facts: DIR/train.jsonl and\n"
        "DIR/validation.jsonl, one chat example per fact\n"
        "({\"messages\": [system, user, assistant]}), as PEFT/TRL's\n"
        "SFTTrainer and llama.cpp's finetune tools read them. The user turn\n"
        "asks for the fact, the assistant states it in words and in\n"
        "hakgal's syntax. A fact's side of the split depends only on its\n"
        "statement, so it stays there between runs.\n\n"
        "  --validation F   fraction for validation, 0..0.5 (default 0.1)\n"
        "  --templates FILE lines `Predicate | question | answer` with {0},\n"
        "                   {1}, ... for the arguments, {p} the predicate in\n"
        "                   words, {rest} the arguments after the first;\n"
        "                   they override the built-in templates\n"
        "  --limit N        at most N facts\n";
    cli_ctx c;
    cli_init(&c, "export", usage);
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"format", required_argument, NULL, 'f'},
        {"out", required_argument, NULL, 'o'},
        {"validation", required_argument, NULL, 'v'},
        {"templates", required_argument, NULL, 'T'},
        {"limit", required_argument, NULL, 'l'},
        {0, 0, 0, 0}};
    const char *out = NULL, *tpl_path = NULL;
    double val = 0.1;
    uint64_t limit = 0;
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1) {
        if (o == CLI_STOP) return c.exit_code;
        if (o == 'o') out = optarg;
        if (o == 'T') tpl_path = optarg;
        if (o == 'v' &&
            !cli_parse_double(&c, "--validation", optarg, 0, 0.5, &val))
            return HK_EXIT_INVALID;
        if (o == 'l' &&
            !cli_parse_u64(&c, "--limit", optarg, 1, UINT64_MAX, &limit))
            return HK_EXIT_INVALID;
    }
    if (optind != argc) return cli_usage_error(&c, "unexpected argument");
    if (!out) return cli_usage_error(&c, "--out DIR is required");
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        cli_msg(&c, "cannot create '%s': %s", out, strerror(errno));
        return HK_EXIT_IO;
    }
    hk_error e;
    hk_error_clear(&e);
    hk_llm_template *tpl = NULL;
    size_t n_tpl = 0;
    hk_err rc;
    if (tpl_path && (rc = hk_llm_templates_load(tpl_path, &tpl, &n_tpl, &e)))
        return cli_fail(&c, rc, &e);
    char tp[4200], vp[4200];
    snprintf(tp, sizeof tp, "%s/train.jsonl", out);
    snprintf(vp, sizeof vp, "%s/validation.jsonl", out);
    FILE *tf = fopen(tp, "w"), *vf = tf ? fopen(vp, "w") : NULL;
    hk_store *s = NULL;
    int x = HK_EXIT_OK;
    if (!tf || !vf) {
        cli_msg(&c, "cannot write '%s': %s", tf ? vp : tp, strerror(errno));
        x = HK_EXIT_IO;
        goto out;
    }
    if ((x = cli_open(&c, true, false, &s))) goto out;
    hk_txn *t = NULL;
    hk_llm_instruct_req req = {tpl, n_tpl, val, limit, tf, vf};
    hk_llm_instruct_res res;
    rc = hk_txn_begin(s, false, &t, &e);
    if (!rc) rc = hk_llm_instruct_export(t, &req, &res, &e);
    if (t) hk_txn_abort(t);
    if (!rc && (fflush(tf) || fflush(vf)))
        rc = hk_error_set(&e, HK_ERR_IO, "write failed: %s", strerror(errno));
    if (rc) {
        x = cli_fail(&c, rc, &e);
    } else if (c.json) {
        x = print_json(json_pack(
            "{s:s, s:s, s:I, s:I, s:I}", "train", tp, "validation", vp,
            "train_examples", (json_int_t)res.train, "validation_examples",
            (json_int_t)res.validation, "generic", (json_int_t)res.generic));
    } else {
        printf("wrote %llu training and %llu validation examples to %s "
               "(%llu from the generic template)\n",
               (unsigned long long)res.train,
               (unsigned long long)res.validation, out,
               (unsigned long long)res.generic);
    }
out:
    if (tf) fclose(tf);
    if (vf) fclose(vf);
    cli_close(s);
    hk_llm_templates_free(tpl, n_tpl);
    return x;
}
