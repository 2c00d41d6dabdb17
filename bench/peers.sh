#!/bin/bash
# Runs the compose files of bench/testdata through berth and, where they
# are installed, docker compose (Debian's docker.io and docker-compose) and
# podman compose (Debian's podman and podman-compose), timed by hyperfine,
# and writes one table of ratios to bench/results/peers.md (and the
# figures to peers.json): `run --rm` of a one-off container in the app
# stack, `up -d` and `down -t 0` of 1, 20 and 100 idle services, and the
# memory of what watches each running container (berth's keeper, docker's
# containerd-shim, podman's conmon).
#
#   bench/peers.sh [--install] [--only berth,docker,podman]
#
# PEERS_SIZES (default "1 20 100") are the stack sizes; PEERS_LIMIT (240)
# the seconds after which a peer's command is given up.
#
# --install installs what is missing with apt-get: hyperfine, docker.io,
# docker-compose, podman, podman-compose. The peers are set up as their
# users would: dockerd with its defaults (started here when no daemon
# runs, and stopped again afterwards, with iptables' FORWARD policy put
# back as it was), podman rootful with its defaults, except that a host
# without systemd needs the cgroupfs cgroup manager and the file events
# logger (written to a containers.conf of this run only). Every tool runs
# the same busybox root file system, imported as busybox:bench, and the
# same compose files, on its own default network.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
install=0
only="berth,docker,podman"
while [ $# -gt 0 ]; do
	case "$1" in
	--install) install=1 ;;
	--only) only=$2; shift ;;
	*) echo "usage: bench/peers.sh [--install] [--only berth,docker,podman]" >&2; exit 2 ;;
	esac
	shift
done
want() { [[ ",$only," == *",$1,"* ]]; }
[ "$(id -u)" = 0 ] || { echo "peers.sh: needs root" >&2; exit 1; }

if [ "$install" = 1 ]; then
	pkgs="hyperfine"
	want docker && pkgs="$pkgs docker.io docker-compose"
	want podman && pkgs="$pkgs podman podman-compose"
	missing=""
	for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
	if [ -n "$missing" ]; then
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
	fi
fi
command -v hyperfine >/dev/null || { echo "peers.sh: hyperfine is not installed (--install installs it)" >&2; exit 1; }

work=$(mktemp -d /tmp/berth-peers.XXXXXX)
# hyperfine's figures are kept beside the table, for a run cut short too.
results=$repo/bench/results/peers
mkdir -p "$results"
for t in ${only//,/ }; do rm -f "$results/$t-"*; done
# The load averages of the runs whose figures the table holds: every
# tool's, or those of the runs since.
[ "$only" = "berth,docker,podman" ] && rm -f "$results/load"
cleanup=()
finish() {
	for ((i = ${#cleanup[@]} - 1; i >= 0; i--)); do eval "${cleanup[$i]}" || true; done
	rm -rf "$work"
}
trap finish EXIT

# The busybox root file system of berth's tests, as a tarball; packed
# again for docker and podman, whose importers refuse the directory that
# the tarball lists twice.
go run ./bench/busyboxtar >"$work/busybox.tar"
mkdir "$work/rootfs"
tar -xf "$work/busybox.tar" -C "$work/rootfs"
tar -cf "$work/rootfs.tar" -C "$work/rootfs" .
for d in app stack1 stack20 stack100; do cp -r "bench/testdata/$d" "$work/$d"; done

tools=()
if want berth; then
	[ -x bin/berth ] || make build >/dev/null
	mkdir -p "$work/berth-root" "$work/berth-state"
	berth="$repo/bin/berth --root $work/berth-root --state $work/berth-state --progress quiet"
	$berth image import - busybox:bench <"$work/busybox.tar" >/dev/null
	tools+=(berth)
fi
if want docker && command -v docker-compose >/dev/null && command -v dockerd >/dev/null; then
	if ! docker info >/dev/null 2>&1; then
		# What dockerd changes on the host goes again with it: its
		# iptables chains and rules (the tables as they were are put
		# back) and the bridges it made.
		iptables-save >"$work/iptables.before"
		ip -o link show type bridge | awk -F': ' '{print $2}' >"$work/bridges.before"
		dockerd >"$work/dockerd.log" 2>&1 &
		dockerd_pid=$!
		cleanup+=("kill $dockerd_pid; wait $dockerd_pid 2>/dev/null; iptables-restore <$work/iptables.before; for b in \$(ip -o link show type bridge | awk -F': ' '{print \$2}' | grep -E '^(docker0|br-)' | grep -vxFf $work/bridges.before); do ip link del \$b; done")
		for _ in $(seq 100); do docker info >/dev/null 2>&1 && break; sleep 0.1; done
	fi
	docker import "$work/rootfs.tar" busybox:bench >/dev/null
	tools+=(docker)
fi
if want podman && command -v podman-compose >/dev/null; then
	conf=$work/containers.conf
	if [ ! -d /run/systemd/system ]; then
		printf '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' >"$conf"
		export CONTAINERS_CONF_OVERRIDE=$conf
	fi
	podman import "$work/rootfs.tar" busybox:bench >/dev/null
	tools+=(podman)
fi

# running TOOL PROJECT: how many of the project's containers run.
running() {
	case "$1" in
	berth) $berth -p "$2" ps -q --status running | wc -l ;;
	docker) docker ps -q --filter "label=com.docker.compose.project=$2" | wc -l ;;
	podman) podman ps -q --filter "label=io.podman.compose.project=$2" | wc -l ;;
	esac
}

# compose TOOL PROJECT: the command line of the tool's compose for a
# project. A peer's command that has not finished after $limit seconds is
# given up (docker-compose 1.29 was seen to stop after 17 of 100 containers
# for minutes), and its figure is left out.
limit=${PEERS_LIMIT:-240}
compose() {
	case "$1" in
	berth) echo "$berth -p $2" ;;
	docker) echo "timeout $limit docker-compose -p $2" ;;
	podman) echo "timeout $limit podman-compose -p $2" ;;
	esac
}

# watchers TOOL: the pids of the processes that watch the running containers.
watchers() {
	case "$1" in
	berth) pgrep -f "container-monitor --root $work/berth-root" || true ;;
	docker) pgrep -f containerd-shim || true ;;
	podman) pgrep -x conmon || true ;;
	esac
}

pss_kib() {
	local total=0 v
	for pid in "$@"; do
		v=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)
		total=$((total + ${v:-0}))
	done
	echo $total
}

echo "load average before ($only): $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$results/load"
# A tool whose containers do not start on this machine is left out: its
# compose commands may still exit 0 (podman-compose does) and would be
# timed doing nothing.
usable=()
for t in "${tools[@]}"; do
	c=$(compose "$t" "pcheck$t")
	out=$(cd "$work/stack1" && $c up -d 2>&1) || true
	n=$(running "$t" "pcheck$t")
	(cd "$work/stack1" && $c down -t 0 >/dev/null 2>&1) || true
	if [ "$n" = 1 ]; then
		usable+=("$t")
	else
		echo "peers.sh: $t starts no container on this machine; left out:" >&2
		echo "$out" | tail -3 >&2
		rm -f "$results/$t-"*
	fi
done
tools=("${usable[@]}")
for t in "${tools[@]}"; do
	echo "== $t" >&2
	# run --rm in the app stack, its database and cache up.
	c=$(compose "$t" "pa$t")
	(cd "$work/app" && $c up -d db cache >/dev/null 2>&1) || true
	(cd "$work/app" && hyperfine -N --warmup 2 --runs 20 --export-json "$results/$t-run.json" "$c run --rm -T tests true" >&2) || echo "peers.sh: $t run --rm failed" >&2
	(cd "$work/app" && $c down -v -t 0 >/dev/null 2>&1) || true
	for n in ${PEERS_SIZES:-1 20 100}; do
		c=$(compose "$t" "ps$n$t")
		runs=7 warmup=1
		# podman-compose takes half a minute for 20 services, minutes
		# for a hundred.
		[ "$n" = 100 ] && runs=3 warmup=0
		[ "$t" = podman ] && [ "$n" != 1 ] && runs=2 warmup=0
		(cd "$work/stack$n" && hyperfine -N --warmup $warmup --runs $runs --prepare "$c down -t 0" --cleanup "$c down -t 0" \
			--export-json "$results/$t-up-$n.json" "$c up -d" >&2) || echo "peers.sh: $t up -d of $n failed" >&2
		(cd "$work/stack$n" && hyperfine -N --warmup $warmup --runs $runs --prepare "$c up -d" --cleanup "$c down -t 0" \
			--export-json "$results/$t-down-$n.json" "$c down -t 0" >&2) || echo "peers.sh: $t down of $n failed" >&2
		(cd "$work/stack$n" && $c down -t 0 >/dev/null 2>&1) || true
	done
	# Memory of what watches each of 20 running containers, once settled.
	c=$(compose "$t" "pm$t")
	(cd "$work/stack20" && $c up -d >/dev/null 2>&1) || true
	sleep 5
	pids=$(watchers "$t")
	if [ "$(running "$t" "pm$t")" = 20 ]; then
		echo "$(pss_kib $pids) $(echo $pids | wc -w)" >"$results/$t-mem"
	else
		echo "peers.sh: $t: not all of 20 containers run; no memory figure" >&2
	fi
	(cd "$work/stack20" && $c down -t 0 >/dev/null 2>&1) || true
done
echo "load average after ($only): $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$results/load"

# The table takes in every tool with figures in $results, those of an
# earlier run with --only too.
python3 - "$results" "$repo/bench/results" $(for t in berth docker podman; do ls "$results/$t-"* >/dev/null 2>&1 && echo $t; done) <<'PY'
import json, os, statistics, sys, datetime
res, out, tools = sys.argv[1], sys.argv[2], sys.argv[3:]
def med(path):
    try:
        r = json.load(open(path))["results"][0]
        return statistics.median(r["times"]) * 1000, min(r["times"]) * 1000, max(r["times"]) * 1000
    except (OSError, KeyError, IndexError, ValueError):
        return None
rows = [("run --rm (app stack)", "run")] + [(f"{v} ({n} services)", f"{v2}-{n}") for n in (1, 20, 100) for v, v2 in (("up -d", "up"), ("down -t 0", "down"))]
fig = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "load": open(os.path.join(res, "load")).read().strip().split("\n")}
for t in tools:
    fig[t] = {}
    for label, key in rows:
        m = med(os.path.join(res, f"{t}-{key}.json"))
        if m:
            fig[t][key] = {"median_ms": round(m[0], 1), "min_ms": round(m[1], 1), "max_ms": round(m[2], 1)}
    try:
        kib, n = open(os.path.join(res, f"{t}-mem")).read().split()
        fig[t]["pss_mib_per_container"] = round(int(kib) / 1024 / 20, 2)
        fig[t]["watchers"] = int(n)
    except (OSError, ValueError):
        pass
lines = ["| | " + " | ".join(tools) + " | " + " | ".join(f"{t} / berth" for t in tools if t != "berth") + " |",
         "|---|" + "---|" * (len(tools) + len([t for t in tools if t != "berth"]))]
for label, key in rows + [("watcher memory per container (PSS, 20 running)", "pss")]:
    cells, base = [], None
    vals = {}
    for t in tools:
        if key == "pss":
            v = fig[t].get("pss_mib_per_container")
            vals[t] = v
            cells.append(f"{v} MiB" if v is not None else "–")
        else:
            v = fig[t].get(key)
            vals[t] = v["median_ms"] if v else None
            cells.append(f"{v['median_ms']:.0f} ms ({v['min_ms']:.0f}–{v['max_ms']:.0f})" if v else "–")
    ratios = []
    for t in tools:
        if t == "berth":
            continue
        b, o = vals.get("berth"), vals.get(t)
        ratios.append(f"{o / b:.1f}×" if b and o else "–")
    lines.append(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
os.makedirs(out, exist_ok=True)
json.dump(fig, open(os.path.join(out, "peers.json"), "w"), indent=2)
table = "\n".join(lines) + "\n"
open(os.path.join(out, "peers.md"), "w").write(f"Measured {fig['date']} by `make bench-peers` (bench/peers.sh); medians of hyperfine runs with their range; {'; '.join(fig['load'])}.\n\n" + table)
print(table)
PY
