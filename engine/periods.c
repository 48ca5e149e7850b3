/*
 * periods.c — the figures of each unit per period (issue 14 item 3): new
 * displacement, new returns and still displaced at the end of each of the
 * job's periods, from the join's own (unit, date) bins (no second read),
 * written as the `periods` layer of layers.gpkg (temporal in the QGIS
 * project, so that the choropleth moves with the flows) and periods.csv
 * (with an HXL row).
 *
 * The periods are the flows' calendar periods (df_period_of), cut to the
 * job's from..as_of: a period's figures are the join's figures as of its
 * last day minus those as of the day before it starts, so that the new
 * figures of all periods add up to the unit's figures as of the end and the
 * last period's still displaced is the unit's. Snapshot tables: the figure
 * as of a day is the latest snapshot on or before it, and "new" is the
 * change between two snapshots (negative when fewer people are counted).
 */
#include "df_products.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gdal.h>
#include <ogr_api.h>

#define DF_PERIOD_COLUMNS(XX)                                                                                          \
    XX(adm_pcode, OFTString, "#adm%d+code")                                                                            \
    XX(adm_name, OFTString, "#adm%d+name")                                                                             \
    XX(parent_pcode, OFTString, "#adm%d+code+parent")                                                                  \
    XX(period_start, OFTDate, "#date+start")                                                                           \
    XX(period_end, OFTDate, "#date+end")                                                                               \
    XX(new_displaced, OFTInteger64, "#affected+idps+new+ind")                                                          \
    XX(new_returned, OFTInteger64, "#affected+idps+returned+new+ind")                                                  \
    XX(still_displaced, OFTInteger64, "#affected+idps+current+ind")                                                    \
    XX(displaced, OFTInteger64, "#affected+idps+ind")                                                                  \
    XX(returned, OFTInteger64, "#affected+idps+returned+ind")

enum {
#define XX_ENUM(name, type, hxl) P_##name,
    DF_PERIOD_COLUMNS(XX_ENUM)
#undef XX_ENUM
        P_COUNT
};

static const df__field columns[] = {
#define XX_ROW(name, type, hxl) {#name, type, hxl},
    DF_PERIOD_COLUMNS(XX_ROW)
#undef XX_ROW
};

typedef struct {
    int64_t displaced, returned; /* as of the period's last day */
} as_of_end;

struct df__periods {
    const df_join *j;
    const df_boundaries *b;
    int level, nunits, n; /* n periods */
    int32_t *start, *end; /* per period, cut to from..as_of */
    as_of_end *fig;       /* [period * nunits + unit] */
    unsigned char *shown; /* per unit: counted in some period */
    long features;
    int64_t max_still;
};

void df__periods_free(df__periods *p)
{
    if (!p) return;
    free(p->start), free(p->end), free(p->fig), free(p->shown);
    free(p);
}

long df__periods_features(const df__periods *p) { return p ? p->features : 0; }
int64_t df__periods_max_still(const df__periods *p) { return p ? p->max_still : 0; }

df_status df__periods_compute(df_ctx *ctx, const df_join *j, const df_boundaries *b, int step, df__periods **out)
{
    const df_balance *bal = df_join_balance(j);
    *out = NULL;
    if (bal->from == DF_NO_DATE || bal->as_of == DF_NO_DATE || bal->from > bal->as_of) return DF_OK; /* no time */
    df__periods *p = calloc(1, sizeof *p);
    df_figures *f = NULL;
    if (!p) goto oom;
    p->j = j, p->b = b, p->level = df_join_level(j), p->nunits = df__join_units(j);
    /* the periods: as the flows count them (one without a step) */
    int cap = 0;
    for (int32_t d = bal->from; d <= bal->as_of; p->n++) {
        int32_t s = d, e = bal->as_of;
        if (step != DF_STEP_NONE) df_period_of(d, (df_step)step, &s, &e);
        if (p->n == cap) {
            cap = cap ? 2 * cap : 64;
            int32_t *ns = df__realloc_array(p->start, (size_t)cap, sizeof *ns);
            if (ns) p->start = ns;
            int32_t *ne = df__realloc_array(p->end, (size_t)cap, sizeof *ne);
            if (ne) p->end = ne;
            if (!ns || !ne) goto oom;
        }
        p->start[p->n] = s < bal->from ? bal->from : s;
        p->end[p->n] = e > bal->as_of ? bal->as_of : e;
        d = p->end[p->n] + 1;
    }
    p->fig = calloc((size_t)p->n * (size_t)p->nunits + 1, sizeof *p->fig);
    p->shown = calloc((size_t)p->nunits + 1, 1);
    f = malloc(((size_t)p->nunits + 1) * sizeof *f);
    if (!p->fig || !p->shown || !f) goto oom;
    for (int k = 0; k < p->n; k++) {
        if (df__join_units_as_of(j, p->end[k], f) != 0) goto oom;
        for (int u = 0; u < p->nunits; u++) {
            p->fig[(size_t)k * p->nunits + u] = (as_of_end){f[u].displaced, f[u].returned};
            p->shown[u] |= f[u].records > 0 || f[u].displaced != 0 || f[u].returned != 0;
            if (f[u].still_displaced > p->max_still) p->max_still = f[u].still_displaced;
        }
    }
    for (int u = 0; u < p->nunits; u++) p->features += p->shown[u] ? p->n : 0;
    free(f);
    *out = p;
    return DF_OK;
oom:
    free(f);
    df__periods_free(p);
    return df__error(ctx, DF_ENOMEM, "out of memory computing the figures per period");
}

/* Unit u in period k: its new figures and those as of the end. */
static void figures(const df__periods *p, int k, int u, int64_t v[P_COUNT])
{
    const as_of_end *now = &p->fig[(size_t)k * p->nunits + u];
    const as_of_end *before = k > 0 ? &p->fig[(size_t)(k - 1) * p->nunits + u] : NULL;
    v[P_new_displaced] = now->displaced - (before ? before->displaced : 0);
    v[P_new_returned] = now->returned - (before ? before->returned : 0);
    v[P_still_displaced] = now->displaced - now->returned;
    v[P_displaced] = now->displaced;
    v[P_returned] = now->returned;
}

df_status df__periods_write_layer(df_ctx *ctx, const df__periods *p, void *ds, const char *path)
{
    OGRLayerH layer = df__create_layer(ctx, ds, path, "periods", wkbMultiPolygon, columns, P_COUNT);
    if (!layer) return ctx->status;
    if (OGR_L_StartTransaction(layer) != OGRERR_NONE)
        return df__error(ctx, DF_EGDAL, "%s: cannot start a transaction: %s", path, df__gdal_error(ctx));
    df_status st = DF_OK;
    for (int u = 0; u < p->nunits && st == DF_OK; u++) {
        if (!p->shown[u]) continue;
        const df_unit *un = df_boundaries_unit(p->b, p->level, u);
        const df_unit *pa = un->parent >= 0 ? df__boundaries_unit(p->b, p->level - 1, un->parent) : NULL;
        /* the unit's geometry once, copied into each of its periods */
        OGRGeometryH og = NULL;
        const GEOSGeometry *g = df__boundaries_geometry(p->b, p->level, u);
        if (g) {
            size_t n = 0;
            unsigned char *wkb = GEOSGeomToWKB_buf_r(ctx->geos, g, &n);
            if (wkb && OGR_G_CreateFromWkb(wkb, NULL, &og, (int)n) == OGRERR_NONE) og = OGR_G_ForceToMultiPolygon(og);
            GEOSFree_r(ctx->geos, wkb);
        }
        for (int k = 0; k < p->n && st == DF_OK; k++) {
            int64_t v[P_COUNT];
            figures(p, k, u, v);
            OGRFeatureH feat = OGR_F_Create(OGR_L_GetLayerDefn(layer));
            OGR_F_SetFieldString(feat, P_adm_pcode, un->pcode);
            OGR_F_SetFieldString(feat, P_adm_name, un->name);
            OGR_F_SetFieldString(feat, P_parent_pcode, pa ? pa->pcode : "");
            df__set_date_field(feat, P_period_start, p->start[k]);
            df__set_date_field(feat, P_period_end, p->end[k]);
            for (int c = P_new_displaced; c < P_COUNT; c++) OGR_F_SetFieldInteger64(feat, c, v[c]);
            if (og) OGR_F_SetGeometry(feat, og);
            if (OGR_L_CreateFeature(layer, feat) != OGRERR_NONE)
                st = df__error(ctx, DF_EGDAL, "%s: cannot write unit %s, period %d: %s", path, un->pcode, k + 1,
                               df__gdal_error(ctx));
            OGR_F_Destroy(feat);
        }
        if (og) OGR_G_DestroyGeometry(og);
    }
    if (st == DF_OK && OGR_L_CommitTransaction(layer) != OGRERR_NONE)
        st = df__error(ctx, DF_EGDAL, "%s: cannot commit: %s", path, df__gdal_error(ctx));
    return st;
}

df_status df__periods_write_csv(df_ctx *ctx, const df__periods *p, const char *path)
{
    char tmp[4096];
    df_status st = df__temp_path(ctx, path, tmp, sizeof tmp);
    if (st != DF_OK) return st;
    FILE *f = fopen(tmp, "w");
    if (!f) return df__error(ctx, DF_EIO, "cannot write %s: %s", path, strerror(errno));
    df__csv_write_header(f, columns, P_COUNT, p->level, P_parent_pcode);
    for (int u = 0; u < p->nunits; u++) {
        if (!p->shown[u]) continue;
        const df_unit *un = df_boundaries_unit(p->b, p->level, u);
        const df_unit *pa = un->parent >= 0 ? df__boundaries_unit(p->b, p->level - 1, un->parent) : NULL;
        for (int k = 0; k < p->n; k++) {
            int64_t v[P_COUNT];
            char s[11], e[11];
            figures(p, k, u, v);
            df_date_format(p->start[k], s);
            df_date_format(p->end[k], e);
            df__csv_put(f, un->pcode);
            fputc(',', f);
            df__csv_put(f, un->name);
            fputc(',', f);
            df__csv_put(f, pa ? pa->pcode : "");
            fprintf(f, ",%s,%s", s, e);
            for (int c = P_new_displaced; c < P_COUNT; c++) fprintf(f, ",%lld", (long long)v[c]);
            fputc('\n', f);
        }
    }
    return df__commit_file(ctx, f, tmp, path);
}
