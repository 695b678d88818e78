/*
 * hp_model.h: the in-memory model and its serialised forms.
 *
 * Binary layout (all integers and floats little-endian, whatever the host):
 *   [0,4)   magic "HPMD"
 *   [4,6)   u16 format version (HP_MODEL_FORMAT_VERSION; older ones still load)
 *   [6,8)   u16 kind
 *   [8,16)  u64 FNV-1a checksum of bytes [4,8) then [16, end), so the
 *           version and kind are covered too
 *   [16,..) u32 dim, u32 heads, u32 uncertainty, u32 reserved,
 *           f64 lambda, f64 loss, i64 rows, i64 seed,
 *           u32 options_len, options bytes (canonical JSON, no NUL),
 *           u32 ntensors, then per tensor:
 *             char name[16] (NUL padded), u8 dtype, u8 pad[3], u32 rows,
 *             u32 cols, rows*cols values of dtype.
 * The text form is a JSON document carrying the same fields plus the
 * checksum of the binary form, so edits or truncation are detected.
 */
#ifndef HP_MODEL_H
#define HP_MODEL_H

#include "hp_core.h"

#define HP_MODEL_MAGIC "HPMD"
#define HP_MODEL_FORMAT_VERSION 1
#define HP_MODEL_HEADER_BYTES 16	/* magic + version + kind + checksum */
#define HP_TENSOR_NAME_LEN 16
#define HP_MAX_TENSORS 64

typedef enum HpModelKind
{
	HP_KIND_LINEAR = 1,			/* Bradley-Terry linear heads */
	HP_KIND_MLP = 2,			/* MLP ensemble heads (issue 3) */
	HP_KIND_PPM = 3				/* performance prediction model (issue 4) */
} HpModelKind;

typedef enum HpUncertainty
{
	HP_UNC_ENSEMBLE = 0,
	HP_UNC_LAPLACE = 1
} HpUncertainty;

typedef enum HpDtype
{
	HP_F32 = 1,
	HP_F64 = 2
} HpDtype;

typedef struct HpTensor
{
	char		name[HP_TENSOR_NAME_LEN];
	uint8_t		dtype;
	uint32_t	rows;
	uint32_t	cols;
	void	   *data;			/* float* or double*, rows*cols, row-major */
} HpTensor;

typedef struct HpModel
{
	uint16_t	version;		/* format version it was read from */
	uint16_t	kind;
	uint32_t	dim;
	uint32_t	heads;
	uint32_t	uncertainty;
	double		lambda;
	double		loss;
	int64_t		rows;
	int64_t		seed;
	char	   *options;		/* canonical JSON object text, NUL-terminated */
	uint32_t	ntensors;
	HpTensor	tensors[HP_MAX_TENSORS];
} HpModel;

/* Kind name ("linear", "mlp", "ppm") or NULL for an unknown kind. */
const char *hp_model_kind_name(int kind);

/* Add a tensor (data is copied); returns the stored copy. */
HpTensor   *hp_model_add_tensor(HpModel *m, const char *name, HpDtype dtype,
								uint32_t rows, uint32_t cols, const void *data);
/* Find a tensor by name, or NULL. */
const HpTensor *hp_model_tensor(const HpModel *m, const char *name);

/* Check kind-specific invariants (tensor shapes, finite values). */
HpStatus	hp_model_validate(const HpModel *m, HpError *err);

/* Serialised size of m in bytes. */
size_t		hp_model_binary_size(const HpModel *m);
/* Write m to buf (hp_model_binary_size bytes), checksum included. */
void		hp_model_encode(const HpModel *m, unsigned char *buf);
/* Parse and validate a binary value; tensors/options allocated via hooks. */
HpStatus	hp_model_decode(const unsigned char *buf, size_t len, HpModel *m, HpError *err);
/* Checksum stored in an encoded value (for cache keys); 0 if too short. */
uint64_t	hp_model_stored_checksum(const unsigned char *buf, size_t len);

/* JSON text form; the returned string is allocated via hooks. */
char	   *hp_model_to_json(const HpModel *m);
HpStatus	hp_model_from_json(const char *text, size_t len, HpModel *m, HpError *err);

/* Release tensors and options of a model allocated by the functions above. */
void		hp_model_free(HpModel *m);

#endif
