/*
 * manifest.c — manifest.json of a bundle: what went in (paths, SHA-256,
 * rows), with which parameters and library versions, what came out (every
 * file with its SHA-256, the layers with their feature counts, the tables
 * with their rows) and the balance of every join. No wall-clock time: the
 * same run gives the same bytes.
 */
#include "df_job.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <gdal.h>
#include <json-c/json.h>
#include <ogr_api.h>
#include <openssl/evp.h>
#include <proj.h>

int df__sha256_file(const char *path, char hex[65])
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char buf[1 << 16], digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    size_t n;
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0) ok = EVP_DigestUpdate(md, buf, n) == 1;
    ok = ok && !ferror(f) && EVP_DigestFinal_ex(md, digest, &len) == 1 && len == 32;
    EVP_MD_CTX_free(md);
    fclose(f);
    for (unsigned i = 0; ok && i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return ok ? 0 : -1;
}

/* ---- digests made while the run goes on (df_job.h) ------------------------------------- */

typedef struct {
    char *name;
    char hex[65];
    int ok;         /* hashed, and the file did not change while it was */
    struct stat sb; /* the file as hashed */
} digest;

struct df__digests {
    char *dir;
    pthread_mutex_t lock; /* over all below */
    pthread_cond_t cv;
    digest *item;
    size_t n, cap, next; /* queued; taken by the thread: [0, next) */
    int closing;         /* no more files: the thread ends once the queue is empty */
    int stop;            /* the run failed: the thread leaves the rest */
    pthread_t thread;
    int running;
};

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static void *digests_main(void *arg)
{
    df__digests *d = arg;
    pthread_mutex_lock(&d->lock);
    for (;;) {
        while (!d->stop && !d->closing && d->next == d->n) pthread_cond_wait(&d->cv, &d->lock);
        if (d->stop || d->next == d->n) break;
        size_t i = d->next++;
        char path[4200], hex[65];
        snprintf(path, sizeof path, "%s/%s", d->dir, d->item[i].name);
        pthread_mutex_unlock(&d->lock);
        struct stat before, after;
        int ok = stat(path, &before) == 0 && df__sha256_file(path, hex) == 0 && stat(path, &after) == 0 &&
                 same_file(&before, &after);
        pthread_mutex_lock(&d->lock);
        if ((d->item[i].ok = ok)) memcpy(d->item[i].hex, hex, sizeof hex), d->item[i].sb = after;
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

df__digests *df__digests_new(const char *dir)
{
    df__digests *d = calloc(1, sizeof *d);
    if (!d || !(d->dir = df__strdup(dir))) {
        free(d);
        return NULL;
    }
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cv, NULL);
    return d;
}

void df__digests_add(df__digests *d, const char *name)
{
    if (!d) return;
    pthread_mutex_lock(&d->lock);
    if (!d->closing && !d->stop && d->n == d->cap) {
        digest *grown = df__realloc_array(d->item, d->cap ? 2 * d->cap : 8, sizeof *grown);
        if (grown) d->item = grown, d->cap = d->cap ? 2 * d->cap : 8;
    }
    if (!d->closing && !d->stop && d->n < d->cap && (d->item[d->n].name = df__strdup(name))) {
        d->item[d->n].ok = 0;
        d->n++;
        if (!d->running) d->running = pthread_create(&d->thread, NULL, digests_main, d) == 0;
        pthread_cond_signal(&d->cv);
    }
    pthread_mutex_unlock(&d->lock);
}

/* Wait for the files queued (stop: leave those not begun), and join. */
static void digests_end(df__digests *d, int stop)
{
    pthread_mutex_lock(&d->lock);
    d->closing = 1, d->stop |= stop;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->lock);
    if (d->running) pthread_join(d->thread, NULL);
    d->running = 0;
}

void df__digests_free(df__digests *d)
{
    if (!d) return;
    digests_end(d, 1);
    for (size_t i = 0; i < d->n; i++) free(d->item[i].name);
    free(d->item);
    free(d->dir);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->cv);
    free(d);
}

int df__digests_get(df__digests *d, const char *name, char hex[65])
{
    char path[4200];
    struct stat now;
    if (!d) return 0;
    digests_end(d, 0); /* the files it was given, hashed */
    for (size_t i = 0; i < d->n; i++) {
        if (!d->item[i].ok || strcmp(d->item[i].name, name) != 0) continue;
        snprintf(path, sizeof path, "%s/%s", d->dir, name);
        if (stat(path, &now) != 0 || !same_file(&now, &d->item[i].sb)) return 0;
        memcpy(hex, d->item[i].hex, 65);
        return 1;
    }
    return 0;
}

/* ---- json helpers --------------------------------------------------------------- */

static void put_str(json_object *o, const char *key, const char *v)
{
    json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

/* A string that may name a database connection: its password masked
 * (df__scrub_secrets), as in every message. */
static void put_unsecret(json_object *o, const char *key, const char *v)
{
    char safe[4200];
    if (v) df__scrub_secrets(v, safe, sizeof safe);
    put_str(o, key, v ? safe : NULL);
}

static void put_int(json_object *o, const char *key, int64_t v)
{
    json_object_object_add(o, key, json_object_new_int64(v));
}

/* A number; null when it is not finite (JSON has no NaN or Infinity, and
 * json-c would write them bare, making the file invalid). */
static void put_num(json_object *o, const char *key, double v)
{
    json_object_object_add(o, key, isfinite(v) ? json_object_new_double(v) : NULL);
}

static void put_date(json_object *o, const char *key, int32_t day)
{
    char text[11];
    df_date_format(day, text);
    put_str(o, key, day == DF_NO_DATE ? NULL : text);
}

/* ---- inputs ------------------------------------------------------------------------ */

static const char *const shapefile_parts[] = {".shp", ".shx", ".dbf", ".prj", ".cpg", NULL};

/* How the manifest names an input, never by a local path (issue 13 item
 * 4): the job file by its name; a file shipped with dispflow as
 * "shapes/..." (under the shapes folder, the parent of job->profiles_dir);
 * any other relative to the job file's folder. */
static void input_name(const df_job *job, const char *path, char *out, size_t cap)
{
    size_t n = job->profiles_dir ? strlen(job->profiles_dir) : 0;
    const char *slash = n ? strrchr(job->profiles_dir, '/') : NULL;
    size_t shapes = slash ? (size_t)(slash - job->profiles_dir) : 0;
    if (path == job->path) {
        const char *base = strrchr(path, '/');
        snprintf(out, cap, "%s", base ? base + 1 : path);
    } else if (shapes && !strncmp(path, job->profiles_dir, shapes) && path[shapes] == '/') {
        snprintf(out, cap, "shapes%s", path + shapes);
    } else {
        df__job_relative(job, path, out, cap);
    }
}

/* One input file; a shapefile with each of its parts. */
static json_object *input(df_ctx *ctx, const df_job *job, const char *role, const char *path, const char *sha256)
{
    json_object *o = json_object_new_object();
    char hex[65], name[4200];
    put_str(o, "role", role);
    if (df__is_database(path)) { /* a PG: table: no file to name or checksum */
        put_unsecret(o, "path", path);
        return o;
    }
    input_name(job, path, name, sizeof name);
    put_str(o, "path", name);
    struct stat sb;
    if (sha256 && sha256[0]) { /* hashed by the run's read of it */
        snprintf(hex, sizeof hex, "%s", sha256);
    } else if (stat(path, &sb) == 0 && S_ISFIFO(sb.st_mode)) { /* read once by the run: nothing to hash now */
        put_str(o, "note", "a FIFO, read once by the run: no checksum");
        return o;
    } else if (df__sha256_file(path, hex) != 0) {
        df__log(ctx, DF_LOG_WARN, "manifest: cannot read %s for its checksum", path); /* the log may name it */
        return o;
    }
    put_str(o, "sha256", hex);
    size_t n = strlen(path);
    if (n > 4 && !strcasecmp(path + n - 4, ".shp")) {
        json_object *parts = json_object_new_object();
        char part[4200];
        for (int k = 1; shapefile_parts[k]; k++) {
            snprintf(part, sizeof part, "%.*s%s", (int)(n - 4), path, shapefile_parts[k]);
            if (df__sha256_file(part, hex) == 0) put_str(parts, shapefile_parts[k] + 1, hex);
        }
        json_object_object_add(o, "parts_sha256", parts);
    }
    return o;
}

static json_object *inputs(df_ctx *ctx, const df__report *r)
{
    const df_job *job = r->job;
    json_object *a = json_object_new_array();
    json_object_array_add(a, input(ctx, job, "job", job->path, NULL));
    json_object *rec = input(ctx, job, "records", job->opts.ro.path, r->records_sha256);
    const df_balance *bal = df_join_balance(r->join[r->level]);
    put_int(rec, "rows", bal->read.rows);
    json_object_array_add(a, rec);
    for (int l = 1; l <= 3; l++) {
        if (!job->adm[l]) continue;
        char role[32];
        snprintf(role, sizeof role, "boundaries adm%d", l);
        json_object *o = input(ctx, job, role, job->adm[l], NULL);
        put_int(o, "features", r->file_units[l]);
        json_object_array_add(a, o);
    }
    const df__profile *p = r->fine ? df__boundaries_profile(r->fine) : NULL;
    if (p) json_object_array_add(a, input(ctx, job, "country profile", p->path, NULL));
    if (p && p->aliases && job->shipped_aliases)
        json_object_array_add(a, input(ctx, job, "aliases (country profile)", p->aliases, NULL));
    if (job->aliases) json_object_array_add(a, input(ctx, job, "aliases", job->aliases, NULL));
    return a;
}

/* ---- outputs -------------------------------------------------------------------------- */

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Data rows of a CSV table of ours: lines after the header and the HXL row. */
static long table_rows(const char *path)
{
    FILE *f = fopen(path, "r");
    long lines = 0;
    int c, last = '\n';
    if (!f) return -1;
    while ((c = getc(f)) != EOF) {
        if (c == '\n') lines++;
        last = c;
    }
    fclose(f);
    lines += last != '\n';
    return lines >= 2 ? lines - 2 : 0;
}

static json_object *gpkg_layers(const char *path)
{
    json_object *o = json_object_new_object();
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    for (int i = 0; ds && i < GDALDatasetGetLayerCount(ds); i++) {
        OGRLayerH l = GDALDatasetGetLayer(ds, i);
        put_int(o, OGR_L_GetName(l), OGR_L_GetFeatureCount(l, TRUE));
    }
    if (ds) GDALClose(ds);
    return o;
}

/* The files of dir but the manifest, listed; NULL when the listing or a
 * checksum fails (context set): a manifest that leaves a file out is worse
 * than none. */
/* The SHA-256 of the files names[0..n) of dir that the run's digests
 * (df__digests) do not hold, on two threads: layers.gpkg and decisions.csv
 * would be most of the manifest's time (0.2 s a million rows) when the run
 * did not hash them as it went. ok[i] is 0 when file i could not be read. */
typedef struct {
    const char *dir;
    char **names;
    size_t n;
    atomic_size_t next;
    char (*hex)[65];
    unsigned char *ok;
} hashing;

static void *hash_files(void *arg)
{
    hashing *h = arg;
    for (size_t i; (i = atomic_fetch_add(&h->next, 1)) < h->n;) {
        char path[4200];
        if (h->ok[i]) continue; /* hashed during the run */
        snprintf(path, sizeof path, "%s/%s", h->dir, h->names[i]);
        h->ok[i] = df__sha256_file(path, h->hex[i]) == 0;
    }
    return NULL;
}

static json_object *outputs(df_ctx *ctx, const char *dir, df__digests *digests)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int failed = 0;
    if (!d) {
        df__error(ctx, DF_EIO, "cannot list %s: %s", dir, strerror(errno));
        return NULL;
    }
    while (!failed && (e = readdir(d))) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "manifest.json")) continue;
        if (n == cap) {
            char **grown = df__realloc_array(names, cap = cap ? 2 * cap : 32, sizeof *names);
            if (!grown) {
                failed = 1;
                break;
            }
            names = grown;
        }
        if (!(names[n] = df__strdup(e->d_name)))
            failed = 1;
        else
            n++;
    }
    closedir(d);
    json_object *a = failed ? NULL : json_object_new_array();
    if (!a) {
        for (size_t i = 0; i < n; i++) free(names[i]);
        free(names);
        df__error(ctx, DF_ENOMEM, "out of memory listing %s", dir);
        return NULL;
    }
    qsort(names, n, sizeof *names, cmp_names); /* the order of the disk is not ours */
    hashing h = {
        .dir = dir, .names = names, .n = n, .hex = df__malloc((n + 1) * sizeof *h.hex), .ok = df__malloc(n + 1)};
    if (h.hex && h.ok) {
        for (size_t i = 0; i < n; i++) h.ok[i] = (unsigned char)df__digests_get(digests, names[i], h.hex[i]);
        pthread_t other;
        int two = pthread_create(&other, NULL, hash_files, &h) == 0;
        hash_files(&h);
        if (two) pthread_join(other, NULL);
    } else {
        df__error(ctx, DF_ENOMEM, "out of memory listing %s", dir);
        failed = 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (failed) { /* out of memory above: free the rest */
            free(names[i]);
            continue;
        }
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        json_object *o = json_object_new_object();
        put_str(o, "file", names[i]);
        FILE *f = fopen(path, "rb");
        if (f) {
            fseek(f, 0, SEEK_END);
            put_int(o, "bytes", ftell(f));
            fclose(f);
        }
        if (h.ok[i])
            put_str(o, "sha256", h.hex[i]);
        else if (!failed) {
            df__error(ctx, DF_EIO, "cannot read %s for its checksum", path);
            failed = 1;
        }
        const char *dot = strrchr(names[i], '.');
        if (dot && !strcmp(dot, ".gpkg")) json_object_object_add(o, "layers", gpkg_layers(path));
        if (dot && !strcmp(dot, ".csv") && strcmp(names[i], "decisions.csv") != 0) put_int(o, "rows", table_rows(path));
        json_object_array_add(a, o);
        free(names[i]);
    }
    free(names);
    free(h.hex);
    free(h.ok);
    if (failed) {
        json_object_put(a);
        return NULL;
    }
    return a;
}

/* ---- balance ---------------------------------------------------------------------------- */

static json_object *balance(const df_join *j)
{
    const df_balance *b = df_join_balance(j);
    json_object *o = json_object_new_object(), *why = json_object_new_object();
    put_int(o, "rows", b->read.rows);
    put_int(o, "matched", b->matched);
    put_int(o, "unmatched", b->unmatched);
    put_int(o, "out_of_period", b->out_of_period);
    put_int(o, "other_level", b->other_level);
    put_int(o, "filtered", b->filtered);
    put_int(o, "rejected", b->read.rejected);
    for (int k = 0; k < DF_REJECT_COUNT; k++)
        if (b->read.rejected_by[k]) put_int(why, df_reject_name((df_reject_reason)k), b->read.rejected_by[k]);
    json_object_object_add(o, "rejected_by", why);
    json_object_object_add(o, "holds",
                           json_object_new_boolean(b->matched + b->unmatched + b->out_of_period + b->other_level +
                                                       b->filtered + b->read.rejected ==
                                                   b->read.rows));
    put_int(o, "individuals_matched", b->ind_matched);
    put_int(o, "individuals_unmatched", b->ind_unmatched);
    put_int(o, "individuals_out_of_period", b->ind_out_of_period);
    put_date(o, "from", b->from);
    put_date(o, "as_of", b->as_of);
    /* which date of which operation the figures come from (snapshots) */
    json_object *ops = json_object_new_array();
    for (int i = 0; df_join_kind(j) == DF_SNAPSHOTS && i < df_join_operation_count(j); i++) {
        const df_operation_figure *op = df_join_operation(j, i);
        json_object *x = json_object_new_object();
        json_object_object_add(x, "operation", json_object_new_string(op->name));
        put_date(x, "snapshot", op->snapshot);
        put_int(x, "rows", op->rows);
        put_int(x, "individuals", op->individuals);
        json_object_array_add(ops, x);
    }
    json_object_object_add(o, "snapshots", ops);
    return o;
}

static int add_parameter(const char *section, const char *key, const char *value, void *user)
{
    json_object *params = user, *sec = NULL;
    if (!json_object_object_get_ex(params, section, &sec)) {
        sec = json_object_new_object();
        json_object_object_add(params, section, sec);
    }
    put_unsecret(sec, key, value); /* [job] database, [records] path */
    return 0;
}

static json_object *versions(void)
{
    json_object *v = json_object_new_object();
    put_str(v, "dispflow", DISPFLOW_VERSION);
    put_str(v, "gdal", GDALVersionInfo("RELEASE_NAME"));
    put_str(v, "proj", proj_info().version);
    put_str(v, "geos", GEOSversion());
    return v;
}

static json_object *balances(const df__report *r)
{
    json_object *bal = json_object_new_object();
    for (int l = 1; l <= 3; l++) {
        char key[8];
        snprintf(key, sizeof key, "adm%d", l);
        if (r->join[l]) json_object_object_add(bal, key, balance(r->join[l]));
    }
    return bal;
}

/* The headline figures (what `run` prints at the end): null where the
 * table does not carry them. */
static json_object *headline(const df__report *r)
{
    const df_join *hj = r->join[r->level];
    const df_balance *hb = df_join_balance(hj);
    json_object *head = json_object_new_object();
    int64_t sum[4] = {0};
    for (int i = 0; i < df_boundaries_count(r->b[r->level], r->level); i++) {
        const df_figures *f = df_join_figures(hj, i);
        sum[0] += f->displaced, sum[1] += f->returned, sum[2] += f->still_displaced, sum[3] += f->families;
    }
    put_date(head, "as_of", hb->as_of);
    put_int(head, "displaced", sum[0]);
    if (hb->read.returns > 0)
        put_int(head, "returned", sum[1]);
    else
        json_object_object_add(head, "returned", NULL);
    put_int(head, "still_displaced", sum[2]);
    if (hb->read.with_families > 0)
        put_int(head, "families", sum[3]);
    else
        json_object_object_add(head, "families", NULL);
    return head;
}

/* The class breaks of every map and QGIS style, per level: compare weeks. */
static json_object *classes(const df__report *r)
{
    static const char *const schemes[] = {"nice", "quantile", "jenks"};
    json_object *all = json_object_new_object();
    for (int l = 1; l <= 3; l++) {
        if (!r->join[l]) continue;
        json_object *o = json_object_new_object(), *br = json_object_new_array();
        char key[8];
        snprintf(key, sizeof key, "adm%d", l);
        put_str(o, "scheme", r->job->nbreaks ? "breaks" : schemes[r->job->classes]);
        for (int k = 0; k < r->nbreaks[l]; k++) json_object_array_add(br, json_object_new_double(r->breaks[l][k]));
        json_object_object_add(o, "breaks", br);
        json_object_object_add(all, key, o);
    }
    return all;
}

static json_object *density(const df__report *r)
{
    const df_density_info *in = df_density_get_info(r->density);
    json_object *o = json_object_new_object();
    put_str(o, "file", r->density_file);
    put_str(o, "crs", in->crs);
    put_str(o, "kernel", df_kernel_name(in->kernel));
    put_num(o, "radius_m", in->radius);
    put_num(o, "pixel_m", in->geotransform[1]);
    put_int(o, "points", in->points);
    put_num(o, "total_weight", in->total_weight);
    put_num(o, "edge_loss", in->edge_loss);
    put_num(o, "mask_loss", in->mask_loss);
    return o;
}

/* The records layer, or where the records are (issue 12 item 2). */
static json_object *records_layer(const df__report *r)
{
    json_object *o = json_object_new_object();
    int written = r->records_not_copied == 0;
    json_object_object_add(o, "written", json_object_new_boolean(written));
    if (written) {
        put_int(o, "features", r->record_points);
    } else {
        put_str(o, "reason",
                r->job->records_layer_mode == DF__RECORDS_LAYER_NO ? "records_layer = no"
                                                                   : "more than records_layer_max");
        put_int(o, "records_with_coordinates", r->records_not_copied);
        put_int(o, "records_layer_max", r->job->records_layer_max);
        put_unsecret(o, "records", r->job->opts.ro.path); /* its SHA-256 is under inputs */
    }
    return o;
}

/* What publishing withheld: counts only. */
static json_object *publish(const df__report *r)
{
    const df__publish_stats *p = r->publish;
    json_object *o = json_object_new_object();
    put_int(o, "k_families", r->job->publish_k);
    put_int(o, "units_withheld", p->units);
    put_int(o, "units_small", p->units_primary);
    put_int(o, "flows_withheld", p->flows);
    put_int(o, "flows_small", p->flows_primary);
    put_int(o, "density_pixels_masked", p->pixels);
    put_int(o, "tables_with_a_small_total", p->uncovered);
    if (p->release) { /* the ledger's release: a stopped run's pending release is matched by it */
        put_int(o, "ledger_series", p->series);
        put_int(o, "ledger_release", p->release);
        put_int(o, "figures_withheld_for_a_difference", p->changed);
        json_object_object_add(o, "totals_withheld", json_object_new_boolean(p->total_withheld));
    }
    return o;
}

df_status df__manifest_write(df_ctx *ctx, const df__report *r, const char *dir)
{
    json_object *m = json_object_new_object(), *params = json_object_new_object();
    put_str(m, "generator", "dispflow " DISPFLOW_VERSION);
    json_object_object_add(m, "versions", versions());
    json_object_object_add(m, "inputs", inputs(ctx, r));
    df__job_each(r->job, add_parameter, params);
    json_object_object_add(m, "parameters", params);
    json_object_object_add(m, "balance", balances(r));
    /* the level the headline comes from, and the levels no record reaches */
    json_object *unreached = json_object_new_array();
    for (int l = 1; l <= 3; l++)
        if (r->unreached & (1 << l)) json_object_array_add(unreached, json_object_new_int(l));
    json_object_object_add(m, "headline_level", json_object_new_int(r->level));
    json_object_object_add(m, "headline", headline(r));
    json_object_object_add(m, "classes", classes(r));
    json_object_object_add(m, "unreached_levels", unreached);
    if (r->density) json_object_object_add(m, "density", density(r));
    if (!r->job->publish) json_object_object_add(m, "records_layer", records_layer(r));
    if (r->publish) json_object_object_add(m, "publish", publish(r));
    json_object *out = outputs(ctx, dir, r->digests);
    if (!out) {
        json_object_put(m);
        return ctx->status;
    }
    json_object_object_add(m, "outputs", out);

    char path[4200];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    const char *text = json_object_to_json_string_ext(m, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (!text) {
        json_object_put(m);
        return df__error(ctx, DF_ENOMEM, "out of memory writing %s", path);
    }
    FILE *f = fopen(path, "w");
    df_status st = DF_OK;
    if (!f || fputs(text, f) < 0 || fputc('\n', f) == EOF) st = df__error(ctx, DF_EIO, "cannot write %s", path);
    if (f && fclose(f) != 0 && st == DF_OK) st = df__error(ctx, DF_EIO, "cannot write %s: %s", path, strerror(errno));
    json_object_put(m);
    return st;
}
