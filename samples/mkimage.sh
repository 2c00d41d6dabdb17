#!/bin/bash
# Makes the samples' busybox image from Debian's busybox-static and imports
# it into berth's image store as berth-demo/busybox:latest (or NAME).
# Nothing is downloaded.
#
#   mkimage.sh [NAME]     BERTH=path/to/berth picks the binary (default: berth)
set -euo pipefail
berth=${BERTH:-berth}
name=${1:-berth-demo/busybox:latest}
bb=/bin/busybox # Debian's busybox-static: apt-get install busybox-static
# The image has no libraries: a dynamically linked busybox (Debian's
# `busybox` package) would not start in it.
if [ ! -x "$bb" ] || ldd "$bb" >/dev/null 2>&1; then
	echo "mkimage.sh: no static busybox at $bb: apt-get install busybox-static" >&2
	exit 1
fi
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
tar -C "$dir" --numeric-owner --owner=0 --group=0 -c . | "$berth" image import - "$name" >/dev/null
echo "$name: busybox $("$bb" | head -n1 | cut -d' ' -f2) from $bb"
