/*
 * flows.c — origin-destination flows: who moved from where to where, when.
 *
 * Displaced rows flow from their origin to their location; returned rows
 * from their district of displacement to the place of return. Each row's
 * two ends are matched as the join matches places (reconcile.c), each at
 * its own admin level; rows are aggregated per (origin, destination, day,
 * status) while reading, on all cores for large CSV files, and the days are
 * gathered into periods (day, ISO week from Monday, calendar month, or the
 * whole period) at the end, when the period's bounds are known.
 */
#include "df_products.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FLOW_MAX_THREADS 16

/* Weighted sums of the record locations in each unit, for the weighted
 * centre: [level][unit] -> (sum w, sum w x, sum w y), in integers (the
 * coordinates in 1e-7 degrees, about 1 cm): exact, so the sums of the
 * reading threads or MPI ranks add up to the same bits in any grouping. */
__extension__ typedef __int128 wsum;
#define CENTRE_SCALE 1e7
typedef struct {
    int64_t w;
    wsum wx, wy;
} weighted;

static void weigh(weighted *c, int64_t w, double lon, double lat)
{
    c->w += w;
    c->wx += (wsum)w * llround(lon * CENTRE_SCALE);
    c->wy += (wsum)w * llround(lat * CENTRE_SCALE);
}

struct df_flows {
    int origin_level, dest_level;
    df_flow *rows;
    int n;
    df_flow_balance balance;
    weighted *centres[4];
    void *push; /* df_flows_new: its sink, until df_flows_finish */
};

static void push_free(df_flows *f);

void df_flow_opts_init(df_flow_opts *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->origin_level = o->dest_level = 2;
    o->from = o->to = DF_NO_DATE;
    o->kind = DF_KIND_AUTO; /* the kind the read finds: a DTM API table is never summed */
}

/* ---- bins: (origin, dest, date, status) ---------------------------------- */

typedef struct {
    int origin, dest;
    int32_t date;
    df_movement status;
    int64_t families, individuals;
    long rows;
} od_bin;

typedef df__hashtab od_table; /* of od_bin, keyed by (origin, dest, date, status); zeroed: empty */

static uint64_t od_hash(int o, int d, int32_t date, int status)
{
    uint64_t k = (uint64_t)(uint32_t)o * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uint32_t)d * 0xC2B2AE3D27D4EB4FULL ^
                 (uint64_t)(uint32_t)date * 0x165667B19E3779F9ULL ^ (uint64_t)status;
    k ^= k >> 31;
    return k * 0xff51afd7ed558ccdULL >> 17;
}

static int od_is(const void *entry, const void *key)
{
    const od_bin *a = entry, *b = key;
    return a->origin == b->origin && a->dest == b->dest && a->date == b->date && a->status == b->status;
}

/* The bin of (o, d, date, status), added when new; NULL out of memory. */
static od_bin *od_get(od_table *t, int o, int d, int32_t date, df_movement status)
{
    if (!t->cap) t->size = sizeof(od_bin), t->first = 1024;
    od_bin key = {o, d, date, status, 0, 0, 0};
    int added;
    od_bin *s = df__hashtab_get(t, od_hash(o, d, date, (int)status), od_is, &key, &added);
    if (s && added) *s = key;
    return s;
}

/* ---- the origins kept --------------------------------------------------------- */

typedef struct {
    int level, unit;
} unit_ref;

/* One P-code or name to a unit at any level (the finest that has it). */
static int find_unit(const df_boundaries *b, const char *key, unit_ref *out)
{
    for (int lv = df_boundaries_finest_level(b); lv >= 1; lv--) {
        int u = df_boundaries_find_pcode(b, lv, key);
        if (u < 0 && df_boundaries_count(b, lv)) u = df__reconcile_name(b, lv, key, -1).unit;
        if (u >= 0) return *out = (unit_ref){lv, u}, 0;
    }
    return -1;
}

static df_status parse_origins(df_ctx *ctx, const df_boundaries *b, const char *spec, unit_ref **out, int *n)
{
    *out = NULL;
    *n = 0;
    if (!spec || !*spec) return DF_OK;
    size_t cap = strlen(spec) + 16;
    unit_ref *refs = calloc(cap, sizeof *refs);
    if (!refs) return df__error(ctx, DF_ENOMEM, "out of memory");
    const char *preset = df__profile_preset(df__boundaries_profile(b), spec);
    if (preset) { /* a named set of the country profile: "CODE Name, ..." */
        char item[256];
        for (int k = 0; df__list_item(preset, k, item, sizeof item); k++) {
            char *name = item + strcspn(item, " ");
            if (*name) *name++ = 0;
            if (find_unit(b, item, &refs[*n]) == 0 || (*name && find_unit(b, name, &refs[*n]) == 0))
                (*n)++;
            else
                df__log(ctx, DF_LOG_WARN, "--origins %s: %s (%s) is not in the boundaries", spec, name, item);
        }
    } else if (!strchr(spec, ',') && find_unit(b, spec, &refs[0]) != 0) { /* another country's preset? */
        char presets[512];
        df__profile *owner = NULL;
        df__profile_preset_owner(df__boundaries_profiles_dir(b), spec, &owner, presets, sizeof presets);
        const df__profile *here = df__boundaries_profile(b);
        df_status st = owner ? df__error(ctx, DF_EINVAL,
                                         "--origins %s: this preset is %s's (%s), and these boundaries are %s%s; the "
                                         "presets are: %s; or give P-codes or names",
                                         spec, owner->country ? owner->country : owner->name, owner->path,
                                         here ? "of " : "of no known country profile",
                                         here ? (here->country ? here->country : here->name) : "", presets)
                             : df__error(ctx, DF_EINVAL,
                                         "--origins: no unit with the P-code or name \"%s\", and no preset of that "
                                         "name (presets: %s)",
                                         spec, presets[0] ? presets : "none");
        df__profile_free(owner);
        free(refs);
        return st;
    } else {
        for (const char *p = spec; *p;) {
            size_t len = strcspn(p, ",");
            char key[256];
            snprintf(key, sizeof key, "%.*s", (int)(len < 255 ? len : 255), p);
            if (key[0] && find_unit(b, key, &refs[*n]) != 0) {
                free(refs);
                return df__error(ctx, DF_EINVAL, "--origins: no unit with the P-code or name \"%s\"", key);
            }
            if (key[0]) (*n)++;
            p += len + (p[len] == ',');
        }
    }
    if (*n == 0) {
        free(refs);
        return df__error(ctx, DF_EINVAL, "--origins %s: no unit found", spec);
    }
    *out = refs;
    return DF_OK;
}

/* The origins a run will use, checked once the boundaries are loaded and
 * before any stage reads records (issue 17 item 22). */
df_status df__flows_origins_check(df_ctx *ctx, const df_boundaries *b, const char *spec)
{
    unit_ref *refs;
    int n;
    df_status st = parse_origins(ctx, b, spec, &refs, &n);
    free(refs);
    return st;
}

/* ---- reading ----------------------------------------------------------------- */

#define FLOW_MAX_OPS 256

typedef struct {
    const df_boundaries *b;
    const df_flow_opts *opts;
    const unit_ref *origins;
    int norigins, match_level; /* origins are matched here, then walked up */
    df__name_cache *names;
    od_table bins;
    long unplaced, filtered, no_origin;
    int32_t min_date, max_date;
    int failed;
    weighted *centres[4]; /* at the origin and destination levels */
    /* the operations (by first appearance) and the repeats of snapshot
     * keys, as the join keeps them */
    const df_read_stats *read;
    char *ops[FLOW_MAX_OPS];
    int nops;
    df__repeats *repeats;
    int drop_rivals; /* --duplicates drop: the first row of a key kept */
} flow_state;

/* The index of a row's operation in a thread's list; -1 when full. */
static int flow_op(flow_state *s, const char *name)
{
    if (!name) name = "";
    for (int i = s->nops - 1; i >= 0; i--)
        if (!strcmp(s->ops[i], name)) return i;
    if (s->nops == FLOW_MAX_OPS || !(s->ops[s->nops] = df__strdup(name))) return -1;
    return s->nops++;
}

static int on_record(void *user, const df_record *r)
{
    flow_state *s = user;
    const df_boundaries *b = s->b;
    const df_flow_opts *o = s->opts;
    df__match to, from;
    int op = flow_op(s, r->operation), rival = 0;
    if (op < 0) return s->failed = 1, 1;
    df_table_kind kind = o->kind != DF_KIND_AUTO ? o->kind : s->read->kind;
    if ((rival = df__repeats_note(s->repeats, r, op, kind == DF_SNAPSHOTS)) < 0) return s->failed = 1, 1;
    if (rival > 0 && s->drop_rivals) return s->filtered++, 0;
    df__match_place(b, s->names, o->dest_level, o->prefer_points, 0, &r->location, r->lon, r->lat, &to);
    const df_place *start = r->status == DF_RETURNED ? &r->displacement : &r->origin;
    df__match_place(b, s->names, s->match_level, o->prefer_points, 0, start, NAN, NAN, &from);
    if (to.unit < 0 || from.unit < 0) {
        int stated = 0;
        for (int lv = 1; lv <= 3; lv++) stated |= start->name[lv] || start->pcode[lv];
        s->no_origin += !stated;
        s->unplaced++;
        return 0;
    }
    if (s->norigins) {
        int kept = 0;
        for (int k = 0; k < s->norigins && !kept; k++)
            kept = s->origins[k].level <= s->match_level &&
                   df__boundaries_ancestor(b, s->match_level, from.unit, s->origins[k].level) == s->origins[k].unit;
        if (!kept) {
            s->filtered++;
            return 0;
        }
    }
    int origin = df__boundaries_ancestor(b, s->match_level, from.unit, o->origin_level);
    if (!isnan(r->lon)) { /* where the people are, for the weighted centres */
        weigh(&s->centres[o->dest_level][to.unit], r->individuals, r->lon, r->lat);
        if (o->origin_level != o->dest_level) {
            int at = df_boundaries_locate(b, o->origin_level, r->lon, r->lat);
            if (at >= 0) weigh(&s->centres[o->origin_level][at], r->individuals, r->lon, r->lat);
        }
    }
    if (r->date != DF_NO_DATE) {
        if (s->min_date == DF_NO_DATE || r->date < s->min_date) s->min_date = r->date;
        if (s->max_date == DF_NO_DATE || r->date > s->max_date) s->max_date = r->date;
    }
    od_bin *bin = od_get(&s->bins, origin, to.unit, r->date, r->status);
    if (!bin) return s->failed = 1, 1;
    bin->rows++;
    bin->individuals += r->individuals;
    if (r->families > 0) bin->families += r->families;
    return 0;
}

/* ---- periods ------------------------------------------------------------------- */

/* The calendar period of date (df_period_of, as density's); without a step
 * the whole period [from, to]. */
static void period_of(int32_t date, df_step step, int32_t from, int32_t to, int32_t *start, int32_t *end)
{
    if (date != DF_NO_DATE && step == DF_STEP_NONE)
        *start = from, *end = to;
    else
        df_period_of(date, step, start, end);
}

static int cmp_flow(const void *a, const void *b)
{
    const df_flow *p = a, *q = b;
    if (p->total != q->total) return p->total - q->total; /* the pair totals last */
    if (p->period_start != q->period_start) return p->period_start < q->period_start ? -1 : 1;
    if (p->status != q->status) return p->status < q->status ? -1 : 1;
    if (p->individuals != q->individuals) return p->individuals > q->individuals ? -1 : 1;
    if (p->origin != q->origin) return p->origin - q->origin;
    return p->dest - q->dest;
}

static int cmp_pair_period(const void *a, const void *b)
{
    const df_flow *p = a, *q = b;
    if (p->origin != q->origin) return p->origin - q->origin;
    if (p->dest != q->dest) return p->dest - q->dest;
    if (p->status != q->status) return p->status < q->status ? -1 : 1;
    return (p->period_start > q->period_start) - (p->period_start < q->period_start);
}

static int same_pair(const df_flow *a, const df_flow *b)
{
    return a->origin == b->origin && a->dest == b->dest && a->status == b->status;
}

/* Running totals of each pair and status over its periods; with
 * o->totals and a step, one more flow per pair for the whole period. */
static int add_cumulative_and_totals(df_flows *f, const df_flow_opts *o, int32_t from, int32_t to)
{
    qsort(f->rows, (size_t)f->n, sizeof *f->rows, cmp_pair_period);
    int npairs = 0;
    for (int i = 0; i < f->n; i++) {
        int first = i == 0 || !same_pair(&f->rows[i - 1], &f->rows[i]);
        f->rows[i].cumulative = (first ? 0 : f->rows[i - 1].cumulative) + f->rows[i].individuals;
        npairs += first;
    }
    if (!o->totals || o->step == DF_STEP_NONE) return 0;
    df_flow *rows = df__realloc_array(f->rows, (size_t)(f->n + npairs) + 1, sizeof *rows);
    if (!rows) return -1;
    f->rows = rows;
    for (int i = 0, n = f->n; i < n; i++) {
        if (i + 1 < n && same_pair(&rows[i + 1], &rows[i])) continue; /* not the pair's last period */
        df_flow t = rows[i];
        t.period_start = from, t.period_end = to;
        t.individuals = t.cumulative, t.total = 1, t.families = 0;
        for (int k = i; k >= 0 && same_pair(&rows[k], &t); k--) t.families += rows[k].families;
        rows[f->n++] = t;
    }
    return 0;
}

/* Snapshots to changes: each pair's count at every snapshot date of the
 * table, minus its count at the previous one (a pair absent from a
 * snapshot counts 0 there, so people who left show as a negative change;
 * the first snapshot counts whole). */
static int cmp_bin_ptr(const void *a, const void *b)
{
    const od_bin *p = *(od_bin *const *)a, *q = *(od_bin *const *)b;
    if (p->origin != q->origin) return p->origin - q->origin;
    if (p->dest != q->dest) return p->dest - q->dest;
    if (p->status != q->status) return p->status < q->status ? -1 : 1;
    return (p->date > q->date) - (p->date < q->date);
}

static int cmp_date(const void *a, const void *b)
{
    int32_t p = *(const int32_t *)a, q = *(const int32_t *)b;
    return (p > q) - (p < q);
}

static int difference_snapshots(od_table *t)
{
    od_table out = {0};
    size_t n = 0, nd = 0;
    od_bin **bins = calloc(t->count + 1, sizeof *bins);
    int32_t *dates = calloc(t->count + 1, sizeof *dates);
    if (!bins || !dates) return free(bins), free(dates), -1;
    for (size_t i = 0; i < t->cap; i++) {
        od_bin *s = df__hashtab_at(t, i);
        if (s) bins[n++] = s, dates[nd++] = s->date;
    }
    qsort(bins, n, sizeof *bins, cmp_bin_ptr);
    qsort(dates, nd, sizeof *dates, cmp_date);
    size_t u = 0;
    for (size_t i = 0; i < nd; i++)
        if (i == 0 || dates[i] != dates[u - 1]) dates[u++] = dates[i];
    nd = u;
    int rc = 0;
    for (size_t a = 0, z; a < n && rc == 0; a = z) {
        for (z = a; z < n && bins[z]->origin == bins[a]->origin && bins[z]->dest == bins[a]->dest &&
                    bins[z]->status == bins[a]->status;
             z++) {}
        int64_t prev_ind = 0, prev_fam = 0;
        size_t k = a;
        for (size_t d = 0; d < nd && rc == 0; d++) {
            if (dates[d] < bins[a]->date) continue; /* before the pair's first snapshot */
            const od_bin *cur = k < z && bins[k]->date == dates[d] ? bins[k++] : NULL;
            int64_t ind = cur ? cur->individuals : 0, fam = cur ? cur->families : 0;
            if (cur || ind != prev_ind) {
                od_bin *o = od_get(&out, bins[a]->origin, bins[a]->dest, dates[d], bins[a]->status);
                if (!o)
                    rc = -1;
                else
                    o->individuals = ind - prev_ind, o->families = fam - prev_fam, o->rows = cur ? cur->rows : 0;
            }
            prev_ind = ind, prev_fam = fam;
        }
    }
    free(bins);
    free(dates);
    if (rc == 0) {
        df__hashtab_free(t);
        *t = out;
    } else {
        df__hashtab_free(&out);
    }
    return rc;
}

/* The dates whose repeats reach the flows: every date up to the end of the
 * period (snapshots are differenced against the rounds before it). */
typedef struct {
    int32_t to;
} flow_dates;

static int flow_counts(int32_t date, int op, void *user)
{
    const flow_dates *fd = user;
    (void)op;
    return fd->to == DF_NO_DATE || date == DF_NO_DATE || date <= fd->to;
}

/* Gather the day bins into flows per period; rank and share; filter. */
static df_status make_flows(df_ctx *ctx, df_flows *f, const od_table *t, const df_flow_opts *o, int32_t from,
                            int32_t to)
{
    od_table per = {0};
    for (size_t i = 0; i < t->cap; i++) {
        const od_bin *s = df__hashtab_at(t, i);
        if (!s) continue;
        if (s->date != DF_NO_DATE && (s->date < from || s->date > to)) {
            f->balance.out_of_period += s->rows;
            continue;
        }
        int32_t start, end;
        period_of(s->date, o->step, from, to, &start, &end);
        od_bin *p = od_get(&per, s->origin, s->dest, start, s->status);
        if (!p) return df__hashtab_free(&per), df__error(ctx, DF_ENOMEM, "out of memory");
        p->rows += s->rows;
        p->individuals += s->individuals;
        p->families += s->families;
        f->balance.counted += s->rows;
        f->balance.ind_counted += s->individuals;
    }
    f->rows = calloc(per.count + 1, sizeof *f->rows);
    if (!f->rows) return df__hashtab_free(&per), df__error(ctx, DF_ENOMEM, "out of memory");
    for (size_t i = 0; i < per.cap; i++) {
        const od_bin *s = df__hashtab_at(&per, i);
        if (!s) continue;
        df_flow *fl = &f->rows[f->n++];
        *fl = (df_flow){s->origin, s->dest, s->status, s->date, s->date, s->families, s->individuals, 0, 0, 0, 0, 0};
        int32_t start;
        period_of(s->date, o->step, from, to, &start, &fl->period_end);
    }
    df__hashtab_free(&per);
    if (add_cumulative_and_totals(f, o, from, to) != 0) return df__error(ctx, DF_ENOMEM, "out of memory");
    qsort(f->rows, (size_t)f->n, sizeof *f->rows, cmp_flow);
    /* rank and share within (period, status), before any filtering */
    for (int a = 0, z; a < f->n; a = z) {
        int64_t total = 0;
        for (z = a;
             z < f->n && f->rows[z].period_start == f->rows[a].period_start && f->rows[z].status == f->rows[a].status;
             z++)
            total += f->rows[z].individuals;
        for (int k = a; k < z; k++) {
            f->rows[k].rank = k - a + 1;
            f->rows[k].share = total > 0 ? (double)f->rows[k].individuals / (double)total : 0;
        }
    }
    int kept = 0;
    for (int k = 0; k < f->n; k++) {
        const df_flow *fl = &f->rows[k];
        if (llabs(fl->individuals) < o->min || (o->top > 0 && fl->rank > o->top)) continue;
        if (o->no_intra && fl->origin == fl->dest && o->origin_level == o->dest_level) continue;
        f->rows[kept++] = *fl;
    }
    f->n = kept;
    return DF_OK;
}

/* ---- the flows as a sink of the fan-out read --------------------------------- */

typedef struct {
    df__sink base;
    df_ctx *ctx;
    df_flows *f; /* the result, the caller's once finished */
    const df_boundaries *b;
    df_record_opts ropts;
    df_flow_opts fopts;
    unit_ref *origins;
    int norigins, match_level;
    flow_state total;   /* the ranges' states, added up in range order */
    flow_state *pushed; /* df_flows_new: the state records are pushed into */
    df_read_stats own_read;
} flow_sink;

static void state_free(flow_state *s)
{
    df__hashtab_free(&s->bins);
    df__name_cache_free(s->names);
    for (int lv = 1; lv <= 3; lv++) free(s->centres[lv]);
    df__repeats_free(s->repeats);
    for (int i = 0; i < s->nops; i++) free(s->ops[i]);
}

static int state_init(flow_sink *k, flow_state *s)
{
    const df_boundaries *b = k->b;
    memset(s, 0, sizeof *s);
    s->b = b, s->opts = &k->fopts, s->origins = k->origins, s->norigins = k->norigins, s->match_level = k->match_level;
    s->min_date = s->max_date = DF_NO_DATE;
    s->read = k->base.read; /* the kind is resolved before the first row */
    s->drop_rivals = k->ropts.duplicates == DF_DUPLICATES_DROP;
    int ok = (s->names = df__name_cache_new()) && (s->repeats = df__repeats_new(k->base.ranges));
    for (int lv = 1; lv <= 3 && ok; lv++) /* the weighted centres, at the two levels */
        if ((lv == k->fopts.origin_level || lv == k->fopts.dest_level) &&
            !(s->centres[lv] = calloc((size_t)df_boundaries_count(b, lv) + 1, sizeof *s->centres[lv])))
            ok = 0;
    return ok ? 0 : -1;
}

static void *sink_state_new(void *sink, int range)
{
    flow_sink *k = sink;
    flow_state *s = malloc(sizeof *s);
    (void)range;
    if (!s) return NULL;
    if (state_init(k, s) != 0) return state_free(s), free(s), NULL;
    return s;
}

static void sink_state_free(void *state)
{
    if (!state) return;
    state_free(state);
    free(state);
}

/* Add the bins, counts and centres of s into s0. */
static int flow_state_merge(flow_state *s0, const flow_state *s, const df_boundaries *b)
{
    for (size_t i = 0; i < s->bins.cap; i++) {
        const od_bin *x = df__hashtab_at(&s->bins, i);
        if (!x) continue;
        od_bin *y = od_get(&s0->bins, x->origin, x->dest, x->date, x->status);
        if (!y) return -1;
        y->rows += x->rows, y->individuals += x->individuals, y->families += x->families;
    }
    int remap[FLOW_MAX_OPS];
    for (int i = 0; i < s->nops; i++)
        if ((remap[i] = flow_op(s0, s->ops[i])) < 0) s0->failed = 1;
    if (!s0->failed && df__repeats_merge(s0->repeats, s->repeats, remap) != 0) s0->failed = 1;
    s0->unplaced += s->unplaced, s0->filtered += s->filtered, s0->failed |= s->failed;
    s0->no_origin += s->no_origin;
    for (int lv = 1; lv <= 3; lv++)
        for (int u = 0; s->centres[lv] && s0->centres[lv] && u < df_boundaries_count(b, lv); u++) {
            s0->centres[lv][u].w += s->centres[lv][u].w;
            s0->centres[lv][u].wx += s->centres[lv][u].wx;
            s0->centres[lv][u].wy += s->centres[lv][u].wy;
        }
    if (s->min_date != DF_NO_DATE && (s0->min_date == DF_NO_DATE || s->min_date < s0->min_date))
        s0->min_date = s->min_date;
    if (s->max_date != DF_NO_DATE && (s0->max_date == DF_NO_DATE || s->max_date > s0->max_date))
        s0->max_date = s->max_date;
    return 0;
}

/* ---- MPI: a process's partial flows, packed and merged -------------------------- */

/* Its operations (a string table), counts, OD bins (fixed-size records),
 * repeats and the weighted centres (units of the two levels). */
static void flow_pack(df__pack *p, const flow_state *s, const df_boundaries *b)
{
    int32_t nops = s->nops, failed = s->failed;
    df__pack_put(p, &nops, sizeof nops);
    for (int i = 0; i < s->nops; i++) df__pack_str(p, s->ops[i]);
    df__pack_put(p, &s->unplaced, sizeof s->unplaced), df__pack_put(p, &s->filtered, sizeof s->filtered);
    df__pack_put(p, &s->no_origin, sizeof s->no_origin), df__pack_put(p, &failed, sizeof failed);
    df__pack_put(p, &s->min_date, sizeof s->min_date), df__pack_put(p, &s->max_date, sizeof s->max_date);
    uint64_t n = s->bins.count;
    df__pack_put(p, &n, sizeof n);
    for (size_t i = 0; i < s->bins.cap; i++) {
        const od_bin *x = df__hashtab_at(&s->bins, i);
        if (x) df__pack_put(p, x, sizeof *x);
    }
    df__repeats_pack(p, s->repeats);
    for (int lv = 1; lv <= 3; lv++)
        if (s->centres[lv]) df__pack_put(p, s->centres[lv], (size_t)df_boundaries_count(b, lv) * sizeof **s->centres);
}

/* Read a packed partial into t (empty, with its repeats table and the
 * centres of the same levels as s0). */
static int flow_unpack(df__pack *p, flow_state *t, const df_boundaries *b)
{
    int32_t nops, failed;
    df__pack_get(p, &nops, sizeof nops);
    if (p->failed || nops < 0 || nops > FLOW_MAX_OPS) return -1;
    for (int i = 0; i < nops; i++)
        if (!(t->ops[t->nops++] = df__strdup(df__pack_get_str(p)))) return -1;
    df__pack_get(p, &t->unplaced, sizeof t->unplaced), df__pack_get(p, &t->filtered, sizeof t->filtered);
    df__pack_get(p, &t->no_origin, sizeof t->no_origin), df__pack_get(p, &failed, sizeof failed);
    t->failed = failed;
    df__pack_get(p, &t->min_date, sizeof t->min_date), df__pack_get(p, &t->max_date, sizeof t->max_date);
    uint64_t n;
    df__pack_get(p, &n, sizeof n);
    for (uint64_t i = 0; i < n && !p->failed; i++) {
        od_bin x;
        df__pack_get(p, &x, sizeof x);
        od_bin *y = od_get(&t->bins, x.origin, x.dest, x.date, x.status);
        if (!y) return -1;
        *y = x;
    }
    if (df__repeats_unpack(p, t->repeats) != 0) return -1;
    for (int lv = 1; lv <= 3; lv++)
        if (t->centres[lv]) df__pack_get(p, t->centres[lv], (size_t)df_boundaries_count(b, lv) * sizeof **t->centres);
    return p->failed ? -1 : 0;
}

static void flow_state_clear(flow_state *t)
{
    df__hashtab_free(&t->bins);
    for (int i = 0; i < t->nops; i++) free(t->ops[i]);
    for (int lv = 1; lv <= 3; lv++) free(t->centres[lv]);
    df__repeats_free(t->repeats);
}

/* MPI: every process's partial merged in process order into s0 (the
 * operations then in file order, as one process finds them). */
static df_status sink_parts_merge(df_ctx *ctx, void *sink)
{
    flow_sink *k = sink;
    flow_state *s0 = &k->total;
    const df_boundaries *b = k->b;
    const char *path = k->ropts.path;
    df__pack mine = {0}, *from = calloc((size_t)df__parts.count, sizeof *from);
    unsigned char *all = NULL;
    flow_state acc = *s0, t;
    int bad = !from;
    flow_pack(&mine, s0, b);
    df_status st = bad ? df__error(ctx, DF_ENOMEM, "out of memory") : df__parts_exchange(ctx, &mine, &all, from);
    /* acc: s0's settings, empty aggregates */
    memset(&acc.bins, 0, sizeof acc.bins);
    memset(acc.ops, 0, sizeof acc.ops);
    acc.nops = 0, acc.unplaced = acc.filtered = acc.no_origin = 0, acc.failed = 0;
    acc.min_date = acc.max_date = DF_NO_DATE;
    memset(acc.centres, 0, sizeof acc.centres);
    acc.repeats = df__repeats_new(1);
    bad = !acc.repeats;
    for (int lv = 1; lv <= 3; lv++)
        if (s0->centres[lv] && !(acc.centres[lv] = calloc((size_t)df_boundaries_count(b, lv) + 1, sizeof(weighted))))
            bad = 1;
    for (int r = 0; st == DF_OK && !bad && r < df__parts.count; r++) {
        memset(&t, 0, sizeof t);
        t.repeats = df__repeats_new(1);
        bad = !t.repeats;
        for (int lv = 1; lv <= 3; lv++)
            if (s0->centres[lv] && !(t.centres[lv] = calloc((size_t)df_boundaries_count(b, lv) + 1, sizeof(weighted))))
                bad = 1;
        bad = bad || flow_unpack(&from[r], &t, b) != 0 || flow_state_merge(&acc, &t, b) != 0;
        flow_state_clear(&t);
    }
    df__pack_free(&mine);
    free(all);
    free(from);
    if (st == DF_OK && bad) st = df__error(ctx, DF_ENOMEM, "out of memory merging the partial flows of %s", path);
    if (st != DF_OK) return flow_state_clear(&acc), st;
    acc.names = s0->names, s0->names = NULL; /* the rest of s0 goes, acc takes its place */
    flow_state_clear(s0);
    *s0 = acc;
    return DF_OK;
}

/* A range's bins and counts into the total. */
static df_status sink_merge(void *sink, void *state)
{
    flow_sink *k = sink;
    flow_state *s = state;
    if (s->failed || df__name_cache_failed(s->names) || flow_state_merge(&k->total, s, k->b) != 0 || k->total.failed)
        return df__error(k->ctx, DF_ENOMEM, "out of memory aggregating %s", k->ropts.path);
    return DF_OK;
}

static df_status sink_finish(df_ctx *ctx, void *sink)
{
    flow_sink *k = sink;
    df_flows *f = k->f;
    flow_state *s0 = &k->total;
    const df_record_opts *ropts = &k->ropts;
    const df_flow_opts *fopts = &k->fopts;
    df_status st;
    if (k->base.read && k->base.read != &f->balance.read) f->balance.read = *k->base.read;
    if (f->balance.read.valid > 0 && f->balance.read.with_origin == 0) /* not 0 flows */
        return df__error(ctx, DF_EINVAL,
                         "%s: no record states an origin (or, for returns, a place of displacement): flows need "
                         "origins (map a column with --map origin_adm2=COLUMN)",
                         ropts->path);
    f->balance.unplaced = s0->unplaced;
    f->balance.filtered = s0->filtered;
    f->balance.no_origin = s0->no_origin;
    /* an --origins unit finer than the origins the table states: no flow
     * could be placed, which is an error, not 0 flows */
    if (k->match_level > fopts->origin_level && s0->unplaced > 0 && s0->unplaced == f->balance.read.valid)
        return df__error(ctx, DF_EINVAL,
                         "%s: --origins names admin-%d units, finer than --origin-level adm%d, and no row states its "
                         "origin at admin %d: choose units of admin %d or coarser",
                         ropts->path, k->match_level, fopts->origin_level, k->match_level, fopts->origin_level);
    /* no kind given: the one the read found (a DTM API table is snapshots),
     * not a second read of the records first (a FIFO can be read once) */
    df_table_kind kind = fopts->kind != DF_KIND_AUTO ? fopts->kind : f->balance.read.kind;
    /* snapshots: a flow is the change of a pair between two rounds of one
     * series; rounds of operations that interleave in time are not one */
    if (kind == DF_SNAPSHOTS && s0->nops > 1) {
        char list[400] = "";
        size_t n = 0;
        for (int i = 0; i < s0->nops && n < sizeof list; i++)
            n += (size_t)snprintf(list + n, sizeof list - n, "%s\"%s\"", i ? ", " : "", s0->ops[i]);
        return df__error(ctx, DF_EINVAL,
                         "%s: flows of a snapshot table are the changes between the rounds of one operation, and the "
                         "%d operations counted (%s) interleave in time: choose one with --operation NAME",
                         ropts->path, s0->nops, list);
    }
    flow_dates fd = {fopts->to};
    if ((st = df__repeats_judge(ctx, s0->repeats, ropts, (const char *const *)s0->ops, flow_counts, &fd)) != DF_OK)
        return st;
    if (kind == DF_SNAPSHOTS && difference_snapshots(&s0->bins) != 0) return df__error(ctx, DF_ENOMEM, "out of memory");
    for (int lv = 1; lv <= 3; lv++) f->centres[lv] = s0->centres[lv], s0->centres[lv] = NULL;
    return make_flows(ctx, f, &s0->bins, fopts, fopts->from != DF_NO_DATE ? fopts->from : s0->min_date,
                      fopts->to != DF_NO_DATE ? fopts->to : s0->max_date);
}

void df__flows_sink_free(df__sink *sink)
{
    flow_sink *k = (flow_sink *)sink;
    if (!k) return;
    sink_state_free(k->pushed);
    state_free(&k->total);
    free(k->origins);
    df_flows_free(k->f);
    free(k);
}

df_flows *df__flows_sink_take(df__sink *sink)
{
    flow_sink *k = (flow_sink *)sink;
    df_flows *f = k->f;
    k->f = NULL;
    return f;
}

void df__flows_sink_period(df__sink *sink, int32_t from, int32_t to)
{
    flow_sink *k = (flow_sink *)sink;
    k->fopts.from = from, k->fopts.to = to;
}

df_status df__flows_sink_new(df_ctx *ctx, const df_boundaries *b, const df_record_opts *ropts,
                             const df_flow_opts *fopts, df__sink **out)
{
    df_status st;
    *out = NULL;
    flow_sink *k = calloc(1, sizeof *k);
    if (!k) return df__error(ctx, DF_ENOMEM, "out of memory");
    k->base = (df__sink){"flows", sink_state_new, on_record, NULL, sink_merge, sink_finish, sink_state_free, 0,
                         0,       NULL,           NULL,      0};
    k->base.parts_merge = sink_parts_merge;
    k->ctx = ctx, k->b = b, k->ropts = *ropts, k->fopts = *fopts;
    if (!(k->f = calloc(1, sizeof *k->f))) {
        st = df__error(ctx, DF_ENOMEM, "out of memory");
        goto fail;
    }
    k->f->origin_level = fopts->origin_level;
    k->f->dest_level = fopts->dest_level;
    if ((st = df_boundaries_prepare(ctx, b, fopts->dest_level)) != DF_OK ||
        (st = df_boundaries_prepare(ctx, b, fopts->origin_level)) != DF_OK ||
        (st = parse_origins(ctx, b, fopts->origins, &k->origins, &k->norigins)) != DF_OK)
        goto fail;
    /* match origins at the finest level the filter or the flows need */
    k->match_level = fopts->origin_level;
    for (int i = 0; i < k->norigins; i++)
        if (k->origins[i].level > k->match_level) k->match_level = k->origins[i].level;
    if (state_init(k, &k->total) != 0) {
        st = df__error(ctx, DF_ENOMEM, "out of memory");
        goto fail;
    }
    k->fopts.origins = NULL; /* parsed: the caller's string need not outlive the sink */
    *out = &k->base;
    return DF_OK;
fail:
    df__flows_sink_free(&k->base);
    return st;
}

df_status df_flows_run(df_ctx *ctx, const df_boundaries *b, const df_record_opts *ropts, const df_flow_opts *fopts,
                       df_flows **out)
{
    DF__GDAL_SCOPE(ctx);
    df_record_opts ropts_local_;
    DF__OPTS_ACCEPT(ctx, df_record_opts, ropts, ropts_local_);
    df_flow_opts fopts_local_;
    DF__OPTS_ACCEPT(ctx, df_flow_opts, fopts, fopts_local_);
    df__sink *sink = NULL;
    *out = NULL;
    df_status st = df__flows_sink_new(ctx, b, ropts, fopts, &sink);
    if (st != DF_OK) return st;
    df_flows *f = ((flow_sink *)sink)->f;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int nthreads = cores < 2 ? 1 : cores > FLOW_MAX_THREADS ? FLOW_MAX_THREADS : (int)cores;
    st = df__records_fanout(ctx, ropts, &sink, 1, nthreads, &f->balance.read, NULL);
    if (st == DF_OK) st = sink->finish(ctx, sink);
    if (st == DF_OK) *out = df__flows_sink_take(sink);
    df__flows_sink_free(sink);
    return st;
}

void df_flows_free(df_flows *f)
{
    if (!f) return;
    push_free(f);
    for (int lv = 1; lv <= 3; lv++) free(f->centres[lv]);
    free(f->rows);
    free(f);
}

int df_flows_count(const df_flows *f) { return f->n; }
const df_flow *df_flows_get(const df_flows *f, int i) { return i >= 0 && i < f->n ? &f->rows[i] : NULL; }
df_flow *df__flows_row(df_flows *f, int i) { return i >= 0 && i < f->n ? &f->rows[i] : NULL; }
const df_flow_balance *df_flows_balance(const df_flows *f) { return &f->balance; }
int df__flows_origin_level(const df_flows *f) { return f->origin_level; }
int df__flows_dest_level(const df_flows *f) { return f->dest_level; }

int df__flows_centre(const df_flows *f, int level, int unit, double *x, double *y)
{
    const weighted *c = f->centres[level] ? &f->centres[level][unit] : NULL;
    if (!c || c->w <= 0) return -1;
    *x = (double)c->wx / CENTRE_SCALE / (double)c->w, *y = (double)c->wy / CENTRE_SCALE / (double)c->w;
    return 0;
}

/* ---- the push API: records from memory --------------------------------------- */

static void push_free(df_flows *f)
{
    flow_sink *k = f->push;
    if (!k) return;
    f->push = NULL;
    k->f = NULL; /* the caller's */
    df__flows_sink_free(&k->base);
}

df_status df_flows_new(df_ctx *ctx, const df_boundaries *b, const df_record_opts *ropts, const df_flow_opts *fopts,
                       df_flows **out)
{
    df_record_opts ropts_local_;
    df_flow_opts fopts_local_;
    *out = NULL;
    if (!ropts) df_record_opts_init(&ropts_local_), ropts = &ropts_local_;
    if (!fopts) df_flow_opts_init(&fopts_local_), fopts = &fopts_local_;
    DF__OPTS_ACCEPT(ctx, df_record_opts, ropts, ropts_local_);
    DF__OPTS_ACCEPT(ctx, df_flow_opts, fopts, fopts_local_);
    df__sink *sink = NULL;
    df_status st = df__flows_sink_new(ctx, b, ropts, fopts, &sink);
    if (st != DF_OK) return st;
    flow_sink *k = (flow_sink *)sink;
    k->ropts.path = "(records pushed)"; /* the caller's string need not outlive the flows */
    k->own_read.kind = ropts->kind != DF_KIND_AUTO ? ropts->kind : DF_INCREMENTS; /* no header to tell */
    k->base.read = &k->own_read;
    if (!(k->pushed = sink_state_new(sink, 0))) {
        df__flows_sink_free(sink);
        return df__error(ctx, DF_ENOMEM, "out of memory");
    }
    k->f->push = k;
    *out = k->f;
    return DF_OK;
}

df_status df_flows_add(df_flows *f, const df_record *r)
{
    flow_sink *k = f->push;
    if (!k) return DF_EINVAL;
    return df__push_add(k->ctx, &k->base, k->pushed, &k->pushed->failed, &k->own_read, r, k->ropts.path);
}

df_status df_flows_merge(df_flows *into, df_flows *part)
{
    flow_sink *a = into->push, *b = part->push;
    if (!a || !b) return a ? df__error(a->ctx, DF_EINVAL, "df_flows_merge: the part is finished") : DF_EINVAL;
    if (a->b != b->b || a->fopts.origin_level != b->fopts.origin_level || a->fopts.dest_level != b->fopts.dest_level)
        return df__error(a->ctx, DF_EINVAL, "df_flows_merge: the part must have the same boundaries and levels");
    void *state = b->pushed;
    df_status st = df__push_merge(a->ctx, &a->base, &a->own_read, &b->base, &state, &b->own_read);
    b->pushed = state;
    return st;
}

df_status df_flows_finish(df_flows *f)
{
    flow_sink *k = f->push;
    if (!k) return DF_EINVAL;
    void *state = k->pushed;
    k->pushed = NULL;
    df_status st = df__push_finish(k->ctx, &k->base, &state);
    push_free(f);
    return st;
}
