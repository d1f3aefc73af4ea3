#!/usr/bin/env bash
# Runs every unit-test program given as arguments, then every tests/e2e_*.sh,
# and ends with one line "N passed, N failed". Exit status: 0 iff none failed.
# The e2e scripts find the program under test in $NNZOO.
set -u
passed=0 failed=0 failures=()
for t in "$@"; do
    if "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$t"); fi
done
for t in tests/e2e_*.sh; do
    [ -e "$t" ] || continue
    echo "== $t"
    if bash "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$t"); fi
done
[ ${#failures[@]} -gt 0 ] && printf 'FAILED: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
