/*
 * test_peers.c — dispflow's numbers against the tools analysts use: the
 * same points joined by GeoPandas (sjoin) give the same per-district sums,
 * and the written layers open in real QGIS with the right CRS, feature
 * count, totals and date fields. SKIPPED where a peer is not installed.
 */
#include "dispflow.h"
#include "harness.h"

#include <stdlib.h>

#define ADM2_SHP   SHARED_DATA "/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm2_cso_20190603.shp"
#define GEN_POINTS "../shared/bench/gen_points.py"
#define PYTHON     "/usr/bin/python3"

static char tmpdir[] = "/tmp/dispflow-peers-XXXXXX";

static int have_python_module(const char *module)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, PYTHON " -c 'import %s' >/dev/null 2>&1", module);
    return system(cmd) == 0;
}

static df_join *join_points(df_ctx *ctx, df_boundaries **b, const char *points)
{
    df_boundary_opts bo;
    df_record_opts ro;
    df_join_opts jo;
    df_join *j = NULL;
    df_boundary_opts_init(&bo);
    df_record_opts_init(&ro);
    df_join_opts_init(&jo);
    bo.path = ADM2_SHP;
    ro.path = points;
    if (df_boundaries_load(ctx, &bo, b) != DF_OK || df_join_run(ctx, *b, &ro, &jo, &j) != DF_OK)
        printf("  %s\n", df_ctx_errmsg(ctx));
    return j;
}

/* 200,000 standard benchmark points (seed 7): dispflow and GeoPandas agree
 * on every district's sum and count. Points on a shared border would be
 * counted by neither 'within' nor twice by 'intersects' in GeoPandas; the
 * check says how many such points there are (none, for random decimals). */
TEST(geopandas_sjoin_agrees)
{
    NEED_FILE(ADM2_SHP);
    NEED_FILE(GEN_POINTS);
    if (!have_python_module("geopandas")) {
        SKIP("python3-geopandas is not installed");
    }
    char points[256], peer[256], cmd[1024];
    snprintf(points, sizeof points, "%s/points.csv", tmpdir);
    snprintf(peer, sizeof peer, "%s/geopandas.csv", tmpdir);
    snprintf(cmd, sizeof cmd, PYTHON " " GEN_POINTS " 200000 %s 7 && " PYTHON " benchmarks/peer_geopandas.py %s %s %s",
             points, points, ADM2_SHP, peer);
    EXPECT_INT(system(cmd), 0);

    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = NULL;
    df_join *j = join_points(ctx, &b, points);
    EXPECT(j != NULL);
    if (!j) return;
    FILE *f = fopen(peer, "r");
    char line[256];
    int compared = 0;
    long long peer_total = 0;
    if (!f || !fgets(line, sizeof line, f)) HARNESS_FAIL("no GeoPandas output");
    while (f && fgets(line, sizeof line, f)) {
        char pcode[32];
        long long ind, rec;
        if (sscanf(line, "%31[^,],%lld,%lld", pcode, &ind, &rec) != 3) continue;
        int u = df_boundaries_find_pcode(b, 2, pcode);
        EXPECT(u >= 0);
        if (u < 0) continue;
        const df_figures *fg = df_join_figures(j, u);
        if (fg->displaced != ind || fg->records != rec)
            HARNESS_FAIL("%s: dispflow %lld individuals in %ld records, GeoPandas %lld in %lld", pcode,
                         (long long)fg->displaced, fg->records, ind, rec);
        compared++;
        peer_total += ind;
    }
    if (f) fclose(f);
    EXPECT_INT(compared, 101);
    EXPECT_INT(df_join_balance(j)->ind_matched, peer_total);
    printf("  101 districts compared; %lld individuals matched by both; %ld points outside every district\n",
           peer_total, df_join_balance(j)->unmatched);
    df_join_free(j);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* The written GeoPackage and GeoJSON open in QGIS as valid layers in
 * EPSG:4326 with 101 features, the same total, real date fields and no
 * NULL where 0 is meant. */
TEST(qgis_opens_the_outputs)
{
    NEED_FILE(ADM2_SHP);
    NEED_FILE(SHARED_DATA "/synthetic_et_mosul/records.csv");
    if (!have_python_module("qgis.core")) {
        SKIP("python3-qgis is not installed");
    }
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = NULL;
    df_join *j = join_points(ctx, &b, SHARED_DATA "/synthetic_et_mosul/records.csv");
    EXPECT(j != NULL);
    if (!j) return;
    long long total = 0;
    for (int u = 0; u < df_boundaries_count(b, 2); u++) total += df_join_figures(j, u)->still_displaced;
    static const char *exts[] = {"gpkg", "geojson"};
    for (int k = 0; k < 2; k++) {
        char out[256], cmd[1024], want[256], got[256] = "";
        snprintf(out, sizeof out, "%s/districts.%s", tmpdir, exts[k]);
        EXPECT_INT(df_join_write(ctx, j, b, out, NULL, NULL), DF_OK);
        snprintf(cmd, sizeof cmd,
                 "QT_QPA_PLATFORM=offscreen XDG_RUNTIME_DIR=%s " PYTHON
                 " tests/peers/qgis_layer_summary.py %s still_displaced 2>/dev/null",
                 tmpdir, out);
        FILE *p = popen(cmd, "r");
        if (p && fgets(got, sizeof got, p)) got[strcspn(got, "\n")] = '\0';
        if (p) pclose(p);
        snprintf(want, sizeof want, "valid=1 features=101 crs=EPSG:4326 sum=%lld dates=1 nulls=0", total);
        EXPECT_STR(got, want);
    }
    df_join_free(j);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) return 1;
    RUN(geopandas_sjoin_agrees);
    RUN(qgis_opens_the_outputs);
    harness_remove_dir(tmpdir);
    return harness_done();
}
