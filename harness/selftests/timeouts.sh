#!/bin/sh
# A test that hangs is killed after its own timeout and reported; a guest
# that hangs as a whole is killed from outside and reported with its last
# console lines.
set -eu
# shellcheck source=lib.sh
. "$(dirname -- "$0")/lib.sh"

base=$("$bin/valid-bases" | cut -d' ' -f1)
kdir=$("$bin/kernel-image" "$base" series)
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
