#!/usr/bin/python3
"""The bilingual labels of a dispflow bundle in QGIS (issue 13 item 7).

usage: qgis_labels.py BUNDLE_DIR NAME

project.qgs reads, its unit layers (adm1..adm3) render over the project's
default view, and QGIS's labelling results hold a label of two lines whose
second line is NAME (the unit's name in the second language, read by the
caller from the boundaries). Prints "ok ..." lines; exit 1 with "FAIL ..."
otherwise. Run with Debian's /usr/bin/python3 and QT_QPA_PLATFORM=offscreen.
"""
import os
import sys

from qgis.core import QgsApplication, QgsMapRendererSequentialJob, QgsMapSettings, QgsProject
from qgis.PyQt.QtCore import QSize


def main(bundle, name):
    app = QgsApplication([], False)
    app.initQgis()
    project = QgsProject.instance()
    ok = project.read(os.path.join(bundle, "project.qgs"))
    print(("ok   " if ok else "FAIL ") + "project.qgs reads")
    layers = [l for l in project.mapLayers().values()
              if any(l.source().endswith("layername=adm%d" % k) for k in (1, 2, 3))]
    s = QgsMapSettings()
    s.setLayers(layers)
    s.setDestinationCrs(project.crs())
    s.setOutputSize(QSize(1200, 900))
    s.setExtent(project.viewSettings().defaultViewExtent())
    job = QgsMapRendererSequentialJob(s)
    job.start()
    job.waitForFinished()
    texts = [lab.labelText for lab in job.takeLabelingResults().allLabels()]
    hit = [t for t in texts if t.split("\n")[-1] == name and len(t.split("\n")) == 2]
    good = ok and len(hit) == 1
    print(("ok   " if good else "FAIL ") + "labels: %d, %d with the second line %s: %s"
          % (len(texts), len(hit), name, hit[:1] or texts[:5]))
    sys.stdout.flush()
    os._exit(0 if good else 1)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        sys.exit(2)
    main(sys.argv[1], sys.argv[2])
