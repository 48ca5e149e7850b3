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
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* A key's first row; the key (its hash) is the table's own. Rival keys
 * keep the first three fields (16 bytes), assessment keys all of them. */
typedef struct {
    long line;
    int op;
    int32_t date;
    uint64_t aux;        /* assessments: the hash of the assessment type */
    char assessment[12]; /* assessments: the type, for the message */
} seen_key;
#define RIVAL_SIZE offsetof(seen_key, aux)

typedef df__hashtab seen_table; /* zeroed: empty */

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

/* So that memory does not grow with the file, a table holds at most max
 * distinct keys (docs/records.md): rows past them are still compared with
 * those held, not added, and counted as unchecked; the judgment says so. */
long df__repeats_max_keys = 2L << 20;

struct df__repeats {
    seen_table rivals, assessments;
    repeat_list rival_list, assessment_list;
    long max;          /* distinct keys a table holds at most */
    long unchecked[2]; /* rows neither found nor added: rivals, assessments */
};

df__repeats *df__repeats_new(int share)
{
    df__repeats *t = calloc(1, sizeof(df__repeats));
    if (t) share = share > 1 ? share : 1, t->max = (df__repeats_max_keys + share - 1) / share;
    return t;
}

void df__repeats_free(df__repeats *t)
{
    if (!t) return;
    df__hashtab_free(&t->rivals), df__hashtab_free(&t->assessments);
    free(t->rival_list.items), free(t->assessment_list.items);
    free(t);
}

/* Look key up in table w (0 rivals, 1 assessments); add it when absent and
 * the table has room. Returns NULL or the entry already there; *full when
 * it was neither found nor added, *failed on no memory. */
static seen_key *seen_add(df__repeats *t, int w, uint64_t key, const seen_key *k, int *full, int *failed)
{
    seen_table *st = w ? &t->assessments : &t->rivals;
    if ((long)st->count >= t->max) {
        seen_key *e = df__hashtab_find(st, key, NULL, NULL);
        if (!e) *full = 1;
        return e;
    }
    if (!st->cap) st->size = w ? sizeof(seen_key) : RIVAL_SIZE, st->first = 1024;
    int added;
    seen_key *e = df__hashtab_get(st, key, NULL, NULL, &added);
    if (!e) return *failed = 1, NULL;
    if (!added) return e;
    memcpy(e, k, st->size);
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

/* Note a key of table w: a second row of a key is a repeat; for
 * assessments, only when its assessment type differs from the first row's. */
static int note_key(df__repeats *t, int w, uint64_t key, const seen_key *k)
{
    int full = 0, failed = 0;
    seen_key *was = seen_add(t, w, key, k, &full, &failed);
    if (failed) return -1;
    t->unchecked[w] += full;
    if (!was || (w && was->aux == k->aux)) return 0;
    repeat r = {k->line, was->line, k->op, k->date, "", ""};
    if (w) memcpy(r.a, was->assessment, sizeof r.a), memcpy(r.b, k->assessment, sizeof r.b);
    return repeat_add(w ? &t->assessment_list : &t->rival_list, &r) == 0 ? 1 : -1;
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
    seen_key k = {r->line, op, r->date, 0, ""};
    if (snapshots && (rival = note_key(t, 0, with, &k)) < 0) return -1;
    if (r->assessment) {
        k.aux = mix(1469598103934665603ULL, r->assessment);
        snprintf(k.assessment, sizeof k.assessment, "%s", r->assessment);
        if (note_key(t, 1, without, &k) < 0) return -1;
    }
    return rival;
}

int df__repeats_merge(df__repeats *to, const df__repeats *from, const int *remap)
{
    /* keys seen by both threads: repeats across the file's pieces; the
     * merged table may hold the whole limit */
    to->max = df__repeats_max_keys;
    for (int t = 0; t < 2; t++) {
        const seen_table *ft = t ? &from->assessments : &from->rivals;
        to->unchecked[t] += from->unchecked[t];
        for (size_t i = 0; i < ft->cap; i++) {
            const seen_key *at = df__hashtab_at(ft, i);
            if (!at) continue;
            seen_key k = {0};
            memcpy(&k, at, ft->size);
            k.op = remap ? remap[k.op] : k.op;
            if (note_key(to, t, ft->hashes[i], &k) < 0) return -1;
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
    /* rows past the limit: a rival or a second assessment type among them
     * would be counted silently */
    if (t->unchecked[0] && ro->duplicates != DF_DUPLICATES_KEEP)
        return df__error(ctx, DF_EINVAL,
                         "%s: %ld rows could not be checked for rival snapshots: they come after the first %ld "
                         "distinct places, dates and operations of this snapshot table, which is as many as the check "
                         "holds (so that memory does not grow with the file). Refused: a rival among them would be "
                         "counted silently. Split the table (by operation or date: --where, job: [records] where), "
                         "or add those rows unchecked with --duplicates keep",
                         ro->path, t->unchecked[0], df__repeats_max_keys);
    if (t->unchecked[0])
        df__log(ctx, DF_LOG_WARN,
                "%s: %ld rows past the first %ld keys not checked for rival snapshots (--duplicates keep)", ro->path,
                t->unchecked[0], df__repeats_max_keys);
    if (t->unchecked[1] && !ro->add_assessments)
        return df__error(ctx, DF_EINVAL,
                         "%s: %ld rows could not be checked for a second assessment type of their place and date: they "
                         "come after the first %ld distinct places and dates, which is as many as the check holds (so "
                         "that memory does not grow with the file). Refused: such a row may count the same people "
                         "twice. Split the table (--where, job: [records] where), choose one type with --where "
                         "assessment=TYPE, or add them on purpose with --assessments add",
                         ro->path, t->unchecked[1], df__repeats_max_keys);

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
                ro->duplicates == DF_DUPLICATES_DROP   ? "the first row kept (--duplicates drop)"
                : ro->duplicates == DF_DUPLICATES_KEEP ? "added (--duplicates keep)"
                                                       : "none on a date counted");

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
        int64_t n = (int64_t)st->count, unchecked = t->unchecked[w], nl = l->n;
        df__pack_put(b, &n, sizeof n);
        df__pack_put(b, &unchecked, sizeof unchecked);
        for (size_t i = 0; i < st->cap; i++) {
            const seen_key *k = df__hashtab_at(st, i);
            if (!k) continue;
            df__pack_put(b, &st->hashes[i], sizeof st->hashes[i]);
            df__pack_put(b, k, st->size);
        }
        df__pack_put(b, &nl, sizeof nl);
        df__pack_put(b, l->items, (size_t)l->n * sizeof *l->items);
    }
}

int df__repeats_unpack(df__pack *b, df__repeats *t)
{
    t->max = df__repeats_max_keys; /* it held what the packed table held */
    for (int w = 0; w < 2; w++) {
        int64_t n, unchecked, nl;
        df__pack_get(b, &n, sizeof n);
        df__pack_get(b, &unchecked, sizeof unchecked);
        t->unchecked[w] += unchecked;
        for (int64_t i = 0; i < n && !b->failed; i++) {
            uint64_t key;
            seen_key k = {0};
            df__pack_get(b, &key, sizeof key);
            df__pack_get(b, &k, w ? sizeof k : RIVAL_SIZE);
            if (!b->failed && note_key(t, w, key, &k) < 0) return -1;
        }
        df__pack_get(b, &nl, sizeof nl);
        for (int64_t i = 0; i < nl && !b->failed; i++) {
            repeat r;
            df__pack_get(b, &r, sizeof r);
            if (!b->failed && repeat_add(w ? &t->assessment_list : &t->rival_list, &r) != 0) return -1;
        }
    }
    return b->failed ? -1 : 0;
}
