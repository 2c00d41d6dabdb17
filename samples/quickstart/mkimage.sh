#!/bin/bash
# Builds the demo's busybox image from Debian's busybox-static and imports
# it into berth's image store. Nothing is downloaded.
set -euo pipefail
berth=${BERTH:-berth}
name=${1:-berth-demo/busybox:latest}
bb=/bin/busybox # Debian's busybox-static; `make demo` installs it
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir"/{bin,etc,tmp,proc,sys,dev,root,var,home,usr/bin,usr/sbin,sbin}
chmod 1777 "$dir/tmp"
cp "$bb" "$dir/bin/busybox"
for a in $("$bb" --list); do
	[ "$a" = busybox ] || ln -sf busybox "$dir/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$dir/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
tar -C "$dir" -c . | "$berth" image import - "$name"
