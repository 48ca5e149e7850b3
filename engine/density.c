/*
 * density.c — kernel density of people at record locations, on a grid in a
 * projected CRS, computed exactly (pixel centres against the true point
 * positions) on all cores, and written as a GeoTIFF/COG with a QGIS style.
 *
 * How it runs (docs/density.md has the formulas):
 *   1. the records are read (in parallel for big CSV files) into per-thread
 *      point buffers (lon, lat, weight, date), then merged in file order;
 *   2. the points are projected in one proj_trans_generic call;
 *   3. the grid accumulates Σ w k(u) in doubles; the rows are cut into bands
 *      that threads take in turn, each band visited only by the points whose
 *      disc reaches it (the points are bucketed by row), so no pixel is ever
 *      written by two threads and no grid is copied per thread;
 *   4. the sums are scaled by c / R² (x 10⁶: per km²) into Float32, masked.
 * Memory: 8 + 4 bytes per pixel, plus 32 bytes per point (the points are kept
 * because the bandwidth rules and the default extent need all of them).
 */
#include "dfint.h"

#include <cpl_conv.h>
#include <cpl_string.h>
#include <gdal.h>
#include <gdal_alg.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define DENSITY_MAX_THREADS 64
#define GAUSS_A             4.5 /* exp(-4.5 u²) = exp(-d² / 2σ²) with σ = R/3 */
#define LN2                 0.69314718055994530942
#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

struct df_density {
    df_density_info info;
    float *values;
};

static const char *const kernel_names[] = {"quartic", "triweight", "epanechnikov", "triangular", "uniform", "gaussian"};

const char *df_kernel_name(df_kernel kernel)
{
    return (unsigned)kernel < sizeof kernel_names / sizeof *kernel_names ? kernel_names[kernel] : "unknown";
}

int df_kernel_parse(const char *name)
{
    for (int k = 0; k < (int)(sizeof kernel_names / sizeof *kernel_names); k++)
        if (!strcasecmp(name, kernel_names[k])) return k;
    return -1;
}

/* c of c k(u) / R²: the kernel integrates to 1 over the plane. */
static double kernel_constant(df_kernel k)
{
    switch (k) {
    case DF_KERNEL_QUARTIC:
        return 3.0 / M_PI;
    case DF_KERNEL_TRIWEIGHT:
        return 4.0 / M_PI;
    case DF_KERNEL_EPANECHNIKOV:
        return 2.0 / M_PI;
    case DF_KERNEL_TRIANGULAR:
        return 3.0 / M_PI;
    case DF_KERNEL_UNIFORM:
        return 1.0 / M_PI;
    case DF_KERNEL_GAUSSIAN:
        return 2.0 * GAUSS_A / (2.0 * M_PI * (1.0 - exp(-GAUSS_A)));
    }
    return 0;
}

void df_density_opts_init(df_density_opts *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->kernel = DF_KERNEL_QUARTIC;
    opts->bandwidth = DF_BANDWIDTH_FIXED;
    opts->weight = DF_WEIGHT_INDIVIDUALS;
    opts->status = -1;
    opts->from = opts->as_of = DF_NO_DATE;
}

/* ---- collecting the points ---------------------------------------------- */

typedef struct {
    double *lon, *lat, *w;
    int32_t *date;
    long n, cap;
    long filtered, no_point;
    int failed;
    const df_density_opts *opts;
    const df_boundaries *b; /* swapped coordinates are put right inside it */
    long swapped;
} point_buf;

static int point_push(point_buf *p, double lon, double lat, double w, int32_t date)
{
    if (p->n == p->cap) {
        long cap = p->cap ? 2 * p->cap : 4096;
        double *a = df__realloc_array(p->lon, (size_t)cap, sizeof *a);
        if (a) p->lon = a;
        double *b = a ? df__realloc_array(p->lat, (size_t)cap, sizeof *b) : NULL;
        if (b) p->lat = b;
        double *c = b ? df__realloc_array(p->w, (size_t)cap, sizeof *c) : NULL;
        if (c) p->w = c;
        int32_t *d = c ? df__realloc_array(p->date, (size_t)cap, sizeof *d) : NULL;
        if (!d) return -1;
        p->date = d;
        p->cap = cap;
    }
    p->lon[p->n] = lon, p->lat[p->n] = lat, p->w[p->n] = w, p->date[p->n] = date;
    p->n++;
    return 0;
}

static void point_buf_free(point_buf *p)
{
    free(p->lon), free(p->lat), free(p->w), free(p->date);
    memset(p, 0, sizeof *p);
}

static int on_record(const df_record *r, void *user)
{
    point_buf *p = user;
    const df_density_opts *o = p->opts;
    if ((o->status >= 0 && (int)r->status != o->status) ||
        (r->date != DF_NO_DATE &&
         ((o->from != DF_NO_DATE && r->date < o->from) || (o->as_of != DF_NO_DATE && r->date > o->as_of)))) {
        p->filtered++;
        return 0;
    }
    if (isnan(r->lon) || isnan(r->lat)) {
        p->no_point++;
        return 0;
    }
    double w = o->weight == DF_WEIGHT_RECORDS    ? 1.0
               : o->weight == DF_WEIGHT_FAMILIES ? (double)r->families
                                                 : (double)r->individuals;
    if (!(w > 0)) { /* no families stated, or a zero count: nothing to spread */
        p->filtered++;
        return 0;
    }
    double lon = r->lon, lat = r->lat;
    p->swapped += df__unswap_point(p->b, &lon, &lat);
    if (point_push(p, lon, lat, w, r->date) != 0) {
        p->failed = 1;
        return 1;
    }
    return 0;
}

/* ---- the grid ------------------------------------------------------------ */

typedef struct {
    const double *x, *y, *w; /* projected points, bucketed by row */
    const long *row_start;   /* points of key k: row_start[k] .. row_start[k+1] */
    int rr;                  /* rows a disc reaches above and below its own */
    int width, height, nbands, band_rows;
    double x0, y0, pixel, radius;
    df_kernel kernel;
    double *grid;
    double *band_edge; /* per band: Σ w k(u) on lattice pixels outside the grid */
    atomic_int next;
    atomic_int failed; /* a thread could not get its scratch row */
} grid_job;

/* k(u) at squared distance q = d² / R² (zero beyond R). */
static inline double kernel_at(df_kernel kernel, double q)
{
    double t = 1.0 - q;
    switch (kernel) {
    case DF_KERNEL_QUARTIC:
        return t > 0 ? t * t : 0;
    case DF_KERNEL_TRIWEIGHT:
        return t > 0 ? t * t * t : 0;
    case DF_KERNEL_EPANECHNIKOV:
        return t > 0 ? t : 0;
    case DF_KERNEL_TRIANGULAR:
        return q < 1 ? 1.0 - sqrt(q) : 0;
    case DF_KERNEL_UNIFORM:
        return q <= 1 ? 1.0 : 0;
    case DF_KERNEL_GAUSSIAN:
        return q <= 1 ? exp(-GAUSS_A * q) : 0;
    }
    return 0;
}

/* Σ w k(u) over columns j0..j1 of a row at vertical offset dy2 (edge mass). */
static double span_sum(int j0, int j1, double xc0, double pixel, double px, double dy2, double inv_r2, double w,
                       df_kernel kernel)
{
    double sum = 0;
    for (int j = j0; j <= j1; j++) {
        double dx = xc0 + j * pixel - px;
        sum += w * kernel_at(kernel, (dx * dx + dy2) * inv_r2);
    }
    return sum;
}

/* The hot loop: row[k] += w k(u) for k < len, with u² = qy + qx[k] (the
 * squared distance over R², split into its row and column parts), one loop
 * per kernel with no branch but a max, so that the compiler vectorises it. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__gnu_linux__)
/* vectorised, and cloned for AVX2/FMA processors (chosen at load time) */
__attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic"), target_clones("arch=x86-64-v3", "default")))
#endif
static void
span_add(double *restrict row, const double *restrict qx, int len, double qy, double w, df_kernel kernel)
{
    double a = 1.0 - qy;
    switch (kernel) {
    case DF_KERNEL_QUARTIC:
        for (int k = 0; k < len; k++) {
            double t = a - qx[k];
            t = t > 0 ? t : 0;
            row[k] += w * (t * t);
        }
        break;
    case DF_KERNEL_TRIWEIGHT:
        for (int k = 0; k < len; k++) {
            double t = a - qx[k];
            t = t > 0 ? t : 0;
            row[k] += w * (t * t * t);
        }
        break;
    case DF_KERNEL_EPANECHNIKOV:
        for (int k = 0; k < len; k++) {
            double t = a - qx[k];
            row[k] += w * (t > 0 ? t : 0);
        }
        break;
    default: /* triangular, uniform, gaussian: sqrt, a step, exp */
        for (int k = 0; k < len; k++) row[k] += w * kernel_at(kernel, qy + qx[k]);
        break;
    }
}

/* floor and ceil to int of values well inside the int range (the points are
 * within a few radii of the grid), without a libm call */
static inline int ifloor(double v)
{
    int i = (int)v;
    return i - (v < i);
}
static inline int iceil(double v)
{
    int i = (int)v;
    return i + (v > i);
}

/* Add point (px, py, w) to rows r0..r1-1 of the grid; rows outside the grid
 * (only asked for by the first and last bands) and columns outside it count
 * as edge mass, returned. */
static double add_point(const grid_job *g, double *qx, double px, double py, double w, int r0, int r1)
{
    double edge = 0, r2 = g->radius * g->radius, inv_r2 = 1.0 / r2, p = g->pixel, inv_p = 1.0 / p;
    double xc0 = g->x0 + 0.5 * p;           /* centre of column 0 */
    double cx = (px - g->x0) * inv_p - 0.5; /* the point in column units, from centre 0 */
    int prow = ifloor((g->y0 - py) * inv_p);
    /* (dx / R)² of the columns the disc may reach: jbase .. jbase + 2 rr */
    int jbase = ifloor(cx) - g->rr;
    for (int k = 0; k <= 2 * g->rr; k++) {
        double dx = xc0 + (jbase + k) * p - px;
        qx[k] = dx * dx * inv_r2;
    }
    int lo = prow - g->rr > r0 ? prow - g->rr : r0, hi = prow + g->rr < r1 - 1 ? prow + g->rr : r1 - 1;
    for (int i = lo; i <= hi; i++) {
        double dy = g->y0 - (i + 0.5) * p - py, rem = r2 - dy * dy;
        if (rem < 0) continue;
        double s = sqrt(rem) * inv_p;
        int j0 = iceil(cx - s), j1 = ifloor(cx + s);
        if (j0 > j1) continue;
        if (i < 0 || i >= g->height) {
            edge += span_sum(j0, j1, xc0, p, px, dy * dy, inv_r2, w, g->kernel);
            continue;
        }
        double *row = g->grid + (size_t)i * (size_t)g->width;
        if (j0 < 0) edge += span_sum(j0, j1 < -1 ? j1 : -1, xc0, p, px, dy * dy, inv_r2, w, g->kernel);
        if (j1 >= g->width)
            edge += span_sum(j0 > g->width ? j0 : g->width, j1, xc0, p, px, dy * dy, inv_r2, w, g->kernel);
        int a = j0 < 0 ? 0 : j0, b = j1 >= g->width ? g->width - 1 : j1;
        if (a <= b) span_add(row + a, qx + (a - jbase), b - a + 1, dy * dy * inv_r2, w, g->kernel);
    }
    return edge;
}

static void *grid_worker(void *arg)
{
    grid_job *g = arg;
    double *qx = malloc((2 * (size_t)g->rr + 1) * sizeof *qx);
    if (!qx) {
        atomic_store(&g->failed, 1);
        return NULL;
    }
    for (;;) {
        int band = atomic_fetch_add(&g->next, 1);
        if (band >= g->nbands) break;
        int r0 = band * g->band_rows, r1 = r0 + g->band_rows;
        if (r1 > g->height) r1 = g->height;
        /* the first and the last band also own the rows beyond the grid */
        int v0 = band == 0 ? -g->rr - 1 : r0, v1 = band == g->nbands - 1 ? g->height + g->rr + 1 : r1;
        /* keys: row + rr + 1, rows -rr-1 .. height+rr */
        int k0 = v0 - g->rr + g->rr + 1, k1 = v1 - 1 + g->rr + g->rr + 1;
        int nkeys = g->height + 2 * g->rr + 2;
        if (k0 < 0) k0 = 0;
        if (k1 > nkeys - 1) k1 = nkeys - 1;
        double edge = 0;
        for (long q = g->row_start[k0]; q < g->row_start[k1 + 1]; q++)
            edge += add_point(g, qx, g->x[q], g->y[q], g->w[q], v0, v1);
        g->band_edge[band] = edge;
    }
    free(qx);
    return NULL;
}

/* ---- CRS, bandwidth, extent ---------------------------------------------- */

typedef struct {
    OGRSpatialReferenceH srs;
    char *wkt;
} crs_info;

static df_status crs_open(df_ctx *ctx, const char *text, crs_info *c, int *epsg)
{
    c->srs = OSRNewSpatialReference(NULL);
    if (!c->srs) return df__error(ctx, DF_ENOMEM, "out of memory");
    OSRSetAxisMappingStrategy(c->srs, OAMS_TRADITIONAL_GIS_ORDER);
    if (OSRSetFromUserInput(c->srs, text) != OGRERR_NONE)
        return df__error(ctx, DF_EPROJ, "cannot read the CRS '%s' %s", text, df__gdal_error(ctx));
    if (!OSRIsProjected(c->srs))
        return df__error(ctx, DF_EINVAL, "the CRS '%s' is not projected: pixel and radius are in metres", text);
    double to_m = OSRGetLinearUnits(c->srs, NULL);
    if (fabs(to_m - 1.0) > 1e-12)
        df__log(ctx, DF_LOG_WARN, "the CRS '%s' has units of %g m: pixel, radius and extent are taken in its units",
                text, to_m);
    OSRExportToWkt(c->srs, &c->wkt);
    *epsg = 0;
    const char *auth = OSRGetAuthorityName(c->srs, NULL), *code = OSRGetAuthorityCode(c->srs, NULL);
    if (auth && code && !strcasecmp(auth, "EPSG")) *epsg = atoi(code);
    return DF_OK;
}

static void crs_close(crs_info *c)
{
    if (c->srs) OSRDestroySpatialReference(c->srs);
    CPLFree(c->wkt);
    memset(c, 0, sizeof *c);
}

typedef struct {
    double d;
    double w;
} dist_w;

static int cmp_dist(const void *a, const void *b)
{
    double x = ((const dist_w *)a)->d, y = ((const dist_w *)b)->d;
    return x < y ? -1 : x > y;
}

/* The bandwidth h of a rule (0 when it cannot be computed). */
static double bandwidth_rule(df_bandwidth rule, const double *x, const double *y, const double *w, long n,
                             double *sd_out, double *dm_out)
{
    double sw = 0, mx = 0, my = 0, vx = 0, vy = 0;
    for (long i = 0; i < n; i++) sw += w[i], mx += w[i] * x[i], my += w[i] * y[i];
    if (n < 2 || !(sw > 0)) return 0;
    mx /= sw, my /= sw;
    for (long i = 0; i < n; i++) vx += w[i] * (x[i] - mx) * (x[i] - mx), vy += w[i] * (y[i] - my) * (y[i] - my);
    vx /= sw, vy /= sw;
    double sd = sqrt(vx + vy);
    *sd_out = sd, *dm_out = 0;
    if (rule == DF_BANDWIDTH_SCOTT) return sqrt((vx + vy) / 2) * pow((double)n, -1.0 / 6.0);
    dist_w *d = df__malloc((size_t)n * sizeof *d);
    if (!d) return -1;
    for (long i = 0; i < n; i++) d[i].d = hypot(x[i] - mx, y[i] - my), d[i].w = w[i];
    qsort(d, (size_t)n, sizeof *d, cmp_dist);
    double acc = 0, dm = d[n - 1].d;
    for (long i = 0; i < n; i++)
        if ((acc += d[i].w) >= sw / 2) {
            dm = d[i].d;
            break;
        }
    free(d);
    *dm_out = dm;
    double s = sd < dm / sqrt(LN2) ? sd : dm / sqrt(LN2);
    return 0.9 * s * pow((double)n, -0.2);
}

/* The boundaries of the finest level as OGR geometries in the target CRS. */
static df_status boundaries_projected(df_ctx *ctx, const df_boundaries *b, OGRSpatialReferenceH dst, OGRGeometryH **out,
                                      int *nout, double env[4])
{
    int level = df_boundaries_finest_level(b);
    df_status st = df_boundaries_prepare(ctx, b, level);
    if (st != DF_OK) return st;
    int n = df_boundaries_count(b, level);
    OGRSpatialReferenceH src = OSRNewSpatialReference(NULL);
    OGRCoordinateTransformationH ct = NULL;
    OGRGeometryH *g = calloc((size_t)n + 1, sizeof *g);
    if (!src || !g) {
        st = df__error(ctx, DF_ENOMEM, "out of memory");
        goto done;
    }
    OSRSetWellKnownGeogCS(src, "WGS84");
    OSRSetAxisMappingStrategy(src, OAMS_TRADITIONAL_GIS_ORDER);
    if (!(ct = OCTNewCoordinateTransformation(src, dst))) {
        st = df__error(ctx, DF_EPROJ, "cannot transform the boundaries to the target CRS %s", df__gdal_error(ctx));
        goto done;
    }
    env[0] = env[1] = HUGE_VAL, env[2] = env[3] = -HUGE_VAL;
    for (int i = 0; i < n; i++) {
        const GEOSGeometry *gg = df__boundaries_geometry(b, level, i);
        size_t len = 0;
        unsigned char *wkb = gg ? GEOSGeomToWKB_buf_r(ctx->geos, gg, &len) : NULL;
        if (!wkb) continue;
        OGRErr e = OGR_G_CreateFromWkb(wkb, NULL, &g[i], (int)len);
        GEOSFree_r(ctx->geos, wkb);
        if (e != OGRERR_NONE || OGR_G_Transform(g[i], ct) != OGRERR_NONE) {
            st = df__error(ctx, DF_EPROJ, "cannot project the boundary of %s %s", df_boundaries_unit(b, level, i)->name,
                           df__gdal_error(ctx));
            goto done;
        }
        OGREnvelope e2;
        OGR_G_GetEnvelope(g[i], &e2);
        if (e2.MinX < env[0]) env[0] = e2.MinX;
        if (e2.MinY < env[1]) env[1] = e2.MinY;
        if (e2.MaxX > env[2]) env[2] = e2.MaxX;
        if (e2.MaxY > env[3]) env[3] = e2.MaxY;
    }
done:
    if (ct) OCTDestroyCoordinateTransformation(ct);
    if (src) OSRDestroySpatialReference(src);
    if (st != DF_OK && g) {
        for (int i = 0; i < n; i++)
            if (g[i]) OGR_G_DestroyGeometry(g[i]);
        free(g);
        g = NULL;
    }
    *out = g, *nout = g ? n : 0;
    return st;
}

/* 1 inside the boundaries (pixel centre in a polygon), 0 outside. */
static df_status rasterize_mask(df_ctx *ctx, OGRGeometryH *geoms, int n, const df_density_info *in, unsigned char *mask)
{
    GDALDriverH mem = GDALGetDriverByName("MEM");
    GDALDatasetH ds = mem ? GDALCreate(mem, "", in->width, in->height, 1, GDT_Byte, NULL) : NULL;
    if (!ds) return df__error(ctx, DF_EGDAL, "cannot create the mask raster %s", df__gdal_error(ctx));
    GDALSetGeoTransform(ds, (double *)in->geotransform);
    int band = 1, count = 0;
    double *burn = malloc(((size_t)n + 1) * sizeof *burn);
    OGRGeometryH *list = malloc(((size_t)n + 1) * sizeof *list);
    df_status st = DF_OK;
    if (!burn || !list) {
        st = df__error(ctx, DF_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++)
        if (geoms[i]) list[count] = geoms[i], burn[count++] = 1;
    if (GDALRasterizeGeometries(ds, 1, &band, count, list, NULL, NULL, burn, NULL, NULL, NULL) != CE_None ||
        GDALRasterIO(GDALGetRasterBand(ds, 1), GF_Read, 0, 0, in->width, in->height, mask, in->width, in->height,
                     GDT_Byte, 0, 0) != CE_None)
        st = df__error(ctx, DF_EGDAL, "cannot rasterise the boundaries %s", df__gdal_error(ctx));
done:
    free(burn), free(list);
    GDALClose(ds);
    return st;
}

/* The median of v to 0.1 unit, by counting in nbins bins of 0.1 from lo. */
static double median_tenth(const double *v, long n, double lo, int nbins)
{
    long *count = calloc((size_t)nbins, sizeof *count), acc = 0;
    if (!count) return v[0];
    for (long i = 0; i < n; i++) {
        int k = (int)floor((v[i] - lo) * 10);
        count[k < 0 ? 0 : k >= nbins ? nbins - 1 : k]++;
    }
    int k = 0;
    for (; k < nbins - 1; k++)
        if ((acc += count[k]) * 2 >= n) break;
    free(count);
    return lo + (k + 0.5) / 10;
}

/* ---- the run --------------------------------------------------------------- */

static int core_count(const df_density_opts *o)
{
    long cores = o->threads > 0 ? o->threads : sysconf(_SC_NPROCESSORS_ONLN);
    return cores < 1 ? 1 : cores > DENSITY_MAX_THREADS ? DENSITY_MAX_THREADS : (int)cores;
}

/* Density of n points (lon/lat arrays, owned, projected in place). */
static df_status compute(df_ctx *ctx, double *x, double *y, double *w, long n, const df_boundaries *b,
                         const df_density_opts *o, df_density *d)
{
    df_density_info *in = &d->info;
    crs_info crs = {0};
    PJ *pj = NULL, *norm = NULL;
    OGRGeometryH *geoms = NULL;
    int ngeoms = 0;
    double *grid = NULL, *band_edge = NULL, *sx = NULL, *sy = NULL, *sw = NULL;
    long *row_start = NULL;
    unsigned char *mask = NULL;
    df_status st = DF_OK;

    if (!(o->pixel > 0)) return df__error(ctx, DF_EINVAL, "the pixel size must be positive (metres)");
    if (o->bandwidth == DF_BANDWIDTH_FIXED && !(o->radius > 0))
        return df__error(ctx, DF_EINVAL, "the radius must be positive (metres), or a bandwidth rule given");
    if ((unsigned)o->kernel > DF_KERNEL_GAUSSIAN) return df__error(ctx, DF_EINVAL, "unknown kernel %d", (int)o->kernel);
    if (o->mask && !b) return df__error(ctx, DF_EINVAL, "a mask needs the boundaries");

    /* the CRS: given, or the UTM zone of the centre of the points' extent */
    if (o->t_srs) {
        snprintf(in->crs, sizeof in->crs, "%s", o->t_srs);
    } else {
        double lo0 = HUGE_VAL, lo1 = -HUGE_VAL, la0 = HUGE_VAL, la1 = -HUGE_VAL, lonc, latc;
        if (n > 0) {
            /* the median point (to 0.1 degree): a few stray or swapped
             * coordinates must not move the zone, as the extent's centre would */
            lonc = median_tenth(x, n, -180, 3600), latc = median_tenth(y, n, -90, 1800);
            lo0 = lo1 = lonc, la0 = la1 = latc;
        }
        if (n == 0 && b) { /* no points: the boundaries' extent */
            int level = df_boundaries_finest_level(b);
            if ((st = df_boundaries_prepare(ctx, b, level)) != DF_OK) goto done;
            for (int i = 0; i < df_boundaries_count(b, level); i++) {
                const GEOSGeometry *g = df__boundaries_geometry(b, level, i);
                double v;
                if (!g) continue;
                if (GEOSGeom_getXMin_r(ctx->geos, g, &v) && v < lo0) lo0 = v;
                if (GEOSGeom_getXMax_r(ctx->geos, g, &v) && v > lo1) lo1 = v;
                if (GEOSGeom_getYMin_r(ctx->geos, g, &v) && v < la0) la0 = v;
                if (GEOSGeom_getYMax_r(ctx->geos, g, &v) && v > la1) la1 = v;
            }
        }
        if (!(lo0 <= lo1)) {
            st = df__error(ctx, DF_EINVAL, "no points to choose a UTM zone from: give -t_srs");
            goto done;
        }
        lonc = (lo0 + lo1) / 2, latc = (la0 + la1) / 2;
        int zone = (int)floor((lonc + 180.0) / 6.0) + 1;
        zone = zone < 1 ? 1 : zone > 60 ? 60 : zone;
        snprintf(in->crs, sizeof in->crs, "EPSG:%d", (latc >= 0 ? 32600 : 32700) + zone);
        df__log(ctx, DF_LOG_INFO, "density: CRS %s, the UTM zone of the data's median point (%.1f, %.1f)", in->crs,
                lonc, latc);
    }
    if ((st = crs_open(ctx, in->crs, &crs, &in->epsg)) != DF_OK) goto done;

    /* project the points in one batch */
    if (n > 0) {
        if (!(pj = proj_create_crs_to_crs(ctx->proj, "EPSG:4326", crs.wkt, NULL)) ||
            !(norm = proj_normalize_for_visualization(ctx->proj, pj))) {
            st = df__error(ctx, DF_EPROJ, "cannot transform WGS84 to %s: %s", in->crs,
                           proj_context_errno_string(ctx->proj, proj_context_errno(ctx->proj)));
            goto done;
        }
        proj_trans_generic(norm, PJ_FWD, x, sizeof *x, (size_t)n, y, sizeof *y, (size_t)n, NULL, 0, 0, NULL, 0, 0);
        long m = 0;
        for (long i = 0; i < n; i++)
            if (isfinite(x[i]) && isfinite(y[i]) && fabs(x[i]) < 1e20 && fabs(y[i]) < 1e20)
                x[m] = x[i], y[m] = y[i], w[m] = w[i], m++;
        if (m < n) df__log(ctx, DF_LOG_WARN, "density: %ld points cannot be projected to %s; left out", n - m, in->crs);
        in->no_point += n - m;
        n = m;
    }
    in->points = n;
    for (long i = 0; i < n; i++) in->total_weight += w[i];

    /* the radius */
    in->kernel = o->kernel;
    in->radius = o->radius;
    if (o->bandwidth != DF_BANDWIDTH_FIXED) {
        double sd = 0, dm = 0, h = bandwidth_rule(o->bandwidth, x, y, w, n, &sd, &dm);
        if (h < 0) {
            st = df__error(ctx, DF_ENOMEM, "out of memory");
            goto done;
        }
        if (!(h > 0)) {
            st = df__error(ctx, DF_EINVAL, "a bandwidth rule needs at least two distinct points");
            goto done;
        }
        in->radius = o->kernel == DF_KERNEL_GAUSSIAN ? 3 * h : h;
        df__log(ctx, DF_LOG_INFO,
                "density: bandwidth (%s) h = %.1f m from n = %ld points, standard distance %.1f m%s%.1f m; radius R "
                "= %.1f m",
                o->bandwidth == DF_BANDWIDTH_SCOTT ? "Scott" : "Silverman", h, n, sd,
                o->bandwidth == DF_BANDWIDTH_SCOTT ? "" : ", median distance ",
                o->bandwidth == DF_BANDWIDTH_SCOTT ? 0.0 : dm, in->radius);
    }
    double R = in->radius, p = o->pixel;

    /* the extent */
    double env[4];
    if (b && (o->mask || !o->has_extent)) {
        double benv[4];
        if ((st = boundaries_projected(ctx, b, crs.srs, &geoms, &ngeoms, benv)) != DF_OK) goto done;
        memcpy(env, benv, sizeof env);
    }
    if (o->has_extent) {
        memcpy(env, o->extent, sizeof env);
        if (!(env[2] > env[0] && env[3] > env[1])) {
            st = df__error(ctx, DF_EINVAL, "the extent must have xmin < xmax and ymin < ymax");
            goto done;
        }
        in->width = (int)fmax(1, floor((env[2] - env[0]) / p + 0.5));
        in->height = (int)fmax(1, floor((env[3] - env[1]) / p + 0.5));
    } else {
        if (!b) {
            env[0] = env[1] = HUGE_VAL, env[2] = env[3] = -HUGE_VAL;
            for (long i = 0; i < n; i++) {
                env[0] = fmin(env[0], x[i] - R), env[1] = fmin(env[1], y[i] - R);
                env[2] = fmax(env[2], x[i] + R), env[3] = fmax(env[3], y[i] + R);
            }
            if (n == 0) {
                st = df__error(ctx, DF_EINVAL, "no points selected, and no extent or boundaries to make a grid on");
                goto done;
            }
        }
        /* snapped outwards to multiples of the pixel size (aligned grids) */
        env[0] = floor(env[0] / p) * p, env[1] = floor(env[1] / p) * p;
        env[2] = ceil(env[2] / p) * p, env[3] = ceil(env[3] / p) * p;
        in->width = (int)fmax(1, floor((env[2] - env[0]) / p + 0.5));
        in->height = (int)fmax(1, floor((env[3] - env[1]) / p + 0.5));
    }
    double cells = (double)in->width * in->height;
    if (cells > 2e9 || (double)in->width * 2 + 2 * R / p > 2e9) {
        st = df__error(ctx, DF_EINVAL, "the grid of %d x %d pixels is too large: a larger pixel or a smaller extent",
                       in->width, in->height);
        goto done;
    }
    double *gt = in->geotransform;
    gt[0] = env[0], gt[1] = p, gt[2] = 0, gt[3] = env[3], gt[4] = 0, gt[5] = -p; /* from the top left corner */

    /* bucket the points by row: key = row + rr + 1 over rows -rr-1 .. height+rr */
    int rr = (int)ceil(R / p) + 1, nkeys = in->height + 2 * rr + 2;
    size_t npix = (size_t)in->width * (size_t)in->height;
    grid = calloc(npix, sizeof *grid);
    row_start = calloc((size_t)nkeys + 1, sizeof *row_start);
    sx = malloc(((size_t)n + 1) * sizeof *sx), sy = malloc(((size_t)n + 1) * sizeof *sy);
    sw = malloc(((size_t)n + 1) * sizeof *sw);
    int *key = malloc(((size_t)n + 1) * sizeof *key);
    if (!grid || !row_start || !sx || !sy || !sw || !key) {
        free(key);
        st = df__error(ctx, DF_ENOMEM, "out of memory for a grid of %d x %d pixels", in->width, in->height);
        goto done;
    }
    double far_loss = 0; /* points whose disc cannot reach the grid */
    long *fill = malloc(((size_t)(in->width > in->height ? in->width : in->height) + 2 * rr + 3) * sizeof *fill);
    if (!fill) {
        free(key);
        st = df__error(ctx, DF_ENOMEM, "out of memory");
        goto done;
    }
    /* first by column, then (stably) by row: within a row the points run
     * west to east and their discs overlap in the cache */
    int ncols = in->width + 2 * rr + 2;
    memset(fill, 0, ((size_t)ncols + 1) * sizeof *fill);
    for (long i = 0; i < n; i++) {
        double r = floor((gt[3] - y[i]) / p), c = floor((x[i] - gt[0]) / p);
        int far = r < -rr - 1 || r > in->height + rr || c < -rr - 1 || c > in->width + rr;
        key[i] = far ? -1 : (int)c + rr + 1;
        if (far)
            far_loss += w[i];
        else
            fill[key[i] + 1]++;
    }
    for (int k = 0; k < ncols; k++) fill[k + 1] += fill[k];
    for (long i = 0; i < n; i++)
        if (key[i] >= 0) {
            long q = fill[key[i]]++;
            sx[q] = x[i], sy[q] = y[i], sw[q] = w[i];
        }
    long m = fill[ncols - 1]; /* points kept */
    for (long i = 0; i < m; i++) {
        x[i] = sx[i], y[i] = sy[i], w[i] = sw[i];
        key[i] = (int)floor((gt[3] - y[i]) / p) + rr + 1;
        row_start[key[i] + 1]++;
    }
    for (int k = 0; k < nkeys; k++) row_start[k + 1] += row_start[k];
    memcpy(fill, row_start, ((size_t)nkeys + 1) * sizeof *fill);
    for (long i = 0; i < m; i++) {
        long q = fill[key[i]]++;
        sx[q] = x[i], sy[q] = y[i], sw[q] = w[i];
    }
    free(fill);
    free(key);

    int nthreads = core_count(o);
    grid_job g = {.x = sx,
                  .y = sy,
                  .w = sw,
                  .row_start = row_start,
                  .rr = rr,
                  .width = in->width,
                  .height = in->height,
                  .x0 = gt[0],
                  .y0 = gt[3],
                  .pixel = p,
                  .radius = R,
                  .kernel = o->kernel,
                  .grid = grid};
    /* bands of at least 8 rows, about 16 per thread, for balance */
    g.band_rows = in->height / (16 * nthreads);
    if (g.band_rows < 8) g.band_rows = 8;
    g.nbands = (in->height + g.band_rows - 1) / g.band_rows;
    atomic_init(&g.next, 0);
    atomic_init(&g.failed, 0);
    if (!(band_edge = calloc((size_t)g.nbands, sizeof *band_edge))) {
        st = df__error(ctx, DF_ENOMEM, "out of memory");
        goto done;
    }
    g.band_edge = band_edge;
    pthread_t tid[DENSITY_MAX_THREADS];
    int started = 0;
    for (int t = 1; t < nthreads && t < g.nbands; t++, started++)
        if (pthread_create(&tid[started], NULL, grid_worker, &g) != 0) break;
    grid_worker(&g);
    for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
    if (atomic_load(&g.failed) || atomic_load(&g.next) < g.nbands) {
        st = df__error(ctx, DF_ENOMEM, "out of memory computing the density");
        goto done;
    }
    df__log(ctx, DF_LOG_DEBUG, "density: %ld points on %d x %d pixels, %d threads, %d bands", n, in->width, in->height,
            started + 1, g.nbands);

    /* scale into Float32, mask, and count the mass */
    double c = kernel_constant(o->kernel), area = p * p, to_people = c / (R * R) * area;
    double scale = o->raw ? 1.0 : c / (R * R) * 1e6;
    double edge = 0;
    for (int k = 0; k < g.nbands; k++) edge += band_edge[k];
    in->edge_loss = edge * to_people + far_loss;
    if (o->mask) {
        if (!(mask = malloc(npix))) {
            st = df__error(ctx, DF_ENOMEM, "out of memory");
            goto done;
        }
        if ((st = rasterize_mask(ctx, geoms, ngeoms, in, mask)) != DF_OK) goto done;
    }
    if (!(d->values = malloc(npix * sizeof *d->values))) {
        st = df__error(ctx, DF_ENOMEM, "out of memory");
        goto done;
    }
    double inside = 0, masked = 0, mx = 0;
    for (size_t q = 0; q < npix; q++) {
        if (mask && !mask[q]) {
            masked += grid[q];
            d->values[q] = DF_DENSITY_NODATA;
            continue;
        }
        inside += grid[q];
        float v = (float)(grid[q] * scale);
        d->values[q] = v;
        if (v > mx) mx = v;
    }
    in->grid_weight = inside * to_people;
    in->mask_loss = masked * to_people;
    in->max = mx;
    in->raw = o->raw;
    in->units = o->raw ? "raw kernel sum" : "people/km2";
    df__log(ctx, DF_LOG_INFO,
            "density: %ld points, %.0f people; %s kernel, R = %.1f m, pixel %.1f m, %d x %d in %s; on the grid %.1f, "
            "edge loss %.1f, masked %.1f, discretisation %.3g",
            n, in->total_weight, df_kernel_name(o->kernel), R, p, in->width, in->height, in->crs, in->grid_weight,
            in->edge_loss, in->mask_loss, in->total_weight - in->grid_weight - in->edge_loss - in->mask_loss);
done:
    if (norm) proj_destroy(norm);
    if (pj) proj_destroy(pj);
    for (int i = 0; geoms && i < ngeoms; i++)
        if (geoms[i]) OGR_G_DestroyGeometry(geoms[i]);
    free(geoms);
    crs_close(&crs);
    free(grid), free(band_edge), free(row_start), free(sx), free(sy), free(sw), free(mask);
    return st;
}

df_status df_density_points(df_ctx *ctx, const double *lon, const double *lat, const double *weight, long n,
                            const df_boundaries *b, const df_density_opts *opts, df_density **out)
{
    *out = NULL;
    df_density *d = calloc(1, sizeof *d);
    double *x = malloc(((size_t)n + 1) * sizeof *x), *y = malloc(((size_t)n + 1) * sizeof *y);
    double *w = malloc(((size_t)n + 1) * sizeof *w);
    df_status st = DF_OK;
    if (!d || !x || !y || !w) {
        st = df__error(ctx, DF_ENOMEM, "out of memory");
        goto done;
    }
    long m = 0;
    for (long i = 0; i < n; i++)
        if (!isnan(lon[i]) && !isnan(lat[i]) && weight[i] > 0) x[m] = lon[i], y[m] = lat[i], w[m] = weight[i], m++;
    d->info.no_point = n - m;
    st = compute(ctx, x, y, w, m, b, opts, d);
done:
    free(x), free(y), free(w);
    if (st == DF_OK)
        *out = d;
    else
        df_density_free(d);
    return st;
}

df_status df_density_run(df_ctx *ctx, const df_record_opts *ropts, const df_boundaries *b, const df_density_opts *opts,
                         df_density **out)
{
    point_buf bufs[DENSITY_MAX_THREADS];
    void *users[DENSITY_MAX_THREADS];
    df_density *d = calloc(1, sizeof *d);
    point_buf all = {0};
    int used = 1;
    df_status st = DF_OK;
    *out = NULL;
    memset(bufs, 0, sizeof bufs);
    if (!d) return df__error(ctx, DF_ENOMEM, "out of memory");
    for (int k = 0; k < DENSITY_MAX_THREADS; k++) bufs[k].opts = opts, bufs[k].b = b, users[k] = &bufs[k];
    st = df__records_read_parallel(ctx, ropts, core_count(opts), on_record, users, NULL, NULL, &d->info.read, &used);
    if (st != DF_OK) goto done;
    /* merge in file order */
    for (int k = 0; k < used; k++) {
        if (bufs[k].failed) {
            st = df__error(ctx, DF_ENOMEM, "out of memory collecting the points of %s", ropts->path);
            goto done;
        }
        d->info.filtered += bufs[k].filtered, d->info.no_point += bufs[k].no_point;
        d->info.swapped += bufs[k].swapped;
    }
    if (d->info.swapped)
        df__log(ctx, DF_LOG_INFO, "density: %ld points with latitude and longitude swapped, put right",
                d->info.swapped);
    all = bufs[0], memset(&bufs[0], 0, sizeof bufs[0]);
    for (int k = 1; k < used; k++)
        for (long i = 0; i < bufs[k].n; i++)
            if (point_push(&all, bufs[k].lon[i], bufs[k].lat[i], bufs[k].w[i], bufs[k].date[i]) != 0) {
                st = df__error(ctx, DF_ENOMEM, "out of memory collecting the points of %s", ropts->path);
                goto done;
            }
    /* snapshot tables are never summed across dates: the latest snapshot */
    if (ropts->kind == DF_SNAPSHOTS && all.n > 0) {
        int32_t last = DF_NO_DATE;
        for (long i = 0; i < all.n; i++)
            if (all.date[i] != DF_NO_DATE && (last == DF_NO_DATE || all.date[i] > last)) last = all.date[i];
        long m = 0;
        for (long i = 0; i < all.n; i++)
            if (all.date[i] == last)
                all.lon[m] = all.lon[i], all.lat[m] = all.lat[i], all.w[m] = all.w[i], all.date[m] = all.date[i], m++;
        d->info.filtered += all.n - m;
        all.n = m;
        char day[11];
        df_date_format(last, day);
        df__log(ctx, DF_LOG_INFO, "density: snapshots: the rows of %s, the latest date", day[0] ? day : "(undated)");
    }
    st = compute(ctx, all.lon, all.lat, all.w, all.n, b, opts, d);
done:
    for (int k = 0; k < DENSITY_MAX_THREADS; k++) point_buf_free(&bufs[k]);
    point_buf_free(&all);
    if (st == DF_OK)
        *out = d;
    else
        df_density_free(d);
    return st;
}

void df_density_free(df_density *d)
{
    if (!d) return;
    free(d->values);
    free(d);
}

const df_density_info *df_density_get_info(const df_density *d) { return &d->info; }
const float *df_density_values(const df_density *d) { return d->values; }

long df__density_mask(df_density *d, const df_density *support, double k)
{
    const df_density_info *in = &d->info, *sn = &support->info;
    if (in->width != sn->width || in->height != sn->height) return -1;
    long masked = 0;
    double mx = 0;
    for (size_t q = 0; q < (size_t)in->width * (size_t)in->height; q++) {
        float *v = &d->values[q];
        if (*v != DF_DENSITY_NODATA && *v > 0 && support->values[q] < k) *v = DF_DENSITY_NODATA, masked++;
        if (*v != DF_DENSITY_NODATA && *v > mx) mx = *v;
    }
    d->info.max = mx;
    return masked;
}

/* ---- writing ------------------------------------------------------------- */

/* A QGIS style: single-band pseudocolour, 0 (transparent) .. max (qgis.c). */
static df_status write_qml(df_ctx *ctx, const df_density *d, const char *path)
{
    df__qgis_layer l = {.name = path, .style = DF__STYLE_RASTER, .max = d->info.max, .units = d->info.units};
    char tmp[4096], *qml = df__qgis_style_qml(&l);
    if (!qml) return df__error(ctx, DF_ENOMEM, "out of memory");
    df_status st = df__temp_path(ctx, path, tmp, sizeof tmp);
    FILE *f = st == DF_OK ? fopen(tmp, "w") : NULL;
    if (st == DF_OK && !f) st = df__error(ctx, DF_EIO, "cannot write %s", tmp);
    if (f) fputs(qml, f), st = df__commit_file(ctx, f, tmp, path);
    free(qml);
    return st;
}

df_status df_density_write(df_ctx *ctx, const df_density *d, const char *path, const char *format,
                           char **creation_options)
{
    const df_density_info *in = &d->info;
    int cog = format && !strcasecmp(format, "COG");
    if (format && !cog && strcasecmp(format, "GTiff") != 0)
        return df__error(ctx, DF_EINVAL, "density rasters are GTiff or COG, not %s", format);
    char tmp[4096], qml[4096];
    df_status st = df__temp_path(ctx, path, tmp, sizeof tmp);
    if (st != DF_OK) return st;
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    int stem = dot && (!slash || dot > slash) ? (int)(dot - path) : (int)strlen(path);
    if (snprintf(qml, sizeof qml, "%.*s.qml", stem, path) >= (int)sizeof qml)
        return df__error(ctx, DF_EINVAL, "output path too long: %s", path);

    GDALDriverH mem = GDALGetDriverByName("MEM"), drv = GDALGetDriverByName(cog ? "COG" : "GTiff");
    if (!mem || !drv) return df__error(ctx, DF_EGDAL, "GDAL has no %s driver", cog ? "COG" : "GTiff");
    /* the grid as a MEM band over our buffer: no copy */
    GDALDatasetH src = GDALCreate(mem, "", in->width, in->height, 0, GDT_Float32, NULL), out = NULL;
    char ptr[64], **bo = NULL, **co = NULL, num[64];
    int n = CPLPrintPointer(ptr, (void *)d->values, sizeof ptr - 1);
    ptr[n] = 0;
    bo = CSLSetNameValue(bo, "DATAPOINTER", ptr);
    if (!src || GDALAddBand(src, GDT_Float32, bo) != CE_None) {
        st = df__error(ctx, DF_EGDAL, "cannot wrap the grid %s", df__gdal_error(ctx));
        goto done;
    }
    GDALRasterBandH band = GDALGetRasterBand(src, 1);
    GDALSetGeoTransform(src, (double *)in->geotransform);
    {
        OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
        char *wkt = NULL;
        if (srs && OSRSetFromUserInput(srs, in->crs) == OGRERR_NONE && OSRExportToWkt(srs, &wkt) == OGRERR_NONE)
            GDALSetProjection(src, wkt);
        CPLFree(wkt);
        if (srs) OSRDestroySpatialReference(srs);
    }
    GDALSetRasterNoDataValue(band, DF_DENSITY_NODATA);
    GDALSetRasterUnitType(band, in->raw ? "" : "people/km2");
    GDALSetDescription(band, in->raw ? "raw kernel sum" : "density");
#define META(key, ...)                                                                                                 \
    do {                                                                                                               \
        snprintf(num, sizeof num, __VA_ARGS__);                                                                        \
        GDALSetMetadataItem(src, key, num, NULL);                                                                      \
    } while (0)
    META("DENSITY_UNITS", "%s", in->units);
    META("DENSITY_KERNEL", "%s", df_kernel_name(in->kernel));
    META("DENSITY_RADIUS_M", "%.6f", in->radius);
    META("DENSITY_PIXEL_M", "%.6f", in->geotransform[1]);
    META("DENSITY_POINTS", "%ld", in->points);
    META("DENSITY_TOTAL_WEIGHT", "%.6f", in->total_weight);
    META("DENSITY_GRID_WEIGHT", "%.6f", in->grid_weight);
    META("DENSITY_EDGE_LOSS", "%.6f", in->edge_loss);
    META("DENSITY_MASK_LOSS", "%.6f", in->mask_loss);
    META("SOFTWARE", "dispflow %s", DISPFLOW_VERSION);
    GDALSetMetadataItem(src, "DENSITY_FORMULA",
                        in->raw ? "sum of w k(d/R)" : "sum of w c k(d/R) / R^2 x 1e6 (see docs/density.md)", NULL);
    {
        /* statistics over the valid pixels, stored in the file (no .aux.xml) */
        double s = 0, s2 = 0, mn = HUGE_VAL, mx = -HUGE_VAL;
        size_t valid = 0, npix = (size_t)in->width * (size_t)in->height;
        for (size_t q = 0; q < npix; q++) {
            double v = d->values[q];
            if (v == DF_DENSITY_NODATA) continue;
            valid++, s += v, s2 += v * v;
            if (v < mn) mn = v;
            if (v > mx) mx = v;
        }
        if (valid) {
            double mean = s / (double)valid, var = s2 / (double)valid - mean * mean;
            GDALSetRasterStatistics(band, mn, mx, mean, sqrt(var > 0 ? var : 0));
            snprintf(num, sizeof num, "%.6g", 100.0 * (double)valid / (double)npix);
            GDALSetMetadataItem(band, "STATISTICS_VALID_PERCENT", num, NULL);
        }
    }
#undef META
    if (cog)
        co = CSLSetNameValue(co, "COMPRESS", "DEFLATE"), co = CSLSetNameValue(co, "RESAMPLING", "AVERAGE");
    else
        co = CSLSetNameValue(co, "TILED", "YES"), co = CSLSetNameValue(co, "COMPRESS", "DEFLATE");
    co = CSLSetNameValue(co, "NUM_THREADS", "ALL_CPUS");
    for (char **c = creation_options; c && *c; c++) {
        char *key = NULL;
        const char *val = CPLParseNameValue(*c, &key);
        if (!key || !val) {
            CPLFree(key);
            st = df__error(ctx, DF_EINVAL, "a creation option is KEY=VALUE, not %s", *c);
            goto done;
        }
        co = CSLSetNameValue(co, key, val);
        CPLFree(key);
    }
    /* no .aux.xml beside the temporary name: statistics live in the TIFF */
    CPLSetThreadLocalConfigOption("GDAL_PAM_ENABLED", "NO");
    CPLErrorReset();
    out = GDALCreateCopy(drv, tmp, src, FALSE, co, NULL, NULL);
    if (out) GDALClose(out);
    if (!out || CPLGetLastErrorType() >= CE_Failure) {
        st = df__error(ctx, DF_EGDAL, "cannot write %s %s", path, df__gdal_error(ctx));
        unlink(tmp);
    }
    CPLSetThreadLocalConfigOption("GDAL_PAM_ENABLED", NULL);
    if (st == DF_OK) st = df__commit(ctx, tmp, path);
    if (st == DF_OK) st = write_qml(ctx, d, qml);
done:
    if (src) GDALClose(src);
    CSLDestroy(bo);
    CSLDestroy(co);
    return st;
}
