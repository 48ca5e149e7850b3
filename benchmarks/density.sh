#!/bin/sh
# The density benchmark: the standard 1,000,000 weighted points
# (benchmarks/data/points_1m.csv, columns id,lon,lat,individuals), quartic
# kernel, radius 5 km, pixel 250 m, over Iraq in EPSG:32638, by dispflow and by
# QGIS's Heatmap (qgis:heatmapkerneldensityestimation, the same points
# projected to EPSG:32638 beforehand, outside the timing). Prints wall time and
# peak RSS of each whole process (/usr/bin/time -f '%e %M') and the ratio
# against the target (dispflow >= 20x faster than QGIS; QGIS measured at
# 30.4 s by the issue's author when it is not run here).
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
# Environment: BENCH_PEERS="dispflow qgis" (the tools to run); BENCH_BIG=0
# skips the 10M-row run (about a minute).
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
POINTS=$ROOT/benchmarks/data/points_1m.csv
OUT=$ROOT/$BUILD/bench/density
case $BUILD in /*) OUT=$BUILD/bench/density ;; esac
PEERS=${BENCH_PEERS:-dispflow qgis}
GNUTIME=/usr/bin/time
if [ ! -s "$POINTS" ]; then
    echo "bench density: SKIPPED ($POINTS is absent: run benchmarks/run.sh once to generate it)"
    exit 0
fi
mkdir -p "$OUT" || exit 1

measure() { # name, command...: prints "name seconds kb"
    name=$1; shift
    if "$GNUTIME" -f '%e %M' -o "$OUT/$name.time" "$@" >"$OUT/$name.log" 2>&1; then
        read -r s kb <"$OUT/$name.time"
        echo "$name $s $kb"
    else
        echo "bench density: $name failed (see $OUT/$name.log)" >&2
        return 1
    fi
}

status=0
d_s=""
d_kb=""
q_s=""
case " $PEERS " in *" dispflow "*)
    if r=$(measure dispflow "$ROOT/$BUILD/dispflow" density --records "$POINTS" --kernel quartic \
        --radius 5000 --pixel 250 -t_srs EPSG:32638 -o "$OUT/dispflow.tif"); then
        set -- $r; d_s=$2; d_kb=$3; echo "dispflow  wall ${2} s  peak RSS $(($3 / 1024)) MB"
    else status=1; fi ;;
esac
case " $PEERS " in *" qgis "*)
    if command -v qgis_process.bin >/dev/null 2>&1; then
        # the points in EPSG:32638 (QGIS's radius is in layer units), not timed
        /usr/bin/python3 - "$POINTS" "$OUT/points_32638.csv" <<'PY' || status=1
import sys
from pyproj import Transformer
t = Transformer.from_crs("EPSG:4326", "EPSG:32638", always_xy=True)
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as o:
    next(f); o.write("x,y,individuals\n")
    for line in f:
        _, lon, lat, w = line.rstrip("\n").split(",")
        x, y = t.transform(float(lon), float(lat))
        o.write("%.3f,%.3f,%s\n" % (x, y, w))
PY
        uri="delimitedtext://file://$OUT/points_32638.csv?type=csv&xField=x&yField=y&crs=EPSG:32638&detectTypes=yes&spatialIndex=yes"
        if r=$(QT_QPA_PLATFORM=offscreen measure qgis qgis_process.bin run qgis:heatmapkerneldensityestimation \
            "--INPUT=$uri" --RADIUS=5000 --PIXEL_SIZE=250 --WEIGHT_FIELD=individuals --KERNEL=0 \
            --OUTPUT_VALUE=0 "--OUTPUT=$OUT/qgis.tif"); then
            set -- $r; q_s=$2; echo "qgis      wall ${2} s  peak RSS $(($3 / 1024)) MB"
        else status=1; fi
    else
        echo "qgis      not installed (qgis_process.bin); using the issue's 30.4 s"
    fi ;;
esac
if [ -n "$d_s" ]; then
    ref=${q_s:-30.4}
    awk -v q="$ref" -v d="$d_s" 'BEGIN { r = q / d; printf "ratio     QGIS %.1f s / dispflow %.2f s = %.1fx (target 20x: %s)\n", q, d, r, (r >= 20 ? "met" : "NOT met") }'
fi

# --- memory against the number of points: 10M rows from a fifo ------------
if [ "${BENCH_BIG:-1}" = 1 ] && [ -n "$d_kb" ]; then
    fifo=$OUT/points_10m.fifo.csv # dispflow picks the reader by the extension
    rm -f "$fifo"
    mkfifo "$fifo" || exit 1
    sh benchmarks/ten_times.sh "$POINTS" "$fifo" &
    gen=$!
    if r=$(measure dispflow_10m "$ROOT/$BUILD/dispflow" density --records "$fifo" --kernel quartic \
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
