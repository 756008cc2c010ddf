/* What the dvsconf CLI and the example programs share: the connection options
 * (--addr, --ca, --cert, --key, --token, --timeout and their environment variables), the
 * exit codes, the error line and the printing of an import plan. */
#ifndef DVC_CLI_H
#define DVC_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "dvsconf_client.h"

/* getopt_long values of the connection options. */
enum { DVC_OPT_ADDR = 0x1000, DVC_OPT_CA, DVC_OPT_CERT, DVC_OPT_KEY, DVC_OPT_TOKEN, DVC_OPT_TIMEOUT };

#define DVC_CONN_LONGOPTS                                   \
  {"addr", required_argument, NULL, DVC_OPT_ADDR},          \
      {"ca", required_argument, NULL, DVC_OPT_CA},          \
      {"cert", required_argument, NULL, DVC_OPT_CERT},      \
      {"key", required_argument, NULL, DVC_OPT_KEY},        \
      {"token", required_argument, NULL, DVC_OPT_TOKEN},    \
      {"timeout", required_argument, NULL, DVC_OPT_TIMEOUT}

#define DVC_CONN_HELP                                                                    \
  "  --addr HOST:PORT   server (env DVSCONF_ADDR, default " DVC_DEFAULT_ADDR ")\n"        \
  "  --ca FILE          PEM CA bundle: use TLS (env DVSCONF_CA; default plaintext)\n"     \
  "  --cert FILE --key FILE  client certificate and key for mutual TLS\n"          \
  "                     (env DVSCONF_CERT, DVSCONF_KEY; need --ca)\n"                 \
  "  --token TOKEN      sent as \"authorization: Bearer TOKEN\" (env DVSCONF_TOKEN)\n"    \
  "  --timeout SECONDS  deadline of each call (default 60)\n"

/* Exit codes. */
enum {
  DVC_EXIT_OK = 0,
  DVC_EXIT_DIFFERENT = 1,   /* diff --exit-code found differences */
  DVC_EXIT_USAGE = 2,       /* bad command line or input file */
  DVC_EXIT_REFUSED = 3,     /* INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE */
  DVC_EXIT_NOT_FOUND = 4,   /* NOT_FOUND */
  DVC_EXIT_EXISTS = 5,      /* ALREADY_EXISTS */
  DVC_EXIT_ABORTED = 6,     /* ABORTED: rolled back, a retry may help */
  DVC_EXIT_UNAVAILABLE = 7, /* UNAVAILABLE, DEADLINE_EXCEEDED */
  DVC_EXIT_DENIED = 8,      /* UNAUTHENTICATED, PERMISSION_DENIED */
  DVC_EXIT_DATA_LOSS = 9,   /* DATA_LOSS */
  DVC_EXIT_OTHER = 10,      /* any other error */
};

#define DVC_EXIT_HELP                                                                \
  "exit status:\n"                                                                   \
  "  0   success\n"                                                                  \
  "  1   differences found (diff --exit-code)\n"                                     \
  "  2   usage error (bad option, argument or input file)\n"                         \
  "  3   request refused: INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE\n"     \
  "  4   NOT_FOUND\n"                                                                \
  "  5   ALREADY_EXISTS\n"                                                           \
  "  6   ABORTED (the change was rolled back; a retry may help)\n"                   \
  "  7   could not reach the server: UNAVAILABLE, DEADLINE_EXCEEDED\n"               \
  "  8   UNAUTHENTICATED, PERMISSION_DENIED\n"                                       \
  "  9   DATA_LOSS (a failed change could not be fully undone: read the message)\n" \
  "  10  any other error\n"

/* Apply one connection option (ch is a DVC_OPT_* value). Returns 0, or -1
 * after printing "prog: ..." to stderr when the value is bad. */
int dvc_conn_option(dvc_options_t *o, int ch, const char *arg, const char *prog);

/* The exit code for a failed call's status (see above). */
int dvc_exit_code(const dvc_error_t *err);

/* "prog: STATUS_NAME: message" on stderr; returns dvc_exit_code(err). */
int dvc_report(const char *prog, const dvc_error_t *err);

/* "add portgroup" for PLAN_STEP_ADD_PORTGROUP, ... */
const char *dvc_step_label(int kind);

/* The plan and outcome of an import, for people:
 *   1. [add portgroup] web-02: add port group ...
 *   applied: no (dry run)
 *   switch: ..., safety version, warnings, identity map */
void dvc_print_import(FILE *out, const Dvsconf__V1__ImportResponse *r);

#endif
