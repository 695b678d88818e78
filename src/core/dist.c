/*
 * dist.c: distinguishability statistics: blocked covariance accumulation,
 * exact merges, final statistics and priority gaps.
 *
 * Stability: each block of rows is centred on its own mean before the
 * rank-k update, and blocks (or partial states) are combined with Chan's
 * formula M2 = M2a + M2b + (na nb / n) dd^T, so no sum of squares of raw
 * values is ever formed and large offsets cost no precision.
 */
#include "hp_dist.h"

#include <math.h>
#include <string.h>

#include "hp_blas.h"

/* Values in one side's part of data[]. */
static size_t
SideStride(int dim, bool full, int block)
{
	if (full)
		return (size_t) dim + (size_t) dim * dim + (size_t) (block + 1) * dim;
	return 2 * (size_t) dim;
}

static inline bool
IsFull(const HpDistState *s)
{
	return (s->flags & HP_DIST_FULL) != 0;
}

/* Start of a side's mean vector. */
static inline double *
SideMean(const HpDistState *s, int side)
{
	return (double *) s->data + side * SideStride(s->dim, IsFull(s), s->block);
}

/* Start of a side's scatter matrix (or diagonal). */
static inline double *
SideM2(const HpDistState *s, int side)
{
	return SideMean(s, side) + s->dim;
}

/* Start of a side's block buffer (full mode only). */
static inline double *
SideBuf(const HpDistState *s, int side)
{
	return SideM2(s, side) + (size_t) s->dim * s->dim;
}

/* Bytes of a state. */
size_t
hp_dist_state_size(int dim)
{
	bool		full = dim <= HP_DIST_FULL_MAX_DIM;

	return sizeof(HpDistState) + 2 * sizeof(double) * SideStride(dim, full, full ? HP_DIST_BLOCK : 0);
}

/* Fill the header; the data must already be zero. */
void
hp_dist_init(HpDistState *s, int dim)
{
	bool		full = dim <= HP_DIST_FULL_MAX_DIM;

	s->magic = HP_DIST_MAGIC;
	s->version = HP_DIST_VERSION;
	s->flags = full ? HP_DIST_FULL : 0;
	s->dim = dim;
	s->block = full ? HP_DIST_BLOCK : 0;
	s->reserved = 0;
	memset(s->side, 0, sizeof(s->side));
}

/* Everything a state from outside must satisfy before it is read. */
HpStatus
hp_dist_check(const HpDistState *s, size_t len, HpError *err)
{
	bool		full;

	if (len < sizeof(HpDistState) || s->magic != HP_DIST_MAGIC)
		return hp_error(err, HP_ECORRUPT, "corrupted hybridpref distinguishability state");
	if (s->version != HP_DIST_VERSION)
	{
		hp_error(err, HP_ECORRUPT, "unsupported hybridpref distinguishability state version %d",
				 (int) s->version);
		hp_error_detail(err, "This build reads version %d.", HP_DIST_VERSION);
		return HP_ECORRUPT;
	}
	full = (s->flags & HP_DIST_FULL) != 0;
	if ((s->flags & ~HP_DIST_FULL) != 0 || s->dim < 1 || s->dim > HP_MAX_DIM ||
		full != (s->dim <= HP_DIST_FULL_MAX_DIM) ||
		s->block != (full ? HP_DIST_BLOCK : 0) ||
		len != hp_dist_state_size(s->dim))
		return hp_error(err, HP_ECORRUPT, "corrupted hybridpref distinguishability state");
	for (int k = 0; k < 2; k++)
		if (s->side[k].n < 0 || s->side[k].nbuf < 0 ||
			s->side[k].nbuf >= (full ? s->block : 1))
			return hp_error(err, HP_ECORRUPT, "corrupted hybridpref distinguishability state");
	return HP_OK;
}

/*
 * Fold k buffered rows (rows[0..k), with room for a row k) into
 * (n, mean, m2): centre them on their block mean, append the Chan
 * correction row sqrt(n k / (n + k)) (mb - mean), and apply one dsyrk.
 * The rows are overwritten.
 */
static void
FlushRows(int dim, int64_t *n, double *mean, double *m2, double *rows, int k)
{
	double	   *mb = rows + (size_t) k * dim;
	double		na = (double) *n;
	int			kk = k;

	if (k == 0)
		return;
	for (int j = 0; j < dim; j++)
		mb[j] = 0.0;
	for (int i = 0; i < k; i++)
		hp_blas.daxpy(dim, 1.0, rows + (size_t) i * dim, 1, mb, 1);
	hp_blas.dscal(dim, 1.0 / k, mb, 1);
	for (int i = 0; i < k; i++)
		hp_blas.daxpy(dim, -1.0, mb, 1, rows + (size_t) i * dim, 1);
	if (*n == 0)
		memcpy(mean, mb, sizeof(double) * dim);
	else
	{
		double		w = sqrt(na * k / (na + k));
		double		f = k / (na + k);

		for (int j = 0; j < dim; j++)
		{
			double		delta = mb[j] - mean[j];

			mean[j] += delta * f;
			mb[j] = delta * w;
		}
		kk = k + 1;
	}
	hp_blas.dsyrk(CblasRowMajor, CblasUpper, CblasTrans, dim, kk, 1.0, rows, dim, 1.0, m2, dim);
	*n += k;
}

/* Welford update of per-coordinate moments (diagonal mode). */
static void
AddDiagonal(int dim, int64_t *n, double *mean, double *m2, const double *x, const float *xf)
{
	double		inv = 1.0 / (double) (++*n);

	for (int j = 0; j < dim; j++)
	{
		double		v = x ? x[j] : (double) xf[j];
		double		delta = v - mean[j];

		mean[j] += delta * inv;
		m2[j] += delta * (v - mean[j]);
	}
}

/* Buffer one row (as doubles) and flush a full block. */
static void
AddRow(HpDistState *s, int side, const double *x, const float *xf)
{
	HpDistSide *sd = &s->side[side];
	double	   *buf;

	if (!IsFull(s))
	{
		AddDiagonal(s->dim, &sd->n, SideMean(s, side), SideM2(s, side), x, xf);
		return;
	}
	buf = SideBuf(s, side) + (size_t) sd->nbuf * s->dim;
	if (x)
		memcpy(buf, x, sizeof(double) * s->dim);
	else
		for (int j = 0; j < s->dim; j++)
			buf[j] = xf[j];
	if (++sd->nbuf == s->block)
	{
		hp_check_interrupts();
		FlushRows(s->dim, &sd->n, SideMean(s, side), SideM2(s, side), SideBuf(s, side), sd->nbuf);
		sd->nbuf = 0;
	}
}

/* Add one row of floats. */
void
hp_dist_add(HpDistState *s, int side, const float *x)
{
	AddRow(s, side, NULL, x);
}

/*
 * Chan merge of (nb, mb, m2b) into (na, ma, m2a).  scratch holds dim
 * doubles (full mode only).
 */
static void
MergeMoments(int dim, bool full, int64_t *na, double *ma, double *m2a,
			 int64_t nb, const double *mb, const double *m2b, double *scratch)
{
	double		a = (double) *na,
				b = (double) nb,
				n = a + b;

	if (nb == 0)
		return;
	if (*na == 0)
	{
		memcpy(ma, mb, sizeof(double) * dim);
		memcpy(m2a, m2b, sizeof(double) * (full ? (size_t) dim * dim : (size_t) dim));
		*na = nb;
		return;
	}
	if (full)
	{
		/* The lower triangles are zero in both, so adding whole matrices is exact. */
		size_t		cells = (size_t) dim * dim;

		for (size_t off = 0; off < cells; off += 1 << 20)
		{
			size_t		len = cells - off < (1 << 20) ? cells - off : (1 << 20);

			hp_blas.daxpy((int) len, 1.0, m2b + off, 1, m2a + off, 1);
			hp_check_interrupts();
		}
		for (int j = 0; j < dim; j++)
		{
			double		delta = mb[j] - ma[j];

			ma[j] += delta * (b / n);
			scratch[j] = delta;
		}
		hp_blas.dsyrk(CblasRowMajor, CblasUpper, CblasTrans, dim, 1, a * b / n,
					  scratch, dim, 1.0, m2a, dim);
	}
	else
		for (int j = 0; j < dim; j++)
		{
			double		delta = mb[j] - ma[j];

			ma[j] += delta * (b / n);
			m2a[j] += m2b[j] + delta * delta * (a * b / n);
		}
	*na = (int64_t) n;
}

/* Merge two states side by side. */
HpStatus
hp_dist_merge(HpDistState *dst, const HpDistState *src, HpError *err)
{
	if (dst->dim != src->dim)
		return hp_error(err, HP_EDIM, "distinguishability rows have different dimensions: %d and %d",
						dst->dim, src->dim);
	for (int k = 0; k < 2; k++)
	{
		const HpDistSide *ss = &src->side[k];

		/*
		 * dst's buffered rows stay buffered: they are centred on their own
		 * block mean at flush time, so folding src in first changes nothing.
		 */
		MergeMoments(dst->dim, IsFull(dst), &dst->side[k].n, SideMean(dst, k), SideM2(dst, k),
					 ss->n, SideMean(src, k), SideM2(src, k),
					 IsFull(dst) ? SideBuf(dst, k) + (size_t) dst->block * dst->dim : NULL);
		for (int i = 0; i < ss->nbuf; i++)
			AddRow(dst, k, SideBuf(src, k) + (size_t) i * src->dim, NULL);
	}
	return HP_OK;
}

/* Largest |eigenvalue| of the symmetric matrix a (upper triangle; destroyed). */
static HpStatus
SpectralNorm(int dim, double *a, double *out, HpError *err)
{
	double	   *w;
	int			info;

	/* Moments of values near the double limit overflow: say so, not "solver failed". */
	for (int i = 0; i < dim; i++)
		if (!hp_all_finite_d(a + (size_t) i * dim + i, (size_t) (dim - i)))
		{
			hp_error(err, HP_EDATA, "the covariance overflows the double range");
			hp_error_detail(err, "Embedding values this large cannot be summarised; rescale them.");
			return HP_EDATA;
		}
	w = hp_alloc(sizeof(double) * dim);
	info = hp_blas.dsyevd(101 /* LAPACK_ROW_MAJOR */ , 'N', 'U', dim, a, dim, w);
	if (info != 0)
	{
		hp_free(w);
		return hp_error(err, HP_EINTERNAL, "eigenvalue solver failed (dsyevd info %d)", info);
	}
	/* Ascending order; rounding can leave a PSD matrix's smallest slightly negative. */
	*out = fabs(w[dim - 1]) > fabs(w[0]) ? fabs(w[dim - 1]) : fabs(w[0]);
	hp_free(w);
	return HP_OK;
}

/*
 * One side's flushed moments in fresh buffers: mean and (full mode) the
 * scatter matrix with the buffered rows folded in.  *n gets the total.
 */
static void
FlushedCopy(const HpDistState *s, int side, int64_t *n, double **mean, double **m2)
{
	const HpDistSide *sd = &s->side[side];
	int			dim = s->dim;
	size_t		m2len = IsFull(s) ? (size_t) dim * dim : (size_t) dim;

	*n = sd->n;
	*mean = hp_alloc(sizeof(double) * dim);
	*m2 = hp_alloc(sizeof(double) * m2len);
	memcpy(*mean, SideMean(s, side), sizeof(double) * dim);
	memcpy(*m2, SideM2(s, side), sizeof(double) * m2len);
	if (IsFull(s) && sd->nbuf > 0)
	{
		double	   *rows = hp_alloc(sizeof(double) * (size_t) (sd->nbuf + 1) * dim);

		memcpy(rows, SideBuf(s, side), sizeof(double) * (size_t) sd->nbuf * dim);
		FlushRows(dim, n, *mean, *m2, rows, sd->nbuf);
		hp_free(rows);
	}
}

/* Final statistics of a state. */
HpStatus
hp_dist_finalize(const HpDistState *s, HpDistStats *st, HpError *err)
{
	int			dim = s->dim;
	double	   *mean[2] = {NULL, NULL};
	HpStatus	rc = HP_OK;

	memset(st, 0, sizeof(*st));
	st->dim = dim;
	st->full = IsFull(s);
	st->d = st->snr = st->snr_unbiased = st->trace_max = st->concentration = NAN;
	for (int k = 0; k < 2; k++)
	{
		double	   *m2;
		int64_t		n;

		st->trace[k] = st->spectral[k] = NAN;
		FlushedCopy(s, k, &n, &mean[k], &m2);
		st->n[k] = n;
		if (n >= 2)
		{
			double		tr = 0.0;

			for (int j = 0; j < dim; j++)
				tr += st->full ? m2[(size_t) j * dim + j] : m2[j];
			st->trace[k] = tr / (double) (n - 1);
			if (st->full && rc == HP_OK)
			{
				hp_check_interrupts();
				rc = SpectralNorm(dim, m2, &st->spectral[k], err);
				st->spectral[k] /= (double) (n - 1);
			}
		}
		hp_free(m2);
	}
	if (rc == HP_OK && st->n[0] > 0 && st->n[1] > 0)
	{
		double		ss = 0.0;

		st->mean_diff = hp_alloc(sizeof(double) * dim);
		for (int j = 0; j < dim; j++)
		{
			st->mean_diff[j] = mean[0][j] - mean[1][j];
			ss += st->mean_diff[j] * st->mean_diff[j];
		}
		st->d = sqrt(ss);
		/* Undefined (NaN) when either trace is, or when there is no spread at all. */
		if (st->trace[0] + st->trace[1] > 0.0)
		{
			/*
			 * d^2 of sample means overestimates |mu+ - mu-|^2 by
			 * tr S+/n+ + tr S-/n-, which makes small groups look more
			 * distinguishable than they are; the unbiased reading removes
			 * that term so groups of different sizes compare fairly.
			 */
			double		bias = st->trace[0] / st->n[0] + st->trace[1] / st->n[1];

			st->snr = ss / (st->trace[0] + st->trace[1]);
			st->snr_unbiased = fmax(ss - bias, 0.0) / (st->trace[0] + st->trace[1]);
		}
	}
	/* fmax would hide an undefined side; both must be defined. */
	if (!isnan(st->trace[0]) && !isnan(st->trace[1]))
		st->trace_max = st->trace[0] > st->trace[1] ? st->trace[0] : st->trace[1];
	if (!isnan(st->spectral[0]) && !isnan(st->spectral[1]))
		st->concentration = st->spectral[0] > st->spectral[1] ? st->spectral[0] : st->spectral[1];
	hp_free(mean[0]);
	hp_free(mean[1]);
	if (rc != HP_OK)
		hp_dist_stats_free(st);
	return rc;
}

/* Release the mean difference. */
void
hp_dist_stats_free(HpDistStats *st)
{
	hp_free(st->mean_diff);
	st->mean_diff = NULL;
}

/* Write "key":value with a leading comma unless first. */
static void
PutDouble(HpBuf *b, const char *key, double v)
{
	hp_buf_puts(b, ",\"");
	hp_buf_puts(b, key);
	hp_buf_puts(b, "\":");
	hp_json_write_double(b, v);	/* NaN becomes null */
}

/* The statistics as JSON. */
void
hp_dist_stats_json(const HpDistStats *st, HpBuf *b)
{
	hp_buf_puts(b, "{\"n_chosen\":");
	hp_json_write_int64(b, st->n[0]);
	hp_buf_puts(b, ",\"n_rejected\":");
	hp_json_write_int64(b, st->n[1]);
	PutDouble(b, "d", st->d);
	PutDouble(b, "trace_chosen", st->trace[0]);
	PutDouble(b, "trace_rejected", st->trace[1]);
	PutDouble(b, "trace", st->trace_max);
	PutDouble(b, "concentration", st->concentration);
	PutDouble(b, "spectral_chosen", st->spectral[0]);
	PutDouble(b, "spectral_rejected", st->spectral[1]);
	PutDouble(b, "snr", st->snr);
	PutDouble(b, "snr_unbiased", st->snr_unbiased);
	hp_buf_puts(b, ",\"dim\":");
	hp_json_write_int64(b, st->dim);
	hp_buf_puts(b, ",\"covariance\":");
	hp_json_write_string(b, st->full ? "full" : "diagonal");
	hp_buf_puts(b, ",\"mean_diff\":");
	if (st->mean_diff == NULL)
		hp_buf_puts(b, "null");
	else
	{
		hp_buf_putc(b, '[');
		for (int j = 0; j < st->dim; j++)
		{
			if (j)
				hp_buf_putc(b, ',');
			hp_json_write_double(b, st->mean_diff[j]);
		}
		hp_buf_putc(b, ']');
	}
	hp_buf_putc(b, '}');
}

/* Gap matrix from the Gram matrix of the mean differences. */
HpStatus
hp_dist_gaps(const double *D, int k, int dim, double *gap, HpError *err)
{
	double	   *G;

	if (k < 1 || dim < 1)
		return hp_error(err, HP_EINVAL, "priority gaps need at least one behaviour");
	G = hp_alloc(sizeof(double) * (size_t) k * k);
	{
		/*
		 * The gaps are invariant to scaling D, but its Gram matrix over- or
		 * underflows beyond about 1e154 / 1e-154: scale such D to unit norm
		 * (dnrm2 itself is overflow-safe).  Ordinary D is used as is.
		 */
		size_t		n = (size_t) k * dim;
		double		nrm = hp_blas.dnrm2((int) n, D, 1);
		double	   *S = NULL;

		if (nrm > 1e150 || (nrm > 0.0 && nrm < 1e-150))
		{
			double		inv = 1.0 / nrm;

			S = hp_alloc(sizeof(double) * n);
			memcpy(S, D, sizeof(double) * n);
			if (isfinite(inv))
				hp_blas.dscal((int) n, inv, S, 1);
			else
			{
				hp_blas.dscal((int) n, 1.0 / sqrt(nrm), S, 1);
				hp_blas.dscal((int) n, 1.0 / sqrt(nrm), S, 1);
			}
		}
		hp_blas.dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, k, dim, 1.0, S ? S : D, dim, 0.0, G, k);
		if (S)
			hp_free(S);
	}
	for (int i = 0; i < k; i++)
	{
		hp_check_interrupts();
		for (int j = 0; j < k; j++)
		{
			double		gii = G[(size_t) i * k + i],
						gjj = G[(size_t) j * k + j],
						gij = i < j ? G[(size_t) i * k + j] : G[(size_t) j * k + i];
			double		sum2 = gii + 2.0 * gij + gjj;	/* |d_i + d_j|^2 */
			double		mx = sqrt(gii > gjj ? gii : gjj);

			/*
			 * p_i - p_j = (G_ii - G_jj) / |d_i + d_j|: the <b, .> terms
			 * share G_ij and the /2 of b cancels against |b|.
			 */
			if (i == j || !(sum2 > 0.0) || !(mx > 0.0))
				gap[(size_t) i * k + j] = NAN;
			else
				gap[(size_t) i * k + j] = (gii - gjj) / sqrt(sum2) / mx;
		}
	}
	hp_free(G);
	return HP_OK;
}

/* Power-iteration step ------------------------------------------------------ */

size_t
hp_covstep_size(int dim)
{
	return sizeof(HpCovStep) + 3 * sizeof(double) * (size_t) dim;
}

/* Header, zero moments and the fixed vector. */
void
hp_covstep_init(HpCovStep *s, int dim, const double *v)
{
	s->magic = HP_COVSTEP_MAGIC;
	s->version = HP_COVSTEP_VERSION;
	s->flags = 0;
	s->dim = dim;
	s->n = 0;
	memset(s->data, 0, sizeof(double) * 2 * (size_t) dim);
	memcpy(s->data + 2 * (size_t) dim, v, sizeof(double) * dim);
}

/* Validate an untrusted power-step state. */
HpStatus
hp_covstep_check(const HpCovStep *s, size_t len, HpError *err)
{
	if (len < sizeof(HpCovStep) || s->magic != HP_COVSTEP_MAGIC ||
		s->version != HP_COVSTEP_VERSION || s->flags != 0 ||
		s->dim < 1 || s->dim > HP_MAX_DIM || s->n < 0 || len != hp_covstep_size(s->dim))
		return hp_error(err, HP_ECORRUPT, "corrupted hybridpref covariance step state");
	return HP_OK;
}

/* Same vector as the one the state was started with. */
bool
hp_covstep_same_v(const HpCovStep *s, const double *v)
{
	return memcmp(s->data + 2 * (size_t) s->dim, v, sizeof(double) * s->dim) == 0;
}

/*
 * Welford for the product M2 v: M2 grows by (x - mean_old)(x - mean_new)^T,
 * so M2 v grows by (x - mean_old) <x - mean_new, v>, in O(d).
 */
void
hp_covstep_add(HpCovStep *s, const float *x)
{
	int			dim = s->dim;
	double	   *mean = s->data,
			   *acc = s->data + dim,
			   *v = s->data + 2 * (size_t) dim;
	double		inv = 1.0 / (double) (++s->n);
	double		dot = 0.0;

	/* First pass: new mean and <x - mean_new, v>; the old delta is rebuilt below. */
	for (int j = 0; j < dim; j++)
	{
		double		delta = x[j] - mean[j];

		mean[j] += delta * inv;
		dot += (x[j] - mean[j]) * v[j];
	}
	/* x - mean_old = (x - mean_new) / (1 - 1/n), exact in the limit, or 0 for n = 1. */
	if (s->n > 1)
	{
		double		scale = dot * (double) s->n / (double) (s->n - 1);

		for (int j = 0; j < dim; j++)
			acc[j] += (x[j] - mean[j]) * scale;
	}
}

/* Chan merge of M2 v: the cross term is (na nb / n) delta <delta, v>. */
HpStatus
hp_covstep_merge(HpCovStep *dst, const HpCovStep *src, HpError *err)
{
	int			dim = dst->dim;
	double		a = (double) dst->n,
				b = (double) src->n,
				n = a + b,
				dot = 0.0;
	double	   *ma = dst->data,
			   *sa = dst->data + dim;
	const double *mb = src->data,
			   *sb = src->data + dim,
			   *v = dst->data + 2 * (size_t) dim;

	if (dst->dim != src->dim)
		return hp_error(err, HP_EDIM, "covariance step rows have different dimensions: %d and %d",
						dst->dim, src->dim);
	if (!hp_covstep_same_v(dst, src->data + 2 * (size_t) dim))
		return hp_error(err, HP_EINVAL, "covariance step states use different vectors v");
	if (src->n == 0)
		return HP_OK;
	if (dst->n == 0)
	{
		memcpy(dst->data, src->data, sizeof(double) * 2 * (size_t) dim);
		dst->n = src->n;
		return HP_OK;
	}
	for (int j = 0; j < dim; j++)
		dot += (mb[j] - ma[j]) * v[j];
	for (int j = 0; j < dim; j++)
	{
		double		delta = mb[j] - ma[j];

		sa[j] += sb[j] + delta * dot * (a * b / n);
		ma[j] += delta * (b / n);
	}
	dst->n = src->n + dst->n;
	return HP_OK;
}

/* S v = M2 v / (n - 1). */
bool
hp_covstep_result(const HpCovStep *s, double *out)
{
	if (s->n < 2)
		return false;
	for (int j = 0; j < s->dim; j++)
		out[j] = s->data[s->dim + j] / (double) (s->n - 1);
	return true;
}
