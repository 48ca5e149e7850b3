/*
 * rtree.c — a GeoPackage spatial index (the gpkg_rtree_index extension)
 * built once, in bulk, after a layer is written.
 *
 * GDAL 3.6 fills a layer's index with one SQLite R*-tree insert per
 * feature: about 17 s for a million points, most of a whole run. Here the
 * boxes are packed bottom-up instead (Sort-Tile-Recursive: slices along x,
 * each sorted along y, cut into full nodes) and the R-tree's three shadow
 * tables are written directly, in SQLite's node format: per node a 2-byte
 * depth (read from the root only), a 2-byte cell count, then cells of an
 * 8-byte id and four 4-byte floats, all big-endian; node 1 is the root.
 * The virtual table, its triggers (the GeoPackage standard's, as GDAL writes
 * them) and the gpkg_extensions row are the same as GDAL's, so QGIS and GDAL
 * use the index and keep it current on edits. Same boxes, same bytes.
 */
#include "df_io.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

typedef struct {
    int64_t id;
    union {
        struct {
            float minx, maxx, miny, maxy; /* the box as the R-tree stores it: widened to float */
        };
        int64_t node; /* once its leaf is written: the leaf's number, for _rowid */
    };
} box;

struct df__rtree {
    box *b;
    size_t n, cap;
};

df__rtree *df__rtree_new(void) { return calloc(1, sizeof(df__rtree)); }

void df__rtree_free(df__rtree *t)
{
    if (!t) return;
    free(t->b);
    free(t);
}

size_t df__rtree_count(const df__rtree *t) { return t ? t->n : 0; }

/* A float no larger (down) or no smaller (up) than d: the box must hold the
 * geometry after the narrowing, as SQLite's own rounding makes sure. */
static float down(double d)
{
    float f = (float)d;
    return (double)f > d ? nextafterf(f, -INFINITY) : f;
}

static float up(double d)
{
    float f = (float)d;
    return (double)f < d ? nextafterf(f, INFINITY) : f;
}

int df__rtree_add(df__rtree *t, int64_t id, double minx, double miny, double maxx, double maxy)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4096;
        box *b = realloc(t->b, cap * sizeof *b);
        if (!b) return 0;
        t->b = b, t->cap = cap;
    }
    t->b[t->n++] = (box){.id = id, .minx = down(minx), .maxx = up(maxx), .miny = down(miny), .maxy = up(maxy)};
    return 1;
}

/* ---- packing ---------------------------------------------------------------- */

/* Centres compared in doubles, ties by id: the order (and so the file) does
 * not depend on the sort's. qsort with these when memory is short. */
static int by_x(const void *pa, const void *pb)
{
    const box *a = pa, *b = pb;
    double ca = (double)a->minx + a->maxx, cb = (double)b->minx + b->maxx;
    return ca < cb ? -1 : ca > cb ? 1 : (a->id > b->id) - (a->id < b->id);
}

static int by_y(const void *pa, const void *pb)
{
    const box *a = pa, *b = pb;
    double ca = (double)a->miny + a->maxy, cb = (double)b->miny + b->maxy;
    return ca < cb ? -1 : ca > cb ? 1 : (a->id > b->id) - (a->id < b->id);
}

static int by_id(const void *pa, const void *pb)
{
    const box *a = pa, *b = pb;
    return (a->id > b->id) - (a->id < b->id);
}

enum { SORT_X, SORT_Y, SORT_ID };

/* A key whose unsigned order is the order of by_x (the centre), by_y or
 * by_id: a double's bits with the sign bit flipped, or all bits when
 * negative; -0 as +0 (they compare equal). */
static uint64_t sort_key(const box *e, int by)
{
    if (by == SORT_ID) return (uint64_t)e->id ^ (UINT64_C(1) << 63);
    double c = by == SORT_X ? (double)e->minx + e->maxx : (double)e->miny + e->maxy;
    uint64_t u;
    if (c == 0) c = 0;
    memcpy(&u, &c, sizeof u);
    return u >> 63 ? ~u : u | (UINT64_C(1) << 63);
}

/* Stable radix sort of b (n boxes) by the key of by, a byte at a time from
 * the lowest, skipping the bytes every key shares; tmp holds n boxes. The
 * result is in b. */
static void radix_sort(box *b, box *tmp, size_t n, int by)
{
    uint64_t all = ~UINT64_C(0), any = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t k = sort_key(&b[i], by);
        all &= k, any |= k;
    }
    box *from = b, *to = tmp;
    for (int shift = 0; shift < 64; shift += 8) {
        if (!(((all ^ any) >> shift) & 0xFF)) continue; /* the same byte in every key */
        size_t at[256] = {0};
        for (size_t i = 0; i < n; i++) at[(sort_key(&from[i], by) >> shift) & 0xFF]++;
        for (size_t d = 0, sum = 0; d < 256; d++) {
            size_t c = at[d];
            at[d] = sum, sum += c;
        }
        for (size_t i = 0; i < n; i++) to[at[(sort_key(&from[i], by) >> shift) & 0xFF]++] = from[i];
        box *t = from;
        from = to, to = t;
    }
    if (from != b) memcpy(b, from, n * sizeof *b);
}

/* b sorted as qsort with by_x, by_y or by_id would (the keys differ or the
 * ids do, so any right sort gives the same order): by the id, then, stably,
 * by the centre. */
static void sort_boxes(box *b, box *tmp, size_t n, int by)
{
    static int (*const cmp[])(const void *, const void *) = {by_x, by_y, by_id};
    if (!tmp) { /* out of memory for the radix sort's copy: the slower sort */
        qsort(b, n, sizeof *b, cmp[by]);
        return;
    }
    radix_sort(b, tmp, n, SORT_ID);
    if (by != SORT_ID) radix_sort(b, tmp, n, by);
}

/* Sort-Tile-Recursive order of n boxes for nodes of m cells: consecutive
 * runs of m are the nodes. */
static void str_order(box *b, size_t n, size_t m)
{
    size_t nodes = (n + m - 1) / m;
    size_t slices = (size_t)ceil(sqrt((double)nodes));
    size_t per = slices * m; /* boxes per vertical slice */
    box *tmp = malloc(n * sizeof *tmp);
    sort_boxes(b, tmp, n, SORT_X);
    for (size_t s = 0; s < n; s += per) sort_boxes(b + s, tmp, n - s < per ? n - s : per, SORT_Y);
    free(tmp);
}

static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)(v >> 8), p[1] = (unsigned char)v; }

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) p[i] = (unsigned char)v, v >>= 8;
}

static void put_float(unsigned char *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    for (int i = 3; i >= 0; i--) p[i] = (unsigned char)u, u >>= 8;
}

/* ---- writing ---------------------------------------------------------------- */

typedef struct {
    df_ctx *ctx;
    sqlite3 *db;
    const char *path;
    sqlite3_stmt *node, *rowid, *rowids, *parent; /* rowids: ROWID_BATCH rows a statement */
} writer;

#define ROWID_BATCH 128

static df_status sql_fail(writer *w, const char *what)
{
    return df__error(w->ctx, DF_EIO, "%s: cannot write the spatial index (%s): %s", w->path, what,
                     sqlite3_errmsg(w->db));
}

static int step(sqlite3_stmt *q)
{
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    return rc == SQLITE_DONE;
}

/* _rowid in id order: appended to its B-tree, where the leaves' order
 * scatters the inserts over the whole table (2.5 s a million, not 0.3);
 * ROWID_BATCH rows a statement (each statement's start costs as much as
 * its row). */
static df_status write_rowids(writer *w, box *b, size_t n)
{
    box *tmp = malloc(n * sizeof *tmp);
    sort_boxes(b, tmp, n, SORT_ID);
    free(tmp);
    size_t i = 0;
    for (; i + ROWID_BATCH <= n; i += ROWID_BATCH) {
        for (int k = 0; k < ROWID_BATCH; k++) {
            sqlite3_bind_int64(w->rowids, 2 * k + 1, b[i + (size_t)k].id);
            sqlite3_bind_int64(w->rowids, 2 * k + 2, b[i + (size_t)k].node);
        }
        if (!step(w->rowids)) return sql_fail(w, "rowid");
    }
    for (; i < n; i++) {
        sqlite3_bind_int64(w->rowid, 1, b[i].id);
        sqlite3_bind_int64(w->rowid, 2, b[i].node);
        if (!step(w->rowid)) return sql_fail(w, "rowid");
    }
    return DF_OK;
}

/* Write one level: the boxes b (already in STR order) cut into nodes of m
 * cells numbered from first; cells point at children (ids) or features.
 * The node boxes go to up (one per node, id = its number), the parents of
 * the level below are set by the caller through the ids. */
static df_status write_level(writer *w, box *b, size_t n, size_t m, int64_t first, int depth, int leaf,
                             unsigned char *blob, int size, box *up_boxes)
{
    for (size_t k = 0, node = 0; k < n; k += m, node++) {
        size_t cells = n - k < m ? n - k : m;
        int64_t no = first + (int64_t)node;
        memset(blob, 0, (size_t)size);
        put16(blob, no == 1 ? (unsigned)depth : 0);
        put16(blob + 2, (unsigned)cells);
        box nb = {.id = no, .minx = INFINITY, .maxx = -INFINITY, .miny = INFINITY, .maxy = -INFINITY};
        for (size_t c = 0; c < cells; c++) {
            const box *e = &b[k + c];
            unsigned char *p = blob + 4 + 24 * c;
            put64(p, (uint64_t)e->id);
            put_float(p + 8, e->minx), put_float(p + 12, e->maxx);
            put_float(p + 16, e->miny), put_float(p + 20, e->maxy);
            nb.minx = fminf(nb.minx, e->minx), nb.maxx = fmaxf(nb.maxx, e->maxx);
            nb.miny = fminf(nb.miny, e->miny), nb.maxy = fmaxf(nb.maxy, e->maxy);
            /* the map from a cell to its node: features in _rowid (kept to
             * be written in id order), nodes in _parent */
            if (leaf) {
                b[k + c].node = no; /* its box is written: the leaf's number in its place */
                continue;
            }
            sqlite3_bind_int64(w->parent, 1, e->id);
            sqlite3_bind_int64(w->parent, 2, no);
            if (!step(w->parent)) return sql_fail(w, "parent");
        }
        sqlite3_bind_int64(w->node, 1, no);
        sqlite3_bind_blob(w->node, 2, blob, size, SQLITE_STATIC);
        if (!step(w->node)) return sql_fail(w, "node");
        if (up_boxes) up_boxes[node] = nb;
    }
    return DF_OK;
}

/* Quoted names of the index and its triggers: "rtree_T_C" and friends. */
#define TRIGGER_VALUES                                                                                                 \
    "VALUES (NEW.\"%w\",ST_MinX(NEW.\"%w\"), ST_MaxX(NEW.\"%w\"),ST_MinY(NEW.\"%w\"), ST_MaxY(NEW.\"%w\"))"

static df_status make_table(writer *w, const char *table, const char *col, const char *fid, int *node_size)
{
    /* the standard's triggers, word for word as GDAL 3.6 writes them */
    char *sql = sqlite3_mprintf(
        "CREATE VIRTUAL TABLE \"rtree_%w_%w\" USING rtree(id, minx, maxx, miny, maxy);"
        "CREATE TRIGGER \"rtree_%w_%w_insert\" AFTER INSERT ON \"%w\" WHEN (new.\"%w\" NOT NULL AND NOT "
        "ST_IsEmpty(NEW.\"%w\")) BEGIN INSERT OR REPLACE INTO \"rtree_%w_%w\" " TRIGGER_VALUES "; END;"
        "CREATE TRIGGER \"rtree_%w_%w_update1\" AFTER UPDATE OF \"%w\" ON \"%w\" WHEN OLD.\"%w\" = NEW.\"%w\" AND "
        "(NEW.\"%w\" NOTNULL AND NOT ST_IsEmpty(NEW.\"%w\")) BEGIN INSERT OR REPLACE INTO "
        "\"rtree_%w_%w\" " TRIGGER_VALUES "; END;"
        "CREATE TRIGGER \"rtree_%w_%w_update2\" AFTER UPDATE OF \"%w\" ON \"%w\" WHEN OLD.\"%w\" = NEW.\"%w\" AND "
        "(NEW.\"%w\" ISNULL OR ST_IsEmpty(NEW.\"%w\")) BEGIN DELETE FROM \"rtree_%w_%w\" WHERE id = OLD.\"%w\"; END;"
        "CREATE TRIGGER \"rtree_%w_%w_update3\" AFTER UPDATE ON \"%w\" WHEN OLD.\"%w\" != NEW.\"%w\" AND "
        "(NEW.\"%w\" NOTNULL AND NOT ST_IsEmpty(NEW.\"%w\")) BEGIN DELETE FROM \"rtree_%w_%w\" WHERE id = OLD.\"%w\"; "
        "INSERT OR REPLACE INTO \"rtree_%w_%w\" " TRIGGER_VALUES "; END;"
        "CREATE TRIGGER \"rtree_%w_%w_update4\" AFTER UPDATE ON \"%w\" WHEN OLD.\"%w\" != NEW.\"%w\" AND "
        "(NEW.\"%w\" ISNULL OR ST_IsEmpty(NEW.\"%w\")) BEGIN DELETE FROM \"rtree_%w_%w\" WHERE id IN (OLD.\"%w\", "
        "NEW.\"%w\"); END;"
        "CREATE TRIGGER \"rtree_%w_%w_delete\" AFTER DELETE ON \"%w\" WHEN old.\"%w\" NOT NULL BEGIN DELETE FROM "
        "\"rtree_%w_%w\" WHERE id = OLD.\"%w\"; END;"
        "CREATE TABLE IF NOT EXISTS gpkg_extensions (table_name TEXT,column_name TEXT,extension_name TEXT NOT "
        "NULL,definition TEXT NOT NULL,scope TEXT NOT NULL,CONSTRAINT ge_tce UNIQUE "
        "(table_name,column_name,extension_name));"
        "INSERT INTO gpkg_extensions (table_name,column_name,extension_name,definition,scope) VALUES "
        "('%q', '%q', 'gpkg_rtree_index', 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only');",
        /* the virtual table */
        table, col,
        /* insert */
        table, col, table, col, col, table, col, fid, col, col, col, col,
        /* update1 */
        table, col, col, table, fid, fid, col, col, table, col, fid, col, col, col, col,
        /* update2 */
        table, col, col, table, fid, fid, col, col, table, col, fid,
        /* update3 */
        table, col, table, fid, fid, col, col, table, col, fid, table, col, fid, col, col, col, col,
        /* update4 */
        table, col, table, fid, fid, col, col, table, col, fid, fid,
        /* delete */
        table, col, table, col, table, col, fid,
        /* the extension */
        table, col);
    if (!sql) return df__error(w->ctx, DF_ENOMEM, "out of memory");
    int rc = sqlite3_exec(w->db, sql, NULL, NULL, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return sql_fail(w, "create");
    /* the node size SQLite chose for this page size, from the empty root it wrote */
    sqlite3_stmt *q = NULL;
    sql = sqlite3_mprintf("SELECT length(data) FROM \"rtree_%w_%w_node\" WHERE nodeno = 1", table, col);
    rc = sql ? sqlite3_prepare_v2(w->db, sql, -1, &q, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    *node_size = rc == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : 0;
    sqlite3_finalize(q);
    if (*node_size < 4 + 24 * 2) return sql_fail(w, "root node");
    return DF_OK;
}

static df_status prepare(writer *w, sqlite3_stmt **q, const char *fmt, const char *table, const char *col)
{
    char *sql = sqlite3_mprintf(fmt, table, col);
    int rc = sql ? sqlite3_prepare_v2(w->db, sql, -1, q, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    return rc == SQLITE_OK ? DF_OK : sql_fail(w, "prepare");
}

/* "INSERT INTO ..._rowid VALUES (?, ?),(?, ?),...": ROWID_BATCH rows. */
static df_status prepare_rowids(writer *w, const char *table, const char *col)
{
    char values[ROWID_BATCH * 7 + 1];
    for (int k = 0; k < ROWID_BATCH; k++) memcpy(values + 7 * k, k ? ",(?, ?)" : "(?, ?) ", 7);
    values[7 * ROWID_BATCH] = '\0';
    char *sql = sqlite3_mprintf("INSERT INTO \"rtree_%w_%w_rowid\" VALUES %s", table, col, values);
    int rc = sql ? sqlite3_prepare_v2(w->db, sql, -1, &w->rowids, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    return rc == SQLITE_OK ? DF_OK : sql_fail(w, "prepare");
}

static df_status fill(writer *w, df__rtree *t, const char *table, const char *col, int size)
{
    df_status st;
    if ((st = prepare(w, &w->node, "INSERT OR REPLACE INTO \"rtree_%w_%w_node\" VALUES (?, ?)", table, col)) ||
        (st = prepare(w, &w->rowid, "INSERT INTO \"rtree_%w_%w_rowid\" VALUES (?, ?)", table, col)) ||
        (st = prepare_rowids(w, table, col)) ||
        (st = prepare(w, &w->parent, "INSERT INTO \"rtree_%w_%w_parent\" VALUES (?, ?)", table, col)))
        return st;
    if (t->n == 0) return DF_OK; /* the empty root SQLite wrote */
    size_t m = (size_t)(size - 4) / 24;
    /* the levels' node counts, leaves first, and the depth */
    size_t count[64];
    int levels = 0;
    for (size_t n = t->n; levels == 0 || count[levels - 1] > 1; n = count[levels - 1])
        count[levels++] = (n + m - 1) / m;
    unsigned char *blob = malloc((size_t)size);
    box *cur = t->b, *next = NULL;
    size_t n = t->n;
    st = blob ? DF_OK : df__error(w->ctx, DF_ENOMEM, "out of memory");
    /* numbers from the root down: the root is node 1, then each level below */
    int64_t first[64];
    first[levels - 1] = 1;
    for (int l = levels - 2; l >= 0; l--) first[l] = first[l + 1] + (int64_t)count[l + 1];
    for (int l = 0; st == DF_OK && l < levels; l++) {
        str_order(cur, n, m);
        next = l + 1 < levels ? malloc(count[l] * sizeof *next) : NULL;
        if (l + 1 < levels && !next) {
            st = df__error(w->ctx, DF_ENOMEM, "out of memory");
            break;
        }
        st = write_level(w, cur, n, m, first[l], levels - 1, l == 0, blob, size, next);
        if (cur != t->b) free(cur);
        cur = next, n = count[l];
    }
    if (cur != t->b) free(cur);
    if (st == DF_OK) st = write_rowids(w, t->b, t->n); /* the boxes now hold their leaves */
    free(blob);
    return st;
}

df_status df__rtree_write(df_ctx *ctx, df__rtree *t, const char *gpkg, const char *table)
{
    writer w = {ctx, NULL, gpkg, NULL, NULL, NULL, NULL};
    df_status st = DF_OK;
    char col[256] = "", fid[256] = "fid";
    if (sqlite3_open_v2(gpkg, &w.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        st = sql_fail(&w, "open");
        goto done;
    }
    /* the geometry column and the primary key, as the layer was made */
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(w.db, "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", -1, &q, NULL) ==
            SQLITE_OK &&
        sqlite3_bind_text(q, 1, table, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        snprintf(col, sizeof col, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q), q = NULL;
    char *sql = sqlite3_mprintf("SELECT name FROM pragma_table_info('%q') WHERE pk = 1", table);
    if (sql && sqlite3_prepare_v2(w.db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        snprintf(fid, sizeof fid, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_free(sql);
    if (!col[0]) {
        st = df__error(ctx, DF_EIO, "%s: no geometry column for layer %s", gpkg, table);
        goto done;
    }
    int size = 0;
    /* a page cache of 64 MiB, not SQLite's 2 (as for the layer's rows); the
     * rollback journal in memory and no fsync per commit: the file is new in
     * the run's temporary folder (a failed run removes it), and is put on
     * the disk once, below, before the bundle is swapped into place */
    if (sqlite3_exec(w.db, "PRAGMA cache_size = -65536; PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF; BEGIN",
                     NULL, NULL, NULL) != SQLITE_OK)
        st = sql_fail(&w, "begin");
    if (st == DF_OK) st = make_table(&w, table, col, fid, &size);
    if (st == DF_OK) st = fill(&w, t, table, col, size);
    sqlite3_finalize(w.node), sqlite3_finalize(w.rowid), sqlite3_finalize(w.rowids), sqlite3_finalize(w.parent);
    if (st == DF_OK && sqlite3_exec(w.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) st = sql_fail(&w, "commit");
done:
    if (w.db && st != DF_OK) sqlite3_exec(w.db, "ROLLBACK", NULL, NULL, NULL);
    if (w.db && sqlite3_close(w.db) != SQLITE_OK && st == DF_OK) st = sql_fail(&w, "close");
    int fd = st == DF_OK ? open(gpkg, O_RDONLY | O_CLOEXEC) : -1; /* the data on the disk before the name is used */
    if (st == DF_OK && (fd < 0 || fsync(fd) != 0))
        st = df__error(ctx, DF_EIO, "%s: cannot write the spatial index (sync): %s", gpkg, strerror(errno));
    if (fd >= 0) close(fd);
    return st;
}
