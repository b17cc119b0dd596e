#!/bin/sh
# test-harness runs a test whose header says "# harness: alongside"
# alongside the other tests of its group, which run one after another,
# and waits for it; "# harness: background" tests are left out of --only
# foreground, and run alongside the others without --only; every test's
# verdict is in the TAP; a test-harness stopped midway stops the tests it
# runs alongside. Runs test-harness in a copy of the checkout on fake tests
# that log when they start and end.
# shellcheck disable=SC2016 # the fakes' bodies expand when they run
set -eu
# shellcheck source=lib.sh
. "$(dirname -- "$0")/lib.sh"

copy=$tmp/top
mkdir -p "$copy/harness/bin" "$copy/harness/selftests"
cp "$bin/test-harness" "$bin/lib.sh" "$copy/harness/bin/"
BUILD_DIR=$tmp/build
events=$tmp/events
export BUILD_DIR events
: >"$events"

# fake NAME HEADER SECONDS STATUS: a test that logs "NAME start", sleeps,
# logs "NAME end" and exits STATUS.
fake() {
	printf '#!/bin/sh\n%s\necho "%s start" >>"$events"\nsleep %s\necho "%s end" >>"$events"\nexit %s\n' \
		"$2" "$1" "$3" "$1" "$4" >"$copy/harness/selftests/$1.sh"
}
fake a '# harness: alongside' 3 3
fake b '# a plain test' 2 0
fake c '# a plain test' 1 1
fake d '# harness: background' 2 0

"$copy/harness/bin/test-harness" --only foreground >"$tmp/out" 2>&1 || true
tap=$BUILD_DIR/results/harness/self@host.tap
[ -s "$tap" ] || { cat "$tmp/out"; fail "test-harness wrote no TAP"; }

# at WHAT: the line of $events where WHAT was logged.
at() {
	grep -nx "$1" "$events" | cut -d: -f1
}
for e in 'a start' 'a end' 'b start' 'b end' 'c start' 'c end'; do
	[ -n "$(at "$e")" ] || fail "no '$e' logged: $(cat "$events")"
done
if [ "$(at 'a start')" -gt "$(at 'b end')" ] || [ "$(at 'b start')" -gt "$(at 'a end')" ]; then
	fail "the alongside test a did not run alongside b: $(cat "$events")"
fi
if [ "$(at 'b end')" -gt "$(at 'c start')" ] && [ "$(at 'c end')" -gt "$(at 'b start')" ]; then
	fail "the plain tests b and c ran at once: $(cat "$events")"
fi
! grep -q '^d ' "$events" || fail "--only foreground ran the background test d"
expect_in "$tap" "1..3"
expect_in "$tap" "not ok 1 harness/a # exit 3"
expect_in "$tap" "ok 2 harness/b # "
expect_in "$tap" "not ok 3 harness/c # exit 1"

# Without --only, the background test too runs alongside the others.
: >"$events"
"$copy/harness/bin/test-harness" >"$tmp/out" 2>&1 || true
for e in 'd start' 'd end' 'b start' 'b end'; do
	[ -n "$(at "$e")" ] || fail "no '$e' logged: $(cat "$events")"
done
if [ "$(at 'd start')" -gt "$(at 'b end')" ] || [ "$(at 'b start')" -gt "$(at 'd end')" ]; then
	fail "the background test d did not run alongside b: $(cat "$events")"
fi
expect_in "$tap" "1..4"
expect_in "$tap" "ok 4 harness/d # "

# A test-harness stopped while it runs the plain tests (SIGTERM, which it
# takes once the one running has ended) stops the alongside test.
printf '#!/bin/sh\n# harness: alongside\necho "$$" >"$events.a"\nexec sleep 30\n' \
	>"$copy/harness/selftests/a.sh"
rm -f "$events.a"
"$copy/harness/bin/test-harness" --only foreground >"$tmp/out" 2>&1 &
harness=$!
i=0
until [ -s "$events.a" ] || [ "$i" -ge 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ -s "$events.a" ] || fail "the alongside test did not start"
kill -s TERM "$harness"
wait "$harness" || true
pid=$(cat "$events.a")
outlived "$pid" "the alongside test outlived a stopped test-harness"
