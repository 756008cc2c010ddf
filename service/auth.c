#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc_security.h>
#include <openssl/crypto.h>

#include "model.h"

typedef struct rule {
  dv_role_t role;
  int is_cert;
  char credential[256]; /* "sha256:<hex>" or a certificate common name */
  char name[128];
} rule_t;

struct dv_auth {
  rule_t *rules;
  size_t n;
};

const char *dv_role_name(dv_role_t r) {
  switch (r) {
    case DV_ROLE_VIEWER: return "viewer";
    case DV_ROLE_OPERATOR: return "operator";
    case DV_ROLE_ADMIN: return "admin";
    default: return "";
  }
}

static dv_role_t role_from(const char *s) {
  for (int r = DV_ROLE_VIEWER; r <= DV_ROLE_ADMIN; r++)
    if (strcmp(s, dv_role_name((dv_role_t)r)) == 0) return (dv_role_t)r;
  return DV_ROLE_NONE;
}

void dv_auth_hash_token(const char *token, char out[7 + 64 + 1]) {
  memcpy(out, "sha256:", 7);
  dv_sha256_hex((const uint8_t *)token, strlen(token), out + 7);
}

int dv_auth_load(const char *path, dv_auth_t **out, dv_err_t *err) {
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return dv_err_set(err, GRPC_STATUS_FAILED_PRECONDITION, "access file %s: %s", path,
                      strerror(errno));
  dv_auth_t *a = calloc(1, sizeof *a);
  char line[1024];
  int lineno = 0, rc = -1;
  size_t cap = 0;
  if (a == NULL) {
    DV_NOMEM(err);
    goto cleanup;
  }
  while (fgets(line, sizeof line, f) != NULL) {
    lineno++;
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    char role[32], kind[16], cred[256], name[128];
    int n = sscanf(line, "%31s %15s %255s %127s", role, kind, cred, name);
    if (n <= 0) continue;
    if (n != 4 || role_from(role) == DV_ROLE_NONE ||
        (strcmp(kind, "token") != 0 && strcmp(kind, "cert") != 0) ||
        (strcmp(kind, "token") == 0 && (strncmp(cred, "sha256:", 7) != 0 || strlen(cred) != 71))) {
      dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT,
                 "access file %s, line %d: want \"ROLE token sha256:HEX NAME\" or"
                 " \"ROLE cert COMMON-NAME NAME\" (ROLE: viewer, operator, admin)",
                 path, lineno);
      goto cleanup;
    }
    if (a->n == cap) {
      cap = cap ? cap * 2 : 8;
      rule_t *r = realloc(a->rules, cap * sizeof *r);
      if (r == NULL) {
        DV_NOMEM(err);
        goto cleanup;
      }
      a->rules = r;
    }
    rule_t *r = &a->rules[a->n++];
    r->role = role_from(role);
    r->is_cert = strcmp(kind, "cert") == 0;
    snprintf(r->credential, sizeof r->credential, "%s", cred);
    snprintf(r->name, sizeof r->name, "%s", name);
  }
  *out = a;
  a = NULL;
  rc = 0;
cleanup:
  fclose(f);
  dv_auth_free(a);
  return rc;
}

void dv_auth_free(dv_auth_t *a) {
  if (a == NULL) return;
  free(a->rules);
  free(a);
}

static const rule_t *match_token(const dv_auth_t *a, const grpc_metadata_array *md) {
  for (size_t i = 0; i < md->count; i++) {
    if (grpc_slice_str_cmp(md->metadata[i].key, "authorization") != 0) continue;
    size_t n = GRPC_SLICE_LENGTH(md->metadata[i].value);
    const char *v = (const char *)GRPC_SLICE_START_PTR(md->metadata[i].value);
    if (n <= 7 || n > 4096 || strncasecmp(v, "Bearer ", 7) != 0) return NULL;
    /* the slice is not NUL-terminated: copy exactly its bytes */
    char *token = malloc(n - 7 + 1);
    if (token == NULL) return NULL;
    memcpy(token, v + 7, n - 7);
    token[n - 7] = '\0';
    char hash[72];
    dv_auth_hash_token(token, hash);
    free(token);
    const rule_t *hit = NULL;
    for (size_t k = 0; k < a->n; k++)
      if (!a->rules[k].is_cert && CRYPTO_memcmp(a->rules[k].credential, hash, 71) == 0)
        hit = &a->rules[k];
    return hit;
  }
  return NULL;
}

static const rule_t *match_cert(const dv_auth_t *a, grpc_call *call) {
  grpc_auth_context *ctx = grpc_call_auth_context(call);
  if (ctx == NULL) return NULL;
  const rule_t *hit = NULL;
  if (grpc_auth_context_peer_is_authenticated(ctx)) {
    grpc_auth_property_iterator it =
        grpc_auth_context_find_properties_by_name(ctx, GRPC_X509_CN_PROPERTY_NAME);
    const grpc_auth_property *p;
    while (hit == NULL && (p = grpc_auth_property_iterator_next(&it)) != NULL) {
      for (size_t k = 0; k < a->n && hit == NULL; k++)
        if (a->rules[k].is_cert && strlen(a->rules[k].credential) == p->value_length &&
            memcmp(a->rules[k].credential, p->value, p->value_length) == 0)
          hit = &a->rules[k];
    }
  }
  grpc_auth_context_release(ctx);
  return hit;
}

int dv_auth_identify(const dv_auth_t *a, grpc_call *call, const grpc_metadata_array *md,
                     dv_caller_t *who) {
  const rule_t *r = match_token(a, md);
  if (r == NULL) r = match_cert(a, call);
  if (r == NULL) return -1;
  snprintf(who->name, sizeof who->name, "%s", r->name);
  who->role = r->role;
  return 0;
}
