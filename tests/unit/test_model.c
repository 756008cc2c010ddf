/* Canonical encoding, checksums, the storage layout (delta + fold), page
 * tokens and request validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fake_adapter.h"
#include "store.h"
#include "store_internal.h"
#include "validate.h"

static void canonical_checksum_ignores_order(void **state) {
  dv_arena_t *a = dv_arena_new();
  dv_err_t err = DV_ERR_INIT;
  dv_switch_cfg_t *x = fake_config(a, "sw", "u-1", 50);
  dv_switch_cfg_t *y = dv_msg_clone(a, &x->base);
  /* reverse y's port groups and hosts */
  for (size_t i = 0; i < y->n_portgroups / 2; i++) {
    dv_pg_cfg_t *t = y->portgroups[i];
    y->portgroups[i] = y->portgroups[y->n_portgroups - 1 - i];
    y->portgroups[y->n_portgroups - 1 - i] = t;
  }
  char *h = y->host_members[0];
  y->host_members[0] = y->host_members[1];
  y->host_members[1] = h;
  char sx[65], sy[65];
  assert_int_equal(dv_config_checksum(a, x, sx, &err), 0);
  assert_int_equal(dv_config_checksum(a, y, sy, &err), 0);
  assert_string_equal(sx, sy);
  assert_int_equal(strlen(sx), 64);
  assert_string_equal(x->host_members[0], "esx-a");
  /* one changed VLAN changes the checksum */
  y->portgroups[7]->default_port_config->vlan->vlan_id = 4000;
  assert_int_equal(dv_config_checksum(a, y, sy, &err), 0);
  assert_string_not_equal(sx, sy);
  assert_false(dv_config_equal(a, x, y));
  dv_arena_free(a);
}

static void sha256_known_answer(void **state) {
  char out[65];
  dv_sha256_hex((const uint8_t *)"abc", 3, out);
  assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* Hashing resumed from another byte string's marks, over the bytes the two
 * have in common at the start, is hashing from the start; so is every
 * mark a later resumption starts from. */
static void sha256_resumes_from_marks(void **state) {
  (void)state;
  dv_arena_t *a = dv_arena_new();
  const size_t step = DV_SHA_MARK_STEP, lens[] = {0, 1, step - 1, step, step + 1, 5 * step + 77};
  uint8_t *x = dv_arena_alloc(a, 6 * step), *y = dv_arena_alloc(a, 6 * step);
  for (size_t i = 0; i < 6 * step; i++) x[i] = y[i] = (uint8_t)(i * 2654435761u >> 13);
  for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
    size_t len = lens[li];
    char want[DV_SHA256_HEX_LEN + 1], got[DV_SHA256_HEX_LEN + 1];
    const uint8_t *xm, *ym, *zm;
    size_t xm_len, ym_len, zm_len;
    dv_sha256_marked(a, x, len, NULL, 0, 0, &xm, &xm_len, got);
    dv_sha256_hex(x, len, want);
    assert_string_equal(got, want);
    assert_int_equal(xm_len == 0, len < step);
    /* y: x with one byte changed at each place in turn */
    for (size_t at = 0; at < len; at += step / 3 + 1) {
      y[at] ^= 0x5a;
      dv_sha256_marked(a, y, len, xm, xm_len, at, &ym, &ym_len, got);
      dv_sha256_hex(y, len, want);
      assert_string_equal(got, want);
      assert_int_equal(ym_len, xm_len);
      /* and y's marks resume as well: back to x, the change undone */
      y[at] ^= 0x5a;
      dv_sha256_marked(a, x, len, ym, ym_len, at, &zm, &zm_len, got);
      dv_sha256_hex(x, len, want);
      assert_string_equal(got, want);
    }
  }
  dv_arena_free(a);
}

static void delta_stores_only_the_change_and_folds_back(void **state) {
  dv_arena_t *a = dv_arena_new();
  dv_err_t err = DV_ERR_INIT;
  dv_switch_cfg_t *v1 = fake_config(a, "sw", "u-1", 2000);
  dv_config_canonicalize(v1);
  uint8_t *canon;
  size_t canon_len;
  assert_int_equal(dv_config_encode(a, v1, &canon, &canon_len, &err), 0);
  store_body_t bodies[3];
  assert_int_equal(layout_encode_full(a, canon, canon_len, &bodies[0], &err), 0);
  assert_int_equal(bodies[0].codec, 2); /* LZMA2 */
  assert_true(bodies[0].len < canon_len);

  dv_switch_cfg_t *v2 = dv_msg_clone(a, &v1->base);
  v2->portgroups[1234]->default_port_config->vlan->vlan_id = 7;
  assert_int_equal(layout_encode_delta(a, v1, v2, &bodies[1], &err), 0);
  assert_true(bodies[1].len < 200); /* one port group, not 2,000 */

  dv_switch_cfg_t *v3 = dv_msg_clone(a, &v2->base);
  v3->n_portgroups--; /* remove the last */
  v3->description = "changed";
  assert_int_equal(layout_encode_delta(a, v2, v3, &bodies[2], &err), 0);

  dv_switch_cfg_t *got;
  assert_int_equal(layout_fold(a, bodies, 3, &got, &err), 0);
  assert_true(dv_config_equal(a, got, v3));
  assert_int_equal(layout_fold(a, bodies, 2, &got, &err), 0);
  assert_true(dv_config_equal(a, got, v2));
  /* a damaged body is DATA_LOSS, never a wrong config */
  bodies[1].data[0] ^= 0xff;
  bodies[1].data[1] ^= 0xff;
  int rc = layout_fold(a, bodies, 2, &got, &err);
  if (rc == 0) assert_false(dv_config_equal(a, got, v2));
  else assert_int_equal(err.code, GRPC_STATUS_DATA_LOSS);
  dv_arena_free(a);
}

static void page_tokens_round_trip_and_reject_forgeries(void **state) {
  dv_arena_t *a = dv_arena_new();
  dv_err_t err = DV_ERR_INIT;
  dv_list_filter_t f = {"lab", "", "dvs-1"}, g = {"lab", "", "dvs-2"};
  char *t = dv_page_token_make(a, &f, 12345);
  int64_t id = 0;
  assert_int_equal(dv_page_token_parse(t, &f, &id, &err), 0);
  assert_int_equal(id, 12345);
  assert_int_equal(dv_page_token_parse(t, &g, &id, &err), -1);
  assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
  assert_non_null(strstr(err.msg, "page_token"));
  const char *bad[] = {"x", "!!!!", "cDEuMTIzLmFiYw", "AAAAAAAA", "p1.5.0000000000000000"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    dv_err_clear(&err);
    assert_int_equal(dv_page_token_parse(bad[i], &f, &id, &err), -1);
    assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
  }
  dv_arena_free(a);
}

static void version_ids_and_names_are_checked(void **state) {
  dv_err_t err = DV_ERR_INIT;
  int64_t id;
  assert_int_equal(dv_version_id_parse("42", &id, &err), 0);
  assert_int_equal(id, 42);
  const char *bad[] = {"", "-1", "0", "abc", "1e3", "99999999999999999999", " 1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    dv_err_clear(&err);
    assert_int_equal(dv_version_id_parse(bad[i], &id, &err), -1);
    assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err.msg, "version_id"));
  }
  assert_true(dv_utf8_valid("caf\xc3\xa9", 5));
  assert_false(dv_utf8_valid("\xc3", 1));
  assert_false(dv_utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
  assert_false(dv_utf8_valid("\xc0\xaf", 2));     /* overlong */
  dv_err_clear(&err);
  assert_int_equal(dv_validate_name("switch_name", "a\nb", true, &err), -1);
  assert_non_null(strstr(err.msg, "switch_name"));
  dv_err_clear(&err);
  assert_int_equal(dv_validate_name("plane", "", true, &err), -1);
  assert_string_equal(err.msg, "plane: required");
}

static void request_strings_must_be_utf8(void **state) {
  dv_err_t err = DV_ERR_INIT;
  Dvsconf__V1__ExportRequest r = DVSCONF__V1__EXPORT_REQUEST__INIT;
  Dvsconf__V1__ExportRequest__LabelsEntry e = DVSCONF__V1__EXPORT_REQUEST__LABELS_ENTRY__INIT;
  Dvsconf__V1__ExportRequest__LabelsEntry *es[] = {&e};
  e.key = "k";
  e.value = "\xff";
  r.labels = es;
  r.n_labels = 1;
  assert_int_equal(dv_validate_strings(&r.base, &err), -1);
  assert_string_equal(err.msg, "labels[0].value: not valid UTF-8");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(canonical_checksum_ignores_order),
      cmocka_unit_test(sha256_known_answer),
      cmocka_unit_test(sha256_resumes_from_marks),
      cmocka_unit_test(delta_stores_only_the_change_and_folds_back),
      cmocka_unit_test(page_tokens_round_trip_and_reject_forgeries),
      cmocka_unit_test(version_ids_and_names_are_checked),
      cmocka_unit_test(request_strings_must_be_utf8),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
