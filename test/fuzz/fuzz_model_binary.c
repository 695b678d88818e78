/*
 * fuzz_model_binary.c: libFuzzer target for hp_model_decode (the hp.model
 * binary form: model_recv and every read of a stored model).
 *
 * Byte 0 selects a mode (value % 4) and whether to warm-start (bit 2), the
 * rest is the value:
 *   mode 0: decode the bytes as they are (mostly rejected by the checksum);
 *   mode 1: first recompute the checksum (FNV-1a 64 over [4,8) then
 *           [16,end), little-endian at [8,16)) so mutations reach the body;
 *   mode 2: also force the magic "HPMD" and format version 1, then fix the
 *           checksum;
 *   mode 3: structure-aware: tensor headers first, then their data (see
 *           Repair), rebuilt into a value whose lengths all agree, with
 *           magic, version and checksum fixed, so that mutations of shapes,
 *           names, dtypes and counts reach validation and use.
 * A successful decode must satisfy FuzzCheckModel: validation, byte-exact
 * re-encoding of the (fixed) input, JSON round trip with the same checksum,
 * clean scorer behaviour, and (bit 2) a warm-start training run from the
 * model that succeeds or fails cleanly.  A failed decode must report
 * HP_ECORRUPT with a message.  Everything is freed (LeakSanitizer runs).
 */
#include "fuzz_common.h"
#include "hp_rng.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FuzzSetup();
	return 0;
}

/* Bytes of a dtype as the decoder sees it (unknown dtypes: 4, rejected later). */
static size_t
Esize(uint8_t dtype)
{
	return dtype == HP_F64 ? 8 : 4;
}

/*
 * Mode 3: build a self-consistent value from a lenient reading of in, laid
 * out as the binary form except that all tensor headers come first and the
 * tensor data after them, so that changing a shape does not shift the
 * following headers:
 *   64 bytes header and fixed fields, u32 options_len, options (truncated
 *   to what is there), u32 ntensors (low byte used), ntensors headers of 28
 *   bytes (name, dtype, pad, rows, cols; shapes over 4096 elements are
 *   reduced modulo 65), then the data of every tensor in turn (truncated
 *   input is zero-padded).
 * Returns a malloc'd buffer and its length.
 */
static unsigned char *
Repair(const uint8_t *in, size_t inlen, size_t *outlen)
{
	enum {FIXED = 16 + 48, HDR = 28, MAXT = 80};
	FuzzReader	r = {in, inlen};
	unsigned char hdr[MAXT][HDR];
	uint32_t	optlen,
				ntensors;
	size_t		total,
				n = 0;
	unsigned char *out;

	for (int i = 0; i < FIXED; i++)
		FuzzU8(&r);
	optlen = FuzzU32(&r);
	if (optlen > r.left)
		optlen = (uint32_t) r.left;
	r.p += optlen;
	r.left -= optlen;
	ntensors = FuzzU32(&r) & 0xff;
	if (ntensors > MAXT)
		ntensors = MAXT;
	total = FIXED + 4 + optlen + 4;
	for (uint32_t t = 0; t < ntensors; t++)
	{
		uint32_t	rows,
					cols;

		for (int i = 0; i < 20; i++)
			hdr[t][i] = FuzzU8(&r);
		rows = FuzzU32(&r);
		cols = FuzzU32(&r);
		if ((uint64_t) rows * cols > 4096)
		{
			rows %= 65;
			cols %= 65;
		}
		for (int i = 0; i < 4; i++)
		{
			hdr[t][20 + i] = (unsigned char) (rows >> (8 * i));
			hdr[t][24 + i] = (unsigned char) (cols >> (8 * i));
		}
		total += HDR + (size_t) rows * cols * Esize(hdr[t][16]);
	}

	out = malloc(total);
	memcpy(out, in, inlen < FIXED ? inlen : FIXED);
	if (inlen < FIXED)
		memset(out + inlen, 0, FIXED - inlen);
	n = FIXED;
	for (int i = 0; i < 4; i++)
		out[n++] = (unsigned char) (optlen >> (8 * i));
	memcpy(out + n, in + FIXED + 4, optlen);
	n += optlen;
	for (int i = 0; i < 4; i++)
		out[n++] = (unsigned char) (ntensors >> (8 * i));
	for (uint32_t t = 0; t < ntensors; t++)
	{
		size_t		bytes = (size_t) (hdr[t][20] | hdr[t][21] << 8 | hdr[t][22] << 16 | (uint32_t) hdr[t][23] << 24) *
			(hdr[t][24] | hdr[t][25] << 8 | hdr[t][26] << 16 | (uint32_t) hdr[t][27] << 24) * Esize(hdr[t][16]),
					have = bytes < r.left ? bytes : r.left;

		memcpy(out + n, hdr[t], HDR);
		n += HDR;
		memcpy(out + n, r.p, have);
		memset(out + n + have, 0, bytes - have);
		n += bytes;
		r.p += have;
		r.left -= have;
	}
	memcpy(out, HP_MODEL_MAGIC, 4);
	out[4] = HP_MODEL_FORMAT_VERSION & 0xff;
	out[5] = HP_MODEL_FORMAT_VERSION >> 8;
	*outlen = n;
	return out;
}

/* Store the checksum the decoder expects over buf[0..len). */
static void
FixChecksum(unsigned char *buf, size_t len)
{
	uint64_t	h;

	if (len < HP_MODEL_HEADER_BYTES)
		return;
	h = hp_fnv1a64(buf + 4, 4, HP_FNV_OFFSET);
	h = hp_fnv1a64(buf + HP_MODEL_HEADER_BYTES, len - HP_MODEL_HEADER_BYTES, h);
	for (int i = 0; i < 8; i++)
		buf[8 + i] = (unsigned char) (h >> (8 * i));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int			mode;
	size_t		len;
	unsigned char *buf;
	HpModel		m;
	HpError		err;
	HpStatus	rc;

	if (size < 1)
		return 0;
	mode = data[0] % 4;
	len = size - 1;
	/* An exact-size heap copy so ASan sees any read past the value. */
	if (mode == 3)
	{
		unsigned char *rep = Repair(data + 1, size - 1, &len);

		buf = malloc(len ? len : 1);
		memcpy(buf, rep, len);
		free(rep);
	}
	else
	{
		buf = malloc(len ? len : 1);
		if (len)
			memcpy(buf, data + 1, len);
	}
	if (mode == 2)
	{
		memcpy(buf, HP_MODEL_MAGIC, len < 4 ? len : 4);
		if (len >= 6)
		{
			buf[4] = HP_MODEL_FORMAT_VERSION & 0xff;
			buf[5] = HP_MODEL_FORMAT_VERSION >> 8;
		}
	}
	if (mode >= 1)
		FixChecksum(buf, len);

	memset(&err, 0, sizeof(err));
	rc = hp_model_decode(buf, len, &m, &err);
	if (getenv("HP_FUZZ_VERBOSE"))
		fprintf(stderr, "mode %d, value of %zu bytes, decode: %s%s%s\n", mode, len,
				rc == HP_OK ? "ok" : err.msg, rc == HP_OK ? "" : " ", rc == HP_OK ? "" : err.detail);
	if (rc == HP_OK)
	{
		FuzzCheckModel(&m, buf, len);
		if (data[0] & 4)
			FuzzCheckWarmStart(&m);
		hp_model_free(&m);
	}
	else
	{
		FUZZ_CHECK(rc == HP_ECORRUPT && err.code == HP_ECORRUPT, "decode returned %d", (int) rc);
		FUZZ_CHECK(err.msg[0] != '\0', "decode error without a message");
		FUZZ_CHECK(m.ntensors == 0 && m.options == NULL, "failed decode left allocations behind");
	}
	free(buf);
	return 0;
}
