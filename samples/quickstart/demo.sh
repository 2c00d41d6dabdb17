#!/bin/bash
# `make demo`: makes the quickstart's images here (nothing is pulled), brings
# the stack up, and shows each thing it says it shows.
# `make demo-down` (or `demo.sh down`) stops it and removes what it made.
#
# BERTH picks the berth binary (default: the checkout's bin/berth); berth's
# own BERTH_ROOT and BERTH_STATE are honoured.
set -euo pipefail
cd "$(dirname "$0")"
top=$(cd ../.. && pwd)
export BERTH="${BERTH:-$top/bin/berth}"
berth() { "$BERTH" "$@"; }

if [ "${1:-}" = down ]; then
	berth down -v
	exit
fi

bold=$'\033[1m' plain=$'\033[0m'
[ -t 1 ] || bold='' plain=''
step() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; }

step "../mkimage.sh   # the samples' busybox image, made from Debian's busybox-static"
../mkimage.sh
step "berth up -d --wait   # builds web's image from ./Dockerfile, starts store, then web once store is healthy"
berth up -d --wait
step "berth ps"
berth ps
port=$(berth port web 8080)
step "curl http://$port/cgi-bin/visit   # twice: published port -> web -> store, found by name"
curl -fsS "http://$port/cgi-bin/visit"
curl -fsS "http://$port/cgi-bin/visit"
step "berth logs --tail 1   # the last line of each service's log"
berth logs --tail 1 --no-color
step "berth exec store cat /data/count   # the count, kept in the named volume"
berth exec -T store cat /data/count

# The edit is undone when the demo ends, so the checkout stays as it was.
page=web/index.html
saved=$(mktemp)
cp "$page" "$saved"
trap 'cat "$saved" >"$page"; rm -f "$saved"' EXIT
pid=$(berth top web | awk '$4 == "httpd" {print $2}')
step "sed -i 's/Hello from/Edited while running:/' $page   # web serves ./web through a bind mount"
sed -i 's/Hello from/Edited while running:/' "$page"
step "curl -s http://$port/ | grep h1"
curl -fsS "http://$port/" | grep h1
after=$(berth top web | awk '$4 == "httpd" {print $2}')
if [ -z "$pid" ] || [ "$pid" != "$after" ]; then
	echo "web was restarted: its httpd was PID ${pid:-?}, is now ${after:-?}" >&2
	exit 1
fi
echo "web was not restarted: its httpd is still PID $pid"

b=$BERTH
[ "$BERTH" != "$top/bin/berth" ] || b=../../bin/berth
cat <<MSG

${bold}The quickstart is running.${plain} Try next:
  open http://$port/ and http://$port/cgi-bin/visit  (edit samples/quickstart/web/index.html, reload)
  cd samples/quickstart && $b logs -f     # follow both services' logs; Ctrl-C stops following
  cd samples/quickstart && $b down        # stop it (the visit count stays in the volume)
Stop it and remove everything it made, in one command: make demo-down
MSG
