#!/bin/sh
# make mail writes each base's mailed series as mails with b4, in the
# sender's name, and refuses while the sender is the project's placeholder
# identity. Every mail comes from the sender, every patch carries the
# sender's sign-off, a patch by someone else (a backport) keeps its author
# in the body's From: line, only the mailed patches are mails (not the
# proof below patches/BASE/proof), and the record's own recipients
# (stable@ for a stable request) are on the first mail. Nothing is sent.
set -eu
# shellcheck source=lib.sh
. "$(dirname -- "$0")/lib.sh"

build=${BUILD_DIR:-$top/build}
printf '[user]\n\tname = Seed 5aa32317 maintainers\n\temail = maintainers@users.noreply.r-seed-5aa32317.example\n' >"$tmp/placeholder"
printf '[user]\n\tname = A Sender\n\temail = sender@example.org\n' >"$tmp/me"

for base in $("$bin/valid-bases"); do
	dir=$top/patches/$base
	if GIT_CONFIG_GLOBAL=$tmp/placeholder "$bin/mail-series" "$base" >"$tmp/out" 2>&1; then
		fail "$base: mail-series accepted the placeholder identity"
	fi
	expect_in "$tmp/out" "cannot sign off a patch"

	GIT_CONFIG_GLOBAL=$tmp/me "$bin/mail-series" "$base" >"$tmp/out"
	mail=$build/$base/mail
	if grep -qx 'mail=request' "$dir/base.conf"; then
		# A stable request naming the commits: one mail, no patch.
		[ "$(find "$mail" -name '*.eml' | wc -l)" -eq 1 ] ||
			fail "$base: a request is one mail"
		eml=$mail/0000-request.eml
		expect_in "$eml" "From: A Sender <sender@example.org>"
		expect_in "$eml" "To: $(sed -n 's/^mail_to=//p' "$dir/base.conf")"
		expect_in "$eml" "[$(sed -n 's/^mail_prefix=//p' "$dir/base.conf")]"
		grep -q -e 'r-seed-5aa32317' -e '^diff --git' "$eml" &&
			fail "$eml names the placeholder or carries a patch"
		echo "$base: a stable request written as a mail in the sender's name"
		continue
	fi
	mailed=$(grep -v -e '^#' -e '^$' -e / "$dir/series")
	# A cover letter, unless one patch is mailed: b4 then puts the cover
	# letter's text below the patch's '---'.
	want=$(echo "$mailed" | wc -l)
	[ "$want" -eq 1 ] || want=$((want + 1))
	[ "$(find "$mail" -name '*.eml' | wc -l)" -eq "$want" ] ||
		fail "$base: $(find "$mail" -name '*.eml' | wc -l) mails, expected $want"
	expect_in "$tmp/out" "kvm@vger.kernel.org"
	first=$(find "$mail" -name '*.eml' | LC_ALL=C sort | head -n 1)
	# shellcheck disable=SC2013 # addresses without blanks
	for to in $(sed -n 's/^mail_to=//p' "$dir/base.conf"); do
		expect_in "$first" "$to"
	done
	n=0
	for p in $mailed; do
		n=$((n + 1))
		eml=$(find "$mail" -name "$(printf '%04d' "$n")-*.eml")
		expect_in "$eml" "From: A Sender <sender@example.org>"
		expect_in "$eml" "Signed-off-by: A Sender <sender@example.org>"
		grep -q 'r-seed-5aa32317' "$eml" && fail "$eml still names the placeholder"
		author=$(sed -n '/^From: /,/^[^ ]/p' "$dir/$p" | sed '$d' | tr -d '\n' |
			sed 's/^From: //; s/  */ /g')
		case $author in
		*r-seed-5aa32317*) ;;
		*) # A backport: its author stays, in the body.
			expect_in "$eml" "From: $author" ;;
		esac
	done
	echo "$base: $n patches written as mails in the sender's name"
done
