#!/bin/sh
# The join benchmark: the same 1,000,000 weighted points joined to the 101
# Iraqi districts by dispflow, QGIS and GeoPandas; wall time and peak memory
# of each whole process (start, read the CSV, join, write the result), the
# ratios against the targets, an exact check that the three agree district by
# district, the point-in-polygon rate, and peak memory on a 10,000,000-row
# stream (BENCH_BIG=0 skips that). See benchmarks/README.md.
#
#   benchmarks/run.sh BUILD_DIR        (as `make bench` runs it)
#
# Environment:
#   BENCH_RUNS=3        runs per tool; the median wall time is reported
#   BENCH_BIG=0         skip the 10M-row fifo runs of dispflow (about 10 s
#                       here, minutes in job.sh)
#   BENCH_100M=0        skip job.sh's 100M-row fifo run (5 to 20 minutes; on by default)
#   BENCH_QGIS_INDEX=0  load the CSV into QGIS without a spatial index
#                       (default 1: spatialIndex=yes, QGIS at its best)
#   BENCH_PEERS="dispflow qgis qgis_gpkg geopandas"   the tools to run (qgis_gpkg:
#                       QGIS reading the points from a GeoPackage, made once)
#
# Exit status: 0 when everything ran and the per-district results agree (the
# speed targets are information only), 1 when a tool failed or the results
# disagree. Prints SKIPPED and exits 0 when ../shared is not there.
set -u

BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)

SHARED=../shared
GEN=$SHARED/bench/gen_points.py
ADM2=$SHARED/data/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm2_cso_20190603.shp
if [ ! -d "$SHARED" ] || [ ! -f "$GEN" ] || [ ! -f "$ADM2" ]; then
    echo "bench: SKIPPED (../shared with bench/gen_points.py and the COD-AB districts is not there)"
    exit 0
fi
ADM2=$(cd "$(dirname "$ADM2")" && pwd)/$(basename "$ADM2")

RUNS=${BENCH_RUNS:-3}
PEERS=${BENCH_PEERS:-dispflow qgis qgis_gpkg geopandas}
PY=/usr/bin/python3
GNUTIME=/usr/bin/time
DATA=$ROOT/benchmarks/data
POINTS=$DATA/points_1m.csv
OUT=$ROOT/$BUILD/bench/out
status=0

case $BUILD in /*) OUT=$BUILD/bench/out ;; esac
if [ ! -x "$GNUTIME" ] || ! "$GNUTIME" -f '%e %M' true >/dev/null 2>&1; then
    echo "bench: GNU time is needed at $GNUTIME (Debian package 'time': apt-get install time)" >&2
    exit 1
fi
mkdir -p "$DATA" "$OUT" || exit 1

# --- input, generated once ------------------------------------------------
if [ ! -s "$POINTS" ]; then
    echo "bench: generating the standard 1M points into benchmarks/data/ (once)"
    if ! "$PY" "$GEN" 1000000 "$POINTS.tmp" 1 || ! mv "$POINTS.tmp" "$POINTS"; then
        echo "bench: cannot generate $POINTS" >&2
        rm -f "$POINTS.tmp"
        exit 1
    fi
fi
NPOINTS=$(($(wc -l <"$POINTS") - 1))

# --- measuring ------------------------------------------------------------
# measure TOOL OUTFILE CMD...: runs CMD $RUNS times under GNU time (OUTFILE
# removed before each run), keeps every run's "wall_s peak_kb" in
# $OUT/TOOL.times and the last run's output in $OUT/TOOL.log. Returns 1 if a
# run fails or writes no OUTFILE.
measure() {
    tool=$1
    outfile=$2
    shift 2
    : >"$OUT/$tool.times"
    i=1
    while [ "$i" -le "$RUNS" ]; do
        rm -f "$outfile"
        if ! "$GNUTIME" -o "$OUT/$tool.time1" -f '%e %M' "$@" >"$OUT/$tool.log" 2>&1 || [ ! -s "$outfile" ]; then
            echo "bench: $tool failed (run $i); its output:" >&2
            tail -n 20 "$OUT/$tool.log" >&2
            return 1
        fi
        tail -n 1 "$OUT/$tool.time1" >>"$OUT/$tool.times"
        awk -v t="$tool" -v i="$i" '{ w = $1; m = $2 } END { printf "  %-10s run %d: %6.2f s, %7.1f MB\n", t, i, w, m / 1024 }' \
            "$OUT/$tool.time1"
        i=$((i + 1))
    done
    rm -f "$OUT/$tool.time1"
}

# median wall seconds and the largest peak RSS (MB) of a tool's runs
median_wall() { sort -n "$OUT/$1.times" | awk '{ w[NR] = $1 } END { print w[int((NR + 1) / 2)] }'; }
peak_mb() { awk '$2 > m { m = $2 } END { printf "%.1f", m / 1024 }' "$OUT/$1.times"; }

has_peer() { case " $PEERS " in *" $1 "*) return 0 ;; esac; return 1; }

echo "bench: $NPOINTS points ($POINTS) joined to the 101 districts of"
echo "       $ADM2"
echo "bench: $RUNS run(s) per tool, one at a time; wall time and peak RSS of the whole process"

DF_OUT=$OUT/dispflow.csv
QGIS_OUT=$OUT/qgis.gpkg
QGIS_GPKG_OUT=$OUT/qgis_gpkg.gpkg
GPD_OUT=$OUT/geopandas.csv
ran=""      # tools that produced results
missing=""  # "tool:reason" for tools that did not run

# (a) dispflow
if has_peer dispflow; then
    if [ ! -x "$BUILD/dispflow" ]; then
        missing="$missing dispflow:not-built"
        status=1
    elif measure dispflow "$DF_OUT" "$BUILD/dispflow" join -q --records "$POINTS" --boundaries "$ADM2" \
        --level adm2 -o "$DF_OUT"; then
        ran="$ran dispflow"
    else
        missing="$missing dispflow:failed"
        status=1
    fi
fi

# (b) QGIS, reading the CSV itself through the delimited-text provider. The
# `qgis_process` wrapper passes an option this build rejects: use the binary.
if has_peer qgis; then
    if ! command -v qgis_process.bin >/dev/null 2>&1; then
        missing="$missing qgis:not-installed"
    else
        uri="delimitedtext://file://$(printf '%s' "$POINTS" | sed 's/ /%20/g')"
        uri="$uri?type=csv&xField=lon&yField=lat&crs=EPSG:4326&detectTypes=yes"
        [ "${BENCH_QGIS_INDEX:-1}" = 1 ] && uri="$uri&spatialIndex=yes"
        if QT_QPA_PLATFORM=offscreen measure qgis "$QGIS_OUT" qgis_process.bin run native:countpointsinpolygon \
            "--POLYGONS=$ADM2" "--POINTS=$uri" --WEIGHT=individuals --FIELD=NUMPOINTS "--OUTPUT=$QGIS_OUT"; then
            ran="$ran qgis"
        else
            missing="$missing qgis:failed"
            status=1
        fi
    fi
fi

# (b2) QGIS at its best: the same points from a GeoPackage (EPSG:4326, with
# the R-tree ogr2ogr builds), made once outside the timing (issue 12).
if has_peer qgis_gpkg; then
    POINTS_GPKG=$DATA/points_1m.gpkg
    if ! command -v qgis_process.bin >/dev/null 2>&1; then
        missing="$missing qgis_gpkg:not-installed"
    elif [ ! -s "$POINTS_GPKG" ] && ! { ogr2ogr -f GPKG "$POINTS_GPKG.tmp.gpkg" "$POINTS" -nln points \
        -oo X_POSSIBLE_NAMES=lon -oo Y_POSSIBLE_NAMES=lat -oo AUTODETECT_TYPE=YES -a_srs EPSG:4326 &&
        mv "$POINTS_GPKG.tmp.gpkg" "$POINTS_GPKG"; }; then
        rm -f "$POINTS_GPKG.tmp.gpkg"
        missing="$missing qgis_gpkg:no-geopackage"
        status=1
    elif QT_QPA_PLATFORM=offscreen measure qgis_gpkg "$QGIS_GPKG_OUT" qgis_process.bin run \
        native:countpointsinpolygon "--POLYGONS=$ADM2" "--POINTS=$POINTS_GPKG|layername=points" \
        --WEIGHT=individuals --FIELD=NUMPOINTS "--OUTPUT=$QGIS_GPKG_OUT"; then
        ran="$ran qgis_gpkg"
    else
        missing="$missing qgis_gpkg:failed"
        status=1
    fi
fi

# (c) GeoPandas with Debian's Python
if has_peer geopandas; then
    if ! "$PY" -c 'import geopandas' >/dev/null 2>&1; then
        missing="$missing geopandas:not-installed"
    elif measure geopandas "$GPD_OUT" "$PY" benchmarks/peer_geopandas.py "$POINTS" "$ADM2" "$GPD_OUT"; then
        ran="$ran geopandas"
    else
        missing="$missing geopandas:failed"
        status=1
    fi
fi

# --- the table ------------------------------------------------------------
df_wall=""
case " $ran " in *" dispflow "*) df_wall=$(median_wall dispflow) ;; esac
echo
printf '%-10s %10s %10s %14s\n' tool "wall s" "peak MB" "vs dispflow"
printf '%-10s %10s %10s %14s\n' ---------- ---------- ---------- --------------
for t in dispflow qgis qgis_gpkg geopandas; do
    has_peer "$t" || continue
    case " $ran " in
    *" $t "*)
        w=$(median_wall "$t")
        if [ -n "$df_wall" ]; then
            r=$(awk -v a="$w" -v b="$df_wall" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "n/a" }')
        else
            r="n/a"
        fi
        printf '%-10s %10.2f %10s %14s\n' "$t" "$w" "$(peak_mb "$t")" "$r"
        ;;
    *)
        # shellcheck disable=SC2086 # $missing is a list of words
        why=$(printf '%s\n' $missing | sed -n "s/^$t://p" | tr '-' ' ')
        printf '%-10s %10s\n' "$t" "${why:-not run}"
        ;;
    esac
done
echo "(wall: median of $RUNS runs; peak: largest max RSS of the runs; ratio: tool wall / dispflow wall)"

# targets of the issue, as information
target() { # tool factor label
    case " $ran " in *" $1 "*) ;; *)
        printf 'target: dispflow >= %3sx faster than %-10s n/a (%s did not run)\n' "$2" "$3:" "$1"
        return
        ;;
    esac
    if [ -z "$df_wall" ]; then
        printf 'target: dispflow >= %3sx faster than %-10s n/a (dispflow did not run)\n' "$2" "$3:"
        return
    fi
    awk -v a="$(median_wall "$1")" -v b="$df_wall" -v f="$2" -v l="$3:" 'BEGIN {
        r = (b > 0) ? a / b : 0
        printf "target: dispflow >= %3sx faster than %-10s %.1fx  %s\n", f, l, r, (r >= f) ? "PASS" : "MISS" }'
}
echo
target qgis 40 QGIS
target qgis_gpkg 40 QGIS-GPKG
target geopandas 150 GeoPandas

# --- do the per-district results agree? -----------------------------------
set --
for t in $ran; do
    case $t in
    dispflow) set -- "$@" "dispflow=$DF_OUT" ;;
    qgis) set -- "$@" "qgis=$QGIS_OUT" ;;
    qgis_gpkg) set -- "$@" "qgis_gpkg=$QGIS_GPKG_OUT" ;;
    geopandas) set -- "$@" "geopandas=$GPD_OUT" ;;
    esac
done
echo
if [ $# -ge 2 ]; then
    "$PY" benchmarks/compare_sums.py "$@" || status=1
else
    echo "compare: fewer than two tools ran; nothing to compare"
fi

# --- point-in-polygon rate ------------------------------------------------
echo
if [ -x "$BUILD/bench/bench_pip" ]; then
    "$BUILD/bench/bench_pip" "$ADM2" "$POINTS" || status=1
else
    echo "point-in-polygon: $BUILD/bench/bench_pip not built (make $BUILD/bench/bench_pip)"
fi

# --- memory does not grow with records (BENCH_BIG=0 skips) ---------------
# 10M rows: the 1M file's data lines ten times over with new ids, made by
# awk into a fifo so that nothing of that size touches the disk.
echo
if [ "${BENCH_BIG:-1}" = 1 ] && [ -x "$BUILD/dispflow" ]; then
    # dispflow picks the reader by the name's extension: the fifo ends in .csv.
    fifo=$OUT/points_10m.fifo.csv
    big_out=$OUT/dispflow_10m.csv
    rm -f "$fifo" "$big_out"
    mkfifo "$fifo" || exit 1
    sh benchmarks/ten_times.sh "$POINTS" "$fifo" &
    gen=$!
    if "$GNUTIME" -o "$OUT/big.time" -f '%e %M' "$BUILD/dispflow" join -q --records "$fifo" --boundaries "$ADM2" \
        --level adm2 -o "$big_out" >"$OUT/dispflow_10m.log" 2>&1 && [ -s "$big_out" ]; then
        wait "$gen"
        # shellcheck disable=SC2046 # "wall_s peak_kb" into $1 $2
        set -- $(tail -n 1 "$OUT/big.time")
        small=$(awk '{ print $2 }' "$OUT/dispflow.times" 2>/dev/null | sort -n | tail -n 1)
        awk -v w="$1" -v big="$2" -v small="${small:-0}" 'BEGIN {
            printf "memory: dispflow peak RSS %.1f MB on 1M rows, %.1f MB on 10M rows streamed from a fifo", small / 1024, big / 1024
            if (small > 0) printf " (x%.2f)", big / small
            printf "; 10M rows in %.2f s, paced by the awk generator\n", w }'
        # The same rows ten times over: every district must have exactly ten times the 1M figures.
        if [ -s "$DF_OUT" ]; then
            awk -F, 'FNR == 1 { for (i = 1; i <= NF; i++) { if ($i == "displaced") d = i; if ($i == "records") c = i }; next }
                     /^#/ { next }
                     FNR == NR { d1[$1] = $d; c1[$1] = $c; next }
                     { n++; if ($d != 10 * d1[$1] || $c != 10 * c1[$1]) { bad++; print "  DIFF " $1 ": 10M " $d " (" $c " records), 1M x10 " 10 * d1[$1] " (" 10 * c1[$1] ")" } }
                     END { if (bad) print "memory: 10M results are NOT ten times the 1M results in " bad " districts"
                           else print "memory: 10M results are exactly ten times the 1M results in all " n " districts" ; exit bad > 0 }' \
                "$DF_OUT" "$big_out" || status=1
        fi
    else
        echo "memory: dispflow failed on the 10M-row fifo; its output:"
        tail -n 20 "$OUT/dispflow_10m.log"
        kill "$gen" 2>/dev/null
        wait "$gen" 2>/dev/null
        status=1
    fi
    rm -f "$fifo"
else
    echo "memory: 10M-row streaming check skipped (BENCH_BIG=0, or dispflow not built)"
fi

# --- reconciliation: a million rows by names only ---------------------------
echo
if [ -x "$BUILD/bench/bench_reconcile" ]; then
    "$BUILD/bench/bench_reconcile" || status=1
else
    echo "reconcile: $BUILD/bench/bench_reconcile not built (make $BUILD/bench/bench_reconcile)"
fi

# --- density rasters: dispflow against QGIS's Heatmap ------------------------
echo
sh benchmarks/density.sh "$BUILD" || status=1

# --- the whole job of a data round, next to its stages ----------------------
echo
sh benchmarks/job.sh "$BUILD" || status=1

# --- dispflow-mpi: bytes per rank and 1 -> 2 ranks ---------------------------
echo
sh benchmarks/mpi.sh "$BUILD" || status=1

echo
echo "bench: outputs and per-run times in $OUT/"
exit $status
