/*
 * df_options.h — every option of the CLI and of the job file, described once
 * (issue 15 item 2). One row of df__options says an option's [section] key in
 * the job file, its CLI flag, its type, its default, its help text and the
 * verbs that take it; the job reader (job.c), the argv parser (options.c,
 * called by cli.c) and each verb's --help (cli.c) read the table, so that
 * they cannot disagree. To add an option, add a row (and its field, when no
 * library option struct holds it): the table-driven tests (test_options.c)
 * cover it from then on.
 */
#ifndef DF_OPTIONS_H
#define DF_OPTIONS_H

#include "df_core.h"

/* The verbs an option belongs to (DF__VERB_RUN: a key of the job file;
 * DF__VERB_RUN_ARGV: a flag of `dispflow run`, which on a row with a key
 * overrides that key of the job file). */
enum {
    DF__VERB_JOIN = 1,
    DF__VERB_CHECK = 2,
    DF__VERB_FLOWS = 4,
    DF__VERB_DENSITY = 8,
    DF__VERB_RUN = 16,
    DF__VERB_RUN_ARGV = 32,
};
#define DF__VERBS_READ (DF__VERB_JOIN | DF__VERB_CHECK | DF__VERB_FLOWS | DF__VERB_DENSITY)

typedef enum {
    DF__OPT_TEXT,      /* free text */
    DF__OPT_INPUT,     /* a file (the job resolves it against its folder and checks it exists) */
    DF__OPT_OUTPUT,    /* a folder written (the job resolves it) */
    DF__OPT_DATE,      /* int32_t days */
    DF__OPT_INT,       /* int, a whole number >= 0 */
    DF__OPT_COUNT,     /* int64_t, a whole number >= 0 */
    DF__OPT_NUMBER,    /* double > 0 */
    DF__OPT_RATIO,     /* double >= 0 */
    DF__OPT_BOOL,      /* int: yes/no, true/false, on/off, 1/0; a flag "--no-X" says no, any other yes */
    DF__OPT_NOT,       /* a BOOL stored inverted (key intra, field no_intra) */
    DF__OPT_CHOICE,    /* int: the index of the word in choices (the enum's order) */
    DF__OPT_LEVEL,     /* int: adm1..adm3 or 1..3 */
    DF__OPT_LEVELS,    /* int: a list of levels as a bit mask */
    DF__OPT_KERNEL,    /* df_kernel by name */
    DF__OPT_DELIMITER, /* char: comma, semicolon, tab, pipe or one of , ; TAB | */
    DF__OPT_STEP,      /* df_step: none, day, week, month (round = day) */
    DF__OPT_LIST,      /* df__list: values cut at sep (0: not cut); a flag adds to the list each time */
    DF__OPT_EXTENT,    /* -te XMIN YMIN XMAX YMAX into a df_density_opts (at: its has_extent) */
    DF__OPT_CONFIG,    /* --config KEY VALUE: "KEY=VALUE" into a df__list */
    DF__OPT_BREAKS     /* ascending numbers > 0 (the job's [maps] breaks; job.c reads them) */
} df__opt_type;

/* Where an option's value lives: in the option set (df__opts, the public
 * option structs) or, for the keys of the job file alone, in struct df_job. */
enum { DF__IN_OPTS, DF__IN_JOB };

typedef struct {
    const char *section; /* the job file's [section]; for an option of the CLI alone, its group in --help */
    const char *key;     /* the job file's key; NULL: not in the job file */
    const char *flag;    /* the CLI's flag; NULL: not on the command line */
    df__opt_type type;
    int verbs;                  /* DF__VERB_* */
    int in;                     /* DF__IN_OPTS or DF__IN_JOB */
    size_t at;                  /* offset of the field in df__opts or struct df_job */
    const char *const *choices; /* DF__OPT_CHOICE: the words, NULL-terminated */
    char sep;                   /* DF__OPT_LIST: the separator of values in one text */
    /* The default as a value ("0.15"), or in parentheses when it is not one
     * ("(detected)"); NULL: none worth saying. job_def: the job's, when it
     * differs from the CLI's. A value is read as the option reads it and
     * must be what the library's _init gives (test_options.c). */
    const char *def, *job_def;
    const char *meta; /* the value's name in --help ("FILE"); NULL: from the type */
    const char *help; /* lines cut by \n */
    /* A DF__IN_JOB row's flag (run's overrides of the job file): the field in
     * df__opts its value is read into, which the CLI hands to the job's
     * setter (df_job_set_output ...) after df_job_load; 0: none. */
    size_t flag_at;
} df__opt;

extern const df__opt df__options[];
extern const int df__noptions;
#define DF__MAX_OPTIONS 160 /* rows of df__options at most (the job reader counts lines per row) */

/* A shorthand flag: "--snapshots" is "--kind snapshots" (value NULL: the
 * shorthand takes the option's own value, "--to DATE" is "--as-of DATE"). */
typedef struct {
    const char *flag, *option, *value;
    int verbs;
} df__shorthand;
extern const df__shorthand df__shorthands[];
extern const int df__nshorthands;

/* A flag a verb no longer takes, and what to use instead. */
typedef struct {
    const char *flag;
    int verbs;
    const char *instead;
} df__retired;
extern const df__retired df__retired_flags[];
extern const int df__nretired;

#define DF__MAX_LIST 64
typedef struct {
    char *item[DF__MAX_LIST + 1]; /* owned, NULL-terminated */
    int n;
} df__list;

/* density's --people / [density] status: which rows a raster counts. */
enum { DF__PEOPLE_DISPLACED, DF__PEOPLE_RETURNED, DF__PEOPLE_ALL, DF__PEOPLE_STILL };

/* Every option's value: the library's option structs, and what none of them
 * holds. Strings are owned (df__opts_free frees them through the table). */
typedef struct df__opts {
    df_record_opts ro;
    df_boundary_opts bo;
    df_join_opts jo;
    df_flow_opts fo;
    df_density_opts dn;
    df__list operations, where; /* ro.operations and ro.where point into them (df__opts_link) */
    df__list aliases;           /* the CLI's --aliases files; bo.aliases points into it */
    df__list co, config;        /* -co KEY=VALUE; --config KEY VALUE as KEY=VALUE */
    int level;                  /* --level; 0: the layer's own */
    int no_aliases;             /* --no-aliases: no alias table at all */
    double bend;                /* flow arcs' bend (0: straight) */
    int endpoints;              /* df_endpoints */
    int people;                 /* DF__PEOPLE_* */
    int density_step;           /* df_step: a raster per period too */
    int64_t max_periods;        /* rasters of one --step run at most */
    int hxl, quiet, verbose;
    /* run: the job's keys its flags override (flag_at), --json-progress, and
     * the arguments that are no option (the job file) */
    char *run_output;
    int run_publish, run_new_series, json_progress;
    df__list args;
    char *out, *format, *matrix, *matrix_wide, *net, *nodes, *choropleth, *weight;
} df__opts;

/* The library's defaults (the _init of every option struct). */
void df__opts_init(df__opts *o);
/* Free every string and list; o can be initialised again. */
void df__opts_free(df__opts *o);
/* Point the option structs at the lists (ro.operations ...) and copy what
 * two structs share (fo.prefer_points = jo.prefer_points). */
void df__opts_link(df__opts *o);

/* The address of row's field: in o, or in job; for DF__IN_JOB rows when
 * there is no job, the field of its flag in o (flag_at), else NULL. */
void *df__opt_field(const df__opt *row, df__opts *o, df_job *job);
/* Read text into the field at `at` as row says. 0 ok; -1 a bad value, the
 * reason in why (naming the value: "not a number > 0: 'abc'"); -2 out of memory. */
int df__opt_set(const df__opt *row, void *at, const char *text, char *why, size_t cap);
/* The field's value as text (NULL: unset): what the job file would say. */
const char *df__opt_format(const df__opt *row, const void *at, char *buf, size_t cap);
/* The value's name in --help: meta, else from the type ("adm1|adm2|adm3"). */
const char *df__opt_meta(const df__opt *row, char *buf, size_t cap);

/* Read a verb's argv into o (initialised by the caller) through the table.
 * Returns 0, 1 when --help is asked, -1 on a bad option (the message in err:
 * an unknown flag with "did you mean", a missing value, a bad value naming
 * the flag and the value, a retired flag with what to use), -2 out of memory.
 * An argument that is no option is refused, except by run (DF__VERB_RUN_ARGV),
 * which keeps it in o->args (the job file). */
int df__opts_parse_argv(df__opts *o, int verb, int argc, char **argv, char *err, size_t cap);

/* The words of `known` (every word of a text, or the flags when typed starts
 * with '-') closest to a mistyped one: "a or b" for the words that contain it,
 * else the one within a typo or two; "" when none is close. */
const char *df__did_you_mean(const char *known, const char *typed, char *out, size_t cap);

#endif
