/*
 * test_webmap.c — map.html, the bundle's interactive web map (issue 14 item
 * 4), in a real browser: headless Chromium (Debian's chromium) opens the file
 * with the network off, the page logs nothing to the console (no error), it
 * draws one polygon per unit of the layer and, per period, as many arrows as
 * the flows layer has in that period (counted independently with OGR), and
 * the screenshots of the first and the last period differ. The Mosul bundle
 * at admin 2 stays under 5 MB. Skipped when chromium is absent.
 * The figures per period inline in the page equal periods.csv cell for cell,
 * the neighbouring countries are Mosul's, and in publish mode the page has
 * no figures per period (the bundle leaves them out).
 */
#include "dfint.h"
#include "harness.h"

#include <gdal.h>
#include <json-c/json.h>
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
    df_status st = df_job_load(ctx, path, "shapes/profiles", &job); /* as the CLI: the country profiles */
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

static const char *gpkg_of(const char *bundle)
{
    static char path[1300];
    snprintf(path, sizeof path, "%.1200s/layers.gpkg", bundle);
    return path;
}

/* The page's data (window.DF) parsed by json-c: the JSON between
 * "window.DF = " and the ";" that ends its script. NULL if absent. */
static json_object *page_data(const char *html)
{
    char *page = NULL;
    size_t len = 0;
    FILE *f = fopen(html, "rb");
    if (f) { /* the whole page */
        FILE *m = open_memstream(&page, &len);
        int c;
        while (m && (c = fgetc(f)) != EOF) fputc(c, m);
        if (m) fclose(m);
        fclose(f);
    }
    const char *a = page ? strstr(page, "window.DF = ") : NULL, *b = a ? strstr(a, "};\n</script>") : NULL;
    json_object *d = NULL;
    if (a && b) {
        a += strlen("window.DF = ");
        char *text = strndup(a, (size_t)(b - a) + 1);
        d = text ? json_tokener_parse(text) : NULL;
        free(text);
    }
    free(page);
    return d;
}

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* periods.csv's periods (OGR's CSV driver; the HXL row skipped), as
 * start/end pairs in order; n of them. */
static int csv_periods(const char *csv, char start[][11], char end[][11], int max)
{
    GDALDatasetH ds = GDALOpenEx(csv, GDAL_OF_VECTOR, NULL, NULL, NULL);
    OGRLayerH l = ds ? GDALDatasetGetLayer(ds, 0) : NULL;
    OGRFeatureH f;
    int n = 0;
    while (l && (f = OGR_L_GetNextFeature(l))) {
        const char *s = OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "period_start"));
        int seen = s[0] == '#';
        for (int i = 0; i < n && !seen; i++) seen = strcmp(start[i], s) == 0;
        if (!seen && n < max) {
            snprintf(start[n], 11, "%s", s);
            snprintf(end[n++], 11, "%s", OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "period_end")));
        }
        OGR_F_Destroy(f);
    }
    if (ds) GDALClose(ds);
    for (int i = 1; i < n; i++) /* in order (few: insertion) */
        for (int j = i; j > 0 && strcmp(start[j - 1], start[j]) > 0; j--) {
            char t[11];
            memcpy(t, start[j], 11), memcpy(start[j], start[j - 1], 11), memcpy(start[j - 1], t, 11);
            memcpy(t, end[j], 11), memcpy(end[j], end[j - 1], 11), memcpy(end[j - 1], t, 11);
        }
    return n;
}

/* issue 14 item 4 (figures per period): every cell of periods.csv (new
 * displaced, new returned, still displaced of a unit in a period) equals the
 * one inline in map.html; the page has as many periods and no other units
 * with figures. Returns the cells compared. */
static long compare_with_periods_csv(const char *bundle)
{
    char html[1200], csv[1200];
    snprintf(html, sizeof html, "%s/map.html", bundle);
    snprintf(csv, sizeof csv, "%s/periods.csv", bundle);
    json_object *d = page_data(html), *periods = get(d, "periods"), *units = get(get(d, "units"), "features");
    EXPECT(d != NULL && periods != NULL && units != NULL);
    EXPECT(get(d, "has_periods") && json_object_get_boolean(get(d, "has_periods")));
    GDALDatasetH ds = GDALOpenEx(csv, GDAL_OF_VECTOR, NULL, NULL, NULL);
    OGRLayerH l = ds ? GDALDatasetGetLayer(ds, 0) : NULL;
    EXPECT(l != NULL);
    long cells = 0, wrong = 0, rows = 0;
    int np = periods ? (int)json_object_array_length(periods) : 0,
        nu = units ? (int)json_object_array_length(units) : 0;
    static const char *const col[3] = {"new_displaced", "new_returned", "still_displaced"};
    char *with_rows = calloc((size_t)nu + 1, 1);
    OGRFeatureH f;
    while (l && d && with_rows && (f = OGR_L_GetNextFeature(l))) {
        const char *pcode = OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "adm_pcode"));
        const char *start = OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "period_start"));
        if (pcode[0] == '#') { /* the HXL row */
            OGR_F_Destroy(f);
            continue;
        }
        rows++;
        int k = -1, u = -1;
        for (int i = 0; i < np && k < 0; i++)
            if (strcmp(json_object_get_string(get(json_object_array_get_idx(periods, (size_t)i), "start")), start) == 0)
                k = i;
        for (int i = 0; i < nu && u < 0; i++)
            if (strcmp(json_object_get_string(
                           get(get(json_object_array_get_idx(units, (size_t)i), "properties"), "pcode")),
                       pcode) == 0)
                u = i;
        json_object *fig = u >= 0 ? get(get(json_object_array_get_idx(units, (size_t)u), "properties"), "f") : NULL;
        json_object *cell = fig && k >= 0 ? json_object_array_get_idx(fig, (size_t)k) : NULL;
        if (!cell) {
            printf("  %s %s: not in map.html\n", pcode, start);
            wrong++;
        }
        for (int c = 0; c < 3 && cell; c++) {
            long long want = strtoll(OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, col[c])), NULL, 10);
            long long got = json_object_get_int64(json_object_array_get_idx(cell, (size_t)c));
            if (got != want && wrong++ < 5)
                printf("  %s %s %s: map.html %lld, periods.csv %lld\n", pcode, start, col[c], got, want);
            cells++;
        }
        if (u >= 0) with_rows[u] = 1;
        OGR_F_Destroy(f);
    }
    EXPECT_INT(wrong, 0);
    EXPECT(rows > 0);
    EXPECT_INT(cells, 3 * rows);
    /* no unit of the page has figures per period that periods.csv has not */
    int extra = 0, with = 0;
    for (int i = 0; i < nu && with_rows; i++) {
        int has = get(get(json_object_array_get_idx(units, (size_t)i), "properties"), "f") != NULL;
        with += has;
        extra += has && !with_rows[i];
    }
    EXPECT_INT(extra, 0);
    char s[64][11], e[64][11];
    EXPECT_INT(np, csv_periods(csv, s, e, 64));
    printf("  %s: %ld cells of periods.csv (%ld rows, %d periods, %d units) equal map.html's\n", bundle, cells, rows,
           np, with);
    free(with_rows);
    if (ds) GDALClose(ds);
    json_object_put(d);
    return cells;
}

/* issue 14 item 4: the page in a browser, first and last period: the
 * periods are periods.csv's (the periods layer's), each drawing the flows
 * whose calendar period overlaps it (counted with OGR), arrows and rings. */
TEST(map_html_in_headless_chromium)
{
    if (access(CHROMIUM, X_OK) != 0) {
        SKIP("%s is absent (Debian package chromium)", CHROMIUM);
    }
    char bundle[1024], html[1200], gpkg[1200], csv[1200], png[2][1200], where[256], starts[64][11], ends[64][11];
    EXPECT(sample_bundle(bundle, sizeof bundle));
    snprintf(html, sizeof html, "%s/map.html", bundle);
    snprintf(gpkg, sizeof gpkg, "%s/layers.gpkg", bundle);
    snprintf(csv, sizeof csv, "%s/periods.csv", bundle);
    size_t len;
    char *page = harness_slurp(html, &len);
    EXPECT(page != NULL);
    if (!page) return;
    /* one file, nothing fetched: no http(s) URL outside Leaflet's comments */
    EXPECT(strstr(page, "<script src") == NULL && strstr(page, "<link") == NULL);
    EXPECT(strstr(page, "Vladimir Agafonkin") != NULL); /* the licence kept */
    EXPECT(strstr(page, "Sample &lt;web map> &amp; flows") != NULL);
    free(page);
    int np = csv_periods(csv, starts, ends, 64);
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
        snprintf(where, sizeof where, "period_start <= '%s' AND period_end >= '%s'", ends[k - 1], starts[k - 1]);
        long want = ogr_count(gpkg, "flows", where);
        EXPECT(want > 0);
        EXPECT_INT(body_attr(dom, "data-flows-drawn"), want);
        snprintf(where, sizeof where, "period_start <= '%s' AND period_end >= '%s' AND kind = 'intra'", ends[k - 1],
                 starts[k - 1]);
        long rings = ogr_count(gpkg, "flows", where);
        EXPECT_INT(body_attr(dom, "data-rings"), rings);
        EXPECT_INT(body_attr(dom, "data-arrows"), want - rings);
        /* the neighbours: drawn, and some named */
        EXPECT(body_attr(dom, "data-countries") >= 3);
        EXPECT(body_attr(dom, "data-country-names") >= 1);
        printf("  period %d (%s to %s): %ld units, %ld flows drawn (%ld rings), %ld countries, %ld named\n", k,
               starts[k - 1], ends[k - 1], units, want, rings, body_attr(dom, "data-countries"),
               body_attr(dom, "data-country-names"));
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
    /* issue 14 item 4: the figures per period are the periods layer's */
    EXPECT(compare_with_periods_csv(bundle) > 0);
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
    char bundle[1200];
    snprintf(bundle, sizeof bundle, "%s/mosul", tmpdir);
    EXPECT(compare_with_periods_csv(bundle) > 0);
    /* the neighbours of the Mosul corridor, and none from far away (clipped) */
    json_object *d = page_data(html), *c = get(get(d, "countries"), "features");
    int syria = 0, turkey = 0, iran = 0, far = 0, n = c ? (int)json_object_array_length(c) : 0;
    for (int i = 0; i < n; i++) {
        json_object *name = get(get(json_object_array_get_idx(c, (size_t)i), "properties"), "name");
        const char *s = name ? json_object_get_string(name) : "";
        syria += strcmp(s, "Syria") == 0, turkey += strcmp(s, "Turkey") == 0, iran += strcmp(s, "Iran") == 0;
        far += strcmp(s, "Egypt") == 0 || strcmp(s, "Kazakhstan") == 0 || strcmp(s, "Russia") == 0;
    }
    printf("  Mosul map.html: %d countries\n", n);
    EXPECT_INT((long)json_object_array_length(get(get(d, "units"), "features")),
               ogr_count(gpkg_of(bundle), "adm2", NULL));
    EXPECT(syria == 1 && turkey == 1 && iran == 1);
    EXPECT_INT(far, 0);
    json_object_put(d);
    if (access(CHROMIUM, X_OK) != 0) return;
    /* in the browser: no console error at the first and the last period, every flow drawn */
    json_object *dd = page_data(html);
    long np = (long)json_object_array_length(get(dd, "periods")), nflows = 0;
    json_object_put(dd);
    for (int k = 0; k <= np; k += np) {
        char png[1200], *log = NULL;
        snprintf(png, sizeof png, "%s/mosul%d.png", tmpdir, k);
        char *dom = browse(html, k, png, &log);
        EXPECT_INT(console_lines(log), 0);
        EXPECT_INT(body_attr(dom, "data-ready"), 1);
        if (k == 0) nflows = body_attr(dom, "data-flows-drawn"); /* all periods */
        free(dom), free(log);
        if (np == 0) break;
    }
    /* all periods: one arrow or ring per pair and status, the periods added up */
    GDALDatasetH ds = GDALOpenEx(gpkg_of(bundle), GDAL_OF_VECTOR, NULL, NULL, NULL);
    OGRLayerH r =
        ds ? GDALDatasetExecuteSQL(
                 ds, "SELECT COUNT(*) FROM (SELECT DISTINCT origin_pcode, dest_pcode, status FROM flows)", NULL, NULL)
           : NULL;
    OGRFeatureH f = r ? OGR_L_GetNextFeature(r) : NULL;
    long pairs = f ? (long)OGR_F_GetFieldAsInteger(f, 0) : -1;
    if (f) OGR_F_Destroy(f);
    if (r) GDALDatasetReleaseResultSet(ds, r);
    if (ds) GDALClose(ds);
    printf("  Mosul map.html, all periods: %ld pairs drawn of %ld flows\n", nflows,
           ogr_count(gpkg_of(bundle), "flows", NULL));
    EXPECT(pairs > 0);
    EXPECT_INT(nflows, pairs);
}

/* issue 14 items 4 and 5: in publish mode the bundle has no figures per
 * period (test_publish), and neither has map.html: the units show the
 * published cumulative figures in every period and say so; the flows still
 * move with the slider. */
TEST(published_map_html_has_no_figures_per_period)
{
    char records[1024], job[1024], text[8192], html[1200], csv[1200];
    snprintf(records, sizeof records, "%s/records.csv", tmpdir);
    snprintf(job, sizeof job, "%s/pub.ini", tmpdir);
    df_ctx *ctx = df_ctx_new();
    EXPECT_INT(df_sample_write(ctx, records, 2016), DF_OK);
    df_ctx_free(ctx);
    snprintf(text, sizeof text,
             "[job]\noutput = pub\nstep = month\n[records]\npath = %s\n[boundaries]\nadm1 = %s/" ADM1_NE
             "\n[publish]\nk = 1000\n",
             records, cwd);
    FILE *jf_text = fopen(job, "w");
    if (jf_text) fputs(text, jf_text), fclose(jf_text);
    df_job *jf = NULL;
    ctx = df_ctx_new();
    df_status st = df_job_load(ctx, job, NULL, &jf);
    if (st == DF_OK) df_job_set_publish(jf, 1); /* as --publish */
    if (st == DF_OK) st = df_job_run(ctx, jf);
    if (st != DF_OK) printf("  %s\n", df_ctx_errmsg(ctx));
    EXPECT_INT(st, DF_OK);
    df_job_free(jf);
    df_ctx_free(ctx);
    snprintf(html, sizeof html, "%s/pub/map.html", tmpdir);
    snprintf(csv, sizeof csv, "%s/pub/periods.csv", tmpdir);
    EXPECT(access(csv, F_OK) != 0);
    json_object *d = page_data(html), *units = get(get(d, "units"), "features");
    EXPECT(d != NULL && units != NULL);
    EXPECT(get(d, "has_periods") != NULL && !json_object_get_boolean(get(d, "has_periods")));
    int nu = units ? (int)json_object_array_length(units) : 0, with = 0, withheld = 0;
    for (int i = 0; i < nu; i++) {
        json_object *p = get(json_object_array_get_idx(units, (size_t)i), "properties");
        with += get(p, "f") != NULL;
        withheld += json_object_get_type(get(p, "displaced")) == json_type_null;
    }
    EXPECT_INT(with, 0);
    printf("  published map.html: %d units, %d withheld, none with figures per period, %d periods of flows\n", nu,
           withheld, (int)json_object_array_length(get(d, "periods")));
    /* the slider's periods are the published flows' (one: publish mode counts flows over the whole range) */
    char gpkg[1300];
    snprintf(gpkg, sizeof gpkg, "%s/pub/layers.gpkg", tmpdir);
    GDALDatasetH ds = GDALOpenEx(gpkg, GDAL_OF_VECTOR, NULL, NULL, NULL);
    OGRLayerH r = ds ? GDALDatasetExecuteSQL(ds, "SELECT COUNT(DISTINCT period_start) FROM flows", NULL, NULL) : NULL;
    OGRFeatureH f = r ? OGR_L_GetNextFeature(r) : NULL;
    EXPECT(f != NULL);
    if (f) EXPECT_INT((long)json_object_array_length(get(d, "periods")), (long)OGR_F_GetFieldAsInteger(f, 0));
    if (f) OGR_F_Destroy(f);
    if (r) GDALDatasetReleaseResultSet(ds, r);
    if (ds) GDALClose(ds);
    json_object_put(d);
    if (access(CHROMIUM, X_OK) != 0) return;
    char png[1200], *log = NULL;
    snprintf(png, sizeof png, "%s/pub.png", tmpdir);
    char *dom = browse(html, 1, png, &log);
    EXPECT_INT(console_lines(log), 0);
    EXPECT_INT(body_attr(dom, "data-ready"), 1);
    EXPECT(dom && strstr(dom, "Figures per period are not published") != NULL);
    if (getenv("WEBMAP_SHOTS")) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "cp %s %s", png, getenv("WEBMAP_SHOTS"));
        if (system(cmd) != 0) printf("  cannot copy the screenshot\n");
    }
    free(dom), free(log);
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

/* A string field of the first feature of a layer where an attribute filter
 * holds (OGR), malloc'd; NULL when the file, layer, feature or field is absent. */
static char *ogr_string(const char *file, const char *layer, const char *where, const char *field)
{
    GDALDatasetH ds = GDALOpenEx(file, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    OGRLayerH l = ds ? (layer ? GDALDatasetGetLayerByName(ds, layer) : GDALDatasetGetLayer(ds, 0)) : NULL;
    char *v = NULL;
    if (l && OGR_L_SetAttributeFilter(l, where) == OGRERR_NONE) {
        OGRFeatureH f = OGR_L_GetNextFeature(l);
        int k = f ? OGR_F_GetFieldIndex(f, field) : -1;
        if (k >= 0 && OGR_F_IsFieldSetAndNotNull(f, k)) v = strdup(OGR_F_GetFieldAsString(f, k));
        if (f) OGR_F_Destroy(f);
    }
    if (ds) GDALClose(ds);
    return v;
}

/* issue 13 item 7: [maps] labels = en, ar puts the Arabic names in
 * layers.gpkg (adm_name_ar, the shapefile's ADM2_AR / ADM1_AR read here
 * independently), in the QGIS labels (the expression names the field) and
 * in map.html's popups (the page's data); QGIS draws a two-line label
 * whose second line is the Arabic name; Chromium logs nothing. Without
 * labels the layers have no such field (the Mosul bundle above). */
TEST(arabic_names_in_layers_qgis_and_map_html_item7)
{
    NEED_FILE(MOSUL_ET "records.csv");
    NEED_FILE(COD_ADM2_SHP);
    char job[1024], bundle[1200], html[1300], qgs[1300], shp[1300];
    harness_mosul_job(job, sizeof job, tmpdir, cwd, "arabic", "[density]\nenabled = no\n[maps]\nlabels = en, ar\n");
    EXPECT_INT(run_job(job), DF_OK);
    snprintf(bundle, sizeof bundle, "%s/arabic", tmpdir);
    snprintf(shp, sizeof shp, "%s/" COD_ADM2_SHP, cwd);
    char *want = ogr_string(shp, NULL, "ADM2_PCODE = 'IQG15Q05'", "ADM2_AR");
    char *got = ogr_string(gpkg_of(bundle), "adm2", "adm_pcode = 'IQG15Q05'", "adm_name_ar");
    char *en = ogr_string(gpkg_of(bundle), "adm2", "adm_pcode = 'IQG15Q05'", "adm_name_en");
    char *want1 = ogr_string(shp, NULL, "ADM1_PCODE = 'IQG15'", "ADM1_AR");
    char *got1 = ogr_string(gpkg_of(bundle), "adm1", "adm_pcode = 'IQG15'", "adm_name_ar");
    printf("  Al-Mosul: shapefile ADM2_AR %s, layers.gpkg adm_name_ar %s; Ninewa %s / %s\n", want ? want : "-",
           got ? got : "-", want1 ? want1 : "-", got1 ? got1 : "-");
    EXPECT(want && got && strcmp(want, got) == 0);
    EXPECT(want && strcmp(want, "\xd8\xa7\xd9\x84\xd9\x85\xd9\x88\xd8\xb5\xd9\x84") == 0); /* الموصل */
    EXPECT(en && strcmp(en, "Al-Mosul") == 0);
    EXPECT(want1 && got1 && strcmp(want1, got1) == 0);
    /* the bundle without labels: no such field */
    char plain[1200];
    snprintf(plain, sizeof plain, "%s/mosul", tmpdir);
    if (access(gpkg_of(plain), F_OK) == 0) {
        char *none = ogr_string(gpkg_of(plain), "adm2", "adm_pcode = 'IQG15Q05'", "adm_name_ar");
        EXPECT(none == NULL);
        free(none);
    }
    /* the QGIS project labels both lines */
    size_t len;
    snprintf(qgs, sizeof qgs, "%s/project.qgs", bundle);
    char *project = harness_slurp(qgs, &len);
    EXPECT(project && strstr(project, "coalesce(&quot;adm_name_en&quot;, &quot;adm_name&quot;) || "
                                      "coalesce('\\n' || &quot;adm_name_ar&quot;, '')") != NULL);
    free(project);
    /* map.html: the unit's labels in the page's data */
    snprintf(html, sizeof html, "%s/map.html", bundle);
    json_object *d = page_data(html), *u = get(get(d, "units"), "features");
    int found = 0;
    for (size_t i = 0; u && i < json_object_array_length(u); i++) {
        json_object *p = get(json_object_array_get_idx(u, i), "properties");
        if (strcmp(json_object_get_string(get(p, "pcode")), "IQG15Q05") != 0) continue;
        json_object *l = get(p, "labels");
        found = l && json_object_array_length(l) == 2 && want &&
                strcmp(json_object_get_string(json_object_array_get_idx(l, 1)), want) == 0;
    }
    EXPECT(found);
    json_object_put(d);
    /* QGIS renders the labels: one of two lines, the second Al-Mosul's ADM2_AR (tests/peers/qgis_labels.py) */
    if (want && system("/usr/bin/python3 -c 'import qgis.core' >/dev/null 2>&1") == 0) {
        char cmd[4096], qlog[1300];
        snprintf(qlog, sizeof qlog, "%s/qgis_labels.log", tmpdir);
        snprintf(cmd, sizeof cmd,
                 "QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/peers/qgis_labels.py %s '%s' >%s 2>&1", bundle, want,
                 qlog);
        int rc = system(cmd);
        char *out = harness_slurp(qlog, &len);
        if (rc != 0) HARNESS_FAIL("qgis_labels.py failed:\n%s", out ? out : "(no log)");
        free(out);
    } else {
        printf("  python3-qgis absent: the QGIS render is not checked\n");
    }
    free(want), free(got), free(en), free(want1), free(got1);
    if (access(CHROMIUM, X_OK) != 0) return;
    char png[1300], *log = NULL;
    snprintf(png, sizeof png, "%s/arabic.png", tmpdir);
    char *dom = browse(html, 0, png, &log);
    EXPECT_INT(console_lines(log), 0);
    EXPECT_INT(body_attr(dom, "data-ready"), 1);
    free(dom), free(log);
}

int main(void)
{
    GDALAllRegister();
    if (!mkdtemp(tmpdir) || !getcwd(cwd, sizeof cwd)) return 1;
    RUN(map_html_in_headless_chromium);
    RUN(mosul_map_html_under_5mb);
    RUN(arabic_names_in_layers_qgis_and_map_html_item7);
    RUN(published_map_html_has_no_figures_per_period);
    RUN(missing_leaflet_is_named);
    harness_remove_dir(tmpdir);
    return harness_done();
}
