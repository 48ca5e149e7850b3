#!/bin/sh
# Runs first in `make test`: names every tool, Python module and data folder
# the suite needs that this machine lacks, instead of a traceback deep inside
# a test. Missing tools fail; missing ../shared/data fails only under CI
# (elsewhere those tests are skipped and counted as skipped).
# The Debian packages that provide them are DEB_TEST in the Makefile.
missing=""
for bin in ogr2ogr ogrinfo gdalinfo clang-format /usr/bin/python3 /usr/bin/qgis_process.bin g++ pandoc readelf nm man \
           pdfinfo pdftotext pdffonts psql /usr/lib/postgresql/15/bin/initdb /usr/lib/postgresql/15/bin/pg_ctl \
           runuser mpirun mpicc; do
    command -v "$bin" > /dev/null 2>&1 || missing="$missing\n  program $bin"
done
# PostGIS 3 for PostgreSQL 15 (test_postgis starts its own server with it)
[ -f /usr/share/postgresql/15/extension/postgis.control ] || missing="$missing\n  PostGIS for PostgreSQL 15 (postgis.control)"
# map.html inlines Leaflet from libjs-leaflet
[ -f /usr/share/javascript/leaflet/leaflet.min.js ] || missing="$missing\n  file /usr/share/javascript/leaflet/leaflet.min.js"
# /usr/bin/python3: Debian's interpreter (the python3 on PATH may be another)
for mod in osgeo.gdal osgeo_utils.samples.validate_gpkg osgeo_utils.samples.validate_cloud_optimized_geotiff \
           pandas geopandas rtree shapely pyproj qgis.core sqlite3 cffi numpy; do
    /usr/bin/python3 -c "import $mod" > /dev/null 2>&1 || missing="$missing\n  python module $mod (/usr/bin/python3)"
done
if [ -n "$missing" ]; then
    printf "make test: missing on this machine:$missing\n" >&2
    echo "run 'make deps-test' as root, or install the Debian packages of DEB_TEST in the Makefile" >&2
    exit 1
fi
if [ ! -d ../shared/data ]; then
    echo "make test: ../shared/data is absent: the tests on real data will be skipped" >&2
    [ "$CI" = true ] && { echo "CI=true: the real data is required" >&2; exit 1; }
fi
exit 0
