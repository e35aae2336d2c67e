/*
 * hk_gen — writes the benchmark's synthetic facts as statement text, one per
 * line, for the CLI import measurement (`hakgal import FILE`).
 *
 *   hk_gen [--n N] [--seed S] [--out FILE] [--stats]
 *
 * The facts are exactly those hk_bench loads in-process for the same N and
 * seed (see hk_gen.h). Single-threaded.
 */
#include "hk_gen.h"

#include <errno.h>
#include <inttypes.h>

static int usage(FILE *to)
{
    fprintf(to, "usage: hk_gen [--n N] [--seed S] [--out FILE] [--stats]\n"
                "  writes N distinct synthetic statements (default 1000000)\n"
                "  to FILE (default stdout); --stats prints counts to "
                "stderr\n");
    return to == stdout ? 0 : 2;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || !end || *end || end == s) return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    uint64_t n = 1000000, seed = HK_GEN_DEFAULT_SEED;
    const char *out_path = NULL;
    bool stats = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(stdout);
        if (!strcmp(a, "--stats")) {
            stats = true;
            continue;
        }
        if (i + 1 >= argc) return usage(stderr);
        if (!strcmp(a, "--n")) {
            if (!parse_u64(argv[++i], &n) || n == 0) return usage(stderr);
        } else if (!strcmp(a, "--seed")) {
            if (!parse_u64(argv[++i], &seed)) return usage(stderr);
        } else if (!strcmp(a, "--out")) {
            out_path = argv[++i];
        } else {
            return usage(stderr);
        }
    }

    FILE *out = stdout;
    if (out_path) {
        out = fopen(out_path, "w");
        if (!out) {
            fprintf(stderr, "hk_gen: cannot create %s: %s\n", out_path,
                    strerror(errno));
            return 1;
        }
    }
    static char out_buf[1 << 20];
    setvbuf(out, out_buf, _IOFBF, sizeof out_buf);

    hk_gen g;
    if (!hk_gen_init(&g, n, seed)) {
        fprintf(stderr, "hk_gen: out of memory\n");
        return 1;
    }
    char pred[HK_GEN_NAME_MAX];
    char names[HK_GEN_MAX_ARITY][HK_GEN_NAME_MAX];
    const char *arg_names[HK_GEN_MAX_ARITY];
    char line[HK_GEN_STATEMENT_MAX];
    hk_gen_fact f;
    uint64_t bytes = 0;
    int rc = 0;
    while (hk_gen_next(&g, &f)) {
        hk_gen_predicate_name(f.pred, pred);
        for (uint32_t i = 0; i < f.n_args; i++) {
            hk_gen_entity_name(f.args[i], names[i]);
            arg_names[i] = names[i];
        }
        size_t len =
            hk_gen_format(pred, arg_names, f.n_args, line, sizeof line - 1);
        line[len++] = '\n';
        if (fwrite(line, 1, len, out) != len) {
            rc = 1;
            break;
        }
        bytes += len;
    }
    if (g.produced != n) rc = 1;
    if (fflush(out) != 0 || (out != stdout && fclose(out) != 0)) rc = 1;
    if (rc)
        fprintf(stderr, "hk_gen: writing failed after %" PRIu64 " facts\n",
                g.produced);
    if (stats)
        fprintf(stderr,
                "hk_gen: %" PRIu64 " facts, %" PRIu64 " bytes, %u entities "
                "in vocabulary, %" PRIu64 " duplicate draws rejected\n",
                g.produced, bytes, g.n_entities, g.duplicates);
    hk_gen_free(&g);
    return rc;
}
