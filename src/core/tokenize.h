/*
 * core/tokenize.h — splitting text into search tokens.
 *
 * The store's token index (written when a symbol is created) and the
 * query side of hk_store_search must split text identically, and the
 * similarity module builds its profiles from the same tokens, so there is
 * one tokenizer; its rules are at the top of tokenize.c. Private to the
 * hakgal tree: users reach it only through hk_store_search.
 *
 * Threads: pure function (besides what the callback does).
 */
#ifndef HK_CORE_TOKENIZE_H
#define HK_CORE_TOKENIZE_H

#include <stddef.h>

#include "hakgal.h"

/* Receives one token: tok[0..len), not NUL-terminated, valid only during
 * the call. A non-OK result stops the tokenizer. */
typedef hk_err (*hk_token_fn)(void *ud, const char *tok, size_t len);

/* Splits text into lower-case search tokens: at non-alphanumerics, at
 * camelCase and letter/digit boundaries ("HasPart" -> has, part;
 * "TCP/IP" -> tcp, ip; "CO2" -> co, 2). Calls fn once per token; stops
 * early and returns fn's non-OK result (HK_ERR_NOMEM when a long token
 * cannot be copied). */
hk_err hk_tokenize(const char *text, size_t len, hk_token_fn fn, void *ud);

#endif /* HK_CORE_TOKENIZE_H */
