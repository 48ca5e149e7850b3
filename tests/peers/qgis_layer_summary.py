#!/usr/bin/python3
"""Open a layer in real QGIS (headless) and print what a GIS officer sees.

usage: qgis_layer_summary.py LAYER_PATH FIELD
prints one line: valid=1 features=N crs=EPSG:4326 sum=S dates=1 nulls=0
(sum of FIELD; dates=1 when period_from/as_of are real date fields;
nulls = NULL values in FIELD)
Run with Debian's /usr/bin/python3 and QT_QPA_PLATFORM=offscreen.
"""
import os
import sys

from qgis.core import QgsApplication, QgsVectorLayer
from qgis.PyQt.QtCore import QVariant


def main(path, field):
    app = QgsApplication([], False)
    app.initQgis()
    layer = QgsVectorLayer(path, "layer", "ogr")
    total, nulls = 0, 0
    if layer.isValid():
        for f in layer.getFeatures():
            v = f[field]
            if v is None or (hasattr(v, "isNull") and v.isNull()):
                nulls += 1
            else:
                total += int(v)
    fields = layer.fields()
    dates = all(
        fields.indexOf(n) >= 0 and fields.field(n).type() == QVariant.Date for n in ("period_from", "as_of")
    )
    print(
        "valid=%d features=%d crs=%s sum=%d dates=%d nulls=%d"
        % (layer.isValid(), layer.featureCount(), layer.crs().authid(), total, dates, nulls)
    )
    sys.stdout.flush()
    # QGIS can crash while tearing down in a headless process; the answer is out.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
