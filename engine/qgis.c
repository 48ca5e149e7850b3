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
#include "df_products.h"

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
static void line(buf *b, const char *fmt, ...) DF__PRINTF(2, 3);
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
static void open_(buf *b, const char *fmt, ...) DF__PRINTF(2, 3);
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
    size_t n = df__xml_escape(s, NULL) + 1;
    if (n > b->ring_cap[k]) {
        char *p = realloc(b->ring[k], n);
        if (!p) {
            b->failed = 1;
            return "";
        }
        b->ring[k] = p, b->ring_cap[k] = n;
    }
    df__xml_escape(s, b->ring[k]);
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

/* The classes: the run's (df__classes_for) when given (the map pictures' classes,
 * after a class of its own for 0, drawn white), else equal "nice"
 * intervals up to max. */
static void choropleth_renderer(buf *b, const df__qgis_layer *l)
{
    double step = nice_step(l->max), lower[DF__MAX_BREAKS + 2], upper[DF__MAX_BREAKS + 2];
    const char *colour[DF__MAX_BREAKS + 2];
    int n = 0;
    if (l->nclasses > 0) {
        lower[n] = upper[n] = 0, colour[n++] = "#ffffff";
        for (int c = 0; c < l->nclasses && c <= DF__MAX_BREAKS; c++, n++) {
            lower[n] = c == 0 ? l->vmin : l->breaks[c - 1];
            upper[n] = l->breaks[c];
            colour[n] = df__class_hex(c, l->nclasses); /* the map pictures' colours */
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

/* Unit names on a white halo, inside their unit: admin-1 names larger and
 * bold, finer levels smaller; a finer unit named like the unit it lies in
 * (Duhok district in Duhok governorate) is not labelled again, so each name
 * shows once. QGIS 3.22 honours obstacle, priority and displayAll="0"
 * (colliding labels are dropped, never drawn over each other); the coarser
 * level has the higher priority. */
static void choropleth_labels(buf *b, const df__qgis_layer *l)
{
    int level = l->name[0] == 'a' && l->name[1] == 'd' && l->name[2] == 'm' ? l->name[3] - '0' : 2;
    /* the units are listed (no get_feature(): it would make QGIS fetch the
     * parent layer from the main thread while rendering, feature by feature) */
    /* [maps] labels = en, ar (issue 13 item 7): the maps' lines, the second
     * under the first; a unit without the first has its name */
    char text[256] = "\"adm_name\"";
    if (l->nlabel > 0) snprintf(text, sizeof text, "coalesce(\"%s\", \"adm_name\")", l->label_field[0]);
    if (l->nlabel > 1)
        snprintf(text + strlen(text), sizeof text - strlen(text), " || coalesce('\\n' || \"%s\", '')",
                 l->label_field[1]);
    size_t cap = 64 + strlen(text) + (l->same_name ? strlen(l->same_name) : 0);
    char *expr = (l->same_name && level > 1) || l->nlabel ? malloc(cap) : NULL;
    if (expr && l->same_name && level > 1)
        snprintf(expr, cap, "if(\"adm_pcode\" IN (%s), NULL, %s)", l->same_name, text);
    else if (expr)
        snprintf(expr, cap, "%s", text);
    open_(b, "<labeling type=\"simple\">");
    open_(b, "<settings calloutType=\"simple\">");
    open_(b,
          "<text-style fieldName=\"%s\" isExpression=\"%d\" fontFamily=\"DejaVu Sans\" fontSize=\"%s\" "
          "fontSizeUnit=\"Point\" textColor=\"%s\" textOpacity=\"1\" fontWeight=\"%d\" fontItalic=\"0\" "
          "capitalization=\"%d\">",
          expr ? esc(b, expr) : "adm_name", expr != NULL,
          level == 1   ? "10"
          : level == 2 ? "7"
                       : "6",
          level == 1 ? "20,20,20,255" : "60,60,60,255", level == 1 ? 75 : 50, level == 1 ? 1 : 0);
    line(b,
         "<text-buffer bufferDraw=\"1\" bufferSize=\"%s\" bufferSizeUnits=\"MM\" bufferColor=\"255,255,255,255\" "
         "bufferOpacity=\"0.85\" bufferNoFill=\"1\" bufferJoinStyle=\"128\"/>",
         level == 1 ? "1" : "0.7");
    close_(b, "text-style");
    line(b, "<text-format wrapChar=\"\" multilineAlign=\"1\"/>");
    line(b,
         "<placement placement=\"1\" centroidInside=\"1\" centroidWhole=\"0\" fitInPolygonOnly=\"0\" "
         "polygonPlacementFlags=\"2\" priority=\"%d\"/>",
         level == 1 ? 9 : 5);
    line(b,
         "<rendering drawLabels=\"1\" obstacle=\"1\" obstacleType=\"1\" obstacleFactor=\"1\" displayAll=\"0\" "
         "labelPerPart=\"0\" mergeLines=\"0\" limitNumLabels=\"0\" upsidedownLabels=\"0\" zIndex=\"%d\"/>",
         level == 1 ? 1 : 0);
    close_(b, "settings");
    close_(b, "labeling");
    free(expr);
}

/* The flows' width classes: upper bounds at an eighth, a quarter, half and
 * all of the largest flow, rounded to two significant figures. */
static int width_classes(double max, double *upper)
{
    static const double part[] = {0.125, 0.25, 0.5};
    int n = 0;
    for (int k = 0; k < 3; k++) {
        double v = max * part[k], p = pow(10, floor(log10(v > 1 ? v : 1)) - 1);
        v = fmax(1, round(v / p) * p);
        if (v < max && (n == 0 || v > upper[n - 1])) upper[n++] = v;
    }
    upper[n++] = max > 0 ? max : 1;
    return n;
}

/* A curved arrow of a fixed width (mm): displaced dark red, returns dark
 * blue, semi-transparent so that crossings show. */
static void arrow_symbol(buf *b, const char *name, int returned, double width)
{
    char w[32], head[32], thick[32];
    snprintf(w, sizeof w, "%.3g", width);
    snprintf(head, sizeof head, "%.3g", 2 + 1.2 * width);
    snprintf(thick, sizeof thick, "%.3g", 0.8 + 0.5 * width);
    symbol_open(b, "line", name);
    const pair kv[] = {
        {"arrow_type", "0"},   {"head_type", "0"},         {"is_curved", "1"},        {"is_repeated", "0"},
        {"arrow_width", w},    {"arrow_width_unit", "MM"}, {"arrow_start_width", w},  {"arrow_start_width_unit", "MM"},
        {"head_length", head}, {"head_length_unit", "MM"}, {"head_thickness", thick}, {"head_thickness_unit", "MM"},
        {"offset", "0"}};
    layer_open(b, "ArrowLine", COUNT(kv), kv);
    data_defined(b, "data_defined_properties", 0, NULL);
    char sub[48];
    snprintf(sub, sizeof sub, "@%s@0", name);
    symbol_open(b, "fill", sub);
    const pair fkv[] = {{"color", returned ? "33,102,172,180" : "165,15,21,180"},
                        {"outline_color", returned ? "8,48,107,220" : "103,0,13,220"},
                        {"outline_style", "solid"},
                        {"outline_width", "0.1"},
                        {"outline_width_unit", "MM"},
                        {"style", "solid"}};
    layer_open(b, "SimpleFill", COUNT(fkv), fkv);
    data_defined(b, "data_defined_properties", 0, NULL);
    close_(b, "layer");
    close_(b, "symbol");
    close_(b, "layer");
    close_(b, "symbol");
}

/* Flows categorised by status (colour) and graduated by individuals
 * (width, four classes on a square-root scale, as on the map pictures), as
 * a rule-based renderer so that the legend explains both: "Displaced" and
 * "Returned", each with its widths. The largest flows are drawn last, on
 * top of the small ones. */
static void flows_renderer(buf *b, const df__qgis_layer *l)
{
    static const char *const status[] = {"displaced", "returned"}, *const title[] = {"Displaced", "Returned"};
    double upper[4], mx = l->max > 0 ? l->max : 1;
    int n = width_classes(mx, upper);
    char filter[160], lo[40], hi[40], name[16];
    open_(b, "<renderer-v2 type=\"RuleRenderer\" symbollevels=\"0\" forceraster=\"0\" enableorderby=\"1\">");
    open_(b, "<rules key=\"{dispflow-flows}\">");
    for (int s = 0; s < 2; s++) {
        snprintf(filter, sizeof filter, "\"status\" = '%s'", status[s]);
        open_(b, "<rule key=\"{dispflow-%s}\" label=\"%s (individuals)\" filter=\"%s\">", status[s], title[s],
              esc(b, filter));
        for (int k = 0; k < n; k++) {
            fmt_bound(k ? upper[k - 1] + 1 : 1, lo, sizeof lo);
            fmt_bound(upper[k], hi, sizeof hi);
            if (k == 0)
                snprintf(filter, sizeof filter, "\"%s\" <= %.15g", l->field, upper[k]);
            else if (k == n - 1)
                snprintf(filter, sizeof filter, "\"%s\" > %.15g", l->field, upper[k - 1]);
            else
                snprintf(filter, sizeof filter, "\"%s\" > %.15g AND \"%s\" <= %.15g", l->field, upper[k - 1], l->field,
                         upper[k]);
            line(b, "<rule key=\"{dispflow-%s-%d}\" symbol=\"%d\" label=\"%s - %s\" filter=\"%s\"/>", status[s], k,
                 s * n + k, lo, hi, esc(b, filter));
        }
        close_(b, "rule");
    }
    close_(b, "rules");
    open_(b, "<symbols>");
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < n; k++) {
            double mid = k == n - 1 ? mx : upper[k];
            snprintf(name, sizeof name, "%d", s * n + k);
            arrow_symbol(b, name, s, fmax(0.4, 4 * sqrt(mid / mx)));
        }
    close_(b, "symbols");
    open_(b, "<orderby>");
    line(b, "<orderByClause asc=\"1\" nullsFirst=\"1\">\"%s\"</orderByClause>", esc(b, l->field));
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

/* The Temporal Controller shows each flow (and each unit's figures per
 * period) from its period's start to its end, both days included (a
 * one-day period would otherwise be empty). */
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

/* Density: a ramp of its own (ColorBrewer Purples, not the choropleth's
 * YlOrRd), transparent at 0 and fading in over the lowest tenth, drawn in
 * multiply mode at 85 % so that the choropleth stays readable under it, and
 * resampled bilinearly so that the pixels do not show. */
static void raster_pipe(buf *b, const df__qgis_layer *l)
{
    static const struct {
        double at;
        int alpha;
        const char *colour;
    } stops[] = {{0, 0, "#fcfbfd"},     {0.02, 0, "#efedf5"},  {0.1, 140, "#bcbddc"},
                 {0.3, 220, "#9e9ac8"}, {0.6, 255, "#6a51a3"}, {1, 255, "#3f007d"}};
    double mx = l->max > 0 ? l->max : 1;
    open_(b, "<pipe>");
    open_(b,
          "<rasterrenderer type=\"singlebandpseudocolor\" band=\"1\" opacity=\"0.85\" alphaBand=\"-1\" "
          "classificationMin=\"0\" classificationMax=\"%.9g\" nodataColor=\"\">",
          mx);
    open_(b, "<rastershader>");
    open_(b,
          "<colorrampshader colorRampType=\"INTERPOLATED\" classificationMode=\"1\" clip=\"0\" "
          "minimumValue=\"0\" maximumValue=\"%.9g\" labelPrecision=\"1\">",
          mx);
    for (int k = 0; k < COUNT(stops); k++) {
        double v = mx * stops[k].at;
        line(b, "<item alpha=\"%d\" value=\"%.9g\" label=\"%.1f %s\" color=\"%s\"/>", stops[k].alpha, v, v,
             esc(b, l->units ? l->units : ""), stops[k].colour);
    }
    close_(b, "colorrampshader");
    close_(b, "rastershader");
    close_(b, "rasterrenderer");
    line(b, "<rasterresampler zoomedInResampler=\"bilinear\" zoomedOutResampler=\"bilinear\" maxOversampling=\"2\"/>");
    close_(b, "pipe");
    line(b, "<blendMode>6</blendMode>"); /* QgsPainting::BlendMultiply */
}

/* A raster of one period (issue 14 item 3): shown by the Temporal
 * Controller over its days only (QgsRasterLayerTemporalProperties'
 * fixed range, mode 0), the last day to its last second so that the next
 * period's first day does not show it too. */
static void raster_time(buf *b, const df__qgis_layer *l)
{
    char from[11], to[11];
    df_date_format(l->from, from);
    df_date_format(l->to, to);
    open_(b, "<temporal enabled=\"1\" mode=\"0\" fetchMode=\"0\">");
    open_(b, "<fixedRange>");
    line(b, "<start>%sT00:00:00Z</start>", from);
    line(b, "<end>%sT23:59:59Z</end>", to);
    close_(b, "fixedRange");
    close_(b, "temporal");
}

/* Unit names on the polygon layers; not on the choropleth per period,
 * whose units the cumulative one below already names. */
static int labelled(const df__qgis_layer *l)
{
    return (l->style == DF__STYLE_CHOROPLETH || l->style == DF__STYLE_OUTLINE) && !l->temporal;
}

/* What the style of a layer holds, in a QML or a project's <maplayer>. */
static void style_body(buf *b, const df__qgis_layer *l)
{
    switch (l->style) {
    case DF__STYLE_RASTER:
        raster_pipe(b, l);
        if (l->temporal) raster_time(b, l);
        return;
    case DF__STYLE_CHOROPLETH:
        choropleth_renderer(b, l);
        break;
    case DF__STYLE_OUTLINE:
        open_(b, "<renderer-v2 type=\"singleSymbol\" symbollevels=\"0\" forceraster=\"0\" enableorderby=\"0\">");
        open_(b, "<symbols>");
        fill_symbol(b, "0", "255,255,255,0", "50,50,50,255", "0.6");
        close_(b, "symbols");
        close_(b, "renderer-v2");
        break;
    case DF__STYLE_FLOWS:
        flows_renderer(b, l);
        break;
    case DF__STYLE_NODES:
    case DF__STYLE_POINTS:
        marker_renderer(b, l);
        break;
    }
    if (labelled(l)) choropleth_labels(b, l);
    if (l->temporal) temporal(b, l);
    line(b, "<blendMode>0</blendMode>");
    line(b, "<featureBlendMode>0</featureBlendMode>");
    /* the fills at 90 % (docs/guide.md); the one per period opaque over the cumulative one */
    line(b, "<layerOpacity>%s</layerOpacity>", l->style == DF__STYLE_CHOROPLETH && !l->temporal ? "0.9" : "1");
}

static const char *categories(const df__qgis_layer *l)
{
    return labelled(l) ? "Symbology|Labeling" : l->temporal ? "Symbology|Temporal" : "Symbology";
}

char *df__qgis_style_qml(const df__qgis_layer *l)
{
    buf b = {0};
    put_raw(&b, DOCTYPE, strlen(DOCTYPE));
    if (l->style == DF__STYLE_RASTER)
        open_(&b, "<qgis version=\"%s\" styleCategories=\"%s\">", QGIS_VERSION, categories(l));
    else
        open_(&b, "<qgis version=\"%s\" styleCategories=\"%s\" labelsEnabled=\"%d\">", QGIS_VERSION, categories(l),
              labelled(l));
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
    const char *escaped = esc(b, text);
    put_raw(b, escaped, strlen(escaped));
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
        const char *g = layers[i].group;
        if (g && (i == 0 || !layers[i - 1].group || strcmp(layers[i - 1].group, g))) {
            open_(b, "<layer-tree-group name=\"%s\" checked=\"Qt::Checked\" expanded=\"0\">", esc(b, g));
            line(b, "<customproperties/>");
        }
        layer_id(&layers[i], id, sizeof id);
        datasource(&layers[i], src, sizeof src);
        open_(b,
              "<layer-tree-layer id=\"%s\" name=\"%s\" source=\"%s\" providerKey=\"%s\" checked=\"Qt::%s\" "
              "expanded=\"%d\">",
              id, esc(b, layers[i].title ? layers[i].title : layers[i].name), esc(b, src),
              layers[i].style == DF__STYLE_RASTER ? "gdal" : "ogr", layers[i].unchecked ? "Unchecked" : "Checked",
              layers[i].style == DF__STYLE_CHOROPLETH);
        line(b, "<customproperties/>");
        close_(b, "layer-tree-layer");
        if (g && (i == n - 1 || !layers[i + 1].group || strcmp(layers[i + 1].group, g))) close_(b, "layer-tree-group");
    }
    close_(b, "layer-tree-group");
}

static const char *geometry_name(df__style s, int wkb)
{
    switch (s) {
    case DF__STYLE_CHOROPLETH:
    case DF__STYLE_OUTLINE:
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
              geometry_name(l->style, 0), geometry_name(l->style, 1), labelled(l));
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

/* The project's CRS: the WGS84 UTM zone of the extent's centre, as the map
 * pictures (maps.c); the extent (WGS84 lon/lat in, padded) becomes that
 * CRS's metres. */
static df_status project_crs(df_ctx *ctx, const double e[4], char *crs, size_t cap, double out[4])
{
    double clon = (e[0] + e[2]) / 2, clat = (e[1] + e[3]) / 2;
    int zone = (int)floor((clon + 180) / 6) + 1;
    zone = zone < 1 ? 1 : zone > 60 ? 60 : zone;
    snprintf(crs, cap, "EPSG:%d", (clat >= 0 ? 32600 : 32700) + zone);
    OGRSpatialReferenceH a = OSRNewSpatialReference(NULL), b = OSRNewSpatialReference(NULL);
    OGRCoordinateTransformationH ct = NULL;
    df_status st = DF_OK;
    if (a && b && OSRSetFromUserInput(a, "EPSG:4326") == OGRERR_NONE && OSRSetFromUserInput(b, crs) == OGRERR_NONE) {
        OSRSetAxisMappingStrategy(a, OAMS_TRADITIONAL_GIS_ORDER);
        OSRSetAxisMappingStrategy(b, OAMS_TRADITIONAL_GIS_ORDER);
        ct = OCTNewCoordinateTransformation(a, b);
    }
    if (!ct || !OCTTransformBounds(ct, e[0], e[1], e[2], e[3], &out[0], &out[1], &out[2], &out[3], 21))
        st = df__error(ctx, DF_EPROJ, "QGIS project: cannot transform the extent to %s %s", crs, df__gdal_error(ctx));
    if (ct) OCTDestroyCoordinateTransformation(ct);
    if (a) OSRDestroySpatialReference(a);
    if (b) OSRDestroySpatialReference(b);
    return st;
}

/* The canvas (QGIS desktop) and the default view (QGIS Server, and the
 * desktop when the canvas is absent) both show the extent (in crs). */
static df_status view(df_ctx *ctx, buf *b, const char *crs, const double e[4])
{
    double pad = 0.05 * fmax(e[2] - e[0], e[3] - e[1]);
    double x0 = e[0] - pad, y0 = e[1] - pad, x1 = e[2] + pad, y1 = e[3] + pad;
    open_(b, "<mapcanvas name=\"theMapCanvas\" annotationsVisible=\"1\">");
    line(b, "<units>meters</units>");
    open_(b, "<extent>");
    line(b, "<xmin>%.3f</xmin>", x0);
    line(b, "<ymin>%.3f</ymin>", y0);
    line(b, "<xmax>%.3f</xmax>", x1);
    line(b, "<ymax>%.3f</ymax>", y1);
    close_(b, "extent");
    line(b, "<rotation>0</rotation>");
    open_(b, "<destinationsrs>");
    df_status st = spatialrefsys(ctx, b, crs);
    close_(b, "destinationsrs");
    line(b, "<rendermaptile>0</rendermaptile>");
    close_(b, "mapcanvas");
    open_(b, "<ProjectViewSettings UseProjectScales=\"0\" rotation=\"0\">");
    line(b, "<Scales/>");
    open_(b, "<DefaultViewExtent xmin=\"%.3f\" ymin=\"%.3f\" xmax=\"%.3f\" ymax=\"%.3f\">", x0, y0, x1, y1);
    if (st == DF_OK) st = spatialrefsys(ctx, b, crs);
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

/* ---- the print layout and its Atlas ----------------------------------------- */

/* Stable ids for the layout's items: same inputs, same bytes. */
#define UUID(k) "{d15f1000-0000-4000-8000-00000000000" #k "}"

/* What every layout item starts with (65636 + type: QgsLayoutItemRegistry),
 * at x, y (mm) of w x h. */
static void item_open(buf *b, int type, const char *uuid, const char *id, double x, double y, double w, double h, int z,
                      const char *extra)
{
    open_(b,
          "<LayoutItem type=\"%d\" uuid=\"%s\" templateUuid=\"%s\" id=\"%s\" position=\"%g,%g,mm\" "
          "positionOnPage=\"%g,%g,mm\" size=\"%g,%g,mm\" zValue=\"%d\" referencePoint=\"0\" frame=\"false\" "
          "background=\"false\" opacity=\"1\" visibility=\"1\" blendMode=\"0\" itemRotation=\"0\" "
          "excludeFromExports=\"0\" positionLock=\"false\" groupUuid=\"\" outlineWidthM=\"0.3,mm\" %s>",
          type, uuid, uuid, id, x, y, x, y, w, h, z, extra);
    line(b, "<FrameColor alpha=\"255\" red=\"0\" green=\"0\" blue=\"0\"/>");
    line(b, "<BackgroundColor alpha=\"255\" red=\"255\" green=\"255\" blue=\"255\"/>");
}

/* A text box; font as Qt describes one ("DejaVu Sans,18,-1,5,75,0,..."
 * : family, points, -1, 5, weight 50 normal / 75 bold, italic). */
static void label_item(buf *b, const char *uuid, const char *id, double x, double y, double w, double h,
                       const char *text, double points, int bold, int italic, const char *colour)
{
    char extra[4200];
    snprintf(extra, sizeof extra,
             "labelText=\"%s\" htmlState=\"0\" marginX=\"0\" marginY=\"0\" halign=\"1\" valign=\"32\"", esc(b, text));
    item_open(b, 65641, uuid, id, x, y, w, h, 10, extra);
    line(b, "<LabelFont description=\"DejaVu Sans,%g,-1,5,%d,%d,0,0,0,0\" style=\"\"/>", points, bold ? 75 : 50,
         italic);
    line(b, "<FontColor %s/>", colour);
    close_(b, "LayoutItem");
}

/* A4 landscape: title, subtitle with the as-of date, the map (the latest
 * period's flows), a legend of the classes the map shows, scale bar, north
 * arrow, credits, disclaimer, logo; and an Atlas over the admin-1 units
 * with people: one page per unit, the map zoomed on it. */
/* The layout's map, 200 x 160 mm; its extent of the same shape as the frame. */
static void layout_map(buf *b, const df__qgis_print *p, const df__qgis_time *t, const double ext[4])
{
    char extra[1024];
    double w = ext[2] - ext[0], h = ext[3] - ext[1], cx = (ext[0] + ext[2]) / 2, cy = (ext[1] + ext[3]) / 2;
    if (w / h > 200.0 / 160)
        h = w * 160 / 200;
    else
        w = h * 200 / 160;
    char when[160] = "isTemporal=\"0\"";
    if (t) {
        char from[11], to[11];
        df_date_format(t->last_start, from);
        df_date_format((t->last_end < t->to ? t->last_end : t->to) + 1, to);
        snprintf(when, sizeof when,
                 "isTemporal=\"1\" temporalRangeBegin=\"%sT00:00:00Z\" temporalRangeEnd=\"%sT00:00:00Z\"", from, to);
    }
    snprintf(extra, sizeof extra,
             "mapRotation=\"0\" keepLayerSet=\"false\" followPreset=\"false\" followPresetName=\"\" "
             "drawCanvasItems=\"true\" labelMargin=\"0,mm\" mapFlags=\"0\" %s",
             when);
    item_open(b, 65639, UUID(1), "Map", 10, 30, 200, 160, 1, extra);
    line(b, "<Extent xmin=\"%.3f\" ymin=\"%.3f\" xmax=\"%.3f\" ymax=\"%.3f\"/>", cx - w / 2, cy - h / 2, cx + w / 2,
         cy + h / 2);
    line(b, "<LayerSet/>");
    line(b, "<AtlasMap atlasDriven=\"%d\" scalingMode=\"2\" margin=\"0.1\"/>", p->atlas != NULL);
    close_(b, "LayoutItem");
}

/* The title, and the subtitle with the unit's name after the dates on an Atlas page. */
static void layout_titles(buf *b, const char *title, const df__qgis_print *p)
{
    char text[2048];
    label_item(b, UUID(2), "Title", 10, 8, 230, 11, title, 18, 1, 0,
               "alpha=\"255\" red=\"20\" green=\"20\" blue=\"20\"");
    snprintf(text, sizeof text, "%s[%% if(@atlas_pagename <> '', ' | ' || @atlas_pagename, '') %%]",
             p->subtitle ? p->subtitle : "");
    label_item(b, UUID(3), "Subtitle", 10, 20, 230, 7, text, 11, 0, 0,
               "alpha=\"255\" red=\"70\" green=\"70\" blue=\"70\"");
}

static void layout_legend(buf *b)
{
    char extra[1024];
    snprintf(
        extra, sizeof extra,
        "map_uuid=\"%s\" title=\"Legend\" legendFilterByMap=\"1\" legendFilterByAtlas=\"0\" resizeToContents=\"1\" "
        "columnCount=\"1\" columnSpace=\"2\" symbolWidth=\"7\" symbolHeight=\"4\" boxSpace=\"2\" lineSpacing=\"1\" "
        "wrapChar=\"\" splitLayer=\"0\" equalColumnWidth=\"0\" rasterBorder=\"1\" fontColor=\"#000000\" "
        "symbolAlignment=\"1\" titleAlignment=\"1\"",
        UUID(1));
    item_open(b, 65642, UUID(4), "Legend", 215, 30, 72, 160, 2, extra);
    open_(b, "<styles>");
    static const char *const styles[][2] = {{"title", "12,-1,5,75"},
                                            {"group", "9,-1,5,75"},
                                            {"subgroup", "8,-1,5,75"},
                                            {"symbol", "8,-1,5,50"},
                                            {"symbolLabel", "7,-1,5,50"}};
    for (int k = 0; k < COUNT(styles); k++) {
        open_(b, "<style name=\"%s\" alignment=\"1\" indent=\"0\" marginTop=\"%s\">", styles[k][0],
              k == 0 ? "0" : "1.5");
        line(b, "<styleFont description=\"DejaVu Sans,%s,0,0,0,0,0,0\" style=\"\"/>", styles[k][1]);
        close_(b, "style");
    }
    close_(b, "styles");
    close_(b, "LayoutItem");
}

static void layout_scale_bar_and_north_arrow(buf *b)
{
    char extra[1024];
    snprintf(extra, sizeof extra,
             "mapUuid=\"%s\" style=\"Single Box\" unitType=\"kilometers\" unitLabel=\"km\" "
             "numMapUnitsPerScaleBarUnit=\"1000\" numSegments=\"2\" numSegmentsLeft=\"0\" numSubdivisions=\"1\" "
             "segmentSizeMode=\"1\" minBarWidth=\"25\" maxBarWidth=\"50\" numUnitsPerSegment=\"50\" height=\"2\" "
             "labelBarSpace=\"2\" boxContentSpace=\"1\" alignment=\"0\" outlineWidth=\"0.3\" "
             "lineJoinStyle=\"miter\" lineCapStyle=\"square\"",
             UUID(1));
    item_open(b, 65646, UUID(5), "Scale bar", 12, 180, 60, 9, 3, extra);
    close_(b, "LayoutItem");

    snprintf(extra, sizeof extra,
             "file=\"arrows/NorthArrow_02.svg\" mode=\"0\" resizeMode=\"0\" anchorPoint=\"0\" mapUuid=\"%s\" "
             "northMode=\"1\" northOffset=\"0\" pictureRotation=\"0\" pictureWidth=\"10\" pictureHeight=\"14\" "
             "svgFillColor=\"40,40,40,255\" svgBorderColor=\"255,255,255,255\" svgBorderWidth=\"0.2\"",
             UUID(1));
    item_open(b, 65640, UUID(6), "North arrow", 197, 172, 10, 14, 4, extra);
    close_(b, "LayoutItem");
}

/* The logo (when there is one), the credits and the disclaimer. */
static void layout_footer(buf *b, const df__qgis_print *p)
{
    char text[2048], extra[1024];
    if (p->logo) {
        const char *dot = strrchr(p->logo, '.');
        snprintf(text, sizeof text, "./%s", p->logo);
        snprintf(extra, sizeof extra,
                 "file=\"%s\" mode=\"%d\" resizeMode=\"3\" anchorPoint=\"2\" pictureWidth=\"42\" "
                 "pictureHeight=\"18\" northMode=\"0\" northOffset=\"0\" pictureRotation=\"0\" mapUuid=\"\"",
                 esc(b, text), dot && (strcmp(dot, ".svg") == 0 || strcmp(dot, ".SVG") == 0) ? 0 : 1);
        item_open(b, 65640, UUID(7), "Logo", 245, 5, 42, 18, 5, extra);
        close_(b, "LayoutItem");
    }

    snprintf(text, sizeof text, "%s%s%s", p->credits ? p->credits : "", p->map_id ? " | Map " : "",
             p->map_id ? p->map_id : "");
    label_item(b, UUID(8), "Credits", 10, 193, 277, 6, text, 7, 0, 0,
               "alpha=\"255\" red=\"60\" green=\"60\" blue=\"60\"");
    label_item(b, UUID(9), "Disclaimer", 10, 199, 277, 8, p->disclaimer ? p->disclaimer : "", 6.5, 0, 1,
               "alpha=\"255\" red=\"90\" green=\"90\" blue=\"90\"");
}

/* The Atlas: a page per unit with people displaced into it. */
static void layout_atlas(buf *b, const df__qgis_print *p)
{
    char lid[256], src[1024];
    df__qgis_layer al = {.name = p->atlas};
    layer_id(&al, lid, sizeof lid);
    datasource(&al, src, sizeof src);
    line(b,
         "<Atlas enabled=\"1\" hideCoverage=\"0\" coverageLayer=\"%s\" coverageLayerName=\"%s\" "
         "coverageLayerSource=\"%s\" coverageLayerProvider=\"ogr\" pageNameExpression=\"adm_name\" "
         "sortFeatures=\"1\" sortAscending=\"1\" sortKey=\"adm_name\" filterFeatures=\"1\" "
         "featureFilter=\"&quot;displaced&quot; &gt; 0\" filenamePattern=\"'page_'||@atlas_featurenumber\"/>",
         lid, esc(b, p->atlas), esc(b, src));
}

static void print_layout(buf *b, const char *title, const df__qgis_print *p, const df__qgis_time *t,
                         const double ext[4])
{
    open_(b, "<Layouts>");
    open_(b, "<Layout name=\"Situation map (A4)\" units=\"mm\" printResolution=\"300\" worldFileMap=\"\">");
    line(b, "<Snapper snapToGuides=\"1\" snapToItems=\"1\" snapToGrid=\"0\" tolerance=\"5\"/>");
    line(b, "<Grid resolution=\"10\" resUnits=\"mm\" offsetX=\"0\" offsetY=\"0\" offsetUnits=\"mm\"/>");
    open_(b, "<PageCollection>");
    item_open(b, 65638, UUID(0), "", 0, 0, 297, 210, 0, "");
    close_(b, "LayoutItem");
    line(b, "<GuideCollection visible=\"1\"/>");
    close_(b, "PageCollection");

    layout_map(b, p, t, ext);
    layout_titles(b, title, p);
    layout_legend(b);
    layout_scale_bar_and_north_arrow(b);
    layout_footer(b, p);
    line(b, "<customproperties/>");
    if (p->atlas) layout_atlas(b, p);
    close_(b, "Layout");
    close_(b, "Layouts");
}

/* The Temporal Controller at open (read by QGIS's canvas and its
 * Temporal Controller panel): a fixed range on the latest period, so that
 * the map shows one period, not all of them. The project's own range and
 * step (time_settings) are the whole job: "Set to project range" and the
 * animated mode step through every period. */
static void time_at_open(buf *b, const df__qgis_time *t)
{
    char from[11], to[11];
    df_date_format(t->last_start, from);
    df_date_format((t->last_end < t->to ? t->last_end : t->to) + 1, to); /* the last day included, up to as-of */
    open_(b, "<TemporalControllerWidget>");
    line(b, "<NavigationMode type=\"int\">2</NavigationMode>"); /* FixedRange */
    line(b, "<StartDateTime type=\"QString\">%sT00:00:00Z</StartDateTime>", from);
    line(b, "<EndDateTime type=\"QString\">%sT00:00:00Z</EndDateTime>", to);
    close_(b, "TemporalControllerWidget");
}

static df_status project_xml(df_ctx *ctx, buf *b, const char *title, const df__qgis_layer *layers, int n,
                             const double extent[4], const df__qgis_time *time, const df__qgis_print *print)
{
    char id[256], crs[32];
    double ext[4];
    df_status st = project_crs(ctx, extent, crs, sizeof crs, ext);
    if (st != DF_OK) return st;
    int timed = time && time->from != DF_NO_DATE && time->to != DF_NO_DATE;
    int at_open = timed && time->last_start != DF_NO_DATE && time->last_end != DF_NO_DATE;
    put_raw(b, DOCTYPE, strlen(DOCTYPE));
    open_(b, "<qgis version=\"%s\" projectname=\"%s\">", QGIS_VERSION, esc(b, title));
    line(b, "<homePath path=\"\"/>");
    line(b, "<title>%s</title>", esc(b, title));
    open_(b, "<projectCrs>");
    st = spatialrefsys(ctx, b, crs);
    close_(b, "projectCrs");
    layer_tree(b, layers, n);
    if (st == DF_OK) st = view(ctx, b, crs, ext);
    open_(b, "<projectlayers>");
    for (int i = 0; st == DF_OK && i < n; i++) st = map_layer(ctx, b, &layers[i]);
    close_(b, "projectlayers");
    open_(b, "<layerorder>");
    for (int i = 0; i < n; i++) {
        layer_id(&layers[i], id, sizeof id);
        line(b, "<layer id=\"%s\"/>", id);
    }
    close_(b, "layerorder");
    if (timed) time_settings(b, time);
    if (print) print_layout(b, title, print, at_open ? time : NULL, ext);
    open_(b, "<properties>");
    open_(b, "<Paths>");
    line(b, "<Absolute type=\"bool\">false</Absolute>");
    close_(b, "Paths");
    open_(b, "<SpatialRefSys>"); /* without it QGIS ignores <projectCrs> */
    line(b, "<ProjectionsEnabled type=\"int\">1</ProjectionsEnabled>");
    close_(b, "SpatialRefSys");
    if (at_open) time_at_open(b, time);
    close_(b, "properties");
    close_(b, "qgis");
    return st;
}

df_status df__qgis_write_project(df_ctx *ctx, const char *path, const char *title, const df__qgis_layer *layers, int n,
                                 const double extent[4], const df__qgis_time *time, const df__qgis_print *print)
{
    buf b = {0};
    char tmp[4096];
    df_status st = project_xml(ctx, &b, title, layers, n, extent, time, print);
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
