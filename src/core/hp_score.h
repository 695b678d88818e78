/*
 * hp_score.h: scoring rows with a trained reward model.
 * Per row the cost is O(heads * dim) (one gemv), never O(dim^2).
 */
#ifndef HP_SCORE_H
#define HP_SCORE_H

#include "hp_core.h"
#include "hp_mlp.h"
#include "hp_model.h"

typedef struct HpScorer
{
	const HpModel *m;
	int			dim;
	int			heads;
	const float *W;				/* heads x dim */
	const float *var;			/* Laplace posterior variances, or NULL */
	const float *center;		/* MAP head giving the mean, or NULL */
	float	   *out;			/* heads scratch */
	float	   *diff;			/* dim scratch */
	bool		is_mlp;
	HpMlp		mlp;			/* kind mlp: view of the heads */
	float	   *xy;				/* 2 x dim rows for MLP pairs */
	float	   *pair;			/* 2 x heads MLP rewards */
	float	   *scratch;		/* MLP activations */
} HpScorer;

/* Prepare a scorer for a decoded model (kind linear or mlp). */
HpStatus	hp_scorer_init(HpScorer *s, const HpModel *m, HpError *err);
void		hp_scorer_free(HpScorer *s);

/* Reward (center head, else mean over heads) and its epistemic std (either may be NULL). */
void		hp_score_reward(HpScorer *s, const float *x, double *mean, double *std);

/* P(a > b) (center head, else mean over heads), and its spread across heads. */
void		hp_score_prefer(HpScorer *s, const float *a, const float *b, double *mean, double *std);

/* Probability that the predicted preference of a over b flips (0 to 0.5). */
double		hp_score_flip(HpScorer *s, const float *a, const float *b);

#endif
