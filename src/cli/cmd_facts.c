/*
 * cmd_facts.c — commands that create, show and change single facts:
 * init, add, get, delete, update.
 *
 * Adapters of the service layer's fact operations: each command decodes
 * its arguments (every statement is parsed before the KB is opened, so a
 * typo never half-applies a command), runs the operation's apply step in
 * one durable write transaction (hk_svc_write) — `add A B` adds both or
 * neither, `delete A B` deletes both or neither — and renders the result.
 */
#include "cli/cli.h"
#include "core/buf.h"
#include "core/mem.h"
#include "service/service.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

/* ==== Output of one fact ==== */

static void print_fact_text(const hk_fact *f)
{
    hk_buf b = HK_BUF_INIT;
    cli_format_statement(&f->st, &b);
    char created[32] = "-", updated[32] = "-";
    if (f->created_us != 0) hk_time_format(f->created_us, created);
    if (f->updated_us != 0) hk_time_format(f->updated_us, updated);
    printf("id          %llu\n", (unsigned long long)f->id);
    printf("statement   %s\n", b.data);
    printf("confidence  %g\n", f->confidence);
    printf("source      %s\n", f->source != NULL ? f->source : "-");
    printf("tags        ");
    if (f->n_tags == 0) printf("-");
    for (uint32_t i = 0; i < f->n_tags; i++)
        printf("%s%s", i > 0 ? ", " : "", f->tags[i]);
    printf("\ncontext     %s\n",
           f->context_json != NULL ? f->context_json : "-");
    printf("created     %s\n", created);
    printf("updated     %s\n", updated);
    hk_buf_free(&b);
}

/* "status id statement" for add/delete/update, or JSON with the fact. */
static int emit_change(const cli_ctx *c, const char *status, const hk_fact *f)
{
    hk_buf b = HK_BUF_INIT;
    int rc = HK_EXIT_OK;
    if (c->json) {
        hk_buf_appendf(&b, "{\"status\":\"%s\",\"fact\":", status);
        hk_fact_write_json(f, &b);
        hk_buf_append_str(&b, "}");
    } else {
        hk_buf st = HK_BUF_INIT;
        cli_format_statement(&f->st, &st);
        hk_buf_appendf(&b, "%-9s %llu\t%s", status, (unsigned long long)f->id,
                       st.data);
        hk_buf_free(&st);
    }
    rc = cli_emit(c, &b);
    hk_buf_free(&b);
    return rc;
}

/* ==== init ==== */

int hk_cmd_init(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal init [--data DIR] [--json]\n\n"
        "Creates an empty knowledge base in DIR (default: $HAKGAL_DATA, else\n"
        "./hakgal-data). Running it on an existing knowledge base changes\n"
        "nothing and reports its size.\n";
    cli_ctx c;
    cli_init(&c, "init", usage);
    int stop = cli_parse_common_only(&c, argc, argv);
    if (stop >= 0) return stop;
    /* A KB existed when the directory existed and was not empty. */
    struct stat sb;
    bool existed = false;
    if (stat(c.data_dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode)) {
            cli_msg(&c, "'%s' exists and is not a directory", c.data_dir);
            return HK_EXIT_CONFLICT;
        }
        DIR *d = opendir(c.data_dir);
        struct dirent *de;
        while (d != NULL && !existed && (de = readdir(d)) != NULL)
            existed =
                strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
        if (d != NULL) closedir(d);
        char data[4200];
        snprintf(data, sizeof data, "%s/data.mdb", c.data_dir);
        if (existed && stat(data, &sb) != 0) {
            cli_msg(&c,
                    "'%s' is not empty and holds no knowledge base (no "
                    "data.mdb); choose an empty or new directory",
                    c.data_dir);
            return HK_EXIT_CONFLICT;
        }
    }
    hk_store *s = NULL;
    int rc = cli_open(&c, false, true, &s);
    if (rc != HK_EXIT_OK) return rc;
    hk_txn *t = NULL;
    hk_error e;
    hk_error_clear(&e);
    hk_stats st;
    memset(&st, 0, sizeof st);
    hk_err err = hk_txn_begin(s, false, &t, &e);
    if (err == HK_OK) {
        err = hk_svc_stats(t, &st, &e);
        hk_txn_abort(t);
    }
    if (err != HK_OK) {
        rc = cli_fail(&c, err, &e);
    } else if (c.json) {
        hk_buf b = HK_BUF_INIT;
        hk_buf_append_str(&b, "{\"path\":");
        cli_json_str(&b, c.data_dir);
        hk_buf_appendf(&b, ",\"created\":%s,\"facts\":%llu}",
                       existed ? "false" : "true",
                       (unsigned long long)st.facts);
        rc = cli_emit(&c, &b);
        hk_buf_free(&b);
    } else if (existed) {
        printf("knowledge base already exists at %s (%llu facts)\n", c.data_dir,
               (unsigned long long)st.facts);
    } else {
        printf("initialized empty knowledge base at %s\n", c.data_dir);
    }
    cli_close(s);
    return rc;
}

/* ==== add ==== */

int hk_cmd_add(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal add STATEMENT... [options]\n\n"
        "Adds facts. A fact that already exists is reported as 'present'\n"
        "with its id and is not changed (metadata included). All statements\n"
        "are added in one transaction: all or none.\n\n"
        "Statement syntax: Pred(arg1, arg2, ...) with 1..32 arguments and an\n"
        "optional trailing '.'. The predicate is a letter or '_' followed by\n"
        "letters, digits or '_'. A bare argument may hold spaces and symbols\n"
        "(North Pacific, TCP/IP, F=ma, 95%, CO2) but not , ( ) \" or control\n"
        "characters; anything else is written in double quotes with \\\" and\n"
        "\\\\ escapes: Says(Alice, \"Hello, world\").\n\n"
        "Options:\n"
        "  --confidence C  confidence in 0..1 (default 1)\n"
        "  --source S      provenance (URL, document, person)\n"
        "  --tag T         a tag; repeat for several\n"
        "  --context JSON  a JSON object stored with the fact\n"
        "  --actor NAME    who is recorded in the audit log (default cli)\n"
        "  --data DIR      knowledge base directory\n"
        "  --json          print {\"status\":...,\"fact\":{...}} per fact\n\n"
        "Example:\n"
        "  hakgal add 'HasPart(Computer, CPU)' --source manual --tag "
        "hardware\n";
    cli_ctx c;
    cli_init(&c, "add", usage);
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"confidence", required_argument, NULL, 'c'},
        {"source", required_argument, NULL, 's'},
        {"tag", required_argument, NULL, 't'},
        {"context", required_argument, NULL, 'x'},
        {"actor", required_argument, NULL, 'a'},
        {0, 0, 0, 0}};
    hk_fact_meta meta;
    memset(&meta, 0, sizeof meta);
    const char *tags[HK_MAX_TAGS];
    const char *actor = "cli";
    char *context_text = NULL;
    int o;
    int rc = HK_EXIT_OK;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1) {
        switch (o) {
        case CLI_STOP:
            rc = c.exit_code;
            goto done;
        case 'c':
            if (!cli_parse_double(&c, "--confidence", optarg, 0.0, 1.0,
                                  &meta.confidence)) {
                rc = HK_EXIT_INVALID;
                goto done;
            }
            meta.fields |= HK_META_CONFIDENCE;
            break;
        case 's':
            if (optarg[0] == '\0' || strlen(optarg) > HK_MAX_SOURCE_BYTES) {
                cli_msg(&c, "--source: %zu bytes, expected 1..%d",
                        strlen(optarg), HK_MAX_SOURCE_BYTES);
                rc = HK_EXIT_INVALID;
                goto done;
            }
            meta.source = optarg;
            meta.fields |= HK_META_SOURCE;
            break;
        case 't':
            if (meta.n_tags >= HK_MAX_TAGS) {
                cli_msg(&c, "--tag: at most %d tags per fact", HK_MAX_TAGS);
                rc = HK_EXIT_INVALID;
                goto done;
            }
            if (optarg[0] == '\0' || strlen(optarg) > HK_MAX_TAG_BYTES) {
                cli_msg(&c, "--tag '%s': a tag has 1..%d bytes", optarg,
                        HK_MAX_TAG_BYTES);
                rc = HK_EXIT_INVALID;
                goto done;
            }
            bool dup = false;
            for (uint32_t i = 0; i < meta.n_tags; i++)
                dup = dup || strcmp(tags[i], optarg) == 0;
            if (!dup) /* a tag given twice is one tag */
                tags[meta.n_tags++] = optarg;
            meta.tags = tags;
            meta.fields |= HK_META_TAGS;
            break;
        case 'x': {
            json_error_t je;
            json_t *j = json_loads(optarg, 0, &je);
            if (j == NULL || !json_is_object(j)) {
                if (j == NULL)
                    cli_msg(&c, "--context: invalid JSON at column %d: %s",
                            je.column, je.text);
                else
                    cli_msg(&c, "--context: expected a JSON object, got %s",
                            json_is_array(j) ? "an array" : "a scalar");
                json_decref(j);
                rc = HK_EXIT_INVALID;
                goto done;
            }
            free(context_text); /* json_dumps memory: libc free */
            context_text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
            json_decref(j);
            meta.context_json = context_text;
            meta.fields |= HK_META_CONTEXT;
            break;
        }
        case 'a':
            if (!cli_check_actor(&c, optarg)) {
                rc = HK_EXIT_INVALID;
                goto done;
            }
            actor = optarg;
            break;
        default:
            break;
        }
    }
    if (optind >= argc) {
        rc = cli_usage_error(&c, "missing STATEMENT");
        goto done;
    }
    int n = argc - optind;
    hk_statement *sts = hk_calloc((size_t)n, sizeof *sts);
    hk_fact_id *ids = hk_calloc((size_t)n, sizeof *ids);
    bool *created = hk_calloc((size_t)n, sizeof *created);
    hk_store *s = NULL;
    int parsed = 0;
    if (sts == NULL || ids == NULL || created == NULL) {
        cli_msg(&c, "out of memory");
        rc = HK_EXIT_IO;
        goto release;
    }
    hk_error e;
    hk_error_clear(&e);
    for (; parsed < n; parsed++) {
        const char *text = argv[optind + parsed];
        if (hk_statement_parse(text, strlen(text), &sts[parsed], &e) != HK_OK) {
            rc = cli_fail_text(&c, "statement", text, &e);
            goto release;
        }
    }
    if ((rc = cli_open(&c, false, false, &s)) != HK_EXIT_OK) goto release;
    hk_svc_add op = {.st = sts,
                     .n = (size_t)n,
                     .meta = &meta,
                     .ids = ids,
                     .created = created};
    hk_err err = hk_svc_write(s, actor, hk_svc_fact_add_apply, &op, &e);
    if (err != HK_OK) {
        rc = cli_fail(&c, err, &e);
    } else {
        /* Report from a fresh snapshot: what is now durable. */
        hk_txn *r = NULL;
        hk_fact f;
        hk_fact_init(&f);
        err = hk_txn_begin(s, false, &r, &e);
        for (int i = 0; err == HK_OK && i < n && rc == HK_EXIT_OK; i++) {
            err = hk_svc_fact_get(r, ids[i], &f, &e);
            if (err == HK_OK)
                rc = emit_change(&c, created[i] ? "added" : "present", &f);
            if (!created[i] && meta.fields != 0 && !c.json)
                cli_msg(&c,
                        "note: fact %llu already existed; its metadata "
                        "was not changed",
                        (unsigned long long)ids[i]);
        }
        if (r != NULL) hk_txn_abort(r);
        hk_fact_release(&f);
        if (err != HK_OK) rc = cli_fail(&c, err, &e);
    }
release:
    cli_close(s);
    for (int i = 0; i < parsed; i++)
        hk_statement_release(&sts[i]);
    hk_free(sts);
    hk_free(ids);
    hk_free(created);
done:
    free(context_text); /* json_dumps memory: libc free */
    return rc;
}

/* ==== get ==== */

int hk_cmd_get(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal get ID|STATEMENT [--json]\n\n"
        "Shows one fact with its metadata. ID is a fact id (digits); anything\n"
        "else is read as a statement and looked up exactly.\n\n"
        "Examples:\n"
        "  hakgal get 42\n"
        "  hakgal get 'HasPart(Computer, CPU)' --json\n";
    cli_ctx c;
    cli_init(&c, "get", usage);
    static const struct option opts[] = {CLI_COMMON_OPTIONS, {0, 0, 0, 0}};
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1)
        if (o == CLI_STOP) return c.exit_code;
    if (optind >= argc) return cli_usage_error(&c, "missing ID or STATEMENT");
    if (optind + 1 < argc)
        return cli_usage_error(&c,
                               "expected one ID or STATEMENT, got %d "
                               "arguments (quote a statement that has "
                               "spaces)",
                               argc - optind);
    hk_store *s = NULL;
    int rc = cli_open(&c, true, false, &s);
    if (rc != HK_EXIT_OK) return rc;
    hk_txn *t = NULL;
    hk_error e;
    hk_error_clear(&e);
    hk_fact f;
    hk_fact_init(&f);
    hk_fact_id id = 0;
    hk_err err = hk_txn_begin(s, false, &t, &e);
    if (err != HK_OK) {
        rc = cli_fail(&c, err, &e);
        goto done;
    }
    if ((rc = cli_resolve_fact(&c, t, argv[optind], &id)) != HK_EXIT_OK)
        goto done;
    if ((err = hk_svc_fact_get(t, id, &f, &e)) != HK_OK) {
        rc = cli_fail(&c, err, &e);
        goto done;
    }
    if (c.json) {
        hk_buf b = HK_BUF_INIT;
        hk_fact_write_json(&f, &b);
        rc = cli_emit(&c, &b);
        hk_buf_free(&b);
    } else {
        print_fact_text(&f);
    }
done:
    if (t != NULL) hk_txn_abort(t);
    hk_fact_release(&f);
    cli_close(s);
    return rc;
}

/* ==== delete ==== */

/* Options of commands that take the common ones and --actor: parses
 * them into *actor. Returns -1 to go on, else the exit code to return. */
static int parse_actor_only(cli_ctx *c, int argc, char **argv,
                            const char **actor)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"actor", required_argument, NULL, 'a'},
        {0, 0, 0, 0}};
    int o;
    while ((o = cli_next_opt(c, argc, argv, "h", opts)) != -1) {
        if (o == CLI_STOP) return c->exit_code;
        if (o == 'a') {
            if (!cli_check_actor(c, optarg)) return HK_EXIT_INVALID;
            *actor = optarg;
        }
    }
    return -1;
}

int hk_cmd_delete(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal delete ID|STATEMENT... [--actor NAME] [--json]\n\n"
        "Deletes facts, all in one transaction: if one is not found, none is\n"
        "deleted. The audit log keeps each deleted fact's last state.\n";
    cli_ctx c;
    cli_init(&c, "delete", usage);
    const char *actor = "cli";
    int stop = parse_actor_only(&c, argc, argv, &actor);
    if (stop >= 0) return stop;
    if (optind >= argc) return cli_usage_error(&c, "missing ID or STATEMENT");
    int n = argc - optind, parsed = 0;
    hk_statement *sts = hk_calloc((size_t)n, sizeof *sts);
    hk_fact_id *ids = hk_calloc((size_t)n, sizeof *ids);
    hk_fact *facts = hk_calloc((size_t)n, sizeof *facts);
    hk_store *s = NULL;
    int rc = HK_EXIT_OK;
    hk_error e;
    hk_error_clear(&e);
    if (sts == NULL || ids == NULL || facts == NULL) {
        cli_msg(&c, "out of memory");
        rc = HK_EXIT_IO;
        goto done;
    }
    for (int i = 0; i < n; i++)
        hk_fact_init(&facts[i]);
    /* Every name is an id or a statement whose syntax is checked before
     * the KB is touched. */
    for (; parsed < n; parsed++) {
        const char *arg = argv[optind + parsed];
        if (cli_is_id(arg, &ids[parsed])) continue;
        hk_err bad = hk_svc_fact_ref_check(arg, &e);
        if (bad != HK_OK) {
            rc = cli_fail(&c, bad, &e);
            goto done;
        }
        if (hk_statement_parse(arg, strlen(arg), &sts[parsed], &e) != HK_OK) {
            rc = cli_fail_text(&c, "statement", arg, &e);
            goto done;
        }
    }
    if ((rc = cli_open(&c, false, false, &s)) != HK_EXIT_OK) goto done;
    hk_svc_delete op = {.n = (size_t)n, .st = sts, .ids = ids, .facts = facts};
    hk_err err = hk_svc_write(s, actor, hk_svc_fact_delete_apply, &op, &e);
    if (err == HK_ERR_INVALID && op.dup_second > op.dup_first) {
        cli_msg(&c, "fact %llu is named twice ('%s' and '%s')",
                (unsigned long long)ids[op.dup_second],
                argv[optind + op.dup_first], argv[optind + op.dup_second]);
        rc = HK_EXIT_INVALID;
        goto done;
    }
    if (err != HK_OK) {
        rc = cli_fail(&c, err, &e);
        goto done;
    }
    for (int i = 0; i < n && rc == HK_EXIT_OK; i++)
        rc = emit_change(&c, "deleted", &facts[i]);
done:
    for (int i = 0; facts != NULL && i < n; i++)
        hk_fact_release(&facts[i]);
    for (int i = 0; sts != NULL && i < parsed; i++)
        hk_statement_release(&sts[i]);
    hk_free(sts);
    hk_free(ids);
    hk_free(facts);
    cli_close(s);
    return rc;
}

/* ==== update ==== */

int hk_cmd_update(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal update OLD NEW [--actor NAME] [--json]\n\n"
        "Replaces the statement of fact OLD (an id or a statement) by the\n"
        "statement NEW, keeping the fact's id, metadata and creation time.\n"
        "Fails with exit code 4 when NEW is already another fact.\n\n"
        "Example:\n"
        "  hakgal update 'IsA(Pluto, Planet)' 'IsA(Pluto, DwarfPlanet)'\n";
    cli_ctx c;
    cli_init(&c, "update", usage);
    const char *actor = "cli";
    int stop = parse_actor_only(&c, argc, argv, &actor);
    if (stop >= 0) return stop;
    if (argc - optind != 2)
        return cli_usage_error(&c, "expected OLD and NEW, got %d argument%s",
                               argc - optind, argc - optind == 1 ? "" : "s");
    const char *old_arg = argv[optind], *new_arg = argv[optind + 1];
    hk_statement nst, ost;
    memset(&ost, 0, sizeof ost);
    hk_error e;
    hk_error_clear(&e);
    if (hk_statement_parse(new_arg, strlen(new_arg), &nst, &e) != HK_OK)
        return cli_fail_text(&c, "statement NEW", new_arg, &e);
    hk_store *s = NULL;
    hk_fact before, after;
    hk_fact_init(&before);
    hk_fact_init(&after);
    hk_svc_update op = {.new_st = &nst, .before = &before, .after = &after};
    int rc = HK_EXIT_OK;
    if (!cli_is_id(old_arg, &op.id)) {
        hk_err bad = hk_svc_fact_ref_check(old_arg, &e);
        if (bad != HK_OK) {
            rc = cli_fail(&c, bad, &e);
            goto done;
        }
        if (hk_statement_parse(old_arg, strlen(old_arg), &ost, &e) != HK_OK) {
            rc = cli_fail_text(&c, "statement", old_arg, &e);
            goto done;
        }
        op.old_st = &ost;
    }
    rc = cli_open(&c, false, false, &s);
    if (rc != HK_EXIT_OK) goto done;
    hk_err err = hk_svc_write(s, actor, hk_svc_fact_update_apply, &op, &e);
    if (err == HK_ERR_EXISTS) {
        hk_buf b = HK_BUF_INIT;
        cli_format_statement(&nst, &b);
        cli_msg(&c, "conflict: %s is already fact %llu", b.data,
                (unsigned long long)op.other);
        hk_buf_free(&b);
        rc = HK_EXIT_CONFLICT;
        goto done;
    }
    if (err != HK_OK) {
        rc = cli_fail(&c, err, &e);
        goto done;
    }
    hk_fact_id id = op.found;
    hk_buf a = HK_BUF_INIT, b = HK_BUF_INIT;
    cli_format_statement(&before.st, &a);
    cli_format_statement(&after.st, &b);
    bool same = !op.changed;
    if (c.json) {
        hk_buf out = HK_BUF_INIT;
        hk_buf_appendf(&out, "{\"status\":\"%s\",\"before\":",
                       same ? "unchanged" : "updated");
        cli_json_str(&out, a.data);
        hk_buf_append_str(&out, ",\"fact\":");
        hk_fact_write_json(&after, &out);
        hk_buf_append_str(&out, "}");
        rc = cli_emit(&c, &out);
        hk_buf_free(&out);
    } else if (same) {
        printf("unchanged %llu\t%s\n", (unsigned long long)id, b.data);
    } else {
        printf("updated   %llu\t%s -> %s\n", (unsigned long long)id, a.data,
               b.data);
    }
    hk_buf_free(&a);
    hk_buf_free(&b);
done:
    hk_fact_release(&before);
    hk_fact_release(&after);
    hk_statement_release(&nst);
    hk_statement_release(&ost);
    cli_close(s);
    return rc;
}
