/*
 * mcp_tools.c — the table of the 30 knowledge-base tools: names and
 * parameters of the legacy HAK-GAL MCP server, descriptions written for a
 * model, JSON Schema 2020-12 input and output schemas, and annotations.
 *
 * The schemas are JSON text parsed once by hk_mcp_server_new (a typo here
 * fails server start and every test). Input schemas are closed
 * (additionalProperties: false) so that a misspelt argument is reported as
 * -32602 instead of silently ignored; output schemas describe exactly the
 * structuredContent the functions in mcp_tools_*.c return.
 */
#include "mcp/mcp_tools.h"

/* ==== Schema fragments ==== */

/* The schemas are JSON text laid out by hand. */
/* clang-format off */
#define S2020 "\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
#define IN(props, req)                                                        \
    "{" S2020 "\"type\":\"object\",\"properties\":{" props "},"               \
    "\"required\":[" req "],\"additionalProperties\":false}"
#define OUT(props, req)                                                       \
    "{" S2020 "\"type\":\"object\",\"properties\":{" props "},"               \
    "\"required\":[" req "]}"
#define AUTH                                                                  \
    "\"auth_token\":{\"type\":\"string\",\"description\":\"A write token "    \
    "configured by the operator. Not needed when the HTTP request carries "   \
    "an Authorization: Bearer write token.\"}"
#define INT(name, dflt, lo, hi, desc)                                         \
    "\"" name "\":{\"type\":\"integer\",\"default\":" #dflt                   \
    ",\"minimum\":" #lo ",\"maximum\":" #hi ",\"description\":\"" desc "\"}"
#define STR(name, desc)                                                       \
    "\"" name "\":{\"type\":\"string\",\"minLength\":1,\"description\":\""    \
    desc "\"}"
#define FACT                                                                  \
    "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},"     \
    "\"statement\":{\"type\":\"string\"},\"predicate\":{\"type\":\"string\"}," \
    "\"args\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"          \
    "\"confidence\":{\"type\":\"number\"},"                                   \
    "\"source\":{\"type\":[\"string\",\"null\"]},"                            \
    "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"          \
    "\"created\":{\"type\":[\"string\",\"null\"]},"                           \
    "\"updated\":{\"type\":[\"string\",\"null\"]},"                           \
    "\"score\":{\"type\":\"number\"}},"                                       \
    "\"required\":[\"id\",\"statement\",\"predicate\",\"args\"]}"
#define FACTS "\"facts\":{\"type\":\"array\",\"items\":" FACT "}"
#define NUM(name) "\"" name "\":{\"type\":\"integer\"}"
#define TXT(name) "\"" name "\":{\"type\":\"string\"}"
#define AUDIT                                                                 \
    "{\"type\":\"object\",\"properties\":{" NUM("seq") "," TXT("time") ","   \
    TXT("actor") "," TXT("op") "," NUM("fact_id") "," NUM("fact_id_last")    \
    "," NUM("count") ",\"before\":{},\"after\":{}," TXT("hash") "},"          \
    "\"required\":[\"seq\",\"time\",\"actor\",\"op\",\"fact_id\"]}"
#define STATEMENT_HINT                                                        \
    "Write statements as Predicate(arg1, arg2, ...), e.g. HasPart(Computer, " \
    "CPU); quote arguments containing commas or parentheses."

#define RO (MCP_TOOL_READ_ONLY | MCP_TOOL_IDEMPOTENT)

const mcp_tool_def mcp_kb_tools[] = {
    /* ---- Basic ---- */
    {"search_knowledge", "Search facts",
     "Full-text search over the knowledge base. Returns facts whose "
     "predicate or arguments share words with the query, best first (exact "
     "names rank highest, rarer words weigh more; camelCase is split, so "
     "'has part' finds HasPart). Use it first to find what the KB knows "
     "about a topic.",
     IN(STR("query", "Words to look for, e.g. 'computer cpu'") ","
        INT("limit", 10, 1, 1000, "Maximum facts to return") ","
        "\"mode\":{\"type\":\"string\",\"enum\":[\"text\",\"vector\","
        "\"hybrid\"],\"default\":\"text\",\"description\":\"text: shared "
        "words (default); vector: nearest in a vector space with the "
        "built-in embedder (hashed words and character trigrams: near in "
        "spelling, not in meaning) or an openai one (an embeddings "
        "endpoint: meaning) when the server has an endpoint; hybrid: both "
        "rankings fused by reciprocal rank (text alone when no such space "
        "exists)\"},"
        STR("space", "Vector space for vector and hybrid (default: the "
            "first with the built-in embedder, or openai with an endpoint "
            "configured)"), "\"query\""),
     OUT(TXT("query") "," NUM("count") "," FACTS, "\"query\",\"count\",\"facts\""),
     RO, mcp_t_search_knowledge},
    {"get_system_status", "System status",
     "Server, store and build status: version, protocol revisions, "
     "transport, KB path, fact count, uptime and whether writes are enabled.",
     IN("", ""),
     OUT(TXT("server") "," TXT("version") ",\"protocol_versions\":{\"type\":"
         "\"array\",\"items\":{\"type\":\"string\"}}," TXT("transport") ","
         TXT("store_path") "," NUM("facts") ",\"uptime_seconds\":{\"type\":"
         "\"number\"},\"writes_enabled\":{\"type\":\"boolean\"},"
         "\"fixtures\":{\"type\":\"boolean\"}," NUM("tools"),
         "\"server\",\"version\",\"facts\",\"writes_enabled\""),
     RO, mcp_t_get_system_status},
    {"list_recent_facts", "Recent facts",
     "The newest facts, newest first (fact ids grow with insertion).",
     IN(INT("count", 5, 1, 1000, "How many facts"), ""),
     OUT(NUM("count") "," FACTS, "\"count\",\"facts\""), RO,
     mcp_t_list_recent_facts},
    {"add_fact", "Add a fact",
     "Adds one fact. Idempotent: adding a fact that exists returns its id "
     "with created=false and changes nothing. Needs a write token; only add "
     "facts the user asked for. " STATEMENT_HINT,
     IN(STR("statement", "The fact, e.g. HasPart(Computer, CPU)") ","
        "\"source\":{\"type\":\"string\",\"description\":\"Where the fact "
        "comes from (URL, document, person)\"},"
        "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
        "\"maxItems\":32,\"description\":\"Labels for the fact\"}," AUTH,
        "\"statement\""),
     OUT(NUM("id") "," TXT("statement") ",\"created\":{\"type\":\"boolean\"}",
         "\"id\",\"statement\",\"created\""),
     MCP_TOOL_IDEMPOTENT | MCP_TOOL_AUTH, mcp_t_add_fact},
    {"delete_fact", "Delete a fact",
     "Deletes the fact with exactly this statement (compared in canonical "
     "form). Fails with a message when no such fact exists. Needs a write "
     "token. " STATEMENT_HINT,
     IN(STR("statement", "The exact fact to delete") "," AUTH, "\"statement\""),
     OUT(NUM("id") "," TXT("statement") ",\"deleted\":{\"type\":\"boolean\"}",
         "\"id\",\"statement\",\"deleted\""),
     MCP_TOOL_DESTRUCTIVE | MCP_TOOL_AUTH, mcp_t_delete_fact},
    {"update_fact", "Replace a fact",
     "Replaces one fact by another atomically, keeping its id, metadata and "
     "history. Fails when old_statement does not exist or new_statement is "
     "already another fact. Needs a write token. " STATEMENT_HINT,
     IN(STR("old_statement", "The fact to replace") ","
        STR("new_statement", "Its new content") "," AUTH,
        "\"old_statement\",\"new_statement\""),
     OUT(NUM("id") "," TXT("old_statement") "," TXT("new_statement") ","
         "\"changed\":{\"type\":\"boolean\"}",
         "\"id\",\"old_statement\",\"new_statement\",\"changed\""),
     MCP_TOOL_DESTRUCTIVE | MCP_TOOL_IDEMPOTENT | MCP_TOOL_AUTH,
     mcp_t_update_fact},
    {"kb_stats", "KB statistics",
     "Counts (facts, predicates, entities, audit entries), size on disk and "
     "time of the last change.",
     IN("", ""),
     OUT(NUM("facts") "," NUM("predicates") "," NUM("entities") ","
         NUM("symbols") "," NUM("audit_entries") "," NUM("last_fact_id") ","
         NUM("bytes_on_disk") "," NUM("bytes_used") "," NUM("bytes_free")
         "," NUM("map_size") ","
         "\"last_change\":{\"type\":[\"string\",\"null\"]},"
         NUM("schema_version"),
         "\"facts\",\"predicates\",\"entities\",\"audit_entries\""),
     RO, mcp_t_kb_stats},

    /* ---- Analysis ---- */
    {"semantic_similarity", "Similar facts",
     "Facts similar to a statement, with scores 0..1. Method (lexical, not "
     "embeddings yet): candidates are facts sharing words with the "
     "statement (search index, camelCase split); the score is the mean of "
     "the word-set and character-trigram Jaccard similarities of the "
     "canonical statements. Synonyms are not recognised. mode vector "
     "ranks by a vector space instead (cosine similarity, threshold "
     "applies), hybrid fuses both rankings (fusion scores, no "
     "threshold); space names the space (default: the first with an "
     "embedder). Default mode text: the lexical method above.",
     IN(STR("statement", "A statement or phrase to compare") ","
        "\"threshold\":{\"type\":\"number\",\"default\":0.8,\"minimum\":0,"
        "\"maximum\":1,\"description\":\"Minimum score\"},"
        INT("limit", 50, 1, 1000, "Maximum matches") ","
        "\"mode\":{\"type\":\"string\",\"enum\":[\"text\",\"vector\","
        "\"hybrid\"],\"default\":\"text\",\"description\":\"text "
        "(lexical), vector or hybrid\"}," STR("space", "Vector space for "
        "vector and hybrid"), "\"statement\""),
     OUT(TXT("statement") "," TXT("method") "," TXT("mode") ","
         "\"threshold\":{\"type\":"
         "\"number\"}," NUM("candidates_examined") "," NUM("count") ","
         "\"matches\":{\"type\":\"array\",\"items\":" FACT "}",
         "\"statement\",\"method\",\"count\",\"matches\""),
     RO, mcp_t_semantic_similarity},
    {"consistency_check", "Find contradictions",
     "Finds contradictions: a fact and its negation (P(a, b) with "
     "NotP(a, b), or predicates declared NegationOf(NotP, P)); two-cycles "
     "of asymmetric predicates (IsA(A, B) and IsA(B, A); asymmetric by "
     "default: IsA, HasPart, IsPartOf, Causes, plus any declared "
     "Asymmetric(P)); several values of a predicate declared Functional(P) "
     "for the same first argument. Declarations are ordinary facts. Each "
     "finding names the facts involved. rule_contradictions lists the "
     "Contradiction facts derived by rules (constraint rules and the "
     "declared Functional, Asymmetric and NegationOf constraints, also over "
     "derived facts), each with its proof.",
     IN(INT("limit", 1000, 1, 1000000,
            "Facts examined per rule (bounds the work)"), ""),
     OUT(NUM("examined") "," NUM("count") ",\"truncated\":{\"type\":"
         "\"boolean\"},\"declarations\":{\"type\":\"object\"},"
         "\"contradictions\":{\"type\":\"array\",\"items\":{\"type\":"
         "\"object\",\"properties\":{" TXT("kind") "," TXT("description") ","
         "\"facts\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
         "\"fact_ids\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}},"
         "\"required\":[\"kind\",\"facts\"]}},"
         "\"rule_contradictions\":{\"type\":\"array\",\"items\":{"
         "\"type\":\"object\",\"properties\":{" TXT("statement") ","
         "\"proof\":{\"type\":\"object\"}},\"required\":[\"statement\","
         "\"proof\"]}}",
         "\"examined\",\"count\",\"contradictions\""),
     RO, mcp_t_consistency_check},
    {"validate_facts", "Validate facts",
     "Checks the newest facts for invalid syntax and for an arity that is "
     "unusual for their predicate (differs from the arity of at least 90% of "
     "the predicate's facts). When the KB has a learned model (`hakgal "
     "model train`), each issue also carries the model's plausibility of "
     "the fact (0..1, calibrated), and min_plausibility lists the newest "
     "facts the model finds less plausible than that as implausible.",
     IN(INT("limit", 1000, 1, 1000000, "Newest facts to check") ","
        "\"min_plausibility\":{\"type\":\"number\",\"minimum\":0,"
        "\"maximum\":1,\"description\":\"Also list facts whose learned "
        "plausibility is below this (needs a trained model)\"}", ""),
     OUT(NUM("examined") "," NUM("count") ",\"issues\":{\"type\":\"array\","
         "\"items\":{\"type\":\"object\",\"properties\":{" TXT("kind") ","
         NUM("fact_id") "," TXT("statement") "," TXT("message") ","
         "\"plausibility\":{\"type\":\"number\"}},"
         "\"required\":[\"kind\",\"fact_id\",\"message\"]}},"
         "\"model\":{\"type\":[\"object\",\"null\"]},"
         "\"implausible\":{\"type\":\"array\",\"items\":{\"type\":"
         "\"object\",\"properties\":{" NUM("fact_id") "," TXT("statement")
         ",\"plausibility\":{\"type\":\"number\"}},\"required\":["
         "\"fact_id\",\"statement\",\"plausibility\"]}},"
         NUM("unknown_to_model"),
         "\"examined\",\"count\",\"issues\""),
     RO, mcp_t_validate_facts},
    {"get_entities_stats", "Entity frequencies",
     "Entities (argument values) that occur in at least min_occurrences "
     "facts, most frequent first (at most 1000 listed).",
     IN(INT("min_occurrences", 2, 1, 1000000000, "Minimum fact count"), ""),
     OUT(NUM("min_occurrences") "," NUM("matching") "," NUM("count") ","
         "\"entities\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
         "\"properties\":{" TXT("name") "," NUM("count") "},"
         "\"required\":[\"name\",\"count\"]}}",
         "\"matching\",\"count\",\"entities\""),
     RO, mcp_t_get_entities_stats},
    {"search_by_predicate", "Facts of a predicate",
     "All facts of one predicate (exact, case-sensitive name), oldest first.",
     IN(STR("predicate", "Predicate name, e.g. HasPart") ","
        INT("limit", 100, 1, 10000, "Maximum facts"), "\"predicate\""),
     OUT(TXT("predicate") "," NUM("total") "," NUM("count") "," FACTS,
         "\"predicate\",\"total\",\"count\",\"facts\""),
     RO, mcp_t_search_by_predicate},
    {"get_predicates_stats", "Predicate frequencies",
     "Every predicate with its fact count and the smallest and largest "
     "arity seen, most frequent first.",
     IN("", ""),
     OUT(NUM("count") ",\"predicates\":{\"type\":\"array\",\"items\":{"
         "\"type\":\"object\",\"properties\":{" TXT("name") "," NUM("count")
         "," NUM("min_arity") "," NUM("max_arity") "},\"required\":[\"name\","
         "\"count\"]}}",
         "\"count\",\"predicates\""),
     RO, mcp_t_get_predicates_stats},
    {"query_related", "Facts about an entity",
     "All facts that mention an entity in any argument position (exact, "
     "case-sensitive), oldest first.",
     IN(STR("entity", "Entity name, e.g. Computer") ","
        INT("limit", 100, 1, 10000, "Maximum facts"), "\"entity\""),
     OUT(TXT("entity") "," NUM("total") "," NUM("count") "," FACTS,
         "\"entity\",\"total\",\"count\",\"facts\""),
     RO, mcp_t_query_related},
    {"analyze_duplicates", "Near-duplicate facts",
     "Pairs of near-duplicate facts among the newest 20000, with scores "
     "0..1 (same lexical method as semantic_similarity: word-set and "
     "character-trigram Jaccard of canonical statements, camelCase split). "
     "Only pairs sharing a word are compared. When the KB has a learned "
     "model, each pair also carries model_similarity (-1..1: mean cosine of "
     "the predicates' and the arguments' learned embeddings).",
     IN("\"threshold\":{\"type\":\"number\",\"default\":0.9,\"minimum\":0,"
        "\"maximum\":1,\"description\":\"Minimum score\"},"
        INT("max_pairs", 200, 1, 10000, "Maximum pairs"), ""),
     OUT(TXT("method") ",\"threshold\":{\"type\":\"number\"},"
         NUM("examined") "," NUM("count") ",\"pairs\":{\"type\":\"array\","
         "\"items\":{\"type\":\"object\",\"properties\":{\"score\":{\"type\":"
         "\"number\"},\"a\":" FACT ",\"b\":" FACT ",\"model_similarity\":{"
         "\"type\":\"number\"}},\"required\":[\"score\",\"a\",\"b\"]}},"
         "\"model\":{\"type\":[\"object\",\"null\"]}",
         "\"method\",\"examined\",\"count\",\"pairs\""),
     RO, mcp_t_analyze_duplicates},

    /* ---- Management ---- */
    {"list_audit", "Audit log",
     "The newest audit entries (who changed what, when), newest first. "
     "Entries are hash-chained; health_check verifies the chain.",
     IN(INT("limit", 20, 1, 10000, "Maximum entries"), ""),
     OUT(NUM("count") ",\"entries\":{\"type\":\"array\",\"items\":" AUDIT "}",
         "\"count\",\"entries\""),
     RO, mcp_t_list_audit},
    {"export_facts", "Export facts",
     "The oldest (direction head) or newest (direction tail) facts with "
     "their metadata.",
     IN(INT("count", 50, 1, 10000, "How many facts") ","
        "\"direction\":{\"type\":\"string\",\"enum\":[\"head\",\"tail\"],"
        "\"default\":\"tail\",\"description\":\"head = oldest, tail = "
        "newest\"}", ""),
     OUT(TXT("direction") "," NUM("count") "," FACTS,
         "\"direction\",\"count\",\"facts\""),
     RO, mcp_t_export_facts},
    {"growth_stats", "Growth per day",
     "Facts added per UTC day over the last days. basis created (default): "
     "by creation time of the facts that still exist (reads every fact). "
     "basis changes: facts added and deleted per day of the change (an "
     "import counts on its day), from per-day counters, fast on any KB.",
     IN(INT("days", 30, 1, 3660, "Days to look back") ","
        "\"basis\":{\"type\":\"string\",\"enum\":[\"created\","
        "\"changes\"],\"default\":\"created\",\"description\":\"created "
        "= creation times of existing facts; changes = adds and deletes per "
        "day\"}", ""),
     OUT(NUM("days") "," NUM("total_added") "," NUM("total_deleted") ","
         TXT("first_day") "," NUM("counted_seq") "," NUM("folded") ","
         "\"per_day\":{\"type\":"
         "\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
         TXT("date") "," NUM("added") "," NUM("deleted") "},"
         "\"required\":[\"date\",\"added\"]}}",
         "\"days\",\"total_added\",\"per_day\""),
     RO, mcp_t_growth_stats},
    {"health_check", "Health check",
     "Store integrity: opens a read snapshot, verifies the whole audit hash "
     "chain, reports free disk space and map usage, and whether the server "
     "is ready. deep: also check every fact record, symbol and index entry "
     "against the data digest and each other (checks.data names what is "
     "wrong; reads the whole KB).",
     IN("\"deep\":{\"type\":\"boolean\",\"default\":false,"
        "\"description\":\"Check every record, symbol and index entry\"}",
        ""),
     OUT(TXT("status") ",\"ready\":{\"type\":\"boolean\"},\"checks\":{"
         "\"type\":\"object\"}", "\"status\",\"ready\",\"checks\""),
     RO, mcp_t_health_check},
    {"get_fact_history", "History of a fact",
     "Audit entries of one fact (creation, changes, deletion), newest "
     "first. Works for deleted facts too (searches the newest 10000 audit "
     "entries, or the 10000 below before). When older entries remain, "
     "next_before is set: pass it back as before for the next page. "
     STATEMENT_HINT,
     IN(STR("statement", "The fact") ","
        INT("limit", 50, 1, 1000, "Maximum entries") ","
        "\"before\":{\"type\":\"integer\",\"minimum\":1,\"description\":"
        "\"Only entries below this audit sequence number: next_before of "
        "the previous page\"}", "\"statement\""),
     OUT(TXT("statement") ",\"fact_id\":{\"type\":[\"integer\",\"null\"]},"
         NUM("count") ",\"entries\":{\"type\":\"array\",\"items\":" AUDIT "},"
         "\"next_before\":{\"type\":[\"integer\",\"null\"]}",
         "\"statement\",\"fact_id\",\"count\",\"entries\",\"next_before\""),
     RO, mcp_t_get_fact_history},
    {"backup_kb", "Back up the KB",
     "Consistent hot backup of the whole KB into the server's backup "
     "directory while writes continue; returns the backup id for "
     "restore_kb. Needs a write token.",
     IN("\"description\":{\"type\":\"string\",\"maxLength\":1000,"
        "\"description\":\"Note stored with the backup\"}," AUTH, ""),
     OUT(TXT("backup_id") "," TXT("path") "," TXT("sha256") ","
         TXT("created") ",\"description\":{\"type\":[\"string\",\"null\"]}",
         "\"backup_id\",\"path\",\"sha256\""),
     MCP_TOOL_AUTH, mcp_t_backup_kb},
    {"restore_kb", "Restore a backup",
     "Replaces the whole KB by a verified backup (by backup_id from "
     "backup_kb, or a backup directory path inside the allowed "
     "directories). Only possible where the server may close the KB (stdio "
     "mode); the HTTP server refuses and names the CLI command. Needs a "
     "write token.",
     IN("\"backup_id\":{\"type\":\"string\",\"minLength\":1},"
        "\"path\":{\"type\":\"string\",\"minLength\":1}," AUTH, ""),
     OUT(TXT("restored_from") "," TXT("sha256") "," NUM("facts"),
         "\"restored_from\",\"sha256\",\"facts\""),
     MCP_TOOL_DESTRUCTIVE | MCP_TOOL_AUTH, mcp_t_restore_kb},

    /* ---- Advanced ---- */
    {"bulk_delete", "Delete several facts",
     "Deletes several facts in one transaction: either all found facts are "
     "deleted or none (on error). Statements that do not exist are listed "
     "in not_found. Needs a write token. " STATEMENT_HINT,
     IN("\"statements\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":"
        "10000,\"items\":{\"type\":\"string\",\"minLength\":1}}," AUTH,
        "\"statements\""),
     OUT(NUM("deleted") ",\"deleted_ids\":{\"type\":\"array\",\"items\":{"
         "\"type\":\"integer\"}},\"not_found\":{\"type\":\"array\",\"items\":"
         "{\"type\":\"string\"}}", "\"deleted\",\"not_found\""),
     MCP_TOOL_DESTRUCTIVE | MCP_TOOL_AUTH, mcp_t_bulk_delete},
    {"find_isolated_facts", "Isolated facts",
     "Facts none of whose arguments occurs in any other fact (islands in "
     "the graph), newest first; examines at most the newest 100000 facts.",
     IN(INT("limit", 50, 1, 10000, "Maximum facts"), ""),
     OUT(NUM("examined") "," NUM("count") "," FACTS,
         "\"examined\",\"count\",\"facts\""),
     RO, mcp_t_find_isolated_facts},
    {"inference_chain", "Chain of linked facts",
     "Breadth-first chain of facts linked through shared entities, starting "
     "at a fact: depth 1 holds facts sharing an argument with it, depth 2 "
     "facts sharing one with those, and so on (at most 25 facts per entity "
     "and 500 in total). " STATEMENT_HINT,
     IN(STR("start_fact", "The starting fact") ","
        INT("max_depth", 5, 1, 10, "Maximum depth"), "\"start_fact\""),
     OUT(TXT("start_fact") "," NUM("max_depth") "," NUM("count") ","
         "\"truncated\":{\"type\":\"boolean\"},\"steps\":{\"type\":\"array\","
         "\"items\":{\"type\":\"object\",\"properties\":{" NUM("depth") ","
         TXT("via") ",\"fact\":" FACT "},\"required\":[\"depth\",\"fact\"]}}",
         "\"start_fact\",\"count\",\"steps\""),
     RO, mcp_t_inference_chain},
    {"get_knowledge_graph", "Subgraph around an entity",
     "The subgraph within depth hops of an entity: binary facts are edges "
     "arg0 -> arg1 labelled by the predicate; n-ary facts become a fact "
     "node linked to each argument. format dot also returns Graphviz text. "
     "At most 2000 edges.",
     IN(STR("entity", "Centre entity") ","
        INT("depth", 2, 1, 5, "Hops from the entity") ","
        "\"format\":{\"type\":\"string\",\"enum\":[\"json\",\"dot\"],"
        "\"default\":\"json\"}", "\"entity\""),
     OUT(TXT("entity") "," NUM("depth") ",\"nodes\":{\"type\":\"array\","
         "\"items\":{\"type\":\"object\",\"properties\":{" TXT("id") ","
         TXT("kind") "},\"required\":[\"id\",\"kind\"]}},\"edges\":{\"type\":"
         "\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
         TXT("from") "," TXT("to") "," TXT("label") "," NUM("fact_id") "},"
         "\"required\":[\"from\",\"to\",\"label\",\"fact_id\"]}},"
         "\"truncated\":{\"type\":\"boolean\"}," TXT("dot"),
         "\"entity\",\"nodes\",\"edges\""),
     RO, mcp_t_get_knowledge_graph},
    {"bulk_translate_predicates", "Rename predicates",
     "Renames predicates in bulk (mapping old -> new). dry_run (default) "
     "only reports what would change. When the renamed fact already exists "
     "the old one is deleted (merged). A new name may not be renamed in "
     "the same call (no swaps or chains: run B->C, then A->B). limit "
     "bounds examined facts "
     "(limit_mode lines) or changes (limit_mode changes); start_offset "
     "skips candidates; sample_strategy orders them (head = oldest first, "
     "tail = newest first, stratified = round-robin over predicates). "
     "report_path writes a JSON report inside the allowed directories. "
     "Needs a write token unless dry_run.",
     IN("\"mapping\":{\"type\":\"object\",\"additionalProperties\":{\"type\":"
        "\"string\",\"minLength\":1},\"description\":\"old predicate -> new "
        "predicate\"},"
        "\"predicates\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
        "\"description\":\"Only these old predicates\"},"
        "\"exclude_predicates\":{\"type\":\"array\",\"items\":{\"type\":"
        "\"string\"}},"
        "\"dry_run\":{\"type\":\"boolean\",\"default\":true},"
        INT("limit", 0, 0, 100000000, "0 = all") ","
        "\"limit_mode\":{\"type\":\"string\",\"enum\":[\"lines\",\"changes\"],"
        "\"default\":\"lines\"},"
        INT("start_offset", 0, 0, 100000000, "Candidates to skip") ","
        "\"sample_strategy\":{\"type\":\"string\",\"enum\":[\"head\",\"tail\","
        "\"stratified\"],\"default\":\"head\"},"
        "\"report_path\":{\"type\":\"string\",\"minLength\":1}," AUTH,
        "\"mapping\""),
     OUT("\"dry_run\":{\"type\":\"boolean\"}," NUM("examined") ","
         NUM("changed") "," NUM("merged") ",\"changes\":{\"type\":\"array\","
         "\"items\":{\"type\":\"object\",\"properties\":{" NUM("fact_id") ","
         TXT("old") "," TXT("new") "," TXT("action") "},\"required\":["
         "\"fact_id\",\"old\",\"new\",\"action\"]}},"
         "\"report_path\":{\"type\":[\"string\",\"null\"]}",
         "\"dry_run\",\"examined\",\"changed\",\"merged\",\"changes\""),
     MCP_TOOL_DESTRUCTIVE | MCP_TOOL_AUTH_UNLESS_DRY,
     mcp_t_bulk_translate_predicates},

    /* ---- Project hub ---- */
    {"project_snapshot", "Write a hand-over snapshot",
     "Writes a snapshot into the project hub directory: a titled, "
     "timestamped note plus a digest of the KB (counts, newest facts, "
     "newest audit entries), for the next working session to read with "
     "project_hub_digest. hub_path must be inside the allowed directories. "
     "Needs a write token.",
     IN("\"title\":{\"type\":\"string\",\"maxLength\":200},"
        "\"description\":{\"type\":\"string\",\"maxLength\":20000},"
        STR("hub_path", "Project hub directory") "," AUTH, "\"hub_path\""),
     OUT(TXT("file") "," TXT("title") "," TXT("created") "," NUM("facts"),
         "\"file\",\"title\",\"created\""),
     MCP_TOOL_AUTH, mcp_t_project_snapshot},
    {"project_list_snapshots", "List snapshots",
     "Snapshots in a project hub directory, newest first.",
     IN(STR("hub_path", "Project hub directory") ","
        INT("limit", 20, 1, 1000, "Maximum snapshots"), "\"hub_path\""),
     OUT(TXT("hub_path") "," NUM("count") ",\"snapshots\":{\"type\":"
         "\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
         TXT("file") "," TXT("title") "," TXT("created") "," NUM("bytes")
         "},\"required\":[\"file\",\"bytes\"]}}",
         "\"hub_path\",\"count\",\"snapshots\""),
     RO, mcp_t_project_list_snapshots},
    {"project_hub_digest", "Digest of snapshots",
     "A compact text digest of the newest snapshots of a project hub, at "
     "most max_chars characters: read it at the start of a working session.",
     IN(STR("hub_path", "Project hub directory") ","
        INT("limit_files", 3, 1, 100, "Newest snapshots to include") ","
        INT("max_chars", 20000, 100, 1000000, "Maximum digest length"),
        "\"hub_path\""),
     OUT(TXT("hub_path") ",\"files\":{\"type\":\"array\",\"items\":{\"type\":"
         "\"string\"}}," TXT("digest") ",\"truncated\":{\"type\":\"boolean\"}",
         "\"hub_path\",\"files\",\"digest\",\"truncated\""),
     RO, mcp_t_project_hub_digest},
    /* new tools (not in the legacy contract) */
    {"graph_neighbours", "Neighbourhood of an entity",
     "The facts around an entity up to depth hops as a subgraph: binary "
     "facts are edges arg0 -> arg1 labelled by the predicate, other facts "
     "a node fact:<id> with an edge P[i] to each argument. fanout limits "
     "the facts followed per entity and hop; direction out follows facts "
     "from their first argument on; allow/deny restrict predicates.",
     IN(STR("entity", "Centre entity") ","
        INT("depth", 1, 1, 16, "Hops from the entity") ","
        INT("fanout", 0, 0, 100000000, "Facts per entity and hop; 0 = all") ","
        INT("max_edges", 2000, 0, 100000, "Edges at most; 0 = 2000") ","
        "\"direction\":{\"type\":\"string\",\"enum\":[\"out\",\"in\","
        "\"both\"],\"default\":\"both\"},"
        "\"allow\":{\"type\":\"array\",\"maxItems\":64,\"items\":{"
        "\"type\":\"string\"},\"description\":\"Only these predicates\"},"
        "\"deny\":{\"type\":\"array\",\"maxItems\":64,\"items\":{"
        "\"type\":\"string\"},\"description\":\"Never these predicates\"}",
        "\"entity\""),
     OUT("\"nodes\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
         "\"properties\":{" TXT("id") "," TXT("kind") "," TXT("label") "},"
         "\"required\":[\"id\",\"kind\"]}},\"edges\":{\"type\":\"array\","
         "\"items\":{\"type\":\"object\",\"properties\":{" TXT("from") ","
         TXT("to") "," TXT("label") "," NUM("fact") "},\"required\":[\"from\","
         "\"to\",\"label\",\"fact\"]}},\"truncated\":{\"type\":\"boolean\"}",
         "\"nodes\",\"edges\",\"truncated\""),
     RO, mcp_t_graph_neighbours},
    {"graph_path", "Paths between two entities",
     "Up to k shortest simple paths from one entity to another, of at most "
     "max_len hops; each hop is one fact (a fact with three or more "
     "arguments links all of them). Undirected unless direction is out "
     "(first argument to second) or in. An empty list when none exists.",
     IN(STR("from", "First entity") "," STR("to", "Last entity") ","
        INT("max_len", 6, 1, 32, "Hops at most") ","
        INT("k", 1, 1, 100, "Paths wanted") ","
        "\"direction\":{\"type\":\"string\",\"enum\":[\"out\",\"in\","
        "\"both\"],\"default\":\"both\"},"
        "\"allow\":{\"type\":\"array\",\"maxItems\":64,\"items\":{"
        "\"type\":\"string\"},\"description\":\"Only these predicates\"},"
        "\"deny\":{\"type\":\"array\",\"maxItems\":64,\"items\":{"
        "\"type\":\"string\"},\"description\":\"Never these predicates\"}",
        "\"from\",\"to\""),
     OUT("\"paths\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
         "\"properties\":{" NUM("length") ",\"nodes\":{\"type\":\"array\","
         "\"items\":{\"type\":\"string\"}},\"facts\":{\"type\":\"array\","
         "\"items\":{\"type\":\"integer\"}}},\"required\":[\"length\","
         "\"nodes\",\"facts\"]}}", "\"paths\""),
     RO, mcp_t_graph_path},
    {"graph_analyze", "Rank the graph",
     "Builds a snapshot of the entity graph (binary facts are edges a -> b, "
     "facts with three or more arguments a vertex fact:<id>) and computes "
     "kind: pagerank (scores), components and communities (Louvain; groups "
     "by size with their first member), degrees (distribution) or "
     "betweenness (exact up to 5000 vertices, else sampled). Returns the "
     "top rows.",
     IN("\"kind\":{\"type\":\"string\",\"enum\":[\"pagerank\","
        "\"components\",\"communities\",\"degrees\",\"betweenness\"]},"
        INT("top", 10, 1, 100000, "Rows returned"), "\"kind\""),
     OUT(TXT("analysis") "," NUM("vertices") "," NUM("edges") ","
         NUM("snapshot_bytes") "," NUM("groups") ",\"modularity\":{\"type\":"
         "\"number\"},\"sampled\":{\"type\":\"boolean\"},\"top\":{"
         "\"type\":\"array\",\"items\":{\"type\":\"object\"}}",
         "\"analysis\",\"vertices\",\"edges\",\"top\""),
     RO, mcp_t_graph_analyze},

    /* ---- Graph queries ---- */
    {"query_graph", "Multi-pattern query",
     "Answers a question spanning several facts: patterns joined on shared "
     "?variables, e.g. HasPart(?c, ?p), MadeBy(?p, ?m), FoundedIn(?m, ?y), "
     "?y < 1970. Slots are constants, ?variables or _ (any). Also: "
     "comparisons = != < <= > >= (numeric when both sides are numbers), "
     "not P(...) (its variables bound by other patterns), select ?a ?b "
     "[distinct] where ..., order by ?a [desc] (needs limit), limit N. Each "
     "row has the variable bindings and the ids of the matched facts; pass "
     "next_cursor back as cursor for the next page.",
     IN(STR("query", "The query, e.g. HasPart(?c, ?p), MadeBy(?p, ?m)") ","
        INT("limit", 100, 1, 10000, "Maximum rows on this page") ","
        "\"cursor\":{\"type\":\"string\",\"description\":\"next_cursor "
        "of the previous page\"},"
        "\"explain\":{\"type\":\"boolean\",\"default\":false,"
        "\"description\":\"Add the plan with estimated and actual rows\"}",
        "\"query\""),
     OUT(TXT("query") "," NUM("count") ",\"rows\":{\"type\":\"array\","
         "\"items\":{\"type\":\"object\",\"properties\":{\"bindings\":"
         "{\"type\":\"object\"},\"facts\":{\"type\":\"array\",\"items\":"
         "{\"type\":\"integer\"}}},\"required\":[\"bindings\",\"facts\"]}},"
         "\"next_cursor\":{\"type\":[\"string\",\"null\"]},"
         "\"plan\":{\"type\":\"array\"}",
         "\"query\",\"count\",\"rows\",\"next_cursor\""),
     RO, mcp_t_query_graph},

    /* ---- Vector search (mcp_tools_vector.c) ---- */
    {"vector_spaces", "List vector spaces",
     "Lists the vector spaces of the KB: name, dimension, metric, storage, "
     "index parameters, embedder (hashed-ngrams: the built-in one, which "
     "captures spelling rather than meaning; openai: an OpenAI-compatible "
     "embeddings endpoint, as good as its model; none: vectors come from "
     "clients), kind (fact: a vector per fact; entity: a vector per "
     "entity), the embedding model recorded with it, and how many vectors "
     "it holds.",
     IN("", ""),
     OUT("\"spaces\":{\"type\":\"array\",\"items\":{\"type\":"
         "\"object\"}}", "\"spaces\""),
     RO, mcp_t_vector_spaces},
    {"vector_similar", "Similar facts",
     "Finds the facts nearest to a query in a vector space: give exactly "
     "one of text (spaces with an embedder: built in, or openai through "
     "the server's embeddings endpoint), vector (dimension "
     "of the space) or fact (an id: facts like that one). predicate, "
     "entity, tag, source and query (a graph query: the facts it "
     "matches) restrict the hits and combine; a selective filter is "
     "searched exactly, so no match is missed. Scores: cosine similarity, dot product, or minus the "
     "L2 distance; nearest first. In an entity space (kind entity) the "
     "hits are entities ({entity, score}), queried by text or vector, "
     "filtered by query only.",
     IN(STR("space", "The vector space") ","
        STR("text", "Query text") ","
        "\"vector\":{\"type\":\"array\",\"items\":{\"type\":"
        "\"number\"},\"minItems\":1,\"maxItems\":4096,"
        "\"description\":\"Query vector\"},"
        "\"fact\":{\"type\":\"integer\",\"minimum\":1,"
        "\"description\":\"Query by this fact's vector\"}," INT("k", 10, 1, 1000, "Hits") ","
        STR("predicate", "Only facts of this predicate") ","
        STR("entity", "Only facts mentioning this entity") ","
        STR("tag", "Only facts with this tag") ","
        STR("source", "Only facts with this source") ","
        STR("query", "Only the facts a graph query matches, e.g. "
            "HasPart(?x, CPU); in an entity space the entities bound to var")
        "," STR("var", "Entity space: the query variable (default: the "
                "first)"), "\"space\""),
     OUT(TXT("space") "," NUM("candidates") ",\"exact\":{\"type\":"
         "\"boolean\"},\"hits\":{\"type\":\"array\",\"items\":{"
         "\"type\":\"object\",\"properties\":{" NUM("id") ","
         TXT("statement") "," TXT("entity") ",\"score\":{\"type\":"
         "\"number\"}},\"required\":[\"score\"]}}",
         "\"space\",\"hits\""),
     RO, mcp_t_vector_similar},
    {"vector_space", "Create or drop a vector space",
     "Creates (action create) or drops (action drop, with all its "
     "vectors) a vector space. create takes dim, metric (cosine, dot, "
     "l2), storage (float32, or int8: a quarter of the memory, candidates "
     "re-ranked with the float vectors), embedder (none: vectors come "
     "from clients; hashed: the built-in embedder, near in spelling, not "
     "in meaning; openai: the server's embeddings endpoint), kind (fact: "
     "one vector per fact; entity: one per entity), the model name its "
     "vectors come from, auto_embed and the HNSW parameters m, "
     "ef_construction and ef. Needs a write token.",
     IN(STR("action", "create or drop") "," STR("space", "The space name "
        "(a-z, 0-9, _ and -)") "," INT("dim", 384, 1, 4096, "Dimensions") ","
        STR("metric", "cosine (default), dot or l2") ","
        STR("storage", "float32 (default) or int8") ","
        STR("embedder", "none (default), hashed or openai") ","
        STR("kind", "fact (default) or entity") ","
        STR("model", "Embedding model the vectors come from") ","
        "\"auto_embed\":{\"type\":\"boolean\",\"description\":\"Embed new "
        "facts after commit (a running server)\"},"
        INT("m", 16, 2, 128, "HNSW links per node") ","
        INT("ef_construction", 200, 1, 4096, "HNSW build candidates") ","
        INT("ef", 64, 1, 4096, "HNSW search candidates") "," AUTH,
        "\"action\",\"space\""),
     OUT("\"space\":{}," "\"dropped\":{\"type\":\"boolean\"}", "\"space\""),
     MCP_TOOL_DESTRUCTIVE | MCP_TOOL_AUTH, mcp_t_vector_space},
    {"vector_entities", "Store entity vectors",
     "Stores the vectors of entities in an entity space (kind entity) in "
     "one transaction, all or nothing: each entry names an existing "
     "entity and its vector (the space's dimension). With remove, deletes "
     "the vectors of the named entities. model records the model the "
     "vectors come from. Needs a write token.",
     IN(STR("space", "An entity space") ","
        "\"entities\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":"
        "10000,\"items\":{\"type\":\"object\",\"properties\":{"
        STR("entity", "Entity name") ",\"vector\":{\"type\":\"array\","
        "\"items\":{\"type\":\"number\"},\"minItems\":1,\"maxItems\":"
        "4096}},\"required\":[\"entity\"],\"additionalProperties\":false}},"
        STR("model", "Model the vectors come from") ","
        "\"remove\":{\"type\":\"boolean\",\"description\":\"Delete the "
        "vectors instead\"}," AUTH,
        "\"space\",\"entities\""),
     OUT(TXT("space") "," NUM("written") "," NUM("removed") ","
         "\"remove\":{\"type\":\"boolean\"}", "\"space\",\"remove\""),
     MCP_TOOL_DESTRUCTIVE | MCP_TOOL_AUTH, mcp_t_vector_entities},

    /* ---- Interchange (mcp_tools_export.c) ---- */
    {"export_graph", "Export facts as a graph file",
     "Writes the KB's facts, or those a query (where) or an entity's "
     "neighbourhood (around, depth) selects, in an interchange format: "
     "turtle or ntriples (RDF; base sets the IRI base), graphml (Gephi, "
     "yEd, networkx), jsongraph (d3, Cytoscape), cypher (a script for "
     "Neo4j), statements, jsonl or tsv. The text is in data; an export "
     "larger than max_bytes is refused (select fewer facts).",
     IN("\"format\":{\"type\":\"string\",\"enum\":[\"statements\","
        "\"jsonl\",\"tsv\",\"ntriples\",\"turtle\",\"graphml\","
        "\"jsongraph\",\"cypher\"],\"default\":\"turtle\"},"
        STR("where", "Only facts matched by this query, e.g. "
            "HasPart(Computer, ?p)") ","
        STR("around", "Only facts around this entity") ","
        INT("depth", 1, 1, 16, "Hops around the entity") ","
        STR("base", "IRI base for turtle and ntriples") ","
        INT("max_bytes", 1048576, 1, 67108864, "Largest answer"), ""),
     OUT(TXT("format") "," NUM("bytes") "," NUM("facts") "," TXT("data"),
         "\"format\",\"bytes\",\"data\""),
     RO, mcp_t_export_graph},

    /* ---- Grounded model use (mcp_tools_llm.c) ---- */
    {"ask_knowledge", "Ask the KB's model",
     "Answers a question with the configured language model grounded in "
     "the KB: retrieves facts (text search and the neighbourhood of "
     "matched entities), has the model answer citing fact ids, then "
     "checks every citation (exists and was in the context) and every "
     "claim: supported (with the fact), contradicted (with the conflicting "
     "fact: a negation or a functional predicate) or unknown. With rules, "
     "the rules' conclusions about the matched entities join the context "
     "with the facts their proofs rest on, and a claim the rules derive is "
     "supported with its proof. With model access switched off it answers "
     "with the retrieval only (mode retrieval_only).",
     IN(STR("question", "The question, in plain language") ","
        INT("budget_tokens", 2000, 50, 100000,
            "Estimated tokens of facts given to the model") ","
        "\"search\":{\"type\":\"string\",\"enum\":[\"text\",\"vector\","
        "\"hybrid\"],\"default\":\"hybrid\",\"description\":\"How facts "
        "are found for the question: hybrid uses the text search and a "
        "vector space with the built-in embedder when one exists\"}",
        "\"question\""),
     OUT(TXT("question") "," TXT("mode") "," TXT("note") "," TXT("answer")
         ",\"structured\":{\"type\":\"boolean\"},\"citations\":{\"type\":"
         "\"array\",\"items\":{\"type\":\"integer\"}},"
         "\"invalid_citations\":{\"type\":\"array\"},\"claims\":{\"type\":"
         "\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
         TXT("statement") "," TXT("verdict") "},\"required\":["
         "\"statement\",\"verdict\"]}},\"context\":{\"type\":\"object\"},"
         "\"model\":{\"type\":[\"string\",\"null\"]}," TXT("prompt_hash")
         ",\"usage\":{\"type\":\"object\"},\"timing_ms\":{\"type\":"
         "\"object\"}",
         "\"answer\",\"mode\",\"citations\",\"claims\",\"context\""),
     MCP_TOOL_READ_ONLY, mcp_t_ask_knowledge},
    {"extract_facts", "Propose facts from a text",
     "Asks the configured language model for the facts a text states and "
     "puts them into the review queue as proposals, with their provenance "
     "(model, prompt hash, quoted source span). Nothing is added to the "
     "facts: a person with a reviewer token approves or rejects each "
     "proposal (review_decide). Needs a write token.",
     IN(STR("text", "The document text") ","
        STR("source", "Document name recorded with the proposals") "," AUTH,
        "\"text\""),
     OUT(TXT("model") "," TXT("prompt_hash") "," NUM("queued") ","
         "\"proposals\":{\"type\":\"array\",\"items\":{\"type\":"
         "\"object\"}},\"not_statements\":{\"type\":\"array\",\"items\":"
         "{\"type\":\"string\"}}",
         "\"proposals\",\"queued\""),
     MCP_TOOL_AUTH, mcp_t_extract_facts},
    {"review_list", "List proposed facts",
     "Lists proposals of the review queue (facts proposed by a model), "
     "oldest first: statement, status, model, prompt hash, source span, "
     "and for decided ones the reviewer and the fact added.",
     IN("\"status\":{\"type\":\"string\",\"enum\":[\"pending\","
        "\"approved\",\"rejected\",\"all\"],\"default\":\"pending\","
        "\"description\":\"Which proposals\"},"
        "\"after\":{\"type\":\"integer\",\"minimum\":0,\"description\":"
        "\"Only proposals with a larger id\"},"
        INT("limit", 100, 1, 10000, "Proposals at most"), ""),
     OUT(NUM("count") ",\"proposals\":{\"type\":\"array\",\"items\":"
         "{\"type\":\"object\"}}", "\"count\",\"proposals\""),
     RO, mcp_t_review_list},
    {"review_decide", "Approve or reject a proposal",
     "Approves (optionally with an edited statement) or rejects one "
     "pending proposal of the review queue. Approval adds the fact with "
     "the reviewer as the audit actor and the proposal's provenance in its "
     "context. Needs a token with role reviewer or admin; only decide what "
     "the user asked for. " STATEMENT_HINT,
     IN("\"id\":{\"type\":\"integer\",\"minimum\":1,\"description\":"
        "\"Proposal id\"},\"decision\":{\"type\":\"string\",\"enum\":"
        "[\"approve\",\"reject\"],\"description\":\"approve or reject\"},"
        STR("statement", "Approve this edited statement instead") ","
        STR("note", "Reason, kept with the decision") "," AUTH,
        "\"id\",\"decision\""),
     OUT(NUM("id") "," TXT("status") ",\"fact\":{\"type\":[\"integer\","
         "\"null\"]},\"created\":{\"type\":\"boolean\"}," TXT("reviewer"),
         "\"id\",\"status\""),
     MCP_TOOL_AUTH, mcp_t_review_decide},

    /* ---- Change stream and digest (mcp_tools_stream.c) ---- */
    {"stream_status", "Change-stream backlog",
     "State of the KB's change-stream outbox (docs/STREAM.md): whether "
     "changes are recorded for Kafka, how many events wait to be "
     "published, the oldest waiting and the last published event.",
     IN("", ""),
     OUT("\"enabled\":{\"type\":\"boolean\"}," NUM("backlog") ","
         NUM("next_event") "," NUM("oldest_event") ","
         "\"oldest\":{\"type\":[\"string\",\"null\"]},"
         NUM("published_event") ","
         "\"published\":{\"type\":[\"string\",\"null\"]}",
         "\"enabled\",\"backlog\""),
     RO, mcp_t_stream_status},
    {"kb_digest", "Content digest",
     "An order-independent digest of every fact (statement and metadata; "
     "ids and times left out) and the audit head (newest sequence and "
     "hash): two KBs with the same content digest hold the same facts; "
     "equal audit heads mean the same history. Scans every fact.",
     IN("", ""),
     OUT(NUM("facts") "," TXT("content") ",\"audit\":{\"type\":"
         "\"object\",\"properties\":{" NUM("seq") "," TXT("hash") "}}",
         "\"facts\",\"content\",\"audit\""),
     RO, mcp_t_kb_digest},
    {"check_statement", "Check a statement",
     "Checks a statement as add_fact would, storing nothing: valid = "
     "true with its canonical form, predicate and arguments, or valid = "
     "false with the error add_fact would give (code, message, and the "
     "column in detail). " STATEMENT_HINT,
     IN(STR("statement", "The statement to check"), "\"statement\""),
     OUT("\"valid\":{\"type\":\"boolean\"}," TXT("statement") ","
         TXT("predicate") ",\"args\":{\"type\":\"array\",\"items\":"
         "{\"type\":\"string\"}},\"error\":{\"type\":\"object\"}",
         "\"valid\""),
     RO, mcp_t_check_statement},

    /* ---- GraphQL (mcp_tools_graphql.c) ---- */
    {"graphql", "GraphQL query",
     "Runs a GraphQL query on the KB (schema: GET /graphql/schema.graphql "
     "or the introspection query) and returns its response {data, "
     "errors}: facts by id, predicate or entity, patterns such as "
     "HasPart(?x, CPU), multi-pattern queries, entities with neighbours "
     "and counts, predicates, search, audit log and paths, with Relay "
     "cursors (first, after). Mutations are refused: use the write tools.",
     IN(STR("query", "The GraphQL document, e.g. { predicates { nodes "
            "{ name count } } }") ","
        "\"variables\":{\"type\":\"object\",\"description\":"
        "\"Variable values\"}," STR("operation_name",
        "The operation to run when the document has several"),
        "\"query\""),
     OUT("\"data\":{},\"errors\":{\"type\":\"array\"}", ""),
     RO, mcp_t_graphql},

    /* ---- Learned model (mcp_tools_model.c) ---- */
    {"score_fact", "Score a fact with the learned model",
     "Scores a statement with the knowledge-graph embedding learned from "
     "the KB (hakgal model train): plausibility in [0, 1] (calibrated on "
     "held-out facts), the raw score, the rank of the object among all "
     "entities (1 = the model's first choice) and whether the statement "
     "is already a fact. " STATEMENT_HINT,
     IN(STR("statement", "The statement to score"), "\"statement\""),
     OUT(TXT("statement") ",\"plausibility\":{\"type\":\"number\"},"
         "\"score\":{\"type\":\"number\"},\"rank\":{\"type\":"
         "\"number\"}," NUM("entities") ",\"in_kb\":{\"type\":"
         "\"boolean\"}", "\"statement\",\"plausibility\",\"rank\""),
     RO, mcp_t_score_fact},
    {"predict_links", "Predict missing links",
     "Ranks candidates for the one unknown of a pattern with the learned "
     "model: HasPart(Computer, ?x) (objects), HasPart(?x, CPU) "
     "(subjects) or ?r(Computer, CPU) (predicates). Each candidate has "
     "its completed statement, a plausibility in [0, 1] and known = true "
     "when it is already a fact; ranker says what ordered them (auto: the "
     "combined ranker where it beat the model on validation).",
     IN(STR("pattern", "Pattern with exactly one ?variable") ","
        INT("k", 10, 1, 1000, "Candidates") ","
        "\"ranker\":{\"type\":\"string\",\"enum\":[\"auto\",\"model\","
        "\"combined\"],\"default\":\"auto\",\"description\":\"Model "
        "score, combined ranker, or auto\"}", "\"pattern\""),
     OUT(TXT("pattern") "," TXT("predicts") "," TXT("ranker")
         ",\"candidates\":{\"type\":"
         "\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
         NUM("rank") "," TXT("candidate") "," TXT("statement") ","
         "\"plausibility\":{\"type\":\"number\"},\"known\":{\"type\":"
         "\"boolean\"}},\"required\":[\"candidate\",\"statement\","
         "\"plausibility\",\"known\"]}}", "\"pattern\",\"candidates\""),
     RO, mcp_t_predict_links},
    {"suggest_links", "Propose predicted links for review",
     "Puts the learned model's predictions for the unknown of a pattern "
     "(as predict_links) that are not facts yet, are at least "
     "min_plausibility plausible and are not pending already into the "
     "review queue (origin model). Nothing becomes a fact: a reviewer "
     "approves proposals with review_decide.",
     IN(STR("pattern", "Pattern with exactly one ?variable") ","
        INT("k", 10, 1, 1000, "Candidates considered") ","
        "\"min_plausibility\":{\"type\":\"number\",\"minimum\":0,"
        "\"maximum\":1,\"default\":0.5,\"description\":\"Least "
        "plausibility of a proposal\"}," AUTH,
        "\"pattern\""),
     OUT(TXT("pattern") ",\"proposed\":{\"type\":\"array\",\"items\":{"
         "\"type\":\"object\",\"properties\":{" NUM("id") ","
         TXT("statement") ",\"plausibility\":{\"type\":\"number\"}}}},"
         NUM("considered") ",\"skipped\":{\"type\":\"object\"}",
         "\"pattern\",\"proposed\""),
     MCP_TOOL_AUTH, mcp_t_suggest_links},
    {"similar_entities", "Entities that behave alike",
     "Entities nearest to an entity in the learned model's embedding space "
     "(cosine similarity of their vectors): entities that take part in "
     "similar facts, not entities with similar names.",
     IN(STR("entity", "Entity name, e.g. Computer") ","
        INT("k", 10, 1, 1000, "Entities"), "\"entity\""),
     OUT(TXT("entity") ",\"similar\":{\"type\":\"array\",\"items\":{"
         "\"type\":\"object\",\"properties\":{" TXT("entity") ","
         "\"cosine\":{\"type\":\"number\"}}}}",
         "\"entity\",\"similar\""),
     RO, mcp_t_similar_entities},
    {"model_status", "Learned model and its training",
     "The KB's learned model (kind, dimension, metrics, age in audit "
     "entries; null when none was trained) and the state of the last "
     "background training started with train_model (running with epoch, "
     "loss and validation MRR, done, failed or stopped).",
     IN("", ""),
     OUT("\"model\":{\"type\":[\"object\",\"null\"]},"
         "\"training\":{\"type\":\"object\"}",
         "\"model\",\"training\""),
     RO, mcp_t_model_status},
    {"train_model", "Retrain the learned model",
     "Retrains the knowledge-graph embedding from the KB's facts in the "
     "background (minutes on a large KB) and returns at once; the new "
     "model replaces the old one when done and model_status follows it. "
     "Parameters default to those of hakgal model train. One training "
     "at a time. Needs a write token.",
     IN("\"kind\":{\"type\":\"string\",\"enum\":[\"complex\","
        "\"distmult\"]}," INT("dim", 64, 1, 2048, "Rank") ","
        INT("epochs", 100, 1, 100000, "Maximum epochs") ","
        INT("threads", 2, 1, 64, "Worker threads") ","
        INT("seed", 1, 0, 1000000000, "Seed") "," AUTH, ""),
     OUT("\"state\":{\"type\":\"string\"}," NUM("epoch") ","
         NUM("epochs"), "\"state\""),
     MCP_TOOL_AUTH, mcp_t_train_model},

    /* ---- Rules and proofs (mcp_tools_rules.c) ---- */
    {"add_rule", "Add a rule",
     "Adds (or, with an existing name, replaces) a Datalog rule and "
     "recomputes the derived facts. Syntax: Head(?x, ?z) :- Body1(?x, ?y), "
     "Body2(?y, ?z). The body may use not P(...) and comparisons (?x != "
     "?y, ?n > 3). Every head variable must occur in a positive body "
     "pattern, and no predicate may depend on its own negation; refused "
     "rules get an error naming the column, the rule and the cycle. Needs "
     "a write token.",
     IN(STR("rule", "e.g. Ancestor(?x, ?z) :- Parent(?x, ?y), "
            "Ancestor(?y, ?z).") ","
        STR("name", "Rule name (letters, digits, _ - .); default: the head "
            "predicate and a number") "," AUTH,
        "\"rule\""),
     OUT("\"rule\":{\"type\":\"object\"}," NUM("derived"),
         "\"rule\",\"derived\""),
     MCP_TOOL_IDEMPOTENT | MCP_TOOL_AUTH, mcp_t_add_rule},
    {"list_rules", "List rules",
     "Lists the Datalog rules of the KB (name, version, enabled, text) and "
     "how many facts they derive. Derived facts are kept apart from "
     "asserted ones; explain_fact shows why one holds.",
     IN("", ""),
     OUT("\"rules\":{\"type\":\"array\",\"items\":{\"type\":"
         "\"object\"}}," NUM("derived"), "\"rules\",\"derived\""),
     RO, mcp_t_list_rules},
    {"explain_fact", "Explain a fact",
     "Explains why a fact holds: an asserted fact with its id, or a derived "
     "fact as a derivation tree whose nodes are rule instances (rule name "
     "and variable bindings) and whose leaves are asserted facts with their "
     "ids. Fails when the fact is neither asserted nor derived. "
     STATEMENT_HINT,
     IN(STR("statement", "The fact, e.g. Ancestor(Anna, Carl)"),
        "\"statement\""),
     OUT(TXT("statement") ",\"derived\":{\"type\":\"boolean\"},"
         "\"proof\":{\"type\":\"object\"}",
         "\"statement\",\"derived\",\"proof\""),
     RO, mcp_t_explain_fact},
};
/* clang-format on */

const size_t mcp_n_kb_tools = sizeof mcp_kb_tools / sizeof mcp_kb_tools[0];
