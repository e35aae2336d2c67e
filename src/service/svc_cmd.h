/*
 * svc_cmd.h — write commands: a decoded write request of the service layer
 * as one self-contained JSON value, and back.
 *
 * A replicated node (docs/STREAM.md, "Replicated nodes") does not apply a
 * write where it arrives: it sends the write's decoded request through a
 * log that every node applies in the same order. Every interface (REST,
 * MCP over HTTP, gRPC) ends a write in an apply step of the service layer
 * (hk_svc_apply_fn with its request struct as argument); this table knows,
 * for the apply steps that can travel, how to write their request as JSON
 * (encode), how to rebuild an equal request from that JSON on another node
 * (decode) and how to free it (release). The request is complete: limits
 * and options travel with it, so the apply on every node makes the same
 * decisions from the same input and, with the transaction's clock and
 * actor fixed by the log, the same changes.
 *
 * The command's JSON is internal to a cluster of one version; it is not a
 * public format. Statements travel as {"p": predicate, "a": [args]} (no
 * text round trip), metadata as its struct fields.
 *
 * Threads: the functions are pure (no store access); any thread.
 */
#ifndef HK_SVC_CMD_H
#define HK_SVC_CMD_H

#include <jansson.h>

#include "service/service.h"
#include "vector/vector.h"

/* What a decoded request needs of the node that applies it: the rule and
 * vector commands point their requests at this node's module handles. */
typedef struct hk_svc_cmd_env {
    hk_store *s;   /* the KB the command is applied to */
    hkv_store *vs; /* its vector module, or NULL (vector commands then
                      fail with HK_ERR_UNSUPPORTED) */
} hk_svc_cmd_env;

/* One kind of write command. */
typedef struct hk_svc_cmd {
    const char *name;      /* "fact.add", "rule", "vector.entity", ... */
    hk_svc_apply_fn apply; /* the service's apply step */
    /* Writes the request arg (the apply step's argument) as a new JSON
     * value into *out (caller decrefs). */
    hk_err (*encode)(const void *arg, json_t **out, hk_error *err);
    /* Builds a new request from v into *arg for the node env (v is
     * borrowed; the request keeps its own reference). HK_ERR_INVALID when
     * v is not this kind of command. Release with release. */
    hk_err (*decode)(json_t *v, const hk_svc_cmd_env *env, void **arg,
                     hk_error *err);
    void (*release)(void *arg); /* frees what decode made; NULL is fine */
    bool solo; /* needs a write transaction of its own (bulk mode) */
} hk_svc_cmd;

/* The command whose apply step is fn, or NULL: that write cannot be
 * replicated. */
const hk_svc_cmd *hk_svc_cmd_by_apply(hk_svc_apply_fn fn);
/* The command named name, or NULL. */
const hk_svc_cmd *hk_svc_cmd_by_name(const char *name);

/* ==== Binary form ====
 * fact.add and fact.batch also have a compact binary form: packing copies
 * the strings behind length prefixes, where the JSON form builds a
 * jansson tree and prints it, and unpacking reads them back without a
 * tree. The write-ahead log (server_writer.c) keeps every single-fact
 * POST's fact.add in it; replicated nodes send both in it (kafka_repl.c).
 * A batch's items are decoded (hk_svc_fact_in_parse) when it is packed,
 * so its binary form carries their statements and metadata, or the
 * reason an item could not be decoded. The form is internal to a cluster
 * of one version, versioned by its first byte. Other commands have no
 * binary form (encode is their only one). */

/* True when the write-ahead log keeps cmd in its binary form (fact.add). */
bool hk_svc_cmd_packable(const hk_svc_cmd *cmd);
/* True when cmd has a binary form (fact.add, fact.batch). */
bool hk_svc_cmd_binary(const hk_svc_cmd *cmd);
/* Appends the binary form of cmd's request arg to out (out keeps what it
 * held before). HK_ERR_UNSUPPORTED: cmd has no binary form;
 * HK_ERR_NOMEM: out is as it was. */
hk_err hk_svc_cmd_pack(const hk_svc_cmd *cmd, const void *arg, hk_buf *out,
                       hk_error *err);
/* Builds a new request from the binary form p[0..len) as decode does from
 * JSON (release with cmd->release); p is copied, not kept.
 * HK_ERR_INVALID when p is not a whole binary form of cmd; every byte is
 * checked here, before anything is applied. */
hk_err hk_svc_cmd_unpack(const hk_svc_cmd *cmd, const void *p, size_t len,
                         const hk_svc_cmd_env *env, void **arg, hk_error *err);

/* hk_svc_apply_fn form of hk_svc_fact_batch (arg: hk_svc_batch *, whose
 * results hk_svc_batch_init allocated). */
hk_err hk_svc_fact_batch_apply(hk_txn *t, void *arg, hk_error *err);

#endif /* HK_SVC_CMD_H */
