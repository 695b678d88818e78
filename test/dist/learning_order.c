/*
 * learning_order.c: do reward models learn behaviours in the order of their
 * distinguishability?  (Im & Li 2024, acceptance test of issue 5.)
 *
 * Several behaviours, each a set of preference pairs whose chosen and
 * rejected embeddings differ in mean by D_b along its own direction, with
 * the same isotropic noise.  One linear Bradley-Terry model r(x) = w.x is
 * trained on all of them together by plain full-batch gradient descent from
 * a random start; the training accuracy of each behaviour is tracked per
 * step.  D_b, SNR and the priority gaps come from the hybridpref core
 * (the same code as hp.distinguishability and hp.priority_gap).
 *
 * Usage: learning_order [csv-out]   (optional CSV of the pairs for SQL);
 * SEED=n in the environment changes the generated data (default 2024).
 * Exit status 0 when the order in which behaviours reach the accuracy
 * threshold is the order of decreasing D, 1 otherwise.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hp_blas.h"
#include "hp_dist.h"
#include "hp_rng.h"

#define NB 4					/* behaviours */
#define DIM 64
#define PAIRS 1000				/* per behaviour */
#define STEPS 3000
#define LR 0.1
#define SIGMA 0.3				/* noise std per coordinate */
#define INIT_NORM 3.0			/* |w0|: a random, untrained start */
#define THRESHOLD 0.90

static const double TrueD[NB] = {3.0, 2.0, 1.5, 1.2};
static const char *const Names[NB] = {"helpful", "honest", "harmless", "concise"};

/* Logistic function without overflow. */
static double
Sigmoid(double z)
{
	return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
}

/* Per-behaviour training accuracy of w: share of pairs with w.(x+ - x-) > 0. */
static void
Accuracy(const double *delta, const double *w, double *margin, double *acc)
{
	int			n = NB * PAIRS;

	hp_blas.dgemv(CblasRowMajor, CblasNoTrans, n, DIM, 1.0, delta, DIM, w, 1, 0.0, margin, 1);
	for (int b = 0; b < NB; b++)
	{
		int			ok = 0;

		for (int i = 0; i < PAIRS; i++)
			ok += margin[b * PAIRS + i] > 0;
		acc[b] = (double) ok / PAIRS;
	}
}

/* Write one embedding as a PostgreSQL array literal. */
static void
PutArray(FILE *f, const float *x)
{
	fputc('"', f);
	fputc('{', f);
	for (int j = 0; j < DIM; j++)
		fprintf(f, j ? ",%.9g" : "%.9g", x[j]);
	fputs("}\"", f);
}

/* Generate, measure, train and report. */
int
main(int argc, char **argv)
{
	HpRng		r;
	float	   *chosen = malloc(sizeof(float) * NB * PAIRS * DIM);
	float	   *rejected = malloc(sizeof(float) * NB * PAIRS * DIM);
	double	   *delta = malloc(sizeof(double) * NB * PAIRS * DIM);
	double	   *margin = malloc(sizeof(double) * NB * PAIRS);
	double	   *coef = malloc(sizeof(double) * NB * PAIRS);
	double		w[DIM],
				grad[DIM],
				acc[NB],
				D[NB],
				snr[NB],
				md[NB * DIM],
				gap[NB * NB];
	int			reached[NB];
	int			report[] = {0, 1, 2, 5, 10, 20, 50, 100, 200, 300, 500, 1000, 2000, 3000};
	int			nreport = sizeof(report) / sizeof(report[0]),
				next = 0;
	HpError		err;
	bool		match = true;

	hp_blas_bind_static();
	hp_blas.set_num_threads(1);
	hp_rng_seed(&r, getenv("SEED") ? strtoull(getenv("SEED"), NULL, 10) : 2024);

	/*
	 * Behaviour b: rejected ~ N(m_b, SIGMA^2 I) around a random location m_b,
	 * chosen ~ N(m_b + D_b e_b, SIGMA^2 I); directions are orthogonal.
	 */
	for (int b = 0; b < NB; b++)
	{
		double		base[DIM];

		for (int j = 0; j < DIM; j++)
			base[j] = hp_rng_normal(&r);
		for (int i = 0; i < PAIRS; i++)
		{
			size_t		row = ((size_t) b * PAIRS + i) * DIM;

			for (int j = 0; j < DIM; j++)
			{
				chosen[row + j] = (float) (base[j] + (j == b ? TrueD[b] : 0) + SIGMA * hp_rng_normal(&r));
				rejected[row + j] = (float) (base[j] + SIGMA * hp_rng_normal(&r));
				delta[row + j] = (double) chosen[row + j] - rejected[row + j];
			}
		}
	}

	/* Distinguishability per behaviour, through the aggregate's own code. */
	for (int b = 0; b < NB; b++)
	{
		HpDistState *s = calloc(1, hp_dist_state_size(DIM));
		HpDistStats st;

		hp_dist_init(s, DIM);
		for (int i = 0; i < PAIRS; i++)
		{
			hp_dist_add(s, HP_DIST_CHOSEN, chosen + ((size_t) b * PAIRS + i) * DIM);
			hp_dist_add(s, HP_DIST_REJECTED, rejected + ((size_t) b * PAIRS + i) * DIM);
		}
		if (hp_dist_finalize(s, &st, &err) != HP_OK)
		{
			fprintf(stderr, "%s\n", err.msg);
			return 2;
		}
		D[b] = st.d;
		snr[b] = st.snr;
		memcpy(md + b * DIM, st.mean_diff, sizeof(double) * DIM);
		hp_dist_stats_free(&st);
		free(s);
	}
	hp_dist_gaps(md, NB, DIM, gap, &err);

	if (argc > 1)
	{
		FILE	   *f = fopen(argv[1], "w");

		if (f == NULL)
		{
			perror(argv[1]);
			return 2;
		}
		for (int b = 0; b < NB; b++)
			for (int i = 0; i < PAIRS; i++)
			{
				size_t		row = ((size_t) b * PAIRS + i) * DIM;

				fprintf(f, "%s,", Names[b]);
				PutArray(f, chosen + row);
				fputc(',', f);
				PutArray(f, rejected + row);
				fputc('\n', f);
			}
		fclose(f);
	}

	/*
	 * A random start of norm INIT_NORM orthogonal to the behaviours'
	 * directions: the model knows none of them and every behaviour starts at
	 * chance, so nothing but the training dynamics orders them.
	 */
	{
		double		nrm = 0;

		for (int j = 0; j < DIM; j++)
		{
			w[j] = j < NB ? 0.0 : hp_rng_normal(&r);
			nrm += w[j] * w[j];
		}
		for (int j = 0; j < DIM; j++)
			w[j] *= INIT_NORM / sqrt(nrm);
	}
	for (int b = 0; b < NB; b++)
		reached[b] = -1;

	printf("Linear Bradley-Terry reward model, full-batch gradient descent (lr %.2g) from a random start (|w0| = %.1f, orthogonal to the behaviours)\n",
		   LR, INIT_NORM);
	printf("%d behaviours x %d pairs, dim %d, noise sd %.2g per coordinate, orthogonal mean shifts\n\n",
		   NB, PAIRS, DIM, SIGMA);
	printf("training accuracy per behaviour:\n%6s", "step");
	for (int b = 0; b < NB; b++)
		printf("  %9s", Names[b]);
	printf("\n");

	for (int t = 0; t <= STEPS; t++)
	{
		int			n = NB * PAIRS;

		Accuracy(delta, w, margin, acc);
		for (int b = 0; b < NB; b++)
			if (reached[b] < 0 && acc[b] >= THRESHOLD)
				reached[b] = t;
		if (next < nreport && report[next] == t)
		{
			printf("%6d", t);
			for (int b = 0; b < NB; b++)
				printf("  %9.3f", acc[b]);
			printf("\n");
			next++;
		}
		if (t == STEPS)
			break;
		/* Gradient of the mean loss log(1 + exp(-w.delta)). */
		for (int i = 0; i < n; i++)
			coef[i] = -Sigmoid(-margin[i]) / n;
		hp_blas.dgemv(CblasRowMajor, CblasTrans, n, DIM, 1.0, delta, DIM, coef, 1, 0.0, grad, 1);
		hp_blas.daxpy(DIM, -LR, grad, 1, w, 1);
	}

	printf("\n%-10s %8s %8s %10s %16s\n", "behaviour", "true D", "D", "SNR",
		   "step to 90% acc");
	for (int b = 0; b < NB; b++)
	{
		char		step[32];

		if (reached[b] >= 0)
			snprintf(step, sizeof(step), "%d", reached[b]);
		else
			snprintf(step, sizeof(step), "not reached");
		printf("%-10s %8.2f %8.4f %10.5f %16s\n", Names[b], TrueD[b], D[b], snr[b], step);
	}

	printf("\npriority gaps (row before column when > 0):\n%10s", "");
	for (int j = 0; j < NB; j++)
		printf(" %9s", Names[j]);
	printf("\n");
	for (int i = 0; i < NB; i++)
	{
		printf("%-10s", Names[i]);
		for (int j = 0; j < NB; j++)
		{
			if (i == j)
				printf(" %9s", "-");
			else
				printf(" %9.4f", gap[i * NB + j]);
		}
		printf("\n");
	}

	/*
	 * The claim: sorting by measured D (descending) gives the order in which
	 * behaviours reach the threshold (ties allowed; unreached ones last).
	 */
	{
		int			byD[NB],
					bySteps[NB];

		for (int b = 0; b < NB; b++)
			byD[b] = bySteps[b] = b;
		for (int a = 0; a < NB; a++)
			for (int b = a + 1; b < NB; b++)
			{
				if (D[byD[b]] > D[byD[a]])
				{
					int			t = byD[a];

					byD[a] = byD[b];
					byD[b] = t;
				}
				{
					long		sa = reached[bySteps[a]] < 0 ? 1L << 40 : reached[bySteps[a]];
					long		sb = reached[bySteps[b]] < 0 ? 1L << 40 : reached[bySteps[b]];

					if (sb < sa)
					{
						int			t = bySteps[a];

						bySteps[a] = bySteps[b];
						bySteps[b] = t;
					}
				}
			}
		printf("\norder by D (largest first):   ");
		for (int a = 0; a < NB; a++)
			printf("%s%s", a ? " > " : "", Names[byD[a]]);
		printf("\norder reaching 90%% accuracy:  ");
		for (int a = 0; a < NB; a++)
			printf("%s%s", a ? ", " : "", Names[bySteps[a]]);
		/* Every behaviour is learned, none before one with a larger D. */
		for (int a = 0; a < NB; a++)
			if (reached[byD[a]] < 0 || (a > 0 && reached[byD[a]] < reached[byD[a - 1]]))
				match = false;
		printf("\norder matches: %s\n", match ? "yes" : "no");
	}
	free(chosen);
	free(rejected);
	free(delta);
	free(margin);
	free(coef);
	return match ? 0 : 1;
}
