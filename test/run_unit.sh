#!/bin/sh
# Runs every cmocka binary in DIR; fails if any fails. Usage: run_unit.sh DIR
set -u
dir=$1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
status=0
for t in "$dir"/test_*; do
    [ -x "$t" ] || continue
    if ! "$t"; then
        echo "FAILED: $t" >&2
        status=1
    fi
done
exit $status
