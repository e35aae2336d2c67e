/*
 * embed_hash.c — the built-in embedder: hashed tokens and character
 * trigrams. It needs no model file, so vector search works out of the box,
 * but it captures spelling, not meaning: texts that share words or pieces
 * of words ("HasPart", "has_part", "part") come out near; synonyms
 * ("car", "automobile") do not. For meaning, use an embeddings endpoint.
 *
 * Method: the text is split into tokens at non-alphanumeric bytes and at
 * lower-to-upper case changes (CamelCase), lowercased. Each token adds
 * weight 1 to the dimension its FNV-1a hash picks (the hash's top bit
 * chooses the sign, so collisions cancel out on average), and each
 * trigram of " token " adds 0.5 the same way. The vector is normalised to
 * length 1 (a text without tokens gives e_0, so it is never zero).
 *
 * Threads: pure function.
 */
#include <math.h>
#include <string.h>

#include "vector/vector.h"

static uint64_t fnv1a(const char *p, size_t n, uint64_t seed)
{
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static void bump(float *out, uint32_t dim, uint64_t h, float w)
{
    out[(h & 0x7fffffffffffffffull) % dim] += (h >> 63) ? -w : w;
}

static char lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

static int is_word(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch >= 0x80;
}

void hkv_embed_hashed(const char *text, size_t len, float *out, uint32_t dim)
{
    char tok[66];
    memset(out, 0, dim * sizeof *out);
    size_t i = 0;
    while (i < len) {
        while (i < len && !is_word((unsigned char)text[i]))
            i++;
        size_t n = 1;
        tok[0] = ' ';
        while (i < len && is_word((unsigned char)text[i]) && n < 64) {
            char ch = text[i];
            /* a CamelCase boundary ends the token */
            if (n > 1 && ch >= 'A' && ch <= 'Z' && tok[n - 1] >= 'a' &&
                tok[n - 1] <= 'z')
                break;
            tok[n++] = lower(ch);
            i++;
        }
        if (n == 1) continue;
        tok[n++] = ' ';
        bump(out, dim, fnv1a(tok + 1, n - 2, 1), 1.0f);
        for (size_t j = 0; j + 3 <= n; j++)
            bump(out, dim, fnv1a(tok + j, 3, 2), 0.5f);
    }
    double n2 = 0;
    for (uint32_t d = 0; d < dim; d++)
        n2 += (double)out[d] * out[d];
    if (n2 == 0) {
        out[0] = 1;
        return;
    }
    float inv = (float)(1.0 / sqrt(n2));
    for (uint32_t d = 0; d < dim; d++)
        out[d] *= inv;
}
