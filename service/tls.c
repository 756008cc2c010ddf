#include "tls.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

static volatile sig_atomic_t reload_requested;
static int loaded_once;

int dv_tls_process_init(void) {
  return OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL) == 1 ? 0 : -1;
}

void dv_tls_request_reload(void) {
  reload_requested = 1;
}

static char *read_file(const char *path, dv_err_t *err) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    dv_err_set(err, GRPC_STATUS_FAILED_PRECONDITION, "%s: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  while (buf != NULL) {
    n += fread(buf + n, 1, cap - n - 1, f);
    if (n < cap - 1) break;
    char *nb = realloc(buf, cap * 2);
    if (nb == NULL) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = nb;
    cap *= 2;
  }
  fclose(f);
  if (buf == NULL) {
    DV_NOMEM(err);
    return NULL;
  }
  buf[n] = '\0';
  if (n == 0) {
    free(buf);
    dv_err_set(err, GRPC_STATUS_FAILED_PRECONDITION, "%s is empty", path);
    return NULL;
  }
  return buf;
}

static grpc_ssl_server_certificate_config *load(const dv_tls_files_t *f, dv_err_t *err) {
  char *cert = read_file(f->cert, err);
  char *key = cert ? read_file(f->key, err) : NULL;
  char *ca = key && f->client_ca ? read_file(f->client_ca, err) : NULL;
  grpc_ssl_server_certificate_config *cfg = NULL;
  if (cert != NULL && key != NULL && (f->client_ca == NULL || ca != NULL)) {
    grpc_ssl_pem_key_cert_pair pair = {key, cert};
    /* gRPC 1.51 asserts on NULL roots when certificates come from a fetcher,
     * even when no client certificate is requested: then the server's own
     * chain stands in; it is never used to verify anything. */
    cfg = grpc_ssl_server_certificate_config_create(ca != NULL ? ca : cert, &pair, 1);
    if (cfg == NULL) dv_err_set(err, GRPC_STATUS_INTERNAL, "TLS: cannot use %s / %s", f->cert, f->key);
  }
  /* gRPC copied the PEM strings; wipe the key from our memory */
  if (key != NULL) memset(key, 0, strlen(key));
  free(cert);
  free(key);
  free(ca);
  return cfg;
}

static grpc_ssl_certificate_config_reload_status fetch(void *user_data,
                                                       grpc_ssl_server_certificate_config **config) {
  const dv_tls_files_t *f = user_data;
  if (loaded_once && !reload_requested) return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_UNCHANGED;
  reload_requested = 0;
  dv_err_t err = DV_ERR_INIT;
  *config = load(f, &err);
  if (*config == NULL) {
    fprintf(stderr, "dvsconfd: TLS reload failed, keeping the current certificate: %s\n", err.msg);
    return loaded_once ? GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_UNCHANGED
                       : GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_FAIL;
  }
  if (loaded_once) fprintf(stderr, "dvsconfd: TLS certificate reloaded from %s\n", f->cert);
  loaded_once = 1;
  return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_NEW;
}

grpc_server_credentials *dv_tls_server_credentials(const dv_tls_files_t *files, dv_err_t *err) {
  /* Load once here so that bad files fail the start with a clear message. */
  grpc_ssl_server_certificate_config *check = load(files, err);
  if (check == NULL) return NULL;
  grpc_ssl_server_certificate_config_destroy(check);
  grpc_ssl_client_certificate_request_type req =
      files->client_ca == NULL ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
      : files->require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                   : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  grpc_ssl_server_credentials_options *o =
      grpc_ssl_server_credentials_create_options_using_config_fetcher(req, fetch, (void *)files);
  if (o == NULL) {
    dv_err_set(err, GRPC_STATUS_INTERNAL, "TLS: cannot create server credential options");
    return NULL;
  }
  grpc_server_credentials *c = grpc_ssl_server_credentials_create_with_options(o);
  if (c == NULL) dv_err_set(err, GRPC_STATUS_INTERNAL, "TLS: cannot create server credentials");
  return c;
}
