#!/bin/sh
# Importing a series and exporting it again reproduces patches/ byte for
# byte, for every base; and a work tree holding work that is not in
# patches/ is never overwritten when patches/ changes under it. The import
# is prepare-tree's, with only the files the series touches checked out.
set -eu
# shellcheck source=lib.sh
. "$(dirname -- "$0")/lib.sh"

cp -r "$top/harness" "$top/patches" "$tmp/"
for base in $("$bin/valid-bases"); do
	[ -f "$top/patches/$base/series" ] || continue
	BUILD_DIR=$tmp/build "$tmp/harness/bin/apply-series" --sparse "$base" \
		"$tmp/build/$base/src" >/dev/null
	BUILD_DIR=$tmp/build "$tmp/harness/bin/export-series" "$base" 2>/dev/null
	diff -r "$top/patches/$base" "$tmp/patches/$base" ||
		fail "patches/$base changed in the round trip"
	echo "$base: $(wc -l <"$top/patches/$base/series") patches round-tripped"
	# The clone took the base's objects packed: with them loose (one file
	# an object), its first commit would have started a repack of them
	# all in the background (make-base-repo).
	loose=$(git -C "$tmp/build/$base/src" count-objects | cut -d' ' -f1)
	[ "$loose" -lt 1000 ] ||
		fail "$base: the clone holds $loose loose objects; its base repository is not packed"
done

# A commit in the work tree, then a change to patches/: refused, with how
# to keep or drop the work.
base=$("$bin/valid-bases" | cut -d' ' -f1)
src=$tmp/build/$base/src
file=$(sed -n 's|^+++ b/||p' "$top/patches/$base/$(head -n 1 "$top/patches/$base/series")" | head -n 1)
echo "local work" >>"$src/$file"
git -C "$src" -c user.name=T -c user.email=t@invalid commit -q -a -m "Local work"
echo >>"$tmp/patches/$base/0000-cover-letter.patch"
status=0
BUILD_DIR=$tmp/build "$tmp/harness/bin/prepare-tree" "$base" >"$tmp/out" 2>&1 || status=$?
[ "$status" -ne 0 ] || fail "prepare-tree overwrote a tree holding local commits"
expect_in "$tmp/out" "holds commits not in patches/$base, and patches/$base changed"
expect_in "$tmp/out" "make export BASE=$base"
git -C "$src" log -1 --format=%s | grep -qx "Local work" || fail "the local commit is gone"
