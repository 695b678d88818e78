/*
 * hp_train.h: Bradley-Terry reward-model training on difference vectors.
 *
 * Model: r(x) = w.x, P(a > b) = sigmoid(w.(a - b)).  Each head h minimises
 *   f_h(w) = (1/N_h) sum_i c_ih l(w.d_i; p_i) + (lambda/2) |w|^2,
 *   l(z; p) = log(1 + e^-z) + (1 - p) z,
 * where p_i is the probability that a is preferred (1 for chosen/rejected
 * pairs, 0.5 for ties) and c_ih are Poisson(1) bootstrap weights derived
 * from the row key and the head's seed (all 1 for a single head).  The
 * heads are solved together by Newton-CG with Armijo line search so every
 * product over the data is one BLAS-3 call for all heads.
 */
#ifndef HP_TRAIN_H
#define HP_TRAIN_H

#include "hp_core.h"
#include "hp_model.h"
#include "hp_options.h"

/*
 * Folds of lambda "auto" (row i of the canonical order is in fold i mod 5).
 * The model keeps the curve it chose from as tensor "lambda_cv": 2 x G
 * doubles, the lambdas tried (descending) and their held-out log-loss.
 */
#define HP_CV_FOLDS 5

typedef struct HpTrainSet
{
	int64_t		n;
	int			dim;
	const float *X;				/* n x dim differences a - b, row-major */
	const float *p;				/* n probabilities P(a > b) in [0,1] */
	const uint64_t *key;		/* n row keys for bootstrap weights */
} HpTrainSet;

/* A row awaiting canonical ordering (see hp_sort_rows). */
typedef struct HpRowRef
{
	uint64_t	key;
	const float *x;
	float		p;
} HpRowRef;

/* Content key of a row: a fast word-wise hash of its values and label. */
uint64_t	hp_row_key(const float *x, int dim, float p);

/*
 * x = a - b and its key hp_row_key(x, dim, p), in one pass; returns false
 * when some value of x is not finite (a or b is not, or a - b overflows).
 */
bool		hp_row_diff(const float *a, const float *b, float *x, int dim, float p,
						uint64_t *key);

/*
 * Sort rows by (key, values, label).  Training on the sorted order makes the
 * model independent of the order rows arrived in, so serial and parallel
 * plans give bit-identical models.
 */
void		hp_sort_rows(HpRowRef *rows, int64_t n, int dim);

/*
 * Reorder n rows of width floats (with their labels and keys) into the
 * canonical order of hp_sort_rows, in place.
 */
void		hp_canonical_order(float *X, float *p, uint64_t *key, int64_t n, int width);

/* Bootstrap weight of a row for a head: Poisson(1) from a hash. */
float		hp_boot_weight(uint64_t key, int64_t seed, int head);

/*
 * Train a linear BT model.  options_json is stored in the model as its
 * canonical options; init (may be NULL) warm-starts the weights and must
 * have the same dim.  On success fills *out (tensors allocated via hooks).
 */
HpStatus	hp_bt_train(const HpTrainSet *ts, const HpTrainOptions *opt,
						const char *options_json, const HpModel *init,
						HpModel *out, HpError *err);

#endif
