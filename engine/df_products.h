/*
 * df_products.h — what the stages make and how it is written: the join's, the
 * flows' and the density's internals that publish mode and the bundle reach,
 * their layers, class breaks, map pictures, QGIS styles and projects, the web
 * map.
 */
#ifndef DF_PRODUCTS_H
#define DF_PRODUCTS_H

#include "df_geo.h"

/* ---- join.c: what publish mode and the report read of a join ------------- */

/* The join as a sink of the fan-out read (docs/onepass.md): new, read by
 * df__records_fanout, then take the finished join (the caller's) and free
 * the sink. */
df_status df__join_sink_new(df_ctx *ctx, const df_boundaries *b, const df_record_opts *ropts, const df_join_opts *jopts,
                            df__sink **out);
df_join *df__join_sink_take(df__sink *sink);
void df__join_sink_free(df__sink *sink);
/* The flows as a sink, the same way; their period (from, to) may be set
 * after the read, before the finish (a run takes it from the join). */
df_status df__flows_sink_new(df_ctx *ctx, const df_boundaries *b, const df_record_opts *ropts,
                             const df_flow_opts *fopts, df__sink **out);
void df__flows_sink_period(df__sink *sink, int32_t from, int32_t to);
df_flows *df__flows_sink_take(df__sink *sink);
void df__flows_sink_free(df__sink *sink);
/* The density as a sink: the read spools every valid row with both
 * weights; each raster of the run (the density, the publish support grid,
 * one per period) is then computed from the spool, as often as asked
 * (quiet: the repeats and snapshots are not said again). threads: the
 * read's, which share the memory of a chunk. MPI (a split read): each
 * process keeps its own points and each compute sums the processes' grids,
 * so every process must compute the same rasters in the same order. */
df_status df__density_sink_new(df_ctx *ctx, const df_boundaries *b, const df_record_opts *ropts, int threads,
                               df__sink **out);
df_status df__density_sink_compute(df_ctx *ctx, df__sink *sink, const df_density_opts *opts, int quiet,
                                   df_density **out);
void df__density_sink_free(df__sink *sink);

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

/* ---- write.c: the join's outputs ----------------------------------------- */

/* write.c: the join's layer (one feature per unit) in an open dataset. */
df_status df__join_write_layer(df_ctx *ctx, const df_join *j, const df_boundaries *b, void *ds, const char *layer_name,
                               const char *labels, char **lco, const char *path);
/* The label fields of a level's join layer (issue 13 item 7): for each item
 * of labels ("en, ar", [maps] labels) the level's name field (k[], may be
 * NULL) and the layer's field, "adm_name_" and the item in lower case, other
 * characters as '_' ("adm_name_ar"). Returns how many: 0 without labels or
 * when the level has no name field for one of them. */
int df__label_fields(const df_boundaries *b, int level, const char *labels, int *k, char field[2][72]);

/* ---- flows.c ------------------------------------------------------------- */

int df__flows_origin_level(const df_flows *f);
/* Are the origins ("corridor", P-codes or names) units of b? */
df_status df__flows_origins_check(df_ctx *ctx, const df_boundaries *b, const char *spec);
int df__flows_dest_level(const df_flows *f);
/* The individuals-weighted centre of the record locations in a unit; -1 when none. */
int df__flows_centre(const df_flows *f, int level, int unit, double *x, double *y);

/* ---- flows_write.c: the flow layers and their ends ----------------------- */

/* The layers "flows" and (with nodes) "flow_nodes" of f, as
 * df_flows_write_lines writes them, in an open dataset (GDALDatasetH; path
 * names it in messages). Withheld flows are left out. */
df_status df__flows_write_layers(df_ctx *ctx, const df_flows *f, const df_boundaries *b, void *ds, const char *path,
                                 double bend, df_endpoints endpoints, int nodes);

/* Where a flow line ends in a unit (WGS84): the weighted
 * centre when asked for, known and inside the unit; else a point inside the
 * unit (GEOS point on surface). 0 ok, -1 when the unit has no geometry. */
int df__flows_endpoint(df_ctx *ctx, const df_flows *f, const df_boundaries *b, int level, int unit, df_endpoints how,
                       double *x, double *y);

/* flows.c: flow i, to mark it withheld. */
df_flow *df__flows_row(df_flows *f, int i);

/* ---- density.c: what publish mode and the tests reach of a density ------- */

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
long df__density_test_projected(void); /* points projected by the readers since the last call */

/* ---- classes.c: the class breaks of every choropleth of a bundle --------- */

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

#define DF__MAX_BREAKS 8 /* at most 9 classes: ColorBrewer's largest YlOrRd */

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
    const char *places;     /* a CSV of named points drawn with labels (docs/jobs.md [maps] places; NULL: none) */
    const char *labels;     /* "en, ar": the labels' lines, languages or name fields of the layer (NULL: the name) */
    double text_scale;      /* text and furniture x this (0: 1): the PDF prints the map small, its text must not */
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
enum {
    DF__PLACED_LABEL,
    DF__PLACED_CALLOUT,
    DF__PLACED_HEAD,
    DF__PLACED_RING,
    DF__PLACED_COUNTRY,
    DF__PLACED_INSET,
    DF__PLACED_PLACE,     /* a place's symbol (unit: its row in the file, value: 1 camp, 0 other) */
    DF__PLACED_PLACE_NAME /* a place's name (unit: its row) */
};
typedef struct {
    int kind, unit, other;
    double value;
    double x0, y0, x1, y1;
    char text[48]; /* a country's or a place's name as drawn (else empty) */
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
/* The neighbouring countries the maps draw (shapes/, through the maps'
 * own loader, so that the web map shows the same): n GEOS geometries
 * (WGS84) and names (NULL: unnamed), owned; n = 0 without the file.
 * Fails only out of memory. Free with df__countries_free. */
typedef struct {
    GEOSGeometry **geom;
    char **name;
    int n;
    void *own; /* the loader's state */
} df__countries;
df_status df__countries_load(df_ctx *ctx, df__countries *out);
void df__countries_free(df_ctx *ctx, df__countries *c);
/* The countries file read ahead (on a thread of the caller's while it does
 * other work), in silence: a file that cannot be read is said by the load. */
void df__countries_preload(void);

/* ---- qgis.c: QGIS default styles and the project file -------------------- */

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
    int nlabel;     /* choropleth: the label's lines from these fields ([maps] labels; 0: adm_name) */
    char label_field[2][72];
} df__qgis_layer;

/* The QML of a layer's default style (malloc'd; NULL when memory runs out). */
char *df__qgis_style_qml(const df__qgis_layer *l);

/* Store the default style of each vector layer in the layer_styles table of
 * an open GeoPackage (GDALDatasetH), so that each opens styled in QGIS.
 * stamp is the update_time written ("2017-05-02T00:00:00.000Z"): no wall-clock time. */
df_status df__gpkg_write_styles(df_ctx *ctx, void *gpkg, const df__qgis_layer *layers, int n, const char *stamp);

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

/* A QGIS project with these layers (layers[0] on top): vector layers from
 * layers.gpkg beside it, rasters by file name, relative paths, each layer's
 * style, the extent (WGS84 lon/lat: xmin, ymin, xmax, ymax), the flow
 * layer's temporal settings and (time, may be NULL) the project's time range
 * and step. Atomic. The project's CRS is the UTM zone of the extent's
 * centre (as the map pictures); print may be NULL (no layout). */
df_status df__qgis_write_project(df_ctx *ctx, const char *path, const char *title, const df__qgis_layer *layers, int n,
                                 const double extent[4], const df__qgis_time *time, const df__qgis_print *print);

/* ---- webmap.c: map.html, the interactive web map ------------------------- */

/* What map.html shows: a choropleth layer of layers.gpkg (its units with
 * figures), the flows layer when there is one, a base layer, the texts. */
typedef struct {
    const df_job *job;      /* its class scheme ([maps] classes, breaks) */
    const char *gpkg;       /* layers.gpkg, already written */
    const char *layer;      /* "adm2": the choropleth */
    const char *base_layer; /* "adm1": outlines under it (NULL: none) */
    const char *field;      /* "displaced", "returned" or "still_displaced": the figure at open */
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

#endif /* DF_PRODUCTS_H */
