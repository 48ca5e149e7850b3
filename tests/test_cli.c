/*
 * test_cli.c — the dispflow command as a user meets it: help that teaches,
 * exit codes by class of failure, the balance printed by join, and the
 * reconciliation summary of check.
 */
#include "dispflow.h"
#include "harness.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#define ADM2_SHP SHARED_DATA "/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm2_cso_20190603.shp"
#define ET       SHARED_DATA "/synthetic_et_mosul/records.csv"

static char tmpdir[] = "/tmp/dispflow-cli-XXXXXX";
static char out[1 << 16];
static char dispflow[512] = "build/dispflow"; /* beside this test's folder: BUILD/dispflow */

/* Run the command line (stdout and stderr into out); its exit code. */
static int run(const char *args) { return harness_run_cli(dispflow, args, out, sizeof out); }

TEST(help_and_usage_errors)
{
    EXPECT_INT(run("--help"), 0);
    EXPECT(strstr(out, "check") && strstr(out, "join") && strstr(out, "sample"));
    EXPECT_INT(run("join --help"), 0);
    EXPECT(strstr(out, "--snapshots") && strstr(out, "--aliases") && strstr(out, "--prefer"));
    EXPECT_INT(run("version"), 0);
    EXPECT(strstr(out, "GDAL") && strstr(out, "PROJ") && strstr(out, "GEOS"));
    EXPECT_INT(run("join --records x.csv"), df_status_exit_code(DF_EINVAL));
    EXPECT(strstr(out, "missing --boundaries") != NULL);
    EXPECT_INT(run("join --records x.csv --boundaries y.shp --level adm9 -o z.csv"), df_status_exit_code(DF_EINVAL));
    EXPECT_INT(run("frobnicate"), 2);
}

/* issue 17 item 22: "dispflow help" works, and typos get a "did you mean" */
TEST(help_verb_and_did_you_mean)
{
    EXPECT_INT(run("help"), 0);
    EXPECT(strstr(out, "usage: dispflow VERB") != NULL);
    EXPECT_INT(run("help join"), 0);
    EXPECT(strstr(out, "usage: dispflow join") && strstr(out, "--snapshots"));
    EXPECT_INT(run("help density"), 0);
    EXPECT(strstr(out, "usage: dispflow density") != NULL);
    EXPECT_INT(run("jion"), 2);
    EXPECT(strstr(out, "dispflow: unknown verb jion (did you mean join?)") != NULL);
    EXPECT_INT(run("join --records x.csv --recods y.csv"), 2);
    EXPECT(strstr(out, "unknown option --recods (did you mean --records?)") != NULL);
    EXPECT_INT(run("join --records x.csv --layer y"), 2);
    EXPECT(strstr(out, "unknown option --layer (did you mean --records-layer or --boundaries-layer?)") != NULL);
    EXPECT_INT(run("density --records x.csv --radus 300"), 2);
    EXPECT(strstr(out, "(did you mean --radius?)") != NULL);
    EXPECT_INT(run("run job.ini --ouptut x"), 2);
    EXPECT(strstr(out, "unknown option --ouptut (did you mean --output?)") != NULL);
    EXPECT_INT(run("join --records x.csv --frobnicate"), 2);
    EXPECT(strstr(out, "unknown option --frobnicate\n") != NULL); /* nothing close: no guess */
}

/* issue 17 item 30: -q keeps only errors, for every verb (sample refused it) */
TEST(sample_quiet_item30)
{
    char args[512], path[300];
    snprintf(path, sizeof path, "%s/quiet.csv", tmpdir);
    snprintf(args, sizeof args, "sample -q -o %s", path);
    EXPECT_INT(run(args), 0);
    EXPECT_STR(out, "");
    FILE *f = fopen(path, "r");
    char line[256] = "";
    EXPECT(f && fgets(line, sizeof line, f) && !strncmp(line, "Date,", 5));
    if (f) fclose(f);
    snprintf(args, sizeof args, "sample -o %s", path);
    EXPECT_INT(run(args), 0);
    EXPECT(strstr(out, "wrote ") != NULL);
}

TEST(errors_name_the_input)
{
    char args[1024];
    snprintf(args, sizeof args,
             "join --records %s/none.csv --boundaries shapes/iraq_adm1_naturalearth.geojson -o %s/o.csv", tmpdir,
             tmpdir);
    EXPECT_INT(run(args), df_status_exit_code(DF_EIO));
    EXPECT(strstr(out, "none.csv") != NULL);
    snprintf(args, sizeof args, "join --records %s/none.csv --boundaries %s/none.shp -o %s/o.csv", tmpdir, tmpdir,
             tmpdir);
    EXPECT_INT(run(args), df_status_exit_code(DF_EIO));
    EXPECT(strstr(out, "none.shp") != NULL);
}

TEST(join_prints_the_balance)
{
    NEED_FILE(ET);
    NEED_FILE(ADM2_SHP);
    char args[1024];
    snprintf(args, sizeof args, "join --records " ET " --boundaries " ADM2_SHP " -o %s/d.geojson --log %s/log.csv",
             tmpdir, tmpdir);
    EXPECT_INT(run(args), 0);
    EXPECT(strstr(out, "balance: 3578 + 1 + 0 + 0 + 0 + 4 = 3583 = 3583 rows read") != NULL);
    /* issue 11 trap 3: no kind given, districts on several dates: both readings told */
    EXPECT(strstr(out, "no kind given, and units have rows on several dates") != NULL);
    EXPECT(strstr(out, "read as increments (rows added up), 463,692 displaced") != NULL);
    EXPECT(strstr(out, "coordinates swapped and put right 49") != NULL);
    /* an unknown output format is a usage error, and nothing is written */
    snprintf(args, sizeof args, "join --records " ET " --boundaries " ADM2_SHP " -o %s/d.xyz", tmpdir);
    EXPECT_INT(run(args), df_status_exit_code(DF_EINVAL));
}

TEST(check_reports_and_strict_fails)
{
    NEED_FILE(ET);
    NEED_FILE(ADM2_SHP);
    EXPECT_INT(run("check -q --records " ET " --boundaries " ADM2_SHP), 0);
    EXPECT(strstr(out, "3583 rows: 3578 matched, 1 unmatched") != NULL);
    EXPECT(strstr(out, "Nineveh") && strstr(out, "Ninewa")); /* an alias, reported */
    EXPECT(strstr(out, "unmatched names:") && strstr(out, "Atlantis"));
    EXPECT_INT(run("check -q --strict --records " ET " --boundaries " ADM2_SHP), df_status_exit_code(DF_EUNMATCHED));
    /* without the alias table, Nineveh is unmatched and its closest candidate shown */
    EXPECT_INT(run("check -q --no-aliases --records " ET " --boundaries " ADM2_SHP), 0);
    EXPECT(strstr(out, "Nineveh") && strstr(out, "closest: Ninewa 0.57"));
}

TEST(flows_writes_lines_matrix_and_balance)
{
    NEED_FILE(ET);
    NEED_FILE(ADM2_SHP);
    char args[1024], path[300];
    snprintf(args, sizeof args,
             "flows --records " ET " --boundaries " ADM2_SHP
             " --origins corridor --step month -o %s/f.geojson --nodes %s/n.geojson --matrix %s/od.csv --hxl",
             tmpdir, tmpdir, tmpdir);
    EXPECT_INT(run(args), 0);
    EXPECT(strstr(out, "in flows") && strstr(out, "from other origins") && strstr(out, "flows written"));
    snprintf(path, sizeof path, "%s/od.csv", tmpdir);
    FILE *f = fopen(path, "r");
    char line[512] = "";
    EXPECT(f && fgets(line, sizeof line, f) && fgets(line, sizeof line, f));
    EXPECT(strncmp(line, "#adm2+code+origin", 17) == 0); /* the HXL row */
    if (f) fclose(f);
    EXPECT_INT(run("flows --records x.csv --boundaries y.shp --step fortnight -o z.geojson"),
               df_status_exit_code(DF_EINVAL));
    EXPECT_INT(run("flows --help"), 0);
    EXPECT(strstr(out, "--origins") && strstr(out, "corridor") && strstr(out, "--net"));
}

/* issue 17 item 31: every GeoJSON dispflow writes (join's units, flows'
 * lines and nodes) passes an RFC 7946 check made with Python's json module
 * alone (tests/peers/geojson_rfc7946.py): no crs member, lon/lat in range
 * with at most 7 decimals, exteriors counter-clockwise and holes clockwise
 * by the shoelace formula, a bbox (-co WRITE_BBOX=YES) equal to the
 * positions' extent. The boundaries given are wound the wrong way (a
 * clockwise exterior around a counter-clockwise hole, 15 decimals): the
 * writer turns them. The checker is first shown to catch that input. */
TEST(geojson_outputs_follow_rfc7946_item31)
{
    char args[4096], bnd[300], rec[300];
    snprintf(bnd, sizeof bnd, "%s/wound.geojson", tmpdir);
    snprintf(rec, sizeof rec, "%s/wound.csv", tmpdir);
    FILE *f = fopen(bnd, "w");
    if (!f) return;
    fputs("{\"type\":\"FeatureCollection\",\"features\":["
          "{\"type\":\"Feature\",\"properties\":{\"ADM1_PCODE\":\"IQG01\",\"ADM1_EN\":\"Ring\"},"
          "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":["
          "[[44.000000000000001,33],[44,34],[45,34],[45,33],[44.000000000000001,33]],"
          "[[44.25,33.25],[44.75,33.25],[44.75,33.75],[44.25,33.75],[44.25,33.25]]]}},"
          "{\"type\":\"Feature\",\"properties\":{\"ADM1_PCODE\":\"IQG02\",\"ADM1_EN\":\"Parts\"},"
          "\"geometry\":{\"type\":\"MultiPolygon\",\"coordinates\":["
          "[[[46,33],[46,33.5],[46.123456789012345,33.5],[46.5,33],[46,33]]],"
          "[[[47,33],[47,33.5],[47.5,33.5],[47,33]]]]}}]}\n",
          f);
    fclose(f);
    f = fopen(rec, "w");
    if (!f) return;
    fputs("Date,Governorate,Latitude,Longitude,Individuals,Governorate of Origin\n"
          "2016-10-17,Ring,33.1,44.1,60,Parts\n2016-10-18,Parts,33.2,46.1,30,Ring\n",
          f);
    fclose(f);
    snprintf(args, sizeof args, "/usr/bin/python3 tests/peers/geojson_rfc7946.py %s > /dev/null", bnd);
    EXPECT(system(args) != 0); /* the input breaks the rules the outputs must keep */
    snprintf(args, sizeof args,
             "join -q --records %s --boundaries %s --level adm1 -o %s/units.geojson && "
             "%s join -q --records %s --boundaries %s --level adm1 -o %s/units-bbox.geojson -co WRITE_BBOX=YES && "
             "%s flows -q --records %s --boundaries %s --origin-level adm1 --dest-level adm1 -o %s/lines.geojson "
             "--nodes %s/nodes.geojson",
             rec, bnd, tmpdir, dispflow, rec, bnd, tmpdir, dispflow, rec, bnd, tmpdir, tmpdir);
    EXPECT_INT(run(args), 0);
    if (out[0]) printf("  %s", out);
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 tests/peers/geojson_rfc7946.py %s/units.geojson %s/units-bbox.geojson "
             "%s/lines.geojson %s/nodes.geojson 2>&1",
             tmpdir, tmpdir, tmpdir, tmpdir);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = '\0';
    EXPECT_INT(p ? pclose(p) : -1, 0);
    printf("%s", out);
    EXPECT(strstr(out, "units.geojson: 2 features, 4 rings, max 7 decimals, bbox 0") != NULL);
    EXPECT(strstr(out, "units-bbox.geojson: 2 features, 4 rings, max 7 decimals, bbox 3") != NULL);
    EXPECT(strstr(out, "lines.geojson: 2 features, 0 rings") != NULL);
    EXPECT(strstr(out, "nodes.geojson: 2 features, 0 rings") != NULL);
}

/* density --step month: one raster per month on the whole period's grid;
 * the months' people add up to the whole period's */
TEST(density_per_period)
{
    NEED_FILE(ET);
    char args[1024];
    snprintf(args, sizeof args,
             "density --records " ET " --people displaced --radius 5000 --pixel 2000 --from 2016-10-17 "
             "--as-of 2017-01-31 --step month -o %s/per.tif",
             tmpdir);
    EXPECT_INT(run(args), 0);
    double whole = -1, months = 0, people;
    int n = 0;
    const char *p = strstr(out, "; total ");
    if (p) whole = atof(p + 8);
    for (p = out; (p = strstr(p, ".tif (")); p++) { /* "wrote OUT_day.tif (N points, P people)" */
        const char *q = strstr(p, " points, ");
        if (!q) break;
        people = atof(q + 9);
        months += people, n++;
    }
    EXPECT_INT(n, 4);                 /* Oct (from the 17th), Nov, Dec, Jan */
    EXPECT_NEAR(months, whole, 1e-6); /* integer counts: exact */
    EXPECT(whole > 0);
    EXPECT(strstr(out, "per_2016-11-01.tif") != NULL);
}

/* A small table of points around Mosul, dated through 2016: n rows. */
static void write_points(const char *path, int n)
{
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "date,lon,lat,individuals,governorate\n");
    unsigned x = 2016;
    for (int i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        double a = (x >> 8) % 10000 / 10000.0, b = (x >> 4) % 9973 / 9973.0;
        fprintf(f, "2016-%02d-%02d,%.5f,%.5f,%d,Ninawa\n", 1 + i % 12, 1 + i % 28, 42 + 2 * a, 35 + 2 * b, 5 + i % 7);
    }
    fclose(f);
}

/* Files in dir whose name holds part. */
static int count_files(const char *dir, const char *part)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, part)) n++;
    if (d) closedir(d);
    return n;
}

/* issue 17 items 8, 16, 17: options that make the work unbounded or the
 * raster meaningless are refused before any work, exit 2, with a message
 * naming the option and the limit, and no file written. */
TEST(density_refuses_unbounded_work_item8_item16)
{
    char args[2048], pts[600], dir[600];
    snprintf(dir, sizeof dir, "%s/refused", tmpdir);
    mkdir(dir, 0755);
    snprintf(pts, sizeof pts, "%s/points.csv", tmpdir);
    write_points(pts, 50);
    static const struct {
        const char *opts, *said;
    } cases[] = {
        {"--radius 1e9 --pixel 100 -te 330000 4020000 331000 4021000", "limit of 1000 pixels"},
        {"--radius 10000 --pixel 1 -te 330000 4020000 331000 4021000", "limit of 1000 pixels"},
        {"--radius 0.001 --pixel 0.0001 -te 330000 4020000 330001 4020001", "--max-pixels"},
        {"--radius 0.001 --pixel 1000", "--small-radius"},
        {"--radius 1e-300 --pixel 1000 --small-radius", "below the limit of 0.001 m"},
        {"--radius inf --pixel 1000", "--radius"},
        {"--radius nan --pixel 1000", "--radius"},
        {"--radius 1000 --pixel inf", "--pixel"},
        {"--radius 1000 --pixel 100 -te 0 0 1e300 1e300", "-te"},
        {"--radius 1000 --pixel 100 -te 0 0 inf 1", "-te"},
        {"--radius 1000 --pixel 100 --max-pixels 10 -te 330000 4020000 331000 4021000", "limit of 10 pixels"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(args, sizeof args, "density --records %s -t_srs EPSG:32638 %s -o %s/d.tif", pts, cases[i].opts, dir);
        EXPECT_INT(run(args), df_status_exit_code(DF_EINVAL));
        if (!strstr(out, cases[i].said)) HARNESS_FAIL("%s: '%s' not in: %s", cases[i].opts, cases[i].said, out);
    }
    EXPECT_INT(count_files(dir, "d."), 0);
    /* asked for, a radius below the pixel is accepted */
    snprintf(args, sizeof args,
             "density --records %s -t_srs EPSG:32638 --radius 500 --pixel 1000 --small-radius -o %s/d.tif", pts, dir);
    EXPECT_INT(run(args), 0);
}

/* issue 17 item 9: --step counts its periods before any work and refuses
 * more than --max-periods (1000 by default); stopped (Ctrl-C), it leaves
 * nothing behind: no raster of a period, no staging folder. */
TEST(density_periods_capped_and_nothing_left_item9)
{
    char args[2048], pts[600], dir[600];
    snprintf(dir, sizeof dir, "%s/periods", tmpdir);
    mkdir(dir, 0755);
    snprintf(pts, sizeof pts, "%s/points.csv", tmpdir);
    write_points(pts, 400);
    snprintf(args, sizeof args,
             "density --records %s --radius 5000 --pixel 1000 --from 1900-01-01 --as-of 2199-12-31 --step day "
             "-o %s/per.tif",
             pts, dir);
    EXPECT_INT(run(args), df_status_exit_code(DF_EINVAL));
    EXPECT(strstr(out, "more than 1000 periods") && strstr(out, "--max-periods"));
    snprintf(args, sizeof args,
             "density --records %s --radius 5000 --pixel 1000 --from 2016-01-01 --as-of 2016-04-30 --step month "
             "--max-periods 3 -o %s/per.tif",
             pts, dir);
    EXPECT_INT(run(args), df_status_exit_code(DF_EINVAL));
    EXPECT(strstr(out, "more than 3 periods") != NULL);
    EXPECT_INT(count_files(dir, "per"), 0);
    /* two years of days, interrupted (SIGINT, as Ctrl-C) once the first
     * period's raster is written: mid-way, whatever the machine's load */
    int fd[2];
    if (pipe(fd) != 0) return;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 2), close(fd[0]), close(fd[1]);
        alarm(120); /* never hang the suite */
        char out_arg[700];
        snprintf(out_arg, sizeof out_arg, "%s/per.tif", dir);
        execl(dispflow, "dispflow", "density", "--records", pts, "--radius", "5000", "--pixel", "100", "--from",
              "2016-01-01", "--as-of", "2017-12-31", "--step", "day", "-o", out_arg, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    FILE *err = fdopen(fd[0], "r");
    char line[1024];
    int periods = 0;
    while (!periods && err && fgets(line, sizeof line, err)) periods = strstr(line, "wrote ") && strstr(line, "per_");
    EXPECT(periods);
    kill(pid, SIGINT);
    while (err && fgets(line, sizeof line, err)) {}
    if (err) fclose(err);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == df_status_exit_code(DF_ECANCELLED));
    EXPECT_INT(count_files(dir, "per"), 0);
    EXPECT_INT(count_files(dir, ".dispflow-periods-"), 0);
}

/* issue 17 item 8: `run` stops promptly on SIGINT while the density grid is
 * made, even when a band of rows takes seconds, and leaves no temporary
 * folder and no bundle. */
TEST(run_stops_promptly_on_sigint_item8)
{
    char pts[600], job[600], cwd[1024];
    if (!getcwd(cwd, sizeof cwd)) return;
    snprintf(pts, sizeof pts, "%s/many.csv", tmpdir);
    write_points(pts, 100000);
    snprintf(job, sizeof job, "%s/heavy.ini", tmpdir);
    FILE *f = fopen(job, "w");
    if (!f) return;
    /* R = 1000 pixels: every disc covers the whole grid of ~2000 x 1800 */
    fprintf(f,
            "[job]\noutput = heavy\n[records]\npath = many.csv\n[boundaries]\nadm1 = "
            "%s/shapes/iraq_adm1_naturalearth.geojson\n[flows]\nenabled = no\n[report]\nmaps = no\n"
            "[density]\nradius = 500000\npixel = 500\n",
            cwd);
    fclose(f);
    int fd[2];
    if (pipe(fd) != 0) return;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 2), close(fd[0]), close(fd[1]);
        alarm(120); /* never hang the suite */
        execl(dispflow, "dispflow", "run", "--json-progress", job, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    FILE *err = fdopen(fd[0], "r");
    char line[512];
    int reading = 0, gridding = 0;
    while (!gridding && err && fgets(line, sizeof line, err)) {
        if (strstr(line, "\"reading records\"")) reading = 1; /* the one read of the run (issue 12 item 1) */
        if (reading && strstr(line, "\"stage\": \"density\"")) gridding = 1;
    }
    EXPECT(gridding);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    kill(pid, SIGINT);
    while (err && fgets(line, sizeof line, err)) {}
    int status = 0;
    waitpid(pid, &status, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (err) fclose(err);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("  stopped %.3f s after SIGINT, in the density grid\n", secs);
    EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == df_status_exit_code(DF_ECANCELLED));
    /* not a timing target (those live in benchmarks): before the fix, a band
     * of rows took about 30 s here before the cancel was seen */
    EXPECT(secs < 10);
    EXPECT_INT(count_files(tmpdir, ".tmp-"), 0);
    EXPECT_INT(count_files(tmpdir, "heavy"), 1); /* the job file only: no bundle */
}

/* issue 13 item 8: the weekly routine. output = weekly_{as_of} and
 * `run JOB --as-of DATE`: each week its own folder, last week's kept; the
 * run ends with the headline figures (truth_totals.csv) and the balance. */
TEST(run_as_of_weekly_folders_and_summary_item8)
{
    NEED_FILE(ET);
    NEED_FILE(ADM2_SHP);
    char job[1024], args[2048], cwd[1024], text[4096];
    if (!getcwd(cwd, sizeof cwd)) return;
    snprintf(job, sizeof job, "%s/weekly.ini", tmpdir);
    snprintf(text, sizeof text,
             "[job]\noutput = weekly_{as_of}\nfrom = 2016-10-17\n[records]\npath = %s/" ET "\n"
             "[boundaries]\nadm2 = %s/" ADM2_SHP "\n[density]\nenabled = no\n",
             cwd, cwd);
    FILE *f = fopen(job, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
    snprintf(args, sizeof args, "run %s --as-of 2017-04-27", job);
    EXPECT_INT(run(args), 0);
    EXPECT(strstr(out, "as of 2017-04-27, admin 2: displaced 441,510, returned 105,660, still displaced 335,850"));
    snprintf(args, sizeof args, "run %s --as-of 2017-05-02", job);
    EXPECT_INT(run(args), 0);
    EXPECT(strstr(out, "wrote ") && strstr(out, "weekly_2017-05-02/"));
    EXPECT(strstr(out, "as of 2017-05-02, admin 2: displaced 463,692, returned 105,660, still displaced 358,032"));
    EXPECT(strstr(out, "balance: 3,583 rows = 3,578 matched + 1 unmatched + 0 outside the period + 0 filtered + 0 "
                       "other level + 4 rejected\n"));
    char path[1200];
    struct stat sb;
    snprintf(path, sizeof path, "%s/weekly_2017-04-27/manifest.json", tmpdir);
    EXPECT(stat(path, &sb) == 0); /* last week's bundle kept */
    snprintf(args, sizeof args, "run %s --as-of 2nd-May", job);
    EXPECT_INT(run(args), df_status_exit_code(DF_EINVAL));
    EXPECT(strstr(out, "--as-of: not a date"));
    snprintf(args, sizeof args, "run %s", job); /* no date at all: the folder cannot be named */
    EXPECT_INT(run(args), df_status_exit_code(DF_EINVAL));
    EXPECT(strstr(out, "needs the as-of date"));
    snprintf(args, sizeof args, "run -q %s --as-of 2017-05-02", job);
    EXPECT_INT(run(args), 0);
    EXPECT(!strstr(out, "balance")); /* -q: no summary */
}

int main(int argc, char **argv)
{
    harness_cli_path(argc, argv, dispflow, sizeof dispflow); /* BUILD/tests/NAME -> BUILD/dispflow */
    if (!mkdtemp(tmpdir)) return 1;
    RUN(help_and_usage_errors);
    RUN(help_verb_and_did_you_mean);
    RUN(sample_quiet_item30);
    RUN(errors_name_the_input);
    RUN(join_prints_the_balance);
    RUN(check_reports_and_strict_fails);
    RUN(flows_writes_lines_matrix_and_balance);
    RUN(geojson_outputs_follow_rfc7946_item31);
    RUN(density_per_period);
    RUN(density_refuses_unbounded_work_item8_item16);
    RUN(density_periods_capped_and_nothing_left_item9);
    RUN(run_stops_promptly_on_sigint_item8);
    RUN(run_as_of_weekly_folders_and_summary_item8);
    harness_remove_dir(tmpdir);
    return harness_done();
}
