/*
 * fuzz_factwalk.c — libFuzzer target for the store's batched fact-record
 * walker (src/store/factwalk.c), which reads LMDB pages directly.
 *
 * Input: one 4096-byte page (shorter inputs are padded with zeros) and
 * then up to 64 little-endian u64 ids. The page becomes page 0 of a
 * one-page map held in a heap block of exactly one page, so that
 * AddressSanitizer reports any read outside it; the walker runs with depth
 * 1 and 2 (a branch page pointing at itself must stop at the depth). Every
 * record it returns must lie inside the page.
 *
 * Build and run: see tests/fuzz/README.md.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/factwalk.h"

#define PAGE 4096u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *page = malloc(PAGE);
    if (!page) return 0;
    memset(page, 0, PAGE);
    memcpy(page, data, size < PAGE ? size : PAGE);
    memset(page, 0, 8); /* page number 0 */
    uint64_t ids[HKS_FACTWALK_MAX];
    size_t n = 0;
    for (size_t off = PAGE; off + 8 <= size && n < HKS_FACTWALK_MAX; off += 8)
        memcpy(&ids[n++], data + off, 8);
    if (n == 0) ids[n++] = 1;
    const uint8_t *recs[HKS_FACTWALK_MAX];
    size_t lens[HKS_FACTWALK_MAX];
    for (uint16_t depth = 1; depth <= 2; depth++) {
        hks_factwalk w;
        memset(&w, 0, sizeof w);
        w.map = page;
        w.psize = PAGE;
        w.n_pages = 1;
        w.root = 0;
        w.depth = depth;
        w.usable = true;
        hks_factwalk_get(&w, n, ids, recs, lens);
        for (size_t i = 0; i < n; i++)
            if (recs[i] && (recs[i] < page || recs[i] + lens[i] > page + PAGE))
                abort();
    }
    free(page);
    return 0;
}
