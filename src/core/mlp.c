/*
 * mlp.c: MLP ensemble reward heads: forward pass, backpropagation and Adam.
 *
 * Activations of all heads sit side by side in one matrix (rows x
 * heads*width), so the first layer is a single gemm for every head and the
 * deeper layers are one gemm per head on strided blocks.  No per-row loops
 * do what BLAS does; elementwise work (ReLU, Adam) is the only looping.
 */
#include "hp_mlp.h"

#include <math.h>
#include <string.h>

#include "hp_blas.h"
#include "hp_rng.h"
#include "hp_train.h"

#define ADAM_B1 0.9
#define ADAM_B2 0.999
#define ADAM_EPS 1e-8

typedef struct Net
{
	int			d,
				H,
				L;
	int			w[HP_MLP_MAX_LAYERS];
	size_t		offW[HP_MLP_MAX_LAYERS],
				offb[HP_MLP_MAX_LAYERS],
				offwo,
				size;
	float	   *theta;			/* all parameters, flat */
} Net;

static const char *const WName[HP_MLP_MAX_LAYERS] = {"W1", "W2", "W3", "W4"};
static const char *const BName[HP_MLP_MAX_LAYERS] = {"b1", "b2", "b3", "b4"};

/* Lay out parameter offsets for a shape. */
static void
NetLayout(Net *n, int d, int H, int L, const int *w)
{
	size_t		off = 0;

	n->d = d;
	n->H = H;
	n->L = L;
	for (int l = 0; l < L; l++)
	{
		int			fan = l == 0 ? d : w[l - 1];

		n->w[l] = w[l];
		n->offW[l] = off;
		off += (size_t) H * w[l] * fan;
		n->offb[l] = off;
		off += (size_t) H * w[l];
	}
	n->offwo = off;
	off += (size_t) H * w[L - 1];
	n->size = off;
}

/* View of a Net as an HpMlp. */
static HpMlp
NetView(const Net *n)
{
	HpMlp		v;

	memset(&v, 0, sizeof(v));
	v.dim = n->d;
	v.heads = n->H;
	v.nlayers = n->L;
	for (int l = 0; l < n->L; l++)
	{
		v.width[l] = n->w[l];
		v.W[l] = n->theta + n->offW[l];
		v.b[l] = n->theta + n->offb[l];
	}
	v.wo = n->theta + n->offwo;
	return v;
}

/* Bind a view to a decoded model, checking shapes. */
HpStatus
hp_mlp_view(const HpModel *m, HpMlp *v, HpError *err)
{
	const HpTensor *wo = hp_model_tensor(m, "wo");
	int			H = (int) m->heads,
				fan = (int) m->dim;

	memset(v, 0, sizeof(*v));
	if (m->kind != HP_KIND_MLP)
		return hp_error(err, HP_EINVAL, "model is not an MLP ensemble");
	v->dim = (int) m->dim;
	v->heads = H;
	for (int l = 0; l < HP_MLP_MAX_LAYERS; l++)
	{
		const HpTensor *W = hp_model_tensor(m, WName[l]);
		const HpTensor *b = hp_model_tensor(m, BName[l]);

		if (W == NULL)
			break;
		if (b == NULL || W->dtype != HP_F32 || b->dtype != HP_F32 || H < 1 ||
			W->rows == 0 || W->rows % H != 0 || (int) W->cols != fan || b->rows != (uint32_t) H ||
			b->cols != W->rows / H)
			return hp_error(err, HP_ECORRUPT, "MLP model has inconsistent layer %d shapes", l + 1);
		v->width[l] = (int) (W->rows / H);
		v->W[l] = W->data;
		v->b[l] = b->data;
		fan = v->width[l];
		v->nlayers = l + 1;
	}
	if (v->nlayers == 0 || wo == NULL || wo->dtype != HP_F32 ||
		wo->rows != (uint32_t) H || (int) wo->cols != fan)
		return hp_error(err, HP_ECORRUPT, "MLP model has an inconsistent output layer");
	v->wo = wo->data;
	return HP_OK;
}

/* Scratch floats for m rows: two activation buffers of the widest layer. */
size_t
hp_mlp_scratch(const HpMlp *v, int m)
{
	int			widest = 0;

	for (int l = 0; l < v->nlayers; l++)
		if (v->width[l] > widest)
			widest = v->width[l];
	return 2 * (size_t) m * v->heads * widest;
}

/* act = relu(in_h W_h^T + b_h) for every head; layer 0 shares the input. */
static void
Layer(const HpMlp *v, int l, const float *in, int m, float *act)
{
	int			H = v->heads,
				w = v->width[l],
				fan = l == 0 ? v->dim : v->width[l - 1];
	size_t		ld = (size_t) H * w;

	for (int i = 0; i < m; i++)
		memcpy(act + i * ld, v->b[l], sizeof(float) * ld);
	if (m == 1)
	{
		/* One row (per-row scoring): gemv avoids gemm's packing overhead. */
		if (l == 0)
			hp_blas.sgemv(CblasRowMajor, CblasNoTrans, H * w, fan, 1.0f, v->W[0], fan,
						  in, 1, 1.0f, act, 1);
		else
			for (int h = 0; h < H; h++)
				hp_blas.sgemv(CblasRowMajor, CblasNoTrans, w, fan, 1.0f, v->W[l] + (size_t) h * w * fan,
							  fan, in + (size_t) h * fan, 1, 1.0f, act + (size_t) h * w, 1);
	}
	else if (l == 0)
		hp_blas.sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, H * w, fan, 1.0f,
					  in, fan, v->W[0], fan, 1.0f, act, (int) ld);
	else
		for (int h = 0; h < H; h++)
			hp_blas.sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, w, fan, 1.0f,
						  in + (size_t) h * fan, H * fan, v->W[l] + (size_t) h * w * fan, fan,
						  1.0f, act + (size_t) h * w, (int) ld);
	for (size_t k = 0; k < (size_t) m * ld; k++)
		act[k] = act[k] > 0.0f ? act[k] : 0.0f;
}

/* Output rewards out (m x H) from the last activations. */
static void
Output(const HpMlp *v, const float *act, int m, float *out)
{
	int			H = v->heads,
				w = v->width[v->nlayers - 1];

	for (int h = 0; h < H; h++)
		hp_blas.sgemv(CblasRowMajor, CblasNoTrans, m, w, 1.0f, act + (size_t) h * w, H * w,
					  v->wo + (size_t) h * w, 1, 0.0f, out + h, H);
}

/* Rewards of m rows for every head. */
void
hp_mlp_forward(const HpMlp *v, const float *X, int m, float *out, float *scratch)
{
	size_t		half = hp_mlp_scratch(v, m) / 2;
	float	   *a = scratch,
			   *b = scratch + half;
	const float *in = X;

	for (int l = 0; l < v->nlayers; l++)
	{
		float	   *dst = (l % 2 == 0) ? a : b;

		Layer(v, l, in, m, dst);
		in = dst;
	}
	Output(v, in, m, out);
}

/* He-uniform initialisation, seeded per head so heads differ reproducibly. */
static void
InitNet(Net *n, int64_t seed)
{
	memset(n->theta, 0, sizeof(float) * n->size);
	for (int h = 0; h < n->H; h++)
	{
		HpRng		r;

		hp_rng_seed(&r, hp_mix64((uint64_t) seed) ^ (uint64_t) (h + 1) * 0x9e3779b97f4a7c15ULL);
		for (int l = 0; l < n->L; l++)
		{
			int			fan = l == 0 ? n->d : n->w[l - 1];
			double		lim = sqrt(6.0 / fan);
			float	   *W = n->theta + n->offW[l] + (size_t) h * n->w[l] * fan;

			for (size_t k = 0; k < (size_t) n->w[l] * fan; k++)
				W[k] = (float) ((2.0 * hp_rng_uniform(&r) - 1.0) * lim);
		}
		{
			int			w = n->w[n->L - 1];
			double		lim = sqrt(3.0 / w);
			float	   *wo = n->theta + n->offwo + (size_t) h * w;

			for (int k = 0; k < w; k++)
				wo[k] = (float) ((2.0 * hp_rng_uniform(&r) - 1.0) * lim);
		}
	}
}

/* Copy warm-start parameters from a model of the same shape. */
static HpStatus
WarmStartNet(Net *n, const HpModel *init, HpError *err)
{
	HpMlp		v;

	if (init->kind != HP_KIND_MLP)
		return hp_error(err, HP_EINVAL, "init model must be an MLP ensemble for arch \"mlp\"");
	if (hp_mlp_view(init, &v, err) != HP_OK)
		return err->code;
	if (v.dim != n->d || v.heads != n->H || v.nlayers != n->L)
		return hp_error(err, HP_EDIM, "init model shape (dim %d, heads %d, %d layers) differs from the options (dim %d, heads %d, %d layers)",
						v.dim, v.heads, v.nlayers, n->d, n->H, n->L);
	for (int l = 0; l < n->L; l++)
	{
		int			fan = l == 0 ? n->d : n->w[l - 1];

		if (v.width[l] != n->w[l])
			return hp_error(err, HP_EDIM, "init model layer %d has width %d, options say %d",
							l + 1, v.width[l], n->w[l]);
		memcpy(n->theta + n->offW[l], v.W[l], sizeof(float) * n->H * n->w[l] * fan);
		memcpy(n->theta + n->offb[l], v.b[l], sizeof(float) * n->H * n->w[l]);
	}
	memcpy(n->theta + n->offwo, v.wo, sizeof(float) * n->H * n->w[n->L - 1]);
	return HP_OK;
}

typedef struct Work
{
	float	   *X;				/* M x d batch: a rows then b rows */
	float	   *act[HP_MLP_MAX_LAYERS];
	float	   *dact[HP_MLP_MAX_LAYERS];
	float	   *r,
			   *dr;				/* M x H */
	float	   *ones;
	float	   *grad;			/* like theta */
} Work;

/* Gradient of the batch loss into w->grad; returns the mean head loss. */
static double
BatchGradient(const Net *n, Work *w, const HpPairSet *ps, const int64_t *rows, int m,
			  const float *C, double lambda)
{
	HpMlp		v = NetView(n);
	int			H = n->H,
				L = n->L,
				M = 2 * m;
	double		loss = 0.0;

	for (int i = 0; i < m; i++)
	{
		memcpy(w->X + (size_t) i * n->d, ps->A + rows[i] * n->d, sizeof(float) * n->d);
		memcpy(w->X + (size_t) (m + i) * n->d, ps->B + rows[i] * n->d, sizeof(float) * n->d);
	}
	for (int l = 0; l < L; l++)
		Layer(&v, l, l == 0 ? w->X : w->act[l - 1], M, w->act[l]);
	Output(&v, w->act[L - 1], M, w->r);

	/* dLoss/dr for a and b rows; weights are per row and head. */
	for (int i = 0; i < m; i++)
		for (int h = 0; h < H; h++)
		{
			double		z = (double) w->r[i * H + h] - w->r[(m + i) * H + h];
			double		p = ps->p[rows[i]];
			double		c = C[rows[i] * H + h] / m;
			double		s = z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
			double		sp = z > 0 ? log1p(exp(-z)) : -z + log1p(exp(z));

			loss += c * (sp + (1.0 - p) * z);
			w->dr[i * H + h] = (float) (c * (s - p));
			w->dr[(m + i) * H + h] = (float) (-c * (s - p));
		}

	memset(w->grad, 0, sizeof(float) * n->size);
	{
		int			wl = n->w[L - 1];
		float	   *gwo = w->grad + n->offwo;

		for (int h = 0; h < H; h++)
		{
			hp_blas.sgemv(CblasRowMajor, CblasTrans, M, wl, 1.0f, w->act[L - 1] + (size_t) h * wl, H * wl,
						  w->dr + h, H, 0.0f, gwo + (size_t) h * wl, 1);
			/* Outer product dr_h wo_h^T as a rank-1 gemm. */
			hp_blas.sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, wl, 1, 1.0f, w->dr + h, H,
						  v.wo + (size_t) h * wl, wl, 0.0f, w->dact[L - 1] + (size_t) h * wl, H * wl);
		}
	}
	for (int l = L - 1; l >= 0; l--)
	{
		int			wl = n->w[l],
					fan = l == 0 ? n->d : n->w[l - 1];
		size_t		ld = (size_t) H * wl;
		float	   *da = w->dact[l];

		for (size_t k = 0; k < (size_t) M * ld; k++)
			if (w->act[l][k] <= 0.0f)
				da[k] = 0.0f;
		hp_blas.sgemv(CblasRowMajor, CblasTrans, M, (int) ld, 1.0f, da, (int) ld, w->ones, 1, 0.0f,
					  w->grad + n->offb[l], 1);
		if (l == 0)
		{
			hp_blas.sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int) ld, n->d, M, 1.0f, da, (int) ld,
						  w->X, n->d, 0.0f, w->grad + n->offW[0], n->d);
			break;
		}
		for (int h = 0; h < H; h++)
		{
			const float *Wh = v.W[l] + (size_t) h * wl * fan;

			hp_blas.sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, wl, fan, M, 1.0f, da + (size_t) h * wl,
						  (int) ld, w->act[l - 1] + (size_t) h * fan, H * fan, 0.0f,
						  w->grad + n->offW[l] + (size_t) h * wl * fan, fan);
			hp_blas.sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, fan, wl, 1.0f, da + (size_t) h * wl,
						  (int) ld, Wh, fan, 0.0f, w->dact[l - 1] + (size_t) h * fan, H * fan);
		}
	}
	/* L2 on weights (not biases), on the mean loss like the linear heads. */
	for (int l = 0; l < L; l++)
	{
		size_t		cnt = n->offb[l] - n->offW[l];

		hp_blas.saxpy((int) cnt, (float) lambda, n->theta + n->offW[l], 1, w->grad + n->offW[l], 1);
	}
	hp_blas.saxpy(H * n->w[L - 1], (float) lambda, n->theta + n->offwo, 1, w->grad + n->offwo, 1);
	return loss / H;
}

/* Train the ensemble; see hp_mlp.h. */
HpStatus
hp_mlp_train(const HpPairSet *ps, const HpTrainOptions *opt, const char *options_json,
			 const HpModel *init, HpModel *out, HpError *err)
{
	Net			n;
	Work		w;
	int			H = opt->heads;
	int			B = opt->batch_size;
	float	   *C,
			   *mom,
			   *vel;
	int64_t    *perm;
	double		loss = 0.0;
	int64_t		step = 0;
	HpStatus	st = HP_OK;
	HpRng		r;

	if (ps->n < 1)
		return hp_error(err, HP_EDATA, "no training rows");
	if (opt->uncertainty != HP_UNC_ENSEMBLE)
		return hp_error(err, HP_EINVAL, "arch \"mlp\" supports only uncertainty \"ensemble\"");
	if (H < 1 || H > HP_MAX_HEADS || opt->nhidden < 1 || opt->nhidden > HP_MLP_MAX_LAYERS)
		return hp_error(err, HP_EINVAL, "invalid MLP shape");
	if (B > ps->n)
		B = (int) ps->n;
	NetLayout(&n, ps->dim, H, opt->nhidden, opt->hidden);
	n.theta = hp_alloc(sizeof(float) * n.size);
	InitNet(&n, opt->seed);
	if (init && (st = WarmStartNet(&n, init, err)) != HP_OK)
	{
		hp_free(n.theta);
		return st;
	}

	memset(&w, 0, sizeof(w));
	w.X = hp_alloc(sizeof(float) * 2 * B * n.d);
	for (int l = 0; l < n.L; l++)
	{
		w.act[l] = hp_alloc(sizeof(float) * 2 * B * H * n.w[l]);
		w.dact[l] = hp_alloc(sizeof(float) * 2 * B * H * n.w[l]);
	}
	w.r = hp_alloc(sizeof(float) * 2 * B * H);
	w.dr = hp_alloc(sizeof(float) * 2 * B * H);
	w.ones = hp_alloc(sizeof(float) * 2 * B);
	for (int i = 0; i < 2 * B; i++)
		w.ones[i] = 1.0f;
	w.grad = hp_alloc(sizeof(float) * n.size);
	mom = hp_alloc0(sizeof(float) * n.size);
	vel = hp_alloc0(sizeof(float) * n.size);
	perm = hp_alloc(sizeof(int64_t) * ps->n);

	/* Bootstrap weights, normalised to mean 1 per head. */
	C = hp_alloc(sizeof(float) * ps->n * H);
	for (int h = 0; h < H; h++)
	{
		double		sum = 0.0;

		for (int64_t i = 0; i < ps->n; i++)
			sum += (C[i * H + h] = H == 1 ? 1.0f : hp_boot_weight(ps->key[i], opt->seed, h));
		for (int64_t i = 0; i < ps->n; i++)
			C[i * H + h] = sum > 0 ? (float) (C[i * H + h] * ps->n / sum) : 1.0f;
	}

	hp_rng_seed(&r, hp_mix64((uint64_t) opt->seed ^ 0x5eedULL));
	for (int64_t i = 0; i < ps->n; i++)
		perm[i] = i;
	for (int epoch = 0; epoch < opt->epochs; epoch++)
	{
		double		eloss = 0.0;
		int			nb = 0;

		for (int64_t i = ps->n - 1; i > 0; i--)
		{
			int64_t		j = (int64_t) hp_rng_below(&r, (uint64_t) i + 1),
						t = perm[i];

			perm[i] = perm[j];
			perm[j] = t;
		}
		for (int64_t s = 0; s < ps->n; s += B)
		{
			int			m = (int) (ps->n - s < B ? ps->n - s : B);
			double		b1c,
						b2c;

			eloss += BatchGradient(&n, &w, ps, perm + s, m, C, opt->lambda);
			nb++;
			step++;
			b1c = 1.0 - pow(ADAM_B1, (double) step);
			b2c = 1.0 - pow(ADAM_B2, (double) step);
			for (size_t k = 0; k < n.size; k++)
			{
				double		g = w.grad[k];

				mom[k] = (float) (ADAM_B1 * mom[k] + (1.0 - ADAM_B1) * g);
				vel[k] = (float) (ADAM_B2 * vel[k] + (1.0 - ADAM_B2) * g * g);
				n.theta[k] -= (float) (opt->lr * (mom[k] / b1c) / (sqrt(vel[k] / b2c) + ADAM_EPS));
			}
			hp_check_interrupts();
		}
		loss = eloss / nb;
	}
	if (!hp_all_finite_f(n.theta, n.size) || !isfinite(loss))
	{
		st = hp_error(err, HP_EDATA, "MLP training diverged to non-finite weights");
		hp_error_detail(err, "Lower lr or raise lambda.");
		goto done;
	}

	memset(out, 0, sizeof(*out));
	out->version = HP_MODEL_FORMAT_VERSION;
	out->kind = HP_KIND_MLP;
	out->dim = (uint32_t) n.d;
	out->heads = (uint32_t) H;
	out->uncertainty = HP_UNC_ENSEMBLE;
	out->lambda = opt->lambda;
	out->loss = loss;
	out->rows = ps->n;
	out->seed = opt->seed;
	{
		const char *o = options_json ? options_json : "{}";
		size_t		len = strlen(o);

		out->options = hp_alloc(len + 1);
		memcpy(out->options, o, len + 1);
	}
	for (int l = 0; l < n.L; l++)
	{
		int			fan = l == 0 ? n.d : n.w[l - 1];

		hp_model_add_tensor(out, WName[l], HP_F32, (uint32_t) (H * n.w[l]), (uint32_t) fan,
							n.theta + n.offW[l]);
		hp_model_add_tensor(out, BName[l], HP_F32, (uint32_t) H, (uint32_t) n.w[l], n.theta + n.offb[l]);
	}
	hp_model_add_tensor(out, "wo", HP_F32, (uint32_t) H, (uint32_t) n.w[n.L - 1], n.theta + n.offwo);

done:
	hp_free(n.theta);
	hp_free(w.X);
	for (int l = 0; l < n.L; l++)
	{
		hp_free(w.act[l]);
		hp_free(w.dact[l]);
	}
	hp_free(w.r);
	hp_free(w.dr);
	hp_free(w.ones);
	hp_free(w.grad);
	hp_free(mom);
	hp_free(vel);
	hp_free(perm);
	hp_free(C);
	return st;
}
