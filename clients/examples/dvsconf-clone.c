/* dvsconf-clone: create a new switch from a stored version (ImportMode
 * CREATE_NEW): a new name, optionally prefixed or renamed port groups, and
 * the version's hosts only when asked. The original switch is not touched.
 *
 *   dvsconf-clone VERSION --name NEW [--portgroup-prefix PFX] [--target-plane P]
 *                 [--include-hosts] [--apply]
 *
 * Without --apply only the plan is printed (a dry run): nothing changes.
 * Connection: --addr/--ca/--token/--timeout or DVSCONF_ADDR/CA/TOKEN. */
#include <getopt.h>
#include <stdio.h>

#include "dvc_cli.h"
#include "dvsconf_client.h"

#define PROG "dvsconf-clone"
#define USAGE                                                                          \
  "usage: " PROG " VERSION --name NEW [--portgroup-prefix PFX] [--target-plane P]\n"   \
  "                     [--include-hosts] [--apply]\n"                                 \
  "Create a new switch NEW from VERSION (dry run unless --apply).\n"                   \
  "  --name NEW              name of the new switch (required)\n"                      \
  "  --portgroup-prefix PFX  prefix every port group name with PFX\n"                  \
  "  --target-plane P        plane to create it on (default: the version's)\n"         \
  "  --include-hosts         add the version's hosts to the new switch\n"              \
  "  --apply                 make the changes (default: print the plan only)\n" DVC_CONN_HELP

int main(int argc, char **argv) {
  dvc_options_t conn;
  dvc_options_from_env(&conn);
  Dvsconf__V1__ImportRequest req = DVSCONF__V1__IMPORT_REQUEST__INIT;
  req.mode = DVSCONF__V1__IMPORT_MODE__IMPORT_MODE_CREATE_NEW;
  req.dry_run = 1;

  static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
                                       {"portgroup-prefix", required_argument, NULL, 'x'},
                                       {"target-plane", required_argument, NULL, 'P'},
                                       {"include-hosts", no_argument, NULL, 'H'},
                                       {"apply", no_argument, NULL, 'a'},
                                       {"help", no_argument, NULL, 'h'},
                                       DVC_CONN_LONGOPTS,
                                       {NULL, 0, NULL, 0}};
  int ch;
  while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (ch) {
      case 'n': req.new_name = optarg; break;
      case 'x': req.portgroup_prefix = optarg; break;
      case 'P': req.target_plane = optarg; break;
      case 'H': req.include_hosts = 1; break;
      case 'a': req.dry_run = 0; break;
      case 'h': fputs(USAGE, stdout); return DVC_EXIT_OK;
      case '?': fputs(USAGE, stderr); return DVC_EXIT_USAGE;
      default:
        if (dvc_conn_option(&conn, ch, optarg, PROG) != 0) return DVC_EXIT_USAGE;
    }
  }
  if (argc - optind != 1 || req.new_name[0] == '\0') {
    fputs(USAGE, stderr);
    return DVC_EXIT_USAGE;
  }
  req.version_id = argv[optind];

  dvc_error_t err;
  dvc_client_t *client = dvc_connect(&conn, &err);
  if (client == NULL) {
    fprintf(stderr, PROG ": %s\n", err.message);
    return DVC_EXIT_USAGE;
  }
  Dvsconf__V1__ImportResponse *resp = NULL;
  int rc = DVC_EXIT_OK;
  if (dvc_import(client, &req, &resp, &err) != 0) {
    rc = dvc_report(PROG, &err); /* "dvsconf-clone: STATUS: server message" */
  } else {
    dvc_print_import(stdout, resp); /* the identity map pairs old and new ids */
    if (req.dry_run) printf("dry run: nothing was changed; add --apply to make these changes\n");
    protobuf_c_message_free_unpacked(&resp->base, NULL);
  }
  dvc_close(client);
  return rc;
}
