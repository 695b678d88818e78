/*
 * hp_dist.h: preference distinguishability statistics (Im & Li 2024).
 *
 * For one behaviour (tag) with preferred embeddings X+ and rejected X-, the
 * aggregate keeps per side the count, mean and scatter matrix M2 =
 * sum (x - mean)(x - mean)^T, from which it reports D = |mu+ - mu-|, the
 * traces and spectral norms of the unbiased covariances M2 / (n - 1), and
 * SNR = D^2 / (tr S+ + tr S-).  Partial states merge exactly (Chan et al.),
 * so parallel and distributed plans agree with the serial one up to
 * rounding.
 *
 * The state is one flat, versioned buffer so that the host can store it as
 * a plain bytea: a distributed planner (Citus) pushes down aggregates whose
 * state is a real type with a combine function, never STYPE internal.
 * Rows are buffered per side and flushed with one dsyrk per block, which
 * keeps the O(d^2) per-row work inside BLAS.
 *
 * Above HP_DIST_FULL_MAX_DIM only per-coordinate moments are kept (O(d)
 * state): traces and D stay exact, spectral norms are not available (see
 * the power-iteration step below for those).
 *
 * Byte order is the host's; a state from a machine of the other endianness
 * fails the magic check instead of being misread.
 */
#ifndef HP_DIST_H
#define HP_DIST_H

#include "hp_core.h"
#include "hp_json.h"

/* Largest dimension with a full covariance (state ~ 2 d^2 doubles). */
#define HP_DIST_FULL_MAX_DIM 1024
/* Rows buffered per side before a rank-k BLAS update. */
#define HP_DIST_BLOCK 64

#define HP_DIST_MAGIC 0x53445048u	/* "HPDS" in memory, little-endian */
#define HP_DIST_VERSION 1
#define HP_DIST_FULL 0x0001			/* flag: full covariance kept */

#define HP_DIST_CHOSEN 0
#define HP_DIST_REJECTED 1

typedef struct HpDistSide
{
	int64_t		n;				/* rows folded into mean and m2 */
	int32_t		nbuf;			/* rows waiting in the block buffer */
	int32_t		reserved;
} HpDistSide;

/*
 * The state.  The first word belongs to the host (PostgreSQL writes its
 * varlena length there), which lets the doubles that follow sit 8-byte
 * aligned inside a palloc'd bytea.  Per side, data holds mean[dim], then m2
 * (dim x dim row-major, upper triangle used, in full mode; dim diagonal
 * entries otherwise), then in full mode (block + 1) x dim buffered rows,
 * the extra row being scratch for the merge correction.
 */
typedef struct HpDistState
{
	uint32_t	host;
	uint32_t	magic;
	uint16_t	version;
	uint16_t	flags;
	int32_t		dim;
	int32_t		block;			/* 0 in diagonal mode */
	int32_t		reserved;
	HpDistSide	side[2];
	double		data[];
} HpDistState;

/* Bytes of a state for this dimension (full or diagonal by dim). */
size_t		hp_dist_state_size(int dim);

/* Initialise a zeroed buffer of hp_dist_state_size(dim) bytes. */
void		hp_dist_init(HpDistState *s, int dim);

/*
 * Validate a state of len bytes (including the host word) from an untrusted
 * source: magic, version, flags, sizes and counters.  HP_ECORRUPT if not.
 */
HpStatus	hp_dist_check(const HpDistState *s, size_t len, HpError *err);

/* Add one row to a side (x has s->dim finite values). */
void		hp_dist_add(HpDistState *s, int side, const float *x);

/*
 * Merge src into dst (src is only read).  Both must have passed
 * hp_dist_check; different dimensions are HP_EDIM.
 */
HpStatus	hp_dist_merge(HpDistState *dst, const HpDistState *src, HpError *err);

/* Final statistics; NaN marks an undefined value (written as JSON null). */
typedef struct HpDistStats
{
	int			dim;
	bool		full;
	int64_t		n[2];
	double		trace[2];		/* tr S, NaN when n < 2 */
	double		spectral[2];	/* |S|_2, NaN when n < 2 or not full */
	double		d;				/* |mu+ - mu-|, NaN unless both sides have rows */
	double		snr;
	double		snr_unbiased;	/* (d^2 - tr+/n+ - tr-/n-) / (tr+ + tr-), >= 0 */
	double		trace_max;
	double		concentration;
	double	   *mean_diff;		/* dim values, or NULL like d */
} HpDistStats;

/*
 * Compute the statistics without modifying s (buffered rows are flushed
 * into a copy), so a final function may run on a state that keeps growing.
 * HP_EINTERNAL if the eigenvalue solver fails.
 */
HpStatus	hp_dist_finalize(const HpDistState *s, HpDistStats *st, HpError *err);
void		hp_dist_stats_free(HpDistStats *st);

/* The statistics as one JSON object (documented keys, nulls for NaN). */
void		hp_dist_stats_json(const HpDistStats *st, HpBuf *b);

/*
 * Priority gaps between k behaviours from their mean differences D (k x dim,
 * row-major): gap[i*k+j] = (p_i - p_j) / max(|d_i|, |d_j|) with
 * p_i = <b, d_i> / |b|, b = (d_i + d_j) / 2.  Positive: i is learned first.
 * Undefined entries (the diagonal, a zero d, or d_i = -d_j) are NaN.
 */
HpStatus	hp_dist_gaps(const double *D, int k, int dim, double *gap, HpError *err);

/*
 * One pass of power iteration for large dimensions: the product S v of the
 * unbiased covariance with a fixed vector, in O(d) state.  Same layout
 * rules as HpDistState; data holds mean[dim], s[dim] (the running
 * M2 v) and v[dim].
 */
#define HP_COVSTEP_MAGIC 0x56435048u	/* "HPCV" */
#define HP_COVSTEP_VERSION 1

typedef struct HpCovStep
{
	uint32_t	host;
	uint32_t	magic;
	uint16_t	version;
	uint16_t	flags;
	int32_t		dim;
	int64_t		n;
	double		data[];
} HpCovStep;

size_t		hp_covstep_size(int dim);
/* Initialise a buffer of hp_covstep_size(dim) bytes for the vector v. */
void		hp_covstep_init(HpCovStep *s, int dim, const double *v);
HpStatus	hp_covstep_check(const HpCovStep *s, size_t len, HpError *err);
/* True when v equals the state's vector (every row must use the same v). */
bool		hp_covstep_same_v(const HpCovStep *s, const double *v);
void		hp_covstep_add(HpCovStep *s, const float *x);
HpStatus	hp_covstep_merge(HpCovStep *dst, const HpCovStep *src, HpError *err);
/* out = S v (dim values); false when n < 2. */
bool		hp_covstep_result(const HpCovStep *s, double *out);

#endif
