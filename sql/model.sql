-- hp.model: how a trained model is stored, printed and checked.
-- (pg_regress loads the extension: --load-extension=hybridpref.)

-- The text form of a model is a JSON document.  Besides the numbers it
-- carries a checksum of the binary form, so a truncated or edited model is
-- refused instead of silently scoring differently.  This one is a linear
-- reward model with two ensemble heads over 4-dimensional embeddings,
-- written by hand (whitespace and layout are free).
CREATE TEMP TABLE models (name text PRIMARY KEY, m hp.model);
INSERT INTO models VALUES ('tiny', '{
  "format": "hybridpref.model", "version": 1,
  "kind": "linear", "dim": 4, "heads": 2, "uncertainty": "ensemble",
  "lambda": 0.001, "loss": 0.52, "rows": 1000, "seed": 42,
  "options": {"arch": "linear", "heads": 2},
  "tensors": {
    "w": {"dtype": "f32", "shape": [2, 4],
          "data": [0.5, -0.25, 1, 0,
                   0.125, 2, -1.5, 0.75]}
  },
  "checksum": "e4c3cd0740b7ee84"
}');

-- A Laplace model has one head plus per-dimension posterior variances.
-- Its options are stored in canonical form (members sorted by key, numbers
-- written by value), so their order and spelling here do not matter.
INSERT INTO models VALUES ('laplace', '{"format":"hybridpref.model","version":1,"kind":"linear","dim":4,"heads":1,"uncertainty":"laplace","lambda":0.01,"loss":0.61,"rows":250,"seed":7,"options":{"uncertainty":"laplace","tol":0.000001},"tensors":{"w":{"dtype":"f32","shape":[1,4],"data":[0.5,-0.25,1,0]},"var":{"dtype":"f32","shape":[1,4],"data":[0.01,0.02,0.5,1]}},"checksum":"6141ade91e444fb5"}');

-- Output is compact and reads back to the identical value.
SELECT name, m FROM models ORDER BY name;
SELECT name, m::text::hp.model::text = m::text AS text_round_trip FROM models ORDER BY name;

-- The text form survives jsonb, which reorders keys (shortest first) and
-- respells numbers (1e-06 becomes 0.000001): the checksum still holds and
-- the model prints back identically.
SELECT name, m::text::jsonb::text AS via_jsonb FROM models WHERE name = 'laplace';
SELECT name, m::text::jsonb::text::hp.model::text = m::text AS jsonb_round_trip FROM models ORDER BY name;
-- A trained model carries every training option, twelve keys that jsonb
-- reorders, with "tol" respelled.
SELECT setseed(0.5);
CREATE TEMP TABLE prefs AS
SELECT ARRAY[random(), random(), random()]::real[] AS chosen,
       ARRAY[random(), random(), random()]::real[] AS rejected
FROM generate_series(1, 50);
CREATE TEMP TABLE trained AS
SELECT hp.train_reward_model(chosen, rejected, '{"heads": 3, "seed": 1}') AS m FROM prefs;
SELECT m::text::jsonb->'options' AS options_via_jsonb,
       hp.model_info(m)->'options' = m::text::jsonb->'options' AS info_agrees,
       m::text::jsonb::text <> m::text AS jsonb_respelled,
       m::text::jsonb::text::hp.model::text = m::text AS jsonb_round_trip,
       hp.model_send(m::text::jsonb::text::hp.model) = hp.model_send(m) AS same_bytes
FROM trained;

-- hp.model_info summarises a model without its tensors.
SELECT name, jsonb_pretty(hp.model_info(m)) FROM models ORDER BY name;

-- The binary form (what hp.model_send returns and binary COPY carries)
-- starts with the magic bytes "HPMD".
SELECT name, length(hp.model_send(m)) AS bytes, substr(hp.model_send(m), 1, 4) AS magic
FROM models ORDER BY name;

-- Binary COPY out and back in gives identical values.
\getenv abs_builddir PG_ABS_BUILDDIR
\set copyfile :abs_builddir '/results/model_copy.bin'
COPY models TO STDOUT (FORMAT binary) \g :copyfile
CREATE TEMP TABLE copied (LIKE models);
COPY copied FROM :'copyfile' (FORMAT binary);
SELECT a.name, hp.model_send(a.m) = hp.model_send(b.m) AS same_bytes, a.m::text = b.m::text AS same_text
FROM models a JOIN copied b USING (name) ORDER BY a.name;

-- Bad text input.  Each is refused with a message saying why.
-- Truncated text:
SELECT left(m::text, 120)::hp.model FROM models WHERE name = 'tiny';
-- An edited weight no longer matches the checksum:
SELECT replace(m::text, '0.125', '0.126')::hp.model FROM models WHERE name = 'tiny';
-- So does an edited header field:
SELECT replace(m::text, '"rows":1000', '"rows":2000')::hp.model FROM models WHERE name = 'tiny';
-- JSON has no NaN, and a weight must be a finite number anyway:
SELECT replace(m::text, '0.125', 'NaN')::hp.model FROM models WHERE name = 'tiny';
SELECT replace(m::text, '0.125', '1e39')::hp.model FROM models WHERE name = 'tiny';
-- Unknown kind:
SELECT replace(m::text, '"kind":"linear"', '"kind":"cubic"')::hp.model FROM models WHERE name = 'tiny';
-- A model from a newer hybridpref:
SELECT replace(m::text, '"version":1', '"version":2')::hp.model FROM models WHERE name = 'tiny';
-- Missing, unknown and ill-typed fields:
SELECT replace(m::text, '"seed":42,', '')::hp.model FROM models WHERE name = 'tiny';
SELECT replace(m::text, '"seed":42,', '"seed":42,"colour":"red",')::hp.model FROM models WHERE name = 'tiny';
SELECT replace(m::text, '"dim":4', '"dim":"4"')::hp.model FROM models WHERE name = 'tiny';
-- The shape is covered by the checksum too:
SELECT replace(m::text, '"shape":[2,4]', '"shape":[4,2]')::hp.model FROM models WHERE name = 'tiny';
-- and even with a matching checksum, a linear model's weights must be heads x dim:
SELECT replace(replace(m::text, '"shape":[2,4]', '"shape":[4,2]'), 'e4c3cd0740b7ee84', 'b56eb94296de9d64')::hp.model
FROM models WHERE name = 'tiny';
-- Some other JSON document:
SELECT '{"format":"something.else"}'::hp.model;
SELECT 'not json'::hp.model;

-- Bad binary input, fed through binary COPY of a bytea column (bytea's
-- binary form is its raw bytes, so this reaches hp.model's receive function).
CREATE TEMP TABLE landing (m hp.model);
-- Wrong magic bytes:
COPY (SELECT overlay(hp.model_send(m) PLACING '\x58585858' FROM 1) FROM models WHERE name = 'tiny')
  TO STDOUT (FORMAT binary) \g :copyfile
COPY landing FROM :'copyfile' (FORMAT binary);
-- Format version 2 (little-endian u16 at byte offset 4):
COPY (SELECT set_byte(hp.model_send(m), 4, 2) FROM models WHERE name = 'tiny')
  TO STDOUT (FORMAT binary) \g :copyfile
COPY landing FROM :'copyfile' (FORMAT binary);
-- The checksum covers the version and kind too: a linear model relabelled
-- as kind 3 (little-endian u16 at byte offset 6) is refused.
COPY (SELECT set_byte(hp.model_send(m), 6, 3) FROM models WHERE name = 'tiny')
  TO STDOUT (FORMAT binary) \g :copyfile
COPY landing FROM :'copyfile' (FORMAT binary);
-- One flipped bit in a weight:
COPY (SELECT set_byte(hp.model_send(m), 130, get_byte(hp.model_send(m), 130) # 1) FROM models WHERE name = 'tiny')
  TO STDOUT (FORMAT binary) \g :copyfile
COPY landing FROM :'copyfile' (FORMAT binary);
-- Truncated and extended values:
COPY (SELECT substr(hp.model_send(m), 1, 40) FROM models WHERE name = 'tiny')
  TO STDOUT (FORMAT binary) \g :copyfile
COPY landing FROM :'copyfile' (FORMAT binary);
COPY (SELECT hp.model_send(m) || '\x00'::bytea FROM models WHERE name = 'tiny')
  TO STDOUT (FORMAT binary) \g :copyfile
COPY landing FROM :'copyfile' (FORMAT binary);
SELECT count(*) AS loaded FROM landing;

-- Corruption is reported as data_corrupted (XX001).
\set VERBOSITY sqlstate
SELECT replace(m::text, '0.125', '0.126')::hp.model FROM models WHERE name = 'tiny';
\set VERBOSITY default

DROP TABLE models, copied, landing, prefs, trained;
