/*
 * harness.h — the test harness: assertions that print both values, a
 * closing line "N passed, N failed, N skipped". One test file per module.
 *
 *   TEST(name) { EXPECT_INT(got, want); ... }
 *   int main(void) { RUN(name); ...; return harness_done(); }
 */
#ifndef HARNESS_H
#define HARNESS_H

#include "dispflow.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int harness_passed, harness_failed, harness_skipped, harness_current_failed, harness_current_skipped;

#define TEST(name) static void test_##name(void)

#define RUN(name)                                                                                                      \
    do {                                                                                                               \
        harness_current_failed = harness_current_skipped = 0;                                                          \
        test_##name();                                                                                                 \
        if (harness_current_failed) {                                                                                  \
            harness_failed++;                                                                                          \
            printf("FAIL %s\n", #name);                                                                                \
        } else if (harness_current_skipped) {                                                                          \
            harness_skipped++;                                                                                         \
            printf("skip %s\n", #name);                                                                                \
        } else {                                                                                                       \
            harness_passed++;                                                                                          \
            printf("ok   %s\n", #name);                                                                                \
        }                                                                                                              \
        fflush(stdout);                                                                                                \
    } while (0)

/* A test (or part of one) that cannot run here: it counts as skipped, not
 * passed, and tests/run.sh fails the suite on any skip when CI=true. */
#define SKIP_MARK(...)                                                                                                 \
    do {                                                                                                               \
        harness_current_skipped = 1;                                                                                   \
        printf("SKIPPED %s: ", __func__);                                                                              \
        printf(__VA_ARGS__);                                                                                           \
        printf("\n");                                                                                                  \
    } while (0)

#define SKIP(...)                                                                                                      \
    do {                                                                                                               \
        SKIP_MARK(__VA_ARGS__);                                                                                        \
        return;                                                                                                        \
    } while (0)

/* A test that needs ../shared/data calls this first and is skipped if absent. */
#define NEED_FILE(path)                                                                                                \
    do {                                                                                                               \
        if (access((path), R_OK) != 0) SKIP("%s is absent", (path));                                                   \
    } while (0)

#define HARNESS_FAIL(...)                                                                                              \
    do {                                                                                                               \
        harness_current_failed = 1;                                                                                    \
        printf("  %s:%d: ", __FILE__, __LINE__);                                                                       \
        printf(__VA_ARGS__);                                                                                           \
        printf("\n");                                                                                                  \
    } while (0)

#define EXPECT(cond)                                                                                                   \
    do {                                                                                                               \
        if (!(cond)) HARNESS_FAIL("expected %s", #cond);                                                               \
    } while (0)

#define EXPECT_INT(got, want)                                                                                          \
    do {                                                                                                               \
        long long g_ = (long long)(got), w_ = (long long)(want);                                                       \
        if (g_ != w_) HARNESS_FAIL("%s: got %lld, want %lld", #got, g_, w_);                                           \
    } while (0)

#define EXPECT_STR(got, want)                                                                                          \
    do {                                                                                                               \
        const char *g_ = (got), *w_ = (want);                                                                          \
        if (!g_ || !w_ || strcmp(g_, w_) != 0)                                                                         \
            HARNESS_FAIL("%s: got \"%s\", want \"%s\"", #got, g_ ? g_ : "(null)", w_ ? w_ : "(null)");                 \
    } while (0)

/* |got - want| <= tol; the caller says in a comment why that tolerance. */
#define EXPECT_NEAR(got, want, tol)                                                                                    \
    do {                                                                                                               \
        double g_ = (got), w_ = (want);                                                                                \
        if (!(fabs(g_ - w_) <= (tol)))                                                                                 \
            HARNESS_FAIL("%s: got %.10g, want %.10g (tolerance %g)", #got, g_, w_, (double)(tol));                     \
    } while (0)

static int harness_done(void)
{
    printf("%d passed, %d failed, %d skipped\n", harness_passed, harness_failed, harness_skipped);
    return harness_failed ? 1 : 0;
}

#define SHARED_DATA "../shared/data"

/* The data the bundle tests share (../shared/data: read its PROVENANCE.md):
 * the 2019 COD-AB governorates and districts of Iraq, and the synthetic
 * Emergency-Tracking table of the Mosul corridor (a folder: records.csv and
 * its truth_*.csv). */
#define COD_ADM1_SHP SHARED_DATA "/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm1_cso_20190603.shp"
#define COD_ADM2_SHP SHARED_DATA "/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm2_cso_20190603.shp"
#define MOSUL_ET     SHARED_DATA "/synthetic_et_mosul/"

/* Write text to path (silently nothing when it cannot be opened: the test's
 * next step fails and says so). */
static inline void harness_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* A whole file, NUL-terminated (malloc'd; the caller frees it), its length
 * in *len when len is not NULL; NULL when it cannot be read. */
static inline char *harness_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *s = NULL;
    long n;
    size_t got = 0;
    if (len) *len = 0;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (s = malloc((size_t)n + 1)) != NULL) {
        got = fread(s, 1, (size_t)n, f);
        s[got] = '\0';
    }
    fclose(f);
    if (len) *len = got;
    return s;
}

/* The Mosul job the bundle tests share, as dir/NAME.ini writing the bundle
 * dir/NAME: the synthetic table from 17 Oct 2016 to 2 May 2017 by month, on
 * the COD-AB governorates and districts (paths from cwd, the repository);
 * extra ends the file ("[density]\nenabled = no\n", or ""). The job file's
 * path into job. */
static inline void harness_mosul_job(char *job, size_t cap, const char *dir, const char *cwd, const char *name,
                                     const char *extra)
{
    char text[8192];
    snprintf(job, cap, "%s/%s.ini", dir, name);
    snprintf(text, sizeof text,
             "[job]\ntitle = Mosul\noutput = %s\nfrom = 2016-10-17\nas_of = 2017-05-02\nstep = month\n"
             "[records]\npath = %s/" MOSUL_ET "records.csv\n"
             "[boundaries]\nadm1 = %s/" COD_ADM1_SHP "\nadm2 = %s/" COD_ADM2_SHP "\n%s",
             name, cwd, cwd, cwd, extra);
    harness_write_file(job, text);
}

/* A boundary layer, with the shipped country profiles (shapes/profiles:
 * Iraq's brings its alias table and the corridor preset) when
 * with_aliases; NULL (the message printed) when it cannot be loaded. */
static inline df_boundaries *harness_boundaries(df_ctx *ctx, const char *path, int with_aliases)
{
    df_boundary_opts o;
    df_boundaries *b = NULL;
    df_boundary_opts_init(&o);
    o.path = path;
    o.profiles = with_aliases ? "shapes/profiles" : NULL;
    if (df_boundaries_load(ctx, &o, &b) != DF_OK) printf("  load %s: %s\n", path, df_ctx_errmsg(ctx));
    return b;
}

/* The CLI of the test's own build: BUILD/dispflow for a test at
 * BUILD/tests/NAME; out keeps its default otherwise. */
static inline void harness_cli_path(int argc, char **argv, char *out, size_t cap)
{
    const char *slash = argc > 0 ? strrchr(argv[0], '/') : NULL;
    if (slash && slash - argv[0] > 6 && !strncmp(slash - 6, "/tests", 6))
        snprintf(out, cap, "%.*s/dispflow", (int)(slash - 6 - argv[0]), argv[0]);
}

/* Run the CLI `bin args` through the shell; its stdout and stderr into
 * out (cap bytes, NUL-terminated). Returns the exit code, -1 when it did not
 * exit. */
static inline int harness_run_cli(const char *bin, const char *args, char *out, size_t cap)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin, args);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, cap - 1, p) : 0;
    out[n] = '\0';
    int status = p ? pclose(p) : -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Remove a test's temporary folder, unless KEEP is set (to look at it). */
static inline void harness_remove_dir(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (!getenv("KEEP") && system(cmd) != 0) printf("  cannot remove %s\n", dir);
}

#endif /* HARNESS_H */
