/*
 * cli.c — the dispflow command: argument parsing and printing only; every
 * piece of work is a library call.
 */
#include "dispflow.h"

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

static const char *usage_join =
    "usage: dispflow join --records FILE --boundaries FILE [--level adm1|adm2|adm3]\n"
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
    "The balance printed at the end accounts for every input row.\n"
    "\n"
    "records:\n"
    "  --records FILE        CSV/TSV (any of , ; TAB |), DTM API JSON, XLSX, ODS, GPKG,\n"
    "                        GeoJSON points, or any table OGR reads; '-' is stdin (CSV);\n"
    "                        \"PG:dbname=DB\" a PostgreSQL table (--records-layer) or view\n"
    "  --records-layer NAME  sheet or layer of the records file; a table of PG: (schema.table)\n"
    "  --map F=COL,...       map fields to columns by header name or 1-based number:\n"
    "                        date status adm1 adm1_pcode adm2 adm2_pcode adm3 adm3_pcode\n"
    "                        location lat lon families individuals shelter origin_adm1\n"
    "                        origin_adm2 displacement_adm2 ... Unmapped fields are found\n"
    "                        by the HXL tag row, then by DTM header names.\n"
    "  --no-header           the first line is data (use --map with column numbers)\n"
    "  --delimiter C         CSV delimiter: comma, semicolon, tab, pipe or , ; | (default:\n"
    "                        detected)\n"
    "  --household-size N    individuals per family when individuals are absent (6)\n"
    "  --snapshots           rows count people present at a date (DTM rounds): figures\n"
    "                        are those of the latest date on or before --as-of, per\n"
    "                        operation, never a sum across dates\n"
    "  --increments          rows count people who moved on a date: summed over the\n"
    "                        period. Default: snapshots for DTM API tables\n"
    "                        (numPresentIdpInd, #affected+idps, roundNumber), else\n"
    "                        increments with a warning when units repeat on several dates\n"
    "  --operation NAME      count this DTM operation (repeatable); a table of several\n"
    "                        operations needs one; 'all' adds them on purpose\n"
    "  --where COL=V[,V...]  read only rows whose column COL (header name, or a field:\n"
    "                        level, assessment, split) holds one of the values (repeatable)\n"
    "  --duplicates P        rows seen twice: keep, drop or refuse (default: keep with a\n"
    "                        warning in increment tables, refuse rival snapshots)\n"
    "  --assessments add     add two assessment types of one place and date on purpose\n"
    "                        (default: refused; or choose one with --where assessment=BA)\n"
    "  --status S            status of rows in tables without one (displaced)\n"
    "\n"
    "boundaries:\n"
    "  --boundaries FILE     any OGR polygon source in any CRS (reprojected to WGS84)\n"
    "  --boundaries-layer N  layer name\n"
    "  --level L             adm1, adm2 or adm3 (default: the layer's own level). Higher\n"
    "                        levels are derived by dissolving on the parent fields.\n"
    "  --pcode-field F       the P-code field (default: detected)\n"
    "  --name-field F        the name written in the outputs, for every level: a field\n"
    "                        (ADM2_FR; coarser levels take ADM1_FR) or a language (fr).\n"
    "                        Names are matched against every name field whatever it says\n"
    "\n"
    "period and output:\n"
    "  --from DATE, --as-of DATE   default: the first and the latest date in the data\n"
    "  -o FILE               output, format by extension (.geojson RFC 7946, .gpkg, .csv)\n"
    "  -of FORMAT            GeoJSON, GPKG or CSV, overriding the extension\n"
    "  -co KEY=VALUE         GDAL layer creation option (repeatable)\n"
    "  --config KEY VALUE    GDAL configuration option\n"
    "  --log FILE.csv        decision log: one row per input row, how it was matched\n"
    "  --strict              fail (exit 10) when any record is unmatched\n"
    "  --aliases FILE        an alias table of your own (level,alias,name,parent); its rows\n"
    "                        add to the country profile's (--no-aliases: none at all)\n"
    "  --profile P           the country profile: a name in shapes/profiles (irq), an .ini\n"
    "                        file, or none; default: the one whose codes begin the layer's\n"
    "                        P-codes (labels, aliases, --origins presets; docs/join.md)\n"
    "  --prefer names|points names and coordinates disagree: which wins (names)\n"
    "  -q                    quiet: no balance, no warnings\n"
    "  -v                    verbose: also debug messages (threads used, GEOS notices)\n";

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

/* Edit distance (insert, delete, substitute) of two short words. */
static int edits(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int row[64];
    if (la >= 63 || lb >= 63) return 99;
    for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best, diag = up;
        }
    }
    return row[lb];
}

/* The words of `known` (options are read from a verb's usage text: every
 * word that starts with '-') closest to a mistyped one, "a or b", into out:
 * a word that contains it (--layer: --records-layer), else within a typo
 * or two (issue 17 item 22). */
static const char *did_you_mean(const char *known, const char *typed, char *out, size_t cap)
{
    char words[32][40], contains[200] = "";
    int n = 0, best = (int)strlen(typed) / 3 + 2, at = -1;
    out[0] = '\0';
    for (const char *p = known; *p && n < 32;) {
        size_t k = strcspn(p, " \n,|[]=");
        if (k > 1 && k < 40 && (p == known || strchr(" \n[|", p[-1])) && (*typed != '-' || *p == '-')) {
            int dup = 0;
            for (int i = 0; i < n; i++) dup |= strlen(words[i]) == k && !strncmp(words[i], p, k);
            if (!dup) snprintf(words[n++], sizeof *words, "%.*s", (int)k, p);
        }
        p += k + (p[k] != '\0');
    }
    const char *bare = typed + strspn(typed, "-");
    for (int i = 0; i < n; i++) {
        if (strlen(bare) >= 3 && strstr(words[i], bare) && strlen(contains) + 45 < sizeof contains) {
            if (contains[0]) strcat(contains, " or ");
            strcat(contains, words[i]);
        }
        int d = edits(typed, words[i]);
        if (d < best) best = d, at = i;
    }
    snprintf(out, cap, "%s", contains[0] ? contains : at >= 0 ? words[at] : "");
    return out;
}

/* An unknown option or verb, with the closest known ones. */
static int unknown(const char *what, const char *typed, const char *known)
{
    char near[200];
    did_you_mean(known, typed, near, sizeof near);
    fprintf(stderr, "dispflow: unknown %s %s%s%s%s\n(see 'dispflow %s')\n", what, typed,
            near[0] ? " (did you mean " : "", near, near[0] ? "?)" : "", strcmp(what, "verb") ? "VERB --help" : "help");
    return df_status_exit_code(DF_EINVAL);
}

static int parse_level(const char *s)
{
    if (strncasecmp(s, "adm", 3) == 0) s += 3;
    int l = atoi(s);
    return l >= 1 && l <= 3 ? l : -1;
}

static void print_balance(const df_join *j, const char *records, const char *out)
{
    const df_balance *b = df_join_balance(j);
    char from[11], as_of[11];
    df_date_format(b->from, from);
    df_date_format(b->as_of, as_of);
    fprintf(stderr, "%s: %ld rows\n", records, b->read.rows);
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

/* The options join and check share, filled from argv. */
typedef struct {
    df_record_opts ro;
    df_boundary_opts bo;
    df_join_opts jo;
    const char *out, *format;
    char *co[64];
    int nco, level, no_aliases;
    const char *aliases[4];
    int naliases;
    const char *operations[17], *where[17];
    int noperations, nwhere;
} job;

/* Parse argv into j. Returns -1 to go on, or an exit code (help, error). */
static int parse_job(job *j, int argc, char **argv, const char *usage, int need_boundaries)
{
    memset(j, 0, sizeof *j);
    df_record_opts_init(&j->ro);
    df_boundary_opts_init(&j->bo);
    df_join_opts_init(&j->jo);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE()                                                                                                   \
    do {                                                                                                               \
        if (!v) return bad_usage("missing value after", a);                                                            \
        i++;                                                                                                           \
    } while (0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            verbose = 1;
        } else if (!strcmp(a, "--records")) {
            NEED_VALUE();
            j->ro.path = v;
        } else if (!strcmp(a, "--records-layer")) {
            NEED_VALUE();
            j->ro.layer = v;
        } else if (!strcmp(a, "--map")) {
            NEED_VALUE();
            j->ro.map = v;
        } else if (!strcmp(a, "--no-header")) {
            j->ro.header = 0;
        } else if (!strcmp(a, "--delimiter")) {
            NEED_VALUE();
            if (df_delimiter_parse(v, &j->ro.delimiter) != 0) /* as the job's [records] delimiter */
                return bad_usage("--delimiter is comma, semicolon, tab, pipe or one of , ; |, not", v);
        } else if (!strcmp(a, "--household-size")) {
            NEED_VALUE();
            j->ro.household_size = atof(v);
            if (j->ro.household_size <= 0) return bad_usage("--household-size must be positive:", v);
        } else if (!strcmp(a, "--snapshots")) {
            j->ro.kind = DF_SNAPSHOTS;
        } else if (!strcmp(a, "--increments")) {
            j->ro.kind = DF_INCREMENTS;
        } else if (!strcmp(a, "--operation") || !strcmp(a, "--where")) {
            NEED_VALUE();
            int is_op = !strcmp(a, "--operation"), *n = is_op ? &j->noperations : &j->nwhere;
            const char **list = is_op ? j->operations : j->where;
            if (*n == 16) return bad_usage("at most 16 of", a);
            list[(*n)++] = v;
            if (is_op)
                j->ro.operations = j->operations;
            else
                j->ro.where = j->where;
        } else if (!strcmp(a, "--duplicates")) {
            NEED_VALUE();
            if (!strcmp(v, "keep"))
                j->ro.duplicates = DF_DUPLICATES_KEEP;
            else if (!strcmp(v, "drop"))
                j->ro.duplicates = DF_DUPLICATES_DROP;
            else if (!strcmp(v, "refuse"))
                j->ro.duplicates = DF_DUPLICATES_REFUSE;
            else
                return bad_usage("--duplicates must be keep, drop or refuse, not", v);
        } else if (!strcmp(a, "--assessments")) {
            NEED_VALUE();
            if (!strcmp(v, "add"))
                j->ro.add_assessments = 1;
            else if (!strcmp(v, "refuse"))
                j->ro.add_assessments = 0;
            else
                return bad_usage("--assessments must be add or refuse, not", v);
        } else if (!strcmp(a, "--status")) {
            NEED_VALUE();
            if (!strcasecmp(v, "displaced"))
                j->ro.default_status = DF_DISPLACED;
            else if (!strcasecmp(v, "returned"))
                j->ro.default_status = DF_RETURNED;
            else
                return bad_usage("--status must be displaced or returned, not", v);
        } else if (!strcmp(a, "--boundaries")) {
            NEED_VALUE();
            j->bo.path = v;
        } else if (!strcmp(a, "--boundaries-layer")) {
            NEED_VALUE();
            j->bo.layer = v;
        } else if (!strcmp(a, "--pcode-field")) {
            NEED_VALUE();
            j->bo.pcode_field = v;
        } else if (!strcmp(a, "--name-field")) {
            NEED_VALUE();
            j->bo.name_field = v;
        } else if (!strcmp(a, "--aliases")) {
            NEED_VALUE();
            if (j->naliases >= 2) return bad_usage("at most two --aliases files", NULL);
            j->aliases[1 + j->naliases++] = v; /* after the shipped table: the user's rows win */
        } else if (!strcmp(a, "--no-aliases")) {
            j->no_aliases = 1;
        } else if (!strcmp(a, "--profile")) {
            NEED_VALUE();
            j->bo.profile = v;
        } else if (!strcmp(a, "--prefer")) {
            NEED_VALUE();
            if (!strcmp(v, "names"))
                j->jo.prefer_points = 0;
            else if (!strcmp(v, "points"))
                j->jo.prefer_points = 1;
            else
                return bad_usage("--prefer must be names or points, not", v);
        } else if (!strcmp(a, "--level")) {
            NEED_VALUE();
            if ((j->level = parse_level(v)) < 0) return bad_usage("--level must be adm1, adm2 or adm3, not", v);
        } else if (!strcmp(a, "--from") || !strcmp(a, "--as-of")) {
            NEED_VALUE();
            int32_t d;
            if (df_date_parse(v, &d) != 0) return bad_usage("not a date (use yyyy-mm-dd):", v);
            if (!strcmp(a, "--from"))
                j->jo.from = d;
            else
                j->jo.as_of = d;
        } else if (!strcmp(a, "-o")) {
            NEED_VALUE();
            j->out = v;
        } else if (!strcmp(a, "-of")) {
            NEED_VALUE();
            j->format = v;
        } else if (!strcmp(a, "-co")) {
            NEED_VALUE();
            if (j->nco < 63) j->co[j->nco++] = argv[i];
        } else if (!strcmp(a, "--config")) {
            if (i + 2 >= argc) return bad_usage("--config needs KEY VALUE", NULL);
            CPLSetConfigOption(argv[i + 1], argv[i + 2]);
            i += 2;
        } else if (!strcmp(a, "--log")) {
            NEED_VALUE();
            j->jo.log_path = v;
        } else if (!strcmp(a, "--strict")) {
            j->jo.strict = 1;
        } else {
            return unknown("option", a, usage);
        }
#undef NEED_VALUE
    }
    if (!j->ro.path) return bad_usage("missing --records FILE", NULL);
    if (!j->bo.path && need_boundaries) return bad_usage("missing --boundaries FILE", NULL);
    /* the country profiles shipped in shapes/ (their alias tables unless told not to) */
    if (!(j->bo.profiles = shipped_profiles())) return df_status_exit_code(DF_EIO);
    j->bo.no_profile_aliases = j->no_aliases;
    j->bo.aliases = j->no_aliases ? NULL : j->aliases + 1;
    return -1;
}

/* Load the boundaries and run the join the job describes. */
static df_status run_job(df_ctx *ctx, job *jb, df_boundaries **b, df_join **j)
{
    df_status st = df_boundaries_load(ctx, &jb->bo, b);
    if (st != DF_OK) return st;
    jb->jo.level = jb->level ? jb->level : df_boundaries_finest_level(*b);
    return df_join_run(ctx, *b, &jb->ro, &jb->jo, j);
}

/* The outputs given, checked against the job's inputs before any work. */
static int check_job_outputs(df_ctx *ctx, const job *jb, const char *const *outputs, int nout)
{
    const char *inputs[] = {jb->ro.path, jb->bo.path, jb->aliases[0], jb->aliases[1], jb->aliases[2]};
    return check_outputs(ctx, inputs, 5, outputs, nout);
}

static int cmd_join(df_ctx *ctx, int argc, char **argv)
{
    job jb;
    int rc = parse_job(&jb, argc, argv, usage_join, 1);
    if (rc >= 0) return rc;
    if (!jb.out) return bad_usage("missing -o OUTPUT", NULL);
    const char *outputs[] = {jb.out, jb.jo.log_path};
    if ((rc = check_job_outputs(ctx, &jb, outputs, 2)) >= 0) return rc;
    df_boundaries *b = NULL;
    df_join *j = NULL;
    df_status st = go_on(run_job(ctx, &jb, &b, &j));
    if (st == DF_OK) st = df_join_write(ctx, j, b, jb.out, jb.format, jb.nco ? jb.co : NULL);
    if (st == DF_OK && !quiet) print_balance(j, jb.ro.path, jb.out);
    df_join_free(j);
    df_boundaries_free(b);
    return st == DF_OK ? 0 : fail(ctx, st);
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

static int cmd_check(df_ctx *ctx, int argc, char **argv)
{
    job jb;
    int rc = parse_job(&jb, argc, argv, usage_check, 1);
    if (rc >= 0) return rc;
    if (jb.out) return bad_usage("check writes no figures (only --log); for an output use join -o", jb.out);
    const char *outputs[] = {jb.jo.log_path};
    if ((rc = check_job_outputs(ctx, &jb, outputs, 1)) >= 0) return rc;
    int strict = jb.jo.strict;
    jb.jo.strict = 0; /* report first, then fail */
    df_boundaries *b = NULL;
    df_join *j = NULL;
    df_status st = run_job(ctx, &jb, &b, &j);
    int rc_strict = 0;
    if (st == DF_OK) {
        print_check(j);
        if (jb.jo.log_path) printf("\ndecision log: %s\n", jb.jo.log_path);
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

static const char *usage_flows =
    "usage: dispflow flows --records FILE --boundaries FILE [--origin-level adm1|adm2|adm3]\n"
    "                      [--dest-level adm1|adm2|adm3] [--origins corridor|P-CODES|NAMES]\n"
    "                      [--from DATE] [--to DATE] [--step day|week|month|round]\n"
    "                      [--min N] [--top N] [--no-intra] -o LINES.geojson|.gpkg\n"
    "                      [--matrix OD.csv [--hxl]] [--matrix-wide W.csv] [--net N.csv]\n"
    "                      [--totals] [--nodes NODES.geojson|.gpkg]\n"
    "                      [--straight | --bend B] [options of join for the records]\n"
    "\n"
    "Who moved from where to where, when. Displaced rows flow from their origin to their\n"
    "location; returned rows from their district of displacement to the place of return.\n"
    "Both ends are matched as join matches places (P-code, names with aliases, point).\n"
    "\n"
    "  --origin-level, --dest-level  admin level of each end (adm2 by default); they may differ\n"
    "  --origins L           keep flows whose origin lies in: a preset of the country\n"
    "                        profile ('corridor' in Iraq's: the Mosul corridor districts\n"
    "                        Al-Mosul, Al-Hamdaniya, Tilkaef, Telafar, Al-Hatra, Al-Shikhan,\n"
    "                        Al-Baaj, Makhmour, Al-Shirqat) or a comma-separated list of\n"
    "                        P-codes or names of units at any level\n"
    "  --from, --to          the period (default: the first and the latest date in the data);\n"
    "                        --as-of is the same as --to\n"
    "  --step S              one flow per pair per day, ISO week (Monday-Sunday), calendar\n"
    "                        month, or round (a DTM round is a date: the same as day);\n"
    "                        default: one flow per pair for the whole period\n"
    "  --min N, --top N      keep flows of at least N individuals; the N largest per period\n"
    "                        and status (rank and share are computed before these filters)\n"
    "  --no-intra            drop flows inside one unit (kept by default, drawn as loops)\n"
    "  -o FILE               flow lines: one LineString per flow, inside-unit points at both\n"
    "                        ends, date fields period_start/period_end for QGIS's Temporal\n"
    "                        Controller, families, individuals, rank, share, kind (flow|intra)\n"
    "  --bend B              arcs bent B x their length to the right of travel (0.15);\n"
    "  --straight            straight lines, moved 2% of their length to the right, so\n"
    "                        that A->B and B->A never draw on top of each other\n"
    "  --endpoints E         inside: a point inside each unit (default); weighted: the\n"
    "                        individuals-weighted centre of the record locations in the\n"
    "                        unit, when it lies inside the unit\n"
    "  --snapshots           rows count people present at a date: a flow is the change of\n"
    "                        its pair since the previous snapshot (the first counts whole)\n"
    "  --totals              with --step: also each pair's total over the whole period\n"
    "                        (total = 1); every flow carries its cumulative individuals\n"
    "  --matrix FILE.csv     the OD matrix, long form (--hxl: with an HXL tag row)\n"
    "  --matrix-wide FILE    the OD matrix as a pivot: a row per origin, a column per\n"
    "                        destination, individuals over the period, per status\n"
    "  --net FILE.csv        net flows per unordered pair: a_to_b, b_to_a, net, direction\n"
    "  --nodes FILE          one point per unit with inflow, outflow, net and intra\n";

static int cmd_flows(df_ctx *ctx, int argc, char **argv)
{
    df_flow_opts fo;
    df_flow_opts_init(&fo);
    const char *matrix = NULL, *nodes = NULL, *wide = NULL, *net = NULL;
    double bend = 0.15;
    df_endpoints endpoints = DF_ENDPOINTS_INSIDE;
    int hxl = 0;
    /* the flow options first; the rest are join's (records, boundaries) */
    char *rest[256];
    int nrest = 0;
    for (int i = 0; i < argc && nrest < 250; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int level;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_flows, stdout);
            return 0;
        } else if ((!strcmp(a, "--origin-level") || !strcmp(a, "--dest-level")) && v) {
            if ((level = parse_level(v)) < 0) return bad_usage("a level is adm1, adm2 or adm3, not", v);
            *(a[2] == 'o' ? &fo.origin_level : &fo.dest_level) = level;
            i++;
        } else if (!strcmp(a, "--origins") && v) {
            fo.origins = argv[++i];
        } else if (!strcmp(a, "--to") && v) {
            if (df_date_parse(v, &fo.to) != 0) return bad_usage("not a date (use yyyy-mm-dd):", v);
            i++;
        } else if (!strcmp(a, "--step") && v) {
            int parsed = df_step_parse(v);
            if (parsed <= DF_STEP_NONE) return bad_usage("--step is day, week, month or round, not", v);
            fo.step = (df_step)parsed;
            i++;
        } else if ((!strcmp(a, "--min") || !strcmp(a, "--top")) && v) {
            char *end;
            long long n = strtoll(v, &end, 10);
            if (end == v || *end || n < 0 || n > INT32_MAX) return bad_usage("not a whole number >= 0:", v);
            if (a[2] == 'm')
                fo.min = n;
            else
                fo.top = (int)n;
            i++;
        } else if (!strcmp(a, "--no-intra")) {
            fo.no_intra = 1;
        } else if (!strcmp(a, "--matrix") && v) {
            matrix = argv[++i];
        } else if (!strcmp(a, "--matrix-wide") && v) {
            wide = argv[++i];
        } else if (!strcmp(a, "--net") && v) {
            net = argv[++i];
        } else if (!strcmp(a, "--totals")) {
            fo.totals = 1;
        } else if (!strcmp(a, "--hxl")) {
            hxl = 1;
        } else if (!strcmp(a, "--nodes") && v) {
            nodes = argv[++i];
        } else if (!strcmp(a, "--bend") && v) {
            bend = atof(argv[++i]);
        } else if (!strcmp(a, "--endpoints") && v) {
            if (!strcmp(v, "inside"))
                endpoints = DF_ENDPOINTS_INSIDE;
            else if (!strcmp(v, "weighted"))
                endpoints = DF_ENDPOINTS_WEIGHTED;
            else
                return bad_usage("--endpoints is inside or weighted, not", v);
            i++;
        } else if (!strcmp(a, "--straight")) {
            bend = 0;
        } else {
            rest[nrest++] = argv[i];
        }
    }
    job jb;
    int rc = parse_job(&jb, nrest, rest, usage_flows, 1);
    if (rc >= 0) return rc;
    if (!jb.out && !matrix && !wide && !net)
        return bad_usage("missing -o LINES, --matrix, --matrix-wide or --net", NULL);
    fo.from = jb.jo.from;
    if (fo.to == DF_NO_DATE) fo.to = jb.jo.as_of; /* --as-of, as join says it, is --to */
    fo.prefer_points = jb.jo.prefer_points;
    const char *outputs[] = {jb.out, nodes, matrix, wide, net};
    if ((rc = check_job_outputs(ctx, &jb, outputs, 5)) >= 0) return rc;
    /* --snapshots: flows are changes between snapshots; none given: the
     * read decides (a DTM API table is snapshots) and says so in the log */
    fo.kind = jb.ro.kind;
    df_boundaries *b = NULL;
    df_flows *f = NULL;
    df_status st = df_boundaries_load(ctx, &jb.bo, &b);
    if (st == DF_OK) st = go_on(df_flows_run(ctx, b, &jb.ro, &fo, &f));
    if (st == DF_OK && jb.out) st = go_on(df_flows_write_lines(ctx, f, b, jb.out, bend, endpoints, nodes));
    if (st == DF_OK && matrix) st = go_on(df_flows_write_matrix(ctx, f, b, matrix, hxl));
    if (st == DF_OK && wide) st = go_on(df_flows_write_wide(ctx, f, b, wide));
    if (st == DF_OK && net) st = go_on(df_flows_write_net(ctx, f, b, net));
    if (st == DF_OK && !quiet) {
        const df_flow_balance *fb = df_flows_balance(f);
        fprintf(stderr,
                "%s: %ld rows: %ld in flows, %ld with an end not placed (%ld of them stating no origin), %ld "
                "from other origins, %ld out of period, %ld rejected\n",
                jb.ro.path, fb->read.rows, fb->counted, fb->unplaced, fb->no_origin, fb->filtered, fb->out_of_period,
                fb->read.rejected);
        fprintf(stderr, "%d flows written%s%s%s%s\n", df_flows_count(f), jb.out ? " to " : "", jb.out ? jb.out : "",
                matrix ? "; matrix " : "", matrix ? matrix : "");
    }
    df_flows_free(f);
    df_boundaries_free(b);
    return st == DF_OK ? 0 : fail(ctx, st);
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
#define DENSITY_MAX_PERIODS 1000 /* rasters of one --step run, unless --max-periods */

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
static df_status density_periods(df_ctx *ctx, job *jb, const df_boundaries *b, df_density_opts *o,
                                 const df_density_info *whole, df_step step, staging *g)
{
    char crs[64], name[4096], path[4096];
    snprintf(crs, sizeof crs, "%s", whole->crs);
    o->t_srs = crs;
    o->has_extent = 1;
    o->extent[0] = whole->geotransform[0];
    o->extent[3] = whole->geotransform[3];
    o->extent[2] = whole->geotransform[0] + whole->width * whole->geotransform[1];
    o->extent[1] = whole->geotransform[3] + whole->height * whole->geotransform[5];
    const char *dot = strrchr(jb->out, '.');
    int base = dot ? (int)(dot - jb->out) : (int)strlen(jb->out);
    df_status st = DF_OK;
    for (int32_t start = jb->jo.from; st == DF_OK && start <= jb->jo.as_of;) {
        /* the calendar period containing start, labelled by its first day as
         * flows label it (df_period_of), counted from --from to --as-of */
        int32_t first, last, next = df_period_next(start, step);
        char day[11];
        df_density *d = NULL;
        df_period_of(start, step, &first, &last);
        o->from = start;
        o->as_of = last < jb->jo.as_of ? last : jb->jo.as_of;
        df_date_format(first, day);
        snprintf(name, sizeof name, "%.*s_%s%s", base, jb->out, day, dot ? dot : ".tif");
        if (interrupted) return DF_ECANCELLED;
        if (!staging_path(g, name, path, sizeof path)) return DF_EIO; /* said */
        st = go_on(df_density_run(ctx, &jb->ro, b, o, &d));
        if (st == DF_OK) st = go_on(df_density_write(ctx, d, path, jb->format, jb->nco ? jb->co : NULL));
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
    "                        [--raw] [--status displaced|returned|still] [--from DATE] [--as-of DATE]\n"
    "                        [-of GTiff|COG] [-co KEY=VALUE ...] -o OUT.tif [options of join for the records]\n"
    "\n"
    "A kernel density raster of people at the records' locations (lon/lat), in people per\n"
    "km2: every pixel is the sum over the points of w c k(d/R) / R^2 x 10^6, with d the\n"
    "distance in metres from the pixel centre to the point, R the radius and c the constant\n"
    "that makes the kernel integrate to 1 over the plane, so the raster integrates to the\n"
    "total weight, less the edge loss (kernel mass beyond the grid) it reports. Exact: every\n"
    "pixel centre against every point's true position. See docs/density.md.\n"
    "\n"
    "  --kernel NAME         quartic (default): k = (1-u^2)^2, c = 3/pi; triweight (1-u^2)^3,\n"
    "                        4/pi; epanechnikov 1-u^2, 2/pi; triangular 1-u, 3/pi; uniform 1,\n"
    "                        1/pi; gaussian exp(-4.5 u^2): sigma = R/3, cut at R = 3 sigma and\n"
    "                        renormalised (u = d/R; zero beyond R)\n"
    "  --radius METRES       R, the kernel's reach\n"
    "  --bandwidth RULE      R from the points instead: silverman (0.9 min(SD, Dm/sqrt(ln 2))\n"
    "                        n^-1/5, as ArcGIS) or scott (sigma n^-1/6); printed in the log\n"
    "  --pixel METRES        pixel size (required)\n"
    "  --weight W            what a point weighs: individuals (default), families, records\n"
    "                        (1 each), or the name of any count column\n"
    "  -t_srs CRS            target CRS (EPSG:32638, WKT, PROJ string); default: the WGS84 UTM\n"
    "                        zone of the points' median location (Mosul: EPSG:32638)\n"
    "  -te XMIN YMIN XMAX YMAX  grid extent in the target CRS; default: the boundaries'\n"
    "                        extent, else the points' extent plus R, snapped to the pixel\n"
    "  --boundaries FILE     polygons giving the default extent (any OGR source)\n"
    "  --mask                pixels whose centre lies outside the boundaries are nodata\n"
    "  --step day|week|month also one raster per period from --from to --as-of, on the\n"
    "                        whole period's grid: OUT_yyyy-mm-dd.tif, the first day of the\n"
    "                        calendar period as flows label it (October: 2016-10-01), the\n"
    "                        first raster counting from --from;\n"
    "                        all moved into place together when every one is written\n"
    "  --max-periods N       refuse --step with more than N periods (default 1000)\n"
    "  --max-pixels N        refuse a grid of more than N pixels (default 50000000: 12 bytes\n"
    "                        a pixel while it is made)\n"
    "  --small-radius        accept a radius below the pixel size (refused by default: most\n"
    "                        points would reach no pixel centre); the radius is at most 1000\n"
    "                        pixels whatever the options\n"
    "  --choropleth FILE.tif the join's displaced per km2 (at --level, default the layer's\n"
    "                        own) burned on the same grid, to compare cell by cell\n"
    "  --raw                 raw sums of w k(u) (as QGIS's Heatmap 'Raw'), not people/km2\n"
    "  --status S            only displaced or only returned rows (default: all); still: the\n"
    "                        displaced, less the returns taken out of each unit (at --level)\n"
    "                        in proportion to where its displaced people are (needs\n"
    "                        --boundaries; docs/density.md)\n"
    "  --from, --as-of DATE  only rows dated in the period (inclusive); with --snapshots,\n"
    "                        the latest snapshot on or before --as-of\n"
    "  -o FILE.tif           Float32 GeoTIFF, tiled, DEFLATE, nodata -9999, statistics and\n"
    "                        metadata (units, kernel, radius, total weight, edge loss), and\n"
    "                        FILE.qml beside it: a QGIS colour ramp from 0 to the maximum\n"
    "  -of COG               Cloud-Optimised GeoTIFF with averaged overviews\n"
    "  -co KEY=VALUE         GDAL creation option, over the defaults (repeatable)\n";

static int cmd_density(df_ctx *ctx, int argc, char **argv)
{
    df_density_opts o;
    df_density_opts_init(&o);
    const char *weight_column = NULL, *boundaries = NULL, *choropleth = NULL;
    df_step step = DF_STEP_NONE;
    int still = 0;
    long max_periods = DENSITY_MAX_PERIODS;
    char map[512];
    /* the density options first; the rest are join's (records, -o, -co) */
    char *rest[256];
    int nrest = 0;
    for (int i = 0; i < argc && nrest < 250; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_density, stdout);
            return 0;
        } else if (!strcmp(a, "--kernel") && v) {
            int k = df_kernel_parse(v);
            if (k < 0)
                return bad_usage("--kernel is quartic, triweight, epanechnikov, triangular, uniform or gaussian, not",
                                 v);
            o.kernel = (df_kernel)k, i++;
        } else if (!strcmp(a, "--radius") && v) {
            if (!((o.radius = atof(argv[++i])) > 0)) return bad_usage("--radius must be positive metres:", v);
        } else if (!strcmp(a, "--bandwidth") && v) {
            if (!strcasecmp(v, "silverman"))
                o.bandwidth = DF_BANDWIDTH_SILVERMAN;
            else if (!strcasecmp(v, "scott"))
                o.bandwidth = DF_BANDWIDTH_SCOTT;
            else
                return bad_usage("--bandwidth is silverman or scott, not", v);
            i++;
        } else if (!strcmp(a, "--pixel") && v) {
            if (!((o.pixel = atof(argv[++i])) > 0)) return bad_usage("--pixel must be positive metres:", v);
        } else if (!strcmp(a, "--choropleth") && v) {
            choropleth = argv[++i];
        } else if (!strcmp(a, "--step") && v) {
            int parsed = df_step_parse(v);
            if (parsed <= DF_STEP_NONE) return bad_usage("--step is day, week, month or round, not", v);
            step = (df_step)parsed;
            i++;
        } else if (!strcmp(a, "--weight") && v) {
            if (!strcasecmp(v, "individuals"))
                o.weight = DF_WEIGHT_INDIVIDUALS;
            else if (!strcasecmp(v, "families"))
                o.weight = DF_WEIGHT_FAMILIES;
            else if (!strcasecmp(v, "records"))
                o.weight = DF_WEIGHT_RECORDS;
            else
                weight_column = v; /* read as the individuals column */
            i++;
        } else if (!strcmp(a, "-t_srs") && v) {
            o.t_srs = argv[++i];
        } else if (!strcmp(a, "-te")) {
            if (i + 4 >= argc) return bad_usage("-te needs XMIN YMIN XMAX YMAX", NULL);
            for (int k = 0; k < 4; k++) o.extent[k] = atof(argv[i + 1 + k]);
            o.has_extent = 1, i += 4;
        } else if (!strcmp(a, "--mask")) {
            o.mask = 1;
        } else if (!strcmp(a, "--small-radius")) {
            o.small_radius = 1;
        } else if (!strcmp(a, "--max-pixels") && v) {
            char *end;
            o.max_pixels = strtod(argv[++i], &end);
            if (*end || !(o.max_pixels >= 1)) return bad_usage("--max-pixels is a number of pixels >= 1, not", v);
        } else if (!strcmp(a, "--max-periods") && v) {
            char *end;
            max_periods = strtol(argv[++i], &end, 10);
            if (*end || max_periods < 1) return bad_usage("--max-periods is a whole number >= 1, not", v);
        } else if (!strcmp(a, "--raw")) {
            o.raw = 1;
        } else if (!strcmp(a, "--status") && v) {
            if (!strcasecmp(v, "displaced"))
                o.status = DF_DISPLACED;
            else if (!strcasecmp(v, "returned"))
                o.status = DF_RETURNED;
            else if (!strcasecmp(v, "still"))
                o.status = DF_DISPLACED, still = 1;
            else
                return bad_usage("--status is displaced, returned or still, not", v);
            i++;
        } else {
            rest[nrest++] = argv[i];
        }
    }
    job jb;
    int rc = parse_job(&jb, nrest, rest, usage_density, 0); /* --boundaries is optional here */
    if (rc >= 0) return rc;
    boundaries = jb.bo.path;
    if (!jb.out) return bad_usage("missing -o OUT.tif", NULL);
    if (!(o.pixel > 0)) return bad_usage("missing --pixel METRES", NULL);
    if (!(o.radius > 0) && o.bandwidth == DF_BANDWIDTH_FIXED)
        return bad_usage("missing --radius METRES or --bandwidth silverman|scott", NULL);
    if ((o.mask || choropleth || still) && !boundaries)
        return bad_usage("--mask, --choropleth and --status still need --boundaries FILE", NULL);
    if (still && (step || o.raw)) return bad_usage("--status still works on the whole period, in people/km2", NULL);
    if (step && (jb.jo.from == DF_NO_DATE || jb.jo.as_of == DF_NO_DATE))
        return bad_usage("--step needs --from and --as-of", NULL);
    if (step) { /* issue 17 item 9: a bounded number of rasters, counted before any work */
        long n = count_periods(jb.jo.from, jb.jo.as_of, step, max_periods);
        if (n > max_periods) {
            char from[11], to[11];
            df_date_format(jb.jo.from, from), df_date_format(jb.jo.as_of, to);
            fprintf(stderr,
                    "dispflow: --step %s from %s to %s is more than %ld periods, over the limit of %ld rasters "
                    "(--max-periods N allows more)\n",
                    step == DF_STEP_DAY    ? "day"
                    : step == DF_STEP_WEEK ? "week"
                                           : "month",
                    from, to, max_periods, max_periods);
            return df_status_exit_code(DF_EINVAL);
        }
    }
    /* every option the library takes, checked before any work */
    if (df_density_opts_check(ctx, &o) != DF_OK) return fail(ctx, DF_EINVAL);
    if (weight_column) {
        snprintf(map, sizeof map, "%s%sindividuals=%s", jb.ro.map ? jb.ro.map : "", jb.ro.map ? "," : "",
                 weight_column);
        jb.ro.map = map;
    }
    o.from = jb.jo.from, o.as_of = jb.jo.as_of;
    /* the raster, its QGIS style beside it (density.c names it so), the choropleth */
    char qml[4096];
    const char *dot = strrchr(jb.out, '.'), *slash = strrchr(jb.out, '/');
    int stem = dot && (!slash || dot > slash) ? (int)(dot - jb.out) : (int)strlen(jb.out);
    snprintf(qml, sizeof qml, "%.*s.qml", stem, jb.out);
    const char *outputs[] = {jb.out, qml, choropleth};
    if ((rc = check_job_outputs(ctx, &jb, outputs, 3)) >= 0) return rc;
    staging g = {0};
    char main_path[4096];
    const char *out = jb.out;
    if (step) { /* the whole period's raster and the periods' go in together */
        if (staging_open(&g, jb.out) != 0) return df_status_exit_code(DF_EIO);
        if (!(out = staging_path(&g, jb.out, main_path, sizeof main_path))) {
            staging_close(&g, 0);
            return df_status_exit_code(DF_EIO);
        }
    }
    df_boundaries *b = NULL;
    df_density *d = NULL;
    df_status st = boundaries ? df_boundaries_load(ctx, &jb.bo, &b) : DF_OK;
    df_join *j = NULL;
    if (st == DF_OK) st = go_on(df_density_run(ctx, &jb.ro, b, &o, &d));
    if (st == DF_OK && (choropleth || still)) { /* the join, on the same records and period */
        jb.jo.level = jb.level ? jb.level : df_boundaries_finest_level(b);
        st = go_on(df_join_run(ctx, b, &jb.ro, &jb.jo, &j));
    }
    if (st == DF_OK && still) st = df_density_still_displaced(ctx, d, j, b);
    if (st == DF_OK) st = go_on(df_density_write(ctx, d, out, jb.format, jb.nco ? jb.co : NULL));
    if (st == DF_OK && choropleth) st = go_on(df_density_write_choropleth(ctx, d, j, b, choropleth));
    df_join_free(j);
    if (st == DF_OK && !quiet) {
        const df_density_info *in = df_density_get_info(d);
        fprintf(stderr,
                "%s: %ld rows, %ld points (%ld left out by status or date, %ld without coordinates, %ld rejected)\n",
                jb.ro.path, in->read.rows, in->points, in->filtered, in->no_point, in->read.rejected);
        fprintf(stderr,
                "%s kernel, R = %.1f m, pixel %.1f m, %d x %d pixels in %s; total %.1f people, on the grid %.1f, "
                "edge loss %.1f, masked %.1f; max %.6g %s\nwrote %s\n",
                df_kernel_name(in->kernel), in->radius, in->geotransform[1], in->width, in->height, in->crs,
                in->total_weight, in->grid_weight, in->edge_loss, in->mask_loss, in->max, in->units, jb.out);
    }
    if (st == DF_OK && step) st = density_periods(ctx, &jb, b, &o, df_density_get_info(d), step, &g);
    df_density_free(d);
    df_boundaries_free(b);
    st = go_on(st);
    if (step && staging_close(&g, st == DF_OK) != 0) return df_status_exit_code(DF_EIO);
    return st == DF_OK ? 0 : fail(ctx, st);
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

static const char *usage_run =
    "usage: dispflow run JOB.ini [-q] [-v] [--json-progress] [--as-of DATE] [--output DIR] [--publish]\n"
    "                    [--new-series]\n"
    "\n"
    "Runs every stage a situation report needs, as the job file says: joins at each admin\n"
    "level asked for, origin-destination flows, a density raster, map pictures, the\n"
    "situation report (sitrep.html, sitrep.md), CSV tables with HXL tags, layers.gpkg with\n"
    "QGIS styles, project.qgs and manifest.json. The job file is checked whole before any\n"
    "work starts; an error names the file, the line and the key (keys: docs/jobs.md).\n"
    "The bundle is built beside the output folder and swapped into place when complete:\n"
    "a failed or interrupted run (Ctrl-C) leaves the previous bundle untouched. It ends\n"
    "by printing the headline figures and the balance of the rows.\n"
    "\n"
    "  --as-of DATE      count up to DATE (yyyy-mm-dd) instead of the job's [job] as_of;\n"
    "                    with output = out/{as_of} each week's bundle has its own folder\n"
    "  --output DIR      write the bundle here instead of the job's [job] output\n"
    "  --publish         a bundle to leave the office: figures on fewer than k families\n"
    "                    ([publish] k, 5) withheld with enough beside them that none can be\n"
    "                    worked out; no record locations, no decision log (docs/publish.md)\n"
    "  --new-series      with [publish] ledger: start a new series of releases on purpose\n"
    "                    (a release the series cannot take, e.g. revised rounds, is refused)\n"
    "  --json-progress   progress as JSON lines on stderr: {\"stage\": ..., \"fraction\": ...}\n"
    "  -q                no progress and no summary, only errors\n"
    "  -v                also debug messages\n";

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
    const char *path = NULL, *output = NULL, *as_of = NULL;
    int publish = 0, new_series = 0;
    progress_bar bar = {0};
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage_run, stdout);
            return 0;
        } else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
            quiet = 1;
        else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
            verbose = 1;
        else if (!strcmp(argv[i], "--json-progress"))
            bar.json = 1;
        else if (!strcmp(argv[i], "--publish"))
            publish = 1;
        else if (!strcmp(argv[i], "--new-series"))
            new_series = 1;
        else if (!strcmp(argv[i], "--output") && i + 1 < argc)
            output = argv[++i];
        else if (!strcmp(argv[i], "--as-of") && i + 1 < argc)
            as_of = argv[++i];
        else if (argv[i][0] == '-')
            return unknown("option", argv[i], usage_run);
        else if (path)
            return bad_usage("one job file only; also given:", argv[i]);
        else
            path = argv[i];
    }
    if (!path) return bad_usage("missing the job file", NULL);
    int32_t as_of_day = DF_NO_DATE;
    if (as_of && df_date_parse(as_of, &as_of_day) != 0) return bad_usage("--as-of: not a date (yyyy-mm-dd):", as_of);
    const char *profiles = shipped_profiles();
    if (!profiles) return df_status_exit_code(DF_EIO);
    df_job *jf = NULL;
    df_status st = df_job_load(ctx, path, profiles, &jf);
    if (st == DF_OK && output) st = df_job_set_output(ctx, jf, output);
    if (st == DF_OK && as_of) st = df_job_set_as_of(ctx, jf, as_of_day);
    if (st == DF_OK && publish) df_job_set_publish(jf, 1);
    if (st == DF_OK && new_series) df_job_set_new_series(jf, 1);
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
