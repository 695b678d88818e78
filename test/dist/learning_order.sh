#!/usr/bin/env bash
# learning_order.sh: acceptance test 3 of issue 5 (Im & Li 2024).  Trains a
# linear Bradley-Terry model by plain gradient descent on behaviours of
# different distinguishability and shows they are learned in the order of D
# (test/dist/learning_order.c, built on the hybridpref core).  Then loads the
# same pairs into a scratch database and recomputes D, SNR and the priority
# gaps with hp.distinguishability / hp.priority_gap, which must agree with
# the core's figures.  SKIP_SQL=1 skips the database part; SEED=n changes
# the data.  Connection from PG* variables.  Exit 1 if the order does not
# match or SQL disagrees.
set -euo pipefail
cd "$(dirname "$0")/../.."
TMP=$(mktemp -d)
DB=hp_learning_order
cleanup() {
  rm -rf "$TMP"
  [ "${SKIP_SQL:-0}" = 1 ] || psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
}
trap cleanup EXIT

cc -std=gnu11 -O2 -Wall -Wextra -Wno-unused-parameter -Isrc/core -o "$TMP/learning_order" \
  src/core/*.c test/dist/learning_order.c -lopenblas -llapacke -lm
status=0
OPENBLAS_NUM_THREADS=1 "$TMP/learning_order" "$TMP/pairs.csv" | tee "$TMP/out.txt" || status=$?

if [ "${SKIP_SQL:-0}" != 1 ]; then
  echo
  echo "same pairs through SQL (hp.distinguishability GROUP BY tag, hp.priority_gap):"
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
  psql -X -q -v ON_ERROR_STOP=1 -d $DB <<SQL
CREATE EXTENSION hybridpref;
CREATE TABLE pairs (tag text, chosen real[], rejected real[]);
\copy pairs FROM '$TMP/pairs.csv' WITH (FORMAT csv)
CREATE TABLE s AS SELECT tag, hp.distinguishability(chosen, rejected) AS st FROM pairs GROUP BY tag;
SELECT tag, round((st->>'d')::numeric, 4) AS d, round((st->>'snr')::numeric, 5) AS snr,
       round((st->>'trace')::numeric, 4) AS trace, round((st->>'concentration')::numeric, 4) AS concentration
FROM s ORDER BY (st->>'d')::float8 DESC;
SELECT i AS learned_first, j AS learned_later, round(gap::numeric, 4) AS gap
FROM hp.priority_gap((SELECT jsonb_object_agg(tag, st) FROM s)) WHERE gap > 0 ORDER BY gap DESC;
\pset tuples_only on
\o $TMP/sql_d.txt
SELECT tag || ' ' || (st->>'d') FROM s;
SQL
  # The core printed D with 4 decimals; SQL must give the same figures.
  while read -r tag d; do
    [ -n "$tag" ] || continue
    core=$(awk -v t="$tag" '$1 == t && NF >= 5 && $2 ~ /^[0-9.]+$/ {print $3}' "$TMP/out.txt")
    sql=$(printf '%.4f' "$d")
    if [ "$core" != "$sql" ]; then
      echo "MISMATCH: $tag core D $core, SQL D $sql"
      status=1
    fi
  done < "$TMP/sql_d.txt"
  [ $status -ne 0 ] || echo "SQL D matches the core for every behaviour"
fi
exit $status
