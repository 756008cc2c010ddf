/* TLS for the gRPC port: certificate and key from files, reloaded on the
 * next handshake after dv_tls_request_reload() (SIGHUP); optional client
 * certificate verification (mutual TLS). */
#ifndef DV_TLS_H
#define DV_TLS_H

#include <stdbool.h>

#include <grpc/grpc_security.h>

#include "err.h"

typedef struct dv_tls_files {
  const char *cert;      /* PEM chain */
  const char *key;       /* PEM private key */
  const char *client_ca; /* NULL: no client certificates asked for */
  bool require_client_cert;
} dv_tls_files_t;

/* Credentials for grpc_server_add_http2_port. Reads the files now (errors
 * name the file); the files must stay readable. `files` must outlive the
 * server. */
grpc_server_credentials *dv_tls_server_credentials(const dv_tls_files_t *files, dv_err_t *err);

/* Call first in main, before any library starts OpenSSL. OpenSSL frees
 * its per-thread state from an atexit handler, and a thread that ends after
 * that handler ran (one of gRPC's, still finishing as main returns) leaks
 * its error queue: LeakSanitizer reports 904 bytes from CRYPTO_zalloc.
 * Without the handler every thread frees its own as it ends, and the
 * kernel takes the rest at exit. Returns -1 if OpenSSL cannot start. */
int dv_tls_process_init(void);

/* Re-read the files at the next handshake (keeps the old ones if the new
 * ones do not load). Async-signal-safe. */
void dv_tls_request_reload(void);

#endif
