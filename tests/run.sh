#!/bin/bash
# Run every unit test binary and every end-to-end test; print one line per
# test and end with "N passed, N failed". Exit 1 if anything failed.
#   BREV     path of the brev binary under test
#   UNITDIR  where the unit test binaries are
#   ONLY     run only tests whose name matches this pattern (grep -E)
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
export BREV="${BREV:-$ROOT/brev}" ROOT
UNITDIR="${UNITDIR:-$ROOT/build/tests}"
ONLY="${ONLY:-.}"
passed=0
failed=0
failures=()
LOGDIR=$(mktemp -d /tmp/brev-test-logs.XXXXXX)

for t in "$UNITDIR"/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	echo "$name" | grep -Eq "$ONLY" || continue
	out=$(cd "$ROOT" && timeout 300 "$t" 2>"$LOGDIR/$name.err")
	rc=$?
	while IFS= read -r line; do
		case "$line" in
		"PASS "*) passed=$((passed + 1)); echo "ok   unit/$name/${line#PASS }" ;;
		"FAIL "*) failed=$((failed + 1)); failures+=("unit/$name/${line#FAIL }")
			echo "FAIL unit/$name/${line#FAIL }" ;;
		esac
	done <<<"$out"
	if [ $rc -ne 0 ] && ! grep -q '^FAIL ' <<<"$out"; then
		failed=$((failed + 1)); failures+=("unit/$name (exit $rc)")
		echo "FAIL unit/$name (exit $rc)"; tail -5 "$LOGDIR/$name.err"
	fi
done

for d in tests/e2e/t-*/; do
	[ -f "$d/run.sh" ] || continue
	name=$(basename "$d")
	echo "$name" | grep -Eq "$ONLY" || continue
	start=$(date +%s)
	(cd "$d" && timeout "${E2E_TIMEOUT:-240}" bash ./run.sh) >"$LOGDIR/$name.log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1)); echo "ok   e2e/$name (${secs}s)"
	else
		failed=$((failed + 1)); failures+=("e2e/$name")
		echo "FAIL e2e/$name (exit $rc, ${secs}s)"; tail -25 "$LOGDIR/$name.log" | sed 's/^/     /'
	fi
done

echo "logs: $LOGDIR"
for f in "${failures[@]}"; do echo "failed: $f"; done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
