#!/bin/sh
# The end-to-end VMM test's results: console-to-tap --lift makes the
# results that vmm-save-restore printed (relayed by the guest's /init as
# "# ok N vmm-e2e/...") results of their own, numbered with the others,
# and leaves the log alone without --lift; run-vmm-e2e refuses bad input.
set -eu
# shellcheck source=lib.sh
. "$(dirname -- "$0")/lib.sh"

log=$fixtures/console-vmm-e2e.log
"$bin/console-to-tap" --lift vmm-e2e/ "$log" 0 60 >"$tmp/lifted.tap"
expect_in "$tmp/lifted.tap" "1..6"
expect_in "$tmp/lifted.tap" "ok 1 kvm-amd-usable"
expect_in "$tmp/lifted.tap" "ok 2 vmm-e2e/l1-boot # L1 ticking"
expect_in "$tmp/lifted.tap" "ok 3 vmm-e2e/cycle-1 # downtime 13.01 s"
expect_in "$tmp/lifted.tap" "not ok 4 vmm-e2e/cycle-2 # after the restore: L1's TSC went back"
expect_in "$tmp/lifted.tap" "not ok 5 vmm-save-restore"
expect_in "$tmp/lifted.tap" "ok 6 kernel-log-clean"
expect_in "$tmp/lifted.tap" "# [  64.57] started QEMU 1"

"$bin/console-to-tap" "$log" 0 60 >"$tmp/plain.tap"
expect_in "$tmp/plain.tap" "1..3"
expect_in "$tmp/plain.tap" "# ok 2 vmm-e2e/cycle-1"
expect_in "$tmp/plain.tap" "not ok 2 vmm-save-restore"

# The report sees one row a cycle.
mkdir -p "$tmp/7.3"
cp "$tmp/lifted.tap" "$tmp/7.3/vmm-e2e-series@tcg-vmm.tap"
"$bin/report" "$tmp/7.3/vmm-e2e-series@tcg-vmm.tap" >"$tmp/report" || true
expect_in "$tmp/report" "vmm-e2e/cycle-2"
expect_in "$tmp/report" "4 passed, 2 failed, 0 skipped"

if "$bin/run-vmm-e2e" 7.3 >"$tmp/out" 2>&1; then
	fail "run-vmm-e2e ran without a kernel"
fi
expect_in "$tmp/out" "usage: run-vmm-e2e [--prepare] [--within-1s] BASE KERNEL [MACHINE]"
if "$bin/run-vmm-e2e" 7.3 series xen >"$tmp/out" 2>&1; then
	fail "run-vmm-e2e ran on an unknown machine"
fi
expect_in "$tmp/out" "unknown ACCEL 'xen'"
