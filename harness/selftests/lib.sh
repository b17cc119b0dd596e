# Shared by the harness's own tests.
# shellcheck shell=sh disable=SC2034 # the tests that source it use these
top=$(CDPATH='' cd -- "$(dirname -- "$0")/../.." && pwd)
bin=$top/harness/bin
fixtures=$top/harness/selftests/fixtures
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
	echo "FAIL: $*"
	exit 1
}

# expect_in FILE TEXT: FILE holds the fixed string TEXT.
expect_in() {
	grep -qF -- "$2" "$1" || { cat "$1"; fail "expected '$2' in $1"; }
}

# outlived PID WHAT: fail, and kill PID, if PID still runs (gone, or a
# zombie that nobody has reaped yet, is fine): WHAT should have stopped it.
outlived() {
	ol_state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	if [ -n "$ol_state" ] && [ "$ol_state" != Z ]; then
		kill "$1"
		fail "$2"
	fi
}
