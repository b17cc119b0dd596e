#!/bin/sh
# make check's stages (harness/bin/check): the harness's background tests
# (the fresh root) run niced alongside every other stage, the foreground
# tests at the caller's niceness; the end-to-end runs and the matrix wait
# neither for the background tests, whose guest boots once the matrix's
# are done, nor for the readiness checks, and the report waits for both,
# with their TAP among its files; background tests that stop without TAP
# are reported failed; a check stopped midway stops them and the
# readiness checks.
# Runs check in a copy of the checkout on fake stages that log what they
# do: nothing is built or booted.
# shellcheck disable=SC2016 # the fakes' bodies expand when they run
set -eu
# shellcheck source=lib.sh
. "$(dirname -- "$0")/lib.sh"

copy=$tmp/top
mkdir -p "$copy/harness/bin" "$copy/patches/9.9"
cp "$bin/check" "$bin/lib.sh" "$copy/harness/bin/"
printf '9.9\tseries\taccel\n9.9\tseries\taccel\tkconfig=debug\ttests=suite\talone\n' >"$copy/harness/matrix"
echo 0001-x.patch >"$copy/patches/9.9/series"
BUILD_DIR=$tmp/build
events=$tmp/events
export BUILD_DIR events
res=$BUILD_DIR/results

# fake NAME BODY: a stage of check that runs BODY (sh) with its arguments.
fake() {
	printf '#!/bin/sh\nset -eu\n%s\n' "$2" >"$copy/harness/bin/$1"
	chmod +x "$copy/harness/bin/$1"
}
fake ensure-packages :
fake detect-accel 'echo tcg'
fake valid-bases 'echo 9.9'
# wait_for FILE WHAT: wait until FILE exists, or log "gave up WHAT" after
# 20 s.
wait_for='wait_for() {
	i=0
	until [ -e "$1" ] || [ "$i" -ge 200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -e "$1" ] || echo "gave up $2" >>"$events"
}'
# The readiness checks go on until the matrix has started, and until 3 s
# later (the matrix takes 1 s; $READINESS_SLEEP s). Their pid is in
# $BUILD_DIR/readiness.pid.
fake check-series "$wait_for"'
echo "readiness $1" >>"$events"
echo "$$" >"$BUILD_DIR/readiness.pid"
wait_for "$BUILD_DIR/matrix-started" "waiting for the matrix (readiness)"
sleep "${READINESS_SLEEP:-3}"
mkdir -p "$BUILD_DIR/results/$1"
printf "TAP version 13\n1..1\nok 1 r\n" >"$BUILD_DIR/results/$1/readiness@host.tap"
echo "readiness end" >>"$events"'
# The background tests go on until the matrix has started, then boot their
# guest once check says the guests are done ($BOOT_AFTER), and end;
# $BACKGROUND=stop: they stop without TAP there. Their pid is in
# $BUILD_DIR/background.pid.
fake test-harness "$wait_for"'
group=$2
echo "$group start nice=$(nice)" >>"$events"
name=self
if [ "$group" = background ]; then
	name=background
	echo "$$" >"$BUILD_DIR/background.pid"
	wait_for "$BUILD_DIR/matrix-started" "waiting for the matrix"
	[ -n "${BOOT_AFTER:-}" ] || echo "no BOOT_AFTER" >>"$events"
	wait_for "$BOOT_AFTER" "waiting for BOOT_AFTER"
	[ "${BACKGROUND:-}" != stop ] || { echo "background stopped" >>"$events"; exit 1; }
	echo "background boot" >>"$events"
fi
mkdir -p "$BUILD_DIR/results/harness"
printf "TAP version 13\n1..1\nok 1 %s\n" "$group" >"$BUILD_DIR/results/harness/$name@host.tap"
echo "$group end" >>"$events"'
fake test-vmm-e2e 'echo "e2e" >>"$events"
mkdir -p "$BUILD_DIR/results/9.9"
printf "TAP version 13\n1..1\nok 1 e\n" >"$BUILD_DIR/results/9.9/vmm-e2e-series@tcg-vmm.tap"
echo "$BUILD_DIR/results/9.9/vmm-e2e-series@tcg-vmm.tap" >"$BUILD_DIR/results/vmm-e2e.list"'
# The matrix takes 1 s ($MATRIX=slow: 5 s).
fake test-matrix 'tap=$BUILD_DIR/results/9.9/series@tcg.tap
if [ "$1" = --taps ]; then echo "$tap"; exit 0; fi
echo "matrix start" >>"$events"
echo "runs $*" >>"$events"
touch "$BUILD_DIR/matrix-started"
if [ "${MATRIX:-}" = slow ]; then sleep 5; else sleep 1; fi
printf "TAP version 13\n1..1\nok 1 m\n" >"$tap"
echo "matrix end" >>"$events"'
fake report 'echo "report $*" >>"$events"
for f; do [ -s "$f" ] || { echo "report: no $f" >>"$events"; exit 1; }; done
cat "$@"
! grep -q "^not ok" "$@"'

niced=$(($(nice) + 10))
[ "$niced" -le 19 ] || niced=19
# A gate left by an earlier check is no longer open.
mkdir -p "$res"
for background in pass stop; do
	: >"$events"
	rm -f "$BUILD_DIR/matrix-started"
	touch "$res/guests-done"
	status=0
	BACKGROUND=$background timeout 60 "$copy/harness/bin/check" >"$tmp/out" 2>&1 || status=$?
	! grep -q '^gave up waiting for the matrix (readiness)' "$events" || fail "the matrix waited for the readiness checks"
	! grep -q '^gave up waiting for the matrix$' "$events" || fail "the matrix waited for the background tests"
	! grep -q '^gave up waiting for BOOT_AFTER' "$events" || fail "check did not say when the guests were done"
	if [ "$background" = stop ]; then want=1; else want=0; fi
	[ "$status" -eq "$want" ] || { cat "$tmp/out" "$events"; fail "check ($background): exit $status, expected $want"; }
	expect_in "$events" "background start nice=$niced"
	expect_in "$events" "foreground start nice=$(nice)"
	# The matrix starts before the background tests end, and ends before
	# their guest boots; the report comes last.
	order=$(grep -e '^matrix' -e '^background \(boot\|end\|stopped\)' -e '^report' "$events" | cut -d' ' -f1-2 | tr '\n' ,)
	case $order in
	"matrix start,matrix end,background boot,background end,report "* | \
		"matrix start,matrix end,background stopped,report "*) ;;
	*) cat "$events"; fail "stages in the order $order" ;;
	esac
	expect_in "$events" "$res/harness/background@host.tap"
	expect_in "$events" "$res/9.9/readiness@host.tap"
	[ "$(grep -n '^readiness end' "$events" | cut -d: -f1)" -lt "$(grep -n '^report' "$events" | cut -d: -f1)" ] ||
		{ cat "$events"; fail "the report did not wait for the readiness checks"; }
	expect_in "$events" "$res/9.9/series@tcg.tap"
	# harness/matrix's lines, as runs: the options in their fields.
	expect_in "$events" "runs --no-report 9.9:series:tcg::: 9.9:series:tcg:debug:suite:alone"
	if [ "$background" = stop ]; then
		expect_in "$tmp/out" "not ok 1 test-harness --only background # stopped early"
	else
		expect_in "$tmp/out" "ok 1 background"
	fi
done

# A check stopped during the matrix (SIGTERM to check alone, which takes
# it once the matrix has ended) stops its background tests and the
# readiness checks.
: >"$events"
rm -f "$BUILD_DIR/matrix-started" "$BUILD_DIR/background.pid" "$BUILD_DIR/readiness.pid"
MATRIX=slow READINESS_SLEEP=60 "$copy/harness/bin/check" >"$tmp/out" 2>&1 &
check=$!
i=0
until grep -q '^matrix start' "$events" && [ -s "$BUILD_DIR/background.pid" ] && [ -s "$BUILD_DIR/readiness.pid" ] || [ "$i" -ge 200 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill -s TERM "$check"
wait "$check" || true
sleep 1
for job in background readiness; do
	outlived "$(cat "$BUILD_DIR/$job.pid")" "the $job job outlived a stopped check"
done
