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

# With `berth watch`, the edit is copied into web by develop.watch
# (compose.watch.yaml); without it, web serves ./web through a bind mount.
watch=
if "$BERTH" watch --help 2>/dev/null | grep -q '^  berth watch'; then
	watch=1
	export COMPOSE_FILE=compose.yaml:compose.watch.yaml
fi

step "../mkimage.sh   # the samples' busybox image, made from Debian's busybox-static"
../mkimage.sh
[ -z "$watch" ] || step "export COMPOSE_FILE=compose.yaml:compose.watch.yaml   # web with develop.watch rules, no bind mount"
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

# served TEXT: polls, for at most 30 s, until web's page holds TEXT.
served() {
	local i
	for i in $(seq 150); do
		if curl -fsS "http://$port/" | grep -q "$1"; then
			return 0
		fi
		sleep 0.2
	done
	echo "web's page does not show '$1' after 30 s" >&2
	return 1
}

# The edit is undone before the demo ends, so the checkout stays as it was.
page=web/index.html
saved=$(mktemp)
cp "$page" "$saved"
watcher=
cleanup() {
	cat "$saved" >"$page"
	rm -f "$saved"
	if [ -n "$watcher" ]; then
		kill "$watcher" 2>/dev/null || true
		wait "$watcher" 2>/dev/null || true
		rm -f "$wlog"
		watcher=
	fi
}
trap cleanup EXIT
pid=$(berth top web | awk '$4 == "httpd" {print $2}')
if [ -n "$watch" ]; then
	step "berth watch --no-up &   # copies each edit of ./web into the running web"
	wlog=$(mktemp)
	# The binary itself, not the shell function: $! must be its pid for
	# the kill in cleanup to reach it.
	"$BERTH" watch --no-up --quiet >"$wlog" 2>&1 &
	watcher=$!
fi
how="web serves ./web through a bind mount"
[ -z "$watch" ] || how="berth watch copies it into web"
step "sed -i 's/Hello from/Edited while running:/' $page   # $how"
sed -i 's/Hello from/Edited while running:/' "$page"
step "curl -s http://$port/ | grep h1"
served "Edited while running:" || { [ -z "$watch" ] || cat "$wlog" >&2; exit 1; }
curl -fsS "http://$port/" | grep h1
after=$(berth top web | awk '$4 == "httpd" {print $2}')
if [ -z "$pid" ] || [ "$pid" != "$after" ]; then
	echo "web was restarted: its httpd was PID ${pid:-?}, is now ${after:-?}" >&2
	exit 1
fi
echo "web was not restarted: its httpd is still PID $pid"
# Undo the edit while web still follows the file.
cat "$saved" >"$page"
served "Hello from"
cleanup
trap - EXIT

b=$BERTH
[ "$BERTH" != "$top/bin/berth" ] || b=../../bin/berth
edit="  edit samples/quickstart/web/index.html and reload: web serves it from a bind mount"
[ -z "$watch" ] || edit="  cd samples/quickstart && COMPOSE_FILE=$COMPOSE_FILE $b watch   # then edit web/index.html and reload"
cat <<MSG

${bold}The quickstart is running.${plain} Try next:
  open http://$port/ and http://$port/cgi-bin/visit
$edit
  cd samples/quickstart && $b logs -f     # follow both services' logs; Ctrl-C stops following
  cd samples/quickstart && $b down        # stop it (the visit count stays in the volume)
Stop it and remove everything it made, in one command: make demo-down
MSG
