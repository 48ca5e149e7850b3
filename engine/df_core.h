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
