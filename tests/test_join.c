/*
 * test_join.c — the join end to end on real data: the synthetic Emergency
 * Tracking table against its ground truth, the DTM API tables against the
 * national figures, the balance, and the written outputs.
 */
#include "dispflow.h"
#include "harness.h"

#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <stdlib.h>

#define ADM2_SHP SHARED_DATA "/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm2_cso_20190603.shp"
#define ET       SHARED_DATA "/synthetic_et_mosul/"

static char tmpdir[] = "/tmp/dispflow-join-XXXXXX";

static df_join *join(df_ctx *ctx, const df_boundaries *b, const char *records, int level, df_table_kind kind,
                     int32_t as_of, const char *log)
{
    df_record_opts ro;
    df_join_opts jo;
    df_record_opts_init(&ro);
    df_join_opts_init(&jo);
    ro.path = records;
    ro.kind = kind;
    jo.level = level;
    jo.as_of = as_of;
    jo.log_path = log;
    df_join *j = NULL;
    if (df_join_run(ctx, b, &ro, &jo, &j) != DF_OK) printf("  join %s: %s\n", records, df_ctx_errmsg(ctx));
    return j;
}

static int find_unit(const df_boundaries *b, int level, const char *pcode)
{
    for (int i = 0; i < df_boundaries_count(b, level); i++)
        if (strcmp(df_boundaries_unit(b, level, i)->pcode, pcode) == 0) return i;
    return -1;
}

static void check_balance(const df_join *j)
{
    const df_balance *bal = df_join_balance(j);
    EXPECT_INT(bal->matched + bal->unmatched + bal->out_of_period + bal->other_level + bal->filtered +
                   bal->read.rejected,
               bal->read.rows);
    EXPECT_INT(bal->ind_matched + bal->ind_unmatched + bal->ind_out_of_period + bal->ind_other_level,
               bal->read.individuals_valid);
}

/* ---- the decision log, read back -------------------------------------------- */

#define MAX_LOG 8192
typedef struct {
    long line;
    char date[11], status[12], match[16], disp_match[16], flags[96];
    long long individuals;
} log_row;

static int split_csv(char *s, char **f, int max)
{
    int n = 0, q = 0;
    f[n++] = s;
    for (char *r = s, *w = s; *r; r++) {
        if (*r == '"') {
            if (q && r[1] == '"')
                *w++ = '"', r++;
            else
                q = !q;
        } else if (*r == ',' && !q && n < max) {
            *w++ = '\0';
            f[n++] = w;
        } else if (*r == '\n' && !q) {
            *w = '\0';
            break;
        } else {
            *w++ = *r;
        }
        if (!r[1]) *w = '\0';
    }
    return n;
}

static int read_log(const char *path, log_row *rows)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int n = 0;
    if (!f) return -1;
    if (!fgets(line, sizeof line, f)) return fclose(f), -1;
    while (n < MAX_LOG && fgets(line, sizeof line, f)) {
        char *c[15];
        if (split_csv(line, c, 15) < 14) continue;
        log_row *r = &rows[n++];
        r->line = atol(c[0]);
        snprintf(r->date, sizeof r->date, "%s", c[1]);
        snprintf(r->status, sizeof r->status, "%s", c[2]);
        r->individuals = atoll(c[3]);
        snprintf(r->match, sizeof r->match, "%s", c[4]);
        snprintf(r->disp_match, sizeof r->disp_match, "%s", c[8]);
        snprintf(r->flags, sizeof r->flags, "%s", c[12]);
    }
    fclose(f);
    return n;
}

/* ---- synthetic Emergency Tracking table ---------------------------------------- */

TEST(synthetic_defects_all_reported)
{
    NEED_FILE(ET "records.csv");
    NEED_FILE(ADM2_SHP);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, ADM2_SHP, 1);
    char log[256];
    snprintf(log, sizeof log, "%s/decisions.csv", tmpdir);
    df_join *j = join(ctx, b, ET "records.csv", 2, DF_INCREMENTS, DF_NO_DATE, log);
    EXPECT(j != NULL);
    if (!j) return;
    check_balance(j);
    static log_row rows[MAX_LOG];
    int n = read_log(log, rows);
    EXPECT_INT(n, df_join_balance(j)->read.rows); /* one log row per input row */

    /* each defect line: the kind the log gives it */
    static const struct {
        const char *defect, *match, *flag;
    } kinds[] = {
        {"no-coordinates", NULL, "no-coordinates"},       {"no-individuals", NULL, "individuals-from-families"},
        {"swapped-lat-lon", NULL, "swapped-lat-lon"},     {"bad-date", "rejected", "bad-date"},
        {"negative-count", "rejected", "negative-count"}, {"null-island", "rejected", "null-island"},
        {"non-numeric-count", "rejected", "bad-count"},   {"unknown-admin", "unmatched", NULL}};
    FILE *f = fopen(ET "defects.csv", "r");
    char line[256];
    int defects = 0, found = 0, swapped = 0;
    if (!fgets(line, sizeof line, f)) line[0] = '\0';
    while (fgets(line, sizeof line, f)) {
        long ln = atol(line);
        char *kind = strchr(line, ',') + 1;
        kind[strcspn(kind, "\r\n")] = '\0';
        defects++;
        swapped += strcmp(kind, "swapped-lat-lon") == 0;
        const log_row *r = NULL;
        for (int i = 0; i < n && !r; i++)
            if (rows[i].line == ln) r = &rows[i];
        int ok = 0;
        for (size_t k = 0; r && k < sizeof kinds / sizeof *kinds; k++) {
            if (strcmp(kinds[k].defect, kind) != 0) continue;
            ok = (!kinds[k].match || strcmp(r->match, kinds[k].match) == 0) &&
                 (!kinds[k].flag || strstr(r->flags, kinds[k].flag) != NULL);
        }
        if (!ok)
            HARNESS_FAIL("defects.csv line %ld (%s): log says %s [%s]", ln, kind, r ? r->match : "nothing",
                         r ? r->flags : "");
        found += ok;
    }
    fclose(f);
    EXPECT_INT(found, defects);
    /* and nothing else is called swapped */
    int flagged = 0;
    for (int i = 0; i < n; i++) flagged += strstr(rows[i].flags, "swapped-lat-lon") != NULL;
    EXPECT_INT(flagged, swapped);
    EXPECT_INT(df_join_balance(j)->swapped, swapped);
    df_join_free(j);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* With the shipped alias table every valid row finds its true district:
 * for each date, every district's displaced and returned equal the truth,
 * nothing valid is unmatched (the one unknown place, "Atlantis", is invalid
 * in the truth too), and the headline figures are reproduced. */
TEST(synthetic_still_displaced_against_truth)
{
    NEED_FILE(ET "truth_dest_adm2.csv");
    NEED_FILE(ADM2_SHP);
    static const char *dates[] = {"2016-11-30", "2017-01-31", "2017-03-31", "2017-04-27", "2017-05-02"};
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, ADM2_SHP, 1);
    char log[256];
    snprintf(log, sizeof log, "%s/decisions2.csv", tmpdir);
    static log_row rows[MAX_LOG];
    long unknown_admin_line = -1;
    FILE *df = fopen(ET "defects.csv", "r");
    char dl[256];
    while (df && fgets(dl, sizeof dl, df))
        if (strstr(dl, ",unknown-admin")) unknown_admin_line = atol(dl);
    if (df) fclose(df);
    EXPECT(unknown_admin_line > 0);
    for (int d = 0; d < 5; d++) {
        int32_t as_of;
        df_date_parse(dates[d], &as_of);
        df_join *j = join(ctx, b, ET "records.csv", 2, DF_INCREMENTS, as_of, log);
        if (!j) continue;
        check_balance(j);
        int n = read_log(log, rows);
        long long unmatched_displaced = 0, unplaced_returns = 0;
        for (int i = 0; i < n; i++) {
            if (strcmp(rows[i].date, dates[d]) > 0 || strcmp(rows[i].match, "rejected") == 0) continue;
            if (rows[i].line == unknown_admin_line) continue; /* invalid in the truth: no such place */
            if (!strcmp(rows[i].status, "displaced") && !strcmp(rows[i].match, "unmatched"))
                unmatched_displaced += rows[i].individuals;
            if (!strcmp(rows[i].status, "returned") && !strcmp(rows[i].disp_match, "unmatched"))
                unplaced_returns += rows[i].individuals;
        }
        /* the truth, per district, as of the date */
        FILE *f = fopen(ET "truth_dest_adm2.csv", "r");
        char line[256], pcode[32], date[16], status[16];
        long long ind, truth_disp = 0, truth_ret = 0, ours_disp = 0, ours_ret = 0;
        static long long td[128], tr[128];
        memset(td, 0, sizeof td), memset(tr, 0, sizeof tr);
        if (!fgets(line, sizeof line, f)) line[0] = '\0';
        while (fgets(line, sizeof line, f)) {
            for (char *p = line; *p; p++)
                if (*p == ',') *p = ' ';
            if (sscanf(line, "%31s %15s %15s %lld", pcode, date, status, &ind) != 4 || strcmp(date, dates[d]) > 0)
                continue;
            int u = find_unit(b, 2, pcode);
            EXPECT(u >= 0);
            if (u < 0) continue;
            if (!strcmp(status, "displaced"))
                td[u] += ind, truth_disp += ind;
            else
                tr[u] += ind, truth_ret += ind;
        }
        fclose(f);
        for (int u = 0; u < df_boundaries_count(b, 2); u++) {
            const df_figures *fg = df_join_figures(j, u);
            ours_disp += fg->displaced;
            ours_ret += fg->returned;
            if (fg->displaced != td[u] || fg->returned != tr[u])
                HARNESS_FAIL("%s %s as of %s: dispflow %lld displaced / %lld returned, truth %lld / %lld",
                             df_boundaries_unit(b, 2, u)->pcode, df_boundaries_unit(b, 2, u)->name, dates[d],
                             (long long)fg->displaced, (long long)fg->returned, td[u], tr[u]);
            EXPECT_INT(fg->still_displaced, fg->displaced - fg->returned);
        }
        EXPECT_INT(unmatched_displaced, 0);
        EXPECT_INT(unplaced_returns, 0);
        EXPECT_INT(ours_disp, truth_disp);
        EXPECT_INT(ours_ret, truth_ret);
        printf(
            "  as of %s: displaced %lld (+%lld unmatched = truth %lld), returned %lld (+%lld unplaced = truth %lld)\n",
            dates[d], ours_disp, unmatched_displaced, truth_disp, ours_ret, unplaced_returns, truth_ret);
        /* the headline figures of truth_totals.csv */
        if (d == 3) {
            EXPECT_INT(truth_disp, 441510);
            EXPECT_INT(truth_ret, 105660);
        }
        if (d == 4) {
            EXPECT_INT(truth_disp - truth_ret, 358032);
            EXPECT_INT(truth_disp, 463692);
        }
        df_join_free(j);
    }
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* ---- DTM API tables: snapshots ------------------------------------------------------ */

/* For every reporting date of the national (ADM0) table, the sum over
 * districts of the snapshot on that date equals the national figure. Round
 * 48 has two reporting dates; they must never be added together. */
static void dtm_snapshots(const char *records)
{
    const char *adm0 = SHARED_DATA "/dtm_irq_api/idpadmin0data-getadmin0datav2-admin0pcode-irq.json";
    NEED_FILE(records);
    NEED_FILE(adm0);
    NEED_FILE(ADM2_SHP);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, ADM2_SHP, 1);
    /* the national figures, read with a plain scan of the JSON */
    FILE *f = fopen(adm0, "r");
    static char text[1 << 20];
    size_t len = fread(text, 1, sizeof text - 1, f);
    text[len] = '\0';
    fclose(f);
    int dates = 0, equal = 0, matched_all = 1;
    static int seen[128];
    memset(seen, 0, sizeof seen);
    for (char *p = strstr(text, "\"numPresentIdpInd\""); p; p = strstr(p + 1, "\"numPresentIdpInd\"")) {
        long long national = atoll(strchr(p, ':') + 1);
        char *d = strstr(p, "\"reportingDate\": \"") + 18;
        char date[11];
        memcpy(date, d, 10);
        date[10] = '\0';
        int32_t as_of;
        df_date_parse(date, &as_of);
        df_join *j = join(ctx, b, records, 2, DF_SNAPSHOTS, as_of, NULL);
        if (!j) continue;
        check_balance(j);
        const df_balance *bal = df_join_balance(j);
        long long sum = 0;
        for (int u = 0; u < df_boundaries_count(b, 2); u++) {
            sum += df_join_figures(j, u)->displaced;
            seen[u] |= df_join_figures(j, u)->records > 0;
        }
        dates++;
        equal += sum == national;
        if (sum != national) HARNESS_FAIL("%s: sum over districts %lld, national %lld", date, sum, national);
        if (bal->unmatched || bal->matched_by_pcode != bal->read.valid) matched_all = 0;
        EXPECT_INT(bal->snapshot, as_of);
        df_join_free(j);
    }
    int districts = 0;
    for (int u = 0; u < df_boundaries_count(b, 2); u++) districts += seen[u];
    printf("  %s: %d reporting dates, %d equal to the national figure; %d districts seen\n", strrchr(records, '/') + 1,
           dates, equal, districts);
    EXPECT_INT(dates, 80);
    EXPECT_INT(equal, dates);
    EXPECT_INT(districts, 100);
    EXPECT(matched_all); /* every row by P-code */
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

TEST(dtm_api_json_snapshots)
{
    dtm_snapshots(SHARED_DATA "/dtm_irq_api/idpadmin2data-getadmin2datav2-admin0pcode-irq.json");
}
TEST(dtm_api_csv_snapshots) { dtm_snapshots(SHARED_DATA "/dtm_irq_api/global-iom-dtm-from-api-admin2_IRQ-rows.csv"); }

/* ---- small, hand-checked cases ---------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

/* Two squares sharing the edge x = 1; points on it are counted once. */
static void write_two_squares(const char *path)
{
    write_file(path, "{\"type\":\"FeatureCollection\",\"features\":["
                     "{\"type\":\"Feature\",\"properties\":{\"ADM1_PCODE\":\"A\",\"ADM1_EN\":\"West\"},"
                     "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}},"
                     "{\"type\":\"Feature\",\"properties\":{\"ADM1_PCODE\":\"B\",\"ADM1_EN\":\"East\"},"
                     "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[1,0],[2,0],[2,1],[1,1],[1,0]]]}}]}");
}

TEST(shared_border_counted_once_and_snapshots_not_summed)
{
    char shp[256], rec[256];
    snprintf(shp, sizeof shp, "%s/squares.geojson", tmpdir);
    snprintf(rec, sizeof rec, "%s/border.csv", tmpdir);
    write_two_squares(shp);
    write_file(rec, "Date,lon,lat,individuals\n"
                    "2020-01-01,1,0.5,100\n"    /* on the shared edge */
                    "2020-01-01,1,0.25,10\n"    /* on the shared edge */
                    "2020-01-01,0.5,0.5,1\n"    /* West */
                    "2020-02-01,1.5,0.5,1000\n" /* East, a later snapshot */
                    "2020-02-01,3,3,7\n");      /* outside both */
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, shp, 1);
    EXPECT(b != NULL);
    if (!b) return;
    df_join *j = join(ctx, b, rec, 1, DF_INCREMENTS, DF_NO_DATE, NULL);
    const df_figures *w = df_join_figures(j, 0), *e = df_join_figures(j, 1);
    EXPECT_INT(w->displaced + e->displaced, 1111); /* 100 and 10 once each, never twice */
    EXPECT_INT(df_join_balance(j)->unmatched, 1);
    EXPECT_INT(df_join_balance(j)->ind_unmatched, 7);
    check_balance(j);
    df_join_free(j);

    /* snapshots: the figure is that of the latest date, never a sum */
    int32_t feb;
    df_date_parse("2020-02-15", &feb);
    j = join(ctx, b, rec, 1, DF_SNAPSHOTS, feb, NULL);
    EXPECT_INT(df_join_figures(j, 0)->displaced + df_join_figures(j, 1)->displaced, 1000);
    EXPECT_INT(df_join_balance(j)->out_of_period, 3);
    check_balance(j);
    df_join_free(j);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

TEST(swapped_point_counted_where_names_agree)
{
    char shp[256], rec[256];
    snprintf(shp, sizeof shp, "%s/squares2.geojson", tmpdir);
    snprintf(rec, sizeof rec, "%s/swapped.csv", tmpdir);
    write_two_squares(shp);
    /* latitude 1.5, longitude 0.5 falls outside both squares; its swap
     * (longitude 1.5, latitude 0.5) falls in East */
    write_file(rec, "Governorate,Latitude,Longitude,Individuals\n"
                    "East,1.5,0.5,6\n"  /* swapped, names agree: East */
                    "West,1.5,0.5,12\n" /* swapped, names disagree: West, flagged */
                    ",1.5,0.5,24\n");   /* swapped, no names: East */
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, shp, 1);
    df_join *j = join(ctx, b, rec, 1, DF_INCREMENTS, DF_NO_DATE, NULL);
    /* stated names win over coordinates; the conflict is flagged in the log */
    EXPECT_INT(df_join_figures(j, 1)->displaced, 6 + 24);
    EXPECT_INT(df_join_figures(j, 0)->displaced, 12);
    EXPECT_INT(df_join_balance(j)->swapped, 3);
    df_join_free(j);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* ---- outputs -------------------------------------------------------------------- */

TEST(outputs_open_in_gdal_and_are_atomic)
{
    NEED_FILE(ET "records.csv");
    NEED_FILE(ADM2_SHP);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, ADM2_SHP, 1);
    df_join *j = join(ctx, b, ET "records.csv", 2, DF_INCREMENTS, DF_NO_DATE, NULL);
    static const char *exts[] = {"geojson", "gpkg", "csv"};
    for (int k = 0; k < 3; k++) {
        char path[256];
        snprintf(path, sizeof path, "%s/out.%s", tmpdir, exts[k]);
        EXPECT_INT(df_join_write(ctx, j, b, path, NULL, NULL), DF_OK);
        GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR, NULL, NULL, NULL);
        EXPECT(ds != NULL);
        if (!ds) continue;
        OGRLayerH l = GDALDatasetGetLayer(ds, 0);
        long long sum = 0, n = 0;
        OGRFeatureH f;
        int fi = OGR_FD_GetFieldIndex(OGR_L_GetLayerDefn(l), "displaced");
        while ((f = OGR_L_GetNextFeature(l))) {
            const char *v = OGR_F_GetFieldAsString(f, fi);
            if (v[0] != '#') sum += atoll(v), n++; /* the CSV's HXL row */
            if (k < 2) EXPECT(OGR_F_GetGeometryRef(f) != NULL);
            OGR_F_Destroy(f);
        }
        EXPECT_INT(n, 101);
        long long want = 0;
        for (int u = 0; u < df_boundaries_count(b, 2); u++) want += df_join_figures(j, u)->displaced;
        EXPECT_INT(sum, want);
        if (k < 2) {
            OGRSpatialReferenceH srs = OGR_L_GetSpatialRef(l);
            EXPECT(srs && OSRGetAuthorityCode(srs, NULL) && strcmp(OSRGetAuthorityCode(srs, NULL), "4326") == 0);
        }
        GDALClose(ds);
    }
    /* a failing write leaves the previous file and no temporary file */
    char path[256], cmd[512];
    snprintf(path, sizeof path, "%s/nodir/out.geojson", tmpdir);
    EXPECT(df_join_write(ctx, j, b, path, NULL, NULL) != DF_OK);
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s | grep tmp-)\"", tmpdir);
    EXPECT_INT(system(cmd), 0);
    df_join_free(j);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* issue 12 item 1: one fan-out read on any number of threads gives the same
 * figures and the same decision log, byte for byte, rejected rows in their
 * place (a join with a decision log no longer runs on one thread). The
 * synthetic table repeated past the 8 MB a read needs to be cut. */
static void say_threads(df_log_level level, const char *msg, void *user)
{
    int *threads = user;
    int n;
    if (level == DF_LOG_DEBUG && strstr(msg, ": read on ") && sscanf(strstr(msg, ": read on ") + 9, "%d", &n) == 1)
        *threads = n;
}

static char *slurp(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    rewind(f);
    char *s = malloc((size_t)*len + 1);
    if (s && fread(s, 1, (size_t)*len, f) != (size_t)*len) *len = -1;
    fclose(f);
    return s;
}

TEST(decision_log_identical_on_1_2_8_threads)
{
    NEED_FILE(ET "records.csv");
    NEED_FILE(ADM2_SHP);
    char big[256], log[3][256];
    snprintf(big, sizeof big, "%s/big.csv", tmpdir);
    long len = 0;
    char *src = slurp(ET "records.csv", &len);
    EXPECT(src != NULL && len > 0);
    if (!src) return;
    char *body = strchr(src, '\n') + 1;
    FILE *f = fopen(big, "wb");
    fwrite(src, 1, (size_t)(body - src), f);
    long copies = 0;
    while (ftell(f) < (12L << 20)) fwrite(body, 1, (size_t)(len - (body - src)), f), copies++;
    fclose(f);
    free(src);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, ADM2_SHP, 1);
    static const int threads[3] = {1, 2, 8};
    df_join *j[3] = {NULL};
    for (int t = 0; t < 3; t++) {
        int used = 1;
        df_ctx_set_log(ctx, say_threads, &used);
        snprintf(log[t], sizeof log[t], "%s/decisions%d.csv", tmpdir, threads[t]);
        df_record_opts ro;
        df_join_opts jo;
        df_record_opts_init(&ro);
        df_join_opts_init(&jo);
        ro.path = big;
        ro.kind = DF_INCREMENTS;
        jo.log_path = log[t];
        jo.threads = threads[t];
        EXPECT_INT(df_join_run(ctx, b, &ro, &jo, &j[t]), DF_OK);
        if (!j[t]) return;
        EXPECT_INT(used, threads[t]); /* the read was cut as asked */
        check_balance(j[t]);
    }
    df_ctx_set_log(ctx, NULL, NULL);
    /* one log row per input row, and the same bytes on any number of threads */
    long l0 = 0, l1 = 0;
    char *a = slurp(log[0], &l0);
    long nl = 0;
    for (long i = 0; a && i < l0; i++) nl += a[i] == '\n';
    EXPECT_INT(nl - 1, df_join_balance(j[0])->read.rows);
    EXPECT_INT(df_join_balance(j[0])->read.rejected, copies * (df_join_balance(j[0])->read.rejected / copies));
    for (int t = 1; t < 3; t++) {
        char *c = slurp(log[t], &l1);
        EXPECT_INT(l1, l0);
        EXPECT(a && c && l1 == l0 && memcmp(a, c, (size_t)l0) == 0);
        free(c);
        const df_balance *p = df_join_balance(j[0]), *q = df_join_balance(j[t]);
        EXPECT_INT(q->matched, p->matched);
        EXPECT_INT(q->unmatched, p->unmatched);
        EXPECT_INT(q->read.rejected, p->read.rejected);
        EXPECT_INT(q->ind_matched, p->ind_matched);
        EXPECT_INT(q->read.duplicates, p->read.duplicates);
        for (int u = 0; u < df_boundaries_count(b, 2); u++) {
            const df_figures *x = df_join_figures(j[0], u), *y = df_join_figures(j[t], u);
            EXPECT_INT(y->displaced, x->displaced);
            EXPECT_INT(y->returned, x->returned);
            EXPECT_INT(y->returnees, x->returnees);
            EXPECT_INT(y->records, x->records);
        }
        EXPECT_INT(df_join_decision_count(j[t]), df_join_decision_count(j[0]));
        for (int d = 0; d < df_join_decision_count(j[0]) && d < df_join_decision_count(j[t]); d++) {
            EXPECT_STR(df_join_decision(j[t], d)->name, df_join_decision(j[0], d)->name);
            EXPECT_INT(df_join_decision(j[t], d)->rows, df_join_decision(j[0], d)->rows);
        }
    }
    free(a);
    for (int t = 0; t < 3; t++) df_join_free(j[t]);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* issue 12 item 1, the push API: records fed from memory (here, as a read
 * hands them over, alternately into two joins merged at the end) give the
 * figures the join of the file gives. */
typedef struct {
    df_join *part[2];
    long n;
    int failed;
} pushing;

static int push_one(const df_record *r, void *user)
{
    pushing *p = user;
    if (df_join_add(p->part[p->n++ % 2], r) != DF_OK) p->failed = 1;
    return p->failed;
}

TEST(push_api_equals_the_read)
{
    NEED_FILE(ET "records.csv");
    NEED_FILE(ADM2_SHP);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, ADM2_SHP, 1);
    df_join *read = join(ctx, b, ET "records.csv", 2, DF_INCREMENTS, DF_NO_DATE, NULL);
    EXPECT(read != NULL);
    df_record_opts ro;
    df_record_opts_init(&ro);
    ro.path = ET "records.csv";
    ro.kind = DF_INCREMENTS;
    pushing p = {{NULL, NULL}, 0, 0};
    EXPECT_INT(df_join_new(ctx, b, &ro, NULL, &p.part[0]), DF_OK);
    EXPECT_INT(df_join_new(ctx, b, &ro, NULL, &p.part[1]), DF_OK);
    df_read_stats stats;
    EXPECT_INT(df_records_read(ctx, &ro, push_one, NULL, &p, &stats), DF_OK);
    EXPECT_INT(p.failed, 0);
    EXPECT_INT(df_join_merge(p.part[0], p.part[1]), DF_OK);
    EXPECT_INT(df_join_finish(p.part[0]), DF_OK);
    EXPECT_INT(df_join_add(p.part[0], NULL), DF_EINVAL); /* finished: no more records */
    if (read && p.part[0]) {
        const df_balance *x = df_join_balance(read), *y = df_join_balance(p.part[0]);
        EXPECT_INT(y->read.valid, x->read.valid);
        EXPECT_INT(y->matched, x->matched);
        EXPECT_INT(y->unmatched, x->unmatched);
        EXPECT_INT(y->ind_matched, x->ind_matched);
        int differ = 0;
        for (int u = 0; u < df_boundaries_count(b, 2); u++) {
            const df_figures *f = df_join_figures(read, u), *g = df_join_figures(p.part[0], u);
            differ += f->displaced != g->displaced || f->returned != g->returned || f->records != g->records;
        }
        EXPECT_INT(differ, 0);
        EXPECT(x->ind_matched > 400000);
    }
    df_join_free(p.part[0]);
    df_join_free(p.part[1]);
    df_join_free(read);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) return 1;
    RUN(synthetic_defects_all_reported);
    RUN(synthetic_still_displaced_against_truth);
    RUN(dtm_api_json_snapshots);
    RUN(dtm_api_csv_snapshots);
    RUN(shared_border_counted_once_and_snapshots_not_summed);
    RUN(swapped_point_counted_where_names_agree);
    RUN(outputs_open_in_gdal_and_are_atomic);
    RUN(decision_log_identical_on_1_2_8_threads);
    RUN(push_api_equals_the_read);
    harness_remove_dir(tmpdir);
    return harness_done();
}
