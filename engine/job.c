/*
 * job.c — the job file of `dispflow run`: an INI file (read with libinih)
 * naming the inputs, the period, the products and the output folder. Every
 * key is checked before any work starts; an error names the file, the line
 * and the key. Keys are documented in docs/jobs.md.
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

/* ---- the keys -------------------------------------------------------------- */

typedef enum {
    K_TEXT,   /* free text */
    K_INPUT,  /* a file that must exist, relative to the job file */
    K_OUTPUT, /* the output folder, relative to the job file */
    K_DATE,
    K_INT,    /* a whole number >= 0 */
    K_NUMBER, /* a number > 0 */
    K_RATIO,  /* a number >= 0 */
    K_BOOL,   /* yes/no, true/false, on/off, 1/0 */
    K_CHOICE, /* one of the words in choices; stored as its index */
    K_LEVEL,  /* adm1..adm3 or 1..3 */
    K_LEVELS, /* a list of levels: a bit mask */
    K_KERNEL,
    K_DELIMITER,
    K_BREAKS /* ascending numbers > 0, comma-separated: class breaks */
} key_type;

static const char *const steps[] = {"none", "day", "week", "month", NULL};
static const char *const kinds[] = {"increments", "snapshots", "auto", NULL};
static const char *const duplicate_policies[] = {"default", "keep", "drop", "refuse", NULL};
static const char *const assessment_policies[] = {"refuse", "add", NULL};
static const char *const movements[] = {"displaced", "returned", NULL};
static const char *const density_statuses[] = {"displaced", "returned", "all", "still", NULL};
static const char *const preferences[] = {"names", "points", NULL};
static const char *const endpoint_ways[] = {"inside", "weighted", NULL};
static const char *const bandwidth_rules[] = {"fixed", "silverman", "scott", NULL};
static const char *const class_schemes[] = {"nice", "quantile", "jenks", NULL}; /* DF__CLASSES_* */

#define DEFAULT_DISCLAIMER                                                                                             \
    "The boundaries and names shown and the designations used on this map do not imply official endorsement or "       \
    "acceptance by the United Nations."
static const char *const records_layer_ways[] = {"auto", "always", "no", NULL}; /* df__records_layer */

#define AT(field) offsetof(struct df_job, field)

static const struct key_def {
    const char *section, *key;
    key_type type;
    size_t at;
    const char *const *choices;
} keys[] = {
    {"job", "title", K_TEXT, AT(title), NULL},
    {"job", "output", K_OUTPUT, AT(output), NULL},
    {"job", "from", K_DATE, AT(from), NULL},
    {"job", "as_of", K_DATE, AT(as_of), NULL},
    {"job", "step", K_CHOICE, AT(step), steps},
    {"job", "origins", K_TEXT, AT(origins), NULL},
    {"job", "database", K_TEXT, AT(database), NULL},
    {"job", "schema", K_TEXT, AT(schema), NULL},
    {"records", "path", K_INPUT, AT(records_path), NULL},
    {"records", "layer", K_TEXT, AT(records_layer), NULL},
    {"records", "map", K_TEXT, AT(records_map), NULL},
    {"records", "delimiter", K_DELIMITER, AT(delimiter), NULL},
    {"records", "header", K_BOOL, AT(header), NULL},
    {"records", "household_size", K_NUMBER, AT(household_size), NULL},
    {"records", "kind", K_CHOICE, AT(kind), kinds},
    {"records", "status", K_CHOICE, AT(default_status), movements},
    {"records", "operation", K_TEXT, AT(operation), NULL},
    {"records", "where", K_TEXT, AT(where), NULL},
    {"records", "duplicates", K_CHOICE, AT(duplicates), duplicate_policies},
    {"records", "assessments", K_CHOICE, AT(assessments), assessment_policies},
    {"records", "source", K_TEXT, AT(records_source), NULL},
    {"boundaries", "adm1", K_INPUT, AT(adm[1]), NULL},
    {"boundaries", "adm2", K_INPUT, AT(adm[2]), NULL},
    {"boundaries", "adm3", K_INPUT, AT(adm[3]), NULL},
    {"boundaries", "aliases", K_INPUT, AT(aliases), NULL},
    {"boundaries", "shipped_aliases", K_BOOL, AT(shipped_aliases), NULL},
    {"boundaries", "prefer", K_CHOICE, AT(prefer_points), preferences},
    {"boundaries", "profile", K_TEXT, AT(profile), NULL},
    {"boundaries", "labels", K_TEXT, AT(labels), NULL},
    {"boundaries", "name_field", K_TEXT, AT(name_field), NULL},
    {"boundaries", "credit", K_TEXT, AT(boundaries_credit), NULL},
    {"join", "levels", K_LEVELS, AT(levels), NULL},
    {"flows", "enabled", K_BOOL, AT(flows), NULL},
    {"flows", "origin_level", K_LEVEL, AT(origin_level), NULL},
    {"flows", "dest_level", K_LEVEL, AT(dest_level), NULL},
    {"flows", "min", K_INT, AT(flow_min), NULL},
    {"flows", "top", K_INT, AT(flow_top), NULL},
    {"flows", "intra", K_BOOL, AT(flow_intra), NULL},
    {"flows", "bend", K_RATIO, AT(bend), NULL},
    {"flows", "endpoints", K_CHOICE, AT(endpoints), endpoint_ways},
    {"density", "enabled", K_BOOL, AT(density), NULL},
    {"density", "status", K_CHOICE, AT(density_status), density_statuses},
    {"density", "kernel", K_KERNEL, AT(kernel), NULL},
    {"density", "radius", K_NUMBER, AT(radius), NULL},
    {"density", "bandwidth", K_CHOICE, AT(bandwidth), bandwidth_rules},
    {"density", "pixel", K_NUMBER, AT(pixel), NULL},
    {"density", "mask", K_BOOL, AT(mask), NULL},
    {"density", "t_srs", K_TEXT, AT(t_srs), NULL},
    {"density", "small_radius", K_BOOL, AT(small_radius), NULL},
    {"density", "max_pixels", K_NUMBER, AT(max_pixels), NULL},
    {"density", "step", K_CHOICE, AT(density_step), steps},
    {"report", "maps", K_BOOL, AT(maps), NULL},
    {"publish", "enabled", K_BOOL, AT(publish), NULL},
    {"publish", "k", K_INT, AT(publish_k), NULL},
    {"publish", "ledger", K_OUTPUT, AT(publish_ledger), NULL},
    {"publish", "round", K_INT, AT(publish_round), NULL},
    {"publish", "new_series", K_BOOL, AT(publish_new_series), NULL},
    {"report", "top_flows", K_INT, AT(top_flows), NULL},
    {"report", "records_layer", K_CHOICE, AT(records_layer_mode), records_layer_ways},
    {"report", "records_layer_max", K_INT, AT(records_layer_max), NULL},
    {"report", "organisation", K_TEXT, AT(report_organisation), NULL},
    {"report", "contact", K_TEXT, AT(report_contact), NULL},
    {"report", "disclaimer", K_TEXT, AT(report_disclaimer), NULL},
    {"report", "logo", K_INPUT, AT(report_logo), NULL},
    {"report", "map_id", K_TEXT, AT(report_map_id), NULL},
    {"maps", "classes", K_CHOICE, AT(classes), class_schemes},
    {"maps", "breaks", K_BREAKS, AT(breaks), NULL},
    {"maps", "circles", K_BOOL, AT(circles), NULL},
    {"maps", "labels", K_TEXT, AT(map_labels), NULL},    /* "en, ar": the label lines, by language or name field */
    {"maps", "places", K_INPUT, AT(map_places), NULL},   /* a CSV of named points: name, lat, lon, kind */
    {"job", "source", K_TEXT, AT(records_source), NULL}, /* an alias of [records] source, kept */
};
#define NKEYS ((int)(sizeof keys / sizeof *keys))

/* A key that shares its field with an earlier key ([job] source, the
 * alias of [records] source): not freed or listed twice. */
static int alias_of(int i)
{
    for (int k = 0; k < i; k++)
        if (keys[k].at == keys[i].at) return k;
    return -1;
}

#undef AT

/* ---- reading ------------------------------------------------------------- */

typedef struct {
    df_ctx *ctx;
    df_job *job;
    FILE *file;
    int line;          /* the line inih is on */
    int section_line;  /* the line of the last [section] */
    int line_too_long; /* the reader stopped at a line longer than inih takes */
    int seen[NKEYS];   /* line a key was set on, 0 = not yet */
    df_status st;      /* the first error */
} reader;

static int job_error(reader *r, const struct key_def *k, const char *fmt, ...) DF__PRINTF(3, 4);

/* The closest of the known sections (key NULL) or of a section's keys to a
 * word that is neither, for "did you mean"; "" when none is close. */
static const char *closest(const char *section, const char *word)
{
    const char *best = "";
    int best_d = (int)strlen(word) / 3 + 1; /* a typo or two, not another word */
    for (int i = 0; i < NKEYS; i++) {
        if (section && strcmp(keys[i].section, section) != 0) continue;
        const char *cand = section ? keys[i].key : keys[i].section;
        int d = df__name_distance(word, cand, best_d);
        if (d < best_d || (d == best_d && !best[0] && d <= 1)) best = cand, best_d = d;
    }
    return best;
}

static int known_section(const char *name)
{
    for (int i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].section, name)) return 1;
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
static int job_error(reader *r, const struct key_def *k, const char *fmt, ...)
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
static int job_out_of_memory(reader *r, const struct key_def *k)
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

static int parse_bool(const char *v)
{
    static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i])) return 1;
        if (!strcasecmp(v, no[i])) return 0;
    }
    return -1;
}

static int parse_level(const char *v)
{
    if (!strncasecmp(v, "adm", 3)) v += 3;
    return v[0] >= '1' && v[0] <= '3' && !v[1] ? v[0] - '0' : -1;
}

static int parse_choice(const char *v, const char *const *choices)
{
    for (int i = 0; choices[i]; i++)
        if (!strcasecmp(v, choices[i])) return i;
    return -1;
}

/* "a, b or c", for a message. */
static const char *choice_list(const char *const *choices, char *buf, size_t cap)
{
    buf[0] = 0;
    for (int i = 0; choices[i]; i++) {
        size_t n = strlen(buf);
        snprintf(buf + n, cap - n, "%s%s", i == 0 ? "" : choices[i + 1] ? ", " : " or ", choices[i]);
    }
    return buf;
}

static int set_value(reader *r, const struct key_def *k, const char *v)
{
    df_job *job = r->job;
    void *at = (char *)job + k->at;
    char buf[256];
    switch (k->type) {
    case K_TEXT:
        free(*(char **)at);
        if (!(*(char **)at = df__strdup(v))) return job_out_of_memory(r, k);
        return 1;
    case K_INPUT:
    case K_OUTPUT: {
        if (!v[0]) /* "" would resolve to the job's own folder (issue 17 item 22) */
            return job_error(r, k, "empty: name %s", k->type == K_OUTPUT ? "the output folder" : "a file");
        if (k->type == K_INPUT && k->at == offsetof(struct df_job, records_path) && df__is_database(v)) {
            free(*(char **)at); /* a PG: connection, read through OGR: not a path (issue 15 item 4) */
            return (*(char **)at = df__strdup(v)) ? 1 : job_out_of_memory(r, k);
        }
        char *p = resolve(job, v);
        struct stat sb;
        if (!p) return job_out_of_memory(r, k);
        free(*(char **)at);
        *(char **)at = p;
        if (k->type == K_OUTPUT && strchr(p, '{')) { /* "out/{as_of}": replaced once the date is known */
            free(job->output_template);
            if (!(job->output_template = df__strdup(p))) return job_out_of_memory(r, k);
        }
        if (k->type == K_INPUT && stat(p, &sb) != 0) return job_error(r, k, "no such file: %s", p);
        if (k->type == K_INPUT && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode))
            return job_error(r, k, "not a file: %s", p);
        return 1;
    }
    case K_DATE:
        if (df_date_parse(v, (int32_t *)at) != 0) return job_error(r, k, "not a date (use yyyy-mm-dd): '%s'", v);
        return 1;
    case K_INT: {
        int64_t n;
        if (df__parse_count(v, strlen(v), &n) != 0 || n < 0 || n > INT32_MAX)
            return job_error(r, k, "not a whole number >= 0: '%s'", v);
        *(int64_t *)at = n;
        return 1;
    }
    case K_NUMBER:
    case K_RATIO: {
        double d;
        if (df__parse_double(v, strlen(v), &d) != 0 || !(k->type == K_NUMBER ? d > 0 : d >= 0) || d > 1e12)
            return job_error(r, k, "not a number %s 0: '%s'", k->type == K_NUMBER ? ">" : ">=", v);
        *(double *)at = d;
        return 1;
    }
    case K_BOOL:
        if ((*(int *)at = parse_bool(v)) < 0) return job_error(r, k, "not yes or no: '%s'", v);
        return 1;
    case K_CHOICE:
        if ((*(int *)at = parse_choice(v, k->choices)) < 0)
            return job_error(r, k, "'%s' is not %s", v, choice_list(k->choices, buf, sizeof buf));
        return 1;
    case K_LEVEL:
        if ((*(int *)at = parse_level(v)) < 0) return job_error(r, k, "not adm1, adm2 or adm3: '%s'", v);
        return 1;
    case K_LEVELS: {
        int mask = 0;
        snprintf(buf, sizeof buf, "%s", v);
        for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
            int l = parse_level(t);
            if (l < 0) return job_error(r, k, "not a list of adm1, adm2, adm3: '%s'", v);
            mask |= 1 << l;
        }
        if (!mask) return job_error(r, k, "no level given: '%s'", v);
        *(int *)at = mask;
        return 1;
    }
    case K_KERNEL:
        if ((*(int *)at = df_kernel_parse(v)) < 0)
            return job_error(r, k, "'%s' is not quartic, triweight, epanechnikov, triangular, uniform or gaussian", v);
        return 1;
    case K_DELIMITER: /* the CLI's --delimiter reads it the same way */
        if (df_delimiter_parse(v, (char *)at) != 0)
            return job_error(r, k, "'%s' is not comma, semicolon, tab or pipe", v);
        return 1;
    case K_BREAKS: {
        double *b = at, d;
        int n = 0;
        snprintf(buf, sizeof buf, "%s", v);
        for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
            if (n == DF__MAX_BREAKS)
                return job_error(r, k, "more than %d breaks (%d classes): '%s'", DF__MAX_BREAKS, DF__MAX_BREAKS + 1, v);
            if (df__parse_double(t, strlen(t), &d) != 0 || !(d > 0) || d > 1e15)
                return job_error(r, k, "'%s' is not a number > 0", t);
            if (n > 0 && d <= b[n - 1])
                return job_error(r, k, "not ascending: %s after %.15g (each break above the one before)", t, b[n - 1]);
            b[n++] = d;
        }
        if (!n) return job_error(r, k, "no break given: '%s'", v);
        job->nbreaks = n;
        return 1;
    }
    }
    return 0;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    reader *r = user;
    if (r->st != DF_OK) return 0;
    int in_known = 0;
    for (int i = 0; i < NKEYS; i++) {
        if (strcmp(keys[i].section, section) != 0) continue;
        in_known = 1;
        if (strcmp(keys[i].key, name) != 0) continue;
        if (r->seen[i]) return job_error(r, &keys[i], "set twice (first on line %d)", r->seen[i]);
        for (int a = 0; a < NKEYS; a++) /* an alias and its key: one value */
            if (a != i && keys[a].at == keys[i].at && r->seen[a])
                return job_error(r, &keys[i], "already set as [%s] %s on line %d", keys[a].section, keys[a].key,
                                 r->seen[a]);
        r->seen[i] = r->line;
        return set_value(r, &keys[i], value);
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

static void defaults(df_job *job)
{
    job->from = job->as_of = DF_NO_DATE;
    job->step = DF_STEP_MONTH;
    job->header = -1;
    job->household_size = 6;
    job->kind = DF_KIND_AUTO;
    job->shipped_aliases = 1;
    job->levels = 0; /* every level up to the finest boundary file */
    job->flows = 1;
    job->flow_intra = 1;
    job->bend = 0.15;
    job->endpoints = DF_ENDPOINTS_WEIGHTED;
    job->density = 1;
    job->density_status = 0; /* displaced */
    job->kernel = DF_KERNEL_QUARTIC;
    job->radius = 5000;
    job->pixel = 1000;
    job->mask = 1;
    job->max_pixels = DF_DENSITY_MAX_PIXELS;
    job->maps = 1;
    job->publish_k = 5;
    job->top_flows = 10;
    job->classes = DF__CLASSES_NICE;
    job->report_disclaimer = df__strdup(DEFAULT_DISCLAIMER); /* checked in df_job_load */
    job->report_map_id = df__strdup("DF-{as_of}");
    job->records_layer_max = 1000000;
}

/* The density options the run will use: what the stage would refuse is
 * refused here, before any work (issue 17 item 8). */
void df__job_density_opts(const df_job *job, df_density_opts *o)
{
    df_density_opts_init(o);
    o->kernel = (df_kernel)job->kernel;
    o->radius = job->radius;
    o->bandwidth = (df_bandwidth)job->bandwidth;
    o->pixel = job->pixel;
    o->t_srs = job->t_srs;
    o->mask = job->mask;
    o->small_radius = job->small_radius;
    o->max_pixels = job->max_pixels;
}

static df_status check_density(df_ctx *ctx, const df_job *job, int t_srs_line, int step_line)
{
    df_density_opts o;
    if (!job->density) return DF_OK;
    if (job->density_step != DF_STEP_NONE && job->density_status == 3)
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
    if (!job->t_srs) return DF_OK;
    /* the stage reads t_srs after the join and the flows (issue 17 item 22) */
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    int read = srs && OSRSetFromUserInput(srs, job->t_srs) == OGRERR_NONE, projected = read && OSRIsProjected(srs);
    OSRDestroySpatialReference(srs);
    if (!read)
        return df__error(ctx, DF_EINVAL, "%s:%d: [density] t_srs: not a CRS GDAL can read: '%s'", job->path, t_srs_line,
                         job->t_srs);
    if (!projected)
        return df__error(ctx, DF_EINVAL,
                         "%s:%d: [density] t_srs: '%s' is not a projected CRS: pixel and radius are in metres",
                         job->path, t_srs_line, job->t_srs);
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

/* Cut a copy of s at sep into list (at most 16, blanks trimmed, empty
 * items dropped); returns the copy, which the list points into. */
static char *split_list(const char *s, char sep, const char **list)
{
    char *buf = df__strdup(s);
    int n = 0;
    if (!buf) return NULL;
    for (char *p = buf; p && n < 16;) {
        char *end = strchr(p, sep), *next = end ? end + 1 : NULL;
        if (end) *end = 0;
        while (*p == ' ' || *p == '\t') p++;
        for (size_t k = strlen(p); k > 0 && (p[k - 1] == ' ' || p[k - 1] == '\t'); k--) p[k - 1] = 0;
        if (*p) list[n++] = p;
        p = next;
    }
    list[n] = NULL;
    return buf;
}

void df__job_record_opts(const df_job *job, df_record_opts *ro)
{
    df_record_opts_init(ro);
    ro->path = job->records_path;
    ro->layer = job->records_layer;
    ro->map = job->records_map;
    ro->delimiter = job->delimiter;
    ro->header = job->header;
    ro->household_size = job->household_size;
    ro->kind = (df_table_kind)job->kind;
    ro->default_status = job->default_status ? DF_RETURNED : DF_DISPLACED;
    ro->operations = job->operation_buf ? job->operations : NULL;
    ro->where = job->where_buf ? job->wheres : NULL;
    ro->duplicates = (df_duplicates)job->duplicates;
    ro->add_assessments = job->assessments;
}

/* The line a key was set on, or 0. */
static int key_line(const reader *r, const char *section, const char *key)
{
    for (int i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].section, section) && !strcmp(keys[i].key, key)) return r->seen[i];
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
    df__job_expand(t, job->as_of, out, cap);
    free(job->output);
    job->output = out;
    return job->as_of == DF_NO_DATE ? DF_OK : check_output_parent(ctx, job, who);
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
        const char *v = i == 0 ? job->output : job->records_path;
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
    if (!job->origin_level) job->origin_level = job->finest;
    if (!job->dest_level) job->dest_level = job->finest;
    if (job->origin_level > job->finest || job->dest_level > job->finest)
        return df__error(ctx, DF_EINVAL, "%s: [flows] levels finer than the finest boundary file (adm%d)", job->path,
                         job->finest);
    if (job->from != DF_NO_DATE && job->as_of != DF_NO_DATE && job->from > job->as_of) {
        char from[11], as_of[11];
        df_date_format(job->from, from);
        df_date_format(job->as_of, as_of);
        return df__error(ctx, DF_EINVAL, "%s:%d: [job] from %s is after as_of %s (line %d)", job->path,
                         key_line(r, "job", "from"), from, as_of, key_line(r, "job", "as_of"));
    }
    df_status st = check_density(ctx, job, key_line(r, "density", "t_srs"), key_line(r, "density", "step"));
    if (st != DF_OK) return st;
    /* operations "A, B" and filters "COL=V,V & COL=V" as lists (a ; would start a comment) */
    if ((job->operation && !(job->operation_buf = split_list(job->operation, ',', job->operations))) ||
        (job->where && !(job->where_buf = split_list(job->where, '&', job->wheres))))
        return df__error(ctx, DF_ENOMEM, "out of memory");
    /* no kind given: a DTM API table is snapshots, said now, so that every
     * stage and the report read it so; any other stays "auto" (the join
     * warns when its units repeat on several dates) */
    if (job->kind == DF_KIND_AUTO || job->records_map || job->where || job->operation) {
        df_record_opts ro;
        df__job_record_opts(job, &ro);
        df_table_kind kind;
        /* a records file that cannot be read is the run's error to report,
         * with its own status; the job file itself is fine */
        df_status rs = df_records_kind(ctx, &ro, &kind, NULL, 0);
        const char *key = NULL;
        if (rs == DF_OK && job->kind == DF_KIND_AUTO && kind == DF_SNAPSHOTS) job->kind = DF_SNAPSHOTS;
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

df_status df_job_load(df_ctx *ctx, const char *path, const char *profiles, df_job **out)
{
    DF__GDAL_SCOPE(ctx); /* the checker reads the records' header and t_srs through GDAL */
    *out = NULL;
    df_job *job = calloc(1, sizeof *job);
    if (!job) return df__error(ctx, DF_ENOMEM, "out of memory");
    defaults(job);
    job->path = df__strdup(path);
    if (!job->report_disclaimer || !job->report_map_id) {
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
    if (r.st == DF_OK) r.st = check_whole(ctx, job, &r);
    if (r.st != DF_OK) {
        df_job_free(job);
        return r.st;
    }
    *out = job;
    return DF_OK;
}

void df_job_free(df_job *job)
{
    if (!job) return;
    for (int i = 0; i < NKEYS; i++)
        if ((keys[i].type == K_TEXT || keys[i].type == K_INPUT || keys[i].type == K_OUTPUT) && alias_of(i) < 0)
            free(*(char **)((char *)job + keys[i].at));
    free(job->output_template);
    free(job->path);
    free(job->dir);
    free(job->profiles_dir);
    free(job->operation_buf);
    free(job->where_buf);
    free(job);
}

const char *df_job_output(const df_job *job) { return job->output; }

void df__job_each(const df_job *job, df__job_visit fn, void *user)
{
    for (int i = 0; i < NKEYS; i++) {
        const struct key_def *k = &keys[i];
        const void *at = (const char *)job + k->at;
        char buf[4096];
        const char *v = buf;
        if (alias_of(i) >= 0) continue; /* listed once, under its own key */
        switch (k->type) {
        case K_TEXT:
            v = *(char *const *)at;
            break;
        case K_INPUT:
        case K_OUTPUT: /* relative to the job file: the same whichever folder the run starts in */
            v = *(char *const *)at;
            if (v)
                df__job_relative(job, k->type == K_OUTPUT && job->output_template ? job->output_template : v, buf,
                                 sizeof buf),
                    v = buf;
            break;
        case K_DATE:
            df_date_format(*(const int32_t *)at, buf);
            if (!buf[0]) v = NULL;
            break;
        case K_INT:
            snprintf(buf, sizeof buf, "%lld", (long long)*(const int64_t *)at);
            break;
        case K_NUMBER:
        case K_RATIO:
            snprintf(buf, sizeof buf, "%.15g", *(const double *)at);
            break;
        case K_BOOL:
            v = *(const int *)at < 0 ? "detect" : *(const int *)at ? "yes" : "no";
            break;
        case K_CHOICE:
            v = k->choices[*(const int *)at];
            break;
        case K_LEVEL:
            snprintf(buf, sizeof buf, "adm%d", *(const int *)at);
            break;
        case K_LEVELS:
            buf[0] = 0;
            for (int l = 1; l <= 3; l++)
                if (*(const int *)at & (1 << l))
                    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%sadm%d", buf[0] ? "," : "", l);
            break;
        case K_KERNEL:
            v = df_kernel_name((df_kernel) * (const int *)at);
            break;
        case K_DELIMITER: {
            static const char *const names[] = {"comma", "semicolon", "tab", "pipe"};
            const char *p = strchr(",;\t|", *(const char *)at);
            v = *(const char *)at && p ? names[p - ",;\t|"] : "detect";
            break;
        }
        case K_BREAKS:
            buf[0] = 0;
            for (int b = 0; b < job->nbreaks; b++)
                snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%.15g", b ? ", " : "", job->breaks[b]);
            if (!job->nbreaks) v = NULL;
            break;
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
    if (job->from != DF_NO_DATE && as_of != DF_NO_DATE && job->from > as_of) {
        char from[11], to[11];
        df_date_format(job->from, from);
        df_date_format(as_of, to);
        return df__error(ctx, DF_EINVAL, "--as-of %s is before the job's [job] from %s (%s)", to, from, job->path);
    }
    job->as_of = as_of;
    return expand_output(ctx, job, "[job] output");
}

void df_job_set_publish(df_job *job, int on) { job->publish = on; }

void df_job_set_new_series(df_job *job, int on) { job->publish_new_series = on; }
