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

#include <gdal.h>
#include <json-c/json.h>
#include <ogr_api.h>
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

TEST(records_layer_in_bulk_with_its_index_issue12_item2)
{
    char msg[1024], gpkg[1300], got[4096], want[4096];
    EXPECT_INT(run_job("", "bundle", msg, sizeof msg), DF_OK);
    if (msg[0]) printf("  %s\n", msg);
    snprintf(gpkg, sizeof gpkg, "%s/bundle/layers.gpkg", tmpdir);
    /* every point a feature, every feature in the index, the tree sound */
    EXPECT_INT(layer_count(gpkg, "records", NULL), NPOINTS);
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

int main(void)
{
    if (!getcwd(cwd, sizeof cwd) || !mkdtemp(tmpdir)) return 1;
    GDALAllRegister();
    char path[1300];
    snprintf(path, sizeof path, "%s/points.csv", tmpdir);
    write_points(path);
    RUN(records_layer_in_bulk_with_its_index_issue12_item2);
    RUN(records_layer_threshold_issue12_item2);
    if (!getenv("DF_KEEP")) harness_remove_dir(tmpdir);
    return harness_done();
}
