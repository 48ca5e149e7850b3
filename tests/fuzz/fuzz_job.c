/*
 * fuzz_job.c — libFuzzer harness: the job-file reader of `dispflow run`
 * (job.c, with libinih) on arbitrary bytes.
 *
 * The input is written to job.ini in a temporary folder that also holds
 * the files a job names most often (records.csv, adm1.geojson, adm2.shp,
 * aliases.csv and a folder out/), so that inputs can get past the file
 * checks to the checks of the whole job. df_job_load is called with no
 * shipped alias table. Invariants checked: a failed load sets a message
 * and a known status and returns no job; a loaded job has an output folder
 * and a records path, a finest level with a boundary file, and levels and
 * flow levels within it; df__job_each gives every key; df_job_set_output
 * works on it. df_job_free frees everything (the leak detector checks).
 *
 * Built by `make fuzz`; test_hostile.c includes this file (with
 * DF_FUZZ_NO_ENTRY) to replay the seeds and regressions.
 */
#include "dfint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

static int fuzz_job_visit(const char *section, const char *key, const char *value, void *user)
{
    size_t *n = user;
    FUZZ_CHECK(section && key);
    *n += strlen(section) + strlen(key) + (value ? strlen(value) : 0);
    return 0;
}

static char fuzz_job_folder[64];
static const char *const fuzz_job_files[] = {"records.csv", "adm1.geojson", "adm2.shp", "aliases.csv", "out"};

static void fuzz_job_cleanup(void)
{
    char path[128];
    for (size_t i = 0; i < sizeof fuzz_job_files / sizeof *fuzz_job_files; i++) {
        snprintf(path, sizeof path, "%s/%s", fuzz_job_folder, fuzz_job_files[i]);
        remove(path);
    }
    rmdir(fuzz_job_folder);
}

/* The folder of job.ini and its neighbours, made once per process and
 * removed at exit. */
static const char *fuzz_job_dir(void)
{
    char *dir = fuzz_job_folder;
    const size_t nfiles = sizeof fuzz_job_files / sizeof *fuzz_job_files - 1; /* the last is the folder out */
    char path[128];
    if (dir[0]) return dir;
    snprintf(dir, sizeof fuzz_job_folder, "/tmp/dispflow-fuzz-job-%ld", (long)getpid());
    if (mkdir(dir, 0700) != 0 && access(dir, W_OK) != 0) abort();
    for (size_t i = 0; i < nfiles; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, fuzz_job_files[i]);
        FILE *f = fopen(path, "w");
        if (!f) abort();
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/out", dir);
    mkdir(path, 0700);
    atexit(fuzz_job_cleanup);
    return dir;
}

static int fuzz_job(const uint8_t *data, size_t size)
{
    static df_ctx *ctx;
    char path[128];
    if (!ctx && !(ctx = df_ctx_new())) abort();
    snprintf(path, sizeof path, "%s/job.ini", fuzz_job_dir());
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    if (fclose(f) != 0) abort();

    df_job *job = (df_job *)&job; /* must be set to NULL on failure */
    df_status s = df_job_load(ctx, path, NULL, &job);
    if (s != DF_OK) {
        FUZZ_CHECK(job == NULL);
        FUZZ_CHECK(df_ctx_errmsg(ctx)[0] != '\0');
        FUZZ_CHECK(s == DF_EINVAL || s == DF_EIO || s == DF_ENOMEM);
    } else {
        FUZZ_CHECK(job != NULL);
        FUZZ_CHECK(df_job_output(job) && df_job_output(job)[0]);
        FUZZ_CHECK(job->opts.ro.path && job->opts.ro.path[0]);
        FUZZ_CHECK(job->finest >= 1 && job->finest <= 3 && job->adm[job->finest]);
        FUZZ_CHECK(job->levels != 0 && (job->levels & ~((1 << (job->finest + 1)) - 2)) == 0);
        FUZZ_CHECK(job->opts.fo.origin_level >= 1 && job->opts.fo.origin_level <= job->finest);
        FUZZ_CHECK(job->opts.fo.dest_level >= 1 && job->opts.fo.dest_level <= job->finest);
        FUZZ_CHECK(job->opts.jo.from == DF_NO_DATE || job->opts.jo.as_of == DF_NO_DATE ||
                   job->opts.jo.from <= job->opts.jo.as_of);
        size_t n = 0;
        df__job_each(job, fuzz_job_visit, &n);
        FUZZ_CHECK(df_job_set_output(ctx, job, "/tmp/elsewhere/") == DF_OK);
        FUZZ_CHECK(!strcmp(df_job_output(job), "/tmp/elsewhere"));
    }
    df_job_free(job);
    unlink(path);
    return 0;
}

#ifndef DF_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_job(data, size); }
#endif
