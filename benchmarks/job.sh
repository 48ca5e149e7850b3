#!/bin/sh
# The whole job of a data round (`dispflow run`) on the synthetic Mosul table
# with the COD-AB governorates and districts, all products, next to the
# stages it is made of, run alone with the same inputs: wall time (median of
# BENCH_RUNS) and peak memory of each whole process. Then the same on the
# standard 1M points (issue 12 item 2: the whole default product set within
# 2x the admin-2 join plus the density alone), and time and peak memory of
# runs on 1M, 10M and 100M (BENCH_100M=0 skips it) rows through a fifo
# (BENCH_BIG=0 skips them).
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

# time NAME CMD...: the median wall time, the largest peak RSS of RUNS runs
# and the CPU time of the median run
time_it() {
    name=$1
    shift
    : >"$OUT/$name.times"
    i=1
    while [ "$i" -le "$RUNS" ]; do
        if ! /usr/bin/time -o "$OUT/$name.t" -f '%e %M %U %S' "$@" >"$OUT/$name.log" 2>&1; then
            echo "job: $name failed:"
            tail -n 5 "$OUT/$name.log"
            return 1
        fi
        cat "$OUT/$name.t" >>"$OUT/$name.times"
        i=$((i + 1))
    done
    # the CPU time (user + sys) of the run of median wall time: the machine is shared
    sort -n "$OUT/$name.times" | awk -v n="$name" '{ w[NR] = $1; c[NR] = $3 + $4; if ($2 > m) m = $2 }
        END { k = int((NR + 1) / 2); printf "  %-38s %6.2f s  %7.1f MB  (CPU %.2f s)\n", n, w[k], m / 1024, c[k] }'
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
cpu() { sort -n "$OUT/$1.times" | awk '{ c[NR] = $3 + $4 } END { print c[int((NR + 1) / 2)] }'; }
awk -v w="$(med "dispflow run (whole job, 1M)")" -v j="$(med "  join adm2 (CSV)")" -v d="$(med "  density 5 km, 250 m")" \
    'BEGIN { printf "  whole job / (join + density) = %.2f / (%.2f + %.2f) = %.2fx (goal: within 2x: %s)\n",
             w, j, d, w / (j + d), w / (j + d) <= 2 ? "met" : "NOT met" }'
awk -v w="$(cpu "dispflow run (whole job, 1M)")" -v j="$(cpu "  join adm2 (CSV)")" -v d="$(cpu "  density 5 km, 250 m")" \
    'BEGIN { printf "  the same in CPU time (user + sys)  = %.2f / (%.2f + %.2f) = %.2fx\n", w, j, d, w / (j + d) }'

# --- memory and time against rows: 1M, 10M, 100M rows through a fifo ----------
# `dispflow run` reads its records once (docs/onepass.md), so the rows are
# streamed through a fifo by benchmarks/ten_times.sh (the 1M file N times over,
# new ids), nothing of that size on disk as CSV. The same job at every size,
# without the records layer (`records_layer = no`: above 1M rows the default
# writes none either), so that only the rows change, then the 10M with
# records_layer = always. BENCH_BIG=0 skips this; BENCH_100M=0 skips the 100M
# run (about 5 minutes alone, 20 on a loaded machine; about 6 GB of temporary
# files in TMPDIR, the density's points, and a 5.6 GB decisions.csv, removed
# after it).
if [ "${BENCH_BIG:-1}" = 1 ]; then
    FIFO=$OUT/points_fifo.csv
    rm -f "$FIFO" && mkfifo "$FIFO" || exit 1
    sed "s#^path = .*#path = $FIFO#; s#^output = .*#output = points_big_bundle#" points.ini >points_big.ini
    { cat points_big.ini; printf '[report]\nrecords_layer = no\n'; } >points_big_no.ini
    { cat points_big.ini; printf '[report]\nrecords_layer = always\n'; } >points_big_always.ini
    # big N JOB: N million rows through the fifo; one line of the table
    big() {
        sh "$ROOT/benchmarks/ten_times.sh" "$POINTS" "$FIFO" "$1" &
        writer=$!
        if /usr/bin/time -o "$2.$1m.t" -f '%e %U %S %M' "$DF" run -q "$2.ini" >"$2.$1m.log" 2>&1; then
            awk -v n="$1" -v j="$2" '{ printf "  %5dM  %8.1f s  %8.1f s  %8.1f MB  %10.0f%s\n", n, $1, $2 + $3,
                $4 / 1024, n * 1e6 / $1, j ~ /always/ ? "   (records_layer = always)" : "" }' "$2.$1m.t"
        else
            echo "job ${1}M: $2 failed:"
            tail -n 5 "$2.$1m.log"
            status=1
            kill "$writer" 2>/dev/null # the writer, if the run stopped before reading all
        fi
        wait
        rm -rf points_big_bundle # 100M rows leave a 5.5 GB decisions.csv
    }
    echo
    echo "job scale: the same job on N x the 1M points through a fifo, no records layer (issue 12 item 2:"
    echo "  under 1 GB peak RSS at 100M rows, time linear in rows; load average $(cut -d ' ' -f 1-3 /proc/loadavg))"
    printf '  %6s  %10s  %10s  %11s  %10s\n' rows wall CPU "peak RSS" rows/s
    for n in 1 10; do big "$n" points_big_no; done
    if [ "${BENCH_100M:-1}" = 1 ]; then
        big 100 points_big_no
    else
        echo "   100M  skipped (BENCH_100M=0)"
    fi
    big 10 points_big_always
    rm -f "$FIFO"
fi
exit $status
