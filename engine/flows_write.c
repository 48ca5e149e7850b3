/*
 * flows_write.c — the flows as an OD matrix (CSV, long form) and as lines
 * and nodes (GeoJSON RFC 7946 or GeoPackage) that QGIS styles by
 * individuals and animates with its Temporal Controller (real date fields).
 * Every file is written beside its target and renamed when complete.
 */
#include "df_products.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#define ARC_SEGMENTS 32

static const char *status_word(df_movement s) { return s == DF_RETURNED ? "returned" : "displaced"; }

static void put_unit(FILE *out, const df_unit *u)
{
    df__csv_put(out, u->pcode);
    fputc(',', out);
    df__csv_put(out, u->name);
}

/* ---- the matrix ----------------------------------------------------------------- */

df_status df_flows_write_matrix(df_ctx *ctx, const df_flows *f, const df_boundaries *b, const char *path, int hxl)
{
    char tmp[4096], from[11], to[11];
    int ol = df__flows_origin_level(f), dl = df__flows_dest_level(f);
    df_status st = df__temp_path(ctx, path, tmp, sizeof tmp);
    if (st != DF_OK) return st;
    FILE *out = fopen(tmp, "w");
    if (!out) return df__error(ctx, DF_EIO, "cannot write %s: %s", path, strerror(errno));
    fputs("origin_pcode,origin_name,dest_pcode,dest_name,status,period_start,period_end,families,individuals,"
          "cumulative\n",
          out);
    if (hxl)
        fprintf(out,
                "#adm%d+code+origin,#adm%d+name+origin,#adm%d+code,#adm%d+name,#status,#date+start,#date+end,"
                "#affected+hh,#affected+ind,#affected+ind+cumulative\n",
                ol, ol, dl, dl);
    for (int i = 0; i < df_flows_count(f); i++) {
        const df_flow *fl = df_flows_get(f, i);
        if (fl->withheld) continue; /* publish mode: not published */
        const df_unit *o = df__boundaries_unit(b, ol, fl->origin), *d = df__boundaries_unit(b, dl, fl->dest);
        df_date_format(fl->period_start, from);
        df_date_format(fl->period_end, to);
        df__csv_put(out, o->pcode);
        fputc(',', out);
        df__csv_put(out, o->name);
        fputc(',', out);
        df__csv_put(out, d->pcode);
        fputc(',', out);
        df__csv_put(out, d->name);
        fprintf(out, ",%s,%s,%s,%lld,%lld,%lld\n", status_word(fl->status), from, to, (long long)fl->families,
                (long long)fl->individuals, (long long)fl->cumulative);
    }
    return df__commit_file(ctx, out, tmp, path);
}

df_status df_flows_write_wide(df_ctx *ctx, const df_flows *f, const df_boundaries *b, const char *path)
{
    char tmp[4096];
    int ol = df__flows_origin_level(f), dl = df__flows_dest_level(f);
    int no = df_boundaries_count(b, ol), nd = df_boundaries_count(b, dl);
    int64_t *cell = calloc((size_t)no * (size_t)nd * 2 + 1, sizeof *cell);
    char *has_o = calloc((size_t)no + 1, 1), *has_d = calloc((size_t)nd + 1, 1);
    df_status st = DF_OK;
    FILE *out = NULL;
    if (!cell || !has_o || !has_d) st = df__error(ctx, DF_ENOMEM, "out of memory");
    for (int i = 0; st == DF_OK && i < df_flows_count(f); i++) {
        const df_flow *fl = df_flows_get(f, i);
        if (fl->total) continue; /* the periods add up to it */
        cell[((size_t)fl->status * (size_t)no + (size_t)fl->origin) * (size_t)nd + (size_t)fl->dest] += fl->individuals;
        has_o[fl->origin] = has_d[fl->dest] = 1;
    }
    if (st == DF_OK && (st = df__temp_path(ctx, path, tmp, sizeof tmp)) == DF_OK && !(out = fopen(tmp, "w")))
        st = df__error(ctx, DF_EIO, "cannot write %s: %s", path, strerror(errno));
    if (st == DF_OK) {
        fputs("status,origin_pcode,origin_name", out);
        for (int d = 0; d < nd; d++)
            if (has_d[d]) fputc(',', out), df__csv_put(out, df__boundaries_unit(b, dl, d)->pcode);
        fputc('\n', out);
        for (int s = 0; s < 2; s++)
            for (int o = 0; o < no; o++) {
                if (!has_o[o]) continue;
                fprintf(out, "%s,", status_word((df_movement)s));
                put_unit(out, df__boundaries_unit(b, ol, o));
                for (int d = 0; d < nd; d++)
                    if (has_d[d])
                        fprintf(out, ",%lld",
                                (long long)cell[((size_t)s * (size_t)no + (size_t)o) * (size_t)nd + (size_t)d]);
                fputc('\n', out);
            }
        st = df__commit_file(ctx, out, tmp, path);
    }
    free(cell);
    free(has_o);
    free(has_d);
    return st;
}

df_status df_flows_write_net(df_ctx *ctx, const df_flows *f, const df_boundaries *b, const char *path)
{
    char tmp[4096], from[11], to[11];
    int level = df__flows_origin_level(f);
    if (level != df__flows_dest_level(f))
        return df__error(ctx, DF_EINVAL, "net flows need one level at both ends (--origin-level = --dest-level)");
    df_status st = df__temp_path(ctx, path, tmp, sizeof tmp);
    if (st != DF_OK) return st;
    FILE *out = fopen(tmp, "w");
    if (!out) return df__error(ctx, DF_EIO, "cannot write %s: %s", path, strerror(errno));
    fputs("a_pcode,a_name,b_pcode,b_name,status,period_start,period_end,a_to_b,b_to_a,net,direction\n", out);
    for (int i = 0; i < df_flows_count(f); i++) {
        const df_flow *x = df_flows_get(f, i);
        if (x->origin == x->dest) continue;
        /* each unordered pair once: from the flow whose origin is the smaller index, or
         * from the only flow when the reverse does not exist */
        const df_flow *rev = NULL;
        for (int k = 0; k < df_flows_count(f) && !rev; k++) {
            const df_flow *y = df_flows_get(f, k);
            if (y->origin == x->dest && y->dest == x->origin && y->status == x->status &&
                y->period_start == x->period_start && y->total == x->total)
                rev = y;
        }
        if (rev && x->origin > x->dest) continue;
        const df_flow *ab = x;
        int64_t a_to_b = ab->individuals, b_to_a = rev ? rev->individuals : 0, net = a_to_b - b_to_a;
        const df_unit *a = df__boundaries_unit(b, level, ab->origin), *bb = df__boundaries_unit(b, level, ab->dest);
        df_date_format(ab->period_start, from);
        df_date_format(ab->period_end, to);
        put_unit(out, a);
        fputc(',', out);
        put_unit(out, bb);
        fprintf(out, ",%s,%s,%s,%lld,%lld,%lld,", status_word(ab->status), from, to, (long long)a_to_b,
                (long long)b_to_a, (long long)net);
        char dir[600];
        snprintf(dir, sizeof dir, "%s -> %s", net >= 0 ? a->name : bb->name, net >= 0 ? bb->name : a->name);
        df__csv_put(out, net == 0 ? "balanced" : dir);
        fputc('\n', out);
    }
    return df__commit_file(ctx, out, tmp, path);
}

/* ---- geometry ---------------------------------------------------------------------- */

/* A point inside the unit (GEOS point on surface), or -1 without geometry. */
static int inside_point(df_ctx *ctx, const df_boundaries *b, int level, int unit, double *x, double *y)
{
    const GEOSGeometry *g = df__boundaries_geometry(b, level, unit);
    GEOSGeometry *p = g ? GEOSPointOnSurface_r(ctx->geos, g) : NULL;
    int ok = p && GEOSGeomGetX_r(ctx->geos, p, x) == 1 && GEOSGeomGetY_r(ctx->geos, p, y) == 1;
    if (p) GEOSGeom_destroy_r(ctx->geos, p);
    return ok ? 0 : -1;
}

/* The line from (x0, y0) to (x1, y1): a quadratic arc bent to the right of
 * the direction of travel by bend x the chord, or with bend = 0 a straight
 * line moved to the right by 2% of its length; either way A->B and B->A lie
 * on opposite sides. */
static OGRGeometryH flow_line(double x0, double y0, double x1, double y1, double bend)
{
    OGRGeometryH g = OGR_G_CreateGeometry(wkbLineString);
    double dx = x1 - x0, dy = y1 - y0, len = hypot(dx, dy);
    double nx = len > 0 ? dy / len : 0, ny = len > 0 ? -dx / len : 0; /* right-hand normal */
    if (bend <= 0) {
        double off = 0.02 * len;
        OGR_G_AddPoint_2D(g, x0 + off * nx, y0 + off * ny);
        OGR_G_AddPoint_2D(g, x1 + off * nx, y1 + off * ny);
        return g;
    }
    double cx = (x0 + x1) / 2 + bend * len * nx, cy = (y0 + y1) / 2 + bend * len * ny;
    for (int k = 0; k <= ARC_SEGMENTS; k++) {
        double t = (double)k / ARC_SEGMENTS, u = 1 - t;
        OGR_G_AddPoint_2D(g, u * u * x0 + 2 * u * t * cx + t * t * x1, u * u * y0 + 2 * u * t * cy + t * t * y1);
    }
    return g;
}

/* A flow inside one unit: a small loop through its point. */
static OGRGeometryH intra_loop(double x, double y, double radius)
{
    OGRGeometryH g = OGR_G_CreateGeometry(wkbLineString);
    for (int k = 0; k <= ARC_SEGMENTS; k++) {
        double a = M_PI + 2 * M_PI * k / ARC_SEGMENTS; /* starts and ends at (x, y) */
        OGR_G_AddPoint_2D(g, x + radius + radius * cos(a), y + radius * sin(a));
    }
    return g;
}

/* ---- layers ---------------------------------------------------------------------- */

static const df__field line_fields[] = {
    {"origin_pcode", OFTString, NULL},   {"origin_name", OFTString, NULL}, {"dest_pcode", OFTString, NULL},
    {"dest_name", OFTString, NULL},      {"status", OFTString, NULL},      {"kind", OFTString, NULL},
    {"period_start", OFTDate, NULL},     {"period_end", OFTDate, NULL},    {"families", OFTInteger64, NULL},
    {"individuals", OFTInteger64, NULL}, {"rank", OFTInteger, NULL},       {"share", OFTReal, NULL},
    {"cumulative", OFTInteger64, NULL},  {"total", OFTInteger, NULL}};
#define NFIELDS(a) ((int)(sizeof(a) / sizeof *(a)))

static const df__field node_fields[] = {{"pcode", OFTString, NULL},      {"name", OFTString, NULL},
                                        {"level", OFTInteger, NULL},     {"inflow", OFTInteger64, NULL},
                                        {"outflow", OFTInteger64, NULL}, {"net", OFTInteger64, NULL},
                                        {"intra", OFTInteger64, NULL}};

static const char *driver_for(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot && strcasecmp(dot, ".gpkg") == 0 ? "GPKG" : "GeoJSON";
}

/* A new dataset at tmp for path (GeoJSON or GPKG by path's extension); a
 * GeoPackage's layers other than `layer` are kept. */
static GDALDatasetH create_dataset(df_ctx *ctx, const char *tmp, const char *path, const char *layer)
{
    return df__create_vector(ctx, driver_for(path), tmp, path, (const char *const[]){layer, NULL});
}

/* Inflow, outflow, net and intra of every unit that a flow touches. */
typedef struct {
    int64_t in, out, intra;
} node_sums;

/* One point per unit a flow touches, where its flow lines end (endpoints),
 * so that arrows meet their nodes. */
static df_status write_nodes(df_ctx *ctx, const df_flows *f, const df_boundaries *b, GDALDatasetH ds, const char *path,
                             df_endpoints endpoints)
{
    int ol = df__flows_origin_level(f), dl = df__flows_dest_level(f);
    int no = df_boundaries_count(b, ol), nd = df_boundaries_count(b, dl);
    node_sums *so = calloc((size_t)no + 1, sizeof *so), *sd = ol == dl ? so : calloc((size_t)nd + 1, sizeof *sd);
    df_status st = DF_OK;
    OGRLayerH layer = NULL;
    if (!so || !sd) st = df__error(ctx, DF_ENOMEM, "out of memory");
    for (int i = 0; st == DF_OK && i < df_flows_count(f); i++) {
        const df_flow *fl = df_flows_get(f, i);
        if (ol == dl && fl->origin == fl->dest) {
            so[fl->origin].intra += fl->individuals;
            continue;
        }
        so[fl->origin].out += fl->individuals;
        sd[fl->dest].in += fl->individuals;
    }
    if (st == DF_OK &&
        !(layer = df__create_layer(ctx, ds, path, "flow_nodes", wkbPoint, node_fields, NFIELDS(node_fields))))
        st = ctx->status;
    for (int pass = 0; st == DF_OK && pass < (ol == dl ? 1 : 2); pass++) {
        int level = pass == 0 ? ol : dl, n = pass == 0 ? no : nd;
        const node_sums *s = pass == 0 ? so : sd;
        for (int u = 0; st == DF_OK && u < n; u++) {
            if (!s[u].in && !s[u].out && !s[u].intra) continue;
            double x, y;
            if (df__flows_endpoint(ctx, f, b, level, u, endpoints, &x, &y) != 0) continue;
            const df_unit *unit = df__boundaries_unit(b, level, u);
            OGRFeatureH feat = OGR_F_Create(OGR_L_GetLayerDefn(layer));
            OGRGeometryH pt = OGR_G_CreateGeometry(wkbPoint);
            OGR_G_SetPoint_2D(pt, 0, x, y);
            OGR_F_SetGeometryDirectly(feat, pt);
            OGR_F_SetFieldString(feat, 0, unit->pcode);
            OGR_F_SetFieldString(feat, 1, unit->name);
            OGR_F_SetFieldInteger(feat, 2, level);
            OGR_F_SetFieldInteger64(feat, 3, s[u].in);
            OGR_F_SetFieldInteger64(feat, 4, s[u].out);
            OGR_F_SetFieldInteger64(feat, 5, s[u].in - s[u].out);
            OGR_F_SetFieldInteger64(feat, 6, s[u].intra);
            if (OGR_L_CreateFeature(layer, feat) != OGRERR_NONE)
                st = df__error(ctx, DF_EGDAL, "%s: cannot write node %s: %s", path, unit->pcode, df__gdal_error(ctx));
            OGR_F_Destroy(feat);
        }
    }
    if (sd != so) free(sd);
    free(so);
    return st;
}

/* A flow's end in a unit: the weighted centre when asked for, known, and
 * inside the unit; else a point inside the unit. */
int df__flows_endpoint(df_ctx *ctx, const df_flows *f, const df_boundaries *b, int level, int unit, df_endpoints how,
                       double *x, double *y)
{
    if (how == DF_ENDPOINTS_WEIGHTED && df__flows_centre(f, level, unit, x, y) == 0 &&
        df_boundaries_locate(b, level, *x, *y) == unit)
        return 0;
    return inside_point(ctx, b, level, unit, x, y);
}

/* The layer "flows" of f in ds (path names it in messages). */
static df_status write_lines(df_ctx *ctx, const df_flows *f, const df_boundaries *b, GDALDatasetH ds, const char *path,
                             double bend, df_endpoints endpoints)
{
    int ol = df__flows_origin_level(f), dl = df__flows_dest_level(f);
    df_status st = DF_OK;
    OGRLayerH layer = df__create_layer(ctx, ds, path, "flows", wkbLineString, line_fields, NFIELDS(line_fields));
    if (!layer) return ctx->status;
    for (int i = 0; st == DF_OK && i < df_flows_count(f); i++) {
        const df_flow *fl = df_flows_get(f, i);
        double x0, y0, x1, y1;
        if (fl->withheld) continue; /* publish mode: not published */
        if (df__flows_endpoint(ctx, f, b, ol, fl->origin, endpoints, &x0, &y0) != 0 ||
            df__flows_endpoint(ctx, f, b, dl, fl->dest, endpoints, &x1, &y1) != 0)
            continue; /* a unit without geometry: in the matrix, not on the map */
        const df_unit *o = df__boundaries_unit(b, ol, fl->origin), *d = df__boundaries_unit(b, dl, fl->dest);
        int intra = ol == dl && fl->origin == fl->dest;
        OGRFeatureH feat = OGR_F_Create(OGR_L_GetLayerDefn(layer));
        OGR_F_SetGeometryDirectly(feat, intra ? intra_loop(x0, y0, 0.03) : flow_line(x0, y0, x1, y1, bend));
        OGR_F_SetFieldString(feat, 0, o->pcode);
        OGR_F_SetFieldString(feat, 1, o->name);
        OGR_F_SetFieldString(feat, 2, d->pcode);
        OGR_F_SetFieldString(feat, 3, d->name);
        OGR_F_SetFieldString(feat, 4, status_word(fl->status));
        OGR_F_SetFieldString(feat, 5, intra ? "intra" : "flow");
        df__set_date_field(feat, 6, fl->period_start);
        df__set_date_field(feat, 7, fl->period_end);
        OGR_F_SetFieldInteger64(feat, 8, fl->families);
        OGR_F_SetFieldInteger64(feat, 9, fl->individuals);
        OGR_F_SetFieldInteger(feat, 10, fl->rank);
        OGR_F_SetFieldDouble(feat, 11, fl->share);
        OGR_F_SetFieldInteger64(feat, 12, fl->cumulative);
        OGR_F_SetFieldInteger(feat, 13, fl->total);
        if (OGR_L_CreateFeature(layer, feat) != OGRERR_NONE)
            st = df__error(ctx, DF_EGDAL, "%s: cannot write a flow: %s", path, df__gdal_error(ctx));
        OGR_F_Destroy(feat);
    }
    return st;
}

df_status df__flows_write_layers(df_ctx *ctx, const df_flows *f, const df_boundaries *b, void *ds, const char *path,
                                 double bend, df_endpoints endpoints, int nodes)
{
    df_status st = write_lines(ctx, f, b, ds, path, bend, endpoints);
    return st == DF_OK && nodes ? write_nodes(ctx, f, b, ds, path, endpoints) : st;
}

df_status df_flows_write_lines(df_ctx *ctx, const df_flows *f, const df_boundaries *b, const char *path, double bend,
                               df_endpoints endpoints, const char *nodes_path)
{
    DF__GDAL_SCOPE(ctx);
    char tmp[4096];
    GDALDatasetH ds;
    df_status st = df__temp_path(ctx, path, tmp, sizeof tmp);
    if (st != DF_OK) return st;
    if (!(ds = create_dataset(ctx, tmp, path, "flows"))) return ctx->status;
    st = df__commit_dataset(ctx, ds, tmp, path, write_lines(ctx, f, b, ds, path, bend, endpoints));
    if (st != DF_OK || !nodes_path) return st;
    if ((st = df__temp_path(ctx, nodes_path, tmp, sizeof tmp)) != DF_OK) return st;
    if (!(ds = create_dataset(ctx, tmp, nodes_path, "flow_nodes"))) return ctx->status;
    return df__commit_dataset(ctx, ds, tmp, nodes_path, write_nodes(ctx, f, b, ds, nodes_path, endpoints));
}
