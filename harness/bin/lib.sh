# Shared by the harness programs: paths, messages, configuration records.
# shellcheck shell=sh disable=SC2034 # the programs that source it use these

top=$(CDPATH='' cd -- "$(dirname -- "$0")/../.." && pwd)
build=${BUILD_DIR:-$top/build}
cache=${CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kvm-tsc-series}
prog=$(basename -- "$0")

say() {
	printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "$prog" "$*" >&2
}

die() {
	printf '%s: error: %s\n' "$prog" "$*" >&2
	exit 1
}

# conf_get FILE KEY: the value of KEY=... in a record file, or empty.
conf_get() {
	sed -n "s/^$2=//p" "$1" | tail -n 1
}

# archive_uri SUITE: the first URI of a host apt source of Debian's main
# archive (for a -security suite, of the security archive), from
# sources.list and sources.list.d in one-line or deb822 form.
archive_uri() {
	case $1 in *-security) want=security ;; *) want=main ;; esac
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && cat "$f" && echo
	done | awk -v want="$want" '
		function pick(uri, suites) {
			n = split(suites, s, " ")
			for (i = 1; i <= n; i++)
				if ((want == "security") == (s[i] ~ /-security$/)) {
					print uri
					exit
				}
		}
		/^[ \t]*#/ { next }
		/^deb(-src)? / {
			sub(/\[[^]]*\] /, "")
			pick($2, $3)
			next
		}
		/^URIs:/ { uri = $2 }
		/^Suites:/ { suites = $0; sub(/^Suites:[ \t]*/, "", suites) }
		/^[ \t]*$/ { if (uri != "") pick(uri, suites); uri = ""; suites = "" }'
}

# base_conf BASE: the pin record of a base; dies listing the valid ones.
base_conf() {
	[ -f "$top/patches/$1/base.conf" ] ||
		die "unknown BASE '$1'; valid: $(valid_bases)"
	echo "$top/patches/$1/base.conf"
}

# mailed_patches BASE: the patches that patches/BASE mails, or that its
# stable request names (mail=request), one path a line, in order: the first
# mailed=N entries of its series, or without mailed= those outside
# patches/BASE/proof.
mailed_patches() {
	mp_n=$(conf_get "$top/patches/$1/base.conf" mailed)
	grep -v -e '^#' -e '^$' "$top/patches/$1/series" |
		if [ -n "$mp_n" ]; then head -n "$mp_n"; else grep -v /; fi |
		sed "s|^|$top/patches/$1/|"
}

valid_bases() {
	for f in "$top"/patches/*/base.conf; do
		basename "$(dirname "$f")"
	done | sort -V | tr '\n' ' ' | sed 's/ $//'
}

# machine_conf NAME: the record of a machine type.
machine_conf() {
	[ -f "$top/harness/machines/$1.conf" ] ||
		die "unknown ACCEL '$1'; valid: $(valid_machines)"
	echo "$top/harness/machines/$1.conf"
}

valid_machines() {
	for f in "$top"/harness/machines/*.conf; do
		basename "$f" .conf
	done | tr '\n' ' ' | sed 's/ $//'
}

# base_version BASE: the pinned package version, or $VERSION when set.
base_version() {
	if [ -n "${VERSION:-}" ]; then
		echo "$VERSION"
	else
		conf_get "$(base_conf "$1")" version
	fi
}

# config_fragments: the kernel config fragments merged on tinyconfig,
# kvm.config and, when KCONFIG is set, $KCONFIG.config.
config_fragments() {
	echo "$top/harness/config/kvm.config"
	[ -z "${KCONFIG:-}" ] || echo "$top/harness/config/$KCONFIG.config"
}

# fragments_hash: a short hash of the config fragments' contents.
fragments_hash() {
	# shellcheck disable=SC2046,SC2002 # one path a line, no spaces; cat joins them
	cat $(config_fragments) | sha256sum | cut -c1-16
}

# run_name KERNEL MACHINE SET: the name of a run's results, from KCONFIG
# too: KERNEL@MACHINE[-KCONFIG][-SET], with no -SET for the main set.
run_name() {
	echo "$1@$2${KCONFIG:+-$KCONFIG}$([ "$3" = main ] || echo "-$3")"
}

# failed_tap TAP WHAT: write TAP as one failing test, WHAT, for a step
# that could not produce results, so that the report shows it.
failed_tap() {
	mkdir -p "$(dirname "$1")"
	printf 'TAP version 13\n1..1\nnot ok 1 %s\n' "$2" >"$1"
}

# fail_run TAP WHAT: a run that could not boot: failed_tap, print it, stop.
fail_run() {
	failed_tap "$1" "$2"
	cat "$1"
	exit 1
}

# hold_lock FILE WHAT: wait until nobody else holds the lock FILE (saying
# that it waits for WHAT), then hold it on fd 9 until this program exits
# or calls release_lock.
hold_lock() {
	mkdir -p "$(dirname "$1")"
	exec 9>"$1"
	if ! flock -n 9; then
		say "waiting for $2"
		flock 9
	fi
}

# release_lock: let the lock of hold_lock go. It is free once no process
# started under it has fd 9 open still: run anything that may outlive
# its command there (git, whose "gc --auto" stays behind) with 9>&-.
release_lock() {
	exec 9>&-
}

# kernel_build_lock: one kernel build at a time on this machine.
kernel_build_lock() {
	hold_lock "$cache/kernel-build.lock" "another kernel build to finish"
}

# timed LABEL CMD...: run CMD, then say how long it took.
timed() {
	label=$1
	shift
	t0=$(date +%s)
	"$@"
	say "$label: done in $(($(date +%s) - t0)) s"
}

# tail_log FILE: the last lines of a failed step's log, and its path.
tail_log() {
	tail -n 25 "$1" >&2
	printf '%s: full log: %s\n' "$prog" "$1" >&2
}

# write_stamp BASE: record that build/BASE/src, as it is now, matches
# patches/BASE as it is now (see prepare-tree).
write_stamp() {
	printf 'patches=%s\nhead=%s\n' "$("$top/harness/bin/series-hash" "$1")" \
		"$(git -C "$build/$1/src" rev-parse HEAD)" >"$build/$1/src.stamp"
}

# ksft_make SRC OUT HEADERS [MAKE-ARGS...]: the KVM selftests' own Makefile
# in the tree SRC, building into OUT against the UAPI headers installed in
# HEADERS (make headers_install O=HEADERS).
ksft_make() {
	ksft_src=$1
	ksft_out=$2
	ksft_hdr=$3
	shift 3
	make -C "$ksft_src/tools/testing/selftests/kvm" OUTPUT="$ksft_out" \
		LINUX_HDR_PATH="$ksft_hdr/usr/include/" \
		KHDR_INCLUDES="-I$ksft_hdr/usr/include" "$@"
}

# Fixed identity and date: the base commit and every commit the harness
# makes itself get the same id on every machine.
fixed_identity() {
	GIT_AUTHOR_NAME='kvm-tsc-series harness'
	GIT_AUTHOR_EMAIL='harness@invalid'
	GIT_AUTHOR_DATE='2000-01-01T00:00:00+0000'
	GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME
	GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL
	GIT_COMMITTER_DATE=$GIT_AUTHOR_DATE
	export GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_AUTHOR_DATE
	export GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL GIT_COMMITTER_DATE
}

# pipeline BOOT COUNT: runs 1 to COUNT (test-matrix, test-vmm-e2e), each
# prepared by the caller's function prepare_run I (its kernel built, its
# initramfs packed) in the directory that run_dir I prints, and booted
# from there by the program BOOT (a path: boot-run; pipeline_boot), its
# TAP going to the file that run_tap I prints. One process prepares the
# runs one after another, niced so that a booting guest keeps its core, as
# far ahead of the boots as it gets: a kernel built anew (500 s cold, on
# both cores) goes on while the runs prepared before it boot. The guests
# boot in order, each once its run is prepared: one at a time while runs
# are still to be prepared (a guest keeps a core or two busy, the build
# the rest), then, once none is and no kernel builds on the machine, as
# many at a time as the machine's cores hold (each guest keeps the
# host_cores= of its machine record busy; GUEST_CORES sets the number of
# cores, nproc by default). A run that could not be prepared is not
# booted, and its TAP says so; a run whose directory an earlier run has
# is left out. Prints on stdout what each preparation printed and the TAP
# of each boot, in order, each run once its boot has ended; the progress
# lines (stderr) come as they happen. Stopped or interrupted, it stops the
# preparation and the guests that boot.
# Runs in a subshell: the caller's variables and traps stay as they were.
pipeline() (
	pl_boot=$1
	shift
	pl_cores=${GUEST_CORES:-$(nproc)}
	case $pl_cores in
	'' | *[!0-9]* | 0*) die "GUEST_CORES=$pl_cores: not a number of cores" ;;
	esac
	pl_q=$(mktemp -d)
	pl_i=0
	while [ "$pl_i" -lt "$1" ]; do
		pl_i=$((pl_i + 1))
		pl_dir=$(run_dir "$pl_i")
		if grep -qxF -- "$pl_dir" "$pl_q/dirs" 2>/dev/null; then
			say "left out: run $pl_i is in the list twice ($pl_dir)"
			touch "$pl_q/$pl_i.twice"
		fi
		echo "$pl_dir" >>"$pl_q/dirs"
		# No TAP of an earlier pipeline stands for this one's.
		[ -f "$pl_q/$pl_i.twice" ] || rm -f "$(run_tap "$pl_i")"
	done
	(
		trap 'touch "$pl_q/done"' EXIT
		pl_i=0
		while [ "$pl_i" -lt "$1" ]; do
			pl_i=$((pl_i + 1))
			[ ! -f "$pl_q/$pl_i.twice" ] || continue
			pl_status=0
			prepare_run "$pl_i" >"$pl_q/$pl_i.out" </dev/null || pl_status=$?
			echo "$pl_status" >"$pl_q/$pl_i.tmp"
			mv "$pl_q/$pl_i.tmp" "$pl_q/$pl_i.status"
		done
	) &
	pl_pid=$!
	# A background list ignores SIGINT: stop it and what it runs when this
	# ends early (not once it has ended: its number may be another's), and
	# the guests that still boot.
	trap 'pipeline_stop "$pl_q" "$pl_pid"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	echo 0 >"$pl_q/shown"
	pl_i=0
	while [ "$pl_i" -lt "$1" ]; do
		pl_i=$((pl_i + 1))
		[ ! -f "$pl_q/$pl_i.twice" ] || continue
		while [ ! -f "$pl_q/$pl_i.status" ] && [ ! -f "$pl_q/done" ] &&
			kill -0 "$pl_pid" 2>/dev/null; do
			pipeline_reap "$pl_q"
			pipeline_show "$pl_q" "$1"
			sleep 1
		done
		pl_status=$(cat "$pl_q/$pl_i.status" 2>/dev/null || echo none)
		if [ "$pl_status" = 0 ]; then
			pipeline_host_cores "$(run_dir "$pl_i")" "$pl_cores" >"$pl_q/$pl_i.cores"
			run_tap "$pl_i" >"$pl_q/$pl_i.run"
			while ! pipeline_may_boot "$pl_q" "$pl_cores" "$(cat "$pl_q/$pl_i.cores")"; do
				pipeline_reap "$pl_q"
				pipeline_show "$pl_q" "$1"
				sleep 1
			done
			(
				pipeline_boot "$pl_boot" "$(run_dir "$pl_i")" "$(run_tap "$pl_i")" >"$pl_q/$pl_i.tap" || true
				touch "$pl_q/$pl_i.end"
			) &
			echo "$!" >"$pl_q/$pl_i.pid"
		else
			if [ ! -s "$(run_tap "$pl_i")" ]; then
				# What prepare_run did not report itself.
				if [ "$pl_status" = none ]; then
					failed_tap "$(run_tap "$pl_i")" "prepare # the preparation stopped before this run"
				else
					failed_tap "$(run_tap "$pl_i")" "prepare # exit $pl_status, see above"
				fi
				cp "$(run_tap "$pl_i")" "$pl_q/$pl_i.tap"
			fi
			touch "$pl_q/$pl_i.end"
		fi
	done
	while [ "$(pipeline_booting "$pl_q")" -gt 0 ]; do
		pipeline_reap "$pl_q"
		pipeline_show "$pl_q" "$1"
		sleep 1
	done
	pipeline_show "$pl_q" "$1"
	wait
)

# The pipeline's state is in its directory QUEUE: for run I, I.out (what
# its preparation printed), I.status (its exit status), I.cores (the host
# cores its guest keeps busy), I.run (its TAP file), I.pid (its boot),
# I.tap (what its boot printed), I.end (its boot has ended, or it will not
# boot); done (nothing is left to prepare), shown (how many runs have been
# printed).

# pipeline_host_cores RUN ALL: the host cores that the guest of the
# prepared RUN keeps busy (host_cores= of its machine record), else ALL;
# ALL for a run that boots alone (alone=yes in its boot.conf).
pipeline_host_cores() {
	phc_n=
	if [ "$(conf_get "$1/boot.conf" alone 2>/dev/null)" = yes ]; then
		phc_n=$2
	elif [ -f "$1/boot.conf" ]; then
		phc_m=$top/harness/machines/$(conf_get "$1/boot.conf" machine).conf
		[ ! -f "$phc_m" ] || phc_n=$(conf_get "$phc_m" host_cores)
	fi
	case $phc_n in
	'' | *[!0-9]* | 0*)
		say "$1: no host_cores= in its machine record: it boots alone"
		phc_n=$2
		;;
	esac
	echo "$phc_n"
}

# pipeline_may_boot QUEUE ALL CORES: whether a guest that keeps CORES host
# cores busy may boot now: when no guest boots, or, once nothing is left
# to prepare and no kernel builds anywhere on this machine (the
# readiness checks build beside the end-to-end runs), when the guests that
# boot leave it CORES of the ALL cores.
pipeline_may_boot() {
	pmb_busy=$(pipeline_booting "$1")
	[ "$pmb_busy" -eq 0 ] ||
		{ [ -f "$1/done" ] && [ $((pmb_busy + $3)) -le "$2" ] &&
			{ [ ! -e "$cache/kernel-build.lock" ] ||
				flock -n "$cache/kernel-build.lock" true; }; }
}

# pipeline_reap QUEUE: a boot whose process has ended without saying so
# (killed) ended, and its run failed.
pipeline_reap() {
	for pr_f in "$1"/*.pid; do
		# Gone first, then not ended: a boot says so before it goes.
		if [ -f "$pr_f" ] && ! kill -0 "$(cat "$pr_f")" 2>/dev/null &&
			[ ! -f "${pr_f%.pid}.end" ]; then
			pr_tap=$(cat "${pr_f%.pid}.run")
			failed_tap "$pr_tap" "boot # its process ended before the boot did"
			cp "$pr_tap" "${pr_f%.pid}.tap"
			touch "${pr_f%.pid}.end"
		fi
	done
}

# pipeline_booting QUEUE: the host cores that the guests booting now keep
# busy.
pipeline_booting() {
	pb_n=0
	for pb_f in "$1"/*.pid; do
		[ ! -f "$pb_f" ] || [ -f "${pb_f%.pid}.end" ] ||
			pb_n=$((pb_n + $(cat "${pb_f%.pid}.cores")))
	done
	echo "$pb_n"
}

# pipeline_show QUEUE COUNT: print, in order, what each run's preparation
# printed and its TAP, for the runs whose turn has come and whose boot has
# ended.
pipeline_show() {
	read -r ps_i <"$1/shown"
	while [ "$ps_i" -lt "$2" ]; do
		ps_i=$((ps_i + 1))
		if [ ! -f "$1/$ps_i.twice" ]; then
			[ -f "$1/$ps_i.end" ] || break
			cat "$1/$ps_i.out" "$1/$ps_i.tap" 2>/dev/null || true
		fi
		echo "$ps_i" >"$1/shown"
	done
}

# pipeline_stop QUEUE PID: the pipeline's end. Stop the preparation PID
# unless it has ended, and each guest that still boots.
pipeline_stop() {
	[ -f "$1/done" ] || kill_tree "$2"
	for pst_f in "$1"/*.pid; do
		[ ! -f "$pst_f" ] || [ -f "${pst_f%.pid}.end" ] || kill_tree "$(cat "$pst_f")"
	done
	rm -rf "$1"
}

# run_dir I, run_tap I: the directory and the TAP file of the I-th run of a
# pipeline, from the caller's parse_run I (which sets base and name).
run_dir() {
	parse_run "$1"
	# shellcheck disable=SC2154 # set by the caller's parse_run
	echo "$build/$base/run/$name"
}

run_tap() {
	parse_run "$1"
	# shellcheck disable=SC2154 # set by the caller's parse_run
	echo "$build/results/$base/$name.tap"
}

# pipeline_taps COUNT: the TAP files of runs 1 to COUNT, each once.
pipeline_taps() {
	pt_i=0
	while [ "$pt_i" -lt "$1" ]; do
		pt_i=$((pt_i + 1))
		run_tap "$pt_i"
	done | awk '!seen[$0]++' | tr '\n' ' '
}

# pipeline_boot BOOT RUN TAP: boot RUN with the program BOOT (a path: see
# boot-run), which writes TAP; print it.
pipeline_boot() {
	"$1" "$2" </dev/null >/dev/null || true
	[ -s "$3" ] || failed_tap "$3" "${1##*/} # no results, see above"
	cat "$3"
}

# kill_tree PID: stop PID and every process below it (SIGTERM). They are
# stopped first, until no new one shows up, so that none forks away.
kill_tree() {
	kt_all=
	kt_new=$1
	while [ -n "$kt_new" ]; do
		# shellcheck disable=SC2086 # process ids
		kill -STOP $kt_new 2>/dev/null || true
		kt_all="$kt_all $kt_new"
		kt_new=$(cat /proc/[0-9]*/stat 2>/dev/null | awk -v all="$kt_all" '
			BEGIN { n = split(all, a, " "); for (i = 1; i <= n; i++) seen[a[i]] = 1 }
			{ pid = $1; sub(/.*\) /, ""); parent[pid] = $2 }
			END {
				do {
					more = 0
					for (p in parent)
						if (!(p in seen) && (parent[p] in seen)) {
							seen[p] = 1
							print p
							more = 1
						}
				} while (more)
			}')
	done
	# shellcheck disable=SC2086 # process ids
	kill -TERM $kt_all 2>/dev/null || true
	# shellcheck disable=SC2086 # process ids
	kill -CONT $kt_all 2>/dev/null || true
}

# pipeline_prepare PROGRAM ARGS...: PROGRAM (a path) --prepare ARGS,
# niced (for a prepare_run).
pipeline_prepare() {
	pp_prog=$1
	shift
	nice -n 10 "$pp_prog" --prepare "$@"
}
