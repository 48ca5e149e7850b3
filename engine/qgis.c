/*
 * qgis.c — what a GIS officer sees on opening the bundle in QGIS 3.22: each
 * layer's default style (QML), stored in the GeoPackage's layer_styles table
 * so that the layers open styled, and a project file (.qgs) with every layer,
 * its style, the flows' temporal settings and the extent.
 *
 * The XML is the subset of what QGIS 3.22 itself writes that it needs to read
 * the layers back (everything left out takes QGIS's defaults). Symbol layers
 * use the <Option type="Map"> form QGIS 3.22 reads first. Same inputs, same
 * bytes: no time, no random ids.
 */
#include "dfint.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#define QGIS_VERSION "3.22.0"
#define DOCTYPE      "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
#define NCLASSES     5
#define COUNT(a)     ((int)(sizeof(a) / sizeof((a)[0])))

typedef const char *pair[2]; /* a key and its value */

/* YlOrRd, five classes (ColorBrewer). */
static const char *const ramp[NCLASSES] = {"#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"};

/* ---- a growing buffer with indentation ------------------------------------ */

typedef struct {
    char *s;
    size_t len, cap;
    int indent, failed;
    char *ring[4]; /* the last escaped strings (esc), freed with the buffer */
    size_t ring_cap[4];
    int next;
} buf;

static void buf_free(buf *b)
{
    free(b->s);
    for (int i = 0; i < 4; i++) free(b->ring[i]);
}

static void put_raw(buf *b, const char *s, size_t n)
{
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->s = p, b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void vput(buf *b, const char *fmt, va_list ap)
{
    char small[512];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) {
        b->failed = 1;
    } else if ((size_t)n < sizeof small) {
        put_raw(b, small, (size_t)n);
    } else {
        char *big = malloc((size_t)n + 1);
        if (!big)
            b->failed = 1;
        else
            vsnprintf(big, (size_t)n + 1, fmt, ap2), put_raw(b, big, (size_t)n), free(big);
    }
    va_end(ap2);
}

static void vline(buf *b, const char *fmt, va_list ap)
{
    for (int i = 0; i < b->indent; i++) put_raw(b, "  ", 2);
    vput(b, fmt, ap);
    put_raw(b, "\n", 1);
}

/* One line at the current indentation. */
static void line(buf *b, const char *fmt, ...) DF_PRINTF(2, 3);
static void line(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline(b, fmt, ap);
    va_end(ap);
}

static void put_tag(buf *b, const char *pre, const char *tag, const char *post)
{
    put_raw(b, pre, strlen(pre));
    put_raw(b, tag, strlen(tag));
    put_raw(b, post, strlen(post));
}

/* A line that opens an element: what follows is indented. */
static void open_(buf *b, const char *fmt, ...) DF_PRINTF(2, 3);
static void open_(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline(b, fmt, ap);
    va_end(ap);
    b->indent++;
}

static void close_(buf *b, const char *tag)
{
    b->indent--;
    line(b, "</%s>", tag);
}

/* s escaped for XML text and attributes, whatever its length (a long
 * title or expression is never cut: issue 17 item 29). The result lives in
 * one of b's four slots, so a line can use four escaped strings at once; on
 * out of memory b fails and "" is returned. */
static const char *esc(buf *b, const char *s)
{
    int k = b->next++ & 3;
    size_t n = 1;
    for (const char *c = s ? s : ""; *c; c++) n += *c == '&' ? 5 : *c == '<' || *c == '>' ? 4 : *c == '"' ? 6 : 1;
    if (n > b->ring_cap[k]) {
        char *p = realloc(b->ring[k], n);
        if (!p) {
            b->failed = 1;
            return "";
        }
        b->ring[k] = p, b->ring_cap[k] = n;
    }
    char *o = b->ring[k];
    for (const char *c = s ? s : ""; *c; c++) {
        const char *r = *c == '&' ? "&amp;" : *c == '<' ? "&lt;" : *c == '>' ? "&gt;" : *c == '"' ? "&quot;" : NULL;
        size_t len = r ? strlen(r) : 1;
        memcpy(o, r ? r : c, len);
        o += len;
    }
    *o = '\0';
    return b->ring[k];
}

/* "#bd0026" and an alpha as QGIS's "189,0,38,255". */
static const char *rgba(const char *hex, int alpha)
{
    static _Thread_local char ring[4][24];
    static _Thread_local int next;
    char *out = ring[next++ & 3];
    unsigned v = (unsigned)strtoul(hex + 1, NULL, 16);
    snprintf(out, sizeof ring[0], "%u,%u,%u,%d", v >> 16 & 255, v >> 8 & 255, v & 255, alpha);
    return out;
}

/* ---- symbols ---------------------------------------------------------------- */

static void opt(buf *b, const char *name, const char *value)
{
    line(b, "<Option value=\"%s\" type=\"QString\" name=\"%s\"/>", esc(b, value), name);
}

/* Data-defined properties: n (property, expression) pairs, or none. */
static void data_defined(buf *b, const char *tag, int n, const pair *pairs)
{
    open_(b, "<%s>", tag);
    open_(b, "<Option type=\"Map\">");
    opt(b, "name", "");
    if (n == 0) {
        line(b, "<Option name=\"properties\"/>");
    } else {
        open_(b, "<Option type=\"Map\" name=\"properties\">");
        for (int i = 0; i < n; i++) {
            open_(b, "<Option type=\"Map\" name=\"%s\">", pairs[i][0]);
            line(b, "<Option value=\"true\" type=\"bool\" name=\"active\"/>");
            opt(b, "expression", pairs[i][1]);
            line(b, "<Option value=\"3\" type=\"int\" name=\"type\"/>"); /* an expression */
            close_(b, "Option");
        }
        close_(b, "Option");
    }
    opt(b, "type", "collection");
    close_(b, "Option");
    close_(b, tag);
}

static void symbol_open(buf *b, const char *type, const char *name)
{
    open_(b, "<symbol alpha=\"1\" clip_to_extent=\"1\" force_rhr=\"0\" type=\"%s\" name=\"%s\">", type, name);
    data_defined(b, "data_defined_properties", 0, NULL);
}

/* A symbol layer of a class with n key/value options. */
static void layer_open(buf *b, const char *cls, int n, const pair *kv)
{
    open_(b, "<layer locked=\"0\" pass=\"0\" enabled=\"1\" class=\"%s\">", cls);
    open_(b, "<Option type=\"Map\">");
    for (int i = 0; i < n; i++) opt(b, kv[i][0], kv[i][1]);
    close_(b, "Option");
}

static void fill_symbol(buf *b, const char *name, const char *color, const char *outline, const char *width)
{
    symbol_open(b, "fill", name);
    const pair kv[] = {{"color", color},
                       {"outline_color", outline},
                       {"outline_style", width ? "solid" : "no"},
                       {"outline_width", width ? width : "0"},
                       {"outline_width_unit", "MM"},
                       {"style", "solid"},
                       {"joinstyle", "bevel"}};
    layer_open(b, "SimpleFill", COUNT(kv), kv);
    data_defined(b, "data_defined_properties", 0, NULL);
    close_(b, "layer");
    close_(b, "symbol");
}

/* A circle; outlined in white when it is big enough to need it. */
static void marker_symbol(buf *b, const char *color, const char *size, const char *size_expr)
{
    symbol_open(b, "marker", "0");
    const pair kv[] = {{"name", "circle"},
                       {"color", color},
                       {"outline_color", "255,255,255,220"},
                       {"outline_style", size_expr ? "solid" : "no"},
                       {"outline_width", "0.3"},
                       {"outline_width_unit", "MM"},
                       {"size", size},
                       {"size_unit", "MM"},
                       {"scale_method", "diameter"}};
    layer_open(b, "SimpleMarker", COUNT(kv), kv);
    const pair dd[] = {{"size", size_expr}};
    data_defined(b, "data_defined_properties", size_expr ? 1 : 0, dd);
    close_(b, "layer");
    close_(b, "symbol");
}

/* ---- renderers -------------------------------------------------------------- */

/* A "nice" class width: 1, 2, 2.5 or 5 x 10^k, at least max / NCLASSES. */
static double nice_step(double max)
{
    double raw = (max > 0 ? max : 1) / NCLASSES, p = pow(10, floor(log10(raw)));
    static const double m[] = {1, 2, 2.5, 5, 10};
    for (int i = 0; i < 5; i++)
        if (m[i] * p >= raw * (1 - 1e-12)) return m[i] * p;
    return 10 * p;
}

/* A class bound for a legend: integers with thousands separators
 * ("100,000"), fractions with the digits they need. */
static void fmt_bound(double v, char *out, size_t cap)
{
    if (v != floor(v) || fabs(v) >= 1e15) {
        snprintf(out, cap, "%.6g", v);
        return;
    }
    char digits[32];
    snprintf(out, cap, "%s", df__thousands((int64_t)v, digits));
}

/* The classes: df__class_breaks' when given (the map pictures' classes,
 * after a class of its own for 0, drawn white), else equal "nice"
 * intervals up to max. */
static void choropleth_renderer(buf *b, const df__qgis_layer *l)
{
    double step = nice_step(l->max), lower[NCLASSES + 1], upper[NCLASSES + 1];
    const char *colour[NCLASSES + 1];
    int n = 0;
    if (l->nclasses > 0) {
        lower[n] = upper[n] = 0, colour[n++] = "#ffffff";
        for (int c = 0; c < l->nclasses && c < NCLASSES; c++, n++) {
            lower[n] = c == 0 ? l->vmin : l->breaks[c - 1];
            upper[n] = l->breaks[c];
            colour[n] = ramp[df__class_colour(c, l->nclasses)];
        }
    } else {
        for (; n < NCLASSES; n++) lower[n] = n * step, upper[n] = (n + 1) * step, colour[n] = ramp[n];
    }
    char name[16], lo[40], hi[40];
    open_(b,
          "<renderer-v2 type=\"graduatedSymbol\" attr=\"%s\" graduatedMethod=\"GraduatedColor\" symbollevels=\"0\" "
          "forceraster=\"0\" enableorderby=\"0\">",
          esc(b, l->field));
    open_(b, "<ranges>");
    for (int k = 0; k < n; k++) {
        /* QGIS takes the first range holding a value, bounds included: a
         * class's lower bound is the class below's upper, labelled + 1 */
        int shift = l->nclasses > 0 && k > 1;
        fmt_bound(lower[k] + shift, lo, sizeof lo);
        fmt_bound(upper[k], hi, sizeof hi);
        if (upper[k] == lower[k] + shift)
            line(b, "<range symbol=\"%d\" lower=\"%.15g\" upper=\"%.15g\" label=\"%s\" render=\"true\"/>", k, lower[k],
                 upper[k], hi);
        else
            line(b, "<range symbol=\"%d\" lower=\"%.15g\" upper=\"%.15g\" label=\"%s - %s\" render=\"true\"/>", k,
                 lower[k], upper[k], lo, hi);
    }
    close_(b, "ranges");
    open_(b, "<symbols>");
    for (int k = 0; k < n; k++) {
        snprintf(name, sizeof name, "%d", k);
        fill_symbol(b, name, rgba(colour[k], 255), "128,128,128,255", "0.2");
    }
    close_(b, "symbols");
    open_(b, "<colorramp type=\"gradient\" name=\"[source]\">");
    open_(b, "<Option type=\"Map\">");
    opt(b, "color1", rgba(ramp[0], 255));
    opt(b, "color2", rgba(ramp[NCLASSES - 1], 255));
    opt(b, "discrete", "0");
    opt(b, "rampType", "gradient");
    opt(b, "stops", "0.25;254,204,92,255:0.5;253,141,60,255:0.75;240,59,32,255");
    close_(b, "Option");
    close_(b, "colorramp");
    open_(b, "<classificationMethod id=\"Pretty\">");
    line(b, "<symmetricMode symmetrypoint=\"0\" astride=\"0\" enabled=\"0\"/>");
    line(b, "<labelFormat trimtrailingzeroes=\"1\" format=\"%%1 - %%2\" labelprecision=\"0\"/>");
    close_(b, "classificationMethod");
    close_(b, "renderer-v2");
}

/* Unit names, small, on a white halo, inside their unit. */
static void choropleth_labels(buf *b)
{
    open_(b, "<labeling type=\"simple\">");
    open_(b, "<settings calloutType=\"simple\">");
    open_(b, "<text-style fieldName=\"adm_name\" isExpression=\"0\" fontSize=\"7\" fontSizeUnit=\"Point\" "
             "textColor=\"40,40,40,255\" textOpacity=\"1\" fontWeight=\"50\">");
    line(b, "<text-buffer bufferDraw=\"1\" bufferSize=\"0.7\" bufferSizeUnits=\"MM\" bufferColor=\"255,255,255,255\" "
            "bufferOpacity=\"0.8\" bufferNoFill=\"1\" bufferJoinStyle=\"128\"/>");
    close_(b, "text-style");
    line(b, "<text-format wrapChar=\"\" multilineAlign=\"1\"/>");
    line(b, "<placement placement=\"1\" centroidInside=\"1\" centroidWhole=\"0\" fitInPolygonOnly=\"0\" "
            "polygonPlacementFlags=\"2\" priority=\"5\"/>");
    line(b, "<rendering drawLabels=\"1\" obstacle=\"1\" obstacleType=\"1\" displayAll=\"0\" labelPerPart=\"0\" "
            "upsidedownLabels=\"0\"/>");
    close_(b, "settings");
    close_(b, "labeling");
}

/* Arrows whose body and head grow with the field (Flannery's exponent 0.57,
 * so that areas look proportional), displaced dark red, returns dark blue,
 * semi-transparent so that crossings show. */
static void flows_renderer(buf *b, const df__qgis_layer *l)
{
    char width[256], head[300], thick[300];
    double mx = l->max > 0 ? l->max : 1;
    snprintf(width, sizeof width, "coalesce(scale_exp(\"%s\", 0, %.9g, 0.3, 4, 0.57), 0.3)", l->field, mx);
    snprintf(head, sizeof head, "2.5 + 1.2 * %s", width);
    snprintf(thick, sizeof thick, "1 + 0.5 * %s", width);
    open_(b, "<renderer-v2 type=\"singleSymbol\" symbollevels=\"0\" forceraster=\"0\" enableorderby=\"1\">");
    open_(b, "<symbols>");
    symbol_open(b, "line", "0");
    const pair kv[] = {
        {"arrow_type", "0"},  {"head_type", "0"},         {"is_curved", "1"},         {"is_repeated", "0"},
        {"arrow_width", "1"}, {"arrow_width_unit", "MM"}, {"arrow_start_width", "1"}, {"arrow_start_width_unit", "MM"},
        {"head_length", "2"}, {"head_length_unit", "MM"}, {"head_thickness", "1"},    {"head_thickness_unit", "MM"},
        {"offset", "0"}};
    layer_open(b, "ArrowLine", COUNT(kv), kv);
    const pair dd[] = {
        {"arrowWidth", width}, {"arrowStartWidth", width}, {"arrowHeadLength", head}, {"arrowHeadThickness", thick}};
    data_defined(b, "data_defined_properties", COUNT(dd), dd);
    symbol_open(b, "fill", "@0@0");
    const pair fkv[] = {{"color", "165,15,21,170"}, {"outline_color", "103,0,13,200"}, {"outline_style", "solid"},
                        {"outline_width", "0.1"},   {"outline_width_unit", "MM"},      {"style", "solid"}};
    layer_open(b, "SimpleFill", COUNT(fkv), fkv);
    const pair fdd[] = {{"fillColor", "if(\"status\" = 'returned', '33,102,172,170', '165,15,21,170')"}};
    data_defined(b, "data_defined_properties", COUNT(fdd), fdd);
    close_(b, "layer");
    close_(b, "symbol");
    close_(b, "layer");
    close_(b, "symbol");
    close_(b, "symbols");
    /* small flows drawn last, on top of the big ones */
    open_(b, "<orderby>");
    line(b, "<orderByClause asc=\"0\" nullsFirst=\"0\">\"%s\"</orderByClause>", esc(b, l->field));
    close_(b, "orderby");
    close_(b, "renderer-v2");
}

static void marker_renderer(buf *b, const df__qgis_layer *l)
{
    char size[256];
    double mx = l->max > 0 ? l->max : 1;
    open_(b, "<renderer-v2 type=\"singleSymbol\" symbollevels=\"0\" forceraster=\"0\" enableorderby=\"0\">");
    open_(b, "<symbols>");
    if (l->style == DF__STYLE_NODES && l->field) {
        snprintf(size, sizeof size, "coalesce(scale_exp(\"%s\", 0, %.9g, 1.5, 9, 0.57), 1.5)", l->field, mx);
        marker_symbol(b, "8,48,107,150", "2", size);
    } else {
        marker_symbol(b, "50,50,50,150", "0.8", NULL);
    }
    close_(b, "symbols");
    close_(b, "renderer-v2");
}

/* The Temporal Controller shows each flow from its period's start to its
 * end, both days included (a one-day period would otherwise be empty). */
static void temporal(buf *b, const df__qgis_layer *l)
{
    open_(b,
          "<temporal enabled=\"%d\" mode=\"%d\" startField=\"%s\" endField=\"%s\" limitMode=\"1\" "
          "startExpression=\"\" endExpression=\"\" durationField=\"\" durationUnit=\"min\" fixedDuration=\"0\" "
          "accumulate=\"0\">",
          l->temporal ? 1 : 0, l->temporal ? 2 : 0, l->temporal ? "period_start" : "", l->temporal ? "period_end" : "");
    open_(b, "<fixedRange>");
    line(b, "<start></start>");
    line(b, "<end></end>");
    close_(b, "fixedRange");
    close_(b, "temporal");
}

/* Single-band pseudocolour, 0 (transparent) .. max, five stops. */
static void raster_pipe(buf *b, const df__qgis_layer *l)
{
    double mx = l->max > 0 ? l->max : 1;
    open_(b, "<pipe>");
    open_(b,
          "<rasterrenderer type=\"singlebandpseudocolor\" band=\"1\" opacity=\"1\" alphaBand=\"-1\" "
          "classificationMin=\"0\" classificationMax=\"%.9g\" nodataColor=\"\">",
          mx);
    open_(b, "<rastershader>");
    open_(b,
          "<colorrampshader colorRampType=\"INTERPOLATED\" classificationMode=\"1\" clip=\"0\" "
          "minimumValue=\"0\" maximumValue=\"%.9g\" labelPrecision=\"1\">",
          mx);
    for (int k = 0; k < NCLASSES; k++) {
        double v = mx * k / 4.0;
        line(b, "<item alpha=\"%d\" value=\"%.9g\" label=\"%.1f %s\" color=\"%s\"/>", k ? 255 : 0, v, v,
             esc(b, l->units ? l->units : ""), ramp[k]);
    }
    close_(b, "colorrampshader");
    close_(b, "rastershader");
    close_(b, "rasterrenderer");
    close_(b, "pipe");
    line(b, "<blendMode>0</blendMode>");
}

/* What the style of a layer holds, in a QML or a project's <maplayer>. */
static void style_body(buf *b, const df__qgis_layer *l)
{
    switch (l->style) {
    case DF__STYLE_RASTER:
        raster_pipe(b, l);
        return;
    case DF__STYLE_CHOROPLETH:
        choropleth_renderer(b, l);
        break;
    case DF__STYLE_FLOWS:
        flows_renderer(b, l);
        break;
    case DF__STYLE_NODES:
    case DF__STYLE_POINTS:
        marker_renderer(b, l);
        break;
    }
    if (l->style == DF__STYLE_CHOROPLETH) choropleth_labels(b);
    if (l->style == DF__STYLE_FLOWS) temporal(b, l);
    line(b, "<blendMode>0</blendMode>");
    line(b, "<featureBlendMode>0</featureBlendMode>");
    line(b, "<layerOpacity>1</layerOpacity>");
}

static const char *categories(const df__qgis_layer *l)
{
    return l->style == DF__STYLE_CHOROPLETH ? "Symbology|Labeling"
           : l->style == DF__STYLE_FLOWS    ? "Symbology|Temporal"
                                            : "Symbology";
}

char *df__qgis_style_qml(const df__qgis_layer *l)
{
    buf b = {0};
    put_raw(&b, DOCTYPE, strlen(DOCTYPE));
    if (l->style == DF__STYLE_RASTER)
        open_(&b, "<qgis version=\"%s\" styleCategories=\"%s\">", QGIS_VERSION, categories(l));
    else
        open_(&b, "<qgis version=\"%s\" styleCategories=\"%s\" labelsEnabled=\"%d\">", QGIS_VERSION, categories(l),
              l->style == DF__STYLE_CHOROPLETH);
    style_body(&b, l);
    close_(&b, "qgis");
    char *qml = b.failed ? NULL : b.s;
    if (b.failed) free(b.s);
    b.s = NULL;
    buf_free(&b);
    return qml;
}

/* ---- layer_styles in the GeoPackage ----------------------------------------- */

/* The table as QGIS 3.22 creates it (QgsOgrUtils::saveStyle): an OGR layer
 * without geometry (so GDAL registers it in gpkg_contents as "attributes"),
 * FID column "id", these fields and widths. */
static OGRLayerH styles_table(df_ctx *ctx, GDALDatasetH ds, const char *file)
{
    static const struct {
        const char *name;
        OGRFieldType type;
        int width;
    } cols[] = {{"f_table_catalog", OFTString, 256},
                {"f_table_schema", OFTString, 256},
                {"f_table_name", OFTString, 256},
                {"f_geometry_column", OFTString, 256},
                {"styleName", OFTString, 30},
                {"styleQML", OFTString, 0},
                {"styleSLD", OFTString, 0},
                {"useAsDefault", OFTInteger, 0},
                {"description", OFTString, 0},
                {"owner", OFTString, 30},
                {"ui", OFTString, 30},
                {"update_time", OFTDateTime, 0}};
    OGRLayerH t = GDALDatasetGetLayerByName(ds, "layer_styles");
    if (t) return t;
    char **lco = CSLSetNameValue(NULL, "FID", "id");
    t = GDALDatasetCreateLayer(ds, "layer_styles", NULL, wkbNone, lco);
    CSLDestroy(lco);
    for (size_t i = 0; t && i < sizeof cols / sizeof cols[0]; i++) {
        OGRFieldDefnH fd = OGR_Fld_Create(cols[i].name, cols[i].type);
        if (cols[i].width) OGR_Fld_SetWidth(fd, cols[i].width);
        if (cols[i].type == OFTInteger) OGR_Fld_SetSubType(fd, OFSTBoolean);
        if (cols[i].type == OFTDateTime) OGR_Fld_SetDefault(fd, "CURRENT_TIMESTAMP");
        if (OGR_L_CreateField(t, fd, TRUE) != OGRERR_NONE) t = NULL;
        OGR_Fld_Destroy(fd);
    }
    if (!t) df__error(ctx, DF_EGDAL, "cannot create the layer_styles table in %s %s", file, df__gdal_error(ctx));
    return t;
}

/* Single quotes doubled, for an SQL string literal. */
static char *sql_quote(const char *s)
{
    size_t n = 3;
    for (const char *p = s; *p; p++) n += *p == '\'' ? 2 : 1;
    char *out = malloc(n), *o = out;
    if (!out) return NULL;
    *o++ = '\'';
    for (; *s; s++)
        if ((*o++ = *s) == '\'') *o++ = '\'';
    *o++ = '\'';
    *o = '\0';
    return out;
}

/* Rewriting a layer's style replaces our row and makes it the only default. */
static df_status forget_old_style(df_ctx *ctx, GDALDatasetH ds, const char *file, const char *layer)
{
    char *q = sql_quote(layer), sql[1200];
    if (!q) return df__error(ctx, DF_ENOMEM, "out of memory");
    const char *const fmt[] = {"DELETE FROM layer_styles WHERE f_table_name = %s AND styleName = %s",
                               "UPDATE layer_styles SET useAsDefault = 0 WHERE f_table_name = %s"};
    df_status st = DF_OK;
    for (int i = 0; i < 2 && st == DF_OK; i++) {
        if (snprintf(sql, sizeof sql, fmt[i], q, q) >= (int)sizeof sql) {
            st = df__error(ctx, DF_EINVAL, "layer name too long: %s", layer);
            break;
        }
        CPLErrorReset();
        OGRLayerH r = GDALDatasetExecuteSQL(ds, sql, NULL, NULL);
        if (r) GDALDatasetReleaseResultSet(ds, r);
        if (CPLGetLastErrorType() >= CE_Failure)
            st = df__error(ctx, DF_EGDAL, "cannot update layer_styles in %s for %s %s", file, layer,
                           df__gdal_error(ctx));
    }
    free(q);
    return st;
}

static df_status insert_style(df_ctx *ctx, GDALDatasetH ds, OGRLayerH t, const char *file, const df__qgis_layer *l,
                              const char *stamp)
{
    OGRLayerH data = GDALDatasetGetLayerByName(ds, l->name);
    if (!data) return df__error(ctx, DF_EGDAL, "%s has no layer %s to style", file, l->name);
    df_status st = forget_old_style(ctx, ds, file, l->name);
    if (st != DF_OK) return st;
    char *qml = df__qgis_style_qml(l);
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(t);
    OGRFeatureH f = OGR_F_Create(defn);
    if (!qml || !f) {
        free(qml);
        if (f) OGR_F_Destroy(f);
        return df__error(ctx, DF_ENOMEM, "out of memory");
    }
    /* QGIS finds the default style by f_table_schema = '' (not NULL), the
     * table name and the geometry column */
    const char *const text[][2] = {{"f_table_catalog", ""},
                                   {"f_table_schema", ""},
                                   {"f_table_name", l->name},
                                   {"f_geometry_column", OGR_L_GetGeometryColumn(data)},
                                   {"styleName", l->name},
                                   {"styleQML", qml},
                                   {"styleSLD", ""},
                                   {"description", l->title ? l->title : l->name},
                                   {"owner", ""},
                                   {"update_time", stamp}};
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
        OGR_F_SetFieldString(f, OGR_FD_GetFieldIndex(defn, text[i][0]), text[i][1]);
    OGR_F_SetFieldInteger(f, OGR_FD_GetFieldIndex(defn, "useAsDefault"), 1);
    if (OGR_L_CreateFeature(t, f) != OGRERR_NONE)
        st = df__error(ctx, DF_EGDAL, "cannot store the style of %s in %s %s", l->name, file, df__gdal_error(ctx));
    OGR_F_Destroy(f);
    free(qml);
    return st;
}

df_status df__gpkg_write_styles(df_ctx *ctx, void *gpkg, const df__qgis_layer *layers, int n, const char *stamp)
{
    GDALDatasetH ds = gpkg;
    const char *file = GDALGetDescription(ds);
    df_status st = DF_OK;
    /* gpkg_contents.last_change takes the stamp, not the clock */
    CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", stamp);
    int tx = GDALDatasetStartTransaction(ds, FALSE) == OGRERR_NONE;
    OGRLayerH t = styles_table(ctx, ds, file);
    if (!t) st = df_ctx_status(ctx);
    for (int i = 0; st == DF_OK && i < n; i++)
        if (layers[i].style != DF__STYLE_RASTER) st = insert_style(ctx, ds, t, file, &layers[i], stamp);
    if (tx && st == DF_OK && GDALDatasetCommitTransaction(ds) != OGRERR_NONE)
        st = df__error(ctx, DF_EGDAL, "cannot commit the styles to %s %s", file, df__gdal_error(ctx));
    else if (tx && st != DF_OK)
        GDALDatasetRollbackTransaction(ds);
    if (st == DF_OK && t && OGR_L_SyncToDisk(t) != OGRERR_NONE)
        st = df__error(ctx, DF_EGDAL, "cannot write the styles to %s %s", file, df__gdal_error(ctx));
    CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", NULL);
    return st;
}

/* ---- the project ------------------------------------------------------------ */

/* A layer id from its name ("adm2" → "dispflow_adm2"): stable across runs. */
static void layer_id(const df__qgis_layer *l, char *out, size_t cap)
{
    size_t o = (size_t)snprintf(out, cap, "dispflow_");
    for (const char *s = l->name; *s && o + 1 < cap; s++)
        out[o++] = (char)((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ? *s : '_');
    out[o] = '\0';
}

static void datasource(const df__qgis_layer *l, char *out, size_t cap)
{
    if (l->style == DF__STYLE_RASTER)
        snprintf(out, cap, "./%s", l->name);
    else
        snprintf(out, cap, "./layers.gpkg|layername=%s", l->name);
}

/* <tag>text</tag> on one line, text escaped whatever its length (a WKT). */
static void text_line(buf *b, const char *tag, const char *text)
{
    for (int i = 0; i < b->indent; i++) put_raw(b, "  ", 2);
    put_tag(b, "<", tag, ">");
    for (const char *c = text ? text : ""; *c; c++) {
        const char *r = *c == '&' ? "&amp;" : *c == '<' ? "&lt;" : *c == '>' ? "&gt;" : *c == '"' ? "&quot;" : NULL;
        put_raw(b, r ? r : c, r ? strlen(r) : 1);
    }
    put_tag(b, "</", tag, ">\n");
}

/* A <spatialrefsys> QGIS reads from its WKT (srsid 0: QGIS's own database
 * ids are not ours to know). */
static df_status spatialrefsys(df_ctx *ctx, buf *b, const char *crs)
{
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    char *wkt = NULL, *proj4 = NULL;
    const char *wkt_opts[] = {"FORMAT=WKT2_2019", "MULTILINE=NO", NULL};
    df_status st = DF_OK;
    if (!srs || OSRSetFromUserInput(srs, crs) != OGRERR_NONE || OSRExportToWktEx(srs, &wkt, wkt_opts) != OGRERR_NONE ||
        OSRExportToProj4(srs, &proj4) != OGRERR_NONE) {
        st = df__error(ctx, DF_EPROJ, "QGIS project: unknown CRS %s %s", crs, df__gdal_error(ctx));
        goto done;
    }
    const char *auth = OSRGetAuthorityName(srs, NULL), *code = OSRGetAuthorityCode(srs, NULL);
    open_(b, "<spatialrefsys>");
    text_line(b, "wkt", wkt);
    text_line(b, "proj4", proj4);
    line(b, "<srsid>0</srsid>");
    line(b, "<srid>%s</srid>", code ? code : "0");
    line(b, "<authid>%s%s%s</authid>", auth ? auth : "", auth && code ? ":" : "", auth && code ? code : "");
    line(b, "<description>%s</description>", esc(b, OSRGetName(srs)));
    line(b, "<geographicflag>%s</geographicflag>", OSRIsGeographic(srs) ? "true" : "false");
    close_(b, "spatialrefsys");
done:
    CPLFree(wkt);
    CPLFree(proj4);
    if (srs) OSRDestroySpatialReference(srs);
    return st;
}

static void layer_tree(buf *b, const df__qgis_layer *layers, int n)
{
    char id[256], src[1024];
    open_(b, "<layer-tree-group>");
    line(b, "<customproperties/>");
    for (int i = 0; i < n; i++) {
        layer_id(&layers[i], id, sizeof id);
        datasource(&layers[i], src, sizeof src);
        open_(b,
              "<layer-tree-layer id=\"%s\" name=\"%s\" source=\"%s\" providerKey=\"%s\" checked=\"Qt::Checked\" "
              "expanded=\"%d\">",
              id, esc(b, layers[i].title ? layers[i].title : layers[i].name), esc(b, src),
              layers[i].style == DF__STYLE_RASTER ? "gdal" : "ogr", layers[i].style == DF__STYLE_CHOROPLETH);
        line(b, "<customproperties/>");
        close_(b, "layer-tree-layer");
    }
    close_(b, "layer-tree-group");
}

static const char *geometry_name(df__style s, int wkb)
{
    switch (s) {
    case DF__STYLE_CHOROPLETH:
        return wkb ? "MultiPolygon" : "Polygon";
    case DF__STYLE_FLOWS:
        return wkb ? "LineString" : "Line";
    default:
        return "Point";
    }
}

static df_status map_layer(df_ctx *ctx, buf *b, const df__qgis_layer *l)
{
    char id[256], src[1024];
    layer_id(l, id, sizeof id);
    datasource(l, src, sizeof src);
    if (l->style == DF__STYLE_RASTER)
        open_(b, "<maplayer type=\"raster\" styleCategories=\"AllStyleCategories\">");
    else
        open_(b, "<maplayer type=\"vector\" geometry=\"%s\" wkbType=\"%s\" labelsEnabled=\"%d\" readOnly=\"0\">",
              geometry_name(l->style, 0), geometry_name(l->style, 1), l->style == DF__STYLE_CHOROPLETH);
    line(b, "<id>%s</id>", id);
    line(b, "<datasource>%s</datasource>", esc(b, src));
    line(b, "<layername>%s</layername>", esc(b, l->title ? l->title : l->name));
    open_(b, "<srs>");
    df_status st = spatialrefsys(ctx, b, l->crs ? l->crs : "EPSG:4326");
    close_(b, "srs");
    if (l->style == DF__STYLE_RASTER) {
        line(b, "<provider>gdal</provider>");
        open_(b, "<noData>");
        line(b, "<noDataList bandNo=\"1\" useSrcNoData=\"1\"/>");
        close_(b, "noData");
    } else {
        line(b, "<provider encoding=\"UTF-8\">ogr</provider>");
    }
    style_body(b, l);
    close_(b, "maplayer");
    return st;
}

/* The canvas (QGIS desktop) and the default view (QGIS Server, and the
 * desktop when the canvas is absent) both show the extent. */
static df_status view(df_ctx *ctx, buf *b, const double e[4])
{
    double pad = 0.05 * fmax(e[2] - e[0], e[3] - e[1]);
    double x0 = e[0] - pad, y0 = e[1] - pad, x1 = e[2] + pad, y1 = e[3] + pad;
    open_(b, "<mapcanvas name=\"theMapCanvas\" annotationsVisible=\"1\">");
    line(b, "<units>degrees</units>");
    open_(b, "<extent>");
    line(b, "<xmin>%.9f</xmin>", x0);
    line(b, "<ymin>%.9f</ymin>", y0);
    line(b, "<xmax>%.9f</xmax>", x1);
    line(b, "<ymax>%.9f</ymax>", y1);
    close_(b, "extent");
    line(b, "<rotation>0</rotation>");
    open_(b, "<destinationsrs>");
    df_status st = spatialrefsys(ctx, b, "EPSG:4326");
    close_(b, "destinationsrs");
    line(b, "<rendermaptile>0</rendermaptile>");
    close_(b, "mapcanvas");
    open_(b, "<ProjectViewSettings UseProjectScales=\"0\" rotation=\"0\">");
    line(b, "<Scales/>");
    open_(b, "<DefaultViewExtent xmin=\"%.9f\" ymin=\"%.9f\" xmax=\"%.9f\" ymax=\"%.9f\">", x0, y0, x1, y1);
    if (st == DF_OK) st = spatialrefsys(ctx, b, "EPSG:4326");
    close_(b, "DefaultViewExtent");
    close_(b, "ProjectViewSettings");
    return st;
}

/* The Temporal Controller's range (whole days, the last one included) and
 * step, as QGIS 3.22 writes them. */
static void time_settings(buf *b, const df__qgis_time *t)
{
    static const char *const units[] = {"d", "d", "wk", "mon"}; /* by df_step */
    char from[11], to[11];
    df_date_format(t->from, from);
    df_date_format(t->to + 1, to);
    if (t->step == DF_STEP_NONE)
        open_(b,
              "<ProjectTimeSettings cumulativeTemporalRange=\"0\" timeStepUnit=\"d\" frameRate=\"1\" timeStep=\"%d\">",
              t->to + 1 - t->from);
    else
        open_(b,
              "<ProjectTimeSettings cumulativeTemporalRange=\"0\" timeStepUnit=\"%s\" frameRate=\"1\" timeStep=\"1\">",
              units[t->step]);
    open_(b, "<TemporalRange>");
    line(b, "<start>%sT00:00:00Z</start>", from);
    line(b, "<end>%sT00:00:00Z</end>", to);
    close_(b, "TemporalRange");
    close_(b, "ProjectTimeSettings");
}

static df_status project_xml(df_ctx *ctx, buf *b, const char *title, const df__qgis_layer *layers, int n,
                             const double extent[4], const df__qgis_time *time)
{
    char id[256];
    put_raw(b, DOCTYPE, strlen(DOCTYPE));
    open_(b, "<qgis version=\"%s\" projectname=\"%s\">", QGIS_VERSION, esc(b, title));
    line(b, "<homePath path=\"\"/>");
    line(b, "<title>%s</title>", esc(b, title));
    open_(b, "<projectCrs>");
    df_status st = spatialrefsys(ctx, b, "EPSG:4326");
    close_(b, "projectCrs");
    layer_tree(b, layers, n);
    if (st == DF_OK) st = view(ctx, b, extent);
    open_(b, "<projectlayers>");
    for (int i = 0; st == DF_OK && i < n; i++) st = map_layer(ctx, b, &layers[i]);
    close_(b, "projectlayers");
    open_(b, "<layerorder>");
    for (int i = 0; i < n; i++) {
        layer_id(&layers[i], id, sizeof id);
        line(b, "<layer id=\"%s\"/>", id);
    }
    close_(b, "layerorder");
    if (time && time->from != DF_NO_DATE && time->to != DF_NO_DATE) time_settings(b, time);
    open_(b, "<properties>");
    open_(b, "<Paths>");
    line(b, "<Absolute type=\"bool\">false</Absolute>");
    close_(b, "Paths");
    open_(b, "<SpatialRefSys>"); /* without it QGIS ignores <projectCrs> */
    line(b, "<ProjectionsEnabled type=\"int\">1</ProjectionsEnabled>");
    close_(b, "SpatialRefSys");
    close_(b, "properties");
    close_(b, "qgis");
    return st;
}

df_status df__qgis_write_project(df_ctx *ctx, const char *path, const char *title, const df__qgis_layer *layers, int n,
                                 const double extent[4], const df__qgis_time *time)
{
    buf b = {0};
    char tmp[4096];
    df_status st = project_xml(ctx, &b, title, layers, n, extent, time);
    if (st == DF_OK && b.failed) st = df__error(ctx, DF_ENOMEM, "out of memory writing %s", path);
    if (st == DF_OK) st = df__temp_path(ctx, path, tmp, sizeof tmp);
    if (st == DF_OK) {
        FILE *f = fopen(tmp, "w");
        if (!f)
            st = df__error(ctx, DF_EIO, "cannot write %s: %s", path, strerror(errno));
        else
            fwrite(b.s, 1, b.len, f), st = df__commit_file(ctx, f, tmp, path);
    }
    buf_free(&b);
    return st;
}
