/*
 * webmap.c — map.html: the bundle as an interactive web map in one file that
 * works offline (no tile server, no CDN). Leaflet comes from Debian's
 * libjs-leaflet and is inlined with its licence; the data are inline GeoJSON
 * read back from layers.gpkg (so the web map shows exactly what the GIS
 * layers hold, publish mode's withholding included), polygons simplified for
 * the screen. A slider steps through the periods of the periods layer
 * (issue 14 item 3): the choropleth shows that layer's figure of each unit in
 * the period (new displacement, new returns or still displaced at its end,
 * as chosen), or the cumulative figure for "all periods"; the arrows show
 * the flows of the period, curved and drawn in pixels at each zoom, flows
 * within a unit as rings. Publish mode's bundle has no periods layer: the
 * slider then steps through the flows' periods and the units keep their
 * cumulative figures. Under them the neighbouring countries of the PNG maps
 * (df__countries_load), clipped and simplified. Same inputs, same bytes.
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

/* The page's own script: draws from window.DF (the data written below).
 * Arrows are drawn in pixels at the current zoom (redrawn on zoom), so their
 * heads and bends look as on the PNG maps at every scale. */
static const char app_js[] =
    "(function () {\n"
    "  var D = window.DF, map = L.map('map', {zoomSnap: 0.25});\n"
    "  map.attributionControl.setPrefix(false);\n"
    "  map.attributionControl.addAttribution(D.credits);\n"
    "  map.fitBounds([[D.bbox[1], D.bbox[0]], [D.bbox[3], D.bbox[2]]]);\n"
    "  map.setMinZoom(Math.floor(map.getZoom()) - 1); /* the countries are clipped a little beyond */\n"
    "  var fmt = function (v) { return v === null || v === undefined ? 'withheld' : Number(v).toLocaleString('en-US'); "
    "};\n"
    "  var esc = function (s) { return String(s).replace(/[&<>\"]/g, function (c) {\n"
    "    return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '\"': '&quot;'}[c]; }); };\n"
    "  var DISPLACED = '#1f3a5f', RETURNED = '#1b7837', BEND = 0.18;\n"
    "  /* the figures: in a period (from the periods layer), and for the whole range (k = 0) */\n"
    "  var F = [{key: 'displaced', period: 'New displacement in the period', all: 'Displaced (cumulative)'},\n"
    "           {key: 'returned', period: 'New returns in the period', all: 'Returned (cumulative)'},\n"
    "           {key: 'still_displaced', period: 'Still displaced at the end of the period', all: 'Still "
    "displaced'}];\n"
    "  if (D.figure) F[0].all = D.figure; /* the report's words: 'Displaced by district (cumulative)' */\n"
    "  var period = 0, fig = 0;\n"
    "  function value(p, k, c) {\n"
    "    if (k === 0 || !D.has_periods) return p[F[c].key];\n"
    "    if (p[F[c].key] === null) return null; /* withheld */\n"
    "    return p.f ? p.f[k - 1][c] : 0;\n"
    "  }\n"
    "  function classes(k, c) { return k === 0 || !D.has_periods ? D.classes_all[c] : D.classes[c]; }\n"
    "  function colour(v, cl) {\n"
    "    if (v === null || v === undefined) return '#d9d9d9';\n"
    "    if (v <= 0 || !cl.breaks.length) return '#ffffff';\n"
    "    for (var i = 0; i < cl.breaks.length; i++) if (v <= cl.breaks[i]) return cl.colours[i];\n"
    "    return cl.colours[cl.colours.length - 1];\n"
    "  }\n"
    "  /* the neighbouring countries, as on the PNG maps: land on the sea, grey outlines, names */\n"
    "  if (D.countries.features.length) document.getElementById('map').style.background = '#d4e6f1'; /* the sea */\n"
    "  L.geoJSON(D.countries, {interactive: false, style: {color: '#9e9e9e', weight: 1, fillColor: '#f1efe8',\n"
    "    fillOpacity: 1}}).addTo(map);\n"
    "  var names = 0;\n"
    "  D.countries.features.forEach(function (f) {\n"
    "    var p = f.properties;\n"
    "    if (!p.name || !p.at) return;\n"
    "    L.marker([p.at[1], p.at[0]], {interactive: false, keyboard: false, icon: L.divIcon({className: 'country',\n"
    "      iconSize: [0, 0], html: '<span>' + esc(p.name.toUpperCase()) + '</span>'})}).addTo(map);\n"
    "    names++;\n"
    "  });\n"
    "  var units = L.geoJSON(D.units, {style: function () { return {color: '#8c8c8c', weight: 0.6, fillOpacity: 0.9}; "
    "}})\n"
    "    .addTo(map);\n"
    "  units.eachLayer(function (l) {\n"
    "    l.bindPopup(function () {\n"
    "      var p = l.feature.properties, t = '<b>' + esc(p.name) + '</b> (' + esc(p.pcode) + ')';\n"
    "      (p.labels || []).forEach(function (s) {\n"
    "        if (s !== p.name) t += '<br><span dir=\"auto\">' + esc(s) + '</span>';\n"
    "      });\n"
    "      t += '<table>';\n"
    "      if (period > 0 && D.has_periods) {\n"
    "        t += '<tr><th colspan=\"2\">' + esc(D.periods[period - 1].label) + '</th></tr>';\n"
    "        for (var c = 0; c < 3; c++) t += '<tr><td>' + F[c].period + '</td><td>' + fmt(value(p, period, c)) + "
    "'</td></tr>';\n"
    "        t += '<tr><th colspan=\"2\">' + esc(D.all_label) + '</th></tr>';\n"
    "      }\n"
    "      for (var c2 = 0; c2 < 3; c2++) t += '<tr><td>' + F[c2].all + '</td><td>' + fmt(p[F[c2].key]) + "
    "'</td></tr>';\n"
    "      return t + '</table>';\n"
    "    });\n"
    "  });\n"
    "  L.geoJSON(D.base, {interactive: false, style: {color: '#404040', weight: 1.4, fill: false}}).addTo(map);\n"
    "  var flows = L.layerGroup().addTo(map), drawn = {arrows: 0, rings: 0}, amax = D.arrow_max, rmax = D.flow_max;\n"
    "  function width(v) { return Math.max(2, 14 * Math.sqrt((v || 0) / amax)); }\n"
    "  /* A quadratic arc bent BEND x chord to the right of travel (A->B and B->A\n"
    "     lie apart), drawn in pixels at this zoom with its head, as the PNG maps. */\n"
    "  function arrow(f) {\n"
    "    var p = f.properties, c = f.geometry.coordinates, col = p.status === 'returned' ? RETURNED : DISPLACED;\n"
    "    var a = map.latLngToLayerPoint([c[0][1], c[0][0]]), b = map.latLngToLayerPoint([c[1][1], c[1][0]]);\n"
    "    var w = width(p.individuals), dx = b.x - a.x, dy = b.y - a.y, len = Math.sqrt(dx * dx + dy * dy);\n"
    "    var cx = (a.x + b.x) / 2 - BEND * dy, cy = (a.y + b.y) / 2 + BEND * dx;\n"
    "    var head = Math.min(1.8 * w + 4, 0.45 * len), half = 1.15 * w + 2.5, lo = 0, hi = 1, t = 1, q = b;\n"
    "    function at(s) { var u = 1 - s; return L.point(u * u * a.x + 2 * u * s * cx + s * s * b.x,\n"
    "                                                   u * u * a.y + 2 * u * s * cy + s * s * b.y); }\n"
    "    for (var i = 0; i < 30 && len > 0; i++) {\n"
    "      t = (lo + hi) / 2, q = at(t);\n"
    "      if (q.distanceTo(b) > head) lo = t; else hi = t;\n"
    "    }\n"
    "    var shaft = [], ll = function (pt) { return map.layerPointToLatLng(pt); };\n"
    "    for (var s = 0; s <= 24; s++) shaft.push(ll(at(t * s / 24)));\n"
    "    var hx = head > 0 ? (b.x - q.x) / head : 0, hy = head > 0 ? (b.y - q.y) / head : 0;\n"
    "    var tri = [ll(b), ll(L.point(q.x - hy * half, q.y + hx * half)), ll(L.point(q.x + hy * half, q.y - hx * "
    "half))];\n"
    "    var g = L.featureGroup([L.polyline(shaft, {color: '#fff', weight: w + 2, opacity: 0.8, lineCap: 'butt'}),\n"
    "                            L.polyline(shaft, {color: col, weight: w, opacity: 0.9, lineCap: 'butt'}),\n"
    "                            L.polygon(tri, {color: '#fff', weight: 1.5, fillColor: col, fillOpacity: 0.9})]);\n"
    "    drawn.arrows++;\n"
    "    return g;\n"
    "  }\n"
    "  /* a flow within one unit: a ring at its place, area by individuals */\n"
    "  function ring(f) {\n"
    "    var p = f.properties, c = f.geometry.coordinates, col = p.status === 'returned' ? RETURNED : DISPLACED;\n"
    "    var r = Math.max(3, 30 * Math.sqrt((p.individuals || 0) / rmax)), at = [c[1], c[0]];\n"
    "    drawn.rings++;\n"
    "    return L.featureGroup([L.circleMarker(at, {radius: r, color: '#fff', weight: 6, fill: false, opacity: 0.9}),\n"
    "                           L.circleMarker(at, {radius: r, color: col, weight: 3, fill: false, opacity: 0.9})]);\n"
    "  }\n"
    "  function draw() {\n"
    "    flows.clearLayers();\n"
    "    drawn = {arrows: 0, rings: 0};\n"
    "    var list = D.flows.features.filter(function (f) { return period === 0 || f.properties.p === period; });\n"
    "    amax = D.arrow_max, rmax = D.flow_max;\n"
    "    if (period === 0) { /* all periods: one arrow per pair and status, the periods added up */\n"
    "      var sum = {}, keys = [];\n"
    "      list.forEach(function (f) {\n"
    "        var p = f.properties, k = JSON.stringify([p.from, p.to, p.status, f.geometry.coordinates]);\n"
    "        if (!sum[k]) { sum[k] = {geometry: f.geometry, properties: {from: p.from, to: p.to, status: p.status,\n"
    "          period: D.all_label, individuals: null, families: null}}; keys.push(k); }\n"
    "        var q = sum[k].properties;\n"
    "        if (p.individuals !== null) q.individuals = (q.individuals || 0) + p.individuals;\n"
    "        if (p.families !== null) q.families = (q.families || 0) + p.families;\n"
    "      });\n"
    "      list = keys.map(function (k) { return sum[k]; });\n"
    "      amax = rmax = 1;\n"
    "      list.forEach(function (f) { var v = f.properties.individuals || 0; rmax = Math.max(rmax, v);\n"
    "        if (f.geometry.type !== 'Point') amax = Math.max(amax, v); });\n"
    "    }\n"
    "    list.sort(function (x, y) { return (x.properties.individuals || 0) - (y.properties.individuals || 0); });\n"
    "    var rings = list.filter(function (f) { return f.geometry.type === 'Point'; });\n"
    "    var arrows = list.filter(function (f) { return f.geometry.type !== 'Point'; });\n"
    "    rings.concat(arrows).forEach(function (f) { /* rings under the arrows, the largest on top */\n"
    "      var p = f.properties, g = f.geometry.type === 'Point' ? ring(f) : arrow(f);\n"
    "      g.bindPopup('<b>' + esc(p.from) + ' &rarr; ' + esc(p.to) + (p.from === p.to ? ' (within)' : '') + "
    "'</b><br>' + esc(p.status) + ', ' + esc(p.period) +\n"
    "                  '<br>' + fmt(p.individuals) + ' individuals, ' + fmt(p.families) + ' families');\n"
    "      flows.addLayer(g);\n"
    "    });\n"
    "    document.body.setAttribute('data-flows-drawn', String(drawn.arrows + drawn.rings));\n"
    "    document.body.setAttribute('data-arrows', String(drawn.arrows));\n"
    "    document.body.setAttribute('data-rings', String(drawn.rings));\n"
    "  }\n"
    "  function show(k, c) {\n"
    "    period = k, fig = c;\n"
    "    var cl = classes(k, c);\n"
    "    units.setStyle(function (f) { return {fillColor: colour(value(f.properties, k, c), cl)}; });\n"
    "    draw();\n"
    "    document.getElementById('when').textContent = k === 0 ? D.all_label : D.periods[k - 1].label;\n"
    "    var lg = '<b>' + (k === 0 || !D.has_periods ? F[c].all : F[c].period) + '</b>';\n"
    "    lg += '<div><i style=\"background:#fff\"></i>' + (cl.low < 0 ? '0 or fewer' : '0') + '</div>';\n"
    "    for (var i = 0; i < cl.breaks.length; i++)\n"
    "      lg += '<div><i style=\"background:' + cl.colours[i] + '\"></i>' + fmt(i ? cl.breaks[i - 1] + 1 : cl.vmin) "
    "+\n"
    "            ' &ndash; ' + fmt(cl.breaks[i]) + '</div>';\n"
    "    lg += '<div><i style=\"background:#d9d9d9\"></i>' + esc(D.no_data) + '</div>';\n"
    "    if (!D.has_periods && k > 0) lg += '<div class=\"note\">' + esc(D.no_periods) + '</div>';\n"
    "    lg += '<b>Flows in ' + (k === 0 ? 'all periods' : 'the period') + '</b>';\n"
    "    lg += '<div><i style=\"background:' + DISPLACED + '\"></i>displaced</div>';\n"
    "    lg += '<div><i style=\"background:' + RETURNED + '\"></i>returned</div>';\n"
    "    lg += '<div>arrow width: up to ' + fmt(amax) + ' individuals; ring: within one unit</div>';\n"
    "    document.getElementById('legend').innerHTML = lg;\n"
    "    document.body.setAttribute('data-period', String(k));\n"
    "    document.body.setAttribute('data-figure', String(c));\n"
    "  }\n"
    "  map.on('zoomend', draw);\n"
    "  var slider = document.getElementById('slider'), select = document.getElementById('figure');\n"
    "  slider.max = String(D.periods.length);\n"
    "  var m = /period=(\\d+)/.exec(location.hash), start = m ? Math.min(+m[1], D.periods.length) : D.periods.length;\n"
    "  var mf = /figure=(\\d)/.exec(location.hash), f0 = mf ? Math.min(+mf[1], 2) : D.figure0;\n"
    "  slider.value = String(start);\n"
    "  select.value = String(f0);\n"
    "  slider.addEventListener('input', function () { show(+slider.value, +select.value); });\n"
    "  select.addEventListener('change', function () { show(+slider.value, +select.value); });\n"
    "  show(start, f0);\n"
    "  document.body.setAttribute('data-units', String(units.getLayers().length));\n"
    "  document.body.setAttribute('data-countries', String(D.countries.features.length));\n"
    "  document.body.setAttribute('data-country-names', String(names));\n"
    "  document.body.setAttribute('data-ready', '1');\n"
    "})();\n";

static const char page_css[] =
    "html,body{margin:0;height:100%;font:13px/1.35 'DejaVu Sans',Arial,sans-serif}#map{position:absolute;top:0;"
    "bottom:0;left:0;right:0;background:#eef0f2}"
    ".panel{position:absolute;z-index:1000;background:rgba(255,255,255,.93);padding:8px 10px;border-radius:4px;"
    "box-shadow:0 1px 4px rgba(0,0,0,.3)}#head{top:10px;left:50px;max-width:480px}#head h1{font-size:16px;margin:0}"
    "#head p{margin:2px 0}#slider{width:100%}#legend{bottom:24px;right:10px}#legend i{display:inline-block;width:14px;"
    "height:12px;margin-right:6px;border:1px solid #999;vertical-align:middle}#legend .note{max-width:230px;"
    "color:#555;font-size:11px}.leaflet-popup-content th{text-align:left;padding-top:4px}"
    ".country span{position:absolute;transform:translate(-50%,-50%);white-space:nowrap;font-style:italic;"
    "font-size:12px;letter-spacing:.08em;color:#7a7a7a;text-shadow:0 0 3px #f1efe8,0 0 3px #f1efe8}\n";

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
    char start[11], end[11]; /* YYYY-MM-DD */
} period;

/* A date field as YYYY-MM-DD (OGR reads GeoPackage dates as "2016/10/17"). */
static void date_field(OGRFeatureH f, const char *field, char date[11])
{
    snprintf(date, 11, "%.10s", str_field(f, field));
    for (char *c = date; *c; c++)
        if (*c == '/') *c = '-';
}

static int period_of(const period *p, int n, const char *start)
{
    for (int i = 0; i < n; i++)
        if (strcmp(p[i].start, start) == 0) return i;
    return -1;
}

/* The period of the slider a flow's period falls in: the first that
 * overlaps it (the periods layer cuts the first and last calendar periods
 * to the job's from..as_of; the flows keep them whole). -1: none. */
static int period_over(const period *p, int n, const char *start, const char *end)
{
    for (int i = 0; i < n; i++)
        if (strcmp(p[i].start, end) <= 0 && strcmp(p[i].end, start) >= 0) return i;
    return -1;
}

static int cmp_period(const void *a, const void *b)
{
    return strcmp(((const period *)a)->start, ((const period *)b)->start);
}

/* The distinct periods of a layer (period_start, period_end), in order. */
static int layer_periods(OGRLayerH layer, period *p)
{
    int n = 0;
    OGRFeatureH f;
    if (!layer) return 0;
    OGR_L_ResetReading(layer);
    while ((f = OGR_L_GetNextFeature(layer))) {
        period q;
        date_field(f, "period_start", q.start);
        date_field(f, "period_end", q.end);
        if (q.start[0] && n < MAX_PERIODS && period_of(p, n, q.start) < 0) p[n++] = q;
        OGR_F_Destroy(f);
    }
    qsort(p, (size_t)n, sizeof *p, cmp_period);
    return n;
}

/* A period as "2016-10-17 to 2016-10-31". */
static void period_label(const period *p, char text[32]) { snprintf(text, 32, "%.10s to %.10s", p->start, p->end); }

static int unit_of(char **pcode, int nu, const char *code)
{
    for (int u = 0; u < nu; u++)
        if (strcmp(pcode[u], code) == 0) return u;
    return -1;
}

/* The classes of one figure in the job's scheme (df__classes_for), as the
 * pictures and QGIS draw them: class c up to breaks[c], the last up to the
 * largest value; low: the smallest value (snapshot tables: new figures can
 * be negative). 0 ok, -1 out of memory. */
static int json_classes(out *o, const df_job *job, const double *v, size_t n)
{
    double breaks[DF__MAX_BREAKS + 1], top = 0, low = 0, least = 0;
    int nb = 0;
    if (df__classes_for(job, v, (int)n, breaks, &nb) != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        if (v[i] > 0) top = fmax(top, v[i]), low = low > 0 ? fmin(low, v[i]) : v[i];
        if (!isnan(v[i])) least = fmin(least, v[i]);
    }
    int k = top > 0 ? nb + 1 : 0;
    breaks[nb] = nb > 0 ? fmax(top, breaks[nb - 1]) : top;
    put(o, "{\"breaks\":[");
    for (int c = 0; c < k; c++) putf(o, "%s%.15g", c ? "," : "", breaks[c]);
    if (k > 1 && low > breaks[0]) low = 1; /* the job's own breaks: the first class is empty, from 1 */
    putf(o, "],\"vmin\":%.15g,\"low\":%.15g,\"colours\":[", low, least);
    for (int c = 0; c < k; c++) putf(o, "%s\"%s\"", c ? "," : "", df__class_hex(c, k));
    put(o, "]}");
    return 0;
}

/* ---- the neighbouring countries ------------------------------------------------- */

/* An OGR geometry as GEOS in *gg (NULL when GEOS cannot read it); -1 out
 * of memory (else the country names would move: a different page). */
static int to_geos(df_ctx *ctx, OGRGeometryH g, GEOSGeometry **gg)
{
    size_t n = (size_t)OGR_G_WkbSize(g);
    unsigned char *wkb = df__malloc(n);
    *gg = NULL;
    if (!wkb) return -1;
    if (OGR_G_ExportToWkb(g, wkbNDR, wkb) == OGRERR_NONE) *gg = GEOSGeomFromWKB_buf_r(ctx->geos, wkb, n);
    free(wkb);
    return 0;
}

static void json_geos(df_ctx *ctx, out *o, const GEOSGeometry *g)
{
    size_t n = 0;
    unsigned char *wkb = GEOSGeomToWKB_buf_r(ctx->geos, g, &n);
    OGRGeometryH og = NULL;
    if (wkb && OGR_G_CreateFromWkb(wkb, NULL, &og, (int)n) == OGRERR_NONE) {
        json_geometry(o, og, 0);
        OGR_G_DestroyGeometry(og);
    } else {
        put(o, "null");
    }
    GEOSFree_r(ctx->geos, wkb);
}

/* The largest polygon of g (a polygon or a collection of them). */
static const GEOSGeometry *largest_part(df_ctx *ctx, const GEOSGeometry *g)
{
    const GEOSGeometry *best = NULL;
    double best_area = 0;
    int n = GEOSGetNumGeometries_r(ctx->geos, g);
    for (int i = 0; i < n; i++) {
        const GEOSGeometry *part = GEOSGetGeometryN_r(ctx->geos, g, i);
        double a = 0;
        if (GEOSArea_r(ctx->geos, part, &a) == 1 && a > best_area) best = part, best_area = a;
    }
    return best;
}

/* The countries the PNG maps draw (df__countries_load), clipped to a box
 * around the view (the map can be panned and zoomed out a little) and
 * simplified for its scale; each with the place of its name: inside the
 * country, in the view, off every unit (land = the units' union), or none. */
static df_status json_countries(df_ctx *ctx, out *o, const double bbox[4], const GEOSGeometry *land)
{
    df__countries c = {0};
    df_status st = df__countries_load(ctx, &c);
    if (st != DF_OK) return st;
    double w = bbox[2] - bbox[0], h = bbox[3] - bbox[1], pad = fmax(w, h) * 0.75 + 0.2;
    double tol = fmax(SIMPLIFY, fmax(w, h) / 1500); /* about a pixel at the widest view */
    int nf = 0;
    for (int i = 0; i < c.n && st == DF_OK; i++) {
        GEOSGeometry *clip =
            GEOSClipByRect_r(ctx->geos, c.geom[i], bbox[0] - pad, bbox[1] - pad, bbox[2] + pad, bbox[3] + pad);
        GEOSGeometry *s = clip ? GEOSTopologyPreserveSimplify_r(ctx->geos, clip, tol) : NULL;
        if (!s || GEOSisEmpty_r(ctx->geos, s) != 0) {
            if (clip) GEOSGeom_destroy_r(ctx->geos, clip);
            if (s) GEOSGeom_destroy_r(ctx->geos, s);
            continue;
        }
        /* where the name goes: in the view, off the units */
        GEOSGeometry *in = GEOSClipByRect_r(ctx->geos, clip, bbox[0], bbox[1], bbox[2], bbox[3]);
        GEOSGeometry *rest = !in    ? NULL
                             : land ? GEOSDifference_r(ctx->geos, in, land)
                                    : GEOSGeom_clone_r(ctx->geos, in);
        /* room for the name: what stays of it shrunk by half a name's height */
        GEOSGeometry *off = rest ? GEOSBuffer_r(ctx->geos, rest, -fmax(w, h) / 90, 4) : NULL;
        const GEOSGeometry *part = off && !GEOSisEmpty_r(ctx->geos, off) ? largest_part(ctx, off) : NULL;
        GEOSGeometry *pt = part ? GEOSPointOnSurface_r(ctx->geos, part) : NULL;
        double x, y;
        putf(o, "%s{\"type\":\"Feature\",\"properties\":{\"name\":", nf++ ? ",\n" : "");
        if (c.name[i])
            json_str(o, c.name[i]);
        else
            put(o, "null");
        if (pt && GEOSGeomGetX_r(ctx->geos, pt, &x) == 1 && GEOSGeomGetY_r(ctx->geos, pt, &y) == 1)
            putf(o, ",\"at\":[%.3f,%.3f]", x, y);
        else
            put(o, ",\"at\":null");
        put(o, "},\"geometry\":");
        json_geos(ctx, o, s);
        put(o, "}");
        GEOSGeometry *own[] = {clip, s, in, rest, off, pt};
        for (size_t k = 0; k < sizeof own / sizeof *own; k++)
            if (own[k]) GEOSGeom_destroy_r(ctx->geos, own[k]);
    }
    df__countries_free(ctx, &c);
    return st;
}

/* ---- the page ------------------------------------------------------------------- */

/* The units' figures: per unit its pcode, and per period (from the periods
 * layer) new displaced, new returned and still displaced at the end. */
typedef struct {
    int nu, np, has_periods;
    char **pcode;
    double *fig;        /* [(k * nu + u) * 3 + c]: period k, unit u, figure c */
    unsigned char *row; /* [k * nu + u]: the periods layer has the cell */
    double *all;        /* [c * nu + u]: the units layer's cumulative figures; NAN: withheld */
} figures;

static const char *const figure_field[3] = {"displaced", "returned", "still_displaced"};
static const char *const period_field[3] = {"new_displaced", "new_returned", "still_displaced"};

static void figures_free(figures *fg)
{
    for (int u = 0; fg->pcode && u < fg->nu; u++) free(fg->pcode[u]);
    free(fg->pcode), free(fg->fig), free(fg->row), free(fg->all);
}

/* Read the units (pcodes, cumulative figures) and the periods layer's cells. */
static df_status read_figures(df_ctx *ctx, OGRLayerH units, OGRLayerH per, const period *p, int np, figures *fg)
{
    int nu = (int)OGR_L_GetFeatureCount(units, TRUE), i = 0;
    OGRFeatureH f;
    fg->np = np, fg->has_periods = per != NULL;
    fg->pcode = calloc((size_t)nu + 1, sizeof *fg->pcode);
    fg->fig = calloc(((size_t)np * (size_t)nu + 1) * 3, sizeof *fg->fig);
    fg->row = calloc((size_t)np * (size_t)nu + 1, 1);
    fg->all = calloc(3 * ((size_t)nu + 1), sizeof *fg->all);
    if (!fg->pcode || !fg->fig || !fg->row || !fg->all) return df__error(ctx, DF_ENOMEM, "out of memory");
    OGR_L_ResetReading(units);
    for (; i < nu && (f = OGR_L_GetNextFeature(units)); i++) {
        for (int c = 0; c < 3; c++) {
            int k = OGR_F_GetFieldIndex(f, figure_field[c]);
            fg->all[(size_t)c * nu + i] =
                k >= 0 && OGR_F_IsFieldSetAndNotNull(f, k) ? (double)OGR_F_GetFieldAsInteger64(f, k) : NAN;
        }
        fg->pcode[i] = df__strdup(str_field(f, "adm_pcode"));
        OGR_F_Destroy(f);
        if (!fg->pcode[i]) { /* else the unit would silently get no figures */
            fg->nu = i;
            return df__error(ctx, DF_ENOMEM, "out of memory");
        }
    }
    fg->nu = nu = i;
    if (!per) return DF_OK;
    static const char *const skip[] = {"OGR_GEOMETRY", NULL}; /* the unit's shape in every period: not needed */
    OGR_L_SetIgnoredFields(per, (const char **)skip);
    OGR_L_ResetReading(per);
    while ((f = OGR_L_GetNextFeature(per))) {
        char start[11];
        date_field(f, "period_start", start);
        int k = period_of(p, np, start), u = unit_of(fg->pcode, nu, str_field(f, "adm_pcode"));
        if (k >= 0 && u >= 0) {
            fg->row[(size_t)k * nu + u] = 1;
            for (int c = 0; c < 3; c++)
                fg->fig[((size_t)k * nu + u) * 3 + c] =
                    (double)OGR_F_GetFieldAsInteger64(f, OGR_F_GetFieldIndex(f, period_field[c]));
        }
        OGR_F_Destroy(f);
    }
    OGR_L_SetIgnoredFields(per, NULL);
    return DF_OK;
}

/* The classes of each figure: over every period's cells (one scale, so
 * the periods compare), and over the cumulative figures. */
static df_status json_all_classes(df_ctx *ctx, out *o, const df_job *job, const figures *fg)
{
    size_t n = (size_t)fg->np * (size_t)fg->nu;
    double *v = malloc((n + (size_t)fg->nu + 1) * sizeof *v);
    if (!v) return df__error(ctx, DF_ENOMEM, "out of memory");
    int failed = 0;
    put(o, ",\n\"classes\":[");
    for (int c = 0; c < 3 && !failed; c++) {
        for (size_t i = 0; i < n; i++) {
            size_t u = i % (size_t)fg->nu;
            v[i] = isnan(fg->all[(size_t)c * fg->nu + u]) ? NAN : fg->fig[i * 3 + c];
        }
        put(o, c ? "," : "");
        failed = json_classes(o, job, v, n) != 0;
    }
    put(o, "],\n\"classes_all\":[");
    for (int c = 0; c < 3 && !failed; c++) {
        for (int u = 0; u < fg->nu; u++) v[u] = fg->all[(size_t)c * fg->nu + u]; /* NAN: withheld, in no class */
        put(o, c ? "," : "");
        failed = json_classes(o, job, v, (size_t)fg->nu) != 0;
    }
    put(o, "]");
    free(v);
    return failed ? df__error(ctx, DF_ENOMEM, "out of memory") : DF_OK;
}

static void json_text(out *o, const char *key, const char *value)
{
    putf(o, ",\"%s\":", key);
    json_str(o, value);
}

static df_status write_page(df_ctx *ctx, out *o, GDALDatasetH ds, const df__webmap *w)
{
    OGRLayerH units = GDALDatasetGetLayerByName(ds, w->layer), flows = GDALDatasetGetLayerByName(ds, "flows");
    OGRLayerH base = w->base_layer ? GDALDatasetGetLayerByName(ds, w->base_layer) : NULL;
    /* the figures per period (none in publish mode: the bundle leaves them out) */
    OGRLayerH per = GDALDatasetGetLayerByName(ds, "periods");
    if (!units) return df__error(ctx, DF_EGDAL, "map.html: %s has no layer %s", w->gpkg, w->layer);
    static period p[MAX_PERIODS];
    int np = layer_periods(per ? per : flows, p);
    figures fg = {0};
    GEOSGeometry *land = NULL;
    double flow_max = 0, arrow_max = 0;
    df_status st = read_figures(ctx, units, per, p, np, &fg);
    if (st != DF_OK) goto done;
    if (flows) {
        OGRFeatureH f;
        OGR_L_ResetReading(flows);
        while ((f = OGR_L_GetNextFeature(flows))) {
            double v = (double)OGR_F_GetFieldAsInteger64(f, OGR_F_GetFieldIndex(f, "individuals"));
            flow_max = fmax(flow_max, v);
            if (strcmp(str_field(f, "kind"), "intra") != 0) arrow_max = fmax(arrow_max, v);
            OGR_F_Destroy(f);
        }
    }

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
           "<p><select id=\"figure\" aria-label=\"figure\"><option value=\"0\">New displacement</option>"
           "<option value=\"1\">New returns</option><option value=\"2\">Still displaced</option></select></p>"
           "<input id=\"slider\" type=\"range\" min=\"0\" max=\"0\" step=\"1\" value=\"0\" aria-label=\"period\">"
           "<p>Period: <b id=\"when\"></b></p></div>\n<div id=\"legend\" class=\"panel\"></div>\n<script>\n");
    put(o, licence);
    fwrite(w->leaflet_js, 1, strlen(w->leaflet_js), o->f);
    put(o, "\n</script>\n<script>\nwindow.DF = {\"title\":");
    json_str(o, w->title);
    json_text(o, "subtitle", w->subtitle);
    json_text(o, "credits", w->credits);
    json_text(o, "figure", w->figure_label);
    int figure0 = 0; /* the figure at open: the job's field */
    for (int c = 0; c < 3; c++)
        if (w->field && strcmp(w->field, figure_field[c]) == 0) figure0 = c;
    putf(o, ",\"figure0\":%d", figure0);
    json_text(o, "no_data", w->no_data);
    json_text(o, "all_label", w->all_label);
    json_text(o, "no_periods", "Figures per period are not published: the units show the whole range.");
    putf(o, ",\"has_periods\":%s,\"bbox\":[%.4f,%.4f,%.4f,%.4f],\"flow_max\":%.15g,\"arrow_max\":%.15g,\n\"periods\":[",
         fg.has_periods ? "true" : "false", w->bbox[0], w->bbox[1], w->bbox[2], w->bbox[3], flow_max > 0 ? flow_max : 1,
         arrow_max > 0 ? arrow_max : 1);
    for (int k = 0; k < np; k++) {
        char label[32];
        period_label(&p[k], label);
        putf(o, "%s{\"label\":\"%s\",\"start\":\"%s\",\"end\":\"%s\"}", k ? "," : "", label, p[k].start, p[k].end);
    }
    put(o, "]");
    if ((st = json_all_classes(ctx, o, w->job, &fg)) != DF_OK) goto done;
    put(o, ",\n\"units\":{\"type\":\"FeatureCollection\",\"features\":[\n");
    OGRFeatureH f;
    GEOSGeometry **parts = calloc((size_t)fg.nu + 1, sizeof *parts);
    int nparts = 0;
    if (!parts) {
        st = df__error(ctx, DF_ENOMEM, "out of memory");
        goto done;
    }
    OGR_L_ResetReading(units);
    for (int i = 0; st == DF_OK && i < fg.nu && (f = OGR_L_GetNextFeature(units)); i++) {
        OGRGeometryH g = OGR_F_GetGeometryRef(f);
        putf(o, "%s{\"type\":\"Feature\",\"properties\":{\"pcode\":", i ? ",\n" : "");
        json_str(o, str_field(f, "adm_pcode"));
        put(o, ",\"name\":");
        json_str(o, str_field(f, "adm_name"));
        /* [maps] labels = en, ar (issue 13 item 7): the layer's adm_name_<item> fields, in the popup */
        int nl = 0;
        for (int c = 0; c < OGR_F_GetFieldCount(f); c++) {
            const char *fn = OGR_Fld_GetNameRef(OGR_F_GetFieldDefnRef(f, c));
            if (strncmp(fn, "adm_name_", 9) != 0 || !OGR_F_IsFieldSetAndNotNull(f, c)) continue;
            put(o, nl++ ? "," : ",\"labels\":[");
            json_str(o, OGR_F_GetFieldAsString(f, c));
        }
        if (nl) put(o, "]");
        for (int c = 0; c < 3; c++) putf(o, ",\"%s\":", figure_field[c]), json_int_field(o, f, figure_field[c]);
        int any = 0;
        for (int k = 0; k < fg.np && fg.has_periods; k++) any |= fg.row[(size_t)k * fg.nu + i];
        if (any) { /* per period: [new displaced, new returned, still displaced at the end] */
            put(o, ",\"f\":[");
            for (int k = 0; k < fg.np; k++) {
                const double *v = &fg.fig[((size_t)k * fg.nu + i) * 3];
                putf(o, "%s[%.15g,%.15g,%.15g]", k ? "," : "", v[0], v[1], v[2]);
            }
            put(o, "]");
        }
        put(o, "},\"geometry\":");
        if (g) {
            OGRGeometryH s = OGR_G_SimplifyPreserveTopology(g, SIMPLIFY);
            json_geometry(o, s ? s : g, 0);
            GEOSGeometry *gg = NULL;
            if (to_geos(ctx, s ? s : g, &gg) != 0) st = df__error(ctx, DF_ENOMEM, "out of memory");
            if (gg) parts[nparts++] = gg;
            if (s) OGR_G_DestroyGeometry(s);
        } else {
            put(o, "null");
        }
        put(o, "}");
        OGR_F_Destroy(f);
    }
    if (st == DF_OK && nparts > 0) { /* the land the units cover: country names stay off it */
        GEOSGeometry *coll = GEOSGeom_createCollection_r(ctx->geos, GEOS_GEOMETRYCOLLECTION, parts, (unsigned)nparts);
        if (coll) {
            land = GEOSUnaryUnion_r(ctx->geos, coll);
            GEOSGeom_destroy_r(ctx->geos, coll); /* owns the parts */
        } else {
            for (int i = 0; i < nparts; i++) GEOSGeom_destroy_r(ctx->geos, parts[i]);
        }
    }
    if (st != DF_OK) /* out of memory: the parts were not handed to a collection */
        for (int i = 0; i < nparts; i++) GEOSGeom_destroy_r(ctx->geos, parts[i]);
    free(parts);
    if (st != DF_OK) goto done;
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
    put(o, "]},\n\"countries\":{\"type\":\"FeatureCollection\",\"features\":[\n");
    if ((st = json_countries(ctx, o, w->bbox, land)) != DF_OK) goto done;
    put(o, "]},\n\"flows\":{\"type\":\"FeatureCollection\",\"features\":[\n");
    int nf = 0;
    if (flows) { /* the ends only: the page draws the arcs and rings at the zoom of the moment */
        OGR_L_ResetReading(flows);
        while ((f = OGR_L_GetNextFeature(flows))) {
            OGRGeometryH g = OGR_F_GetGeometryRef(f);
            char start[11], end[11];
            date_field(f, "period_start", start);
            date_field(f, "period_end", end);
            int k = period_over(p, np, start, end), within = strcmp(str_field(f, "kind"), "intra") == 0;
            if (g && OGR_G_GetPointCount(g) >= 2) {
                int last = OGR_G_GetPointCount(g) - 1;
                putf(o, "%s{\"type\":\"Feature\",\"properties\":{\"p\":%d,\"from\":", nf++ ? ",\n" : "", k + 1);
                json_str(o, str_field(f, "origin_name"));
                put(o, ",\"to\":");
                json_str(o, str_field(f, "dest_name"));
                put(o, ",\"status\":");
                json_str(o, str_field(f, "status"));
                putf(o, ",\"period\":\"%s to %s\",\"individuals\":", start, end);
                json_int_field(o, f, "individuals");
                put(o, ",\"families\":");
                json_int_field(o, f, "families");
                if (within) /* a loop through the unit's point: the ring goes there */
                    putf(o, "},\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.4f,%.4f]}}", OGR_G_GetX(g, 0),
                         OGR_G_GetY(g, 0));
                else
                    putf(o, "},\"geometry\":{\"type\":\"LineString\",\"coordinates\":[[%.4f,%.4f],[%.4f,%.4f]]}}",
                         OGR_G_GetX(g, 0), OGR_G_GetY(g, 0), OGR_G_GetX(g, last), OGR_G_GetY(g, last));
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
    if (land) GEOSGeom_destroy_r(ctx->geos, land);
    figures_free(&fg);
    return st;
}

/* A whole file, or NULL: unreadable, or *oom set when out of memory (not a
 * missing Leaflet to install). */
static char *slurp(const char *path, int *oom)
{
    FILE *f = fopen(path, "rb");
    char *s = NULL;
    long n;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        s = malloc((size_t)n + 1);
        if (s) {
            size_t got = fread(s, 1, (size_t)n, f);
            s[got] = '\0';
        } else {
            *oom = 1;
        }
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
    int oom = 0;
    char *js = slurp(js_path, &oom), *css = slurp(css_path, &oom);
    df_status st = DF_OK;
    GDALDatasetH ds = NULL;
    if (oom) {
        st = df__error(ctx, DF_ENOMEM, "out of memory reading Leaflet");
        goto done;
    }
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
