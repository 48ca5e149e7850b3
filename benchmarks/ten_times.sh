#!/bin/sh
# Write the 1M points file's data lines N times over (default 10), with new
# ids, to OUT (a fifo, so that nothing of that size touches the disk as CSV).
#   sh benchmarks/ten_times.sh POINTS.csv OUT.csv [N] &
# (mawk: index/substr; a sub() with a regex here is pathologically slow)
p=$1
out=$2
n=${3:-10}
i=0
set --
while [ "$i" -lt "$n" ]; do
    set -- "$@" "$p"
    i=$((i + 1))
done
LC_ALL=C exec awk 'NR == 1 { print; next }
                   FNR == 1 { next }
                   { print id++ substr($0, index($0, ",")) }' \
    "$@" >"$out"
