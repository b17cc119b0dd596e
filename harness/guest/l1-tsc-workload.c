// SPDX-License-Identifier: GPL-2.0-only
/*
 * L1's workload in the end-to-end save/restore test (run-vmm-e2e). L1 is a
 * QEMU/KVM guest inside the test guest; the harness's own init.c is its
 * /init (it mounts the file systems, loads L1's KVM modules and runs this
 * program as its one test). This program:
 *
 * - runs L2, a real-mode vCPU of a VM of L1's own, which spins reading its
 *   TSC and leaves to L1 with an OUT every L2_SPIN_CYCLES of its TSC (so L1's
 *   vCPU is in guest mode almost all the time, as in the original report);
 * - arms a periodic timer in another thread and counts its expirations (the
 *   timer's interrupt is L1's clockevent, the LAPIC TSC-deadline timer when
 *   the CPU has one: printed at the start);
 * - prints a progress line every PROGRESS_NS of L1's CLOCK_MONOTONIC, and at
 *   once when L1's or L2's TSC went backwards:
 *
 *   l1: seq=N tsc=L1-TSC mono_ns=NS l2_tsc=L2-TSC l2_exits=N ticks=N
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <linux/kvm.h>
#include <x86intrin.h>

#define L2_MEM_SIZE	0x10000
#define L2_CODE_GPA	0x1000
#define L2_PORT		0x10
/*
 * About 0.1 s of a 2-3 GHz TSC: handling an exit takes L1 a few ms under
 * emulation, so L1's vCPU is in guest mode (running L2) most of the time,
 * and a save most likely catches it there.
 */
#define L2_SPIN_CYCLES	0x10000000
#define TICK_NS		100000000LL
#define PROGRESS_NS	500000000LL

#define STR(x)		#x
#define XSTR(x)		STR(x)

/* L2: spin on RDTSC for L2_SPIN_CYCLES, then OUT with EDX:EAX = its TSC. */
asm(".pushsection .rodata\n"
    ".code16\n"
    "l2_code:\n"
    "1:	rdtsc\n"
    "	movl %eax, %ebx\n"
    "2:	rdtsc\n"
    "	subl %ebx, %eax\n"
    "	cmpl $" XSTR(L2_SPIN_CYCLES) ", %eax\n"
    "	jb 2b\n"
    "	rdtsc\n"
    "	outb %al, $" XSTR(L2_PORT) "\n"
    "	jmp 1b\n"
    "l2_code_end:\n"
    ".code64\n"
    ".popsection");
extern const unsigned char l2_code[], l2_code_end[];

static unsigned long long ticks;

static void die(const char *what)
{
	printf("l1: error: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void print_file(const char *label, const char *path)
{
	char buf[128] = "?";
	FILE *f = fopen(path, "r");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			strcpy(buf, "?");
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
	printf("l1: %s: %s\n", label, buf);
}

/* Count the expirations of a periodic CLOCK_MONOTONIC timer, one a wakeup. */
static void *count_ticks(void *arg)
{
	struct itimerspec its = {
		.it_interval.tv_nsec = TICK_NS,
		.it_value.tv_nsec = TICK_NS,
	};
	uint64_t expirations;
	int fd = timerfd_create(CLOCK_MONOTONIC, 0);

	(void)arg;
	if (fd < 0 || timerfd_settime(fd, 0, &its, NULL))
		die("timerfd");
	for (;;) {
		if (read(fd, &expirations, sizeof(expirations)) > 0)
			__atomic_add_fetch(&ticks, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Create L2's VM and vCPU; returns the vCPU fd and maps its kvm_run. */
static int create_l2(struct kvm_run **run)
{
	struct kvm_userspace_memory_region region = {
		.memory_size = L2_MEM_SIZE,
	};
	struct kvm_sregs sregs;
	struct kvm_regs regs = {
		.rip = L2_CODE_GPA,
		.rflags = 2,
	};
	int kvm, vm, vcpu, size;
	void *mem;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("/dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		die("KVM_CREATE_VM");
	/* Needed for real mode on VMX without unrestricted guest. */
	ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL);
	mem = mmap(NULL, L2_MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap L2 memory");
	memcpy((char *)mem + L2_CODE_GPA, l2_code, l2_code_end - l2_code);
	region.userspace_addr = (uintptr_t)mem;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region))
		die("KVM_SET_USER_MEMORY_REGION");
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		die("KVM_CREATE_VCPU");
	size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	*run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (*run == MAP_FAILED)
		die("mmap kvm_run");
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs))
		die("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) || ioctl(vcpu, KVM_SET_REGS, &regs))
		die("setting L2's registers");
	return vcpu;
}

/* Run L2 for one OUT; returns the TSC that L2 read just before it. */
static unsigned long long run_l2(int vcpu, struct kvm_run *run)
{
	struct kvm_regs regs;

	while (ioctl(vcpu, KVM_RUN, 0)) {
		if (errno != EINTR)
			die("KVM_RUN");
	}
	if (run->exit_reason != KVM_EXIT_IO || run->io.port != L2_PORT) {
		printf("l1: error: unexpected L2 exit %u\n", run->exit_reason);
		exit(1);
	}
	if (ioctl(vcpu, KVM_GET_REGS, &regs))
		die("KVM_GET_REGS");
	return regs.rdx << 32 | (uint32_t)regs.rax;
}

int main(void)
{
	unsigned long long tsc, l2_tsc, last_tsc = 0, last_l2_tsc = 0, exits = 0;
	long long mono, next_print = 0;
	unsigned int seq = 0;
	struct kvm_run *run;
	pthread_t ticker;
	int vcpu;

	setvbuf(stdout, NULL, _IOLBF, 0);
	print_file("clockevent",
		   "/sys/devices/system/clockevents/clockevent0/current_device");
	print_file("clocksource",
		   "/sys/devices/system/clocksource/clocksource0/current_clocksource");
	vcpu = create_l2(&run);
	if (pthread_create(&ticker, NULL, count_ticks, NULL))
		die("pthread_create");
	printf("l1: running L2, exit every %d L2 TSC cycles; timer every %lld ms\n",
	       L2_SPIN_CYCLES, TICK_NS / 1000000);
	for (;;) {
		l2_tsc = run_l2(vcpu, run);
		tsc = __rdtsc();
		mono = mono_ns();
		exits++;
		if (tsc < last_tsc || l2_tsc < last_l2_tsc)
			printf("l1: tsc-back l1 %llu -> %llu l2 %llu -> %llu\n",
			       last_tsc, tsc, last_l2_tsc, l2_tsc);
		if (mono >= next_print || tsc < last_tsc || l2_tsc < last_l2_tsc) {
			printf("l1: seq=%u tsc=%llu mono_ns=%lld l2_tsc=%llu l2_exits=%llu ticks=%llu\n",
			       seq++, tsc, mono, l2_tsc, exits,
			       __atomic_load_n(&ticks, __ATOMIC_RELAXED));
			next_print = mono + PROGRESS_NS;
		}
		last_tsc = tsc;
		last_l2_tsc = l2_tsc;
	}
	return 0;
}
