/*
 * test_cli.c — the dispflow command as a user meets it: help that teaches,
 * exit codes by class of failure, the balance printed by join, and the
 * reconciliation summary of check.
 */
#include "dispflow.h"
#include "harness.h"

#include <stdlib.h>
#include <sys/wait.h>

#define ADM2_SHP SHARED_DATA "/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm2_cso_20190603.shp"
#define ET       SHARED_DATA "/synthetic_et_mosul/records.csv"

static char tmpdir[] = "/tmp/dispflow-cli-XXXXXX";
static char out[1 << 16];
static char dispflow[512] = "build/dispflow"; /* beside this test's folder: BUILD/dispflow */

/* Run the command line (stdout and stderr into out); its exit code. */
static int run(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", dispflow, args);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = '\0';
    int status = p ? pclose(p) : -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

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
    EXPECT(strstr(out, "balance: 3578 + 1 + 0 + 4 = 3583 = 3583 rows read") != NULL);
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

/* density --step month: one raster per month on the whole period's grid;
 * the months' people add up to the whole period's */
TEST(density_per_period)
{
    NEED_FILE(ET);
    char args[1024];
    snprintf(args, sizeof args,
             "density --records " ET " --status displaced --radius 5000 --pixel 2000 --from 2016-10-17 "
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

int main(int argc, char **argv)
{
    harness_cli_path(argc, argv, dispflow, sizeof dispflow); /* BUILD/tests/NAME -> BUILD/dispflow */
    if (!mkdtemp(tmpdir)) return 1;
    RUN(help_and_usage_errors);
    RUN(help_verb_and_did_you_mean);
    RUN(errors_name_the_input);
    RUN(join_prints_the_balance);
    RUN(check_reports_and_strict_fails);
    RUN(flows_writes_lines_matrix_and_balance);
    RUN(density_per_period);
    harness_remove_dir(tmpdir);
    return harness_done();
}
