
-- ---------------------------------------------------------------------------
-- Operations (issue 6): routing the rows that arrive in a table in committed
-- batches under a budget per period (hp.route_pending, for pg_cron), the
-- budget ledger it keeps, and dashboard views over it.  docs/operations.md
-- describes the setup, the concurrency design and the security model.
--
-- Security model: every function is SECURITY INVOKER.  The ledger tables are
-- readable and appendable by every role, but row-level security limits each
-- role to the rows of the tables it may read (SELECT), and a role may append
-- only rows of tables it may route (UPDATE); only their owner may change or
-- delete ledger rows.  The dashboard views are security_invoker and granted
-- to PUBLIC, so they show a role the rows of the tables it may read (a site
-- that wants dashboards for named roles only revokes them from PUBLIC and
-- grants them to those roles).
-- ---------------------------------------------------------------------------


CREATE TABLE hp.route_ppms (
	ppm_id     text PRIMARY KEY,
	ppm        hp.model NOT NULL,
	first_used timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE hp.route_ppms IS
'the performance prediction models used by hp.route_pending runs, stored once each (the ledger refers to them by ppm_id); pg_dump keeps the rows';
COMMENT ON COLUMN hp.route_ppms.ppm_id IS 'md5 of the model''s binary form (hp.model_send)';
COMMENT ON COLUMN hp.route_ppms.ppm IS 'the PPM (kind ppm) that ranked the rows';
COMMENT ON COLUMN hp.route_ppms.first_used IS 'start of the transaction of the first batch routed with it';

CREATE TABLE hp.route_ledger (
	run_id       uuid NOT NULL,
	batch        int NOT NULL,
	tag          text,
	table_name   text NOT NULL,
	table_oid    oid NOT NULL,
	period       text NOT NULL,
	period_start timestamptz NOT NULL,
	period_end   timestamptz,
	budget       float8 NOT NULL,
	n_human      bigint NOT NULL,
	n_llm        bigint NOT NULL,
	spent_after  bigint NOT NULL,
	human_counts float8[] NOT NULL,
	ppm_id       text NOT NULL,
	routed_by    name NOT NULL DEFAULT current_user,
	run_started  timestamptz NOT NULL,
	routed_at    timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT route_ledger_batch_tag UNIQUE NULLS NOT DISTINCT (run_id, batch, tag)
);
CREATE INDEX route_ledger_account ON hp.route_ledger (table_name, period, period_start);
CREATE INDEX route_ledger_ppm ON hp.route_ledger (ppm_id);

COMMENT ON TABLE hp.route_ledger IS
'one row per batch (and tag) routed by hp.route_pending, written in the same transaction as the batch''s row updates, so it always matches the routed tables; append-only for ordinary roles, pg_dump keeps the rows';
COMMENT ON COLUMN hp.route_ledger.run_id IS 'the hp.route_pending call (run) that routed the batch';
COMMENT ON COLUMN hp.route_ledger.batch IS 'batch number within the run, from 1';
COMMENT ON COLUMN hp.route_ledger.tag IS 'value of the run''s tag_col (as text) shared by the rows counted here; NULL without tag_col or for rows whose tag is NULL';
COMMENT ON COLUMN hp.route_ledger.table_name IS 'routed table, schema-qualified with quoted identifiers; with period and period_start it names the budget account';
COMMENT ON COLUMN hp.route_ledger.table_oid IS 'oid of the routed table when the batch ran (not stable across dump and restore; table_name is)';
COMMENT ON COLUMN hp.route_ledger.period IS 'budget period: run, minute, hour, day, week, month, quarter, year, or an interval such as 00:15:00';
COMMENT ON COLUMN hp.route_ledger.period_start IS 'start of the budget period the batch counts against (the run''s start for period run)';
COMMENT ON COLUMN hp.route_ledger.period_end IS 'end (exclusive) of the budget period; NULL for period run';
COMMENT ON COLUMN hp.route_ledger.budget IS 'human labels allowed in the period, as passed to the run';
COMMENT ON COLUMN hp.route_ledger.n_human IS 'rows of the batch (and tag) routed to human annotation';
COMMENT ON COLUMN hp.route_ledger.n_llm IS 'rows of the batch (and tag) routed to the LLM judge';
COMMENT ON COLUMN hp.route_ledger.spent_after IS 'human labels spent in the period after this batch, all tags';
COMMENT ON COLUMN hp.route_ledger.human_counts IS 'per-feature counts over the human-routed rows of the batch (and tag), aligned with the vocabulary of the PPM ppm_id';
COMMENT ON COLUMN hp.route_ledger.ppm_id IS 'PPM that ranked the batch (hp.route_ppms.ppm_id)';
COMMENT ON COLUMN hp.route_ledger.routed_by IS 'role that ran the batch';
COMMENT ON COLUMN hp.route_ledger.run_started IS 'start of the run (the transaction start of the CALL)';
COMMENT ON COLUMN hp.route_ledger.routed_at IS 'start of the batch''s transaction';
COMMENT ON INDEX hp.route_ledger_batch_tag IS 'one ledger row per run, batch and tag (tags compared with NULLs not distinct)';
COMMENT ON INDEX hp.route_ppms_pkey IS 'one row per PPM';
COMMENT ON INDEX hp.route_ledger_account IS 'budget account lookup: human labels already spent in a period';
COMMENT ON INDEX hp.route_ledger_ppm IS 'ledger rows of one PPM (row-level security of hp.route_ppms)';

-- Row-level security: see the header.  to_regclass(table_name) rather than
-- table_oid, so that the rows still belong to the right table after a dump
-- and restore (new oids); a table that is gone hides its rows.
ALTER TABLE hp.route_ledger ENABLE ROW LEVEL SECURITY;
CREATE POLICY route_ledger_read ON hp.route_ledger FOR SELECT
	USING (pg_catalog.has_any_column_privilege(pg_catalog.to_regclass(table_name), 'SELECT'));
CREATE POLICY route_ledger_append ON hp.route_ledger FOR INSERT
	WITH CHECK (routed_by = current_user
	            AND table_oid = pg_catalog.to_regclass(table_name)
	            AND pg_catalog.has_any_column_privilege(table_oid, 'UPDATE'));
COMMENT ON POLICY route_ledger_read ON hp.route_ledger IS
'a role sees the ledger rows of the tables it may read';
COMMENT ON POLICY route_ledger_append ON hp.route_ledger IS
'a role may append ledger rows, in its own name, only for tables it may update (route)';

ALTER TABLE hp.route_ppms ENABLE ROW LEVEL SECURITY;
CREATE POLICY route_ppms_read ON hp.route_ppms FOR SELECT
	USING (EXISTS (SELECT 1 FROM hp.route_ledger l WHERE l.ppm_id = route_ppms.ppm_id));
CREATE POLICY route_ppms_append ON hp.route_ppms FOR INSERT WITH CHECK (true);
COMMENT ON POLICY route_ppms_read ON hp.route_ppms IS
'a role sees the PPMs of the ledger rows it sees';
COMMENT ON POLICY route_ppms_append ON hp.route_ppms IS
'any role may record the PPM of its run';

GRANT SELECT, INSERT ON hp.route_ledger, hp.route_ppms TO PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('hp.route_ledger', '');
SELECT pg_catalog.pg_extension_config_dump('hp.route_ppms', '');

-- Budget periods --------------------------------------------------------------

CREATE FUNCTION hp.route_period(period text, at timestamptz DEFAULT now(), time_zone text DEFAULT 'UTC',
                                OUT period_start timestamptz, OUT period_end timestamptz,
                                OUT period_key text)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
SET intervalstyle = postgres
AS $fn$
DECLARE
	unit text := lower(btrim(period));
	iv interval;
	local_start timestamp;
BEGIN
	IF period IS NULL OR at IS NULL OR time_zone IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'arguments of hp.route_period must not be NULL';
	END IF;
	IF unit = 'run' THEN
		period_start := at;
		period_key := 'run';
		RETURN;
	END IF;
	IF unit IN ('minute', 'hour', 'day', 'week', 'month', 'quarter', 'year') THEN
		local_start := date_trunc(unit, at AT TIME ZONE time_zone);
		period_start := local_start AT TIME ZONE time_zone;
		period_end := (local_start + CASE unit WHEN 'quarter' THEN interval '3 months'
		                                       ELSE ('1 ' || unit)::interval END) AT TIME ZONE time_zone;
		period_key := unit;
		RETURN;
	END IF;
	BEGIN
		iv := period::interval;
	EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
		iv := NULL;
	END;
	IF iv IS NULL OR iv <= interval '0' OR extract(month FROM iv) <> 0 OR extract(year FROM iv) <> 0 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('invalid budget period "%s"', period),
			HINT = 'Valid periods are run, minute, hour, day, week, month, quarter, year, or a positive interval without months such as ''15 minutes''.';
	END IF;
	-- Bins of fixed length counted from local midnight of 2000-01-01.
	period_start := date_bin(iv, at, timestamp '2000-01-01' AT TIME ZONE time_zone);
	period_end := period_start + iv;
	period_key := iv::text;
END
$fn$;

COMMENT ON FUNCTION hp.route_period(text, timestamptz, text) IS
'the budget period containing a time: date_trunc units (minute .. year) in time_zone, fixed-length interval bins from local midnight 2000-01-01, or run (starts at the given time, no end); period_key is the canonical name stored in the ledger';

-- Validation shared by hp.route_pending and each of its batches ----------------

CREATE FUNCTION hp._route_pending_prepare(
	tbl regclass, ppm hp.model, budget float8, period text, batch_size int,
	id_col name, features_col name, route_col name, tag_col name,
	max_human_fraction float8, pace boolean, min_gain float8, n float8,
	max_batches int, time_zone text, batch_delay float8,
	OUT qrel text, OUT id_type text, OUT vocab text[], OUT ppm_id text,
	OUT n_eff float8, OUT period_key text)
LANGUAGE plpgsql STABLE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
	kind char;
	info jsonb;
	col name;
	attnums int2[];
	types regtype[];
BEGIN
	IF tbl IS NULL OR ppm IS NULL OR budget IS NULL OR period IS NULL OR batch_size IS NULL
	   OR id_col IS NULL OR features_col IS NULL OR route_col IS NULL OR max_human_fraction IS NULL
	   OR pace IS NULL OR time_zone IS NULL OR batch_delay IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'arguments of hp.route_pending must not be NULL (except tag_col, min_gain, n and max_batches)';
	END IF;
	IF budget = 'NaN' OR budget < 0 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('budget must be a number of human labels >= 0 (Infinity for no limit), got %s', budget);
	END IF;
	IF batch_size < 1 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('batch_size must be at least 1, got %s', batch_size);
	END IF;
	IF NOT (max_human_fraction BETWEEN 0 AND 1) THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('max_human_fraction must be in [0, 1], got %s', max_human_fraction);
	END IF;
	IF min_gain = 'NaN' OR n <= 0 OR n = 'NaN' OR n = 'Infinity' OR max_batches < 0
	   OR batch_delay < 0 OR batch_delay = 'NaN' OR batch_delay = 'Infinity' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'min_gain must be a number, n a finite number > 0, max_batches >= 0 and batch_delay a finite number of seconds >= 0';
	END IF;
	period_key := (hp.route_period(period, now(), time_zone)).period_key;

	SELECT c.relkind, format('%I.%I', s.nspname, c.relname) INTO kind, qrel
	FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE c.oid = tbl;
	IF kind IS NULL OR kind NOT IN ('r', 'p') THEN
		RAISE EXCEPTION USING ERRCODE = 'wrong_object_type',
			MESSAGE = format('%s is not a table', coalesce(qrel, tbl::oid::text));
	END IF;
	-- Columns: exist, right types (route: text or varchar; features: text[] or varchar[]).
	FOREACH col IN ARRAY ARRAY[id_col, features_col, route_col, tag_col] LOOP
		CONTINUE WHEN col IS NULL;
		IF NOT EXISTS (SELECT 1 FROM pg_attribute a
		               WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped) THEN
			RAISE EXCEPTION USING ERRCODE = 'undefined_column',
				MESSAGE = format('column "%s" of relation %s does not exist', col, qrel),
				HINT = CASE WHEN col = route_col
				            THEN format('hp.route_pending writes ''human'' or ''llm'' into it: ALTER TABLE %s ADD COLUMN %I text;', qrel, col)
				            ELSE 'Pass the name of an existing column.' END;
		END IF;
	END LOOP;
	SELECT array_agg(a.attnum ORDER BY o.i), array_agg(a.atttypid::regtype ORDER BY o.i) INTO attnums, types
	FROM unnest(ARRAY[id_col, features_col, route_col]) WITH ORDINALITY o(c, i)
	JOIN pg_attribute a ON a.attrelid = tbl AND a.attname = o.c;
	IF types[2] NOT IN ('text[]'::regtype, 'character varying[]'::regtype) THEN
		RAISE EXCEPTION USING ERRCODE = 'datatype_mismatch',
			MESSAGE = format('column "%s" of relation %s has type %s, but text[] is required', features_col, qrel, types[2]);
	END IF;
	IF types[3] NOT IN ('text'::regtype, 'character varying'::regtype) THEN
		RAISE EXCEPTION USING ERRCODE = 'datatype_mismatch',
			MESSAGE = format('column "%s" of relation %s has type %s, but text is required', route_col, qrel, types[3]);
	END IF;
	-- Rows are matched by id: it must be unique, or a batch could update rows it did not lock.
	IF NOT EXISTS (SELECT 1 FROM pg_index i
	               WHERE i.indrelid = tbl AND i.indisunique AND i.indnkeyatts = 1
	                 AND i.indkey[0] = attnums[1] AND i.indpred IS NULL) THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_column_reference',
			MESSAGE = format('column "%s" of relation %s is not unique', id_col, qrel),
			HINT = 'hp.route_pending matches the rows it locked by id_col: give that column a primary key or a unique index (route each partition of a table partitioned otherwise).';
	END IF;
	id_type := format_type(types[1], NULL);
	-- Privileges, checked up front so that a role without them gets one clear error.
	IF NOT has_column_privilege(tbl, route_col, 'UPDATE') THEN
		RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
			MESSAGE = format('permission denied to route table %s', qrel),
			DETAIL = format('hp.route_pending needs UPDATE on column "%s" and SELECT on the columns it reads.', route_col);
	END IF;
	FOREACH col IN ARRAY ARRAY[id_col, features_col, route_col, tag_col] LOOP
		IF col IS NOT NULL AND NOT has_column_privilege(tbl, col, 'SELECT') THEN
			RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
				MESSAGE = format('permission denied to route table %s', qrel),
				DETAIL = format('hp.route_pending needs SELECT on column "%s".', col);
		END IF;
	END LOOP;
	-- The PPM.
	info := hp.model_info(ppm);
	IF info->>'kind' IS DISTINCT FROM 'ppm' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('model of kind "%s" is not a performance prediction model', info->>'kind'),
			DETAIL = 'Routing needs a model of kind "ppm" from hp.train_ppm.';
	END IF;
	vocab := ARRAY(SELECT jsonb_array_elements_text(info->'options'->'vocab'));
	ppm_id := md5(hp.model_send(ppm));
	n_eff := coalesce(n, (info->'options'->>'n')::float8, batch_size);
END
$fn$;

COMMENT ON FUNCTION hp._route_pending_prepare(regclass, hp.model, float8, text, int, name, name, name, name, float8, boolean, float8, float8, int, text, float8) IS
'internal to hp.route_pending: validates its arguments, the table, its columns and the caller''s privileges; returns the quoted table name, the id type, the PPM vocabulary and id, the n used for gains and the canonical period';

-- One batch, in the caller's transaction ---------------------------------------

-- No fixed search_path here: the UPDATE fires the table's own triggers, which
-- must run with the caller's search_path as after any UPDATE of theirs; every
-- name below is schema-qualified instead (the id type comes qualified from
-- format_type under the prepare function's fixed search_path).
CREATE FUNCTION hp._route_batch(
	tbl regclass, ppm hp.model, budget float8, period text, batch_size int,
	id_col name, features_col name, route_col name, tag_col name,
	max_human_fraction float8, pace boolean, min_gain float8, n float8,
	time_zone text, batch_delay float8,
	run_id uuid, batch int, run_started timestamptz,
	OUT locked bigint, OUT n_human bigint, OUT n_llm bigint,
	OUT spent bigint, OUT remaining float8)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $fn$
#variable_conflict use_variable
DECLARE
	p record;
	ids text[];
	gains float8[];
	pstart timestamptz;
	pend timestamptz;
	prior_human bigint;
	prior_routed bigint;
	allowed float8;
	k bigint;
	tagexpr text;
BEGIN
	IF pg_catalog.current_setting('transaction_isolation') OPERATOR(pg_catalog.<>) 'read committed' THEN
		RAISE EXCEPTION USING ERRCODE = 'feature_not_supported',
			MESSAGE = 'hp.route_pending needs READ COMMITTED isolation',
			DETAIL = 'Each batch reads the budget already spent after taking the ledger lock; an older snapshot would not see the batches committed meanwhile.';
	END IF;
	p := hp._route_pending_prepare(tbl, ppm, budget, period, batch_size, id_col, features_col, route_col,
	                               tag_col, max_human_fraction, pace, min_gain, n, NULL, time_zone, batch_delay);

	-- 1. Lock up to batch_size unrouted rows, oldest id first, skipping rows
	--    that another run has locked; rank them by gain (ties by id).
	EXECUTE pg_catalog.format(
		'SELECT pg_catalog.count(*),
		        COALESCE(pg_catalog.array_agg(b.id::text ORDER BY b.gain DESC NULLS LAST, b.id), ''{}''),
		        COALESCE(pg_catalog.array_agg(b.gain ORDER BY b.gain DESC NULLS LAST, b.id), ''{}'')
		 FROM (SELECT l.id, hp.route_gain($1, l.f, $2) AS gain
		       FROM (SELECT t.%1$I AS id, t.%2$I::text[] AS f FROM %3$s AS t
		             WHERE t.%4$I IS NULL ORDER BY t.%1$I LIMIT $3 FOR UPDATE OF t SKIP LOCKED) l) b',
		id_col, features_col, p.qrel, route_col)
	INTO locked, ids, gains
	USING ppm, p.n_eff, batch_size;
	IF locked = 0 THEN
		n_human := 0;
		n_llm := 0;
		RETURN;
	END IF;

	-- 2. The budget account of this table and period, one batch at a time.
	PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('hybridpref.route_ledger'),
	                                         pg_catalog.hashtext(p.qrel));
	IF p.period_key = 'run' THEN
		pstart := run_started;
		SELECT COALESCE(pg_catalog.sum(l.n_human), 0), COALESCE(pg_catalog.sum(l.n_human + l.n_llm), 0)
		INTO prior_human, prior_routed
		FROM hp.route_ledger l WHERE l.run_id = run_id;
	ELSE
		SELECT r.period_start, r.period_end INTO pstart, pend
		FROM hp.route_period(period, pg_catalog.now(), time_zone) r;
		SELECT COALESCE(pg_catalog.sum(l.n_human), 0), COALESCE(pg_catalog.sum(l.n_human + l.n_llm), 0)
		INTO prior_human, prior_routed
		FROM hp.route_ledger l
		WHERE l.table_name = p.qrel AND l.period = p.period_key AND l.period_start = pstart;
	END IF;
	allowed := budget;
	IF pace AND pend IS NOT NULL THEN
		allowed := budget * LEAST(1.0, GREATEST(0.0,
			EXTRACT(epoch FROM pg_catalog.now() - pstart)::float8 / EXTRACT(epoch FROM pend - pstart)::float8));
	END IF;
	-- Humans for this batch: the budget left, the share cap over the period's
	-- rows so far, and the rows whose gain reaches min_gain.  1e-9 absorbs
	-- rounding in products such as 0.29 * 100.
	k := LEAST(locked::float8,
	           GREATEST(0.0, pg_catalog.floor(allowed + 1e-9) - prior_human),
	           GREATEST(0.0, pg_catalog.floor(max_human_fraction * (prior_routed + locked) + 1e-9) - prior_human))::bigint;
	IF min_gain IS NOT NULL THEN
		k := LEAST(k, (SELECT pg_catalog.count(*) FROM pg_catalog.unnest(gains) g WHERE g >= min_gain));
	END IF;

	IF batch = 1 THEN
		INSERT INTO hp.route_ppms AS r (ppm_id, ppm) VALUES (p.ppm_id, ppm) ON CONFLICT DO NOTHING;
	END IF;

	-- 3. Route the rows and append to the ledger in one statement.
	tagexpr := CASE WHEN tag_col IS NULL THEN 'NULL::text' ELSE pg_catalog.format('t.%I::text', tag_col) END;
	EXECUTE pg_catalog.format(
		'WITH u AS (
		   UPDATE %1$s AS t SET %2$I = CASE WHEN t.%3$I = ANY ($1::%4$s[]) THEN ''human'' ELSE ''llm'' END
		   WHERE t.%3$I = ANY ($2::%4$s[]) AND t.%2$I IS NULL
		   RETURNING t.%2$I::text AS r, %5$s AS tag, t.%6$I::text[] AS f),
		 g AS (SELECT u.tag, pg_catalog.count(*) FILTER (WHERE u.r = ''human'') AS h,
		              pg_catalog.count(*) FILTER (WHERE u.r = ''llm'') AS l
		       FROM u GROUP BY u.tag),
		 hf AS (SELECT u.tag, v.ord, pg_catalog.count(*)::float8 AS c
		        FROM u CROSS JOIN LATERAL (SELECT DISTINCT x FROM pg_catalog.unnest(u.f) x) d
		        JOIN pg_catalog.unnest($3::text[]) WITH ORDINALITY v(feat, ord) ON v.feat = d.x
		        WHERE u.r = ''human'' GROUP BY u.tag, v.ord),
		 ins AS (
		   INSERT INTO hp.route_ledger (run_id, batch, tag, table_name, table_oid, period, period_start,
		                                period_end, budget, n_human, n_llm, spent_after, human_counts,
		                                ppm_id, run_started)
		   SELECT $4, $5, g.tag, $6, $7, $8, $9, $10, $11, g.h, g.l, $12 + pg_catalog.sum(g.h) OVER (),
		          ARRAY(SELECT COALESCE(hf.c, 0)
		                FROM pg_catalog.generate_series(1, pg_catalog.cardinality($3::text[])) AS i
		                LEFT JOIN hf ON hf.ord = i AND hf.tag IS NOT DISTINCT FROM g.tag ORDER BY i),
		          $13, $14
		   FROM g
		   RETURNING route_ledger.n_human, route_ledger.n_llm)
		 SELECT COALESCE(pg_catalog.sum(ins.n_human), 0), COALESCE(pg_catalog.sum(ins.n_llm), 0) FROM ins',
		p.qrel, route_col, id_col, p.id_type, tagexpr, features_col)
	INTO n_human, n_llm
	USING ids[1:k], ids, p.vocab, run_id, batch, p.qrel, tbl::oid, p.period_key, pstart, pend,
	      budget, prior_human, p.ppm_id, run_started;

	spent := prior_human + n_human;
	remaining := GREATEST(budget - spent, 0);
	IF n_human + n_llm < locked THEN
		RAISE WARNING 'hp.route_pending: % of % locked rows of % were not updated (a trigger or row-level security policy kept them unrouted)',
			locked - n_human - n_llm, locked, p.qrel;
	END IF;
	-- Test hook: hold the batch's locks and uncommitted writes a while.
	IF batch_delay > 0 THEN
		PERFORM pg_catalog.pg_sleep(batch_delay);
	END IF;
END
$fn$;

COMMENT ON FUNCTION hp._route_batch(regclass, hp.model, float8, text, int, name, name, name, name, float8, boolean, float8, float8, text, float8, uuid, int, timestamptz) IS
'internal to hp.route_pending: locks up to batch_size unrouted rows (FOR UPDATE SKIP LOCKED), takes the table''s ledger lock, routes the best-gain rows to humans within the period''s remaining budget, the rest to the LLM, and appends the ledger rows, all in the caller''s transaction';

-- The procedure ----------------------------------------------------------------

-- No SET clause: a procedure with one cannot COMMIT.  Every name below is
-- schema-qualified; the batch function fixes its own search_path.
CREATE PROCEDURE hp.route_pending(tbl regclass, ppm hp.model, budget float8,
                                  period text DEFAULT 'day',
                                  batch_size int DEFAULT 1000,
                                  id_col name DEFAULT 'id',
                                  features_col name DEFAULT 'features',
                                  route_col name DEFAULT 'route',
                                  tag_col name DEFAULT NULL,
                                  max_human_fraction float8 DEFAULT 1,
                                  pace boolean DEFAULT false,
                                  min_gain float8 DEFAULT NULL,
                                  n float8 DEFAULT NULL,
                                  max_batches int DEFAULT NULL,
                                  time_zone text DEFAULT 'UTC',
                                  batch_delay float8 DEFAULT 0)
LANGUAGE plpgsql SECURITY INVOKER
AS $fn$
DECLARE
	run uuid := pg_catalog.gen_random_uuid();
	started timestamptz := pg_catalog.now();
	p record;
	b record;
	batches int := 0;
	total_human bigint := 0;
	total_llm bigint := 0;
	pending bigint;
	stalled boolean := false;
BEGIN
	-- Validate before the first batch: a bad call changes nothing.
	p := hp._route_pending_prepare(tbl, ppm, budget, period, batch_size, id_col, features_col, route_col,
	                               tag_col, max_human_fraction, pace, min_gain, n, max_batches, time_zone,
	                               batch_delay);
	-- A run routes at most the rows pending when it starts, so that it ends
	-- even while rows arrive faster than it routes them; the rest is for the
	-- next run.
	EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM %s AS t WHERE t.%I IS NULL', p.qrel, route_col)
	INTO pending;
	COMMIT;
	LOOP
		EXIT WHEN total_human + total_llm >= pending
		       OR (max_batches IS NOT NULL AND batches >= max_batches);
		b := hp._route_batch(tbl, ppm, budget, period, LEAST(batch_size, pending - total_human - total_llm)::int,
		                     id_col, features_col, route_col, tag_col,
		                     max_human_fraction, pace, min_gain, p.n_eff, time_zone, batch_delay,
		                     run, batches + 1, started);
		-- The batch's row updates and its ledger rows become durable together.
		COMMIT;
		EXIT WHEN b.locked = 0;
		batches := batches + 1;
		total_human := total_human + b.n_human;
		total_llm := total_llm + b.n_llm;
		IF b.n_human + b.n_llm < b.locked THEN
			stalled := true;
			EXIT;
		END IF;
		-- A short batch: nothing else was pending (or other runs hold it).
		EXIT WHEN b.locked < LEAST(batch_size, pending - total_human - total_llm + b.locked);
	END LOOP;
	RAISE NOTICE 'hp.route_pending: % rows of % routed in % %: % to humans, % to the LLM%',
		total_human + total_llm, p.qrel, batches, CASE WHEN batches = 1 THEN 'batch' ELSE 'batches' END,
		total_human, total_llm,
		CASE WHEN stalled THEN ' (stopped: rows it locked stayed unrouted)' ELSE '' END;
END
$fn$;

COMMENT ON PROCEDURE hp.route_pending(regclass, hp.model, float8, text, int, name, name, name, name, float8, boolean, float8, float8, int, text, float8) IS
'routes the unrouted rows of tbl (route_col IS NULL) in batches of batch_size, each committed with its ledger rows: per batch the rows with the highest hp.route_gain go to humans while the period''s budget (human labels per period, and at most max_human_fraction of the period''s rows) lasts, the rest to the LLM; rows are locked FOR UPDATE SKIP LOCKED, so overlapping runs route disjoint rows; call it outside a transaction block (e.g. from pg_cron); batch_delay (seconds before each COMMIT) is for tests';

-- Dashboards ---------------------------------------------------------------------

CREATE FUNCTION hp._vec_add(a float8[], b float8[]) RETURNS float8[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a
            ELSE ARRAY(SELECT u.x + u.y FROM unnest(a, b) WITH ORDINALITY AS u(x, y, i) ORDER BY u.i) END;

COMMENT ON FUNCTION hp._vec_add(float8[], float8[]) IS
'internal: element-wise sum of two float8 arrays (NULL is the identity)';

CREATE AGGREGATE hp._vec_sum(float8[]) (
	SFUNC = hp._vec_add, STYPE = float8[], COMBINEFUNC = hp._vec_add, PARALLEL = SAFE
);

COMMENT ON AGGREGATE hp._vec_sum(float8[]) IS
'internal: element-wise sum of float8 arrays (the ledger''s per-feature human counts)';

CREATE VIEW hp.budget_status WITH (security_invoker = true) AS
SELECT l.table_name, l.period, l.period_start, l.period_end,
       (array_agg(l.budget ORDER BY l.routed_at DESC, l.batch DESC))[1] AS budget,
       sum(l.n_human)::bigint AS spent,
       greatest((array_agg(l.budget ORDER BY l.routed_at DESC, l.batch DESC))[1] - sum(l.n_human), 0)::float8 AS remaining,
       sum(l.n_llm)::bigint AS n_llm,
       sum(l.n_human + l.n_llm)::bigint AS routed,
       count(DISTINCT (l.run_id, l.batch)) AS batches,
       count(DISTINCT l.run_id) AS runs,
       min(l.routed_at) AS first_routed_at,
       max(l.routed_at) AS last_routed_at
FROM hp.route_ledger l
GROUP BY l.table_name, l.period, l.period_start, l.period_end;

COMMENT ON VIEW hp.budget_status IS
'human-label budget per routed table and period: budget, spent, remaining (rows of the tables the querying role may read)';
COMMENT ON COLUMN hp.budget_status.table_name IS 'routed table, schema-qualified';
COMMENT ON COLUMN hp.budget_status.period IS 'budget period (run, minute .. year, or an interval)';
COMMENT ON COLUMN hp.budget_status.period_start IS 'start of the period';
COMMENT ON COLUMN hp.budget_status.period_end IS 'end of the period (exclusive); NULL for period run';
COMMENT ON COLUMN hp.budget_status.budget IS 'human labels allowed in the period (as passed to the latest batch)';
COMMENT ON COLUMN hp.budget_status.spent IS 'rows routed to humans in the period';
COMMENT ON COLUMN hp.budget_status.remaining IS 'budget - spent, at least 0';
COMMENT ON COLUMN hp.budget_status.n_llm IS 'rows routed to the LLM judge in the period';
COMMENT ON COLUMN hp.budget_status.routed IS 'rows routed in the period (spent + n_llm)';
COMMENT ON COLUMN hp.budget_status.batches IS 'committed batches in the period';
COMMENT ON COLUMN hp.budget_status.runs IS 'hp.route_pending runs that routed rows in the period';
COMMENT ON COLUMN hp.budget_status.first_routed_at IS 'first batch of the period';
COMMENT ON COLUMN hp.budget_status.last_routed_at IS 'latest batch of the period';

CREATE VIEW hp.routing_summary WITH (security_invoker = true) AS
SELECT l.table_name, l.period, l.period_start, l.period_end, l.tag,
       sum(l.n_human)::bigint AS n_human,
       sum(l.n_llm)::bigint AS n_llm,
       sum(l.n_human + l.n_llm)::bigint AS routed,
       (sum(l.n_human) / nullif(sum(l.n_human + l.n_llm), 0))::float8 AS human_fraction,
       count(*) AS batches,
       min(l.routed_at) AS first_routed_at,
       max(l.routed_at) AS last_routed_at
FROM hp.route_ledger l
GROUP BY l.table_name, l.period, l.period_start, l.period_end, l.tag;

COMMENT ON VIEW hp.routing_summary IS
'rows routed to humans and to the LLM per routed table, period and tag (rows of the tables the querying role may read)';
COMMENT ON COLUMN hp.routing_summary.table_name IS 'routed table, schema-qualified';
COMMENT ON COLUMN hp.routing_summary.period IS 'budget period (run, minute .. year, or an interval)';
COMMENT ON COLUMN hp.routing_summary.period_start IS 'start of the period';
COMMENT ON COLUMN hp.routing_summary.period_end IS 'end of the period (exclusive); NULL for period run';
COMMENT ON COLUMN hp.routing_summary.tag IS 'value of the runs'' tag_col as text; NULL without tag_col or for a NULL tag';
COMMENT ON COLUMN hp.routing_summary.n_human IS 'rows routed to human annotation';
COMMENT ON COLUMN hp.routing_summary.n_llm IS 'rows routed to the LLM judge';
COMMENT ON COLUMN hp.routing_summary.routed IS 'n_human + n_llm';
COMMENT ON COLUMN hp.routing_summary.human_fraction IS 'n_human / routed';
COMMENT ON COLUMN hp.routing_summary.batches IS 'committed batches with rows of this tag';
COMMENT ON COLUMN hp.routing_summary.first_routed_at IS 'first such batch';
COMMENT ON COLUMN hp.routing_summary.last_routed_at IS 'latest such batch';

CREATE VIEW hp.route_runs WITH (security_invoker = true) AS
SELECT l.run_id, l.table_name, l.routed_by, l.period, l.ppm_id, l.run_started,
       (array_agg(l.budget ORDER BY l.batch DESC))[1] AS budget,
       count(DISTINCT l.batch) AS batches,
       sum(l.n_human)::bigint AS n_human,
       sum(l.n_llm)::bigint AS n_llm,
       min(l.routed_at) AS first_batch_at,
       max(l.routed_at) AS last_batch_at
FROM hp.route_ledger l
GROUP BY l.run_id, l.table_name, l.routed_by, l.period, l.ppm_id, l.run_started;

COMMENT ON VIEW hp.route_runs IS
'hp.route_pending runs that routed at least one row (rows of the tables the querying role may read)';
COMMENT ON COLUMN hp.route_runs.run_id IS 'the run';
COMMENT ON COLUMN hp.route_runs.table_name IS 'routed table, schema-qualified';
COMMENT ON COLUMN hp.route_runs.routed_by IS 'role that ran it';
COMMENT ON COLUMN hp.route_runs.period IS 'budget period of the run';
COMMENT ON COLUMN hp.route_runs.ppm_id IS 'PPM of the run (hp.route_ppms.ppm_id)';
COMMENT ON COLUMN hp.route_runs.run_started IS 'start of the run (the transaction start of the CALL)';
COMMENT ON COLUMN hp.route_runs.budget IS 'budget passed to the run';
COMMENT ON COLUMN hp.route_runs.batches IS 'committed batches';
COMMENT ON COLUMN hp.route_runs.n_human IS 'rows routed to humans';
COMMENT ON COLUMN hp.route_runs.n_llm IS 'rows routed to the LLM';
COMMENT ON COLUMN hp.route_runs.first_batch_at IS 'first committed batch';
COMMENT ON COLUMN hp.route_runs.last_batch_at IS 'latest committed batch';

CREATE VIEW hp.predicted_score WITH (security_invoker = true) AS
SELECT s.table_name, s.period, s.period_start, s.period_end, s.ppm_id,
       s.budget, s.spent, s.routed,
       hp.ppm_predict(m.ppm, s.counts, s.routed) AS predicted_score,
       hp.ppm_predict(m.ppm, array_fill(0::float8, ARRAY[cardinality(s.counts)]), s.routed) AS all_llm_score,
       hp.ppm_predict(m.ppm, s.counts, s.routed)
         - hp.ppm_predict(m.ppm, array_fill(0::float8, ARRAY[cardinality(s.counts)]), s.routed) AS predicted_gain,
       CASE WHEN s.spent > 0 AND s.budget < 'Infinity'
            THEN hp.ppm_predict(m.ppm,
                   ARRAY(SELECT c * least(s.budget, s.routed) / s.spent FROM unnest(s.counts) WITH ORDINALITY u(c, i) ORDER BY i),
                   s.routed) END AS score_at_budget
FROM (SELECT l.table_name, l.period, l.period_start, l.period_end, l.ppm_id,
             (array_agg(l.budget ORDER BY l.routed_at DESC, l.batch DESC))[1] AS budget,
             sum(l.n_human)::bigint AS spent,
             sum(l.n_human + l.n_llm)::float8 AS routed,
             hp._vec_sum(l.human_counts) AS counts
      FROM hp.route_ledger l
      GROUP BY l.table_name, l.period, l.period_start, l.period_end, l.ppm_id) s
JOIN hp.route_ppms m ON m.ppm_id = s.ppm_id;

COMMENT ON VIEW hp.predicted_score IS
'predicted score of the routing done so far per table, period and PPM (the PPM recorded with the runs, n = rows routed in the period), next to the all-LLM score and an estimate at full budget';
COMMENT ON COLUMN hp.predicted_score.table_name IS 'routed table, schema-qualified';
COMMENT ON COLUMN hp.predicted_score.period IS 'budget period (run, minute .. year, or an interval)';
COMMENT ON COLUMN hp.predicted_score.period_start IS 'start of the period';
COMMENT ON COLUMN hp.predicted_score.period_end IS 'end of the period (exclusive); NULL for period run';
COMMENT ON COLUMN hp.predicted_score.ppm_id IS 'PPM that ranked these rows (hp.route_ppms.ppm_id)';
COMMENT ON COLUMN hp.predicted_score.budget IS 'human labels allowed in the period (latest batch)';
COMMENT ON COLUMN hp.predicted_score.spent IS 'rows routed to humans with this PPM in the period';
COMMENT ON COLUMN hp.predicted_score.routed IS 'rows routed with this PPM in the period (the n the PPM normalises by)';
COMMENT ON COLUMN hp.predicted_score.predicted_score IS 'PPM prediction f(v / n) for the per-feature counts v of the human-routed rows';
COMMENT ON COLUMN hp.predicted_score.all_llm_score IS 'PPM prediction with no human labels, f(0)';
COMMENT ON COLUMN hp.predicted_score.predicted_gain IS 'predicted_score - all_llm_score';
COMMENT ON COLUMN hp.predicted_score.score_at_budget IS 'PPM prediction if the whole budget (at most the rows routed) went to rows like the human-routed ones so far: v scaled by min(budget, routed) / spent; NULL when nothing was spent or the budget is unlimited';

GRANT SELECT ON hp.budget_status, hp.routing_summary, hp.route_runs, hp.predicted_score TO PUBLIC;

-- Labels received ------------------------------------------------------------------

CREATE FUNCTION hp.labels_received(tbl regclass, label_col name DEFAULT 'label',
                                   route_col name DEFAULT 'route',
                                   time_col name DEFAULT NULL,
                                   period text DEFAULT 'day',
                                   tag_col name DEFAULT NULL,
                                   time_zone text DEFAULT 'UTC')
RETURNS TABLE(period_start timestamptz, period_end timestamptz, route text, tag text,
              n_rows bigint, n_labelled bigint, n_unlabelled bigint)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
	qrel text;
	col name;
	bucket text;
	pk text;
BEGIN
	IF tbl IS NULL OR label_col IS NULL OR route_col IS NULL OR period IS NULL OR time_zone IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'arguments of hp.labels_received must not be NULL (except time_col and tag_col)';
	END IF;
	SELECT format('%I.%I', s.nspname, c.relname) INTO qrel
	FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE c.oid = tbl;
	FOREACH col IN ARRAY ARRAY[label_col, route_col, time_col, tag_col] LOOP
		IF col IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = tbl
		                                   AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped) THEN
			RAISE EXCEPTION USING ERRCODE = 'undefined_column',
				MESSAGE = format('column "%s" of relation %s does not exist', col, qrel);
		END IF;
	END LOOP;
	pk := (hp.route_period(period, now(), time_zone)).period_key;
	IF time_col IS NULL THEN
		bucket := 'NULL::timestamptz';
	ELSIF pk = 'run' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'period run has no calendar: give a period such as day, or no time_col';
	ELSIF pk IN ('minute', 'hour', 'day', 'week', 'month', 'quarter', 'year') THEN
		bucket := format('date_trunc(%L, t.%I::timestamptz, %L)', pk, time_col, time_zone);
	ELSE
		bucket := format('date_bin(%L::interval, t.%I::timestamptz, timestamp ''2000-01-01'' AT TIME ZONE %L)',
		                 pk, time_col, time_zone);
	END IF;
	RETURN QUERY EXECUTE format(
		'SELECT g.b, CASE WHEN g.b IS NOT NULL THEN (hp.route_period($1, g.b, $2)).period_end END,
		        g.r, g.tag, g.n, g.nl, g.n - g.nl
		 FROM (SELECT %1$s AS b, t.%2$I::text AS r, %3$s AS tag, count(*) AS n, count(t.%4$I) AS nl
		       FROM %5$s AS t GROUP BY 1, 2, 3) g
		 ORDER BY 1 NULLS FIRST, 3 NULLS FIRST, 4 NULLS FIRST',
		bucket, route_col, CASE WHEN tag_col IS NULL THEN 'NULL::text' ELSE format('t.%I::text', tag_col) END,
		label_col, qrel)
	USING period, time_zone;
END
$fn$;

COMMENT ON FUNCTION hp.labels_received(regclass, name, name, name, text, name, text) IS
'labels received so far in a routed table: rows, labelled rows (label_col not NULL) and unlabelled rows per route (human, llm, NULL = not routed yet), per tag_col value, and per period of time_col (e.g. a labelled_at or created_at column; all rows in one NULL period without it)';
