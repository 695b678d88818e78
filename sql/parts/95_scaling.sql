-- Scaling out: out-of-core and distributed training, pushdown-friendly statistics ----
--
-- Aggregates meant to scale keep a real state type (bytea) with a combine
-- function and no serial/deserial pair: the executor moves the state between
-- parallel workers as an ordinary datum, and Citus pushes such aggregates down
-- (workers run the transition over their shards, the coordinator combines),
-- which it never does for STYPE internal.  STYPE internal remains only where
-- the state is the training data itself and is not meant to travel:
-- hp.train_reward_model (every row, for the in-memory solver; the iterative
-- trainer below is its distributed path) and hp.select_pair /
-- hp.select_pair_by_score (every candidate of a prompt, which the selection
-- methods need together).

CREATE FUNCTION hp._newton_step_trans(bytea, real[], real[], hp.model, bigint, jsonb)
RETURNS bytea AS 'MODULE_PATHNAME', 'newton_step_trans'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION hp._newton_step_trans(bytea, real[], real[], float8, hp.model, bigint, jsonb)
RETURNS bytea AS 'MODULE_PATHNAME', 'newton_step_trans'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION hp._newton_step_combine(bytea, bytea)
RETURNS bytea AS 'MODULE_PATHNAME', 'newton_step_combine'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION hp._newton_step_final(bytea)
RETURNS bytea AS 'MODULE_PATHNAME', 'newton_step_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION hp._newton_step_trans(bytea, real[], real[], hp.model, bigint, jsonb) IS
'transition function of hp.bt_newton_step (chosen, rejected): buffers rows, folds them per block with dgemm and one dsyrk per head; updates the state in place inside an aggregate';
COMMENT ON FUNCTION hp._newton_step_trans(bytea, real[], real[], float8, hp.model, bigint, jsonb) IS
'transition function of hp.bt_newton_step (a, b, p_a)';
COMMENT ON FUNCTION hp._newton_step_combine(bytea, bytea) IS
'combine function of hp.bt_newton_step: element-wise sums (states evaluated at different weights or options are refused)';
COMMENT ON FUNCTION hp._newton_step_final(bytea) IS
'final function of hp.bt_newton_step: the state with its buffered rows folded in (a copy; the state is not modified)';

CREATE AGGREGATE hp.bt_newton_step(chosen real[], rejected real[], w hp.model, row_key bigint, options jsonb) (
	SFUNC = hp._newton_step_trans, STYPE = bytea,
	COMBINEFUNC = hp._newton_step_combine,
	FINALFUNC = hp._newton_step_final, PARALLEL = SAFE
);
CREATE AGGREGATE hp.bt_newton_step(a real[], b real[], p_a float8, w hp.model, row_key bigint, options jsonb) (
	SFUNC = hp._newton_step_trans, STYPE = bytea,
	COMBINEFUNC = hp._newton_step_combine,
	FINALFUNC = hp._newton_step_final, PARALLEL = SAFE
);

COMMENT ON AGGREGATE hp.bt_newton_step(real[], real[], hp.model, bigint, jsonb) IS
$$One pass of out-of-core Bradley-Terry training: at the weights of w (a linear model with the heads the
options ask for, and a "center" head when heads > 1; NULL = all zeros), per solved head h the sums
S_h = sum c_ih, L_h = sum c_ih l(w_h.x_i; p_i), G_h = sum c_ih (s_ih - p_i) x_i, the gradient at zero, and the
Hessian K_h = sum c_ih s_ih (1 - s_ih) x_i x_i^T, with x = chosen - rejected, s = sigmoid(w_h.x) and the
bootstrap weights c_ih of hp.train_reward_model: Poisson(1) from the row key and the seed, 1 for the center
head.  The row key is hp_mix64(row_key), or the row's content hash (as hp.train_reward_model's) when
row_key is NULL.  Returns a versioned bytea read by hp.train_reward_model_iterative.  options are the
training options (read from the first row); rows with a NULL vector are skipped; w must be the same in
every row.  State: (heads + 1) x dim^2 doubles for an ensemble, dim^2 for one head (8 MB per head at
dim 1024, 32 MB at 2048); dimensions above 2048 or states above 1000 MB are refused (54000).
O(heads x dim^2) time per row, in blocked dsyrk.$$;
COMMENT ON AGGREGATE hp.bt_newton_step(real[], real[], float8, hp.model, bigint, jsonb) IS
'hp.bt_newton_step on soft labels: p_a is the probability that a is preferred (0.5 for a tie)';

CREATE FUNCTION hp.bt_newton_step_info(state bytea)
RETURNS jsonb AS 'MODULE_PATHNAME', 'newton_step_info'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION hp.bt_newton_step_info(bytea) IS
$$Summary of a hp.bt_newton_step result, for inspection: dim, heads, center (true when an extra center head
is solved), rows, seed, state_bytes, and per solved head (center first) weight_sum (S), loss_sum (L),
gradient_norm (|G|, the data gradient sum) and hessian_trace (tr K).$$;

CREATE FUNCTION hp.train_reward_model_iterative(relation regclass, chosen name, rejected name,
                                                options jsonb DEFAULT '{}', row_key name DEFAULT NULL)
RETURNS hp.model AS 'MODULE_PATHNAME', 'train_iterative'
LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED;

COMMENT ON FUNCTION hp.train_reward_model_iterative(regclass, name, name, jsonb, name) IS
$$Bradley-Terry reward model trained out of core: the objective, options and result of
hp.train_reward_model (linear heads, bootstrap weights, prior anchors, center head, Laplace), solved by
exact Newton steps, one pass SELECT hp.bt_newton_step(...) FROM relation per step, so only O(heads x dim^2)
is held, whatever the table size, and on a Citus table only the aggregate states cross nodes.  Each step
solves (K_h / S_h + lambda I) d = -g_h by Cholesky (dposv) per head; a head whose next pass shows too little
decrease (Armijo) halves its step and is evaluated again.  Stops when every head's gradient norm is at most
tol times its norm at w = 0, or after 1 + max_iter passes (with a WARNING).  row_key names a column cast to
bigint that keys the bootstrap weights; NULL keys rows by content, as hp.train_reward_model does, so that
both train the same model.  "init" warm-starts.  A NOTICE reports each pass.  Every pass reads the caller's
snapshot; the relation may be a view.  Identifiers are quoted.  NULL for a relation without rows.$$;

-- Held-out evaluation ------------------------------------------------------------------

CREATE FUNCTION hp._eval_metrics_trans(bytea, hp.model, real[], real[], float8)
RETURNS bytea AS 'MODULE_PATHNAME', 'eval_metrics_trans'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION hp._eval_metrics_trans(bytea, hp.model, real[], real[])
RETURNS bytea AS 'MODULE_PATHNAME', 'eval_metrics_trans'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION hp._eval_metrics_combine(bytea, bytea)
RETURNS bytea AS 'MODULE_PATHNAME', 'eval_metrics_combine'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION hp._eval_metrics_final(bytea)
RETURNS jsonb AS 'MODULE_PATHNAME', 'eval_metrics_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION hp._eval_metrics_trans(bytea, hp.model, real[], real[], float8) IS
'transition function of hp.eval_metrics (a, b, p_a): scores the pair with the cached model, updates counts and sums in place';
COMMENT ON FUNCTION hp._eval_metrics_trans(bytea, hp.model, real[], real[]) IS
'transition function of hp.eval_metrics (chosen, rejected)';
COMMENT ON FUNCTION hp._eval_metrics_combine(bytea, bytea) IS
'combine function of hp.eval_metrics: sums of counts';
COMMENT ON FUNCTION hp._eval_metrics_final(bytea) IS
'final function of hp.eval_metrics: the metrics as jsonb';

CREATE AGGREGATE hp.eval_metrics(m hp.model, a real[], b real[], p_a float8) (
	SFUNC = hp._eval_metrics_trans, STYPE = bytea,
	COMBINEFUNC = hp._eval_metrics_combine,
	FINALFUNC = hp._eval_metrics_final, PARALLEL = SAFE
);
CREATE AGGREGATE hp.eval_metrics(m hp.model, chosen real[], rejected real[]) (
	SFUNC = hp._eval_metrics_trans, STYPE = bytea,
	COMBINEFUNC = hp._eval_metrics_combine,
	FINALFUNC = hp._eval_metrics_final, PARALLEL = SAFE
);

COMMENT ON AGGREGATE hp.eval_metrics(hp.model, real[], real[], float8) IS
$$Held-out evaluation of a reward model on pairs (a, b) labelled p_a = P(a preferred) (1, 0, 0.5 for a
tie, or soft), with q = hp.prefer(m, a, b).  Returns jsonb: n; n_ties (rows with p_a = 0.5); accuracy
over the other rows (winner a when p_a > 0.5; predicted a when q > 0.5, b when q < 0.5, q = 0.5 counts
half; null without such rows); log_loss = mean -(p ln q + (1 - p) ln(1 - q)), q clipped to
[1e-15, 1 - 1e-15]; brier = mean (q - p)^2; ece = sum_k n_k / n |mean_pred_k - mean_obs_k| over 10
equal-width bins of q; calibration = per bin {bin, lo, hi, n, mean_pred, mean_obs} (means null when
empty).  Rows with a NULL vector or label are skipped (NULL over no rows); a NULL model is an error.
Fixed-size state (296 bytes); the model is decoded once per query.$$;
COMMENT ON AGGREGATE hp.eval_metrics(hp.model, real[], real[]) IS
'hp.eval_metrics on (chosen, rejected) pairs: p_a = 1 for every row';
