/*
 * repeats.c — rows that repeat a key of a snapshot table.
 *
 * A rival snapshot is a second row of the same operation, place (as
 * stated), origin, date, status, split and assessment type; two assessment types
 * of one place and date may count the same people. The join, the flows and
 * the density note every row here, merge the reading threads' tables, and
 * judge the repeats that reach their figures with one message, so that the
 * three verbs refuse the same tables.
 */
#include "df_io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Keys seen once. */
typedef struct {
    uint64_t key; /* the hash of the key */
    uint64_t aux; /* the hash of the assessment type */
    long line;
    int op;
    int32_t date;
    char assessment[12];
} seen_key;

typedef df__hashtab seen_table; /* of seen_key, keyed by key (its own hash); zeroed: empty */

/* A row that repeats a key: a rival snapshot, or another assessment type. */
typedef struct {
    long line, first;
    int op;
    int32_t date;
    char a[12], b[12]; /* the two assessment types */
} repeat;

typedef struct {
    repeat *items;
    long n, cap;
} repeat_list;

struct df__repeats {
    seen_table rivals, assessments;
    repeat_list rival_list, assessment_list;
};

df__repeats *df__repeats_new(void) { return calloc(1, sizeof(df__repeats)); }

void df__repeats_free(df__repeats *t)
{
    if (!t) return;
    df__hashtab_free(&t->rivals), df__hashtab_free(&t->assessments);
    free(t->rival_list.items), free(t->assessment_list.items);
    free(t);
}

/* Look key up; add it when absent (returns NULL, or the entry already
 * there; *failed on no memory). */
static seen_key *seen_add(seen_table *t, const seen_key *k, int *failed)
{
    if (!t->cap) t->size = sizeof(seen_key), t->first = 1024;
    int added;
    seen_key *e = df__hashtab_get(t, k->key, NULL, NULL, &added);
    if (!e) return *failed = 1, NULL;
    if (!added) return e;
    *e = *k;
    return NULL;
}

static int repeat_add(repeat_list *l, const repeat *r)
{
    if (l->n == l->cap) {
        long cap = l->cap ? 2 * l->cap : 16;
        repeat *n = df__realloc_array(l->items, (size_t)cap, sizeof *n);
        if (!n) return -1;
        l->items = n, l->cap = cap;
    }
    l->items[l->n++] = *r;
    return 0;
}

static uint64_t mix(uint64_t h, const char *s)
{
    for (; s && *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (h ^ 0x1f) * 1099511628211ULL;
}

static uint64_t mix_int(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h * 1099511628211ULL;
}

/* Note a key: a second row of a key is a repeat; for assessments, only
 * when its assessment type differs from the first row's. */
static int note_key(seen_table *t, repeat_list *l, const seen_key *k, int by_aux)
{
    int failed = 0;
    seen_key *was = seen_add(t, k, &failed);
    if (failed) return -1;
    if (!was || (by_aux && was->aux == k->aux)) return 0;
    repeat r = {k->line, was->line, k->op, k->date, "", ""};
    memcpy(r.a, was->assessment, sizeof r.a);
    memcpy(r.b, k->assessment, sizeof r.b);
    return repeat_add(l, &r) == 0 ? 1 : -1;
}

int df__repeats_note(df__repeats *t, const df_record *r, int op, int snapshots)
{
    if (!snapshots && !r->assessment) return 0; /* no key is kept: the hashing below is for nothing (issue 12 item 3) */
    /* the keys: (operation, date, status, place, split), with the origin
     * and the assessment type, and without them */
    uint64_t h = mix_int(1469598103934665603ULL, (uint64_t)op);
    h = mix_int(h, (uint64_t)(uint32_t)r->date);
    h = mix_int(h, (uint64_t)r->status);
    for (int lv = 1; lv <= 3; lv++) h = mix(mix(h, r->location.pcode[lv]), r->location.name[lv]);
    h = mix(mix(h, r->location_name), r->split);
    uint64_t lon, lat;
    memcpy(&lon, &r->lon, sizeof lon), memcpy(&lat, &r->lat, sizeof lat);
    h = mix_int(mix_int(h, isnan(r->lon) ? 0 : lon), isnan(r->lat) ? 0 : lat);
    uint64_t without = h ? h : 1; /* two assessment types of a place and date, whatever the origins */
    /* rows of other origins (or places of displacement) split the figure */
    for (int lv = 1; lv <= 3; lv++) h = mix(mix(h, r->origin.pcode[lv]), r->origin.name[lv]);
    for (int lv = 1; lv <= 3; lv++) h = mix(mix(h, r->displacement.pcode[lv]), r->displacement.name[lv]);
    h = mix(h, r->assessment);
    uint64_t with = h ? h : 1;

    int rival = 0;
    seen_key k = {with, 0, r->line, op, r->date, ""};
    if (snapshots && (rival = note_key(&t->rivals, &t->rival_list, &k, 0)) < 0) return -1;
    if (r->assessment) {
        k.key = without;
        k.aux = mix(1469598103934665603ULL, r->assessment);
        snprintf(k.assessment, sizeof k.assessment, "%s", r->assessment);
        if (note_key(&t->assessments, &t->assessment_list, &k, 1) < 0) return -1;
    }
    return rival;
}

int df__repeats_merge(df__repeats *to, const df__repeats *from, const int *remap)
{
    /* keys seen by both threads: repeats across the file's pieces */
    for (int t = 0; t < 2; t++) {
        const seen_table *ft = t ? &from->assessments : &from->rivals;
        for (size_t i = 0; i < ft->cap; i++) {
            const seen_key *at = df__hashtab_at(ft, i);
            if (!at) continue;
            seen_key k = *at;
            k.op = remap ? remap[k.op] : k.op;
            if (note_key(t ? &to->assessments : &to->rivals, t ? &to->assessment_list : &to->rival_list, &k, t) < 0)
                return -1;
        }
        const repeat_list *fl = t ? &from->assessment_list : &from->rival_list;
        for (long i = 0; i < fl->n; i++) {
            repeat r = fl->items[i];
            r.op = remap ? remap[r.op] : r.op;
            if (repeat_add(t ? &to->assessment_list : &to->rival_list, &r) != 0) return -1;
        }
    }
    return 0;
}

df_status df__repeats_judge(df_ctx *ctx, const df__repeats *t, const df_record_opts *ro, const char *const *ops,
                            int (*counts)(int32_t date, int op, void *user), void *user)
{
    char list[600];
    size_t used = 0;
    long counted = 0;
    for (long i = 0; i < t->rival_list.n; i++) {
        const repeat *r = &t->rival_list.items[i];
        if (!counts(r->date, r->op, user)) continue;
        if (counted++ < 6 && used < sizeof list) {
            char d[11];
            df_date_format(r->date, d);
            used +=
                (size_t)snprintf(list + used, sizeof list - used, "%sline %ld repeats line %ld (%s%s%s)",
                                 counted > 1 ? "; " : "", r->line, r->first, ops[r->op], ops[r->op][0] ? " " : "", d);
        }
    }
    if (counted && (ro->duplicates == DF_DUPLICATES_DEFAULT || ro->duplicates == DF_DUPLICATES_REFUSE))
        return df__error(ctx, DF_EINVAL,
                         "%s: %ld rows give a second snapshot of a place already given for the same operation, date, "
                         "split and assessment type: %s%s. Refused: which one is right cannot be known "
                         "(--duplicates drop keeps the first row, keep adds them; job: [records] duplicates)",
                         ro->path, counted, list, counted > 6 ? "; ..." : "");
    if (t->rival_list.n)
        df__log(ctx, DF_LOG_WARN, "%s: %ld rows repeat the snapshot of a place (%ld on the dates counted): %s",
                ro->path, t->rival_list.n, counted,
                ro->duplicates == DF_DUPLICATES_DROP ? "the first row kept (--duplicates drop)"
                                                     : "added (--duplicates keep)");

    used = 0, counted = 0;
    int32_t dates[8];
    int ndates = 0;
    for (long i = 0; i < t->assessment_list.n; i++) {
        const repeat *r = &t->assessment_list.items[i];
        if (!counts(r->date, r->op, user)) continue;
        counted++;
        int k = 0;
        while (k < ndates && dates[k] != r->date) k++;
        if (k < ndates || ndates == 8) continue;
        dates[ndates++] = r->date;
        char d[11];
        df_date_format(r->date, d);
        if (used < sizeof list)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s (line %ld %s, line %ld %s)",
                                     ndates > 1 ? "; " : "", d, r->first, r->a, r->line, r->b);
    }
    if (counted && !ro->add_assessments)
        return df__error(ctx, DF_EINVAL,
                         "%s: %ld rows give a place and date a second assessment type, which may count the same "
                         "people: %s%s. Choose one with --where assessment=TYPE (job: [records] where = "
                         "assessment=TYPE), or add them on purpose with --assessments add (as DTM's own totals do)",
                         ro->path, counted, list, ndates == 8 ? "; ..." : "");
    if (counted)
        df__log(ctx, DF_LOG_INFO,
                "%s: %ld rows of a second assessment type of a place and date added (--assessments add)", ro->path,
                counted);
    return DF_OK;
}

/* MPI: a table packed as its keys and repeats (fixed-size records); read
 * back into an empty table, to be merged like a thread's. */
void df__repeats_pack(df__pack *b, const df__repeats *t)
{
    for (int w = 0; w < 2; w++) {
        const seen_table *st = w ? &t->assessments : &t->rivals;
        const repeat_list *l = w ? &t->assessment_list : &t->rival_list;
        uint64_t n = st->count;
        df__pack_put(b, &n, sizeof n);
        for (size_t i = 0; i < st->cap; i++) {
            const seen_key *k = df__hashtab_at(st, i);
            if (k) df__pack_put(b, k, sizeof *k);
        }
        int64_t nl = l->n;
        df__pack_put(b, &nl, sizeof nl);
        df__pack_put(b, l->items, (size_t)l->n * sizeof *l->items);
    }
}

int df__repeats_unpack(df__pack *b, df__repeats *t)
{
    for (int w = 0; w < 2; w++) {
        uint64_t n;
        df__pack_get(b, &n, sizeof n);
        for (uint64_t i = 0; i < n && !b->failed; i++) {
            seen_key k;
            df__pack_get(b, &k, sizeof k);
            if (!b->failed &&
                note_key(w ? &t->assessments : &t->rivals, w ? &t->assessment_list : &t->rival_list, &k, w) < 0)
                return -1;
        }
        int64_t nl;
        df__pack_get(b, &nl, sizeof nl);
        for (int64_t i = 0; i < nl && !b->failed; i++) {
            repeat r;
            df__pack_get(b, &r, sizeof r);
            if (!b->failed && repeat_add(w ? &t->assessment_list : &t->rival_list, &r) != 0) return -1;
        }
    }
    return b->failed ? -1 : 0;
}
