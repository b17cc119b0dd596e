#!/bin/sh
# The pipeline of runs (pipeline in harness/bin/lib.sh, which test-matrix
# and test-vmm-e2e use): the guests boot in order, each once its run is
# prepared, one at a time while runs are still to be prepared, and once
# none is, as many as the cores hold (GUEST_CORES=2: two guests of a
# machine of one host core, one of two); the preparation goes on ahead of
# the boots; what each run printed comes out in order; a run that could
# not be prepared is reported and not booted, and the runs after it still
# are; a run listed twice runs once, and its TAP is listed once
# (pipeline_taps); no two guests boot at once while a kernel builds; a run
# that boots alone does so, once no kernel builds, holding the build lock,
# which it leaves with nothing it started; a boot killed from outside
# fails its run; a pipeline stopped while its guests boot stops them.
set -eu
# shellcheck source=lib.sh
. "$(dirname -- "$0")/lib.sh"
# shellcheck source=../bin/lib.sh
. "$bin/lib.sh"

# fake_qemu DIR: DIR/bin/qemu-system-x86_64, a QEMU that writes its pid to
# qemu.pid in the directory of its monitor's pipes (the run's) and sleeps;
# with FAKE_QEMU_FAIL set, it exits at once.
fake_qemu() {
	mkdir -p "$1/bin"
	cat >"$1/bin/qemu-system-x86_64" <<'EOT'
#!/bin/sh
for a; do
	case $a in pipe:*) mon=${a#pipe:} ;; esac
done
# A machine that fails at once, before it opens its monitor's pipes.
[ -z "${FAKE_QEMU_FAIL:-}" ] || exit 1
echo "$$" >"${mon%/monitor}/qemu.pid"
# Opened as QEMU opens them, the monitor's pipes let boot-machine go on.
exec 3<>"$mon.in" 4<>"$mon.out"
exec sleep 30
EOT
	chmod +x "$1/bin/qemu-system-x86_64"
}

# boot_two DIR: a pipeline of two runs in DIR, whose guests boot side by
# side through boot-run and boot-machine on a fake QEMU (fake_qemu).
boot_two() {
	# lib.sh's own pipeline_boot, whichever the test defined.
	# shellcheck source=../bin/lib.sh
	. "$bin/lib.sh"
	fake_qemu "$1"
	PATH=$1/bin:$PATH
	bt_dir=$1
	cache=$1
	run_dir() {
		echo "$bt_dir/run$1"
	}
	run_tap() {
		echo "$bt_dir/run$1.tap"
	}
	prepare_run() {
		mkdir -p "$(run_dir "$1")"
		echo x >"$(run_dir "$1")/bzImage"
		echo x >"$(run_dir "$1")/initramfs.cpio"
		printf 'machine=tcg\nwhat=run %s\nsecs=60\ntap=%s\n' "$1" "$(run_tap "$1")" \
			>"$(run_dir "$1")/boot.conf"
	}
	GUEST_CORES=2 pipeline "$bin/boot-run" 2
}
if [ "${1:-}" = --boot-two ]; then
	boot_two "$2"
	exit
fi
# No kernel build of this machine's (make check builds beside this test)
# holds the pipeline's guests back.
cache=$tmp

# Six runs: preparing one takes 1 s, booting one 3 s (run 2: 5 s, so that
# run 4, booted after it, ends before it); run 3 cannot be prepared; run 6
# is run 1 again; run 5's machine keeps two host cores busy, the others'
# one. The events go to a log, one line each, as they happen.
log=$tmp/events
: >"$log"
prepare_run() {
	echo "prepare $1 start" >>"$log"
	mkdir -p "$(run_dir "$1")"
	machine=tcg
	[ "$1" -ne 5 ] || machine=tcg-vmm
	echo "machine=$machine" >"$(run_dir "$1")/boot.conf"
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
	n=${2#"$tmp/run"}
	echo "boot $n start" >>"$log"
	sleep $((n == 2 ? 5 : 3))
	echo "boot $n end" >>"$log"
	echo "ok $n booted"
}
GUEST_CORES=2 pipeline "$bin/boot-run" 6 >"$tmp/out" 2>"$tmp/err"
# Each boot's start, with how many guests booted beside it and whether the
# last preparation had ended, from the log (the pipeline starts a boot
# only once the boots it waits for have logged their end).
awk '/^prepare 5 end/ { ended = "yes" }
	/^boot .* start/ { print $0, "beside", n + 0, "preparation ended:", ended ? ended : "no"; n++ }
	/^boot .* end/ { n-- }' "$log" >"$tmp/starts"
cat "$log" "$tmp/starts" "$tmp/err"

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

# Each boot after its preparation, in order (runs 2 and 4 may start at
# the same moment); no run 3.
grep '^boot .* start' "$log" | cut -d' ' -f2 | sort | tr '\n' ' ' >"$tmp/booted"
[ "$(cat "$tmp/booted")" = "0 1 2 4 " ] || fail "booted runs $(cat "$tmp/booted"), expected 0 1 2 4 (5)"
for i in 2 4 0; do
	b1=$(grep -n "^boot 1 end" "$log" | cut -d: -f1)
	b=$(grep -n "^boot $i start" "$log" | cut -d: -f1)
	[ "$b1" -lt "$b" ] || fail "run $i booted before run 1 had ended"
done
for i in 1 2 4 5; do
	p=$(grep -n "^prepare $i end" "$log" | cut -d: -f1)
	b=$(grep -n "^boot $((i % 5)) start" "$log" | cut -d: -f1)
	[ "$p" -lt "$b" ] || fail "run $i booted before it was prepared"
done
# One guest at a time while runs were still to be prepared; then as many
# as two cores hold: runs 2 and 4 side by side (run 4 was prepared at 4 s,
# the last run at 5 s; run 2 starts at 4 s at the earliest and lasts 5 s),
# run 5 (two cores) alone, once run 2 had ended too.
! grep -q 'beside [1-9] preparation ended: no' "$tmp/starts" ||
	fail "a second guest booted while runs were still to be prepared"
! grep -q 'beside [2-9]' "$tmp/starts" || fail "more guests booted at once than GUEST_CORES=2 hold"
grep -q '^boot [24] start beside 1 preparation ended: yes' "$tmp/starts" ||
	fail "runs 2 and 4 did not boot side by side once nothing was left to prepare"
grep -q '^boot 0 start beside 0 ' "$tmp/starts" || fail "run 5, of two cores, booted beside another guest"

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

# build_for SECS: a kernel build of SECS seconds elsewhere on the machine:
# a process, $holder, that holds the build lock; back once it does.
build_for() {
	(
		flock 9
		exec sleep "$1"
	) 9>"$cache/kernel-build.lock" &
	holder=$!
	until ! flock -n "$cache/kernel-build.lock" true; do
		sleep 0.1
	done
}

# While a kernel builds on the machine (another holds the build lock), the
# guests boot one at a time, even once nothing is left to prepare.
build_for 30
: >"$log"
prepare_run() {
	mkdir -p "$(run_dir "$1")"
	echo machine=tcg >"$(run_dir "$1")/boot.conf"
}
pipeline_boot() {
	echo "boot start" >>"$log"
	sleep 2
	echo "boot end" >>"$log"
}
GUEST_CORES=2 pipeline "$bin/boot-run" 2 >/dev/null 2>&1
kill "$holder"
[ "$(cat "$log")" = "boot start
boot end
boot start
boot end" ] || fail "two guests booted at once while the build lock was held:
$(cat "$log")"

# A run that boots alone (alone=yes in its boot.conf): no guest boots
# beside it, though nothing is left to prepare and two cores hold two
# guests of its machine.
: >"$log"
prepare_run() {
	mkdir -p "$(run_dir "$1")"
	echo machine=tcg >"$(run_dir "$1")/boot.conf"
	[ "$1" -ne 2 ] || echo alone=yes >>"$(run_dir "$1")/boot.conf"
}
pipeline_boot() {
	echo "boot ${2#"$tmp/run"} start" >>"$log"
	sleep 2
	echo "boot ${2#"$tmp/run"} end" >>"$log"
}
GUEST_CORES=2 pipeline "$bin/boot-run" 3 >/dev/null 2>&1
[ "$(cat "$log")" = "boot 1 start
boot 1 end
boot 2 start
boot 2 end
boot 3 start
boot 3 end" ] || fail "a guest booted beside the run that boots alone:
$(cat "$log")"

# boot-run boots such a run once no kernel builds (the build lock is
# free), and holds the lock while its guest boots.
d=$tmp/alone
fake_qemu "$d"
mkdir -p "$d/run"
echo x >"$d/run/bzImage"
echo x >"$d/run/initramfs.cpio"
printf 'machine=tcg\nwhat=alone\nsecs=60\ntap=%s\nalone=yes\n' "$d/run.tap" >"$d/run/boot.conf"
build_for 30
PATH=$d/bin:$PATH CACHE_DIR=$cache "$bin/boot-run" "$d/run" >"$d/log" 2>&1 &
booter=$!
# stop MESSAGE: stop the boot and the build, then fail with MESSAGE.
stop() {
	kill_tree "$booter"
	kill "$holder" 2>/dev/null || true
	fail "$1"
}
i=0
until grep -q "waiting for another kernel build to finish" "$d/log"; do
	[ ! -s "$d/run/qemu.pid" ] || stop "the guest that boots alone booted while a kernel built"
	[ "$i" -lt 100 ] || stop "boot-run did not wait for the kernel build within 10 s"
	sleep 0.1
	i=$((i + 1))
done
[ ! -s "$d/run/qemu.pid" ] || stop "the guest that boots alone booted while a kernel built"
kill "$holder"
i=0
while [ ! -s "$d/run/qemu.pid" ]; do
	[ "$i" -lt 100 ] || stop "the guest that boots alone did not boot within 10 s of the build's end"
	sleep 0.1
	i=$((i + 1))
done
! flock -n "$cache/kernel-build.lock" true ||
	stop "the guest that boots alone booted without the build lock"
kill_tree "$booter"
# A machine that fails before it opens its monitor's pipes leaves
# boot-machine's reader of them waiting for a writer: boot-run ends, and
# the lock goes with it, not with that reader.
sed -i 's|^tap=.*|tap='"$d"'/failed.tap|' "$d/run/boot.conf"
PATH=$d/bin:$PATH CACHE_DIR=$cache FAKE_QEMU_FAIL=1 timeout 60 "$bin/boot-run" "$d/run" >"$d/log" 2>&1 || true
held=no
flock -n "$cache/kernel-build.lock" true || held=yes
# (Let the reader go: a writer opens the pipe.)
# shellcheck disable=SC2016 # $1 of the inner shell
timeout 5 sh -c ': >"$1"' - "$d/run/monitor.out" || true
[ "$held" = no ] || fail "the build lock still held after boot-run ended: a process of its machine kept it"

# A boot whose process is killed from outside ends as a failed run, and
# the pipeline ends.
prepare_run() {
	mkdir -p "$(run_dir "$1")"
	echo machine=tcg >"$(run_dir "$1")/boot.conf"
}
pipeline_boot() {
	sh -c 'kill -9 "$PPID"'
	sleep 30
}
pipeline "$bin/boot-run" 1 >"$tmp/killed.out" 2>&1 &
p=$!
i=0
while kill -0 "$p" 2>/dev/null; do
	if [ "$i" -ge 10 ]; then
		kill_tree "$p"
		fail "the pipeline still waits 10 s after its boot was killed"
	fi
	sleep 1
	i=$((i + 1))
done
expect_in "$tmp/killed.out" "not ok 1 boot # its process ended before the boot did"

# Stopped while its guests boot, the pipeline stops them: the pipeline's
# own process signalled (TERM), and its whole process group, which does
# not reach the machines (timeout runs each in a group of its own).
# boot_two above: two runs booted by boot-run on a fake QEMU.
for how in pipeline group; do
	d=$tmp/stop-$how
	mkdir -p "$d"
	if [ "$how" = group ]; then
		setsid sh "$0" --boot-two "$d" >"$d.log" 2>&1 &
	else
		boot_two "$d" >"$d.log" 2>&1 &
	fi
	p=$!
	i=0
	while [ ! -s "$d/run1/qemu.pid" ] || [ ! -s "$d/run2/qemu.pid" ]; do
		[ "$i" -lt 20 ] || fail "$how: the two guests did not boot side by side within 20 s"
		sleep 1
		i=$((i + 1))
	done
	if [ "$how" = group ]; then
		kill -s TERM -- "-$p"
	else
		# The pipeline is the subshell that the background job started.
		kill -s TERM "$(cat /proc/[0-9]*/stat 2>/dev/null |
			awk -v p="$p" '{ pid = $1; sub(/.*\) /, ""); if ($2 == p) print pid }')"
	fi
	# (Signalled, they take a moment to go.)
	i=0
	while kill -0 "$p" 2>/dev/null || kill -0 "$(cat "$d/run1/qemu.pid")" 2>/dev/null ||
		kill -0 "$(cat "$d/run2/qemu.pid")" 2>/dev/null; do
		if [ "$i" -ge 10 ]; then
			kill "$(cat "$d/run1/qemu.pid")" "$(cat "$d/run2/qemu.pid")" 2>/dev/null || true
			fail "$how: a guest still ran 10 s after the pipeline was stopped"
		fi
		sleep 1
		i=$((i + 1))
	done
done
