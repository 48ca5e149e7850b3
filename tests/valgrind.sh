#!/bin/sh
# Every test binary of a build, and the CLI's join and run on the embedded
# sample, under valgrind's memcheck: any invalid read or write, use of an
# uninitialised value, or a definite leak fails (docs/robustness.md).
# Leaks inside the libraries we link (GDAL, PROJ, fontconfig, ...) that are
# not ours to fix are listed, with why, in tests/valgrind.supp.
#
# usage: tests/valgrind.sh BUILD_DIR [TEST_NAME...]   (from the repository root)
#   make valgrind                       every test binary, then the CLI
#   make valgrind VALGRIND_TESTS="test_job test_csv"
# Logs: BUILD_DIR/valgrind/<name>.log (with a suppression for each reported
# error, to copy into tests/valgrind.supp when a leak is truly not ours).
# test_faults is skipped: it preloads its own allocator into child processes.
build=${1:-build}
shift
names="$*"
[ -n "$names" ] || names=$(cd "$build/tests" && ls test_* | grep -v '\.' | grep -v '^test_faults$')
logs="$build/valgrind"
mkdir -p "$logs"
vg="valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite
    --error-exitcode=99 --num-callers=30 --suppressions=tests/valgrind.supp --gen-suppressions=all"
failed=""
for name in $names; do
    t="$build/tests/$name"
    [ -x "$t" ] || { echo "no such test binary: $t"; failed="$failed $name"; continue; }
    printf '== %-20s ' "$name"
    start=$(date +%s)
    $vg --log-file="$logs/$name.log" "$t" > "$logs/$name.out" 2>&1
    rc=$?
    summary=$(grep -E "ERROR SUMMARY|definitely lost:" "$logs/$name.log" | sed 's/^==[0-9]*== *//' | tr '\n' ' ')
    echo "exit $rc, $(($(date +%s) - start)) s: $summary"
    [ "$rc" = 0 ] || failed="$failed $name"
done

# the CLI itself, on the embedded sample: a join and a whole run
tmp=$(mktemp -d /tmp/dispflow-valgrind-XXXXXX)
"$build/dispflow" sample -o "$tmp/sample.csv" > /dev/null 2>&1
cat > "$tmp/job.ini" <<EOF
[job]
output = bundle
[records]
path = sample.csv
[boundaries]
adm1 = $(pwd)/shapes/iraq_adm1_naturalearth.geojson
[density]
radius = 10000
pixel = 5000
EOF
for verb in join run; do
    printf '== %-20s ' "dispflow $verb"
    start=$(date +%s)
    if [ "$verb" = join ]; then
        $vg --log-file="$logs/cli-join.log" "$build/dispflow" join -q --records "$tmp/sample.csv" \
            --boundaries shapes/iraq_adm1_naturalearth.geojson --level adm1 -o "$tmp/join.gpkg" \
            --log "$tmp/decisions.csv" > "$logs/cli-join.out" 2>&1
    else
        $vg --log-file="$logs/cli-run.log" "$build/dispflow" run -q "$tmp/job.ini" > "$logs/cli-run.out" 2>&1
    fi
    rc=$?
    summary=$(grep -E "ERROR SUMMARY|definitely lost:" "$logs/cli-$verb.log" | sed 's/^==[0-9]*== *//' | tr '\n' ' ')
    echo "exit $rc, $(($(date +%s) - start)) s: $summary"
    [ "$rc" = 0 ] || failed="$failed dispflow-$verb"
done
rm -rf "$tmp"

if [ -n "$failed" ]; then
    echo "valgrind: errors or definite leaks in:$failed (see $logs/)"
    exit 1
fi
echo "valgrind: no errors, no definite leaks"
