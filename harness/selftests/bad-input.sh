#!/bin/sh
# Unknown names and missing files are refused with a message that says
# what is valid, never a crash or a silent pass.
set -eu
# shellcheck source=lib.sh
. "$(dirname -- "$0")/lib.sh"

# must_fail TEXT CMD...: CMD fails and says TEXT.
must_fail() {
	text=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then
		fail "succeeded: $*"
	fi
	expect_in "$tmp/out" "$text"
}

must_fail "unknown BASE '5.4'; valid: 6.1 7.3" "$bin/fetch-base" 5.4
must_fail "unknown ACCEL 'xen'; valid: " "$bin/run-tests" 6.1 series xen
must_fail "unknown KERNEL 'nope'; valid: series base mailed mutant-NAME extra extra-bare" "$bin/kernel-image" 6.1 nope
must_fail "no such patch: $tmp/none.patch" "$bin/apply-series" 6.1 "$tmp/tree" "$tmp/none.patch"
must_fail "unknown test set 'nope'; valid: main suite log" "$bin/test-list" 6.1 nope
must_fail "run 6.1:series:tcg::main:sideways: unknown boot 'sideways'; valid: alone" \
	"$bin/test-matrix" --taps 6.1:series:tcg 6.1:series:tcg::main:sideways
must_fail "unknown BASE '5.4'; valid: 6.1 7.3" "$bin/test-list" 5.4 log
[ "$(wc -l <"$tmp/out")" -eq 1 ] || fail "test-list 5.4 log: more than the error for BASE"

# The log set: base.conf's log_tests, and an error for a base without them.
"$bin/test-list" 6.1 log >"$tmp/out"
want=$(sed -n "s/^log_tests=//p" "$top/patches/6.1/base.conf" | tr ' ' '\n')
if [ -z "$want" ] || [ "$(cat "$tmp/out")" != "$want" ]; then
	fail "test-list 6.1 log: '$(cat "$tmp/out")', where base.conf says '$want'"
fi
mkdir -p "$tmp/nolog/harness" "$tmp/nolog/patches"
cp -R "$top/harness/bin" "$tmp/nolog/harness/"
cp -R "$top/patches/6.1" "$tmp/nolog/patches/"
sed -i '/^log_tests=/d' "$tmp/nolog/patches/6.1/base.conf"
must_fail "base.conf names no log_tests" "$tmp/nolog/harness/bin/test-list" 6.1 log

printf 'x86_64/not_a_test 10\n' >"$tmp/list"
mkdir -p "$tmp/bin"
must_fail "test program missing: $tmp/bin/x86_64/not_a_test" \
	"$bin/make-initramfs" "$tmp/initrd" "$tmp/list" "$tmp/bin"

# A patch that does not apply is named, with git's message.
printf -- '--- a/Makefile\n+++ b/Makefile\n@@ -1,1 +1,1 @@\n-no such line\n+x\n' >"$tmp/bad.diff"
must_fail "patch does not apply: $tmp/bad.diff" "$bin/apply-series" --bare --sparse 6.1 "$tmp/tree" "$tmp/bad.diff"
expect_in "$tmp/out" "error: patch failed: Makefile:1"

# A sparse source whose checksum is not the pinned one is refused.
mkdir -p "$tmp/t/harness"
cp -r "$top/harness/bin" "$tmp/t/harness/"
sed 's/^sha256=.*/sha256=0000000000000000000000000000000000000000000000000000000000000000/' \
	"$top/harness/sparse.conf" >"$tmp/t/harness/sparse.conf"
must_fail "does not have the SHA-256 that harness/sparse.conf pins" \
	env CACHE_DIR="$tmp/cache" "$tmp/t/harness/bin/build-sparse"
