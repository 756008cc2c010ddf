/* Fuzz target (ii): the vSphere adapter's SOAP response parser, through
 * dv_vsphere_parse_switch() (service/adapters/vsphere_parse.h): the same
 * on_live_object / map_* code that read_switch runs on vCenter's answer to
 * RetrievePropertiesEx. Seeds: real responses captured from vcsim
 * (tests/fuzz/capture_soap.py).
 *
 * Checked: no crash, leak or undefined behaviour; a failure has a status and
 * a message; a parsed config has only valid UTF-8 strings (it is stored and
 * sent to clients as proto3 strings), packs, canonicalizes and checksums,
 * and its canonical encoding is stable; the same in two parts; and the
 * objects the scanner reads are, node by node, the ones libxml2 reads. */
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "fuzz_check.h"
#include "model.h"
#include "validate.h"
#include "vsphere_parse.h"
#include "vsphere_soap.h"

#include "../common/objects_dump.h"

#include <libxml/parser.h>

/* The scanner (service/adapters/vsphere_scan.h) delivers what libxml2
 * alone delivers: the same outcome and, when the answer is taken, the same
 * trees, node by node. Split at a third (the rest in two parts) and at a
 * half (the rest read on in one piece). */
static void scanner_as_libxml2(const uint8_t *data, size_t size) {
  dump_t ref = {0};
  grpc_status_code ref_code;
  int ref_rc = objects_dump(data, size, 0, false, &ref, &ref_code);
  const size_t splits[] = {size / 3 + 1, size / 2 + 1};
  for (size_t i = 0; i < sizeof splits / sizeof splits[0]; i++) {
    dump_t d = {0};
    grpc_status_code code;
    int rc = objects_dump(data, size, splits[i], true, &d, &code);
    FUZZ_CHECK(rc == ref_rc && code == ref_code, "split %zu, scanning: %d (%d); libxml2: %d (%d)",
               splits[i], rc, code, ref_rc, ref_code);
    FUZZ_CHECK(!d.broken && !ref.broken, "an object tree with broken links");
    if (rc == 0)
      FUZZ_CHECK(d.len == ref.len && (d.len == 0 || memcmp(d.p, ref.p, d.len) == 0),
                 "split %zu: the scanner's objects are not libxml2's", splits[i]);
    free(d.p);
  }
  free(ref.p);
}

static void utf8_strings(const ProtobufCMessage *m, int depth) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  FUZZ_CHECK(depth < 16, "nested too deep");
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
    const char *base = (const char *)m + f->offset;
    size_t n = 1;
    const void *const *vals = (const void *const *)base;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      n = *(const size_t *)((const char *)m + f->quantifier_offset);
      vals = *(const void *const *const *)base;
    }
    for (size_t k = 0; k < n; k++) {
      const void *v = vals[k];
      if (v == NULL) {
        FUZZ_CHECK(f->type == PROTOBUF_C_TYPE_MESSAGE, "field %s: NULL string", f->name);
        continue;
      }
      if (f->type == PROTOBUF_C_TYPE_STRING)
        FUZZ_CHECK(dv_utf8_valid(v, strlen(v)), "field %s: not valid UTF-8", f->name);
      else
        utf8_strings(v, depth + 1);
    }
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  xmlInitParser();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dv_arena_t *a = dv_arena_new();
  FUZZ_CHECK(a != NULL, "no arena");
  dv_switch_cfg_t *cfg = NULL;
  dv_err_t err = DV_ERR_INIT;
  int rc = dv_vsphere_parse_switch((const char *)data, size, 0, a, &cfg, &err);
  /* the same answer in two parts (its first third, then the rest split at
   * an object past its middle, when there is one): the same outcome */
  dv_switch_cfg_t *cfg2 = NULL;
  dv_err_t err2 = DV_ERR_INIT;
  int rc2 = dv_vsphere_parse_switch((const char *)data, size, size / 3 + 1, a, &cfg2, &err2);
  FUZZ_CHECK(rc == rc2 && err.code == err2.code, "in two parts: %d %s, in one piece: %d %s", rc2,
             err2.msg, rc, err.msg);
  if (rc != 0) {
    FUZZ_CHECK(err.code != GRPC_STATUS_OK && err.msg[0] != '\0', "failed without a status");
  } else {
    FUZZ_CHECK(cfg != NULL && err.code == GRPC_STATUS_OK, "succeeded without a config");
    utf8_strings(&cfg->base, 0);
    uint8_t *enc, *enc2;
    size_t len, len2;
    char sum[DV_SHA256_HEX_LEN + 1];
    FUZZ_CHECK(dv_config_encode(a, cfg, &enc, &len, &err) == 0, "encode: %s", err.msg);
    dv_sha256_hex(enc, len, sum);
    dv_switch_cfg_t *back = dv_msg_clone(a, &cfg->base);
    FUZZ_CHECK(back != NULL, "the parsed config does not survive pack + unpack");
    FUZZ_CHECK(dv_config_encode(a, back, &enc2, &len2, &err) == 0, "encode: %s", err.msg);
    FUZZ_CHECK(len == len2 && memcmp(enc, enc2, len) == 0, "canonical encoding is not stable");
    FUZZ_CHECK(dv_config_encode(a, cfg2, &enc2, &len2, &err) == 0, "encode: %s", err.msg);
    FUZZ_CHECK(len == len2 && memcmp(enc, enc2, len) == 0, "in two parts: another config");
  }
  dv_arena_free(a);
  scanner_as_libxml2(data, size);
  return 0;
}
