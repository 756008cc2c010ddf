/* Who is calling, and what they may do.
 *
 * The access file maps callers to roles, one rule a line:
 *
 *   # role     kind   credential                      name
 *   admin      token  sha256:9f86d081884c7d659a2f...   ci-pipeline
 *   viewer     cert   dashboard.example.com           ops-dashboard
 *
 * `token` rules hold the hex SHA-256 of a bearer token (the token itself is
 * never stored: `dvsconfd hash-token` prints the line's credential); a call
 * presents it as `authorization: Bearer <token>` metadata. `cert` rules
 * match the common name of a verified client certificate (mutual TLS).
 *
 * Roles: viewer (ListVersions, GetVersion, Diff, ListSwitches, ListPlanes),
 * operator (also Export, PutVersion), admin (also Import, ListAuditEvents).
 * Health checks need no identity. */
#ifndef DV_AUTH_H
#define DV_AUTH_H

#include <grpc/grpc.h>

#include "err.h"

typedef enum dv_role {
  DV_ROLE_NONE = 0,
  DV_ROLE_VIEWER = 1,
  DV_ROLE_OPERATOR = 2,
  DV_ROLE_ADMIN = 3,
} dv_role_t;

typedef struct dv_auth dv_auth_t;

typedef struct dv_caller {
  char name[128];
  dv_role_t role;
} dv_caller_t;

int dv_auth_load(const char *path, dv_auth_t **out, dv_err_t *err);
void dv_auth_free(dv_auth_t *a); /* NULL-safe */

/* Identify the caller of `call` from its metadata or client certificate.
 * Returns 0 and fills *who, or -1 when the call carries no credential the
 * access file knows. Never says which part did not match. */
int dv_auth_identify(const dv_auth_t *a, grpc_call *call, const grpc_metadata_array *md,
                     dv_caller_t *who);

const char *dv_role_name(dv_role_t r);

/* "sha256:<hex>" of a token, for the access file. */
void dv_auth_hash_token(const char *token, char out[7 + 64 + 1]);

#endif
