/*
 * test_pip.c — the grid point-in-polygon index (pip.c) against independent
 * references:
 *   - random star-shaped polygons (holes, several rings per polygon, overlaps)
 *     against a brute-force even-odd ray test written here;
 *   - shared borders counted exactly once: checkerboards of adjacent squares,
 *     a partition whose borders pass exactly through the grid's cell centres,
 *     and two triangles sharing a diagonal, queried exactly on the borders;
 *   - the real COD-AB ADM2 districts through df_boundaries_locate against GEOS
 *     prepared geometries of an independently read copy of the shapefile.
 */
#include "dfint.h"
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>

#include <gdal.h>
#include <ogr_api.h>

/* ---- deterministic random numbers (splitmix64) --------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rng_unif(void) { return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0); }
static double rng_range(double lo, double hi) { return lo + (hi - lo) * rng_unif(); }
static int rng_int(int n) { return (int)(rng_next() % (uint64_t)n); }

static const double PI = 3.14159265358979323846;

/* ---- a polygon set as the index takes it --------------------------------- */

typedef struct {
    df__ring *rings;
    int nrings, cap_rings;
    int *ring_start; /* npolys + 1 */
    int npolys, cap_polys;
    double (*bbox)[4]; /* per polygon: minx miny maxx maxy */
} pset;

static void pset_begin_poly(pset *s)
{
    if (s->npolys + 2 > s->cap_polys) {
        s->cap_polys = s->cap_polys * 2 + 16;
        s->ring_start = realloc(s->ring_start, (size_t)s->cap_polys * sizeof *s->ring_start);
        s->bbox = realloc(s->bbox, (size_t)s->cap_polys * sizeof *s->bbox);
        if (!s->ring_start || !s->bbox) abort();
    }
    s->ring_start[s->npolys] = s->nrings;
    s->npolys++;
    s->ring_start[s->npolys] = s->nrings;
    double *bb = s->bbox[s->npolys - 1];
    bb[0] = bb[1] = INFINITY, bb[2] = bb[3] = -INFINITY;
}

/* Append a ring (n vertices, closed here) to the last polygon. Takes xy. */
static void pset_add_ring(pset *s, double *xy, int n)
{
    if (s->nrings == s->cap_rings) {
        s->cap_rings = s->cap_rings * 2 + 16;
        s->rings = realloc(s->rings, (size_t)s->cap_rings * sizeof *s->rings);
        if (!s->rings) abort();
    }
    xy[2 * n] = xy[0], xy[2 * n + 1] = xy[1];
    s->rings[s->nrings++] = (df__ring){xy, n + 1};
    s->ring_start[s->npolys] = s->nrings;
    double *bb = s->bbox[s->npolys - 1];
    for (int k = 0; k < n; k++) {
        bb[0] = fmin(bb[0], xy[2 * k]), bb[2] = fmax(bb[2], xy[2 * k]);
        bb[1] = fmin(bb[1], xy[2 * k + 1]), bb[3] = fmax(bb[3], xy[2 * k + 1]);
    }
}

static void pset_free(pset *s)
{
    for (int r = 0; r < s->nrings; r++) free((double *)s->rings[r].xy);
    free(s->rings);
    free(s->ring_start);
    free(s->bbox);
    memset(s, 0, sizeof *s);
}

static df__pip *pset_index(const pset *s)
{
    int zero = 0;
    return df__pip_build(s->rings, s->npolys ? s->ring_start : &zero, s->npolys);
}

/* The same polygons in reverse order (sharing the vertex buffers). */
static df__pip *pset_index_reversed(const pset *s)
{
    df__ring *rings = malloc(((size_t)s->nrings + 1) * sizeof *rings);
    int *start = malloc(((size_t)s->npolys + 1) * sizeof *start);
    int n = 0;
    if (!rings || !start) abort();
    for (int p = s->npolys - 1; p >= 0; p--) {
        start[s->npolys - 1 - p] = n;
        for (int r = s->ring_start[p]; r < s->ring_start[p + 1]; r++) rings[n++] = s->rings[r];
    }
    start[s->npolys] = n;
    df__pip *pip = df__pip_build(rings, start, s->npolys);
    free(rings);
    free(start);
    return pip;
}

/* An index over polygon p alone. */
static df__pip *pset_index_one(const pset *s, int p)
{
    int start[2] = {0, s->ring_start[p + 1] - s->ring_start[p]};
    return df__pip_build(s->rings + s->ring_start[p], start, 1);
}

/* ---- the brute-force reference -------------------------------------------- */

/* Classic even-odd crossing test (W. R. Franklin's pnpoly) over all rings of
 * polygon p, ring edges taken as stored (not canonicalised). */
static int ref_inside(const pset *s, int p, double x, double y)
{
    const double *bb = s->bbox[p];
    if (!(x >= bb[0] && x <= bb[2] && y >= bb[1] && y <= bb[3])) return 0;
    int in = 0;
    for (int r = s->ring_start[p]; r < s->ring_start[p + 1]; r++) {
        const double *v = s->rings[r].xy;
        for (int k = 0; k + 1 < s->rings[r].npoints; k++) {
            double xi = v[2 * k], yi = v[2 * k + 1], xj = v[2 * k + 2], yj = v[2 * k + 3];
            if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) in = !in;
        }
    }
    return in;
}

/* The first polygon containing (x, y), as df__pip_locate promises. */
static int ref_locate(const pset *s, double x, double y)
{
    if (!isfinite(x) || !isfinite(y)) return -1;
    for (int p = 0; p < s->npolys; p++)
        if (ref_inside(s, p, x, y)) return p;
    return -1;
}

static double seg_dist(double ax, double ay, double bx, double by, double px, double py)
{
    double vx = bx - ax, vy = by - ay, wx = px - ax, wy = py - ay;
    double l2 = vx * vx + vy * vy, t = l2 > 0 ? (vx * wx + vy * wy) / l2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return hypot(px - (ax + t * vx), py - (ay + t * vy));
}

/* Distance from (x, y) to the nearest edge of any polygon. */
static double edge_dist(const pset *s, double x, double y)
{
    double d = INFINITY;
    for (int r = 0; r < s->nrings; r++) {
        const double *v = s->rings[r].xy;
        for (int k = 0; k + 1 < s->rings[r].npoints; k++)
            d = fmin(d, seg_dist(v[2 * k], v[2 * k + 1], v[2 * k + 2], v[2 * k + 3], x, y));
    }
    return d;
}

/* ---- random polygons -------------------------------------------------------- */

/* A star-shaped ring around (cx, cy): n vertices at jittered, increasing
 * angles (every angular gap < pi, so the ring is simple and the centre lies
 * in its kernel), radii in [rmin, rmax]. Returns the distance from the centre
 * to the nearest edge (the radius of a disk inside the ring). */
static double add_star(pset *s, double cx, double cy, double rmin, double rmax, int n, int clockwise)
{
    double *xy = malloc((2 * (size_t)n + 2) * sizeof *xy);
    if (!xy) abort();
    double phase = rng_range(0, 2 * PI);
    for (int k = 0; k < n; k++) {
        double a = phase + 2 * PI * (k + 0.4 * rng_unif()) / n;
        if (clockwise) a = -a;
        double r = rng_range(rmin, rmax);
        xy[2 * k] = cx + r * cos(a), xy[2 * k + 1] = cy + r * sin(a);
    }
    double inr = INFINITY;
    for (int k = 0; k < n; k++) {
        int k1 = (k + 1) % n;
        inr = fmin(inr, seg_dist(xy[2 * k], xy[2 * k + 1], xy[2 * k1], xy[2 * k1 + 1], cx, cy));
    }
    pset_add_ring(s, xy, n);
    return inr;
}

static void add_rect(pset *s, double x0, double y0, double x1, double y1, int clockwise)
{
    double *xy = malloc(10 * sizeof *xy);
    if (!xy) abort();
    double c[8] = {x0, y0, x1, y0, x1, y1, x0, y1};
    for (int k = 0; k < 4; k++) {
        int q = clockwise ? (4 - k) % 4 : k;
        xy[2 * k] = c[2 * q], xy[2 * k + 1] = c[2 * q + 1];
    }
    pset_add_ring(s, xy, 4);
}

/* A random configuration of 1..6 polygons in an Iraq-sized window: stars of
 * 3..200 vertices, some with a hole, some with a second component (more
 * rings of the same polygon, possibly overlapping the first: parity rules),
 * some axis-aligned rectangles (horizontal and vertical edges), some with a
 * repeated vertex. Polygons may overlap each other: the first one wins. */
static void random_config(pset *s)
{
    int npolys = 1 + rng_int(6);
    for (int p = 0; p < npolys; p++) {
        pset_begin_poly(s);
        double cx = rng_range(38, 48), cy = rng_range(29, 37);
        double rmax = rng_range(0.05, 3), rmin = rmax * rng_range(0.1, 0.95);
        if (rng_int(100) < 15) {
            add_rect(s, cx - rmax, cy - rmin, cx + rmax, cy + rmin, rng_int(2));
        } else {
            int n = 3 + rng_int(198);
            double inr = add_star(s, cx, cy, rmin, rmax, n, rng_int(2));
            if (rng_int(100) < 10) { /* a repeated vertex: a zero-length edge */
                df__ring *r = &s->rings[s->nrings - 1];
                double *xy = (double *)r->xy;
                xy[2] = xy[0], xy[3] = xy[1];
            }
            if (rng_int(100) < 35 && inr > 1e-3) /* a hole inside the inscribed disk */
                add_star(s, cx, cy, 0.2 * inr, 0.8 * inr, 3 + rng_int(60), rng_int(2));
        }
        if (rng_int(100) < 25) { /* a second component, anywhere */
            double r2 = rng_range(0.02, 1);
            add_star(s, rng_range(38, 48), rng_range(29, 37), 0.3 * r2, r2, 3 + rng_int(100), rng_int(2));
        }
    }
}

/* A query point of one of several kinds, in and around the extent. Returns
 * 1 when the point was put at, on or within 1e-15..1e-1 of a vertex or an
 * edge on purpose, else 0. */
static int random_point(const pset *s, const double ext[4], double *x, double *y)
{
    double w = ext[2] - ext[0], h = ext[3] - ext[1];
    int kind = rng_int(100);
    if (kind < 68) { /* around the extent */
        *x = rng_range(ext[0] - 0.05 * w, ext[2] + 0.05 * w), *y = rng_range(ext[1] - 0.05 * h, ext[3] + 0.05 * h);
    } else if (kind < 73) { /* inside the extent */
        *x = rng_range(ext[0], ext[2]), *y = rng_range(ext[1], ext[3]);
    } else if (kind < 79) { /* exactly on the extent's edges, the max edges most */
        double u = rng_range(ext[0], ext[2]), v = rng_range(ext[1], ext[3]);
        switch (rng_int(6)) {
        case 0:
            *x = ext[2], *y = v;
            break;
        case 1:
            *x = u, *y = ext[3];
            break;
        case 2:
            *x = ext[2], *y = ext[3];
            break;
        case 3:
            *x = ext[2], *y = ext[1];
            break;
        case 4:
            *x = ext[0], *y = v;
            break;
        default:
            *x = u, *y = ext[1];
            break;
        }
    } else if (kind < 84) { /* far outside, or infinite */
        static const double far[] = {1e3, -1e3, 1e12, -1e12, 1e300, -1e300, INFINITY, -INFINITY, 180, -180};
        *x = rng_int(2) ? far[rng_int(10)] : rng_range(ext[0], ext[2]);
        *y = rng_int(2) ? far[rng_int(10)] : rng_range(ext[1], ext[3]);
        if (isfinite(*x) && isfinite(*y) && *x >= ext[0] && *x <= ext[2]) *y = far[rng_int(10)];
    } else if (kind < 86) { /* NaN */
        int which = rng_int(3);
        *x = which != 1 ? NAN : rng_range(ext[0], ext[2]);
        *y = which != 0 ? NAN : rng_range(ext[1], ext[3]);
    } else { /* at or near a vertex (or on the extent's corner vertex) */
        const df__ring *r = &s->rings[rng_int(s->nrings)];
        int k = rng_int(r->npoints);
        double d = kind < 89 ? 0 : pow(10, -rng_range(1, 15)), a = rng_range(0, 2 * PI);
        *x = r->xy[2 * k] + d * cos(a), *y = r->xy[2 * k + 1] + d * sin(a);
        if (kind >= 96 && k + 1 < r->npoints) { /* on an edge, up to rounding */
            double t = rng_unif();
            *x = r->xy[2 * k] + t * (r->xy[2 * k + 2] - r->xy[2 * k]);
            *y = r->xy[2 * k + 1] + t * (r->xy[2 * k + 3] - r->xy[2 * k + 1]);
        }
        return 1;
    }
    return 0;
}

/* Points within this distance of an edge may be classified either way: the
 * index decides them with floating-point orientations, the reference with a
 * floating-point intercept, and the two may round differently there. */
#define NEAR_EDGE 1e-12

TEST(random_polygons_vs_brute_force)
{
    enum { CONFIGS = 50, POINTS = 20480 };
    long compared = 0, agreed = 0, near_edge = 0, near_edge_by_chance = 0, mismatched = 0, inside = 0, special = 0;
    long placed = 0;
    rng_state = 20190603;
    for (int cfg = 0; cfg < CONFIGS; cfg++) {
        pset s = {0};
        random_config(&s);
        df__pip *pip = pset_index(&s);
        EXPECT(pip != NULL);
        if (!pip) {
            pset_free(&s);
            continue;
        }
        double ext[4] = {INFINITY, INFINITY, -INFINITY, -INFINITY};
        for (int p = 0; p < s.npolys; p++) {
            ext[0] = fmin(ext[0], s.bbox[p][0]), ext[1] = fmin(ext[1], s.bbox[p][1]);
            ext[2] = fmax(ext[2], s.bbox[p][2]), ext[3] = fmax(ext[3], s.bbox[p][3]);
        }
        for (int q = 0; q < POINTS; q++) {
            double x, y;
            int on_purpose = random_point(&s, ext, &x, &y);
            placed += on_purpose;
            int got = df__pip_locate(pip, x, y), want = ref_locate(&s, x, y);
            compared++;
            if (!isfinite(x) || !isfinite(y) || x == ext[0] || x == ext[2] || y == ext[1] || y == ext[3]) special++;
            if (want >= 0) inside++;
            if (got == want) {
                agreed++;
            } else if (edge_dist(&s, x, y) < NEAR_EDGE) {
                near_edge++;
                near_edge_by_chance += !on_purpose;
            } else {
                if (++mismatched <= 10)
                    HARNESS_FAIL("config %d point (%.17g, %.17g): index says %d, brute force %d (edge distance %g)",
                                 cfg, x, y, got, want, edge_dist(&s, x, y));
            }
        }
        df__pip_free(pip);
        pset_free(&s);
    }
    printf("  random polygons: %ld points compared (%ld inside a polygon, %ld NaN/infinite/far/on the extent's "
           "edges, %ld put at or near vertices and edges), %ld agree, %ld within %g of an edge and differ "
           "(%ld of them not put there on purpose), %ld mismatches\n",
           compared, inside, special, placed, agreed, near_edge, NEAR_EDGE, near_edge_by_chance, mismatched);
    EXPECT(compared >= 1000000);
    EXPECT_INT(mismatched, 0);
    /* the exclusion concerns only the points put at vertices and on edges */
    EXPECT(near_edge < placed / 2);
    EXPECT(near_edge_by_chance * 100000 < compared);
}

/* Overlapping polygons: the first that contains the point wins, also in the
 * grid cells where an earlier polygon's edge runs through a later polygon's
 * interior (the later one then contains the whole cell). */
TEST(overlapping_polygons_first_wins)
{
    pset s = {0};
    pset_begin_poly(&s);
    add_rect(&s, 0, 0, 1, 1, 0); /* 0: inside 1 */
    pset_begin_poly(&s);
    add_rect(&s, -1, -1, 2, 2, 1); /* 1: contains 0 and most of 2 */
    pset_begin_poly(&s);
    add_star(&s, 1.5, 1.5, 0.4, 0.9, 40, 0); /* 2: crosses 1's corner */
    df__pip *pip = pset_index(&s);
    EXPECT(pip != NULL);
    if (!pip) return;
    long wrong = 0;
    rng_state = 11;
    for (int k = 0; k < 200000; k++) {
        double x = rng_range(-1.2, 2.6), y = rng_range(-1.2, 2.6);
        int want = ref_locate(&s, x, y), got = df__pip_locate(pip, x, y);
        if (got == want || edge_dist(&s, x, y) < NEAR_EDGE) continue;
        if (++wrong <= 10) HARNESS_FAIL("(%.17g, %.17g): index %d, first containing polygon %d", x, y, got, want);
    }
    printf("  overlapping polygons: 200000 points, %ld wrong\n", wrong);
    EXPECT_INT(wrong, 0);
    df__pip_free(pip);
    pset_free(&s);
}

/* An edge passing within rounding distance of a grid cell's centre, but not
 * exactly through it: [0,1]^2 cut in two by the line from (0, y0) to (1, y1)
 * aimed at a cell centre (8 edges over a 1 x 1 extent give a 32 x 32 grid,
 * centres at odd multiples of 1/64). The centre's status and its side of the
 * edge must not disagree: points well away from the line (1e-9 and more)
 * must be on their side of it. */
TEST(edges_grazing_cell_centres)
{
    long configs = 0, grazing = 0, points = 0, wrong = 0;
    rng_state = 99;
    for (int t = 0; t < 20000; t++) {
        int ci = rng_int(32), cj = 1 + rng_int(30);
        double cx = (2 * ci + 1) / 64.0, cy = (2 * cj + 1) / 64.0;
        double y0 = rng_range(0.02, 0.98), y1 = y0 + (cy - y0) / cx;
        if (!(y1 > 0.01 && y1 < 0.99)) continue;
        configs++;
        double oc = (1.0 - 0) * (cy - y0) - (y1 - y0) * (cx - 0);
        grazing += oc != 0 && fabs(oc) < 1e-15;
        pset s = {0};
        double *lo = malloc(10 * sizeof *lo), *hi = malloc(10 * sizeof *hi);
        if (!lo || !hi) abort();
        double a[8] = {0, 0, 1, 0, 1, y1, 0, y0}, b[8] = {0, y0, 1, y1, 1, 1, 0, 1};
        memcpy(lo, a, sizeof a), memcpy(hi, b, sizeof b);
        pset_begin_poly(&s);
        pset_add_ring(&s, lo, 4);
        pset_begin_poly(&s);
        pset_add_ring(&s, hi, 4);
        df__pip *pip = pset_index(&s);
        EXPECT(pip != NULL);
        if (!pip) return;
        for (int q = 0; q < 50; q++) { /* in and around the centre's cell */
            double x = cx + rng_range(-1, 1) / 64.0, y = cy + rng_range(-1, 1) / 64.0;
            double o = (1.0 - 0) * (y - y0) - (y1 - y0) * (x - 0); /* > 0: above the line, polygon 1 */
            if (fabs(o) < 1e-9) continue;
            points++;
            int want = o > 0, got = df__pip_locate(pip, x, y);
            if (got != want && ++wrong <= 10)
                HARNESS_FAIL("line (0, %.17g)-(1, %.17g) by centre (%g, %g): (%.17g, %.17g) in %d, want %d", y0, y1, cx,
                             cy, x, y, got, want);
        }
        df__pip_free(pip);
        pset_free(&s);
    }
    printf("  edges aimed at cell centres: %ld partitions (%ld passing within 1e-15 of the centre, not through "
           "it), %ld points, %ld wrong\n",
           configs, grazing, points, wrong);
    EXPECT_INT(wrong, 0);
}

/* Degenerate inputs: no polygons, polygons without rings, a single point. */
TEST(degenerate_inputs)
{
    int start0[1] = {0};
    df__pip *pip = df__pip_build(NULL, start0, 0);
    EXPECT(pip != NULL);
    if (pip) {
        EXPECT_INT(df__pip_locate(pip, 0, 0), -1);
        EXPECT_INT(df__pip_locate(pip, NAN, 1), -1);
        df__pip_free(pip);
    }
    pset s = {0};
    pset_begin_poly(&s); /* polygon 0: no rings */
    pset_begin_poly(&s); /* polygon 1: a square */
    add_rect(&s, 44, 33, 45, 34, 0);
    pset_begin_poly(&s); /* polygon 2: no rings */
    pip = pset_index(&s);
    EXPECT(pip != NULL);
    if (pip) {
        EXPECT_INT(df__pip_locate(pip, 44.5, 33.5), 1);
        EXPECT_INT(df__pip_locate(pip, 45.5, 33.5), -1);
        EXPECT_INT(df__pip_locate(pip, 44.5, NAN), -1);
        df__pip_free(pip);
    }
    pset_free(&s);
    df__pip_free(NULL);
}

/* ---- shared borders ------------------------------------------------------- */

typedef struct {
    long points, interior, boundary, reversed_same;
    long bad;
} border_stats;

/* Check point (x, y) against the combined index, the reversed one and the
 * per-polygon indexes. touches(p) says whether polygon p's closure holds the
 * point; strictly_inside says whether it is inside the union (not on its
 * outer boundary). Every index decides a border point by the same half-open
 * ray rule, so exactly one polygon claims an interior point, and the
 * combined index must answer that polygon. */
static void check_border_point(const pset *s, df__pip *all, df__pip *rev, df__pip **one, double x, double y,
                               const int *touch, int ntouch, int strictly_inside, border_stats *st, const char *what)
{
    int a = df__pip_locate(all, x, y), a2 = df__pip_locate(all, x, y);
    int r = df__pip_locate(rev, x, y);
    r = r < 0 ? -1 : s->npolys - 1 - r;
    int claims = 0, claimer = -1;
    for (int k = 0; k < ntouch; k++) {
        if (df__pip_locate(one[touch[k]], x, y) == 0) claims++, claimer = touch[k];
    }
    int in_a = 0, in_r = 0;
    for (int k = 0; k < ntouch; k++) in_a |= a == touch[k], in_r |= r == touch[k];
    st->points++;
    if (strictly_inside)
        st->interior++;
    else
        st->boundary++;
    st->reversed_same += a == r;
    int ok = a == a2 && a == claimer && claims <= 1;
    if (strictly_inside)
        ok = ok && claims == 1 && in_a && in_r;
    else
        ok = ok && (a == -1 || in_a) && (r == -1 || in_r);
    if (!ok && ++st->bad <= 10)
        HARNESS_FAIL("%s (%.17g, %.17g): index %d (again %d), reversed %d, %d per-polygon claims (%d), "
                     "touching %d polygons, %s",
                     what, x, y, a, a2, r, claims, claimer, ntouch,
                     strictly_inside ? "inside" : "on the outer boundary");
}

/* A checkerboard of n x n adjacent squares of the given side, each its own
 * polygon (square (i, j) is polygon j*n + i; alternate squares wound the
 * other way), sharing edges and vertices bit for bit. */
static void checkerboard(pset *s, int n, double x0, double y0, double side, double *X, double *Y)
{
    for (int i = 0; i <= n; i++) X[i] = x0 + i * side, Y[i] = y0 + i * side;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) {
            pset_begin_poly(s);
            add_rect(s, X[i], Y[j], X[i + 1], Y[j + 1], (i + j) & 1);
        }
}

/* The squares whose closure holds (x, y). */
static int touching_squares(int n, const double *X, const double *Y, double x, double y, int *touch)
{
    int nt = 0;
    for (int j = 0; j < n; j++) {
        if (y < Y[j] || y > Y[j + 1]) continue;
        for (int i = 0; i < n; i++)
            if (x >= X[i] && x <= X[i + 1]) touch[nt++] = j * n + i;
    }
    return nt;
}

TEST(checkerboard_shared_borders)
{
    static const struct {
        int n;
        double x0, y0, side;
    } boards[] = {{16, 0, 0, 1}, {7, 40, 30, 1}, {10, 38.3, 29.7, 0.1}, {5, -1, 2, 1 / 3.0}, {3, 44, 33, 0.7}};
    border_stats st = {0};
    rng_state = 7;
    for (size_t bi = 0; bi < sizeof boards / sizeof boards[0]; bi++) {
        int n = boards[bi].n;
        double X[17], Y[17];
        pset s = {0};
        checkerboard(&s, n, boards[bi].x0, boards[bi].y0, boards[bi].side, X, Y);
        df__pip *all = pset_index(&s), *rev = pset_index_reversed(&s);
        df__pip **one = calloc((size_t)s.npolys, sizeof *one);
        EXPECT(all && rev && one);
        if (!all || !rev || !one) return;
        for (int p = 0; p < s.npolys; p++) one[p] = pset_index_one(&s, p);
        int touch[4];
#define CHECK_AT(px, py, what)                                                                                         \
    do {                                                                                                               \
        double x_ = (px), y_ = (py);                                                                                   \
        int nt_ = touching_squares(n, X, Y, x_, y_, touch);                                                            \
        int in_ = x_ > X[0] && x_ < X[n] && y_ > Y[0] && y_ < Y[n];                                                    \
        check_border_point(&s, all, rev, one, x_, y_, touch, nt_, in_, &st, what);                                     \
    } while (0)
        /* every vertex of the grid: shared by up to four squares */
        for (int j = 0; j <= n; j++)
            for (int i = 0; i <= n; i++) CHECK_AT(X[i], Y[j], "grid vertex");
        /* exactly on the edges: the vertex coordinate across, anything along */
        for (int k = 0; k < 4000; k++) {
            int i = rng_int(n + 1), j = rng_int(n);
            double t = k % 4 == 0 ? 0.5 : k % 4 == 1 ? rng_int(1024) / 1024.0 : rng_unif();
            double along = Y[j] + t * (Y[j + 1] - Y[j]);
            CHECK_AT(X[i], along, "vertical edge");
            along = X[j] + t * (X[j + 1] - X[j]);
            CHECK_AT(along, Y[i], "horizontal edge");
        }
        /* inside the squares */
        for (int k = 0; k < 4000; k++) {
            int i = rng_int(n), j = rng_int(n);
            double x = X[i] + rng_range(0.001, 0.999) * (X[i + 1] - X[i]);
            double y = Y[j] + rng_range(0.001, 0.999) * (Y[j + 1] - Y[j]);
            CHECK_AT(x, y, "inside a square");
        }
#undef CHECK_AT
        for (int p = 0; p < s.npolys; p++) df__pip_free(one[p]);
        free(one);
        df__pip_free(all);
        df__pip_free(rev);
        pset_free(&s);
    }
    printf("  checkerboards: %ld points on and off shared borders (%ld inside the union, %ld on its outer boundary), "
           "%ld answered alike in reversed order, %ld wrong\n",
           st.points, st.interior, st.boundary, st.reversed_same, st.bad);
    EXPECT_INT(st.bad, 0);
}

/* Four rectangles partition [0,1]^2, split at x = 17/64 and y = 33/64. The
 * index has 16 edges over a 1 x 1 extent, so its grid is 32 x 32 cells with
 * centres at odd multiples of 1/64: the borders run exactly through cell
 * centres (the centre's own status is then on a border). */
TEST(borders_through_cell_centres)
{
    const double sx = 17 / 64.0, sy = 33 / 64.0;
    const double X[3] = {0, sx, 1}, Y[3] = {0, sy, 1};
    pset s = {0};
    for (int j = 0; j < 2; j++)
        for (int i = 0; i < 2; i++) {
            pset_begin_poly(&s);
            add_rect(&s, X[i], Y[j], X[i + 1], Y[j + 1], i);
        }
    df__pip *all = pset_index(&s), *rev = pset_index_reversed(&s), *one[4];
    EXPECT(all && rev);
    if (!all || !rev) return;
    for (int p = 0; p < 4; p++) one[p] = pset_index_one(&s, p);
    border_stats st = {0};
    long wrong_inside = 0, inside_points = 0;
    rng_state = 17;
    for (int k = 0; k < 200000; k++) {
        double x, y;
        int kind = k % 4;
        if (kind == 0)
            x = sx, y = rng_unif(); /* on the vertical border */
        else if (kind == 1)
            x = rng_unif(), y = sy; /* on the horizontal border */
        else if (kind == 2)
            x = sx + rng_range(-1, 1) * pow(2, -rng_range(4, 52)), y = rng_unif(); /* beside it */
        else
            x = rng_unif(), y = sy + rng_range(-1, 1) * pow(2, -rng_range(4, 52));
        if (k % 1000 == 0) x = sx, y = sy; /* the shared vertex */
        int touch[4], nt = 0;
        for (int j = 0; j < 2; j++)
            for (int i = 0; i < 2; i++)
                if (x >= X[i] && x <= X[i + 1] && y >= Y[j] && y <= Y[j + 1]) touch[nt++] = j * 2 + i;
        if (nt == 1) { /* not on a border: the exact answer is known */
            inside_points++;
            int got = df__pip_locate(all, x, y);
            if (got != touch[0] && ++wrong_inside <= 10)
                HARNESS_FAIL("(%.17g, %.17g): index %d, want %d", x, y, got, touch[0]);
            continue;
        }
        int strictly = x > 0 && x < 1 && y > 0 && y < 1;
        check_border_point(&s, all, rev, one, x, y, touch, nt, strictly, &st, "border through centres");
    }
    printf("  borders through cell centres: %ld points off the borders (%ld wrong), %ld on them (%ld wrong)\n",
           inside_points, wrong_inside, st.points, st.bad);
    EXPECT_INT(wrong_inside, 0);
    EXPECT_INT(st.bad, 0);
    for (int p = 0; p < 4; p++) df__pip_free(one[p]);
    df__pip_free(all);
    df__pip_free(rev);
    pset_free(&s);
}

/* Two triangles sharing a diagonal: a rectangle (x0, y0) + [0, w] x [0, h]
 * cut from corner to corner. Points on the diagonal are computed as exact
 * binary fractions (x0 + t*w, y0 + t*h with t = k / 2^20 and w, h small
 * integers), so they lie exactly on it. */
TEST(triangles_sharing_a_diagonal)
{
    static const double shapes[][4] = {{0, 0, 1, 1}, {40, 30, 1, 1}, {40, 30, 3, 1}, {-8, 2, 5, 7}, {44, 33, 1, 6}};
    border_stats st = {0};
    long off = 0, off_wrong = 0;
    rng_state = 3;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        double x0 = shapes[si][0], y0 = shapes[si][1], w = shapes[si][2], h = shapes[si][3];
        pset s = {0};
        double *t0 = malloc(8 * sizeof *t0), *t1 = malloc(8 * sizeof *t1);
        if (!t0 || !t1) abort();
        double a0[6] = {x0, y0, x0 + w, y0, x0 + w, y0 + h}, a1[6] = {x0, y0, x0 + w, y0 + h, x0, y0 + h};
        memcpy(t0, a0, sizeof a0), memcpy(t1, a1, sizeof a1);
        pset_begin_poly(&s);
        pset_add_ring(&s, t0, 3);
        pset_begin_poly(&s);
        pset_add_ring(&s, t1, 3);
        df__pip *all = pset_index(&s), *rev = pset_index_reversed(&s), *one[2];
        EXPECT(all && rev);
        if (!all || !rev) return;
        for (int p = 0; p < 2; p++) one[p] = pset_index_one(&s, p);
        int both[2] = {0, 1};
        for (int k = 0; k <= (1 << 20); k += 1 + (k % 7 == 0 ? 0 : rng_int(64))) {
            double t = k / 1048576.0, x = x0 + t * w, y = y0 + t * h;
            int strictly = k > 0 && k < (1 << 20);
            check_border_point(&s, all, rev, one, x, y, both, 2, strictly, &st, "on the diagonal");
        }
        for (int k = 0; k < 20000; k++) { /* off the diagonal: the side of it decides */
            double x = x0 + rng_unif() * w, y = y0 + rng_unif() * h;
            double o = w * (y - y0) - h * (x - x0); /* > 0: above the diagonal, triangle 1 */
            if (fabs(o) < 1e-9) continue;
            off++;
            int want = o > 0 ? 1 : 0, got = df__pip_locate(all, x, y);
            if (got != want && ++off_wrong <= 10) HARNESS_FAIL("(%.17g, %.17g): index %d, want %d", x, y, got, want);
        }
        for (int p = 0; p < 2; p++) df__pip_free(one[p]);
        df__pip_free(all);
        df__pip_free(rev);
        pset_free(&s);
    }
    printf("  triangles: %ld points exactly on shared diagonals (%ld wrong), %ld beside them (%ld wrong)\n", st.points,
           st.bad, off, off_wrong);
    EXPECT_INT(st.bad, 0);
    EXPECT_INT(off_wrong, 0);
}

/* ---- real data: COD-AB districts against GEOS ------------------------------ */

#define ADM2_SHP SHARED_DATA "/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm2_cso_20190603.shp"

typedef struct {
    char pcode[64];
    GEOSGeometry *geom;
    const GEOSPreparedGeometry *prep;
    double env[4];
} ref_unit;

/* Append every vertex of an OGR geometry (any nesting) to *verts. */
static void collect_vertices(OGRGeometryH g, double **verts, long *nverts, long *vcap)
{
    if (OGR_G_GetGeometryCount(g) > 0) {
        for (int part = 0; part < OGR_G_GetGeometryCount(g); part++)
            collect_vertices(OGR_G_GetGeometryRef(g, part), verts, nverts, vcap);
        return;
    }
    for (int v = 0; v < OGR_G_GetPointCount(g); v++) {
        if (*nverts == *vcap) {
            *vcap *= 2;
            *verts = realloc(*verts, (size_t)*vcap * 2 * sizeof **verts);
            if (!*verts) abort();
        }
        (*verts)[2 * *nverts] = OGR_G_GetX(g, v), (*verts)[2 * *nverts + 1] = OGR_G_GetY(g, v);
        ++*nverts;
    }
}

/* Read the shapefile with OGR (no dispflow code involved), one GEOS geometry
 * per feature through WKB. Returns the number of units or -1. */
static int read_reference(GEOSContextHandle_t h, const char *path, ref_unit **out, double ext[4], double **verts,
                          long *nverts)
{
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!ds) return -1;
    OGRLayerH layer = GDALDatasetGetLayer(ds, 0);
    OGREnvelope e;
    OGR_L_GetExtent(layer, &e, 1);
    ext[0] = e.MinX, ext[1] = e.MinY, ext[2] = e.MaxX, ext[3] = e.MaxY;
    int n = (int)OGR_L_GetFeatureCount(layer, 1), k = 0,
        ipc = OGR_FD_GetFieldIndex(OGR_L_GetLayerDefn(layer), "ADM2_PCODE");
    ref_unit *u = calloc((size_t)n + 1, sizeof *u);
    long vcap = 1 << 16;
    *verts = malloc((size_t)vcap * 2 * sizeof **verts), *nverts = 0;
    if (!u || !*verts) abort();
    OGRFeatureH f;
    OGR_L_ResetReading(layer);
    while ((f = OGR_L_GetNextFeature(layer)) != NULL && k < n) {
        snprintf(u[k].pcode, sizeof u[k].pcode, "%s", OGR_F_GetFieldAsString(f, ipc));
        OGRGeometryH g = OGR_F_GetGeometryRef(f);
        size_t sz = (size_t)OGR_G_WkbSize(g);
        unsigned char *wkb = malloc(sz);
        if (!wkb || OGR_G_ExportToWkb(g, wkbNDR, wkb) != OGRERR_NONE) abort();
        u[k].geom = GEOSGeomFromWKB_buf_r(h, wkb, sz);
        free(wkb);
        if (!u[k].geom) abort();
        u[k].prep = GEOSPrepare_r(h, u[k].geom);
        GEOSGeom_getXMin_r(h, u[k].geom, &u[k].env[0]);
        GEOSGeom_getYMin_r(h, u[k].geom, &u[k].env[1]);
        GEOSGeom_getXMax_r(h, u[k].geom, &u[k].env[2]);
        GEOSGeom_getYMax_r(h, u[k].geom, &u[k].env[3]);
        collect_vertices(g, verts, nverts, &vcap); /* for points clustered near the borders */
        OGR_F_Destroy(f);
        k++;
    }
    GDALClose(ds);
    *out = u;
    return k;
}

TEST(real_districts_vs_geos)
{
    NEED_FILE(ADM2_SHP);
    df_ctx *ctx = df_ctx_new();
    df_boundary_opts opts;
    df_boundary_opts_init(&opts);
    opts.path = ADM2_SHP;
    opts.level = 2;
    df_boundaries *b = NULL;
    df_status st = df_boundaries_load(ctx, &opts, &b);
    EXPECT_INT(st, DF_OK);
    if (st != DF_OK) {
        printf("  %s\n", df_ctx_errmsg(ctx));
        df_ctx_free(ctx);
        return;
    }

    GEOSContextHandle_t h = GEOS_init_r();
    ref_unit *ref = NULL;
    double ext[4] = {0, 0, 0, 0}, *verts = NULL;
    long nverts = 0;
    int nref = read_reference(h, ADM2_SHP, &ref, ext, &verts, &nverts);
    int nunits = df_boundaries_count(b, 2);
    EXPECT_INT(nunits, nref);
    /* engine unit index -> reference unit, by P-code */
    int *to_ref = malloc(((size_t)nunits + 1) * sizeof *to_ref);
    if (!to_ref) abort();
    for (int i = 0; i < nunits; i++) {
        to_ref[i] = -1;
        for (int k = 0; k < nref; k++)
            if (strcmp(df_boundaries_unit(b, 2, i)->pcode, ref[k].pcode) == 0) to_ref[i] = k;
        if (to_ref[i] < 0) HARNESS_FAIL("unit %d (%s) is not in the reference", i, df_boundaries_unit(b, 2, i)->pcode);
    }
    GEOSGeometry *uni = NULL;
    const GEOSPreparedGeometry *uni_prep = NULL;

    enum { UNIFORM = 200000, CLUSTERED = 100000 };
    long n_inside = 0, n_outside = 0, n_border = 0, n_border_outer = 0, n_overlap = 0;
    long bad_inside = 0, bad_outside = 0, bad_border = 0, bad_overlap = 0;
    rng_state = 101;
    for (long q = 0; q < UNIFORM + CLUSTERED; q++) {
        double x, y;
        if (q < UNIFORM) {
            x = rng_range(ext[0], ext[2]), y = rng_range(ext[1], ext[3]);
        } else { /* near a random boundary vertex: on it, or 1e-11 to 1e-1 degrees off */
            long v = (long)(rng_next() % (uint64_t)nverts);
            double d = rng_int(10) == 0 ? 0 : pow(10, -rng_range(1, 11)), a = rng_range(0, 2 * PI);
            x = verts[2 * v] + d * cos(a), y = verts[2 * v + 1] + d * sin(a);
        }
        GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(h, x, y);
        int contains[8], ncont = 0, touches[8], ntouch = 0;
        for (int k = 0; k < nref; k++) {
            if (x < ref[k].env[0] || x > ref[k].env[2] || y < ref[k].env[1] || y > ref[k].env[3]) continue;
            if (GEOSPreparedContains_r(h, ref[k].prep, pt) == 1) {
                if (ncont < 8) contains[ncont++] = k;
            } else if (GEOSPreparedIntersects_r(h, ref[k].prep, pt) == 1) {
                if (ntouch < 8) touches[ntouch++] = k;
            }
        }
        int got = df_boundaries_locate(b, 2, x, y), got_ref = got >= 0 && got < nunits ? to_ref[got] : -1;
        const char *got_pcode = got >= 0 ? df_boundaries_unit(b, 2, got)->pcode : "(none)";
        if (ncont == 1 && ntouch == 0) { /* strictly inside exactly one unit */
            n_inside++;
            if (got_ref != contains[0] && ++bad_inside <= 10)
                HARNESS_FAIL("(%.17g, %.17g) is inside %s only: located in %s", x, y, ref[contains[0]].pcode,
                             got_pcode);
        } else if (ncont == 0 && ntouch == 0) { /* outside all units */
            n_outside++;
            if (got != -1 && ++bad_outside <= 10)
                HARNESS_FAIL("(%.17g, %.17g) is outside every unit: located in %s", x, y, got_pcode);
        } else if (ncont == 0) { /* on a border: one of the units it touches */
            n_border++;
            int ok = 0;
            for (int k = 0; k < ntouch; k++) ok |= got_ref == touches[k];
            if (!ok && got == -1) {
                /* -1 is right only on the outer boundary of the union */
                if (!uni) {
                    GEOSGeometry **parts = malloc((size_t)nref * sizeof *parts);
                    if (!parts) abort();
                    for (int k = 0; k < nref; k++) parts[k] = GEOSGeom_clone_r(h, ref[k].geom);
                    GEOSGeometry *coll = GEOSGeom_createCollection_r(h, GEOS_GEOMETRYCOLLECTION, parts, (unsigned)nref);
                    free(parts);
                    uni = GEOSUnaryUnion_r(h, coll);
                    GEOSGeom_destroy_r(h, coll);
                    if (!uni) abort();
                    uni_prep = GEOSPrepare_r(h, uni);
                }
                ok = GEOSPreparedContains_r(h, uni_prep, pt) != 1;
                n_border_outer += ok;
            }
            if (!ok && ++bad_border <= 10)
                HARNESS_FAIL("(%.17g, %.17g) is on the border of %d units (%s...): located in %s", x, y, ntouch,
                             ref[touches[0]].pcode, got_pcode);
        } else { /* inside one unit and touching or inside others: overlapping units */
            n_overlap++;
            int ok = 0;
            for (int k = 0; k < ncont; k++) ok |= got_ref == contains[k];
            for (int k = 0; k < ntouch; k++) ok |= got_ref == touches[k];
            if (!ok && ++bad_overlap <= 10)
                HARNESS_FAIL("(%.17g, %.17g) is inside %d units and on %d: located in %s", x, y, ncont, ntouch,
                             got_pcode);
        }
        GEOSGeom_destroy_r(h, pt);
    }
    printf("  COD-AB ADM2 vs GEOS: %d points compared (%d uniform in the bbox, %d near boundary vertices)\n",
           UNIFORM + CLUSTERED, UNIFORM, CLUSTERED);
    printf("    strictly inside one unit: %ld (%ld mismatches)\n", n_inside, bad_inside);
    printf("    outside every unit:       %ld (%ld mismatches)\n", n_outside, bad_outside);
    printf("    on a border:              %ld (%ld mismatches; %ld on the outer boundary answered -1)\n", n_border,
           bad_border, n_border_outer);
    printf("    inside overlapping units: %ld (%ld mismatches)\n", n_overlap, bad_overlap);
    EXPECT_INT(bad_inside, 0);
    EXPECT_INT(bad_outside, 0);
    EXPECT_INT(bad_border, 0);
    EXPECT_INT(bad_overlap, 0);
    EXPECT(n_inside > 150000);
    EXPECT(n_border > 0);

    if (uni_prep) GEOSPreparedGeom_destroy_r(h, uni_prep);
    if (uni) GEOSGeom_destroy_r(h, uni);
    for (int k = 0; k < nref; k++) {
        GEOSPreparedGeom_destroy_r(h, ref[k].prep);
        GEOSGeom_destroy_r(h, ref[k].geom);
    }
    free(ref);
    free(verts);
    free(to_ref);
    GEOS_finish_r(h);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

int main(void)
{
    RUN(random_polygons_vs_brute_force);
    RUN(overlapping_polygons_first_wins);
    RUN(degenerate_inputs);
    RUN(checkerboard_shared_borders);
    RUN(borders_through_cell_centres);
    RUN(triangles_sharing_a_diagonal);
    RUN(edges_grazing_cell_centres);
    RUN(real_districts_vs_geos);
    return harness_done();
}
