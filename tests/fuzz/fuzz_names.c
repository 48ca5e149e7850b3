/*
 * fuzz_names.c — libFuzzer harness: the name normaliser, the consonant
 * skeleton, the edit distance and the P-code normaliser (names.c).
 *
 * The input is cut in two at its first NUL byte (or in the middle); each
 * half is normalised with a full buffer and with a small one whose size
 * comes from the first byte. Invariants checked: outputs are terminated
 * within their capacity; a valid UTF-8 name normalises to valid UTF-8,
 * also when truncated; the distance is symmetric, 0 from a string to
 * itself and never above limit + 1; the P-code normaliser is idempotent.
 */
#include "dfint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static void fuzz_names_one(const char *s, size_t small, char *norm, char *skel)
{
    char tiny[64], pc[256], pc2[256];
    int valid = df__utf8_valid(s, strlen(s));

    df__name_normalize(s, norm, 256);
    FUZZ_CHECK(strlen(norm) < 256);
    if (valid) FUZZ_CHECK(df__utf8_valid(norm, strlen(norm)));
    df__name_normalize(s, tiny, small);
    if (small > 0) {
        FUZZ_CHECK(strlen(tiny) < small);
        if (valid) FUZZ_CHECK(df__utf8_valid(tiny, strlen(tiny)));
    }

    df__name_skeleton(norm, skel, 256);
    FUZZ_CHECK(strlen(skel) < 256);
    df__name_skeleton(norm, tiny, small);
    if (small > 0) FUZZ_CHECK(strlen(tiny) < small);

    df__pcode_normalize(s, pc, sizeof pc);
    FUZZ_CHECK(strlen(pc) < sizeof pc);
    df__pcode_normalize(pc, pc2, sizeof pc2);
    FUZZ_CHECK(strcmp(pc, pc2) == 0);
    df__pcode_normalize(s, tiny, small);
    if (small > 0) FUZZ_CHECK(strlen(tiny) < small);
}

static int fuzz_names(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 2); /* a\0b\0 */
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = buf[size + 1] = '\0';
    size_t cut = strlen(buf);
    const char *a = buf, *b;
    if (cut < size) {
        b = buf + cut + 1;
    } else { /* no NUL: halves */
        memmove(buf + size / 2 + 1, buf + size / 2, size - size / 2 + 1);
        buf[size / 2] = '\0';
        b = buf + size / 2 + 1;
    }
    size_t small = size ? (size_t)data[0] % 64 : 0;
    static char na[256], sa[256], nb[256], sb[256];
    fuzz_names_one(a, small, na, sa);
    fuzz_names_one(b, small, nb, sb);

    int limit = size > 1 ? data[1] % 8 : 3;
    int d1 = df__name_distance(na, nb, limit), d2 = df__name_distance(nb, na, limit);
    FUZZ_CHECK(d1 == d2);
    FUZZ_CHECK(d1 >= 0 && d1 <= limit + 1);
    if (strlen(na) <= 63) FUZZ_CHECK(df__name_distance(na, na, limit) == 0);
    int s1 = df__name_distance(sa, sb, limit);
    FUZZ_CHECK(s1 >= 0 && s1 <= limit + 1);
    free(buf);
    return 0;
}

#ifndef DF_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_names(data, size); }
#endif
