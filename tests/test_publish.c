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
    snprintf(path, sizeof path, "%s/layers.gpkg", pub);
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR, NULL, NULL, NULL);
    EXPECT(ds != NULL);
    if (!ds) return;
    EXPECT(GDALDatasetGetLayerByName(ds, "records") == NULL);
    EXPECT(GDALDatasetGetLayerByName(ds, "flow_nodes") == NULL);
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
    check_nothing_row_level(pub);
    check_density(pub, full, SHARED_DATA "/synthetic_et_mosul/records.csv",
                  SHARED_DATA "/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm2_cso_20190603.shp", 1500);
}

int main(void)
{
    if (!getcwd(cwd, sizeof cwd) || !mkdtemp(tmpdir)) return 1;
    GDALAllRegister();
    RUN(one_small_figure);
    RUN(od_matrices_with_margins);
    RUN(units_within_governorates);
    RUN(published_sample_bundle);
    RUN(published_mosul_bundle);
    harness_remove_dir(tmpdir);
    return harness_done();
}
