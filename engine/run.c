/*
 * run.c — `dispflow run JOB`: every stage of a data round in one run, into
 * one bundle folder: layers.gpkg (with QGIS styles), the density raster,
 * CSV tables, map pictures, the situation report, a QGIS project and a
 * manifest. The bundle is built in a temporary folder beside the output
 * folder and swapped into place only when complete.
 */
#define _GNU_SOURCE /* renameat2 */
#include "df_job.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <gdal.h>
#include <json-c/json.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <sqlite3.h>

#define LAYERS_FILE         "layers.gpkg"
#define MAX_DENSITY_PERIODS 120 /* [density] step: rasters of one bundle */

typedef struct {
    const df_job *job;
    char dir[4096]; /* the temporary folder being filled */
    char lock_path[4200];
    int lock_fd; /* held from the check before the work to the swap */
    df_record_opts ro;
    const char *aliases[2];
    df_boundaries *loaded[4]; /* the boundary file of each level, loaded */
    df__report rep;
    df_join *join[4];
    df_flows *flows;
    df_density *density;
    df__periods *periods; /* the reporting level's figures per period; NULL in publish mode */
    char density_files[MAX_DENSITY_PERIODS][96], density_titles[MAX_DENSITY_PERIODS][32]; /* [density] step */
    df__publish_stats stats;
    df__ledger *ledger; /* publish mode with [publish] ledger: the series' releases */
    char map_titles[2][160];
    /* the maps as drawn, kept for the PDF, which draws them again as vectors */
    df__map maps[2];
    double *map_value[2];
    unsigned char *map_unassessed;                              /* hatched units (snapshots), or NULL */
    char map_subtitle[400], map_credits[1024], map_ids[2][300]; /* what the maps print: kept for the PDF */
    char *same_name[4]; /* by level: the units named as their parent, for the QGIS labels */
    /* the one read of the records (docs/onepass.md): the sinks kept after it */
    df__sink *density_sink; /* the spooled points: every raster of the run */
    pthread_t preload;      /* reads the maps' countries ahead (when preloading) */
    int preloading;
    df__sink *spool;        /* the records kept for the records layer and the hosting tables */
    int density_due;        /* the density is to be computed from density_sink (compute_density) */
    atomic_int beside_stop; /* the run failed or was cancelled: the records layer's thread stops early */
    df_read_stats read;
    unsigned char sha256[32];
    atomic_long spooled_points; /* past records_layer_max (auto) the points are not kept */
    /* progress of the whole run: stage k of n */
    df_progress_fn outer_fn;
    void *outer_user;
    int stage, nstages;
    const char *stage_name;
    double sub_lo, sub_hi; /* a stage of two parts reports each in its own slice of the stage */
} run;

/* ---- progress: each stage a slice of the bar ------------------------------- */

static int stage_progress(double fraction, const char *inner, void *user)
{
    run *r = user;
    char label[128];
    snprintf(label, sizeof label, "%s%s%s", r->stage_name, inner && strcmp(inner, r->stage_name) ? ": " : "",
             inner && strcmp(inner, r->stage_name) ? inner : "");
    fraction = r->sub_lo + fraction * (r->sub_hi - r->sub_lo);
    return r->outer_fn ? r->outer_fn((r->stage + fraction) / r->nstages, label, r->outer_user) : 1;
}

/* Start the next stage; 0 when the caller asked to cancel. */
static int begin(df_ctx *ctx, run *r, const char *name)
{
    if (r->stage_name) r->stage++;
    r->stage_name = name;
    r->sub_lo = 0, r->sub_hi = 1;
    df__log(ctx, DF_LOG_DEBUG, "run: %s", name);
    return df__progress(ctx, 0, name);
}

#define BEGIN(name)                                                                                                    \
    do {                                                                                                               \
        if (!begin(ctx, r, name)) return df__error(ctx, DF_ECANCELLED, "cancelled during %s", name);                   \
    } while (0)

/* ---- the folder ------------------------------------------------------------------ */

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_tree(const char *dir) { nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* ---- the folder it replaces --------------------------------------------------- */

/* The files a previous bundle's manifest lists (and the manifest itself):
 * the only files a run deletes. n = -1 when the folder has no manifest of
 * ours. */
typedef struct {
    char **names;
    int n;
} listing;

static void listing_free(listing *l)
{
    for (int i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    l->names = NULL, l->n = -1;
}

static int listed(const listing *l, const char *name)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->names[i], name)) return 1;
    return 0;
}

/* Read dir/manifest.json: 0, or -1 when out of memory. */
static int read_listing(const char *dir, listing *l)
{
    char path[4200];
    l->names = NULL, l->n = -1;
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    json_object *m = json_object_from_file(path), *gen, *outs;
    const char *g = m && json_object_object_get_ex(m, "generator", &gen) ? json_object_get_string(gen) : NULL;
    if (!g || strncmp(g, "dispflow ", 9) != 0) {
        json_object_put(m);
        return 0; /* not a bundle of ours */
    }
    size_t n = json_object_object_get_ex(m, "outputs", &outs) ? json_object_array_length(outs) : 0;
    l->names = calloc(n + 1, sizeof *l->names);
    l->n = 0;
    if (l->names) l->names[l->n++] = df__strdup("manifest.json");
    for (size_t i = 0; l->names && i < n; i++) {
        json_object *file;
        if (json_object_object_get_ex(json_object_array_get_idx(outs, i), "file", &file))
            l->names[l->n++] = df__strdup(json_object_get_string(file));
    }
    json_object_put(m);
    for (int i = 0; l->names && i < l->n; i++)
        if (!l->names[i]) l->n = i; /* an allocation failed: free what was made */
    if (!l->names || l->n < (int)n + 1) {
        listing_free(l);
        return -1;
    }
    return 0;
}

/* The job's input files, for the check that none is in the output folder. */
static int job_inputs(const df_job *job, const char **in)
{
    int n = 0;
    const char *all[] = {job->path, job->opts.ro.path, job->adm[1], job->adm[2], job->adm[3], job->aliases};
    for (size_t k = 0; k < sizeof all / sizeof *all; k++)
        if (all[k] && strcmp(all[k], "-")) in[n++] = all[k];
    return n;
}

/* Whether the run may replace the folder at out (issue 17 items 4 and 5):
 * absent; or empty; or a bundle of ours (its manifest.json says dispflow
 * made it) holding only the files its manifest lists. And no input of the
 * job may lie inside it (by path, or a hard link by device and inode). The
 * listing of what may be deleted goes into l. Checked before any work and
 * again, under the lock, at the swap. */
static df_status check_folder(df_ctx *ctx, const run *r, listing *l)
{
    const char *out = r->job->output, *in[8];
    int nin = job_inputs(r->job, in);
    struct stat sb;
    l->names = NULL, l->n = -1;
    if (lstat(out, &sb) != 0) return DF_OK;
    if (S_ISLNK(sb.st_mode))
        return df__error(ctx, DF_EIO, "%s is a symbolic link: not followed, not replaced; name the folder itself", out);
    if (!S_ISDIR(sb.st_mode)) return df__error(ctx, DF_EIO, "%s exists and is not a folder: not replaced", out);
    char *real_out = realpath(out, NULL);
    size_t len = real_out ? strlen(real_out) : 0;
    for (int i = 0; real_out && i < nin; i++) {
        char *real_in = realpath(in[i], NULL);
        int inside = real_in && !strncmp(real_in, real_out, len) && (real_in[len] == '/' || !real_in[len]);
        free(real_in);
        if (inside) {
            free(real_out);
            return df__error(ctx, DF_EINVAL,
                             "the input %s lies inside the output folder %s, which the run replaces: move it out, "
                             "or choose another output folder",
                             in[i], out);
        }
    }
    free(real_out);
    if (read_listing(out, l) != 0) return df__error(ctx, DF_ENOMEM, "out of memory reading %s/manifest.json", out);
    DIR *d = opendir(out);
    if (!d) return df__error(ctx, DF_EIO, "cannot list %s: %s", out, strerror(errno));
    struct dirent *e;
    char stray[256] = "", path[4200];
    int nstray = 0, clash = -1;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", out, e->d_name);
        struct stat fb, ib;
        for (int i = 0; clash < 0 && i < nin && stat(path, &fb) == 0; i++)
            if (stat(in[i], &ib) == 0 && fb.st_dev == ib.st_dev && fb.st_ino == ib.st_ino) clash = i;
        if (!listed(l, e->d_name) && nstray++ == 0) snprintf(stray, sizeof stray, "%s", e->d_name);
    }
    closedir(d);
    if (clash >= 0)
        return df__error(ctx, DF_EINVAL,
                         "the input %s is also a file in the output folder %s (a hard link), which the run "
                         "replaces: move it out, or choose another output folder",
                         in[clash], out);
    if (l->n < 0 && nstray)
        return df__error(ctx, DF_EIO,
                         "%s exists and is not a dispflow bundle (a folder with our manifest.json) or an empty "
                         "folder: not replaced",
                         out);
    if (nstray)
        return df__error(ctx, DF_EIO,
                         "%s/%s is not in the previous bundle's manifest (%d such file%s): the run would delete it; "
                         "move it out of %s, or choose another output folder",
                         out, stray, nstray, nstray > 1 ? "s" : "", out);
    return DF_OK;
}

/* Delete a previous bundle (now at dir): the files its manifest listed,
 * then the folder. A file that appeared since is kept, with the folder. */
static void remove_previous(df_ctx *ctx, const char *dir, const listing *l, const char *out)
{
    char path[4200];
    for (int i = 0; i < l->n; i++) {
        if (strchr(l->names[i], '/') || !strcmp(l->names[i], "..") || !strcmp(l->names[i], ".")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, l->names[i]);
        unlink(path);
    }
    if (rmdir(dir) != 0)
        df__log(ctx, DF_LOG_WARN, "the previous bundle of %s held files its manifest did not list: kept in %s", out,
                dir);
}

/* Two runs on one output: the second fails at once instead of racing the
 * first to the swap. An flock on ".NAME.lock" beside the output, removed
 * when the run ends. */
static df_status lock_output(df_ctx *ctx, run *r)
{
    const char *out = r->job->output;
    const char *slash = strrchr(out, '/');
    int dirlen = slash ? (int)(slash - out + 1) : 0;
    if (snprintf(r->lock_path, sizeof r->lock_path, "%.*s.%s.lock", dirlen, out, out + dirlen) >=
        (int)sizeof r->lock_path)
        return df__error(ctx, DF_EINVAL, "output path too long: %s", out);
    for (;;) {
        struct stat a, b;
        int fd = open(r->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) return df__error(ctx, DF_EIO, "cannot create the lock file %s: %s", r->lock_path, strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            close(fd);
            return e == EWOULDBLOCK ? df__error(ctx, DF_EIO,
                                                "another dispflow run is writing %s (it holds %s): wait for it to "
                                                "finish",
                                                out, r->lock_path)
                                    : df__error(ctx, DF_EIO, "cannot lock %s: %s", r->lock_path, strerror(e));
        }
        /* the file locked is still the one at the name (not removed by a run that just ended) */
        if (fstat(fd, &a) == 0 && stat(r->lock_path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            r->lock_fd = fd;
            return DF_OK;
        }
        close(fd);
    }
}

static void unlock_output(run *r)
{
    if (r->lock_fd < 0) return;
    unlink(r->lock_path); /* before the close: a waiting run then retries on a new file */
    close(r->lock_fd);
    r->lock_fd = -1;
}

static df_status make_temp_folder(df_ctx *ctx, run *r)
{
    const char *out = r->job->output;
    const char *slash = strrchr(out, '/');
    int dirlen = slash ? (int)(slash - out + 1) : 0;
    if (snprintf(r->dir, sizeof r->dir, "%.*s.%s.tmp-%ld", dirlen, out, out + dirlen, (long)getpid()) >=
        (int)sizeof r->dir)
        return df__error(ctx, DF_EINVAL, "output path too long: %s", out);
    listing l;
    df_status st = check_folder(ctx, r, &l); /* before any work: the folder it would replace */
    listing_free(&l);
    if (st != DF_OK) return st;
    remove_tree(r->dir); /* a leftover of a killed run with our pid */
    if (mkdir(r->dir, 0755) != 0)
        return df__error(ctx, DF_EIO, "cannot create the folder %s: %s", r->dir, strerror(errno));
    return DF_OK;
}

/* Swap the finished folder into place: one atomic exchange when a previous
 * bundle exists (then its listed files are removed), else a rename that
 * never replaces. What stands at the output is checked again first: it may
 * have changed during the run. */
static df_status swap_into_place(df_ctx *ctx, run *r)
{
    const char *out = r->job->output;
    listing l;
    struct stat sb;
    df_status st = check_folder(ctx, r, &l);
    if (st == DF_OK && lstat(out, &sb) == 0) {
        chmod(r->dir, sb.st_mode & 07777); /* the folder keeps its mode */
        if (renameat2(AT_FDCWD, r->dir, AT_FDCWD, out, RENAME_EXCHANGE) != 0)
            st = df__error(ctx, DF_EIO, "cannot replace %s: %s", out, strerror(errno));
        else
            remove_previous(ctx, r->dir, &l, out); /* the previous bundle, now at the temporary name */
    } else if (st == DF_OK && renameat2(AT_FDCWD, r->dir, AT_FDCWD, out, RENAME_NOREPLACE) != 0) {
        st = df__error(ctx, DF_EIO, "cannot rename %s to %s: %s", r->dir, out, strerror(errno));
    }
    listing_free(&l);
    return st;
}

static void bundle_path(const run *r, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", r->dir, name);
}

/* ---- compute --------------------------------------------------------------------- */

static void record_opts(run *r)
{
    const df_job *job = r->job;
    df__job_record_opts(job, &r->ro);
}

/* Every level is joined on the finest boundary file, its coarser levels
 * derived by dissolving on the parent fields: the figures of the levels then
 * add up, and a return stated by its district counts in its governorate too.
 * A coarser file given as well is checked against the derived units: the
 * same P-codes, or a warning that names the difference. */
static df_status check_coarser(df_ctx *ctx, const df_boundaries *file, const df_boundaries *fine, int level,
                               const char *path)
{
    int n = df_boundaries_count(fine, level), missing = 0;
    const char *example = NULL;
    for (int i = 0; i < n; i++)
        if (df_boundaries_find_pcode(file, level, df__boundaries_unit(fine, level, i)->pcode) < 0)
            missing++, example = example ? example : df__boundaries_unit(fine, level, i)->pcode;
    if (missing || df_boundaries_count(file, level) != n)
        df__log(ctx, DF_LOG_WARN,
                "%s: %d admin-%d units, the finest boundary file's parent fields give %d; %d P-codes not in the file "
                "(%s); figures follow the finest file",
                path, df_boundaries_count(file, level), level, n, missing, example ? example : "none");
    else
        df__log(ctx, DF_LOG_INFO, "%s: the %d admin-%d P-codes agree with the finest boundary file", path, n, level);
    return DF_OK;
}

static df_status load_boundaries(df_ctx *ctx, run *r)
{
    const df_job *job = r->job;
    r->aliases[0] = job->aliases;
    r->aliases[1] = NULL;
    for (int l = 3; l >= 1; l--) {
        if (!job->adm[l]) continue;
        df_boundary_opts bo;
        df_boundary_opts_init(&bo);
        char profile[4200];
        bo.path = job->adm[l];
        bo.level = l;
        bo.aliases = r->aliases;
        bo.profiles = job->profiles_dir;
        bo.profile = job->opts.bo.profile;
        if (job->opts.bo.profile && job->opts.bo.profile[0] != '/' &&
            (strchr(job->opts.bo.profile, '/') || strstr(job->opts.bo.profile, ".ini")))
            snprintf(profile, sizeof profile, "%s/%s", job->dir, job->opts.bo.profile),
                bo.profile = profile; /* a file */
        bo.no_profile_aliases = !job->shipped_aliases;
        bo.labels = job->opts.bo.labels;
        bo.name_field = job->opts.bo.name_field;
        df_status st = df_boundaries_load(ctx, &bo, &r->loaded[l]);
        if (st == DF_OK) r->rep.file_units[l] = df_boundaries_count(r->loaded[l], l);
        if (st == DF_OK && l < job->finest) st = check_coarser(ctx, r->loaded[l], r->loaded[job->finest], l, bo.path);
        if (st != DF_OK) return st;
    }
    r->rep.fine = r->loaded[job->finest];
    for (int l = 1; l <= job->finest; l++)
        if (job->levels & (1 << l)) r->rep.b[l] = r->rep.fine, r->rep.level = l;
    /* origins that name no unit: refused now, not after the join (issue 17 item 22) */
    df_status st = DF_OK;
    if (job->flows && job->opts.fo.origins && strcasecmp(job->opts.fo.origins, "all") &&
        (st = df__flows_origins_check(ctx, r->rep.fine, job->opts.fo.origins)) != DF_OK) {
        char why[600];
        snprintf(why, sizeof why, "%s", df_ctx_errmsg(ctx));
        return df__error(ctx, st, "%s: [job] origins: %s", job->path, why);
    }
    return DF_OK;
}

static void join_opts(const run *r, int level, df_join_opts *jo)
{
    df_join_opts_init(jo);
    jo->level = level;
    jo->from = r->job->opts.jo.from;
    jo->as_of = r->job->opts.jo.as_of;
    jo->prefer_points = r->job->opts.jo.prefer_points;
}

/* Publish mode: the pixels whose people stand on fewer than k families
 * (the families of the points within the radius, a raw uniform kernel on
 * the same grid) become nodata. */
static df_status mask_thin_support(df_ctx *ctx, run *r, const df_density_opts *dopt)
{
    const df_density_info *in = df_density_get_info(r->density);
    df_density_opts so = *dopt;
    df_density *support = NULL;
    so.kernel = DF_KERNEL_UNIFORM, so.bandwidth = DF_BANDWIDTH_FIXED, so.radius = in->radius;
    so.raw = 1, so.weight = DF_WEIGHT_FAMILIES, so.t_srs = in->crs, so.has_extent = 1;
    so.extent[0] = in->geotransform[0], so.extent[3] = in->geotransform[3];
    so.extent[2] = in->geotransform[0] + in->width * in->geotransform[1];
    so.extent[1] = in->geotransform[3] + in->height * in->geotransform[5];
    df_status st = df__density_sink_compute(ctx, r->density_sink, &so, 1, &support); /* the same points */
    if (st != DF_OK) return st;
    long masked = df__density_mask(r->density, support, (double)r->job->publish_k);
    df_density_free(support);
    if (masked < 0) return df__error(ctx, DF_EINVAL, "density: the support grid does not match the density's");
    r->stats.pixels = masked;
    return DF_OK;
}

/* With a ledger: the series so far, read before the withholding. */
static df_status open_ledger(df_ctx *ctx, run *r)
{
    const df_job *job = r->job;
    const df_balance *bal = df_join_balance(r->join[r->rep.level]);
    struct df__ledger_params p = {.k = job->publish_k,
                                  .round = job->publish_round,
                                  .from = bal->from,
                                  .as_of = bal->as_of,
                                  .kind = r->ro.kind,
                                  .levels = job->levels,
                                  .flows = job->flows,
                                  .origin_level = job->opts.fo.origin_level,
                                  .dest_level = job->opts.fo.dest_level,
                                  .step = job->opts.fo.step,
                                  .origins = job->opts.fo.origins,
                                  .output = job->output};
    df_status st = df__ledger_open(ctx, job->publish_ledger, &p, job->publish_new_series, &r->ledger);
    if (st != DF_OK) return st;
    r->stats.release = df__ledger_release(r->ledger), r->stats.series = df__ledger_series(r->ledger);
    return DF_OK;
}

/* With a ledger, the change column of the sitrep is a difference like any
 * other: against the latest release of the series on or before the day one
 * step back (whose totals the records still give: checked), shown only when
 * both ends were published (their difference was then checked); no change
 * column without such a release. */
static void change_since_release(run *r)
{
    int32_t day = r->rep.prev_as_of, as_of;
    int published;
    r->rep.has_prev = 0;
    if (day == DF_NO_DATE || !df__ledger_release_before(r->ledger, day, &as_of, &published)) return;
    r->rep.prev_as_of = as_of;
    r->rep.prev = df__join_totals_as_of(r->join[r->rep.level], as_of, &r->rep.prev_snapshot);
    r->rep.has_prev = 1;
    r->stats.change_withheld = !published || r->stats.total_withheld;
}

/* Publish mode: withhold what stands on fewer than k families (publish.c),
 * and with a ledger what moved by fewer than k since an earlier release. */
static df_status withhold(df_ctx *ctx, run *r)
{
    const df_job *job = r->job;
    df_status st = job->publish_ledger ? open_ledger(ctx, r) : DF_OK;
    if (st == DF_OK)
        st = df__publish_units(ctx, r->join, r->rep.fine, job->publish_k, r->join[r->rep.level], r->ledger, &r->stats);
    if (st == DF_OK && r->flows)
        st = df__publish_flows(ctx, r->flows, r->rep.fine, r->join[job->opts.fo.origin_level],
                               r->join[job->opts.fo.dest_level], job->publish_k, r->ro.household_size, r->ledger,
                               &r->stats);
    if (st == DF_OK) /* all the sums at once, then the ledger and the counts */
        st = df__publish_joint(ctx, r->join, r->flows, r->rep.fine, job->publish_k, r->ro.household_size,
                               r->join[r->rep.level], r->ledger, &r->stats);
    if (st == DF_OK && r->ledger && (st = df__ledger_check(ctx, r->ledger, r->join[r->rep.level])) == DF_OK)
        change_since_release(r);
    if (st != DF_OK) return st;
    if (job->publish_round > 1) { /* after the withholding, which the true figures decide */
        df__publish_round(r->join, r->flows, job->publish_round);
        r->rep.has_prev = 0; /* a change would difference two rounded sums: not shown */
    }
    r->rep.publish = &r->stats;
    df__log(ctx, DF_LOG_INFO,
            "publish: k = %lld families: %ld units withheld (%ld small), %ld flows withheld (%ld small), %ld density "
            "pixels masked",
            (long long)job->publish_k, r->stats.units, r->stats.units_primary, r->stats.flows, r->stats.flows_primary,
            r->stats.pixels);
    if (r->ledger)
        df__log(ctx, DF_LOG_INFO,
                "publish: release %ld of series %ld in %s: %ld figures withheld for moving by fewer than k families "
                "since an earlier release%s",
                r->stats.release, r->stats.series, job->publish_ledger, r->stats.changed,
                r->stats.total_withheld ? "; the headline totals are withheld" : "");
    if (r->stats.uncovered)
        df__log(ctx, DF_LOG_WARN, "publish: %d tables hold a small figure that a published total equals",
                r->stats.uncovered);
    return DF_OK;
}

/* The two rare cases that read the records again (docs/onepass.md) cannot
 * when they come from a FIFO: refused with the way out. */
static df_status read_again(df_ctx *ctx, const run *r, const char *why)
{
    struct stat sb;
    if (stat(r->job->opts.ro.path, &sb) == 0 && S_ISREG(sb.st_mode)) return DF_OK;
    return df__error(ctx, DF_EINVAL,
                     "%s: %s, which needs a second read of the records, and a FIFO is read once: "
                     "write the records to a file",
                     r->job->opts.ro.path, why);
}

/* Rows a join placed in a unit, in the period or not. */
static long placed(const df_join *j)
{
    const df_balance *b = df_join_balance(j);
    return b->matched_by_pcode + b->matched_by_name + b->matched_by_alias + b->matched_by_fuzzy + b->matched_by_point;
}

/* The headline comes from the finest level the records reach: a table
 * that stops at admin 2 gave 0 displaced "by sub-district". A level no row
 * reaches is unreached: said in the log, the sitrep and the manifest, with
 * no table, layer or map; the decision log is the headline level's. */
static df_status finest_reached(df_ctx *ctx, run *r)
{
    long most = 0;
    int finest = r->rep.level, headline = 0;
    for (int l = 1; l <= 3; l++)
        if (r->join[l] && placed(r->join[l]) > most) most = placed(r->join[l]);
    for (int l = 1; l <= 3 && most > 0; l++) {
        if (!r->join[l]) continue;
        char words[64], reached[64];
        df__level_words(r->rep.fine, l, 1, 0, words, sizeof words);
        if (placed(r->join[l]) == 0) {
            df__log(ctx, DF_LOG_WARN,
                    "admin %d (%s): no record reaches this level; it has no figures, table, layer or map", l, words);
            df_join_free(r->join[l]);
            r->join[l] = NULL, r->rep.join[l] = NULL, r->rep.b[l] = NULL;
            r->rep.unreached |= 1 << l;
            continue;
        }
        if (placed(r->join[l]) == most) {
            headline = l;
        } else if (headline) {
            df__level_words(r->rep.fine, headline, 1, 0, reached, sizeof reached);
            df__log(ctx, DF_LOG_WARN,
                    "admin %d (%s): %ld of the %ld rows placed at admin %d (%s) reach this level; the headline figures "
                    "come from admin %d",
                    l, words, placed(r->join[l]), most, headline, reached, headline);
        }
    }
    if (!headline || headline == finest) return DF_OK;
    r->rep.level = headline;
    char words[64];
    df__level_words(r->rep.fine, headline, 1, 0, words, sizeof words);
    df__log(ctx, DF_LOG_INFO, "the headline figures come from admin %d (%s), the finest level the records reach",
            headline, words);
    if (r->job->publish) return DF_OK; /* no decision log to write */
    char path[4200];                   /* the decision log of the headline level: its join again, once */
    df_join_opts jo;
    join_opts(r, headline, &jo);
    bundle_path(r, "decisions.csv", path, sizeof path);
    jo.log_path = path;
    df_join *again = NULL;
    df_status st = read_again(ctx, r, "no record reaches the finest level: the decision log is the headline level's");
    if (st == DF_OK) st = df_join_run(ctx, r->rep.b[headline], &r->ro, &jo, &again);
    if (st != DF_OK) return st;
    df_join_free(r->join[headline]);
    r->join[headline] = again, r->rep.join[headline] = again;
    return DF_OK;
}

/* What the spool of records keeps for after the read, from the reading
 * threads: the displaced with individuals (the hosting tables) and the
 * points of the records layer in the job's period while they may still be
 * written (in auto, past records_layer_max none is written). */
static int spool_keep(const df_record *rec, void *user)
{
    run *r = user;
    const df_job *job = r->job;
    if (rec->status == DF_DISPLACED && rec->individuals > 0) return 1;
    if (job->publish || job->records_layer_mode == DF__RECORDS_LAYER_NO || isnan(rec->lon) || isnan(rec->lat)) return 0;
    if (rec->date != DF_NO_DATE && ((job->opts.jo.from != DF_NO_DATE && rec->date < job->opts.jo.from) ||
                                    (job->opts.jo.as_of != DF_NO_DATE && rec->date > job->opts.jo.as_of)))
        return 0;
    return job->records_layer_mode != DF__RECORDS_LAYER_AUTO || job->records_layer_max == 0 ||
           atomic_fetch_add(&r->spooled_points, 1) < job->records_layer_max;
}

/* The threads of the read: every core, at most 16. */
static int read_threads(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores < 1 ? 1 : cores > 16 ? 16 : (int)cores;
}

static df_status compute(df_ctx *ctx, run *r)
{
    const df_job *job = r->job;
    df_status st = DF_OK;
    char path[4200];
    static const char *const join_names[] = {"", "join adm1", "join adm2", "join adm3"};
    df__sink *sinks[8], *joins[4] = {NULL}, *flows_sink = NULL;
    int nsinks = 0, threads = read_threads();
    df_flow_opts fo;
    df_flow_opts_init(&fo);
    fo.origin_level = job->opts.fo.origin_level;
    fo.dest_level = job->opts.fo.dest_level;
    fo.origins = job->opts.fo.origins && strcasecmp(job->opts.fo.origins, "all") ? job->opts.fo.origins : NULL;
    fo.step = job->publish ? DF_STEP_NONE : (df_step)job->opts.fo.step; /* one table to protect, not one per period */
    fo.min = job->opts.fo.min;
    fo.top = (int)job->opts.fo.top;
    fo.no_intra = job->opts.fo.no_intra;
    fo.prefer_points = job->opts.jo.prefer_points;
    fo.kind = r->ro.kind;

    /* one read of the records feeds every stage (docs/onepass.md) */
    BEGIN("reading records");
    for (int l = 1; l <= 3 && st == DF_OK; l++) {
        if (!r->rep.b[l]) continue;
        df_join_opts jo;
        join_opts(r, l, &jo);
        if (l == r->rep.level && !job->publish) { /* row by row: not for publishing */
            bundle_path(r, "decisions.csv", path, sizeof path);
            jo.log_path = path;
        }
        if ((st = df__join_sink_new(ctx, r->rep.b[l], &r->ro, &jo, &joins[l])) == DF_OK) sinks[nsinks++] = joins[l];
    }
    if (st == DF_OK && job->flows && (st = df__flows_sink_new(ctx, r->rep.fine, &r->ro, &fo, &flows_sink)) == DF_OK)
        sinks[nsinks++] = flows_sink;
    if (st == DF_OK && job->density && !(job->publish && job->publish_ledger) &&
        (st = df__density_sink_new(ctx, r->rep.fine, &r->ro, threads, &r->density_sink)) == DF_OK)
        sinks[nsinks++] = r->density_sink;
    if (st == DF_OK && (st = df__spool_new(ctx, spool_keep, r, &r->spool)) == DF_OK) sinks[nsinks++] = r->spool;
    r->rep.spool = r->spool;
    if (st == DF_OK) st = df__records_fanout(ctx, &r->ro, sinks, nsinks, threads, &r->read, r->sha256);
    if (st == DF_OK) {
        for (int i = 0; i < 32; i++) snprintf(r->rep.records_sha256 + 2 * i, 3, "%02x", r->sha256[i]);
        struct stat sb; /* a stream is hashed by nobody: it cannot be read again */
        if (stat(job->opts.ro.path, &sb) != 0 || !S_ISREG(sb.st_mode)) r->rep.records_sha256[0] = '\0';
    }
    for (int l = 1; l <= 3 && st == DF_OK; l++) {
        if (!joins[l]) continue;
        BEGIN(join_names[l]);
        if ((st = joins[l]->finish(ctx, joins[l])) == DF_OK) r->join[l] = df__join_sink_take(joins[l]);
        r->rep.join[l] = r->join[l];
    }
    if (st == DF_OK) st = finest_reached(ctx, r);
    if (st != DF_OK) goto done;
    if (!job->publish) df__digests_add(r->rep.digests, "decisions.csv"); /* complete: hashed while the run goes on */
    /* the figures one step earlier, for the change since then */
    const df_balance *bal = df_join_balance(r->join[r->rep.level]);
    r->rep.prev_as_of = bal->as_of != DF_NO_DATE ? df_period_prev(bal->as_of, (df_step)job->opts.fo.step) : DF_NO_DATE;
    int snapshots = r->ro.kind == DF_SNAPSHOTS; /* the latest snapshot then, whatever its date */
    if (r->rep.prev_as_of != DF_NO_DATE && (snapshots || r->rep.prev_as_of >= bal->from)) {
        r->rep.prev = df__join_totals_as_of(r->join[r->rep.level], r->rep.prev_as_of, &r->rep.prev_snapshot);
        r->rep.has_prev = 1;
    }
    /* per unit and period (issue 14 item 3); not published: every period's
     * cells would be more cells to protect (docs/publish.md) */
    if (!job->publish && (st = df__periods_compute(ctx, r->join[r->rep.level], r->rep.b[r->rep.level],
                                                   job->opts.fo.step, &r->periods)) != DF_OK)
        goto done;
    /* a table without origins or without coordinates: the stage is skipped
     * and said, rather than 0 flows or an all-zero raster */
    const df_read_stats *rd = &bal->read;
    int flows = job->flows && (rd->valid == 0 || rd->with_origin > 0);
    int density = job->density && (rd->valid == 0 || rd->with_point > 0);
    if (job->flows && !flows)
        df__log(ctx, DF_LOG_WARN, "%s: no record states an origin: flows skipped", job->opts.ro.path);
    if (job->density && !density)
        df__log(ctx, DF_LOG_WARN, "%s: no record has coordinates: density needs points; skipped", job->opts.ro.path);
    if (flows) {
        BEGIN("flows");
        if (r->rep.unreached & (1 << fo.dest_level)) { /* no record is placed there: the headline level, read again */
            fo.dest_level = r->rep.level;
            fo.from = bal->from, fo.to = bal->as_of;
            st = read_again(ctx, r, "no record reaches [flows] dest_level");
            if (st == DF_OK) st = df_flows_run(ctx, r->rep.fine, &r->ro, &fo, &r->flows);
        } else {
            df__flows_sink_period(flows_sink, bal->from, bal->as_of);
            if ((st = flows_sink->finish(ctx, flows_sink)) == DF_OK) r->flows = df__flows_sink_take(flows_sink);
        }
        if (st != DF_OK) goto done;
        r->rep.flows = r->flows;
    }
    /* MPI: every rank computes the density (its own points' grid, summed
     * into rank 0's: docs/scale.md), in compute_density; rank 0 alone writes it */
    r->density_due = density && r->density_sink;
done:
    for (int l = 1; l <= 3; l++) df__join_sink_free(joins[l]);
    df__flows_sink_free(flows_sink);
    return st;
}

/* The density raster from the points the read kept, once: in publish mode
 * before the withholding (which masks its thin pixels), else in
 * write_products while the records layer is written beside it; on the
 * other MPI ranks right after compute (each raster is summed over the
 * ranks: every rank computes them in the same order). */
static df_status compute_density(df_ctx *ctx, run *r)
{
    const df_job *job = r->job;
    const df_balance *bal = df_join_balance(r->join[r->rep.level]);
    df_status st;
    if (!r->density_due) return DF_OK;
    r->density_due = 0;
    BEGIN("density");
    df_density_opts dopt;
    df__job_density_opts(job, &dopt); /* as the job's check saw them */
    /* 0 displaced, 1 returned, 2 all, 3 still displaced (the displaced, scaled per unit) */
    dopt.status = job->opts.people == 2 ? -1 : job->opts.people == 1 ? DF_RETURNED : DF_DISPLACED;
    dopt.from = bal->from;
    dopt.as_of = bal->as_of;
    /* with publish, the support grid is a second grid over the same points: each half the stage */
    r->sub_hi = job->publish ? 0.5 : 1;
    if ((st = df__density_sink_compute(ctx, r->density_sink, &dopt, 0, &r->density)) != DF_OK) return st;
    r->sub_lo = r->sub_hi, r->sub_hi = 1;
    if (job->opts.people == 3 &&
        (st = df_density_still_displaced(ctx, r->density, r->join[r->rep.level], r->rep.fine)) != DF_OK)
        return st;
    if (job->publish && (st = mask_thin_support(ctx, r, &dopt)) != DF_OK) return st;
    r->rep.density = r->density;
    static const char *const files[] = {"density_displaced.tif", "density_returned.tif", "density_all.tif",
                                        "density_still_displaced.tif"};
    r->rep.density_file = files[job->opts.people];
    return DF_OK;
}

/* ---- the records layer: one point per record with coordinates -------------------- */

/* Written in bulk: OGR makes the layer (gpkg_contents, gpkg_geometry_columns,
 * the SRS and its feature-count triggers as GDAL makes them), then, once
 * GDAL has closed the file, the rows go in through prepared SQLite
 * statements in one transaction, the geometry blobs encoded here as GDAL
 * encodes a point (OGR_L_CreateFeature cost 17 s a million). The rows go
 * in POINTS_BATCH to a statement: the table's AUTOINCREMENT writes
 * sqlite_sequence once per statement, and each statement has its own
 * start-up cost (together a third of the rows' time at one row a
 * statement). The same rows in the same order: the same file. No spatial
 * index while the rows go in: rtree.c packs the boxes gathered here. */
#define POINTS_BATCH  64
#define POINTS_FIELDS 9

typedef struct {
    unsigned char blob[29];
    char date[11]; /* "" when the record has none */
    unsigned char returned, swapped;
    size_t location; /* offset in the batch's text */
    int64_t families, individuals;
    long line;
} point_row;

typedef struct {
    df_ctx *ctx;
    const df_boundaries *b;
    const char *path;
    sqlite3 *db;
    sqlite3_stmt *ins[2]; /* POINTS_BATCH rows a statement; one row, for the last few */
    df__rtree *index;
    int32_t from, as_of;
    double minx, miny, maxx, maxy; /* gpkg_contents' extent */
    long written;
    point_row row[POINTS_BATCH]; /* the rows not yet inserted */
    int pending;
    char *text; /* their locations, each ended by a NUL */
    size_t len, cap;
    const atomic_int *stop; /* set when the run has failed: no more rows */
    df_status st;
} points_writer;

/* A GeoPackage point blob as GDAL 3.6 writes one: "GP", version 0, flags
 * 0x01 (little-endian, no envelope), srs_id, then WKB Point, little-endian. */
static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void point_blob(unsigned char blob[29], double x, double y)
{
    uint64_t u;
    blob[0] = 'G', blob[1] = 'P', blob[2] = 0, blob[3] = 0x01;
    put_le(blob + 4, 4326, 4);
    blob[8] = 1;            /* WKB little-endian */
    put_le(blob + 9, 1, 4); /* wkbPoint */
    memcpy(&u, &x, 8), put_le(blob + 13, u, 8);
    memcpy(&u, &y, 8), put_le(blob + 21, u, 8);
}

/* Bind row k of the batch to q's row at (0-based) place at. */
static void bind_row(points_writer *w, sqlite3_stmt *q, int at, int k, int64_t fid)
{
    const point_row *p = &w->row[k];
    int c = at * POINTS_FIELDS;
    sqlite3_bind_int64(q, c + 1, fid);
    sqlite3_bind_blob(q, c + 2, p->blob, sizeof p->blob, SQLITE_STATIC);
    if (p->date[0])
        sqlite3_bind_text(q, c + 3, p->date, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, c + 3);
    sqlite3_bind_text(q, c + 4, p->returned ? "returned" : "displaced", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, c + 5, w->text + p->location, -1, SQLITE_STATIC);
    if (p->families >= 0)
        sqlite3_bind_int64(q, c + 6, p->families);
    else
        sqlite3_bind_null(q, c + 6);
    sqlite3_bind_int64(q, c + 7, p->individuals);
    sqlite3_bind_int64(q, c + 8, p->line);
    sqlite3_bind_int(q, c + 9, p->swapped);
}

/* Insert the pending rows: a full batch in one statement, fewer (the last
 * ones) one by one. Their fids follow w->written. */
static void points_flush(points_writer *w)
{
    int full = w->pending == POINTS_BATCH;
    for (int k = 0; w->st == DF_OK && k < w->pending; k += full ? POINTS_BATCH : 1) {
        sqlite3_stmt *q = w->ins[!full];
        for (int i = 0; i < (full ? POINTS_BATCH : 1); i++) bind_row(w, q, i, k + i, w->written + k + i + 1);
        int rc = sqlite3_step(q);
        sqlite3_reset(q);
        if (rc != SQLITE_DONE)
            w->st =
                df__error(w->ctx, DF_EIO, "%s: cannot write the records of lines %ld to %ld to the records layer: %s",
                          w->path, w->row[k].line, w->row[full ? w->pending - 1 : k].line, sqlite3_errmsg(w->db));
    }
    if (w->st == DF_OK) w->written += w->pending;
    w->pending = 0, w->len = 0;
}

static int on_point(const df_record *rec, void *user)
{
    points_writer *w = user;
    if (isnan(rec->lon) || isnan(rec->lat)) return 0;
    if (rec->date != DF_NO_DATE && (rec->date < w->from || rec->date > w->as_of)) return 0;
    double lon = rec->lon, lat = rec->lat;
    point_row *p = &w->row[w->pending];
    const char *location = rec->location_name ? rec->location_name : "";
    size_t n = strlen(location) + 1;
    if (w->len + n > w->cap) {
        size_t cap = 2 * (w->len + n) + 4096;
        char *t = realloc(w->text, cap);
        if (!t) return w->st = df__error(w->ctx, DF_ENOMEM, "out of memory"), 1;
        w->text = t, w->cap = cap;
    }
    memcpy(w->text + w->len, location, n);
    p->location = w->len, w->len += n;
    p->swapped = (unsigned char)df__unswap_point(w->b, &lon, &lat);
    point_blob(p->blob, lon, lat);
    p->date[0] = '\0';
    if (rec->date != DF_NO_DATE) {
        int y, m, d;
        df__civil_from_days(rec->date, &y, &m, &d);
        snprintf(p->date, sizeof p->date, "%04d-%02d-%02d", y, m, d); /* as OGR writes an OFTDate */
    }
    p->returned = rec->status == DF_RETURNED;
    p->families = rec->families, p->individuals = rec->individuals, p->line = rec->line;
    int64_t fid = w->written + w->pending + 1;
    if (!df__rtree_add(w->index, fid, lon, lat, lon, lat))
        return w->st = df__error(w->ctx, DF_ENOMEM,
                                 "out of memory (the spatial index of the records layer, %ld points)", (long)fid),
               1;
    if (fid == 1) w->minx = w->maxx = lon, w->miny = w->maxy = lat;
    w->minx = fmin(w->minx, lon), w->maxx = fmax(w->maxx, lon);
    w->miny = fmin(w->miny, lat), w->maxy = fmax(w->maxy, lat);
    if (++w->pending == POINTS_BATCH) {
        if (atomic_load(w->stop)) /* the run failed beside us (or was cancelled): its error is the one said */
            return w->st = df__error(w->ctx, DF_ECANCELLED, "%s: the records layer stopped: the run failed", w->path),
                   1;
        points_flush(w);
    }
    return w->st != DF_OK;
}

/* Whether the records layer is written: [report] records_layer, and in auto
 * no more records with coordinates than records_layer_max. */
static int records_layer_wanted(const run *r)
{
    const df_job *job = r->job;
    long points = df_join_balance(r->join[r->rep.level])->read.with_point;
    if (job->publish || job->records_layer_mode == DF__RECORDS_LAYER_NO) return 0; /* row by row: not for publishing */
    return job->records_layer_mode == DF__RECORDS_LAYER_ALWAYS || job->records_layer_max == 0 ||
           points <= job->records_layer_max;
}

/* The empty layer "records" of ds, as OGR makes it; its rows come later
 * (fill_points). */
static df_status create_points_layer(df_ctx *ctx, GDALDatasetH ds)
{
    static const df__field fields[] = {
        {"date", OFTDate, NULL},          {"status", OFTString, NULL},         {"location", OFTString, NULL},
        {"families", OFTInteger64, NULL}, {"individuals", OFTInteger64, NULL}, {"line", OFTInteger64, NULL},
        {"swapped", OFTInteger, NULL}};
    char *lco[] = {"SPATIAL_INDEX=NO", NULL}; /* built once, at the end */
    OGRLayerH layer = df__create_layer_co(ctx, ds, LAYERS_FILE, "records", wkbPoint, fields,
                                          (int)(sizeof fields / sizeof *fields), lco);
    return layer ? DF_OK : ctx->status;
}

static df_status points_sql(points_writer *w, const char *path, const char *sql)
{
    if (sqlite3_exec(w->db, sql, NULL, NULL, NULL) == SQLITE_OK) return DF_OK;
    return df__error(w->ctx, DF_EIO, "%s: cannot write the records layer: %s", path, sqlite3_errmsg(w->db));
}

/* The rows of the layer "records" of the closed GeoPackage path, from the
 * points the read kept; their spatial index goes in *index, to be written
 * by df__rtree_write. GDAL's feature-count trigger is set aside while the
 * rows go in (one UPDATE per row otherwise) and put back word for word. */
static df_status fill_points(df_ctx *ctx, run *r, const char *path, df__rtree **index)
{
    const df_balance *bal = df_join_balance(r->join[r->rep.level]);
    points_writer w = {.ctx = ctx,
                       .b = r->rep.fine,
                       .path = path,
                       .index = *index = df__rtree_new(),
                       .from = bal->from,
                       .as_of = bal->as_of,
                       .stop = &r->beside_stop};
    char *trigger = NULL, *batch = NULL;
    sqlite3_stmt *q = NULL;
    df_status st = DF_OK;
    if (!w.index) return df__error(ctx, DF_ENOMEM, "out of memory");
    if (sqlite3_open_v2(path, &w.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        st = df__error(ctx, DF_EIO, "%s: cannot open to write the records layer: %s", path,
                       w.db ? sqlite3_errmsg(w.db) : "out of memory");
        goto done;
    }
    /* a page cache of 64 MiB, not SQLite's 2: pages spilled mid-transaction
     * are read back and written again (a third of the time a million); the
     * journal in memory and no fsync per commit: rtree.c puts the file on
     * the disk once it is complete */
    if ((st = points_sql(
             &w, path, "PRAGMA cache_size = -65536; PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF; BEGIN")) !=
        DF_OK)
        goto done;
    if (sqlite3_prepare_v2(w.db, "SELECT sql FROM sqlite_master WHERE name = 'trigger_insert_feature_count_records'",
                           -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0) &&
        !(trigger = strdup((const char *)sqlite3_column_text(q, 0))))
        st = df__error(ctx, DF_ENOMEM, "out of memory");
    sqlite3_finalize(q);
    if (st == DF_OK && trigger) st = points_sql(&w, path, "DROP TRIGGER \"trigger_insert_feature_count_records\"");
    static const char insert[] = "INSERT INTO \"records\" (\"fid\", \"geom\", \"date\", \"status\", \"location\", "
                                 "\"families\", \"individuals\", \"line\", \"swapped\") VALUES ",
                      one[] = "(?, ?, ?, ?, ?, ?, ?, ?, ?)";
    size_t len = sizeof insert - 1, row = sizeof one - 1;
    if (st == DF_OK && !(batch = malloc(len + POINTS_BATCH * (row + 1))))
        st = df__error(ctx, DF_ENOMEM, "out of memory");
    if (st == DF_OK) { /* "INSERT ... VALUES (?, ...),(?, ...),...": its start is the statement of one row */
        char *at = memcpy(batch, insert, len);
        at += len;
        for (int k = 0; k < POINTS_BATCH; k++) {
            if (k) *at++ = ',';
            memcpy(at, one, row);
            at += row;
        }
        *at = '\0';
    }
    for (int k = 0; st == DF_OK && k < 2; k++)
        if (sqlite3_prepare_v2(w.db, batch, k ? (int)(len + row) : -1, &w.ins[k], NULL) != SQLITE_OK)
            st = df__error(ctx, DF_EIO, "%s: cannot write the records layer: %s", path, sqlite3_errmsg(w.db));
    if (st == DF_OK) st = df__spool_replay(ctx, r->spool, on_point, &w); /* the points kept by the read */
    if (st == DF_OK) points_flush(&w);                                   /* the last few */
    if ((st == DF_OK || st == DF_ECANCELLED) && w.st != DF_OK) st = w.st;
    if (st == DF_OK && trigger) st = points_sql(&w, path, trigger);
    if (st == DF_OK) { /* what GDAL keeps as it writes: the feature count and the extent */
        char *sql = sqlite3_mprintf(
            "UPDATE gpkg_ogr_contents SET feature_count = %ld WHERE lower(table_name) = 'records'", w.written);
        char *ext = w.written ? sqlite3_mprintf("UPDATE gpkg_contents SET min_x = %!.17g, min_y = %!.17g, max_x = "
                                                "%!.17g, max_y = %!.17g WHERE lower(table_name) = 'records'",
                                                w.minx, w.miny, w.maxx, w.maxy)
                              : NULL;
        if (!sql || (w.written && !ext))
            st = df__error(ctx, DF_ENOMEM, "out of memory");
        else
            st = points_sql(&w, path, sql);
        if (st == DF_OK && ext) st = points_sql(&w, path, ext);
        sqlite3_free(sql);
        sqlite3_free(ext);
    }
    if (st == DF_OK) st = points_sql(&w, path, "COMMIT");
done:
    sqlite3_finalize(w.ins[0]);
    sqlite3_finalize(w.ins[1]);
    if (w.db && st != DF_OK) sqlite3_exec(w.db, "ROLLBACK", NULL, NULL, NULL);
    if (w.db && sqlite3_close(w.db) != SQLITE_OK && st == DF_OK)
        st = df__error(ctx, DF_EIO, "%s: cannot close: %s", path, sqlite3_errmsg(w.db));
    free(trigger);
    free(batch);
    free(w.text);
    r->rep.record_points = w.written;
    return st;
}

/* ---- products ---------------------------------------------------------------------- */

static long layer_features(GDALDatasetH ds, const char *name)
{
    OGRLayerH l = GDALDatasetGetLayerByName(ds, name);
    return l ? (long)OGR_L_GetFeatureCount(l, TRUE) : 0;
}

/* The largest value of an integer field of a layer of ds. */
static double field_max(GDALDatasetH ds, const char *layer, const char *field)
{
    OGRLayerH l = GDALDatasetGetLayerByName(ds, layer);
    OGRFeatureH f;
    double mx = 0;
    if (!l) return 0;
    OGR_L_ResetReading(l);
    while ((f = OGR_L_GetNextFeature(l))) {
        double v = (double)OGR_F_GetFieldAsInteger64(f, OGR_F_GetFieldIndex(f, field));
        if (v > mx) mx = v;
        OGR_F_Destroy(f);
    }
    return mx;
}

/* The units of a level named as their parent ("Duhok" district of Duhok
 * governorate) as an SQL list "'IQG08Q01','IQG10Q02'", or NULL (none, or
 * out of memory: then the names show twice, nothing worse). */
static char *same_names(const df_boundaries *b, int level)
{
    size_t len = 0, cap = 0;
    char *out = NULL;
    for (int i = 0; i < df_boundaries_count(b, level); i++) {
        const df_unit *u = df__boundaries_unit(b, level, i);
        const df_unit *p = u->parent >= 0 ? df__boundaries_unit(b, level - 1, u->parent) : NULL;
        if (!p || !u->name || !p->name || strcasecmp(u->name, p->name) != 0) continue;
        size_t need = len + 2 * strlen(u->pcode) + 4;
        if (need > cap) {
            char *grown = realloc(out, cap = 2 * need);
            if (!grown) return free(out), NULL;
            out = grown;
        }
        if (len) out[len++] = ',';
        out[len++] = '\'';
        for (const char *c = u->pcode; *c; c++)
            if ((out[len++] = *c) == '\'') out[len++] = '\'';
        out[len++] = '\'';
        out[len] = '\0';
    }
    return out;
}

/* The layers of the bundle as QGIS shows them, top first. */
static int qgis_layers(df_ctx *ctx, const run *r, GDALDatasetH ds, df__qgis_layer *out, char titles[][64])
{
    int n = 0;
    if (r->flows) {
        out[n++] = (df__qgis_layer){.name = "flows",
                                    .title = "Flows (individuals)",
                                    .style = DF__STYLE_FLOWS,
                                    .field = "individuals",
                                    .max = field_max(ds, "flows", "individuals"),
                                    .crs = "EPSG:4326",
                                    .features = layer_features(ds, "flows"),
                                    .temporal = 1};
        if (!r->job->publish)
            out[n++] = (df__qgis_layer){.name = "flow_nodes",
                                        .title = "Flow nodes (inflow)",
                                        .style = DF__STYLE_NODES,
                                        .field = "inflow",
                                        .max = field_max(ds, "flow_nodes", "inflow"),
                                        .crs = "EPSG:4326",
                                        .features = layer_features(ds, "flow_nodes")};
    }
    if (r->rep.record_points) /* a table without coordinates has none to show */
        out[n++] = (df__qgis_layer){.name = "records",
                                    .title = "Record locations",
                                    .style = DF__STYLE_POINTS,
                                    .crs = "EPSG:4326",
                                    .features = r->rep.record_points};
    for (int l = 3; l >= 1; l--) {
        if (!r->join[l]) continue;
        static const char *const names[] = {"", "adm1", "adm2", "adm3"};
        int units = df_boundaries_count(r->rep.b[l], l);
        double *v = malloc(((size_t)units + 1) * sizeof *v);
        if (!v) return df__error(ctx, DF_ENOMEM, "out of memory"), -1;
        for (int i = 0; i < units; i++) /* withheld figures must not shape the classes */
            v[i] = df__join_withheld(r->join[l], i) ? -1 : (double)df_join_figures(r->join[l], i)->displaced;
        char words[48];
        df__level_words(r->rep.fine, l, 1, 1, words, sizeof words);
        snprintf(titles[l], 64, "%s: displaced", words);
        df__qgis_layer *q = &out[n++];
        if (l == r->rep.level && r->periods) { /* the figures per period above, moving with the flows */
            snprintf(titles[0], 64, "%.30s: still displaced, by period", words);
            *q++ = (df__qgis_layer){.name = "periods",
                                    .title = titles[0],
                                    .style = DF__STYLE_CHOROPLETH,
                                    .field = "still_displaced",
                                    .crs = "EPSG:4326",
                                    .features = df__periods_features(r->periods),
                                    .temporal = 1};
            n++;
        }
        *q = (df__qgis_layer){.name = names[l],
                              .title = titles[l],
                              .style = DF__STYLE_CHOROPLETH,
                              .field = "displaced",
                              .crs = "EPSG:4326",
                              .features = units};
        if (l > 1 && !r->same_name[l]) q->same_name = ((run *)r)->same_name[l] = same_names(r->rep.b[l], l);
        q->nlabel = df__label_fields(r->rep.b[l], l, r->job->map_labels, NULL, q->label_field); /* as write_layers */
        /* the classes of the map pictures, so that QGIS and the sitrep agree;
         * the top class up to the largest value, the first from 1 */
        int nb = r->rep.nbreaks[l];
        double top = 0, low = 1;
        for (int i = 0; i < units; i++)
            if (v[i] > 0) top = fmax(top, v[i]), low = fmin(low, v[i]);
        memcpy(q->breaks, r->rep.breaks[l], (size_t)nb * sizeof *q->breaks);
        q->breaks[nb] = nb > 0 ? fmax(top, r->rep.breaks[l][nb - 1]) : top;
        q->nclasses = top > 0 ? nb + 1 : 0;
        q->vmin = low;
        q->max = top;
        if (q > out && q[-1].temporal && q[-1].style == DF__STYLE_CHOROPLETH) { /* the classes of the cumulative map */
            double still = (double)df__periods_max_still(r->periods);
            memcpy(q[-1].breaks, q->breaks, sizeof q->breaks);
            q[-1].breaks[nb] = fmax(q->breaks[nb], still);
            q[-1].nclasses = q->nclasses ? q->nclasses : still > 0 ? nb + 1 : 0;
            q[-1].vmin = q->vmin;
            q[-1].max = fmax(top, still);
        }
        free(v);
    }
    return n;
}

/* layers.gpkg up to the records layer's rows: every other layer, and the
 * records layer empty, its rows to go in once GDAL has closed the file
 * (then *points is 1 and *out NULL; else *out is the file, still open). */
static df_status layers_create(df_ctx *ctx, run *r, const char *path, GDALDatasetH *out, int *points)
{
    *out = NULL, *points = 0;
    GDALDriverH drv = GDALGetDriverByName("GPKG");
    GDALDatasetH ds = drv ? GDALCreate(drv, path, 0, 0, 0, GDT_Unknown, NULL) : NULL;
    if (!ds) return df__error(ctx, DF_EGDAL, "cannot create %s: %s", path, df__gdal_error(ctx));
    df_status st = DF_OK;
    for (int l = 1; st == DF_OK && l <= 3; l++) {
        char name[8];
        snprintf(name, sizeof name, "adm%d", l);
        if (r->join[l])
            st = df__join_write_layer(ctx, r->join[l], r->rep.b[l], ds, name, r->job->map_labels, NULL, path);
    }
    if (st == DF_OK && r->flows)
        st = df__flows_write_layers(ctx, r->flows, r->rep.fine, ds, path, r->job->opts.bend,
                                    (df_endpoints)r->job->opts.endpoints,
                                    !r->job->publish); /* the nodes are the units' figures again: not published */
    *points = st == DF_OK && records_layer_wanted(r);
    if (*points)
        st = create_points_layer(ctx, ds);
    else if (st == DF_OK && !r->job->publish) /* said in the sitrep and the manifest */
        r->rep.records_not_copied = df_join_balance(r->join[r->rep.level])->read.with_point;
    if (st == DF_OK && r->periods) st = df__periods_write_layer(ctx, r->periods, ds, path);
    if (st != DF_OK || !*points) {
        if (st == DF_OK)
            *out = ds;
        else
            GDALClose(ds);
        return st;
    }
    CPLErrorReset(); /* the rows in bulk (fill_points) once GDAL's file is closed */
    GDALClose(ds);
    if (CPLGetLastErrorType() >= CE_Failure)
        return df__error(ctx, DF_EIO, "cannot finish %s: %s", path, df__gdal_error(ctx));
    return DF_OK;
}

/* The styles of layers.gpkg, on ds or, when NULL, on the file opened again
 * (after the records layer's rows: the styles count them); the file is
 * closed. */
static df_status layers_styles(df_ctx *ctx, run *r, const char *path, GDALDatasetH ds, df__qgis_layer *ql, int *nql,
                               char titles[][64], const char *stamp)
{
    if (!ds && !(ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_UPDATE, NULL, NULL, NULL)))
        return df__error(ctx, DF_EGDAL, "cannot open %s again: %s", path, df__gdal_error(ctx));
    *nql = qgis_layers(ctx, r, ds, ql, titles);
    df_status st = *nql < 0 ? ctx->status : df__gpkg_write_styles(ctx, ds, ql, *nql, stamp);
    CPLErrorReset();
    GDALClose(ds);
    if (st == DF_OK && CPLGetLastErrorType() >= CE_Failure)
        st = df__error(ctx, DF_EIO, "cannot finish %s: %s", path, df__gdal_error(ctx));
    return st;
}

/* ---- the records layer beside the other products ------------------------------- */

/* The records layer's rows, its styles (which count them) and its index
 * are written on a thread of their own while the run makes the products
 * that touch neither layers.gpkg nor the spool of records (the density,
 * the raster, the tables, the maps; the project and the sitrep once the
 * styles are in), on the other core. The file sees the same steps in the
 * same order as on one thread (the rows, the styles, the index: the same
 * bytes). The run waits for the styles (the project needs the layers'
 * list, and the sitrep's hosting tables replay the spool). Once the index
 * is in, layers.gpkg is complete: the thread queues it to be hashed
 * (df__digests) and makes the web map, which reads it, beside the sitrep's
 * PDF. The run joins the thread before the manifest and PostGIS, and on
 * every way out of write_products. The thread reports into a context of its
 * own (no log, no progress; GDAL's messages on it go there too); its error
 * becomes the run's, and an error or a cancel of the run stops its rows at
 * the next batch (and the web map, if not yet begun). */
typedef struct {
    run *r;
    df_ctx ctx;
    char path[4200];
    const char *stamp;  /* GeoPackage timestamps: the as-of date */
    df__qgis_layer *ql; /* the layers' list, made with the styles */
    int *nql;
    char (*titles)[64];
    df__rtree *index;   /* the boxes the rows gave, for the index */
    df_ctx *web;        /* map.html's context once the index is in (its own GEOS context); NULL: on the run's thread */
    double ext[4];      /* the web map's extent */
    char credits[1024]; /* and its credits */
    int web_done;       /* map.html is written */
    pthread_mutex_t lock; /* over styled and styles_st */
    pthread_cond_t styled_cv;
    int styled;              /* the rows and the styles are done (or failed) */
    df_status styles_st, st; /* of the rows and styles; of the index */
    pthread_t thread;
    int running; /* a thread to join */
} beside;

static df_status write_webmap(df_ctx *ctx, const run *r, const double ext[4], const char *credits);

/* map.html, which reads layers.gpkg, on this thread once the file is
 * complete: beside the sitrep's PDF on the other core. In a context of its
 * own (b->web: a GEOS context is not shared between threads); its error
 * becomes the thread's. */
static df_status beside_webmap(beside *b)
{
    DF__GDAL_SCOPE(b->web);
    df_status st = write_webmap(b->web, b->r, b->ext, b->credits);
    if (st != DF_OK) return df__error(&b->ctx, st, "%s", b->web->errmsg);
    b->web_done = 1;
    return DF_OK;
}

static void *beside_main(void *arg)
{
    beside *b = arg;
    DF__GDAL_SCOPE(&b->ctx); /* the styles go through GDAL: its messages into this thread's context */
    df_status st = fill_points(&b->ctx, b->r, b->path, &b->index);
    if (st == DF_OK) {
        CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", b->stamp);
        st = layers_styles(&b->ctx, b->r, b->path, NULL, b->ql, b->nql, b->titles, b->stamp);
        CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", NULL);
    }
    pthread_mutex_lock(&b->lock);
    b->styles_st = st, b->styled = 1;
    pthread_cond_signal(&b->styled_cv);
    pthread_mutex_unlock(&b->lock);
    if (st == DF_OK) b->st = df__rtree_write(&b->ctx, b->index, b->path, "records");
    if (st == DF_OK && b->st == DF_OK) df__digests_add(b->r->rep.digests, LAYERS_FILE); /* complete */
    if (st == DF_OK && b->st == DF_OK && b->web && !atomic_load(&b->r->beside_stop)) b->st = beside_webmap(b);
    return NULL;
}

static void beside_start(df_ctx *ctx, beside *b)
{
    b->ctx = *ctx;
    b->ctx.log_fn = NULL, b->ctx.progress_fn = NULL;
    b->ctx.status = DF_OK, b->ctx.errmsg[0] = '\0';
    b->styled = 0, b->styles_st = b->st = DF_OK;
    b->web = df_ctx_new(); /* NULL (out of memory): the web map on the run's thread, after the join */
    b->running = pthread_create(&b->thread, NULL, beside_main, b) == 0;
    if (!b->running) { /* no thread to be had: here and now, and the web map in its place */
        df_ctx_free(b->web);
        b->web = NULL;
        beside_main(b);
    }
}

/* Wait for the rows and the styles; st, or the thread's error when st is
 * DF_OK (the thread is then joined: it does no more). */
static df_status beside_styled(df_ctx *ctx, beside *b, df_status st)
{
    pthread_mutex_lock(&b->lock);
    while (b->running && !b->styled) pthread_cond_wait(&b->styled_cv, &b->lock);
    df_status styles = b->styles_st;
    pthread_mutex_unlock(&b->lock);
    if (styles == DF_OK || st != DF_OK) return st;
    if (b->running) pthread_join(b->thread, NULL);
    b->running = 0;
    b->styles_st = DF_OK; /* said once */
    return df__error(ctx, styles, "%s", b->ctx.errmsg);
}

/* Wait for the thread; st, or the thread's error when st is DF_OK. */
static df_status beside_join(df_ctx *ctx, beside *b, df_status st)
{
    if (st != DF_OK) atomic_store(&b->r->beside_stop, 1); /* the rows stop at the next batch */
    if (b->running) pthread_join(b->thread, NULL);
    b->running = 0;
    df_ctx_free(b->web);
    b->web = NULL;
    df_status err = b->styles_st != DF_OK ? b->styles_st : b->st;
    if (err != DF_OK && st == DF_OK) st = df__error(ctx, err, "%s", b->ctx.errmsg);
    b->styles_st = b->st = DF_OK; /* said once */
    return st;
}

static df_status write_tables(df_ctx *ctx, run *r)
{
    char path[4200];
    df_status st = DF_OK;
    for (int l = 1; st == DF_OK && l <= 3; l++) {
        if (!r->join[l]) continue;
        char name[16];
        snprintf(name, sizeof name, "adm%d.csv", l);
        bundle_path(r, name, path, sizeof path);
        st = df_join_write(ctx, r->join[l], r->rep.b[l], path, "CSV", NULL);
    }
    if (st == DF_OK && r->flows) {
        bundle_path(r, "flows.csv", path, sizeof path);
        st = df_flows_write_matrix(ctx, r->flows, r->rep.fine, path, 1);
    }
    if (st == DF_OK && r->periods) {
        bundle_path(r, "periods.csv", path, sizeof path);
        st = df__periods_write_csv(ctx, r->periods, path);
    }
    return st;
}

static df_status write_maps(df_ctx *ctx, run *r)
{
    const df_job *job = r->job;
    int level = r->rep.level;
    const df_join *j = r->join[level];
    const df_boundaries *b = r->rep.b[level];
    const df_balance *bal = df_join_balance(j);
    int n = df_boundaries_count(b, level), snapshots = df_join_kind(j) == DF_SNAPSHOTS;
    double *displaced = r->map_value[0] = malloc(((size_t)n + 1) * sizeof *displaced),
           *still = r->map_value[1] = malloc(((size_t)n + 1) * sizeof *still);
    unsigned char *unassessed = r->map_unassessed = snapshots ? calloc((size_t)n + 1, 1) : NULL;
    df_status st = DF_OK;
    if (!displaced || !still || (snapshots && !unassessed)) st = df__error(ctx, DF_ENOMEM, "out of memory");
    for (int i = 0; st == DF_OK && i < n; i++) {
        int out = df__join_withheld(j, i); /* drawn grey, as no data */
        displaced[i] = out ? -1 : (double)df_join_figures(j, i)->displaced;
        still[i] = out ? -1 : (double)df_join_figures(j, i)->still_displaced;
        if (unassessed) unassessed[i] = !df_join_figures(j, i)->assessed; /* hatched: not 0 (issue 13 item 6) */
    }
    char as_of[20], *subtitle = r->map_subtitle, *credits = r->map_credits, map_id[256], title[2][160], path[4200];
    df__date_words(bal->as_of, as_of);
    df__report_period(&r->rep, subtitle, sizeof r->map_subtitle);
    df__report_credits(&r->rep, credits, sizeof r->map_credits);
    df__job_expand(job->report_map_id ? job->report_map_id : DF__DEFAULT_MAP_ID, bal->as_of, map_id, sizeof map_id);
    char words[64];
    df__level_words(b, level, 0, 0, words, sizeof words);
    snprintf(title[0], sizeof title[0], "People displaced by %s%s", words, r->flows ? ", with the largest flows" : "");
    snprintf(title[1], sizeof title[1], "People still displaced by %s as of %s", words, as_of);
    static const char *const files[] = {"map_displaced.png", "map_still_displaced.png"};
    static const char *const legends[] = {"Displaced, individuals", "Still displaced, individuals"};
    /* a table that counts no returns has still displaced = displaced: one map, not the same twice */
    int nmaps = bal->read.returns > 0 ? 2 : 1;
    for (int k = 0; st == DF_OK && k < nmaps; k++) {
        char *id = r->map_ids[k];
        snprintf(id, sizeof r->map_ids[k], "%s%s", map_id, !map_id[0] ? "" : k == 0 ? "-1" : "-2");
        df__map m = {.b = b,
                     .level = level,
                     .value = k == 0 ? displaced : still,
                     .legend = legends[k],
                     .flows = k == 0 ? r->flows : NULL,
                     .top_flows = (int)job->top_flows,
                     .title = title[k],
                     .subtitle = subtitle,
                     .source = credits,
                     .disclaimer = job->report_disclaimer,
                     .map_id = id[0] ? id : NULL,
                     .logo = job->report_logo,
                     .no_data = job->publish ? "Withheld (fewer than k families)" : NULL,
                     .breaks = r->rep.breaks[level],
                     .nbreaks = r->rep.nbreaks[level],
                     .not_assessed = unassessed,
                     .circles = job->circles,
                     .labels = job->map_labels,
                     .places = job->map_places};
        bundle_path(r, files[k], path, sizeof path);
        if ((st = df__map_write_png(ctx, &m, path)) != DF_OK) break;
        snprintf(r->map_titles[k], sizeof r->map_titles[k], "%s", title[k]);
        r->maps[k] = m, r->maps[k].title = r->map_titles[k];
        r->rep.map_spec = r->maps;
        r->rep.map_file[r->rep.nmaps] = files[k];
        r->rep.map_title[r->rep.nmaps++] = r->map_titles[k];
    }
    return st; /* the values stay for the PDF; freed with the run */
}

/* The extent of the units with people in them (WGS84), padded; the whole
 * layer when none has. */
static void data_extent(df_ctx *ctx, const run *r, double ext[4])
{
    int level = r->rep.level;
    const df_boundaries *b = r->rep.b[level];
    ext[0] = ext[1] = HUGE_VAL, ext[2] = ext[3] = -HUGE_VAL;
    for (int pass = 0; pass < 2 && ext[0] == HUGE_VAL; pass++)
        for (int i = 0; i < df_boundaries_count(b, level); i++) {
            if (pass == 0 && df_join_figures(r->join[level], i)->displaced <= 0) continue;
            const GEOSGeometry *g = df__boundaries_geometry(b, level, i);
            double x0, y0, x1, y1;
            if (!g || GEOSGeom_getXMin_r(ctx->geos, g, &x0) != 1 || GEOSGeom_getYMin_r(ctx->geos, g, &y0) != 1 ||
                GEOSGeom_getXMax_r(ctx->geos, g, &x1) != 1 || GEOSGeom_getYMax_r(ctx->geos, g, &y1) != 1)
                continue;
            ext[0] = fmin(ext[0], x0), ext[1] = fmin(ext[1], y0), ext[2] = fmax(ext[2], x1), ext[3] = fmax(ext[3], y1);
        }
    double px = (ext[2] - ext[0]) * 0.05, py = (ext[3] - ext[1]) * 0.05;
    ext[0] -= px, ext[1] -= py, ext[2] += px, ext[3] += py;
}

/* The texts of the print layout, and the logo copied beside the project
 * (the bundle names no path outside itself). */
static df_status print_texts(df_ctx *ctx, const run *r, df__qgis_print *p, char subtitle[128], char credits[1024],
                             char map_id[64], char logo[64])
{
    const df_job *job = r->job;
    const df_balance *bal = df_join_balance(r->join[r->rep.level]);
    /* the same words as the map pictures and the report (sitrep.c), and the as-of date */
    char period[96], as_of[20];
    df__report_period(&r->rep, period, sizeof period);
    df__date_words(bal->as_of, as_of);
    snprintf(subtitle, 128, "%s, as of %s", period, as_of);
    df__report_credits(&r->rep, credits, 1024);
    df__job_expand(job->report_map_id ? job->report_map_id : DF__DEFAULT_MAP_ID, bal->as_of, map_id, 64);
    p->map_id = map_id;
    p->disclaimer = job->report_disclaimer ? job->report_disclaimer
                                           : "The boundaries and names shown and the designations used on this map do "
                                             "not imply official endorsement or acceptance by the United Nations.";
    if (!job->report_logo) return DF_OK;
    const char *dot = strrchr(job->report_logo, '.');
    snprintf(logo, 64, "logo%s", dot && strlen(dot) <= 5 ? dot : ".png");
    char path[4200];
    bundle_path(r, logo, path, sizeof path);
    FILE *in = fopen(job->report_logo, "rb"), *out = in ? fopen(path, "wb") : NULL;
    char buf[8192];
    size_t got;
    int ok = in && out;
    while (ok && (got = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, got, out) == got;
    ok = ok && !ferror(in);
    if (in) fclose(in);
    if (out && fclose(out) != 0) ok = 0;
    if (!ok)
        return df__error(ctx, DF_EIO, "%s: [report] logo %s: cannot copy it into the bundle: %s", job->path,
                         job->report_logo, strerror(errno));
    p->logo = logo;
    return DF_OK;
}

/* map.html: the reporting level's choropleth and the flows, from layers.gpkg. */
static df_status write_webmap(df_ctx *ctx, const run *r, const double ext[4], const char *credits)
{
    const df_job *job = r->job;
    int level = r->rep.level;
    char gpkg[4200], path[4200], layer[8], subtitle[400], words[64], figure[96];
    bundle_path(r, LAYERS_FILE, gpkg, sizeof gpkg);
    bundle_path(r, "map.html", path, sizeof path);
    snprintf(layer, sizeof layer, "adm%d", level);
    df__report_period(&r->rep, subtitle, sizeof subtitle);
    df__level_words(r->rep.b[level], level, 0, 0, words, sizeof words);
    snprintf(figure, sizeof figure, "Displaced by %s (cumulative)", words);
    df__webmap w = {.job = job,
                    .gpkg = gpkg,
                    .layer = layer,
                    .base_layer = level > 1 && r->join[1] ? "adm1" : NULL,
                    .field = "displaced",
                    .title = job->title ? job->title : "Displacement situation report",
                    .subtitle = subtitle,
                    .credits = credits,
                    .figure_label = figure,
                    .all_label = subtitle,
                    .no_data = job->publish ? "Withheld (fewer than k families)" : "No data",
                    .bbox = {ext[0], ext[1], ext[2], ext[3]}};
    return df__webmap_write(ctx, &w, path);
}

/* [density] step (issue 14 item 3): a raster per period of the job's, of
 * the records dated in it, on the whole raster's grid (so that they align),
 * density_<status>_<first day>.tif; in the project a group of them below
 * the whole raster (at), each shown by the Temporal Controller over its
 * days, on one colour scale; the whole raster then starts hidden. Not in
 * publish mode (each period's pixels would be more cells to protect). */
static df_status density_periods(df_ctx *ctx, run *r, df__qgis_layer *ql, int *nql, int at)
{
    const df_job *job = r->job;
    const df_balance *bal = df_join_balance(r->join[r->rep.level]);
    const df_density_info *whole = df_density_get_info(r->density);
    if (job->publish || bal->from == DF_NO_DATE || bal->as_of == DF_NO_DATE) return DF_OK;
    int n = 0;
    for (int32_t d = bal->from; d <= bal->as_of && n <= MAX_DENSITY_PERIODS;
         d = df_period_next(d, job->opts.density_step))
        n++;
    if (n > MAX_DENSITY_PERIODS) {
        char f[11], t[11];
        df_date_format(bal->from, f), df_date_format(bal->as_of, t);
        return df__error(ctx, DF_EINVAL,
                         "%s: [density] step: %s to %s is more than %d periods, more rasters than a bundle holds: "
                         "choose a longer step",
                         job->path, f, t, MAX_DENSITY_PERIODS);
    }
    df_density_opts o;
    df__job_density_opts(job, &o);
    o.status = job->opts.people == 2 ? -1 : job->opts.people == 1 ? DF_RETURNED : DF_DISPLACED;
    o.radius = whole->radius, o.bandwidth = DF_BANDWIDTH_FIXED; /* the whole's kernel: the periods add up to it */
    char crs[64], path[4200];
    snprintf(crs, sizeof crs, "%s", whole->crs);
    o.t_srs = crs, o.has_extent = 1;
    o.extent[0] = whole->geotransform[0], o.extent[3] = whole->geotransform[3];
    o.extent[2] = whole->geotransform[0] + whole->width * whole->geotransform[1];
    o.extent[1] = whole->geotransform[3] + whole->height * whole->geotransform[5];
    int base = (int)(strrchr(r->rep.density_file, '.') - r->rep.density_file);
    double max = 0;
    memmove(ql + at + 1 + n, ql + at + 1, (size_t)(*nql - at - 1) * sizeof *ql);
    df_status st = DF_OK;
    int k = 0;
    for (int32_t d = bal->from; st == DF_OK && k < n; d = df_period_next(d, job->opts.density_step), k++) {
        int32_t first, last;
        df_period_of(d, job->opts.density_step, &first, &last);
        o.from = d;
        o.as_of = last < bal->as_of ? last : bal->as_of;
        char day[11], a[11], b[11];
        df_date_format(first, day), df_date_format(o.from, a), df_date_format(o.as_of, b);
        snprintf(r->density_files[k], sizeof r->density_files[k], "%.*s_%s.tif", base, r->rep.density_file, day);
        snprintf(r->density_titles[k], sizeof r->density_titles[k], "%s to %s", a, b);
        df_density *pd = NULL;
        bundle_path(r, r->density_files[k], path, sizeof path);
        if ((st = df__density_sink_compute(ctx, r->density_sink, &o, 1, &pd)) == DF_OK)
            st = df_density_write(ctx, pd, path, "GTiff", NULL);
        if (st == DF_OK) max = fmax(max, df_density_get_info(pd)->max);
        df_density_free(pd);
        ql[at + 1 + k] = (df__qgis_layer){.name = r->density_files[k],
                                          .title = r->density_titles[k],
                                          .style = DF__STYLE_RASTER,
                                          .units = whole->units,
                                          .crs = whole->crs,
                                          .temporal = 1,
                                          .from = o.from,
                                          .to = o.as_of,
                                          .group = "Density of people by period (people/km2)"};
    }
    for (k = 0; k < n; k++) ql[at + 1 + k].max = max; /* one scale: the periods compare */
    ql[at].unchecked = 1;
    *nql += n;
    return st;
}

/* Start the next stage, or leave write_products cancelled. */
#define STAGE(name)                                                                                                    \
    do {                                                                                                               \
        if (!begin(ctx, r, name)) {                                                                                    \
            st = df__error(ctx, DF_ECANCELLED, "cancelled during %s", name);                                           \
            goto done;                                                                                                 \
        }                                                                                                              \
    } while (0)

static df_status write_products(df_ctx *ctx, run *r)
{
    const df_job *job = r->job;
    df_status st = DF_OK;
    char path[4200], stamp[32];
    const df_balance *bal = df_join_balance(r->join[r->rep.level]);
    /* no wall-clock time in any file: GPKG timestamps are the as-of date */
    df_date_format(bal->as_of != DF_NO_DATE ? bal->as_of : 0, stamp);
    strcat(stamp, "T00:00:00.000Z"); /* GeoPackage Req 15: with milliseconds */
    df__qgis_layer ql[12 + MAX_DENSITY_PERIODS];
    char titles[4][64];
    int nql = 0, points = 0;
    beside side = {.r = r,
                   .stamp = stamp,
                   .ql = ql,
                   .nql = &nql,
                   .titles = titles,
                   .lock = PTHREAD_MUTEX_INITIALIZER,
                   .styled_cv = PTHREAD_COND_INITIALIZER};
    GDALDatasetH ds = NULL;
    bundle_path(r, LAYERS_FILE, side.path, sizeof side.path);
    /* what the web map needs besides layers.gpkg, for the thread that makes it */
    double *ext = side.ext;
    data_extent(ctx, r, ext);
    df__report_credits(&r->rep, side.credits, sizeof side.credits);

    STAGE("layers.gpkg");
    CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", stamp);
    st = layers_create(ctx, r, side.path, &ds, &points);
    if (st == DF_OK && points)
        beside_start(ctx, &side); /* the records layer, while the density, raster, tables and maps are made */
    else if (st == DF_OK)
        st = layers_styles(ctx, r, side.path, ds, ql, &nql, titles, stamp);
    if (st == DF_OK && !points) df__digests_add(r->rep.digests, LAYERS_FILE); /* complete */
    CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", NULL);
    if (st != DF_OK || (st = compute_density(ctx, r)) != DF_OK) goto done; /* beside the records layer's rows */
    if (r->density) {
        STAGE("density raster");
        bundle_path(r, r->rep.density_file, path, sizeof path);
        if ((st = df_density_write(ctx, r->density, path, "GTiff", NULL)) != DF_OK) goto done;
        df__digests_add(r->rep.digests, r->rep.density_file);
    }
    if (job->maps) {
        STAGE("maps");
        if ((st = write_maps(ctx, r)) != DF_OK) goto done;
    }
    /* the rows and their styles are in (the index goes on beside the tables, the project and the
     * sitrep); the tables after them: a millisecond's work, and so nothing but the density's
     * products is written while the rows go in (a full disk then fails on the thread alone) */
    if (points && (st = beside_styled(ctx, &side, st)) != DF_OK) goto done;
    STAGE("tables");
    if ((st = write_tables(ctx, r)) != DF_OK) goto done;
    if (r->density) {
        const df_density_info *in = df_density_get_info(r->density);
        /* above the choropleths: its zeros are transparent, its peaks show over the fill */
        int at = 0;
        while (at < nql && ql[at].style != DF__STYLE_CHOROPLETH) at++;
        memmove(ql + at + 1, ql + at, (size_t)(nql - at) * sizeof *ql);
        ql[at] = (df__qgis_layer){.name = r->rep.density_file,
                                  .title = "Density of people (people/km2)",
                                  .style = DF__STYLE_RASTER,
                                  .max = in->max,
                                  .units = in->units,
                                  .crs = in->crs};
        nql++;
        if (job->opts.density_step != DF_STEP_NONE && (st = density_periods(ctx, r, ql, &nql, at)) != DF_OK) goto done;
    }
    /* in the project, the levels coarser than the finest choropleth are its
     * boundaries and names, drawn above it (two fills at once would tint each
     * other); layers.gpkg keeps every level's choropleth as its default style */
    int fine = 0, finest = 0;
    while (fine < nql && ql[fine].style != DF__STYLE_CHOROPLETH && ql[fine].style != DF__STYLE_RASTER) fine++;
    for (finest = fine; finest < nql && (ql[finest].style != DF__STYLE_CHOROPLETH || ql[finest].temporal);) finest++;
    for (int i = finest + 1; i < nql; i++) {
        if (ql[i].style != DF__STYLE_CHOROPLETH) continue;
        df__qgis_layer o = ql[i];
        int l = o.name[3] - '0';
        char words[48];
        df__level_words(r->rep.fine, l, 1, 1, words, sizeof words);
        snprintf(titles[l], 64, "%.40s (boundaries)", words); /* layers.gpkg's styles are written: free to reuse */
        o.style = DF__STYLE_OUTLINE, o.title = titles[l];
        memmove(ql + fine + 1, ql + fine, (size_t)(i - fine) * sizeof *ql);
        ql[fine++] = o;
    }
    STAGE("QGIS project");
    bundle_path(r, "project.qgs", path, sizeof path);
    /* the Temporal Controller steps through the flows' periods; at open it
     * shows the latest one */
    df__qgis_time time = {bal->from, bal->as_of, job->publish ? DF_STEP_NONE : job->opts.fo.step, DF_NO_DATE,
                          DF_NO_DATE};
    for (int i = 0; r->flows && i < df_flows_count(r->flows); i++) {
        const df_flow *fl = df_flows_get(r->flows, i);
        if (!fl->withheld && (time.last_start == DF_NO_DATE || fl->period_start > time.last_start))
            time.last_start = fl->period_start, time.last_end = fl->period_end;
    }
    char subtitle[128], credits[1024], map_id[64], logo[64];
    df__qgis_print print = {.subtitle = subtitle, .credits = credits, .atlas = r->join[1] ? "adm1" : NULL};
    if ((st = print_texts(ctx, r, &print, subtitle, credits, map_id, logo)) != DF_OK) goto done;
    if ((st = df__qgis_write_project(ctx, path, job->title ? job->title : "Displacement situation report", ql, nql, ext,
                                     &time, &print)) != DF_OK)
        goto done;
    STAGE("situation report");
    if ((st = df__sitrep_write(ctx, &r->rep, r->dir)) != DF_OK) goto done;
    /* the spooled records and points are all read (the records layer's rows
     * are in: beside_styled): their temporary files closed now, while the
     * records layer's index and the web map are made, not after them */
    df__spool_free(r->spool), df__density_sink_free(r->density_sink);
    r->spool = r->rep.spool = r->density_sink = NULL;
    if ((st = beside_join(ctx, &side, st)) != DF_OK) goto done; /* layers.gpkg complete: to be read and hashed */
    STAGE("web map");
    /* made on the records layer's thread once its index was in, if there was one */
    if (!side.web_done && (st = write_webmap(ctx, r, ext, side.credits)) != DF_OK) goto done;
    STAGE("manifest");
    st = df__manifest_write(ctx, &r->rep, r->dir);
done:
    st = beside_join(ctx, &side, st);
    df__rtree_free(side.index);
    return st;
}

#undef STAGE

/* ---- the run ------------------------------------------------------------------------ */

static int count_stages(const df_job *job)
{
    int n = 1 /* boundaries */ + 1 /* the read */ + 5 /* layers, tables, project, web map, sitrep */ + 1 /* manifest */;
    for (int l = 1; l <= 3; l++) n += !!(job->levels & (1 << l));
    int density = job->density && !(job->publish && job->publish_ledger); /* pixels are not in the ledger */
    return n + job->flows + 2 * density + job->maps + job->publish + !!job->database;
}

/* The layers of layers.gpkg in PostGIS too (issue 15 item 4): last, once
 * the bundle is complete, so a failed run changes neither. */
static df_status write_database(df_ctx *ctx, run *r)
{
    char path[4200];
    BEGIN("PostGIS");
    bundle_path(r, LAYERS_FILE, path, sizeof path);
    return df__postgis_write(ctx, r->job->database, r->job->schema, df_join_balance(r->join[r->rep.level])->as_of,
                             path);
}

/* The classes of every joined level, once, from the displaced figures (the
 * larger of the two maps: still displaced fits the same classes); withheld
 * figures must not shape them. */
static df_status compute_classes(df_ctx *ctx, run *r)
{
    for (int l = 1; l <= 3; l++) {
        if (!r->join[l]) continue;
        int n = df_boundaries_count(r->rep.b[l], l);
        double *v = malloc(((size_t)n + 1) * sizeof *v);
        if (!v) return df__error(ctx, DF_ENOMEM, "out of memory");
        for (int i = 0; i < n; i++)
            v[i] = df__join_withheld(r->join[l], i) ? -1 : (double)df_join_figures(r->join[l], i)->displaced;
        int rc = df__classes_for(r->job, v, n, r->rep.breaks[l], &r->rep.nbreaks[l]);
        free(v);
        if (rc != 0) return df__error(ctx, DF_ENOMEM, "out of memory classifying the figures");
    }
    return DF_OK;
}

static void *preload_main(void *arg)
{
    (void)arg;
    df__countries_preload();
    return NULL;
}

static df_status run_stages(df_ctx *ctx, run *r)
{
    df_status st;
    /* the maps' countries read on the other core while one loads the boundaries */
    r->preloading = pthread_create(&r->preload, NULL, preload_main, NULL) == 0;
    BEGIN("boundaries");
    if ((st = load_boundaries(ctx, r)) != DF_OK) return st;
    if ((st = compute(ctx, r)) != DF_OK) return st;
    if (r->job->publish) {
        if ((st = compute_density(ctx, r)) != DF_OK) return st; /* its thin pixels are withheld */
        BEGIN("publish: withholding");
        if ((st = withhold(ctx, r)) != DF_OK) return st;
    }
    if ((st = compute_classes(ctx, r)) != DF_OK) return st;
    if ((st = write_products(ctx, r)) != DF_OK) return st;
    if (r->job->database && (st = write_database(ctx, r)) != DF_OK) return st;
    return DF_OK;
}

/* A rank other than 0 of an MPI run (engine/parts.c): the same stages up
 * to the aggregates, its share of each split read merged with the others',
 * and nothing written. Its decision log (its share's rows, sent to rank 0)
 * goes to a scratch folder, removed. */
static df_status run_share(df_ctx *ctx, run *r)
{
    const char *tmp = getenv("TMPDIR");
    if (snprintf(r->dir, sizeof r->dir, "%s/dispflow-part-XXXXXX", tmp && *tmp ? tmp : "/tmp") >= (int)sizeof r->dir ||
        !mkdtemp(r->dir))
        return df__error(ctx, DF_EIO, "cannot create a scratch folder in %s: %s", tmp && *tmp ? tmp : "/tmp",
                         strerror(errno));
    df_status st = load_boundaries(ctx, r);
    if (st == DF_OK) st = compute(ctx, r);
    if (st == DF_OK) st = compute_density(ctx, r); /* summed over the ranks: as rank 0 does, in the same order */
    /* the rasters per period, which rank 0 makes while it writes: each is
     * summed over the ranks, so every rank computes them in the same order
     * (written here to the scratch folder: df__commit keeps nothing) */
    if (st == DF_OK && r->density && r->job->opts.density_step != DF_STEP_NONE) {
        df__qgis_layer ql[1 + MAX_DENSITY_PERIODS] = {{0}};
        int nql = 1;
        st = density_periods(ctx, r, ql, &nql, 0);
    }
    remove_tree(r->dir);
    return st;
}

df_status df_job_run(df_ctx *ctx, const df_job *job)
{
    DF__GDAL_SCOPE(ctx);
    if (strstr(job->output, "{as_of}")) /* issue 13 item 8 */
        return df__error(ctx, DF_EINVAL,
                         "%s: the output %s needs the as-of date: set [job] as_of, or run with --as-of DATE", job->path,
                         job->output);
    run *r = calloc(1, sizeof *r);
    if (!r) return df__error(ctx, DF_ENOMEM, "out of memory");
    r->job = job;
    r->rep.job = job;
    r->nstages = count_stages(job);
    record_opts(r);
    /* the stages report through us: one bar for the whole run */
    r->outer_fn = ctx->progress_fn;
    r->outer_user = ctx->progress_user;
    ctx->progress_fn = stage_progress;
    ctx->progress_user = r;

    r->lock_fd = -1;
    df_status st = DF_OK;
    if (df__parts.index > 0) /* MPI: another rank writes */
        st = run_share(ctx, r);
    else if ((st = lock_output(ctx, r)) == DF_OK && (st = make_temp_folder(ctx, r)) == DF_OK) {
        r->rep.digests = df__digests_new(r->dir); /* NULL (out of memory): the manifest hashes every file */
        st = run_stages(ctx, r);
        df__digests_free(r->rep.digests); /* its thread joined before the folder is swapped or removed */
        r->rep.digests = NULL;
        /* the ledger's new release, pending, then the bundle, then the ledger */
        if (st == DF_OK && r->ledger) st = df__ledger_prepare(ctx, r->ledger);
        if (st == DF_OK) st = swap_into_place(ctx, r);
        if (st != DF_OK) remove_tree(r->dir);
        if (st == DF_OK && r->ledger) st = df__ledger_commit(ctx, r->ledger);
    }
    df__ledger_free(r->ledger); /* without the commit, the pending release is removed */
    if (r->preloading) pthread_join(r->preload, NULL);
    unlock_output(r);
    ctx->progress_fn = r->outer_fn;
    ctx->progress_user = r->outer_user;
    if (st == DF_OK) df__progress(ctx, 1.0, "done");

    df_density_free(r->density);
    df__density_sink_free(r->density_sink);
    df__spool_free(r->spool);
    df_flows_free(r->flows);
    df__periods_free(r->periods);
    free(r->map_value[0]);
    free(r->map_value[1]);
    free(r->map_unassessed);
    for (int l = 1; l <= 3; l++) {
        free(r->same_name[l]);
        df_join_free(r->join[l]);
        df_boundaries_free(r->loaded[l]);
    }
    free(r);
    return st;
}
