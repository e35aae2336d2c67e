/*
 * cmd_rules.c — `hakgal rule add|list|show|enable|disable|delete`,
 * `hakgal reason [--verify]` and `hakgal why STATEMENT`: Datalog rules,
 * their materialization and proofs (src/service/svc_rules.h) from the
 * command line.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "core/buf.h"
#include "core/mem.h"
#include "service/svc_rules.h"

/* ==== Shared ==== */

static void print_node(const json_t *n, int depth);

/* Opens the KB and finds its rule databases; *have false for a
 * read-only open of a KB that never held rules. */
static int open_rules(const cli_ctx *c, bool read_only, hk_store **s,
                      hkr_dbs *d, bool *have)
{
    int rc = cli_open(c, read_only, false, s);
    if (rc) return rc;
    hk_error e;
    hk_error_clear(&e);
    hk_err err = hk_svc_rules_dbs(*s, d, &e);
    *have = err == HK_OK;
    if (err == HK_ERR_NOT_FOUND && read_only) return HK_EXIT_OK;
    if (err) {
        cli_close(*s);
        *s = NULL;
        return cli_fail(c, err, &e);
    }
    return HK_EXIT_OK;
}

static void print_rule_text(const hkr_info *r)
{
    printf("%s  v%u  %s\n  %s\n", r->name, r->version,
           r->enabled ? "enabled" : "disabled", r->text);
}

/* ==== rule ==== */

static int rule_strict(cli_ctx *c, int argc, char **argv)
{
    if (optind >= argc) return cli_usage_error(c, "missing on or off");
    const char *v = argv[optind++];
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
        return cli_usage_error(c, "strict takes on or off");
    hk_store *s = NULL;
    hkr_dbs d;
    bool have = false;
    int rc = open_rules(c, false, &s, &d, &have);
    if (rc) return rc;
    hk_error e;
    hk_error_clear(&e);
    hk_svc_rules_strict a = {d, strcmp(v, "on") == 0};
    hk_err err = hk_svc_write(s, "cli", hk_svc_rules_strict_apply, &a, &e);
    if (err)
        rc = cli_fail(c, err, &e);
    else if (c->json)
        printf("{\"strict\":%s}\n", a.on ? "true" : "false");
    else
        printf("strict mode %s\n", a.on ? "on" : "off");
    cli_close(s);
    return rc;
}

int hk_cmd_rule(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal rule add [--name NAME] 'HEAD :- BODY.' [--json]\n"
        "       hakgal rule list [--json]\n"
        "       hakgal rule show|enable|disable|delete NAME [--json]\n"
        "       hakgal rule strict on|off [--json]\n\n"
        "Datalog rules stored in the KB. HEAD is a pattern with a constant\n"
        "predicate; BODY is a query: patterns sharing ?variables, `not\n"
        "P(...)` and comparisons, e.g.\n"
        "  hakgal rule add 'Ancestor(?x, ?z) :- Parent(?x, ?y), "
        "Ancestor(?y, ?z).'\n"
        "Every variable of the head must occur in a positive pattern, and\n"
        "no predicate may depend on its own negation. Every change is\n"
        "audited, bumps the rule's version and rematerializes the derived\n"
        "facts. Rules whose head is Contradiction(...) are constraints;\n"
        "`rule strict on` makes every write that derives a new\n"
        "contradiction fail with its proof (default off).\n";
    cli_ctx c;
    cli_init(&c, "rule", usage);
    static const struct option opts[] = {CLI_COMMON_OPTIONS,
                                         {"name", required_argument, NULL, 'n'},
                                         {0, 0, 0, 0}};
    const char *name = NULL;
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1) {
        if (o == CLI_STOP) return c.exit_code;
        if (o == 'n') name = optarg;
    }
    if (optind >= argc)
        return cli_usage_error(
            &c, "missing add, list, show, enable, disable or delete");
    const char *sub = argv[optind++];
    hk_svc_rule_verb verb = HK_SVC_RULE_ADD;
    bool list = strcmp(sub, "list") == 0, show = strcmp(sub, "show") == 0;
    if (strcmp(sub, "strict") == 0) return rule_strict(&c, argc, argv);
    if (strcmp(sub, "add") == 0)
        verb = HK_SVC_RULE_ADD;
    else if (strcmp(sub, "enable") == 0)
        verb = HK_SVC_RULE_ENABLE;
    else if (strcmp(sub, "disable") == 0)
        verb = HK_SVC_RULE_DISABLE;
    else if (strcmp(sub, "delete") == 0)
        verb = HK_SVC_RULE_DELETE;
    else if (!list && !show)
        return cli_usage_error(&c, "unknown subcommand '%s'", sub);
    const char *arg = NULL;
    if (!list) {
        if (optind >= argc)
            return cli_usage_error(&c, verb == HK_SVC_RULE_ADD && !show
                                           ? "missing the rule"
                                           : "missing NAME");
        arg = argv[optind++];
    }
    if (optind < argc)
        return cli_usage_error(&c, "unexpected argument '%s'", argv[optind]);
    if (name && (list || show || verb != HK_SVC_RULE_ADD))
        return cli_usage_error(&c, "--name goes with 'rule add'");

    bool read_only = list || show;
    hk_store *s = NULL;
    hkr_dbs d;
    bool have = false;
    int rc = open_rules(&c, read_only, &s, &d, &have);
    if (rc) return rc;
    hk_error e;
    hk_error_clear(&e);
    hk_buf b = HK_BUF_INIT;
    if (read_only) {
        hk_txn *t = NULL;
        hk_err err = HK_OK;
        if (!have && list) {
            if (c.json) hk_buf_append_str(&b, "{\"rules\":[],\"derived\":0}");
        } else if (!have) {
            err = hk_error_set(&e, HK_ERR_NOT_FOUND, "no rule named '%s'", arg);
        } else if ((err = hk_txn_begin(s, false, &t, &e)) == HK_OK) {
            if (list)
                err = hk_svc_rules_list_json(t, &d, &b, &e);
            else
                err = hk_svc_rule_show_json(t, &d, arg, &b, &e);
            if (err == HK_OK && !c.json) {
                hkr_info *v = NULL;
                size_t n = 0;
                if (list) {
                    err = hkr_list(t, &d, &v, &n, &e);
                } else {
                    v = hk_calloc(1, sizeof *v);
                    err = v ? hkr_get(t, &d, arg, v, &e) : HK_ERR_NOMEM;
                    n = err == HK_OK ? 1 : 0;
                }
                for (size_t i = 0; err == HK_OK && i < n; i++)
                    print_rule_text(&v[i]);
                if (err == HK_OK && list) {
                    uint64_t dn = 0;
                    hkr_derived_count(t, &d, &dn, NULL);
                    printf("%zu rules, %llu derived facts\n", n,
                           (unsigned long long)dn);
                }
                hkr_info_free(v, n);
                hk_buf_reset(&b);
            }
            hk_txn_abort(t);
        }
        if (err) rc = cli_fail(&c, err, &e);
        if (!rc && c.json && b.len) rc = cli_emit(&c, &b);
        hk_buf_free(&b);
        cli_close(s);
        return rc;
    }
    hk_svc_rule_op op;
    memset(&op, 0, sizeof op);
    op.d = d;
    op.verb = verb;
    op.name = verb == HK_SVC_RULE_ADD ? name : arg;
    op.text = verb == HK_SVC_RULE_ADD ? arg : NULL;
    hk_err err = hk_svc_write(s, "cli", hk_svc_rule_apply, &op, &e);
    if (err) {
        if (err == HK_ERR_INVALID && e.column && op.text)
            rc = cli_fail_text(&c, "rule", op.text, &e);
        else
            rc = cli_fail(&c, err, &e);
    } else if (c.json) {
        hk_svc_rule_op_write_json(&op, &b);
        rc = cli_emit(&c, &b);
    } else {
        const char *what = verb == HK_SVC_RULE_ADD       ? "stored"
                           : verb == HK_SVC_RULE_ENABLE  ? "enabled"
                           : verb == HK_SVC_RULE_DISABLE ? "disabled"
                                                         : "deleted";
        printf("%s rule %s (version %u); %llu derived facts\n", what,
               op.out.name, op.out.version,
               (unsigned long long)op.reason.derived);
    }
    hk_svc_rule_op_free(&op);
    hk_buf_free(&b);
    cli_close(s);
    return rc;
}

/* ==== reason ==== */

static int reason_contradictions(const cli_ctx *c)
{
    hk_store *s = NULL;
    hkr_dbs d;
    bool have = false;
    int rc = open_rules(c, true, &s, &d, &have);
    if (rc) return rc;
    hk_error e;
    hk_error_clear(&e);
    hk_buf b = HK_BUF_INIT;
    hk_txn *t = NULL;
    hk_err err = HK_OK;
    if (!have) {
        hk_buf_append_str(&b, "{\"count\":0,\"strict\":false,"
                              "\"contradictions\":[]}");
    } else if ((err = hk_txn_begin(s, false, &t, &e)) == HK_OK) {
        err = hk_svc_rule_contradictions_json(t, &d, 1000, &b, &e);
        hk_txn_abort(t);
    }
    json_t *j = err ? NULL : json_loadb(b.data, b.len, 0, NULL);
    if (err) {
        rc = cli_fail(c, err, &e);
    } else if (!j) {
        rc = HK_EXIT_IO;
    } else if (c->json) {
        rc = cli_emit(c, &b);
    } else {
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(j, "contradictions"), i, x)
            print_node(json_object_get(x, "proof"), 0);
        printf("%lld contradictions\n",
               (long long)json_integer_value(json_object_get(j, "count")));
    }
    if (!rc && j && json_integer_value(json_object_get(j, "count")) > 0)
        rc = HK_EXIT_INVALID;
    json_decref(j);
    hk_buf_free(&b);
    cli_close(s);
    return rc;
}

static void progress_bar(void *ud, uint32_t stratum, uint32_t n_strata,
                         uint64_t derived)
{
    (void)ud;
    int width = 30;
    int fill = n_strata ? (int)((uint64_t)width * stratum / n_strata) : width;
    fprintf(stderr, "\rreason [%.*s%*s] stratum %u/%u, %llu derived", fill,
            "##############################", width - fill, "", stratum,
            n_strata, (unsigned long long)derived);
    if (stratum == n_strata) fputc('\n', stderr);
    fflush(stderr);
}

int hk_cmd_reason(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal reason [--verify | --contradictions] [--json]\n\n"
        "Recomputes every derived fact from the asserted facts and the\n"
        "enabled rules (semi-naive evaluation, stratum by stratum), with a\n"
        "progress bar on a terminal. --verify instead checks every stored\n"
        "derivation step: its rule, its premises (asserted facts exist,\n"
        "derived ones are older), comparisons and negations; exit 2 when a\n"
        "step is invalid. --contradictions lists the derived\n"
        "Contradiction facts (constraint rules, Functional, Asymmetric and\n"
        "NegationOf declarations) with their proofs; exit 2 when any.\n";
    cli_ctx c;
    cli_init(&c, "reason", usage);
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"verify", no_argument, NULL, 'v'},
        {"contradictions", no_argument, NULL, 'C'},
        {0, 0, 0, 0}};
    bool verify = false, contra = false;
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1) {
        if (o == CLI_STOP) return c.exit_code;
        if (o == 'v') verify = true;
        if (o == 'C') contra = true;
    }
    if (verify && contra)
        return cli_usage_error(&c, "--verify or --contradictions, not both");
    if (contra) return reason_contradictions(&c);
    if (optind < argc)
        return cli_usage_error(&c, "unexpected argument '%s'", argv[optind]);
    hk_store *s = NULL;
    hkr_dbs d;
    bool have = false;
    int rc = open_rules(&c, verify, &s, &d, &have);
    if (rc) return rc;
    hk_error e;
    hk_error_clear(&e);
    hk_buf b = HK_BUF_INIT;
    if (verify) {
        hkr_verify_res vr;
        memset(&vr, 0, sizeof vr);
        hk_txn *t = NULL;
        hk_err err = HK_OK;
        if (have && (err = hk_txn_begin(s, false, &t, &e)) == HK_OK) {
            err = hk_svc_reason_verify(t, &d, &vr, &e);
            hk_txn_abort(t);
        }
        if (err) {
            rc = cli_fail(&c, err, &e);
        } else if (c.json) {
            hk_svc_reason_verify_write_json(&vr, &b);
            rc = cli_emit(&c, &b);
        } else {
            printf("%llu derivation steps checked, %llu invalid\n",
                   (unsigned long long)vr.checked, (unsigned long long)vr.bad);
            if (vr.bad) printf("first: %s\n", vr.first);
        }
        if (!rc && vr.bad) rc = HK_EXIT_INVALID;
    } else {
        hk_svc_reason r;
        memset(&r, 0, sizeof r);
        r.d = d;
        if (!c.json && isatty(2)) r.progress = progress_bar;
        hk_err err = hk_svc_write(s, "cli", hk_svc_reason_apply, &r, &e);
        if (err) {
            rc = cli_fail(&c, err, &e);
        } else if (c.json) {
            hk_svc_reason_write_json(&r.res, &b);
            rc = cli_emit(&c, &b);
        } else {
            printf("%llu derived facts from %u rules (%u strata, %llu "
                   "rounds) in %.1f ms\n",
                   (unsigned long long)r.res.derived, r.res.rules, r.res.strata,
                   (unsigned long long)r.res.rounds,
                   (double)(r.res.eval_us + r.res.store_us) / 1000.0);
        }
    }
    hk_buf_free(&b);
    cli_close(s);
    return rc;
}

/* ==== why ==== */

/* Prints a derivation tree (the JSON of hkr_why_json) indented. */
static void print_node(const json_t *n, int depth)
{
    const char *st = json_string_value(json_object_get(n, "statement"));
    printf("%*s%s", 2 * depth, "", st ? st : "?");
    if (!json_is_true(json_object_get(n, "derived"))) {
        printf("  [asserted #%lld]\n",
               (long long)json_integer_value(json_object_get(n, "id")));
        return;
    }
    const char *rule = json_string_value(json_object_get(n, "rule"));
    printf("  [rule %s", rule ? rule : "?");
    const char *k;
    json_t *v;
    const char *sep = ": ";
    json_object_foreach(json_object_get(n, "bindings"), k, v)
    {
        printf("%s?%s=%s", sep, k, json_string_value(v));
        sep = ", ";
    }
    printf("]\n");
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(n, "premises"), i, p)
        print_node(p, depth + 1);
}

static int print_tree(const char *text)
{
    json_t *j = json_loads(text ? text : "", 0, NULL);
    if (!j) return HK_EXIT_IO;
    print_node(j, 0);
    json_decref(j);
    return HK_EXIT_OK;
}

int hk_cmd_why(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal why STATEMENT [--json]\n\n"
        "Shows why a fact holds: an asserted fact with its id, or a derived\n"
        "fact with the rule instance (rule and bindings) that derived it\n"
        "and, below it, the proof of each premise down to asserted facts.\n";
    cli_ctx c;
    cli_init(&c, "why", usage);
    static const struct option opts[] = {CLI_COMMON_OPTIONS, {0, 0, 0, 0}};
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1)
        if (o == CLI_STOP) return c.exit_code;
    if (optind >= argc) return cli_usage_error(&c, "missing STATEMENT");
    const char *text = argv[optind++];
    if (optind < argc)
        return cli_usage_error(&c, "unexpected argument '%s'", argv[optind]);
    hk_store *s = NULL;
    hkr_dbs d;
    bool have = false;
    int rc = open_rules(&c, true, &s, &d, &have);
    if (rc) return rc;
    hk_error e;
    hk_error_clear(&e);
    hk_buf b = HK_BUF_INIT;
    hk_txn *t = NULL;
    hk_err err = hk_txn_begin(s, false, &t, &e);
    if (err == HK_OK) {
        err = hk_svc_why_json(t, have ? &d : NULL, text, &b, &e);
        hk_txn_abort(t);
    }
    if (err == HK_ERR_INVALID && e.column)
        rc = cli_fail_text(&c, "statement", text, &e);
    else if (err)
        rc = cli_fail(&c, err, &e);
    else if (c.json)
        rc = cli_emit(&c, &b);
    else
        rc = print_tree(b.data);
    hk_buf_free(&b);
    cli_close(s);
    return rc;
}

/* ==== query over asserted and derived facts ==== */

typedef struct qout {
    const cli_ctx *c;
    hk_buf line;
    int exit_code;
} qout;

static hk_err q_row(void *ud, const hkr_qrow *row, hk_error *err)
{
    qout *o = ud;
    if (o->c->json) {
        hk_svc_rules_qrow_json(row, &o->line);
    } else {
        for (uint32_t i = 0; i < row->n; i++)
            hk_buf_appendf(&o->line, "%s=%s\t", row->names[i], row->values[i]);
        hk_buf_append_str(&o->line, "facts");
        for (uint32_t i = 0; i < row->n_facts; i++) {
            if (row->derived[i])
                hk_buf_appendf(&o->line, "%sderived", i ? "," : " ");
            else
                hk_buf_appendf(&o->line, "%s%llu", i ? "," : " ",
                               (unsigned long long)row->facts[i]);
        }
    }
    o->exit_code = cli_emit(o->c, &o->line);
    if (o->exit_code != HK_EXIT_OK)
        return hk_error_set(err, HK_ERR_IO, "cannot write the results");
    return HK_OK;
}

int hk_cli_rules_query(const cli_ctx *c, const char *text, uint64_t limit,
                       bool *handled)
{
    *handled = false;
    hk_store *s = NULL;
    hkr_dbs d;
    bool have = false;
    int rc = cli_open(c, true, false, &s);
    if (rc) return rc;
    hk_error e;
    hk_error_clear(&e);
    have = hk_svc_rules_dbs(s, &d, &e) == HK_OK;
    hk_txn *t = NULL;
    hk_err err = HK_OK;
    bool yes = false;
    if (have && (err = hk_txn_begin(s, false, &t, &e)) == HK_OK) {
        /* a parse error is left to the query path, which shows it */
        if (hkr_query_needs_derived(t, &d, text, &yes, &e) != HK_OK)
            yes = false;
        hk_error_clear(&e);
    }
    if (!yes || err) {
        if (t) hk_txn_abort(t);
        cli_close(s);
        return err ? cli_fail(c, err, &e) : HK_EXIT_OK;
    }
    *handled = true;
    qout o;
    memset(&o, 0, sizeof o);
    o.c = c;
    uint64_t rows = 0;
    err = hkr_query(t, &d, text, limit, q_row, &o, &rows, &e);
    hk_txn_abort(t);
    if (err)
        rc = o.exit_code ? o.exit_code : cli_fail(c, err, &e);
    else if (rows == 0 && !c->json)
        fprintf(stderr, "(no matching rows)\n");
    hk_buf_free(&o.line);
    cli_close(s);
    return rc;
}
