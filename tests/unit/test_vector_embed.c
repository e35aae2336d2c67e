/*
 * test_vector_embed.c — the built-in embedder (src/vector/embed_hash.c):
 * unit length, deterministic, CamelCase and case folded into the same
 * tokens, texts sharing words nearer than texts sharing none, and never a
 * zero vector (empty text, punctuation only).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vector/vector.h"

#define DIM 256

static float cosine(const char *a, const char *b)
{
    float va[DIM], vb[DIM], dot = 0;
    hkv_embed_hashed(a, strlen(a), va, DIM);
    hkv_embed_hashed(b, strlen(b), vb, DIM);
    for (int i = 0; i < DIM; i++)
        dot += va[i] * vb[i];
    return dot;
}

static void test_unit_and_deterministic(void **state)
{
    (void)state;
    const char *texts[] = {"HasPart(Computer, CPU)", "", "(),.", "x",
                           "a very long text with many many words in it"};
    for (size_t t = 0; t < sizeof texts / sizeof *texts; t++) {
        float v[DIM], w[DIM];
        double n2 = 0;
        hkv_embed_hashed(texts[t], strlen(texts[t]), v, DIM);
        hkv_embed_hashed(texts[t], strlen(texts[t]), w, DIM);
        assert_memory_equal(v, w, sizeof v);
        for (int i = 0; i < DIM; i++)
            n2 += (double)v[i] * v[i];
        assert_true(fabs(n2 - 1) < 1e-4);
    }
}

static void test_spelling_near(void **state)
{
    (void)state;
    /* CamelCase and case: the same tokens */
    assert_true(cosine("HasPart", "has part") > 0.99f);
    /* shared words beat no shared words */
    float near = cosine("HasPart(Computer, CPU)", "computer parts");
    float far = cosine("HasPart(Computer, CPU)", "LocatedIn(Berlin, Germany)");
    assert_true(near > far + 0.2f);
    /* a typo keeps most trigrams */
    assert_true(cosine("Germany", "Germnay") > cosine("Germany", "Brazil"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unit_and_deterministic),
        cmocka_unit_test(test_spelling_near),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
