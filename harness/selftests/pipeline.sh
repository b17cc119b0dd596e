#!/bin/sh
# The pipeline of runs (pipeline in harness/bin/lib.sh, which test-matrix
# and test-vmm-e2e use): the guests boot one at a time and in order, each
# once its run is prepared; the preparation goes on ahead of the boots; a
# run that could not be prepared is reported and not booted, and the runs
# after it still are; a run listed twice runs once, and its TAP is listed
# once (pipeline_taps).
set -eu
# shellcheck source=lib.sh
. "$(dirname -- "$0")/lib.sh"
# shellcheck source=../bin/lib.sh
. "$bin/lib.sh"

# Six runs: preparing one takes 1 s, booting one 3 s; run 3 cannot be
# prepared; run 6 is run 1 again. The events go to a log, one line each,
# as they happen.
log=$tmp/events
: >"$log"
prepare_run() {
	echo "prepare $1 start" >>"$log"
	sleep 1
	echo "prepared $1"
	echo "prepare $1 end" >>"$log"
	[ "$1" -ne 3 ]
}
run_dir() {
	echo "$tmp/run$(($1 % 5))"
}
run_tap() {
	echo "$tmp/tap$(($1 % 5))"
}
pipeline_boot() {
	[ ! -f "$tmp/booting" ] || fail "$1 booted while $(cat "$tmp/booting") boots"
	echo "$1" >"$tmp/booting"
	echo "boot ${1#"$tmp/run"} start" >>"$log"
	sleep 3
	echo "boot ${1#"$tmp/run"} end" >>"$log"
	rm "$tmp/booting"
	echo "ok ${1#"$tmp/run"} booted"
}
pipeline 6 >"$tmp/out" 2>"$tmp/err"
cat "$log" "$tmp/err"

# What it printed, in order: each run's preparation, then its boot.
expected='prepared 1
ok 1 booted
prepared 2
ok 2 booted
prepared 3
TAP version 13
1..1
not ok 1 prepare # exit 1, see above
prepared 4
ok 4 booted
prepared 5
ok 0 booted'
[ "$(cat "$tmp/out")" = "$expected" ] ||
	fail "printed, in this order:
$(cat "$tmp/out")
expected:
$expected"
expect_in "$tmp/err" "left out: run 6 is in the list twice ($tmp/run1)"

# Each boot after its preparation, in order; no run 3.
grep '^boot .* start' "$log" | cut -d' ' -f2 | tr '\n' ' ' >"$tmp/booted"
[ "$(cat "$tmp/booted")" = "1 2 4 0 " ] || fail "booted runs $(cat "$tmp/booted"), expected 1 2 4 0 (5)"
for i in 1 2 4 5; do
	p=$(grep -n "^prepare $i end" "$log" | cut -d: -f1)
	b=$(grep -n "^boot $((i % 5)) start" "$log" | cut -d: -f1)
	[ "$p" -lt "$b" ] || fail "run $i booted before it was prepared"
done
# Ahead of the boots: run 4 was prepared (4 s in) before run 2 had booted
# (7 s in at the earliest). Prepared only once the boot before the one
# before it had ended, it would have been ready at 8 s at the earliest.
p=$(grep -n '^prepare 4 end' "$log" | cut -d: -f1)
b=$(grep -n '^boot 2 end' "$log" | cut -d: -f1)
[ "$p" -lt "$b" ] || fail "run 4 was prepared only after run 2 booted: the preparation waited for the boots"

# The TAP files, each once, in order (pipeline_taps).
taps=$(pipeline_taps 6 | sed 's/ $//')
[ "$taps" = "$tmp/tap1 $tmp/tap2 $tmp/tap3 $tmp/tap4 $tmp/tap0" ] ||
	fail "pipeline_taps 6 listed: $taps"
