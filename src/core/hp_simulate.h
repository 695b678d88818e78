/*
 * hp_simulate.h: candidate routings for Hybrid Preferences (issue 4).
 *
 * A routing sends some training instances to humans and the rest to the LLM
 * judge.  hp_simulate samples candidate routings at given budgets, trains a
 * linear Bradley-Terry proxy reward model on each candidate's hybrid labels
 * (human label where routed, LLM label elsewhere) and scores it on a
 * held-out set with trusted labels.  The (count vector, score) pairs it
 * produces are the training data of a performance prediction model (PPM).
 *
 * The data is read once; per candidate only the label vector (and, with
 * missing labels, the row subset) changes.  See docs/routing-contract.md
 * for the vocabulary and count-vector conventions.
 */
#ifndef HP_SIMULATE_H
#define HP_SIMULATE_H

#include "hp_core.h"
#include "hp_options.h"
#include "hp_rng.h"

/* Candidate samplers; the value is part of each candidate's seed. */
typedef enum HpSampler
{
	HP_SAMPLER_FEATURE = 0,		/* whole features at a time (the paper's) */
	HP_SAMPLER_UNIFORM = 1		/* k instances uniformly at random */
} HpSampler;

#define HP_SIM_MAX_PER_BUDGET 100000
#define HP_SIM_MAX_CANDIDATES 1000000

/* The training and held-out data, training rows in id order. */
typedef struct HpSimData
{
	int64_t		n;				/* training rows N */
	int			dim;
	const float *X;				/* n x dim differences a - b, row-major */
	const double *human;		/* n human labels in [0,1]; NaN = missing */
	const double *llm;			/* n LLM labels in [0,1]; NaN = missing */
	int			nvocab;			/* vocabulary size K */
	const int64_t *feat_off;	/* n + 1 offsets into feat */
	const int32_t *feat;		/* per row: distinct vocabulary indices */
	int64_t		m;				/* held-out rows */
	const float *Xh;			/* m x dim differences a - b */
	const double *trusted;		/* m trusted labels; NaN = missing */
} HpSimData;

/* One candidate's result, handed to the emit callback. */
typedef struct HpSimCandidate
{
	int			candidate;		/* 1-based, in output order */
	int			budget_index;	/* index into the budgets array */
	double		budget;
	HpSampler	sampler;
	int64_t		n_human;		/* instances routed to humans: round(budget N) */
	const double *counts;		/* K: routed instances carrying each feature */
	int64_t		n_train;		/* rows whose chosen label is not missing */
	double		accuracy;		/* held-out pairwise accuracy */
	double		log_loss;		/* held-out mean log-loss (soft labels) */
	const int32_t *routed;		/* n_human routed row indices, ascending */
} HpSimCandidate;

typedef struct HpSimOptions
{
	const double *budgets;		/* fractions in [0,1] */
	int			nbudgets;
	int			per_budget;		/* candidates per budget and sampler */
	const HpSampler *samplers;
	int			nsamplers;
	int64_t		seed;
	HpTrainOptions train;		/* proxy model options (arch linear) */
	bool		warm_start;		/* start each fit from interpolated references */
	/* Called once per candidate in output order; may not return (longjmp). */
	void		(*emit) (void *arg, const HpSimCandidate *c);
	void	   *arg;
} HpSimOptions;

/*
 * Run the simulation: validates budgets and data, then emits
 * nbudgets x nsamplers x per_budget candidates.  Candidates whose routing
 * is provably the same (k = 0: all LLM; k = N: all human) are trained once.
 */
HpStatus	hp_simulate(const HpSimData *d, const HpSimOptions *o, HpError *err);

/* Candidate number of the seed stream: the routing depends on nothing else. */
void		hp_sim_candidate_rng(HpRng *r, int64_t seed, int budget_index,
								 HpSampler sampler, int index);

/* Instances to route for a budget: round(budget * n), half away from zero. */
int64_t		hp_sim_budget_count(double budget, int64_t n);

/*
 * Inverted index of features: for each vocabulary entry j, the rows
 * inv_rows[inv_off[j] .. inv_off[j+1]) carrying it, ascending.
 */
void		hp_sim_invert(const HpSimData *d, int64_t **inv_off, int32_t **inv_rows);

/* k rows uniformly at random: mask[i] = 1 for routed rows (others 0). */
void		hp_sample_uniform(int64_t n, int64_t k, HpRng *r, uint8_t *mask);

/*
 * The feature sampler: features in random order, all instances of each
 * (not yet routed) until the next would exceed k; that last feature's
 * instances are taken in random order up to k.  Instances without
 * features fill any remainder uniformly.
 */
void		hp_sample_feature(int64_t n, int nvocab, const int64_t *inv_off,
							  const int32_t *inv_rows, int64_t k, HpRng *r, uint8_t *mask);

/*
 * Held-out pairwise accuracy and mean log-loss of weights w.  Trusted ties
 * (0.5) count for the log-loss only; a margin of exactly 0 scores half.
 * Rows with a NaN label are ignored.  Returns the number of non-tie rows
 * (accuracy is NaN when 0).
 */
int64_t		hp_sim_heldout_score(const float *Xh, const double *t, int64_t m, int dim,
								 const float *w, double *accuracy, double *log_loss);

/*
 * Vocabulary builder: interns names, then sorts them bytewise (COLLATE "C"
 * order, as strcmp) and maps provisional ids to sorted positions.
 */
typedef struct HpVocab
{
	int32_t		n;				/* distinct names */
	char	  **names;			/* n NUL-terminated copies */
	int32_t    *slots;			/* open-addressing table of ids, -1 = empty */
	uint64_t   *hashes;			/* hash of each name */
	int64_t		cap;			/* table size, power of 2 */
	int32_t		names_cap;
} HpVocab;

void		hp_vocab_init(HpVocab *v);
/* Provisional id of a name (len bytes, no NUL inside), adding it if new. */
int32_t		hp_vocab_add(HpVocab *v, const char *s, size_t len);
/* Sort names; remap[provisional id] receives the sorted position. */
void		hp_vocab_sort(HpVocab *v, int32_t *remap);
void		hp_vocab_free(HpVocab *v);

/*
 * Rewrite per-row provisional feature ids through remap, sorting each row's
 * ids and dropping duplicates in place (off is updated).
 */
void		hp_sim_remap_features(int64_t n, int64_t *off, int32_t *feat, const int32_t *remap);

#endif
