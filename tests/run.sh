#!/bin/sh
# Run every test binary of a build; print each file's results and the total.
# usage: tests/run.sh BUILD_DIR   (from the repository root)
build=${1:-build}
# under ASan: leaks inside other libraries' one-time caches are not ours
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
passed=0 failed=0 broken=""
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    echo "== $(basename "$t")"
    out=$("$t" 2>&1); rc=$?
    echo "$out" | grep -v '^ok ' 
    line=$(echo "$out" | tail -n 1)
    p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    f=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    if [ -z "$p" ]; then
        broken="$broken $(basename "$t")(exit $rc)"; failed=$((failed + 1))
    else
        passed=$((passed + p)); failed=$((failed + f))
        [ "$rc" = 0 ] || [ "$f" != 0 ] || { broken="$broken $(basename "$t")(exit $rc)"; failed=$((failed + 1)); }
    fi
done
[ -z "$broken" ] || echo "crashed or exited non-zero:$broken"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
