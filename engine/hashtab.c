/*
 * hashtab.c — the engine's one hash table (df_core.h): the lookups are
 * inline in the header, for the hot paths; here is the growth.
 */
#define _DEFAULT_SOURCE /* madvise's MADV_HUGEPAGE */
#include "df_core.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* n zeroed bytes. A table this large is probed at random: every probe of a
 * slot is a cache miss and, in pages of 4 KB, a TLB miss too. Huge pages
 * (2 MB, where the kernel gives them on request) halve the cost of the
 * reader's duplicate-row set on a million rows. */
#define HUGE_FROM (4u << 20)
static void *zeroed(size_t n)
{
#ifdef MADV_HUGEPAGE
    if (n >= HUGE_FROM) {
        void *p = NULL;
        if (posix_memalign(&p, 2u << 20, n) != 0) return NULL;
        madvise(p, n, MADV_HUGEPAGE); /* a hint: without it, pages of 4 KB */
        return memset(p, 0, n);
    }
#endif
    return calloc(1, n);
}

void df__hashtab_free(df__hashtab *t)
{
    free(t->hashes);
    free(t->entries);
    t->hashes = NULL, t->entries = NULL;
    t->cap = t->count = 0;
}

int df__hashtab_reserve(df__hashtab *t)
{
    if (2 * (t->count + 1) <= t->cap) return 0;
    size_t cap = t->cap ? 2 * t->cap : t->first;
    if (cap > SIZE_MAX / 8 / (t->size > 8 ? t->size : 8)) return -1;
    uint64_t *hashes = zeroed(cap * sizeof *hashes);
    unsigned char *entries = hashes ? zeroed(cap * t->size) : NULL;
    if (!hashes || !entries) return free(hashes), free(entries), -1;
    /* every key to its first free slot from its hash, in the old slot order */
    for (size_t i = 0; i < t->cap; i++) {
        uint64_t h = t->hashes[i];
        if (!h) continue;
        size_t k = (size_t)h & (cap - 1);
        while (hashes[k]) k = (k + 1) & (cap - 1);
        hashes[k] = h;
        memcpy(entries + k * t->size, t->entries + i * t->size, t->size);
    }
    free(t->hashes);
    free(t->entries);
    t->hashes = hashes, t->entries = entries, t->cap = cap;
    return 0;
}
