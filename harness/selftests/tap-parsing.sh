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
# Under the tables, what each failed test printed before its result,
# then the failures, a line each, the closing line last.
sed -n '/^what the failed tests printed:$/,$p' "$tmp/report" >"$tmp/failed"
expect_in "$tmp/failed" "  6.1/series@tcg x86_64/state_test: exit 254 (0.4 s)"
# The selftests' report of an assertion: its 4 lines, not the backtrace.
expect_in "$tmp/failed" "      # ==== Test Assertion Failure ===="
expect_in "$tmp/failed" "      #   Stage 3: expected 3, got 4"
! grep -q -e "main at state_test.c" -e "Random seed" "$tmp/failed" ||
	fail "more than the assertion's report listed"
[ "$(sed -n '/^failed:$/,$p' "$tmp/failed")" = "failed:
  6.1/series@tcg x86_64/state_test

7 passed, 1 failed, 2 skipped" ] || fail "not the list of failures, then the closing line, last"
! grep -q -e "fail(wanted)" -e "tsc_msrs_test" "$tmp/failed" || fail "a wanted failure listed as failed"
# A test of subtests: those that failed, wherever they are in its output.
{
	echo "# running x86/subtests (timeout 300 s)"
	for i in 1 2 3 4 5; do echo "# ok $i t.pass$i"; done
	echo "# not ok 6 t.fails"
	for i in 7 8 9 10 11; do echo "# ok $i t.pass$i"; done
	echo "not ok 1 x86/subtests # exit 1 (0.1 s)"
} >"$tmp/6.1/subtests@tcg.tap"
EXPECT_DIR=$tmp/expect "$bin/report" "$tmp/6.1/subtests@tcg.tap" >"$tmp/report" || true
expect_in "$tmp/report" "      # not ok 6 t.fails"
# Without either, its first 3 and last 5 lines: a kernel report's start
# (kernel-log-clean), a hung guest's last console lines (console-to-tap
# prints them before the failures it adds).
{
	echo "ok 1 x86/first"
	for i in 1 2 3 4 5 6 7 8 9; do echo "# kernel log: line $i"; done
	echo "not ok 2 kernel-log-clean"
} >"$tmp/6.1/log@tcg.tap"
EXPECT_DIR=$tmp/expect "$bin/report" "$tmp/6.1/log@tcg.tap" >"$tmp/report" || true
sed -n '/^what the failed tests printed:$/,/^$/p' "$tmp/report" >"$tmp/failed"
[ "$(cat "$tmp/failed")" = "what the failed tests printed:
  6.1/log@tcg kernel-log-clean
      # kernel log: line 1
      # kernel log: line 2
      # kernel log: line 3
      ...
      # kernel log: line 5
      # kernel log: line 6
      # kernel log: line 7
      # kernel log: line 8
      # kernel log: line 9" ] || fail "not the first 3 and last 5 lines: $(cat "$tmp/failed")"
cp "$tmp/hung.tap" "$tmp/6.1/hung@tcg.tap"
EXPECT_DIR=$tmp/expect "$bin/report" "$tmp/6.1/hung@tcg.tap" >"$tmp/report" || true
expect_in "$tmp/report" "  6.1/hung@tcg guest-completed: the guest hung: killed after 42 s"
expect_in "$tmp/report" "      #   [   9.0] rcu: INFO"
# A test's lines come before its result in every TAP of the harness: a
# failed readiness check among passed ones, each with lines of its own.
{
	echo "# patch 1 is fine"
	echo "ok 1 checkpatch-strict/0001"
	echo "# ERROR: patch 2 is not"
	echo "not ok 2 checkpatch-strict/0002"
	echo "# patch 3 is fine"
	echo "ok 3 checkpatch-strict/0003"
} >"$tmp/6.1/lint@host.tap"
EXPECT_DIR=$tmp/expect "$bin/report" "$tmp/6.1/lint@host.tap" >"$tmp/report" || true
sed -n '/^what the failed tests printed:$/,/^$/p' "$tmp/report" >"$tmp/failed"
[ "$(cat "$tmp/failed")" = "what the failed tests printed:
  6.1/lint@host checkpatch-strict/0002
      # ERROR: patch 2 is not" ] || fail "a readiness check listed with another's lines: $(cat "$tmp/failed")"

# A wanted failure that passes is a failure.
cp "$tmp/ok.tap" "$tmp/6.1/base@tcg.tap"
EXPECT_DIR=$tmp/expect "$bin/report" "$tmp/6.1/base@tcg.tap" >"$tmp/report" || true
expect_in "$tmp/report" "PASS(want fail)"
expect_in "$tmp/report" "2 passed, 2 failed, 1 skipped"
expect_in "$tmp/report" "  6.1/base@tcg x86_64/tsc_msrs_test (passed, where harness/expect/6.1 says it must fail)"

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
