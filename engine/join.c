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
#include "df_products.h"

#include <errno.h>
#include <math.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int unit; /* -1: unmatched; at the join level, or at the row's own level when coarser */
    int32_t date;
    short op;            /* the operation, an index into the join's (or a thread's) operations */
    short level;         /* the row's own admin level (-1: a row of coordinates) */
    long rows;           /* valid records whose location is this unit */
    int64_t individuals; /* their individuals (any status) */
    int64_t displaced, families, returnees;
    int64_t returned; /* returns whose district of displacement is this unit */
    long returns_unplaced;
    int64_t ind_returns_unplaced;
    int64_t support[3]; /* families behind displaced, returned, returnees (publish mode) */
    int compared;       /* level_checks: a derived bin the coarser rows state */
} bin;

typedef df__hashtab bin_table; /* of bin, keyed by (unit, date, op, level); zeroed: empty */

#define MAX_OPERATIONS 256

struct df_join {
    int level, nunits;
    int rows_level; /* the finest level the rows state (-1: none) */
    df_operation_figure *ops;
    int nops;
    df_level_check *checks;
    int nchecks;
    int32_t *snaps; /* per operation: the snapshot date counted */
    df_figures *figures;
    int64_t (*support)[3];   /* per unit: families behind displaced, returned, returnees */
    unsigned char *withheld; /* per unit: figures withheld from published outputs */
    bin_table bins;          /* per (unit, date): kept for the totals as of an earlier date */
    df_table_kind kind;
    df_balance balance;
    df_name_decision *decisions; /* one per distinct stated name */
    int ndecisions;
    void *push; /* df_join_new: its sink, until df_join_finish */
};

static void push_free(df_join *j);

void df_join_opts_init(df_join_opts *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->level = 2;
    o->from = DF_NO_DATE;
    o->as_of = DF_NO_DATE;
}

/* ---- bins: open addressing on (unit, date) ---------------------------------- */

static uint64_t bin_hash(int unit, int32_t date, int op, int level)
{
    uint64_t k = ((uint64_t)(uint32_t)unit << 32) | (uint32_t)date;
    k ^= (uint64_t)(op * 8 + level + 1) * 0x9e3779b97f4a7c15ULL;
    k ^= k >> 33, k *= 0xff51afd7ed558ccdULL, k ^= k >> 33;
    return k;
}

typedef struct {
    int unit;
    int32_t date;
    int op, level;
} bin_key;

static int bin_is(const void *entry, const void *key)
{
    const bin *a = entry;
    const bin_key *k = key;
    return a->unit == k->unit && a->date == k->date && a->op == k->op && a->level == k->level;
}

/* The bin of (unit, date, op, level), added when new; NULL out of memory. */
static bin *bin_get(bin_table *t, int unit, int32_t date, int op, int level)
{
    if (!t->cap) t->size = sizeof(bin), t->first = 1024;
    const bin_key key = {unit, date, op, level};
    int added;
    bin *bn = df__hashtab_get(t, bin_hash(unit, date, op, level), bin_is, &key, &added);
    if (bn && added) bn->unit = unit, bn->date = date, bn->op = (short)op, bn->level = (short)level;
    return bn;
}

/* ---- matching ------------------------------------------------------------------ */

typedef df__match match;

/* ---- the run ------------------------------------------------------------------- */

/* A country prefix of P-codes ("SD", "IQ") and its rows. */
#define PREFIXES 8
typedef struct {
    char code[3];
    long rows;
} prefix_count;

static void prefix_add(prefix_count *p, const char *code, long rows)
{
    int k = 0;
    while (k < PREFIXES && p[k].rows && strcmp(p[k].code, code)) k++;
    if (k == PREFIXES) return; /* the first eight are enough to tell */
    if (!p[k].rows) snprintf(p[k].code, sizeof p[k].code, "%s", code);
    p[k].rows += rows;
}

/* One per reading thread; merged at the end. */
typedef struct {
    const df_boundaries *b;
    const df_join_opts *opts;
    double household_size; /* families of rows without a families column, for the support */
    bin_table bins;
    df_balance counts; /* matched_by_* and swapped */
    FILE *log;         /* the decision log: range 0 writes the file, the others a spool */
    const df_record_opts *ropts;
    df__name_cache *names;
    int32_t min_date, max_date;
    int failed;
    const df_read_stats *read; /* the kind, resolved before the first row */
    char *ops[MAX_OPERATIONS]; /* this thread's operations, by first appearance */
    int nops;
    df__repeats *repeats; /* rival snapshots, assessment types */
    long dropped;         /* rival snapshots dropped (--duplicates drop) */
    int64_t ind_dropped;
    /* rows stating a P-code of a level of the layer, those of which one is
     * in the layer, and their country prefixes (the first two letters) */
    long pcoded, pcode_found;
    prefix_count prefixes[PREFIXES];
    void *sink; /* the join_sink whose range this is */
} join_state;

#define JOIN_MAX_THREADS 16

/* The index of an operation in a thread's list ("" for none); -1 when full. */
static int op_index(join_state *js, const char *name)
{
    if (!name) name = "";
    for (int i = js->nops - 1; i >= 0; i--)
        if (!strcmp(js->ops[i], name)) return i;
    if (js->nops == MAX_OPERATIONS || !(js->ops[js->nops] = df__strdup(name))) return -1;
    return js->nops++;
}

/* Add the bins and counts of `from` into `to`. */
static int join_state_merge(join_state *to, const join_state *from)
{
    int remap[MAX_OPERATIONS];
    for (int i = 0; i < from->nops; i++)
        if ((remap[i] = op_index(to, from->ops[i])) < 0) return -1;
    for (size_t i = 0; i < from->bins.cap; i++) {
        const bin *s = df__hashtab_at(&from->bins, i);
        if (!s) continue;
        bin *d = bin_get(&to->bins, s->unit, s->date, remap[s->op], s->level);
        if (!d) return -1;
        d->rows += s->rows, d->individuals += s->individuals;
        d->displaced += s->displaced, d->families += s->families, d->returnees += s->returnees;
        d->returned += s->returned;
        d->returns_unplaced += s->returns_unplaced, d->ind_returns_unplaced += s->ind_returns_unplaced;
        for (int k = 0; k < 3; k++) d->support[k] += s->support[k];
    }
    if (df__repeats_merge(to->repeats, from->repeats, remap) != 0) return -1;
    to->dropped += from->dropped, to->ind_dropped += from->ind_dropped;
    to->pcoded += from->pcoded, to->pcode_found += from->pcode_found;
    for (int k = 0; k < PREFIXES && from->prefixes[k].rows; k++)
        prefix_add(to->prefixes, from->prefixes[k].code, from->prefixes[k].rows);
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

static void log_unit(FILE *f, const join_state *js, int level, int unit, int with_name)
{
    const df_unit *u = unit >= 0 && level >= 1 ? df_boundaries_unit(js->b, level, unit) : NULL;
    fputc(',', f);
    df__csv_put(f, u ? u->pcode : "");
    if (with_name) fputc(',', f), df__csv_put(f, u ? u->name : "");
}

/* v in decimal as printf's %lld writes it, then a comma; the end. */
static char *put_decimal(char *at, long long v)
{
    char digits[24];
    int n = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do digits[n++] = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0) *at++ = '-';
    while (n) *at++ = digits[--n];
    *at++ = ',';
    return at;
}

/* s (at most cap bytes of it), then a comma; the end. */
static char *put_text(char *at, const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    memcpy(at, s, n);
    at[n] = ',';
    return at + n + 1;
}

/* One decision-log row: how the location, the district of displacement
 * (returns) and the origin were matched, the flags, and why in words. */
static void log_row(join_state *js, const df_record *r, int at, const match *loc, const match *disp, const match *orig,
                    const char *flags, const char *note)
{
    char d[11], head[160], *h = head;
    FILE *f = js->log;
    int level = js->opts->level;
    df_date_format(r->date, d);
    /* "%ld,%s,%s,%lld,%s," put together by hand: fprintf was most of the
     * log's time, a row for every record of the read */
    h = put_decimal(h, r->line);
    h = put_text(h, d, 16);
    h = put_text(h, r->status == DF_RETURNED ? "returned" : "displaced", 16);
    h = put_decimal(h, (long long)r->individuals);
    h = put_text(h, at < level ? "other-level" : df__how_name(loc->how), 32);
    fwrite(head, 1, (size_t)(h - head), f);
    if (loc->score > 0 && loc->score < 1) fprintf(f, "%.2f", loc->score);
    log_unit(f, js, at, loc->unit, 1);
    fputc(',', f);
    fputs(disp ? df__how_name(disp->how) : "", f);
    log_unit(f, js, level, disp ? disp->unit : -1, 0);
    fputc(',', f);
    fputs(orig ? df__how_name(orig->how) : "", f);
    log_unit(f, js, level, orig ? orig->unit : -1, 0);
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

/* s appended to buf at n, cut as snprintf cuts (buf always ends in '\0'); the new length. */
static size_t put_str(char *buf, size_t cap, size_t n, const char *s)
{
    size_t k = strlen(s);
    if (n + k >= cap) k = n < cap - 1 ? cap - 1 - n : 0;
    memcpy(buf + n, s, k);
    buf[n + k] = '\0';
    return n + k;
}

static int on_record(void *user, const df_record *r)
{
    join_state *js = user;
    const df_boundaries *b = js->b;
    const df_join_opts *o = js->opts;
    match loc, disp, orig;
    int returned = r->status == DF_RETURNED, with_origin = has_place(&r->origin);
    int op = op_index(js, r->operation);
    if (op < 0) return js->failed = 1, 1;
    /* a row of a coarser level than the join's is matched at its own level:
     * it is a check of the finer rows, or unmatched when it is the finest */
    int at = r->level >= 0 && r->level < o->level ? r->level : o->level;
    if (at == 0)
        memset(&loc, 0, sizeof loc), loc.how = DF__HOW_NONE; /* the country: unit 0 */
    else
        df__match_place(b, js->names, at, o->prefer_points, o->log_path != NULL, &r->location, r->lon, r->lat, &loc);

    /* P-codes of the layer's levels: is one of them in the layer? */
    int finest_b = df_boundaries_finest_level(b), pcoded = 0, found = loc.how == DF__HOW_PCODE;
    for (int lv = 1; lv <= finest_b; lv++) {
        if (df__name_missing(r->location.pcode[lv])) continue;
        if (!pcoded++) {
            char norm[64];
            df__pcode_normalize(r->location.pcode[lv], norm, sizeof norm);
            if (norm[0] && norm[1]) norm[2] = '\0';
            prefix_add(js->prefixes, norm, 1);
        }
        if (!found) found = df_boundaries_find_pcode(b, lv, r->location.pcode[lv]) >= 0;
    }
    js->pcoded += pcoded > 0, js->pcode_found += pcoded > 0 && found;

    /* repeats: rival snapshots; two assessment types of one place and date */
    int rc = df__repeats_note(js->repeats, r, op, js->read->kind == DF_SNAPSHOTS);
    if (rc < 0) return js->failed = 1, 1;
    if (rc > 0 && js->ropts->duplicates == DF_DUPLICATES_DROP)
        return js->dropped++, js->ind_dropped += r->individuals, 0;

    if (returned)
        df__match_place(b, js->names, o->level, o->prefer_points, o->log_path != NULL, &r->displacement, NAN, NAN,
                        &disp);
    if (with_origin)
        df__match_place(b, js->names, o->level, o->prefer_points, o->log_path != NULL, &r->origin, NAN, NAN, &orig);
    if (r->date != DF_NO_DATE) {
        if (js->min_date == DF_NO_DATE || r->date < js->min_date) js->min_date = r->date;
        if (js->max_date == DF_NO_DATE || r->date > js->max_date) js->max_date = r->date;
    }
    bin *bn = bin_get(&js->bins, loc.unit, r->date, op, r->level);
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
        bin *db = bin_get(&js->bins, disp.unit, r->date, op, r->level);
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
    if (at == o->level) { /* the ways count the rows placed at the join level */
        bal->matched_by_pcode += loc.how == DF__HOW_PCODE;
        bal->matched_by_name += loc.how == DF__HOW_NAME;
        bal->matched_by_alias += loc.how == DF__HOW_ALT || loc.how == DF__HOW_ALIAS;
        bal->matched_by_fuzzy += loc.how == DF__HOW_SKELETON || loc.how == DF__HOW_FUZZY;
        bal->matched_by_point += loc.how == DF__HOW_POINT;
        bal->swapped += loc.swapped;
        bal->conflicts += loc.conflict;
    }

    if (js->log) {
        char flags[128] = "";
        if (r->has_coordinate_columns && isnan(r->lon)) strcat(flags, "no-coordinates ");
        if (loc.swapped) strcat(flags, "swapped-lat-lon ");
        if (loc.conflict) strcat(flags, "conflict ");
        if (r->individuals_derived) strcat(flags, "individuals-from-families ");
        char note[1100], lvl[80] = "";
        if (at < o->level) snprintf(lvl, sizeof lvl, "a row of admin level %d (a check of the finer rows)", at);
        /* put together by hand: a row for every record, and snprintf of six
         * strings took glibc's slow path (2.5% of a 1M-row run's CPU) */
        size_t n = 0;
        n = put_str(note, sizeof note, n, lvl[0] ? lvl : loc.note);
        if (returned && disp.note[0]) n = put_str(note, sizeof note, n, "; displacement: ");
        if (returned) n = put_str(note, sizeof note, n, disp.note);
        if (with_origin && orig.note[0]) n = put_str(note, sizeof note, n, "; origin: ");
        if (with_origin) put_str(note, sizeof note, n, orig.note);
        size_t fl = strlen(flags);
        if (fl) flags[fl - 1] = '\0';
        log_row(js, r, at, &loc, returned ? &disp : NULL, with_origin ? &orig : NULL, flags,
                note[0] == ';' ? note + 2 : note);
    }
    return 0;
}

/* A rejected row in the decision log (the first ones are told to the log
 * callback by the read itself, once for all its sinks). */
static void on_reject(void *user, const df_rejection *rj)
{
    join_state *js = user;
    char note[300];
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

/* Rows of a coarser level than the table's finest are a check, not counted;
 * rows of coordinates (level -1) count at any level. */
static int counted_level(const bin *bn, int finest) { return bn->level < 0 || bn->level >= finest; }

/* The level of a bin's unit: the row's own when coarser than the join's. */
static int unit_level(const bin *bn, int join_level)
{
    return bn->level >= 0 && bn->level < join_level ? bn->level : join_level;
}

/* Per operation, the latest snapshot date on or before as_of among the
 * counted rows (DF_NO_DATE: none). */
static void latest_snapshots(const bin_table *t, int finest, int32_t as_of, int32_t *snap, int nops)
{
    for (int i = 0; i < nops; i++) snap[i] = DF_NO_DATE;
    for (size_t i = 0; i < t->cap; i++) {
        const bin *bn = df__hashtab_at(t, i);
        if (bn && counted_level(bn, finest) && bn->date != DF_NO_DATE && bn->date <= as_of &&
            (snap[bn->op] == DF_NO_DATE || bn->date > snap[bn->op]))
            snap[bn->op] = bn->date;
    }
}

/* Does a date of an operation count? Undated rows count in every period;
 * snapshots count on the snapshot date of their operation alone. */
static int date_counts(int32_t date, int op, df_table_kind kind, int32_t from, int32_t as_of, const int32_t *snap)
{
    if (date == DF_NO_DATE) return 1;
    return kind == DF_SNAPSHOTS ? date == snap[op] : date >= from && date <= as_of;
}

static int cmp_check(const void *a, const void *b)
{
    const df_level_check *p = a, *q = b;
    if (p->level != q->level) return p->level - q->level;
    int c = strcmp(p->operation, q->operation);
    return c ? c : (p->date > q->date) - (p->date < q->date);
}

static df_level_check *check_get(df_join *j, int *cap, int level, int op, int32_t date)
{
    for (int i = j->nchecks - 1; i >= 0; i--) {
        df_level_check *c = &j->checks[i];
        if (c->level == level && c->date == date && c->operation == j->ops[op].name) return c;
    }
    if (j->nchecks == *cap) {
        int n = *cap ? 2 * *cap : 64;
        df_level_check *nc = df__realloc_array(j->checks, (size_t)n, sizeof *nc);
        if (!nc) return NULL;
        j->checks = nc, *cap = n;
    }
    df_level_check *c = &j->checks[j->nchecks++];
    memset(c, 0, sizeof *c);
    c->level = level, c->operation = j->ops[op].name, c->date = date;
    return c;
}

static void check_unit(df_level_check *c, int64_t stated, int64_t derived)
{
    int64_t d = stated > derived ? stated - derived : derived - stated;
    c->stated += stated, c->derived += derived;
    c->units++;
    c->differing += d != 0;
    if (d > c->largest) c->largest = d;
}

/* Rows of coarser levels against the finest rows added up to them: per
 * (level, operation, date), whether they agree and by how much. */
static int level_checks(df_join *j, const df_boundaries *b, const int32_t *snap, df_ctx *ctx, const char *path)
{
    int finest = j->rows_level, cap = 0;
    unsigned coarser = 0;
    for (size_t i = 0; i < j->bins.cap; i++) {
        const bin *bn = df__hashtab_at(&j->bins, i);
        if (bn && bn->level >= 0 && bn->level < finest) coarser |= 1u << bn->level;
    }
    if (!coarser) return 0;
    bin_table derived = {0};
    int fine_level = finest < j->level ? finest : j->level; /* where the finest rows' units are */
    for (size_t i = 0; i < j->bins.cap; i++) {
        const bin *bn = df__hashtab_at(&j->bins, i);
        if (!bn || bn->level != finest || bn->unit < 0) continue;
        for (int l = 0; l <= fine_level; l++) {
            if (!(coarser & (1u << l))) continue;
            int anc = l == 0 ? 0 : l == fine_level ? bn->unit : df__boundaries_ancestor(b, fine_level, bn->unit, l);
            bin *d = bin_get(&derived, anc, bn->date, bn->op, l);
            if (!d) return df__hashtab_free(&derived), -1;
            d->individuals += bn->individuals;
        }
    }
    for (size_t i = 0; i < j->bins.cap; i++) {
        const bin *bn = df__hashtab_at(&j->bins, i);
        if (!bn || bn->level < 0 || bn->level >= finest || bn->level > fine_level) continue;
        df_level_check *c = check_get(j, &cap, bn->level, bn->op, bn->date);
        if (!c) return df__hashtab_free(&derived), -1;
        c->rows += bn->rows;
        c->in_period = date_counts(bn->date, bn->op, j->kind, j->balance.from, j->balance.as_of, snap);
        bin *d = bn->unit >= 0 ? bin_get(&derived, bn->unit, bn->date, bn->op, bn->level) : NULL;
        if (bn->unit >= 0 && !d) return df__hashtab_free(&derived), -1;
        check_unit(c, bn->individuals, d ? d->individuals : 0);
        if (d) d->compared = 1;
    }
    for (size_t i = 0; i < derived.cap; i++) { /* units the coarser rows leave out */
        const bin *d = df__hashtab_at(&derived, i);
        if (!d || d->compared) continue;
        df_level_check *c = check_get(j, &cap, d->level, d->op, d->date);
        if (!c) return df__hashtab_free(&derived), -1;
        c->in_period = date_counts(d->date, d->op, j->kind, j->balance.from, j->balance.as_of, snap);
        check_unit(c, 0, d->individuals);
    }
    df__hashtab_free(&derived);
    qsort(j->checks, (size_t)j->nchecks, sizeof *j->checks, cmp_check);

    /* said once per level, and every disagreement counted */
    for (int l = 0; l < finest; l++) {
        if (!(coarser & (1u << l))) continue;
        long agree = 0, all = 0, rows = 0;
        for (int i = 0; i < j->nchecks; i++) {
            const df_level_check *c = &j->checks[i];
            if (c->level != l) continue;
            all++, rows += c->rows, agree += c->differing == 0;
            if (c->differing && c->in_period) {
                char d[11], a[32], bb[32];
                df_date_format(c->date, d);
                df__log(ctx, DF_LOG_WARN,
                        "%s: %s%s%s %s: the admin-%d rows (%s) differ from the admin-%d rows added up (%s) in %d of "
                        "%d units, by up to %lld",
                        path, c->operation[0] ? "\"" : "", c->operation, c->operation[0] ? "\"" : "", d, l,
                        df__thousands(c->stated, a), finest, df__thousands(c->derived, bb), c->differing, c->units,
                        (long long)c->largest);
            }
        }
        df__log(
            ctx, agree == all ? DF_LOG_INFO : DF_LOG_WARN,
            "%s: %ld rows of admin level %d are a check of the admin-%d rows, not counted: they agree on %ld of %ld "
            "(operation, date)",
            path, rows, l, finest, agree, all);
    }
    for (int l = fine_level + 1; l < finest; l++)
        if (coarser & (1u << l))
            df__log(ctx, DF_LOG_INFO, "%s: the rows of admin level %d are not checked (a join at admin %d)", path, l,
                    j->level);
    return 0;
}

/* Records of another country: they carry P-codes of the layer's levels,
 * (nearly) none of them is in the layer, and their country prefixes are
 * not the layer's. Their names would still meet some of the layer's by
 * fuzzy matching (Sudan's table on Iraq's sub-districts: 529 rows), which
 * is never a figure. */
static df_status judge_country(df_ctx *ctx, const df_boundaries *b, const join_state *js, const char *path)
{
    if (js->pcoded == 0 || js->pcode_found * 100 > js->pcoded) return DF_OK; /* over 1% found: the same country */
    prefix_count layer[PREFIXES];
    memset(layer, 0, sizeof layer);
    int finest = df_boundaries_finest_level(b);
    for (int i = 0; i < df_boundaries_count(b, finest); i++) {
        const df_unit *u = df__boundaries_unit(b, finest, i);
        char norm[64];
        if (!u || df__name_missing(u->pcode)) continue;
        df__pcode_normalize(u->pcode, norm, sizeof norm);
        if (norm[0] && norm[1]) norm[2] = '\0';
        prefix_add(layer, norm, 1);
    }
    char theirs[200] = "", ours[200] = "";
    size_t n = 0;
    for (int k = 0; k < PREFIXES && js->prefixes[k].rows; k++) {
        for (int l = 0; l < PREFIXES && layer[l].rows; l++)
            if (!strcmp(layer[l].code, js->prefixes[k].code)) return DF_OK; /* the layer's country: not a guess */
        n += (size_t)snprintf(theirs + n, n < sizeof theirs ? sizeof theirs - n : 0, "%s%s (%ld rows)", k ? ", " : "",
                              js->prefixes[k].code, js->prefixes[k].rows);
        if (n >= sizeof theirs) n = sizeof theirs;
    }
    n = 0;
    for (int l = 0; l < PREFIXES && layer[l].rows; l++) {
        n += (size_t)snprintf(ours + n, n < sizeof ours ? sizeof ours - n : 0, "%s%s (%ld units)", l ? ", " : "",
                              layer[l].code, layer[l].rows);
        if (n >= sizeof ours) n = sizeof ours;
    }
    if (!layer[0].rows) return DF_OK; /* a layer without P-codes: nothing to compare */
    return df__error(ctx, DF_EINVAL,
                     "%s: the records look like another country's: %ld of their %ld rows with P-codes have one in "
                     "the boundaries; the records' P-codes begin %s, the layer's %s. Refused before any figure: "
                     "their names would meet the layer's only by chance. Give the boundaries of the records' country",
                     path, js->pcode_found, js->pcoded, theirs, ours);
}

/* Does a repeat's date count? The join's dates (see date_counts). */
typedef struct {
    const df_join *j;
    const int32_t *snap;
} counted_dates;

static int repeat_counts(int32_t date, int op, void *user)
{
    const counted_dates *c = user;
    return date_counts(date, op, c->j->kind, c->j->balance.from, c->j->balance.as_of, c->snap);
}

/* Say which date of which operation the figures come from; and, for a
 * table of no stated kind read as increments whose units repeat on several
 * dates, both readings' totals. */
static void say_kind(df_ctx *ctx, const df_join *j, const join_state *js, const df_record_opts *ro, const int32_t *snap)
{
    const df_balance *bal = &j->balance;
    if (j->kind == DF_SNAPSHOTS) {
        for (int i = 0; i < j->nops; i++) {
            char d[11], n[32];
            df_date_format(j->ops[i].snapshot, d);
            df__log(ctx, DF_LOG_INFO, "%s: %s%s%ssnapshot of %s: %lld individuals in %ld rows", ro->path,
                    j->ops[i].name[0] ? "\"" : "", j->ops[i].name, j->ops[i].name[0] ? "\" " : "",
                    d[0] ? d : "(none on or before as-of)", (long long)j->ops[i].individuals, j->ops[i].rows);
            (void)n;
        }
        return;
    }
    if (ro->kind != DF_KIND_AUTO) return;
    /* does some unit have rows on two dates? */
    int32_t *first = malloc(((size_t)j->nunits + 1) * sizeof *first);
    if (!first) return;
    for (int u = 0; u < j->nunits; u++) first[u] = DF_NO_DATE;
    int repeated = -1;
    int64_t as_snapshots = 0;
    for (size_t i = 0; i < js->bins.cap; i++) {
        const bin *bn = df__hashtab_at(&js->bins, i);
        if (!bn || bn->unit < 0 || bn->date == DF_NO_DATE || !counted_level(bn, j->rows_level) ||
            unit_level(bn, j->level) != j->level)
            continue;
        if (first[bn->unit] == DF_NO_DATE)
            first[bn->unit] = bn->date;
        else if (first[bn->unit] != bn->date && repeated < 0)
            repeated = bn->unit;
        if (bn->date == snap[bn->op]) as_snapshots += bn->displaced;
    }
    free(first);
    if (repeated < 0) return;
    int64_t as_increments = 0;
    for (int u = 0; u < j->nunits; u++) as_increments += j->figures[u].displaced;
    char a[32], b[32], d[11];
    df_date_format(bal->as_of, d);
    df__log(ctx, DF_LOG_WARN,
            "%s: no kind given, and units have rows on several dates (%s, for one): read as increments (rows "
            "added up), %s displaced; read as snapshots (the latest date on or before %s), it would be %s. Say "
            "--increments or --snapshots (job: [records] kind)",
            ro->path, df_boundaries_unit(js->b, j->level, repeated)->name, df__thousands(as_increments, a), d,
            df__thousands(as_snapshots, b));
}

/* The period (defaults from the data; snapshots: per operation, its latest
 * snapshot on or before as_of, the operations then added) and the bins of
 * the finest level the rows state added up into the units' figures and the
 * balance. */
static void add_up_bins(df_join *j, const join_state *js, const df_join_opts *jopts)
{
    int finest = j->rows_level;
    df_balance *bal = &j->balance;
    j->kind = bal->read.kind;
    bal->from = jopts->from != DF_NO_DATE ? jopts->from : js->min_date;
    bal->as_of = jopts->as_of != DF_NO_DATE ? jopts->as_of : js->max_date;
    bal->snapshot = DF_NO_DATE;
    int32_t *snap = j->snaps;
    latest_snapshots(&js->bins, finest, bal->as_of, snap, j->nops);
    if (j->kind == DF_SNAPSHOTS) {
        bal->from = DF_NO_DATE;
        for (int i = 0; i < j->nops; i++) {
            j->ops[i].snapshot = snap[i];
            if (snap[i] == DF_NO_DATE) continue;
            if (bal->snapshot == DF_NO_DATE || snap[i] > bal->snapshot) bal->snapshot = snap[i];
            if (bal->from == DF_NO_DATE || snap[i] < bal->from) bal->from = snap[i];
        }
    }
    for (int u = 0; u < j->nunits; u++) j->figures[u].snapshot = DF_NO_DATE;
    for (size_t i = 0; i < js->bins.cap; i++) {
        const bin *bn = df__hashtab_at(&js->bins, i);
        if (!bn) continue;
        if (!counted_level(bn, finest)) {
            bal->other_level += bn->rows;
            bal->ind_other_level += bn->individuals;
            continue;
        }
        if (!date_counts(bn->date, bn->op, j->kind, bal->from, bal->as_of, snap)) {
            bal->out_of_period += bn->rows;
            bal->ind_out_of_period += bn->individuals;
            continue;
        }
        bal->returns_unplaced += bn->returns_unplaced;
        bal->ind_returns_unplaced += bn->ind_returns_unplaced;
        j->ops[bn->op].rows += bn->rows;
        j->ops[bn->op].individuals += bn->individuals;
        if (bn->unit < 0 || unit_level(bn, jopts->level) != jopts->level) {
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
        f->assessed |= bn->rows > 0;
        if (j->kind == DF_SNAPSHOTS && bn->date != DF_NO_DATE && (f->snapshot == DF_NO_DATE || bn->date > f->snapshot))
            f->snapshot = bn->date;
        for (int k = 0; k < 3; k++) j->support[bn->unit][k] += bn->support[k];
    }
    for (int u = 0; u < j->nunits; u++)
        j->figures[u].still_displaced = j->figures[u].displaced - j->figures[u].returned;
}

/* ---- MPI: the partial state of a process, packed and merged ----------------- */

/* The name decisions of a thread's cache, packed (level -1 ends them). */
static void pack_name(int level, const char *name, const char *parent_name, const df__name_match *m, long rows,
                      void *user)
{
    df__pack *b = user;
    int32_t lv = level;
    df__pack_put(b, &lv, sizeof lv);
    df__pack_str(b, name), df__pack_str(b, parent_name);
    df__pack_put(b, m, sizeof *m);
    df__pack_put(b, &rows, sizeof rows);
}

/* A process's partial join: its operations (a string table), counts, bins
 * (fixed-size records) and repeats; its name decisions follow (pack_name). */
static void join_pack(df__pack *b, const join_state *js)
{
    int32_t nops = js->nops;
    df__pack_put(b, &nops, sizeof nops);
    for (int i = 0; i < js->nops; i++) df__pack_str(b, js->ops[i]);
    df__pack_put(b, &js->min_date, sizeof js->min_date), df__pack_put(b, &js->max_date, sizeof js->max_date);
    df__pack_put(b, &js->counts, sizeof js->counts);
    df__pack_put(b, &js->dropped, sizeof js->dropped), df__pack_put(b, &js->ind_dropped, sizeof js->ind_dropped);
    df__pack_put(b, &js->pcoded, sizeof js->pcoded), df__pack_put(b, &js->pcode_found, sizeof js->pcode_found);
    df__pack_put(b, js->prefixes, sizeof js->prefixes);
    int32_t failed = js->failed;
    df__pack_put(b, &failed, sizeof failed);
    uint64_t nbins = js->bins.count;
    df__pack_put(b, &nbins, sizeof nbins);
    for (size_t i = 0; i < js->bins.cap; i++) {
        const bin *bn = df__hashtab_at(&js->bins, i);
        if (bn) df__pack_put(b, bn, sizeof *bn);
    }
    df__repeats_pack(b, js->repeats);
}

/* Read a packed partial into t (empty, with its repeats table); its name
 * decisions go to the join's list through gather_one. */
static int join_unpack(df__pack *b, join_state *t, void *g)
{
    int32_t nops;
    df__pack_get(b, &nops, sizeof nops);
    if (b->failed || nops < 0 || nops > MAX_OPERATIONS) return -1;
    for (int i = 0; i < nops; i++)
        if (!(t->ops[t->nops++] = df__strdup(df__pack_get_str(b)))) return -1;
    df__pack_get(b, &t->min_date, sizeof t->min_date), df__pack_get(b, &t->max_date, sizeof t->max_date);
    df__pack_get(b, &t->counts, sizeof t->counts);
    df__pack_get(b, &t->dropped, sizeof t->dropped), df__pack_get(b, &t->ind_dropped, sizeof t->ind_dropped);
    df__pack_get(b, &t->pcoded, sizeof t->pcoded), df__pack_get(b, &t->pcode_found, sizeof t->pcode_found);
    df__pack_get(b, t->prefixes, sizeof t->prefixes);
    int32_t failed;
    df__pack_get(b, &failed, sizeof failed);
    t->failed = failed;
    uint64_t nbins;
    df__pack_get(b, &nbins, sizeof nbins);
    for (uint64_t i = 0; i < nbins && !b->failed; i++) {
        bin s;
        df__pack_get(b, &s, sizeof s);
        bin *d = bin_get(&t->bins, s.unit, s.date, s.op, s.level);
        if (!d) return -1;
        *d = s;
    }
    if (df__repeats_unpack(b, t->repeats) != 0) return -1;
    for (;;) {
        int32_t level;
        df__pack_get(b, &level, sizeof level);
        if (b->failed || level < 0) break;
        const char *name = df__pack_get_str(b), *parent = df__pack_get_str(b);
        df__name_match m;
        long rows;
        df__pack_get(b, &m, sizeof m), df__pack_get(b, &rows, sizeof rows);
        if (!b->failed) gather_one(level, name, parent, &m, rows, g);
    }
    return b->failed ? -1 : 0;
}

/* ---- the join as a sink of the fan-out read ---------------------------------- */

typedef struct {
    df__sink base;
    df_ctx *ctx;
    df_join *j; /* the result, the caller's once finished */
    const df_boundaries *b;
    df_record_opts ropts;
    df_join_opts jopts;
    join_state total;   /* the ranges' states, added up in range order */
    join_state *pushed; /* df_join_new: the state records are pushed into */
    df_read_stats own_read;
    FILE *log;      /* the decision log, written beside its path until finished */
    long log_start; /* its header's length */
    char tmp[4096];
    gather g;
    df__pack names; /* MPI: the ranges' name decisions, packed for the other processes */
} join_sink;

static void state_free(join_state *js)
{
    if (!js) return;
    df__hashtab_free(&js->bins);
    df__name_cache_free(js->names);
    for (int i = 0; i < js->nops; i++) free(js->ops[i]);
    df__repeats_free(js->repeats);
}

static int state_init(join_sink *s, join_state *js)
{
    memset(js, 0, sizeof *js);
    js->b = s->b, js->opts = &s->jopts, js->ropts = &s->ropts;
    js->household_size = s->ropts.household_size > 0 ? s->ropts.household_size : 6;
    js->min_date = js->max_date = DF_NO_DATE;
    js->read = s->base.read; /* the kind, resolved before the first row */
    return (js->names = df__name_cache_new()) && (js->repeats = df__repeats_new(s->base.ranges)) ? 0 : -1;
}

static void sink_state_free(void *state)
{
    join_state *js = state;
    if (!js) return;
    if (js->log && js->log != ((join_sink *)js->sink)->log) fclose(js->log);
    state_free(js);
    free(js);
}

/* A range's state; the first range writes the log itself, the others a
 * spool that merge appends: the log keeps the input order on any number of
 * threads. */
/* A decision log's FILE is written by one thread at a time (a range's by
 * its reading thread, then merged by the caller's): no lock per call, a
 * row being some ten calls. */
static FILE *unlocked(FILE *f)
{
    if (f) __fsetlocking(f, FSETLOCKING_BYCALLER);
    return f;
}

static void *sink_state_new(void *sink, int range)
{
    join_sink *s = sink;
    join_state *js = malloc(sizeof *js);
    if (!js) return NULL;
    if (state_init(s, js) != 0) return state_free(js), free(js), NULL;
    js->sink = s;
    if (s->log && !(js->log = range == 0 ? s->log : unlocked(tmpfile()))) return sink_state_free(js), NULL;
    return js;
}

static df_status sink_merge(void *sink, void *state)
{
    join_sink *s = sink;
    join_state *js = state;
    const char *path = s->ropts.path;
    if (js->failed || df__name_cache_failed(js->names) || join_state_merge(&s->total, js) != 0 || s->total.failed)
        return df__error(s->ctx, DF_ENOMEM, "out of memory aggregating %s", path);
    df__name_cache_each(js->names, gather_one, &s->g);
    if (df__parts.split) df__name_cache_each(js->names, pack_name, &s->names);
    if (s->g.failed) return df__error(s->ctx, DF_ENOMEM, "out of memory");
    if (js->log && js->log != s->log) { /* a later range's spool, appended */
        char buf[1 << 15];
        size_t got;
        rewind(js->log);
        while ((got = fread(buf, 1, sizeof buf, js->log)) > 0)
            if (fwrite(buf, 1, got, s->log) != got) break;
        if (ferror(js->log) || ferror(s->log))
            return df__error(s->ctx, DF_EIO, "cannot write the decision log %s: %s", s->jopts.log_path,
                             strerror(errno));
    }
    return DF_OK;
}

/* MPI: every process's partial join merged in process order (the
 * operations then come in file order, as one process finds them), its name
 * decisions gathered again in that order, and the later processes' decision
 * logs gathered to process 0 alone (which writes the log) and appended to
 * its own (the shares follow each other in the file). */
static df_status sink_parts_merge(df_ctx *ctx, void *sink)
{
    join_sink *s = sink;
    join_state *js = &s->total, acc, t;
    df_join *j = s->j;
    const char *path = s->ropts.path;
    df__pack mine = {0}, logs = {0}, *from = calloc((size_t)df__parts.count, sizeof *from),
             *log_from = calloc((size_t)df__parts.count, sizeof *log_from);
    unsigned char *all = NULL, *log_all = NULL;
    df_status st = from && log_from ? DF_OK : df__error(ctx, DF_ENOMEM, "out of memory");
    memset(&acc, 0, sizeof acc);
    acc.min_date = acc.max_date = DF_NO_DATE;
    join_pack(&mine, js);
    int32_t end = -1;
    if (s->names.failed) mine.failed = 1;
    df__pack_put(&mine, s->names.data, s->names.len), df__pack_put(&mine, &end, sizeof end);
    df__pack_free(&s->names);
    uint64_t nlog = 0; /* this process's rows of the decision log */
    if (s->log && df__parts.index > 0) {
        long at = fflush(s->log) == 0 ? ftell(s->log) : -1;
        if (at < s->log_start || fseek(s->log, s->log_start, SEEK_SET) != 0)
            st = df__error(ctx, DF_EIO, "cannot read back the decision log %s: %s", s->jopts.log_path, strerror(errno));
        nlog = st == DF_OK ? (uint64_t)(at - s->log_start) : 0;
    }
    for (uint64_t got = 0; st == DF_OK && got < nlog;) {
        char buf[1 << 15];
        size_t n = fread(buf, 1, nlog - got < sizeof buf ? (size_t)(nlog - got) : sizeof buf, s->log);
        if (n == 0) st = df__error(ctx, DF_EIO, "cannot read back the decision log %s", s->jopts.log_path);
        df__pack_put(&logs, buf, n), got += n;
    }
    if (st == DF_OK) st = df__parts_exchange(ctx, &mine, &all, from);
    if (st == DF_OK && s->log) st = df__parts_gather(ctx, &logs, &log_all, log_from); /* every process has a log */
    if (st == DF_OK && !(acc.repeats = df__repeats_new(1))) st = df__error(ctx, DF_ENOMEM, "out of memory");
    if (st == DF_OK) { /* the decisions gathered again, in process order */
        for (int i = 0; i < j->ndecisions; i++)
            free((char *)j->decisions[i].name), free((char *)j->decisions[i].candidates);
        j->ndecisions = 0;
    }
    for (int r = 0; st == DF_OK && r < df__parts.count; r++) {
        memset(&t, 0, sizeof t);
        int bad = !(t.repeats = df__repeats_new(1)) || join_unpack(&from[r], &t, &s->g) != 0 || s->g.failed;
        if (!bad) {
            df__name_cache *none = acc.names; /* the merge reads its failure flag */
            df__name_cache *c = df__name_cache_new();
            acc.names = t.names = c;
            bad = !c || join_state_merge(&acc, &t) != 0;
            df__name_cache_free(c);
            acc.names = none;
        }
        df__hashtab_free(&t.bins);
        for (int i = 0; i < t.nops; i++) free(t.ops[i]);
        df__repeats_free(t.repeats);
        size_t n = s->log ? log_from[r].len : 0;
        if (bad || from[r].failed)
            st = df__error(ctx, DF_ENOMEM, "out of memory merging the partial join of process %d of %s", r, path);
        else if (s->log && df__parts.index == 0 && r > 0 && fwrite(log_from[r].data, 1, n, s->log) != n)
            st = df__error(ctx, DF_EIO, "cannot write the decision log %s: %s", s->jopts.log_path, strerror(errno));
    }
    df__pack_free(&mine), df__pack_free(&logs);
    free(all), free(log_all);
    free(from), free(log_from);
    if (st == DF_OK) { /* the merged state in place of this process's own */
        df__hashtab_free(&js->bins);
        for (int i = 0; i < js->nops; i++) free(js->ops[i]);
        df__repeats_free(js->repeats);
        js->bins = acc.bins, js->repeats = acc.repeats, js->nops = acc.nops;
        memcpy(js->ops, acc.ops, sizeof acc.ops);
        js->min_date = acc.min_date, js->max_date = acc.max_date, js->counts = acc.counts;
        js->dropped = acc.dropped, js->ind_dropped = acc.ind_dropped;
        js->pcoded = acc.pcoded, js->pcode_found = acc.pcode_found;
        memcpy(js->prefixes, acc.prefixes, sizeof acc.prefixes);
        js->failed |= acc.failed;
    } else {
        df__hashtab_free(&acc.bins);
        for (int i = 0; i < acc.nops; i++) free(acc.ops[i]);
        df__repeats_free(acc.repeats);
    }
    return st;
}

static df_status sink_finish(df_ctx *ctx, void *sink)
{
    join_sink *s = sink;
    df_join *j = s->j;
    join_state *js = &s->total;
    const df_boundaries *b = s->b;
    const df_record_opts *ropts = &s->ropts;
    const df_join_opts *jopts = &s->jopts;
    df_status st;
    if (s->base.read != &j->balance.read) j->balance.read = *s->base.read; /* a read shared with other sinks */
    j->balance.matched_by_pcode = js->counts.matched_by_pcode;
    j->balance.matched_by_name = js->counts.matched_by_name;
    j->balance.matched_by_point = js->counts.matched_by_point;
    j->balance.matched_by_alias = js->counts.matched_by_alias;
    j->balance.matched_by_fuzzy = js->counts.matched_by_fuzzy;
    decisions_sort(j);
    j->balance.swapped = js->counts.swapped;
    j->balance.conflicts = js->counts.conflicts;

    if ((st = judge_country(ctx, b, js, ropts->path)) != DF_OK) return st;

    /* The operations, and the finest level the rows state */
    if (!(j->ops = calloc((size_t)js->nops + 1, sizeof *j->ops)) ||
        !(j->snaps = calloc((size_t)js->nops + 1, sizeof *j->snaps)))
        return df__error(ctx, DF_ENOMEM, "out of memory");
    j->nops = js->nops;
    for (int i = 0; i < js->nops; i++) j->ops[i].name = js->ops[i], js->ops[i] = NULL;
    j->rows_level = -1;
    for (size_t i = 0; i < js->bins.cap; i++) {
        const bin *bn = df__hashtab_at(&js->bins, i);
        if (bn && bn->level > j->rows_level) j->rows_level = bn->level;
    }

    add_up_bins(j, js, jopts);
    df_balance *bal = &j->balance;
    int32_t *snap = j->snaps;
    /* rival snapshots dropped on purpose: filtered, like the exact duplicates */
    bal->filtered = bal->read.filtered + bal->read.dropped + js->dropped;
    bal->read.valid -= js->dropped;
    bal->read.individuals_valid -= js->ind_dropped;
    const char **opnames = malloc(((size_t)j->nops + 1) * sizeof *opnames);
    if (!opnames) return df__error(ctx, DF_ENOMEM, "out of memory");
    for (int i = 0; i < j->nops; i++) opnames[i] = j->ops[i].name;
    counted_dates cd = {j, snap};
    st = df__repeats_judge(ctx, js->repeats, ropts, opnames, repeat_counts, &cd);
    free(opnames);
    if (st != DF_OK) return st;
    say_kind(ctx, j, js, ropts, snap);
    j->bins = js->bins, js->bins = (bin_table){0}; /* the join's now */
    if (level_checks(j, b, snap, ctx, ropts->path) != 0) return df__error(ctx, DF_ENOMEM, "out of memory");

    if (s->log) {
        FILE *f = s->log;
        s->log = NULL;
        if ((st = df__commit_file(ctx, f, s->tmp, jopts->log_path)) != DF_OK) return st;
    }
    if (jopts->strict && bal->unmatched > 0)
        return df__error(ctx, DF_EUNMATCHED,
                         "%s: %ld records could not be matched to an admin-%d unit (see the decision log)", ropts->path,
                         bal->unmatched, jopts->level);
    return DF_OK;
}

void df__join_sink_free(df__sink *sink)
{
    join_sink *s = (join_sink *)sink;
    if (!s) return;
    if (s->pushed) sink_state_free(s->pushed);
    if (s->log) {
        fclose(s->log);
        remove(s->tmp);
    }
    state_free(&s->total);
    df__pack_free(&s->names);
    df_join_free(s->j);
    free(s);
}

df_join *df__join_sink_take(df__sink *sink)
{
    join_sink *s = (join_sink *)sink;
    df_join *j = s->j;
    s->j = NULL;
    return j;
}

df_status df__join_sink_new(df_ctx *ctx, const df_boundaries *b, const df_record_opts *ropts, const df_join_opts *jopts,
                            df__sink **out)
{
    df_status st;
    *out = NULL;
    if (jopts->level < 1 || jopts->level > df_boundaries_finest_level(b)) /* coarser levels derive, finer cannot */
        return df__error(ctx, DF_EINVAL, "no admin-%d join: the boundaries are an admin-%d layer (levels 1..%d)",
                         jopts->level, df_boundaries_finest_level(b), df_boundaries_finest_level(b));
    join_sink *s = calloc(1, sizeof *s);
    if (!s) return df__error(ctx, DF_ENOMEM, "out of memory");
    s->base = (df__sink){"join",          sink_state_new,          on_record, on_reject, sink_merge,       sink_finish,
                         sink_state_free, jopts->log_path != NULL, 1,         NULL,      sink_parts_merge, 0};
    s->ctx = ctx, s->b = b, s->ropts = *ropts, s->jopts = *jopts;
    df_join *j = s->j = calloc(1, sizeof *j);
    if (!j || state_init(s, &s->total) != 0) {
        df__join_sink_free(&s->base);
        return df__error(ctx, DF_ENOMEM, "out of memory");
    }
    s->g = (gather){j, b, 0, 0};
    if ((st = df_boundaries_prepare(ctx, b, jopts->level)) != DF_OK) goto fail;
    j->level = jopts->level;
    j->nunits = df_boundaries_count(b, jopts->level);
    j->figures = calloc((size_t)j->nunits, sizeof *j->figures);
    j->support = calloc((size_t)j->nunits + 1, sizeof *j->support);
    j->withheld = calloc((size_t)j->nunits + 1, 1);
    if (!j->figures || !j->support || !j->withheld) {
        st = df__error(ctx, DF_ENOMEM, "out of memory");
        goto fail;
    }
    if (jopts->log_path) {
        if ((st = df__temp_path(ctx, jopts->log_path, s->tmp, sizeof s->tmp)) != DF_OK) goto fail;
        if (!(s->log = unlocked(fopen(s->tmp, "w+")))) { /* w+: read back under MPI */
            st = df__error(ctx, DF_EIO, "cannot write the decision log %s: %s", jopts->log_path, strerror(errno));
            goto fail;
        }
        fputs("line,date,status,individuals,match,score,adm_pcode,adm_name,displacement_match,displacement_pcode,"
              "origin_match,origin_pcode,flags,note\n",
              s->log);
        s->log_start = ftell(s->log);
    }
    *out = &s->base;
    return DF_OK;
fail:
    df__join_sink_free(&s->base);
    return st;
}

/* The threads of a read: the option, or every core (at most 16). */
static int read_threads(int asked)
{
    long cores = asked > 0 ? asked : sysconf(_SC_NPROCESSORS_ONLN);
    return cores < 1 ? 1 : cores > JOIN_MAX_THREADS ? JOIN_MAX_THREADS : (int)cores;
}

df_status df_join_run(df_ctx *ctx, const df_boundaries *b, const df_record_opts *ropts, const df_join_opts *jopts,
                      df_join **out)
{
    DF__GDAL_SCOPE(ctx);
    df_record_opts ropts_local_;
    DF__OPTS_ACCEPT(ctx, df_record_opts, ropts, ropts_local_);
    df_join_opts jopts_local_;
    DF__OPTS_ACCEPT(ctx, df_join_opts, jopts, jopts_local_);
    df__sink *sink = NULL;
    *out = NULL;
    df_status st = df__join_sink_new(ctx, b, ropts, jopts, &sink);
    if (st != DF_OK) return st;
    join_sink *s = (join_sink *)sink;
    st = df__records_fanout(ctx, ropts, &sink, 1, read_threads(jopts->threads), &s->j->balance.read, NULL);
    if (st == DF_OK) st = sink->finish(ctx, sink);
    if (st == DF_OK) *out = df__join_sink_take(sink);
    df__join_sink_free(sink);
    return st;
}

void df_join_free(df_join *j)
{
    if (!j) return;
    push_free(j);
    for (int i = 0; i < j->ndecisions; i++) {
        free((char *)j->decisions[i].name);
        free((char *)j->decisions[i].candidates);
    }
    free(j->decisions);
    free(j->figures);
    free(j->support);
    free(j->withheld);
    df__hashtab_free(&j->bins);
    for (int i = 0; i < j->nops; i++) free((char *)j->ops[i].name);
    free(j->ops);
    free(j->snaps);
    free(j->checks);
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
    /* on the stack: an allocation that failed would give zeros, not an error */
    int32_t from = j->balance.from, snap[MAX_OPERATIONS + 1];
    *snapshot = DF_NO_DATE;
    latest_snapshots(&j->bins, j->rows_level, as_of, snap, j->nops);
    for (int i = 0; i < j->nops && j->kind == DF_SNAPSHOTS; i++)
        if (snap[i] != DF_NO_DATE && (*snapshot == DF_NO_DATE || snap[i] > *snapshot)) *snapshot = snap[i];
    for (size_t i = 0; i < j->bins.cap; i++) {
        const bin *bn = df__hashtab_at(&j->bins, i);
        if (!bn || bn->unit < 0 || !counted_level(bn, j->rows_level) || unit_level(bn, j->level) != j->level ||
            !date_counts(bn->date, bn->op, j->kind, from, as_of, snap))
            continue;
        t.records += bn->rows, t.displaced += bn->displaced, t.families += bn->families;
        t.returnees += bn->returnees, t.returned += bn->returned;
    }
    t.still_displaced = t.displaced - t.returned;
    t.snapshot = *snapshot;
    return t;
}

int df__join_units_as_of(const df_join *j, int32_t as_of, df_figures *out)
{
    int32_t *snap = calloc((size_t)j->nops + 1, sizeof *snap);
    if (!snap) return -1;
    memset(out, 0, (size_t)j->nunits * sizeof *out);
    latest_snapshots(&j->bins, j->rows_level, as_of, snap, j->nops);
    for (size_t i = 0; i < j->bins.cap; i++) {
        const bin *bn = df__hashtab_at(&j->bins, i);
        if (!bn || bn->unit < 0 || bn->unit >= j->nunits || !counted_level(bn, j->rows_level) ||
            unit_level(bn, j->level) != j->level ||
            !date_counts(bn->date, bn->op, j->kind, j->balance.from, as_of, snap))
            continue;
        df_figures *t = &out[bn->unit];
        t->records += bn->rows, t->displaced += bn->displaced, t->families += bn->families;
        t->returnees += bn->returnees, t->returned += bn->returned;
    }
    for (int u = 0; u < j->nunits; u++) out[u].still_displaced = out[u].displaced - out[u].returned;
    free(snap);
    return 0;
}

df_table_kind df_join_kind(const df_join *j) { return j->kind; }
int df_join_operation_count(const df_join *j) { return j->nops; }
const df_operation_figure *df_join_operation(const df_join *j, int i)
{
    return i >= 0 && i < j->nops ? &j->ops[i] : NULL;
}
int df_join_level_check_count(const df_join *j) { return j->nchecks; }
const df_level_check *df_join_level_check(const df_join *j, int i)
{
    return i >= 0 && i < j->nchecks ? &j->checks[i] : NULL;
}
int df_join_rows_level(const df_join *j) { return j->rows_level; }

df_figures *df__join_figures_rw(df_join *j, int i) { return &j->figures[i]; }

/* ---- the push API: records from memory --------------------------------------- */

static void push_free(df_join *j)
{
    join_sink *s = j->push;
    if (!s) return;
    j->push = NULL;
    s->j = NULL; /* the caller's: freed by the caller */
    df__join_sink_free(&s->base);
}

df_status df_join_new(df_ctx *ctx, const df_boundaries *b, const df_record_opts *ropts, const df_join_opts *jopts,
                      df_join **out)
{
    df_record_opts ropts_local_;
    df_join_opts jopts_local_;
    *out = NULL;
    if (!ropts) df_record_opts_init(&ropts_local_), ropts = &ropts_local_;
    if (!jopts) df_join_opts_init(&jopts_local_), jopts = &jopts_local_;
    DF__OPTS_ACCEPT(ctx, df_record_opts, ropts, ropts_local_);
    DF__OPTS_ACCEPT(ctx, df_join_opts, jopts, jopts_local_);
    df_record_opts ro = *ropts;
    if (!ro.path) ro.path = "(records pushed)";
    df__sink *sink = NULL;
    df_status st = df__join_sink_new(ctx, b, &ro, jopts, &sink);
    if (st != DF_OK) return st;
    join_sink *s = (join_sink *)sink;
    s->ropts.path = "(records pushed)"; /* the caller's string need not outlive the join */
    s->own_read.kind = ro.kind != DF_KIND_AUTO ? ro.kind : DF_INCREMENTS; /* no header to tell */
    s->base.read = &s->own_read;
    if (!(s->pushed = sink_state_new(sink, 0))) {
        df__join_sink_free(sink);
        return df__error(ctx, DF_ENOMEM, "out of memory");
    }
    s->j->push = s;
    *out = s->j;
    return DF_OK;
}

df_status df_join_add(df_join *j, const df_record *r)
{
    join_sink *s = j->push;
    if (!s) return DF_EINVAL; /* finished: no context to say it in */
    return df__push_add(s->ctx, &s->base, s->pushed, &s->pushed->failed, &s->own_read, r, s->ropts.path);
}

df_status df_join_merge(df_join *into, df_join *part)
{
    join_sink *a = into->push, *b = part->push;
    if (!a || !b) return a ? df__error(a->ctx, DF_EINVAL, "df_join_merge: the part is finished") : DF_EINVAL;
    if (b->log || a->jopts.level != b->jopts.level || a->b != b->b)
        return df__error(a->ctx, DF_EINVAL,
                         "df_join_merge: the part must join to the same boundaries and level, without a decision log");
    /* the part's state into the total, its names into the decisions; its counts into ours */
    void *state = b->pushed;
    df_status st = df__push_merge(a->ctx, &a->base, &a->own_read, &b->base, &state, &b->own_read);
    b->pushed = state;
    return st;
}

df_status df_join_finish(df_join *j)
{
    join_sink *s = j->push;
    if (!s) return DF_EINVAL;
    void *state = s->pushed;
    s->pushed = NULL;
    df_status st = df__push_finish(s->ctx, &s->base, &state);
    push_free(j);
    return st;
}
