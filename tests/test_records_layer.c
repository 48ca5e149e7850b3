/*
 * test_records_layer.c — issue 12 item 2, "a bundle that costs what its
 * input costs": the records layer of layers.gpkg written in bulk with its
 * spatial index packed once (rtree.c), checked against SQLite's own
 * rtreecheck, against a spatial filter counted by hand, against the
 * triggers GDAL itself makes, and by GDAL's validator; and above
 * [report] records_layer_max the bundle says where the records are instead
 * of copying them, unless records_layer = always.
 */
#include "dfint.h"
#include "harness.h"

#include <dirent.h>
#include <gdal.h>
#include <json-c/json.h>
#include <math.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>

#define GPKG_VALIDATOR "/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py"

static char tmpdir[] = "/tmp/dispflow-recslayer-XXXXXX";
static char cwd[1024];

#define NPOINTS 6000 /* more than 51 x 51: a tree of three levels */
static double lon[NPOINTS], lat[NPOINTS];

/* NPOINTS points over Iraq's box (a fixed LCG: the same file every time),
 * six decimals as the file says them. */
static void write_points(const char *path)
{
    FILE *f = fopen(path, "w");
    uint64_t s = 12;
    fprintf(f, "id,lon,lat,individuals\n");
    for (int i = 0; i < NPOINTS; i++) {
        s = s * 6364136223846793005u + 1442695040888963407u;
        double u = (double)(s >> 11) / 9007199254740992.0;
        s = s * 6364136223846793005u + 1442695040888963407u;
        double v = (double)(s >> 11) / 9007199254740992.0;
        char a[32], b[32];
        snprintf(a, sizeof a, "%.6f", 39.0 + 9.0 * u);
        snprintf(b, sizeof b, "%.6f", 29.5 + 7.8 * v);
        lon[i] = atof(a), lat[i] = atof(b);
        fprintf(f, "%d,%s,%s,%d\n", i, a, b, 1 + i % 7);
    }
    fclose(f);
}

static df_status run_job(const char *extra, const char *out, char *msg, size_t cap)
{
    char path[1300], text[4096];
    snprintf(path, sizeof path, "%s/job.ini", tmpdir);
    snprintf(text, sizeof text,
             "[job]\noutput = %s\n[records]\npath = points.csv\n[boundaries]\n"
             "adm1 = %s/shapes/iraq_adm1_naturalearth.geojson\n[flows]\nenabled = no\n"
             "[density]\nenabled = no\n[report]\nmaps = no\n%s",
             out, cwd, extra);
    harness_write_file(path, text);
    df_ctx *ctx = df_ctx_new();
    df_job *job = NULL;
    df_status st = df_job_load(ctx, path, "shapes/profiles", &job);
    if (st == DF_OK) st = df_job_run(ctx, job);
    snprintf(msg, cap, "%s", st == DF_OK ? "" : df_ctx_errmsg(ctx));
    df_job_free(job);
    df_ctx_free(ctx);
    return st;
}

/* One text value of a query on a SQLite file ("" when none). */
static void sql_text(const char *db_path, const char *sql, char *out, size_t cap)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    out[0] = 0;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW &&
        sqlite3_column_text(q, 0))
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(q, 0));
    else
        snprintf(out, cap, "(%s)", db ? sqlite3_errmsg(db) : "no db");
    sqlite3_finalize(q);
    sqlite3_close(db);
}

static long layer_count(const char *gpkg, const char *layer, const double *rect)
{
    GDALDatasetH ds = GDALOpenEx(gpkg, GDAL_OF_VECTOR, NULL, NULL, NULL);
    OGRLayerH l = ds ? GDALDatasetGetLayerByName(ds, layer) : NULL;
    long n = -1;
    if (l && rect) OGR_L_SetSpatialFilterRect(l, rect[0], rect[1], rect[2], rect[3]);
    if (l) n = (long)OGR_L_GetFeatureCount(l, TRUE);
    if (ds) GDALClose(ds);
    return n;
}

/* Every feature of the layer "records" read back through OGR (not through
 * the writer's SQL) against the file the job read: the point, every field
 * and the nulls, in input order; returns the features that differ. */
static long features_against_input(const char *gpkg)
{
    GDALDatasetH ds = GDALOpenEx(gpkg, GDAL_OF_VECTOR, NULL, NULL, NULL);
    OGRLayerH l = ds ? GDALDatasetGetLayerByName(ds, "records") : NULL;
    long bad = 0, i = 0;
    OGRFeatureH f;
    if (!l) return -1;
    OGRFeatureDefnH d = OGR_L_GetLayerDefn(l);
    EXPECT_INT(OGR_FD_GetFieldCount(d), 7);
    OGR_L_ResetReading(l);
    while ((f = OGR_L_GetNextFeature(l))) {
        OGRGeometryH g = OGR_F_GetGeometryRef(f);
        int ok = i < NPOINTS && OGR_F_GetFID(f) == i + 1 && g && wkbFlatten(OGR_G_GetGeometryType(g)) == wkbPoint &&
                 OGR_G_GetX(g, 0) == lon[i] && OGR_G_GetY(g, 0) == lat[i] &&
                 !OGR_F_IsFieldSetAndNotNull(f, OGR_F_GetFieldIndex(f, "date")) &&
                 !strcmp(OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "status")), "displaced") &&
                 OGR_F_IsFieldSetAndNotNull(f, OGR_F_GetFieldIndex(f, "location")) &&
                 !strcmp(OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "location")), "") &&
                 !OGR_F_IsFieldSetAndNotNull(f, OGR_F_GetFieldIndex(f, "families")) &&
                 OGR_F_GetFieldAsInteger64(f, OGR_F_GetFieldIndex(f, "individuals")) == 1 + i % 7 &&
                 OGR_F_GetFieldAsInteger64(f, OGR_F_GetFieldIndex(f, "line")) == i + 2 && /* after the header */
                 OGR_F_GetFieldAsInteger(f, OGR_F_GetFieldIndex(f, "swapped")) == 0;
        if (!ok && bad++ == 0) printf("  feature %ld differs from the input\n", i);
        OGR_F_Destroy(f);
        i++;
    }
    GDALClose(ds);
    return bad + (i != NPOINTS);
}

TEST(records_layer_in_bulk_with_its_index_issue12_item2)
{
    char msg[1024], gpkg[1300], got[4096], want[4096];
    EXPECT_INT(run_job("", "bundle", msg, sizeof msg), DF_OK);
    if (msg[0]) printf("  %s\n", msg);
    snprintf(gpkg, sizeof gpkg, "%s/bundle/layers.gpkg", tmpdir);
    /* every point a feature, every feature in the index, the tree sound */
    EXPECT_INT(layer_count(gpkg, "records", NULL), NPOINTS);
    EXPECT_INT(features_against_input(gpkg), 0); /* issue 12 item 2: the bulk rows read as OGR's own */
    /* the blob of a point as GDAL writes it: 'GP', version 0, flags 1
     * (little-endian, no envelope), srs_id 4326, WKB Point */
    sql_text(gpkg, "SELECT hex(substr(geom, 1, 13)) FROM records WHERE fid = 1", got, sizeof got);
    EXPECT_STR(got, "47500001E61000000101000000");
    /* what GDAL keeps as it writes: the feature count, the extent */
    sql_text(gpkg, "SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = 'records'", got, sizeof got);
    EXPECT_INT(atol(got), NPOINTS);
    {
        double e[4] = {999, 999, -999, -999};
        for (int i = 0; i < NPOINTS; i++)
            e[0] = fmin(e[0], lon[i]), e[1] = fmin(e[1], lat[i]), e[2] = fmax(e[2], lon[i]), e[3] = fmax(e[3], lat[i]);
        snprintf(want, sizeof want, "%.17g %.17g %.17g %.17g", e[0], e[1], e[2], e[3]);
        sql_text(gpkg,
                 "SELECT printf('%!.17g %!.17g %!.17g %!.17g', min_x, min_y, max_x, max_y) FROM gpkg_contents "
                 "WHERE table_name = 'records'",
                 got, sizeof got);
        EXPECT_STR(got, want);
    }
    /* the feature-count trigger GDAL made is back, and counts */
    sql_text(gpkg, "SELECT count(*) FROM sqlite_master WHERE name = 'trigger_insert_feature_count_records'", got,
             sizeof got);
    EXPECT_STR(got, "1");
    sql_text(gpkg, "SELECT count(*) FROM rtree_records_geom", got, sizeof got);
    EXPECT_INT(atol(got), NPOINTS);
    sql_text(gpkg, "SELECT rtreecheck('rtree_records_geom')", got, sizeof got);
    EXPECT_STR(got, "ok");
    sql_text(gpkg, "SELECT substr(hex(data), 1, 4) FROM rtree_records_geom_node WHERE nodeno = 1", got, sizeof got);
    EXPECT_STR(got, "0002"); /* depth 2: 6000 points, 51 a node */
    /* a spatial filter (OGR asks the R-tree) against a count by hand */
    static const double rects[][4] = {{43.0, 33.0, 44.5, 34.2}, {39.0, 29.5, 48.0, 37.3}, {46.9, 36.0, 47.0, 36.1}};
    for (int k = 0; k < 3; k++) {
        long n = 0;
        for (int i = 0; i < NPOINTS; i++)
            n += lon[i] >= rects[k][0] && lon[i] <= rects[k][2] && lat[i] >= rects[k][1] && lat[i] <= rects[k][3];
        EXPECT_INT(layer_count(gpkg, "records", rects[k]), n);
    }
    /* the index is GDAL's own: the same triggers and extension row as GDAL
     * writes for a layer of the same name and geometry column */
    char ref[1300];
    snprintf(ref, sizeof ref, "%s/gdal.gpkg", tmpdir);
    GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GPKG"), ref, 0, 0, 0, GDT_Unknown, NULL);
    OGRLayerH l = ds ? GDALDatasetCreateLayer(ds, "records", NULL, wkbPoint, NULL) : NULL;
    OGRFeatureH f = l ? OGR_F_Create(OGR_L_GetLayerDefn(l)) : NULL;
    OGRGeometryH pt = OGR_G_CreateGeometry(wkbPoint);
    OGR_G_SetPoint_2D(pt, 0, 44, 33);
    if (f) {
        OGR_F_SetGeometryDirectly(f, pt);
        EXPECT(OGR_L_CreateFeature(l, f) == OGRERR_NONE);
        OGR_F_Destroy(f);
    }
    if (ds) GDALClose(ds);
    static const char *const q =
        "SELECT group_concat(name || ': ' || sql, char(10)) FROM (SELECT name, sql FROM sqlite_master WHERE "
        "name LIKE 'rtree_records_geom%' ORDER BY name)";
    sql_text(gpkg, q, got, sizeof got);
    sql_text(ref, q, want, sizeof want);
    EXPECT_STR(got, want);
    static const char *const ext =
        "SELECT group_concat(column_name || ' ' || extension_name || ' ' || definition || ' ' || scope) "
        "FROM gpkg_extensions WHERE table_name = 'records'";
    sql_text(gpkg, ext, got, sizeof got);
    sql_text(ref, ext, want, sizeof want);
    EXPECT_STR(got, want);
    /* the manifest says the layer is there */
    snprintf(got, sizeof got, "%s/bundle/manifest.json", tmpdir);
    json_object *m = json_object_from_file(got), *o = NULL, *v = NULL;
    EXPECT(m && json_object_object_get_ex(m, "records_layer", &o));
    EXPECT(o && json_object_object_get_ex(o, "written", &v) && json_object_get_boolean(v));
    EXPECT(o && json_object_object_get_ex(o, "features", &v) && json_object_get_int64(v) == NPOINTS);
    json_object_put(m);
    if (access(GPKG_VALIDATOR, R_OK) == 0) {
        snprintf(got, sizeof got, "/usr/bin/python3 " GPKG_VALIDATOR " %s", gpkg);
        EXPECT_INT(system(got), 0);
    }
}

/* Above records_layer_max: no layer, and the sitrep and the manifest say
 * where the records are; records_layer = always copies them anyway. */
TEST(records_layer_threshold_issue12_item2)
{
    char msg[1024], path[1300];
    EXPECT_INT(run_job("records_layer_max = 5999\n", "over", msg, sizeof msg), DF_OK);
    snprintf(path, sizeof path, "%s/over/layers.gpkg", tmpdir);
    EXPECT_INT(layer_count(path, "records", NULL), -1);
    EXPECT_INT(layer_count(path, "adm1", NULL), 18);
    snprintf(path, sizeof path, "%s/over/sitrep.md", tmpdir);
    char *md = harness_slurp(path, NULL), want[1200];
    snprintf(want, sizeof want,
             "The records are not copied into layers.gpkg (it has no layer 'records'): 6,000 records with coordinates "
             "are more than \\[report\\] records\\_layer\\_max (5,999). They are in %s/points.csv", /* Markdown */
             tmpdir);
    EXPECT(md && strstr(md, want));
    if (md && !strstr(md, want)) printf("  want: %s\n", want);
    free(md);
    snprintf(path, sizeof path, "%s/over/project.qgs", tmpdir);
    char *qgs = harness_slurp(path, NULL);
    EXPECT(qgs && !strstr(qgs, "layername=records") && strstr(qgs, "layername=adm1"));
    free(qgs);
    snprintf(path, sizeof path, "%s/over/manifest.json", tmpdir);
    json_object *m = json_object_from_file(path), *o = NULL, *v = NULL;
    EXPECT(m && json_object_object_get_ex(m, "records_layer", &o));
    EXPECT(o && json_object_object_get_ex(o, "written", &v) && !json_object_get_boolean(v));
    EXPECT(o && json_object_object_get_ex(o, "records_with_coordinates", &v) && json_object_get_int64(v) == NPOINTS);
    EXPECT(o && json_object_object_get_ex(o, "records_layer_max", &v) && json_object_get_int64(v) == 5999);
    snprintf(path, sizeof path, "%s/points.csv", tmpdir);
    EXPECT(o && json_object_object_get_ex(o, "records", &v) && !strcmp(json_object_get_string(v), path));
    json_object_put(m);

    /* at the limit it is written; above it on request; never with no */
    EXPECT_INT(run_job("records_layer_max = 6000\n", "at", msg, sizeof msg), DF_OK);
    snprintf(path, sizeof path, "%s/at/layers.gpkg", tmpdir);
    EXPECT_INT(layer_count(path, "records", NULL), NPOINTS);
    EXPECT_INT(run_job("records_layer_max = 10\nrecords_layer = always\n", "always", msg, sizeof msg), DF_OK);
    snprintf(path, sizeof path, "%s/always/layers.gpkg", tmpdir);
    EXPECT_INT(layer_count(path, "records", NULL), NPOINTS);
    EXPECT_INT(run_job("records_layer = no\n", "no", msg, sizeof msg), DF_OK);
    snprintf(path, sizeof path, "%s/no/layers.gpkg", tmpdir);
    EXPECT_INT(layer_count(path, "records", NULL), -1);
    snprintf(path, sizeof path, "%s/no/sitrep.md", tmpdir);
    md = harness_slurp(path, NULL);
    EXPECT(md && strstr(md, "(it has no layer 'records'): the job says records\\_layer = no."));
    free(md);
    /* a word the key does not take is named with its line */
    EXPECT_INT(run_job("records_layer = sometimes\n", "bad", msg, sizeof msg), DF_EINVAL);
    EXPECT(strstr(msg, "job.ini:13: [report] records_layer") != NULL);
    if (!strstr(msg, "job.ini:13: [report] records_layer")) printf("  got: %s\n", msg);
}

/* Every field through OGR on a hand-made table with dates, both statuses,
 * places, families given and not: the values the previous writer
 * (OGR_L_CreateFeature) stored, read back field by field. Issue 12 item 2. */
TEST(records_layer_fields_as_ogr_wrote_them_issue12_item2)
{
    static const char *const rows[][7] = {
        /* date, status, location, lat, lon, families, individuals */
        {"2017-04-07", "Returned", "Al-Zuhor", "36.378133", "43.184112", "4", "24"},
        {"2016-11-29", "Displaced", "Mosul", "36.335", "43.1189", "", "48"},
        {"2016-12-01", "Displaced", "", "33.3152", "44.3661", "2", "11"},
        {"2017-01-15", "Returned", "Tikrit \"Old\" town", "34.6158", "43.6786", "7", "40"}};
    enum { N = sizeof rows / sizeof *rows };
    char path[1300], msg[1024], text[2048];
    int len = snprintf(text, sizeof text, "Date,Status,Location,Latitude,Longitude,Families,Individuals\n");
    for (int i = 0; i < N; i++) {
        char loc[64];
        snprintf(loc, sizeof loc, "%s", rows[i][2]);
        if (strchr(loc, '"')) snprintf(loc, sizeof loc, "\"Tikrit \"\"Old\"\" town\""); /* CSV quoting */
        len += snprintf(text + len, sizeof text - (size_t)len, "%s,%s,%s,%s,%s,%s,%s\n", rows[i][0], rows[i][1], loc,
                        rows[i][3], rows[i][4], rows[i][5], rows[i][6]);
    }
    snprintf(path, sizeof path, "%s/fields.csv", tmpdir);
    harness_write_file(path, text);
    snprintf(path, sizeof path, "%s/fields.ini", tmpdir);
    snprintf(text, sizeof text,
             "[job]\noutput = fields\n[records]\npath = fields.csv\n[boundaries]\n"
             "adm1 = %s/shapes/iraq_adm1_naturalearth.geojson\n[flows]\nenabled = no\n"
             "[density]\nenabled = no\n[report]\nmaps = no\n",
             cwd);
    harness_write_file(path, text);
    df_ctx *ctx = df_ctx_new();
    df_job *job = NULL;
    df_status st = df_job_load(ctx, path, "shapes/profiles", &job);
    if (st == DF_OK) st = df_job_run(ctx, job);
    snprintf(msg, sizeof msg, "%s", st == DF_OK ? "" : df_ctx_errmsg(ctx));
    df_job_free(job);
    df_ctx_free(ctx);
    EXPECT_INT(st, DF_OK);
    if (msg[0]) printf("  %s\n", msg);
    snprintf(path, sizeof path, "%s/fields/layers.gpkg", tmpdir);
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR, NULL, NULL, NULL);
    OGRLayerH l = ds ? GDALDatasetGetLayerByName(ds, "records") : NULL;
    EXPECT(l != NULL);
    int i = 0;
    OGRFeatureH f;
    while (l && (f = OGR_L_GetNextFeature(l))) {
        if (i < N) {
            const char *const *w = rows[i];
            char date[16];
            snprintf(date, sizeof date, "%.4s/%.2s/%.2s", w[0], w[0] + 5, w[0] + 8); /* as OGR says a date */
            OGRGeometryH g = OGR_F_GetGeometryRef(f);
            EXPECT(g && OGR_G_GetX(g, 0) == atof(w[4]) && OGR_G_GetY(g, 0) == atof(w[3]));
            EXPECT_INT(OGR_Fld_GetType(OGR_FD_GetFieldDefn(OGR_L_GetLayerDefn(l), 0)), OFTDate);
            EXPECT_STR(OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "date")), date);
            EXPECT_STR(OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "status")),
                       w[1][0] == 'R' ? "returned" : "displaced");
            EXPECT_STR(OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "location")), w[2]);
            int fam = OGR_F_GetFieldIndex(f, "families");
            EXPECT_INT(OGR_F_IsFieldSetAndNotNull(f, fam), w[5][0] != 0);
            if (w[5][0]) EXPECT_INT(OGR_F_GetFieldAsInteger64(f, fam), atol(w[5]));
            EXPECT_INT(OGR_F_GetFieldAsInteger64(f, OGR_F_GetFieldIndex(f, "individuals")), atol(w[6]));
            EXPECT_INT(OGR_F_GetFieldAsInteger64(f, OGR_F_GetFieldIndex(f, "line")), i + 2);
            EXPECT_INT(OGR_F_GetFieldAsInteger(f, OGR_F_GetFieldIndex(f, "swapped")), 0);
        }
        OGR_F_Destroy(f);
        i++;
    }
    EXPECT_INT(i, N);
    if (ds) GDALClose(ds);
    if (access(GPKG_VALIDATOR, R_OK) == 0) {
        snprintf(text, sizeof text, "/usr/bin/python3 " GPKG_VALIDATOR " %s", path);
        EXPECT_INT(system(text), 0);
    }
}

/* ---- the packing order (rtree.c's radix sort, issue 12 item 2) ---------- */

typedef struct {
    int64_t id;
    float x, y;
} ref_box;

static int ref_by_x(const void *pa, const void *pb)
{
    const ref_box *a = pa, *b = pb;
    double ca = 2.0 * a->x, cb = 2.0 * b->x;
    return ca < cb ? -1 : ca > cb ? 1 : (a->id > b->id) - (a->id < b->id);
}

static int ref_by_y(const void *pa, const void *pb)
{
    const ref_box *a = pa, *b = pb;
    double ca = 2.0 * a->y, cb = 2.0 * b->y;
    return ca < cb ? -1 : ca > cb ? 1 : (a->id > b->id) - (a->id < b->id);
}

/* A point layer with no rows and its index packed from n points whose
 * coordinates repeat (ties), cross 0 (-0.0 and +0.0 among them) and are
 * added in the order of step (1 or -1); the leaves' feature ids in node
 * order go to ids. */
static int packed_leaves(const char *gpkg, int n, int step, const ref_box *pts, int64_t *ids)
{
    GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GPKG"), gpkg, 0, 0, 0, GDT_Unknown, NULL);
    char *lco[] = {"SPATIAL_INDEX=NO", NULL};
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(srs, 4326);
    if (!ds || !GDALDatasetCreateLayer(ds, "records", srs, wkbPoint, lco)) return -1;
    OSRDestroySpatialReference(srs);
    GDALClose(ds);
    df__rtree *t = df__rtree_new();
    for (int k = 0; k < n; k++) {
        const ref_box *p = &pts[step > 0 ? k : n - 1 - k];
        df__rtree_add(t, p->id, p->x, p->y, p->x, p->y);
    }
    df_ctx *ctx = df_ctx_new();
    df_status st = df__rtree_write(ctx, t, gpkg, "records");
    df_ctx_free(ctx);
    df__rtree_free(t);
    if (st != DF_OK) return -1;
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int got = 0;
    if (sqlite3_open_v2(gpkg, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db,
                           "SELECT data FROM rtree_records_geom_node WHERE nodeno IN (SELECT nodeno FROM "
                           "rtree_records_geom_rowid) ORDER BY nodeno",
                           -1, &q, NULL) == SQLITE_OK)
        while (sqlite3_step(q) == SQLITE_ROW) {
            const unsigned char *d = sqlite3_column_blob(q, 0);
            int cells = d[2] << 8 | d[3];
            for (int c = 0; c < cells && got < n; c++) {
                int64_t id = 0;
                for (int b = 0; b < 8; b++) id = id << 8 | d[4 + 24 * c + b];
                ids[got++] = id;
            }
        }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return got;
}

TEST(rtree_packed_in_the_order_of_the_comparison_sort_issue12_item2)
{
    enum { N = 5000, M = 51 }; /* 51 cells a node for 4 KiB pages */
    static ref_box pts[N], want[N];
    static int64_t ids[N];
    char gpkg[1300], got[64];
    uint64_t s = 7;
    for (int i = 0; i < N; i++) { /* a 41 x 41 grid around 0: ties everywhere; ids not in file order */
        s = s * 6364136223846793005u + 1442695040888963407u;
        int gx = (int)(s >> 33) % 41 - 20, gy = (int)(s >> 45) % 41 - 20;
        pts[i] = (ref_box){.id = 1 + (int64_t)((i * 7919) % N),
                           .x = gx ? gx * 0.25f : (i & 1 ? -0.0f : 0.0f),
                           .y = gy ? gy * 0.125f : (i & 2 ? -0.0f : 0.0f)};
    }
    /* Sort-Tile-Recursive with qsort, as rtree.c did before its radix sort */
    memcpy(want, pts, sizeof pts);
    size_t nodes = (N + M - 1) / M, slices = (size_t)ceil(sqrt((double)nodes)), per = slices * M;
    qsort(want, N, sizeof *want, ref_by_x);
    for (size_t k = 0; k < N; k += per) qsort(want + k, N - k < per ? N - k : per, sizeof *want, ref_by_y);
    for (int step = 1; step >= -1; step -= 2) {
        snprintf(gpkg, sizeof gpkg, "%s/order%d.gpkg", tmpdir, step);
        EXPECT_INT(packed_leaves(gpkg, N, step, pts, ids), N);
        int differ = 0;
        for (int i = 0; i < N; i++)
            if (ids[i] != want[i].id && differ++ == 0)
                printf("  added %s: leaf cell %d holds id %lld, the comparison sort puts %lld there\n",
                       step > 0 ? "forwards" : "backwards", i, (long long)ids[i], (long long)want[i].id);
        EXPECT_INT(differ, 0);
        sql_text(gpkg, "SELECT rtreecheck('rtree_records_geom')", got, sizeof got);
        EXPECT_STR(got, "ok");
    }
}

/* ---- the records layer beside the other products (issue 12 item 2) -------- */

static int cancels_at_the_density(double fraction, const char *stage, void *user)
{
    (void)fraction;
    if (!strncmp(stage, "density", 7)) (*(int *)user)++;
    return strncmp(stage, "density", 7) != 0;
}

/* The records layer's rows are written on a thread of their own while the
 * density is computed: a run cancelled in the density stage says so (the
 * cancel, not the thread's stop, is the run's error), and leaves no
 * bundle and no temporary folder; the same job run to the end gives the
 * layer whole. */
TEST(records_layer_thread_joined_when_the_run_is_cancelled_issue12_item2)
{
    char path[1300], text[4096], msg[1024];
    snprintf(path, sizeof path, "%s/beside.ini", tmpdir);
    snprintf(text, sizeof text,
             "[job]\noutput = beside\n[records]\npath = points.csv\n[boundaries]\n"
             "adm1 = %s/shapes/iraq_adm1_naturalearth.geojson\n[flows]\nenabled = no\n"
             "[density]\nradius = 20000\npixel = 2000\n[report]\nmaps = no\n",
             cwd);
    harness_write_file(path, text);
    df_ctx *ctx = df_ctx_new();
    df_job *job = NULL;
    int seen = 0;
    df_status st = df_job_load(ctx, path, "shapes/profiles", &job);
    df_ctx_set_progress(ctx, cancels_at_the_density, &seen);
    if (st == DF_OK) st = df_job_run(ctx, job);
    EXPECT_INT(st, DF_ECANCELLED);
    EXPECT_INT(seen, 1);
    snprintf(msg, sizeof msg, "%s", df_ctx_errmsg(ctx));
    EXPECT_STR(msg, "cancelled during density");
    df_ctx_set_progress(ctx, NULL, NULL);
    snprintf(text, sizeof text, "%s/beside", tmpdir);
    struct stat sb;
    EXPECT(stat(text, &sb) != 0); /* no bundle */
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    int left = 0;
    while (d && (e = readdir(d))) left += strstr(e->d_name, ".tmp-") != NULL;
    if (d) closedir(d);
    EXPECT_INT(left, 0);
    /* to the end: every point a feature, the index sound */
    if (job) EXPECT_INT(df_job_run(ctx, job), DF_OK);
    snprintf(text, sizeof text, "%s/beside/layers.gpkg", tmpdir);
    EXPECT_INT(layer_count(text, "records", NULL), NPOINTS);
    sql_text(text, "SELECT rtreecheck('rtree_records_geom')", msg, sizeof msg);
    EXPECT_STR(msg, "ok");
    df_job_free(job);
    df_ctx_free(ctx);
}

int main(void)
{
    if (!getcwd(cwd, sizeof cwd) || !mkdtemp(tmpdir)) return 1;
    GDALAllRegister();
    char path[1300];
    snprintf(path, sizeof path, "%s/points.csv", tmpdir);
    write_points(path);
    RUN(records_layer_in_bulk_with_its_index_issue12_item2);
    RUN(records_layer_threshold_issue12_item2);
    RUN(records_layer_fields_as_ogr_wrote_them_issue12_item2);
    RUN(rtree_packed_in_the_order_of_the_comparison_sort_issue12_item2);
    RUN(records_layer_thread_joined_when_the_run_is_cancelled_issue12_item2);
    if (!getenv("DF_KEEP")) harness_remove_dir(tmpdir);
    return harness_done();
}
