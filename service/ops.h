/* The service's operations, one per RPC, independent of the transport:
 * server.c decodes a request, calls one of these, and encodes the answer
 * or the error. Tests call them directly.
 *
 * Each takes the call's context (arena, this thread's store connection,
 * the planes), the decoded request, and returns 0 with *out set (allocated
 * in ctx->arena) or -1 with *err set. A failed call has written nothing. */
#ifndef DV_OPS_H
#define DV_OPS_H

#include "planes.h"
#include "store.h"

typedef struct dv_ctx {
  dv_arena_t *arena;
  dv_store_t *store;
  dv_planes_t *planes;
  /* filled by the operation for the audit log (arena strings or NULL) */
  const char *audit_target;
  const char *audit_plan_sha256;
  /* For an audited call, its record as the server will write it if the
   * call succeeds (result "OK"): Export and PutVersion, whose result is the
   * version they store, write it in that version's transaction instead and
   * set audited. NULL: not audited (or not that way: Import). */
  dv_audit_t *audit;
  bool audited;
  /* set by an operation that answers with bytes already encoded (the
   * response message is then NULL) */
  const uint8_t *raw_reply;
  size_t raw_reply_len;
  /* wall time spent storing a version, or trying to (dv_store_put_version:
   * encoding, checksum, PostgreSQL), for the call's log line; 0: no put */
  double store_ms;
} dv_ctx_t;

int dv_op_export(dv_ctx_t *c, const Dvsconf__V1__ExportRequest *req,
                 Dvsconf__V1__ExportResponse **out, dv_err_t *err);
/* PutVersion from its request's bytes (intake.h): what the server calls. */
int dv_op_put_version_packed(dv_ctx_t *c, const uint8_t *request, size_t len,
                             Dvsconf__V1__ExportResponse **out, dv_err_t *err);
/* Answers with c->raw_reply (a packed ListVersionsResponse, perhaps from the
 * cache of pages); *out is NULL. */
int dv_op_list_versions(dv_ctx_t *c, const Dvsconf__V1__ListVersionsRequest *req,
                        Dvsconf__V1__ListVersionsResponse **out, dv_err_t *err);
/* Answers with c->raw_reply (a packed Version); *out is NULL. */
int dv_op_get_version(dv_ctx_t *c, const Dvsconf__V1__GetVersionRequest *req,
                      Dvsconf__V1__Version **out, dv_err_t *err);
int dv_op_diff(dv_ctx_t *c, const Dvsconf__V1__DiffRequest *req, Dvsconf__V1__DiffResponse **out,
               dv_err_t *err);
int dv_op_import(dv_ctx_t *c, const Dvsconf__V1__ImportRequest *req,
                 Dvsconf__V1__ImportResponse **out, dv_err_t *err);
int dv_op_list_planes(dv_ctx_t *c, const Dvsconf__V1__ListPlanesRequest *req,
                      Dvsconf__V1__ListPlanesResponse **out, dv_err_t *err);
int dv_op_list_switches(dv_ctx_t *c, const Dvsconf__V1__ListSwitchesRequest *req,
                        Dvsconf__V1__ListSwitchesResponse **out, dv_err_t *err);

int dv_op_put_version(dv_ctx_t *c, const Dvsconf__V1__PutVersionRequest *req,
                      Dvsconf__V1__ExportResponse **out, dv_err_t *err);

int dv_op_list_audit_events(dv_ctx_t *c, const Dvsconf__V1__ListAuditEventsRequest *req,
                            Dvsconf__V1__ListAuditEventsResponse **out, dv_err_t *err);

#define DV_DEFAULT_PAGE_SIZE 50
#define DV_MAX_PAGE_SIZE 1000

#endif
