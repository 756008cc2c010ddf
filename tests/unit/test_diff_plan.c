/* The structural diff and import plans. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "diff.h"
#include "fake_adapter.h"
#include "model.h"
#include "plan.h"
#include "wire.h"

static void vlan_change_has_exact_path(void **state) {
  dv_arena_t *a = dv_arena_new();
  dv_err_t err = DV_ERR_INIT;
  dv_switch_cfg_t *x = fake_config(a, "sw", "u", 5);
  dv_switch_cfg_t *y = dv_msg_clone(a, &x->base);
  y->portgroups[3]->default_port_config->vlan->vlan_id = 42;
  dv_change_t **ch;
  size_t n;
  assert_int_equal(dv_diff_configs(a, x, y, true, &ch, &n, &err), 0);
  assert_int_equal(n, 1);
  assert_int_equal(ch[0]->kind, DVSCONF__V1__CHANGE_KIND__CHANGE_KIND_MODIFIED);
  assert_string_equal(ch[0]->path, "portgroups[\"pg-3\"].default_port_config.vlan.vlan_id");
  assert_string_equal(ch[0]->old_value, "103");
  assert_string_equal(ch[0]->new_value, "42");
  assert_int_equal(dv_diff_configs(a, x, x, true, &ch, &n, &err), 0);
  assert_int_equal(n, 0);
  dv_arena_free(a);
}

static void added_removed_and_hosts(void **state) {
  dv_arena_t *a = dv_arena_new();
  dv_err_t err = DV_ERR_INIT;
  dv_switch_cfg_t *x = fake_config(a, "sw", "u", 3);
  dv_switch_cfg_t *y = fake_config(a, "sw", "u", 4);
  y->portgroups[0] = y->portgroups[3]; /* pg-0 replaced by pg-3 */
  y->n_portgroups = 3;
  y->host_members[0] = "esx-c";        /* esx-b -> esx-c */
  y->max_mtu = 9000;
  dv_change_t **ch;
  size_t n;
  assert_int_equal(dv_diff_configs(a, x, y, true, &ch, &n, &err), 0);
  assert_int_equal(n, 5);
  assert_string_equal(ch[0]->path, "max_mtu");
  assert_string_equal(ch[0]->old_value, "1500");
  assert_string_equal(ch[1]->path, "host_members[\"esx-b\"]");
  assert_int_equal(ch[1]->kind, DVSCONF__V1__CHANGE_KIND__CHANGE_KIND_REMOVED);
  assert_string_equal(ch[2]->path, "host_members[\"esx-c\"]");
  assert_int_equal(ch[2]->kind, DVSCONF__V1__CHANGE_KIND__CHANGE_KIND_ADDED);
  assert_string_equal(ch[3]->path, "portgroups[\"pg-0\"]");
  assert_int_equal(ch[3]->kind, DVSCONF__V1__CHANGE_KIND__CHANGE_KIND_REMOVED);
  assert_string_equal(ch[4]->path, "portgroups[\"pg-3\"]");
  assert_int_equal(ch[4]->kind, DVSCONF__V1__CHANGE_KIND__CHANGE_KIND_ADDED);
  assert_non_null(strstr(ch[4]->new_value, "vlan_id: 103"));
  dv_arena_free(a);
}

static void across_switches_match_by_name_ignoring_keys(void **state) {
  dv_arena_t *a = dv_arena_new();
  dv_err_t err = DV_ERR_INIT;
  dv_switch_cfg_t *x = fake_config(a, "sw", "u", 3);
  dv_switch_cfg_t *y = fake_config(a, "other", "v", 3);
  for (size_t i = 0; i < y->n_portgroups; i++) y->portgroups[i]->key = "k";
  y->portgroups[2]->key = "z";
  dv_change_t **ch;
  size_t n;
  assert_int_equal(dv_diff_configs(a, x, y, false, &ch, &n, &err), 0);
  assert_int_equal(n, 2); /* name and uuid; no key noise */
  assert_string_equal(ch[0]->path, "name");
  assert_string_equal(ch[1]->path, "uuid");
  /* within one history a renamed port group (same key) is a name change */
  dv_switch_cfg_t *z = dv_msg_clone(a, &x->base);
  z->portgroups[1]->name = "renamed";
  assert_int_equal(dv_diff_configs(a, x, z, true, &ch, &n, &err), 0);
  assert_int_equal(n, 1);
  assert_string_equal(ch[0]->path, "portgroups[\"pg-1\"].name");
  assert_string_equal(ch[0]->new_value, "renamed");
  dv_arena_free(a);
}

static void path_quotes_names(void **state) {
  dv_arena_t *a = dv_arena_new();
  dv_err_t err = DV_ERR_INIT;
  dv_switch_cfg_t *x = fake_config(a, "sw", "u", 1);
  x->portgroups[0]->name = "we\"b";
  dv_switch_cfg_t *y = dv_msg_clone(a, &x->base);
  y->portgroups[0]->num_ports = 9;
  dv_change_t **ch;
  size_t n;
  assert_int_equal(dv_diff_configs(a, x, y, true, &ch, &n, &err), 0);
  assert_int_equal(n, 1);
  assert_string_equal(ch[0]->path, "portgroups[\"we\\\"b\"].num_ports");
  dv_arena_free(a);
}

static void apply_plan_is_minimal(void **state) {
  dv_arena_t *a = dv_arena_new();
  dv_err_t err = DV_ERR_INIT;
  dv_switch_cfg_t *target = fake_config(a, "sw", "u", 10);
  dv_switch_cfg_t *live = dv_msg_clone(a, &target->base);
  live->portgroups[4]->default_port_config->vlan->vlan_id = 999; /* differs */
  live->portgroups[9]->name = "extra";                        /* same key, renamed */
  live->portgroups[9]->key = "dvportgroup-x";                 /* ...no: other key, extra pg */
  dv_plan_opts_t o = {.same_history = true, .prune = false, .settings = true, .portgroups = true};
  dv_plan_t plan;
  assert_int_equal(dv_plan_apply(a, target, live, &o, &plan, &err), 0);
  /* pg-9 is missing on live (add), pg-4 differs (reconfigure); extra stays */
  assert_int_equal(plan.n_steps, 2);
  assert_int_equal(plan.steps[0].kind, DV_STEP_ADD_PORTGROUP);
  assert_string_equal(plan.steps[0].object, "pg-9");
  assert_int_equal(plan.steps[1].kind, DV_STEP_RECONFIGURE_PORTGROUP);
  assert_string_equal(plan.steps[1].object, "pg-4");
  assert_string_equal(plan.steps[1].old_pg->key, "dvportgroup-1004");
  assert_int_equal(plan.steps[1].new_pg->default_port_config->vlan->vlan_id, 104);
  assert_non_null(strstr(plan.steps[1].description, "999 -> 104"));
  o.prune = true;
  assert_int_equal(dv_plan_apply(a, target, live, &o, &plan, &err), 0);
  assert_int_equal(plan.n_steps, 3);
  assert_int_equal(plan.steps[2].kind, DV_STEP_REMOVE_PORTGROUP);
  assert_string_equal(plan.steps[2].object, "extra");
  /* equal configs: empty plan */
  assert_int_equal(dv_plan_apply(a, target, target, &o, &plan, &err), 0);
  assert_int_equal(plan.n_steps, 0);
  /* hosts only when asked */
  dv_switch_cfg_t *nohosts = dv_msg_clone(a, &target->base);
  nohosts->n_host_members = 1;
  assert_int_equal(dv_plan_apply(a, target, nohosts, &o, &plan, &err), 0);
  assert_int_equal(plan.n_steps, 0);
  o.hosts = true;
  assert_int_equal(dv_plan_apply(a, target, nohosts, &o, &plan, &err), 0);
  assert_int_equal(plan.n_steps, 1);
  assert_int_equal(plan.steps[0].kind, DV_STEP_ADD_HOST);
  dv_arena_free(a);
}

static void create_plan_lists_everything(void **state) {
  dv_arena_t *a = dv_arena_new();
  dv_err_t err = DV_ERR_INIT;
  dv_switch_cfg_t *target = fake_config(a, "sw", "u", 3);
  dv_plan_t plan;
  assert_int_equal(dv_plan_create(a, target, true, &plan, &err), 0);
  assert_int_equal(plan.n_steps, 6);
  assert_int_equal(plan.steps[0].kind, DV_STEP_CREATE_SWITCH);
  assert_int_equal(plan.steps[1].kind, DV_STEP_ADD_HOST);
  assert_int_equal(plan.steps[3].kind, DV_STEP_ADD_PORTGROUP);
  char h1[65], h2[65];
  dv_plan_sha256(&plan, h1);
  plan.n_steps--;
  dv_plan_sha256(&plan, h2);
  assert_string_not_equal(h1, h2);
  dv_arena_free(a);
}

/* Diffing the canonical bytes gives exactly what diffing the configs gives,
 * both within one history and across switches. */
static void packed_diff_equals_config_diff(void **state) {
  dv_arena_t *a = dv_arena_new();
  dv_err_t err = DV_ERR_INIT;
  dv_switch_cfg_t *x = fake_config(a, "sw", "u", 40);
  dv_switch_cfg_t *y = dv_msg_clone(a, &x->base);
  y->portgroups[3]->default_port_config->vlan->vlan_id = 4;   /* changed */
  y->portgroups[7]->name = "renamed";                          /* same key, new name */
  y->portgroups[9]->key = "dvportgroup-new";                   /* new key, same name */
  y->portgroups[11] = y->portgroups[--y->n_portgroups];       /* removed */
  y->max_mtu = 9000;                                           /* a setting */
  y->host_members[1] = "esx-z";
  for (int same = 0; same < 2; same++) {
    uint8_t *bx, *by;
    size_t lx, ly, n1, n2;
    dv_change_t **c1, **c2;
    assert_int_equal(dv_config_encode(a, x, &bx, &lx, &err), 0);
    assert_int_equal(dv_config_encode(a, y, &by, &ly, &err), 0);
    assert_int_equal(dv_diff_configs(a, x, y, same, &c1, &n1, &err), 0);
    assert_int_equal(dv_diff_packed(a, bx, lx, by, ly, same, &c2, &n2, &err), 0);
    assert_int_equal(n1, n2);
    assert_true(n1 >= 5);
    for (size_t i = 0; i < n1; i++) {
      assert_string_equal(c1[i]->path, c2[i]->path);
      assert_string_equal(c1[i]->old_value, c2[i]->old_value);
      assert_string_equal(c1[i]->new_value, c2[i]->new_value);
      assert_int_equal(c1[i]->kind, c2[i]->kind);
    }
  }
  dv_arena_free(a);
}

/* A config split with its port groups' digests and block digests, as a
 * cached version is kept; *bytes, *len: its canonical encoding. */
static dv_wire_cfg_t *digested(dv_arena_t *a, dv_switch_cfg_t *c, uint8_t **bytes, size_t *len) {
  dv_err_t err = DV_ERR_INIT;
  dv_wire_cfg_t *w = dv_arena_alloc(a, sizeof *w);
  assert_non_null(w);
  assert_int_equal(dv_config_encode(a, c, bytes, len, &err), 0);
  assert_int_equal(dv_wire_split_config(a, *bytes, *len, w, &err), 0);
  assert_int_equal(dv_wire_digest_pgs(a, w, NULL, NULL), 0);
  assert_non_null(w->block_digests);
  return w;
}

/* The changes Diff finds in x -> y through digests and block digests, and
 * how many; they must be the ones the bytes hold (dv_diff_packed). */
static size_t changes_through_blocks(dv_arena_t *a, dv_switch_cfg_t *x, dv_switch_cfg_t *y) {
  dv_err_t err = DV_ERR_INIT;
  uint8_t *bx, *by;
  size_t lx, ly, n1, n2;
  dv_wire_cfg_t *wx = digested(a, x, &bx, &lx), *wy = digested(a, y, &by, &ly);
  dv_change_t **c1, **c2;
  assert_int_equal(dv_diff_split(a, wx, wy, true, &c1, &n1, &err), 0);
  assert_int_equal(dv_diff_packed(a, bx, lx, by, ly, true, &c2, &n2, &err), 0);
  assert_int_equal(n1, n2);
  for (size_t i = 0; i < n1; i++) {
    assert_string_equal(c1[i]->path, c2[i]->path);
    assert_string_equal(c1[i]->old_value, c2[i]->old_value);
    assert_string_equal(c1[i]->new_value, c2[i]->new_value);
    assert_int_equal(c1[i]->kind, c2[i]->kind);
  }
  return n1;
}

/* Blocks of port groups whose digests are equal are passed over whole;
 * whatever the changes, and wherever the blocks fall after port groups
 * come and go, Diff finds what the bytes hold. */
static void block_digests_pass_over_equal_runs(void **state) {
  dv_arena_t *a = dv_arena_new();
  dv_err_t err = DV_ERR_INIT;
  const int n = 4 * DV_WIRE_BLOCK + 44; /* four whole blocks and a short one */
  dv_switch_cfg_t *x = fake_config(a, "sw", "u", n), *y;
  y = dv_msg_clone(a, &x->base);
  assert_int_equal(changes_through_blocks(a, x, y), 0);
  y->portgroups[5]->default_port_config->vlan->vlan_id = 7; /* in the first block */
  assert_int_equal(changes_through_blocks(a, x, y), 1);
  y = dv_msg_clone(a, &x->base);
  y->portgroups[n - 1]->default_port_config->vlan->vlan_id = 7; /* in the short one */
  assert_int_equal(changes_through_blocks(a, x, y), 1);
  y = dv_msg_clone(a, &x->base);
  for (int k = 0; k < n; k += DV_WIRE_BLOCK) y->portgroups[k + 10]->num_ports = 99; /* in each */
  assert_int_equal(changes_through_blocks(a, x, y), 5);
  y = dv_msg_clone(a, &x->base);
  y->portgroups[0] = y->portgroups[--y->n_portgroups]; /* the first one gone: the rest shift */
  y->portgroups[200]->description = "changed";
  assert_int_equal(changes_through_blocks(a, x, y), 2);
  y = dv_msg_clone(a, &x->base);
  y->n_portgroups -= 44; /* the short block gone: whole blocks stay equal */
  assert_int_equal(changes_through_blocks(a, x, y), 44);
  y = fake_config(a, "sw", "u", n + DV_WIRE_BLOCK); /* a whole block more, at the end */
  assert_int_equal(changes_through_blocks(a, y, x), DV_WIRE_BLOCK);
  y = dv_msg_clone(a, &x->base); /* the whole first block gone: the others pair, a block apart */
  y->portgroups += DV_WIRE_BLOCK;
  y->n_portgroups -= DV_WIRE_BLOCK;
  assert_int_equal(changes_through_blocks(a, x, y), DV_WIRE_BLOCK);
  /* x's first block replaced by a block of new port groups that sort
   * after it: the walk meets x's second block at y's first, on a boundary
   * of both, and must compare those two blocks, not the second of each
   * (which are equal) */
  y = fake_config(a, "sw", "u", n);
  for (int k = 0; k < DV_WIRE_BLOCK; k++) {
    y->portgroups[k]->key = dv_arena_printf(a, "dvportgroup-1063-%02d", k);
    y->portgroups[k]->name = dv_arena_printf(a, "pg-63-%02d", k);
  }
  assert_int_equal(changes_through_blocks(a, x, y), 2 * DV_WIRE_BLOCK);
  assert_int_equal(changes_through_blocks(a, y, x), 2 * DV_WIRE_BLOCK);

  /* Equal block digests are trusted: y's second block differs in one port
   * group, but given x's digest for that block, Diff does not read it. */
  y = dv_msg_clone(a, &x->base);
  y->portgroups[DV_WIRE_BLOCK + 3]->default_port_config->vlan->vlan_id = 7;
  uint8_t *bx, *by;
  size_t lx, ly, nc;
  dv_wire_cfg_t *wx = digested(a, x, &bx, &lx), *wy = digested(a, y, &by, &ly);
  dv_change_t **ch;
  assert_int_equal(dv_diff_split(a, wx, wy, true, &ch, &nc, &err), 0);
  assert_int_equal(nc, 1);
  memcpy(wy->block_digests + DV_WIRE_DIGEST_LEN, wx->block_digests + DV_WIRE_DIGEST_LEN,
         DV_WIRE_DIGEST_LEN);
  assert_int_equal(dv_diff_split(a, wx, wy, true, &ch, &nc, &err), 0);
  assert_int_equal(nc, 0);
  dv_arena_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(vlan_change_has_exact_path),
      cmocka_unit_test(added_removed_and_hosts),
      cmocka_unit_test(across_switches_match_by_name_ignoring_keys),
      cmocka_unit_test(path_quotes_names),
      cmocka_unit_test(apply_plan_is_minimal),
      cmocka_unit_test(create_plan_lists_everything),
      cmocka_unit_test(packed_diff_equals_config_diff),
      cmocka_unit_test(block_digests_pass_over_equal_runs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
