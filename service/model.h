/* The configuration model: short names for the generated protobuf-c types
 * that every layer passes around, and the canonical form of a config.
 *
 * Canonical form (dv_config_canonicalize): port groups sorted by key, then
 * name; host members sorted; VLAN trunk ranges sorted by start. Uplink
 * names and teaming uplink lists keep their order (it is failover order).
 * The canonical encoding is the protobuf encoding of the canonical form; its
 * SHA-256 is a version's checksum. */
#ifndef DV_MODEL_H
#define DV_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dvsconf/v1/dvsconf.pb-c.h"
#include "arena.h"
#include "err.h"
#include "wire.h"

typedef Dvsconf__V1__SwitchConfig dv_switch_cfg_t;
typedef Dvsconf__V1__PortgroupConfig dv_pg_cfg_t;
typedef Dvsconf__V1__PortSettings dv_port_settings_t;

#define DV_SHA256_HEX_LEN 64

/* Sort the repeated fields of cfg in place (see above). */
void dv_config_canonicalize(dv_switch_cfg_t *cfg);
/* The same for one port group (its own lists sorted). */
void dv_pg_canonicalize(dv_pg_cfg_t *pg);

/* Canonicalize cfg in place and pack it into arena memory. Returns 0 or -1
 * (out of memory). */
int dv_config_encode(dv_arena_t *a, dv_switch_cfg_t *cfg, uint8_t **out, size_t *len,
                     dv_err_t *err);

/* Hex SHA-256 of bytes into out[DV_SHA256_HEX_LEN + 1]. */
void dv_sha256_hex(const uint8_t *data, size_t len, char out[DV_SHA256_HEX_LEN + 1]);

/* SHA-256 with marks: the hash's state after every DV_SHA_MARK_STEP bytes
 * of the data, kept with a cached version (wire.h: sha_marks), so that
 * hashing the next version, which begins with most of the same bytes,
 * resumes at the last mark inside them instead of at the start. The hex
 * digest of data into out, and data's marks into *marks, *marks_len bytes
 * in arena memory (none when out of memory). `like`: the marks of other
 * bytes whose first `same` bytes are data's (NULL: none). */
#define DV_SHA_MARK_STEP 32768
void dv_sha256_marked(dv_arena_t *a, const uint8_t *data, size_t len, const uint8_t *like,
                      size_t like_len, size_t same, const uint8_t **marks, size_t *marks_len,
                      char out[DV_SHA256_HEX_LEN + 1]);

/* cur->digests and cur->block_digests (wire.h), in arena memory. A port
 * group that is equal to one of prev, match[j] = that one's index in prev
 * + 1 (0: none), takes prev's digest; every other one is hashed. prev, or
 * match, may be NULL: all are hashed. 0, or -1 when out of memory (both
 * stay as they were). */
int dv_wire_digest_pgs(dv_arena_t *a, dv_wire_cfg_t *cur, const dv_wire_cfg_t *prev,
                       const size_t *match);

/* Canonical checksum of cfg (canonicalizes cfg in place). */
int dv_config_checksum(dv_arena_t *a, dv_switch_cfg_t *cfg, char out[DV_SHA256_HEX_LEN + 1],
                       dv_err_t *err);

/* True when a and b have the same canonical encoding (both are
 * canonicalized in place). */
bool dv_config_equal(dv_arena_t *a, dv_switch_cfg_t *x, dv_switch_cfg_t *y);

/* Compare two port groups' settings, ignoring key (and name when
 * ignore_name): true when equal. */
bool dv_pg_equal(dv_arena_t *a, const dv_pg_cfg_t *x, const dv_pg_cfg_t *y, bool ignore_key,
                 bool ignore_name);

/* True when the switch-level settings (everything but port groups and host
 * members, uuid and name) of x and y are equal. */
bool dv_switch_settings_equal(dv_arena_t *a, const dv_switch_cfg_t *x, const dv_switch_cfg_t *y);

/* Deep copy of any protobuf-c message into the arena (pack + unpack).
 * Returns NULL when out of memory. */
void *dv_msg_clone(dv_arena_t *a, const ProtobufCMessage *m);

/* What stored versions know a port group by: its key, or its name when it
 * has no key. */
const char *dv_pg_identity(const dv_pg_cfg_t *pg);

/* Every port group has a name and a unique identity (a keyless port group
 * named like another one's key would fold into it). INVALID_ARGUMENT
 * naming both port groups otherwise. */
int dv_config_check_identities(const dv_switch_cfg_t *cfg, dv_err_t *err);

/* Find a port group by name (NULL when absent). */
dv_pg_cfg_t *dv_config_find_pg_by_name(const dv_switch_cfg_t *cfg, const char *name);

#endif
