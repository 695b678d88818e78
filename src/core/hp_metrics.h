/*
 * hp_metrics.h: held-out evaluation of preference predictions in one pass.
 *
 * From predicted probabilities q = P(a > b) and labels p (the probability
 * that a is preferred: 1, 0, 0.5 for a tie, or soft), the state keeps
 * counts and sums only, so it has a fixed size and partial states merge by
 * addition: a parallel or distributed plan gives the serial result up to
 * rounding.  Like the other pushdown-friendly states it is one flat,
 * versioned buffer the host stores as a plain bytea.
 *
 * Reported: n; accuracy over rows whose label is not a tie (p != 0.5),
 * predicted winner a when q > 0.5, b when q < 0.5, a prediction of exactly
 * 0.5 counting half; log_loss = mean -[p ln q + (1 - p) ln(1 - q)] with q
 * clipped to [1e-15, 1 - 1e-15]; brier = mean (q - p)^2; and calibration
 * over 10 equal-width bins of q (bin k holds k/10 <= q < (k+1)/10, q = 1 in
 * the last): per bin n, mean q and mean p, and ECE = sum_k n_k/n |mean q_k -
 * mean p_k|.
 */
#ifndef HP_METRICS_H
#define HP_METRICS_H

#include "hp_core.h"
#include "hp_json.h"

#define HP_METRICS_BINS 10
#define HP_METRICS_MAGIC 0x4d455048u	/* "HPEM" in memory, little-endian */
#define HP_METRICS_VERSION 1
#define HP_METRICS_CLIP 1e-15

/* The state; the first word belongs to the host (varlena length). */
typedef struct HpMetricsState
{
	uint32_t	host;
	uint32_t	magic;
	uint16_t	version;
	uint16_t	bins;
	int32_t		reserved;
	int64_t		n;				/* rows */
	int64_t		n_decided;		/* rows whose label is not a tie */
	double		correct;		/* among them: 1 per correct, 1/2 per q = 0.5 */
	double		log_loss;		/* sums over all rows */
	double		brier;
	int64_t		bin_n[HP_METRICS_BINS];
	double		bin_q[HP_METRICS_BINS];
	double		bin_p[HP_METRICS_BINS];
} HpMetricsState;

/* Initialise a zeroed state. */
void		hp_metrics_init(HpMetricsState *s);

/* Validate a state of len bytes from an untrusted source (HP_ECORRUPT). */
HpStatus	hp_metrics_check(const HpMetricsState *s, size_t len, HpError *err);

/* Add one prediction q in [0,1] with label p in [0,1]. */
void		hp_metrics_add(HpMetricsState *s, double q, double p);

/* Add src's counts and sums to dst. */
void		hp_metrics_merge(HpMetricsState *dst, const HpMetricsState *src);

/*
 * The metrics as a JSON object: n, n_ties, accuracy, log_loss, brier, ece,
 * calibration (array of {bin, lo, hi, n, mean_pred, mean_obs}); undefined
 * values (accuracy without decided rows, empty bins) are null.
 */
void		hp_metrics_json(const HpMetricsState *s, HpBuf *b);

#endif
