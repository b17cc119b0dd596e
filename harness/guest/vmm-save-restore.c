// SPDX-License-Identifier: GPL-2.0-only
/*
 * vmm-save-restore: QEMU saves a running nested guest to a file and restores
 * it with -incoming, end to end (run-vmm-e2e). Runs in the test guest, as the
 * one test of its /init, with QEMU, its libraries and firmware, busybox (for
 * QEMU's exec: migration) and L1's kernel and initramfs in the initramfs.
 *
 *   vmm-save-restore [-c CYCLES] [-u] KERNEL INITRD
 *	Boot L1 (KERNEL, INITRD: its /init runs l1-tsc-workload) under
 *	qemu-system-x86_64 -accel kvm and wait until its timer ticks; then
 *	CYCLES times (2 by default): stop it at a moment its vCPU runs L2
 *	(debugfs guest_mode), save it with migrate "exec:cat > FILE", quit,
 *	restore it in a fresh QEMU with -incoming "exec:cat FILE", and check
 *	that KVM's view of the vCPU's TSC (debugfs tsc-offset) did not go back
 *	from the stop to the restored VM and that, within RESUME_TIMEOUT of
 *	"cont", L1's timer ticks again, L2 makes progress, L1 did not restart
 *	and neither L1's nor L2's TSC went back in L1's own progress lines.
 *
 *	-u: do not tell L1 its TSC frequency (as the recipe in
 *	shared/docs/qemu-inside-the-test-guest.md did): L1 cannot calibrate
 *	its TSC, marks it unstable and runs on HPET and the plain LAPIC timer.
 *
 *   vmm-save-restore -e KERNEL INITRD
 *	The restore within a second of the VM's start: start QEMU with -S,
 *	save at once, restore with -incoming defer and migrate_incoming, and
 *	read the destination vCPU's TSC offset in the test guest's debugfs
 *	before and after: the restored TSC was discarded when the offset
 *	stayed the one the vCPU got at creation. On a test kernel with KVM's
 *	tracepoints (KCONFIG=trace), it also prints every TSC offset KVM
 *	wrote meanwhile (kvm_write_tsc_offset): which writes QEMU made, when.
 *
 * Prints TAP result lines "ok N vmm-e2e/NAME # ..." (the harness's init
 * relays them behind "# "; console-to-tap --lift vmm-e2e/ makes them results)
 * and L1's progress lines behind "L1 ". An L1 that does not boot or never
 * ticks is an infrastructure failure: reported as such, its boot retried
 * once. A save/restore verdict is never retried. Exits 1 when anything failed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <x86intrin.h>

#define QEMU		"/usr/bin/qemu-system-x86_64"
#define MIG_FILE	"/tmp/vm.mig"
#define MON		"/tmp/mon"
#define BOOT_ATTEMPTS	2
/* Seconds; the doc measured L1 boots of 8-19 s, migrations of 2 s. */
#define BOOT_TIMEOUT	120
#define MONITOR_TIMEOUT	30
#define MIGRATE_TIMEOUT	120
#define QUIT_TIMEOUT	20
#define RESUME_TIMEOUT	30
/* Tries at stopping the VM while L1's vCPU runs L2. */
#define STOP_TRIES	30
/* Progress lines that must show ticks and L2 exits advancing. */
#define TICKING_LINES	3
#ifndef TAIL_LINES
#define TAIL_LINES	20
#endif

struct progress {
	unsigned int seq;
	unsigned long long tsc, l2_tsc, exits, ticks;
	long long mono_ns;
};

/* One QEMU process, its monitor and L1's serial console. */
struct vmm {
	pid_t pid;
	int mon_in, mon_out;
	char log[64], err[64];
	long log_off;
	char line[1024];
	size_t line_len;
};

/* What L1's console said during one phase. */
struct watch {
	struct progress first, prev, last;
	bool have_base;		/* last holds the line before the phase */
	int lines;
	char failure[512];	/* a TSC that went back, a restart, an error */
};

static int test_nr, failed;
static char clockevent[64] = "?";
static char l1_cmdline[256];
/* L1's memory; the restore within a second needs a save that fast. */
static const char *l1_memory = "256M";

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void result(bool ok, const char *name, const char *fmt, ...)
{
	char why[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	printf("%s %d vmm-e2e/%s # %s\n", ok ? "ok" : "not ok", ++test_nr, name,
	       why);
	failed += !ok;
}

static void note(const char *fmt, ...)
{
	va_list ap;

	printf("[%7.2f] ", now());
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Print the last TAIL_LINES lines of a file, for a failure's context. */
static void show_tail(const char *what, const char *path)
{
	static char buf[1 << 20];
	int fd = open(path, O_RDONLY), lines = 0;
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	char *p;

	if (fd >= 0)
		close(fd);
	if (n < 0)
		return;
	buf[n] = '\0';
	for (p = buf + n; p > buf && lines <= TAIL_LINES; p--)
		lines += p[-1] == '\n';
	printf("last lines of %s (%s):\n", what, path);
	for (p = strtok(p, "\r\n"); p; p = strtok(NULL, "\r\n"))
		printf("  | %s\n", p);
}

/* Show the reply to CMD line by line (it is cut up in place). */
static void show_reply(const char *cmd, char *reply)
{
	char *p;

	printf("QEMU's reply to %s:\n", cmd);
	for (p = strtok(reply, "\r\n"); p; p = strtok(NULL, "\r\n"))
		printf("  | %s\n", p);
}

/* Start QEMU on L1, with up to two more options (or NULL) after the rest. */
static bool start_qemu(struct vmm *v, int index, const char *kernel,
		       const char *initrd, const char *opt, const char *arg)
{
	char serial[80];
	const char *argv[] = {
		QEMU, "-accel", "kvm", "-cpu", "host", "-smp", "1", "-m", l1_memory,
		"-machine", "pc", "-nodefaults", "-no-user-config",
		"-display", "none", "-net", "none", "-no-reboot",
		"-kernel", kernel, "-initrd", initrd, "-append", l1_cmdline,
		"-serial", serial, "-monitor", "pipe:" MON, opt, arg, NULL,
	};
	int fd;

	snprintf(v->log, sizeof(v->log), "/tmp/l1-%d.log", index);
	snprintf(serial, sizeof(serial), "file:%s", v->log);
	snprintf(v->err, sizeof(v->err), "/tmp/qemu-%d.err", index);
	v->log_off = 0;
	v->line_len = 0;
	unlink(MON ".in");
	unlink(MON ".out");
	unlink(v->log);
	if (mkfifo(MON ".in", 0600) || mkfifo(MON ".out", 0600)) {
		note("mkfifo: %s", strerror(errno));
		return false;
	}
	/* O_RDWR: opening a FIFO so does not wait for the other end. */
	v->mon_in = open(MON ".in", O_RDWR | O_CLOEXEC);
	v->mon_out = open(MON ".out", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	v->pid = fork();
	if (v->pid == 0) {
		fd = open(v->err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		setenv("PATH", "/bin:/usr/bin", 1);
		execv(QEMU, (char **)argv);
		fprintf(stderr, "exec %s: %s\n", QEMU, strerror(errno));
		_exit(127);
	}
	note("started QEMU %d (pid %d)%s%s%s%s", index, v->pid,
	     opt ? " " : "", opt ? opt : "", arg ? " " : "", arg ? arg : "");
	return v->pid > 0;
}

/* True while QEMU runs; else says how it ended. */
static bool qemu_alive(struct vmm *v, char *why, size_t size)
{
	int status;

	if (v->pid <= 0)
		return false;
	if (waitpid(v->pid, &status, WNOHANG) != v->pid)
		return true;
	v->pid = 0;
	if (WIFSIGNALED(status))
		snprintf(why, size, "QEMU died of signal %d", WTERMSIG(status));
	else
		snprintf(why, size, "QEMU exited with status %d",
			 WEXITSTATUS(status));
	return false;
}

static void kill_qemu(struct vmm *v)
{
	if (v->pid > 0)
		kill(v->pid, SIGKILL);
}

static void stop_qemu(struct vmm *v)
{
	double deadline = now() + QUIT_TIMEOUT;
	char why[64];

	while (qemu_alive(v, why, sizeof(why)) && now() < deadline)
		sleep_ms(50);
	if (v->pid > 0) {
		note("QEMU %d did not quit: killing it", v->pid);
		kill(v->pid, SIGKILL);
		waitpid(v->pid, NULL, 0);
		v->pid = 0;
	}
	close(v->mon_in);
	close(v->mon_out);
}

/*
 * Send an HMP command and collect its reply, up to the next "(qemu) "
 * prompt, in reply. Returns false on timeout or when QEMU is gone.
 */
static bool monitor(struct vmm *v, const char *cmd, char *reply, size_t size,
		    int timeout)
{
	double deadline = now() + timeout;
	size_t len = 0;
	char why[64];
	ssize_t n;

	while (cmd && read(v->mon_out, reply, size) > 0)
		;		/* drop what an earlier command left */
	reply[0] = '\0';
	if (cmd && (write(v->mon_in, cmd, strlen(cmd)) < 0 ||
		    write(v->mon_in, "\n", 1) < 0))
		return false;
	while (now() < deadline) {
		n = read(v->mon_out, reply + len, size - 1 - len);
		if (n > 0) {
			len += n;
			reply[len] = '\0';
			if (strstr(reply, "(qemu) ") || len == size - 1)
				return true;
			continue;
		}
		if (!qemu_alive(v, why, sizeof(why)))
			return false;
		sleep_ms(20);
	}
	return false;
}

static bool parse_progress(const char *line, struct progress *p)
{
	return sscanf(line, "l1: seq=%u tsc=%llu mono_ns=%lld l2_tsc=%llu l2_exits=%llu ticks=%llu",
		      &p->seq, &p->tsc, &p->mono_ns, &p->l2_tsc, &p->exits,
		      &p->ticks) == 6;
}

/* Check one progress line against the one before it. */
static void check_line(struct watch *w, const struct progress *p)
{
	const struct progress *b = &w->last;

	if (w->failure[0] || !(w->lines || w->have_base))
		return;
	if (p->seq <= b->seq)
		snprintf(w->failure, sizeof(w->failure),
			 "L1 restarted: its sequence went from %u to %u",
			 b->seq, p->seq);
	else if (p->tsc < b->tsc)
		snprintf(w->failure, sizeof(w->failure),
			 "L1's TSC went back by %llu cycles (%llu -> %llu)",
			 b->tsc - p->tsc, b->tsc, p->tsc);
	else if (p->l2_tsc < b->l2_tsc)
		snprintf(w->failure, sizeof(w->failure),
			 "L2's TSC went back by %llu cycles (%llu -> %llu)",
			 b->l2_tsc - p->l2_tsc, b->l2_tsc, p->l2_tsc);
}

static void take_line(struct watch *w, const char *line)
{
	struct progress p;

	/* L1's /init relays its workload's output behind "# ". */
	if (!strncmp(line, "# l1: ", 6))
		line += 2;

	if (!strncmp(line, "l1: ", 4) || strstr(line, "Kernel panic") ||
	    strstr(line, "# init:"))
		printf("L1 %s\n", line);
	if (sscanf(line, "l1: clockevent: %63s", clockevent) == 1)
		return;
	if ((!strncmp(line, "l1: error", 9) || strstr(line, "Kernel panic")) &&
	    !w->failure[0])
		snprintf(w->failure, sizeof(w->failure), "L1: %.400s", line);
	if (!parse_progress(line, &p))
		return;
	check_line(w, &p);
	if (!w->lines++)
		w->first = p;
	w->prev = w->last;
	w->last = p;
}

/* Read what L1 wrote on its console since the last call. */
static void read_console(struct vmm *v, struct watch *w)
{
	char buf[4096];
	ssize_t n, i;
	int fd = open(v->log, O_RDONLY);

	if (fd < 0)
		return;
	lseek(fd, v->log_off, SEEK_SET);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		v->log_off += n;
		for (i = 0; i < n; i++) {
			if (buf[i] == '\r')
				continue;
			if (buf[i] != '\n' && v->line_len < sizeof(v->line) - 1) {
				v->line[v->line_len++] = buf[i];
				continue;
			}
			v->line[v->line_len] = '\0';
			take_line(w, v->line);
			v->line_len = 0;
		}
	}
	close(fd);
}

/* Ticks and L2 exits advanced over TICKING_LINES lines of this phase. */
static bool ticking(const struct watch *w)
{
	return w->lines >= TICKING_LINES && w->last.ticks > w->first.ticks &&
	       w->last.exits > w->first.exits;
}

/*
 * Follow L1's console until it is ticking, it failed, QEMU is gone or
 * timeout seconds passed. Returns true when it ticks; else why says why.
 */
static bool wait_ticking(struct vmm *v, struct watch *w, int timeout,
			 char *why, size_t size)
{
	double deadline = now() + timeout;

	while (now() < deadline) {
		read_console(v, w);
		if (w->failure[0]) {
			snprintf(why, size, "%s", w->failure);
			return false;
		}
		if (ticking(w))
			return true;
		if (!qemu_alive(v, why, size))
			return false;
		sleep_ms(100);
	}
	if (!w->lines)
		snprintf(why, size, "no progress from L1 in %d s", timeout);
	else
		snprintf(why, size, "L1 stalled for %d s: ticks %llu -> %llu, L2 exits %llu -> %llu over %d lines",
			 timeout, w->first.ticks, w->last.ticks, w->first.exits,
			 w->last.exits, w->lines);
	return false;
}

/* Read L1's console until it printed n more progress lines. */
static bool wait_lines(struct vmm *v, struct watch *w, int n, char *why,
		       size_t size)
{
	double deadline = now() + RESUME_TIMEOUT;

	read_console(v, w);
	while (w->lines < n) {
		if (!qemu_alive(v, why, size))
			return false;
		if (now() > deadline) {
			snprintf(why, size, "L1 printed nothing for %d s",
				 RESUME_TIMEOUT);
			return false;
		}
		sleep_ms(100);
		read_console(v, w);
	}
	return true;
}

/* Boot L1 until it ticks, retrying a failed boot once. */
static bool boot_l1(struct vmm *v, struct watch *w, const char *kernel,
		    const char *initrd)
{
	char why[512] = "", infra[600] = "";
	int attempt;
	double t0;

	for (attempt = 1; attempt <= BOOT_ATTEMPTS; attempt++) {
		memset(w, 0, sizeof(*w));
		t0 = now();
		if (start_qemu(v, 0, kernel, initrd, NULL, NULL) &&
		    wait_ticking(v, w, BOOT_TIMEOUT, why, sizeof(why))) {
			result(true, "l1-boot", "L1 ticking %.1f s after QEMU started, clockevent %s%s",
			       now() - t0, clockevent, infra);
			return true;
		}
		note("INFRASTRUCTURE FAILURE: L1 boot attempt %d: %s", attempt, why);
		show_tail("L1's console", v->log);
		show_tail("QEMU's output", v->err);
		kill_qemu(v);
		stop_qemu(v);
		snprintf(infra, sizeof(infra), "; 1 infrastructure failure, retried: %s", why);
	}
	result(false, "l1-boot", "INFRASTRUCTURE: L1 did not boot and tick in %d attempts: %s",
	       BOOT_ATTEMPTS, why);
	return false;
}

/* A value in the test guest's KVM debugfs for vCPU 0 of QEMU pid's VM. */
static bool debugfs_vcpu0(pid_t pid, const char *file, long long *value)
{
	char prefix[32], path[300];
	struct dirent *d;
	bool found = false;
	DIR *dir = opendir("/sys/kernel/debug/kvm");
	FILE *f;

	if (!dir)
		return false;
	snprintf(prefix, sizeof(prefix), "%d-", pid);
	while ((d = readdir(dir)) && !found) {
		if (strncmp(d->d_name, prefix, strlen(prefix)))
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%s/vcpu0/%s",
			 d->d_name, file);
		f = fopen(path, "r");
		if (f) {
			found = fscanf(f, "%lld", value) == 1;
			fclose(f);
		}
	}
	closedir(dir);
	return found;
}

/*
 * QEMU creates its vCPUs after its monitor is up: wait until it answers a
 * command and vCPU 0 is in debugfs, then read file of it.
 */
static bool wait_vcpu0(struct vmm *v, const char *file, long long *value)
{
	double deadline = now() + MONITOR_TIMEOUT;
	char reply[4096];

	if (!monitor(v, "info status", reply, sizeof(reply), MONITOR_TIMEOUT))
		return false;
	while (!debugfs_vcpu0(v->pid, file, value)) {
		if (now() > deadline)
			return false;
		sleep_ms(100);
	}
	return true;
}

static bool monitor_until(struct vmm *v, const char *cmd, const char *want,
			  int timeout, char *reply, size_t size)
{
	double deadline = now() + timeout;

	while (now() < deadline) {
		if (!monitor(v, cmd, reply, size, MONITOR_TIMEOUT))
			return false;
		if (strstr(reply, want))
			return true;
		if (strstr(reply, "failed") || strstr(reply, "rror"))
			return false;
		sleep_ms(100);
	}
	return false;
}

/*
 * Save the VM to MIG_FILE and quit QEMU; *downtime_ms is QEMU's downtime,
 * *t_saved when the save was seen completed, *in_l2 whether L1's vCPU was
 * stopped in guest mode, running L2 (-1: unknown).
 */
static bool save_and_quit(struct vmm *v, long *downtime_ms, double *t_saved,
			  long long *in_l2, char *why, size_t size)
{
	char reply[4096];
	const char *p;
	bool started;

	unlink(MIG_FILE);
	started = monitor(v, "migrate \"exec:cat > " MIG_FILE "\"", reply,
			  sizeof(reply), MIGRATE_TIMEOUT);
	if (!started ||
	    !monitor_until(v, "info migrate", "Migration status: completed",
			   MIGRATE_TIMEOUT, reply, sizeof(reply))) {
		/* Say why: QEMU gone, or the status it last gave. */
		char dead[64] = "QEMU is gone";
		const char *st = strstr(reply, "Migration status:");

		show_tail("QEMU's output", v->err);
		if (!qemu_alive(v, dead, sizeof(dead)))
			snprintf(why, size, "the save did not complete: %s", dead);
		else if (st)
			snprintf(why, size, "the save did not complete: %.*s",
				 (int)strcspn(st, "\r\n"), st);
		else
			snprintf(why, size, "the save did not complete: no migration status in QEMU's reply");
		show_reply(started ? "info migrate" : "migrate", reply);
		return false;
	}
	*t_saved = now();
	if (!debugfs_vcpu0(v->pid, "guest_mode", in_l2))
		*in_l2 = -1;
	p = strstr(reply, "downtime: ");
	*downtime_ms = p ? atol(p + 10) : -1;
	monitor(v, "quit", reply, sizeof(reply), 1);
	stop_qemu(v);
	return true;
}

/*
 * The vCPU's TSC as KVM in the test guest sees it, in the mode the vCPU is
 * in (L2's TSC when it is in guest mode): its TSC offset in debugfs plus
 * the test guest's TSC (TCG has no TSC scaling).
 */
struct kvm_tsc {
	bool valid;
	long long guest_mode;
	unsigned long long tsc;
};

/* The vCPU's TSC at the moment the test guest's TSC read host_tsc. */
static void read_kvm_tsc(struct vmm *v, unsigned long long host_tsc,
			 struct kvm_tsc *t)
{
	long long offset;

	t->valid = debugfs_vcpu0(v->pid, "tsc-offset", &offset) &&
		   debugfs_vcpu0(v->pid, "guest_mode", &t->guest_mode);
	t->tsc = host_tsc + offset;
}

/*
 * Wait until a restored VM has loaded its state, and let it run: a VM saved
 * while stopped comes back stopped.
 */
static bool resume_restored(struct vmm *v, struct kvm_tsc *paused, char *why,
			    size_t size)
{
	char reply[4096] = "";
	double deadline = now() + MIGRATE_TIMEOUT;

	while (now() < deadline) {
		if (!monitor(v, "info status", reply, sizeof(reply),
			     MONITOR_TIMEOUT))
			break;
		if (strstr(reply, "VM status: running"))
			return true;
		if (strstr(reply, "VM status: paused") &&
		    !strstr(reply, "inmigrate")) {
			if (paused)
				read_kvm_tsc(v, __rdtsc(), paused);
			monitor(v, "cont", reply, sizeof(reply), MONITOR_TIMEOUT);
		}
		sleep_ms(100);
	}
	if (qemu_alive(v, why, size))
		snprintf(why, size, "the restored VM is not running: %.300s", reply);
	return false;
}

/* Restore from MIG_FILE in a fresh QEMU, until it runs. */
static bool restore(struct vmm *v, int index, const char *kernel,
		    const char *initrd, struct kvm_tsc *paused, char *why,
		    size_t size)
{
	if (!start_qemu(v, index, kernel, initrd, "-incoming",
			"exec:cat " MIG_FILE)) {
		snprintf(why, size, "could not start QEMU");
		return false;
	}
	return resume_restored(v, paused, why, size);
}

/*
 * Stop the VM at a moment when L1's vCPU runs L2, as in the bug reports:
 * then KVM_GET_MSRS reads the TSC of a vCPU in guest mode. L1's interrupts
 * take it out of guest mode often, so stop and go on until it is caught
 * there, STOP_TRIES times at most. Returns the number of tries, or 0 when
 * it was never caught in guest mode (it stays stopped all the same).
 */
static int stop_in_l2(struct vmm *v, struct kvm_tsc *stopped)
{
	unsigned long long before_stop;
	char reply[4096];
	long long in_l2 = 0;
	int i;

	for (i = 1; i <= STOP_TRIES; i++) {
		/*
		 * QEMU reads the TSC it saves after it got "stop": the vCPU's
		 * TSC when it was sent is a lower bound of the saved value.
		 */
		before_stop = __rdtsc();
		monitor(v, "stop", reply, sizeof(reply), MONITOR_TIMEOUT);
		if (debugfs_vcpu0(v->pid, "guest_mode", &in_l2) && in_l2 == 1) {
			read_kvm_tsc(v, before_stop, stopped);
			return i;
		}
		if (i == STOP_TRIES) {
			read_kvm_tsc(v, before_stop, stopped);
			break;
		}
		monitor(v, "cont", reply, sizeof(reply), MONITOR_TIMEOUT);
		sleep_ms(13 * i % 97);
	}
	return 0;
}

static double cycles_to_s(long long cycles, double cycles_per_ns)
{
	return cycles / cycles_per_ns / 1e9;
}

/*
 * One save/restore cycle. pre is L1's last line before the save, before
 * the one before it; rate L1's TSC cycles per ns of its monotonic clock.
 */
static bool cycle(struct vmm *v, int nr, struct watch *w, const char *kernel,
		  const char *initrd, double rate)
{
	struct progress pre, before;
	struct watch post = { .have_base = true };
	char why[512] = "", name[32];
	double t_saved, t_stopped, t_running, downtime;
	long qemu_ms = -1;
	long long d_tsc, d_l2, d_mono, normal, in_l2, kvm_leap;
	struct kvm_tsc stopped = { 0 }, paused = { 0 };
	char kvm_view[256] = "KVM's view of the vCPU's TSC: not read";
	int tries;

	snprintf(name, sizeof(name), "cycle-%d", nr);
	/* Let it run two lines more: the interval between them is the norm. */
	memset(w, 0, sizeof(*w));
	if (!wait_lines(v, w, 2, why, sizeof(why))) {
		result(false, name, "before the save: %s", why);
		return false;
	}
	tries = stop_in_l2(v, &stopped);
	t_stopped = now();
	note("cycle %d: stopped %s after %d tries; saving", nr,
	     tries ? "in guest mode" : "never in guest mode",
	     tries ? tries : STOP_TRIES);
	if (!save_and_quit(v, &qemu_ms, &t_saved, &in_l2, why, sizeof(why))) {
		result(false, name, "%s", why);
		return false;
	}
	read_console(v, w);
	pre = w->last;
	before = w->prev;
	note("cycle %d: saved (QEMU downtime %ld ms) with L1's vCPU %s, L1's last line seq=%u; restoring",
	     nr, qemu_ms, in_l2 == 1 ? "in guest mode (running L2)" :
	     in_l2 == 0 ? "in L1 (not in guest mode)" : "in an unknown mode",
	     pre.seq);
	if (!restore(v, nr, kernel, initrd, &paused, why, sizeof(why))) {
		show_tail("QEMU's output", v->err);
		result(false, name, "%s", why);
		return false;
	}
	t_running = now();
	downtime = t_running - t_stopped;
	note("cycle %d: restored VM running %.2f s after the save", nr,
	     t_running - t_saved);
	/*
	 * From the moment "stop" was sent to the restored VM, still paused,
	 * KVM's view of the vCPU's TSC may only advance, by the time from the
	 * stop to QEMU's read and from the restoring write to now; back means
	 * the save held another TSC than the one in force.
	 */
	kvm_leap = paused.tsc - stopped.tsc;
	if (stopped.valid && paused.valid) {
		snprintf(kvm_view, sizeof(kvm_view),
			 "KVM's view of the vCPU's %s TSC from \"stop\" to the restored, paused VM: %+.3f s (%lld cycles)",
			 stopped.guest_mode == 1 ? "L2" : "L1",
			 cycles_to_s(kvm_leap, rate), kvm_leap);
		note("cycle %d: %s", nr, kvm_view);
	}
	post.last = pre;
	if (!wait_ticking(v, &post, RESUME_TIMEOUT, why, sizeof(why))) {
		show_tail("L1's console", v->log);
		result(false, name, "after the restore: %s (downtime %.2f s, saved in %s; %s)",
		       why, downtime, in_l2 == 1 ? "L2" : in_l2 == 0 ? "L1" : "?",
		       kvm_view);
		return false;
	}
	if (stopped.valid && paused.valid && kvm_leap < 0) {
		result(false, name, "the vCPU's TSC went back across the restore: %s",
		       kvm_view);
		return false;
	}
	d_tsc = post.first.tsc - pre.tsc;
	d_l2 = post.first.l2_tsc - pre.l2_tsc;
	d_mono = post.first.mono_ns - pre.mono_ns;
	normal = pre.mono_ns - before.mono_ns;
	result(true, name, "saved in %s; downtime %.2f s (stop to running; QEMU's: %ld ms); L1 line gap %.3f s before; across the restore L1 TSC %+.3f s, L2 TSC %+.3f s, L1 monotonic %+.3f s; leaps (minus the gap) %+.3f / %+.3f / %+.3f s; ticks %llu -> %llu -> %llu",
	       in_l2 == 1 ? "L2" : in_l2 == 0 ? "L1" : "?",
	       downtime, qemu_ms, normal / 1e9, cycles_to_s(d_tsc, rate),
	       cycles_to_s(d_l2, rate), d_mono / 1e9,
	       cycles_to_s(d_tsc, rate) - normal / 1e9,
	       cycles_to_s(d_l2, rate) - normal / 1e9, (d_mono - normal) / 1e9,
	       pre.ticks, post.first.ticks, post.last.ticks);
	printf("# cycle %d: %s\n", nr, kvm_view);
	*w = post;
	return true;
}

/* Cycles of the test guest's TSC per second, against its monotonic clock. */
static double host_tsc_hz(void)
{
	double t0 = now();
	unsigned long long c0 = __rdtsc();

	sleep_ms(500);
	return (__rdtsc() - c0) / (now() - t0);
}

#define TSC_WRITE_EVENT "/sys/kernel/debug/tracing/events/kvm/kvm_write_tsc_offset/enable"
#define TRACE_FILE "/sys/kernel/debug/tracing/trace"

/*
 * On a test kernel with KVM's tracepoints (KCONFIG=trace): every TSC write
 * QEMU makes, KVM's and ours alike, from start to print_tsc_writes().
 */
static void trace_tsc_writes(void)
{
	FILE *f = fopen(TSC_WRITE_EVENT, "w");

	if (f && fputs("1", f) >= 0 && !fclose(f))
		note("tracing KVM's TSC writes");
	else if (f)
		fclose(f);
}

static void print_tsc_writes(void)
{
	FILE *f = fopen(TRACE_FILE, "r");
	char line[512];

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "kvm_write_tsc_offset"))
			note("trace: %s", strtok(line, "\n"));
	if (f)
		fclose(f);
}

/*
 * The restore within a second of the VM's start. The source runs with -S
 * (its TSC counts from its creation), is saved at once, and restored into a
 * QEMU started with -incoming defer: its vCPU exists, with the TSC offset of
 * its creation, before migrate_incoming loads the state and writes the TSC.
 */
static void restore_within_a_second(const char *kernel, const char *initrd)
{
	long long src_off, dst_created, dst_restored;
	unsigned long long before_save, after_save, before_load;
	double hz = host_tsc_hz(), t_saved, saved_lo, saved_hi;
	long long in_l2;
	char reply[4096], why[256] = "";
	struct vmm v = { 0 };
	long qemu_ms;

	trace_tsc_writes();
	if (!start_qemu(&v, 0, kernel, initrd, "-S", NULL) ||
	    !wait_vcpu0(&v, "tsc-offset", &src_off)) {
		show_tail("QEMU's output", v.err);
		result(false, "restore-within-1s", "INFRASTRUCTURE: the source VM or its vCPU in debugfs did not come up");
		return;
	}
	before_save = __rdtsc();
	if (!save_and_quit(&v, &qemu_ms, &t_saved, &in_l2, why, sizeof(why))) {
		result(false, "restore-within-1s", "%s", why);
		return;
	}
	after_save = __rdtsc();
	if (!start_qemu(&v, 1, kernel, initrd, "-incoming", "defer") ||
	    !wait_vcpu0(&v, "tsc-offset", &dst_created)) {
		show_tail("QEMU's output", v.err);
		result(false, "restore-within-1s", "INFRASTRUCTURE: the destination VM or its vCPU in debugfs did not come up");
		return;
	}
	before_load = __rdtsc();
	if (!monitor(&v, "migrate_incoming \"exec:cat " MIG_FILE "\"", reply,
		     sizeof(reply), MONITOR_TIMEOUT) ||
	    !resume_restored(&v, NULL, why, sizeof(why)) ||
	    !debugfs_vcpu0(v.pid, "tsc-offset", &dst_restored)) {
		result(false, "restore-within-1s", "the restore did not complete: %s", why);
		kill_qemu(&v);
		stop_qemu(&v);
		return;
	}
	kill_qemu(&v);
	stop_qemu(&v);
	print_tsc_writes();
	/*
	 * The saved TSC lies between the source's TSC when the save began and
	 * when it ended. Restored, the TSC reads that value plus the time since
	 * the write, which came after before_load: so the offset lies within
	 * [saved - now_at_write] with the write after before_load. Kept, the
	 * creation offset reads the time since the destination was created.
	 */
	saved_lo = ((long long)before_save + src_off) / hz;
	saved_hi = ((long long)after_save + src_off) / hz;
	note("test guest TSC %.0f Hz; saved L1 TSC between %.3f and %.3f s; destination offset at creation %lld, after the restore %lld",
	     hz, saved_lo, saved_hi, dst_created, dst_restored);
	if (dst_restored == dst_created)
		result(false, "restore-within-1s",
		       "the restored TSC was discarded: the vCPU kept its creation offset %lld, so L1's TSC read %.3f s, the destination's age, when the load began instead of the saved %.3f-%.3f s",
		       dst_created, ((long long)before_load + dst_created) / hz,
		       saved_lo, saved_hi);
	else
		result(true, "restore-within-1s",
		       "the restored TSC was kept: offset %lld -> %lld (%+.3f s); L1's TSC read %.3f s when the load began (destination's age: %.3f s), saved: %.3f-%.3f s",
		       dst_created, dst_restored,
		       (dst_restored - dst_created) / hz,
		       ((long long)before_load + dst_restored) / hz,
		       ((long long)before_load + dst_created) / hz,
		       saved_lo, saved_hi);
}

int main(int argc, char **argv)
{
	struct vmm v = { 0 };
	struct watch w;
	int cycles = 2, opt, i;
	bool early = false, tell_tsc_khz = true;
	double rate;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "c:eu")) != -1) {
		if (opt == 'c')
			cycles = atoi(optarg);
		else if (opt == 'e')
			early = true;
		else if (opt == 'u')
			tell_tsc_khz = false;
		else
			break;
	}
	if (optind + 2 != argc || cycles < 1 || access(QEMU, X_OK) ||
	    access(argv[optind], R_OK) || access(argv[optind + 1], R_OK)) {
		fprintf(stderr, "usage: vmm-save-restore [-c CYCLES] [-e] [-u] KERNEL INITRD (with %s)\n",
			QEMU);
		return 2;
	}
	/*
	 * L1 cannot calibrate its TSC against the PIT, HPET or PM timer under
	 * nested emulation, and without a frequency it marks the TSC unstable
	 * and KVM has no TSC deadline timer to offer: tell it the frequency,
	 * the test guest's (L1's TSC runs at it, unscaled). noxsave: the XSAVE
	 * sizes in the CPUID that KVM gives L1 here do not add up, and 7.3
	 * then panics at boot (as on bochs, see machines/bochs.conf).
	 */
	snprintf(l1_cmdline, sizeof(l1_cmdline),
		 "console=ttyS0 panic=-1 loglevel=3 rdinit=/init tsc=reliable noxsave harness.vendor=host");
	if (tell_tsc_khz)
		snprintf(l1_cmdline + strlen(l1_cmdline),
			 sizeof(l1_cmdline) - strlen(l1_cmdline),
			 " tsc_early_khz=%.0f", host_tsc_hz() / 1000);
	if (early) {
		l1_memory = "32M";
		printf("1..1\n");
		restore_within_a_second(argv[optind], argv[optind + 1]);
		return failed ? 1 : 0;
	}
	printf("1..%d\n", cycles + 1);
	if (!boot_l1(&v, &w, argv[optind], argv[optind + 1])) {
		for (i = 1; i <= cycles; i++) {
			char name[32];

			snprintf(name, sizeof(name), "cycle-%d", i);
			result(false, name, "not run: no L1 (infrastructure)");
		}
		return 1;
	}
	rate = (double)(w.last.tsc - w.first.tsc) /
	       (w.last.mono_ns - w.first.mono_ns);
	note("L1's TSC: %.6f GHz", rate);
	for (i = 1; i <= cycles; i++) {
		if (!cycle(&v, i, &w, argv[optind], argv[optind + 1], rate)) {
			while (++i <= cycles)
				printf("ok %d vmm-e2e/cycle-%d # SKIP an earlier cycle failed\n",
				       ++test_nr, i);
			break;
		}
	}
	if (v.pid > 0) {
		kill_qemu(&v);
		stop_qemu(&v);
	}
	return failed ? 1 : 0;
}
