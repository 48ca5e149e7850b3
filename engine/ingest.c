/*
 * ingest.c — records from CSV, DTM API JSON or any OGR tabular df__source,
 * streamed one row at a time into df_record structs.
 *
 * Columns are found, in order, by the explicit mapping (--map), by an HXL
 * tag row under the header, and by the header names DTM tables use. Each
 * row's values are parsed strictly; a row that cannot be read is rejected
 * with its line, column and reason, counted, and never passed on.
 */
#include "dfint.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
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
    o->header = -1;
    o->household_size = 6.0; /* the DTM convention for Iraq */
    o->kind = DF_INCREMENTS;
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
    {DF_FIELD_ORIGIN_ADM1, "governorateoforigin origingovernorate originadm1"},
    {DF_FIELD_ORIGIN_ADM2, "districtoforigin origindistrict originadm2"},
    {DF_FIELD_ORIGIN_ADM3, "subdistrictoforigin originsubdistrict originadm3"},
    {DF_FIELD_DISPLACEMENT_ADM1, "governorateofdisplacement displacementgovernorate"},
    {DF_FIELD_DISPLACEMENT_ADM2, "districtofdisplacement displacementdistrict"},
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

static const char *column_label(const df__source *src, int col, char *buf, size_t cap)
{
    if (col < src->nheader && src->header[col][0]) return src->header[col];
    snprintf(buf, cap, "column %d", col + 1);
    return buf;
}

static df_status apply_explicit_map(df_ctx *ctx, const char *map, const df__source *src, column_map *m, char *how,
                                    size_t cap)
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
                             "origin_adm2, displacement_adm2 ...)",
                             item);
        char *end;
        long num = strtol(col, &end, 10);
        int c = -1;
        if (*col && *end == '\0') {
            c = (int)num - 1; /* 1-based column number */
            if (num < 1 || num > 100000) return df__error(ctx, DF_EINVAL, "--map: column number %s out of range", col);
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
                                                            [DF_FIELD_DISPLACEMENT_ADM2_PCODE] = 1};

typedef struct {
    df_ctx *ctx;
    const df_record_opts *opts;
    const df__source *src;
    const column_map *map;
    df_record_fn on_record;
    df_reject_fn on_reject;
    void *user, *reject_user;
    df_read_stats *stats;
    int ncols;                            /* columns in the header (or the first row) */
    int text_cols[DF_FIELD_COUNT], ntext; /* mapped columns holding text */
    int lines_unknown;                    /* parallel pieces: record.line is -1 */
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

/* The value of a column, without leading blanks (trailing ones are trimmed
 * already), or NULL when the column is absent or empty. */
static const char *cell(char **cells, int n, int col)
{
    if (col < 0 || col >= n) return NULL;
    const char *s = cells[col];
    while (*s == ' ' || *s == '\t') s++;
    return *s ? s : NULL;
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

/* Returns 1 to go on, 0 when the callback asked to stop. */
static int handle_row(reader *r, char **cells, size_t *lens, int n, long line)
{
    const int *col = r->map->col;
    df_record rec;
    r->stats->rows++;

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
    trim_cells(cells, lens, n);

    memset(&rec, 0, sizeof rec);
    rec.line = r->lines_unknown ? -1 : line;
    rec.date = DF_NO_DATE;
    rec.status = r->opts->default_status;
    rec.lon = rec.lat = NAN;
    rec.has_coordinate_columns = col[DF_FIELD_LAT] >= 0 && col[DF_FIELD_LON] >= 0;
    rec.families = -1;

    const char *s;
    if (col[DF_FIELD_DATE] >= 0) {
        s = cell(cells, n, col[DF_FIELD_DATE]);
        if (!s || df_date_parse(s, &rec.date) != 0)
            return reject(r, line, col[DF_FIELD_DATE], DF_REJECT_BAD_DATE, s ? s : "(empty)"), 1;
    }
    if ((s = cell(cells, n, col[DF_FIELD_STATUS])) && df__parse_status(s, &rec.status) != 0)
        return reject(r, line, col[DF_FIELD_STATUS], DF_REJECT_BAD_STATUS, s), 1;

    /* counts: families and individuals; individuals = families x size when absent */
    int64_t fam = -1, ind = -1;
    const int count_cols[2] = {col[DF_FIELD_FAMILIES], col[DF_FIELD_INDIVIDUALS]};
    int64_t *count_out[2] = {&fam, &ind};
    size_t len;
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
        rec.individuals_derived = 1;
    }
    if (ind < 0)
        return reject(r, line, count_cols[1] >= 0 ? count_cols[1] : count_cols[0], DF_REJECT_NO_COUNT, "(empty)"), 1;
    rec.families = fam;
    rec.individuals = ind;

    /* coordinates: both or neither; in range; not the 0,0 placeholder */
    size_t lat_len = 0, lon_len = 0;
    const char *slat = cell_len(cells, lens, n, col[DF_FIELD_LAT], &lat_len);
    const char *slon = cell_len(cells, lens, n, col[DF_FIELD_LON], &lon_len);
    if (slat || slon) {
        int bad_col = !slat ? col[DF_FIELD_LAT] : col[DF_FIELD_LON];
        if (!slat || !slon)
            return reject(r, line, bad_col, DF_REJECT_BAD_COORDINATES, "only one of latitude/longitude"), 1;
        if (df__parse_double(slat, lat_len, &rec.lat) != 0 || fabs(rec.lat) > 90)
            return reject(r, line, col[DF_FIELD_LAT], DF_REJECT_BAD_COORDINATES, slat), 1;
        if (df__parse_double(slon, lon_len, &rec.lon) != 0 || fabs(rec.lon) > 180)
            return reject(r, line, col[DF_FIELD_LON], DF_REJECT_BAD_COORDINATES, slon), 1;
        if (rec.lat == 0 && rec.lon == 0) return reject(r, line, col[DF_FIELD_LAT], DF_REJECT_NULL_ISLAND, "0,0"), 1;
    }

    rec.location.name[1] = cell(cells, n, col[DF_FIELD_ADM1]);
    rec.location.pcode[1] = cell(cells, n, col[DF_FIELD_ADM1_PCODE]);
    rec.location.name[2] = cell(cells, n, col[DF_FIELD_ADM2]);
    rec.location.pcode[2] = cell(cells, n, col[DF_FIELD_ADM2_PCODE]);
    rec.location.name[3] = cell(cells, n, col[DF_FIELD_ADM3]);
    rec.location.pcode[3] = cell(cells, n, col[DF_FIELD_ADM3_PCODE]);
    rec.origin.name[1] = cell(cells, n, col[DF_FIELD_ORIGIN_ADM1]);
    rec.origin.pcode[1] = cell(cells, n, col[DF_FIELD_ORIGIN_ADM1_PCODE]);
    rec.origin.name[2] = cell(cells, n, col[DF_FIELD_ORIGIN_ADM2]);
    rec.origin.pcode[2] = cell(cells, n, col[DF_FIELD_ORIGIN_ADM2_PCODE]);
    rec.origin.name[3] = cell(cells, n, col[DF_FIELD_ORIGIN_ADM3]);
    rec.displacement.name[1] = cell(cells, n, col[DF_FIELD_DISPLACEMENT_ADM1]);
    rec.displacement.name[2] = cell(cells, n, col[DF_FIELD_DISPLACEMENT_ADM2]);
    rec.displacement.pcode[2] = cell(cells, n, col[DF_FIELD_DISPLACEMENT_ADM2_PCODE]);
    rec.location_name = cell(cells, n, col[DF_FIELD_LOCATION]);
    rec.shelter = cell(cells, n, col[DF_FIELD_SHELTER]);

    /* every sum downstream is at most this total: keep it within 64 bits */
    if (ind > INT64_MAX - r->stats->individuals_valid)
        return reject(r, line, count_cols[1] >= 0 ? count_cols[1] : count_cols[0], DF_REJECT_BAD_COUNT,
                      "the file's total of individuals would exceed 2^63"),
               1;
    r->stats->valid++;
    r->stats->individuals_valid += ind;
    return r->on_record(&rec, r->user) == 0;
}

/* ---- the read ------------------------------------------------------------------- */

/* A copy of one row, kept while the reader's buffer moves on. */
typedef struct {
    char **cells;
    size_t *lens;
    int n;
    long line;
} held_row;

static int keep_row(held_row *h, char **cells, size_t *lens, int n, long line)
{
    h->cells = calloc((size_t)n + 1, sizeof *h->cells);
    h->lens = calloc((size_t)n + 1, sizeof *h->lens);
    if (!h->cells || !h->lens) return -1;
    h->n = n;
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
} opened;

static void opened_close(opened *o)
{
    for (int i = 0; i < o->held.n; i++) free(o->held.cells[i]);
    free(o->held.cells);
    free(o->held.lens);
    df__source_close(&o->src);
}

static df_status open_columns(df_ctx *ctx, const df_record_opts *opts, opened *o, df_read_stats *stats)
{
    df__source *src = &o->src;
    column_map *map = &o->map;
    df_status st;
    char **cells;
    size_t *lens;
    int n, rc;
    long line;

    memset(o, 0, sizeof *o);
    memset(stats, 0, sizeof *stats);
    for (int f = 0; f < DF_FIELD_COUNT; f++) map->col[f] = -1;
    if (!opts->path) return df__error(ctx, DF_EINVAL, "no records file given");
    if ((st = df__source_open(ctx, opts, src)) != DF_OK) return st;

    if (src->kind == DF__SRC_CSV) {
        /* the first line: a header, unless told otherwise or it looks like data */
        rc = df__csv_next(src->csv, &cells, &lens, &n, &line);
        if (rc < 0) return ctx->status;
        if (rc == 0) return df__error(ctx, DF_EFORMAT, "%s: the file is empty", opts->path);
        int header = opts->header;
        if (header < 0) {
            int numeric = 0, filled = 0;
            for (int i = 0; i < n; i++) filled += cells[i][0] != '\0', numeric += looks_numeric(cells[i]);
            header = !(filled > 0 && 2 * numeric >= filled);
        }
        if (header ? df__source_set_header(src, cells, n) != 0 : keep_row(&o->held, cells, lens, n, line) != 0)
            return df__error(ctx, DF_ENOMEM, "out of memory");
    }

    char how[sizeof stats->columns] = "";
    if (opts->map && (st = apply_explicit_map(ctx, opts->map, src, map, how, sizeof how)) != DF_OK) return st;

    /* an HXL tag row under the header? */
    if (src->nheader > 0 && src->kind == DF__SRC_CSV) {
        rc = df__csv_next(src->csv, &cells, &lens, &n, &line);
        if (rc < 0) return ctx->status;
        if (rc == 1 && is_hxl_row(cells, n)) {
            for (size_t t = 0; t < sizeof hxl_tags / sizeof *hxl_tags; t++) {
                df_field f = hxl_tags[t].field;
                for (int i = 0; i < n && map->col[f] < 0; i++) {
                    if (!hxl_match(cells[i], hxl_tags[t].tag, hxl_tags[t].need, hxl_tags[t].forbid)) continue;
                    int taken = 0;
                    for (int g = 0; g < DF_FIELD_COUNT; g++) taken |= map->col[g] == i;
                    if (taken) continue;
                    map->col[f] = i;
                    note(how, sizeof how, field_names[f], cells[i], "HXL");
                }
            }
        } else if (rc == 1 && keep_row(&o->held, cells, lens, n, line) != 0) {
            return df__error(ctx, DF_ENOMEM, "out of memory"); /* a data row: handled first */
        }
    }

    /* the header names DTM tables use */
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
            note(how, sizeof how, field_names[f], src->header[i], "header");
        }
    }
    if (src->point_columns && map->col[DF_FIELD_LON] < 0 && map->col[DF_FIELD_LAT] < 0) {
        map->col[DF_FIELD_LON] = src->nheader - 2;
        map->col[DF_FIELD_LAT] = src->nheader - 1;
        note(how, sizeof how, "lon/lat", "point geometry", "OGR");
    }
    snprintf(stats->columns, sizeof stats->columns, "%s", how);
    if (map->col[DF_FIELD_INDIVIDUALS] < 0 && map->col[DF_FIELD_FAMILIES] < 0) {
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
                             "map the columns by number (--map individuals=5,...; the header rows are then rejected)",
                             opts->path, src->nheader);
        return df__error(ctx, DF_ESCHEMA,
                         "%s: no count column: name one with --map individuals=COLUMN or families=COLUMN "
                         "(or add an HXL row with #affected+ind)",
                         opts->path);
    }
    df__log(ctx, DF_LOG_INFO, "%s: columns: %s", opts->path, how);
    return DF_OK;
}

static void reader_init(reader *r, df_ctx *ctx, const df_record_opts *opts, const opened *o, df_record_fn on_record,
                        df_reject_fn on_reject, void *user, void *reject_user, df_read_stats *stats)
{
    memset(r, 0, sizeof *r);
    *r = (reader){ctx,       opts,
                  &o->src,   &o->map,
                  on_record, on_reject,
                  user,      reject_user,
                  stats,     o->src.nheader ? o->src.nheader : o->held.n,
                  {0},       0,
                  0};
    for (int f = 0; f < DF_FIELD_COUNT; f++)
        if (o->map.col[f] >= 0 && is_text_field[f]) r->text_cols[r->ntext++] = o->map.col[f];
}

/* The rows after the header, on the calling thread. */
/* Progress every 64k rows: the share of the file's bytes read (CSV; 0 from
 * a pipe), which the context's callback may use to cancel. */
static int report_progress(df_ctx *ctx, const df_csv *csv, uint64_t size, long rows)
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
    if (o->held.cells && !handle_row(r, o->held.cells, o->held.lens, o->held.n, o->held.line))
        return df__error(r->ctx, DF_ECANCELLED, "stopped by the caller");
    while ((rc = df__source_next(&o->src, &cells, &lens, &n, &line)) == 1)
        if (!handle_row(r, cells, lens, n, line) || !report_progress(r->ctx, o->src.csv, size, ++rows))
            return df__error(r->ctx, DF_ECANCELLED, "stopped by the caller");
    if (rc >= 0 && !df__progress(r->ctx, 1.0, "reading records")) /* a cancel at the end still counts */
        return df__error(r->ctx, DF_ECANCELLED, "stopped by the caller");
    return rc < 0 ? r->ctx->status : DF_OK;
}

/* A file whose rows are all rejected as not UTF-8 is in another encoding:
 * an error for the whole file, with the way out. A file without data rows
 * is worth a warning. */
static df_status judge_file(df_ctx *ctx, const df_record_opts *opts, const df_read_stats *stats)
{
    if (stats->rows > 0 && stats->rejected_by[DF_REJECT_BAD_ENCODING] == stats->rows)
        return df__error(ctx, DF_EFORMAT,
                         "%s: no row is UTF-8 text: the file is in another encoding (Arabic Windows files: "
                         "iconv -f CP1256 -t UTF-8 %s > converted.csv)",
                         opts->path, opts->path);
    if (stats->rows == 0) df__log(ctx, DF_LOG_WARN, "%s: no data rows", opts->path);
    return DF_OK;
}

df_status df_records_read(df_ctx *ctx, const df_record_opts *opts, df_record_fn on_record, df_reject_fn on_reject,
                          void *user, df_read_stats *stats)
{
    DF__GDAL_SCOPE(ctx);
    opened o;
    reader r;
    df_status st = open_columns(ctx, opts, &o, stats);
    if (st == DF_OK) {
        reader_init(&r, ctx, opts, &o, on_record, on_reject, user, user, stats);
        st = read_rows(&r, &o);
    }
    opened_close(&o);
    return st == DF_OK ? judge_file(ctx, opts, stats) : st;
}

/* ---- the parallel read: byte ranges of a plain CSV file ---------------------- */

#define PARALLEL_MIN_BYTES (8u << 20) /* below this, threads cost more than they save */
#define MAX_PIECES         64

typedef struct {
    df_ctx err; /* this thread's errors; no GEOS or PROJ in it */
    const df_record_opts *opts;
    const opened *o;
    uint64_t start, end;
    df_record_fn on_record;
    void *user;
    df_read_stats stats;
    df_rejection *rejects; /* kept until the pieces are in order */
    long nrejects, cap_rejects;
    long lines; /* physical lines of the range */
    int failed;
    pthread_t thread;
} piece;

static void keep_reject(const df_rejection *rj, void *user)
{
    piece *p = user;
    if (p->nrejects == p->cap_rejects) {
        long cap = p->cap_rejects ? 2 * p->cap_rejects : 16;
        df_rejection *n = df__realloc_array(p->rejects, (size_t)cap, sizeof *n);
        if (!n) return (void)(p->failed = 1);
        p->rejects = n;
        p->cap_rejects = cap;
    }
    df_rejection *k = &p->rejects[p->nrejects];
    *k = *rj;
    k->column = df__strdup(rj->column ? rj->column : "");
    k->detail = df__strdup(rj->detail ? rj->detail : "");
    if (!k->column || !k->detail) p->failed = 1;
    p->nrejects++;
}

static void *piece_main(void *arg)
{
    piece *p = arg;
    df_csv *csv = NULL;
    reader r;
    char **cells;
    size_t *lens;
    int n, rc;
    long line;
    if (df__csv_open_range(&p->err, p->opts->path, df__csv_delimiter(p->o->src.csv), p->start, p->end, &csv) != DF_OK)
        return p->failed = 1, NULL;
    reader_init(&r, &p->err, p->opts, p->o, p->on_record, keep_reject, p->user, p, &p->stats);
    r.lines_unknown = 1;
    while ((rc = df__csv_next(csv, &cells, &lens, &n, &line)) == 1)
        if (!handle_row(&r, cells, lens, n, line)) {
            df__error(&p->err, DF_ECANCELLED, "stopped by the caller");
            break;
        }
    if (rc != 0) p->failed = 1;
    p->lines = df__csv_line(csv) - 1;
    df__csv_close(csv);
    return NULL;
}

/* Where to cut a plain CSV file into n byte ranges, each starting at a
 * record: starts[0] = from, starts[k] the first record that begins at or
 * after from + k/n of the data. Without any quote character every line end
 * ends a record (one memchr pass); with quotes, a pass of the reader's own
 * rules (a quote opens a field only at its start, "" inside quotes is a
 * quote) tells the line ends inside quoted fields from the others. Returns
 * 0, or -1 when the file cannot be cut (not a plain file, too small). */
static int find_cuts(const opened *o, const char *path, int n, uint64_t *starts)
{
    struct stat sb;
    if (o->src.kind != DF__SRC_CSV || strcmp(path, "-") == 0 || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) return -1;
    uint64_t from = df__csv_offset(o->src.csv), size = (uint64_t)sb.st_size; /* data after the header */
    if (size < from + PARALLEL_MIN_BYTES) return -1;
    FILE *f = fopen(path, "rb");
    if (!f || fseeko(f, (off_t)from, SEEK_SET) != 0) return f ? fclose(f), -1 : -1;
    static _Thread_local char block[1 << 16];
    const char delim = df__csv_delimiter(o->src.csv);
    int quotes = 0, k = 1, in_quotes = 0, field_start = 1, quote_pending = 0;
    uint64_t off = from;
    size_t got;
    starts[0] = from;
    while (k < n && (got = fread(block, 1, sizeof block, f)) > 0) {
        if (!quotes && !memchr(block, '"', got)) { /* the fast way, while no quote is seen */
            for (char *p = block, *nl; k < n && (nl = memchr(p, '\n', got - (size_t)(p - block))); p = nl + 1) {
                uint64_t next = off + (uint64_t)(nl - block) + 1;
                if (next >= from + (size - from) * (uint64_t)k / (uint64_t)n) starts[k++] = next;
            }
            off += got;
            continue;
        }
        quotes = 1;
        for (size_t i = 0; i < got && k < n; i++) {
            char c = block[i];
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
            field_start = c == delim || c == '\n' || c == '\r';
            uint64_t next = off + i + 1;
            if (c == '\n' && next >= from + (size - from) * (uint64_t)k / (uint64_t)n) starts[k++] = next;
        }
        off += got;
    }
    fclose(f);
    return k == n ? 0 : -1;
}

df_status df__records_read_parallel(df_ctx *ctx, const df_record_opts *opts, int nthreads, df_record_fn on_record,
                                    void **users, df_reject_fn on_reject, void *reject_user, df_read_stats *stats,
                                    int *used)
{
    opened o;
    reader r;
    piece *pieces = NULL;
    uint64_t starts[MAX_PIECES + 1];
    df_status st = open_columns(ctx, opts, &o, stats);
    *used = 1;
    if (st != DF_OK) goto done;
    reader_init(&r, ctx, opts, &o, on_record, on_reject, users[0], reject_user, stats);
    if (nthreads > MAX_PIECES) nthreads = MAX_PIECES;
    if (nthreads < 2 || find_cuts(&o, opts->path, nthreads, starts) != 0 ||
        !(pieces = calloc((size_t)nthreads, sizeof *pieces))) {
        st = read_rows(&r, &o); /* one thread */
        goto done;
    }
    /* the row kept while looking for the header goes first, here */
    if (o.held.cells && !handle_row(&r, o.held.cells, o.held.lens, o.held.n, o.held.line)) {
        st = df__error(ctx, DF_ECANCELLED, "stopped by the caller");
        goto done;
    }
    long first_line = df__csv_line(o.src.csv);
    int started = 0;
    for (int k = 0; k < nthreads; k++) {
        piece *p = &pieces[k];
        p->opts = opts, p->o = &o, p->on_record = on_record, p->user = users[k];
        p->start = starts[k];
        p->end = k + 1 < nthreads ? starts[k + 1] : 0;
        if (pthread_create(&p->thread, NULL, piece_main, p) != 0) break;
        started++;
    }
    for (int k = 0; k < started; k++) pthread_join(pieces[k].thread, NULL);
    *used = started;
    if (!df__progress(ctx, 1.0, "reading records")) st = df__error(ctx, DF_ECANCELLED, "stopped by the caller");
    if (started < nthreads) st = df__error(ctx, DF_ENOMEM, "cannot start %d threads", nthreads);

    /* merge in file order: counts, then rejections with their true lines */
    long line0 = first_line;
    for (int k = 0; k < started; k++) {
        piece *p = &pieces[k];
        if (p->failed && st == DF_OK)
            st = p->err.status != DF_OK ? df__error(ctx, p->err.status, "%s", p->err.errmsg)
                                        : df__error(ctx, DF_ENOMEM, "out of memory reading %s", opts->path);
        stats->rows += p->stats.rows;
        stats->valid += p->stats.valid;
        stats->rejected += p->stats.rejected;
        if (p->stats.individuals_valid > INT64_MAX - stats->individuals_valid && st == DF_OK)
            st = df__error(ctx, DF_EFORMAT, "%s: the total of individuals exceeds 2^63", opts->path);
        else
            stats->individuals_valid += p->stats.individuals_valid;
        for (int q = 0; q < DF_REJECT_COUNT; q++) stats->rejected_by[q] += p->stats.rejected_by[q];
        for (long q = 0; q < p->nrejects; q++) {
            p->rejects[q].line += line0 - 1;
            if (on_reject) on_reject(&p->rejects[q], reject_user);
        }
        line0 += p->lines;
    }
done:
    for (int k = 0; pieces && k < nthreads; k++) {
        for (long q = 0; q < pieces[k].nrejects; q++) {
            free((char *)pieces[k].rejects[q].column);
            free((char *)pieces[k].rejects[q].detail);
        }
        free(pieces[k].rejects);
    }
    free(pieces);
    opened_close(&o);
    return st == DF_OK ? judge_file(ctx, opts, stats) : st;
}
