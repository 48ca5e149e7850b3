/*
 * test_boundaries.c — loading boundary layers through the public API:
 * level and field detection in the COD-AB 2019 and OCHA 2014 layouts, the
 * derived higher levels, P-code lookup, geodesic areas against an
 * independent equal-area computation, any CRS, repair of invalid polygons,
 * and the errors.
 */
#include "dispflow.h"
#include "harness.h"

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>

#include <gdal.h>
#include <geos_c.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#define BND          SHARED_DATA "/boundaries"
#define ADM2_SHP     BND "/irq_cod_ab_20190603_shp/irq_admbnda_adm2_cso_20190603.shp"
#define ADM3_GEOJSON BND "/irq_cod_ab_20190603_geojson/irq_admbnda_adm3_cso_20190603.geojson"
#define OCHA_SHP     BND "/irq_ocha_20140717_shp/irq_admbnda_adm2_ocha_20140717.shp"

/* ---- helpers -------------------------------------------------------------- */

static char tmpdir[64];

/* The log lines of a context, concatenated (one per line). */
typedef struct {
    char text[16384];
    int warnings;
} log_buf;

static void collect_log(df_log_level level, const char *message, void *user)
{
    log_buf *lb = user;
    size_t n = strlen(lb->text);
    if (level >= DF_LOG_WARN) lb->warnings++;
    snprintf(lb->text + n, sizeof lb->text - n, "%s\n", message);
}

/* Load path with the options given (level 0 = detect). */
static df_status load(df_ctx *ctx, const char *path, int level, df_boundaries **b)
{
    df_boundary_opts opts;
    df_boundary_opts_init(&opts);
    opts.path = path;
    opts.level = level;
    return df_boundaries_load(ctx, &opts, b);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        abort();
    }
    fputs(text, f);
    fclose(f);
}

static uint64_t rng_state = 1;

static double rng_unif(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return (double)((z ^ (z >> 31)) >> 11) * (1.0 / 9007199254740992.0);
}

/* One feature of a layer read independently with OGR: P-code, parent P-code,
 * area on an equal-area projection, GEOS geometry (WGS84). */
typedef struct {
    char pcode[32], parent[32];
    double area_km2;
    GEOSGeometry *geom;
} ogr_unit;

/* Read the units of a layer with OGR. Areas: each polygon reprojected to a
 * Lambert azimuthal equal-area projection centred on Iraq, planar area. */
static int ogr_read(GEOSContextHandle_t h, const char *path, const char *pcode_field, const char *parent_field,
                    ogr_unit **out)
{
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!ds) return -1;
    OGRLayerH layer = GDALDatasetGetLayer(ds, 0);
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(layer);
    int ipc = OGR_FD_GetFieldIndex(defn, pcode_field), ipar = OGR_FD_GetFieldIndex(defn, parent_field);
    OGRSpatialReferenceH laea = OSRNewSpatialReference(NULL);
    OSRImportFromProj4(laea, "+proj=laea +lat_0=33 +lon_0=44 +datum=WGS84 +units=m +no_defs");
    OSRSetAxisMappingStrategy(laea, OAMS_TRADITIONAL_GIS_ORDER);
    OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(OGR_L_GetSpatialRef(layer), laea);
    int n = (int)OGR_L_GetFeatureCount(layer, 1), k = 0;
    ogr_unit *u = calloc((size_t)n + 1, sizeof *u);
    if (!u || !ct) abort();
    OGRFeatureH f;
    OGR_L_ResetReading(layer);
    while (k < n && (f = OGR_L_GetNextFeature(layer)) != NULL) {
        snprintf(u[k].pcode, sizeof u[k].pcode, "%s", ipc >= 0 ? OGR_F_GetFieldAsString(f, ipc) : "");
        snprintf(u[k].parent, sizeof u[k].parent, "%s", ipar >= 0 ? OGR_F_GetFieldAsString(f, ipar) : "");
        OGRGeometryH g = OGR_F_GetGeometryRef(f);
        size_t sz = (size_t)OGR_G_WkbSize(g);
        unsigned char *wkb = malloc(sz);
        if (!wkb || OGR_G_ExportToWkb(g, wkbNDR, wkb) != OGRERR_NONE) abort();
        u[k].geom = GEOSGeomFromWKB_buf_r(h, wkb, sz);
        free(wkb);
        OGRGeometryH p = OGR_G_Clone(g);
        if (OGR_G_Transform(p, ct) != OGRERR_NONE) abort();
        u[k].area_km2 = OGR_G_Area(p) / 1e6;
        OGR_G_DestroyGeometry(p);
        OGR_F_Destroy(f);
        k++;
    }
    OCTDestroyCoordinateTransformation(ct);
    OSRDestroySpatialReference(laea);
    GDALClose(ds);
    *out = u;
    return k;
}

static void ogr_free(GEOSContextHandle_t h, ogr_unit *u, int n)
{
    for (int k = 0; k < n; k++)
        if (u[k].geom) GEOSGeom_destroy_r(h, u[k].geom);
    free(u);
}

static int ogr_find(const ogr_unit *u, int n, const char *pcode)
{
    for (int k = 0; k < n; k++)
        if (strcmp(u[k].pcode, pcode) == 0) return k;
    return -1;
}

/* ---- COD-AB 2019 ------------------------------------------------------------ */

TEST(cod_ab_adm2_shapefile)
{
    NEED_FILE(ADM2_SHP);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = NULL;
    df_status st = load(ctx, ADM2_SHP, 0, &b);
    EXPECT_INT(st, DF_OK);
    if (st != DF_OK) {
        printf("  %s\n", df_ctx_errmsg(ctx));
        df_ctx_free(ctx);
        return;
    }
    EXPECT_INT(df_boundaries_finest_level(b), 2);
    EXPECT_INT(df_boundaries_count(b, 2), 101);
    EXPECT_INT(df_boundaries_count(b, 1), 18);
    EXPECT_INT(df_boundaries_count(b, 3), 0);
    EXPECT(df_boundaries_unit(b, 3, 0) == NULL);
    EXPECT(df_boundaries_unit(b, 2, 101) == NULL);
    /* levels that are not there, or not levels at all */
    static const int absent[] = {-1, 0, 3, 4, 5, 100};
    for (size_t k = 0; k < sizeof absent / sizeof absent[0]; k++) {
        int lv = absent[k];
        EXPECT_INT(df_boundaries_count(b, lv), 0);
        EXPECT_INT(df_boundaries_locate(b, lv, 43.13, 36.34), -1);
        EXPECT_INT(df_boundaries_find_pcode(b, lv, "IQG15Q05"), -1);
        EXPECT(df_boundaries_unit(b, lv, 0) == NULL);
    }

    int mosul = df_boundaries_find_pcode(b, 2, "IRQ-G15Q05");
    EXPECT(mosul >= 0);
    if (mosul >= 0) {
        const df_unit *u = df_boundaries_unit(b, 2, mosul);
        EXPECT_STR(u->name, "Al-Mosul");
        EXPECT_STR(u->pcode, "IQG15Q05");
        EXPECT_INT(u->level, 2);
        EXPECT_STR(df_boundaries_unit(b, 1, u->parent)->pcode, "IQG15");
        EXPECT_INT(df_boundaries_locate(b, 2, 43.13, 36.34), mosul); /* Mosul city */
    }
    EXPECT_INT(df_boundaries_find_pcode(b, 2, "IQG15Q05"), mosul);
    EXPECT_INT(df_boundaries_find_pcode(b, 2, "IQG99Q99"), -1);
    EXPECT(df_boundaries_find_pcode(b, 1, "IQG15") >= 0);

    /* every district's parent is the governorate its ADM1_PCODE names */
    GEOSContextHandle_t h = GEOS_init_r();
    ogr_unit *ref = NULL;
    int nref = ogr_read(h, ADM2_SHP, "ADM2_PCODE", "ADM1_PCODE", &ref);
    EXPECT_INT(nref, 101);
    int checked = 0;
    for (int i = 0; i < df_boundaries_count(b, 2); i++) {
        const df_unit *u = df_boundaries_unit(b, 2, i);
        int k = ogr_find(ref, nref, u->pcode);
        const df_unit *parent = df_boundaries_unit(b, 1, u->parent);
        if (k < 0 || !parent) {
            HARNESS_FAIL("%s: in the file %d, parent %d", u->pcode, k, u->parent);
            continue;
        }
        EXPECT_STR(parent->pcode, ref[k].parent);
        EXPECT_INT(parent->level, 1);
        EXPECT_INT(parent->parent, -1);
        checked++;
    }
    EXPECT_INT(checked, 101);
    ogr_free(h, ref, nref);
    GEOS_finish_r(h);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

TEST(cod_ab_adm3_geojson)
{
    NEED_FILE(ADM3_GEOJSON);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = NULL;
    df_status st = load(ctx, ADM3_GEOJSON, 0, &b);
    EXPECT_INT(st, DF_OK);
    if (st != DF_OK) {
        printf("  %s\n", df_ctx_errmsg(ctx));
        df_ctx_free(ctx);
        return;
    }
    EXPECT_INT(df_boundaries_finest_level(b), 3);
    EXPECT_INT(df_boundaries_count(b, 3), 294);
    EXPECT_INT(df_boundaries_count(b, 2), 101);
    EXPECT_INT(df_boundaries_count(b, 1), 18);
    /* the chain of parents follows the file's ADM2_PCODE and ADM1_PCODE */
    GEOSContextHandle_t h = GEOS_init_r();
    ogr_unit *ref = NULL;
    int nref = ogr_read(h, ADM3_GEOJSON, "ADM3_PCODE", "ADM2_PCODE", &ref);
    int bad = 0;
    for (int i = 0; i < df_boundaries_count(b, 3); i++) {
        const df_unit *u = df_boundaries_unit(b, 3, i);
        int k = ogr_find(ref, nref, u->pcode);
        const df_unit *p2 = df_boundaries_unit(b, 2, u->parent);
        const df_unit *p1 = p2 ? df_boundaries_unit(b, 1, p2->parent) : NULL;
        if (k < 0 || !p2 || !p1 || strcmp(p2->pcode, ref[k].parent) != 0 || strncmp(p1->pcode, p2->pcode, 5) != 0) {
            if (++bad <= 5)
                HARNESS_FAIL("%s: parent %s, grandparent %s, file says %s", u->pcode, p2 ? p2->pcode : "-",
                             p1 ? p1->pcode : "-", k >= 0 ? ref[k].parent : "-");
        }
    }
    EXPECT_INT(bad, 0);
    int mosul = df_boundaries_find_pcode(b, 2, "IRQ-G15Q05");
    EXPECT(mosul >= 0);
    if (mosul >= 0) EXPECT_STR(df_boundaries_unit(b, 2, mosul)->name, "Al-Mosul");
    /* longitude, latitude in that order: Mosul city is in Al-Mosul, in Ninewa */
    EXPECT_INT(df_boundaries_locate(b, 2, 43.13, 36.34), mosul);
    int city = df_boundaries_locate(b, 3, 43.13, 36.34);
    EXPECT(city >= 0 && df_boundaries_unit(b, 3, city)->parent == mosul);
    EXPECT_INT(df_boundaries_locate(b, 1, 43.13, 36.34), df_boundaries_find_pcode(b, 1, "IQG15"));
    EXPECT_INT(df_boundaries_locate(b, 3, 36.34, 43.13), -1); /* swapped: in Turkey's latitude band, no */
    ogr_free(h, ref, nref);
    GEOS_finish_r(h);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* ---- OCHA 2014 ----------------------------------------------------------------- */

TEST(ocha_2014_layout)
{
    NEED_FILE(OCHA_SHP);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = NULL;
    df_status st = load(ctx, OCHA_SHP, 0, &b);
    EXPECT_INT(st, DF_OK);
    if (st != DF_OK) {
        printf("  %s\n", df_ctx_errmsg(ctx));
        df_ctx_free(ctx);
        return;
    }
    EXPECT_INT(df_boundaries_finest_level(b), 2);
    EXPECT_INT(df_boundaries_count(b, 2), 109);
    EXPECT_INT(df_boundaries_count(b, 1), 18);
    /* A2Code/A2NameEn of the first feature, A1Code of its parent */
    int k = df_boundaries_find_pcode(b, 2, "IQ-D091");
    EXPECT(k >= 0);
    if (k >= 0) {
        EXPECT_STR(df_boundaries_unit(b, 2, k)->name, "Tilkaif");
        EXPECT_STR(df_boundaries_unit(b, 1, df_boundaries_unit(b, 2, k)->parent)->pcode, "IQ-G15");
    }
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* ---- areas ------------------------------------------------------------------------ */

TEST(geodesic_areas)
{
    NEED_FILE(ADM2_SHP);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = NULL;
    df_status st = load(ctx, ADM2_SHP, 2, &b);
    EXPECT_INT(st, DF_OK);
    if (st != DF_OK) {
        df_ctx_free(ctx);
        return;
    }
    GEOSContextHandle_t h = GEOS_init_r();
    ogr_unit *ref = NULL;
    int nref = ogr_read(h, ADM2_SHP, "ADM2_PCODE", "ADM1_PCODE", &ref);
    double sum2 = 0, sum1 = 0, sum_ref = 0, worst = 0;
    const char *worst_pcode = "";
    for (int i = 0; i < df_boundaries_count(b, 2); i++) {
        const df_unit *u = df_boundaries_unit(b, 2, i);
        int k = ogr_find(ref, nref, u->pcode);
        if (k < 0) {
            HARNESS_FAIL("%s is not in the file", u->pcode);
            continue;
        }
        /* An equal-area projection preserves the area of every region of the
         * ellipsoid exactly; the projected polygon differs from the geodesic
         * one only in its edges (straight on the map vs geodesics), a sagitta
         * that vanishes as edges are densified: for the short edges of these
         * boundaries 0.05% is ample. */
        double rel = fabs(u->area_km2 - ref[k].area_km2) / ref[k].area_km2;
        EXPECT_NEAR(u->area_km2, ref[k].area_km2, 5e-4 * ref[k].area_km2);
        if (rel > worst) worst = rel, worst_pcode = u->pcode;
        sum2 += u->area_km2, sum_ref += ref[k].area_km2;
    }
    for (int i = 0; i < df_boundaries_count(b, 1); i++) sum1 += df_boundaries_unit(b, 1, i)->area_km2;
    /* per governorate: the dissolved unit has the area of its districts */
    int n1 = df_boundaries_count(b, 1);
    double *children = calloc((size_t)n1 + 1, sizeof *children), worst1 = 0;
    if (!children) abort();
    for (int i = 0; i < df_boundaries_count(b, 2); i++)
        children[df_boundaries_unit(b, 2, i)->parent] += df_boundaries_unit(b, 2, i)->area_km2;
    for (int i = 0; i < n1; i++) {
        double a = df_boundaries_unit(b, 1, i)->area_km2;
        worst1 = fmax(worst1, fabs(a - children[i]) / children[i]);
        EXPECT_NEAR(a, children[i], 1e-4 * children[i]);
    }
    free(children);
    printf("  areas: ADM2 total %.1f km² (equal-area reference %.1f km²), derived ADM1 total %.1f km²; "
           "worst unit %s off by %.5f%%, worst governorate vs its districts %.6f%%\n",
           sum2, sum_ref, sum1, worst_pcode, 100 * worst, 100 * worst1);
    EXPECT_NEAR(sum1, sum2, 1e-4 * sum2);
    EXPECT(sum2 > 430000 && sum2 < 440000);
    ogr_free(h, ref, nref);
    GEOS_finish_r(h);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* ---- any CRS ------------------------------------------------------------------------- */

/* Distance in degrees from (x, y) to the boundary of a GEOS geometry. */
static double border_distance(GEOSContextHandle_t h, const GEOSGeometry *g, double x, double y)
{
    GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(h, x, y), *bd = GEOSBoundary_r(h, g);
    double d = INFINITY;
    if (pt && bd) GEOSDistance_r(h, pt, bd, &d);
    if (pt) GEOSGeom_destroy_r(h, pt);
    if (bd) GEOSGeom_destroy_r(h, bd);
    return d;
}

TEST(any_crs_utm)
{
    NEED_FILE(ADM2_SHP);
    char utm[128], cmd[512];
    snprintf(utm, sizeof utm, "%s/adm2_utm38n.shp", tmpdir);
    snprintf(cmd, sizeof cmd, "ogr2ogr -lco ENCODING=UTF-8 -t_srs EPSG:32638 '%s' '%s'", utm, ADM2_SHP);
    int rc = system(cmd);
    EXPECT_INT(rc, 0);
    if (rc != 0) return;

    df_ctx *ctx = df_ctx_new();
    log_buf lb = {{0}, 0};
    df_ctx_set_log(ctx, collect_log, &lb);
    df_boundaries *geo = NULL, *proj = NULL;
    df_status st1 = load(ctx, ADM2_SHP, 0, &geo), st2 = load(ctx, utm, 0, &proj);
    EXPECT_INT(st1, DF_OK);
    EXPECT_INT(st2, DF_OK);
    if (st1 != DF_OK || st2 != DF_OK) {
        printf("  %s\n", df_ctx_errmsg(ctx));
        df_boundaries_free(geo);
        df_boundaries_free(proj);
        df_ctx_free(ctx);
        return;
    }
    EXPECT(strstr(lb.text, "reprojecting") != NULL);
    EXPECT_INT(df_boundaries_finest_level(proj), 2);
    EXPECT_INT(df_boundaries_count(proj, 2), 101);
    EXPECT_INT(df_boundaries_count(proj, 1), 18);
    double worst = 0;
    for (int i = 0; i < df_boundaries_count(proj, 2); i++) {
        const df_unit *u = df_boundaries_unit(proj, 2, i);
        int k = df_boundaries_find_pcode(geo, 2, u->pcode);
        if (k < 0) {
            HARNESS_FAIL("%s is not in the WGS84 load", u->pcode);
            continue;
        }
        double a = df_boundaries_unit(geo, 2, k)->area_km2;
        EXPECT_NEAR(u->area_km2, a, 1e-3 * a);
        worst = fmax(worst, fabs(u->area_km2 - a) / a);
    }

    /* the same unit for random points, except within ~1 m of a border */
    GEOSContextHandle_t h = GEOS_init_r();
    ogr_unit *ref = NULL;
    int nref = ogr_read(h, ADM2_SHP, "ADM2_PCODE", "ADM1_PCODE", &ref);
    long same = 0, near_border = 0, differ = 0, located = 0;
    rng_state = 32638;
    for (int q = 0; q < 10000; q++) {
        double x = 38.79 + rng_unif() * (48.63 - 38.79), y = 29.06 + rng_unif() * (37.38 - 29.06);
        int a = df_boundaries_locate(geo, 2, x, y), c = df_boundaries_locate(proj, 2, x, y);
        const char *pa = a >= 0 ? df_boundaries_unit(geo, 2, a)->pcode : NULL;
        const char *pc = c >= 0 ? df_boundaries_unit(proj, 2, c)->pcode : NULL;
        located += a >= 0;
        if ((!pa && !pc) || (pa && pc && strcmp(pa, pc) == 0)) {
            same++;
            continue;
        }
        /* 1e-5 degrees is at most 1.1 m here (a degree of latitude is
         * 111 km; of longitude, less) */
        double d = INFINITY;
        int ka = pa ? ogr_find(ref, nref, pa) : -1, kc = pc ? ogr_find(ref, nref, pc) : -1;
        if (ka >= 0) d = fmin(d, border_distance(h, ref[ka].geom, x, y));
        if (kc >= 0) d = fmin(d, border_distance(h, ref[kc].geom, x, y));
        if (d < 1e-5) {
            near_border++;
        } else if (++differ <= 10) {
            HARNESS_FAIL("(%.10f, %.10f): WGS84 load says %s, UTM load %s, %g degrees from a border", x, y,
                         pa ? pa : "none", pc ? pc : "none", d);
        }
    }
    printf("  UTM 38N load: 101 units, areas within %.6f%% of the WGS84 load; 10000 random points (%ld in a unit): "
           "%ld alike, %ld differ within 1e-5 degrees of a border, %ld differ elsewhere\n",
           100 * worst, located, same, near_border, differ);
    EXPECT_INT(differ, 0);
    EXPECT(located > 5000);
    ogr_free(h, ref, nref);
    GEOS_finish_r(h);
    df_boundaries_free(geo);
    df_boundaries_free(proj);
    df_ctx_free(ctx);
}

/* ---- invalid polygons -------------------------------------------------------------------- */

TEST(bowtie_repaired)
{
    char path[128];
    snprintf(path, sizeof path, "%s/bowtie.geojson", tmpdir);
    /* a self-intersecting ring: two triangular lobes meeting at (44.1, 33.1) */
    write_file(path, "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\","
                     "\"properties\":{\"ADM1_PCODE\":\"IQG99\",\"ADM1_EN\":\"Bowtie\"},"
                     "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":"
                     "[[[44.0,33.0],[44.2,33.2],[44.2,33.0],[44.0,33.2],[44.0,33.0]]]}}]}\n");
    df_ctx *ctx = df_ctx_new();
    log_buf lb = {{0}, 0};
    df_ctx_set_log(ctx, collect_log, &lb);
    df_boundaries *b = NULL;
    df_status st = load(ctx, path, 0, &b);
    EXPECT_INT(st, DF_OK);
    if (st != DF_OK) {
        printf("  %s\n", df_ctx_errmsg(ctx));
        df_ctx_free(ctx);
        return;
    }
    EXPECT_INT(df_boundaries_finest_level(b), 1);
    EXPECT_INT(df_boundaries_count(b, 1), 1);
    EXPECT(lb.warnings >= 1);
    EXPECT(strstr(lb.text, "IQG99") != NULL && strstr(lb.text, "Bowtie") != NULL);
    EXPECT(strstr(lb.text, "invalid") != NULL || strstr(lb.text, "repair") != NULL);
    const df_unit *u = df_boundaries_unit(b, 1, 0);
    /* two lobes of 0.1 x 0.2 degrees / 2 each near 33.1 N: about 207 km² */
    EXPECT(u->area_km2 > 0);
    EXPECT_NEAR(u->area_km2, 207, 5);
    EXPECT_INT(df_boundaries_locate(b, 1, 44.03, 33.1), 0);  /* west lobe */
    EXPECT_INT(df_boundaries_locate(b, 1, 44.17, 33.1), 0);  /* east lobe */
    EXPECT_INT(df_boundaries_locate(b, 1, 44.1, 33.02), -1); /* between the lobes */
    EXPECT_INT(df_boundaries_locate(b, 1, 44.3, 33.1), -1);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* issue 17 item 19: overlapping units and a unit with neither P-code nor
 * name are not taken "first wins" in silence. A and B overlap by a strip
 * of 0.25 x 0.5 degrees; B and C share an edge only (no warning); the
 * fourth feature has no key. The overlap's area is checked against OGR's
 * planar area in an equal-area projection (EPSG:6933), independent of the
 * engine's geodesic one: they agree to 0.5%. */
TEST(overlaps_and_keyless_features_warned)
{
    char path[128];
    snprintf(path, sizeof path, "%s/overlap.geojson", tmpdir);
    write_file(path, "{\"type\":\"FeatureCollection\",\"features\":["
                     "{\"type\":\"Feature\",\"properties\":{\"ADM1_PCODE\":\"IQG91\",\"ADM1_EN\":\"Alpha\"},"
                     "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":"
                     "[[[44,33],[44.5,33],[44.5,33.5],[44,33.5],[44,33]]]}},"
                     "{\"type\":\"Feature\",\"properties\":{\"ADM1_PCODE\":\"IQG92\",\"ADM1_EN\":\"Beta\"},"
                     "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":"
                     "[[[44.25,33],[44.75,33],[44.75,33.5],[44.25,33.5],[44.25,33]]]}},"
                     "{\"type\":\"Feature\",\"properties\":{\"ADM1_PCODE\":\"IQG93\",\"ADM1_EN\":\"Gamma\"},"
                     "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":"
                     "[[[44.75,33],[45.25,33],[45.25,33.5],[44.75,33.5],[44.75,33]]]}},"
                     "{\"type\":\"Feature\",\"properties\":{\"ADM1_PCODE\":null,\"ADM1_EN\":null},"
                     "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":"
                     "[[[46,33],[46.5,33],[46.5,33.5],[46,33.5],[46,33]]]}}]}\n");
    df_ctx *ctx = df_ctx_new();
    log_buf lb = {{0}, 0};
    df_ctx_set_log(ctx, collect_log, &lb);
    df_boundaries *b = NULL;
    df_status st = load(ctx, path, 1, &b);
    EXPECT_INT(st, DF_OK);
    if (st != DF_OK) {
        printf("  %s\n", df_ctx_errmsg(ctx));
        df_ctx_free(ctx);
        return;
    }
    EXPECT_INT(lb.warnings, 2);
    EXPECT(strstr(lb.text, "feature 4 has neither a P-code nor a name") != NULL);
    const char *w = strstr(lb.text, "IQG91 Alpha and IQG92 Beta overlap by ");
    EXPECT(w != NULL);
    EXPECT(strstr(lb.text, "placed in IQG91 (the first in the file)") != NULL);
    EXPECT(strstr(lb.text, "IQG93 Gamma overlap") == NULL && strstr(lb.text, "and IQG93") == NULL);
    /* the strip in an equal-area projection */
    OGRGeometryH strip = NULL;
    char *wkt = "POLYGON((44.25 33,44.5 33,44.5 33.5,44.25 33.5,44.25 33))";
    OGR_G_CreateFromWkt(&wkt, NULL, &strip);
    OGRSpatialReferenceH ll = OSRNewSpatialReference(NULL), ea = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(ll, 4326);
    OSRImportFromEPSG(ea, 6933);
    OSRSetAxisMappingStrategy(ll, OAMS_TRADITIONAL_GIS_ORDER);
    OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(ll, ea);
    OGR_G_Segmentize(strip, 0.01); /* straight in lon/lat, as the engine's rings */
    EXPECT_INT(OGR_G_Transform(strip, ct), OGRERR_NONE);
    double want = OGR_G_Area(strip) / 1e6;
    double got = w ? atof(w + strlen("IQG91 Alpha and IQG92 Beta overlap by ")) : 0;
    EXPECT_NEAR(got, want, want * 0.005);
    EXPECT(want > 1250 && want < 1330); /* 23.3 km x 55.4 km near 33 N: about 1290 km2 */
    /* the overlap is placed in the first */
    EXPECT_INT(df_boundaries_locate(b, 1, 44.4, 33.25), df_boundaries_find_pcode(b, 1, "IQG91"));
    OCTDestroyCoordinateTransformation(ct);
    OSRDestroySpatialReference(ll);
    OSRDestroySpatialReference(ea);
    OGR_G_DestroyGeometry(strip);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* ---- errors --------------------------------------------------------------------------------- */

TEST(missing_file)
{
    char path[128];
    snprintf(path, sizeof path, "%s/no_such_boundaries.shp", tmpdir);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = (df_boundaries *)&b;
    df_status st = load(ctx, path, 0, &b);
    EXPECT_INT(st, DF_EIO);
    EXPECT(b == NULL);
    EXPECT_INT(df_ctx_status(ctx), DF_EIO);
    EXPECT(strstr(df_ctx_errmsg(ctx), path) != NULL);
    if (!strstr(df_ctx_errmsg(ctx), path)) printf("  message: %s\n", df_ctx_errmsg(ctx));
    df_ctx_free(ctx);
}

#define SQUARE(x, y)                                                                                                   \
    "{\"type\":\"Polygon\",\"coordinates\":[[[" #x "," #y "],[" #x ".5," #y "],[" #x ".5," #y ".5],[" #x "," #y        \
    ".5],[" #x "," #y "]]]}"

TEST(unknown_fields)
{
    char path[128];
    snprintf(path, sizeof path, "%s/unknown_fields.geojson", tmpdir);
    write_file(
        path,
        "{\"type\":\"FeatureCollection\",\"features\":["
        "{\"type\":\"Feature\",\"properties\":{\"code\":\"X1\",\"label\":\"Alpha\"},\"geometry\":" SQUARE(
            44, 33) "},"
                    "{\"type\":\"Feature\",\"properties\":{\"code\":\"X2\",\"label\":\"Beta\"},\"geometry\":" SQUARE(
                        45, 33) "}]}\n");
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = NULL;
    df_status st = load(ctx, path, 0, &b);
    EXPECT_INT(st, DF_ESCHEMA);
    EXPECT(b == NULL);
    EXPECT(strstr(df_ctx_errmsg(ctx), path) != NULL);
    df_boundaries_free(b);
    b = NULL;

    /* the same file with the fields named (--pcode-field/--name-field) */
    df_boundary_opts opts;
    df_boundary_opts_init(&opts);
    opts.path = path;
    opts.level = 1;
    opts.pcode_field = "code";
    opts.name_field = "label";
    st = df_boundaries_load(ctx, &opts, &b);
    EXPECT_INT(st, DF_OK);
    if (st == DF_OK) {
        EXPECT_INT(df_boundaries_finest_level(b), 1);
        EXPECT_INT(df_boundaries_count(b, 1), 2);
        int k = df_boundaries_find_pcode(b, 1, "X2");
        EXPECT(k >= 0);
        if (k >= 0) {
            EXPECT_STR(df_boundaries_unit(b, 1, k)->pcode, "X2");
            EXPECT_STR(df_boundaries_unit(b, 1, k)->name, "Beta");
            EXPECT_INT(df_boundaries_locate(b, 1, 45.25, 33.25), k);
        }
        EXPECT_INT(df_boundaries_locate(b, 1, 44.25, 33.25), df_boundaries_find_pcode(b, 1, "X1"));
        EXPECT(df_boundaries_unit(b, 1, 0)->area_km2 > 1000);
    } else {
        printf("  %s\n", df_ctx_errmsg(ctx));
    }
    df_boundaries_free(b);
    b = NULL;

    /* a named field that is not there */
    opts.pcode_field = "kode";
    st = df_boundaries_load(ctx, &opts, &b);
    EXPECT_INT(st, DF_ESCHEMA);
    EXPECT(strstr(df_ctx_errmsg(ctx), "kode") != NULL);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

TEST(point_geometry)
{
    char path[128];
    snprintf(path, sizeof path, "%s/points.geojson", tmpdir);
    write_file(
        path,
        "{\"type\":\"FeatureCollection\",\"features\":["
        "{\"type\":\"Feature\",\"properties\":{\"ADM1_PCODE\":\"IQG01\",\"ADM1_EN\":\"Square\"},\"geometry\":" SQUARE(
            44, 33) "},"
                    "{\"type\":\"Feature\",\"properties\":{\"ADM1_PCODE\":\"IQG02\",\"ADM1_EN\":\"Dot\"},"
                    "\"geometry\":{\"type\":\"Point\",\"coordinates\":[44.5,33.5]}}]}\n");
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = NULL;
    df_status st = load(ctx, path, 0, &b);
    EXPECT_INT(st, DF_EFORMAT);
    EXPECT(b == NULL);
    const char *msg = df_ctx_errmsg(ctx);
    EXPECT(strstr(msg, "feature 2") != NULL && strstr(msg, "IQG02") != NULL);
    EXPECT(strstr(msg, path) != NULL);
    if (!strstr(msg, "feature 2")) printf("  message: %s\n", msg);
    df_boundaries_free(b);
    b = NULL;

    /* a layer of points only */
    snprintf(path, sizeof path, "%s/only_points.geojson", tmpdir);
    write_file(path, "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\","
                     "\"properties\":{\"ADM1_PCODE\":\"IQG03\",\"ADM1_EN\":\"Spot\"},"
                     "\"geometry\":{\"type\":\"Point\",\"coordinates\":[44.5,33.5]}}]}\n");
    st = load(ctx, path, 0, &b);
    EXPECT_INT(st, DF_EFORMAT);
    EXPECT(b == NULL);
    msg = df_ctx_errmsg(ctx);
    EXPECT(strstr(msg, "feature 1") != NULL && strstr(msg, "IQG03") != NULL && strstr(msg, "Point") != NULL);
    if (!strstr(msg, "feature 1")) printf("  message: %s\n", msg);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* Remove the files of the temporary directory, then the directory. */
static void remove_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char path[512];
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
        remove(path);
    }
    if (d) closedir(d);
    rmdir(tmpdir);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dispflow_test_boundaries_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(cod_ab_adm2_shapefile);
    RUN(cod_ab_adm3_geojson);
    RUN(ocha_2014_layout);
    RUN(geodesic_areas);
    RUN(any_crs_utm);
    RUN(bowtie_repaired);
    RUN(overlaps_and_keyless_features_warned);
    RUN(missing_file);
    RUN(unknown_fields);
    RUN(point_geometry);
    remove_tmpdir();
    return harness_done();
}
