#!/bin/sh
# make mail prepares the series in the sender's name, with the recipients
# of the base's MAINTAINERS as To:/Cc: lines, and refuses while the sender
# is the project's placeholder identity. On the first base's work tree,
# made as make makes it.
set -eu
# shellcheck source=lib.sh
. "$(dirname -- "$0")/lib.sh"

build=${BUILD_DIR:-$top/build}
base=$("$bin/valid-bases" | cut -d' ' -f1)
"$bin/prepare-tree" "$base"

printf '[user]\n\tname = Seed 5aa32317 maintainers\n\temail = maintainers@users.noreply.r-seed-5aa32317.example\n' >"$tmp/placeholder"
if GIT_CONFIG_GLOBAL=$tmp/placeholder "$bin/mail-series" "$base" >"$tmp/out" 2>&1; then
	fail "mail-series accepted the placeholder identity"
fi
expect_in "$tmp/out" "kvm@vger.kernel.org"
expect_in "$tmp/out" "cannot sign off a patch"
grep -q 'git send-email' "$tmp/out" && fail "a send command was printed for the placeholder"

printf '[user]\n\tname = A Sender\n\temail = sender@example.org\n' >"$tmp/me"
GIT_CONFIG_GLOBAL=$tmp/me "$bin/mail-series" "$base" >"$tmp/out"
expect_in "$tmp/out" "git send-email --dry-run"
mail=$build/$base/mail
for p in "$mail"/*.patch; do
	expect_in "$p" "From: A Sender <sender@example.org>"
	expect_in "$p" "To: kvm@vger.kernel.org"
	grep -q 'r-seed-5aa32317' "$p" && fail "$p still names the placeholder"
	case $p in */0000-cover-letter.patch) continue ;; esac
	expect_in "$p" "Signed-off-by: A Sender <sender@example.org>"
done
echo "$base: prepared $(find "$mail" -name '*.patch' | wc -l) patches in the sender's name"
