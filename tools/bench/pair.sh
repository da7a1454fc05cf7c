#!/usr/bin/env bash
# pair.sh compares two builds of a benchmark in paired rounds: each round
# runs every binary once, the order rotating from round to round, so that
# a machine that slows down for a minute slows every binary alike.
#
#   tools/bench/pair.sh ROUNDS BENCH ARGS -- NAME=BINARY...
#
# e.g. (docs/benchmarks.md, "The pipeline before and after"):
#
#   tools/bench/pair.sh 20 'BenchmarkPipeline$' '-test.benchtime 2000000x -test.cpu 1' -- \
#       base=/tmp/ckpt-base.test head=/tmp/ckpt-head.test
#
# It prints each run's ns/op, then per binary the minimum, the quartiles
# and the median, and for every pair of binaries the median over rounds
# of their ratio and in how many rounds the first was slower.
set -euo pipefail
rounds=$1 bench=$2 args=$3
shift 3
[[ ${1:-} == -- ]] && shift
names=() bins=()
for spec in "$@"; do names+=("${spec%%=*}"); bins+=("${spec#*=}"); done
k=${#names[@]}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for ((i = 0; i < rounds; i++)); do
	for ((j = 0; j < k; j++)); do
		x=$(((i + j) % k))
		# shellcheck disable=SC2086 # args are the benchmark's flags
		ns=$("${bins[$x]}" -test.run '^$' -test.bench "$bench" $args 2>&1 | awk '/^Benchmark/ { for (f = 1; f < NF; f++) if ($(f+1) == "ns/op") print $f }')
		echo "$i ${names[$x]} $ns" | tee -a "$out"
	done
done
awk -v names="${names[*]}" '
	{ v[$2, $1] = $3; all[$2] = all[$2] " " $3; if ($1 + 1 > n) n = $1 + 1 }
	function sort(a, m,   i, j, t) { for (i = 2; i <= m; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t } }
	function median(a, m) { return m % 2 ? a[(m+1)/2] : (a[m/2] + a[m/2+1]) / 2 }
	END {
		c = split(names, nm, " ")
		for (x = 1; x <= c; x++) {
			m = split(all[nm[x]], a, " "); sort(a, m)
			printf "%-8s min %.0f  q1 %.0f  median %.0f  q3 %.0f ns/op (%d runs)\n", nm[x], a[1], a[int(m/4)+1], median(a, m), a[int(3*m/4)+1], m
		}
		for (x = 1; x <= c; x++) for (y = x + 1; y <= c; y++) {
			m = 0; slower = 0
			for (i = 0; i < n; i++) if ((nm[x], i) in v && (nm[y], i) in v && v[nm[y], i] > 0) { r[++m] = v[nm[x], i] / v[nm[y], i]; if (r[m] > 1) slower++ }
			sort(r, m)
			printf "%s / %s: median ratio %.3f, %s slower in %d of %d rounds\n", nm[x], nm[y], median(r, m), nm[x], slower, m
		}
	}' "$out"
