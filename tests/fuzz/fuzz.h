/*
 * fuzz.h — what the libFuzzer harnesses share: an invariant check that
 * aborts (libFuzzer keeps the input; test_hostile, which replays the
 * corpora, may define its own first).
 */
#ifndef DF_FUZZ_H
#define DF_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#ifndef FUZZ_CHECK
#define FUZZ_CHECK(cond)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);                               \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)
#endif

#endif /* DF_FUZZ_H */
