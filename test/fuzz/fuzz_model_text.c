/*
 * fuzz_model_text.c: libFuzzer target for hp_model_from_json (the hp.model
 * text form: model_in and hp.model_import).
 *
 * The whole input is the text (not NUL-terminated: the API takes a length).
 * A successful parse must satisfy FuzzCheckModel: validation, encode ->
 * decode -> identical bytes, to_json -> from_json -> identical model and
 * text, clean scorer behaviour, and a clean warm start.  The checksum
 * field of the input must equal the checksum of the encoded model.  A
 * failed parse must report HP_ECORRUPT with a message and leave nothing
 * allocated.  Note: mutated texts rarely carry a matching checksum, so the
 * checks after it (hp_model_validate, round trips) are mostly reached from
 * the seeds; fuzz_model_binary's checksum-fixing modes cover them deeply.
 */
#include <inttypes.h>

#include "fuzz_common.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FuzzSetup();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text = malloc(size ? size : 1);
	HpModel		m;
	HpError		err;
	HpStatus	rc;

	if (size)
		memcpy(text, data, size);
	memset(&err, 0, sizeof(err));
	rc = hp_model_from_json(text, size, &m, &err);
	if (rc == HP_OK)
	{
		size_t		sz = hp_model_binary_size(&m);
		unsigned char *buf = malloc(sz);
		char		hex[20];
		HpJsonDoc  *doc;
		const HpJson *sum;

		hp_model_encode(&m, buf);
		snprintf(hex, sizeof(hex), "%016" PRIx64, hp_model_stored_checksum(buf, sz));
		FUZZ_CHECK(hp_json_parse(text, size, &doc, &err) == HP_OK, "accepted text is not JSON");
		sum = hp_json_get(hp_json_root(doc), "checksum");
		FUZZ_CHECK(sum && sum->type == HP_JSON_STRING && strcmp(sum->u.str, hex) == 0,
				   "checksum field differs from the model's checksum %s", hex);
		hp_json_free(doc);
		free(buf);
		FuzzCheckModel(&m, NULL, 0);
		FuzzCheckWarmStart(&m);
		hp_model_free(&m);
	}
	else
	{
		FUZZ_CHECK(rc == HP_ECORRUPT && err.code == HP_ECORRUPT, "from_json returned %d", (int) rc);
		FUZZ_CHECK(err.msg[0] != '\0', "from_json error without a message");
		FUZZ_CHECK(m.ntensors == 0 && m.options == NULL, "failed parse left allocations behind");
	}
	free(text);
	return 0;
}
