--
-- Parallel training: workers build partial states, the leader combines
-- them, and the model equals the serial one.
--
CREATE EXTENSION IF NOT EXISTS hybridpref;

SELECT setseed(0.1);
CREATE TABLE big AS
SELECT i AS id,
       ARRAY[random(), random(), random(), random()]::real[] AS chosen,
       ARRAY[random(), random(), random(), random()]::real[] AS rejected
FROM generate_series(1, 60000) i;
ANALYZE big;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;

EXPLAIN (COSTS OFF)
SELECT hp.train_reward_model(chosen, rejected, '{"heads": 4, "seed": 3}') FROM big;

CREATE TEMP TABLE par AS
SELECT hp.train_reward_model(chosen, rejected, '{"heads": 4, "seed": 3}') AS m FROM big;

SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE ser AS
SELECT hp.train_reward_model(chosen, rejected, '{"heads": 4, "seed": 3}') AS m FROM big;

-- Identical models (the final step sorts rows canonically).
SELECT par.m::text = ser.m::text AS identical,
       hp.model_info(par.m)->'rows' AS rows
FROM par, ser;
