#!/bin/sh
# check-series reports the verdicts of its last run again, marked as
# reused in the TAP, only on the same inputs: a change to a patch, the
# base's record, a harness program that the checks run (not another), a
# list, the config fragments in use, the installed packages or a variable
# that kbuild or Python reads makes it drop them and check anew. Runs in a
# copy of the checkout whose series lists no patch, so that checking anew
# stops at once ("no series"), with kept verdicts written here: nothing
# is checked out or built.
set -eu
# shellcheck source=lib.sh
. "$(dirname -- "$0")/lib.sh"

copy=$tmp/top
mkdir -p "$copy"
cp -R "$top/harness" "$top/patches" "$copy/"
base=$("$bin/valid-bases" | cut -d' ' -f1)
: >"$copy/patches/$base/series"
BUILD_DIR=$tmp/build
export BUILD_DIR
check_series=$copy/harness/bin/check-series
lint=$BUILD_DIR/$base/lint
tap=$BUILD_DIR/results/$base/readiness@host.tap

# A directory first on PATH for the whole test: a dpkg-query that lists
# the packages and then the lines of $fake/more (or fails while
# $fake/broken exists), and, later, a gcc.
fake=$tmp/fake
mkdir -p "$fake"
: >"$fake/more"
printf '#!/bin/sh\n[ ! -e %s ] || exit 2\nPATH=%s dpkg-query "$@"\ncat %s\n' \
	"$fake/broken" "$PATH" "$fake/more" >"$fake/dpkg-query"
chmod +x "$fake/dpkg-query"
PATH=$fake:$PATH

# Both run in an environment of their own, whatever make check was given
# (KCONFIG=debug, LLVM=1, READINESS=again, ...), and a HOME of their own.
mkdir -p "$tmp/home"
: >"$tmp/home/.checkpatch.conf"
: >"$tmp/home/.gitconfig"
# keep_now [VAR=VALUE...]: kept verdicts of one passed test, with the key
# that check-series --key gives in that environment as the inputs are now;
# its status in $status, its errors in $tmp/out.
keep_now() {
	mkdir -p "$lint"
	printf 'TAP version 13\n1..1\nok 1 kept\n' >"$lint/readiness.tap"
	status=0
	env -i PATH="$PATH" HOME="$tmp/home" BUILD_DIR="$BUILD_DIR" "$@" \
		"$check_series" --key "$base" >"$lint/readiness.key" 2>"$tmp/out" || status=$?
}
# keep: the same, which must give a key.
keep() {
	keep_now
	[ "$status" -eq 0 ] || { cat "$tmp/out"; fail "check-series --key: exit $status"; }
}

# run [VAR=VALUE]: check-series on the copy, in that environment; its
# status in $status, its output in $tmp/out.
run() {
	status=0
	env -i PATH="$PATH" HOME="$tmp/home" BUILD_DIR="$BUILD_DIR" "$@" \
		timeout 60 "$check_series" "$base" >"$tmp/out" 2>&1 || status=$?
}

# checked_anew INPUT: the last run dropped the kept verdicts and checked
# anew.
checked_anew() {
	if grep -q "reported again\|# reused" "$tmp/out"; then
		cat "$tmp/out"
		fail "$1 changed, and the kept verdicts were reported again"
	fi
	expect_in "$tmp/out" "has no series"
	[ ! -e "$lint/readiness.tap" ] || fail "$1 changed, and the kept verdicts are still kept"
}

# The same inputs: the kept verdicts, marked as reused in the TAP; make's
# own flags and the harness's variables in MAKEFLAGS are no input.
for flags in '' '-j2 --jobserver-auth=3,4 -- BASE=6.1 READINESS=again'; do
	keep
	run MAKEFLAGS="$flags"
	[ "$status" -eq 0 ] || { cat "$tmp/out"; fail "kept verdicts (MAKEFLAGS=$flags): exit $status"; }
	expect_in "$tap" "# reused: the verdicts of "
	expect_in "$tap" "ok 1 kept"
done

# One input changed at a time (a file, with a line more, or the
# environment), then restored.
while read -r input file var; do
	keep
	[ "$file" = - ] || { cp "$file" "$tmp/saved" && echo '# changed' >>"$file"; }
	if [ "$var" = - ]; then run; else run "$var"; fi
	[ "$file" = - ] || cp "$tmp/saved" "$file"
	checked_anew "$input"
done <<EOT
patch $(find "$copy/patches/$base" -name '*.patch' | head -n 1) -
base.conf $copy/patches/$base/base.conf -
program $copy/harness/bin/check-series -
lib.sh $copy/harness/bin/lib.sh -
program-it-runs $copy/harness/bin/apply-series -
program-three-levels-down $copy/harness/bin/fetch-base -
checkpatch-allow $copy/harness/checkpatch-allow -
sparse.conf $copy/harness/sparse.conf -
packages $fake/more -
config-fragment $copy/harness/config/kvm.config -
checkpatch.conf $tmp/home/.checkpatch.conf -
git-config $tmp/home/.gitconfig -
KCONFIG - KCONFIG=debug
LLVM - LLVM=1
LLVM-in-MAKEFLAGS - MAKEFLAGS=LLVM=1
CFLAGS - CFLAGS=-w
EXTRA_CFLAGS - EXTRA_CFLAGS=-w
READINESS=again - READINESS=again
PYTHONPATH - PYTHONPATH=$tmp
EOT

# A harness program that neither check-series nor what it runs names is
# no input: a change to the report, or to the boot's programs (the matrix
# passes boot-run to lib.sh's pipeline), keeps the verdicts.
for prog in report boot-run boot-machine; do
	keep
	cp "$copy/harness/bin/$prog" "$tmp/saved"
	echo '# changed' >>"$copy/harness/bin/$prog"
	run
	cp "$tmp/saved" "$copy/harness/bin/$prog"
	[ "$status" -eq 0 ] || { cat "$tmp/out"; fail "kept verdicts, $prog changed: exit $status"; }
	expect_in "$tap" "# reused: the verdicts of "
done
cp "$copy/harness/bin/report" "$tmp/saved"
# Once a program that check-series runs names it, it is one.
cp "$copy/harness/bin/apply-series" "$tmp/saved-apply"
# shellcheck disable=SC2016 # the text $top, as the programs write it
echo '# runs "$top/harness/bin/report"' >>"$copy/harness/bin/apply-series"
keep
echo '# changed again' >>"$copy/harness/bin/report"
run
checked_anew "report, once apply-series names it"
cp "$tmp/saved" "$copy/harness/bin/report"
cp "$tmp/saved-apply" "$copy/harness/bin/apply-series"

# Another compiler found on the same PATH.
keep
printf '#!/bin/sh\nexec /usr/bin/gcc "$@"\n' >"$fake/gcc"
chmod +x "$fake/gcc"
run
rm "$fake/gcc"
checked_anew "the gcc on PATH"

# An input that cannot be read stops check-series --key and check-series
# with an error that says so. A key of the inputs that could be read would
# match one kept while the same input could not be read either, and those
# verdicts would be reported again: they are kept so here.
# unreadable INPUT: the last command stopped with that error, and reported
# no kept verdicts.
unreadable() {
	if [ "$status" -eq 0 ] || grep -q "# reused" "$tmp/out"; then
		cat "$tmp/out"
		fail "$1 could not be read, and check-series went on (exit $status)"
	fi
	expect_in "$tmp/out" "could not read the inputs of $base's readiness checks"
}
# A program named that is not there.
# shellcheck disable=SC2016 # the text $top, as the programs write it
echo '# runs "$top/harness/bin/nope"' >>"$copy/harness/bin/apply-series"
keep_now
unreadable "harness/bin/nope, which apply-series names (--key)"
cp "$tmp/saved-apply" "$copy/harness/bin/apply-series"
# A program run some other way, which the key could miss.
# shellcheck disable=SC2016 # the texts, as a program would write them
for line in '"$top/harness/bin/$prog" --prepare' '"$bin/fetch-base" 6.1' \
	'"$(dirname -- "$0")/fetch-base" 6.1' '"${top}/harness/bin/fetch-base" 6.1' \
	'"${0%/*}/fetch-base" 6.1'; do
	echo "$line" >>"$copy/harness/bin/apply-series"
	keep_now
	unreadable "apply-series with the line $line (--key)"
	expect_in "$tmp/out" "apply-series runs a program some other way"
	cp "$tmp/saved-apply" "$copy/harness/bin/apply-series"
done
mv "$copy/harness/sparse.conf" "$tmp/saved"
keep_now
unreadable "sparse.conf (--key)"
run
unreadable sparse.conf
# The same in bash --posix, which runs the left of || without set -e.
status=0
env -i PATH="$PATH" HOME="$tmp/home" BUILD_DIR="$BUILD_DIR" \
	bash --posix "$check_series" --key "$base" >/dev/null 2>"$tmp/out" || status=$?
unreadable "sparse.conf (--key, bash --posix)"
mv "$tmp/saved" "$copy/harness/sparse.conf"
keep_now KCONFIG=nope
unreadable "the fragment of KCONFIG=nope (--key)"
run KCONFIG=nope
unreadable "the fragment of KCONFIG=nope"
# The package list through --key only: check-series itself first makes
# sure its packages are installed, through the same dpkg-query, and would
# install them all.
: >"$fake/broken"
keep_now
unreadable "the list of packages (--key)"
rm "$fake/broken"
