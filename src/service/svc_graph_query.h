/*
 * service/svc_graph_query.h — multi-pattern (conjunctive) queries as one
 * service operation for the CLI, REST and MCP (engine: src/query).
 */
#ifndef HK_SVC_GRAPH_QUERY_H
#define HK_SVC_GRAPH_QUERY_H

#include "query/query.h"

/* Defaults of every adapter: rows per page and the run budget. */
#define HK_SVC_GQ_LIMIT 100u
#define HK_SVC_GQ_MAX_LIMIT 100000u
#define HK_SVC_GQ_TIMEOUT_US 10000000  /* 10 s */
#define HK_SVC_GQ_MAX_FACTS 100000000u /* facts read per page */

typedef struct hk_svc_gq_req {
    const char *text;   /* the query (NUL-terminated) */
    const char *cursor; /* NULL/"" = first page */
    uint64_t limit;     /* rows per page; 0 = HK_SVC_GQ_LIMIT */
    int64_t timeout_us; /* 0 = HK_SVC_GQ_TIMEOUT_US */
    uint64_t max_facts; /* 0 = HK_SVC_GQ_MAX_FACTS */
    hkq_out_fn row;     /* receives rows */
    void *row_ud;       /* passed to row */
} hk_svc_gq_req;

typedef struct hk_svc_gq_res {
    hkq_exec_res exec; /* count, next cursor, plan and counters */
    hkq_query *q;      /* the parsed query (for explain) */
} hk_svc_gq_res;

/* Parses, plans and runs req->text in t, streaming rows to req->row.
 * Parse errors are HK_ERR_INVALID with the column; budgets HK_ERR_LIMIT.
 * Release res with hk_svc_gq_res_free (also after an error). */
hk_err hk_svc_graph_query(hk_txn *t, const hk_svc_gq_req *req,
                          hk_svc_gq_res *res, hk_error *err);
void hk_svc_gq_res_free(hk_svc_gq_res *res);

/* Appends {"bindings":{var:value,...},"facts":[id,...]}. */
hk_err hk_svc_gq_row_json(const hkq_out_row *row, hk_buf *out);
/* Appends the plan as a JSON array of {"step","pattern","access","key_arg",
 * "estimate","rows","facts_read"}. */
hk_err hk_svc_gq_plan_json(const hk_svc_gq_res *res, hk_buf *out);

#endif /* HK_SVC_GRAPH_QUERY_H */
