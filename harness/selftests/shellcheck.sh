#!/bin/sh
# The harness's shell programs are shellcheck-clean.
set -eu
# shellcheck source=lib.sh
. "$(dirname -- "$0")/lib.sh"

command -v shellcheck >/dev/null || { echo "shellcheck not installed"; exit 4; }
cd "$top"
shellcheck -x -s sh harness/bin/* harness/selftests/*.sh .ci/run
