#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Status messages go to clients that insist on UTF-8: a name cut by a
 * precision (%.128s) or by the buffer's end must not leave half a
 * character. Invalid bytes become '?'; a sequence cut at the end goes. */
static void utf8_clean(char *s) {
  unsigned char *p = (unsigned char *)s;
  while (*p) {
    size_t n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2
               : (*p & 0xf8) == 0xf0 ? 3 : (size_t)-1;
    if (n == (size_t)-1) {
      *p++ = '?';
      continue;
    }
    size_t k = 1;
    while (k <= n && (p[k] & 0xc0) == 0x80) k++;
    if (k <= n) { /* cut short: at the end, drop it; inside, mark it */
      if (p[k] == '\0') {
        *p = '\0';
        return;
      }
      for (size_t i = 0; i < k; i++) p[i] = '?';
    }
    p += k;
  }
}

int dv_err_set(dv_err_t *err, grpc_status_code code, const char *fmt, ...) {
  if (err == NULL || err->code != GRPC_STATUS_OK) return -1;
  err->code = code == GRPC_STATUS_OK ? GRPC_STATUS_INTERNAL : code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  utf8_clean(err->msg);
  return -1;
}

void dv_err_prefix(dv_err_t *err, const char *fmt, ...) {
  if (err == NULL || err->code == GRPC_STATUS_OK) return;
  char prefix[DV_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  char old[DV_ERR_MSG_MAX];
  memcpy(old, err->msg, sizeof old);
  size_t np = strlen(prefix), no = strlen(old), max = sizeof err->msg - 1;
  if (np > max / 2) np = max / 2;
  char *o = err->msg;
  memcpy(o, prefix, np);
  o += np;
  memcpy(o, ": ", 2);
  o += 2;
  if (np + 2 + no <= max) {
    memcpy(o, old, no);
    o += no;
  } else { /* keep the head and the tail of the old message */
    size_t room = max - np - 2 - 5, head = room / 3, tail = room - head;
    memcpy(o, old, head);
    o += head;
    memcpy(o, " ... ", 5);
    o += 5;
    memcpy(o, old + no - tail, tail);
    o += tail;
  }
  *o = '\0';
  utf8_clean(err->msg);
}

void dv_err_clear(dv_err_t *err) {
  if (err == NULL) return;
  err->code = GRPC_STATUS_OK;
  err->msg[0] = '\0';
}

const char *dv_status_name(grpc_status_code code) {
  switch (code) {
    case GRPC_STATUS_OK: return "OK";
    case GRPC_STATUS_CANCELLED: return "CANCELLED";
    case GRPC_STATUS_UNKNOWN: return "UNKNOWN";
    case GRPC_STATUS_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case GRPC_STATUS_DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case GRPC_STATUS_NOT_FOUND: return "NOT_FOUND";
    case GRPC_STATUS_ALREADY_EXISTS: return "ALREADY_EXISTS";
    case GRPC_STATUS_PERMISSION_DENIED: return "PERMISSION_DENIED";
    case GRPC_STATUS_RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case GRPC_STATUS_FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case GRPC_STATUS_ABORTED: return "ABORTED";
    case GRPC_STATUS_OUT_OF_RANGE: return "OUT_OF_RANGE";
    case GRPC_STATUS_UNIMPLEMENTED: return "UNIMPLEMENTED";
    case GRPC_STATUS_INTERNAL: return "INTERNAL";
    case GRPC_STATUS_UNAVAILABLE: return "UNAVAILABLE";
    case GRPC_STATUS_DATA_LOSS: return "DATA_LOSS";
    case GRPC_STATUS_UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}
