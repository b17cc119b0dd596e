#!/bin/sh
# A pinned version that the archive does not have stops with the versions
# it does have and how to override the pin.
set -eu
# shellcheck source=lib.sh
. "$(dirname -- "$0")/lib.sh"

status=0
CACHE_DIR=$tmp VERSION=0.0.0-bogus "$bin/fetch-base" 6.1 >"$tmp/out" 2>&1 || status=$?
[ "$status" -ne 0 ] || fail "fetch-base accepted a version that does not exist"
expect_in "$tmp/out" "linux-source-6.1 0.0.0-bogus is not in bookworm-security"
expect_in "$tmp/out" "versions available: "
expect_in "$tmp/out" "make BASE=6.1 VERSION=<version>"
grep -q 'versions available: .*6\.1\.' "$tmp/out" || { cat "$tmp/out"; fail "no versions listed"; }
