#!/bin/bash
# Lays out where one berth command spends its time: it runs the command
# with BERTH_TIMING set (every berth process of the command, the keeper and
# a container's init included, appends one line per step) and prints each
# step's start and duration from the command's launch, then the total.
#
#   bench/trace.sh [-n RUNS] DIR -- berth ARGS...
#
# DIR is the project's directory. With -n, the command runs RUNS times and
# the table shows each step's median. Example, the one-off container of
# bench/testdata/app with its database and cache up:
#
#   bench/trace.sh -n 10 bench/testdata/app -- bin/berth -p app run --rm -T tests true
set -euo pipefail
runs=1
if [ "${1:-}" = "-n" ]; then runs=$2; shift 2; fi
dir=$1; shift
[ "$1" = "--" ] && shift
# The command runs in DIR: a relative path to it is made absolute first.
cmd=$1; shift
case "$cmd" in */*) cmd=$(realpath "$cmd") ;; esac
set -- "$cmd" "$@"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The path stays the same from run to run: berth remembers a validated
# compose file by its environment too.
timing="$out/timing"
for i in $(seq "$runs"); do
	: >"$timing"
	t0=$(date +%s%6N)
	(cd "$dir" && BERTH_TIMING="$timing" "$@" >/dev/null 2>&1) || { echo "trace.sh: $* failed" >&2; exit 1; }
	t1=$(date +%s%6N)
	awk -v t0="$t0" -v run="$i" '{
		name = $2; for (i = 3; i <= NF - 2; i++) name = name " " $i
		printf "%s\t%s\t%.1f\t%.1f\n", run, name, ($(NF-1) - t0) / 1000, $NF / 1000
	}' "$timing" >>"$out/steps"
	printf "%s\ttotal\t0\t%.1f\n" "$i" "$(((t1 - t0)))e-3" >>"$out/steps"
done
python3 - "$out/steps" "$runs" <<'PY'
import sys, statistics, collections
steps = collections.OrderedDict()
for line in open(sys.argv[1]):
    run, name, start, dur = line.rstrip("\n").split("\t")
    # A step that runs several times in one command (once per container)
    # is summed within the run.
    s = steps.setdefault(name, {})
    a = s.setdefault(run, [float(start), 0.0, 0])
    a[0] = min(a[0], float(start)); a[1] += float(dur); a[2] += 1
runs = int(sys.argv[2])
print(f"{'start ms':>9} {'took ms':>9} {'times':>5}  step  (median of {runs} run{'s' if runs > 1 else ''})")
rows = []
for name, per in steps.items():
    starts = [v[0] for v in per.values()]; durs = [v[1] for v in per.values()]; n = [v[2] for v in per.values()]
    rows.append((statistics.median(starts), statistics.median(durs), max(n), name))
for start, dur, n, name in sorted(rows, key=lambda r: (r[3] == "total", r[0])):
    print(f"{start:9.1f} {dur:9.1f} {n:5d}  {name}")
PY
