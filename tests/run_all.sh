#!/usr/bin/env bash
# Runs every unit-test program given as arguments, then every tests/e2e_*.sh,
# and ends with one line "N passed, N failed". Exit status: 0 iff none failed.
# The e2e scripts find the program under test in $NNZOO.
set -u
# Idle OpenMP threads sleep instead of spinning: tests check numbers, not
# speed, and spinning threads starve the working ones whenever the machine
# has other load (test_ops: 47 s against 0.9 s on a loaded 2-core box).
# nnzoo itself keeps the user's setting, so the e2e runs inherit this too.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
passed=0 failed=0 failures=()
# Each program's wall time is printed after it, so the slow ones stay
# visible (CI's budget for all of `make test` is 10 minutes on 2 cores).
timed() { local start=$SECONDS; "$@"; local rc=$?; echo "-- $* took $((SECONDS - start)) s"; return $rc; }
for t in "$@"; do
    if timed "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$t"); fi
done
for t in tests/e2e_*.sh; do
    [ -e "$t" ] || continue
    echo "== $t"
    if timed bash "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$t"); fi
done
[ ${#failures[@]} -gt 0 ] && printf 'FAILED: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
