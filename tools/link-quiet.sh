#!/bin/sh
# tools/link-quiet.sh CMD...: run a link command, keep its exit status and
# every message, except the warnings a static glibc link prints for
# libcrypto's and ldns's NSS calls (getaddrinfo, gethostbyname, dlopen,
# getservby*, getprotoby*, end*ent) with the "in function" line before
# each. brev never reaches that code: libcrypto's BIO socket and DSO parts
# and ldns's WKS record printer (docs/development.md). One short line says
# they were hidden; V=1 in the Makefile shows them all.
err=$(mktemp "${TMPDIR:-/tmp}/brev-ld.XXXXXX") || exit 1
"$@" 2>"$err"
rc=$?
awk '
	function flush() { if (held != "") print held; held = "" }
	/warning: Using .(getaddrinfo|gethostbyname|dlopen|getservbyname|getservbyport|endservent|getprotobyname|getprotobynumber|endprotoent). in statically linked applications/ {
		held = ""; hidden++; next
	}
	/: in function `[^'"'"']*.:$/ { flush(); held = $0; next }
	{ flush(); print }
	END {
		flush()
		if (hidden)
			printf "  (%d static-link warnings about getaddrinfo/dlopen/getservby*/getprotoby* hidden: libcrypto and ldns code brev never calls; see docs/development.md)\n", hidden
	}
' "$err" >&2
rm -f "$err"
exit $rc
