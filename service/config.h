/* dvsconfd's configuration: flags and environment variables (see
 * dvsconfd --help) and the planes file. */
#ifndef DV_CONFIG_H
#define DV_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "planes.h"

typedef struct dv_config {
  const char *command;     /* "serve", "migrate" or "hash-token" */
  const char *listen;      /* host:port */
  const char *pg;          /* libpq connection string or URI */
  const char *planes_path; /* JSON planes file; NULL: no planes */
  int threads;             /* RPC worker threads (each one PostgreSQL connection) */
  int max_request_bytes;
  int max_response_bytes;
  int grace_ms;            /* SIGTERM: time in-flight calls get to finish */
  int drain_ms;            /* SIGTERM: time health says NOT_SERVING before the stop */
  int version_cache_mb;    /* memory for verified versions (0: no cache) */
  int list_cache_mb;       /* memory for ListVersions pages (0: no cache) */
  const char *tls_cert, *tls_key, *tls_client_ca; /* TLS; NULL: none */
  bool require_client_cert; /* mutual TLS: refuse callers without a certificate */
  bool plaintext;           /* asked for explicitly: no TLS */
  bool allow_remote_plaintext; /* plaintext on a non-loopback address */
  const char *access_file;  /* callers and roles (auth.h); NULL: no identity checks */
  dv_planes_t planes;
  dv_arena_t *arena;       /* owns every string above */
} dv_config_t;

/* Parse argv and the environment. Returns 0 to run, 1 when --help was
 * printed, -1 on a usage error (message in err). */
int dv_config_from_args(dv_config_t *c, int argc, char **argv, dv_err_t *err);

/* Read the planes file (JSON):
 *   {"planes": [{"name": "lab", "kind": "vsphere",
 *                "url": "https://vc.example/sdk", "username": "svc-dvsconf",
 *                "password_file": "/etc/dvsconf/lab.password"  (or "password_env": "VAR"),
 *                "ca_file": "/etc/dvsconf/lab-ca.pem", "insecure": false,
 *                "timeout_ms": 30000}]}
 * Credentials are never inline in the file, and never logged. */
int dv_config_load_planes(dv_config_t *c, const char *path, dv_err_t *err);

void dv_config_free(dv_config_t *c);

void dv_config_usage(FILE *out);

#endif
