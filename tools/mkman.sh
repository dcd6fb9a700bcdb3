#!/bin/sh
# tools/mkman.sh OUTDIR: brev(8) and brev.conf(5) from README.md, the one
# source of the commands and the configuration keys (issue 20). brev(8) is
# README's "Commands" section, brev.conf(5) its "Configuration" section
# with the key table as a list; markdown is reduced to man(7): `code` and
# **bold** to bold, links to their text, "- " items to bullets, fenced
# blocks to no-fill examples. A table cell may hold a `|` written as `\|`.
set -e
out=${1:?usage: tools/mkman.sh OUTDIR}
src=$(dirname "$0")/../README.md
ver=$(sed -n 's/^#define BREV_VERSION "\(.*\)"/\1/p' "$(dirname "$0")/../main.c" | head -1)
mkdir -p "$out"
page() { # page SECTION-TITLE NAME MANSECT "ONE-LINE" > file
	awk -v want="$1" -v name="$2" -v msec="$3" -v what="$4" -v ver="${ver:-0}" '
	function inline(s,   r) {
		gsub(/\\/, "\\e", s)
		gsub(/\\e\|/, "|", s)
		while (match(s, /\[[^]]*\]\([^)]*\)/)) {
			r = substr(s, RSTART + 1, RLENGTH - 1); sub(/\]\(.*$/, "", r)
			s = substr(s, 1, RSTART - 1) r substr(s, RSTART + RLENGTH)
		}
		while (match(s, /\*\*[^*]+\*\*/))
			s = substr(s, 1, RSTART - 1) "\\fB" substr(s, RSTART + 2, RLENGTH - 4) "\\fR" substr(s, RSTART + RLENGTH)
		while (match(s, /`[^`]+`/))
			s = substr(s, 1, RSTART - 1) "\\fB" substr(s, RSTART + 1, RLENGTH - 2) "\\fR" substr(s, RSTART + RLENGTH)
		gsub(/-/, "\\-", s)
		if (s ~ /^[.\047]/) s = "\\&" s
		return s
	}
	function cell(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
	BEGIN {
		printf ".TH %s %s \"\" \"brev %s\" \"brev\"\n", toupper(name), msec, ver
		printf ".SH NAME\n%s \\- %s\n", name, what
	}
	# Paragraphs and list items are gathered whole, so inline markup that
	# spans a line break converts too.
	function flush() { if (buf != "") { print head; print inline(buf) } buf = "" }
	/^## / { flush(); insec = (substr($0, 4) == want); if (insec) print ".SH DESCRIPTION"; next }
	!insec { next }
	/^```/ { flush(); if (!fence) { print ".PP\n.nf"; fence = 1 } else { print ".fi"; fence = 0 }; next }
	fence { l = $0; gsub(/\\/, "\\e", l); gsub(/-/, "\\-", l); if (l ~ /^[.\047]/) l = "\\&" l; print l; next }
	/^\|[- |:]*\|$/ { next }
	/^\| key \|/ { flush(); print ".SH KEYS"; next }
	/^\|/ {
		flush()
		l = $0; gsub(/\\\|/, "\001", l)
		n = split(l, c, "|")
		for (i = 2; i < n; i++) gsub(/\001/, "\\|", c[i])
		printf ".TP\n%s\n", inline(cell(c[2]))
		printf "%s (default: %s)\n", inline(cell(c[4])), inline(cell(c[3]))
		next
	}
	/^$/ { flush(); next }
	/^- / { flush(); head = ".IP \\(bu 2"; buf = substr($0, 3); next }
	{ if (buf == "") { head = ".PP"; buf = $0 } else buf = buf " " $0 }
	END { flush() }
	' "$src"
}
# Each page is written whole, then renamed: two makes at once (tests run in
# parallel) never see half a page.
page Commands brev 8 "a personal mail server: SMTP, IMAP and POP3 in one program" >"$out/brev.8.$$"
printf '.SH SEE ALSO\n.BR brev.conf (5),\n/usr/share/doc/brev/README.md\n' >>"$out/brev.8.$$"
page Configuration brev.conf 5 "configuration of the brev mail server" >"$out/brev.conf.5.$$"
printf '.SH FILES\nDATADIR/brev.conf\n.SH SEE ALSO\n.BR brev (8)\n' >>"$out/brev.conf.5.$$"
mv -f "$out/brev.8.$$" "$out/brev.8"
mv -f "$out/brev.conf.5.$$" "$out/brev.conf.5"
