#!/bin/sh
# Checks the site served at $SITE_URL against ./site: each file is served
# as written, and each local link and stylesheet of each page is served.
set -u
url=${SITE_URL:-http://web:8080}
fail=0
# The server may still be starting: wait for it, a bounded number of times.
i=0
until wget -q -O /dev/null "$url/"; do
	i=$((i + 1))
	[ "$i" -lt 50 ] || { echo "FAIL: $url/ does not answer"; exit 1; }
	sleep 0.2
done
cd /site
for f in $(find . -type f | sed 's|^\./||'); do
	if wget -q -O /tmp/got "$url/$f" && cmp -s /tmp/got "$f"; then
		echo "ok   /$f"
	else
		echo "FAIL /$f is not served as written"
		fail=1
	fi
	case $f in *.html) ;; *) continue ;; esac
	for link in $(grep -o 'href="/[^"]*"' "$f" | sed 's/^href="//; s/"$//'); do
		if ! wget -q -O /dev/null "$url$link"; then
			echo "FAIL /$f links to $link, which is not served"
			fail=1
		fi
	done
done
exit $fail
