/*
 * routes_growth.c — GET /v2/stats/growth?days=N: facts added and deleted
 * per UTC day (hk_svc_growth_daily; the same JSON as `hakgal growth
 * --json`). O(days) on the loop thread: the counters are kept current by
 * the change hook of the server's handle.
 */
#include <string.h>

#include "core/buf.h"
#include "server/routes.h"

static hk_err growth_body(hk_txn *t, void *arg, hk_buf *out, hk_error *err)
{
    hk_svc_growth_daily_res res;
    hk_err e = hk_svc_growth_daily(t, arg, &res, err);
    if (!e) e = hk_svc_growth_daily_write_json(&res, out);
    hk_svc_growth_daily_res_free(&res);
    return e;
}

void hk_route_growth(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    bool bad = false;
    const char *v = hk_query_param(req, "days", &bad);
    uint64_t days = 30;
    if (bad || (v && (!hk_svc_parse_positive(v, &days) || days > 36600))) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "days must be a whole number 1..36600", "days");
        return;
    }
    hk_svc_growth_daily_req r = {srv->store, (uint32_t)days, 0};
    hk_route_read(req, 200, growth_body, &r);
}
