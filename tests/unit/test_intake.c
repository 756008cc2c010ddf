/* intake.h: a document taken port group by port group gives the canonical
 * encoding that decoding it whole, dv_validate_config and dv_config_encode
 * give, byte for byte; it decodes only what `known` does not hold; and it
 * refuses what dv_validate_config refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "intake.h"
#include "unit/fake_adapter.h"
#include "validate.h"

static uint8_t *pack(dv_arena_t *a, const dv_switch_cfg_t *c, size_t *len) {
  *len = dvsconf__v1__switch_config__get_packed_size(c);
  uint8_t *b = dv_arena_alloc_raw(a, *len + 1);
  dvsconf__v1__switch_config__pack(c, b);
  return b;
}

/* The canonical split of a config, as the store keeps it for a version
 * that intake took (validated): its port groups passed the checks. */
static dv_wire_cfg_t *split_of(dv_arena_t *a, dv_switch_cfg_t *c, bool validated) {
  uint8_t *canon;
  size_t len;
  dv_err_t err = DV_ERR_INIT;
  assert_int_equal(dv_config_encode(a, c, &canon, &len, &err), 0);
  dv_wire_cfg_t *w = dv_arena_alloc(a, sizeof *w);
  assert_int_equal(dv_wire_split_config(a, canon, len, w, &err), 0);
  w->validated = validated;
  return w;
}

static const dv_wire_cfg_t *known_split(dv_arena_t *a, dv_switch_cfg_t *c) {
  return split_of(a, c, true);
}

/* intake's result for doc against known: 0, -1 or 1, with *in. */
static int take(dv_arena_t *a, const uint8_t *doc, size_t len, const dv_wire_cfg_t *known,
                dv_intake_t *in, dv_err_t *err) {
  int rc = dv_intake_open(a, doc, len, in, err);
  return rc != 0 ? rc : dv_intake_finish(a, in, known, err);
}

/* What decoding whole gives: the canonical bytes, or the error. */
static int whole(dv_arena_t *a, const uint8_t *doc, size_t len, uint8_t **canon, size_t *clen,
                 dv_err_t *err) {
  dv_switch_cfg_t *c = dvsconf__v1__switch_config__unpack(dv_arena_allocator(a), len, doc);
  assert_non_null(c);
  if (dv_validate_strings(&c->base, err) != 0 || dv_validate_config(c, err) != 0) return -1;
  return dv_config_encode(a, c, canon, clen, err);
}

/* A config with what canonical form reorders out of order: port groups,
 * host members, trunk ranges; some port groups without a key. */
static dv_switch_cfg_t *messy(dv_arena_t *a, int n, int seed) {
  dv_switch_cfg_t *c = fake_config(a, "sw", "uuid-1", n);
  srand((unsigned)seed);
  for (int i = n - 1; i > 0; i--) { /* shuffle */
    int j = rand() % (i + 1);
    dv_pg_cfg_t *t = c->portgroups[i];
    c->portgroups[i] = c->portgroups[j];
    c->portgroups[j] = t;
  }
  for (int i = 0; i < n; i += 7) c->portgroups[i]->key = "";
  Dvsconf__V1__VlanSpec *v = c->portgroups[1]->default_port_config->vlan;
  v->kind = DVSCONF__V1__VLAN_KIND__VLAN_KIND_TRUNK;
  v->vlan_id = 0;
  v->n_trunk_ranges = 2;
  v->trunk_ranges = dv_arena_alloc(a, 2 * sizeof(void *));
  for (int k = 0; k < 2; k++) {
    v->trunk_ranges[k] = dv_arena_msg(a, &dvsconf__v1__numeric_range__descriptor);
    v->trunk_ranges[k]->start = k ? 10 : 200;
    v->trunk_ranges[k]->end = k ? 20 : 300;
  }
  return c;
}

static void same_bytes_as_decoding_whole(void **state) {
  (void)state;
  for (int seed = 1; seed <= 20; seed++) {
    dv_arena_t *a = dv_arena_new();
    int n = 5 + seed * 3;
    dv_switch_cfg_t *c = messy(a, n, seed);
    /* known: the same switch with some port groups different, one gone */
    dv_switch_cfg_t *k = messy(a, n + 1, seed);
    for (int i = 0; i < n + 1; i += 4) k->portgroups[i]->default_port_config->vlan->vlan_id = 7;
    const dv_wire_cfg_t *known = known_split(a, k);
    size_t len, clen;
    uint8_t *doc = pack(a, c, &len), *canon;
    dv_err_t err = DV_ERR_INIT;
    assert_int_equal(whole(a, doc, len, &canon, &clen, &err), 0);
    const dv_wire_cfg_t *knowns[] = {NULL, known};
    for (int with = 0; with < 2; with++) {
      dv_intake_t in;
      assert_int_equal(take(a, doc, len, knowns[with], &in, &err), 0);
      assert_int_equal(in.canon_len, clen);
      assert_memory_equal(in.canon, canon, clen);
      assert_int_equal(in.split.n_pgs, (size_t)n);
      if (!with) assert_int_equal(in.decoded, (size_t)n);
      if (with) assert_true(in.decoded < (size_t)n);
      /* the split is the canonical bytes' own split */
      dv_wire_cfg_t w;
      assert_int_equal(dv_wire_split_config(a, canon, clen, &w, &err), 0);
      assert_int_equal(w.settings_len, in.split.settings_len);
      assert_memory_equal(w.settings, in.split.settings, w.settings_len);
      for (size_t i = 0; i < w.n_pgs; i++) {
        assert_ptr_equal(in.split.pgs[i].data, in.canon + (w.pgs[i].data - canon));
        assert_int_equal(in.split.pgs[i].len, w.pgs[i].len);
        assert_string_equal(in.split.pgs[i].identity, w.pgs[i].identity);
        assert_int_equal(dv_wire_pg_cmp(&in.split.pgs[i], &w.pgs[i]), 0);
      }
    }
    dv_arena_free(a);
  }
}

/* Against its own canonical form, a document decodes nothing but the
 * switch's own fields. */
static void known_port_groups_are_not_decoded(void **state) {
  (void)state;
  dv_arena_t *a = dv_arena_new();
  dv_switch_cfg_t *c = fake_config(a, "sw", "uuid-1", 50);
  const dv_wire_cfg_t *known = known_split(a, c);
  size_t len;
  uint8_t *doc = pack(a, c, &len);
  dv_intake_t in;
  dv_err_t err = DV_ERR_INIT;
  assert_int_equal(take(a, doc, len, known, &in, &err), 0);
  assert_int_equal(in.decoded, 0);
  c->portgroups[3]->default_port_config->vlan->vlan_id = 3000;
  doc = pack(a, c, &len);
  assert_int_equal(take(a, doc, len, known, &in, &err), 0);
  assert_int_equal(in.decoded, 1);
  dv_arena_free(a);
}

/* A document that is its canonical encoding already is used as it is:
 * no copy is made, and the split points into it. */
static void canonical_document_is_not_copied(void **state) {
  (void)state;
  dv_arena_t *a = dv_arena_new();
  dv_switch_cfg_t *c = fake_config(a, "sw", "uuid-1", 40);
  uint8_t *canon;
  size_t len;
  dv_err_t err = DV_ERR_INIT;
  assert_int_equal(dv_config_encode(a, c, &canon, &len, &err), 0);
  const dv_wire_cfg_t *known = known_split(a, c);
  dv_intake_t in;
  assert_int_equal(take(a, canon, len, known, &in, &err), 0);
  assert_ptr_equal(in.canon, canon);
  assert_int_equal(in.canon_len, len);
  assert_true(in.split.pgs[0].data > canon && in.split.pgs[39].data < canon + len);
  /* one port group changed: decoded, encoded again as it was sent */
  c->portgroups[5]->num_ports = 99;
  assert_int_equal(dv_config_encode(a, c, &canon, &len, &err), 0);
  assert_int_equal(take(a, canon, len, known, &in, &err), 0);
  assert_int_equal(in.decoded, 1);
  assert_ptr_equal(in.canon, canon);
  /* out of canonical order: put together anew */
  Dvsconf__V1__VlanSpec *v = c->portgroups[5]->default_port_config->vlan;
  v->kind = DVSCONF__V1__VLAN_KIND__VLAN_KIND_TRUNK;
  v->n_trunk_ranges = 2;
  v->trunk_ranges = dv_arena_alloc(a, 2 * sizeof(void *));
  for (int k = 0; k < 2; k++) {
    v->trunk_ranges[k] = dv_arena_msg(a, &dvsconf__v1__numeric_range__descriptor);
    v->trunk_ranges[k]->start = v->trunk_ranges[k]->end = 100 - k;
  }
  uint8_t *doc = pack(a, c, &len), *want;
  size_t want_len;
  assert_int_equal(dv_config_encode(a, c, &want, &want_len, &err), 0);
  assert_int_equal(take(a, doc, len, known, &in, &err), 0);
  assert_true(in.canon != doc);
  assert_int_equal(in.canon_len, want_len);
  assert_memory_equal(in.canon, want, want_len);
  dv_arena_free(a);
}

/* Each refusal is dv_validate_config's, whether the port group at fault is
 * known or not. */
static void refuses_what_validation_refuses(void **state) {
  (void)state;
  dv_arena_t *a = dv_arena_new();
  dv_switch_cfg_t *base = fake_config(a, "sw", "uuid-1", 6);
  const dv_wire_cfg_t *known = known_split(a, fake_config(a, "sw", "uuid-1", 6));
  const char *expect[] = {
      "config.portgroups[\"pg-2\"].default_port_config.vlan.vlan_id: 5000 is outside 0..4094",
      "config.portgroups: name \"pg-1\" appears twice",
      "config.portgroups: \"dvportgroup-1001\" appears twice",
      "config.portgroups: \"web\" appears twice",
      "config.name: required",
      "portgroups[5].name: not valid UTF-8", /* whole: the request is "config" */
  };
  for (size_t t = 0; t < sizeof expect / sizeof expect[0]; t++) {
    dv_switch_cfg_t *c = dv_msg_clone(a, &base->base);
    switch (t) {
      case 0: c->portgroups[2]->default_port_config->vlan->vlan_id = 5000; break;
      case 1: c->portgroups[3]->name = "pg-1"; break;
      case 2: c->portgroups[3]->key = "dvportgroup-1001"; break;
      case 3: /* a keyless port group's name equals another's key */
        c->portgroups[0]->key = "";
        c->portgroups[0]->name = "web";
        c->portgroups[4]->key = "web";
        break;
      case 4: c->name = ""; break;
      case 5: c->portgroups[5]->name = "bad\xff"; break;
    }
    size_t len, clen;
    uint8_t *doc = pack(a, c, &len), *canon;
    dv_err_t want = DV_ERR_INIT, got = DV_ERR_INIT;
    assert_int_equal(whole(a, doc, len, &canon, &clen, &want), -1);
    dv_intake_t in;
    assert_int_equal(take(a, doc, len, known, &in, &got), -1);
    assert_int_equal(got.code, GRPC_STATUS_INVALID_ARGUMENT);
    assert_int_equal(want.code, GRPC_STATUS_INVALID_ARGUMENT);
    if (strstr(got.msg, expect[t]) == NULL) fail_msg("case %zu: intake said \"%s\"; whole: \"%s\"", t, got.msg, want.msg);
    if (strstr(want.msg, expect[t]) == NULL) fail_msg("case %zu: whole said \"%s\"", t, want.msg);
  }
  dv_arena_free(a);
}

/* A stored version intake did not take (Export stores what the plane has)
 * vouches for nothing: its port groups are checked like any others. */
static void unvalidated_known_is_not_trusted(void **state) {
  (void)state;
  dv_arena_t *a = dv_arena_new();
  dv_switch_cfg_t *c = fake_config(a, "sw", "uuid-1", 4);
  c->portgroups[2]->num_ports = -1; /* PutVersion refuses it */
  const dv_wire_cfg_t *exported = split_of(a, c, false);
  size_t len;
  uint8_t *doc = pack(a, c, &len);
  dv_intake_t in;
  dv_err_t err = DV_ERR_INIT;
  assert_int_equal(take(a, doc, len, exported, &in, &err), -1);
  assert_non_null(strstr(err.msg, "num_ports: -1 is outside"));
  /* the same port groups in a version intake took: taken as they are */
  dv_err_clear(&err);
  assert_int_equal(take(a, doc, len, split_of(a, c, true), &in, &err), 0);
  assert_int_equal(in.decoded, 0);
  dv_arena_free(a);
}

/* Bytes the wire-level split does not read are left to the whole decode
 * (1), and an unknown field in a port group is refused as a whole decode
 * refuses it. */
static void odd_bytes_go_to_the_whole_decode(void **state) {
  (void)state;
  dv_arena_t *a = dv_arena_new();
  dv_switch_cfg_t *c = fake_config(a, "sw", "uuid-1", 3);
  size_t len;
  uint8_t *doc = pack(a, c, &len);
  dv_intake_t in;
  dv_err_t err = DV_ERR_INIT;
  assert_int_equal(take(a, doc, len - 1, NULL, &in, &err), 1); /* cut short */
  /* a port group with an unknown field 99 (varint 1) appended */
  dv_wire_cfg_t w;
  assert_int_equal(dv_wire_split_config_lite(a, doc, len, &w, &err), 0);
  uint8_t *odd = dv_arena_alloc(a, len + 16);
  size_t at = 0;
  dv_wire_put_ld(odd, &at, 1, "sw", 2);
  dv_wire_put_ld(odd, &at, 2, "uuid-1", 6);
  uint8_t pg[256];
  memcpy(pg, w.pgs[0].data, w.pgs[0].len);
  pg[w.pgs[0].len] = 0x98; /* field 99, varint: tag 99 << 3 = 792 = 0x98 0x06 */
  pg[w.pgs[0].len + 1] = 0x06;
  pg[w.pgs[0].len + 2] = 0x01;
  dv_wire_put_ld(odd, &at, 12, pg, w.pgs[0].len + 3);
  assert_int_equal(take(a, odd, at, NULL, &in, &err), -1);
  assert_non_null(strstr(err.msg, "config.portgroups[0]: unknown field 99"));
  dv_arena_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(same_bytes_as_decoding_whole),
      cmocka_unit_test(known_port_groups_are_not_decoded),
      cmocka_unit_test(canonical_document_is_not_copied),
      cmocka_unit_test(refuses_what_validation_refuses),
      cmocka_unit_test(unvalidated_known_is_not_trusted),
      cmocka_unit_test(odd_bytes_go_to_the_whole_decode),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
