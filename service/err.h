/* dv_err: the error channel across every layer (store, adapters, service).
 * A failing function fills one dv_err_t with a gRPC status code and a
 * message naming the object and the failing call, and returns -1. It is
 * mapped to the wire status once, at the RPC edge. On error the caller's
 * state is as it was before the call, unless the function says otherwise. */
#ifndef DV_ERR_H
#define DV_ERR_H

#include <grpc/status.h>

#define DV_ERR_MSG_MAX 4096

typedef struct dv_err {
  grpc_status_code code; /* GRPC_STATUS_OK when no error */
  char msg[DV_ERR_MSG_MAX];
} dv_err_t;

#define DV_ERR_INIT {GRPC_STATUS_OK, {0}}

/* Fill err (when not NULL) and return -1, so that `return dv_err_set(...)`
 * reads naturally. A second set on an already failed err is ignored: the
 * first failure is the one reported. */
int dv_err_set(dv_err_t *err, grpc_status_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing message with context ("export of switch X: ..."). When
 * the whole does not fit, the middle of the old message gives way: its end
 * often says what state things were left in. */
void dv_err_prefix(dv_err_t *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void dv_err_clear(dv_err_t *err);

#define DV_NOMEM(err) \
  dv_err_set((err), GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory (%s:%d)", __FILE__, __LINE__)

const char *dv_status_name(grpc_status_code code);

#endif
