#!/bin/sh
# Run every test binary of a build; print each file's results and the total
# "N passed, N failed, N skipped". Under CI (CI=true) a skipped test, for
# missing data or a missing tool, is a failure: CI must run everything.
# usage: tests/run.sh BUILD_DIR   (from the repository root)
build=${1:-build}
# under ASan: leaks inside other libraries' one-time caches are not ours
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
passed=0 failed=0 skipped=0 broken=""
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    # a binary whose source is gone (a renamed test) is a leftover of an old build
    [ -f "tests/$(basename "$t").c" ] || { echo "== $(basename "$t"): no tests/$(basename "$t").c, a stale binary: not run"; continue; }
    echo "== $(basename "$t")"
    out=$("$t" 2>&1); rc=$?
    echo "$out" | grep -v '^ok '
    line=$(echo "$out" | tail -n 1)
    counts=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p')
    if [ -z "$counts" ]; then
        broken="$broken $(basename "$t")(exit $rc)"; failed=$((failed + 1))
    else
        set -- $counts
        passed=$((passed + $1)); failed=$((failed + $2)); skipped=$((skipped + $3))
        [ "$rc" = 0 ] || [ "$2" != 0 ] || { broken="$broken $(basename "$t")(exit $rc)"; failed=$((failed + 1)); }
    fi
done
[ -z "$broken" ] || echo "crashed or exited non-zero:$broken"
echo "$passed passed, $failed failed, $skipped skipped"
if [ "$skipped" != 0 ] && [ "$CI" = true ]; then
    echo "CI=true: $skipped skipped tests count as failures (the SKIPPED lines above say what is missing)"
    exit 1
fi
[ "$failed" = 0 ]
