/*
 * write.c — the join's outputs: one feature per unit with its geometry and
 * figures, as GeoJSON (RFC 7946), GeoPackage or CSV with an HXL tag row.
 * Every file is written beside its target under a temporary name and
 * renamed into place only when complete.
 */
#include "df_products.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

/* The output columns, in order, with their HXL tags. */
#define DF_OUTPUT_COLUMNS(XX)                                                                                          \
    XX(adm_pcode, OFTString, "#adm%d+code")                                                                            \
    XX(adm_name, OFTString, "#adm%d+name")                                                                             \
    XX(parent_pcode, OFTString, "#adm%d+code+parent")                                                                  \
    XX(displaced, OFTInteger64, "#affected+idps+ind")                                                                  \
    XX(returned, OFTInteger64, "#affected+idps+returned+ind")                                                          \
    XX(still_displaced, OFTInteger64, "#affected+idps+current+ind")                                                    \
    XX(returnees, OFTInteger64, "#affected+returnees+ind")                                                             \
    XX(families, OFTInteger64, "#affected+idps+hh")                                                                    \
    XX(records, OFTInteger64, "#meta+records")                                                                         \
    XX(area_km2, OFTReal, "#indicator+area_km2")                                                                       \
    XX(displaced_per_km2, OFTReal, "#indicator+idps_per_km2")                                                          \
    XX(period_from, OFTDate, "#date+start")                                                                            \
    XX(as_of, OFTDate, "#date+end")                                                                                    \
    XX(assessed, OFTInteger, "#status+assessed")                                                                       \
    XX(snapshot, OFTDate, "#date+reported")                                                                            \
    XX(snapshot_of, OFTString, "#meta+operation")

enum {
#define XX_ENUM(name, type, hxl) COL_##name,
    DF_OUTPUT_COLUMNS(XX_ENUM)
#undef XX_ENUM
        COL_COUNT
};

static const df__field columns[] = {
#define XX_ROW(name, type, hxl) {#name, type, hxl},
    DF_OUTPUT_COLUMNS(XX_ROW)
#undef XX_ROW
};

static const char *format_for(const char *path, const char *format)
{
    if (format) return format;
    const char *dot = strrchr(path, '.');
    if (dot && (strcasecmp(dot, ".geojson") == 0 || strcasecmp(dot, ".json") == 0)) return "GeoJSON";
    if (dot && strcasecmp(dot, ".gpkg") == 0) return "GPKG";
    if (dot && strcasecmp(dot, ".csv") == 0) return "CSV";
    return NULL;
}

static double per_km2(int64_t n, double area) { return area > 0 ? (double)n / area : 0; }

/* Which date of which operation the figures of a snapshot join come from:
 * "Armed Clashes in Sudan 2024-04-17; Darfur conflict 2022-03-30" ("" for
 * increments). */
static void snapshot_of(const df_join *j, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; df_join_kind(j) == DF_SNAPSHOTS && i < df_join_operation_count(j) && n < cap; i++) {
        const df_operation_figure *op = df_join_operation(j, i);
        char d[11];
        if (op->snapshot == DF_NO_DATE) continue;
        df_date_format(op->snapshot, d);
        n += (size_t)snprintf(out + n, cap - n, "%s%s%s%s", n ? "; " : "", op->name, op->name[0] ? " " : "", d);
    }
}

/* ---- CSV, by hand: the HXL row and exact integers are ours to control ------- */

static df_status write_csv(df_ctx *ctx, const df_join *j, const df_boundaries *b, const char *tmp, const char *path)
{
    int level = df_join_level(j);
    const df_balance *bal = df_join_balance(j);
    char from[11], as_of[11], ops[512], snap[11];
    df_date_format(bal->from, from);
    df_date_format(bal->as_of, as_of);
    snapshot_of(j, ops, sizeof ops);
    FILE *f = fopen(tmp, "w");
    if (!f) return df__error(ctx, DF_EIO, "cannot write %s: %s", path, strerror(errno));
    df__csv_write_header(f, columns, COL_COUNT, level, COL_parent_pcode);
    for (int i = 0; i < df_boundaries_count(b, level); i++) {
        const df_unit *u = df_boundaries_unit(b, level, i);
        const df_unit *p = u->parent >= 0 ? df__boundaries_unit(b, level - 1, u->parent) : NULL;
        const df_figures *fg = df_join_figures(j, i);
        df__csv_put(f, u->pcode);
        fputc(',', f);
        df__csv_put(f, u->name);
        fputc(',', f);
        df__csv_put(f, p ? p->pcode : "");
        if (df__join_withheld(j, i)) /* publish mode: the figures are left empty */
            fprintf(f, ",,,,,,,%.3f,,%s,%s", u->area_km2, from, as_of);
        else
            fprintf(f, ",%lld,%lld,%lld,%lld,%lld,%ld,%.3f,%.3f,%s,%s", (long long)fg->displaced,
                    (long long)fg->returned, (long long)fg->still_displaced, (long long)fg->returnees,
                    (long long)fg->families, fg->records, u->area_km2, per_km2(fg->displaced, u->area_km2), from,
                    as_of);
        df_date_format(fg->snapshot, snap);
        if (df__join_withheld(j, i)) /* whether anyone is there is withheld too */
            fputs(",,,\n", f);
        else
            fprintf(f, ",%d,%s,", fg->assessed, snap), df__csv_put(f, fg->assessed ? ops : ""), fputc('\n', f);
    }
    return df__commit_file(ctx, f, tmp, path);
}

/* ---- GeoJSON and GeoPackage through OGR ---------------------------------------- */

int df__label_fields(const df_boundaries *b, int level, const char *labels, int *k, char field[2][72])
{
    int n = 0;
    for (char item[64]; n < 2 && labels && df__list_item(labels, n, item, sizeof item); n++) {
        int f = df__boundaries_name_field(b, level, item);
        if (f < 0) return 0; /* the maps refuse it at their level; the layers carry no half label */
        if (k) k[n] = f;
        size_t o = (size_t)snprintf(field[n], 72, "adm_name_");
        for (const char *c = item; *c && o + 1 < 72; c++)
            field[n][o++] = (char)(isalnum((unsigned char)*c) ? tolower((unsigned char)*c) : '_');
        field[n][o] = '\0';
    }
    return n;
}

df_status df__join_write_layer(df_ctx *ctx, const df_join *j, const df_boundaries *b, void *ds, const char *layer_name,
                               const char *labels, char **lco, const char *path)
{
    df_status st = DF_OK;
    int level = df_join_level(j);
    const df_balance *bal = df_join_balance(j);
    char ops[512];
    snapshot_of(j, ops, sizeof ops);
    OGRSpatialReferenceH srs = df__wgs84();
    OGRLayerH layer = GDALDatasetCreateLayer(ds, layer_name, srs, wkbMultiPolygon, lco);
    OSRDestroySpatialReference(srs);
    if (!layer)
        return df__error(ctx, DF_EGDAL, "cannot create layer %s in %s: %s", layer_name, path, df__gdal_error(ctx));
    for (int c = 0; c < COL_COUNT; c++) {
        OGRFieldDefnH fd = OGR_Fld_Create(columns[c].name, columns[c].type);
        if (columns[c].type == OFTReal) OGR_Fld_SetPrecision(fd, 3);
        if (OGR_L_CreateField(layer, fd, TRUE) != OGRERR_NONE)
            st = df__error(ctx, DF_EGDAL, "%s: cannot create field %s: %s", path, columns[c].name, df__gdal_error(ctx));
        OGR_Fld_Destroy(fd);
        if (st != DF_OK) return st;
    }
    /* the maps' label lines, [maps] labels = en, ar: after the fixed columns */
    int lk[2];
    char lf[2][72];
    int nl = df__label_fields(b, level, labels, lk, lf);
    for (int c = 0; c < nl; c++) {
        OGRFieldDefnH fd = OGR_Fld_Create(lf[c], OFTString);
        if (OGR_L_CreateField(layer, fd, TRUE) != OGRERR_NONE)
            st = df__error(ctx, DF_EGDAL, "%s: cannot create field %s: %s", path, lf[c], df__gdal_error(ctx));
        OGR_Fld_Destroy(fd);
        if (st != DF_OK) return st;
    }
    if (OGR_L_StartTransaction(layer) != OGRERR_NONE)
        return df__error(ctx, DF_EGDAL, "%s: cannot start a transaction: %s", path, df__gdal_error(ctx));
    for (int i = 0; i < df_boundaries_count(b, level) && st == DF_OK; i++) {
        const df_unit *u = df_boundaries_unit(b, level, i);
        const df_unit *p = u->parent >= 0 ? df__boundaries_unit(b, level - 1, u->parent) : NULL;
        const df_figures *fg = df_join_figures(j, i);
        OGRFeatureH feat = OGR_F_Create(OGR_L_GetLayerDefn(layer));
        OGR_F_SetFieldString(feat, COL_adm_pcode, u->pcode);
        OGR_F_SetFieldString(feat, COL_adm_name, u->name);
        OGR_F_SetFieldString(feat, COL_parent_pcode, p ? p->pcode : "");
        for (int c = 0; c < nl; c++) { /* a name is not a figure: kept in publish mode too */
            const char *nm = df__boundaries_name_in(b, level, lk[c], i);
            if (nm && *nm) OGR_F_SetFieldString(feat, COL_COUNT + c, nm);
        }
        OGR_F_SetFieldInteger64(feat, COL_displaced, fg->displaced);
        OGR_F_SetFieldInteger64(feat, COL_returned, fg->returned);
        OGR_F_SetFieldInteger64(feat, COL_still_displaced, fg->still_displaced);
        OGR_F_SetFieldInteger64(feat, COL_returnees, fg->returnees);
        OGR_F_SetFieldInteger64(feat, COL_families, fg->families);
        OGR_F_SetFieldInteger64(feat, COL_records, fg->records);
        OGR_F_SetFieldDouble(feat, COL_area_km2, u->area_km2);
        OGR_F_SetFieldDouble(feat, COL_displaced_per_km2, per_km2(fg->displaced, u->area_km2));
        if (df__join_withheld(j, i)) /* publish mode: the figures are NULL */
            for (int c = COL_displaced; c <= COL_displaced_per_km2; c++)
                if (c != COL_area_km2) OGR_F_SetFieldNull(feat, c);
        df__set_date_field(feat, COL_period_from, bal->from);
        df__set_date_field(feat, COL_as_of, bal->as_of);
        if (!df__join_withheld(j, i)) { /* whether anyone is there is withheld too */
            OGR_F_SetFieldInteger(feat, COL_assessed, fg->assessed);
            df__set_date_field(feat, COL_snapshot, fg->snapshot);
            if (fg->assessed && ops[0]) OGR_F_SetFieldString(feat, COL_snapshot_of, ops);
        }

        const GEOSGeometry *g = df__boundaries_geometry(b, level, i);
        if (g) {
            size_t n = 0;
            unsigned char *wkb = GEOSGeomToWKB_buf_r(ctx->geos, g, &n);
            OGRGeometryH og = NULL;
            if (wkb && OGR_G_CreateFromWkb(wkb, NULL, &og, (int)n) == OGRERR_NONE) {
                og = OGR_G_ForceToMultiPolygon(og);
                OGR_F_SetGeometryDirectly(feat, og);
            }
            GEOSFree_r(ctx->geos, wkb);
        }
        if (OGR_L_CreateFeature(layer, feat) != OGRERR_NONE)
            st = df__error(ctx, DF_EGDAL, "%s: cannot write unit %s: %s", path, u->pcode, df__gdal_error(ctx));
        OGR_F_Destroy(feat);
    }
    if (st == DF_OK && OGR_L_CommitTransaction(layer) != OGRERR_NONE)
        st = df__error(ctx, DF_EGDAL, "%s: cannot commit: %s", path, df__gdal_error(ctx));
    return st;
}

static df_status write_ogr(df_ctx *ctx, const df_join *j, const df_boundaries *b, const char *driver_name,
                           const char *tmp, const char *path, char **co)
{
    df_status st;
    int level = df_join_level(j);
    const df_balance *bal = df_join_balance(j);
    char layer_name[32];
    snprintf(layer_name, sizeof layer_name, "adm%d_join", level);
    /* no wall-clock time in the file: same inputs, same bytes */
    char stamp[32];
    df_date_format(bal->as_of != DF_NO_DATE ? bal->as_of : 0, stamp);
    strcat(stamp, "T00:00:00.000Z"); /* GeoPackage Req 15: with milliseconds */
    CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", stamp);

    /* a GeoPackage's other layers are kept: only ours is replaced */
    GDALDatasetH ds = df__create_vector(ctx, driver_name, tmp, path, (const char *const[]){layer_name, NULL});
    char **lco = NULL;
    if (strcmp(driver_name, "GeoJSON") == 0) {
        lco = CSLSetNameValue(lco, "RFC7946", "YES");
        lco = CSLSetNameValue(lco, "WRITE_NAME", "NO");
    }
    for (char **p = co; p && *p; p++) lco = CSLAddString(lco, *p);
    st = ds ? df__join_write_layer(ctx, j, b, ds, layer_name, NULL, lco, path) : ctx->status;
    CSLDestroy(lco);
    st = df__commit_dataset(ctx, ds, tmp, path, st);
    CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", NULL);
    return st;
}

df_status df_join_write(df_ctx *ctx, const df_join *j, const df_boundaries *b, const char *path, const char *format,
                        char **creation_options)
{
    DF__GDAL_SCOPE(ctx);
    char tmp[4096];
    df_status st;
    const char *fmt = format_for(path, format);
    if (!fmt) return df__error(ctx, DF_EINVAL, "%s: unknown output format; use .geojson, .gpkg or .csv, or -of", path);
    if ((st = df_boundaries_prepare(ctx, b, df_join_level(j))) != DF_OK) return st;
    if ((st = df__temp_path(ctx, path, tmp, sizeof tmp)) != DF_OK) return st;
    return strcasecmp(fmt, "CSV") == 0 ? write_csv(ctx, j, b, tmp, path)
                                       : write_ogr(ctx, j, b, fmt, tmp, path, creation_options);
}
