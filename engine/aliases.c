/*
 * aliases.c — alias tables: other spellings of a unit's name, from a CSV of
 * rows "level,alias,name,parent" (shapes/aliases_iraq.csv ships one).
 * The boundaries call it while they load; it sees their units only through
 * a df__alias_units view and never calls back into boundaries.c.
 */
#include "df_geo.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The alias tables: rows "level,alias,name,parent". Each row says that alias
 * and name are one place. A unit whose own name or other names equal (once
 * normalised) the name or any alias of a group takes all of the group's
 * spellings; a group that would fit two units of a level is not used for
 * either (and a warning says so), unless its parent tells them apart. */
typedef struct {
    int level;
    char *alias, *name, *parent;
    char kalias[128], kname[128]; /* normalised */
} alias_row;

/* "|key|key|...|": the normalised own and other names of every unit of a
 * level, to test a key with one strstr. */
static char **unit_keys(const df__alias_units *b, int level)
{
    int nunits = b->count[level];
    char **keys = calloc((size_t)nunits + 1, sizeof *keys);
    for (int u = 0; keys && u < nunits; u++) {
        char k[256], alt[256], buf[4096] = "|";
        const char *alts = b->alts[level] ? b->alts[level][u] : NULL;
        df__name_normalize(b->units[level][u].name, k, sizeof k);
        snprintf(buf + 1, sizeof buf - 1, "%s|", k);
        for (const char *p = alts ? alts : ""; *p;) {
            size_t n = strcspn(p, "|"), used = strlen(buf);
            snprintf(alt, sizeof alt, "%.*s", (int)(n - 2 < 255 ? n - 2 : 255), p + 2);
            df__name_normalize(alt, k, sizeof k);
            snprintf(buf + used, sizeof buf - used, "%s|", k);
            p += n + (p[n] == '|');
        }
        if (!(keys[u] = df__strdup(buf))) {
            for (int q = 0; q < u; q++) free(keys[q]);
            free(keys);
            return NULL;
        }
    }
    return keys;
}

static void free_keys(char **keys, int n)
{
    for (int u = 0; keys && u < n; u++) free(keys[u]);
    free(keys);
}

static int has_key(const char *keys, const char *key)
{
    char needle[260];
    snprintf(needle, sizeof needle, "|%s|", key);
    return key[0] && strstr(keys, needle) != NULL;
}

/* Does the group of `name` (rows' kname) at `level` name the unit with these keys? */
static int group_fits(const alias_row *rows, int nrows, int level, const char *kname, const char *keys)
{
    if (has_key(keys, kname)) return 1;
    for (int r = 0; r < nrows; r++)
        if (rows[r].level == level && strcmp(rows[r].kname, kname) == 0 && has_key(keys, rows[r].kalias)) return 1;
    return 0;
}

static df_status apply_aliases(df_ctx *ctx, const df__alias_units *b, const alias_row *rows, int nrows)
{
    char **keys[4] = {NULL, NULL, NULL, NULL};
    df_status st = DF_OK;
    for (int lv = 1; lv <= 3; lv++)
        if (b->count[lv] && !(keys[lv] = unit_keys(b, lv))) st = df__error(ctx, DF_ENOMEM, "out of memory");
    for (int r = 0; r < nrows && st == DF_OK; r++) {
        const alias_row *row = &rows[r];
        if (!keys[row->level]) continue; /* a level the boundaries do not have */
        int first = 1;                   /* groups are handled once, at their first row */
        for (int q = 0; q < r && first; q++)
            first = !(rows[q].level == row->level && !strcmp(rows[q].kname, row->kname));
        if (!first) continue;
        int found = -1, count = 0, n = b->count[row->level];
        char kparent[256];
        df__name_normalize(row->parent, kparent, sizeof kparent);
        for (int u = 0; u < n; u++) {
            if (!group_fits(rows, nrows, row->level, row->kname, keys[row->level][u])) continue;
            int p = b->units[row->level][u].parent;
            if (kparent[0] && keys[row->level - 1] /* the parent level is loaded */ && p >= 0 &&
                !group_fits(rows, nrows, row->level - 1, kparent, keys[row->level - 1][p]))
                continue;
            found = u;
            count++;
        }
        if (count > 1) {
            df__log(ctx, DF_LOG_WARN, "aliases of %s (admin %d) fit %d units; not used", row->name, row->level, count);
            continue;
        }
        if (count == 0) continue;
        if (b->add(b->user, row->level, found, row->name) != 0) st = df__error(ctx, DF_ENOMEM, "out of memory");
        for (int q = r; q < nrows && st == DF_OK; q++)
            if (rows[q].level == row->level && !strcmp(rows[q].kname, row->kname) &&
                b->add(b->user, row->level, found, rows[q].alias) != 0)
                st = df__error(ctx, DF_ENOMEM, "out of memory");
    }
    for (int lv = 1; lv <= 3; lv++) free_keys(keys[lv], b->count[lv]);
    return st;
}

df_status df__aliases_load(df_ctx *ctx, const df__alias_units *b, const char *path)
{
    df__csv *csv = NULL;
    char **cells;
    size_t *lens;
    int n, rc, nrows = 0, cap = 0, col[4] = {-1, -1, -1, -1};
    long line;
    alias_row *rows = NULL;
    df_status st = df__csv_open(ctx, path, ',', &csv);
    if (st != DF_OK) return st;
    static const char *names[4] = {"level", "alias", "name", "parent"};
    if ((rc = df__csv_next(csv, &cells, &lens, &n, &line)) == 1)
        for (int i = 0; i < n; i++)
            for (int k = 0; k < 4; k++)
                if (strcasecmp(cells[i], names[k]) == 0) col[k] = i;
    if (rc < 0) { /* the reader failed (out of memory, a read error): its error stands */
        df__csv_close(csv);
        return ctx->status != DF_OK ? ctx->status : df__error(ctx, DF_EIO, "cannot read %s", path);
    }
    if (col[0] < 0 || col[1] < 0 || col[2] < 0) {
        df__csv_close(csv);
        return df__error(ctx, DF_ESCHEMA, "%s: an alias table needs the columns level,alias,name[,parent]", path);
    }
    while (st == DF_OK && (rc = df__csv_next(csv, &cells, &lens, &n, &line)) == 1) {
        int level = col[0] < n ? atoi(cells[col[0]]) : 0;
        if (level < 1 || level > 3 || col[1] >= n || col[2] >= n || !cells[col[1]][0] || !cells[col[2]][0]) {
            st = df__error(ctx, DF_EFORMAT, "%s:%ld: an alias row needs a level 1..3, an alias and a name", path, line);
            break;
        }
        if (nrows == cap) {
            cap = cap * 2 + 64;
            alias_row *nr = df__realloc_array(rows, (size_t)cap, sizeof *nr);
            if (!nr) {
                st = df__error(ctx, DF_ENOMEM, "out of memory");
                break;
            }
            rows = nr;
        }
        alias_row *a = &rows[nrows++];
        a->level = level;
        a->alias = df__strdup(cells[col[1]]);
        a->name = df__strdup(cells[col[2]]);
        a->parent = df__strdup(col[3] >= 0 && col[3] < n ? cells[col[3]] : "");
        if (!a->alias || !a->name || !a->parent) st = df__error(ctx, DF_ENOMEM, "out of memory");
        if (st == DF_OK) {
            df__name_normalize(a->alias, a->kalias, sizeof a->kalias);
            df__name_normalize(a->name, a->kname, sizeof a->kname);
        }
    }
    if (st == DF_OK && rc < 0) st = ctx->status;
    df__csv_close(csv);
    if (st == DF_OK) st = apply_aliases(ctx, b, rows, nrows);
    if (st == DF_OK) df__log(ctx, DF_LOG_INFO, "%s: %d aliases", path, nrows);
    for (int r = 0; r < nrows; r++) free(rows[r].alias), free(rows[r].name), free(rows[r].parent);
    free(rows);
    return st;
}
