/* Structural diff of two switch configurations.
 *
 * Every field is compared, walked from the protobuf-c descriptors. Paths
 * read like `portgroups["web-01"].default_port_config.vlan.vlan_id`.
 * Port groups are matched by key and then, for those left, by name when both
 * configs are of one switch's history (same_history); by name alone across
 * different switches, where keys mean nothing (and are not compared).
 * Host members are a set (`host_members["esx-1"]` added or removed); other
 * lists keep their order and compare whole. Changes come in field order,
 * port groups by name. */
#ifndef DV_DIFF_H
#define DV_DIFF_H

#include <stdbool.h>

#include "model.h"
#include "wire.h"

typedef Dvsconf__V1__Change dv_change_t;

int dv_diff_configs(dv_arena_t *a, const dv_switch_cfg_t *from, const dv_switch_cfg_t *to,
                    bool same_history, dv_change_t ***out, size_t *n, dv_err_t *err);

/* The same for two canonical encodings, doing work in proportion to what
 * differs: port groups with equal identity and equal bytes are skipped
 * without being decoded (wire.h), the rest is decoded and compared as
 * above. */
int dv_diff_packed(dv_arena_t *a, const uint8_t *from, size_t from_len, const uint8_t *to,
                   size_t to_len, bool same_history, dv_change_t ***out, size_t *n,
                   dv_err_t *err);

/* The same for two canonical encodings already split (dv_wire_split_config
 * or _lite), such as the splits the store keeps with cached versions. */
int dv_diff_split(dv_arena_t *a, const dv_wire_cfg_t *from, const dv_wire_cfg_t *to,
                  bool same_history, dv_change_t ***out, size_t *n, dv_err_t *err);

#endif
