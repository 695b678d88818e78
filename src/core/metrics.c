/*
 * metrics.c: accuracy, log-loss, Brier score and calibration of preference
 * predictions as mergeable counts and sums (see hp_metrics.h).
 */
#include "hp_metrics.h"

#include <math.h>
#include <string.h>

/* See hp_metrics.h. */
void
hp_metrics_init(HpMetricsState *s)
{
	s->magic = HP_METRICS_MAGIC;
	s->version = HP_METRICS_VERSION;
	s->bins = HP_METRICS_BINS;
	s->reserved = 0;
}

/* See hp_metrics.h. */
HpStatus
hp_metrics_check(const HpMetricsState *s, size_t len, HpError *err)
{
	int64_t		total = 0;

	if (len != sizeof(HpMetricsState) || s->magic != HP_METRICS_MAGIC)
		return hp_error(err, HP_ECORRUPT, "corrupted hybridpref evaluation state");
	if (s->version != HP_METRICS_VERSION)
	{
		hp_error(err, HP_ECORRUPT, "unsupported hybridpref evaluation state version %d", (int) s->version);
		hp_error_detail(err, "This build reads version %d.", HP_METRICS_VERSION);
		return HP_ECORRUPT;
	}
	for (int k = 0; k < HP_METRICS_BINS; k++)
	{
		if (s->bin_n[k] < 0)
			return hp_error(err, HP_ECORRUPT, "corrupted hybridpref evaluation state");
		total += s->bin_n[k];
	}
	if (s->bins != HP_METRICS_BINS || s->n < 0 || s->n_decided < 0 || s->n_decided > s->n ||
		total != s->n)
		return hp_error(err, HP_ECORRUPT, "corrupted hybridpref evaluation state");
	return HP_OK;
}

/* See hp_metrics.h. */
void
hp_metrics_add(HpMetricsState *s, double q, double p)
{
	double		qc = fmin(fmax(q, HP_METRICS_CLIP), 1.0 - HP_METRICS_CLIP);
	int			k = (int) floor(q * HP_METRICS_BINS);

	s->n++;
	if (p != 0.5)
	{
		s->n_decided++;
		if (q == 0.5)
			s->correct += 0.5;
		else if ((q > 0.5) == (p > 0.5))
			s->correct += 1.0;
	}
	/* Only the terms a label weighs: a hard label never meets log(0) * 0. */
	if (p > 0.0)
		s->log_loss -= p * log(qc);
	if (p < 1.0)
		s->log_loss -= (1.0 - p) * log1p(-qc);
	s->brier += (q - p) * (q - p);
	k = k < 0 ? 0 : (k >= HP_METRICS_BINS ? HP_METRICS_BINS - 1 : k);
	s->bin_n[k]++;
	s->bin_q[k] += q;
	s->bin_p[k] += p;
}

/* See hp_metrics.h. */
void
hp_metrics_merge(HpMetricsState *dst, const HpMetricsState *src)
{
	dst->n += src->n;
	dst->n_decided += src->n_decided;
	dst->correct += src->correct;
	dst->log_loss += src->log_loss;
	dst->brier += src->brier;
	for (int k = 0; k < HP_METRICS_BINS; k++)
	{
		dst->bin_n[k] += src->bin_n[k];
		dst->bin_q[k] += src->bin_q[k];
		dst->bin_p[k] += src->bin_p[k];
	}
}

/* A number, or null when undefined. */
static void
PutNumber(HpBuf *b, double v, bool defined)
{
	if (defined && isfinite(v))
		hp_json_write_double(b, v);
	else
		hp_buf_puts(b, "null");
}

/* See hp_metrics.h. */
void
hp_metrics_json(const HpMetricsState *s, HpBuf *b)
{
	double		n = (double) s->n,
				ece = 0.0;

	for (int k = 0; k < HP_METRICS_BINS; k++)
		if (s->bin_n[k] > 0)
			ece += fabs(s->bin_q[k] - s->bin_p[k]) / n;	/* n_k/n |mean q - mean p| */
	hp_buf_puts(b, "{\"n\":");
	hp_json_write_int64(b, s->n);
	hp_buf_puts(b, ",\"n_ties\":");
	hp_json_write_int64(b, s->n - s->n_decided);
	hp_buf_puts(b, ",\"accuracy\":");
	PutNumber(b, s->correct / (double) s->n_decided, s->n_decided > 0);
	hp_buf_puts(b, ",\"log_loss\":");
	PutNumber(b, s->log_loss / n, s->n > 0);
	hp_buf_puts(b, ",\"brier\":");
	PutNumber(b, s->brier / n, s->n > 0);
	hp_buf_puts(b, ",\"ece\":");
	PutNumber(b, ece, s->n > 0);
	hp_buf_puts(b, ",\"calibration\":[");
	for (int k = 0; k < HP_METRICS_BINS; k++)
	{
		bool		has = s->bin_n[k] > 0;

		if (k)
			hp_buf_putc(b, ',');
		hp_buf_puts(b, "{\"bin\":");
		hp_json_write_int64(b, k);
		hp_buf_puts(b, ",\"lo\":");
		hp_json_write_double(b, (double) k / HP_METRICS_BINS);
		hp_buf_puts(b, ",\"hi\":");
		hp_json_write_double(b, (double) (k + 1) / HP_METRICS_BINS);
		hp_buf_puts(b, ",\"n\":");
		hp_json_write_int64(b, s->bin_n[k]);
		hp_buf_puts(b, ",\"mean_pred\":");
		PutNumber(b, s->bin_q[k] / (double) s->bin_n[k], has);
		hp_buf_puts(b, ",\"mean_obs\":");
		PutNumber(b, s->bin_p[k] / (double) s->bin_n[k], has);
		hp_buf_putc(b, '}');
	}
	hp_buf_puts(b, "]}");
}
