#!/usr/bin/env bash
# test/ops/load_test.sh: scheduled routing under insert load.
#
# On a throwaway cluster (test/cluster.sh, pg_cron preloaded), pgbench
# inserts preference rows with random features from 4 clients for
# LOAD_SECONDS (default 60) while hp.route_pending routes the table every
# 5 seconds: a pg_cron job with a '5 seconds' schedule where pg_cron has
# second schedules (1.5 and later); with an older pg_cron (Debian 12 ships
# 1.4, minute schedules only) a per-minute pg_cron job plus a shell loop
# that calls the same routing every 5 seconds, so runs also overlap.  After
# the load, one final run.  Then it prints rows inserted, rows routed, rows
# routed twice (an audit trigger records every change of route), rows lost
# (inserted but missing, or never routed), budget overspend (human labels
# above the budget of a period, from the ledger) and ledger mismatches, and
# exits non-zero if any of the last four is not 0.
#
# Needs hybridpref installed (make install).  Run from anywhere:
#   bash test/ops/load_test.sh
#   LOAD_SECONDS=20 CLIENTS=2 bash test/ops/load_test.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
LOAD_SECONDS=${LOAD_SECONDS:-60}
CLIENTS=${CLIENTS:-4}
RATE=${RATE:-500}       # pgbench transactions per second in all (0: as fast as it can)
EVERY=5                 # seconds between routing runs
BUDGET=${BUDGET:-400}   # human labels per minute
ROWS_PER_TX=5           # rows per pgbench transaction

source test/cluster.sh
cluster_start
WORK=$CLUSTER_DIR/load
mkdir -p "$WORK"
[ "$(id -u)" -ne 0 ] || chown "$PG_RUNAS": "$WORK"

q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

if [ "$(q -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'hybridpref'")" != 1 ]; then
  echo "load_test: hybridpref is not installed (run make install first)"
  exit 1
fi

q <<'SQL'
CREATE EXTENSION hybridpref;
CREATE EXTENSION pg_cron;
-- A PPM over five features for datasets of 100 rows: code and math labels
-- from humans help, long responses less so.
CREATE TABLE ppms (created timestamptz NOT NULL DEFAULT now(), m hp.model NOT NULL);
INSERT INTO ppms (m)
SELECT hp.train_ppm(ARRAY[a, b, c, d, e]::float8[],
         0.5 + 0.3 * a / 100 + 0.2 * b / 100 - 0.1 * c / 100 + 0.05 * d / 100 - 0.02 * e / 100,
         '{"vocab": ["cosine:low", "len_longer:p67-100", "rouge1:high", "subject:code", "subject:math"],
           "n": 100, "lambda": 1e-6}')
FROM generate_series(0, 100, 25) a, generate_series(0, 100, 25) b, generate_series(0, 100, 25) c,
     generate_series(0, 100, 25) d, generate_series(0, 100, 25) e;
CREATE TABLE prefs (id bigserial PRIMARY KEY, features text[] NOT NULL, subject text,
                    created_at timestamptz NOT NULL DEFAULT clock_timestamp(), route text);
CREATE INDEX prefs_pending ON prefs (id) WHERE route IS NULL;
-- Every update of route (even to the same value), to find rows routed twice.
CREATE TABLE route_audit (id bigint NOT NULL, old_route text, new_route text,
                          at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE FUNCTION audit_route() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO route_audit (id, old_route, new_route) VALUES (NEW.id, OLD.route, NEW.route);
	RETURN NEW;
END $$;
CREATE TRIGGER audit_route AFTER UPDATE OF route ON prefs
	FOR EACH ROW EXECUTE FUNCTION audit_route();
SQL

# The routing call: a DO block, because CALL arguments cannot hold subqueries.
ROUTE_SQL="DO \$r\$
DECLARE m hp.model;
BEGIN
	SELECT p.m INTO m FROM ppms p ORDER BY p.created DESC LIMIT 1;
	CALL hp.route_pending('prefs', m, $BUDGET, 'minute', batch_size => 1000, tag_col => 'subject',
	                      max_human_fraction => 0.5);
END \$r\$"

# pgbench: one transaction inserts $ROWS_PER_TX rows with random features.
cat >"$WORK/insert.sql" <<SQL
INSERT INTO prefs (features, subject)
SELECT ARRAY(SELECT f FROM unnest('{cosine:low,len_longer:p67-100,rouge1:high,subject:code,subject:math,app:email}'::text[]) f
             WHERE random() < 0.35),
       (ARRAY['code', 'math', 'chat'])[1 + floor(random() * 3)::int]
FROM generate_series(1, $ROWS_PER_TX);
SQL

LOOP_PID=
if q -c "SELECT cron.schedule('route-prefs', '$EVERY seconds', \$c\$$ROUTE_SQL\$c\$)" >/dev/null 2>"$WORK/probe.err"; then
  MODE="pg_cron every $EVERY s"
else
  q -c "SELECT cron.schedule('route-prefs', '* * * * *', \$c\$$ROUTE_SQL\$c\$)" >/dev/null
  MODE="pg_cron every minute (this pg_cron has no second schedules) + a shell loop every $EVERY s"
  (
    while sleep "$EVERY" && [ ! -e "$WORK/stop" ]; do
      psql -X -q -v ON_ERROR_STOP=1 -c "$ROUTE_SQL" >>"$WORK/loop.log" 2>&1 || echo "routing run failed" >>"$WORK/loop.log"
    done
  ) &
  LOOP_PID=$!
fi
echo "load_test: $CLIENTS pgbench clients for $LOAD_SECONDS s at ${RATE/#0/unlimited} tx/s of $ROWS_PER_TX rows; routing: $MODE; budget $BUDGET humans per minute"

START=$(date +%s.%N)
RATE_ARG=()
[ "$RATE" = 0 ] || RATE_ARG=(-R "$RATE")
pgbench -n -c "$CLIENTS" -j "$CLIENTS" -T "$LOAD_SECONDS" "${RATE_ARG[@]}" -f "$WORK/insert.sql" >"$WORK/pgbench.log" 2>&1 || {
  cat "$WORK/pgbench.log"; echo "load_test: pgbench failed"; exit 1; }
touch "$WORK/stop"
[ -z "$LOOP_PID" ] || wait "$LOOP_PID"
# With minute schedules the load may not have spanned a cron run: wait for one.
for _ in $(seq 1 75); do
  [ "$(q -c "SELECT count(*) FROM cron.job_run_details WHERE status IN ('succeeded', 'failed')")" -gt 0 ] && break
  sleep 1
done
q -c "SELECT cron.unschedule('route-prefs')" >/dev/null
# Let a run still in progress finish before the final one.
for _ in $(seq 1 600); do
  [ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%hp.route_pending%' AND pid <> pg_backend_pid()")" = 0 ] && break
  sleep 0.1
done
q -c "$ROUTE_SQL" 2>/dev/null
END=$(date +%s.%N)

TX=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/pgbench.log")
INSERTED=$((TX * ROWS_PER_TX))
read -r IN_TABLE ROUTED HUMAN LLM UNROUTED <<<"$(q -F ' ' -c "
  SELECT count(*), count(route), count(*) FILTER (WHERE route = 'human'), count(*) FILTER (WHERE route = 'llm'),
         count(*) FILTER (WHERE route IS NULL) FROM prefs")"
ROUTED_TWICE=$(q -c "
  SELECT count(*) FROM (SELECT id FROM route_audit GROUP BY id
                        HAVING count(*) > 1 OR bool_or(old_route IS NOT NULL)) d")
LOST=$((INSERTED - IN_TABLE + UNROUTED))
OVERSPEND=$(q -c "SELECT coalesce(sum(greatest(spent - budget, 0)), 0)::bigint FROM hp.budget_status WHERE table_name = 'public.prefs'")
read -r L_HUMAN L_LLM <<<"$(q -F ' ' -c "SELECT coalesce(sum(n_human), 0), coalesce(sum(n_llm), 0) FROM hp.route_ledger")"
MISMATCH=$(( (L_HUMAN > HUMAN ? L_HUMAN - HUMAN : HUMAN - L_HUMAN) + (L_LLM > LLM ? L_LLM - LLM : LLM - L_LLM) ))
read -r RUNS BATCHES <<<"$(q -F ' ' -c "SELECT count(DISTINCT run_id), count(DISTINCT (run_id, batch)) FROM hp.route_ledger")"
# A run still going when the job is unscheduled ends as 'job canceled'
# (its batch in flight rolls back): not a failure.
read -r CRON_OK CRON_FAILED CRON_CANCELED <<<"$(q -F ' ' -c "
  SELECT count(*) FILTER (WHERE status = 'succeeded'),
         count(*) FILTER (WHERE status = 'failed' AND return_message <> 'job canceled'),
         count(*) FILTER (WHERE status = 'failed' AND return_message = 'job canceled')
  FROM cron.job_run_details")"
LOOP_FAILED=$(grep -c 'routing run failed\|ERROR' "$WORK/loop.log" 2>/dev/null || true)
[ "$CRON_FAILED" = 0 ] || q -c "SELECT 'pg_cron run failed: ' || return_message FROM cron.job_run_details WHERE status = 'failed' AND return_message <> 'job canceled'"
[ "${LOOP_FAILED:-0}" = 0 ] || grep -B2 -A5 'ERROR' "$WORK/loop.log" | head -20

echo "--- per minute (budget_status)"
q -F ' | ' -c "SELECT to_char(period_start, 'HH24:MI'), budget, spent, routed FROM hp.budget_status ORDER BY period_start"
cat <<REPORT
--- load test ($(awk "BEGIN {printf \"%.0f\", $END - $START}") s)
pgbench transactions:   $TX ($(awk "BEGIN {printf \"%.0f\", $TX * $ROWS_PER_TX / $LOAD_SECONDS}") rows/s inserted)
rows inserted:          $INSERTED
rows in table:          $IN_TABLE
rows routed:            $ROUTED ($HUMAN human, $LLM llm)
routing runs / batches: $RUNS / $BATCHES (pg_cron runs: $CRON_OK succeeded, $CRON_FAILED failed, $CRON_CANCELED canceled at unschedule; shell-loop failures: ${LOOP_FAILED:-0})
rows routed twice:      $ROUTED_TWICE
rows lost:              $LOST
budget overspend:       $OVERSPEND
ledger mismatch:        $MISMATCH
REPORT

# One test per invariant, and one that load and routing happened at all.
PASS=0
FAIL=0
check() {  # check NAME OK
  if [ "$2" = 1 ]; then PASS=$((PASS + 1)); else FAIL=$((FAIL + 1)); echo "FAILED: $1"; fi
}
check "rows were inserted and routed" "$([ "$TX" -gt 0 ] && [ "$ROUTED" -gt 0 ] && echo 1)"
check "no row routed twice" "$([ "$ROUTED_TWICE" = 0 ] && echo 1)"
check "no row lost" "$([ "$LOST" = 0 ] && echo 1)"
check "no budget overspend" "$([ "$OVERSPEND" = 0 ] && echo 1)"
check "ledger matches the table" "$([ "$MISMATCH" = 0 ] && echo 1)"
check "scheduled runs succeeded" "$([ "$CRON_OK" -gt 0 ] && [ "$CRON_FAILED" = 0 ] && [ "${LOOP_FAILED:-0}" = 0 ] && echo 1)"
echo "load_test: $PASS passed, $FAIL failed"
exit $((FAIL > 0))
