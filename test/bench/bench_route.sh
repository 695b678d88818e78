#!/usr/bin/env bash
# bench_route.sh: routing throughput on ROWS instances (default 1,000,000),
# side by side in one run:
#   1. hp.route(linear PPM, topk, budget 0.1) against a bare scan of the
#      features column (sum(cardinality(features)) over the same rows);
#   2. SQL-native top-k: ORDER BY hp.route_gain(...) DESC, id LIMIT k, next
#      to the same ORDER BY ... LIMIT on a bare expression
#      (cardinality(features)) and to sum(hp.route_gain(...)) (the
#      per-row cost without the sort);
#   3. extras, once each: hp.route with a quadratic PPM (topk and greedy),
#      hp.budget_curve (7 fractions, linear), and hp.route / the ORDER BY
#      with work_mem = 256MB (at the default 4MB both the SRF's result and
#      the sort spill to disk).
# Each query of 1 and 2 runs 3 times, alternating; medians and the ratios
# are printed.  Features follow docs/routing-contract.md: 7 binned
# similarity/length groups (3 bins each) plus a subject tag, 8 per row, 26
# distinct.  Connection from PG* variables; creates and drops database
# hp_bench_route (KEEP_DB=1 keeps it).
set -euo pipefail
ROWS=${ROWS:-1000000}
DB=hp_bench_route
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
if [ -z "${KEEP_DB:-}" ]; then
  trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB"' EXIT
fi
P="psql -X -q -v ON_ERROR_STOP=1 -d $DB"

$P <<SQL
CREATE EXTENSION hybridpref;
SET max_parallel_workers_per_gather = 0;
SELECT setseed(0.5);
CREATE TABLE items AS
SELECT i::bigint AS id,
       ARRAY['rouge1:' || b[1 + floor(random() * 3)::int],
             'cosine:' || b[1 + floor(random() * 3)::int],
             'entity_overlap:' || b[1 + floor(random() * 3)::int],
             'len_prompt:' || p[1 + floor(random() * 3)::int],
             'len_shorter:' || p[1 + floor(random() * 3)::int],
             'len_longer:' || p[1 + floor(random() * 3)::int],
             'len_diff:' || p[1 + floor(random() * 3)::int],
             'subject:' || s[1 + floor(random() * 5)::int]] AS features
FROM generate_series(1, $ROWS) i,
     (SELECT '{low,mid,high}'::text[] AS b, '{p0-33,p33-67,p67-100}'::text[] AS p,
             '{math,code,chat,safety,writing}'::text[] AS s) c;
VACUUM ANALYZE items;
CREATE TABLE vocab AS
SELECT array_agg(f ORDER BY f COLLATE "C") AS v FROM (SELECT DISTINCT unnest(features) f FROM items) s;
-- PPMs fitted on 600 simulated routings with a random law (speed only).
CREATE TABLE runs AS
SELECT r, (SELECT array_agg(floor(random() * $ROWS / 3)) FROM generate_series(1, 26) j WHERE r > 0)::float8[] AS counts
FROM generate_series(1, 600) r;
ALTER TABLE runs ADD COLUMN score float8;
UPDATE runs SET score = 0.6 + (SELECT sum(c / $ROWS * sin(j)) FROM unnest(counts) WITH ORDINALITY u(c, j))
                      - 0.5 * (counts[3] / $ROWS) ^ 2 + 0.01 * random();
CREATE TABLE ppms AS
SELECT 'linear' AS name, hp.train_ppm(counts, score, jsonb_build_object('vocab', (SELECT v FROM vocab), 'n', $ROWS)) AS m
FROM runs
UNION ALL
SELECT 'quadratic', hp.train_ppm(counts, score, jsonb_build_object('vocab', (SELECT v FROM vocab), 'n', $ROWS,
                                                                   'degree', 2, 'lambda', 0.01))
FROM runs;
SQL

# run SQL [SETTING]: wall time in ms of one execution.
run() {
  $P -c "SET max_parallel_workers_per_gather = 0" -c "${2:-SET work_mem = DEFAULT}" -c '\timing on' -c "$1" |
    awk '/^Time:/ {print $2}'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
K=$((ROWS / 10))
LIN="(SELECT m FROM ppms WHERE name = 'linear')"
QUAD="(SELECT m FROM ppms WHERE name = 'quadratic')"

declare -A T
for i in 1 2 3; do
  T[scan]+="$(run "SELECT sum(cardinality(features)) FROM items")"$'\n'
  T[route]+="$(run "SELECT count(*) FILTER (WHERE to_human) FROM hp.route($LIN, 'items', 0.1)")"$'\n'
  T[gain]+="$(run "SELECT sum(id) FROM (SELECT id FROM items ORDER BY hp.route_gain($LIN, features, $ROWS) DESC, id LIMIT $K) s")"$'\n'
  T[sort]+="$(run "SELECT sum(id) FROM (SELECT id FROM items ORDER BY cardinality(features) DESC, id LIMIT $K) s")"$'\n'
  T[gsum]+="$(run "SELECT sum(hp.route_gain($LIN, features, $ROWS)) FROM items")"$'\n'
done
declare -A M
for k in scan route gain sort gsum; do M[$k]=$(printf '%s' "${T[$k]}" | median); done
WM="SET work_mem = '256MB'"
route_wm=$(run "SELECT count(*) FILTER (WHERE to_human) FROM hp.route($LIN, 'items', 0.1)" "$WM")
gain_wm=$(run "SELECT sum(id) FROM (SELECT id FROM items ORDER BY hp.route_gain($LIN, features, $ROWS) DESC, id LIMIT $K) s" "$WM")
qtopk=$(run "SELECT count(*) FILTER (WHERE to_human) FROM hp.route($QUAD, 'items', 0.1)")
qgreedy=$(run "SELECT count(*) FILTER (WHERE to_human) FROM hp.route($QUAD, 'items', 0.1, 'greedy')")
curve=$(run "SELECT count(*) FROM hp.budget_curve($LIN, 'items')")
same=$($P -At -c "SELECT (SELECT array_agg(id ORDER BY id) FROM hp.route($LIN, 'items', 0.1) WHERE to_human)
                        = (SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM items ORDER BY hp.route_gain($LIN, features, $ROWS) DESC, id LIMIT $K) s)")
gq=$($P -At -c "SELECT round((g.predicted_score - t.predicted_score)::numeric, 6) FROM
                 hp.budget_curve($QUAD, 'items', '{0.1}', 'greedy') g, hp.budget_curve($QUAD, 'items', '{0.1}', 'topk') t")

echo
echo "rows: $ROWS, 8 features per row (26 distinct), budget 10 % ($K humans), 1 backend, serial plans"
printf '%-66s %10s\n' "query" "ms"
printf '%-66s %10.1f\n' "bare scan: sum(cardinality(features)) (median of 3)" "${M[scan]}"
printf '%-66s %10.1f\n' "hp.route, linear PPM, topk (median of 3)" "${M[route]}"
printf '%-66s %10.1f\n' "ORDER BY hp.route_gain DESC, id LIMIT k, linear (median of 3)" "${M[gain]}"
printf '%-66s %10.1f\n' "ORDER BY cardinality(features) DESC, id LIMIT k (median of 3)" "${M[sort]}"
printf '%-66s %10.1f\n' "sum(hp.route_gain(...)), linear (median of 3)" "${M[gsum]}"
printf '%-66s %10.1f\n' "hp.route, linear PPM, topk, work_mem 256MB (once)" "$route_wm"
printf '%-66s %10.1f\n' "ORDER BY hp.route_gain ... LIMIT k, work_mem 256MB (once)" "$gain_wm"
printf '%-66s %10.1f\n' "hp.route, quadratic PPM, topk (once)" "$qtopk"
printf '%-66s %10.1f\n' "hp.route, quadratic PPM, greedy (once)" "$qgreedy"
printf '%-66s %10.1f\n' "hp.budget_curve, linear, 7 fractions (once)" "$curve"
echo "hp.route topk == route_gain ORDER BY LIMIT: $same; greedy - topk predicted score (quadratic): $gq"
echo "per-run ms: scan $(echo ${T[scan]}) | route $(echo ${T[route]}) | route_gain $(echo ${T[gain]}) | sort $(echo ${T[sort]}) | gain sum $(echo ${T[gsum]})"
echo
awk -v s="${M[scan]}" -v r="${M[route]}" -v g="${M[gain]}" -v o="${M[sort]}" -v u="${M[gsum]}" -v n="$ROWS" 'BEGIN {
  printf "| hp.route (linear, topk) / bare scan of features | %.2fx |\n", r / s
  printf "| route_gain ORDER BY LIMIT / bare scan of features | %.2fx |\n", g / s
  printf "| route_gain ORDER BY LIMIT / bare ORDER BY LIMIT | %.2fx |\n", g / o
  printf "| sum(route_gain) / bare scan of features | %.2fx |\n", u / s
  printf "| hp.route throughput | %.0f rows/s |\n", n / (r / 1000)
}'
