#include "dvc_cli.h"

#include <errno.h>
#include <stdlib.h>

#include <grpc/status.h>

int dvc_conn_option(dvc_options_t *o, int ch, const char *arg, const char *prog) {
  switch (ch) {
    case DVC_OPT_ADDR: o->addr = arg; return 0;
    case DVC_OPT_CA: o->ca_file = arg[0] ? arg : NULL; return 0;
    case DVC_OPT_CERT: o->cert_file = arg[0] ? arg : NULL; return 0;
    case DVC_OPT_KEY: o->key_file = arg[0] ? arg : NULL; return 0;
    case DVC_OPT_TOKEN: o->token = arg[0] ? arg : NULL; return 0;
    case DVC_OPT_TIMEOUT: {
      char *end;
      errno = 0;
      double s = strtod(arg, &end);
      if (errno != 0 || end == arg || *end != '\0' || !(s > 0) || s > 86400) {
        fprintf(stderr, "%s: --timeout: \"%s\" is not a number of seconds from 0 to 86400\n",
                prog, arg);
        return -1;
      }
      o->deadline_ms = s * 1000 < 1 ? 1 : (int)(s * 1000);
      return 0;
    }
  }
  fprintf(stderr, "%s: internal error: option %d\n", prog, ch);
  return -1;
}

int dvc_exit_code(const dvc_error_t *err) {
  switch (err->code) {
    case GRPC_STATUS_OK: return DVC_EXIT_OK;
    case GRPC_STATUS_INVALID_ARGUMENT:
    case GRPC_STATUS_FAILED_PRECONDITION:
    case GRPC_STATUS_OUT_OF_RANGE: return DVC_EXIT_REFUSED;
    case GRPC_STATUS_NOT_FOUND: return DVC_EXIT_NOT_FOUND;
    case GRPC_STATUS_ALREADY_EXISTS: return DVC_EXIT_EXISTS;
    case GRPC_STATUS_ABORTED: return DVC_EXIT_ABORTED;
    case GRPC_STATUS_UNAVAILABLE:
    case GRPC_STATUS_DEADLINE_EXCEEDED: return DVC_EXIT_UNAVAILABLE;
    case GRPC_STATUS_UNAUTHENTICATED:
    case GRPC_STATUS_PERMISSION_DENIED: return DVC_EXIT_DENIED;
    case GRPC_STATUS_DATA_LOSS: return DVC_EXIT_DATA_LOSS;
    default: return DVC_EXIT_OTHER;
  }
}

int dvc_report(const char *prog, const dvc_error_t *err) {
  fprintf(stderr, "%s: %s: %s\n", prog, dvc_status_name(err->code), err->message);
  return dvc_exit_code(err);
}

const char *dvc_step_label(int kind) {
  switch (kind) {
    case DVSCONF__V1__PLAN_STEP_KIND__PLAN_STEP_CREATE_SWITCH: return "create switch";
    case DVSCONF__V1__PLAN_STEP_KIND__PLAN_STEP_RECONFIGURE_SWITCH: return "reconfigure switch";
    case DVSCONF__V1__PLAN_STEP_KIND__PLAN_STEP_ADD_HOST: return "add host";
    case DVSCONF__V1__PLAN_STEP_KIND__PLAN_STEP_REMOVE_HOST: return "remove host";
    case DVSCONF__V1__PLAN_STEP_KIND__PLAN_STEP_ADD_PORTGROUP: return "add portgroup";
    case DVSCONF__V1__PLAN_STEP_KIND__PLAN_STEP_RECONFIGURE_PORTGROUP: return "reconfigure portgroup";
    case DVSCONF__V1__PLAN_STEP_KIND__PLAN_STEP_REMOVE_PORTGROUP: return "remove portgroup";
    default: return "step";
  }
}

void dvc_print_import(FILE *out, const Dvsconf__V1__ImportResponse *r) {
  if (r->n_plan == 0) fprintf(out, "plan: nothing to change\n");
  else fprintf(out, "plan (%zu step%s):\n", r->n_plan, r->n_plan == 1 ? "" : "s");
  for (size_t i = 0; i < r->n_plan; i++)
    fprintf(out, "%zu. [%s] %s: %s\n", i + 1, dvc_step_label(r->plan[i]->kind),
            r->plan[i]->object, r->plan[i]->description);
  fprintf(out, "applied: %s\n", r->applied ? "yes" : "no");
  if (r->switch_name[0] || r->switch_uuid[0])
    fprintf(out, "switch: %s%s%s%s\n", r->switch_name, r->switch_uuid[0] ? " (uuid " : "",
            r->switch_uuid, r->switch_uuid[0] ? ")" : "");
  if (r->safety_version_id[0])
    fprintf(out, "safety version: %s (the switch as it was before; revert with it)\n",
            r->safety_version_id);
  if (r->import_id[0]) fprintf(out, "import id: %s\n", r->import_id);
  if (r->n_warnings > 0) {
    fprintf(out, "warnings:\n");
    for (size_t i = 0; i < r->n_warnings; i++) fprintf(out, "  - %s\n", r->warnings[i]);
  }
  if (r->n_identity_map > 0) {
    fprintf(out, "identity map:\n");
    for (size_t i = 0; i < r->n_identity_map; i++) {
      const Dvsconf__V1__IdentityMapping *m = r->identity_map[i];
      fprintf(out, "  %s %s: %s -> %s\n", m->object, m->name, m->original_id[0] ? m->original_id : "-",
              m->new_id[0] ? m->new_id : "-");
    }
  }
}
