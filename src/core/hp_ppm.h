/*
 * hp_ppm.h: the performance prediction model (PPM) of Hybrid Preferences
 * and the routers built on it (issue 4; see docs/routing-contract.md).
 *
 * A routing r in {0,1}^N (1 = the instance gets a human label) is
 * summarised by v_j = sum_i r_i b_ij, the number of human-routed instances
 * having feature j.  The PPM predicts the score of a reward model trained
 * on the hybrid labels from v (divided by N when normalised):
 *   f(v) = intercept + beta.v + v^T Q v     (Q = 0 for degree 1).
 * Routing under a budget of k instances picks the k instances of highest
 * gain g_i = f(s b_i) - f(0), s = 1/N (or 1), or greedily maximises f.
 */
#ifndef HP_PPM_H
#define HP_PPM_H

#include "hp_core.h"
#include "hp_model.h"

/* Largest vocabulary of a quadratic PPM: K(K+1)/2 interaction columns. */
#define HP_PPM_MAX_QUAD_VOCAB 1024
/* Largest number of cross-validation folds. */
#define HP_PPM_MAX_FOLDS 100

typedef struct HpPpmOptions
{
	int			degree;			/* 1 (linear) or 2 (all pairwise terms); default 1 */
	double		lambda;			/* ridge on standardised columns, mean loss; default 1e-3 */
	bool		lambda_auto;	/* "auto": the best of 1e-5 .. 100 by cross-validation */
	bool		normalize;		/* counts are divided by n; default true */
	double		n;				/* dataset size the counts were taken over */
	int			folds;			/* cross-validation folds; default 5 */
	int			solver;			/* 0 auto (dual when columns > rows), 1 primal, 2 dual */
	int			nvocab;			/* K */
	char	  **vocab;			/* K distinct names (hook-allocated) */
} HpPpmOptions;

/*
 * Parse the options of hp.train_ppm.  vocab is required; n is required
 * when normalize is true.  Unknown keys and bad values are HP_EINVAL with a
 * message naming the key.
 */
HpStatus	hp_ppm_options_parse(const char *json, size_t len, HpPpmOptions *o, HpError *err);
void		hp_ppm_options_free(HpPpmOptions *o);

/*
 * Fit a PPM on nrows rows laid out as (counts[0..K), score), K+1 doubles
 * each, in any order: the fit sorts them canonically first, so the model
 * does not depend on the order.  max_bytes bounds the working memory (0:
 * no bound).  On success *out is a complete model of kind HP_KIND_PPM.
 */
HpStatus	hp_ppm_fit(const HpPpmOptions *o, const double *rows, int64_t nrows,
					   size_t max_bytes, HpModel *out, HpError *err);

/* A decoded PPM ready for prediction, with a name -> index map. */
typedef struct HpPpm
{
	int			K;
	int			degree;
	bool		normalize;
	double		intercept;
	double	   *beta;			/* K */
	double	   *quad;			/* K x K symmetric, NULL for degree 1 */
	double	   *qdiag;			/* K: Q_jj, NULL for degree 1 */
	char	  **vocab;			/* K names */
	uint32_t   *vlen;			/* K name lengths */
	uint32_t   *vhash;			/* K name hashes */
	int32_t    *slots;			/* open addressing: vocab index or -1 */
	uint32_t	mask;
	double	   *work;			/* K scratch */
} HpPpm;

/* Check that m is a PPM and build the predictor (hook-allocated). */
HpStatus	hp_ppm_load(const HpModel *m, HpPpm *p, HpError *err);
void		hp_ppm_free(HpPpm *p);

/* Vocabulary index of a feature name, or -1. */
int			hp_ppm_lookup(const HpPpm *p, const char *name, size_t len);

/* f(v) for an already normalised v of length K. */
double		hp_ppm_predict(const HpPpm *p, const double *v);

/*
 * f(scale * b) - f(0) for the indicator vector b of the nnz distinct
 * vocabulary indices idx: sum_j scale beta_j + sum_jk (scale Q_jk) scale.
 */
double		hp_ppm_gain(const HpPpm *p, const int32_t *idx, int nnz, double scale);

/* Sort and deduplicate a small index list in place; returns the new length. */
int			hp_ppm_sort_unique(int32_t *idx, int nnz);

/* ---------------------------------------------------------------- routing */

typedef enum HpRouteStrategy
{
	HP_ROUTE_TOPK = 0,			/* top k of g_i (the paper's) */
	HP_ROUTE_GREEDY,			/* exact marginal gains under the quadratic model */
	HP_ROUTE_SIMULATED,			/* best of sampled candidate sets */
	HP_ROUTE_RANDOM				/* k uniformly random instances */
} HpRouteStrategy;

/* Strategy from its SQL name; HP_EINVAL listing the valid ones otherwise. */
HpStatus	hp_route_strategy(const char *name, HpRouteStrategy *s, HpError *err);

/*
 * Number of human labels for a budget over n instances: a fraction in
 * [0, 1] (rounded to the nearest count) or a whole count in (1, n].
 */
HpStatus	hp_route_budget(double budget, int64_t n, int64_t *k, HpError *err);

/* The instances to route, in id order (CSR of vocabulary indices). */
typedef struct HpRouteData
{
	int64_t		n;
	const int64_t *id;			/* ascending, distinct */
	const int64_t *off;			/* n + 1 offsets into idx */
	const int32_t *idx;			/* per instance: sorted distinct indices */
	double		scale;			/* 1/N when the PPM normalises, else 1 */
} HpRouteData;

/* g_i = f(scale b_i) - f(0) for every instance. */
void		hp_route_gains(const HpPpm *p, const HpRouteData *d, double *gain);

/*
 * Mark the k instances of largest key (ties: smaller id first) in human[].
 * O(n) expected (quickselect); key and id are not modified.
 */
void		hp_route_topk(const double *key, const int64_t *id, int64_t n, int64_t k, bool *human);

/*
 * Choose k instances with a strategy; gain is hp_route_gains' output.
 * human[] receives the routing.  candidates is used by "simulated".
 */
HpStatus	hp_route_select(const HpPpm *p, const HpRouteData *d, const double *gain,
							HpRouteStrategy s, int64_t k, uint64_t seed, int candidates,
							bool *human, HpError *err);

/* f(v) of a routing: v = scale * sum of the human instances' indicators. */
double		hp_route_predict_set(const HpPpm *p, const HpRouteData *d, const bool *human);

#endif
