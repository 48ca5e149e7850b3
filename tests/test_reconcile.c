/*
 * test_reconcile.c — names to units: the hand-made hard cases, the Natural
 * Earth governorates against COD-AB, every governorate spelling of the 2014
 * DTM master lists, and the synthetic Emergency Tracking table's
 * origin-destination pairs against its truth.
 */
#include "dfint.h"
#include "harness.h"

#include <stdlib.h>

#define COD      SHARED_DATA "/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm"
#define ADM1_SHP COD "1_cso_20190603.shp"
#define ADM2_SHP COD "2_cso_20190603.shp"
#define ET       SHARED_DATA "/synthetic_et_mosul/"

static char tmpdir[] = "/tmp/dispflow-reconcile-XXXXXX";

/* The join's walk for one name: the parent first (at level-1), then the
 * name inside it, or in the whole country when the parent is unknown. */
static int reconcile(const df_boundaries *b, int level, const char *name, const char *parent)
{
    int p = -1;
    if (parent && *parent && level > 1) p = df__reconcile_name(b, level - 1, parent, -1).unit;
    return df__reconcile_name(b, level, name, p).unit;
}

static int split(char *line, char **f, int max)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line; n < max; p++) {
        f[n++] = p;
        p = strchr(p, ',');
        if (!p) break;
        *p = '\0';
    }
    return n;
}

TEST(hard_cases)
{
    NEED_FILE(ADM2_SHP);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, ADM2_SHP, 1);
    FILE *f = fopen("tests/data/names_hard_cases.csv", "r");
    char line[512];
    int rows = 0, right = 0;
    EXPECT(b && f);
    if (!b || !f) return;
    if (!fgets(line, sizeof line, f)) line[0] = '\0';
    while (fgets(line, sizeof line, f)) {
        char *c[5];
        if (split(line, c, 5) < 5) continue;
        int level = atoi(c[0]);
        int u = reconcile(b, level, c[1], c[2]);
        const char *got = u >= 0 ? df_boundaries_unit(b, level, u)->name : "UNMATCHED";
        rows++;
        if (strcmp(got, c[3]) == 0)
            right++;
        else
            HARNESS_FAIL("adm%d \"%s\" (parent \"%s\"): got %s, want %s (%s)", level, c[1], c[2], got, c[3], c[4]);
    }
    fclose(f);
    printf("  %d hard cases, %d as expected\n", rows, right);
    EXPECT(rows >= 40);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* The Natural Earth governorates shipped in shapes/ reconcile by name to
 * COD-AB ADM1, 18 of 18, each to the COD unit that contains a point inside
 * the Natural Earth polygon (an independent, geometric answer). */
TEST(natural_earth_to_cod_by_name)
{
    NEED_FILE(ADM1_SHP);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *cod = harness_boundaries(ctx, ADM1_SHP, 1),
                  *ne = harness_boundaries(ctx, "shapes/iraq_adm1_naturalearth.geojson", 0);
    EXPECT(cod && ne);
    if (!cod || !ne) return;
    int n = df_boundaries_count(ne, 1), agree = 0, seen[32] = {0};
    EXPECT_INT(n, 18);
    for (int i = 0; i < n; i++) {
        const df_unit *u = df_boundaries_unit(ne, 1, i);
        df__name_match m = df__reconcile_name(cod, 1, u->name, -1);
        GEOSGeometry *pt = GEOSPointOnSurface_r(ctx->geos, df__boundaries_geometry(ne, 1, i));
        double x = 0, y = 0;
        GEOSGeomGetX_r(ctx->geos, pt, &x);
        GEOSGeomGetY_r(ctx->geos, pt, &y);
        GEOSGeom_destroy_r(ctx->geos, pt);
        int where = df_boundaries_locate(cod, 1, x, y);
        if (m.unit >= 0 && m.unit == where)
            agree++, seen[m.unit]++;
        else
            HARNESS_FAIL("%s: by name %s (%s), by geometry %s", u->name,
                         m.unit >= 0 ? df_boundaries_unit(cod, 1, m.unit)->name : "unmatched", df__how_name(m.how),
                         where >= 0 ? df_boundaries_unit(cod, 1, where)->name : "none");
    }
    int distinct = 0;
    for (int k = 0; k < 32; k++) distinct += seen[k] > 0;
    EXPECT_INT(agree, 18);
    EXPECT_INT(distinct, 18);
    df_boundaries_free(cod);
    df_boundaries_free(ne);
    df_ctx_free(ctx);
}

/* ---- the 2014 DTM master lists --------------------------------------------------- */

typedef struct {
    char spelling[64];
    int origin; /* seen as an origin governorate */
    int by_name;
    long rows, pip[32]; /* rows whose point falls in each COD governorate */
    long district_rows, district_agree;
} spelling;

typedef struct {
    const df_boundaries *b;
    spelling s[128];
    int n;
    long district_rows, district_agree, district_named;
} dtm_tally;

static spelling *find_spelling(dtm_tally *t, const char *name, int origin)
{
    for (int i = 0; i < t->n; i++)
        if (t->s[i].origin == origin && strcmp(t->s[i].spelling, name) == 0) return &t->s[i];
    if (t->n == 128) return NULL;
    spelling *s = &t->s[t->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->spelling, sizeof s->spelling, "%s", name);
    s->origin = origin;
    s->by_name = df__reconcile_name(t->b, 1, name, -1).unit;
    return s;
}

static int tally_dtm(const df_record *r, void *user)
{
    dtm_tally *t = user;
    int gov = isnan(r->lon) ? -1 : df_boundaries_locate(t->b, 1, r->lon, r->lat);
    if (r->location.name[1]) {
        spelling *s = find_spelling(t, r->location.name[1], 0);
        if (s) {
            s->rows++;
            if (gov >= 0) s->pip[gov]++;
            /* the district, inside the governorate by name */
            if (r->location.name[2] && s->by_name >= 0 && !isnan(r->lon)) {
                int d = df__reconcile_name(t->b, 2, r->location.name[2], s->by_name).unit;
                int at = df_boundaries_locate(t->b, 2, r->lon, r->lat);
                t->district_rows++;
                t->district_named += d >= 0;
                t->district_agree += d >= 0 && d == at;
            }
        }
    }
    if (r->origin.name[1]) {
        spelling *s = find_spelling(t, r->origin.name[1], 1);
        if (s) s->rows++;
    }
    return 0;
}

TEST(dtm_2014_governorate_spellings)
{
    static const char *files[] = {"final_18082014_dtm_master.csv", "DTM_Dataset_-_01092014_final_0.csv",
                                  "DTM_Dataset_14092014.csv", "DTM_Dataset_28092014.csv", "DTM_Dataset_26102014.csv"};
    NEED_FILE(ADM2_SHP);
    NEED_FILE(SHARED_DATA "/dtm_irq_2014_locations/label.csv");
    df_ctx *ctx = df_ctx_new();
    static dtm_tally t;
    memset(&t, 0, sizeof t);
    t.b = harness_boundaries(ctx, ADM2_SHP, 1);
    for (int i = 0; i < 5; i++) {
        char path[512];
        df_record_opts o;
        df_read_stats st;
        df_record_opts_init(&o);
        snprintf(path, sizeof path, SHARED_DATA "/dtm_irq_2014_locations/%s", files[i]);
        o.path = path;
        o.header = 0;
        o.map = "families=4,origin_adm1=5,adm1=7,adm2=8,adm3=9,location=11,lon=14,lat=15";
        EXPECT_INT(df_records_read(ctx, &o, tally_dtm, NULL, &t, &st), DF_OK);
    }
    /* each location spelling: the governorate its points fall in, mostly */
    int location = 0, origins = 0;
    for (int i = 0; i < t.n; i++) {
        spelling *s = &t.s[i];
        if (s->by_name < 0) {
            HARNESS_FAIL("%s governorate \"%s\" (%ld rows) is unmatched", s->origin ? "origin" : "location",
                         s->spelling, s->rows);
            continue;
        }
        if (s->origin) {
            origins++;
            continue;
        }
        location++;
        int best = 0;
        for (int g = 1; g < 32; g++)
            if (s->pip[g] > s->pip[best]) best = g;
        if (best != s->by_name)
            HARNESS_FAIL("\"%s\": by name %s, its points mostly in %s", s->spelling,
                         df_boundaries_unit(t.b, 1, s->by_name)->name, df_boundaries_unit(t.b, 1, best)->name);
    }
    /* an origin spelling also used for locations goes where the locations go */
    for (int i = 0; i < t.n; i++)
        for (int k = 0; k < t.n; k++)
            if (t.s[i].origin && !t.s[k].origin && !strcmp(t.s[i].spelling, t.s[k].spelling))
                EXPECT_INT(t.s[i].by_name, t.s[k].by_name);
    printf("  %d location and %d origin governorate spellings, all matched; districts named inside their "
           "governorate: %ld of %ld rows matched by name, %ld (%.1f%%) agree with point-in-polygon\n",
           location, origins, t.district_named, t.district_rows, t.district_agree,
           t.district_rows ? 100.0 * t.district_agree / t.district_rows : 0.0);
    EXPECT(location >= 17);
    df_boundaries_free((df_boundaries *)t.b);
    df_ctx_free(ctx);
}

/* ---- the synthetic table's origin-destination pairs --------------------------------- */

/* Displaced rows flow from the district of origin to the district of the
 * location; returned rows from the district of displacement to the
 * district of return. Aggregated from the decision log, every (from, to,
 * date, status) of truth_od_adm2.csv is reproduced, and nothing else. */
TEST(synthetic_od_pairs_equal_truth)
{
    NEED_FILE(ET "truth_od_adm2.csv");
    NEED_FILE(ADM2_SHP);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, ADM2_SHP, 1);
    char log[256];
    snprintf(log, sizeof log, "%s/decisions.csv", tmpdir);
    df_record_opts ro;
    df_join_opts jo;
    df_join *j = NULL;
    df_record_opts_init(&ro);
    df_join_opts_init(&jo);
    ro.path = ET "records.csv";
    jo.log_path = log;
    EXPECT_INT(df_join_run(ctx, b, &ro, &jo, &j), DF_OK);
    /* "from,to,date,status" -> individuals, from the log */
    typedef struct {
        char key[64];
        long long ind;
    } pair;
    static pair ours[4096], truth[4096];
    int no = 0, nt = 0;
    FILE *f = fopen(log, "r");
    char line[2048];
    if (!fgets(line, sizeof line, f)) line[0] = '\0';
    while (fgets(line, sizeof line, f)) {
        char *c[14];
        if (split(line, c, 14) < 13 || strcmp(c[4], "rejected") == 0 || !c[6][0]) continue;
        const char *from = !strcmp(c[2], "returned") ? c[9] : c[11];
        char key[64];
        snprintf(key, sizeof key, "%s,%s,%s,%s", from, c[6], c[1], c[2]);
        int k = 0;
        while (k < no && strcmp(ours[k].key, key) != 0) k++;
        if (k == no && no < 4096) snprintf(ours[no++].key, sizeof ours[0].key, "%s", key);
        if (k < 4096) ours[k].ind += atoll(c[3]);
    }
    fclose(f);
    f = fopen(ET "truth_od_adm2.csv", "r");
    if (!fgets(line, sizeof line, f)) line[0] = '\0';
    while (fgets(line, sizeof line, f) && nt < 4096) {
        char *c[5];
        if (split(line, c, 5) < 5) continue;
        snprintf(truth[nt].key, sizeof truth[0].key, "%s,%s,%s,%s", c[0], c[1], c[2], c[3]);
        truth[nt++].ind = atoll(c[4]);
    }
    fclose(f);
    int equal = 0;
    for (int i = 0; i < nt; i++) {
        int k = 0;
        while (k < no && strcmp(ours[k].key, truth[i].key) != 0) k++;
        if (k < no && ours[k].ind == truth[i].ind)
            equal++;
        else
            HARNESS_FAIL("%s: dispflow %lld, truth %lld", truth[i].key, k < no ? ours[k].ind : 0, truth[i].ind);
    }
    printf("  %d of %d truth pairs reproduced; dispflow has %d pairs\n", equal, nt, no);
    EXPECT_INT(equal, nt);
    EXPECT_INT(no, nt);
    df_join_free(j);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) return 1;
    RUN(hard_cases);
    RUN(natural_earth_to_cod_by_name);
    RUN(dtm_2014_governorate_spellings);
    RUN(synthetic_od_pairs_equal_truth);
    harness_remove_dir(tmpdir);
    return harness_done();
}
