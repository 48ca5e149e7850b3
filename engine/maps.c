/*
 * maps.c — the situation report's map picture: a choropleth of the units at
 * one level, the largest flows as curved arrows, labels of the largest
 * units, and the furniture a reader needs (title, dates, legend, scale bar,
 * north arrow, overview, source), drawn with cairo in the WGS84 UTM zone of
 * the map's centre and written as PNG, atomically. No clock, no randomness:
 * the same inputs give the same bytes.
 */
#include "df_io.h"
#include "df_products.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cairo.h>
#include <pango/pangocairo.h>
#include <gdal.h>
#include <proj.h>

#define FONT        "DejaVu Sans"
#define DEFAULT_TOP 10
#define BEND        0.18 /* control point off the chord, x chord length */
#define ALPHA_FLOW  0.85
#define CIRCLE_R    40                               /* radius of the circle of the top break, layout units */
#define CIRCLE_MAX  110                              /* the largest radius drawn */
#define RING_R      46                               /* radius of the ring of the largest flow, layout units */
#define MAX_CALLOUT 99                               /* numbered callouts: beyond, a unit keeps no mark */
#define COUNTRIES   "countries_naturalearth.geojson" /* in shapes/: see shapes/README.md */
#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static const double no_data_rgb[3] = {0xda, 0xda, 0xda}, zero_rgb[3] = {0xff, 0xff, 0xff};
static const double flow_rgb[3] = {0x1f, 0x3a, 0x5f}; /* navy: apart from every ramp colour */

static void set_rgb(cairo_t *cr, const double c[3]) { cairo_set_source_rgb(cr, c[0] / 255, c[1] / 255, c[2] / 255); }

/* ---- numbers ------------------------------------------------------------------ */

/* v with thousands separators ("1,234,567"), or with one decimal below 100
 * when the data are not whole numbers. */
static void fmt_number(double v, int whole, char *out, size_t cap)
{
    char digits[32];
    if (!whole && fabs(v) < 100)
        snprintf(out, cap, "%.1f", v);
    else
        snprintf(out, cap, "%s", df__thousands((int64_t)llround(v), digits));
}

/* v rounded to `figures` significant figures (whole numbers stay whole):
 * legend breaks read 2,500 rather than 2,487. */
static double round_sig(double v, int figures, int whole)
{
    if (!(v > 0)) return v;
    double p = pow(10, floor(log10(v)) - (figures - 1));
    if (whole && p < 1) p = 1;
    return round(v / p) * p;
}

/* The colour of class c of k (classes.c: ColorBrewer YlOrRd, as in QGIS). */
static void class_rgb(int c, int k, double rgb[3])
{
    unsigned v = (unsigned)strtoul(df__class_hex(c, k) + 1, NULL, 16);
    rgb[0] = v >> 16 & 255, rgb[1] = v >> 8 & 255, rgb[2] = v & 255;
}

/* ---- the view: lon/lat to UTM metres to pixels ---------------------------------- */

typedef struct {
    PJ *pj;                /* WGS84 lon/lat -> UTM metres (borrowed) */
    double s;              /* pixels per metre */
    double mx, my;         /* metres at the frame's top-left corner */
    double fx, fy, fw, fh; /* the frame in pixels */
} view;

typedef struct {
    double x0, y0, x1, y1;
} box;

static box box_empty(void) { return (box){INFINITY, INFINITY, -INFINITY, -INFINITY}; }
static int box_ok(box b) { return b.x0 <= b.x1 && b.y0 <= b.y1; }
static void box_add(box *b, double x, double y)
{
    if (!isfinite(x) || !isfinite(y)) return;
    b->x0 = fmin(b->x0, x), b->y0 = fmin(b->y0, y), b->x1 = fmax(b->x1, x), b->y1 = fmax(b->y1, y);
}

/* Add a unit's lon/lat bounds. */
static void box_add_geometry(df_ctx *ctx, box *b, const GEOSGeometry *g)
{
    double x0, y0, x1, y1;
    if (!g || GEOSisEmpty_r(ctx->geos, g) != 0) return;
    if (GEOSGeom_getXMin_r(ctx->geos, g, &x0) && GEOSGeom_getYMin_r(ctx->geos, g, &y0) &&
        GEOSGeom_getXMax_r(ctx->geos, g, &x1) && GEOSGeom_getYMax_r(ctx->geos, g, &y1)) {
        box_add(b, x0, y0);
        box_add(b, x1, y1);
    }
}

static void project(const view *v, double *x, double *y, size_t n)
{
    proj_trans_generic(v->pj, PJ_FWD, x, sizeof *x, n, y, sizeof *y, n, NULL, 0, 0, NULL, 0, 0);
}

/* The metric bounds of a lon/lat box: its edges are sampled, because a
 * meridian is curved in UTM away from the central meridian. */
static box metric_box(const view *v, box ll)
{
    enum { STEPS = 16 };
    double x[4 * (STEPS + 1)], y[4 * (STEPS + 1)];
    box m = box_empty();
    for (int i = 0; i <= STEPS; i++) {
        double t = (double)i / STEPS, lon = ll.x0 + t * (ll.x1 - ll.x0), lat = ll.y0 + t * (ll.y1 - ll.y0);
        x[4 * i] = lon, y[4 * i] = ll.y0;
        x[4 * i + 1] = lon, y[4 * i + 1] = ll.y1;
        x[4 * i + 2] = ll.x0, y[4 * i + 2] = lat;
        x[4 * i + 3] = ll.x1, y[4 * i + 3] = lat;
    }
    project(v, x, y, 4 * (STEPS + 1));
    for (int i = 0; i < 4 * (STEPS + 1); i++)
        if (fabs(x[i]) < 1e20 && fabs(y[i]) < 1e20) box_add(&m, x[i], y[i]);
    return m;
}

/* Fit metric bounds, padded by pad of their size on each side, into the
 * frame without stretching: the frame's spare direction shows more map. */
static void view_fit(view *v, box m, double pad)
{
    double w = fmax(m.x1 - m.x0, 1000), h = fmax(m.y1 - m.y0, 1000);
    double cx = (m.x0 + m.x1) / 2, cy = (m.y0 + m.y1) / 2;
    v->s = fmin(v->fw / (w * (1 + 2 * pad)), v->fh / (h * (1 + 2 * pad)));
    v->mx = cx - v->fw / (2 * v->s);
    v->my = cy + v->fh / (2 * v->s);
}

static void to_pixel(const view *v, double *x, double *y)
{
    *x = v->fx + (*x - v->mx) * v->s;
    *y = v->fy + (v->my - *y) * v->s;
}

/* One lon/lat point to pixels; 0 ok, -1 when PROJ cannot. */
static int point_pixel(const view *v, double lon, double lat, double *x, double *y)
{
    *x = lon, *y = lat;
    project(v, x, y, 1);
    if (!(fabs(*x) < 1e20 && fabs(*y) < 1e20)) return -1;
    to_pixel(v, x, y);
    return 0;
}

/* ---- geometry to cairo paths ------------------------------------------------------ */

typedef struct {
    double *x, *y;
    size_t cap;
} coords;

/* Add one ring to the path, projected in one batch; vertices closer than
 * half a pixel to the last one drawn are left out (invisible, and they make
 * the file and the drawing slow). 0 ok, -1 out of memory. */
static int path_ring(df_ctx *ctx, cairo_t *cr, const view *v, const GEOSGeometry *ring, coords *c)
{
    const GEOSCoordSequence *seq = GEOSGeom_getCoordSeq_r(ctx->geos, ring);
    unsigned int n = 0;
    if (!seq || !GEOSCoordSeq_getSize_r(ctx->geos, seq, &n) || n < 3) return 0;
    if (n > c->cap) {
        double *x = df__realloc_array(c->x, n, sizeof *x), *y = x ? df__realloc_array(c->y, n, sizeof *y) : NULL;
        if (x) c->x = x;
        if (!y) return -1;
        c->y = y, c->cap = n;
    }
    if (!GEOSCoordSeq_copyToArrays_r(ctx->geos, seq, c->x, c->y, NULL, NULL)) return 0;
    project(v, c->x, c->y, n);
    double lx = 0, ly = 0;
    int started = 0;
    for (unsigned int i = 0; i < n; i++) {
        double x = c->x[i], y = c->y[i];
        if (!(fabs(x) < 1e20 && fabs(y) < 1e20)) continue;
        to_pixel(v, &x, &y);
        if (!started)
            cairo_move_to(cr, x, y), started = 1;
        else if (i + 1 == n || fabs(x - lx) + fabs(y - ly) >= 0.5)
            cairo_line_to(cr, x, y);
        else
            continue;
        lx = x, ly = y;
    }
    if (started) cairo_close_path(cr);
    return 0;
}

/* Add a polygon, multipolygon or collection of them to the path (rings of
 * holes included: fill with the even-odd rule). 0 ok, -1 out of memory. */
static int path_geometry(df_ctx *ctx, cairo_t *cr, const view *v, const GEOSGeometry *g, coords *c)
{
    if (!g) return 0;
    int type = GEOSGeomTypeId_r(ctx->geos, g);
    if (type == GEOS_MULTIPOLYGON || type == GEOS_GEOMETRYCOLLECTION) {
        for (int i = 0; i < GEOSGetNumGeometries_r(ctx->geos, g); i++)
            if (path_geometry(ctx, cr, v, GEOSGetGeometryN_r(ctx->geos, g, i), c) != 0) return -1;
        return 0;
    }
    if (type != GEOS_POLYGON) return 0;
    if (path_ring(ctx, cr, v, GEOSGetExteriorRing_r(ctx->geos, g), c) != 0) return -1;
    for (int i = 0; i < GEOSGetNumInteriorRings_r(ctx->geos, g); i++)
        if (path_ring(ctx, cr, v, GEOSGetInteriorRingN_r(ctx->geos, g, i), c) != 0) return -1;
    return 0;
}

/* ---- flows ------------------------------------------------------------------------ */

typedef struct {
    int origin, dest;
    double individuals;
    double x0, y0, x1, y1; /* lon/lat of the ends */
    int within;            /* origin = destination: a ring, not an arrow */
    int ok;                /* drawn: both ends have a place */
} pair;

static int cmp_pair_units(const void *a, const void *b)
{
    const pair *p = a, *q = b;
    if (p->origin != q->origin) return p->origin < q->origin ? -1 : 1;
    return (p->dest > q->dest) - (p->dest < q->dest);
}

/* Largest first; ties by units, so that the order never depends on qsort. */
static int cmp_pair_size(const void *a, const void *b)
{
    const pair *p = a, *q = b;
    if (p->individuals != q->individuals) return p->individuals > q->individuals ? -1 : 1;
    return cmp_pair_units(a, b);
}

/* The flows of the report's table (sitrep.c, "Largest flows"): pairs of
 * status DF_DISPLACED, withheld ones left out, summed over every period,
 * largest first (ties by units), the top N ([report] top_flows, 10 when
 * unset). A pair within one unit stays in the ranking and is drawn as a
 * ring; a pair whose ends have no geometry keeps its rank and is not drawn
 * (ok = 0), so that the map never shows a flow the table does not list.
 * *n pairs in *out (malloc'd). */
static df_status top_pairs(df_ctx *ctx, const df__map *m, pair **out, int *n)
{
    const df_flows *f = m->flows;
    int ol = df__flows_origin_level(f), dl = df__flows_dest_level(f), count = 0, top = m->top_flows;
    pair *p = df__malloc((size_t)df_flows_count(f) * sizeof *p + 1);
    *out = NULL, *n = 0;
    if (!p) return df__error(ctx, DF_ENOMEM, "out of memory drawing flows");
    for (int i = 0; i < df_flows_count(f); i++) {
        const df_flow *fl = df_flows_get(f, i);
        if (fl->status != DF_DISPLACED || fl->withheld) continue; /* withheld flows are not published */
        p[count++] = (pair){fl->origin, fl->dest, (double)fl->individuals, 0, 0, 0, 0, 0, 0};
    }
    qsort(p, (size_t)count, sizeof *p, cmp_pair_units);
    int k = 0;
    for (int i = 0; i < count; i++) {
        if (k > 0 && p[k - 1].origin == p[i].origin && p[k - 1].dest == p[i].dest)
            p[k - 1].individuals += p[i].individuals;
        else
            p[k++] = p[i];
    }
    qsort(p, (size_t)k, sizeof *p, cmp_pair_size);
    if (k > (top > 0 ? top : DEFAULT_TOP)) k = top > 0 ? top : DEFAULT_TOP;
    for (int i = 0; i < k; i++) {
        pair *q = &p[i];
        q->within = ol == dl && q->origin == q->dest;
        q->ok = q->individuals > 0 &&
                df__flows_endpoint(ctx, f, m->b, ol, q->origin, DF_ENDPOINTS_WEIGHTED, &q->x0, &q->y0) == 0 &&
                df__flows_endpoint(ctx, f, m->b, dl, q->dest, DF_ENDPOINTS_WEIGHTED, &q->x1, &q->y1) == 0;
    }
    *out = p, *n = k;
    return DF_OK;
}

/* Arrow shaft width in pixels: proportional to the square root of the
 * individuals, max_w for the largest pair. The square root keeps the
 * tenth-largest pair visible next to a dominant one (the top pair is often
 * ten times the tenth); the legend shows two widths to read them by. */
static double arrow_width(double v, double vmax, double max_w, double min_w)
{
    return vmax > 0 ? fmax(min_w, max_w * sqrt(v / vmax)) : min_w;
}

/* An arrow from (x0, y0) to (x1, y1): a quadratic arc bent bend x chord to
 * the right of travel (A->B and B->A lie apart), shaft width w, a head whose
 * tip is at (x1, y1); white casing under a dark fill, the whole painted at
 * once with alpha so that shaft and head do not darken where they meet. */
static void draw_arrow(cairo_t *cr, double x0, double y0, double x1, double y1, double w, double bend, double casing,
                       box *head_box)
{
    double dx = x1 - x0, dy = y1 - y0, len = hypot(dx, dy);
    if (head_box) *head_box = box_empty();
    if (len < 4) return;
    double cx = (x0 + x1) / 2 - bend * dy, cy = (y0 + y1) / 2 + bend * dx; /* right of travel, y down */
    double head = fmin(1.8 * w + 3 * casing, 0.45 * len), half = 1.15 * w + 1.6 * casing;
    /* where the shaft ends: the point of the arc at head's distance from the tip */
    double lo = 0, hi = 1, t = 1, bx = x1, by = y1;
    for (int i = 0; i < 40; i++) {
        t = (lo + hi) / 2;
        double u = 1 - t;
        bx = u * u * x0 + 2 * u * t * cx + t * t * x1, by = u * u * y0 + 2 * u * t * cy + t * t * y1;
        if (hypot(x1 - bx, y1 - by) > head)
            lo = t;
        else
            hi = t;
    }
    /* the sub-arc [0, t] as a cubic (de Casteljau, then degree elevation) */
    double qx = x0 + t * (cx - x0), qy = y0 + t * (cy - y0);
    double c1x = x0 + 2.0 / 3 * (qx - x0), c1y = y0 + 2.0 / 3 * (qy - y0);
    double c2x = bx + 2.0 / 3 * (qx - bx), c2y = by + 2.0 / 3 * (qy - by);
    double hx = (x1 - bx) / head, hy = (y1 - by) / head, nx = -hy, ny = hx;
    if (head_box) { /* the head with its casing: what a label must not cover */
        *head_box = box_empty();
        box_add(head_box, x1, y1);
        box_add(head_box, bx + nx * half, by + ny * half);
        box_add(head_box, bx - nx * half, by - ny * half);
        head_box->x0 -= casing, head_box->y0 -= casing, head_box->x1 += casing, head_box->y1 += casing;
    }
    cairo_push_group(cr);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0)
            cairo_set_source_rgb(cr, 1, 1, 1);
        else
            set_rgb(cr, flow_rgb);
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
        cairo_move_to(cr, x0, y0);
        cairo_curve_to(cr, c1x, c1y, c2x, c2y, bx - hx * 0.5, by - hy * 0.5); /* into the head, no seam */
        cairo_set_line_width(cr, pass == 0 ? w + 2 * casing : w);
        cairo_stroke(cr);
        cairo_move_to(cr, x1, y1);
        cairo_line_to(cr, bx + nx * half, by + ny * half);
        cairo_line_to(cr, bx - nx * half, by - ny * half);
        cairo_close_path(cr);
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_MITER);
        if (pass == 0) {
            cairo_set_line_width(cr, 2 * casing);
            cairo_stroke_preserve(cr);
        }
        cairo_fill(cr);
    }
    cairo_pop_group_to_source(cr);
    cairo_paint_with_alpha(cr, ALPHA_FLOW);
}

/* ---- text ------------------------------------------------------------------------- */

static void font(cairo_t *cr, double size, int bold)
{
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

static double text_width(cairo_t *cr, const char *s)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

/* Text at (x, y) (left baseline), shrunk until it fits in max_w. */
static void text_fit(cairo_t *cr, const char *s, double x, double y, double size, int bold, double max_w)
{
    font(cr, size, bold);
    double w = text_width(cr, s);
    if (w > max_w && w > 0) font(cr, fmax(size * max_w / w, size * 0.5), bold);
    cairo_move_to(cr, x, y);
    cairo_show_text(cr, s);
}

/* Text with a white halo (left baseline at x, y), so it reads over any fill
 * and any arrow. */
static void text_halo(cairo_t *cr, const char *s, double x, double y, double halo, double grey)
{
    cairo_move_to(cr, x, y);
    cairo_text_path(cr, s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_set_line_width(cr, 2 * halo);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_stroke_preserve(cr);
    cairo_set_source_rgb(cr, grey, grey, grey);
    cairo_fill(cr);
}

/* Text laid out by Pango (Arabic shaped, right to left), size in pixels,
 * in pc (the map's own font map: freed with the map, where the default
 * one would keep its font caches to the end of the process); NULL when out
 * of memory. */
static PangoLayout *layout_text(PangoContext *pc, const char *s, double size, int bold)
{
    PangoLayout *lay = pc ? pango_layout_new(pc) : NULL;
    PangoFontDescription *fd = pango_font_description_from_string(FONT);
    if (!lay || !fd) {
        if (lay) g_object_unref(lay);
        if (fd) pango_font_description_free(fd);
        return NULL;
    }
    pango_font_description_set_absolute_size(fd, size * PANGO_SCALE);
    pango_font_description_set_weight(fd, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
    pango_layout_set_font_description(lay, fd);
    pango_font_description_free(fd);
    pango_layout_set_text(lay, s, -1);
    return lay;
}

static void layout_size(PangoLayout *lay, double *w, double *h)
{
    PangoRectangle r;
    pango_layout_get_extents(lay, NULL, &r);
    *w = (double)r.width / PANGO_SCALE, *h = (double)r.height / PANGO_SCALE;
}

/* The layout with its top left at (x, y) over a white halo: the glyphs
 * stay text (a PDF reader finds them), the halo is their outline stroked. */
static void layout_halo(cairo_t *cr, PangoLayout *lay, double x, double y, double halo, double grey)
{
    cairo_move_to(cr, x, y);
    pango_cairo_layout_path(cr, lay);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_set_line_width(cr, 2 * halo);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, grey, grey, grey);
    cairo_move_to(cr, x, y);
    pango_cairo_show_layout(cr, lay);
}

/* ---- labels of the largest units -------------------------------------------------- */

typedef struct {
    int unit;
    double value;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *p = a, *q = b;
    if (p->value != q->value) return p->value > q->value ? -1 : 1;
    return (p->unit > q->unit) - (p->unit < q->unit);
}

static int boxes_meet(box a, box b) { return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1; }

/* ---- furniture -------------------------------------------------------------------- */

/* A nice round length for a bar of at most max_km: 1, 2 or 5 x 10^n km. */
static double nice_km(double max_km)
{
    double p = pow(10, floor(log10(max_km))), r = max_km / p;
    return (r >= 5 ? 5 : r >= 2 ? 2 : 1) * p;
}

/* Scale bar at (x, y) (left, top) of about max_w pixels: a nice length in
 * km, in two halves, true at the map's centre. k is the UTM point scale
 * there (projected metres per true metre), so a true km is k x s x 1000
 * pixels. */
/* Fill the current path dark or white, and outline it dark. */
static void fill_outlined(cairo_t *cr, int dark)
{
    if (dark)
        cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
    else
        cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
    cairo_stroke(cr);
}

static void draw_scale_bar(cairo_t *cr, const view *v, double k, double x, double y, double max_w, double u)
{
    double px_per_km = v->s * k * 1000, km = nice_km(max_w / px_per_km), w = km * px_per_km, h = 7 * u;
    char label[64];
    cairo_set_line_width(cr, 1 * u);
    for (int i = 0; i < 2; i++) {
        cairo_rectangle(cr, x + i * w / 2, y, w / 2, h);
        fill_outlined(cr, i == 0);
    }
    font(cr, 12 * u, 0);
    for (int i = 0; i < 3; i++) {
        snprintf(label, sizeof label, i == 2 ? "%g km" : "%g", km * i / 2);
        double tw = text_width(cr, label) - (i == 2 ? text_width(cr, " km") : 0); /* the number centred on its tick */
        cairo_move_to(cr, x + w * i / 2 - tw / 2, y + h + 15 * u);
        cairo_show_text(cr, label);
    }
}

/* North arrow centred at (x, y), pointing to true north: angle is true
 * north's direction from grid up, clockwise, in radians (UTM grid north
 * differs from true north by up to a few degrees off the central meridian). */
static void draw_north(cairo_t *cr, double x, double y, double angle, double u)
{
    double r = 22 * u;
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, angle);
    cairo_set_line_width(cr, 1 * u);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_MITER);
    for (int side = -1; side <= 1; side += 2) {
        cairo_move_to(cr, 0, -r);
        cairo_line_to(cr, side * 0.45 * r, 0.55 * r);
        cairo_line_to(cr, 0, 0.25 * r);
        cairo_close_path(cr);
        fill_outlined(cr, side < 0);
    }
    font(cr, 14 * u, 1);
    cairo_move_to(cr, -text_width(cr, "N") / 2, -r - 5 * u);
    cairo_show_text(cr, "N");
    cairo_restore(cr);
}

/* A legend swatch and its label; returns the next row's top. */
static double legend_swatch(cairo_t *cr, double x, double y, const double rgb[3], const char *label, double u)
{
    cairo_rectangle(cr, x, y, 34 * u, 20 * u);
    set_rgb(cr, rgb);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.55, 0.55, 0.55);
    cairo_set_line_width(cr, 0.8 * u);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.12, 0.12, 0.12);
    font(cr, 14 * u, 0);
    cairo_move_to(cr, x + 46 * u, y + 15 * u);
    cairo_show_text(cr, label);
    return y + 28 * u;
}

/* Diagonal hatching inside the current path, which is kept: a unit not
 * assessed, apart from 0 (white) and no data (grey). */
static void hatch(cairo_t *cr, double u)
{
    double x0, y0, x1, y1;
    cairo_path_t *path = cairo_copy_path(cr);
    cairo_save(cr);
    cairo_clip(cr);
    cairo_clip_extents(cr, &x0, &y0, &x1, &y1);
    for (double x = x0 - (y1 - y0); x < x1; x += 7 * u) {
        cairo_move_to(cr, x, y1);
        cairo_line_to(cr, x + (y1 - y0), y0);
    }
    cairo_set_source_rgb(cr, 0.5, 0.5, 0.5);
    cairo_set_line_width(cr, 1.1 * u);
    cairo_stroke(cr);
    cairo_restore(cr);
    cairo_new_path(cr);
    cairo_append_path(cr, path);
    cairo_path_destroy(path);
}

/* A legend line (a boundary) and its label; returns the next row's top. */
static double legend_line(cairo_t *cr, double x, double y, double grey, double width, const char *label, double u)
{
    cairo_move_to(cr, x, y + 10 * u);
    cairo_line_to(cr, x + 34 * u, y + 10 * u);
    cairo_set_source_rgb(cr, grey, grey, grey);
    cairo_set_line_width(cr, width);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.12, 0.12, 0.12);
    font(cr, 14 * u, 0);
    cairo_move_to(cr, x + 46 * u, y + 15 * u);
    cairo_show_text(cr, label);
    return y + 26 * u;
}

/* "District boundary" for level 2, in the layer's label (docs/join.md). */
static const char *boundary_word(const df_boundaries *b, int level, char *out, size_t cap)
{
    char w[64];
    df__level_words(b, level, 0, 1, w, sizeof w);
    snprintf(out, cap, "%s boundary", w);
    return out;
}

/* ---- the whole map ---------------------------------------------------------------- */

typedef struct {
    df_ctx *ctx;
    const df__map *m;
    cairo_t *cr;
    int n;       /* units at m->level */
    int level1;  /* draw governorate outlines over the units */
    int whole;   /* every value is a whole number */
    double u;    /* pixels per layout unit (1 at 1600 x 1200) */
    coords c;    /* scratch for ring coordinates */
    pair *pairs; /* the arrows */
    int npairs;
    double pmax;                   /* largest pair drawn: the rings' scale */
    double amax;                   /* largest arrow: the widths' scale */
    double breaks[DF__MAX_BREAKS]; /* the classes: nb breaks, nb + 1 classes */
    int nb;
    int has_zero, has_no_data, has_unassessed; /* legend rows shown */
    int has_positive;
    double vmax;            /* the largest value: circles scale to it */
    df__placement own, *pl; /* what was placed: m->placed, or own */
    int ncallouts;
    int *callout; /* units with a numbered callout, in number order */
    int nlab;     /* label lines from the layer's name fields (m->labels), 0: the unit's name */
    int lab_k[2]; /* their fields (df__boundaries_name_field) */
    int nring;    /* rings drawn; ring_max: the largest */
    double ring_max;
    GEOSGeometry **country; /* the world's countries (shapes/), with names and lon/lat boxes */
    char **country_name;
    box *country_box;
    int ncountries;
    box near;         /* lon/lat: countries outside it are not drawn */
    PangoFontMap *fm; /* the map's own, for its labels: see layout_text */
    PangoContext *pc;
    int nplaces; /* m->places: named points, camps drawn apart */
    double *place_lon, *place_lat;
    char **place_name;
    unsigned char *place_camp;
    int *place_line;
    int has_camp, has_town; /* legend rows */
} map_state;

static int place(map_state *st, int kind, int unit, int other, double value, box b)
{
    df__placement *p = st->pl;
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 64;
        df__placed *item = df__realloc_array(p->item, (size_t)cap, sizeof *item);
        if (!item) return -1;
        p->item = item, p->cap = cap;
    }
    p->item[p->n++] = (df__placed){kind, unit, other, value, b.x0, b.y0, b.x1, b.y1, ""};
    return 0;
}

/* b meets nothing placed that text must keep clear of (labels, callouts,
 * arrowheads, country names) and stays inside the frame. */
static int room_for(const map_state *st, const view *v, box b)
{
    if (b.x0 < v->fx + 2 || b.y0 < v->fy + 2 || b.x1 > v->fx + v->fw - 2 || b.y1 > v->fy + v->fh - 2) return 0;
    for (int i = 0; i < st->pl->n; i++) {
        const df__placed *q = &st->pl->item[i];
        if (q->kind == DF__PLACED_RING) continue; /* rings are translucent: a label with a halo reads over them */
        if (boxes_meet(b, (box){q->x0, q->y0, q->x1, q->y1})) return 0;
    }
    return 1;
}

/* A circle's area is its value; the top break has a radius of CIRCLE_R:
 * the classes hold still, so do the sizes, and weeks compare. */
static double circle_scale(const map_state *st) { return st->nb > 0 ? st->breaks[st->nb - 1] : st->vmax; }
static double circle_radius(const map_state *st, double value)
{
    double s = circle_scale(st);
    return s > 0 ? fmin(CIRCLE_R * sqrt(value / s), CIRCLE_MAX) * st->u : 0;
}

/* Fill every unit of the level by class, outline it thin grey; then the
 * governorates dark and thicker. */
static df_status draw_units(map_state *st, const view *v, int inset)
{
    cairo_t *cr = st->cr;
    const df__map *m = st->m;
    cairo_set_fill_rule(cr, CAIRO_FILL_RULE_EVEN_ODD);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    for (int i = 0; i < st->n; i++) {
        if (path_geometry(st->ctx, cr, v, df__boundaries_geometry(m->b, m->level, i), &st->c) != 0)
            return df__error(st->ctx, DF_ENOMEM, "out of memory drawing the map");
        double val = m->value[i], rgb[3];
        int unassessed = !inset && m->not_assessed && m->not_assessed[i];
        if (inset)
            cairo_set_source_rgb(cr, 0.86, 0.86, 0.86);
        else if (unassessed || val == 0 || (m->circles && val > 0))
            set_rgb(cr, zero_rgb); /* circles: the size tells, the ground stays white */
        else if (val < 0 || isnan(val))
            set_rgb(cr, no_data_rgb);
        else
            class_rgb(df__class_of(val, st->breaks, st->nb), st->nb + 1, rgb), set_rgb(cr, rgb);
        cairo_fill_preserve(cr);
        if (unassessed) hatch(cr, st->u);
        cairo_set_source_rgb(cr, 0.55, 0.55, 0.55);
        cairo_set_line_width(cr, (inset ? 0.3 : st->level1 ? 0.6 : 0.9) * st->u);
        cairo_stroke(cr);
    }
    if (st->level1 || m->level == 1) {
        int n1 = df_boundaries_count(m->b, 1);
        for (int i = 0; i < n1; i++)
            if (path_geometry(st->ctx, cr, v, df__boundaries_geometry(m->b, 1, i), &st->c) != 0)
                return df__error(st->ctx, DF_ENOMEM, "out of memory drawing the map");
        cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
        cairo_set_line_width(cr, (inset ? 0.6 : 1.6) * st->u);
        cairo_stroke(cr);
    }
    return DF_OK;
}

/* Proportional circles (area by value) at a point inside each unit with
 * people, the largest below, each in its class colour. */
static df_status draw_circles(map_state *st, const view *v)
{
    const df__map *m = st->m;
    ranked *r = df__malloc((size_t)st->n * sizeof *r + 1);
    int k = 0;
    if (!r) return df__error(st->ctx, DF_ENOMEM, "out of memory drawing circles");
    for (int i = 0; i < st->n; i++)
        if (m->value[i] > 0) r[k++] = (ranked){i, m->value[i]};
    qsort(r, (size_t)k, sizeof *r, cmp_ranked);
    for (int i = 0; i < k; i++) {
        const GEOSGeometry *g = df__boundaries_geometry(m->b, m->level, r[i].unit);
        GEOSGeometry *p = g ? GEOSPointOnSurface_r(st->ctx->geos, g) : NULL;
        double lon, lat, x, y, rgb[3];
        int ok = p && GEOSGeomGetX_r(st->ctx->geos, p, &lon) == 1 && GEOSGeomGetY_r(st->ctx->geos, p, &lat) == 1;
        if (p) GEOSGeom_destroy_r(st->ctx->geos, p);
        if (!ok || point_pixel(v, lon, lat, &x, &y) != 0) continue;
        cairo_new_sub_path(st->cr);
        cairo_arc(st->cr, x, y, circle_radius(st, r[i].value), 0, 2 * M_PI);
        class_rgb(df__class_of(r[i].value, st->breaks, st->nb), st->nb + 1, rgb);
        cairo_set_source_rgba(st->cr, rgb[0] / 255, rgb[1] / 255, rgb[2] / 255, 0.85);
        cairo_fill_preserve(st->cr);
        cairo_set_source_rgb(st->cr, 0.3, 0.3, 0.3);
        cairo_set_line_width(st->cr, 1.2 * st->u);
        cairo_stroke(st->cr);
    }
    free(r);
    return DF_OK;
}

/* Ring radius of a flow within one unit: its area by individuals, RING_R
 * for the largest pair of the map (arrows and rings share one scale's top). */
static double ring_radius(const map_state *st, double v)
{
    return st->pmax > 0 ? RING_R * sqrt(v / st->pmax) * st->u : 0;
}

typedef struct {
    int pair;
    double angle; /* leaving the origin, radians */
} leaving;

static int cmp_leaving(const void *a, const void *b)
{
    const leaving *p = a, *q = b;
    if (p->angle != q->angle) return p->angle < q->angle ? -1 : 1;
    return (p->pair > q->pair) - (p->pair < q->pair);
}

/* The flows of the table: a flow within one unit as a ring at its place
 * (area by individuals), the others as arrows (width by the square root of
 * individuals). An arrow leaves its origin from the edge of a circle around
 * it (the origin's ring, or a small circle) in the direction of its
 * destination, and arrows of one origin whose directions are close are
 * turned apart until their shafts do not touch there: they fan out around
 * the place instead of leaving one point. The arrowheads and rings go to
 * the placement list. */
static df_status draw_flows(map_state *st, const view *v)
{
    double u = st->u;
    cairo_t *cr = st->cr;
    leaving *lv = df__malloc((size_t)st->npairs * sizeof *lv + 1);
    double *sx = df__malloc((size_t)st->npairs * 2 * sizeof *sx + 1);
    if (!lv || !sx) {
        free(lv), free(sx);
        return df__error(st->ctx, DF_ENOMEM, "out of memory drawing flows");
    }
    /* rings first, under the arrows; the largest below */
    for (int i = 0; i < st->npairs; i++) {
        const pair *p = &st->pairs[i];
        double x, y, r = ring_radius(st, p->individuals);
        if (!p->ok || !p->within || point_pixel(v, p->x0, p->y0, &x, &y) != 0) continue;
        cairo_new_sub_path(cr);
        cairo_arc(cr, x, y, r, 0, 2 * M_PI);
        /* a ring, not a disc: the unit's class colour stays readable inside it */
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_set_line_width(cr, 6 * u);
        cairo_stroke_preserve(cr);
        set_rgb(cr, flow_rgb);
        cairo_set_line_width(cr, 3 * u);
        cairo_stroke(cr);
        st->nring++, st->ring_max = fmax(st->ring_max, p->individuals);
        if (place(st, DF__PLACED_RING, p->origin, p->dest, p->individuals, (box){x - r, y - r, x + r, y + r}) != 0)
            goto oom;
    }
    /* where each arrow leaves: per origin, sorted by direction, spread */
    for (int i = 0; i < st->npairs; i++) {
        const pair *p = &st->pairs[i];
        double x0, y0, x1, y1;
        sx[2 * i] = NAN;
        if (!p->ok || p->within || point_pixel(v, p->x0, p->y0, &x0, &y0) != 0 ||
            point_pixel(v, p->x1, p->y1, &x1, &y1) != 0)
            continue;
        sx[2 * i] = x0, sx[2 * i + 1] = y0;
    }
    for (int i = 0; i < st->npairs; i++) {
        const pair *p = &st->pairs[i];
        if (isnan(sx[2 * i])) continue;
        int first = 1, n = 0;
        for (int j = 0; j < i && first; j++) first = !(st->pairs[j].origin == p->origin && !isnan(sx[2 * j]));
        if (!first) continue;
        /* every arrow of this origin, and the circle they leave from */
        double ox = sx[2 * i], oy = sx[2 * i + 1], r0 = 9 * u;
        for (int j = 0; j < st->npairs; j++) {
            const pair *q = &st->pairs[j];
            if (q->ok && q->within && q->origin == p->origin) r0 = fmax(r0, ring_radius(st, q->individuals));
            if (isnan(sx[2 * j]) || q->origin != p->origin) continue;
            double x1, y1;
            point_pixel(v, q->x1, q->y1, &x1, &y1);
            lv[n++] = (leaving){j, atan2(y1 - oy, x1 - ox)};
        }
        qsort(lv, (size_t)n, sizeof *lv, cmp_leaving);
        for (int t = 1; t < n; t++) {
            double wa = arrow_width(st->pairs[lv[t - 1].pair].individuals, st->amax, 16 * u, 1.6 * u),
                   wb = arrow_width(st->pairs[lv[t].pair].individuals, st->amax, 16 * u, 1.6 * u);
            double gap = fmin((wa + wb) / 2 / r0 + 0.08, 0.6);
            if (lv[t].angle - lv[t - 1].angle < gap) lv[t].angle = lv[t - 1].angle + gap;
        }
        for (int t = 0; t < n; t++) {
            sx[2 * lv[t].pair] = ox + r0 * cos(lv[t].angle);
            sx[2 * lv[t].pair + 1] = oy + r0 * sin(lv[t].angle);
        }
        if (r0 <= 9 * u) { /* no ring: a dot marks the place the arrows leave */
            cairo_new_sub_path(cr);
            cairo_arc(cr, ox, oy, 4 * u, 0, 2 * M_PI);
            set_rgb(cr, flow_rgb);
            cairo_fill_preserve(cr);
            cairo_set_source_rgb(cr, 1, 1, 1);
            cairo_set_line_width(cr, 1.5 * u);
            cairo_stroke(cr);
        }
    }
    for (int i = st->npairs - 1; i >= 0; i--) { /* the largest on top */
        const pair *p = &st->pairs[i];
        double x1, y1;
        box hb;
        if (isnan(sx[2 * i]) || point_pixel(v, p->x1, p->y1, &x1, &y1) != 0) continue;
        draw_arrow(cr, sx[2 * i], sx[2 * i + 1], x1, y1, arrow_width(p->individuals, st->amax, 16 * u, 1.6 * u), BEND,
                   1.5 * u, &hb);
        if (box_ok(hb) && place(st, DF__PLACED_HEAD, p->origin, p->dest, p->individuals, hb) != 0) goto oom;
    }
    free(lv), free(sx);
    return DF_OK;
oom:
    free(lv), free(sx);
    return df__error(st->ctx, DF_ENOMEM, "out of memory drawing flows");
}

/* A point inside the unit (GEOS point on surface) in pixels; -1 when none. */
static int unit_point(map_state *st, const view *v, int level, int unit, double *x, double *y)
{
    const GEOSGeometry *g = df__boundaries_geometry(st->m->b, level, unit);
    GEOSGeometry *p = g ? GEOSPointOnSurface_r(st->ctx->geos, g) : NULL;
    double lon, lat;
    int ok = p && GEOSGeomGetX_r(st->ctx->geos, p, &lon) == 1 && GEOSGeomGetY_r(st->ctx->geos, p, &lat) == 1;
    if (p) GEOSGeom_destroy_r(st->ctx->geos, p);
    return ok && point_pixel(v, lon, lat, x, y) == 0 ? 0 : -1;
}

/* The box's centre, and with all its corners, in the current path. */
static int box_inside(cairo_t *cr, box b, int corners)
{
    double cx = (b.x0 + b.x1) / 2, cy = (b.y0 + b.y1) / 2;
    if (!cairo_in_fill(cr, cx, cy)) return 0;
    return !corners || (cairo_in_fill(cr, b.x0, b.y0) && cairo_in_fill(cr, b.x1, b.y0) &&
                        cairo_in_fill(cr, b.x0, b.y1) && cairo_in_fill(cr, b.x1, b.y1));
}

/* A place for a w x h box near (x, y): the first candidate, nearest
 * first (steps rings of sx, sy apart), in room and inside the current path (with its corners when
 * corners, else its centre; inside = 0: anywhere). 0 found, -1 none. */
static int find_place(map_state *st, const view *v, double x, double y, double w, double h, int inside, int corners,
                      int steps, double sx, double sy, box *out)
{
    static const int dir[9][2] = {{0, 0}, {0, -1}, {0, 1}, {1, 0}, {-1, 0}, {1, -1}, {-1, -1}, {1, 1}, {-1, 1}};
    for (int k = 0; k <= steps; k++)
        for (int d = k == 0 ? 0 : 1; d < (k == 0 ? 1 : 9); d++) {
            double cx = x + dir[d][0] * k * sx, cy = y + dir[d][1] * k * sy;
            box b = {cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2};
            if (!room_for(st, v, b) || (inside && !box_inside(st->cr, b, corners))) continue;
            *out = b;
            return 0;
        }
    return -1;
}

/* Name and value of every unit with people, the largest first, each at
 * the nearest place near its point where the box stays inside the unit
 * (whole, else its centre) and meets no label, callout, arrowhead or
 * country name. A unit without room gets a numbered callout (listed in the
 * legend) at the nearest free place, inside it when it can be. */
static df_status draw_labels(map_state *st, const view *v)
{
    cairo_t *cr = st->cr;
    const df__map *m = st->m;
    double u = st->u;
    ranked *r = df__malloc((size_t)st->n * sizeof *r + 1);
    PangoLayout *line[3] = {NULL, NULL, NULL};
    int k = 0;
    st->callout = df__malloc((size_t)st->n * sizeof *st->callout + 1);
    if (!r || !st->callout) {
        free(r);
        return df__error(st->ctx, DF_ENOMEM, "out of memory drawing labels");
    }
    for (int i = 0; i < st->n; i++)
        if (m->value[i] > 0) r[k++] = (ranked){i, m->value[i]};
    qsort(r, (size_t)k, sizeof *r, cmp_ranked);
    for (int i = 0; i < k; i++) {
        double x, y;
        if (unit_point(st, v, m->level, r[i].unit, &x, &y) != 0) continue;
        char num[64];
        fmt_number(r[i].value, st->whole, num, sizeof num);
        /* the lines: the name (or the labels' names, the second under the first), the figure */
        line[0] = line[1] = line[2] = NULL;
        double lw[3] = {0, 0, 0}, lh[3] = {0, 0, 0}, w = 0, h = 0;
        int nl = 0;
        for (int j = 0; j < (st->nlab ? st->nlab : 1); j++) {
            const char *nm = st->nlab ? df__boundaries_name_in(m->b, m->level, st->lab_k[j], r[i].unit)
                                      : df__boundaries_unit(m->b, m->level, r[i].unit)->name;
            if (!nm || !*nm) continue;
            if (!(line[nl] = layout_text(st->pc, nm, (j ? 13 : 14) * u, j == 0))) goto oom_lines;
            layout_size(line[nl], &lw[nl], &lh[nl]);
            nl++;
        }
        if (!(line[nl] = layout_text(st->pc, num, 12.5 * u, 0))) goto oom_lines;
        layout_size(line[nl], &lw[nl], &lh[nl]);
        nl++;
        for (int j = 0; j < nl; j++) w = fmax(w, lw[j]), h += lh[j];
        w += 6 * u, h += 2 * u;
        box b;
        cairo_new_path(cr);
        if (path_geometry(st->ctx, cr, v, df__boundaries_geometry(m->b, m->level, r[i].unit), &st->c) != 0)
            goto oom_lines;
        int found = find_place(st, v, x, y, w, h, 1, 1, 5, 0.3 * w, 0.45 * h, &b) == 0 ||
                    find_place(st, v, x, y, w, h, 1, 0, 5, 0.3 * w, 0.45 * h, &b) == 0;
        if (found) {
            cairo_new_path(cr);
            double cx = (b.x0 + b.x1) / 2, ty = b.y0 + u;
            for (int j = 0; j < nl; j++) {
                layout_halo(cr, line[j], cx - lw[j] / 2, ty, 2.2 * u, j + 1 == nl ? 0.25 : 0.1);
                ty += lh[j];
            }
        }
        for (int j = 0; j < nl; j++) g_object_unref(line[j]), line[j] = NULL;
        if (found) {
            if (place(st, DF__PLACED_LABEL, r[i].unit, -1, r[i].value, b) != 0) goto oom;
            continue;
        }
        if (st->ncallouts >= MAX_CALLOUT) {
            cairo_new_path(cr);
            continue;
        }
        /* a numbered callout: inside the unit if it can be, else nearby */
        char id[16];
        snprintf(id, sizeof id, "%d", st->ncallouts + 1);
        font(cr, 12 * u, 1);
        double bw = fmax(20 * u, text_width(cr, id) + 8 * u), bh = 20 * u;
        if (find_place(st, v, x, y, bw, bh, 1, 0, 4, 0.6 * bw, 0.6 * bh, &b) != 0 &&
            find_place(st, v, x, y, bw, bh, 0, 0, 16, 0.6 * bw, 0.6 * bh, &b) != 0)
            b = (box){x - bw / 2, y - bh / 2, x + bw / 2, y + bh / 2}; /* no room anywhere near: on the point */
        cairo_new_path(cr);
        double cx = (b.x0 + b.x1) / 2, cy = (b.y0 + b.y1) / 2;
        if (fabs(cx - x) + fabs(cy - y) > bh) { /* a leader line back to the unit */
            cairo_move_to(cr, x, y);
            cairo_line_to(cr, cx, cy);
            cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
            cairo_set_line_width(cr, 1 * u);
            cairo_stroke(cr);
        }
        cairo_rectangle(cr, b.x0, b.y0, bw, bh);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_fill_preserve(cr);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        cairo_set_line_width(cr, 1.2 * u);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        cairo_move_to(cr, cx - text_width(cr, id) / 2, cy + 4.5 * u);
        cairo_show_text(cr, id);
        st->callout[st->ncallouts++] = r[i].unit;
        if (place(st, DF__PLACED_CALLOUT, r[i].unit, st->ncallouts, r[i].value, b) != 0) goto oom;
    }
    free(r);
    return DF_OK;
oom_lines:
    for (int j = 0; j < 3; j++)
        if (line[j]) g_object_unref(line[j]);
oom:
    free(r);
    cairo_new_path(cr);
    return df__error(st->ctx, DF_ENOMEM, "out of memory drawing labels");
}

/* ---- places: camps, towns (m->places) --------------------------------------------- */

/* The column of a header among its names, or -1. */
static int column_of(char **f, int n, const char *const *names)
{
    for (int i = 0; i < n; i++)
        for (int k = 0; names[k]; k++)
            if (!strcasecmp(f[i], names[k])) return i;
    return -1;
}

/* A coordinate of a row: a number within [-lim, lim], else an error that
 * names the file, the line, the column and the value. */
static df_status place_coord(df_ctx *ctx, const char *path, long line, const char *col, const char *v, double lim,
                             double *out)
{
    char *end;
    *out = strtod(v, &end);
    while (*end == ' ') end++;
    if (!*v || *end || !isfinite(*out))
        return df__error(ctx, DF_EINVAL, "%s:%ld: %s '%s' is not a number (decimal degrees, WGS84)", path, line, col,
                         v);
    if (fabs(*out) > lim)
        return df__error(ctx, DF_EINVAL, "%s:%ld: %s %s is outside -%g..%g", path, line, col, v, lim, lim);
    return DF_OK;
}

/* Read the places file: a header line naming the columns name, lat (or
 * latitude), lon (or longitude) and, optionally, kind (or place_type,
 * type): a kind that says "camp" is drawn as a camp. Every row must have
 * a name and both coordinates: a bad row is an error with file:line. */
static df_status load_places(map_state *st)
{
    static const char *const c_name[] = {"name", NULL}, *const c_lat[] = {"lat", "latitude", NULL},
                             *const c_lon[] = {"lon", "lng", "longitude", NULL},
                             *const c_kind[] = {"kind", "place_type", "type", NULL};
    const char *path = st->m->places;
    df__csv *csv = NULL;
    char **f;
    size_t *len;
    int nf, col[4] = {-1, -1, -1, -1}, cap = 0;
    long line;
    df_status s = df__csv_open(st->ctx, path, ',', &csv);
    if (s != DF_OK) return s;
    int r = df__csv_next(csv, &f, &len, &nf, &line);
    if (r == 1) {
        col[0] = column_of(f, nf, c_name), col[1] = column_of(f, nf, c_lat), col[2] = column_of(f, nf, c_lon);
        col[3] = column_of(f, nf, c_kind);
    }
    if (r != 1 || col[0] < 0 || col[1] < 0 || col[2] < 0) {
        s = r < 0 ? DF_EIO
                  : df__error(st->ctx, DF_EINVAL,
                              "%s:1: a places file needs a header line with the columns name, lat (or latitude) and "
                              "lon (or longitude); kind (camp, town ...) is optional; %s is missing",
                              path,
                              r != 1       ? "the header"
                              : col[0] < 0 ? "name"
                              : col[1] < 0 ? "lat"
                                           : "lon");
        goto done;
    }
    while (s == DF_OK && (r = df__csv_next(csv, &f, &len, &nf, &line)) == 1) {
        if (nf == 1 && !f[0][0]) continue; /* an empty line */
        double lat, lon;
        const char *name = col[0] < nf ? f[col[0]] : "";
        if (!*name) {
            s = df__error(st->ctx, DF_EINVAL, "%s:%ld: name is empty", path, line);
            break;
        }
        if ((s = place_coord(st->ctx, path, line, "lat", col[1] < nf ? f[col[1]] : "", 90, &lat)) != DF_OK ||
            (s = place_coord(st->ctx, path, line, "lon", col[2] < nf ? f[col[2]] : "", 180, &lon)) != DF_OK)
            break;
        if (st->nplaces == cap) {
            cap = cap ? 2 * cap : 16;
            double *a = df__realloc_array(st->place_lon, (size_t)cap, sizeof *a);
            if (a) st->place_lon = a;
            double *b = a ? df__realloc_array(st->place_lat, (size_t)cap, sizeof *b) : NULL;
            if (b) st->place_lat = b;
            char **c = b ? df__realloc_array(st->place_name, (size_t)cap, sizeof *c) : NULL;
            if (c) st->place_name = c;
            unsigned char *d = c ? df__realloc_array(st->place_camp, (size_t)cap, sizeof *d) : NULL;
            if (d) st->place_camp = d;
            int *e = d ? df__realloc_array(st->place_line, (size_t)cap, sizeof *e) : NULL;
            if (e) st->place_line = e;
            if (!e) {
                s = df__error(st->ctx, DF_ENOMEM, "out of memory reading %s", path);
                break;
            }
        }
        char kind[64];
        snprintf(kind, sizeof kind, "%s", col[3] >= 0 && col[3] < nf ? f[col[3]] : "");
        for (char *k = kind; *k; k++) *k = (char)tolower((unsigned char)*k);
        int i = st->nplaces;
        if (!(st->place_name[i] = df__strdup(name))) {
            s = df__error(st->ctx, DF_ENOMEM, "out of memory reading %s", path);
            break;
        }
        st->place_lon[i] = lon, st->place_lat[i] = lat, st->place_camp[i] = strstr(kind, "camp") != NULL;
        st->place_line[i] = (int)line;
        st->nplaces++;
    }
    if (s == DF_OK && r < 0) s = DF_EIO;
done:
    df__csv_close(csv);
    return s;
}

/* A camp: a triangle; another place: a dot in a ring. Centred at (x, y). */
static void place_symbol(cairo_t *cr, int camp, double x, double y, double u)
{
    cairo_new_path(cr);
    if (camp) {
        double r = 8 * u;
        cairo_move_to(cr, x, y - r);
        cairo_line_to(cr, x + r * 0.95, y + r * 0.65);
        cairo_line_to(cr, x - r * 0.95, y + r * 0.65);
        cairo_close_path(cr);
        cairo_set_source_rgb(cr, 0x0b / 255.0, 0x5e / 255.0, 0x9e / 255.0);
    } else {
        cairo_arc(cr, x, y, 6 * u, 0, 2 * M_PI);
        cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
    }
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_set_line_width(cr, 1.6 * u);
    cairo_stroke(cr);
}

/* The symbols of the places in the frame, placed so that unit labels keep
 * clear of them. */
static df_status draw_place_symbols(map_state *st, const view *v)
{
    double u = st->u;
    for (int i = 0; i < st->nplaces; i++) {
        double x, y, r = 9 * u;
        if (point_pixel(v, st->place_lon[i], st->place_lat[i], &x, &y) != 0 || x < v->fx || y < v->fy ||
            x > v->fx + v->fw || y > v->fy + v->fh)
            continue;
        place_symbol(st->cr, st->place_camp[i], x, y, u);
        if (st->place_camp[i])
            st->has_camp = 1;
        else
            st->has_town = 1;
        if (place(st, DF__PLACED_PLACE, i, -1, st->place_camp[i], (box){x - r, y - r, x + r, y + r}) != 0)
            return df__error(st->ctx, DF_ENOMEM, "out of memory drawing the map");
    }
    return DF_OK;
}

/* The names of the places drawn, after the units' labels: to the right of
 * the symbol, else left, above, below or at a corner; none where none has
 * room. */
static df_status draw_place_names(map_state *st, const view *v)
{
    double u = st->u;
    int nsym = st->pl->n;
    for (int k = 0; k < nsym; k++) {
        df__placed sym = st->pl->item[k];
        if (sym.kind != DF__PLACED_PLACE) continue;
        int i = sym.unit;
        double x = (sym.x0 + sym.x1) / 2, y = (sym.y0 + sym.y1) / 2, w, h;
        PangoLayout *lay = layout_text(st->pc, st->place_name[i], 12.5 * u, 0);
        if (!lay) return df__error(st->ctx, DF_ENOMEM, "out of memory drawing the map");
        layout_size(lay, &w, &h);
        double gap = 11 * u, d = 0.75 * gap; /* right, left, above, below, then the four corners */
        double at[8][2] = {{x + gap, y - h / 2},   {x - gap - w, y - h / 2}, {x - w / 2, y - gap - h},
                           {x - w / 2, y + gap},   {x + d, y - d - h},       {x + d, y + d},
                           {x - d - w, y - d - h}, {x - d - w, y + d}};
        for (int j = 0; j < 8; j++) {
            box b = {at[j][0], at[j][1], at[j][0] + w, at[j][1] + h};
            if (!room_for(st, v, b)) continue;
            layout_halo(st->cr, lay, b.x0, b.y0, 2 * u, 0.12);
            if (place(st, DF__PLACED_PLACE_NAME, i, -1, 0, b) != 0) {
                g_object_unref(lay);
                return df__error(st->ctx, DF_ENOMEM, "out of memory drawing the map");
            }
            snprintf(st->pl->item[st->pl->n - 1].text, sizeof st->pl->item->text, "%s", st->place_name[i]);
            break;
        }
        g_object_unref(lay);
    }
    return DF_OK;
}

static void free_places(map_state *st)
{
    for (int i = 0; i < st->nplaces; i++) free(st->place_name[i]);
    free(st->place_name), free(st->place_lon), free(st->place_lat), free(st->place_camp), free(st->place_line);
}

/* ---- neighbouring countries -------------------------------------------------------- */

/* The countries file read once per process, as WKB and names: a run draws
 * it on each map picture, twice on the PDF's map (two passes) and on the
 * web map, and each read parsed its GeoJSON again (0.07 s). Each map then
 * makes its own GEOS geometries from the WKB, in its own context. Kept
 * until the process ends; read again only for another path. */
typedef struct {
    unsigned char *wkb; /* NULL: a feature without a usable geometry, skipped */
    size_t size;
    char *name; /* NULL: none */
} country_wkb;

static struct {
    pthread_mutex_t lock;
    char path[4096];
    country_wkb *c;
    int n, loaded;
} countries_read = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void countries_read_free(void)
{
    for (int i = 0; i < countries_read.n; i++) free(countries_read.c[i].wkb), free(countries_read.c[i].name);
    free(countries_read.c);
    countries_read.c = NULL, countries_read.n = 0, countries_read.loaded = 0;
}

/* Read path into countries_read (its lock held): 1 read, 0 not readable,
 * -1 out of memory. */
static int countries_read_file(const char *path)
{
    CPLPushErrorHandler(CPLQuietErrorHandler);
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    CPLPopErrorHandler();
    OGRLayerH layer = ds ? GDALDatasetGetLayer(ds, 0) : NULL;
    if (!layer) {
        if (ds) GDALClose(ds);
        return 0;
    }
    countries_read_free();
    int nf = (int)OGR_L_GetFeatureCount(layer, 1), failed = 0;
    int name_idx = OGR_FD_GetFieldIndex(OGR_L_GetLayerDefn(layer), "NAME");
    countries_read.c = df__malloc(((size_t)nf + 1) * sizeof *countries_read.c);
    failed = !countries_read.c;
    OGRFeatureH f;
    OGR_L_ResetReading(layer);
    while (!failed && countries_read.n < nf && (f = OGR_L_GetNextFeature(layer)) != NULL) {
        OGRGeometryH g = OGR_F_GetGeometryRef(f);
        country_wkb *c = &countries_read.c[countries_read.n++];
        *c = (country_wkb){.size = g ? (size_t)OGR_G_WkbSize(g) : 0};
        c->wkb = c->size ? df__malloc(c->size) : NULL;
        failed = c->size && !c->wkb;
        if (c->wkb && OGR_G_ExportToWkb(g, wkbNDR, c->wkb) != OGRERR_NONE) free(c->wkb), c->wkb = NULL;
        const char *nm =
            name_idx >= 0 && OGR_F_IsFieldSetAndNotNull(f, name_idx) ? OGR_F_GetFieldAsString(f, name_idx) : NULL;
        if (c->wkb && nm && !(c->name = df__strdup(nm))) failed = 1;
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
    if (failed) {
        countries_read_free();
        return -1;
    }
    snprintf(countries_read.path, sizeof countries_read.path, "%s", path);
    countries_read.loaded = 1;
    return 1;
}

/* The Natural Earth countries shipped in shapes/ (public domain; see
 * shapes/README.md): the land around the units, the sea where none is.
 * Without the file the map has no neighbours, and says so in the log; out
 * of memory is an error, never a map quietly without them. */
static df_status load_countries(map_state *st)
{
    const char *dir = df_shapes_dir();
    char path[4096];
    if (!dir) {
        df__log(st->ctx, DF_LOG_DEBUG, "map: the shapes folder is not found: no neighbouring countries");
        return DF_OK;
    }
    snprintf(path, sizeof path, "%s/%s", dir, COUNTRIES);
    pthread_mutex_lock(&countries_read.lock);
    int got = countries_read.loaded && !strcmp(countries_read.path, path) ? 1 : countries_read_file(path);
    if (got <= 0) {
        pthread_mutex_unlock(&countries_read.lock);
        if (got < 0) return df__error(st->ctx, DF_ENOMEM, "out of memory reading %s", COUNTRIES);
        df__log(st->ctx, DF_LOG_DEBUG, "map: %s is not readable: no neighbouring countries", COUNTRIES);
        return DF_OK;
    }
    int nf = countries_read.n, failed = 0;
    st->country = df__malloc(((size_t)nf + 1) * sizeof *st->country);
    st->country_name = df__malloc(((size_t)nf + 1) * sizeof *st->country_name);
    st->country_box = df__malloc(((size_t)nf + 1) * sizeof *st->country_box);
    failed = !st->country || !st->country_name || !st->country_box;
    for (int i = 0; !failed && i < nf; i++) {
        const country_wkb *c = &countries_read.c[i];
        if (!c->wkb) continue;
        GEOSGeometry *gg = GEOSGeomFromWKB_buf_r(st->ctx->geos, c->wkb, c->size);
        char *name = c->name ? df__strdup(c->name) : NULL;
        if (gg && (name || !c->name)) {
            st->country_box[st->ncountries] = box_empty();
            box_add_geometry(st->ctx, &st->country_box[st->ncountries], gg);
            st->country[st->ncountries] = gg, st->country_name[st->ncountries++] = name;
        } else {
            failed = c->name && !name;
            if (gg) GEOSGeom_destroy_r(st->ctx->geos, gg);
        }
    }
    pthread_mutex_unlock(&countries_read.lock);
    return failed ? df__error(st->ctx, DF_ENOMEM, "out of memory reading %s", COUNTRIES) : DF_OK;
}

static void free_countries(map_state *st)
{
    for (int i = 0; i < st->ncountries; i++) {
        GEOSGeom_destroy_r(st->ctx->geos, st->country[i]);
        free(st->country_name[i]);
    }
    free(st->country), free(st->country_name), free(st->country_box);
    st->country = NULL, st->country_name = NULL, st->country_box = NULL, st->ncountries = 0;
}

static const double sea_rgb[3] = {0xd4, 0xe6, 0xf1}, land_rgb[3] = {0xf1, 0xef, 0xe8};

/* Cut the countries to st->near: a far part (Russia's east on a map of
 * Iraq) is outside the UTM zone's reach and would draw chords. 0 ok, -1
 * out of memory. */
static int clip_countries(map_state *st)
{
    for (int i = 0; i < st->ncountries; i++) {
        box b = st->country_box[i], n = st->near;
        if (!boxes_meet(b, n) || (b.x0 >= n.x0 && b.x1 <= n.x1 && b.y0 >= n.y0 && b.y1 <= n.y1)) continue;
        GEOSGeometry *g = GEOSClipByRect_r(st->ctx->geos, st->country[i], n.x0, n.y0, n.x1, n.y1);
        if (!g) return -1;
        GEOSGeom_destroy_r(st->ctx->geos, st->country[i]);
        st->country[i] = g;
    }
    return 0;
}

/* Country i lies near the map (the world file holds every country: the
 * others are far off and would only cost projecting them). */
static int country_near(const map_state *st, int i) { return boxes_meet(st->country_box[i], st->near); }

/* The countries as land, in two passes: filled and outlined wide in the
 * land colour, which closes the slivers that simplifying each country on
 * its own leaves along shared borders, then the borders thin and grey. */
static df_status draw_countries(map_state *st, const view *v)
{
    cairo_t *cr = st->cr;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < st->ncountries; i++) {
            if (!country_near(st, i)) continue;
            if (path_geometry(st->ctx, cr, v, st->country[i], &st->c) != 0)
                return df__error(st->ctx, DF_ENOMEM, "out of memory drawing the map");
            if (pass == 0) {
                set_rgb(cr, land_rgb);
                cairo_fill_preserve(cr);
                cairo_set_line_width(cr, 5 * st->u);
            } else {
                cairo_set_source_rgb(cr, 0.62, 0.62, 0.62);
                cairo_set_line_width(cr, 1.1 * st->u);
            }
            cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
            cairo_stroke(cr);
        }
    return DF_OK;
}

/* Each neighbour's name, in capitals, where a box of it lies in the country
 * and off every unit of the map, clear of what is placed; none where it
 * cannot. */
static df_status draw_country_names(map_state *st, const view *v)
{
    cairo_t *cr = st->cr;
    double u = st->u;
    cairo_new_path(cr);
    for (int i = 0; i < st->n; i++)
        if (path_geometry(st->ctx, cr, v, df__boundaries_geometry(st->m->b, st->m->level, i), &st->c) != 0)
            return df__error(st->ctx, DF_ENOMEM, "out of memory drawing the map");
    /* the units' outline, filled by the winding rule, in a context of its
     * own (on a pixel of its own, the same matrix): each candidate box is
     * tested against it as it stands, where appending it again to the
     * country's path for every candidate was most of the PDF's time */
    cairo_path_t *units = cairo_copy_path(cr);
    cairo_new_path(cr);
    cairo_surface_t *pixel = cairo_image_surface_create(CAIRO_FORMAT_A8, 1, 1);
    cairo_t *cu = cairo_create(pixel);
    cairo_matrix_t mx;
    cairo_get_matrix(cr, &mx);
    cairo_set_matrix(cu, &mx);
    cairo_set_tolerance(cu, cairo_get_tolerance(cr));
    cairo_append_path(cu, units);
    cairo_set_fill_rule(cu, CAIRO_FILL_RULE_WINDING);
    cairo_path_destroy(units);
    df_status s = cairo_status(cu) == CAIRO_STATUS_SUCCESS
                      ? DF_OK
                      : df__error(st->ctx, DF_ENOMEM, "out of memory drawing the map");
    for (int i = 0; s == DF_OK && i < st->ncountries; i++) {
        char name[128];
        if (!st->country_name[i] || !country_near(st, i)) continue;
        size_t j = 0;
        for (; st->country_name[i][j] && j + 1 < sizeof name; j++)
            name[j] = (char)toupper((unsigned char)st->country_name[i][j]);
        name[j] = 0;
        cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_ITALIC, CAIRO_FONT_WEIGHT_NORMAL);
        cairo_set_font_size(cr, 16 * u);
        double w = text_width(cr, name) + 4 * u, h = 20 * u, x0, y0, x1, y1;
        if (path_geometry(st->ctx, cr, v, st->country[i], &st->c) != 0) break;
        cairo_path_extents(cr, &x0, &y0, &x1, &y1);
        x0 = fmax(x0, v->fx), y0 = fmax(y0, v->fy), x1 = fmin(x1, v->fx + v->fw), y1 = fmin(y1, v->fy + v->fh);
        box found = box_empty();
        /* a grid over the visible part, from its centre outwards */
        for (int ring = 0; ring <= 6 && !box_ok(found) && x1 - x0 > w && y1 - y0 > h; ring++)
            for (int gx = -ring; gx <= ring && !box_ok(found); gx++)
                for (int gy = -ring; gy <= ring && !box_ok(found); gy++) {
                    if (abs(gx) != ring && abs(gy) != ring) continue;
                    double cx = (x0 + x1) / 2 + gx * (x1 - x0 - w) / 12, cy = (y0 + y1) / 2 + gy * (y1 - y0 - h) / 12;
                    box b = {cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2};
                    if (!room_for(st, v, b) || !box_inside(cr, b, 1)) continue;
                    if (!cairo_in_fill(cu, b.x0, b.y0) && !cairo_in_fill(cu, b.x1, b.y0) &&
                        !cairo_in_fill(cu, b.x0, b.y1) && !cairo_in_fill(cu, b.x1, b.y1) && !cairo_in_fill(cu, cx, cy))
                        found = b;
                }
        cairo_new_path(cr);
        if (!box_ok(found)) continue;
        text_halo(cr, name, found.x0 + 2 * u, found.y1 - 5 * u, 2 * u, 0.45);
        int placed = place(st, DF__PLACED_COUNTRY, i, -1, 0, found);
        if (placed == 0)
            snprintf(st->pl->item[st->pl->n - 1].text, sizeof st->pl->item->text, "%s", st->country_name[i]);
        else
            s = df__error(st->ctx, DF_ENOMEM, "out of memory drawing the map");
    }
    cairo_destroy(cu);
    cairo_surface_destroy(pixel);
    return s;
}

/* The legend's classes: every class, each week the same rows (the labels
 * are the breaks, not the data), then 0, not assessed and no data. */
static double legend_classes(map_state *st, double x, double y)
{
    cairo_t *cr = st->cr;
    double u = st->u;
    char lo[64], hi[64], row[160];
    for (int c = 0; c <= st->nb && st->nb + st->has_positive > 0; c++) {
        double rgb[3];
        class_rgb(c, st->nb + 1, rgb);
        if (c > 0) fmt_number(st->whole ? st->breaks[c - 1] + 1 : st->breaks[c - 1], st->whole, lo, sizeof lo);
        if (c < st->nb) fmt_number(st->breaks[c], st->whole, hi, sizeof hi);
        if (st->nb == 0)
            snprintf(row, sizeof row, "more than 0");
        else if (c == 0)
            snprintf(row, sizeof row, st->whole ? "1 \u2013 %s" : "up to %s", hi);
        else if (c == st->nb)
            fmt_number(st->breaks[c - 1], st->whole, hi, sizeof hi), snprintf(row, sizeof row, "more than %s", hi);
        else
            snprintf(row, sizeof row, "%s \u2013 %s", lo, hi);
        y = legend_swatch(cr, x, y, rgb, row, u);
    }
    if (st->has_zero && !st->m->circles)
        y = legend_swatch(cr, x, y, zero_rgb, "0", u); /* circles: white is every unit */
    if (st->has_unassessed) {
        legend_swatch(cr, x, y, zero_rgb, "Not assessed", u);
        cairo_rectangle(cr, x, y, 34 * u, 20 * u);
        hatch(cr, u);
        cairo_new_path(cr);
        y += 28 * u;
    }
    if (st->has_no_data) y = legend_swatch(cr, x, y, no_data_rgb, st->m->no_data ? st->m->no_data : "No data", u);
    return y;
}

/* Circle areas: the top break and one two breaks below, steady. */
static double legend_circles(map_state *st, double x, double y)
{
    cairo_t *cr = st->cr;
    double u = st->u;
    char lo[64];
    double vals[2] = {circle_scale(st), st->nb >= 3 ? st->breaks[st->nb - 3] : circle_scale(st) / 4};
    y += 8 * u;
    for (int i = 0; i < (vals[1] > 0 && vals[1] < vals[0] ? 2 : 1); i++) {
        double rr = circle_radius(st, vals[i]);
        cairo_new_sub_path(cr);
        cairo_arc(cr, x + CIRCLE_R * u, y + rr, rr, 0, 2 * M_PI);
        cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
        cairo_set_line_width(cr, 1.2 * u);
        cairo_stroke(cr);
        fmt_number(vals[i], st->whole, lo, sizeof lo);
        font(cr, 14 * u, 0);
        cairo_move_to(cr, x + 2 * CIRCLE_R * u + 12 * u, y + rr + 5 * u);
        cairo_show_text(cr, lo);
        y += 2 * rr + 6 * u;
    }
    return y;
}

/* The flows: a heading, arrow widths by the square root of individuals
 * (the largest arrow and a round value near a quarter of it), the ring of
 * a flow within one unit. */
static double legend_flows(map_state *st, double x, double y, double w)
{
    cairo_t *cr = st->cr;
    double u = st->u;
    char lo[64], row[160];
    y += 14 * u;
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    text_fit(cr, "Displacement flows, individuals", x, y + 16 * u, 17 * u, 1, w);
    y += 24 * u;
    snprintf(row, sizeof row, "the %d largest flows of the report's table, all dates", st->npairs);
    cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
    text_fit(cr, row, x, y + 12 * u, 12.5 * u, 0, w);
    y += 22 * u;
    double amax = st->amax, vals[2] = {amax, round_sig(amax / 4, 1, 1)};
    int nv = amax <= 0 ? 0 : vals[1] >= 1 && vals[1] < amax ? 2 : 1;
    for (int i = 0; i < nv; i++) {
        double aw = arrow_width(vals[i], st->amax, 16 * u, 1.6 * u), h = fmax(aw * 2.6, 20 * u);
        draw_arrow(cr, x, y + h / 2, x + 70 * u, y + h / 2, aw, 0, 1.5 * u, NULL);
        fmt_number(vals[i], 1, lo, sizeof lo);
        cairo_set_source_rgb(cr, 0.12, 0.12, 0.12);
        font(cr, 14 * u, 0);
        cairo_move_to(cr, x + 82 * u, y + h / 2 + 5 * u);
        cairo_show_text(cr, lo);
        y += h + 4 * u;
    }
    if (st->nring > 0) { /* within one unit: a ring, area by individuals */
        double rr = ring_radius(st, st->ring_max), cx = x + 35 * u, tx = fmax(cx + rr, x + 70 * u) + 12 * u;
        cairo_new_sub_path(cr);
        cairo_arc(cr, cx, y + rr + 2 * u, rr, 0, 2 * M_PI);
        set_rgb(cr, flow_rgb);
        cairo_set_line_width(cr, 3 * u);
        cairo_stroke(cr);
        fmt_number(st->ring_max, 1, lo, sizeof lo);
        snprintf(row, sizeof row, "%s within one unit", lo);
        cairo_set_source_rgb(cr, 0.12, 0.12, 0.12);
        text_fit(cr, row, tx, y + rr + 7 * u, 14 * u, 0, w - (tx - x));
        y += 2 * rr + 10 * u;
    }
    return y;
}

/* The places' symbols drawn: camps, other places. */
static double legend_places(map_state *st, double x, double y)
{
    double u = st->u;
    for (int camp = 1; camp >= 0; camp--) {
        if (!(camp ? st->has_camp : st->has_town)) continue;
        place_symbol(st->cr, camp, x + 17 * u, y + 10 * u, u);
        cairo_set_source_rgb(st->cr, 0.12, 0.12, 0.12);
        font(st->cr, 14 * u, 0);
        cairo_move_to(st->cr, x + 46 * u, y + 15 * u);
        cairo_show_text(st->cr, camp ? "Camp" : "Place");
        y += 26 * u;
    }
    return y;
}

/* The units whose label found no room on the map, numbered: up to 3
 * columns above bottom. */
static double legend_callouts(map_state *st, double x, double y, double w, double bottom)
{
    const df__map *m = st->m;
    double u = st->u, rh = 16 * u;
    char lo[64], row[160];
    y += 10 * u;
    int rows = (int)floor((bottom - y) / rh), cols = 1;
    if (rows < 1) rows = 1;
    while (cols < 3 && rows * cols < st->ncallouts) cols++;
    int shown = st->ncallouts <= rows * cols ? st->ncallouts : rows * cols - 1;
    for (int i = 0; i < shown; i++) {
        const char *name = df__boundaries_unit(m->b, m->level, st->callout[i])->name;
        fmt_number(m->value[st->callout[i]], st->whole, lo, sizeof lo);
        snprintf(row, sizeof row, "%d %s: %s", i + 1, name ? name : "", lo);
        cairo_set_source_rgb(st->cr, 0.12, 0.12, 0.12);
        text_fit(st->cr, row, x + (i / rows) * w / cols, y + (i % rows) * rh + 12 * u, 11.5 * u, 0, w / cols - 6 * u);
    }
    if (shown < st->ncallouts) {
        snprintf(row, sizeof row, "+%d more", st->ncallouts - shown);
        text_fit(st->cr, row, x + (shown / rows) * w / cols, y + (shown % rows) * rh + 12 * u, 11.5 * u, 0,
                 w / cols - 6 * u);
    }
    return y + (st->ncallouts < rows ? st->ncallouts : rows) * rh;
}

/* The legend panel at (x, y), w wide: its title, the classes, circles,
 * flows, boundaries and the callouts' list (down to bottom). Returns the
 * bottom of what it drew. */
static double draw_legend(map_state *st, double x, double y, double w, double bottom)
{
    cairo_t *cr = st->cr;
    const df__map *m = st->m;
    double u = st->u;
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    text_fit(cr, m->legend ? m->legend : "Value", x, y + 18 * u, 17 * u, 1, w);
    y = legend_classes(st, x, y + 32 * u);
    if (m->circles && st->vmax > 0) y = legend_circles(st, x, y);
    if (st->npairs > 0) y = legend_flows(st, x, y, w);
    y += 14 * u;
    char word[96];
    if (st->level1 || m->level == 1)
        y = legend_line(cr, x, y, 0.25, 1.6 * u, boundary_word(m->b, 1, word, sizeof word), u);
    if (m->level != 1) y = legend_line(cr, x, y, 0.55, 0.9 * u, boundary_word(m->b, m->level, word, sizeof word), u);
    if (st->has_camp || st->has_town) y = legend_places(st, x, y + 6 * u);
    if (st->ncallouts > 0) y = legend_callouts(st, x, y, w, bottom);
    return y;
}

/* The overview: every unit of the level (or the governorates) small, and a
 * red box where the main map lies, so a reader knows where it is. */
static df_status draw_overview(map_state *st, const view *main_view, double x, double y, double w, double h)
{
    cairo_t *cr = st->cr;
    box ll = box_empty();
    for (int i = 0; i < st->n; i++) box_add_geometry(st->ctx, &ll, df__boundaries_geometry(st->m->b, st->m->level, i));
    if (!box_ok(ll)) return DF_OK;
    view v = {main_view->pj, 0, 0, 0, x, y, w, h};
    view_fit(&v, metric_box(&v, ll), 0.03);
    cairo_save(cr);
    cairo_rectangle(cr, x, y, w, h);
    cairo_clip(cr);
    df_status s = draw_units(st, &v, 1);
    /* the main frame's corners, from main metres to overview pixels */
    double fx0 = main_view->mx, fy0 = main_view->my;
    double fx1 = fx0 + main_view->fw / main_view->s, fy1 = fy0 - main_view->fh / main_view->s;
    to_pixel(&v, &fx0, &fy0);
    to_pixel(&v, &fx1, &fy1);
    /* kept inside the inset, so that all four sides show */
    double in = 2 * st->u;
    fx0 = fmax(fx0, x + in), fy0 = fmax(fy0, y + in), fx1 = fmin(fx1, x + w - in), fy1 = fmin(fy1, y + h - in);
    cairo_rectangle(cr, fx0, fy0, fx1 - fx0, fy1 - fy0);
    if (place(st, DF__PLACED_INSET, -1, -1, 0, (box){fx0, fy0, fx1, fy1}) != 0)
        s = df__error(st->ctx, DF_ENOMEM, "out of memory drawing the map");
    cairo_set_source_rgb(cr, 0.85, 0.1, 0.1);
    cairo_set_line_width(cr, 1.8 * st->u);
    cairo_stroke(cr);
    cairo_restore(cr);
    cairo_rectangle(cr, x, y, w, h);
    cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
    cairo_set_line_width(cr, 0.8 * st->u);
    cairo_stroke(cr);
    return s;
}

/* The main frame shows every unit of the level: no locator inset then
 * (it would only repeat the map). */
static int covers_all(map_state *st, const view *v)
{
    box ll = box_empty();
    for (int i = 0; i < st->n; i++) box_add_geometry(st->ctx, &ll, df__boundaries_geometry(st->m->b, st->m->level, i));
    if (!box_ok(ll)) return 1;
    box mb = metric_box(v, ll);
    double x0 = v->mx, x1 = v->mx + v->fw / v->s, y1 = v->my, y0 = v->my - v->fh / v->s;
    return mb.x0 >= x0 && mb.x1 <= x1 && mb.y0 >= y0 && mb.y1 <= y1;
}

/* The map's lon/lat extent: units with a value > 0 and the arrows' ends;
 * all units when none has. */
static box map_extent(map_state *st)
{
    box ll = box_empty();
    for (int i = 0; i < st->n; i++)
        if (st->m->value[i] > 0) box_add_geometry(st->ctx, &ll, df__boundaries_geometry(st->m->b, st->m->level, i));
    for (int i = 0; i < st->npairs; i++) {
        if (!st->pairs[i].ok) continue;
        box_add(&ll, st->pairs[i].x0, st->pairs[i].y0);
        box_add(&ll, st->pairs[i].x1, st->pairs[i].y1);
    }
    if (!box_ok(ll))
        for (int i = 0; i < st->n; i++)
            box_add_geometry(st->ctx, &ll, df__boundaries_geometry(st->m->b, st->m->level, i));
    return ll;
}

/* UTM point scale k and the direction of true north (clockwise from grid
 * up, radians) at lon/lat, from two short steps: conformal, so the scale
 * along the parallel is the scale. True length of 0.01 degree of the
 * parallel on the WGS84 ellipsoid: N cos(lat) dlon. */
static void utm_local(const view *v, double lon, double lat, double *k, double *north)
{
    const double a = 6378137.0, e2 = 0.00669437999014, d = 0.01, rad = M_PI / 180;
    double x[3] = {lon, lon + d, lon}, y[3] = {lat, lat, lat + d};
    project(v, x, y, 3);
    double sl = sin(lat * rad), nrad = a / sqrt(1 - e2 * sl * sl), true_m = nrad * cos(lat * rad) * d * rad;
    double grid_m = hypot(x[1] - x[0], y[1] - y[0]);
    *k = true_m > 0 && grid_m > 0 && isfinite(grid_m) ? grid_m / true_m : 1;
    *north = atan2(x[2] - x[0], y[2] - y[0]);
    if (!isfinite(*north)) *north = 0;
}

static df_status check_map(df_ctx *ctx, const df__map *m, const char *path)
{
    if (!m || !m->b || !m->value || !path)
        return df__error(ctx, DF_EINVAL, "map %s: boundaries and values are required", path ? path : "(null)");
    if (m->level < 1 || m->level > 3 || df_boundaries_count(m->b, m->level) <= 0)
        return df__error(ctx, DF_EINVAL, "map %s: no units at admin level %d", path, m->level);
    if (m->width < 0 || m->height < 0 || m->width > 20000 || m->height > 20000 || (m->width && m->width < 400) ||
        (m->height && m->height < 300))
        return df__error(ctx, DF_EINVAL, "map %s: size %d x %d is out of range (400 x 300 to 20000 x 20000)", path,
                         m->width, m->height);
    return DF_OK;
}

/* Prepare the levels drawn and those the arrows end in. */
static df_status prepare_levels(df_ctx *ctx, const df__map *m, int *level1)
{
    df_status s = df_boundaries_prepare(ctx, m->b, m->level);
    *level1 = m->level != 1 && df_boundaries_count(m->b, 1) > 0;
    if (s == DF_OK && *level1) s = df_boundaries_prepare(ctx, m->b, 1);
    if (s == DF_OK && m->flows) s = df_boundaries_prepare(ctx, m->b, df__flows_origin_level(m->flows));
    if (s == DF_OK && m->flows) s = df_boundaries_prepare(ctx, m->b, df__flows_dest_level(m->flows));
    return s;
}

/* The job's logo (a PNG) with its right edge at x, top at y, at most h
 * high; returns the width it took (0: none). An SVG logo is for the
 * report only: cairo reads no SVG. */
static double draw_logo(map_state *st, double x, double y, double h)
{
    const char *path = st->m->logo, *dot = path ? strrchr(path, '.') : NULL;
    if (!path || (dot && !strcmp(dot, ".svg"))) return 0;
    cairo_surface_t *img = cairo_image_surface_create_from_png(path);
    double w = 0;
    int iw = cairo_image_surface_get_width(img), ih = cairo_image_surface_get_height(img);
    if (cairo_surface_status(img) == CAIRO_STATUS_SUCCESS && iw > 0 && ih > 0) {
        double scale = fmin(h / ih, 3 * h / iw);
        w = iw * scale;
        cairo_save(st->cr);
        cairo_translate(st->cr, x - w, y);
        cairo_scale(st->cr, scale, scale);
        cairo_set_source_surface(st->cr, img, 0, 0);
        cairo_paint(st->cr);
        cairo_restore(st->cr);
        w += 16 * st->u;
    } else {
        df__log(st->ctx, DF_LOG_WARN, "map: cannot read the logo %s as PNG: left out", path);
    }
    cairo_surface_destroy(img);
    return w;
}

/* Draw everything on cr (W x H). */
static df_status draw_map(map_state *st, int W, int H)
{
    cairo_t *cr = st->cr;
    const df__map *m = st->m;
    double u = fmin(W / 1600.0, H / 1200.0) * (m->text_scale > 0 ? m->text_scale : 1), margin = 24 * u,
           header = 104 * u, footer = 64 * u;
    double panel_w = 330 * u, panel_x = W - margin - panel_w;
    st->u = u;
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    /* the labels' font map and context, for cr's transformation (the PDF's scale) */
    st->fm = pango_cairo_font_map_new();
    st->pc = st->fm ? pango_font_map_create_context(st->fm) : NULL;
    if (!st->pc) return df__error(st->ctx, DF_ENOMEM, "out of memory drawing the map");
    pango_cairo_update_context(cr, st->pc);

    /* the view: the UTM zone of the extent's centre */
    box ll = map_extent(st);
    if (!box_ok(ll)) return df__error(st->ctx, DF_EINVAL, "map: the units have no geometry");
    double clon = (ll.x0 + ll.x1) / 2, clat = (ll.y0 + ll.y1) / 2;
    int zone = (int)floor((clon + 180) / 6) + 1;
    zone = zone < 1 ? 1 : zone > 60 ? 60 : zone;
    char crs[32];
    snprintf(crs, sizeof crs, "EPSG:%d", (clat >= 0 ? 32600 : 32700) + zone);
    PJ *raw = proj_create_crs_to_crs(st->ctx->proj, "EPSG:4326", crs, NULL);
    PJ *pj = raw ? proj_normalize_for_visualization(st->ctx->proj, raw) : NULL;
    if (raw) proj_destroy(raw);
    if (!pj)
        return df__error(st->ctx, DF_EPROJ, "map: cannot transform WGS84 to %s: %s", crs,
                         proj_context_errno_string(st->ctx->proj, proj_context_errno(st->ctx->proj)));
    df__log(st->ctx, DF_LOG_DEBUG, "map: drawn in %s (UTM zone %d%s, the zone of the extent's centre)", crs, zone,
            clat >= 0 ? "N" : "S");
    view v = {pj, 0, 0, 0, margin, header, panel_x - 18 * u - margin, H - header - footer};
    view_fit(&v, metric_box(&v, ll), 0.08);
    /* the countries near enough to show: the extent and as much again around it */
    double dx = fmin(fmax(ll.x1 - ll.x0, 2), 30), dy = fmin(fmax(ll.y1 - ll.y0, 2), 30);
    st->near = (box){ll.x0 - dx, fmax(ll.y0 - dy, -89), ll.x1 + dx, fmin(ll.y1 + dy, 89)};
    if (clip_countries(st) != 0) {
        proj_destroy(pj);
        return df__error(st->ctx, DF_ENOMEM, "out of memory drawing the map");
    }

    /* the map frame: a cool grey ground, then units, arrows, labels */
    df_status s;
    cairo_save(cr);
    cairo_rectangle(cr, v.fx, v.fy, v.fw, v.fh);
    cairo_clip(cr);
    /* the sea where the countries are known, else a cool grey ground */
    if (st->ncountries > 0)
        set_rgb(cr, sea_rgb);
    else
        cairo_set_source_rgb(cr, 0xf2 / 255.0, 0xf4 / 255.0, 0xf7 / 255.0);
    cairo_paint(cr);
    s = draw_countries(st, &v);
    if (s == DF_OK) s = draw_units(st, &v, 0);
    if (s == DF_OK && m->circles) s = draw_circles(st, &v);
    if (s == DF_OK) s = draw_flows(st, &v);
    if (s == DF_OK) s = draw_place_symbols(st, &v);
    if (s == DF_OK) s = draw_country_names(st, &v);
    if (s == DF_OK) s = draw_labels(st, &v);
    if (s == DF_OK) s = draw_place_names(st, &v);
    cairo_restore(cr);
    cairo_rectangle(cr, v.fx, v.fy, v.fw, v.fh);
    cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
    cairo_set_line_width(cr, 1 * u);
    cairo_stroke(cr);

    /* title and dates above (the logo at the right), credits, disclaimer and map ID below */
    double logo_w = draw_logo(st, W - margin, 12 * u, 80 * u);
    cairo_set_source_rgb(cr, 0.08, 0.08, 0.08);
    text_fit(cr, m->title ? m->title : "", margin, 50 * u, 30 * u, 1, W - 2 * margin - logo_w);
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    text_fit(cr, m->subtitle ? m->subtitle : "", margin, 84 * u, 19 * u, 0, W - 2 * margin - logo_w);
    double id_w = 0;
    if (m->map_id) {
        font(cr, 12.5 * u, 1);
        id_w = text_width(cr, m->map_id) + 16 * u;
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        cairo_move_to(cr, W - margin - id_w + 16 * u, H - 38 * u);
        cairo_show_text(cr, m->map_id);
    }
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    text_fit(cr, m->source ? m->source : "", margin, H - 38 * u, 12.5 * u, 0, W - 2 * margin - id_w);
    cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
    text_fit(cr, m->disclaimer ? m->disclaimer : "", margin, H - 16 * u, 11.5 * u, 0, W - 2 * margin);

    /* the panel: legend on top; overview, scale bar and north arrow below */
    if (s == DF_OK) {
        double ov_h = 230 * u, ov_y = v.fy + v.fh - ov_h, k, north;
        draw_legend(st, panel_x, header, panel_w, ov_y - 80 * u);
        utm_local(&v, clon, clat, &k, &north);
        draw_scale_bar(cr, &v, k, panel_x, ov_y - 62 * u, panel_w - 90 * u, u);
        draw_north(cr, panel_x + panel_w - 30 * u, ov_y - 58 * u, north, u);
        font(cr, 11 * u, 0);
        cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
        char note[96];
        snprintf(note, sizeof note, "Projection: WGS 84 / UTM zone %d%c (%s)", zone, clat >= 0 ? 'N' : 'S', crs);
        text_fit(cr, note, panel_x, ov_y - 12 * u, 11 * u, 0, panel_w);
        if (!covers_all(st, &v)) s = draw_overview(st, &v, panel_x, ov_y, panel_w, ov_h);
    }
    proj_destroy(pj);
    if (s == DF_OK && cairo_status(cr) != CAIRO_STATUS_SUCCESS)
        s = df__error(st->ctx, cairo_status(cr) == CAIRO_STATUS_NO_MEMORY ? DF_ENOMEM : DF_EIO, "map: cairo: %s",
                      cairo_status_to_string(cairo_status(cr)));
    return s;
}

/* Classes, legend rows and arrows: everything known before drawing. */
static df_status map_setup(map_state *st)
{
    const df__map *m = st->m;
    st->whole = 1;
    for (int i = 0; i < st->n; i++) {
        double val = m->value[i];
        if (val > 0 && val != floor(val)) st->whole = 0;
        int unassessed = m->not_assessed && m->not_assessed[i];
        if (val == 0 && !unassessed) st->has_zero = 1;
        if ((val < 0 || isnan(val)) && !unassessed) st->has_no_data = 1;
        st->has_unassessed |= unassessed;
        if (val > 0) st->has_positive = 1, st->vmax = fmax(st->vmax, val);
    }
    if (m->breaks) { /* the report's classes: the same on every map */
        st->nb = m->nbreaks < DF__MAX_BREAKS ? m->nbreaks : DF__MAX_BREAKS;
        memcpy(st->breaks, m->breaks, (size_t)st->nb * sizeof *st->breaks);
    } else if (df__classes_for(NULL, m->value, st->n, st->breaks, &st->nb) != 0) {
        return df__error(st->ctx, DF_ENOMEM, "out of memory classifying the map's values");
    }
    for (int k = 0; k < 2 && m->labels; k++) { /* [maps] labels = en, ar */
        char choice[64], fields[512];
        if (!df__list_item(m->labels, k, choice, sizeof choice)) break;
        if ((st->lab_k[k] = df__boundaries_name_field(m->b, m->level, choice)) < 0) {
            df__boundaries_name_fields(m->b, m->level, fields, sizeof fields);
            return df__error(st->ctx, DF_EINVAL,
                             "map: labels '%s': the boundaries have no '%s' name at admin level %d (a language, "
                             "ADM%d_XX or A%dNameXx, or one of the name fields: %s)",
                             m->labels, choice, m->level, m->level, m->level, fields[0] ? fields : "none");
        }
        st->nlab = k + 1;
    }
    st->pl = m->placed ? m->placed : &st->own;
    st->pl->n = 0;
    df_status cs = load_countries(st);
    if (cs == DF_OK && m->places) cs = load_places(st);
    if (cs != DF_OK) return cs;
    if (m->flows) {
        df_status s = top_pairs(st->ctx, m, &st->pairs, &st->npairs);
        if (s != DF_OK) return s;
        for (int i = 0; i < st->npairs; i++)
            if (st->pairs[i].ok) {
                st->pmax = fmax(st->pmax, st->pairs[i].individuals);
                if (!st->pairs[i].within) st->amax = fmax(st->amax, st->pairs[i].individuals);
            }
    }
    return DF_OK;
}

static void map_state_free(map_state *st)
{
    free(st->c.x);
    free(st->c.y);
    free(st->pairs);
    free(st->callout);
    free(st->own.item);
    free_countries(st);
    free_places(st);
    if (st->pc) g_object_unref(st->pc);
    if (st->fm) g_object_unref(st->fm);
}

df_status df__map_write_png(df_ctx *ctx, const df__map *m, const char *path)
{
    map_state st;
    char tmp[4096];
    df_status s = check_map(ctx, m, path);
    if (s != DF_OK) return s;
    memset(&st, 0, sizeof st);
    st.ctx = ctx, st.m = m, st.n = df_boundaries_count(m->b, m->level);
    int W = m->width ? m->width : 1600, H = m->height ? m->height : 1200;
    cairo_surface_t *surf = NULL;
    if ((s = prepare_levels(ctx, m, &st.level1)) != DF_OK || (s = map_setup(&st)) != DF_OK) goto done;
    surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        s = df__error(ctx, DF_ENOMEM, "map %s: cannot make a %d x %d picture", path, W, H);
        goto done;
    }
    st.cr = cairo_create(surf);
    s = draw_map(&st, W, H);
    cairo_destroy(st.cr);
    if (s != DF_OK || (s = df__temp_path(ctx, path, tmp, sizeof tmp)) != DF_OK) goto done;
    cairo_surface_flush(surf);
    errno = 0;
    cairo_status_t cs = cairo_surface_write_to_png(surf, tmp);
    int err = errno; /* cairo says "error while writing"; the write said why (a full disk) */
    if (cs != CAIRO_STATUS_SUCCESS) {
        unlink(tmp);
        s = df__error(ctx, cs == CAIRO_STATUS_NO_MEMORY ? DF_ENOMEM : DF_EIO, "cannot write the map %s: %s%s%s", path,
                      cairo_status_to_string(cs), cs == CAIRO_STATUS_WRITE_ERROR && err ? ": " : "",
                      cs == CAIRO_STATUS_WRITE_ERROR && err ? strerror(err) : "");
        goto done;
    }
    s = df__commit(ctx, tmp, path);
done:
    if (surf) cairo_surface_destroy(surf);
    map_state_free(&st);
    return s;
}

df_status df__map_draw(df_ctx *ctx, const df__map *m, cairo_t *cr)
{
    map_state st;
    df_status s = check_map(ctx, m, "(drawn on a page)");
    if (s != DF_OK) return s;
    memset(&st, 0, sizeof st);
    st.ctx = ctx, st.m = m, st.n = df_boundaries_count(m->b, m->level);
    int W = m->width ? m->width : 1600, H = m->height ? m->height : 1200;
    if ((s = prepare_levels(ctx, m, &st.level1)) == DF_OK && (s = map_setup(&st)) == DF_OK) {
        cairo_save(cr); /* draw_map paints its ground: kept inside the map's rectangle */
        cairo_rectangle(cr, 0, 0, W, H);
        cairo_clip(cr);
        st.cr = cr;
        s = draw_map(&st, W, H);
        cairo_restore(cr);
    }
    map_state_free(&st);
    return s;
}

/* The countries file read into the process's copy ahead of the maps (a
 * run does it on a thread while it loads the boundaries). */
void df__countries_preload(void)
{
    const char *dir = df_shapes_dir();
    char path[4096];
    if (!dir) return;
    snprintf(path, sizeof path, "%s/%s", dir, COUNTRIES);
    pthread_mutex_lock(&countries_read.lock);
    if (!countries_read.loaded || strcmp(countries_read.path, path)) countries_read_file(path);
    pthread_mutex_unlock(&countries_read.lock);
}

/* The maps' countries for another product (the web map): the same loader,
 * on a map_state of its own (kept in c->own, so that whatever else the
 * loader keeps is freed with it). */
df_status df__countries_load(df_ctx *ctx, df__countries *out)
{
    map_state *st = calloc(1, sizeof *st);
    memset(out, 0, sizeof *out);
    if (!st) return df__error(ctx, DF_ENOMEM, "out of memory reading %s", COUNTRIES);
    st->ctx = ctx;
    df_status s = load_countries(st);
    out->geom = st->country, out->name = st->country_name, out->n = st->ncountries, out->own = st;
    if (s != DF_OK) df__countries_free(ctx, out);
    return s;
}

void df__countries_free(df_ctx *ctx, df__countries *c)
{
    map_state *st = c->own;
    (void)ctx;
    if (st) free_countries(st);
    free(st);
    memset(c, 0, sizeof *c);
}
