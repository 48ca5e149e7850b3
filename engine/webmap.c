/*
 * webmap.c — map.html: the bundle as an interactive web map in one file that
 * works offline (no tile server, no CDN). Leaflet comes from Debian's
 * libjs-leaflet and is inlined with its licence; the data are inline GeoJSON
 * read back from layers.gpkg (so the web map shows exactly what the GIS
 * layers hold, publish mode's withholding included), polygons simplified for
 * the screen. A slider steps through the flows' periods: the choropleth shows
 * the people who arrived in each unit in the period (the flows' displaced
 * individuals by destination), or the cumulative figure for "all periods",
 * and the arrows show that period's flows. Same inputs, same bytes.
 */
#include "df_products.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_string.h>
#include <gdal.h>
#include <ogr_api.h>

#ifndef DF_LEAFLET_DIR
#define DF_LEAFLET_DIR "/usr/share/javascript/leaflet"
#endif

/* Douglas-Peucker tolerance in degrees (~200 m): finer than a screen pixel
 * at the zooms a country fits in, and it keeps map.html small. */
#define SIMPLIFY    0.002
#define MAX_PERIODS 400

static const char licence[] =
    "/* Leaflet (libjs-leaflet), inlined. Copyright (c) 2010-2019, Vladimir Agafonkin; (c) 2010-2011, CloudMade.\n"
    " * All rights reserved.\n"
    " * Redistribution and use in source and binary forms, with or without modification, are permitted provided\n"
    " * that the following conditions are met:\n"
    " * 1. Redistributions of source code must retain the above copyright notice, this list of conditions and the\n"
    " *    following disclaimer.\n"
    " * 2. Redistributions in binary form must reproduce the above copyright notice, this list of conditions and\n"
    " *    the following disclaimer in the documentation and/or other materials provided with the distribution.\n"
    " * THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS \"AS IS\" AND ANY EXPRESS OR IMPLIED\n"
    " * WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A\n"
    " * PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE FOR\n"
    " * ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED\n"
    " * TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION)\n"
    " * HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING\n"
    " * NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE\n"
    " * POSSIBILITY OF SUCH DAMAGE. */\n";

/* The page's own script: draws from window.DF (the data written below). */
static const char app_js[] =
    "(function () {\n"
    "  var D = window.DF, map = L.map('map', {zoomSnap: 0.25});\n"
    "  map.attributionControl.setPrefix(false);\n"
    "  map.attributionControl.addAttribution(D.credits);\n"
    "  map.fitBounds([[D.bbox[1], D.bbox[0]], [D.bbox[3], D.bbox[2]]]);\n"
    "  var fmt = function (v) { return v === null ? 'withheld' : Number(v).toLocaleString('en-US'); };\n"
    "  var esc = function (s) { return String(s).replace(/[&<>\"]/g, function (c) {\n"
    "    return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '\"': '&quot;'}[c]; }); };\n"
    "  function colour(v, k) {\n"
    "    var c = D.classes[k];\n"
    "    if (v === null || v === undefined) return '#d9d9d9';\n"
    "    if (v <= 0 || !c.breaks.length) return '#ffffff';\n"
    "    for (var i = 0; i < c.breaks.length; i++) if (v <= c.breaks[i]) return c.colours[i];\n"
    "    return c.colours[c.colours.length - 1];\n"
    "  }\n"
    "  L.geoJSON(D.base, {interactive: false, style: {color: '#777', weight: 0.8, fillColor: '#f2f2f2', fillOpacity: "
    "1}}).addTo(map);\n"
    "  var period = 0, units = L.geoJSON(D.units, {style: function () { return {color: '#808080', weight: 0.6, "
    "fillOpacity: 0.85}; }}).addTo(map);\n"
    "  units.eachLayer(function (l) {\n"
    "    l.bindPopup(function () {\n"
    "      var p = l.feature.properties, t = '<b>' + esc(p.name) + '</b> (' + esc(p.pcode) + ')<table>';\n"
    "      t += '<tr><td>Displaced</td><td>' + fmt(p.displaced) + '</td></tr>';\n"
    "      t += '<tr><td>Returned</td><td>' + fmt(p.returned) + '</td></tr>';\n"
    "      t += '<tr><td>Still displaced</td><td>' + fmt(p.still_displaced) + '</td></tr>';\n"
    "      if (period > 0) t += '<tr><td>Arrived in ' + esc(D.periods[period - 1].label) + '</td><td>' + "
    "fmt(p.v[period]) + '</td></tr>';\n"
    "      return t + '</table>';\n"
    "    });\n"
    "  });\n"
    "  L.geoJSON(D.base, {interactive: false, style: {color: '#444', weight: 1.4, fill: false}}).addTo(map);\n"
    "  var flows = L.layerGroup().addTo(map);\n"
    "  function arrow(f) {\n"
    "    var p = f.properties, ll = f.geometry.coordinates.map(function (c) { return [c[1], c[0]]; });\n"
    "    var w = Math.max(1.5, 14 * Math.sqrt(p.individuals / D.flow_max));\n"
    "    var col = p.status === 'returned' ? '#2166ac' : '#a50f15';\n"
    "    var g = L.featureGroup([L.polyline(ll, {color: col, weight: w, opacity: 0.75, lineCap: 'butt'})]);\n"
    "    var n = ll.length, a = ll[n - 2], b = ll[n - 1], dy = b[0] - a[0], dx = b[1] - a[1], d = Math.sqrt(dx * dx + "
    "dy * dy);\n"
    "    if (d > 0) {\n"
    "      var h = Math.min(0.25 * p.len, 0.03 + 0.006 * w), ux = dx / d, uy = dy / d;\n"
    "      var base = [b[0] - uy * h, b[1] - ux * h], s = 0.5 * h;\n"
    "      g.addLayer(L.polygon([b, [base[0] + ux * s, base[1] - uy * s], [base[0] - ux * s, base[1] + uy * s]],\n"
    "                           {color: col, weight: 0, fillOpacity: 0.9}));\n"
    "    }\n"
    "    g.bindPopup('<b>' + esc(p.from) + ' &rarr; ' + esc(p.to) + '</b><br>' + esc(p.status) + ', ' + "
    "esc(p.period) + '<br>' + fmt(p.individuals) + ' individuals, ' + fmt(p.families) + ' families');\n"
    "    return g;\n"
    "  }\n"
    "  function show(k) {\n"
    "    period = k;\n"
    "    units.setStyle(function (f) { return {fillColor: colour(f.properties.v[k], k)}; });\n"
    "    flows.clearLayers();\n"
    "    var drawn = 0, list = D.flows.features.filter(function (f) { return k === 0 || f.properties.p === k; });\n"
    "    list.sort(function (a, b) { return a.properties.individuals - b.properties.individuals; });\n"
    "    list.forEach(function (f) { flows.addLayer(arrow(f)); drawn++; });\n"
    "    document.getElementById('when').textContent = k === 0 ? D.all_label : D.periods[k - 1].label;\n"
    "    var lg = '<b>' + (k === 0 ? D.figure : 'Arrived in the period (displaced flows)') + '</b>', c = "
    "D.classes[k];\n"
    "    lg += '<div><i style=\"background:#fff\"></i>0</div>';\n"
    "    for (var i = 0; i < c.breaks.length; i++)\n"
    "      lg += '<div><i style=\"background:' + c.colours[i] + '\"></i>' + fmt(i ? c.breaks[i - 1] + 1 : c.vmin) + "
    "' &ndash; ' + fmt(c.breaks[i]) + '</div>';\n"
    "    lg += '<div><i style=\"background:#d9d9d9\"></i>' + esc(D.no_data) + '</div>';\n"
    "    lg += '<b>Flows</b><div><i style=\"background:#a50f15\"></i>displaced</div><div><i "
    "style=\"background:#2166ac\"></i>returned</div>';\n"
    "    lg += '<div>width: ' + fmt(D.flow_max) + ' individuals at the widest</div>';\n"
    "    document.getElementById('legend').innerHTML = lg;\n"
    "    document.body.setAttribute('data-period', String(k));\n"
    "    document.body.setAttribute('data-flows-drawn', String(drawn));\n"
    "  }\n"
    "  var slider = document.getElementById('slider');\n"
    "  slider.max = String(D.periods.length);\n"
    "  var m = /period=(\\d+)/.exec(location.hash), start = m ? Math.min(+m[1], D.periods.length) : "
    "D.periods.length;\n"
    "  slider.value = String(start);\n"
    "  slider.addEventListener('input', function () { show(+slider.value); });\n"
    "  show(start);\n"
    "  document.body.setAttribute('data-units', String(units.getLayers().length));\n"
    "  document.body.setAttribute('data-ready', '1');\n"
    "})();\n";

static const char page_css[] =
    "html,body{margin:0;height:100%;font:13px/1.35 'DejaVu Sans',Arial,sans-serif}#map{position:absolute;top:0;"
    "bottom:0;left:0;right:0;background:#eef0f2}"
    ".panel{position:absolute;z-index:1000;background:rgba(255,255,255,.93);padding:8px 10px;border-radius:4px;"
    "box-shadow:0 1px 4px rgba(0,0,0,.3)}#head{top:10px;left:50px;max-width:480px}#head h1{font-size:16px;margin:0}"
    "#head p{margin:2px 0}#slider{width:100%}#legend{bottom:24px;right:10px}#legend i{display:inline-block;width:14px;"
    "height:12px;margin-right:6px;border:1px solid #999;vertical-align:middle}\n";

/* ---- output ------------------------------------------------------------------ */

typedef struct {
    FILE *f;
} out;

static void put(out *o, const char *s) { fputs(s, o->f); }

static void putf(out *o, const char *fmt, ...) DF__PRINTF(2, 3);
static void putf(out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(o->f, fmt, ap);
    va_end(ap);
}

/* A JSON string; '<' as \u003c so that no text closes the <script>. */
static void json_str(out *o, const char *s)
{
    fputc('"', o->f);
    for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
        if (*c == '"' || *c == '\\')
            fputc('\\', o->f), fputc(*c, o->f);
        else if (*c < 0x20 || *c == '<' || *c == '>' || *c == '&')
            fprintf(o->f, "\\u%04x", *c);
        else
            fputc(*c, o->f);
    }
    fputc('"', o->f);
}

/* A number, or null when the field is NULL (withheld). */
static void json_int_field(out *o, OGRFeatureH f, const char *field)
{
    int k = OGR_F_GetFieldIndex(f, field);
    if (k < 0 || !OGR_F_IsFieldSetAndNotNull(f, k))
        put(o, "null");
    else
        putf(o, "%lld", (long long)OGR_F_GetFieldAsInteger64(f, k));
}

static const char *str_field(OGRFeatureH f, const char *field)
{
    int k = OGR_F_GetFieldIndex(f, field);
    return k >= 0 ? OGR_F_GetFieldAsString(f, k) : "";
}

/* A geometry as GeoJSON, 4 decimals (~10 m), simplified when asked. */
static void json_geometry(out *o, OGRGeometryH g, int simplify)
{
    OGRGeometryH s = simplify ? OGR_G_SimplifyPreserveTopology(g, SIMPLIFY) : NULL;
    char *const opts[] = {"COORDINATE_PRECISION=4", NULL};
    char *j = OGR_G_ExportToJsonEx(s ? s : g, (char **)opts);
    put(o, j ? j : "null");
    CPLFree(j);
    if (s) OGR_G_DestroyGeometry(s);
}

/* ---- reading the layers back ----------------------------------------------------- */

typedef struct {
    char start[11], end[11];
} period;

static int period_of(const period *p, int n, const char *start)
{
    for (int i = 0; i < n; i++)
        if (strcmp(p[i].start, start) == 0) return i;
    return -1;
}

static int cmp_period(const void *a, const void *b)
{
    return strcmp(((const period *)a)->start, ((const period *)b)->start);
}

/* The distinct periods of the flows, in order. */
static int flow_periods(OGRLayerH flows, period *p)
{
    int n = 0;
    OGRFeatureH f;
    if (!flows) return 0;
    OGR_L_ResetReading(flows);
    while ((f = OGR_L_GetNextFeature(flows))) {
        const char *s = str_field(f, "period_start");
        if (s[0] && n < MAX_PERIODS && period_of(p, n, s) < 0) {
            snprintf(p[n].start, sizeof p[n].start, "%.10s", s);
            snprintf(p[n].end, sizeof p[n].end, "%.10s", str_field(f, "period_end"));
            n++;
        }
        OGR_F_Destroy(f);
    }
    qsort(p, (size_t)n, sizeof *p, cmp_period);
    return n;
}

/* A period as "2016-10-17 to 2016-11-16" (OGR reads dates "2016/10/17"). */
static void period_label(const period *p, char text[32])
{
    memcpy(text, p->start, 10), memcpy(text + 10, " to ", 4), memcpy(text + 14, p->end, 10), text[24] = 0;
    for (char *c = text; *c; c++)
        if (*c == '/') *c = '-';
}

/* The classes of one slider position in the job's scheme (df__classes_for),
 * as the pictures and QGIS draw them: class c up to breaks[c], the last up
 * to the largest value. 0 ok, -1 out of memory. */
static int json_classes(out *o, const df_job *job, const double *v, int n)
{
    double breaks[DF__MAX_BREAKS + 1], top = 0, low = 0;
    int nb = 0;
    if (df__classes_for(job, v, n, breaks, &nb) != 0) return -1;
    for (int i = 0; i < n; i++)
        if (v[i] > 0) top = fmax(top, v[i]), low = low > 0 ? fmin(low, v[i]) : v[i];
    int k = top > 0 ? nb + 1 : 0;
    breaks[nb] = nb > 0 ? fmax(top, breaks[nb - 1]) : top;
    put(o, "{\"breaks\":[");
    for (int c = 0; c < k; c++) putf(o, "%s%.15g", c ? "," : "", breaks[c]);
    putf(o, "],\"vmin\":%.15g,\"colours\":[", low);
    for (int c = 0; c < k; c++) putf(o, "%s\"%s\"", c ? "," : "", df__class_hex(c, k));
    put(o, "]}");
    return 0;
}

static df_status write_page(df_ctx *ctx, out *o, GDALDatasetH ds, const df__webmap *w)
{
    OGRLayerH units = GDALDatasetGetLayerByName(ds, w->layer), flows = GDALDatasetGetLayerByName(ds, "flows");
    OGRLayerH base = w->base_layer ? GDALDatasetGetLayerByName(ds, w->base_layer) : NULL;
    if (!units) return df__error(ctx, DF_EGDAL, "map.html: %s has no layer %s", w->gpkg, w->layer);
    static period p[MAX_PERIODS];
    int np = flow_periods(flows, p), nu = (int)OGR_L_GetFeatureCount(units, TRUE);
    /* value[k * nu + i]: slider position k (0 = cumulative) of unit i */
    double *value = calloc((size_t)(np + 1) * (size_t)(nu + 1), sizeof *value);
    char **pcode = calloc((size_t)nu + 1, sizeof *pcode);
    double flow_max = 0;
    df_status st = DF_OK;
    if (!value || !pcode) {
        st = df__error(ctx, DF_ENOMEM, "out of memory");
        goto done;
    }
    OGRFeatureH f;
    int i = 0;
    OGR_L_ResetReading(units);
    for (; i < nu && (f = OGR_L_GetNextFeature(units)); i++) {
        int k = OGR_F_GetFieldIndex(f, w->field);
        value[i] = k >= 0 && OGR_F_IsFieldSetAndNotNull(f, k) ? OGR_F_GetFieldAsDouble(f, k) : -1;
        pcode[i] = df__strdup(str_field(f, "adm_pcode"));
        OGR_F_Destroy(f);
        if (!pcode[i]) { /* else the unit would silently get no arrivals */
            st = df__error(ctx, DF_ENOMEM, "out of memory");
            goto done; /* pcode[i..nu) are NULL */
        }
    }
    nu = i;
    if (flows) { /* arrivals per unit and period: the displaced flows by destination */
        OGR_L_ResetReading(flows);
        while ((f = OGR_L_GetNextFeature(flows))) {
            double v = (double)OGR_F_GetFieldAsInteger64(f, OGR_F_GetFieldIndex(f, "individuals"));
            flow_max = fmax(flow_max, v);
            int k = period_of(p, np, str_field(f, "period_start"));
            if (k >= 0 && strcmp(str_field(f, "status"), "displaced") == 0)
                for (int u = 0; u < nu; u++)
                    if (pcode[u] && value[u] >= 0 && strcmp(pcode[u], str_field(f, "dest_pcode")) == 0)
                        value[(size_t)(k + 1) * (size_t)nu + (size_t)u] += v;
            OGR_F_Destroy(f);
        }
    }
    for (int k = 1; k <= np; k++) /* a withheld unit stays withheld in every period */
        for (int u = 0; u < nu; u++)
            if (value[u] < 0) value[(size_t)k * (size_t)nu + (size_t)u] = -1;

    put(o, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    for (const char *c = w->title; *c; c++) /* HTML text */
        if (*c == '<')
            put(o, "&lt;");
        else if (*c == '&')
            put(o, "&amp;");
        else
            fputc(*c, o->f);
    put(o, "</title>\n<style>\n");
    put(o, w->leaflet_css);
    put(o, page_css);
    put(o, "</style>\n</head>\n<body>\n<div id=\"map\"></div>\n"
           "<div id=\"head\" class=\"panel\"><h1 id=\"title\"></h1><p id=\"subtitle\"></p>"
           "<input id=\"slider\" type=\"range\" min=\"0\" max=\"0\" step=\"1\" value=\"0\" aria-label=\"period\">"
           "<p>Period: <b id=\"when\"></b></p></div>\n<div id=\"legend\" class=\"panel\"></div>\n<script>\n");
    put(o, licence);
    fwrite(w->leaflet_js, 1, strlen(w->leaflet_js), o->f);
    put(o, "\n</script>\n<script>\nwindow.DF = {\"title\":");
    json_str(o, w->title);
    put(o, ",\"subtitle\":");
    json_str(o, w->subtitle);
    put(o, ",\"credits\":");
    json_str(o, w->credits);
    put(o, ",\"figure\":");
    json_str(o, w->figure_label);
    put(o, ",\"no_data\":");
    json_str(o, w->no_data);
    put(o, ",\"all_label\":");
    json_str(o, w->all_label);
    putf(o, ",\"bbox\":[%.4f,%.4f,%.4f,%.4f],\"flow_max\":%.15g,\n\"periods\":[", w->bbox[0], w->bbox[1], w->bbox[2],
         w->bbox[3], flow_max > 0 ? flow_max : 1);
    for (int k = 0; k < np; k++) {
        char label[32];
        period_label(&p[k], label);
        putf(o, "%s{\"label\":\"%s\"}", k ? "," : "", label);
    }
    put(o, "],\n\"classes\":[");
    for (int k = 0; k <= np; k++) {
        if (k) put(o, ",");
        if (json_classes(o, w->job, value + (size_t)k * (size_t)nu, nu) != 0) {
            st = df__error(ctx, DF_ENOMEM, "out of memory");
            break;
        }
    }
    put(o, "],\n\"units\":{\"type\":\"FeatureCollection\",\"features\":[\n");
    OGR_L_ResetReading(units);
    for (i = 0; i < nu && (f = OGR_L_GetNextFeature(units)); i++) {
        OGRGeometryH g = OGR_F_GetGeometryRef(f);
        putf(o, "%s{\"type\":\"Feature\",\"properties\":{\"pcode\":", i ? ",\n" : "");
        json_str(o, str_field(f, "adm_pcode"));
        put(o, ",\"name\":");
        json_str(o, str_field(f, "adm_name"));
        static const char *const figures[] = {"displaced", "returned", "still_displaced"};
        for (int k = 0; k < 3; k++) putf(o, ",\"%s\":", figures[k]), json_int_field(o, f, figures[k]);
        put(o, ",\"v\":[");
        for (int k = 0; k <= np; k++) {
            double v = value[(size_t)k * (size_t)nu + (size_t)i];
            if (v < 0)
                putf(o, "%snull", k ? "," : "");
            else
                putf(o, "%s%.15g", k ? "," : "", v);
        }
        put(o, "]},\"geometry\":");
        if (g)
            json_geometry(o, g, 1);
        else
            put(o, "null");
        put(o, "}");
        OGR_F_Destroy(f);
    }
    put(o, "]},\n\"base\":{\"type\":\"FeatureCollection\",\"features\":[\n");
    int nb = 0;
    if (base) {
        OGR_L_ResetReading(base);
        while ((f = OGR_L_GetNextFeature(base))) {
            OGRGeometryH g = OGR_F_GetGeometryRef(f);
            if (g) {
                putf(o, "%s{\"type\":\"Feature\",\"properties\":{},\"geometry\":", nb++ ? ",\n" : "");
                json_geometry(o, g, 1);
                put(o, "}");
            }
            OGR_F_Destroy(f);
        }
    }
    put(o, "]},\n\"flows\":{\"type\":\"FeatureCollection\",\"features\":[\n");
    int nf = 0;
    if (flows) {
        OGR_L_ResetReading(flows);
        while ((f = OGR_L_GetNextFeature(flows))) {
            OGRGeometryH g = OGR_F_GetGeometryRef(f);
            int k = period_of(p, np, str_field(f, "period_start"));
            if (g && OGR_G_GetPointCount(g) >= 2 && k >= 0) {
                double x0 = OGR_G_GetX(g, 0), y0 = OGR_G_GetY(g, 0);
                int last = OGR_G_GetPointCount(g) - 1;
                double len = hypot(OGR_G_GetX(g, last) - x0, OGR_G_GetY(g, last) - y0);
                putf(o, "%s{\"type\":\"Feature\",\"properties\":{\"p\":%d,\"len\":%.4f,\"from\":", nf++ ? ",\n" : "",
                     k + 1, len);
                json_str(o, str_field(f, "origin_name"));
                put(o, ",\"to\":");
                json_str(o, str_field(f, "dest_name"));
                put(o, ",\"status\":");
                json_str(o, str_field(f, "status"));
                char label[32];
                period_label(&p[k], label);
                putf(o, ",\"period\":\"%s\",\"individuals\":", label);
                json_int_field(o, f, "individuals");
                put(o, ",\"families\":");
                json_int_field(o, f, "families");
                put(o, "},\"geometry\":");
                json_geometry(o, g, 0);
                put(o, "}");
            }
            OGR_F_Destroy(f);
        }
    }
    put(o, "]}};\n</script>\n<script>\n"
           "document.getElementById('title').textContent = window.DF.title;\n"
           "document.getElementById('subtitle').textContent = window.DF.subtitle;\n");
    put(o, app_js);
    put(o, "</script>\n</body>\n</html>\n");
done:
    for (i = 0; pcode && i < nu; i++) free(pcode[i]);
    free(pcode);
    free(value);
    return st;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *s = NULL;
    long n;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (s = malloc((size_t)n + 1)) != NULL) {
        size_t got = fread(s, 1, (size_t)n, f);
        s[got] = '\0';
    }
    fclose(f);
    return s;
}

df_status df__webmap_write(df_ctx *ctx, const df__webmap *w, const char *path)
{
    char js_path[512], css_path[512], tmp[4200];
    const char *dir = getenv("DISPFLOW_LEAFLET"); /* another copy of Leaflet, for tests */
    if (!dir || !dir[0]) dir = DF_LEAFLET_DIR;
    snprintf(js_path, sizeof js_path, "%s/leaflet.min.js", dir);
    snprintf(css_path, sizeof css_path, "%s/leaflet.css", dir);
    df__webmap page = *w;
    char *js = slurp(js_path), *css = slurp(css_path);
    df_status st = DF_OK;
    GDALDatasetH ds = NULL;
    if (!js || !css) {
        st = df__error(ctx, DF_EIO, "map.html: cannot read Leaflet (%s): install Debian's libjs-leaflet",
                       !js ? js_path : css_path);
        goto done;
    }
    page.leaflet_js = js, page.leaflet_css = css;
    ds = GDALOpenEx(w->gpkg, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!ds) {
        st = df__error(ctx, DF_EGDAL, "map.html: cannot open %s: %s", w->gpkg, df__gdal_error(ctx));
        goto done;
    }
    if ((st = df__temp_path(ctx, path, tmp, sizeof tmp)) != DF_OK) goto done;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        st = df__error(ctx, DF_EIO, "cannot write %s: %s", path, strerror(errno));
        goto done;
    }
    out o = {f};
    st = write_page(ctx, &o, ds, &page);
    if (st == DF_OK)
        st = df__commit_file(ctx, f, tmp, path);
    else
        fclose(f), remove(tmp);
done:
    if (ds) GDALClose(ds);
    free(js);
    free(css);
    return st;
}
