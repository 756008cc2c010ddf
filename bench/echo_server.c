/* The ceiling for figure 4: a bare gRPC C-core unary echo server.
 *
 *   echo_server [ADDR] [THREADS]     (default 127.0.0.1:0, 2 threads)
 *
 * One registered method, /bench.Echo/Echo (any path is answered the same way
 * by h2load's point of view, but only this one is registered), one completion
 * queue shared by THREADS threads, each RPC served with the minimum the core
 * needs: request_registered_call (payload read with it), then ONE batch of
 * SEND_INITIAL_METADATA + SEND_MESSAGE (the request bytes) + SEND_STATUS_FROM_SERVER
 * + RECV_CLOSE_ON_SERVER. 2 queue events per RPC. Prints the bound port on
 * stdout. Stops on SIGTERM/SIGINT by exiting (it is a benchmark fixture: no
 * graceful drain).
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

#define POSTED_PER_THREAD 64

typedef struct call {
  int state; /* 0: waiting for a call, 1: reply batch in flight */
  grpc_call *call;
  gpr_timespec deadline;
  grpc_metadata_array md;
  grpc_byte_buffer *payload;
  int cancelled;
} call_t;

static grpc_server *server;
static grpc_completion_queue *cq;
static void *method;

static void post(call_t *c) {
  memset(c, 0, sizeof *c);
  grpc_metadata_array_init(&c->md);
  grpc_call_error e = grpc_server_request_registered_call(server, method, &c->call, &c->deadline,
                                                          &c->md, &c->payload, cq, cq, c);
  if (e != GRPC_CALL_OK) {
    fprintf(stderr, "echo_server: request_registered_call: %d\n", e);
    exit(1);
  }
}

static void *loop(void *arg) {
  (void)arg;
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
      post(c);
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  const char *addr = argc > 1 ? argv[1] : "127.0.0.1:0";
  int threads = argc > 2 ? atoi(argv[2]) : 2;
  if (threads < 1) threads = 1;

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
  method = grpc_server_register_method(server, "/bench.Echo/Echo", NULL,
                                       GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
  grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
  int port = grpc_server_add_http2_port(server, addr, creds);
  grpc_server_credentials_release(creds);
  if (port == 0) {
    fprintf(stderr, "echo_server: cannot listen on %s\n", addr);
    return 1;
  }
  grpc_server_start(server);
  for (int i = 0; i < threads * POSTED_PER_THREAD; i++) post(malloc(sizeof(call_t)));
  pthread_t *t = calloc((size_t)threads, sizeof *t);
  for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, loop, NULL);
  printf("%d\n", port);
  fflush(stdout);

  int sig;
  sigwait(&sigs, &sig);
  _exit(0);
}
