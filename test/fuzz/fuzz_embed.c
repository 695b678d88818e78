/*
 * fuzz_embed.c: libFuzzer target for the tokenizer and hp_embed.
 * The first two bytes choose dim (1..HP_MAX_DIM, small ones favoured), the
 * rest is the text.  Checks: success, finite output, unit or zero norm,
 * tokens within bounds and consistent with the text.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hp_embed.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Token invariants: in order, inside the text, bounded, no separators. */
static void
CheckTokens(const char *text, size_t len)
{
	HpTokenizer tz;
	HpToken		tok;
	size_t		last = 0;

	hp_tokenizer_init(&tz, text, len);
	while (hp_tokenizer_next(&tz, &tok))
	{
		if (tok.start < last || tok.end > len || tok.start >= tok.end ||
			tok.len < 1 || tok.len > HP_TOKEN_MAX ||
			(size_t) tok.len > tok.end - tok.start || tok.buf[tok.len] != '\0' ||
			strlen(tok.buf) != (size_t) tok.len)
			abort();
		last = tok.end;
	}
}

/* One input: dim from bytes 0-1, text from the rest. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int			dim = 1;
	const char *text = "";
	size_t		len = 0;
	float	   *out;
	double		sumsq = 0.0;
	HpError		err;

	if (size >= 2)
	{
		/* Byte 0 < 128: dim 1..128 from it alone; else a wide dim. */
		dim = data[0] < 128 ? data[0] + 1 : 1 + ((data[0] << 8 | data[1]) % HP_MAX_DIM);
		text = (const char *) data + 2;
		len = size - 2;
	}
	CheckTokens(text, len);
	out = malloc(sizeof(float) * (size_t) dim);
	if (hp_embed(text, len, dim, out, &err) != HP_OK)
		abort();
	for (int i = 0; i < dim; i++)
	{
		if (!isfinite(out[i]) || fabsf(out[i]) > 1.0f)
			abort();
		sumsq += (double) out[i] * out[i];
	}
	if (sumsq != 0.0 && fabs(sumsq - 1.0) > 1e-4)
		abort();
	free(out);
	return 0;
}
