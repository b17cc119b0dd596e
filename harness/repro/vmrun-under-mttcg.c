// SPDX-License-Identifier: GPL-2.0-only
/*
 * The smallest workload seen to break QEMU's multi-threaded TCG emulation of
 * AMD SVM (README, "QEMU's multi-threaded TCG and SVM"): VCPUS vCPUs, each on
 * its own thread, whose guests do nothing but count and exit to the host
 * through port I/O, for SECONDS. No TSC operation, no nested guest. Every
 * exit must be the guest's next count; anything else (a SHUTDOWN, a count
 * that skipped or repeated), or a vCPU that stops exiting, ends the run.
 *
 * On a kernel with KVM's tracepoints (KCONFIG=trace), tracing stops at the
 * first VMRUN that enters a guest at a kernel address (the test guest's own
 * KVM code), and the run prints that vCPU's last exits and entries:
 *
 *   make run BASE=6.1 KCONFIG=trace ACCEL=tcg-mttcg ARGS="4 10" \
 *	SELFTEST=harness/repro/vmrun-under-mttcg.c
 *
 * Built against a base's KVM selftest library (6.1's API).
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>

#include "kvm_util.h"
#include "processor.h"

#define MAX_VCPUS	16
#define TRACING		"/sys/kernel/debug/tracing/"
#define TRACE_LINES	40

static volatile int stop;
static long tids[MAX_VCPUS];

static void guest_code(void)
{
	u64 count = 0;

	for (;;)
		GUEST_SYNC(++count);
}

static bool tracing_write(const char *file, const char *value)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), TRACING "%s", file);
	f = fopen(path, "w");
	if (!f)
		return false;
	fputs(value, f);
	return !fclose(f);
}

/*
 * The last TRACE_LINES lines of KVM's trace from the thread @tid, or from
 * the thread of the trace's last line (the entry that stopped it) if 0.
 */
static void print_trace(long tid)
{
	static char lines[TRACE_LINES][256];
	char who[32], line[256], *dash, *bracket;
	long last = 0;
	int n = 0, i;
	FILE *f;

	tracing_write("tracing_on", "0");
	f = fopen(TRACING "trace", "r");
	if (!f)
		return;
	/* A thread's lines start "<comm>-<tid> [cpu]". */
	while (!tid && fgets(line, sizeof(line), f)) {
		bracket = strstr(line, " [");
		if (line[0] == '#' || !bracket)
			continue;
		*bracket = '\0';
		dash = strrchr(line, '-');
		last = dash ? atol(dash + 1) : last;
	}
	tid = tid ?: last;
	rewind(f);
	snprintf(who, sizeof(who), "-%ld ", tid);
	while (fgets(lines[n % TRACE_LINES], sizeof(lines[0]), f))
		if (strstr(lines[n % TRACE_LINES], who))
			n++;
	fclose(f);
	printf("KVM's trace, its last %d lines with '%s':\n", TRACE_LINES, who);
	for (i = n > TRACE_LINES ? n - TRACE_LINES : 0; i < n; i++)
		printf("  %s", lines[i % TRACE_LINES]);
}

static void *vcpu_thread(void *arg)
{
	struct kvm_vcpu *vcpu = arg;
	struct ucall uc;
	u64 want = 1;

	tids[vcpu->id] = syscall(SYS_gettid);
	while (!stop) {
		vcpu_run(vcpu);
		if (get_ucall(vcpu, &uc) != UCALL_SYNC || uc.args[1] != want) {
			/* The entry that stopped the trace, then this vCPU. */
			print_trace(0);
			print_trace(tids[vcpu->id]);
			vcpu_dump(stdout, vcpu, 2);
			TEST_FAIL("vCPU%u: exit %s, ucall %lu, count %lu, expected count %lu",
				  vcpu->id, exit_reason_str(vcpu->run->exit_reason),
				  uc.cmd, uc.args[1], want);
		}
		want++;
	}
	printf("vCPU%u: %lu exits\n", vcpu->id, want - 1);
	return NULL;
}

int main(int argc, char *argv[])
{
	int nr_vcpus = argc > 1 ? atoi(argv[1]) : 4;
	int seconds = argc > 2 ? atoi(argv[2]) : 10;
	struct kvm_vcpu *vcpus[MAX_VCPUS];
	pthread_t threads[MAX_VCPUS];
	struct timespec deadline;
	struct kvm_vm *vm;
	int i;

	TEST_ASSERT(nr_vcpus > 0 && nr_vcpus <= MAX_VCPUS, "1 to %d vCPUs",
		    MAX_VCPUS);
	setbuf(stdout, NULL);
	if (tracing_write("events/kvm/enable", "1") &&
	    tracing_write("events/kvm/kvm_entry/trigger",
			  "traceoff if rip >= 0xffff800000000000") &&
	    tracing_write("tracing_on", "1"))
		printf("tracing KVM's events, until an entry at a kernel RIP\n");

	vm = vm_create_with_vcpus(nr_vcpus, guest_code, vcpus);
	for (i = 0; i < nr_vcpus; i++)
		pthread_create(&threads[i], NULL, vcpu_thread, vcpus[i]);
	sleep(seconds);
	stop = 1;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	for (i = 0; i < nr_vcpus; i++) {
		if (pthread_timedjoin_np(threads[i], NULL, &deadline)) {
			print_trace(0);
			print_trace(tids[i]);
			TEST_FAIL("vCPU%d made no exit to the host for 10 s", i);
		}
	}
	kvm_vm_free(vm);
	printf("%d vCPUs, %d s: every exit was the guest's next count\n",
	       nr_vcpus, seconds);
	return 0;
}
