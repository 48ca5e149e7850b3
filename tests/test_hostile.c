/*
 * test_hostile.c — hostile input (issue 7): the bad-input corpus in
 * tests/bad/ and the fuzzing regressions in tests/fuzz/.
 *
 * Every case states the exact outcome: the exit code of the CLI (the status
 * table of include/dispflow.h), what the message names (file, line or
 * feature, field), and, on failure, that no output and no temporary file is
 * left behind and that a previous output is untouched. Rejected rows are
 * checked through the library, where each rejection carries its line, column,
 * reason and value. docs/robustness.md lists the cases and what they yield.
 *
 * Each case asserts the behaviour dispflow should have (the gaps this
 * corpus found are fixed; docs/robustness.md tells which).
 */
#include "dispflow.h"
#include "harness.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <gdal.h>
#include <ogr_api.h>

/* the fuzz harnesses, without their libFuzzer entry points: replayed below */
#define DF_FUZZ_NO_ENTRY
#include "fuzz/fuzz_fields.c"
#include "fuzz/fuzz_job.c"
#include "fuzz/fuzz_names.c"
#include "fuzz/fuzz_records.c"

#define BAD   "tests/bad/"
#define UNITS BAD "units.geojson"

static char tmpdir[] = "/tmp/dispflow-hostile-XXXXXX";
static char out[1 << 16];
static char dispflow[512] = "build/dispflow"; /* beside this test's folder: BUILD/dispflow */
static const char previous[] = "previous output\n";

/* Run the command line (stdout and stderr into out); its exit code. */
static int run(const char *args) { return harness_run_cli(dispflow, args, out, sizeof out); }

static int sh(const char *cmd) { return system(cmd); }

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* The whole file as a string (static buffer), or "" when absent. */
static const char *slurp(const char *path)
{
    static char buf[1 << 16];
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = '\0';
    if (f) fclose(f);
    return buf;
}

/* Temporary files left in tmpdir (".<base>.tmp-<pid>-<n><ext>", atomic.c). */
static int leftovers(void)
{
    int n = 0;
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (e->d_name[0] == '.' && strstr(e->d_name, ".tmp-")) n++;
    if (d) closedir(d);
    return n;
}

/* A join that must fail: the exit code, the message names `names` (and
 * `also` when not NULL), the previous output is untouched, no temp file. */
static void join_fails(const char *records, const char *boundaries, int want_exit, const char *names, const char *also)
{
    char args[2048], outp[512], logp[512];
    snprintf(outp, sizeof outp, "%s/fail.geojson", tmpdir);
    snprintf(logp, sizeof logp, "%s/fail-log.csv", tmpdir);
    write_text(outp, previous);
    remove(logp);
    snprintf(args, sizeof args, "join --records %s --boundaries %s --level adm1 -o %s --log %s", records, boundaries,
             outp, logp);
    EXPECT_INT(run(args), want_exit);
    if (!strstr(out, names)) HARNESS_FAIL("message \"%s\" should name %s", out, names);
    if (also && !strstr(out, also)) HARNESS_FAIL("message \"%s\" should say %s", out, also);
    EXPECT_STR(slurp(outp), previous);
    EXPECT_INT(access(logp, F_OK), -1); /* no decision log of a failed run */
    EXPECT_INT(leftovers(), 0);
}

/* A join that must succeed, to CSV: returns the output's text (a previous
 * output is replaced, no temp file is left); the messages are in `out`. */
static const char *join_ok(const char *records, const char *boundaries)
{
    static char result[1 << 15];
    char args[2048], outp[512];
    snprintf(outp, sizeof outp, "%s/ok.csv", tmpdir);
    write_text(outp, previous);
    snprintf(args, sizeof args, "join --records %s --boundaries %s --level adm1 -o %s", records, boundaries, outp);
    EXPECT_INT(run(args), 0);
    snprintf(result, sizeof result, "%s", slurp(outp));
    EXPECT(strcmp(result, previous) != 0);
    EXPECT_INT(leftovers(), 0);
    return result;
}

/* Read a records file through the library; the rejections as
 * "line:column:reason:detail|..." and the stats. */
static char rejections[4096];

static int count_record(const df_record *r, void *user)
{
    (void)r;
    (*(long *)user)++;
    return 0;
}

static void collect_reject(const df_rejection *rj, void *user)
{
    (void)user;
    size_t n = strlen(rejections);
    snprintf(rejections + n, sizeof rejections - n, "%s%ld:%s:%s:%s", n ? "|" : "", rj->line, rj->column,
             df_reject_name(rj->reason), rj->detail);
}

static df_status read_records(const char *path, df_read_stats *st)
{
    df_ctx *ctx = df_ctx_new();
    df_record_opts o;
    long valid = 0;
    df_record_opts_init(&o);
    o.path = path;
    rejections[0] = '\0';
    df_status s = df_records_read(ctx, &o, count_record, collect_reject, &valid, st);
    if (s == DF_OK) EXPECT_INT(valid, st->valid);
    if (s == DF_OK) EXPECT_INT(st->rows, st->valid + st->rejected);
    df_ctx_free(ctx);
    return s;
}

/* ---- malformed CSV: the file fails as a whole ------------------------------ */

TEST(unterminated_quote)
{
    /* names the file, the line the record starts on and the field */
    join_fails(BAD "unterminated_quote.csv", UNITS, df_status_exit_code(DF_EFORMAT),
               "unterminated_quote.csv:3:", "field 3: unterminated quoted field");
}

TEST(empty_file)
{
    join_fails(BAD "empty.csv", UNITS, df_status_exit_code(DF_EFORMAT), "empty.csv", "the file is empty");
}

TEST(no_count_column)
{
    join_fails(BAD "no_count_column.csv", UNITS, df_status_exit_code(DF_ESCHEMA), "no_count_column.csv",
               "no count column");
}

TEST(header_only)
{
    /* a table with no data rows joins (all figures 0, never NULL) and warns */
    df_read_stats st;
    EXPECT_INT(read_records(BAD "header_only.csv", &st), DF_OK);
    EXPECT_INT(st.rows, 0);
    const char *csv = join_ok(BAD "header_only.csv", UNITS);
    EXPECT(strstr(csv, "IQG01,Alpha,,0,0,0,0,0,0,") != NULL);
    EXPECT(strstr(out, "balance: 0 + 0 + 0 + 0 + 0 + 0 = 0 = 0 rows read") != NULL);
    EXPECT(strstr(out, "header_only.csv: no data rows") != NULL);
}

/* ---- bad rows: rejected with line, column, reason, value; the rest counted -- */

TEST(ragged_rows)
{
    df_read_stats st;
    EXPECT_INT(read_records(BAD "ragged_rows.csv", &st), DF_OK);
    EXPECT_STR(rejections, "3:(row):ragged-row:4 fields where the header has 5|"
                           "4:(row):ragged-row:6 fields where the header has 5");
    EXPECT_INT(st.valid, 2);
    EXPECT_INT(st.rejected_by[DF_REJECT_RAGGED_ROW], 2);
    /* the CLI prints the counts by reason, and the first rejected rows with
     * file:line, column, reason and value */
    join_ok(BAD "ragged_rows.csv", UNITS);
    EXPECT(strstr(out, "rejected              2  (ragged-row 2)") != NULL);
    EXPECT(strstr(out, "ragged_rows.csv:3: (row): ragged-row \"4 fields where the header has 5\"") != NULL);
}

TEST(nul_bytes)
{
    df_read_stats st;
    EXPECT_INT(read_records(BAD "nul_byte.csv", &st), DF_OK);
    /* a NUL byte is bad-encoding wherever it stands, counts included */
    EXPECT_STR(rejections, "3:Governorate:bad-encoding:not UTF-8 text (or a NUL byte)|"
                           "4:Individuals:bad-encoding:a NUL byte in a count");
    EXPECT_INT(st.valid, 1);
}

TEST(invalid_utf8_name)
{
    df_read_stats st;
    EXPECT_INT(read_records(BAD "invalid_utf8_name.csv", &st), DF_OK);
    EXPECT_STR(rejections, "3:Governorate:bad-encoding:not UTF-8 text (or a NUL byte)");
    EXPECT_INT(st.valid, 1);
}

TEST(windows_1256_file)
{
    /* a file none of whose rows is UTF-8 fails as a whole (exit 5), says so
     * and how to convert it; every row was still rejected with its line */
    df_read_stats st;
    EXPECT_INT(read_records(BAD "windows1256.csv", &st), DF_EFORMAT);
    EXPECT_STR(rejections, "2:Governorate:bad-encoding:not UTF-8 text (or a NUL byte)|"
                           "3:Governorate:bad-encoding:not UTF-8 text (or a NUL byte)");
    join_fails(BAD "windows1256.csv", UNITS, df_status_exit_code(DF_EFORMAT), "windows1256.csv",
               "iconv -f CP1256 -t UTF-8");
}

TEST(counts_over_32_bits_are_accepted)
{
    df_read_stats st;
    EXPECT_INT(read_records(BAD "count_over_32bit.csv", &st), DF_OK);
    EXPECT_STR(rejections, "");
    EXPECT_INT(st.individuals_valid, INT64_C(9294967296));
    const char *csv = join_ok(BAD "count_over_32bit.csv", UNITS);
    EXPECT(strstr(csv, "IQG01,Alpha,,4294967296,0,4294967296,") != NULL);
    EXPECT(strstr(csv, "IQG02,Beta,,5000000000,0,5000000000,") != NULL);
}

TEST(counts_over_64_bits_are_rejected)
{
    df_read_stats st;
    EXPECT_INT(read_records(BAD "count_over_64bit.csv", &st), DF_OK);
    EXPECT_STR(rejections, "3:Individuals:bad-count:18446744073709551616");
    EXPECT_INT(st.valid, 1);
}

TEST(families_times_household_size_overflow)
{
    /* families x 6 beyond 64 bits is a bad count, said so */
    df_read_stats st;
    EXPECT_INT(read_records(BAD "families_overflow.csv", &st), DF_OK);
    EXPECT_STR(rejections, "2:Families:bad-count:families x household size exceeds 2^63");
    EXPECT_INT(st.valid, 1);
    /* two rows of INT64_MAX: the second would carry the total past 2^63,
     * and every sum downstream is at most the total: it is rejected */
    EXPECT_INT(read_records(BAD "count_sum_overflow.csv", &st), DF_OK);
    EXPECT_INT(st.valid, 1);
    EXPECT_INT(st.rejected_by[DF_REJECT_BAD_COUNT], 1);
    EXPECT_INT(st.individuals_valid, INT64_MAX);
}

TEST(negative_counts)
{
    df_read_stats st;
    EXPECT_INT(read_records(BAD "negative_count.csv", &st), DF_OK);
    EXPECT_STR(rejections, "3:Individuals:negative-count:-20");
}

TEST(dates_out_of_range)
{
    /* years 1900..2200 only, and real calendar days */
    df_read_stats st;
    EXPECT_INT(read_records(BAD "date_out_of_range.csv", &st), DF_OK);
    EXPECT_STR(rejections, "3:Date:bad-date:1899-12-31|4:Date:bad-date:2016-02-30|5:Date:bad-date:2301-01-01");
    EXPECT_INT(st.valid, 1);
}

TEST(projected_metres_as_degrees)
{
    df_read_stats st;
    EXPECT_INT(read_records(BAD "projected_metres.csv", &st), DF_OK);
    EXPECT_STR(rejections, "3:Latitude:bad-coordinates:3714000.0");
}

/* ---- boundaries ---------------------------------------------------------------- */

static int have_ogr2ogr(void) { return sh("ogr2ogr --version > /dev/null 2>&1") == 0; }

/* A shapefile copy of units.geojson in tmpdir/<name>/u.shp (t_srs may be
 * NULL), then one of its side files removed (NULL: none). */
static const char *make_shapefile(const char *name, const char *t_srs, const char *drop_ext)
{
    static char shp[512];
    char cmd[2048];
    snprintf(shp, sizeof shp, "%s/%s/u.shp", tmpdir, name);
    snprintf(cmd, sizeof cmd, "mkdir -p %s/%s && ogr2ogr -f 'ESRI Shapefile' %s%s %s %s", tmpdir, name,
             t_srs ? "-t_srs " : "", t_srs ? t_srs : "", shp, UNITS);
    EXPECT_INT(sh(cmd), 0);
    if (drop_ext) {
        snprintf(cmd, sizeof cmd, "rm %s/%s/u.%s", tmpdir, name, drop_ext);
        EXPECT_INT(sh(cmd), 0);
    }
    return shp;
}

TEST(shapefile_without_dbf)
{
    if (!have_ogr2ogr()) {
        SKIP("ogr2ogr is absent");
    }
    /* GDAL opens the .shp without attributes: no field at all, and the
     * message asks whether the .dbf is missing */
    const char *shp = make_shapefile("nodbf", NULL, "dbf");
    join_fails(BAD "count_over_32bit.csv", shp, df_status_exit_code(DF_ESCHEMA), "nodbf/u.shp", "is its .dbf missing?");
}

TEST(shapefile_without_shx)
{
    if (!have_ogr2ogr()) {
        SKIP("ogr2ogr is absent");
    }
    /* GDAL refuses it and says how to restore the index: exit 4 */
    const char *shp = make_shapefile("noshx", NULL, "shx");
    join_fails(BAD "count_over_32bit.csv", shp, df_status_exit_code(DF_EIO), "noshx/u.shp", "SHAPE_RESTORE_SHX");
}

TEST(shapefile_without_prj)
{
    if (!have_ogr2ogr()) {
        SKIP("ogr2ogr is absent");
    }
    const char *shp = make_shapefile("noprj", NULL, "prj");
    const char *csv = join_ok(BAD "points_only.csv", shp);
    EXPECT(strstr(out, "no CRS (.prj missing?); assuming WGS84 longitude/latitude") != NULL);
    EXPECT(strstr(csv, "IQG01,Alpha,,10,") != NULL);
    EXPECT(strstr(csv, "IQG02,Beta,,20,") != NULL);
}

TEST(layer_in_utm_38n_is_reprojected)
{
    if (!have_ogr2ogr()) {
        SKIP("ogr2ogr is absent");
    }
    const char *shp = make_shapefile("utm38n", "EPSG:32638", NULL);
    const char *csv = join_ok(BAD "points_only.csv", shp);
    EXPECT(strstr(out, "reprojecting from WGS 84 / UTM zone 38N to WGS84") != NULL);
    /* the points fall in the same units as with the WGS84 layer; the third
     * (46.5 E) is outside both; areas are geodesic, as with the original */
    EXPECT(strstr(csv, "IQG01,Alpha,,10,0,10,0,0,1,10306.246,") != NULL);
    EXPECT(strstr(csv, "IQG02,Beta,,20,0,20,0,0,1,10306.246,") != NULL);
    EXPECT(strstr(out, "unmatched             1") != NULL);
}

TEST(self_intersecting_polygon_is_repaired)
{
    join_ok(BAD "points_only.csv", BAD "self_intersecting.geojson");
    EXPECT(strstr(out, "warning: " BAD "self_intersecting.geojson: feature 2 (IQG02 Beta) is invalid "
                       "(Self-intersection[44.5 33.5]); repaired with GEOS MakeValid") != NULL);
}

TEST(empty_polygon)
{
    /* kept, matched by P-code or name only; written with a null geometry */
    char args[1024], outp[512];
    join_ok(BAD "count_over_32bit.csv", BAD "empty_polygon.geojson");
    EXPECT(strstr(out, "warning: " BAD "empty_polygon.geojson: feature 2 (IQG02 Beta) has no geometry; it can be "
                       "matched by P-code or name only") != NULL);
    snprintf(outp, sizeof outp, "%s/empty.geojson", tmpdir);
    snprintf(args, sizeof args, "join -q --records %s --boundaries %s --level adm1 -o %s", BAD "count_over_32bit.csv",
             BAD "empty_polygon.geojson", outp);
    EXPECT_INT(run(args), 0);
    EXPECT(strstr(slurp(outp), "\"geometry\": null") != NULL);
}

TEST(duplicate_pcodes)
{
    /* issue 11 trap 4: a boundary file holds one feature per unit of its
     * level; repeated P-codes are refused before any work (exit 2) */
    join_fails(BAD "count_over_32bit.csv", BAD "duplicate_pcodes.geojson", df_status_exit_code(DF_EINVAL),
               "duplicate_pcodes.geojson",
               "2 features hold 1 distinct admin-1 P-codes, 1 of them repeated (IQG01 is both Alpha and Beta)");
}

/* issue 17 item 19: repeated P-codes are refused by every verb that loads
 * boundaries (they all go through df_boundaries_load), exit 2, nothing
 * written. */
TEST(duplicate_pcodes_every_verb)
{
    const char *msg = "1 of them repeated (IQG01 is both Alpha and Beta)";
    char args[2048], outp[512], job[512], bundle[512];
    snprintf(outp, sizeof outp, "%s/dup-out", tmpdir);
    const char *verbs[] = {"check --level adm1", "flows -o %s.geojson", "density --pixel 1000 --radius 5000 -o %s.tif",
                           NULL};
    for (int k = 0; verbs[k]; k++) {
        char verb[600];
        snprintf(verb, sizeof verb, verbs[k], outp);
        snprintf(args, sizeof args,
                 "%s --records " BAD "count_over_32bit.csv --boundaries " BAD "duplicate_pcodes.geojson", verb);
        EXPECT_INT(run(args), 2);
        if (!strstr(out, msg)) HARNESS_FAIL("%s: message \"%s\" should say %s", verbs[k], out, msg);
    }
    snprintf(args, sizeof args, "%s.geojson", outp);
    EXPECT_INT(access(args, F_OK), -1);
    snprintf(args, sizeof args, "%s.tif", outp);
    EXPECT_INT(access(args, F_OK), -1);
    /* and run, from a job file */
    snprintf(job, sizeof job, "%s/dup.ini", tmpdir);
    snprintf(bundle, sizeof bundle, "%s/dup-bundle", tmpdir);
    char text[2048], cwd[1024];
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = 0;
    snprintf(text, sizeof text,
             "[job]\noutput = %s\n[records]\npath = %s/" BAD "count_over_32bit.csv\n[boundaries]\nadm1 = %s/" BAD
             "duplicate_pcodes.geojson\n",
             bundle, cwd, cwd);
    write_text(job, text);
    snprintf(args, sizeof args, "run %s", job);
    EXPECT_INT(run(args), 2);
    if (!strstr(out, msg)) HARNESS_FAIL("run: message \"%s\" should say %s", out, msg);
    EXPECT_INT(access(bundle, F_OK), -1);
    EXPECT_INT(leftovers(), 0);
}

/* A spreadsheet whose header spans two rows with merged cells ("Location"
 * over "Governorate" and "District"): GDAL finds no header and names the
 * columns Field1..; the message says why and what to do, and mapping the
 * columns by number then works, the two header rows rejected. The file was
 * made by hand with a zip of five XML parts (docs/robustness.md). */
TEST(xlsx_with_merged_header_cells)
{
    join_fails(BAD "merged_header.xlsx", UNITS, 6, "merged_header.xlsx", "merged cells");
    char args[2048], outp[512];
    snprintf(outp, sizeof outp, "%s/merged.csv", tmpdir);
    snprintf(args, sizeof args,
             "join --records " BAD "merged_header.xlsx --map date=1,adm1=2,families=4,individuals=5 "
             "--boundaries shapes/iraq_adm1_naturalearth.geojson"
             " --level adm1 -o %s",
             outp);
    EXPECT_INT(run(args), 0);
    EXPECT(strstr(out, "rejected              2  (bad-date 2)") != NULL);
    EXPECT(strstr(out, "balance: 2 + 0 + 0 + 0 + 0 + 2 = 4 = 4 rows read") != NULL);
}

/* ---- issue 17: hangs, wrong causes, hostile cells ---------------------------- */

/* issue 17 item 10: the distinct name decisions are gathered in n log n, not
 * by scanning every earlier decision per name. 200,000 distinct unmatched
 * names, each stated twice (once in each half of the file, so a parallel
 * read sees each in two threads' caches): quadratic gathering took 76 s on
 * the development machine, now well under a second. The watchdog turns a
 * regression into a failure instead of a slow suite. */
#define MANY_NAMES 200000
TEST(distinct_unmatched_names_are_linear)
{
    char path[512];
    snprintf(path, sizeof path, "%s/many_names.csv", tmpdir);
    FILE *f = fopen(path, "w");
    if (!f) {
        HARNESS_FAIL("cannot write %s", path);
        return;
    }
    fputs("Governorate,Individuals\n", f);
    for (int half = 0; half < 2; half++)
        for (int i = 0; i < MANY_NAMES; i++) fprintf(f, "Zq%dxw,%d\n", i, half + 1);
    fclose(f);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, UNITS, 0);
    df_record_opts ro;
    df_join_opts jo;
    df_join *j = NULL;
    df_record_opts_init(&ro);
    df_join_opts_init(&jo);
    ro.path = path;
    jo.level = 1;
    alarm(120); /* quadratic: over a minute here, far more under a sanitizer */
    EXPECT_INT(b ? df_join_run(ctx, b, &ro, &jo, &j) : DF_EIO, DF_OK);
    alarm(0);
    if (j) {
        /* one decision per distinct name, stated by both halves, in order */
        EXPECT_INT(df_join_decision_count(j), MANY_NAMES);
        long rows = 0, bad = 0;
        for (int i = 0; i < df_join_decision_count(j); i++) {
            const df_name_decision *d = df_join_decision(j, i);
            rows += d->rows;
            bad += d->rows != 2 || strcmp(d->how, "unmatched") != 0 ||
                   (i > 0 && strcmp(df_join_decision(j, i - 1)->name, d->name) >= 0);
        }
        EXPECT_INT(rows, 2 * MANY_NAMES);
        EXPECT_INT(bad, 0);
        EXPECT_INT(df_join_balance(j)->unmatched, 2 * MANY_NAMES);
    }
    df_join_free(j);
    df_boundaries_free(b);
    df_ctx_free(ctx);
    remove(path);
}

/* issue 17 item 15: a file whose rows are all rejected fails as a whole
 * (exit 5), the reasons counted; dates that are Excel serial day numbers get
 * their own hint, also when only some rows have them */
TEST(every_row_rejected_is_a_file_failure)
{
    df_read_stats st;
    EXPECT_INT(read_records(BAD "excel_serial_dates.csv", &st), DF_EFORMAT);
    EXPECT_STR(rejections, "2:Date:bad-date:42675|3:Date:bad-date:42676|4:Date:bad-date:42677.5");
    EXPECT_INT(st.excel_dates, 3);
    join_fails(BAD "excel_serial_dates.csv", UNITS, df_status_exit_code(DF_EFORMAT),
               "excel_serial_dates.csv: every one of the 3 rows was rejected (bad-date 3)",
               "Excel serial day numbers (42675 = 2016-11-01)");
    /* any reason: two negative counts and a ragged row */
    char path[512];
    snprintf(path, sizeof path, "%s/all_rejected.csv", tmpdir);
    write_text(path, "Governorate,Individuals\nAlpha,-1\nBeta,-2\nAlpha,3,x\n");
    join_fails(path, UNITS, df_status_exit_code(DF_EFORMAT), "all_rejected.csv: every one of the 3 rows was rejected",
               "(negative-count 2, ragged-row 1)");
    /* one Excel date among good ones: the join runs, and says what it is */
    write_text(path, "Date,Governorate,Individuals\n42675,Alpha,1\n2016-11-01,Beta,2\n");
    join_ok(path, UNITS);
    EXPECT(strstr(out, "rejected dates that look like Excel serial day numbers (42675 = 2016-11-01): format the "
                       "column as dates (yyyy-mm-dd) in the spreadsheet and save it again: 1") != NULL);
}

/* issue 17 item 18: a NUL byte is bad-encoding wherever it stands: in a
 * date (the parser saw "2016-10-17" and took it), in a coordinate, in the
 * header (it cut "Individuals" short and hid the count column); and a
 * mapping to a column the file does not have is an error, not a column of
 * empty values */
TEST(nul_anywhere_and_missing_mapped_column)
{
    df_read_stats st;
    EXPECT_INT(read_records(BAD "nul_in_date.csv", &st), DF_OK);
    EXPECT_STR(rejections, "2:Date:bad-encoding:a NUL byte in a date|4:Latitude:bad-encoding:a NUL byte in a value");
    EXPECT_INT(st.valid, 1);
    join_fails(BAD "nul_in_header.csv", UNITS, df_status_exit_code(DF_EFORMAT), "nul_in_header.csv:1: column 5",
               "a NUL byte in the header");
    char args[2048], outp[512];
    snprintf(outp, sizeof outp, "%s/map.csv", tmpdir);
    write_text(outp, previous);
    snprintf(args, sizeof args,
             "join --records " BAD "count_over_32bit.csv --map individuals=6 --boundaries " UNITS " --level adm1 -o %s",
             outp);
    EXPECT_INT(run(args), df_status_exit_code(DF_ESCHEMA));
    EXPECT(strstr(out, "count_over_32bit.csv: --map individuals=6: the file has only 5 columns") != NULL);
    EXPECT_STR(slurp(outp), previous);
    /* headerless: the first row gives the number of columns */
    char rec[512];
    snprintf(rec, sizeof rec, "%s/headerless.csv", tmpdir);
    write_text(rec, "2016-10-17,Alpha,33.5,43.5,10\n");
    snprintf(args, sizeof args,
             "join --records %s --map adm1=2,individuals=7 --boundaries " UNITS " --level adm1 -o %s", rec, outp);
    EXPECT_INT(run(args), df_status_exit_code(DF_ESCHEMA));
    EXPECT(strstr(out, "--map individuals=7: the file has only 5 columns") != NULL);
}

/* issue 17 item 11: a field over 64 MB is not held (it was, at twice its
 * size: a 2 GB field took 4.26 GB): its row is rejected as field-too-long
 * with its line, the reader passes over the rest of the record without
 * keeping it, and the lines after it keep their numbers. The first data row
 * (read while looking for an HXL row) and a quoted field with line breaks
 * and doubled quotes are the hard cases; in the header it fails the file. */
static void write_huge_field(FILE *f, int quoted)
{
    static char block[1 << 16];
    memset(block, 'x', sizeof block);
    block[sizeof block - 1] = quoted ? '\n' : 'x';
    if (quoted) fputs("\"Be\"\"", f);
    for (size_t k = 0; k < (DF__CSV_MAX_FIELD >> 16) + 1; k++) fwrite(block, 1, sizeof block, f);
    if (quoted) fputs("ta\"", f);
}

TEST(huge_field_is_rejected_not_held)
{
    char path[512];
    snprintf(path, sizeof path, "%s/huge_field.csv", tmpdir);
    FILE *f = fopen(path, "w");
    if (!f) {
        HARNESS_FAIL("cannot write %s", path);
        return;
    }
    long lines = (long)(DF__CSV_MAX_FIELD >> 16) + 1; /* line breaks inside the quoted field */
    fputs("Date,Governorate,Individuals\n2016-10-17,", f);
    write_huge_field(f, 1);
    fputs(",20\n2016-10-18,Alpha,10\n2016-10-19,", f);
    write_huge_field(f, 0);
    fputs(",7\n2016-10-20,Beta,1\n", f);
    fclose(f);
    df_read_stats st;
    char want[256];
    EXPECT_INT(read_records(path, &st), DF_OK);
    snprintf(want, sizeof want,
             "2:Governorate:field-too-long:longer than 64 MB|%ld:Governorate:field-too-long:longer than 64 MB",
             2 + lines + 2);
    EXPECT_STR(rejections, want);
    EXPECT_INT(st.rows, 4);
    EXPECT_INT(st.valid, 2);
    EXPECT_INT(st.individuals_valid, 11);
    EXPECT_INT(st.rejected_by[DF_REJECT_FIELD_TOO_LONG], 2);
    /* in the header: the file fails, naming the line and the field */
    f = fopen(path, "w");
    if (f) {
        fputs("Date,", f);
        write_huge_field(f, 0);
        fputs(",Individuals\n2016-10-17,Alpha,10\n", f);
        fclose(f);
    }
    EXPECT_INT(read_records(path, &st), DF_EFORMAT);
    join_fails(path, UNITS, df_status_exit_code(DF_EFORMAT), "huge_field.csv:1: field 2 is longer than 64 MB", NULL);
    remove(path);
}

/* issue 17 item 24: a boundary or place name a spreadsheet would run as a
 * formula (OWASP CSV injection) is written to CSV as quoted text behind a
 * ' ; a name that is a number (-5) stays as it is */
TEST(csv_injection_is_defused)
{
    char units[512], outp[512], logp[512], args[2048];
    snprintf(units, sizeof units, "%s/formula_units.geojson", tmpdir);
    write_text(units,
               "{\"type\":\"FeatureCollection\",\"features\":["
               "{\"type\":\"Feature\",\"properties\":{\"ADM1_PCODE\":\"IQG01\",\"ADM1_EN\":"
               "\"=HYPERLINK(\\\"http://x\\\",\\\"y\\\")\"},\"geometry\":{\"type\":\"Polygon\",\"coordinates\":"
               "[[[43,33],[44,33],[44,34],[43,34],[43,33]]]}},"
               "{\"type\":\"Feature\",\"properties\":{\"ADM1_PCODE\":\"IQG02\",\"ADM1_EN\":\"-5\"},\"geometry\":"
               "{\"type\":\"Polygon\",\"coordinates\":[[[44,33],[45,33],[45,34],[44,34],[44,33]]]}},"
               "{\"type\":\"Feature\",\"properties\":{\"ADM1_PCODE\":\"IQG03\",\"ADM1_EN\":\"@SUM(A1)\"},\"geometry\":"
               "{\"type\":\"Polygon\",\"coordinates\":[[[46,33],[47,33],[47,34],[46,34],[46,33]]]}}]}");
    snprintf(outp, sizeof outp, "%s/formula.csv", tmpdir);
    snprintf(logp, sizeof logp, "%s/formula-log.csv", tmpdir);
    snprintf(args, sizeof args, "join -q --records " BAD "points_only.csv --boundaries %s --level adm1 -o %s --log %s",
             units, outp, logp);
    EXPECT_INT(run(args), 0);
    const char *csv = slurp(outp);
    EXPECT(strstr(csv, "\nIQG01,\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",,10,") != NULL);
    EXPECT(strstr(csv, "\nIQG02,-5,,20,") != NULL);
    EXPECT(strstr(csv, "\nIQG03,\"'@SUM(A1)\",,40,") != NULL);
    EXPECT(strstr(csv, ",=") == NULL && strstr(csv, ",@") == NULL);
    const char *log = slurp(logp);
    EXPECT(strstr(log, ",IQG01,\"'=HYPERLINK(") != NULL);
    EXPECT(strstr(log, ",IQG03,\"'@SUM(A1)\",") != NULL);
}

/* issue 17 item 13: boundary coordinates that are not degrees fail the load
 * (exit 5) and say why: a layer in metres without its .prj (it failed as
 * "out of memory", exit 3), a latitude of 100, a longitude of 1e308 (exit 0
 * with wrong areas) */
TEST(boundary_coordinates_not_degrees)
{
    char path[512];
    if (have_ogr2ogr()) {
        const char *shp = make_shapefile("metres_noprj", "EPSG:32638", "prj");
        join_fails(BAD "points_only.csv", shp, df_status_exit_code(DF_EFORMAT),
                   "metres_noprj/u.shp: feature 1 (IQG01 Alpha)",
                   "coordinates are not degrees (x 313153 to 407650, y 3.65173e+06 to 3.76396e+06): is the .prj "
                   "missing?");
    } else {
        printf("SKIPPED %s (the shapefile case): ogr2ogr is absent\n", __func__);
    }
    static const char *const cases[][2] = {
        {"[43,34],[43,33]", "[43,100],[43,33]"},
        {"[45,33],[45,34]", "[1e308,33],[45,34]"},
    };
    static const char *const want[] = {"feature 1 (IQG01 Alpha): coordinates are not degrees (x 43 to 44, y 33 to 100, "
                                       "in WGS 84): is the layer's CRS wrong?",
                                       "feature 2 (IQG02 Beta): coordinates are not degrees (x 44 to 1e+308"};
    for (int k = 0; k < 2; k++) {
        char text[2048];
        snprintf(text, sizeof text, "%s", slurp(UNITS));
        char *at = strstr(text, cases[k][0]);
        if (!at) {
            HARNESS_FAIL("%s not in " UNITS, cases[k][0]);
            continue;
        }
        char edited[2048];
        snprintf(edited, sizeof edited, "%.*s%s%s", (int)(at - text), text, cases[k][1], at + strlen(cases[k][0]));
        snprintf(path, sizeof path, "%s/not_degrees_%d.geojson", tmpdir, k);
        write_text(path, edited);
        join_fails(BAD "points_only.csv", path, df_status_exit_code(DF_EFORMAT), "not_degrees_", want[k]);
    }
}

/* issue 17 item 14: a latitude column without a longitude column (or the
 * reverse) rejected every row as bad-coordinates although the names match:
 * the names are used, with a warning that the coordinates are incomplete */
TEST(one_coordinate_column_uses_the_names)
{
    char path[512];
    snprintf(path, sizeof path, "%s/lat_only.csv", tmpdir);
    write_text(path, "Date,Governorate,Latitude,Individuals\n2016-10-17,Alpha,33.5,10\n2016-10-18,Beta,33.5,20\n");
    df_read_stats st;
    EXPECT_INT(read_records(path, &st), DF_OK);
    EXPECT_INT(st.valid, 2);
    EXPECT_STR(rejections, "");
    const char *csv = join_ok(path, UNITS);
    EXPECT(strstr(csv, "IQG01,Alpha,,10,") != NULL);
    EXPECT(strstr(csv, "IQG02,Beta,,20,") != NULL);
    EXPECT(strstr(out, "lat_only.csv: the coordinates are incomplete: a latitude column (Latitude) and no longitude "
                       "column; the rows are placed by their names and P-codes only") != NULL);
    write_text(path, "Governorate,Lon,Individuals\nAlpha,43.5,10\n");
    csv = join_ok(path, UNITS);
    EXPECT(strstr(csv, "IQG01,Alpha,,10,") != NULL);
    EXPECT(strstr(out, "a longitude column (Lon) and no latitude column") != NULL);
}

/* issue 17 item 20: records in UTF-16 (as Excel's "Unicode text" saves
 * them) said "no count column"; now the encoding and the iconv line */
TEST(utf16_records_say_so)
{
    char path[512];
    static const char text[] = "Date,Governorate,Individuals\n2016-10-17,Alpha,10\n";
    for (int be = 0; be < 2; be++)
        for (int bom = 0; bom < 2; bom++) {
            snprintf(path, sizeof path, "%s/utf16_%d%d.csv", tmpdir, be, bom);
            FILE *f = fopen(path, "wb");
            if (!f) continue;
            if (bom) fputs(be ? "\xFE\xFF" : "\xFF\xFE", f);
            for (const char *p = text; *p; p++) {
                if (be) fputc(0, f);
                fputc(*p, f);
                if (!be) fputc(0, f);
            }
            fclose(f);
            char want[600];
            snprintf(want, sizeof want, "the file is %s text, not UTF-8: convert it with iconv -f %s -t UTF-8 %s",
                     be ? "UTF-16BE" : "UTF-16LE", be ? "UTF-16BE" : "UTF-16LE", path);
            join_fails(path, UNITS, df_status_exit_code(DF_EFORMAT), path, want);
        }
}

/* issue 17 item 21: messages that named the wrong cause, or none */
TEST(errors_name_the_real_cause)
{
    char path[512], args[2048], outp[512];
    /* an empty FeatureCollection was asked whether its .dbf was missing */
    snprintf(path, sizeof path, "%s/no_features.geojson", tmpdir);
    write_text(path, "{\"type\":\"FeatureCollection\",\"features\":[]}");
    join_fails(BAD "points_only.csv", path, df_status_exit_code(DF_EFORMAT), "no_features.geojson",
               "the layer has no features");
    EXPECT(strstr(out, ".dbf") == NULL);
    /* a first line of HXL tags was told to add an HXL row: the tags name
     * the columns */
    snprintf(path, sizeof path, "%s/hxl_first.csv", tmpdir);
    write_text(path, "#date,#adm1+name,#affected+ind\n2016-10-17,Alpha,10\n2016-10-18,Beta,20\n");
    const char *csv = join_ok(path, UNITS);
    EXPECT(strstr(csv, "IQG01,Alpha,,10,") != NULL);
    EXPECT(strstr(csv, "IQG02,Beta,,20,") != NULL);
    /* empty or truncated JSON said "json_tokener_parse_ex failed: continue" */
    snprintf(path, sizeof path, "%s/empty.json", tmpdir);
    write_text(path, "");
    join_fails(path, UNITS, df_status_exit_code(DF_EFORMAT), "empty.json: not readable JSON: the file is empty", NULL);
    snprintf(path, sizeof path, "%s/truncated.json", tmpdir);
    write_text(path, "[{\"date\":\"2016-10-17\",\"admin1Name\":\"Al");
    join_fails(path, UNITS, df_status_exit_code(DF_EFORMAT),
               "truncated.json: not readable JSON: the JSON ends early (a truncated download?)", NULL);
    /* a wrong sheet or layer name lists the ones there are */
    snprintf(outp, sizeof outp, "%s/sheet.csv", tmpdir);
    snprintf(args, sizeof args,
             "join --records " BAD "merged_header.xlsx --records-layer Sheet1 --boundaries " UNITS
             " --level adm1 -o %s",
             outp);
    EXPECT_INT(run(args), df_status_exit_code(DF_EINVAL));
    EXPECT(strstr(out, "merged_header.xlsx: no sheet or layer Sheet1 (it has: records)") != NULL);
    snprintf(args, sizeof args,
             "join --records " BAD "points_only.csv --boundaries " UNITS " --boundaries-layer adm1 --level adm1 -o %s",
             outp);
    EXPECT_INT(run(args), df_status_exit_code(DF_EINVAL));
    EXPECT(strstr(out, "units.geojson: no layer adm1 (it has: units)") != NULL);
    /* a spreadsheet whose cells are all text: GDAL takes the header for data */
    join_fails(BAD "merged_header.xlsx", UNITS, df_status_exit_code(DF_ESCHEMA), "merged_header.xlsx",
               "--config OGR_XLSX_HEADERS FORCE");
    if (have_ogr2ogr()) {
        snprintf(path, sizeof path, "%s/all_text.xlsx", tmpdir);
        snprintf(args, sizeof args, "ogr2ogr -f XLSX %s " BAD "count_over_32bit.csv -nln data", path);
        EXPECT_INT(sh(args), 0);
        join_fails(path, UNITS, df_status_exit_code(DF_ESCHEMA), "Field1 to Field5", "OGR_XLSX_HEADERS FORCE");
        snprintf(args, sizeof args,
                 "join --config OGR_XLSX_HEADERS FORCE --records %s --boundaries " UNITS " --level adm1 -o %s", path,
                 outp);
        EXPECT_INT(run(args), 0);
        EXPECT(strstr(slurp(outp), "IQG02,Beta,,5000000000,") != NULL);
    }
    /* a wrong boundaries path had an empty reason */
    join_fails(BAD "points_only.csv", BAD "no_such_units.geojson", df_status_exit_code(DF_EIO),
               "cannot open boundaries " BAD "no_such_units.geojson: No such file or directory", NULL);
    /* a missing output folder named the temporary file */
    static const char *const ext[] = {"csv", "geojson", "gpkg"};
    for (int k = 0; k < 3; k++) {
        snprintf(args, sizeof args,
                 "join --records " BAD "points_only.csv --boundaries " UNITS " --level adm1 -o %s/no/such/out.%s",
                 tmpdir, ext[k]);
        EXPECT_INT(run(args), df_status_exit_code(DF_EIO));
        char want[600];
        snprintf(want, sizeof want, "cannot write %s/no/such/out.%s: the folder %s/no/such does not exist", tmpdir,
                 ext[k], tmpdir);
        if (!strstr(out, want)) HARNESS_FAIL("message \"%s\" should say %s", out, want);
        EXPECT(strstr(out, ".tmp-") == NULL);
    }
}

/* ---- data loss: an output never destroys what the user owns (issue 17) ----- */

/* A copy of src at tmpdir/name (the test's own files, never the corpus). */
static const char *copy_in(const char *src, const char *name)
{
    static char path[8][512];
    static int k;
    char cmd[1400];
    char *p = path[k++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", src, p);
    EXPECT_INT(sh(cmd), 0);
    return p;
}

/* args (with %1$s the tmpdir) must be refused before any work: the exit
 * code, a message that says `says`, the file `kept` with the bytes it had,
 * no temporary file. */
static void refused(const char *args_fmt, int want_exit, const char *says, const char *kept)
{
    char args[4096], before[1 << 16];
    snprintf(before, sizeof before, "%s", kept ? slurp(kept) : "");
    snprintf(args, sizeof args, args_fmt, tmpdir);
    EXPECT_INT(run(args), want_exit);
    if (!strstr(out, says)) HARNESS_FAIL("message \"%s\" should say \"%s\"", out, says);
    if (strstr(out, "wrote ") || strstr(out, "rows, ")) HARNESS_FAIL("work was done before the refusal: %s", out);
    if (kept) EXPECT_STR(slurp(kept), before);
    EXPECT_INT(leftovers(), 0);
}

/* issue 17 item 1: an output that is an input or another output, for every
 * verb, by device and inode (links too) or by resolved path */
TEST(issue17_item1_output_is_an_input_or_another_output)
{
    const char *rec = copy_in(BAD "points_only.csv", "rec.csv");
    const char *units = copy_in(UNITS, "units.geojson");
    char prev[512], link[600], cmd[1400];
    const int e = df_status_exit_code(DF_EINVAL);
    const char *is_input = "is the input", *same = "are the same file";
    refused("join --records %1$s/rec.csv --boundaries %1$s/units.geojson -o %1$s/rec.csv", e, is_input, rec);
    refused("density --records %1$s/rec.csv --pixel 1000 --radius 5000 -o %1$s/rec.csv", e, is_input, rec);
    refused("join --records %1$s/rec.csv --boundaries %1$s/units.geojson -o %1$s/o.csv --log %1$s/rec.csv", e, is_input,
            rec);
    refused("check --records %1$s/rec.csv --boundaries %1$s/units.geojson --log %1$s/rec.csv", e, is_input, rec);
    refused("join --records %1$s/rec.csv --boundaries %1$s/units.geojson -o %1$s/units.geojson", e, is_input, units);
    refused("flows --records %1$s/rec.csv --boundaries %1$s/units.geojson --origin-level adm1 --dest-level adm1 "
            "-o %1$s/./rec.csv",
            e, is_input, rec);
    /* two outputs on one file: existing (by inode) and not yet existing (by path) */
    snprintf(prev, sizeof prev, "%s/prev.csv", tmpdir);
    write_text(prev, previous);
    refused("join --records %1$s/rec.csv --boundaries %1$s/units.geojson -o %1$s/prev.csv --log %1$s/prev.csv", e, same,
            prev);
    refused("flows --records %1$s/rec.csv --boundaries %1$s/units.geojson --origin-level adm1 --dest-level adm1 "
            "-o %1$s/new.geojson --nodes %1$s/./new.geojson",
            e, same, NULL);
    snprintf(cmd, sizeof cmd, "%s/new.geojson", tmpdir);
    EXPECT_INT(access(cmd, F_OK), -1);
    refused("density --records %1$s/rec.csv --pixel 1000 --radius 5000 --boundaries %1$s/units.geojson "
            "-o %1$s/d.tif --choropleth %1$s/d.tif",
            e, same, NULL);
    /* a symbolic link and a hard link to the records are the records */
    snprintf(link, sizeof link, "%s/link.csv", tmpdir);
    EXPECT_INT(symlink(rec, link), 0);
    refused("join --records %1$s/rec.csv --boundaries %1$s/units.geojson -o %1$s/link.csv", e, is_input, rec);
    snprintf(cmd, sizeof cmd, "ln '%s' '%s/hard.csv'", rec, tmpdir);
    EXPECT_INT(sh(cmd), 0);
    refused("join --records %1$s/rec.csv --boundaries %1$s/units.geojson -o %1$s/hard.csv", e, is_input, rec);
}

/* issue 17 item 1: a shapefile input is its .dbf, .shx, .prj and .cpg too */
TEST(issue17_item1_output_is_a_part_of_a_shapefile_input)
{
    if (!have_ogr2ogr()) {
        printf("SKIPPED %s: ogr2ogr is absent\n", __func__);
        return;
    }
    const char *shp = make_shapefile("parts", NULL, NULL);
    char dbf[512];
    snprintf(dbf, sizeof dbf, "%.*s.dbf", (int)strlen(shp) - 4, shp);
    refused("join --records " BAD "points_only.csv --boundaries %1$s/parts/u.shp -o %1$s/parts/u.dbf",
            df_status_exit_code(DF_EINVAL), "is the input", dbf);
}

/* issue 17 item 3: an output that exists and is not a regular file is
 * refused (a FIFO, a socket, a folder); a symbolic link is followed to its
 * file and the log says so; a link to nothing is refused and says so */
TEST(issue17_item3_output_is_not_a_regular_file)
{
    char path[512], target[512], args[2048];
    const int e = df_status_exit_code(DF_EIO);
    snprintf(path, sizeof path, "%s/fifo.csv", tmpdir);
    EXPECT_INT(mkfifo(path, 0644), 0);
    refused("join --records " BAD "points_only.csv --boundaries " UNITS " -o %1$s/fifo.csv", e,
            "fifo.csv is a FIFO (named pipe): not replaced", NULL);
    refused("sample -o %1$s/fifo.csv", e, "is a FIFO", NULL);
    struct stat sb;
    EXPECT(stat(path, &sb) == 0 && S_ISFIFO(sb.st_mode));
    /* a socket */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/sock.csv", tmpdir);
    EXPECT_INT(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    refused("join --records " BAD "points_only.csv --boundaries " UNITS " -o %1$s/sock.csv", e, "is a socket", NULL);
    EXPECT(stat(sa.sun_path, &sb) == 0 && S_ISSOCK(sb.st_mode));
    close(fd);
    /* a folder */
    snprintf(path, sizeof path, "%s/dir.csv", tmpdir);
    EXPECT_INT(mkdir(path, 0755), 0);
    refused("density --records " BAD "points_only.csv --pixel 1000 --radius 5000 -o %1$s/dir.csv", e,
            "dir.csv is a folder", NULL);
    /* a symbolic link to a file: followed, the link kept, the target replaced */
    snprintf(target, sizeof target, "%s/target.csv", tmpdir);
    snprintf(path, sizeof path, "%s/to-target.csv", tmpdir);
    write_text(target, previous);
    EXPECT_INT(symlink(target, path), 0);
    snprintf(args, sizeof args, "join --records " BAD "points_only.csv --boundaries " UNITS " --level adm1 -o %s",
             path);
    EXPECT_INT(run(args), 0);
    EXPECT(strstr(out, "to-target.csv is a symbolic link: followed, writing to its target") != NULL);
    EXPECT(lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode));
    EXPECT(strncmp(slurp(target), "adm_pcode,", 10) == 0);
    EXPECT_INT(leftovers(), 0);
    /* a link to nothing */
    snprintf(path, sizeof path, "%s/dangling.csv", tmpdir);
    snprintf(target, sizeof target, "%s/nothing/here.csv", tmpdir);
    EXPECT_INT(symlink(target, path), 0);
    refused("join --records " BAD "points_only.csv --boundaries " UNITS " -o %1$s/dangling.csv", e,
            "dangling.csv is a symbolic link to a missing file", NULL);
    EXPECT(lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode));
}

/* The layers of a GeoPackage as "name:features,..." */
static const char *gpkg_layers(const char *path)
{
    static char text[1024];
    text[0] = 0;
    GDALAllRegister();
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    for (int i = 0; ds && i < GDALDatasetGetLayerCount(ds); i++) {
        OGRLayerH l = GDALDatasetGetLayer(ds, i);
        size_t n = strlen(text);
        snprintf(text + n, sizeof text - n, "%s%s:%lld", i ? "," : "", OGR_L_GetName(l),
                 (long long)OGR_L_GetFeatureCount(l, TRUE));
    }
    if (ds) GDALClose(ds);
    return text;
}

/* issue 17 items 2 and 6: -o work.gpkg where work.gpkg holds other layers:
 * the layer is written into it, the others kept, a layer of the same name
 * replaced (not doubled); the file keeps its mode (0600) */
TEST(issue17_item2_gpkg_keeps_its_other_layers_and_item6_its_mode)
{
    if (!have_ogr2ogr()) {
        printf("SKIPPED %s: ogr2ogr is absent\n", __func__);
        return;
    }
    char gpkg[512], cmd[2048], args[2048];
    struct stat sb;
    snprintf(gpkg, sizeof gpkg, "%s/work.gpkg", tmpdir);
    snprintf(cmd, sizeof cmd, "ogr2ogr -f GPKG %s %s -nln mine && ogr2ogr -update %s %s -nln theirs", gpkg, UNITS, gpkg,
             UNITS);
    EXPECT_INT(sh(cmd), 0);
    EXPECT_INT(chmod(gpkg, 0600), 0);
    snprintf(args, sizeof args, "join --records " BAD "points_only.csv --boundaries " UNITS " --level adm1 -o %s",
             gpkg);
    EXPECT_INT(run(args), 0);
    EXPECT(strstr(out, "work.gpkg is a GeoPackage with 2 other tables (mine, ...): adm1_join written into it") != NULL);
    EXPECT_STR(gpkg_layers(gpkg), "mine:2,theirs:2,adm1_join:2");
    EXPECT_INT(run(args), 0); /* again: adm1_join replaced */
    EXPECT_STR(gpkg_layers(gpkg), "mine:2,theirs:2,adm1_join:2");
    EXPECT(stat(gpkg, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    EXPECT_INT(leftovers(), 0);
}

/* issue 17 item 6: a replaced output keeps its mode */
TEST(issue17_item6_a_replaced_output_keeps_its_mode)
{
    char path[512], args[2048];
    struct stat sb;
    snprintf(path, sizeof path, "%s/private.csv", tmpdir);
    write_text(path, previous);
    EXPECT_INT(chmod(path, 0600), 0);
    snprintf(args, sizeof args, "join -q --records " BAD "points_only.csv --boundaries " UNITS " --level adm1 -o %s",
             path);
    EXPECT_INT(run(args), 0);
    EXPECT(strcmp(slurp(path), previous) != 0);
    EXPECT(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    EXPECT_INT(chmod(path, 0640), 0);
    snprintf(args, sizeof args, "sample -o %s", path);
    EXPECT_INT(run(args), 0);
    EXPECT(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0640);
}

/* ---- the fuzzing seeds and regressions, replayed ---------------------------- */

static int replay_dir(const char *dir, int (*fn)(const uint8_t *, size_t))
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char path[1024];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
        FILE *f = fopen(path, "rb");
        uint8_t *buf = malloc((size_t)sb.st_size + 1);
        size_t got = f && buf ? fread(buf, 1, (size_t)sb.st_size, f) : 0;
        if (f) fclose(f);
        if (buf) fn(buf, got); /* aborts on a broken invariant */
        free(buf);
        n++;
    }
    if (d) closedir(d);
    return n;
}

TEST(fuzz_regressions_replay)
{
    EXPECT(replay_dir("tests/fuzz/records", fuzz_records) >= 5);
    replay_dir("tests/fuzz/records/regressions", fuzz_records);
    EXPECT(replay_dir("tests/fuzz/names", fuzz_names) >= 5);
    EXPECT(replay_dir("tests/fuzz/names/regressions", fuzz_names) >= 2);
    EXPECT(replay_dir("tests/fuzz/fields", fuzz_fields) >= 5);
    replay_dir("tests/fuzz/fields/regressions", fuzz_fields);
    EXPECT(replay_dir("tests/fuzz/job", fuzz_job) >= 5);
    replay_dir("tests/fuzz/job/regressions", fuzz_job);
    /* the two distance bugs the names harness found, pinned */
    EXPECT_INT(df__name_distance("tf", "", 4), 2);
    EXPECT_INT(df__name_distance("", "tf", 4), 2);
    EXPECT_INT(df__name_distance("ul", "mstskr", 4), 5);
}

int main(int argc, char **argv)
{
    harness_cli_path(argc, argv, dispflow, sizeof dispflow); /* BUILD/tests/NAME -> BUILD/dispflow */
    if (!mkdtemp(tmpdir)) return 1;
    RUN(unterminated_quote);
    RUN(empty_file);
    RUN(no_count_column);
    RUN(header_only);
    RUN(ragged_rows);
    RUN(nul_bytes);
    RUN(invalid_utf8_name);
    RUN(windows_1256_file);
    RUN(counts_over_32_bits_are_accepted);
    RUN(counts_over_64_bits_are_rejected);
    RUN(families_times_household_size_overflow);
    RUN(negative_counts);
    RUN(dates_out_of_range);
    RUN(projected_metres_as_degrees);
    RUN(shapefile_without_dbf);
    RUN(shapefile_without_shx);
    RUN(shapefile_without_prj);
    RUN(layer_in_utm_38n_is_reprojected);
    RUN(self_intersecting_polygon_is_repaired);
    RUN(empty_polygon);
    RUN(duplicate_pcodes);
    RUN(duplicate_pcodes_every_verb);
    RUN(xlsx_with_merged_header_cells);
    RUN(distinct_unmatched_names_are_linear);
    RUN(every_row_rejected_is_a_file_failure);
    RUN(nul_anywhere_and_missing_mapped_column);
    RUN(huge_field_is_rejected_not_held);
    RUN(csv_injection_is_defused);
    RUN(boundary_coordinates_not_degrees);
    RUN(one_coordinate_column_uses_the_names);
    RUN(utf16_records_say_so);
    RUN(errors_name_the_real_cause);

    RUN(issue17_item1_output_is_an_input_or_another_output);
    RUN(issue17_item1_output_is_a_part_of_a_shapefile_input);
    RUN(issue17_item3_output_is_not_a_regular_file);
    RUN(issue17_item2_gpkg_keeps_its_other_layers_and_item6_its_mode);
    RUN(issue17_item6_a_replaced_output_keeps_its_mode);
    RUN(fuzz_regressions_replay);
    harness_remove_dir(tmpdir);
    return harness_done();
}
