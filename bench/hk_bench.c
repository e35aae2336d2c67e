/*
 * hk_bench — bulk load and query latency of the hakgal store, side by side
 * with SQLite (libsqlite3, normalized and indexed) as the anchor, in one run.
 *
 *   hk_bench [--n N] [--dir DIR] [--json FILE] [--samples S] [--warmup W]
 *            [--batch B] [--seed X] [--map-mib M] [--only hakgal|sqlite]
 *            [--keep] [--reuse]
 *
 * Design:
 *  - The parent generates N distinct facts once (hk_gen.h) into compact
 *    arrays of symbol ids plus a table of names, so that neither store pays
 *    for generation, and draws the query keys from the same data: exact
 *    lookups use facts sampled uniformly from the N; "facts of an entity"
 *    uses a random argument of a random sampled fact (so entities are drawn
 *    in proportion to how often they occur, i.e. Zipf); "predicate + first
 *    argument" uses the predicate and first argument of a sampled fact. Both
 *    stores answer the same key sequence.
 *  - Each store is loaded in its own forked child, one after the other
 *    (never in parallel: the machine has two shared cores), so that peak
 *    RSS (ru_maxrss) is per store. Children report into a MAP_SHARED block.
 *    A third child reopens both databases and runs the queries in blocks
 *    of Q_BLOCK operations, the stores taking turns, so that other
 *    processes on the shared machine slow both alike and the ratios hold.
 *  - Load: hakgal through the public API (hk_store_add in transactions of
 *    --batch facts with hk_txn_set_bulk, fsync on each commit), then the
 *    compaction policy of `hakgal import` (hk_store_compact_advised ->
 *    hk_store_close + hk_store_compact), counted in the load time and
 *    reported separately, as is the file size before it; SQLite in
 *    one transaction with prepared statements, journal_mode=WAL,
 *    synchronous=FULL (the commit is durable, as hakgal's are), a 1 GiB page
 *    cache, all indexes present during the load (both stores deduplicate
 *    on insert, so the content index must exist). Load time is reported as
 *    wall-clock and as CPU time (robust when the machine is shared).
 *  - Latency: clock_gettime(CLOCK_MONOTONIC) around each operation, after a
 *    warm-up pass over every query kind (--warmup operations each, keys
 *    other than the timed ones); p50/p99 over --samples operations. Each
 *    hakgal operation includes hk_txn_renew/hk_txn_reset of a reused read
 *    transaction; each
 *    SQLite operation is one autocommit statement (its own read
 *    transaction). "First 100" queries decode every row to strings (hakgal:
 *    hk_query_next into an hk_fact; SQLite: joins to the symbol table and
 *    sqlite3_column_text on every column).
 *  - The row counts of both stores are compared as a correctness check.
 *
 * Single-threaded in each process.
 */
#include "core/buf.h"
#include "core/clock.h"
#include "hakgal.h"
#include "hk_gen.h"
#include "store/store.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ==== Options ==== */

typedef struct bench_opts {
    uint64_t n;       /* facts to load */
    const char *dir;  /* scratch directory for the two databases */
    const char *json; /* where the JSON results go (NULL = default) */
    uint32_t samples; /* timed operations per query kind */
    uint32_t warmup;  /* untimed operations before them */
    uint64_t batch;   /* hakgal facts per write transaction */
    uint64_t seed;    /* generator seed */
    uint64_t map_mib; /* hakgal map size in MiB (0 = store default) */
    bool run_hakgal;  /* measure hakgal */
    bool run_sqlite;  /* measure SQLite */
    bool keep;        /* keep the databases afterwards */
    bool reuse;       /* query databases kept by an earlier --keep run */
    int hook;         /* change hook during the hakgal load: 0 none, 1 one
                         outbox entry per change (an import is one), 2 one
                         per imported fact too (HKS_EV_BULK_ADD) */
} bench_opts;

/* ==== Data set ==== */

#define KEY_POOL 50000 /* facts sampled as query keys */

typedef struct dataset {
    uint64_t n;            /* facts */
    uint32_t n_entities;   /* entity vocabulary size */
    uint16_t *pred;        /* predicate index per fact */
    uint8_t *n_args;       /* argument count per fact */
    uint32_t *args;        /* entity ids of all facts, concatenated */
    uint64_t n_args_total; /* length of args */
    char *names;           /* entity names, each NUL-terminated */
    uint32_t *name_off;    /* offset of entity id's name in names */
    char pred_names[HK_GEN_PREDICATES][HK_GEN_NAME_MAX]; /* predicates */
    uint64_t duplicates;  /* generator draws rejected as repeats */
    double gen_s;         /* seconds to generate all of the above */
    uint32_t n_pool;      /* sampled facts (<= KEY_POOL) */
    hk_gen_fact *pool;    /* facts sampled uniformly from the N */
    char **pool_text;     /* their canonical statements */
    uint32_t n_ops;       /* warmup + samples */
    uint32_t *exact_seq;  /* pool index per exact-lookup operation */
    uint32_t *entity_seq; /* entity id per entity query */
    uint32_t *pa_seq;     /* pool index per predicate+arg0 query */
} dataset;

static const char *entity_name(const dataset *ds, uint32_t id)
{
    return ds->names + ds->name_off[id];
}

static void dataset_free(dataset *ds)
{
    free(ds->pred);
    free(ds->n_args);
    free(ds->args);
    free(ds->names);
    free(ds->name_off);
    if (ds->pool_text)
        for (uint32_t i = 0; i < ds->n_pool; i++)
            free(ds->pool_text[i]);
    free(ds->pool_text);
    free(ds->pool);
    free(ds->exact_seq);
    free(ds->entity_seq);
    free(ds->pa_seq);
    memset(ds, 0, sizeof *ds);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool dataset_build(dataset *ds, const bench_opts *o)
{
    memset(ds, 0, sizeof *ds);
    double t0 = now_s();
    hk_gen g;
    if (!hk_gen_init(&g, o->n, o->seed)) return false;
    ds->n = o->n;
    ds->n_entities = g.n_entities;
    ds->pred = malloc(o->n * sizeof *ds->pred);
    ds->n_args = malloc(o->n * sizeof *ds->n_args);
    uint64_t args_cap = o->n * 3;
    ds->args = malloc(args_cap * sizeof *ds->args);
    ds->pool = malloc(KEY_POOL * sizeof *ds->pool);
    if (!ds->pred || !ds->n_args || !ds->args || !ds->pool) goto fail;

    /* Reservoir sampling (Algorithm R) with its own stream, so the fact
     * stream does not depend on the pool size. */
    hk_rng pick;
    hk_rng_seed(&pick, o->seed ^ 0xA5A5A5A5ull);
    hk_gen_fact f;
    uint64_t i = 0;
    while (hk_gen_next(&g, &f)) {
        if (ds->n_args_total + HK_GEN_MAX_ARITY > args_cap) {
            args_cap += args_cap / 2;
            uint32_t *grown = realloc(ds->args, args_cap * sizeof *grown);
            if (!grown) goto fail;
            ds->args = grown;
        }
        ds->pred[i] = (uint16_t)f.pred;
        ds->n_args[i] = (uint8_t)f.n_args;
        memcpy(ds->args + ds->n_args_total, f.args, f.n_args * sizeof *f.args);
        ds->n_args_total += f.n_args;
        if (i < KEY_POOL) {
            ds->pool[i] = f;
        } else {
            uint64_t j = hk_rng_below(&pick, i + 1);
            if (j < KEY_POOL) ds->pool[j] = f;
        }
        i++;
    }
    ds->duplicates = g.duplicates;
    hk_gen_free(&g);
    if (i != o->n) {
        fprintf(stderr, "hk_bench: generator stopped at %" PRIu64 "\n", i);
        goto fail;
    }
    ds->n_pool = (uint32_t)(o->n < KEY_POOL ? o->n : KEY_POOL);

    /* Names. */
    size_t names_cap = (size_t)ds->n_entities * 12 + 64, names_len = 0;
    ds->names = malloc(names_cap);
    ds->name_off = malloc((size_t)ds->n_entities * sizeof *ds->name_off);
    if (!ds->names || !ds->name_off) goto fail;
    for (uint32_t id = 0; id < ds->n_entities; id++) {
        if (names_len + HK_GEN_NAME_MAX > names_cap) {
            names_cap += names_cap / 2;
            char *grown = realloc(ds->names, names_cap);
            if (!grown) goto fail;
            ds->names = grown;
        }
        ds->name_off[id] = (uint32_t)names_len;
        names_len += hk_gen_entity_name(id, ds->names + names_len) + 1;
    }
    for (uint32_t p = 0; p < HK_GEN_PREDICATES; p++)
        hk_gen_predicate_name(p, ds->pred_names[p]);

    /* Statements of the pool, and the operation sequences. */
    ds->pool_text = calloc(ds->n_pool, sizeof *ds->pool_text);
    if (!ds->pool_text) goto fail;
    for (uint32_t k = 0; k < ds->n_pool; k++) {
        const hk_gen_fact *pf = &ds->pool[k];
        const char *arg_names[HK_GEN_MAX_ARITY];
        for (uint32_t a = 0; a < pf->n_args; a++)
            arg_names[a] = entity_name(ds, pf->args[a]);
        char line[HK_GEN_STATEMENT_MAX];
        if (!hk_gen_format(ds->pred_names[pf->pred], arg_names, pf->n_args,
                           line, sizeof line))
            goto fail;
        ds->pool_text[k] = strdup(line);
        if (!ds->pool_text[k]) goto fail;
    }
    ds->n_ops = o->warmup + o->samples;
    ds->exact_seq = malloc(ds->n_ops * sizeof *ds->exact_seq);
    ds->entity_seq = malloc(ds->n_ops * sizeof *ds->entity_seq);
    ds->pa_seq = malloc(ds->n_ops * sizeof *ds->pa_seq);
    if (!ds->exact_seq || !ds->entity_seq || !ds->pa_seq) goto fail;
    hk_rng qr;
    hk_rng_seed(&qr, o->seed ^ 0x5EED0F0Full);
    for (uint32_t k = 0; k < ds->n_ops; k++) {
        ds->exact_seq[k] = (uint32_t)hk_rng_below(&qr, ds->n_pool);
        const hk_gen_fact *pf = &ds->pool[hk_rng_below(&qr, ds->n_pool)];
        ds->entity_seq[k] = pf->args[hk_rng_below(&qr, pf->n_args)];
        ds->pa_seq[k] = (uint32_t)hk_rng_below(&qr, ds->n_pool);
    }
    ds->gen_s = now_s() - t0;
    return true;
fail:
    hk_gen_free(&g);
    dataset_free(ds);
    return false;
}

/* ==== Results ==== */

typedef struct latency {
    double p50_us;    /* median */
    double p99_us;    /* 99th percentile */
    double mean_us;   /* arithmetic mean */
    uint64_t rows;    /* rows (or hits) over the timed operations */
    uint32_t samples; /* timed operations */
} latency;

#define MAX_MILESTONES 64 /* per-million load rates kept */

typedef struct store_result {
    int ran;               /* 1 when this store was measured */
    int ok;                /* 1 when every step succeeded */
    char error[600];       /* what failed */
    uint64_t facts;        /* facts stored after the load */
    double load_s;         /* seconds from first add to last commit */
    double load_cpu_s;     /* CPU seconds (user + system) of the load */
    double commit_s;       /* hakgal: wall seconds inside hk_txn_commit */
    double checkpoint_s;   /* SQLite: WAL checkpoint after commit */
    uint32_t n_milestones; /* entries in milestone_rate */
    double milestone_rate[MAX_MILESTONES];     /* facts/s of each 1M slice */
    double milestone_cpu_rate[MAX_MILESTONES]; /* facts per CPU second */
    uint64_t load_write_bytes;                 /* bytes the load sent to storage
                                                  (/proc/self/io write_bytes) */
    long rss_anon_kb;    /* anonymous RSS right after the load */
    long rss_file_kb;    /* file-backed RSS (mapped pages) then */
    uint64_t file_bytes; /* main data file size after the load */
    uint64_t file_bytes_before_compact; /* hakgal: data.mdb size before the
                                  import's compaction step */
    uint64_t used_bytes;    /* hakgal: pages in use * page size (before
                                that step) */
    uint64_t free_bytes;    /* hakgal: free-list bytes before it */
    int auto_compacted;     /* hakgal: the policy compacted the KB */
    double auto_compact_s;  /* hakgal: seconds of that compaction (part
                                of load_s) */
    uint64_t compact_bytes; /* after compaction (backup / VACUUM INTO) */
    double compact_s;       /* seconds the compaction took */
    long rss_load_kb;       /* ru_maxrss after the load */
    long rss_peak_kb;       /* ru_maxrss of the whole child */
    latency exact;          /* exact lookup, statement given as parts */
    latency exact_parse;    /* the same, parsing the text first */
    latency entity;         /* first 100 facts of an entity, decoded */
    latency pred_arg0;      /* first 100 by predicate + first arg */
} store_result;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void latency_finish(latency *l, uint64_t *ns, uint32_t n, uint64_t rows)
{
    qsort(ns, n, sizeof *ns, cmp_u64);
    double sum = 0;
    for (uint32_t i = 0; i < n; i++)
        sum += (double)ns[i];
    l->samples = n;
    l->rows = rows;
    l->p50_us = n ? (double)ns[n / 2] / 1000.0 : 0;
    l->p99_us = n ? (double)ns[(uint64_t)n * 99 / 100] / 1000.0 : 0;
    l->mean_us = n ? sum / n / 1000.0 : 0;
}

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* User + system CPU seconds of this process so far. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static long current_rss_kb(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* 1-minute load average (other processes compete for the 2 cores). */
static double loadavg1(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1;
        fclose(f);
    }
    return l;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    return remove(path);
}

static void rm_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

#define FAIL(r, ...)                                                           \
    do {                                                                       \
        snprintf((r)->error, sizeof(r)->error, __VA_ARGS__);                   \
        goto fail;                                                             \
    } while (0)

/* Milestone bookkeeping shared by both loaders: rate of each 1M slice,
 * by the wall clock and per CPU second. */
static void milestone(store_result *r, uint64_t done, double *last_t,
                      double *last_cpu)
{
    if (done % 1000000 != 0 || r->n_milestones >= MAX_MILESTONES) return;
    double t = now_s(), c = cpu_s();
    r->milestone_rate[r->n_milestones] = 1e6 / (t - *last_t);
    r->milestone_cpu_rate[r->n_milestones] = 1e6 / (c - *last_cpu);
    r->n_milestones++;
    *last_t = t;
    *last_cpu = c;
    if (done >= 2000000)
        fprintf(stderr,
                "  %" PRIu64 "M facts, last 1M at %.0f facts/s (%.0f per "
                "CPU second)\n",
                done / 1000000, r->milestone_rate[r->n_milestones - 1],
                r->milestone_cpu_rate[r->n_milestones - 1]);
}

/* Bytes this process caused to be written to storage (page-dirtying
 * time accounting of /proc/self/io), 0 when unavailable. */
static uint64_t io_write_bytes(void)
{
    char line[128];
    uint64_t v = 0;
    FILE *f = fopen("/proc/self/io", "r");
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "write_bytes:", 12))
            v = strtoull(line + 12, NULL, 10);
    fclose(f);
    return v;
}

/* Current anonymous and file-backed RSS from /proc/self/status. */
static void rss_split(long *anon_kb, long *file_kb)
{
    char line[256];
    *anon_kb = *file_kb = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "RssAnon:", 8))
            *anon_kb = strtol(line + 8, NULL, 10);
        else if (!strncmp(line, "RssFile:", 8))
            *file_kb = strtol(line + 8, NULL, 10);
    }
    fclose(f);
}

/* ==== Paths ==== */

static void path_in(char *out, size_t cap, const bench_opts *o,
                    const char *name)
{
    snprintf(out, cap, "%s/%s", o->dir, name);
}

static void remove_sqlite_files(const char *path)
{
    char side[PATH_MAX + 8];
    remove(path);
    snprintf(side, sizeof side, "%s-wal", path);
    remove(side);
    snprintf(side, sizeof side, "%s-shm", path);
    remove(side);
}

static void remove_databases(const bench_opts *o)
{
    char p[PATH_MAX];
    path_in(p, sizeof p, o, "hakgal-kb");
    rm_tree(p);
    path_in(p, sizeof p, o, "hakgal-backup");
    rm_tree(p);
    path_in(p, sizeof p, o, "sqlite.db");
    remove_sqlite_files(p);
    path_in(p, sizeof p, o, "sqlite-compact.db");
    remove(p);
}

/* ==== hakgal: load ==== */

static void statement_of(const dataset *ds, const hk_gen_fact *f,
                         hk_statement *st)
{
    memset(st, 0, sizeof *st);
    st->predicate = ds->pred_names[f->pred];
    st->n_args = f->n_args;
    for (uint32_t a = 0; a < f->n_args; a++)
        st->args[a] = entity_name(ds, f->args[a]);
}

/* ==== Change hook (--hook) ====
 * What a change stream costs the load: an outbox entry (audit seq, or
 * fact id for per-fact adds of a bulk txn -> op) in a module database, in
 * the transaction of the change. */

static hk_err outbox_change(hk_txn *t, const hks_change *c, void *ud,
                            hk_error *err)
{
    const hks_db *outbox = ud;
    uint64_t k = c->audit_seq ? c->audit_seq : (1ull << 63) | c->id;
    uint8_t kb[8], op = (uint8_t)c->op;
    for (int i = 0; i < 8; i++)
        kb[i] = (uint8_t)(k >> (56 - 8 * i));
    hks_val key = {kb, sizeof kb}, val = {&op, 1};
    return hks_put(t, *outbox, key, val, 0, err);
}

static bool add_hook(hk_store *s, int kind, hks_db *outbox, hk_error *err)
{
    hks_hook h = {.name = "bench.outbox",
                  .events = HKS_EV_ALL & ~(unsigned)HKS_EV_BULK_ADD,
                  .on_change = outbox_change,
                  .ud = outbox};
    if (kind == 2) h.events = HKS_EV_ALL;
    return hks_db_register(s, "bench.outbox", 0, outbox, err) == HK_OK &&
           hks_hook_add(s, &h, err) == HK_OK;
}

static void load_hakgal(const dataset *ds, const bench_opts *o, store_result *r)
{
    static hks_db outbox;
    char dir[PATH_MAX], backup[PATH_MAX], path[PATH_MAX + 16];
    hk_store *s = NULL;
    hk_txn *t = NULL, *rt = NULL;
    hk_error err;
    path_in(dir, sizeof dir, o, "hakgal-kb");
    path_in(backup, sizeof backup, o, "hakgal-backup");
    rm_tree(dir);
    rm_tree(backup);

    hk_store_options so = {0};
    so.create = true;
    so.map_size = o->map_mib << 20;
    if (hk_store_open(dir, &so, &s, &err) != HK_OK)
        FAIL(r, "hk_store_open: %s", err.message);
    if (o->hook && !add_hook(s, o->hook, &outbox, &err))
        FAIL(r, "hook: %s", err.message);

    uint64_t wb0 = io_write_bytes();
    double t0 = now_s(), last = t0, cpu0 = cpu_s(), last_cpu = cpu0;
    uint64_t off = 0, created_n = 0;
    for (uint64_t i = 0; i < ds->n; i++) {
        if (!t) {
            if (hk_txn_begin(s, true, &t, &err) != HK_OK)
                FAIL(r, "hk_txn_begin: %s", err.message);
            if (hk_txn_set_bulk(t, "hk_bench") != HK_OK)
                FAIL(r, "hk_txn_set_bulk failed");
        }
        hk_gen_fact f;
        f.pred = ds->pred[i];
        f.n_args = ds->n_args[i];
        memcpy(f.args, ds->args + off, f.n_args * sizeof *f.args);
        off += f.n_args;
        hk_statement st;
        statement_of(ds, &f, &st);
        hk_fact_id id;
        bool created = false;
        if (hk_store_add(t, &st, NULL, &id, &created, &err) != HK_OK)
            FAIL(r, "hk_store_add (fact %" PRIu64 "): %s", i, err.message);
        created_n += created;
        if ((i + 1) % o->batch == 0 || i + 1 == ds->n) {
            double c0 = now_s();
            hk_err rc = hk_txn_commit(t, &err);
            r->commit_s += now_s() - c0;
            t = NULL;
            if (rc != HK_OK) FAIL(r, "hk_txn_commit: %s", err.message);
        }
        milestone(r, i + 1, &last, &last_cpu);
    }
    if (created_n != ds->n)
        FAIL(r, "only %" PRIu64 " of %" PRIu64 " facts were new", created_n,
             ds->n);

    /* What `hakgal import` does next: compact when the policy says so,
     * with the handle closed. Part of the load. */
    if (hk_txn_begin(s, false, &rt, &err) != HK_OK)
        FAIL(r, "hk_txn_begin(read): %s", err.message);
    hk_stats stats;
    if (hk_store_stats(rt, &stats, &err) != HK_OK)
        FAIL(r, "hk_store_stats: %s", err.message);
    hk_txn_abort(rt);
    rt = NULL;
    r->facts = stats.facts;
    r->used_bytes = stats.bytes_used;
    r->free_bytes = stats.bytes_free;
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    r->file_bytes_before_compact = file_size(path);
    if (!r->file_bytes_before_compact)
        r->file_bytes_before_compact = stats.bytes_on_disk;
    if (hk_store_compact_advised(&stats)) {
        hk_compact_report cr;
        hk_store_close(s);
        s = NULL;
        if (hk_store_compact(dir, &cr, &err) != HK_OK)
            FAIL(r, "hk_store_compact: %s", err.message);
        r->auto_compacted = 1;
        r->auto_compact_s = cr.seconds;
    }
    r->load_s = now_s() - t0;
    r->load_cpu_s = cpu_s() - cpu0;
    r->load_write_bytes = io_write_bytes() - wb0;
    r->rss_load_kb = max_rss_kb();
    rss_split(&r->rss_anon_kb, &r->rss_file_kb);
    r->file_bytes = file_size(path);

    if (r->auto_compacted) {
        /* the file is the dense copy a backup would write */
        r->compact_bytes = r->file_bytes;
        r->compact_s = r->auto_compact_s;
    } else {
        double c0 = now_s();
        if (hk_store_backup(s, backup, NULL, &err) != HK_OK)
            FAIL(r, "hk_store_backup: %s", err.message);
        r->compact_s = now_s() - c0;
        snprintf(path, sizeof path, "%s/data.mdb", backup);
        r->compact_bytes = file_size(path);
        rm_tree(backup);
    }
    r->ok = 1;
fail:
    if (rt) hk_txn_abort(rt);
    if (t) hk_txn_abort(t);
    if (s) hk_store_close(s);
}

/* ==== SQLite: schema, load ==== */

static const char *const SQL_SCHEMA =
    "CREATE TABLE symbols(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE facts(id INTEGER PRIMARY KEY, pred INTEGER NOT NULL,"
    " nargs INTEGER NOT NULL, a0 INTEGER NOT NULL, a1 INTEGER NOT NULL"
    " DEFAULT 0, a2 INTEGER NOT NULL DEFAULT 0, a3 INTEGER NOT NULL DEFAULT 0,"
    " a4 INTEGER NOT NULL DEFAULT 0, confidence REAL NOT NULL,"
    " created INTEGER NOT NULL, updated INTEGER NOT NULL);"
    /* exact lookup and dedup; its (pred, a0) prefix serves pred + arg0 */
    "CREATE UNIQUE INDEX facts_content ON facts(pred, a0, a1, a2, a3, a4);"
    /* by entity, any or one position */
    "CREATE TABLE fact_args(sym INTEGER NOT NULL, pos INTEGER NOT NULL,"
    " fact INTEGER NOT NULL, PRIMARY KEY(sym, pos, fact)) WITHOUT ROWID;";

#define SQL_PRAGMAS                                                            \
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"                        \
    "PRAGMA cache_size=-1048576; PRAGMA temp_store=MEMORY;"

#define SQL_SYM(n) "(SELECT id FROM symbols WHERE name = ?" #n ")"
#define SQL_OPT(n) "CASE WHEN ?" #n " IS NULL THEN 0 ELSE " SQL_SYM(n) " END"

/* clang-format off */
static const char *const SQL_EXACT =
    "SELECT id FROM facts WHERE pred = " SQL_SYM(1) " AND a0 = " SQL_SYM(2)
    " AND a1 = " SQL_OPT(3) " AND a2 = " SQL_OPT(4) " AND a3 = " SQL_OPT(5)
    " AND a4 = " SQL_OPT(6) " AND nargs = ?7";
/* clang-format on */

#define SQL_DECODED_COLUMNS                                                    \
    "SELECT f.id, p.name, f.nargs, s0.name, s1.name, s2.name, s3.name,"        \
    " s4.name, f.confidence, f.created, f.updated "
#define SQL_DECODE_JOINS                                                       \
    " CROSS JOIN symbols p LEFT JOIN symbols s0 ON s0.id = f.a0"               \
    " LEFT JOIN symbols s1 ON s1.id = f.a1"                                    \
    " LEFT JOIN symbols s2 ON s2.id = f.a2"                                    \
    " LEFT JOIN symbols s3 ON s3.id = f.a3"                                    \
    " LEFT JOIN symbols s4 ON s4.id = f.a4 "

static const char *const SQL_ENTITY = SQL_DECODED_COLUMNS
    "FROM fact_args x CROSS JOIN facts f" SQL_DECODE_JOINS
    "WHERE x.sym = " SQL_SYM(1) " AND f.id = x.fact AND p.id = f.pred"
                                " LIMIT 100";

static const char *const SQL_PRED_ARG0 = SQL_DECODED_COLUMNS
    "FROM facts f" SQL_DECODE_JOINS "WHERE f.pred = " SQL_SYM(
        1) " AND f.a0 = " SQL_SYM(2) " AND p.id = f.pred LIMIT 100";

typedef struct sql_ctx {
    sqlite3 *db;             /* the connection */
    sqlite3_stmt *sym_get;   /* name -> id */
    sqlite3_stmt *sym_put;   /* insert a name */
    sqlite3_stmt *fact_put;  /* insert or ignore a fact */
    sqlite3_stmt *arg_put;   /* insert a fact_args row */
    sqlite3_stmt *exact;     /* SQL_EXACT */
    sqlite3_stmt *entity;    /* SQL_ENTITY */
    sqlite3_stmt *pred_arg0; /* SQL_PRED_ARG0 */
} sql_ctx;

static void sql_close(sql_ctx *c)
{
    sqlite3_finalize(c->sym_get);
    sqlite3_finalize(c->sym_put);
    sqlite3_finalize(c->fact_put);
    sqlite3_finalize(c->arg_put);
    sqlite3_finalize(c->exact);
    sqlite3_finalize(c->entity);
    sqlite3_finalize(c->pred_arg0);
    if (c->db) sqlite3_close(c->db);
    memset(c, 0, sizeof *c);
}

static int64_t sql_symbol(sql_ctx *c, const char *name)
{
    int64_t id = -1;
    sqlite3_bind_text(c->sym_get, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(c->sym_get) == SQLITE_ROW)
        id = sqlite3_column_int64(c->sym_get, 0);
    sqlite3_reset(c->sym_get);
    if (id >= 0) return id;
    sqlite3_bind_text(c->sym_put, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(c->sym_put);
    sqlite3_reset(c->sym_put);
    return rc == SQLITE_DONE ? sqlite3_last_insert_rowid(c->db) : -1;
}

static bool sql_exec(sqlite3 *db, const char *sql, store_result *r)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK) return true;
    snprintf(r->error, sizeof r->error, "%.80s: %s", sql, msg ? msg : "?");
    sqlite3_free(msg);
    return false;
}

static bool sql_prepare(sql_ctx *c, const char *sql, sqlite3_stmt **out,
                        store_result *r)
{
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out,
                           NULL) == SQLITE_OK)
        return true;
    snprintf(r->error, sizeof r->error, "prepare %.60s: %s", sql,
             sqlite3_errmsg(c->db));
    return false;
}

static bool sql_open(sql_ctx *c, const char *path, bool create, store_result *r)
{
    memset(c, 0, sizeof *c);
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
        snprintf(r->error, sizeof r->error, "sqlite3_open %.200s: %.300s", path,
                 sqlite3_errmsg(c->db));
        return false;
    }
    return sql_exec(c->db, SQL_PRAGMAS, r);
}

static void load_sqlite(const dataset *ds, const bench_opts *o, store_result *r)
{
    char path[PATH_MAX], compact[PATH_MAX];
    sql_ctx c;
    memset(&c, 0, sizeof c);
    path_in(path, sizeof path, o, "sqlite.db");
    path_in(compact, sizeof compact, o, "sqlite-compact.db");
    remove_sqlite_files(path);
    remove(compact);

    if (!sql_open(&c, path, true, r) || !sql_exec(c.db, SQL_SCHEMA, r))
        goto fail;
    if (!sql_prepare(&c, "SELECT id FROM symbols WHERE name = ?1", &c.sym_get,
                     r) ||
        !sql_prepare(&c, "INSERT INTO symbols(name) VALUES(?1)", &c.sym_put,
                     r) ||
        !sql_prepare(&c,
                     "INSERT OR IGNORE INTO facts(pred, nargs, a0, a1, a2,"
                     " a3, a4, confidence, created, updated)"
                     " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
                     &c.fact_put, r) ||
        !sql_prepare(&c,
                     "INSERT INTO fact_args(sym, pos, fact)"
                     " VALUES(?1, ?2, ?3)",
                     &c.arg_put, r))
        goto fail;

    uint64_t wb0 = io_write_bytes();
    double t0 = now_s(), last = t0, cpu0 = cpu_s(), last_cpu = cpu0;
    if (!sql_exec(c.db, "BEGIN", r)) goto fail;
    uint64_t off = 0, created_n = 0;
    for (uint64_t i = 0; i < ds->n; i++) {
        uint32_t n_args = ds->n_args[i];
        int64_t pred = sql_symbol(&c, ds->pred_names[ds->pred[i]]);
        int64_t ids[HK_GEN_MAX_ARITY] = {0};
        for (uint32_t a = 0; a < n_args; a++)
            ids[a] = sql_symbol(&c, entity_name(ds, ds->args[off + a]));
        off += n_args;
        if (pred < 0) FAIL(r, "symbol insert: %s", sqlite3_errmsg(c.db));
        sqlite3_bind_int64(c.fact_put, 1, pred);
        sqlite3_bind_int(c.fact_put, 2, (int)n_args);
        for (uint32_t a = 0; a < HK_GEN_MAX_ARITY; a++) {
            if (ids[a] < 0) FAIL(r, "symbol insert: %s", sqlite3_errmsg(c.db));
            sqlite3_bind_int64(c.fact_put, 3 + (int)a, ids[a]);
        }
        sqlite3_bind_double(c.fact_put, 8, 1.0);
        sqlite3_bind_int64(c.fact_put, 9, hk_now_us());
        if (sqlite3_step(c.fact_put) != SQLITE_DONE)
            FAIL(r, "fact insert: %s", sqlite3_errmsg(c.db));
        sqlite3_reset(c.fact_put);
        if (sqlite3_changes(c.db) == 1) {
            int64_t fid = sqlite3_last_insert_rowid(c.db);
            created_n++;
            for (uint32_t a = 0; a < n_args; a++) {
                sqlite3_bind_int64(c.arg_put, 1, ids[a]);
                sqlite3_bind_int(c.arg_put, 2, (int)a);
                sqlite3_bind_int64(c.arg_put, 3, fid);
                if (sqlite3_step(c.arg_put) != SQLITE_DONE)
                    FAIL(r, "fact_args insert: %s", sqlite3_errmsg(c.db));
                sqlite3_reset(c.arg_put);
            }
        }
        milestone(r, i + 1, &last, &last_cpu);
    }
    if (!sql_exec(c.db, "COMMIT", r)) goto fail;
    r->load_s = now_s() - t0;
    r->load_cpu_s = cpu_s() - cpu0;
    r->load_write_bytes = io_write_bytes() - wb0;
    r->rss_load_kb = max_rss_kb();
    rss_split(&r->rss_anon_kb, &r->rss_file_kb);
    r->facts = created_n;
    if (created_n != ds->n)
        FAIL(r, "only %" PRIu64 " of %" PRIu64 " facts were new", created_n,
             ds->n);
    double c0 = now_s();
    if (!sql_exec(c.db, "PRAGMA wal_checkpoint(TRUNCATE)", r)) goto fail;
    r->checkpoint_s = now_s() - c0;
    r->file_bytes = file_size(path);
    r->used_bytes = r->file_bytes;
    char sql[PATH_MAX + 32];
    snprintf(sql, sizeof sql, "VACUUM INTO '%s'", compact);
    c0 = now_s();
    if (!sql_exec(c.db, sql, r)) goto fail;
    r->compact_s = now_s() - c0;
    r->compact_bytes = file_size(compact);
    remove(compact);
    r->ok = 1;
fail:
    sql_close(&c);
}

/* ==== Queries, both stores interleaved ==== */

enum {
    Q_EXACT = 0,
    Q_EXACT_PARSE = 1,
    Q_ENTITY = 2,
    Q_PRED_ARG0 = 3,
    Q_KINDS = 4
};

/* Operations run in blocks of this many per store, the two stores taking
 * turns (and turns at going first), so that load from other processes on
 * the shared machine falls on both alike while each block stays warm. */
#define Q_BLOCK 250

typedef struct hk_side {
    hk_store *s;  /* the loaded KB */
    hk_txn *rt;   /* reused read transaction (reset between operations) */
    hk_fact fact; /* decoded row */
} hk_side;

/* One hakgal operation; returns rows found or -1 (message in r). */
static int64_t hk_op(hk_side *h, const dataset *ds, int kind, uint32_t k,
                     size_t *checksum, store_result *r)
{
    hk_error err;
    hk_statement st;
    hk_query *q = NULL;
    int64_t rows = 0;
    if (hk_txn_renew(h->rt, &err) != HK_OK)
        FAIL(r, "hk_txn_renew: %s", err.message);
    if (kind == Q_EXACT || kind == Q_EXACT_PARSE) {
        const char *text = ds->pool_text[ds->exact_seq[k]];
        if (kind == Q_EXACT)
            statement_of(ds, &ds->pool[ds->exact_seq[k]], &st);
        else if (hk_statement_parse(text, strlen(text), &st, &err) != HK_OK)
            FAIL(r, "hk_statement_parse(%s): %s", text, err.message);
        hk_fact_id id = 0;
        hk_err rc = hk_store_find(h->rt, &st, &id, &err);
        if (kind == Q_EXACT_PARSE) hk_statement_release(&st);
        if (rc != HK_OK && rc != HK_ERR_NOT_FOUND)
            FAIL(r, "hk_store_find: %s", err.message);
        rows = rc == HK_OK;
    } else {
        hk_scan scan = HK_SCAN_INIT;
        if (kind == Q_ENTITY) {
            scan.entity = entity_name(ds, ds->entity_seq[k]);
        } else {
            const hk_gen_fact *pf = &ds->pool[ds->pa_seq[k]];
            scan.predicate = ds->pred_names[pf->pred];
            scan.entity = entity_name(ds, pf->args[0]);
            scan.position = 0;
        }
        if (hk_query_open_scan(h->rt, &scan, NULL, &q, &err) != HK_OK)
            FAIL(r, "hk_query_open_scan: %s", err.message);
        bool has = true;
        while (rows < 100) {
            if (hk_query_next(q, &h->fact, &has, &err) != HK_OK)
                FAIL(r, "hk_query_next: %s", err.message);
            if (!has) break;
            *checksum += strlen(h->fact.st.predicate) + h->fact.st.n_args;
            for (uint32_t x = 0; x < h->fact.st.n_args; x++)
                *checksum += strlen(h->fact.st.args[x]);
            rows++;
        }
        hk_query_close(q);
    }
    hk_txn_reset(h->rt);
    return rows;
fail:
    if (q) hk_query_close(q);
    hk_txn_reset(h->rt);
    return -1;
}

/* Reads every column as text, as a client decoding rows to strings does. */
static size_t sql_row_checksum(sqlite3_stmt *st)
{
    size_t sum = 0;
    int n = sqlite3_column_count(st);
    for (int i = 0; i < n; i++) {
        if (sqlite3_column_type(st, i) == SQLITE_NULL) continue;
        const unsigned char *v = sqlite3_column_text(st, i);
        sum += v ? (size_t)sqlite3_column_bytes(st, i) : 0;
    }
    return sum;
}

static void bind_exact(sqlite3_stmt *st, const hk_statement *s)
{
    sqlite3_bind_text(st, 1, s->predicate, -1, SQLITE_STATIC);
    for (uint32_t a = 0; a < 5; a++) {
        if (a < s->n_args)
            sqlite3_bind_text(st, (int)a + 2, s->args[a], -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, (int)a + 2);
    }
    sqlite3_bind_int(st, 7, (int)s->n_args);
}

/* One SQLite operation (autocommit: its own read transaction). The parse
 * variant uses hakgal's parser too, so both sides do the same work. */
static int64_t sql_op(sql_ctx *c, const dataset *ds, int kind, uint32_t k,
                      size_t *checksum, store_result *r)
{
    hk_error err;
    hk_statement st;
    int64_t rows = 0;
    int rc;
    if (kind == Q_EXACT || kind == Q_EXACT_PARSE) {
        const char *text = ds->pool_text[ds->exact_seq[k]];
        if (kind == Q_EXACT)
            statement_of(ds, &ds->pool[ds->exact_seq[k]], &st);
        else if (hk_statement_parse(text, strlen(text), &st, &err) != HK_OK)
            FAIL(r, "hk_statement_parse(%s): %s", text, err.message);
        bind_exact(c->exact, &st);
        rc = sqlite3_step(c->exact);
        rows = rc == SQLITE_ROW && sqlite3_column_int64(c->exact, 0) > 0;
        sqlite3_reset(c->exact);
        if (kind == Q_EXACT_PARSE) hk_statement_release(&st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            FAIL(r, "exact lookup: %s", sqlite3_errmsg(c->db));
        return rows;
    }
    sqlite3_stmt *q = kind == Q_ENTITY ? c->entity : c->pred_arg0;
    if (kind == Q_ENTITY) {
        sqlite3_bind_text(q, 1, entity_name(ds, ds->entity_seq[k]), -1,
                          SQLITE_STATIC);
    } else {
        const hk_gen_fact *pf = &ds->pool[ds->pa_seq[k]];
        sqlite3_bind_text(q, 1, ds->pred_names[pf->pred], -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, entity_name(ds, pf->args[0]), -1,
                          SQLITE_STATIC);
    }
    while (rows < 100 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        *checksum += sql_row_checksum(q);
        rows++;
    }
    sqlite3_reset(q);
    return rows;
fail:
    return -1;
}

static void run_queries(const dataset *ds, const bench_opts *o,
                        store_result *res)
{
    store_result *hr = &res[0], *sr = &res[1];
    bool use_h = hr->ok, use_s = sr->ok;
    char path[PATH_MAX];
    hk_side h;
    memset(&h, 0, sizeof h);
    hk_fact_init(&h.fact);
    sql_ctx c;
    memset(&c, 0, sizeof c);
    hk_error err;
    uint64_t *ns[2] = {malloc((size_t)ds->n_ops * sizeof(uint64_t)),
                       malloc((size_t)ds->n_ops * sizeof(uint64_t))};
    if (!ns[0] || !ns[1]) {
        snprintf(hr->error, sizeof hr->error, "out of memory");
        goto done;
    }
    if (use_h) {
        hk_store_options so = {0};
        so.map_size = o->map_mib << 20;
        path_in(path, sizeof path, o, "hakgal-kb");
        if (hk_store_open(path, &so, &h.s, &err) != HK_OK ||
            hk_txn_begin(h.s, false, &h.rt, &err) != HK_OK) {
            snprintf(hr->error, sizeof hr->error, "reopen: %s", err.message);
            use_h = false;
            hr->ok = 0;
        } else {
            hk_txn_reset(h.rt);
        }
    }
    if (use_s) {
        path_in(path, sizeof path, o, "sqlite.db");
        if (!sql_open(&c, path, false, sr) ||
            !sql_prepare(&c, SQL_EXACT, &c.exact, sr) ||
            !sql_prepare(&c, SQL_ENTITY, &c.entity, sr) ||
            !sql_prepare(&c, SQL_PRED_ARG0, &c.pred_arg0, sr)) {
            use_s = false;
            sr->ok = 0;
        }
    }
    /* Pass 0 warms both stores up with every query kind (keys distinct
     * from the timed ones, same distribution); pass 1 is timed. */
    for (int pass = 0; pass < 2; pass++)
        for (int kind = 0; kind < Q_KINDS; kind++) {
            uint64_t rows[2] = {0, 0};
            size_t checksum[2] = {0, 0};
            uint32_t first = pass ? o->warmup : 0;
            uint32_t end = pass ? ds->n_ops : o->warmup;
            for (uint32_t b0 = first; b0 < end; b0 += Q_BLOCK) {
                uint32_t b1 = b0 + Q_BLOCK < end ? b0 + Q_BLOCK : end;
                for (int turn = 0; turn < 2; turn++) {
                    int side = (int)((b0 / Q_BLOCK + (uint32_t)turn) % 2);
                    if ((side == 0 && !use_h) || (side == 1 && !use_s))
                        continue;
                    for (uint32_t k = b0; k < b1; k++) {
                        uint64_t a = now_ns();
                        int64_t got =
                            side == 0
                                ? hk_op(&h, ds, kind, k, &checksum[0], hr)
                                : sql_op(&c, ds, kind, k, &checksum[1], sr);
                        ns[side][k] = now_ns() - a;
                        if (got < 0) {
                            if (side == 0) {
                                use_h = false;
                                hr->ok = 0;
                            } else {
                                use_s = false;
                                sr->ok = 0;
                            }
                            break;
                        }
                        rows[side] += (uint64_t)got;
                    }
                }
            }
            for (int side = 0; side < 2 && pass == 1; side++) {
                store_result *r = &res[side];
                if (!r->ok) continue;
                latency *l = kind == Q_EXACT         ? &r->exact
                             : kind == Q_EXACT_PARSE ? &r->exact_parse
                             : kind == Q_ENTITY      ? &r->entity
                                                     : &r->pred_arg0;
                latency_finish(l, ns[side] + o->warmup, o->samples, rows[side]);
                if (kind >= Q_ENTITY && checksum[side] == 0) {
                    snprintf(r->error, sizeof r->error,
                             "queries returned "
                             "nothing");
                    r->ok = 0;
                }
            }
        }
done:
    if (h.rt) hk_txn_abort(h.rt);
    if (h.s) hk_store_close(h.s);
    hk_fact_release(&h.fact);
    sql_close(&c);
    free(ns[0]);
    free(ns[1]);
}

/* ==== Orchestration ==== */

typedef void (*runner_fn)(const dataset *, const bench_opts *, store_result *);

/* Runs fn in a child process (so that its peak RSS is its own) and waits.
 * Returns the child's ru_maxrss in KiB. */
static long run_child(runner_fn fn, const dataset *ds, const bench_opts *o,
                      store_result *r, const char *name)
{
    fprintf(stderr, "hk_bench: %s ...\n", name);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(r->error, sizeof r->error, "fork: %s", strerror(errno));
        return 0;
    }
    if (pid == 0) {
        fn(ds, o, r);
        fflush(NULL);
        _exit(0);
    }
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status)) {
        snprintf(r->error, sizeof r->error, "%s child died (signal %d)", name,
                 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        r->ok = 0;
    }
    return ru.ru_maxrss;
}

static void load_child(runner_fn fn, const dataset *ds, const bench_opts *o,
                       store_result *r, const char *name)
{
    r->rss_peak_kb = run_child(fn, ds, o, r, name);
    r->ran = 1;
    if (!r->ok) fprintf(stderr, "hk_bench: %s FAILED: %s\n", name, r->error);
}

/* ==== Report ==== */

static double ratio(double num, double den)
{
    return den > 0 ? num / den : 0;
}

static void print_latency_row(const char *label, const latency *h,
                              const latency *s)
{
    printf("%-34s %8.1f / %-8.1f %8.1f / %-8.1f %6.2fx / %.2fx\n", label,
           h->p50_us, h->p99_us, s->p50_us, s->p99_us,
           ratio(s->p50_us, h->p50_us), ratio(s->p99_us, h->p99_us));
}

static void print_table(const dataset *ds, const bench_opts *o,
                        const store_result *h, const store_result *s,
                        long base_rss_kb)
{
    double n = (double)ds->n;
    double hr = ratio(n, h->load_s), sr = ratio(n, s->load_s);
    printf("\nhakgal vs SQLite — N = %" PRIu64 " facts (%u entities in the "
           "vocabulary, %" PRIu64 " argument slots), %u samples per query\n",
           ds->n, ds->n_entities, ds->n_args_total, o->samples);
    printf("%-34s %-19s %-19s %s\n", "", "hakgal", "SQLite",
           "hakgal advantage");
    printf("%-34s %-19.0f %-19.0f %.2fx\n", "bulk load (facts/s)", hr, sr,
           ratio(hr, sr));
    printf("%-34s %-19.2f %-19.2f %.2fx\n", "load time (s)", h->load_s,
           s->load_s, ratio(s->load_s, h->load_s));
    printf("%-34s %-19.2f %-19s\n", "  hakgal: of which in commit (s)",
           h->commit_s, "-");
    char cbuf[48];
    if (h->auto_compacted)
        snprintf(cbuf, sizeof cbuf, "%.2f", h->auto_compact_s);
    else
        snprintf(cbuf, sizeof cbuf, "0 (not advised)");
    printf("%-34s %-19s %-19s\n", "  hakgal: of which compaction (s)", cbuf,
           "-");
    printf("%-34s %-19.0f %-19.0f %.2fx\n", "load per CPU second (facts/s)",
           ratio(n, h->load_cpu_s), ratio(n, s->load_cpu_s),
           ratio(s->load_cpu_s, h->load_cpu_s));
    printf("%-34s %-19.1f %-19.1f %.2fx\n", "bytes/fact on disk",
           h->file_bytes / n, s->file_bytes / n,
           ratio((double)s->file_bytes, (double)h->file_bytes));
    printf("%-34s %-19.1f %-19s\n", "  before compaction",
           h->file_bytes_before_compact / n, "-");
    printf("%-34s %-19.1f %-19s\n", "  free list before compaction",
           h->free_bytes / n, "-");
    printf("%-34s %-19.0f %-19.0f %.2fx\n", "bytes written by the load / fact",
           h->load_write_bytes / n, s->load_write_bytes / n,
           ratio((double)s->load_write_bytes, (double)h->load_write_bytes));
    printf("%-34s %-19.1f %-19.1f %.2fx\n", "bytes/fact compacted",
           h->compact_bytes / n, s->compact_bytes / n,
           ratio((double)s->compact_bytes, (double)h->compact_bytes));
    printf("%-34s %-19.1f %-19.1f %.2fx\n", "peak RSS of the load (MiB)",
           h->rss_peak_kb / 1024.0, s->rss_peak_kb / 1024.0,
           ratio((double)s->rss_peak_kb, (double)h->rss_peak_kb));
    printf("%-34s %-19.1f %-19.1f\n", "  of which anonymous (MiB)",
           h->rss_anon_kb / 1024.0, s->rss_anon_kb / 1024.0);
    printf("%-34s %-19s %-19s %s\n", "latency p50 / p99 (us)", "", "", "");
    print_latency_row("  exact lookup", &h->exact, &s->exact);
    print_latency_row("  exact lookup incl. parse", &h->exact_parse,
                      &s->exact_parse);
    print_latency_row("  entity, first 100 decoded", &h->entity, &s->entity);
    print_latency_row("  pred + arg0, first 100 decoded", &h->pred_arg0,
                      &s->pred_arg0);
    printf("(RSS includes the generated data set shared by both: %.1f MiB; "
           "hakgal's includes the mapped data file pages.)\n",
           base_rss_kb / 1024.0);
    printf("(SQLite: WAL checkpoint after commit took %.2f s, not in its "
           "load time; compaction: hakgal %s %.2f s, SQLite VACUUM INTO "
           "%.2f s.)\n",
           s->checkpoint_s,
           h->auto_compacted ? "in place, in the load," : "backup",
           h->compact_s, s->compact_s);
    for (int side = 0; side < 2; side++) {
        const store_result *r = side ? s : h;
        if (r->n_milestones < 2) continue;
        double lo = r->milestone_rate[0], lo_cpu = r->milestone_cpu_rate[0];
        for (uint32_t i = 1; i < r->n_milestones; i++) {
            if (r->milestone_rate[i] < lo) lo = r->milestone_rate[i];
            if (r->milestone_cpu_rate[i] < lo_cpu)
                lo_cpu = r->milestone_cpu_rate[i];
        }
        printf("%s per-1M-slice load rate (facts/s): first %.0f, last %.0f,"
               " lowest %.0f; per CPU second: last %.0f, lowest %.0f\n",
               side ? "SQLite" : "hakgal", r->milestone_rate[0],
               r->milestone_rate[r->n_milestones - 1], lo,
               r->milestone_cpu_rate[r->n_milestones - 1], lo_cpu);
    }
    const latency *pairs[4][2] = {{&h->exact, &s->exact},
                                  {&h->exact_parse, &s->exact_parse},
                                  {&h->entity, &s->entity},
                                  {&h->pred_arg0, &s->pred_arg0}};
    bool same = true;
    for (int i = 0; i < 4; i++)
        same &= pairs[i][0]->rows == pairs[i][1]->rows;
    printf("check: rows returned by both stores %s (exact hits %" PRIu64
           "/%u; entity rows %" PRIu64 " vs %" PRIu64
           "; pred+arg0 rows %" PRIu64 " vs %" PRIu64 ")\n",
           same ? "agree" : "DIFFER", h->exact.rows, o->samples, h->entity.rows,
           s->entity.rows, h->pred_arg0.rows, s->pred_arg0.rows);
}

static void json_latency(FILE *f, const char *name, const latency *l, bool last)
{
    fprintf(f,
            "      \"%s\": {\"p50_us\": %.3f, \"p99_us\": %.3f, "
            "\"mean_us\": %.3f, \"samples\": %u, \"rows\": %" PRIu64 "}%s\n",
            name, l->p50_us, l->p99_us, l->mean_us, l->samples, l->rows,
            last ? "" : ",");
}

static void json_store(FILE *f, const char *name, const store_result *r,
                       uint64_t n, bool last)
{
    fprintf(f, "    \"%s\": {\n", name);
    fprintf(f, "      \"ran\": %s,\n", r->ran ? "true" : "false");
    fprintf(f, "      \"ok\": %s,\n", r->ok ? "true" : "false");
    if (r->ran && !r->ok) {
        hk_buf b = HK_BUF_INIT;
        hk_buf_append_json_string(&b, r->error, strlen(r->error));
        fprintf(f, "      \"error\": %s,\n", b.data ? b.data : "\"\"");
        hk_buf_free(&b);
    }
    fprintf(f, "      \"facts\": %" PRIu64 ",\n", r->facts);
    fprintf(f, "      \"load_s\": %.4f,\n", r->load_s);
    fprintf(f, "      \"load_facts_per_s\": %.1f,\n",
            ratio((double)n, r->load_s));
    fprintf(f, "      \"load_cpu_s\": %.4f,\n", r->load_cpu_s);
    fprintf(f, "      \"commit_s\": %.4f,\n", r->commit_s);
    fprintf(f, "      \"auto_compacted\": %s,\n",
            r->auto_compacted ? "true" : "false");
    fprintf(f, "      \"auto_compact_s\": %.4f,\n", r->auto_compact_s);
    fprintf(f, "      \"load_facts_per_cpu_s\": %.1f,\n",
            ratio((double)n, r->load_cpu_s));
    fprintf(f, "      \"load_rate_per_1m\": [");
    for (uint32_t i = 0; i < r->n_milestones; i++)
        fprintf(f, "%s%.1f", i ? ", " : "", r->milestone_rate[i]);
    fprintf(f, "],\n");
    fprintf(f, "      \"load_cpu_rate_per_1m\": [");
    for (uint32_t i = 0; i < r->n_milestones; i++)
        fprintf(f, "%s%.1f", i ? ", " : "", r->milestone_cpu_rate[i]);
    fprintf(f, "],\n");
    fprintf(f, "      \"load_write_bytes\": %" PRIu64 ",\n",
            r->load_write_bytes);
    fprintf(f, "      \"checkpoint_s\": %.4f,\n", r->checkpoint_s);
    fprintf(f, "      \"file_bytes\": %" PRIu64 ",\n", r->file_bytes);
    fprintf(f, "      \"used_bytes\": %" PRIu64 ",\n", r->used_bytes);
    fprintf(f, "      \"free_bytes_before_compaction\": %" PRIu64 ",\n",
            r->free_bytes);
    fprintf(f, "      \"file_bytes_before_compaction\": %" PRIu64 ",\n",
            r->file_bytes_before_compact);
    fprintf(f, "      \"bytes_per_fact_before_compaction\": %.2f,\n",
            ratio((double)r->file_bytes_before_compact, (double)n));
    fprintf(f, "      \"bytes_per_fact\": %.2f,\n",
            ratio((double)r->file_bytes, (double)n));
    fprintf(f, "      \"compact_bytes\": %" PRIu64 ",\n", r->compact_bytes);
    fprintf(f, "      \"compact_bytes_per_fact\": %.2f,\n",
            ratio((double)r->compact_bytes, (double)n));
    fprintf(f, "      \"compact_s\": %.4f,\n", r->compact_s);
    fprintf(f, "      \"rss_after_load_kb\": %ld,\n", r->rss_load_kb);
    fprintf(f, "      \"rss_peak_kb\": %ld,\n", r->rss_peak_kb);
    fprintf(f, "      \"rss_anon_after_load_kb\": %ld,\n", r->rss_anon_kb);
    fprintf(f, "      \"rss_file_after_load_kb\": %ld,\n", r->rss_file_kb);
    json_latency(f, "exact", &r->exact, false);
    json_latency(f, "exact_with_parse", &r->exact_parse, false);
    json_latency(f, "entity_first100", &r->entity, false);
    json_latency(f, "pred_arg0_first100", &r->pred_arg0, true);
    fprintf(f, "    }%s\n", last ? "" : ",");
}

static int write_json(const char *path, const dataset *ds, const bench_opts *o,
                      const store_result *h, const store_result *s,
                      long base_rss_kb, const double load[2])
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    char when[32];
    hk_time_format(hk_now_us(), when);
    fprintf(f, "{\n  \"benchmark\": \"hk_bench\",\n  \"time\": \"%s\",\n",
            when);
    fprintf(f, "  \"n\": %" PRIu64 ",\n  \"seed\": %" PRIu64 ",\n", ds->n,
            o->seed);
    fprintf(f, "  \"entities_vocabulary\": %u,\n", ds->n_entities);
    fprintf(f, "  \"argument_slots\": %" PRIu64 ",\n", ds->n_args_total);
    fprintf(f, "  \"duplicate_draws\": %" PRIu64 ",\n", ds->duplicates);
    fprintf(f, "  \"generate_s\": %.3f,\n", ds->gen_s);
    fprintf(f, "  \"samples\": %u,\n  \"warmup\": %u,\n", o->samples,
            o->warmup);
    fprintf(f, "  \"hakgal_batch\": %" PRIu64 ",\n", o->batch);
    fprintf(f,
            "  \"sqlite\": {\"version\": \"%s\", \"journal_mode\": "
            "\"WAL\", \"synchronous\": \"FULL\", \"cache_size_kib\": "
            "1048576},\n",
            sqlite3_libversion());
    fprintf(f, "  \"base_rss_kb\": %ld,\n", base_rss_kb);
    fprintf(f, "  \"loadavg_start\": %.2f,\n  \"loadavg_end\": %.2f,\n",
            load[0], load[1]);
    fprintf(f, "  \"results\": {\n");
    json_store(f, "hakgal", h, ds->n, false);
    json_store(f, "sqlite", s, ds->n, true);
    fprintf(f, "  },\n  \"ratios\": {\n");
    fprintf(f, "    \"load_rate_hakgal_over_sqlite\": %.3f,\n",
            ratio(s->load_s, h->load_s));
    fprintf(f, "    \"load_cpu_hakgal_over_sqlite\": %.3f,\n",
            ratio(s->load_cpu_s, h->load_cpu_s));
    fprintf(f, "    \"bytes_sqlite_over_hakgal\": %.3f,\n",
            ratio((double)s->file_bytes, (double)h->file_bytes));
    fprintf(f, "    \"exact_p50_sqlite_over_hakgal\": %.3f,\n",
            ratio(s->exact.p50_us, h->exact.p50_us));
    fprintf(f, "    \"entity_p50_sqlite_over_hakgal\": %.3f,\n",
            ratio(s->entity.p50_us, h->entity.p50_us));
    fprintf(f, "    \"pred_arg0_p50_sqlite_over_hakgal\": %.3f\n",
            ratio(s->pred_arg0.p50_us, h->pred_arg0.p50_us));
    fprintf(f, "  }\n}\n");
    return fclose(f) == 0 ? 0 : -1;
}

/* ==== main ==== */

static int usage(FILE *to)
{
    fprintf(to,
            "usage: hk_bench [--n N] [--dir DIR] [--json FILE] [--samples S]"
            " [--warmup W]\n"
            "                [--batch B] [--seed X] [--map-mib M]"
            " [--only hakgal|sqlite] [--keep] [--reuse]\n"
            "                [--hook none|change|each]\n"
            "  --n        facts to load (default 1000000)\n"
            "  --dir      scratch directory (default bench/out/work)\n"
            "  --json     results file (default bench/out/hk_bench-N.json)\n"
            "  --samples  timed operations per query kind (default 20000)\n"
            "  --warmup   untimed operations per kind, all kinds before any\n"
            "             timing, other keys than the timed ones (default "
            "20000)\n"
            "  --batch    hakgal facts per transaction (default 1000000, as\n"
            "             hakgal import)\n"
            "  --map-mib  hakgal map size in MiB (default: the store's)\n"
            "  --keep     keep the databases in DIR\n"
            "  --reuse    skip the loads: query the databases an earlier\n"
            "             --keep run with the same N and seed left in DIR\n"
            "  --hook     a change hook writing an outbox entry during the\n"
            "             hakgal load: per change (an import is one), or\n"
            "             for each imported fact too (default none)\n");
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
    bench_opts o = {.n = 1000000,
                    .dir = "bench/out/work",
                    .json = NULL,
                    .samples = 20000,
                    .warmup = 20000,
                    .batch = 1000000,
                    .seed = HK_GEN_DEFAULT_SEED,
                    .run_hakgal = true,
                    .run_sqlite = true,
                    .keep = false};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        uint64_t v = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(stdout);
        if (!strcmp(a, "--keep")) {
            o.keep = true;
            continue;
        }
        if (!strcmp(a, "--reuse")) {
            o.reuse = o.keep = true;
            continue;
        }
        if (i + 1 >= argc) return usage(stderr);
        const char *val = argv[++i];
        if (!strcmp(a, "--dir")) {
            o.dir = val;
        } else if (!strcmp(a, "--json")) {
            o.json = val;
        } else if (!strcmp(a, "--hook")) {
            o.hook = !strcmp(val, "change") ? 1 : !strcmp(val, "each") ? 2 : 0;
            if (!o.hook && strcmp(val, "none")) return usage(stderr);
        } else if (!strcmp(a, "--only")) {
            o.run_hakgal = !strcmp(val, "hakgal");
            o.run_sqlite = !strcmp(val, "sqlite");
            if (!o.run_hakgal && !o.run_sqlite) return usage(stderr);
        } else if (!parse_u64(val, &v)) {
            return usage(stderr);
        } else if (!strcmp(a, "--n") && v > 0) {
            o.n = v;
        } else if (!strcmp(a, "--samples") && v > 0 && v <= 10000000) {
            o.samples = (uint32_t)v;
        } else if (!strcmp(a, "--warmup") && v <= 10000000) {
            o.warmup = (uint32_t)v;
        } else if (!strcmp(a, "--batch") && v > 0) {
            o.batch = v;
        } else if (!strcmp(a, "--seed")) {
            o.seed = v;
        } else if (!strcmp(a, "--map-mib") && v < (1ull << 40)) {
            o.map_mib = v;
        } else {
            return usage(stderr);
        }
    }
    if (mkdir_p(o.dir) != 0) {
        fprintf(stderr, "hk_bench: cannot create %s: %s\n", o.dir,
                strerror(errno));
        return 1;
    }
    char json_default[PATH_MAX];
    if (!o.json) {
        snprintf(json_default, sizeof json_default,
                 "bench/out/hk_bench-%" PRIu64 ".json", o.n);
        o.json = json_default;
    }

    fprintf(stderr, "hk_bench: generating %" PRIu64 " facts ...\n", o.n);
    dataset ds;
    if (!dataset_build(&ds, &o)) {
        fprintf(stderr, "hk_bench: out of memory generating the data set\n");
        return 1;
    }
    fprintf(stderr,
            "hk_bench: generated in %.2f s (%" PRIu64
            " duplicate draws rejected)\n",
            ds.gen_s, ds.duplicates);
    long base_rss_kb = current_rss_kb();
    double load[2] = {loadavg1(), 0};

    store_result *res = mmap(NULL, 2 * sizeof *res, PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (res == MAP_FAILED) {
        fprintf(stderr, "hk_bench: mmap: %s\n", strerror(errno));
        dataset_free(&ds);
        return 1;
    }
    memset(res, 0, 2 * sizeof *res);
    if (o.reuse) {
        /* Only sizes are known; load figures stay 0. */
        char p[PATH_MAX];
        path_in(p, sizeof p, &o, "hakgal-kb/data.mdb");
        res[0].file_bytes = file_size(p);
        res[0].file_bytes_before_compact = res[0].file_bytes; /* unknown */
        res[0].ran = res[0].ok = o.run_hakgal && res[0].file_bytes > 0;
        res[0].facts = o.n;
        path_in(p, sizeof p, &o, "sqlite.db");
        res[1].file_bytes = file_size(p);
        res[1].ran = res[1].ok = o.run_sqlite && res[1].file_bytes > 0;
        res[1].facts = o.n;
        if (!res[0].ok && !res[1].ok)
            fprintf(stderr, "hk_bench: --reuse: no databases in %s\n", o.dir);
    } else {
        if (o.run_hakgal)
            load_child(load_hakgal, &ds, &o, &res[0], "hakgal load");
        if (o.run_sqlite)
            load_child(load_sqlite, &ds, &o, &res[1], "sqlite load");
    }
    if (res[0].ok || res[1].ok) {
        run_child(run_queries, &ds, &o, res, "queries (interleaved)");
        for (int i = 0; i < 2; i++)
            if (res[i].ran && !res[i].ok)
                fprintf(stderr, "hk_bench: %s queries FAILED: %s\n",
                        i ? "sqlite" : "hakgal", res[i].error);
    }
    if (!o.keep) remove_databases(&o);

    load[1] = loadavg1();
    print_table(&ds, &o, &res[0], &res[1], base_rss_kb);
    printf("machine load average (1 min): %.2f at start, %.2f at end\n",
           load[0], load[1]);
    int rc = (o.run_hakgal && !res[0].ok) || (o.run_sqlite && !res[1].ok);
    char dir_json[PATH_MAX];
    snprintf(dir_json, sizeof dir_json, "%s", o.json);
    char *slash = strrchr(dir_json, '/');
    if (slash) {
        *slash = '\0';
        mkdir_p(dir_json);
    }
    if (write_json(o.json, &ds, &o, &res[0], &res[1], base_rss_kb, load) != 0) {
        fprintf(stderr, "hk_bench: cannot write %s: %s\n", o.json,
                strerror(errno));
        rc = 1;
    } else {
        printf("results: %s\n", o.json);
    }
    munmap(res, 2 * sizeof *res);
    dataset_free(&ds);
    return rc;
}
