/*
 * job.c — the job file of `dispflow run`: an INI file (read with libinih)
 * naming the inputs, the period, the products and the output folder. Every
 * key is checked before any work starts; an error names the file, the line
 * and the key. The keys are the rows of df__options (options.c), the one
 * table the CLI reads too; they are documented in docs/jobs.md.
 */
#include "df_job.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>
#include <ogr_srs_api.h>

/* A key that shares its field with an earlier key ([job] source, the
 * alias of [records] source): not freed or listed twice. */
static int alias_of(int i)
{
    for (int k = 0; k < i; k++)
        if (df__options[k].key && df__options[k].in == df__options[i].in && df__options[k].at == df__options[i].at)
            return k;
    return -1;
}

/* ---- reading ------------------------------------------------------------- */

typedef struct {
    df_ctx *ctx;
    df_job *job;
    FILE *file;
    int line;                  /* the line inih is on */
    int section_line;          /* the line of the last [section] */
    int line_too_long;         /* the reader stopped at a line longer than inih takes */
    int seen[DF__MAX_OPTIONS]; /* line a key (a row of df__options) was set on, 0 = not yet */
    df_status st;              /* the first error */
} reader;

static int job_error(reader *r, const df__opt *k, const char *fmt, ...) DF__PRINTF(3, 4);

/* The closest of the known sections (key NULL) or of a section's keys to a
 * word that is neither, for "did you mean"; "" when none is close. */
static const char *closest(const char *section, const char *word)
{
    const char *best = "";
    int best_d = (int)strlen(word) / 3 + 1; /* a typo or two, not another word */
    for (int i = 0; i < df__noptions; i++) {
        if (!df__options[i].key || (section && strcmp(df__options[i].section, section) != 0)) continue;
        const char *cand = section ? df__options[i].key : df__options[i].section;
        int d = df__name_distance(word, cand, best_d);
        if (d < best_d || (d == best_d && !best[0] && d <= 1)) best = cand, best_d = d;
    }
    return best;
}

static int known_section(const char *name)
{
    for (int i = 0; i < df__noptions; i++)
        if (df__options[i].key && !strcmp(df__options[i].section, name)) return 1;
    return 0;
}

/* inih's reader, counting lines so that every error can name its line. A
 * section is checked here, where an empty one is seen too (inih calls
 * on_key only for keys). */
static char *read_line(char *str, int num, void *stream)
{
    reader *r = stream;
    if (!fgets(str, num, r->file)) return NULL;
    r->line++;
    const char *open = str + strspn(str, " \t");
    if (*open == '[') {
        r->section_line = r->line;
        const char *close = strchr(open, ']');
        char name[64];
        snprintf(name, sizeof name, "%.*s", close ? (int)(close - open - 1) : 0, open + 1);
        if (close && r->st == DF_OK && !known_section(name)) { /* issue 17 item 22 */
            const char *near = closest(NULL, name);
            job_error(r, NULL, "unknown section [%s]%s%s%s (see docs/jobs.md)", name, near[0] ? " (did you mean [" : "",
                      near, near[0] ? "]?)" : "");
            return NULL;
        }
    }
    size_t n = strlen(str);
    if (n > 0 && str[n - 1] != '\n' && !feof(r->file)) {
        r->line_too_long = num - 1;
        return NULL;
    }
    return str;
}

/* Record the first error, naming the file, the line and the key (k NULL:
 * the section); returns 0 for inih. */
static int job_error(reader *r, const df__opt *k, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (r->st == DF_OK)
        r->st = k ? df__error(r->ctx, DF_EINVAL, "%s:%d: [%s] %s: %s", r->job->path, r->line, k->section, k->key, what)
                  : df__error(r->ctx, DF_EINVAL, "%s:%d: %s", r->job->path, r->line, what);
    return 0;
}

/* Running out of memory is not the job file's fault: DF_ENOMEM (exit 3),
 * still naming where the reader was. Returns 0 for inih. */
static int job_out_of_memory(reader *r, const df__opt *k)
{
    if (r->st == DF_OK)
        r->st =
            df__error(r->ctx, DF_ENOMEM, "%s:%d: [%s] %s: out of memory", r->job->path, r->line, k->section, k->key);
    return 0;
}

/* Drop "." segments and fold "x/.." pairs, lexically: "jobs/../out" is
 * "out" (names in messages and in the manifest read as the user thinks). */
static void clean_path(char *p)
{
    char *seg[256];
    int n = 0, absolute = p[0] == '/';
    for (char *save = NULL, *t = strtok_r(p, "/", &save); t && n < 256; t = strtok_r(NULL, "/", &save)) {
        if (!strcmp(t, ".")) continue;
        if (!strcmp(t, "..") && n > 0 && strcmp(seg[n - 1], "..") != 0) {
            n--;
            continue;
        }
        if (!strcmp(t, "..") && absolute) continue; /* "/.." is "/" */
        seg[n++] = t;
    }
    char out[4096];
    size_t k = 0;
    out[0] = 0;
    if (absolute) out[k++] = '/';
    for (int i = 0; i < n && k < sizeof out - 1; i++)
        k += (size_t)snprintf(out + k, sizeof out - k, "%s%s", i ? "/" : "", seg[i]);
    if (k == 0) out[k++] = '.';
    out[k < sizeof out ? k : sizeof out - 1] = 0;
    strcpy(p, out); /* never longer than the input */
}

/* A path of the job: absolute, or relative to the job file's folder. */
static char *resolve(const df_job *job, const char *value)
{
    size_t n = strlen(job->dir) + strlen(value) + 3;
    char *p = malloc(n);
    if (!p) return NULL;
    if (value[0] == '/' || !strcmp(job->dir, "."))
        snprintf(p, n, "%s", value);
    else
        snprintf(p, n, "%s/%s", job->dir, value);
    clean_path(p);
    return p;
}

/* [maps] breaks: ascending numbers > 0 (the job holds their count). */
static int set_breaks(reader *r, const df__opt *k, const char *v)
{
    df_job *job = r->job;
    char buf[256];
    double d;
    int n = 0;
    snprintf(buf, sizeof buf, "%s", v);
    for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        if (n == DF__MAX_BREAKS)
            return job_error(r, k, "more than %d breaks (%d classes): '%s'", DF__MAX_BREAKS, DF__MAX_BREAKS + 1, v);
        if (df__parse_double(t, strlen(t), &d) != 0 || !(d > 0) || d > 1e15)
            return job_error(r, k, "'%s' is not a number > 0", t);
        if (n > 0 && d <= job->breaks[n - 1])
            return job_error(r, k, "not ascending: %s after %.15g (each break above the one before)", t,
                             job->breaks[n - 1]);
        job->breaks[n++] = d;
    }
    if (!n) return job_error(r, k, "no break given: '%s'", v);
    job->nbreaks = n;
    return 1;
}

/* A file or folder of the job: resolved against the job file's folder; an
 * input must exist. */
static int set_path(reader *r, const df__opt *k, void *at, const char *v)
{
    df_job *job = r->job;
    if (!v[0]) /* "" would resolve to the job's own folder (issue 17 item 22) */
        return job_error(r, k, "empty: name %s", k->type == DF__OPT_OUTPUT ? "the output folder" : "a file");
    if (k->type == DF__OPT_INPUT && at == (void *)&job->opts.ro.path && df__is_database(v)) {
        free(*(char **)at); /* a PG: connection, read through OGR: not a path (issue 15 item 4) */
        return (*(char **)at = df__strdup(v)) ? 1 : job_out_of_memory(r, k);
    }
    char *p = resolve(job, v);
    struct stat sb;
    if (!p) return job_out_of_memory(r, k);
    free(*(char **)at);
    *(char **)at = p;
    if (k->type == DF__OPT_OUTPUT && strchr(p, '{')) { /* "out/{as_of}": replaced once the date is known */
        free(job->output_template);
        if (!(job->output_template = df__strdup(p))) return job_out_of_memory(r, k);
    }
    if (k->type == DF__OPT_INPUT && stat(p, &sb) != 0) return job_error(r, k, "no such file: %s", p);
    if (k->type == DF__OPT_INPUT && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode) &&
        !(S_ISFIFO(sb.st_mode) && at == (void *)&job->opts.ro.path)) /* the records: read once (issue 12) */
        return job_error(r, k, "not a file: %s", p);
    return 1;
}

/* A key's value, read as its row of df__options says (the CLI reads its
 * flag the same way). */
static int set_value(reader *r, const df__opt *k, const char *v)
{
    void *at = df__opt_field(k, &r->job->opts, r->job);
    char why[400];
    if (k->type == DF__OPT_BREAKS) return set_breaks(r, k, v);
    if (k->type == DF__OPT_INPUT || k->type == DF__OPT_OUTPUT) return set_path(r, k, at, v);
    int rc = df__opt_set(k, at, v, why, sizeof why);
    if (rc == -2) return job_out_of_memory(r, k);
    if (rc < 0) return job_error(r, k, "%s", why);
    df__opts_link(&r->job->opts);
    return 1;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    reader *r = user;
    if (r->st != DF_OK) return 0;
    int in_known = 0;
    for (int i = 0; i < df__noptions; i++) {
        const df__opt *k = &df__options[i];
        if (!k->key || strcmp(k->section, section) != 0) continue;
        in_known = 1;
        if (strcmp(k->key, name) != 0) continue;
        if (r->seen[i]) return job_error(r, k, "set twice (first on line %d)", r->seen[i]);
        for (int a = 0; a < df__noptions; a++) /* an alias and its key: one value */
            if (a != i && df__options[a].key && df__options[a].in == k->in && df__options[a].at == k->at && r->seen[a])
                return job_error(r, k, "already set as [%s] %s on line %d", df__options[a].section, df__options[a].key,
                                 r->seen[a]);
        r->seen[i] = r->line;
        return set_value(r, k, value);
    }
    if (!in_known) { /* read_line stops at an unknown section first: kept for safety */
        r->line = r->section_line;
        return job_error(r, NULL, "unknown section [%s] (see docs/jobs.md)", section);
    }
    const char *near = closest(section, name);
    return job_error(r, NULL, "[%s] %s: unknown key%s%s%s (see docs/jobs.md)", section, name,
                     near[0] ? " (did you mean " : "", near, near[0] ? "?)" : "");
}

/* ---- the job ------------------------------------------------------------- */

/* The job's defaults: the library's, then each key's default in the table
 * (the job's own where it differs from the CLI's). 0, or -1 out of memory. */
static int defaults(df_job *job)
{
    char why[400];
    df__opts_init(&job->opts);
    for (int i = 0; i < df__noptions; i++) {
        const df__opt *k = &df__options[i];
        const char *d = k->job_def ? k->job_def : k->def;
        if (!k->key || !d || d[0] == '(' || alias_of(i) >= 0) continue; /* "(detected)": not a value */
        if (df__opt_set(k, df__opt_field(k, &job->opts, job), d, why, sizeof why) == -2) return -1;
    }
    /* the finest boundary file's level, once the file is read (check_whole) */
    job->opts.fo.origin_level = job->opts.fo.dest_level = 0;
    job->opts.jo.from = job->opts.jo.as_of = DF_NO_DATE;
    df__opts_link(&job->opts);
    return 0;
}

/* The density options the run will use: what the stage would refuse is
 * refused here, before any work (issue 17 item 8). */
void df__job_density_opts(const df_job *job, df_density_opts *o) { *o = job->opts.dn; }

static df_status check_density(df_ctx *ctx, const df_job *job, int t_srs_line, int step_line)
{
    df_density_opts o;
    if (!job->density) return DF_OK;
    if (job->opts.density_step != DF_STEP_NONE && job->opts.people == DF__PEOPLE_STILL)
        return df__error(ctx, DF_EINVAL,
                         "%s:%d: [density] step: a raster per period is of the records dated in the period, and "
                         "status still is a figure as of a date: choose status displaced, returned or all",
                         job->path, step_line);
    df__job_density_opts(job, &o);
    if (df_density_opts_check(ctx, &o) != DF_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", df_ctx_errmsg(ctx));
        return df__error(ctx, DF_EINVAL, "%s: [density] %s", job->path, why);
    }
    const char *t_srs = job->opts.dn.t_srs;
    if (!t_srs) return DF_OK;
    /* the stage reads t_srs after the join and the flows (issue 17 item 22) */
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    int read = srs && OSRSetFromUserInput(srs, t_srs) == OGRERR_NONE, projected = read && OSRIsProjected(srs);
    OSRDestroySpatialReference(srs);
    if (!read)
        return df__error(ctx, DF_EINVAL, "%s:%d: [density] t_srs: not a CRS GDAL can read: '%s'", job->path, t_srs_line,
                         t_srs);
    if (!projected)
        return df__error(ctx, DF_EINVAL,
                         "%s:%d: [density] t_srs: '%s' is not a projected CRS: pixel and radius are in metres",
                         job->path, t_srs_line, t_srs);
    return DF_OK;
}

/* The records' columns as the job maps and filters them: a map, where or
 * operation the read will refuse is refused now, with its line (issue 17
 * item 22). Returns 0 when the job's values are not the cause. */
static int records_value_error(const char *msg, const char **key)
{
    static const char *const said[][2] = {{"--map", "map"}, {"--where", "where"}, {"--operation", "operation"}};
    const char *first = NULL; /* the option the message is about: the first it names */
    for (int i = 0; i < 3; i++) {
        const char *at = strstr(msg, said[i][0]);
        if (at && (!first || at < first)) first = at, *key = said[i][1];
    }
    return first != NULL;
}

/* The records options the job says (borrowing the job's strings). */
void df__job_record_opts(const df_job *job, df_record_opts *ro) { *ro = job->opts.ro; }

/* The line a key was set on, or 0. */
static int key_line(const reader *r, const char *section, const char *key)
{
    for (int i = 0; i < df__noptions; i++)
        if (df__options[i].key && !strcmp(df__options[i].section, section) && !strcmp(df__options[i].key, key))
            return r->seen[i];
    return 0;
}

/* The output folder's parent must exist: the bundle is made beside it.
 * who: "[job] output" or "--output". */
static df_status check_output_parent(df_ctx *ctx, df_job *job, const char *who)
{
    char *slash = strrchr(job->output, '/');
    if (slash && slash != job->output) {
        struct stat sb;
        *slash = 0;
        int ok = stat(job->output, &sb) == 0 && S_ISDIR(sb.st_mode);
        *slash = '/';
        if (!ok)
            return df__error(ctx, DF_EINVAL, "%s: %s: the folder above %s does not exist", job->path, who, job->output);
    }
    return DF_OK;
}

void df__job_expand(const char *text, int32_t as_of, char *out, size_t cap)
{
    char date[11];
    size_t k = 0;
    df_date_format(as_of, date);
    for (const char *p = text; *p && k + 1 < cap;) {
        if (!strncmp(p, "{as_of}", 7) && as_of != DF_NO_DATE) {
            k += (size_t)snprintf(out + k, cap - k, "%s", date);
            p += 7;
        } else {
            out[k++] = *p++;
        }
    }
    out[k < cap ? k : cap - 1] = 0;
}

/* The output folder from its template: {as_of} replaced by the as-of date.
 * Without a date yet (run --as-of may give it) the template stays, and
 * df_job_run refuses it. who: "[job] output" or "--output". */
static df_status expand_output(df_ctx *ctx, df_job *job, const char *who)
{
    const char *t = job->output_template;
    if (!t) return check_output_parent(ctx, job, who);
    for (const char *p = strchr(t, '{'); p; p = strchr(p + 1, '{'))
        if (strncmp(p, "{as_of}", 7) != 0) {
            const char *end = strchr(p, '}');
            return df__error(ctx, DF_EINVAL, "%s: %s %s: unknown placeholder %.*s (the only one is {as_of})", job->path,
                             who, t, end ? (int)(end - p + 1) : (int)strlen(p), p);
        }
    size_t cap = strlen(t) + 64;
    char *out = malloc(cap);
    if (!out) return df__error(ctx, DF_ENOMEM, "out of memory");
    df__job_expand(t, job->opts.jo.as_of, out, cap);
    free(job->output);
    job->output = out;
    return job->opts.jo.as_of == DF_NO_DATE ? DF_OK : check_output_parent(ctx, job, who);
}

void df__job_relative(const df_job *job, const char *path, char *out, size_t cap)
{
    char cwd[4096], a[8192], d[8192];
    if (!getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, "/");
    snprintf(a, sizeof a, "%s%s%s", path[0] == '/' ? "" : cwd, path[0] == '/' ? "" : "/", path);
    snprintf(d, sizeof d, "%s%s%s", job->dir[0] == '/' ? "" : cwd, job->dir[0] == '/' ? "" : "/", job->dir);
    clean_path(a);
    clean_path(d);
    /* the longest common folder, then ".." for each folder of the job's below it */
    size_t common = 0, i = 0;
    for (; a[i] && a[i] == d[i]; i++)
        if (a[i] == '/') common = i;
    if (!d[i] && (a[i] == '/' || !a[i])) common = i; /* the job's folder is a prefix of path */
    if (!strcmp(d, "/")) common = 0;
    size_t k = 0;
    out[0] = 0;
    for (const char *p = d + common; *p; p++)
        if (*p == '/') k += (size_t)snprintf(out + k, k < cap ? cap - k : 0, "../");
    const char *rest = a + common + (a[common] == '/');
    if (k < cap) snprintf(out + k, cap - k, "%s", rest);
    if (!out[0]) snprintf(out, cap, ".");
    size_t n = strlen(out);
    if (n > 1 && out[n - 1] == '/') out[n - 1] = 0; /* "../" is ".." */
}

/* Keys that need one another, checked once the whole file is read. */
static df_status check_whole(df_ctx *ctx, df_job *job, const reader *r)
{
    static const char *const required[][2] = {{"job", "output"}, {"records", "path"}};
    for (int i = 0; i < 2; i++) {
        const char *v = i == 0 ? job->output : job->opts.ro.path;
        if (!v || !v[0])
            return df__error(ctx, DF_EINVAL, "%s: [%s] %s is required", job->path, required[i][0], required[i][1]);
    }
    if (job->schema && !job->database)
        return df__error(ctx, DF_EINVAL, "%s: [job] schema without [job] database (PG:dbname=...)", job->path);
    if (job->database) {
        char schema[128];
        if (!df__is_database(job->database))
            return df__error(ctx, DF_EINVAL, "%s: [job] database: not a PostgreSQL connection (PG:dbname=...): '%s'",
                             job->path, job->database);
        if (!job->schema && !(job->schema = df__strdup("dispflow"))) return df__error(ctx, DF_ENOMEM, "out of memory");
        if (df__postgis_schema(ctx, job->schema, DF_NO_DATE, schema, sizeof schema) != DF_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", df_ctx_errmsg(ctx));
            return df__error(ctx, DF_EINVAL, "%s: [job] %s", job->path, why);
        }
    }
    for (int l = 3; l >= 1 && !job->finest; l--)
        if (job->adm[l]) job->finest = l;
    if (!job->finest)
        return df__error(ctx, DF_EINVAL, "%s: [boundaries] needs a boundary file: adm1, adm2 or adm3", job->path);
    if (!job->levels) job->levels = (1 << (job->finest + 1)) - 2; /* 1..finest */
    for (int l = job->finest + 1; l <= 3; l++)
        if (job->levels & (1 << l))
            return df__error(ctx, DF_EINVAL,
                             "%s: [join] levels: adm%d asked for, but the finest boundary file is adm%d", job->path, l,
                             job->finest);
    if (!job->opts.fo.origin_level) job->opts.fo.origin_level = job->finest;
    if (!job->opts.fo.dest_level) job->opts.fo.dest_level = job->finest;
    if (job->opts.fo.origin_level > job->finest || job->opts.fo.dest_level > job->finest)
        return df__error(ctx, DF_EINVAL, "%s: [flows] levels finer than the finest boundary file (adm%d)", job->path,
                         job->finest);
    if (job->opts.jo.from != DF_NO_DATE && job->opts.jo.as_of != DF_NO_DATE && job->opts.jo.from > job->opts.jo.as_of) {
        char from[11], as_of[11];
        df_date_format(job->opts.jo.from, from);
        df_date_format(job->opts.jo.as_of, as_of);
        return df__error(ctx, DF_EINVAL, "%s:%d: [job] from %s is after as_of %s (line %d)", job->path,
                         key_line(r, "job", "from"), from, as_of, key_line(r, "job", "as_of"));
    }
    df_status st = check_density(ctx, job, key_line(r, "density", "t_srs"), key_line(r, "density", "step"));
    if (st != DF_OK) return st;
    /* no kind given: a DTM API table is snapshots, said now, so that every
     * stage and the report read it so; any other stays "auto" (the join
     * warns when its units repeat on several dates) */
    if (job->opts.ro.kind == DF_KIND_AUTO || job->opts.ro.map || job->opts.where.n || job->opts.operations.n) {
        df_record_opts ro;
        df__job_record_opts(job, &ro);
        df_table_kind kind;
        /* a records file that cannot be read is the run's error to report,
         * with its own status; the job file itself is fine */
        df_status rs = df_records_kind(ctx, &ro, &kind, NULL, 0);
        const char *key = NULL;
        if (rs == DF_OK && job->opts.ro.kind == DF_KIND_AUTO && kind == DF_SNAPSHOTS) job->opts.ro.kind = DF_SNAPSHOTS;
        if ((rs == DF_EINVAL || rs == DF_ESCHEMA) && records_value_error(df_ctx_errmsg(ctx), &key)) {
            char why[600];
            snprintf(why, sizeof why, "%s", df_ctx_errmsg(ctx));
            return df__error(ctx, rs, "%s:%d: [records] %s: %s", job->path, key_line(r, "records", key), key, why);
        }
    }
    if (job->nbreaks && key_line(r, "maps", "classes"))
        return df__error(ctx, DF_EINVAL, "%s:%d: [maps] classes and breaks (line %d): give one, not both", job->path,
                         key_line(r, "maps", "classes"), key_line(r, "maps", "breaks"));
    return expand_output(ctx, job, "[job] output");
}

/* Read the job file's keys into a new job (not yet checked whole). */
static df_status job_read(df_ctx *ctx, const char *path, const char *profiles, df_job **out, reader *rd)
{
    *out = NULL;
    df_job *job = calloc(1, sizeof *job);
    if (!job) return df__error(ctx, DF_ENOMEM, "out of memory");
    int no_memory = defaults(job) != 0;
    job->path = df__strdup(path);
    if (no_memory) {
        df_job_free(job);
        return df__error(ctx, DF_ENOMEM, "out of memory");
    }
    job->dir = df__strdup(path);
    job->profiles_dir = profiles ? df__strdup(profiles) : NULL;
    if (!job->path || !job->dir || (profiles && !job->profiles_dir)) {
        df_job_free(job);
        return df__error(ctx, DF_ENOMEM, "out of memory");
    }
    char *slash = strrchr(job->dir, '/');
    if (slash)
        slash[slash == job->dir] = 0; /* "/x.ini" keeps "/" */
    else
        strcpy(job->dir, ".");

    reader r = {.ctx = ctx, .job = job};
    _Static_assert(sizeof r.seen / sizeof *r.seen >= DF__MAX_OPTIONS, "a line per row");
    if (!(r.file = fopen(path, "r"))) {
        df_status st = df__error(ctx, DF_EIO, "cannot read the job file %s: %s", path, strerror(errno));
        df_job_free(job);
        return st;
    }
    unsigned char head[64];
    size_t got = fread(head, 1, sizeof head, r.file);
    const char *utf16 = df__utf16_name(head, got);
    if (utf16 || fseek(r.file, 0, SEEK_SET) != 0) { /* issue 17 item 20: not "line longer than 199" */
        df_status st = utf16 ? df__error(ctx, DF_EINVAL,
                                         "%s: the job file is %s text, not UTF-8: convert it with iconv -f %s -t UTF-8 "
                                         "%s > job-utf8.ini",
                                         path, utf16, utf16, path)
                             : df__error(ctx, DF_EIO, "cannot read the job file %s: %s", path, strerror(errno));
        fclose(r.file);
        df_job_free(job);
        return st;
    }
    int rc = ini_parse_stream(read_line, &r, on_key, &r);
    fclose(r.file);
    if (r.st == DF_OK && r.line_too_long)
        r.st = df__error(ctx, DF_EINVAL, "%s:%d: line longer than %d characters", path, r.line, r.line_too_long);
    if (r.st == DF_OK && rc > 0)
        r.st = df__error(ctx, DF_EINVAL, "%s:%d: not a [section] or a key = value line", path, rc);
    *rd = r;
    if (r.st != DF_OK) {
        df_job_free(job);
        return r.st;
    }
    *out = job;
    return DF_OK;
}

df_status df__job_parse(df_ctx *ctx, const char *path, df_job **out)
{
    reader r;
    return job_read(ctx, path, NULL, out, &r);
}

df_status df_job_load(df_ctx *ctx, const char *path, const char *profiles, df_job **out)
{
    DF__GDAL_SCOPE(ctx); /* the checker reads the records' header and t_srs through GDAL */
    reader r;
    df_status st = job_read(ctx, path, profiles, out, &r);
    if (st == DF_OK && (st = check_whole(ctx, *out, &r)) != DF_OK) {
        df_job_free(*out);
        *out = NULL;
    }
    return st;
}

void df_job_free(df_job *job)
{
    if (!job) return;
    for (int i = 0; i < df__noptions; i++) {
        const df__opt *k = &df__options[i];
        if (k->key && k->in == DF__IN_JOB && alias_of(i) < 0 &&
            (k->type == DF__OPT_TEXT || k->type == DF__OPT_INPUT || k->type == DF__OPT_OUTPUT))
            free(*(char **)((char *)job + k->at));
    }
    df__opts_free(&job->opts);
    free(job->output_template);
    free(job->path);
    free(job->dir);
    free(job->profiles_dir);
    free(job);
}

const char *df_job_output(const df_job *job) { return job->output; }

void df__job_each(const df_job *job, df__job_visit fn, void *user)
{
    for (int i = 0; i < df__noptions; i++) {
        const df__opt *k = &df__options[i];
        if (!k->key || alias_of(i) >= 0) continue; /* listed once, under its own key */
        const void *at = df__opt_field(k, (df__opts *)&job->opts, (df_job *)job);
        char buf[4096];
        const char *v = df__opt_format(k, at, buf, sizeof buf);
        if ((k->type == DF__OPT_INPUT || k->type == DF__OPT_OUTPUT) && v) {
            /* relative to the job file: the same whichever folder the run starts in */
            df__job_relative(job, k->type == DF__OPT_OUTPUT && job->output_template ? job->output_template : v, buf,
                             sizeof buf);
            v = buf;
        } else if (k->type == DF__OPT_BREAKS) {
            buf[0] = 0;
            for (int b = 0; b < job->nbreaks; b++)
                snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%.15g", b ? ", " : "", job->breaks[b]);
            v = job->nbreaks ? buf : NULL;
        }
        fn(k->section, k->key, v, user);
    }
}

df_status df_job_set_output(df_ctx *ctx, df_job *job, const char *dir)
{
    if (!dir[0]) /* it failed only after the whole run (issue 17 item 22) */
        return df__error(ctx, DF_EINVAL, "--output is empty: name the output folder");
    char *copy = df__strdup(dir);
    if (!copy) return df__error(ctx, DF_ENOMEM, "out of memory");
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/') copy[--n] = 0; /* "out/" is the folder out */
    free(job->output);
    job->output = copy;
    free(job->output_template);
    job->output_template = NULL;
    if (strchr(copy, '{') && !(job->output_template = df__strdup(copy)))
        return df__error(ctx, DF_ENOMEM, "out of memory");
    return expand_output(ctx, job, "--output");
}

df_status df_job_set_as_of(df_ctx *ctx, df_job *job, int32_t as_of)
{
    if (job->opts.jo.from != DF_NO_DATE && as_of != DF_NO_DATE && job->opts.jo.from > as_of) {
        char from[11], to[11];
        df_date_format(job->opts.jo.from, from);
        df_date_format(as_of, to);
        return df__error(ctx, DF_EINVAL, "--as-of %s is before the job's [job] from %s (%s)", to, from, job->path);
    }
    job->opts.jo.as_of = as_of;
    return expand_output(ctx, job, "[job] output");
}

void df_job_set_publish(df_job *job, int on) { job->publish = on; }

void df_job_set_new_series(df_job *job, int on) { job->publish_new_series = on; }
