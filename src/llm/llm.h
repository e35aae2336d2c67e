/*
 * llm.h — grounded use of language models: an OpenAI-compatible client,
 * retrieval and prompt building over the KB, claim checks against the
 * facts, and the review queue through which model proposals (and only
 * through a person's approval) become facts.
 *
 * hakgal never loads weights: every model is an endpoint speaking the
 * OpenAI HTTP API (llama.cpp's server, Ollama, vLLM, hosted services).
 *
 * ==== Parts ====
 *   llm_config.c   endpoints from the environment, a config file, flags
 *   llm_client.c   chat completions (plain and streamed as SSE), JSON
 *                  schema output, embeddings, timeouts, retries with
 *                  backoff, a per-client concurrency limit with a queue,
 *                  process-wide counters for /metrics
 *   llm_context.c  retrieval (text search + entity neighbourhoods) and the
 *                  prompt with numbered facts within a token budget
 *   llm_claim.c    the model's answer decoded, citations validated, each
 *                  claim checked: supported / contradicted / unknown
 *   llm_review.c   the review queue and the model switch, both module
 *                  databases of the KB (llm.review, llm.meta)
 *   llm_instruct.c chat-format JSONL from the facts for fine-tuning
 *
 * ==== Threads ====
 * A client may be shared by threads (its limiter is a mutex + condition
 * variable); the counters are atomics. Everything that reads the KB runs
 * on the caller's hk_txn (one thread per txn). Writes are apply steps
 * (hk_svc_apply_fn shape) that may run twice and reset their results.
 */
#ifndef HK_LLM_H
#define HK_LLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hakgal.h"

/* ==== Configuration (llm_config.c) ==== */

#define HK_LLM_ENDPOINTS_MAX 8u /* named endpoints in one configuration */

typedef struct hk_llm_endpoint {
    char name[64];         /* "default" or the config file's name */
    char base_url[512];    /* e.g. http://127.0.0.1:8080/v1 */
    char api_key[512];     /* bearer token, "" for none */
    char model[128];       /* chat model */
    char embed_model[128]; /* embedding model, "" for none */
    unsigned timeout_ms;   /* whole request, per attempt (default 120000) */
    unsigned connect_ms;   /* connection setup (default 5000) */
    unsigned retries;      /* extra attempts on 429/5xx/network (dflt 3) */
    unsigned backoff_ms;   /* first backoff; doubles, with jitter (500) */
    unsigned concurrency;  /* requests in flight at most (default 4) */
    unsigned queue_max;    /* requests waiting at most (default 64) */
    bool json_schema;      /* send response_format json_schema (default
                              true; false: ask for JSON in the prompt) */
} hk_llm_endpoint;

typedef struct hk_llm_config {
    hk_llm_endpoint ep[HK_LLM_ENDPOINTS_MAX]; /* named endpoints */
    size_t n;                                 /* entries in ep */
    unsigned budget_tokens; /* context facts in the prompt, in estimated
                               tokens (default 2000) */
} hk_llm_config;

/* Fills cfg from, in increasing precedence: defaults, the config file
 * (path, else $HAKGAL_LLM_CONFIG, else none) and the environment
 * (OPENAI_BASE_URL, OPENAI_API_KEY, HAKGAL_LLM_MODEL, HAKGAL_EMBED_MODEL
 * set the endpoint "default"). The file holds `key = value` lines:
 * `endpoint.NAME.KEY` with KEY one of base_url, api_key, model,
 * embed_model, timeout_ms, connect_ms, retries, backoff_ms, concurrency,
 * queue_max, json_schema; and `budget_tokens`. '#' starts a comment.
 * Errors name the line (err->line) and key. */
hk_err hk_llm_config_load(hk_llm_config *cfg, const char *path, hk_error *err);
/* Sets endpoint name's key to value (flags; creates the endpoint). */
hk_err hk_llm_config_set(hk_llm_config *cfg, const char *name, const char *key,
                         const char *value, hk_error *err);
/* The endpoint called name (NULL: "default", else the only one) that has
 * a base URL and a model, or HK_ERR_NOT_FOUND with a message that says
 * exactly what is missing and how to set it. */
hk_err hk_llm_config_pick(const hk_llm_config *cfg, const char *name,
                          const hk_llm_endpoint **out, hk_error *err);

/* ==== Client (llm_client.c) ==== */

typedef struct hk_llm_client hk_llm_client;

/* Copies ep. Caller frees with hk_llm_client_free (after every call on it
 * has returned). */
hk_err hk_llm_client_new(const hk_llm_endpoint *ep, hk_llm_client **out,
                         hk_error *err);
void hk_llm_client_free(hk_llm_client *c);
const hk_llm_endpoint *hk_llm_client_endpoint(const hk_llm_client *c);

typedef struct hk_llm_msg {
    const char *role;    /* "system", "user", "assistant" */
    const char *content; /* UTF-8 text */
} hk_llm_msg;

/* Receives streamed text as it arrives; a non-OK return stops the
 * request (the call returns that code). */
typedef hk_err (*hk_llm_delta_fn)(void *ud, const char *text, size_t len);

typedef struct hk_llm_chat_req {
    const hk_llm_msg *msgs;   /* the conversation */
    size_t n_msgs;            /* entries in msgs (1..64) */
    const char *schema_json;  /* JSON schema of the answer, or NULL */
    const char *schema_name;  /* its name (response_format), or NULL */
    double temperature;       /* 0..2 */
    unsigned max_tokens;      /* 0: the endpoint's default */
    hk_llm_delta_fn on_delta; /* set: stream (SSE) and call it per chunk */
    void *ud;                 /* passed to on_delta */
} hk_llm_chat_req;

typedef struct hk_llm_chat_res {
    char *content;              /* the whole answer text (owned) */
    size_t len;                 /* bytes in content */
    char model[128];            /* model that answered (as reported) */
    char finish[32];            /* finish_reason, "" when not given */
    uint64_t prompt_tokens;     /* usage, 0 when not reported */
    uint64_t completion_tokens; /* usage, 0 when not reported */
    unsigned attempts;          /* HTTP attempts made (1 + retries) */
    int64_t wait_us;            /* time spent queued for a slot */
} hk_llm_chat_res;

/* One chat completion. Retries 429 and 5xx answers and network errors up
 * to ep.retries times, waiting backoff_ms * 2^k with jitter (or the
 * Retry-After the endpoint sent, up to 60 s). Errors: HK_ERR_LIMIT when
 * the client's queue is full, HK_ERR_IO for network/timeouts/HTTP errors
 * (message has the status and the endpoint's error text), HK_ERR_INVALID
 * when the endpoint's answer is not an OpenAI completion. Caller frees
 * res with hk_llm_chat_res_free. */
hk_err hk_llm_chat(hk_llm_client *c, const hk_llm_chat_req *req,
                   hk_llm_chat_res *res, hk_error *err);
void hk_llm_chat_res_free(hk_llm_chat_res *res);

/* Embeddings of n texts (1..256) with ep.embed_model: *vecs gets n * *dim
 * floats, row by row (caller frees with hk_free). */
hk_err hk_llm_embed(hk_llm_client *c, const char *const *texts, size_t n,
                    float **vecs, uint32_t *dim, hk_error *err);

/* The process's shared client of the endpoint the environment and
 * $HAKGAL_LLM_CONFIG name (hk_llm_config_load, hk_llm_config_pick with
 * no name), made on first use and kept until exit; for servers whose
 * requests share one limiter. NULL with *err saying what is missing when
 * no endpoint is configured. Any thread. */
hk_llm_client *hk_llm_shared_client(hk_error *err);

/* Process-wide counters of every client. */
typedef struct hk_llm_counters {
    uint64_t requests;          /* chat/embedding calls started */
    uint64_t failures;          /* calls that returned an error */
    uint64_t retries;           /* extra HTTP attempts */
    uint64_t queued;            /* callers waiting for a slot now */
    uint64_t in_flight;         /* calls holding a slot now */
    uint64_t wait_us;           /* total time spent waiting for a slot */
    uint64_t prompt_tokens;     /* usage reported by endpoints */
    uint64_t completion_tokens; /* usage reported by endpoints */
} hk_llm_counters;
void hk_llm_counters_get(hk_llm_counters *out);
/* Appends the counters in Prometheus text format (hakgal_llm_*). */
hk_err hk_llm_metrics_render(hk_buf *out);

/* ==== Retrieval and prompt (llm_context.c) ==== */

#define HK_LLM_CONTEXT_MAX 512u /* facts in one context */
#define HK_LLM_PREMISES_MAX 8u  /* asserted premises named per derived fact */

typedef struct hk_llm_ctx_fact {
    hk_fact_id id;   /* the fact; 0 for a derived fact (no id) */
    char *statement; /* canonical statement (owned) */
    const char *why; /* "search", "neighbourhood", "derived" or "premise"
                        (static) */
    char *rule;      /* derived: the rule that derived it (owned), or NULL */
    hk_fact_id premises[HK_LLM_PREMISES_MAX]; /* derived: asserted facts its
                                                 proof rests on */
    uint32_t n_premises;                      /* entries in premises */
} hk_llm_ctx_fact;

typedef struct hk_llm_context {
    hk_llm_ctx_fact *facts; /* in prompt order (owned) */
    size_t n;               /* entries in facts */
    size_t dropped;         /* retrieved facts left out by the budget */
    unsigned tokens;        /* estimated tokens of the facts block */
    char **entities;        /* entities whose neighbourhood was read */
    size_t n_entities;      /* entries in entities */
} hk_llm_context;

typedef struct hk_llm_retrieve_req {
    const char *question;   /* the user's question */
    size_t search_limit;    /* text-search hits (0: 20) */
    size_t hood_limit;      /* facts per matched entity (0: 20) */
    size_t max_entities;    /* matched entities expanded (0: 5) */
    unsigned budget_tokens; /* facts block budget (0: 2000) */
    const hk_fact_id *hits; /* with use_hits: the ranked hits the caller
                               found (e.g. a hybrid search), best first */
    size_t n_hits;          /* entries in hits */
    bool use_hits;          /* take hits instead of the text search */
} hk_llm_retrieve_req;

/* Text search for the question (or the caller's hits), then the facts
 * around the entities of the best hits, deduplicated, cut at the token
 * budget (4 bytes per token, estimated). Caller frees ctx with
 * hk_llm_context_free. */
hk_err hk_llm_retrieve(hk_txn *t, const hk_llm_retrieve_req *req,
                       hk_llm_context *ctx, hk_error *err);
void hk_llm_context_free(hk_llm_context *ctx);
/* True when id was in ctx. */
bool hk_llm_context_has(const hk_llm_context *ctx, hk_fact_id id);
/* Appends an asserted fact (id, statement) with reason why (static) unless
 * it is there already; *added says whether it was. A fact beyond
 * budget_tokens or HK_LLM_CONTEXT_MAX is counted in dropped instead. */
hk_err hk_llm_context_add_fact(hk_llm_context *ctx, hk_fact_id id,
                               const char *statement, const char *why,
                               unsigned budget_tokens, bool *added);
/* Appends a derived fact (statement, rule, the asserted premises of its
 * proof, at most HK_LLM_PREMISES_MAX) unless the statement is there
 * already, within budget_tokens as hk_llm_context_add_fact. Shown to the
 * model as "[derived by rule R from #1, #2] Statement". */
hk_err hk_llm_context_add_derived(hk_llm_context *ctx, const char *statement,
                                  const char *rule, const hk_fact_id *premises,
                                  size_t n_premises, unsigned budget_tokens,
                                  bool *added);

/* The system and user prompts of an answer over ctx (caller frees both
 * buffers). The facts appear as "[#ID] Statement" lines. */
hk_err hk_llm_ask_prompt(const hk_llm_context *ctx, const char *question,
                         hk_buf *system, hk_buf *user);
/* The JSON schema of an answer (static). */
const char *hk_llm_ask_schema(void);

/* ==== Answers and claims (llm_claim.c) ==== */

typedef enum hk_llm_verdict {
    HK_LLM_UNKNOWN = 0,     /* the KB neither holds nor contradicts it */
    HK_LLM_SUPPORTED = 1,   /* a fact states it */
    HK_LLM_CONTRADICTED = 2 /* a fact or a constraint conflicts with it */
} hk_llm_verdict;
/* "unknown", "supported", "contradicted". Static. */
const char *hk_llm_verdict_name(hk_llm_verdict v);

typedef struct hk_llm_claim {
    char *statement;          /* as the model stated it (owned) */
    char *canonical;          /* canonical form, NULL when not a statement */
    hk_llm_verdict verdict;   /* the check's result */
    hk_fact_id evidence;      /* supporting or conflicting fact, or 0 */
    char *evidence_statement; /* its statement (owned), or NULL */
    char rule[32];            /* "fact", "negation", "functional", "derived",
                                 "derived-negation", "" */
    char *proof;              /* derived: the derivation tree as JSON (rules.h,
                                 hkr_why_json; owned), or NULL */
    char note[160];           /* why, for people */
} hk_llm_claim;

/* Checks one claim (a statement in hakgal's syntax) against the facts:
 * the exact fact -> supported; its negation (NotP, or NegationOf(N, P)
 * declarations, either way round) -> contradicted; Functional(P) with
 * P(a, y), y != b, for a claim P(a, b) -> contradicted; else unknown.
 * Fills c (whose statement the caller set); frees nothing it did not
 * allocate. */
hk_err hk_llm_claim_check(hk_txn *t, hk_llm_claim *c, hk_error *err);
void hk_llm_claim_release(hk_llm_claim *c);

typedef struct hk_llm_citation {
    hk_fact_id id;   /* as cited */
    bool exists;     /* a fact with this id exists */
    bool in_context; /* the id was in the prompt's context */
} hk_llm_citation;

typedef struct hk_llm_answer {
    char *answer;               /* the answer text (owned) */
    bool structured;            /* the model's output was the JSON asked
                                   for (false: raw text, [#n] citations) */
    hk_llm_citation *citations; /* distinct, in order cited (owned) */
    size_t n_citations;         /* entries in citations */
    hk_llm_claim *claims;       /* checked claims (owned) */
    size_t n_claims;            /* entries in claims */
} hk_llm_answer;

#define HK_LLM_CLAIMS_MAX 64u     /* claims checked per answer */
#define HK_LLM_CITATIONS_MAX 256u /* citations kept per answer */

/* Decodes the model's output text, validates its citations against ctx
 * and the KB, and checks every claim. Output that is not the requested
 * JSON is kept as the answer text with structured = false and the
 * citations written as [#ID]. Caller frees a with hk_llm_answer_free. */
hk_err hk_llm_answer_check(hk_txn *t, const hk_llm_context *ctx,
                           const char *output, size_t len, hk_llm_answer *a,
                           hk_error *err);
void hk_llm_answer_free(hk_llm_answer *a);

/* ==== Review queue and switches (llm_review.c) ==== */

typedef enum hk_llm_status {
    HK_LLM_PENDING = 0,  /* waits for a reviewer */
    HK_LLM_APPROVED = 1, /* became (or merged into) a fact */
    HK_LLM_REJECTED = 2  /* refused by a reviewer */
} hk_llm_status;
/* "pending", "approved", "rejected". Static. */
const char *hk_llm_status_name(hk_llm_status s);
bool hk_llm_status_parse(const char *s, hk_llm_status *out);

/* A proposal as stored. Strings are owned (hk_llm_proposal_release). */
typedef struct hk_llm_proposal {
    uint64_t id;           /* queue id (> 0, grows) */
    hk_llm_status status;  /* state */
    char *statement;       /* canonical statement proposed */
    char *model;           /* model that proposed it */
    char *prompt_hash;     /* SHA-256 hex of the prompt */
    char *origin;          /* "extract", "ask", ... */
    char *source;          /* document name, or NULL */
    char *span;            /* the source text it came from, or NULL */
    uint64_t span_start;   /* byte offset of span in the source */
    uint64_t span_end;     /* end offset (exclusive); 0,0: unknown */
    int64_t created_us;    /* when it was queued */
    char *reviewer;        /* who decided, or NULL */
    int64_t decided_us;    /* when, or 0 */
    char *final_statement; /* what was added (an edit), or NULL */
    hk_fact_id fact;       /* the fact approval added or merged into */
} hk_llm_proposal;
void hk_llm_proposal_release(hk_llm_proposal *p);

/* Registers the module databases on s (a write open creates them) and
 * the change hook that refuses every fact change while the KB is
 * switched read-only (hk_llm_kb_mode_apply): whatever the writer (REST,
 * MCP, CLI, import, review approval), if it attached. Attaching twice is
 * harmless. */
hk_err hk_llm_attach(hk_store *s, hk_error *err);

/* Apply step: appends the proposals in[0..n) (status pending; id, times
 * and reviewer fields are set here) and gives their ids in ids[]. The
 * statements must be canonical (the caller parsed them). */
typedef struct hk_llm_enqueue_arg {
    hk_store *s;               /* the KB (attached) */
    const hk_llm_proposal *in; /* proposals */
    size_t n;                  /* entries in in */
    uint64_t *ids;             /* out: n queue ids */
} hk_llm_enqueue_arg;
hk_err hk_llm_enqueue_apply(hk_txn *t, void *arg, hk_error *err);

/* Proposals with status (or any when any_status), ids > after, at most
 * limit. Caller frees with hk_llm_proposals_free. */
hk_err hk_llm_review_list(hk_store *s, hk_txn *t, bool any_status,
                          hk_llm_status status, uint64_t after, size_t limit,
                          hk_llm_proposal **out, size_t *n, hk_error *err);
hk_err hk_llm_review_get(hk_store *s, hk_txn *t, uint64_t id,
                         hk_llm_proposal *out, hk_error *err);
void hk_llm_proposals_free(hk_llm_proposal *v, size_t n);

/* Apply step: approve (optionally with an edited statement) or reject
 * pending proposal id. Approval adds the fact with source
 * "review:<id>" and the provenance (model, prompt hash, span, reviewer)
 * in its context; the txn's actor (the reviewer) is the audit actor of
 * the add. Both write an audit entry "review". HK_ERR_NOT_FOUND for an
 * unknown id, HK_ERR_EXISTS when it was already decided, HK_ERR_INVALID
 * (field "statement") for an edit that is not a statement. */
typedef struct hk_llm_decide_arg {
    hk_store *s;          /* the KB (attached) */
    uint64_t id;          /* the proposal */
    bool approve;         /* approve, else reject */
    const char *edit;     /* approve this statement instead, or NULL */
    const char *reviewer; /* recorded in the proposal */
    const char *note;     /* reason given, or NULL */
    hk_fact_id fact;      /* out: the fact added (approve) */
    bool created;         /* out: the fact is new */
} hk_llm_decide_arg;
hk_err hk_llm_decide_apply(hk_txn *t, void *arg, hk_error *err);

/* The model switch, kept in the KB: off means no command or route calls a
 * model (ask answers from retrieval only). */
hk_err hk_llm_models_enabled(hk_store *s, hk_txn *t, bool *on, hk_error *err);
typedef struct hk_llm_switch_arg {
    hk_store *s; /* the KB (attached) */
    bool on;     /* models on, else off */
    bool was_on; /* out: the state before */
} hk_llm_switch_arg;
/* Apply step: sets the switch and writes an audit entry "control". */
hk_err hk_llm_switch_apply(hk_txn *t, void *arg, hk_error *err);

/* The KB switch, kept in the KB: read-only refuses every change of facts
 * (HK_ERR_BUSY from the change hook of hk_llm_attach). */
hk_err hk_llm_kb_read_only(hk_store *s, hk_txn *t, bool *ro, hk_error *err);
typedef struct hk_llm_kb_mode_arg {
    hk_store *s;    /* the KB (attached) */
    bool read_only; /* read-only, else writable */
    bool was_ro;    /* out: the state before */
} hk_llm_kb_mode_arg;
/* Apply step: sets the KB switch and writes an audit entry "control". */
hk_err hk_llm_kb_mode_apply(hk_txn *t, void *arg, hk_error *err);

/* ==== Fine-tuning data (llm_instruct.c) ==== */

/* A question/answer pair for facts of one predicate: "{0}".."{31}" are
 * the arguments, "{p}" the predicate as words, "{rest}" the arguments
 * after the first, "{s}" the canonical statement. */
typedef struct hk_llm_template {
    const char *predicate; /* e.g. "HasPart" */
    const char *question;  /* user turn, e.g. "What parts does {0} have?" */
    const char *answer;    /* assistant turn, e.g. "{0} has {1}." */
} hk_llm_template;

/* Reads `Predicate | question | answer` lines ('#' comments) into *out
 * (caller frees with hk_llm_templates_free). Errors name the line. */
hk_err hk_llm_templates_load(const char *path, hk_llm_template **out, size_t *n,
                             hk_error *err);
void hk_llm_templates_free(hk_llm_template *v, size_t n);

typedef struct hk_llm_instruct_req {
    const hk_llm_template *templates; /* extra/overriding rows, or NULL */
    size_t n_templates;               /* entries in templates */
    double validation;                /* fraction to validation, 0..0.5 */
    uint64_t limit;                   /* facts at most, 0 = all */
    FILE *train_out;                  /* JSONL of the training split */
    FILE *validation_out;             /* JSONL of the validation split */
} hk_llm_instruct_req;

typedef struct hk_llm_instruct_res {
    uint64_t train;      /* examples written to train_out */
    uint64_t validation; /* examples written to validation_out */
    uint64_t generic;    /* of them, from the generic template */
} hk_llm_instruct_res;

/* Writes one chat example {"messages": [system, user, assistant],
 * "fact": id} per fact of t, in id order; a fact goes to validation when
 * the first 32 bits of the SHA-256 of its statement fall under the
 * fraction (stable between runs). */
hk_err hk_llm_instruct_export(hk_txn *t, const hk_llm_instruct_req *req,
                              hk_llm_instruct_res *res, hk_error *err);

#endif /* HK_LLM_H */
