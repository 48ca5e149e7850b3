/*
 * cli.c — the dispflow command: argument parsing and printing only; every
 * piece of work is a library call.
 */
#include "dispflow.h"
#include "df_core.h"    /* df__scrub_secrets: no password in what the CLI prints */
#include "df_options.h" /* the one table of options (a static link: the CLI is one file) */

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <json-c/json.h>

static int quiet, verbose;
static volatile sig_atomic_t interrupted; /* the signal that came, or 0 */

static const char *usage_main =
    "usage: dispflow VERB [options]\n"
    "\n"
    "Turns displacement counts into figures per administrative unit.\n"
    "\n"
    "verbs:\n"
    "  check    reconcile the records' names and places and report how: matched by each\n"
    "           way, fuzzy matches with their scores, conflicts, unmatched with candidates\n"
    "  density  kernel density raster of people (people/km2) as GeoTIFF/COG with a QGIS style\n"
    "  flows    origin-destination flows: lines, nodes and the OD matrix\n"
    "  join     match records to admin units and write one feature per unit\n"
    "  run      run a job file: every stage of a data round into one bundle folder (the\n"
    "           situation report, maps, layers.gpkg, a QGIS project, tables, manifest)\n"
    "  sample   write the embedded sample records (Mosul corridor, from 17 Oct 2016)\n"
    "  version  print the versions of dispflow, GDAL, PROJ and GEOS\n"
    "\n"
    "Run 'dispflow VERB --help' for the options of a verb.\n";

static const char *usage_check =
    "usage: dispflow check --records FILE --boundaries FILE [--level adm1|adm2|adm3]\n"
    "                      [--log DECISIONS.csv] [--strict] [options of join]\n"
    "\n"
    "Reconciles every record's place with the boundary layer, as join does, and prints\n"
    "how: counts by way of matching (P-code, name, other name or alias, skeleton or fuzzy,\n"
    "point), every name matched by alias or fuzzily with its score, and every unmatched\n"
    "name with its closest candidates. --log writes the full decision log; --strict makes\n"
    "any unmatched record an error (exit 10). See docs/reconcile.md.\n";

static const char *usage_join = "usage: dispflow join --records FILE --boundaries FILE [--level adm1|adm2|adm3]\n"
                                "                     -o OUT.geojson|OUT.gpkg|OUT.csv [options]\n"
                                "\n"
                                "Matches every record to a unit of the boundary layer and writes one feature per\n"
                                "unit with: displaced (people displaced into the unit), returned (of those, people\n"
                                "who have since gone home from it), still_displaced (the difference), returnees\n"
                                "(people who came home into the unit), families, records, area_km2 (geodesic,\n"
                                "WGS84 ellipsoid) and displaced_per_km2, counted from --from to --as-of inclusive.\n"
                                "\n"
                                "A record is matched by P-code (IRQ-G15Q05 = IQG15Q05), else by exact normalised\n"
                                "name inside its parent unit (Al-Mosul = Al Mosul = mosul), else by its point.\n"
                                "Coordinates are always checked: swapped latitude/longitude is detected and reported.\n"
                                "Bad rows are rejected with their line, column and reason, and never counted.\n"
                                "The balance printed at the end accounts for every input row.\n";

static void log_to_stderr(df_log_level level, const char *msg, void *user)
{
    (void)user;
    if (quiet && level < DF_LOG_ERROR) return;
    if (level == DF_LOG_DEBUG && !verbose) return;
    fprintf(stderr, "%s%s\n", level == DF_LOG_WARN ? "warning: " : level == DF_LOG_ERROR ? "error: " : "", msg);
}

static int fail(df_ctx *ctx, df_status st)
{
    if (st == DF_ECANCELLED && interrupted) {
        fprintf(stderr, "dispflow: interrupted by %s; no partial file is left, unwritten outputs are untouched\n",
                interrupted == SIGINT ? "Ctrl-C (SIGINT)" : "SIGTERM");
        return df_status_exit_code(st);
    }
    fprintf(stderr, "dispflow: error: %s\n", df_ctx_errmsg(ctx));
    return df_status_exit_code(st);
}

/* The country profiles of the data shipped with dispflow, found at run time
 * (df_shapes_dir: $DISPFLOW_SHAPES, the installed tree, the build tree), or
 * NULL with the reason printed. */
static const char *shipped_profiles(void)
{
    static char path[4200];
    const char *dir = df_shapes_dir(), *env = getenv("DISPFLOW_SHAPES");
    if (!dir) {
        if (env && env[0])
            fprintf(stderr, "dispflow: error: DISPFLOW_SHAPES=%s has no profiles/ folder (the shapes/ of dispflow)\n",
                    env);
        else
            fprintf(stderr, "dispflow: error: the data shipped with dispflow (share/dispflow/shapes) is not found; "
                            "set DISPFLOW_SHAPES to its folder\n");
        return NULL;
    }
    snprintf(path, sizeof path, "%s/profiles", dir);
    return path;
}

static int bad_usage(const char *msg, const char *arg)
{
    fprintf(stderr, "dispflow: %s%s%s\n(see 'dispflow VERB --help')\n", msg, arg ? " " : "", arg ? arg : "");
    return df_status_exit_code(DF_EINVAL);
}

/* Ctrl-C and SIGTERM, in every verb: the library stops at its next progress
 * report and leaves every output as it was (exit 11, no partial file). A
 * second signal ends the process at once. */
static void on_signal(int sig)
{
    if (interrupted) {
        signal(sig, SIG_DFL);
        raise(sig);
    }
    interrupted = sig;
}

static int stop_on_signal(double fraction, const char *stage, void *user)
{
    (void)fraction, (void)stage, (void)user;
    return !interrupted;
}

static void catch_signals(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART; /* a read from a pipe goes on: a cut short read must not look like the end */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Between two outputs: stop when a signal came. */
static df_status go_on(df_status st) { return st == DF_OK && interrupted ? DF_ECANCELLED : st; }

/* Before any work: refuse an output that is an input or another output, or
 * not a regular file (df_outputs_check). -1 to go on, or the exit code. */
static int check_outputs(df_ctx *ctx, const char *const *inputs, int nin, const char *const *outputs, int nout)
{
    df_status st = df_outputs_check(ctx, inputs, nin, outputs, nout);
    return st == DF_OK ? -1 : fail(ctx, st);
}

/* An unknown option or verb, with the closest known ones. */
static int unknown(const char *what, const char *typed, const char *known)
{
    char near[200];
    df__did_you_mean(known, typed, near, sizeof near);
    fprintf(stderr, "dispflow: unknown %s %s%s%s%s\n(see 'dispflow %s')\n", what, typed,
            near[0] ? " (did you mean " : "", near, near[0] ? "?)" : "", strcmp(what, "verb") ? "VERB --help" : "help");
    return df_status_exit_code(DF_EINVAL);
}

static void print_balance(const df_join *j, const char *records, const char *out)
{
    const df_balance *b = df_join_balance(j);
    char from[11], as_of[11];
    df_date_format(b->from, from);
    df_date_format(b->as_of, as_of);
    char shown[1024]; /* a PG: connection string, its password masked */
    df__scrub_secrets(records, shown, sizeof shown);
    fprintf(stderr, "%s: %ld rows\n", shown, b->read.rows);
    fprintf(stderr, "  matched        %8ld\n", b->matched);
    fprintf(stderr,
            "    placed (valid rows in or out of the period) by P-code %ld, name %ld, other name or alias %ld, "
            "skeleton or fuzzy %ld, point %ld; coordinates swapped and put right %ld, contradicting the names %ld\n",
            b->matched_by_pcode, b->matched_by_name, b->matched_by_alias, b->matched_by_fuzzy, b->matched_by_point,
            b->swapped, b->conflicts);
    fprintf(stderr, "  unmatched      %8ld\n", b->unmatched);
    fprintf(stderr, "  out of period  %8ld  (period %s .. %s%s)\n", b->out_of_period, from[0] ? from : "-",
            as_of[0] ? as_of : "-", b->snapshot != DF_NO_DATE ? ", snapshot of the last date" : "");
    if (b->other_level)
        fprintf(stderr, "  other level    %8ld  (rows of a coarser admin level than admin %d: a check, not counted)\n",
                b->other_level, df_join_rows_level(j));
    if (b->filtered)
        fprintf(stderr, "  filtered       %8ld  (--operation, --where, duplicates dropped)\n", b->filtered);
    fprintf(stderr, "  rejected       %8ld", b->read.rejected);
    const char *sep = "  (";
    for (int r = 0; r < DF_REJECT_COUNT; r++)
        if (b->read.rejected_by[r])
            fprintf(stderr, "%s%s %ld", sep, df_reject_name((df_reject_reason)r), b->read.rejected_by[r]), sep = ", ";
    fprintf(stderr, "%s\n", sep[0] == ',' ? ")" : "");
    long sum = b->matched + b->unmatched + b->out_of_period + b->other_level + b->filtered + b->read.rejected;
    fprintf(stderr, "  balance: %ld + %ld + %ld + %ld + %ld + %ld = %ld %s %ld rows read\n", b->matched, b->unmatched,
            b->out_of_period, b->other_level, b->filtered, b->read.rejected, sum,
            sum == b->read.rows ? "=" : "!=", b->read.rows);
    fprintf(stderr,
            "  individuals: matched %lld + unmatched %lld + out of period %lld + other level %lld = %lld of %lld "
            "valid\n",
            (long long)b->ind_matched, (long long)b->ind_unmatched, (long long)b->ind_out_of_period,
            (long long)b->ind_other_level,
            (long long)(b->ind_matched + b->ind_unmatched + b->ind_out_of_period + b->ind_other_level),
            (long long)b->read.individuals_valid);
    if (b->returns_unplaced)
        fprintf(stderr,
                "  returns with an unknown district of displacement: %ld rows, %lld individuals (not in 'returned')\n",
                b->returns_unplaced, (long long)b->ind_returns_unplaced);
    fprintf(stderr, "wrote %s\n", out);
}

/* ---- options: read and explained from the one table (df__options) ------- */

/* A section of the table as --help heads it (run's: the job file's). */
static const char *group_title(const char *section, int verb)
{
    static char title[64];
    if (verb == DF__VERB_RUN_ARGV && strcmp(section, "output") != 0)
        return snprintf(title, sizeof title, "overrides of the job file's [%s]", section), title;
    return !strcmp(section, "job") ? "period" : section;
}

/* --help: the verb's text, then every option the table gives the verb with
 * its default, by section, then the shorthands. */
static void print_help(const char *intro, int verb)
{
    const char *group = "";
    fputs(intro, stdout);
    for (int i = 0; i < df__noptions; i++) {
        const df__opt *row = &df__options[i];
        if (!row->flag || !(row->verbs & verb)) continue;
        if (strcmp(row->section, group) != 0) printf("\n%s:\n", group_title(group = row->section, verb));
        char meta[200], left[256];
        const char *m = df__opt_meta(row, meta, sizeof meta);
        snprintf(left, sizeof left, "%s%s%s", row->flag, m[0] ? " " : "", m);
        const char *def = row->def && strncmp(row->flag, "--no-", 5) ? row->def : NULL; /* --no-X: the default is X */
        char job_key[128];
        if (verb == DF__VERB_RUN_ARGV && row->key) /* run's flag overrides the job file's key */
            snprintf(job_key, sizeof job_key, "(the job's [%s] %s)", row->section, row->key), def = job_key;
        int paren = def && def[0] == '(';
        printf("  %-21s%s", left, strlen(left) > 21 ? "\n                       " : "");
        size_t last = 0; /* the length of the last line of help */
        for (const char *h = row->help; *h;) {
            size_t n = strcspn(h, "\n");
            printf(" %.*s", (int)n, h);
            h += n, last = n;
            if (*h) printf("\n                       "), h++;
        }
        if (def) {
            int n = paren ? (int)strlen(def) - 2 : (int)strlen(def);
            printf("%s(default: %.*s)", last + n + 12 > 64 ? "\n                        " : " ", n, def + paren);
        }
        putchar('\n');
    }
    int any = 0;
    for (int i = 0; i < df__nshorthands; i++)
        if (df__shorthands[i].verbs & verb)
            printf("%s  %-21s = %s%s%s\n", any++ ? "" : "\nshorthands:\n", df__shorthands[i].flag,
                   df__shorthands[i].option, df__shorthands[i].value ? " " : "",
                   df__shorthands[i].value ? df__shorthands[i].value : "");
}

/* Read a verb's argv into o (freed by the caller whatever this returns).
 * -1 to go on, or the exit code (help, a bad option). */
static int parse_opts(df__opts *o, int verb, const char *intro, int argc, char **argv)
{
    char err[1200];
    df__opts_init(o);
    int rc = df__opts_parse_argv(o, verb, argc, argv, err, sizeof err);
    if (rc == 1) {
        print_help(intro, verb);
        return 0;
    }
    if (rc == -2) {
        fprintf(stderr, "dispflow: out of memory\n");
        return df_status_exit_code(DF_ENOMEM);
    }
    if (rc < 0) return bad_usage(err, NULL);
    quiet |= o->quiet, verbose |= o->verbose;
    for (int i = 0; i < o->config.n; i++) { /* --config KEY VALUE, kept as KEY=VALUE */
        char *eq = strchr(o->config.item[i], '=');
        *eq = 0;
        CPLSetConfigOption(o->config.item[i], eq + 1);
        *eq = '=';
    }
    if (!o->ro.path) return bad_usage("missing --records FILE", NULL);
    if (!o->bo.path && verb != DF__VERB_DENSITY) return bad_usage("missing --boundaries FILE", NULL);
    /* the country profiles shipped in shapes/ (their alias tables unless told not to) */
    if (!(o->bo.profiles = shipped_profiles())) return df_status_exit_code(DF_EIO);
    return -1;
}

/* -co KEY=VALUE ..., or NULL. */
static char **creation_options(df__opts *o) { return o->co.n ? o->co.item : NULL; }

/* Load the boundaries and run the join the options describe. */
static df_status run_join(df_ctx *ctx, df__opts *o, df_boundaries **b, df_join **j)
{
    df_status st = df_boundaries_load(ctx, &o->bo, b);
    if (st != DF_OK) return st;
    o->jo.level = o->level ? o->level : df_boundaries_finest_level(*b);
    return df_join_run(ctx, *b, &o->ro, &o->jo, j);
}

/* The outputs given, checked against the inputs before any work. */
static int check_opts_outputs(df_ctx *ctx, const df__opts *o, const char *const *outputs, int nout)
{
    const char *inputs[] = {o->ro.path, o->bo.path, o->aliases.item[0], o->aliases.item[1], o->aliases.item[2]};
    return check_outputs(ctx, inputs, 5, outputs, nout);
}

static int join_verb(df_ctx *ctx, df__opts *o)
{
    if (!o->out) return bad_usage("missing -o OUTPUT", NULL);
    const char *outputs[] = {o->out, o->jo.log_path};
    int rc = check_opts_outputs(ctx, o, outputs, 2);
    if (rc >= 0) return rc;
    df_boundaries *b = NULL;
    df_join *j = NULL;
    df_status st = go_on(run_join(ctx, o, &b, &j));
    if (st == DF_OK) st = df_join_write(ctx, j, b, o->out, o->format, creation_options(o));
    if (st == DF_OK && !quiet) print_balance(j, o->ro.path, o->out);
    df_join_free(j);
    df_boundaries_free(b);
    return st == DF_OK ? 0 : fail(ctx, st);
}

static int cmd_join(df_ctx *ctx, int argc, char **argv)
{
    df__opts o;
    int rc = parse_opts(&o, DF__VERB_JOIN, usage_join, argc, argv);
    if (rc < 0) rc = join_verb(ctx, &o);
    df__opts_free(&o);
    return rc;
}

/* The reconciliation summary: how the names were matched, which fuzzily
 * and with what score, and which not, with their closest candidates. */
static void print_check(const df_join *j)
{
    const df_balance *b = df_join_balance(j);
    static const char *level_names[] = {"", "adm1", "adm2", "adm3"};
    printf("%ld rows: %ld matched, %ld unmatched, %ld out of period, %ld of another level, %ld filtered, %ld "
           "rejected\n",
           b->read.rows, b->matched, b->unmatched, b->out_of_period, b->other_level, b->filtered, b->read.rejected);
    if (b->read.duplicates) {
        printf("rows repeating an earlier row field for field: %ld (lines", b->read.duplicates);
        for (long i = 0; i < b->read.duplicates && i < 8; i++)
            printf("%s %ld = %ld", i ? "," : "", b->read.duplicate_line[i][0], b->read.duplicate_line[i][1]);
        printf("%s)\n", b->read.duplicates > 8 ? ", ..." : "");
    }
    for (int i = 0; i < df_join_level_check_count(j); i++) {
        const df_level_check *c = df_join_level_check(j, i);
        if (!c->differing) continue;
        char d[11];
        df_date_format(c->date, d);
        printf("admin-%d rows of %s%s%s differ from the finer rows added up in %d of %d units (by up to %lld)\n",
               c->level, c->operation, c->operation[0] ? " " : "", d, c->differing, c->units, (long long)c->largest);
    }
    printf("valid rows placed, in or out of the period, by P-code %ld, name %ld, other name or alias %ld, skeleton or "
           "fuzzy %ld, point %ld\n",
           b->matched_by_pcode, b->matched_by_name, b->matched_by_alias, b->matched_by_fuzzy, b->matched_by_point);
    printf("latitude and longitude swapped, put right: %ld rows\n", b->swapped);
    printf("coordinates contradicting the stated names: %ld rows (flagged 'conflict' in the decision log)\n",
           b->conflicts);
    int n = df_join_decision_count(j), shown = 0;
    printf("\nnames matched by alias, skeleton or fuzzy match:\n");
    for (int i = 0; i < n; i++) {
        const df_name_decision *d = df_join_decision(j, i);
        if (!strcmp(d->how, "name") || !strcmp(d->how, "unmatched")) continue;
        printf("  %s %-22s -> %-18s %-8s", level_names[d->level], d->name, d->unit, d->how);
        if (!strcmp(d->how, "fuzzy")) printf(" %.2f", d->score);
        printf("  (%ld rows%s%s)\n", d->rows, d->parent[0] ? ", in " : "", d->parent);
        shown++;
    }
    if (!shown) printf("  none\n");
    shown = 0;
    printf("\nunmatched names:\n");
    for (int i = 0; i < n; i++) {
        const df_name_decision *d = df_join_decision(j, i);
        if (strcmp(d->how, "unmatched") != 0) continue;
        printf("  %s %-22s %ld rows%s%s%s; closest: %s\n", level_names[d->level], d->name, d->rows,
               d->parent[0] ? " in " : "", d->parent, d->ambiguous ? ", fits several units" : "",
               d->candidates[0] ? d->candidates : "none");
        shown++;
    }
    if (!shown) printf("  none\n");
}

static int check_verb(df_ctx *ctx, df__opts *o)
{
    const char *outputs[] = {o->jo.log_path};
    int rc = check_opts_outputs(ctx, o, outputs, 1);
    if (rc >= 0) return rc;
    int strict = o->jo.strict;
    o->jo.strict = 0; /* report first, then fail */
    df_boundaries *b = NULL;
    df_join *j = NULL;
    df_status st = run_join(ctx, o, &b, &j);
    int rc_strict = 0;
    if (st == DF_OK) {
        print_check(j);
        if (o->jo.log_path) printf("\ndecision log: %s\n", o->jo.log_path);
        if (strict && df_join_balance(j)->unmatched > 0) {
            fprintf(stderr, "dispflow: error: %ld records could not be matched (--strict)\n",
                    df_join_balance(j)->unmatched);
            rc_strict = df_status_exit_code(DF_EUNMATCHED);
        }
    }
    df_join_free(j);
    df_boundaries_free(b);
    return st == DF_OK ? rc_strict : fail(ctx, st);
}

static int cmd_check(df_ctx *ctx, int argc, char **argv)
{
    df__opts o;
    int rc = parse_opts(&o, DF__VERB_CHECK, usage_check, argc, argv);
    if (rc < 0) rc = check_verb(ctx, &o);
    df__opts_free(&o);
    return rc;
}

static const char *usage_flows =
    "usage: dispflow flows --records FILE --boundaries FILE [--origin-level adm1|adm2|adm3]\n"
    "                      [--dest-level adm1|adm2|adm3] [--origins corridor|P-CODES|NAMES]\n"
    "                      [--from DATE] [--to DATE] [--step day|week|month|round]\n"
    "                      [--min N] [--top N] [--no-intra] -o LINES.geojson|.gpkg\n"
    "                      [--matrix OD.csv [--hxl]] [--matrix-wide W.csv] [--net N.csv]\n"
    "                      [--totals] [--nodes NODES.geojson|.gpkg]\n"
    "                      [--straight | --bend B] [options of the records]\n"
    "\n"
    "Who moved from where to where, when. Displaced rows flow from their origin to their\n"
    "location; returned rows from their district of displacement to the place of return.\n"
    "Both ends are matched as join matches places (P-code, names with aliases, point).\n"
    "-o writes the flow lines: one LineString per flow, inside-unit points at both ends,\n"
    "date fields period_start/period_end for QGIS's Temporal Controller, families,\n"
    "individuals, rank, share, kind (flow|intra). With --snapshots a flow is the change\n"
    "of its pair since the previous snapshot (the first counts whole).\n";

/* The flows the options describe, and their files. */
static df_status flows_write(df_ctx *ctx, df__opts *o, df_boundaries **b, df_flows **f)
{
    df_status st = df_boundaries_load(ctx, &o->bo, b);
    if (st == DF_OK) st = go_on(df_flows_run(ctx, *b, &o->ro, &o->fo, f));
    if (st == DF_OK && o->out)
        st = go_on(df_flows_write_lines(ctx, *f, *b, o->out, o->bend, (df_endpoints)o->endpoints, o->nodes));
    if (st == DF_OK && o->matrix) st = go_on(df_flows_write_matrix(ctx, *f, *b, o->matrix, o->hxl));
    if (st == DF_OK && o->matrix_wide) st = go_on(df_flows_write_wide(ctx, *f, *b, o->matrix_wide));
    if (st == DF_OK && o->net) st = go_on(df_flows_write_net(ctx, *f, *b, o->net));
    return st;
}

static int flows_verb(df_ctx *ctx, df__opts *o)
{
    if (!o->out && !o->matrix && !o->matrix_wide && !o->net)
        return bad_usage("missing -o LINES, --matrix, --matrix-wide or --net", NULL);
    /* the period is join's (--from, --as-of = --to); --snapshots: flows are
     * changes between snapshots; none given: the read decides (a DTM API
     * table is snapshots) and says so in the log */
    o->fo.from = o->jo.from, o->fo.to = o->jo.as_of;
    o->fo.kind = o->ro.kind;
    const char *outputs[] = {o->out, o->nodes, o->matrix, o->matrix_wide, o->net};
    int rc = check_opts_outputs(ctx, o, outputs, 5);
    if (rc >= 0) return rc;
    df_boundaries *b = NULL;
    df_flows *f = NULL;
    df_status st = flows_write(ctx, o, &b, &f);
    if (st == DF_OK && !quiet) {
        const df_flow_balance *fb = df_flows_balance(f);
        fprintf(stderr,
                "%s: %ld rows: %ld in flows, %ld with an end not placed (%ld of them stating no origin), %ld "
                "from other origins, %ld out of period, %ld rejected\n",
                o->ro.path, fb->read.rows, fb->counted, fb->unplaced, fb->no_origin, fb->filtered, fb->out_of_period,
                fb->read.rejected);
        fprintf(stderr, "%d flows written%s%s%s%s\n", df_flows_count(f), o->out ? " to " : "", o->out ? o->out : "",
                o->matrix ? "; matrix " : "", o->matrix ? o->matrix : "");
    }
    df_flows_free(f);
    df_boundaries_free(b);
    return st == DF_OK ? 0 : fail(ctx, st);
}

static int cmd_flows(df_ctx *ctx, int argc, char **argv)
{
    df__opts o;
    int rc = parse_opts(&o, DF__VERB_FLOWS, usage_flows, argc, argv);
    if (rc < 0) rc = flows_verb(ctx, &o);
    df__opts_free(&o);
    return rc;
}

/* The periods from `from` to `as_of`, counted up to limit + 1. */
static long count_periods(int32_t from, int32_t as_of, df_step step, long limit)
{
    long n = 0;
    for (int32_t start = from; start <= as_of && n <= limit; start = df_period_next(start, step)) n++;
    return n;
}

/* --step writes many files: they go to a folder beside OUT and are moved into
 * place only when every one is written, so that an error or Ctrl-C leaves
 * nothing behind and the files of an earlier run as they were. */

typedef struct {
    char dir[4096]; /* the staging folder, "" when none */
    char out[4096]; /* the folder of OUT, with its slash, or "" */
    char **names;   /* file names written into dir */
    int n, cap;
} staging;

static int staging_open(staging *g, const char *out)
{
    const char *slash = strrchr(out, '/');
    int len = slash ? (int)(slash - out) + 1 : 0;
    snprintf(g->out, sizeof g->out, "%.*s", len, out);
    if (snprintf(g->dir, sizeof g->dir, "%s.dispflow-periods-XXXXXX", g->out) >= (int)sizeof g->dir ||
        !mkdtemp(g->dir)) {
        fprintf(stderr, "dispflow: error: cannot make a folder beside %s: %s\n", out, strerror(errno));
        g->dir[0] = 0;
        return -1;
    }
    return 0;
}

/* path in the staging folder for the file named like base (its last part);
 * the name and the .qml beside it are remembered for the move */
static const char *staging_path(staging *g, const char *base, char *path, size_t cap)
{
    const char *slash = strrchr(base, '/'), *name = slash ? slash + 1 : base;
    if (g->n + 2 > g->cap) {
        char **more = realloc(g->names, (size_t)(g->cap + 64) * sizeof *more);
        if (!more) return fprintf(stderr, "dispflow: error: out of memory\n"), NULL;
        g->names = more, g->cap += 64;
    }
    const char *dot = strrchr(name, '.');
    char qml[1024];
    snprintf(qml, sizeof qml, "%.*s.qml", dot ? (int)(dot - name) : (int)strlen(name), name);
    g->names[g->n] = strdup(name), g->names[g->n + 1] = strdup(qml);
    g->n += 2; /* freed by staging_close, NULL or not */
    if (!g->names[g->n - 2] || !g->names[g->n - 1]) return fprintf(stderr, "dispflow: error: out of memory\n"), NULL;
    if (snprintf(path, cap, "%s/%s", g->dir, name) < (int)cap) return path;
    fprintf(stderr, "dispflow: error: the path is too long: %s/%s\n", g->dir, name);
    return NULL;
}

/* Move every file into place (commit) or remove them; then the folder. */
static int staging_close(staging *g, int commit)
{
    char from[8300], to[8300];
    int rc = 0;
    for (int i = 0; i < g->n; i++) {
        if (!g->names[i]) continue;
        snprintf(from, sizeof from, "%s/%s", g->dir, g->names[i]);
        snprintf(to, sizeof to, "%s%s", g->out, g->names[i]);
        if (commit && rc == 0 && access(from, F_OK) == 0 && rename(from, to) != 0) {
            fprintf(stderr, "dispflow: error: cannot move %s to %s: %s\n", from, to, strerror(errno));
            rc = -1;
        }
        free(g->names[i]);
    }
    free(g->names);
    /* whatever is left (a cancel, a failed write): removed */
    DIR *dir = g->dir[0] ? opendir(g->dir) : NULL;
    for (struct dirent *e; dir && (e = readdir(dir));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(from, sizeof from, "%s/%s", g->dir, e->d_name);
            unlink(from);
        }
    if (dir) closedir(dir);
    if (g->dir[0]) rmdir(g->dir);
    g->names = NULL, g->n = g->cap = 0, g->dir[0] = 0;
    return rc;
}

/* One raster per period from --from to --as-of, on the grid of the whole
 * period's raster (so that they align), each OUT_yyyy-mm-dd.tif, written
 * into the staging folder. */
static df_status density_periods(df_ctx *ctx, df__opts *opts, const df_boundaries *b, const df_density_info *whole,
                                 df_step step, staging *g)
{
    char crs[64], name[4096], path[4096];
    df_density_opts period_opts = opts->dn, *o = &period_opts; /* the t_srs below is not the options' to free */
    snprintf(crs, sizeof crs, "%s", whole->crs);
    o->t_srs = crs;
    o->has_extent = 1;
    o->extent[0] = whole->geotransform[0];
    o->extent[3] = whole->geotransform[3];
    o->extent[2] = whole->geotransform[0] + whole->width * whole->geotransform[1];
    o->extent[1] = whole->geotransform[3] + whole->height * whole->geotransform[5];
    const char *dot = strrchr(opts->out, '.');
    int base = dot ? (int)(dot - opts->out) : (int)strlen(opts->out);
    df_status st = DF_OK;
    for (int32_t start = opts->jo.from; st == DF_OK && start <= opts->jo.as_of;) {
        /* the calendar period containing start, labelled by its first day as
         * flows label it (df_period_of), counted from --from to --as-of */
        int32_t first, last, next = df_period_next(start, step);
        char day[11];
        df_density *d = NULL;
        df_period_of(start, step, &first, &last);
        o->from = start;
        o->as_of = last < opts->jo.as_of ? last : opts->jo.as_of;
        df_date_format(first, day);
        snprintf(name, sizeof name, "%.*s_%s%s", base, opts->out, day, dot ? dot : ".tif");
        if (interrupted) return DF_ECANCELLED;
        if (!staging_path(g, name, path, sizeof path)) return DF_EIO; /* said */
        st = go_on(df_density_run(ctx, &opts->ro, b, o, &d));
        if (st == DF_OK) st = go_on(df_density_write(ctx, d, path, opts->format, creation_options(opts)));
        if (st == DF_OK && !quiet)
            fprintf(stderr, "wrote %s (%ld points, %.1f people)\n", name, df_density_get_info(d)->points,
                    df_density_get_info(d)->total_weight);
        df_density_free(d);
        start = next;
    }
    return st;
}

static const char *usage_density =
    "usage: dispflow density --records FILE --pixel METRES [--radius METRES | --bandwidth silverman|scott]\n"
    "                        [--kernel NAME] [--weight individuals|families|records|COLUMN]\n"
    "                        [--boundaries FILE [--mask]] [-t_srs CRS] [-te XMIN YMIN XMAX YMAX]\n"
    "                        [--raw] [--people displaced|returned|all|still] [--from DATE] [--as-of DATE]\n"
    "                        [-of GTiff|COG] [-co KEY=VALUE ...] -o OUT.tif [options of the records]\n"
    "\n"
    "A kernel density raster of people at the records' locations (lon/lat), in people per\n"
    "km2: every pixel is the sum over the points of w c k(d/R) / R^2 x 10^6, with d the\n"
    "distance in metres from the pixel centre to the point, R the radius and c the constant\n"
    "that makes the kernel integrate to 1 over the plane, so the raster integrates to the\n"
    "total weight, less the edge loss (kernel mass beyond the grid) it reports. Exact: every\n"
    "pixel centre against every point's true position. See docs/density.md.\n"
    "\n"
    "-o writes a Float32 GeoTIFF, tiled, DEFLATE, nodata -9999, statistics and metadata\n"
    "(units, kernel, radius, total weight, edge loss), and FILE.qml beside it: a QGIS\n"
    "colour ramp from 0 to the maximum; -of COG a Cloud-Optimised GeoTIFF with averaged\n"
    "overviews. The boundaries (--boundaries) give the default extent.\n";

/* What the library cannot check: the options that need one another, and
 * the number of --step rasters (issue 17 item 9). -1 to go on, or the exit code. */
static int density_check(df_ctx *ctx, df__opts *o)
{
    int still = o->people == DF__PEOPLE_STILL;
    df_step step = (df_step)o->density_step;
    if (!o->out) return bad_usage("missing -o OUT.tif", NULL);
    if (!(o->dn.pixel > 0)) return bad_usage("missing --pixel METRES", NULL);
    if (!(o->dn.radius > 0) && o->dn.bandwidth == DF_BANDWIDTH_FIXED)
        return bad_usage("missing --radius METRES or --bandwidth silverman|scott", NULL);
    if ((o->dn.mask || o->choropleth || still) && !o->bo.path)
        return bad_usage("--mask, --choropleth and --people still need --boundaries FILE", NULL);
    if (still && (step || o->dn.raw)) return bad_usage("--people still works on the whole period, in people/km2", NULL);
    if (step && (o->jo.from == DF_NO_DATE || o->jo.as_of == DF_NO_DATE))
        return bad_usage("--step needs --from and --as-of", NULL);
    if (step && count_periods(o->jo.from, o->jo.as_of, step, o->max_periods) > o->max_periods) {
        char from[11], to[11];
        static const char *const names[] = {"none", "day", "week", "month"};
        df_date_format(o->jo.from, from), df_date_format(o->jo.as_of, to);
        fprintf(stderr,
                "dispflow: --step %s from %s to %s is more than %lld periods, over the limit of %lld rasters "
                "(--max-periods N allows more)\n",
                names[step], from, to, (long long)o->max_periods, (long long)o->max_periods);
        return df_status_exit_code(DF_EINVAL);
    }
    /* every option the library takes, checked before any work */
    return df_density_opts_check(ctx, &o->dn) == DF_OK ? -1 : fail(ctx, DF_EINVAL);
}

/* --weight and --people into the library's options. 0, or -1 out of memory. */
static int density_weight(df__opts *o)
{
    o->dn.status = o->people == DF__PEOPLE_ALL ? -1 : o->people == DF__PEOPLE_RETURNED ? DF_RETURNED : DF_DISPLACED;
    o->dn.from = o->jo.from, o->dn.as_of = o->jo.as_of;
    if (!o->weight || !strcasecmp(o->weight, "individuals")) return 0;
    if (!strcasecmp(o->weight, "families")) return o->dn.weight = DF_WEIGHT_FAMILIES, 0;
    if (!strcasecmp(o->weight, "records")) return o->dn.weight = DF_WEIGHT_RECORDS, 0;
    /* a count column: read as the individuals column */
    const char *old = o->ro.map;
    size_t n = (old ? strlen(old) : 0) + strlen(o->weight) + 16;
    char *map = malloc(n);
    if (!map) return -1;
    snprintf(map, n, "%s%sindividuals=%s", old ? old : "", old ? "," : "", o->weight);
    free((char *)old);
    o->ro.map = map; /* owned by o, as the table's strings are */
    return 0;
}

/* The raster of the whole period (into out), its choropleth, and with
 * --people still the returns taken out. */
static df_status density_make(df_ctx *ctx, df__opts *o, const df_boundaries *b, const char *out, df_density **d)
{
    df_join *j = NULL;
    df_status st = go_on(df_density_run(ctx, &o->ro, b, &o->dn, d));
    if (st == DF_OK &&
        (o->choropleth || o->people == DF__PEOPLE_STILL)) { /* the join, on the same records and period */
        o->jo.level = o->level ? o->level : df_boundaries_finest_level(b);
        st = go_on(df_join_run(ctx, b, &o->ro, &o->jo, &j));
    }
    if (st == DF_OK && o->people == DF__PEOPLE_STILL) st = df_density_still_displaced(ctx, *d, j, b);
    if (st == DF_OK) st = go_on(df_density_write(ctx, *d, out, o->format, creation_options(o)));
    if (st == DF_OK && o->choropleth) st = go_on(df_density_write_choropleth(ctx, *d, j, b, o->choropleth));
    df_join_free(j);
    return st;
}

static void density_print(const df__opts *o, const df_density *d)
{
    const df_density_info *in = df_density_get_info(d);
    fprintf(stderr,
            "%s: %ld rows, %ld points (%ld left out by status or date, %ld without coordinates, %ld rejected)\n",
            o->ro.path, in->read.rows, in->points, in->filtered, in->no_point, in->read.rejected);
    fprintf(stderr,
            "%s kernel, R = %.1f m, pixel %.1f m, %d x %d pixels in %s; total %.1f people, on the grid %.1f, "
            "edge loss %.1f, masked %.1f; max %.6g %s\nwrote %s\n",
            df_kernel_name(in->kernel), in->radius, in->geotransform[1], in->width, in->height, in->crs,
            in->total_weight, in->grid_weight, in->edge_loss, in->mask_loss, in->max, in->units, o->out);
}

static int density_verb(df_ctx *ctx, df__opts *o)
{
    df_step step = (df_step)o->density_step;
    int rc = density_check(ctx, o);
    if (rc >= 0) return rc;
    if (density_weight(o) != 0) return fprintf(stderr, "dispflow: out of memory\n"), df_status_exit_code(DF_ENOMEM);
    /* the raster, its QGIS style beside it (density.c names it so), the choropleth */
    char qml[4096];
    const char *dot = strrchr(o->out, '.'), *slash = strrchr(o->out, '/');
    int stem = dot && (!slash || dot > slash) ? (int)(dot - o->out) : (int)strlen(o->out);
    snprintf(qml, sizeof qml, "%.*s.qml", stem, o->out);
    const char *outputs[] = {o->out, qml, o->choropleth};
    if ((rc = check_opts_outputs(ctx, o, outputs, 3)) >= 0) return rc;
    staging g = {0};
    char main_path[4096];
    const char *out = o->out;
    if (step) { /* the whole period's raster and the periods' go in together */
        if (staging_open(&g, o->out) != 0) return df_status_exit_code(DF_EIO);
        if (!(out = staging_path(&g, o->out, main_path, sizeof main_path))) {
            staging_close(&g, 0);
            return df_status_exit_code(DF_EIO);
        }
    }
    df_boundaries *b = NULL;
    df_density *d = NULL;
    df_status st = o->bo.path ? df_boundaries_load(ctx, &o->bo, &b) : DF_OK;
    if (st == DF_OK) st = density_make(ctx, o, b, out, &d);
    if (st == DF_OK && !quiet) density_print(o, d);
    if (st == DF_OK && step) st = density_periods(ctx, o, b, df_density_get_info(d), step, &g);
    df_density_free(d);
    df_boundaries_free(b);
    st = go_on(st);
    if (step && staging_close(&g, st == DF_OK) != 0) return df_status_exit_code(DF_EIO);
    return st == DF_OK ? 0 : fail(ctx, st);
}

static int cmd_density(df_ctx *ctx, int argc, char **argv)
{
    df__opts o;
    int rc = parse_opts(&o, DF__VERB_DENSITY, usage_density, argc, argv);
    if (rc < 0) rc = density_verb(ctx, &o);
    df__opts_free(&o);
    return rc;
}

static int cmd_sample(df_ctx *ctx, int argc, char **argv)
{
    const char *out = NULL;
    unsigned seed = 2016;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) /* as every verb (issue 17 item 30) */
            quiet = 1;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            puts("usage: dispflow sample [--seed N] [-q] -o FILE.csv\n\n"
                 "  --seed N   the random seed (default 2016)\n"
                 "  -q         no \"wrote FILE\" line, only errors\n\n"
                 "Writes the embedded sample: Emergency-Tracking-style records of displacement\n"
                 "and returns in the Mosul corridor from 17 Oct 2016, in the spellings field teams\n"
                 "use. The same seed gives the same bytes.");
            return 0;
        } else
            return unknown("option", argv[i], "-o --seed -q --quiet -h --help");
    }
    if (!out) return bad_usage("missing -o FILE", NULL);
    int rc = check_outputs(ctx, NULL, 0, (const char *const[]){out}, 1);
    if (rc >= 0) return rc;
    df_status st = df_sample_write(ctx, out, seed);
    if (st != DF_OK) return fail(ctx, st);
    if (!quiet) fprintf(stderr, "wrote %s\n", out);
    return 0;
}

/* ---- run: a job file, with a progress bar ----------------------------------------- */

static const char *usage_run = "usage: dispflow run JOB.ini [options]\n"
                               "\n"
                               "Runs every stage a situation report needs, as the job file says: joins at each admin\n"
                               "level asked for, origin-destination flows, a density raster, map pictures, the\n"
                               "situation report (sitrep.html, sitrep.md), CSV tables with HXL tags, layers.gpkg with\n"
                               "QGIS styles, project.qgs and manifest.json. The job file is checked whole before any\n"
                               "work starts; an error names the file, the line and the key (keys: docs/jobs.md).\n"
                               "The bundle is built beside the output folder and swapped into place when complete:\n"
                               "a failed or interrupted run (Ctrl-C) leaves the previous bundle untouched. It ends\n"
                               "by printing the headline figures and the balance of the rows. A flag under a key of\n"
                               "the job file overrides it (--as-of with output = out/{as_of}: each week's bundle in\n"
                               "its own folder).\n";

typedef struct {
    int show, json, tty;
    double last_time;
    char last_stage[128];
} progress_bar;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* At most ten updates a second, and one at every new stage; a bar on a
 * terminal, one line per stage in a log, JSON lines with --json-progress. */
static int draw_progress(double fraction, const char *stage, void *user)
{
    progress_bar *p = user;
    int new_stage = strcmp(stage, p->last_stage) != 0;
    double t = now_seconds();
    if (interrupted) return 0; /* the run cancels, cleans up and leaves the previous bundle */
    if (!p->show) return 1;
    if (!new_stage && t - p->last_time < 0.1 && fraction < 1.0) return 1;
    p->last_time = t;
    snprintf(p->last_stage, sizeof p->last_stage, "%s", stage);
    if (p->json) {
        fprintf(stderr, "{\"stage\": \"%s\", \"fraction\": %.3f}\n", stage, fraction);
    } else if (p->tty) {
        int filled = (int)(fraction * 30 + 0.5);
        fprintf(stderr, "\r[%.*s%*s] %3d%%  %-48.48s", filled, "##############################", 30 - filled, "",
                (int)(fraction * 100 + 0.5), stage);
        if (fraction >= 1.0) fputc('\n', stderr);
    } else if (new_stage) {
        fprintf(stderr, "%3d%%  %s\n", (int)(fraction * 100 + 0.5), stage);
    }
    fflush(stderr);
    return 1;
}

/* "1,234,567" */
static const char *with_commas(long long v, char *out)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%lld", v < 0 ? -v : v), k = 0;
    if (v < 0) out[k++] = '-';
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0) out[k++] = ',';
        out[k++] = digits[i];
    }
    out[k] = 0;
    return out;
}

/* The end of a run (issue 13 item 8): the headline figures and the balance
 * of the rows, read back from the bundle's manifest.json. */
static void print_summary(const char *dir)
{
    char path[4200], a[32], b[32], c[32], d[32], e[32], f[32], g[32];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    json_object *m = json_object_from_file(path), *head, *bal, *lv, *x;
    int level = json_object_object_get_ex(m, "headline_level", &x) ? json_object_get_int(x) : 0;
    char key[8];
    snprintf(key, sizeof key, "adm%d", level);
    if (!m || !json_object_object_get_ex(m, "headline", &head) || !json_object_object_get_ex(m, "balance", &bal) ||
        !json_object_object_get_ex(bal, key, &lv)) {
        json_object_put(m);
        return;
    }
#define FIELD(o, name) (json_object_object_get_ex((o), (name), &x) && x ? json_object_get_int64(x) : -1)
    long long ret = FIELD(head, "returned");
    printf("as of %s, admin %d: displaced %s, returned %s, still displaced %s\n",
           json_object_object_get_ex(head, "as_of", &x) && x ? json_object_get_string(x) : "-", level,
           with_commas(FIELD(head, "displaced"), a), ret < 0 ? "not in the table" : with_commas(ret, b),
           with_commas(FIELD(head, "still_displaced"), c));
    int holds = json_object_object_get_ex(lv, "holds", &x) && json_object_get_boolean(x);
    printf("balance: %s rows = %s matched + %s unmatched + %s outside the period + %s filtered + %s other level + "
           "%s rejected%s\n",
           with_commas(FIELD(lv, "rows"), a), with_commas(FIELD(lv, "matched"), b),
           with_commas(FIELD(lv, "unmatched"), c), with_commas(FIELD(lv, "out_of_period"), d),
           with_commas(FIELD(lv, "filtered"), e), with_commas(FIELD(lv, "other_level"), f),
           with_commas(FIELD(lv, "rejected"), g), holds ? "" : " (DOES NOT HOLD)");
#undef FIELD
    json_object_put(m);
}

static int cmd_run(df_ctx *ctx, int argc, char **argv)
{
    char err[1200];
    df__opts o;
    progress_bar bar = {0};
    df__opts_init(&o);
    int rc = df__opts_parse_argv(&o, DF__VERB_RUN_ARGV, argc, argv, err, sizeof err);
    if (rc == 1)
        print_help(usage_run, DF__VERB_RUN_ARGV), rc = 0;
    else if (rc == -2)
        fprintf(stderr, "dispflow: out of memory\n"), rc = df_status_exit_code(DF_ENOMEM);
    else if (rc < 0)
        rc = bad_usage(err, NULL);
    else if (o.args.n == 0)
        rc = bad_usage("missing the job file", NULL);
    else if (o.args.n > 1)
        rc = bad_usage("one job file only; also given:", o.args.item[1]);
    else
        rc = -1; /* go on */
    if (rc >= 0) {
        df__opts_free(&o);
        return rc;
    }
    quiet |= o.quiet, verbose |= o.verbose, bar.json = o.json_progress;
    const char *profiles = shipped_profiles();
    if (!profiles) {
        df__opts_free(&o);
        return df_status_exit_code(DF_EIO);
    }
    /* the flags override the job's keys through its setters, which check them */
    df_job *jf = NULL;
    df_status st = df_job_load(ctx, o.args.item[0], profiles, &jf);
    if (st == DF_OK && o.run_output) st = df_job_set_output(ctx, jf, o.run_output);
    if (st == DF_OK && o.jo.as_of != DF_NO_DATE) st = df_job_set_as_of(ctx, jf, o.jo.as_of);
    if (st == DF_OK && o.run_publish) df_job_set_publish(jf, 1);
    if (st == DF_OK && o.run_new_series) df_job_set_new_series(jf, 1);
    df__opts_free(&o);
    if (st != DF_OK) {
        df_job_free(jf);
        return fail(ctx, st);
    }
    bar.tty = isatty(2);
    bar.show = !quiet || bar.json;
    df_ctx_set_progress(ctx, draw_progress, &bar); /* also how Ctrl-C reaches the run */
    st = df_job_run(ctx, jf);
    if (st == DF_OK && !quiet) {
        fprintf(stderr, "wrote %s/\n", df_job_output(jf));
        print_summary(df_job_output(jf));
    }
    df_job_free(jf);
    if (st == DF_ECANCELLED && interrupted) {
        fprintf(stderr, "dispflow: interrupted; the previous bundle is untouched\n");
        return df_status_exit_code(st);
    }
    return st == DF_OK ? 0 : fail(ctx, st);
}

#ifdef DF_MPI
/* dispflow-mpi (make MPI=1; engine/mpi/mpi.c): the same CLI in every rank */
void df__mpi_start(int *argc, char ***argv);
int df__mpi_end(int rc);
int cli_main(int argc, char **argv);
int main(int argc, char **argv)
{
    df__mpi_start(&argc, &argv);
    return df__mpi_end(cli_main(argc, argv));
}
#define main cli_main
#endif

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || (!strcmp(argv[1], "help") && argc == 2)) {
        fputs(usage_main, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    char *help_argv[] = {argv[0], argv[argc > 2 ? 2 : 0], "--help", NULL};
    if (!strcmp(argv[1], "help")) /* dispflow help VERB = dispflow VERB --help */
        argv = help_argv, argc = 3;
    df_ctx *ctx = df_ctx_new();
    if (!ctx) {
        fprintf(stderr, "dispflow: out of memory\n");
        return df_status_exit_code(DF_ENOMEM);
    }
    df_ctx_set_log(ctx, log_to_stderr, NULL);
    df_ctx_set_progress(ctx, stop_on_signal, NULL); /* how Ctrl-C reaches the library */
    catch_signals();
    int rc;
    if (!strcmp(argv[1], "join"))
        rc = cmd_join(ctx, argc - 2, argv + 2);
    else if (!strcmp(argv[1], "check"))
        rc = cmd_check(ctx, argc - 2, argv + 2);
    else if (!strcmp(argv[1], "flows"))
        rc = cmd_flows(ctx, argc - 2, argv + 2);
    else if (!strcmp(argv[1], "density"))
        rc = cmd_density(ctx, argc - 2, argv + 2);
    else if (!strcmp(argv[1], "sample"))
        rc = cmd_sample(ctx, argc - 2, argv + 2);
    else if (!strcmp(argv[1], "run"))
        rc = cmd_run(ctx, argc - 2, argv + 2);
    else if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
        puts(df_versions(ctx));
        printf("shapes: %s\n", df_shapes_dir() ? df_shapes_dir() : "not found");
        rc = 0;
    } else {
        rc = unknown("verb", argv[1], "check density flows join run sample version help");
    }
    df_ctx_free(ctx);
    return rc;
}
