/*
 * test_periods.c — one calendar for flows and density, and one delimiter
 * reader for the CLI and the job (issue 15 item 2, its two bugs): the
 * library's df_period_of / df_period_next / df_step_parse and
 * df_delimiter_parse, and the CLI using them.
 */
#include "dispflow.h"
#include "harness.h"

#include <dirent.h>
#include <sys/wait.h>

#define ET       SHARED_DATA "/synthetic_et_mosul/records.csv"
#define ADM2_SHP SHARED_DATA "/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm2_cso_20190603.shp"

static char tmpdir[] = "/tmp/dispflow-periods-XXXXXX";
static char dispflow[600] = "build/dispflow";
static char out[1 << 16];

static int run(const char *args) { return harness_run_cli(dispflow, args, out, sizeof out); }

static int32_t day(const char *s)
{
    int32_t d = DF_NO_DATE;
    df_date_parse(s, &d);
    return d;
}

static void expect_period(const char *date, df_step step, const char *first, const char *last)
{
    int32_t s, e;
    char a[11], b[11];
    df_period_of(day(date), step, &s, &e);
    df_date_format(s, a), df_date_format(e, b);
    EXPECT_STR(a, first);
    EXPECT_STR(b, last);
}

TEST(calendar_periods)
{
    expect_period("2016-10-17", DF_STEP_MONTH, "2016-10-01", "2016-10-31");
    expect_period("2016-12-31", DF_STEP_MONTH, "2016-12-01", "2016-12-31");
    expect_period("2016-02-10", DF_STEP_MONTH, "2016-02-01", "2016-02-29"); /* leap year */
    expect_period("2016-10-17", DF_STEP_WEEK, "2016-10-17", "2016-10-23");  /* a Monday */
    expect_period("2016-10-23", DF_STEP_WEEK, "2016-10-17", "2016-10-23");  /* a Sunday */
    expect_period("1970-01-01", DF_STEP_WEEK, "1969-12-29", "1970-01-04");  /* a Thursday */
    expect_period("2017-05-02", DF_STEP_DAY, "2017-05-02", "2017-05-02");
    expect_period("2017-05-02", DF_STEP_NONE, "", "");
    char next[11];
    df_date_format(df_period_next(day("2016-12-17"), DF_STEP_MONTH), next);
    EXPECT_STR(next, "2017-01-01");
    df_date_format(df_period_next(day("2016-10-19"), DF_STEP_WEEK), next);
    EXPECT_STR(next, "2016-10-24");
    /* one step earlier, as the report's change column counts it (run.c's own
     * calendar before: issue 15 item 2) */
    df_date_format(df_period_prev(day("2017-03-31"), DF_STEP_MONTH), next);
    EXPECT_STR(next, "2017-02-28");
    df_date_format(df_period_prev(day("2016-03-31"), DF_STEP_MONTH), next);
    EXPECT_STR(next, "2016-02-29"); /* leap year */
    df_date_format(df_period_prev(day("2017-01-15"), DF_STEP_MONTH), next);
    EXPECT_STR(next, "2016-12-15");
    df_date_format(df_period_prev(day("2016-10-19"), DF_STEP_WEEK), next);
    EXPECT_STR(next, "2016-10-12");
    df_date_format(df_period_prev(day("2017-03-01"), DF_STEP_DAY), next);
    EXPECT_STR(next, "2017-02-28");
    EXPECT_INT(df_period_prev(day("2017-03-01"), DF_STEP_NONE), DF_NO_DATE);
    EXPECT_INT(df_step_parse("month"), DF_STEP_MONTH);
    EXPECT_INT(df_step_parse("Round"), DF_STEP_DAY);
    EXPECT_INT(df_step_parse("fortnight"), -1);
}

TEST(delimiter_names)
{
    char c = 0;
    EXPECT_INT(df_delimiter_parse("semicolon", &c), 0);
    EXPECT_INT(c, ';');
    EXPECT_INT(df_delimiter_parse("TAB", &c), 0);
    EXPECT_INT(c, '\t');
    EXPECT_INT(df_delimiter_parse("|", &c), 0);
    EXPECT_INT(c, '|');
    EXPECT_INT(df_delimiter_parse("s", &c), -1);
    EXPECT_INT(df_delimiter_parse("", &c), -1);
    EXPECT_INT(df_delimiter_parse(";;", &c), -1);
}

/* --delimiter semicolon on the CLI was read as 's': the header split on s
 * found no count column. Now it is the job's semicolon. */
TEST(cli_delimiter_semicolon)
{
    char path[700], csv[700], args[2048];
    snprintf(path, sizeof path, "%s/semi.csv", tmpdir);
    snprintf(csv, sizeof csv, "%s/semi-out.csv", tmpdir);
    FILE *f = fopen(path, "w");
    if (!f) SKIP("cannot write %s", path);
    fputs("Date;Governorate;District;Families;Individuals\n2016-11-01;Ninewa;Mosul;2;12\n"
          "2016-11-02;Erbil;Makhmur;1;6\n",
          f);
    fclose(f);
    snprintf(args, sizeof args,
             "join --records %s --boundaries shapes/iraq_adm1_naturalearth.geojson --level adm1 "
             "--delimiter semicolon -o %s",
             path, csv);
    EXPECT_INT(run(args), 0);
    EXPECT(strstr(out, "2 matched") != NULL || strstr(out, "2 rows") != NULL);
    long displaced = 0;
    f = fopen(csv, "r");
    char line[1024];
    while (f && fgets(line, sizeof line, f)) { /* adm_pcode,adm_name,parent_pcode,displaced,... */
        char *p = line;
        for (int i = 0; i < 3 && p; i++)
            if ((p = strchr(p, ','))) p++;
        if (p && line[0] != '#' && strncmp(line, "adm_pcode", 9)) displaced += atol(p);
    }
    if (f) fclose(f);
    EXPECT_INT(displaced, 18);
    snprintf(args, sizeof args, "join --records %s --boundaries x.shp --delimiter s -o %s/never.csv", path, tmpdir);
    EXPECT_INT(run(args), df_status_exit_code(DF_EINVAL));
    EXPECT(strstr(out, "--delimiter: 's' is not comma, semicolon, tab or pipe") != NULL);
}

/* flows --step month and density --step month label October 2016 alike:
 * 2016-10-01, though counting starts on the 17th (it was 2016-10-17 in
 * density's file names). */
TEST(flows_and_density_label_months_alike)
{
    NEED_FILE(ET);
    NEED_FILE(ADM2_SHP);
    char args[2048], flows_months[256] = "", density_months[256] = "";
    snprintf(args, sizeof args,
             "flows -q --records " ET " --boundaries " ADM2_SHP " --from 2016-10-17 --to 2017-01-31 --step month "
             "--matrix %s/od.csv",
             tmpdir);
    EXPECT_INT(run(args), 0);
    snprintf(args, sizeof args, "%s/od.csv", tmpdir);
    FILE *f = fopen(args, "r");
    char line[1024];
    while (f && fgets(line, sizeof line, f)) { /* ...,status,period_start,period_end,... */
        char *p = line;
        for (int i = 0; i < 5 && p; i++)
            if ((p = strchr(p, ','))) p++;
        if (!p || strncmp(p, "20", 2)) continue;
        char month[12];
        snprintf(month, sizeof month, "%.10s ", p);
        if (!strstr(flows_months, month)) strcat(flows_months, month);
    }
    if (f) fclose(f);
    snprintf(args, sizeof args,
             "density -q --records " ET " --radius 5000 --pixel 4000 --from 2016-10-17 --as-of 2017-01-31 --step "
             "month -o %s/per.tif",
             tmpdir);
    EXPECT_INT(run(args), 0);
    /* OUT_yyyy-mm-dd.tif, in date order */
    const char *want[] = {"2016-10-01", "2016-11-01", "2016-12-01", "2017-01-01"};
    for (int i = 0; i < 4; i++) {
        char file[800];
        snprintf(file, sizeof file, "%s/per_%s.tif", tmpdir, want[i]);
        if (access(file, R_OK) == 0) strcat(density_months, want[i]), strcat(density_months, " ");
    }
    DIR *d = opendir(tmpdir);
    int rasters = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        rasters += !strncmp(e->d_name, "per_", 4) && strstr(e->d_name, ".tif") && !strstr(e->d_name, ".qml");
    if (d) closedir(d);
    EXPECT_INT(rasters, 4);
    EXPECT_STR(density_months, "2016-10-01 2016-11-01 2016-12-01 2017-01-01 ");
    EXPECT_STR(flows_months, density_months); /* matrix rows sorted by period */
}

int main(int argc, char **argv)
{
    harness_cli_path(argc, argv, dispflow, sizeof dispflow);
    if (!mkdtemp(tmpdir)) return 1;
    RUN(calendar_periods);
    RUN(delimiter_names);
    RUN(cli_delimiter_semicolon);
    RUN(flows_and_density_label_months_alike);
    harness_remove_dir(tmpdir);
    return harness_done();
}
