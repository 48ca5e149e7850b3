/*
 * df_core.h — what every module shares: the context, errors, logging and
 * progress, option structs, allocation, values and dates (fields.c), names
 * and P-codes normalised (names.c). Plain C: no GDAL, GEOS or PROJ header.
 *
 * The engine's internal headers, each area including the one before it:
 * df_core.h < df_io.h < df_geo.h < df_products.h < df_job.h (dfint.h: all).
 * A module includes the lowest one that declares what it uses.
 *
 * One prefix rule: whatever is internal and not static takes a double
 * underscore, functions, variables and types alike (df__csv_next, df__csv,
 * df__match), macros and enum constants in capitals (DF__GDAL_SCOPE,
 * DF__HOW_NAME); one underscore (df_join_run, df_status) is the public API
 * of dispflow.h. Opaque public types (struct df_ctx, struct df_job) are
 * defined here under their public name.
 */
#ifndef DF_CORE_H
#define DF_CORE_H

#include "dispflow.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#if defined(__GNUC__)
#define DF__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define DF__PRINTF(a, b)
#endif

/* ---- context.c ----------------------------------------------------------- */

struct df_ctx {
    struct GEOSContextHandle_HS *geos; /* GEOSContextHandle_t */
    struct pj_ctx *proj;               /* PJ_CONTEXT */
    df_log_fn log_fn;
    void *log_user;
    df_progress_fn progress_fn;
    void *progress_user;
    df_status status;
    char errmsg[1024];
    char gdal_error[512]; /* last error GDAL reported through our handler */
    char geos_error[512];
    char versions[256];
};

/* Record an error in the context and return its status, so that callers can
 * write `return df__error(ctx, DF_EIO, "cannot open %s", path);`. */
df_status df__error(df_ctx *ctx, df_status status, const char *fmt, ...) DF__PRINTF(3, 4);
/* in with the secrets of a database connection masked: the value of
 * password=... (libpq's conninfo: "PG:dbname=x password=y", quoted or not)
 * and the password of a URI's user:password@host become ***. Writes at most
 * cap bytes. df__error and df__log pass every message through it: a PG:
 * records path or output is named in many messages. */
void df__scrub_secrets(const char *in, char *out, size_t cap);
void df__log(df_ctx *ctx, df_log_level level, const char *fmt, ...) DF__PRINTF(3, 4);
/* Report progress; returns 0 when the caller asked to cancel. */
int df__progress(df_ctx *ctx, double fraction, const char *stage);
/* The last message GDAL sent to the context's handler ("" if none); cleared. */
const char *df__gdal_error(df_ctx *ctx);
/* GDAL's error handlers are a stack per thread: a public call that reaches
 * GDAL opens DF__GDAL_SCOPE(ctx) as its first statement, which pushes the
 * context's handler on the caller's thread and pops it when the call
 * returns (a cleanup attribute: every return path). Contexts can then be
 * freed in any order and used from any thread (issue 17 item 25). */
void df__gdal_push(df_ctx *ctx);
void df__gdal_pop(df_ctx **scope);
#define DF__GDAL_SCOPE(ctx)                                                                                            \
    df_ctx *df__gdal_scope_ __attribute__((cleanup(df__gdal_pop), unused)) = (df__gdal_push(ctx), (ctx))

/* Option structs carry their size (dispflow.h). df__opts_check refuses a
 * size of 0 (never initialised) or larger than the library's own; with
 * DF__OPTS_ACCEPT a public call then reads a smaller struct (a program built
 * against an older header) through a local copy whose newer fields keep the
 * defaults of init. Used as the first statement of every call taking options. */
df_status df__opts_check(df_ctx *ctx, const char *type, size_t size, size_t known);
#define DF__OPTS_ACCEPT(ctx, type, opts, local)                                                                        \
    do {                                                                                                               \
        df_status opts_st_ = df__opts_check((ctx), #type, (opts) ? (opts)->size : 0, sizeof(type));                    \
        if (opts_st_ != DF_OK) return opts_st_;                                                                        \
        if ((opts)->size < sizeof(type)) {                                                                             \
            type##_init(&(local));                                                                                     \
            memcpy(&(local), (opts), (opts)->size);                                                                    \
            (local).size = sizeof(type);                                                                               \
            (opts) = &(local);                                                                                         \
        }                                                                                                              \
    } while (0)

/* Allocation helpers: NULL on overflow or exhaustion. */
void *df__malloc(size_t n);
void *df__realloc_array(void *p, size_t count, size_t size);
char *df__strdup(const char *s);

/* ---- hashtab.c: the one hash table --------------------------------------- */

/* Open addressing with linear probing at a load of at most one half, for
 * the join's and the flows' bins, the name cache, the records reader's
 * duplicate rows, the repeated keys of snapshots (repeats.c) and the
 * hosting tables. A zeroed table is empty; its user sets size and first
 * before the first get (DF__HASHTAB does both). A slot holds its key's 64-bit hash
 * (0: a free slot; a hash of 0 is kept as 1) and an entry of `size` bytes,
 * zeroed when added, in which the caller keeps its key and its value; the
 * caller compares keys whose hashes are equal. A key's first slot is its
 * hash modulo the capacity, which starts at `first` and doubles, moving the
 * entries in slot order: the slot order (what iterating 0 .. cap - 1 visits)
 * depends only on the hashes and the order they were added, never on
 * addresses, so outputs that follow it are reproducible. Entries own
 * nothing the table knows of: free what they point to before
 * df__hashtab_free. */
typedef struct {
    uint64_t *hashes;       /* per slot: the hash of its key, 0 when free */
    unsigned char *entries; /* cap entries of size bytes */
    size_t size, cap, count;
    size_t first; /* the capacity of the first allocation (a power of two) */
} df__hashtab;

/* Is the entry (of a slot with the same hash) the caller's key? */
typedef int (*df__hashtab_eq)(const void *entry, const void *key);

/* An empty table of entries of `size` bytes (nothing allocated yet). */
#define DF__HASHTAB(size, first) ((df__hashtab){NULL, NULL, (size), 0, 0, (first)})
void df__hashtab_free(df__hashtab *t); /* back to empty; the entries are gone */
/* Room for one more key: 0, or -1 out of memory (the table unchanged). */
int df__hashtab_reserve(df__hashtab *t);

/* The slot of the key of hash h: where it is, or the free slot it would
 * take (eq NULL: equal hashes are equal keys). The table has a free slot. */
static inline size_t df__hashtab_slot(const df__hashtab *t, uint64_t h, df__hashtab_eq eq, const void *key)
{
    size_t mask = t->cap - 1, i = (size_t)h & mask;
    while (t->hashes[i] && (t->hashes[i] != h || (eq && !eq(t->entries + i * t->size, key)))) i = (i + 1) & mask;
    return i;
}

/* The entry of the key of hash h, added (zeroed, *added = 1) when it was
 * not there; NULL when memory runs out (the table unchanged). Inline so
 * that eq is inlined on the hot paths. */
static inline void *df__hashtab_get(df__hashtab *t, uint64_t h, df__hashtab_eq eq, const void *key, int *added)
{
    h += !h;
    *added = 0;
    if (2 * (t->count + 1) > t->cap && df__hashtab_reserve(t) != 0) return NULL;
    size_t i = df__hashtab_slot(t, h, eq, key);
    if (!t->hashes[i]) t->hashes[i] = h, t->count++, *added = 1;
    return t->entries + i * t->size;
}

/* Take back the entry df__hashtab_get has just added, before any other is
 * added (its slot ends no probe yet): when the caller cannot fill it in. */
static inline void df__hashtab_drop(df__hashtab *t, void *entry)
{
    size_t i = (size_t)((unsigned char *)entry - t->entries) / t->size;
    t->hashes[i] = 0, t->count--;
    memset(entry, 0, t->size);
}

/* The entry of the key of hash h, or NULL when it is not there. */
static inline void *df__hashtab_find(const df__hashtab *t, uint64_t h, df__hashtab_eq eq, const void *key)
{
    if (!t->cap) return NULL;
    size_t i = df__hashtab_slot(t, h + !h, eq, key);
    return t->hashes[i] ? t->entries + i * t->size : NULL;
}

/* The entry in slot i (i < cap), or NULL for a free slot: iterate with
 * for (size_t i = 0; i < t.cap; i++) if ((e = df__hashtab_at(&t, i))) ... */
static inline void *df__hashtab_at(const df__hashtab *t, size_t i)
{
    return t->hashes[i] ? t->entries + i * t->size : NULL;
}

/* ---- escape.c: XML and HTML text ------------------------------------------ */

/* s (NULL: "") for XML or HTML text and attribute values: & < > " as
 * entities. Writes the result and a NUL to out when out is not NULL (call
 * with NULL first for the room: the length returned, plus one); returns its
 * length without the NUL. */
size_t df__xml_escape(const char *s, char *out);
/* The same, written to f. */
void df__xml_escape_put(FILE *f, const char *s);

/* ---- fields.c: parsing of values ----------------------------------------- */

/* Parse a decimal number (optional sign, digits, optional fraction and
 * exponent; surrounding spaces allowed). Correctly rounded. 0 ok, -1 bad. */
int df__parse_double(const char *s, size_t len, double *out);
/* Parse a non-negative or negative integer count ("1,234" with thousands
 * separators is accepted; "12.0" is accepted, "12.5" is not). */
int df__parse_count(const char *s, size_t len, int64_t *out);
/* Parse a status word: displaced/IDP(s) → DF_DISPLACED; returned/returnee(s)
 * → DF_RETURNED. 0 ok, -1 unknown. */
int df__parse_status(const char *s, df_movement *out);
/* Civil date of a day number (proleptic Gregorian). */
void df__civil_from_days(int32_t days, int *y, int *m, int *d);
/* Days from civil date (proleptic Gregorian). */
int32_t df__days_from_civil(int y, int m, int d);
/* "17 Oct 2016" for a report; "undated" for DF_NO_DATE. */
void df__date_words(int32_t day, char out[20]);
/* v with thousands separators: "-1,234,567" (out: 27 bytes at most). Returns out. */
const char *df__thousands(int64_t v, char *out);
/* Is the string valid UTF-8? */
int df__utf8_valid(const char *s, size_t len);

/* ---- names.c: normalisation of names and P-codes ------------------------- */

/* Normalise a place name for exact comparison: lower case, no punctuation,
 * apostrophes, hyphens or spaces, no article tokens (al, el, ad, as, at, ar,
 * an, ash, az, adh). Writes at most cap bytes (NUL included). */
void df__name_normalize(const char *in, char *out, size_t cap);
/* The consonant skeleton of a normalised name (transliteration variants
 * equal): "tilkaef" and "telkaif" → "tlkf". */
void df__name_skeleton(const char *normalized, char *out, size_t cap);
/* Edit distance with transpositions (optimal string alignment), or
 * limit + 1 when it exceeds limit. */
int df__name_distance(const char *a, const char *b, int limit);
/* Normalise a P-code: upper case, no '-' or spaces, "IRQ" prefix → "IQ". */
void df__pcode_normalize(const char *in, char *out, size_t cap);
/* Is a stated name or code a missing value ("", "-", "N/A", "Not
 * available", "Unknown", "None", "null") rather than a place? */
int df__name_missing(const char *s);

#endif /* DF_CORE_H */
