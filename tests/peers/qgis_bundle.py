#!/usr/bin/python3
"""Open a dispflow bundle in real QGIS (headless) as a GIS officer would.

usage: qgis_bundle.py BUNDLE_DIR RENDER.png
       qgis_bundle.py --pg "CONNINFO" SCHEMA BUNDLE_DIR

With --pg (issue 15 item 4): every vector layer of BUNDLE_DIR/layers.gpkg
opens from the PostGIS schema (QGIS's postgres provider), valid, in
EPSG:4326, with the GeoPackage's feature count and its default style, which
it reads out of the database's layer_styles, as in (1) below.

BUNDLE_DIR holds layers.gpkg, a density_<status>.tif and project.qgs.
Checks, printing one "ok ..." line each (exit 1 with "FAIL ..." otherwise):
  1. every vector layer of layers.gpkg opens valid in EPSG:4326 with the
     feature count OGR reads, and with its default style from layer_styles
     applied (choropleths graduated, flows not QGIS's plain single symbol);
  2. the raster opens valid in its own CRS;
  3. project.qgs reads, every layer valid and styled as in (1), the flows
     layer and the figures per period temporal on period_start / period_end;
  4. the project renders over its default view to RENDER.png, and the
     picture shows the choropleth colours (not blank).
Run with Debian's /usr/bin/python3 and QT_QPA_PLATFORM=offscreen.
"""
import os
import sys

from osgeo import gdal, ogr
from qgis.core import (
    QgsApplication,
    QgsFeatureRequest,
    QgsFeatureSource,
    QgsRectangle,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsProject,
    QgsRasterLayer,
    QgsVectorLayer,
    QgsVectorLayerTemporalProperties,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

failures = []

# YlOrRd, as engine/qgis.c writes the choropleth classes: the classes of the
# map pictures (up to five, the top one always the darkest) after a white
# class of its own for 0
CHOROPLETH = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"]


def choropleth_colours(colours):
    """White for 0, then ramp colours in ramp order ending with the darkest."""
    if colours[:1] == ["#ffffff"]:
        colours = colours[1:]
    idx = [CHOROPLETH.index(c) if c in CHOROPLETH else -1 for c in colours]
    return bool(idx) and -1 not in idx and idx == sorted(set(idx)) and idx[-1] == len(CHOROPLETH) - 1


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    sys.stdout.flush()
    if not cond:
        failures.append(what)


def ogr_layers(gpkg):
    """{layer name: (feature count, geometry type)} as OGR reads them."""
    ds = ogr.Open(gpkg)
    out = {}
    for i in range(ds.GetLayerCount()):
        lyr = ds.GetLayerByIndex(i)
        if lyr.GetName() != "layer_styles":
            out[lyr.GetName()] = (lyr.GetFeatureCount(), lyr.GetGeomType())
    return out


def styled(layer, name=None, outline_ok=False):
    """What the renderer says about the style: a short description, and
    whether it is the one dispflow stores (not QGIS's default). In the
    project (outline_ok), a level coarser than the finest choropleth is its
    boundaries and names: no fill, an outline, labels on (issue 14)."""
    r = layer.renderer()
    kind = r.type()
    name = name or layer.source().split("layername=")[-1]
    if outline_ok and name in ("adm1", "adm2") and kind == "singleSymbol":
        sl = r.symbol().symbolLayer(0)
        good = sl.fillColor().alpha() == 0 and sl.strokeWidth() > 0 and layer.labelsEnabled()
        return good, "boundaries: fill alpha %d, outline %g mm" % (sl.fillColor().alpha(), sl.strokeWidth())
    if name in ("adm1", "adm2", "adm3", "periods"):  # periods: issue 14 item 3, by still_displaced
        ranges = r.ranges() if kind == "graduatedSymbol" else []
        colours = [rg.symbol().color().name() for rg in ranges]
        attr = r.classAttribute() if kind == "graduatedSymbol" else ""
        good = kind == "graduatedSymbol" and choropleth_colours(colours)
        if name == "periods":
            good = good and attr == "still_displaced" and not layer.labelsEnabled()
        return good, "%s %s %s" % (kind, attr, ",".join(colours))
    if name == "flows":
        # issue 14: rule-based, by status, each with width classes of curved arrows
        rules = r.rootRule().children() if kind == "RuleRenderer" else []
        leaves = [c for rule in rules for c in rule.children()]
        arrows = all(c.symbol() and c.symbol().symbolLayer(0).layerType() == "ArrowLine" for c in leaves)
        widths = [round(c.symbol().symbolLayer(0).arrowWidth(), 2) for c in leaves] if arrows else []
        labels = [c.label() for c in rules]
        return (labels == ["Displaced (individuals)", "Returned (individuals)"] and arrows and len(leaves) >= 4
                and "individuals" in leaves[0].filterExpression()), "%s %s widths=%s" % (kind, labels, widths)
    sym = r.symbol() if kind == "singleSymbol" else None
    if name == "flow_nodes":
        dd = sym.symbolLayer(0).dataDefinedProperties().property(sym.symbolLayer(0).PropertySize) if sym else None
        expr = dd.expressionString() if dd else ""
        return "inflow" in expr, "%s size=%s" % (kind, expr)
    # records: small dark markers, not QGIS's random colour at 2 mm
    size = sym.size() if sym else 0
    return sym is not None and size < 1.5, "%s size=%g colour=%s" % (kind, size, sym.color().name() if sym else "")


def check_gpkg(bundle):
    gpkg = os.path.join(bundle, "layers.gpkg")
    counts = ogr_layers(gpkg)
    check(len(counts) >= 1, "layers.gpkg has layers: %s" % ", ".join(sorted(counts)))
    for name, (count, _) in sorted(counts.items()):
        layer = QgsVectorLayer("%s|layername=%s" % (gpkg, name), name, "ogr")
        check(layer.isValid(), "%s opens valid" % name)
        if not layer.isValid():
            continue
        check(layer.crs().authid() == "EPSG:4326", "%s CRS %s" % (name, layer.crs().authid()))
        check(layer.featureCount() == count, "%s features %d (OGR %d)" % (name, layer.featureCount(), count))
        good, desc = styled(layer)
        check(good, "%s default style from layer_styles: %s" % (name, desc))
        # the spatial index QGIS asks when it draws a part of the map (issue 12 item 2: the
        # records layer's is packed by dispflow, not by GDAL); a box query through it
        # finds what a scan of every feature finds
        check(layer.hasSpatialIndex() == QgsFeatureSource.SpatialIndexPresent, "%s has a spatial index" % name)
        ext = layer.extent()
        box = QgsRectangle(ext.xMinimum(), ext.yMinimum(), ext.center().x(), ext.center().y())
        hits = sum(1 for _ in layer.getFeatures(QgsFeatureRequest().setFilterRect(box)))
        scan = sum(1 for f in layer.getFeatures() if f.hasGeometry() and f.geometry().intersects(box))
        check(hits == scan, "%s box query: %d features, %d by a scan" % (name, hits, scan))
    return counts


def check_raster(bundle):
    tifs = sorted(f for f in os.listdir(bundle) if f.startswith("density_") and f.endswith(".tif"))
    if not tifs:
        return
    path = os.path.join(bundle, tifs[0])
    srs = gdal.Open(path).GetSpatialRef()
    want = "%s:%s" % (srs.GetAuthorityName(None), srs.GetAuthorityCode(None))
    layer = QgsRasterLayer(path, "density", "gdal")
    check(layer.isValid(), "%s opens valid" % tifs[0])
    check(layer.crs().authid() == want, "density CRS %s (file %s)" % (layer.crs().authid(), want))
    check(layer.renderer().type() == "singlebandpseudocolor", "density style %s" % layer.renderer().type())


def check_project(bundle, counts):
    project = QgsProject.instance()
    ok = project.read(os.path.join(bundle, "project.qgs"))
    check(ok, "project.qgs reads: %s" % project.error())
    layers = [n.layer() for n in project.layerTreeRoot().findLayers()]
    check(len(layers) == len(counts) + 1, "project has %d layers" % len(layers))
    # issue 14: the maps' UTM zone, not lon/lat
    check(project.crs().authid().startswith("EPSG:326") and not project.crs().isGeographic(),
          "project CRS %s" % project.crs().authid())
    ts = project.timeSettings()
    rng = ts.temporalRange()
    check(
        rng.begin().isValid() and rng.end() > rng.begin() and ts.timeStep() > 0,
        "project time: %s .. %s, step %g (unit %d)"
        % (rng.begin().toString("yyyy-MM-dd"), rng.end().toString("yyyy-MM-dd"), ts.timeStep(), ts.timeStepUnit()),
    )
    for layer in layers:
        check(layer is not None and layer.isValid(), "project layer %s valid" % (layer.name() if layer else "?"))
        if layer is None or not layer.isValid():
            continue
        if isinstance(layer, QgsVectorLayer):
            good, desc = styled(layer, outline_ok=True)
            check(good, "project layer %s styled: %s" % (layer.name(), desc))
            if layer.source().endswith("layername=flows") or layer.source().endswith("layername=periods"):
                tp = layer.temporalProperties()
                check(
                    tp.isActive()
                    and tp.mode() == QgsVectorLayerTemporalProperties.ModeFeatureDateTimeStartAndEndFromFields
                    and tp.startField() == "period_start"
                    and tp.endField() == "period_end",
                    "%s temporal: active=%s mode=%s %s..%s"
                    % (layer.source().rsplit("=", 1)[1], tp.isActive(), tp.mode(), tp.startField(), tp.endField()),
                )
        else:
            check(layer.renderer().type() == "singlebandpseudocolor", "project raster styled")
    return layers


def render(project, layers, png):
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(project.crs())
    extent = project.viewSettings().defaultViewExtent()
    check(not extent.isEmpty(), "project default view %s" % extent.toString(3))
    settings.setOutputSize(QSize(1200, 1000))
    settings.setExtent(extent)
    settings.setBackgroundColor(QColor("white"))
    settings.setOutputDpi(110)
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    check(image.save(png), "render saved to %s" % png)
    colours = set()
    for y in range(0, image.height(), 3):
        for x in range(0, image.width(), 3):
            colours.add(image.pixel(x, y) & 0xFFFFFF)
    check(len(colours) > 50, "render has %d distinct colours" % len(colours))
    seen = [c for c in CHOROPLETH if int(c[1:], 16) in colours or near(colours, int(c[1:], 16))]
    check(len(seen) >= 2, "render shows the choropleth colours %s" % ",".join(seen))


def near(colours, want, tol=60):
    """A pixel within tol (per channel, summed) of want: the fills are drawn
    at 90 % opacity over white, which moves a class colour by up to
    0.1 x (255 - channel) per channel (54 for #bd0026, the darkest)."""
    wr, wg, wb = want >> 16, want >> 8 & 255, want & 255
    return any(abs((c >> 16) - wr) + abs((c >> 8 & 255) - wg) + abs((c & 255) - wb) <= tol for c in colours)


def main(bundle, png):
    app = QgsApplication([], False)
    app.initQgis()
    counts = check_gpkg(bundle)
    check_raster(bundle)
    layers = check_project(bundle, counts)
    render(QgsProject.instance(), [l for l in layers if l is not None], png)
    if failures:
        print("FAIL %d check(s): %s" % (len(failures), "; ".join(failures)))
    else:
        print("ok   all QGIS checks passed")
    sys.stdout.flush()
    # QGIS can crash while tearing down in a headless process; the answer is out.
    os._exit(1 if failures else 0)


def main_pg(conninfo, schema, bundle):
    app = QgsApplication([], False)
    app.initQgis()
    counts = ogr_layers(os.path.join(bundle, "layers.gpkg"))
    check(len(counts) >= 1, "layers.gpkg has layers: %s" % ", ".join(sorted(counts)))
    for name, (count, _) in sorted(counts.items()):
        uri = "%s key='fid' srid=4326 table=\"%s\".\"%s\" (geom)" % (conninfo, schema, name)
        layer = QgsVectorLayer(uri, name, "postgres")
        check(layer.isValid(), "%s.%s opens valid" % (schema, name))
        if not layer.isValid():
            continue
        check(layer.crs().authid() == "EPSG:4326", "%s CRS %s" % (name, layer.crs().authid()))
        check(layer.featureCount() == count, "%s features %d (layers.gpkg %d)" % (name, layer.featureCount(), count))
        good, desc = styled(layer, name)
        check(good, "%s default style from the database's layer_styles: %s" % (name, desc))
    if failures:
        print("FAIL %d check(s): %s" % (len(failures), "; ".join(failures)))
    else:
        print("ok   all QGIS checks passed")
    sys.stdout.flush()
    os._exit(1 if failures else 0)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--pg":
        main_pg(sys.argv[2], sys.argv[3], sys.argv[4])
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
