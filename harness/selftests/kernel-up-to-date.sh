#!/bin/sh
# build-kernel finds a kernel up to date without waiting for the build
# lock that another build holds (make check's readiness checks build
# beside runs whose series kernels are built already), and waits for it
# when there is something to build (another .config, another source).
# The objects are a fake of what a build leaves: no kernel is built.
set -eu
# shellcheck source=lib.sh
. "$(dirname -- "$0")/lib.sh"
# shellcheck source=../bin/lib.sh
. "$bin/lib.sh"

# A work tree of one commit, and objects built from it as it is.
src=$tmp/src
obj=$src/obj
mkdir -p "$obj/boot"
git init -q "$src"
echo obj >"$src/.gitignore"
echo 'int x;' >"$src/x.c"
git -C "$src" add .
git -C "$src" -c user.name=t -c user.email=t@invalid commit -q -m base
git -C "$src" rev-parse HEAD >"$obj/.built-from"
echo 'CONFIG_64BIT=y' >"$obj/.config"
cksum <"$obj/.config" >"$obj/.built-config"
echo "$(fragments_hash) $(sha256sum <"$obj/.config" | cut -c1-16)" >"$obj/.fragments"
echo image >"$obj/boot/bzImage"

# Another build holds the lock (for 60 s at most).
CACHE_DIR=$tmp
export CACHE_DIR
(
	flock 9
	exec sleep 60
) 9>"$tmp/kernel-build.lock" &
holder=$!
trap 'kill "$holder" 2>/dev/null; rm -rf "$tmp"' EXIT
until ! flock -n "$tmp/kernel-build.lock" true; do
	sleep 0.1
done

status=0
timeout 10 "$bin/build-kernel" "$src" "$obj" >"$tmp/out" 2>&1 || status=$?
[ "$status" -eq 0 ] || { cat "$tmp/out"; fail "an up-to-date kernel took $status, not 0 at once"; }
expect_in "$tmp/out" "kernel up to date: $obj/boot"

# A changed .config, then a changed source: it waits for the lock (and
# would build after it).
for change in config source; do
	case $change in
	config)
		cp "$obj/.config" "$tmp/config"
		echo 'CONFIG_SMP=y' >>"$obj/.config"
		;;
	source)
		cp "$tmp/config" "$obj/.config"
		echo 'int y;' >>"$src/x.c"
		;;
	esac
	status=0
	timeout 5 "$bin/build-kernel" "$src" "$obj" >"$tmp/out" 2>&1 || status=$?
	[ "$status" -eq 124 ] || { cat "$tmp/out"; fail "a changed $change exited $status, without waiting for the lock"; }
	expect_in "$tmp/out" "waiting for another kernel build to finish"
done
