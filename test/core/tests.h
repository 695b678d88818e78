/*
 * tests.h: a minimal assertion harness for the core unit tests.
 * Each area file defines one run_*_tests() entry called from test_main.c.
 */
#ifndef HP_TESTS_H
#define HP_TESTS_H

#include <math.h>
#include <stdio.h>

extern int	hp_tests_passed;
extern int	hp_tests_failed;

#define CHECK(cond) do { \
	if (cond) hp_tests_passed++; \
	else { hp_tests_failed++; fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_NEAR(a, b, tol) do { \
	double _a = (a), _b = (b); \
	if (fabs(_a - _b) <= (tol)) hp_tests_passed++; \
	else { hp_tests_failed++; fprintf(stderr, "FAIL %s:%d: %s = %.10g, %s = %.10g (tol %g)\n", \
		__FILE__, __LINE__, #a, _a, #b, _b, (double) (tol)); } \
} while (0)

void		run_model_tests(void);
void		run_embed_tests(void);
void		run_train_tests(void);
void		run_score_tests(void);
void		run_features_tests(void);
void		run_dist_tests(void);
void		run_simulate_tests(void);
void		run_ppm_tests(void);
void		run_newton_tests(void);

#endif
