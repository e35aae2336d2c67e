/*
 * mcp_tools.h — the functions behind the 30 KB tools (implemented in
 * mcp_tools_basic.c, mcp_tools_analysis.c, mcp_tools_manage.c and
 * mcp_tools_hub.c; listed with their schemas in mcp_tools.c). Each has the
 * mcp_tool_fn signature of mcp_int.h.
 */
#ifndef HK_MCP_TOOLS_H
#define HK_MCP_TOOLS_H

#include "mcp/mcp_int.h"

/* Basic */
hk_err mcp_t_search_knowledge(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_get_system_status(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_list_recent_facts(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_add_fact(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_delete_fact(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_update_fact(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_kb_stats(mcp_call *c, json_t **out, hk_error *err);
/* Analysis */
hk_err mcp_t_semantic_similarity(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_consistency_check(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_validate_facts(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_get_entities_stats(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_search_by_predicate(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_get_predicates_stats(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_query_related(mcp_call *c, json_t **out, hk_error *err);
/* Multi-pattern queries (mcp_tools_query.c) */
hk_err mcp_t_query_graph(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_analyze_duplicates(mcp_call *c, json_t **out, hk_error *err);
/* Management */
hk_err mcp_t_list_audit(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_export_facts(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_growth_stats(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_health_check(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_get_fact_history(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_backup_kb(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_restore_kb(mcp_call *c, json_t **out, hk_error *err);
/* Advanced */
hk_err mcp_t_bulk_delete(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_find_isolated_facts(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_inference_chain(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_get_knowledge_graph(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_bulk_translate_predicates(mcp_call *c, json_t **out,
                                       hk_error *err);
/* Project hub */
hk_err mcp_t_project_snapshot(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_project_list_snapshots(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_project_hub_digest(mcp_call *c, json_t **out, hk_error *err);

/* Shared by the tool files: collects up to limit facts of a scan into a
 * JSON array; *total (may be NULL) gets the rows seen. */
hk_err mcp_scan_facts(mcp_call *c, hk_txn *t, const hk_scan *scan, size_t limit,
                      json_t **facts, hk_error *err);

/* Graph traversal (mcp_tools_traverse.c), new tools after the 30 */
hk_err mcp_t_graph_neighbours(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_graph_path(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_graph_analyze(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_vector_spaces(mcp_call *c, json_t **out, hk_error *err);
/* Grounded model use (mcp_tools_llm.c) */
hk_err mcp_t_ask_knowledge(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_extract_facts(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_review_list(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_review_decide(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_vector_similar(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_vector_space(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_vector_entities(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_export_graph(mcp_call *c, json_t **out, hk_error *err);
/* Change stream and digest (mcp_tools_stream.c) */
hk_err mcp_t_stream_status(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_kb_digest(mcp_call *c, json_t **out, hk_error *err);
/* mcp_tools_graphql.c */
hk_err mcp_t_graphql(mcp_call *c, json_t **out, hk_error *err);
/* mcp_tools_check.c */
hk_err mcp_t_check_statement(mcp_call *c, json_t **out, hk_error *err);
/* Learned model (mcp_tools_model.c) */
hk_err mcp_t_score_fact(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_predict_links(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_suggest_links(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_similar_entities(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_model_status(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_train_model(mcp_call *c, json_t **out, hk_error *err);
/* mcp_tools_rules.c */
hk_err mcp_t_add_rule(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_list_rules(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_t_explain_fact(mcp_call *c, json_t **out, hk_error *err);
/* search_knowledge with mode vector or hybrid (hk_svc_hsearch). */
hk_err mcp_t_search_knowledge_mode(mcp_call *c, json_t **out, hk_error *err);
/* semantic_similarity with mode vector or hybrid (hk_svc_hsearch). */
hk_err mcp_t_semantic_similarity_mode(mcp_call *c, json_t **out, hk_error *err);

#endif /* HK_MCP_TOOLS_H */
