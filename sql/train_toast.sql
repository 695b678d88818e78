--
-- Training on TOASTed embeddings.  Arrays of 2 kB and more are stored out
-- of line; the training aggregate reads them in bulk (one scan of the
-- TOAST table when they fill a large share of it, the TOAST index
-- otherwise).  Whichever way a row is read, the model is the same as from
-- the same rows stored inline.
--

-- Deterministic, incompressible 600-d vectors (2.4 kB each).
CREATE FUNCTION vec(seed int, d int DEFAULT 600) RETURNS real[]
LANGUAGE sql IMMUTABLE AS $$
  SELECT array_agg(sin(seed * 12.9898 + j * 78.233)::real ORDER BY j)
  FROM generate_series(1, d) j
$$;

CREATE TABLE toasted (id int, chosen real[], rejected real[], p float8);
INSERT INTO toasted
SELECT i, vec(2 * i), vec(2 * i + 1), (i % 5) / 4.0 FROM generate_series(1, 400) i;
CREATE TABLE inline (LIKE toasted);
ALTER TABLE inline ALTER COLUMN chosen SET STORAGE PLAIN,
                   ALTER COLUMN rejected SET STORAGE PLAIN;
INSERT INTO inline SELECT * FROM toasted;

-- The arrays of "toasted" live in its TOAST table; "inline" has none in use.
SELECT c.relname,
       pg_relation_size(c.reltoastrelid) > 10 * pg_relation_size(c.oid) AS out_of_line
FROM pg_class c WHERE c.relname IN ('toasted', 'inline') ORDER BY 1;

SET max_parallel_workers_per_gather = 0;
SET client_min_messages = debug1;

-- Every row: one scan of the TOAST table, no index fetch.
SELECT md5(hp.train_reward_model(chosen, rejected, '{"heads": 3, "seed": 5}')::text) AS toasted_all
FROM toasted \gset
RESET client_min_messages;
SELECT :'toasted_all' = md5(hp.train_reward_model(chosen, rejected, '{"heads": 3, "seed": 5}')::text) AS same_model
FROM inline;

-- A tenth of the rows: fetched through the index instead.
SET client_min_messages = debug1;
SELECT md5(hp.train_reward_model(chosen, rejected, '{"heads": 3, "seed": 5}')::text) AS toasted_tenth
FROM toasted WHERE id % 10 = 0 \gset
RESET client_min_messages;
SELECT :'toasted_tenth' = md5(hp.train_reward_model(chosen, rejected, '{"heads": 3, "seed": 5}')::text) AS same_model
FROM inline WHERE id % 10 = 0;

-- Soft labels, the MLP architecture and lambda "auto" read the same way.
SELECT (SELECT hp.train_reward_model(chosen, rejected, p, '{"heads": 2}')::text FROM toasted) =
       (SELECT hp.train_reward_model(chosen, rejected, p, '{"heads": 2}')::text FROM inline) AS soft_same,
       (SELECT hp.train_reward_model(chosen, rejected, '{"arch": "mlp", "hidden": [4], "heads": 2, "max_iter": 5}')::text FROM toasted) =
       (SELECT hp.train_reward_model(chosen, rejected, '{"arch": "mlp", "hidden": [4], "heads": 2, "max_iter": 5}')::text FROM inline) AS mlp_same,
       (SELECT hp.train_reward_model(chosen, rejected, '{"heads": 1, "lambda": "auto"}')::text FROM toasted) =
       (SELECT hp.train_reward_model(chosen, rejected, '{"heads": 1, "lambda": "auto"}')::text FROM inline) AS auto_same;

-- A row read twice, rows inline and out of line in one aggregate, rows
-- that compress (stored inline, read as usual) next to rows that do not.
INSERT INTO toasted SELECT 1000 + i, array_fill(0.5::real, ARRAY[600]), vec(i), 1 FROM generate_series(1, 20) i;
INSERT INTO inline SELECT * FROM toasted WHERE id > 1000;
SELECT (SELECT hp.train_reward_model(chosen, rejected)::text
        FROM (SELECT * FROM toasted UNION ALL SELECT * FROM toasted WHERE id < 50
              UNION ALL SELECT * FROM inline WHERE id % 7 = 0) s) =
       (SELECT hp.train_reward_model(chosen, rejected)::text
        FROM (SELECT * FROM inline UNION ALL SELECT * FROM inline WHERE id < 50
              UNION ALL SELECT * FROM inline WHERE id % 7 = 0) s) AS mixed_same;

-- Dead and updated rows in the TOAST table (no VACUUM): only the values
-- the query sees are used.
DELETE FROM toasted WHERE id % 3 = 0;
DELETE FROM inline WHERE id % 3 = 0;
UPDATE toasted SET rejected = vec(-id) WHERE id % 4 = 1;
UPDATE inline SET rejected = vec(-id) WHERE id % 4 = 1;
SELECT (SELECT hp.train_reward_model(chosen, rejected, '{"heads": 2}')::text FROM toasted) =
       (SELECT hp.train_reward_model(chosen, rejected, '{"heads": 2}')::text FROM inline) AS after_updates_same;

-- Chunks left by an aborted insert, and by rows inserted after the
-- query's snapshot was taken (a cursor opened before), are passed over.
BEGIN;
INSERT INTO toasted SELECT 2000 + i, vec(3 * i), vec(5 * i), 1 FROM generate_series(1, 40) i;
ROLLBACK;
BEGIN;
DECLARE c CURSOR FOR SELECT hp.train_reward_model(chosen, rejected, '{"heads": 2}')::text AS m FROM toasted;
INSERT INTO toasted SELECT 3000 + i, vec(7 * i), vec(11 * i), 1 FROM generate_series(1, 40) i;
FETCH c \gset
SELECT :'m' = (SELECT hp.train_reward_model(chosen, rejected, '{"heads": 2}')::text FROM inline) AS aborted_and_later_skipped;
ROLLBACK;

-- Rows passed on by a data-modifying CTE (RETURNING hands over the
-- values it read, still TOASTed in the source table).
CREATE TABLE fresh (LIKE toasted);
WITH ins AS (INSERT INTO fresh SELECT * FROM toasted RETURNING chosen, rejected)
SELECT hp.train_reward_model(chosen, rejected, '{"heads": 2}')::text =
       (SELECT hp.train_reward_model(chosen, rejected, '{"heads": 2}')::text FROM inline) AS cte_same
FROM ins;

-- As a window aggregate the state is read again after each final call.
SELECT count(*) AS windows, bool_and(t_ = i_) AS all_same
FROM (SELECT t.id, md5(hp.train_reward_model(t.chosen, t.rejected) OVER w::text) AS t_,
             md5(hp.train_reward_model(i.chosen, i.rejected) OVER w::text) AS i_
      FROM toasted t JOIN inline i USING (id)
      WHERE t.id <= 40
      WINDOW w AS (ORDER BY t.id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) s;

-- Value OIDs far apart (thousands of other values stored in between) are
-- matched by hashing rather than by offset; same model.
CREATE TABLE sparse (id int, chosen real[], rejected real[], p float8);
INSERT INTO sparse SELECT * FROM inline WHERE id <= 40;
CREATE TABLE spacer AS SELECT vec(i, 520) AS v FROM generate_series(1, 2500) i;
INSERT INTO sparse SELECT * FROM inline WHERE id > 40 AND id <= 80;
SELECT (SELECT hp.train_reward_model(chosen, rejected)::text FROM sparse) =
       (SELECT hp.train_reward_model(chosen, rejected)::text FROM inline WHERE id <= 80) AS sparse_same;

-- A parallel plan's partial states carry the TOAST pointers, not the
-- arrays; the Finalize Aggregate reads them all in one pass.  Same model.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT hp.train_reward_model(chosen, rejected, '{"heads": 2}') FROM toasted;
SELECT hp.train_reward_model(chosen, rejected, '{"heads": 2}')::text AS par FROM toasted \gset
SET max_parallel_workers_per_gather = 0;
SELECT :'par' = hp.train_reward_model(chosen, rejected, '{"heads": 2}')::text AS parallel_same FROM toasted;

-- Bad values in out-of-line rows are reported like any others.
INSERT INTO toasted SELECT 5000, (vec(1))[1:599] || 'NaN'::real, vec(2), 1;
SELECT hp.train_reward_model(chosen, rejected)
FROM (SELECT * FROM toasted WHERE id = 5000 OR id < 20 ORDER BY id) s;
DELETE FROM toasted WHERE id = 5000;
INSERT INTO toasted SELECT 5001, vec(1), (vec(2))[1:599] || NULL::real, 1;
SELECT hp.train_reward_model(chosen, rejected)
FROM (SELECT * FROM toasted WHERE id = 5001 OR id < 20 ORDER BY id) s;
DELETE FROM toasted WHERE id = 5001;
INSERT INTO toasted SELECT 5002, vec(3), vec(4, 601), 1;
SELECT hp.train_reward_model(chosen, rejected)
FROM (SELECT * FROM toasted WHERE id = 5002 OR id < 20 ORDER BY id) s;
DELETE FROM toasted WHERE id = 5002;

-- The same checks when the scan of the TOAST table reads every row (the
-- bad one last): a NaN, a two-dimensional array of the same size as the
-- others, and a difference that overflows although both arrays are finite.
SET client_min_messages = debug1;
INSERT INTO toasted SELECT 5000, (vec(1))[1:599] || 'NaN'::real, vec(2), 1;
SELECT hp.train_reward_model(chosen, rejected) FROM (SELECT * FROM toasted ORDER BY id) s;
DELETE FROM toasted WHERE id = 5000;
INSERT INTO toasted SELECT 5003, vec(5), ARRAY[(vec(6))[1:299], (vec(6))[300:598]], 1;
SELECT pg_column_size(chosen) = pg_column_size(rejected) AS same_size FROM toasted WHERE id = 5003;
SELECT hp.train_reward_model(chosen, rejected) FROM (SELECT * FROM toasted ORDER BY id) s;
DELETE FROM toasted WHERE id = 5003;
INSERT INTO toasted SELECT 5004, (vec(7))[1:599] || 3e38::real, (vec(8))[1:599] || (-3e38)::real, 1;
SELECT hp.train_reward_model(chosen, rejected) FROM (SELECT * FROM toasted ORDER BY id) s;
DELETE FROM toasted WHERE id = 5004;
-- Without them, every row is read by the scan again.
SELECT md5(hp.train_reward_model(chosen, rejected)::text) = md5(
         (SELECT hp.train_reward_model(chosen, rejected) FROM inline WHERE id <= 400)::text) AS same_model
FROM toasted WHERE id <= 400;
RESET client_min_messages;
