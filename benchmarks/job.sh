#!/bin/sh
# The whole job of a data round (`dispflow run`) on the synthetic Mosul table
# with the COD-AB governorates and districts, all products, next to the
# stages it is made of, run alone with the same inputs: wall time (median of
# BENCH_RUNS) and peak memory of each whole process.
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
time_it "  density, 5 km radius, 500 m pixels" "$DF" density -q --records "$ET" --boundaries "$ADM2" --status displaced \
    --radius 5000 --pixel 500 --as-of 2017-05-02 -o "$OUT/density.tif" || status=1
exit $status
