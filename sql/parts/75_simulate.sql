-- Candidate routings for the PPM (Hybrid Preferences) -------------------------

CREATE FUNCTION hp.simulate_routings(
	train regclass,
	heldout regclass,
	budgets float8[] DEFAULT '{0,0.1,0.25,0.5,0.75,1}',
	per_budget int DEFAULT 10,
	options jsonb DEFAULT '{}',
	id_col name DEFAULT 'id',
	a_col name DEFAULT 'a_emb',
	b_col name DEFAULT 'b_emb',
	human_col name DEFAULT 'human_label',
	llm_col name DEFAULT 'llm_label',
	features_col name DEFAULT 'features',
	heldout_a_col name DEFAULT 'a_emb',
	heldout_b_col name DEFAULT 'b_emb',
	trusted_col name DEFAULT 'trusted_label',
	seed bigint DEFAULT 0,
	samplers text[] DEFAULT '{feature,uniform}',
	with_ids boolean DEFAULT false)
RETURNS TABLE(candidate int, budget float8, sampler text, n_human int, counts float8[],
              vocab text[], n int, score float8, log_loss float8, n_train int, human_ids text[])
AS 'MODULE_PATHNAME', 'simulate_routings'
-- STABLE: reads tables, writes nothing.  PARALLEL RESTRICTED: the relations
-- it reads may be temporary tables, which parallel workers cannot see.
LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL RESTRICTED ROWS 120;

COMMENT ON FUNCTION hp.simulate_routings(regclass, regclass, float8[], int, jsonb, name, name, name, name, name, name, name, name, name, bigint, text[], boolean) IS
'candidate human/LLM routings at each budget (samplers feature and uniform), each scored by the held-out accuracy of a linear Bradley-Terry proxy trained on its hybrid labels: the training data of hp.train_ppm';
