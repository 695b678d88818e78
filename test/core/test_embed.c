/*
 * test_embed.c: tokenizer and hp_embed unit tests.
 */
#include <stdlib.h>
#include <string.h>

#include "hp_embed.h"
#include "hp_rng.h"
#include "tests.h"

static long live_allocs;
static long interrupts;

/* Counting allocator: every hp_embed call must free what it took. */
static void *
CountAlloc(size_t size)
{
	live_allocs++;
	return malloc(size);
}

/* Counterpart of CountAlloc. */
static void
CountRelease(void *p)
{
	live_allocs--;
	free(p);
}

/* Counting interrupt hook: long texts must poll it. */
static void
CountInterrupt(void)
{
	interrupts++;
}

/* Embed a NUL-terminated string, asserting success. */
static void
Embed(const char *s, int dim, float *out)
{
	HpError		err;

	CHECK(hp_embed(s, strlen(s), dim, out, &err) == HP_OK);
}

/* Dot product in double. */
static double
Dot(const float *a, const float *b, int n)
{
	double		s = 0.0;

	for (int i = 0; i < n; i++)
		s += (double) a[i] * b[i];
	return s;
}

/* Tokens, offsets, case folding and UTF-8-safe truncation. */
static void
TestTokenizer(void)
{
	const char *s = " Héllo, WORLD_42!!x";
	HpTokenizer tz;
	HpToken		tok;
	char		longtok[200];

	hp_tokenizer_init(&tz, s, strlen(s));
	CHECK(hp_tokenizer_next(&tz, &tok) && strcmp(tok.buf, "héllo") == 0);
	CHECK(tok.start == 1 && tok.end == 7 && tok.len == 6);
	CHECK(hp_tokenizer_next(&tz, &tok) && strcmp(tok.buf, "world") == 0);
	CHECK(hp_tokenizer_next(&tz, &tok) && strcmp(tok.buf, "42") == 0);
	CHECK(hp_tokenizer_next(&tz, &tok) && strcmp(tok.buf, "x") == 0);
	CHECK(!hp_tokenizer_next(&tz, &tok));
	CHECK(!hp_tokenizer_next(&tz, &tok));

	/* 100 'A': truncated to 64 'a'. */
	memset(longtok, 'A', 100);
	hp_tokenizer_init(&tz, longtok, 100);
	CHECK(hp_tokenizer_next(&tz, &tok) && tok.len == HP_TOKEN_MAX && tok.buf[63] == 'a');
	CHECK(tok.end == 100 && !hp_tokenizer_next(&tz, &tok));

	/* 63 'a' then "é" (2 bytes) straddling the cut: the whole é is dropped. */
	memset(longtok, 'a', 63);
	strcpy(longtok + 63, "\xc3\xa9zz");
	hp_tokenizer_init(&tz, longtok, strlen(longtok));
	CHECK(hp_tokenizer_next(&tz, &tok) && tok.len == 63);

	/* Only separators, and an empty or NULL text: no tokens. */
	hp_tokenizer_init(&tz, " ,.;-_\t\n!", 9);
	CHECK(!hp_tokenizer_next(&tz, &tok));
	hp_tokenizer_init(&tz, NULL, 0);
	CHECK(!hp_tokenizer_next(&tz, &tok));
}

/*
 * Golden vectors at dim 16, reviewed against an independent Python
 * reimplementation of the spec; they pin the hash, signs, tf weighting and
 * tokenisation for every platform.
 */
static void
TestGolden(void)
{
	static const float fox[16] = {
		0, -0.198995456f, -0.198995456f, 0.198995456f, 0.198995456f,
		-0.397990912f, 0.198995456f, -0.198995456f, 0, 0.535924017f,
		0, 0, 0, 0.397990912f, 0.397990912f, 0
	};
	static const float utf8[16] = {
		-0.301511347f, 0, 0, 0, 0, 0, -0.603022695f, -0.603022695f,
		0.301511347f, 0, 0, -0.301511347f, 0, 0, 0, 0
	};
	float		out[16];

	Embed("The quick brown fox jumps over the lazy dog.", 16, out);
	for (int i = 0; i < 16; i++)
		CHECK_NEAR(out[i], fox[i], 1e-8);
	Embed("café naïve 日本語 text", 16, out);
	for (int i = 0; i < 16; i++)
		CHECK_NEAR(out[i], utf8[i], 1e-8);
	/* Bucket 9 holds "the" (tf 2: 1 + ln 2) and "jumps" (tf 1: 1). */
	CHECK_NEAR(fox[9] / fox[3], 2.0 + log(2.0), 1e-6);
}

/* Unit norm, determinism, case/punctuation invariance, similarity order. */
static void
TestProperties(void)
{
	float		a[256],
				b[256],
				c[256];

	Embed("Reward models learn from human preferences.", 256, a);
	CHECK_NEAR(Dot(a, a, 256), 1.0, 1e-6);
	Embed("Reward models learn from human preferences.", 256, b);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	Embed("REWARD models -- learn, from: human preferences!!!", 256, b);
	CHECK(memcmp(a, b, sizeof(a)) == 0);

	/* Similar texts are closer than unrelated ones. */
	Embed("Reward models learn from human preference labels.", 256, b);
	Embed("The weather in Lisbon is sunny today.", 256, c);
	CHECK(Dot(a, b, 256) > 0.5);
	CHECK(Dot(a, b, 256) > Dot(a, c, 256) + 0.3);

	/* Same unigrams, different bigrams: related but not equal. */
	Embed("dog bites man", 256, a);
	Embed("man bites dog", 256, b);
	CHECK(Dot(a, b, 256) < 0.9 && Dot(a, b, 256) > 0.2);
	/* The bigram separator: "ab c" and "a bc" share nothing by design. */
	Embed("ab c", 256, a);
	Embed("a bc", 256, b);
	CHECK(memcmp(a, b, sizeof(a)) != 0);

	/* dim 1: the sign of the sum; dim HP_MAX_DIM works. */
	Embed("hello world", 1, a);
	CHECK(a[0] == 1.0f || a[0] == -1.0f);
	{
		float	   *big = malloc(sizeof(float) * HP_MAX_DIM);

		Embed("hello world", HP_MAX_DIM, big);
		CHECK_NEAR(Dot(big, big, HP_MAX_DIM), 1.0, 1e-6);
		free(big);
	}
}

/* No tokens gives zeros; bad dims and buffers are HP_EINVAL. */
static void
TestEdges(void)
{
	float		out[8];
	HpError		err;
	static const float zero[8];

	memset(out, 0x7f, sizeof(out));
	Embed("", 8, out);
	CHECK(memcmp(out, zero, sizeof(out)) == 0);
	memset(out, 0x7f, sizeof(out));
	Embed(" ... ,,, !!! \t\n ---", 8, out);
	CHECK(memcmp(out, zero, sizeof(out)) == 0);
	CHECK(hp_embed(NULL, 0, 8, out, &err) == HP_OK);

	CHECK(hp_embed("x", 1, 0, out, &err) == HP_EINVAL);
	CHECK(strstr(err.msg, "between 1 and 16384") != NULL);
	CHECK(strcmp(err.detail, "dim is 0.") == 0);
	CHECK(hp_embed("x", 1, -1, out, &err) == HP_EINVAL);
	CHECK(hp_embed("x", 1, HP_MAX_DIM + 1, out, &err) == HP_EINVAL);
	CHECK(hp_embed("x", 1, 8, NULL, &err) == HP_EINVAL);
	CHECK(hp_embed(NULL, 3, 8, out, &err) == HP_EINVAL);
	CHECK(hp_embed("x", 1, 0, out, NULL) == HP_EINVAL);
}

/* Pseudo-random words of 2..10 letters separated by spaces; NUL-terminated. */
static char *
RandomText(size_t len, uint64_t seed)
{
	char	   *s = malloc(len + 1);
	HpRng		r;
	size_t		i = 0;

	hp_rng_seed(&r, seed);
	while (i < len)
	{
		int			w = 2 + (int) hp_rng_below(&r, 9);

		for (int k = 0; k < w && i < len; k++)
			s[i++] = (char) ('a' + hp_rng_below(&r, 26));
		if (i < len)
			s[i++] = ' ';
	}
	s[len] = '\0';
	return s;
}

/* 1 MB and 4 MB (chunked past HP_EMBED_MAX_FEATURES) texts; no leaks. */
static void
TestLongAndMemory(void)
{
	HpHooks		saved = hp_hooks;
	char	   *s = RandomText(1 << 20, 42);
	float	   *a = malloc(sizeof(float) * 1024);
	float	   *b = malloc(sizeof(float) * 1024);

	hp_hooks.alloc = CountAlloc;
	hp_hooks.release = CountRelease;
	hp_hooks.interrupt = CountInterrupt;
	live_allocs = interrupts = 0;

	Embed(s, 1024, a);
	CHECK_NEAR(Dot(a, a, 1024), 1.0, 1e-5);
	CHECK(live_allocs == 0);
	CHECK(interrupts >= (1 << 20) / 7 / 4096);	/* ~150k tokens */
	free(s);

	s = RandomText(4 << 20, 7);
	Embed(s, 1024, a);
	Embed(s, 1024, b);
	CHECK_NEAR(Dot(a, a, 1024), 1.0, 1e-5);
	CHECK(memcmp(a, b, sizeof(float) * 1024) == 0);
	CHECK(live_allocs == 0);
	free(s);

	/* Errors allocate nothing. */
	{
		HpError		err;

		CHECK(hp_embed("x", 1, 0, a, &err) == HP_EINVAL && live_allocs == 0);
	}
	hp_hooks = saved;
	free(a);
	free(b);
}

/* Entry point called from test_main.c. */
void
run_embed_tests(void)
{
	TestTokenizer();
	TestGolden();
	TestProperties();
	TestEdges();
	TestLongAndMemory();
}
