/*
 * svc_llm.h — the service operations of grounded model use (src/llm):
 * ask (retrieve, prompt, answer, check), extract (text -> proposals in the
 * review queue), review (list, approve, reject) and the model switch.
 * Same conventions as service.h: reads take the caller's txn; writes are
 * apply steps of src/llm (hk_llm_enqueue_apply, hk_llm_decide_apply,
 * hk_llm_switch_apply) that the adapters run through their writer or
 * hk_svc_write. The KB must have been attached with hk_llm_attach by a
 * writable open before queue writes.
 */
#ifndef HK_SVC_LLM_H
#define HK_SVC_LLM_H

#include <jansson.h>

#include "hakgal.h"
#include "llm/llm.h"

/* ==== Ask ==== */

typedef struct hk_svc_ask_req {
    hk_store *s;              /* the KB (for the model switch) */
    const char *question;     /* 1..4096 bytes of UTF-8 */
    hk_llm_client *client;    /* the model; NULL: retrieval only */
    unsigned budget_tokens;   /* facts block budget (0: 2000) */
    size_t search_limit;      /* search hits (0: 20) */
    struct hkv_store *vs;     /* the KB's vector module, or NULL */
    const char *search;       /* "text", "vector" or "hybrid" (NULL:
                                 hybrid, which is the text search when no
                                 vector space has an embedder) */
    hk_llm_delta_fn on_delta; /* stream the model's text, or NULL */
    void *ud;                 /* passed to on_delta */
} hk_svc_ask_req;

typedef struct hk_svc_ask_res {
    hk_llm_context ctx;         /* the retrieval used (owned) */
    hk_llm_answer ans;          /* answer, citations, claims (owned) */
    bool model_used;            /* false: retrieval only */
    char note[200];             /* why retrieval only, "" otherwise */
    char model[128];            /* model that answered */
    char prompt_hash[65];       /* SHA-256 hex of system + user prompt */
    uint64_t prompt_tokens;     /* usage reported by the endpoint */
    uint64_t completion_tokens; /* usage reported by the endpoint */
    unsigned attempts;          /* HTTP attempts */
    double retrieve_ms;         /* time for retrieval and prompt */
    double model_ms;            /* time waiting for the model */
    double check_ms;            /* time for citation and claim checks */
    const char *search;         /* the search mode used (static) */
    size_t derived;             /* derived facts put in the context */
    bool derived_truncated;     /* their scan stopped at its bound */
} hk_svc_ask_res;

/* Retrieves context for the question in t, asks the model (unless client
 * is NULL or the KB's model switch is off: then the answer is the
 * retrieval alone and note says why), and checks the answer's citations
 * and claims in t. Errors: HK_ERR_INVALID (field "question"), the
 * client's errors (HK_ERR_IO, HK_ERR_LIMIT, ...). Caller frees res with
 * hk_svc_ask_res_free (also after an error). */
hk_err hk_svc_ask(hk_txn *t, const hk_svc_ask_req *req, hk_svc_ask_res *res,
                  hk_error *err);
void hk_svc_ask_res_free(hk_svc_ask_res *res);
/* {"question", "mode", "note", "answer", "structured", "citations",
 * "invalid_citations", "claims", "context", "model", "prompt_hash",
 * "usage", "timing_ms"}. NULL when out of memory. */
json_t *hk_svc_ask_json(const char *question, const hk_svc_ask_res *res);

/* Proposals (origin "ask") from the answer's claims that are statements
 * the KB neither holds nor contradicts (verdict unknown), with the model,
 * prompt hash and the answer text as span. *out (caller frees with
 * hk_llm_proposals_free) may be empty; ids[] (n entries, owned by the
 * caller) take the queue ids of hk_llm_enqueue_apply. */
hk_err hk_svc_ask_proposals(const hk_svc_ask_res *res, hk_llm_proposal **out,
                            size_t *n, hk_error *err);

/* ==== Extract ==== */

#define HK_SVC_EXTRACT_MAX_BYTES (256u << 10) /* text per extraction */
#define HK_SVC_EXTRACT_MAX_FACTS 200u         /* proposals per extraction */

typedef struct hk_svc_extract_req {
    hk_store *s;           /* the KB (for the model switch) */
    hk_llm_client *client; /* the model (required) */
    const char *text;      /* the document */
    size_t len;            /* its bytes (1..HK_SVC_EXTRACT_MAX_BYTES) */
    const char *source;    /* document name (file), or NULL */
} hk_svc_extract_req;

typedef struct hk_svc_extract_res {
    hk_llm_proposal *props; /* valid proposals, canonical (owned) */
    size_t n;               /* entries in props */
    uint64_t *ids;          /* n queue ids, filled by the enqueue step */
    char **invalid;         /* model lines that are not statements */
    size_t n_invalid;       /* entries in invalid */
    char model[128];        /* model that answered */
    char prompt_hash[65];   /* SHA-256 hex of the prompt */
} hk_svc_extract_res;

/* Asks the model in t's absence (no transaction: it only reads the model
 * switch in t when t is not NULL) for statements in hakgal's syntax from
 * the text. Nothing is written: the caller enqueues res->props with
 * hk_llm_enqueue_apply (arg from hk_svc_extract_enqueue_arg). The text is
 * data to the model; whatever it says, its output can only become
 * proposals. Caller frees res with hk_svc_extract_res_free. */
hk_err hk_svc_extract(hk_txn *t, const hk_svc_extract_req *req,
                      hk_svc_extract_res *res, hk_error *err);
void hk_svc_extract_res_free(hk_svc_extract_res *res);
hk_llm_enqueue_arg hk_svc_extract_enqueue_arg(hk_store *s,
                                              hk_svc_extract_res *res);
json_t *hk_svc_extract_json(const hk_svc_extract_res *res);

/* ==== Review ==== */

/* JSON of a proposal. NULL when out of memory. */
json_t *hk_svc_proposal_json(const hk_llm_proposal *p);

/* ==== Link suggestions of the learned model ==== */

struct hkl_model;

/* Apply step (may run twice): predicts pattern's unknown with the learned
 * model in t ('P(a, ?x)', 'P(?x, b)' or '?r(a, b)', k best, 1..1000, 0:
 * 10) and queues for review every candidate that is not a fact, is at
 * least min_plausibility plausible and is not pending already (origin
 * "model", model "learn:KIND", source the pattern, span its plausibility
 * and rank). Errors as hk_svc_model_predict. */
typedef struct hk_svc_suggest_op {
    hk_store *s;               /* the KB (review queue attached) */
    const struct hkl_model *m; /* the learned model */
    const char *pattern;       /* the pattern */
    uint32_t k;                /* candidates considered */
    double min_plausibility;   /* 0..1 */
    /* out, replaced by every run */
    hk_llm_proposal *props;       /* queued proposals (owned) */
    uint64_t *ids;                /* their queue ids */
    double *plausibility;         /* their plausibility */
    size_t n;                     /* entries in the three */
    size_t considered;            /* candidates the model gave */
    size_t known, pending, below; /* skipped: facts, already queued, under
                                     min_plausibility */
} hk_svc_suggest_op;
hk_err hk_svc_suggest_apply(hk_txn *t, void *arg, hk_error *err);
void hk_svc_suggest_free(hk_svc_suggest_op *op);
/* {"pattern", "proposed": [{"id", "statement", "plausibility"}],
 * "considered", "skipped": {"known", "pending", "below"}}. */
json_t *hk_svc_suggest_json(const hk_svc_suggest_op *op);

#endif /* HK_SVC_LLM_H */
