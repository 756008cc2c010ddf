/* Fuzz target (i): request decoding and validation, as server.c does it.
 *
 * Input: one byte choosing the request type (mod the table below), then the
 * message bytes. For each: protobuf_c unpack into a per-call arena with
 * dv_arena_allocator (decode_and_run), dv_validate_strings, then the checks
 * the operation makes before touching the store or a plane: names
 * (dv_validate_name), version ids (dv_version_id_parse), page tokens
 * (dv_page_token_parse) and, for PutVersion, dv_validate_config plus the
 * canonical checksum the store computes.
 *
 * Checked: no crash, leak or undefined behaviour (ASan, UBSan, LeakSanitizer);
 * a failed check sets a status and a non-empty message that is valid UTF-8
 * (it goes back to the client as the status details); a decoded message
 * packs; a PutVersion config that passes validation has a canonical encoding
 * that decodes again (the store writes that encoding and decodes it on every
 * read). */
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "dvsconf/v1/dvsconf.pb-c.h"
#include "fuzz_check.h"
#include "grpc/health/v1/health.pb-c.h"
#include "model.h"
#include "store.h"
#include "validate.h"

/* The order is the seeds' first byte (tests/fuzz/make_seeds.py REQUESTS). */
static const ProtobufCMessageDescriptor *const REQ[] = {
    &dvsconf__v1__export_request__descriptor,
    &dvsconf__v1__list_versions_request__descriptor,
    &dvsconf__v1__get_version_request__descriptor,
    &dvsconf__v1__diff_request__descriptor,
    &dvsconf__v1__import_request__descriptor,
    &dvsconf__v1__list_planes_request__descriptor,
    &dvsconf__v1__list_switches_request__descriptor,
    &dvsconf__v1__put_version_request__descriptor,
    &dvsconf__v1__list_audit_events_request__descriptor,
    &grpc__health__v1__health_check_request__descriptor,
};
#define N_REQ (sizeof REQ / sizeof REQ[0])

/* An error must be a status with a message a client can decode. */
static void check_err(int rc, const dv_err_t *err, const char *what) {
  if (rc == 0) {
    FUZZ_CHECK(err->code == GRPC_STATUS_OK, "%s: returned 0 with status %d (%s)", what, err->code,
               err->msg);
    return;
  }
  FUZZ_CHECK(err->code != GRPC_STATUS_OK, "%s: failed without a status", what);
  FUZZ_CHECK(err->msg[0] != '\0', "%s: failed without a message", what);
  FUZZ_CHECK(dv_utf8_valid(err->msg, strlen(err->msg)),
             "%s: the status message is not valid UTF-8: %s", what, err->msg);
}

/* Run one check on a fresh error; return its rc. */
#define STEP(call, what)                   \
  do {                                     \
    dv_err_t e_ = DV_ERR_INIT;             \
    dv_err_t *err = &e_;                   \
    int rc_ = (call);                      \
    check_err(rc_, err, what);             \
  } while (0)

static void names(const char *const *fields, const char *const *values, size_t n) {
  for (size_t i = 0; i < n; i++) STEP(dv_validate_name(fields[i], values[i], false, err), fields[i]);
}

static void by_type(dv_arena_t *a, const ProtobufCMessage *m) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  int64_t id;
  if (d == &dvsconf__v1__export_request__descriptor) {
    const Dvsconf__V1__ExportRequest *q = (const void *)m;
    const char *f[] = {"plane", "switch_name", "switch_uuid"};
    const char *v[] = {q->plane, q->switch_name, q->switch_uuid};
    names(f, v, 3);
    for (size_t i = 0; i < q->n_labels; i++)
      STEP(dv_validate_name("labels[].key", q->labels[i]->key, true, err), "labels[].key");
  } else if (d == &dvsconf__v1__list_versions_request__descriptor) {
    const Dvsconf__V1__ListVersionsRequest *q = (const void *)m;
    dv_list_filter_t f = {q->plane, q->switch_uuid, q->switch_name};
    if (q->page_token[0]) STEP(dv_page_token_parse(q->page_token, &f, &id, err), "page_token");
    /* a token we make for this filter parses back to its id */
    char *t = dv_page_token_make(a, &f, 1234567);
    FUZZ_CHECK(t != NULL, "page token: out of memory");
    dv_err_t e = DV_ERR_INIT;
    FUZZ_CHECK(dv_page_token_parse(t, &f, &id, &e) == 0 && id == 1234567,
               "page token %s does not parse back: %s", t, e.msg);
  } else if (d == &dvsconf__v1__get_version_request__descriptor) {
    const Dvsconf__V1__GetVersionRequest *q = (const void *)m;
    STEP(dv_version_id_parse(q->version_id, &id, err), "version_id");
  } else if (d == &dvsconf__v1__diff_request__descriptor) {
    const Dvsconf__V1__DiffRequest *q = (const void *)m;
    STEP(dv_version_id_parse(q->from_version_id, &id, err), "from_version_id");
    if (q->to_version_id[0]) STEP(dv_version_id_parse(q->to_version_id, &id, err), "to_version_id");
    const char *f[] = {"to_plane", "to_switch_name", "to_switch_uuid"};
    const char *v[] = {q->to_plane, q->to_switch_name, q->to_switch_uuid};
    names(f, v, 3);
  } else if (d == &dvsconf__v1__import_request__descriptor) {
    const Dvsconf__V1__ImportRequest *q = (const void *)m;
    STEP(dv_version_id_parse(q->version_id, &id, err), "version_id");
    const char *f[] = {"target_plane", "target_switch_name", "target_switch_uuid", "new_name",
                       "portgroup_prefix", "target_datacenter"};
    const char *v[] = {q->target_plane, q->target_switch_name, q->target_switch_uuid,
                       q->new_name, q->portgroup_prefix, q->target_datacenter};
    names(f, v, 6);
  } else if (d == &dvsconf__v1__put_version_request__descriptor) {
    const Dvsconf__V1__PutVersionRequest *q = (const void *)m;
    STEP(dv_validate_name("plane", q->plane, true, err), "plane");
    if (q->config != NULL) {
      dv_err_t e = DV_ERR_INIT;
      int rc = dv_validate_config(q->config, &e);
      check_err(rc, &e, "dv_validate_config");
      if (rc == 0) { /* what the store does next */
        char sum[DV_SHA256_HEX_LEN + 1], again[DV_SHA256_HEX_LEN + 1];
        dv_err_t e2 = DV_ERR_INIT;
        FUZZ_CHECK(dv_config_checksum(a, q->config, sum, &e2) == 0, "checksum: %s", e2.msg);
        FUZZ_CHECK(dv_config_checksum(a, q->config, again, &e2) == 0, "checksum: %s", e2.msg);
        FUZZ_CHECK(strcmp(sum, again) == 0, "checksum of one config changed: %s %s", sum, again);
        /* the store keeps this encoding and decodes it on every read */
        uint8_t *enc;
        size_t len;
        FUZZ_CHECK(dv_config_encode(a, q->config, &enc, &len, &e2) == 0, "encode: %s", e2.msg);
        FUZZ_CHECK(dvsconf__v1__switch_config__unpack(dv_arena_allocator(a), len, enc) != NULL,
                   "the canonical encoding of a valid PutVersion config does not decode: the"
                   " store would keep a version it can never read (DATA_LOSS)");
      }
    }
  } else if (d == &dvsconf__v1__list_audit_events_request__descriptor) {
    const Dvsconf__V1__ListAuditEventsRequest *q = (const void *)m;
    STEP(dv_validate_name("method", q->method, false, err), "method");
    dv_list_filter_t f = {"\x01audit", q->method, ""};
    if (q->page_token[0]) STEP(dv_page_token_parse(q->page_token, &f, &id, err), "page_token");
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const ProtobufCMessageDescriptor *d = REQ[data[0] % N_REQ];
  dv_arena_t *a = dv_arena_new();
  FUZZ_CHECK(a != NULL, "no arena");
  ProtobufCMessage *m = protobuf_c_message_unpack(d, dv_arena_allocator(a), size - 1, data + 1);
  if (m != NULL) {
    dv_err_t e = DV_ERR_INIT;
    int rc = dv_validate_strings(m, &e);
    check_err(rc, &e, "dv_validate_strings");
    if (rc == 0) by_type(a, m);
    /* a decoded request packs (the server never sends a request back, so
     * a pack that does not unpack again only matters for what is stored:
     * see PutVersion above) */
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = dv_arena_alloc(a, n + 1);
    FUZZ_CHECK(buf != NULL, "out of memory packing %zu bytes", n);
    FUZZ_CHECK(protobuf_c_message_pack(m, buf) == n, "pack wrote another size than announced");
  }
  dv_arena_free(a);
  return 0;
}
