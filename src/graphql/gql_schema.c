/*
 * gql_schema.c — the schema as static tables, and what is generated from
 * them: the SDL text (GET /graphql/schema.graphql) and the introspection
 * value (__schema, __type).
 *
 * Object fields read the JSON the service layer renders for REST (the
 * fact, audit entry, name count, path and subgraph forms): a field
 * without a resolver reads the member `key` (or its own name) of its
 * parent's JSON value. Field names follow GraphQL's camelCase; `key`
 * maps them to the REST member names (factCount -> fact_count).
 *
 * Wrapped types are written as text ("[Fact!]!") and parsed once into
 * interned gql_ttype values. Everything here is read-only after the first
 * call (pthread_once), so any thread may use it.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/mem.h"
#include "graphql/gql_int.h"

/* ==== Tables ==== */

#define PAGE_ARGS                                                              \
    {"first", "Int", NULL, "page size (default and maximum: the server's)"},   \
    {                                                                          \
        "after", "String", NULL, "endCursor of the previous page"              \
    }

static const gql_field f_query[] = {
    {"fact",
     "Fact",
     "A fact by id (null when there is none).",
     gql_r_fact,
     NULL,
     1,
     {{"id", "ID!", NULL, "fact id"}}},
    {"facts",
     "FactConnection!",
     "Facts by predicate and/or entity (all facts without either).",
     gql_r_facts,
     NULL,
     1,
     {{"predicate", "String", NULL, "only this predicate"},
      {"entity", "String", NULL, "only facts mentioning it"},
      PAGE_ARGS}},
    {"pattern",
     "FactConnection!",
     "Facts matching one pattern such as HasPart(?x, CPU); edges carry "
     "the bindings.",
     gql_r_pattern,
     NULL,
     1,
     {{"q", "String!", NULL, "the pattern"}, PAGE_ARGS}},
    {"query",
     "QueryConnection!",
     "A multi-pattern query joined on shared ?variables.",
     gql_r_query,
     NULL,
     2,
     {{"q", "String!", NULL, "e.g. HasPart(?a, ?b), HasPart(?b, ?c)"},
      PAGE_ARGS}},
    {"entity",
     "Entity",
     "An entity (null when no fact mentions it).",
     gql_r_entity,
     NULL,
     1,
     {{"name", "String!", NULL, "entity name"}}},
    {"predicate",
     "Predicate",
     "A predicate (null when no fact uses it).",
     gql_r_predicate,
     NULL,
     1,
     {{"name", "String!", NULL, "predicate name"}}},
    {"predicates",
     "PredicateConnection!",
     "Predicates in dictionary order with counts and arities.",
     gql_r_predicates,
     NULL,
     1,
     {PAGE_ARGS}},
    {"search",
     "[SearchHit!]!",
     "Ranked text search; by meaning or both with mode (as GET /v2/search).",
     gql_r_search,
     NULL,
     1,
     {{"q", "String!", NULL, "search words"},
      {"first", "Int", NULL, "hits at most"},
      {"mode", "String", "\"text\"", "text, vector or hybrid"},
      {"space", "String", NULL, "vector space (default: the first usable)"}}},
    {"audit",
     "AuditConnection!",
     "The audit log, newest first.",
     gql_r_audit,
     NULL,
     1,
     {PAGE_ARGS}},
    {"paths",
     "[Path!]!",
     "Shortest (k > 1: k shortest) paths between two entities.",
     gql_r_paths,
     NULL,
     5,
     {{"from", "String!", NULL, "first entity"},
      {"to", "String!", NULL, "last entity"},
      {"maxLen", "Int", "6", "hops at most"},
      {"k", "Int", "1", "paths wanted"}}},
    {"stats",
     "JSON!",
     "Counts of the knowledge base (as GET /v2/stats).",
     gql_r_stats,
     NULL,
     1,
     {{0}}},
    {"rules",
     "RuleList!",
     "Every Datalog rule and the derived fact count (as GET /v2/rules).",
     gql_r_rules,
     NULL,
     1,
     {{0}}},
    {"rule",
     "Rule",
     "One rule (null when there is none).",
     gql_r_rule,
     NULL,
     1,
     {{"name", "String!", NULL, "rule name"}}},
    {"review",
     "ProposalConnection!",
     "Proposed facts in the review queue (as GET /v2/review).",
     gql_r_review,
     NULL,
     1,
     {{"status", "String", "\"pending\"", "pending, approved, rejected or all"},
      PAGE_ARGS}},
    {"why",
     "JSON!",
     "The derivation tree of a statement (as GET /v2/why).",
     gql_r_why,
     NULL,
     2,
     {{"statement", "String!", NULL, "e.g. Ancestor(a, c)"}}},
    {"vectorSpaces",
     "[VectorSpace!]!",
     "Vector spaces with their parameters and vector counts (as GET "
     "/v2/vectors).",
     gql_r_vector_spaces,
     NULL,
     1,
     {{0}}},
    {"similar",
     "SimilarResult!",
     "Nearest facts of a space to a text or a fact (as "
     "/v2/vectors/{space}/similar).",
     gql_r_similar,
     NULL,
     10,
     {{"space", "String!", NULL, "the vector space"},
      {"text", "String", NULL, "query text (the space's embedder)"},
      {"fact", "ID", NULL, "query by this fact's vector"},
      {"vector", "[Float!]", NULL, "query vector (the space's dim)"},
      {"k", "Int", NULL, "hits (default 10, at most 1000)"},
      {"ef", "Int", NULL, "candidates while searching (default: the space's)"},
      {"predicate", "String", NULL, "only facts of this predicate"},
      {"entity", "String", NULL, "only facts mentioning it"}}},
    {"model",
     "JSON!",
     "The learned model: parameters, metrics, age (as GET /v2/model).",
     gql_r_model,
     NULL,
     1,
     {{0}}},
    {"modelScore",
     "JSON!",
     "Plausibility and rank of a statement (as GET /v2/model/score).",
     gql_r_model_score,
     NULL,
     2,
     {{"statement", "String!", NULL, "e.g. HasPart(Computer, CPU)"}}},
    {"modelPredict",
     "JSON!",
     "Ranked candidates for one unknown (as GET /v2/model/predict).",
     gql_r_model_predict,
     NULL,
     5,
     {{"pattern", "String!", NULL, "e.g. HasPart(Computer, ?x)"},
      {"k", "Int", NULL, "candidates (1..1000)"}}},
    {"modelSimilar",
     "JSON!",
     "Nearest entities in embedding space (as GET /v2/model/similar).",
     gql_r_model_similar,
     NULL,
     5,
     {{"entity", "String!", NULL, "entity name"},
      {"k", "Int", NULL, "entities (1..1000)"}}},
    {0}};

static const gql_field f_mutation[] = {
    {"addFact",
     "AddFactPayload!",
     "Adds a fact (MERGE: an existing statement keeps its id).",
     gql_r_add,
     NULL,
     1,
     {{"input", "FactInput!", NULL, "statement and metadata"}}},
    {"updateFact",
     "Fact!",
     "Replaces a fact's content and/or metadata.",
     gql_r_update,
     NULL,
     1,
     {{"id", "ID!", NULL, "fact id"},
      {"input", "FactInput!", NULL, "new content and/or metadata"}}},
    {"deleteFact",
     "DeletePayload!",
     "Deletes a fact.",
     gql_r_delete,
     NULL,
     1,
     {{"id", "ID!", NULL, "fact id"}}},
    {"addFacts",
     "BatchPayload!",
     "Adds many facts in one transaction; refused items are reported, the "
     "others kept.",
     gql_r_batch,
     NULL,
     10,
     {{"inputs", "[FactInput!]!", NULL, "the facts"}}},
    {"addRule",
     "RulePayload!",
     "Adds or replaces a rule, then rematerializes (as POST /v2/rules).",
     gql_r_add_rule,
     NULL,
     10,
     {{"rule", "String!", NULL, "Head(...) :- Body."},
      {"name", "String", NULL, "rule name (generated when absent)"}}},
    {"setRuleEnabled",
     "RulePayload!",
     "Enables or disables a rule, then rematerializes (as PATCH "
     "/v2/rules/{name}).",
     gql_r_set_rule_enabled,
     NULL,
     10,
     {{"name", "String!", NULL, "rule name"},
      {"enabled", "Boolean!", NULL, "the new state"}}},
    {"approveProposal",
     "ReviewDecision!",
     "Approves a proposal, optionally edited: adds the fact (reviewer role; "
     "as POST /v2/review/{id}/approve).",
     gql_r_approve,
     NULL,
     1,
     {{"id", "ID!", NULL, "proposal id"},
      {"statement", "String", NULL, "approve this statement instead"},
      {"note", "String", NULL, "reason given"}}},
    {"rejectProposal",
     "ReviewDecision!",
     "Rejects a proposal (reviewer role; as POST /v2/review/{id}/reject).",
     gql_r_reject,
     NULL,
     1,
     {{"id", "ID!", NULL, "proposal id"},
      {"note", "String", NULL, "reason given"}}},
    {"deleteRule",
     "RulePayload!",
     "Deletes a rule, then rematerializes (as DELETE /v2/rules/{name}).",
     gql_r_delete_rule,
     NULL,
     10,
     {{"name", "String!", NULL, "rule name"}}},
    {"createVectorSpace",
     "VectorSpace!",
     "Creates a vector space (as POST /v2/vectors).",
     gql_r_create_space,
     NULL,
     1,
     {{"name", "String!", NULL, "1..48 of [a-z0-9_-]"},
      {"dim", "Int!", NULL, "dimensions (1..4096)"},
      {"metric", "String", "\"cosine\"", "cosine, dot or l2"},
      {"embedder", "String", "\"none\"", "none, hashed or openai"},
      {"int8", "Boolean", "false", "store int8 vectors"},
      {"autoEmbed", "Boolean", "false", "embed new facts in the background"},
      {"m", "Int", NULL, "graph degree of the index (default 16)"},
      {"efConstruction", "Int", NULL, "candidates while building"},
      {"ef", "Int", NULL, "candidates while searching"}}},
    {"dropVectorSpace",
     "VectorSpaceDrop!",
     "Drops a vector space and its vectors (admin role; as DELETE "
     "/v2/vectors/{space}).",
     gql_r_drop_space,
     NULL,
     1,
     {{"name", "String!", NULL, "space name"}}},
    {0}};

static const gql_field f_fact[] = {
    {"id", "ID!", "Fact id.", NULL, NULL, 0, {{0}}},
    {"statement", "String!", "Canonical statement text.", NULL, NULL, 0, {{0}}},
    {"predicate", "String!", "Predicate name.", NULL, NULL, 0, {{0}}},
    {"args", "[String!]!", "Arguments in order.", NULL, NULL, 0, {{0}}},
    {"confidence", "Float", "0..1.", NULL, NULL, 0, {{0}}},
    {"source", "String", "Where it came from.", NULL, NULL, 0, {{0}}},
    {"tags", "[String!]!", "Tags.", NULL, NULL, 0, {{0}}},
    {"context", "JSON", "Free-form context object.", NULL, NULL, 0, {{0}}},
    {"created", "String", "RFC 3339 time of creation.", NULL, NULL, 0, {{0}}},
    {"updated",
     "String",
     "RFC 3339 time of the last change.",
     NULL,
     NULL,
     0,
     {{0}}},
    {0}};

static const gql_field f_fact_edge[] = {
    {"cursor",
     "String",
     "Resumes after this edge (set on the last edge of a page that has more).",
     NULL,
     NULL,
     0,
     {{0}}},
    {"node", "Fact!", "The fact.", NULL, NULL, 0, {{0}}},
    {"bindings",
     "JSON",
     "Pattern variables bound by this fact (pattern queries).",
     NULL,
     NULL,
     0,
     {{0}}},
    {0}};

static const gql_field f_page_info[] = {
    {"hasNextPage", "Boolean!", "More items follow.", NULL, NULL, 0, {{0}}},
    {"endCursor",
     "String",
     "Pass as after for the next page.",
     NULL,
     NULL,
     0,
     {{0}}},
    {0}};

static const gql_field f_fact_conn[] = {
    {"edges", "[FactEdge!]!", "Facts with cursors.", NULL, NULL, 0, {{0}}},
    {"nodes", "[Fact!]!", "The facts alone.", NULL, NULL, 0, {{0}}},
    {"pageInfo", "PageInfo!", "Paging.", NULL, NULL, 0, {{0}}},
    {"count", "Int!", "Facts in this page.", NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_query_row[] = {
    {"bindings", "JSON!", "Variable values of the row.", NULL, NULL, 0, {{0}}},
    {"facts",
     "[ID!]!",
     "Matched fact ids, one per positive pattern.",
     NULL,
     NULL,
     0,
     {{0}}},
    {0}};

static const gql_field f_query_edge[] = {
    {"cursor",
     "String",
     "Resumes after this row (last edge of a full page).",
     NULL,
     NULL,
     0,
     {{0}}},
    {"node", "QueryRow!", "The row.", NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_query_conn[] = {
    {"edges", "[QueryEdge!]!", "Rows with cursors.", NULL, NULL, 0, {{0}}},
    {"nodes", "[QueryRow!]!", "The rows alone.", NULL, NULL, 0, {{0}}},
    {"pageInfo", "PageInfo!", "Paging.", NULL, NULL, 0, {{0}}},
    {"count", "Int!", "Rows in this page.", NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_entity[] = {
    {"name", "String!", "Entity name.", NULL, NULL, 0, {{0}}},
    {"factCount",
     "Int!",
     "Facts that mention it.",
     NULL,
     "fact_count",
     0,
     {{0}}},
    {"facts",
     "FactConnection!",
     "Facts that mention it.",
     gql_r_entity_facts,
     NULL,
     1,
     {PAGE_ARGS}},
    {"neighbours",
     "Subgraph!",
     "The neighbourhood within depth hops.",
     gql_r_entity_neighbours,
     NULL,
     5,
     {{"depth", "Int", "1", "hops from the entity"},
      {"fanout", "Int", "0", "facts followed per entity and hop (0: all)"}}},
    {0}};

static const gql_field f_predicate[] = {
    {"name", "String!", "Predicate name.", NULL, NULL, 0, {{0}}},
    {"count", "Int!", "Facts using it.", NULL, NULL, 0, {{0}}},
    {"minArity", "Int", "Fewest arguments.", NULL, "min_arity", 0, {{0}}},
    {"maxArity", "Int", "Most arguments.", NULL, "max_arity", 0, {{0}}},
    {"facts",
     "FactConnection!",
     "Facts using it.",
     gql_r_predicate_facts,
     NULL,
     1,
     {PAGE_ARGS}},
    {0}};

static const gql_field f_pred_edge[] = {
    {"cursor",
     "String!",
     "Resumes after this predicate.",
     NULL,
     NULL,
     0,
     {{0}}},
    {"node", "Predicate!", "The predicate.", NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_pred_conn[] = {
    {"edges",
     "[PredicateEdge!]!",
     "Predicates with cursors.",
     NULL,
     NULL,
     0,
     {{0}}},
    {"nodes", "[Predicate!]!", "The predicates alone.", NULL, NULL, 0, {{0}}},
    {"pageInfo", "PageInfo!", "Paging.", NULL, NULL, 0, {{0}}},
    {"count", "Int!", "Predicates in this page.", NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_hit[] = {
    {"score", "Float!", "Relevance (higher is better).", NULL, NULL, 0, {{0}}},
    {"fact", "Fact!", "The fact found.", NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_audit[] = {
    {"seq", "ID!", "Sequence number.", NULL, NULL, 0, {{0}}},
    {"time", "String!", "RFC 3339 time.", NULL, NULL, 0, {{0}}},
    {"actor", "String!", "Who wrote.", NULL, NULL, 0, {{0}}},
    {"op", "String!", "add, update, delete, ...", NULL, NULL, 0, {{0}}},
    {"factId", "ID", "First fact concerned.", NULL, "fact_id", 0, {{0}}},
    {"factIdLast",
     "ID",
     "Last fact concerned.",
     NULL,
     "fact_id_last",
     0,
     {{0}}},
    {"count", "Int", "Facts concerned.", NULL, NULL, 0, {{0}}},
    {"before", "JSON", "The fact before.", NULL, NULL, 0, {{0}}},
    {"after", "JSON", "The fact after.", NULL, NULL, 0, {{0}}},
    {"prevHash",
     "String",
     "Hash of the previous entry.",
     NULL,
     "prev_hash",
     0,
     {{0}}},
    {"hash", "String", "Hash of this entry (chain).", NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_audit_edge[] = {
    {"cursor", "String!", "Resumes after this entry.", NULL, NULL, 0, {{0}}},
    {"node", "AuditEntry!", "The entry.", NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_audit_conn[] = {
    {"edges", "[AuditEdge!]!", "Entries with cursors.", NULL, NULL, 0, {{0}}},
    {"nodes", "[AuditEntry!]!", "The entries alone.", NULL, NULL, 0, {{0}}},
    {"pageInfo", "PageInfo!", "Paging.", NULL, NULL, 0, {{0}}},
    {"count", "Int!", "Entries in this page.", NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_path[] = {
    {"length", "Int!", "Hops.", NULL, NULL, 0, {{0}}},
    {"nodes",
     "[String!]!",
     "Entities from first to last.",
     NULL,
     NULL,
     0,
     {{0}}},
    {"facts", "[ID!]!", "Fact of each hop.", NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_gnode[] = {
    {"id", "String!", "Node id within the subgraph.", NULL, NULL, 0, {{0}}},
    {"kind", "String!", "entity or fact.", NULL, NULL, 0, {{0}}},
    {"label", "String", "Statement of a fact node.", NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_gedge[] = {
    {"from", "String!", "Node id.", NULL, NULL, 0, {{0}}},
    {"to", "String!", "Node id.", NULL, NULL, 0, {{0}}},
    {"label", "String!", "Predicate.", NULL, NULL, 0, {{0}}},
    {"fact", "ID", "The fact drawn.", NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_subgraph[] = {
    {"nodes",
     "[GraphNode!]!",
     "Centre first, discovery order.",
     NULL,
     NULL,
     0,
     {{0}}},
    {"edges", "[GraphEdge!]!", "Edges between nodes.", NULL, NULL, 0, {{0}}},
    {"truncated",
     "Boolean!",
     "A limit stopped the walk.",
     NULL,
     NULL,
     0,
     {{0}}},
    {0}};

static const gql_field f_add_payload[] = {
    {"fact", "Fact!", "The fact (new or existing).", NULL, NULL, 0, {{0}}},
    {"created", "Boolean!", "A new fact was created.", NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_delete_payload[] = {
    {"id", "ID!", "The fact.", NULL, NULL, 0, {{0}}},
    {"deleted", "Boolean!", "Always true.", NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_rule[] = {
    {"name", "String!", "Rule name.", NULL, NULL, 0, {{0}}},
    {"version", "Int!", "Bumped by every replacement.", NULL, NULL, 0, {{0}}},
    {"enabled", "Boolean!", "Whether it derives facts.", NULL, NULL, 0, {{0}}},
    {"created", "String", "RFC 3339 time of creation.", NULL, NULL, 0, {{0}}},
    {"updated",
     "String",
     "RFC 3339 time of the last change.",
     NULL,
     NULL,
     0,
     {{0}}},
    {"rule", "String!", "The rule text.", NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_rule_list[] = {
    {"rules", "[Rule!]!", "Every rule, by name.", NULL, NULL, 0, {{0}}},
    {"derived", "Int!", "Derived facts stored.", NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_rule_payload[] = {
    {"rule",
     "Rule!",
     "The rule after the change (deleteRule: before).",
     NULL,
     NULL,
     0,
     {{0}}},
    {"deleted", "Boolean", "true for deleteRule.", NULL, NULL, 0, {{0}}},
    {"derived",
     "Int!",
     "Derived facts after rematerializing.",
     NULL,
     NULL,
     0,
     {{0}}},
    {0}};

static const gql_field f_proposal[] = {
    {"id", "ID!", "Queue id.", NULL, NULL, 0, {{0}}},
    {"status",
     "String!",
     "pending, approved or rejected.",
     NULL,
     NULL,
     0,
     {{0}}},
    {"statement", "String!", "The proposed statement.", NULL, NULL, 0, {{0}}},
    {"model", "String", "The model that proposed it.", NULL, NULL, 0, {{0}}},
    {"promptHash",
     "String",
     "Hash of the prompt.",
     NULL,
     "prompt_hash",
     0,
     {{0}}},
    {"origin", "String", "extract, ask or model.", NULL, NULL, 0, {{0}}},
    {"source", "String", "Where it came from.", NULL, NULL, 0, {{0}}},
    {"span", "JSON", "The text span it was read from.", NULL, NULL, 0, {{0}}},
    {"created", "String", "RFC 3339 time it was queued.", NULL, NULL, 0, {{0}}},
    {"reviewer", "String", "Who decided.", NULL, NULL, 0, {{0}}},
    {"decided",
     "String",
     "RFC 3339 time of the decision.",
     NULL,
     NULL,
     0,
     {{0}}},
    {"finalStatement",
     "String",
     "The statement approved (edited or not).",
     NULL,
     "final_statement",
     0,
     {{0}}},
    {"fact", "ID", "The fact added on approval.", NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_proposal_edge[] = {
    {"cursor", "String", "Resumes after this proposal.", NULL, NULL, 0, {{0}}},
    {"node", "Proposal!", "The proposal.", NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_proposal_conn[] = {
    {"edges",
     "[ProposalEdge!]!",
     "Proposals with cursors.",
     NULL,
     NULL,
     0,
     {{0}}},
    {"nodes", "[Proposal!]!", "The proposals.", NULL, NULL, 0, {{0}}},
    {"pageInfo", "PageInfo!", "Paging state.", NULL, NULL, 0, {{0}}},
    {"count", "Int!", "Proposals in this page.", NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_review_decision[] = {
    {"id", "ID!", "The proposal.", NULL, NULL, 0, {{0}}},
    {"status", "String!", "approved or rejected.", NULL, NULL, 0, {{0}}},
    {"fact", "ID", "The fact added (approve).", NULL, NULL, 0, {{0}}},
    {"created", "Boolean!", "The fact is new.", NULL, NULL, 0, {{0}}},
    {"reviewer", "String!", "Who decided.", NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_vspace[] = {
    {"name", "String!", "Space name.", NULL, NULL, 0, {{0}}},
    {"dim", "Int!", "Dimensions.", NULL, NULL, 0, {{0}}},
    {"metric", "String!", "cosine, dot or l2.", NULL, NULL, 0, {{0}}},
    {"storage", "String!", "float32 or int8.", NULL, NULL, 0, {{0}}},
    {"m", "Int!", "Graph degree of the index.", NULL, NULL, 0, {{0}}},
    {"efConstruction",
     "Int!",
     "Candidates while building.",
     NULL,
     "ef_construction",
     0,
     {{0}}},
    {"ef", "Int!", "Candidates while searching.", NULL, NULL, 0, {{0}}},
    {"embedder",
     "String!",
     "none, hashed-ngrams or openai.",
     NULL,
     NULL,
     0,
     {{0}}},
    {"vectors", "Int!", "Vectors stored.", NULL, NULL, 0, {{0}}},
    {"autoEmbed",
     "Boolean!",
     "New facts are embedded in the background.",
     NULL,
     "auto_embed",
     0,
     {{0}}},
    {0}};

static const gql_field f_vspace_drop[] = {
    {"name", "String!", "The space.", NULL, NULL, 0, {{0}}},
    {"dropped", "Boolean!", "Always true.", NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_similar_hit[] = {
    {"id", "ID!", "The fact.", NULL, NULL, 0, {{0}}},
    {"statement", "String!", "Its canonical statement.", NULL, NULL, 0, {{0}}},
    {"score",
     "Float!",
     "cosine: similarity; dot: a.b; l2: -distance.",
     NULL,
     NULL,
     0,
     {{0}}},
    {0}};

static const gql_field f_similar[] = {
    {"space", "String!", "The space searched.", NULL, NULL, 0, {{0}}},
    {"hits", "[SimilarHit!]!", "Nearest first.", NULL, NULL, 0, {{0}}},
    {"candidates",
     "Int!",
     "Facts the filters allowed (0: no filter).",
     NULL,
     NULL,
     0,
     {{0}}},
    {"exact", "Boolean!", "Answered by an exact scan.", NULL, NULL, 0, {{0}}},
    {"indexed", "Int!", "Live vectors in the index.", NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_batch_item[] = {
    {"index", "Int!", "Position in inputs.", NULL, NULL, 0, {{0}}},
    {"id", "ID", "The fact (null when refused).", NULL, NULL, 0, {{0}}},
    {"status", "String!", "created, existing or failed.", NULL, NULL, 0, {{0}}},
    {"error", "String", "Why it was refused.", NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_batch_payload[] = {
    {"created", "Int!", "Items that created a fact.", NULL, NULL, 0, {{0}}},
    {"existing", "Int!", "Items already present.", NULL, NULL, 0, {{0}}},
    {"failed", "Int!", "Items refused.", NULL, NULL, 0, {{0}}},
    {"items", "[BatchItem!]!", "One per input.", NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_fact_input[] = {
    {"statement",
     "String",
     "e.g. HasPart(Computer, CPU)",
     NULL,
     NULL,
     0,
     {{0}}},
    {"predicate",
     "String",
     "with args, instead of statement",
     NULL,
     NULL,
     0,
     {{0}}},
    {"args", "[String!]", "with predicate", NULL, NULL, 0, {{0}}},
    {"confidence", "Float", "0..1", NULL, NULL, 0, {{0}}},
    {"source", "String", "where it came from", NULL, NULL, 0, {{0}}},
    {"tags", "[String!]", "tags", NULL, NULL, 0, {{0}}},
    {"context", "JSON", "an object", NULL, NULL, 0, {{0}}},
    {0}};

/* ---- Introspection types (spec section 4.5) ---- */

static const gql_field f_i_schema[] = {
    {"description", "String", NULL, NULL, NULL, 0, {{0}}},
    {"types", "[__Type!]!", NULL, NULL, NULL, 0, {{0}}},
    {"queryType", "__Type!", NULL, NULL, NULL, 0, {{0}}},
    {"mutationType", "__Type", NULL, NULL, NULL, 0, {{0}}},
    {"subscriptionType", "__Type", NULL, NULL, NULL, 0, {{0}}},
    {"directives", "[__Directive!]!", NULL, NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_i_type[] = {
    {"kind", "__TypeKind!", NULL, NULL, NULL, 0, {{0}}},
    {"name", "String", NULL, NULL, NULL, 0, {{0}}},
    {"description", "String", NULL, NULL, NULL, 0, {{0}}},
    {"specifiedByURL", "String", NULL, NULL, NULL, 0, {{0}}},
    {"fields",
     "[__Field!]",
     NULL,
     NULL,
     NULL,
     0,
     {{"includeDeprecated", "Boolean", "false", NULL}}},
    {"interfaces", "[__Type!]", NULL, NULL, NULL, 0, {{0}}},
    {"possibleTypes", "[__Type!]", NULL, NULL, NULL, 0, {{0}}},
    {"enumValues",
     "[__EnumValue!]",
     NULL,
     NULL,
     NULL,
     0,
     {{"includeDeprecated", "Boolean", "false", NULL}}},
    {"inputFields",
     "[__InputValue!]",
     NULL,
     NULL,
     NULL,
     0,
     {{"includeDeprecated", "Boolean", "false", NULL}}},
    {"ofType", "__Type", NULL, NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_i_field[] = {
    {"name", "String!", NULL, NULL, NULL, 0, {{0}}},
    {"description", "String", NULL, NULL, NULL, 0, {{0}}},
    {"args",
     "[__InputValue!]!",
     NULL,
     NULL,
     NULL,
     0,
     {{"includeDeprecated", "Boolean", "false", NULL}}},
    {"type", "__Type!", NULL, NULL, NULL, 0, {{0}}},
    {"isDeprecated", "Boolean!", NULL, NULL, NULL, 0, {{0}}},
    {"deprecationReason", "String", NULL, NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_i_input[] = {
    {"name", "String!", NULL, NULL, NULL, 0, {{0}}},
    {"description", "String", NULL, NULL, NULL, 0, {{0}}},
    {"type", "__Type!", NULL, NULL, NULL, 0, {{0}}},
    {"defaultValue", "String", NULL, NULL, NULL, 0, {{0}}},
    {"isDeprecated", "Boolean!", NULL, NULL, NULL, 0, {{0}}},
    {"deprecationReason", "String", NULL, NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_i_enum[] = {
    {"name", "String!", NULL, NULL, NULL, 0, {{0}}},
    {"description", "String", NULL, NULL, NULL, 0, {{0}}},
    {"isDeprecated", "Boolean!", NULL, NULL, NULL, 0, {{0}}},
    {"deprecationReason", "String", NULL, NULL, NULL, 0, {{0}}},
    {0}};

static const gql_field f_i_directive[] = {
    {"name", "String!", NULL, NULL, NULL, 0, {{0}}},
    {"description", "String", NULL, NULL, NULL, 0, {{0}}},
    {"isRepeatable", "Boolean!", NULL, NULL, NULL, 0, {{0}}},
    {"locations", "[__DirectiveLocation!]!", NULL, NULL, NULL, 0, {{0}}},
    {"args",
     "[__InputValue!]!",
     NULL,
     NULL,
     NULL,
     0,
     {{"includeDeprecated", "Boolean", "false", NULL}}},
    {0}};

static const char *const e_type_kind[] = {"SCALAR", "OBJECT",   "INTERFACE",
                                          "UNION",  "ENUM",     "INPUT_OBJECT",
                                          "LIST",   "NON_NULL", NULL};
static const char *const e_dir_loc[] = {"QUERY",
                                        "MUTATION",
                                        "SUBSCRIPTION",
                                        "FIELD",
                                        "FRAGMENT_DEFINITION",
                                        "FRAGMENT_SPREAD",
                                        "INLINE_FRAGMENT",
                                        "VARIABLE_DEFINITION",
                                        "SCHEMA",
                                        "SCALAR",
                                        "OBJECT",
                                        "FIELD_DEFINITION",
                                        "ARGUMENT_DEFINITION",
                                        "INTERFACE",
                                        "UNION",
                                        "ENUM",
                                        "ENUM_VALUE",
                                        "INPUT_OBJECT",
                                        "INPUT_FIELD_DEFINITION",
                                        NULL};

#define OBJ(n, f, d)                                                           \
    {                                                                          \
        n, GQL_T_OBJECT, d, f, NULL                                            \
    }
#define SCALAR(n, d)                                                           \
    {                                                                          \
        n, GQL_T_SCALAR, d, NULL, NULL                                         \
    }

static const gql_type t_query = OBJ("Query", f_query, "Reads.");
static const gql_type t_mutation = OBJ("Mutation", f_mutation, "Writes.");
static const gql_type t_all[] = {
    OBJ("Fact", f_fact, "A fact: predicate(arg, ...) with metadata."),
    OBJ("FactEdge", f_fact_edge, "A fact in a connection."),
    OBJ("FactConnection", f_fact_conn, "A page of facts (Relay)."),
    OBJ("PageInfo", f_page_info, "Paging state of a connection."),
    OBJ("QueryRow", f_query_row, "One row of a multi-pattern query."),
    OBJ("QueryEdge", f_query_edge, "A row in a connection."),
    OBJ("QueryConnection", f_query_conn, "A page of query rows."),
    OBJ("Entity", f_entity, "An entity: a value facts mention."),
    OBJ("Predicate", f_predicate, "A predicate with its counts."),
    OBJ("PredicateEdge", f_pred_edge, "A predicate in a connection."),
    OBJ("PredicateConnection", f_pred_conn, "A page of predicates."),
    OBJ("SearchHit", f_hit, "A search result."),
    OBJ("AuditEntry", f_audit, "One entry of the hash-chained audit log."),
    OBJ("AuditEdge", f_audit_edge, "An audit entry in a connection."),
    OBJ("AuditConnection", f_audit_conn, "A page of the audit log."),
    OBJ("Path", f_path, "A path between two entities."),
    OBJ("GraphNode", f_gnode, "A node of a subgraph."),
    OBJ("GraphEdge", f_gedge, "An edge of a subgraph."),
    OBJ("Subgraph", f_subgraph, "The neighbourhood of an entity."),
    OBJ("AddFactPayload", f_add_payload, "Result of addFact."),
    OBJ("DeletePayload", f_delete_payload, "Result of deleteFact."),
    OBJ("BatchItem", f_batch_item, "One item of addFacts."),
    OBJ("BatchPayload", f_batch_payload, "Result of addFacts."),
    OBJ("Rule", f_rule, "A Datalog rule."),
    OBJ("RuleList", f_rule_list, "The rules and the derived fact count."),
    OBJ("RulePayload", f_rule_payload, "Result of a rule change."),
    OBJ("Proposal", f_proposal, "A proposed fact in the review queue."),
    OBJ("ProposalEdge", f_proposal_edge, "A proposal in a connection."),
    OBJ("ProposalConnection", f_proposal_conn, "A page of proposals."),
    OBJ("ReviewDecision", f_review_decision, "Result of a review decision."),
    OBJ("VectorSpace", f_vspace, "A vector space."),
    OBJ("VectorSpaceDrop", f_vspace_drop, "Result of dropVectorSpace."),
    OBJ("SimilarHit", f_similar_hit, "A fact near the query."),
    OBJ("SimilarResult", f_similar, "Result of a similarity search."),
    {"FactInput", GQL_T_INPUT, "A fact to add or the changes to make.",
     f_fact_input, NULL},
    SCALAR("JSON", "Any JSON value."),
    SCALAR("ID", "An identifier, serialized as a string."),
    SCALAR("String", "UTF-8 text."),
    SCALAR("Int", "A signed 32-bit integer."),
    SCALAR("Float", "A double-precision number."),
    SCALAR("Boolean", "true or false."),
    OBJ("__Schema", f_i_schema, NULL),
    OBJ("__Type", f_i_type, NULL),
    OBJ("__Field", f_i_field, NULL),
    OBJ("__InputValue", f_i_input, NULL),
    OBJ("__EnumValue", f_i_enum, NULL),
    OBJ("__Directive", f_i_directive, NULL),
    {"__TypeKind", GQL_T_ENUM, NULL, NULL, e_type_kind},
    {"__DirectiveLocation", GQL_T_ENUM, NULL, NULL, e_dir_loc},
};
#define N_ALL (sizeof(t_all) / sizeof(t_all[0]))

const gql_type *const gql_types[] = {
    &t_query,   &t_mutation, &t_all[0],  &t_all[1],  &t_all[2],  &t_all[3],
    &t_all[4],  &t_all[5],   &t_all[6],  &t_all[7],  &t_all[8],  &t_all[9],
    &t_all[10], &t_all[11],  &t_all[12], &t_all[13], &t_all[14], &t_all[15],
    &t_all[16], &t_all[17],  &t_all[18], &t_all[19], &t_all[20], &t_all[21],
    &t_all[22], &t_all[23],  &t_all[24], &t_all[25], &t_all[26], &t_all[27],
    &t_all[28], &t_all[29],  &t_all[30], &t_all[31], &t_all[32], &t_all[33],
    &t_all[34], &t_all[35],  &t_all[36], &t_all[37], &t_all[38], &t_all[39],
    &t_all[40], &t_all[41],  &t_all[42], &t_all[43], &t_all[44], &t_all[45],
    &t_all[46], &t_all[47],  &t_all[48], NULL};
_Static_assert(N_ALL == 49, "gql_types lists every entry of t_all");

const gql_type *gql_query_type(void)
{
    return &t_query;
}
const gql_type *gql_mutation_type(void)
{
    return &t_mutation;
}

const gql_type *gql_schema_type(const char *name)
{
    for (size_t i = 0; gql_types[i]; i++)
        if (!strcmp(gql_types[i]->name, name)) return gql_types[i];
    return NULL;
}

const gql_field *gql_type_field(const gql_type *t, const char *name)
{
    if (!t->fields) return NULL;
    for (const gql_field *f = t->fields; f->name; f++)
        if (!strcmp(f->name, name)) return f;
    return NULL;
}

/* ==== Type texts ==== */

/* Interned parsed type texts: a small fixed table filled once. */
#define MAX_TTYPES 256
static gql_ttype g_tt[MAX_TTYPES];
static const char *g_tt_text[MAX_TTYPES];
static size_t g_n_tt;
static pthread_mutex_t g_tt_lock = PTHREAD_MUTEX_INITIALIZER;

static const gql_ttype *tt_parse_locked(const char *s, size_t n)
{
    for (size_t i = 0; i < g_n_tt; i++)
        if (strlen(g_tt_text[i]) == n && !memcmp(g_tt_text[i], s, n))
            return &g_tt[i];
    if (g_n_tt == MAX_TTYPES) return NULL;
    gql_ttype t = {0};
    if (n > 0 && s[n - 1] == '!') {
        t.kind = GQL_T_NON_NULL;
        t.of = tt_parse_locked(s, n - 1);
        if (!t.of) return NULL;
    } else if (n > 1 && s[0] == '[' && s[n - 1] == ']') {
        t.kind = GQL_T_LIST;
        t.of = tt_parse_locked(s + 1, n - 2);
        if (!t.of) return NULL;
    } else {
        char name[64];
        if (n >= sizeof(name)) return NULL;
        memcpy(name, s, n);
        name[n] = 0;
        t.named = gql_schema_type(name);
        if (!t.named) return NULL;
        t.kind = t.named->kind;
    }
    if (g_n_tt == MAX_TTYPES) return NULL;
    g_tt[g_n_tt] = t;
    g_tt_text[g_n_tt] = hk_strndup(s, n);
    if (!g_tt_text[g_n_tt]) return NULL;
    return &g_tt[g_n_tt++];
}

const gql_ttype *gql_ttype_parse(const char *text)
{
    pthread_mutex_lock(&g_tt_lock);
    const gql_ttype *t = tt_parse_locked(text, strlen(text));
    pthread_mutex_unlock(&g_tt_lock);
    return t;
}

/* The parsed types of the table entries, keyed by the address of their
 * type text (string literals, stable): filled once, then only read, so
 * execution looks types up without a lock. */
#define TT_CACHE 512 /* slots, a power of two above the table entries */
static struct {
    const char *text;    /* key: a table's type text pointer */
    const gql_ttype *tt; /* its parsed type */
} g_tt_cache[TT_CACHE];
static pthread_once_t g_tt_once = PTHREAD_ONCE_INIT;

static size_t tt_slot(const char *text)
{
    return ((uintptr_t)text >> 3) * 2654435761u % TT_CACHE;
}

static void tt_put(const char *text)
{
    size_t i = tt_slot(text);
    for (size_t n = 0; n < TT_CACHE; n++, i = (i + 1) % TT_CACHE) {
        if (g_tt_cache[i].text == text) return;
        if (!g_tt_cache[i].text) {
            g_tt_cache[i].text = text;
            g_tt_cache[i].tt = gql_ttype_parse(text);
            return;
        }
    }
}

static void tt_fill(void)
{
    for (size_t i = 0; gql_types[i]; i++) {
        for (const gql_field *f = gql_types[i]->fields; f && f->name; f++) {
            tt_put(f->type);
            for (size_t k = 0; k < GQL_MAX_ARGS && f->args[k].name; k++)
                tt_put(f->args[k].type);
        }
    }
}

static const gql_ttype *tt_get(const char *text)
{
    pthread_once(&g_tt_once, tt_fill);
    size_t i = tt_slot(text);
    for (size_t n = 0; n < TT_CACHE; n++, i = (i + 1) % TT_CACHE) {
        if (g_tt_cache[i].text == text) return g_tt_cache[i].tt;
        if (!g_tt_cache[i].text) break;
    }
    return gql_ttype_parse(text); /* not a table entry */
}

const gql_ttype *gql_field_type(const gql_field *f)
{
    return tt_get(f->type);
}

const gql_ttype *gql_arg_type(const gql_argdef *a)
{
    return tt_get(a->type);
}

const gql_type *gql_ttype_named(const gql_ttype *t)
{
    while (t && (t->kind == GQL_T_LIST || t->kind == GQL_T_NON_NULL))
        t = t->of;
    return t ? t->named : NULL;
}

/* ==== Introspection ==== */

static const char *kind_name(gql_tkind k)
{
    switch (k) {
    case GQL_T_SCALAR:
        return "SCALAR";
    case GQL_T_OBJECT:
        return "OBJECT";
    case GQL_T_ENUM:
        return "ENUM";
    case GQL_T_INPUT:
        return "INPUT_OBJECT";
    case GQL_T_LIST:
        return "LIST";
    default:
        return "NON_NULL";
    }
}

/* {kind, name, ofType} of a type text. */
static json_t *type_ref(const gql_ttype *t)
{
    if (!t) return json_null();
    if (t->kind == GQL_T_LIST || t->kind == GQL_T_NON_NULL)
        return json_pack("{s:s,s:n,s:o}", "kind", kind_name(t->kind), "name",
                         "ofType", type_ref(t->of));
    return json_pack("{s:s,s:s,s:n}", "kind", kind_name(t->kind), "name",
                     t->named->name, "ofType");
}

static json_t *input_value(const gql_argdef *a)
{
    return json_pack("{s:s,s:s?,s:o,s:s?,s:b,s:n}", "name", a->name,
                     "description", a->desc, "type",
                     type_ref(gql_ttype_parse(a->type)), "defaultValue", a->def,
                     "isDeprecated", 0, "deprecationReason");
}

static json_t *full_type(const gql_type *t)
{
    json_t *fields = json_null(), *inputs = json_null(), *enums = json_null();
    if (t->kind == GQL_T_OBJECT) {
        fields = json_array();
        for (const gql_field *f = t->fields; f->name; f++) {
            json_t *args = json_array();
            for (size_t i = 0; i < GQL_MAX_ARGS && f->args[i].name; i++)
                json_array_append_new(args, input_value(&f->args[i]));
            json_array_append_new(
                fields, json_pack("{s:s,s:s?,s:o,s:o,s:b,s:n}", "name", f->name,
                                  "description", f->desc, "args", args, "type",
                                  type_ref(gql_ttype_parse(f->type)),
                                  "isDeprecated", 0, "deprecationReason"));
        }
    } else if (t->kind == GQL_T_INPUT) {
        inputs = json_array();
        for (const gql_field *f = t->fields; f->name; f++) {
            gql_argdef a = {f->name, f->type, NULL, f->desc};
            json_array_append_new(inputs, input_value(&a));
        }
    } else if (t->kind == GQL_T_ENUM) {
        enums = json_array();
        for (const char *const *e = t->enums; *e; e++)
            json_array_append_new(
                enums, json_pack("{s:s,s:n,s:b,s:n}", "name", *e, "description",
                                 "isDeprecated", 0, "deprecationReason"));
    }
    return json_pack("{s:s,s:s,s:s?,s:n,s:o,s:o,s:o,s:o,s:o,s:n}", "kind",
                     kind_name(t->kind), "name", t->name, "description",
                     t->desc, "specifiedByURL", "fields", fields, "interfaces",
                     t->kind == GQL_T_OBJECT ? json_array() : json_null(),
                     "possibleTypes", json_null(), "enumValues", enums,
                     "inputFields", inputs, "ofType");
}

static json_t *directive(const char *name, const char *desc)
{
    gql_argdef a = {"if", "Boolean!", NULL, "the condition"};
    json_t *args = json_array();
    json_array_append_new(args, input_value(&a));
    return json_pack("{s:s,s:s,s:b,s:[sss],s:o}", "name", name, "description",
                     desc, "isRepeatable", 0, "locations", "FIELD",
                     "FRAGMENT_SPREAD", "INLINE_FRAGMENT", "args", args);
}

static json_t *g_intro;
static pthread_once_t g_intro_once = PTHREAD_ONCE_INIT;

static void intro_build(void)
{
    json_t *types = json_array();
    for (size_t i = 0; gql_types[i]; i++)
        json_array_append_new(types, full_type(gql_types[i]));
    json_t *dirs = json_array();
    json_array_append_new(
        dirs, directive("include", "Include only when if is true."));
    json_array_append_new(dirs, directive("skip", "Skip when if is true."));
    g_intro = json_pack(
        "{s:s,s:o,s:{s:s,s:s,s:n},s:{s:s,s:s,s:n},s:n,s:o}", "description",
        "hakgal knowledge graph", "types", types, "queryType", "kind", "OBJECT",
        "name", "Query", "ofType", "mutationType", "kind", "OBJECT", "name",
        "Mutation", "ofType", "subscriptionType", "directives", dirs);
}

json_t *gql_schema_introspection(void)
{
    pthread_once(&g_intro_once, intro_build);
    return g_intro;
}

/* ==== SDL ==== */

static char *g_sdl;
static pthread_once_t g_sdl_once = PTHREAD_ONCE_INIT;

static void sdl_desc(hk_buf *b, const char *desc, const char *indent)
{
    if (!desc) return;
    hk_buf_appendf(b, "%s", indent);
    hk_buf_append_json_string(b, desc, strlen(desc));
    hk_buf_append_str(b, "\n");
}

static void sdl_build(void)
{
    hk_buf b = HK_BUF_INIT;
    hk_buf_append_str(&b,
                      "\"hakgal knowledge graph\"\nschema {\n  query: Query\n  "
                      "mutation: Mutation\n}\n");
    for (size_t i = 0; gql_types[i]; i++) {
        const gql_type *t = gql_types[i];
        if (t->name[0] == '_' && t->name[1] == '_') continue;
        if (t->kind == GQL_T_SCALAR &&
            (!strcmp(t->name, "ID") || !strcmp(t->name, "String") ||
             !strcmp(t->name, "Int") || !strcmp(t->name, "Float") ||
             !strcmp(t->name, "Boolean")))
            continue;
        hk_buf_append_str(&b, "\n");
        sdl_desc(&b, t->desc, "");
        if (t->kind == GQL_T_SCALAR) {
            hk_buf_appendf(&b, "scalar %s\n", t->name);
            continue;
        }
        hk_buf_appendf(&b, "%s %s {\n",
                       t->kind == GQL_T_INPUT ? "input" : "type", t->name);
        for (const gql_field *f = t->fields; f->name; f++) {
            sdl_desc(&b, f->desc, "  ");
            hk_buf_appendf(&b, "  %s", f->name);
            if (f->args[0].name) {
                hk_buf_append_str(&b, "(");
                for (size_t k = 0; k < GQL_MAX_ARGS && f->args[k].name; k++) {
                    const gql_argdef *a = &f->args[k];
                    if (k) hk_buf_append_str(&b, ", ");
                    if (a->desc) {
                        hk_buf_append_json_string(&b, a->desc, strlen(a->desc));
                        hk_buf_append_str(&b, " ");
                    }
                    hk_buf_appendf(&b, "%s: %s", a->name, a->type);
                    if (a->def) hk_buf_appendf(&b, " = %s", a->def);
                }
                hk_buf_append_str(&b, ")");
            }
            hk_buf_appendf(&b, ": %s\n", f->type);
        }
        hk_buf_append_str(&b, "}\n");
    }
    hk_buf_append(&b, "", 1);
    g_sdl = b.data; /* kept for the process */
}

const char *hk_gql_sdl(void)
{
    pthread_once(&g_sdl_once, sdl_build);
    return g_sdl ? g_sdl : "";
}
