/*
 * df_io.h — files in and out: atomic writes, the OGR helpers, the CSV reader,
 * the rows of a records file and their parallel read, PostGIS. GDAL handles
 * are void *: no GDAL, GEOS or PROJ header.
 */
#ifndef DF_IO_H
#define DF_IO_H

#include "df_core.h"

/* ---- atomic.c: write to a temporary file beside the target, then rename --- */

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

/* ---- ogrutil.c: OGR helpers every reader and writer shares --------------- */

/* Why GDAL could not open path, when it said nothing: the file's own error
 * ("No such file or directory") or that no driver knows it. Borrowed. */
const char *df__open_failure(df_ctx *ctx, const char *path);
/* The names of a dataset's layers, "a, b, c", into buf. */
void df__layer_names(void *ds, char *buf, size_t cap);
/* A new WGS84 spatial reference (OGRSpatialReferenceH) in lon/lat order;
 * the caller destroys it. */
void *df__wgs84(void);
/* A field of a layer: its name, OGRFieldType and, for a table with an HXL
 * row, its tag (a format taking the admin level; NULL: none). */
typedef struct {
    const char *name;
    int type;
    const char *hxl;
} df__field;
/* The header and HXL rows of a CSV table of these columns: the tags take
 * level, the parent_column's tag level - 1 (-1: none). */
void df__csv_write_header(void *file, const df__field *columns, int n, int level, int parent_column);
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
 * (used up: t is only to be freed after). */
df_status df__rtree_write(df_ctx *ctx, df__rtree *t, const char *gpkg, const char *table);

/* ---- csv.c: RFC 4180 reader, streaming ----------------------------------- */

typedef struct df__csv df__csv;

/* Open path; delimiter 0 = detect from the first line. A UTF-8 BOM is
 * skipped. */
df_status df__csv_open(df_ctx *ctx, const char *path, char delimiter, df__csv **out);
/* Next record: fields point into the reader's buffer and live until the next
 * call. Returns 1 with a record, 0 at end of file, -1 on error (context set).
 * *line is the physical line the record starts on. */
int df__csv_next(df__csv *csv, char ***fields, size_t **lengths, int *nfields, long *line);
/* A field longer than this is an error (file:line, field), so that one huge
 * field is never held whole; after df__csv_skip_long, df__csv_next instead
 * skips its record without holding it and returns 2, *nfields the 1-based
 * number of the long field (issue 17 item 11). */
#define DF__CSV_MAX_FIELD ((size_t)64 << 20)
void df__csv_skip_long(df__csv *csv);
char df__csv_delimiter(const df__csv *csv);
/* Byte offset in the file of the next record (after the last one returned). */
uint64_t df__csv_offset(const df__csv *csv);
/* Physical line of the next record. */
long df__csv_line(const df__csv *csv);
/* Open for a parallel read of one byte range: the records that start in
 * [start, end); start must be the start of a record, and line its line in
 * the file (the rows' and the errors' lines count from it). */
df_status df__csv_open_range(df_ctx *ctx, const char *path, char delimiter, uint64_t start, uint64_t end, long line,
                             df__csv **out);
void df__csv_close(df__csv *csv);
/* "UTF-16LE" or "UTF-16BE" when the first n bytes of a file are UTF-16 text
 * (a byte-order mark, or ASCII with every other byte NUL), else NULL. */
const char *df__utf16_name(const unsigned char *b, size_t n);
/* Write one field, quoted per RFC 4180 only when it must be (NULL = empty);
 * a text a spreadsheet would run as a formula (=, +, -, @ first, not a
 * number) is quoted behind a ' (OWASP CSV injection). 0 ok, -1 on a write
 * error. */
int df__csv_put(FILE *f, const char *s);

/* ---- sources.c: the rows of a records file, as strings ------------------- */

typedef enum { DF__SRC_CSV, DF__SRC_JSON, DF__SRC_OGR } df__source_kind;

typedef struct {
    df__source_kind kind;
    df_ctx *ctx;
    const char *path;
    df__csv *csv;
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

/* ---- parts.c: this process as one part of a larger read (MPI) ----------- */

/* A run under MPI (engine/mpi.c, dispflow-mpi) is `count` processes, each
 * reading its own share of the byte ranges of the records when every sink
 * of the fan-out read can merge partials (df__sink.parts_merge); each sink
 * then exchanges its packed partial (df__parts_exchange) and merges them in
 * part order, so every part ends with the single-process result. In the
 * plain build count is 1 and nothing here is used. */
typedef struct {
    int index, count; /* this process's part (0: the one that writes), how many */
    /* every part's bytes, concatenated in part order, on every part; lens
     * gets count lengths; NULL when out of memory (the caller's buffer is
     * left alone). Set by engine/mpi.c. */
    unsigned char *(*allgather)(const void *mine, size_t len, size_t *lens);
    int split;                        /* the fan-out read under way is split (its sinks' merges pack) */
    long long sent, received;         /* bytes exchanged, for the benchmark */
    long long dup_sent, dup_received; /* of which the duplicate check's row hashes (16 bytes a row) */
    /* n int64 summed element by element into part 0's data (the others'
     * left as they were); 0, or -1 when out of memory. Set by engine/mpi.c. */
    int (*reduce_sum)(int64_t *data, size_t n);
    /* every part's bytes, concatenated in part order, on part 0 only (the
     * others get an empty buffer and zero lengths); NULL when out of
     * memory. Set by engine/mpi.c. */
    unsigned char *(*gather)(const void *mine, size_t len, size_t *lens);
} df__parts_state;
extern df__parts_state df__parts;

/* A growable byte buffer for packing partials: fixed-size records and
 * strings, read back in the same order. */
typedef struct {
    unsigned char *data;
    size_t len, cap, at; /* at: the read position */
    int failed;          /* out of memory, or a read past the end */
} df__pack;
void df__pack_put(df__pack *p, const void *v, size_t n);
void df__pack_str(df__pack *p, const char *s); /* NULL packs as "" */
void df__pack_get(df__pack *p, void *v, size_t n);
const char *df__pack_get_str(df__pack *p); /* borrowed from the buffer */
void df__pack_free(df__pack *p);
/* The stage's packed partial exchanged; out[k] reads part k's bytes
 * (borrowing *all, which the caller frees). DF_ENOMEM when it fails. */
df_status df__parts_exchange(df_ctx *ctx, const df__pack *mine, unsigned char **all, df__pack *out);
/* The same, but to part 0 only (what only part 0 writes: the decision
 * log's rows, the records spool): out[k] on the others is empty. */
df_status df__parts_gather(df_ctx *ctx, const df__pack *mine, unsigned char **all, df__pack *out);
/* n int64 summed over the parts into part 0's data (a density grid: its
 * size, not its points, crosses the network). DF_ENOMEM when it fails. */
df_status df__parts_reduce_sum(df_ctx *ctx, int64_t *data, size_t n);
/* A stage that consumes records (docs/onepass.md): a table of functions
 * over its own state. The fan-out read calls thread_new once per byte
 * range, on_record (and on_reject) with that range's state from the thread
 * reading it, merge with each range's state in range order (then
 * thread_free: one merge at a time, on a reading thread as soon as the
 * ranges before are merged, while other ranges' on_record run; a merge
 * touches only the sink and that state); the caller then finishes each (a run finishes the joins
 * first: the flows take their period from them). on_record returns nonzero
 * to stop the read (out of memory; merge then says why). An ordered sink
 * (its output keeps the input order: a decision log, a records layer)
 * spools each range and appends the spools in merge. tell_rejects: the
 * first rejected rows are told to the log (once, whichever sinks ask). */
typedef struct df__sink {
    const char *name;
    void *(*thread_new)(void *sink, int range); /* NULL: out of memory */
    int (*on_record)(void *state, const df_record *r);
    void (*on_reject)(void *state, const df_rejection *r); /* optional */
    df_status (*merge)(void *sink, void *state);
    df_status (*finish)(df_ctx *ctx, void *sink); /* the caller's to call, after the read */
    void (*thread_free)(void *state);
    int ordered, tell_rejects;
    df_read_stats *read; /* the read's counts, set by the read before thread_new (the kind is known then) */
    /* MPI (parts.c): after the merge of this process's ranges, every
     * process's partial state exchanged and merged in process order, so that
     * every process holds the whole read's (a spool of records: process 0,
     * the one that writes, holds them all). NULL: the sink cannot be split,
     * and a read feeding it is not split across the processes. */
    df_status (*parts_merge)(df_ctx *ctx, void *sink);
    int ranges; /* states the read will merge (set by the read before thread_new; 0: not a fan-out read) */
} df__sink;

/* One read of opts->path on up to nthreads threads (a source that cannot
 * be cut: on the calling thread) feeding every sink: each record is parsed
 * once, with its true line. sha256 (NULL: none) receives the digest of the
 * file's bytes, hashed on the calling thread while the threads parse (not
 * for a stream). Each sink is a df__sink followed by its own fields:
 * sinks[i] is passed back as `sink`. */
df_status df__records_fanout(df_ctx *ctx, const df_record_opts *opts, df__sink *const *sinks, int nsinks, int nthreads,
                             df_read_stats *stats, unsigned char sha256[32]);
/* A spool of records: an ordered sink that keeps the records keep() says
 * (called from the reading threads), each range in a temporary file, and
 * replays them in file order after the read, as df_record (line, date,
 * status, level, coordinates, counts, operation, shelter, location name and
 * the location's names; the other fields empty). */
df_status df__spool_new(df_ctx *ctx, int (*keep)(const df_record *r, void *user), void *user, df__sink **out);
long df__spool_count(const df__sink *spool);
df_status df__spool_replay(df_ctx *ctx, df__sink *spool, df_record_fn fn, void *user);
void df__spool_free(df__sink *spool);
/* A record pushed by a caller (the push API): checked (no negative count)
 * and counted in stats as a read would count it. Two such counts added. */
df_status df__pushed_record(df_ctx *ctx, df_read_stats *stats, const df_record *r);
void df__pushed_stats_add(df_read_stats *to, const df_read_stats *from);
/* The push API's add, merge and finish over a sink's one state (ingest.c). */
df_status df__push_add(df_ctx *ctx, df__sink *sink, void *state, const int *failed, df_read_stats *read,
                       const df_record *r, const char *path);
df_status df__push_merge(df_ctx *ctx, df__sink *into, df_read_stats *into_read, df__sink *part, void **part_state,
                         df_read_stats *part_read);
df_status df__push_finish(df_ctx *ctx, df__sink *sink, void **state);
/* How many fan-out reads this process has made, and how many times it
 * opened a records source for any read (tests: one of each per run; plain
 * counters, not exact under concurrent reads). */
extern long df__fanout_reads, df__records_opens;

/* ---- repeats.c: rows repeating a key of a snapshot table ---------------- */

/* Rival snapshots (a second row of one operation, place as stated, date,
 * status, split and assessment type) and two assessment types of one place
 * and date, noted row by row (one table per reading thread), then judged
 * by the join, the flows and the density alike. */
typedef struct df__repeats df__repeats;
/* A table for one of share tables that will be merged into one (a reading
 * thread's: share = the ranges of the read); each holds at most
 * df__repeats_max_keys / share distinct keys, the merged one
 * df__repeats_max_keys. Rows past them are compared, not added, and the
 * judgment refuses them unless the option says to add them unchecked. */
extern long df__repeats_max_keys;
df__repeats *df__repeats_new(int share);
void df__repeats_free(df__repeats *t);
/* Note a row of operation op (the caller's index); snapshots: look for
 * rival snapshots too. 1 when the row is a rival snapshot, 0 when not, -1
 * out of memory. */
int df__repeats_note(df__repeats *t, const df_record *r, int op, int snapshots);
/* Add a thread's table into another's, its operations renumbered by remap
 * (NULL: the same); 0, or -1 out of memory. */
/* MPI: pack a table; unpack into an empty one (-1: out of memory or a bad buffer). */
void df__repeats_pack(df__pack *b, const df__repeats *t);
int df__repeats_unpack(df__pack *b, df__repeats *t);
int df__repeats_merge(df__repeats *to, const df__repeats *from, const int *remap);
/* The repeats on the dates counted (counts(date, op, user) nonzero): rival
 * snapshots refused unless --duplicates keep or drop, two assessment types
 * unless --assessments add (an error naming the lines and the option to
 * use); the others logged. ops: the operations' names by index. */
df_status df__repeats_judge(df_ctx *ctx, const df__repeats *t, const df_record_opts *ro, const char *const *ops,
                            int (*counts)(int32_t date, int op, void *user), void *user);

/* ---- postgis.c: the bundle's layers in a PostGIS schema ------------------ */

/* Whether a records or output path is a database connection ("PG:..."), not a file. */
int df__is_database(const char *path);
/* The schema name of a template ("sitrep_{as_of}": {as_of} as yyyymmdd),
 * checked to be a plain lower-case identifier. */
df_status df__postgis_schema(df_ctx *ctx, const char *tmpl, int32_t as_of, char *out, size_t cap);
/* Copy every layer of the finished GeoPackage and its QGIS styles into the
 * schema, replacing the previous one (ours only) in one transaction. */
df_status df__postgis_write(df_ctx *ctx, const char *conn, const char *schema_tmpl, int32_t as_of,
                            const char *gpkg_path);

#endif /* DF_IO_H */
