/*
 * boundaries.c — administrative units: loading any OGR polygon layer in any
 * CRS, detecting its P-code, name and parent fields, repairing invalid
 * polygons, deriving the higher levels from the parent fields, other names
 * (layer fields; alias tables through aliases.c), and the P-code and name
 * indexes. A level's geometry (dissolved for derived levels), geodesic
 * areas and point index are made once, on first use, behind a lock.
 */
#include "df_geo.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <geodesic.h>
#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

typedef df__name_key key_entry; /* codes use key and unit only */

typedef struct {
    int n;
    df_unit *units;
    GEOSGeometry **geom; /* derived levels: NULL until prepared */
    char **alts;         /* other names of each unit, '|'-separated (layer fields, aliases) */
    int nnamef;          /* the layer's name fields of this level, kept per field for labels */
    char namef[32][40];  /* their names (ADM2_AR, admin2Na_1) */
    char **namev;        /* namev[k * n + i]: field k of unit i, or NULL */
    df__pip *pip;
    _Atomic int ready; /* geometry, areas and point index: 0 not yet, 1 done, -1 failed */
    key_entry *codes, *names;
    int ncodes, nnames;
} level_data;

struct df_boundaries {
    GEOSContextHandle_t geos; /* owned: levels are prepared after the load's ctx is gone */
    int finest, lowest;       /* levels lowest..finest are loaded */
    pthread_mutex_t lock;     /* serialises the preparation of a level */
    char error[512];          /* why a preparation failed */
    df_status error_status;   /* and its class: DF_ENOMEM or DF_EGEOS */
    /* what GEOS said on the private handle (under lock), for the log of the
     * next call that has a context (issue 17 item 26) */
    char geos_error[256];
    char geos_said[8][256];
    int ngeos_said, geos_dropped;
    level_data lv[4];
    df__profile *profile; /* the country profile, or NULL */
    char *profiles_dir;   /* where profiles are looked for, or NULL */
    char label[4][64];    /* level labels ("Governorate", "admin 2") */
};

/* ---- field detection ------------------------------------------------------ */

/* Candidate field names for the P-code and the name of level n, in the
 * layouts we know. %d is the level. */
static const char *pcode_patterns[] = {"ADM%d_PCODE", "A%dCode",    "adm%d_code", "adm%d_pcode", "admin%dPcode",
                                       "admin%dPcod", "ADM%d_CODE", NULL}; /* admin%dPcod: cut to 10 characters */
static const char *name_patterns[] = {"ADM%d_EN",   "A%dNameEn", "adm%d_name", "admin%dName",
                                      "ADM%d_NAME", "NAME_%d",   NULL};

static int find_field(OGRFeatureDefnH defn, const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < OGR_FD_GetFieldCount(defn); i++)
        if (strcasecmp(OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(defn, i)), name) == 0) return i;
    return -1;
}

static int find_pattern(OGRFeatureDefnH defn, const char **patterns, int level)
{
    char name[64];
    for (int k = 0; patterns[k]; k++) {
        snprintf(name, sizeof name, patterns[k], level);
        int i = find_field(defn, name);
        if (i >= 0) return i;
    }
    return -1;
}

void df_boundary_opts_init(df_boundary_opts *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
}

/* ---- keys ------------------------------------------------------------------ */

static int cmp_key(const void *a, const void *b)
{
    const key_entry *p = a, *q = b;
    int c = strcmp(p->key, q->key);
    return c ? c : (p->unit > q->unit) - (p->unit < q->unit);
}

/* First entry with key == k (or -1); entries sorted by key then unit. */
static int key_first(const key_entry *e, int n, const char *k)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (strcmp(e[mid].key, k) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && strcmp(e[lo].key, k) == 0 ? lo : -1;
}

static char *field_string(OGRFeatureH f, int idx);

/* Add one name of unit i to the name index. */
static int add_name_key(level_data *L, int *cap, const char *name, int unit, int kind)
{
    char key[256], skel[256];
    df__name_normalize(name, key, sizeof key);
    if (!key[0]) return 0;
    df__name_skeleton(key, skel, sizeof skel);
    if (L->nnames == *cap) {
        int nc = *cap * 2 + 64;
        key_entry *n = df__realloc_array(L->names, (size_t)nc, sizeof *n);
        if (!n) return -1;
        L->names = n;
        *cap = nc;
    }
    key_entry *e = &L->names[L->nnames];
    e->key = df__strdup(key);
    e->skel = df__strdup(skel);
    e->unit = unit;
    e->kind = kind;
    if (!e->key || !e->skel) return free(e->key), free(e->skel), -1;
    L->nnames++;
    return 0;
}

static int build_keys(level_data *L)
{
    int cap = 0;
    char buf[256];
    L->codes = calloc((size_t)L->n + 1, sizeof *L->codes);
    if (!L->codes) return -1;
    for (int i = 0; i < L->n; i++) {
        df__pcode_normalize(L->units[i].pcode, buf, sizeof buf);
        if (buf[0] && !(L->codes[L->ncodes].key = df__strdup(buf))) return -1;
        if (buf[0]) L->codes[L->ncodes++].unit = i;
        if (add_name_key(L, &cap, L->units[i].name, i, DF__NAME_OWN) != 0) return -1;
        /* the other names: '|'-separated, each "k:name" with k its kind */
        for (const char *p = L->alts ? L->alts[i] : NULL; p && *p;) {
            size_t n = strcspn(p, "|");
            char alt[256];
            snprintf(alt, sizeof alt, "%.*s", (int)(n < 255 ? n : 255), p);
            if (alt[0] && alt[1] == ':' && add_name_key(L, &cap, alt + 2, i, alt[0] - '0') != 0) return -1;
            p += n + (p[n] == '|');
        }
    }
    qsort(L->codes, (size_t)L->ncodes, sizeof *L->codes, cmp_key);
    if (L->nnames) qsort(L->names, (size_t)L->nnames, sizeof *L->names, cmp_key);
    return 0;
}

/* Append "kind:name" to unit i's other names, unless it is there already. */
static int add_alt(level_data *L, int i, int kind, const char *name)
{
    char item[300];
    if (!name || !*name || strchr(name, '|')) return 0;
    snprintf(item, sizeof item, "%d:%s", kind, name);
    const char *old = L->alts[i] ? L->alts[i] : "";
    for (const char *p = old; *p;) { /* already known? */
        size_t n = strcspn(p, "|");
        if (n >= 2 && strlen(name) == n - 2 && memcmp(p + 2, name, n - 2) == 0) return 0;
        p += n + (p[n] == '|');
    }
    size_t lo = strlen(old), li = strlen(item);
    char *s = malloc(lo + li + 2);
    if (!s) return -1;
    memcpy(s, old, lo);
    if (lo) s[lo++] = '|';
    memcpy(s + lo, item, li + 1);
    free(L->alts[i]);
    L->alts[i] = s;
    return 0;
}

/* An alias table's spelling for unit i of a level (aliases.c, through df__alias_units). */
static int add_alias(void *user, int level, int i, const char *name)
{
    return add_alt(&((df_boundaries *)user)->lv[level], i, DF__NAME_ALIAS, name);
}

/* Is a field one of the names of level lv's units? COD-AB ADMn_XX (a
 * language: EN, FR, ES, PT, AR, HT ...), ADMn_REF, ADMn_NAME, ADMnALT*;
 * the same cut to 10 characters (admin1Name, admin1Na_1, admin1AltN,
 * admin1Al_1, admin1RefN); OCHA 2014 AnName*, AnNaArAlt1; GADM NAME_n,
 * VARNAME_n, NL_NAME_n; admn_name*. Not dv_adm2_name and the like: fields
 * a third party added name other things. */
static int is_name_field(const char *f, int lv)
{
    static const char *const prefixes[] = {"ADM%dALT",    "admin%dName", "admin%dNa_", "admin%dAltN", "admin%dAl_",
                                           "admin%dRefN", "A%dName",     "A%dNaAr",    "adm%d_name",  NULL};
    static const char *const exact[] = {"NAME_%d", "VARNAME_%d", "NL_NAME_%d", NULL};
    char p[32];
    snprintf(p, sizeof p, "ADM%d_", lv);
    if (!strncasecmp(f, p, strlen(p))) {
        const char *s = f + strlen(p);
        if (strlen(s) == 2 && isalpha((unsigned char)s[0]) && isalpha((unsigned char)s[1]))
            return strcasecmp(s, "ID") != 0; /* a language code */
        return !strcasecmp(s, "REF") || !strcasecmp(s, "NAME");
    }
    for (int k = 0; prefixes[k]; k++) {
        snprintf(p, sizeof p, prefixes[k], lv);
        if (!strncasecmp(f, p, strlen(p))) return 1;
    }
    for (int k = 0; exact[k]; k++) {
        snprintf(p, sizeof p, exact[k], lv);
        if (!strcasecmp(f, p)) return 1;
    }
    return 0;
}

/* The field that says what kind of unit level lv is (GADM ENGTYPE_n,
 * TYPE_n; ADMn_TYPE), or -1. */
static int type_field(OGRFeatureDefnH defn, int lv)
{
    static const char *const patterns[] = {"ENGTYPE_%d", "ADM%d_TYPE", "TYPE_%d", "admin%dType", NULL};
    char name[32];
    for (int k = 0; patterns[k]; k++) {
        snprintf(name, sizeof name, patterns[k], lv);
        int i = find_field(defn, name);
        if (i >= 0) return i;
    }
    return -1;
}

/* What the features say beside their units: the admin-0 code, and each
 * level's kind of unit when every feature says the same. */
typedef struct {
    char admin0[64];
    char type[4][64];
} layer_facts;

/* Other names from the layer's own fields: every name field of every
 * level (is_name_field), the displayed one included. A feature carries
 * them for its own level and for its parents; every unit gets those of all
 * its features. Missing values ("N/A", "Not available") are not names. */
static int read_alt_names(df_boundaries *b, OGRLayerH layer, layer_facts *facts)
{
    static const char *const admin0_fields[] = {"ADM0_PCODE", "admin0Pcod", "admin0Pcode", "A0Code",
                                                "adm0_pcode", "GID_0",      NULL};
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(layer);
    int fields[4][32], nf[4] = {0}, types[4], admin0 = -1;
    for (int lv = b->lowest; lv <= b->finest; lv++)
        for (int i = 0; i < OGR_FD_GetFieldCount(defn) && nf[lv] < 32; i++)
            if (is_name_field(OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(defn, i)), lv)) fields[lv][nf[lv]++] = i;
    for (int lv = 1; lv <= 3; lv++) types[lv] = type_field(defn, lv);
    for (int k = 0; admin0_fields[k] && admin0 < 0; k++) admin0 = find_field(defn, admin0_fields[k]);
    for (int lv = b->lowest; lv <= b->finest; lv++) {
        level_data *L = &b->lv[lv];
        if (!(L->alts = calloc((size_t)L->n + 1, sizeof *L->alts))) return -1;
        L->nnamef = nf[lv];
        for (int k = 0; k < nf[lv]; k++)
            snprintf(L->namef[k], sizeof L->namef[k], "%s",
                     OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(defn, fields[lv][k])));
        if (!(L->namev = calloc((size_t)nf[lv] * (size_t)L->n + 1, sizeof *L->namev))) return -1;
    }
    memset(facts, 0, sizeof *facts);
    int type_same[4] = {1, 1, 1, 1};
    OGR_L_ResetReading(layer);
    OGRFeatureH f;
    int rc = 0;
    for (int i = 0; rc == 0 && i < b->lv[b->finest].n && (f = OGR_L_GetNextFeature(layer)); i++) {
        if (i == 0 && admin0 >= 0 && OGR_F_IsFieldSetAndNotNull(f, admin0))
            snprintf(facts->admin0, sizeof facts->admin0, "%s", OGR_F_GetFieldAsString(f, admin0));
        for (int lv = b->lowest; lv <= b->finest; lv++) {
            const char *t =
                types[lv] >= 0 && OGR_F_IsFieldSetAndNotNull(f, types[lv]) ? OGR_F_GetFieldAsString(f, types[lv]) : "";
            if (i == 0)
                snprintf(facts->type[lv], sizeof facts->type[lv], "%s", t);
            else if (strcmp(facts->type[lv], t) != 0)
                type_same[lv] = 0;
        }
        for (int lv = b->lowest; rc == 0 && lv <= b->finest; lv++) {
            int u = df__boundaries_ancestor(b, b->finest, i, lv);
            for (int k = 0; rc == 0 && k < nf[lv]; k++) {
                char *v = field_string(f, fields[lv][k]);
                rc = !v ? -1 : df__name_missing(v) ? 0 : add_alt(&b->lv[lv], u, DF__NAME_ALT, v);
                char **kept = &b->lv[lv].namev[(size_t)k * (size_t)b->lv[lv].n + (size_t)u];
                if (rc == 0 && !*kept && !df__name_missing(v)) *kept = v, v = NULL; /* the first feature's */
                free(v);
            }
        }
        OGR_F_Destroy(f);
    }
    for (int lv = 1; lv <= 3; lv++)
        if (!type_same[lv] || df__name_missing(facts->type[lv])) facts->type[lv][0] = 0;
    return rc;
}

int df_boundaries_find_pcode(const df_boundaries *b, int level, const char *pcode)
{
    char buf[256];
    if (level < 1 || level > b->finest || !pcode) return -1;
    df__pcode_normalize(pcode, buf, sizeof buf);
    const level_data *L = &b->lv[level];
    int k = key_first(L->codes, L->ncodes, buf);
    return k >= 0 ? L->codes[k].unit : -1;
}

int df__boundaries_ancestor(const df_boundaries *b, int from, int i, int to)
{
    while (i >= 0 && from > to) i = b->lv[from--].units[i].parent;
    return i;
}

/* ---- geometry helpers ------------------------------------------------------ */

/* Call fn for every ring (exterior, then holes) of the polygons of a GEOS
 * geometry, with its vertices copied as x0 y0 x1 y1 ... (closed). fn keeps
 * the buffer (returns 1) or leaves it to be freed (0); -1 stops with an
 * error, as does running out of memory. */
typedef int (*ring_fn)(double *xy, unsigned n, int hole, void *user);

static int for_each_ring(GEOSContextHandle_t h, const GEOSGeometry *g, ring_fn fn, void *user)
{
    int nparts = GEOSGetNumGeometries_r(h, g);
    for (int p = 0; p < nparts; p++) {
        const GEOSGeometry *poly = GEOSGetGeometryN_r(h, g, p);
        if (GEOSGeomTypeId_r(h, poly) != GEOS_POLYGON) continue;
        int nholes = GEOSGetNumInteriorRings_r(h, poly);
        for (int r = -1; r < nholes; r++) {
            const GEOSGeometry *ring = r < 0 ? GEOSGetExteriorRing_r(h, poly) : GEOSGetInteriorRingN_r(h, poly, r);
            const GEOSCoordSequence *cs = GEOSGeom_getCoordSeq_r(h, ring);
            unsigned n = 0;
            GEOSCoordSeq_getSize_r(h, cs, &n);
            if (n < 4) continue;
            double *xy = malloc(2 * n * sizeof *xy);
            if (!xy) return -1;
            GEOSCoordSeq_copyToBuffer_r(h, cs, xy, 0, 0);
            int rc = fn(xy, n, r >= 0, user);
            if (rc <= 0) free(xy);
            if (rc < 0) return -1;
        }
    }
    return 0;
}

typedef struct {
    struct geod_geodesic geod;
    double total; /* m² */
} area_sum;

static int add_ring_area(double *xy, unsigned n, int hole, void *user)
{
    area_sum *s = user;
    struct geod_polygon poly;
    double a = 0;
    geod_polygon_init(&poly, 0);
    for (unsigned k = 0; k + 1 < n; k++) geod_polygon_addpoint(&s->geod, &poly, xy[2 * k + 1], xy[2 * k]);
    geod_polygon_compute(&s->geod, &poly, 0, 1, &a, NULL);
    s->total += hole ? -fabs(a) : fabs(a);
    return 0;
}

/* Geodesic area of a polygonal GEOS geometry in km² (holes subtracted),
 * on the WGS84 ellipsoid (PROJ's geodesic routines). */
static double geodesic_area_km2(GEOSContextHandle_t h, const GEOSGeometry *g)
{
    area_sum s = {.total = 0};
    geod_init(&s.geod, 6378137.0, 1 / 298.257223563);
    return for_each_ring(h, g, add_ring_area, &s) == 0 ? s.total / 1e6 : NAN;
}

/* Keep only the polygonal parts of a geometry (MakeValid may add lines). */
static GEOSGeometry *polygonal_parts(GEOSContextHandle_t h, GEOSGeometry *g)
{
    int t = GEOSGeomTypeId_r(h, g);
    if (t == GEOS_POLYGON || t == GEOS_MULTIPOLYGON) return g;
    int n = GEOSGetNumGeometries_r(h, g), k = 0;
    GEOSGeometry **parts = calloc((size_t)n + 1, sizeof *parts);
    if (!parts) return g;
    for (int i = 0; i < n; i++) {
        const GEOSGeometry *p = GEOSGetGeometryN_r(h, g, i);
        int pt = GEOSGeomTypeId_r(h, p);
        if (pt == GEOS_POLYGON || pt == GEOS_MULTIPOLYGON) parts[k++] = GEOSGeom_clone_r(h, p);
    }
    GEOSGeometry *coll = GEOSGeom_createCollection_r(h, GEOS_GEOMETRYCOLLECTION, parts, (unsigned)k);
    free(parts);
    GEOSGeom_destroy_r(h, g);
    GEOSGeometry *u = coll ? GEOSUnaryUnion_r(h, coll) : NULL;
    if (coll) GEOSGeom_destroy_r(h, coll);
    return u;
}

typedef struct {
    df__ring *rings;
    int n, cap;
} ring_list;

static int keep_ring(double *xy, unsigned n, int hole, void *user)
{
    ring_list *l = user;
    (void)hole; /* even-odd over all rings: holes need no mark */
    if (l->n == l->cap) {
        int cap = l->cap * 2 + 16;
        df__ring *r = df__realloc_array(l->rings, (size_t)cap, sizeof *r);
        if (!r) return -1;
        l->rings = r;
        l->cap = cap;
    }
    l->rings[l->n++] = (df__ring){xy, (int)n};
    return 1;
}

static int build_pip(GEOSContextHandle_t h, level_data *L)
{
    ring_list l = {NULL, 0, 0};
    int rc = -1;
    int *start = malloc(((size_t)L->n + 1) * sizeof *start);
    if (!start) return -1;
    for (int i = 0; i < L->n; i++) {
        start[i] = l.n;
        if (L->geom[i] && for_each_ring(h, L->geom[i], keep_ring, &l) != 0) goto done;
    }
    start[L->n] = l.n;
    L->pip = df__pip_build(l.rings, start, L->n);
    rc = L->pip ? 0 : -1;
done:
    for (int i = 0; i < l.n; i++) free((double *)l.rings[i].xy);
    free(l.rings);
    free(start);
    return rc;
}

/* ---- loading ---------------------------------------------------------------- */

typedef struct {
    int pcode, name; /* field indexes, -1 when absent */
} level_fields;

static char *field_string(OGRFeatureH f, int idx)
{
    const char *s = idx >= 0 && OGR_F_IsFieldSetAndNotNull(f, idx) ? OGR_F_GetFieldAsString(f, idx) : "";
    while (isspace((unsigned char)*s)) s++;
    char *d = df__strdup(s);
    if (d) /* trailing spaces from fixed-width DBF fields */
        for (size_t n = strlen(d); n > 0 && isspace((unsigned char)d[n - 1]); n--) d[n - 1] = '\0';
    return d;
}

/* Add a unit; it owns g from here on, also when this fails (-1). */
static int level_add(GEOSContextHandle_t h, level_data *L, int *cap, const char *pcode, const char *name,
                     GEOSGeometry *g)
{
    if (L->n == *cap) {
        int nc = *cap * 2 + 16;
        df_unit *nu = df__realloc_array(L->units, (size_t)nc, sizeof *nu);
        if (nu) L->units = nu;
        GEOSGeometry **ng = df__realloc_array(L->geom, (size_t)nc, sizeof *ng);
        if (ng) L->geom = ng;
        if (!nu || !ng) {
            if (g) GEOSGeom_destroy_r(h, g);
            return -1;
        }
        *cap = nc;
    }
    df_unit *u = &L->units[L->n];
    memset(u, 0, sizeof *u);
    u->pcode = df__strdup(pcode);
    u->name = df__strdup(name);
    u->parent = -1;
    L->geom[L->n] = g;
    L->n++;
    return u->pcode && u->name ? 0 : -1;
}

/* Are the feature's coordinates, in WGS84 now, longitude and latitude? A
 * layer in metres without a .prj (or lat 100, or lon 1e308) would give
 * wrong areas and an index the size of the numbers (issue 17 item 13). */
static df_status check_degrees(df_ctx *ctx, OGRGeometryH og, OGRSpatialReferenceH srs, int reprojected,
                               const char *path, long fno, const char *pcode, const char *name)
{
    OGREnvelope e;
    OGR_G_GetEnvelope(og, &e);
    if (e.MinX >= -180.000001 && e.MaxX <= 180.000001 && e.MinY >= -90.000001 && e.MaxY <= 90.000001) return DF_OK;
    char crs[300] = "";
    if (srs) snprintf(crs, sizeof crs, ", %s %s", reprojected ? "reprojected from" : "in", OSRGetName(srs));
    return df__error(ctx, DF_EFORMAT,
                     "%s: feature %ld (%s %s): coordinates are not degrees (x %.6g to %.6g, y %.6g to %.6g%s): %s",
                     path, fno, pcode, name, e.MinX, e.MaxX, e.MinY, e.MaxY, crs,
                     srs ? "is the layer's CRS wrong?" : "is the .prj missing?");
}

/* Read the features of the layer into the finest level; the parent P-codes
 * and names of each feature go into parents[level] for the dissolve. */
static df_status read_layer(df_ctx *ctx, df_boundaries *b, OGRLayerH layer, const char *path, level_fields *fields,
                            char ***parent_codes, char ***parent_names)
{
    GEOSContextHandle_t h = ctx->geos;
    int finest = b->finest, cap = 0, pcap = 0;
    level_data *L = &b->lv[finest];
    df_status st = DF_OK;
    OGRCoordinateTransformationH ct = NULL;
    OGRSpatialReferenceH wgs84 = df__wgs84();
    OGRSpatialReferenceH srs = OGR_L_GetSpatialRef(layer);
    if (srs && !OSRIsSame(srs, wgs84)) {
        ct = OCTNewCoordinateTransformation(srs, wgs84);
        if (!ct) {
            st = df__error(ctx, DF_EPROJ, "%s: cannot transform the layer's CRS to WGS84: %s", path,
                           df__gdal_error(ctx));
            goto done;
        }
        df__log(ctx, DF_LOG_INFO, "%s: reprojecting from %s to WGS84", path, OSRGetName(srs));
    } else if (!srs) {
        df__log(ctx, DF_LOG_WARN, "%s: no CRS (.prj missing?); assuming WGS84 longitude/latitude", path);
    }

    OGR_L_ResetReading(layer);
    OGRFeatureH f;
    long fno = 0;
    while ((f = OGR_L_GetNextFeature(layer)) != NULL) {
        fno++;
        char *pcode = field_string(f, fields[finest].pcode);
        char *name = field_string(f, fields[finest].name);
        OGRGeometryH og = OGR_F_GetGeometryRef(f);
        GEOSGeometry *g = NULL;
        if (!pcode || !name) {
            st = df__error(ctx, DF_ENOMEM, "out of memory reading %s", path);
        } else if (!pcode[0] && !name[0]) { /* issue 17 item 19: no record can name it */
            df__log(ctx, DF_LOG_WARN,
                    "%s: feature %ld has neither a P-code nor a name; only points can be placed in it, and its row "
                    "has an empty key",
                    path, fno);
        }
        if (!pcode || !name) {
        } else if (og && !OGR_G_IsEmpty(og)) {
            OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(og));
            if (t != wkbPolygon && t != wkbMultiPolygon) {
                st = df__error(ctx, DF_EFORMAT, "%s: feature %ld (%s %s) is a %s, not a polygon", path, fno, pcode,
                               name, OGRGeometryTypeToName(t));
            } else if (ct && OGR_G_Transform(og, ct) != OGRERR_NONE) {
                st = df__error(ctx, DF_EPROJ, "%s: feature %ld (%s %s): cannot reproject: %s", path, fno, pcode, name,
                               df__gdal_error(ctx));
            } else if ((st = check_degrees(ctx, og, srs, ct != NULL, path, fno, pcode, name)) == DF_OK) {
                size_t n = (size_t)OGR_G_WkbSize(og);
                unsigned char *wkb = malloc(n);
                int no_memory = !wkb;
                if (wkb && OGR_G_ExportToWkb(og, wkbNDR, wkb) == OGRERR_NONE) g = GEOSGeomFromWKB_buf_r(h, wkb, n);
                free(wkb);
                if (no_memory)
                    st = df__error(ctx, DF_ENOMEM, "out of memory reading %s", path);
                else if (!g)
                    st = df__error(ctx, DF_EGEOS, "%s: feature %ld (%s %s): %s", path, fno, pcode, name,
                                   ctx->geos_error);
            }
        } else {
            df__log(ctx, DF_LOG_WARN,
                    "%s: feature %ld (%s %s) has no geometry; it can be matched by P-code or name only", path, fno,
                    pcode, name);
        }
        if (st == DF_OK && g && GEOSisValid_r(h, g) != 1) {
            char *why = GEOSisValidReason_r(h, g);
            df__log(ctx, DF_LOG_WARN, "%s: feature %ld (%s %s) is invalid (%s); repaired with GEOS MakeValid", path,
                    fno, pcode, name, why ? why : "?");
            GEOSFree_r(h, why);
            GEOSGeometry *fixed = GEOSMakeValid_r(h, g);
            GEOSGeom_destroy_r(h, g);
            g = fixed ? polygonal_parts(h, fixed) : NULL;
            if (!g)
                st = df__error(ctx, DF_EGEOS, "%s: feature %ld (%s %s): repair failed: %s", path, fno, pcode, name,
                               ctx->geos_error);
        }
        if (st == DF_OK && level_add(h, L, &cap, pcode, name, g) != 0)
            st = df__error(ctx, DF_ENOMEM, "out of memory reading %s", path);
        else if (st != DF_OK && g)
            GEOSGeom_destroy_r(h, g);
        free(pcode);
        free(name);
        if (st == DF_OK && finest > 1 && L->n > pcap) {
            int nc = pcap * 2 + 16;
            for (int k = 1; k < finest && st == DF_OK; k++) {
                char **a = df__realloc_array(parent_codes[k], (size_t)nc, sizeof *a);
                if (a) parent_codes[k] = a;
                char **c = df__realloc_array(parent_names[k], (size_t)nc, sizeof *c);
                if (c) parent_names[k] = c;
                if (!a || !c) st = df__error(ctx, DF_ENOMEM, "out of memory reading %s", path);
                for (int q = pcap; a && c && q < nc; q++) a[q] = c[q] = NULL;
            }
            pcap = nc;
        }
        for (int lv = 1; st == DF_OK && lv < finest; lv++) {
            parent_codes[lv][L->n - 1] = field_string(f, fields[lv].pcode);
            parent_names[lv][L->n - 1] = field_string(f, fields[lv].name);
            if (!parent_codes[lv][L->n - 1] || !parent_names[lv][L->n - 1])
                st = df__error(ctx, DF_ENOMEM, "out of memory reading %s", path);
        }
        OGR_F_Destroy(f);
        if (st != DF_OK) break;
    }
done:
    if (ct) OCTDestroyCoordinateTransformation(ct);
    OSRDestroySpatialReference(wgs84);
    return st;
}

/* The units of level lv: the distinct parent keys of level lv+1's units.
 * Their geometry is dissolved later, when first needed. */
static df_status derive_units(df_ctx *ctx, df_boundaries *b, int lv, char **codes, char **names, const char *path)
{
    level_data *child = &b->lv[lv + 1], *L = &b->lv[lv];
    int cap = 0;
    for (int i = 0; i < child->n; i++) {
        const char *key = codes[i][0] ? codes[i] : names[i];
        int u = -1;
        for (int k = 0; k < L->n && u < 0; k++) /* few units: a linear scan is fine */
            if (strcmp(codes[i][0] ? L->units[k].pcode : L->units[k].name, key) == 0) u = k;
        if (u < 0) {
            if (!key[0])
                return df__error(ctx, DF_ESCHEMA, "%s: unit %s has no parent P-code or name", path,
                                 child->units[i].pcode);
            if (level_add(ctx->geos, L, &cap, codes[i], names[i], NULL) != 0)
                return df__error(ctx, DF_ENOMEM, "out of memory");
            u = L->n - 1;
        }
        child->units[i].parent = u;
    }
    df__log(ctx, DF_LOG_INFO, "%s: derived %d admin-%d units from the parent fields", path, L->n, lv);
    return DF_OK;
}

/* ---- lazy preparation: geometry of derived levels, areas, point index ----- */

/* GEOS messages of the private handle: kept in b (the handle is used under
 * b->lock, or in the load), logged by the next call with a context. */
static void keep_geos_message(df_boundaries *b, const char *what, const char *msg)
{
    if (b->ngeos_said < (int)(sizeof b->geos_said / sizeof *b->geos_said))
        snprintf(b->geos_said[b->ngeos_said++], sizeof *b->geos_said, "%s%s", what, msg);
    else
        b->geos_dropped++;
}

static void geos_error_message(const char *msg, void *user)
{
    df_boundaries *b = user;
    snprintf(b->geos_error, sizeof b->geos_error, "%s", msg);
    keep_geos_message(b, "error: ", msg);
}

static void geos_notice_message(const char *msg, void *user) { keep_geos_message(user, "", msg); }

/* The messages kept, to the log: errors as warnings, notices as debug. */
static void log_geos_messages(df_ctx *ctx, const df_boundaries *cb)
{
    df_boundaries *b = (df_boundaries *)cb; /* the messages are state behind the lock */
    pthread_mutex_lock(&b->lock);
    for (int i = 0; i < b->ngeos_said; i++) {
        int error = !strncmp(b->geos_said[i], "error: ", 7);
        df__log(ctx, error ? DF_LOG_WARN : DF_LOG_DEBUG, "GEOS (boundaries): %s", b->geos_said[i] + (error ? 7 : 0));
    }
    if (b->geos_dropped) df__log(ctx, DF_LOG_DEBUG, "GEOS (boundaries): %d more messages", b->geos_dropped);
    b->ngeos_said = b->geos_dropped = 0;
    pthread_mutex_unlock(&b->lock);
}

void *df__boundaries_geos(const df_boundaries *b) { return b->geos; }

/* The geometry of each unit of a derived level: the union (GEOS cascaded
 * union) of the finest-level units below it. */
static int dissolve_geometry(df_boundaries *b, int lv)
{
    GEOSContextHandle_t h = b->geos;
    level_data *fine = &b->lv[b->finest], *L = &b->lv[lv];
    GEOSGeometry **parts = calloc((size_t)fine->n + 1, sizeof *parts);
    if (!parts) {
        b->error_status = DF_ENOMEM;
        return snprintf(b->error, sizeof b->error, "out of memory dissolving admin-%d units", lv), -1;
    }
    for (int u = 0; u < L->n; u++) {
        unsigned n = 0;
        for (int i = 0; i < fine->n; i++)
            if (fine->geom[i] && df__boundaries_ancestor(b, b->finest, i, lv) == u)
                parts[n++] = GEOSGeom_clone_r(h, fine->geom[i]);
        GEOSGeometry *coll = GEOSGeom_createCollection_r(h, GEOS_GEOMETRYCOLLECTION, parts, n);
        L->geom[u] = coll ? GEOSUnaryUnion_r(h, coll) : NULL;
        if (coll) GEOSGeom_destroy_r(h, coll);
        if (!L->geom[u]) {
            b->error_status = DF_EGEOS;
            snprintf(b->error, sizeof b->error, "GEOS could not dissolve admin-%d unit %s: %s", lv, L->units[u].pcode,
                     b->geos_error[0] ? b->geos_error : "no reason given");
            free(parts);
            return -1;
        }
    }
    free(parts);
    return 0;
}

static void prepare_locked(df_boundaries *b, int lv)
{
    level_data *L = &b->lv[lv];
    int ok = lv == b->finest || dissolve_geometry(b, lv) == 0;
    for (int i = 0; ok && i < L->n; i++) {
        L->units[i].area_km2 = L->geom[i] ? geodesic_area_km2(b->geos, L->geom[i]) : 0;
        if (isnan(L->units[i].area_km2)) { /* a ring's buffer could not be allocated */
            b->error_status = DF_ENOMEM;
            snprintf(b->error, sizeof b->error, "out of memory measuring admin-%d unit %s", lv, L->units[i].pcode);
            ok = 0;
        }
    }
    if (ok && build_pip(b->geos, L) != 0) {
        b->error_status = DF_ENOMEM;
        snprintf(b->error, sizeof b->error, "out of memory indexing admin-%d units", lv);
        ok = 0;
    }
    atomic_store_explicit(&L->ready, ok ? 1 : -1, memory_order_release);
}

/* Make a level's geometry, areas and index, once, on first use: a join at
 * district level never pays for dissolving governorates. Thread-safe. */
static int prepare(const df_boundaries *cb, int lv)
{
    df_boundaries *b = (df_boundaries *)cb; /* lazily computed state, behind a lock */
    level_data *L = &b->lv[lv];
    int r = atomic_load_explicit(&L->ready, memory_order_acquire);
    if (r) return r;
    pthread_mutex_lock(&b->lock);
    if (!atomic_load_explicit(&L->ready, memory_order_relaxed)) prepare_locked(b, lv);
    pthread_mutex_unlock(&b->lock);
    return atomic_load_explicit(&L->ready, memory_order_acquire);
}

df_status df_boundaries_prepare(df_ctx *ctx, const df_boundaries *b, int level)
{
    if (df_boundaries_count(b, level) == 0)
        return df__error(ctx, DF_EINVAL, "the boundaries have no admin-%d units (levels %d..%d are loaded)", level,
                         b->lowest, b->finest);
    int ready = prepare(b, level);
    log_geos_messages(ctx, b);
    return ready > 0 ? DF_OK : df__error(ctx, b->error_status ? b->error_status : DF_EGEOS, "%s", b->error);
}

/* The field --name-field names for level lv of a layer whose own level is
 * f: a language key ("fr": ADMn_FR, AnNameFr), or a field of level f whose
 * digit is changed to lv (ADM2_FR for admin 1 is ADM1_FR); -1 when absent. */
static int chosen_name_field(OGRFeatureDefnH defn, const char *choice, int f, int lv)
{
    char name[128];
    size_t n = strlen(choice);
    int language = n >= 2 && n <= 3 && isalpha((unsigned char)choice[0]) && isalpha((unsigned char)choice[1]) &&
                   (n == 2 || isalpha((unsigned char)choice[2]));
    if (language) {
        static const char *const patterns[] = {"ADM%d_%s", "A%dName%s", NULL};
        for (int k = 0; patterns[k]; k++) {
            snprintf(name, sizeof name, patterns[k], lv, choice);
            int i = find_field(defn, name);
            if (i >= 0) return i;
        }
        if (find_field(defn, choice) < 0) return -1; /* else a field called "fr" */
    }
    snprintf(name, sizeof name, "%s", choice);
    char *digit = strchr(name, '0' + f);
    if (lv != f && !digit) return -1;
    if (digit) *digit = (char)('0' + lv);
    return find_field(defn, name);
}

/* Choose the layer's country profile (opts->profile, or by its P-codes). */
static df_status choose_profile(df_ctx *ctx, df_boundaries *b, const df_boundary_opts *opts, const char *admin0)
{
    if (!opts->profiles && (!opts->profile || !strchr(opts->profile, '/'))) return DF_OK; /* no profiles */
    level_data *L = &b->lv[b->finest];
    const char **codes = calloc((size_t)L->n + 1, sizeof *codes);
    if (!codes) return df__error(ctx, DF_ENOMEM, "out of memory");
    for (int i = 0; i < L->n; i++) codes[i] = L->units[i].pcode;
    if (opts->profiles && !(b->profiles_dir = df__strdup(opts->profiles))) {
        free(codes);
        return df__error(ctx, DF_ENOMEM, "out of memory");
    }
    df_status st = df__profile_choose(ctx, opts->profiles, opts->profile, codes, L->n, admin0, &b->profile);
    free(codes);
    if (st == DF_OK && b->profile)
        df__log(ctx, DF_LOG_INFO, "%s: country profile %s (%s)", opts->path,
                b->profile->country ? b->profile->country : b->profile->name, b->profile->path);
    else if (st == DF_OK)
        df__log(ctx, DF_LOG_INFO, "%s: no country profile fits (P-codes like %s); neutral level labels", opts->path,
                L->n ? L->units[0].pcode : "none");
    return st;
}

/* A boundary file holds one feature per unit of its level: a P-code that
 * repeats (a finer level's file, most often) is refused, with what was
 * found. */
static df_status refuse_repeated_codes(df_ctx *ctx, const df_boundaries *b, const char *path)
{
    const level_data *L = &b->lv[b->finest];
    int repeated = 0, distinct = L->ncodes > 0, first = -1;
    for (int k = 1; k < L->ncodes; k++) {
        int same = strcmp(L->codes[k].key, L->codes[k - 1].key) == 0;
        distinct += !same;
        if (same && (k < 2 || strcmp(L->codes[k - 1].key, L->codes[k - 2].key) != 0)) repeated++;
        if (same && first < 0) first = k;
    }
    if (!repeated) return DF_OK;
    return df__error(ctx, DF_EINVAL,
                     "%s: %d features hold %d distinct admin-%d P-codes, %d of them repeated (%s is both %s and %s); a "
                     "boundary file holds one feature per unit of its level: is it a finer level's file?",
                     path, L->n, distinct, b->finest, repeated, L->units[L->codes[first].unit].pcode,
                     L->units[L->codes[first - 1].unit].name, L->units[L->codes[first].unit].name);
}

/* ---- overlaps ------------------------------------------------------------------ */

typedef struct {
    int self, *hits, n, cap, failed;
} envelope_hits;

static void collect_hit(void *item, void *user)
{
    envelope_hits *e = user;
    int j = (int)((intptr_t)item - 1);
    if (j <= e->self) return; /* each pair once */
    if (e->n == e->cap) {
        int cap = e->cap * 2 + 16;
        int *h = df__realloc_array(e->hits, (size_t)cap, sizeof *h);
        if (!h) {
            e->failed = 1;
            return;
        }
        e->hits = h, e->cap = cap;
    }
    e->hits[e->n++] = j;
}

/* Overlaps under this are slivers of digitising (shared borders drawn twice
 * a few metres apart), logged as a count, not one by one. */
#define OVERLAP_SLIVER_KM2 0.01
#define OVERLAP_WARNINGS   20

/* Overlapping units of the layer's own level: a point in the overlap goes
 * to the first (issue 17 item 19), so say which units and how much. Only
 * pairs whose envelopes meet (a GEOS STRtree of the envelopes) are
 * intersected; the area is geodesic, as the units' own. */
static df_status warn_overlaps(df_ctx *ctx, const df_boundaries *b, const char *path)
{
    GEOSContextHandle_t h = ctx->geos;
    const level_data *L = &b->lv[b->finest];
    GEOSSTRtree *tree = GEOSSTRtree_create_r(h, 10);
    envelope_hits e = {0};
    int nover = 0, nsliver = 0;
    double total = 0, sliver_total = 0;
    df_status st = DF_OK;
    if (!tree) return df__error(ctx, DF_ENOMEM, "out of memory indexing %s", path);
    for (int i = 0; i < L->n; i++)
        if (L->geom[i]) GEOSSTRtree_insert_r(h, tree, L->geom[i], (void *)(intptr_t)(i + 1));
    for (int i = 0; st == DF_OK && i < L->n; i++) {
        if (!L->geom[i]) continue;
        e.self = i, e.n = 0;
        GEOSSTRtree_query_r(h, tree, L->geom[i], collect_hit, &e);
        if (e.failed) st = df__error(ctx, DF_ENOMEM, "out of memory checking %s for overlaps", path);
        for (int k = 0; st == DF_OK && k < e.n; k++) {
            int j = e.hits[k];
            GEOSGeometry *x = GEOSIntersection_r(h, L->geom[i], L->geom[j]);
            if (!x) { /* a robustness failure: say so, go on */
                df__log(ctx, DF_LOG_WARN, "%s: cannot intersect %s %s and %s %s to look for an overlap: %s", path,
                        L->units[i].pcode, L->units[i].name, L->units[j].pcode, L->units[j].name, ctx->geos_error);
                continue;
            }
            double a = geodesic_area_km2(h, x);
            GEOSGeom_destroy_r(h, x);
            if (isnan(a)) {
                st = df__error(ctx, DF_ENOMEM, "out of memory checking %s for overlaps", path);
            } else if (a >= OVERLAP_SLIVER_KM2) {
                if (nover++ < OVERLAP_WARNINGS)
                    df__log(ctx, DF_LOG_WARN,
                            "%s: %s %s and %s %s overlap by %.3f km2; a point in the overlap is placed in %s (the "
                            "first in the file)",
                            path, L->units[i].pcode, L->units[i].name, L->units[j].pcode, L->units[j].name, a,
                            L->units[i].pcode[0] ? L->units[i].pcode : L->units[i].name);
                total += a;
            } else if (a > 0) {
                nsliver++, sliver_total += a;
            }
        }
    }
    if (nover > OVERLAP_WARNINGS)
        df__log(ctx, DF_LOG_WARN, "%s: %d more overlapping pairs (%d in all, %.3f km2)", path, nover - OVERLAP_WARNINGS,
                nover, total);
    if (nsliver)
        df__log(ctx, DF_LOG_DEBUG, "%s: %d slivers of overlap under %g km2 (%.6f km2 in all)", path, nsliver,
                OVERLAP_SLIVER_KM2, sliver_total);
    free(e.hits);
    GEOSSTRtree_destroy_r(h, tree);
    return st;
}

/* The label of each level: the caller's, the layer's type field, the
 * profile's, else "admin N". */
static void set_labels(df_ctx *ctx, df_boundaries *b, const df_boundary_opts *opts, const layer_facts *facts)
{
    for (int lv = 1; lv <= 3; lv++) {
        char *l = b->label[lv];
        size_t cap = sizeof b->label[lv];
        if (df__list_item(opts->labels, lv - 1, l, cap) && l[0]) continue;
        if (facts->type[lv][0]) {
            snprintf(l, cap, "%s", facts->type[lv]);
            continue;
        }
        if (b->profile && df__list_item(b->profile->labels, lv - 1, l, cap) && l[0]) continue;
        snprintf(l, cap, "admin %d", lv);
    }
    df__log(ctx, DF_LOG_DEBUG, "level labels: %s, %s, %s", b->label[1], b->label[2], b->label[3]);
}

/* Which levels does the layer carry, in which fields? The finest is the
 * layer's own (b->finest), unless opts->level says otherwise; a file given
 * for another level than its fields say is refused before any work. */
static df_status choose_fields(df_ctx *ctx, df_boundaries *b, const df_boundary_opts *opts, OGRLayerH layer,
                               level_fields fields[4])
{
    df_status st = DF_OK;
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(layer);
    for (int lv = 1; lv <= 3; lv++) {
        fields[lv].pcode = find_pattern(defn, pcode_patterns, lv);
        fields[lv].name = find_pattern(defn, name_patterns, lv);
        if (fields[lv].pcode >= 0 || fields[lv].name >= 0) b->finest = lv;
    }
    /* a file given for another level than its fields say: refused before
     * any work (an admin-3 file as adm2 gave 294 "districts") */
    if (opts->level && b->finest && opts->level != b->finest) {
        int f = b->finest;
        char seen[160];
        snprintf(seen, sizeof seen, "%s%s%s",
                 fields[f].pcode >= 0 ? OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(defn, fields[f].pcode)) : "",
                 fields[f].pcode >= 0 && fields[f].name >= 0 ? ", " : "",
                 fields[f].name >= 0 ? OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(defn, fields[f].name)) : "");
        st = df__error(ctx, DF_EINVAL,
                       "%s: given as the admin-%d boundaries, but it is an admin-%d layer (%s; %lld features): give "
                       "it as adm%d, or give the admin-%d file",
                       opts->path, opts->level, f, seen, (long long)OGR_L_GetFeatureCount(layer, TRUE), f, opts->level);
        return st;
    }
    if (opts->level) b->finest = opts->level;
    if (b->finest < 1 || b->finest > 3) {
        if (OGR_L_GetFeatureCount(layer, 1) == 0) /* issue 17 item 21: not "is its .dbf missing?" */
            st = df__error(ctx, DF_EFORMAT, "%s: the layer has no features", opts->path);
        else if (OGR_FD_GetFieldCount(defn) == 0) /* a shapefile whose .dbf is missing, most often */
            st = df__error(ctx, DF_ESCHEMA,
                           "%s: the layer has no attribute fields at all (for a shapefile: is its .dbf missing?)",
                           opts->path);
        else
            st = df__error(ctx, DF_ESCHEMA,
                           "%s: cannot tell the admin level: no ADMn_PCODE/ADMn_EN, AnCode/AnNameEn or "
                           "admn_code/admn_name fields; name them with --pcode-field/--name-field and --level",
                           opts->path);
        return st;
    }
    int f = b->finest;
    if (opts->pcode_field && (fields[f].pcode = find_field(defn, opts->pcode_field)) < 0) {
        return df__error(ctx, DF_ESCHEMA, "%s: no field %s", opts->path, opts->pcode_field);
    }
    if (opts->name_field) {
        if ((fields[f].name = chosen_name_field(defn, opts->name_field, f, f)) < 0) {
            return df__error(ctx, DF_ESCHEMA, "%s: no field %s (for admin %d)", opts->path, opts->name_field, f);
        }
        for (int lv = 1; lv < f; lv++) { /* the same language for the coarser levels, where the layer has it */
            int i = chosen_name_field(defn, opts->name_field, f, lv);
            if (i >= 0) fields[lv].name = i;
        }
    }
    if (f > 1 && opts->parent_pcode_field) fields[f - 1].pcode = find_field(defn, opts->parent_pcode_field);
    if (f > 1 && opts->parent_name_field) fields[f - 1].name = find_field(defn, opts->parent_name_field);
    if (fields[f].pcode < 0 && fields[f].name < 0) {
        return df__error(ctx, DF_ESCHEMA, "%s: no P-code or name field for admin level %d", opts->path, f);
    }
    return DF_OK;
}

/* The coarser levels lowest .. f-1 derived from the finest level's
 * features: each unit of level lv from the parent keys of its children. */
static df_status derive_levels(df_ctx *ctx, df_boundaries *b, int f, int lowest, char **parent_codes[4],
                               char **parent_names[4], const char *path)
{
    df_status st = DF_OK;
    for (int lv = f - 1; lv >= lowest; lv--) {
        /* the child of level lv is lv+1, whose parent keys are in fields[lv];
         * for lv < f-1 we take them from the finest level's features */
        if (lv == f - 1) {
            st = derive_units(ctx, b, lv, parent_codes[lv], parent_names[lv], path);
        } else {
            /* keys of level lv for each unit of level lv+1: from its first child */
            level_data *c = &b->lv[lv + 1];
            char **codes = calloc((size_t)c->n + 1, sizeof *codes), **names = calloc((size_t)c->n + 1, sizeof *names);
            if (!codes || !names) st = df__error(ctx, DF_ENOMEM, "out of memory");
            for (int i = 0; st == DF_OK && i < b->lv[f].n; i++) {
                int up = df__boundaries_ancestor(b, f, i, lv + 1);
                if (!codes[up]) codes[up] = parent_codes[lv][i], names[up] = parent_names[lv][i];
            }
            if (st == DF_OK) st = derive_units(ctx, b, lv, codes, names, path);
            free(codes);
            free(names);
        }
        if (st != DF_OK) return st;
    }
    return DF_OK;
}

df_status df_boundaries_load(df_ctx *ctx, const df_boundary_opts *opts, df_boundaries **out)
{
    DF__GDAL_SCOPE(ctx);
    df_boundary_opts opts_local_;
    DF__OPTS_ACCEPT(ctx, df_boundary_opts, opts, opts_local_);
    df_status st = DF_OK;
    char **parent_codes[4] = {0}, **parent_names[4] = {0};
    df_boundaries *b = calloc(1, sizeof *b);
    GDALDatasetH ds = NULL;
    *out = NULL;
    if (!b) return df__error(ctx, DF_ENOMEM, "out of memory");
    b->geos = GEOS_init_r();
    pthread_mutex_init(&b->lock, NULL);
    if (b->geos) {
        GEOSContext_setErrorMessageHandler_r(b->geos, geos_error_message, b);
        GEOSContext_setNoticeMessageHandler_r(b->geos, geos_notice_message, b);
    }
    int nfeatures = 0;

    ds = GDALOpenEx(opts->path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!ds) {
        st = df__error(ctx, DF_EIO, "cannot open boundaries %s: %s", opts->path, df__open_failure(ctx, opts->path));
        goto fail;
    }
    OGRLayerH layer = opts->layer ? GDALDatasetGetLayerByName(ds, opts->layer) : GDALDatasetGetLayer(ds, 0);
    if (!layer) {
        char names[512];
        df__layer_names(ds, names, sizeof names);
        st = df__error(ctx, DF_EINVAL, "%s: no layer %s (it has: %s)", opts->path,
                       opts->layer ? opts->layer : "(first)", names[0] ? names : "none");
        goto fail;
    }
    level_fields fields[4];
    if ((st = choose_fields(ctx, b, opts, layer, fields)) != DF_OK) goto fail;
    int f = b->finest;
    /* Higher levels are derived only as far as their fields go unbroken. */
    int lowest = f;
    while (lowest > 1 && (fields[lowest - 1].pcode >= 0 || fields[lowest - 1].name >= 0)) lowest--;

    st = read_layer(ctx, b, layer, opts->path, fields, parent_codes, parent_names);
    if (st != DF_OK) goto fail;
    if (b->lv[f].n == 0) {
        st = df__error(ctx, DF_EFORMAT, "%s: the layer has no features", opts->path);
        goto fail;
    }
    if ((st = derive_levels(ctx, b, f, lowest, parent_codes, parent_names, opts->path)) != DF_OK) goto fail;
    if (lowest > 1) {
        df__log(ctx, DF_LOG_WARN, "%s: no parent fields above admin level %d", opts->path, lowest);
        /* levels below `lowest` stay empty; df_boundaries_count says 0 */
    }

    b->lowest = lowest;
    layer_facts facts;
    if (read_alt_names(b, layer, &facts) != 0) {
        st = df__error(ctx, DF_ENOMEM, "out of memory reading %s", opts->path);
        goto fail;
    }
    if ((st = choose_profile(ctx, b, opts, facts.admin0)) != DF_OK) goto fail;
    df__alias_units view = {.add = add_alias, .user = b};
    for (int lv = 1; lv <= 3; lv++) {
        view.count[lv] = df_boundaries_count(b, lv);
        view.units[lv] = b->lv[lv].units;
        view.alts[lv] = b->lv[lv].alts;
    }
    if (b->profile && b->profile->aliases && !opts->no_profile_aliases &&
        (st = df__aliases_load(ctx, &view, b->profile->aliases)) != DF_OK)
        goto fail;
    for (int k = 0; opts->aliases && opts->aliases[k]; k++)
        if ((st = df__aliases_load(ctx, &view, opts->aliases[k])) != DF_OK) goto fail;
    for (int lv = lowest; lv <= f; lv++) {
        level_data *L = &b->lv[lv];
        for (int i = 0; i < L->n; i++) L->units[i].level = lv;
        if (build_keys(L) != 0) {
            st = df__error(ctx, DF_ENOMEM, "out of memory indexing %s", opts->path);
            goto fail;
        }
    }
    if ((st = refuse_repeated_codes(ctx, b, opts->path)) != DF_OK) goto fail;
    if ((st = warn_overlaps(ctx, b, opts->path)) != DF_OK) goto fail;
    set_labels(ctx, b, opts, &facts);
    df__log(ctx, DF_LOG_INFO, "%s: %d admin-%d units (%s)", opts->path, b->lv[f].n, f, b->label[f]);
    goto done;
fail:
    if (b->finest >= 1 && b->finest <= 3) nfeatures = b->lv[b->finest].n;
    df_boundaries_free(b);
    b = NULL;
done:
    if (b) nfeatures = b->lv[b->finest].n;
    for (int lv = 1; lv <= 3; lv++) {
        for (int i = 0; parent_codes[lv] && i < nfeatures; i++) free(parent_codes[lv][i]), free(parent_names[lv][i]);
        free(parent_codes[lv]);
        free(parent_names[lv]);
    }
    if (ds) GDALClose(ds);
    *out = b;
    return st;
}

void df_boundaries_free(df_boundaries *b)
{
    if (!b) return;
    for (int lv = 1; lv <= 3; lv++) {
        level_data *L = &b->lv[lv];
        for (int i = 0; i < L->n; i++) {
            free((char *)L->units[i].pcode);
            free((char *)L->units[i].name);
            if (L->geom[i]) GEOSGeom_destroy_r(b->geos, L->geom[i]);
        }
        for (int k = 0; k < L->ncodes; k++) free(L->codes[k].key);
        for (int k = 0; k < L->nnames; k++) free(L->names[k].key), free(L->names[k].skel);
        for (int i = 0; L->alts && i < L->n; i++) free(L->alts[i]);
        free(L->alts);
        for (size_t i = 0; L->namev && i < (size_t)L->nnamef * (size_t)L->n; i++) free(L->namev[i]);
        free(L->namev);
        free(L->codes);
        free(L->names);
        free(L->units);
        free(L->geom);
        df__pip_free(L->pip);
    }
    df__profile_free(b->profile);
    free(b->profiles_dir);
    if (b->geos) GEOS_finish_r(b->geos);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

int df_boundaries_finest_level(const df_boundaries *b) { return b->finest; }

int df_boundaries_count(const df_boundaries *b, int level)
{
    return level >= b->lowest && level <= b->finest && level >= 1 ? b->lv[level].n : 0;
}

const df_unit *df_boundaries_unit(const df_boundaries *b, int level, int i)
{
    if (i >= 0 && i < df_boundaries_count(b, level)) prepare(b, level); /* the area */
    return i >= 0 && i < df_boundaries_count(b, level) ? &b->lv[level].units[i] : NULL;
}

int df_boundaries_locate(const df_boundaries *b, int level, double lon, double lat)
{
    if (df_boundaries_count(b, level) == 0 || prepare(b, level) <= 0) return -1;
    return df__pip_locate(b->lv[level].pip, lon, lat);
}

const GEOSGeometry *df__boundaries_geometry(const df_boundaries *b, int level, int i)
{
    return prepare(b, level) > 0 ? b->lv[level].geom[i] : NULL;
}

const df_unit *df__boundaries_unit(const df_boundaries *b, int level, int i) { return &b->lv[level].units[i]; }

int df__boundaries_name_field(const df_boundaries *b, int level, const char *choice)
{
    if (level < 1 || level > 3 || !choice) return -1;
    const level_data *L = &b->lv[level];
    char want[3][64];
    size_t n = strlen(choice);
    int language = n >= 2 && n <= 3 && isalpha((unsigned char)choice[0]) && isalpha((unsigned char)choice[1]) &&
                   (n == 2 || isalpha((unsigned char)choice[2]));
    if (language) {
        snprintf(want[0], sizeof want[0], "ADM%d_%s", level, choice);
        snprintf(want[1], sizeof want[1], "A%dName%s", level, choice);
    } else {
        snprintf(want[0], sizeof want[0], "%.60s", choice);
        snprintf(want[1], sizeof want[1], "%.60s", choice);
    }
    snprintf(want[2], sizeof want[2], "%.60s", choice); /* another level's field: its digit follows the level */
    char *digit = strpbrk(want[2], "123");
    if (digit) *digit = (char)('0' + level);
    for (int w = 0; w < 3; w++)
        for (int k = 0; k < L->nnamef; k++)
            if (!strcasecmp(L->namef[k], want[w])) return k;
    return -1;
}

const char *df__boundaries_name_in(const df_boundaries *b, int level, int k, int i)
{
    const level_data *L = &b->lv[level];
    if (k < 0 || k >= L->nnamef || i < 0 || i >= L->n || !L->namev) return NULL;
    return L->namev[(size_t)k * (size_t)L->n + (size_t)i];
}

void df__boundaries_name_fields(const df_boundaries *b, int level, char *out, size_t cap)
{
    out[0] = 0;
    if (level < 1 || level > 3) return;
    for (int k = 0; k < b->lv[level].nnamef; k++)
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", k ? ", " : "", b->lv[level].namef[k]);
}

const char *df__boundaries_alts(const df_boundaries *b, int level, int i)
{
    return b->lv[level].alts ? b->lv[level].alts[i] : NULL;
}

const df__name_key *df__boundaries_names(const df_boundaries *b, int level, int *n)
{
    *n = df_boundaries_count(b, level) ? b->lv[level].nnames : 0;
    return *n ? b->lv[level].names : NULL;
}

const char *df__boundaries_label(const df_boundaries *b, int level)
{
    return level >= 1 && level <= 3 && b->label[level][0] ? b->label[level] : "unit";
}

void df__level_words(const df_boundaries *b, int level, int plural, int capital, char *out, size_t cap)
{
    const char *label = df__boundaries_label(b, level);
    size_t n = strlen(label);
    int neutral = !strncasecmp(label, "admin ", 6); /* "admin 2" is a level, "admin 2 unit" a unit of it */
    if (!plural)
        snprintf(out, cap, "%s%s", label, neutral ? " unit" : "");
    else if (neutral || !strcasecmp(label, "unit"))
        snprintf(out, cap, "%s units", label);
    else if (n > 1 && tolower((unsigned char)label[n - 1]) == 'y' &&
             !strchr("aeiou", tolower((unsigned char)label[n - 2])))
        snprintf(out, cap, "%.*sies", (int)(n - 1), label);
    else if (n && (strchr("sx", label[n - 1]) || (n > 1 && label[n - 1] == 'h' && strchr("cs", label[n - 2]))))
        snprintf(out, cap, "%ses", label);
    else
        snprintf(out, cap, "%ss", label);
    if (out[0]) out[0] = (char)(capital ? toupper((unsigned char)out[0]) : tolower((unsigned char)out[0]));
}

const df__profile *df__boundaries_profile(const df_boundaries *b) { return b->profile; }

const char *df__boundaries_profiles_dir(const df_boundaries *b) { return b->profiles_dir; }
