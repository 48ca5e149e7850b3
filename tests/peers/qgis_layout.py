#!/usr/bin/python3
"""A dispflow bundle's project.qgs as a GIS officer prints it (issue 14 items 1-2).

usage: qgis_layout.py BUNDLE_DIR OUT_DIR

Checks, printing one "ok ..." line each (exit 1 with "FAIL ..." otherwise):
  1. the project reads and its CRS is projected (the maps' UTM zone);
  2. the Temporal Controller is on at open (fixed range) on exactly one
     period, the latest of the flows, inside the project's range and step;
     at that time only that period's flows are drawn: the flows layer's
     temporal filter keeps the features OGR counts for that period, and a
     render at that time equals a render filtered to that period;
  3. the flows are categorised by status with width classes (rule-based);
  4. each label text appears once in QGIS's labelling results;
  5. the print layout "Situation map (A4)" is A4 landscape, holds a map,
     a legend filtered to the map, a scale bar, a north arrow and the texts,
     and exports to PDF and PNG;
  6. the Atlas runs over the admin-1 units with displaced > 0 (counted with
     OGR) and every page exports to PNG;
  7. (issue 14 item 3) the layer of figures per period, when the bundle has
     one, is temporal on period_start / period_end, and at open its filter
     keeps exactly the rows OGR counts for the latest period (one per unit),
     so that the choropleth moves with the flows.
Run with Debian's /usr/bin/python3 and QT_QPA_PLATFORM=offscreen.
"""
import os
import sys

from osgeo import ogr
from qgis.core import (
    QgsApplication,
    QgsDateTimeRange,
    QgsLayoutExporter,
    QgsLayoutItemLabel,
    QgsLayoutItemLegend,
    QgsLayoutItemMap,
    QgsLayoutItemPicture,
    QgsLayoutItemScaleBar,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsProject,
    QgsVectorLayerTemporalContext,
)
from qgis.PyQt.QtCore import QDateTime, QSize, Qt
from qgis.PyQt.QtGui import QColor

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    sys.stdout.flush()
    if not cond:
        failures.append(what)


def layer_named(project, source_suffix):
    for layer in project.mapLayers().values():
        if layer.source().endswith(source_suffix):
            return layer
    return None


def render(project, layers, extent, time_range=None):
    s = QgsMapSettings()
    s.setLayers(layers)
    s.setDestinationCrs(project.crs())
    s.setOutputSize(QSize(900, 700))
    s.setExtent(extent)
    s.setBackgroundColor(QColor("white"))
    if time_range is not None:
        s.setIsTemporal(True)
        s.setTemporalRange(time_range)
    job = QgsMapRendererSequentialJob(s)
    job.start()
    job.waitForFinished()
    return job.renderedImage(), job.takeLabelingResults()


def check_time(project, bundle, out):
    flows = layer_named(project, "layername=flows")
    mode, ok = project.readNumEntry("TemporalControllerWidget", "/NavigationMode", 0)
    start = QDateTime.fromString(project.readEntry("TemporalControllerWidget", "/StartDateTime")[0], Qt.ISODate)
    end = QDateTime.fromString(project.readEntry("TemporalControllerWidget", "/EndDateTime")[0], Qt.ISODate)
    check(ok and mode == 2 and start.isValid() and end > start,
          "Temporal Controller at open: mode %d, %s .. %s" % (mode, start.toString(Qt.ISODate), end.toString(Qt.ISODate)))
    ts = project.timeSettings()
    rng = ts.temporalRange()
    check(rng.begin() <= start and end <= rng.end().addDays(1) and ts.timeStep() > 0,
          "project range %s .. %s, step %g unit %d"
          % (rng.begin().toString(Qt.ISODate), rng.end().toString(Qt.ISODate), ts.timeStep(), ts.timeStepUnit()))
    if flows is None:
        return
    # the latest period, by OGR
    ds = ogr.Open(os.path.join(bundle, "layers.gpkg"))
    res = ds.ExecuteSQL("SELECT MAX(period_start) FROM flows")
    last = res.GetNextFeature().GetField(0).replace("/", "-")
    ds.ReleaseResultSet(res)
    lyr = ds.GetLayerByName("flows")
    lyr.SetAttributeFilter("period_start = '%s'" % last)
    want = lyr.GetFeatureCount()
    lyr.SetAttributeFilter(None)
    total = lyr.GetFeatureCount()
    check(start.toString("yyyy-MM-dd") == last, "at open the latest period %s" % last)
    at_open = QgsDateTimeRange(start, end)
    expr = flows.temporalProperties().createFilterString(QgsVectorLayerTemporalContext(), at_open)
    got = sum(1 for _ in flows.getFeatures(expr))
    check(got == want and got < total, "flows at open: %d of %d (OGR: %d in %s)" % (got, total, want, last))
    # the render at that time equals the render of that period alone
    extent = project.viewSettings().defaultViewExtent()
    img_t, _ = render(project, [flows], extent, at_open)
    flows.setSubsetString("period_start = '%s'" % last)
    img_f, _ = render(project, [flows], extent)
    flows.setSubsetString("")
    img_all, _ = render(project, [flows], extent)
    img_t.save(os.path.join(out, "flows_at_open.png"))
    check(img_t == img_f, "render at open == render of %s only" % last)
    check(img_t != img_all, "render at open != render of every period")
    r = flows.renderer()
    rules = r.rootRule().children() if r.type() == "RuleRenderer" else []
    check([c.label() for c in rules] == ["Displaced (individuals)", "Returned (individuals)"]
          and all(len(c.children()) >= 2 for c in rules),
          "flows: rule-based by status, width classes %s" % [len(c.children()) for c in rules])


def check_periods(project, bundle):
    periods = layer_named(project, "layername=periods")
    if periods is None:
        return
    tp = periods.temporalProperties()
    check(tp.isActive() and tp.startField() == "period_start" and tp.endField() == "period_end",
          "periods temporal: active=%s %s..%s" % (tp.isActive(), tp.startField(), tp.endField()))
    start = QDateTime.fromString(project.readEntry("TemporalControllerWidget", "/StartDateTime")[0], Qt.ISODate)
    end = QDateTime.fromString(project.readEntry("TemporalControllerWidget", "/EndDateTime")[0], Qt.ISODate)
    ds = ogr.Open(os.path.join(bundle, "layers.gpkg"))
    res = ds.ExecuteSQL("SELECT MAX(period_start), COUNT(DISTINCT adm_pcode), COUNT(*) FROM periods")
    f = res.GetNextFeature()
    last, units, total = f.GetField(0).replace("/", "-"), f.GetField(1), f.GetField(2)
    ds.ReleaseResultSet(res)
    lyr = ds.GetLayerByName("periods")
    lyr.SetAttributeFilter("period_start = '%s'" % last)
    want = lyr.GetFeatureCount()
    expr = tp.createFilterString(QgsVectorLayerTemporalContext(), QgsDateTimeRange(start, end))
    got = sorted(ft["adm_pcode"] for ft in periods.getFeatures(expr))
    check(got == sorted(set(got)) and len(got) == want == units and got and total > units,
          "periods at open: %d rows of %d, one per unit (OGR: %d units, %d in %s)" % (len(got), total, units, want, last))


def check_labels(project, out):
    layers = [l for l in (layer_named(project, "layername=adm%d" % k) for k in (1, 2, 3)) if l is not None]
    _, results = render(project, layers, project.viewSettings().defaultViewExtent())
    texts = [lab.labelText for lab in results.allLabels()]
    dup = sorted(set(t for t in texts if texts.count(t) > 1))
    check(len(texts) > 0 and not dup, "labels: %d, each once (repeated: %s)" % (len(texts), dup))


def check_layout(project, bundle, out):
    layout = project.layoutManager().layoutByName("Situation map (A4)")
    check(layout is not None, "print layout found")
    if layout is None:
        return
    page = layout.pageCollection().page(0)
    size = page.pageSize()
    check(abs(size.width() - 297) < 0.1 and abs(size.height() - 210) < 0.1, "A4 landscape %gx%g mm"
          % (size.width(), size.height()))
    items = layout.items()
    kinds = {k: [i for i in items if isinstance(i, k)] for k in
             (QgsLayoutItemMap, QgsLayoutItemLegend, QgsLayoutItemScaleBar, QgsLayoutItemPicture, QgsLayoutItemLabel)}
    check(len(kinds[QgsLayoutItemMap]) == 1, "one map")
    legend = kinds[QgsLayoutItemLegend]
    check(len(legend) == 1 and legend[0].legendFilterByMapEnabled(), "legend filtered to the map")
    check(len(kinds[QgsLayoutItemScaleBar]) == 1, "scale bar")
    check(any(p.northMode() is not None and p.linkedMap() is not None for p in kinds[QgsLayoutItemPicture]),
          "north arrow linked to the map")
    texts = " | ".join(l.currentText() for l in kinds[QgsLayoutItemLabel])
    check("as of" in texts and "Source:" in texts and "United Nations" in texts, "texts: %s" % texts[:300])
    exporter = QgsLayoutExporter(layout)
    pdf = os.path.join(out, "layout.pdf")
    png = os.path.join(out, "layout.png")
    r1 = exporter.exportToPdf(pdf, QgsLayoutExporter.PdfExportSettings())
    s = QgsLayoutExporter.ImageExportSettings()
    s.dpi = 100
    r2 = exporter.exportToImage(png, s)
    check(r1 == QgsLayoutExporter.Success and os.path.getsize(pdf) > 10000, "layout to PDF (%d)" % r1)
    check(r2 == QgsLayoutExporter.Success and os.path.exists(png), "layout to PNG (%d)" % r2)
    # the Atlas
    atlas = layout.atlas()
    ds = ogr.Open(os.path.join(bundle, "layers.gpkg"))
    adm1 = ds.GetLayerByName("adm1")
    adm1.SetAttributeFilter("displaced > 0")
    want = adm1.GetFeatureCount()
    check(atlas.enabled() and atlas.coverageLayer() is not None, "Atlas on %s"
          % (atlas.coverageLayer().name() if atlas.coverageLayer() else None))
    if not atlas.enabled():
        return
    atlas.beginRender()
    pages = atlas.count()
    check(pages == want, "Atlas pages %d = admin-1 units with people %d" % (pages, want))
    exported = 0
    for i in range(pages):
        atlas.seekTo(i)
        name = os.path.join(out, "atlas_%02d.png" % (i + 1))
        if QgsLayoutExporter(layout).exportToImage(name, s) == QgsLayoutExporter.Success:
            exported += 1
    atlas.endRender()
    check(exported == pages, "Atlas pages exported %d/%d" % (exported, pages))


def main(bundle, out):
    app = QgsApplication([], False)
    app.initQgis()
    project = QgsProject.instance()
    ok = project.read(os.path.join(bundle, "project.qgs"))
    check(ok, "project.qgs reads: %s" % project.error())
    crs = project.crs()
    check(crs.isValid() and not crs.isGeographic() and crs.authid().startswith("EPSG:32"), "project CRS %s"
          % crs.authid())
    check_time(project, bundle, out)
    check_periods(project, bundle)
    check_labels(project, out)
    check_layout(project, bundle, out)
    if failures:
        print("FAIL %d check(s): %s" % (len(failures), "; ".join(failures)))
    else:
        print("ok   all layout checks passed")
    sys.stdout.flush()
    os._exit(1 if failures else 0)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
