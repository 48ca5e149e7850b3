/*
 * sources.c — the rows of a records file, as strings: CSV/TSV through the
 * streaming reader (csv.c), DTM API JSON through json-c, and every other
 * tabular source through OGR (XLSX, ODS, GeoPackage, GeoJSON points, whose
 * geometry gives two extra columns). ingest.c turns the rows into records.
 */
#include "df_io.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gdal.h>
#include <json-c/json.h>
#include <ogr_api.h>

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/* Build a row from string values (JSON or OGR) into src->buf/cells. */
static int row_set(df__source *src, int n, const char **values)
{
    size_t total = 0;
    for (int i = 0; i < n; i++) total += strlen(values[i]) + 1;
    if (total > src->buf_cap) {
        char *nb = realloc(src->buf, total);
        if (!nb) return -1;
        src->buf = nb;
        src->buf_cap = total;
    }
    if (n > src->cells_cap) {
        char **nc = df__realloc_array(src->cells, (size_t)n, sizeof *nc);
        if (nc) src->cells = nc;
        size_t *nl = df__realloc_array(src->lens, (size_t)n, sizeof *nl);
        if (nl) src->lens = nl;
        if (!nc || !nl) return -1;
        src->cells_cap = n;
    }
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        size_t k = strlen(values[i]);
        memcpy(src->buf + o, values[i], k + 1);
        src->lens[i] = k;
        o += k + 1;
    }
    o = 0; /* pointers only after the last realloc */
    for (int i = 0; i < n; i++) src->cells[i] = src->buf + o, o += src->lens[i] + 1;
    return 0;
}

int df__source_set_header(df__source *src, char **cells, int n)
{
    src->header = calloc((size_t)n + 1, sizeof *src->header);
    if (!src->header) return -1;
    src->nheader = n;
    for (int i = 0; i < n; i++) {
        const char *c = cells[i];
        while (isspace((unsigned char)*c)) c++;
        if (!(src->header[i] = df__strdup(c))) return -1;
        for (size_t k = strlen(src->header[i]); k > 0 && isspace((unsigned char)src->header[i][k - 1]); k--)
            src->header[i][k - 1] = '\0';
    }
    return 0;
}

/* Next data row: 1 with a row, 0 at the end, -1 on error; 2 a CSV record
 * skipped for a field over DF__CSV_MAX_FIELD (df__csv_next). */
int df__source_next(df__source *src, char ***cells, size_t **lens, int *n, long *line)
{
    if (src->kind == DF__SRC_CSV) return df__csv_next(src->csv, cells, lens, n, line);
    const char *vals[1024];
    if (src->kind == DF__SRC_JSON) {
        if (src->item >= json_object_array_length(src->items)) return 0;
        json_object *o = json_object_array_get_idx(src->items, src->item++);
        int k = 0;
        for (; k < src->nheader && k < 1024; k++) {
            json_object *v = NULL;
            vals[k] = json_object_object_get_ex(o, src->header[k], &v) && v ? json_object_get_string(v) : "";
        }
        *line = (long)src->item;
        *n = k;
    } else {
        OGRFeatureH f = OGR_L_GetNextFeature(src->layer);
        if (!f) return 0;
        char lonbuf[32] = "", latbuf[32] = "";
        int nf = OGR_F_GetFieldCount(f), k = 0;
        static _Thread_local char *copies[1024];
        for (; k < nf && k < 1020; k++) {
            const char *s = OGR_F_IsFieldSetAndNotNull(f, k) ? OGR_F_GetFieldAsString(f, k) : "";
            copies[k] = df__strdup(s); /* OGR's string is valid only until the next call */
            vals[k] = copies[k] ? copies[k] : "";
        }
        if (src->point_columns) {
            OGRGeometryH g = OGR_F_GetGeometryRef(f);
            if (g && wkbFlatten(OGR_G_GetGeometryType(g)) == wkbPoint && !OGR_G_IsEmpty(g)) {
                snprintf(lonbuf, sizeof lonbuf, "%.9g", OGR_G_GetX(g, 0));
                snprintf(latbuf, sizeof latbuf, "%.9g", OGR_G_GetY(g, 0));
            }
            vals[k++] = lonbuf;
            vals[k++] = latbuf;
        }
        int rc = row_set(src, k, vals);
        for (int i = 0; i < nf && i < 1020; i++) free(copies[i]);
        OGR_F_Destroy(f);
        *line = ++src->feature + 1; /* spreadsheet row, counting the header */
        if (rc != 0) return df__error(src->ctx, DF_ENOMEM, "out of memory reading %s", src->path), -1;
        *cells = src->cells;
        *lens = src->lens;
        *n = k;
        return 1;
    }
    if (row_set(src, *n, vals) != 0) return df__error(src->ctx, DF_ENOMEM, "out of memory reading %s", src->path), -1;
    *cells = src->cells;
    *lens = src->lens;
    return 1;
}

void df__source_close(df__source *src)
{
    df__csv_close(src->csv);
    if (src->json) json_object_put(src->json);
    if (src->ds) GDALClose(src->ds);
    for (int i = 0; i < src->nheader; i++) free(src->header[i]);
    free(src->header);
    free(src->buf);
    free(src->cells);
    free(src->lens);
}

/* The array of records in a DTM API response: the top level, "result", or
 * the first array-valued member. */
static json_object *json_records(json_object *root)
{
    if (json_object_is_type(root, json_type_array)) return root;
    json_object *r = NULL;
    if (json_object_object_get_ex(root, "result", &r) && json_object_is_type(r, json_type_array)) return r;
    json_object_object_foreach(root, key, val)
    {
        (void)key;
        if (json_object_is_type(val, json_type_array)) return val;
    }
    return NULL;
}

df_status df__source_open(df_ctx *ctx, const df_record_opts *o, df__source *src)
{
    memset(src, 0, sizeof *src);
    src->ctx = ctx;
    src->path = o->path;
    if (ends_with(o->path, ".json") && !ends_with(o->path, ".geojson")) {
        src->kind = DF__SRC_JSON;
        src->json = json_object_from_file(o->path);
        if (!src->json) { /* json-c says "json_tokener_parse_ex failed: continue" for an early end */
            const char *why = json_util_get_last_err();
            struct stat js;
            if (stat(o->path, &js) != 0) return df__error(ctx, DF_EIO, "cannot open %s: %s", o->path, strerror(errno));
            if (why && strstr(why, "continue"))
                why = js.st_size == 0 ? "the file is empty" : "the JSON ends early (a truncated download?)";
            return df__error(ctx, DF_EFORMAT, "%s: not readable JSON: %s", o->path, why ? why : "?");
        }
        src->items = json_records(src->json);
        if (!src->items) return df__error(ctx, DF_EFORMAT, "%s: no array of records in this JSON", o->path);
        /* the header: keys of the first record */
        json_object *first = json_object_array_length(src->items) ? json_object_array_get_idx(src->items, 0) : NULL;
        char *keys[1024];
        int n = 0;
        if (first && json_object_is_type(first, json_type_object)) {
            json_object_object_foreach(first, key, val)
            {
                (void)val;
                if (n < 1024) keys[n++] = key;
            }
        }
        return df__source_set_header(src, keys, n) == 0 ? DF_OK : df__error(ctx, DF_ENOMEM, "out of memory");
    }
    struct stat sb;
    int stream =
        strcmp(o->path, "-") == 0 || (stat(o->path, &sb) == 0 && (S_ISFIFO(sb.st_mode) || S_ISCHR(sb.st_mode)));
    if (ends_with(o->path, ".csv") || ends_with(o->path, ".tsv") || ends_with(o->path, ".txt") || stream) {
        /* a pipe is read as CSV: GDAL would need to seek in it */
        src->kind = DF__SRC_CSV;
        return df__csv_open(ctx, o->path, o->delimiter, &src->csv);
    }
    src->kind = DF__SRC_OGR;
    src->ds = GDALOpenEx(o->path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!src->ds) {
        const char *why = df__gdal_error(ctx);
        return df__error(ctx, DF_EIO, "cannot open records %s: %s", o->path,
                         why[0] ? why
                         : access(o->path, F_OK) != 0
                             ? strerror(errno)
                             : "not a CSV, TSV or JSON file, and no GDAL driver recognises it");
    }
    src->layer = o->layer ? GDALDatasetGetLayerByName(src->ds, o->layer) : GDALDatasetGetLayer(src->ds, 0);
    if (!src->layer) {
        char names[512];
        df__layer_names(src->ds, names, sizeof names);
        return df__error(ctx, DF_EINVAL, "%s: no sheet or layer %s (it has: %s)", o->path,
                         o->layer ? o->layer : "(first)", names[0] ? names : "none");
    }
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(src->layer);
    int n = OGR_FD_GetFieldCount(defn);
    if (n > 1020) return df__error(ctx, DF_EFORMAT, "%s: more than 1020 columns", o->path);
    char *names[1024];
    for (int i = 0; i < n; i++) names[i] = (char *)OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(defn, i));
    src->point_columns = wkbFlatten(OGR_FD_GetGeomType(defn)) == wkbPoint;
    if (src->point_columns) names[n++] = "__geometry_lon", names[n++] = "__geometry_lat";
    return df__source_set_header(src, names, n) == 0 ? DF_OK : df__error(ctx, DF_ENOMEM, "out of memory");
}
