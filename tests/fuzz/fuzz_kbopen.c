/*
 * fuzz_kbopen.c — libFuzzer target for opening and reading a damaged KB
 * (src/store/opencheck.c, the value checks, verify.c, faultguard.c).
 *
 * The first call builds a small KB (120 facts, some long symbols) in a
 * scratch directory under $HK_TEST_TMP and keeps its data.mdb in memory.
 * Input: 5-byte patches, each a little-endian u32 offset (taken modulo
 * the file size) and the byte to put there; an offset of 0xffffffff
 * instead truncates the file to byte/256 of its size. The damaged file is
 * written as a fresh KB, opened read-only, and every read runs on it:
 * stats, a walk of all facts, the deep verification. Property: no crash;
 * a fault inside the map is contained by a guard (as the CLI does) and
 * counts as reported damage.
 *
 * Build and run: see tests/fuzz/README.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hakgal.h"

#define PATCHES_MAX 64u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_dir[512];   /* scratch KB directory */
static uint8_t *g_base;   /* the undamaged data.mdb */
static size_t g_base_len; /* its bytes */

static void die(const char *what)
{
    fprintf(stderr, "fuzz_kbopen: %s\n", what);
    abort();
}

static void write_file(const char *path, const uint8_t *b, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(b, 1, n, fp) != n) die("cannot write the KB");
    fclose(fp);
}

static void build_base(void)
{
    const char *tmp = getenv("HK_TEST_TMP");
    snprintf(g_dir, sizeof g_dir, "%s/fuzz-kbopen-%d",
             tmp && *tmp ? tmp : "/tmp", (int)getpid());
    mkdir(g_dir, 0755);
    hk_store_options o = {0};
    o.create = true;
    o.no_sync = true;
    o.map_size = 1ull << 24;
    hk_store *s = NULL;
    hk_txn *t = NULL;
    hk_error err;
    if (hk_store_open(g_dir, &o, &s, &err) || hk_txn_begin(s, true, &t, &err))
        die("cannot create the KB");
    char longsym[700];
    memset(longsym, 'L', sizeof longsym - 1);
    longsym[sizeof longsym - 1] = 0;
    for (int i = 0; i < 120; i++) {
        char a[32], b[32];
        snprintf(a, sizeof a, "Entity%d", i);
        snprintf(b, sizeof b, "Kind%d", i % 9);
        const char *args[2] = {a, i % 40 == 0 ? longsym : b};
        hk_statement st = {.predicate = i % 3 ? "IsA" : "HasPart", .n_args = 2};
        st.args[0] = args[0];
        st.args[1] = args[1];
        hk_fact_id id;
        bool created;
        if (hk_store_add(t, &st, NULL, &id, &created, &err))
            die("cannot add a fact");
    }
    if (hk_txn_commit(t, &err)) die("cannot commit");
    hk_store_close(s);
    char path[600];
    snprintf(path, sizeof path, "%s/data.mdb", g_dir);
    FILE *fp = fopen(path, "rb");
    if (!fp) die("cannot read the KB");
    fseek(fp, 0, SEEK_END);
    g_base_len = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    g_base = malloc(g_base_len);
    if (!g_base || fread(g_base, 1, g_base_len, fp) != g_base_len)
        die("cannot read the KB");
    fclose(fp);
}

/* Every read on the KB in g_dir; faults inside the map end it early. */
static void read_all(void)
{
    static hk_verify_report rep;
    hk_store_options o = {0};
    o.read_only = true;
    o.map_size = 1ull << 24;
    hk_store *volatile s = NULL;
    hk_txn *volatile t = NULL;
    hk_store *sp = NULL;
    hk_txn *tp = NULL;
    hk_error err;
    if (hk_store_open(g_dir, &o, &sp, &err) != HK_OK) return;
    s = sp;
    hk_fault_guard g;
    if (sigsetjmp(g.jb, 1) == 0) {
        hk_fault_arm(&g);
        if (hk_txn_begin(s, false, &tp, &err) == HK_OK) {
            t = tp;
            hk_stats st;
            hk_store_stats(t, &st, &err);
            hk_fact f;
            hk_fact_init(&f);
            for (hk_fact_id id = 1; id <= 130; id++)
                hk_store_get(t, id, &f, &err);
            hk_fact_release(&f);
            hk_store_verify_deep(t, &rep, &err);
        }
        hk_fault_disarm(&g);
    }
    if (t) hk_txn_abort(t);
    hk_store_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_base) build_base();
    uint8_t *b = malloc(g_base_len);
    if (!b) return 0;
    memcpy(b, g_base, g_base_len);
    size_t len = g_base_len;
    for (size_t i = 0; i + 5 <= size && i / 5 < PATCHES_MAX; i += 5) {
        uint32_t off = (uint32_t)data[i] | (uint32_t)data[i + 1] << 8 |
                       (uint32_t)data[i + 2] << 16 |
                       (uint32_t)data[i + 3] << 24;
        if (off == 0xffffffffu)
            len = len * data[i + 4] / 256;
        else if (len)
            b[off % len] = data[i + 4];
    }
    char path[600];
    snprintf(path, sizeof path, "%s/data.mdb", g_dir);
    write_file(path, b, len);
    free(b);
    snprintf(path, sizeof path, "%s/lock.mdb", g_dir);
    unlink(path);
    read_all();
    return 0;
}
