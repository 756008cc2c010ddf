#include <stdio.h>

#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

void dv_config_usage(FILE *out) {
  fputs(
      "usage: dvsconfd [serve|migrate|hash-token] [options]\n"
      "\n"
      "  serve       run the gRPC service (default); applies pending migrations first\n"
      "  migrate     apply the database schema migrations and exit\n"
      "  hash-token  read a bearer token on stdin, print its access-file credential\n"
      "\n"
      "options (each also an environment variable):\n"
      "  --listen HOST:PORT        DVSCONF_LISTEN   address to serve gRPC on\n"
      "                                             (default 127.0.0.1:50051)\n"
      "  --pg CONNINFO             DVSCONF_PG       PostgreSQL connection string or URI\n"
      "                                             (default: libpq's PG* variables)\n"
      "  --config FILE             DVSCONF_CONFIG   planes file (JSON), see below\n"
      "  --threads N               DVSCONF_THREADS  RPC worker threads, each with its own\n"
      "                                             PostgreSQL connection (default 8)\n"
      "  --max-request-bytes N     DVSCONF_MAX_REQUEST_BYTES   (default 4 MiB)\n"
      "  --max-response-bytes N    DVSCONF_MAX_RESPONSE_BYTES  (default 256 MiB)\n"
      "  --grace-seconds N         DVSCONF_GRACE_SECONDS  on SIGTERM, how long in-flight\n"
      "                                             calls may finish (default 10)\n"
      "  --drain-seconds N         DVSCONF_DRAIN_SECONDS  on SIGTERM, first answer health\n"
      "                                             checks NOT_SERVING for N seconds while still\n"
      "                                             serving, so load balancers move away (default 0)\n"
      "  --version-cache-mb N      DVSCONF_VERSION_CACHE_MB  memory for recently read\n"
      "                                             versions, which never change (default 64;\n"
      "                                             versions of 512 KiB or more take 2 MiB each\n"
      "                                             and need at least 16)\n"
      "  --list-cache-mb N         DVSCONF_LIST_CACHE_MB  memory for ListVersions pages,\n"
      "                                             kept until the next write (default 16)\n"
      "  --tls-cert FILE           DVSCONF_TLS_CERT  server certificate chain (PEM)\n"
      "  --tls-key FILE            DVSCONF_TLS_KEY   its private key (PEM); both are\n"
      "                                             re-read on SIGHUP\n"
      "  --tls-client-ca FILE      DVSCONF_TLS_CLIENT_CA  verify client certificates\n"
      "                                             against this CA (mutual TLS)\n"
      "  --require-client-cert     DVSCONF_REQUIRE_CLIENT_CERT=1  refuse callers\n"
      "                                             without a client certificate\n"
      "  --plaintext               DVSCONF_PLAINTEXT=1  serve without TLS; only on a\n"
      "                                             loopback address unless also\n"
      "  --allow-remote-plaintext  DVSCONF_ALLOW_REMOTE_PLAINTEXT=1\n"
      "  --access-file FILE        DVSCONF_ACCESS_FILE  callers and their roles:\n"
      "                                             lines \"ROLE token sha256:HEX NAME\" or\n"
      "                                             \"ROLE cert COMMON-NAME NAME\"; ROLE is\n"
      "                                             viewer, operator or admin. Without it\n"
      "                                             every caller may do everything.\n"
      "  -h, --help                this text\n"
      "\n"
      "planes file:\n"
      "  {\"planes\": [{\"name\": \"lab\", \"kind\": \"vsphere\",\n"
      "               \"url\": \"https://vcenter.example.com/sdk\",\n"
      "               \"username\": \"svc-dvsconf@vsphere.local\",\n"
      "               \"password_file\": \"/etc/dvsconf/lab.password\",\n"
      "               \"ca_file\": \"/etc/dvsconf/lab-ca.pem\",\n"
      "               \"insecure\": false, \"timeout_ms\": 30000}]}\n"
      "  The password comes from password_file (first line) or password_env (the name\n"
      "  of an environment variable); it is never written inline, logged or returned.\n"
      "  kind: vsphere. insecure: true skips TLS verification (labs only).\n",
      out);
}

static const char *env_or(const char *name, const char *def) {
  const char *v = getenv(name);
  return v != NULL && v[0] != '\0' ? v : def;
}

static int parse_int(const char *s, const char *what, int min, int max, int *out, dv_err_t *err) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "%s: \"%s\" is not a number from %d to %d",
                      what, s, min, max);
  *out = (int)v;
  return 0;
}

static bool is_loopback(const char *listen) {
  return strncmp(listen, "127.", 4) == 0 || strncmp(listen, "localhost:", 10) == 0 ||
         strncmp(listen, "[::1]:", 6) == 0 || strncmp(listen, "unix:", 5) == 0;
}

/* TLS unless plaintext is asked for; plaintext only on loopback unless that
 * is asked for too. */
static int check_transport(const dv_config_t *c, dv_err_t *err) {
  if ((c->tls_cert == NULL) != (c->tls_key == NULL))
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "--tls-cert and --tls-key go together");
  if (c->tls_cert != NULL && c->plaintext)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "--plaintext and --tls-cert exclude each other");
  if (c->tls_cert == NULL && !c->plaintext)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT,
                      "give --tls-cert and --tls-key, or --plaintext to serve without TLS");
  if (c->plaintext && !is_loopback(c->listen) && !c->allow_remote_plaintext)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT,
                      "--plaintext on %s, which is not a loopback address: add"
                      " --allow-remote-plaintext if you really mean it",
                      c->listen);
  if ((c->tls_client_ca != NULL || c->require_client_cert) && c->tls_cert == NULL)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "client certificates need --tls-cert");
  if (c->require_client_cert && c->tls_client_ca == NULL)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "--require-client-cert needs --tls-client-ca");
  return 0;
}

int dv_config_from_args(dv_config_t *c, int argc, char **argv, dv_err_t *err) {
  memset(c, 0, sizeof *c);
  c->arena = dv_arena_new();
  if (c->arena == NULL) return DV_NOMEM(err);
  c->command = "serve";
  c->listen = env_or("DVSCONF_LISTEN", "127.0.0.1:50051");
  c->pg = env_or("DVSCONF_PG", "");
  c->planes_path = env_or("DVSCONF_CONFIG", NULL);
  const char *threads = env_or("DVSCONF_THREADS", "8");
  const char *maxreq = env_or("DVSCONF_MAX_REQUEST_BYTES", "4194304");
  const char *maxresp = env_or("DVSCONF_MAX_RESPONSE_BYTES", "268435456");
  const char *grace = env_or("DVSCONF_GRACE_SECONDS", "10");
  const char *cache_mb = env_or("DVSCONF_VERSION_CACHE_MB", "64");
  const char *list_mb = env_or("DVSCONF_LIST_CACHE_MB", "16");
  const char *drain = env_or("DVSCONF_DRAIN_SECONDS", "0");
  c->tls_cert = env_or("DVSCONF_TLS_CERT", NULL);
  c->tls_key = env_or("DVSCONF_TLS_KEY", NULL);
  c->tls_client_ca = env_or("DVSCONF_TLS_CLIENT_CA", NULL);
  c->require_client_cert = env_or("DVSCONF_REQUIRE_CLIENT_CERT", NULL) != NULL;
  c->plaintext = env_or("DVSCONF_PLAINTEXT", NULL) != NULL;
  c->allow_remote_plaintext = env_or("DVSCONF_ALLOW_REMOTE_PLAINTEXT", NULL) != NULL;
  c->access_file = env_or("DVSCONF_ACCESS_FILE", NULL);

  static const struct option opts[] = {
      {"listen", required_argument, NULL, 'l'},
      {"pg", required_argument, NULL, 'p'},
      {"config", required_argument, NULL, 'c'},
      {"threads", required_argument, NULL, 't'},
      {"max-request-bytes", required_argument, NULL, 'r'},
      {"max-response-bytes", required_argument, NULL, 'R'},
      {"grace-seconds", required_argument, NULL, 'g'},
      {"version-cache-mb", required_argument, NULL, 'm'},
      {"list-cache-mb", required_argument, NULL, 'L'},
      {"drain-seconds", required_argument, NULL, 'd'},
      {"tls-cert", required_argument, NULL, 'C'},
      {"tls-key", required_argument, NULL, 'K'},
      {"tls-client-ca", required_argument, NULL, 'A'},
      {"require-client-cert", no_argument, NULL, 'Q'},
      {"plaintext", no_argument, NULL, 'P'},
      {"allow-remote-plaintext", no_argument, NULL, 'W'},
      {"access-file", required_argument, NULL, 'a'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  optind = 1;
  int ch;
  while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (ch) {
      case 'l': c->listen = optarg; break;
      case 'p': c->pg = optarg; break;
      case 'c': c->planes_path = optarg; break;
      case 't': threads = optarg; break;
      case 'r': maxreq = optarg; break;
      case 'R': maxresp = optarg; break;
      case 'g': grace = optarg; break;
      case 'm': cache_mb = optarg; break;
      case 'L': list_mb = optarg; break;
      case 'd': drain = optarg; break;
      case 'C': c->tls_cert = optarg; break;
      case 'K': c->tls_key = optarg; break;
      case 'A': c->tls_client_ca = optarg; break;
      case 'Q': c->require_client_cert = true; break;
      case 'P': c->plaintext = true; break;
      case 'W': c->allow_remote_plaintext = true; break;
      case 'a': c->access_file = optarg; break;
      case 'h': dv_config_usage(stdout); return 1;
      default:
        return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "unknown option (see --help)");
    }
  }
  if (optind < argc) c->command = argv[optind++];
  if (optind < argc)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "unexpected argument \"%s\"", argv[optind]);
  if (strcmp(c->command, "serve") != 0 && strcmp(c->command, "migrate") != 0 &&
      strcmp(c->command, "hash-token") != 0)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT,
                      "unknown command \"%s\" (serve, migrate, hash-token)", c->command);
  if (strcmp(c->command, "serve") == 0 && check_transport(c, err) != 0) return -1;
  int grace_s = 0, drain_s = 0;
  if (parse_int(threads, "--threads", 1, 256, &c->threads, err) != 0 ||
      parse_int(maxreq, "--max-request-bytes", 1024, 1 << 30, &c->max_request_bytes, err) != 0 ||
      parse_int(maxresp, "--max-response-bytes", 1024, 1 << 30, &c->max_response_bytes, err) != 0 ||
      parse_int(grace, "--grace-seconds", 0, 3600, &grace_s, err) != 0 ||
      parse_int(cache_mb, "--version-cache-mb", 0, 1 << 20, &c->version_cache_mb, err) != 0 ||
      parse_int(list_mb, "--list-cache-mb", 0, 1 << 20, &c->list_cache_mb, err) != 0 ||
      parse_int(drain, "--drain-seconds", 0, 3600, &drain_s, err) != 0)
    return -1;
  c->grace_ms = grace_s * 1000;
  c->drain_ms = drain_s * 1000;
  return 0;
}

static char *read_secret_file(dv_arena_t *a, const char *path, dv_err_t *err) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    dv_err_set(err, GRPC_STATUS_FAILED_PRECONDITION, "password_file %s: %s", path, strerror(errno));
    return NULL;
  }
  char buf[1024];
  char *line = fgets(buf, sizeof buf, f);
  fclose(f);
  if (line == NULL) {
    dv_err_set(err, GRPC_STATUS_FAILED_PRECONDITION, "password_file %s is empty", path);
    return NULL;
  }
  buf[strcspn(buf, "\r\n")] = '\0';
  char *s = dv_arena_strdup(a, buf);
  memset(buf, 0, sizeof buf);
  if (s == NULL) DV_NOMEM(err);
  return s;
}

static const char *jstr(json_t *o, const char *k) {
  json_t *v = json_object_get(o, k);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

int dv_config_load_planes(dv_config_t *c, const char *path, dv_err_t *err) {
  json_error_t jerr;
  json_t *root = json_load_file(path, 0, &jerr);
  int rc = -1;
  if (root == NULL)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "planes file %s, line %d: %s", path,
                      jerr.line, jerr.text);
  json_t *arr = json_object_get(root, "planes");
  if (!json_is_array(arr)) {
    dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "planes file %s: \"planes\" must be an array",
               path);
    goto cleanup;
  }
  size_t n = json_array_size(arr);
  c->planes.v = dv_arena_alloc(c->arena, (n + 1) * sizeof(dv_plane_entry_t));
  if (c->planes.v == NULL) {
    DV_NOMEM(err);
    goto cleanup;
  }
  for (size_t i = 0; i < n; i++) {
    json_t *o = json_array_get(arr, i);
    dv_plane_entry_t *p = &c->planes.v[i];
    const char *name = jstr(o, "name"), *kind = jstr(o, "kind"), *url = jstr(o, "url");
    if (!json_is_object(o) || name == NULL || name[0] == '\0' || kind == NULL || url == NULL) {
      dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT,
                 "planes file %s: planes[%zu] needs \"name\", \"kind\" and \"url\"", path, i);
      goto cleanup;
    }
    for (size_t j = 0; j < i; j++)
      if (strcmp(c->planes.v[j].conf.name, name) == 0) {
        dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "planes file %s: plane \"%s\" appears twice",
                   path, name);
        goto cleanup;
      }
    p->ops = dv_adapter_find(kind);
    if (p->ops == NULL) {
      dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "planes file %s: plane \"%s\": unknown kind \"%s\"",
                 path, name, kind);
      goto cleanup;
    }
    if (jstr(o, "password") != NULL) {
      dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT,
                 "planes file %s: plane \"%s\": put the password in password_file or password_env,"
                 " not inline",
                 path, name);
      goto cleanup;
    }
    p->conf.name = dv_arena_strdup(c->arena, name);
    p->conf.kind = p->ops->kind;
    p->conf.url = dv_arena_strdup(c->arena, url);
    p->conf.username = dv_arena_strdup(c->arena, jstr(o, "username"));
    const char *pwfile = jstr(o, "password_file"), *pwenv = jstr(o, "password_env");
    if (pwfile != NULL) {
      p->conf.password = read_secret_file(c->arena, pwfile, err);
      if (p->conf.password == NULL) goto cleanup;
    } else if (pwenv != NULL) {
      const char *v = getenv(pwenv);
      if (v == NULL) {
        dv_err_set(err, GRPC_STATUS_FAILED_PRECONDITION,
                   "plane \"%s\": environment variable %s (password_env) is not set", name, pwenv);
        goto cleanup;
      }
      p->conf.password = dv_arena_strdup(c->arena, v);
    } else {
      p->conf.password = "";
    }
    const char *ca = jstr(o, "ca_file");
    p->conf.ca_file = ca ? dv_arena_strdup(c->arena, ca) : NULL;
    p->conf.insecure = json_is_true(json_object_get(o, "insecure"));
    json_t *t = json_object_get(o, "timeout_ms");
    p->conf.timeout_ms = json_is_integer(t) ? (int)json_integer_value(t) : 30000;
    if (p->conf.name == NULL || p->conf.url == NULL || p->conf.username == NULL ||
        p->conf.password == NULL) {
      DV_NOMEM(err);
      goto cleanup;
    }
    c->planes.n++;
  }
  rc = 0;
cleanup:
  json_decref(root);
  return rc;
}

void dv_config_free(dv_config_t *c) {
  dv_arena_free(c->arena);
  c->arena = NULL;
}
