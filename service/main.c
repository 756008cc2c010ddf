/* dvsconfd: the dvsconf service. See `dvsconfd --help`. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <grpc/grpc.h>

#include "auth.h"
#include "config.h"
#include "server.h"
#include "store.h"
#include "tls.h"

static int migrate(const dv_config_t *cfg, dv_err_t *err) {
  dv_store_t *s = NULL;
  int rc = dv_store_open(cfg->pg, &s, err);
  if (rc == 0) rc = dv_store_migrate(s, err);
  dv_store_close(s);
  return rc;
}

/* Reading a large switch from a plane builds and frees an XML tree of some
 * 100,000 nodes per call. With glibc's defaults the freed heap goes back to
 * the kernel and large buffers are mmapped afresh each call (page faults),
 * and the next large allocation consolidates the small free chunks: a
 * third of a 2,000-port-group export's CPU. Keep freed memory for reuse;
 * the cost is memory the process already needed once. */
static void tune_malloc(void) {
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

int main(int argc, char **argv) {
  if (dv_tls_process_init() != 0) {
    fprintf(stderr, "dvsconfd: OpenSSL did not start\n");
    return 1;
  }
  tune_malloc();
  dv_config_t cfg;
  dv_err_t err = DV_ERR_INIT;
  int rc = dv_config_from_args(&cfg, argc, argv, &err);
  if (rc != 0) {
    if (rc < 0) fprintf(stderr, "dvsconfd: %s\n", err.msg);
    dv_config_free(&cfg);
    return rc < 0 ? 2 : 0;
  }
  if (strcmp(cfg.command, "hash-token") == 0) {
    char token[4096];
    if (fgets(token, sizeof token, stdin) == NULL) {
      fprintf(stderr, "dvsconfd hash-token: give the token on standard input\n");
      dv_config_free(&cfg);
      return 2;
    }
    token[strcspn(token, "\r\n")] = '\0';
    char hash[72];
    dv_auth_hash_token(token, hash);
    memset(token, 0, sizeof token);
    printf("%s\n", hash);
    dv_config_free(&cfg);
    return 0;
  }
  if (strcmp(cfg.command, "migrate") == 0) {
    rc = migrate(&cfg, &err);
    if (rc != 0) fprintf(stderr, "dvsconfd migrate: %s\n", err.msg);
    else fprintf(stderr, "dvsconfd migrate: schema up to date\n");
    dv_config_free(&cfg);
    return rc == 0 ? 0 : 1;
  }

  /* gRPC's threads inherit this mask; signals are taken by sigwait below. */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  if (cfg.planes_path != NULL && dv_config_load_planes(&cfg, cfg.planes_path, &err) != 0) {
    fprintf(stderr, "dvsconfd: %s\n", err.msg);
    dv_config_free(&cfg);
    return 1;
  }
  if (migrate(&cfg, &err) != 0) {
    fprintf(stderr, "dvsconfd: database: %s\n", err.msg);
    dv_config_free(&cfg);
    return 1;
  }
  grpc_init();
  dv_server_t *server = NULL;
  int port = 0;
  if (dv_planes_open(&cfg.planes, &err) != 0 ||
      dv_server_start(&cfg, &cfg.planes, &server, &port, &err) != 0) {
    fprintf(stderr, "dvsconfd: %s\n", err.msg);
    dv_planes_close(&cfg.planes);
    grpc_shutdown_blocking();
    dv_config_free(&cfg);
    return 1;
  }
  fprintf(stderr, "dvsconfd: listening on %s (port %d, %s), %zu plane(s), %d worker threads%s\n",
          cfg.listen, port, cfg.tls_cert ? "TLS" : "plaintext", cfg.planes.n, cfg.threads,
          cfg.access_file ? "" : "; no access file: callers are not identified");

  for (;;) {
    int sig = 0;
    if (sigwait(&sigs, &sig) != 0) continue;
    if (sig == SIGHUP) {
      fprintf(stderr, "dvsconfd: SIGHUP: TLS files are re-read at the next handshake\n");
      dv_tls_request_reload();
      continue;
    }
    if (cfg.drain_ms > 0) {
      fprintf(stderr, "dvsconfd: %s: draining for %d ms (health: NOT_SERVING)\n", strsignal(sig),
              cfg.drain_ms);
      dv_server_drain(server);
      struct timespec d = {cfg.drain_ms / 1000, (long)(cfg.drain_ms % 1000) * 1000000};
      nanosleep(&d, NULL);
    }
    fprintf(stderr, "dvsconfd: %s: stopping (grace %d ms)\n", strsignal(sig), cfg.grace_ms);
    break;
  }
  dv_server_stop(server, cfg.grace_ms);
  dv_planes_close(&cfg.planes);
  grpc_shutdown_blocking();
  dv_config_free(&cfg);
  fprintf(stderr, "dvsconfd: stopped\n");
  return 0;
}
