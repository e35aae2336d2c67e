/*
 * mcp_tools_hub.c — the project hub tools (project_snapshot,
 * project_list_snapshots, project_hub_digest): adapters of the service's
 * hub operations (src/service/svc_hub.c holds the file format and the
 * reading rules). What stays here is the confinement of hub_path to the
 * directories the operator allowed (mcp_path_allowed), which the service
 * leaves to its callers.
 */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "mcp/mcp_tools.h"

/* ==== project_snapshot ==== */

hk_err mcp_t_project_snapshot(mcp_call *c, json_t **out, hk_error *err)
{
    char *dir = NULL;
    hk_err rc = mcp_path_allowed(c->srv, mcp_arg_str(c, "hub_path", ""),
                                 "hub_path", &dir, err);
    if (rc != HK_OK) return rc;
    hk_svc_hub_snapshot_req req = {dir, mcp_arg_str(c, "title", "Snapshot"),
                                   mcp_arg_str(c, "description", ""),
                                   hk_store_path(mcp_store(c))};
    hk_svc_hub_snapshot_res *res = hk_calloc(1, sizeof *res); /* 8 KiB */
    hk_txn *t = NULL;
    rc = res ? mcp_read_begin(c, &t, err)
             : hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    if (rc == HK_OK) rc = hk_svc_hub_snapshot(t, &req, res, err);
    if (t) hk_txn_abort(t);
    if (rc == HK_OK) {
        *out = json_pack("{s:s, s:s, s:s, s:I}", "file", res->file, "title",
                         req.title, "created", res->created, "facts",
                         (json_int_t)res->facts);
        if (!*out) rc = HK_ERR_NOMEM;
    }
    hk_free(res);
    hk_free(dir);
    return rc;
}

/* ==== project_list_snapshots ==== */

hk_err mcp_t_project_list_snapshots(mcp_call *c, json_t **out, hk_error *err)
{
    size_t limit = (size_t)mcp_arg_int(c, "limit", 20);
    char *dir = NULL;
    json_t *arr = NULL;
    hk_err rc = mcp_path_allowed(c->srv, mcp_arg_str(c, "hub_path", ""),
                                 "hub_path", &dir, err);
    if (rc == HK_OK) rc = hk_svc_hub_list(dir, limit, &arr, err);
    if (rc == HK_OK) {
        *out = json_pack("{s:s, s:I, s:o}", "hub_path", dir, "count",
                         (json_int_t)json_array_size(arr), "snapshots", arr);
        if (!*out) rc = HK_ERR_NOMEM;
    }
    hk_free(dir);
    return rc;
}

/* ==== project_hub_digest ==== */

hk_err mcp_t_project_hub_digest(mcp_call *c, json_t **out, hk_error *err)
{
    size_t limit = (size_t)mcp_arg_int(c, "limit_files", 3);
    size_t max_chars = (size_t)mcp_arg_int(c, "max_chars", 20000);
    char *dir = NULL;
    hk_svc_hub_digest_res res;
    memset(&res, 0, sizeof res);
    hk_err rc = mcp_path_allowed(c->srv, mcp_arg_str(c, "hub_path", ""),
                                 "hub_path", &dir, err);
    if (rc == HK_OK) rc = hk_svc_hub_digest(dir, limit, max_chars, &res, err);
    if (rc == HK_OK) {
        *out = json_pack("{s:s, s:O, s:s, s:b}", "hub_path", dir, "files",
                         res.files, "digest",
                         res.digest.data ? res.digest.data : "", "truncated",
                         res.truncated);
        if (!*out) rc = HK_ERR_NOMEM;
    }
    hk_svc_hub_digest_res_free(&res);
    hk_free(dir);
    return rc;
}
