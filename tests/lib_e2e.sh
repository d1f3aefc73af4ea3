# Sourced by the tests/e2e_*.sh scripts (not one itself: run_all.sh runs
# tests/e2e_*.sh): a scratch folder $T removed on exit, the pass and fail
# counts, and the checks they all use.
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && printf '     %s\n' "$2"; }

# expect_error NAME EXIT_CODE PATTERN -- command...: the command must exit
# with EXIT_CODE and print exactly one line on stderr matching PATTERN.
expect_error() {
    local name=$1 code=$2 pattern=$3
    shift 4
    "$@" >"$T/out" 2>"$T/err"
    local got=$?
    local lines
    lines=$(wc -l <"$T/err")
    if [ "$got" -ne "$code" ]; then bad "$name" "exit $got, expected $code: $(cat "$T/err")"
    elif [ "$lines" -ne 1 ]; then bad "$name" "expected one line on stderr, got $lines: $(cat "$T/err")"
    elif ! grep -qE -- "$pattern" "$T/err"; then bad "$name" "message: $(cat "$T/err") -- expected /$pattern/"
    else ok "$name"; fi
}
