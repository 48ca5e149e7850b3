/*
 * test_publish.c — statistical disclosure control. On random tables with
 * their totals (OD matrices with row, column and grand totals; units within
 * governorates within the country) every figure below k is withheld, and no
 * withheld figure can be worked out from the published figures and totals:
 * checked against linear algebra (Gaussian elimination on the sums), not
 * against the bridge rule the engine uses. Then a published bundle: no
 * figure below k in any table or layer, nothing row-level, the totals
 * unchanged.
 */
#include "dfint.h"
#include "harness.h"

#include <gdal.h>
#include <json-c/json.h>
#include <ogr_api.h>
#include <sqlite3.h>
#include <stdlib.h>

/* ---- an independent check: which withheld figures do the sums determine? ---------- */

/* A sum: terms minus total = 0, over figures. coef[e] is +1 for a term,
 * -1 for the total, 0 when the figure is not in it. */
typedef struct {
    int n;        /* figures */
    int m;        /* sums */
    double *coef; /* m x n */
} sums;

/* Figure e is determined when no solution of the homogeneous system on the
 * withheld figures moves it: e is 0 in every vector of the null space.
 * Gaussian elimination to reduced row echelon form on the withheld columns;
 * a pivot column whose row has no free column is determined. */
static void determined_by_algebra(const sums *s, const unsigned char *withheld, unsigned char *det)
{
    size_t n = (size_t)s->n, m = (size_t)s->m;
    int *col = malloc(n * sizeof *col), nc = 0;
    for (size_t e = 0; e < n; e++) {
        det[e] = 0;
        if (withheld[e]) col[nc++] = (int)e;
    }
    double *a = calloc(m * (size_t)(nc ? nc : 1), sizeof *a);
    for (size_t i = 0; i < m; i++)
        for (int j = 0; j < nc; j++) a[i * (size_t)nc + (size_t)j] = s->coef[i * n + (size_t)col[j]];
    int *pivot_of_row = malloc((m ? m : 1) * sizeof *pivot_of_row), rank = 0;
    for (int j = 0; j < nc && rank < (int)m; j++) {
        int p = -1;
        for (int i = rank; i < (int)m; i++)
            if (fabs(a[(size_t)i * nc + j]) > 1e-9 &&
                (p < 0 || fabs(a[(size_t)i * nc + j]) > fabs(a[(size_t)p * nc + j])))
                p = i;
        if (p < 0) continue;
        for (int q = 0; q < nc; q++) {
            double t = a[(size_t)p * nc + q];
            a[(size_t)p * nc + q] = a[(size_t)rank * nc + q], a[(size_t)rank * nc + q] = t;
        }
        double d = a[(size_t)rank * nc + j];
        for (int q = 0; q < nc; q++) a[(size_t)rank * nc + q] /= d;
        for (int i = 0; i < (int)m; i++) {
            if (i == rank) continue;
            double f = a[(size_t)i * nc + j];
            if (fabs(f) < 1e-12) continue;
            for (int q = 0; q < nc; q++) a[(size_t)i * nc + q] -= f * a[(size_t)rank * nc + q];
        }
        pivot_of_row[rank++] = j;
    }
    for (int r = 0; r < rank; r++) {
        int j = pivot_of_row[r], free_col = 0;
        for (int q = 0; q < nc; q++)
            if (q != j && fabs(a[(size_t)r * nc + q]) > 1e-9) free_col = 1;
        if (!free_col) det[col[j]] = 1;
    }
    free(a), free(col), free(pivot_of_row);
}

static unsigned rng = 12345;
static unsigned next_rand(void) { return rng = rng * 1103515245u + 12345u, (rng >> 8) & 0xffffff; }

/* A skewed count: many small, a few large, some 0. */
static int64_t draw(void)
{
    unsigned r = next_rand() % 100;
    return r < 30 ? 0 : r < 60 ? 1 + next_rand() % 6 : r < 90 ? 5 + next_rand() % 40 : 50 + next_rand() % 2000;
}

/* Check a withheld table: every small figure withheld, none determined. */
static void check_table(const char *what, df__sdc_cell *cells, int n, const sums *s, int64_t k, int *withheld_total)
{
    unsigned char *w = calloc((size_t)n + 1, 1), *det = calloc((size_t)n + 1, 1);
    int small_published = 0, determined = 0, count = 0;
    for (int e = 0; e < n; e++) {
        w[e] = (unsigned char)cells[e].withheld;
        count += w[e];
        if (!w[e] && !cells[e].locked && cells[e].support > 0 && cells[e].support < k) small_published++;
    }
    determined_by_algebra(s, w, det);
    for (int e = 0; e < n; e++) determined += det[e];
    if (small_published) HARNESS_FAIL("%s: %d figures below k published", what, small_published);
    if (determined) HARNESS_FAIL("%s: %d withheld figures determined by the published sums", what, determined);
    *withheld_total += count;
    free(w), free(det);
}

/* OD matrices R x C with row totals (outflows), column totals (inflows) and
 * the grand total. The totals are figures too (a destination with a single
 * origin has its one cell as its inflow): a row total is the total of its
 * row and a term of the sum of row totals, which is the grand total
 * (published, locked); so for columns. */
TEST(od_matrices_with_margins)
{
    int tables = 0, cells_total = 0, withheld = 0;
    for (int t = 0; t < 300; t++) {
        int R = 1 + (int)(next_rand() % 7), C = 1 + (int)(next_rand() % 7), n = R * C + R + C + 1;
        int TR = 1 + R + C, TC = 2 + R + C; /* nodes: 0 none, rows 1..R, columns R+1..R+C, TR, TC */
        df__sdc_cell *cells = calloc((size_t)n, sizeof *cells);
        sums s = {n, R + C + 2, calloc((size_t)(R + C + 2) * (size_t)n, sizeof(double))};
        int64_t row[8] = {0}, col[8] = {0}, grand = 0;
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++) {
                int e = r * C + c;
                cells[e] = (df__sdc_cell){.a = 1 + r, .b = 1 + R + c, .support = draw()};
                row[r] += cells[e].support, col[c] += cells[e].support, grand += cells[e].support;
                s.coef[(size_t)r * n + e] = 1;
                s.coef[(size_t)(R + c) * n + e] = 1;
            }
        for (int r = 0; r < R; r++) {
            int e = R * C + r;
            cells[e] = (df__sdc_cell){.a = 1 + r, .b = TR, .support = row[r]};
            s.coef[(size_t)r * n + e] = -1, s.coef[(size_t)(R + C) * n + e] = 1;
        }
        for (int c = 0; c < C; c++) {
            int e = R * C + R + c;
            cells[e] = (df__sdc_cell){.a = 1 + R + c, .b = TC, .support = col[c]};
            s.coef[(size_t)(R + c) * n + e] = -1, s.coef[(size_t)(R + C + 1) * n + e] = 1;
        }
        cells[n - 1] = (df__sdc_cell){.a = TR, .b = TC, .support = grand, .locked = 1};
        s.coef[(size_t)(R + C) * n + n - 1] = -1, s.coef[(size_t)(R + C + 1) * n + n - 1] = -1;
        int rc = df__sdc_withhold(cells, n, TC + 1, 5);
        if (rc == -2) { /* only the grand total could cover: a lone small figure */
            if (R * C > 1 && grand >= 5) HARNESS_FAIL("table %d (%dx%d): cannot cover", t, R, C);
        } else {
            EXPECT(rc >= 0);
            check_table("OD", cells, n, &s, 5, &withheld);
            tables++, cells_total += n;
        }
        free(cells), free(s.coef);
    }
    printf("  %d OD tables with their totals, %d figures, %d withheld; none below k published, none determined\n",
           tables, cells_total, withheld);
}

/* Districts within governorates within the country: a governorate's figure
 * is the total of its districts and a term of the country's total, which is
 * published (locked). */
TEST(units_within_governorates)
{
    int tables = 0, withheld = 0, covered = 0;
    for (int t = 0; t < 300; t++) {
        int G = 1 + (int)(next_rand() % 6), D[8], n = G + 1, nd = 0;
        for (int g = 0; g < G; g++) D[g] = 1 + (int)(next_rand() % 6), n += D[g];
        /* nodes: 0 none, 1 country, 2..G+1 governorates; figures: districts, then governorates, then the country */
        df__sdc_cell *cells = calloc((size_t)n, sizeof *cells);
        sums s = {n, 1 + G, calloc((size_t)(1 + G) * (size_t)n, sizeof(double))};
        int e = 0;
        int64_t gsum[8] = {0}, total = 0;
        for (int g = 0; g < G; g++)
            for (int d = 0; d < D[g]; d++, e++, nd++) {
                cells[e] = (df__sdc_cell){.a = 2 + g, .b = 0, .support = draw()};
                gsum[g] += cells[e].support;
                s.coef[(size_t)(1 + g) * n + e] = 1;
            }
        for (int g = 0; g < G; g++, e++) {
            cells[e] = (df__sdc_cell){.a = 1, .b = 2 + g, .support = gsum[g]};
            total += gsum[g];
            s.coef[(size_t)0 * n + e] = 1;        /* a term of the country */
            s.coef[(size_t)(1 + g) * n + e] = -1; /* the total of its districts */
        }
        cells[e] = (df__sdc_cell){.a = 1, .b = 0, .support = total, .locked = 1}; /* the headline total */
        s.coef[(size_t)0 * n + e] = -1;
        int rc = df__sdc_withhold(cells, n, 2 + G, 5);
        if (rc == -2) { /* one small figure whose equal is the country's total: only a small total */
            if (total >= 5) HARNESS_FAIL("unit table %d: cannot cover, with a total of %lld", t, (long long)total);
            covered++;
        } else {
            EXPECT(rc >= 0);
            check_table("units", cells, n, &s, 5, &withheld);
            tables++;
        }
        free(cells), free(s.coef);
    }
    printf("  %d unit tables, %d figures withheld; %d tables whose total is itself below k\n", tables, withheld,
           covered);
}

/* issue 16: the joint check (publish_joint.c) on random systems of sums:
 * figures, and sums of them (some differences, as still displaced =
 * displaced - returned), each sum published as a figure of its own, the
 * figures in groups withheld together (a unit's figures). After it, every
 * group with a small figure is withheld, and Gaussian elimination (this
 * file's, in floating point, not the engine's integers) finds no withheld
 * figure other than a 0 determined by the published ones. */
TEST(joint_check_random_sums)
{
    int systems = 0, vars_total = 0, withheld_total = 0, small_total = 0;
    for (int t = 0; t < 300; t++) {
        int nbase = 3 + (int)(next_rand() % 10), nsum = 1 + (int)(next_rand() % 8), n = nbase + nsum;
        int64_t value[32];
        int row[128], var[128], coef[128], nt = 0;
        sums sm = {n, nsum, calloc((size_t)nsum * (size_t)n, sizeof(double))};
        for (int v = 0; v < nbase; v++) value[v] = draw();
        for (int r = 0; r < nsum; r++) { /* figure nbase + r = a sum of 2 to 4 earlier ones, or a difference */
            int v = nbase + r, terms = 2 + (int)(next_rand() % 3), diff = next_rand() % 4 == 0;
            value[v] = 0;
            row[nt] = r, var[nt] = v, coef[nt++] = -1, sm.coef[(size_t)r * n + v] = -1;
            for (int q = 0; q < terms; q++) {
                int u = (int)(next_rand() % (unsigned)v), c = diff && q == 1 ? -1 : 1;
                if (sm.coef[(size_t)r * n + u] != 0) continue;
                row[nt] = r, var[nt] = u, coef[nt++] = c, sm.coef[(size_t)r * n + u] = c;
                value[v] += c * value[u];
            }
        }
        df__sdc_group g[32];
        unsigned char exempt[32], w[32], det[32];
        int ng = 0;
        for (int v = 0; v < n;) { /* groups of 1 to 3 consecutive figures */
            int size = 1 + (int)(next_rand() % 3);
            if (v + size > n) size = n - v;
            int64_t least = 0;
            for (int u = v; u < v + size; u++) {
                int64_t a = value[u] < 0 ? -value[u] : value[u];
                if (a > 0 && (least == 0 || a < least)) least = a;
            }
            g[ng++] = (df__sdc_group){.first = v, .nvars = size, .support = least, .primary = least > 0 && least < 5};
            g[ng - 1].withheld = g[ng - 1].primary;
            v += size;
        }
        for (int v = 0; v < n; v++) exempt[v] = value[v] == 0;
        df__sdc_group again[32];
        memcpy(again, g, sizeof g);
        df__sdc_system sys = {
            .nvars = n, .nrows = nsum, .nterms = nt, .row = row, .var = var, .coef = coef, .exempt = exempt};
        int uncovered = -1, rc = df__sdc_joint(&sys, g, ng, &uncovered), uncovered2 = -1;
        EXPECT(rc >= 0);
        EXPECT_INT(uncovered, 0); /* nothing is locked: a figure can always be covered */
        EXPECT_INT(df__sdc_joint(&sys, again, ng, &uncovered2), rc);
        int same = 1, small_out = 0, leaks = 0;
        for (int q = 0; q < ng; q++) {
            same &= g[q].withheld == again[q].withheld;
            small_out += g[q].primary && !g[q].withheld;
            for (int v = g[q].first; v < g[q].first + g[q].nvars; v++) w[v] = (unsigned char)g[q].withheld;
            withheld_total += g[q].withheld, small_total += g[q].primary;
        }
        EXPECT(same); /* the same system, the same choices */
        EXPECT_INT(small_out, 0);
        determined_by_algebra(&sm, w, det);
        for (int v = 0; v < n; v++) leaks += det[v] && w[v] && !exempt[v];
        if (leaks) HARNESS_FAIL("system %d: %d withheld figures determined", t, leaks);
        systems++, vars_total += ng;
        free(sm.coef);
    }
    printf("  %d random systems of sums, %d groups, %d small, %d withheld; none determined but zeros\n", systems,
           vars_total, small_total, withheld_total);
}

/* The textbook case: one small figure in a 2 x 2 table with totals takes the
 * whole table with it; a 3 x 3 one takes a rectangle of four. */
TEST(one_small_figure)
{
    df__sdc_cell c[9];
    int64_t v[9] = {3, 40, 50, 60, 70, 80, 90, 100, 110};
    for (int i = 0; i < 9; i++) c[i] = (df__sdc_cell){.a = 1 + i / 3, .b = 4 + i % 3, .support = v[i]};
    EXPECT_INT(df__sdc_withhold(c, 9, 7, 5), 4);
    EXPECT(c[0].withheld && c[0].primary);
    /* the least beside it: 40 in its row, 60 in its column, and 70 to close the cycle */
    EXPECT(c[1].withheld && c[3].withheld && c[4].withheld);
    EXPECT(!c[2].withheld && !c[5].withheld && !c[8].withheld);
}

/* ---- a published bundle ---------------------------------------------------------------- */

static char tmpdir[] = "/tmp/dispflow-publish-XXXXXX";
static char cwd[1024];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) fputs(text, f), fclose(f);
}

/* The rows of one of our CSV tables (header and HXL row skipped) as cells. */
typedef struct {
    char cell[16][64];
    int n;
} row;

static int read_table(const char *path, row *rows, int cap)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    int n = 0, k = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (k++ < 2) continue;
        row *r = &rows[n];
        r->n = 0;
        char *p = line;
        for (;;) { /* our tables quote no field these tests use */
            char *c = strpbrk(p, ",\n");
            int len = c ? (int)(c - p) : (int)strlen(p);
            if (r->n < 16) snprintf(r->cell[r->n++], 64, "%.*s", len, p);
            if (!c || *c == '\n') break;
            p = c + 1;
        }
        if (++n == cap) break;
    }
    if (f) fclose(f);
    return n;
}

static int run_bundle(const char *job, int publish, const char *out)
{
    df_ctx *ctx = df_ctx_new();
    df_job *jf = NULL;
    df_status st = df_job_load(ctx, job, "shapes/profiles", &jf);
    if (st == DF_OK) st = df_job_set_output(ctx, jf, out);
    if (st == DF_OK) df_job_set_publish(jf, publish);
    if (st == DF_OK) st = df_job_run(ctx, jf);
    if (st != DF_OK) printf("  %s\n", df_ctx_errmsg(ctx));
    df_job_free(jf);
    df_ctx_free(ctx);
    return st;
}

/* Do two files hold the same bytes? */
static int same_bytes(const char *a, const char *b)
{
    FILE *f = fopen(a, "rb"), *g = fopen(b, "rb");
    int same = f && g, c = 0;
    while (same && (c = fgetc(f)) == fgetc(g) && c != EOF) {}
    same = same && c == EOF;
    if (f) fclose(f);
    if (g) fclose(g);
    return same;
}

/* The published unit tables of a bundle and the full ones of the same run
 * without publish mode: figures below k gone, the others unchanged, and no
 * withheld district or governorate determined by the published ones and the
 * country's total (Gaussian elimination over the published sums). */
static int check_units(const char *pub, const char *full, int levels, int64_t k)
{
    static row p1[64], f1[64], p2[256], f2[256];
    char path[2048];
    snprintf(path, sizeof path, "%s/adm1.csv", pub);
    int n1 = read_table(path, p1, 64);
    snprintf(path, sizeof path, "%s/adm1.csv", full);
    EXPECT_INT(read_table(path, f1, 64), n1);
    int n2 = 0;
    if (levels > 1) {
        snprintf(path, sizeof path, "%s/adm2.csv", pub);
        n2 = read_table(path, p2, 256);
        snprintf(path, sizeof path, "%s/adm2.csv", full);
        EXPECT_INT(read_table(path, f2, 256), n2);
    }
    /* columns: 0 pcode, 1 name, 2 parent, 3 displaced ... 7 families */
    int withheld = 0, changed = 0, small = 0;
    for (int pass = 0; pass < 2; pass++) {
        row *p = pass ? p2 : p1, *f = pass ? f2 : f1;
        int n = pass ? n2 : n1;
        for (int i = 0; i < n; i++) {
            if (!p[i].cell[3][0]) {
                withheld++;
                continue;
            }
            for (int c = 3; c <= 8; c++) changed += strcmp(p[i].cell[c], f[i].cell[c]) != 0;
            int64_t fam = strtoll(p[i].cell[7], NULL, 10);
            small += fam > 0 && fam < k;
        }
    }
    EXPECT_INT(changed, 0);
    EXPECT_INT(small, 0);
    /* the sums: each governorate = its districts; the country = the governorates */
    int n = n1 + n2 + 1, m = 1 + (levels > 1 ? n1 : 0);
    sums s = {n, m, calloc((size_t)n * (size_t)m, sizeof(double))};
    unsigned char *w = calloc((size_t)n, 1), *det = calloc((size_t)n, 1);
    for (int g = 0; g < n1; g++) {
        s.coef[(size_t)0 * n + g] = 1;
        if (levels > 1) s.coef[(size_t)(1 + g) * n + g] = -1;
        w[g] = !p1[g].cell[3][0];
    }
    for (int d = 0; d < n2; d++) {
        int g = 0;
        while (g < n1 && strcmp(p1[g].cell[0], p2[d].cell[2]) != 0) g++;
        if (g < n1) s.coef[(size_t)(1 + g) * n + n1 + d] = 1;
        w[n1 + d] = !p2[d].cell[3][0];
    }
    s.coef[(size_t)0 * n + n - 1] = -1; /* the country's total, published */
    determined_by_algebra(&s, w, det);
    int pinned = 0;
    for (int e = 0; e < n; e++) pinned += det[e];
    EXPECT_INT(pinned, 0);
    printf("  %s: %d units withheld, none determined; published figures unchanged\n", pub, withheld);
    free(s.coef), free(w), free(det);
    return withheld;
}

/* The published OD matrix: no flow on fewer than k families; the others as
 * in the full bundle. */
static void check_flows(const char *pub, const char *full, int64_t k)
{
    static row p[4096], f[4096];
    char path[2048];
    snprintf(path, sizeof path, "%s/flows.csv", pub);
    int np = read_table(path, p, 4096);
    snprintf(path, sizeof path, "%s/flows.csv", full);
    int nf = read_table(path, f, 4096), small = 0, missing = 0;
    for (int i = 0; i < np; i++) { /* columns: 7 families, 8 individuals */
        int64_t fam = strtoll(p[i].cell[7], NULL, 10);
        small += fam > 0 && fam < k;
        int found = 0;
        for (int j = 0; j < nf && !found; j++)
            found = !strcmp(p[i].cell[0], f[j].cell[0]) && !strcmp(p[i].cell[2], f[j].cell[2]) &&
                    !strcmp(p[i].cell[4], f[j].cell[4]) && !strcmp(p[i].cell[8], f[j].cell[8]);
        missing += !found;
    }
    EXPECT_INT(small, 0);
    EXPECT_INT(missing, 0);
    printf("  %s: %d of %d flows published, none below k, each as in the full bundle\n", pub, np, nf);
}

/* ---- density: support counted by brute force ---------------------------------------- */

typedef struct {
    double *x, *y, *fam;
    long n, cap;
    const df_boundaries *b;
    PJ *pj;
} points;

static int on_point(const df_record *r, void *user)
{
    points *p = user;
    if (r->status != DF_DISPLACED || isnan(r->lon) || r->families <= 0) return 0;
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 4096;
        p->x = realloc(p->x, (size_t)p->cap * sizeof *p->x), p->y = realloc(p->y, (size_t)p->cap * sizeof *p->y);
        p->fam = realloc(p->fam, (size_t)p->cap * sizeof *p->fam);
    }
    double lon = r->lon, lat = r->lat;
    df__unswap_point(p->b, &lon, &lat); /* as the join and the density do */
    PJ_COORD c = proj_trans(p->pj, PJ_FWD, proj_coord(lon, lat, 0, 0));
    p->x[p->n] = c.xy.x, p->y[p->n] = c.xy.y, p->fam[p->n++] = (double)r->families;
    return 0;
}

static float *read_band(const char *path, int *w, int *h, double gt[6])
{
    GDALDatasetH ds = GDALOpen(path, GA_ReadOnly);
    if (!ds) return NULL;
    *w = GDALGetRasterXSize(ds), *h = GDALGetRasterYSize(ds);
    GDALGetGeoTransform(ds, gt);
    float *v = malloc((size_t)*w * (size_t)*h * sizeof *v);
    if (GDALRasterIO(GDALGetRasterBand(ds, 1), GF_Read, 0, 0, *w, *h, v, *w, *h, GDT_Float32, 0, 0) != CE_None)
        free(v), v = NULL;
    GDALClose(ds);
    return v;
}

/* Every masked pixel had people on fewer than k families within the radius,
 * and every published pixel with people stands on at least k: families
 * counted point by point, not by the engine's grid. */
static void check_density(const char *pub, const char *full, const char *records, const char *adm2, double k)
{
    char path[2048];
    int w, h, w2, h2;
    double gt[6], gt2[6];
    snprintf(path, sizeof path, "%s/density_displaced.tif", pub);
    float *vp = read_band(path, &w, &h, gt);
    snprintf(path, sizeof path, "%s/density_displaced.tif", full);
    float *vf = read_band(path, &w2, &h2, gt2);
    EXPECT(vp && vf && w == w2 && h == h2);
    if (!vp || !vf || w != w2 || h != h2) return;
    df_ctx *ctx = df_ctx_new();
    df_boundary_opts bo;
    df_boundaries *b = NULL;
    df_boundary_opts_init(&bo);
    bo.path = adm2;
    EXPECT_INT(df_boundaries_load(ctx, &bo, &b), DF_OK);
    points pts = {.b = b, .pj = proj_create_crs_to_crs(NULL, "EPSG:4326", "EPSG:32638", NULL)};
    PJ *norm = proj_normalize_for_visualization(NULL, pts.pj);
    proj_destroy(pts.pj), pts.pj = norm;
    df_record_opts ro;
    df_record_opts_init(&ro);
    ro.path = records;
    df_read_stats rs;
    EXPECT_INT(df_records_read(ctx, &ro, on_point, NULL, &pts, &rs), DF_OK);
    double radius = 5000; /* the job's default */
    long masked = 0, wrong = 0, checked = 0;
    for (int r = 0; r < h; r++)
        for (int c = 0; c < w; c++) {
            size_t q = (size_t)r * w + c;
            int is_masked = vp[q] == DF_DENSITY_NODATA && vf[q] != DF_DENSITY_NODATA && vf[q] > 0;
            int sample = vp[q] > 0 && vp[q] != DF_DENSITY_NODATA;
            if (!is_masked && !sample) continue;
            double px = gt[0] + (c + 0.5) * gt[1], py = gt[3] + (r + 0.5) * gt[5], sum = 0;
            for (long i = 0; i < pts.n; i++)
                if ((pts.x[i] - px) * (pts.x[i] - px) + (pts.y[i] - py) * (pts.y[i] - py) <= radius * radius)
                    sum += pts.fam[i];
            masked += is_masked, checked += sample;
            if (is_masked ? sum >= k : sum < k) wrong++;
        }
    EXPECT(masked > 0);
    EXPECT_INT(wrong, 0);
    printf("  density: %ld pixels masked, %ld published pixels with people checked; families within %g m counted by "
           "brute force\n",
           masked, checked, radius);
    free(pts.x), free(pts.y), free(pts.fam), free(vp), free(vf);
    proj_destroy(pts.pj);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

static void check_nothing_row_level(const char *pub)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/decisions.csv", pub);
    EXPECT(access(path, F_OK) != 0);
    /* issue 14 item 5: no figures per period (their cells are cells too), and the sitrep says so */
    snprintf(path, sizeof path, "%s/periods.csv", pub);
    EXPECT(access(path, F_OK) != 0);
    snprintf(path, sizeof path, "%s/sitrep.md", pub);
    FILE *md = fopen(path, "r");
    char text[1 << 16];
    size_t got = md ? fread(text, 1, sizeof text - 1, md) : 0;
    text[got] = '\0';
    if (md) fclose(md);
    EXPECT(strstr(text, "no figures per period (the periods layer and periods.csv)") != NULL);
    snprintf(path, sizeof path, "%s/layers.gpkg", pub);
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR, NULL, NULL, NULL);
    EXPECT(ds != NULL);
    if (!ds) return;
    EXPECT(GDALDatasetGetLayerByName(ds, "records") == NULL);
    EXPECT(GDALDatasetGetLayerByName(ds, "flow_nodes") == NULL);
    EXPECT(GDALDatasetGetLayerByName(ds, "periods") == NULL);
    GDALClose(ds);
}

TEST(published_sample_bundle)
{
    char job[1200], text[4096], pub[1200], full[1200], path[1200];
    snprintf(path, sizeof path, "%s/sample.csv", tmpdir);
    df_ctx *ctx = df_ctx_new();
    EXPECT_INT(df_sample_write(ctx, path, 2016), DF_OK);
    df_ctx_free(ctx);
    snprintf(job, sizeof job, "%s/sample.ini", tmpdir);
    snprintf(text, sizeof text,
             "[job]\noutput = full\nstep = none\n[records]\npath = sample.csv\n"
             "[boundaries]\nadm1 = %s/shapes/iraq_adm1_naturalearth.geojson\n"
             "[density]\npixel = 2000\nradius = 10000\n[publish]\nk = 1000\n",
             cwd);
    write_file(job, text);
    snprintf(pub, sizeof pub, "%s/published", tmpdir);
    snprintf(full, sizeof full, "%s/full", tmpdir);
    EXPECT_INT(run_bundle(job, 0, full), DF_OK);
    EXPECT_INT(run_bundle(job, 1, pub), DF_OK);
    EXPECT(check_units(pub, full, 1, 1000) > 0);
    check_flows(pub, full, 1000);
    check_nothing_row_level(pub);
}

TEST(published_mosul_bundle)
{
    NEED_FILE(SHARED_DATA "/synthetic_et_mosul/records.csv");
    char job[1200], text[4096], pub[1200], full[1200];
    snprintf(job, sizeof job, "%s/mosul.ini", tmpdir);
    snprintf(text, sizeof text,
             "[job]\noutput = full\nas_of = 2017-05-02\nstep = none\n[records]\npath = %s/" SHARED_DATA
             "/synthetic_et_mosul/records.csv\n"
             "[boundaries]\nadm2 = %s/" SHARED_DATA
             "/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm2_cso_20190603.shp\n"
             "[density]\npixel = 1000\n[publish]\nk = 1500\n",
             cwd, cwd);
    write_file(job, text);
    snprintf(pub, sizeof pub, "%s/mosul_published", tmpdir);
    snprintf(full, sizeof full, "%s/mosul_full", tmpdir);
    EXPECT_INT(run_bundle(job, 0, full), DF_OK);
    EXPECT_INT(run_bundle(job, 1, pub), DF_OK);
    EXPECT(check_units(pub, full, 2, 1500) > 0);
    check_flows(pub, full, 1500);
    /* issue 16: the joint check chooses the same figures twice (same bytes) */
    char again[1300], x[1400], y[1400];
    snprintf(again, sizeof again, "%s/mosul_published_again", tmpdir);
    EXPECT_INT(run_bundle(job, 1, again), DF_OK);
    static const char *const tables[] = {"adm1.csv", "adm2.csv", "flows.csv", "sitrep.md"};
    for (int i = 0; i < 4; i++) {
        snprintf(x, sizeof x, "%s/%s", pub, tables[i]), snprintf(y, sizeof y, "%s/%s", again, tables[i]);
        if (!same_bytes(x, y)) HARNESS_FAIL("%s differs between two runs", tables[i]);
    }
    check_nothing_row_level(pub);
    check_density(pub, full, SHARED_DATA "/synthetic_et_mosul/records.csv",
                  SHARED_DATA "/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm2_cso_20190603.shp", 1500);
}

/* ---- issue 16: a series of releases through the ledger ------------------------------------ */

/* A published figure of a release: a cell, the families behind it and its
 * value in individuals. */
typedef struct {
    char key[48];
    int rel;
    int64_t fam, ind;
} pubfig;

typedef struct {
    pubfig *v;
    long n, cap;
} pubfigs;

static void add_pub(pubfigs *p, const char *key, int rel, int64_t fam, int64_t ind)
{
    if (p->n == p->cap) p->v = realloc(p->v, (size_t)(p->cap = p->cap ? 2 * p->cap : 4096) * sizeof *p->v);
    pubfig *f = &p->v[p->n++];
    snprintf(f->key, sizeof f->key, "%s", key);
    f->rel = rel, f->fam = fam, f->ind = ind;
}

static int cmp_pubfig(const void *a, const void *b)
{
    const pubfig *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : x->rel - y->rel;
}

/* A number of the sitrep ("411,402", "+30,960"); -1 for "withheld". */
static int64_t sitrep_number(const char *s, int *published)
{
    while (*s == ' ') s++;
    *published = strncmp(s, "withheld", 8) != 0;
    int64_t v = 0, sign = 1;
    if (*s == '+') s++;
    if (*s == '-' || !strncmp(s, "\xe2\x88\x92", 3)) sign = -1, s += *s == '-' ? 1 : 3;
    for (; *s && *s != ' ' && *s != '|'; s++)
        if (*s >= '0' && *s <= '9') v = 10 * v + (*s - '0');
    return sign * v;
}

/* The key figures of sitrep.md (displaced, returned, still displaced,
 * families: value and change) and the flows' total. */
typedef struct {
    int64_t total[4], change[4], flows_all;
    int has_total[4], has_change, change_published, has_flows_all;
} key_figures;

static void read_sitrep(const char *dir, key_figures *kf)
{
    static const char *const labels[4] = {"| Displaced since the start |", "| Returned (of those displaced) |",
                                          "| Still displaced |", "| Families displaced |"};
    char path[2048], line[4096];
    memset(kf, 0, sizeof *kf);
    kf->change_published = 1;
    snprintf(path, sizeof path, "%s/sitrep.md", dir);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        for (int m = 0; m < 4; m++) {
            if (strncmp(line, labels[m], strlen(labels[m]))) continue;
            char *v = line + strlen(labels[m]), *c = strchr(v, '|');
            kf->total[m] = sitrep_number(v, &kf->has_total[m]);
            if (c && c[1] && c[1] != '\n') {
                int pub;
                kf->change[m] = sitrep_number(c + 1, &pub);
                kf->has_change = 1, kf->change_published &= pub;
            }
        }
        if (strstr(line, "No displacement flows in the period.")) /* the flows' total stated as 0 */
            kf->flows_all = 0, kf->has_flows_all = 1;
        char *all = strstr(line, " individuals in all");
        if (all) {
            char *start = all;
            while (start > line && start[-1] != ' ') start--;
            kf->flows_all = sitrep_number(start, &kf->has_flows_all);
        }
    }
    if (f) fclose(f);
    if (!kf->has_change) kf->change_published = 0;
}

/* The true OD flows of the Mosul table (truth_od_adm2.csv), cumulative to
 * a date: the independent count the published flows must equal. */
typedef struct {
    char from[16], to[16];
    int32_t date;
    int returned;
    int64_t ind;
} od_row;

static od_row *read_truth_od(const char *path, long *n)
{
    FILE *f = fopen(path, "r");
    char line[512];
    long cap = 0;
    od_row *v = NULL;
    *n = 0;
    while (f && fgets(line, sizeof line, f)) {
        char from[32], to[32], date[16], status[16];
        long long ind;
        if (sscanf(line, "%31[^,],%31[^,],%15[^,],%15[^,],%lld", from, to, date, status, &ind) != 5) continue;
        int32_t d;
        if (df_date_parse(date, &d) != 0) continue; /* the header */
        if (*n == cap) v = realloc(v, (size_t)(cap = cap ? 2 * cap : 4096) * sizeof *v);
        od_row *r = &v[(*n)++];
        snprintf(r->from, sizeof r->from, "%.15s", from), snprintf(r->to, sizeof r->to, "%.15s", to);
        r->date = d, r->returned = !strcmp(status, "returned"), r->ind = ind;
    }
    if (f) fclose(f);
    return v;
}

/* A pair of the truth with individuals to as_of. */
typedef struct {
    char from[16], to[16];
    int returned;
    int64_t ind;
    int published; /* in flows.csv, and the value there */
    int64_t pub_fam, pub_ind;
} od_pair;

static int find_pair(od_pair *p, int n, const char *from, const char *to, int returned)
{
    for (int i = 0; i < n; i++)
        if (p[i].returned == returned && !strcmp(p[i].from, from) && !strcmp(p[i].to, to)) return i;
    return -1;
}

typedef struct {
    long units_withheld, flows_withheld, figures;
    long determined, flow_mismatch, totals_withheld, changes_published, changes_withheld, change_not_a_difference;
} series_counts;

/* One release's bundle: its published figures into pub, and the check that
 * no withheld figure is determined by everything it publishes. The sums an
 * attacker may use, all at once (Gaussian elimination, independent of the
 * engine's bridge rule): each unit's still displaced = displaced -
 * returned; each governorate's four figures the sums of its districts'; the
 * country's totals (the sitrep's headline) the sums of the governorates';
 * returnees in all = returned in all; the displacement flows into a
 * district = its displaced; their total = the sitrep's flows total = the
 * displaced in all; the returns from a district = its returned, into a
 * district = its returnees. Equations between releases: none but the
 * change column, which is checked to be the difference of two published
 * totals (it adds nothing), so the system over all releases is block
 * diagonal and is solved release by release. */
static void check_release(const char *dir, int rel, int32_t as_of, const od_row *od, long nod, pubfigs *pub,
                          series_counts *sc)
{
    /* od holds only the pairs the engine's own flows have (see mosul_series) */
    static row r1[64], r2[256];
    static od_pair pairs[4096];
    char path[2048], key[96];
    snprintf(path, sizeof path, "%s/adm1.csv", dir);
    int n1 = read_table(path, r1, 64);
    snprintf(path, sizeof path, "%s/adm2.csv", dir);
    int n2 = read_table(path, r2, 256), nu = n1 + n2;
    key_figures kf;
    read_sitrep(dir, &kf);
    /* the truth's pairs to as_of, and the published flows among them */
    int np = 0;
    for (long i = 0; i < nod; i++) {
        if (od[i].date > as_of) continue;
        int q = find_pair(pairs, np, od[i].from, od[i].to, od[i].returned);
        if (q < 0) {
            q = np++;
            pairs[q] = (od_pair){.returned = od[i].returned};
            snprintf(pairs[q].from, 16, "%s", od[i].from), snprintf(pairs[q].to, 16, "%s", od[i].to);
        }
        pairs[q].ind += od[i].ind;
    }
    static row fl[4096];
    snprintf(path, sizeof path, "%s/flows.csv", dir);
    int nfl = read_table(path, fl, 4096);
    for (int i = 0; i < nfl; i++) {
        int q = find_pair(pairs, np, fl[i].cell[0], fl[i].cell[2], !strcmp(fl[i].cell[4], "returned"));
        if (q < 0 || pairs[q].ind != strtoll(fl[i].cell[8], NULL, 10)) {
            sc->flow_mismatch++;
            continue;
        }
        pairs[q].published = 1, pairs[q].pub_fam = strtoll(fl[i].cell[7], NULL, 10), pairs[q].pub_ind = pairs[q].ind;
    }
    /* the figures: 4 per unit (displaced, returned, still, returnees), the 4 totals, the flows' total, the flows */
    int T = 4 * nu, FD = T + 4, F0 = FD + 1, n = F0 + np;
    int mcap = nu + 4 * n1 + 5 + n2 + 2 + 2 * n2;
    sums s = {n, 0, calloc((size_t)mcap * (size_t)n, sizeof(double))};
    unsigned char *w = calloc((size_t)n, 1), *det = calloc((size_t)n, 1);
#define EQ(row_, var_, c_) (s.coef[(size_t)(row_) * (size_t)n + (size_t)(var_)] += (c_))
    static const char measure[4] = {'D', 'R', 'S', 'E'};
    for (int u = 0; u < nu; u++) {
        const row *r = u < n1 ? &r1[u] : &r2[u - n1];
        int out = !r->cell[3][0];
        for (int m = 0; m < 4; m++) {
            w[4 * u + m] = (unsigned char)out;
            if (out) continue;
            /* columns: 3 displaced, 4 returned, 5 still, 6 returnees, 7 families */
            int64_t ind = strtoll(r->cell[m == 0 ? 3 : m == 1 ? 4 : m == 2 ? 5 : 6], NULL, 10);
            snprintf(key, sizeof key, "u:%.20s:%c", r->cell[0], measure[m]);
            add_pub(pub, key, rel, m == 0 ? strtoll(r->cell[7], NULL, 10) : ind / 6, ind);
            sc->figures++;
        }
        sc->units_withheld += out;
        EQ(s.m, 4 * u + 2, 1), EQ(s.m, 4 * u + 0, -1), EQ(s.m, 4 * u + 1, 1), s.m++; /* S - D + R = 0 */
    }
    for (int g = 0; g < n1; g++)
        for (int m = 0; m < 4; m++) {
            EQ(s.m, 4 * g + m, -1);
            for (int d = 0; d < n2; d++)
                if (!strcmp(r2[d].cell[2], r1[g].cell[0])) EQ(s.m, 4 * (n1 + d) + m, 1);
            s.m++;
        }
    for (int m = 0; m < 4; m++) { /* the country's totals; returnees in all is published nowhere */
        EQ(s.m, T + m, -1);
        for (int g = 0; g < n1; g++) EQ(s.m, 4 * g + m, 1);
        s.m++;
        int shown = m < 3 && kf.has_total[m == 2 ? 2 : m];
        w[T + m] = (unsigned char)!shown;
        if (shown) {
            snprintf(key, sizeof key, "t:%c", measure[m]);
            add_pub(pub, key, rel, m == 0 ? kf.total[3] : kf.total[m] / 6, kf.total[m]);
        }
    }
    sc->totals_withheld += !kf.has_total[0] || !kf.has_total[1] || !kf.has_total[2];
    EQ(s.m, T + 3, 1), EQ(s.m, T + 1, -1), s.m++; /* returnees in all = returned in all */
    w[FD] = (unsigned char)!kf.has_flows_all;
    if (kf.has_flows_all) add_pub(pub, "ft", rel, kf.flows_all / 6, kf.flows_all);
    EQ(s.m, FD, 1), EQ(s.m, T + 0, -1), s.m++; /* the flows' total = the displaced in all */
    EQ(s.m, FD, -1);
    for (int q = 0; q < np; q++)
        if (!pairs[q].returned) EQ(s.m, F0 + q, 1);
    s.m++;
    for (int d = 0; d < n2; d++) { /* into a district, from a district */
        int col_d = s.m++, col_r = s.m++, row_r = s.m++;
        EQ(col_d, 4 * (n1 + d) + 0, -1), EQ(col_r, 4 * (n1 + d) + 3, -1), EQ(row_r, 4 * (n1 + d) + 1, -1);
        for (int q = 0; q < np; q++) {
            if (!strcmp(pairs[q].to, r2[d].cell[0])) EQ(pairs[q].returned ? col_r : col_d, F0 + q, 1);
            if (pairs[q].returned && !strcmp(pairs[q].from, r2[d].cell[0])) EQ(row_r, F0 + q, 1);
        }
    }
    for (int q = 0; q < np; q++) {
        w[F0 + q] = (unsigned char)!pairs[q].published;
        sc->flows_withheld += !pairs[q].published;
        if (!pairs[q].published) continue;
        snprintf(key, sizeof key, "f:%c:%.15s>%.15s", pairs[q].returned ? 'R' : 'D', pairs[q].from, pairs[q].to);
        add_pub(pub, key, rel, pairs[q].pub_fam, pairs[q].pub_ind);
        sc->figures++;
    }
#undef EQ
    /* returned and returnees of each unit by the truth's return flows: a
     * withheld 0 that its empty row of flows gives away tells nothing (zeros
     * are published) */
    int64_t *zero_ok = calloc((size_t)n, sizeof *zero_ok);
    for (int q = 0; q < np; q++)
        for (int u = 0; pairs[q].returned && u < nu; u++) {
            const char *pc = u < n1 ? r1[u].cell[0] : r2[u - n1].cell[0];
            size_t len = strlen(pc);
            if (!strncmp(pairs[q].from, pc, len)) zero_ok[4 * u + 1] += pairs[q].ind; /* adm1 P-codes prefix adm2's */
            if (!strncmp(pairs[q].to, pc, len)) zero_ok[4 * u + 3] += pairs[q].ind;
        }
    /* issue 16: all of the release's sums at once (every table's own sums are among them, so a figure no
     * table gives away alone is covered too) */
    determined_by_algebra(&s, w, det);
    for (int e = 0; e < n; e++) {
        if (!det[e] || e == T + 3) continue; /* returnees in all is published nowhere: its being a sum is no leak */
        if (e < T && (e % 4 == 1 || e % 4 == 3) && zero_ok[e] == 0) continue;
        if (sc->determined++ < 5)
            printf("  release %d: withheld %s determined by the release's sums\n", rel,
                   e < T     ? (e / 4 < n1 ? r1[e / 4].cell[0] : r2[e / 4 - n1].cell[0])
                   : e < FD  ? "headline total"
                   : e == FD ? "flows' total"
                             : "flow");
    }
    free(zero_ok);
    /* the change column: the difference of this release's totals and an earlier release's, both published */
    if (kf.has_change) {
        sc->changes_published += kf.change_published, sc->changes_withheld += !kf.change_published;
        if (kf.change_published) {
            int found = 0;
            for (long i = 0; i < pub->n && !found; i++)
                if (pub->v[i].rel < rel && !strcmp(pub->v[i].key, "t:D") && pub->v[i].ind == kf.total[0] - kf.change[0])
                    found = 1;
            sc->change_not_a_difference += !found;
            snprintf(key, sizeof key, "c:D:%d", rel); /* a figure of its own: its families not in (0, k) */
            add_pub(pub, key, rel, kf.change[3], kf.change[0]);
        }
    }
    free(s.coef), free(w), free(det);
}

/* Every pair of releases and every cell published in both: no difference
 * in (0, k) families. Returns the violations. */
static long check_differences(pubfigs *pub, int64_t k, long *pairs_checked)
{
    long bad = 0;
    qsort(pub->v, (size_t)pub->n, sizeof *pub->v, cmp_pubfig);
    for (long a = 0; a < pub->n;) {
        long b = a;
        while (b < pub->n && !strcmp(pub->v[b].key, pub->v[a].key)) b++;
        for (long i = a; i < b; i++)
            for (long j = i + 1; j < b; j++) {
                int64_t d = llabs(pub->v[i].fam - pub->v[j].fam);
                (*pairs_checked)++;
                if ((d > 0 || pub->v[i].ind != pub->v[j].ind) && d < k && bad++ < 5)
                    printf("  %s: releases %d and %d differ by %lld families\n", pub->v[i].key, pub->v[i].rel,
                           pub->v[j].rel, (long long)d);
            }
        a = b;
    }
    /* the change column's own value */
    for (long i = 0; i < pub->n; i++)
        if (!strncmp(pub->v[i].key, "c:D:", 4) && llabs(pub->v[i].fam) > 0 && llabs(pub->v[i].fam) < k) bad++;
    return bad;
}

static void write_mosul_job(const char *job, const char *as_of, int64_t k, const char *ledger)
{
    char text[4096], extra[1300] = "";
    if (ledger) snprintf(extra, sizeof extra, "ledger = %s\n", ledger);
    snprintf(text, sizeof text,
             "[job]\noutput = out\nas_of = %s\nstep = week\n[records]\npath = %s/" SHARED_DATA
             "/synthetic_et_mosul/records.csv\n"
             "[boundaries]\nadm2 = %s/" SHARED_DATA
             "/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm2_cso_20190603.shp\n"
             "[density]\nenabled = no\n[report]\nmaps = no\n[publish]\nk = %lld\n%s",
             as_of, cwd, cwd, (long long)k, extra);
    write_file(job, text);
}

/* Releases of the Mosul table from 17 Oct 2016 to 2 May 2017 through the
 * ledger, weekly (daily with DISPFLOW_DAILY_RELEASES=1), each also made
 * alone (without the ledger) for the cost of safety. */
static void mosul_series(int64_t k)
{
    int daily = getenv("DISPFLOW_DAILY_RELEASES") && atoi(getenv("DISPFLOW_DAILY_RELEASES"));
    long nod, nkeep = 0;
    od_row *od = read_truth_od(SHARED_DATA "/synthetic_et_mosul/truth_od_adm2.csv", &nod);
    EXPECT(nod > 1000);
    /* the pairs of the truth that the engine's flows have, on 2 May unpublished: a record the flows cannot
     * place (one return) is in no flow table, and its pair is no figure of one */
    static row all_flows[8192];
    char full_job[1300], full[1200];
    snprintf(full_job, sizeof full_job, "%s/full_%lld.ini", tmpdir, (long long)k);
    snprintf(full, sizeof full, "%s/full_out", tmpdir);
    write_mosul_job(full_job, "2017-05-02", k, NULL);
    EXPECT_INT(run_bundle(full_job, 0, full), DF_OK);
    snprintf(full_job, sizeof full_job, "%s/flows.csv", full);
    int nall = read_table(full_job, all_flows, 8192);
    for (long i = 0; i < nod; i++) {
        int known = 0;
        for (int j = 0; j < nall && !known; j++)
            known = !strcmp(all_flows[j].cell[0], od[i].from) && !strcmp(all_flows[j].cell[2], od[i].to) &&
                    !strcmp(all_flows[j].cell[4], od[i].returned ? "returned" : "displaced");
        if (known) od[nkeep++] = od[i];
    }
    printf("  %ld of %ld rows of truth_od_adm2.csv in pairs of the engine's flows\n", nkeep, nod);
    nod = nkeep;
    char job[1200], alone_job[1200], ledger[1200], out[1200], alone[1200], date[16];
    snprintf(job, sizeof job, "%s/series_%lld.ini", tmpdir, (long long)k);
    snprintf(alone_job, sizeof alone_job, "%s/alone_%lld.ini", tmpdir, (long long)k);
    snprintf(ledger, sizeof ledger, "%s/mosul_%lld.sqlite", tmpdir, (long long)k);
    snprintf(out, sizeof out, "%s/series_out", tmpdir);
    snprintf(alone, sizeof alone, "%s/alone_out", tmpdir);
    pubfigs pub = {0};
    series_counts with = {0}, without = {0};
    pubfigs scratch = {0};
    int32_t first, last;
    df_date_parse("2016-10-17", &first), df_date_parse("2017-05-02", &last);
    int rel = 0;
    for (int32_t d = first;; d += daily ? 1 : 7) {
        if (d > last) d = last; /* the last release is 2 May */
        df_date_format(d, date);
        write_mosul_job(job, date, k, ledger);
        write_mosul_job(alone_job, date, k, NULL);
        rel++;
        EXPECT_INT(run_bundle(job, 1, out), DF_OK);
        check_release(out, rel, d, od, nod, &pub, &with);
        EXPECT_INT(run_bundle(alone_job, 1, alone), DF_OK);
        scratch.n = 0;
        check_release(alone, rel, d, od, nod, &scratch, &without);
        if (d == last) break;
    }
    long pairs = 0, bad = check_differences(&pub, k, &pairs);
    EXPECT_INT(bad, 0);
    EXPECT_INT(with.determined, 0);
    EXPECT_INT(with.flow_mismatch, 0);
    EXPECT_INT(with.change_not_a_difference, 0);
    EXPECT(with.changes_published > 0);
    /* one release alone leaks: its differences with the others lie in (0, k) */
    EXPECT(without.figures > 0);
    EXPECT_INT(without.determined, 0);
    printf("  k = %lld, %d %s releases: %ld published figures, %ld pairs of published values compared, none in (0, "
           "k); no withheld figure determined by all of a release's sums at once (units, both flow tables, totals), "
           "with the ledger or alone; change column published %ld times (each the difference of two published "
           "totals), withheld %ld\n",
           (long long)k, rel, daily ? "daily" : "weekly", with.figures, pairs, with.changes_published,
           with.changes_withheld);
    printf("  withheld across the series (unit rows, flows, releases with a headline figure withheld): with the "
           "ledger %ld, %ld, %ld; each "
           "release alone %ld, %ld, %ld (of %ld unit rows)\n",
           with.units_withheld, with.flows_withheld, with.totals_withheld, without.units_withheld,
           without.flows_withheld, without.totals_withheld, (long)rel * 119);
    free(pub.v), free(scratch.v), free(od);
}

TEST(ledger_mosul_series_k100)
{
    NEED_FILE(SHARED_DATA "/synthetic_et_mosul/truth_od_adm2.csv");
    mosul_series(100);
}

TEST(ledger_mosul_series_k5)
{
    NEED_FILE(SHARED_DATA "/synthetic_et_mosul/truth_od_adm2.csv");
    mosul_series(5);
}

/* ---- issue 16: the ledger's refusals, its atomicity, rounding ------------------------------ */

/* A run with a message: the status, and the error text into msg. */
static int run_with(const char *job, int publish, int new_series, const char *out, df_progress_fn fn, void *user,
                    char *msg, size_t cap)
{
    df_ctx *ctx = df_ctx_new();
    df_job *jf = NULL;
    if (fn) df_ctx_set_progress(ctx, fn, user);
    df_status st = df_job_load(ctx, job, "shapes/profiles", &jf);
    if (st == DF_OK) st = df_job_set_output(ctx, jf, out);
    if (st == DF_OK) df_job_set_publish(jf, publish), df_job_set_new_series(jf, new_series);
    if (st == DF_OK) st = df_job_run(ctx, jf);
    snprintf(msg, cap, "%s", st == DF_OK ? "" : df_ctx_errmsg(ctx));
    df_job_free(jf);
    df_ctx_free(ctx);
    return st;
}

static char *slurp(const char *path, long *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return *n = -1, NULL;
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)*n + 1);
    *n = (long)fread(b, 1, (size_t)*n, f);
    fclose(f);
    return b;
}

/* The same bytes as before? */
static int same_file(const char *path, const char *bytes, long n)
{
    long m;
    char *now = slurp(path, &m);
    int same = m == n && (n < 0 || !memcmp(now, bytes, (size_t)n));
    free(now);
    return same;
}

static long ledger_count(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    long n = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        n = (long)sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

static void ledger_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) == SQLITE_OK) EXPECT_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void write_sample_job(const char *job, const char *as_of, const char *ledger, const char *extra)
{
    int k = extra && !strncmp(extra, "k = ", 4) ? atoi(extra + 4) : 5;
    if (k != 5) extra = NULL;
    char text[4096];
    snprintf(text, sizeof text,
             "[job]\noutput = out\nas_of = %s\nstep = none\n[records]\npath = ledger_sample.csv\n"
             "[boundaries]\nadm1 = %s/shapes/iraq_adm1_naturalearth.geojson\n[density]\nenabled = no\n"
             "[report]\nmaps = no\n[publish]\nk = %d\nledger = %s\n%s",
             as_of, cwd, k, ledger, extra ? extra : "");
    write_file(job, text);
}

/* Stage "manifest": a stray file appears in the output folder, so the swap refuses (a run that fails after
 * the ledger's pending release is written). */
static int stray_at_manifest(double fraction, const char *stage, void *user)
{
    (void)fraction;
    if (stage && strstr(stage, "manifest")) {
        char path[1300];
        snprintf(path, sizeof path, "%s/stray.txt", (const char *)user);
        write_file(path, "not ours\n");
    }
    return 1;
}

TEST(ledger_refusals_and_atomicity) /* issue 16 items 1, 5, 6 */
{
    char csv[1200], job[1200], ledger[1200], out[1200], msg[2048], path[1300];
    snprintf(csv, sizeof csv, "%s/ledger_sample.csv", tmpdir);
    df_ctx *ctx = df_ctx_new();
    EXPECT_INT(df_sample_write(ctx, csv, 2016), DF_OK);
    df_ctx_free(ctx);
    snprintf(job, sizeof job, "%s/ledger_sample.ini", tmpdir);
    snprintf(ledger, sizeof ledger, "%s/sample_ledger.sqlite", tmpdir);
    snprintf(out, sizeof out, "%s/ledger_sample_out", tmpdir);
    write_sample_job(job, "2017-01-01", ledger, NULL);

    /* without publish mode the ledger is never read or written: a file that is no ledger stays as it was */
    write_file(ledger, "not a ledger\n");
    EXPECT_INT(run_with(job, 0, 0, out, NULL, NULL, msg, sizeof msg), DF_OK);
    EXPECT(same_file(ledger, "not a ledger\n", 13));
    snprintf(path, sizeof path, "%s.lock", ledger);
    EXPECT(access(path, F_OK) != 0);
    /* with publish mode it is read, and refused by name */
    EXPECT_INT(run_with(job, 1, 0, out, NULL, NULL, msg, sizeof msg), DF_EIO);
    EXPECT(strstr(msg, ledger) != NULL);
    unlink(ledger);

    /* the first release makes the ledger */
    EXPECT_INT(run_with(job, 1, 0, out, NULL, NULL, msg, sizeof msg), DF_OK);
    EXPECT_INT(ledger_count(ledger, "SELECT count(*) FROM releases"), 1);
    EXPECT(ledger_count(ledger, "SELECT count(*) FROM figures WHERE release = 1 AND cell LIKE 'adm1:%'") == 18 * 4);
    long n1;
    char *before = slurp(ledger, &n1);

    /* the same date again: refused, the ledger untouched */
    EXPECT_INT(run_with(job, 1, 0, out, NULL, NULL, msg, sizeof msg), DF_EINVAL);
    EXPECT(strstr(msg, "not after release 1") != NULL);
    EXPECT(same_file(ledger, before, n1));

    /* another k is another series */
    write_sample_job(job, "2017-02-01", ledger, "k = 6\n");
    EXPECT_INT(run_with(job, 1, 0, out, NULL, NULL, msg, sizeof msg), DF_EINVAL);
    EXPECT(strstr(msg, "k = 5, this release has k = 6") != NULL);
    EXPECT(same_file(ledger, before, n1));

    /* a revised earlier round: a row dated before release 1 appears; refused with the cells named */
    FILE *f = fopen(csv, "a");
    if (f)
        fputs("2016-12-01,Displaced,Ninewa,Al-Hamdaniya,Chamakor camp,36.3330,43.6168,Camp,NINAWA,Al Mosul,,,150,900\n",
              f),
            fclose(f);
    write_sample_job(job, "2017-02-01", ledger, NULL);
    EXPECT_INT(run_with(job, 1, 0, out, NULL, NULL, msg, sizeof msg), DF_EINVAL);
    EXPECT(strstr(msg, "total displaced as of 2017-01-01 (release 1)") != NULL);
    EXPECT(strstr(msg, "--new-series") != NULL);
    EXPECT(same_file(ledger, before, n1));
    snprintf(path, sizeof path, "%s/manifest.json", out);
    json_object *m = json_object_from_file(path), *pub = NULL, *rel = NULL;
    EXPECT(m && json_object_object_get_ex(m, "publish", &pub) &&
           json_object_object_get_ex(pub, "ledger_release", &rel) &&
           json_object_get_int(rel) == 1); /* the bundle of release 1 is still there */
    json_object_put(m);

    /* a run that fails after its release was written pending (the swap refuses): the ledger as it was */
    EXPECT_INT(run_with(job, 1, 1, out, stray_at_manifest, out, msg, sizeof msg), DF_EIO);
    EXPECT(same_file(ledger, before, n1));
    snprintf(path, sizeof path, "%s.pending", ledger);
    EXPECT(access(path, F_OK) != 0);
    snprintf(path, sizeof path, "%s/stray.txt", out);
    unlink(path);

    /* a new series on purpose: release 2, series 2 */
    EXPECT_INT(run_with(job, 1, 1, out, NULL, NULL, msg, sizeof msg), DF_OK);
    EXPECT_INT(ledger_count(ledger, "SELECT max(series) FROM releases WHERE release = 2"), 2);

    /* a run stopped between the bundle's swap and the ledger's rename: the next release finishes it */
    snprintf(path, sizeof path, "%s.pending", ledger);
    long n2;
    char *two = slurp(ledger, &n2);
    f = fopen(path, "wb");
    if (f) fwrite(two, 1, (size_t)n2, f), fclose(f);
    ledger_exec(ledger, "DELETE FROM figures WHERE release = 2; DELETE FROM releases WHERE release = 2");
    write_sample_job(job, "2017-03-01", ledger, NULL);
    EXPECT_INT(run_with(job, 1, 0, out, NULL, NULL, msg, sizeof msg), DF_OK);
    EXPECT_INT(ledger_count(ledger, "SELECT count(*) FROM releases"), 3);
    EXPECT(access(path, F_OK) != 0);
    /* ... and one stopped before the swap: its pending release is undone */
    f = fopen(path, "wb");
    if (f) fwrite(two, 1, (size_t)n2, f), fclose(f); /* release 2 pending, while the bundle is release 3 */
    write_sample_job(job, "2017-04-01", ledger, NULL);
    EXPECT_INT(run_with(job, 1, 0, out, NULL, NULL, msg, sizeof msg), DF_OK);
    EXPECT_INT(ledger_count(ledger, "SELECT count(*) FROM releases"), 4);
    EXPECT(access(path, F_OK) != 0);
    free(before), free(two);
}

TEST(ledger_gpkg_and_rounding) /* issue 16 items 1 and 2 */
{
    EXPECT_INT(df__round_to(1234, 10), 1230);
    EXPECT_INT(df__round_to(1235, 10), 1240);
    EXPECT_INT(df__round_to(4, 10), 0);
    EXPECT_INT(df__round_to(-15, 10), -10);
    EXPECT_INT(df__round_to(-16, 10), -20);
    EXPECT_INT(df__round_to(7, 1), 7);
    char csv[1200], job[1200], ledger[1200], out[1200], msg[2048], path[1300];
    snprintf(csv, sizeof csv, "%s/ledger_sample.csv", tmpdir);
    df_ctx *ctx = df_ctx_new();
    EXPECT_INT(df_sample_write(ctx, csv, 2016), DF_OK);
    df_ctx_free(ctx);
    snprintf(job, sizeof job, "%s/ledger_round.ini", tmpdir);
    snprintf(ledger, sizeof ledger, "%s/round_ledger.gpkg", tmpdir);
    snprintf(out, sizeof out, "%s/ledger_round_out", tmpdir);
    write_sample_job(job, "2017-01-01", ledger, "round = 10\n");
    EXPECT_INT(run_with(job, 1, 0, out, NULL, NULL, msg, sizeof msg), DF_OK);
    write_sample_job(job, "2017-01-08", ledger, "round = 10\n");
    EXPECT_INT(run_with(job, 1, 0, out, NULL, NULL, msg, sizeof msg), DF_OK);
    /* every published count a multiple of 10 */
    static row r[64];
    snprintf(path, sizeof path, "%s/adm1.csv", out);
    int n = read_table(path, r, 64), odd = 0, published = 0;
    for (int i = 0; i < n; i++)
        for (int c = 3; c <= 8 && r[i].cell[3][0]; c++) odd += strtoll(r[i].cell[c], NULL, 10) % 10 != 0, published++;
    snprintf(path, sizeof path, "%s/flows.csv", out);
    static row fl[1024];
    int nf = read_table(path, fl, 1024);
    for (int i = 0; i < nf; i++)
        for (int c = 7; c <= 9; c++) odd += strtoll(fl[i].cell[c], NULL, 10) % 10 != 0, published++;
    EXPECT(published > 20);
    EXPECT_INT(odd, 0);
    /* the ledger is a GeoPackage whose tables open as layers */
    GDALDatasetH ds = GDALOpenEx(ledger, GDAL_OF_VECTOR, NULL, NULL, NULL);
    EXPECT(ds != NULL);
    if (ds) {
        OGRLayerH l = GDALDatasetGetLayerByName(ds, "releases");
        EXPECT(l && OGR_L_GetFeatureCount(l, TRUE) == 2);
        l = GDALDatasetGetLayerByName(ds, "figures");
        EXPECT(l && OGR_L_GetFeatureCount(l, TRUE) > 100);
        GDALClose(ds);
    }
    printf("  round = 10: %d published counts, all multiples of 10; the ledger opens in OGR as a GeoPackage\n",
           published);
}

int main(void)
{
    if (!getcwd(cwd, sizeof cwd) || !mkdtemp(tmpdir)) return 1;
    GDALAllRegister();
    RUN(one_small_figure);
    RUN(joint_check_random_sums);
    RUN(od_matrices_with_margins);
    RUN(units_within_governorates);
    RUN(published_sample_bundle);
    RUN(published_mosul_bundle);
    RUN(ledger_refusals_and_atomicity);
    RUN(ledger_gpkg_and_rounding);
    RUN(ledger_mosul_series_k100);
    RUN(ledger_mosul_series_k5);
    harness_remove_dir(tmpdir);
    return harness_done();
}
