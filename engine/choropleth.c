/*
 * choropleth.c — the join's figures burned on the density's grid: every
 * pixel takes displaced_per_km2 of the unit that contains its centre, so
 * that the kernel density and the choropleth can be compared cell by cell.
 * Pixel centres go back to lon/lat with PROJ, a row at a time, and are
 * located with the boundaries' point index; no polygon is rasterised. The
 * same pass makes the still-displaced density from the displaced one.
 */
#include "df_products.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_string.h>
#include <gdal.h>
#include <ogr_srs_api.h>
#include <proj.h>

/* unit[pixel] = the unit at level that contains the pixel's centre, or -1:
 * pixel centres go back to lon/lat a row at a time. */
static df_status pixel_units(df_ctx *ctx, const df_density_info *in, const df_boundaries *b, int level, int *unit)
{
    int w = in->width, h = in->height;
    double *xs = malloc((size_t)w * sizeof *xs + 1), *ys = malloc((size_t)w * sizeof *ys + 1);
    PJ *pj = proj_create_crs_to_crs(ctx->proj, in->crs, "EPSG:4326", NULL);
    PJ *lonlat = pj ? proj_normalize_for_visualization(ctx->proj, pj) : NULL;
    df_status st = DF_OK;
    if (!xs || !ys)
        st = df__error(ctx, DF_ENOMEM, "out of memory");
    else if (!lonlat)
        st = df__error(ctx, DF_EPROJ, "cannot transform %s to WGS84", in->crs);
    else
        st = df_boundaries_prepare(ctx, b, level);
    for (int r = 0; st == DF_OK && r < h; r++) {
        for (int c = 0; c < w; c++) {
            xs[c] = in->geotransform[0] + (c + 0.5) * in->geotransform[1];
            ys[c] = in->geotransform[3] + (r + 0.5) * in->geotransform[5];
        }
        proj_trans_generic(lonlat, PJ_FWD, xs, sizeof *xs, (size_t)w, ys, sizeof *ys, (size_t)w, NULL, 0, 0, NULL, 0,
                           0);
        for (int c = 0; c < w; c++)
            unit[(size_t)r * (size_t)w + (size_t)c] = df_boundaries_locate(b, level, xs[c], ys[c]);
    }
    if (lonlat) proj_destroy(lonlat);
    if (pj) proj_destroy(pj);
    free(xs);
    free(ys);
    return st;
}

df_status df_density_still_displaced(df_ctx *ctx, df_density *d, const df_join *j, const df_boundaries *b)
{
    const df_density_info *in = df_density_get_info(d);
    size_t npix = (size_t)in->width * (size_t)in->height;
    int level = df_join_level(j), n = df_boundaries_count(b, level);
    int *unit = malloc(npix * sizeof *unit + 1);
    float *factor = malloc(npix * sizeof *factor + 1), *of_unit = malloc((size_t)n * sizeof *of_unit + 1);
    df_status st =
        unit && factor && of_unit ? pixel_units(ctx, in, b, level, unit) : df__error(ctx, DF_ENOMEM, "out of memory");
    for (int u = 0; st == DF_OK && u < n; u++) {
        const df_figures *f = df_join_figures(j, u);
        of_unit[u] = f->displaced > 0 ? (float)((double)f->still_displaced / (double)f->displaced) : 1.0f;
    }
    if (st == DF_OK) {
        for (size_t q = 0; q < npix; q++) factor[q] = unit[q] >= 0 ? of_unit[unit[q]] : 1.0f;
        df__density_scale(d, factor);
    }
    free(unit);
    free(factor);
    free(of_unit);
    return st;
}

df_status df_density_write_choropleth(df_ctx *ctx, const df_density *d, const df_join *j, const df_boundaries *b,
                                      const char *path)
{
    DF__GDAL_SCOPE(ctx);
    const df_density_info *in = df_density_get_info(d);
    int level = df_join_level(j), w = in->width, h = in->height;
    char tmp[4096];
    df_status st = DF_OK;
    float *values = malloc((size_t)w * (size_t)h * sizeof *values + 1);
    int *unit = malloc((size_t)w * (size_t)h * sizeof *unit + 1);
    GDALDatasetH ds = NULL;
    OGRSpatialReferenceH srs = NULL;
    if (!values || !unit)
        st = df__error(ctx, DF_ENOMEM, "out of memory");
    else
        st = pixel_units(ctx, in, b, level, unit);
    /* each unit's displaced per km², once */
    int n = df_boundaries_count(b, level);
    float *per_km2 = st == DF_OK ? malloc((size_t)n * sizeof *per_km2 + 1) : NULL;
    if (st == DF_OK && !per_km2) st = df__error(ctx, DF_ENOMEM, "out of memory");
    for (int u = 0; st == DF_OK && u < n; u++) {
        double area = df_boundaries_unit(b, level, u)->area_km2;
        per_km2[u] = area > 0 ? (float)((double)df_join_figures(j, u)->displaced / area) : DF_DENSITY_NODATA;
    }
    for (size_t q = 0; st == DF_OK && q < (size_t)w * (size_t)h; q++)
        values[q] = unit[q] >= 0 ? per_km2[unit[q]] : DF_DENSITY_NODATA;
    /* a tiled, compressed Float32 GeoTIFF on the same grid, atomically */
    if (st == DF_OK) st = df__temp_path(ctx, path, tmp, sizeof tmp);
    if (st == DF_OK) {
        char **co = CSLSetNameValue(NULL, "TILED", "YES");
        co = CSLSetNameValue(co, "COMPRESS", "DEFLATE");
        GDALDriverH drv = GDALGetDriverByName("GTiff");
        ds = drv ? GDALCreate(drv, tmp, w, h, 1, GDT_Float32, co) : NULL;
        CSLDestroy(co);
        srs = OSRNewSpatialReference(NULL);
        char *wkt = NULL;
        if (!ds || OSRSetFromUserInput(srs, in->crs) != OGRERR_NONE || OSRExportToWkt(srs, &wkt) != OGRERR_NONE)
            st = df__error(ctx, DF_EGDAL, "cannot create %s: %s", path, df__gdal_error(ctx));
        double gt[6];
        memcpy(gt, in->geotransform, sizeof gt);
        if (st == DF_OK) {
            GDALSetProjection(ds, wkt);
            GDALSetGeoTransform(ds, gt);
            GDALSetMetadataItem(ds, "UNITS", "people/km2 (displaced per unit area)", NULL);
            GDALRasterBandH band = GDALGetRasterBand(ds, 1);
            GDALSetRasterNoDataValue(band, DF_DENSITY_NODATA);
            if (GDALRasterIO(band, GF_Write, 0, 0, w, h, values, w, h, GDT_Float32, 0, 0) != CE_None)
                st = df__error(ctx, DF_EIO, "cannot write %s: %s", path, df__gdal_error(ctx));
        }
        CPLFree(wkt);
        st = df__commit_dataset(ctx, ds, tmp, path, st);
    }
    if (srs) OSRDestroySpatialReference(srs);
    free(per_km2);
    free(values);
    free(unit);
    return st;
}
