#!/bin/sh
# A test that hangs is killed after its own timeout and reported; a guest
# that hangs as a whole is killed from outside and reported with its last
# console lines.
# harness: alongside
set -eu
# shellcheck source=lib.sh
. "$(dirname -- "$0")/lib.sh"

base=$("$bin/valid-bases" | cut -d' ' -f1)
# Niced: a kernel that must be built first builds beside the other tests
# (test-harness runs this one alongside them), whose timing it must not
# upset.
kdir=$(nice -n 10 "$bin/kernel-image" "$base" series)
printf 'int main(void) { for (;;) ; }\n' >"$tmp/spin.c"
mkdir -p "$tmp/bin"
gcc -static -o "$tmp/bin/spin" "$tmp/spin.c"

printf 'spin 3\n' >"$tmp/list"
"$bin/make-initramfs" "$tmp/initrd" "$tmp/list" "$tmp/bin" "$kdir/modules"
status=0
"$bin/boot-machine" tcg "$kdir/bzImage" "$tmp/initrd" "$tmp/console" 120 || status=$?
"$bin/console-to-tap" "$tmp/console" "$status" 120 >"$tmp/tap"
expect_in "$tmp/tap" "not ok 2 spin # TIMEOUT after 3 s"
expect_in "$tmp/tap" "# init: done, 1 failed"

printf 'spin 600\n' >"$tmp/list"
"$bin/make-initramfs" "$tmp/initrd" "$tmp/list" "$tmp/bin" "$kdir/modules"
status=0
"$bin/boot-machine" tcg "$kdir/bzImage" "$tmp/initrd" "$tmp/console" 15 || status=$?
[ "$status" -eq 124 ] || fail "boot-machine exited $status for a hung guest, not 124"
"$bin/console-to-tap" "$tmp/console" "$status" 15 >"$tmp/tap"
expect_in "$tmp/tap" "not ok 999 guest-completed # the guest hung: killed after 15 s"
expect_in "$tmp/tap" "#   # running spin (timeout 600 s)"

# A guest wedged so that its own timeout cannot fire: two real-time threads
# spin on both CPUs with the kernel's real-time throttling off, and /init
# never runs again. boot-machine kills it once its console has been silent
# for the test's timeout plus the machine's hang_margin, long before the
# whole-guest limit, and the report names the test and shows the registers.
cat >"$tmp/hog.c" <<'EOT'
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

static void *spin(void *arg)
{
	for (;;)
		;
	return arg;
}

int main(void)
{
	struct sched_param prio = { .sched_priority = 99 };
	int fd = open("/proc/sys/kernel/sched_rt_runtime_us", O_WRONLY);
	long i, cpus = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_attr_t attr;
	pthread_t thread;

	if (fd < 0 || write(fd, "-1", 2) != 2)
		return 1;
	pthread_attr_init(&attr);
	pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
	pthread_attr_setschedparam(&attr, &prio);
	for (i = 0; i < cpus; i++)
		if (pthread_create(&thread, &attr, spin, NULL))
			return 1;
	for (;;)
		pause();
}
EOT
gcc -static -pthread -o "$tmp/bin/hog" "$tmp/hog.c"
printf 'hog 3\n' >"$tmp/list"
"$bin/make-initramfs" "$tmp/initrd" "$tmp/list" "$tmp/bin" "$kdir/modules"
margin=$(sed -n 's/^hang_margin=//p' "$top/harness/machines/tcg.conf")
t0=$(date +%s)
status=0
"$bin/boot-machine" tcg "$kdir/bzImage" "$tmp/initrd" "$tmp/console" 600 || status=$?
secs=$(($(date +%s) - t0))
[ "$status" -eq 124 ] || fail "boot-machine exited $status for a wedged guest, not 124"
[ "$secs" -lt 300 ] || fail "the wedged guest was killed after $secs s, not after its silence ($((3 + margin)) s)"
"$bin/console-to-tap" "$tmp/console" "$status" 600 >"$tmp/tap"
expect_in "$tmp/tap" "not ok 998 hog # hung: no console output for"
expect_in "$tmp/tap" "not ok 999 guest-completed # the guest hung: its console was silent for"
expect_in "$tmp/tap" "#   # running hog (timeout 3 s)"
expect_in "$tmp/tap" "# what the machine was doing"
expect_in "$tmp/tap" "RIP="
echo "the wedged guest was killed after $secs s (test timeout 3 s, margin $margin s)"
