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
#include "store_internal.h" /* the deltas (layout.c) */
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
  if (rc == 0) rc = dv_intake_finish(a, in, known, err);
  if (rc == 0 && in->as_known_changed) { /* the split is made only when asked for */
    assert_null(in->split.pgs);
    assert_int_equal(in->split.n_pgs, dv_wire_run_count(&in->run));
    assert_int_equal(dv_intake_split(a, in), 0);
  }
  return rc;
}

/* What decoding whole gives: the canonical bytes, or the error. */
static int whole(dv_arena_t *a, const uint8_t *doc, size_t len, uint8_t **canon, size_t *clen,
                 dv_err_t *err) {
  dv_switch_cfg_t *c = dvsconf__v1__switch_config__unpack(dv_arena_allocator(a), len, doc);
  assert_non_null(c);
  if (dv_validate_strings(&c->base, err) != 0 || dv_validate_config(c, err) != 0) return -1;
  return dv_config_encode(a, c, canon, clen, err);
}

/* in is what decoding whole gives (canon): the same canonical bytes, and
 * the split is those bytes' own split. */
static void same_as_whole(dv_arena_t *a, const dv_intake_t *in, const uint8_t *canon, size_t clen) {
  dv_err_t err = DV_ERR_INIT;
  assert_int_equal(in->canon_len, clen);
  assert_memory_equal(in->canon, canon, clen);
  dv_wire_cfg_t w;
  assert_int_equal(dv_wire_split_config(a, canon, clen, &w, &err), 0);
  assert_int_equal(w.settings_len, in->split.settings_len);
  assert_memory_equal(w.settings, in->split.settings, w.settings_len);
  assert_int_equal(w.n_pgs, in->split.n_pgs);
  assert_ptr_equal(in->split.buf, in->canon);
  assert_int_equal(in->split.buf_len, clen);
  for (size_t i = 0; i < w.n_pgs; i++) {
    assert_ptr_equal(in->split.pgs[i].data, in->canon + (w.pgs[i].data - canon));
    assert_int_equal(in->split.pgs[i].len, w.pgs[i].len);
    assert_string_equal(in->split.pgs[i].identity, w.pgs[i].identity);
    assert_int_equal(dv_wire_pg_cmp(&in->split.pgs[i], &w.pgs[i]), 0);
  }
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
      same_as_whole(a, &in, canon, clen);
      assert_int_equal(in.split.n_pgs, (size_t)n);
      if (!with) assert_int_equal(in.decoded, (size_t)n);
      if (with) assert_true(in.decoded < (size_t)n);
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

/* What the store reads off a document taken whole (intake.h: in->run) is
 * what it would compute from the whole split: the same delta against
 * known, byte for byte, and the same port groups found equal. */
static void same_delta_off_the_run(dv_arena_t *a, const dv_wire_cfg_t *known,
                                   const dv_intake_t *in) {
  dv_err_t err = DV_ERR_INIT;
  store_body_t by_run, by_split;
  size_t n = in->split.n_pgs;
  size_t *m_split = dv_arena_alloc(a, (n + 1) * sizeof *m_split);
  size_t *m_run = dv_arena_alloc(a, (n + 1) * sizeof *m_run);
  dv_wire_cfg_t again;
  assert_int_equal(layout_encode_delta_run(a, &in->run, &by_run, &err), 0);
  assert_int_equal(layout_encode_delta_wire(a, known, &in->split, m_split, &by_split, &err), 0);
  assert_int_equal(by_run.full, 0);
  assert_int_equal(by_run.codec, by_split.codec);
  assert_int_equal(by_run.len, by_split.len);
  if (by_run.len > 0) assert_memory_equal(by_run.data, by_split.data, by_run.len);
  assert_int_equal(dv_wire_run_split(a, &in->run, &again, m_run), 0);
  assert_int_equal(again.n_pgs, n);
  assert_memory_equal(m_run, m_split, n * sizeof *m_run);
}

/* A port group with a key and name from small pools (so that documents
 * often move an identity between keyed and keyless port groups, or give a
 * key that another port group has as its name), or no key. */
static dv_pg_cfg_t *pooled_pg(dv_arena_t *a, const dv_pg_cfg_t *like) {
  dv_pg_cfg_t *p = dv_msg_clone(a, &like->base);
  p->key = rand() % 10 < 3 ? "" : dv_arena_printf(a, "%s%d", rand() % 2 ? "k" : "n", rand() % 12);
  p->name = dv_arena_printf(a, "%s%d", rand() % 4 ? "n" : "k", rand() % 12);
  p->default_port_config->vlan->vlan_id = 100 + rand() % 5;
  return p;
}

/* Random small switches, each sent back with one to three changes (a VLAN,
 * a name, a key, a key dropped, a port group removed or added): intake
 * decides as decoding whole does, with the same bytes, and what the store
 * reads off a run is what the whole split gives. Seeded: the same cases
 * every run (INTAKE_RANDOM_CASES=N for more). */
static void random_changes_decide_as_whole(void **state) {
  (void)state;
  const char *env = getenv("INTAKE_RANDOM_CASES");
  long cases = env != NULL ? atol(env) : 20000, runs = 0, refused = 0;
  for (long t = 0; t < cases; t++) {
    srand((unsigned)t * 7919u + 1);
    dv_arena_t *a = dv_arena_new();
    int n0 = 4 + rand() % 12;
    dv_switch_cfg_t *k = fake_config(a, "sw", "uuid-1", n0);
    for (int i = 0; i < n0; i++) k->portgroups[i] = pooled_pg(a, k->portgroups[i]);
    dv_err_t err = DV_ERR_INIT, want = DV_ERR_INIT;
    uint8_t *kc, *doc, *canon;
    size_t kl, len, clen;
    if (dv_validate_config(k, &err) != 0 || dv_config_encode(a, k, &kc, &kl, &err) != 0) {
      dv_arena_free(a); /* a clash among the pools' draws: not a stored version */
      continue;
    }
    dv_wire_cfg_t *known = dv_arena_alloc(a, sizeof *known);
    assert_int_equal(dv_wire_split_config(a, kc, kl, known, &err), 0);
    known->validated = true; /* as intake's own split of it would be */
    dv_switch_cfg_t *c = dv_msg_clone(a, &k->base);
    size_t n = c->n_portgroups;
    dv_pg_cfg_t **pg = dv_arena_alloc(a, (n + 4) * sizeof *pg);
    memcpy(pg, c->portgroups, n * sizeof *pg);
    for (int q = 1 + rand() % 3; q > 0; q--) {
      int op = rand() % 6;
      size_t at = n > 0 ? (size_t)rand() % n : 0;
      if (op == 4 || n == 0) {
        pg[n++] = pooled_pg(a, k->portgroups[0]);
        continue;
      }
      if (op == 3) {
        memmove(pg + at, pg + at + 1, (n - at - 1) * sizeof *pg);
        n--;
        continue;
      }
      pg[at] = dv_msg_clone(a, &pg[at]->base);
      if (op == 0) pg[at]->default_port_config->vlan->vlan_id = 200 + rand() % 50;
      if (op == 1) pg[at]->name = dv_arena_printf(a, "%s%d", rand() % 2 ? "n" : "k", rand() % 12);
      if (op == 2) pg[at]->key = dv_arena_printf(a, "%s%d", rand() % 2 ? "k" : "n", rand() % 12);
      if (op == 5) pg[at]->key = "";
    }
    c->portgroups = pg;
    c->n_portgroups = n;
    dv_config_canonicalize(c); /* sent in canonical order, as GetVersion gives it */
    doc = pack(a, c, &len);
    int whole_rc = whole(a, doc, len, &canon, &clen, &want);
    dv_intake_t in;
    int rc = take(a, doc, len, known, &in, &err);
    if ((whole_rc == 0) != (rc == 0))
      fail_msg("case %ld: decoding whole says %d (%s), intake %d (%s)", t, whole_rc, want.msg, rc,
               err.msg);
    if (rc == 0) {
      same_as_whole(a, &in, canon, clen);
      if (in.as_known_changed) {
        same_delta_off_the_run(a, known, &in);
        runs++;
      }
    } else {
      refused++;
    }
    dv_arena_free(a);
  }
  /* the cases reach both ways, and refusals */
  assert_true(runs > cases / 20);
  assert_true(refused > cases / 100);
}

/* The usual document, the latest version with a few port groups changed in
 * one place, is taken whole: only those are decoded. Whatever else it may
 * be is taken port group by port group, with the same result as decoding
 * it whole. */
static void known_changed_in_one_place_is_taken_whole(void **state) {
  (void)state;
  enum { N = 60 };
  static const struct {
    const char *what;
    bool whole;     /* taken whole */
    size_t decoded; /* port groups decoded */
    const char *refused;
  } cases[] = {
      {"unchanged", true, 0, NULL},
      {"one VLAN", true, 1, NULL},
      {"the first port group's VLAN", true, 1, NULL},
      {"the last port group's VLAN", true, 1, NULL},
      {"three neighbours", true, 3, NULL},
      {"one removed", true, 0, NULL},
      {"one added at the end", true, 1, NULL},
      {"one added in the middle", true, 1, NULL},
      {"nine neighbours", false, 9, NULL},
      {"two far apart", false, 2, NULL},
      {"the switch's description", false, 0, NULL},
      {"a name taken twice", false, 0, "name \"pg-40\" appears twice"},
      {"a keyless name equal to a key", false, 0, "\"dvportgroup-1040\" appears twice"},
      {"a key equal to a keyless name", false, 0, "\"lonely\" appears twice"},
      {"a VLAN out of range", false, 0, "vlan_id: 5000 is outside"},
      {"the same key twice", false, 0, "\"dvportgroup-1009\" appears twice"},
      {"a port group twice", false, 0, "name \"pg-25\" appears twice"},
      /* changed in place or not: each replacement's name and key against
       * the one it replaces, not against any of those replaced */
      {"a VLAN, and a neighbour renamed as one that stays", false, 0,
       "name \"pg-45\" appears twice"},
      {"two neighbours' names swapped", true, 2, NULL},
  };
  for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
    dv_arena_t *a = dv_arena_new();
    dv_switch_cfg_t *k = fake_config(a, "sw", "uuid-1", N);
    if (t == 13) k->portgroups[0]->key = "", k->portgroups[0]->name = "lonely";
    const dv_wire_cfg_t *known = known_split(a, k);
    dv_switch_cfg_t *c = dv_msg_clone(a, &k->base);
    dv_pg_cfg_t **pg = c->portgroups;
    switch (t) {
      case 1: pg[30]->default_port_config->vlan->vlan_id = 3000; break;
      case 2: pg[0]->default_port_config->vlan->vlan_id = 3000; break;
      case 3: pg[N - 1]->default_port_config->vlan->vlan_id = 3000; break;
      case 4:
        for (int i = 20; i < 23; i++) pg[i]->num_ports = 99;
        break;
      case 5: pg[17] = pg[--c->n_portgroups]; break;
      case 6:
      case 7: {
        dv_pg_cfg_t *extra = dv_msg_clone(a, &pg[0]->base);
        extra->key = t == 6 ? "dvportgroup-9999" : "dvportgroup-1030a";
        extra->name = "extra";
        c->portgroups = dv_arena_alloc(a, (N + 1) * sizeof *pg);
        memcpy(c->portgroups, pg, N * sizeof *pg);
        c->portgroups[c->n_portgroups++] = extra;
        break;
      }
      case 8:
        for (int i = 10; i < 19; i++) pg[i]->num_ports = 99;
        break;
      case 9: pg[2]->num_ports = pg[50]->num_ports = 99; break;
      case 10: c->description = "changed"; break;
      case 11: pg[12]->name = "pg-40"; break;
      case 12: pg[12]->key = "", pg[12]->name = "dvportgroup-1040"; break;
      case 13: pg[12]->key = "lonely"; break;
      case 14: pg[12]->default_port_config->vlan->vlan_id = 5000; break;
      case 15: pg[10]->key = "dvportgroup-1009"; break;
      case 16:
        c->portgroups = dv_arena_alloc(a, (N + 1) * sizeof *pg);
        memcpy(c->portgroups, pg, N * sizeof *pg);
        c->portgroups[c->n_portgroups++] = pg[25];
        break;
      case 17:
        pg[20]->default_port_config->vlan->vlan_id = 3000;
        pg[21]->name = "pg-45";
        break;
      case 18: pg[20]->name = "pg-21", pg[21]->name = "pg-20"; break;
    }
    /* sent canonical, as a client sends back what GetVersion gave it */
    uint8_t *doc, *canon;
    size_t len, clen;
    dv_err_t err = DV_ERR_INIT, want = DV_ERR_INIT;
    if (cases[t].refused == NULL) {
      if (dv_config_encode(a, c, &doc, &len, &err) != 0)
        fail_msg("%s: %s", cases[t].what, err.msg);
      if (whole(a, doc, len, &canon, &clen, &want) != 0)
        fail_msg("%s: whole: %s", cases[t].what, want.msg);
    } else {
      doc = pack(a, c, &len); /* dv_config_encode would refuse it */
      assert_int_equal(whole(a, doc, len, &canon, &clen, &want), -1);
      doc = NULL;
      dv_switch_cfg_t *sorted = dv_msg_clone(a, &c->base);
      dv_config_canonicalize(sorted);
      doc = pack(a, sorted, &len);
    }
    dv_intake_t in;
    int rc = take(a, doc, len, known, &in, &err);
    if (cases[t].refused != NULL) {
      if (rc != -1 || strstr(err.msg, cases[t].refused) == NULL)
        fail_msg("%s: intake said %d \"%s\"; whole: \"%s\"", cases[t].what, rc, err.msg, want.msg);
      assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
      assert_false(in.as_known_changed);
    } else {
      if (rc != 0) fail_msg("%s: intake said %d \"%s\"", cases[t].what, rc, err.msg);
      same_as_whole(a, &in, canon, clen);
      assert_ptr_equal(in.canon, doc); /* canonical as sent: not copied */
      if (in.as_known_changed != cases[t].whole || in.decoded != cases[t].decoded)
        fail_msg("%s: taken whole %d, %zu decoded", cases[t].what, in.as_known_changed, in.decoded);
      /* what is not decoded is known's: paired with it for the delta */
      size_t paired = 0;
      for (size_t i = 0; i < in.split.n_pgs; i++) paired += in.split.pgs[i].equals != NULL;
      assert_int_equal(paired + in.decoded, in.split.n_pgs);
      if (in.as_known_changed) /* the store reads the delta off the run */
        same_delta_off_the_run(a, known, &in);
    }
    dv_arena_free(a);
  }
}

/* The switch's own fields are the same read alone (one pass when the port
 * groups are one run, as canonical encodings have them) as in a full
 * split, wherever they stand among the port groups. */
static void settings_read_alone_are_the_splits(void **state) {
  (void)state;
  dv_arena_t *a = dv_arena_new();
  dv_switch_cfg_t *c = fake_config(a, "sw", "uuid-1", 3);
  size_t len;
  uint8_t *doc = pack(a, c, &len);
  dv_wire_cfg_t w, alone;
  dv_err_t err = DV_ERR_INIT;
  assert_int_equal(dv_wire_split_config(a, doc, len, &w, &err), 0);
  uint8_t *odd = dv_arena_alloc(a, 2 * len + 64);
  /* the settings before, between and after the port groups; none; only them */
  for (int layout = 0; layout < 4; layout++) {
    size_t n = 0;
    if (layout != 3) dv_wire_put_ld(odd, &n, 1, "sw", 2);
    for (size_t i = 0; i < w.n_pgs && layout != 2; i++) {
      dv_wire_put_ld(odd, &n, 12, w.pgs[i].data, w.pgs[i].len);
      if (layout == 1 && i == 0) dv_wire_put_ld(odd, &n, 3, "between", 7);
    }
    if (layout != 3) dv_wire_put_ld(odd, &n, 13, "DC0", 3);
    dv_wire_cfg_t whole;
    assert_int_equal(dv_wire_split_config(a, odd, n, &whole, &err), 0);
    assert_int_equal(dv_wire_split_settings(a, odd, n, &alone, &err), 0);
    assert_int_equal(alone.n_pgs, whole.n_pgs);
    assert_int_equal(alone.settings_len, whole.settings_len);
    assert_memory_equal(alone.settings, whole.settings, whole.settings_len);
    assert_null(alone.pgs);
  }
  assert_int_equal(dv_wire_split_settings(a, doc, len - 1, &alone, &err), -1); /* cut short */
  assert_int_equal(err.code, GRPC_STATUS_DATA_LOSS);
  dv_arena_free(a);
}

/* What the fast way cannot vouch for, it leaves to the careful way, which
 * decides as decoding whole does: clashes with port groups that stay (a
 * keyless name equal to a key, a key equal to a keyless name), the switch's
 * own fields changed in place (same length), a document whose fields only
 * look like known's bytes at a port group's edge, a length prefix longer
 * than it needs to be, a port group's bytes sent as another field, a port
 * group whose place in canonical order moved, sent where it was.
 * (Cases found by a review: each one removes a check's reason to exist.) */
static void fast_way_leaves_what_it_cannot_vouch_for(void **state) {
  (void)state;
  enum { N = 60 };
  static const struct {
    const char *what;
    int verdict; /* -1 refused, 0 accepted, 2 as decoding whole says */
  } cases[] = {
      {"a keyless name equal to a later key", -1},
      {"a key equal to a keyless name before it", -1},
      {"the description, same length", 0},
      {"the datacenter (after the port groups), same length", 0},
      {"a port group's tag cut off where the one before ends with the same bytes", 2},
      {"a length prefix of two bytes", 0},
      {"a port group sent as field 13", 2},
      {"a key that sorts before its neighbour, sent in place", 0},
      {"a key that sorts after its neighbour, sent in place", 0},
  };
  for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
    dv_arena_t *a = dv_arena_new();
    dv_switch_cfg_t *k = fake_config(a, "sw", "uuid-1", N);
    if (t == 1) k->portgroups[0]->key = "", k->portgroups[0]->name = "dvportgroup-1012a";
    if (t == 4) { /* port group 5 ends with "b:", which is port group 6's tag and length */
      k->portgroups[5]->name = "pg-5b:";
      k->portgroups[5]->default_port_config = NULL;
      k->portgroups[5]->binding_type = "";
      k->portgroups[5]->num_ports = 0;
      k->portgroups[6]->name = "uuid-2-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
      k->portgroups[6]->default_port_config = NULL;
      k->portgroups[6]->binding_type = "";
      k->portgroups[6]->num_ports = 0;
    }
    const dv_wire_cfg_t *known = known_split(a, k);
    dv_switch_cfg_t *c = dv_msg_clone(a, &k->base);
    dv_pg_cfg_t **pg = c->portgroups;
    switch (t) {
      case 0: pg[0]->key = "", pg[0]->name = "dvportgroup-1040"; break;
      case 1: pg[12]->key = "dvportgroup-1012a"; break;
      case 2: c->description = "best switch"; break;
      case 3: c->datacenter = "DC1"; break;
      case 7: pg[30]->key = "dvportgroup-1000a"; break;
      case 8: pg[30]->key = "dvportgroup-1031a"; break;
    }
    if (t != 7 && t != 8) dv_config_canonicalize(c);
    size_t len;
    uint8_t *doc = pack(a, c, &len);
    if (t == 4) { /* port group 6's tag and length removed */
      size_t at = (size_t)(known->pgs[6].data - known->buf) - 2;
      assert_memory_equal(known->buf + at - 2, "b:b:", 4);
      memmove(doc + at, doc + at + 2, len - at - 2);
      len -= 2;
    }
    if (t == 5 || t == 6) { /* port group 30 with a 2-byte length prefix, or as field 13 */
      size_t at = (size_t)(known->pgs[30].data - known->buf) - 2, pl = known->pgs[30].len;
      assert_true(pl < 0x80);
      uint8_t *d = dv_arena_alloc_raw(a, len + 2);
      memcpy(d, doc, at);
      size_t o = at;
      d[o++] = t == 5 ? 0x62 : 0x6a;
      if (t == 5) d[o++] = (uint8_t)(pl | 0x80), d[o++] = 0;
      else d[o++] = (uint8_t)pl;
      memcpy(d + o, doc + at + 2, len - at - 2);
      len = o + len - at - 2;
      doc = d;
    }
    /* decoding whole */
    uint8_t *canon = NULL;
    size_t clen = 0;
    dv_err_t err = DV_ERR_INIT, want = DV_ERR_INIT;
    dv_switch_cfg_t *x = dvsconf__v1__switch_config__unpack(dv_arena_allocator(a), len, doc);
    int whole_rc = x == NULL || dv_validate_strings(&x->base, &want) != 0 ||
                           dv_validate_config(x, &want) != 0
                       ? -1
                       : dv_config_encode(a, x, &canon, &clen, &want);
    if (cases[t].verdict != 2 && whole_rc != cases[t].verdict)
      fail_msg("%s: decoding whole says %d (%s)", cases[t].what, whole_rc, want.msg);
    dv_intake_t in;
    int rc = take(a, doc, len, known, &in, &err);
    if (rc == 1) rc = whole_rc; /* left to the whole decode */
    else if (in.as_known_changed) fail_msg("%s: taken whole", cases[t].what);
    if (rc != whole_rc)
      fail_msg("%s: intake says %d (%s), decoding whole %d (%s)", cases[t].what, rc, err.msg,
               whole_rc, want.msg);
    if (rc == 0 && in.canon_len > 0) same_as_whole(a, &in, canon, clen);
    dv_arena_free(a);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(same_bytes_as_decoding_whole),
      cmocka_unit_test(known_port_groups_are_not_decoded),
      cmocka_unit_test(canonical_document_is_not_copied),
      cmocka_unit_test(refuses_what_validation_refuses),
      cmocka_unit_test(unvalidated_known_is_not_trusted),
      cmocka_unit_test(odd_bytes_go_to_the_whole_decode),
      cmocka_unit_test(known_changed_in_one_place_is_taken_whole),
      cmocka_unit_test(random_changes_decide_as_whole),
      cmocka_unit_test(settings_read_alone_are_the_splits),
      cmocka_unit_test(fast_way_leaves_what_it_cannot_vouch_for),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
