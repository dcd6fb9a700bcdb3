#!/bin/bash
# The whole test suite: every unit test binary and every end-to-end test,
# once per build under test, then every fuzz target once. One line per test
# ("ok   PASS/KIND/NAME", "FAIL ..." or "skip ..."), in a fixed order
# whatever order the tests finish in; the last line is "N passed, N failed,
# N skipped"; the exit status is 1 if anything failed (or, under CI=true,
# was skipped).
#
# A test that cannot run here says so and skips: an end-to-end test exits
# 77 (lib.sh's skip), a unit test prints "SKIP name: why" (harness.h's
# SKIP). Under CI=true a skip fails the run as a failure would (exit 1,
# with a line naming each skipped test): CI installs every dependency
# (tools/deps.sh test), so a skip there is a hole, not a missing package.
#
#   PASSES        the builds to test, in this order: "rel" (./brev with
#                 build/tests) and "san" (./brev-san with build-san/tests:
#                 ASan+UBSan); `make test` sets "rel san". Unset: one pass
#                 over $BREV and $UNITDIR (default ./brev and build/tests),
#                 called "san" if $BREV ends in -san, else "rel".
#   ONLY          only the tests whose name matches (grep -E): test_util,
#                 t-20-smtp-clients, '^t-4', fuzz
#   JOBS          tests run at once (default 3). Unit tests, and an
#                 end-to-end test whose folder has a file SERIAL, run
#                 alone; a test never runs beside its own copy from the
#                 other pass; no more fuzz targets run at once than there
#                 are CPUs.
#   E2E_TIMEOUT   seconds before a hung end-to-end test is stopped (240)
#   FUZZ_SECONDS  seconds per fuzz target (20: the fuzz smoke of issue 10,
#                 halved from 60 when the targets passed 25, then 20 from 30
#                 when they passed 32, to keep
#                 `make test` under 25 minutes; `make fuzz-smoke` keeps 60;
#                 0 skips them)
#
# A sanitizer report from any sanitized process of a test (brev-san,
# brev-tray, the unit test itself) fails that test, even if the test
# passed: ASan and LSan write theirs into a directory of the test's own
# (ASAN_OPTIONS log_path), wherever the process's stderr went; GCC's UBSan
# writes to stderr only, so the test's output is searched, and lib.sh
# searches the test's files (serve.log) before it removes them.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
export ROOT
ONLY=${ONLY:-.}
JOBS=${JOBS:-3}
E2E_TIMEOUT=${E2E_TIMEOUT:-240}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
case "$JOBS" in '' | *[!0-9]* | 0) echo "JOBS must be a positive number" >&2; exit 2 ;; esac
LOGDIR=$(mktemp -d /tmp/brev-test-logs.XXXXXX)
export LOGDIR # tests keep artefacts (screenshots) there
# brev may drop root privileges (t-03 runs it as nobody): its sanitizer
# reports must still reach $LOGDIR/san/.
chmod 755 "$LOGDIR"
mkdir -p "$LOGDIR/job" "$LOGDIR/san"
chmod 1777 "$LOGDIR/san"
T0=$(date +%s)

# ---- the passes ----
P_NAME=() P_BREV=() P_UNIT=()
add_pass() { P_NAME+=("$1"); P_BREV+=("$2"); P_UNIT+=("$3"); }
if [ -n "${PASSES:-}" ]; then
	for p in $PASSES; do
		case "$p" in
		rel) add_pass rel "$ROOT/brev" "$ROOT/build/tests" ;;
		san) add_pass san "$ROOT/brev-san" "$ROOT/build-san/tests" ;;
		*) echo "PASSES: unknown pass '$p' (rel, san)" >&2; exit 2 ;;
		esac
	done
else
	b=${BREV:-$ROOT/brev}
	case "$b" in *-san) p=san ;; *) p=rel ;; esac
	add_pass "$p" "$b" "${UNITDIR:-$ROOT/build/tests}"
fi

# ---- the job list, in the order the results are printed ----
J_KIND=() J_PASS=() J_NAME=() J_PATH=() J_SERIAL=()
add_job() { J_KIND+=("$1"); J_PASS+=("$2"); J_NAME+=("$3"); J_PATH+=("$4"); J_SERIAL+=("${5:-0}"); }
for pi in "${!P_NAME[@]}"; do
	for t in "${P_UNIT[$pi]}"/test_*; do
		[ -x "$t" ] && [ -f "$t" ] || continue
		n=$(basename "$t")
		echo "$n" | grep -Eq "$ONLY" || continue
		# One at a time, as they always ran: several time what they do
		# (test_sasl compares password checks, test_conn and
		# test_imap_session bound time-outs) and would measure the
		# tests beside them.
		add_job unit "$pi" "$n" "$t" 1
	done
	for d in tests/e2e/t-*/; do
		[ -f "$d/run.sh" ] || continue
		n=$(basename "$d")
		echo "$n" | grep -Eq "$ONLY" || continue
		add_job e2e "$pi" "$n" "$ROOT/$d" "$([ -e "$d/SERIAL" ] && echo 1 || echo 0)"
	done
done
fuzz_wanted=0
if [ "$FUZZ_SECONDS" != 0 ] && echo fuzz | grep -Eq "$ONLY"; then
	fuzz_wanted=1
	for src in fuzz/fuzz_*.c; do
		n=$(basename "$src" .c)
		add_job fuzz "" "${n#fuzz_}" "$ROOT/build-fuzz/$n"
	done
fi
NJ=${#J_KIND[@]}

label() { # job -> PASS/KIND/NAME
	local i=$1
	if [ "${J_KIND[$i]}" = fuzz ]; then echo "fuzz/${J_NAME[$i]}"; else
		echo "${P_NAME[${J_PASS[$i]}]}/${J_KIND[$i]}/${J_NAME[$i]}"
	fi
}

echo "# passes: ${P_NAME[*]}; $NJ jobs, $JOBS at a time; logs in $LOGDIR"

# ---- things built once, before tests that need them run in parallel ----
# brev-tray: every tray test would otherwise run `make tray` itself, and
# two of them at once would write the same files (a no-op when make test
# built it already).
for pi in "${!P_NAME[@]}"; do
	for i in $(seq 0 $((NJ - 1))); do
		[ "${J_KIND[$i]}" = e2e ] && [ "${J_PASS[$i]}" = "$pi" ] || continue
		case "${J_NAME[$i]}" in t-6*) ;; *) continue ;; esac
		san=
		[ "${P_NAME[$pi]}" = san ] && san=address,undefined
		env -u MAKEFLAGS -u MAKELEVEL make --no-print-directory tray SANITIZE=$san \
			>"$LOGDIR/tray-build-${P_NAME[$pi]}.log" 2>&1 || true # the tests report it
		break
	done
done

# Completion events: every job writes its number to this FIFO when it ends.
mkfifo "$LOGDIR/done"
exec 3<>"$LOGDIR/done"

# The fuzz targets (clang) build in the background while the other tests run.
FUZZ_BUILD= # "", running, ok, failed
if [ $fuzz_wanted = 1 ]; then
	if ! command -v clang >/dev/null; then
		FUZZ_BUILD=failed
		echo "clang is not installed" >"$LOGDIR/fuzz-build.log"
	else
		FUZZ_BUILD=running
		(
			env -u MAKEFLAGS -u MAKELEVEL make --no-print-directory -f fuzz/fuzz.mk \
				>"$LOGDIR/fuzz-build.log" 2>&1 </dev/null 3>&-
			echo "build $?" >&3
		) &
	fi
fi

# ---- running one job ----
# The command runs under timeout(1), which gives it a process group of its
# own (recorded in job/N.pgid); lib.sh's EXIT trap signals that group. When
# it has ended, anything the test left in its group gets up to 10 s to go
# (a sanitized process writes its leak report at exit), then is killed, so
# nothing of one test outlives it beside the next.
run_job() {
	local i=$1 pass=${J_PASS[$i]} start rc sandir env=()
	start=$(date +%s)
	sandir=$LOGDIR/san/$i
	if [ -n "$pass" ]; then
		env+=("BREV=${P_BREV[$pass]}")
		if [ "${P_NAME[$pass]}" = san ]; then
			mkdir -p "$sandir" && chmod 1777 "$sandir"
			# LSan's reports follow ASan's log_path; UBSan's go to
			# stderr (see san_reports). brev-san is built with
			# -fno-sanitize-recover=all: the first finding ends the
			# process, whatever these say.
			env+=("ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}halt_on_error=1:detect_leaks=1:log_path=$sandir/asan"
				"UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1")
		fi
	fi
	case "${J_KIND[$i]}" in
	unit)
		(cd "$ROOT" && exec env "${env[@]}" timeout 300 "${J_PATH[$i]}") \
			>"$LOGDIR/job/$i.out" 2>"$LOGDIR/job/$i.err" </dev/null 3>&- &
		;;
	e2e)
		# -k: a test whose clean-up hangs after the time-out is killed
		# 30 s later, so one test cannot hold up the run without bound.
		(cd "${J_PATH[$i]}" && exec env "${env[@]}" timeout -k 30 "$E2E_TIMEOUT" bash ./run.sh) \
			>"$LOGDIR/job/$i.out" 2>&1 </dev/null 3>&- &
		;;
	fuzz)
		# New inputs go to a temporary directory, never into the
		# tracked corpus.
		local n=${J_NAME[$i]}
		mkdir -p "fuzz/corpus/$n" "$LOGDIR/fuzz-new-$n"
		local dict=() # fuzz/NAME.dict, libFuzzer's dictionary, when there is one
		[ -f "fuzz/$n.dict" ] && dict=(-dict="fuzz/$n.dict")
		timeout $((FUZZ_SECONDS + 60)) "${J_PATH[$i]}" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
			"${dict[@]}" -artifact_prefix="$LOGDIR/crash-$n-" "$LOGDIR/fuzz-new-$n" "fuzz/corpus/$n" \
			>"$LOGDIR/job/$i.out" 2>&1 </dev/null 3>&- &
		;;
	esac
	local pid=$! watch=
	echo "$pid" >"$LOGDIR/job/$i.pgid"
	# What a test that runs into its time-out was doing: its processes
	# just before timeout(1) signals them.
	if [ "${J_KIND[$i]}" = e2e ]; then
		(
			trap 'kill $s 2>/dev/null; exit 0' TERM
			sleep $((E2E_TIMEOUT - 1)) 3>&- &
			s=$!
			wait $s
			ps -eo pgid,pid,ppid,stat,etimes,time,wchan:24,args 3>&- |
				awk -v g="$pid" 'NR == 1 || $1 == g' >"$LOGDIR/job/$i.hung"
		) &
		watch=$!
	fi
	wait "$pid" 2>/dev/null # (no "Killed" line from bash)
	rc=$?
	[ -n "$watch" ] && kill "$watch" 2>/dev/null
	local k=0
	while kill -0 -- "-$pid" 2>/dev/null && [ $k -lt 100 ]; do
		sleep 0.1
		k=$((k + 1))
	done
	[ $k -lt 100 ] || kill -KILL -- "-$pid" 2>/dev/null
	[ "${J_KIND[$i]}" = fuzz ] && rm -rf "$LOGDIR/fuzz-new-${J_NAME[$i]}"
	echo "$rc $(($(date +%s) - start)) $start $(date +%s) $k $(label "$i")" >"$LOGDIR/job/$i.rc"
	echo "$i" >&3
}

# On ^C or SIGTERM: stop every running test's process group, then leave.
interrupted() {
	trap - INT TERM
	local f
	for f in "$LOGDIR"/job/*.pgid; do
		[ -f "$f" ] && [ ! -f "${f%.pgid}.rc" ] && kill -TERM -- "-$(cat "$f")" 2>/dev/null
	done
	echo "interrupted; logs: $LOGDIR"
	exit 130
}
trap interrupted INT TERM

# ---- printing one job's result ----
passed=0
failed=0
skipped=0
failures=()
skips=()
pass_() { passed=$((passed + 1)); echo "ok   $1"; }
fail_() { failed=$((failed + 1)); failures+=("$1"); echo "FAIL $1${2:+ ($2)}"; }
skip_() { skipped=$((skipped + 1)); skips+=("$1"); echo "skip $1${2:+ ($2)}"; }
indent() { sed 's/^/     /'; }

# san_reports BASE: true, and the reports shown, if a sanitized process
# of the job reported anything: into the job's log_path directory
# BASE.san/ (ASan, LSan) or into its output BASE.log, BASE.err (UBSan
# writes to stderr; lib.sh shows what it found in a test's files).
SAN_RE='==[0-9]+==ERROR: [A-Za-z]+Sanitizer|(^|: )runtime error: '
san_reports() {
	local f found=1
	for f in "$1".san/* "$1.log" "$1.err"; do
		[ -f "$f" ] && grep -qE "$SAN_RE" "$f" || continue
		found=0
		echo "     sanitizer report in $f:"
		grep -E -A8 "$SAN_RE" "$f" | head -30 | indent
	done
	return $found
}

# report N: job N's lines. Its files become LOGDIR/PASS_KIND_NAME.log
# (stdout and stderr; a unit test's stderr in .err) and .san/.
report() {
	local i=$1 lab base rc secs line had_fail=0
	lab=$(label "$i")
	base=$LOGDIR/${lab//\//_}
	read -r rc secs _ <"$LOGDIR/job/$i.rc"
	mv "$LOGDIR/job/$i.out" "$base.log"
	[ -f "$LOGDIR/job/$i.err" ] && mv "$LOGDIR/job/$i.err" "$base.err"
	[ -d "$LOGDIR/san/$i" ] && mv "$LOGDIR/san/$i" "$base.san"
	case "${J_KIND[$i]}" in
	unit)
		while IFS= read -r line; do
			case "$line" in
			"PASS "*) pass_ "$lab/${line#PASS }" ;;
			"FAIL "*) fail_ "$lab/${line#FAIL }"; had_fail=1 ;;
			"SKIP "*)
				line=${line#SKIP }
				skip_ "$lab/${line%%: *}" "${line#*: }"
				;;
			esac
		done <"$base.log"
		if [ $had_fail = 1 ]; then :
		elif [ "$rc" -ne 0 ]; then
			fail_ "$lab" "exit $rc"
			tail -5 "$base.err" | indent
		elif san_reports "$base" >/dev/null; then
			fail_ "$lab" "sanitizer report"
		fi
		san_reports "$base"
		;;
	e2e)
		if [ "$rc" -eq 0 ] && ! san_reports "$base" >/dev/null; then
			pass_ "$lab (${secs}s)"
		elif [ "$rc" -eq 77 ] && ! san_reports "$base" >/dev/null; then
			# lib.sh's skip: "SKIP: why" is the test's reason
			skip_ "$lab" "$(sed -n 's/^SKIP: //p' "$base.log" | tail -1), ${secs}s"
		else
			if [ "$rc" -eq 0 ]; then fail_ "$lab" "sanitizer report, ${secs}s"; else
				fail_ "$lab" "exit $rc, ${secs}s"
				tail -25 "$base.log" | indent
			fi
			if [ -s "$LOGDIR/job/$i.hung" ]; then
				echo "     its processes at the time-out:"
				indent <"$LOGDIR/job/$i.hung"
			fi
			san_reports "$base"
		fi
		;;
	fuzz)
		if [ "$rc" -eq 0 ]; then
			pass_ "$lab (${FUZZ_SECONDS}s, $(sed -n 's/^stat::number_of_executed_units: *//p' "$base.log") runs)"
		else
			fail_ "$lab"
			grep -E 'ERROR|SUMMARY|runtime error' "$base.log" | head -5 | indent
		fi
		;;
	esac
	return 0
}

# ---- the scheduler ----
# Jobs start in list order, at most JOBS at once; a SERIAL job waits until
# nothing runs and nothing starts beside it; a job whose copy from the other
# pass is running is passed over until that copy ends; the fuzz targets wait
# for their build.
STATE=() # "", run, done, nobuild (its fuzz build failed)
for i in $(seq 0 $((NJ - 1))); do STATE[i]=; done
running=0
serial_running=0
printed=0
fuzz_build_reported=0
fuzz_running=0
FUZZ_JOBS=$(nproc 2>/dev/null || echo 1)

declare -A E2E_RUNNING=() # name -> 1 while an end-to-end test of that name runs

schedule() {
	local i
	for i in $(seq "$printed" $((NJ - 1))); do
		[ -z "${STATE[$i]}" ] || continue
		[ $serial_running = 0 ] && [ $running -lt "$JOBS" ] || return
		if [ "${J_KIND[$i]}" = fuzz ]; then
			case "$FUZZ_BUILD" in
			running) return ;;
			failed) STATE[i]=nobuild; continue ;;
			esac
			# CPU-bound for a fixed time: one CPU each
			[ $fuzz_running -lt "$FUZZ_JOBS" ] || return
			fuzz_running=$((fuzz_running + 1))
		fi
		if [ "${J_SERIAL[$i]}" = 1 ]; then
			[ $running = 0 ] || return
			serial_running=1
		elif [ "${J_KIND[$i]}" = e2e ] && [ -n "${E2E_RUNNING[${J_NAME[$i]}]:-}" ]; then
			continue
		fi
		[ "${J_KIND[$i]}" = e2e ] && E2E_RUNNING[${J_NAME[$i]}]=1
		STATE[i]=run
		running=$((running + 1))
		run_job "$i" &
	done
}

print_ready() {
	while [ "$printed" -lt "$NJ" ]; do
		case "${STATE[$printed]}" in
		done) report "$printed" ;;
		nobuild)
			if [ $fuzz_build_reported = 0 ]; then
				fuzz_build_reported=1
				fail_ "fuzz build"
				tail -20 "$LOGDIR/fuzz-build.log" | indent
			fi
			;;
		*) return ;;
		esac
		printed=$((printed + 1))
	done
}

schedule
print_ready
while [ "$printed" -lt "$NJ" ]; do
	read -r ev <&3 || break
	case "$ev" in
	"build "*)
		if [ "${ev#build }" = 0 ]; then FUZZ_BUILD=ok; else FUZZ_BUILD=failed; fi
		;;
	*)
		STATE[ev]=done
		running=$((running - 1))
		[ "${J_KIND[$ev]}" = e2e ] && unset "E2E_RUNNING[${J_NAME[$ev]}]"
		[ "${J_SERIAL[$ev]}" = 1 ] && serial_running=0
		[ "${J_KIND[$ev]}" = fuzz ] && fuzz_running=$((fuzz_running - 1))
		;;
	esac
	schedule
	print_ready
done
# A fuzz build that failed with no fuzz job left to report it.
if [ "$FUZZ_BUILD" = failed ] && [ $fuzz_build_reported = 0 ]; then
	fail_ "fuzz build"
	tail -20 "$LOGDIR/fuzz-build.log" | indent
fi
wait

echo "logs: $LOGDIR ($(($(date +%s) - T0)) s)"
for f in "${failures[@]}"; do echo "failed: $f"; done
for f in "${skips[@]}"; do echo "skipped: $f"; done
if [ "${CI:-}" = true ] && [ $skipped -gt 0 ]; then
	echo "CI=true: $skipped skipped test(s) fail the run (CI has every dependency: tools/deps.sh test): ${skips[*]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ] && { [ "${CI:-}" != true ] || [ $skipped -eq 0 ]; }
