/*
 * df_geo.h — places: the point-in-polygon index, country profiles, the
 * boundaries' internals and alias tables, and a stated place matched to a
 * unit. GEOS geometries are borrowed from the boundaries: the one area that
 * includes geos_c.h.
 */
#ifndef DF_GEO_H
#define DF_GEO_H

#include "df_io.h"

#include <geos_c.h>

/* ---- pip.c: point-in-polygon grid index ---------------------------------- */

typedef struct df__pip df__pip;

/* A polygon as rings of lon/lat vertices (closed: last == first). */
typedef struct {
    const double *xy; /* x0 y0 x1 y1 ... */
    int npoints;
} df__ring;

/* Build an index over npolys polygons; polygon k has rings
 * rings[ring_start[k] .. ring_start[k+1]). Parity (even-odd) over all rings
 * of a polygon decides inside. */
df__pip *df__pip_build(const df__ring *rings, const int *ring_start, int npolys);
/* Index of the first polygon containing (x, y), or -1. Thread-safe. */
int df__pip_locate(const df__pip *pip, double x, double y);
void df__pip_free(df__pip *pip);

/* ---- profile.c: country profiles (shapes/profiles/NAME.ini) -------------- */

#define DF__PROFILE_PRESETS 8

/* What dispflow knows of one country, from its profile file. */
typedef struct {
    char *path, *name; /* the file; its name without .ini ("irq") */
    char *country;     /* "Iraq", or NULL */
    char *codes;       /* "IQ, IZ": the P-code prefixes it fits */
    char *labels;      /* "Governorate, District, Sub-district", or NULL */
    char *aliases;     /* its alias table (path resolved), or NULL */
    int npresets;      /* named origin sets: "corridor" = "IQG15Q05 Al-Mosul, ..." */
    char *preset_name[DF__PROFILE_PRESETS], *preset_units[DF__PROFILE_PRESETS];
} df__profile;

df_status df__profile_load(df_ctx *ctx, const char *path, df__profile **out);
void df__profile_free(df__profile *p);
/* The profile of a layer: choice names one ("irq" in dir, or a file), or
 * "none"; NULL chooses among dir's profiles the one whose code begins every
 * P-code (the longest code wins) or equals admin0 (may be NULL). *out is
 * NULL when none fits. */
df_status df__profile_choose(df_ctx *ctx, const char *dir, const char *choice, const char *const *pcodes, int n,
                             const char *admin0, df__profile **out);
/* The units of a named preset of p ("IQG15Q05 Al-Mosul, ..."), or NULL. */
const char *df__profile_preset(const df__profile *p, const char *name);
/* The profile of dir that has a preset called name (*owned, to free), or
 * NULL; presets gets "corridor (Iraq), ..." for every preset of dir. */
const df__profile *df__profile_preset_owner(const char *dir, const char *name, df__profile **owned, char *presets,
                                            size_t cap);
/* Item k of a comma-separated list, trimmed; 0 when there is none. */
int df__list_item(const char *list, int k, char *out, size_t cap);

/* ---- boundaries.c -------------------------------------------------------- */

/* Kinds of name a unit is known by. */
enum { DF__NAME_OWN = 0, DF__NAME_ALT = 1, DF__NAME_ALIAS = 2 };

/* One entry of a level's name index: a normalised name, its consonant
 * skeleton, the unit and the kind. Sorted by key. */
typedef struct {
    char *key, *skel;
    int unit, kind;
} df__name_key;

/* A unit's other names, '|'-separated "kind:name" (borrowed; NULL = none). */
const char *df__boundaries_alts(const df_boundaries *b, int level, int i);
/* Labels in another language (issue 13 item 7): the layer's name field of
 * a level for choice, a language ("ar": ADMn_AR, AnNameAr) or a field name
 * (admin2Na_1; its digit follows the level), as an index k; -1: the layer
 * has none. name_in: unit i's value of field k (borrowed; NULL: empty).
 * name_fields: the level's name fields, comma-separated, for a message. */
int df__boundaries_name_field(const df_boundaries *b, int level, const char *choice);
const char *df__boundaries_name_in(const df_boundaries *b, int level, int k, int i);
void df__boundaries_name_fields(const df_boundaries *b, int level, char *out, size_t cap);
/* aliases.c: the units of a boundary file as an alias table sees them
 * (aliases.c knows no df_boundaries: the boundaries call it, never the
 * reverse): per level the units and their other names ('|'-separated
 * "kind:name", alts NULL: none), and add, which gives unit i of a level a
 * spelling (0 ok, -1 out of memory). */
typedef struct {
    int count[4]; /* 0: the level is not loaded */
    const df_unit *units[4];
    char *const *alts[4];
    int (*add)(void *user, int level, int i, const char *name);
    void *user;
} df__alias_units;
/* Read an alias table and give its spellings to the units they fit (before
 * the name index is built). */
df_status df__aliases_load(df_ctx *ctx, const df__alias_units *units, const char *path);
/* The name index of a level (borrowed), or NULL with *n = 0. */
const df__name_key *df__boundaries_names(const df_boundaries *b, int level, int *n);

/* The label of a level ("Governorate", "State", or "admin 2"): the job's,
 * else the layer's type field, else the country profile's, else neutral.
 * Borrowed. */
const char *df__boundaries_label(const df_boundaries *b, int level);
/* A level's label as words for a report: singular ("governorate", "admin
 * 2 unit") or plural ("governorates", "localities", "admin 2 units"), with
 * a capital or not ("Governorates"). */
void df__level_words(const df_boundaries *b, int level, int plural, int capital, char *out, size_t cap);
/* The country profile of the layer (NULL: none) and the folder of profiles. */
const df__profile *df__boundaries_profile(const df_boundaries *b);
const char *df__boundaries_profiles_dir(const df_boundaries *b);

/* Geometry of a unit as a GEOS geometry (borrowed; WGS84 lon/lat). */
const GEOSGeometry *df__boundaries_geometry(const df_boundaries *b, int level, int i);
/* The boundaries' private GEOS handle (GEOSContextHandle_t): its messages
 * go to the log of the next df_boundaries_prepare. For tests. */
void *df__boundaries_geos(const df_boundaries *b);
/* Unit i of a level without preparing the level: P-code, name and parent
 * only (the area is 0 until the level is prepared). */
const df_unit *df__boundaries_unit(const df_boundaries *b, int level, int i);
/* Ancestor at level `to` of unit i at level `from` (to <= from). */
int df__boundaries_ancestor(const df_boundaries *b, int from, int i, int to);

/* ---- reconcile.c: a stated name to a unit -------------------------------- */

/* How a place was matched (df__how_name gives the word for the log). */
enum {
    DF__HOW_NONE,
    DF__HOW_PCODE,
    DF__HOW_NAME,
    DF__HOW_ALT,
    DF__HOW_ALIAS,
    DF__HOW_SKELETON,
    DF__HOW_FUZZY,
    DF__HOW_POINT,
    DF__HOW_SWAPPED
};
const char *df__how_name(int how);

typedef struct {
    int unit;             /* -1: unmatched */
    int how;              /* DF__HOW_* */
    double score;         /* 1 for exact ways, the similarity for fuzzy */
    int ambiguous;        /* two units fit */
    int missing;          /* "N/A", "Not available": no name at all (decided once per name, not per row) */
    char candidates[160]; /* unmatched: the closest units with scores */
} df__name_match;

/* Match a name at a level, inside parent (unit of level-1) when >= 0. */
df__name_match df__reconcile_name(const df_boundaries *b, int level, const char *name, int parent);

/* How a stated place (P-codes, names, a point) was matched at a level. */
typedef struct {
    int unit;              /* at the level asked for, or -1 */
    int how;               /* DF__HOW_* of the decisive step */
    double score;          /* of a fuzzy name, else 1 */
    int swapped, conflict; /* the coordinates were swapped; they contradict the names */
    int with_notes;        /* write the notes (for a decision log only: they cost) */
    char note[320];        /* why, in words */
} df__match;

/* A point outside every unit of b whose swap (lat, lon) falls inside one:
 * swapped in place, as the join does; returns 1 then, else 0 (b may be NULL). */
int df__unswap_point(const df_boundaries *b, double *lon, double *lat);

typedef struct df__name_cache df__name_cache;

/* Match a place at a level: P-code (at the level or a finer one), then the
 * names walked down from admin 1, then the point (always located: conflicts
 * and swapped coordinates are flagged). prefer_points: a point that
 * contradicts the names wins. lon = NAN: no point. */
void df__match_place(const df_boundaries *b, df__name_cache *cache, int level, int prefer_points, int with_notes,
                     const df_place *pl, double lon, double lat, df__match *m);

/* Decisions per distinct (level, parent, name), counted. One per thread. */
df__name_cache *df__name_cache_new(void);
void df__name_cache_free(df__name_cache *c);
const df__name_match *df__name_cache_get(df__name_cache *c, const df_boundaries *b, int level, const char *name,
                                         int parent);
int df__name_cache_failed(const df__name_cache *c);
typedef void (*df__name_visit)(int level, const char *name, const char *parent_name, const df__name_match *m, long rows,
                               void *user);
void df__name_cache_each(const df__name_cache *c, df__name_visit fn, void *user);

#endif /* DF_GEO_H */
