/*
 * test_maps.c — the situation report's map picture: the embedded sample on
 * the shipped governorates and the synthetic Mosul table on the COD-AB
 * districts drawn at the asked size, not blank, with the top class and the
 * flow arrows on it, byte-identical when drawn twice, and failures that
 * name the file and leave nothing behind. DF_MAPS_DIR=/some/dir keeps a
 * copy of each picture there to look at.
 */
#include "dfint.h"
#include "harness.h"

#include <cairo.h>
#include <cairo-pdf.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

#define NE_ADM1  "shapes/iraq_adm1_naturalearth.geojson"
#define ADM2_SHP SHARED_DATA "/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm2_cso_20190603.shp"
#define ET       SHARED_DATA "/synthetic_et_mosul/"
#define TCD_ADM1 SHARED_DATA "/tcd/boundaries/tcd_admbnda_adm1_ocha.shp"
#define SDN_ADM1 SHARED_DATA "/sdn/boundaries/sdn_admbnda_adm1_cbs_nic_ssa_20200831.json"

static char tmpdir[] = "/tmp/dispflow-maps-XXXXXX";

/* Displaced per unit at level; units without records have no data (-1). */
static double *join_values(df_ctx *ctx, const df_boundaries *b, const char *records, int level, char *dates, size_t cap)
{
    df_record_opts ro;
    df_join_opts jo;
    df_join *j = NULL;
    df_record_opts_init(&ro);
    df_join_opts_init(&jo);
    ro.path = records;
    jo.level = level;
    if (df_join_run(ctx, b, &ro, &jo, &j) != DF_OK) {
        printf("  join %s: %s\n", records, df_ctx_errmsg(ctx));
        return NULL;
    }
    int n = df_boundaries_count(b, level);
    double *v = malloc((size_t)n * sizeof *v);
    for (int i = 0; v && i < n; i++) {
        const df_figures *f = df_join_figures(j, i);
        v[i] = f->records > 0 ? (double)f->displaced : -1;
    }
    char from[11], to[11];
    df_date_format(df_join_balance(j)->from, from);
    df_date_format(df_join_balance(j)->as_of, to);
    snprintf(dates, cap, "Displacement recorded %s to %s", from, to);
    df_join_free(j);
    return v;
}

static df_flows *flows(df_ctx *ctx, const df_boundaries *b, const char *records, int level, const char *origins)
{
    df_record_opts ro;
    df_flow_opts fo;
    df_flows *f = NULL;
    df_record_opts_init(&ro);
    df_flow_opts_init(&fo);
    ro.path = records;
    fo.origin_level = fo.dest_level = level;
    fo.origins = origins;
    if (df_flows_run(ctx, b, &ro, &fo, &f) != DF_OK) printf("  flows: %s\n", df_ctx_errmsg(ctx));
    return f;
}

/* What a picture holds, counted from the PNG read back. */
typedef struct {
    int width, height;
    long distinct; /* distinct colours */
    long top;      /* pixels of the top class, #bd0026 */
    long arrow;    /* pixels of the navy arrows over any fill: blue well above red, dark */
} png_stats;

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static png_stats read_png(const char *path)
{
    png_stats s = {0, 0, 0, 0, 0};
    cairo_surface_t *img = cairo_image_surface_create_from_png(path);
    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(img);
        return s;
    }
    s.width = cairo_image_surface_get_width(img);
    s.height = cairo_image_surface_get_height(img);
    int stride = cairo_image_surface_get_stride(img);
    const unsigned char *data = cairo_image_surface_get_data(img);
    uint32_t *all = malloc((size_t)s.width * (size_t)s.height * sizeof *all);
    long n = 0;
    for (int y = 0; all && y < s.height; y++)
        for (int x = 0; x < s.width; x++) {
            uint32_t p = ((const uint32_t *)(data + (size_t)y * (size_t)stride))[x] & 0xffffff;
            int r = (int)(p >> 16), g = (int)(p >> 8 & 255), bl = (int)(p & 255);
            all[n++] = p;
            s.top += p == 0xbd0026;
            s.arrow += r < 90 && g < 110 && bl > r + 20 && bl < 140;
        }
    if (all) {
        qsort(all, (size_t)n, sizeof *all, cmp_u32);
        for (long i = 0; i < n; i++) s.distinct += i == 0 || all[i] != all[i - 1];
    }
    free(all);
    cairo_surface_destroy(img);
    return s;
}

static int same_bytes(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb, ca, cb;
    while (same && ((ca = fgetc(fa)) != EOF) | ((cb = fgetc(fb)) != EOF)) same = ca == cb;
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

/* A copy in $DF_MAPS_DIR to look at, when set. */
static void keep(const char *path, const char *name)
{
    const char *dir = getenv("DF_MAPS_DIR");
    char cmd[1024];
    if (!dir) return;
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s' '%s/%s'", dir, path, dir, name);
    if (system(cmd) != 0) printf("  could not keep %s\n", path);
}

/* issue 13 item 2: the report's table of flows, computed here apart from
 * maps.c: displacement, not withheld, summed per pair, the top n by
 * individuals (ties by origin, destination). */
typedef struct {
    int o, d;
    double v;
} od;
static int cmp_od(const void *a, const void *b)
{
    const od *p = a, *q = b;
    if (p->v != q->v) return p->v > q->v ? -1 : 1;
    if (p->o != q->o) return p->o < q->o ? -1 : 1;
    return (p->d > q->d) - (p->d < q->d);
}
static int table_flows(const df_flows *f, int top, od *out)
{
    int n = 0;
    od *all = malloc(((size_t)df_flows_count(f) + 1) * sizeof *all);
    for (int i = 0; all && i < df_flows_count(f); i++) {
        const df_flow *fl = df_flows_get(f, i);
        if (fl->status != DF_DISPLACED || fl->withheld) continue;
        int j = 0;
        while (j < n && !(all[j].o == fl->origin && all[j].d == fl->dest)) j++;
        if (j == n) all[n++] = (od){fl->origin, fl->dest, 0};
        all[j].v += (double)fl->individuals;
    }
    qsort(all, (size_t)n, sizeof *all, cmp_od);
    if (n > top) n = top;
    for (int i = 0; i < n; i++) out[i] = all[i];
    free(all);
    return n;
}

static int meet(const df__placed *a, const df__placed *b)
{
    return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1;
}

/* issue 13 items 2 and 3, from the renderer's placement list: every unit
 * with people has a label or a numbered callout, no two of the texts
 * (labels, callouts, country names, places' names and symbols) overlap, none covers an arrowhead, and
 * the arrows and rings are exactly the table's top flows. */
static void check_placement(const df__placement *pl, const double *v, int n, const df_flows *f, int top)
{
    int missing = 0, overlaps = 0, covered = 0, labels = 0, callouts = 0;
    for (int u = 0; u < n; u++) {
        if (!(v[u] > 0)) continue;
        int found = 0;
        for (int i = 0; i < pl->n; i++)
            found |= (pl->item[i].kind == DF__PLACED_LABEL || pl->item[i].kind == DF__PLACED_CALLOUT) &&
                     pl->item[i].unit == u;
        missing += !found;
    }
    for (int i = 0; i < pl->n; i++) {
        const df__placed *a = &pl->item[i];
        int text = a->kind == DF__PLACED_LABEL || a->kind == DF__PLACED_CALLOUT || a->kind == DF__PLACED_COUNTRY ||
                   a->kind == DF__PLACED_PLACE_NAME;
        labels += a->kind == DF__PLACED_LABEL, callouts += a->kind == DF__PLACED_CALLOUT;
        if (!text) continue;
        for (int j = 0; j < pl->n; j++) {
            const df__placed *b = &pl->item[j];
            int btext = b->kind == DF__PLACED_LABEL || b->kind == DF__PLACED_CALLOUT || b->kind == DF__PLACED_COUNTRY ||
                        b->kind == DF__PLACED_PLACE_NAME || b->kind == DF__PLACED_PLACE; /* a symbol too */
            if (j > i && btext && meet(a, b)) overlaps++;
            if (b->kind == DF__PLACED_HEAD && meet(a, b)) covered++;
        }
    }
    printf("  placed: %d labels, %d callouts\n", labels, callouts);
    EXPECT_INT(missing, 0);
    EXPECT_INT(overlaps, 0);
    EXPECT_INT(covered, 0);
    if (!f) return;
    od want[64];
    int nw = table_flows(f, top, want), drawn = 0;
    for (int i = 0; i < pl->n; i++) {
        const df__placed *a = &pl->item[i];
        if (a->kind != DF__PLACED_HEAD && a->kind != DF__PLACED_RING) continue;
        drawn++;
        int in_table = 0;
        for (int k = 0; k < nw; k++) in_table |= want[k].o == a->unit && want[k].d == a->other && want[k].v == a->value;
        EXPECT(in_table);
        EXPECT((a->kind == DF__PLACED_RING) == (a->unit == a->other));
    }
    EXPECT_INT(drawn, nw);
}

/* The embedded default: sample records on the shipped governorates. */
TEST(sample_on_governorates)
{
    char records[256], a[256], b2[256], c[256], dates[128];
    df_ctx *ctx = df_ctx_new();
    snprintf(records, sizeof records, "%s/sample.csv", tmpdir);
    EXPECT_INT(df_sample_write(ctx, records, 42), DF_OK);
    df_boundaries *b = harness_boundaries(ctx, NE_ADM1, 1);
    double *v = b ? join_values(ctx, b, records, 1, dates, sizeof dates) : NULL;
    df_flows *f = b ? flows(ctx, b, records, 1, NULL) : NULL;
    EXPECT(v != NULL && f != NULL);
    if (!v || !f) goto done;
    df__map m = {
        .b = b,
        .level = 1,
        .value = v,
        .legend = "Displaced, individuals",
        .flows = f,
        .title = "Mosul corridor: people displaced by governorate",
        .subtitle = dates,
        .source =
            "Source: dispflow embedded sample (synthetic) | Boundaries: Natural Earth | dispflow " DISPFLOW_VERSION};
    snprintf(a, sizeof a, "%s/a.png", tmpdir);
    snprintf(b2, sizeof b2, "%s/b.png", tmpdir);
    snprintf(c, sizeof c, "%s/c.png", tmpdir);
    EXPECT_INT(df__map_write_png(ctx, &m, a), DF_OK);
    EXPECT_INT(df__map_write_png(ctx, &m, b2), DF_OK);
    png_stats s = read_png(a);
    EXPECT_INT(s.width, 1600);
    EXPECT_INT(s.height, 1200);
    EXPECT(s.distinct > 200); /* fills, antialiased edges, text: far from blank */
    EXPECT(s.top > 1000);     /* the largest governorate in the darkest class */
    /* no arrow count here: the sample states origins by district only, so on
     * governorates without districts its displacement has no origin unit and
     * only returns make flows (the map draws displacement) */
    EXPECT(same_bytes(a, b2));
    keep(a, "default.png");

    /* without flows: no arrow colour anywhere (the test above sees arrows, not something else) */
    m.flows = NULL;
    m.width = 800, m.height = 600;
    EXPECT_INT(df__map_write_png(ctx, &m, c), DF_OK);
    s = read_png(c);
    EXPECT_INT(s.width, 800);
    EXPECT_INT(s.height, 600);
    EXPECT_INT(s.arrow, 0);
    EXPECT(s.top > 200);
done:
    free(v);
    df_flows_free(f);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* Failures: a missing directory is DF_EIO naming the file and leaves no
 * temporary file; a level without units and a silly size are DF_EINVAL. */
TEST(failures_name_the_file)
{
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, NE_ADM1, 1);
    EXPECT(b != NULL);
    if (!b) return;
    int n = df_boundaries_count(b, 1);
    double *v = malloc((size_t)n * sizeof *v);
    for (int i = 0; i < n; i++) v[i] = i;
    df__map m = {.b = b, .level = 1, .value = v, .legend = "Displaced", .title = "t", .subtitle = "s", .source = "src"};
    char path[256], cmd[300];
    snprintf(path, sizeof path, "%s/missing/map.png", tmpdir);
    EXPECT_INT(df__map_write_png(ctx, &m, path), DF_EIO);
    EXPECT(strstr(df_ctx_errmsg(ctx), "map.png") != NULL);
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s | grep tmp)\"", tmpdir);
    EXPECT_INT(system(cmd), 0);
    snprintf(path, sizeof path, "%s/x.png", tmpdir);
    m.level = 3;
    EXPECT_INT(df__map_write_png(ctx, &m, path), DF_EINVAL);
    m.level = 1, m.width = 10;
    EXPECT_INT(df__map_write_png(ctx, &m, path), DF_EINVAL);
    EXPECT(access(path, F_OK) != 0);
    free(v);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* The synthetic Mosul table on the COD-AB districts, flows from the corridor. */
TEST(mosul_districts_with_corridor_flows)
{
    NEED_FILE(ET "records.csv");
    NEED_FILE(ADM2_SHP);
    char a[256], b2[256], dates[128];
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, ADM2_SHP, 1);
    double *v = b ? join_values(ctx, b, ET "records.csv", 2, dates, sizeof dates) : NULL;
    df_flows *f = b ? flows(ctx, b, ET "records.csv", 2, "corridor") : NULL;
    EXPECT(v != NULL && f != NULL);
    if (!v || !f) goto done;
    df__map m = {.b = b,
                 .level = 2,
                 .value = v,
                 .legend = "Displaced, individuals",
                 .flows = f,
                 .top_flows = 10,
                 .title = "Mosul corridor: people displaced by district",
                 .subtitle = dates,
                 .source = "Source: synthetic Emergency Tracking table (test data) | Boundaries: OCHA COD-AB 2019 | "
                           "dispflow " DISPFLOW_VERSION};
    snprintf(a, sizeof a, "%s/mosul.png", tmpdir);
    snprintf(b2, sizeof b2, "%s/mosul2.png", tmpdir);
    df__placement pl = {NULL, 0, 0};
    m.placed = &pl;
    EXPECT_INT(df__map_write_png(ctx, &m, a), DF_OK);
    check_placement(&pl, v, df_boundaries_count(b, 2), f, 10);
    int insets = 0, within = 0;
    for (int i = 0; i < pl.n; i++) {
        insets += pl.item[i].kind == DF__PLACED_INSET;
        within += pl.item[i].kind == DF__PLACED_RING;
    }
    EXPECT_INT(insets, 1); /* issue 13 item 3: the map shows part of Iraq: where, in the inset */
    EXPECT_INT(within, 1); /* within Al-Mosul, the largest flow, a ring */
    m.placed = NULL;
    EXPECT_INT(df__map_write_png(ctx, &m, b2), DF_OK);
    png_stats s = read_png(a);
    EXPECT_INT(s.width, 1600);
    EXPECT_INT(s.height, 1200);
    EXPECT(s.distinct > 200);
    EXPECT(s.top > 1000);
    EXPECT(s.arrow > 500);
    EXPECT(same_bytes(a, b2));
    keep(a, "mosul.png");
    /* issue 13 item 1: proportional circles over white units, in the
     * report's classes: the top colour only in the legend (the circles are
     * drawn translucent), the arrows still there */
    static const double breaks[4] = {10000, 20000, 50000, 100000};
    m.breaks = breaks, m.nbreaks = 4, m.circles = 1, m.placed = &pl;
    EXPECT_INT(df__map_write_png(ctx, &m, b2), DF_OK);
    check_placement(&pl, v, df_boundaries_count(b, 2), f, 10);
    s = read_png(b2);
    EXPECT(s.top > 300 && s.top < 1000);
    EXPECT(s.arrow > 500);
    keep(b2, "mosul_circles.png");
    /* issue 13 item 7: bilingual labels from the layer's name columns, the
     * Arabic under the English, drawn as text that a PDF reader finds
     * (shaped by Pango: pdftotext gives the logical order back) */
    m.breaks = NULL, m.nbreaks = 0, m.circles = 0, m.labels = "en, ar", m.placed = &pl;
    EXPECT_INT(df__map_write_png(ctx, &m, b2), DF_OK);
    check_placement(&pl, v, df_boundaries_count(b, 2), f, 10);
    keep(b2, "mosul_bilingual.png");
    char pdf[256], cmd[600];
    snprintf(pdf, sizeof pdf, "%s/mosul.pdf", tmpdir);
    cairo_surface_t *surf = cairo_pdf_surface_create(pdf, 1600, 1200);
    cairo_t *cr = cairo_create(surf);
    EXPECT_INT(df__map_draw(ctx, &m, cr), DF_OK);
    cairo_destroy(cr);
    cairo_surface_destroy(surf);
    snprintf(cmd, sizeof cmd, "pdftotext -enc UTF-8 '%s' - 2>/dev/null", pdf);
    FILE *p = popen(cmd, "r");
    char text[65536];
    size_t got = p ? fread(text, 1, sizeof text - 1, p) : 0;
    text[got] = 0;
    if (p) pclose(p);
    if (got) { /* poppler-utils present */
        EXPECT(strstr(text, "Al-Mosul") != NULL);
        /* تلكيف (Tilkaef's ADM2_AR) whole; pdftotext cuts some shaped words
         * at their joins (الموصل comes back as "ال موصل"), so that one is in parts */
        EXPECT(strstr(text, "\xd8\xaa\xd9\x84\xd9\x83\xd9\x8a\xd9\x81") != NULL);
        EXPECT(strstr(text, "\xd9\x85\xd9\x88\xd8\xb5\xd9\x84") != NULL); /* موصل */
    }
    /* a language the layer does not have: refused, naming the fields it has */
    m.labels = "en, fr";
    EXPECT_INT(df__map_write_png(ctx, &m, b2), DF_EINVAL);
    EXPECT(strstr(df_ctx_errmsg(ctx), "'fr'") != NULL && strstr(df_ctx_errmsg(ctx), "ADM2_AR") != NULL);
    /* issue 13 item 3: a places file (written here, by hand): two camps and
     * a town in the frame, one place far off (Basra); the camps drawn as
     * camps, the far one not at all, their names placed clear of the rest */
    char places[256];
    snprintf(places, sizeof places, "%s/places.csv", tmpdir);
    FILE *pf = fopen(places, "w");
    if (pf) {
        fputs("name,latitude,longitude,kind\nHasansham U3,36.29206,43.7345,IDP camp\n"
              "Qayyarah Jad'ah,35.86,43.19,idp_camp\n\nAl-Hadar,35.58,42.72,town\nBasra,30.51,47.81,city\n",
              pf);
        fclose(pf);
    }
    m.labels = NULL, m.places = places;
    EXPECT_INT(df__map_write_png(ctx, &m, b2), DF_OK);
    check_placement(&pl, v, df_boundaries_count(b, 2), f, 10);
    int camps = 0, towns = 0, named = 0, basra = 0;
    for (int i = 0; i < pl.n; i++) {
        if (pl.item[i].kind == DF__PLACED_PLACE) camps += pl.item[i].value == 1, towns += pl.item[i].value == 0;
        named += pl.item[i].kind == DF__PLACED_PLACE_NAME;
        basra +=
            pl.item[i].kind == DF__PLACED_PLACE && pl.item[i].unit == 3; /* the 4th row: the empty line is no place */
    }
    EXPECT_INT(camps, 2);
    EXPECT_INT(towns, 1);
    EXPECT_INT(basra, 0);
    EXPECT(named >= 2);
    keep(b2, "mosul_places.png");
    /* bad rows: refused, with the file, the line and the column */
    static const char *const bad[][2] = {
        {"name,lat,lon\nA,36.1,43.1\nB,north,43.2\n", "places.csv:3: lat 'north'"},
        {"name,lat,lon\nA,36.1,43.1\nB,36.2,200\n", "places.csv:3: lon 200 is outside"},
        {"name,lat,lon\n,36.1,43.1\n", "places.csv:2: name is empty"},
        {"name,y,x\nA,36.1,43.1\n", "places.csv:1: a places file needs"}};
    for (int k = 0; k < 4; k++) {
        pf = fopen(places, "w");
        if (pf) fputs(bad[k][0], pf), fclose(pf);
        EXPECT_INT(df__map_write_png(ctx, &m, b2), DF_EINVAL);
        if (!strstr(df_ctx_errmsg(ctx), bad[k][1])) HARNESS_FAIL("'%s' has no '%s'", df_ctx_errmsg(ctx), bad[k][1]);
    }
    m.places = NULL;
    m.placed = NULL;
    free(pl.item);
done:
    free(v);
    df_flows_free(f);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* issue 13 item 3: a nationwide map (every district has people) has no
 * locator inset, every district is labelled inside it or has a callout,
 * no labels overlap; with two lines, the top 3 flows only. */
TEST(nationwide_districts_no_inset)
{
    NEED_FILE(ET "records.csv");
    NEED_FILE(ADM2_SHP);
    char a[256];
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, ADM2_SHP, 1);
    df_flows *f = b ? flows(ctx, b, ET "records.csv", 2, "corridor") : NULL;
    EXPECT(b != NULL && f != NULL);
    if (!b || !f) goto done;
    int n = df_boundaries_count(b, 2);
    double *v = malloc((size_t)n * sizeof *v);
    for (int i = 0; i < n; i++) v[i] = 1000.0 * (i % 37 + 1); /* every district has people */
    df__placement pl = {NULL, 0, 0};
    df__map m = {.b = b,
                 .level = 2,
                 .value = v,
                 .legend = "Displaced",
                 .flows = f,
                 .top_flows = 3,
                 .title = "Iraq",
                 .subtitle = "s",
                 .source = "src",
                 .placed = &pl};
    snprintf(a, sizeof a, "%s/iraq.png", tmpdir);
    EXPECT_INT(df__map_write_png(ctx, &m, a), DF_OK);
    check_placement(&pl, v, n, f, 3);
    int insets = 0, countries = 0;
    for (int i = 0; i < pl.n; i++) {
        insets += pl.item[i].kind == DF__PLACED_INSET;
        countries += pl.item[i].kind == DF__PLACED_COUNTRY;
    }
    EXPECT_INT(insets, 0);
    EXPECT(countries >= 4); /* Syria, Turkey, Iran, Saudi Arabia at least have room */
    keep(a, "iraq_districts.png");
    free(pl.item);
    free(v);
done:
    df_flows_free(f);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* issue 13 item 3: the neighbours come from a world-wide extract: a map of
 * Chad and one of Sudan (admin 1, neither near Iraq) name their real
 * neighbours, and no country far away; Sudan's labels in English and
 * Arabic (its COD's ADM1_AR: the name fields are found, not Iraq's). */
static void neighbours_named(const char *path, const char *title, const char *labels, const char *const *expected,
                             const char *const *allowed, const char *png)
{
    char a[256];
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = harness_boundaries(ctx, path, 0);
    EXPECT(b != NULL);
    if (!b) goto done;
    int n = df_boundaries_count(b, 1);
    double *v = malloc((size_t)n * sizeof *v);
    for (int i = 0; i < n; i++) v[i] = 1000.0 * (i % 7 + 1);
    df__placement pl = {NULL, 0, 0};
    df__map m = {.b = b,
                 .level = 1,
                 .value = v,
                 .legend = "Displaced",
                 .title = title,
                 .subtitle = "s",
                 .source = "src",
                 .labels = labels,
                 .placed = &pl};
    snprintf(a, sizeof a, "%s/%s", tmpdir, png);
    EXPECT_INT(df__map_write_png(ctx, &m, a), DF_OK);
    for (int k = 0; expected[k]; k++) {
        int found = 0;
        for (int i = 0; i < pl.n; i++)
            found |= pl.item[i].kind == DF__PLACED_COUNTRY && !strcasecmp(pl.item[i].text, expected[k]);
        if (!found) printf("  %s: %s is not named\n", title, expected[k]);
        EXPECT(found);
    }
    for (int i = 0; i < pl.n; i++) {
        if (pl.item[i].kind != DF__PLACED_COUNTRY) continue;
        int ok = 0;
        for (int k = 0; allowed[k]; k++) ok |= !strcasecmp(pl.item[i].text, allowed[k]);
        if (!ok) printf("  %s: %s named, not a neighbour\n", title, pl.item[i].text);
        EXPECT(ok);
    }
    keep(a, png);
    free(pl.item);
    free(v);
done:
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

TEST(neighbours_of_chad_and_sudan)
{
    NEED_FILE(TCD_ADM1);
    NEED_FILE(SDN_ADM1);
    static const char *const chad[] = {"NIGER", "NIGERIA", "CAMEROON", "CENTRAL AFRICAN REP.", "SUDAN", "LIBYA", NULL};
    static const char *const chad_ok[] = {
        "NIGER",        "NIGERIA", "CAMEROON", "CENTRAL AFRICAN REP.", "SUDAN", "LIBYA",
        "S. SUDAN",     "ALGERIA", "EGYPT",    "DEM. REP. CONGO",      "CONGO", "BENIN",
        "BURKINA FASO", "MALI",    "GABON",    "EQ. GUINEA",           NULL};
    neighbours_named(TCD_ADM1, "Chad", NULL, chad, chad_ok, "chad.png");
    static const char *const sudan[] = {"EGYPT",    "LIBYA",    "CHAD",    "CENTRAL AFRICAN REP.",
                                        "S. SUDAN", "ETHIOPIA", "ERITREA", NULL};
    static const char *const sudan_ok[] = {
        "EGYPT",        "LIBYA",  "CHAD",  "CENTRAL AFRICAN REP.", "S. SUDAN", "ETHIOPIA", "ERITREA",
        "SAUDI ARABIA", "UGANDA", "KENYA", "DEM. REP. CONGO",      "YEMEN",    "DJIBOUTI", "NIGER",
        "ISRAEL",       "JORDAN", NULL};
    neighbours_named(SDN_ADM1, "Sudan", "en, ar", sudan, sudan_ok, "sudan.png");
}

int main(void)
{
    if (!mkdtemp(tmpdir)) return 1;
    RUN(sample_on_governorates);
    RUN(failures_name_the_file);
    RUN(mosul_districts_with_corridor_flows);
    RUN(nationwide_districts_no_inset);
    RUN(neighbours_of_chad_and_sudan);
    harness_remove_dir(tmpdir);
    return harness_done();
}
