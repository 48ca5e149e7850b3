/*
 * dispflow.h — the one public header of the dispflow library.
 *
 * dispflow turns displacement counts (people displaced from somewhere, now
 * living somewhere; people who returned) into numbers per administrative unit
 * and GIS products. This header reads top to bottom in pipeline order:
 *
 *   context  →  records (ingest)  →  boundaries  →  join  →  flows
 *            →  density  →  write
 *
 * Design choices, once:
 *   - Every call takes a df_ctx. It owns the GEOS and PROJ contexts, the log and
 *     progress callbacks and the last error. Two contexts in two threads never
 *     meet; one context must not be used by two threads at once.
 *   - Every fallible call returns a df_status. On failure the context holds a
 *     message that names the input, the row and the field (df_ctx_errmsg).
 *   - Objects come in _new/_free (or _load/_free) pairs; _free(NULL) is a no-op.
 *     Functions that return borrowed pointers say so.
 *   - Options are typed structs filled with defaults by an _init function; the
 *     CLI fills the same structs from argv. Each starts with its size, set by
 *     _init: a library newer than the program reads only the fields the
 *     program knew (the rest keep their defaults); a struct that was never
 *     initialised, or is larger than the library knows, is refused
 *     (DF_EINVAL). New fields are only ever added at the end.
 *   - The library never prints. It logs through the context's callback.
 *   - Dates are days since 1970-01-01 (int32); DF_NO_DATE marks an undated row.
 *   - Coordinates of records are WGS84 longitude/latitude in degrees.
 */
#ifndef DISPFLOW_H
#define DISPFLOW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header. The library's own is df_version_number();
 * the shared library's soname (libdispflow.so.0) changes with the major
 * version, when the ABI changes. */
#define DISPFLOW_VERSION_MAJOR  0
#define DISPFLOW_VERSION_MINOR  1
#define DISPFLOW_VERSION_PATCH  0
#define DISPFLOW_VERSION        "0.1.0"
#define DISPFLOW_VERSION_NUMBER (DISPFLOW_VERSION_MAJOR * 10000 + DISPFLOW_VERSION_MINOR * 100 + DISPFLOW_VERSION_PATCH)

/* Marks the public API: the shared library is built with -fvisibility=hidden
 * and exports only what carries DF_API. */
#if defined(__GNUC__) && __GNUC__ >= 4
#define DF_API __attribute__((visibility("default")))
#else
#define DF_API
#endif

/* ------------------------------------------------------------------------ */
/* Status codes                                                              */
/* ------------------------------------------------------------------------ */

/* One table makes the enum, the names and the messages; they cannot drift.
 * The third column is the CLI's exit code for that class of failure. */
#define DF_STATUS_MAP(XX)                                                                                              \
    XX(OK, 0, "success")                                                                                               \
    XX(EINVAL, 2, "invalid argument or option")                                                                        \
    XX(ENOMEM, 3, "out of memory")                                                                                     \
    XX(EIO, 4, "cannot read or write a file")                                                                          \
    XX(EFORMAT, 5, "malformed input")                                                                                  \
    XX(ESCHEMA, 6, "a required column or field is missing")                                                            \
    XX(EGDAL, 7, "GDAL/OGR error")                                                                                     \
    XX(EGEOS, 8, "GEOS error")                                                                                         \
    XX(EPROJ, 9, "PROJ error")                                                                                         \
    XX(EUNMATCHED, 10, "records could not be matched to a unit")                                                       \
    XX(ECANCELLED, 11, "cancelled by the caller")

typedef enum {
#define DF_XX_ENUM(name, code, msg) DF_##name,
    DF_STATUS_MAP(DF_XX_ENUM)
#undef DF_XX_ENUM
        DF_STATUS_COUNT
} df_status;

/* Short English description of a status ("malformed input"). Static string. */
DF_API const char *df_status_message(df_status status);
/* Symbolic name of a status ("EFORMAT"). Static string. */
DF_API const char *df_status_name(df_status status);
/* Process exit code the CLI uses for a status (0 for DF_OK). */
DF_API int df_status_exit_code(df_status status);

/* ------------------------------------------------------------------------ */
/* Context                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct df_ctx df_ctx;

typedef enum { DF_LOG_DEBUG, DF_LOG_INFO, DF_LOG_WARN, DF_LOG_ERROR } df_log_level;

/* Receives every log line (no trailing newline). */
typedef void (*df_log_fn)(df_log_level level, const char *message, void *user);
/* Progress of a long stage: fraction in [0,1]. Return 0 to cancel. */
typedef int (*df_progress_fn)(double fraction, const char *stage, void *user);

/* A new context, or NULL when memory is exhausted. Installs a GDAL error
 * handler for the calling thread while the context exists. */
DF_API df_ctx *df_ctx_new(void);
DF_API void df_ctx_free(df_ctx *ctx);

DF_API void df_ctx_set_log(df_ctx *ctx, df_log_fn fn, void *user);
DF_API void df_ctx_set_progress(df_ctx *ctx, df_progress_fn fn, void *user);

/* The last error: status and a message naming the input, row and field.
 * The message is borrowed and valid until the next failing call. */
DF_API df_status df_ctx_status(const df_ctx *ctx);
DF_API const char *df_ctx_errmsg(const df_ctx *ctx);

/* The version of the library loaded, as DISPFLOW_VERSION_NUMBER (major x
 * 10000 + minor x 100 + patch). A program checks that it runs against the
 * ABI it was built for with DF_VERSION_CHECK() (the same major version, and
 * the library at least as new as the header). */
DF_API int df_version_number(void);
#define DF_VERSION_CHECK()                                                                                             \
    (df_version_number() / 10000 == DISPFLOW_VERSION_MAJOR && df_version_number() >= DISPFLOW_VERSION_NUMBER)

/* The folder of the data shipped with dispflow (shapes/: the country
 * profiles and alias tables), found at run time: $DISPFLOW_SHAPES when set;
 * else share/dispflow/shapes beside the installed library or program
 * (LIBDIR/../share, BINDIR/../share); else the installed PREFIX's; else the
 * build tree's. NULL when none exists (or $DISPFLOW_SHAPES names a folder
 * without profiles/: no silent fallback). Borrowed: valid until the next
 * call in the same thread. */
DF_API const char *df_shapes_dir(void);

/* Version strings of dispflow and the libraries it was built with
 * ("dispflow 0.1.0; GDAL 3.6.2; PROJ 9.1.1; GEOS 3.11.1"). Borrowed. */
DF_API const char *df_versions(df_ctx *ctx);

/* ------------------------------------------------------------------------ */
/* Dates                                                                     */
/* ------------------------------------------------------------------------ */

#define DF_NO_DATE INT32_MIN

/* Parse ISO 8601 (2016-10-17, 2016-10-17T00:00:00), dd/mm/yyyy, dd-mm-yyyy
 * and "18 Aug 2014" / "18-Aug-2014". Returns 0 and sets *days, or -1. */
DF_API int df_date_parse(const char *text, int32_t *days);
/* Writes yyyy-mm-dd into out (at least 11 bytes). DF_NO_DATE gives "". */
DF_API void df_date_format(int32_t days, char out[11]);

/* Calendar periods, one definition for flows, density and the job: a day,
 * an ISO week (Monday to Sunday), a calendar month. A period is labelled by
 * its first day, whatever the first date counted in it (October 2016 is
 * 2016-10-01 even when counting starts on the 17th). */
typedef enum { DF_STEP_NONE, DF_STEP_DAY, DF_STEP_WEEK, DF_STEP_MONTH } df_step;

/* The step named name ("none", "day", "week", "month"; "round" is "day":
 * a DTM round is a date), or -1. */
DF_API int df_step_parse(const char *name);
/* The period of step containing date: its first and last day. DF_STEP_NONE
 * and DF_NO_DATE give DF_NO_DATE for both. */
DF_API void df_period_of(int32_t date, df_step step, int32_t *start, int32_t *end);
/* The first day of the period after the one containing date. */
DF_API int32_t df_period_next(int32_t date, df_step step);
/* The same day one period earlier: its place in the period kept, clamped to
 * the earlier period's last day (31 March 2017 by month is 28 February;
 * by week, 7 days; by day, 1). DF_STEP_NONE and DF_NO_DATE give DF_NO_DATE. */
DF_API int32_t df_period_prev(int32_t date, df_step step);

/* A CSV delimiter by name or character: comma, semicolon, tab, pipe (any
 * case) or one of , ; TAB |. Returns 0 and sets *out, or -1. */
DF_API int df_delimiter_parse(const char *text, char *out);

/* ------------------------------------------------------------------------ */
/* Records (ingest)                                                          */
/* ------------------------------------------------------------------------ */

typedef enum { DF_DISPLACED = 0, DF_RETURNED = 1 } df_movement;

/* Rows seen twice: exact duplicates (every field equal) and, in snapshot
 * tables, two rows of one (operation, place, date, split, assessment).
 * DEFAULT: increments warn and keep, snapshots refuse (DF_EINVAL). */
typedef enum { DF_DUPLICATES_DEFAULT, DF_DUPLICATES_KEEP, DF_DUPLICATES_DROP, DF_DUPLICATES_REFUSE } df_duplicates;

/* Increment tables count people who moved on a date and are summed;
 * snapshot tables count people present at a date and are never summed
 * across dates (a figure is that of the latest snapshot). DF_KIND_AUTO (the
 * default): a DTM API table (numPresentIdpInd, #affected+idps, or a
 * reportingDate with a roundNumber) is read as snapshots, any other as
 * increments, and the join warns when its units repeat on several dates
 * (docs/join.md). */
typedef enum { DF_INCREMENTS = 0, DF_SNAPSHOTS = 1, DF_KIND_AUTO = 2 } df_table_kind;

/* A place as the record states it: P-codes and names by admin level
 * (index 1..3; index 0 unused). NULL where the record says nothing. */
typedef struct {
    const char *pcode[4];
    const char *name[4];
} df_place;

/* One valid record. Strings are borrowed and live only during the callback. */
typedef struct {
    long line;                  /* 1-based physical line (CSV) or feature number */
    int32_t date;               /* DF_NO_DATE when the table has no date */
    df_movement status;         /* DF_DISPLACED when the table has no status */
    df_place location;          /* where the people are now (returns: returned to) */
    double lon, lat;            /* NAN when absent */
    int has_coordinate_columns; /* the table has latitude/longitude columns */
    df_place origin;            /* where they come from */
    df_place displacement;      /* returns: where they were displaced (left from) */
    const char *location_name;
    const char *shelter;
    int64_t families;        /* -1 when absent */
    int64_t individuals;     /* individuals, or families x household size */
    int individuals_derived; /* 1 when individuals came from families */
    const char *operation;   /* the DTM operation (series) of the row; NULL when the table has none */
    const char *assessment;  /* the assessment type (DTM: BA baseline, SA site); NULL when none */
    const char *split;       /* the split of a unit's figure (DTM v3: displacement reason); NULL when none */
    int level;               /* the row's admin level: the level column, else the finest place stated (0:
                                national); -1 when the row states no admin place (points only) */
} df_record;

/* The fields a column can be mapped to; names as used by --map. */
#define DF_FIELD_MAP(XX)                                                                                               \
    XX(DATE, "date")                                                                                                   \
    XX(STATUS, "status")                                                                                               \
    XX(ADM1, "adm1")                                                                                                   \
    XX(ADM1_PCODE, "adm1_pcode")                                                                                       \
    XX(ADM2, "adm2")                                                                                                   \
    XX(ADM2_PCODE, "adm2_pcode")                                                                                       \
    XX(ADM3, "adm3")                                                                                                   \
    XX(ADM3_PCODE, "adm3_pcode")                                                                                       \
    XX(LOCATION, "location")                                                                                           \
    XX(LAT, "lat")                                                                                                     \
    XX(LON, "lon")                                                                                                     \
    XX(FAMILIES, "families")                                                                                           \
    XX(INDIVIDUALS, "individuals")                                                                                     \
    XX(SHELTER, "shelter")                                                                                             \
    XX(ORIGIN_ADM1, "origin_adm1")                                                                                     \
    XX(ORIGIN_ADM1_PCODE, "origin_adm1_pcode")                                                                         \
    XX(ORIGIN_ADM2, "origin_adm2")                                                                                     \
    XX(ORIGIN_ADM2_PCODE, "origin_adm2_pcode")                                                                         \
    XX(ORIGIN_ADM3, "origin_adm3")                                                                                     \
    XX(DISPLACEMENT_ADM1, "displacement_adm1")                                                                         \
    XX(DISPLACEMENT_ADM2, "displacement_adm2")                                                                         \
    XX(DISPLACEMENT_ADM2_PCODE, "displacement_adm2_pcode")                                                             \
    XX(OPERATION, "operation")                                                                                         \
    XX(ASSESSMENT, "assessment")                                                                                       \
    XX(SPLIT, "split")                                                                                                 \
    XX(LEVEL, "level")                                                                                                 \
    XX(ROUND, "round")

typedef enum {
#define DF_XX_FIELD(name, key) DF_FIELD_##name,
    DF_FIELD_MAP(DF_XX_FIELD)
#undef DF_XX_FIELD
        DF_FIELD_COUNT
} df_field;

/* The --map name of a field ("adm2_pcode"). Static string. */
DF_API const char *df_field_name(df_field field);

typedef struct {
    size_t size;       /* sizeof the struct, set by df_record_opts_init: options can grow without breaking callers */
    const char *path;  /* CSV/TSV, JSON (DTM API), or any OGR tabular source */
    const char *layer; /* OGR layer or sheet name; NULL = the first */
    char delimiter;    /* 0 = detect among , ; TAB | */
    int header;        /* 1 = first line is a header, 0 = none, -1 = detect */
    /* "field=Column,field=3,...": a column by header name or by 1-based
     * number. Fills only the fields it names; the rest are found by HXL tag
     * row or by DTM header names. */
    const char *map;
    double household_size;      /* individuals per family when absent (6) */
    df_table_kind kind;         /* DF_KIND_AUTO by default */
    df_movement default_status; /* for tables without a status column */
    /* The operations counted (NULL-terminated, borrowed; NULL: none
     * chosen). A table with several operations and none chosen is refused
     * (DF_EINVAL, listing them); "all" adds them on purpose. */
    const char *const *operations;
    /* Row filters "COLUMN=VALUE[,VALUE...]" (NULL-terminated, borrowed): a
     * row is read when, for every filter, its column holds one of the values
     * (case-insensitive). Other rows are counted as filtered. */
    const char *const *where;
    df_duplicates duplicates; /* rows seen twice (docs/records.md) */
    int add_assessments;      /* two assessment types of one place and date are added on purpose */
} df_record_opts;

DF_API void df_record_opts_init(df_record_opts *opts);

/* Why a row was rejected. */
#define DF_REJECT_MAP(XX)                                                                                              \
    XX(BAD_DATE, "bad-date")                                                                                           \
    XX(BAD_COUNT, "bad-count")                                                                                         \
    XX(NEGATIVE_COUNT, "negative-count")                                                                               \
    XX(NO_COUNT, "no-count")                                                                                           \
    XX(BAD_COORDINATES, "bad-coordinates")                                                                             \
    XX(NULL_ISLAND, "null-island")                                                                                     \
    XX(BAD_STATUS, "bad-status")                                                                                       \
    XX(RAGGED_ROW, "ragged-row")                                                                                       \
    XX(BAD_ENCODING, "bad-encoding")                                                                                   \
    XX(FIELD_TOO_LONG, "field-too-long")

typedef enum {
#define DF_XX_REJECT(name, key) DF_REJECT_##name,
    DF_REJECT_MAP(DF_XX_REJECT)
#undef DF_XX_REJECT
        DF_REJECT_COUNT
} df_reject_reason;

DF_API const char *df_reject_name(df_reject_reason reason);

/* A rejected row: where, which column, why. Strings borrowed. */
typedef struct {
    long line;
    const char *column; /* the header name, or "column N" */
    df_reject_reason reason;
    const char *detail; /* the offending value */
} df_rejection;

/* Called for every valid record; return non-zero to stop (DF_ECANCELLED). */
typedef int (*df_record_fn)(const df_record *record, void *user);
/* Called for every rejected row (may be NULL). */
typedef void (*df_reject_fn)(const df_rejection *rejection, void *user);

/* One operation of a table: its rows (valid, before --operation) and dates. */
typedef struct {
    char name[120];
    long rows;
    int32_t first, last;
} df_operation_stat;

/* What a read saw, for the balance. */
typedef struct {
    long rows;     /* data rows read (header and HXL rows excluded) */
    long valid;    /* rows passed to the record callback */
    long rejected; /* rows rejected; rows == valid + rejected */
    long rejected_by[DF_REJECT_COUNT];
    int64_t individuals_valid; /* total individuals of the valid rows */
    long excel_dates;          /* bad dates that look like Excel serial day numbers (42675) */
    char columns[512];         /* how columns were found, for the log */
    long filtered;             /* rows left out by operations or where (not in valid) */
    long dropped;              /* exact duplicates dropped (DF_DUPLICATES_DROP; not in valid) */
    long duplicates;           /* exact duplicate rows seen (kept, dropped or refused) */
    long duplicate_line[8][2]; /* the first of them: (line, line of the row it repeats) */
    long duplicates_unchecked; /* rows past the duplicate check's limit, not compared (docs/records.md) */
    long with_point;           /* valid rows with coordinates */
    long with_origin;          /* valid rows that state an origin (returns: a place of displacement) */
    long with_families;        /* valid rows that give families (a table without: "not in the table") */
    long returns;              /* valid rows of status returned (none: the table does not count returns) */
    df_table_kind kind;        /* the kind read (DF_KIND_AUTO resolved) */
    char kind_why[160];        /* why that kind, in words */
    int noperations;           /* distinct operations among the rows (at most 32 listed) */
    df_operation_stat operations[32];
} df_read_stats;

/* Stream the records of opts->path through on_record (and on_reject).
 * Memory does not grow with the number of rows. Fails with DF_EIO when the
 * file cannot be read, DF_ESCHEMA when no count column can be found. */
DF_API df_status df_records_read(df_ctx *ctx, const df_record_opts *opts, df_record_fn on_record,
                                 df_reject_fn on_reject, void *user, df_read_stats *stats);
/* The kind of opts' table as a read would take it (DF_KIND_AUTO resolved
 * from the header alone; why: the reason in words, may be NULL). A pipe or
 * stdin is not opened (it cannot be read twice): *kind stays DF_KIND_AUTO,
 * and the read itself decides (df_read_stats.kind). */
DF_API df_status df_records_kind(df_ctx *ctx, const df_record_opts *opts, df_table_kind *kind, char *why, size_t cap);

/* ------------------------------------------------------------------------ */
/* Boundaries                                                                */
/* ------------------------------------------------------------------------ */

typedef struct df_boundaries df_boundaries;

typedef struct {
    size_t size;       /* sizeof the struct, set by df_boundary_opts_init: options can grow without breaking callers */
    const char *path;  /* any OGR source, any CRS (reprojected to WGS84) */
    const char *layer; /* NULL = the first layer */
    int level;         /* admin level of the layer, 1..3; 0 = detect. A layer whose
                        * fields say another level, or whose P-codes repeat at
                        * this one, is refused (DF_EINVAL). */
    /* Field names; NULL = detect (COD-AB ADMn_PCODE/ADMn_EN, OCHA 2014
     * AnCode/AnNameEn, adm{n}_code/adm{n}_name, admin{n}Pcode/Name). */
    const char *pcode_field;
    /* The name written in the outputs, for every level: a field of the
     * layer's own level (ADM2_FR; the coarser levels take the same field
     * with their digit, ADM1_FR) or a language key ("fr": ADMn_FR). Every
     * name field of the layer is matched whatever this says. */
    const char *name_field;
    const char *parent_pcode_field;
    const char *parent_name_field;
    /* Alias tables (CSV: level,alias,name[,parent]), NULL-terminated list;
     * NULL = none. Each row says that alias and name are one place. */
    const char *const *aliases;
    /* Country profiles (docs/join.md): their folder (NULL = none) and the
     * one to use: a name in it ("irq"), an .ini file, "none", or NULL to
     * choose by the layer's P-codes. A profile brings level labels, an
     * alias table (unless no_profile_aliases) and origin presets. */
    const char *profiles;
    const char *profile;
    int no_profile_aliases;
    /* Level labels from admin 1, comma-separated ("State, Locality"); NULL =
     * the layer's type fields, else the profile's, else "admin 1" ... */
    const char *labels;
} df_boundary_opts;

DF_API void df_boundary_opts_init(df_boundary_opts *opts);

/* One administrative unit. Strings borrowed from the boundaries object. */
typedef struct {
    int level;
    const char *pcode; /* as in the source ("IQG15Q05") */
    const char *name;
    int parent;      /* index of the parent unit at level-1, or -1 */
    double area_km2; /* on the WGS84 ellipsoid (geodesic) */
} df_unit;

/* Load a boundary layer, repair invalid polygons (a warning names each
 * unit), derive the higher levels' units from the parent fields, and warn
 * of overlapping units (with the km2 of overlap) and of features with
 * neither P-code nor name. A layer whose P-codes repeat is refused
 * (DF_EINVAL). Geometry, areas and point index are made on first use (see
 * df_boundaries_prepare). */
DF_API df_status df_boundaries_load(df_ctx *ctx, const df_boundary_opts *opts, df_boundaries **out);
DF_API void df_boundaries_free(df_boundaries *b);

/* Geometry, geodesic areas and the point index of a level are made once, on
 * first use (a district join never dissolves governorates). Call this to make
 * them up front and to learn of a failure (DF_EGEOS, DF_ENOMEM); the
 * functions below then never fail. Thread-safe. */
DF_API df_status df_boundaries_prepare(df_ctx *ctx, const df_boundaries *b, int level);

/* Finest level loaded (1..3); levels 1..finest are all available. */
DF_API int df_boundaries_finest_level(const df_boundaries *b);
/* Number of units at a level (0 if the level is not available). */
DF_API int df_boundaries_count(const df_boundaries *b, int level);
/* Unit i of a level. Borrowed; valid while b lives. */
DF_API const df_unit *df_boundaries_unit(const df_boundaries *b, int level, int i);
/* Index of the unit at level containing (lon, lat), or -1. A point on a
 * border shared by two units belongs to exactly one of them. Thread-safe. */
DF_API int df_boundaries_locate(const df_boundaries *b, int level, double lon, double lat);
/* Index of the unit whose normalised P-code equals pcode (IRQ-G15Q05 ≡
 * IQG15Q05), or -1. */
DF_API int df_boundaries_find_pcode(const df_boundaries *b, int level, const char *pcode);

/* ------------------------------------------------------------------------ */
/* Join                                                                      */
/* ------------------------------------------------------------------------ */

typedef struct df_join df_join;

typedef struct {
    size_t size;          /* sizeof the struct, set by df_join_opts_init: options can grow without breaking callers */
    int level;            /* admin level to join to (default 2); finer than the layer's: DF_EINVAL */
    int32_t from;         /* first date counted; DF_NO_DATE = the first in data */
    int32_t as_of;        /* last date counted; DF_NO_DATE = the latest in data */
    const char *log_path; /* decision log CSV, one row per record; NULL = none */
    int strict;           /* unmatched records make the join fail (DF_EUNMATCHED) */
    int prefer_points;    /* names and coordinates disagree: 0 = the names win, 1 = the point */
    int threads;          /* threads reading a large CSV file: 0 = every core (at most 16); the figures and the
                             decision log are the same on any number */
} df_join_opts;

DF_API void df_join_opts_init(df_join_opts *opts);

/* The figures of one unit, in individuals. */
typedef struct {
    int64_t displaced;       /* displaced into the unit */
    int64_t returned;        /* of those, since gone home from it */
    int64_t still_displaced; /* displaced - returned */
    int64_t returnees;       /* came home into the unit */
    int64_t families;        /* families of the displaced (where known) */
    long records;            /* records located in the unit, in the period */
    /* Snapshots: the latest snapshot date the figures come from (of the
     * operations added, the latest), DF_NO_DATE when no counted snapshot
     * has the unit: it was not assessed, which is not 0. */
    int32_t snapshot;
    int assessed; /* a record of the period is located in the unit */
} df_figures;

/* The balance: every input row is in exactly one bucket. */
typedef struct {
    df_read_stats read; /* rows, valid, rejected (by reason) */
    long matched;       /* valid rows located in a unit, in the period */
    long unmatched;     /* valid rows with no unit */
    long out_of_period; /* valid rows dated outside [from, as_of] */
    int64_t ind_matched, ind_unmatched, ind_out_of_period;
    /* How valid rows were placed, in the period or not (the ways add up to
     * matched + out-of-period rows that were placed). */
    long matched_by_pcode, matched_by_name, matched_by_point, swapped;
    long matched_by_alias; /* another name of the unit: layer fields or alias table */
    long matched_by_fuzzy; /* consonant skeleton or edit distance (see docs/reconcile.md) */
    long conflicts;        /* coordinates that contradict the stated P-code or names */
    long returns_unplaced; /* returns whose district of displacement is unknown */
    int64_t ind_returns_unplaced;
    int32_t from, as_of; /* the period actually used */
    int32_t snapshot;    /* DF_SNAPSHOTS: the snapshot date used (the latest of the operations') */
    long filtered;       /* rows left out by operation, where or dropped duplicates (read.filtered + read.dropped) */
    long other_level;    /* rows of a coarser level than the table's finest: a check, not counted */
    int64_t ind_other_level;
    /* matched + unmatched + out_of_period + other_level + filtered + read.rejected = read.rows;
     * ind_matched + ind_unmatched + ind_out_of_period + ind_other_level = read.individuals_valid */
} df_balance;

/* An operation counted by a snapshot join: the snapshot date it gives
 * (DF_NO_DATE: none on or before as-of), its rows and individuals counted. */
typedef struct {
    const char *name; /* "" for a table without operations */
    int32_t snapshot;
    long rows;
    int64_t individuals;
} df_operation_figure;

/* A table with rows of several admin levels counts its finest level; each
 * coarser (level, operation, date) is compared with the finest rows added
 * up to it. */
typedef struct {
    int level;             /* of the coarser rows (0: national) */
    const char *operation; /* "" when none */
    int32_t date;
    long rows;               /* coarser rows */
    int64_t stated, derived; /* their individuals; the finest rows' individuals in the same units */
    int units, differing;    /* units compared; of them, differing */
    int64_t largest;         /* the largest difference of a unit (absolute) */
    int in_period;           /* the date is counted (the snapshot of its operation, or in the period) */
} df_level_check;

/* Records from memory, the push API (docs/onepass.md): a join to feed
 * record by record (a binding, a service), then finish. ropts may be NULL
 * (its kind, household size and duplicates policy apply; a kind left
 * AUTO is increments: no header tells); jopts NULL: the defaults. The join
 * is the caller's from df_join_new, to df_join_free whether finished or
 * not; its figures are read only once df_join_finish returned DF_OK.
 * df_join_add counts the record as read and valid (a negative count is
 * DF_EINVAL). df_join_merge adds a part (new with the same boundaries and
 * level, no decision log; fed by another thread, say) into `into` and
 * leaves the part empty. Status and message in ctx, as for df_join_run. */
DF_API df_status df_join_new(df_ctx *ctx, const df_boundaries *b, const df_record_opts *ropts,
                             const df_join_opts *jopts, df_join **out);
DF_API df_status df_join_add(df_join *j, const df_record *r);
DF_API df_status df_join_merge(df_join *into, df_join *part);
DF_API df_status df_join_finish(df_join *j);

/* Read records, match each to a unit at opts->level, aggregate: new, one
 * read of ropts->path, finish. */
DF_API df_status df_join_run(df_ctx *ctx, const df_boundaries *b, const df_record_opts *ropts,
                             const df_join_opts *jopts, df_join **out);
DF_API void df_join_free(df_join *j);

DF_API const df_balance *df_join_balance(const df_join *j);
DF_API int df_join_level(const df_join *j);
/* Figures of unit i (as in df_boundaries_unit(b, level, i)). Borrowed. */
DF_API const df_figures *df_join_figures(const df_join *j, int i);

/* The kind the join read the table as (DF_KIND_AUTO resolved). */
DF_API df_table_kind df_join_kind(const df_join *j);
/* The operations of the table (one, named "", when it has none). Borrowed. */
DF_API int df_join_operation_count(const df_join *j);
DF_API const df_operation_figure *df_join_operation(const df_join *j, int i);
/* The level checks, sorted by level, operation and date. Borrowed. */
DF_API int df_join_level_check_count(const df_join *j);
DF_API const df_level_check *df_join_level_check(const df_join *j, int i);
/* The finest admin level of the table's rows (-1: no admin place stated). */
DF_API int df_join_rows_level(const df_join *j);

/* How one distinct stated name (with its parent) was reconciled, and how
 * many rows stated it. Strings borrowed from the join. */
typedef struct {
    int level;
    const char *name, *parent; /* as stated; parent "" when none */
    const char *how;           /* name, alt-name, alias, skeleton, fuzzy, unmatched */
    const char *pcode, *unit;  /* the unit matched ("" when unmatched) */
    double score;              /* fuzzy similarity; 1 for the exact ways */
    int ambiguous;             /* two units fit: never guessed */
    const char *candidates;    /* unmatched: the closest units with scores */
    long rows;
} df_name_decision;

/* The distinct name decisions, sorted by level, name and parent. */
DF_API int df_join_decision_count(const df_join *j);
DF_API const df_name_decision *df_join_decision(const df_join *j, int i);

/* ------------------------------------------------------------------------ */
/* Flows                                                                     */
/* ------------------------------------------------------------------------ */

/* Origin-destination flows: displacement runs from the origin to the
 * location; returns from the district of displacement to the place of
 * return. Counted per (origin unit, destination unit, period, status). */
typedef struct df_flows df_flows;

typedef struct {
    size_t size; /* sizeof the struct, set by df_flow_opts_init: options can grow without breaking callers */
    int origin_level, dest_level; /* 1..3 (default 2 and 2) */
    /* Origins kept: NULL = all; a preset of the layer's country profile
     * ("corridor" in Iraq's: the Mosul corridor districts Al-Mosul,
     * Al-Hamdaniya, Tilkaef, Telafar, Al-Hatra, Al-Shikhan, Al-Baaj,
     * Makhmour, Al-Shirqat; another country's preset is an error that lists
     * the presets); or a comma-separated list of P-codes
     * or names of units at any level (a flow is kept when its origin lies in
     * one of them). */
    const char *origins;
    int32_t from, to;  /* DF_NO_DATE: the first and the latest date in the data */
    df_step step;      /* periods: one flow per pair per period (NONE: one period) */
    int64_t min;       /* keep flows of at least this many individuals */
    int top;           /* keep the top N flows of each period by individuals (0: all) */
    int no_intra;      /* drop flows whose origin and destination are one unit */
    int totals;        /* with a step: add each pair's total over the whole period */
    int prefer_points; /* as in df_join_opts */
    /* DF_SNAPSHOTS: rows count people present at a date; a flow is the
     * change of a pair's count since its previous snapshot (the first
     * snapshot counts whole). DF_INCREMENTS are summed. DF_KIND_AUTO: the
     * kind the read finds (df_read_stats.kind: a DTM API table is snapshots). */
    df_table_kind kind;
} df_flow_opts;

DF_API void df_flow_opts_init(df_flow_opts *opts);

/* One flow. Units are indexes at the origin and destination levels. */
typedef struct {
    int origin, dest;
    df_movement status;
    int32_t period_start, period_end;
    int64_t families, individuals;
    int64_t cumulative; /* individuals of this pair and status up to this period's end */
    int rank;           /* 1 = the largest in its period and status */
    double share;       /* of all individuals moving in its period and status */
    int total;          /* a pair's total over all periods (written with --totals) */
    int withheld;       /* publish mode: withheld from the published outputs (docs/publish.md) */
} df_flow;

/* What happened to the rows: every valid row is in one bucket. */
typedef struct {
    df_read_stats read;
    long counted, out_of_period, unplaced, filtered;
    long no_origin; /* of unplaced: rows that state no origin ("Not available", empty) */
    int64_t ind_counted;
} df_flow_balance;

/* The push API of the flows, as the join's (df_join_new): new, add each
 * record, merge parts, finish; then read as df_flows_run's. */
DF_API df_status df_flows_new(df_ctx *ctx, const df_boundaries *b, const df_record_opts *ropts,
                              const df_flow_opts *fopts, df_flows **out);
DF_API df_status df_flows_add(df_flows *f, const df_record *r);
DF_API df_status df_flows_merge(df_flows *into, df_flows *part);
DF_API df_status df_flows_finish(df_flows *f);
DF_API df_status df_flows_run(df_ctx *ctx, const df_boundaries *b, const df_record_opts *ropts,
                              const df_flow_opts *fopts, df_flows **out);
DF_API void df_flows_free(df_flows *f);
DF_API int df_flows_count(const df_flows *f);
/* Flow i, sorted by period, status, then individuals (largest first). */
DF_API const df_flow *df_flows_get(const df_flows *f, int i);
DF_API const df_flow_balance *df_flows_balance(const df_flows *f);

/* The OD matrix, long form: origin_pcode, origin_name, dest_pcode,
 * dest_name, status, period_start, period_end, families, individuals (an
 * HXL row under the header when hxl). Atomic. */
DF_API df_status df_flows_write_matrix(df_ctx *ctx, const df_flows *f, const df_boundaries *b, const char *path,
                                       int hxl);

/* The OD matrix as a wide pivot: one row per origin, one column per
 * destination, individuals over the whole period, per status (a column
 * "status"). Atomic. */
DF_API df_status df_flows_write_wide(df_ctx *ctx, const df_flows *f, const df_boundaries *b, const char *path);

/* Net flows per unordered pair {A, B}, per period and status: a_to_b,
 * b_to_a, net (a_to_b - b_to_a) and direction. Atomic. */
DF_API df_status df_flows_write_net(df_ctx *ctx, const df_flows *f, const df_boundaries *b, const char *path);

/* Where flow lines start and end: a point inside each unit, or the
 * individuals-weighted centre of the record locations in the unit (when
 * there are any and the centre lies inside the unit; else the point). */
typedef enum { DF_ENDPOINTS_INSIDE, DF_ENDPOINTS_WEIGHTED } df_endpoints;

/* Flow lines (GeoJSON RFC 7946 or GPKG by extension): one LineString per
 * flow from the representative point of the origin unit (inside it) to that
 * of the destination; bend = 0 draws straight lines, bend > 0 quadratic arcs
 * whose control point stands bend x the chord length to the right of the
 * direction of travel, so that A->B and B->A never overlap; densified to 32
 * segments. Flows inside one unit are small loops (kind "intra"). With
 * nodes_path, one point per unit with inflow, outflow, net and intra. */
DF_API df_status df_flows_write_lines(df_ctx *ctx, const df_flows *f, const df_boundaries *b, const char *path,
                                      double bend, df_endpoints endpoints, const char *nodes_path);

/* ------------------------------------------------------------------------ */
/* Density                                                                   */
/* ------------------------------------------------------------------------ */

/* Kernel density of people at record locations, on a grid in a projected
 * CRS (docs/density.md has every formula). With u = d / R, d the distance
 * from a pixel centre to a point and R the radius, every kernel is zero for
 * u > 1 and, normalised to integrate to 1 over the plane, is c k(u) / R²:
 *   quartic      k = (1 - u²)²         c = 3/π
 *   triweight    k = (1 - u²)³         c = 4/π
 *   epanechnikov k = 1 - u²            c = 2/π
 *   triangular   k = 1 - u             c = 3/π
 *   uniform      k = 1                 c = 1/π
 *   gaussian     k = exp(-4.5 u²)      c = 9 / (2π (1 - e^-4.5))
 * (the Gaussian has σ = R/3 and is cut at R = 3σ, renormalised over the
 * disc so that it too integrates to 1). */
typedef enum {
    DF_KERNEL_QUARTIC,
    DF_KERNEL_TRIWEIGHT,
    DF_KERNEL_EPANECHNIKOV,
    DF_KERNEL_TRIANGULAR,
    DF_KERNEL_UNIFORM,
    DF_KERNEL_GAUSSIAN
} df_kernel;

/* The kernel's name ("quartic"). Static string. */
DF_API const char *df_kernel_name(df_kernel kernel);
/* The kernel named name (case-insensitive), or -1. */
DF_API int df_kernel_parse(const char *name);

/* How R is chosen when not given, from the projected points: n points, the
 * weighted standard distance SD = sqrt(σx² + σy²), the weighted median
 * distance Dm to the weighted mean centre (docs/density.md).
 *   SILVERMAN  h = 0.9 min(SD, Dm / sqrt(ln 2)) n^(-1/5)  (the spatial
 *              variant ArcGIS's Kernel Density uses)
 *   SCOTT      h = sqrt((σx² + σy²) / 2) n^(-1/6)  (Scott's rule in 2-D)
 * h is R for the compact kernels and σ (R = 3h) for the Gaussian. */
typedef enum { DF_BANDWIDTH_FIXED, DF_BANDWIDTH_SILVERMAN, DF_BANDWIDTH_SCOTT } df_bandwidth;

/* What a point weighs. */
typedef enum { DF_WEIGHT_INDIVIDUALS, DF_WEIGHT_FAMILIES, DF_WEIGHT_RECORDS } df_weight;

typedef struct {
    size_t size;      /* sizeof the struct, set by df_density_opts_init: options can grow without breaking callers */
    df_kernel kernel; /* DF_KERNEL_QUARTIC */
    double radius;    /* R in metres (> 0 unless a bandwidth rule is set) */
    df_bandwidth bandwidth; /* DF_BANDWIDTH_FIXED: use radius */
    double pixel;           /* pixel size in metres (required, > 0) */
    /* Target CRS, any string PROJ/GDAL read ("EPSG:32638", WKT, PROJ);
     * NULL = the WGS84 UTM zone of the points' median location. */
    const char *t_srs;
    /* Grid extent in t_srs units: xmin, ymin, xmax, ymax, used as given when
     * has_extent. Otherwise the boundaries' extent when given, else the
     * points' extent plus R; both snapped outwards to multiples of pixel. */
    int has_extent;
    double extent[4];
    int mask;            /* with boundaries: pixels whose centre is outside = nodata */
    int raw;             /* 1: raw sums Σ w k(u) (no c / R², as QGIS's "Raw") */
    df_weight weight;    /* DF_WEIGHT_INDIVIDUALS */
    int status;          /* -1 all (default), DF_DISPLACED or DF_RETURNED only */
    int32_t from, as_of; /* dates counted, inclusive; DF_NO_DATE = open */
    int threads;         /* 0 = all cores */
    int small_radius;    /* 1: accept a radius below the pixel size (refused by default) */
    double max_pixels;   /* refuse larger grids; DF_DENSITY_MAX_PIXELS by default */
} df_density_opts;

/* Limits that bound a density's time and memory (docs/density.md):
 * the radius is at most DF_DENSITY_MAX_RATIO pixels (a disc of at most
 * π 10⁶ pixels a point); the grid at most max_pixels pixels (12 bytes
 * each while it is made); the radius at least the pixel size unless
 * small_radius, and at least DF_DENSITY_MIN_RADIUS units even then. */
#define DF_DENSITY_MAX_RATIO  1000
#define DF_DENSITY_MAX_PIXELS 50000000.0
#define DF_DENSITY_MIN_RADIUS 0.001

DF_API void df_density_opts_init(df_density_opts *opts);
/* Check the options before any work: pixel, radius (finite, within the
 * limits above), kernel, and with has_extent the extent and its grid size.
 * DF_EINVAL with a message naming the option and the limit. */
DF_API df_status df_density_opts_check(df_ctx *ctx, const df_density_opts *opts);

typedef struct df_density df_density;

/* What a density run computed, for the log and the metadata. */
typedef struct {
    int width, height;      /* pixels */
    double geotransform[6]; /* GDAL's: x0, pixel, 0, y0, 0, -pixel */
    char crs[64];           /* "EPSG:32638", or the t_srs string (truncated) */
    int epsg;               /* EPSG code of the CRS, 0 when unknown */
    df_kernel kernel;
    double radius; /* R, metres */
    int raw;
    const char *units;   /* "people/km2" or "raw kernel sum" (static) */
    double total_weight; /* Σ w of the points kept */
    double grid_weight;  /* Σ value x pixel area over valid pixels (people) */
    double edge_loss;    /* kernel mass falling outside the grid (people) */
    double mask_loss;    /* kernel mass on masked pixels (people) */
    double max;          /* largest pixel value */
    long points;         /* points kept */
    long filtered;       /* valid records left out by status or date */
    long no_point;       /* valid records without coordinates */
    long swapped;        /* points outside the boundaries whose swap is inside: swapped */
    df_read_stats read;
} df_density_info;

/* Read the records of ropts (lon/lat and weights), keep those opts selects,
 * project them, and compute the density on the grid, exactly: every pixel
 * is Σ w c k(|centre - point| / R) / R² (x 10⁶ for people/km²) over the
 * points, on all cores. b (may be NULL) gives the default extent and the
 * mask. Fails with DF_EINVAL on bad options or an empty selection without
 * an extent, DF_EPROJ when the CRS is unusable, DF_ENOMEM when the grid
 * does not fit. *out owns the grid; free it with df_density_free. */
/* The push API of the density, as the join's (df_join_new): new, add each
 * record (its point and weights are kept in a temporary file), merge parts
 * (their points after ours), finish (the raster of opts); then read and
 * write as df_density_run's. */
DF_API df_status df_density_new(df_ctx *ctx, const df_boundaries *b, const df_record_opts *ropts,
                                const df_density_opts *opts, df_density **out);
DF_API df_status df_density_add(df_density *d, const df_record *r);
DF_API df_status df_density_merge(df_density *into, df_density *part);
DF_API df_status df_density_finish(df_density *d);
DF_API df_status df_density_run(df_ctx *ctx, const df_record_opts *ropts, const df_boundaries *b,
                                const df_density_opts *opts, df_density **out);
/* The same on n weighted points given as WGS84 lon/lat arrays (borrowed). */
DF_API df_status df_density_points(df_ctx *ctx, const double *lon, const double *lat, const double *weight, long n,
                                   const df_boundaries *b, const df_density_opts *opts, df_density **out);
DF_API void df_density_free(df_density *d);

/* Borrowed; valid while d lives. */
DF_API const df_density_info *df_density_get_info(const df_density *d);
/* The grid, row-major from the top row; masked pixels hold DF_DENSITY_NODATA.
 * Borrowed; valid while d lives. */
DF_API const float *df_density_values(const df_density *d);

#define DF_DENSITY_NODATA (-9999.0f)

/* Write the grid as Float32 GeoTIFF (format NULL or "GTiff": tiled, DEFLATE)
 * or "COG" (with overviews, averaged), with nodata, CRS, geotransform,
 * statistics and metadata (units, kernel, radius, total weight, edge loss),
 * and a QGIS style path.qml beside it (pseudocolour ramp 0..max).
 * creation_options: NULL-terminated KEY=VALUE list passed to GDAL over the
 * defaults, or NULL. Atomic, for both files. */
DF_API df_status df_density_write(df_ctx *ctx, const df_density *d, const char *path, const char *format,
                                  char **creation_options);

/* Still displaced as of the join's date, from a density of the displaced
 * (status DF_DISPLACED, the join's period) in place: each pixel is scaled by
 * still_displaced / displaced of the unit at the join's level containing
 * its centre (pixels in no unit, or in a unit nobody was displaced to, are
 * left as they are). Returns state the district people were displaced in,
 * not a point: they are taken out of each unit in proportion to where its
 * displaced people are (docs/density.md). */
DF_API df_status df_density_still_displaced(df_ctx *ctx, df_density *d, const df_join *j, const df_boundaries *b);

/* The join's displaced per km² burned on the density's grid (same CRS,
 * extent and pixels): each pixel takes the figure of the unit at the join's
 * level that contains its centre (nodata outside every unit), so the two
 * rasters can be compared cell by cell. Float32 GeoTIFF, atomic. */
DF_API df_status df_density_write_choropleth(df_ctx *ctx, const df_density *d, const df_join *j, const df_boundaries *b,
                                             const char *path);

/* ------------------------------------------------------------------------ */
/* Jobs: the whole run after a data round (docs/jobs.md)                     */
/* ------------------------------------------------------------------------ */

typedef struct df_job df_job;

/* Read a job file (INI) and check it before any work: every section and key
 * known, every value valid, every input file present. Relative paths resolve
 * against the job file's folder. An error names the file, the line and the
 * key. profiles: the folder of the country profiles shipped with dispflow
 * (shapes/profiles; NULL = none): a layer's profile brings its labels, its
 * alias table (unless the job says shipped_aliases = no) and its presets. */
DF_API df_status df_job_load(df_ctx *ctx, const char *path, const char *profiles, df_job **out);
DF_API void df_job_free(df_job *job);
/* The output folder (resolved). Borrowed. */
DF_API const char *df_job_output(const df_job *job);
/* Write the bundle to dir instead (as given, not relative to the job).
 * "{as_of}" in it (or in [job] output) is replaced by the as-of date,
 * yyyy-mm-dd, so that each week's bundle has its own folder. */
DF_API df_status df_job_set_output(df_ctx *ctx, df_job *job, const char *dir);
/* Count up to this date instead of [job] as_of (days; `run --as-of`). */
DF_API df_status df_job_set_as_of(df_ctx *ctx, df_job *job, int32_t as_of);
/* Publish mode on or off, as the job's [publish] enabled (docs/publish.md):
 * figures on fewer than k families withheld, with enough beside them that
 * none can be worked out; nothing row-level in the bundle. */
DF_API void df_job_set_publish(df_job *job, int on);
/* Start a new series in the publish ledger on purpose, as the job's
 * [publish] new_series (docs/publish.md). */
DF_API void df_job_set_new_series(df_job *job, int on);

/* Run the job: join at every level asked for, flows, density, maps, the
 * situation report, the QGIS project and the manifest, written into a
 * temporary folder beside the output folder and swapped into place only
 * when complete (a failed run leaves the previous bundle untouched). The
 * same inputs and job give byte-identical files. Progress goes through the
 * context's progress callback, one stage at a time. */
DF_API df_status df_job_run(df_ctx *ctx, const df_job *job);

/* ------------------------------------------------------------------------ */
/* Write                                                                     */
/* ------------------------------------------------------------------------ */

/* Every writer of the library writes atomically (a temporary file beside
 * the target, renamed when complete), follows a symbolic link to its file
 * (and says so in the log), keeps the mode of the file it replaces, and
 * refuses a target that exists and is not a regular file (a device, a FIFO,
 * a socket, a folder).
 *
 * Call this before any work: it refuses outputs that would destroy a file
 * the user owns, an output that is one of the inputs or another output
 * (the same device and inode, or the same resolved path when it does not
 * exist yet; a .shp input counts with its .shx, .dbf, .prj and .cpg), and
 * an output that is not a regular file. NULL, "" and "-" entries are
 * skipped. DF_EINVAL (or DF_EIO for a device, FIFO, socket or folder),
 * the message naming both paths. */
DF_API df_status df_outputs_check(df_ctx *ctx, const char *const *inputs, int ninputs, const char *const *outputs,
                                  int noutputs);

/* Write one feature per unit (geometry + figures) to path, atomically
 * (temporary file beside it, renamed when complete). format: "GeoJSON"
 * (RFC 7946), "GPKG", "CSV", or NULL to choose by extension.
 * creation_options: NULL-terminated KEY=VALUE list passed to GDAL, or NULL. */
DF_API df_status df_join_write(df_ctx *ctx, const df_join *j, const df_boundaries *b, const char *path,
                               const char *format, char **creation_options);

/* ------------------------------------------------------------------------ */
/* Sample data                                                               */
/* ------------------------------------------------------------------------ */

/* Write the embedded sample: a deterministic Emergency-Tracking-style CSV of
 * Mosul-corridor displacement and returns from 17 Oct 2016, in the
 * spellings field teams use. Same seed, same bytes. Atomic. */
DF_API df_status df_sample_write(df_ctx *ctx, const char *path, unsigned seed);

#ifdef __cplusplus
}
#endif

#endif /* DISPFLOW_H */
