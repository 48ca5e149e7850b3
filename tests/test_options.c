/*
 * test_options.c — one option model (issue 15 item 2): every option is a
 * row of df__options, and the job reader, the argv parser and --help are
 * driven from it. The tests iterate the table itself, so that a row added
 * later is covered without a new test: its INI key and its CLI flag set the
 * same field to the same value, its default is the library's, --help lists
 * it with its default, and docs/cli.md and docs/jobs.md name it.
 */
#include "df_job.h"
#include "harness.h"

#include <ctype.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/dispflow-options-XXXXXX";
static char dispflow[600] = "build/dispflow";
static char out[1 << 17];

static int run(const char *args) { return harness_run_cli(dispflow, args, out, sizeof out); }

/* The command lines: each verb's, and run's (DF__VERB_RUN is the job file). */
static const int argv_verbs[] = {DF__VERB_JOIN, DF__VERB_CHECK, DF__VERB_FLOWS, DF__VERB_DENSITY, DF__VERB_RUN_ARGV};
#define NVERBS ((int)(sizeof argv_verbs / sizeof *argv_verbs))

/* The first CLI verb a row belongs to. */
static int first_verb(const df__opt *row)
{
    for (int i = 0; i < NVERBS; i++)
        if (row->verbs & argv_verbs[i]) return argv_verbs[i];
    return 0;
}

static const char *verb_name(int verb)
{
    return verb == DF__VERB_JOIN      ? "join"
           : verb == DF__VERB_CHECK   ? "check"
           : verb == DF__VERB_FLOWS   ? "flows"
           : verb == DF__VERB_DENSITY ? "density"
                                      : "run";
}

/* A value of the row's type, not its CLI default where the type allows. */
static const char *sample(const df__opt *row, const char *file, char *buf, size_t cap)
{
    df__opts o;
    char cur[4096];
    switch (row->type) {
    case DF__OPT_INPUT:
        return file;
    case DF__OPT_OUTPUT: /* absolute: the job resolves no further */
        snprintf(buf, cap, "%s/bundle", tmpdir);
        return buf;
    case DF__OPT_DATE:
        return "2016-11-05";
    case DF__OPT_INT:
    case DF__OPT_COUNT:
        return "7";
    case DF__OPT_NUMBER:
        return "7.5";
    case DF__OPT_RATIO:
        return "0.25";
    case DF__OPT_BOOL:
    case DF__OPT_NOT:
        return row->flag && !strncmp(row->flag, "--no-", 5) ? "no" : "yes";
    case DF__OPT_CHOICE: {
        int n = 0;
        while (row->choices[n]) n++;
        df__opts_init(&o);
        const char *now = df__opt_format(row, df__opt_field(row, &o, NULL), cur, sizeof cur);
        snprintf(buf, cap, "%s", strcmp(now, row->choices[n - 1]) ? row->choices[n - 1] : row->choices[0]);
        return buf;
    }
    case DF__OPT_LEVEL:
        return "adm1";
    case DF__OPT_LEVELS:
        return "adm1, adm2";
    case DF__OPT_KERNEL:
        return "gaussian";
    case DF__OPT_DELIMITER:
        return "semicolon";
    case DF__OPT_STEP:
        return "week";
    case DF__OPT_LIST:
        return row->sep == '&' ? "a=1 & b=2,3" : "A, B";
    default:
        return "abc";
    }
}

/* issue 15 item 2: for every row with an INI key and a CLI flag, the key in a
 * job file and the flag on the command line set the same field to the same
 * value, and not to the default. */
TEST(every_key_and_its_flag_set_the_same_value)
{
    char file[700], ini[700], buf[256], a[4096], b[4096], c[4096], err[1200];
    snprintf(file, sizeof file, "%s/input.csv", tmpdir); /* absolute: the job resolves no further */
    snprintf(ini, sizeof ini, "%s/one.ini", tmpdir);
    FILE *f = fopen(file, "w");
    if (f) fputs("a,b\n", f), fclose(f);
    df_ctx *ctx = df_ctx_new();
    int rows = 0;
    for (int i = 0; i < df__noptions; i++) {
        const df__opt *row = &df__options[i];
        if (!row->key || !row->flag) continue;
        rows++;
        const char *v = sample(row, file, buf, sizeof buf);
        /* the job file */
        f = fopen(ini, "w");
        if (!f) SKIP("cannot write %s", ini);
        fprintf(f, "[%s]\n%s = %s\n", row->section, row->key, v);
        fclose(f);
        df_job *job = NULL;
        if (df__job_parse(ctx, ini, &job) != DF_OK) {
            printf("  [%s] %s = %s: %s\n", row->section, row->key, v, df_ctx_errmsg(ctx));
            EXPECT(0);
            continue;
        }
        const char *from_ini = df__opt_format(row, df__opt_field(row, &job->opts, job), a, sizeof a);
        /* the command line */
        df__opts o, fresh;
        df__opts_init(&o);
        df__opts_init(&fresh);
        char *argv[] = {(char *)row->flag, (char *)v, NULL};
        int nargs = row->type == DF__OPT_BOOL || row->type == DF__OPT_NOT ? 1 : 2;
        int rc = df__opts_parse_argv(&o, first_verb(row), nargs, argv, err, sizeof err);
        if (rc != 0) printf("  %s %s: %s\n", row->flag, nargs > 1 ? v : "", err);
        EXPECT_INT(rc, 0);
        const char *from_cli = df__opt_format(row, df__opt_field(row, &o, NULL), b, sizeof b);
        const char *before = df__opt_format(row, df__opt_field(row, &fresh, NULL), c, sizeof c);
        if (!from_ini || !from_cli || strcmp(from_ini, from_cli) != 0) {
            printf("  [%s] %s = %s gives '%s', %s gives '%s'\n", row->section, row->key, v, from_ini ? from_ini : "-",
                   row->flag, from_cli ? from_cli : "-");
            EXPECT(0);
        }
        if (from_cli && before && !strcmp(from_cli, before)) {
            printf("  %s %s left the default '%s'\n", row->flag, v, before);
            EXPECT(0);
        }
        df__opts_free(&o);
        df__opts_free(&fresh);
        df_job_free(job);
    }
    EXPECT(rows >= 30); /* the table is read, not skipped */
    df_ctx_free(ctx);
}

/* Every default written in the table as a value is what the library's
 * _init gives (the CLI's), and the job's own defaults are what a job file
 * without the key holds: --help and docs/jobs.md cannot drift from the code. */
TEST(defaults_in_the_table_are_the_code_s)
{
    char ini[700], why[400], a[4096], b[4096];
    snprintf(ini, sizeof ini, "%s/empty.ini", tmpdir);
    FILE *f = fopen(ini, "w");
    if (!f) SKIP("cannot write %s", ini);
    fputs("[job]\n", f);
    fclose(f);
    df_ctx *ctx = df_ctx_new();
    df_job *job = NULL;
    EXPECT_INT(df__job_parse(ctx, ini, &job), DF_OK);
    for (int i = 0; job && i < df__noptions; i++) {
        const df__opt *row = &df__options[i];
        df__opts o, set;
        df__opts_init(&o);
        df__opts_init(&set);
        if (row->flag && row->def && row->def[0] != '(' && row->in == DF__IN_OPTS) {
            EXPECT_INT(df__opt_set(row, df__opt_field(row, &set, NULL), row->def, why, sizeof why), 0);
            const char *lib = df__opt_format(row, df__opt_field(row, &o, NULL), a, sizeof a);
            const char *table = df__opt_format(row, df__opt_field(row, &set, NULL), b, sizeof b);
            if (!lib || !table || strcmp(lib, table)) {
                printf("  %s: the table says %s, the library's _init gives %s\n", row->flag, table ? table : "-",
                       lib ? lib : "-");
                EXPECT(0);
            }
        }
        const char *jd = row->job_def ? row->job_def : row->def;
        if (row->key && jd && jd[0] != '(') { /* the job's default, read as the key would be */
            struct df_job *probe = calloc(1, sizeof *probe);
            void *pf = df__opt_field(row, &probe->opts, probe);
            EXPECT_INT(df__opt_set(row, pf, jd, why, sizeof why), 0);
            const char *want = df__opt_format(row, pf, b, sizeof b);
            const char *have = df__opt_format(row, df__opt_field(row, &job->opts, job), a, sizeof a);
            if (!have || !want || strcmp(have, want)) {
                printf("  [%s] %s: the table says %s, a job without the key holds %s\n", row->section, row->key,
                       want ? want : "-", have ? have : "-");
                EXPECT(0);
            }
            if (row->type == DF__OPT_TEXT) free(*(char **)pf);
            free(probe);
        }
        df__opts_free(&o);
        df__opts_free(&set);
    }
    df_job_free(job);
    df_ctx_free(ctx);
}

/* The table is well formed: a flag once per verb, a key once per section,
 * every flag's value in the option set, shorthands to real flags. */
TEST(table_is_well_formed)
{
    EXPECT(df__noptions <= DF__MAX_OPTIONS);
    for (int i = 0; i < df__noptions; i++) {
        const df__opt *r = &df__options[i];
        EXPECT(r->help && r->help[0]);
        EXPECT(r->key || r->flag);
        /* a flag sets the option set; a flag of a key held by the job alone is
         * run's override, read into flag_at and handed to the job's setter */
        if (r->flag && r->in != DF__IN_OPTS && (!r->flag_at || (r->verbs & DF__VERBS_READ))) {
            printf("  %s: a flag must set the option set (or be run's override, with flag_at)\n", r->flag);
            EXPECT(0);
        }
        if (r->type == DF__OPT_CHOICE) EXPECT(r->choices != NULL);
        for (int k = 0; k < i; k++) {
            const df__opt *q = &df__options[k];
            if (r->flag && q->flag && !strcmp(r->flag, q->flag) &&
                (r->verbs & q->verbs & (DF__VERBS_READ | DF__VERB_RUN_ARGV))) {
                printf("  %s twice for one verb\n", r->flag);
                EXPECT(0);
            }
            if (r->key && q->key && !strcmp(r->key, q->key) && !strcmp(r->section, q->section)) {
                printf("  [%s] %s twice\n", r->section, r->key);
                EXPECT(0);
            }
        }
    }
    for (int i = 0; i < df__nshorthands; i++) {
        const df__shorthand *s = &df__shorthands[i];
        for (int iv = 0; iv < NVERBS; iv++) {
            int v = argv_verbs[iv];
            if (!(s->verbs & v)) continue;
            int found = 0;
            for (int k = 0; k < df__noptions; k++)
                found |= df__options[k].flag && !strcmp(df__options[k].flag, s->option) && (df__options[k].verbs & v);
            if (!found) {
                printf("  %s: %s is no option of %s\n", s->flag, s->option, verb_name(v));
                EXPECT(0);
            }
        }
    }
}

/* issue 15 item 2: `VERB --help` lists every option of the verb with its
 * default, from the table; run's too, where a flag of a job key defaults
 * to the job's key. */
TEST(help_lists_every_option_with_its_default)
{
    for (int iv = 0; iv < NVERBS; iv++) {
        int v = argv_verbs[iv];
        char args[64];
        snprintf(args, sizeof args, "%s --help", verb_name(v));
        EXPECT_INT(run(args), 0);
        for (int i = 0; i < df__noptions; i++) {
            const df__opt *r = &df__options[i];
            if (!r->flag || !(r->verbs & v)) continue;
            char line[128];
            snprintf(line, sizeof line, "\n  %s ", r->flag);
            const char *at = strstr(out, line);
            if (!at) {
                snprintf(line, sizeof line, "\n  %s\n", r->flag);
                at = strstr(out, line);
            }
            if (!at) {
                printf("  %s --help does not list %s\n", verb_name(v), r->flag);
                EXPECT(0);
                continue;
            }
            int job_key = v == DF__VERB_RUN_ARGV && r->key;
            if (!job_key && (!r->def || !strncmp(r->flag, "--no-", 5))) continue;
            const char *next = strstr(at + 1, "\n  -"), *blank = strstr(at + 1, "\n\n");
            if (!next || (blank && blank < next)) next = blank ? blank : at + strlen(at);
            char want[300];
            if (job_key) {
                snprintf(want, sizeof want, "(default: the job's [%s] %s)", r->section, r->key);
            } else {
                int paren = r->def[0] == '(';
                snprintf(want, sizeof want, "(default: %.*s)", (int)strlen(r->def) - 2 * paren, r->def + paren);
            }
            const char *d = strstr(at, want);
            if (!d || d > next) {
                printf("  %s --help: %s without %s\n", verb_name(v), r->flag, want);
                EXPECT(0);
            }
        }
    }
}

/* Unknown keys and flags, and bad values: the file and the line (INI) or
 * the flag (CLI), with "did you mean" where one is close; the key and the
 * bad value for a type error. */
TEST(unknown_and_bad_options_say_where_and_what)
{
    char ini[700], err[1200];
    df_ctx *ctx = df_ctx_new();
    df_job *job = NULL;
    snprintf(ini, sizeof ini, "%s/typo.ini", tmpdir);
    FILE *f = fopen(ini, "w");
    if (!f) SKIP("cannot write %s", ini);
    fputs("[density]\nradius = 300\npixle = 50\n", f);
    fclose(f);
    EXPECT_INT(df__job_parse(ctx, ini, &job), DF_EINVAL);
    EXPECT(strstr(df_ctx_errmsg(ctx), "typo.ini:3: [density] pixle: unknown key (did you mean pixel?)") != NULL);
    f = fopen(ini, "w");
    fputs("[density]\nradius = wide\n", f);
    fclose(f);
    EXPECT_INT(df__job_parse(ctx, ini, &job), DF_EINVAL);
    EXPECT(strstr(df_ctx_errmsg(ctx), "typo.ini:2: [density] radius: not a number > 0: 'wide'") != NULL);

    df__opts o;
    df__opts_init(&o);
    char *typo[] = {"--pixle", "50"};
    EXPECT_INT(df__opts_parse_argv(&o, DF__VERB_DENSITY, 2, typo, err, sizeof err), -1);
    EXPECT_STR(err, "unknown option --pixle (did you mean --pixel?)");
    char *bad[] = {"--radius", "wide"};
    EXPECT_INT(df__opts_parse_argv(&o, DF__VERB_DENSITY, 2, bad, err, sizeof err), -1);
    EXPECT_STR(err, "--radius: not a number > 0: 'wide'");
    char *missing[] = {"--radius"};
    EXPECT_INT(df__opts_parse_argv(&o, DF__VERB_DENSITY, 1, missing, err, sizeof err), -1);
    EXPECT_STR(err, "missing a value after --radius");
    char *choice[] = {"--prefer", "coordinates"};
    EXPECT_INT(df__opts_parse_argv(&o, DF__VERB_JOIN, 2, choice, err, sizeof err), -1);
    EXPECT_STR(err, "--prefer: 'coordinates' is not names or points");
    df__opts_free(&o);
    /* through the binary: the message and exit 2 */
    EXPECT_INT(run("flows --records x.csv --boundaries y.shp --orgins corridor"), 2);
    EXPECT(strstr(out, "dispflow: unknown option --orgins (did you mean --origins?)") != NULL);
    df_ctx_free(ctx);
}

/* density's --status was a filter of the rows while every other verb's is the
 * status of rows in tables without one: density's is --people now, the old
 * spelling is refused with what to use, and --status means one thing. */
TEST(density_people_and_records_status_are_distinct)
{
    char err[1200];
    df__opts o;
    df__opts_init(&o);
    char *old[] = {"--status", "returned"};
    EXPECT_INT(df__opts_parse_argv(&o, DF__VERB_DENSITY, 2, old, err, sizeof err), -1);
    EXPECT(strstr(err, "--people displaced|returned|all|still") != NULL);
    EXPECT(strstr(err, "--default-status") != NULL);
    char *people[] = {"--people", "returned", "--default-status", "returned"};
    EXPECT_INT(df__opts_parse_argv(&o, DF__VERB_DENSITY, 4, people, err, sizeof err), 0);
    EXPECT_INT(o.people, DF__PEOPLE_RETURNED);
    EXPECT_INT(o.ro.default_status, DF_RETURNED);
    df__opts_free(&o);
    df__opts_init(&o);
    char *join[] = {"--status", "returned"};
    EXPECT_INT(df__opts_parse_argv(&o, DF__VERB_JOIN, 2, join, err, sizeof err), 0);
    EXPECT_INT(o.ro.default_status, DF_RETURNED);
    EXPECT_INT(o.people, DF__PEOPLE_ALL); /* join has no --people */
    char *no_people[] = {"--people", "all"};
    EXPECT_INT(df__opts_parse_argv(&o, DF__VERB_JOIN, 2, no_people, err, sizeof err), -1);
    df__opts_free(&o);
    /* the binary refuses the old spelling before any work (exit 2, nothing written) */
    char args[1200], tif[800];
    snprintf(tif, sizeof tif, "%s/never.tif", tmpdir);
    snprintf(args, sizeof args, "density --records x.csv --pixel 100 --radius 500 --status still -o %s", tif);
    EXPECT_INT(run(args), 2);
    EXPECT(strstr(out, "density's --status is now --people") != NULL);
    EXPECT(access(tif, F_OK) != 0);
}

/* issue 15 item 2: run's command line is read through the table too: the
 * job file is its argument, a flag of a job key is held for the job's setter
 * (flag_at), unknown flags get "did you mean", and the binary hands the
 * overrides to the setters, whose checks and messages hold. */
TEST(run_flags_through_the_table)
{
    char err[1200];
    df__opts o;
    df__opts_init(&o);
    char *all[] = {"--output",  "out/{as_of}",  "job.ini",         "--as-of", "2017-05-02",
                   "--publish", "--new-series", "--json-progress", "--quiet", "-v"};
    EXPECT_INT(df__opts_parse_argv(&o, DF__VERB_RUN_ARGV, 10, all, err, sizeof err), 0);
    EXPECT_INT(o.args.n, 1);
    if (o.args.n == 1) EXPECT_STR(o.args.item[0], "job.ini");
    EXPECT(o.run_output && !strcmp(o.run_output, "out/{as_of}"));
    int32_t day;
    df_date_parse("2017-05-02", &day);
    EXPECT_INT(o.jo.as_of, day);
    EXPECT_INT(o.run_publish, 1);
    EXPECT_INT(o.run_new_series, 1);
    EXPECT_INT(o.json_progress, 1);
    EXPECT_INT(o.quiet, 1);
    EXPECT_INT(o.verbose, 1);
    df__opts_free(&o);
    EXPECT(o.run_output == NULL && o.args.n == 0);
    df__opts_init(&o);
    char *typo[] = {"job.ini", "--ouptut", "x"};
    EXPECT_INT(df__opts_parse_argv(&o, DF__VERB_RUN_ARGV, 3, typo, err, sizeof err), -1);
    EXPECT_STR(err, "unknown option --ouptut (did you mean --output?)");
    char *join_only[] = {"job.ini", "--records", "x.csv"}; /* a key of the job run does not override */
    EXPECT_INT(df__opts_parse_argv(&o, DF__VERB_RUN_ARGV, 3, join_only, err, sizeof err), -1);
    EXPECT_STR(err, "unknown option --records");
    char *stray[] = {"--records", "x.csv", "job.ini"}; /* only run takes an argument */
    EXPECT_INT(df__opts_parse_argv(&o, DF__VERB_JOIN, 3, stray, err, sizeof err), -1);
    EXPECT_STR(err, "unexpected argument job.ini");
    df__opts_free(&o);

    /* the binary: the setters' checks, before any work, and nothing written */
    char job[700], args[2000], bundle[700], cwd[600];
    if (!getcwd(cwd, sizeof cwd)) SKIP("no working folder");
    snprintf(job, sizeof job, "%s/run.ini", tmpdir);
    snprintf(bundle, sizeof bundle, "%s/bundle", tmpdir);
    FILE *f = fopen(job, "w");
    if (!f) SKIP("cannot write %s", job);
    fprintf(f,
            "[job]\noutput = %s\nfrom = 2017-01-01\n[records]\npath = %s/run.csv\n[boundaries]\nadm1 = "
            "%s/shapes/iraq_adm1_naturalearth.geojson\n",
            bundle, tmpdir, cwd);
    fclose(f);
    f = fopen("shapes/iraq_adm1_naturalearth.geojson", "r");
    if (!f) SKIP("run from the repository root");
    fclose(f);
    char input[800];
    snprintf(input, sizeof input, "%s/run.csv", tmpdir);
    if ((f = fopen(input, "w"))) fputs("date,adm1,individuals\n2017-01-05,Ninewa,10\n", f), fclose(f);
    snprintf(args, sizeof args, "run %s --output ''", job);
    EXPECT_INT(run(args), 2);
    EXPECT(strstr(out, "--output is empty: name the output folder") != NULL);
    snprintf(args, sizeof args, "run %s --as-of 2016-12-31", job);
    EXPECT_INT(run(args), 2);
    EXPECT(strstr(out, "--as-of 2016-12-31 is before the job's [job] from 2017-01-01") != NULL);
    snprintf(args, sizeof args, "run %s --output %s/no/such/bundle", job, tmpdir);
    EXPECT_INT(run(args), 2);
    EXPECT(strstr(out, "--output: the folder above") != NULL);
    EXPECT(access(bundle, F_OK) != 0);
    EXPECT_INT(run("run job.ini --publsh"), 2);
    EXPECT(strstr(out, "dispflow: unknown option --publsh (did you mean --publish?)") != NULL);
}

/* docs/cli.md names every flag of the table and docs/jobs.md every key, in
 * its section: the reference cannot leave an option out. */
TEST(docs_name_every_option)
{
    static char cli[1 << 17], jobs[1 << 17];
    FILE *f = fopen("docs/cli.md", "r");
    size_t n = f ? fread(cli, 1, sizeof cli - 1, f) : 0;
    if (f) fclose(f);
    cli[n] = 0;
    f = fopen("docs/jobs.md", "r");
    n = f ? fread(jobs, 1, sizeof jobs - 1, f) : 0;
    if (f) fclose(f);
    jobs[n] = 0;
    if (!cli[0] || !jobs[0]) SKIP("docs/cli.md or docs/jobs.md not found (run from the repository)");
    for (int i = 0; i < df__noptions; i++) {
        const df__opt *r = &df__options[i];
        char want[200];
        if (r->flag) {
            snprintf(want, sizeof want, "`%s", r->flag);
            const char *at = strstr(cli, want);
            while (at && (isalnum((unsigned char)at[strlen(want)]) || at[strlen(want)] == '-'))
                at = strstr(at + 1, want); /* `--min` is not `--min-x` */
            if (!at) {
                printf("  docs/cli.md does not name %s\n", r->flag);
                EXPECT(0);
            }
        }
        if (r->key) {
            char head[100];
            snprintf(head, sizeof head, "### `[%s]`", r->section);
            const char *sec = strstr(jobs, head), *end = sec ? strstr(sec + 1, "\n### ") : NULL;
            const char *end2 = sec ? strstr(sec + 1, "\n## ") : NULL;
            if (end2 && (!end || end2 < end)) end = end2;
            snprintf(want, sizeof want, "`%s`", r->key);
            const char *at = sec ? strstr(sec, want) : NULL;
            if (!at || (end && at > end)) {
                printf("  docs/jobs.md does not name %s under [%s]\n", r->key, r->section);
                EXPECT(0);
            }
        }
    }
}

int main(int argc, char **argv)
{
    harness_cli_path(argc, argv, dispflow, sizeof dispflow);
    if (!mkdtemp(tmpdir)) return 1;
    RUN(table_is_well_formed);
    RUN(every_key_and_its_flag_set_the_same_value);
    RUN(defaults_in_the_table_are_the_code_s);
    RUN(help_lists_every_option_with_its_default);
    RUN(unknown_and_bad_options_say_where_and_what);
    RUN(density_people_and_records_status_are_distinct);
    RUN(run_flags_through_the_table);
    RUN(docs_name_every_option);
    harness_remove_dir(tmpdir);
    return harness_done();
}
