#!/bin/sh
# console-to-tap keeps the guest's TAP and drops kernel noise; a guest that
# never finished gets a failing line with the reason and the console tail;
# report counts passes, failures, skips and wanted failures, and lists
# reused verdicts.
set -eu
# shellcheck source=lib.sh
. "$(dirname -- "$0")/lib.sh"

"$bin/console-to-tap" "$fixtures/console-ok.log" 0 60 >"$tmp/ok.tap"
expect_in "$tmp/ok.tap" "ok 2 x86_64/tsc_msrs_test"
expect_in "$tmp/ok.tap" "not ok 3 x86_64/state_test"
! grep -q "kernel noise" "$tmp/ok.tap" || fail "kernel noise kept"
! grep -q "guest-completed" "$tmp/ok.tap" || fail "a finished guest reported as hung"

"$bin/console-to-tap" "$fixtures/console-hung.log" 124 42 >"$tmp/hung.tap"
expect_in "$tmp/hung.tap" "not ok 999 guest-completed # the guest hung: killed after 42 s"
expect_in "$tmp/hung.tap" "#   [   9.0] rcu: INFO"
! grep -q "$(printf '\r')" "$tmp/hung.tap" || fail "carriage returns kept"

: >"$tmp/empty.log"
"$bin/console-to-tap" "$tmp/empty.log" 1 42 >"$tmp/empty.tap"
expect_in "$tmp/empty.tap" "not ok 999 guest-completed # the guest stopped before its tests finished"

# report: a per-base table and the closing line; the results directory's
# name is the base, and harness/expect/BASE lists wanted failures.
mkdir -p "$tmp/6.1"
cp "$tmp/ok.tap" "$tmp/6.1/series@tcg.tap"
sed 's/^not ok 3 /ok 3 /; s/^ok 2 /not ok 2 /' "$tmp/ok.tap" >"$tmp/6.1/base@tcg.tap"
mkdir -p "$tmp/expect"
echo "base x86_64/tsc_msrs_test fail" >"$tmp/expect/6.1"
status=0
EXPECT_DIR=$tmp/expect "$bin/report" "$tmp/6.1/series@tcg.tap" "$tmp/6.1/base@tcg.tap" >"$tmp/report" || status=$?
[ "$status" -ne 0 ] || fail "report exited 0 with failures"
expect_in "$tmp/report" "== base 6.1 =="
expect_in "$tmp/report" "fail(wanted)"
expect_in "$tmp/report" "7 passed, 1 failed, 2 skipped"

# A wanted failure that passes is a failure.
cp "$tmp/ok.tap" "$tmp/6.1/base@tcg.tap"
EXPECT_DIR=$tmp/expect "$bin/report" "$tmp/6.1/base@tcg.tap" >"$tmp/report" || true
expect_in "$tmp/report" "PASS(want fail)"
expect_in "$tmp/report" "2 passed, 2 failed, 1 skipped"

# The runs of the whole suite (NAME-suite.tap) make a table of their own.
cp "$tmp/ok.tap" "$tmp/6.1/series@tcg-suite.tap"
EXPECT_DIR=$tmp/expect "$bin/report" "$tmp/6.1/series@tcg.tap" "$tmp/6.1/series@tcg-suite.tap" >"$tmp/report" || true
expect_in "$tmp/report" "== base 6.1, the whole x86 suite =="
[ "$(grep -c '^== base 6.1' "$tmp/report")" -eq 2 ] || fail "the suite run shares the main table"

# Verdicts a TAP file says it reused are listed under the tables, the
# closing line last.
{
	sed -n 1,2p "$tmp/ok.tap"
	echo "# reused: the verdicts of 2026-12-05 14:22:52, on the same inputs"
	sed 1,2d "$tmp/ok.tap"
} >"$tmp/6.1/readiness@host.tap"
EXPECT_DIR=$tmp/expect "$bin/report" "$tmp/6.1/readiness@host.tap" >"$tmp/report" || true
expect_in "$tmp/report" "  6.1/readiness@host: the verdicts of 2026-12-05 14:22:52, on the same inputs"
tail -n 1 "$tmp/report" | grep -q ' passed, ' || fail "the closing line is not the last"
