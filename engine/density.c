/*
 * density.c — kernel density of people at record locations, on a grid in a
 * projected CRS, computed exactly (pixel centres against the true point
 * positions) on all cores, and written as a GeoTIFF/COG with a QGIS style.
 *
 * How it runs (docs/density.md has the formulas and the passes):
 *   1. the records are read (in parallel for big CSV files); each thread
 *      appends its selected points (lon, lat, weight, date), a block at a
 *      time, to its own unlinked temporary file: the files in turn are the
 *      points in file order, and nothing per point stays in memory;
 *   2. passes over those files, a block at a time: the median point for the
 *      UTM zone (without -t_srs); the projection (on all cores), into a file
 *      of projected points, with the sums and the extent; the bandwidth
 *      rule's (variance, and Silverman's median distance exactly by radix
 *      selection);
 *   3. the grid accumulates Σ w k(u) in fixed point (int64, fx_scales: the
 *      same bits in any grouping of the points), one chunk of points at a
 *      time; the rows are cut into bands that threads take in turn, each
 *      band visited only by the chunk's points whose disc reaches it (the
 *      points are bucketed by row), so no pixel is ever written by two
 *      threads and no grid is copied per thread; a disc inside the grid is
 *      added row by row over windows fixed by the row's offset (no square
 *      root), in loops compiled for AVX-512 and AVX2 as well (add_points);
 *   4. the sums are scaled by c / R² (x 10⁶: per km²) into Float32, masked.
 * Memory: 8 + 4 bytes per pixel plus one chunk (52 bytes a point, at most
 * DENSITY_CHUNK points), whatever the number of points; the temporary files
 * take 56 bytes per point on disk.
 */
#include "df_products.h"

#include <cpl_conv.h>
#include <cpl_string.h>
#include <gdal.h>
#include <gdal_alg.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <proj.h>

#define DENSITY_MAX_THREADS 64
#define GAUSS_A             4.5 /* exp(-4.5 u²) = exp(-d² / 2σ²) with σ = R/3 */
#define LN2                 0.69314718055994530942
#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* The statistics of the valid pixels, as df_density_write stores them:
 * double sums in fixed slices of pixels (grid_scale's), each in pixel order
 * (a 0 adds nothing to them, so zeros are skipped). */
typedef struct {
    double sum, sum2, min, max;
    size_t valid;
} pixel_stats;

struct df_density {
    df_density_info info;
    float *values;
    pixel_stats stats; /* of values, made with them by grid_scale */
    int stats_ok;      /* 0 once the values change (df__density_scale, _mask) */
    char *wkt;         /* the CRS as WKT (crs_open's), or NULL: in->crs is read */
    void *push;        /* df_density_new: its sink, until df_density_finish */
    df_density_opts opts;
    char *t_srs; /* opts.t_srs, copied */
};

static void push_free(df_density *d);

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
    opts->size = sizeof *opts;
    opts->kernel = DF_KERNEL_QUARTIC;
    opts->bandwidth = DF_BANDWIDTH_FIXED;
    opts->weight = DF_WEIGHT_INDIVIDUALS;
    opts->status = -1;
    opts->from = opts->as_of = DF_NO_DATE;
    opts->max_pixels = DF_DENSITY_MAX_PIXELS;
}

/* ---- the points, spooled ------------------------------------------------- */

/* The selected points never stay in memory: the readers write them, in
 * blocks, to unlinked temporary files (one per reading thread, so that file
 * order is kept), and every later pass reads them back in blocks. The grid
 * is computed chunk by chunk of at most chunk_size points. */
#define DENSITY_CHUNK (1L << 20) /* points gridded at once */
#define DENSITY_BLOCK 65536L     /* points of a block in the other passes */

typedef struct {
    double lon, lat, w;
    int32_t date, op; /* op: the operation, an index into its reading thread's list */
} raw_pt;             /* as read: WGS84, the weight, the date */

#define DENSITY_MAX_OPS 256

typedef struct {
    double x, y, w;
} xyw_pt; /* projected */

static long chunk_size = DENSITY_CHUNK;
static atomic_long held_now, held_peak; /* points in memory (buffer capacities) */

void df__density_test_chunk(long points)
{
    chunk_size = points > 0 ? points : DENSITY_CHUNK;
    atomic_store(&held_peak, 0);
}

long df__density_test_peak(void) { return atomic_load(&held_peak); }

static atomic_long projected_as_read; /* points the sink's readers projected (the tests' count) */
long df__density_test_projected(void) { return atomic_exchange(&projected_as_read, 0); }

static void hold(long n)
{
    long now = atomic_fetch_add(&held_now, n) + n, peak = atomic_load(&held_peak);
    while (now > peak && !atomic_compare_exchange_weak(&held_peak, &peak, now)) {}
}

static void release(long n) { atomic_fetch_sub(&held_now, n); }

static long block_size(void) { return chunk_size < DENSITY_BLOCK ? chunk_size : DENSITY_BLOCK; }

/* An unlinked temporary file in $TMPDIR (else /tmp); -1 when none can be made. */
static int spool_new(void)
{
    const char *dirs[2] = {getenv("TMPDIR"), "/tmp"};
    for (int k = 0; k < 2; k++) {
        char path[4096];
        if (!dirs[k] || !*dirs[k] ||
            snprintf(path, sizeof path, "%s/.dispflow-density-XXXXXX", dirs[k]) >= (int)sizeof path)
            continue;
        int fd = mkstemp(path);
        if (fd >= 0) {
            unlink(path);
            return fd;
        }
    }
    return -1;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t k = write(fd, p, len);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k, len -= (size_t)k;
    }
    return 0;
}

/* Up to cap items of size bytes from fd: the count, 0 at the end, -1 on error. */
static long read_items(int fd, void *buf, size_t size, long cap)
{
    size_t want = size * (size_t)cap, got = 0;
    while (got < want) {
        ssize_t k = read(fd, (char *)buf + got, want - got);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -1;
        if (k == 0) break;
        got += (size_t)k;
    }
    return (long)(got / size);
}

/* One reading thread's points: a block in memory, the rest in its file. */
typedef struct {
    raw_pt *blk;
    long nblk, cap;
    int fd;       /* -1 until the first block is written */
    long n;       /* points written */
    int32_t last; /* the latest date of the points kept (DF_NO_DATE: none dated) */
    long filtered, no_point;
    int failed; /* 1 out of memory, 2 the temporary file cannot be written */
    int err;    /* errno of a write */
    const df_density_opts *opts;
    const df_boundaries *b; /* swapped coordinates are put right inside it */
    long swapped;
    /* snapshot tables: the operations (by first appearance), each one's
     * latest date on or before as-of, and the repeats, as the join keeps them */
    const df_read_stats *read;
    char *ops[DENSITY_MAX_OPS];
    int nops;
    int32_t op_last[DENSITY_MAX_OPS];
    df__repeats *repeats;
    int drop_rivals; /* --duplicates drop: the first row of a key kept */
    /* not NULL: a full block goes to emit (the projection pass), not to fd */
    int (*emit)(raw_pt *blk, long n, void *user);
    void *emit_user;
    int emit_rc; /* emit's nonzero value, which stopped the pass */
} point_buf;

static void point_buf_init(point_buf *p, const df_density_opts *o, const df_boundaries *b, long cap)
{
    memset(p, 0, sizeof *p);
    p->fd = -1, p->last = DF_NO_DATE, p->opts = o, p->b = b, p->cap = cap < 1 ? 1 : cap;
}

static int point_flush(point_buf *p)
{
    if (p->nblk == 0) return 0;
    if (p->emit) {
        if ((p->emit_rc = p->emit(p->blk, p->nblk, p->emit_user)) != 0) return -1;
        p->n += p->nblk, p->nblk = 0;
        return 0;
    }
    if ((p->fd < 0 && (p->fd = spool_new()) < 0) || write_all(p->fd, p->blk, (size_t)p->nblk * sizeof *p->blk) != 0) {
        p->err = errno, p->failed = 2;
        return -1;
    }
    p->n += p->nblk, p->nblk = 0;
    return 0;
}

static int point_push(point_buf *p, double lon, double lat, double w, int32_t date, int op)
{
    if (!p->blk) {
        if (!(p->blk = df__malloc((size_t)p->cap * sizeof *p->blk))) {
            p->failed = 1;
            return -1;
        }
        hold(p->cap);
    }
    if (p->nblk == p->cap && point_flush(p) != 0) return -1;
    p->blk[p->nblk++] = (raw_pt){lon, lat, w, date, op};
    if (date != DF_NO_DATE && (p->last == DF_NO_DATE || date > p->last)) p->last = date;
    return 0;
}

static void point_buf_free(point_buf *p)
{
    for (int i = 0; i < p->nops; i++) free(p->ops[i]);
    p->nops = 0;
    df__repeats_free(p->repeats);
    p->repeats = NULL;
    if (p->blk) release(p->cap);
    free(p->blk);
    if (p->fd >= 0) close(p->fd);
    p->blk = NULL, p->fd = -1;
}

/* The selected points as read, in file order: the files of the reading
 * threads one after the other; snap keeps, of each operation, only the
 * rows of its snapshot date (per file: the file's operations). */
typedef struct {
    int fd[DENSITY_MAX_THREADS];
    int nfd;
    long total; /* points in the files */
    int snap;
    int32_t *snap_date[DENSITY_MAX_THREADS]; /* per file, per operation */
    int projected; /* lon, lat hold x, y already in the target CRS (the sink's readers projected them) */
    /* not NULL: the points come from each(src), not from the files */
    int (*each)(void *src, int (*fn)(raw_pt *, long, void *), void *user);
    void *src;
} raw_spool;

static void raw_spool_close(raw_spool *s)
{
    for (int k = 0; k < s->nfd; k++) {
        if (s->fd[k] >= 0) close(s->fd[k]);
        free(s->snap_date[k]);
        s->snap_date[k] = NULL;
    }
    s->nfd = 0;
}

/* fn on each block of the selected points, in file order: 0, -1 when a
 * file cannot be read, or fn's nonzero value. */
static int raw_each(const raw_spool *s, raw_pt *blk, long cap, int (*fn)(raw_pt *, long, void *), void *user)
{
    if (s->each) return s->each(s->src, fn, user);
    for (int k = 0; k < s->nfd; k++) {
        long n;
        if (lseek(s->fd[k], 0, SEEK_SET) != 0) return -1;
        while ((n = read_items(s->fd[k], blk, sizeof *blk, cap)) > 0) {
            long m = n;
            if (s->snap) {
                m = 0;
                for (long i = 0; i < n; i++)
                    if (blk[i].date == DF_NO_DATE || blk[i].date == s->snap_date[k][blk[i].op]) blk[m++] = blk[i];
            }
            int r = m > 0 ? fn(blk, m, user) : 0;
            if (r) return r;
        }
        if (n < 0) return -1;
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
    double scale, edge_scale; /* S and S_e of the fixed point (fx_scales) */
    int64_t *grid;
    int64_t *band_edge; /* per band: Σ w k(u) S_e on lattice pixels outside the grid */
    const int *order;   /* the bands, most points first (NULL: in row order) */
    atomic_int next;    /* of order: the next band to take */
    atomic_int failed;  /* a thread could not get its scratch row */
    /* progress: the calling thread reports (a context is not shared between
     * threads) after each band it adds; a cancel stops every thread */
    df_ctx *ctx;
    pthread_t caller;
    double done, share; /* the run's fraction before this chunk, and this chunk's */
    atomic_int cancelled;
} grid_job;

/* Inlined into add_points, the one function cloned for AVX-512 and AVX2 (below), so
 * that the row loops are compiled for it with no call per row. */
#if defined(__GNUC__)
#define HOT static inline __attribute__((always_inline))
#else
#define HOT static inline
#endif

/* k(u) at squared distance q = d² / R² (zero beyond R). */
HOT double kernel_at(df_kernel kernel, double q)
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

/* A point's columns jbase .. jbase + 2 rr: qx[k] = (dx / R)², and prefix
 * sums s[m][k] = Σ over i < k of f_m(qx[i]) (f the powers of qx the kernel
 * expands into, or its exponential; 0 beyond the disc, so that the sums
 * stay of the disc's size), with which the kernel mass of a row over any
 * span of columns is a closed form (row_mass). */
typedef struct {
    double *qx, *s[3];
    double *qs;      /* root * qx (span_add) */
    int *wlo, *wlen; /* row_windows */
} point_cols;

/* The columns a disc may reach on the row d rows from its own (d = -rr..rr),
 * whatever the point's place in its pixel: indices wlo[d + rr] ..
 * wlo[d + rr] + wlen[d + rr] - 1 into its qx (column jbase + index). The
 * row's least |dy| is (|d| - 1/2) pixels (0 on its own row); taken as
 * |d| - 1, and the half-width h = sqrt(R² - dy²) / pixel as floor(h) + 1
 * on the west and + 2 on the east (the point's column is floor(cx)), the
 * window holds every pixel of the disc with a column to spare for rounding.
 * A window is at most 2 rr + 1 columns, about 3 more than the disc's chord:
 * what this saves is the square root and the search for the chord's ends on
 * every row of every point. */
static void row_windows(double radius, double pixel, int rr, int *wlo, int *wlen)
{
    for (int d = -rr; d <= rr; d++) {
        double dy = (d > 1 ? d - 1 : d < -1 ? -d - 1 : 0) * pixel, h2 = radius * radius - dy * dy;
        int k = d + rr;
        wlo[k] = 0, wlen[k] = 0;
        if (h2 < 0) continue; /* a row the disc cannot reach */
        double h = floor(sqrt(h2) / pixel);
        int a = h + 1 < rr ? -(int)h - 1 : -rr, b = h + 2 < rr ? (int)h + 2 : rr;
        wlo[k] = a + rr, wlen[k] = b - a + 1;
    }
}

static void cols_prefix(df_kernel kernel, point_cols *c, int ncols)
{
    double a0 = 0, a1 = 0, a2 = 0;
    c->s[0][0] = c->s[1][0] = c->s[2][0] = 0;
    for (int k = 0; k < ncols; k++) {
        double q = c->qx[k], in = q <= 1;
        if (kernel == DF_KERNEL_GAUSSIAN)
            a0 += in ? exp(-GAUSS_A * q) : 0;
        else
            a0 += in * q, a1 += in * q * q, a2 += in * q * q * q;
        c->s[0][k + 1] = a0, c->s[1][k + 1] = a1, c->s[2][k + 1] = a2;
    }
}

/* Σ k(u) over the columns k0..k1 (indices into qx, every one inside the
 * disc) of a row at qy = (dy / R)²: with a = 1 - qy, the quartic's
 * Σ (a - qx)² = n a² - 2a Σ qx + Σ qx², and so on; the Gaussian's is
 * exp(-4.5 qy) Σ exp(-4.5 qx). The triangular's 1 - sqrt(qx + qy) has no
 * such form and is summed column by column (at most 2 rr + 1 of them). */
static double row_mass(df_kernel kernel, const point_cols *c, int k0, int k1, double qy)
{
    double n = k1 - k0 + 1, a = 1.0 - qy, m = 0;
#define S(i) (c->s[i][k1 + 1] - c->s[i][k0])
    switch (kernel) {
    case DF_KERNEL_QUARTIC:
        m = n * a * a - 2 * a * S(0) + S(1);
        break;
    case DF_KERNEL_TRIWEIGHT:
        m = n * a * a * a - 3 * a * a * S(0) + 3 * a * S(1) - S(2);
        break;
    case DF_KERNEL_EPANECHNIKOV:
        m = n * a - S(0);
        break;
    case DF_KERNEL_UNIFORM:
        m = n;
        break;
    case DF_KERNEL_GAUSSIAN:
        m = exp(-GAUSS_A * qy) * S(0);
        break;
    case DF_KERNEL_TRIANGULAR:
        for (int k = k0; k <= k1; k++) m += kernel_at(kernel, c->qx[k] + qy);
        break;
    }
#undef S
    return m > 0 ? m : 0; /* rounding near the rim */
}

/* x (0 <= x < 2^51) rounded to the nearest integer: x + 1.5 2^52 has a
 * unit in its last place of 1, so the addition rounds, and its bits less
 * those of 1.5 2^52 are the integer. No conversion instruction: the loops
 * below stay vectorised (an add and an integer subtract). */
#define FX_MAGIC      6755399441055744.0 /* 2^52 + 2^51 */
#define FX_MAGIC_BITS 0x4338000000000000LL
HOT int64_t fx_round(double x)
{
    double y = x + FX_MAGIC;
    int64_t i;
    memcpy(&i, &y, sizeof i);
    return i - FX_MAGIC_BITS;
}

/* The weight's root for the polynomial kernels: w S k(u) = (r t)^m with
 * t = 1 - qy - qx and r = (w S)^(1/m), so that the row loop multiplies r
 * into the point's columns once (qs = r qx) rather than w S into every
 * pixel: a pixel costs what it did with double sums, plus the rounding. */
static double weight_root(df_kernel kernel, double ws)
{
    switch (kernel) {
    case DF_KERNEL_QUARTIC:
        return sqrt(ws);
    case DF_KERNEL_TRIWEIGHT:
        return cbrt(ws);
    case DF_KERNEL_EPANECHNIKOV:
        return ws;
    default:
        return 1;
    }
}

/* The hot loop: row[k] += round(w S k(u)) for k < len (w S, the weight in
 * fixed point: fx_scales), with u² = qy + qx[k] (the squared distance over
 * R², split into its row and column parts), one loop per kernel with no
 * branch but a max, so that the compiler vectorises it; the polynomial
 * kernels as (r (1 - qy) - qs[k])^m, qs = r qx (weight_root). A pixel
 * outside the disc adds exactly 0 (t = max(.., 0) = 0, and kernel_at is 0
 * there), so a span may be wider than the disc's. Each pixel's sum is of
 * integers: the same in any order of the points. */
HOT void span_add(int64_t *restrict row, const double *restrict qx, const double *restrict qs, int len, double qy,
                  double ws, double r, df_kernel kernel)
{
    double a = r * (1.0 - qy);
    switch (kernel) {
    case DF_KERNEL_QUARTIC:
        for (int k = 0; k < len; k++) {
            double t = a - qs[k];
            t = t > 0 ? t : 0;
            row[k] += fx_round(t * t);
        }
        break;
    case DF_KERNEL_TRIWEIGHT:
        for (int k = 0; k < len; k++) {
            double t = a - qs[k];
            t = t > 0 ? t : 0;
            row[k] += fx_round(t * t * t);
        }
        break;
    case DF_KERNEL_EPANECHNIKOV:
        for (int k = 0; k < len; k++) {
            double t = a - qs[k];
            row[k] += fx_round(t > 0 ? t : 0);
        }
        break;
    default: /* triangular, uniform, gaussian: sqrt, a step, exp */
        for (int k = 0; k < len; k++) row[k] += fx_round(ws * kernel_at(kernel, qy + qx[k]));
        break;
    }
}

/* Two rows at once over the same columns (qy0 and qy1 their row parts): qs
 * is loaded once for both, and there is one loop's overhead for two rows
 * (about 7% of the grid's time); each pixel gets the very operations of
 * span_add, so the sums are the same bits. */
HOT void span_add2(int64_t *restrict row0, int64_t *restrict row1, const double *restrict qx, const double *restrict qs,
                   int len, double qy0, double qy1, double ws, double r, df_kernel kernel)
{
    double a0 = r * (1.0 - qy0), a1 = r * (1.0 - qy1);
    switch (kernel) {
    case DF_KERNEL_QUARTIC:
        for (int k = 0; k < len; k++) {
            double t0 = a0 - qs[k], t1 = a1 - qs[k];
            t0 = t0 > 0 ? t0 : 0, t1 = t1 > 0 ? t1 : 0;
            row0[k] += fx_round(t0 * t0), row1[k] += fx_round(t1 * t1);
        }
        break;
    case DF_KERNEL_TRIWEIGHT:
        for (int k = 0; k < len; k++) {
            double t0 = a0 - qs[k], t1 = a1 - qs[k];
            t0 = t0 > 0 ? t0 : 0, t1 = t1 > 0 ? t1 : 0;
            row0[k] += fx_round(t0 * t0 * t0), row1[k] += fx_round(t1 * t1 * t1);
        }
        break;
    default:
        span_add(row0, qx, qs, len, qy0, ws, r, kernel), span_add(row1, qx, qs, len, qy1, ws, r, kernel);
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

/* Add point (px, py, w) to rows r0..r1-1 of the grid (the first band asks
 * for every row above it, the last for every row below); the mass on rows
 * and columns outside the grid is edge mass, returned in the fixed point of
 * S_e, rounded row by row (so that it too is the same in any order). Its
 * work: the disc's pixels inside the grid, and O(1) a row outside. */
HOT int64_t add_point(const grid_job *g, point_cols *c, double px, double py, double w, int r0, int r1)
{
    int64_t edge = 0;
    double ws = w * g->scale, we = w * g->edge_scale, r2 = g->radius * g->radius, inv_r2 = 1.0 / r2, p = g->pixel,
           inv_p = 1.0 / p;
    double xc0 = g->x0 + 0.5 * p;           /* centre of column 0 */
    double cx = (px - g->x0) * inv_p - 0.5; /* the point in column units, from centre 0 */
    int prow = ifloor((g->y0 - py) * inv_p), rr = g->rr;
    /* (dx / R)² of the columns the disc may reach: jbase .. jbase + 2 rr */
    int jbase = ifloor(cx) - rr, ncols = 2 * rr + 1;
    double root = weight_root(g->kernel, ws);
    for (int k = 0; k < ncols; k++) {
        double dx = xc0 + (jbase + k) * p - px;
        c->qx[k] = dx * dx * inv_r2;
        c->qs[k] = root * c->qx[k];
    }
    int lo = prow - rr > r0 ? prow - rr : r0, hi = prow + rr < r1 - 1 ? prow + rr : r1 - 1;
    if (prow - rr >= 0 && prow + rr < g->height && jbase >= 0 && jbase + 2 * rr < g->width) {
        /* the disc inside the grid (most points): each row's window, no edge */
        int64_t *base = g->grid + (size_t)jbase;
        while (lo <= hi && !c->wlen[lo - prow + rr]) lo++; /* rows the disc cannot reach */
        while (hi >= lo && !c->wlen[hi - prow + rr]) hi--;
        for (; lo < hi; lo += 2) { /* two rows at once, over the union of their windows */
            int k = lo - prow + rr, a = c->wlo[k] < c->wlo[k + 1] ? c->wlo[k] : c->wlo[k + 1];
            int e0 = c->wlo[k] + c->wlen[k], e1 = c->wlo[k + 1] + c->wlen[k + 1], e = e0 > e1 ? e0 : e1;
            double dy0 = g->y0 - (lo + 0.5) * p - py, dy1 = g->y0 - (lo + 1.5) * p - py;
            int64_t *row0 = base + (size_t)lo * (size_t)g->width + a;
            span_add2(row0, row0 + g->width, c->qx + a, c->qs + a, e - a, dy0 * dy0 * inv_r2, dy1 * dy1 * inv_r2, ws,
                      root, g->kernel);
        }
        for (int i = lo; i <= hi; i++) { /* the last row, when their number is odd */
            int k = i - prow + rr;
            double dy = g->y0 - (i + 0.5) * p - py;
            span_add(base + (size_t)i * (size_t)g->width + c->wlo[k], c->qx + c->wlo[k], c->qs + c->wlo[k], c->wlen[k],
                     dy * dy * inv_r2, ws, root, g->kernel);
        }
        return 0;
    }
    /* a disc that leaves the grid: the chord of each row, and the prefix
     * sums for the mass beyond the grid */
    cols_prefix(g->kernel, c, ncols);
    lo = prow - rr > r0 ? prow - rr : r0, hi = prow + rr < r1 - 1 ? prow + rr : r1 - 1;
    for (int i = lo; i <= hi; i++) {
        double dy = g->y0 - (i + 0.5) * p - py, rem = r2 - dy * dy;
        if (rem < 0) continue;
        double s = sqrt(rem) * inv_p, qy = dy * dy * inv_r2;
        int j0 = iceil(cx - s), j1 = ifloor(cx + s);
        /* every column of the span inside the disc, exactly as k(u) says */
        while (j0 <= j1 && c->qx[j0 - jbase] + qy > 1) j0++;
        while (j1 >= j0 && c->qx[j1 - jbase] + qy > 1) j1--;
        if (j0 > j1) continue;
        if (i < 0 || i >= g->height) {
            edge += llrint(we * row_mass(g->kernel, c, j0 - jbase, j1 - jbase, qy));
            continue;
        }
        int64_t *row = g->grid + (size_t)i * (size_t)g->width;
        if (j0 < 0) edge += llrint(we * row_mass(g->kernel, c, j0 - jbase, (j1 < -1 ? j1 : -1) - jbase, qy));
        if (j1 >= g->width)
            edge += llrint(we * row_mass(g->kernel, c, (j0 > g->width ? j0 : g->width) - jbase, j1 - jbase, qy));
        int a = j0 < 0 ? 0 : j0, b = j1 >= g->width ? g->width - 1 : j1;
        if (a <= b) span_add(row + a, c->qx + (a - jbase), c->qs + (a - jbase), b - a + 1, qy, ws, root, g->kernel);
    }
    return edge;
}

/* Points q0..q1-1 added to rows r0..r1-1 (add_point), their edge mass to
 * *edge, point after point. The one function compiled three times, for
 * AVX-512 (8 pixels a vector: ~10% less CPU than AVX2 on a Zen 4), for
 * AVX2/FMA and for any x86-64 (chosen at load time), with every row loop
 * inlined and vectorised; no FMA contraction (ISO C), so the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__gnu_linux__)
__attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic", "no-trapping-math"),
               target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
static void
add_points(const grid_job *g, point_cols *c, long q0, long q1, int r0, int r1, int64_t *edge)
{
    int64_t e = *edge;
    for (long q = q0; q < q1; q++) e += add_point(g, c, g->x[q], g->y[q], g->w[q], r0, r1);
    *edge = e;
}

/* The pages of a band's rows that its points' discs may reach, made
 * before the rows are added to. The row loops' first access to a fresh
 * page of the calloc'd grid is a read, which maps the shared zero page, and
 * the first write then copies the page and flushes the TLB of every core
 * running the process (about a tenth of the run's CPU). An atomic OR of 0,
 * one instruction that reads and writes, makes the page at once and
 * changes no value. Only the columns the band's points q0..q1-1 reach,
 * so that pages no disc reaches stay unmade (peak RSS). */
static void touch_band(const grid_job *g, long q0, long q1, int r0, int r1)
{
#if defined(__GNUC__)
    long page_size = sysconf(_SC_PAGESIZE) > 0 ? sysconf(_SC_PAGESIZE) : 4096;
    double xmin = HUGE_VAL, xmax = -HUGE_VAL;
    for (long q = q0; q < q1; q++) xmin = fmin(xmin, g->x[q]), xmax = fmax(xmax, g->x[q]);
    if (!(xmin <= xmax)) return;
    /* the grid_chunk keeps only points within rr + 1 columns of the grid */
    long c0 = (long)floor((xmin - g->x0) / g->pixel) - g->rr - 1,
         c1 = (long)floor((xmax - g->x0) / g->pixel) + g->rr + 1;
    c0 = c0 < 0 ? 0 : c0, c1 = c1 > g->width - 1 ? g->width - 1 : c1;
    for (int i = r0 < 0 ? 0 : r0; i < r1 && c0 <= c1; i++) {
        uintptr_t a = (uintptr_t)(g->grid + (size_t)i * (size_t)g->width + c0);
        uintptr_t e = (uintptr_t)(g->grid + (size_t)i * (size_t)g->width + c1 + 1);
        for (uintptr_t at = a; at < e; at = (at | (uintptr_t)(page_size - 1)) + 1)
            __atomic_fetch_or((unsigned char *)at, 0, __ATOMIC_RELAXED);
    }
#else
    (void)g, (void)q0, (void)q1, (void)r0, (void)r1; /* the pages are made as the rows are added to */
#endif
}

/* Pixel operations between two looks at a cancel (a few milliseconds). */
#define CANCEL_WORK (1L << 22)

/* The points whose disc reaches band's rows r0..r1-1: by key (row + rr + 1,
 * rows -rr-1 .. height+rr), keys r0+1 .. r1+2rr, all at the ends; *q0..*q1. */
static void band_points(const grid_job *g, int band, long *q0, long *q1)
{
    int r0 = band * g->band_rows, r1 = r0 + g->band_rows;
    if (r1 > g->height) r1 = g->height;
    int nkeys = g->height + 2 * g->rr + 2;
    int k0 = band == 0 ? 0 : r0 + 1, k1 = band == g->nbands - 1 ? nkeys - 1 : r1 + 2 * g->rr;
    if (k1 > nkeys - 1) k1 = nkeys - 1;
    *q0 = g->row_start[k0], *q1 = g->row_start[k1 + 1];
}

typedef struct {
    long points;
    int band;
} band_load;

static int cmp_load(const void *a, const void *b)
{
    const band_load *x = a, *y = b;
    if (x->points != y->points) return x->points > y->points ? -1 : 1;
    return (x->band > y->band) - (x->band < y->band);
}

/* The bands in the order the threads take them: most points first, so that
 * a band of a dense city is not the last one taken while the other threads
 * wait (the points cluster; a band's work is about its points). Each band
 * adds to its own rows only and the sums are integers: any order gives the
 * same grid. NULL (row order) when out of memory. */
static int *band_order(const grid_job *g)
{
    band_load *l = malloc((size_t)g->nbands * sizeof *l);
    int *order = malloc((size_t)g->nbands * sizeof *order);
    if (l && order) {
        for (int b = 0; b < g->nbands; b++) {
            long q0, q1;
            band_points(g, b, &q0, &q1);
            l[b] = (band_load){q1 - q0, b};
        }
        qsort(l, (size_t)g->nbands, sizeof *l, cmp_load);
        for (int b = 0; b < g->nbands; b++) order[b] = l[b].band;
    } else
        free(order), order = NULL;
    free(l);
    return order;
}

static void *grid_worker(void *arg)
{
    grid_job *g = arg;
    size_t ncols = 2 * (size_t)g->rr + 1;
    double *mem = malloc((2 * ncols + 3 * (ncols + 1)) * sizeof *mem);
    int *win = malloc(2 * ncols * sizeof *win);
    if (!mem || !win) {
        free(mem), free(win);
        atomic_store(&g->failed, 1);
        return NULL;
    }
    point_cols c = {
        mem, {mem + ncols, mem + 2 * ncols + 1, mem + 3 * ncols + 2}, mem + 4 * ncols + 3, win, win + ncols};
    row_windows(g->radius, g->pixel, g->rr, c.wlo, c.wlen);
    int caller = g->ctx && pthread_equal(pthread_self(), g->caller);
    while (!atomic_load(&g->cancelled)) {
        int taken = atomic_fetch_add(&g->next, 1);
        if (taken >= g->nbands) break;
        int band = g->order ? g->order[taken] : taken;
        int r0 = band * g->band_rows, r1 = r0 + g->band_rows;
        if (r1 > g->height) r1 = g->height;
        /* the first and the last band also own the rows beyond the grid */
        int v0 = band == 0 ? INT_MIN : r0, v1 = band == g->nbands - 1 ? INT_MAX : r1;
        long q0, q1;
        band_points(g, band, &q0, &q1);
        touch_band(g, q0, q1, r0, r1);
        long per_point = (long)ncols * ((r1 - r0 < (int)ncols ? r1 - r0 : (int)ncols) + 2);
        int64_t edge = 0;
        /* a long band: in slices of CANCEL_WORK pixel operations, after each
         * of which a cancel is looked at and the calling thread reports */
        long slice = CANCEL_WORK / per_point > 0 ? CANCEL_WORK / per_point : 1;
        for (long q = q0; q < q1; q += slice) {
            long e = q1 - q > slice ? q + slice : q1;
            add_points(g, &c, q, e, v0, v1, &edge);
            if (e == q1) break;
            if (atomic_load(&g->cancelled)) break;
            if (caller && !df__progress(g->ctx, g->done + g->share * (taken + (double)(e - q0) / (q1 - q0)) / g->nbands,
                                        "density"))
                atomic_store(&g->cancelled, 1);
        }
        g->band_edge[band] = edge;
        if (caller && !atomic_load(&g->cancelled) &&
            !df__progress(g->ctx, g->done + g->share * (taken + 1) / g->nbands, "density"))
            atomic_store(&g->cancelled, 1);
    }
    free(mem), free(win);
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

/* The bandwidth h of a rule (0 when it cannot be computed, -1 when the
 * points cannot be read back or memory runs out), from the n projected
 * points in the file fd and the sums sw = Σ w, mx = Σ w x, my = Σ w y taken
 * in file order. Every sum runs in file order, as over an array. The
 * weighted median distance Dm is found exactly in four passes, 16 bits of
 * the distance's binary64 pattern at a time (its order is the numbers'
 * order for d >= 0): the smallest d with Σ w over the distances <= d >=
 * sw / 2, which is what walking the sorted distances gives (the weights of
 * records are whole numbers, so these partial sums are exact in any order). */
static double bandwidth_rule(df_bandwidth rule, int fd, xyw_pt *blk, long cap, long n, double sw, double mx, double my,
                             double *sd_out, double *dm_out)
{
    double vx = 0, vy = 0;
    long k;
    if (n < 2 || !(sw > 0)) return 0;
    mx /= sw, my /= sw;
    if (lseek(fd, 0, SEEK_SET) != 0) return -1;
    while ((k = read_items(fd, blk, sizeof *blk, cap)) > 0)
        for (long i = 0; i < k; i++) {
            double x = blk[i].x, y = blk[i].y, w = blk[i].w;
            vx += w * (x - mx) * (x - mx), vy += w * (y - my) * (y - my);
        }
    if (k < 0) return -1;
    vx /= sw, vy /= sw;
    double sd = sqrt(vx + vy);
    *sd_out = sd, *dm_out = 0;
    if (rule == DF_BANDWIDTH_SCOTT) return sqrt((vx + vy) / 2) * pow((double)n, -1.0 / 6.0);
    enum { BINS = 65536 };
    double *hist = malloc(BINS * sizeof *hist), below = 0, half = sw / 2;
    uint64_t prefix = 0;
    int failed = !hist;
    for (int level = 0; level < 4 && !failed; level++) {
        int shift = 48 - 16 * level;
        memset(hist, 0, BINS * sizeof *hist);
        if (lseek(fd, 0, SEEK_SET) != 0) {
            failed = 1;
            break;
        }
        while ((k = read_items(fd, blk, sizeof *blk, cap)) > 0)
            for (long i = 0; i < k; i++) {
                double d = hypot(blk[i].x - mx, blk[i].y - my);
                uint64_t u;
                memcpy(&u, &d, sizeof u);
                if (level > 0 && (u >> (shift + 16)) != (prefix >> (shift + 16))) continue;
                hist[(u >> shift) & (BINS - 1)] += blk[i].w;
            }
        if (k < 0) {
            failed = 1;
            break;
        }
        int bin = 0, last = 0;
        double acc = below;
        for (; bin < BINS; bin++) {
            if (hist[bin] > 0) last = bin;
            if (acc + hist[bin] >= half) break;
            acc += hist[bin];
        }
        if (bin == BINS) /* half not reached (rounding of fractional weights): the largest distance */
            bin = last, acc -= hist[last];
        below = acc;
        prefix |= (uint64_t)bin << shift;
    }
    free(hist);
    if (failed) return -1;
    double dm;
    memcpy(&dm, &prefix, sizeof dm);
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

/* A MEM dataset of one band over buf (w x h of type t: no copy), or NULL. */
static GDALDatasetH mem_over(void *buf, int w, int h, GDALDataType t)
{
    GDALDriverH mem = GDALGetDriverByName("MEM");
    GDALDatasetH ds = mem ? GDALCreate(mem, "", w, h, 0, t, NULL) : NULL;
    char ptr[64], **bo = NULL;
    ptr[CPLPrintPointer(ptr, buf, sizeof ptr - 1)] = '\0';
    bo = CSLSetNameValue(bo, "DATAPOINTER", ptr);
    if (ds && GDALAddBand(ds, t, bo) != CE_None) GDALClose(ds), ds = NULL;
    CSLDestroy(bo);
    return ds;
}

/* 1 inside the boundaries (pixel centre in a polygon), 0 outside: burnt
 * straight into mask, as a MEM band over it. Its pages are written (0)
 * first: pages GDAL read before writing would be the shared zero page,
 * and each first write there a copy that flushes the TLB of every core
 * running one of our threads (in a run, the records layer's). */
static df_status rasterize_mask(df_ctx *ctx, OGRGeometryH *geoms, int n, const df_density_info *in, unsigned char *mask)
{
    memset(mask, 0, (size_t)in->width * (size_t)in->height);
    GDALDatasetH ds = mem_over(mask, in->width, in->height, GDT_Byte);
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
    if (GDALRasterizeGeometries(ds, 1, &band, count, list, NULL, NULL, burn, NULL, NULL, NULL) != CE_None)
        st = df__error(ctx, DF_EGDAL, "cannot rasterise the boundaries %s", df__gdal_error(ctx));
done:
    free(burn), free(list);
    GDALClose(ds);
    return st;
}

/* The median of a histogram of n values in bins of 0.1 from lo, to 0.1. */
static double hist_median(const long *count, long n, double lo, int nbins)
{
    long acc = 0;
    int k = 0;
    for (; k < nbins - 1; k++)
        if ((acc += count[k]) * 2 >= n) break;
    return lo + (k + 0.5) / 10;
}

static void hist_add(long *count, double v, double lo, int nbins)
{
    double k = floor((v - lo) * 10);
    count[k < 0 ? 0 : k >= nbins ? nbins - 1 : (int)k]++;
}

/* ---- the run --------------------------------------------------------------- */

static int core_count(const df_density_opts *o)
{
    long cores = o->threads > 0 ? o->threads : sysconf(_SC_NPROCESSORS_ONLN);
    return cores < 1 ? 1 : cores > DENSITY_MAX_THREADS ? DENSITY_MAX_THREADS : (int)cores;
}

/* R against the pixel: at most DF_DENSITY_MAX_RATIO pixels (the work per
 * point grows with its square), at least one pixel unless asked (a smaller
 * disc misses most pixel centres: a raster of zeros), and never so small
 * that c / R² overflows. what names where R came from. */
static df_status check_radius(df_ctx *ctx, const df_density_opts *o, double R, const char *what)
{
    double ratio = R / o->pixel;
    if (!isfinite(R) || !(R > 0))
        return df__error(ctx, DF_EINVAL, "%s: the radius must be a positive number of metres, not %g", what, R);
    if (!(ratio <= DF_DENSITY_MAX_RATIO))
        return df__error(ctx, DF_EINVAL,
                         "%s: the radius %g m is %.4g pixels of %g m, over the limit of %d pixels (--radius / --pixel; "
                         "the work per point grows with its square): a larger --pixel or a smaller radius",
                         what, R, ratio, o->pixel, DF_DENSITY_MAX_RATIO);
    if (R < DF_DENSITY_MIN_RADIUS)
        return df__error(ctx, DF_EINVAL, "%s: the radius %g m is below the limit of %g m", what, R,
                         DF_DENSITY_MIN_RADIUS);
    if (R < o->pixel && !o->small_radius)
        return df__error(ctx, DF_EINVAL,
                         "%s: the radius %g m is below the pixel size %g m (--pixel): most points would reach no "
                         "pixel centre; give --small-radius to accept it",
                         what, R, o->pixel);
    return DF_OK;
}

/* Pixels of a grid w x h (in doubles: the extent may be anything) against
 * the limit; the message names where the extent came from. */
static df_status check_grid(df_ctx *ctx, const df_density_opts *o, double w, double h, const char *what)
{
    double limit = o->max_pixels > 0 ? o->max_pixels : DF_DENSITY_MAX_PIXELS;
    if (!isfinite(w) || !isfinite(h) || !(w * h <= limit) || w > INT32_MAX / 4 || h > INT32_MAX / 4)
        return df__error(ctx, DF_EINVAL,
                         "the grid of %.0f x %.0f pixels of %g m (%s) is over the limit of %.0f pixels "
                         "(--max-pixels; 12 bytes a pixel): a larger --pixel or a smaller extent",
                         w, h, o->pixel, what, limit);
    return DF_OK;
}

/* Columns (or rows) of a span at this pixel size: round(span / pixel), at least 1. */
static double grid_cells(double span, double pixel) { return fmax(1, floor(span / pixel + 0.5)); }

df_status df_density_opts_check(df_ctx *ctx, const df_density_opts *o)
{
    df_density_opts o_local_;
    DF__OPTS_ACCEPT(ctx, df_density_opts, o, o_local_);
    if (!isfinite(o->pixel) || !(o->pixel > 0))
        return df__error(ctx, DF_EINVAL, "--pixel: the pixel size must be a positive number of metres, not %g",
                         o->pixel);
    if ((unsigned)o->kernel > DF_KERNEL_GAUSSIAN) return df__error(ctx, DF_EINVAL, "unknown kernel %d", (int)o->kernel);
    if (!(o->max_pixels >= 1) || !isfinite(o->max_pixels))
        return df__error(ctx, DF_EINVAL, "--max-pixels must be a whole number >= 1, not %g", o->max_pixels);
    df_status st;
    if (o->bandwidth == DF_BANDWIDTH_FIXED && (st = check_radius(ctx, o, o->radius, "--radius")) != DF_OK) return st;
    if (o->has_extent) {
        const double *e = o->extent;
        for (int k = 0; k < 4; k++)
            if (!isfinite(e[k])) return df__error(ctx, DF_EINVAL, "-te: %g is not a finite coordinate", e[k]);
        if (!(e[2] > e[0] && e[3] > e[1]))
            return df__error(ctx, DF_EINVAL, "-te: the extent must have xmin < xmax and ymin < ymax");
        if ((st = check_grid(ctx, o, grid_cells(e[2] - e[0], o->pixel), grid_cells(e[3] - e[1], o->pixel), "-te")) !=
            DF_OK)
            return st;
    }
    return DF_OK;
}

static df_status check_opts(df_ctx *ctx, const df_boundaries *b, const df_density_opts *o)
{
    df_status st = df_density_opts_check(ctx, o);
    if (st == DF_OK && o->mask && !b) st = df__error(ctx, DF_EINVAL, "a mask needs the boundaries");
    return st;
}

/* pass 1 (no -t_srs): the median point, by counting in bins of 0.1 degree */
typedef struct {
    long *lon, *lat, n;
} zone_pass;

static int zone_block(raw_pt *p, long n, void *user)
{
    zone_pass *z = user;
    for (long i = 0; i < n; i++) hist_add(z->lon, p[i].lon, -180, 3600), hist_add(z->lat, p[i].lat, -90, 1800);
    z->n += n;
    return 0;
}

/* pass 2: project, leave out what cannot be projected, write the projected
 * points to their own file, and sum what the radius and the extent need.
 * A block's transformation is cut into slices run on all cores, each with
 * its own copy of the operation (a PJ is not shared between threads); the
 * sums and the file then take the points in file order, as before. */
#define PROJ_SLICE_MIN 4096 /* points: below that a thread costs more than it saves */

typedef struct {
    PJ *pj;
    double *x, *y;
    size_t n;
} proj_slice;

/* the copies' contexts say nothing (the library never prints; the points
 * that cannot be projected are counted and logged once) */
static void proj_quiet(void *user, int level, const char *msg) { (void)user, (void)level, (void)msg; }

static void *proj_slice_run(void *arg)
{
    proj_slice *s = arg;
    proj_trans_generic(s->pj, PJ_FWD, s->x, sizeof *s->x, s->n, s->y, sizeof *s->y, s->n, NULL, 0, 0, NULL, 0, 0);
    return NULL;
}

typedef struct {
    PJ *pj[DENSITY_MAX_THREADS]; /* the operation, and a copy per other thread */
    PJ_CONTEXT *pc[DENSITY_MAX_THREADS];
    int npj;
    int fd;
    xyw_pt *mem; /* not NULL: the points go here (at kept), not to fd */
    double *x, *y;
    xyw_pt *out;
    long selected, kept;
    double total, sw, sx, sy; /* in file order */
    double wmax;              /* the largest weight: with the count, the fixed point's scale */
    double x0, y0, x1, y1;    /* extent of the projected points */
} project_pass;

static int project_block(raw_pt *p, long n, void *user)
{
    project_pass *s = user;
    s->selected += n;
    for (long i = 0; i < n; i++) s->x[i] = p[i].lon, s->y[i] = p[i].lat;
    int k = (int)(n / PROJ_SLICE_MIN) < s->npj ? (int)(n / PROJ_SLICE_MIN) : s->npj;
    if (k < 1) k = s->npj > 0; /* none: projected as they were read */
    proj_slice sl[DENSITY_MAX_THREADS];
    pthread_t tid[DENSITY_MAX_THREADS];
    int ran[DENSITY_MAX_THREADS] = {0};
    for (int t = 0; t < k; t++) {
        long a = n * t / k, b = n * (t + 1) / k;
        sl[t] = (proj_slice){s->pj[t], s->x + a, s->y + a, (size_t)(b - a)};
    }
    for (int t = 1; t < k; t++) /* a thread that cannot start: its slice runs here */
        if (!(ran[t] = pthread_create(&tid[t], NULL, proj_slice_run, &sl[t]) == 0)) proj_slice_run(&sl[t]);
    if (k > 0) proj_slice_run(&sl[0]);
    for (int t = 1; t < k; t++)
        if (ran[t]) pthread_join(tid[t], NULL);
    long m = 0;
    if (s->mem) s->out = s->mem + s->kept;
    for (long i = 0; i < n; i++) {
        double x = s->x[i], y = s->y[i], w = p[i].w;
        if (!(isfinite(x) && isfinite(y) && fabs(x) < 1e20 && fabs(y) < 1e20)) continue;
        s->out[m++] = (xyw_pt){x, y, w};
        s->total += w, s->wmax = fmax(s->wmax, w);
        s->sw += w, s->sx += w * x, s->sy += w * y;
        /* fmin and fmax as x86-64's minsd and maxsd give them (no NaN here), without a call */
        s->x0 = s->x0 < x ? s->x0 : x, s->y0 = s->y0 < y ? s->y0 : y;
        s->x1 = s->x1 > x ? s->x1 : x, s->y1 = s->y1 > y ? s->y1 : y;
    }
    s->kept += m;
    return m > 0 && !s->mem && write_all(s->fd, s->out, (size_t)m * sizeof *s->out) != 0 ? 2 : 0;
}

/* The fixed point of the grid: S = 2^e, the largest with n wmax S <= 2^62
 * and wmax S <= 2^50, from the number of points and the largest weight,
 * which no order or grouping of the points changes. Each contribution
 * w k(u) S (k <= 1 for every kernel) rounds to an integer below 2^51
 * (fx_round), and a pixel's sum is at most Σ w S + n / 2 < 2^63: no
 * overflow. The edge mass of a point's row (row_mass, up to 2 rr + 1
 * pixels) and of its whole disc (up to (2 rr + 1)² pixels) takes S_e =
 * S / 2^f with (2 rr + 1)² <= 2^f, so the same bounds hold for it. */
static void fx_scales(long n, double wmax, int rr, double *scale, double *edge_scale)
{
    int e1 = 0, e2 = 0, f = 0;
    if (n < 1 || !(wmax > 0)) {
        *scale = *edge_scale = 1;
        return;
    }
    frexp((double)n * wmax, &e1); /* n wmax < 2^e1 */
    frexp(wmax, &e2);             /* wmax < 2^e2 */
    int e = 62 - e1 < 50 - e2 ? 62 - e1 : 50 - e2;
    frexp((double)(2 * rr + 1) * (2 * rr + 1), &f);
    *scale = ldexp(1, e), *edge_scale = ldexp(1, e - f);
}

/* The grid's geometry and buffers, shared by the chunks. */
typedef struct {
    int width, height, rr, nkeys, ncols, nthreads;
    double x0, y0, pixel, radius;
    df_kernel kernel;
    double scale, edge_scale; /* S, S_e (fx_scales) */
    int64_t *grid, *band_edge;
    int nbands, band_rows;
    long *row_start;
    /* one chunk: */
    xyw_pt *pts;
    int *key;
    double *sx, *sy, *sw;
    int64_t far_loss, edge; /* Σ round(w S) of the points too far, Σ of the edge in S_e */
    int threads_used;
    df_ctx *ctx;        /* for progress, or NULL */
    long points, added; /* all the points, and those added so far */
    double progress_lo; /* the gridding reports from here to 1 (reading was before) */
} grid_run;

/* The bucketing of a chunk, on every core: a stable counting sort, each
 * thread counting and then placing its own slice of the points, the
 * slices' counts added key by key in slice order, so the order is the one
 * sort on one thread gives. Pass 0: the column keys (-1: too far) and the
 * far mass; 1: placed by column into sx/sy/sw; 2: back into pts, with the
 * row keys; 3: placed by row. */
typedef struct {
    grid_run *G;
    long i0, i1; /* the slice of the points */
    long *count; /* per key: the slice's count, then where its next goes */
    int64_t far; /* Σ round(w S) of the slice's points too far */
    int pass;
} bucket_slice;

static void *bucket_run(void *arg)
{
    bucket_slice *s = arg;
    grid_run *G = s->G;
    xyw_pt *pts = G->pts;
    int *key = G->key, rr = G->rr;
    double p = G->pixel;
    long *count = s->count;
    if (s->pass == 0)
        for (long i = s->i0; i < s->i1; i++) {
            double r = floor((G->y0 - pts[i].y) / p), c = floor((pts[i].x - G->x0) / p);
            int far = r < -rr - 1 || r > G->height + rr || c < -rr - 1 || c > G->width + rr;
            key[i] = far ? -1 : (int)c + rr + 1;
            if (far)
                s->far += llrint(pts[i].w * G->scale); /* a disc that cannot reach the grid */
            else
                count[key[i]]++;
        }
    else if (s->pass == 2)
        for (long i = s->i0; i < s->i1; i++) {
            pts[i] = (xyw_pt){G->sx[i], G->sy[i], G->sw[i]};
            key[i] = (int)floor((G->y0 - pts[i].y) / p) + rr + 1;
            count[key[i]]++;
        }
    else
        for (long i = s->i0; i < s->i1; i++)
            if (key[i] >= 0) {
                long q = count[key[i]]++;
                G->sx[q] = pts[i].x, G->sy[q] = pts[i].y, G->sw[q] = pts[i].w;
            }
    return NULL;
}

/* One pass over the slices, slice 0 on the calling thread. */
static void bucket_pass(bucket_slice *s, int nslices, int pass)
{
    pthread_t tid[DENSITY_MAX_THREADS];
    int ran[DENSITY_MAX_THREADS];
    for (int t = 0; t < nslices; t++) s[t].pass = pass;
    for (int t = 1; t < nslices; t++) ran[t] = pthread_create(&tid[t], NULL, bucket_run, &s[t]) == 0;
    bucket_run(&s[0]);
    for (int t = 1; t < nslices; t++)
        if (ran[t])
            pthread_join(tid[t], NULL);
        else
            bucket_run(&s[t]);
}

/* The slices' counts of keys 0..nkeys-1 turned into where each slice's
 * first point of a key goes; start[k] the first of key k over all (start
 * has nkeys + 1 entries). */
static long bucket_offsets(bucket_slice *s, int nslices, int nkeys, long *start)
{
    long at = 0;
    for (int k = 0; k < nkeys; k++) {
        if (start) start[k] = at;
        for (int t = 0; t < nslices; t++) {
            long c = s[t].count[k];
            s[t].count[k] = at, at += c;
        }
    }
    if (start) start[nkeys] = at;
    return at;
}

/* Add the n points of g->pts to the grid (they are reordered). 0, -1
 * when a thread could not get its scratch row, -2 when cancelled. */
static int grid_chunk(grid_run *G, long n)
{
    int rr = G->rr;
    long *row_start = G->row_start;
    double p = G->pixel;
    /* first by column, then (stably) by row: within a row the points run
     * west to east and their discs overlap in the cache; slices of at
     * least PROJ_SLICE_MIN points, as the projection's */
    int nslices = G->nthreads;
    if (n / PROJ_SLICE_MIN + 1 < nslices) nslices = (int)(n / PROJ_SLICE_MIN + 1);
    int most = G->ncols > G->nkeys ? G->ncols : G->nkeys;
    long *counts = calloc((size_t)nslices * (size_t)most, sizeof *counts);
    if (!counts) return -1;
    bucket_slice s[DENSITY_MAX_THREADS];
    for (int t = 0; t < nslices; t++)
        s[t] = (bucket_slice){
            .G = G, .i0 = n * t / nslices, .i1 = n * (t + 1) / nslices, .count = counts + (size_t)t * (size_t)most};
    bucket_pass(s, nslices, 0);
    for (int t = 0; t < nslices; t++) G->far_loss += s[t].far;
    long m = bucket_offsets(s, nslices, G->ncols, NULL); /* points kept */
    bucket_pass(s, nslices, 1);
    memset(counts, 0, (size_t)nslices * (size_t)most * sizeof *counts);
    for (int t = 0; t < nslices; t++) s[t].i0 = m * t / nslices, s[t].i1 = m * (t + 1) / nslices;
    bucket_pass(s, nslices, 2);
    bucket_offsets(s, nslices, G->nkeys, row_start);
    bucket_pass(s, nslices, 3);
    free(counts);

    grid_job g = {.x = G->sx,
                  .y = G->sy,
                  .w = G->sw,
                  .row_start = row_start,
                  .rr = rr,
                  .width = G->width,
                  .height = G->height,
                  .nbands = G->nbands,
                  .band_rows = G->band_rows,
                  .x0 = G->x0,
                  .y0 = G->y0,
                  .pixel = p,
                  .radius = G->radius,
                  .kernel = G->kernel,
                  .scale = G->scale,
                  .edge_scale = G->edge_scale,
                  .grid = G->grid,
                  .band_edge = G->band_edge,
                  .ctx = G->ctx,
                  .caller = pthread_self(),
                  .done = G->progress_lo + (1 - G->progress_lo) * (G->points > 0 ? (double)G->added / G->points : 0),
                  .share = (1 - G->progress_lo) * (G->points > 0 ? (double)n / G->points : 1)};
    atomic_init(&g.next, 0);
    atomic_init(&g.failed, 0);
    atomic_init(&g.cancelled, 0);
    int *order = G->nthreads > 1 ? band_order(&g) : NULL;
    g.order = order;
    pthread_t tid[DENSITY_MAX_THREADS];
    int started = 0;
    for (int t = 1; t < G->nthreads && t < g.nbands; t++, started++)
        if (pthread_create(&tid[started], NULL, grid_worker, &g) != 0) break;
    grid_worker(&g);
    for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
    free(order);
    if (started + 1 > G->threads_used) G->threads_used = started + 1;
    /* the chunk is done, whichever thread took its last band */
    if (g.ctx && !atomic_load(&g.cancelled) && !df__progress(g.ctx, g.done + g.share, "density"))
        atomic_store(&g.cancelled, 1);
    if (atomic_load(&g.cancelled)) return -2;
    if (atomic_load(&g.failed) || atomic_load(&g.next) < g.nbands) return -1;
    G->added += n;
    for (int k = 0; k < g.nbands; k++) G->edge += G->band_edge[k];
    return 0;
}

/* What the passes of compute share: the resources its one exit frees. */
typedef struct {
    df_ctx *ctx;
    const df_density_opts *o;
    df_density_info *in;
    crs_info crs;
    PJ *pj, *norm;
    OGRGeometryH *geoms;
    int ngeoms, xfd; /* xfd: the file of projected points, -1 before it is made */
    grid_run G;
    zone_pass zp;
    project_pass sp;
    raw_pt *rblk;
    xyw_pt *xblk;
    long B, held_block, held_chunk, n; /* n: the points kept by the projection */
    unsigned char *mask;
    /* MPI (docs/scale.md): each process grids its own points; the figures
     * the grid's geometry needs are merged, the grids summed into process 0's */
    int split;
    long n_all; /* n over every process (n without MPI) */
    int all_fd; /* split with a bandwidth rule: every process's projected points, in process order */
} density_pass;

/* ---- MPI: each process grids its own points (docs/scale.md) ----------------- */

static df_status project_points(density_pass *P, raw_spool *rs);

/* The figures the grid's geometry needs (counts, extremes, whole-number
 * sums: the same in any order) merged over the processes through
 * df__parts (engine/parts.c); the grids are then summed into process 0's
 * (parts_grid). Every process runs these in the same order. */

/* Each process's len bytes, on every process: from[r] reads process r's. */
static df_status parts_all(df_ctx *ctx, const void *mine, size_t len, unsigned char **all, df__pack *from)
{
    df__pack p = {0};
    df__pack_put(&p, mine, len);
    df_status st = df__parts_exchange(ctx, &p, all, from);
    df__pack_free(&p);
    for (int r = 0; st == DF_OK && r < df__parts.count; r++)
        if (from[r].len != len)
            st = df__error(ctx, DF_EINVAL, "density: process %d sent %zu bytes, not %zu", r, from[r].len, len);
    return st;
}

/* v[0..n-1] summed over the processes (integers: any order), on every one. */
static df_status parts_sum(df_ctx *ctx, int64_t *v, int n)
{
    unsigned char *all = NULL;
    df__pack *from = calloc((size_t)df__parts.count, sizeof *from);
    df_status st =
        from ? parts_all(ctx, v, (size_t)n * sizeof *v, &all, from) : df__error(ctx, DF_ENOMEM, "out of memory");
    for (int i = 0; st == DF_OK && i < n; i++) {
        v[i] = 0;
        for (int r = 0; r < df__parts.count; r++) {
            int64_t x;
            memcpy(&x, from[r].data + (size_t)i * sizeof x, sizeof x);
            v[i] += x;
        }
    }
    free(all), free(from);
    return st;
}

/* The UTM zone's histograms of every process's points. */
enum { ZONE_LON = 3600, ZONE_LAT = 1800 };
static df_status parts_zone(df_ctx *ctx, zone_pass *zp)
{
    int64_t *v = malloc((ZONE_LON + ZONE_LAT + 1) * sizeof *v);
    if (!v) return df__error(ctx, DF_ENOMEM, "out of memory");
    for (int i = 0; i < ZONE_LON; i++) v[i] = zp->lon[i];
    for (int i = 0; i < ZONE_LAT; i++) v[ZONE_LON + i] = zp->lat[i];
    v[ZONE_LON + ZONE_LAT] = zp->n;
    df_status st = parts_sum(ctx, v, ZONE_LON + ZONE_LAT + 1);
    for (int i = 0; st == DF_OK && i < ZONE_LON; i++) zp->lon[i] = (long)v[i];
    for (int i = 0; st == DF_OK && i < ZONE_LAT; i++) zp->lat[i] = (long)v[ZONE_LON + i];
    if (st == DF_OK) zp->n = (long)v[ZONE_LON + ZONE_LAT];
    free(v);
    return st;
}

/* The projection on each process's points, then what the extent, the
 * radius and the fixed point need, over every process: the points kept
 * (n_all), the total weight (whole numbers: summed in process order, as in
 * file order), the largest weight, the extent, the counts left out. */
static df_status parts_project(density_pass *P, raw_spool *rs)
{
    df_density_info *in = P->in;
    project_pass *sp = &P->sp;
    long filtered0 = in->filtered, no_point0 = in->no_point;
    df_status st = project_points(P, rs);
    if (st != DF_OK) return st;
    /* all 8-byte fields: no padding */
    typedef struct {
        int64_t kept, selected, filtered, no_point;
        double total, wmax, x0, y0, x1, y1;
    } proj_part;
    proj_part mine = {sp->kept,
                      sp->selected,
                      in->filtered - filtered0,
                      in->no_point - no_point0,
                      sp->total,
                      sp->wmax,
                      sp->x0,
                      sp->y0,
                      sp->x1,
                      sp->y1},
              a = {0, 0, 0, 0, 0, 0, HUGE_VAL, HUGE_VAL, -HUGE_VAL, -HUGE_VAL};
    unsigned char *all = NULL;
    df__pack *from = calloc((size_t)df__parts.count, sizeof *from);
    st = from ? parts_all(P->ctx, &mine, sizeof mine, &all, from) : df__error(P->ctx, DF_ENOMEM, "out of memory");
    for (int r = 0; st == DF_OK && r < df__parts.count; r++) {
        proj_part q;
        memcpy(&q, from[r].data, sizeof q);
        a.kept += q.kept, a.selected += q.selected, a.filtered += q.filtered, a.no_point += q.no_point;
        a.total += q.total, a.wmax = fmax(a.wmax, q.wmax);
        a.x0 = fmin(a.x0, q.x0), a.y0 = fmin(a.y0, q.y0), a.x1 = fmax(a.x1, q.x1), a.y1 = fmax(a.y1, q.y1);
    }
    free(all), free(from);
    if (st != DF_OK) return st;
    if (a.kept < a.selected)
        df__log(P->ctx, DF_LOG_WARN, "density: %ld points cannot be projected to %s; left out",
                (long)(a.selected - a.kept), in->crs);
    in->filtered = filtered0 + (long)a.filtered, in->no_point = no_point0 + (long)a.no_point;
    P->n_all = (long)a.kept, in->points = P->n_all, in->total_weight = a.total;
    sp->wmax = a.wmax, sp->x0 = a.x0, sp->y0 = a.y0, sp->x1 = a.x1, sp->y1 = a.y1;
    return DF_OK;
}

/* A bandwidth rule under MPI: every process's projected points, in process
 * order (the single process's file order), into P->all_fd, and the sums
 * Σ w, Σ w x, Σ w y over them in that order. The one exchange left that
 * grows with the points (24 bytes a point): only with --bandwidth. */
static df_status parts_points(density_pass *P, double *sw, double *sx, double *sy)
{
    df_ctx *ctx = P->ctx;
    df__pack mine = {0}, *from = calloc((size_t)df__parts.count, sizeof *from);
    unsigned char *all = NULL;
    df_status st = from ? DF_OK : df__error(ctx, DF_ENOMEM, "out of memory");
    long k = 0;
    if (st == DF_OK && P->xfd >= 0) {
        if (lseek(P->xfd, 0, SEEK_SET) != 0)
            k = -1;
        else
            while ((k = read_items(P->xfd, P->xblk, sizeof *P->xblk, P->B)) > 0)
                df__pack_put(&mine, P->xblk, (size_t)k * sizeof *P->xblk);
    }
    if (st == DF_OK && k < 0) st = df__error(ctx, DF_EIO, "cannot read back the temporary file of points");
    if (st == DF_OK) st = df__parts_exchange(ctx, &mine, &all, from);
    df__pack_free(&mine);
    *sw = *sx = *sy = 0;
    if (st == DF_OK && (P->all_fd = spool_new()) < 0)
        st = df__error(ctx, DF_EIO, "cannot make a temporary file for the points: %s", strerror(errno));
    for (int r = 0; st == DF_OK && r < df__parts.count; r++) {
        size_t n = from[r].len / sizeof(xyw_pt);
        for (size_t i = 0; i < n; i++) {
            xyw_pt q;
            memcpy(&q, from[r].data + i * sizeof q, sizeof q);
            *sw += q.w, *sx += q.w * q.x, *sy += q.w * q.y;
        }
        if (n && write_all(P->all_fd, from[r].data, n * sizeof(xyw_pt)) != 0)
            st = df__error(ctx, DF_EIO, "cannot write a temporary file of points: %s", strerror(errno));
    }
    free(all), free(from);
    return st;
}

/* Every process's grid, edge mass and far weight summed into process 0's
 * (integers: the single process's sums, bit for bit). */
static df_status parts_grid(density_pass *P)
{
    grid_run *G = &P->G;
    int64_t e[2] = {G->edge, G->far_loss};
    df_status st = df__parts_reduce_sum(P->ctx, G->grid, (size_t)G->width * (size_t)G->height);
    if (st == DF_OK) st = df__parts_reduce_sum(P->ctx, e, 2);
    if (st == DF_OK) G->edge = e[0], G->far_loss = e[1];
    return st;
}

/* The CRS: given, or the UTM zone of the points' median (pass 1), or of
 * the boundaries' extent when there are no points. */
static df_status choose_crs(density_pass *P, raw_spool *rs, const df_boundaries *b)
{
    df_ctx *ctx = P->ctx;
    df_density_info *in = P->in;
    zone_pass *zp = &P->zp;
    if (P->o->t_srs) {
        snprintf(in->crs, sizeof in->crs, "%s", P->o->t_srs);
        return crs_open(ctx, in->crs, &P->crs, &in->epsg);
    }
    double lo0 = HUGE_VAL, lo1 = -HUGE_VAL, la0 = HUGE_VAL, la1 = -HUGE_VAL, lonc, latc;
    if (!(zp->lon = calloc(ZONE_LON, sizeof *zp->lon)) || !(zp->lat = calloc(ZONE_LAT, sizeof *zp->lat)))
        return df__error(ctx, DF_ENOMEM, "out of memory");
    if (raw_each(rs, P->rblk, P->B, zone_block, zp) != 0)
        return df__error(ctx, DF_EIO, "cannot read back the temporary file of points: %s", strerror(errno));
    df_status st0 = P->split ? parts_zone(ctx, zp) : DF_OK;
    if (st0 != DF_OK) return st0;
    long n = zp->n;
    if (n > 0) {
        /* the median point (to 0.1 degree): a few stray or swapped
         * coordinates must not move the zone, as the extent's centre would */
        lonc = hist_median(zp->lon, n, -180, 3600), latc = hist_median(zp->lat, n, -90, 1800);
        lo0 = lo1 = lonc, la0 = la1 = latc;
    }
    if (n == 0 && b) { /* no points: the boundaries' extent */
        int level = df_boundaries_finest_level(b);
        df_status st = df_boundaries_prepare(ctx, b, level);
        if (st != DF_OK) return st;
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
    if (!(lo0 <= lo1)) return df__error(ctx, DF_EINVAL, "no points to choose a UTM zone from: give -t_srs");
    lonc = (lo0 + lo1) / 2, latc = (la0 + la1) / 2;
    int zone = (int)floor((lonc + 180.0) / 6.0) + 1;
    zone = zone < 1 ? 1 : zone > 60 ? 60 : zone;
    snprintf(in->crs, sizeof in->crs, "EPSG:%d", (latc >= 0 ? 32600 : 32700) + zone);
    df__log(ctx, DF_LOG_INFO, "density: CRS %s, the UTM zone of the data's median point (%.1f, %.1f)", in->crs, lonc,
            latc);
    return crs_open(ctx, in->crs, &P->crs, &in->epsg);
}

/* Pass 2: the points projected, block by block, into a file of projected
 * points, with the sums the radius and the extent need; the spool closed.
 * When the points and a block fit in one chunk and no bandwidth rule reads
 * them again, they go straight into the grid's chunk instead (no file to
 * write and read back): the points held at once stay within a chunk, the
 * block made smaller for it. */
static df_status project_points(density_pass *P, raw_spool *rs)
{
    df_ctx *ctx = P->ctx;
    df_density_info *in = P->in;
    project_pass *sp = &P->sp;
    if (rs->total > 0) {
        if (!rs->projected && (!(P->pj = proj_create_crs_to_crs(ctx->proj, "EPSG:4326", P->crs.wkt, NULL)) ||
                               !(P->norm = proj_normalize_for_visualization(ctx->proj, P->pj))))
            return df__error(ctx, DF_EPROJ, "cannot transform WGS84 to %s: %s", in->crs,
                             proj_context_errno_string(ctx->proj, proj_context_errno(ctx->proj)));
        long B = P->B;
        if (P->o->bandwidth == DF_BANDWIDTH_FIXED && rs->total < chunk_size) {
            B = chunk_size - rs->total < P->B ? chunk_size - rs->total : P->B;
            if (!(sp->mem = df__malloc((size_t)rs->total * sizeof *sp->mem)))
                return df__error(ctx, DF_ENOMEM, "out of memory for %ld points", rs->total);
            P->G.pts = sp->mem;
            release(P->held_block), hold(P->held_chunk = rs->total), hold(P->held_block = B);
        } else if ((P->xfd = spool_new()) < 0)
            return df__error(ctx, DF_EIO, "cannot make a temporary file for the points: %s", strerror(errno));
        sp->pj[0] = P->norm, sp->npj = !rs->projected, sp->fd = P->xfd;
        /* a copy of the operation for each other thread, in its own context */
        for (int t = 1; sp->npj && t < core_count(P->o) && t < DENSITY_MAX_THREADS; t++, sp->npj++)
            if (!(sp->pc[t] = proj_context_create()) || (proj_log_func(sp->pc[t], NULL, proj_quiet), 0) ||
                !(sp->pj[t] = proj_clone(sp->pc[t], P->norm)))
                break;
        int r = raw_each(rs, P->rblk, B, project_block, sp);
        if (r != 0)
            return df__error(ctx, DF_EIO, "cannot %s the temporary file of points: %s", r == 2 ? "write" : "read back",
                             strerror(errno));
        if (rs->snap) in->filtered += rs->total - sp->selected; /* not of the latest snapshot */
        if (sp->kept < sp->selected && !P->split)               /* split: parts_project says it for every process */
            df__log(ctx, DF_LOG_WARN, "density: %ld points cannot be projected to %s; left out",
                    sp->selected - sp->kept, in->crs);
        in->no_point += sp->selected - sp->kept;
    }
    raw_spool_close(rs);
    P->n = sp->kept;
    in->points = P->n;
    in->total_weight = sp->total;
    return DF_OK;
}

/* The radius: given, or by a bandwidth rule over the projected points. */
static df_status choose_radius(density_pass *P)
{
    df_ctx *ctx = P->ctx;
    const df_density_opts *o = P->o;
    df_density_info *in = P->in;
    project_pass *sp = &P->sp;
    in->kernel = o->kernel;
    in->radius = o->radius;
    if (o->bandwidth == DF_BANDWIDTH_FIXED) return DF_OK;
    int fd = P->xfd;
    double sw = sp->sw, sx = sp->sx, sy = sp->sy;
    if (P->split) { /* the one gather left: the rules' sums and median are over every point, in order */
        df_status st = parts_points(P, &sw, &sx, &sy);
        if (st != DF_OK) return st;
        fd = P->all_fd;
    }
    double sd = 0, dm = 0,
           h = fd < 0 ? 0 : bandwidth_rule(o->bandwidth, fd, P->xblk, P->B, P->n_all, sw, sx, sy, &sd, &dm);
    if (h < 0) return df__error(ctx, DF_EIO, "cannot read back the temporary file of points, or out of memory");
    if (!(h > 0)) return df__error(ctx, DF_EINVAL, "a bandwidth rule needs at least two distinct points");
    in->radius = o->kernel == DF_KERNEL_GAUSSIAN ? 3 * h : h;
    df__log(ctx, DF_LOG_INFO,
            "density: bandwidth (%s) h = %.1f m from n = %ld points, standard distance %.1f m%s%.1f m; radius R "
            "= %.1f m",
            o->bandwidth == DF_BANDWIDTH_SCOTT ? "Scott" : "Silverman", h, P->n_all, sd,
            o->bandwidth == DF_BANDWIDTH_SCOTT ? "" : ", median distance ",
            o->bandwidth == DF_BANDWIDTH_SCOTT ? 0.0 : dm, in->radius);
    return check_radius(ctx, o, in->radius, "--bandwidth");
}

/* The extent (-te, the boundaries', or the points' plus the radius,
 * snapped outwards to the pixel size), the grid's size and geotransform;
 * the boundaries projected when the mask or the extent needs them. */
static df_status grid_extent(density_pass *P, const df_boundaries *b)
{
    df_ctx *ctx = P->ctx;
    const df_density_opts *o = P->o;
    df_density_info *in = P->in;
    double R = in->radius, p = o->pixel, env[4];
    df_status st;
    if (b && (o->mask || !o->has_extent)) {
        double benv[4];
        if ((st = boundaries_projected(ctx, b, P->crs.srs, &P->geoms, &P->ngeoms, benv)) != DF_OK) return st;
        memcpy(env, benv, sizeof env);
    }
    const char *extent_from = "-te";
    if (o->has_extent) {
        memcpy(env, o->extent, sizeof env); /* checked by check_opts */
    } else {
        if (!b) {
            if (P->n_all == 0)
                return df__error(ctx, DF_EINVAL, "no points selected, and no extent or boundaries to make a grid on");
            /* min (x - R) = min x - R exactly: rounding is monotonic */
            env[0] = P->sp.x0 - R, env[1] = P->sp.y0 - R, env[2] = P->sp.x1 + R, env[3] = P->sp.y1 + R;
        }
        /* snapped outwards to multiples of the pixel size (aligned grids) */
        env[0] = floor(env[0] / p) * p, env[1] = floor(env[1] / p) * p;
        env[2] = ceil(env[2] / p) * p, env[3] = ceil(env[3] / p) * p;
        extent_from = b ? "the boundaries' extent" : "the points' extent plus the radius";
    }
    /* sized in doubles and checked before any conversion to int */
    double cols = grid_cells(env[2] - env[0], p), rows = grid_cells(env[3] - env[1], p);
    if ((st = check_grid(ctx, o, cols, rows, extent_from)) != DF_OK) return st;
    in->width = (int)cols, in->height = (int)rows;
    double *gt = in->geotransform;
    gt[0] = env[0], gt[1] = p, gt[2] = 0, gt[3] = env[3], gt[4] = 0, gt[5] = -p; /* from the top left corner */
    return DF_OK;
}

/* The grid: the points bucketed by row, key = row + rr + 1 over rows
 * -rr-1 .. height+rr, added one chunk at a time (grid_chunk). */
static df_status grid_points(density_pass *P, double progress_lo)
{
    df_ctx *ctx = P->ctx;
    df_density_info *in = P->in;
    grid_run *G = &P->G;
    long n = P->n, chunks = 0;
    release(P->held_block), P->held_block = 0;
    free(P->rblk), free(P->xblk), free(P->sp.x), free(P->sp.y);
    P->rblk = NULL, P->xblk = NULL, P->sp.x = P->sp.y = NULL;
    G->width = in->width, G->height = in->height, G->x0 = in->geotransform[0], G->y0 = in->geotransform[3];
    G->pixel = P->o->pixel, G->radius = in->radius;
    G->kernel = P->o->kernel, G->nthreads = core_count(P->o);
    G->ctx = ctx, G->points = n, G->progress_lo = progress_lo;
    G->rr = (int)ceil(in->radius / G->pixel) + 1;
    fx_scales(P->n_all, P->sp.wmax, G->rr, &G->scale, &G->edge_scale); /* the same on every process */
    G->nkeys = in->height + 2 * G->rr + 2, G->ncols = in->width + 2 * G->rr + 2;
    /* bands of at least 8 rows, about 16 per thread, for balance */
    G->band_rows = in->height / (16 * G->nthreads);
    if (G->band_rows < 8) G->band_rows = 8;
    G->nbands = (in->height + G->band_rows - 1) / G->band_rows;
    size_t npix = (size_t)in->width * (size_t)in->height;
    long cap = n < chunk_size ? n : chunk_size;
    if (cap < 1) cap = 1;
    G->grid = calloc(npix, sizeof *G->grid);
    G->row_start = calloc((size_t)G->nkeys + 1, sizeof *G->row_start);
    G->band_edge = calloc((size_t)G->nbands, sizeof *G->band_edge);
    int in_memory = G->pts != NULL; /* by the projection: all n points */
    if (!in_memory) G->pts = malloc((size_t)cap * sizeof *G->pts);
    G->key = malloc((size_t)cap * sizeof *G->key);
    G->sx = malloc((size_t)cap * sizeof *G->sx), G->sy = malloc((size_t)cap * sizeof *G->sy);
    G->sw = malloc((size_t)cap * sizeof *G->sw);
    if (!G->grid || !G->row_start || !G->band_edge || !G->pts || !G->key || !G->sx || !G->sy || !G->sw)
        return df__error(ctx, DF_ENOMEM, "out of memory for a grid of %d x %d pixels", in->width, in->height);
    if (in_memory) {
        int rc = n > 0 ? grid_chunk(G, n) : 0;
        if (rc != 0)
            return rc == -2 ? df__error(ctx, DF_ECANCELLED, "density: cancelled")
                            : df__error(ctx, DF_ENOMEM, "out of memory computing the density");
        chunks = n > 0;
    } else if (hold(P->held_chunk = cap), n > 0) {
        long k;
        if (lseek(P->xfd, 0, SEEK_SET) != 0)
            k = -1;
        else
            while ((k = read_items(P->xfd, G->pts, sizeof *G->pts, cap)) > 0) {
                int rc = grid_chunk(G, k);
                if (rc != 0)
                    return rc == -2 ? df__error(ctx, DF_ECANCELLED, "density: cancelled")
                                    : df__error(ctx, DF_ENOMEM, "out of memory computing the density");
                chunks++;
            }
        if (k < 0) return df__error(ctx, DF_EIO, "cannot read back the temporary file of points: %s", strerror(errno));
    }
    release(P->held_chunk), P->held_chunk = 0;
    free(G->pts), free(G->key), free(G->sx), free(G->sy), free(G->sw);
    G->pts = NULL, G->key = NULL, G->sx = G->sy = G->sw = NULL;
    df__log(ctx, DF_LOG_DEBUG,
            "density: %ld points on %d x %d pixels in %ld chunk(s) of at most %ld, %d threads, %d bands", n, in->width,
            in->height, chunks, cap, G->threads_used, G->nbands);
    return DF_OK;
}

/* Whether 8 pixels from g are sums of 0, all within the mask (or no mask):
 * most of the grid, looked at 8 at a time. */
static inline int zero_run(const int64_t *g, const unsigned char *mask)
{
    uint64_t any = 0, m;
    for (int k = 0; k < 8; k++) any |= (uint64_t)g[k];
    if (any) return 0;
    if (!mask) return 1;
    memcpy(&m, mask, sizeof m);
    return !((m - 0x0101010101010101u) & ~m & 0x8080808080808080u); /* no byte is 0 (masked) */
}

/* The rows are scaled, and their statistics taken, in SCALE_SLICES slices
 * of pixels whatever the number of threads, the slices' sums added in slice
 * order: the same bits on any machine (stats_take sums the same way). */
#define SCALE_SLICES 16

/* Where slice k of npix pixels starts (k = SCALE_SLICES: the end); on a
 * multiple of 8, so that zero_run's 8-pixel runs stay whole. */
static size_t slice_start(size_t npix, int k)
{
    return k < SCALE_SLICES ? npix * (size_t)k / SCALE_SLICES / 8 * 8 : npix;
}

/* A valid value that is not 0 into the statistics. */
static inline void stats_add(pixel_stats *S, double v)
{
    S->valid++, S->sum += v, S->sum2 += v * v;
    if (v < S->min) S->min = v;
    if (v > S->max) S->max = v;
}

typedef struct {
    const int64_t *grid;
    const unsigned char *mask;
    float *values;
    double inv_s, scale;
    size_t q0, q1;
    double inside, masked, mx; /* Σ w k(u) on the grid and masked; the largest value */
    pixel_stats S;             /* of the values that are not 0 */
    size_t zeros;              /* valid pixels of value 0 */
} scale_slice;

static void scale_range(scale_slice *s)
{
    const int64_t *grid = s->grid;
    const unsigned char *mask = s->mask;
    s->S = (pixel_stats){.min = HUGE_VAL, .max = -HUGE_VAL};
    for (size_t q = s->q0; q < s->q1; q++) {
        if (q % 8 == 0 && q + 8 <= s->q1 && zero_run(grid + q, mask ? mask + q : NULL)) {
            s->zeros += 8, q += 7; /* 8 valid zeros, already 0 */
            continue;
        }
        if (mask && !mask[q]) {
            if (grid[q]) s->masked += (double)grid[q] * s->inv_s;
            s->values[q] = DF_DENSITY_NODATA;
        } else if (grid[q]) {
            double g = (double)grid[q] * s->inv_s;
            s->inside += g;
            float v = (float)(g * s->scale);
            if (v > s->mx) s->mx = v;
            if (v == 0) {
                s->zeros++;
            } else {
                s->values[q] = v;
                stats_add(&s->S, v);
            }
        } else {
            s->zeros++;
        }
    }
}

typedef struct {
    scale_slice *slice;
    atomic_int *next;
} scale_worker;

static void *scale_run(void *arg)
{
    scale_worker *w = arg;
    for (int k; (k = atomic_fetch_add(w->next, 1)) < SCALE_SLICES;) scale_range(&w->slice[k]);
    return NULL;
}

/* The slices' statistics added in slice order, the zeros counted last. */
static pixel_stats stats_join(const pixel_stats *part, const size_t *zeros, int n)
{
    pixel_stats S = {.min = HUGE_VAL, .max = -HUGE_VAL};
    size_t z = 0;
    for (int k = 0; k < n; k++) {
        S.valid += part[k].valid, S.sum += part[k].sum, S.sum2 += part[k].sum2, z += zeros[k];
        if (part[k].min < S.min) S.min = part[k].min;
        if (part[k].max > S.max) S.max = part[k].max;
    }
    if (z) {
        S.valid += z;
        if (0 < S.min) S.min = 0;
        if (0 > S.max) S.max = 0;
    }
    return S;
}

/* The sums scaled by c / R² into Float32 (x 10⁶: per km²; 1 with --raw),
 * masked to the boundaries, and the mass counted: on the grid, beyond its
 * edge, masked. */
static df_status grid_scale(density_pass *P, df_density *d)
{
    df_ctx *ctx = P->ctx;
    const df_density_opts *o = P->o;
    df_density_info *in = P->in;
    size_t npix = (size_t)in->width * (size_t)in->height;
    double R = in->radius, p = o->pixel;
    double c = kernel_constant(o->kernel), area = p * p, to_people = c / (R * R) * area;
    df_status st;
    /* the fixed point back to Σ w k(u): a division by a power of two */
    double inv_s = 1.0 / P->G.scale;
    in->edge_loss = (double)P->G.edge / P->G.edge_scale * to_people + (double)P->G.far_loss * inv_s;
    if (o->mask) {
        if (!(P->mask = malloc(npix))) return df__error(ctx, DF_ENOMEM, "out of memory");
        if ((st = rasterize_mask(ctx, P->geoms, P->ngeoms, in, P->mask)) != DF_OK) return st;
    }
    /* the Float32 values into fresh zeroed memory (calloc of this size maps
     * pages on first write): most pixels are 0 and are not written, so their
     * pages are never allocated. Not over the grid's own memory: a write
     * there lands on pages the grid only read (the shared zero page), and
     * each such copy-on-write flushes the TLB of every core running one of
     * our threads (in a run, the records layer's), an interrupt a page. A 0
     * adds nothing to a sum: the sums skip them. The statistics the writer
     * stores are taken here, as stats_take would. */
    float *values = calloc(npix, sizeof *values);
    if (!values)
        return df__error(ctx, DF_ENOMEM, "out of memory (the density's %d x %d values)", in->width, in->height);
    scale_slice slice[SCALE_SLICES];
    for (int k = 0; k < SCALE_SLICES; k++)
        slice[k] = (scale_slice){.grid = P->G.grid,
                                 .mask = P->mask,
                                 .values = values,
                                 .inv_s = inv_s,
                                 .scale = o->raw ? 1.0 : c / (R * R) * 1e6,
                                 .q0 = slice_start(npix, k),
                                 .q1 = slice_start(npix, k + 1)};
    atomic_int next = 0;
    scale_worker w = {slice, &next};
    pthread_t tid[DENSITY_MAX_THREADS];
    int started = 0, nthreads = P->G.nthreads > 1 ? P->G.nthreads : 1;
    while (started + 1 < nthreads && pthread_create(&tid[started], NULL, scale_run, &w) == 0) started++;
    scale_run(&w);
    for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
    double inside = 0, masked = 0, mx = 0;
    pixel_stats part[SCALE_SLICES];
    size_t zeros[SCALE_SLICES];
    for (int k = 0; k < SCALE_SLICES; k++) {
        inside += slice[k].inside, masked += slice[k].masked, part[k] = slice[k].S, zeros[k] = slice[k].zeros;
        if (slice[k].mx > mx) mx = slice[k].mx;
    }
    pixel_stats S = stats_join(part, zeros, SCALE_SLICES);
    d->stats = S, d->stats_ok = 1;
    d->values = values;
    free(P->G.grid);
    P->G.grid = NULL;
    in->grid_weight = inside * to_people;
    in->mask_loss = masked * to_people;
    in->max = mx;
    in->raw = o->raw;
    in->units = o->raw ? "raw kernel sum" : "people/km2";
    df__log(ctx, DF_LOG_INFO,
            "density: %ld points, %.0f people; %s kernel, R = %.1f m, pixel %.1f m, %d x %d in %s; on the grid %.1f, "
            "edge loss %.1f, masked %.1f, discretisation %.3g",
            P->n_all, in->total_weight, df_kernel_name(o->kernel), R, p, in->width, in->height, in->crs,
            in->grid_weight, in->edge_loss, in->mask_loss,
            in->total_weight - in->grid_weight - in->edge_loss - in->mask_loss);
    return DF_OK;
}

static void density_pass_free(density_pass *P)
{
    if (P->held_block) release(P->held_block);
    if (P->held_chunk) release(P->held_chunk);
    for (int t = 1; t < DENSITY_MAX_THREADS; t++) {
        if (P->sp.pj[t]) proj_destroy(P->sp.pj[t]);
        if (P->sp.pc[t]) proj_context_destroy(P->sp.pc[t]);
    }
    if (P->norm) proj_destroy(P->norm);
    if (P->pj) proj_destroy(P->pj);
    for (int i = 0; P->geoms && i < P->ngeoms; i++)
        if (P->geoms[i]) OGR_G_DestroyGeometry(P->geoms[i]);
    free(P->geoms);
    crs_close(&P->crs);
    if (P->xfd >= 0) close(P->xfd);
    if (P->all_fd >= 0) close(P->all_fd);
    free(P->rblk), free(P->xblk), free(P->sp.x), free(P->sp.y), free(P->zp.lon), free(P->zp.lat);
    grid_run *G = &P->G;
    free(G->grid), free(G->band_edge), free(G->row_start), free(G->pts), free(G->key);
    free(G->sx), free(G->sy), free(G->sw), free(P->mask);
}

/* Density of the spooled points (the files are closed once read). Passes:
 * the median point for the UTM zone (without -t_srs); the projection, into a
 * file of projected points, with the sums the radius and the extent need;
 * the bandwidth rule's (variance, then the median distance in four); the
 * grid, chunk by chunk; the scaling into Float32. */
static df_status compute(df_ctx *ctx, raw_spool *rs, const df_boundaries *b, const df_density_opts *o, df_density *d,
                         double progress_lo, int split)
{
    density_pass P = {.ctx = ctx, .o = o, .in = &d->info, .xfd = -1, .B = block_size(), .split = split, .all_fd = -1};
    P.sp = (project_pass){.x0 = HUGE_VAL, .y0 = HUGE_VAL, .x1 = -HUGE_VAL, .y1 = -HUGE_VAL};
    df_status st = DF_OK;
    long B = P.B;
    if (!(P.rblk = df__malloc((size_t)B * sizeof *P.rblk)) || !(P.xblk = df__malloc((size_t)B * sizeof *P.xblk)) ||
        !(P.sp.x = df__malloc((size_t)B * sizeof *P.sp.x)) || !(P.sp.y = df__malloc((size_t)B * sizeof *P.sp.y)))
        st = df__error(ctx, DF_ENOMEM, "out of memory");
    else
        hold(P.held_block = B), P.sp.out = P.xblk;
    if (st == DF_OK) st = choose_crs(&P, rs, b);
    if (st == DF_OK) st = split ? parts_project(&P, rs) : project_points(&P, rs);
    P.n_all = split ? P.n_all : P.n;
    if (st == DF_OK) st = choose_radius(&P);
    if (st == DF_OK) st = grid_extent(&P, b);
    if (st == DF_OK) st = grid_points(&P, progress_lo);
    if (st == DF_OK && split) st = parts_grid(&P);
    if (st == DF_OK) st = grid_scale(&P, d);
    if (st == DF_OK) d->wkt = P.crs.wkt, P.crs.wkt = NULL; /* the writer's CRS, not looked up again */
    raw_spool_close(rs);
    density_pass_free(&P);
    return st;
}

df_status df_density_points(df_ctx *ctx, const double *lon, const double *lat, const double *weight, long n,
                            const df_boundaries *b, const df_density_opts *opts, df_density **out)
{
    DF__GDAL_SCOPE(ctx);
    *out = NULL;
    df_density_opts opts_local_;
    DF__OPTS_ACCEPT(ctx, df_density_opts, opts, opts_local_);
    df_density *d = calloc(1, sizeof *d);
    raw_spool rs = {0};
    point_buf pb;
    point_buf_init(&pb, opts, NULL, block_size());
    df_status st = d ? check_opts(ctx, b, opts) : df__error(ctx, DF_ENOMEM, "out of memory");
    if (st != DF_OK) goto done;
    long m = 0;
    for (long i = 0; i < n; i++)
        if (!isnan(lon[i]) && !isnan(lat[i]) && weight[i] > 0) {
            if (point_push(&pb, lon[i], lat[i], weight[i], DF_NO_DATE, 0) != 0) break;
            m++;
        }
    if (!pb.failed) point_flush(&pb);
    if (pb.failed) {
        st = pb.failed == 1 ? df__error(ctx, DF_ENOMEM, "out of memory")
                            : df__error(ctx, DF_EIO, "cannot write a temporary file of points: %s", strerror(pb.err));
        goto done;
    }
    d->info.no_point = n - m;
    rs.total = pb.n;
    if (pb.fd >= 0) rs.fd[rs.nfd++] = pb.fd, pb.fd = -1;
    point_buf_free(&pb);
    st = compute(ctx, &rs, b, opts, d, 0, 0);
done:
    point_buf_free(&pb);
    raw_spool_close(&rs);
    if (st == DF_OK)
        *out = d;
    else
        df_density_free(d);
    return st;
}

/* The dates whose repeats reach the raster: in a snapshot table, each
 * operation's snapshot date; else the period. */
typedef struct {
    df_table_kind kind;
    int32_t from, as_of;
    const int32_t *snap;
} density_dates;

static int density_counts(int32_t date, int op, void *user)
{
    const density_dates *dd = user;
    if (date == DF_NO_DATE) return 1;
    if (dd->kind == DF_SNAPSHOTS) return date == dd->snap[op];
    return (dd->from == DF_NO_DATE || date >= dd->from) && (dd->as_of == DF_NO_DATE || date <= dd->as_of);
}

/* Progress of a part of the run: lo .. hi of the caller's 0 .. 1, so that
 * the fraction never goes back when the reading ends and the grid begins. */
#define READ_SHARE 0.3
typedef struct {
    df_progress_fn fn;
    void *user;
    double lo, hi;
} progress_slice;

static int slice_progress(double fraction, const char *stage, void *user)
{
    progress_slice *s = user;
    return s->fn(s->lo + fraction * (s->hi - s->lo), stage, s->user);
}

/* ---- the density as a sink of the fan-out read -------------------------------- */

/* Every valid row as read, with both weights, so that any raster of the
 * run (the density, the publish support grid of families, one per period)
 * is a pass over this spool, not a read of the records. */
typedef struct {
    double lon, lat; /* put right when swapped; NaN without a point */
    int64_t individuals, families;
    int32_t date;
    int16_t op; /* an index into its range's operations */
    uint8_t status, swapped;
} any_pt;

typedef struct {
    any_pt *blk;
    long nblk, cap;
    int fd;
    long n;
    char *ops[DENSITY_MAX_OPS];
    int nops;
    df__repeats *repeats;
    long rivals; /* rival snapshots dropped (--duplicates drop) */
    int failed, err;
    const df_boundaries *b;
    const df_read_stats *read;
    int drop_rivals, kept;      /* kept: the sink's after merge */
    int remap[DENSITY_MAX_OPS]; /* set by merge: the run's index of each operation */
    /* the sink's `pre`: this range's copy of the operation, in its own
     * context (a PJ is not shared between threads), and room for a block */
    PJ_CONTEXT *pc;
    PJ *pj;
    double *px, *py;
    long *pi;
} any_range;

typedef struct {
    df__sink base;
    df_ctx *ctx;
    const df_boundaries *b;
    df_record_opts ropts;
    long cap;
    any_range *range[DENSITY_MAX_THREADS]; /* the ranges, kept after the read */
    int nrange;
    const char *opnames[DENSITY_MAX_OPS]; /* the run's operations (the ranges' names) */
    int nops;
    df__repeats *repeats; /* the ranges' merged */
    any_range *pushed;    /* df_density_new: the range records are pushed into */
    df_read_stats own_read;
    /* MPI: the read was split and its points stay on this process
     * (any_parts_merge): each compute is then a collective */
    int split;
    char *names[DENSITY_MAX_OPS]; /* split: the other processes' operations, owned */
    int nnames;
    /* -t_srs known before the read (df_density_run): each range projects its
     * block of points before it spools them, on its reading thread, so the
     * raster's pass projects nothing (issue 12 item 3); NULL: lon/lat spooled */
    PJ *pre, *pre_op;
    char *pre_srs;
} density_sink;

/* This range's copy of the sink's operation dropped (its points are spooled). */
static void any_range_unproject(any_range *p)
{
    if (p->pj) proj_destroy(p->pj);
    if (p->pc) proj_context_destroy(p->pc);
    free(p->px), free(p->py), free(p->pi);
    p->pj = NULL, p->pc = NULL, p->px = p->py = NULL, p->pi = NULL;
}

static void any_range_free(void *state)
{
    any_range *p = state;
    if (!p) return;
    any_range_unproject(p);
    for (int i = 0; i < p->nops; i++) free(p->ops[i]);
    df__repeats_free(p->repeats);
    if (p->blk) release(p->cap);
    free(p->blk);
    if (p->fd >= 0) close(p->fd);
    free(p);
}

static void *any_range_new(void *sink, int range)
{
    density_sink *k = sink;
    (void)range;
    any_range *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    /* a range's block lives until its merge, and a read has more ranges than
     * threads (ingest.c): the ranges' blocks together hold at most a chunk */
    long share = k->base.ranges > 0 ? chunk_size / k->base.ranges : k->cap;
    p->fd = -1, p->cap = share < 1 ? 1 : share < k->cap ? share : k->cap, p->b = k->b, p->read = k->base.read;
    p->drop_rivals = k->ropts.duplicates == DF_DUPLICATES_DROP;
    if (!(p->repeats = df__repeats_new(k->base.ranges))) return any_range_free(p), NULL;
    if (k->pre &&
        (!(p->pc = proj_context_create()) || (proj_log_func(p->pc, NULL, proj_quiet), 0) ||
         !(p->pj = proj_clone(p->pc, k->pre)) || !(p->px = malloc((size_t)p->cap * sizeof *p->px)) ||
         !(p->py = malloc((size_t)p->cap * sizeof *p->py)) || !(p->pi = malloc((size_t)p->cap * sizeof *p->pi))))
        return any_range_free(p), NULL;
    return p;
}

/* The block's points with coordinates projected in place (the operation
 * and the batch call of project_block: the same values, bit for bit); a
 * point that cannot be projected keeps PROJ's infinite values, left out and
 * counted by project_block as before; NaN stays NaN (no point). */
static void any_project(any_range *p)
{
    long m = 0;
    for (long i = 0; i < p->nblk; i++)
        if (!isnan(p->blk[i].lon) && !isnan(p->blk[i].lat))
            p->px[m] = p->blk[i].lon, p->py[m] = p->blk[i].lat, p->pi[m++] = i;
    if (m > 0)
        proj_trans_generic(p->pj, PJ_FWD, p->px, sizeof *p->px, (size_t)m, p->py, sizeof *p->py, (size_t)m, NULL, 0, 0,
                           NULL, 0, 0);
    for (long j = 0; j < m; j++) p->blk[p->pi[j]].lon = p->px[j], p->blk[p->pi[j]].lat = p->py[j];
    atomic_fetch_add(&projected_as_read, m);
}

static int any_flush(any_range *p)
{
    if (p->nblk == 0) return 0;
    if (p->pj) any_project(p);
    if ((p->fd < 0 && (p->fd = spool_new()) < 0) || write_all(p->fd, p->blk, (size_t)p->nblk * sizeof *p->blk) != 0) {
        p->err = errno, p->failed = 2;
        return -1;
    }
    p->n += p->nblk, p->nblk = 0;
    return 0;
}

static int any_record(void *state, const df_record *r)
{
    any_range *p = state;
    const char *name = r->operation ? r->operation : "";
    int op;
    for (op = p->nops - 1; op >= 0 && strcmp(p->ops[op], name); op--) {}
    if (op < 0) {
        if (p->nops == DENSITY_MAX_OPS || !(p->ops[p->nops] = df__strdup(name))) return p->failed = 1, 1;
        op = p->nops++;
    }
    int rival = df__repeats_note(p->repeats, r, op, p->read->kind == DF_SNAPSHOTS);
    if (rival < 0) return p->failed = 1, 1;
    if (rival > 0 && p->drop_rivals) return p->rivals++, 0;
    if (!p->blk) {
        if (!(p->blk = df__malloc((size_t)p->cap * sizeof *p->blk))) return p->failed = 1, 1;
        hold(p->cap);
    }
    if (p->nblk == p->cap && any_flush(p) != 0) return 1;
    any_pt *q = &p->blk[p->nblk++];
    q->lon = r->lon, q->lat = r->lat, q->swapped = 0;
    if (!isnan(r->lon) && !isnan(r->lat)) q->swapped = (uint8_t)df__unswap_point(p->b, &q->lon, &q->lat);
    q->individuals = r->individuals, q->families = r->families;
    q->date = r->date, q->op = (int16_t)op, q->status = (uint8_t)r->status;
    return 0;
}

/* A range kept (its spool is read again for each raster); its operations
 * and repeats into the run's. */
static df_status any_merge(void *sink, void *state)
{
    density_sink *k = sink;
    any_range *p = state;
    if (!p->failed) any_flush(p);
    any_range_unproject(p);
    if (p->failed)
        return p->failed == 1 ? df__error(k->ctx, DF_ENOMEM, "out of memory collecting the points of %s", k->ropts.path)
                              : df__error(k->ctx, DF_EIO, "cannot write a temporary file of the points of %s: %s",
                                          k->ropts.path, strerror(p->err));
    for (int i = 0; i < p->nops; i++) {
        int g = 0;
        while (g < k->nops && strcmp(k->opnames[g], p->ops[i])) g++;
        if (g == k->nops) {
            if (k->nops == DENSITY_MAX_OPS)
                return df__error(k->ctx, DF_EINVAL, "%s: more than %d operations", k->ropts.path, DENSITY_MAX_OPS);
            k->opnames[k->nops++] = p->ops[i];
        }
        p->remap[i] = g;
    }
    if (df__repeats_merge(k->repeats, p->repeats, p->remap) != 0) return df__error(k->ctx, DF_ENOMEM, "out of memory");
    if (p->blk) release(p->cap);
    free(p->blk);
    p->blk = NULL;
    k->range[k->nrange++] = p, p->kept = 1; /* the sink's now: thread_free leaves it */
    return DF_OK;
}

static void any_state_free(void *state)
{
    any_range *p = state;
    if (p && !p->kept) any_range_free(p);
}

/* fn on each block of a range's spool: 0, -1 when it cannot be read. */
static int any_each(density_sink *k, int range, any_pt *blk, int (*fn)(const any_pt *, long, any_range *, void *),
                    void *user)
{
    any_range *p = k->range[range];
    long n;
    if (p->fd < 0) return 0;
    if (lseek(p->fd, 0, SEEK_SET) != 0) return -1;
    while ((n = read_items(p->fd, blk, sizeof *blk, k->cap)) > 0)
        if (fn(blk, n, p, user) != 0) return -1;
    return n < 0 ? -1 : 0;
}

typedef struct {
    const df_density_opts *o;
    int32_t *snap; /* per operation of the run */
    point_buf *out;
    long filtered, no_point, swapped;
} view_pass;

/* Each operation's latest date on or before as-of, over every row (as the join takes it). */
static int snap_block(const any_pt *q, long n, any_range *p, void *user)
{
    view_pass *v = user;
    for (long i = 0; i < n; i++) {
        int g = p->remap[q[i].op];
        int32_t t = q[i].date;
        if (t != DF_NO_DATE && (v->o->as_of == DF_NO_DATE || t <= v->o->as_of) &&
            (v->snap[g] == DF_NO_DATE || t > v->snap[g]))
            v->snap[g] = t;
    }
    return 0;
}

/* MPI, split: each operation's latest date over every process's rows. */
static df_status parts_snap(df_ctx *ctx, int32_t *snap, int nops)
{
    unsigned char *all = NULL;
    df__pack *from = calloc((size_t)df__parts.count, sizeof *from);
    df_status st = from ? parts_all(ctx, snap, (size_t)nops * sizeof *snap, &all, from)
                        : df__error(ctx, DF_ENOMEM, "out of memory");
    for (int r = 0; st == DF_OK && r < df__parts.count; r++)
        for (int g = 0; g < nops; g++) {
            int32_t t;
            memcpy(&t, from[r].data + (size_t)g * sizeof t, sizeof t);
            if (t != DF_NO_DATE && (snap[g] == DF_NO_DATE || t > snap[g])) snap[g] = t;
        }
    free(all), free(from);
    return st;
}

/* The points of a raster: its status, period and weight. */
static int view_block(const any_pt *q, long n, any_range *p, void *user)
{
    view_pass *v = user;
    const df_density_opts *o = v->o;
    (void)p;
    for (long i = 0; i < n; i++) {
        const any_pt *r = &q[i];
        if ((o->status >= 0 && (int)r->status != o->status) ||
            (r->date != DF_NO_DATE &&
             ((o->from != DF_NO_DATE && r->date < o->from) || (o->as_of != DF_NO_DATE && r->date > o->as_of)))) {
            v->filtered++;
            continue;
        }
        if (isnan(r->lon) || isnan(r->lat)) {
            v->no_point++;
            continue;
        }
        double w = o->weight == DF_WEIGHT_RECORDS    ? 1.0
                   : o->weight == DF_WEIGHT_FAMILIES ? (double)r->families
                                                     : (double)r->individuals;
        if (!(w > 0)) { /* no families stated, or a zero count: nothing to spread */
            v->filtered++;
            continue;
        }
        v->swapped += r->swapped;
        if (point_push(v->out, r->lon, r->lat, w, r->date, r->op) != 0) return -1;
    }
    return 0;
}

/* The raster's points selected from the ranges' spools straight into the
 * projection pass, block by block (raw_spool.each), with no file of
 * selected points written and read back between the two: when the readers
 * projected the points (no zone pass reads them first) and the table is
 * not of snapshots (whose dates are judged per file). The same points in
 * the same order, so the same raster. */
typedef struct {
    density_sink *k;
    any_pt *blk;
    view_pass *v;
} view_source;

static int view_each(void *src, int (*fn)(raw_pt *, long, void *), void *user)
{
    view_source *s = src;
    point_buf *pb = s->v->out;
    pb->emit = fn, pb->emit_user = user;
    for (int r = 0; r < s->k->nrange; r++)
        if (any_each(s->k, r, s->blk, view_block, s->v) != 0) return pb->emit_rc ? pb->emit_rc : -1;
    if (point_flush(pb) != 0) return pb->emit_rc ? pb->emit_rc : -1;
    return 0;
}

df_status df__density_sink_compute(df_ctx *ctx, df__sink *sink, const df_density_opts *opts, int quiet,
                                   df_density **out)
{
    density_sink *k = (density_sink *)sink;
    const df_read_stats *read = k->base.read;
    raw_spool rs = {0};
    point_buf pb;
    any_pt *blk = NULL;
    int32_t snap[DENSITY_MAX_OPS];
    *out = NULL;
    point_buf_init(&pb, opts, k->b, k->cap);
    df_density *d = calloc(1, sizeof *d);
    df_status st = d ? check_opts(ctx, k->b, opts) : df__error(ctx, DF_ENOMEM, "out of memory");
    if (st != DF_OK) goto done;
    d->info.read = *read;
    if (read->valid > 0 && read->with_point == 0) { /* not an all-zero raster */
        st = df__error(ctx, DF_EINVAL, "%s: no record has coordinates: density needs points (or use --choropleth)",
                       k->ropts.path);
        goto done;
    }
    if (!(blk = df__malloc((size_t)k->cap * sizeof *blk))) {
        st = df__error(ctx, DF_ENOMEM, "out of memory");
        goto done;
    }
    hold(k->cap);
    for (int g = 0; g < k->nops; g++) snap[g] = DF_NO_DATE;
    view_pass v = {opts, snap, &pb, 0, 0, 0};
    /* the snapshot dates: only a snapshot table reads them (density_counts, rs.snap) */
    for (int r = 0; r < k->nrange && st == DF_OK && read->kind == DF_SNAPSHOTS; r++)
        if (any_each(k, r, blk, snap_block, &v) != 0)
            st = df__error(ctx, DF_EIO, "cannot read a temporary file of points: %s", strerror(errno));
    if (st == DF_OK && k->split) st = parts_snap(ctx, snap, k->nops);
    density_dates dd = {read->kind, opts->from, opts->as_of, snap};
    if (st == DF_OK && !quiet) st = df__repeats_judge(ctx, k->repeats, &k->ropts, k->opnames, density_counts, &dd);
    /* projected as read: only for the CRS they were projected to (df_density_run's) */
    rs.projected = k->pre != NULL;
    if (st == DF_OK && k->pre && (!opts->t_srs || strcmp(opts->t_srs, k->pre_srs)))
        st = df__error(ctx, DF_EINVAL, "density: the points were projected to %s as read, not to %s", k->pre_srs,
                       opts->t_srs ? opts->t_srs : "the CRS the data choose");
    if (st == DF_OK && k->pre && read->kind != DF_SNAPSHOTS) {
        view_source src = {k, blk, &v};
        int64_t rivals = 0;
        for (int r = 0; r < k->nrange; r++) /* at most these: every row the ranges spooled */
            rivals += k->range[r]->rivals, rs.total += k->range[r]->n;
        rs.each = view_each, rs.src = &src;
        st = compute(ctx, &rs, k->b, opts, d, READ_SHARE, k->split);
        /* the selection's counts, known once the projection pass has read the points: of every process */
        int64_t c[3] = {rivals + v.filtered, v.no_point, v.swapped};
        if (st == DF_OK && k->split) st = parts_sum(ctx, c, 3);
        d->info.filtered += (long)c[0], d->info.no_point += (long)c[1], d->info.swapped += (long)c[2];
        if (st == DF_OK && d->info.swapped && !quiet)
            df__log(ctx, DF_LOG_INFO, "density: %ld points with latitude and longitude swapped, put right",
                    d->info.swapped);
        goto done;
    }
    /* each range's points of this raster, in file order */
    for (int r = 0; r < k->nrange && st == DF_OK; r++) {
        any_range *p = k->range[r];
        d->info.filtered += p->rivals;
        if (any_each(k, r, blk, view_block, &v) != 0 || (!pb.failed && point_flush(&pb) != 0)) {
            st = pb.failed == 1 ? df__error(ctx, DF_ENOMEM, "out of memory collecting the points of %s", k->ropts.path)
                                : df__error(ctx, DF_EIO, "cannot write a temporary file of the points of %s: %s",
                                            k->ropts.path, strerror(pb.err ? pb.err : errno));
            break;
        }
        rs.total += pb.n;
        if (pb.fd >= 0) {
            int32_t *sd = malloc(((size_t)p->nops + 1) * sizeof *sd);
            if (!sd) {
                st = df__error(ctx, DF_ENOMEM, "out of memory");
                break;
            }
            for (int i = 0; i < p->nops; i++) sd[i] = snap[p->remap[i]];
            rs.snap_date[rs.nfd] = sd;
            rs.fd[rs.nfd++] = pb.fd, pb.fd = -1;
        }
        pb.n = 0;
    }
    if (blk) release(k->cap);
    free(blk), blk = NULL;
    if (pb.blk) release(pb.cap);
    free(pb.blk), pb.blk = NULL;
    if (st != DF_OK) goto done;
    d->info.filtered += v.filtered, d->info.no_point += v.no_point, d->info.swapped += v.swapped;
    int64_t points_all = rs.total;
    if (k->split) { /* the counts of every process */
        int64_t c[4] = {d->info.filtered, d->info.no_point, d->info.swapped, rs.total};
        if ((st = parts_sum(ctx, c, 4)) != DF_OK) goto done;
        d->info.filtered = (long)c[0], d->info.no_point = (long)c[1], d->info.swapped = (long)c[2], points_all = c[3];
    }
    if (d->info.swapped && !quiet)
        df__log(ctx, DF_LOG_INFO, "density: %ld points with latitude and longitude swapped, put right",
                d->info.swapped);
    /* snapshot tables are never summed across dates: the latest snapshot */
    if (read->kind == DF_SNAPSHOTS && points_all > 0) { /* as read: DF_KIND_AUTO resolved */
        rs.snap = 1;
        for (int g = 0; g < k->nops && !quiet; g++) {
            char day[11];
            df_date_format(snap[g], day);
            df__log(ctx, DF_LOG_INFO, "density: snapshots: %s%s%sthe rows of %s, its latest date on or before as-of",
                    k->opnames[g][0] ? "\"" : "", k->opnames[g], k->opnames[g][0] ? "\": " : "",
                    day[0] ? day : "(undated)");
        }
    }
    st = compute(ctx, &rs, k->b, opts, d, READ_SHARE, k->split);
done:
    if (blk) release(k->cap);
    free(blk);
    point_buf_free(&pb);
    raw_spool_close(&rs);
    if (st == DF_OK)
        *out = d;
    else
        df_density_free(d);
    return st;
}

void df__density_sink_free(df__sink *sink)
{
    density_sink *k = (density_sink *)sink;
    if (!k) return;
    if (k->pre) proj_destroy(k->pre);
    if (k->pre_op) proj_destroy(k->pre_op);
    free(k->pre_srs);
    if (k->pushed && !k->pushed->kept) any_range_free(k->pushed);
    for (int r = 0; r < k->nrange; r++) any_range_free(k->range[r]);
    df__repeats_free(k->repeats);
    for (int i = 0; i < k->nnames; i++) free(k->names[i]);
    free(k);
}

/* MPI: the points stay where they were read. Only the operations' names
 * and the rival-snapshot keys are exchanged (units x dates, not rows),
 * merged in process order into the run's numbering, which this process's
 * ranges then take; each raster's grid is then summed over the processes
 * (parts_grid), so that every process computes each raster, in the same
 * order (df__density_sink_compute is a collective). */
static df_status any_parts_merge(df_ctx *ctx, void *sink)
{
    density_sink *k = sink;
    df__pack mine = {0}, *from = calloc((size_t)df__parts.count, sizeof *from);
    unsigned char *all = NULL;
    int32_t nops = k->nops;
    df__pack_put(&mine, &nops, sizeof nops);
    for (int i = 0; i < k->nops; i++) df__pack_str(&mine, k->opnames[i]);
    df__repeats_pack(&mine, k->repeats);
    df_status st = from ? df__parts_exchange(ctx, &mine, &all, from) : df__error(ctx, DF_ENOMEM, "out of memory");
    df__pack_free(&mine);
    df__repeats *repeats = st == DF_OK ? df__repeats_new(1) : NULL, *theirs = NULL;
    const char *names[DENSITY_MAX_OPS];
    int n = 0, remap[DENSITY_MAX_OPS], my_remap[DENSITY_MAX_OPS] = {0};
    if (st == DF_OK && !repeats) st = df__error(ctx, DF_ENOMEM, "out of memory");
    for (int r = 0; st == DF_OK && r < df__parts.count; r++) {
        df__pack *b = &from[r];
        df__pack_get(b, &nops, sizeof nops);
        int bad = b->failed || nops < 0 || nops > DENSITY_MAX_OPS;
        for (int i = 0; !bad && i < nops; i++) {
            const char *name = df__pack_get_str(b);
            int g = 0;
            while (g < n && strcmp(names[g], name)) g++;
            if (g == n && n == DENSITY_MAX_OPS) {
                st = df__error(ctx, DF_EINVAL, "%s: more than %d operations", k->ropts.path, DENSITY_MAX_OPS);
                break;
            }
            if (g == n) { /* this process's own name, or a copy */
                if (r == df__parts.index)
                    names[n++] = k->opnames[i];
                else if ((bad = !(k->names[k->nnames] = df__strdup(name))) == 0)
                    names[n++] = k->names[k->nnames++];
            }
            remap[i] = g;
            if (r == df__parts.index) my_remap[i] = g;
        }
        if (st != DF_OK) break;
        bad = bad || !(theirs = df__repeats_new(1)) || df__repeats_unpack(b, theirs) != 0 ||
              df__repeats_merge(repeats, theirs, remap) != 0;
        df__repeats_free(theirs), theirs = NULL;
        if (bad)
            st = df__error(ctx, DF_ENOMEM, "out of memory merging the points of process %d of %s", r, k->ropts.path);
    }
    if (st == DF_OK) {
        for (int i = 0; i < k->nrange; i++) /* range -> this process -> the run */
            for (int j = 0; j < k->range[i]->nops; j++) k->range[i]->remap[j] = my_remap[k->range[i]->remap[j]];
        memcpy(k->opnames, names, (size_t)n * sizeof *names), k->nops = n;
        df__repeats_free(k->repeats), k->repeats = repeats, repeats = NULL;
        k->split = 1;
    }
    df__repeats_free(repeats);
    free(all), free(from);
    return st;
}

df_status df__density_sink_new(df_ctx *ctx, const df_boundaries *b, const df_record_opts *ropts, int threads,
                               df__sink **out)
{
    *out = NULL;
    density_sink *k = calloc(1, sizeof *k);
    if (!k || !(k->repeats = df__repeats_new(1))) {
        if (k) free(k);
        return df__error(ctx, DF_ENOMEM, "out of memory");
    }
    k->base = (df__sink){"density", any_range_new, any_record,      NULL, any_merge, NULL, any_state_free, 0,
                         0,         NULL,          any_parts_merge, 0};
    k->ctx = ctx, k->b = b, k->ropts = *ropts;
    /* the readers' blocks together hold at most a chunk */
    k->cap = chunk_size / (threads < 1 ? 1 : threads);
    if (k->cap > 8192) k->cap = 8192;
    if (k->cap < 1) k->cap = 1;
    *out = &k->base;
    return DF_OK;
}

/* The sink's readers to project the points to t_srs as they spool them:
 * the operation that project_points would make, made before the read. When
 * it cannot be made the points are spooled as lon/lat, and the raster's
 * pass says why as before. */
static void density_sink_project(df_ctx *ctx, density_sink *k, const char *t_srs)
{
    /* crs_open's steps, in silence: a CRS it would warn about (units other
     * than metres) or refuse is left to it */
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    char *wkt = NULL;
    if (srs) OSRSetAxisMappingStrategy(srs, OAMS_TRADITIONAL_GIS_ORDER);
    if (srs && OSRSetFromUserInput(srs, t_srs) == OGRERR_NONE && OSRIsProjected(srs) &&
        fabs(OSRGetLinearUnits(srs, NULL) - 1.0) <= 1e-12 && OSRExportToWkt(srs, &wkt) == OGRERR_NONE &&
        (k->pre_op = proj_create_crs_to_crs(ctx->proj, "EPSG:4326", wkt, NULL)) &&
        (k->pre = proj_normalize_for_visualization(ctx->proj, k->pre_op)) && !(k->pre_srs = df__strdup(t_srs)))
        proj_destroy(k->pre), k->pre = NULL;
    CPLFree(wkt);
    if (srs) OSRDestroySpatialReference(srs);
    CPLErrorReset();
}

df_status df_density_run(df_ctx *ctx, const df_record_opts *ropts, const df_boundaries *b, const df_density_opts *opts,
                         df_density **out)
{
    DF__GDAL_SCOPE(ctx);
    df_record_opts ropts_local_;
    DF__OPTS_ACCEPT(ctx, df_record_opts, ropts, ropts_local_);
    df_density_opts opts_local_;
    DF__OPTS_ACCEPT(ctx, df_density_opts, opts, opts_local_);
    df__sink *sink = NULL;
    df_read_stats read;
    *out = NULL;
    int nthreads = core_count(opts);
    df_status st = check_opts(ctx, b, opts);
    if (st == DF_OK) st = df__density_sink_new(ctx, b, ropts, nthreads, &sink);
    if (st == DF_OK && opts->t_srs) density_sink_project(ctx, (density_sink *)sink, opts->t_srs);
    if (st == DF_OK) { /* the reading reports 0 .. READ_SHARE of the run, the grid the rest */
        progress_slice slice = {ctx->progress_fn, ctx->progress_user, 0, READ_SHARE};
        if (slice.fn) ctx->progress_fn = slice_progress, ctx->progress_user = &slice;
        st = df__records_fanout(ctx, ropts, &sink, 1, nthreads, &read, NULL);
        ctx->progress_fn = slice.fn, ctx->progress_user = slice.user;
    }
    if (st == DF_OK) st = df__density_sink_compute(ctx, sink, opts, 0, out);
    df__density_sink_free(sink);
    return st;
}

void df_density_free(df_density *d)
{
    if (!d) return;
    push_free(d);
    free(d->t_srs);
    free(d->values);
    CPLFree(d->wkt);
    free(d);
}

const df_density_info *df_density_get_info(const df_density *d) { return &d->info; }
const float *df_density_values(const df_density *d) { return d->values; }

void df__density_scale(df_density *d, const float *factor)
{
    df_density_info *in = &d->info;
    double mx = 0, sum = 0, area = fabs(in->geotransform[1] * in->geotransform[5]) / 1e6; /* km² */
    for (size_t q = 0; q < (size_t)in->width * (size_t)in->height; q++) {
        float *v = &d->values[q];
        if (*v == DF_DENSITY_NODATA) continue;
        *v *= factor[q];
        if (*v > mx) mx = *v;
        sum += *v;
    }
    d->stats_ok = 0;
    in->max = mx;
    in->grid_weight = in->raw ? in->grid_weight : sum * area;
}

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
    d->stats_ok = 0;
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

/* The statistics of values without grid_scale's (the values changed
 * since), in its slices: the same bits as it gives for the same values. */
static pixel_stats stats_take(const float *values, size_t npix)
{
    pixel_stats part[SCALE_SLICES];
    size_t zeros[SCALE_SLICES] = {0};
    for (int k = 0; k < SCALE_SLICES; k++) {
        part[k] = (pixel_stats){.min = HUGE_VAL, .max = -HUGE_VAL};
        for (size_t q = slice_start(npix, k); q < slice_start(npix, k + 1); q++) {
            double v = values[q];
            if (v == DF_DENSITY_NODATA) continue;
            if (v == 0)
                zeros[k]++;
            else
                stats_add(&part[k], v);
        }
    }
    return stats_join(part, zeros, SCALE_SLICES);
}

/* Georeferencing, nodata, units, metadata and statistics (stored in the
 * file: no .aux.xml) on the dataset ds, before any pixel is written. */
static void describe(GDALDatasetH ds, const df_density *d, const pixel_stats *S, const char *wkt)
{
    const df_density_info *in = &d->info;
    GDALRasterBandH band = GDALGetRasterBand(ds, 1);
    char num[64];
    GDALSetGeoTransform(ds, (double *)in->geotransform);
    if (wkt) GDALSetProjection(ds, wkt);
    GDALSetRasterNoDataValue(band, DF_DENSITY_NODATA);
    GDALSetRasterUnitType(band, in->raw ? "" : "people/km2");
    GDALSetDescription(band, in->raw ? "raw kernel sum" : "density");
#define META(key, ...)                                                                                                 \
    do {                                                                                                               \
        snprintf(num, sizeof num, __VA_ARGS__);                                                                        \
        GDALSetMetadataItem(ds, key, num, NULL);                                                                       \
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
#undef META
    GDALSetMetadataItem(ds, "DENSITY_FORMULA",
                        in->raw ? "sum of w k(d/R)" : "sum of w c k(d/R) / R^2 x 1e6 (see docs/density.md)", NULL);
    if (S->valid) {
        size_t npix = (size_t)in->width * (size_t)in->height;
        double mean = S->sum / (double)S->valid, var = S->sum2 / (double)S->valid - mean * mean;
        GDALSetRasterStatistics(band, S->min, S->max, mean, sqrt(var > 0 ? var : 0));
        snprintf(num, sizeof num, "%.6g", 100.0 * (double)S->valid / (double)npix);
        GDALSetMetadataItem(band, "STATISTICS_VALID_PERCENT", num, NULL);
    }
}

/* COG: a MEM band over our buffer (no copy), copied with its overviews. */
static int write_cog(GDALDriverH drv, const char *tmp, const df_density *d, char **co, const pixel_stats *S,
                     const char *wkt)
{
    const df_density_info *in = &d->info;
    GDALDatasetH src = mem_over(d->values, in->width, in->height, GDT_Float32), out = NULL;
    if (src) {
        describe(src, d, S, wkt);
        out = GDALCreateCopy(drv, tmp, src, FALSE, co, NULL, NULL);
        if (out) GDALClose(out);
        GDALClose(src);
    }
    return out != NULL;
}

/* GTiff: created, then written block by block in file order from the
 * values, so that GDAL's compression threads (NUM_THREADS) work while this
 * thread fills the next blocks; CreateCopy from a MEM band would copy the
 * whole raster into its block cache before the first block is compressed.
 * Whatever the block shape the creation options give (tiles, strips), the
 * part of an edge block beyond the raster is 0, as CreateCopy leaves it. */
static int write_blocks(GDALDriverH drv, const char *tmp, const df_density *d, char **co, const pixel_stats *S,
                        const char *wkt)
{
    const df_density_info *in = &d->info;
    GDALDatasetH out = GDALCreate(drv, tmp, in->width, in->height, 1, GDT_Float32, co);
    if (!out) return 0;
    describe(out, d, S, wkt);
    GDALRasterBandH band = GDALGetRasterBand(out, 1);
    int bx = 0, by = 0, ok = 1;
    GDALGetBlockSize(band, &bx, &by);
    float *buf = bx > 0 && by > 0 ? calloc((size_t)bx * (size_t)by, sizeof *buf) : NULL;
    if (!buf) CPLError(CE_Failure, CPLE_OutOfMemory, "out of memory for a block of %d x %d", bx, by), ok = 0;
    for (int y0 = 0; ok && y0 < in->height; y0 += by) {
        int h = in->height - y0 < by ? in->height - y0 : by;
        for (int x0 = 0; ok && x0 < in->width; x0 += bx) {
            int w = in->width - x0 < bx ? in->width - x0 : bx;
            if (w < bx || h < by) memset(buf, 0, (size_t)bx * (size_t)by * sizeof *buf);
            for (int r = 0; r < h; r++)
                memcpy(buf + (size_t)r * bx, d->values + (size_t)(y0 + r) * in->width + x0, (size_t)w * sizeof *buf);
            ok = GDALWriteBlock(band, x0 / bx, y0 / by, buf) == CE_None;
        }
    }
    free(buf);
    GDALClose(out);
    return ok;
}

df_status df_density_write(df_ctx *ctx, const df_density *d, const char *path, const char *format,
                           char **creation_options)
{
    DF__GDAL_SCOPE(ctx);
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

    GDALDriverH drv = GDALGetDriverByName(cog ? "COG" : "GTiff");
    if (!drv || (cog && !GDALGetDriverByName("MEM")))
        return df__error(ctx, DF_EGDAL, "GDAL has no %s driver", cog ? "COG" : "GTiff");
    char **co = NULL, *wkt = NULL;
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
    if (!d->wkt) { /* the CRS as compute read it, else looked up again */
        OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
        if (srs && OSRSetFromUserInput(srs, in->crs) == OGRERR_NONE) OSRExportToWkt(srs, &wkt);
        if (srs) OSRDestroySpatialReference(srs);
    }
    pixel_stats S = d->stats_ok ? d->stats : stats_take(d->values, (size_t)in->width * (size_t)in->height);
    /* no .aux.xml beside the temporary name: statistics live in the TIFF */
    CPLSetThreadLocalConfigOption("GDAL_PAM_ENABLED", "NO");
    CPLErrorReset();
    int ok = cog ? write_cog(drv, tmp, d, co, &S, d->wkt ? d->wkt : wkt)
                 : write_blocks(drv, tmp, d, co, &S, d->wkt ? d->wkt : wkt);
    if (!ok || CPLGetLastErrorType() >= CE_Failure) {
        st = df__error(ctx, DF_EGDAL, "cannot write %s %s", path, df__gdal_error(ctx));
        unlink(tmp);
    }
    CPLSetThreadLocalConfigOption("GDAL_PAM_ENABLED", NULL);
    if (st == DF_OK) st = df__commit(ctx, tmp, path);
    if (st == DF_OK) st = write_qml(ctx, d, qml);
done:
    CPLFree(wkt);
    CSLDestroy(co);
    return st;
}

/* ---- the push API: records from memory --------------------------------------- */

static void push_free(df_density *d)
{
    density_sink *k = d->push;
    if (!k) return;
    d->push = NULL;
    df__density_sink_free(&k->base);
}

df_status df_density_new(df_ctx *ctx, const df_boundaries *b, const df_record_opts *ropts, const df_density_opts *opts,
                         df_density **out)
{
    df_record_opts ropts_local_;
    df_density_opts opts_local_;
    *out = NULL;
    if (!ropts) df_record_opts_init(&ropts_local_), ropts = &ropts_local_;
    if (!opts) df_density_opts_init(&opts_local_), opts = &opts_local_;
    DF__OPTS_ACCEPT(ctx, df_record_opts, ropts, ropts_local_);
    DF__OPTS_ACCEPT(ctx, df_density_opts, opts, opts_local_);
    df_status st = check_opts(ctx, b, opts);
    df__sink *sink = NULL;
    if (st == DF_OK) st = df__density_sink_new(ctx, b, ropts, 1, &sink);
    if (st != DF_OK) return st;
    density_sink *k = (density_sink *)sink;
    k->ropts.path = "(records pushed)"; /* the caller's string need not outlive the density */
    k->own_read.kind = ropts->kind != DF_KIND_AUTO ? ropts->kind : DF_INCREMENTS; /* no header to tell */
    k->base.read = &k->own_read;
    df_density *d = calloc(1, sizeof *d);
    if (!d || !(k->pushed = any_range_new(sink, 0))) {
        free(d);
        df__density_sink_free(sink);
        return df__error(ctx, DF_ENOMEM, "out of memory");
    }
    d->push = k, d->opts = *opts;
    /* the caller's string need not outlive the density */
    if (opts->t_srs && !(d->opts.t_srs = d->t_srs = df__strdup(opts->t_srs))) {
        df_density_free(d);
        return df__error(ctx, DF_ENOMEM, "out of memory");
    }
    *out = d;
    return DF_OK;
}

df_status df_density_add(df_density *d, const df_record *r)
{
    density_sink *k = d->push;
    if (!k) return DF_EINVAL;
    df_status st = df__pushed_record(k->ctx, &k->own_read, r);
    if (st != DF_OK) return st;
    if (any_record(k->pushed, r) != 0)
        return k->pushed->failed == 2
                   ? df__error(k->ctx, DF_EIO, "cannot write a temporary file of points: %s", strerror(k->pushed->err))
                   : df__error(k->ctx, DF_ENOMEM, "out of memory collecting points");
    return DF_OK;
}

df_status df_density_merge(df_density *into, df_density *part)
{
    density_sink *a = into->push, *b = part->push;
    if (!a || !b) return a ? df__error(a->ctx, DF_EINVAL, "df_density_merge: the part is finished") : DF_EINVAL;
    if (a->nrange == DENSITY_MAX_THREADS - 1)
        return df__error(a->ctx, DF_EINVAL, "df_density_merge: more than %d parts", DENSITY_MAX_THREADS - 1);
    /* the part's points follow ours: its range is kept by our sink */
    b->pushed->b = a->b;
    df_status st = any_merge(&a->base, b->pushed);
    df__pushed_stats_add(&a->own_read, &b->own_read);
    if (b->pushed->kept) b->pushed = NULL;
    if (st == DF_OK && !(b->pushed = any_range_new(&b->base, 0))) st = df__error(a->ctx, DF_ENOMEM, "out of memory");
    memset(&b->own_read, 0, sizeof b->own_read);
    b->own_read.kind = a->own_read.kind;
    return st;
}

df_status df_density_finish(df_density *d)
{
    density_sink *k = d->push;
    if (!k) return DF_EINVAL;
    df_density *done = NULL;
    /* our own points go first: in the order pushed, then the parts merged */
    df_status st = any_merge(&k->base, k->pushed);
    if (k->pushed->kept) {
        for (int r = k->nrange - 1; r > 0; r--) k->range[r] = k->range[r - 1];
        k->range[0] = k->pushed;
    }
    k->pushed = NULL;
    if (st == DF_OK) st = df__density_sink_compute(k->ctx, &k->base, &d->opts, 0, &done);
    push_free(d);
    if (st == DF_OK) {
        d->info = done->info, d->values = done->values;
        d->stats = done->stats, d->stats_ok = done->stats_ok, d->wkt = done->wkt;
        free(done);
    }
    return st;
}
