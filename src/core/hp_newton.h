/*
 * hp_newton.h: out-of-core Bradley-Terry training by exact Newton passes.
 *
 * The in-memory trainer (hp_train.h) holds every row.  This one holds
 * O(heads * dim^2) instead: one pass over the rows accumulates, for every
 * head h at fixed weights w_h, the sums
 *     S_h = sum_i c_ih                           (bootstrap weight mass)
 *     L_h = sum_i c_ih l(w_h.x_i; p_i)           (data loss)
 *     G_h = sum_i c_ih (s_ih - p_i) x_i          (data gradient)
 *     Z_h = sum_i c_ih (1/2 - p_i) x_i           (data gradient at w = 0)
 *     K_h = sum_i c_ih s_ih (1 - s_ih) x_i x_i^T (data Hessian)
 * with s_ih = sigmoid(w_h.x_i) and the same weights c_ih as hp_bt_train
 * (Poisson(1) from the row key and the seed; 1 for the center head and for
 * a single head).  Sums merge by addition, so partial states from parallel
 * workers or Citus shards combine exactly (up to rounding).  The driver
 * (HpNewtonSearch) then minimises, per head, the in-memory trainer's
 * objective
 *     f_h(w) = L_h / S_h + (lambda/2) |w - a_h|^2
 * by solving (K_h / S_h + lambda I) step = -grad f_h with Cholesky (dposv)
 * and backtracking when the next pass shows too little decrease.
 *
 * Rows are buffered (as doubles) and folded in blocks: margins and
 * gradients with one dgemm each, and per head one dsyrk over the rows
 * scaled by sqrt(c s (1 - s)) (rows with zero weight left out).
 *
 * The state is one flat, versioned buffer so that the host can store it
 * as a plain bytea: distributed planners push down aggregates whose state
 * is a real type with a combine function, never STYPE internal.  It keeps
 * the weights it was evaluated at, so a combine needs nothing else and
 * refuses states evaluated at different weights.  Byte order is the
 * host's; a state from the other endianness fails the magic check.
 */
#ifndef HP_NEWTON_H
#define HP_NEWTON_H

#include "hp_core.h"
#include "hp_model.h"
#include "hp_options.h"

/*
 * Largest dimension: the Hessians take heads x dim^2 doubles (32 MB per
 * head at 2048), and the whole state must stay below 1 GB, the largest
 * bytea.  Larger dimensions are refused (HP_ELIMIT); there is no
 * Hessian-free fallback (see docs/scaling.md).
 */
#define HP_NEWTON_MAX_DIM 2048
#define HP_NEWTON_MAX_STATE_BYTES ((size_t) 1000 << 20)	/* 1000 MB */

#define HP_NEWTON_MAGIC 0x4e4e5048u	/* "HPNN" in memory, little-endian */
#define HP_NEWTON_VERSION 1
#define HP_NEWTON_WZERO 0x0001		/* flag: built from w NULL (all zeros) */

/*
 * The state.  The first word belongs to the host (PostgreSQL's varlena
 * length), so the doubles that follow are 8-byte aligned in a palloc'd
 * bytea.  data holds, in order (H = heads, d = dim, B = block):
 *   W[H*d]      weights the rows are evaluated at (row h = head h)
 *   S[H], L[H]  weight sums and weighted losses
 *   G[2*H*d]    data gradients G_h, then gradients at zero Z_h
 *   K[H*d*d]    data Hessians, row-major, upper triangle used
 *   X[B*d]      buffered rows a - b
 *   P[B]        their labels
 *   C[B*H]      their per-head weights
 */
typedef struct HpNewtonState
{
	uint32_t	host;
	uint32_t	magic;
	uint16_t	version;
	uint16_t	flags;
	int32_t		dim;
	int32_t		heads;			/* H: solved heads, center included */
	int32_t		center;			/* 1 when head 0 is the unweighted MAP head */
	int32_t		block;			/* B */
	int32_t		nbuf;			/* rows waiting in X */
	int32_t		reserved;
	int64_t		n;				/* rows added, buffered ones included */
	int64_t		seed;
	double		data[];
} HpNewtonState;

/* Rows buffered before a block update for this dimension. */
int			hp_newton_block(int dim);

/*
 * Bytes of a state with H solved heads, or an HP_ELIMIT error naming the
 * limit when dim or the size is too large.
 */
HpStatus	hp_newton_state_size(int dim, int heads, size_t *size, HpError *err);

/*
 * Solved heads for the options: heads + 1 (the center) for an ensemble,
 * 1 for a single head or Laplace; *center is 1 when head 0 is the center.
 * HP_EINVAL for options the Newton trainer does not support (arch mlp,
 * laplace with heads > 1).
 */
HpStatus	hp_newton_heads(const HpTrainOptions *opt, int *heads, int *center, HpError *err);

/* Initialise a zeroed buffer; W is heads x dim floats, or NULL for zeros. */
void		hp_newton_init(HpNewtonState *s, int dim, int heads, int center,
						   int64_t seed, const float *W);

/* Validate a state of len bytes from an untrusted source (HP_ECORRUPT). */
HpStatus	hp_newton_check(const HpNewtonState *s, size_t len, HpError *err);

/* True when the state was evaluated at exactly these weights (H x dim floats). */
bool		hp_newton_same_w(const HpNewtonState *s, const float *W);

/* Row key from a user's bigint key; NULL keys use hp_row_key instead. */
uint64_t	hp_newton_user_key(int64_t row_key);

/* Add one row: x = a - b (dim finite floats), label p in [0,1], row key. */
void		hp_newton_add(HpNewtonState *s, const float *x, float p, uint64_t key);

/* Fold the buffered rows into the sums. */
void		hp_newton_flush(HpNewtonState *s);

/*
 * Merge src into dst (src only read).  Both must have passed
 * hp_newton_check; other dimensions, heads, seeds or weights are errors.
 */
HpStatus	hp_newton_merge(HpNewtonState *dst, const HpNewtonState *src, HpError *err);

/* Views into the data (see the layout above). */
static inline double *
hp_newton_W(const HpNewtonState *s)
{
	return (double *) s->data;
}

static inline double *
hp_newton_S(const HpNewtonState *s)
{
	return (double *) s->data + (size_t) s->heads * s->dim;
}

static inline double *
hp_newton_L(const HpNewtonState *s)
{
	return hp_newton_S(s) + s->heads;
}

static inline double *
hp_newton_G(const HpNewtonState *s)
{
	return hp_newton_L(s) + s->heads;
}

static inline double *
hp_newton_G0(const HpNewtonState *s)
{
	return hp_newton_G(s) + (size_t) s->heads * s->dim;
}

static inline double *
hp_newton_K(const HpNewtonState *s)
{
	return hp_newton_G0(s) + (size_t) s->heads * s->dim;
}

/*
 * The driver: per-head damped Newton with backtracking, one data pass per
 * evaluation.  Each pass evaluates every head at its trial weights; a head
 * whose trial passes the Armijo test accepts it and takes a new Newton
 * step, a head whose trial fails halves its step (its Hessian is still
 * valid), a converged head stays put.  Holds O(heads * dim) plus one
 * dim x dim scratch.
 */
#define HP_NEWTON_FIRST 0		/* head not evaluated yet */
#define HP_NEWTON_TRIAL 1		/* trial point awaiting its evaluation */
#define HP_NEWTON_DONE 2		/* converged or at the round-off floor */

typedef struct HpNewtonSearch
{
	int			dim;
	int			heads;			/* H, center included */
	int			center;
	int64_t		n;				/* rows of the first pass */
	int64_t		seed;
	double		lambda;
	double		tol;
	int			uncertainty;
	int			passes;			/* evaluations so far */
	int			nactive;		/* heads not DONE */
	double	   *A;				/* H x d anchors (zero rows for center) */
	double	   *Wacc;			/* H x d accepted weights */
	double	   *Wtry;			/* H x d trial weights */
	double	   *P;				/* H x d Newton steps */
	double	   *facc;			/* objective at Wacc */
	double	   *lacc;			/* data loss L/S at Wacc */
	double	   *gnorm;			/* gradient norm at Wacc */
	double	   *gref;			/* gradient norm at w = 0 */
	double	   *alpha;			/* step length of the pending trial */
	double	   *gp;				/* g.P at Wacc */
	double	   *diag;			/* d: diag(K_0) at head 0's Wacc (Laplace) */
	int		   *status;
	int		   *backtracks;		/* total halvings per head (diagnostics) */
} HpNewtonSearch;

/*
 * Start a search from the first pass's state: anchors from the seed and
 * n = first->n exactly as hp_bt_train draws them, the start point = the
 * weights first was evaluated at.  first must be flushed.
 */
HpStatus	hp_newton_search_init(HpNewtonSearch *s, const HpTrainOptions *opt,
								  const HpNewtonState *first, HpError *err);

/*
 * Take one pass's (flushed) state, evaluated at the current trial point:
 * accept or backtrack per head and plan the next trial.  The state must
 * match the search (dim, heads, rows, weights), else HP_EINVAL/HP_EDATA.
 */
HpStatus	hp_newton_search_update(HpNewtonSearch *s, const HpNewtonState *st, HpError *err);

/* The weights the next pass must use (H x dim floats). */
void		hp_newton_search_trial(const HpNewtonSearch *s, float *W);

/* Largest relative gradient norm |g_h| / |g_h(0)| over heads at Wacc. */
double		hp_newton_search_relgrad(const HpNewtonSearch *s);

/*
 * The model at the accepted weights, as hp_bt_train would store it:
 * kind linear, "w" (sample heads, or the single head) and "center",
 * "var" for Laplace, loss = unweighted log-loss of head 0.
 */
HpStatus	hp_newton_search_model(const HpNewtonSearch *s, const char *options_json,
								   HpModel *out, HpError *err);

void		hp_newton_search_free(HpNewtonSearch *s);

/*
 * Starting weights (H x dim floats) from a warm-start model, as
 * hp_bt_train's init: per head when the head counts match, else their
 * mean; the center from its tensor or the mean.  NULL init gives zeros.
 */
HpStatus	hp_newton_start(const HpModel *init, int dim, int heads, int center,
							float *W, HpError *err);

/*
 * The exact weights of a trial model (as the aggregate requires): kind
 * linear, heads - center rows in "w", and "center" when center is 1.
 * *dim receives the model's dimension.  HP_EINVAL/HP_EDIM otherwise.
 */
HpStatus	hp_newton_model_w(const HpModel *m, int heads, int center, float *W,
							  HpError *err);

/*
 * A linear model holding weights W (H x dim floats, head 0 the center when
 * center is 1); the scalar fields are left for the caller.
 */
void		hp_newton_weights_model(const float *W, int dim, int heads, int center,
									HpModel *out);

#endif
