#!/usr/bin/env bash
# bench_dist.sh: acceptance test 4 of issue 5.  Per-tag distinguishability
# statistics (hp.distinguishability ... GROUP BY tag, full 512 x 512
# covariances and their spectral norms) against a bare scan of the same
# columns (sum(array_length(chosen,1) + array_length(rejected,1)) GROUP BY
# tag), over ROWS rows (default 1,000,000) x DIM (512) in TAGS (100) tags.
# Each query runs 3 times, alternating; medians and their ratio are printed,
# then one parallel run (2 workers) of each for information.
#
# Rows are assembled from a pool of 4096 random vectors joined by a hash of
# the row id (as bench_select.sh does), in an UNLOGGED table with EXTERNAL
# storage (random floats do not compress; skipping the attempt speeds the
# load).  1M rows take ~5.4 GB of disk and about a minute to build; an
# unlogged table is emptied by a server crash, so rerun after one.
# work_mem is raised so the HashAggregate keeps all TAGS states (~4.2 MB
# each at d = 512) in memory.  Connection from PG* variables; creates and
# drops database hp_bench_dist (KEEP_DB=1 keeps it).
set -euo pipefail
ROWS=${ROWS:-1000000}
DIM=${DIM:-512}
TAGS=${TAGS:-100}
DB=hp_bench_dist
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
[ "${KEEP_DB:-0}" = 1 ] || trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB"' EXIT
P="psql -X -q -v ON_ERROR_STOP=1 -d $DB"

t0=$SECONDS
$P <<SQL
CREATE EXTENSION hybridpref;
SET max_parallel_workers_per_gather = 0;
SELECT setseed(0.5);
CREATE TABLE pool AS
SELECT i, array_agg((random() - 0.5)::real) AS x
FROM generate_series(0, 4095) i, generate_series(1, $DIM) j GROUP BY i;
CREATE UNLOGGED TABLE pairs (id bigint, tag int, chosen real[], rejected real[]);
ALTER TABLE pairs ALTER chosen SET STORAGE EXTERNAL, ALTER rejected SET STORAGE EXTERNAL;
INSERT INTO pairs
SELECT g.id, (g.id % $TAGS)::int, c.x, r.x
FROM generate_series(1::bigint, $ROWS) g(id)
JOIN pool c ON c.i = (g.id * 2654435761) % 4096
JOIN pool r ON r.i = (g.id * 40503 + 17) % 4096;
VACUUM ANALYZE pairs;
SQL
echo "built $ROWS rows x 2 x $DIM-d in $((SECONDS - t0)) s; table size: $($P -tAc "SELECT pg_size_pretty(pg_total_relation_size('pairs'))")"

SCAN="SELECT count(*), sum(n) FROM (SELECT tag, sum(array_length(chosen, 1) + array_length(rejected, 1)) AS n FROM pairs GROUP BY tag) s"
STATS="SELECT count(*), sum((st->>'d')::float8) FROM (SELECT tag, hp.distinguishability(chosen, rejected) AS st FROM pairs GROUP BY tag) s"

# Backend CPU time (user + system) from /proc, in clock ticks: robust to
# other load on the machine, unlike wall time.  Needs a superuser (or
# pg_read_server_files) and a local server; otherwise only wall time.
TICK=$(getconf CLK_TCK)
CPU="SELECT split_part(s, ' ', 14)::bigint + split_part(s, ' ', 15)::bigint FROM pg_read_file('/proc/self/stat') s"
if $P -tAc "$CPU" >/dev/null 2>&1; then HAVE_CPU=1; else HAVE_CPU=0; fi

# run WORKERS SQL: "wall_ms cpu_ms" of one execution (cpu_ms of the leader
# backend only, "-" when unavailable).
run() {
  local post="SELECT 'cpu ' || (($CPU) - :c0) * 1000 / $TICK"
  $P -tA -v ON_ERROR_STOP=1 <<EOSQL | awk '/^Time:/ {w = $2} /^cpu / {c = $2} END {print w, (c == "" ? "-" : c)}'
SET max_parallel_workers_per_gather = $1;
SET work_mem = '2GB';
$( [ $HAVE_CPU = 1 ] && echo "SELECT ($CPU) AS c0 \\gset" )
\timing on
$2;
\timing off
$( [ $HAVE_CPU = 1 ] && echo "$post;" )
EOSQL
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A W C
for i in 1 2 3; do
  read -r sw sc < <(run 0 "$SCAN")
  read -r qw qc < <(run 0 "$STATS")
  echo "run $i: bare scan $sw ms (cpu $sc), distinguishability $qw ms (cpu $qc)"
  W[scan]+="$sw"$'\n'; C[scan]+="$sc"$'\n'
  W[stats]+="$qw"$'\n'; C[stats]+="$qc"$'\n'
done
read -r ps _ < <(run 2 "$SCAN")
read -r pq _ < <(run 2 "$STATS")
ms=$(printf '%s' "${W[scan]}" | median); mq=$(printf '%s' "${W[stats]}" | median)
cs=$(printf '%s' "${C[scan]}" | median); cq=$(printf '%s' "${C[stats]}" | median)

echo
echo "rows: $ROWS pairs x $DIM-d in $TAGS tags (full covariance path), 1 backend, hybridpref.blas_threads = 1"
echo "grouping: $($P -tA -c "SET work_mem = '2GB'" -c "SET max_parallel_workers_per_gather = 0" \
  -c "EXPLAIN (COSTS OFF) $STATS" | grep -m1 -oE 'HashAggregate|GroupAggregate')"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
printf '%-64s %10s %10s\n' "query (median of 3, serial)" "wall ms" "cpu ms"
printf '%-64s %10.1f %10s\n' "bare scan: sum(array_length(chosen) + array_length(rejected))" "$ms" "$cs"
printf '%-64s %10.1f %10s\n' "hp.distinguishability(chosen, rejected) GROUP BY tag" "$mq" "$cq"
printf '%-64s %10.1f\n' "bare scan, parallel (2 workers), 1 run" "$ps"
printf '%-64s %10.1f\n' "hp.distinguishability, parallel (2 workers), 1 run" "$pq"
echo
awk -v s="$ms" -v q="$mq" -v cs="$cs" -v cq="$cq" -v n="$ROWS" 'BEGIN {
  printf "| per-tag distinguishability / bare GROUP BY scan, wall time | %.2fx |\n", q / s
  if (cs != "-" && cs > 0) printf "| per-tag distinguishability / bare GROUP BY scan, backend CPU time | %.2fx |\n", cq / cs
  printf "| distinguishability throughput | %.0f pairs/s |\n", n / (q / 1000)
}'
