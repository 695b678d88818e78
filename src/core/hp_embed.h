/*
 * hp_embed.h: the built-in text featurizer (hp.embed) and its tokenizer.
 *
 * Tokenisation works on the bytes of the text, with no locale:
 *   - ASCII letters are word bytes and are lowercased (A-Z -> a-z);
 *   - ASCII digits are word bytes, kept as they are;
 *   - every byte >= 0x80 is a word byte, unchanged, so a UTF-8 word
 *     ("café", "日本語") stays whole; non-ASCII letters are not case-folded
 *     and non-ASCII punctuation or spaces (e.g. U+00A0, "—") join words;
 *   - every other byte (ASCII space, punctuation, controls, NUL) separates.
 * A token is a maximal run of word bytes.  Tokens longer than HP_TOKEN_MAX
 * bytes are truncated to their first HP_TOKEN_MAX bytes, cut back to the
 * start of a UTF-8 character so a valid UTF-8 token stays valid.  Any
 * ASCII-compatible encoding works, but the same word in two encodings gives
 * different tokens.
 *
 * hp_embed builds a signed feature-hashing vector of word unigrams and
 * bigrams (consecutive token pairs): each distinct feature with term
 * frequency tf contributes +-(1 + ln tf) to bucket h mod dim, where h is a
 * fixed 64-bit hash (FNV-1a + splitmix64 finaliser, seeded per feature kind)
 * and the sign is h's top bit, independent of the bucket.  The vector is
 * then L2-normalised.  Output depends only on the bytes and dim: no host
 * endianness, locale or platform hash enters it.
 */
#ifndef HP_EMBED_H
#define HP_EMBED_H

#include "hp_core.h"

/* Longest token kept, in bytes; longer ones are truncated. */
#define HP_TOKEN_MAX 64

/* Default dimension of hp.embed. */
#define HP_EMBED_DEFAULT_DIM 1024

/*
 * Distinct features counted exactly per chunk.  A text with more distinct
 * unigrams plus bigrams is processed in chunks of this many features, and a
 * feature seen in several chunks gets the sum of its per-chunk weights; this
 * bounds memory to about 24 MB whatever the text length and only affects
 * texts of several megabytes.
 */
#define HP_EMBED_MAX_FEATURES (1 << 20)

/* Tokenizer state: a cursor over a byte range, no allocation. */
typedef struct HpTokenizer
{
	const unsigned char *text;
	size_t		len;
	size_t		pos;			/* next byte to examine */
} HpTokenizer;

/* One token as produced by hp_tokenizer_next. */
typedef struct HpToken
{
	size_t		start;			/* byte offset of the token in the text */
	size_t		end;			/* offset one past it (before truncation) */
	int			len;			/* bytes in buf, 1..HP_TOKEN_MAX */
	char		buf[HP_TOKEN_MAX + 1];	/* normalised bytes, NUL-terminated */
} HpToken;

/*
 * Iterate over the tokens of text[0, len):
 *     HpTokenizer tz;  HpToken tok;
 *     hp_tokenizer_init(&tz, text, len);
 *     while (hp_tokenizer_next(&tz, &tok))
 *         use(tok.buf, tok.len);
 * The text must outlive the iteration; text may be NULL when len is 0.
 */
void		hp_tokenizer_init(HpTokenizer *tz, const char *text, size_t len);
/* Fill *tok with the next token; false at the end of the text. */
bool		hp_tokenizer_next(HpTokenizer *tz, HpToken *tok);

/*
 * Stable 64-bit hash of a token as a unigram feature (the one hp_embed
 * uses).  Distinct tokens collide with probability ~2^-64, so other features
 * (e.g. ROUGE-1 token counts) may key tables by it.
 */
uint64_t	hp_token_hash(const char *buf, int len);

/*
 * Embed text[0, len) into out[0, dim): unit L2 norm, or all zeros when the
 * text has no tokens (not an error).  dim must be 1..HP_MAX_DIM, else
 * HP_EINVAL.  Allocates through hp_alloc and checks for interrupts
 * regularly, so very long texts are cancellable.
 */
HpStatus	hp_embed(const char *text, size_t len, int dim, float *out, HpError *err);

#endif
