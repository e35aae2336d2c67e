/*
 * grpc_review.c — the review queue methods of hakgal.v2.Hakgal
 * (ListReview, ApproveProposal, RejectProposal) over the operations the
 * REST routes of src/server/routes_llm.c call (hk_llm_review_list,
 * hk_llm_decide_apply), with the same checks and roles: listing needs a
 * read token, a decision a review token. The caller's token name is the
 * reviewer and the audit actor.
 */
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "grpc/grpc_int.h"
#include "service/svc_llm.h"

/* ==== ListReview ==== */

/* The Proposal message of p; its strings point into p and into times
 * (two 32-byte slots), valid while both are. */
static void proposal_msg(const hk_llm_proposal *p, char (*times)[32],
                         Hakgal__V2__Proposal *m)
{
    hakgal__v2__proposal__init(m);
    m->id = p->id;
    m->status = (char *)hk_llm_status_name(p->status);
    m->statement = p->statement ? p->statement : "";
    m->model = p->model ? p->model : "";
    m->prompt_hash = p->prompt_hash ? p->prompt_hash : "";
    m->origin = p->origin ? p->origin : "";
    m->source = p->source ? p->source : "";
    m->span = p->span ? p->span : "";
    m->span_start = p->span ? p->span_start : 0;
    m->span_end = p->span ? p->span_end : 0;
    times[0][0] = times[1][0] = '\0';
    if (p->created_us) hk_time_format(p->created_us, times[0]);
    if (p->decided_us) hk_time_format(p->decided_us, times[1]);
    m->created = times[0];
    m->decided = times[1];
    m->reviewer = p->reviewer ? p->reviewer : "";
    m->final_statement = p->final_statement ? p->final_statement : "";
    m->fact = p->fact;
}

void hk_grpc_list_review(hk_grpc_call *c)
{
    const Hakgal__V2__ListReviewRequest *q = (void *)c->req;
    const hk_server_config *cfg = hk_server_get_config(c->srv);
    bool any = false;
    hk_llm_status status = HK_LLM_PENDING;
    if (q->status && !strcmp(q->status, "all")) {
        any = true;
    } else if (q->status && q->status[0] &&
               !hk_llm_status_parse(q->status, &status)) {
        hk_grpc_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
                       "status is pending, approved, rejected or all",
                       "status");
        return;
    }
    size_t limit = cfg->default_limit;
    if (q->limit > cfg->max_limit) {
        char msg[96];
        snprintf(msg, sizeof msg, "limit %llu is over max-limit %u",
                 (unsigned long long)q->limit, cfg->max_limit);
        hk_grpc_finish(c, GRPC_STATUS_INVALID_ARGUMENT, msg, "limit");
        return;
    }
    if (q->limit) limit = (size_t)q->limit;
    hk_txn *t = hk_grpc_read_txn(c);
    if (!t) return;
    hk_error err;
    hk_error_clear(&err);
    hk_llm_proposal *v = NULL;
    size_t n = 0;
    hk_err rc = hk_llm_review_list(hk_server_store(c->srv), t, any, status,
                                   q->after, limit, &v, &n, &err);
    if (rc != HK_OK) {
        hk_grpc_fail(c, &err);
        return;
    }
    Hakgal__V2__Proposal *m = n ? hk_calloc(n, sizeof *m) : NULL;
    Hakgal__V2__Proposal **mp = n ? hk_calloc(n, sizeof *mp) : NULL;
    char(*times)[32] = n ? hk_calloc(2 * n, sizeof *times) : NULL;
    if (n && (!m || !mp || !times)) {
        hk_grpc_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory",
                       NULL);
    } else {
        for (size_t i = 0; i < n; i++) {
            proposal_msg(&v[i], &times[2 * i], &m[i]);
            mp[i] = &m[i];
        }
        Hakgal__V2__ListReviewResponse a =
            HAKGAL__V2__LIST_REVIEW_RESPONSE__INIT;
        a.n_proposals = n;
        a.proposals = mp;
        a.next_after = n && n == limit ? v[n - 1].id : 0; /* as REST */
        hk_grpc_reply(c, &a.base);
    }
    hk_free(times);
    hk_free(mp);
    hk_free(m);
    hk_llm_proposals_free(v, n);
}

/* ==== ApproveProposal, RejectProposal ==== */

static void decide(hk_grpc_call *c, bool approve)
{
    const Hakgal__V2__ReviewDecisionRequest *q = (void *)c->req;
    if (q->id == 0) {
        hk_grpc_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
                       "the id is a positive integer", "id");
        return;
    }
    hk_llm_decide_arg a;
    memset(&a, 0, sizeof a);
    a.s = hk_server_store(c->srv);
    a.id = q->id;
    a.approve = approve;
    a.edit = approve && q->statement && q->statement[0] ? q->statement : NULL;
    a.note = q->note && q->note[0] ? q->note : NULL;
    a.reviewer = c->who.name;
    hk_error err;
    hk_error_clear(&err);
    hk_err rc = hk_server_write_sync(c->srv, hk_llm_decide_apply, &a,
                                     c->who.name, &err);
    if (rc != HK_OK) {
        hk_grpc_fail(c, &err);
        return;
    }
    Hakgal__V2__ReviewDecisionResponse r =
        HAKGAL__V2__REVIEW_DECISION_RESPONSE__INIT;
    r.id = a.id;
    r.status = approve ? "approved" : "rejected";
    r.fact = a.fact;
    r.created = a.created;
    r.reviewer = (char *)c->who.name;
    hk_grpc_reply(c, &r.base);
}

void hk_grpc_approve_proposal(hk_grpc_call *c)
{
    decide(c, true);
}

void hk_grpc_reject_proposal(hk_grpc_call *c)
{
    decide(c, false);
}
