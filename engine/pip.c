/*
 * pip.c — point-in-polygon through a uniform grid, built once.
 *
 * Each grid cell is either pure (no polygon edge comes near it: the answer
 * is the polygon containing its centre, or none) or mixed. A mixed cell
 * lists its candidate polygons, the edges of each that touch the cell, and
 * whether the cell's centre C is inside each. A point P in a mixed cell is
 * inside a candidate when C's status, flipped once per edge that the segment
 * P–C crosses, says so. Pure cells cost one array read; mixed cells a few
 * orientation tests; nothing is allocated per point.
 *
 * Consistency on shared borders: every edge is stored with its endpoints in
 * lexicographic order, so two polygons that share an edge compute
 * bit-identical orientations and intercepts for it, and a point exactly on a
 * shared border lands in exactly one of them. When P touches an edge or C's
 * segment passes through a vertex (an exact zero orientation), the query
 * falls back to the even-odd ray test over the candidates' full rings, which
 * uses the same canonical edges; so does every query in a cell whose centre
 * lies within rounding of an edge (C's status could contradict the sign of
 * its orientation). Overlapping polygons: the first wins.
 */
#include "df_geo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double ax, ay, bx, by; /* (ax, ay) < (bx, by) lexicographically */
} pip_edge;

typedef struct {
    int poly;
    int center_inside;          /* 1, 0, or -1: C is too near an edge here to tell */
    int edge_start, edge_count; /* into pip->cell_edges */
} pip_cand;

struct df__pip {
    double x0, y0, dx, dy, inv_dx, inv_dy;
    int nx, ny;
    int32_t *cell;    /* >= 0 pure polygon, -1 none, <= -2 mixed entry (-2 - m) */
    int *mixed_start; /* candidates of mixed cell m: [mixed_start[m], mixed_start[m+1]) */
    pip_cand *cands;
    pip_edge *cell_edges;
    int npolys;
    pip_edge *edges; /* all edges of polygon k: [edge_start[k], edge_start[k+1]) */
    int *edge_start;
};

static pip_edge make_edge(double x1, double y1, double x2, double y2)
{
    pip_edge e;
    if (x1 < x2 || (x1 == x2 && y1 < y2))
        e = (pip_edge){x1, y1, x2, y2};
    else
        e = (pip_edge){x2, y2, x1, y1};
    return e;
}

static inline double orient(double ax, double ay, double bx, double by, double px, double py)
{
    return (bx - ax) * (py - ay) - (by - ay) * (px - ax);
}

/* Even-odd ray test of (x, y) against one polygon's edges. */
static int ray_inside(const pip_edge *e, int n, double x, double y)
{
    int inside = 0;
    for (int k = 0; k < n; k++) {
        if ((e[k].ay > y) != (e[k].by > y)) {
            double xi = e[k].ax + (y - e[k].ay) * (e[k].bx - e[k].ax) / (e[k].by - e[k].ay);
            if (x < xi) inside = !inside;
        }
    }
    return inside;
}

/* ---- build ----------------------------------------------------------------- */

typedef struct {
    int poly;
    double x;
} crossing;

static int cmp_crossing(const void *a, const void *b)
{
    const crossing *p = a, *q = b;
    if (p->poly != q->poly) return p->poly < q->poly ? -1 : 1;
    return (p->x > q->x) - (p->x < q->x);
}

typedef struct {
    int cell, poly, edge;
} cell_entry;

/* Sort entries by cell, keeping their (polygon, edge) order within a cell:
 * an LSD radix sort, stable, three passes of 9 bits (cells < 2^27). Returns
 * the sorted array (the other buffer is freed) or NULL. */
static cell_entry *sort_by_cell(cell_entry *e, size_t n)
{
    cell_entry *tmp = df__malloc((n ? n : 1) * sizeof *tmp);
    if (!tmp) return NULL;
    for (int shift = 0; shift < 27; shift += 9) {
        size_t count[513] = {0};
        for (size_t i = 0; i < n; i++) count[((unsigned)e[i].cell >> shift & 511) + 1]++;
        for (int k = 0; k < 512; k++) count[k + 1] += count[k];
        for (size_t i = 0; i < n; i++) tmp[count[(unsigned)e[i].cell >> shift & 511]++] = e[i];
        cell_entry *t = e;
        e = tmp, tmp = t;
    }
    free(tmp);
    return e;
}

/* Is the centre of cell (i, j) inside polygon p? Uses the row's crossings,
 * sorted by (poly, x): inside when an odd number lie at or left of cx. */
static int center_inside(const crossing *row, int n, int p, double cx)
{
    int lo = 0, hi = n;
    while (lo < hi) { /* first crossing of polygon p */
        int mid = (lo + hi) / 2;
        if (row[mid].poly < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    int count = 0;
    for (int k = lo; k < n && row[k].poly == p && row[k].x <= cx; k++) count++;
    return count & 1;
}

/* Is the cell centre C so near the edge's line that its status, taken from
 * the row's rounded intercepts, and the sign of its orientation at query time
 * may disagree? (Within ~1e-12 of the coordinates' magnitude.) */
static int center_near_edge(const pip_edge *e, double cx, double cy)
{
    double o = orient(e->ax, e->ay, e->bx, e->by, cx, cy);
    double len = fabs(e->bx - e->ax) + fabs(e->by - e->ay);
    return fabs(o) <= 1e-12 * (1 + fabs(cx) + fabs(cy)) * len;
}

/* Has polygon p an edge among the cell's entries [a, a_end) (sorted by poly)? */
static int has_entries(const cell_entry *e, size_t a, size_t a_end, int p)
{
    for (; a < a_end && e[a].poly <= p; a++)
        if (e[a].poly == p) return 1;
    return 0;
}

/* The first polygon after `after` that contains the centre cx of a cell (by
 * the row's crossings) and has no edge in the cell, or -1. */
static int next_fill(const crossing *row, int n, double cx, int after, const cell_entry *e, size_t a, size_t a_end)
{
    for (int g0 = 0, g1; g0 < n; g0 = g1) {
        int p = row[g0].poly, count = 0;
        for (g1 = g0; g1 < n && row[g1].poly == p; g1++) count += row[g1].x <= cx;
        if (p > after && (count & 1) && !has_entries(e, a, a_end, p)) return p;
    }
    return -1;
}

/* Step 1 of the build: the canonical edges of each polygon, and their extent
 * (ext: minx, miny, maxx, maxy). Returns the number of edges, -1 out of memory. */
static long build_edges(df__pip *pip, const df__ring *rings, const int *ring_start, int npolys, double ext[4])
{
    size_t nedges = 0;
    double minx = INFINITY, miny = INFINITY, maxx = -INFINITY, maxy = -INFINITY;
    for (int r = 0; r < ring_start[npolys]; r++) nedges += rings[r].npoints > 1 ? (size_t)rings[r].npoints - 1 : 0;
    pip->edges = df__malloc((nedges ? nedges : 1) * sizeof *pip->edges);
    pip->edge_start = df__malloc(((size_t)npolys + 1) * sizeof *pip->edge_start);
    if (!pip->edges || !pip->edge_start) return -1;
    size_t ne = 0;
    for (int p = 0; p < npolys; p++) {
        pip->edge_start[p] = (int)ne;
        for (int r = ring_start[p]; r < ring_start[p + 1]; r++) {
            const double *xy = rings[r].xy;
            for (int k = 0; k + 1 < rings[r].npoints; k++) {
                pip_edge e = make_edge(xy[2 * k], xy[2 * k + 1], xy[2 * k + 2], xy[2 * k + 3]);
                if (e.ax == e.bx && e.ay == e.by) continue; /* repeated vertex */
                pip->edges[ne++] = e;
                minx = fmin(minx, e.ax), maxx = fmax(maxx, e.bx);
                miny = fmin(miny, fmin(e.ay, e.by)), maxy = fmax(maxy, fmax(e.ay, e.by));
            }
        }
    }
    pip->edge_start[npolys] = (int)ne;
    ext[0] = minx, ext[1] = miny, ext[2] = maxx, ext[3] = maxy;
    return (long)ne;
}

/* Step 2: the grid: about 64 cells per edge (few edges per mixed cell), at
 * most 4M cells (16 MB), every cell empty (-1). 0 ok, -1 out of memory. */
static int build_grid(df__pip *pip, const double ext[4], size_t ne)
{
    double w = ext[2] - ext[0], h = ext[3] - ext[1];
    if (w <= 0) w = 1e-9;
    if (h <= 0) h = 1e-9;
    double target = fmin(fmax(64.0 * (double)ne, 1024.0), 4194304.0);
    double size = sqrt(w * h / target);
    pip->nx = (int)fmin(fmax(ceil(w / size), 1), 8192);
    pip->ny = (int)fmin(fmax(ceil(h / size), 1), 8192);
    pip->x0 = ext[0], pip->y0 = ext[1];
    pip->dx = w / pip->nx, pip->dy = h / pip->ny;
    pip->inv_dx = 1.0 / pip->dx, pip->inv_dy = 1.0 / pip->dy;
    size_t ncells = (size_t)pip->nx * (size_t)pip->ny;
    pip->cell = df__malloc(ncells * sizeof *pip->cell);
    if (!pip->cell) return -1;
    for (size_t c = 0; c < ncells; c++) pip->cell[c] = -1;
    return 0;
}

/* Step 3: the crossings of each row's centre line, by row (two passes:
 * count, fill), sorted by (polygon, x): row j's are (*cross)[row_start[j] ..
 * row_start[j + 1]). Half-open rule as in ray_inside. 0 ok, -1 out of memory. */
static int build_crossings(const df__pip *pip, int npolys, int *row_start, crossing **cross)
{
    double miny = pip->y0;
    int *row_fill = calloc((size_t)pip->ny, sizeof *row_fill);
    if (!row_fill) return -1;
    for (int pass = 0; pass < 2; pass++) {
        for (int p = 0; p < npolys; p++) {
            for (int k = pip->edge_start[p]; k < pip->edge_start[p + 1]; k++) {
                const pip_edge *e = &pip->edges[k];
                double lo = fmin(e->ay, e->by), hi = fmax(e->ay, e->by);
                int j0 = (int)fmax(floor((lo - miny) / pip->dy - 0.5) - 1, 0);
                int j1 = (int)fmin(ceil((hi - miny) / pip->dy - 0.5) + 1, pip->ny - 1);
                for (int j = j0; j <= j1; j++) {
                    double yc = miny + (j + 0.5) * pip->dy;
                    if ((e->ay > yc) == (e->by > yc)) continue;
                    if (pass == 0) {
                        row_start[j + 1]++;
                    } else {
                        double xi = e->ax + (yc - e->ay) * (e->bx - e->ax) / (e->by - e->ay);
                        (*cross)[row_start[j] + row_fill[j]++] = (crossing){p, xi};
                    }
                }
            }
        }
        if (pass == 0) {
            for (int j = 0; j < pip->ny; j++) row_start[j + 1] += row_start[j];
            *cross = df__malloc((size_t)row_start[pip->ny] * sizeof **cross);
            if (!*cross) {
                free(row_fill);
                return -1;
            }
        }
    }
    free(row_fill);
    for (int j = 0; j < pip->ny; j++)
        qsort(*cross + row_start[j], (size_t)(row_start[j + 1] - row_start[j]), sizeof **cross, cmp_crossing);
    return 0;
}

/* Step 4: the fill: each cell takes the first polygon containing its centre;
 * depth counts (up to 2) the polygons containing it, for step 6. */
static void fill_cells(df__pip *pip, const crossing *cross, const int *row_start, uint8_t *depth)
{
    double minx = pip->x0;
    for (int j = 0; j < pip->ny; j++) {
        const crossing *row = cross + row_start[j];
        int n = row_start[j + 1] - row_start[j];
        for (int g0 = 0, g1; g0 < n; g0 = g1) {
            for (g1 = g0; g1 < n && row[g1].poly == row[g0].poly; g1++) {}
            /* inside: centres in [x_t, x_t+1) for t = g0, g0+2, ... */
            for (int t = g0; t + 1 < g1; t += 2) {
                int i0 = (int)ceil((row[t].x - minx) / pip->dx - 0.5) - 1;
                int i1 = (int)ceil((row[t + 1].x - minx) / pip->dx - 0.5);
                for (int i = i0 < 0 ? 0 : i0; i <= i1 && i < pip->nx; i++) {
                    double cx = minx + (i + 0.5) * pip->dx;
                    if (cx < row[t].x || cx >= row[t + 1].x) continue; /* exact test */
                    int32_t *cell = &pip->cell[(size_t)j * pip->nx + i];
                    if (*cell == -1) *cell = row[t].poly;
                    if (depth[(size_t)j * pip->nx + i] < 2) depth[(size_t)j * pip->nx + i]++;
                }
            }
        }
    }
}

/* Step 5: the cells touched by edges (bounding box, widened by a hair so
 * that a point rounded into a neighbouring cell still sees every edge),
 * sorted by cell: *out[*nout], to free. 0 ok, -1 out of memory. */
static int edge_cells(const df__pip *pip, int npolys, size_t ne, cell_entry **out, size_t *nout)
{
    double minx = pip->x0, miny = pip->y0;
    size_t nent = 0, cap = ne * 4 + 16;
    cell_entry *entries = df__malloc(cap * sizeof *entries);
    if (!entries) return -1;
    double eps = 1e-6 * fmin(pip->dx, pip->dy);
    for (int p = 0; p < npolys; p++) {
        for (int k = pip->edge_start[p]; k < pip->edge_start[p + 1]; k++) {
            const pip_edge *e = &pip->edges[k];
            int i0 = (int)fmax(floor((e->ax - eps - minx) * pip->inv_dx), 0);
            int i1 = (int)fmin(floor((e->bx + eps - minx) * pip->inv_dx), pip->nx - 1);
            int j0 = (int)fmax(floor((fmin(e->ay, e->by) - eps - miny) * pip->inv_dy), 0);
            int j1 = (int)fmin(floor((fmax(e->ay, e->by) + eps - miny) * pip->inv_dy), pip->ny - 1);
            for (int j = j0; j <= j1; j++) {
                for (int i = i0; i <= i1; i++) {
                    /* skip cells the edge's line misses: test the cell's corners */
                    double cx0 = minx + i * pip->dx - eps, cx1 = cx0 + pip->dx + 2 * eps;
                    double cy0 = miny + j * pip->dy - eps, cy1 = cy0 + pip->dy + 2 * eps;
                    double o1 = orient(e->ax, e->ay, e->bx, e->by, cx0, cy0);
                    double o2 = orient(e->ax, e->ay, e->bx, e->by, cx1, cy0);
                    double o3 = orient(e->ax, e->ay, e->bx, e->by, cx0, cy1);
                    double o4 = orient(e->ax, e->ay, e->bx, e->by, cx1, cy1);
                    if ((o1 > 0 && o2 > 0 && o3 > 0 && o4 > 0) || (o1 < 0 && o2 < 0 && o3 < 0 && o4 < 0)) continue;
                    if (nent == cap) {
                        cell_entry *ne2 = df__realloc_array(entries, cap * 2, sizeof *entries);
                        if (!ne2) {
                            free(entries);
                            return -1;
                        }
                        entries = ne2;
                        cap *= 2;
                    }
                    entries[nent++] = (cell_entry){j * pip->nx + i, p, k};
                }
            }
        }
    }
    cell_entry *sorted = sort_by_cell(entries, nent);
    if (!sorted) {
        free(entries);
        return -1;
    }
    *out = sorted, *nout = nent;
    return 0;
}

/* Step 6: the mixed cells: candidates in polygon order, each with its edges
 * and its centre status, then the fill: the first polygon that contains the
 * whole cell (its centre, and no edge there). 0 ok, -1 out of memory. */
static int build_mixed(df__pip *pip, const cell_entry *entries, size_t nent, const crossing *cross,
                       const int *row_start, const uint8_t *depth)
{
    double minx = pip->x0, miny = pip->y0;
    size_t nmixed = 0, ncand = 0;
    for (size_t a = 0; a < nent; a++) {
        if (a == 0 || entries[a].cell != entries[a - 1].cell)
            nmixed++, ncand++;
        else if (entries[a].poly != entries[a - 1].poly)
            ncand++;
    }
    pip->mixed_start = df__malloc((nmixed + 1) * sizeof *pip->mixed_start);
    pip->cands = df__malloc((ncand + nmixed + 1) * sizeof *pip->cands);
    pip->cell_edges = df__malloc((nent + 1) * sizeof *pip->cell_edges);
    if (!pip->mixed_start || !pip->cands || !pip->cell_edges) return -1;
    size_t m = 0, nc = 0;
    for (size_t a = 0; a < nent;) {
        int c = entries[a].cell, j = c / pip->nx, i = c % pip->nx;
        double cx = minx + (i + 0.5) * pip->dx, cy = miny + (j + 0.5) * pip->dy;
        const crossing *row = cross + row_start[j];
        int nrow = row_start[j + 1] - row_start[j];
        size_t a_end = a;
        while (a_end < nent && entries[a_end].cell == c) a_end++;
        /* When the first polygon containing the centre has edges here, a
         * later polygon may still contain the whole cell where they overlap
         * (the first wins only where it contains the point); without it as
         * the fill, points outside the first but inside it got -1. */
        int fill = pip->cell[c];
        if (fill >= 0 && has_entries(entries, a, a_end, fill))
            fill = depth[c] > 1 ? next_fill(row, nrow, cx, fill, entries, a, a_end) : -1;
        int fill_done = fill < 0;
        pip->mixed_start[m] = (int)nc;
        while (a < nent && entries[a].cell == c) {
            int p = entries[a].poly;
            if (!fill_done && fill < p) {
                pip->cands[nc++] = (pip_cand){fill, 1, 0, 0};
                fill_done = 1;
            }
            if (p == fill) fill_done = 1;
            pip_cand cand = {p, center_inside(row, nrow, p, cx), (int)a, 0};
            for (; a < nent && entries[a].cell == c && entries[a].poly == p; a++) {
                pip->cell_edges[a] = pip->edges[entries[a].edge];
                cand.edge_count++;
                /* An edge passing within rounding of C (not exactly through
                 * it) could give C one status here and the opposite side at
                 * query time, inverting the whole cell: such cells take the
                 * even-odd ray test. */
                if (center_near_edge(&pip->cell_edges[a], cx, cy)) cand.center_inside = -1;
            }
            pip->cands[nc++] = cand;
        }
        if (!fill_done) pip->cands[nc++] = (pip_cand){fill, 1, 0, 0};
        pip->cell[c] = (int32_t)(-2 - (int32_t)m);
        m++;
    }
    pip->mixed_start[m] = (int)nc;
    return 0;
}

df__pip *df__pip_build(const df__ring *rings, const int *ring_start, int npolys)
{
    df__pip *pip = calloc(1, sizeof *pip);
    crossing *cross = NULL;
    int *row_start = NULL;
    cell_entry *entries = NULL;
    size_t nent = 0;
    uint8_t *depth = NULL;
    double ext[4];
    if (!pip) return NULL;
    pip->npolys = npolys;

    long ne = build_edges(pip, rings, ring_start, npolys, ext);
    if (ne < 0) goto fail;
    if (ne == 0) { /* nothing to index: every query answers -1 */
        pip->nx = pip->ny = 0;
        return pip;
    }
    if (build_grid(pip, ext, (size_t)ne) != 0) goto fail;
    if (!(row_start = calloc((size_t)pip->ny + 1, sizeof *row_start))) goto fail;
    if (build_crossings(pip, npolys, row_start, &cross) != 0) goto fail;
    if (!(depth = calloc((size_t)pip->nx * (size_t)pip->ny, 1))) goto fail;
    fill_cells(pip, cross, row_start, depth);
    if (edge_cells(pip, npolys, (size_t)ne, &entries, &nent) != 0) goto fail;
    if (build_mixed(pip, entries, nent, cross, row_start, depth) != 0) goto fail;

    free(cross);
    free(row_start);
    free(entries);
    free(depth);
    return pip;
fail:
    free(cross);
    free(row_start);
    free(entries);
    free(depth);
    df__pip_free(pip);
    return NULL;
}

/* ---- query ----------------------------------------------------------------- */

static int locate_slow(const df__pip *pip, const pip_cand *c, int n, double x, double y)
{
    for (int k = 0; k < n; k++) {
        int p = c[k].poly;
        const pip_edge *e = pip->edges + pip->edge_start[p];
        if (ray_inside(e, pip->edge_start[p + 1] - pip->edge_start[p], x, y)) return p;
    }
    return -1;
}

int df__pip_locate(const df__pip *pip, double x, double y)
{
    double fx = (x - pip->x0) * pip->inv_dx, fy = (y - pip->y0) * pip->inv_dy;
    if (!(fx >= 0 && fy >= 0 && fx < pip->nx && fy < pip->ny)) {
        /* on the far edge of the extent (or NaN, or outside) */
        if (pip->nx == 0 || !(fx >= 0 && fy >= 0 && fx <= pip->nx && fy <= pip->ny)) return -1;
        fx = fmin(fx, pip->nx - 0.5), fy = fmin(fy, pip->ny - 0.5);
    }
    int i = (int)fx, j = (int)fy;
    int32_t v = pip->cell[(size_t)j * pip->nx + i];
    if (v >= -1) return v;

    int m = -2 - v;
    const pip_cand *cand = pip->cands + pip->mixed_start[m];
    int ncand = pip->mixed_start[m + 1] - pip->mixed_start[m];
    double cx = pip->x0 + (i + 0.5) * pip->dx, cy = pip->y0 + (j + 0.5) * pip->dy;
    for (int k = 0; k < ncand; k++) {
        int inside = cand[k].center_inside;
        if (inside < 0) return locate_slow(pip, cand, ncand, x, y);
        const pip_edge *e = pip->cell_edges + cand[k].edge_start;
        for (int q = 0; q < cand[k].edge_count; q++) {
            double o1 = orient(e[q].ax, e[q].ay, e[q].bx, e[q].by, x, y);
            double o2 = orient(e[q].ax, e[q].ay, e[q].bx, e[q].by, cx, cy);
            if ((o1 > 0 && o2 > 0) || (o1 < 0 && o2 < 0)) continue; /* same side */
            double o3 = orient(x, y, cx, cy, e[q].ax, e[q].ay);
            double o4 = orient(x, y, cx, cy, e[q].bx, e[q].by);
            if ((o3 > 0 && o4 > 0) || (o3 < 0 && o4 < 0)) continue; /* edge beside P–C */
            if (o1 == 0 || o2 == 0 || o3 == 0 || o4 == 0) return locate_slow(pip, cand, ncand, x, y);
            inside = !inside;
        }
        if (inside) return cand[k].poly;
    }
    return -1;
}

void df__pip_free(df__pip *pip)
{
    if (!pip) return;
    free(pip->cell);
    free(pip->mixed_start);
    free(pip->cands);
    free(pip->cell_edges);
    free(pip->edges);
    free(pip->edge_start);
    free(pip);
}
