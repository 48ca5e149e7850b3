#!/bin/sh
# The density benchmark (issue 12 item 3): the standard 1,000,000 weighted
# points (benchmarks/data/points_1m.csv, columns id,lon,lat,individuals),
# quartic kernel, radius 5 km, pixel 250 m, in EPSG:32638, by dispflow on the
# CSV and by QGIS's Heatmap (qgis:heatmapkerneldensityestimation) on the same
# points in a GeoPackage already in EPSG:32638 (made once by ogr2ogr in the
# output folder, outside the timing). The two tools run one after the other,
# BENCH_RUNS times (default 3), in the same run of this script; it prints
# every run's wall time and peak RSS of the whole process (/usr/bin/time -f
# '%e %M'), the median ratio QGIS / dispflow against the target (>= 30x), and
# the correlation of the two rasters (> 0.999): dispflow is run once more,
# untimed, with --raw on QGIS's own grid (-te from QGIS's geotransform) so
# that the pixel centres coincide.
#
#   benchmarks/density.sh BUILD_DIR
#
# Then memory against the number of points: the same run on 10,000,000 rows
# (the 1M file's data lines ten times over, new ids) streamed through a fifo
# made by awk, so that nothing of that size touches the disk as CSV; dispflow
# itself spools the selected points to a temporary file (docs/density.md).
# The peak RSS must stay about that of 1M (the grid, 3217 x 3316 pixels, and
# one chunk of points), and the 10M total weight must be exactly ten times
# the 1M total.
#
# Environment: BENCH_PEERS="dispflow qgis" (the tools to run); BENCH_RUNS=3;
# BENCH_BIG=0 skips the 10M-row run (about a minute); BENCH_BEFORE=BINARY
# also times another dispflow binary (an older build) in each run, for a
# before/after figure measured under the same load.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
POINTS=$ROOT/benchmarks/data/points_1m.csv
OUT=$ROOT/$BUILD/bench/density
DISPFLOW=$ROOT/$BUILD/dispflow
case $BUILD in /*) OUT=$BUILD/bench/density DISPFLOW=$BUILD/dispflow ;; esac
PEERS=${BENCH_PEERS:-dispflow qgis}
RUNS=${BENCH_RUNS:-3}
BEFORE=${BENCH_BEFORE:-}
PY=/usr/bin/python3
GNUTIME=/usr/bin/time
if [ ! -s "$POINTS" ]; then
    echo "bench density: SKIPPED ($POINTS is absent: run benchmarks/run.sh once to generate it)"
    exit 0
fi
mkdir -p "$OUT" || exit 1

measure() { # name, command...: prints "name seconds kb cpu_seconds" (cpu: user + system)
    name=$1; shift
    if "$GNUTIME" -f '%e %M %U %S' -o "$OUT/$name.time" "$@" >"$OUT/$name.log" 2>&1; then
        read -r s kb u sy <"$OUT/$name.time"
        echo "$name $s $kb $(awk -v u="$u" -v s="$sy" 'BEGIN { printf "%.2f", u + s }')"
    else
        echo "bench density: $name failed (see $OUT/$name.log)" >&2
        return 1
    fi
}
median() { # the median of the numbers in file $1 (one a line)
    sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1; print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

status=0
has() { case " $PEERS " in *" $1 "*) return 0 ;; esac; return 1; }
qgis=0
if has qgis; then
    if command -v qgis_process.bin >/dev/null 2>&1; then
        qgis=1
        # the points in EPSG:32638 (QGIS's radius is in layer units), as a
        # GeoPackage with its spatial index; made once, not timed
        GPKG=$OUT/points_32638.gpkg
        if [ ! -s "$GPKG" ] || [ "$POINTS" -nt "$GPKG" ]; then
            rm -f "$GPKG"
            ogr2ogr -f GPKG "$GPKG" "$POINTS" -oo X_POSSIBLE_NAMES=lon -oo Y_POSSIBLE_NAMES=lat \
                -oo AUTODETECT_TYPE=YES -s_srs EPSG:4326 -t_srs EPSG:32638 -nln points -gt 65536 ||
                { echo "bench density: ogr2ogr cannot make $GPKG" >&2; qgis=0; status=1; }
        fi
    else
        echo "qgis      not installed (qgis_process.bin); using the issue's 20.9 s"
    fi
fi
DARGS="density --records $POINTS --kernel quartic --radius 5000 --pixel 250 -t_srs EPSG:32638"
: >"$OUT/dispflow.runs"; : >"$OUT/qgis.runs"; : >"$OUT/before.runs"; : >"$OUT/ratio.runs"
: >"$OUT/dispflow.cpu"; : >"$OUT/qgis.cpu"; : >"$OUT/before.cpu"
d_kb=""
run=1
while [ "$run" -le "$RUNS" ]; do
    d_s=""; q_s=""
    if has dispflow; then
        # shellcheck disable=SC2086
        if r=$(measure dispflow "$DISPFLOW" $DARGS -o "$OUT/dispflow.tif"); then
            set -- $r; d_s=$2; d_kb=$3; echo "$2" >>"$OUT/dispflow.runs"; echo "$4" >>"$OUT/dispflow.cpu"
            echo "run $run  dispflow  wall ${2} s  cpu ${4} s  peak RSS $(($3 / 1024)) MB"
        else status=1; fi
    fi
    if [ -n "$BEFORE" ]; then
        # shellcheck disable=SC2086
        if r=$(measure before "$BEFORE" $DARGS -o "$OUT/before.tif"); then
            set -- $r; echo "$2" >>"$OUT/before.runs"; echo "$4" >>"$OUT/before.cpu"
            echo "run $run  before    wall ${2} s  cpu ${4} s  peak RSS $(($3 / 1024)) MB  ($BEFORE)"
        else status=1; fi
    fi
    if [ "$qgis" = 1 ]; then
        rm -f "$OUT/qgis.tif"
        if r=$(QT_QPA_PLATFORM=offscreen measure qgis qgis_process.bin run qgis:heatmapkerneldensityestimation \
            "--INPUT=$OUT/points_32638.gpkg" --RADIUS=5000 --PIXEL_SIZE=250 --WEIGHT_FIELD=individuals --KERNEL=0 \
            --OUTPUT_VALUE=0 "--OUTPUT=$OUT/qgis.tif"); then
            set -- $r; q_s=$2; echo "$2" >>"$OUT/qgis.runs"; echo "$4" >>"$OUT/qgis.cpu"
            echo "run $run  qgis      wall ${2} s  cpu ${4} s  peak RSS $(($3 / 1024)) MB"
        else status=1; fi
    fi
    if [ -n "$d_s" ]; then
        awk -v q="${q_s:-20.9}" -v d="$d_s" 'BEGIN { printf "%.3f\n", q / d }' >>"$OUT/ratio.runs"
    fi
    run=$((run + 1))
done
if [ -s "$OUT/ratio.runs" ]; then
    dm=$(median "$OUT/dispflow.runs"); rm_=$(median "$OUT/ratio.runs")
    qm=$(median "$OUT/qgis.runs" 2>/dev/null || echo 20.9)
    awk -v q="$qm" -v d="$dm" -v r="$rm_" -v n="$RUNS" 'BEGIN { printf "ratio     QGIS %.1f s / dispflow %.2f s (medians of %d runs); median of the per-run ratios %.1fx (target 30x: %s)\n", q, d, n, r, (r >= 30 ? "met" : "NOT met") }'
    if [ -s "$OUT/qgis.cpu" ]; then # the work, whatever the load and the cores
        awk -v q="$(median "$OUT/qgis.cpu")" -v d="$(median "$OUT/dispflow.cpu")" 'BEGIN { printf "cpu       QGIS %.1f s / dispflow %.2f s of CPU (user + system, medians): %.1fx\n", q, d, q / d }'
    fi
    if [ -s "$OUT/before.runs" ]; then
        bm=$(median "$OUT/before.runs")
        awk -v b="$bm" -v d="$dm" -v bc="$(median "$OUT/before.cpu")" -v dc="$(median "$OUT/dispflow.cpu")" 'BEGIN { printf "before    dispflow before %.2f s, after %.2f s (medians): %.2fx faster; CPU %.2f s before, %.2f s after: %.2fx less\n", b, d, b / d, bc, dc, bc / dc }'
    fi
fi
# --- agreement: dispflow --raw on QGIS's grid, correlated pixel by pixel ----
if has dispflow && [ "$qgis" = 1 ] && [ -s "$OUT/qgis.tif" ]; then
    te=$("$PY" -c 'import sys
from osgeo import gdal
d = gdal.Open(sys.argv[1]); g = d.GetGeoTransform()
print("%.17g %.17g %.17g %.17g" % (g[0], g[3] + g[5] * d.RasterYSize, g[0] + g[1] * d.RasterXSize, g[3]))' "$OUT/qgis.tif")
    # shellcheck disable=SC2086
    if "$DISPFLOW" $DARGS --raw -te $te -o "$OUT/dispflow_on_qgis_grid.tif" >"$OUT/corr.log" 2>&1; then
        "$PY" - "$OUT/qgis.tif" "$OUT/dispflow_on_qgis_grid.tif" <<'PY' || status=1
import sys
import numpy as np
from osgeo import gdal
a, b = (gdal.Open(p) for p in sys.argv[1:3])
ga, gb = a.GetGeoTransform(), b.GetGeoTransform()
assert (a.RasterXSize, a.RasterYSize) == (b.RasterXSize, b.RasterYSize) and max(abs(u - v) for u, v in zip(ga, gb)) < 1e-6, (ga, gb)
def values(d):
    band = d.GetRasterBand(1)
    v = band.ReadAsArray().astype(np.float64).ravel()
    nd = band.GetNoDataValue()
    if nd is not None:
        v[v == nd] = 0  # QGIS leaves the pixels no disc reaches as nodata
    return v
x, y = values(a), values(b)
r = np.corrcoef(x, y)[0, 1]
big = y > 1e-3 * y.max()
rel = np.abs(x[big] - y[big]) / y[big]
print("agree     %d x %d pixels on QGIS's grid: correlation %.7f (target > 0.999: %s); raw sums QGIS %.6g, dispflow %.6g; "
      "median relative difference %.2g where dispflow > 0.1%% of its maximum"
      % (a.RasterXSize, a.RasterYSize, r, "met" if r > 0.999 else "NOT met", x.sum(), y.sum(), np.median(rel)))
sys.exit(0 if r > 0.999 else 1)
PY
    else
        echo "bench density: dispflow on QGIS's grid failed (see $OUT/corr.log)" >&2; status=1
    fi
fi
# --- memory against the number of points: 10M rows from a fifo ------------
if [ "${BENCH_BIG:-1}" = 1 ] && [ -n "$d_kb" ]; then
    fifo=$OUT/points_10m.fifo.csv # dispflow picks the reader by the extension
    rm -f "$fifo"
    mkfifo "$fifo" || exit 1
    sh benchmarks/ten_times.sh "$POINTS" "$fifo" &
    gen=$!
    if r=$(measure dispflow_10m "$DISPFLOW" density --records "$fifo" --kernel quartic \
        --radius 5000 --pixel 250 -t_srs EPSG:32638 -o "$OUT/dispflow_10m.tif"); then
        wait "$gen"
        set -- $r
        echo "dispflow  10M rows from a fifo: wall ${2} s (one reading thread: a fifo is not cut)  peak RSS $(($3 / 1024)) MB"
        # the total weight (whole numbers, summed exactly) must be ten times the 1M one
        t1=$(sed -n 's/.*total \([0-9.]*\) people.*/\1/p' "$OUT/dispflow.log" | tail -n 1)
        t10=$(sed -n 's/.*total \([0-9.]*\) people.*/\1/p' "$OUT/dispflow_10m.log" | tail -n 1)
        awk -v a="$d_kb" -v b="$3" -v t1="$t1" -v t10="$t10" 'BEGIN {
            printf "memory    density peak RSS %.1f MB on 1M points, %.1f MB on 10M (x%.2f): %s\n", a / 1024, b / 1024,
                b / a, (b < 1.2 * a ? "bounded by the grid" : "GROWS with the points")
            ok = t1 != "" && t10 == 10 * t1
            printf "memory    total weight 1M %s, 10M %s: %s\n", t1, t10, ok ? "exactly ten times" : "NOT ten times"
            exit !(ok && b < 1.2 * a) }' || status=1
    else
        status=1
        kill "$gen" 2>/dev/null
        wait "$gen" 2>/dev/null
    fi
    rm -f "$fifo"
else
    echo "memory    density 10M-row run skipped (BENCH_BIG=0, or dispflow not run)"
fi
exit $status
