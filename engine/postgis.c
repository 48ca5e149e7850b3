/*
 * postgis.c — the bundle's layers in a PostGIS schema, beside layers.gpkg
 * (`[job] database` and `[job] schema`, docs/jobs.md). The layers and their
 * QGIS styles are copied from the finished layers.gpkg, in one transaction:
 * into a temporary schema, then the previous schema dropped and the new one
 * renamed into its place, and the styles put in public.layer_styles (QGIS's
 * own table) under the final name. A failure anywhere rolls the whole
 * transaction back, so readers see the previous round or the new one,
 * never half of one. A schema dispflow did not write is never replaced.
 */
#include "df_io.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal.h>
#include <ogr_api.h>

/* The comment that marks a schema as one of ours: only those are replaced. */
#define MARK       "dispflow bundle"
#define TMP_SUFFIX "__tmp"

int df__is_database(const char *path) { return path && !strncasecmp(path, "PG:", 3); }

df_status df__postgis_schema(df_ctx *ctx, const char *tmpl, int32_t as_of, char *out, size_t cap)
{
    char day[16] = "";
    if (as_of != DF_NO_DATE) {
        char iso[16];
        df_date_format(as_of, iso); /* yyyy-mm-dd; the schema takes yyyymmdd, a plain identifier */
        snprintf(day, sizeof day, "%.4s%.2s%.2s", iso, iso + 5, iso + 8);
    } else {
        snprintf(day, sizeof day, "yyyymmdd"); /* checking the template only */
    }
    size_t k = 0;
    for (const char *p = tmpl; *p; p++) {
        if (!strncmp(p, "{as_of}", 7)) {
            k += (size_t)snprintf(out + k, k < cap ? cap - k : 0, "%s", day);
            p += 6;
        } else if (k + 1 < cap) {
            out[k++] = *p;
        } else {
            k++;
        }
        if (k >= cap) break;
    }
    if (k >= cap) k = cap - 1;
    out[k] = '\0';
    /* a lower-case identifier: nothing to quote, and room for the temporary suffix */
    int ok = out[0] && (out[0] == '_' || (out[0] >= 'a' && out[0] <= 'z'));
    for (const char *p = out; ok && *p; p++) ok = *p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9');
    if (!ok || strlen(out) > 63 - strlen(TMP_SUFFIX) || !strncmp(out, "pg_", 3) || !strcmp(out, "public"))
        return df__error(ctx, DF_EINVAL,
                         "schema '%s' (from '%s'): a schema name is lower-case letters, digits and _, starts with a "
                         "letter or _, is at most %d characters, and is not public or pg_*",
                         out, tmpl, (int)(63 - strlen(TMP_SUFFIX)));
    return DF_OK;
}

/* ---- SQL through OGR's connection ------------------------------------------- */

/* Run one statement; its result set (a SELECT) in *rs when rs, else released. */
static df_status exec(df_ctx *ctx, GDALDatasetH ds, OGRLayerH *rs, const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap); /* a QML is longer than CPLSPrintf's buffer */
    va_end(ap);
    char *sql = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!sql) return df__error(ctx, DF_ENOMEM, "out of memory");
    va_start(ap, fmt);
    vsnprintf(sql, (size_t)n + 1, fmt, ap);
    va_end(ap);
    CPLErrorReset();
    OGRLayerH r = GDALDatasetExecuteSQL(ds, sql, NULL, NULL);
    free(sql);
    if (CPLGetLastErrorType() >= CE_Failure) {
        if (r) GDALDatasetReleaseResultSet(ds, r);
        return df__error(ctx, DF_EGDAL, "PostGIS: cannot %s: %s", what, df__gdal_error(ctx));
    }
    if (rs)
        *rs = r;
    else if (r)
        GDALDatasetReleaseResultSet(ds, r);
    return DF_OK;
}

/* The first value of a one-row query, or "" (none) / NULL (error). */
static df_status query_text(df_ctx *ctx, GDALDatasetH ds, const char *what, const char *sql, char *out, size_t cap,
                            int *found)
{
    OGRLayerH rs = NULL;
    df_status st = exec(ctx, ds, &rs, what, "%s", sql);
    *found = 0;
    out[0] = '\0';
    if (st != DF_OK) return st;
    OGRFeatureH f = rs ? OGR_L_GetNextFeature(rs) : NULL;
    if (f) {
        *found = 1;
        if (OGR_F_IsFieldSetAndNotNull(f, 0)) snprintf(out, cap, "%s", OGR_F_GetFieldAsString(f, 0));
        OGR_F_Destroy(f);
    }
    if (rs) GDALDatasetReleaseResultSet(ds, rs);
    return DF_OK;
}

/* Single quotes doubled, in a new string the caller frees. */
static char *literal(const char *s)
{
    size_t n = 3;
    for (const char *p = s; *p; p++) n += *p == '\'' ? 2 : 1;
    char *out = malloc(n), *o = out;
    if (!out) return NULL;
    *o++ = '\'';
    for (; *s; s++)
        if ((*o++ = *s) == '\'') *o++ = '\'';
    *o++ = '\'';
    *o = '\0';
    return out;
}

/* ---- the copy ---------------------------------------------------------------- */

static df_status copy_layer(df_ctx *ctx, GDALDatasetH pg, OGRLayerH src, const char *tmp)
{
    const char *name = OGR_L_GetName(src);
    const char *geom = OGR_L_GetGeometryColumn(src);
    char **lco = CSLSetNameValue(NULL, "SCHEMA", tmp);
    lco = CSLSetNameValue(lco, "GEOMETRY_NAME", geom && geom[0] ? geom : "geom");
    lco = CSLSetNameValue(lco, "FID", "fid");
    lco = CSLSetNameValue(lco, "LAUNDER", "NO"); /* the field names of the styles, as in the GeoPackage */
    lco = CSLSetNameValue(lco, "SPATIAL_INDEX", "GIST");
    CPLErrorReset();
    /* not GDALDatasetCopyLayer: it opens a transaction of its own, and ours is open */
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(src);
    OGRLayerH dst = GDALDatasetCreateLayer(pg, name, OGR_L_GetSpatialRef(src), OGR_FD_GetGeomType(defn), lco);
    CSLDestroy(lco);
    for (int i = 0; dst && i < OGR_FD_GetFieldCount(defn); i++)
        if (OGR_L_CreateField(dst, OGR_FD_GetFieldDefn(defn, i), TRUE) != OGRERR_NONE) dst = NULL;
    OGRFeatureH f = NULL;
    OGR_L_ResetReading(src);
    while (dst && (f = OGR_L_GetNextFeature(src))) {
        OGRFeatureH g = OGR_F_Create(OGR_L_GetLayerDefn(dst));
        int ok = g && OGR_F_SetFrom(g, f, TRUE) == OGRERR_NONE;
        if (ok) OGR_F_SetFID(g, OGR_F_GetFID(f)); /* the GeoPackage's fids: the same features by number */
        ok = ok && OGR_L_CreateFeature(dst, g) == OGRERR_NONE;
        if (g) OGR_F_Destroy(g);
        OGR_F_Destroy(f);
        if (!ok) dst = NULL;
    }
    if (dst) OGR_L_SyncToDisk(dst); /* the last COPY batch, so that its errors are ours */
    if (!dst || CPLGetLastErrorType() >= CE_Failure)
        return df__error(ctx, DF_EGDAL, "PostGIS: cannot write the layer %s into schema %s: %s", name, tmp,
                         df__gdal_error(ctx));
    /* a copy that stopped early says so only by its count */
    GIntBig want = OGR_L_GetFeatureCount(src, TRUE), got = OGR_L_GetFeatureCount(dst, TRUE);
    if (want != got)
        return df__error(ctx, DF_EGDAL, "PostGIS: the layer %s has %lld features in schema %s, %lld in layers.gpkg",
                         name, (long long)got, tmp, (long long)want);
    return DF_OK;
}

/* QGIS's layer_styles (as QGIS 3.22 creates it), and our rows in it for the
 * final schema, copied from the GeoPackage's. */
static df_status copy_styles(df_ctx *ctx, GDALDatasetH pg, GDALDatasetH gpkg, const char *schema)
{
    df_status st = exec(ctx, pg, NULL, "create public.layer_styles",
                        "CREATE TABLE IF NOT EXISTS public.layer_styles (id SERIAL PRIMARY KEY, f_table_catalog "
                        "varchar, f_table_schema varchar, f_table_name varchar, f_geometry_column varchar, styleName "
                        "text, styleQML xml, styleSLD xml, useAsDefault boolean, description text, owner varchar(63) "
                        "DEFAULT CURRENT_USER, ui xml, update_time timestamp DEFAULT CURRENT_TIMESTAMP, type varchar)");
    if (st == DF_OK)
        st = exec(ctx, pg, NULL, "clear the styles of the previous round from public.layer_styles",
                  "DELETE FROM public.layer_styles WHERE f_table_catalog = current_database() AND f_table_schema = "
                  "'%s'",
                  schema);
    OGRLayerH t = GDALDatasetGetLayerByName(gpkg, "layer_styles");
    if (st != DF_OK || !t) return st;
    OGRFeatureH f;
    OGR_L_ResetReading(t);
    while (st == DF_OK && (f = OGR_L_GetNextFeature(t))) {
        const char *cols[] = {"f_table_name", "f_geometry_column", "styleName", "styleQML", "description"};
        char *v[5] = {0};
        int ok = 1;
        for (int i = 0; i < 5; i++) {
            int k = OGR_F_GetFieldIndex(f, cols[i]);
            ok &= (v[i] = literal(k >= 0 && OGR_F_IsFieldSetAndNotNull(f, k) ? OGR_F_GetFieldAsString(f, k) : "")) !=
                  NULL;
        }
        int k = OGR_F_GetFieldIndex(f, "useAsDefault");
        int dflt = k >= 0 && OGR_F_GetFieldAsInteger(f, k);
        /* a table that is not in the schema (a raster's style) has nothing to style there */
        if (!ok)
            st = df__error(ctx, DF_ENOMEM, "out of memory");
        else
            st = exec(ctx, pg, NULL, "store the QGIS styles in public.layer_styles",
                      "INSERT INTO public.layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                      "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, ui) SELECT "
                      "current_database(), '%s', %s, %s, %s, XMLPARSE(DOCUMENT %s), NULL, %s, %s, NULL WHERE "
                      "EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = '%s' AND tablename = %s)",
                      schema, v[0], v[1], v[2], v[3], dflt ? "true" : "false", v[4], schema, v[0]);
        for (int i = 0; i < 5; i++) free(v[i]);
        OGR_F_Destroy(f);
    }
    return st;
}

/* Everything inside the open transaction; the caller commits or rolls back. */
static df_status publish(df_ctx *ctx, GDALDatasetH pg, GDALDatasetH gpkg, const char *conn, const char *schema)
{
    char tmp[160], text[256];
    int found;
    snprintf(tmp, sizeof tmp, "%s%s", schema, TMP_SUFFIX);
    /* two runs writing one schema: the second fails at once */
    df_status st = query_text(ctx, pg, "lock the schema",
                              CPLSPrintf("SELECT pg_try_advisory_xact_lock(hashtext('dispflow:%s'))", schema), text,
                              sizeof text, &found);
    if (st != DF_OK) return st;
    if (strcasecmp(text, "1") && strcasecmp(text, "t") && strcasecmp(text, "true"))
        return df__error(ctx, DF_EIO, "%s: another dispflow run is writing schema %s: wait for it to finish", conn,
                         schema);
    if ((st = query_text(ctx, pg, "look for PostGIS", "SELECT extversion FROM pg_extension WHERE extname = 'postgis'",
                         text, sizeof text, &found)) != DF_OK)
        return st;
    if (!found)
        return df__error(ctx, DF_EINVAL,
                         "%s: the database has no PostGIS: run CREATE EXTENSION postgis in it (as its owner) first",
                         conn);
    st = query_text(ctx, pg, "look for the previous schema",
                    CPLSPrintf("SELECT coalesce(obj_description(oid, 'pg_namespace'), '') FROM pg_namespace WHERE "
                               "nspname = '%s'",
                               schema),
                    text, sizeof text, &found);
    if (st != DF_OK) return st;
    if (found && strncmp(text, MARK, strlen(MARK)) != 0)
        return df__error(ctx, DF_EIO,
                         "%s: schema %s exists and was not written by dispflow (its comment is not '%s ...'): not "
                         "replaced; choose another [job] schema, or drop it",
                         conn, schema, MARK);
    /* a leftover of a run whose transaction never began is not possible:
     * the temporary schema only ever exists inside the transaction */
    if ((st = exec(ctx, pg, NULL, "create the temporary schema", "CREATE SCHEMA \"%s\"", tmp)) != DF_OK) return st;
    for (int i = 0; st == DF_OK && i < GDALDatasetGetLayerCount(gpkg); i++) {
        OGRLayerH src = GDALDatasetGetLayer(gpkg, i);
        if (!strcmp(OGR_L_GetName(src), "layer_styles")) continue;
        st = copy_layer(ctx, pg, src, tmp);
    }
    if (st == DF_OK && found)
        st = exec(ctx, pg, NULL, "drop the previous schema", "DROP SCHEMA \"%s\" CASCADE", schema);
    if (st == DF_OK)
        st = exec(ctx, pg, NULL, "rename the new schema into place", "ALTER SCHEMA \"%s\" RENAME TO \"%s\"", tmp,
                  schema);
    if (st == DF_OK)
        st = exec(ctx, pg, NULL, "mark the schema", "COMMENT ON SCHEMA \"%s\" IS '" MARK " %s'", schema,
                  DISPFLOW_VERSION);
    if (st == DF_OK) st = copy_styles(ctx, pg, gpkg, schema);
    return st;
}

df_status df__postgis_write(df_ctx *ctx, const char *conn, const char *schema_tmpl, int32_t as_of,
                            const char *gpkg_path)
{
    char schema[128];
    df_status st = df__postgis_schema(ctx, schema_tmpl, as_of, schema, sizeof schema);
    if (st != DF_OK) return st;
    GDALDatasetH gpkg =
        GDALOpenEx(gpkg_path, GDAL_OF_VECTOR | GDAL_OF_READONLY, (const char *const[]){"GPKG", NULL}, NULL, NULL);
    if (!gpkg) return df__error(ctx, DF_EIO, "cannot open %s: %s", gpkg_path, df__gdal_error(ctx));
    GDALDatasetH pg =
        GDALOpenEx(conn, GDAL_OF_VECTOR | GDAL_OF_UPDATE, (const char *const[]){"PostgreSQL", NULL}, NULL, NULL);
    if (!pg) {
        st = df__error(ctx, DF_EIO, "cannot connect to the database %s: %s", conn, df__gdal_error(ctx));
        GDALClose(gpkg);
        return st;
    }
    if (GDALDatasetStartTransaction(pg, TRUE) != OGRERR_NONE)
        st = df__error(ctx, DF_EGDAL, "%s: cannot start a transaction: %s", conn, df__gdal_error(ctx));
    else if ((st = publish(ctx, pg, gpkg, conn, schema)) != DF_OK)
        GDALDatasetRollbackTransaction(pg); /* nothing of this round stays; the previous schema is as it was */
    else if (GDALDatasetCommitTransaction(pg) != OGRERR_NONE)
        st = df__error(ctx, DF_EGDAL, "%s: cannot commit schema %s: %s", conn, schema, df__gdal_error(ctx));
    if (st == DF_OK) df__log(ctx, DF_LOG_INFO, "%s: the layers written to schema %s", conn, schema);
    GDALClose(pg);
    GDALClose(gpkg);
    return st;
}
