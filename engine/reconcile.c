/*
 * reconcile.c — a stated name to a unit, and how.
 *
 * In order, within the parent unit when it is known: the name itself, the
 * unit's other names (fields of the boundary layer) and its aliases, all
 * compared after normalisation (names.c); then the consonant skeleton
 * (transliteration variants: Tilkaif, Telkaif, Tilkaef); then a fuzzy match
 * by edit distance, accepted only when it is unambiguous. Whatever two units
 * could claim is never guessed: it is unmatched, with its candidates.
 *
 * The fuzzy score is 1 - d / max(len a, len b), d the optimal string
 * alignment distance (Levenshtein with transpositions) of the normalised
 * names. A match needs a score of at least DF_FUZZY_MIN and a lead of at
 * least DF_FUZZY_MARGIN over the best other unit.
 *
 * Decisions are cached per distinct (level, parent, name): a million rows
 * with a few hundred distinct names reconcile a few hundred times.
 */
#include "df_geo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DF_FUZZY_MIN    0.75
#define DF_FUZZY_MARGIN 0.10

const char *df__how_name(int how)
{
    static const char *names[] = {"unmatched", "pcode", "name",  "alt-name",     "alias",
                                  "skeleton",  "fuzzy", "point", "swapped-point"};
    return how >= 0 && how < (int)(sizeof names / sizeof *names) ? names[how] : "?";
}

df__name_match df__reconcile_name(const df_boundaries *b, int level, const char *name, int parent)
{
    df__name_match m = {-1, DF__HOW_NONE, 0, 0, 0, ""};
    char key[256], skel[256];
    int n;
    const df__name_key *e = df__boundaries_names(b, level, &n);
    if ((m.missing = df__name_missing(name))) return m;
    df__name_normalize(name, key, sizeof key);
    if (!e || !key[0]) return m;
    df__name_skeleton(key, skel, sizeof skel);

    /* 1. the normalised name, among names, other names and aliases */
    int best_kind = 99;
    for (int k = 0; k < n; k++) {
        if (strcmp(e[k].key, key) != 0) continue;
        int u = e[k].unit;
        if (parent >= 0 && df__boundaries_unit(b, level, u)->parent != parent) continue;
        if (m.unit >= 0 && m.unit != u) m.ambiguous = 1;
        if (e[k].kind < best_kind || m.unit < 0) best_kind = e[k].kind < best_kind ? e[k].kind : best_kind;
        m.unit = u;
    }
    if (m.unit >= 0 && !m.ambiguous) {
        m.how = best_kind == DF__NAME_OWN ? DF__HOW_NAME : best_kind == DF__NAME_ALT ? DF__HOW_ALT : DF__HOW_ALIAS;
        m.score = 1;
        return m;
    }
    /* 2. the skeleton */
    if (m.unit < 0 && skel[0]) {
        for (int k = 0; k < n; k++) {
            if (strcmp(e[k].skel, skel) != 0) continue;
            int u = e[k].unit;
            if (parent >= 0 && df__boundaries_unit(b, level, u)->parent != parent) continue;
            if (m.unit >= 0 && m.unit != u) m.ambiguous = 1;
            m.unit = u;
        }
        if (m.unit >= 0 && !m.ambiguous) {
            m.how = DF__HOW_SKELETON;
            m.score = 1;
            return m;
        }
    }
    /* 3. fuzzy: the best score of each unit, then the best three units */
    int nunits = df_boundaries_count(b, level), len = (int)strlen(key);
    double *score = calloc((size_t)nunits + 1, sizeof *score);
    if (!score) return m;
    for (int k = 0; k < n; k++) {
        int u = e[k].unit;
        if (parent >= 0 && df__boundaries_unit(b, level, u)->parent != parent) continue;
        int lk = (int)strlen(e[k].key), longest = lk > len ? lk : len;
        double s = 1.0 - (double)df__name_distance(key, e[k].key, longest / 2) / longest;
        if (s > score[u]) score[u] = s;
    }
    int top[3] = {-1, -1, -1};
    for (int u = 0; u < nunits; u++) {
        if (score[u] <= 0) continue;
        for (int t = 0; t < 3; t++) {
            if (top[t] < 0 || score[u] > score[top[t]]) {
                for (int q = 2; q > t; q--) top[q] = top[q - 1];
                top[t] = u;
                break;
            }
        }
    }
    int best = top[0], second = top[1];
    double best_s = best >= 0 ? score[best] : 0, second_s = second >= 0 ? score[second] : 0;
    if (best >= 0 && !m.ambiguous && best_s >= DF_FUZZY_MIN && best_s - second_s >= DF_FUZZY_MARGIN) {
        m.unit = best, m.how = DF__HOW_FUZZY, m.score = best_s;
        free(score);
        return m;
    }
    /* unmatched: say who came closest */
    m.unit = -1;
    m.how = DF__HOW_NONE;
    for (int c = 0; c < 3; c++) {
        if (top[c] < 0 || score[top[c]] < 0.4) continue;
        size_t used = strlen(m.candidates);
        snprintf(m.candidates + used, sizeof m.candidates - used, "%s%s %.2f", used ? "; " : "",
                 df__boundaries_unit(b, level, top[c])->name, score[top[c]]);
    }
    free(score);
    return m;
}

/* ---- the cache ------------------------------------------------------------------ */

typedef struct {
    char *name;        /* as stated */
    int level, parent; /* the key, with name */
    const char *parent_name;
    df__name_match m;
    long rows;
} cache_entry;

struct df__name_cache {
    df__hashtab t; /* of cache_entry */
    int failed;
};

df__name_cache *df__name_cache_new(void)
{
    df__name_cache *c = calloc(1, sizeof *c);
    if (c) c->t = DF__HASHTAB(sizeof(cache_entry), 256);
    return c;
}

void df__name_cache_free(df__name_cache *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->t.cap; i++) {
        cache_entry *e = df__hashtab_at(&c->t, i);
        if (e) free(e->name);
    }
    df__hashtab_free(&c->t);
    free(c);
}

static uint64_t hash_key(int level, int parent, const char *s)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)(level * 31 + parent * 1000003); /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

typedef struct {
    const char *name;
    int level, parent;
} cache_key;

static int entry_is(const void *entry, const void *key)
{
    const cache_entry *a = entry;
    const cache_key *k = key;
    return a->level == k->level && a->parent == k->parent && strcmp(a->name, k->name) == 0;
}

const df__name_match *df__name_cache_get(df__name_cache *c, const df_boundaries *b, int level, const char *name,
                                         int parent)
{
    static const df__name_match none = {-1, DF__HOW_NONE, 0, 0, 0, ""};
    const cache_key key = {name, level, parent};
    int added;
    cache_entry *e = df__hashtab_get(&c->t, hash_key(level, parent, name), entry_is, &key, &added);
    if (!e) return c->failed = 1, &none;
    if (added) {
        if (!(e->name = df__strdup(name))) {
            df__hashtab_drop(&c->t, e);
            return c->failed = 1, &none;
        }
        e->level = level;
        e->parent = parent;
        e->parent_name = parent >= 0 ? df__boundaries_unit(b, level - 1, parent)->name : "";
        e->m = df__reconcile_name(b, level, name, parent);
    }
    e->rows++;
    return &e->m;
}

int df__name_cache_failed(const df__name_cache *c) { return c->failed; }

void df__name_cache_each(const df__name_cache *c, df__name_visit fn, void *user)
{
    for (size_t i = 0; i < c->t.cap; i++) {
        const cache_entry *e = df__hashtab_at(&c->t, i);
        if (e && !e->m.missing) /* "N/A" is no name: not in the list of names */
            fn(e->level, e->name, e->parent_name, &e->m, e->rows, user);
    }
}

/* ---- a stated place: P-code, names, point ---------------------------------- */

typedef df__match match;

static void add_note(match *m, const char *fmt, const char *a, const char *b)
{
    if (!m->with_notes) return;
    size_t used = strlen(m->note);
    snprintf(m->note + used, sizeof m->note - used, used ? "; " : "");
    used = strlen(m->note);
    snprintf(m->note + used, sizeof m->note - used, fmt, a, b);
}

/* Walk the stated names down from admin 1: the deepest unit they reach, or
 * -1 (with *level 0). A name is searched inside its parent once the parent
 * is known; a level whose name matches nothing leaves the next level to be
 * searched in the whole country (where it must be unique). */
static int match_names(const df_boundaries *b, df__name_cache *cache, const df_place *pl, int *level, match *m,
                       int *how, double *score)
{
    int parent = -1, found = -1, finest = df_boundaries_finest_level(b);
    *level = 0;
    for (int lv = 1; lv <= finest; lv++) {
        const char *name = pl->name[lv];
        if (!name || df_boundaries_count(b, lv) == 0) continue;
        /* a parent from an unmatched level above does not constrain */
        int within = found >= 0 && *level == lv - 1 ? parent : -1;
        const df__name_match *r = df__name_cache_get(cache, b, lv, name, within);
        if (r->missing) continue; /* "N/A" names no place: as if no name were stated */
        if (r->unit < 0) {
            char where[200] = "";
            if (within >= 0) snprintf(where, sizeof where, " in %s", df__boundaries_unit(b, lv - 1, within)->name);
            if (r->ambiguous)
                add_note(m, "\"%s\" fits several units%s", name, where);
            else
                add_note(m, "no unit named \"%s\"%s", name, where);
            if (r->candidates[0]) add_note(m, "closest: %s%s", r->candidates, "");
            continue;
        }
        if (r->how != DF__HOW_NAME && m->with_notes) {
            char why[160];
            snprintf(why, sizeof why, "%s %.2f", df__how_name(r->how), r->score);
            add_note(m, "\"%s\" is %s", name, df__boundaries_unit(b, lv, r->unit)->name);
            add_note(m, "by %s%s", why, "");
        }
        parent = found = r->unit;
        *level = lv;
        *how = r->how;
        *score = r->score;
    }
    return found;
}

void df__match_place(const df_boundaries *b, df__name_cache *cache, int level, int prefer_points, int with_notes,
                     const df_place *pl, double lon, double lat, df__match *m)
{
    int finest = df_boundaries_finest_level(b);
    m->unit = -1; /* no memset: this runs once per record */
    m->how = DF__HOW_NONE;
    m->score = 0;
    m->swapped = m->conflict = 0;
    m->note[0] = '\0';
    m->with_notes = with_notes;

    for (int lv = level; lv <= finest && m->how == DF__HOW_NONE; lv++) { /* 1. P-code */
        if (df__name_missing(pl->pcode[lv])) continue;
        int u = df_boundaries_find_pcode(b, lv, pl->pcode[lv]);
        if (u >= 0)
            m->unit = df__boundaries_ancestor(b, lv, u, level), m->how = DF__HOW_PCODE, m->score = 1;
        else
            add_note(m, "P-code %s not in the boundaries%s", pl->pcode[lv], "");
    }
    int name_level = 0, by_name = -1, how = DF__HOW_NONE;
    double score = 0;
    if (m->how == DF__HOW_NONE) { /* 2. names */
        by_name = match_names(b, cache, pl, &name_level, m, &how, &score);
        if (by_name >= 0 && name_level >= level) {
            m->unit = df__boundaries_ancestor(b, name_level, by_name, level);
            m->how = how;
            m->score = score;
        }
    }
    if (isnan(lon)) return;

    /* 3. the point, always located: it decides when nothing else did, and
     * it exposes swapped coordinates either way */
    int at = df_boundaries_locate(b, level, lon, lat);
    if (at < 0) {
        int swapped = df_boundaries_locate(b, level, lat, lon);
        if (swapped >= 0) {
            /* counted where the swapped point and the stated names agree */
            int agree = m->how == DF__HOW_NONE
                            ? (by_name < 0 || df__boundaries_ancestor(b, level, swapped, name_level) == by_name)
                            : swapped == m->unit;
            m->swapped = 1;
            m->conflict = !agree;
            add_note(m, "swapped-lat-lon: the point falls outside the boundaries, its swap in %s%s",
                     df_boundaries_unit(b, level, swapped)->name, agree ? "" : ", which the stated names contradict");
            if (m->how == DF__HOW_NONE && agree) m->unit = swapped, m->how = DF__HOW_SWAPPED, m->score = 1;
        } else {
            add_note(m, "the point falls outside the boundaries%s%s", "", "");
        }
        return;
    }
    if (m->how == DF__HOW_NONE) {
        if (by_name >= 0 && df__boundaries_ancestor(b, level, at, name_level) != by_name) {
            m->conflict = 1;
            add_note(m, "conflict: the point falls in %s, outside the stated %s",
                     df_boundaries_unit(b, level, at)->name, df__boundaries_unit(b, name_level, by_name)->name);
            if (!prefer_points) return;
        }
        m->unit = at;
        m->how = DF__HOW_POINT;
        m->score = 1;
    } else if (at != m->unit) {
        m->conflict = 1;
        add_note(m, "conflict: the point falls in %s, not in %s", df_boundaries_unit(b, level, at)->name,
                 df_boundaries_unit(b, level, m->unit)->name);
        if (prefer_points) m->unit = at, m->how = DF__HOW_POINT, m->score = 1;
    }
}

int df__unswap_point(const df_boundaries *b, double *lon, double *lat)
{
    int level = b ? df_boundaries_finest_level(b) : 0;
    if (!level || df_boundaries_locate(b, level, *lon, *lat) >= 0 || df_boundaries_locate(b, level, *lat, *lon) < 0)
        return 0;
    double t = *lon;
    *lon = *lat, *lat = t;
    return 1;
}
