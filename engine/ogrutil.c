/*
 * ogrutil.c — OGR helpers every reader and writer shares: why a dataset did
 * not open, its layer names, the WGS84 reference, a new layer with its
 * fields, a date field. No module of the pipeline: boundaries, the join's
 * writer, flows and run all use it, and it uses none of them.
 */
#include "df_io.h"

#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <cpl_string.h>
#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

const char *df__open_failure(df_ctx *ctx, const char *path)
{
    const char *why = df__gdal_error(ctx);
    if (why[0]) return why;
    if (access(path, F_OK) != 0) return strerror(errno); /* GDAL says nothing of a missing file */
    return "no GDAL driver recognises it";
}

void df__layer_names(void *ds, char *buf, size_t cap)
{
    int n = GDALDatasetGetLayerCount((GDALDatasetH)ds);
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", OGR_L_GetName(GDALDatasetGetLayer(ds, i)));
    }
}

void *df__wgs84(void)
{
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    if (srs) {
        OSRImportFromEPSG(srs, 4326);
        OSRSetAxisMappingStrategy(srs, OAMS_TRADITIONAL_GIS_ORDER); /* x = longitude */
    }
    return srs;
}

void *df__create_layer(df_ctx *ctx, void *ds, const char *path, const char *name, int geometry, const df__field *fields,
                       int nfields)
{
    return df__create_layer_co(ctx, ds, path, name, geometry, fields, nfields, NULL);
}

void *df__create_layer_co(df_ctx *ctx, void *ds, const char *path, const char *name, int geometry,
                          const df__field *fields, int nfields, char **options)
{
    int geojson = !strcmp(GDALGetDriverShortName(GDALGetDatasetDriver(ds)), "GeoJSON");
    OGRSpatialReferenceH srs = df__wgs84();
    char **lco = geojson ? CSLSetNameValue(NULL, "RFC7946", "YES") : NULL;
    for (char **o = options; o && *o; o++) lco = CSLAddString(lco, *o);
    OGRLayerH layer = GDALDatasetCreateLayer(ds, name, srs, (OGRwkbGeometryType)geometry, lco);
    CSLDestroy(lco);
    OSRDestroySpatialReference(srs);
    for (int i = 0; layer && i < nfields; i++) {
        OGRFieldDefnH fd = OGR_Fld_Create(fields[i].name, (OGRFieldType)fields[i].type);
        if (OGR_L_CreateField(layer, fd, TRUE) != OGRERR_NONE) layer = NULL;
        OGR_Fld_Destroy(fd);
    }
    if (!layer) df__error(ctx, DF_EGDAL, "cannot create layer %s in %s: %s", name, path, df__gdal_error(ctx));
    return layer;
}

void df__set_date_field(void *feature, int field, int32_t days)
{
    int y, m, d;
    if (days == DF_NO_DATE) return;
    df__civil_from_days(days, &y, &m, &d);
    OGR_F_SetFieldDateTime((OGRFeatureH)feature, field, y, m, d, 0, 0, 0, 0);
}

void df__csv_write_header(void *file, const df__field *columns, int n, int level, int parent_column)
{
    FILE *f = file;
    for (int c = 0; c < n; c++) fprintf(f, "%s%s", c ? "," : "", columns[c].name);
    fputc('\n', f);
    for (int c = 0; c < n; c++) {
        fputs(c ? "," : "", f);
        fprintf(f, columns[c].hxl ? columns[c].hxl : "", c == parent_column ? level - 1 : level);
    }
    fputc('\n', f);
}
