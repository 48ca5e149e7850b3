#!/bin/sh
# Write the 1M points file's data lines ten times over, with new ids, to OUT
# (a fifo, so that nothing of that size touches the disk as CSV).
#   sh benchmarks/ten_times.sh POINTS.csv OUT.csv &
# (mawk: index/substr; a sub() with a regex here is pathologically slow)
p=$1
LC_ALL=C exec awk 'NR == 1 { print; next }
                   FNR == 1 { next }
                   { print id++ substr($0, index($0, ",")) }' \
    "$p" "$p" "$p" "$p" "$p" "$p" "$p" "$p" "$p" "$p" >"$2"
