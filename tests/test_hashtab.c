/*
 * test_hashtab.c — the engine's one hash table (engine/hashtab.c, issue 17
 * item 29): it replaced the join's and the flows' bins, the name cache, the
 * reader's duplicate rows and the hosting tables, each of which had its own.
 */
#include "df_core.h"
#include "harness.h"

typedef struct {
    int key;
    long value;
} pair;

static int pair_is(const void *e, const void *k) { return ((const pair *)e)->key == *(const int *)k; }

/* A weak hash on purpose: many keys share a hash, so eq must tell them apart. */
static uint64_t weak(int k) { return (uint64_t)(k % 97); }

static int cmp_int(const void *a, const void *b)
{
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

TEST(counts_agree_with_a_sort) /* issue 17 item 29 */
{
    enum { N = 50000 };
    static int keys[N], sorted[N];
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        keys[i] = sorted[i] = (int)(x % 20000);
    }
    qsort(sorted, N, sizeof *sorted, cmp_int);
    size_t distinct = 0;
    for (int i = 0; i < N; i++) distinct += i == 0 || sorted[i] != sorted[i - 1];
    df__hashtab t = DF__HASHTAB(sizeof(pair), 16);
    for (int i = 0; i < N; i++) {
        int added;
        pair *p = df__hashtab_get(&t, weak(keys[i]), pair_is, &keys[i], &added);
        if (!p) break;
        if (added) p->key = keys[i];
        p->value++;
    }
    EXPECT_INT((long)t.count, (long)distinct);
    EXPECT(2 * t.count <= t.cap); /* the load stays under one half */
    /* each key's count against the sorted run of it */
    long wrong = 0;
    for (int i = 0, j; i < N; i = j) {
        for (j = i; j < N && sorted[j] == sorted[i]; j++) {}
        const pair *p = df__hashtab_find(&t, weak(sorted[i]), pair_is, &sorted[i]);
        wrong += !p || p->value != j - i;
    }
    EXPECT_INT(wrong, 0);
    int absent = 20001;
    EXPECT(df__hashtab_find(&t, weak(absent), pair_is, &absent) == NULL);
    df__hashtab_free(&t);
    EXPECT_INT((long)t.cap, 0);
}

TEST(slot_order_depends_on_the_keys_alone) /* issue 17 item 29: reproducible outputs */
{
    df__hashtab a = DF__HASHTAB(sizeof(pair), 8), b = DF__HASHTAB(sizeof(pair), 8);
    for (int i = 0; i < 1000; i++) {
        int k = (i * 7919) % 1000, added;
        pair *p = df__hashtab_get(&a, weak(k), pair_is, &k, &added);
        pair *q = df__hashtab_get(&b, weak(k), pair_is, &k, &added);
        if (!p || !q) break;
        p->key = q->key = k;
    }
    EXPECT_INT((long)a.cap, (long)b.cap);
    long differ = 0, seen = 0;
    for (size_t i = 0; i < a.cap; i++) {
        const pair *p = df__hashtab_at(&a, i), *q = df__hashtab_at(&b, i);
        differ += !p != !q || (p && p->key != q->key);
        seen += p != NULL;
    }
    EXPECT_INT(differ, 0);
    EXPECT_INT(seen, 1000);
    df__hashtab_free(&a);
    df__hashtab_free(&b);
}

TEST(hash_zero_and_keys_as_hashes) /* the reader's duplicate rows: eq NULL */
{
    df__hashtab t = DF__HASHTAB(sizeof(long), 4);
    int added;
    long *l = df__hashtab_get(&t, 0, NULL, NULL, &added);
    EXPECT(l && added);
    if (l) *l = 7;
    l = df__hashtab_get(&t, 0, NULL, NULL, &added);
    EXPECT(l && !added && *l == 7);
    l = df__hashtab_get(&t, 12345, NULL, NULL, &added);
    EXPECT(l && added && *l == 0); /* a new entry is zeroed */
    EXPECT_INT((long)t.count, 2);
    df__hashtab_free(&t);
}

TEST(drop_takes_back_the_entry_just_added) /* a key whose own copy failed */
{
    df__hashtab t = DF__HASHTAB(sizeof(pair), 4);
    int k = 5, added;
    pair *p = df__hashtab_get(&t, weak(k), pair_is, &k, &added);
    EXPECT(p && added);
    if (!p) return;
    p->key = k, p->value = 99;
    df__hashtab_drop(&t, p);
    EXPECT_INT((long)t.count, 0);
    EXPECT(df__hashtab_find(&t, weak(k), pair_is, &k) == NULL);
    p = df__hashtab_get(&t, weak(k), pair_is, &k, &added);
    EXPECT(p && added && p->value == 0);
    df__hashtab_free(&t);
}

int main(void)
{
    RUN(counts_agree_with_a_sort);
    RUN(slot_order_depends_on_the_keys_alone);
    RUN(hash_zero_and_keys_as_hashes);
    RUN(drop_takes_back_the_entry_just_added);
    return harness_done();
}
