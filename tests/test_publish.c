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
    unsigned char *w = malloc((size_t)n), *det = malloc((size_t)n);
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
        }
        else {
            EXPECT(rc >= 0);
            check_table("units", cells, n, &s, 5, &withheld);
            tables++;
        }
        free(cells), free(s.coef);
    }
    printf("  %d unit tables, %d figures withheld; %d tables whose total is itself below k\n", tables, withheld, covered);
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

int main(void)
{
    RUN(one_small_figure);
    RUN(od_matrices_with_margins);
    RUN(units_within_governorates);
    return harness_done();
}
