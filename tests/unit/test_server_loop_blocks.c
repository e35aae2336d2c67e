/*
 * test_server_loop_blocks.c — the per-loop blocks of the write path
 * (server_writer.c, "Per-loop blocks"):
 *
 *   - a block given back is the next one handed out (the cache is used),
 *     and it comes back zeroed over the size asked for;
 *   - a block is always HK_LOOP_BLOCK bytes, whatever was asked, so that
 *     any loop (or none) may keep it: every byte of a block first asked
 *     for 16 bytes can be written after it was reused for the whole size;
 *   - sizes above HK_LOOP_BLOCK are plain allocations, never kept;
 *   - the cache keeps a bounded number of blocks and frees the rest;
 *   - an allocation failure is NULL, never a damaged cache;
 *   - hk_loop_blocks_free leaves nothing behind (the ASan build's leak
 *     check proves it).
 *
 * Linked against libhakgal_server; the loop is a zeroed hk_loop (the
 * blocks touch no other field).
 */
#include "test_store_util.h"

#include "core/mem.h"
#include "server/server_int.h"

static void test_reuse_and_zeroed(void **state)
{
    (void)state;
    hk_loop loop;
    memset(&loop, 0, sizeof loop);
    unsigned char *a = hk_loop_block_get(&loop, 100);
    assert_non_null(a);
    memset(a, 0xab, HK_LOOP_BLOCK); /* the whole block is ours */
    hk_loop_block_put(&loop, a, 100);
    assert_int_equal(loop.n_blocks, 1);
    unsigned char *b = hk_loop_block_get(&loop, 1000);
    assert_ptr_equal(a, b); /* kept and handed out again */
    assert_int_equal(loop.n_blocks, 0);
    for (size_t i = 0; i < 1000; i++)
        assert_int_equal(b[i], 0);
    hk_loop_block_put(&loop, b, 1000);
    hk_loop_blocks_free(&loop);
    assert_null(loop.blocks);
    assert_int_equal(loop.n_blocks, 0);
}

static void test_any_loop_may_keep_a_block(void **state)
{
    (void)state;
    hk_loop l1, l2;
    memset(&l1, 0, sizeof l1);
    memset(&l2, 0, sizeof l2);
    /* taken without a loop, kept by l1, reused at full size by l2's user */
    unsigned char *a = hk_loop_block_get(NULL, 16);
    assert_non_null(a);
    hk_loop_block_put(&l1, a, 16);
    unsigned char *b = hk_loop_block_get(&l1, HK_LOOP_BLOCK);
    assert_ptr_equal(a, b);
    memset(b, 0xcd, HK_LOOP_BLOCK); /* ASan: the block is whole */
    hk_loop_block_put(&l2, b, HK_LOOP_BLOCK);
    assert_int_equal(l2.n_blocks, 1);
    /* without a loop a block is simply freed */
    unsigned char *c = hk_loop_block_get(&l2, 8);
    hk_loop_block_put(NULL, c, 8);
    hk_loop_block_put(&l2, NULL, 8); /* NULL is ignored */
    assert_int_equal(l2.n_blocks, 0);
    hk_loop_blocks_free(&l1);
    hk_loop_blocks_free(&l2);
}

static void test_big_sizes_are_not_kept(void **state)
{
    (void)state;
    hk_loop loop;
    memset(&loop, 0, sizeof loop);
    size_t big = HK_LOOP_BLOCK + 1;
    unsigned char *p = hk_loop_block_get(&loop, big);
    assert_non_null(p);
    for (size_t i = 0; i < big; i++)
        assert_int_equal(p[i], 0);
    hk_loop_block_put(&loop, p, big);
    assert_int_equal(loop.n_blocks, 0);
    assert_null(loop.blocks);
}

static void test_bounded(void **state)
{
    (void)state;
    hk_loop loop;
    memset(&loop, 0, sizeof loop);
    enum { N = 3000 };
    static void *held[N];
    for (size_t i = 0; i < N; i++) {
        held[i] = hk_loop_block_get(&loop, 64);
        assert_non_null(held[i]);
    }
    for (size_t i = 0; i < N; i++)
        hk_loop_block_put(&loop, held[i], 64);
    assert_true(loop.n_blocks > 0);
    assert_true(loop.n_blocks < N); /* the rest was freed */
    unsigned kept = loop.n_blocks;
    for (unsigned i = 0; i < kept; i++) /* every kept block is usable */
        held[i] = hk_loop_block_get(&loop, HK_LOOP_BLOCK);
    assert_int_equal(loop.n_blocks, 0);
    for (unsigned i = 0; i < kept; i++)
        hk_loop_block_put(&loop, held[i], HK_LOOP_BLOCK);
    hk_loop_blocks_free(&loop);
    assert_int_equal(loop.n_blocks, 0);
}

static void test_allocation_failure(void **state)
{
    (void)state;
    hk_loop loop;
    memset(&loop, 0, sizeof loop);
    hk_mem_fail_after(0);
    void *p = hk_loop_block_get(&loop, 64);
    void *q = hk_loop_block_get(&loop, HK_LOOP_BLOCK + 64);
    hk_mem_fail_after(-1);
    assert_null(p);
    assert_null(q);
    assert_int_equal(loop.n_blocks, 0);
    /* a kept block needs no allocation */
    void *a = hk_loop_block_get(&loop, 64);
    hk_loop_block_put(&loop, a, 64);
    hk_mem_fail_after(0);
    void *b = hk_loop_block_get(&loop, 64);
    hk_mem_fail_after(-1);
    assert_ptr_equal(a, b);
    hk_loop_block_put(&loop, b, 64);
    hk_loop_blocks_free(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_and_zeroed),
        cmocka_unit_test(test_any_loop_may_keep_a_block),
        cmocka_unit_test(test_big_sizes_are_not_kept),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_allocation_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
