/*
 * vector_int.h — internals shared by the files of src/vector: the distance
 * kernels that distance.c picks at run time.
 */
#ifndef HKV_VECTOR_INT_H
#define HKV_VECTOR_INT_H

#include <stddef.h>
#include <stdint.h>

/* The kernels of the CPU this process runs on (chosen once, thread-safe). */
typedef struct hkv_kernels {
    float (*dot)(const float *a, const float *b, size_t n);  /* a . b */
    float (*l2sq)(const float *a, const float *b, size_t n); /* |a-b|^2 */
    int32_t (*dot_i8)(const int8_t *a, const int8_t *b, size_t n);
    const char *name; /* "avx512", "avx2" or "scalar" */
} hkv_kernels;

const hkv_kernels *hkv_kernels_get(void);

#endif /* HKV_VECTOR_INT_H */
