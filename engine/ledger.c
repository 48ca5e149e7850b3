/*
 * ledger.c — the release ledger of a publish series: what each release of
 * the series published, so that a new release can treat every difference
 * against an earlier published value of the same cell as a figure of its
 * own (docs/publish.md). An SQLite file (a GeoPackage of attribute tables
 * when named .gpkg), read whole at the start of a release; the new release
 * is written to "LEDGER.pending" beside it and renamed over it only once
 * the bundle is in place, so a failed run leaves the ledger as it was. A
 * run killed between the two renames leaves the pending file: the next
 * release finishes it when the bundle it belongs to is in place (its
 * manifest names the release), and removes it otherwise.
 *
 * The ledger holds the withheld figures too (the revision check needs
 * them): it is as confidential as the records and never leaves the office.
 */
#include "dfint.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sqlite3.h>

/* One figure: "cell|measure", the families behind it and its value. */
typedef struct {
    char *key;
    int64_t fam, ind;
    int published;
} entry;

typedef struct {
    entry *v;
    size_t n, cap;
} entries;

/* A release of the current series with its totals (individuals). */
typedef struct {
    long release;
    int32_t as_of;
    int published;
    int64_t total[4]; /* displaced, returned, returnees, still */
} past;

struct df__ledger {
    char *path, *pending, *lock_path;
    int lock_fd, gpkg;
    struct df__ledger_params p;
    long series, release; /* of this release */
    int32_t last_as_of;   /* the current series' last release, DF_NO_DATE when none */
    entries published;    /* every published value of every release, sorted by key */
    entries last;         /* the true figures of the current series' last release, sorted */
    entries add;          /* this release's figures */
    past *past;
    int npast;
    char fell[4][200]; /* cumulative figures that fell since the last release */
    long nfell;
    int prepared, swapped;
};

static const char *const total_measures[4] = {"displaced", "returned", "returnees", "still"};

/* ---- small helpers ------------------------------------------------------------------ */

static int push(entries *e, const char *key, int64_t fam, int64_t ind, int published)
{
    if (e->n == e->cap) {
        entry *grown = df__realloc_array(e->v, e->cap = e->cap ? 2 * e->cap : 1024, sizeof *grown);
        if (!grown) return -1;
        e->v = grown;
    }
    char *k = df__strdup(key);
    if (!k) return -1;
    e->v[e->n++] = (entry){k, fam, ind, published};
    return 0;
}

static void entries_free(entries *e)
{
    for (size_t i = 0; i < e->n; i++) free(e->v[i].key);
    free(e->v);
    *e = (entries){0};
}

static int cmp_entry(const void *a, const void *b) { return strcmp(((const entry *)a)->key, ((const entry *)b)->key); }

/* The first entry with key, or e->n. */
static size_t first_of(const entries *e, const char *key)
{
    size_t lo = 0, hi = e->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(e->v[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void make_key(char *out, size_t cap, const char *cell, const char *measure)
{
    snprintf(out, cap, "%s|%s", cell, measure);
}

static char *concat(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s", a, b);
    return s;
}

/* The series' parameters as text, in a fixed order: a release with other
 * values is not the same series (the same cell would count other things). */
enum { NPARAMS = 8 };
static const char *const param_names[NPARAMS] = {"k",     "from",         "kind",       "levels",
                                                 "flows", "origin_level", "dest_level", "origins"};

static void param_values(const struct df__ledger_params *p, char v[NPARAMS][64])
{
    snprintf(v[0], 64, "%" PRId64, p->k);
    df_date_format(p->from, v[1]);
    snprintf(v[2], 64, "%s", p->kind == DF_SNAPSHOTS ? "snapshots" : "increments");
    snprintf(v[3], 64, "%d", p->levels);
    snprintf(v[4], 64, "%d", p->flows);
    snprintf(v[5], 64, "%d", p->flows ? p->origin_level : 0);
    snprintf(v[6], 64, "%d", p->flows ? p->dest_level : 0);
    snprintf(v[7], 64, "%.60s", p->flows && p->origins ? p->origins : "all");
}

static df_status sql_error(df_ctx *ctx, sqlite3 *db, const char *path, const char *what)
{
    return df__error(ctx, DF_EIO, "ledger %s: cannot %s: %s", path, what, db ? sqlite3_errmsg(db) : "out of memory");
}

/* ---- a release a killed run left half made ------------------------------------------ */

/* The release the pending ledger adds and the bundle folder it was for. */
static int pending_release(const char *pending, long *release, long *series, char *output, size_t cap)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int ok = 0;
    if (sqlite3_open_v2(pending, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT release, series, output FROM releases ORDER BY release DESC LIMIT 1", -1, &q,
                           NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW) {
        *release = sqlite3_column_int64(q, 0), *series = sqlite3_column_int64(q, 1);
        snprintf(output, cap, "%s", (const char *)sqlite3_column_text(q, 2));
        ok = 1;
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return ok;
}

/* Does the bundle at output say it is that release of the series? */
static int bundle_is(const char *output, long release, long series)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/manifest.json", output);
    json_object *m = json_object_from_file(path), *pub, *rel, *ser;
    int yes = m && json_object_object_get_ex(m, "publish", &pub) &&
              json_object_object_get_ex(pub, "ledger_release", &rel) &&
              json_object_object_get_ex(pub, "ledger_series", &ser) && json_object_get_int64(rel) == release &&
              json_object_get_int64(ser) == series;
    json_object_put(m);
    return yes;
}

static df_status recover(df_ctx *ctx, df__ledger *l)
{
    struct stat sb;
    if (stat(l->pending, &sb) != 0) return DF_OK;
    long release = 0, series = 0;
    char output[4096] = "";
    if (pending_release(l->pending, &release, &series, output, sizeof output) && bundle_is(output, release, series)) {
        if (rename(l->pending, l->path) != 0)
            return df__error(ctx, DF_EIO, "ledger %s: cannot finish release %ld from %s: %s", l->path, release,
                             l->pending, strerror(errno));
        df__log(ctx, DF_LOG_WARN,
                "ledger %s: release %ld (bundle %s) was in place but not yet in the ledger (a run was stopped "
                "between the two): finished now",
                l->path, release, output);
    } else {
        unlink(l->pending);
        df__log(ctx, DF_LOG_WARN,
                "ledger %s: removed %s, a release whose bundle never came into place (a run was stopped)", l->path,
                l->pending);
    }
    return DF_OK;
}

/* ---- reading ----------------------------------------------------------------------------- */

static df_status load(df_ctx *ctx, df__ledger *l, int new_series)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    df_status st = DF_OK;
    if (sqlite3_open_v2(l->path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        st = sql_error(ctx, db, l->path, "open it");
        sqlite3_close(db);
        return st;
    }
    /* the current series and its last release */
    long last_release = 0;
    if (sqlite3_prepare_v2(db, "SELECT release, series, as_of FROM releases ORDER BY release DESC LIMIT 1", -1, &q,
                           NULL) != SQLITE_OK) {
        st = sql_error(ctx, db, l->path, "read it (is it a dispflow ledger?)");
        goto done;
    }
    if (sqlite3_step(q) == SQLITE_ROW) {
        last_release = sqlite3_column_int64(q, 0), l->series = sqlite3_column_int64(q, 1);
        df_date_parse((const char *)sqlite3_column_text(q, 2), &l->last_as_of);
    }
    sqlite3_finalize(q), q = NULL;
    l->release = last_release + 1;
    if (!l->series || new_series) {
        l->series++, l->last_as_of = DF_NO_DATE;
    } else { /* the same series: the same parameters */
        char want[NPARAMS][64];
        param_values(&l->p, want);
        if (sqlite3_prepare_v2(db, "SELECT key, value FROM series WHERE series = ?", -1, &q, NULL) != SQLITE_OK) {
            st = sql_error(ctx, db, l->path, "read its series");
            goto done;
        }
        sqlite3_bind_int64(q, 1, l->series);
        while (st == DF_OK && sqlite3_step(q) == SQLITE_ROW) {
            const char *key = (const char *)sqlite3_column_text(q, 0), *value = (const char *)sqlite3_column_text(q, 1);
            for (int i = 0; i < NPARAMS; i++)
                if (!strcmp(key, param_names[i]) && strcmp(value, want[i]))
                    st = df__error(ctx, DF_EINVAL,
                                   "ledger %s: series %ld was published with %s = %s, this release has %s = %s: "
                                   "its figures would not be the same cells; run with --new-series (or [publish] "
                                   "new_series = yes) to start a new series on purpose",
                                   l->path, l->series, key, value, key, want[i]);
        }
        sqlite3_finalize(q), q = NULL;
        if (st != DF_OK) goto done;
        if (l->p.as_of <= l->last_as_of) {
            char a[16], b[16];
            df_date_format(l->p.as_of, a), df_date_format(l->last_as_of, b);
            st = df__error(ctx, DF_EINVAL,
                           "ledger %s: this release is as of %s, not after release %ld of the series (as of %s): a "
                           "release revises no earlier one; run with --new-series (or [publish] new_series = yes) to "
                           "start a new series on purpose",
                           l->path, a, last_release, b);
            goto done;
        }
    }
    /* every value published so far, in any series: differences against them are figures */
    if (sqlite3_prepare_v2(db,
                           "SELECT DISTINCT cell, measure, families, individuals FROM figures WHERE published = 1 "
                           "ORDER BY cell, measure",
                           -1, &q, NULL) != SQLITE_OK) {
        st = sql_error(ctx, db, l->path, "read its figures");
        goto done;
    }
    char key[256];
    while (st == DF_OK && sqlite3_step(q) == SQLITE_ROW) {
        make_key(key, sizeof key, (const char *)sqlite3_column_text(q, 0), (const char *)sqlite3_column_text(q, 1));
        if (push(&l->published, key, sqlite3_column_int64(q, 2), sqlite3_column_int64(q, 3), 1) != 0)
            st = df__error(ctx, DF_ENOMEM, "out of memory");
    }
    sqlite3_finalize(q), q = NULL;
    if (st != DF_OK || l->last_as_of == DF_NO_DATE) goto done;
    /* the current series: its last release's figures, and every release's totals */
    if (sqlite3_prepare_v2(db, "SELECT cell, measure, families, individuals FROM figures WHERE release = ?", -1, &q,
                           NULL) != SQLITE_OK) {
        st = sql_error(ctx, db, l->path, "read its figures");
        goto done;
    }
    sqlite3_bind_int64(q, 1, last_release);
    while (st == DF_OK && sqlite3_step(q) == SQLITE_ROW) {
        make_key(key, sizeof key, (const char *)sqlite3_column_text(q, 0), (const char *)sqlite3_column_text(q, 1));
        if (push(&l->last, key, sqlite3_column_int64(q, 2), sqlite3_column_int64(q, 3), 0) != 0)
            st = df__error(ctx, DF_ENOMEM, "out of memory");
    }
    sqlite3_finalize(q), q = NULL;
    if (st != DF_OK) goto done;
    if (sqlite3_prepare_v2(db,
                           "SELECT r.release, r.as_of, f.measure, f.individuals, f.published FROM releases r JOIN "
                           "figures f ON f.release = r.release AND f.cell = 'total' WHERE r.series = ? ORDER BY "
                           "r.release",
                           -1, &q, NULL) != SQLITE_OK) {
        st = sql_error(ctx, db, l->path, "read its releases");
        goto done;
    }
    sqlite3_bind_int64(q, 1, l->series);
    while (st == DF_OK && sqlite3_step(q) == SQLITE_ROW) {
        long release = sqlite3_column_int64(q, 0);
        if (!l->npast || l->past[l->npast - 1].release != release) {
            past *grown = df__realloc_array(l->past, (size_t)l->npast + 1, sizeof *grown);
            if (!grown) {
                st = df__error(ctx, DF_ENOMEM, "out of memory");
                break;
            }
            l->past = grown;
            past *p = &l->past[l->npast++];
            *p = (past){.release = release, .published = 1};
            df_date_parse((const char *)sqlite3_column_text(q, 1), &p->as_of);
        }
        past *p = &l->past[l->npast - 1];
        const char *measure = (const char *)sqlite3_column_text(q, 2);
        for (int m = 0; m < 4; m++)
            if (!strcmp(measure, total_measures[m])) p->total[m] = sqlite3_column_int64(q, 3);
        p->published &= sqlite3_column_int(q, 4) != 0; /* every total of the release published */
    }
done:
    sqlite3_finalize(q);
    sqlite3_close(db);
    return st;
}

df_status df__ledger_open(df_ctx *ctx, const char *path, const struct df__ledger_params *p, int new_series,
                          df__ledger **out)
{
    *out = NULL;
    df__ledger *l = calloc(1, sizeof *l);
    if (!l) return df__error(ctx, DF_ENOMEM, "out of memory");
    l->lock_fd = -1;
    l->p = *p;
    l->last_as_of = DF_NO_DATE;
    l->path = df__strdup(path), l->pending = concat(path, ".pending"), l->lock_path = concat(path, ".lock");
    size_t n = strlen(path);
    l->gpkg = n > 5 && !strcasecmp(path + n - 5, ".gpkg");
    if (!l->path || !l->pending || !l->lock_path) {
        df__ledger_free(l);
        return df__error(ctx, DF_ENOMEM, "out of memory");
    }
    /* one release of a series at a time */
    l->lock_fd = open(l->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    df_status st = DF_OK;
    if (l->lock_fd < 0)
        st = df__error(ctx, DF_EIO, "ledger %s: cannot create the lock file %s: %s", path, l->lock_path,
                       strerror(errno));
    else if (flock(l->lock_fd, LOCK_EX | LOCK_NB) != 0)
        st = df__error(ctx, DF_EIO, "ledger %s: another dispflow run is making a release of this series (it holds %s)",
                       path, l->lock_path);
    if (st == DF_OK) st = recover(ctx, l);
    struct stat sb;
    if (st == DF_OK && stat(path, &sb) == 0)
        st = load(ctx, l, new_series);
    else if (st == DF_OK)
        l->series = 1, l->release = 1; /* the series begins */
    if (st != DF_OK) {
        df__ledger_free(l);
        return st;
    }
    qsort(l->published.v, l->published.n, sizeof *l->published.v, cmp_entry);
    qsort(l->last.v, l->last.n, sizeof *l->last.v, cmp_entry);
    *out = l;
    return DF_OK;
}

void df__ledger_free(df__ledger *l)
{
    if (!l) return;
    if (l->prepared && !l->swapped && l->pending) unlink(l->pending); /* the bundle never came: undo */
    if (l->lock_fd >= 0) close(l->lock_fd);
    entries_free(&l->published), entries_free(&l->last), entries_free(&l->add);
    free(l->past), free(l->path), free(l->pending), free(l->lock_path);
    free(l);
}

long df__ledger_release(const df__ledger *l) { return l->release; }
long df__ledger_series(const df__ledger *l) { return l->series; }

/* ---- the rule ---------------------------------------------------------------------------- */

int df__ledger_small_change(const df__ledger *l, const char *cell, const char *measure, int64_t families,
                            int64_t individuals)
{
    char key[256];
    make_key(key, sizeof key, cell, measure);
    for (size_t i = first_of(&l->published, key); i < l->published.n && !strcmp(l->published.v[i].key, key); i++) {
        int64_t d = families - l->published.v[i].fam;
        if (d < 0) d = -d;
        /* the same families but other individuals is a change on fewer than k families too */
        if ((d > 0 || individuals != l->published.v[i].ind) && d < l->p.k) return 1;
    }
    return 0;
}

int df__ledger_add(df__ledger *l, const char *cell, const char *measure, int64_t families, int64_t individuals,
                   int published, int cumulative)
{
    char key[256];
    make_key(key, sizeof key, cell, measure);
    if (cumulative && l->p.kind != DF_SNAPSHOTS) { /* a count to a date fell: the records were revised */
        size_t i = first_of(&l->last, key);
        if (i < l->last.n && !strcmp(l->last.v[i].key, key) &&
            (families < l->last.v[i].fam || individuals < l->last.v[i].ind)) {
            if (l->nfell < 4)
                snprintf(l->fell[l->nfell], sizeof l->fell[0], "%s %s fell from %" PRId64 " to %" PRId64 " individuals",
                         cell, measure, l->last.v[i].ind, individuals);
            l->nfell++;
        }
    }
    return push(&l->add, key, families, individuals, published);
}

df_status df__ledger_check(df_ctx *ctx, df__ledger *l, const df_join *headline)
{
    char cells[1200] = "";
    long n = l->nfell;
    for (long i = 0; i < l->nfell && i < 4; i++)
        snprintf(cells + strlen(cells), sizeof cells - strlen(cells), "%s%s", i ? "; " : "", l->fell[i]);
    /* the totals as of each earlier release's date, counted from the records now */
    for (int r = 0; r < l->npast; r++) {
        int32_t snap;
        df_figures t = df__join_totals_as_of(headline, l->past[r].as_of, &snap);
        int64_t now[4] = {t.displaced, t.returned, t.returnees, t.still_displaced};
        for (int m = 0; m < 4; m++) {
            if (now[m] == l->past[r].total[m]) continue;
            if (n++ < 6) {
                char d[16];
                df_date_format(l->past[r].as_of, d);
                snprintf(cells + strlen(cells), sizeof cells - strlen(cells),
                         "%stotal %s as of %s (release %ld): %" PRId64 " in the ledger, %" PRId64 " in the records now",
                         cells[0] ? "; " : "", total_measures[m], d, l->past[r].release, l->past[r].total[m], now[m]);
            }
        }
    }
    if (!n) return DF_OK;
    return df__error(ctx, DF_EINVAL,
                     "ledger %s: this release cannot be made consistent with series %ld (were earlier rounds "
                     "revised?): %s%s (%ld figure%s in all); run with --new-series (or [publish] new_series = yes) "
                     "to start a new series on purpose",
                     l->path, l->series, cells, n > 6 ? " ..." : "", n, n == 1 ? "" : "s");
}

int df__ledger_release_before(const df__ledger *l, int32_t day, int32_t *as_of, int *published)
{
    for (int r = l->npast - 1; r >= 0; r--)
        if (l->past[r].as_of <= day) {
            *as_of = l->past[r].as_of, *published = l->past[r].published;
            return 1;
        }
    return 0;
}

/* ---- writing ----------------------------------------------------------------------------- */

static const char *const schema =
    "CREATE TABLE IF NOT EXISTS series (fid INTEGER PRIMARY KEY AUTOINCREMENT, series INTEGER NOT NULL, key TEXT "
    "NOT NULL, value TEXT NOT NULL, UNIQUE (series, key));"
    "CREATE TABLE IF NOT EXISTS releases (fid INTEGER PRIMARY KEY AUTOINCREMENT, release INTEGER NOT NULL UNIQUE, "
    "series INTEGER NOT NULL, as_of TEXT NOT NULL, output TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS figures (fid INTEGER PRIMARY KEY AUTOINCREMENT, release INTEGER NOT NULL, cell TEXT "
    "NOT NULL, measure TEXT NOT NULL, families INTEGER NOT NULL, individuals INTEGER NOT NULL, published INTEGER "
    "NOT NULL, UNIQUE (release, cell, measure));";

/* A GeoPackage of attribute tables (OGC 12-128r18): the three tables open
 * in QGIS and ogrinfo as layers. */
static const char *const gpkg_schema =
    "PRAGMA application_id = 1196444487; PRAGMA user_version = 10300;"
    "CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, organization "
    "TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);"
    "INSERT INTO gpkg_spatial_ref_sys VALUES ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', "
    "'undefined cartesian coordinate reference system'), ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', "
    "'undefined geographic coordinate reference system'), ('WGS 84 geodetic', 4326, 'EPSG', 4326, "
    "'GEOGCS[\"WGS 84\",DATUM[\"WGS_1984\",SPHEROID[\"WGS 84\",6378137,298.257223563,AUTHORITY[\"EPSG\",\"7030\"]],"
    "AUTHORITY[\"EPSG\",\"6326\"]],PRIMEM[\"Greenwich\",0,AUTHORITY[\"EPSG\",\"8901\"]],UNIT[\"degree\","
    "0.0174532925199433,AUTHORITY[\"EPSG\",\"9122\"]],AXIS[\"Latitude\",NORTH],AXIS[\"Longitude\",EAST],"
    "AUTHORITY[\"EPSG\",\"4326\"]]', 'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid');"
    "CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT "
    "UNIQUE, description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT "
    "(strftime('%Y-%m-%dT%H:%M:%fZ','now')), min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id "
    "INTEGER, CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));"
    "CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name "
    "TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL, CONSTRAINT pk_geom_cols "
    "PRIMARY KEY (table_name, column_name));"
    "INSERT INTO gpkg_contents (table_name, data_type, identifier, description) VALUES ('series', 'attributes', "
    "'series', 'the parameters of each series'), ('releases', 'attributes', 'releases', 'the releases'), "
    "('figures', 'attributes', 'figures', 'every figure of every release, published or withheld');";

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    char buf[65536];
    size_t n;
    int ok = in && out;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, n, out) == n;
    ok = ok && !ferror(in);
    if (in) fclose(in);
    if (out && fclose(out) != 0) ok = 0;
    return ok ? 0 : -1;
}

/* The bundle's folder as an absolute path: the pending release names it. */
static void absolute(const char *path, char *out, size_t cap)
{
    char cwd[4096];
    if (path[0] == '/' || !getcwd(cwd, sizeof cwd))
        snprintf(out, cap, "%s", path);
    else
        snprintf(out, cap, "%s/%s", cwd, path);
}

df_status df__ledger_prepare(df_ctx *ctx, df__ledger *l)
{
    struct stat sb;
    int exists = stat(l->path, &sb) == 0;
    unlink(l->pending);
    if (exists && copy_file(l->path, l->pending) != 0)
        return df__error(ctx, DF_EIO, "ledger %s: cannot copy it to %s: %s", l->path, l->pending, strerror(errno));
    l->prepared = 1; /* from here on, a failure removes the pending file */
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    df_status st = DF_OK;
    char *err = NULL, d[16], output[4200];
    if (sqlite3_open_v2(l->pending, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        st = sql_error(ctx, db, l->pending, "create it");
        goto done;
    }
    if ((!exists && l->gpkg && sqlite3_exec(db, gpkg_schema, NULL, NULL, &err) != SQLITE_OK) ||
        sqlite3_exec(db, schema, NULL, NULL, &err) != SQLITE_OK ||
        sqlite3_exec(db, "BEGIN", NULL, NULL, &err) != SQLITE_OK) {
        st = df__error(ctx, DF_EIO, "ledger %s: cannot write it: %s", l->pending, err ? err : "?");
        goto done;
    }
    /* the series' parameters, when it begins */
    char values[NPARAMS][64];
    param_values(&l->p, values);
    if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO series (series, key, value) VALUES (?, ?, ?)", -1, &q, NULL) !=
        SQLITE_OK) {
        st = sql_error(ctx, db, l->pending, "write it");
        goto done;
    }
    for (int i = 0; i < NPARAMS && st == DF_OK; i++) {
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, l->series);
        sqlite3_bind_text(q, 2, param_names[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, values[i], -1, SQLITE_TRANSIENT);
        if (sqlite3_step(q) != SQLITE_DONE) st = sql_error(ctx, db, l->pending, "write its series");
    }
    sqlite3_finalize(q), q = NULL;
    if (st != DF_OK) goto done;
    df_date_format(l->p.as_of, d);
    absolute(l->p.output, output, sizeof output);
    if (sqlite3_prepare_v2(db, "INSERT INTO releases (release, series, as_of, output) VALUES (?, ?, ?, ?)", -1, &q,
                           NULL) != SQLITE_OK) {
        st = sql_error(ctx, db, l->pending, "write it");
        goto done;
    }
    sqlite3_bind_int64(q, 1, l->release), sqlite3_bind_int64(q, 2, l->series);
    sqlite3_bind_text(q, 3, d, -1, SQLITE_TRANSIENT), sqlite3_bind_text(q, 4, output, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(q) != SQLITE_DONE) st = sql_error(ctx, db, l->pending, "write its release");
    sqlite3_finalize(q), q = NULL;
    if (st != DF_OK) goto done;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO figures (release, cell, measure, families, individuals, published) VALUES "
                           "(?, ?, ?, ?, ?, ?)",
                           -1, &q, NULL) != SQLITE_OK) {
        st = sql_error(ctx, db, l->pending, "write it");
        goto done;
    }
    for (size_t i = 0; i < l->add.n && st == DF_OK; i++) {
        const entry *e = &l->add.v[i];
        const char *bar = strrchr(e->key, '|');
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, l->release);
        sqlite3_bind_text(q, 2, e->key, (int)(bar - e->key), SQLITE_TRANSIENT);
        sqlite3_bind_text(q, 3, bar + 1, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(q, 4, e->fam), sqlite3_bind_int64(q, 5, e->ind), sqlite3_bind_int(q, 6, e->published);
        if (sqlite3_step(q) != SQLITE_DONE) st = sql_error(ctx, db, l->pending, "write its figures");
    }
    sqlite3_finalize(q), q = NULL;
    if (st == DF_OK && sqlite3_exec(db, "COMMIT", NULL, NULL, &err) != SQLITE_OK)
        st = df__error(ctx, DF_EIO, "ledger %s: cannot commit: %s", l->pending, err ? err : "?");
done:
    sqlite3_free(err);
    sqlite3_finalize(q);
    if (db && sqlite3_close(db) != SQLITE_OK && st == DF_OK) st = sql_error(ctx, db, l->pending, "close it");
    if (st == DF_OK) { /* on disk before the bundle is swapped in */
        int fd = open(l->pending, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) != 0)
            st = df__error(ctx, DF_EIO, "ledger %s: cannot sync: %s", l->pending, strerror(errno));
        if (fd >= 0) close(fd);
    }
    return st;
}

df_status df__ledger_commit(df_ctx *ctx, df__ledger *l)
{
    l->swapped = 1; /* the bundle is out: the pending release is kept whatever happens now */
    if (rename(l->pending, l->path) != 0)
        return df__error(ctx, DF_EIO,
                         "ledger %s: the bundle is in place but the ledger could not take release %ld (%s); %s is "
                         "kept and the next release of the series finishes it",
                         l->path, l->release, strerror(errno), l->pending);
    return DF_OK;
}
