/*
 * test_country_records.c — issue 11 on real DTM tables of other countries: Sudan
 * (four operations, admin levels 0 to 2 in one table) and Chad (v3 rows
 * split by displacement reason, two assessment types on some dates); and
 * the traps on small hand-made tables: rows seen twice, a table of no
 * stated kind, row filters.
 *
 * The expected figures are read from the DTM's own national and admin-1
 * JSON files with json-c, independently of dispflow's reader.
 */
#include "dispflow.h"
#include "harness.h"

#include <json-c/json.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define SDN      SHARED_DATA "/sdn/"
#define SDN_ADM2 SDN "boundaries/sdn_admbnda_adm2_cbs_nic_ssa_20200831.json"
#define SDN_CSV2 SDN "dtm_api/global-iom-dtm-from-api-admin2_SDN-rows.csv"
#define SDN_MIX  SDN "dtm_api/global-iom-dtm-from-api-admin-0-to-2_SDN-rows.csv"
#define SDN_J0   SDN "dtm_api/idpadmin0data-getadmin0datav2-admin0pcode-sdn.json"
#define SDN_J1   SDN "dtm_api/idpadmin1data-getadmin1datav2-admin0pcode-sdn.json"
#define TCD      SHARED_DATA "/tcd/"
#define TCD_ADM2 TCD "boundaries/tcd_admbnda_adm2_ocha_20170615.shp"
#define TCD_V2   TCD "dtm_api/idpadmin2data-getadmin2datav2-admin0pcode-tcd.json"
#define TCD_V3   TCD "dtm_api/displacement-admin2-admin0pcode-tcd.json"

static char tmpdir[] = "/tmp/dispflow-countries-XXXXXX";
static char dispflow[512] = "build/dispflow";

/* The log of the last join, for messages the tests look for. */
static char logbuf[1 << 16];
static void keep_log(df_log_level level, const char *msg, void *user)
{
    (void)user;
    if (level < DF_LOG_INFO) return;
    size_t n = strlen(logbuf);
    snprintf(logbuf + n, sizeof logbuf - n, "%s\n", msg);
}

typedef struct {
    const char *records;
    int level;
    df_table_kind kind;
    int32_t as_of;
    const char *operation; /* NULL: none chosen */
    const char *where;     /* NULL: none */
    df_duplicates duplicates;
    int add_assessments;
} run_opts;

static df_join *run(df_ctx *ctx, const df_boundaries *b, const run_opts *r, df_status *status)
{
    df_record_opts ro;
    df_join_opts jo;
    const char *ops[2] = {r->operation, NULL}, *where[2] = {r->where, NULL};
    df_record_opts_init(&ro);
    df_join_opts_init(&jo);
    ro.path = r->records;
    ro.kind = r->kind;
    ro.operations = r->operation ? ops : NULL;
    ro.where = r->where ? where : NULL;
    ro.duplicates = r->duplicates;
    ro.add_assessments = r->add_assessments;
    jo.level = r->level ? r->level : 2;
    jo.as_of = r->as_of;
    df_join *j = NULL;
    logbuf[0] = '\0';
    df_status st = df_join_run(ctx, b, &ro, &jo, &j);
    if (status) *status = st;
    return j;
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

static int64_t total_displaced(const df_join *j, const df_boundaries *b)
{
    int64_t t = 0;
    for (int u = 0; u < df_boundaries_count(b, df_join_level(j)); u++) t += df_join_figures(j, u)->displaced;
    return t;
}

static int32_t day(const char *s)
{
    int32_t d = DF_NO_DATE;
    char ten[11];
    snprintf(ten, sizeof ten, "%s", s);
    df_date_parse(ten, &d);
    return d;
}

static const char *str(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

static int64_t num(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1;
}

static json_object *result(const char *path)
{
    json_object *root = json_object_from_file(path), *r = NULL;
    if (root && json_object_object_get_ex(root, "result", &r)) json_object_get(r); /* ours, the root freed */
    json_object_put(root);
    return r;
}

/* ---- Sudan: operations and levels ------------------------------------------------ */

/* issue 11 trap 1, acceptance: for every (operation, date) of the DTM's
 * national file, a snapshot join of that operation as of that date gives
 * the national figure, and its admin-2 figures added by state give the
 * DTM's admin-1 figures. The mixed admin 0-2 table gives the same figures
 * (no doubling), its coarser rows reported as agreeing. */
TEST(sudan_every_operation_and_date_equals_the_national_and_state_figures)
{
    NEED_FILE(SDN_ADM2);
    NEED_FILE(SDN_CSV2);
    NEED_FILE(SDN_MIX);
    NEED_FILE(SDN_J0);
    NEED_FILE(SDN_J1);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, SDN_ADM2, 0);
    json_object *a0 = result(SDN_J0), *a1 = result(SDN_J1);
    EXPECT(b && a0 && a1);
    if (!b || !a0 || !a1) return;
    int n0 = (int)json_object_array_length(a0), n1 = (int)json_object_array_length(a1), nstates = 0;
    int cases = 0, national_equal = 0, states_equal = 0, states_compared = 0, mixed_equal = 0, snap_right = 0;
    int64_t example = -1;
    for (int i = 0; i < n0; i++) {
        json_object *r0 = json_object_array_get_idx(a0, i);
        const char *op = str(r0, "operation");
        int32_t date = day(str(r0, "reportingDate"));
        int64_t national = num(r0, "numPresentIdpInd");
        run_opts o = {SDN_CSV2, 2, DF_KIND_AUTO, date, op, NULL, 0, 0};
        df_join *j = run(ctx, b, &o, NULL);
        if (!j) {
            HARNESS_FAIL("%s %s: %s", op, str(r0, "reportingDate"), df_ctx_errmsg(ctx));
            continue;
        }
        cases++;
        check_balance(j);
        int64_t sum = total_displaced(j, b);
        national_equal += sum == national;
        if (sum != national)
            HARNESS_FAIL("%s %.10s: %lld, national %lld", op, str(r0, "reportingDate"), (long long)sum,
                         (long long)national);
        snap_right += df_join_operation_count(j) == 1 && df_join_operation(j, 0)->snapshot == date &&
                      !strcmp(df_join_operation(j, 0)->name, op);
        if (!strcmp(op, "Armed Clashes in Sudan") && date == day("2024-04-17")) example = sum;
        /* by state: the DTM's admin-1 rows of the same operation and date */
        for (int k = 0; k < n1; k++) {
            json_object *r1 = json_object_array_get_idx(a1, k);
            if (strcmp(str(r1, "operation"), op) || day(str(r1, "reportingDate")) != date) continue;
            int64_t state = 0;
            for (int u = 0; u < df_boundaries_count(b, 2); u++) {
                const df_unit *un = df_boundaries_unit(b, 2, u);
                if (!strcmp(df_boundaries_unit(b, 1, un->parent)->pcode, str(r1, "admin1Pcode")))
                    state += df_join_figures(j, u)->displaced;
            }
            states_compared++;
            states_equal += state == num(r1, "numPresentIdpInd");
        }
        /* the mixed table: the same figure in every unit */
        o.records = SDN_MIX;
        df_join *m = run(ctx, b, &o, NULL);
        if (m) {
            int same = 1;
            for (int u = 0; u < df_boundaries_count(b, 2); u++)
                same &= df_join_figures(m, u)->displaced == df_join_figures(j, u)->displaced;
            mixed_equal += same;
            check_balance(m);
            df_join_free(m);
        }
        df_join_free(j);
    }
    nstates = n1;
    printf("  %d (operation, date) of the national file: %d equal nationally, %d of %d state figures equal, "
           "%d equal in the mixed table; Armed Clashes 2024-04-17: %lld\n",
           cases, national_equal, states_equal, states_compared, mixed_equal, (long long)example);
    EXPECT_INT(cases, 132);
    EXPECT_INT(national_equal, 132);
    EXPECT_INT(states_compared, nstates); /* every admin-1 row of the DTM compared */
    EXPECT_INT(states_equal, states_compared);
    EXPECT_INT(mixed_equal, 132);
    EXPECT_INT(snap_right, 132);
    EXPECT_INT(example, 6720136);
    json_object_put(a0);
    json_object_put(a1);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* issue 11 trap 2: the mixed table at admin 1 equals the admin-2 table at
 * admin 1, its admin-0 and admin-1 rows are "other level", and the level
 * checks agree on every (operation, date); a national check equals the
 * DTM's national figure. */
TEST(sudan_mixed_levels_counted_once_and_checked)
{
    NEED_FILE(SDN_ADM2);
    NEED_FILE(SDN_MIX);
    NEED_FILE(SDN_CSV2);
    df_ctx *ctx = df_ctx_new();
    df_ctx_set_log(ctx, keep_log, NULL);
    df_boundaries *b = harness_boundaries(ctx, SDN_ADM2, 0);
    if (!b) return;
    static const char *ops[] = {"Armed Clashes in Sudan", "Armed Clashes in Sudan (Monthly)",
                                "Armed Clashes in Sudan (Overview)", "Darfur conflict"};
    static const char *last[] = {"2024-04-17", "2024-04-30", "2024-07-31", "2022-03-30"};
    static const long national_rows[] = {45, 8, 7, 72};
    int checks = 0, agree = 0;
    for (int k = 0; k < 4; k++) {
        for (int level = 1; level <= 2; level++) {
            run_opts o = {SDN_MIX, level, DF_KIND_AUTO, day(last[k]), ops[k], NULL, 0, 0};
            df_join *m = run(ctx, b, &o, NULL);
            EXPECT(strstr(logbuf,
                          "rows of admin level 0 are a check of the admin-2 rows, not counted: they agree on") != NULL);
            o.records = SDN_CSV2;
            df_join *j = run(ctx, b, &o, NULL);
            EXPECT(m && j);
            if (!m || !j) continue;
            int same = 1;
            for (int u = 0; u < df_boundaries_count(b, level); u++)
                same &= df_join_figures(m, u)->displaced == df_join_figures(j, u)->displaced;
            EXPECT(same);
            EXPECT_INT(df_join_rows_level(m), 2);
            check_balance(m);
            /* every row of the other levels is in their bucket */
            const df_balance *bal = df_join_balance(m);
            EXPECT(bal->other_level > 0);
            int national = 0;
            for (int i = 0; i < df_join_level_check_count(m); i++) {
                const df_level_check *c = df_join_level_check(m, i);
                if (strcmp(c->operation, ops[k])) continue;
                checks++, agree += c->differing == 0 && c->stated == c->derived;
                if (c->level == 0 && c->in_period) {
                    national++;
                    EXPECT_INT(c->stated, total_displaced(j, b));
                }
            }
            EXPECT_INT(national, 1);
            if (level == 2) {
                long zero = 0;
                for (int i = 0; i < df_join_level_check_count(m); i++)
                    zero +=
                        df_join_level_check(m, i)->level == 0 && !strcmp(df_join_level_check(m, i)->operation, ops[k]);
                EXPECT_INT(zero, national_rows[k]); /* one check per national row of the operation */
            }
            df_join_free(m);
            df_join_free(j);
        }
    }
    printf("  level checks of the mixed table: %d, %d agree\n", checks, agree);
    EXPECT(checks > 0);
    EXPECT_INT(agree, checks);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* issue 11 trap 1: several operations and none chosen: refused (exit 2),
 * listing the four with their date ranges and rows; the output is not
 * written. A name that is not in the table is refused too. */
TEST(sudan_operations_refused_without_a_choice)
{
    NEED_FILE(SDN_ADM2);
    NEED_FILE(SDN_CSV2);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, SDN_ADM2, 0);
    if (!b) return;
    df_status st;
    run_opts o = {SDN_CSV2, 2, DF_KIND_AUTO, DF_NO_DATE, NULL, NULL, 0, 0};
    df_join *j = run(ctx, b, &o, &st);
    EXPECT(j == NULL);
    EXPECT_INT(df_status_exit_code(st), 2);
    const char *msg = df_ctx_errmsg(ctx);
    EXPECT(strstr(msg, "4 operations") != NULL);
    EXPECT(strstr(msg, "\"Darfur conflict\": 2010-06-30 .. 2022-03-30, 2371 rows") != NULL);
    EXPECT(strstr(msg, "\"Armed Clashes in Sudan\": 2023-04-28 .. 2024-04-17, 6945 rows") != NULL);
    EXPECT(strstr(msg, "\"Armed Clashes in Sudan (Monthly)\": 2023-09-30 .. 2024-04-30, 1395 rows") != NULL);
    EXPECT(strstr(msg, "\"Armed Clashes in Sudan (Overview)\": 2023-08-31 .. 2024-07-31, 1273 rows") != NULL);
    EXPECT(strstr(msg, "--operation") != NULL);
    o.operation = "Armed Clashes";
    j = run(ctx, b, &o, &st);
    EXPECT(j == NULL && st == DF_EINVAL && strstr(df_ctx_errmsg(ctx), "no such operation") != NULL);

    /* the CLI: exit 2, the message, no output */
    char out[300], cmd[1500];
    snprintf(out, sizeof out, "%s/refused.geojson", tmpdir);
    snprintf(cmd, sizeof cmd, "%s join -q --records %s --boundaries %s -o %s 2>%s/refused.txt", dispflow, SDN_CSV2,
             SDN_ADM2, out, tmpdir);
    int rc = system(cmd);
    EXPECT_INT(WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, 2);
    EXPECT(access(out, F_OK) != 0);
    /* --operation all adds them on purpose: each operation's own snapshot */
    o.operation = "all";
    o.as_of = day("2023-12-31");
    j = run(ctx, b, &o, &st);
    EXPECT(j != NULL);
    if (j) {
        int64_t sum = 0;
        for (int i = 0; i < df_join_operation_count(j); i++) sum += df_join_operation(j, i)->individuals;
        EXPECT_INT(total_displaced(j, b), sum);
        EXPECT_INT(df_join_operation_count(j), 4);
        df_join_free(j);
    }
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* issue 11 trap 3: a DTM API table is read as snapshots with no kind given,
 * and says so; a unit not in the round is not assessed (no snapshot date),
 * which is not 0. */
TEST(sudan_dtm_table_is_snapshots_and_unassessed_units_are_told_apart)
{
    NEED_FILE(SDN_ADM2);
    NEED_FILE(SDN_CSV2);
    df_ctx *ctx = df_ctx_new();
    df_ctx_set_log(ctx, keep_log, NULL);
    df_boundaries *b = harness_boundaries(ctx, SDN_ADM2, 0);
    if (!b) return;
    run_opts o = {SDN_CSV2, 2, DF_KIND_AUTO, day("2024-04-17"), "Armed Clashes in Sudan", NULL, 0, 0};
    df_join *j = run(ctx, b, &o, NULL);
    EXPECT(j != NULL);
    if (!j) return;
    EXPECT_INT(df_join_kind(j), DF_SNAPSHOTS);
    EXPECT(strstr(logbuf, "read as snapshots: a DTM API table") != NULL);
    EXPECT(strstr(logbuf, "\"Armed Clashes in Sudan\" snapshot of 2024-04-17") != NULL);
    int assessed = 0, dated = 0;
    for (int u = 0; u < df_boundaries_count(b, 2); u++) {
        const df_figures *f = df_join_figures(j, u);
        assessed += f->assessed;
        dated += f->snapshot == day("2024-04-17");
        if (!f->assessed) EXPECT_INT(f->snapshot, DF_NO_DATE);
    }
    EXPECT_INT(assessed, df_join_balance(j)->matched); /* one row per locality in the round */
    EXPECT_INT(dated, assessed);
    printf("  2024-04-17: %d of %d localities assessed\n", assessed, df_boundaries_count(b, 2));
    df_join_free(j);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* ---- Chad: split rows and assessment types -------------------------------------------- */

/* issue 11 trap 1, acceptance: the v3 table, split by displacement reason,
 * equals the v2 table per department and date wherever both exist. On the
 * dates with two assessment types, both added on purpose; without a choice
 * those dates, and only those, are refused. */
TEST(chad_v3_split_rows_equal_v2)
{
    NEED_FILE(TCD_ADM2);
    NEED_FILE(TCD_V2);
    NEED_FILE(TCD_V3);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, TCD_ADM2, 0);
    json_object *v2 = result(TCD_V2);
    EXPECT(b && v2);
    if (!b || !v2) return;
    int32_t dates[64];
    int ndates = 0;
    for (size_t i = 0; i < json_object_array_length(v2); i++) {
        int32_t d = day(str(json_object_array_get_idx(v2, (int)i), "reportingDate"));
        int k = 0;
        while (k < ndates && dates[k] != d) k++;
        if (k == ndates) dates[ndates++] = d;
    }
    int pairs = 0, equal = 0, refused = 0, refused_v2 = 0, ba_equal = 0;
    for (int k = 0; k < ndates; k++) {
        df_status st;
        run_opts o = {TCD_V3, 2, DF_KIND_AUTO, dates[k], NULL, NULL, 0, 0};
        df_join *j = run(ctx, b, &o, &st); /* no choice */
        if (!j) {
            refused++;
            EXPECT(strstr(df_ctx_errmsg(ctx), "assessment type") != NULL);
        }
        df_join_free(j);
        o.records = TCD_V2;
        j = run(ctx, b, &o, &st);
        refused_v2 += j == NULL;
        df_join_free(j);

        o.add_assessments = 1; /* both types, as DTM's totals do */
        df_join *j2 = run(ctx, b, &o, NULL);
        o.records = TCD_V3;
        df_join *j3 = run(ctx, b, &o, NULL);
        EXPECT(j2 && j3);
        if (!j2 || !j3) continue;
        check_balance(j3);
        /* v2 by department and date from its JSON, independently */
        for (int u = 0; u < df_boundaries_count(b, 2); u++) {
            int64_t want = 0;
            int rows = 0;
            for (size_t i = 0; i < json_object_array_length(v2); i++) {
                json_object *r = json_object_array_get_idx(v2, (int)i);
                const df_unit *un = df_boundaries_unit(b, 2, u);
                if (day(str(r, "reportingDate")) != dates[k] ||
                    (strcmp(str(r, "admin2Pcode"), un->pcode) && strcmp(str(r, "admin2Name"), un->name)))
                    continue;
                want += num(r, "numPresentIdpInd"), rows++;
            }
            if (!rows) continue;
            pairs++;
            equal += df_join_figures(j3, u)->displaced == want && df_join_figures(j2, u)->displaced == want;
        }
        df_join_free(j2);
        df_join_free(j3);
        /* or one type chosen: the BA rows of v3 against the BA rows of v2 */
        run_opts ba = {TCD_V3, 2, DF_KIND_AUTO, dates[k], NULL, "assessment=BA", 0, 0};
        j3 = run(ctx, b, &ba, NULL);
        ba.records = TCD_V2;
        j2 = run(ctx, b, &ba, NULL);
        if (j2 && j3) ba_equal += total_displaced(j2, b) == total_displaced(j3, b);
        df_join_free(j2);
        df_join_free(j3);
    }
    printf("  %d v2 dates: %d (date, department) pairs, %d equal; refused without a choice: v3 %d, v2 %d; BA only "
           "equal on %d dates\n",
           ndates, pairs, equal, refused, refused_v2, ba_equal);
    EXPECT_INT(ndates, 22);
    EXPECT_INT(pairs, 66);
    EXPECT_INT(equal, 66);
    EXPECT_INT(refused, 5);
    EXPECT_INT(refused_v2, 5);
    EXPECT_INT(ba_equal, 22);
    json_object_put(v2);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* ---- rows seen twice, hand-made and the Mosul table doubled ------------------------------ */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

/* Two squares: West (A) and East (B). */
static df_boundaries *squares(df_ctx *ctx)
{
    char shp[300];
    snprintf(shp, sizeof shp, "%s/squares.geojson", tmpdir);
    write_file(shp, "{\"type\":\"FeatureCollection\",\"features\":["
                    "{\"type\":\"Feature\",\"properties\":{\"ADM1_PCODE\":\"A\",\"ADM1_EN\":\"West\"},"
                    "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}},"
                    "{\"type\":\"Feature\",\"properties\":{\"ADM1_PCODE\":\"B\",\"ADM1_EN\":\"East\"},"
                    "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[1,0],[2,0],[2,1],[1,1],[1,0]]]}}]}");
    return harness_boundaries(ctx, shp, 0);
}

/* issue 11 trap 9: exact duplicates warn and count by default in an
 * increment table, with their lines; drop leaves them out; refuse stops. In
 * a snapshot table, a second row of one (place, date) is refused by
 * default, dropped (the first kept) or added on demand. */
TEST(duplicates_reported_with_lines_and_handled_by_policy)
{
    df_ctx *ctx = df_ctx_new();
    df_ctx_set_log(ctx, keep_log, NULL);
    df_boundaries *b = squares(ctx);
    if (!b) return;
    char inc[300], snap[300];
    snprintf(inc, sizeof inc, "%s/dup_inc.csv", tmpdir);
    snprintf(snap, sizeof snap, "%s/dup_snap.csv", tmpdir);
    write_file(inc, "Date,Governorate,Individuals\n"
                    "2020-01-01,West,10\n"
                    "2020-01-02,East,20\n"
                    "2020-01-01,West,10\n"   /* line 4 = line 2 */
                    "2020-01-02,East,20\n"); /* line 5 = line 3 */
    write_file(snap, "Date,Governorate,Individuals\n"
                     "2020-01-01,West,10\n"
                     "2020-01-01,West,12\n" /* a rival of line 2 */
                     "2020-01-01,East,5\n");
    df_status st;
    run_opts o = {inc, 1, DF_INCREMENTS, DF_NO_DATE, NULL, NULL, DF_DUPLICATES_DEFAULT, 0};
    df_join *j = run(ctx, b, &o, &st);
    EXPECT(j != NULL);
    if (j) {
        EXPECT_INT(total_displaced(j, b), 60);
        EXPECT_INT(df_join_balance(j)->read.duplicates, 2);
        EXPECT(strstr(logbuf, "2 rows repeat an earlier row field for field (lines 4 (= line 2), 5 (= line 3))") !=
               NULL);
        df_join_free(j);
    }
    o.duplicates = DF_DUPLICATES_DROP;
    j = run(ctx, b, &o, &st);
    if (j) {
        EXPECT_INT(total_displaced(j, b), 30);
        EXPECT_INT(df_join_balance(j)->filtered, 2);
        check_balance(j);
        df_join_free(j);
    }
    o.duplicates = DF_DUPLICATES_REFUSE;
    j = run(ctx, b, &o, &st);
    EXPECT(j == NULL && st == DF_EINVAL && strstr(df_ctx_errmsg(ctx), "lines 4 (= line 2)") != NULL);

    run_opts s = {snap, 1, DF_SNAPSHOTS, DF_NO_DATE, NULL, NULL, DF_DUPLICATES_DEFAULT, 0};
    j = run(ctx, b, &s, &st);
    EXPECT(j == NULL && st == DF_EINVAL && strstr(df_ctx_errmsg(ctx), "line 3 repeats line 2") != NULL);
    s.duplicates = DF_DUPLICATES_DROP;
    j = run(ctx, b, &s, &st);
    if (j) {
        EXPECT_INT(df_join_figures(j, 0)->displaced, 10); /* the first row */
        check_balance(j);
        df_join_free(j);
    }
    s.duplicates = DF_DUPLICATES_KEEP;
    j = run(ctx, b, &s, &st);
    if (j) {
        EXPECT_INT(df_join_figures(j, 0)->displaced, 22);
        df_join_free(j);
    }
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* issue 12 item 2 (memory): the rival-snapshot and assessment checks hold a
 * bounded number of distinct keys (records.md), so a snapshot table of
 * 100M rows does not need gigabytes. Past the limit rows are compared with
 * the keys held, not added: a rival of a held key is still found, the others
 * cannot be checked, so the table is refused unless --duplicates keep says
 * to add them unchecked. The limit is lowered here. */
extern long df__repeats_max_keys;
TEST(rival_check_bounded)
{
    df_ctx *ctx = df_ctx_new();
    df_ctx_set_log(ctx, keep_log, NULL);
    df_boundaries *b = squares(ctx);
    if (!b) return;
    char path[300];
    snprintf(path, sizeof path, "%s/many_snapshots.csv", tmpdir);
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs("Date,Governorate,Individuals\n", f);
    for (int i = 0; i < 3000; i++) /* 3,000 dates of West: distinct keys */
        fprintf(f, "%04d-%02d-%02d,West,%d\n", 2000 + i / 300, 1 + i / 25 % 12, 1 + i % 25, 10 + i);
    fputs("2000-01-01,West,99\n", f); /* line 3002: a rival of line 2, a key held (a date not counted) */
    fputs("2009-12-25,West,98\n", f); /* line 3003: a rival of line 3001 (the last date, counted) */
    fclose(f);
    df_status st;
    run_opts s = {path, 1, DF_SNAPSHOTS, DF_NO_DATE, NULL, NULL, DF_DUPLICATES_DEFAULT, 0};
    df_join *j = run(ctx, b, &s, &st); /* every key held: the rival found */
    EXPECT(j == NULL && st == DF_EINVAL && strstr(df_ctx_errmsg(ctx), "line 3003 repeats line 3001") != NULL);
    long saved = df__repeats_max_keys;
    df__repeats_max_keys = 1000;
    j = run(ctx, b, &s, &st);
    EXPECT(j == NULL && st == DF_EINVAL);
    EXPECT(strstr(df_ctx_errmsg(ctx), "2001 rows could not be checked for rival snapshots: they come after the first "
                                      "1000 distinct") != NULL);
    EXPECT(strstr(df_ctx_errmsg(ctx), "--duplicates keep") != NULL);
    s.duplicates = DF_DUPLICATES_KEEP; /* added unchecked, and said */
    j = run(ctx, b, &s, &st);
    EXPECT(j != NULL);
    EXPECT(strstr(logbuf, "2001 rows past the first 1000 keys not checked for rival snapshots") != NULL);
    EXPECT(strstr(logbuf, "1 rows repeat the snapshot of a place (0 on the dates counted)") != NULL); /* line 3002 */
    df_join_free(j);
    df__repeats_max_keys = saved;
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* issue 11 trap 9: the Mosul Emergency Tracking table appended to itself:
 * every row of the second copy is reported; with drop, the figures are the
 * single table's. */
TEST(mosul_table_appended_to_itself)
{
    const char *et = SHARED_DATA "/synthetic_et_mosul/records.csv";
    const char *adm2 = SHARED_DATA "/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm2_cso_20190603.shp";
    NEED_FILE(et);
    NEED_FILE(adm2);
    char twice[300], cmd[800];
    snprintf(twice, sizeof twice, "%s/twice.csv", tmpdir);
    snprintf(cmd, sizeof cmd, "cat %s > %s && tail -n +2 %s >> %s", et, twice, et, twice);
    EXPECT_INT(system(cmd), 0);
    df_ctx *ctx = df_ctx_new();
    df_ctx_set_log(ctx, keep_log, NULL);
    df_boundaries *b = harness_boundaries(ctx, adm2, 1);
    if (!b) return;
    run_opts o = {et, 2, DF_INCREMENTS, DF_NO_DATE, NULL, NULL, 0, 0};
    df_join *one = run(ctx, b, &o, NULL);
    o.records = twice;
    df_join *two = run(ctx, b, &o, NULL);
    o.duplicates = DF_DUPLICATES_DROP;
    df_join *dropped = run(ctx, b, &o, NULL);
    EXPECT(one && two && dropped);
    if (one && two && dropped) {
        long rows = df_join_balance(one)->read.valid; /* rejected rows are not compared */
        EXPECT_INT(df_join_balance(one)->read.duplicates, 0);
        EXPECT_INT(df_join_balance(two)->read.duplicates, rows);
        EXPECT_INT(total_displaced(two, b), 2 * total_displaced(one, b)); /* kept, with a warning */
        EXPECT_INT(total_displaced(dropped, b), total_displaced(one, b));
        check_balance(dropped);
        printf("  %ld rows twice: %ld duplicates; displaced %lld kept, %lld dropped\n", rows,
               df_join_balance(two)->read.duplicates, (long long)total_displaced(two, b),
               (long long)total_displaced(dropped, b));
    }
    df_join_free(one);
    df_join_free(two);
    df_join_free(dropped);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* issue 11 trap 3: a table that is not a DTM API table, no kind given,
 * whose units repeat on several dates: read as increments with a warning
 * that gives both readings' totals. */
TEST(no_kind_given_warns_with_both_totals)
{
    df_ctx *ctx = df_ctx_new();
    df_ctx_set_log(ctx, keep_log, NULL);
    df_boundaries *b = squares(ctx);
    if (!b) return;
    char rec[300];
    snprintf(rec, sizeof rec, "%s/nokind.csv", tmpdir);
    write_file(rec, "Date,Governorate,Individuals\n"
                    "2020-01-01,West,100\n"
                    "2020-02-01,West,150\n"
                    "2020-02-01,East,7\n");
    run_opts o = {rec, 1, DF_KIND_AUTO, DF_NO_DATE, NULL, NULL, 0, 0};
    df_join *j = run(ctx, b, &o, NULL);
    EXPECT(j != NULL);
    if (j) {
        EXPECT_INT(df_join_kind(j), DF_INCREMENTS);
        EXPECT_INT(total_displaced(j, b), 257);
        EXPECT(strstr(logbuf, "read as increments (rows added up), 257 displaced") != NULL);
        EXPECT(strstr(logbuf, "it would be 157") != NULL);
        df_join_free(j);
    }
    o.kind = DF_INCREMENTS; /* said: no warning */
    j = run(ctx, b, &o, NULL);
    EXPECT(strstr(logbuf, "no kind given") == NULL);
    df_join_free(j);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* issue 11 trap 1: --where keeps the rows whose column holds one of the
 * values; the others are counted as filtered. */
TEST(where_filters_rows)
{
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = squares(ctx);
    if (!b) return;
    char rec[300];
    snprintf(rec, sizeof rec, "%s/where.csv", tmpdir);
    write_file(rec, "Date,Governorate,Individuals,Reason\n"
                    "2020-01-01,West,1,Conflict\n"
                    "2020-01-01,West,10,Flood\n"
                    "2020-01-01,East,100,conflict\n"
                    "2020-01-01,East,1000,Other\n");
    run_opts o = {rec, 1, DF_INCREMENTS, DF_NO_DATE, NULL, "Reason=Conflict, flood", 0, 0};
    df_status st;
    df_join *j = run(ctx, b, &o, NULL);
    EXPECT(j != NULL);
    if (j) {
        EXPECT_INT(total_displaced(j, b), 111);
        EXPECT_INT(df_join_balance(j)->filtered, 1);
        check_balance(j);
        df_join_free(j);
    }
    o.where = "Reason=Drought"; /* nothing left: an empty result is not a success */
    j = run(ctx, b, &o, &st);
    EXPECT(j == NULL && st == DF_EINVAL &&
           strstr(df_ctx_errmsg(ctx), "no row is left by --operation and --where (4 rows") != NULL);
    o.where = "Cause=Conflict";
    j = run(ctx, b, &o, &st);
    EXPECT(j == NULL && st == DF_ESCHEMA && strstr(df_ctx_errmsg(ctx), "no column named \"Cause\"") != NULL);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* issue 11 trap 1 in a job: [records] operation chooses; the sitrep's key
 * figure is the national figure of that operation and date; without the
 * key, the run is refused (exit 2) and the previous bundle is untouched. */
TEST(sudan_job_with_an_operation)
{
    NEED_FILE(SDN_ADM2);
    NEED_FILE(SDN_MIX);
    char ini[300], cmd[900], sitrep[400], text[1 << 16];
    snprintf(ini, sizeof ini, "%s/sdn.ini", tmpdir);
    for (int pass = 0; pass < 2; pass++) {
        FILE *f = fopen(ini, "w");
        char cwd[300];
        if (!f || !getcwd(cwd, sizeof cwd)) return;
        fprintf(f,
                "[job]\ntitle = Sudan\noutput = %s/bundle\nas_of = 2024-04-17\n[records]\npath = %s/%s\n%s"
                "[boundaries]\nadm2 = %s/%s\nshipped_aliases = no\n",
                tmpdir, cwd, SDN_MIX, pass == 0 ? "operation = Armed Clashes in Sudan\nwhere = assessment=BA\n" : "",
                cwd, SDN_ADM2);
        fclose(f);
        snprintf(cmd, sizeof cmd, "%s run %s 2>%s/run.txt", dispflow, ini, tmpdir);
        int rc = system(cmd);
        EXPECT_INT(WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, pass == 0 ? 0 : 2);
        if (pass == 0) { /* issue 11 trap 10: no origins, no coordinates: flows and density skipped, said */
            char log[300], tif[300];
            snprintf(log, sizeof log, "%s/run.txt", tmpdir);
            FILE *lf = fopen(log, "r");
            size_t ln = lf ? fread(text, 1, sizeof text - 1, lf) : 0;
            text[ln] = '\0';
            if (lf) fclose(lf);
            EXPECT(strstr(text, "no record states an origin: flows skipped") != NULL);
            EXPECT(strstr(text, "no record has coordinates: density needs points; skipped") != NULL);
            snprintf(tif, sizeof tif, "%s/bundle/density_displaced.tif", tmpdir);
            EXPECT(access(tif, F_OK) != 0);
            /* the manifest says which date of which operation */
            snprintf(log, sizeof log, "%s/bundle/manifest.json", tmpdir);
            lf = fopen(log, "r");
            ln = lf ? fread(text, 1, sizeof text - 1, lf) : 0;
            text[ln] = '\0';
            if (lf) fclose(lf);
            EXPECT(strstr(text, "\"snapshot\":\"2024-04-17\"") != NULL);
        }
        snprintf(sitrep, sizeof sitrep, "%s/bundle/sitrep.md", tmpdir);
        f = fopen(sitrep, "r");
        EXPECT(f != NULL);
        if (!f) return;
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = '\0';
        fclose(f);
        /* the first run's bundle, still there after the refused one */
        EXPECT(strstr(text, "| Displaced, present on 17 Apr 2024 | 6,720,136 |") != NULL);
    }
}

/* issue 11 trap 8: DTM origin columns are found; "Not available" is an
 * unknown origin, counted as such; an --origins unit finer than the
 * origins the table states is an error, not 0 flows. */
TEST(dtm_origins_and_unknown_origins)
{
    df_ctx *ctx = df_ctx_new();
    char shp[300], rec[300];
    snprintf(shp, sizeof shp, "%s/districts.geojson", tmpdir);
    snprintf(rec, sizeof rec, "%s/origins.json", tmpdir);
    /* governorate G: districts G1 (west) and G2 (east) */
    write_file(shp, "{\"type\":\"FeatureCollection\",\"features\":["
                    "{\"type\":\"Feature\",\"properties\":{\"ADM2_PCODE\":\"G1\",\"ADM2_EN\":\"West\","
                    "\"ADM1_PCODE\":\"G\",\"ADM1_EN\":\"Gov\"},"
                    "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}},"
                    "{\"type\":\"Feature\",\"properties\":{\"ADM2_PCODE\":\"G2\",\"ADM2_EN\":\"East\","
                    "\"ADM1_PCODE\":\"G\",\"ADM1_EN\":\"Gov\"},"
                    "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[1,0],[2,0],[2,1],[1,1],[1,0]]]}}]}");
    write_file(rec, "{\"result\": ["
                    "{\"admin2Pcode\": \"G1\", \"numPresentIdpInd\": 10, \"reportingDate\": \"2020-01-31T00:00:00\","
                    " \"idpOriginAdmin1Name\": \"Gov\", \"idpOriginAdmin1Pcode\": \"G\"},"
                    "{\"admin2Pcode\": \"G2\", \"numPresentIdpInd\": 20, \"reportingDate\": \"2020-01-31T00:00:00\","
                    " \"idpOriginAdmin1Name\": \"Not available\", \"idpOriginAdmin1Pcode\": \"Not available\"}]}");
    df_boundaries *b = harness_boundaries(ctx, shp, 0);
    if (!b) return;
    df_record_opts ro;
    df_flow_opts fo;
    df_flows *f = NULL;
    df_record_opts_init(&ro);
    df_flow_opts_init(&fo);
    ro.path = rec;
    fo.origin_level = 1;
    fo.dest_level = 2;
    fo.kind = DF_SNAPSHOTS;
    EXPECT_INT(df_flows_run(ctx, b, &ro, &fo, &f), DF_OK);
    if (f) {
        EXPECT_INT(df_flows_balance(f)->counted, 1);
        EXPECT_INT(df_flows_balance(f)->no_origin, 1); /* "Not available": unknown, not an unmatched name */
        EXPECT_INT(df_flows_count(f), 1);
        EXPECT_INT(df_flows_get(f, 0)->individuals, 10);
        df_flows_free(f);
    }
    fo.origins = "G1"; /* a district, but the table states governorates of origin */
    df_status st = df_flows_run(ctx, b, &ro, &fo, &f);
    EXPECT_INT(st, DF_EINVAL);
    EXPECT(strstr(df_ctx_errmsg(ctx), "finer than --origin-level adm1") != NULL);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* issue 11 trap 10: density on a table without coordinates is refused with
 * the reason, not an all-zero raster. */
TEST(density_needs_points)
{
    NEED_FILE(SDN_CSV2);
    df_ctx *ctx = df_ctx_new();
    df_record_opts ro;
    df_density_opts o;
    df_density *d = NULL;
    const char *ops[] = {"Darfur conflict", NULL};
    df_record_opts_init(&ro);
    df_density_opts_init(&o);
    ro.path = SDN_CSV2;
    ro.operations = ops;
    o.radius = 50000, o.pixel = 10000, o.t_srs = "EPSG:32635";
    EXPECT_INT(df_density_run(ctx, &ro, NULL, &o, &d), DF_EINVAL);
    EXPECT(strstr(df_ctx_errmsg(ctx), "no record has coordinates: density needs points (or use --choropleth)") != NULL);
    df_density_free(d);
    df_ctx_free(ctx);
}

/* Density of a snapshot table through the library: the weight spread, or
 * -1 with the status in *st. */
static double density_weight(df_ctx *ctx, const char *path, const char *operation, int32_t as_of, df_status *st)
{
    df_record_opts ro;
    df_density_opts o;
    df_density *d = NULL;
    const char *ops[] = {operation, NULL};
    df_record_opts_init(&ro);
    df_density_opts_init(&o);
    ro.path = path;
    ro.operations = operation ? ops : NULL;
    o.radius = 20000, o.pixel = 10000, o.t_srs = "EPSG:32631", o.as_of = as_of;
    *st = df_density_run(ctx, &ro, NULL, &o, &d);
    double w = d ? df_density_get_info(d)->total_weight : -1;
    df_density_free(d);
    return w;
}

/* issue 11 item 1 (density): a snapshot table of two operations that
 * interleave in time: density takes, per operation, its latest snapshot on
 * or before as-of, as the join does (not the single latest date), and
 * refuses what the join refuses: several operations and none chosen, rival
 * snapshots, two assessment types of one place and date. */
TEST(density_snapshots_per_operation_as_the_join)
{
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = squares(ctx);
    if (!b) return;
    char rec[300], rival[300], types[300];
    snprintf(rec, sizeof rec, "%s/snap_ops.csv", tmpdir);
    snprintf(rival, sizeof rival, "%s/snap_rival.csv", tmpdir);
    snprintf(types, sizeof types, "%s/snap_types.csv", tmpdir);
    const char *head = "reportingDate,operation,admin1Name,latitude,longitude,numPresentIdpInd\n";
    const char *rows = "2020-01-01,A,West,0.5,0.5,10\n"
                       "2020-01-01,A,East,0.5,1.5,20\n"
                       "2020-01-05,B,West,0.4,0.4,100\n"
                       "2020-01-05,B,East,0.4,1.4,200\n"
                       "2020-01-10,A,West,0.5,0.5,30\n"
                       "2020-01-20,B,East,0.4,1.4,7\n";
    char text[1000];
    snprintf(text, sizeof text, "%s%s", head, rows);
    write_file(rec, text);
    snprintf(text, sizeof text, "%s%s2020-01-10,A,West,0.5,0.5,31\n", head, rows); /* line 8 rivals line 6 */
    write_file(rival, text);
    write_file(types, "reportingDate,operation,admin1Name,latitude,longitude,numPresentIdpInd,assessmentType\n"
                      "2020-01-10,A,West,0.5,0.5,30,BA\n"
                      "2020-01-10,A,West,0.5,0.5,30,SA\n");
    df_status st;
    int32_t mid = day("2020-01-15");
    const char *choices[] = {"all", "A", "B"};
    for (int c = 0; c < 3; c++) {
        run_opts o = {rec, 1, DF_KIND_AUTO, mid, choices[c], NULL, 0, 0};
        df_join *j = run(ctx, b, &o, &st);
        EXPECT(j != NULL);
        if (!j) continue;
        double w = density_weight(ctx, rec, choices[c], mid, &st);
        EXPECT_INT(st, DF_OK);
        EXPECT_INT((int64_t)w, total_displaced(j, b)); /* A: 30 (Jan 10), B: 300 (Jan 5), all: 330 */
        EXPECT_INT((int64_t)w, c == 0 ? 330 : c == 1 ? 30 : 300);
        df_join_free(j);
    }
    EXPECT_INT((int64_t)density_weight(ctx, rec, "B", DF_NO_DATE, &st), 7); /* B's latest, Jan 20 */
    EXPECT(density_weight(ctx, rec, NULL, mid, &st) < 0);
    EXPECT(st == DF_EINVAL && strstr(df_ctx_errmsg(ctx), "the table holds 2 operations") != NULL);
    EXPECT(density_weight(ctx, rival, "A", mid, &st) < 0);
    EXPECT(st == DF_EINVAL && strstr(df_ctx_errmsg(ctx), "line 8 repeats line 6 (A 2020-01-10)") != NULL);
    EXPECT_INT((int64_t)density_weight(ctx, rival, "B", mid, &st), 300); /* A's rivals are not counted */
    EXPECT(density_weight(ctx, types, "A", mid, &st) < 0);
    EXPECT(st == DF_EINVAL && strstr(df_ctx_errmsg(ctx), "second assessment type") != NULL &&
           strstr(df_ctx_errmsg(ctx), "--where assessment=TYPE") != NULL);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* Flows of a snapshot table through the library: the individuals of all
 * its flows (the changes between rounds add up to the last round), or -1
 * with the status in *st. */
static int64_t flows_total(df_ctx *ctx, const df_boundaries *b, const char *path, const char *operation, int32_t to,
                           df_status *st)
{
    df_record_opts ro;
    df_flow_opts o;
    df_flows *f = NULL;
    const char *ops[] = {operation, NULL};
    df_record_opts_init(&ro);
    df_flow_opts_init(&o);
    ro.path = path;
    ro.operations = operation ? ops : NULL;
    o.origin_level = o.dest_level = 1, o.to = to;
    *st = df_flows_run(ctx, b, &ro, &o, &f);
    int64_t sum = f ? 0 : -1;
    for (int i = 0; f && i < df_flows_count(f); i++) sum += df_flows_get(f, i)->individuals;
    df_flows_free(f);
    return sum;
}

/* issue 11 item 1 (flows): a snapshot table with origins and two
 * operations: flows follow one operation (its changes add up to the join's
 * figure of that operation as of the end of the period), refuse several
 * operations (none chosen, or all: their rounds interleave), and refuse
 * rival snapshots as the join does; rows of other origins are splits. */
TEST(flows_snapshots_of_one_operation_as_the_join)
{
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = squares(ctx);
    if (!b) return;
    char rec[300], rival[300];
    snprintf(rec, sizeof rec, "%s/flow_ops.csv", tmpdir);
    snprintf(rival, sizeof rival, "%s/flow_rival.csv", tmpdir);
    const char *head = "reportingDate,operation,admin1Name,idpOriginAdmin1Name,numPresentIdpInd\n";
    const char *rows = "2020-01-01,A,West,East,10\n"
                       "2020-01-01,A,West,West,4\n" /* another origin: a split, not a rival */
                       "2020-01-01,A,East,West,20\n"
                       "2020-01-05,B,West,East,100\n"
                       "2020-01-05,B,East,West,200\n"
                       "2020-01-10,A,West,East,30\n"
                       "2020-01-20,B,East,West,7\n";
    char text[1000];
    snprintf(text, sizeof text, "%s%s", head, rows);
    write_file(rec, text);
    snprintf(text, sizeof text, "%s%s2020-01-05,B,East,West,201\n", head, rows); /* line 9 rivals line 6 */
    write_file(rival, text);
    df_status st;
    int32_t mid = day("2020-01-15");
    const char *choices[] = {"A", "B"};
    for (int c = 0; c < 2; c++) {
        run_opts o = {rec, 1, DF_KIND_AUTO, mid, choices[c], NULL, 0, 0};
        df_join *j = run(ctx, b, &o, &st);
        EXPECT(j != NULL);
        if (!j) continue;
        int64_t sum = flows_total(ctx, b, rec, choices[c], mid, &st);
        EXPECT_INT(st, DF_OK);
        EXPECT_INT(sum, total_displaced(j, b)); /* A: 30 on Jan 10; B: 300 on Jan 5 */
        EXPECT_INT(sum, c == 0 ? 30 : 300);
        df_join_free(j);
    }
    EXPECT_INT(flows_total(ctx, b, rec, NULL, mid, &st), -1);
    EXPECT(st == DF_EINVAL && strstr(df_ctx_errmsg(ctx), "the table holds 2 operations") != NULL);
    EXPECT_INT(flows_total(ctx, b, rec, "all", mid, &st), -1);
    EXPECT(st == DF_EINVAL && strstr(df_ctx_errmsg(ctx), "the changes between the rounds of one operation") != NULL &&
           strstr(df_ctx_errmsg(ctx), "\"A\", \"B\"") != NULL);
    EXPECT_INT(flows_total(ctx, b, rival, "B", mid, &st), -1);
    EXPECT(st == DF_EINVAL && strstr(df_ctx_errmsg(ctx), "line 9 repeats line 6 (B 2020-01-05)") != NULL);
    run_opts o = {rival, 1, DF_KIND_AUTO, mid, "B", NULL, 0, 0}; /* the join refuses the same rows */
    EXPECT(run(ctx, b, &o, &st) == NULL && st == DF_EINVAL);
    EXPECT_INT(flows_total(ctx, b, rival, "A", mid, &st), 30); /* B's rivals are not counted */
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* issue 11 item 2: Sudan's table on Iraq's sub-districts matched 529 rows
 * by fuzzy names although none of its P-codes is in the layer: refused
 * (exit 2) with the prefixes found on each side, and no output written. */
TEST(records_of_another_country_refused)
{
    const char *irq3 = SHARED_DATA "/boundaries/irq_cod_ab_20190603_geojson/irq_admbnda_adm3_cso_20190603.geojson";
    NEED_FILE(SDN_CSV2);
    NEED_FILE(irq3);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, irq3, 0);
    if (!b) return;
    df_status st;
    run_opts o = {SDN_CSV2, 3, DF_KIND_AUTO, DF_NO_DATE, "Armed Clashes in Sudan", NULL, 0, 0};
    df_join *j = run(ctx, b, &o, &st);
    EXPECT(j == NULL);
    EXPECT_INT(df_status_exit_code(st), 2);
    const char *msg = df_ctx_errmsg(ctx);
    EXPECT(strstr(msg, "the records look like another country's: 0 of their 6945 rows with P-codes") != NULL);
    EXPECT(strstr(msg, "begin SD (6945 rows), the layer's IQ (294 units)") != NULL);
    df_join_free(j);
    df_boundaries_free(b);

    char out[300], cmd[1500];
    snprintf(out, sizeof out, "%s/another_country.geojson", tmpdir);
    snprintf(cmd, sizeof cmd,
             "%s join -q --records %s --boundaries %s --level adm3 --operation 'Armed Clashes in Sudan' -o %s "
             "2>%s/another_country.txt",
             dispflow, SDN_CSV2, irq3, out, tmpdir);
    int rc = system(cmd);
    EXPECT_INT(WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, 2);
    EXPECT(access(out, F_OK) != 0);

    /* the same table on its own country's layer is joined (P-codes found) */
    b = harness_boundaries(ctx, SDN_ADM2, 0);
    if (b) {
        o.level = 2;
        j = run(ctx, b, &o, &st);
        EXPECT(j != NULL && df_join_balance(j)->matched_by_pcode > 0);
        df_join_free(j);
        df_boundaries_free(b);
    }
    df_ctx_free(ctx);
}

/* issue 11 trap 9: a file large enough to be read on all cores finds the
 * duplicates of rows read by other threads, with their true lines. */
TEST(duplicates_found_across_a_parallel_read)
{
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = squares(ctx);
    if (!b) return;
    char rec[300];
    snprintf(rec, sizeof rec, "%s/big.csv", tmpdir);
    FILE *f = fopen(rec, "w");
    if (!f) return;
    fputs("Date,Governorate,Individuals,Note\n", f);
    long rows = 300000; /* about 12 MB: over the 8 MB of a parallel read */
    for (long i = 0; i < rows; i++)
        fprintf(f, "2020-01-%02ld,%s,%ld,row number %ld of a large table\n", 1 + i % 28, i % 2 ? "East" : "West",
                1 + i % 7, i);
    fputs("2020-01-01,West,1,row number 0 of a large table\n", f); /* = line 2 */
    fputs("2020-01-02,East,2,row number 1 of a large table\n", f); /* = line 3 */
    fclose(f);
    run_opts o = {rec, 1, DF_INCREMENTS, DF_NO_DATE, NULL, NULL, 0, 0};
    df_join *j = run(ctx, b, &o, NULL);
    EXPECT(j != NULL);
    if (j) {
        const df_read_stats *rd = &df_join_balance(j)->read;
        EXPECT_INT(rd->duplicates, 2);
        long want[2][2] = {{rows + 2, 2}, {rows + 3, 3}};
        int found = 0;
        for (int i = 0; i < 2; i++)
            for (int k = 0; k < 2; k++)
                found += rd->duplicate_line[i][0] == want[k][0] && rd->duplicate_line[i][1] == want[k][1];
        EXPECT_INT(found, 2);
        df_join_free(j);
    }
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    harness_cli_path(argc, argv, dispflow, sizeof dispflow);
    if (!mkdtemp(tmpdir)) return 1;
    RUN(sudan_every_operation_and_date_equals_the_national_and_state_figures);
    RUN(sudan_mixed_levels_counted_once_and_checked);
    RUN(sudan_operations_refused_without_a_choice);
    RUN(sudan_dtm_table_is_snapshots_and_unassessed_units_are_told_apart);
    RUN(chad_v3_split_rows_equal_v2);
    RUN(duplicates_reported_with_lines_and_handled_by_policy);
    RUN(rival_check_bounded);
    RUN(mosul_table_appended_to_itself);
    RUN(no_kind_given_warns_with_both_totals);
    RUN(where_filters_rows);
    RUN(sudan_job_with_an_operation);
    RUN(dtm_origins_and_unknown_origins);
    RUN(density_needs_points);
    RUN(density_snapshots_per_operation_as_the_join);
    RUN(flows_snapshots_of_one_operation_as_the_join);
    RUN(records_of_another_country_refused);
    RUN(duplicates_found_across_a_parallel_read);
    harness_remove_dir(tmpdir);
    return harness_done();
}
