#!/bin/bash
# `make demo`: brings the quickstart stack up and shows it working.
# `make demo-down` (or `demo.sh down`) takes it down again.
set -euo pipefail
cd "$(dirname "$0")"
export BERTH="${BERTH:-$(cd ../.. && pwd)/bin/berth}"
berth() { "$BERTH" "$@"; }

if [ "${1:-}" = down ]; then
	berth down
	exit
fi

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step "./mkimage.sh   # busybox image from Debian's busybox-static"
./mkimage.sh
step "berth up -d --wait"
berth up -d --wait
step "berth ps"
berth ps
port=$(berth port web 8080)
step "curl http://$port/cgi-bin/visit   # published port -> web -> api by name"
curl -fsS "http://$port/cgi-bin/visit"
curl -fsS "http://$port/cgi-bin/visit"
step "berth logs --tail 1   # a line of each service's log"
berth logs --tail 1 --no-color
step "berth exec api cat /data/count   # the named volume"
berth exec -T api cat /data/count
printf '\nThe stack is running. Stop it with: make demo-down  (or: cd samples/quickstart && %s down)\n' "$BERTH"
