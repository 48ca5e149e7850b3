#!/bin/sh
# Install the Debian packages named on the command line that are missing.
# As root: apt-get install them. Otherwise: print the exact command and fail.
# The Python module `dispflow` that tests/test_python.c imports is not a Debian
# package: it is this project's own, built into build/python by `make python`,
# a prerequisite of `make test` (Makefile), and found there through PYTHONPATH.
missing=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "installing missing Debian packages:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends $missing >&2 || {
        apt-get update -q >&2 && apt-get install -y -q --no-install-recommends $missing >&2
    } || { echo "apt-get install failed for:$missing" >&2; exit 1; }
else
    echo "missing Debian packages:$missing" >&2
    echo "install them with:  sudo apt-get install$missing" >&2
    exit 1
fi
