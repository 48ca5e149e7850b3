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
#include <sys/stat.h>
#include <sys/wait.h>

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
static int run(const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", dispflow, args);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = '\0';
    int status = p ? pclose(p) : -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

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
        printf("SKIPPED %s: ogr2ogr is absent\n", __func__);
        return;
    }
    /* GDAL opens the .shp without attributes: no field at all, and the
     * message asks whether the .dbf is missing */
    const char *shp = make_shapefile("nodbf", NULL, "dbf");
    join_fails(BAD "count_over_32bit.csv", shp, df_status_exit_code(DF_ESCHEMA), "nodbf/u.shp", "is its .dbf missing?");
}

TEST(shapefile_without_shx)
{
    if (!have_ogr2ogr()) {
        printf("SKIPPED %s: ogr2ogr is absent\n", __func__);
        return;
    }
    /* GDAL refuses it and says how to restore the index: exit 4 */
    const char *shp = make_shapefile("noshx", NULL, "shx");
    join_fails(BAD "count_over_32bit.csv", shp, df_status_exit_code(DF_EIO), "noshx/u.shp", "SHAPE_RESTORE_SHX");
}

TEST(shapefile_without_prj)
{
    if (!have_ogr2ogr()) {
        printf("SKIPPED %s: ogr2ogr is absent\n", __func__);
        return;
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
        printf("SKIPPED %s: ogr2ogr is absent\n", __func__);
        return;
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
    join_ok(BAD "count_over_32bit.csv", BAD "duplicate_pcodes.geojson");
    EXPECT(strstr(out, "warning: " BAD "duplicate_pcodes.geojson: P-code IQG01 is used by two units (Alpha, Beta)") !=
           NULL);
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
    RUN(xlsx_with_merged_header_cells);
    RUN(fuzz_regressions_replay);
    harness_remove_dir(tmpdir);
    return harness_done();
}
