#!/bin/sh
# The whole job of a data round (`dispflow run`) on the synthetic Mosul table
# with the COD-AB governorates and districts, all products, next to the
# stages it is made of, run alone with the same inputs: wall time (median of
# BENCH_RUNS) and peak memory of each whole process. Then the same on the
# standard 1M points (issue 12 item 2: the whole default product set within
# 2x the admin-2 join plus the density alone), and peak memory of a run on
# 10M rows (BENCH_BIG=0 skips it).
#
#   sh benchmarks/job.sh BUILD_DIR      (make bench runs it)
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
DATA=$ROOT/../shared/data
ET=$DATA/synthetic_et_mosul/records.csv
SHP=$DATA/boundaries/irq_cod_ab_20190603_shp
ADM1=$SHP/irq_admbnda_adm1_cso_20190603.shp
ADM2=$SHP/irq_admbnda_adm2_cso_20190603.shp
if [ ! -f "$ET" ] || [ ! -f "$ADM2" ]; then
    echo "job: SKIPPED (../shared/data is not there)"
    exit 0
fi
RUNS=${BENCH_RUNS:-3}
OUT=$ROOT/$BUILD/bench/job
case $BUILD in /*) OUT=$BUILD/bench/job ;; esac
DF=$ROOT/$BUILD/dispflow
case $BUILD in /*) DF=$BUILD/dispflow ;; esac
mkdir -p "$OUT" || exit 1
cat >"$OUT/mosul.ini" <<INI
[job]
title = Mosul corridor: displacement and returns (benchmark)
output = bundle
source = synthetic Emergency Tracking table
from = 2016-10-17
as_of = 2017-05-02
step = month
[records]
path = $ET
[boundaries]
adm1 = $ADM1
adm2 = $ADM2
[density]
radius = 5000
pixel = 500
INI

# time NAME CMD...: the median wall time and the largest peak RSS of RUNS runs
time_it() {
    name=$1
    shift
    : >"$OUT/$name.times"
    i=1
    while [ "$i" -le "$RUNS" ]; do
        if ! /usr/bin/time -o "$OUT/$name.t" -f '%e %M' "$@" >"$OUT/$name.log" 2>&1; then
            echo "job: $name failed:"
            tail -n 5 "$OUT/$name.log"
            return 1
        fi
        cat "$OUT/$name.t" >>"$OUT/$name.times"
        i=$((i + 1))
    done
    sort -n "$OUT/$name.times" | awk -v n="$name" '{ w[NR] = $1; if ($2 > m) m = $2 }
        END { printf "  %-38s %6.2f s  %7.1f MB\n", n, w[int((NR + 1) / 2)], m / 1024 }'
}

echo "job: the synthetic Mosul table (3,583 rows), COD-AB ADM1 + ADM2, every product; $RUNS runs, median"
status=0
cd "$OUT" || exit 1
time_it "dispflow run (whole job)" "$DF" run -q mosul.ini || status=1
time_it "  join adm2 (GeoPackage)" "$DF" join -q --records "$ET" --boundaries "$ADM2" --as-of 2017-05-02 \
    -o "$OUT/join.gpkg" || status=1
time_it "  flows adm2 by month" "$DF" flows -q --records "$ET" --boundaries "$ADM2" --step month \
    --to 2017-05-02 -o "$OUT/flows.gpkg" || status=1
time_it "  density, 5 km radius, 500 m pixels" "$DF" density -q --records "$ET" --boundaries "$ADM2" --people displaced \
    --radius 5000 --pixel 500 --as-of 2017-05-02 -o "$OUT/density.tif" || status=1

# --- the standard 1M points: the whole job against the join and the density ----
cd "$ROOT" || exit 1
POINTS=$ROOT/benchmarks/data/points_1m.csv
GEN=$ROOT/../shared/bench/gen_points.py
if [ ! -s "$POINTS" ] && [ -f "$GEN" ]; then
    mkdir -p "$ROOT/benchmarks/data" && /usr/bin/python3 "$GEN" 1000000 "$POINTS.tmp" 1 && mv "$POINTS.tmp" "$POINTS"
fi
if [ ! -s "$POINTS" ]; then
    echo "job 1M: SKIPPED (no benchmarks/data/points_1m.csv and no ../shared/bench/gen_points.py)"
    exit $status
fi
cd "$OUT" || exit 1
# every default product; the flows are skipped (the points state no origin)
cat >"$OUT/points.ini" <<INI
[job]
title = The standard 1M points (benchmark)
output = points_bundle
[records]
path = $POINTS
[boundaries]
adm2 = $ADM2
[density]
radius = 5000
pixel = 250
INI
echo
echo "job 1M: the standard 1,000,000 points, COD-AB ADM2, every default product (density 5 km / 250 m); $RUNS runs, median"
echo "  (2 cores shared with other work: load average $(cut -d ' ' -f 1-3 /proc/loadavg) at the start)"
time_it "dispflow run (whole job, 1M)" "$DF" run -q points.ini || status=1
time_it "  join adm2 (CSV)" "$DF" join -q --records "$POINTS" --boundaries "$ADM2" --level adm2 -o "$OUT/points_join.csv" ||
    status=1
time_it "  density 5 km, 250 m" "$DF" density -q --records "$POINTS" --boundaries "$ADM2" --radius 5000 --pixel 250 \
    -o "$OUT/points_density.tif" || status=1
med() { sort -n "$OUT/$1.times" | awk '{ w[NR] = $1 } END { print w[int((NR + 1) / 2)] }'; }
awk -v w="$(med "dispflow run (whole job, 1M)")" -v j="$(med "  join adm2 (CSV)")" -v d="$(med "  density 5 km, 250 m")" \
    'BEGIN { printf "  whole job / (join + density) = %.2f / (%.2f + %.2f) = %.2fx (goal: within 2x: %s)\n",
             w, j, d, w / (j + d), w / (j + d) <= 2 ? "met" : "NOT met" }'

# --- memory: a run on 10M rows ------------------------------------------------
# `dispflow run` reads its records once (docs/onepass.md), so the 10M rows are
# streamed through a fifo, nothing of that size on disk as CSV. Default: no
# records layer above 1M rows; then records_layer = always.
if [ "${BENCH_BIG:-1}" = 1 ]; then
    BIG=$OUT/points_10m.csv
    rm -f "$BIG" && mkfifo "$BIG" || exit 1
    sed "s#^path = .*#path = $BIG#; s#^output = .*#output = points10m_bundle#" points.ini >points10m.ini
    { cat points10m.ini; printf '[report]\nrecords_layer = always\n'; } >points10m_always.ini
    for j in points10m points10m_always; do
        sh "$ROOT/benchmarks/ten_times.sh" "$POINTS" "$BIG" &
        writer=$!
        if /usr/bin/time -v "$DF" run -q "$j.ini" >"$j.log" 2>&1; then
            awk -v j="$j" '/Elapsed \(wall clock\)/ { w = $NF } /Maximum resident/ { m = $NF }
                END { printf "  %-38s %8s  %7.1f MB peak RSS (10M rows from a fifo%s)\n", "dispflow run, 10M", w, m / 1024,
                      j ~ /always/ ? ", records_layer = always" : ", no records layer" }' "$j.log"
        else
            echo "job 10M: $j failed:"
            tail -n 5 "$j.log"
            status=1
            kill "$writer" 2>/dev/null # the writer, if the run stopped before reading all
        fi
        wait
    done
    rm -f "$BIG"
fi
exit $status
