/* dvsconf-recreate: recreate a switch as a stored version describes it, with
 * its original name, port groups and hosts (ImportMode CREATE_ORIGINAL), e.g.
 * after it was deleted by mistake.
 *
 *   dvsconf-recreate VERSION [--target-plane P] [--apply]
 *
 * Without --apply only the plan is printed (a dry run): nothing changes.
 * Connection: --addr/--ca/--token/--timeout or DVSCONF_ADDR/CA/TOKEN. */
#include <getopt.h>
#include <stdio.h>

#include "dvc_cli.h"
#include "dvsconf_client.h"

#define PROG "dvsconf-recreate"
#define USAGE                                                                       \
  "usage: " PROG " VERSION [--target-plane P] [--apply]\n"                          \
  "Recreate the switch of VERSION as it was (dry run unless --apply).\n"            \
  "  --target-plane P   plane to create it on (default: the version's)\n"           \
  "  --apply            make the changes (default: print the plan only)\n" DVC_CONN_HELP

int main(int argc, char **argv) {
  dvc_options_t conn;
  dvc_options_from_env(&conn);
  Dvsconf__V1__ImportRequest req = DVSCONF__V1__IMPORT_REQUEST__INIT;
  req.mode = DVSCONF__V1__IMPORT_MODE__IMPORT_MODE_CREATE_ORIGINAL;
  req.dry_run = 1;

  static const struct option opts[] = {{"target-plane", required_argument, NULL, 'P'},
                                       {"apply", no_argument, NULL, 'a'},
                                       {"help", no_argument, NULL, 'h'},
                                       DVC_CONN_LONGOPTS,
                                       {NULL, 0, NULL, 0}};
  int ch;
  while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (ch) {
      case 'P': req.target_plane = optarg; break;
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
    rc = dvc_report(PROG, &err); /* "dvsconf-recreate: STATUS: server message" */
  } else {
    dvc_print_import(stdout, resp);
    if (req.dry_run) printf("dry run: nothing was changed; add --apply to make these changes\n");
    protobuf_c_message_free_unpacked(&resp->base, NULL);
  }
  dvc_close(client);
  return rc;
}
