/* libdvsconf: a small C client for the dvsconf service (dvsconf.v1.ConfigManager
 * and grpc.health.v1.Health), over the gRPC C core and protobuf-c.
 *
 *   dvc_options_t o;
 *   dvc_options_from_env(&o);                  // DVSCONF_ADDR, DVSCONF_CA, DVSCONF_TOKEN
 *   dvc_error_t err;
 *   dvc_client_t *c = dvc_connect(&o, &err);
 *   if (c == NULL) { fprintf(stderr, "%s\n", err.message); ... }
 *   Dvsconf__V1__GetVersionRequest req = DVSCONF__V1__GET_VERSION_REQUEST__INIT;
 *   req.version_id = "42";
 *   Dvsconf__V1__Version *v = NULL;
 *   if (dvc_get_version(c, &req, &v, &err) != 0)
 *     fprintf(stderr, "%s: %s\n", dvc_status_name(err.code), err.message);
 *   else
 *     protobuf_c_message_free_unpacked(&v->base, NULL);
 *   dvc_close(c);
 *
 * Errors: every call returns 0 on success, or a gRPC status code (> 0) with
 * *err filled: err->code is that code, err->message the server's status
 * details (or, when err->local is set, a message from this library: the call
 * never reached the server, or its answer could not be decoded). On error no
 * response is returned (*resp stays NULL).
 *
 * Ownership: requests are borrowed for the duration of the call. A response
 * (*resp) belongs to the caller and is freed with
 * protobuf_c_message_free_unpacked(&(*resp)->base, NULL). dvc_error_t is
 * plain storage (no free). The strings in dvc_options_t are copied by
 * dvc_connect.
 *
 * Threads: a dvc_client_t may be shared by threads: calls on one client may
 * run concurrently (the channel is thread-safe; each call has a completion
 * queue of its own). dvc_close must not run while a call is in flight, and
 * each thread passes its own dvc_error_t.
 *
 * gRPC runtime: dvc_connect calls grpc_init() and dvc_close grpc_shutdown();
 * both count, so a program that uses gRPC itself keeps working.
 */
#ifndef DVSCONF_CLIENT_H
#define DVSCONF_CLIENT_H

#include <stdbool.h>

#include <protobuf-c/protobuf-c.h>

#include "dvsconf/v1/dvsconf.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DVC_DEFAULT_ADDR "127.0.0.1:50051"
#define DVC_DEFAULT_DEADLINE_MS 60000

typedef struct dvc_options {
  const char *addr;    /* host:port, or any gRPC target (dns:, unix:) */
  const char *ca_file; /* PEM file of CA certificates: TLS; NULL: plaintext */
  const char *cert_file; /* PEM client certificate chain, for mutual TLS (needs
                            ca_file and key_file); NULL: none */
  const char *key_file;  /* PEM private key of cert_file */
  const char *token;   /* sent as "authorization: Bearer <token>"; NULL: none.
                          Over plaintext the token travels in the clear. */
  int deadline_ms;     /* per call; <= 0: DVC_DEFAULT_DEADLINE_MS */
} dvc_options_t;

#define DVC_ERROR_MESSAGE_MAX 1024

typedef struct dvc_error {
  int code;   /* grpc_status_code; 0 (OK) when no error */
  bool local; /* detected by this library, not reported by the server */
  char message[DVC_ERROR_MESSAGE_MAX]; /* truncated to fit; never NULL */
} dvc_error_t;

typedef struct dvc_client dvc_client_t;

/* Defaults, then the environment: addr = $DVSCONF_ADDR or DVC_DEFAULT_ADDR,
 * ca_file = $DVSCONF_CA, cert_file = $DVSCONF_CERT, key_file = $DVSCONF_KEY,
 * token = $DVSCONF_TOKEN (empty variables count as unset), deadline_ms =
 * DVC_DEFAULT_DEADLINE_MS. The strings point into the environment. */
void dvc_options_from_env(dvc_options_t *opts);

/* Open a channel to opts->addr. Connecting is lazy: an unreachable server is
 * reported by the first call (UNAVAILABLE). Returns NULL with *err filled
 * (err->local set) when opts is invalid or a PEM file cannot be read.
 * A client that was returned must be closed with dvc_close. */
dvc_client_t *dvc_connect(const dvc_options_t *opts, dvc_error_t *err);

/* Close the channel and free the client. NULL is fine. */
void dvc_close(dvc_client_t *c);

/* One unary call. method_path: "/package.Service/Method". req is serialized
 * as is; the answer is unpacked as resp_desc into *resp (set to NULL on
 * error). Returns 0 or the status code (see above). */
int dvc_call(dvc_client_t *c, const char *method_path, const ProtobufCMessage *req,
             const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
             dvc_error_t *err);

/* Typed wrappers over dvc_call, one per RPC; same contract. */
int dvc_export(dvc_client_t *c, const Dvsconf__V1__ExportRequest *req,
               Dvsconf__V1__ExportResponse **resp, dvc_error_t *err);
int dvc_list_versions(dvc_client_t *c, const Dvsconf__V1__ListVersionsRequest *req,
                      Dvsconf__V1__ListVersionsResponse **resp, dvc_error_t *err);
int dvc_get_version(dvc_client_t *c, const Dvsconf__V1__GetVersionRequest *req,
                    Dvsconf__V1__Version **resp, dvc_error_t *err);
int dvc_diff(dvc_client_t *c, const Dvsconf__V1__DiffRequest *req,
             Dvsconf__V1__DiffResponse **resp, dvc_error_t *err);
int dvc_import(dvc_client_t *c, const Dvsconf__V1__ImportRequest *req,
               Dvsconf__V1__ImportResponse **resp, dvc_error_t *err);
int dvc_list_planes(dvc_client_t *c, const Dvsconf__V1__ListPlanesRequest *req,
                    Dvsconf__V1__ListPlanesResponse **resp, dvc_error_t *err);
int dvc_list_switches(dvc_client_t *c, const Dvsconf__V1__ListSwitchesRequest *req,
                      Dvsconf__V1__ListSwitchesResponse **resp, dvc_error_t *err);
int dvc_put_version(dvc_client_t *c, const Dvsconf__V1__PutVersionRequest *req,
                    Dvsconf__V1__ExportResponse **resp, dvc_error_t *err);
int dvc_health(dvc_client_t *c, const Grpc__Health__V1__HealthCheckRequest *req,
               Grpc__Health__V1__HealthCheckResponse **resp, dvc_error_t *err);

/* "NOT_FOUND" for GRPC_STATUS_NOT_FOUND, ...; "UNKNOWN_STATUS" otherwise. */
const char *dvc_status_name(int code);

#ifdef __cplusplus
}
#endif

#endif
