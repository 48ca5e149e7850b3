/*
 * ingest.c — records from CSV, DTM API JSON or any OGR tabular df__source,
 * streamed one row at a time into df_record structs.
 *
 * Columns are found, in order, by the explicit mapping (--map), by an HXL
 * tag row under the header, and by the header names DTM tables use. Each
 * row's values are parsed strictly; a row that cannot be read is rejected
 * with its line, column and reason, counted, and never passed on.
 */
#include "df_io.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* ---- names of fields and reasons ----------------------------------------- */

static const char *field_names[] = {
#define DF_XX_NAME(name, key) key,
    DF_FIELD_MAP(DF_XX_NAME)
#undef DF_XX_NAME
};

static const char *reject_names[] = {
#define DF_XX_NAME(name, key) key,
    DF_REJECT_MAP(DF_XX_NAME)
#undef DF_XX_NAME
};

const char *df_field_name(df_field f) { return (unsigned)f < DF_FIELD_COUNT ? field_names[f] : "?"; }
const char *df_reject_name(df_reject_reason r) { return (unsigned)r < DF_REJECT_COUNT ? reject_names[r] : "?"; }

void df_record_opts_init(df_record_opts *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->header = -1;
    o->household_size = 6.0; /* the DTM convention for Iraq */
    o->kind = DF_KIND_AUTO;
    o->default_status = DF_DISPLACED;
}

/* ---- how columns are recognised ------------------------------------------- */

/* Header names that DTM and Emergency Tracking tables use, compared after
 * lower-casing and dropping everything but letters and digits. */
static const struct {
    df_field field;
    const char *names; /* space-separated */
} header_names[] = {
    {DF_FIELD_DATE, "date reportingdate currentrounddate reporteddate datereported"},
    {DF_FIELD_STATUS, "status displacementstatus movementstatus populationtype"},
    {DF_FIELD_ADM1, "governorate admin1name adm1en adm1name adm1 province"},
    {DF_FIELD_ADM1_PCODE, "admin1pcode adm1pcode governoratepcode"},
    {DF_FIELD_ADM2, "district admin2name adm2en adm2name adm2"},
    {DF_FIELD_ADM2_PCODE, "admin2pcode adm2pcode districtpcode"},
    {DF_FIELD_ADM3, "subdistrict admin3name adm3en adm3name adm3"},
    {DF_FIELD_ADM3_PCODE, "admin3pcode adm3pcode subdistrictpcode"},
    {DF_FIELD_LOCATION, "location locationname place placename site sitename"},
    {DF_FIELD_LAT, "latitude lat y"},
    {DF_FIELD_LON, "longitude lon long lng x"},
    {DF_FIELD_FAMILIES, "families masterfamilies numfamilies households hh"},
    {DF_FIELD_INDIVIDUALS, "individuals individual numpresentidpind idps idpindividuals persons people"},
    {DF_FIELD_SHELTER, "shelter sheltertype"},
    {DF_FIELD_ORIGIN_ADM1, "governorateoforigin origingovernorate originadm1 idporiginadmin1name originadmin1name"},
    {DF_FIELD_ORIGIN_ADM1_PCODE, "idporiginadmin1pcode originadmin1pcode originadm1pcode"},
    {DF_FIELD_ORIGIN_ADM2, "districtoforigin origindistrict originadm2 idporiginadmin2name originadmin2name"},
    {DF_FIELD_ORIGIN_ADM2_PCODE, "idporiginadmin2pcode originadmin2pcode originadm2pcode"},
    {DF_FIELD_ORIGIN_ADM3, "subdistrictoforigin originsubdistrict originadm3"},
    {DF_FIELD_DISPLACEMENT_ADM1, "governorateofdisplacement displacementgovernorate"},
    {DF_FIELD_DISPLACEMENT_ADM2, "districtofdisplacement displacementdistrict"},
    {DF_FIELD_OPERATION, "operation operationname"},
    {DF_FIELD_ASSESSMENT, "assessmenttype"},
    {DF_FIELD_SPLIT, "displacementreason"},
    {DF_FIELD_LEVEL, "adminlevel admlevel"},
    {DF_FIELD_ROUND, "roundnumber round"},
};

/* HXL hashtags: the tag, attributes it must have, attributes it must not. */
static const struct {
    df_field field;
    const char *tag, *need, *forbid;
} hxl_tags[] = {
    {DF_FIELD_DATE, "#date", "", "year month start end"},
    {DF_FIELD_STATUS, "#status", "", ""},
    {DF_FIELD_ADM1, "#adm1", "name", "origin code"},
    {DF_FIELD_ADM1_PCODE, "#adm1", "code", "origin"},
    {DF_FIELD_ADM2, "#adm2", "name", "origin code"},
    {DF_FIELD_ADM2_PCODE, "#adm2", "code", "origin"},
    {DF_FIELD_ADM3, "#adm3", "name", "origin code"},
    {DF_FIELD_ADM3_PCODE, "#adm3", "code", "origin"},
    {DF_FIELD_ORIGIN_ADM1, "#adm1", "name origin", "code"},
    {DF_FIELD_ORIGIN_ADM1_PCODE, "#adm1", "code origin", ""},
    {DF_FIELD_ORIGIN_ADM2, "#adm2", "name origin", "code"},
    {DF_FIELD_ORIGIN_ADM2_PCODE, "#adm2", "code origin", ""},
    {DF_FIELD_LOCATION, "#loc", "name", ""},
    {DF_FIELD_LAT, "#geo", "lat", ""},
    {DF_FIELD_LON, "#geo", "lon", ""},
    {DF_FIELD_FAMILIES, "#affected", "hh", ""},
    {DF_FIELD_FAMILIES, "#affected", "households", ""},
    {DF_FIELD_INDIVIDUALS, "#affected", "idps", "hh households"},
    {DF_FIELD_INDIVIDUALS, "#affected", "ind", "hh households"},
    {DF_FIELD_INDIVIDUALS, "#population", "ind", "hh households"},
    {DF_FIELD_INDIVIDUALS, "#affected", "", "hh households"},
    {DF_FIELD_OPERATION, "#operation", "", ""},
    {DF_FIELD_ASSESSMENT, "#assessment", "", ""},
    {DF_FIELD_LEVEL, "#adm", "level", ""},
    {DF_FIELD_ROUND, "#round", "", ""},
};

/* Is word in the space-separated list? */
static int in_list(const char *list, const char *word, size_t n)
{
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, " ");
        if (k == n && strncasecmp(p, word, n) == 0) return 1;
        p += k;
        while (*p == ' ') p++;
    }
    return 0;
}

static void header_key(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 1 < cap; s++)
        if (isalnum((unsigned char)*s)) out[o++] = (char)tolower((unsigned char)*s);
    out[o] = '\0';
}

/* Does the HXL tag cell match (tag, need, forbid)? */
static int hxl_match(const char *cell, const char *tag, const char *need, const char *forbid)
{
    while (isspace((unsigned char)*cell)) cell++;
    size_t tl = strlen(tag);
    if (strncasecmp(cell, tag, tl) != 0 || (cell[tl] && cell[tl] != '+' && !isspace((unsigned char)cell[tl]))) return 0;
    /* every needed attribute present, no forbidden one */
    for (const char *p = need; *p;) {
        size_t k = strcspn(p, " ");
        int found = 0;
        for (const char *a = strchr(cell, '+'); a && !found; a = strchr(a + 1, '+')) {
            size_t al = strcspn(a + 1, "+ \t");
            found = al == k && strncasecmp(a + 1, p, k) == 0;
        }
        if (!found) return 0;
        p += k;
        while (*p == ' ') p++;
    }
    for (const char *a = strchr(cell, '+'); a; a = strchr(a + 1, '+'))
        if (in_list(forbid, a + 1, strcspn(a + 1, "+ \t"))) return 0;
    return 1;
}

static int is_hxl_row(char **cells, int n)
{
    int tags = 0, other = 0;
    for (int i = 0; i < n; i++) {
        const char *c = cells[i];
        while (isspace((unsigned char)*c)) c++;
        if (*c == '#')
            tags++;
        else if (*c)
            other++;
    }
    return tags > 0 && tags >= other;
}

static int looks_numeric(const char *s)
{
    double v;
    return *s && df__parse_double(s, strlen(s), &v) == 0;
}

/* ---- column mapping ---------------------------------------------------------- */

typedef struct {
    int col[DF_FIELD_COUNT]; /* column index per field, -1 when absent */
} column_map;

/* The value of a column, without leading blanks (trailing ones are trimmed
 * already), or NULL when the column is absent or empty. */
static const char *cell(char **cells, int n, int col)
{
    if (col < 0 || col >= n) return NULL;
    const char *s = cells[col];
    while (*s == ' ' || *s == '\t') s++;
    return *s ? s : NULL;
}

/* NULL for the words tables write for "no value": Not available, N/A,
 * Unknown, None, "-"; else s. */
static const char *known(const char *s)
{
    static const char *const missing[] = {"not available", "n/a", "na", "n.a.", "unknown", "none", "-", "--", NULL};
    for (int i = 0; s && missing[i]; i++)
        if (!strcasecmp(s, missing[i])) return NULL;
    return s;
}

static const char *column_label(const df__source *src, int col, char *buf, size_t cap)
{
    if (col < src->nheader && src->header[col][0]) return src->header[col];
    snprintf(buf, cap, "column %d", col + 1);
    return buf;
}

static df_status apply_explicit_map(df_ctx *ctx, const char *map, const df__source *src, int ncols, column_map *m,
                                    char *how, size_t cap)
{
    const char *p = map;
    while (p && *p) {
        size_t len = strcspn(p, ",");
        char item[256];
        if (len >= sizeof item) return df__error(ctx, DF_EINVAL, "--map: entry too long near \"%.40s\"", p);
        memcpy(item, p, len);
        item[len] = '\0';
        p += len + (p[len] == ',');
        char *eq = strchr(item, '=');
        if (!eq) return df__error(ctx, DF_EINVAL, "--map: \"%s\" is not field=column", item);
        *eq = '\0';
        const char *col = eq + 1;
        int f = -1;
        for (int k = 0; k < DF_FIELD_COUNT; k++)
            if (strcasecmp(item, field_names[k]) == 0) f = k;
        if (f < 0)
            return df__error(ctx, DF_EINVAL,
                             "--map: unknown field \"%s\" (fields: date, status, adm1, adm1_pcode, adm2, adm2_pcode, "
                             "adm3, adm3_pcode, location, lat, lon, families, individuals, shelter, origin_adm1, "
                             "origin_adm2, displacement_adm2, operation, assessment, split, level, round ...)",
                             item);
        char *end;
        long num = strtol(col, &end, 10);
        int c = -1;
        if (*col && *end == '\0') {
            c = (int)num - 1; /* 1-based column number */
            if (num < 1 || num > 100000) return df__error(ctx, DF_EINVAL, "--map: column number %s out of range", col);
            if (ncols > 0 && num > ncols) /* issue 17 item 18: never a column of empty values */
                return df__error(ctx, DF_ESCHEMA, "%s: --map %s=%s: the file has only %d column%s", src->path, item,
                                 col, ncols, ncols == 1 ? "" : "s");
        } else {
            for (int k = 0; k < src->nheader && c < 0; k++)
                if (strcasecmp(src->header[k], col) == 0) c = k;
            if (c < 0)
                return df__error(ctx, DF_ESCHEMA, "%s: --map %s=%s: no column named \"%s\" in the header", src->path,
                                 item, col, col);
        }
        m->col[f] = c;
        size_t used = strlen(how);
        snprintf(how + used, cap - used, "%s%s=%s (map)", used ? ", " : "", field_names[f], col);
    }
    return DF_OK;
}

static void note(char *how, size_t cap, const char *field, const char *col, const char *why)
{
    size_t used = strlen(how);
    snprintf(how + used, cap - used, "%s%s=%s (%s)", used ? ", " : "", field, col, why);
}

/* ---- parsing one row into a record ---------------------------------------------- */

static const unsigned char is_text_field[DF_FIELD_COUNT] = {[DF_FIELD_STATUS] = 1,
                                                            [DF_FIELD_ADM1] = 1,
                                                            [DF_FIELD_ADM1_PCODE] = 1,
                                                            [DF_FIELD_ADM2] = 1,
                                                            [DF_FIELD_ADM2_PCODE] = 1,
                                                            [DF_FIELD_ADM3] = 1,
                                                            [DF_FIELD_ADM3_PCODE] = 1,
                                                            [DF_FIELD_LOCATION] = 1,
                                                            [DF_FIELD_SHELTER] = 1,
                                                            [DF_FIELD_ORIGIN_ADM1] = 1,
                                                            [DF_FIELD_ORIGIN_ADM1_PCODE] = 1,
                                                            [DF_FIELD_ORIGIN_ADM2] = 1,
                                                            [DF_FIELD_ORIGIN_ADM2_PCODE] = 1,
                                                            [DF_FIELD_ORIGIN_ADM3] = 1,
                                                            [DF_FIELD_DISPLACEMENT_ADM1] = 1,
                                                            [DF_FIELD_DISPLACEMENT_ADM2] = 1,
                                                            [DF_FIELD_DISPLACEMENT_ADM2_PCODE] = 1,
                                                            [DF_FIELD_OPERATION] = 1,
                                                            [DF_FIELD_ASSESSMENT] = 1,
                                                            [DF_FIELD_SPLIT] = 1,
                                                            [DF_FIELD_LEVEL] = 1};

/* ---- row filters, operations, levels and exact duplicates --------------------- */

#define MAX_WHERE 16

/* What the columns say about every row, resolved once. */
typedef struct {
    struct {
        int col;
        const char *values; /* "V1,V2", borrowed from the option */
    } where[MAX_WHERE];
    int nwhere;
    int has_pcodes, has_names; /* the table has location P-code / name columns */
} row_rules;

/* Row hashes with the line of each: exact duplicates (docs/records.md).
 * With --duplicates drop a row must be known for a duplicate as it is read
 * (the read is then sequential), so its rows go into a hash table. Else
 * nothing about a duplicate is needed before the read ends: each range
 * appends its rows' (hash, line) to an array, sorted once at the range's
 * end (in place, by radix, on its reading thread) and merged with the
 * other ranges' by hash (seen_merge): a sequential write per row instead
 * of a random probe into fresh pages. Either way at most `max` distinct
 * rows are held (df__dup_max_rows, about 128 MB: 16 bytes a slot in a
 * table kept at most half full, or an array settled when it holds 2 max
 * rows), so memory does not grow with the file past that. Rows after the
 * max-th distinct row are still compared with those held, not added; they
 * are counted as unchecked (judge_file says what follows). */
long df__dup_max_rows = 4L << 20;
#define MAX_SLICES 64 /* of the hash space, merged at once (seen_merge) */
typedef struct {
    uint64_t hash;
    long line; /* of the row; settled, of the first row of the hash */
} seen_row;
typedef struct {
    long line, first; /* a duplicate, and the line of the row it repeats */
    uint64_t hash;
} seen_dup;
typedef struct {
    df__hashtab t; /* drop: of long, the line of the first row; the key is the row's hash */
    int drop;
    seen_row *v; /* else: the rows as read; settled, the distinct rows sorted by hash */
    size_t n, cap;
    size_t *dir;        /* full: where each value of the hash's top dir_bits bits starts in v */
    int dir_bits, full; /* full: max distinct rows held; later rows are looked up, not added */
    size_t max;         /* distinct rows held at most (0: df__dup_max_rows) */
    long unchecked;     /* rows neither found nor added: the set was full */
    long dups;          /* duplicates found in the array (drop: counted as they are read) */
    seen_dup noted[8];  /* of them, the 8 of the least lines (in no order) */
    int nnoted;
    int failed;
} row_set;

static void row_set_free(row_set *t)
{
    df__hashtab_free(&t->t);
    free(t->v);
    free(t->dir);
    memset(t, 0, sizeof *t);
}

static size_t row_set_max(const row_set *t)
{
    size_t max = t->max ? t->max : (size_t)df__dup_max_rows;
    return max ? max : 1;
}

/* Keep a duplicate if it is among the 8 of the least lines. */
static void note_dup(seen_dup *noted, int *n, long line, long first, uint64_t hash)
{
    int at = *n;
    if (at == 8) {
        at = 0;
        for (int i = 1; i < 8; i++)
            if (noted[i].line > noted[at].line) at = i;
        if (noted[at].line < line) return;
    } else
        ++*n;
    noted[at] = (seen_dup){line, first, hash};
}

/* Sort by hash in place: radix on 8 bits from the top (the hashes are
 * uniform, so a level cuts the runs 256 times), short runs by insertion.
 * Rows of one hash are left in any order. */
static void seen_sort(seen_row *v, size_t n, int shift)
{
    if (shift < 0) return; /* every bit equal */
    if (n <= 32) {
        for (size_t i = 1; i < n; i++) {
            seen_row x = v[i];
            size_t j = i;
            for (; j > 0 && v[j - 1].hash > x.hash; j--) v[j] = v[j - 1];
            v[j] = x;
        }
        return;
    }
    size_t count[256] = {0}, start[257], cur[256];
    for (size_t i = 0; i < n; i++) count[(v[i].hash >> shift) & 255]++;
    start[0] = 0;
    for (int b = 0; b < 256; b++) start[b + 1] = start[b] + count[b], cur[b] = start[b];
    for (unsigned b = 0; b < 256; b++)
        while (cur[b] < start[b + 1]) { /* the cycle through cur[b], each row to its bucket */
            seen_row x = v[cur[b]];
            unsigned d = (unsigned)(x.hash >> shift) & 255;
            while (d != b) {
                seen_row y = v[cur[d]];
                v[cur[d]++] = x;
                x = y, d = (unsigned)(x.hash >> shift) & 255;
            }
            v[cur[b]++] = x;
        }
    for (int b = 0; b < 256; b++) seen_sort(v + start[b], count[b], shift - 8);
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* The end of the run of v[i]'s hash, and in *at its row of the least line. */
static size_t seen_run(const seen_row *v, size_t n, size_t i, size_t *at)
{
    size_t j = i + 1;
    *at = i;
    for (; j < n && v[j].hash == v[i].hash; j++)
        if (v[j].line < v[*at].line) *at = j;
    return j;
}

/* The k-th least (1-based) of the runs' first lines in v (sorted by hash),
 * without a copy of them all: the first lines counted in 65,536 buckets of
 * their range, then the one bucket that holds the k-th sorted. -1 out of
 * memory. */
#define NTH_BUCKETS 65536
static long seen_nth_first(const seen_row *v, size_t n, size_t k)
{
    size_t at, below = 0, nb = 0;
    long lo = LONG_MAX, hi = LONG_MIN;
    for (size_t i = 0, j; i < n; i = j) {
        j = seen_run(v, n, i, &at);
        lo = v[at].line < lo ? v[at].line : lo, hi = v[at].line > hi ? v[at].line : hi;
    }
    int shift = 0;
    while (((unsigned long)(hi - lo) >> shift) >= NTH_BUCKETS) shift++;
    size_t *count = calloc(NTH_BUCKETS, sizeof *count);
    if (!count) return -1;
    for (size_t i = 0, j; i < n; i = j) {
        j = seen_run(v, n, i, &at);
        count[(unsigned long)(v[at].line - lo) >> shift]++;
    }
    size_t b = 0;
    while (below + count[b] < k) below += count[b++]; /* the k-th is in bucket b */
    long *in = malloc((count[b] ? count[b] : 1) * sizeof *in);
    free(count);
    if (!in) return -1;
    for (size_t i = 0, j; i < n; i = j) {
        j = seen_run(v, n, i, &at);
        if (((unsigned long)(v[at].line - lo) >> shift) == b) in[nb++] = v[at].line;
    }
    qsort(in, nb, sizeof *in, cmp_long);
    long kth = in[k - below - 1];
    free(in);
    return kth;
}

/* The rows appended so far to their distinct rows, sorted by hash: a row
 * whose hash an earlier row has is a duplicate of the earliest. Past max
 * distinct rows, those of the max least first lines are kept and every
 * row of the others is unchecked, as when rows are looked up in a full
 * set; the set is then full. 0, or -1 out of memory. */
static int row_set_settle(row_set *t)
{
    size_t max = row_set_max(t), runs = 0, out = 0, at;
    long last = LONG_MAX; /* the rows of a first line past this are unchecked */
    seen_sort(t->v, t->n, 56);
    for (size_t i = 0; i < t->n; runs++) i = seen_run(t->v, t->n, i, &at);
    if (runs > max && (last = seen_nth_first(t->v, t->n, max)) < 0) return t->failed = 1, -1;
    for (size_t i = 0, j; i < t->n; i = j) {
        j = seen_run(t->v, t->n, i, &at);
        seen_row first = t->v[at];
        if (first.line > last) {
            t->unchecked += (long)(j - i);
            continue;
        }
        for (size_t k = i; k < j; k++)
            if (k != at) t->dups++, note_dup(t->noted, &t->nnoted, t->v[k].line, first.line, first.hash);
        t->v[out++] = first;
    }
    t->n = out;
    if (out < max) return 0;
    /* full: a directory on the top bits of the hash, about 4 rows a value */
    int bits = 1;
    while (bits < 24 && ((size_t)1 << bits) < out / 4) bits++;
    size_t nb = (size_t)1 << bits;
    seen_row *v = realloc(t->v, (out ? out : 1) * sizeof *v); /* the room for 2 max rows back */
    if (v) t->v = v, t->cap = out;
    if (!(t->dir = malloc((nb + 1) * sizeof *t->dir))) return t->failed = 1, -1;
    for (size_t b = 0, i = 0; b <= nb; b++) {
        while (i < out && (t->v[i].hash >> (64 - bits)) < b) i++;
        t->dir[b] = i;
    }
    t->dir_bits = bits, t->full = 1;
    return 0;
}

/* The end of a range's rows: settled (the array), once. 0, or -1. */
static int row_set_finish(row_set *t) { return t->drop || t->full || t->failed ? -t->failed : row_set_settle(t); }

/* Add key; returns the line of its first row when it is known to be there
 * (drop), else 0 (-1 with t->failed when memory runs out). */
static long row_set_add(row_set *t, uint64_t key, long line)
{
    size_t max = row_set_max(t);
    if (t->drop) {
        if (t->t.count >= max) { /* full: compared, not added */
            const long *first = df__hashtab_find(&t->t, key, NULL, NULL);
            if (first) return *first;
            t->unchecked++;
            return 0;
        }
        if (!t->t.cap) t->t.size = sizeof(long), t->t.first = 4096;
        int added;
        long *first = df__hashtab_get(&t->t, key, NULL, NULL, &added);
        if (!first) return t->failed = 1, -1;
        if (!added) return *first;
        *first = line;
        return 0;
    }
    if (t->full) {
        size_t b = (size_t)(key >> (64 - t->dir_bits)), i = t->dir[b];
        while (i < t->dir[b + 1] && t->v[i].hash != key) i++;
        if (i < t->dir[b + 1])
            t->dups++, note_dup(t->noted, &t->nnoted, line, t->v[i].line, key);
        else
            t->unchecked++;
        return 0;
    }
    if (t->n == t->cap) {
        if (t->cap >= 2 * max) {
            if (row_set_settle(t) != 0) return -1;
            if (t->full) return row_set_add(t, key, line);
        } else {
            size_t cap = t->cap ? 2 * t->cap : 4096;
            if (cap > 2 * max) cap = 2 * max;
            seen_row *v = realloc(t->v, cap * sizeof *v);
            if (!v) return t->failed = 1, -1;
            t->v = v, t->cap = cap;
        }
    }
    t->v[t->n++] = (seen_row){key, line};
    return 0;
}

/* The first index of v[0..n) (sorted by hash) whose hash is h or more. */
static size_t seen_lower(const seen_row *v, size_t n, uint64_t h)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].hash < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The settled row of hash h in t, or NULL. */
static const seen_row *seen_search(const row_set *t, uint64_t h)
{
    size_t lo = seen_lower(t->v, t->n, h);
    return lo < t->n && t->v[lo].hash == h ? &t->v[lo] : NULL;
}

/* One slice of the hash space [lo, hi] merged across the sets, bucket by
 * bucket of the hashes' top bits (about 16 rows a bucket: the hashes are
 * uniform): the sets' rows of a bucket are taken in set (file) order, and
 * a row whose hash an earlier set's row of the bucket has is a duplicate
 * (a set's own rows are distinct). One pass over each array, in order; the
 * slices are apart, so each is merged on its own thread. */
typedef struct {
    row_set *const *sets;
    int nsets, bits;
    uint64_t lo, hi;
    long dups;
    seen_dup noted[8];
    int nnoted, failed;
} seen_slice;

static void *seen_slice_main(void *arg)
{
    seen_slice *sl = arg;
    size_t *at = calloc((size_t)sl->nsets, sizeof *at), *end = calloc((size_t)sl->nsets, sizeof *end);
    size_t cap = 256, m;
    uint64_t *held = malloc(cap * sizeof *held); /* the hashes of the bucket so far */
    int shift = 64 - sl->bits;
    if (!at || !end || !held) {
        sl->failed = 1;
        goto done;
    }
    for (int k = 0; k < sl->nsets; k++) {
        const row_set *t = sl->sets[k];
        at[k] = seen_lower(t->v, t->n, sl->lo);
        end[k] = sl->hi == UINT64_MAX ? t->n : seen_lower(t->v, t->n, sl->hi + 1);
    }
    for (uint64_t b = sl->lo >> shift;; b++) {
        m = 0;
        for (int k = 0; k < sl->nsets; k++) {
            const seen_row *v = sl->sets[k]->v;
            size_t i = at[k];
            for (; i < end[k] && v[i].hash >> shift == b; i++) {
                uint64_t h = v[i].hash;
                size_t q = 0;
                while (q < m && held[q] != h) q++;
                if (q < m) {
                    sl->dups++, note_dup(sl->noted, &sl->nnoted, v[i].line, 0, h);
                    continue;
                }
                if (m == cap) {
                    uint64_t *g = realloc(held, 2 * cap * sizeof *g);
                    if (!g) {
                        sl->failed = 1;
                        goto done;
                    }
                    held = g, cap *= 2;
                }
                held[m++] = h;
            }
            at[k] = i;
        }
        if (b == sl->hi >> shift) break;
    }
done:
    free(at), free(end), free(held);
    return NULL;
}

/* The exact duplicates of a whole read into stats, from the sets of its
 * ranges in file order (each settled, with the file's lines):
 * a distinct row of a range whose hash an earlier range holds repeats that
 * range's row, and every duplicate found in a range repeats the first row
 * of its hash in the earliest range: the count and the first 8 lines are
 * those of one sequential read (up to the sets' limits). With drop (one
 * range, counted as read) only the unchecked rows are added. The hash
 * space is cut into nthreads slices merged at once. 0, or -1. */
static int seen_merge(df_read_stats *stats, row_set *const *sets, int nsets, int nthreads)
{
    long dups = 0, unchecked = 0;
    seen_dup noted[8];
    int nnoted = 0, rc = 0;
    for (int k = 0; k < nsets; k++) unchecked += sets[k]->unchecked;
    stats->duplicates_unchecked += unchecked;
    if (nsets < 1 || (nsets == 1 && sets[0]->drop)) return 0;
    for (int k = 0; k < nsets; k++) {
        dups += sets[k]->dups;
        for (int q = 0; q < sets[k]->nnoted; q++) {
            const seen_dup *d = &sets[k]->noted[q];
            note_dup(noted, &nnoted, d->line, d->first, d->hash);
        }
    }
    int nslices = nsets > 1 ? (nthreads < 1 ? 1 : nthreads > MAX_SLICES ? MAX_SLICES : nthreads) : 0;
    seen_slice sl[MAX_SLICES];
    pthread_t tid[MAX_SLICES];
    int started[MAX_SLICES] = {0};
    size_t rows = 0;
    int bits = 1;
    for (int k = 0; k < nsets; k++) rows += sets[k]->n;
    while (bits < 32 && (((uint64_t)1 << bits) < rows / 16 || ((uint64_t)1 << bits) < (uint64_t)nslices)) bits++;
    for (int i = 0; i < nslices; i++) { /* the hashes are uniform: even slices of the buckets, even work */
        uint64_t nb = (uint64_t)1 << bits, first = nb * (uint64_t)i / (uint64_t)nslices;
        uint64_t last = nb * (uint64_t)(i + 1) / (uint64_t)nslices - 1, below = ((uint64_t)1 << (64 - bits)) - 1;
        sl[i] = (seen_slice){
            .sets = sets, .nsets = nsets, .bits = bits, .lo = first << (64 - bits), .hi = last << (64 - bits) | below};
    }
    for (int i = 1; i < nslices; i++)
        if (pthread_create(&tid[i], NULL, seen_slice_main, &sl[i]) == 0)
            started[i] = 1;
        else
            seen_slice_main(&sl[i]); /* no thread: here */
    if (nslices) seen_slice_main(&sl[0]);
    for (int i = 0; i < nslices; i++) { /* the slices' in slice order (note_dup keeps the least lines) */
        if (started[i]) pthread_join(tid[i], NULL);
        if (sl[i].failed) rc = -1;
        dups += sl[i].dups;
        for (int q = 0; q < sl[i].nnoted; q++)
            note_dup(noted, &nnoted, sl[i].noted[q].line, sl[i].noted[q].first, sl[i].noted[q].hash);
    }
    if (rc) return -1;
    for (int q = 0; q < nnoted; q++) /* the first row of the hash in the earliest range */
        for (int k = 0; k < nsets; k++) {
            const seen_row *s = seen_search(sets[k], noted[q].hash);
            if (s) {
                noted[q].first = s->line;
                break;
            }
        }
    for (int i = 1; i < nnoted; i++) /* in line order */
        for (int j = i; j > 0 && noted[j - 1].line > noted[j].line; j--) {
            seen_dup x = noted[j];
            noted[j] = noted[j - 1], noted[j - 1] = x;
        }
    stats->duplicates += dups;
    for (int q = 0; q < nnoted; q++)
        stats->duplicate_line[q][0] = noted[q].line, stats->duplicate_line[q][1] = noted[q].first;
    return 0;
}

/* 64-bit hash of a row's fields; never 0. Each field's length, then its
 * bytes 8 at a time, each folded in by a 64 x 64 -> 128-bit multiply (the
 * high and low halves xored): one multiply per 8 bytes, where a byte-wise
 * FNV-1a took one per byte (issue 12 item 3). The length keeps ("ab", "c")
 * apart from ("a", "bc"), and with it the tail's loads give every byte. */
__extension__ typedef unsigned __int128 row_u128;
static inline uint64_t row_mum(uint64_t a, uint64_t b)
{
    row_u128 p = (row_u128)a * b;
    return (uint64_t)p ^ (uint64_t)(p >> 64);
}

static uint64_t row_hash(char **cells, const size_t *lens, int n)
{
    const uint64_t k0 = 0xa0761d6478bd642fULL, k1 = 0xe7037ed1a0b428dbULL;
    uint64_t h = 0x8ebc6af09c88c6e3ULL ^ (uint64_t)n;
    for (int i = 0; i < n; i++) {
        const unsigned char *c = (const unsigned char *)cells[i];
        size_t len = lens[i], k = 0;
        h = row_mum(h ^ k0, (uint64_t)len ^ k1);
        for (; k + 8 <= len; k += 8) {
            uint64_t w;
            memcpy(&w, c + k, 8);
            h = row_mum(h ^ w, k1);
        }
        if (k < len) { /* the last 1..7 bytes, by loads that overlap (no byte stores to read back) */
            size_t t = len - k;
            uint64_t w;
            if (t >= 4) {
                uint32_t a, b;
                memcpy(&a, c + k, 4), memcpy(&b, c + len - 4, 4);
                w = (uint64_t)a << 32 | b;
            } else
                w = (uint64_t)c[k] << 16 | (uint64_t)c[k + t / 2] << 8 | c[len - 1];
            h = row_mum(h ^ w, k0);
        }
    }
    h = row_mum(h ^ k1, h ^ k0);
    return h ? h : 1;
}

/* Is value one of the comma-separated values (case-insensitive, blanks trimmed)? */
static int value_in(const char *values, const char *value)
{
    size_t vl = value ? strlen(value) : 0;
    for (const char *p = values;;) {
        while (*p == ' ') p++;
        size_t k = strcspn(p, ",");
        size_t t = k;
        while (t > 0 && p[t - 1] == ' ') t--;
        if (t == vl && (vl == 0 || strncasecmp(p, value, vl) == 0)) return 1;
        if (!p[k]) return 0;
        p += k + 1;
    }
}

static int operation_chosen(const df_record_opts *o, const char *op)
{
    if (!o->operations) return 1;
    for (int k = 0; o->operations[k]; k++)
        if (!strcasecmp(o->operations[k], "all") || !strcasecmp(o->operations[k], op ? op : "")) return 1;
    return 0;
}

static void count_operation(df_read_stats *st, const char *op, long rows, int32_t first, int32_t last)
{
    char name[sizeof st->operations[0].name];
    snprintf(name, sizeof name, "%s", op);
    int i = 0;
    while (i < st->noperations && i < 32 && strcmp(st->operations[i].name, name) != 0) i++;
    if (i == 32) return; /* beyond the list: not listed */
    df_operation_stat *o = &st->operations[i];
    if (i == st->noperations) {
        st->noperations++;
        memcpy(o->name, name, sizeof name);
        o->first = o->last = DF_NO_DATE;
    }
    o->rows += rows;
    if (first != DF_NO_DATE && (o->first == DF_NO_DATE || first < o->first)) o->first = first;
    if (last != DF_NO_DATE && (o->last == DF_NO_DATE || last > o->last)) o->last = last;
}

/* The admin level a row states: its level column ("1", "admin2", "ADM0"),
 * else the finest P-code filled (tables with P-code columns) or name filled
 * (tables of names); 0 when none is; -1 for a row of coordinates, which
 * the join locates by its point at any level. */
static int row_level(const row_rules *rr, const column_map *m, char **cells, int n, int has_point)
{
    const char *s = cell(cells, n, m->col[DF_FIELD_LEVEL]);
    for (; s && *s; s++)
        if (isdigit((unsigned char)*s)) return *s - '0' <= 3 ? *s - '0' : -1;
    if (has_point) return -1;
    if (!rr->has_pcodes && !rr->has_names) return -1;
    static const df_field pc[4] = {0, DF_FIELD_ADM1_PCODE, DF_FIELD_ADM2_PCODE, DF_FIELD_ADM3_PCODE};
    static const df_field nm[4] = {0, DF_FIELD_ADM1, DF_FIELD_ADM2, DF_FIELD_ADM3};
    for (int l = 3; l >= 1; l--)
        if (cell(cells, n, m->col[rr->has_pcodes ? pc[l] : nm[l]])) return l;
    return 0;
}

typedef struct {
    df_ctx *ctx;
    const df_record_opts *opts;
    const df__source *src;
    const column_map *map;
    const row_rules *rules;
    row_set seen; /* exact duplicates */
    df_record_fn on_record;
    df_reject_fn on_reject;
    void *user, *reject_user;
    df_read_stats *stats;
    int ncols;                            /* columns in the header (or the first row) */
    int text_cols[DF_FIELD_COUNT], ntext; /* mapped columns holding text */
    int nul_cols[DF_FIELD_COUNT], nnul;   /* the others but the counts: looked at for a NUL byte */
} reader;

static int reject(reader *r, long line, int col, df_reject_reason why, const char *value)
{
    char buf[32];
    df_rejection rj = {line, col >= 0 ? column_label(r->src, col, buf, sizeof buf) : "(row)", why, value};
    r->stats->rejected++;
    r->stats->rejected_by[why]++;
    if (r->on_reject) r->on_reject(&rj, r->reject_user);
    return 0;
}

/* As cell(), with the length of the value. */
static const char *cell_len(char **cells, const size_t *lens, int n, int col, size_t *len)
{
    const char *s = cell(cells, n, col);
    if (s) *len = lens[col] - (size_t)(s - cells[col]);
    return s;
}

/* Trim trailing blanks in place (cells are ours to modify). */
static void trim_cells(char **cells, size_t *lens, int n)
{
    for (int i = 0; i < n; i++)
        while (lens[i] > 0 && (cells[i][lens[i] - 1] == ' ' || cells[i][lens[i] - 1] == '\t'))
            cells[i][--lens[i]] = '\0';
}

/* A number Excel shows as a date: its serial day count, 1950 to 2099
 * (18264 .. 73050), possibly with a fraction of a day. */
static int is_excel_serial(const char *s)
{
    double v;
    return df__parse_double(s, strlen(s), &v) == 0 && v >= 18264 && v < 73051;
}

/* Returns 1 to go on, 0 when the callback asked to stop. */
/* The steps of handle_row return ROW_ON for a row that goes on to the
 * next step, else what handle_row returns: 1 the next row (this one
 * rejected, filtered or dropped), 0 stop. */
#define ROW_ON (-1)

/* Fields as many as the header's, text in UTF-8. */
static int row_shape(reader *r, char **cells, const size_t *lens, int n, long line)
{
    if (n != r->ncols && r->ncols > 0) {
        char detail[64];
        snprintf(detail, sizeof detail, "%d fields where the header has %d", n, r->ncols);
        return reject(r, line, -1, DF_REJECT_RAGGED_ROW, detail), 1;
    }
    /* text must be UTF-8; numbers, dates and coordinates are checked by
     * their strict parsers, which accept ASCII only */
    for (int k = 0; k < r->ntext; k++) {
        int c = r->text_cols[k];
        if (c < n && !df__utf8_valid(cells[c], lens[c]))
            return reject(r, line, c, DF_REJECT_BAD_ENCODING, "not UTF-8 text (or a NUL byte)"), 1;
    }
    return ROW_ON;
}

/* The date, no NUL in a mapped value, the status. */
static int row_date_status(reader *r, char **cells, size_t *lens, int n, long line, df_record *rec)
{
    const int *col = r->map->col;
    const char *s;
    size_t len;
    if (col[DF_FIELD_DATE] >= 0) {
        s = cell_len(cells, lens, n, col[DF_FIELD_DATE], &len);
        if (s && strlen(s) != len) /* "2016-10-17\0junk" is not a date (issue 17 item 18) */
            return reject(r, line, col[DF_FIELD_DATE], DF_REJECT_BAD_ENCODING, "a NUL byte in a date"), 1;
        if (!s || df_date_parse(s, &rec->date) != 0) {
            r->stats->excel_dates += s && is_excel_serial(s);
            return reject(r, line, col[DF_FIELD_DATE], DF_REJECT_BAD_DATE, s ? s : "(empty)"), 1;
        }
    }
    /* a NUL in any other mapped column (coordinates: the text columns are
     * checked above, the counts below) */
    for (int i = 0; i < r->nnul; i++) /* the columns, in the order of their fields, listed by reader_init */
        if (r->nul_cols[i] < n && memchr(cells[r->nul_cols[i]], '\0', lens[r->nul_cols[i]]))
            return reject(r, line, r->nul_cols[i], DF_REJECT_BAD_ENCODING, "a NUL byte in a value"), 1;
    if ((s = cell(cells, n, col[DF_FIELD_STATUS])) && df__parse_status(s, &rec->status) != 0)
        return reject(r, line, col[DF_FIELD_STATUS], DF_REJECT_BAD_STATUS, s), 1;
    return ROW_ON;
}

/* The column a row's count is blamed on: individuals, else families. */
static int count_col(const reader *r)
{
    const int *col = r->map->col;
    return col[DF_FIELD_INDIVIDUALS] >= 0 ? col[DF_FIELD_INDIVIDUALS] : col[DF_FIELD_FAMILIES];
}

/* Counts: families and individuals; individuals = families x size when absent. */
static int row_counts(reader *r, char **cells, size_t *lens, int n, long line, df_record *rec)
{
    const int *col = r->map->col;
    const char *s;
    size_t len;
    int64_t fam = -1, ind = -1;
    const int count_cols[2] = {col[DF_FIELD_FAMILIES], col[DF_FIELD_INDIVIDUALS]};
    int64_t *count_out[2] = {&fam, &ind};
    for (int k = 0; k < 2; k++) {
        if (!(s = cell_len(cells, lens, n, count_cols[k], &len))) continue;
        if (strlen(s) != len) /* a NUL byte inside: not text at all */
            return reject(r, line, count_cols[k], DF_REJECT_BAD_ENCODING, "a NUL byte in a count"), 1;
        if (df__parse_count(s, len, count_out[k]) != 0)
            return reject(r, line, count_cols[k], DF_REJECT_BAD_COUNT, s), 1;
        if (*count_out[k] < 0) return reject(r, line, count_cols[k], DF_REJECT_NEGATIVE_COUNT, s), 1;
    }
    if (ind < 0 && fam >= 0) {
        double x = (double)fam * r->opts->household_size;
        if (!(x < 9.2e18)) /* families x size beyond 64 bits */
            return reject(r, line, count_cols[0], DF_REJECT_BAD_COUNT, "families x household size exceeds 2^63"), 1;
        ind = (int64_t)llround(x);
        rec->individuals_derived = 1;
    }
    if (ind < 0) return reject(r, line, count_col(r), DF_REJECT_NO_COUNT, "(empty)"), 1;
    rec->families = fam;
    rec->individuals = ind;
    return ROW_ON;
}

/* Coordinates: both or neither; in range; not the 0,0 placeholder. */
static int row_coordinates(reader *r, char **cells, size_t *lens, int n, long line, df_record *rec)
{
    const int *col = r->map->col;
    size_t lat_len = 0, lon_len = 0;
    const char *slat = cell_len(cells, lens, n, col[DF_FIELD_LAT], &lat_len);
    const char *slon = cell_len(cells, lens, n, col[DF_FIELD_LON], &lon_len);
    if (!slat && !slon) return ROW_ON;
    int bad_col = !slat ? col[DF_FIELD_LAT] : col[DF_FIELD_LON];
    if (!slat || !slon) return reject(r, line, bad_col, DF_REJECT_BAD_COORDINATES, "only one of latitude/longitude"), 1;
    if (df__parse_double(slat, lat_len, &rec->lat) != 0 || fabs(rec->lat) > 90)
        return reject(r, line, col[DF_FIELD_LAT], DF_REJECT_BAD_COORDINATES, slat), 1;
    if (df__parse_double(slon, lon_len, &rec->lon) != 0 || fabs(rec->lon) > 180)
        return reject(r, line, col[DF_FIELD_LON], DF_REJECT_BAD_COORDINATES, slon), 1;
    if (rec->lat == 0 && rec->lon == 0) return reject(r, line, col[DF_FIELD_LAT], DF_REJECT_NULL_ISLAND, "0,0"), 1;
    return ROW_ON;
}

/* The places and the other text of the row, borrowed from its cells. */
static void row_places(const reader *r, char **cells, int n, df_record *rec)
{
    const int *col = r->map->col;
    rec->location.name[1] = cell(cells, n, col[DF_FIELD_ADM1]);
    rec->location.pcode[1] = cell(cells, n, col[DF_FIELD_ADM1_PCODE]);
    rec->location.name[2] = cell(cells, n, col[DF_FIELD_ADM2]);
    rec->location.pcode[2] = cell(cells, n, col[DF_FIELD_ADM2_PCODE]);
    rec->location.name[3] = cell(cells, n, col[DF_FIELD_ADM3]);
    rec->location.pcode[3] = cell(cells, n, col[DF_FIELD_ADM3_PCODE]);
    /* "Not available" and the like: an unknown origin, not a name to match */
    rec->origin.name[1] = known(cell(cells, n, col[DF_FIELD_ORIGIN_ADM1]));
    rec->origin.pcode[1] = known(cell(cells, n, col[DF_FIELD_ORIGIN_ADM1_PCODE]));
    rec->origin.name[2] = known(cell(cells, n, col[DF_FIELD_ORIGIN_ADM2]));
    rec->origin.pcode[2] = known(cell(cells, n, col[DF_FIELD_ORIGIN_ADM2_PCODE]));
    rec->origin.name[3] = known(cell(cells, n, col[DF_FIELD_ORIGIN_ADM3]));
    rec->displacement.name[1] = cell(cells, n, col[DF_FIELD_DISPLACEMENT_ADM1]);
    rec->displacement.name[2] = cell(cells, n, col[DF_FIELD_DISPLACEMENT_ADM2]);
    rec->displacement.pcode[2] = cell(cells, n, col[DF_FIELD_DISPLACEMENT_ADM2_PCODE]);
    rec->location_name = cell(cells, n, col[DF_FIELD_LOCATION]);
    rec->shelter = cell(cells, n, col[DF_FIELD_SHELTER]);
    rec->operation = cell(cells, n, col[DF_FIELD_OPERATION]);
    rec->assessment = cell(cells, n, col[DF_FIELD_ASSESSMENT]);
    rec->split = cell(cells, n, col[DF_FIELD_SPLIT]);
    rec->level = row_level(r->rules, r->map, cells, n, !isnan(rec->lon));
}

/* --where, then the operations: left out, counted as filtered; then a row
 * with every field equal to an earlier one. */
static int row_filters(reader *r, char **cells, size_t *lens, int n, long line, const df_record *rec)
{
    const row_rules *rr = r->rules;
    for (int k = 0; k < rr->nwhere; k++)
        if (!value_in(rr->where[k].values, cell(cells, n, rr->where[k].col))) return r->stats->filtered++, 1;
    if (r->map->col[DF_FIELD_OPERATION] >= 0) {
        count_operation(r->stats, rec->operation ? rec->operation : "", 1, rec->date, rec->date);
        if (!operation_chosen(r->opts, rec->operation)) return r->stats->filtered++, 1;
    }
    long first = row_set_add(&r->seen, row_hash(cells, lens, n), line);
    if (first < 0) return 0; /* out of memory: stop; the caller reports it */
    if (first > 0) {
        df_read_stats *st = r->stats;
        if (st->duplicates < 8)
            st->duplicate_line[st->duplicates][0] = line, st->duplicate_line[st->duplicates][1] = first;
        st->duplicates++;
        if (r->opts->duplicates == DF_DUPLICATES_DROP) return st->dropped++, 1;
    }
    return ROW_ON;
}

static int handle_row(reader *r, char **cells, size_t *lens, int n, long line)
{
    const int *col = r->map->col;
    df_record rec;
    int rc;
    r->stats->rows++;
    if ((rc = row_shape(r, cells, lens, n, line)) != ROW_ON) return rc;
    trim_cells(cells, lens, n);

    memset(&rec, 0, sizeof rec);
    rec.line = line;
    rec.date = DF_NO_DATE;
    rec.status = r->opts->default_status;
    rec.lon = rec.lat = NAN;
    rec.has_coordinate_columns = col[DF_FIELD_LAT] >= 0 && col[DF_FIELD_LON] >= 0;
    rec.families = -1;
    if ((rc = row_date_status(r, cells, lens, n, line, &rec)) != ROW_ON ||
        (rc = row_counts(r, cells, lens, n, line, &rec)) != ROW_ON ||
        (rc = row_coordinates(r, cells, lens, n, line, &rec)) != ROW_ON)
        return rc;
    row_places(r, cells, n, &rec);
    if ((rc = row_filters(r, cells, lens, n, line, &rec)) != ROW_ON) return rc;

    /* every sum downstream is at most this total: keep it within 64 bits */
    if (rec.individuals > INT64_MAX - r->stats->individuals_valid)
        return reject(r, line, count_col(r), DF_REJECT_BAD_COUNT, "the file's total of individuals would exceed 2^63"),
               1;
    r->stats->valid++;
    r->stats->individuals_valid += rec.individuals;
    r->stats->with_point += !isnan(rec.lon);
    r->stats->with_families += rec.families >= 0;
    r->stats->returns += rec.status == DF_RETURNED;
    const df_place *start = rec.status == DF_RETURNED ? &rec.displacement : &rec.origin;
    int stated = 0;
    for (int lv = 1; lv <= 3; lv++) stated |= start->name[lv] || start->pcode[lv];
    r->stats->with_origin += stated;
    return r->on_record(&rec, r->user) == 0;
}

/* A row of the next kind: 1 a row, 2 a CSV record skipped for a field over
 * DF__CSV_MAX_FIELD (n the field's number). Returns as handle_row. */
static int handle_next(reader *r, int rc, char **cells, size_t *lens, int n, long line)
{
    if (rc == 1) return handle_row(r, cells, lens, n, line);
    char detail[64];
    snprintf(detail, sizeof detail, "longer than %zu MB", DF__CSV_MAX_FIELD >> 20);
    r->stats->rows++;
    return reject(r, line, n - 1, DF_REJECT_FIELD_TOO_LONG, detail), 1;
}

/* ---- the read ------------------------------------------------------------------- */

/* A copy of one row, kept while the reader's buffer moves on (rc 2: a
 * record skipped for a long field, n its number, no cells). */
typedef struct {
    char **cells;
    size_t *lens;
    int n, rc;
    long line;
} held_row;

static int keep_row(held_row *h, char **cells, size_t *lens, int n, long line)
{
    h->cells = calloc((size_t)n + 1, sizeof *h->cells);
    h->lens = calloc((size_t)n + 1, sizeof *h->lens);
    if (!h->cells || !h->lens) return -1;
    h->n = n;
    h->rc = 1;
    h->line = line;
    for (int i = 0; i < n; i++) {
        if (!(h->cells[i] = malloc(lens[i] + 1))) return -1;
        memcpy(h->cells[i], cells[i], lens[i] + 1);
        h->lens[i] = lens[i];
    }
    return 0;
}

/* An opened df__source with its columns resolved: the header, the HXL row and a
 * first data row (kept in `held` when it was read to look for them). */
typedef struct {
    df__source src;
    column_map map;
    held_row held;
    row_rules rules;
    int dtm_hxl; /* the count column is tagged #affected+idps */
} opened;

static void opened_close(opened *o)
{
    for (int i = 0; o->held.cells && i < o->held.n; i++) free(o->held.cells[i]);
    free(o->held.cells);
    free(o->held.lens);
    df__source_close(&o->src);
}

/* The header and HXL rows: a NUL byte would cut a name short and hide
 * the column (issue 17 item 18). */
static df_status no_nul(df_ctx *ctx, const char *path, long line, char **cells, const size_t *lens, int n)
{
    for (int i = 0; i < n; i++)
        if (strlen(cells[i]) != lens[i])
            return df__error(ctx, DF_EFORMAT, "%s:%ld: column %d (\"%s...\"): a NUL byte in the header", path, line,
                             i + 1, cells[i]);
    return DF_OK;
}

/* The where filters, the operations asked for, and the kind of table. */
static df_status resolve_rules(df_ctx *ctx, const df_record_opts *opts, opened *o, df_read_stats *stats)
{
    const df__source *src = &o->src;
    const int *col = o->map.col;
    row_rules *rr = &o->rules;
    for (int k = 0; opts->where && opts->where[k]; k++) {
        const char *w = opts->where[k], *eq = strchr(w, '=');
        if (!eq || eq == w) return df__error(ctx, DF_EINVAL, "--where \"%s\": not COLUMN=VALUE[,VALUE...]", w);
        if (rr->nwhere == MAX_WHERE) return df__error(ctx, DF_EINVAL, "--where: at most %d filters", MAX_WHERE);
        int c = -1;
        size_t len = (size_t)(eq - w);
        for (int i = 0; i < src->nheader && c < 0; i++)
            if (strlen(src->header[i]) == len && !strncasecmp(src->header[i], w, len)) c = i;
        for (int f = 0; f < DF_FIELD_COUNT && c < 0; f++) /* or a field: level, assessment, operation */
            if (strlen(field_names[f]) == len && !strncasecmp(field_names[f], w, len)) c = col[f];
        if (c < 0)
            return df__error(ctx, DF_ESCHEMA, "%s: --where %s: no column named \"%.*s\" in the header", opts->path, w,
                             (int)len, w);
        rr->where[rr->nwhere].col = c;
        rr->where[rr->nwhere++].values = eq + 1;
    }
    if (opts->operations && col[DF_FIELD_OPERATION] < 0)
        return df__error(ctx, DF_ESCHEMA,
                         "%s: --operation: the table has no operation column (name one with --map operation=COLUMN)",
                         opts->path);
    rr->has_pcodes = col[DF_FIELD_ADM1_PCODE] >= 0 || col[DF_FIELD_ADM2_PCODE] >= 0 || col[DF_FIELD_ADM3_PCODE] >= 0;
    rr->has_names = col[DF_FIELD_ADM1] >= 0 || col[DF_FIELD_ADM2] >= 0 || col[DF_FIELD_ADM3] >= 0;

    /* the kind: as told, or a DTM API table's (people present at each round) */
    stats->kind = opts->kind;
    if (opts->kind != DF_KIND_AUTO) {
        snprintf(stats->kind_why, sizeof stats->kind_why, "%s, as told",
                 opts->kind == DF_SNAPSHOTS ? "snapshots" : "increments");
        return DF_OK;
    }
    char key[64] = "";
    if (col[DF_FIELD_INDIVIDUALS] >= 0 && col[DF_FIELD_INDIVIDUALS] < src->nheader)
        header_key(src->header[col[DF_FIELD_INDIVIDUALS]], key, sizeof key);
    const char *why = !strcmp(key, "numpresentidpind")                      ? "numPresentIdpInd"
                      : o->dtm_hxl                                          ? "#affected+idps"
                      : col[DF_FIELD_ROUND] >= 0 && col[DF_FIELD_DATE] >= 0 ? "a round number and a reporting date"
                                                                            : NULL;
    stats->kind = why ? DF_SNAPSHOTS : DF_INCREMENTS;
    if (why)
        snprintf(stats->kind_why, sizeof stats->kind_why,
                 "snapshots: a DTM API table (%s), people present at each reporting date (--increments to add rows "
                 "up instead)",
                 why);
    else
        snprintf(stats->kind_why, sizeof stats->kind_why,
                 "increments: no kind given and no DTM API column; rows are added up (--snapshots if they count "
                 "people present at a date)");
    df__log(ctx, DF_LOG_INFO, "%s: read as %s", opts->path, stats->kind_why);
    return DF_OK;
}

/* Columns of the same name: the first is found by name (--map, --where,
 * the DTM header names), the others never; say which is used (issue 17
 * item 19). */
static void warn_duplicate_columns(df_ctx *ctx, const char *path, const df__source *src, const column_map *m)
{
    for (int i = 0; i < src->nheader; i++) {
        int seen = 0;
        for (int k = 0; k < i && !seen; k++) seen = !strcasecmp(src->header[k], src->header[i]);
        if (seen || !src->header[i][0]) continue;
        char cols[128] = "", used[160] = "";
        int n = 0;
        for (int k = i; k < src->nheader; k++) {
            if (strcasecmp(src->header[k], src->header[i])) continue;
            size_t l = strlen(cols);
            snprintf(cols + l, sizeof cols - l, "%s%d", n++ ? ", " : "", k + 1);
            for (int f = 0; f < DF_FIELD_COUNT; f++) {
                if (m->col[f] != k) continue;
                l = strlen(used);
                snprintf(used + l, sizeof used - l, "%scolumn %d as %s", used[0] ? ", " : "", k + 1, field_names[f]);
            }
        }
        if (n > 1)
            df__log(ctx, DF_LOG_WARN, "%s: the header has %d columns named \"%s\" (columns %s): %s%s%s", path, n,
                    src->header[i], cols, used[0] ? "used: " : "none of them is used", used,
                    used[0] ? "; the others are ignored"
                            : " (a name finds the first; map another by number: --map FIELD=N)");
    }
}

/* A CSV's first line: a header, unless told otherwise or it looks like
 * data; *hxl_first when it is a line of HXL tags. */
static df_status csv_first_line(df_ctx *ctx, const df_record_opts *opts, opened *o, int *hxl_first)
{
    df__source *src = &o->src;
    char **cells;
    size_t *lens;
    int n;
    long line;
    df_status st;
    int rc = df__csv_next(src->csv, &cells, &lens, &n, &line);
    if (rc < 0) return ctx->status;
    if (rc == 0) return df__error(ctx, DF_EFORMAT, "%s: the file is empty", opts->path);
    if ((st = no_nul(ctx, opts->path, line, cells, lens, n)) != DF_OK) return st;
    int header = opts->header;
    if (header < 0) {
        int numeric = 0, filled = 0;
        for (int i = 0; i < n; i++) filled += cells[i][0] != '\0', numeric += looks_numeric(cells[i]);
        header = !(filled > 0 && 2 * numeric >= filled);
    }
    /* a first line of HXL tags: the tags name the columns (issue 17 item
     * 21: it was taken as a header and the file had "no count column") */
    *hxl_first = header && is_hxl_row(cells, n);
    if (header ? df__source_set_header(src, cells, n) != 0 : keep_row(&o->held, cells, lens, n, line) != 0)
        return df__error(ctx, DF_ENOMEM, "out of memory");
    df__csv_skip_long(src->csv); /* a data row with a huge field is rejected, not held */
    return DF_OK;
}

/* An HXL tag row under a CSV's header (or as its first line): its tags map
 * the columns left; a data row there is held, to be handled first. */
static df_status csv_hxl_row(df_ctx *ctx, const df_record_opts *opts, opened *o, int hxl_first, char *how, size_t cap)
{
    df__source *src = &o->src;
    column_map *map = &o->map;
    char **cells;
    size_t *lens = NULL;
    int n, rc;
    long line = 0;
    df_status st;
    if (hxl_first)
        cells = src->header, n = src->nheader, rc = 1;
    else if ((rc = df__csv_next(src->csv, &cells, &lens, &n, &line)) < 0)
        return ctx->status;
    if (rc == 1 && is_hxl_row(cells, n)) {
        if (!hxl_first && (st = no_nul(ctx, opts->path, line, cells, lens, n)) != DF_OK) return st;
        for (size_t t = 0; t < sizeof hxl_tags / sizeof *hxl_tags; t++) {
            df_field f = hxl_tags[t].field;
            for (int i = 0; i < n && map->col[f] < 0; i++) {
                if (!hxl_match(cells[i], hxl_tags[t].tag, hxl_tags[t].need, hxl_tags[t].forbid)) continue;
                int taken = 0;
                for (int g = 0; g < DF_FIELD_COUNT; g++) taken |= map->col[g] == i;
                if (taken) continue;
                map->col[f] = i;
                note(how, cap, field_names[f], cells[i], "HXL");
                if (f == DF_FIELD_INDIVIDUALS) o->dtm_hxl = hxl_match(cells[i], "#affected", "idps", "");
            }
        }
    } else if (rc == 1 && keep_row(&o->held, cells, lens, n, line) != 0) {
        return df__error(ctx, DF_ENOMEM, "out of memory"); /* a data row: handled first */
    } else if (rc == 2) {
        o->held = (held_row){NULL, NULL, n, 2, line};
    }
    return DF_OK;
}

/* The header names DTM tables use, for the columns left; a layer's point
 * geometry for lon/lat. */
static void map_header_names(const df__source *src, column_map *map, char *how, size_t cap)
{
    for (size_t t = 0; t < sizeof header_names / sizeof *header_names; t++) {
        df_field f = header_names[t].field;
        for (int i = 0; i < src->nheader && map->col[f] < 0; i++) {
            char key[128];
            header_key(src->header[i], key, sizeof key);
            if (!key[0] || !in_list(header_names[t].names, key, strlen(key))) continue;
            int taken = 0;
            for (int g = 0; g < DF_FIELD_COUNT; g++) taken |= map->col[g] == i;
            if (taken) continue;
            map->col[f] = i;
            note(how, cap, field_names[f], src->header[i], "header");
        }
    }
    if (src->point_columns && map->col[DF_FIELD_LON] < 0 && map->col[DF_FIELD_LAT] < 0) {
        map->col[DF_FIELD_LON] = src->nheader - 2;
        map->col[DF_FIELD_LAT] = src->nheader - 1;
        note(how, cap, "lon/lat", "point geometry", "OGR");
    }
}

/* One coordinate column without the other: every row would be rejected
 * although its names may match; the names are used (issue 17 item 14). */
static void drop_half_coordinates(df_ctx *ctx, const df_record_opts *opts, const df__source *src, column_map *map,
                                  char *how, size_t cap)
{
    if ((map->col[DF_FIELD_LAT] < 0) == (map->col[DF_FIELD_LON] < 0)) return;
    int has_lat = map->col[DF_FIELD_LAT] >= 0;
    char buf[32];
    df__log(ctx, DF_LOG_WARN,
            "%s: the coordinates are incomplete: a %s column (%s) and no %s column; the rows are placed by their "
            "names and P-codes only (map the other with --map %s=COLUMN)",
            opts->path, has_lat ? "latitude" : "longitude",
            column_label(src, map->col[has_lat ? DF_FIELD_LAT : DF_FIELD_LON], buf, sizeof buf),
            has_lat ? "longitude" : "latitude", has_lat ? "lon" : "lat");
    map->col[DF_FIELD_LAT] = map->col[DF_FIELD_LON] = -1;
    size_t used = strlen(how);
    snprintf(how + used, cap - used, "; %s unused: no %s column", has_lat ? "lat" : "lon",
             has_lat ? "longitude" : "latitude");
}

/* No count column: say why, when GDAL found no header row. */
static df_status no_count_column(df_ctx *ctx, const df_record_opts *opts, const df__source *src)
{
    /* GDAL names the columns Field1, Field2 ... when it finds no header
     * row: in a spreadsheet, often a header over two rows or with merged
     * cells ("Location" over "Governorate" and "District") */
    int generic = src->kind == DF__SRC_OGR && src->nheader > 0;
    for (int i = 0; generic && i < src->nheader; i++) {
        char want[16];
        snprintf(want, sizeof want, "Field%d", i + 1);
        generic = !strcmp(src->header[i], want);
    }
    if (generic)
        return df__error(ctx, DF_ESCHEMA,
                         "%s: no header row found (GDAL named the columns Field1 to Field%d): a header over two "
                         "rows or with merged cells? Make the first row one header with one name per column, or "
                         "map the columns by number (--map individuals=5,...; the header rows are then rejected). "
                         "A one-row header over cells that are all text, which GDAL cannot tell from data: "
                         "--config OGR_XLSX_HEADERS FORCE (ODS: OGR_ODS_HEADERS)",
                         opts->path, src->nheader);
    return df__error(ctx, DF_ESCHEMA,
                     "%s: no count column: name one with --map individuals=COLUMN or families=COLUMN "
                     "(or add an HXL row with #affected+ind)",
                     opts->path);
}

long df__records_opens;

static df_status open_columns(df_ctx *ctx, const df_record_opts *opts, opened *o, df_read_stats *stats)
{
    df__records_opens++;
    df__source *src = &o->src;
    column_map *map = &o->map;
    df_status st;
    int hxl_first = 0;

    memset(o, 0, sizeof *o);
    memset(stats, 0, sizeof *stats);
    for (int f = 0; f < DF_FIELD_COUNT; f++) map->col[f] = -1;
    if (!opts->path) return df__error(ctx, DF_EINVAL, "no records file given");
    if ((st = df__source_open(ctx, opts, src)) != DF_OK) return st;
    if (src->kind == DF__SRC_CSV && (st = csv_first_line(ctx, opts, o, &hxl_first)) != DF_OK) return st;

    char how[sizeof stats->columns] = "";
    if (opts->map && (st = apply_explicit_map(ctx, opts->map, src, src->nheader ? src->nheader : o->held.n, map, how,
                                              sizeof how)) != DF_OK)
        return st;
    if (src->nheader > 0 && src->kind == DF__SRC_CSV &&
        (st = csv_hxl_row(ctx, opts, o, hxl_first, how, sizeof how)) != DF_OK)
        return st;
    map_header_names(src, map, how, sizeof how);
    drop_half_coordinates(ctx, opts, src, map, how, sizeof how);
    warn_duplicate_columns(ctx, opts->path, src, map);
    snprintf(stats->columns, sizeof stats->columns, "%s", how);
    if (map->col[DF_FIELD_INDIVIDUALS] < 0 && map->col[DF_FIELD_FAMILIES] < 0) return no_count_column(ctx, opts, src);
    df__log(ctx, DF_LOG_INFO, "%s: columns: %s", opts->path, how);
    return resolve_rules(ctx, opts, o, stats);
}

static void reader_init(reader *r, df_ctx *ctx, const df_record_opts *opts, const opened *o, df_record_fn on_record,
                        df_reject_fn on_reject, void *user, void *reject_user, df_read_stats *stats)
{
    memset(r, 0, sizeof *r);
    r->ctx = ctx, r->opts = opts, r->src = &o->src, r->map = &o->map, r->rules = &o->rules;
    r->on_record = on_record, r->on_reject = on_reject, r->user = user, r->reject_user = reject_user;
    r->stats = stats;
    r->seen.drop = opts->duplicates == DF_DUPLICATES_DROP;
    r->ncols = o->src.nheader ? o->src.nheader : o->held.n;
    for (int f = 0; f < DF_FIELD_COUNT; f++)
        if (o->map.col[f] >= 0 && is_text_field[f]) r->text_cols[r->ntext++] = o->map.col[f];
    for (int f = 0; f < DF_FIELD_COUNT; f++)
        if (o->map.col[f] >= 0 && !is_text_field[f] && f != DF_FIELD_FAMILIES && f != DF_FIELD_INDIVIDUALS)
            r->nul_cols[r->nnul++] = o->map.col[f];
}

/* The rows after the header, on the calling thread. */
/* Progress every 64k rows: the share of the file's bytes read (CSV; 0 from
 * a pipe), which the context's callback may use to cancel. */
static int report_progress(df_ctx *ctx, const df__csv *csv, uint64_t size, long rows)
{
    if ((rows & 0xFFFF) != 0 || !csv) return 1;
    return df__progress(ctx, size ? (double)df__csv_offset(csv) / (double)size : 0, "reading records");
}

static uint64_t file_size(const char *path)
{
    struct stat sb;
    return strcmp(path, "-") != 0 && stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

static df_status read_rows(reader *r, opened *o)
{
    char **cells;
    size_t *lens;
    int n, rc;
    long line, rows = 0;
    uint64_t size = o->src.kind == DF__SRC_CSV ? file_size(o->src.path) : 0;
    if (o->held.rc && !handle_next(r, o->held.rc, o->held.cells, o->held.lens, o->held.n, o->held.line))
        return r->seen.failed ? df__error(r->ctx, DF_ENOMEM, "out of memory reading %s", o->src.path)
                              : df__error(r->ctx, DF_ECANCELLED, "stopped by the caller");
    while ((rc = df__source_next(&o->src, &cells, &lens, &n, &line)) == 1 || rc == 2)
        if (!handle_next(r, rc, cells, lens, n, line) || !report_progress(r->ctx, o->src.csv, size, ++rows))
            return r->seen.failed ? df__error(r->ctx, DF_ENOMEM, "out of memory reading %s", o->src.path)
                                  : df__error(r->ctx, DF_ECANCELLED, "stopped by the caller");
    if (rc >= 0 && !df__progress(r->ctx, 1.0, "reading records")) /* a cancel at the end still counts */
        return df__error(r->ctx, DF_ECANCELLED, "stopped by the caller");
    return rc < 0 ? r->ctx->status : DF_OK;
}

#define EXCEL_HINT                                                                                                     \
    "Excel serial day numbers (42675 = 2016-11-01): format the column as dates (yyyy-mm-dd) in the spreadsheet "       \
    "and save it again"

/* A file whose rows are all rejected as not UTF-8 is in another encoding:
 * an error for the whole file, with the way out. A file whose rows are all
 * rejected for any other reason is an error too, the reasons counted
 * (issue 17 item 15): an empty result is not a success. A file without data
 * rows is worth a warning. */
static df_status judge_file(df_ctx *ctx, const df_record_opts *opts, const df_read_stats *stats)
{
    if (stats->rows > 0 && stats->rejected_by[DF_REJECT_BAD_ENCODING] == stats->rows)
        return df__error(ctx, DF_EFORMAT,
                         "%s: no row is UTF-8 text: the file is in another encoding (Arabic Windows files: "
                         "iconv -f CP1256 -t UTF-8 %s > converted.csv)",
                         opts->path, opts->path);
    if (stats->rows > 0 && stats->rejected == stats->rows) {
        char why[256] = "";
        for (int k = 0; k < DF_REJECT_COUNT; k++) {
            size_t used = strlen(why);
            if (stats->rejected_by[k])
                snprintf(why + used, sizeof why - used, "%s%s %ld", used ? ", " : "", reject_names[k],
                         stats->rejected_by[k]);
        }
        int excel = stats->excel_dates == stats->rejected_by[DF_REJECT_BAD_DATE] && stats->excel_dates > 0;
        return df__error(ctx, DF_EFORMAT, "%s: every one of the %ld rows was rejected (%s)%s%s", opts->path,
                         stats->rows, why, excel ? ": the dates are " : "", excel ? EXCEL_HINT : "");
    }
    if (stats->excel_dates > 0)
        df__log(ctx, DF_LOG_WARN, "%s: rejected dates that look like " EXCEL_HINT ": %ld", opts->path,
                stats->excel_dates);
    if (stats->rows == 0) df__log(ctx, DF_LOG_WARN, "%s: no data rows", opts->path);

    /* operations: several and none chosen is refused; a name asked for must exist */
    char list[900] = "";
    size_t used = 0;
    for (int i = 0; i < stats->noperations && i < 32; i++) {
        const df_operation_stat *op = &stats->operations[i];
        char a[11], b[11];
        df_date_format(op->first, a);
        df_date_format(op->last, b);
        used += (size_t)snprintf(list + used, used < sizeof list ? sizeof list - used : 0,
                                 "\n  \"%s\": %s .. %s, %ld rows", op->name, a, b, op->rows);
        if (used >= sizeof list) used = sizeof list;
    }
    if (stats->noperations > 1 && !opts->operations)
        return df__error(ctx, DF_EINVAL,
                         "%s: the table holds %d operations, whose figures must not be added together; choose one "
                         "with --operation NAME (repeatable; job: [records] operation = NAME, NAME), or add them on "
                         "purpose with --operation all:%s",
                         opts->path, stats->noperations, list);
    for (int k = 0; opts->operations && opts->operations[k]; k++) {
        int found = !strcasecmp(opts->operations[k], "all");
        for (int i = 0; i < stats->noperations && i < 32 && !found; i++)
            found = !strcasecmp(stats->operations[i].name, opts->operations[k]);
        if (!found && stats->noperations <= 32)
            return df__error(ctx, DF_EINVAL, "%s: --operation \"%s\": no such operation in the table; it holds:%s",
                             opts->path, opts->operations[k], list);
    }

    if (stats->rows > 0 && stats->valid == 0 && stats->filtered > 0) /* an empty result is not a success */
        return df__error(ctx, DF_EINVAL, "%s: no row is left by --operation and --where (%ld rows filtered out)",
                         opts->path, stats->filtered);

    /* a table past the duplicate check's limit: compared in part only */
    if (stats->duplicates_unchecked) {
        if (opts->duplicates == DF_DUPLICATES_DROP || opts->duplicates == DF_DUPLICATES_REFUSE)
            return df__error(ctx, DF_EINVAL,
                             "%s: --duplicates %s needs every row compared, but exact duplicates are looked for among "
                             "%ld distinct rows at most (memory); %ld rows were not compared: split the table, or use "
                             "--duplicates keep",
                             opts->path, opts->duplicates == DF_DUPLICATES_DROP ? "drop" : "refuse", df__dup_max_rows,
                             stats->duplicates_unchecked);
        df__log(ctx, DF_LOG_WARN,
                "%s: exact duplicates were looked for among the first %ld distinct rows only; %ld rows after them were "
                "compared with those, not with each other (memory stays bounded)",
                opts->path, df__dup_max_rows, stats->duplicates_unchecked);
    }
    /* exact duplicates: reported with their lines, then the policy */
    if (stats->duplicates) {
        char lines[300] = "";
        used = 0;
        for (long i = 0; i < stats->duplicates && i < 8 && used < sizeof lines; i++)
            used += (size_t)snprintf(lines + used, sizeof lines - used, "%s%ld (= line %ld)", i ? ", " : "",
                                     stats->duplicate_line[i][0], stats->duplicate_line[i][1]);
        const char *more = stats->duplicates > 8 ? ", ..." : "";
        if (opts->duplicates == DF_DUPLICATES_REFUSE)
            return df__error(ctx, DF_EINVAL,
                             "%s: %ld rows repeat an earlier row field for field (lines %s%s): refused "
                             "(--duplicates drop to leave them out, keep to count them)",
                             opts->path, stats->duplicates, lines, more);
        df__log(ctx, opts->duplicates == DF_DUPLICATES_DROP ? DF_LOG_INFO : DF_LOG_WARN,
                "%s: %ld rows repeat an earlier row field for field (lines %s%s): %s", opts->path, stats->duplicates,
                lines, more,
                opts->duplicates == DF_DUPLICATES_DROP ? "dropped (--duplicates drop)"
                                                       : "counted (--duplicates drop to leave them out, refuse to "
                                                         "stop)");
    }
    return DF_OK;
}

df_status df_records_read(df_ctx *ctx, const df_record_opts *opts, df_record_fn on_record, df_reject_fn on_reject,
                          void *user, df_read_stats *stats)
{
    DF__GDAL_SCOPE(ctx);
    df_record_opts opts_local_;
    DF__OPTS_ACCEPT(ctx, df_record_opts, opts, opts_local_);
    opened o;
    reader r;
    df_status st = open_columns(ctx, opts, &o, stats);
    if (st == DF_OK) {
        reader_init(&r, ctx, opts, &o, on_record, on_reject, user, user, stats);
        st = read_rows(&r, &o);
        row_set *set = &r.seen;
        stats->duplicates_unchecked = 0;
        if (st == DF_OK && (row_set_finish(set) != 0 || seen_merge(stats, &set, 1, 1) != 0))
            st = df__error(ctx, DF_ENOMEM, "out of memory reading %s", opts->path);
        row_set_free(&r.seen);
    }
    opened_close(&o);
    return st == DF_OK ? judge_file(ctx, opts, stats) : st;
}

df_status df_records_kind(df_ctx *ctx, const df_record_opts *opts, df_table_kind *kind, char *why, size_t cap)
{
    df_record_opts opts_local_;
    DF__OPTS_ACCEPT(ctx, df_record_opts, opts, opts_local_);
    opened o;
    struct stat sb;
    /* a pipe cannot be read twice: its kind (and its header) are found by
     * the read itself, whatever was asked */
    if (opts->path && (!strcmp(opts->path, "-") || (stat(opts->path, &sb) == 0 && !S_ISREG(sb.st_mode)))) {
        *kind = DF_KIND_AUTO;
        if (why && cap) snprintf(why, cap, "a stream: the kind is found while reading it");
        return DF_OK;
    }
    df_read_stats *stats = calloc(1, sizeof *stats);
    if (!stats) return df__error(ctx, DF_ENOMEM, "out of memory");
    df_status st = open_columns(ctx, opts, &o, stats);
    opened_close(&o);
    if (st == DF_OK) {
        *kind = stats->kind;
        if (why && cap) snprintf(why, cap, "%s", stats->kind_why);
    }
    free(stats);
    return st;
}

/* ---- the parallel read: byte ranges of a plain CSV file ---------------------- */

#define PARALLEL_MIN_BYTES (8u << 20) /* below this, threads cost more than they save */
#define MAX_PIECES         64
/* Ranges per reading thread: the threads take the next range as they end
 * one, so a range slow to read (its rows' work uneven, a core shared with
 * the hash of the file) leaves no core idle at the read's end (issue 12). */
#define RANGES_PER_THREAD 8

/* Where to cut the bytes [from, to) of a plain CSV file (to 0: its end)
 * into n byte ranges, each starting at a record: starts[0] = from,
 * starts[k] the first record that begins at or after from + k/n of the
 * range; lines[k] the line ends between starts[0] and starts[k] (lines may
 * be NULL), so that every range knows its first line. from must be a
 * record's start. Without any quote or carriage return a line end ends a
 * record (one memchr pass); otherwise a pass of the reader's own rules (a
 * quote opens a field only at its start, "" inside quotes is a quote) tells
 * the line ends inside quoted fields from the others. A lone carriage
 * return (a line end to the reader, not to the cut) keeps the file on one
 * thread. Returns 0, or -1 when the range cannot be cut (not a plain file,
 * under min bytes, fewer records than n). */
static int find_cuts(const opened *o, const char *path, uint64_t from, uint64_t to, uint64_t min, int n,
                     uint64_t *starts, long *lines)
{
    struct stat sb;
    if (o->src.kind != DF__SRC_CSV || strcmp(path, "-") == 0 || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) return -1;
    uint64_t size = to ? to : (uint64_t)sb.st_size;
    if (size < from + min || size <= from) return -1;
    FILE *f = fopen(path, "rb");
    if (!f || fseeko(f, (off_t)from, SEEK_SET) != 0) return f ? fclose(f), -1 : -1;
    static _Thread_local char block[1 << 16];
    const char delim = df__csv_delimiter(o->src.csv);
    int careful = 0, k = 1, in_quotes = 0, field_start = 1, quote_pending = 0, cr_pending = 0;
    long nl = 0;
    uint64_t off = from;
    size_t got;
    starts[0] = from;
    if (lines) lines[0] = 0;
    while (k < n && (got = fread(block, 1, sizeof block, f)) > 0) {
        if (!careful && !memchr(block, '"', got) && !memchr(block, '\r', got)) { /* the fast way */
            for (char *p = block, *e; k < n && (e = memchr(p, '\n', got - (size_t)(p - block))); p = e + 1) {
                uint64_t next = off + (uint64_t)(e - block) + 1;
                nl++;
                if (next >= from + (size - from) * (uint64_t)k / (uint64_t)n) {
                    if (lines) lines[k] = nl;
                    starts[k++] = next;
                }
            }
            off += got;
            continue;
        }
        careful = 1;
        for (size_t i = 0; i < got && k < n; i++) {
            char c = block[i];
            nl += c == '\n';
            if (cr_pending) { /* outside quotes, \r ends a line alone unless \n follows */
                cr_pending = 0;
                if (c != '\n') return fclose(f), -1;
            }
            if (quote_pending) { /* a quote inside quotes: "" or the end */
                quote_pending = 0;
                if (c == '"') continue;
                in_quotes = 0;
            }
            if (in_quotes) {
                if (c == '"') quote_pending = 1;
                continue;
            }
            if (c == '"' && field_start) in_quotes = 1;
            cr_pending = c == '\r';
            field_start = c == delim || c == '\n' || c == '\r';
            uint64_t next = off + i + 1;
            if (c == '\n' && next >= from + (size - from) * (uint64_t)k / (uint64_t)n) {
                if (lines) lines[k] = nl;
                starts[k++] = next;
            }
        }
        off += got;
    }
    fclose(f);
    return k == n && starts[n - 1] < size ? 0 : -1;
}

/* ---- the fan-out read: one parse of each record, every sink fed ------------- */

long df__fanout_reads;

#define REJECTIONS_TOLD 20 /* the first rejected rows, told to the log with file:line */

typedef struct {
    df__sink *const *sinks;
    int nsinks, stop;
    void **states; /* this range's state of each sink */
    df_rejection told[REJECTIONS_TOLD];
    int ntold, failed;
} fan_range;

static int fan_record(const df_record *rec, void *user)
{
    fan_range *f = user;
    for (int i = 0; i < f->nsinks; i++)
        if (f->sinks[i]->on_record(f->states[i], rec) != 0) return f->stop = 1;
    return 0;
}

static void fan_reject(const df_rejection *rj, void *user)
{
    fan_range *f = user;
    for (int i = 0; i < f->nsinks; i++)
        if (f->sinks[i]->on_reject) f->sinks[i]->on_reject(f->states[i], rj);
    if (f->ntold == REJECTIONS_TOLD) return;
    df_rejection *k = &f->told[f->ntold++];
    *k = *rj;
    k->column = df__strdup(rj->column ? rj->column : "");
    k->detail = df__strdup(rj->detail ? rj->detail : "");
    if (!k->column || !k->detail) f->failed = 1;
}

typedef struct {
    df_ctx err;
    const df_record_opts *opts;
    const opened *o;
    uint64_t start, end;
    long line0; /* the range's first line */
    fan_range *fan;
    df_read_stats stats;
    long lines;
    int failed;
    row_set seen;
    size_t dup_max;
} fan_piece;

static void *fan_piece_main(void *arg)
{
    fan_piece *p = arg;
    df__csv *csv = NULL;
    reader r;
    char **cells;
    size_t *lens;
    int n, rc;
    long line;
    if (df__csv_open_range(&p->err, p->opts->path, df__csv_delimiter(p->o->src.csv), p->start, p->end, p->line0,
                           &csv) != DF_OK)
        return p->failed = 1, NULL;
    reader_init(&r, &p->err, p->opts, p->o, fan_record, fan_reject, p->fan, p->fan, &p->stats);
    r.seen.max = p->dup_max;
    df__csv_skip_long(csv);
    while ((rc = df__csv_next(csv, &cells, &lens, &n, &line)) == 1 || rc == 2)
        if (!handle_next(&r, rc, cells, lens, n, line)) {
            df__error(&p->err, DF_ECANCELLED, "stopped by the caller");
            break;
        }
    if (rc != 0 || row_set_finish(&r.seen) != 0) p->failed = 1; /* the range's rows sorted here, in parallel */
    p->seen = r.seen;
    p->lines = df__csv_line(csv) - p->line0;
    df__csv_close(csv);
    return NULL;
}

/* A range's sink states merged into the sinks (then freed). */
static df_status fan_merge_range(df_ctx *ctx, const char *path, fan_range *f)
{
    df_status ms = DF_OK;
    if (f->failed) ms = df__error(ctx, DF_ENOMEM, "out of memory reading %s", path);
    for (int i = 0; i < f->nsinks && ms == DF_OK; i++) {
        ms = f->sinks[i]->merge(f->sinks[i], f->states[i]);
        f->sinks[i]->thread_free(f->states[i]);
        f->states[i] = NULL;
    }
    return ms;
}

/* The reading threads: each takes the next range (in file order) until
 * none is left, or one has failed (the ranges after it are then not read:
 * the read fails with the first failed range's error). A range read is
 * merged at once if those before it are, else by the thread that merges
 * the one before it: the merges stay in file order, one at a time, and run
 * while other ranges are read (a decision log's range appended, a
 * density's last block projected), not all after the read; a range's
 * state is freed as it is merged. The ranges from a failed one on are left
 * to the read's end, which says why. */
typedef struct {
    fan_piece *pieces;
    fan_range *fans;
    df_ctx *ctx;
    const char *path;
    int n;
    atomic_int next, stop;
    pthread_mutex_t lock;
    char done[MAX_PIECES];
    int merged, merging; /* the ranges merged, in order; a thread is merging */
    df_status merge_st;
} fan_pool;

static void fan_pool_merge(fan_pool *pool, int k)
{
    pthread_mutex_lock(&pool->lock);
    pool->done[k] = 1;
    if (!pool->merging) {
        pool->merging = 1;
        while (pool->merged < pool->n && pool->done[pool->merged] && !pool->pieces[pool->merged].failed &&
               pool->merge_st == DF_OK) {
            int j = pool->merged;
            pthread_mutex_unlock(&pool->lock);
            df_status ms = fan_merge_range(pool->ctx, pool->path, &pool->fans[j]);
            pthread_mutex_lock(&pool->lock);
            if (ms != DF_OK) {
                pool->merge_st = ms;
                atomic_store(&pool->stop, 1);
            } else
                pool->merged++;
        }
        pool->merging = 0;
    }
    pthread_mutex_unlock(&pool->lock);
}

static void *fan_pool_main(void *arg)
{
    fan_pool *pool = arg;
    for (int k; !atomic_load(&pool->stop) && (k = atomic_fetch_add(&pool->next, 1)) < pool->n;) {
        fan_piece_main(&pool->pieces[k]);
        if (pool->pieces[k].failed) atomic_store(&pool->stop, 1);
        fan_pool_merge(pool, k);
    }
    return NULL;
}

/* The SHA-256 of a file, read on its own thread while others parse it (the
 * page cache serves both). */
typedef struct {
    const char *path;
    unsigned char *digest;
    int ok;
    pthread_t thread;
} hasher;

static int sha256_path(const char *path, unsigned char digest[32])
{
    FILE *f = fopen(path, "rb");
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = f && md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    static _Thread_local unsigned char buf[1 << 16];
    size_t got;
    while (ok && (got = fread(buf, 1, sizeof buf, f)) > 0) ok = EVP_DigestUpdate(md, buf, got) == 1;
    ok = ok && !ferror(f) && EVP_DigestFinal_ex(md, digest, NULL) == 1;
    EVP_MD_CTX_free(md);
    if (f) fclose(f);
    return ok ? 0 : -1;
}

static void *hash_main(void *arg)
{
    hasher *h = arg;
    h->ok = sha256_path(h->path, h->digest) == 0;
    return NULL;
}

/* Add a range's counts into the read's (its duplicates: seen_merge). */
static df_status add_range_stats(df_ctx *ctx, const df_record_opts *opts, df_read_stats *stats, const df_read_stats *ps,
                                 df_status st)
{
    stats->rows += ps->rows;
    stats->valid += ps->valid;
    stats->with_point += ps->with_point, stats->with_origin += ps->with_origin;
    stats->with_families += ps->with_families, stats->returns += ps->returns;
    stats->rejected += ps->rejected;
    stats->excel_dates += ps->excel_dates;
    if (ps->individuals_valid > INT64_MAX - stats->individuals_valid && st == DF_OK)
        st = df__error(ctx, DF_EFORMAT, "%s: the total of individuals exceeds 2^63", opts->path);
    else
        stats->individuals_valid += ps->individuals_valid;
    for (int q = 0; q < DF_REJECT_COUNT; q++) stats->rejected_by[q] += ps->rejected_by[q];
    stats->filtered += ps->filtered, stats->dropped += ps->dropped;
    for (int q = 0; q < ps->noperations && q < 32; q++) {
        const df_operation_stat *op = &ps->operations[q];
        count_operation(stats, op->name, op->rows, op->first, op->last);
    }
    return st;
}

/* ---- the read split across processes (MPI; engine/parts.c) ------------------ */

static int no_record(const df_record *rec, void *user) { return (void)rec, (void)user, 0; }
static void no_reject(const df_rejection *rj, void *user) { (void)rj, (void)user; }

/* What a range of another process tells the merge: its counts, its first
 * line and lines, its rows' hashes for the duplicate check. */
static void fan_piece_pack(df__pack *b, const fan_piece *p)
{
    int8_t failed = (int8_t)p->failed;
    df__pack_put(b, &failed, 1);
    df__pack_put(b, &p->err.status, sizeof p->err.status);
    df__pack_str(b, p->failed ? p->err.errmsg : "");
    df__pack_put(b, &p->stats, sizeof p->stats);
    df__pack_put(b, &p->start, sizeof p->start);
    df__pack_put(b, &p->line0, sizeof p->line0), df__pack_put(b, &p->lines, sizeof p->lines);
    uint64_t nseen = p->seen.n;
    int32_t nnoted = p->seen.nnoted;
    df__pack_put(b, &nseen, sizeof nseen);
    df__pack_put(b, &p->seen.unchecked, sizeof p->seen.unchecked);
    df__pack_put(b, &p->seen.dups, sizeof p->seen.dups);
    df__pack_put(b, &nnoted, sizeof nnoted);
    df__pack_put(b, p->seen.noted, sizeof p->seen.noted);
    df__parts.dup_sent += (long long)(nseen * (8 + sizeof(long))) * (df__parts.count - 1);
    for (size_t q = 0; q < p->seen.n; q++) /* the distinct rows' hashes and first lines, by hash */
        df__pack_put(b, &p->seen.v[q].hash, 8), df__pack_put(b, &p->seen.v[q].line, sizeof(long));
}

static int fan_piece_unpack(df__pack *b, fan_piece *p, int remote)
{
    int8_t failed;
    memset(p, 0, sizeof *p);
    df__pack_get(b, &failed, 1);
    p->failed = failed;
    df__pack_get(b, &p->err.status, sizeof p->err.status);
    snprintf(p->err.errmsg, sizeof p->err.errmsg, "%s", df__pack_get_str(b));
    df__pack_get(b, &p->stats, sizeof p->stats);
    df__pack_get(b, &p->start, sizeof p->start);
    df__pack_get(b, &p->line0, sizeof p->line0), df__pack_get(b, &p->lines, sizeof p->lines);
    uint64_t nseen;
    int32_t nnoted;
    df__pack_get(b, &nseen, sizeof nseen);
    df__pack_get(b, &p->seen.unchecked, sizeof p->seen.unchecked);
    df__pack_get(b, &p->seen.dups, sizeof p->seen.dups);
    df__pack_get(b, &nnoted, sizeof nnoted);
    df__pack_get(b, p->seen.noted, sizeof p->seen.noted);
    if (b->failed || nseen > b->len || nnoted < 0 || nnoted > 8) return -1;
    p->seen.nnoted = nnoted;
    if (remote) df__parts.dup_received += (long long)(nseen * (8 + sizeof(long)));
    if (nseen && !(p->seen.v = malloc(nseen * sizeof *p->seen.v))) return -1;
    p->seen.n = p->seen.cap = nseen;
    for (size_t q = 0; q < nseen && !b->failed; q++)
        df__pack_get(b, &p->seen.v[q].hash, 8), df__pack_get(b, &p->seen.v[q].line, sizeof(long));
    return b->failed ? -1 : 0;
}

/* Every process's ranges, in file order, in place of this one's, and the
 * first rejected rows of all (in fans[0].told): the merge then gives every
 * process the single-process counts and messages. */
static df_status fan_exchange(df_ctx *ctx, fan_piece **pieces, int *n, fan_range *fans, int nranges)
{
    df__pack mine = {0}, *from = calloc((size_t)df__parts.count, sizeof *from);
    unsigned char *all = NULL;
    fan_piece *every = NULL;
    int total = 0, cap = 0;
    df_status st = from ? DF_OK : df__error(ctx, DF_ENOMEM, "out of memory");
    int32_t local = *n, ntold = 0;
    df__pack_put(&mine, &local, sizeof local);
    for (int k = 0; k < *n; k++) fan_piece_pack(&mine, &(*pieces)[k]);
    for (int k = 0; k < nranges; k++) ntold += fans[k].ntold;
    if (ntold > REJECTIONS_TOLD) ntold = REJECTIONS_TOLD;
    df__pack_put(&mine, &ntold, sizeof ntold);
    for (int k = 0, q = 0; k < nranges; k++)
        for (int i = 0; i < fans[k].ntold && q < ntold; i++, q++) {
            const df_rejection *rj = &fans[k].told[i];
            df__pack_put(&mine, &rj->line, sizeof rj->line), df__pack_put(&mine, &rj->reason, sizeof rj->reason);
            df__pack_str(&mine, rj->column), df__pack_str(&mine, rj->detail);
        }
    for (int k = 0; k < nranges; k++) { /* replaced by every process's */
        for (int q = 0; q < fans[k].ntold; q++)
            free((char *)fans[k].told[q].column), free((char *)fans[k].told[q].detail);
        fans[k].ntold = 0;
    }
    if (st == DF_OK) st = df__parts_exchange(ctx, &mine, &all, from);
    for (int r = 0; st == DF_OK && r < df__parts.count; r++) {
        int32_t m, t;
        df__pack_get(&from[r], &m, sizeof m);
        if (from[r].failed || m < 0 || m > MAX_PIECES) {
            st = df__error(ctx, DF_EINVAL, "process %d sent a partial read that cannot be read back", r);
            break;
        }
        if (total + m > cap) {
            fan_piece *g = realloc(every, (size_t)(cap = total + m + 8) * sizeof *g);
            if (!g) {
                st = df__error(ctx, DF_ENOMEM, "out of memory");
                break;
            }
            every = g;
        }
        for (int k = 0; k < m && st == DF_OK; k++)
            if (fan_piece_unpack(&from[r], &every[total++], r != df__parts.index) != 0)
                st = df__error(ctx, DF_ENOMEM, "out of memory reading the partial read of process %d", r);
        df__pack_get(&from[r], &t, sizeof t);
        for (int q = 0; q < t && st == DF_OK && !from[r].failed; q++) {
            df_rejection rj;
            memset(&rj, 0, sizeof rj);
            df__pack_get(&from[r], &rj.line, sizeof rj.line), df__pack_get(&from[r], &rj.reason, sizeof rj.reason);
            const char *column = df__pack_get_str(&from[r]), *detail = df__pack_get_str(&from[r]);
            if (fans[0].ntold == REJECTIONS_TOLD) continue;
            df_rejection *k = &fans[0].told[fans[0].ntold++];
            *k = rj;
            k->column = df__strdup(column), k->detail = df__strdup(detail);
            if (!k->column || !k->detail) fans[0].failed = 1;
        }
        if (st == DF_OK && from[r].failed)
            st = df__error(ctx, DF_EINVAL, "process %d sent a partial read that cannot be read back", r);
    }
    df__pack_free(&mine);
    free(all);
    free(from);
    for (int k = 0; k < *n; k++) row_set_free(&(*pieces)[k].seen);
    free(*pieces);
    *pieces = every, *n = total; /* on failure too: the caller frees them */
    return st;
}

/* The duplicates of a fan-out read: the main reader's rows (the row read
 * with the header), then each range's in file order. 0, or -1. */
static int seen_of_read(df_read_stats *stats, row_set *first, fan_piece *pieces, int npieces, int nthreads)
{
    row_set **sets = calloc((size_t)npieces + 1, sizeof *sets);
    int rc = sets && row_set_finish(first) == 0 ? 0 : -1;
    if (rc == 0) sets[0] = first;
    for (int k = 0; rc == 0 && k < npieces; k++) sets[k + 1] = &pieces[k].seen;
    if (rc == 0) rc = seen_merge(stats, sets, npieces + 1, nthreads);
    free(sets);
    return rc;
}

df_status df__records_fanout(df_ctx *ctx, const df_record_opts *opts, df__sink *const *sinks, int nsinks, int nthreads,
                             df_read_stats *stats, unsigned char sha256[32])
{
    DF__GDAL_SCOPE(ctx);
    opened o;
    reader r;
    fan_piece *pieces = NULL;
    fan_range *fans = NULL;
    void **states = NULL;
    uint64_t starts[MAX_PIECES + 1], range_end = 0;
    long lines[MAX_PIECES + 1], share_line = 0;
    int nranges = 1, tell = 0, started = 0, npieces = 0, pieces_len = 0, merged = 0;
    hasher h = {opts->path, sha256, 0, 0};
    int hashing = 0;
    struct stat sb;
    memset(&r, 0, sizeof r);
    df__fanout_reads++;
    df_status st = open_columns(ctx, opts, &o, stats);
    if (st != DF_OK) goto done;
    if (nthreads > MAX_PIECES) nthreads = MAX_PIECES;
    if (opts->duplicates == DF_DUPLICATES_DROP) nthreads = 1; /* dropping needs every earlier row */
    uint64_t from = o.src.kind == DF__SRC_CSV ? df__csv_offset(o.src.csv) : 0;
    /* several processes (MPI), when every sink can merge partials: this
     * one's share of the records first (the same cut on every process, so
     * the shares meet end to end, with the lines before each), then its
     * threads' ranges inside it; a file too small to give every process a
     * record is read whole by each, and nothing is merged */
    int split = df__parts.count > 1 && opts->duplicates != DF_DUPLICATES_DROP;
    for (int i = 0; i < nsinks; i++) split &= sinks[i]->parts_merge != NULL;
    df__parts.split = 0;
    if (split) {
        uint64_t *shares = calloc((size_t)df__parts.count + 1, sizeof *shares);
        long *share_lines = calloc((size_t)df__parts.count + 1, sizeof *share_lines);
        if (!shares || !share_lines) { /* the run stops: the other ranks are stopped too (mpi.c) */
            free(shares), free(share_lines);
            st = df__error(ctx, DF_ENOMEM, "out of memory");
            goto done;
        }
        if (find_cuts(&o, opts->path, from, 0, 0, df__parts.count, shares, share_lines) == 0) {
            df__parts.split = 1;
            from = shares[df__parts.index], share_line = share_lines[df__parts.index];
            range_end = df__parts.index + 1 < df__parts.count ? shares[df__parts.index + 1] : 0;
        }
        free(shares), free(share_lines);
        split = df__parts.split;
    }
    /* more ranges than threads (a file too short for them: one a thread) */
    int many = nthreads * RANGES_PER_THREAD > MAX_PIECES ? MAX_PIECES : nthreads * RANGES_PER_THREAD;
    if (nthreads > 1 && find_cuts(&o, opts->path, from, range_end, PARALLEL_MIN_BYTES, many, starts, lines) == 0)
        nranges = many;
    else if (nthreads > 1 &&
             find_cuts(&o, opts->path, from, range_end, PARALLEL_MIN_BYTES, nthreads, starts, lines) == 0)
        nranges = nthreads;
    else if (split) /* the share on one thread, as a range of the file */
        starts[0] = from, lines[0] = 0;
    if (!(fans = calloc((size_t)nranges, sizeof *fans)) ||
        !(states = calloc((size_t)nranges * (size_t)nsinks + 1, sizeof *states)) ||
        ((nranges > 1 || split) && !(pieces = calloc((size_t)(pieces_len = nranges), sizeof *pieces)))) {
        st = df__error(ctx, DF_ENOMEM, "out of memory reading %s", opts->path);
        goto done;
    }
    for (int i = 0; i < nsinks; i++)
        tell |= sinks[i]->tell_rejects, sinks[i]->read = stats,
                                        sinks[i]->ranges = nranges * (split ? df__parts.count : 1);
    for (int k = 0; k < nranges; k++) {
        fans[k].sinks = sinks, fans[k].nsinks = nsinks, fans[k].states = states + (size_t)k * (size_t)nsinks;
        for (int i = 0; i < nsinks; i++)
            if (!(fans[k].states[i] = sinks[i]->thread_new(sinks[i], k))) {
                st = df__error(ctx, DF_ENOMEM, "out of memory reading %s", opts->path);
                goto done;
            }
    }
    /* the digest: a file of its own thread; a stream cannot be read twice */
    if (sha256 && strcmp(opts->path, "-") && stat(opts->path, &sb) == 0 && S_ISREG(sb.st_mode)) {
        if (pthread_create(&h.thread, NULL, hash_main, &h) != 0) {
            st = df__error(ctx, DF_ENOMEM, "cannot start a thread to hash %s", opts->path);
            goto done;
        }
        hashing = 1;
    }
    /* the row kept while looking for the header is process 0's: the others
     * count it (every process's counts start the same) but feed no sink */
    if (split && df__parts.index > 0)
        reader_init(&r, ctx, opts, &o, no_record, no_reject, NULL, NULL, stats);
    else
        reader_init(&r, ctx, opts, &o, fan_record, fan_reject, &fans[0], &fans[0], stats);
    if (nranges == 1 && !split) {
        st = read_rows(&r, &o);
        goto merge;
    }
    /* the row kept while looking for the header goes first, into range 0 */
    if (o.held.rc && !handle_next(&r, o.held.rc, o.held.cells, o.held.lens, o.held.n, o.held.line)) {
        st = df__error(ctx, DF_ECANCELLED, "stopped by the caller");
        goto merge;
    }
    long first_line = df__csv_line(o.src.csv);
    for (int k = 0; k < nranges; k++) {
        fan_piece *p = &pieces[k];
        p->opts = opts, p->o = &o, p->fan = &fans[k];
        p->dup_max = (size_t)df__dup_max_rows / (size_t)(nranges * df__parts.count) + 1;
        p->start = starts[k];
        p->end = k + 1 < nranges ? starts[k + 1] : range_end;
        p->line0 = first_line + share_line + lines[k];
    }
    /* nthreads - 1 threads and this one take the ranges (a thread that
     * cannot be started leaves its ranges to the others) */
    fan_pool pool = {.pieces = pieces, .fans = fans, .ctx = ctx, .path = opts->path, .n = nranges};
    pthread_mutex_init(&pool.lock, NULL);
    pthread_t workers[MAX_PIECES];
    int nworkers = nthreads < nranges ? nthreads : nranges;
    for (int t = 1; t < nworkers && pthread_create(&workers[started], NULL, fan_pool_main, &pool) == 0; t++) started++;
    fan_pool_main(&pool);
    for (int t = 0; t < started; t++) pthread_join(workers[t], NULL);
    pthread_mutex_destroy(&pool.lock);
    merged = pool.merged;
    st = pool.merge_st; /* a merge that failed said why */
    df__log(ctx, DF_LOG_DEBUG, "%s: read on %d threads (%d ranges)", opts->path, started + 1, nranges);
    if (!df__progress(ctx, 1.0, "reading records") && st == DF_OK)
        st = df__error(ctx, DF_ECANCELLED, "stopped by the caller");
    npieces = nranges;
    /* MPI: every process's ranges, so that all merge the same counts (always:
     * every process waits for this one's) */
    if (split) {
        df_status xs = fan_exchange(ctx, &pieces, &npieces, fans, nranges);
        pieces_len = npieces;
        if (xs != DF_OK && st == DF_OK) st = xs;
    }
    for (int k = 0; k < npieces; k++) {
        fan_piece *p = &pieces[k];
        if (p->failed && st == DF_OK)
            st = p->err.status != DF_OK ? df__error(ctx, p->err.status, "%s", p->err.errmsg)
                                        : df__error(ctx, DF_ENOMEM, "out of memory reading %s", opts->path);
        if (k + 1 < npieces && p->line0 + p->lines != pieces[k + 1].line0 && st == DF_OK) /* the cut's count */
            st = df__error(ctx, DF_EFORMAT, "%s: the line ends before byte %llu counted %ld lines, the reader %ld",
                           opts->path, (unsigned long long)pieces[k + 1].start, pieces[k + 1].line0 - first_line,
                           p->line0 + p->lines - first_line);
        st = add_range_stats(ctx, opts, stats, &p->stats, st);
    }

merge:
    /* a sink that stopped the read says why in its merge (out of memory) */
    if (st == DF_OK || st == DF_ECANCELLED)
        for (int k = merged; k < nranges; k++) { /* those the threads did not merge */
            df_status ms = fan_merge_range(ctx, opts->path, &fans[k]);
            if (ms != DF_OK) { /* over a cancel too: a sink that stopped says why */
                st = ms;
                break;
            }
        }
    /* MPI: each sink's partial state exchanged, merged in process order */
    for (int i = 0; split && st == DF_OK && i < nsinks; i++) st = sinks[i]->parts_merge(ctx, sinks[i]);
    /* the first rejected rows, in file order */
    int told = 0;
    for (int k = 0; k < nranges && tell && (st == DF_OK || st == DF_ECANCELLED); k++)
        for (int q = 0; q < fans[k].ntold && told < REJECTIONS_TOLD; q++) {
            const df_rejection *rj = &fans[k].told[q];
            told++;
            df__log(ctx, DF_LOG_WARN, "%s:%ld: %s: %s \"%s\"%s", opts->path, rj->line, rj->column,
                    df_reject_name(rj->reason), rj->detail,
                    told == REJECTIONS_TOLD ? " (further rejected rows: see --log)" : "");
        }
done:
    if (hashing) {
        pthread_join(h.thread, NULL);
        if (!h.ok && st == DF_OK) st = df__error(ctx, DF_EIO, "cannot read %s to hash it", opts->path);
    }
    for (int k = 0; fans && k < nranges; k++) {
        for (int i = 0; i < nsinks; i++)
            if (fans[k].states && fans[k].states[i]) sinks[i]->thread_free(fans[k].states[i]);
        for (int q = 0; q < fans[k].ntold; q++)
            free((char *)fans[k].told[q].column), free((char *)fans[k].told[q].detail);
    }
    if (st == DF_OK && seen_of_read(stats, &r.seen, pieces, npieces, nthreads) != 0)
        st = df__error(ctx, DF_ENOMEM, "out of memory reading %s", opts->path);
    for (int k = 0; pieces && k < pieces_len; k++) row_set_free(&pieces[k].seen);
    row_set_free(&r.seen);
    df__parts.split = 0; /* the sinks' merges are done */
    free(pieces);
    free(fans);
    free(states);
    opened_close(&o);
    return st == DF_OK ? judge_file(ctx, opts, stats) : st;
}

/* ---- a spool of records: an ordered sink replayed after the read ---------- */

#define SPOOL_MAX_RANGES (MAX_PIECES + 1) /* the threads', and the other processes' (MPI) */
#define SPOOL_NO_TEXT    0xFFFFFFFFu

typedef struct {
    df__sink base;
    df_ctx *ctx;
    int (*keep)(const df_record *r, void *user);
    void *user;
    FILE *range[SPOOL_MAX_RANGES]; /* each range's records, in file order */
    long count[SPOOL_MAX_RANGES];
    int nrange;
} spool_sink;

/* A range's records are put together in memory and written a buffer at a
 * time (per field, stdio's calls were a tenth of the replays' time). */
#define SPOOL_BUFFER (256u << 10)

typedef struct {
    spool_sink *s;
    FILE *f;
    long n;
    unsigned char *buf; /* SPOOL_BUFFER bytes once the first record comes */
    size_t len;
    int failed, err; /* err: the errno of a failed write */
} spool_range;

/* The fields a replayed record carries (what the records layer and the
 * hosting tables read); the others are as a record without them. */
typedef struct {
    long line;
    int32_t date;
    int status, level, individuals_derived, has_coordinate_columns;
    double lon, lat;
    int64_t individuals, families;
} spool_fixed;

static int spool_flush(spool_range *p)
{
    if (p->len && fwrite(p->buf, 1, p->len, p->f) != p->len) p->failed = 1, p->err = errno ? errno : EIO;
    p->len = 0;
    return p->failed;
}

static void spool_put(spool_range *p, const void *data, size_t n)
{
    while (n) {
        size_t k = SPOOL_BUFFER - p->len < n ? SPOOL_BUFFER - p->len : n;
        memcpy(p->buf + p->len, data, k);
        p->len += k, data = (const unsigned char *)data + k, n -= k;
        if (p->len == SPOOL_BUFFER) spool_flush(p);
    }
}

static void put_text(spool_range *p, const char *s)
{
    uint32_t n = s ? (uint32_t)strlen(s) : SPOOL_NO_TEXT;
    spool_put(p, &n, sizeof n);
    if (s) spool_put(p, s, n);
}

static void *spool_range_new(void *sink, int range)
{
    spool_range *p = calloc(1, sizeof *p);
    (void)range;
    if (!p) return NULL;
    p->s = sink;
    if (!(p->f = tmpfile())) return free(p), NULL;
    return p;
}

static void spool_range_free(void *state)
{
    spool_range *p = state;
    if (!p) return;
    if (p->f) fclose(p->f);
    free(p->buf);
    free(p);
}

static int spool_record(void *state, const df_record *r)
{
    spool_range *p = state;
    if (!p->s->keep(r, p->s->user)) return 0;
    if (!p->buf && !(p->buf = malloc(SPOOL_BUFFER))) return p->failed = 1, p->err = ENOMEM, 1;
    spool_fixed x = {r->line, r->date, (int)r->status, r->level,   r->individuals_derived, r->has_coordinate_columns,
                     r->lon,  r->lat,  r->individuals, r->families};
    spool_put(p, &x, sizeof x);
    put_text(p, r->operation);
    put_text(p, r->shelter);
    put_text(p, r->location_name);
    for (int l = 1; l <= 3; l++) put_text(p, r->location.name[l]);
    p->n++;
    return p->failed;
}

static df_status spool_merge(void *sink, void *state)
{
    spool_sink *s = sink;
    spool_range *p = state;
    if (!p->failed && (spool_flush(p) || fflush(p->f) != 0) && !p->err) p->err = errno ? errno : EIO;
    if (p->failed || p->err)
        return df__error(s->ctx, p->err == ENOMEM ? DF_ENOMEM : DF_EIO, "cannot write a temporary file of records: %s",
                         strerror(p->err));
    free(p->buf), p->buf = NULL;
    s->count[s->nrange] = p->n;
    s->range[s->nrange++] = p->f, p->f = NULL; /* the sink's now */
    return DF_OK;
}

/* MPI: the other processes' spooled records, gathered to process 0 in
 * process order and appended to its own as one more range: only process 0
 * writes the records
 * layer and the tables that replay the spool. The other processes' spools
 * are left as they are (their own share; they write nothing). */
static df_status spool_parts_merge(df_ctx *ctx, void *sink)
{
    spool_sink *s = sink;
    df__pack mine = {0}, *from = calloc((size_t)df__parts.count, sizeof *from);
    unsigned char *all = NULL;
    df_status st = from ? DF_OK : df__error(ctx, DF_ENOMEM, "out of memory");
    int64_t n = 0;
    for (int k = 0; df__parts.index > 0 && k < s->nrange; k++) n += s->count[k];
    df__pack_put(&mine, &n, sizeof n);
    for (int k = 0; df__parts.index > 0 && k < s->nrange && st == DF_OK; k++) {
        char buf[1 << 15];
        size_t got;
        rewind(s->range[k]);
        while ((got = fread(buf, 1, sizeof buf, s->range[k])) > 0) df__pack_put(&mine, buf, got);
        if (ferror(s->range[k]))
            st = df__error(ctx, DF_EIO, "cannot read a temporary file of records: %s", strerror(errno));
    }
    if (st == DF_OK) st = df__parts_gather(ctx, &mine, &all, from); /* to process 0 only */
    if (st == DF_OK && df__parts.index == 0 && s->nrange == SPOOL_MAX_RANGES)
        st = df__error(ctx, DF_EINVAL, "too many ranges of records to spool");
    FILE *f = st == DF_OK && df__parts.index == 0 ? tmpfile() : NULL;
    if (st == DF_OK && df__parts.index == 0 && !f)
        st = df__error(ctx, DF_EIO, "cannot write a temporary file of records: %s", strerror(errno));
    long total = 0;
    for (int r = 1; f && st == DF_OK && r < df__parts.count; r++) {
        int64_t m;
        df__pack_get(&from[r], &m, sizeof m);
        size_t len = from[r].len - from[r].at;
        if (from[r].failed || m < 0)
            st = df__error(ctx, DF_EINVAL, "process %d sent records that cannot be read", r);
        else if (fwrite(from[r].data + from[r].at, 1, len, f) != len || fflush(f) != 0)
            st = df__error(ctx, DF_EIO, "cannot write a temporary file of records: %s", strerror(errno));
        total += (long)m;
    }
    if (f && st == DF_OK) s->count[s->nrange] = total, s->range[s->nrange++] = f, f = NULL;
    if (f) fclose(f);
    df__pack_free(&mine);
    free(all);
    free(from);
    return st;
}

df_status df__spool_new(df_ctx *ctx, int (*keep)(const df_record *r, void *user), void *user, df__sink **out)
{
    spool_sink *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s) return df__error(ctx, DF_ENOMEM, "out of memory");
    s->base = (df__sink){"spool",
                         spool_range_new,
                         spool_record,
                         NULL,
                         spool_merge,
                         NULL,
                         spool_range_free,
                         1,
                         0,
                         NULL,
                         spool_parts_merge,
                         0};
    s->ctx = ctx, s->keep = keep, s->user = user;
    *out = &s->base;
    return DF_OK;
}

long df__spool_count(const df__sink *sink)
{
    const spool_sink *s = (const spool_sink *)sink;
    long n = 0;
    for (int k = 0; k < s->nrange; k++) n += s->count[k];
    return n;
}

/* A range's file read a buffer at a time; need() makes n bytes ready at at. */
typedef struct {
    FILE *f;
    unsigned char *buf;
    size_t cap, len, at;
} spool_in;

static int need(spool_in *in, size_t n)
{
    if (in->len - in->at >= n) return 0;
    memmove(in->buf, in->buf + in->at, in->len - in->at);
    in->len -= in->at, in->at = 0;
    if (n > in->cap) {
        unsigned char *b = realloc(in->buf, n);
        if (!b) return -2;
        in->buf = b, in->cap = n;
    }
    in->len += fread(in->buf + in->len, 1, in->cap - in->len, in->f);
    return in->len >= n ? 0 : -1;
}

static int get_text(spool_in *in, char **buf, size_t *cap, const char **out)
{
    uint32_t n;
    int rc = need(in, sizeof n);
    if (rc) return rc;
    memcpy(&n, in->buf + in->at, sizeof n);
    in->at += sizeof n;
    if (n == SPOOL_NO_TEXT) return *out = NULL, 0;
    if ((size_t)n + 1 > *cap) {
        char *b = realloc(*buf, (size_t)n + 1);
        if (!b) return -2;
        *buf = b, *cap = (size_t)n + 1;
    }
    if (n && (rc = need(in, n)) != 0) return rc;
    memcpy(*buf, in->buf + in->at, n);
    in->at += n;
    (*buf)[n] = '\0';
    *out = *buf;
    return 0;
}

df_status df__spool_replay(df_ctx *ctx, df__sink *sink, df_record_fn fn, void *user)
{
    spool_sink *s = (spool_sink *)sink;
    char *text[6] = {NULL};
    size_t cap[6] = {0};
    spool_in in = {.cap = SPOOL_BUFFER};
    df_status st = (in.buf = malloc(in.cap)) ? DF_OK : df__error(ctx, DF_ENOMEM, "out of memory");
    for (int k = 0; k < s->nrange && st == DF_OK; k++) {
        in.f = s->range[k], in.len = in.at = 0;
        rewind(in.f);
        for (long i = 0; i < s->count[k] && st == DF_OK; i++) {
            spool_fixed x;
            df_record r;
            const char *t[6];
            int rc = need(&in, sizeof x);
            if (rc == 0) memcpy(&x, in.buf + in.at, sizeof x), in.at += sizeof x;
            for (int q = 0; q < 6 && rc == 0; q++) rc = get_text(&in, &text[q], &cap[q], &t[q]);
            if (rc == -2) st = df__error(ctx, DF_ENOMEM, "out of memory");
            if (rc == -1)
                st = df__error(ctx, DF_EIO, "cannot read a temporary file of records: %s",
                               ferror(in.f) ? strerror(errno) : "it ends early");
            if (rc) break;
            memset(&r, 0, sizeof r);
            r.line = x.line, r.date = x.date, r.status = (df_movement)x.status, r.level = x.level;
            r.individuals_derived = x.individuals_derived, r.has_coordinate_columns = x.has_coordinate_columns;
            r.lon = x.lon, r.lat = x.lat, r.individuals = x.individuals, r.families = x.families;
            r.operation = t[0], r.shelter = t[1], r.location_name = t[2];
            for (int l = 1; l <= 3; l++) r.location.name[l] = t[2 + l];
            if (fn(&r, user) != 0) st = df__error(ctx, DF_ECANCELLED, "stopped by the caller");
        }
    }
    for (int q = 0; q < 6; q++) free(text[q]);
    free(in.buf);
    return st;
}

void df__spool_free(df__sink *sink)
{
    spool_sink *s = (spool_sink *)sink;
    if (!s) return;
    for (int k = 0; k < s->nrange; k++) fclose(s->range[k]);
    free(s);
}

/* ---- records pushed by a caller (df_join_add and the like) ------------------ */

df_status df__pushed_record(df_ctx *ctx, df_read_stats *stats, const df_record *r)
{
    if (r->individuals < 0 || r->families < -1)
        return df__error(ctx, DF_EINVAL, "record %ld: a negative count (%lld individuals)", r->line,
                         (long long)r->individuals);
    if (r->individuals > INT64_MAX - stats->individuals_valid)
        return df__error(ctx, DF_EFORMAT, "record %ld: the total of individuals would exceed 2^63", r->line);
    stats->rows++;
    stats->valid++;
    stats->individuals_valid += r->individuals;
    stats->with_point += !isnan(r->lon) && !isnan(r->lat);
    stats->with_families += r->families >= 0;
    stats->returns += r->status == DF_RETURNED;
    const df_place *start = r->status == DF_RETURNED ? &r->displacement : &r->origin;
    int stated = 0;
    for (int lv = 1; lv <= 3; lv++) stated |= start->name[lv] || start->pcode[lv];
    stats->with_origin += stated;
    return DF_OK;
}

void df__pushed_stats_add(df_read_stats *to, const df_read_stats *from)
{
    to->rows += from->rows, to->valid += from->valid, to->individuals_valid += from->individuals_valid;
    to->with_point += from->with_point, to->with_families += from->with_families;
    to->returns += from->returns, to->with_origin += from->with_origin;
}

/* The push API's steps over a sink's one state (df_join_add & co.): a
 * record in (failed: the state's own flag of a failure it did not return);
 * a part's state merged into ours and the part emptied; our state merged
 * and the sink finished. */
df_status df__push_add(df_ctx *ctx, df__sink *sink, void *state, const int *failed, df_read_stats *read,
                       const df_record *r, const char *path)
{
    df_status st = df__pushed_record(ctx, read, r);
    if (st != DF_OK) return st;
    if (sink->on_record(state, r) != 0 || *failed)
        return df__error(ctx, DF_ENOMEM, "out of memory aggregating %s", path);
    return DF_OK;
}

df_status df__push_merge(df_ctx *ctx, df__sink *into, df_read_stats *into_read, df__sink *part, void **part_state,
                         df_read_stats *part_read)
{
    df_status st = into->merge(into, *part_state);
    df__pushed_stats_add(into_read, part_read);
    part->thread_free(*part_state);
    *part_state = part->thread_new(part, 0); /* the part is empty now */
    memset(part_read, 0, sizeof *part_read);
    part_read->kind = into_read->kind;
    if (st == DF_OK && !*part_state) st = df__error(ctx, DF_ENOMEM, "out of memory");
    return st;
}

df_status df__push_finish(df_ctx *ctx, df__sink *sink, void **state)
{
    df_status st = sink->merge(sink, *state);
    sink->thread_free(*state);
    *state = NULL;
    return st == DF_OK ? sink->finish(ctx, sink) : st;
}
