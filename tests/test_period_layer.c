/*
 * test_period_layer.c — choropleths in time (issue 14 item 3): the bundle's
 * figures per unit and period (the `periods` layer of layers.gpkg and
 * periods.csv) from the synthetic Mosul table, checked against its ground
 * truth (truth_dest_adm2.csv: individuals by district, date and status) and
 * against the cumulative figures of adm2.csv; the layer temporal in the
 * QGIS project (PyQGIS); the bundle the same bytes when run again.
 */
#include "dfint.h"
#include "harness.h"

#include <gdal.h>
#include <ogr_api.h>
#include <sys/stat.h>

#define PYTHON "/usr/bin/python3"

static char tmpdir[] = "/tmp/dispflow-period-layer-XXXXXX";
static char cwd[1024];

static int same_file(const char *a, const char *b)
{
    size_t la, lb;
    char *x = harness_slurp(a, &la), *y = harness_slurp(b, &lb);
    int same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x), free(y);
    return same;
}

static df_status run_job(const char *job_path, char *msg, size_t cap)
{
    df_ctx *ctx = df_ctx_new();
    df_job *job = NULL;
    df_status st = df_job_load(ctx, job_path, "shapes/profiles", &job);
    if (st == DF_OK) st = df_job_run(ctx, job);
    snprintf(msg, cap, "%s", st == DF_OK ? "" : df_ctx_errmsg(ctx));
    df_job_free(job);
    df_ctx_free(ctx);
    return st;
}

static int32_t day(const char *s)
{
    int32_t d = DF_NO_DATE;
    df_date_parse(s, &d);
    return d;
}

/* ---- the tables, read back ------------------------------------------------- */

typedef struct {
    char pcode[16];
    int32_t start, end;
    long long new_displaced, new_returned, still, displaced, returned;
} period_row;

typedef struct {
    char pcode[16];
    long long displaced, returned, still;
} unit_row;

/* periods.csv: its header and HXL row, then the rows (malloc'd; *n of them). */
static period_row *read_periods(const char *path, int *n)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    period_row *rows = NULL;
    int cap = 0;
    *n = 0;
    if (!f) return NULL;
    EXPECT(fgets(line, sizeof line, f) != NULL);
    EXPECT_STR(line, "adm_pcode,adm_name,parent_pcode,period_start,period_end,new_displaced,new_returned,"
                     "still_displaced,displaced,returned\n");
    EXPECT(fgets(line, sizeof line, f) != NULL);
    EXPECT_STR(line, "#adm2+code,#adm2+name,#adm1+code+parent,#date+start,#date+end,#affected+idps+new+ind,"
                     "#affected+idps+returned+new+ind,#affected+idps+current+ind,#affected+idps+ind,"
                     "#affected+idps+returned+ind\n");
    while (fgets(line, sizeof line, f)) {
        if (*n == cap) rows = realloc(rows, (size_t)(cap = cap ? 2 * cap : 512) * sizeof *rows);
        period_row *r = &rows[*n];
        char s[16], e[16];
        /* P-codes and names hold no commas in these boundaries */
        if (sscanf(line, "%15[^,],%*[^,],%*[^,],%15[^,],%15[^,],%lld,%lld,%lld,%lld,%lld", r->pcode, s, e,
                   &r->new_displaced, &r->new_returned, &r->still, &r->displaced, &r->returned) != 8) {
            HARNESS_FAIL("periods.csv: cannot read %s", line);
            continue;
        }
        r->start = day(s), r->end = day(e);
        (*n)++;
    }
    fclose(f);
    return rows;
}

/* adm2.csv: P-code and the cumulative displaced, returned, still displaced. */
static unit_row *read_units(const char *path, int *n)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    unit_row *rows = calloc(256, sizeof *rows);
    *n = 0;
    if (!f) return rows;
    for (int k = 0; k < 2 && fgets(line, sizeof line, f); k++) continue; /* header, HXL */
    while (*n < 256 && fgets(line, sizeof line, f)) {
        unit_row *u = &rows[*n];
        if (sscanf(line, "%15[^,],%*[^,],%*[^,],%lld,%lld,%lld", u->pcode, &u->displaced, &u->returned, &u->still) == 4)
            (*n)++;
    }
    fclose(f);
    return rows;
}

/* truth_dest_adm2.csv: individuals of a status in a district over [start, end]. */
typedef struct {
    char pcode[16];
    int32_t date;
    int returned;
    long long individuals;
} truth_row;

static truth_row *read_truth(const char *path, int *n)
{
    FILE *f = fopen(path, "r");
    char line[256], d[16], status[16];
    truth_row *rows = NULL;
    int cap = 0;
    *n = 0;
    if (!f) return NULL;
    if (!fgets(line, sizeof line, f)) *n = 0; /* header */
    while (fgets(line, sizeof line, f)) {
        if (*n == cap) rows = realloc(rows, (size_t)(cap = cap ? 2 * cap : 2048) * sizeof *rows);
        truth_row *t = &rows[*n];
        if (sscanf(line, "%15[^,],%15[^,],%15[^,],%lld", t->pcode, d, status, &t->individuals) != 4) continue;
        t->date = day(d);
        t->returned = !strcmp(status, "returned");
        (*n)++;
    }
    fclose(f);
    return rows;
}

static long long truth_sum(const truth_row *t, int n, const char *pcode, int returned, int32_t start, int32_t end)
{
    long long s = 0;
    for (int i = 0; i < n; i++)
        if (t[i].returned == returned && t[i].date >= start && t[i].date <= end && !strcmp(t[i].pcode, pcode))
            s += t[i].individuals;
    return s;
}

/* ---- the test ------------------------------------------------------------------- */

static void write_job(const char *path, const char *output, const char *density, const char *extra)
{
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f,
            "[job]\ntitle = Mosul by week\noutput = %s\nfrom = 2016-10-17\nas_of = 2017-05-02\nstep = week\n"
            "[records]\npath = %s/" MOSUL_ET "records.csv\n"
            "[boundaries]\nadm1 = %s/" COD_ADM1_SHP "\nadm2 = %s/" COD_ADM2_SHP "\n"
            "[report]\nmaps = no\n[density]\n%s%s",
            output, cwd, cwd, cwd, density ? density : "enabled = no\n", extra);
    fclose(f);
}

/* issue 14 item 3: the figures per district and week add up to the
 * cumulative ones and equal the ground truth, period by period. */
TEST(mosul_weeks_add_up_to_truth)
{
    NEED_FILE(MOSUL_ET "records.csv");
    NEED_FILE(MOSUL_ET "truth_dest_adm2.csv");
    NEED_FILE(COD_ADM2_SHP);
    char job[1200], msg[1024], path[1400], again[1400];
    snprintf(job, sizeof job, "%s/mosul.ini", tmpdir);
    write_job(job, "weekly", NULL, "");
    EXPECT_INT(run_job(job, msg, sizeof msg), DF_OK);
    if (msg[0]) printf("  %s\n", msg);

    int np = 0, nu = 0, nt = 0;
    snprintf(path, sizeof path, "%s/weekly/periods.csv", tmpdir);
    period_row *p = read_periods(path, &np);
    snprintf(path, sizeof path, "%s/weekly/adm2.csv", tmpdir);
    unit_row *u = read_units(path, &nu);
    truth_row *t = read_truth(MOSUL_ET "truth_dest_adm2.csv", &nt);
    EXPECT(np > 0 && nu == 101 && nt > 1000);
    if (!p || !t || !np) goto done;

    /* 17 Oct 2016 (a Monday) to 2 May 2017: 29 ISO weeks, the last cut at the as-of day */
    int32_t from = day("2016-10-17"), as_of = day("2017-05-02");
    int weeks = 0, units = 0;
    while (weeks < np && !strcmp(p[weeks].pcode, p[0].pcode)) weeks++;
    EXPECT_INT(weeks, 29);
    EXPECT_INT(np % weeks, 0);
    long long all_new = 0, all_still = 0, all_returned = 0;
    for (int i = 0; i < np; i += weeks, units++) {
        long long nd = 0, nr = 0;
        for (int k = 0; k < weeks && i + k < np; k++) {
            const period_row *r = &p[i + k];
            EXPECT_STR(r->pcode, p[i].pcode);
            /* the periods tile from..as_of, Monday to Sunday */
            EXPECT_INT(r->start, k == 0 ? from : p[i + k - 1].end + 1);
            EXPECT_INT(r->end, k == weeks - 1 ? as_of : r->start + 6);
            EXPECT_INT(r->still, r->displaced - r->returned);
            nd += r->new_displaced, nr += r->new_returned;
            EXPECT_INT(nd, r->displaced); /* running sums: as of the end of each period */
            EXPECT_INT(nr, r->returned);
            /* the ground truth of that district and week */
            long long td = truth_sum(t, nt, r->pcode, 0, r->start, r->end);
            long long tr = truth_sum(t, nt, r->pcode, 1, r->start, r->end);
            if (r->new_displaced != td || r->new_returned != tr)
                HARNESS_FAIL("%s %d: new displaced %lld (truth %lld), new returned %lld (truth %lld)", r->pcode, k,
                             r->new_displaced, td, r->new_returned, tr);
        }
        const period_row *last = &p[i + weeks - 1];
        const unit_row *c = NULL;
        for (int k = 0; k < nu; k++)
            if (!strcmp(u[k].pcode, p[i].pcode)) c = &u[k];
        EXPECT(c != NULL);
        if (!c) continue;
        /* the periods add up to the cumulative figures */
        EXPECT_INT(nd, c->displaced);
        EXPECT_INT(nr, c->returned);
        EXPECT_INT(last->still, c->still);
        all_new += nd, all_still += last->still, all_returned += nr;
    }
    /* every district with a figure has its periods */
    int with = 0;
    for (int k = 0; k < nu; k++) with += u[k].displaced != 0 || u[k].returned != 0;
    EXPECT_INT(units, with);
    /* truth_totals.csv: 463,692 displaced, 105,660 returned, 358,032 still displaced on 2 May 2017 */
    EXPECT_INT(all_new, 463692);
    EXPECT_INT(all_returned, 105660);
    EXPECT_INT(all_still, 358032);

    /* the same rows in the layer, dated */
    snprintf(path, sizeof path, "%s/weekly/layers.gpkg", tmpdir);
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR, NULL, NULL, NULL);
    OGRLayerH l = ds ? GDALDatasetGetLayerByName(ds, "periods") : NULL;
    EXPECT(l != NULL);
    if (l) {
        EXPECT_INT(OGR_L_GetFeatureCount(l, TRUE), np);
        OGRFeatureDefnH d = OGR_L_GetLayerDefn(l);
        EXPECT_INT(OGR_Fld_GetType(OGR_FD_GetFieldDefn(d, OGR_FD_GetFieldIndex(d, "period_start"))), OFTDate);
        EXPECT_INT(OGR_Fld_GetType(OGR_FD_GetFieldDefn(d, OGR_FD_GetFieldIndex(d, "period_end"))), OFTDate);
        OGRLayerH s = GDALDatasetExecuteSQL(
            ds, "SELECT SUM(new_displaced), COUNT(geom) FROM periods WHERE period_end = '2017-05-02'", NULL, NULL);
        OGRFeatureH f = s ? OGR_L_GetNextFeature(s) : NULL;
        EXPECT(f != NULL);
        if (f) {
            EXPECT_INT(OGR_F_GetFieldAsInteger64(f, 1), units); /* every row has its unit's polygon */
            OGR_F_Destroy(f);
        }
        if (s) GDALDatasetReleaseResultSet(ds, s);
    }
    if (ds) GDALClose(ds);

    /* the project: the layer temporal on its dates */
    snprintf(path, sizeof path, "%s/weekly/project.qgs", tmpdir);
    size_t len;
    char *qgs = harness_slurp(path, &len);
    char *at = qgs ? strstr(qgs, "layername=periods</datasource>") : NULL;
    EXPECT(at && strstr(at, "<temporal enabled=\"1\" mode=\"2\" startField=\"period_start\" endField=\"period_end\""));
    free(qgs);

    /* again, elsewhere: the same bytes */
    snprintf(job, sizeof job, "%s/again.ini", tmpdir);
    write_job(job, "weekly2", NULL, "");
    EXPECT_INT(run_job(job, msg, sizeof msg), DF_OK);
    static const char *const files[] = {"periods.csv", "layers.gpkg", "project.qgs", "manifest.json"};
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/weekly/%s", tmpdir, files[k]);
        snprintf(again, sizeof again, "%s/weekly2/%s", tmpdir, files[k]);
        if (k < 3 && !same_file(path, again)) HARNESS_FAIL("%s differs between two runs", files[k]);
    }

    /* PyQGIS: the layer opens valid and temporal, with OGR's feature count */
    if (system(PYTHON " -c 'import qgis.core' >/dev/null 2>&1") != 0) {
        SKIP_MARK("%s cannot import qgis", PYTHON);
        goto done;
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cp -r %s/weekly %s/opened && QT_QPA_PLATFORM=offscreen timeout 300 " PYTHON " -c 'import os, sys\n"
             "from qgis.core import QgsApplication, QgsProject, QgsVectorLayerTemporalProperties as T\n"
             "app = QgsApplication([], False); app.initQgis()\n"
             "p = QgsProject.instance(); ok = p.read(sys.argv[1] + \"/project.qgs\")\n"
             "l = [x for x in p.mapLayers().values() if x.source().endswith(\"layername=periods\")]\n"
             "tp = l[0].temporalProperties() if l else None\n"
             "print(\"periods\", ok, len(l), l[0].isValid() if l else 0, l[0].featureCount() if l else 0,"
             " tp.isActive() if tp else 0, tp.mode() == T.ModeFeatureDateTimeStartAndEndFromFields if tp else 0,"
             " tp.startField() if tp else \"\", tp.endField() if tp else \"\")\n"
             "sys.stdout.flush(); os._exit(0)' %s/opened > %s/qgis.log 2>&1",
             tmpdir, tmpdir, tmpdir, tmpdir);
    EXPECT_INT(system(cmd), 0);
    snprintf(path, sizeof path, "%s/qgis.log", tmpdir);
    char *log = harness_slurp(path, &len), want[128];
    snprintf(want, sizeof want, "periods True 1 True %d True True period_start period_end", np);
    if (!log || !strstr(log, want)) HARNESS_FAIL("PyQGIS: want \"%s\" in:\n%s", want, log ? log : "(no log)");
    free(log);
done:
    free(p), free(u), free(t);
}

/* issue 14 item 5: a published bundle leaves the figures per period out,
 * and the density rasters per period (tests/test_publish.c checks the
 * sitrep's words); the unpublished one of the same job has them. */
TEST(published_bundle_has_no_periods)
{
    NEED_FILE(MOSUL_ET "records.csv");
    NEED_FILE(COD_ADM2_SHP);
    char job[1200], msg[1024], path[1400];
    snprintf(job, sizeof job, "%s/published.ini", tmpdir);
    write_job(job, "published", "pixel = 2000\nradius = 10000\nstep = month\n", "[publish]\nk = 1500\n");
    df_ctx *ctx = df_ctx_new();
    df_job *jb = NULL;
    df_status st = df_job_load(ctx, job, "shapes/profiles", &jb);
    if (st == DF_OK) df_job_set_publish(jb, 1); /* as --publish does */
    if (st == DF_OK) st = df_job_run(ctx, jb);
    snprintf(msg, sizeof msg, "%s", st == DF_OK ? "" : df_ctx_errmsg(ctx));
    df_job_free(jb);
    df_ctx_free(ctx);
    EXPECT_INT(st, DF_OK);
    if (msg[0]) printf("  %s\n", msg);
    snprintf(path, sizeof path, "%s/published/periods.csv", tmpdir);
    EXPECT(access(path, F_OK) != 0);
    snprintf(path, sizeof path, "%s/published/density_displaced.tif", tmpdir); /* the masked whole raster */
    EXPECT(access(path, F_OK) == 0);
    snprintf(path, sizeof path, "%s/published/density_displaced_2017-05-01.tif", tmpdir); /* but no month's */
    EXPECT(access(path, F_OK) != 0);
    snprintf(path, sizeof path, "%s/published/layers.gpkg", tmpdir);
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR, NULL, NULL, NULL);
    EXPECT(ds != NULL);
    if (ds) {
        EXPECT(GDALDatasetGetLayerByName(ds, "adm2") != NULL);
        EXPECT(GDALDatasetGetLayerByName(ds, "periods") == NULL);
        GDALClose(ds);
    }
    snprintf(path, sizeof path, "%s/published/project.qgs", tmpdir);
    size_t len;
    char *qgs = harness_slurp(path, &len);
    EXPECT(qgs && !strstr(qgs, "layername=periods"));
    free(qgs);
    snprintf(path, sizeof path, "%s/weekly/periods.csv", tmpdir); /* mosul_weeks_add_up_to_truth */
    EXPECT(access(path, F_OK) == 0);
}

/* The sum of a raster's pixels (nodata as 0), or -1 when it cannot be read. */
static double raster_sum(const char *path, double *mx)
{
    GDALDatasetH ds = GDALOpen(path, GA_ReadOnly);
    if (!ds) return -1;
    GDALRasterBandH band = GDALGetRasterBand(ds, 1);
    int w = GDALGetRasterXSize(ds), h = GDALGetRasterYSize(ds), has = 0;
    double nd = GDALGetRasterNoDataValue(band, &has), s = 0;
    double *row = malloc((size_t)w * sizeof *row);
    for (int y = 0; row && y < h; y++) {
        if (GDALRasterIO(band, GF_Read, 0, y, w, 1, row, w, 1, GDT_Float64, 0, 0) != CE_None) {
            s = -1;
            break;
        }
        for (int x = 0; x < w; x++)
            if (!has || row[x] != nd) s += row[x], *mx = fmax(*mx, row[x]);
    }
    free(row);
    GDALClose(ds);
    return s;
}

/* issue 14 item 3, [density] step: a raster per month on the whole raster's
 * grid and kernel, so that the months add up to it pixel by pixel (float32
 * pixels: the sums agree to 1e-6 of the total); in the project a group of
 * rasters named by period, each temporal over its days, only the latest
 * shown at open (PyQGIS). status still with a step is refused at load. */
TEST(density_per_month_adds_up)
{
    NEED_FILE(MOSUL_ET "records.csv");
    NEED_FILE(COD_ADM2_SHP);
    char job[1200], msg[1024], path[1400];
    snprintf(job, sizeof job, "%s/still.ini", tmpdir);
    write_job(job, "still", "status = still\nstep = month\n", "");
    EXPECT_INT(run_job(job, msg, sizeof msg), DF_EINVAL);
    EXPECT(strstr(msg, "still.ini:16: [density] step: a raster per period is of the records dated in the period, "
                       "and status still is a figure as of a date") != NULL);
    if (!strstr(msg, "still.ini:16:")) printf("  %s\n", msg);

    snprintf(job, sizeof job, "%s/density.ini", tmpdir);
    write_job(job, "density", "pixel = 2000\nradius = 10000\nstep = month\n", "");
    EXPECT_INT(run_job(job, msg, sizeof msg), DF_OK);
    if (msg[0]) printf("  %s\n", msg);
    double mx = 0, whole, sum = 0;
    snprintf(path, sizeof path, "%s/density/density_displaced.tif", tmpdir);
    whole = raster_sum(path, &mx);
    EXPECT(whole > 0);
    /* 17 Oct 2016 to 2 May 2017: October ... May, each file named by its month's first day */
    static const char *const months[] = {"2016-10-01", "2016-11-01", "2016-12-01", "2017-01-01",
                                         "2017-02-01", "2017-03-01", "2017-04-01", "2017-05-01"};
    for (int k = 0; k < 8; k++) {
        snprintf(path, sizeof path, "%s/density/density_displaced_%s.tif", tmpdir, months[k]);
        double m = 0, s = raster_sum(path, &m);
        if (s <= 0) HARNESS_FAIL("%s: sum %g", path, s);
        sum += s;
    }
    snprintf(path, sizeof path, "%s/density/density_displaced_2016-09-01.tif", tmpdir);
    EXPECT(access(path, F_OK) != 0);
    EXPECT_NEAR(sum, whole, whole * 1e-6);
    snprintf(path, sizeof path, "%s/density/project.qgs", tmpdir);
    size_t len;
    char *qgs = harness_slurp(path, &len);
    EXPECT(qgs && strstr(qgs, "<layer-tree-group name=\"Density of people by period (people/km2)\""));
    EXPECT(qgs && strstr(qgs, "name=\"2017-05-01 to 2017-05-02\" source=\"./density_displaced_2017-05-01.tif\""));
    free(qgs);
    if (system(PYTHON " -c 'import qgis.core' >/dev/null 2>&1") != 0) SKIP("%s cannot import qgis", PYTHON);
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cp -r %s/density %s/density_opened && QT_QPA_PLATFORM=offscreen timeout 300 " PYTHON
             " -c 'import os, sys\n"
             "from qgis.core import QgsApplication, QgsProject, QgsDateTimeRange, QgsRasterLayer\n"
             "from qgis.PyQt.QtCore import QDateTime, Qt\n"
             "app = QgsApplication([], False); app.initQgis()\n"
             "p = QgsProject.instance(); p.read(sys.argv[1] + \"/project.qgs\")\n"
             "at = lambda k: QDateTime.fromString(p.readEntry(\"TemporalControllerWidget\", k)[0], Qt.ISODate)\n"
             "rng = QgsDateTimeRange(at(\"/StartDateTime\"), at(\"/EndDateTime\"))\n"
             "g = p.layerTreeRoot().findGroup(\"Density of people by period (people/km2)\")\n"
             "ls = [n.layer() for n in g.findLayers()] if g else []\n"
             "ok = [l.name() for l in ls if l.isValid() and l.temporalProperties().isActive()]\n"
             "shown = [l.name() for l in ls if l.temporalProperties().isVisibleInTemporalRange(rng)]\n"
             "print(\"rasters\", len(ls), len(ok), \"shown\", shown)\n"
             "sys.stdout.flush(); os._exit(0)' %s/density_opened > %s/qgis_density.log 2>&1",
             tmpdir, tmpdir, tmpdir, tmpdir);
    EXPECT_INT(system(cmd), 0);
    snprintf(path, sizeof path, "%s/qgis_density.log", tmpdir);
    char *log = harness_slurp(path, &len);
    if (!log || !strstr(log, "rasters 8 8 shown ['2017-05-01 to 2017-05-02']"))
        HARNESS_FAIL("PyQGIS: want 8 temporal rasters, the latest shown at open, in:\n%s", log ? log : "(no log)");
    free(log);
}

int main(void)
{
    GDALAllRegister();
    if (!getcwd(cwd, sizeof cwd) || !mkdtemp(tmpdir)) return 1;
    RUN(mosul_weeks_add_up_to_truth);
    RUN(published_bundle_has_no_periods);
    RUN(density_per_month_adds_up);
    harness_remove_dir(tmpdir);
    return harness_done();
}
