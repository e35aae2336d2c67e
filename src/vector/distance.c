/*
 * distance.c — distance kernels, chosen at run time.
 *
 * Three kernels serve every metric: the float dot product, the float
 * squared L2 distance, and the int8 dot product (int32 accumulator; the
 * index turns it into a distance with the per-vector scales). Each exists
 * as portable C and, on x86-64, compiled for AVX2+FMA and AVX-512 through
 * target attributes, so one binary runs everywhere; hkv_kernels_get asks
 * __builtin_cpu_supports once (pthread_once) and keeps the best set.
 * HKV_KERNEL=scalar|avx2 in the environment caps the choice (tests and
 * benchmarks compare the paths with it).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vector/vector.h"
#include "vector/vector_int.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* ==== Portable kernels ==== */

static float dot_scalar(const float *a, const float *b, size_t n)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++)
        s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

/* Four dots at once; each equals dot_scalar's (same order of sums). */
static void dot4_scalar(const float *q, const float *const b[4], size_t n,
                        float out[4])
{
    for (int k = 0; k < 4; k++)
        out[k] = dot_scalar(q, b[k], n);
}

static float l2sq_scalar(const float *a, const float *b, size_t n)
{
    float s0 = 0, s1 = 0;
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        float d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1];
        s0 += d0 * d0;
        s1 += d1 * d1;
    }
    for (; i < n; i++)
        s0 += (a[i] - b[i]) * (a[i] - b[i]);
    return s0 + s1;
}

static int32_t dot_i8_scalar(const int8_t *a, const int8_t *b, size_t n)
{
    int32_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += (int32_t)a[i] * (int32_t)b[i];
    return s;
}

/* ==== AVX2 + FMA ==== */

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static float hsum256(__m256 v)
{
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_hadd_ps(lo, lo);
    lo = _mm_hadd_ps(lo, lo);
    return _mm_cvtss_f32(lo);
}

__attribute__((target("avx2,fma"))) static float
dot_avx2(const float *a, const float *b, size_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 =
            _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8),
                             _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8)
        s0 =
            _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* q against four vectors, each sum accumulated as dot_avx2 does (so each
 * result is bitwise dot_avx2's): the query's loads are shared and the
 * four vectors stream from memory at once, which is what a graph walk
 * over vectors out of the cache waits on. */
__attribute__((target("avx2,fma"))) static void
dot4_avx2(const float *q, const float *const b[4], size_t n, float out[4])
{
    __m256 s0[4], s1[4];
    for (int k = 0; k < 4; k++)
        s0[k] = s1[k] = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 q0 = _mm256_loadu_ps(q + i), q1 = _mm256_loadu_ps(q + i + 8);
        for (int k = 0; k < 4; k++) {
            s0[k] = _mm256_fmadd_ps(q0, _mm256_loadu_ps(b[k] + i), s0[k]);
            s1[k] = _mm256_fmadd_ps(q1, _mm256_loadu_ps(b[k] + i + 8), s1[k]);
        }
    }
    for (; i + 8 <= n; i += 8) {
        __m256 q0 = _mm256_loadu_ps(q + i);
        for (int k = 0; k < 4; k++)
            s0[k] = _mm256_fmadd_ps(q0, _mm256_loadu_ps(b[k] + i), s0[k]);
    }
    for (int k = 0; k < 4; k++) {
        float s = hsum256(_mm256_add_ps(s0[k], s1[k]));
        for (size_t j = i; j < n; j++)
            s += q[j] * b[k][j];
        out[k] = s;
    }
}

__attribute__((target("avx2,fma"))) static float
l2sq_avx2(const float *a, const float *b, size_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 d0 =
            _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8),
                                  _mm256_loadu_ps(b + i + 8));
        s0 = _mm256_fmadd_ps(d0, d0, s0);
        s1 = _mm256_fmadd_ps(d1, d1, s1);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 d0 =
            _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        s0 = _mm256_fmadd_ps(d0, d0, s0);
    }
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < n; i++)
        s += (a[i] - b[i]) * (a[i] - b[i]);
    return s;
}

__attribute__((target("avx2"))) static int32_t
dot_i8_avx2(const int8_t *a, const int8_t *b, size_t n)
{
    __m256i acc = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i va = _mm256_cvtepi8_epi16(
            _mm_loadu_si128((const __m128i *)(const void *)(a + i)));
        __m256i vb = _mm256_cvtepi8_epi16(
            _mm_loadu_si128((const __m128i *)(const void *)(b + i)));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(va, vb));
    }
    int32_t lanes[8];
    _mm256_storeu_si256((__m256i *)(void *)lanes, acc);
    int32_t s = 0;
    for (int j = 0; j < 8; j++)
        s += lanes[j];
    for (; i < n; i++)
        s += (int32_t)a[i] * (int32_t)b[i];
    return s;
}

/* ==== AVX-512 ==== */

/* Four accumulators: one FMA waits for the one before it on the same
 * accumulator (4 cycles), so a single chain over 384 floats takes 24
 * latencies while four chains let the loads, not the adds, set the pace.
 * The sum order differs from the scalar kernel's only in rounding. */
__attribute__((target("avx512f"))) static float
dot_avx512(const float *a, const float *b, size_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 =
            _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16),
                             _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32),
                             _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48),
                             _mm512_loadu_ps(b + i + 48), s3);
    }
    for (; i + 16 <= n; i += 16)
        s0 =
            _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    float r = _mm512_reduce_add_ps(
        _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
    for (; i < n; i++)
        r += a[i] * b[i];
    return r;
}

/* dot_avx512 against four vectors at once, each result bitwise
 * dot_avx512's (see dot4_avx2): 16 accumulators of 32 registers. */
__attribute__((target("avx512f"))) static void
dot4_avx512(const float *q, const float *const b[4], size_t n, float out[4])
{
    __m512 s0[4], s1[4], s2[4], s3[4];
    for (int k = 0; k < 4; k++)
        s0[k] = s1[k] = s2[k] = s3[k] = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 q0 = _mm512_loadu_ps(q + i), q1 = _mm512_loadu_ps(q + i + 16);
        __m512 q2 = _mm512_loadu_ps(q + i + 32);
        __m512 q3 = _mm512_loadu_ps(q + i + 48);
        for (int k = 0; k < 4; k++) {
            s0[k] = _mm512_fmadd_ps(q0, _mm512_loadu_ps(b[k] + i), s0[k]);
            s1[k] = _mm512_fmadd_ps(q1, _mm512_loadu_ps(b[k] + i + 16), s1[k]);
            s2[k] = _mm512_fmadd_ps(q2, _mm512_loadu_ps(b[k] + i + 32), s2[k]);
            s3[k] = _mm512_fmadd_ps(q3, _mm512_loadu_ps(b[k] + i + 48), s3[k]);
        }
    }
    for (; i + 16 <= n; i += 16) {
        __m512 q0 = _mm512_loadu_ps(q + i);
        for (int k = 0; k < 4; k++)
            s0[k] = _mm512_fmadd_ps(q0, _mm512_loadu_ps(b[k] + i), s0[k]);
    }
    for (int k = 0; k < 4; k++) {
        float r = _mm512_reduce_add_ps(_mm512_add_ps(
            _mm512_add_ps(s0[k], s1[k]), _mm512_add_ps(s2[k], s3[k])));
        for (size_t j = i; j < n; j++)
            r += q[j] * b[k][j];
        out[k] = r;
    }
}

__attribute__((target("avx512f"))) static float
l2sq_avx512(const float *a, const float *b, size_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 d0 =
            _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16),
                                  _mm512_loadu_ps(b + i + 16));
        __m512 d2 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32),
                                  _mm512_loadu_ps(b + i + 32));
        __m512 d3 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48),
                                  _mm512_loadu_ps(b + i + 48));
        s0 = _mm512_fmadd_ps(d0, d0, s0);
        s1 = _mm512_fmadd_ps(d1, d1, s1);
        s2 = _mm512_fmadd_ps(d2, d2, s2);
        s3 = _mm512_fmadd_ps(d3, d3, s3);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 d =
            _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        s0 = _mm512_fmadd_ps(d, d, s0);
    }
    float r = _mm512_reduce_add_ps(
        _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
    for (; i < n; i++)
        r += (a[i] - b[i]) * (a[i] - b[i]);
    return r;
}
#endif

/* ==== Choice ==== */

static hkv_kernels g_kernels;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void choose(void)
{
    const char *cap = getenv("HKV_KERNEL");
    g_kernels = (hkv_kernels){dot_scalar, dot4_scalar, l2sq_scalar,
                              dot_i8_scalar, "scalar"};
    if (cap && strcmp(cap, "scalar") == 0) return;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        g_kernels =
            (hkv_kernels){dot_avx2, dot4_avx2, l2sq_avx2, dot_i8_avx2, "avx2"};
    if (cap && strcmp(cap, "avx2") == 0) return;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma")) {
        g_kernels.dot = dot_avx512;
        g_kernels.dot4 = dot4_avx512;
        g_kernels.l2sq = l2sq_avx512;
        g_kernels.name = "avx512";
    }
#endif
}

const hkv_kernels *hkv_kernels_get(void)
{
    pthread_once(&g_once, choose);
    return &g_kernels;
}

size_t hkv_kernels_list(const hkv_kernels *out[3])
{
    static const hkv_kernels scalar = {dot_scalar, dot4_scalar, l2sq_scalar,
                                       dot_i8_scalar, "scalar"};
    size_t n = 0;
    out[n++] = &scalar;
#if defined(__x86_64__)
    static const hkv_kernels avx2 = {dot_avx2, dot4_avx2, l2sq_avx2,
                                     dot_i8_avx2, "avx2"};
    static const hkv_kernels avx512 = {dot_avx512, dot4_avx512, l2sq_avx512,
                                       dot_i8_avx2, "avx512"};
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        out[n++] = &avx2;
        if (__builtin_cpu_supports("avx512f")) out[n++] = &avx512;
    }
#endif
    return n;
}

const char *hkv_kernel_name(void)
{
    return hkv_kernels_get()->name;
}
