/* Reading packed protobuf at the wire level, where decoding whole messages
 * would cost more than the question asked: which port groups of two
 * versions differ, where a Version's config lies in its bytes.
 *
 * A canonical SwitchConfig's encoding is its top-level fields in number
 * order, with every port group a length-delimited field 12. Split, it is
 * `settings` (every other top-level field, itself a valid SwitchConfig
 * encoding with no port groups) and one byte range per port group, named by
 * its identity (key, or name when the key is empty). Two port groups with
 * the same identity and the same bytes are equal. */
#ifndef DV_WIRE_H
#define DV_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"

typedef struct dv_wire_pg {
  const char *identity; /* arena string (NULL when split without identities) */
  const uint8_t *data;  /* the PortgroupConfig encoding (inside the buffer split) */
  size_t len;
  const uint8_t *key, *name; /* the key and name fields' bytes, inside data */
  size_t key_len, name_len;
  /* another copy of the same bytes, already compared (intake.h: the port
   * group of the stored version it was found equal to), or NULL; only ever
   * compared as a pointer, and only while that version is referenced */
  const uint8_t *equals;
} dv_wire_pg_t;

typedef struct dv_wire_cfg {
  uint8_t *settings; /* arena copy (a split made from a run: its base's) */
  size_t settings_len;
  dv_wire_pg_t *pgs;
  size_t n_pgs;
  /* every port group passed PutVersion's checks (a split intake.h made);
   * false for a split of stored bytes, which Export may have taken from a
   * plane as it was */
  bool validated;
  /* DV_WIRE_DIGEST_LEN bytes per port group, in pgs order: the SHA-256 of
   * its bytes; or NULL. Equal digests are equal bytes, so Diff compares
   * these instead of the port groups. Kept with cached versions (model.h:
   * dv_wire_digest_pgs). */
  uint8_t *digests;
  /* DV_WIRE_DIGEST_LEN bytes per block of DV_WIRE_BLOCK port groups (the
   * last one may hold fewer): the SHA-256 of the block's digests; made and
   * dropped with them, and read only where digests are. Diff passes over
   * two blocks with equal digests at the same place of both configs
   * without reading their port groups or the port groups' digests. */
  uint8_t *block_digests;
  /* the encoding the split was taken from (its port groups point into it:
   * dv_wire_split_config, dv_wire_join, dv_wire_cfg_dup), or NULL */
  const uint8_t *buf;
  size_t buf_len;
  /* SHA-256 states along buf (model.h: dv_sha256_marked), kept with cached
   * versions; or none */
  const uint8_t *sha_marks;
  size_t sha_marks_len;
} dv_wire_cfg_t;

/* A split given as another's with one run of port groups replaced: the
 * split of buf, which is base's bytes (base->buf) with base's port groups
 * [from, to) replaced by the n_mid port groups `mid` (pointing into buf),
 * and base's settings. PutVersion's usual document is taken this way
 * (intake.h); the delta against base (layout.c) and the number of port
 * groups are read off it, and the whole split is made only when needed,
 * after the reply (dv_wire_run_split). */
typedef struct dv_wire_run {
  const dv_wire_cfg_t *base; /* canonical, with identities, its buf set */
  size_t from, to;
  const dv_wire_pg_t *mid; /* canonical order, identities set */
  size_t n_mid;
  const uint8_t *buf;
  size_t buf_len;
} dv_wire_run_t;

static inline size_t dv_wire_run_count(const dv_wire_run_t *r) {
  return r->from + r->n_mid + (r->base->n_pgs - r->to);
}

/* The run's whole split into *out: its port groups in arena memory, each
 * of base's paired with itself (`equals`), settings and `validated` as
 * base's, buf the run's. When match is not NULL (dv_wire_run_count + 1
 * entries), also what layout_encode_delta_wire would set there against
 * base: match[x] is the index + 1 of base's port group with port group x's
 * bytes, or 0. -1 when out of memory. */
int dv_wire_run_split(dv_arena_t *a, const dv_wire_run_t *r, dv_wire_cfg_t *out, size_t *match);

/* The port group of base's that the run's port group x replaces under the
 * same identity: its index, or r->to when none does. Identities are unique
 * on each side, and none in the run is one of base's outside [from, to)
 * (intake.c checked). *same: whether the two have the same bytes. */
size_t dv_wire_run_replaced(const dv_wire_run_t *r, size_t x, bool *same);

#define DV_WIRE_DIGEST_LEN 32
#define DV_WIRE_BLOCK 64 /* port groups per block digest */

static inline size_t dv_wire_blocks(size_t n_pgs) {
  return (n_pgs + DV_WIRE_BLOCK - 1) / DV_WIRE_BLOCK;
}

#define DV_WIRE_PORTGROUPS_FIELD 12 /* SwitchConfig.portgroups */

/* Split a packed SwitchConfig; the result points into buf. DATA_LOSS when
 * the bytes are not a well-formed encoding. */
int dv_wire_split_config(dv_arena_t *a, const uint8_t *buf, size_t len, dv_wire_cfg_t *out,
                         dv_err_t *err);
/* The same without making identity strings (key and name bytes only). */
int dv_wire_split_config_lite(dv_arena_t *a, const uint8_t *buf, size_t len, dv_wire_cfg_t *out,
                              dv_err_t *err);
/* The settings only: out->n_pgs counts the port groups, out->pgs is NULL,
 * and the port groups' own bytes are not read. */
int dv_wire_split_settings(dv_arena_t *a, const uint8_t *buf, size_t len, dv_wire_cfg_t *out,
                           dv_err_t *err);

/* A copy of split `w` (made with identities) in one dv_big_alloc'd block of
 * *bytes (bigmem.h), for keeping with a cached version (dv_vcache_set_aux). Its port
 * groups point into `to`: the config that was split, at `from`, or an
 * identical copy of it (from == to: the same buffer). NULL when out of
 * memory. */
dv_wire_cfg_t *dv_wire_cfg_dup(const dv_wire_cfg_t *w, const uint8_t *from, const uint8_t *to,
                               size_t *bytes);
/* The same copy's size, and the copy made at `at` (that many bytes, aligned
 * for a dv_wire_cfg_t): the version cache keeps it in the spare room of its
 * version's own block (vcache.h: dv_vcache_set_aux_inside). */
size_t dv_wire_cfg_dup_size(const dv_wire_cfg_t *w);
dv_wire_cfg_t *dv_wire_cfg_dup_at(const dv_wire_cfg_t *w, const uint8_t *from, const uint8_t *to,
                                  void *at);

/* Take length-delimited field `want` out of a packed message: *field is
 * its payload (inside buf), *rest (arena) every other field. 0; 1 when the
 * field is absent or there more than once, or buf is malformed; -1 when out
 * of memory. */
int dv_wire_cut_field(dv_arena_t *a, const uint8_t *buf, size_t len, unsigned want,
                      const uint8_t **field, size_t *field_len, uint8_t **rest, size_t *rest_len);

/* pg's bytes, copied to `data`: data, key and name point there now. */
void dv_wire_pg_move(dv_wire_pg_t *pg, const uint8_t *data);

/* Set pg->key and pg->name from pg->data and pg->len; -1 when malformed. */
int dv_wire_pg_read(dv_wire_pg_t *pg);

/* pg's identity (model.h: its key, or its name when it has none) as a
 * string in arena memory, from the key and name pg_read found; NULL when
 * out of memory. */
char *dv_wire_pg_identity(dv_arena_t *a, const dv_wire_pg_t *pg);

/* The canonical encoding of split w: the settings' fields numbered below
 * 12, each port group as a field 12 in w's order, the settings' fields
 * after. In arena memory, *len bytes; w's port groups point into it
 * afterwards. NULL when out of memory. */
uint8_t *dv_wire_join(dv_arena_t *a, dv_wire_cfg_t *w, size_t *len);

/* Where the first field numbered above `field` starts in a packed message
 * whose fields are in number order (len when there is none): where fields
 * numbered `field` go when added. */
size_t dv_wire_offset_after(const uint8_t *buf, size_t len, unsigned field);

/* How many bytes x and y (n bytes each) have in common at the start; how
 * many x (nx bytes) and y (ny bytes) have in common at the end, at most max
 * (max <= nx, ny). */
size_t dv_wire_common_prefix(const uint8_t *x, const uint8_t *y, size_t n);
size_t dv_wire_common_suffix(const uint8_t *x, size_t nx, const uint8_t *y, size_t ny, size_t max);

/* Compare two port groups in canonical order (key, then name, as bytes). */
int dv_wire_pg_cmp(const dv_wire_pg_t *x, const dv_wire_pg_t *y);

/* The field at *p (< end): its number and wire type, and for a
 * length-delimited field its payload; *p moves past it. 0, or -1 when
 * malformed. */
int dv_wire_next(const uint8_t **p, const uint8_t *end, unsigned *field, unsigned *type,
                 const uint8_t **data, size_t *len);

/* The byte range of length-delimited field `field` (the first one) of a
 * packed message; -1 (DATA_LOSS) when absent or malformed. */
int dv_wire_field(const uint8_t *buf, size_t len, unsigned field, const uint8_t **out,
                  size_t *out_len, dv_err_t *err);

/* Append a length-delimited field (tag, length, bytes) to *buf at *len,
 * which must have room: dv_wire_ld_size() bytes. */
size_t dv_wire_ld_size(unsigned field, size_t len);
void dv_wire_put_ld(uint8_t *buf, size_t *at, unsigned field, const void *data, size_t len);

#endif
