/* dvsconf-revert: put an existing switch back to a stored version (ImportMode
 * APPLY_EXISTING). Port groups the version lacks are kept unless --prune.
 * When applied, the server first stores the switch as it is (the safety
 * version printed), so a revert can itself be reverted.
 *
 *   dvsconf-revert VERSION [--target-switch NAME] [--target-plane P] [--prune] [--apply]
 *
 * Without --apply only the plan is printed (a dry run): nothing changes.
 * Connection: --addr/--ca/--token/--timeout or DVSCONF_ADDR/CA/TOKEN. */
#include <getopt.h>
#include <stdio.h>

#include "dvc_cli.h"
#include "dvsconf_client.h"

#define PROG "dvsconf-revert"
#define USAGE                                                                             \
  "usage: " PROG " VERSION [--target-switch NAME] [--target-plane P] [--prune] [--apply]\n" \
  "Make an existing switch match VERSION again (dry run unless --apply).\n"               \
  "  --target-switch NAME  switch to change (default: the version's switch)\n"            \
  "  --target-plane P      its plane (default: the version's)\n"                          \
  "  --prune               remove port groups that VERSION does not have\n"               \
  "  --apply               make the changes (default: print the plan only)\n" DVC_CONN_HELP

int main(int argc, char **argv) {
  dvc_options_t conn;
  dvc_options_from_env(&conn);
  Dvsconf__V1__ImportRequest req = DVSCONF__V1__IMPORT_REQUEST__INIT;
  req.mode = DVSCONF__V1__IMPORT_MODE__IMPORT_MODE_APPLY_EXISTING;
  req.dry_run = 1;

  static const struct option opts[] = {{"target-switch", required_argument, NULL, 'S'},
                                       {"target-plane", required_argument, NULL, 'P'},
                                       {"prune", no_argument, NULL, 'R'},
                                       {"apply", no_argument, NULL, 'a'},
                                       {"help", no_argument, NULL, 'h'},
                                       DVC_CONN_LONGOPTS,
                                       {NULL, 0, NULL, 0}};
  int ch;
  while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (ch) {
      case 'S': req.target_switch_name = optarg; break;
      case 'P': req.target_plane = optarg; break;
      case 'R': req.prune = 1; break;
      case 'a': req.dry_run = 0; break;
      case 'h': fputs(USAGE, stdout); return DVC_EXIT_OK;
      case '?': fputs(USAGE, stderr); return DVC_EXIT_USAGE;
      default:
        if (dvc_conn_option(&conn, ch, optarg, PROG) != 0) return DVC_EXIT_USAGE;
    }
  }
  if (argc - optind != 1) {
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
    rc = dvc_report(PROG, &err); /* "dvsconf-revert: STATUS: server message" */
  } else {
    dvc_print_import(stdout, resp);
    if (req.dry_run) printf("dry run: nothing was changed; add --apply to make these changes\n");
    protobuf_c_message_free_unpacked(&resp->base, NULL);
  }
  dvc_close(client);
  return rc;
}
