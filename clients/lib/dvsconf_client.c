/* libdvsconf: see dvsconf_client.h. One unary call = one batch on a
 * completion queue of the call's own, waited for with grpc_completion_queue_next. */
#include "dvsconf_client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

/* Free a buffer that held a private key, wiping it first. */
static void free_secret(char *s) {
  if (s != NULL) {
    explicit_bzero(s, strlen(s));
    free(s);
  }
}

struct dvc_client {
  grpc_channel *channel;
  char *token; /* NULL: no authorization metadata */
  int deadline_ms;
};

/* How long past the call's own deadline we wait before cancelling it: the
 * core ends every call at its deadline, this is only a safety net. */
#define DVC_SAFETY_MS 10000

static int set_error(dvc_error_t *err, int code, bool local, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int set_error(dvc_error_t *err, int code, bool local, const char *fmt, ...) {
  if (err != NULL) {
    err->code = code;
    err->local = local;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
  }
  return code;
}

static void clear_error(dvc_error_t *err) {
  if (err != NULL) {
    err->code = GRPC_STATUS_OK;
    err->local = false;
    err->message[0] = '\0';
  }
}

static const char *env_nonempty(const char *name) {
  const char *v = getenv(name);
  return v != NULL && v[0] != '\0' ? v : NULL;
}

void dvc_options_from_env(dvc_options_t *opts) {
  const char *addr = env_nonempty("DVSCONF_ADDR");
  opts->addr = addr != NULL ? addr : DVC_DEFAULT_ADDR;
  opts->ca_file = env_nonempty("DVSCONF_CA");
  opts->cert_file = env_nonempty("DVSCONF_CERT");
  opts->key_file = env_nonempty("DVSCONF_KEY");
  opts->token = env_nonempty("DVSCONF_TOKEN");
  opts->deadline_ms = DVC_DEFAULT_DEADLINE_MS;
}

/* The whole PEM file as a NUL-terminated string, or NULL with *err filled.
 * what names the file in messages ("CA file"); marker must occur in it. */
static char *read_pem(const char *what, const char *path, const char *marker, dvc_error_t *err) {
  char *buf = NULL;
  size_t len = 0, cap = 0;
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    set_error(err, GRPC_STATUS_INVALID_ARGUMENT, true, "%s %s: %s", what, path, strerror(errno));
    return NULL;
  }
  for (;;) {
    if (cap - len < 4096) {
      char *nb = realloc(buf, cap + 65536);
      if (nb == NULL) {
        set_error(err, GRPC_STATUS_RESOURCE_EXHAUSTED, true, "%s %s: out of memory", what, path);
        goto fail;
      }
      buf = nb;
      cap += 65536;
    }
    size_t n = fread(buf + len, 1, cap - len - 1, f);
    len += n;
    if (n == 0) break;
  }
  if (ferror(f)) {
    set_error(err, GRPC_STATUS_INVALID_ARGUMENT, true, "%s %s: read error", what, path);
    goto fail;
  }
  buf[len] = '\0';
  if (strstr(buf, marker) == NULL) {
    set_error(err, GRPC_STATUS_INVALID_ARGUMENT, true, "%s %s: no PEM %s in it", what, path,
              strstr(marker, "KEY") ? "private key" : "certificate");
    goto fail;
  }
  fclose(f);
  return buf;
fail:
  fclose(f);
  free(buf);
  return NULL;
}

dvc_client_t *dvc_connect(const dvc_options_t *opts, dvc_error_t *err) {
  clear_error(err);
  if (opts == NULL || opts->addr == NULL || opts->addr[0] == '\0') {
    set_error(err, GRPC_STATUS_INVALID_ARGUMENT, true, "no server address given");
    return NULL;
  }
  if ((opts->cert_file != NULL) != (opts->key_file != NULL) ||
      (opts->cert_file != NULL && opts->ca_file == NULL)) {
    set_error(err, GRPC_STATUS_INVALID_ARGUMENT, true,
              "a client certificate needs its key and a CA file (TLS): give all three");
    return NULL;
  }
  if (opts->token != NULL && strpbrk(opts->token, "\r\n") != NULL) {
    set_error(err, GRPC_STATUS_INVALID_ARGUMENT, true, "token: must be a single line");
    return NULL;
  }
  dvc_client_t *c = calloc(1, sizeof *c);
  char *pem = NULL, *cert = NULL, *key = NULL;
  grpc_channel_credentials *creds = NULL;
  if (c == NULL) {
    set_error(err, GRPC_STATUS_RESOURCE_EXHAUSTED, true, "out of memory");
    return NULL;
  }
  grpc_init();
  c->deadline_ms = opts->deadline_ms > 0 ? opts->deadline_ms : DVC_DEFAULT_DEADLINE_MS;
  if (opts->token != NULL && opts->token[0] != '\0') {
    c->token = malloc(strlen(opts->token) + sizeof "Bearer ");
    if (c->token == NULL) {
      set_error(err, GRPC_STATUS_RESOURCE_EXHAUSTED, true, "out of memory");
      goto fail;
    }
    sprintf(c->token, "Bearer %s", opts->token);
  }
  if (opts->ca_file != NULL) {
    pem = read_pem("CA file", opts->ca_file, "-----BEGIN CERTIFICATE-----", err);
    if (pem == NULL) goto fail;
    grpc_ssl_pem_key_cert_pair pair = {NULL, NULL};
    if (opts->cert_file != NULL) {
      cert = read_pem("client certificate", opts->cert_file, "-----BEGIN CERTIFICATE-----", err);
      key = cert ? read_pem("client key", opts->key_file, "PRIVATE KEY-----", err) : NULL;
      if (key == NULL) goto fail;
      pair.private_key = key;
      pair.cert_chain = cert;
    }
    creds = grpc_ssl_credentials_create(pem, cert ? &pair : NULL, NULL, NULL);
  } else {
    creds = grpc_insecure_credentials_create();
  }
  if (creds == NULL) {
    set_error(err, GRPC_STATUS_INTERNAL, true, "grpc: cannot create %s channel credentials",
              opts->ca_file != NULL ? "TLS" : "insecure");
    goto fail;
  }
  /* Versions can be large: take any answer size the server agrees to send. */
  grpc_arg args[] = {
      {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, .value.integer = -1},
      {.type = GRPC_ARG_STRING, .key = GRPC_ARG_PRIMARY_USER_AGENT_STRING,
       .value.string = "dvsconf-client/0.1"},
  };
  grpc_channel_args chargs = {sizeof args / sizeof args[0], args};
  c->channel = grpc_channel_create(opts->addr, creds, &chargs);
  grpc_channel_credentials_release(creds);
  if (c->channel == NULL) {
    set_error(err, GRPC_STATUS_INTERNAL, true, "grpc: cannot create a channel to %s", opts->addr);
    goto fail;
  }
  free(pem);
  free(cert);
  free_secret(key);
  return c;
fail:
  free(pem);
  free(cert);
  free_secret(key);
  free_secret(c->token);
  free(c);
  grpc_shutdown();
  return NULL;
}

void dvc_close(dvc_client_t *c) {
  if (c == NULL) return;
  grpc_channel_destroy(c->channel);
  free_secret(c->token);
  free(c);
  grpc_shutdown();
}

/* Copy a status details slice (not NUL-terminated) into err->message. */
static void copy_details(dvc_error_t *err, grpc_slice details, const char *fallback) {
  size_t n = GRPC_SLICE_LENGTH(details);
  if (n == 0 && fallback != NULL) {
    snprintf(err->message, sizeof err->message, "%s", fallback);
    return;
  }
  if (n >= sizeof err->message) n = sizeof err->message - 1;
  memcpy(err->message, GRPC_SLICE_START_PTR(details), n);
  err->message[n] = '\0';
}

/* The message in a received byte buffer, unpacked; NULL if it cannot be read. */
static ProtobufCMessage *unpack_buffer(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *d) {
  grpc_byte_buffer_reader reader;
  if (!grpc_byte_buffer_reader_init(&reader, bb)) return NULL;
  grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
  grpc_byte_buffer_reader_destroy(&reader);
  ProtobufCMessage *m =
      protobuf_c_message_unpack(d, NULL, GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
  grpc_slice_unref(all);
  return m;
}

int dvc_call(dvc_client_t *c, const char *method_path, const ProtobufCMessage *req,
             const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
             dvc_error_t *err) {
  dvc_error_t scratch;
  if (err == NULL) err = &scratch;
  clear_error(err);
  if (resp != NULL) *resp = NULL;
  if (c == NULL || method_path == NULL || method_path[0] != '/' || req == NULL ||
      resp_desc == NULL || resp == NULL)
    return set_error(err, GRPC_STATUS_INVALID_ARGUMENT, true,
                     "dvc_call: client, method path (\"/pkg.Service/Method\"), request, "
                     "response descriptor and response pointer are required");

  int rc = GRPC_STATUS_OK;
  grpc_completion_queue *cq = NULL;
  grpc_call *call = NULL;
  grpc_byte_buffer *sent = NULL, *received = NULL;
  grpc_metadata_array initial_md, trailing_md;
  grpc_metadata_array_init(&initial_md);
  grpc_metadata_array_init(&trailing_md);
  grpc_slice details = grpc_empty_slice();
  const char *error_string = NULL;
  grpc_status_code status = GRPC_STATUS_UNKNOWN;
  grpc_metadata md[1];
  size_t n_md = 0;

  /* The request, serialized into one slice. */
  size_t len = protobuf_c_message_get_packed_size(req);
  grpc_slice payload = grpc_slice_malloc(len);
  if (protobuf_c_message_pack(req, GRPC_SLICE_START_PTR(payload)) != len) {
    grpc_slice_unref(payload);
    rc = set_error(err, GRPC_STATUS_INTERNAL, true, "%s: cannot serialize the request",
                   method_path);
    goto cleanup;
  }
  sent = grpc_raw_byte_buffer_create(&payload, 1);
  grpc_slice_unref(payload); /* the buffer holds its own reference */

  cq = grpc_completion_queue_create_for_next(NULL);
  if (cq == NULL) {
    rc = set_error(err, GRPC_STATUS_INTERNAL, true, "grpc: cannot create a completion queue");
    goto cleanup;
  }
  gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                       gpr_time_from_millis(c->deadline_ms, GPR_TIMESPAN));
  grpc_slice method = grpc_slice_from_copied_string(method_path);
  call = grpc_channel_create_call(c->channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method, NULL,
                                  deadline, NULL);
  grpc_slice_unref(method);
  if (call == NULL) {
    rc = set_error(err, GRPC_STATUS_INTERNAL, true, "grpc: cannot create a call to %s",
                   method_path);
    goto cleanup;
  }

  if (c->token != NULL) {
    md[0].key = grpc_slice_from_static_string("authorization");
    md[0].value = grpc_slice_from_copied_string(c->token);
    n_md = 1;
  }
  grpc_op ops[6];
  memset(ops, 0, sizeof ops);
  grpc_op *op = ops;
  op->op = GRPC_OP_SEND_INITIAL_METADATA;
  op->data.send_initial_metadata.count = n_md;
  op->data.send_initial_metadata.metadata = n_md ? md : NULL;
  op++;
  op->op = GRPC_OP_SEND_MESSAGE;
  op->data.send_message.send_message = sent;
  op++;
  op->op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  op++;
  op->op = GRPC_OP_RECV_INITIAL_METADATA;
  op->data.recv_initial_metadata.recv_initial_metadata = &initial_md;
  op++;
  op->op = GRPC_OP_RECV_MESSAGE;
  op->data.recv_message.recv_message = &received;
  op++;
  op->op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  op->data.recv_status_on_client.trailing_metadata = &trailing_md;
  op->data.recv_status_on_client.status = &status;
  op->data.recv_status_on_client.status_details = &details;
  op->data.recv_status_on_client.error_string = &error_string;
  op++;

  void *tag = (void *)call;
  grpc_call_error ce = grpc_call_start_batch(call, ops, (size_t)(op - ops), tag, NULL);
  if (ce != GRPC_CALL_OK) {
    rc = set_error(err, GRPC_STATUS_INTERNAL, true, "grpc_call_start_batch(%s): error %d",
                   method_path, (int)ce);
    goto cleanup;
  }

  grpc_event ev = grpc_completion_queue_next(
      cq, gpr_time_add(deadline, gpr_time_from_millis(DVC_SAFETY_MS, GPR_TIMESPAN)), NULL);
  if (ev.type == GRPC_QUEUE_TIMEOUT) {
    grpc_call_cancel_with_status(call, GRPC_STATUS_DEADLINE_EXCEEDED, "client gave up waiting",
                                 NULL);
    ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
  }
  if (ev.type != GRPC_OP_COMPLETE || ev.tag != tag || !ev.success) {
    rc = set_error(err, GRPC_STATUS_INTERNAL, true, "grpc: the call to %s did not complete",
                   method_path);
    goto cleanup;
  }

  if (status != GRPC_STATUS_OK) {
    err->code = rc = status;
    err->local = false;
    copy_details(err, details, error_string != NULL ? error_string : "(no details)");
    goto cleanup;
  }
  if (received == NULL) {
    rc = set_error(err, GRPC_STATUS_INTERNAL, true, "%s: the server sent no response message",
                   method_path);
    goto cleanup;
  }
  *resp = unpack_buffer(received, resp_desc);
  if (*resp == NULL)
    rc = set_error(err, GRPC_STATUS_INTERNAL, true, "%s: cannot decode the response as %s",
                   method_path, resp_desc->name);

cleanup:
  if (n_md) {
    grpc_slice_unref(md[0].key);
    grpc_slice_unref(md[0].value);
  }
  if (sent != NULL) grpc_byte_buffer_destroy(sent);
  if (received != NULL) grpc_byte_buffer_destroy(received);
  grpc_metadata_array_destroy(&initial_md);
  grpc_metadata_array_destroy(&trailing_md);
  grpc_slice_unref(details);
  gpr_free((void *)error_string);
  if (call != NULL) grpc_call_unref(call);
  if (cq != NULL) {
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(cq);
  }
  return rc;
}

#define SVC "/dvsconf.v1.ConfigManager/"

/* One typed wrapper per RPC: the request type is checked by the compiler. */
#define DVC_WRAPPER(fn, path, Req, Resp, resp_desc)                                       \
  int fn(dvc_client_t *c, const Req *req, Resp **resp, dvc_error_t *err) {                \
    ProtobufCMessage *m = NULL;                                                          \
    int rc = dvc_call(c, path, req != NULL ? &req->base : NULL, &resp_desc, &m, err);    \
    if (resp != NULL) *resp = (Resp *)m;                                                 \
    else if (m != NULL) protobuf_c_message_free_unpacked(m, NULL);                       \
    return rc;                                                                           \
  }

DVC_WRAPPER(dvc_export, SVC "Export", Dvsconf__V1__ExportRequest, Dvsconf__V1__ExportResponse,
            dvsconf__v1__export_response__descriptor)
DVC_WRAPPER(dvc_list_versions, SVC "ListVersions", Dvsconf__V1__ListVersionsRequest,
            Dvsconf__V1__ListVersionsResponse, dvsconf__v1__list_versions_response__descriptor)
DVC_WRAPPER(dvc_get_version, SVC "GetVersion", Dvsconf__V1__GetVersionRequest,
            Dvsconf__V1__Version, dvsconf__v1__version__descriptor)
DVC_WRAPPER(dvc_diff, SVC "Diff", Dvsconf__V1__DiffRequest, Dvsconf__V1__DiffResponse,
            dvsconf__v1__diff_response__descriptor)
DVC_WRAPPER(dvc_import, SVC "Import", Dvsconf__V1__ImportRequest, Dvsconf__V1__ImportResponse,
            dvsconf__v1__import_response__descriptor)
DVC_WRAPPER(dvc_list_planes, SVC "ListPlanes", Dvsconf__V1__ListPlanesRequest,
            Dvsconf__V1__ListPlanesResponse, dvsconf__v1__list_planes_response__descriptor)
DVC_WRAPPER(dvc_list_switches, SVC "ListSwitches", Dvsconf__V1__ListSwitchesRequest,
            Dvsconf__V1__ListSwitchesResponse, dvsconf__v1__list_switches_response__descriptor)
DVC_WRAPPER(dvc_put_version, SVC "PutVersion", Dvsconf__V1__PutVersionRequest,
            Dvsconf__V1__ExportResponse, dvsconf__v1__export_response__descriptor)
DVC_WRAPPER(dvc_health, "/grpc.health.v1.Health/Check", Grpc__Health__V1__HealthCheckRequest,
            Grpc__Health__V1__HealthCheckResponse,
            grpc__health__v1__health_check_response__descriptor)

const char *dvc_status_name(int code) {
  static const char *const names[] = {
      "OK",                 "CANCELLED",         "UNKNOWN",          "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED",  "NOT_FOUND",         "ALREADY_EXISTS",   "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",        "OUT_OF_RANGE",
      "UNIMPLEMENTED",      "INTERNAL",          "UNAVAILABLE",      "DATA_LOSS",
      "UNAUTHENTICATED",
  };
  if (code >= 0 && (size_t)code < sizeof names / sizeof names[0]) return names[code];
  return "UNKNOWN_STATUS";
}
