--
-- Where training rows live.  A training's row store is nearly all of its
-- memory; each backend keeps one between trainings (up to
-- hybridpref.keep_train_memory, idle pages left for the kernel to reclaim
-- with MADV_FREE) so repeated trainings do not fault fresh pages in.  A
-- second training running at the same time uses ordinary palloc memory.
-- None of this changes a model.
--
LOAD 'hybridpref';
SHOW hybridpref.keep_train_memory;

CREATE TABLE mem (id int, grp int, chosen real[], rejected real[]);
INSERT INTO mem
SELECT i, i % 3,
       (SELECT array_agg(sin(i * 12.9898 + j * 78.233)::real ORDER BY j) FROM generate_series(1, 32) j),
       (SELECT array_agg(cos(i * 4.1414 + j * 3.7)::real ORDER BY j) FROM generate_series(1, 32) j)
FROM generate_series(1, 3000) i;
SET max_parallel_workers_per_gather = 0;

-- The first training maps the kept memory, the next reuses it.
SET client_min_messages = debug2;
SELECT md5(hp.train_reward_model(chosen, rejected, '{"heads": 4, "seed": 3}')::text) AS kept FROM mem \gset
SELECT md5(hp.train_reward_model(chosen, rejected, '{"heads": 4, "seed": 3}')::text) = :'kept' AS same_model FROM mem;
RESET client_min_messages;

-- Without kept memory: the same model.
SET hybridpref.keep_train_memory = 0;
SELECT md5(hp.train_reward_model(chosen, rejected, '{"heads": 4, "seed": 3}')::text) = :'kept' AS same_model FROM mem;
RESET hybridpref.keep_train_memory;

-- Two trainings in one query: the second runs in palloc memory.
SET client_min_messages = debug2;
SELECT md5(hp.train_reward_model(chosen, rejected, '{"heads": 4, "seed": 3}')::text) = :'kept' AS first_same,
       md5(hp.train_reward_model(rejected, chosen, '{"heads": 4, "seed": 3}')::text) AS second
FROM mem \gset
RESET client_min_messages;
SELECT :'first_same' AS first_same,
       :'second' = md5(hp.train_reward_model(rejected, chosen, '{"heads": 4, "seed": 3}')::text) AS second_same
FROM mem;

-- One model per group: each equals the model of that group alone.
SELECT g.grp,
       g.m::text = (SELECT hp.train_reward_model(chosen, rejected, '{"heads": 2}')::text
                    FROM mem WHERE mem.grp = g.grp) AS same_model
FROM (SELECT grp, hp.train_reward_model(chosen, rejected, '{"heads": 2}') AS m
      FROM mem GROUP BY grp) g
ORDER BY 1;

-- A training that fails (here on a NaN in its last row) gives the memory
-- back: the next one maps nothing new and gets the same model.
INSERT INTO mem VALUES (3001, 0, array_fill('NaN'::real, ARRAY[32]), array_fill(0::real, ARRAY[32]));
SELECT hp.train_reward_model(chosen, rejected, '{"heads": 4, "seed": 3}') FROM mem;
DELETE FROM mem WHERE id = 3001;
SET client_min_messages = debug2;
SELECT md5(hp.train_reward_model(chosen, rejected, '{"heads": 4, "seed": 3}')::text) = :'kept' AS same_model FROM mem;
RESET client_min_messages;

-- A limit below what is mapped releases it; the next training maps anew.
SET hybridpref.keep_train_memory = '1MB';
SET client_min_messages = debug2;
SELECT md5(hp.train_reward_model(chosen, rejected, '{"heads": 4, "seed": 3}')::text) = :'kept' AS same_model FROM mem;
SELECT md5(hp.train_reward_model(chosen, rejected, '{"heads": 4, "seed": 3}')::text) = :'kept' AS same_model FROM mem;
RESET client_min_messages;
RESET hybridpref.keep_train_memory;

-- Parallel plans: workers and the leader each keep their own.
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SELECT md5(hp.train_reward_model(chosen, rejected, '{"heads": 4, "seed": 3}')::text) = :'kept' AS same_model FROM mem;
RESET ALL;
DROP TABLE mem;
