/*
 * test_main.c: runs every core unit test without a server.
 * Prints "N passed, M failed" last and exits non-zero on any failure.
 */
#include <stdio.h>

#include "hp_blas.h"
#include "tests.h"

int			hp_tests_passed = 0;
int			hp_tests_failed = 0;

int
main(void)
{
	hp_blas_bind_static();
	hp_blas.set_num_threads(1);
	run_model_tests();
	run_embed_tests();
	run_train_tests();
	run_score_tests();
	run_features_tests();
	run_dist_tests();
	run_simulate_tests();
	run_ppm_tests();
	run_newton_tests();
	printf("core: %d passed, %d failed\n", hp_tests_passed, hp_tests_failed);
	fflush(stdout);			/* LeakSanitizer exits before stdio flushes */
	return hp_tests_failed ? 1 : 0;
}
