/*
 * test_sample.c — the embedded sample records: deterministic, well-formed,
 * in the period, and shaped as the join expects.
 */
#include "dfint.h"
#include "harness.h"

#include <stdlib.h>

#define HEADER                                                                                                         \
    "Date,Status,Governorate,District,Location,Latitude,Longitude,Shelter,"                                            \
    "Governorate of Origin,District of Origin,Governorate of Displacement,District of "                                \
    "Displacement,Families,Individuals"

enum { F_DATE, F_STATUS, F_GOV, F_LAT = 5, F_LON, F_FAMILIES = 12, F_INDIVIDUALS, NFIELDS };

static char dir[64];

/* Write the sample with seed into dir/name; returns the status. */
static df_status write_sample(const char *name, unsigned seed, char *path, size_t cap)
{
    df_ctx *ctx = df_ctx_new();
    df_status st;
    snprintf(path, cap, "%s/%s", dir, name);
    st = df_sample_write(ctx, path, seed);
    if (st != DF_OK) printf("  df_sample_write: %s\n", df_ctx_errmsg(ctx));
    df_ctx_free(ctx);
    return st;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) != NULL) {
        *len = fread(buf, 1, (size_t)n, f);
        buf[*len] = '\0';
    }
    fclose(f);
    return buf;
}

/* One RFC 4180 record from *p (\n line ends). Copies up to NFIELDS fields
 * (truncated to 63 bytes) into f and returns the number of fields seen, or
 * 0 at the end of the text. */
static int next_record(const char **p, char f[NFIELDS][64])
{
    const char *s = *p;
    int n = 0;
    if (!*s) return 0;
    for (;;) {
        size_t k = 0;
        char c;
        int quoted = *s == '"';
        if (quoted) s++;
        for (; *s; s++) {
            if (quoted && *s == '"') {
                if (s[1] != '"') {
                    s++;
                    break;
                }
                s++; /* a doubled quote is one quote */
            } else if (!quoted && (*s == ',' || *s == '\n')) {
                break;
            }
            if (n < NFIELDS && k < 63) f[n][k++] = *s;
        }
        if (n < NFIELDS) f[n][k] = '\0';
        n++;
        c = *s;
        if (c) s++;
        if (c != ',') break;
    }
    *p = s;
    return n;
}

/* The data rows of a sample file, checked by `check` one at a time. */
typedef void (*row_check)(char f[NFIELDS][64], long line, void *state);

static void for_each_row(const char *path, row_check check, void *state)
{
    size_t len = 0;
    char *text = slurp(path, &len);
    const char *p = text;
    char f[NFIELDS][64];
    long line = 1;
    EXPECT(text != NULL);
    if (!text) return;
    while (*p && *p != '\n') p++; /* the header, tested on its own */
    if (*p) p++;
    for (int n; (n = next_record(&p, f)) > 0;) {
        line++;
        if (n != NFIELDS) {
            HARNESS_FAIL("line %ld has %d fields, want %d", line, n, NFIELDS);
            break;
        }
        check(f, line, state);
    }
    free(text);
}

TEST(same_seed_same_bytes)
{
    char a[128], b[128];
    size_t la = 0, lb = 0;
    EXPECT_INT(write_sample("a.csv", 42, a, sizeof a), DF_OK);
    EXPECT_INT(write_sample("b.csv", 42, b, sizeof b), DF_OK);
    char *ta = slurp(a, &la), *tb = slurp(b, &lb);
    EXPECT(ta && tb);
    EXPECT_INT(lb, la);
    EXPECT(ta && tb && la == lb && memcmp(ta, tb, la) == 0);
    free(ta);
    free(tb);
}

TEST(other_seed_other_bytes)
{
    char a[128], c[128];
    size_t la = 0, lc = 0;
    EXPECT_INT(write_sample("a.csv", 42, a, sizeof a), DF_OK);
    EXPECT_INT(write_sample("c.csv", 7, c, sizeof c), DF_OK);
    char *ta = slurp(a, &la), *tc = slurp(c, &lc);
    EXPECT(ta && tc);
    EXPECT(ta && tc && (la != lc || memcmp(ta, tc, la) != 0));
    free(ta);
    free(tc);
}

TEST(header_is_exact)
{
    char a[128], first[512] = "";
    size_t len = 0;
    EXPECT_INT(write_sample("a.csv", 42, a, sizeof a), DF_OK);
    char *text = slurp(a, &len);
    EXPECT(text != NULL);
    if (text) sscanf(text, "%511[^\n]", first);
    EXPECT_STR(first, HEADER);
    free(text);
}

/* What the rows of one file add up to. Only the first bad row of a file is
 * described, so that a broken generator does not flood the output. */
typedef struct {
    long rows, returned, no_coords, no_individuals, unsorted, out_of_period, bad;
    char last_date[16];
    int32_t first_day, last_day;
} tally;

static void tally_row(char f[NFIELDS][64], long line, void *state)
{
    tally *t = state;
    int32_t day;
    t->rows++;
    if (df_date_parse(f[F_DATE], &day) != 0 || strlen(f[F_DATE]) != 10) {
        if (!t->bad++) HARNESS_FAIL("line %ld: date \"%s\" is not yyyy-mm-dd", line, f[F_DATE]);
    } else if (day < t->first_day || day > t->last_day) {
        t->out_of_period++;
    }
    if (strcmp(f[F_DATE], t->last_date) < 0) t->unsorted++;
    snprintf(t->last_date, sizeof t->last_date, "%s", f[F_DATE]);
    if (strcmp(f[F_STATUS], "Returned") == 0)
        t->returned++;
    else if (strcmp(f[F_STATUS], "Displaced") != 0)
        t->bad++;
    if (!f[F_LAT][0] != !f[F_LON][0]) t->bad++; /* both or neither */
    if (!f[F_LAT][0]) t->no_coords++;
    long long fam = strtoll(f[F_FAMILIES], NULL, 10);
    if (fam <= 0) t->bad++;
    if (!f[F_INDIVIDUALS][0]) {
        t->no_individuals++;
    } else if (strtoll(f[F_INDIVIDUALS], NULL, 10) != fam * 6) {
        if (!t->bad++) HARNESS_FAIL("line %ld: %s individuals for %s families", line, f[F_INDIVIDUALS], f[F_FAMILIES]);
    }
}

static tally tally_file(unsigned seed)
{
    char a[128];
    tally t = {0};
    EXPECT_INT(df_date_parse("2016-10-17", &t.first_day), 0);
    EXPECT_INT(df_date_parse("2017-06-30", &t.last_day), 0);
    EXPECT_INT(write_sample("t.csv", seed, a, sizeof a), DF_OK);
    for_each_row(a, tally_row, &t);
    return t;
}

/* Every row has 14 fields, a date in the period in order, a status, counts
 * with individuals = families x 6 where present. */
TEST(rows_are_well_formed)
{
    static const unsigned seeds[] = {0, 1, 42, 4294967295u};
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        tally t = tally_file(seeds[i]);
        EXPECT(t.rows > 0);
        EXPECT_INT(t.bad, 0);
        EXPECT_INT(t.unsorted, 0);
        EXPECT_INT(t.out_of_period, 0);
    }
}

/* The shape the brief asks for: 2000-3000 rows, about a quarter returns,
 * about 5% without coordinates, a few without individuals. */
TEST(rows_have_the_intended_mix)
{
    tally t = tally_file(42);
    EXPECT(t.rows >= 2000 && t.rows <= 3000);
    EXPECT(t.returned * 100 >= t.rows * 15 && t.returned * 100 <= t.rows * 35);
    EXPECT(t.no_coords * 100 >= t.rows * 2 && t.no_coords * 100 <= t.rows * 10);
    EXPECT(t.no_individuals > 0 && t.no_individuals * 100 <= t.rows * 6);
}

/* Rows without coordinates are joined by name: their governorate must match
 * a Natural Earth adm1_name of shapes/iraq_adm1_naturalearth.geojson exactly
 * once normalised. */
static void check_name_only(char f[NFIELDS][64], long line, void *state)
{
    static const char *const ne[] = {"Ninawa", "Arbil", "Dihok", "At-Ta'mim", "Sala ad-Din"};
    char got[64], want[64];
    int found = 0;
    (void)state;
    if (f[F_LAT][0]) return;
    df__name_normalize(f[F_GOV], got, sizeof got);
    for (size_t i = 0; i < sizeof ne / sizeof ne[0]; i++) {
        df__name_normalize(ne[i], want, sizeof want);
        found |= strcmp(got, want) == 0;
    }
    if (!found) HARNESS_FAIL("line %ld: governorate \"%s\" is not a Natural Earth name", line, f[F_GOV]);
}

TEST(name_only_rows_match_natural_earth)
{
    char a[128];
    EXPECT_INT(write_sample("n.csv", 42, a, sizeof a), DF_OK);
    for_each_row(a, check_name_only, NULL);
}

TEST(unwritable_path_fails_cleanly)
{
    char path[128];
    df_ctx *ctx = df_ctx_new();
    snprintf(path, sizeof path, "%s/missing/sample.csv", dir);
    EXPECT_INT(df_sample_write(ctx, path, 1), DF_EIO);
    EXPECT(strstr(df_ctx_errmsg(ctx), path) != NULL);
    EXPECT(access(path, F_OK) != 0);
    df_ctx_free(ctx);
}

int main(void)
{
    static const char *const files[] = {"a.csv", "b.csv", "c.csv", "t.csv", "n.csv"};
    snprintf(dir, sizeof dir, "/tmp/test_sample.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(same_seed_same_bytes);
    RUN(other_seed_other_bytes);
    RUN(header_is_exact);
    RUN(rows_are_well_formed);
    RUN(rows_have_the_intended_mix);
    RUN(name_only_rows_match_natural_earth);
    RUN(unwritable_path_fails_cleanly);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        remove(path);
    }
    if (rmdir(dir) != 0) printf("  temporary directory %s not empty\n", dir);
    return harness_done();
}
