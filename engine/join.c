/*
 * join.c — records matched to units and aggregated per unit and date.
 *
 * Each record's location is matched at the join level as reconcile.c
 * matches places (P-code, names walked down from the governorate with
 * aliases, skeleton and fuzzy matching, then the point, always located so
 * that conflicts and swapped coordinates are flagged). Returned records are
 * also matched by their district of displacement, and origins are matched
 * for the decision log. Large CSV files are read on all cores, each thread
 * with its own bins and name cache, merged at the end.
 *
 * Aggregates are kept per (unit, date) bin, so the period is applied at the
 * end (its defaults come from the data) and memory is bounded by units x
 * dates, never by the number of records. Every valid record lands in exactly
 * one bin; unmatched records in the bin of unit -1.
 */
#include "dfint.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int unit; /* -1: unmatched */
    int32_t date;
    long rows;           /* valid records whose location is this unit */
    int64_t individuals; /* their individuals (any status) */
    int64_t displaced, families, returnees;
    int64_t returned; /* returns whose district of displacement is this unit */
    long returns_unplaced;
    int64_t ind_returns_unplaced;
    int64_t support[3]; /* families behind displaced, returned, returnees (publish mode) */
    int used;
} bin;

typedef struct {
    bin *slots;
    size_t cap, count;
} bin_table;

struct df_join {
    int level, nunits;
    df_figures *figures;
    int64_t (*support)[3];   /* per unit: families behind displaced, returned, returnees */
    unsigned char *withheld; /* per unit: figures withheld from published outputs */
    bin_table bins;          /* per (unit, date): kept for the totals as of an earlier date */
    df_table_kind kind;
    df_balance balance;
    df_name_decision *decisions; /* one per distinct stated name */
    int ndecisions;
};

void df_join_opts_init(df_join_opts *o)
{
    memset(o, 0, sizeof *o);
    o->level = 2;
    o->from = DF_NO_DATE;
    o->as_of = DF_NO_DATE;
}

/* ---- bins: open addressing on (unit, date) ---------------------------------- */

static size_t bin_hash(int unit, int32_t date, size_t cap)
{
    uint64_t k = ((uint64_t)(uint32_t)unit << 32) | (uint32_t)date;
    k ^= k >> 33, k *= 0xff51afd7ed558ccdULL, k ^= k >> 33;
    return (size_t)k & (cap - 1);
}

static bin *bin_get(bin_table *t, int unit, int32_t date)
{
    if (2 * (t->count + 1) > t->cap) { /* keep the load under one half */
        size_t cap = t->cap ? t->cap * 2 : 1024;
        bin *slots = calloc(cap, sizeof *slots);
        if (!slots) return NULL;
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->slots[i].used) continue;
            size_t h = bin_hash(t->slots[i].unit, t->slots[i].date, cap);
            while (slots[h].used) h = (h + 1) & (cap - 1);
            slots[h] = t->slots[i];
        }
        free(t->slots);
        t->slots = slots;
        t->cap = cap;
    }
    size_t h = bin_hash(unit, date, t->cap);
    while (t->slots[h].used && !(t->slots[h].unit == unit && t->slots[h].date == date)) h = (h + 1) & (t->cap - 1);
    if (!t->slots[h].used) {
        t->slots[h].used = 1;
        t->slots[h].unit = unit;
        t->slots[h].date = date;
        t->count++;
    }
    return &t->slots[h];
}

/* ---- matching ------------------------------------------------------------------ */

typedef df__match match;

static void match_place(const df_boundaries *b, df__name_cache *cache, const df_join_opts *o, const df_place *pl,
                        double lon, double lat, match *m)
{
    df__match_place(b, cache, o->level, o->prefer_points, o->log_path != NULL, pl, lon, lat, m);
}

/* ---- the run ------------------------------------------------------------------- */

/* One per reading thread; merged at the end. */
typedef struct {
    df_ctx *ctx; /* the first state's: rejections are reported there */
    const char *records_path;
    long rejections_told;
    const df_boundaries *b;
    const df_join_opts *opts;
    double household_size; /* families of rows without a families column, for the support */
    bin_table bins;
    df_balance counts; /* matched_by_* and swapped */
    FILE *log;         /* serial reads only */
    df__name_cache *names;
    int32_t min_date, max_date;
    int failed;
} join_state;

#define JOIN_MAX_THREADS 16

/* Add the bins and counts of `from` into `to`. */
static int join_state_merge(join_state *to, const join_state *from)
{
    for (size_t i = 0; i < from->bins.cap; i++) {
        const bin *s = &from->bins.slots[i];
        if (!s->used) continue;
        bin *d = bin_get(&to->bins, s->unit, s->date);
        if (!d) return -1;
        d->rows += s->rows, d->individuals += s->individuals;
        d->displaced += s->displaced, d->families += s->families, d->returnees += s->returnees;
        d->returned += s->returned;
        d->returns_unplaced += s->returns_unplaced, d->ind_returns_unplaced += s->ind_returns_unplaced;
        for (int k = 0; k < 3; k++) d->support[k] += s->support[k];
    }
    if (from->min_date != DF_NO_DATE && (to->min_date == DF_NO_DATE || from->min_date < to->min_date))
        to->min_date = from->min_date;
    if (from->max_date != DF_NO_DATE && (to->max_date == DF_NO_DATE || from->max_date > to->max_date))
        to->max_date = from->max_date;
    to->counts.matched_by_pcode += from->counts.matched_by_pcode;
    to->counts.matched_by_name += from->counts.matched_by_name;
    to->counts.matched_by_point += from->counts.matched_by_point;
    to->counts.matched_by_alias += from->counts.matched_by_alias;
    to->counts.matched_by_fuzzy += from->counts.matched_by_fuzzy;
    to->counts.swapped += from->counts.swapped;
    to->counts.conflicts += from->counts.conflicts;
    to->failed |= from->failed | df__name_cache_failed(from->names);
    return 0;
}

static void log_unit(FILE *f, const join_state *js, int unit, int with_name)
{
    const df_unit *u = unit >= 0 ? df_boundaries_unit(js->b, js->opts->level, unit) : NULL;
    fputc(',', f);
    df__csv_put(f, u ? u->pcode : "");
    if (with_name) fputc(',', f), df__csv_put(f, u ? u->name : "");
}

/* One decision-log row: how the location, the district of displacement
 * (returns) and the origin were matched, the flags, and why in words. */
static void log_row(join_state *js, const df_record *r, const match *loc, const match *disp, const match *orig,
                    const char *flags, const char *note)
{
    char d[11];
    FILE *f = js->log;
    df_date_format(r->date, d);
    fprintf(f, "%ld,%s,%s,%lld,%s,", r->line, d, r->status == DF_RETURNED ? "returned" : "displaced",
            (long long)r->individuals, df__how_name(loc->how));
    if (loc->score > 0 && loc->score < 1) fprintf(f, "%.2f", loc->score);
    log_unit(f, js, loc->unit, 1);
    fprintf(f, ",%s", disp ? df__how_name(disp->how) : "");
    log_unit(f, js, disp ? disp->unit : -1, 0);
    fprintf(f, ",%s", orig ? df__how_name(orig->how) : "");
    log_unit(f, js, orig ? orig->unit : -1, 0);
    fputc(',', f);
    df__csv_put(f, flags);
    fputc(',', f);
    df__csv_put(f, note);
    fputc('\n', f);
}

static int has_place(const df_place *p)
{
    for (int lv = 1; lv <= 3; lv++)
        if (p->name[lv] || p->pcode[lv]) return 1;
    return 0;
}

static int on_record(const df_record *r, void *user)
{
    join_state *js = user;
    const df_boundaries *b = js->b;
    match loc, disp, orig;
    int returned = r->status == DF_RETURNED, with_origin = has_place(&r->origin);

    match_place(b, js->names, js->opts, &r->location, r->lon, r->lat, &loc);
    if (returned) match_place(b, js->names, js->opts, &r->displacement, NAN, NAN, &disp);
    if (with_origin) match_place(b, js->names, js->opts, &r->origin, NAN, NAN, &orig);
    if (r->date != DF_NO_DATE) {
        if (js->min_date == DF_NO_DATE || r->date < js->min_date) js->min_date = r->date;
        if (js->max_date == DF_NO_DATE || r->date > js->max_date) js->max_date = r->date;
    }
    bin *bn = bin_get(&js->bins, loc.unit, r->date);
    if (!bn) return js->failed = 1, 1;
    bn->rows++;
    bn->individuals += r->individuals;
    /* families, or individuals / household size where a table has none */
    int64_t families = r->families >= 0 ? r->families : (int64_t)ceil((double)r->individuals / js->household_size);
    if (!returned) {
        bn->displaced += r->individuals;
        bn->support[0] += families;
        if (r->families > 0) bn->families += r->families;
    } else {
        bn->returnees += r->individuals;
        bn->support[2] += families;
        bin *db = bin_get(&js->bins, disp.unit, r->date);
        if (!db) return js->failed = 1, 1;
        if (disp.unit >= 0) {
            db->returned += r->individuals;
            db->support[1] += families;
        } else {
            db->returns_unplaced++;
            db->ind_returns_unplaced += r->individuals;
        }
    }
    df_balance *bal = &js->counts;
    bal->matched_by_pcode += loc.how == DF__HOW_PCODE;
    bal->matched_by_name += loc.how == DF__HOW_NAME;
    bal->matched_by_alias += loc.how == DF__HOW_ALT || loc.how == DF__HOW_ALIAS;
    bal->matched_by_fuzzy += loc.how == DF__HOW_SKELETON || loc.how == DF__HOW_FUZZY;
    bal->matched_by_point += loc.how == DF__HOW_POINT;
    bal->swapped += loc.swapped;
    bal->conflicts += loc.conflict;

    if (js->log) {
        char flags[128] = "";
        if (r->has_coordinate_columns && isnan(r->lon)) strcat(flags, "no-coordinates ");
        if (loc.swapped) strcat(flags, "swapped-lat-lon ");
        if (loc.conflict) strcat(flags, "conflict ");
        if (r->individuals_derived) strcat(flags, "individuals-from-families ");
        char note[1100];
        snprintf(note, sizeof note, "%s%s%s%s%s%s", loc.note, returned && disp.note[0] ? "; displacement: " : "",
                 returned ? disp.note : "", with_origin && orig.note[0] ? "; origin: " : "",
                 with_origin ? orig.note : "", "");
        size_t fl = strlen(flags);
        if (fl) flags[fl - 1] = '\0';
        log_row(js, r, &loc, returned ? &disp : NULL, with_origin ? &orig : NULL, flags,
                note[0] == ';' ? note + 2 : note);
    }
    return 0;
}

#define REJECTIONS_TOLD 20

static void on_reject(const df_rejection *rj, void *user)
{
    join_state *js = user;
    char note[300];
    /* the first rejected rows go to the log callback too, with file:line */
    if (js->ctx && js->rejections_told++ < REJECTIONS_TOLD)
        df__log(js->ctx, DF_LOG_WARN, "%s:%ld: %s: %s \"%s\"%s", js->records_path, rj->line, rj->column,
                df_reject_name(rj->reason), rj->detail ? rj->detail : "",
                js->rejections_told == REJECTIONS_TOLD ? " (further rejected rows: see --log)" : "");
    if (!js->log) return;
    snprintf(note, sizeof note, "%s: %s", rj->column, rj->detail ? rj->detail : "");
    fprintf(js->log, "%ld,,,,rejected,,,,,,,,%s,", rj->line, df_reject_name(rj->reason));
    df__csv_put(js->log, note);
    fputc('\n', js->log);
}

/* ---- the distinct name decisions, gathered from the threads' caches ---------- */

typedef struct {
    df_join *j;
    const df_boundaries *b;
    int cap, failed;
} gather;

/* Every thread's entry is appended; the same name read by several threads
 * is merged after the sort (adjacent then), so the work is n log n, not a
 * scan of every earlier decision per name (issue 17 item 10). */
static void gather_one(int level, const char *name, const char *parent_name, const df__name_match *m, long rows,
                       void *user)
{
    gather *g = user;
    df_join *j = g->j;
    if (g->failed) return;
    if (j->ndecisions == g->cap) {
        int cap = g->cap * 2 + 64;
        df_name_decision *nd = df__realloc_array(j->decisions, (size_t)cap, sizeof *nd);
        if (!nd) return (void)(g->failed = 1);
        j->decisions = nd;
        g->cap = cap;
    }
    /* name and parent in one allocation: "name\0parent" */
    size_t ln = strlen(name), lp = strlen(parent_name);
    char *np = malloc(ln + lp + 2), *cand = df__strdup(m->candidates);
    if (!np || !cand) return free(np), free(cand), (void)(g->failed = 1);
    memcpy(np, name, ln + 1);
    memcpy(np + ln + 1, parent_name, lp + 1);
    const df_unit *u = m->unit >= 0 ? df__boundaries_unit(g->b, level, m->unit) : NULL;
    j->decisions[j->ndecisions++] = (df_name_decision){
        level,        np,   np + ln + 1, df__how_name(m->how), u ? u->pcode : "", u ? u->name : "", m->score,
        m->ambiguous, cand, rows};
}

static int cmp_decision(const void *a, const void *b)
{
    const df_name_decision *p = a, *q = b;
    if (p->level != q->level) return p->level - q->level;
    int c = strcmp(p->name, q->name);
    return c ? c : strcmp(p->parent, q->parent);
}

/* The sort order, then the decision itself: equal keys from two threads
 * carry the same decision, and the order stays the same from run to run. */
static int cmp_decision_full(const void *a, const void *b)
{
    const df_name_decision *p = a, *q = b;
    int c = cmp_decision(a, b);
    if (!c) c = strcmp(p->pcode, q->pcode);
    if (!c) c = strcmp(p->how, q->how);
    return c;
}

/* Sort the decisions and fold each run of equal keys into its first. */
static void decisions_sort(df_join *j)
{
    if (!j->ndecisions) return;
    qsort(j->decisions, (size_t)j->ndecisions, sizeof *j->decisions, cmp_decision_full);
    int kept = 1;
    for (int i = 1; i < j->ndecisions; i++) {
        df_name_decision *d = &j->decisions[i], *last = &j->decisions[kept - 1];
        if (cmp_decision(d, last) == 0) {
            last->rows += d->rows;
            free((char *)d->name);
            free((char *)d->candidates);
        } else
            j->decisions[kept++] = *d;
    }
    j->ndecisions = kept;
}

/* The latest snapshot date on or before as_of, or DF_NO_DATE. */
static int32_t latest_snapshot(const bin_table *t, int32_t as_of)
{
    int32_t latest = DF_NO_DATE;
    for (size_t i = 0; i < t->cap; i++) {
        const bin *bn = &t->slots[i];
        if (bn->used && bn->date != DF_NO_DATE && bn->date <= as_of && (latest == DF_NO_DATE || bn->date > latest))
            latest = bn->date;
    }
    return latest;
}

/* Does a bin count in the period? Undated rows count in every period;
 * snapshots count on their date alone (from is the snapshot then). */
static int in_period(const bin *bn, df_table_kind kind, int32_t from, int32_t as_of)
{
    if (bn->date == DF_NO_DATE) return 1;
    return kind == DF_SNAPSHOTS ? bn->date == from : bn->date >= from && bn->date <= as_of;
}

df_status df_join_run(df_ctx *ctx, const df_boundaries *b, const df_record_opts *ropts, const df_join_opts *jopts,
                      df_join **out)
{
    DF__GDAL_SCOPE(ctx);
    df_status st = DF_OK;
    char tmp[4096];
    join_state states[JOIN_MAX_THREADS], *js = &states[0];
    if (jopts->level < 1 || jopts->level > df_boundaries_finest_level(b)) /* coarser levels derive, finer cannot */
        return *out = NULL, df__error(ctx, DF_EINVAL,
                                      "no admin-%d join: the boundaries are an admin-%d layer (levels "
                                      "1..%d)",
                                      jopts->level, df_boundaries_finest_level(b), df_boundaries_finest_level(b));
    void *users[JOIN_MAX_THREADS];
    df_join *j = calloc(1, sizeof *j);
    *out = NULL;
    memset(states, 0, sizeof states);
    for (int k = 0; k < JOIN_MAX_THREADS; k++) {
        states[k].b = b, states[k].opts = jopts;
        states[k].household_size = ropts->household_size > 0 ? ropts->household_size : 6;
        states[k].ctx = k == 0 ? ctx : NULL, states[k].records_path = ropts->path;
        states[k].min_date = states[k].max_date = DF_NO_DATE;
        users[k] = &states[k];
    }
    for (int k = 0; k < JOIN_MAX_THREADS; k++)
        if (!(states[k].names = df__name_cache_new())) j = (free(j), NULL);
    if (!j) {
        for (int k = 0; k < JOIN_MAX_THREADS; k++) df__name_cache_free(states[k].names);
        return df__error(ctx, DF_ENOMEM, "out of memory");
    }
    if ((st = df_boundaries_prepare(ctx, b, jopts->level)) != DF_OK) goto done;
    j->level = jopts->level;
    j->nunits = df_boundaries_count(b, jopts->level);
    j->figures = calloc((size_t)j->nunits, sizeof *j->figures);
    j->support = calloc((size_t)j->nunits + 1, sizeof *j->support);
    j->withheld = calloc((size_t)j->nunits + 1, 1);
    if (!j->figures || !j->support || !j->withheld) {
        st = df__error(ctx, DF_ENOMEM, "out of memory");
        goto done;
    }

    if (jopts->log_path) {
        if ((st = df__temp_path(ctx, jopts->log_path, tmp, sizeof tmp)) != DF_OK) goto done;
        if (!(js->log = fopen(tmp, "w"))) {
            st = df__error(ctx, DF_EIO, "cannot write the decision log %s: %s", jopts->log_path, strerror(errno));
            goto done;
        }
        fputs("line,date,status,individuals,match,score,adm_pcode,adm_name,displacement_match,displacement_pcode,"
              "origin_match,origin_pcode,flags,note\n",
              js->log);
    }

    /* all cores, unless a decision log must keep the input order */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int nthreads = js->log || cores < 2 ? 1 : cores > JOIN_MAX_THREADS ? JOIN_MAX_THREADS : (int)cores, used = 1;
    if (nthreads > 1)
        st = df__records_read_parallel(ctx, ropts, nthreads, on_record, users, on_reject, js, &j->balance.read, &used);
    else
        st = df_records_read(ctx, ropts, on_record, on_reject, js, &j->balance.read);
    /* a bin that could not grow stops the read: out of memory, not a cancel */
    int failed = 0;
    for (int k = 0; k < used; k++) failed |= states[k].failed;
    if (failed && (st == DF_OK || st == DF_ECANCELLED))
        st = df__error(ctx, DF_ENOMEM, "out of memory aggregating %s", ropts->path);
    for (int k = 1; k < used && st == DF_OK; k++)
        if (join_state_merge(js, &states[k]) != 0) js->failed = 1;
    if (st == DF_OK && (js->failed || df__name_cache_failed(js->names)))
        st = df__error(ctx, DF_ENOMEM, "out of memory aggregating %s", ropts->path);
    if (st != DF_OK) goto done;
    if (used > 1) df__log(ctx, DF_LOG_DEBUG, "%s: read on %d threads", ropts->path, used);
    j->balance.matched_by_pcode = js->counts.matched_by_pcode;
    j->balance.matched_by_name = js->counts.matched_by_name;
    j->balance.matched_by_point = js->counts.matched_by_point;
    j->balance.matched_by_alias = js->counts.matched_by_alias;
    j->balance.matched_by_fuzzy = js->counts.matched_by_fuzzy;
    gather g = {j, b, 0, 0};
    for (int k = 0; k < used; k++) df__name_cache_each(states[k].names, gather_one, &g);
    if (g.failed) {
        st = df__error(ctx, DF_ENOMEM, "out of memory");
        goto done;
    }
    decisions_sort(j);
    j->balance.swapped = js->counts.swapped;
    j->balance.conflicts = js->counts.conflicts;

    /* The period: defaults from the data. Snapshots: the latest snapshot
     * date on or before as_of, alone. */
    df_balance *bal = &j->balance;
    j->kind = ropts->kind;
    bal->from = jopts->from != DF_NO_DATE ? jopts->from : js->min_date;
    bal->as_of = jopts->as_of != DF_NO_DATE ? jopts->as_of : js->max_date;
    bal->snapshot = DF_NO_DATE;
    if (ropts->kind == DF_SNAPSHOTS) bal->from = bal->snapshot = latest_snapshot(&js->bins, bal->as_of);
    for (size_t i = 0; i < js->bins.cap; i++) {
        const bin *bn = &js->bins.slots[i];
        if (!bn->used) continue;
        if (!in_period(bn, ropts->kind, bal->from, bal->as_of)) {
            bal->out_of_period += bn->rows;
            bal->ind_out_of_period += bn->individuals;
            continue;
        }
        bal->returns_unplaced += bn->returns_unplaced;
        bal->ind_returns_unplaced += bn->ind_returns_unplaced;
        if (bn->unit < 0) {
            bal->unmatched += bn->rows;
            bal->ind_unmatched += bn->individuals;
            continue;
        }
        df_figures *f = &j->figures[bn->unit];
        bal->matched += bn->rows;
        bal->ind_matched += bn->individuals;
        f->records += bn->rows;
        f->displaced += bn->displaced;
        f->families += bn->families;
        f->returnees += bn->returnees;
        f->returned += bn->returned;
        for (int k = 0; k < 3; k++) j->support[bn->unit][k] += bn->support[k];
    }
    for (int u = 0; u < j->nunits; u++)
        j->figures[u].still_displaced = j->figures[u].displaced - j->figures[u].returned;
    j->bins = js->bins, js->bins = (bin_table){0}; /* the join's now */

    if (js->log) {
        FILE *f = js->log;
        js->log = NULL;
        if ((st = df__commit_file(ctx, f, tmp, jopts->log_path)) != DF_OK) goto done;
    }
    if (jopts->strict && bal->unmatched > 0)
        st = df__error(ctx, DF_EUNMATCHED,
                       "%s: %ld records could not be matched to an admin-%d unit (see the decision log)", ropts->path,
                       bal->unmatched, jopts->level);
done:
    if (js->log) {
        fclose(js->log);
        remove(tmp);
    }
    for (int k = 0; k < JOIN_MAX_THREADS; k++) {
        free(states[k].bins.slots);
        df__name_cache_free(states[k].names);
    }
    if (st != DF_OK) {
        df_join_free(j);
        j = NULL;
    }
    *out = j;
    return st;
}

void df_join_free(df_join *j)
{
    if (!j) return;
    for (int i = 0; i < j->ndecisions; i++) {
        free((char *)j->decisions[i].name);
        free((char *)j->decisions[i].candidates);
    }
    free(j->decisions);
    free(j->figures);
    free(j->support);
    free(j->withheld);
    free(j->bins.slots);
    free(j);
}

int df_join_decision_count(const df_join *j) { return j->ndecisions; }

const df_name_decision *df_join_decision(const df_join *j, int i)
{
    return i >= 0 && i < j->ndecisions ? &j->decisions[i] : NULL;
}

const df_balance *df_join_balance(const df_join *j) { return &j->balance; }
int df_join_level(const df_join *j) { return j->level; }
const df_figures *df_join_figures(const df_join *j, int i) { return i >= 0 && i < j->nunits ? &j->figures[i] : NULL; }

void df__join_support(const df_join *j, int i, int64_t out[3])
{
    for (int k = 0; k < 3; k++) out[k] = j->support[i][k];
}

void df__join_withhold(df_join *j, int i, int withheld) { j->withheld[i] = (unsigned char)withheld; }
int df__join_units(const df_join *j) { return j->nunits; }
int df__join_withheld(const df_join *j, int i) { return i >= 0 && i < j->nunits && j->withheld[i]; }

df_figures df__join_totals_as_of(const df_join *j, int32_t as_of, int32_t *snapshot)
{
    df_figures t = {0};
    int32_t from = j->balance.from;
    *snapshot = DF_NO_DATE;
    if (j->kind == DF_SNAPSHOTS) from = *snapshot = latest_snapshot(&j->bins, as_of);
    for (size_t i = 0; i < j->bins.cap; i++) {
        const bin *bn = &j->bins.slots[i];
        if (!bn->used || bn->unit < 0 || !in_period(bn, j->kind, from, as_of)) continue;
        t.records += bn->rows, t.displaced += bn->displaced, t.families += bn->families;
        t.returnees += bn->returnees, t.returned += bn->returned;
    }
    t.still_displaced = t.displaced - t.returned;
    return t;
}
