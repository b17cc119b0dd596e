// SPDX-License-Identifier: GPL-2.0-only
/*
 * /init of the test guest: mounts the pseudo file systems, checks that KVM
 * is usable, runs the tests listed in /tests/list with a timeout each, prints
 * kselftest TAP on the console, scans the kernel log for reports and powers
 * the machine off. No shell is needed in the guest.
 *
 * /tests/list has one test a line: "<name> <timeout seconds> [args...]";
 * the program is /tests/<name>. A line "skip <name> <reason>" reports the test
 * as skipped without running it. A line "ignore-log <text>" names a kernel
 * report that the machine type is known to cause: a report whose first line
 * contains <text> is printed but does not fail the log scan.
 *
 * Kernel command line parameters read here:
 *   harness.vendor=amd|intel|host   KVM module that must be usable
 *   harness.mode=tap|run            run: one program, print its exit status
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/klog.h>
#include <sys/syscall.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#define KSFT_SKIP	4
#define MAX_TESTS	256
#define LINE_MAX_LEN	1024

/* How long a test killed at its timeout may take to die. */
#define KILL_WAIT_S	30

struct test {
	char name[128];
	char reason[256];	/* set for a "skip" line */
	int timeout;
	char *argv[16];
};

static struct test tests[MAX_TESTS];
static int nr_tests;
static char *ignored_reports[16];
static int nr_ignored_reports;

static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void power_off(void)
{
	/* Let the serial port drain: a slow emulated UART loses the tail. */
	tcdrain(1);
	sync();
	reboot(RB_POWER_OFF);
	/* Without ACPI, a reset: QEMU runs with -no-reboot and exits. */
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}

/*
 * The initramfs has no /dev/console, so the kernel started us without
 * standard streams: take them from devtmpfs.
 */
static void console_on_stdio(void)
{
	int fd = open("/dev/console", O_RDWR);

	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

static void mount_fs(const char *src, const char *dir, const char *type)
{
	mkdir(dir, 0755);
	if (mount(src, dir, type, 0, NULL) && errno != EBUSY)
		out("# init: mount %s on %s: %s\n", type, dir, strerror(errno));
}

/* Read a small file into buf, without the trailing newline; "" on error. */
static const char *read_file(const char *path, char *buf, size_t size)
{
	ssize_t n = -1;
	int fd = open(path, O_RDONLY);

	if (fd >= 0) {
		n = read(fd, buf, size - 1);
		close(fd);
	}
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

/* The value of "key=" on the kernel command line, or def. */
static const char *cmdline_get(const char *key, const char *def)
{
	char cmdline[4096], *p, *save;
	size_t len = strlen(key);

	read_file("/proc/cmdline", cmdline, sizeof(cmdline));
	for (p = strtok_r(cmdline, " ", &save); p;
	     p = strtok_r(NULL, " ", &save)) {
		if (!strncmp(p, key, len) && p[len] == '=')
			return strdup(p + len + 1);
	}
	return def;
}

static void load_tests(void)
{
	char line[LINE_MAX_LEN];
	FILE *f = fopen("/tests/list", "r");

	if (!f) {
		out("# init: no /tests/list: %s\n", strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f) && nr_tests < MAX_TESTS) {
		struct test *t = &tests[nr_tests];
		char *tok, *save;
		int argc = 0;

		line[strcspn(line, "\n")] = '\0';
		tok = strtok_r(line, " ", &save);
		if (!tok || tok[0] == '#')
			continue;
		if (!strcmp(tok, "ignore-log")) {
			tok = strtok_r(NULL, "", &save);
			if (tok && nr_ignored_reports < 16)
				ignored_reports[nr_ignored_reports++] = strdup(tok);
			continue;
		}
		if (!strcmp(tok, "skip")) {
			tok = strtok_r(NULL, " ", &save);
			if (!tok)
				continue;
			snprintf(t->name, sizeof(t->name), "%s", tok);
			tok = strtok_r(NULL, "", &save);
			snprintf(t->reason, sizeof(t->reason), "%s",
				 tok ? tok : "skipped");
			nr_tests++;
			continue;
		}
		snprintf(t->name, sizeof(t->name), "%s", tok);
		tok = strtok_r(NULL, " ", &save);
		t->timeout = tok ? atoi(tok) : 300;
		t->argv[argc++] = t->name;
		while ((tok = strtok_r(NULL, " ", &save)) && argc < 15)
			t->argv[argc++] = strdup(tok);
		t->argv[argc] = NULL;
		nr_tests++;
	}
	fclose(f);
}

/*
 * The kernel starts on "tsc-early" and moves to "tsc" once it has refined
 * the TSC calibration, a second or so into the boot. Tests that depend on a
 * stable host TSC look at the clocksource: wait for that move, a while.
 */
static const char *settled_clocksource(char *buf, size_t size)
{
	const char *path =
		"/sys/devices/system/clocksource/clocksource0/current_clocksource";
	double start = now();

	while (!strcmp(read_file(path, buf, size), "tsc-early") &&
	       now() - start < 20)
		usleep(100 * 1000);
	return buf;
}

/* The CPU's virtualization extension: "intel" (VMX), "amd" (SVM) or NULL. */
static const char *cpu_vendor(void)
{
	static char buf[1 << 16];
	const char *flags;

	read_file("/proc/cpuinfo", buf, sizeof(buf));
	flags = strstr(buf, "\nflags");
	if (!flags)
		return NULL;
	if (strstr(flags, " vmx"))
		return "intel";
	if (strstr(flags, " svm"))
		return "amd";
	return NULL;
}

/*
 * Load the kernel modules in /modules: kvm and what it needs, then the
 * module of the CPU's vendor, with nested virtualization on; the other
 * vendor's module is left alone. A module whose dependencies are not
 * loaded yet fails, so go round until nothing more loads.
 */
static void load_modules(const char *vendor)
{
	char other[32], path[300], loaded[1024] = "", failed[64][128];
	bool progress = true, done[64] = { false };
	struct dirent *d;
	int pass, i;
	DIR *dir;

	memset(failed, 0, sizeof(failed));
	snprintf(other, sizeof(other), "kvm-%s.ko",
		 vendor && !strcmp(vendor, "amd") ? "intel" : "amd");
	for (pass = 0; pass < 8 && progress; pass++) {
		progress = false;
		dir = opendir("/modules");
		if (!dir)
			return;
		for (i = 0; (d = readdir(dir)) && i < 64; i++) {
			const char *params = "";
			int fd;

			if (done[i] || !strstr(d->d_name, ".ko") ||
			    !strcmp(d->d_name, other))
				continue;
			if (!strncmp(d->d_name, "kvm-", 4))
				params = "nested=1";
			snprintf(path, sizeof(path), "/modules/%s", d->d_name);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			if (!syscall(SYS_finit_module, fd, params, 0) ||
			    errno == EEXIST) {
				done[i] = progress = true;
				snprintf(loaded + strlen(loaded),
					 sizeof(loaded) - strlen(loaded),
					 " %s%s%s", d->d_name, *params ? " " : "",
					 params);
			} else {
				snprintf(failed[i], sizeof(failed[i]),
					 "%.64s: %.60s", d->d_name, strerror(errno));
			}
			close(fd);
		}
		closedir(dir);
	}
	out("# init: modules loaded:%s\n", *loaded ? loaded : " none");
	for (i = 0; i < 64; i++)
		if (!done[i] && failed[i][0])
			out("# init: could not load %s\n", failed[i]);
}

/*
 * Check that /dev/kvm exists, which it does only once a vendor module has
 * initialized, and that the CPU is the expected vendor's; print what was
 * found. Returns 0 when KVM is usable.
 */
static int check_kvm(const char *want)
{
	const char *vendor = cpu_vendor();
	char buf[64], nested[64] = "-";

	/* Only once the TSC calibration is final: see kvm.config. */
	out("# init: clocksource: %s\n", settled_clocksource(buf, sizeof(buf)));
	load_modules(vendor);

	if (vendor) {
		snprintf(buf, sizeof(buf), "/sys/module/kvm_%s/parameters/nested",
			 vendor);
		read_file(buf, nested, sizeof(nested));
	}
	out("# init: cpu virtualization: %s, kvm_%s nested: %s\n",
	    vendor ? vendor : "none", vendor ? vendor : "-", nested);
	if (access("/dev/kvm", R_OK | W_OK)) {
		out("# init: /dev/kvm: %s\n", strerror(errno));
		return -1;
	}
	if (!vendor || (strcmp(want, "host") && strcmp(want, vendor))) {
		out("# init: expected kvm_%s to be usable\n", want);
		return -1;
	}
	return 0;
}

/* The kernel's log buffer, NUL-terminated and malloc()ed; NULL on error. */
static char *read_kernel_log(void)
{
	int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf;
	int n;

	if (size <= 0)
		return NULL;
	buf = malloc(size + 1);
	if (!buf)
		return NULL;
	n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

static void sysrq(char key)
{
	int fd = open("/proc/sysrq-trigger", O_WRONLY);

	if (fd < 0 || write(fd, &key, 1) != 1)
		out("# init: sysrq %c: %s\n", key, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/*
 * Reap a test killed at its timeout. One that SIGKILL does not end within
 * KILL_WAIT_S is stuck in the kernel: print what the blocked tasks and the
 * CPUs are doing (sysrq w and l, from the kernel log, which the console's
 * log level hides) and leave it behind.
 */
static void reap_killed(pid_t pid, const char *name)
{
	char *log, *dump;
	int i;

	for (i = 0; i < KILL_WAIT_S * 10; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		usleep(100000);
	}
	out("# init: %s did not die %d s after SIGKILL, the kernel's view:\n",
	    name, KILL_WAIT_S);
	sysrq('w');
	sysrq('l');
	sleep(2);
	log = read_kernel_log();
	dump = log ? strstr(log, "sysrq: Show Blocked State") : NULL;
	for (dump = dump ? strtok(dump, "\n") : NULL; dump;
	     dump = strtok(NULL, "\n"))
		out("# kernel log:   %s\n", dump);
	free(log);
}

/*
 * Run one test with its output on the console behind "# ", killing it
 * when its time is up. Returns the wait status, or -1 on timeout.
 */
static int run_test(struct test *t, double *secs)
{
	char path[256], buf[4096], line[LINE_MAX_LEN];
	double start = now(), deadline = start + t->timeout;
	size_t len = 0;
	int pipefd[2], status = 0;
	pid_t pid;

	snprintf(path, sizeof(path), "/tests/%s", t->name);
	if (pipe(pipefd))
		return -2;
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		close(pipefd[1]);
		chdir("/tests");
		execv(path, t->argv);
		fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);

	for (;;) {
		struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };
		double left = deadline - now();
		ssize_t n;
		int i;

		if (left <= 0) {
			kill(-pid, SIGKILL);
			reap_killed(pid, t->name);
			status = -1;
			break;
		}
		if (poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		n = read(pipefd[0], buf, sizeof(buf));
		if (n <= 0) {
			waitpid(pid, &status, 0);
			break;
		}
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n' || len == sizeof(line) - 1) {
				line[len] = '\0';
				out("# %s\n", line);
				len = 0;
			}
			if (buf[i] != '\n')
				line[len++] = buf[i];
		}
	}
	if (len) {
		line[len] = '\0';
		out("# %s\n", line);
	}
	close(pipefd[0]);
	*secs = now() - start;
	return status;
}

/* Lines printed after a report's first line, unless its end comes first. */
#define REPORT_CONTEXT_LINES	40

/*
 * Scan the kernel log for reports; print each report's first line and what
 * follows it (its trace). Returns the number of reports.
 */
static int scan_kernel_log(void)
{
	static const char * const patterns[] = {
		"WARNING:", "BUG:", "kernel BUG at", "Oops", "KASAN", "UBSAN",
		"list_add corruption", "list_del corruption",
		"possible recursive locking", "possible circular locking",
		"inconsistent lock state", "suspicious RCU usage",
		"Call Trace", "rcu_sched self-detected stall",
		"rcu: INFO:", "general protection fault", "Kernel panic",
		"blocked for more than",
	};
	char *buf = read_kernel_log(), *line, *save;
	int found = 0, context = 0;
	bool ignoring = false;
	size_t i;

	if (!buf)
		return 0;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (ignoring) {
			if (strstr(line, "---[ end trace"))
				ignoring = false;
			continue;
		}
		for (i = 0; i < (size_t)nr_ignored_reports; i++) {
			if (strstr(line, ignored_reports[i])) {
				out("# kernel log, known on this machine: %s\n",
				    line);
				ignoring = true;
				break;
			}
		}
		if (ignoring)
			continue;
		if (context) {
			/* The rest of a report: its trace, up to its end. */
			out("# kernel log:   %s\n", line);
			if (strstr(line, "---[ end trace"))
				context = 0;
			else
				context--;
			continue;
		}
		for (i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
			if (strstr(line, patterns[i])) {
				out("# kernel log: %s\n", line);
				context = REPORT_CONTEXT_LINES;
				found++;
				break;
			}
		}
	}
	free(buf);
	return found;
}

int main(void)
{
	const char *vendor, *mode;
	struct utsname u;
	int i, failed = 0, kvm_ok;

	mount_fs("proc", "/proc", "proc");
	mount_fs("sysfs", "/sys", "sysfs");
	mount_fs("devtmpfs", "/dev", "devtmpfs");
	console_on_stdio();
	mount_fs("debugfs", "/sys/kernel/debug", "debugfs");
	mount_fs("tmpfs", "/tmp", "tmpfs");
	/* POSIX semaphores and shared memory (sem_open, shm_open) live here. */
	mount_fs("tmpfs", "/dev/shm", "tmpfs");
	setvbuf(stdout, NULL, _IOLBF, 0);

	vendor = cmdline_get("harness.vendor", "host");
	mode = cmdline_get("harness.mode", "tap");
	uname(&u);
	out("# init: kernel %s %s\n", u.release, u.version);
	load_tests();

	out("TAP version 13\n");
	out("1..%d\n", nr_tests + 2);
	kvm_ok = !check_kvm(vendor);
	out("%s 1 kvm-%s-usable\n", kvm_ok ? "ok" : "not ok", vendor);

	for (i = 0; i < nr_tests; i++) {
		struct test *t = &tests[i];
		double secs = 0;
		int status;

		if (t->reason[0]) {
			out("ok %d %s # SKIP %s\n", i + 2, t->name, t->reason);
			continue;
		}
		if (!kvm_ok) {
			out("not ok %d %s # kvm not usable\n", i + 2, t->name);
			failed++;
			continue;
		}
		out("# running %s (timeout %d s)\n", t->name, t->timeout);
		status = run_test(t, &secs);
		if (status == -1) {
			out("not ok %d %s # TIMEOUT after %d s\n", i + 2,
			    t->name, t->timeout);
			failed++;
		} else if (WIFEXITED(status) &&
			   WEXITSTATUS(status) == KSFT_SKIP) {
			out("ok %d %s # SKIP (%.1f s)\n", i + 2, t->name, secs);
		} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			out("ok %d %s # %.1f s\n", i + 2, t->name, secs);
		} else {
			out("not ok %d %s # %s %d (%.1f s)\n", i + 2, t->name,
			    WIFEXITED(status) ? "exit" : "signal",
			    WIFEXITED(status) ? WEXITSTATUS(status) :
			    WTERMSIG(status), secs);
			failed++;
		}
		if (!strcmp(mode, "run"))
			out("# exit status %d\n", status == -1 ? 124 :
			    WIFEXITED(status) ? WEXITSTATUS(status) :
			    128 + WTERMSIG(status));
	}

	if (scan_kernel_log()) {
		out("not ok %d kernel-log-clean\n", nr_tests + 2);
		failed++;
	} else {
		out("ok %d kernel-log-clean\n", nr_tests + 2);
	}
	out("# init: done, %d failed\n", failed);
	power_off();
	return 0;
}
