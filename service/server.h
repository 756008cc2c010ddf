/* The gRPC server (C core API). One shared completion queue polled by a
 * pool of worker threads: a worker that blocks on PostgreSQL or a
 * management plane leaves the others to serve every other call, including
 * calls on the same connection. Each worker keeps its own PostgreSQL
 * connection. */
#ifndef DV_SERVER_H
#define DV_SERVER_H

#include "config.h"

typedef struct dv_server dv_server_t;

/* Bind and start serving. *bound_port is the port actually bound. */
int dv_server_start(const dv_config_t *cfg, dv_planes_t *planes, dv_server_t **out,
                    int *bound_port, dv_err_t *err);

/* Health checks answer NOT_SERVING from now on; calls are still served. */
void dv_server_drain(dv_server_t *s);

/* Graceful stop: refuse new calls, give in-flight calls grace_ms to finish,
 * cancel the rest, wait for every handler, then free everything. */
void dv_server_stop(dv_server_t *s, int grace_ms);

#endif
