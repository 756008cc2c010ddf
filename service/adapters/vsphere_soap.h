/* vsphere_soap: the vSphere Web Services (vim25, SOAP 1.1) transport of the
 * vsphere adapter: sessions over libcurl, requests built as text, responses
 * read with libxml2, vCenter faults mapped to dv_err_t codes. Private to
 * service/adapters/vsphere*.c.
 *
 * Threading: a vs_client_t (one per plane handle) owns a small pool of
 * sessions, each a CURL easy handle with its own cookie engine, service
 * content and login. An operation borrows one session for all its calls
 * (vs_session_get / vs_session_put), so a multi-step apply runs on one
 * keep-alive connection while other RPC threads use the other sessions.
 * Sessions connect and log in lazily on first use; a session whose vCenter
 * session expired logs in again once (NotAuthenticated) and retries the call.
 * When every session is busy a caller waits up to the plane's timeout.
 *
 * Answers are parsed while they arrive (libxml2's push parser fed from
 * curl's write callback). The objects of a property collector result are
 * built one at a time in reused memory and handed to vs_retrieve's callback,
 * so a big result never exists as one tree. The objects of a large answer
 * are read by a scanner of our own where their XML is plain
 * (vsphere_scan.h), libxml2 reading the rest. An answer with a DOCTYPE is
 * refused (SOAP forbids it), so no entity but the predefined ones exists.
 *
 * Memory: request buffers and parsed responses are heap memory freed by the
 * caller (vs_buf_free, xmlFreeDoc); nothing here allocates in an arena except
 * where an arena is passed. */
#ifndef DV_VSPHERE_SOAP_H
#define DV_VSPHERE_SOAP_H

#include <stdbool.h>
#include <stddef.h>

#include <libxml/tree.h>

#include "adapter.h"

#define VS_NS_XSI "http://www.w3.org/2001/XMLSchema-instance"

/* --- request text --------------------------------------------------------- */

/* A growable heap buffer. Appends after an allocation failure are ignored
 * and remembered (oom); a string XML cannot carry (control characters) is
 * remembered too (bad_char). vs_call checks both. */
typedef struct vs_buf {
  char *p;
  size_t len, cap;
  bool oom, bad_char;
} vs_buf_t;

void vs_buf_free(vs_buf_t *b);
void vs_buf_reset(vs_buf_t *b);
void vs_buf_putn(vs_buf_t *b, const char *s, size_t n);
void vs_buf_puts(vs_buf_t *b, const char *s);
void vs_buf_printf(vs_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s with & < > " ' escaped. */
void vs_buf_esc(vs_buf_t *b, const char *s);

/* <name>escaped text</name>, <name>n</name>, <name>true|false</name>. */
void vs_put_str(vs_buf_t *b, const char *name, const char *text);
void vs_put_int(vs_buf_t *b, const char *name, long long n);
void vs_put_bool(vs_buf_t *b, const char *name, bool v);

/* A managed object reference. Strings are borrowed or arena-owned. */
typedef struct vs_moref {
  const char *type;
  const char *value;
} vs_moref_t;

/* <name type="T">V</name> */
void vs_put_moref(vs_buf_t *b, const char *name, vs_moref_t ref);

/* Start a request for method on this (envelope, method element, _this); the
 * caller appends the arguments, then vs_req_end closes it. */
void vs_req_begin(vs_buf_t *b, const char *method, vs_moref_t this);
void vs_req_end(vs_buf_t *b, const char *method);

/* --- reading responses ---------------------------------------------------- */

/* Element children and siblings (text and other nodes skipped). */
xmlNode *vs_first(const xmlNode *n);
xmlNode *vs_next(const xmlNode *n);
/* First element child with that local name, or NULL. */
xmlNode *vs_child(const xmlNode *n, const char *name);
bool vs_is(const xmlNode *n, const char *name);
/* Text of an element with a single text child ("" otherwise, or for NULL);
 * points into the document. */
const char *vs_text(const xmlNode *n);
/* Full text of an element, copied into the arena (NULL when out of memory). */
char *vs_text_dup(dv_arena_t *a, const xmlNode *n);
/* Text of the child element name ("" when absent). */
const char *vs_child_text(const xmlNode *n, const char *name);
/* xsi:type of an element, matched by namespace URI, without any prefix;
 * "" when absent. */
const char *vs_xsi_type(const xmlNode *n);
/* The plain attribute "type" (of a moref element); "" when absent. */
const char *vs_type_attr(const xmlNode *n);
/* Read <x type="T">V</x> into the arena; -1 when out of memory. */
int vs_moref_dup(dv_arena_t *a, const xmlNode *n, vs_moref_t *out);
long long vs_int(const xmlNode *n);
bool vs_bool(const xmlNode *n);

/* --- sessions and calls --------------------------------------------------- */

typedef struct vs_client vs_client_t;
typedef struct vs_session vs_session_t;

/* The service content entries we use (valid in a logged-in session). */
typedef struct vs_content {
  char root_folder[128];
  char property_collector[128];
  char view_manager[128];
  char session_manager[128];
} vs_content_t;

/* Copies conf (its strings outlive the client, but the URL is cleaned of any
 * user:pass@, which, when conf has no username, become the credentials). */
vs_client_t *vs_client_new(const dv_plane_conf_t *conf, dv_err_t *err);
/* Logs out every session and frees. NULL-safe; no call may be in flight. */
void vs_client_free(vs_client_t *c);
const char *vs_client_plane(const vs_client_t *c);

/* Borrow a logged-in session (logs in when needed). NULL with err set when
 * the plane is unreachable, refuses the login, or every session stays busy. */
vs_session_t *vs_session_get(vs_client_t *c, dv_err_t *err);
void vs_session_put(vs_session_t *s); /* NULL-safe */

/* Another idle session of s's plane (one logged in if any), taken without
 * waiting (NULL: none is idle). Call vs_session_ready before using it (a
 * connection and a login, the first time), and vs_session_put it either
 * way. */
vs_session_t *vs_session_other(const vs_session_t *s);
/* Connect and log in a session taken with vs_session_other, if needed. */
int vs_session_ready(vs_session_t *s, dv_err_t *err);

const vs_content_t *vs_session_content(const vs_session_t *s);
const char *vs_session_plane(const vs_session_t *s);
/* The vSphere fault type of the last failed call ("" when it was not a
 * vSphere fault, e.g. a network error). */
const char *vs_session_fault(const vs_session_t *s);

/* POST the request in req (built with vs_req_begin/end) for method; what
 * names the object for messages (e.g. `port group "web"`). On success *doc
 * holds the response (xmlFreeDoc it) and *resp its <methodResponse>
 * element. On failure err says plane, method, object and fault, with the
 * code of the fault mapping (see vs_fault_code). */
int vs_call(vs_session_t *s, const char *method, const char *what, vs_buf_t *req, xmlDoc **doc,
            xmlNode **resp, dv_err_t *err);

/* The same for a *_Task method, then wait for the task. On success, when
 * result_out is not NULL, the task's info.result moref is copied into a. */
int vs_call_task(vs_session_t *s, const char *method, const char *what, vs_buf_t *req,
                 dv_arena_t *a, vs_moref_t *result_out, dv_err_t *err);

/* gRPC code for a vSphere fault type name. */
grpc_status_code vs_fault_code(const char *fault);

/* --- property collector --------------------------------------------------- */

/* Called for each <objects> element of a RetrievePropertiesEx result, while
 * the rest of the answer is still being received and parsed: objects is
 * freed when fn returns (copy what you keep), its siblings and the rest of
 * the document are not there yet, and fn must not make calls on the
 * session. Returning non-zero stops the delivery; err may be set either way
 * (vs_retrieve passes it on). */
typedef int (*vs_object_fn)(void *ctx, const xmlNode *objects, dv_err_t *err);

/* A large answer may be parsed in two parts at once: its first part as
 * usual, the second on a helper thread, with fn called there with a context
 * of the second part's own, made by open(ctx) (NULL: parse in one piece).
 * The second part's objects count only when the answer in two parts is
 * exactly the answer in one piece: then close(ctx, part, true, err) puts
 * them after the first part's (0, or -1 with *err, which fails the call as
 * fn failing would). Otherwise close(ctx, part, false, NULL) drops them and
 * the first part's parser goes on with the second part's bytes. close runs
 * on the caller's thread, after the helper is done. */
typedef struct vs_parts {
  void *(*open)(void *ctx);
  int (*close)(void *ctx, void *part, bool keep, dv_err_t *err);
} vs_parts_t;

/* How many answers' second parts were kept since the process started (for
 * tests: the answer in two parts was the answer in one piece). */
unsigned long vs_parts_kept(void);

/* How many objects the scanner (vsphere_scan.h) read since the process
 * started (for tests: vCenter's answers take the fast way). */
unsigned long vs_objects_scanned(void);

/* For tests: false reads every answer with libxml2 alone, without the
 * scanner (vsphere_scan.h); true (the default) uses it where it can. */
void vs_set_scanning(bool on);

/* RetrievePropertiesEx with the given <specSet> children (propSet and
 * objectSet elements), following ContinueRetrievePropertiesEx tokens;
 * fn sees every object (parts, when not NULL: see vs_parts_t). When fn
 * fails, the rest of the result is cancelled and vs_retrieve fails with
 * fn's error. fn may have seen objects of a page whose answer then turns out
 * broken (truncated, not XML): vs_retrieve fails then too, and the caller
 * must drop what fn collected. */
int vs_retrieve(vs_session_t *s, const char *what, const char *spec, size_t spec_len,
                vs_object_fn fn, const vs_parts_t *parts, void *ctx, dv_err_t *err);

/* Parse a whole answer held in memory the way vs_call parses one received
 * with HTTP status 200, objects going to fn (when not NULL) as vs_retrieve
 * hands them over; split: 0 in one piece, else the first split bytes as
 * they come and the rest in two parts when it is split bytes or more
 * (parts). For the fuzz target and tests (vsphere_parse.h). On success *doc
 * holds what is left of the document (xmlFreeDoc it) and *resp the element
 * in its Body (possibly a Fault). Fails with UNAVAILABLE when the data is
 * not a SOAP envelope, RESOURCE_EXHAUSTED when out of memory, or fn's
 * error. */
int vs_parse_answer(const char *data, size_t len, vs_object_fn fn, const vs_parts_t *parts,
                    size_t split, void *ctx, xmlDoc **doc, xmlNode **resp, dv_err_t *err);

/* CreateContainerView on container for the given types (recursive); the
 * view's moref value goes into the arena. DestroyView is best effort. */
int vs_view_create(vs_session_t *s, vs_moref_t container, const char *const *types, size_t n_types,
                   dv_arena_t *a, vs_moref_t *view, dv_err_t *err);
void vs_view_destroy(vs_session_t *s, vs_moref_t view);

/* The <objectSet> that selects every object of a container view. */
void vs_put_view_object_set(vs_buf_t *b, vs_moref_t view);

/* Iterate the <propSet> of an <objects> element: name and <val>. */
typedef struct vs_prop {
  const char *name;
  const xmlNode *val;
} vs_prop_t;
bool vs_prop_next(const xmlNode *objects, const xmlNode **cursor, vs_prop_t *out);

#endif
