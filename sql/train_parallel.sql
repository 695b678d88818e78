--
-- Parallel training: workers build partial states, the leader combines
-- them, and the model equals the serial one.
--

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

SELECT hp.train_reward_model(chosen, rejected, '{"heads": 4, "seed": 3}')::text AS par FROM big \gset
SELECT hp.train_reward_model(chosen, rejected, '{"heads": 2, "lambda": "auto"}')::text AS par_auto FROM big \gset

SET max_parallel_workers_per_gather = 0;
EXPLAIN (COSTS OFF)
SELECT hp.train_reward_model(chosen, rejected, '{"heads": 4, "seed": 3}') FROM big;
SELECT hp.train_reward_model(chosen, rejected, '{"heads": 4, "seed": 3}')::text AS ser FROM big \gset
SELECT hp.train_reward_model(chosen, rejected, '{"heads": 2, "lambda": "auto"}')::text AS ser_auto FROM big \gset

-- Identical models (the final step sorts rows canonically).
SELECT :'par' = :'ser' AS identical, :'par_auto' = :'ser_auto' AS identical_auto,
       hp.model_info(:'par'::hp.model)->'rows' AS rows;
