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

# Fuzz smoke: every fuzz target for a few seconds from its seed corpus
# (FUZZ_SECONDS; 0 skips; `make fuzz-smoke` runs them for 60 s each). New
# inputs go to a temporary directory, never into the tracked corpus.
FUZZ_SECONDS=${FUZZ_SECONDS:-5}
if [ "$FUZZ_SECONDS" != 0 ] && echo fuzz | grep -Eq "$ONLY"; then
	if ! command -v clang >/dev/null; then
		failed=$((failed + 1)); failures+=("fuzz (clang missing)"); echo "FAIL fuzz: clang is not installed"
	elif ! make --no-print-directory -f fuzz/fuzz.mk >"$LOGDIR/fuzz-build.log" 2>&1; then
		failed=$((failed + 1)); failures+=("fuzz build"); echo "FAIL fuzz build"
		tail -20 "$LOGDIR/fuzz-build.log" | sed 's/^/     /'
	else
		for src in fuzz/fuzz_*.c; do
			n=$(basename "$src" .c); n=${n#fuzz_}
			new=$(mktemp -d /tmp/brev-fuzz.XXXXXX)
			mkdir -p "fuzz/corpus/$n"
			if timeout $((FUZZ_SECONDS + 60)) "build-fuzz/fuzz_$n" -max_total_time="$FUZZ_SECONDS" \
				-artifact_prefix="$LOGDIR/crash-$n-" "$new" "fuzz/corpus/$n" >"$LOGDIR/fuzz-$n.log" 2>&1; then
				passed=$((passed + 1)); echo "ok   fuzz/$n (${FUZZ_SECONDS}s)"
			else
				failed=$((failed + 1)); failures+=("fuzz/$n")
				echo "FAIL fuzz/$n"; grep -E 'ERROR|SUMMARY|runtime error' "$LOGDIR/fuzz-$n.log" | head -5 | sed 's/^/     /'
			fi
			rm -rf "$new"
		done
	fi
fi

echo "logs: $LOGDIR"
for f in "${failures[@]}"; do echo "failed: $f"; done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
