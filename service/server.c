#include "server.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>

#include "auth.h"
#include "grpc/health/v1/health.pb-c.h"
#include "listcache.h"
#include "ops.h"
#include "tls.h"
#include "vcache.h"
#include "validate.h"

/* ---------------------------------------------------------------------------
 * The method table
 * ------------------------------------------------------------------------- */

typedef int (*rpc_fn)(dv_ctx_t *c, const ProtobufCMessage *req, ProtobufCMessage **resp,
                      dv_err_t *err);

#define RPC(name, op, Req, Resp)                                                      \
  static int rpc_##name(dv_ctx_t *c, const ProtobufCMessage *q, ProtobufCMessage **r, \
                        dv_err_t *e) {                                                \
    return op(c, (const Req *)q, (Resp **)r, e);                                      \
  }

RPC(export, dv_op_export, Dvsconf__V1__ExportRequest, Dvsconf__V1__ExportResponse)
RPC(list_versions, dv_op_list_versions, Dvsconf__V1__ListVersionsRequest,
    Dvsconf__V1__ListVersionsResponse)
RPC(get_version, dv_op_get_version, Dvsconf__V1__GetVersionRequest, Dvsconf__V1__Version)
RPC(diff, dv_op_diff, Dvsconf__V1__DiffRequest, Dvsconf__V1__DiffResponse)
RPC(import, dv_op_import, Dvsconf__V1__ImportRequest, Dvsconf__V1__ImportResponse)
RPC(list_planes, dv_op_list_planes, Dvsconf__V1__ListPlanesRequest,
    Dvsconf__V1__ListPlanesResponse)
RPC(list_switches, dv_op_list_switches, Dvsconf__V1__ListSwitchesRequest,
    Dvsconf__V1__ListSwitchesResponse)

/* PutVersion reads its request's bytes itself (intake.h): a 5,000-port-group
 * document is mostly port groups the switch already has. */
typedef int (*rpc_bytes_fn)(dv_ctx_t *c, const uint8_t *req, size_t len, ProtobufCMessage **resp,
                            dv_err_t *err);

static int rpc_put_version(dv_ctx_t *c, const uint8_t *q, size_t len, ProtobufCMessage **r,
                           dv_err_t *e) {
  return dv_op_put_version_packed(c, q, len, (Dvsconf__V1__ExportResponse **)r, e);
}
RPC(list_audit_events, dv_op_list_audit_events, Dvsconf__V1__ListAuditEventsRequest,
    Dvsconf__V1__ListAuditEventsResponse)

static atomic_bool draining; /* one server per process */

void dv_server_drain(dv_server_t *s) {
  (void)s;
  atomic_store(&draining, true);
}

static int rpc_health(dv_ctx_t *c, const ProtobufCMessage *q, ProtobufCMessage **r, dv_err_t *e) {
  const Grpc__Health__V1__HealthCheckRequest *req = (const void *)q;
  if (req->service[0] && strcmp(req->service, "dvsconf.v1.ConfigManager") != 0)
    return dv_err_set(e, GRPC_STATUS_NOT_FOUND, "service: unknown service \"%.128s\"", req->service);
  Grpc__Health__V1__HealthCheckResponse *resp =
      dv_arena_msg(c->arena, &grpc__health__v1__health_check_response__descriptor);
  if (resp == NULL) return DV_NOMEM(e);
  resp->status = atomic_load(&draining)
                     ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
                     : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
  *r = &resp->base;
  return 0;
}

typedef struct method {
  const char *path;
  const ProtobufCMessageDescriptor *req;
  rpc_fn fn;
  rpc_bytes_fn bytes_fn; /* instead of fn: given the request undecoded */
  dv_role_t role; /* the least role that may call it; NONE: anyone */
  int audited;    /* every call goes to the audit log */
  void *handle;   /* grpc_server_register_method */
} method_t;

#define SVC "/dvsconf.v1.ConfigManager/"
#define DESC(name) &dvsconf__v1__##name##__descriptor
static method_t methods[] = {
    {SVC "Export", DESC(export_request), rpc_export, NULL, DV_ROLE_OPERATOR, 1, NULL},
    {SVC "PutVersion", DESC(put_version_request), NULL, rpc_put_version, DV_ROLE_OPERATOR, 1,
     NULL},
    {SVC "Import", DESC(import_request), rpc_import, NULL, DV_ROLE_ADMIN, 1, NULL},
    {SVC "ListVersions", DESC(list_versions_request), rpc_list_versions, NULL, DV_ROLE_VIEWER, 0,
     NULL},
    {SVC "GetVersion", DESC(get_version_request), rpc_get_version, NULL, DV_ROLE_VIEWER, 0, NULL},
    {SVC "Diff", DESC(diff_request), rpc_diff, NULL, DV_ROLE_VIEWER, 0, NULL},
    {SVC "ListPlanes", DESC(list_planes_request), rpc_list_planes, NULL, DV_ROLE_VIEWER, 0, NULL},
    {SVC "ListSwitches", DESC(list_switches_request), rpc_list_switches, NULL, DV_ROLE_VIEWER, 0,
     NULL},
    {SVC "ListAuditEvents", DESC(list_audit_events_request), rpc_list_audit_events, NULL,
     DV_ROLE_ADMIN, 0, NULL},
    {"/grpc.health.v1.Health/Check", &grpc__health__v1__health_check_request__descriptor,
     rpc_health, NULL, DV_ROLE_NONE, 0, NULL},
};
#define N_METHODS (sizeof methods / sizeof methods[0])

/* ---------------------------------------------------------------------------
 * Server state
 * ------------------------------------------------------------------------- */

struct dv_server {
  grpc_server *server;
  grpc_completion_queue *cq;
  pthread_t *threads;
  int nthreads;
  dv_planes_t *planes;
  const char *pg;
  dv_auth_t *auth; /* NULL: no identity checks */
  dv_vcache_t *cache; /* verified versions, shared by the workers' stores */
  dv_listcache_t *lists; /* ListVersions pages, shared likewise */
  dv_tls_files_t tls;
  atomic_int inflight;
  atomic_bool stopping;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int shutdown_notified;
  int shutdown_tag; /* its address is the tag */
  dv_store_t **stores; /* each worker's connection, for cancelling (under mu) */
  dv_store_t **cancelling; /* a copy of stores, used outside mu by dv_server_stop */
};

typedef struct worker_arg {
  dv_server_t *srv;
  int index;
} worker_arg_t;

typedef enum { CALL_REQUESTED, CALL_SENDING } call_state_t;

typedef struct call {
  call_state_t state;
  dv_server_t *srv;
  method_t *method; /* NULL: the generic catch-all */
  grpc_call *call;
  gpr_timespec deadline;
  grpc_call_details details; /* generic only */
  grpc_metadata_array md;
  grpc_byte_buffer *payload;
  /* the reply */
  grpc_byte_buffer *reply;
  grpc_slice details_slice;
  grpc_metadata reply_md[1];
  int cancelled;
  grpc_status_code status;
  char request_id[72];
  char message[DV_ERR_MSG_MAX];
  struct timespec started;
  double store_ms; /* the operation's (dv_ctx_t) */
} call_t;

static void post_request(dv_server_t *s, method_t *m);

static void free_call(call_t *c) {
  if (c->call != NULL) grpc_call_unref(c->call);
  if (c->payload != NULL) grpc_byte_buffer_destroy(c->payload);
  if (c->reply != NULL) grpc_byte_buffer_destroy(c->reply);
  grpc_slice_unref(c->details_slice);
  grpc_metadata_array_destroy(&c->md);
  if (c->method == NULL) grpc_call_details_destroy(&c->details);
  free(c);
}

static void post_request(dv_server_t *s, method_t *m) {
  if (atomic_load(&s->stopping)) return;
  call_t *c = calloc(1, sizeof *c);
  if (c == NULL) {
    fprintf(stderr, "dvsconfd: out of memory posting a call request\n");
    return;
  }
  c->srv = s;
  c->method = m;
  c->state = CALL_REQUESTED;
  c->details_slice = grpc_empty_slice();
  grpc_metadata_array_init(&c->md);
  grpc_call_error e;
  if (m != NULL) {
    e = grpc_server_request_registered_call(s->server, m->handle, &c->call, &c->deadline, &c->md,
                                            &c->payload, s->cq, s->cq, c);
  } else {
    grpc_call_details_init(&c->details);
    e = grpc_server_request_call(s->server, &c->call, &c->details, &c->md, s->cq, s->cq, c);
  }
  if (e != GRPC_CALL_OK) {
    fprintf(stderr, "dvsconfd: requesting a call failed (%d)\n", e);
    free_call(c);
  }
}

/* ---------------------------------------------------------------------------
 * Serving one call
 * ------------------------------------------------------------------------- */

static void pick_request_id(call_t *c) {
  static atomic_uint_fast64_t counter;
  for (size_t i = 0; i < c->md.count; i++) {
    const grpc_metadata *m = &c->md.metadata[i];
    if (!grpc_slice_str_cmp(m->key, "x-request-id")) {
      size_t n = GRPC_SLICE_LENGTH(m->value);
      const unsigned char *p = GRPC_SLICE_START_PTR(m->value);
      int ok = n > 0 && n < sizeof c->request_id;
      for (size_t k = 0; ok && k < n; k++) ok = p[k] > 0x20 && p[k] < 0x7f && p[k] != '"';
      if (ok) {
        memcpy(c->request_id, p, n);
        c->request_id[n] = '\0';
        return;
      }
    }
  }
  uint64_t n = atomic_fetch_add(&counter, 1);
  snprintf(c->request_id, sizeof c->request_id, "%lx-%06llx", (long)c->started.tv_sec & 0xffffff,
           (unsigned long long)n);
}

static void unref_slice(void *slice) { grpc_slice_unref(*(grpc_slice *)slice); }

static int decode_and_run(call_t *c, dv_ctx_t *ctx, dv_err_t *err) {
  dv_arena_t *arena = ctx->arena;
  if (c->payload == NULL)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "request: no message was sent");
  grpc_byte_buffer_reader reader;
  if (!grpc_byte_buffer_reader_init(&reader, c->payload))
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "request: cannot read the message");
  grpc_slice *all = dv_arena_alloc(arena, sizeof *all);
  if (all == NULL) {
    grpc_byte_buffer_reader_destroy(&reader);
    return DV_NOMEM(err);
  }
  *all = grpc_byte_buffer_reader_readall(&reader);
  grpc_byte_buffer_reader_destroy(&reader);
  /* The request's bytes live as long as the call's arena: what an
   * operation keeps of them (intake.h) may still be used after the reply
   * (dv_store_after_reply). */
  if (dv_arena_defer(arena, unref_slice, all) != 0) {
    grpc_slice_unref(*all);
    return DV_NOMEM(err);
  }
  const uint8_t *bytes = GRPC_SLICE_START_PTR(*all);
  size_t len = GRPC_SLICE_LENGTH(*all);
  ProtobufCMessage *resp = NULL;
  int rc;
  if (c->method->bytes_fn != NULL) {
    rc = c->method->bytes_fn(ctx, bytes, len, &resp, err);
  } else {
    ProtobufCMessage *req =
        protobuf_c_message_unpack(c->method->req, dv_arena_allocator(arena), len, bytes);
    if (req == NULL)
      return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "request: not a valid %s message",
                        c->method->req->name);
    if (dv_validate_strings(req, err) != 0) return -1;
    rc = c->method->fn(ctx, req, &resp, err);
  }
  if (rc != 0) {
    if (err->code == GRPC_STATUS_OK) /* a failure must never read as success */
      dv_err_set(err, GRPC_STATUS_INTERNAL, "%s failed without saying why", c->method->path);
    return -1;
  }
  if (resp == NULL && ctx->raw_reply == NULL)
    return dv_err_set(err, GRPC_STATUS_INTERNAL, "%s produced no answer", c->method->path);
  grpc_slice out;
  if (ctx->raw_reply != NULL) {
    out = grpc_slice_from_copied_buffer((const char *)ctx->raw_reply, ctx->raw_reply_len);
  } else {
    size_t len = protobuf_c_message_get_packed_size(resp);
    out = grpc_slice_malloc(len);
    protobuf_c_message_pack(resp, GRPC_SLICE_START_PTR(out));
  }
  c->reply = grpc_raw_byte_buffer_create(&out, 1);
  grpc_slice_unref(out);
  return 0;
}

static void send_reply(call_t *c) {
  grpc_op ops[4];
  grpc_op *op = ops;
  memset(ops, 0, sizeof ops);
  c->reply_md[0].key = grpc_slice_from_static_string("x-request-id");
  c->reply_md[0].value = grpc_slice_from_static_string(c->request_id);
  op->op = GRPC_OP_SEND_INITIAL_METADATA;
  op->data.send_initial_metadata.count = 1;
  op->data.send_initial_metadata.metadata = c->reply_md;
  op++;
  if (c->reply != NULL) {
    op->op = GRPC_OP_SEND_MESSAGE;
    op->data.send_message.send_message = c->reply;
    op++;
  }
  op->op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  op->data.send_status_from_server.status = c->status;
  c->details_slice = grpc_slice_from_copied_string(c->message);
  op->data.send_status_from_server.status_details =
      c->status == GRPC_STATUS_OK ? NULL : &c->details_slice;
  op++;
  op->op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  op->data.recv_close_on_server.cancelled = &c->cancelled;
  op++;
  c->state = CALL_SENDING;
  grpc_call_error e = grpc_call_start_batch(c->call, ops, (size_t)(op - ops), c, NULL);
  if (e != GRPC_CALL_OK) {
    /* no tag will come: finish here */
    fprintf(stderr, "dvsconfd: sending a reply failed (%d) req=%s\n", e, c->request_id);
    atomic_fetch_sub(&c->srv->inflight, 1);
    free_call(c);
  }
}

/* Identity and role. UNAUTHENTICATED / PERMISSION_DENIED say nothing of
 * what exists. */
static int authorize(call_t *c, dv_caller_t *who, dv_err_t *err) {
  memset(who, 0, sizeof *who);
  if (c->srv->auth == NULL || c->method->role == DV_ROLE_NONE) return 0;
  if (dv_auth_identify(c->srv->auth, c->call, &c->md, who) != 0)
    return dv_err_set(err, GRPC_STATUS_UNAUTHENTICATED, "authentication required");
  if (who->role < c->method->role)
    return dv_err_set(err, GRPC_STATUS_PERMISSION_DENIED, "permission denied");
  return 0;
}

/* The call's audit record; peer is the caller's (grpc_call_get_peer). */
static dv_audit_t audit_record(const call_t *c, const dv_caller_t *who, const dv_ctx_t *ctx,
                               const dv_err_t *result, const char *peer) {
  return (dv_audit_t){
      .caller = who->name,
      .role = dv_role_name(who->role),
      .method = c->method->path,
      .peer = peer ? peer : "",
      .request_id = c->request_id,
      .target = ctx->audit_target,
      .plan_sha256 = ctx->audit_plan_sha256,
      .result = dv_status_name(result->code),
      .message = result->msg,
  };
}

static void audit(call_t *c, dv_store_t *store, const dv_caller_t *who, const dv_ctx_t *ctx,
                  const dv_err_t *result, const char *peer) {
  dv_audit_t ev = audit_record(c, who, ctx, result, peer);
  dv_err_t err = DV_ERR_INIT;
  if (dv_store_audit_append(store, &ev, &err) != 0)
    fprintf(stderr, "dvsconfd: req=%s: AUDIT LOG WRITE FAILED: %s\n", c->request_id, err.msg);
}

static void handle(call_t *c, dv_store_t **store) {
  dv_err_t err = DV_ERR_INIT;
  dv_arena_t *arena = NULL; /* the call's: freed once the reply is on its way */
  clock_gettime(CLOCK_MONOTONIC, &c->started);
  pick_request_id(c);
  if (c->method == NULL) {
    char *path = grpc_slice_to_c_string(c->details.method);
    dv_err_set(&err, GRPC_STATUS_UNIMPLEMENTED, "method %.200s is not implemented", path);
    gpr_free(path);
  } else {
    arena = dv_arena_new();
    dv_ctx_t ctx = {.arena = arena, .planes = c->srv->planes};
    ctx.store = *store;
    dv_caller_t who;
    char *peer = NULL; /* only for the audit log: not on the path of every read */
    if (ctx.arena == NULL || ctx.store == NULL) {
      DV_NOMEM(&err);
    } else if (authorize(c, &who, &err) != 0) {
      peer = grpc_call_get_peer(c->call);
      audit(c, *store, &who, &ctx, &err, peer);
    } else {
      /* a call that stores a version writes its record with it (ops.h) */
      const dv_err_t ok = DV_ERR_INIT;
      dv_audit_t on_success;
      if (c->method->audited) {
        peer = grpc_call_get_peer(c->call);
        on_success = audit_record(c, &who, &ctx, &ok, peer);
        ctx.audit = &on_success;
      }
      decode_and_run(c, &ctx, &err);
      c->store_ms = ctx.store_ms;
      if (c->method->audited && !(ctx.audited && err.code == GRPC_STATUS_OK))
        audit(c, *store, &who, &ctx, &err, peer);
    }
    gpr_free(peer);
  }
  c->status = err.code;
  snprintf(c->message, sizeof c->message, "%s", err.msg);
  send_reply(c); /* c may be gone from here on: another worker finishes it */
  dv_store_after_reply(*store); /* work the reply need not wait for (store.h) */
  dv_arena_free(arena);
}

static void log_call(call_t *c) {
  struct timespec now, wall;
  clock_gettime(CLOCK_MONOTONIC, &now);
  clock_gettime(CLOCK_REALTIME, &wall);
  double ms = (double)(now.tv_sec - c->started.tv_sec) * 1e3 +
              (double)(now.tv_nsec - c->started.tv_nsec) / 1e6;
  struct tm tm;
  gmtime_r(&wall.tv_sec, &tm);
  char ts[32];
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  char *peer = grpc_call_get_peer(c->call);
  char *path = c->method ? NULL : grpc_slice_to_c_string(c->details.method);
  /* the message is quoted; quotes and newlines in it are replaced */
  for (char *p = c->message; *p; p++)
    if (*p == '"' || *p == '\n' || *p == '\r') *p = '\'';
  char store[32] = "";
  if (c->store_ms > 0) snprintf(store, sizeof store, " store_ms=%.2f", c->store_ms);
  fprintf(stderr, "%s.%03ldZ rpc=%s peer=%s status=%s ms=%.2f%s req=%s%s%s%s\n", ts,
          wall.tv_nsec / 1000000, c->method ? c->method->path : path, peer ? peer : "?",
          dv_status_name(c->status), ms, store, c->request_id, c->message[0] ? " msg=\"" : "",
          c->message, c->message[0] ? "\"" : "");
  if (c->cancelled && c->status == GRPC_STATUS_OK)
    fprintf(stderr, "  req=%s: the client cancelled or its deadline passed before the reply\n",
            c->request_id);
  gpr_free(peer);
  gpr_free(path);
}

static void *worker(void *arg) {
  dv_server_t *s = ((worker_arg_t *)arg)->srv;
  int index = ((worker_arg_t *)arg)->index;
  free(arg);
  dv_store_t *store = NULL;
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
    if (ev.type != GRPC_OP_COMPLETE) continue;
    if (ev.tag == &s->shutdown_tag) {
      pthread_mutex_lock(&s->mu);
      s->shutdown_notified = 1;
      pthread_cond_broadcast(&s->cv);
      pthread_mutex_unlock(&s->mu);
      continue;
    }
    call_t *c = ev.tag;
    if (c->state == CALL_REQUESTED) {
      if (!ev.success) { /* shutting down; otherwise keep the request posted */
        method_t *m = c->method;
        free_call(c);
        post_request(s, m); /* a no-op once stopping */
        continue;
      }
      atomic_fetch_add(&s->inflight, 1);
      post_request(s, c->method); /* keep one waiting in its place */
      if (store == NULL) {
        /* the worker's connection, published before its first call runs:
         * dv_server_stop must be able to cancel that call's statements */
        dv_err_t ignored = DV_ERR_INIT; /* a failed connect is retried by the first query */
        dv_store_open(s->pg, &store, &ignored);
        if (store != NULL) {
          dv_store_use_cache(store, s->cache, s->lists);
          dv_store_defer_caching(store, true);
        }
        pthread_mutex_lock(&s->mu);
        s->stores[index] = store;
        pthread_mutex_unlock(&s->mu);
      }
      handle(c, &store);
    } else {
      log_call(c);
      free_call(c);
      pthread_mutex_lock(&s->mu);
      atomic_fetch_sub(&s->inflight, 1);
      pthread_cond_broadcast(&s->cv);
      pthread_mutex_unlock(&s->mu);
    }
  }
  pthread_mutex_lock(&s->mu);
  s->stores[index] = NULL;
  pthread_mutex_unlock(&s->mu);
  dv_store_close(store);
  return NULL;
}

/* ---------------------------------------------------------------------------
 * Start and stop
 * ------------------------------------------------------------------------- */

int dv_server_start(const dv_config_t *cfg, dv_planes_t *planes, dv_server_t **out,
                    int *bound_port, dv_err_t *err) {
  dv_server_t *s = calloc(1, sizeof *s);
  if (s == NULL) return DV_NOMEM(err);
  s->planes = planes;
  s->pg = cfg->pg;
  s->tls = (dv_tls_files_t){cfg->tls_cert, cfg->tls_key, cfg->tls_client_ca,
                            cfg->require_client_cert};
  if (cfg->access_file != NULL && dv_auth_load(cfg->access_file, &s->auth, err) != 0) {
    free(s);
    return -1;
  }
  if ((cfg->version_cache_mb > 0 &&
       (s->cache = dv_vcache_new((size_t)cfg->version_cache_mb << 20)) == NULL) ||
      (cfg->list_cache_mb > 0 &&
       (s->lists = dv_listcache_new(cfg->pg, (size_t)cfg->list_cache_mb << 20)) == NULL)) {
    dv_vcache_free(s->cache);
    dv_auth_free(s->auth);
    free(s);
    return DV_NOMEM(err);
  }
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);

  grpc_arg args[3];
  memset(args, 0, sizeof args);
  args[0].type = GRPC_ARG_INTEGER;
  args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
  args[0].value.integer = cfg->max_request_bytes;
  args[1].type = GRPC_ARG_INTEGER;
  args[1].key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
  args[1].value.integer = cfg->max_response_bytes;
  args[2].type = GRPC_ARG_INTEGER;
  args[2].key = (char *)GRPC_ARG_ALLOW_REUSEPORT; /* never share a port silently */
  args[2].value.integer = 0;
  grpc_channel_args cargs = {3, args};

  s->cq = grpc_completion_queue_create_for_next(NULL);
  s->server = grpc_server_create(&cargs, NULL);
  if (s->cq == NULL || s->server == NULL) {
    dv_err_set(err, GRPC_STATUS_INTERNAL, "grpc: cannot create the server");
    goto fail;
  }
  grpc_server_register_completion_queue(s->server, s->cq, NULL);
  for (size_t i = 0; i < N_METHODS; i++) {
    methods[i].handle = grpc_server_register_method(s->server, methods[i].path, NULL,
                                                    GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    if (methods[i].handle == NULL) {
      dv_err_set(err, GRPC_STATUS_INTERNAL, "grpc: cannot register %s", methods[i].path);
      goto fail;
    }
  }
  grpc_server_credentials *creds = cfg->tls_cert != NULL
                                       ? dv_tls_server_credentials(&s->tls, err)
                                       : grpc_insecure_server_credentials_create();
  if (creds == NULL) goto fail;
  *bound_port = grpc_server_add_http2_port(s->server, cfg->listen, creds);
  grpc_server_credentials_release(creds);
  if (*bound_port == 0) {
    dv_err_set(err, GRPC_STATUS_UNAVAILABLE, "cannot listen on %s (in use, or not an address)",
               cfg->listen);
    goto fail;
  }
  grpc_server_start(s->server);

  /* Requests waiting per method: enough that every worker can be busy on one
   * method while another call of it arrives. */
  for (size_t i = 0; i < N_METHODS; i++)
    for (int k = 0; k < cfg->threads; k++) post_request(s, &methods[i]);
  for (int k = 0; k < 4; k++) post_request(s, NULL);

  s->threads = calloc((size_t)cfg->threads, sizeof(pthread_t));
  s->stores = calloc((size_t)cfg->threads, sizeof(dv_store_t *));
  s->cancelling = calloc((size_t)cfg->threads, sizeof(dv_store_t *));
  if (s->threads == NULL || s->stores == NULL || s->cancelling == NULL) {
    DV_NOMEM(err);
    goto fail_started;
  }
  for (int i = 0; i < cfg->threads; i++) {
    worker_arg_t *wa = malloc(sizeof *wa);
    if (wa != NULL) *wa = (worker_arg_t){s, i};
    if (wa == NULL || pthread_create(&s->threads[i], NULL, worker, wa) != 0) {
      free(wa);
      dv_err_set(err, GRPC_STATUS_INTERNAL, "cannot start worker thread %d", i);
      goto fail_started;
    }
    s->nthreads++;
  }
  *out = s;
  return 0;

fail_started:
  dv_server_stop(s, 0);
  return -1;
fail:
  if (s->server != NULL) grpc_server_destroy(s->server);
  if (s->cq != NULL) {
    grpc_completion_queue_shutdown(s->cq);
    while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(s->cq);
  }
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  dv_auth_free(s->auth);
  dv_vcache_free(s->cache);
  dv_listcache_free(s->lists);
  free(s);
  return -1;
}

static void wait_until(dv_server_t *s, int (*done)(dv_server_t *), int timeout_ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += timeout_ms / 1000;
  until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
  if (until.tv_nsec >= 1000000000) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000;
  }
  pthread_mutex_lock(&s->mu);
  while (!done(s)) {
    if (timeout_ms < 0)
      pthread_cond_wait(&s->cv, &s->mu);
    else if (pthread_cond_timedwait(&s->cv, &s->mu, &until) != 0)
      break;
  }
  pthread_mutex_unlock(&s->mu);
}

static int notified(dv_server_t *s) { return s->shutdown_notified; }
static int idle(dv_server_t *s) { return atomic_load(&s->inflight) == 0; }
static int notified_and_idle(dv_server_t *s) { return notified(s) && idle(s); }

void dv_server_stop(dv_server_t *s, int grace_ms) {
  if (s == NULL) return;
  atomic_store(&s->stopping, true);
  grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
  if (s->nthreads > 0) {
    wait_until(s, notified, grace_ms);
    pthread_mutex_lock(&s->mu);
    int in_time = s->shutdown_notified;
    pthread_mutex_unlock(&s->mu);
    if (!in_time) {
      fprintf(stderr, "dvsconfd: grace period over, cancelling %d call(s)\n",
              atomic_load(&s->inflight));
      grpc_server_cancel_all_calls(s->server);
      /* A handler waiting on PostgreSQL (a lock, a slow query) is stopped by
       * cancelling its statement: its transaction rolls back, nothing is
       * half-written. A handler inside a plane call is left to finish (it
       * may be undoing an import), within the plane's own timeout. */
      for (int round = 0;; round++) {
        /* every running statement first; then those that have been running
         * for a second, checked every 100 ms: a handler between statements
         * at the first round may go on to wait on a lock, while one writing
         * down what a plane call did (an import's record) takes
         * milliseconds and is let be */
        pthread_mutex_lock(&s->mu);
        int done = s->shutdown_notified && atomic_load(&s->inflight) == 0;
        /* cancelling connects to PostgreSQL: not under the lock workers
         * need to finish (each store lives until its worker exits, which
         * is after this) */
        memcpy(s->cancelling, s->stores, (size_t)s->nthreads * sizeof *s->stores);
        pthread_mutex_unlock(&s->mu);
        if (done) break;
        for (int i = 0; i < s->nthreads; i++) dv_store_cancel(s->cancelling[i], round ? 1000 : 0);
        wait_until(s, notified_and_idle, 100);
      }
    }
    wait_until(s, idle, -1);
  } else {
    /* no worker ever ran: drain the requests we posted ourselves */
    grpc_server_cancel_all_calls(s->server);
    grpc_event ev;
    do {
      ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
      if (ev.type == GRPC_OP_COMPLETE && ev.tag != &s->shutdown_tag) free_call(ev.tag);
    } while (ev.tag != &s->shutdown_tag);
  }
  grpc_server_destroy(s->server);
  grpc_completion_queue_shutdown(s->cq);
  if (s->nthreads == 0) {
    grpc_event ev;
    do {
      ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
      if (ev.type == GRPC_OP_COMPLETE && ev.tag != &s->shutdown_tag) free_call(ev.tag);
    } while (ev.type != GRPC_QUEUE_SHUTDOWN);
  }
  for (int i = 0; i < s->nthreads; i++) pthread_join(s->threads[i], NULL);
  grpc_completion_queue_destroy(s->cq);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  free(s->threads);
  free(s->stores);
  free(s->cancelling);
  dv_auth_free(s->auth);
  dv_vcache_free(s->cache);
  dv_listcache_free(s->lists);
  free(s);
}
