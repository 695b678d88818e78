/*
 * hp_mlp.h: an ensemble of MLP reward heads on frozen embeddings.
 *
 * Each head is r_h(x) = wo_h . relu(W_L ... relu(W_1 x + b_1) ... + b_L).
 * Heads are stacked in the model's tensors ("W1" is heads*h1 x dim, "b1"
 * heads x h1, "W2" heads*h2 x h1, ..., "wo" heads x h_L), so the first
 * layer of every head is one gemm.  Trained with Adam on the Bradley-Terry
 * loss of r(a) - r(b), each head on its own Poisson bootstrap of the pairs.
 */
#ifndef HP_MLP_H
#define HP_MLP_H

#include "hp_core.h"
#include "hp_model.h"
#include "hp_options.h"

#define HP_MLP_MAX_LAYERS 4

typedef struct HpPairSet
{
	int64_t		n;
	int			dim;
	const float *A;				/* n x dim */
	const float *B;				/* n x dim */
	const float *p;				/* P(a > b) */
	const uint64_t *key;		/* row keys for bootstrap weights */
} HpPairSet;

/* A read-only view of an MLP model's tensors. */
typedef struct HpMlp
{
	int			dim;
	int			heads;
	int			nlayers;
	int			width[HP_MLP_MAX_LAYERS];
	const float *W[HP_MLP_MAX_LAYERS];
	const float *b[HP_MLP_MAX_LAYERS];
	const float *wo;
} HpMlp;

/* Bind a view to a decoded model of kind mlp, checking every shape. */
HpStatus	hp_mlp_view(const HpModel *m, HpMlp *v, HpError *err);

/* Floats of scratch hp_mlp_forward needs for m rows. */
size_t		hp_mlp_scratch(const HpMlp *v, int m);

/* Rewards of m rows X (m x dim) for every head: out is m x heads. */
void		hp_mlp_forward(const HpMlp *v, const float *X, int m, float *out, float *scratch);

/* Train an MLP ensemble; init (may be NULL) warm-starts from the same shape. */
HpStatus	hp_mlp_train(const HpPairSet *ps, const HpTrainOptions *opt,
						 const char *options_json, const HpModel *init,
						 HpModel *out, HpError *err);

#endif
