/*
 * hosting.c — where the displaced live (issue 13 item 7): individuals of the
 * displaced records of the period by shelter (in camps, out of camp, not
 * stated; every shelter type as written) and by hosting location. The
 * join keeps no shelter or location, so the run's read keeps the displaced
 * records in a spool, replayed here (or, without one, the records are read
 * again with the job's own record options), with the join's period rules: increments
 * from the start to the as-of date, snapshots on the snapshot date of their
 * operation. Records placed in no unit are counted too (the total says how
 * many individuals that is against the key figures).
 */
#include "df_job.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *key; /* normalised: the grouping */
    df__host_row row;
} entry;

typedef df__hashtab table; /* of entry, keyed by key; zeroed: empty */

typedef struct {
    const df_join *j;
    df_table_kind kind;
    int32_t from, as_of;
    table loc, shelter;
    df__hosting *out;
    int oom;
} pass;

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int entry_is(const void *e, const void *key) { return strcmp(((const entry *)e)->key, key) == 0; }

/* The entry of key, added (names copied) when new; NULL out of memory. */
static entry *find(table *t, const char *key, const char *name, const char *where, const char *shelter)
{
    if (!t->cap) t->size = sizeof(entry), t->first = 64;
    int added;
    entry *e = df__hashtab_get(t, hash(key), entry_is, key, &added);
    if (e && added) {
        e->key = df__strdup(key);
        e->row.name = df__strdup(name);
        e->row.where = df__strdup(where ? where : "");
        e->row.shelter = df__strdup(shelter ? shelter : "");
        if (!e->key || !e->row.name || !e->row.where || !e->row.shelter) {
            free(e->key), free(e->row.name), free(e->row.where), free(e->row.shelter);
            df__hashtab_drop(t, e);
            return NULL;
        }
    }
    return e;
}

/* Camp, out of camp, or not stated, from the shelter as written: DTM's
 * "Camp", "Camps", "IDP camp" are camps; "Out of camp", "non-camp" and every
 * other type (private setting, host family, informal site ...) are not. */
static int shelter_class(const char *s)
{
    char low[128];
    size_t n = 0;
    for (; s && *s && n + 1 < sizeof low; s++) low[n++] = (char)tolower((unsigned char)*s);
    low[n] = 0;
    if (!n) return 2;
    if (strstr(low, "camp") && !strstr(low, "out of camp") && !strstr(low, "out-of-camp") && !strstr(low, "non-camp") &&
        !strstr(low, "non camp") && !strstr(low, "outside"))
        return 0;
    return 1;
}

/* The record counts when the join's period rules would count it. */
static int counts(const pass *p, const df_record *r)
{
    if (r->status != DF_DISPLACED) return 0;
    if (r->date == DF_NO_DATE) return 1;
    if (p->kind != DF_SNAPSHOTS) return r->date >= p->from && r->date <= p->as_of;
    const char *op = r->operation ? r->operation : "";
    for (int i = 0; i < df_join_operation_count(p->j); i++) {
        const df_operation_figure *o = df_join_operation(p->j, i);
        if (!strcmp(o->name, op)) return o->snapshot != DF_NO_DATE && r->date == o->snapshot;
    }
    return 0;
}

static int on_record(const df_record *r, void *user)
{
    pass *p = user;
    if (!counts(p, r) || r->individuals <= 0) return 0;
    df__hosting *h = p->out;
    int c = shelter_class(r->shelter);
    h->total += r->individuals;
    h->by_class[c] += r->individuals;
    char key[512], norm[256];
    if (r->shelter && r->shelter[0]) {
        df__name_normalize(r->shelter, key, sizeof key);
        entry *e = find(&p->shelter, key, r->shelter, NULL, c == 0 ? "Camp" : "Out of camp");
        if (!e) return p->oom = 1; /* stops the read */
        e->row.individuals += r->individuals;
    }
    /* a location: its name and the finest admin name the record states */
    const char *where = NULL;
    for (int l = 3; l >= 1 && !where; l--)
        where = r->location.name[l] && r->location.name[l][0] ? r->location.name[l] : NULL;
    if (r->location_name && r->location_name[0]) {
        df__name_normalize(r->location_name, norm, sizeof norm);
        snprintf(key, sizeof key, "%s|", norm);
        if (where) df__name_normalize(where, key + strlen(key), sizeof key - strlen(key));
        entry *e = find(&p->loc, key, r->location_name, where, r->shelter);
        if (!e) return p->oom = 1; /* stops the read */
        e->row.individuals += r->individuals;
        if (strcmp(e->row.shelter, r->shelter ? r->shelter : "") && strcmp(e->row.shelter, "mixed")) {
            free(e->row.shelter);
            if (!(e->row.shelter = df__strdup("mixed"))) return p->oom = 1; /* stops the read */
        }
    }
    return 0;
}

static int cmp_rows(const void *a, const void *b)
{
    const df__host_row *x = a, *y = b;
    if (x->individuals != y->individuals) return x->individuals > y->individuals ? -1 : 1;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->where, y->where);
}

/* The table's rows, largest first, into a new array; its keys freed. */
static df__host_row *rows_of(table *t, int *n)
{
    df__host_row *rows = malloc((t->count + 1) * sizeof *rows);
    int k = 0;
    for (size_t i = 0; i < t->cap; i++) {
        entry *e = df__hashtab_at(t, i);
        if (!e) continue;
        free(e->key);
        if (rows)
            rows[k++] = e->row;
        else
            free(e->row.name), free(e->row.where), free(e->row.shelter);
    }
    df__hashtab_free(t);
    if (rows) qsort(rows, (size_t)k, sizeof *rows, cmp_rows);
    *n = k;
    return rows;
}

void df__hosting_free(df__hosting *h)
{
    if (!h) return;
    for (int i = 0; i < h->nshelter; i++)
        free(h->shelter[i].name), free(h->shelter[i].where), free(h->shelter[i].shelter);
    for (int i = 0; i < h->nloc; i++) free(h->loc[i].name), free(h->loc[i].where), free(h->loc[i].shelter);
    free(h->shelter);
    free(h->loc);
    free(h);
}

df_status df__hosting_compute(df_ctx *ctx, const df__report *r, df__hosting **out)
{
    const df_join *j = r->join[r->level];
    const df_balance *bal = df_join_balance(j);
    pass p = {j, df_join_kind(j), bal->from, bal->as_of, {0}, {0}, calloc(1, sizeof *p.out), 0};
    *out = NULL;
    if (!p.out) return df__error(ctx, DF_ENOMEM, "out of memory");
    df_record_opts ro;
    df__job_record_opts(r->job, &ro);
    ro.kind = p.kind; /* as the join read it */
    df_read_stats stats;
    df_status st = r->spool ? df__spool_replay(ctx, r->spool, on_record, &p) /* kept by the run's one read */
                            : df_records_read(ctx, &ro, on_record, NULL, &p, &stats);
    if (p.oom) /* our stop, not the caller's */
        st = df__error(ctx, DF_ENOMEM, "out of memory counting shelters");
    if (st == DF_OK && p.out->total != p.out->by_class[0] + p.out->by_class[1] + p.out->by_class[2])
        st = df__error(ctx, DF_EINVAL, "shelter classes do not add up"); /* cannot happen */
    p.out->shelter = rows_of(&p.shelter, &p.out->nshelter);
    p.out->loc = rows_of(&p.loc, &p.out->nloc);
    if (st == DF_OK && (!p.out->shelter || !p.out->loc)) st = df__error(ctx, DF_ENOMEM, "out of memory");
    if (st != DF_OK) {
        df__hosting_free(p.out);
        return st;
    }
    *out = p.out;
    return DF_OK;
}
