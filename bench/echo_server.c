/* The ceiling for figure 4: a bare gRPC C-core unary echo server.
 *
 *   echo_server [ADDR] [THREADS] [PGURI]    (default 127.0.0.1:0, 2 threads)
 *
 * One registered method, /bench.Echo/Echo (any path is answered the same way
 * by h2load's point of view, but only this one is registered), one completion
 * queue shared by THREADS threads, each RPC served with the minimum the core
 * needs: request_registered_call (payload read with it), then ONE batch of
 * SEND_INITIAL_METADATA + SEND_MESSAGE (the request bytes) + SEND_STATUS_FROM_SERVER
 * + RECV_CLOSE_ON_SERVER. 2 queue events per RPC. Prints the bound port on
 * stdout. Stops on SIGTERM/SIGINT by exiting (it is a benchmark fixture: no
 * graceful drain).
 *
 * With PGURI, also the floor of figures 2 and 3 (the least a durable store
 * behind gRPC can do per version): /bench.Echo/Commit inserts one row, the
 * request's length, into bench_floor (its own statement, so its own durable
 * commit) on the thread's own connection, and replies with an empty message.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <libpq-fe.h>

#define POSTED_PER_THREAD 64

typedef struct call {
  void *method; /* echo or commit */
  int state;    /* 0: waiting for a call, 1: reply batch in flight */
  grpc_call *call;
  gpr_timespec deadline;
  grpc_metadata_array md;
  grpc_byte_buffer *payload;
  int cancelled;
} call_t;

static grpc_server *server;
static grpc_completion_queue *cq;
static void *echo, *commit;
static const char *pguri;
static pthread_barrier_t ready; /* the threads and main: the port is printed once all are ready */

static void post(call_t *c, void *method) {
  memset(c, 0, sizeof *c);
  c->method = method;
  grpc_metadata_array_init(&c->md);
  grpc_call_error e = grpc_server_request_registered_call(server, method, &c->call, &c->deadline,
                                                          &c->md, &c->payload, cq, cq, c);
  if (e != GRPC_CALL_OK) {
    fprintf(stderr, "echo_server: request_registered_call: %d\n", e);
    exit(1);
  }
}

static call_t *new_call(void) {
  call_t *c = malloc(sizeof *c);
  if (c == NULL) {
    fprintf(stderr, "echo_server: out of memory\n");
    exit(1);
  }
  return c;
}

static PGconn *connect_pg(void) {
  PGconn *pg = PQconnectdb(pguri);
  if (PQstatus(pg) != CONNECTION_OK) {
    fprintf(stderr, "echo_server: %s", PQerrorMessage(pg));
    exit(1);
  }
  return pg;
}

static void check(PGconn *pg, PGresult *r, const char *what) {
  if (PQresultStatus(r) != PGRES_COMMAND_OK) {
    fprintf(stderr, "echo_server: %s: %s", what, PQerrorMessage(pg));
    exit(1);
  }
  PQclear(r);
}

/* The floor's work: one row, committed, by a statement prepared once per
 * connection (as dvsconfd's are). Exits on failure (a fixture). */
static void commit_row(PGconn *pg, size_t n) {
  char text[32];
  snprintf(text, sizeof text, "%zu", n);
  const char *params[1] = {text};
  check(pg, PQexecPrepared(pg, "ins", 1, params, NULL, NULL, 0), "insert");
}

static void *loop(void *arg) {
  (void)arg;
  PGconn *pg = NULL; /* this thread's, ready before the first call: no connect is timed */
  if (pguri != NULL) {
    pg = connect_pg();
    check(pg, PQprepare(pg, "ins", "INSERT INTO bench_floor (n) VALUES ($1)", 1, NULL),
          "prepare");
    commit_row(pg, 0); /* its backend has run it once, as a warm dvsconfd worker's has */
  }
  pthread_barrier_wait(&ready);
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
    if (ev.type != GRPC_OP_COMPLETE) continue;
    call_t *c = ev.tag;
    if (c->state == 0) {
      if (!ev.success) { /* server shutting down */
        grpc_metadata_array_destroy(&c->md);
        free(c);
        continue;
      }
      grpc_op ops[4];
      memset(ops, 0, sizeof ops);
      size_t n = 0;
      ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
      if (c->method == commit) {
        commit_row(pg, c->payload != NULL ? grpc_byte_buffer_length(c->payload) : 0);
        if (c->payload != NULL) grpc_byte_buffer_destroy(c->payload);
        c->payload = grpc_raw_byte_buffer_create(NULL, 0); /* the reply: empty */
      }
      if (c->payload != NULL) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = c->payload;
      }
      ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
      ops[n++].data.send_status_from_server.status = GRPC_STATUS_OK;
      ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
      ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
      c->state = 1;
      if (grpc_call_start_batch(c->call, ops, n, c, NULL) != GRPC_CALL_OK) {
        fprintf(stderr, "echo_server: start_batch failed\n");
        exit(1);
      }
    } else {
      if (c->payload != NULL) grpc_byte_buffer_destroy(c->payload);
      grpc_metadata_array_destroy(&c->md);
      grpc_call_unref(c->call);
      post(c, c->method);
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  const char *addr = argc > 1 ? argv[1] : "127.0.0.1:0";
  int threads = argc > 2 ? atoi(argv[2]) : 2;
  if (threads < 1) threads = 1;
  pguri = argc > 3 ? argv[3] : NULL;
  if (pguri != NULL) {
    PGconn *pg = connect_pg();
    check(pg, PQexec(pg, "CREATE TABLE IF NOT EXISTS bench_floor (n bigint)"), "create table");
    PQfinish(pg);
  }

  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);

  grpc_init();
  grpc_arg args[] = {
      {.type = GRPC_ARG_INTEGER, .key = "grpc.so_reuseport", .value.integer = 0},
      {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, .value.integer = 64 << 20},
      {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, .value.integer = 64 << 20},
  };
  grpc_channel_args ch = {.num_args = sizeof args / sizeof args[0], .args = args};
  server = grpc_server_create(&ch, NULL);
  cq = grpc_completion_queue_create_for_next(NULL);
  grpc_server_register_completion_queue(server, cq, NULL);
  echo = grpc_server_register_method(server, "/bench.Echo/Echo", NULL,
                                     GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
  if (pguri != NULL)
    commit = grpc_server_register_method(server, "/bench.Echo/Commit", NULL,
                                         GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
  grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
  int port = grpc_server_add_http2_port(server, addr, creds);
  grpc_server_credentials_release(creds);
  if (port == 0) {
    fprintf(stderr, "echo_server: cannot listen on %s\n", addr);
    return 1;
  }
  grpc_server_start(server);
  for (int i = 0; i < threads * POSTED_PER_THREAD; i++) {
    post(new_call(), echo);
    if (commit != NULL) post(new_call(), commit);
  }
  pthread_t *t = calloc((size_t)threads, sizeof *t);
  if (t == NULL) {
    fprintf(stderr, "echo_server: out of memory\n");
    return 1;
  }
  if (pthread_barrier_init(&ready, NULL, (unsigned)threads + 1) != 0) {
    fprintf(stderr, "echo_server: barrier\n");
    return 1;
  }
  for (int i = 0; i < threads; i++)
    if (pthread_create(&t[i], NULL, loop, NULL) != 0) {
      fprintf(stderr, "echo_server: cannot start a thread\n");
      return 1;
    }
  pthread_barrier_wait(&ready);
  printf("%d\n", port);
  fflush(stdout);

  int sig;
  sigwait(&sigs, &sig);
  _exit(0);
}
