/*
 * test_qgis.c — the QGIS default styles and project: the QML is well-formed
 * XML and the same bytes every time; the styles land in the GeoPackage's
 * layer_styles table as QGIS itself stores them (no clock in them); and a
 * bundle built from the embedded sample (governorates, flows, nodes, record
 * points, density) opens styled in real QGIS, project included, and renders
 * (tests/peers/qgis_bundle.py, skipped when python3-qgis is absent).
 */
#include "dfint.h"
#include "harness.h"

#include <cpl_string.h>
#include <gdal.h>
#include <gdal_utils.h>
#include <ogr_api.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define ADM1_NE "shapes/iraq_adm1_naturalearth.geojson"
#define STAMP   "2017-05-02T00:00:00.000Z"
#define PYTHON  "/usr/bin/python3"

static const char *const shipped_aliases[] = {"shapes/aliases_iraq.csv", NULL};
static char tmpdir[] = "/tmp/dispflow-qgis-XXXXXX";
static double density_max; /* of the bundle's raster, once built */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *s = NULL;
    long n;
    *len = 0;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (s = malloc((size_t)n + 1)) != NULL) {
        *len = fread(s, 1, (size_t)n, f);
        s[*len] = '\0';
    }
    fclose(f);
    return s;
}

/* dir/name into out (512 bytes). */
static char *in_dir(char *out, const char *dir, const char *name)
{
    if (snprintf(out, 512, "%s/%s", dir, name) >= 512) out[0] = '\0';
    return out;
}

static int have_qgis(void) { return system(PYTHON " -c 'import qgis.core' >/dev/null 2>&1") == 0; }

/* The path is well-formed XML (Python's expat). */
static int xml_parses(const char *path)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, PYTHON " -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' %s", path);
    return system(cmd) == 0;
}

static void write_text(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");
    if (f) fputs(s, f), fclose(f);
}

/* ---- the bundle ------------------------------------------------------------ */

/* The largest value of a field of a layer of a GeoPackage. */
static double max_of(const char *gpkg, const char *layer, const char *field)
{
    char sql[256];
    double v = 0;
    GDALDatasetH ds = GDALOpenEx(gpkg, GDAL_OF_VECTOR, NULL, NULL, NULL);
    if (!ds) return 0;
    snprintf(sql, sizeof sql, "SELECT MAX(\"%s\") FROM \"%s\"", field, layer);
    OGRLayerH r = GDALDatasetExecuteSQL(ds, sql, NULL, NULL);
    OGRFeatureH f = r ? OGR_L_GetNextFeature(r) : NULL;
    if (f) v = OGR_F_GetFieldAsDouble(f, 0), OGR_F_Destroy(f);
    if (r) GDALDatasetReleaseResultSet(ds, r);
    GDALClose(ds);
    return v;
}

/* ogr2ogr [-update -append] dst src [args]: only the test merges files. */
static int translate(const char *dst, const char *src, const char *const *args, int update)
{
    char **argv = NULL;
    for (const char *const *a = args; *a; a++) argv = CSLAddString(argv, *a);
    if (update) argv = CSLAddString(argv, "-update"), argv = CSLAddString(argv, "-append");
    GDALVectorTranslateOptions *o = GDALVectorTranslateOptionsNew(argv, NULL);
    const char *const csv_opts[] = {"X_POSSIBLE_NAMES=Longitude", "Y_POSSIBLE_NAMES=Latitude", "AUTODETECT_TYPE=YES",
                                    NULL};
    int is_csv = strstr(src, ".csv") != NULL;
    GDALDatasetH in = GDALOpenEx(src, GDAL_OF_VECTOR, NULL, is_csv ? csv_opts : NULL, NULL);
    GDALDatasetH out = NULL;
    int err = 0;
    if (in)
        out = GDALVectorTranslate(update ? NULL : dst,
                                  update ? GDALOpenEx(dst, GDAL_OF_VECTOR | GDAL_OF_UPDATE, NULL, NULL, NULL) : NULL, 1,
                                  &in, o, &err);
    if (out) GDALClose(out);
    if (in) GDALClose(in);
    GDALVectorTranslateOptionsFree(o);
    CSLDestroy(argv);
    return out && !err;
}

/* Governorates, monthly flows, nodes, the record points (layers.gpkg) and
 * the displaced density of the embedded sample, in dir. */
static int build_layers(df_ctx *ctx, const char *dir, double *extent)
{
    char records[512], join[512], flows[512], nodes[512], gpkg[512], tif[512];
    in_dir(records, dir, "records.csv");
    in_dir(join, dir, "join.gpkg");
    in_dir(flows, dir, "flows.gpkg");
    in_dir(nodes, dir, "nodes.gpkg");
    in_dir(gpkg, dir, "layers.gpkg");
    in_dir(tif, dir, "density_displaced.tif");
    df_boundary_opts bo;
    df_record_opts ro;
    df_join_opts jo;
    df_flow_opts fo;
    df_density_opts dopts;
    df_boundaries *b = NULL;
    df_join *j = NULL;
    df_flows *f = NULL;
    df_density *d = NULL;
    df_boundary_opts_init(&bo);
    bo.path = ADM1_NE;
    bo.aliases = shipped_aliases;
    df_record_opts_init(&ro);
    ro.path = records;
    df_join_opts_init(&jo);
    jo.level = 1;
    df_flow_opts_init(&fo);
    fo.origin_level = fo.dest_level = 1;
    fo.step = DF_STEP_MONTH;
    df_density_opts_init(&dopts);
    dopts.radius = 10000, dopts.pixel = 1000, dopts.mask = 1, dopts.status = DF_DISPLACED;
    int ok = df_sample_write(ctx, records, 2016) == DF_OK && df_boundaries_load(ctx, &bo, &b) == DF_OK &&
             df_join_run(ctx, b, &ro, &jo, &j) == DF_OK && df_join_write(ctx, j, b, join, NULL, NULL) == DF_OK &&
             df_flows_run(ctx, b, &ro, &fo, &f) == DF_OK &&
             df_flows_write_lines(ctx, f, b, flows, 0.15, DF_ENDPOINTS_INSIDE, nodes) == DF_OK &&
             df_density_run(ctx, &ro, b, &dopts, &d) == DF_OK && df_density_write(ctx, d, tif, NULL, NULL) == DF_OK;
    if (!ok) printf("  bundle: %s\n", df_ctx_errmsg(ctx));
    const char *const adm1[] = {"-f", "GPKG", "-nln", "adm1", NULL}, *const fl[] = {"-nln", "flows", NULL},
                      *const nd[] = {"-nln", "flow_nodes", NULL},
                      *const rec[] = {"-nln",
                                      "records",
                                      "-a_srs",
                                      "EPSG:4326",
                                      "-lco",
                                      "GEOMETRY_NAME=geom",
                                      "-dialect",
                                      "SQLite",
                                      "-sql",
                                      "SELECT geometry, Date AS date, lower(Status) AS status, Location AS location, "
                                      "Individuals AS individuals, Families AS families FROM records "
                                      "WHERE geometry IS NOT NULL",
                                      NULL};
    ok = ok && translate(gpkg, join, adm1, 0) && translate(gpkg, flows, fl, 1) && translate(gpkg, nodes, nd, 1) &&
         translate(gpkg, records, rec, 1);
    if (ok) {
        GDALDatasetH ds = GDALOpenEx(gpkg, GDAL_OF_VECTOR, NULL, NULL, NULL);
        OGREnvelope e;
        ok = ds && OGR_L_GetExtent(GDALDatasetGetLayerByName(ds, "adm1"), &e, TRUE) == OGRERR_NONE;
        if (ok) extent[0] = e.MinX, extent[1] = e.MinY, extent[2] = e.MaxX, extent[3] = e.MaxY;
        if (ds) GDALClose(ds);
    }
    if (d) extent[4] = df_density_get_info(d)->max;
    df_density_free(d);
    df_flows_free(f);
    df_join_free(j);
    df_boundaries_free(b);
    return ok;
}

/* The bundle's layers, top first (arrows over the nodes they end in), with
 * their figures read back. */
static int bundle_layers(const char *dir, double raster_max, df__qgis_layer *l)
{
    char gpkg[512];
    in_dir(gpkg, dir, "layers.gpkg");
    df__qgis_layer v[] = {
        {.name = "flows",
         .title = "Flows: individuals",
         .style = DF__STYLE_FLOWS,
         .field = "individuals",
         .max = max_of(gpkg, "flows", "individuals"),
         .crs = "EPSG:4326",
         .temporal = 1},
        {.name = "flow_nodes",
         .title = "Flow nodes: inflow",
         .style = DF__STYLE_NODES,
         .field = "inflow",
         .max = max_of(gpkg, "flow_nodes", "inflow"),
         .crs = "EPSG:4326"},
        {.name = "records", .title = "Record locations", .style = DF__STYLE_POINTS, .crs = "EPSG:4326"},
        {.name = "density_displaced.tif",
         .title = "Density of displaced people",
         .style = DF__STYLE_RASTER,
         .max = raster_max,
         .units = "people/km2",
         .crs = "EPSG:32638"},
        {.name = "adm1",
         .title = "Governorates: displaced",
         .style = DF__STYLE_CHOROPLETH,
         .field = "displaced",
         .max = max_of(gpkg, "adm1", "displaced"),
         .crs = "EPSG:4326"},
    };
    memcpy(l, v, sizeof v);
    return (int)(sizeof v / sizeof v[0]);
}

/* ---- tests ------------------------------------------------------------------- */

/* Every style is well-formed XML, and the same bytes twice. */
TEST(styles_are_xml_and_reproducible)
{
    df__qgis_layer l[5];
    int n = bundle_layers(tmpdir, 1234.5, l);
    for (int i = 0; i < n; i++) {
        l[i].max = 410520; /* any figure: the gpkg is not made yet */
        char *a = df__qgis_style_qml(&l[i]), *b = df__qgis_style_qml(&l[i]), path[512];
        EXPECT(a && b);
        if (!a || !b) continue;
        EXPECT_STR(a, b);
        snprintf(path, sizeof path, "%s/style%d.qml", tmpdir, i);
        write_text(path, a);
        if (!xml_parses(path)) HARNESS_FAIL("%s: the QML of %s does not parse", path, l[i].name);
        free(a);
        free(b);
    }
}

/* Nice class breaks, with thousands separators in the legend. */
TEST(choropleth_breaks_are_round)
{
    df__qgis_layer l = {.name = "adm2",
                        .title = "Districts",
                        .style = DF__STYLE_CHOROPLETH,
                        .field = "displaced",
                        .max = 410520,
                        .crs = "EPSG:4326",
                        .features = 18};
    char *q = df__qgis_style_qml(&l);
    EXPECT(q && strstr(q, "label=\"0 - 100,000\""));
    EXPECT(q && strstr(q, "label=\"400,000 - 500,000\""));
    EXPECT(q && strstr(q, "type=\"graduatedSymbol\" attr=\"displaced\""));
    EXPECT(q && strstr(q, "fieldName=\"adm_name\""));
    free(q);
    l.max = 3.2; /* a density per km2 */
    q = df__qgis_style_qml(&l);
    EXPECT(q && strstr(q, "label=\"4 - 5\""));
    free(q);
}

/* The layer_styles rows: one default per vector layer, the QML as
 * df__qgis_style_qml makes it, the stamp as update_time and last_change. */
TEST(styles_stored_in_geopackage)
{
    df_ctx *ctx = df_ctx_new();
    char dir[512], gpkg[512];
    double ext[5] = {0};
    in_dir(dir, tmpdir, "bundle");
    in_dir(gpkg, dir, "layers.gpkg");
    EXPECT_INT(mkdir(dir, 0755), 0);
    int built = build_layers(ctx, dir, ext);
    EXPECT(built);
    if (!built) goto done;
    density_max = ext[4];
    df__qgis_layer l[5];
    int n = bundle_layers(dir, density_max, l);
    /* twice: the second write replaces the first */
    for (int k = 0; k < 2; k++) {
        GDALDatasetH ds = GDALOpenEx(gpkg, GDAL_OF_VECTOR | GDAL_OF_UPDATE, NULL, NULL, NULL);
        EXPECT(ds != NULL);
        if (!ds) goto done;
        df_status st = df__gpkg_write_styles(ctx, ds, l, n, STAMP);
        if (st != DF_OK) HARNESS_FAIL("df__gpkg_write_styles: %s", df_ctx_errmsg(ctx));
        GDALClose(ds);
    }
    GDALDatasetH ds = GDALOpenEx(gpkg, GDAL_OF_VECTOR, NULL, NULL, NULL);
    OGRLayerH t = ds ? GDALDatasetGetLayerByName(ds, "layer_styles") : NULL;
    EXPECT(t != NULL);
    if (!t) goto close;
    EXPECT_INT(OGR_L_GetFeatureCount(t, TRUE), 4);
    OGRFeatureH f;
    while ((f = OGR_L_GetNextFeature(t)) != NULL) {
        const char *name = OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "f_table_name"));
        for (int i = 0; i < n; i++) {
            if (strcmp(l[i].name, name) != 0) continue;
            char *q = df__qgis_style_qml(&l[i]);
            EXPECT_STR(OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "styleQML")), q);
            free(q);
        }
        EXPECT_STR(OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "f_geometry_column")), "geom");
        EXPECT_STR(OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "f_table_schema")), "");
        EXPECT_STR(OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "update_time")), "2017/05/02 00:00:00+00");
        EXPECT_INT(OGR_F_GetFieldAsInteger(f, OGR_F_GetFieldIndex(f, "useAsDefault")), 1);
        OGR_F_Destroy(f);
    }
    OGRLayerH r = GDALDatasetExecuteSQL(ds,
                                        "SELECT data_type, last_change FROM gpkg_contents "
                                        "WHERE table_name = 'layer_styles'",
                                        NULL, NULL);
    f = r ? OGR_L_GetNextFeature(r) : NULL;
    EXPECT(f != NULL);
    if (f) {
        EXPECT_STR(OGR_F_GetFieldAsString(f, 0), "attributes");
        EXPECT_STR(OGR_F_GetFieldAsString(f, 1), "2017/05/02 00:00:00+00"); /* STAMP, as OGR reads it */
        OGR_F_Destroy(f);
    }
    if (r) GDALDatasetReleaseResultSet(ds, r);
close:
    if (ds) GDALClose(ds);
done:
    df_ctx_free(ctx);
}

/* The project parses, names every layer by a relative path, and is the same
 * bytes twice. */
TEST(project_is_xml_and_reproducible)
{
    df_ctx *ctx = df_ctx_new();
    char dir[512], a[512], b[512];
    in_dir(dir, tmpdir, "bundle");
    in_dir(a, dir, "project.qgs");
    in_dir(b, tmpdir, "project2.qgs");
    double ext[4] = {38.77, 29.06, 48.55, 37.37};
    df__qgis_layer l[5];
    int n = bundle_layers(dir, 1224.6, l);
    EXPECT_INT(df__qgis_write_project(ctx, b, "Mosul corridor", l, n, ext, NULL, NULL), DF_OK);
    EXPECT_INT(df__qgis_write_project(ctx, a, "Mosul corridor", l, n, ext, NULL, NULL), DF_OK);
    size_t la, lb;
    char *sa = slurp(a, &la), *sb = slurp(b, &lb);
    EXPECT(sa && sb && la == lb && memcmp(sa, sb, la) == 0);
    EXPECT(xml_parses(a));
    EXPECT(sa && strstr(sa, "<datasource>./layers.gpkg|layername=flows</datasource>"));
    EXPECT(sa && strstr(sa, "<datasource>./density_displaced.tif</datasource>"));
    EXPECT(sa && strstr(sa, "<Absolute type=\"bool\">false</Absolute>"));
    free(sa);
    free(sb);
    /* issue 17 item 29: a title longer than the old 1 KB escaper is kept
     * whole, every & escaped */
    char title[3001];
    for (int i = 0; i < 3000; i++) title[i] = i % 10 == 9 ? '&' : 'a' + i % 26;
    title[3000] = '\0';
    EXPECT_INT(df__qgis_write_project(ctx, b, title, l, n, ext, NULL, NULL), DF_OK);
    sb = slurp(b, &lb);
    char *want = malloc(3000 * 5 + 20), *w = want;
    w += sprintf(w, "<title>");
    for (int i = 0; i < 3000; i++) w += title[i] == '&' ? sprintf(w, "&amp;") : sprintf(w, "%c", title[i]);
    sprintf(w, "</title>");
    EXPECT(sb && strstr(sb, want));
    EXPECT(xml_parses(b));
    free(want);
    free(sb);
    /* a CRS GDAL does not know fails, naming it */
    l[3].crs = "EPSG:999999";
    EXPECT_INT(df__qgis_write_project(ctx, b, "x", l, n, ext, NULL, NULL), DF_EPROJ);
    EXPECT(strstr(df_ctx_errmsg(ctx), "EPSG:999999") != NULL);
    df_ctx_free(ctx);
}

/* A missing layer is an error naming the file and the layer. */
TEST(styles_for_a_missing_layer_fail)
{
    df_ctx *ctx = df_ctx_new();
    char gpkg[512];
    in_dir(gpkg, tmpdir, "bundle/layers.gpkg");
    GDALDatasetH ds = GDALOpenEx(gpkg, GDAL_OF_VECTOR | GDAL_OF_UPDATE, NULL, NULL, NULL);
    EXPECT(ds != NULL);
    if (!ds) goto done;
    df__qgis_layer l = {.name = "adm3",
                        .title = "Sub-districts",
                        .style = DF__STYLE_CHOROPLETH,
                        .field = "displaced",
                        .max = 10,
                        .crs = "EPSG:4326"};
    EXPECT_INT(df__gpkg_write_styles(ctx, ds, &l, 1, STAMP), DF_EGDAL);
    EXPECT(strstr(df_ctx_errmsg(ctx), "adm3") && strstr(df_ctx_errmsg(ctx), "layers.gpkg"));
    GDALClose(ds);
done:
    df_ctx_free(ctx);
}

/* The real client: QGIS opens every layer styled from layer_styles, reads
 * the project (temporal flows included) and renders it. */
TEST(bundle_opens_styled_in_qgis)
{
    if (!have_qgis()) {
        SKIP("%s cannot import qgis", PYTHON);
    }
    df_ctx *ctx = df_ctx_new();
    char dir[512], qgs[512], cmd[2048], gpkg[512];
    in_dir(dir, tmpdir, "bundle");
    in_dir(qgs, dir, "project.qgs");
    in_dir(gpkg, dir, "layers.gpkg");
    GDALDatasetH ds = GDALOpenEx(gpkg, GDAL_OF_VECTOR, NULL, NULL, NULL);
    EXPECT(ds != NULL);
    if (!ds) goto done;
    OGREnvelope e;
    OGR_L_GetExtent(GDALDatasetGetLayerByName(ds, "adm1"), &e, TRUE);
    GDALClose(ds);
    double ext[4] = {e.MinX, e.MinY, e.MaxX, e.MaxY};
    df__qgis_layer l[5];
    int n = bundle_layers(dir, density_max, l);
    df__qgis_time time = {0, 0, DF_STEP_MONTH, DF_NO_DATE, DF_NO_DATE}; /* the Temporal Controller: month by month */
    df_date_parse("2016-10-17", &time.from);
    df_date_parse("2017-06-30", &time.to);
    EXPECT_INT(
        df__qgis_write_project(ctx, qgs, "Mosul corridor: displacement from 17 Oct 2016", l, n, ext, &time, NULL),
        DF_OK);
    snprintf(cmd, sizeof cmd,
             "QT_QPA_PLATFORM=offscreen " PYTHON " tests/peers/qgis_bundle.py %s %s/render.png >%s/qgis.log 2>&1", dir,
             tmpdir, tmpdir);
    int rc = system(cmd);
    char log[512];
    size_t len;
    in_dir(log, tmpdir, "qgis.log");
    char *out = slurp(log, &len);
    if (rc != 0) HARNESS_FAIL("qgis_bundle.py failed:\n%s", out ? out : "(no log)");
    free(out);
    if (getenv("QGIS_RENDER")) {
        snprintf(cmd, sizeof cmd, "cp %s/render.png %s", tmpdir, getenv("QGIS_RENDER"));
        if (system(cmd) != 0) printf("  cannot copy the render\n");
    }
done:
    df_ctx_free(ctx);
}

/* Run a job file; DF_OK or the error, printed. */
static df_status run_job(const char *path)
{
    df_ctx *ctx = df_ctx_new();
    df_job *job = NULL;
    df_status st = df_job_load(ctx, path, NULL, &job);
    if (st == DF_OK) st = df_job_run(ctx, job);
    if (st != DF_OK) printf("  %s: %s\n", path, df_ctx_errmsg(ctx));
    df_job_free(job);
    df_ctx_free(ctx);
    return st;
}

/* issue 14 items 1-2: a job's bundle (the embedded sample, monthly, at the
 * Natural Earth governorates, with a logo) printed from its project in real
 * QGIS: projected CRS, the latest period at open, labels once, the A4 layout
 * to PDF and PNG, one Atlas page per governorate with people
 * (tests/peers/qgis_layout.py). The project and map.html are the same bytes
 * when the job runs again. */
TEST(job_bundle_prints_in_qgis)
{
    char dir[512], records[512], logo[512], job[512], text[4096], bundle[512], copy[512], out[512], cmd[4096];
    char a[600], b[600];
    in_dir(dir, tmpdir, "print");
    EXPECT_INT(mkdir(dir, 0755), 0);
    in_dir(records, dir, "records.csv");
    in_dir(logo, dir, "logo.svg");
    in_dir(job, dir, "job.ini");
    in_dir(bundle, dir, "bundle");
    in_dir(copy, dir, "opened");
    in_dir(out, dir, "out");
    df_ctx *ctx = df_ctx_new();
    EXPECT_INT(df_sample_write(ctx, records, 2016), DF_OK);
    df_ctx_free(ctx);
    write_text(logo, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"120\" height=\"50\">"
                     "<rect width=\"120\" height=\"50\" fill=\"#1f78b4\"/></svg>\n");
    char cwd[1024];
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = '\0';
    snprintf(text, sizeof text,
             "[job]\ntitle = Sample & print\noutput = bundle\nstep = month\n[records]\npath = records.csv\n"
             "[boundaries]\nadm1 = %s/" ADM1_NE "\n[report]\nlogo = logo.svg\norganisation = Test office\n"
             "map_id = T-1\n",
             cwd);
    write_text(job, text);
    EXPECT_INT(run_job(job), DF_OK);
    size_t la, lb;
    in_dir(a, bundle, "project.qgs");
    char *first = slurp(a, &la);
    in_dir(a, bundle, "map.html");
    char *first_html = slurp(a, &lb);
    EXPECT(first && strstr(first, "<authid>EPSG:32638</authid>"));
    EXPECT(first && strstr(first, "file=\"./logo.svg\""));
    EXPECT(first && strstr(first, "Test office"));
    EXPECT(first && strstr(first, "Map T-1"));
    EXPECT(first && !strstr(first, cwd)); /* no path outside the bundle */
    in_dir(a, bundle, "logo.svg");
    struct stat sb;
    EXPECT_INT(stat(a, &sb), 0);
    /* again: the same bytes */
    EXPECT_INT(run_job(job), DF_OK);
    in_dir(a, bundle, "project.qgs");
    size_t la2, lb2;
    char *second = slurp(a, &la2);
    in_dir(b, bundle, "map.html");
    char *second_html = slurp(b, &lb2);
    EXPECT(first && second && la == la2 && memcmp(first, second, la) == 0);
    EXPECT(first_html && second_html && lb == lb2 && memcmp(first_html, second_html, lb) == 0);
    free(first), free(second), free(first_html), free(second_html);
    if (!have_qgis()) {
        SKIP("%s cannot import qgis", PYTHON);
    }
    /* QGIS opens a copy: it leaves -wal files beside a GeoPackage it reads */
    snprintf(cmd, sizeof cmd, "cp -r %s %s && mkdir %s", bundle, copy, out);
    EXPECT_INT(system(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "QT_QPA_PLATFORM=offscreen timeout 600 " PYTHON " tests/peers/qgis_layout.py %s %s >%s/qgis.log 2>&1",
             copy, out, dir);
    int rc = system(cmd);
    in_dir(a, dir, "qgis.log");
    char *log = slurp(a, &la);
    if (rc != 0) HARNESS_FAIL("qgis_layout.py failed:\n%s", log ? log : "(no log)");
    /* the Atlas: one page per governorate with people, by OGR */
    EXPECT(log && strstr(log, "ok   Atlas pages exported"));
    free(log);
    if (getenv("QGIS_LAYOUT")) {
        snprintf(cmd, sizeof cmd, "cp %s/*.png %s/*.pdf %s", out, out, getenv("QGIS_LAYOUT"));
        if (system(cmd) != 0) printf("  cannot copy the layout\n");
    }
}

int main(void)
{
    GDALAllRegister();
    if (!mkdtemp(tmpdir)) return 1;
    RUN(styles_are_xml_and_reproducible);
    RUN(choropleth_breaks_are_round);
    RUN(styles_stored_in_geopackage);
    RUN(project_is_xml_and_reproducible);
    RUN(styles_for_a_missing_layer_fail);
    RUN(bundle_opens_styled_in_qgis);
    RUN(job_bundle_prints_in_qgis);
    harness_remove_dir(tmpdir);
    return harness_done();
}
