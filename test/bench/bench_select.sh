#!/usr/bin/env bash
# bench_select.sh: pair selection and MLP-ensemble scoring throughput.
#   1. hp.select_pair over PROMPTS prompts x 8 candidates x 512-d with an
#      8-head linear model, against a bare scan of the same rows
#      (per-prompt sum(array_length(x,1)) over the same rows).
#   2. Scoring throughput of a 20-head MLP ensemble ([128,128]) with
#      hp.reward, against the linear 8-head model and a bare scan.
# Each query runs 3 times, alternating; medians and their ratios are printed.
# Connection from PG* variables; creates and drops database hp_bench_select.
set -euo pipefail
PROMPTS=${PROMPTS:-20000}
DIM=${DIM:-512}
DB=hp_bench_select
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB"' EXIT
P="psql -X -q -v ON_ERROR_STOP=1 -d $DB"

$P <<SQL
CREATE EXTENSION hybridpref;
SET max_parallel_workers_per_gather = 0;
SELECT setseed(0.5);
-- A pool of 4096 random vectors, assembled into rows, keeps generation fast.
CREATE TABLE pool AS
SELECT i, array_agg((random() - 0.5)::real) AS x
FROM generate_series(1, 4096) i, generate_series(1, $DIM) j GROUP BY i;
CREATE TABLE resp AS
SELECT g.prompt, g.id, pool.x
FROM (SELECT p AS prompt, p::bigint * 8 + k AS id
      FROM generate_series(1, $PROMPTS) p, generate_series(0, 7) k) g
JOIN pool ON pool.i = 1 + (g.id * 2654435761 % 4096);
VACUUM ANALYZE resp;
CREATE TABLE pairs AS
SELECT a.x AS chosen, b.x AS rejected FROM resp a JOIN resp b ON b.id = a.id + 1
WHERE a.id % 2 = 0 AND a.prompt <= 2000 AND a.x[1] + a.x[2] > b.x[1] + b.x[2];
CREATE TABLE models AS
SELECT 'linear8' AS name, hp.train_reward_model(chosen, rejected, '{"heads":8}') AS m FROM pairs
UNION ALL
SELECT 'mlp20', hp.train_reward_model(chosen, rejected, '{"arch":"mlp","heads":20,"epochs":1}') FROM pairs;
SQL

# run NAME SQL: wall time in ms of one execution.
run() {
  $P -c "SET max_parallel_workers_per_gather = 0" -c '\timing on' -c "$2" | awk '/^Time:/ {print $2}'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A T
for i in 1 2 3; do
  T[scan]+="$(run scan "SELECT sum(n) FROM (SELECT prompt, sum(array_length(x,1)) AS n FROM resp GROUP BY prompt) s")"$'\n'
  T[select]+="$(run select "SELECT sum(pr[1]) FROM (SELECT prompt, hp.select_pair((SELECT m FROM models WHERE name='linear8'), id, x, 'drts', 1.0, 42) AS pr FROM resp GROUP BY prompt) s")"$'\n'
  T[rscan]+="$(run rscan "SELECT sum(array_length(x,1)) FROM resp")"$'\n'
  T[lin]+="$(run lin "SELECT sum(hp.reward((SELECT m FROM models WHERE name='linear8'), x)) FROM resp")"$'\n'
  T[mlp]+="$(run mlp "SELECT sum(hp.reward((SELECT m FROM models WHERE name='mlp20'), x)) FROM resp")"$'\n'
done
rows=$((PROMPTS * 8))
declare -A M
for k in scan select rscan lin mlp; do M[$k]=$(printf '%s' "${T[$k]}" | median); done
echo
echo "rows: $rows ($PROMPTS prompts x 8 candidates x $DIM-d), 1 backend, hybridpref.blas_threads = 1"
printf '%-58s %10s\n' "query (median of 3)" "ms"
printf '%-58s %10.1f\n' "bare scan: GROUP BY prompt over the same rows" "${M[scan]}"
printf '%-58s %10.1f\n' "hp.select_pair(linear 8 heads, drts) GROUP BY prompt" "${M[select]}"
printf '%-58s %10.1f\n' "bare scan: sum(array_length(x,1))" "${M[rscan]}"
printf '%-58s %10.1f\n' "hp.reward, linear 8 heads" "${M[lin]}"
printf '%-58s %10.1f\n' "hp.reward, MLP 20 heads [128,128]" "${M[mlp]}"
echo
awk -v s="${M[scan]}" -v q="${M[select]}" -v r="${M[rscan]}" -v l="${M[lin]}" -v m="${M[mlp]}" -v n="$rows" 'BEGIN {
  printf "| select_pair (8 linear heads) / bare GROUP BY scan | %.2fx |\n", q / s
  printf "| hp.reward linear 8 heads / bare scan | %.2fx |\n", l / r
  printf "| hp.reward MLP 20 heads / bare scan | %.2fx |\n", m / r
  printf "| MLP 20-head scoring throughput | %.0f rows/s |\n", n / (m / 1000)
}'
