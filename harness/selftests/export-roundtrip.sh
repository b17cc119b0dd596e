#!/bin/sh
# Importing a series and exporting it again reproduces patches/ byte for
# byte, for every base.
set -eu
# shellcheck source=lib.sh
. "$(dirname -- "$0")/lib.sh"

cp -r "$top/harness" "$top/patches" "$tmp/"
for base in $("$bin/valid-bases"); do
	[ -f "$top/patches/$base/series" ] || continue
	BUILD_DIR=$tmp/build "$tmp/harness/bin/prepare-tree" "$base"
	BUILD_DIR=$tmp/build "$tmp/harness/bin/export-series" "$base" 2>/dev/null
	diff -r "$top/patches/$base" "$tmp/patches/$base" ||
		fail "patches/$base changed in the round trip"
	echo "$base: $(wc -l <"$top/patches/$base/series") patches round-tripped"
done
