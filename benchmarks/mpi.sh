#!/bin/sh
# dispflow-mpi (issue 12 item 4): the bytes each rank exchanges, on the
# standard 1M points and on 2M (the partial aggregates must not grow with
# the rows; the duplicate check's row hashes do, up to its limit), and the
# wall time of the admin-2 join on 1 and 2 ranks against the plain CLI,
# with the outputs compared byte for byte.
#
#   sh benchmarks/mpi.sh BUILD_DIR      (make bench runs it)
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
ADM2=$ROOT/../shared/data/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm2_cso_20190603.shp
GEN=$ROOT/../shared/bench/gen_points.py
case $BUILD in /*) B=$BUILD ;; *) B=$ROOT/$BUILD ;; esac
DF=$B/dispflow
DFM=$B/dispflow-mpi
OUT=$B/bench/mpi
RUNS=${BENCH_RUNS:-3}
if ! command -v mpirun >/dev/null 2>&1 || [ ! -x "$DFM" ]; then
    echo "mpi: SKIPPED (no mpirun, or no $DFM: make MPI=1)"
    exit 0
fi
if [ ! -f "$ADM2" ] || [ ! -f "$GEN" ]; then
    echo "mpi: SKIPPED (../shared/data or ../shared/bench is not there)"
    exit 0
fi
mkdir -p "$OUT" && cd "$OUT" || exit 1
[ -f points_1m.csv ] || /usr/bin/python3 "$GEN" 1000000 points_1m.csv 1 || exit 1
[ -f points_2m.csv ] || /usr/bin/python3 "$GEN" 2000000 points_2m.csv 1 || exit 1
MPIRUN="mpirun --allow-run-as-root --oversubscribe"
JOIN="join -q --boundaries $ADM2 --level adm2"
status=0

echo "mpi: bytes exchanged per rank, admin-2 join (DF_MPI_STATS=1), 2 ranks"
for n in 1m 2m; do
    DF_MPI_STATS=1 $MPIRUN -n 2 "$DFM" $JOIN --records points_$n.csv -o mpi_$n.csv 2>stats_$n.txt || status=1
    awk -v n=$n '/rank 0 of/ { gsub(/[(),]/, " ");
        for (i = 1; i <= NF; i++) { if ($i == "sent" && !s) s = $(i + 1); if ($i == "sent" && $(i - 1) == "check:") d = $(i + 1) }
        printf "  %s rows: rank 0 sent %d bytes: partial aggregates %d, duplicate check %d (%.1f bytes a row)\n",
            n, s, s - d, d, d / (n == "1m" ? 1e6 : 2e6) }' stats_$n.txt
done

# time NAME CMD...: the median wall time of RUNS runs
med() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# time_it FILE LABEL CMD...: FILE.times holds the runs
time_it() {
    key=$1 name=$2
    shift 2
    i=1
    : >"$key.times"
    while [ "$i" -le "$RUNS" ]; do
        /usr/bin/time -o "$key.t" -f '%e' "$@" >"$key.log" 2>&1 || { echo "mpi: $name failed"; status=1; }
        cat "$key.t" >>"$key.times"
        i=$((i + 1))
    done
    printf "  %-32s %6.2f s\n" "$name" "$(med <"$key.times")"
}
echo "mpi: admin-2 join of the standard 1M points, wall time (median of $RUNS), $(nproc) cores"
time_it plain "dispflow (threads)" "$DF" $JOIN --records points_1m.csv -o plain.csv
time_it ranks1 "dispflow-mpi, 1 rank" $MPIRUN -n 1 "$DFM" $JOIN --records points_1m.csv -o r1.csv
time_it ranks2 "dispflow-mpi, 2 ranks" $MPIRUN -n 2 "$DFM" $JOIN --records points_1m.csv -o r2.csv
for f in r1.csv r2.csv; do
    cmp -s plain.csv $f && echo "  $f: the same bytes as one process" || { echo "  $f DIFFERS from one process"; status=1; }
done
exit $status
