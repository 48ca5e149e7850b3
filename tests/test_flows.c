/*
 * test_flows.c — origin-destination flows: the synthetic table's truth
 * reproduced pair by pair and day by day, governorate flows equal to the
 * sums of district flows, the 2014 DTM master lists' families conserved,
 * the corridor preset, and lines that open in GDAL, start and end inside
 * their units and never draw A->B on top of B->A.
 */
#include "dfint.h"
#include "harness.h"

#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <stdlib.h>

#define ADM2_SHP SHARED_DATA "/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm2_cso_20190603.shp"
#define ET       SHARED_DATA "/synthetic_et_mosul/"

static char tmpdir[] = "/tmp/dispflow-flows-XXXXXX";

static df_flows *flows(df_ctx *ctx, const df_boundaries *b, const char *records, const char *map, int olevel,
                       int dlevel, df_step step, const char *origins)
{
    df_record_opts ro;
    df_flow_opts fo;
    df_flows *f = NULL;
    df_record_opts_init(&ro);
    df_flow_opts_init(&fo);
    ro.path = records;
    ro.map = map;
    ro.header = map ? 0 : -1;
    fo.origin_level = olevel;
    fo.dest_level = dlevel;
    fo.step = step;
    fo.origins = origins;
    if (df_flows_run(ctx, b, &ro, &fo, &f) != DF_OK) printf("  flows: %s\n", df_ctx_errmsg(ctx));
    return f;
}

/* Every (from, to, date, status) of truth_od_adm2.csv, and nothing else. */
TEST(synthetic_od_by_day_equals_truth)
{
    NEED_FILE(ET "truth_od_adm2.csv");
    NEED_FILE(ADM2_SHP);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, ADM2_SHP, 1);
    df_flows *f = flows(ctx, b, ET "records.csv", NULL, 2, 2, DF_STEP_DAY, NULL);
    EXPECT(f != NULL);
    if (!f) return;
    FILE *t = fopen(ET "truth_od_adm2.csv", "r");
    char line[256];
    int truth = 0, equal = 0;
    long long truth_total = 0, flow_total = 0;
    if (!fgets(line, sizeof line, t)) line[0] = '\0';
    while (fgets(line, sizeof line, t)) {
        char from[32], to[32], date[16], status[16];
        long long ind;
        for (char *p = line; *p; p++)
            if (*p == ',') *p = ' ';
        if (sscanf(line, "%31s %31s %15s %15s %lld", from, to, date, status, &ind) != 5) continue;
        truth++;
        truth_total += ind;
        int32_t d;
        df_date_parse(date, &d);
        int o = df_boundaries_find_pcode(b, 2, from), de = df_boundaries_find_pcode(b, 2, to), found = 0;
        for (int i = 0; i < df_flows_count(f); i++) {
            const df_flow *fl = df_flows_get(f, i);
            if (fl->origin == o && fl->dest == de && fl->period_start == d &&
                !strcmp(fl->status == DF_RETURNED ? "returned" : "displaced", status)) {
                found = 1;
                if (fl->individuals == ind)
                    equal++;
                else
                    HARNESS_FAIL("%s -> %s %s %s: dispflow %lld, truth %lld", from, to, date, status,
                                 (long long)fl->individuals, ind);
            }
        }
        if (!found) HARNESS_FAIL("%s -> %s %s %s (%lld): no such flow", from, to, date, status, ind);
    }
    fclose(t);
    for (int i = 0; i < df_flows_count(f); i++) flow_total += df_flows_get(f, i)->individuals;
    printf("  %d of %d truth rows reproduced; %d flows, %lld individuals (truth %lld)\n", equal, truth,
           df_flows_count(f), flow_total, truth_total);
    EXPECT_INT(equal, truth);
    EXPECT_INT(df_flows_count(f), truth);
    EXPECT_INT(flow_total, truth_total);
    /* the balance: every valid row is in one bucket */
    const df_flow_balance *fb = df_flows_balance(f);
    EXPECT_INT(fb->counted + fb->unplaced + fb->filtered + fb->out_of_period, fb->read.valid);
    df_flows_free(f);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* Governorate to governorate, per month, equals the district flows summed
 * by their governorates; and the corridor keeps only corridor origins. */
TEST(levels_add_up_and_corridor_filters)
{
    NEED_FILE(ET "records.csv");
    NEED_FILE(ADM2_SHP);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, ADM2_SHP, 1);
    df_flows *d = flows(ctx, b, ET "records.csv", NULL, 2, 2, DF_STEP_MONTH, NULL);
    df_flows *g = flows(ctx, b, ET "records.csv", NULL, 1, 1, DF_STEP_MONTH, NULL);
    df_flows *m = flows(ctx, b, ET "records.csv", NULL, 2, 1, DF_STEP_MONTH, NULL); /* mixed levels */
    EXPECT(d && g && m);
    if (!d || !g || !m) return;
    int mismatches = 0;
    for (int i = 0; i < df_flows_count(g); i++) {
        const df_flow *gf = df_flows_get(g, i);
        long long sum = 0, sum_mixed = 0;
        for (int k = 0; k < df_flows_count(d); k++) {
            const df_flow *x = df_flows_get(d, k);
            if (x->period_start == gf->period_start && x->status == gf->status &&
                df__boundaries_ancestor(b, 2, x->origin, 1) == gf->origin &&
                df__boundaries_ancestor(b, 2, x->dest, 1) == gf->dest)
                sum += x->individuals;
        }
        for (int k = 0; k < df_flows_count(m); k++) {
            const df_flow *x = df_flows_get(m, k);
            if (x->period_start == gf->period_start && x->status == gf->status &&
                df__boundaries_ancestor(b, 2, x->origin, 1) == gf->origin && x->dest == gf->dest)
                sum_mixed += x->individuals;
        }
        mismatches += sum != gf->individuals || sum_mixed != gf->individuals;
    }
    printf("  %d governorate flows, %d district flows, %d mismatches\n", df_flows_count(g), df_flows_count(d),
           mismatches);
    EXPECT_INT(mismatches, 0);
    /* months: each period starts on the 1st and ends on the month's last day */
    char s[11], e[11];
    df_date_format(df_flows_get(g, 0)->period_start, s);
    df_date_format(df_flows_get(g, 0)->period_end, e);
    EXPECT_STR(s, "2016-10-01");
    EXPECT_STR(e, "2016-10-31");
    df_flows *c = flows(ctx, b, ET "records.csv", NULL, 2, 2, DF_STEP_NONE, "corridor");
    static const char *corridor[] = {"IQG15Q05", "IQG15Q03", "IQG15Q09", "IQG15Q08", "IQG15Q04",
                                     "IQG15Q06", "IQG15Q02", "IQG11Q04", "IQG16Q02"};
    for (int i = 0; c && i < df_flows_count(c); i++) {
        const char *p = df_boundaries_unit(b, 2, df_flows_get(c, i)->origin)->pcode;
        int in = 0;
        for (int k = 0; k < 9; k++) in |= !strcmp(p, corridor[k]);
        if (!in) HARNESS_FAIL("corridor flow from %s", p);
    }
    EXPECT(c && df_flows_count(c) > 0 && df_flows_balance(c)->filtered > 0);
    df_flows_free(c);
    df_flows_free(d);
    df_flows_free(g);
    df_flows_free(m);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* The 2014 master lists: origin governorate to location governorate. The
 * families in the flows plus those of rows with an end not placed are the
 * families of the valid rows, and individuals are families x 6. */
TEST(dtm_2014_origin_to_location_conserves_families)
{
    static const char *files[] = {"final_18082014_dtm_master.csv", "DTM_Dataset_-_01092014_final_0.csv",
                                  "DTM_Dataset_14092014.csv", "DTM_Dataset_28092014.csv", "DTM_Dataset_26102014.csv"};
    /* An independent check: three of these lists carry exactly the national
     * figures the DTM API gives for rounds 5, 6 and 7 (ADM0 table:
     * 2014-08-01, 2014-09-01, 2014-10-01). 0 = no such figure. */
    static const long long national[] = {0, 1709178, 0, 1753302, 1898844};
    NEED_FILE(ADM2_SHP);
    NEED_FILE(SHARED_DATA "/dtm_irq_2014_locations/label.csv");
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, ADM2_SHP, 1);
    for (int i = 0; i < 5; i++) {
        char path[512];
        snprintf(path, sizeof path, SHARED_DATA "/dtm_irq_2014_locations/%s", files[i]);
        df_flows *f =
            flows(ctx, b, path, "families=4,origin_adm1=5,adm1=7,adm2=8,lon=14,lat=15", 1, 1, DF_STEP_NONE, NULL);
        EXPECT(f != NULL);
        if (!f) continue;
        long long fam = 0, ind = 0;
        for (int k = 0; k < df_flows_count(f); k++)
            fam += df_flows_get(f, k)->families, ind += df_flows_get(f, k)->individuals;
        const df_flow_balance *fb = df_flows_balance(f);
        printf("  %s: %d flows, %lld families (%lld individuals), %ld rows unplaced, %ld rejected\n", files[i],
               df_flows_count(f), fam, ind, fb->unplaced, fb->read.rejected);
        EXPECT_INT(ind, 6 * fam);
        EXPECT_INT(ind, fb->ind_counted);
        EXPECT_INT(fb->unplaced, 0);
        EXPECT_INT(fb->read.individuals_valid, fb->ind_counted);
        if (national[i]) EXPECT_INT(ind, national[i]);
        df_flows_free(f);
    }
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* Lines open in GDAL with real dates, start and end inside their units,
 * and A->B and B->A lie on opposite sides; the matrix has one row per flow. */
TEST(lines_nodes_and_matrix)
{
    NEED_FILE(ET "records.csv");
    NEED_FILE(ADM2_SHP);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, ADM2_SHP, 1);
    df_flows *f = flows(ctx, b, ET "records.csv", NULL, 2, 2, DF_STEP_NONE, NULL);
    char lines[256], nodes[256], matrix[256];
    snprintf(lines, sizeof lines, "%s/flows.geojson", tmpdir);
    snprintf(nodes, sizeof nodes, "%s/nodes.gpkg", tmpdir);
    snprintf(matrix, sizeof matrix, "%s/od.csv", tmpdir);
    EXPECT_INT(df_flows_write_lines(ctx, f, b, lines, 0.15, DF_ENDPOINTS_INSIDE, nodes), DF_OK);
    EXPECT_INT(df_flows_write_matrix(ctx, f, b, matrix, 1), DF_OK);
    GDALDatasetH ds = GDALOpenEx(lines, GDAL_OF_VECTOR, NULL, NULL, NULL);
    EXPECT(ds != NULL);
    if (!ds) return;
    OGRLayerH l = GDALDatasetGetLayer(ds, 0);
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(l);
    EXPECT_INT(OGR_Fld_GetType(OGR_FD_GetFieldDefn(defn, OGR_FD_GetFieldIndex(defn, "period_start"))), OFTDate);
    EXPECT_INT(OGR_L_GetFeatureCount(l, 1), df_flows_count(f));
    OGRSpatialReferenceH srs = OGR_L_GetSpatialRef(l);
    EXPECT(srs && OSRGetAuthorityCode(srs, NULL) && !strcmp(OSRGetAuthorityCode(srs, NULL), "4326"));
    /* GeoJSON carries no field types: GDAL reads back integers that fit 32 bits as Integer */
    OGRFieldType it = OGR_Fld_GetType(OGR_FD_GetFieldDefn(defn, OGR_FD_GetFieldIndex(defn, "individuals")));
    EXPECT(it == OFTInteger || it == OFTInteger64);
    /* every flow's midpoint, to compare A->B with B->A */
    int n = 0, inside = 0, pairs = 0, apart = 0;
    static double mid[4096][2];
    static char key[4096][40];
    OGRFeatureH feat;
    while ((feat = OGR_L_GetNextFeature(l)) && n < 4096) {
        OGRGeometryH g = OGR_F_GetGeometryRef(feat);
        int np = OGR_G_GetPointCount(g);
        const char *o = OGR_F_GetFieldAsString(feat, OGR_FD_GetFieldIndex(defn, "origin_pcode"));
        const char *d = OGR_F_GetFieldAsString(feat, OGR_FD_GetFieldIndex(defn, "dest_pcode"));
        const char *s = OGR_F_GetFieldAsString(feat, OGR_FD_GetFieldIndex(defn, "status"));
        int uo = df_boundaries_find_pcode(b, 2, o), ud = df_boundaries_find_pcode(b, 2, d);
        inside += df_boundaries_locate(b, 2, OGR_G_GetX(g, 0), OGR_G_GetY(g, 0)) == uo &&
                  df_boundaries_locate(b, 2, OGR_G_GetX(g, np - 1), OGR_G_GetY(g, np - 1)) == ud;
        mid[n][0] = OGR_G_GetX(g, np / 2), mid[n][1] = OGR_G_GetY(g, np / 2);
        snprintf(key[n], sizeof key[n], "%s>%s>%s", o, d, s);
        n++;
        OGR_F_Destroy(feat);
    }
    GDALClose(ds);
    EXPECT_INT(inside, n);
    for (int i = 0; i < n; i++) { /* the reverse flow of the same status */
        char rev[64], o[16], d[16], s[12];
        if (sscanf(key[i], "%15[^>]>%15[^>]>%11s", o, d, s) != 3 || !strcmp(o, d)) continue;
        snprintf(rev, sizeof rev, "%s>%s>%s", d, o, s);
        for (int k = 0; k < n; k++)
            if (!strcmp(key[k], rev)) {
                pairs++;
                apart += hypot(mid[i][0] - mid[k][0], mid[i][1] - mid[k][1]) > 1e-3;
            }
    }
    printf("  %d lines, all ends inside their units: %s; %d A->B/B->A pairs, %d drawn apart\n", n,
           inside == n ? "yes" : "no", pairs, apart);
    EXPECT(pairs > 0);
    EXPECT_INT(apart, pairs);
    /* the matrix: header, HXL row, one row per flow */
    FILE *m = fopen(matrix, "r");
    char line[512];
    int rows = 0;
    while (m && fgets(line, sizeof line, m)) rows++;
    if (m) fclose(m);
    EXPECT_INT(rows, df_flows_count(f) + 2);
    df_flows_free(f);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* Per month with totals: each pair's total is the sum of its months, and
 * its last month's cumulative equals it; the net and wide outputs add up. */
TEST(totals_cumulative_net_and_wide)
{
    NEED_FILE(ET "records.csv");
    NEED_FILE(ADM2_SHP);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, ADM2_SHP, 1);
    df_record_opts ro;
    df_flow_opts fo;
    df_flows *f = NULL;
    df_record_opts_init(&ro);
    df_flow_opts_init(&fo);
    ro.path = ET "records.csv";
    fo.step = DF_STEP_MONTH;
    fo.totals = 1;
    EXPECT_INT(df_flows_run(ctx, b, &ro, &fo, &f), DF_OK);
    if (!f) return;
    int totals = 0, bad = 0;
    long long all = 0, all_totals = 0;
    for (int i = 0; i < df_flows_count(f); i++) {
        const df_flow *t = df_flows_get(f, i);
        if (!t->total) {
            all += t->individuals;
            continue;
        }
        totals++;
        all_totals += t->individuals;
        long long sum = 0, last_cum = 0;
        int32_t last = INT32_MIN;
        for (int k = 0; k < df_flows_count(f); k++) {
            const df_flow *x = df_flows_get(f, k);
            if (x->total || x->origin != t->origin || x->dest != t->dest || x->status != t->status) continue;
            sum += x->individuals;
            if (x->period_start > last) last = x->period_start, last_cum = x->cumulative;
        }
        bad += sum != t->individuals || last_cum != t->individuals;
    }
    printf("  %d pair totals, %d wrong; periods %lld individuals, totals %lld\n", totals, bad, all, all_totals);
    EXPECT(totals > 0);
    EXPECT_INT(bad, 0);
    EXPECT_INT(all, all_totals);

    char net[256], wide[256], line[4096];
    snprintf(net, sizeof net, "%s/net.csv", tmpdir);
    snprintf(wide, sizeof wide, "%s/wide.csv", tmpdir);
    EXPECT_INT(df_flows_write_net(ctx, f, b, net), DF_OK);
    EXPECT_INT(df_flows_write_wide(ctx, f, b, wide), DF_OK);
    FILE *n = fopen(net, "r");
    int rows = 0, wrong = 0;
    if (!fgets(line, sizeof line, n)) line[0] = '\0';
    while (fgets(line, sizeof line, n)) {
        long long ab, ba, nt;
        char *p = line;
        for (int c = 0; c < 7; c++) p = strchr(p, ',') + 1; /* no commas in these names */
        if (sscanf(p, "%lld,%lld,%lld", &ab, &ba, &nt) != 3) continue;
        rows++;
        wrong += ab - ba != nt;
    }
    fclose(n);
    EXPECT(rows > 0);
    EXPECT_INT(wrong, 0);
    FILE *w = fopen(wide, "r");
    long long cells = 0;
    if (!fgets(line, sizeof line, w)) line[0] = '\0';
    while (fgets(line, sizeof line, w)) {
        char *p = line;
        for (int c = 0; c < 3 && p; c++) p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
        while (p && *p) {
            cells += atoll(p);
            p = strchr(p, ',');
            if (p) p++;
        }
    }
    fclose(w);
    EXPECT_INT(cells, all);
    df_flows_free(f);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

/* Two squares sharing the edge x = 1: West (A) and East (B). */
static df_boundaries *squares(df_ctx *ctx)
{
    char path[256];
    snprintf(path, sizeof path, "%s/squares.geojson", tmpdir);
    write_file(path, "{\"type\":\"FeatureCollection\",\"features\":["
                     "{\"type\":\"Feature\",\"properties\":{\"ADM1_PCODE\":\"A\",\"ADM1_EN\":\"West\"},"
                     "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}},"
                     "{\"type\":\"Feature\",\"properties\":{\"ADM1_PCODE\":\"B\",\"ADM1_EN\":\"East\"},"
                     "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[1,0],[2,0],[2,1],[1,1],[1,0]]]}}]}");
    df_boundary_opts o;
    df_boundaries *b = NULL;
    df_boundary_opts_init(&o);
    o.path = path;
    if (df_boundaries_load(ctx, &o, &b) != DF_OK) printf("  %s\n", df_ctx_errmsg(ctx));
    return b;
}

static long long flow_value(const df_flows *f, int o, int d, const char *date)
{
    int32_t day;
    df_date_parse(date, &day);
    for (int i = 0; i < df_flows_count(f); i++) {
        const df_flow *x = df_flows_get(f, i);
        if (x->origin == o && x->dest == d && x->period_start == day) return x->individuals;
    }
    return 0;
}

/* Snapshot tables: a flow is the change since the pair's previous
 * snapshot; a pair missing from a snapshot counts 0 there. */
TEST(snapshots_are_differenced)
{
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = squares(ctx);
    char rec[256];
    snprintf(rec, sizeof rec, "%s/snapshots.csv", tmpdir);
    write_file(rec, "Date,Governorate of Origin,Governorate,Individuals\n"
                    "2020-01-01,West,East,100\n2020-01-01,West,West,10\n"
                    "2020-02-01,West,East,150\n"
                    "2020-03-01,West,East,120\n2020-03-01,West,West,5\n");
    df_record_opts ro;
    df_flow_opts fo;
    df_flows *f = NULL;
    df_record_opts_init(&ro);
    df_flow_opts_init(&fo);
    ro.path = rec;
    fo.origin_level = fo.dest_level = 1;
    fo.step = DF_STEP_DAY;
    fo.kind = DF_SNAPSHOTS;
    EXPECT_INT(df_flows_run(ctx, b, &ro, &fo, &f), DF_OK);
    if (!f) return;
    EXPECT_INT(flow_value(f, 0, 1, "2020-01-01"), 100);
    EXPECT_INT(flow_value(f, 0, 1, "2020-02-01"), 50);
    EXPECT_INT(flow_value(f, 0, 1, "2020-03-01"), -30);
    EXPECT_INT(flow_value(f, 0, 0, "2020-01-01"), 10);
    EXPECT_INT(flow_value(f, 0, 0, "2020-02-01"), -10);
    EXPECT_INT(flow_value(f, 0, 0, "2020-03-01"), 5);
    df_flows_free(f);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* Weighted endpoints: the line ends at the individuals-weighted centre of
 * the record locations in the destination. */
TEST(weighted_endpoints)
{
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = squares(ctx);
    char rec[256], lines[256];
    snprintf(rec, sizeof rec, "%s/points.csv", tmpdir);
    snprintf(lines, sizeof lines, "%s/weighted.geojson", tmpdir);
    write_file(rec, "Governorate of Origin,lon,lat,Individuals\nWest,1.25,0.5,100\nWest,1.75,0.25,300\n");
    df_record_opts ro;
    df_flow_opts fo;
    df_flows *f = NULL;
    df_record_opts_init(&ro);
    df_flow_opts_init(&fo);
    ro.path = rec;
    fo.origin_level = fo.dest_level = 1;
    EXPECT_INT(df_flows_run(ctx, b, &ro, &fo, &f), DF_OK);
    EXPECT_INT(df_flows_write_lines(ctx, f, b, lines, 0.15, DF_ENDPOINTS_WEIGHTED, NULL), DF_OK);
    GDALDatasetH ds = GDALOpenEx(lines, GDAL_OF_VECTOR, NULL, NULL, NULL);
    OGRFeatureH feat = ds ? OGR_L_GetNextFeature(GDALDatasetGetLayer(ds, 0)) : NULL;
    EXPECT(feat != NULL);
    if (feat) {
        OGRGeometryH g = OGR_F_GetGeometryRef(feat);
        int n = OGR_G_GetPointCount(g);
        /* (100 x 1.25 + 300 x 1.75) / 400 = 1.625; (100 x 0.5 + 300 x 0.25) / 400 = 0.3125
         * (GeoJSON keeps 7 decimals under RFC 7946) */
        EXPECT_NEAR(OGR_G_GetX(g, n - 1), 1.625, 1e-7);
        EXPECT_NEAR(OGR_G_GetY(g, n - 1), 0.3125, 1e-7);
        OGR_F_Destroy(feat);
    }
    if (ds) GDALClose(ds);
    df_flows_free(f);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* issue 12 item 1, the push API: the records pushed alternately into two
 * flows merged at the end give the flows of the read, row for row. */
typedef struct {
    df_flows *part[2];
    long n;
    int failed;
} pushing;

static int push_one(const df_record *r, void *user)
{
    pushing *p = user;
    if (df_flows_add(p->part[p->n++ % 2], r) != DF_OK) p->failed = 1;
    return p->failed;
}

TEST(push_api_equals_the_read)
{
    NEED_FILE(ET "records.csv");
    NEED_FILE(ADM2_SHP);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, ADM2_SHP, 1);
    df_flows *read = flows(ctx, b, ET "records.csv", NULL, 2, 2, DF_STEP_NONE, NULL);
    df_record_opts ro;
    df_record_opts_init(&ro);
    ro.path = ET "records.csv";
    ro.kind = df_flows_balance(read)->read.kind;
    pushing p = {{NULL, NULL}, 0, 0};
    EXPECT_INT(df_flows_new(ctx, b, &ro, NULL, &p.part[0]), DF_OK);
    EXPECT_INT(df_flows_new(ctx, b, &ro, NULL, &p.part[1]), DF_OK);
    df_read_stats stats;
    EXPECT_INT(df_records_read(ctx, &ro, push_one, NULL, &p, &stats), DF_OK);
    EXPECT_INT(p.failed, 0);
    EXPECT_INT(df_flows_merge(p.part[0], p.part[1]), DF_OK);
    EXPECT_INT(df_flows_finish(p.part[0]), DF_OK);
    EXPECT(read && df_flows_count(read) > 10);
    EXPECT_INT(df_flows_count(p.part[0]), df_flows_count(read));
    int differ = 0;
    for (int i = 0; read && i < df_flows_count(read) && i < df_flows_count(p.part[0]); i++) {
        const df_flow *x = df_flows_get(read, i), *y = df_flows_get(p.part[0], i);
        differ += x->origin != y->origin || x->dest != y->dest || x->individuals != y->individuals ||
                  x->status != y->status || x->period_start != y->period_start;
    }
    EXPECT_INT(differ, 0);
    df_flows_free(p.part[0]);
    df_flows_free(p.part[1]);
    df_flows_free(read);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) return 1;
    RUN(snapshots_are_differenced);
    RUN(weighted_endpoints);
    RUN(totals_cumulative_net_and_wide);
    RUN(synthetic_od_by_day_equals_truth);
    RUN(levels_add_up_and_corridor_filters);
    RUN(dtm_2014_origin_to_location_conserves_families);
    RUN(lines_nodes_and_matrix);
    RUN(push_api_equals_the_read);
    harness_remove_dir(tmpdir);
    return harness_done();
}
