/*
 * dfint.h — internal declarations shared by the engine's modules.
 * Internal non-static symbols carry a double underscore: df__name.
 */
#ifndef DFINT_H
#define DFINT_H

#include "dispflow.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <geos_c.h>
#include <proj.h>

#if defined(__GNUC__)
#define DF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define DF_PRINTF(a, b)
#endif

/* ---- context.c ---------------------------------------------------------- */

struct df_ctx {
    GEOSContextHandle_t geos;
    PJ_CONTEXT *proj;
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
df_status df__error(df_ctx *ctx, df_status status, const char *fmt, ...) DF_PRINTF(3, 4);
void df__log(df_ctx *ctx, df_log_level level, const char *fmt, ...) DF_PRINTF(3, 4);
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
/* Why GDAL could not open path, when it said nothing: the file's own error
 * ("No such file or directory") or that no driver knows it. Borrowed. */
const char *df__open_failure(df_ctx *ctx, const char *path);
/* The names of a dataset's layers, "a, b, c", into buf (sources.c). */
void df__layer_names(void *ds, char *buf, size_t cap);

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

/* ---- atomic.c: write to a temporary file beside the target, then rename -- */

/* Fills tmp with "<dir>/.<base>.tmp-<pid>-<n><ext>" for path. */
df_status df__temp_path(df_ctx *ctx, const char *path, char *tmp, size_t cap);
/* fsync + rename tmp onto path; removes tmp on failure. */
df_status df__commit(df_ctx *ctx, const char *tmp, const char *path);
/* Close a file written at tmp and commit it; a write or close error
 * removes tmp and fails with DF_EIO. */
df_status df__commit_file(df_ctx *ctx, FILE *f, const char *tmp, const char *path);
/* Close a GDAL dataset (GDALDatasetH, may be NULL) written at tmp and, when
 * st and the close are DF_OK, commit it; otherwise remove tmp. Returns the
 * final status. */
df_status df__commit_dataset(df_ctx *ctx, void *ds, const char *tmp, const char *path, df_status st);
/* A new vector dataset (GDALDatasetH) at tmp for path with the GDAL driver
 * `driver`; when path is a GeoPackage holding other tables, a copy of it
 * without the layers named in replace (NULL-terminated): the user's other
 * layers are kept. NULL on failure (context set; tmp removed). */
void *df__create_vector(df_ctx *ctx, const char *driver, const char *tmp, const char *path, const char *const *replace);

/* ---- write.c: helpers every GDAL writer shares --------------------------- */

/* A new WGS84 spatial reference (OGRSpatialReferenceH) in lon/lat order;
 * the caller destroys it. */
void *df__wgs84(void);
/* A field of a layer: its name and OGRFieldType. */
typedef struct {
    const char *name;
    int type;
} df__field;
/* A new WGS84 layer (OGRLayerH) with these fields in an open dataset
 * (GDALDatasetH; RFC 7946 for GeoJSON); NULL on failure, the error naming
 * path. geometry is an OGRwkbGeometryType. */
void *df__create_layer(df_ctx *ctx, void *ds, const char *path, const char *name, int geometry, const df__field *fields,
                       int nfields);
/* The same with layer creation options (char **, KEY=VALUE; NULL: none). */
void *df__create_layer_co(df_ctx *ctx, void *ds, const char *path, const char *name, int geometry,
                          const df__field *fields, int nfields, char **options);
/* Set a date field of an OGR feature (OGRFeatureH); DF_NO_DATE leaves it unset. */
void df__set_date_field(void *feature, int field, int32_t days);

/* ---- fields.c: parsing of values ---------------------------------------- */

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

/* ---- sources.c: the rows of a records file, as strings ------------------- */

typedef struct df_csv df_csv; /* csv.c */
typedef enum { DF__SRC_CSV, DF__SRC_JSON, DF__SRC_OGR } df__source_kind;

typedef struct {
    df__source_kind kind;
    df_ctx *ctx;
    const char *path;
    df_csv *csv;
    struct json_object *json;
    struct json_object *items; /* borrowed from json */
    size_t item;
    void *ds;          /* GDALDatasetH */
    void *layer;       /* OGRLayerH */
    int point_columns; /* OGR: two extra columns from point geometries */
    char **header;     /* owned copies */
    int nheader;
    /* the current row, for JSON and OGR */
    char *buf;
    size_t buf_cap;
    char **cells;
    size_t *lens;
    int cells_cap;
    long feature;
} df__source;

/* Open opts->path by its kind: .csv/.tsv/.txt, a pipe or "-" as CSV; .json
 * as a DTM API response; anything else through OGR (its header is known at
 * once; a CSV's header is the caller's to read and set). */
df_status df__source_open(df_ctx *ctx, const df_record_opts *opts, df__source *src);
/* The next row: 1 with a row, 0 at the end, -1 on error (context set). */
int df__source_next(df__source *src, char ***cells, size_t **lens, int *n, long *line);
/* Keep a copy of these cells as the header. 0 ok, -1 out of memory. */
int df__source_set_header(df__source *src, char **cells, int n);
void df__source_close(df__source *src);

/* ---- ingest.c ------------------------------------------------------------ */

/* Exact duplicates are looked for among this many distinct rows at most
 * (4M: about 128 MB); rows past it are counted as unchecked. Tests lower it. */
extern long df__dup_max_rows;

/* df_records_read on up to nthreads threads: the file is cut into byte
 * ranges at record boundaries, thread k calls on_record with users[k], and
 * the rejections reach on_reject (with reject_user) after the threads end,
 * in file order, with their true lines. record.line is -1 in such a read.
 * A source that cannot be cut (not a plain CSV file, under 8 MB) is read on
 * the calling thread with users[0]. *used says how many threads read. */
df_status df__records_read_parallel(df_ctx *ctx, const df_record_opts *opts, int nthreads, df_record_fn on_record,
                                    void **users, df_reject_fn on_reject, void *reject_user, df_read_stats *stats,
                                    int *used);

/* ---- names.c: normalisation of names and P-codes ------------------------ */

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

/* ---- reconcile.c: a stated name to a unit --------------------------------- */

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

/* ---- csv.c: RFC 4180 reader, streaming ---------------------------------- */

typedef struct df_csv df_csv;

/* Open path; delimiter 0 = detect from the first line. A UTF-8 BOM is
 * skipped. */
df_status df__csv_open(df_ctx *ctx, const char *path, char delimiter, df_csv **out);
/* Next record: fields point into the reader's buffer and live until the next
 * call. Returns 1 with a record, 0 at end of file, -1 on error (context set).
 * *line is the physical line the record starts on. */
int df__csv_next(df_csv *csv, char ***fields, size_t **lengths, int *nfields, long *line);
/* A field longer than this is an error (file:line, field), so that one huge
 * field is never held whole; after df__csv_skip_long, df__csv_next instead
 * skips its record without holding it and returns 2, *nfields the 1-based
 * number of the long field (issue 17 item 11). */
#define DF__CSV_MAX_FIELD ((size_t)64 << 20)
void df__csv_skip_long(df_csv *csv);
char df__csv_delimiter(const df_csv *csv);
/* Byte offset in the file of the next record (after the last one returned). */
uint64_t df__csv_offset(const df_csv *csv);
/* Physical line of the next record. */
long df__csv_line(const df_csv *csv);
/* Open for a parallel read of one byte range: the records that start in
 * [start, end); start must be the start of a record. Line numbers count
 * from 1 at the range's first record. */
df_status df__csv_open_range(df_ctx *ctx, const char *path, char delimiter, uint64_t start, uint64_t end, df_csv **out);
void df__csv_close(df_csv *csv);
/* "UTF-16LE" or "UTF-16BE" when the first n bytes of a file are UTF-16 text
 * (a byte-order mark, or ASCII with every other byte NUL), else NULL. */
const char *df__utf16_name(const unsigned char *b, size_t n);
/* Write one field, quoted per RFC 4180 only when it must be (NULL = empty);
 * a text a spreadsheet would run as a formula (=, +, -, @ first, not a
 * number) is quoted behind a ' (OWASP CSV injection). 0 ok, -1 on a write
 * error. */
int df__csv_put(FILE *f, const char *s);

/* ---- flows.c ------------------------------------------------------------- */

int df__flows_origin_level(const df_flows *f);
/* Are the origins ("corridor", P-codes or names) units of b? */
df_status df__flows_origins_check(df_ctx *ctx, const df_boundaries *b, const char *spec);
int df__flows_dest_level(const df_flows *f);
/* The individuals-weighted centre of the record locations in a unit; -1 when none. */
int df__flows_centre(const df_flows *f, int level, int unit, double *x, double *y);
/* flows_write.c: where a flow line ends in a unit (WGS84): the weighted
 * centre when asked for, known and inside the unit; else a point inside the
 * unit (GEOS point on surface). 0 ok, -1 when the unit has no geometry. */
int df__flows_endpoint(df_ctx *ctx, const df_flows *f, const df_boundaries *b, int level, int unit, df_endpoints how,
                       double *x, double *y);

/* ---- job.c: the job file of `dispflow run` (keys in docs/jobs.md) -------- */

#define DF__MAX_BREAKS 8 /* at most 9 classes: ColorBrewer's largest YlOrRd */

struct df_job {
    char *path, *dir;   /* the job file and its folder (paths resolve against it) */
    char *profiles_dir; /* the country profiles shipped with dispflow, or NULL */
    /* [job] */
    char *title, *output, *origins;
    char *database, *schema; /* PG:... and its schema template: the layers in PostGIS too; NULL = not */
    char *output_template;   /* the output as given, {as_of} not yet replaced (output is with it replaced) */
    int32_t from, as_of;     /* DF_NO_DATE: the first and the latest date in the data */
    int step;                /* df_step of the periods */
    /* [records] */
    char *records_path, *records_layer, *records_map;
    char delimiter;
    int header, kind, default_status;
    double household_size;
    char *operation, *where;                 /* "A, B"; "COL=V,V & COL=V" as written */
    int duplicates, assessments;             /* df_duplicates; 1: add assessment types */
    char *operation_buf, *where_buf;         /* the lists cut into ... */
    const char *operations[17], *wheres[17]; /* ... NULL-terminated lists (NULL when unset) */
    /* [boundaries] */
    char *adm[4]; /* the boundary file of each level; NULL = none */
    char *aliases;
    int shipped_aliases, prefer_points; /* shipped_aliases: the country profile's alias table */
    char *profile, *labels, *name_field;
    int finest; /* the finest level with a boundary file */
    /* [join] */
    int levels; /* bit l set: join at level l */
    /* [flows] */
    int flows, origin_level, dest_level, flow_intra, endpoints;
    int64_t flow_min, flow_top;
    double bend;
    /* [density] */
    int density, density_status, kernel, bandwidth, mask, small_radius;
    int density_step; /* df_step: a raster per period too (issue 14 item 3); DF_STEP_NONE: none */
    double radius, pixel, max_pixels;
    char *t_srs;
    /* [report] */
    int maps;
    int64_t top_flows;
    /* credits, printed on every map and in the report (issue 13 item 4) */
    char *boundaries_credit, *records_source; /* [boundaries] credit; [records] source (alias [job] source) */
    char *report_organisation, *report_contact, *report_disclaimer, *report_logo, *report_map_id;
    /* [maps] */
    int classes; /* DF__CLASSES_*, when no breaks are given */
    int nbreaks; /* [maps] breaks, ascending; 0: none given */
    double breaks[DF__MAX_BREAKS];
    int circles;               /* proportional circles */
    int records_layer_mode;    /* df__records_layer */
    int64_t records_layer_max; /* auto: no records layer above this many records with coordinates; 0: no limit */
    /* [publish] */
    int publish;
    int64_t publish_k;
    char *publish_ledger;   /* the series' release ledger (docs/publish.md); NULL: none */
    int64_t publish_round;  /* publish figures rounded to a multiple of this; 0: exact */
    int publish_new_series; /* start a new series in the ledger on purpose */
};

/* The layers "flows" and (with nodes) "flow_nodes" of f, as
 * df_flows_write_lines writes them, in an open dataset (GDALDatasetH; path
 * names it in messages). Withheld flows are left out. */
df_status df__flows_write_layers(df_ctx *ctx, const df_flows *f, const df_boundaries *b, void *ds, const char *path,
                                 double bend, df_endpoints endpoints, int nodes);
/* write.c: the join's layer (one feature per unit) in an open dataset. */
df_status df__join_write_layer(df_ctx *ctx, const df_join *j, const df_boundaries *b, void *ds, const char *layer_name,
                               char **lco, const char *path);

/* ---- rtree.c: a GeoPackage layer's spatial index, built once in bulk ------ */

/* The boxes of a layer's features, gathered while it is written (24 bytes
 * each), then packed into the layer's R-tree in one go. */
typedef struct df__rtree df__rtree;
df__rtree *df__rtree_new(void);
void df__rtree_free(df__rtree *t); /* NULL: nothing */
/* 0: out of memory. */
int df__rtree_add(df__rtree *t, int64_t id, double minx, double miny, double maxx, double maxy);
size_t df__rtree_count(const df__rtree *t);
/* The gpkg_rtree_index of layer table of the GeoPackage at gpkg (closed by
 * GDAL, the layer made with SPATIAL_INDEX=NO): the virtual table, its
 * triggers and the gpkg_extensions row, as GDAL makes them, with t's boxes
 * (reordered). */
df_status df__rtree_write(df_ctx *ctx, df__rtree *t, const char *gpkg, const char *table);

/* ---- run.c, sitrep.c, manifest.c: the bundle of `dispflow run` ----------- */

/* The headline's figures in df__publish_stats.total_withheld (families go with displaced). */
enum { DF__TOTAL_DISPLACED = 1, DF__TOTAL_RETURNED = 2, DF__TOTAL_STILL = 4 };
/* What publish mode withheld, in counts only (for the manifest). */
typedef struct {
    long units, units_primary; /* unit rows withheld, of them for their own sake */
    long flows, flows_primary;
    long pixels;   /* density pixels masked */
    int uncovered; /* 1 when a withheld figure is left determined (no published figure could cover it) */
    /* with a ledger (ledger.c): */
    long release, series; /* this release's number in the ledger, its series; 0: no ledger */
    long changed;         /* figures withheld for a small difference from an earlier release */
    int total_withheld;   /* the headline totals withheld (a small difference, or to cover one): DF__TOTAL_ bits */
    int flows_total_withheld;
    int change_withheld; /* the sitrep's change column withheld */
} df__publish_stats;

/* [report] records_layer: whether layers.gpkg copies the records. */
enum { DF__RECORDS_LAYER_AUTO, DF__RECORDS_LAYER_ALWAYS, DF__RECORDS_LAYER_NO };

/* Everything a run computed, for the report and the manifest. Borrowed. */
typedef struct {
    const df_job *job;
    const df_boundaries *b[4]; /* the boundaries of each level joined; NULL = not joined */
    int file_units[4];         /* units in the boundary file of each level (0: no file) */
    const df_join *join[4];    /* the join at each level; NULL = not joined */
    int level;                 /* the finest level the records reach: the headline, the maps, the decision log */
    int unreached;             /* bit l: a level no record reaches (no table, layer or map) */
    const df_boundaries *fine; /* the finest boundary file: flows, density, maps */
    int has_prev;              /* prev holds the totals one step earlier, as of prev_as_of */
    df_figures prev;
    int32_t prev_as_of, prev_snapshot;
    const df_flows *flows;     /* NULL when off */
    const df_density *density; /* NULL when off */
    const char *density_file;  /* its file name in the bundle */
    int nmaps;
    const char *map_file[4], *map_title[4]; /* the map pictures in the bundle */
    const struct df__map *map_spec;         /* the maps as drawn (nmaps), drawn again as vectors in the PDF */
    long record_points;                     /* features of the records layer */
    long records_not_copied;                /* > 0: no records layer; the records with coordinates left in the input */
    const df__publish_stats *publish;       /* publish mode: what was withheld; NULL otherwise */
    /* The classes of each joined level (df__classes_for on the displaced,
     * withheld units left out): every map and the QGIS style of the level */
    double breaks[4][DF__MAX_BREAKS];
    int nbreaks[4];
} df__report;

/* sitrep.md and sitrep.html (self-contained: CSS and the maps inline) in dir. */
df_status df__sitrep_write(df_ctx *ctx, const df__report *r, const char *dir);
/* The credit line of every map and of the report, never a local path:
 * "Source: ... | Boundaries: ... | organisation | Made with dispflow V"
 * ([records] source, else the records file's name; [boundaries] credit,
 * else the boundary file's name). */
void df__report_credits(const df__report *r, char *out, size_t cap);
/* The period in words: "17 Oct 2016 to 2 May 2017"; for snapshots the
 * snapshot date and operation: "Snapshot of 30 May 2017 (operation: Iraq conflict)". */
void df__report_period(const df__report *r, char *out, size_t cap);
/* manifest.json in dir: inputs (path, SHA-256, rows or features),
 * parameters, versions, outputs (the files of dir: SHA-256, bytes, layers
 * with feature counts, table rows) and the balance. */
df_status df__manifest_write(df_ctx *ctx, const df__report *r, const char *dir);
/* Lowercase hex SHA-256 of a file into hex (65 bytes). 0 ok, -1 unreadable. */
int df__sha256_file(const char *path, char hex[65]);

/* The records options the job says (borrowing the job's strings). */
void df__job_record_opts(const df_job *job, df_record_opts *ro);

/* Every key of the job with its value as text (NULL: unset), in the order
 * of docs/jobs.md. */
typedef int (*df__job_visit)(const char *section, const char *key, const char *value, void *user);
void df__job_each(const df_job *job, df__job_visit fn, void *user);
/* A path of the job (absolute, or relative to the working folder, as the
 * job holds them) relative to the job file's folder, lexically: the same
 * text whichever folder the run starts in and however the job's own path
 * is written. For the manifest: no output holds a local path. */
void df__job_relative(const df_job *job, const char *path, char *out, size_t cap);
/* text with "{as_of}" replaced by the date (yyyy-mm-dd; kept when DF_NO_DATE). */
void df__job_expand(const char *text, int32_t as_of, char *out, size_t cap);
/* The map ID when [report] map_id is not set. */
#define DF__DEFAULT_MAP_ID "DF-{as_of}"
/* The density options a job's run uses (checked when the job is loaded). */
void df__job_density_opts(const df_job *job, df_density_opts *o);

/* ---- publish.c: statistical disclosure control (docs/publish.md) ---------- */

typedef struct df__ledger df__ledger;

/* One figure of a table with totals, as an edge between the two sums it
 * takes part in (as a term or as the total); node 0 is "no sum". */
typedef struct {
    int a, b;        /* sum nodes, 0 .. nnodes-1 */
    int64_t support; /* families behind the figure */
    int locked;      /* its fate is decided elsewhere (a published total, a figure withheld by another
                        table): left as it is, never chosen */
    int withheld;    /* in for locked figures; out: withheld */
    int primary;     /* out: withheld for its own sake, 0 < support < k, or forced */
    int force;       /* withheld for its own sake whatever its support (a small difference from an
                        earlier release); a locked figure with force is withheld and covered */
} df__sdc_cell;

/* pinned[e] = 1 for every withheld figure the published ones determine
 * exactly (a bridge of the graph of withheld edges). 0 ok, -1 out of memory. */
int df__sdc_pinned(const df__sdc_cell *cells, int n, int nnodes, unsigned char *pinned);
/* Withhold every figure of support 0 < s < k (primary), then, one at a
 * time, a published figure that puts a pinned small figure on a cycle (the
 * least support first) until no small figure is pinned; withheld figures
 * that are not small and stay pinned are published again (they protect
 * nothing). Returns the number withheld, -1 out of memory, -2 when a small
 * figure cannot be covered (a locked total equals it; it stays withheld). */
int df__sdc_withhold(df__sdc_cell *cells, int n, int nnodes, int64_t k);

/* publish_joint.c: all of a release's sums at once, as linear equations
 * (each sum of coef * variable is 0). Term t: coef[t] * var[t] in sum
 * row[t]. exempt[v]: determining v tells nothing (its value is 0, or it is
 * published nowhere but equals a published total). */
typedef struct {
    int nvars, nrows, nterms;
    const int *row, *var, *coef;
    const unsigned char *exempt;
} df__sdc_system;
/* A figure of the joint system: variables first .. first + nvars - 1,
 * withheld or published together (a unit's four figures, a flow). */
typedef struct {
    int first, nvars;
    int64_t support; /* families behind it: the least is chosen first */
    int withheld;    /* in and out */
    int primary;     /* withheld for its own sake: never published again */
    int locked;      /* its fate is decided elsewhere: never chosen, never published again */
    int last_resort; /* chosen only when no other figure will do (a headline total) */
} df__sdc_group;
/* While a withheld variable that is not exempt is determined by the
 * published ones (exact Gaussian elimination), withhold for it one
 * published group that takes part in the sums determining it; then
 * publish again every withheld group that is not primary and whose
 * variables are all determined. *uncovered: variables only locked groups
 * determine (they stay withheld). Returns the groups withheld, -1 out of
 * memory, -3 when the elimination overflows 64-bit integers. */
int df__sdc_joint(const df__sdc_system *s, df__sdc_group *g, int ngroups, int *uncovered);

/* join.c, for publish mode: the families behind unit i's displaced,
 * returned and returnees (individuals / household size, rounded up, where
 * a table has no families), and whether its figures are withheld from the
 * published outputs (the writers leave them empty). */
void df__join_support(const df_join *j, int i, int64_t out[3]);
void df__join_withhold(df_join *j, int i, int withheld);
int df__join_withheld(const df_join *j, int i);
int df__join_units(const df_join *j);
/* Unit i's figures to change in place (publish mode's rounding). */
df_figures *df__join_figures_rw(df_join *j, int i);
/* The figures of all units added up as of an earlier date, from the join's
 * own (unit, date) bins, with no second read: the same start; snapshots:
 * the latest snapshot on or before as_of (*snapshot, else DF_NO_DATE). */
df_figures df__join_totals_as_of(const df_join *j, int32_t as_of, int32_t *snapshot);
/* The same per unit: out[df__join_units(j)] (zeroed first) holds each unit's
 * figures as of an earlier date, for the change since then. 0 ok, -1 out of
 * memory. */
int df__join_units_as_of(const df_join *j, int32_t as_of, df_figures *out);

/* ---- periods.c: the figures of each unit per period (issue 14 item 3) ----- */

/* Per unit and period (the flows' calendar periods of step, cut to the
 * join's from..as_of): new displaced, new returned, and displaced, returned,
 * still displaced as of the period's last day, from the join's bins. Units
 * counted in no period are left out. *out is NULL (and DF_OK) for an undated
 * table. The join and boundaries are borrowed: keep them alive. */
typedef struct df__periods df__periods;
df_status df__periods_compute(df_ctx *ctx, const df_join *j, const df_boundaries *b, int step, df__periods **out);
/* The layer "periods" (unit x period, period_start / period_end dates) in an
 * open GDALDatasetH; path names it in errors. */
df_status df__periods_write_layer(df_ctx *ctx, const df__periods *p, void *ds, const char *path);
/* The same rows as CSV with an HXL row, atomically. */
df_status df__periods_write_csv(df_ctx *ctx, const df__periods *p, const char *path);
long df__periods_features(const df__periods *p);
int64_t df__periods_max_still(const df__periods *p); /* the largest still displaced of any row */
void df__periods_free(df__periods *p);
/* flows.c: flow i, to mark it withheld. */
df_flow *df__flows_row(df_flows *f, int i);
/* density.c: pixels of d with people on fewer than k families of support
 * (support: the same grid, uniform kernel, raw sums of families) become
 * nodata. Returns the pixels masked, -1 when the grids differ. */
long df__density_mask(df_density *d, const df_density *support, double k);
/* density.c: every valid pixel of d times factor[pixel]; max and the people
 * on the grid follow. */
void df__density_scale(df_density *d, const float *factor);
/* density.c, for tests: the points a density run grids at once (<= 0: the
 * default, 1 << 20; it also bounds the readers' blocks together and every
 * other pass's block), which resets the peak; and the most points held in
 * memory at once since (buffer capacities; meaningful when runs do not
 * overlap). Not thread-safe: set it before the runs. */
void df__density_test_chunk(long points);
long df__density_test_peak(void);

/* Withhold units of every joined level (join[l], NULL when the level is not
 * published; all joined on b) whose figures stand on fewer than k families,
 * and more beside them, so that none can be worked out from the published
 * units and the country's total. With a ledger (else NULL), also the units
 * and the total (headline's units added up) that moved by fewer than k
 * families since a value an earlier release published. The ledger and the
 * counts wait for df__publish_joint. */
df_status df__publish_units(df_ctx *ctx, df_join *const join[4], const df_boundaries *b, int64_t k,
                            const df_join *headline, df__ledger *ledger, df__publish_stats *stats);
/* Withhold flows on fewer than k families, and more beside them, so that
 * none can be worked out from the published flows, the unit figures that
 * are their row and column totals (origin_join, dest_join at the flows'
 * levels, NULL when not published; already published) and the grand total.
 * One period (publish mode has no steps). With a ledger, as for the units:
 * flows and the grand total that moved by fewer than k families. */
df_status df__publish_flows(df_ctx *ctx, df_flows *f, const df_boundaries *b, const df_join *origin_join,
                            const df_join *dest_join, int64_t k, double household_size, df__ledger *ledger,
                            df__publish_stats *stats);
/* Then all of the release's sums at once (docs/publish.md): the unit
 * tables, both flow tables (f, NULL when none) and the totals, with the
 * relations between them; more units, flows or (with a ledger, as a last
 * resort) totals withheld until no withheld figure is determined by them
 * (exact Gaussian elimination), and those that protect nothing published
 * again. Then, with a ledger, the release's figures go into it, and the
 * counts into stats. */
df_status df__publish_joint(df_ctx *ctx, df_join *const join[4], df_flows *f, const df_boundaries *b, int64_t k,
                            double household_size, const df_join *headline, df__ledger *ledger,
                            df__publish_stats *stats);
/* Round every figure of the units and flows to a multiple of base (half
 * up), after withholding ([publish] round). */
void df__publish_round(df_join *const join[4], df_flows *f, int64_t base);
/* v rounded to the nearest multiple of base, halves up (base <= 1: v). */
int64_t df__round_to(int64_t v, int64_t base);

/* ---- ledger.c: the release ledger of a publish series (docs/publish.md) ---- */

/* An open ledger: what the series has published, read at the start of a
 * release; the figures of this release, written at its end. Every figure
 * is a cell (a unit's P-code, a flow's status and ends, "total") and a
 * measure, with the families behind it and its value in individuals. */
struct df__ledger_params {
    int64_t k, round;
    int32_t from, as_of;
    int kind, levels, flows, origin_level, dest_level, step;
    const char *origins, *output;
};
/* Lock and read the ledger at path (absent: the series begins with this
 * release), after finishing or undoing a release a killed run left half
 * made; refuse a release the series cannot take (other parameters, an as-of
 * date not after the last release's) unless new_series. *out: free with
 * df__ledger_free. */
df_status df__ledger_open(df_ctx *ctx, const char *path, const struct df__ledger_params *p, int new_series,
                          df__ledger **out);
void df__ledger_free(df__ledger *l);
long df__ledger_release(const df__ledger *l);
long df__ledger_series(const df__ledger *l);
/* 1 when (cell, measure) with these families and individuals differs from a
 * value published by an earlier release of the ledger (any series) by fewer
 * than k families and is not the same figure. */
int df__ledger_small_change(const df__ledger *l, const char *cell, const char *measure, int64_t families,
                            int64_t individuals);
/* Note a figure of this release (true values; published or withheld), and,
 * for cumulative measures (increments: a count to a date never falls),
 * that it fell below the series' last release: a revised earlier round.
 * 0, or -1 out of memory. */
int df__ledger_add(df__ledger *l, const char *cell, const char *measure, int64_t families, int64_t individuals,
                   int published, int cumulative);
/* Refuse (DF_EINVAL, the cells named) a release that cannot be made
 * consistent with the ledger: cumulative figures that fell, or totals as
 * of an earlier release's date that the records now count otherwise. */
df_status df__ledger_check(df_ctx *ctx, df__ledger *l, const df_join *headline);
/* The latest release of the current series as of a date on or before day:
 * its as-of date and whether its totals were published; 0 when none. */
int df__ledger_release_before(const df__ledger *l, int32_t day, int32_t *as_of, int *published);
/* Write the ledger with this release as path.pending (the ledger is
 * unchanged), then, after the bundle is in place, rename it over the
 * ledger. A free without the commit removes the pending file. */
df_status df__ledger_prepare(df_ctx *ctx, df__ledger *l);
df_status df__ledger_commit(df_ctx *ctx, df__ledger *l);

/* ---- maps.c: map pictures for the situation report, drawn with cairo ----- */

struct _cairo; /* cairo_t, for those who draw on a given surface */

typedef struct df__map {
    const df_boundaries *b;
    int level;           /* the units filled by value (2 = districts) */
    const double *value; /* one per unit at level; < 0 = no data (drawn grey) */
    const char *legend;  /* legend title ("Displaced, individuals") */
    /* Arrows for flows (NULL: none): the top_flows largest pairs of status
     * DF_DISPLACED summed over all periods, width scaled by individuals,
     * from df__flows_endpoint(DF_ENDPOINTS_WEIGHTED) to the same. */
    const df_flows *flows;
    int top_flows;
    const char *title;      /* "Mosul corridor: people displaced by district" */
    const char *subtitle;   /* "17 Oct 2016 to 2 May 2017" */
    const char *source;     /* credits: "Source: ... | Boundaries: OCHA COD-AB 2019 | ..."; never a local path */
    const char *disclaimer; /* a second footer line (NULL: none) */
    const char *map_id;     /* printed bottom right ("DF-2017-05-02"; NULL: none) */
    const char *logo;       /* a PNG drawn top right (NULL: none) */
    int width, height;      /* pixels (1600 x 1200 when 0) */
    const char *no_data;    /* the legend's word for the grey units (NULL: "No data") */
    /* The classes (df__classes_for), the same on every map of a report;
     * breaks NULL: the "nice" classes of value. */
    const double *breaks;
    int nbreaks;
    const unsigned char *not_assessed; /* per unit, 1: not assessed, hatched (NULL: none) */
    int circles;                       /* proportional circles for the values, over class-coloured units */
    struct df__placement *placed;      /* NULL, or given back what was placed (emptied first): for tests */
} df__map;

/* What a map placed, in pixels (issue 13 item 2): the labels, the numbered
 * callouts of units whose label found no room, the arrowheads, the rings of
 * flows within a unit, the country names, the locator inset's box. unit: the labelled unit, or a
 * flow's origin (other: its destination; value: its individuals). */
enum { DF__PLACED_LABEL, DF__PLACED_CALLOUT, DF__PLACED_HEAD, DF__PLACED_RING, DF__PLACED_COUNTRY, DF__PLACED_INSET };
typedef struct {
    int kind, unit, other;
    double value;
    double x0, y0, x1, y1;
} df__placed;
typedef struct df__placement {
    df__placed *item;
    int n, cap;
} df__placement;

/* Draw the map (choropleth, arrows, labels of the largest units, legend,
 * scale bar, north arrow, title, source and date) in a projected CRS and
 * write it as PNG, atomically. Same inputs, same bytes. */
df_status df__map_write_png(df_ctx *ctx, const df__map *m, const char *path);
/* The same map drawn on cr (a cairo_t, any surface: the PDF draws it as
 * vectors) in the rectangle (0, 0, m->width, m->height) of its user space,
 * clipped to it. */
df_status df__map_draw(df_ctx *ctx, const df__map *m, struct _cairo *cr);

/* ---- trend.c: displaced, returned, still displaced per period ----------- */

#define DF__TREND_MAX 120
typedef struct {
    int32_t date; /* the end of the period */
    int64_t displaced, returned, still;
} df__trend_point;

/* The totals of the report's headline level as of the end of each period
 * (the job's step; with none, days, weeks or months for at most cap
 * points), oldest first, into out[cap]; from the join's bins, no read.
 * Returns the number of points (0: no dates). */
int df__trend_series(const df__report *r, df__trend_point *out, int cap);
/* The chart of p[0 .. n-1] on cr in (0, 0, w, h): three lines, a key, the
 * value and the time axes; text scales with h. */
void df__trend_draw(struct _cairo *cr, const df__trend_point *p, int n, double w, double h);
/* The chart as a 1600 x 600 PNG at path, atomically. */
df_status df__trend_write_png(df_ctx *ctx, const df__trend_point *p, int n, const char *path);

/* ---- hosting.c: where the displaced live (shelter, locations) ------------ */

typedef struct {
    char *name, *where, *shelter; /* as first written; where: the finest admin name stated; shelter: the
                                     location's ("mixed" when its records differ), or a type's class */
    int64_t individuals;
} df__host_row;

typedef struct {
    int64_t total, by_class[3]; /* individuals: in camps, out of camp, shelter not stated */
    df__host_row *shelter;      /* every shelter type as written, largest first */
    int nshelter;
    df__host_row *loc; /* every hosting location, largest first */
    int nloc;
} df__hosting;

/* Individuals of the displaced records of the report's period by shelter
 * and by location (a read of the records with the job's options; the
 * join's period rules). *out: free with df__hosting_free. */
df_status df__hosting_compute(df_ctx *ctx, const df__report *r, df__hosting **out);
void df__hosting_free(df__hosting *h);

/* ---- pdf.c: sitrep.pdf, A4, cairo's PDF surface and Pango ----------------- */

/* sitrep.c writes its text here as to Markdown and HTML: blocks kept as
 * they come (strings copied; maps borrowed), then laid out on A4 pages by
 * df__pdf_write. Running out of memory is remembered and reported there. */
typedef struct df__pdf df__pdf;
df__pdf *df__pdf_new(const df__report *r); /* NULL: out of memory */
void df__pdf_free(df__pdf *p);
void df__pdf_heading(df__pdf *p, int level, const char *text);
void df__pdf_para(df__pdf *p, const char *text);
/* A table: header cells separated by '|' (a leading '>' aligns the column
 * right); then its rows of ncols cells. */
void df__pdf_table(df__pdf *p, const char *header, int ncols);
void df__pdf_row(df__pdf *p, const char *const *cells);
void df__pdf_map(df__pdf *p, const df__map *m);
void df__pdf_trend(df__pdf *p, const df__trend_point *pts, int n);
/* The A4 PDF at path, atomically: a cover block (title, dates,
 * organisation, logo, map ID), the blocks (the maps and the chart drawn as
 * vectors; tables broken across pages with their header repeated; a heading
 * never last on a page), footers with "Page N of M". Fonts embedded, text
 * selectable; the creation date is the as-of date, so one run gives the
 * same bytes. */
df_status df__pdf_write(df_ctx *ctx, const df__pdf *p, const char *path);

/* ---- classes.c: the class breaks of every choropleth of a bundle ---------- */

enum { DF__CLASSES_NICE, DF__CLASSES_QUANTILE, DF__CLASSES_JENKS };

/* The breaks of the job's scheme ([maps] breaks, else [maps] classes; job
 * NULL: "nice") for the positive values of n (0, negative and NaN take no
 * part): *nbreaks ascending upper bounds (at most DF__MAX_BREAKS), class c
 * holding breaks[c-1] < v <= breaks[c], the last class every v above
 * breaks[nbreaks-1]: nbreaks + 1 classes. "nice" gives four rungs of the
 * 1-2-5 ladder that stay put when the data move a little (docs/jobs.md).
 * 0 ok, -1 out of memory. */
int df__classes_for(const df_job *job, const double *values, int n, double *breaks, int *nbreaks);
/* The class of a positive value: 0 .. nbreaks. */
int df__class_of(double v, const double *breaks, int nbreaks);
/* "#rrggbb" of class c of k on ColorBrewer's YlOrRd of k classes (light
 * to dark: the top class the darkest). */
const char *df__class_hex(int c, int k);

/* ---- qgis.c: QGIS default styles and the project file --------------------- */

/* DF__STYLE_OUTLINE: a coarser level drawn over a finer choropleth as
 * boundaries and names only (its figures stay in the layer). */
typedef enum {
    DF__STYLE_CHOROPLETH,
    DF__STYLE_FLOWS,
    DF__STYLE_NODES,
    DF__STYLE_POINTS,
    DF__STYLE_RASTER,
    DF__STYLE_OUTLINE
} df__style;

/* One layer of a bundle, as QGIS should show it. */
typedef struct {
    const char *name;  /* layer in layers.gpkg ("adm2"); for a raster its file name ("density_displaced.tif") */
    const char *title; /* shown in the QGIS layer panel ("Districts: displaced") */
    df__style style;
    const char *field; /* field styled: choropleth "displaced", flows "individuals", nodes "inflow"; NULL otherwise */
    double max;        /* largest value of field (class breaks, widths), or of the raster */
    const char *units; /* raster: "people/km2" */
    const char *crs;   /* "EPSG:4326" for the vector layers; the raster's ("EPSG:32638") */
    long features;     /* vector: feature count */
    int temporal;      /* flows, periods: temporal settings on period_start / period_end; raster: on [from, to] */
    int32_t from, to;  /* raster with temporal: the days it shows (both included) */
    const char *group; /* consecutive layers of the same group go in one group of the layer tree (NULL: none) */
    int unchecked;     /* hidden at open in the project */
    int nclasses;      /* choropleth: the run's classes (df__classes_for; 0: equal intervals up to max): */
    double breaks[DF__MAX_BREAKS + 1], vmin; /* class c from breaks[c-1] (c = 0: vmin) to breaks[c]; the last to max */
    const char
        *same_name; /* choropleth: "'IQG08Q01','IQG10Q02'": units named as their parent, not labelled (NULL: none) */
} df__qgis_layer;

/* The QML of a layer's default style (malloc'd; NULL when memory runs out). */
char *df__qgis_style_qml(const df__qgis_layer *l);
/* ---- postgis.c: the bundle's layers in a PostGIS schema ------------------- */

/* Whether a records or output path is a database connection ("PG:..."), not a file. */
int df__is_database(const char *path);
/* The schema name of a template ("sitrep_{as_of}": {as_of} as yyyymmdd),
 * checked to be a plain lower-case identifier. */
df_status df__postgis_schema(df_ctx *ctx, const char *tmpl, int32_t as_of, char *out, size_t cap);
/* Copy every layer of the finished GeoPackage and its QGIS styles into the
 * schema, replacing the previous one (ours only) in one transaction. */
df_status df__postgis_write(df_ctx *ctx, const char *conn, const char *schema_tmpl, int32_t as_of,
                            const char *gpkg_path);

/* Store the default style of each vector layer in the layer_styles table of
 * an open GeoPackage (GDALDatasetH), so that each opens styled in QGIS.
 * stamp is the update_time written ("2017-05-02T00:00:00.000Z"): no wall-clock time. */
df_status df__gpkg_write_styles(df_ctx *ctx, void *gpkg, const df__qgis_layer *layers, int n, const char *stamp);
/* A QGIS project with these layers (layers[0] on top): vector layers from
 * layers.gpkg beside it, rasters by file name, relative paths, each layer's
 * style, the extent (WGS84 lon/lat: xmin, ymin, xmax, ymax), the flow
 * layer's temporal settings and (time, may be NULL) the project's time range
 * and step. Atomic. */
/* The project's time: the Temporal Controller's range and step. */
typedef struct {
    int32_t from, to; /* days */
    int step;         /* df_step: one frame per day, week or month; DF_STEP_NONE: one frame */
    /* the latest period of the flows (days; DF_NO_DATE: none): what the map
     * shows at open, and what the print layout prints */
    int32_t last_start, last_end;
} df__qgis_time;

/* The print layout (A4 landscape) and its Atlas. Texts are shown as given. */
typedef struct {
    const char *subtitle;   /* "17 Oct 2016 to 2 May 2017, as of 2 May 2017" */
    const char *credits;    /* "Source: ... | Boundaries: ... | Made with dispflow 0.1.0" */
    const char *disclaimer; /* the boundaries disclaimer */
    const char *logo;       /* a file beside the project ("logo.png"), or NULL */
    const char *map_id;     /* "DF-2017-05-02" */
    const char *atlas;      /* the layer the Atlas runs over ("adm1"), its units with displaced > 0; NULL: none */
} df__qgis_print;

/* The project's CRS is the UTM zone of the extent's centre (as the map
 * pictures); print may be NULL (no layout). */
df_status df__qgis_write_project(df_ctx *ctx, const char *path, const char *title, const df__qgis_layer *layers, int n,
                                 const double extent[4], const df__qgis_time *time, const df__qgis_print *print);

/* ---- webmap.c: map.html, the interactive web map ------------------------------ */

/* What map.html shows: a choropleth layer of layers.gpkg (its units with
 * figures), the flows layer when there is one, a base layer, the texts. */
typedef struct {
    const df_job *job;      /* its class scheme ([maps] classes, breaks) */
    const char *gpkg;       /* layers.gpkg, already written */
    const char *layer;      /* "adm2": the choropleth */
    const char *base_layer; /* "adm1": outlines under it (NULL: none) */
    const char *field;      /* "displaced": the cumulative figure */
    const char *title, *subtitle, *credits;
    const char *figure_label;             /* legend title of the cumulative figure */
    const char *all_label;                /* the slider's first position ("17 Oct 2016 to 2 May 2017") */
    const char *no_data;                  /* legend word for units without figures */
    double bbox[4];                       /* the view at open (WGS84 lon/lat) */
    const char *leaflet_js, *leaflet_css; /* filled by df__webmap_write */
} df__webmap;

/* Write map.html (one file: Leaflet from libjs-leaflet inlined, data inline),
 * atomically. Fails naming Leaflet's file when libjs-leaflet is missing. */
df_status df__webmap_write(df_ctx *ctx, const df__webmap *w, const char *path);

/* ---- pip.c: point-in-polygon grid index --------------------------------- */

typedef struct df_pip df_pip;

/* A polygon as rings of lon/lat vertices (closed: last == first). */
typedef struct {
    const double *xy; /* x0 y0 x1 y1 ... */
    int npoints;
} df_ring;

/* Build an index over npolys polygons; polygon k has rings
 * rings[ring_start[k] .. ring_start[k+1]). Parity (even-odd) over all rings
 * of a polygon decides inside. */
df_pip *df__pip_build(const df_ring *rings, const int *ring_start, int npolys);
/* Index of the first polygon containing (x, y), or -1. Thread-safe. */
int df__pip_locate(const df_pip *pip, double x, double y);
void df__pip_free(df_pip *pip);

/* ---- profile.c: country profiles (shapes/profiles/NAME.ini) --------------- */

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
/* Add an other name of a kind (DF__NAME_ALT, DF__NAME_ALIAS). 0 ok, -1 OOM. */
int df__boundaries_add_alt(df_boundaries *b, int level, int i, int kind, const char *name);
/* aliases.c: read an alias table and give its spellings to the units they
 * fit (before the name index is built). */
df_status df__aliases_load(df_ctx *ctx, df_boundaries *b, const char *path);
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

/* ---- repeats.c: rows repeating a key of a snapshot table ---------------- */

/* Rival snapshots (a second row of one operation, place as stated, date,
 * status, split and assessment type) and two assessment types of one place
 * and date, noted row by row (one table per reading thread), then judged
 * by the join, the flows and the density alike. */
typedef struct df__repeats df__repeats;
df__repeats *df__repeats_new(void);
void df__repeats_free(df__repeats *t);
/* Note a row of operation op (the caller's index); snapshots: look for
 * rival snapshots too. 1 when the row is a rival snapshot, 0 when not, -1
 * out of memory. */
int df__repeats_note(df__repeats *t, const df_record *r, int op, int snapshots);
/* Add a thread's table into another's, its operations renumbered by remap
 * (NULL: the same); 0, or -1 out of memory. */
int df__repeats_merge(df__repeats *to, const df__repeats *from, const int *remap);
/* The repeats on the dates counted (counts(date, op, user) nonzero): rival
 * snapshots refused unless --duplicates keep or drop, two assessment types
 * unless --assessments add (an error naming the lines and the option to
 * use); the others logged. ops: the operations' names by index. */
df_status df__repeats_judge(df_ctx *ctx, const df__repeats *t, const df_record_opts *ro, const char *const *ops,
                            int (*counts)(int32_t date, int op, void *user), void *user);

#endif /* DFINT_H */
