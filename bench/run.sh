#!/bin/bash
# Runs berth's benchmarks and writes their figures to bench/results/.
# BERTH_BASELINE=PATH adds another berth binary (say, main's) to the CLI
# benchmarks, measured in the same turns, for before-and-after figures.
set -euo pipefail
cd "$(dirname "$0")/.."
export BERTH_BENCH=1 BERTH_BINARY="$PWD/bin/berth"
go test -tags "osusergo netgo seccomp" -ldflags "-linkmode external -extldflags -static" -count=1 -timeout 30m -v -run "${1:-.}" ./bench/ 2>&1 | grep -vE '^=== (RUN|PAUSE|CONT)'
