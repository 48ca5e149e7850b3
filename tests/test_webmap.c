/*
 * test_webmap.c — map.html, the bundle's interactive web map (issue 14 item
 * 4), in a real browser: headless Chromium (Debian's chromium) opens the file
 * with the network off, the page logs nothing to the console (no error), it
 * draws one polygon per unit of the layer and, per period, as many arrows as
 * the flows layer has in that period (counted independently with OGR), and
 * the screenshots of the first and the last period differ. The Mosul bundle
 * at admin 2 stays under 5 MB. Skipped when chromium is absent.
 */
#include "dfint.h"
#include "harness.h"

#include <gdal.h>
#include <ogr_api.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define ADM1_NE  "shapes/iraq_adm1_naturalearth.geojson"
#define CHROMIUM "/usr/bin/chromium"

static char tmpdir[] = "/tmp/dispflow-webmap-XXXXXX";
static char cwd[1024];

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

/* The embedded sample, monthly, at the Natural Earth governorates. */
static int sample_bundle(char *bundle, size_t cap)
{
    char records[1024], job[1024], text[8192];
    snprintf(records, sizeof records, "%s/records.csv", tmpdir);
    snprintf(job, sizeof job, "%s/sample.ini", tmpdir);
    snprintf(bundle, cap, "%s/sample", tmpdir);
    df_ctx *ctx = df_ctx_new();
    df_status st = df_sample_write(ctx, records, 2016);
    df_ctx_free(ctx);
    if (st != DF_OK) return 0;
    snprintf(text, sizeof text,
             "[job]\ntitle = Sample <web map> & flows\noutput = sample\nstep = month\n"
             "[records]\npath = %s\n[boundaries]\nadm1 = %s/" ADM1_NE "\n",
             records, cwd);
    harness_write_file(job, text);
    return run_job(job) == DF_OK;
}

/* OGR's count of a layer's features matching a filter (NULL: all). */
static long ogr_count(const char *gpkg, const char *layer, const char *where)
{
    GDALDatasetH ds = GDALOpenEx(gpkg, GDAL_OF_VECTOR, NULL, NULL, NULL);
    OGRLayerH l = ds ? GDALDatasetGetLayerByName(ds, layer) : NULL;
    long n = -1;
    if (l && (!where || OGR_L_SetAttributeFilter(l, where) == OGRERR_NONE)) n = (long)OGR_L_GetFeatureCount(l, TRUE);
    if (ds) GDALClose(ds);
    return n;
}

/* The flows' distinct period starts, in order, into starts (at most max). */
static int flow_periods(const char *gpkg, char starts[][11], int max)
{
    GDALDatasetH ds = GDALOpenEx(gpkg, GDAL_OF_VECTOR, NULL, NULL, NULL);
    int n = 0;
    OGRLayerH r =
        ds ? GDALDatasetExecuteSQL(ds, "SELECT DISTINCT period_start FROM flows ORDER BY period_start", NULL, NULL)
           : NULL;
    OGRFeatureH f;
    while (r && n < max && (f = OGR_L_GetNextFeature(r))) {
        snprintf(starts[n], 11, "%.10s", OGR_F_GetFieldAsString(f, 0));
        for (char *c = starts[n]; *c; c++) /* OGR reads "2016/10/01"; SQL compares "2016-10-01" */
            if (*c == '/') *c = '-';
        n++;
        OGR_F_Destroy(f);
    }
    if (r) GDALDatasetReleaseResultSet(ds, r);
    if (ds) GDALClose(ds);
    return n;
}

/* Open html#period=k in headless Chromium: the DOM after the page ran (a
 * virtual-time budget lets it finish), a screenshot, and the browser's log
 * (console messages are its "CONSOLE" lines). A new empty profile each time. */
static char *browse(const char *html, int period, const char *png, char **log)
{
    char prof[1200], cmd[16384], dom[1200], err[1200];
    size_t len;
    snprintf(prof, sizeof prof, "%s/profile%d", tmpdir, period);
    snprintf(dom, sizeof dom, "%s/dom%d.html", tmpdir, period);
    snprintf(err, sizeof err, "%s/chromium%d.log", tmpdir, period);
    mkdir(prof, 0700);
    const char *flags = "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                        "--disable-background-networking --disable-component-update --disable-sync "
                        "--enable-logging=stderr --v=0 --window-size=1200,900 --virtual-time-budget=5000";
    snprintf(cmd, sizeof cmd,
             "timeout 120 " CHROMIUM " %s --user-data-dir=%s --dump-dom 'file://%s#period=%d' >%s 2>%s && "
             "timeout 120 " CHROMIUM " %s --user-data-dir=%s --screenshot=%s 'file://%s#period=%d' >/dev/null 2>>%s",
             flags, prof, html, period, dom, err, flags, prof, png, html, period, err);
    if (system(cmd) != 0) printf("  chromium failed: %s\n", cmd);
    *log = harness_slurp(err, &len);
    return harness_slurp(dom, &len);
}

/* The value of attribute name="..." on <body> of a dumped DOM, or -1. */
static long body_attr(const char *dom, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, " %s=\"", name);
    const char *body = dom ? strstr(dom, "<body") : NULL, *end = body ? strchr(body, '>') : NULL;
    const char *at = body ? strstr(body, key) : NULL;
    return at && at < end ? strtol(at + strlen(key), NULL, 10) : -1;
}

/* Console lines in a Chromium log. */
static int console_lines(const char *log)
{
    int n = 0;
    for (const char *p = log; p && (p = strstr(p, ":CONSOLE")); p++) {
        const char *eol = strchr(p, '\n');
        printf("  console: %.*s\n", eol ? (int)(eol - p) : 200, p);
        n++;
    }
    return n;
}

/* Pixels that differ between two PNGs of the same size (GDAL reads them). */
static long png_diff(const char *a, const char *b)
{
    GDALDatasetH da = GDALOpen(a, GA_ReadOnly), db = GDALOpen(b, GA_ReadOnly);
    long diff = -1;
    if (da && db && GDALGetRasterXSize(da) == GDALGetRasterXSize(db) &&
        GDALGetRasterYSize(da) == GDALGetRasterYSize(db)) {
        int w = GDALGetRasterXSize(da), h = GDALGetRasterYSize(da), nb = GDALGetRasterCount(da);
        unsigned char *pa = malloc((size_t)w * h), *pb = malloc((size_t)w * h);
        char *seen = calloc((size_t)w * h, 1);
        diff = 0;
        for (int band = 1; pa && pb && seen && band <= nb && band <= 3; band++) {
            if (GDALRasterIO(GDALGetRasterBand(da, band), GF_Read, 0, 0, w, h, pa, w, h, GDT_Byte, 0, 0) != CE_None ||
                GDALRasterIO(GDALGetRasterBand(db, band), GF_Read, 0, 0, w, h, pb, w, h, GDT_Byte, 0, 0) != CE_None)
                break;
            for (long i = 0; i < (long)w * h; i++)
                if (pa[i] != pb[i] && !seen[i]) seen[i] = 1, diff++;
        }
        free(pa), free(pb), free(seen);
    }
    if (da) GDALClose(da);
    if (db) GDALClose(db);
    return diff;
}

/* issue 14 item 4: the page in a browser, first and last period. */
TEST(map_html_in_headless_chromium)
{
    if (access(CHROMIUM, X_OK) != 0) {
        SKIP("%s is absent (Debian package chromium)", CHROMIUM);
    }
    char bundle[1024], html[1200], gpkg[1200], png[2][1200], where[128], starts[64][11];
    EXPECT(sample_bundle(bundle, sizeof bundle));
    snprintf(html, sizeof html, "%s/map.html", bundle);
    snprintf(gpkg, sizeof gpkg, "%s/layers.gpkg", bundle);
    size_t len;
    char *page = harness_slurp(html, &len);
    EXPECT(page != NULL);
    if (!page) return;
    /* one file, nothing fetched: no http(s) URL outside Leaflet's comments */
    EXPECT(strstr(page, "<script src") == NULL && strstr(page, "<link") == NULL);
    EXPECT(strstr(page, "Vladimir Agafonkin") != NULL); /* the licence kept */
    EXPECT(strstr(page, "Sample &lt;web map> &amp; flows") != NULL);
    free(page);
    int np = flow_periods(gpkg, starts, 64);
    EXPECT(np >= 2);
    long units = ogr_count(gpkg, "adm1", NULL);
    for (int s = 0; s < 2 && np >= 2; s++) {
        int k = s == 0 ? 1 : np; /* the first and the last period */
        char *log = NULL;
        snprintf(png[s], sizeof png[s], "%s/period%d.png", tmpdir, k);
        char *dom = browse(html, k, png[s], &log);
        EXPECT(dom != NULL);
        EXPECT_INT(console_lines(log), 0);
        EXPECT_INT(body_attr(dom, "data-ready"), 1);
        EXPECT_INT(body_attr(dom, "data-period"), k);
        EXPECT_INT(body_attr(dom, "data-units"), units);
        snprintf(where, sizeof where, "period_start = '%s'", starts[k - 1]);
        long want = ogr_count(gpkg, "flows", where);
        EXPECT(want > 0);
        EXPECT_INT(body_attr(dom, "data-flows-drawn"), want);
        printf("  period %d (%s): %ld units, %ld flows drawn\n", k, starts[k - 1], units, want);
        free(dom);
        free(log);
    }
    long diff = np >= 2 ? png_diff(png[0], png[1]) : -1;
    printf("  screenshots differ in %ld pixels\n", diff);
    EXPECT(diff > 1000);
    if (getenv("WEBMAP_SHOTS")) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "cp %s %s %s", png[0], png[1], getenv("WEBMAP_SHOTS"));
        if (system(cmd) != 0) printf("  cannot copy the screenshots\n");
    }
}

/* issue 14 item 4: the Mosul bundle at admin 2 stays under 5 MB. */
TEST(mosul_map_html_under_5mb)
{
    NEED_FILE(MOSUL_ET "records.csv");
    NEED_FILE(COD_ADM2_SHP);
    char job[1024], html[1200];
    harness_mosul_job(job, sizeof job, tmpdir, cwd, "mosul", "");
    EXPECT_INT(run_job(job), DF_OK);
    snprintf(html, sizeof html, "%s/mosul/map.html", tmpdir);
    struct stat sb;
    EXPECT_INT(stat(html, &sb), 0);
    printf("  Mosul map.html: %lld bytes\n", (long long)sb.st_size);
    EXPECT(sb.st_size > 100000 && sb.st_size < 5 * 1024 * 1024);
}

/* Without Leaflet the run fails, naming the file to install. */
TEST(missing_leaflet_is_named)
{
    char bundle[1024];
    setenv("DISPFLOW_LEAFLET", "/nonexistent/leaflet", 1);
    df_ctx *ctx = df_ctx_new();
    char records[1024], job[1024], text[8192];
    snprintf(records, sizeof records, "%s/records.csv", tmpdir);
    snprintf(job, sizeof job, "%s/noleaflet.ini", tmpdir);
    snprintf(bundle, sizeof bundle, "%s/noleaflet", tmpdir);
    EXPECT_INT(df_sample_write(ctx, records, 2016), DF_OK);
    snprintf(text, sizeof text,
             "[job]\noutput = noleaflet\n[records]\npath = %s\n[boundaries]\nadm1 = %s/" ADM1_NE "\n", records, cwd);
    harness_write_file(job, text);
    df_job *j = NULL;
    EXPECT_INT(df_job_load(ctx, job, NULL, &j), DF_OK);
    EXPECT_INT(df_job_run(ctx, j), DF_EIO);
    EXPECT(strstr(df_ctx_errmsg(ctx), "/nonexistent/leaflet/leaflet.min.js") != NULL);
    EXPECT(strstr(df_ctx_errmsg(ctx), "libjs-leaflet") != NULL);
    EXPECT(access(bundle, F_OK) != 0); /* no half bundle left */
    df_job_free(j);
    df_ctx_free(ctx);
    unsetenv("DISPFLOW_LEAFLET");
}

int main(void)
{
    GDALAllRegister();
    if (!mkdtemp(tmpdir) || !getcwd(cwd, sizeof cwd)) return 1;
    RUN(map_html_in_headless_chromium);
    RUN(mosul_map_html_under_5mb);
    RUN(missing_leaflet_is_named);
    harness_remove_dir(tmpdir);
    return harness_done();
}
