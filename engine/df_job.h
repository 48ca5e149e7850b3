/*
 * df_job.h — a job and its bundle (`dispflow run`): the job file, the report
 * every product of the bundle reads, publish mode and its ledger, the trend,
 * hosting and the PDF.
 */
#ifndef DF_JOB_H
#define DF_JOB_H

#include "df_options.h"
#include "df_products.h"

/* ---- job.c: the job file of `dispflow run` (keys in docs/jobs.md) -------- */

struct df_job {
    char *path, *dir;   /* the job file and its folder (paths resolve against it) */
    char *profiles_dir; /* the country profiles shipped with dispflow, or NULL */
    /* Every option the CLI shares, in the library's option structs (keys in
     * df__options, options.c): [job] from, as_of (opts.jo), step, origins
     * (opts.fo); [records] (opts.ro, opts.operations, opts.where);
     * [boundaries] prefer (opts.jo), profile, labels, name_field (opts.bo);
     * [flows] (opts.fo, opts.bend, opts.endpoints); [density] (opts.dn,
     * opts.people, opts.density_step). origin_level and dest_level are 0
     * until the finest boundary file is known. */
    df__opts opts;
    /* the keys of the job file alone: */
    /* [job] */
    char *title, *output;
    char *database, *schema; /* PG:... and its schema template: the layers in PostGIS too; NULL = not */
    char *output_template;   /* the output as given, {as_of} not yet replaced (output is with it replaced) */
    /* [boundaries] */
    char *adm[4]; /* the boundary file of each level; NULL = none */
    char *aliases;
    int shipped_aliases; /* the country profile's alias table */
    int finest;          /* the finest level with a boundary file */
    /* [join] */
    int levels; /* bit l set: join at level l */
    /* [flows] */
    int flows;
    /* [density] */
    int density;
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
    char *map_labels;          /* [maps] labels: "en, ar" (NULL: the unit's name) */
    char *map_places;          /* [maps] places: a CSV of camps and towns drawn on the maps (NULL: none) */
    int records_layer_mode;    /* df__records_layer */
    int64_t records_layer_max; /* auto: no records layer above this many records with coordinates; 0: no limit */
    /* [publish] */
    int publish;
    int64_t publish_k;
    char *publish_ledger;   /* the series' release ledger (docs/publish.md); NULL: none */
    int64_t publish_round;  /* publish figures rounded to a multiple of this; 0: exact */
    int publish_new_series; /* start a new series in the ledger on purpose */
};

/* The job file's keys read into a new job, not checked whole (no key
 * required, no records read): for the tests of the option table. */
df_status df__job_parse(df_ctx *ctx, const char *path, df_job **out);
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
    char records_sha256[65];                /* the records' SHA-256, from the run's one read ("": none) */
    struct df__sink *spool;                 /* the records kept by that read (hosting.c); NULL: read again */
    long records_not_copied;                /* > 0: no records layer; the records with coordinates left in the input */
    const df__publish_stats *publish;       /* publish mode: what was withheld; NULL otherwise */
    struct df__digests *digests;            /* the files hashed as the run made them (manifest.c); NULL: none */
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
/* The SHA-256 of the bundle's large files made on a thread of their own as
 * each is finished, while the run makes the others (issue 12 item 2): the
 * manifest then only collects them. A digest is used only if the file is
 * still as it was hashed (inode, size, modification time); else the
 * manifest hashes it again (files are committed by a rename: a new inode).
 * _new: NULL when out of memory (the manifest then hashes every file
 * itself). _add: file name of dir, finished; thread-safe; a file that cannot
 * be queued is left to the manifest. _get waits for the files queued (no
 * more can be added) and gives name's digest: 1 and hex, or 0 when it has
 * none (not queued, unreadable, or changed since). _free stops the thread
 * (the files not yet hashed are left) and joins it; NULL is a no-op. */
typedef struct df__digests df__digests;
df__digests *df__digests_new(const char *dir);
void df__digests_add(df__digests *d, const char *name);
int df__digests_get(df__digests *d, const char *name, char hex[65]);
void df__digests_free(df__digests *d);

/* ---- publish.c: statistical disclosure control (docs/publish.md) --------- */

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

/* ---- ledger.c: the release ledger of a publish series (docs/publish.md) --- */

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

/* ---- trend.c: displaced, returned, still displaced per period ------------ */

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

/* ---- pdf.c: sitrep.pdf, A4, cairo's PDF surface and Pango ---------------- */

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

#endif /* DF_JOB_H */
