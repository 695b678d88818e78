--
-- Active response-pair selection, replayed on generated data in the shape of
-- ActiveUltraFeedback's experiment: prompts with 16 candidates written by
-- "models" of different quality, embeddings carrying a latent reward, a
-- noisy judge whose errors grow as the true gap shrinks, and rounds of
-- selection -> judge labels -> warm-started retraining.
--
-- psql variables (defaults in brackets): dim [32], prompts [1024],
-- heldout [256], batch [64], reps [3], arch [linear].
--
\set ON_ERROR_STOP 1
\if :{?dim} \else \set dim 32 \endif
\if :{?prompts} \else \set prompts 1024 \endif
\if :{?heldout} \else \set heldout 256 \endif
\if :{?batch} \else \set batch 64 \endif
\if :{?reps} \else \set reps 3 \endif
\if :{?arch} \else \set arch linear \endif
\if :{?beta} \else \set beta 1.0 \endif
\if :{?methods} \else \set methods '{random,ultrafeedback,maxmin,infomax,dts,drts,deltaucb,maxminlcb}' \endif

SET client_min_messages = warning;
DROP SCHEMA IF EXISTS sim CASCADE;
CREATE SCHEMA sim;
SET search_path = sim, public;

-- Deterministic uniform in [0,1) and standard normal from a key.
CREATE FUNCTION u01(k text) RETURNS float8 LANGUAGE sql IMMUTABLE AS
$$ SELECT ((hashtextextended(k, 7) & 2147483647)::float8 + 0.5) / 2147483648.0 $$;
CREATE FUNCTION gauss(k text) RETURNS float8 LANGUAGE sql IMMUTABLE AS
$$ SELECT sqrt(-2 * ln(u01(k || 'a'))) * cos(2 * pi() * u01(k || 'b')) $$;

-- Latent reward direction w* (unit norm) and per-prompt contexts.
CREATE TABLE wstar AS
SELECT array_agg(v / norm ORDER BY j)::float8[] AS w
FROM (SELECT j, gauss('w' || j) AS v, sqrt(sum(gauss('w' || j) ^ 2) OVER ()) AS norm
      FROM generate_series(1, :dim) j) s;

-- 16 candidate "models" with qualities spread over [-1.5, 1.5].
CREATE TABLE cand AS
WITH base AS (
  SELECT p, k, (k - 8.5) / 5.0 AS quality
  FROM generate_series(1, :prompts + :heldout) p, generate_series(1, 16) k
)
SELECT p AS prompt, p * 100 + k AS id, p > :prompts AS heldout,
       array_agg((0.5 * gauss('c' || p || ':' || j) + gauss('x' || p || ':' || k || ':' || j)
                  + quality * 1.2 * (SELECT w[j] FROM wstar))::real ORDER BY j) AS x
FROM base, generate_series(1, :dim) j
GROUP BY p, k, quality;
-- True reward: the latent direction plus a mild nonlinearity the linear
-- heads cannot fully express.
ALTER TABLE cand ADD COLUMN r float8;
UPDATE cand c SET r = s.lin + 0.3 * sin(2 * s.lin)
FROM (SELECT id, sum(x[j] * w[j]) AS lin
      FROM cand, wstar, generate_series(1, :dim) j GROUP BY id) s
WHERE s.id = c.id;
-- Judge scores for the score-based baselines: true reward plus noise.
ALTER TABLE cand ADD COLUMN judge float8;
UPDATE cand SET judge = r + 0.7 * gauss('j' || id);
CREATE INDEX ON cand (prompt);
ANALYZE cand;

-- Held-out evaluation pairs: 8 random pairs per held-out prompt.
CREATE TABLE evalpairs AS
SELECT a.id AS a, b.id AS b, a.x AS xa, b.x AS xb, a.r > b.r AS a_better
FROM cand a JOIN cand b ON a.prompt = b.prompt AND a.id < b.id
WHERE a.heldout AND u01('e' || a.id || ':' || b.id) < 8.0 / 120;

CREATE TABLE labelled (rep int, method text, round int, chosen real[], rejected real[], chosen_id bigint);
CREATE TABLE results (rep int, method text, labels int, accuracy float8, regret float8, chosen_regret float8);

-- The judge: P(prefers the truly better) = sigmoid(2 * |gap|), so mistakes
-- concentrate where the true gap is small.
CREATE FUNCTION judge_prefers_first(ra float8, rb float8, k text) RETURNS bool
LANGUAGE sql IMMUTABLE AS
$$ SELECT u01(k) < 1 / (1 + exp(-2 * (ra - rb))) $$;

-- Quality of a model: held-out pairwise accuracy and best-of-16 regret.
CREATE FUNCTION evaluate(m hp.model, OUT accuracy float8, OUT regret float8) LANGUAGE sql AS $$
  SELECT (SELECT avg(((hp.prefer(m, xa, xb) > 0.5) = a_better)::int) FROM evalpairs),
         (SELECT avg(best - picked) FROM (
            SELECT max(r) AS best,
                   (array_agg(r ORDER BY hp.reward(m, x) DESC, id))[1] AS picked
            FROM cand WHERE heldout GROUP BY prompt) s)
$$;

-- One replicate of one method: rounds over the training prompts.
CREATE FUNCTION run(rep int, method text, arch text, batch int, nprompts int, beta float8) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  m hp.model;
  opts jsonb;
  nrounds int := nprompts / batch;
  q record;
BEGIN
  -- Round 0: an untrained ensemble (small random heads) to explore from.
  SELECT hp.linear_model(array_agg(row ORDER BY h)) INTO m
  FROM (SELECT h, array_agg((0.1 * gauss('init' || rep || ':' || h || ':' || j))::real ORDER BY j) AS row
        FROM generate_series(1, 8) h, generate_series(1, (SELECT array_length(x, 1) FROM cand LIMIT 1)) j
        GROUP BY h) s;
  opts := CASE WHEN arch = 'mlp'
               THEN '{"arch":"mlp","hidden":[64,64],"heads":8,"epochs":20,"lambda":1e-4}'::jsonb
               ELSE '{"heads":8,"lambda":1e-3}'::jsonb END;
  FOR rnd IN 1 .. nrounds LOOP
    -- Pick one pair per prompt of this round's batch.
    CREATE TEMP TABLE IF NOT EXISTS picked (prompt int, pr bigint[]);
    TRUNCATE picked;
    IF run.method IN ('ultrafeedback', 'maxmin') THEN
      INSERT INTO picked
      SELECT prompt, hp.select_pair_by_score(id, judge, run.method, run.rep)
      FROM cand WHERE NOT heldout AND prompt > (rnd - 1) * batch AND prompt <= rnd * batch
      GROUP BY prompt;
    ELSE
      INSERT INTO picked
      SELECT prompt, hp.select_pair(m, id, x, replace(run.method, '_model', ''), run.beta, run.rep)
      FROM cand WHERE NOT heldout AND prompt > (rnd - 1) * batch AND prompt <= rnd * batch
      GROUP BY prompt;
    END IF;
    -- The judge labels the pair.
    INSERT INTO labelled
    SELECT run.rep, run.method, rnd,
           CASE WHEN judge_prefers_first(a.r, b.r, 'l' || run.rep || run.method || a.id || ':' || b.id) THEN a.x ELSE b.x END,
           CASE WHEN judge_prefers_first(a.r, b.r, 'l' || run.rep || run.method || a.id || ':' || b.id) THEN b.x ELSE a.x END,
           CASE WHEN judge_prefers_first(a.r, b.r, 'l' || run.rep || run.method || a.id || ':' || b.id) THEN a.id ELSE b.id END
    FROM picked s
    JOIN cand a ON a.id = s.pr[1]
    JOIN cand b ON b.id = s.pr[2];

    -- Retrain on the replay buffer, warm-started from the previous model.
    SELECT hp.train_reward_model(chosen, rejected,
             (opts || jsonb_build_object('seed', run.rep * 1000 + rnd)) ||
             CASE WHEN rnd > 1 AND arch = 'linear' THEN jsonb_build_object('init', m::text)
                  ELSE '{}'::jsonb END)
      INTO m
    FROM labelled l WHERE l.rep = run.rep AND l.method = run.method;

    SELECT * INTO q FROM evaluate(m);
    -- DPO proxy: how far the labelled set's chosen responses are from each
    -- prompt's best (what a policy trained on the pairs is pulled toward).
    INSERT INTO results
    SELECT run.rep, run.method, rnd * batch, q.accuracy, q.regret, avg(best.r - c.r)
    FROM labelled l
    JOIN cand c ON c.id = l.chosen_id
    JOIN (SELECT prompt, max(r) AS r FROM cand GROUP BY prompt) best ON best.prompt = c.prompt
    WHERE l.rep = run.rep AND l.method = run.method;
  END LOOP;
END $$;

\timing on
SELECT run(rep, method, :'arch', :batch, :prompts, :beta)
FROM generate_series(1, :reps) rep,
     unnest(:'methods'::text[]) method;
\timing off

\echo
\echo '== held-out pairwise accuracy (mean over replicates) by number of labels =='
SELECT labels,
       round(avg(accuracy) FILTER (WHERE method = 'random')::numeric, 3) AS random,
       round(avg(accuracy) FILTER (WHERE method = 'ultrafeedback')::numeric, 3) AS ultrafb,
       round(avg(accuracy) FILTER (WHERE method = 'maxmin')::numeric, 3) AS maxmin,
       round(avg(accuracy) FILTER (WHERE method = 'infomax')::numeric, 3) AS infomax,
       round(avg(accuracy) FILTER (WHERE method = 'dts')::numeric, 3) AS dts,
       round(avg(accuracy) FILTER (WHERE method = 'drts')::numeric, 3) AS drts,
       round(avg(accuracy) FILTER (WHERE method = 'deltaucb')::numeric, 3) AS deltaucb,
       round(avg(accuracy) FILTER (WHERE method = 'maxminlcb')::numeric, 3) AS maxminlcb
FROM results GROUP BY labels ORDER BY labels;

\echo '== best-of-16 regret on held-out prompts (lower is better) =='
SELECT labels,
       round(avg(regret) FILTER (WHERE method = 'random')::numeric, 3) AS random,
       round(avg(regret) FILTER (WHERE method = 'ultrafeedback')::numeric, 3) AS ultrafb,
       round(avg(regret) FILTER (WHERE method = 'maxmin')::numeric, 3) AS maxmin,
       round(avg(regret) FILTER (WHERE method = 'infomax')::numeric, 3) AS infomax,
       round(avg(regret) FILTER (WHERE method = 'dts')::numeric, 3) AS dts,
       round(avg(regret) FILTER (WHERE method = 'drts')::numeric, 3) AS drts,
       round(avg(regret) FILTER (WHERE method = 'deltaucb')::numeric, 3) AS deltaucb,
       round(avg(regret) FILTER (WHERE method = 'maxminlcb')::numeric, 3) AS maxminlcb
FROM results GROUP BY labels ORDER BY labels;

\echo '== DPO proxy: regret of the labelled chosen responses (best in prompt - chosen) =='
SELECT method, round(avg(chosen_regret) FILTER (WHERE labels = (SELECT max(labels) FROM results))::numeric, 3) AS chosen_regret
FROM results GROUP BY method ORDER BY 2;

\echo '== labels each method needs to reach random''s final best-of-n regret =='
WITH curve AS (
  SELECT method, labels, avg(regret) AS regret FROM results GROUP BY method, labels
), target AS (
  SELECT regret AS goal, labels AS random_labels FROM curve
  WHERE method = 'random' AND labels = (SELECT max(labels) FROM results)
)
SELECT method,
       min(labels) FILTER (WHERE regret <= goal) AS labels_to_reach,
       max(random_labels) AS random_labels,
       round((min(labels) FILTER (WHERE regret <= goal))::numeric / max(random_labels), 2) AS fraction,
       round(min(regret)::numeric, 3) AS best_regret
FROM curve, target GROUP BY method ORDER BY fraction NULLS LAST, method;
