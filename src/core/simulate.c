/*
 * simulate.c: candidate routings, their proxy reward models and held-out
 * scores (Hybrid Preferences, issue 4).
 *
 * The difference vectors are built once by the caller; a candidate changes
 * only the label vector (human label where routed, LLM label elsewhere),
 * so the loop here is: sample a mask, assemble labels, train one linear
 * Bradley-Terry head with hp_bt_train, score it with one gemv over the
 * held-out differences.  Every random draw comes from a generator seeded by
 * (seed, budget index, sampler, candidate index), so a candidate's routing
 * does not depend on how many other candidates are asked for.
 */
#include "hp_simulate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hp_blas.h"
#include "hp_model.h"
#include "hp_train.h"

/* About 64 MB of float data per held-out block: bounds cancel latency. */
#define BLOCK_FLOATS (16 * 1024 * 1024)

/* Derive a candidate's generator from the seed and its coordinates. */
void
hp_sim_candidate_rng(HpRng *r, int64_t seed, int budget_index, HpSampler sampler, int index)
{
	uint64_t	h = hp_mix64((uint64_t) seed ^ 0x53494d554c415445ULL);	/* "SIMULATE" */

	h = hp_mix64(h ^ (uint64_t) (uint32_t) budget_index);
	h = hp_mix64(h ^ ((uint64_t) sampler + 0x100));
	h = hp_mix64(h ^ (uint64_t) (uint32_t) index);
	hp_rng_seed(r, h);
}

/* round(budget * n), clamped to [0, n]. */
int64_t
hp_sim_budget_count(double budget, int64_t n)
{
	double		k = floor(budget * (double) n + 0.5);

	if (!(k > 0))
		return 0;
	if (k >= (double) n)
		return n;
	return (int64_t) k;
}

/* Rows of each feature, by counting sort over the per-row lists. */
void
hp_sim_invert(const HpSimData *d, int64_t **inv_off, int32_t **inv_rows)
{
	int64_t    *off = hp_alloc0(sizeof(int64_t) * ((size_t) d->nvocab + 1));
	int64_t    *pos = hp_alloc(sizeof(int64_t) * ((size_t) d->nvocab + 1));
	int64_t		total = d->feat_off[d->n] - d->feat_off[0];
	int32_t    *rows = hp_alloc(sizeof(int32_t) * (size_t) (total > 0 ? total : 1));

	for (int64_t k = d->feat_off[0]; k < d->feat_off[d->n]; k++)
		off[d->feat[k] + 1]++;
	for (int j = 0; j < d->nvocab; j++)
		off[j + 1] += off[j];
	memcpy(pos, off, sizeof(int64_t) * ((size_t) d->nvocab + 1));
	/* Rows are visited in order, so each list comes out ascending. */
	for (int64_t i = 0; i < d->n; i++)
		for (int64_t k = d->feat_off[i]; k < d->feat_off[i + 1]; k++)
			rows[pos[d->feat[k]]++] = (int32_t) i;
	hp_free(pos);
	*inv_off = off;
	*inv_rows = rows;
}

/* Route `need` of the c rows in cand (chosen by a partial shuffle). */
static void
PickSome(int32_t *cand, int64_t c, int64_t need, HpRng *r, uint8_t *mask)
{
	for (int64_t i = 0; i < need; i++)
	{
		int64_t		j = i + (int64_t) hp_rng_below(r, (uint64_t) (c - i));
		int32_t		t = cand[i];

		cand[i] = cand[j];
		cand[j] = t;
		mask[cand[i]] = 1;
	}
}

/* Uniform sampler: a partial Fisher-Yates shuffle of the row indices. */
void
hp_sample_uniform(int64_t n, int64_t k, HpRng *r, uint8_t *mask)
{
	int32_t    *perm;

	memset(mask, 0, (size_t) n);
	if (k <= 0)
		return;
	if (k >= n)
	{
		memset(mask, 1, (size_t) n);
		return;
	}
	perm = hp_alloc(sizeof(int32_t) * (size_t) n);
	for (int64_t i = 0; i < n; i++)
		perm[i] = (int32_t) i;
	PickSome(perm, n, k, r, mask);
	hp_free(perm);
}

/* Feature sampler; see hp_simulate.h. */
void
hp_sample_feature(int64_t n, int nvocab, const int64_t *inv_off, const int32_t *inv_rows,
				  int64_t k, HpRng *r, uint8_t *mask)
{
	int32_t    *order,
			   *cand;
	int64_t		routed = 0,
				c;

	memset(mask, 0, (size_t) n);
	if (k <= 0)
		return;
	if (k >= n)
	{
		memset(mask, 1, (size_t) n);
		return;
	}
	order = hp_alloc(sizeof(int32_t) * (size_t) (nvocab > 0 ? nvocab : 1));
	cand = hp_alloc(sizeof(int32_t) * (size_t) n);
	for (int j = 0; j < nvocab; j++)
		order[j] = j;
	/* Full shuffle of the features: the order they are taken in. */
	for (int j = nvocab - 1; j > 0; j--)
	{
		int			i = (int) hp_rng_below(r, (uint64_t) j + 1);
		int32_t		t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (int q = 0; q < nvocab && routed < k; q++)
	{
		int			f = order[q];

		c = 0;
		for (int64_t e = inv_off[f]; e < inv_off[f + 1]; e++)
			if (!mask[inv_rows[e]])
				cand[c++] = inv_rows[e];
		if (routed + c <= k)
		{
			/* The whole feature fits: route all its remaining instances. */
			for (int64_t e = 0; e < c; e++)
				mask[cand[e]] = 1;
			routed += c;
		}
		else
		{
			/* The last feature: its instances in random order up to k. */
			PickSome(cand, c, k - routed, r, mask);
			routed = k;
		}
	}
	if (routed < k)
	{
		/* Only instances without features are left: fill uniformly. */
		c = 0;
		for (int64_t i = 0; i < n; i++)
			if (!mask[i])
				cand[c++] = (int32_t) i;
		PickSome(cand, c, k - routed, r, mask);
	}
	hp_free(order);
	hp_free(cand);
}

/* log(1 + e^t) without overflow. */
static inline double
Softplus(double t)
{
	return t > 0 ? t + log1p(exp(-t)) : log1p(exp(t));
}

/* Held-out accuracy and log-loss; see hp_simulate.h. */
int64_t
hp_sim_heldout_score(const float *Xh, const double *t, int64_t m, int dim,
					 const float *w, double *accuracy, double *log_loss)
{
	float	   *z = hp_alloc(sizeof(float) * (size_t) m);
	int64_t		block = BLOCK_FLOATS / dim > 0 ? BLOCK_FLOATS / dim : 1;
	double		correct = 0.0,
				ll = 0.0;
	int64_t		decided = 0,
				labelled = 0;

	for (int64_t r0 = 0; r0 < m; r0 += block)
	{
		int			rows = (int) (m - r0 < block ? m - r0 : block);

		hp_blas.sgemv(CblasRowMajor, CblasNoTrans, rows, dim, 1.0f, Xh + r0 * dim, dim,
					  w, 1, 0.0f, z + r0, 1);
		hp_check_interrupts();
	}
	for (int64_t i = 0; i < m; i++)
	{
		double		ti = t[i],
					zi = z[i];

		if (isnan(ti))
			continue;
		ll += Softplus(-zi) + (1.0 - ti) * zi;
		labelled++;
		if (ti == 0.5)
			continue;
		decided++;
		if (zi == 0.0)
			correct += 0.5;		/* the model has no preference: a coin flip */
		else if ((zi > 0.0) == (ti > 0.5))
			correct += 1.0;
	}
	hp_free(z);
	*accuracy = decided > 0 ? correct / (double) decided : NAN;
	*log_loss = labelled > 0 ? ll / (double) labelled : NAN;
	return decided;
}

/* Working state of one simulation. */
typedef struct Sim
{
	const HpSimData *d;
	HpTrainOptions topt;
	float	   *p;				/* n labels of the current candidate */
	float	   *Xs;				/* compacted rows when labels are missing */
	uint64_t   *key;			/* row keys (ensembles only) */
	float	   *w;				/* dim: weights of the last fit */
	float	   *w0;				/* dim: warm start */
	float	   *ref[2];			/* all-LLM and all-human fits (warm start) */
	bool		cached[2];		/* results for k = 0 and k = N are known */
	double		cache_acc[2],
				cache_ll[2];
	int64_t		cache_ntrain[2];
} Sim;

/*
 * Train the proxy model on the labels a mask selects (from w0 when not
 * NULL) and score it.  Rows whose chosen label is missing are left out.
 */
static HpStatus
FitAndScore(Sim *s, const uint8_t *mask, const float *w0, int64_t *n_train,
			double *acc, double *ll, HpError *err)
{
	const HpSimData *d = s->d;
	int64_t		nt = 0;
	bool		all = true;
	HpStatus	st = HP_OK;

	for (int64_t i = 0; i < d->n && all; i++)
		all = !isnan(mask[i] ? d->human[i] : d->llm[i]);
	for (int64_t i = 0; i < d->n; i++)
	{
		double		y = mask[i] ? d->human[i] : d->llm[i];

		if (isnan(y))
			continue;
		if (!all)
		{
			/* Missing labels: train on a compacted copy of the other rows. */
			if (s->Xs == NULL)
				s->Xs = hp_alloc(sizeof(float) * (size_t) d->n * d->dim);
			memcpy(s->Xs + nt * d->dim, d->X + i * d->dim, sizeof(float) * d->dim);
		}
		s->p[nt++] = (float) y;
	}
	*n_train = nt;
	if (nt == 0)
	{
		/* Nothing to learn from: the regularised optimum is w = 0. */
		memset(s->w, 0, sizeof(float) * d->dim);
	}
	else
	{
		HpTrainSet	ts;
		HpModel		model,
					init;
		const HpTensor *wt;

		ts.n = nt;
		ts.dim = d->dim;
		ts.X = all ? d->X : s->Xs;
		ts.p = s->p;
		ts.key = NULL;
		if (s->topt.heads > 1)
		{
			for (int64_t i = 0; i < nt; i++)
				s->key[i] = hp_row_key(ts.X + i * d->dim, d->dim, s->p[i]);
			ts.key = s->key;
		}
		memset(&init, 0, sizeof(init));
		if (w0)
		{
			init.kind = HP_KIND_LINEAR;
			init.dim = (uint32_t) d->dim;
			init.heads = 1;
			hp_model_add_tensor(&init, "w", HP_F32, 1, (uint32_t) d->dim, w0);
		}
		st = hp_bt_train(&ts, &s->topt, NULL, w0 ? &init : NULL, &model, err);
		if (w0)
			hp_model_free(&init);
		if (st != HP_OK)
			return st;
		/* The reward head: the center of an ensemble, else the only head. */
		wt = hp_model_tensor(&model, "center");
		if (wt == NULL)
			wt = hp_model_tensor(&model, "w");
		memcpy(s->w, wt->data, sizeof(float) * d->dim);
		hp_model_free(&model);
	}
	hp_sim_heldout_score(d->Xh, d->trusted, d->m, d->dim, s->w, acc, ll);
	return HP_OK;
}

/* Name of a sampler for messages. */
static const char *
SamplerName(HpSampler s)
{
	return s == HP_SAMPLER_FEATURE ? "feature" : "uniform";
}

/* Validate the inputs of hp_simulate. */
static HpStatus
CheckInputs(const HpSimData *d, const HpSimOptions *o, HpError *err)
{
	int64_t		decided = 0;

	if (d->n < 1)
		return hp_error(err, HP_EDATA, "the training relation has no rows");
	if (d->m < 1)
		return hp_error(err, HP_EDATA, "the held-out relation has no rows");
	if (d->n > INT32_MAX || d->m > INT32_MAX)
		return hp_error(err, HP_ELIMIT, "more than %d rows", INT32_MAX);
	if (d->dim < 1 || d->dim > HP_MAX_DIM)
		return hp_error(err, HP_ELIMIT, "dimension %d is outside 1..%d", d->dim, HP_MAX_DIM);
	if (o->nbudgets < 1)
		return hp_error(err, HP_EINVAL, "budgets must not be empty");
	for (int b = 0; b < o->nbudgets; b++)
		if (!(o->budgets[b] >= 0.0 && o->budgets[b] <= 1.0))
			return hp_error(err, HP_EINVAL, "budget %g is outside [0, 1]", o->budgets[b]);
	if (o->per_budget < 1 || o->per_budget > HP_SIM_MAX_PER_BUDGET)
		return hp_error(err, HP_EINVAL, "per_budget must be between 1 and %d", HP_SIM_MAX_PER_BUDGET);
	if (o->nsamplers < 1)
		return hp_error(err, HP_EINVAL, "samplers must not be empty");
	if ((int64_t) o->nbudgets * o->nsamplers * o->per_budget > HP_SIM_MAX_CANDIDATES)
		return hp_error(err, HP_ELIMIT, "more than %d candidates", HP_SIM_MAX_CANDIDATES);
	if (o->train.arch != HP_KIND_LINEAR)
		return hp_error(err, HP_EINVAL, "the proxy reward model must be linear (option \"arch\")");
	for (int64_t i = 0; i < d->n; i++)
		if (!(isnan(d->human[i]) || (d->human[i] >= 0.0 && d->human[i] <= 1.0)) ||
			!(isnan(d->llm[i]) || (d->llm[i] >= 0.0 && d->llm[i] <= 1.0)))
			return hp_error(err, HP_EINVAL, "training labels must be between 0 and 1");
	for (int64_t i = 0; i < d->m; i++)
	{
		if (isnan(d->trusted[i]))
			continue;
		if (!(d->trusted[i] >= 0.0 && d->trusted[i] <= 1.0))
			return hp_error(err, HP_EINVAL, "trusted labels must be between 0 and 1");
		decided += d->trusted[i] != 0.5;
	}
	if (decided == 0)
	{
		hp_error(err, HP_EDATA, "the held-out relation has no trusted labels to score against");
		hp_error_detail(err, "Accuracy needs trusted labels other than NULL and ties (0.5).");
		return HP_EDATA;
	}
	return HP_OK;
}

/* Fit (or recall) the all-LLM (which = 0) or all-human (which = 1) routing. */
static HpStatus
Degenerate(Sim *s, int which, uint8_t *mask, HpError *err)
{
	HpStatus	st;

	if (s->cached[which])
		return HP_OK;
	memset(mask, which, (size_t) s->d->n);
	st = FitAndScore(s, mask, NULL, &s->cache_ntrain[which], &s->cache_acc[which],
					 &s->cache_ll[which], err);
	if (st != HP_OK)
		return st;
	s->cached[which] = true;
	if (s->ref[which])
		memcpy(s->ref[which], s->w, sizeof(float) * s->d->dim);
	return HP_OK;
}

/* See hp_simulate.h. */
HpStatus
hp_simulate(const HpSimData *d, const HpSimOptions *o, HpError *err)
{
	Sim			s;
	uint8_t    *mask = NULL;
	double	   *counts = NULL;
	int32_t    *routed = NULL,
			   *inv_rows = NULL;
	int64_t    *inv_off = NULL;
	int			cand = 0;
	HpStatus	st;

	if ((st = CheckInputs(d, o, err)) != HP_OK)
		return st;
	memset(&s, 0, sizeof(s));
	s.d = d;
	s.topt = o->train;
	s.p = hp_alloc(sizeof(float) * (size_t) d->n);
	s.w = hp_alloc0(sizeof(float) * d->dim);
	s.w0 = hp_alloc(sizeof(float) * d->dim);
	if (s.topt.heads > 1)
		s.key = hp_alloc(sizeof(uint64_t) * (size_t) d->n);
	mask = hp_alloc((size_t) d->n);
	counts = hp_alloc(sizeof(double) * (size_t) (d->nvocab > 0 ? d->nvocab : 1));
	routed = hp_alloc(sizeof(int32_t) * (size_t) d->n);
	hp_sim_invert(d, &inv_off, &inv_rows);

	if (o->warm_start)
	{
		/*
		 * Candidates at budget b start from (1 - b) w_llm + b w_human: the
		 * fits of the two extreme routings, which are also the results of
		 * every k = 0 and k = N candidate.
		 */
		for (int which = 0; which < 2; which++)
		{
			s.ref[which] = hp_alloc(sizeof(float) * d->dim);
			if ((st = Degenerate(&s, which, mask, err)) != HP_OK)
				goto done;
		}
	}

	for (int b = 0; b < o->nbudgets; b++)
	{
		double		budget = o->budgets[b];
		int64_t		k = hp_sim_budget_count(budget, d->n);

		if (o->warm_start)
			for (int j = 0; j < d->dim; j++)
				s.w0[j] = (float) ((1.0 - budget) * s.ref[0][j] + budget * s.ref[1][j]);
		for (int si = 0; si < o->nsamplers; si++)
			for (int c = 0; c < o->per_budget; c++)
			{
				HpSimCandidate out;
				HpRng		r;
				int64_t		nr = 0;

				hp_check_interrupts();
				hp_sim_candidate_rng(&r, o->seed, b, o->samplers[si], c);
				if (o->samplers[si] == HP_SAMPLER_FEATURE)
					hp_sample_feature(d->n, d->nvocab, inv_off, inv_rows, k, &r, mask);
				else
					hp_sample_uniform(d->n, k, &r, mask);

				memset(&out, 0, sizeof(out));
				out.candidate = ++cand;
				out.budget_index = b;
				out.budget = budget;
				out.sampler = o->samplers[si];
				if (k == 0 || k == d->n)
				{
					/* Every such routing is the same: train it once. */
					int			which = k == d->n ? 1 : 0;

					if ((st = Degenerate(&s, which, mask, err)) != HP_OK)
						goto failed;
					out.n_train = s.cache_ntrain[which];
					out.accuracy = s.cache_acc[which];
					out.log_loss = s.cache_ll[which];
				}
				else if ((st = FitAndScore(&s, mask, o->warm_start ? s.w0 : NULL, &out.n_train,
										   &out.accuracy, &out.log_loss, err)) != HP_OK)
					goto failed;

				memset(counts, 0, sizeof(double) * (size_t) d->nvocab);
				for (int64_t i = 0; i < d->n; i++)
					if (mask[i])
					{
						routed[nr++] = (int32_t) i;
						for (int64_t e = d->feat_off[i]; e < d->feat_off[i + 1]; e++)
							counts[d->feat[e]] += 1.0;
					}
				out.n_human = nr;
				out.counts = counts;
				out.routed = routed;
				o->emit(o->arg, &out);
				continue;

		failed:
				if (!err->detail[0])
					hp_error_detail(err, "While training candidate %d (budget %g, sampler %s).",
									cand, budget, SamplerName(o->samplers[si]));
				goto done;
			}
	}
	st = HP_OK;

done:
	hp_free(s.p);
	hp_free(s.w);
	hp_free(s.w0);
	hp_free(s.key);
	hp_free(s.Xs);
	hp_free(s.ref[0]);
	hp_free(s.ref[1]);
	hp_free(mask);
	hp_free(counts);
	hp_free(routed);
	hp_free(inv_off);
	hp_free(inv_rows);
	return st;
}

/* Hash of a name for the intern table. */
static uint64_t
NameHash(const char *s, size_t len)
{
	return hp_mix64(hp_fnv1a64(s, len, HP_FNV_OFFSET));
}

/* Start an empty vocabulary. */
void
hp_vocab_init(HpVocab *v)
{
	memset(v, 0, sizeof(*v));
	v->cap = 64;
	v->slots = hp_alloc(sizeof(int32_t) * v->cap);
	memset(v->slots, 0xff, sizeof(int32_t) * v->cap);
	v->names_cap = 16;
	v->names = hp_alloc(sizeof(char *) * v->names_cap);
	v->hashes = hp_alloc(sizeof(uint64_t) * v->names_cap);
}

/* Rebuild the open-addressing table at capacity cap. */
static void
Rehash(HpVocab *v, int64_t cap)
{
	hp_free(v->slots);
	v->cap = cap;
	v->slots = hp_alloc(sizeof(int32_t) * cap);
	memset(v->slots, 0xff, sizeof(int32_t) * cap);
	for (int32_t id = 0; id < v->n; id++)
	{
		int64_t		i = (int64_t) (v->hashes[id] & (uint64_t) (cap - 1));

		while (v->slots[i] >= 0)
			i = (i + 1) & (cap - 1);
		v->slots[i] = id;
	}
}

/* Intern a name; see hp_simulate.h. */
int32_t
hp_vocab_add(HpVocab *v, const char *s, size_t len)
{
	uint64_t	h = NameHash(s, len);
	int64_t		i = (int64_t) (h & (uint64_t) (v->cap - 1));
	char	   *copy;

	for (; v->slots[i] >= 0; i = (i + 1) & (v->cap - 1))
	{
		int32_t		id = v->slots[i];

		if (v->hashes[id] == h && memcmp(v->names[id], s, len) == 0 && v->names[id][len] == '\0')
			return id;
	}
	if (v->n == v->names_cap)
	{
		char	  **names = hp_alloc(sizeof(char *) * v->names_cap * 2);
		uint64_t   *hashes = hp_alloc(sizeof(uint64_t) * v->names_cap * 2);

		memcpy(names, v->names, sizeof(char *) * v->n);
		memcpy(hashes, v->hashes, sizeof(uint64_t) * v->n);
		hp_free(v->names);
		hp_free(v->hashes);
		v->names = names;
		v->hashes = hashes;
		v->names_cap *= 2;
	}
	copy = hp_alloc(len + 1);
	memcpy(copy, s, len);
	copy[len] = '\0';
	v->names[v->n] = copy;
	v->hashes[v->n] = h;
	v->slots[i] = v->n;
	v->n++;
	/* Keep the load factor under one half so probes stay short. */
	if ((int64_t) v->n * 2 > v->cap)
		Rehash(v, v->cap * 2);
	return v->n - 1;
}

/* qsort order of name pointers: bytewise, like COLLATE "C". */
static int
CompareNames(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Sort the names; see hp_simulate.h. */
void
hp_vocab_sort(HpVocab *v, int32_t *remap)
{
	char	  **sorted = hp_alloc(sizeof(char *) * (v->n > 0 ? v->n : 1));

	memcpy(sorted, v->names, sizeof(char *) * v->n);
	qsort(sorted, (size_t) v->n, sizeof(char *), CompareNames);
	/* Find each name's provisional id through the table (names are unique). */
	for (int32_t pos = 0; pos < v->n; pos++)
	{
		size_t		len = strlen(sorted[pos]);
		uint64_t	h = NameHash(sorted[pos], len);
		int64_t		i = (int64_t) (h & (uint64_t) (v->cap - 1));

		while (v->names[v->slots[i]] != sorted[pos])
			i = (i + 1) & (v->cap - 1);
		remap[v->slots[i]] = pos;
	}
	for (int32_t pos = 0; pos < v->n; pos++)
	{
		v->names[pos] = sorted[pos];
		v->hashes[pos] = NameHash(sorted[pos], strlen(sorted[pos]));
	}
	hp_free(sorted);
	Rehash(v, v->cap);
}

/* Release a vocabulary. */
void
hp_vocab_free(HpVocab *v)
{
	for (int32_t i = 0; i < v->n; i++)
		hp_free(v->names[i]);
	hp_free(v->names);
	hp_free(v->hashes);
	hp_free(v->slots);
	memset(v, 0, sizeof(*v));
}

/* qsort order of int32 ids. */
static int
CompareIds(const void *a, const void *b)
{
	int32_t		x = *(const int32_t *) a,
				y = *(const int32_t *) b;

	return (x > y) - (x < y);
}

/* Remap, sort and deduplicate each row's ids in place. */
void
hp_sim_remap_features(int64_t n, int64_t *off, int32_t *feat, const int32_t *remap)
{
	int64_t		w = 0,
				s = off[0];

	for (int64_t i = 0; i < n; i++)
	{
		int64_t		e = off[i + 1],
					b = w,
					u;

		/* w never passes s, so the forward copy is safe in place. */
		for (int64_t k = s; k < e; k++)
			feat[w++] = remap[feat[k]];
		qsort(feat + b, (size_t) (w - b), sizeof(int32_t), CompareIds);
		u = b;
		for (int64_t k = b; k < w; k++)
			if (k == b || feat[k] != feat[u - 1])
				feat[u++] = feat[k];
		w = u;
		off[i] = b;
		s = e;
	}
	off[n] = w;
}
