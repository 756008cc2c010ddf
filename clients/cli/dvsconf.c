/* dvsconf: the command-line client of dvsconfd. See `dvsconf --help`. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "dvc_cli.h"
#include "dvsconf_client.h"
#include "pbjson.h"

#define PROG "dvsconf"

typedef struct cli {
  dvc_options_t conn;
  bool json;            /* --json: responses in the proto3 JSON mapping */
  dvc_client_t *client; /* opened by open_client() */
  const struct command *cmd;
} cli_t;

typedef struct command {
  const char *name;
  int (*run)(cli_t *c, int argc, char **argv);
  const char *summary;
  const char *help; /* synopsis and options */
} command_t;

/* ---------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------- */

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size);
  if (p == NULL) {
    fprintf(stderr, PROG ": out of memory\n");
    exit(DVC_EXIT_OTHER);
  }
  return p;
}

static char *xstrdup(const char *s) {
  char *p = strdup(s);
  if (p == NULL) {
    fprintf(stderr, PROG ": out of memory\n");
    exit(DVC_EXIT_OTHER);
  }
  return p;
}

static int usage_error(const cli_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int usage_error(const cli_t *c, const char *fmt, ...) {
  const char *name = c->cmd ? c->cmd->name : NULL;
  fprintf(stderr, PROG "%s%s: ", name ? " " : "", name ? name : "");
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry '" PROG "%s%s --help'.\n", name ? " " : "", name ? name : "");
  return DVC_EXIT_USAGE;
}

static void print_help(const command_t *cmd) {
  printf("%s\n\n%s\nglobal options (also accepted after the command):\n" DVC_CONN_HELP
         "  --json             print the response in the proto3 JSON mapping\n",
         cmd->summary, cmd->help);
}

/* Options every command takes besides its own. */
enum { OPT_JSON = 0x2000, OPT_HELP };
#define COMMON_LONGOPTS                                                             \
  DVC_CONN_LONGOPTS, {"json", no_argument, NULL, OPT_JSON},                         \
      {"help", no_argument, NULL, OPT_HELP}, {NULL, 0, NULL, 0}

/* A common option: 0 taken, 1 help printed (exit 0), 2 usage error. */
static int common_option(cli_t *c, int ch) {
  switch (ch) {
    case OPT_JSON: c->json = true; return 0;
    case OPT_HELP: print_help(c->cmd); return 1;
    case DVC_OPT_ADDR:
    case DVC_OPT_CA:
    case DVC_OPT_CERT:
    case DVC_OPT_KEY:
    case DVC_OPT_TOKEN:
    case DVC_OPT_TIMEOUT: return dvc_conn_option(&c->conn, ch, optarg, PROG) == 0 ? 0 : 2;
    default: /* getopt printed what was wrong */
      fprintf(stderr, "Try '" PROG " %s --help'.\n", c->cmd->name);
      return 2;
  }
}

/* In each command's option loop: hand the rest to common_option. */
#define COMMON_CASES(c, ch)                 \
  default: {                                \
    int r_ = common_option((c), (ch));      \
    if (r_ == 1) return DVC_EXIT_OK;        \
    if (r_ != 0) return DVC_EXIT_USAGE;     \
  } break

static int open_client(cli_t *c) {
  dvc_error_t err;
  c->client = dvc_connect(&c->conn, &err);
  if (c->client == NULL) {
    fprintf(stderr, PROG ": %s\n", err.message);
    return DVC_EXIT_USAGE;
  }
  return 0;
}

static int print_json(const ProtobufCMessage *m) {
  json_t *j = pbjson_encode(m);
  if (j == NULL || json_dumpf(j, stdout, JSON_INDENT(2)) != 0) {
    json_decref(j);
    fprintf(stderr, PROG ": cannot write JSON\n");
    return DVC_EXIT_OTHER;
  }
  json_decref(j);
  putchar('\n');
  return 0;
}

static void free_msg(void *m) {
  if (m != NULL) protobuf_c_message_free_unpacked(m, NULL);
}

/* "k=v" split in place; NULL key when there is no '=' or the key is empty. */
static int split_kv(char *arg, char **k, char **v) {
  char *eq = strchr(arg, '=');
  if (eq == NULL || eq == arg) return -1;
  *eq = '\0';
  *k = arg;
  *v = eq + 1;
  return 0;
}

static int parse_count(const char *s, int min, int max, int *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < min || v > max) return -1;
  *out = (int)v;
  return 0;
}

static const char *fmt_time(const Google__Protobuf__Timestamp *t, char *buf, size_t cap) {
  if (t == NULL) return "-";
  time_t secs = (time_t)t->seconds;
  struct tm tm;
  if (localtime_r(&secs, &tm) == NULL || strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm) == 0)
    return "?";
  return buf;
}

static const char *scope_name(int scope) {
  switch (scope) {
    case DVSCONF__V1__EXPORT_SCOPE__EXPORT_SCOPE_ALL: return "all";
    case DVSCONF__V1__EXPORT_SCOPE__EXPORT_SCOPE_SWITCH_ONLY: return "switch";
    case DVSCONF__V1__EXPORT_SCOPE__EXPORT_SCOPE_PORTGROUPS_ONLY: return "portgroups";
    default: return "?";
  }
}

/* Characters (not bytes) of UTF-8 text: for column widths. */
static size_t text_width(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
  return n;
}

/* ---------------------------------------------------------------------------
 * Aligned tables
 * ------------------------------------------------------------------------- */

typedef struct table {
  size_t ncol, nrows, cap;
  char **cells; /* nrows * ncol; row 0 is the header */
} table_t;

static void table_row(table_t *t, ...) {
  if (t->nrows == t->cap) {
    t->cap = t->cap ? t->cap * 2 : 16;
    char **cells = realloc(t->cells, t->cap * t->ncol * sizeof *cells);
    if (cells == NULL) {
      fprintf(stderr, PROG ": out of memory\n");
      exit(DVC_EXIT_OTHER);
    }
    t->cells = cells;
  }
  va_list ap;
  va_start(ap, t);
  for (size_t i = 0; i < t->ncol; i++) {
    const char *s = va_arg(ap, const char *);
    char *cell = xstrdup(s != NULL && s[0] ? s : "-");
    for (char *p = cell; *p; p++)
      if (*p == '\n' || *p == '\t' || *p == '\r') *p = ' ';
    t->cells[t->nrows * t->ncol + i] = cell;
  }
  va_end(ap);
  t->nrows++;
}

static void table_print(table_t *t) {
  size_t *w = xcalloc(t->ncol, sizeof *w);
  for (size_t r = 0; r < t->nrows; r++)
    for (size_t i = 0; i < t->ncol; i++) {
      size_t n = text_width(t->cells[r * t->ncol + i]);
      if (n > w[i]) w[i] = n;
    }
  for (size_t r = 0; r < t->nrows; r++) {
    for (size_t i = 0; i < t->ncol; i++) {
      const char *s = t->cells[r * t->ncol + i];
      fputs(s, stdout);
      if (i + 1 < t->ncol) printf("%*s", (int)(w[i] - text_width(s) + 2), "");
    }
    putchar('\n');
  }
  free(w);
}

static void table_free(table_t *t) {
  for (size_t i = 0; i < t->nrows * t->ncol; i++) free(t->cells[i]);
  free(t->cells);
}

/* ---------------------------------------------------------------------------
 * export
 * ------------------------------------------------------------------------- */

static void print_stored(const Dvsconf__V1__ExportResponse *r) {
  const Dvsconf__V1__VersionInfo *v = r->version;
  if (v == NULL) {
    printf("%s (the server returned no version)\n", r->unchanged ? "unchanged" : "stored");
    return;
  }
  if (r->unchanged)
    printf("unchanged: version %s (#%" PRId64 " of %s on plane %s) already holds this configuration\n",
           v->id, v->number, v->switch_name, v->plane);
  else
    printf("stored version %s (#%" PRId64 " of %s on plane %s): %d port group%s, checksum %.12s\n",
           v->id, v->number, v->switch_name, v->plane, v->portgroup_count,
           v->portgroup_count == 1 ? "" : "s", v->checksum);
}

static int parse_scope(const char *s, Dvsconf__V1__ExportScope *out) {
  if (strcmp(s, "all") == 0) *out = DVSCONF__V1__EXPORT_SCOPE__EXPORT_SCOPE_ALL;
  else if (strcmp(s, "switch") == 0) *out = DVSCONF__V1__EXPORT_SCOPE__EXPORT_SCOPE_SWITCH_ONLY;
  else if (strcmp(s, "portgroups") == 0) *out = DVSCONF__V1__EXPORT_SCOPE__EXPORT_SCOPE_PORTGROUPS_ONLY;
  else return -1;
  return 0;
}

static int cmd_export(cli_t *c, int argc, char **argv) {
  static const struct option opts[] = {
      {"plane", required_argument, NULL, 'p'}, {"switch", required_argument, NULL, 's'},
      {"uuid", required_argument, NULL, 'u'},  {"scope", required_argument, NULL, 'S'},
      {"portgroup", required_argument, NULL, 'g'}, {"note", required_argument, NULL, 'n'},
      {"label", required_argument, NULL, 'l'}, COMMON_LONGOPTS};
  Dvsconf__V1__ExportRequest req = DVSCONF__V1__EXPORT_REQUEST__INIT;
  /* At most argc of each list: arrays sized so, freed at the end. */
  char **pgs = xcalloc((size_t)argc, sizeof *pgs);
  Dvsconf__V1__ExportRequest__LabelsEntry *lab = xcalloc((size_t)argc, sizeof *lab);
  Dvsconf__V1__ExportRequest__LabelsEntry **labp = xcalloc((size_t)argc, sizeof *labp);
  Dvsconf__V1__ExportResponse *resp = NULL;
  int rc = DVC_EXIT_USAGE, ch;
  req.portgroups = pgs;
  req.labels = labp;
  while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (ch) {
      case 'p': req.plane = optarg; break;
      case 's': req.switch_name = optarg; break;
      case 'u': req.switch_uuid = optarg; break;
      case 'S':
        if (parse_scope(optarg, &req.scope) != 0) {
          usage_error(c, "--scope: \"%s\" is not all, switch or portgroups", optarg);
          goto cleanup;
        }
        break;
      case 'g': pgs[req.n_portgroups++] = optarg; break;
      case 'n': req.note = optarg; break;
      case 'l': {
        Dvsconf__V1__ExportRequest__LabelsEntry init = DVSCONF__V1__EXPORT_REQUEST__LABELS_ENTRY__INIT;
        lab[req.n_labels] = init;
        if (split_kv(optarg, &lab[req.n_labels].key, &lab[req.n_labels].value) != 0) {
          usage_error(c, "--label: \"%s\" is not KEY=VALUE", optarg);
          goto cleanup;
        }
        labp[req.n_labels] = &lab[req.n_labels];
        req.n_labels++;
        break;
      }
      default: {
        int r = common_option(c, ch);
        rc = r == 1 ? DVC_EXIT_OK : DVC_EXIT_USAGE;
        if (r != 0) goto cleanup;
      }
    }
  }
  if (optind < argc) {
    usage_error(c, "unexpected argument \"%s\"", argv[optind]);
    goto cleanup;
  }
  if (req.plane[0] == '\0') {
    usage_error(c, "--plane is required");
    goto cleanup;
  }
  if ((req.switch_name[0] != '\0') == (req.switch_uuid[0] != '\0')) {
    usage_error(c, "give exactly one of --switch NAME and --uuid UUID");
    goto cleanup;
  }
  if ((rc = open_client(c)) != 0) goto cleanup;
  dvc_error_t err;
  if (dvc_export(c->client, &req, &resp, &err) != 0) {
    rc = dvc_report(PROG, &err);
    goto cleanup;
  }
  rc = 0;
  if (c->json) rc = print_json(&resp->base);
  else print_stored(resp);
cleanup:
  free_msg(resp);
  free(pgs);
  free(lab);
  free(labp);
  return rc;
}

/* ---------------------------------------------------------------------------
 * versions
 * ------------------------------------------------------------------------- */

static int cmd_versions(cli_t *c, int argc, char **argv) {
  static const struct option opts[] = {
      {"plane", required_argument, NULL, 'p'}, {"switch", required_argument, NULL, 's'},
      {"uuid", required_argument, NULL, 'u'},  {"limit", required_argument, NULL, 'l'},
      {"all", no_argument, NULL, 'a'},         COMMON_LONGOPTS};
  Dvsconf__V1__ListVersionsRequest req = DVSCONF__V1__LIST_VERSIONS_REQUEST__INIT;
  bool all = false;
  int limit = 0, ch;
  while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (ch) {
      case 'p': req.plane = optarg; break;
      case 's': req.switch_name = optarg; break;
      case 'u': req.switch_uuid = optarg; break;
      case 'l':
        if (parse_count(optarg, 1, 1000, &limit) != 0)
          return usage_error(c, "--limit: \"%s\" is not a number from 1 to 1000", optarg);
        break;
      case 'a': all = true; break;
        COMMON_CASES(c, ch);
    }
  }
  if (optind < argc) return usage_error(c, "unexpected argument \"%s\"", argv[optind]);
  if (req.switch_name[0] && req.switch_uuid[0])
    return usage_error(c, "give at most one of --switch and --uuid");
  int rc = open_client(c);
  if (rc != 0) return rc;

  /* Every page asked for, kept until printed. */
  Dvsconf__V1__ListVersionsResponse **pages = NULL;
  size_t npages = 0, total = 0;
  req.page_size = all && limit == 0 ? 200 : limit;
  char *token = NULL;
  for (;;) {
    Dvsconf__V1__ListVersionsResponse *r = NULL;
    dvc_error_t err;
    req.page_token = token != NULL ? token : "";
    if (dvc_list_versions(c->client, &req, &r, &err) != 0) {
      rc = dvc_report(PROG, &err);
      break;
    }
    Dvsconf__V1__ListVersionsResponse **np = realloc(pages, (npages + 1) * sizeof *np);
    if (np == NULL) {
      free_msg(r);
      fprintf(stderr, PROG ": out of memory\n");
      rc = DVC_EXIT_OTHER;
      break;
    }
    pages = np;
    pages[npages++] = r;
    total += r->n_versions;
    token = r->next_page_token;
    if (!all || token[0] == '\0' || r->n_versions == 0) break;
  }

  if (rc == 0) {
    Dvsconf__V1__VersionInfo **flat = xcalloc(total, sizeof *flat);
    size_t k = 0;
    for (size_t p = 0; p < npages; p++)
      for (size_t i = 0; i < pages[p]->n_versions; i++) flat[k++] = pages[p]->versions[i];
    const char *next = npages ? pages[npages - 1]->next_page_token : "";
    if (c->json) {
      Dvsconf__V1__ListVersionsResponse merged = DVSCONF__V1__LIST_VERSIONS_RESPONSE__INIT;
      merged.n_versions = total;
      merged.versions = flat;
      merged.next_page_token = (char *)(all ? "" : next);
      rc = print_json(&merged.base);
    } else {
      table_t t = {.ncol = 8};
      table_row(&t, "ID", "NO", "PLANE", "SWITCH", "CREATED", "PGS", "CHECKSUM", "NOTE");
      for (size_t i = 0; i < total; i++) {
        const Dvsconf__V1__VersionInfo *v = flat[i];
        char no[24], pg[16], when[32], sum[13];
        snprintf(no, sizeof no, "%" PRId64, v->number);
        snprintf(pg, sizeof pg, "%d", v->portgroup_count);
        snprintf(sum, sizeof sum, "%.12s", v->checksum);
        table_row(&t, v->id, no, v->plane, v->switch_name,
                  fmt_time(v->created_at, when, sizeof when), pg, sum, v->note);
      }
      table_print(&t);
      table_free(&t);
      if (!all && next[0] != '\0')
        fprintf(stderr, PROG ": more versions exist: use --all, or a larger --limit\n");
    }
    free(flat);
  }
  for (size_t p = 0; p < npages; p++) free_msg(pages[p]);
  free(pages);
  return rc;
}

/* ---------------------------------------------------------------------------
 * show
 * ------------------------------------------------------------------------- */

static const char *fmt_vlan(const Dvsconf__V1__VlanSpec *v, char *buf, size_t cap) {
  if (v == NULL) return "none";
  switch (v->kind) {
    case DVSCONF__V1__VLAN_KIND__VLAN_KIND_NONE: return "none";
    case DVSCONF__V1__VLAN_KIND__VLAN_KIND_VLAN: snprintf(buf, cap, "vlan %d", v->vlan_id); break;
    case DVSCONF__V1__VLAN_KIND__VLAN_KIND_PVLAN: snprintf(buf, cap, "pvlan %d", v->pvlan_id); break;
    case DVSCONF__V1__VLAN_KIND__VLAN_KIND_TRUNK: {
      size_t n = (size_t)snprintf(buf, cap, "trunk ");
      for (size_t i = 0; i < v->n_trunk_ranges && n < cap; i++) {
        const Dvsconf__V1__NumericRange *r = v->trunk_ranges[i];
        n += (size_t)(r->start == r->end
                          ? snprintf(buf + n, cap - n, "%s%d", i ? "," : "", r->start)
                          : snprintf(buf + n, cap - n, "%s%d-%d", i ? "," : "", r->start, r->end));
      }
      break;
    }
    default: snprintf(buf, cap, "kind %d", v->kind); break;
  }
  return buf;
}

static void print_list(const char *label, char *const *items, size_t n) {
  printf("%-18s", label);
  if (n == 0) printf("-");
  for (size_t i = 0; i < n; i++) printf("%s%s", i ? ", " : "", items[i]);
  putchar('\n');
}

static void print_port_settings(const char *indent, const Dvsconf__V1__PortSettings *p) {
  char vb[256];
  if (p == NULL) {
    printf("%s(not set)\n", indent);
    return;
  }
  printf("%s%-16s%s\n", indent, "vlan", fmt_vlan(p->vlan, vb, sizeof vb));
  if (p->security)
    printf("%s%-16spromiscuous %s, mac changes %s, forged transmits %s\n", indent, "security",
           p->security->allow_promiscuous ? "allow" : "reject",
           p->security->mac_changes ? "allow" : "reject",
           p->security->forged_transmits ? "allow" : "reject");
  if (p->teaming) {
    const Dvsconf__V1__TeamingPolicy *t = p->teaming;
    printf("%s%-16s%s%s%s; active ", indent, "teaming", t->policy[0] ? t->policy : "-",
           t->notify_switches ? ", notify switches" : "", t->rolling_order ? ", rolling order" : "");
    for (size_t i = 0; i < t->n_active_uplinks; i++) printf("%s%s", i ? "," : "", t->active_uplinks[i]);
    if (t->n_active_uplinks == 0) printf("-");
    printf("; standby ");
    for (size_t i = 0; i < t->n_standby_uplinks; i++) printf("%s%s", i ? "," : "", t->standby_uplinks[i]);
    if (t->n_standby_uplinks == 0) printf("-");
    putchar('\n');
  }
  const Dvsconf__V1__ShapingPolicy *sh[2] = {p->in_shaping, p->out_shaping};
  for (int i = 0; i < 2; i++)
    if (sh[i] != NULL && sh[i]->enabled)
      printf("%s%-16saverage %" PRId64 " bit/s, peak %" PRId64 " bit/s, burst %" PRId64 " B\n",
             indent, i == 0 ? "in shaping" : "out shaping", sh[i]->average_bandwidth,
             sh[i]->peak_bandwidth, sh[i]->burst_size);
}

static void print_version(const Dvsconf__V1__Version *v) {
  const Dvsconf__V1__VersionInfo *in = v->info;
  char when[32];
  if (in != NULL) {
    printf("%-18s%s (#%" PRId64 " of %s on plane %s)\n", "version", in->id, in->number,
           in->switch_name, in->plane);
    printf("%-18s%s\n", "created", fmt_time(in->created_at, when, sizeof when));
    printf("%-18s%s\n", "checksum", in->checksum);
    printf("%-18s%s\n", "scope", scope_name(in->scope));
    printf("%-18s%s\n", "note", in->note[0] ? in->note : "-");
    printf("%-18s", "labels");
    for (size_t i = 0; i < in->n_labels; i++)
      printf("%s%s=%s", i ? ", " : "", in->labels[i]->key, in->labels[i]->value);
    printf("%s\n", in->n_labels ? "" : "-");
  }
  const Dvsconf__V1__SwitchConfig *s = v->config;
  if (s == NULL) return;
  putchar('\n');
  printf("%-18s%s (uuid %s)\n", "switch", s->name, s->uuid[0] ? s->uuid : "-");
  printf("%-18s%s\n", "datacenter", s->datacenter[0] ? s->datacenter : "-");
  printf("%-18s%s\n", "description", s->description[0] ? s->description : "-");
  if (s->contact_name[0] || s->contact_info[0])
    printf("%-18s%s %s\n", "contact", s->contact_name, s->contact_info);
  printf("%-18s%d\n", "max MTU", s->max_mtu);
  print_list("uplinks", s->uplink_port_names, s->n_uplink_port_names);
  printf("%-18s%d\n", "standalone ports", s->num_standalone_ports);
  if (s->link_discovery)
    printf("%-18s%s %s\n", "link discovery", s->link_discovery->protocol,
           s->link_discovery->operation);
  print_list("hosts", s->host_members, s->n_host_members);
  printf("default port config:\n");
  print_port_settings("  ", s->default_port_config);
  printf("\nport groups (%zu):\n", s->n_portgroups);
  if (s->n_portgroups == 0) return;
  table_t t = {.ncol = 6};
  table_row(&t, "  NAME", "KEY", "VLAN", "PORTS", "BINDING", "DESCRIPTION");
  for (size_t i = 0; i < s->n_portgroups; i++) {
    const Dvsconf__V1__PortgroupConfig *pg = s->portgroups[i];
    char name[512], vb[256], ports[32];
    snprintf(name, sizeof name, "  %s", pg->name);
    snprintf(ports, sizeof ports, "%d%s", pg->num_ports, pg->auto_expand ? "+" : "");
    table_row(&t, name, pg->key, fmt_vlan(pg->default_port_config ? pg->default_port_config->vlan : NULL, vb, sizeof vb),
              ports, pg->binding_type, pg->description);
  }
  table_print(&t);
  table_free(&t);
}

/* The editable document: {"plane", "note", "labels", ["scope",] "config"},
 * the JSON of a PutVersionRequest with its keys in reading order. */
static json_t *version_document(const Dvsconf__V1__Version *v) {
  const Dvsconf__V1__VersionInfo *in = v->info;
  Dvsconf__V1__PutVersionRequest put = DVSCONF__V1__PUT_VERSION_REQUEST__INIT;
  size_t n = in ? in->n_labels : 0;
  Dvsconf__V1__PutVersionRequest__LabelsEntry *lab = xcalloc(n, sizeof *lab);
  Dvsconf__V1__PutVersionRequest__LabelsEntry **labp = xcalloc(n, sizeof *labp);
  if (in != NULL) {
    put.plane = in->plane;
    put.note = in->note;
    put.scope = in->scope;
    for (size_t i = 0; i < n; i++) {
      Dvsconf__V1__PutVersionRequest__LabelsEntry init = DVSCONF__V1__PUT_VERSION_REQUEST__LABELS_ENTRY__INIT;
      lab[i] = init;
      lab[i].key = in->labels[i]->key;
      lab[i].value = in->labels[i]->value;
      labp[i] = &lab[i];
    }
    put.n_labels = n;
    put.labels = labp;
  }
  put.config = v->config;
  json_t *j = pbjson_encode(&put.base), *doc = json_object();
  free(lab);
  free(labp);
  if (j == NULL || doc == NULL) goto fail;
  static const char *const order[] = {"plane", "note", "labels", "scope", "config"};
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
    json_t *val = json_object_get(j, order[i]);
    if (val == NULL) {
      if (strcmp(order[i], "scope") == 0) continue; /* "all" is the default */
      val = strcmp(order[i], "plane") == 0 || strcmp(order[i], "note") == 0 ? json_string("")
                                                                              : json_object();
    } else {
      json_incref(val);
    }
    if (json_object_set_new(doc, order[i], val) != 0) goto fail;
  }
  json_decref(j);
  return doc;
fail:
  json_decref(j);
  json_decref(doc);
  return NULL;
}

/* Write doc pretty-printed to path ("-": stdout), through a temporary file. */
static int write_document(const char *path, json_t *doc) {
  if (strcmp(path, "-") == 0) {
    if (json_dumpf(doc, stdout, JSON_INDENT(2)) != 0 || putchar('\n') == EOF) return -1;
    return 0;
  }
  size_t n = strlen(path) + 16;
  char *tmp = xcalloc(n, 1);
  snprintf(tmp, n, "%s.tmp%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "w");
  int rc = -1;
  if (f == NULL) {
    fprintf(stderr, PROG ": %s: %s\n", tmp, strerror(errno));
    free(tmp);
    return -1;
  }
  bool ok = json_dumpf(doc, f, JSON_INDENT(2)) == 0 && fputc('\n', f) != EOF;
  if (fclose(f) != 0) ok = false;
  if (!ok) fprintf(stderr, PROG ": cannot write %s: %s\n", tmp, strerror(errno));
  else if (rename(tmp, path) != 0) fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
  else rc = 0;
  if (rc != 0) unlink(tmp);
  free(tmp);
  return rc;
}

static int cmd_show(cli_t *c, int argc, char **argv) {
  static const struct option opts[] = {{"output", required_argument, NULL, 'o'}, COMMON_LONGOPTS};
  const char *output = NULL;
  int ch;
  while ((ch = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
    switch (ch) {
      case 'o': output = optarg; break;
        COMMON_CASES(c, ch);
    }
  }
  if (argc - optind != 1) return usage_error(c, "give one VERSION id");
  Dvsconf__V1__GetVersionRequest req = DVSCONF__V1__GET_VERSION_REQUEST__INIT;
  req.version_id = argv[optind];
  int rc = open_client(c);
  if (rc != 0) return rc;
  Dvsconf__V1__Version *v = NULL;
  dvc_error_t err;
  if (dvc_get_version(c->client, &req, &v, &err) != 0) return dvc_report(PROG, &err);
  if (output != NULL) {
    json_t *doc = version_document(v);
    if (doc == NULL) {
      fprintf(stderr, PROG ": out of memory\n");
      rc = DVC_EXIT_OTHER;
    } else if (write_document(output, doc) != 0) {
      rc = DVC_EXIT_OTHER;
    } else if (strcmp(output, "-") != 0) {
      fprintf(stderr, PROG ": wrote version %s to %s (edit it, then: " PROG
                      " import --from-file %s)\n", v->info ? v->info->id : req.version_id, output,
              output);
    }
    json_decref(doc);
  }
  if (rc == 0 && c->json) rc = print_json(&v->base);
  else if (rc == 0 && output == NULL) print_version(v);
  free_msg(v);
  return rc;
}

/* ---------------------------------------------------------------------------
 * diff
 * ------------------------------------------------------------------------- */

static int cmd_diff(cli_t *c, int argc, char **argv) {
  static const struct option opts[] = {
      {"live", no_argument, NULL, 'L'},        {"plane", required_argument, NULL, 'p'},
      {"switch", required_argument, NULL, 's'}, {"uuid", required_argument, NULL, 'u'},
      {"exit-code", no_argument, NULL, 'e'},   COMMON_LONGOPTS};
  Dvsconf__V1__DiffRequest req = DVSCONF__V1__DIFF_REQUEST__INIT;
  bool live = false, exit_code = false;
  const char *plane = "", *sw = "", *uuid = "";
  int ch;
  while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (ch) {
      case 'L': live = true; break;
      case 'p': plane = optarg; break;
      case 's': sw = optarg; break;
      case 'u': uuid = optarg; break;
      case 'e': exit_code = true; break;
        COMMON_CASES(c, ch);
    }
  }
  int npos = argc - optind;
  if (npos < 1 || npos > 2) return usage_error(c, "give FROM and TO version ids, or FROM --live ...");
  req.from_version_id = argv[optind];
  if (live) {
    if (npos == 2) return usage_error(c, "give either TO or --live, not both");
    if (plane[0] == '\0') return usage_error(c, "--live needs --plane");
    if ((sw[0] != '\0') == (uuid[0] != '\0'))
      return usage_error(c, "--live needs exactly one of --switch NAME and --uuid UUID");
    req.to_plane = (char *)plane;
    req.to_switch_name = (char *)sw;
    req.to_switch_uuid = (char *)uuid;
  } else {
    if (npos != 2) return usage_error(c, "give a TO version, or --live --plane P --switch NAME");
    if (plane[0] || sw[0] || uuid[0]) return usage_error(c, "--plane, --switch, --uuid go with --live");
    req.to_version_id = argv[optind + 1];
  }
  int rc = open_client(c);
  if (rc != 0) return rc;
  Dvsconf__V1__DiffResponse *r = NULL;
  dvc_error_t err;
  if (dvc_diff(c->client, &req, &r, &err) != 0) return dvc_report(PROG, &err);
  if (c->json) {
    rc = print_json(&r->base);
  } else {
    const char *nc = getenv("NO_COLOR");
    bool color = isatty(STDOUT_FILENO) && (nc == NULL || nc[0] == '\0');
    for (size_t i = 0; i < r->n_changes; i++) {
      const Dvsconf__V1__Change *ch_ = r->changes[i];
      const char *on = "", *off = color ? "\033[0m" : "";
      switch (ch_->kind) {
        case DVSCONF__V1__CHANGE_KIND__CHANGE_KIND_REMOVED:
          if (color) on = "\033[31m";
          printf("%s- %s: %s%s\n", on, ch_->path, ch_->old_value, off);
          break;
        case DVSCONF__V1__CHANGE_KIND__CHANGE_KIND_ADDED:
          if (color) on = "\033[32m";
          printf("%s+ %s: %s%s\n", on, ch_->path, ch_->new_value, off);
          break;
        default:
          if (color) on = "\033[33m";
          printf("%s~ %s: %s -> %s%s\n", on, ch_->path, ch_->old_value, ch_->new_value, off);
          break;
      }
    }
  }
  if (rc == 0 && exit_code && r->n_changes > 0) rc = DVC_EXIT_DIFFERENT;
  free_msg(r);
  return rc;
}

/* ---------------------------------------------------------------------------
 * import
 * ------------------------------------------------------------------------- */

static int parse_mode(const char *s, Dvsconf__V1__ImportMode *out) {
  if (strcmp(s, "original") == 0) *out = DVSCONF__V1__IMPORT_MODE__IMPORT_MODE_CREATE_ORIGINAL;
  else if (strcmp(s, "new") == 0) *out = DVSCONF__V1__IMPORT_MODE__IMPORT_MODE_CREATE_NEW;
  else if (strcmp(s, "existing") == 0) *out = DVSCONF__V1__IMPORT_MODE__IMPORT_MODE_APPLY_EXISTING;
  else return -1;
  return 0;
}

/* import --from-file FILE [--note TEXT]: PutVersion with a document written
 * by `show --output`. */
static int import_file(cli_t *c, const char *path, const char *note) {
  json_error_t jerr;
  json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
  if (doc == NULL) {
    fprintf(stderr, PROG ": %s:%d:%d: %s\n", path, jerr.line, jerr.column, jerr.text);
    return DVC_EXIT_USAGE;
  }
  pbjson_error_t perr;
  Dvsconf__V1__PutVersionRequest *req = (Dvsconf__V1__PutVersionRequest *)pbjson_decode(
      &dvsconf__v1__put_version_request__descriptor, doc, &perr);
  json_decref(doc);
  if (req == NULL) {
    fprintf(stderr, PROG ": %s: %s\n", path, perr.text);
    return DVC_EXIT_USAGE;
  }
  if (note != NULL) {
    if (req->note != (char *)protobuf_c_empty_string) free(req->note);
    req->note = xstrdup(note);
  }
  int rc = open_client(c);
  Dvsconf__V1__ExportResponse *r = NULL;
  dvc_error_t err;
  if (rc == 0 && dvc_put_version(c->client, req, &r, &err) != 0) rc = dvc_report(PROG, &err);
  if (rc == 0 && c->json) rc = print_json(&r->base);
  else if (rc == 0) print_stored(r);
  free_msg(r);
  free_msg(req);
  return rc;
}

static int cmd_import(cli_t *c, int argc, char **argv) {
  static const struct option opts[] = {
      {"mode", required_argument, NULL, 'm'},
      {"dry-run", no_argument, NULL, 'd'},
      {"target-plane", required_argument, NULL, 'P'},
      {"target-switch", required_argument, NULL, 'S'},
      {"target-uuid", required_argument, NULL, 'U'},
      {"name", required_argument, NULL, 'N'},
      {"portgroup-prefix", required_argument, NULL, 'x'},
      {"rename", required_argument, NULL, 'r'},
      {"include-hosts", no_argument, NULL, 'H'},
      {"prune", no_argument, NULL, 'R'},
      {"datacenter", required_argument, NULL, 'D'},
      {"from-file", required_argument, NULL, 'f'},
      {"note", required_argument, NULL, 'n'},
      COMMON_LONGOPTS};
  Dvsconf__V1__ImportRequest req = DVSCONF__V1__IMPORT_REQUEST__INIT;
  Dvsconf__V1__ImportRequest__PortgroupRenamesEntry *ren = xcalloc((size_t)argc, sizeof *ren);
  Dvsconf__V1__ImportRequest__PortgroupRenamesEntry **renp = xcalloc((size_t)argc, sizeof *renp);
  Dvsconf__V1__ImportResponse *r = NULL;
  const char *from_file = NULL, *note = NULL;
  bool import_opts = false; /* any option of the VERSION form given */
  int rc = DVC_EXIT_USAGE, ch;
  req.portgroup_renames = renp;
  while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    import_opts |= ch != 'f' && ch != 'n' && ch < DVC_OPT_ADDR;
    switch (ch) {
      case 'm':
        if (parse_mode(optarg, &req.mode) != 0) {
          usage_error(c, "--mode: \"%s\" is not original, new or existing", optarg);
          goto cleanup;
        }
        break;
      case 'd': req.dry_run = 1; break;
      case 'P': req.target_plane = optarg; break;
      case 'S': req.target_switch_name = optarg; break;
      case 'U': req.target_switch_uuid = optarg; break;
      case 'N': req.new_name = optarg; break;
      case 'x': req.portgroup_prefix = optarg; break;
      case 'r': {
        Dvsconf__V1__ImportRequest__PortgroupRenamesEntry init =
            DVSCONF__V1__IMPORT_REQUEST__PORTGROUP_RENAMES_ENTRY__INIT;
        size_t i = req.n_portgroup_renames;
        ren[i] = init;
        if (split_kv(optarg, &ren[i].key, &ren[i].value) != 0 || ren[i].value[0] == '\0') {
          usage_error(c, "--rename: \"%s\" is not OLD=NEW", optarg);
          goto cleanup;
        }
        renp[i] = &ren[i];
        req.n_portgroup_renames++;
        break;
      }
      case 'H': req.include_hosts = 1; break;
      case 'R': req.prune = 1; break;
      case 'D': req.target_datacenter = optarg; break;
      case 'f': from_file = optarg; break;
      case 'n': note = optarg; break;
      default: {
        int x = common_option(c, ch);
        rc = x == 1 ? DVC_EXIT_OK : DVC_EXIT_USAGE;
        if (x != 0) goto cleanup;
      }
    }
  }
  if (from_file != NULL) {
    if (import_opts || optind < argc) {
      usage_error(c, "--from-file takes only --note (no VERSION, --mode or target options)");
      goto cleanup;
    }
    rc = import_file(c, from_file, note);
    goto cleanup;
  }
  if (note != NULL) {
    usage_error(c, "--note goes with --from-file");
    goto cleanup;
  }
  if (argc - optind != 1) {
    usage_error(c, "give one VERSION id (or --from-file FILE)");
    goto cleanup;
  }
  if (req.mode == DVSCONF__V1__IMPORT_MODE__IMPORT_MODE_UNSPECIFIED) {
    usage_error(c, "--mode original|new|existing is required");
    goto cleanup;
  }
  req.version_id = argv[optind];
  if ((rc = open_client(c)) != 0) goto cleanup;
  dvc_error_t err;
  if (dvc_import(c->client, &req, &r, &err) != 0) {
    rc = dvc_report(PROG, &err);
    goto cleanup;
  }
  rc = 0;
  if (c->json) rc = print_json(&r->base);
  else dvc_print_import(stdout, r);
cleanup:
  free_msg(r);
  free(ren);
  free(renp);
  return rc;
}

/* ---------------------------------------------------------------------------
 * switches, planes, health
 * ------------------------------------------------------------------------- */

static int cmd_switches(cli_t *c, int argc, char **argv) {
  static const struct option opts[] = {
      {"plane", required_argument, NULL, 'p'}, {"live", no_argument, NULL, 'L'}, COMMON_LONGOPTS};
  Dvsconf__V1__ListSwitchesRequest req = DVSCONF__V1__LIST_SWITCHES_REQUEST__INIT;
  int ch;
  while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (ch) {
      case 'p': req.plane = optarg; break;
      case 'L': req.live = 1; break;
        COMMON_CASES(c, ch);
    }
  }
  if (optind < argc) return usage_error(c, "unexpected argument \"%s\"", argv[optind]);
  if (req.live && req.plane[0] == '\0') return usage_error(c, "--live needs --plane");
  int rc = open_client(c);
  if (rc != 0) return rc;
  Dvsconf__V1__ListSwitchesResponse *r = NULL;
  dvc_error_t err;
  if (dvc_list_switches(c->client, &req, &r, &err) != 0) return dvc_report(PROG, &err);
  if (c->json) {
    rc = print_json(&r->base);
  } else {
    table_t t = {.ncol = 5};
    table_row(&t, "PLANE", "NAME", "UUID", "PGS", "LATEST");
    for (size_t i = 0; i < r->n_switches; i++) {
      const Dvsconf__V1__SwitchSummary *s = r->switches[i];
      char pg[16], latest[96] = "-";
      snprintf(pg, sizeof pg, "%d", s->portgroup_count);
      if (s->latest_version)
        snprintf(latest, sizeof latest, "%s/%" PRId64, s->latest_version->id,
                 s->latest_version->number);
      table_row(&t, s->plane, s->name, s->uuid, pg, latest);
    }
    table_print(&t);
    table_free(&t);
  }
  free_msg(r);
  return rc;
}

static int cmd_planes(cli_t *c, int argc, char **argv) {
  static const struct option opts[] = {COMMON_LONGOPTS};
  int ch;
  while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (ch) { COMMON_CASES(c, ch); }
  }
  if (optind < argc) return usage_error(c, "unexpected argument \"%s\"", argv[optind]);
  int rc = open_client(c);
  if (rc != 0) return rc;
  Dvsconf__V1__ListPlanesRequest req = DVSCONF__V1__LIST_PLANES_REQUEST__INIT;
  Dvsconf__V1__ListPlanesResponse *r = NULL;
  dvc_error_t err;
  if (dvc_list_planes(c->client, &req, &r, &err) != 0) return dvc_report(PROG, &err);
  if (c->json) {
    rc = print_json(&r->base);
  } else {
    table_t t = {.ncol = 3};
    table_row(&t, "NAME", "KIND", "URL");
    for (size_t i = 0; i < r->n_planes; i++)
      table_row(&t, r->planes[i]->name, r->planes[i]->kind, r->planes[i]->url);
    table_print(&t);
    table_free(&t);
  }
  free_msg(r);
  return rc;
}

static int cmd_health(cli_t *c, int argc, char **argv) {
  static const struct option opts[] = {{"service", required_argument, NULL, 's'}, COMMON_LONGOPTS};
  Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
  int ch;
  while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (ch) {
      case 's': req.service = optarg; break;
        COMMON_CASES(c, ch);
    }
  }
  if (optind < argc) return usage_error(c, "unexpected argument \"%s\"", argv[optind]);
  int rc = open_client(c);
  if (rc != 0) return rc;
  Grpc__Health__V1__HealthCheckResponse *r = NULL;
  dvc_error_t err;
  if (dvc_health(c->client, &req, &r, &err) != 0) return dvc_report(PROG, &err);
  const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
      &grpc__health__v1__health_check_response__serving_status__descriptor, r->status);
  if (c->json) rc = print_json(&r->base);
  else printf("%s\n", ev ? ev->name : "UNKNOWN");
  if (rc == 0 && r->status != GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING) {
    fprintf(stderr, PROG ": the server is not serving (%s)\n", ev ? ev->name : "UNKNOWN");
    rc = DVC_EXIT_UNAVAILABLE;
  }
  free_msg(r);
  return rc;
}

/* ---------------------------------------------------------------------------
 * Commands and main
 * ------------------------------------------------------------------------- */

static const command_t commands[] = {
    {"export", cmd_export, "export: store the live configuration of a switch as a new version",
     "usage: dvsconf export --plane P (--switch NAME | --uuid UUID) [options]\n"
     "  --plane P           plane the switch lives on (see `dvsconf planes`)\n"
     "  --switch NAME       the switch, by name\n"
     "  --uuid UUID         the switch, by UUID\n"
     "  --scope SCOPE       all (default), switch (no port groups) or portgroups\n"
     "  --portgroup NAME    only this port group (repeat for more; default all)\n"
     "  --note TEXT         note stored with the version\n"
     "  --label KEY=VALUE   label stored with the version (repeatable)\n"
     "Prints the version stored, or that the latest version is already identical.\n"},
    {"versions", cmd_versions, "versions: list stored versions, newest first",
     "usage: dvsconf versions [--plane P] [--switch NAME | --uuid UUID] [--limit N] [--all]\n"
     "  --plane P           only versions of this plane\n"
     "  --switch NAME       only versions of this switch (by name)\n"
     "  --uuid UUID         only versions of this switch (by UUID)\n"
     "  --limit N           at most N versions (1-1000; default: the server's, 50);\n"
     "                      with --all, the page size\n"
     "  --all               every version (follows page tokens)\n"
     "Columns: ID, NO (number per switch), PLANE, SWITCH, CREATED (local time),\n"
     "PGS (port groups), CHECKSUM (first 12 hex digits), NOTE.\n"},
    {"show", cmd_show, "show: show one version",
     "usage: dvsconf show VERSION [--output FILE]\n"
     "  --output FILE       write the version as an editable JSON document instead of\n"
     "                      the summary (\"-\": standard output):\n"
     "                        {\"plane\": ..., \"note\": ..., \"labels\": {...},\n"
     "                         \"config\": <SwitchConfig in the proto3 JSON mapping>}\n"
     "                      Edit it and store it with `dvsconf import --from-file FILE`.\n"
     "With --json the whole Version message is printed as JSON.\n"},
    {"diff", cmd_diff, "diff: compare two versions, or a version with a live switch",
     "usage: dvsconf diff FROM TO [--exit-code]\n"
     "       dvsconf diff FROM --live --plane P (--switch NAME | --uuid UUID) [--exit-code]\n"
     "  --live              compare with the switch as it is now on its plane\n"
     "  --plane P, --switch NAME, --uuid UUID   the live switch\n"
     "  --exit-code         exit 1 when there are differences\n"
     "One line per change:  - path: old   |   + path: new   |   ~ path: old -> new\n"
     "(red / green / yellow on a terminal unless NO_COLOR is set).\n"},
    {"import", cmd_import, "import: recreate, clone or roll back a switch from a version, "
                           "or store an edited document",
     "usage: dvsconf import VERSION --mode original|new|existing [options]\n"
     "       dvsconf import --from-file FILE [--note TEXT]\n"
     "  --mode original     recreate the switch as it was (name, port groups, hosts)\n"
     "  --mode new          create a new switch from it (needs --name)\n"
     "  --mode existing     apply it to an existing switch (default: the version's)\n"
     "  --dry-run           print the plan only, change nothing\n"
     "  --target-plane P    plane to act on (default: the version's)\n"
     "  --target-switch NAME, --target-uuid UUID   existing: the switch to change\n"
     "  --name NEW_NAME     new: the new switch's name\n"
     "  --portgroup-prefix PFX   new: prefix for port group names\n"
     "  --rename OLD=NEW    new: rename a port group (repeatable)\n"
     "  --include-hosts     new: add the version's hosts too\n"
     "  --prune             existing: remove port groups the version lacks\n"
     "  --datacenter DC     original/new: datacenter to create in\n"
     "  --from-file FILE    store a document written by `show --output` (after your\n"
     "                      edits) as the next version of its switch (PutVersion)\n"
     "  --note TEXT         with --from-file: the note to store (default: the file's)\n"
     "Prints the plan as numbered steps, whether it was applied, the switch, the\n"
     "safety version (the switch before the change), warnings and the identity map.\n"},
    {"switches", cmd_switches, "switches: list switches",
     "usage: dvsconf switches [--plane P] [--live]\n"
     "  --plane P           only this plane\n"
     "  --live              ask the plane (needs --plane) instead of the store\n"
     "Columns: PLANE, NAME, UUID, PGS, LATEST (stored version id/number).\n"},
    {"planes", cmd_planes, "planes: list the configured planes",
     "usage: dvsconf planes\nColumns: NAME, KIND, URL.\n"},
    {"health", cmd_health, "health: ask the server whether it is serving",
     "usage: dvsconf health [--service NAME]\n"
     "Prints SERVING (exit 0) or the status the server gave (exit 7).\n"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void main_help(FILE *out) {
  fprintf(out, "usage: dvsconf [global options] COMMAND [options]\n\ncommands:\n");
  for (size_t i = 0; i < N_COMMANDS; i++) {
    const char *s = strchr(commands[i].summary, ':');
    fprintf(out, "  %-10s%s\n", commands[i].name, s ? s + 2 : commands[i].summary);
  }
  fprintf(out,
          "\nglobal options (before or after COMMAND):\n" DVC_CONN_HELP
          "  --json             print responses in the proto3 JSON mapping\n"
          "  -h, --help         this text; `dvsconf COMMAND --help` for a command\n"
          "\nErrors from the server print \"dvsconf: STATUS: message\" on stderr.\n\n" DVC_EXIT_HELP);
}

static const command_t *find_command(const char *name) {
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (strcmp(commands[i].name, name) == 0) return &commands[i];
  return NULL;
}

int main(int argc, char **argv) {
  cli_t c = {.json = false};
  dvc_options_from_env(&c.conn);

  static const struct option gopts[] = {DVC_CONN_LONGOPTS,
                                        {"json", no_argument, NULL, OPT_JSON},
                                        {"help", no_argument, NULL, 'h'},
                                        {NULL, 0, NULL, 0}};
  int ch;
  /* "+": stop at the command; what follows is the command's. */
  while ((ch = getopt_long(argc, argv, "+h", gopts, NULL)) != -1) {
    switch (ch) {
      case 'h': main_help(stdout); return DVC_EXIT_OK;
      case OPT_JSON: c.json = true; break;
      case '?': fprintf(stderr, "Try 'dvsconf --help'.\n"); return DVC_EXIT_USAGE;
      default:
        if (dvc_conn_option(&c.conn, ch, optarg, PROG) != 0) return DVC_EXIT_USAGE;
    }
  }
  if (optind >= argc) {
    main_help(stderr);
    return DVC_EXIT_USAGE;
  }
  const char *name = argv[optind];
  if (strcmp(name, "help") == 0) {
    const command_t *h = optind + 1 < argc ? find_command(argv[optind + 1]) : NULL;
    if (h != NULL) print_help(h);
    else main_help(stdout);
    return DVC_EXIT_OK;
  }
  c.cmd = find_command(name);
  if (c.cmd == NULL) {
    fprintf(stderr, PROG ": unknown command \"%s\"\nTry 'dvsconf --help'.\n", name);
    return DVC_EXIT_USAGE;
  }
  /* The command parses its own arguments, argv[0] being its name. */
  int sub_argc = argc - optind;
  char **sub_argv = argv + optind;
  optind = 0; /* GNU getopt: start over on the new vector */
  int rc = c.cmd->run(&c, sub_argc, sub_argv);
  dvc_close(c.client);
  if (fflush(stdout) != 0 && rc == 0) {
    fprintf(stderr, PROG ": cannot write the output: %s\n", strerror(errno));
    rc = DVC_EXIT_OTHER;
  }
  return rc;
}
