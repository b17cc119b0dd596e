#!/bin/sh
# The README's set-up and main path pass in a minimal Debian 12 root that
# holds only what a fresh machine of ours has (harness/bin/fresh-root):
# no package the harness runs is missing from ensure-packages.
# harness: background
set -eu
# shellcheck source=lib.sh
. "$(dirname -- "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "not root: the fresh root needs chroot and mounts"
	exit 4
fi
status=0
"$bin/fresh-root" >"$tmp/out" 2>&1 || status=$?
tail -n 20 "$tmp/out"
exit "$status"
