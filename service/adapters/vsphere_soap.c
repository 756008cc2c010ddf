/* vsphere_soap: see vsphere_soap.h. */
#include "vsphere_soap.h"
#include "vsphere_scan.h"
#include "vsphere_tree.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h> /* xmlStringText, xmlStringComment: node names */

#define VS_POOL_SIZE 4                    /* sessions per plane */
#define VS_DEFAULT_TIMEOUT_MS 30000
#define VS_CONNECT_TIMEOUT_MS 10000        /* at most; never above the call timeout */
#define VS_TASK_TIMEOUT_FACTOR 10          /* a task may run 10 call timeouts */
#define VS_MAX_RESPONSE ((size_t)1 << 30)  /* refuse answers above 1 GiB */
#define VS_FAULT_MAX 64                    /* a fault type name, truncated */
/* A property collector answer this large is parsed in two parts at once
 * (rx_split): its first VS_SPLIT_HEAD bytes as they arrive, the rest once
 * received when it is VS_SPLIT_MIN bytes or more. */
#define VS_SPLIT_HEAD ((size_t)64 * 1024)
#define VS_SPLIT_MIN ((size_t)512 * 1024)
#define VS_SPLIT_KEEP ((size_t)16 << 20) /* a larger buffer is not kept for the next call */
/* vim25 version we speak; every type we send exists since vSphere 5.x. */
#define VS_SOAP_ACTION "SOAPAction: \"urn:vim25/6.5\""

#define NS_SOAPENV "http://schemas.xmlsoap.org/soap/envelope/"

/* --- request text --------------------------------------------------------- */

static bool buf_reserve(vs_buf_t *b, size_t extra) {
  if (b->oom) return false;
  if (b->len + extra + 1 <= b->cap) return true;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + extra + 1) {
    if (cap > SIZE_MAX / 2) {
      b->oom = true;
      return false;
    }
    cap *= 2;
  }
  char *p = realloc(b->p, cap);
  if (p == NULL) {
    b->oom = true;
    return false;
  }
  b->p = p;
  b->cap = cap;
  return true;
}

void vs_buf_free(vs_buf_t *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

void vs_buf_reset(vs_buf_t *b) {
  b->len = 0;
  b->oom = b->bad_char = false;
  if (b->p != NULL) b->p[0] = '\0';
}

void vs_buf_putn(vs_buf_t *b, const char *s, size_t n) {
  if (!buf_reserve(b, n)) return;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void vs_buf_puts(vs_buf_t *b, const char *s) {
  vs_buf_putn(b, s, strlen(s));
}

void vs_buf_printf(vs_buf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char small[256];
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->oom = true;
    return;
  }
  if ((size_t)n < sizeof small) {
    vs_buf_putn(b, small, (size_t)n);
    return;
  }
  if (!buf_reserve(b, (size_t)n)) return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void vs_buf_esc(vs_buf_t *b, const char *s) {
  if (s == NULL) return;
  const char *run = s;
  for (const char *q = s; *q != '\0'; q++) {
    const char *rep = NULL;
    unsigned char ch = (unsigned char)*q;
    switch (ch) {
      case '&': rep = "&amp;"; break;
      case '<': rep = "&lt;"; break;
      case '>': rep = "&gt;"; break;
      case '"': rep = "&quot;"; break;
      case '\'': rep = "&apos;"; break;
      case '\t': case '\n': case '\r': break;
      default:
        if (ch < 0x20) b->bad_char = true; /* not allowed in XML 1.0 */
        break;
    }
    if (rep != NULL) {
      vs_buf_putn(b, run, (size_t)(q - run));
      vs_buf_puts(b, rep);
      run = q + 1;
    }
  }
  vs_buf_puts(b, run);
}

void vs_put_str(vs_buf_t *b, const char *name, const char *text) {
  vs_buf_printf(b, "<%s>", name);
  vs_buf_esc(b, text);
  vs_buf_printf(b, "</%s>", name);
}

void vs_put_int(vs_buf_t *b, const char *name, long long n) {
  vs_buf_printf(b, "<%s>%lld</%s>", name, n, name);
}

void vs_put_bool(vs_buf_t *b, const char *name, bool v) {
  vs_buf_printf(b, "<%s>%s</%s>", name, v ? "true" : "false", name);
}

void vs_put_moref(vs_buf_t *b, const char *name, vs_moref_t ref) {
  vs_buf_printf(b, "<%s type=\"", name);
  vs_buf_esc(b, ref.type);
  vs_buf_puts(b, "\">");
  vs_buf_esc(b, ref.value);
  vs_buf_printf(b, "</%s>", name);
}

void vs_req_begin(vs_buf_t *b, const char *method, vs_moref_t this) {
  vs_buf_reset(b);
  vs_buf_printf(b,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                "<soapenv:Envelope xmlns:soapenv=\"" NS_SOAPENV "\""
                " xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"" VS_NS_XSI "\">"
                "<soapenv:Body><%s xmlns=\"urn:vim25\">",
                method);
  vs_put_moref(b, "_this", this);
}

void vs_req_end(vs_buf_t *b, const char *method) {
  vs_buf_printf(b, "</%s></soapenv:Body></soapenv:Envelope>", method);
}

/* --- reading responses ---------------------------------------------------- */

xmlNode *vs_first(const xmlNode *n) {
  if (n == NULL) return NULL;
  for (xmlNode *c = n->children; c != NULL; c = c->next)
    if (c->type == XML_ELEMENT_NODE) return c;
  return NULL;
}

xmlNode *vs_next(const xmlNode *n) {
  for (xmlNode *c = n->next; c != NULL; c = c->next)
    if (c->type == XML_ELEMENT_NODE) return c;
  return NULL;
}

bool vs_is(const xmlNode *n, const char *name) {
  return n != NULL && strcmp((const char *)n->name, name) == 0;
}

xmlNode *vs_child(const xmlNode *n, const char *name) {
  for (xmlNode *c = vs_first(n); c != NULL; c = vs_next(c))
    if (vs_is(c, name)) return c;
  return NULL;
}

const char *vs_text(const xmlNode *n) {
  if (n == NULL || n->children == NULL) return "";
  const xmlNode *t = n->children;
  if ((t->type == XML_TEXT_NODE || t->type == XML_CDATA_SECTION_NODE) && t->next == NULL &&
      t->content != NULL)
    return (const char *)t->content;
  return "";
}

char *vs_text_dup(dv_arena_t *a, const xmlNode *n) {
  if (n == NULL || n->children == NULL) return dv_arena_strdup(a, "");
  if (n->children->next == NULL) return dv_arena_strdup(a, vs_text(n));
  xmlChar *all = xmlNodeGetContent(n); /* mixed or split text: rare */
  if (all == NULL) return NULL;
  char *s = dv_arena_strdup(a, (const char *)all);
  xmlFree(all);
  return s;
}

const char *vs_child_text(const xmlNode *n, const char *name) {
  return vs_text(vs_child(n, name));
}

const char *vs_xsi_type(const xmlNode *n) {
  if (n == NULL) return "";
  for (const xmlAttr *at = n->properties; at != NULL; at = at->next) {
    if (at->ns == NULL || at->ns->href == NULL) continue;
    if (strcmp((const char *)at->name, "type") != 0) continue;
    if (strcmp((const char *)at->ns->href, VS_NS_XSI) != 0) continue;
    const char *v = (at->children != NULL && at->children->content != NULL)
                        ? (const char *)at->children->content
                        : "";
    const char *colon = strchr(v, ':');
    return colon != NULL ? colon + 1 : v;
  }
  return "";
}

const char *vs_type_attr(const xmlNode *n) {
  if (n == NULL) return "";
  for (const xmlAttr *at = n->properties; at != NULL; at = at->next) {
    if (at->ns != NULL || strcmp((const char *)at->name, "type") != 0) continue;
    return (at->children != NULL && at->children->content != NULL)
               ? (const char *)at->children->content
               : "";
  }
  return "";
}

int vs_moref_dup(dv_arena_t *a, const xmlNode *n, vs_moref_t *out) {
  out->type = dv_arena_strdup(a, vs_type_attr(n));
  out->value = dv_arena_strdup(a, vs_text(n));
  return out->type != NULL && out->value != NULL ? 0 : -1;
}

long long vs_int(const xmlNode *n) {
  return strtoll(vs_text(n), NULL, 10);
}

bool vs_bool(const xmlNode *n) {
  const char *t = vs_text(n);
  return strcmp(t, "true") == 0 || strcmp(t, "1") == 0;
}

bool vs_prop_next(const xmlNode *objects, const xmlNode **cursor, vs_prop_t *out) {
  const xmlNode *c = *cursor == NULL ? vs_first(objects) : vs_next(*cursor);
  for (; c != NULL; c = vs_next(c)) {
    if (!vs_is(c, "propSet")) continue;
    *cursor = c;
    out->name = vs_child_text(c, "name");
    out->val = vs_child(c, "val");
    return true;
  }
  *cursor = NULL;
  return false;
}

/* --- faults --------------------------------------------------------------- */

grpc_status_code vs_fault_code(const char *f) {
  static const struct {
    const char *fault;
    grpc_status_code code;
  } map[] = {
      {"InvalidLogin", GRPC_STATUS_FAILED_PRECONDITION},
      {"NotAuthenticated", GRPC_STATUS_FAILED_PRECONDITION},
      {"NoPermission", GRPC_STATUS_PERMISSION_DENIED},
      {"DuplicateName", GRPC_STATUS_ALREADY_EXISTS},
      {"AlreadyExists", GRPC_STATUS_ALREADY_EXISTS},
      {"InvalidArgument", GRPC_STATUS_INVALID_ARGUMENT},
      {"InvalidName", GRPC_STATUS_INVALID_ARGUMENT},
      {"InvalidType", GRPC_STATUS_INVALID_ARGUMENT},
      {"InvalidProperty", GRPC_STATUS_INVALID_ARGUMENT},
      {"InvalidRequest", GRPC_STATUS_INVALID_ARGUMENT},
      {"DvsFault", GRPC_STATUS_FAILED_PRECONDITION},
      {"ResourceInUse", GRPC_STATUS_FAILED_PRECONDITION},
      {"InvalidState", GRPC_STATUS_FAILED_PRECONDITION},
      {"HostNotConnected", GRPC_STATUS_FAILED_PRECONDITION},
      {"ManagedObjectNotFound", GRPC_STATUS_NOT_FOUND},
      {"NotFound", GRPC_STATUS_NOT_FOUND},
      {"ConcurrentAccess", GRPC_STATUS_ABORTED},
      {"TaskInProgress", GRPC_STATUS_ABORTED},
      {"NotSupported", GRPC_STATUS_UNIMPLEMENTED},
      {"MethodNotFound", GRPC_STATUS_UNIMPLEMENTED},
      {"RequestCanceled", GRPC_STATUS_CANCELLED},
      {"HostCommunication", GRPC_STATUS_UNAVAILABLE},
  };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strcmp(f, map[i].fault) == 0) return map[i].code;
  return GRPC_STATUS_UNKNOWN;
}

/* --- receiving answers ---------------------------------------------------- */

/* Where the <objects> of a property collector result go while the answer is
 * parsed (vs_retrieve's fn). */
typedef struct objects_sink {
  vs_object_fn fn;
  void *ctx;
  const vs_parts_t *parts; /* NULL: always in one piece */
  bool failed;  /* fn returned non-zero: later objects are parsed and dropped */
  dv_err_t err; /* what fn reported (it may report without failing: on_task) */
} objects_sink_t;

/* An answer being received, parsed as its bytes arrive: libxml2's push
 * parser, fed from curl's write callback, so that parsing overlaps the
 * plane's sending. A property collector answer whose caller allows it
 * (vs_parts_t) is also kept whole; past its first VS_SPLIT_HEAD bytes it is
 * parsed once received, its objects by the scanner where it can
 * (vsphere_scan.h), in two parts at once when large (rx_split): vCenter
 * and vcsim write the whole answer at once, after making it, so only a
 * second core can take a share of the ~10 ms a 2,000-port-group page takes.
 *
 * The envelope, token and faults become a normal libxml2 tree. Each <objects>
 * of a property collector result (a port group: ~1.7 KB of XML, ~100 nodes)
 * is built instead by the SAX handlers below into reused block memory,
 * handed to the sink when its end tag is parsed, and forgotten: a
 * 2,000-port-group answer never exists as one tree, and the per-node
 * malloc/free of libxml2's tree builder (and glibc's consolidation of ~10^5
 * freed chunks) is gone. Parsing the captured 3.5 MB page of 2,000 port
 * groups alone, one core: libxml2's tree for the whole page, then
 * xmlFreeDoc, ~26 ms; libxml2's tree freed object by object ~14 ms; this
 * ~9 ms; libxml2's tokenizer with no-op handlers ~7.5 ms.
 *
 * The object trees (vsphere_tree.h) are built like libxml2's builder
 * builds them: adjacent text (split by a chunk boundary or an entity) is
 * one node, comments and processing instructions are nodes. Namespace
 * declarations (nsDef) are not kept: nothing reads them. */
typedef struct vs_rx {
  xmlParserCtxtPtr ctxt; /* NULL: not parsing (no call in flight) */
  CURL *curl;            /* to read the HTTP status when the body starts; NULL: not HTTP */
  objects_sink_t *sink;  /* NULL: objects stay in the document tree */
  int deliver;           /* objects go to the sink: -1 not known yet, 0 no, 1 yes */
  bool oom;              /* out of memory in our handlers (parser stopped) */
  bool refused;          /* a DOCTYPE (parser stopped): not a SOAP answer */
  size_t bytes;          /* received so far */
  /* the object being built */
  xmlNode *obj;          /* its <objects> element; NULL when not in one */
  xmlNode *above;        /* ctxt->node when it started (its <returnval>) */
  xmlNs *ns_element, *ns_attribute; /* the last namespaces made (ot_ns) */
  xmlNode *text;         /* the last text node made, and its buffer */
  size_t text_len, text_cap;
  vs_mem_t mem;          /* its memory (vsphere_tree.h) */
  /* An answer parsed in two parts (rx_split): its bytes are kept in buf
   * (which stays with the session, like mem), the first split_head of
   * them parsed as they come (fed), the rest once all have arrived. */
  size_t split_head, split_min; /* 0: in one piece */
  char *buf;
  size_t buf_len, buf_cap, fed;
  bool buffering; /* the bytes beyond split_head: kept, not parsed yet */
  /* the second part's parser: its objects must follow each other at the
   * top of the result (part_seen: one has) */
  bool part, part_seen;
} vs_rx_t;

/* Forget the object being built: its memory serves the next one. */
static void ot_reset(vs_rx_t *rx) {
  vs_mem_reset(&rx->mem);
  rx->obj = rx->above = rx->text = NULL;
  rx->ns_element = rx->ns_attribute = NULL;
  rx->text_len = rx->text_cap = 0;
}

/* A node of type t, last child of the element being built. */
static xmlNode *ot_node(vs_rx_t *rx, xmlParserCtxtPtr ctxt, xmlElementType t, const xmlChar *name) {
  return vs_tree_node(&rx->mem, ctxt->myDoc, rx->obj != NULL ? ctxt->node : NULL, t, name);
}

/* The namespace of an element or attribute of the object. Names come from
 * the parser's dictionary, one pointer per distinct string, so the last one
 * made is shared while they repeat (nothing frees or changes these). */
static xmlNs *ot_ns(vs_rx_t *rx, xmlNs **last, const xmlChar *uri, const xmlChar *prefix) {
  if (*last != NULL && (*last)->href == uri && (*last)->prefix == prefix) return *last;
  /* uri and prefix: the parser's dictionary, which lives as long as the document */
  xmlNs *ns = vs_tree_ns(&rx->mem, uri, prefix);
  return ns != NULL ? (*last = ns) : NULL;
}

/* Out of memory in a handler: stop the parser; rx_end reports it. */
static void rx_fail(vs_rx_t *rx, xmlParserCtxtPtr ctxt, bool oom) {
  if (oom) rx->oom = true;
  else rx->refused = true;
  xmlStopParser(ctxt);
}

/* parent (ctxt->node when an <objects> starts) is the <returnval> of a
 * result: Envelope / first Body / its first element, not a Fault / its first
 * returnval. Exactly the elements vs_retrieve used to walk in the whole
 * tree, checked with the same name-only matching (vs_is). */
static bool is_result_parent(const xmlNode *ret) {
  const xmlNode *resp = ret != NULL ? ret->parent : NULL;
  const xmlNode *body = resp != NULL ? resp->parent : NULL;
  const xmlNode *env = body != NULL ? body->parent : NULL;
  if (env == NULL || env->type != XML_ELEMENT_NODE || body->type != XML_ELEMENT_NODE ||
      resp->type != XML_ELEMENT_NODE || ret->type != XML_ELEMENT_NODE)
    return false;
  return env->parent != NULL && env->parent->type == XML_DOCUMENT_NODE && vs_is(env, "Envelope") &&
         vs_child(env, "Body") == body && vs_first(body) == resp && !vs_is(resp, "Fault") &&
         vs_child(resp, "returnval") == ret;
}

/* Inside an object, ctxt->node is the element being built (never pushed on
 * the parser's node stack): libxml2 decides whether blank text is
 * ignorable (XML_PARSE_NOBLANKS) from ctxt->node's children, so blanks are
 * kept or dropped exactly as in its own tree. */
static void rx_start_element(void *user, const xmlChar *localname, const xmlChar *prefix,
                             const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
                             int nb_attributes, int nb_defaulted, const xmlChar **attributes) {
  xmlParserCtxtPtr ctxt = user;
  vs_rx_t *rx = ctxt->_private;
  if (rx->obj == NULL) {
    bool top = rx->deliver == 1 && is_result_parent(ctxt->node);
    if (!top || strcmp((const char *)localname, "objects") != 0) {
      /* in a second part, only objects may follow objects (rx_split) */
      if (top && rx->part && rx->part_seen) {
        rx_fail(rx, ctxt, false);
        return;
      }
      xmlSAX2StartElementNs(user, localname, prefix, uri, nb_namespaces, namespaces, nb_attributes,
                            nb_defaulted, attributes);
      return;
    }
    rx->above = ctxt->node;
    rx->part_seen = true;
  }
  xmlNode *n = ot_node(rx, ctxt, XML_ELEMENT_NODE, localname);
  if (n == NULL || (uri != NULL && (n->ns = ot_ns(rx, &rx->ns_element, uri, prefix)) == NULL)) {
    rx_fail(rx, ctxt, true);
    return;
  }
  if (rx->obj == NULL) {
    rx->obj = n;
    n->parent = rx->above; /* as in the document, but not among its children */
  }
  /* attributes: localname, prefix, URI, value, end of value (decoded: the
   * parser replaces entities, XML_PARSE_NOENT, and there is no DTD) */
  xmlAttr *last = NULL;
  for (int i = 0; i < nb_attributes; i++) {
    const xmlChar **at = attributes + 5 * i;
    xmlNs *ns = NULL;
    if ((at[2] != NULL && (ns = ot_ns(rx, &rx->ns_attribute, at[2], at[1])) == NULL) ||
        (last = vs_tree_attr(&rx->mem, n, last, at[0], ns, (const char *)at[3],
                             (size_t)(at[4] - at[3]))) == NULL) {
      rx_fail(rx, ctxt, true);
      return;
    }
  }
  ctxt->node = n;
  rx->text = NULL;
}

static void rx_end_element(void *user, const xmlChar *localname, const xmlChar *prefix,
                           const xmlChar *uri) {
  xmlParserCtxtPtr ctxt = user;
  vs_rx_t *rx = ctxt->_private;
  if (rx->obj == NULL) {
    xmlSAX2EndElementNs(user, localname, prefix, uri);
    return;
  }
  xmlNode *n = ctxt->node;
  rx->text = NULL;
  if (n != rx->obj) {
    ctxt->node = n->parent;
    return;
  }
  ctxt->node = rx->above; /* libxml2's tree continues where it was */
  objects_sink_t *k = rx->sink;
  if (!k->failed && k->fn(k->ctx, n, &k->err) != 0) k->failed = true;
  ot_reset(rx);
}

/* Text (t: XML_TEXT_NODE or XML_CDATA_SECTION_NODE): appended to the last
 * child when that is text of the same kind, as libxml2 does. */
static void ot_text(vs_rx_t *rx, xmlParserCtxtPtr ctxt, xmlElementType t, const xmlChar *s, int len) {
  xmlNode *cur = ctxt->node;
  size_t n = (size_t)len;
  if (rx->text == NULL || cur->last != rx->text || rx->text->type != t) {
    /* names as libxml2 gives them: text nodes xmlStringText, CDATA none */
    xmlNode *node = ot_node(rx, ctxt, t, t == XML_TEXT_NODE ? xmlStringText : NULL);
    size_t cap = n + 1 > 32 ? n + 1 : 32;
    char *buf = node != NULL ? vs_mem_alloc(&rx->mem, cap) : NULL;
    if (buf == NULL) {
      rx_fail(rx, ctxt, true);
      return;
    }
    buf[0] = '\0';
    node->content = (xmlChar *)buf;
    rx->text = node;
    rx->text_len = 0;
    rx->text_cap = cap;
  }
  if (rx->text_len + n + 1 > rx->text_cap) {
    size_t cap = 2 * (rx->text_len + n + 1);
    char *buf = vs_mem_alloc(&rx->mem, cap);
    if (buf == NULL) {
      rx_fail(rx, ctxt, true);
      return;
    }
    memcpy(buf, rx->text->content, rx->text_len);
    rx->text->content = (xmlChar *)buf;
    rx->text_cap = cap;
  }
  memcpy(rx->text->content + rx->text_len, s, n);
  rx->text_len += n;
  rx->text->content[rx->text_len] = '\0';
}

static void rx_characters(void *user, const xmlChar *s, int len) {
  xmlParserCtxtPtr ctxt = user;
  vs_rx_t *rx = ctxt->_private;
  if (rx->obj == NULL) xmlSAX2Characters(user, s, len);
  else ot_text(rx, ctxt, XML_TEXT_NODE, s, len);
}

static void rx_cdata(void *user, const xmlChar *s, int len) {
  xmlParserCtxtPtr ctxt = user;
  vs_rx_t *rx = ctxt->_private;
  if (rx->obj == NULL) xmlSAX2CDataBlock(user, s, len);
  else ot_text(rx, ctxt, XML_CDATA_SECTION_NODE, s, len);
}

static void rx_comment(void *user, const xmlChar *value) {
  xmlParserCtxtPtr ctxt = user;
  vs_rx_t *rx = ctxt->_private;
  if (rx->obj == NULL) {
    xmlSAX2Comment(user, value);
    return;
  }
  xmlNode *n = ot_node(rx, ctxt, XML_COMMENT_NODE, xmlStringComment);
  if (n == NULL || (n->content = (xmlChar *)vs_mem_strndup(&rx->mem, (const char *)value,
                                                             strlen((const char *)value))) == NULL)
    rx_fail(rx, ctxt, true);
}

static void rx_pi(void *user, const xmlChar *target, const xmlChar *data) {
  xmlParserCtxtPtr ctxt = user;
  vs_rx_t *rx = ctxt->_private;
  if (rx->obj == NULL) {
    xmlSAX2ProcessingInstruction(user, target, data);
    return;
  }
  xmlNode *n = ot_node(rx, ctxt, XML_PI_NODE, target);
  if (n == NULL || (data != NULL && (n->content = (xmlChar *)vs_mem_strndup(
                                         &rx->mem, (const char *)data,
                                         strlen((const char *)data))) == NULL))
    rx_fail(rx, ctxt, true);
}

/* A SOAP message must not contain a document type declaration (SOAP 1.1,
 * section 3), and without one no entity but the predefined ones exists:
 * refusing it keeps entity expansion out of answers (XML_PARSE_NOENT only
 * decodes &amp; and the like) and keeps libxml2 from adding entity copies to
 * ctxt->node, which may be an object's node here. */
static void rx_doctype(void *user, const xmlChar *name, const xmlChar *external_id,
                       const xmlChar *system_id) {
  (void)name;
  (void)external_id;
  (void)system_id;
  xmlParserCtxtPtr ctxt = user;
  rx_fail(ctxt->_private, ctxt, false);
}

/* Only user-defined entities come here (predefined ones arrive as
 * characters); without a DTD there are none, but refuse rather than trust. */
static void rx_reference(void *user, const xmlChar *name) {
  (void)name;
  xmlParserCtxtPtr ctxt = user;
  rx_fail(ctxt->_private, ctxt, false);
}

/* How answers are parsed: no network access, predefined entities and
 * character references decoded by the parser, blank text dropped, short
 * text kept inside its node, libxml2's own messages silenced (we report). */
#define VS_XML_OPTIONS                                                                 \
  (XML_PARSE_NONET | XML_PARSE_NOENT | XML_PARSE_NOBLANKS | XML_PARSE_COMPACT |        \
   XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

static void say_nothing(void *ctx, const char *msg, ...) {
  (void)ctx;
  (void)msg;
}

/* libxml2's own messages about an answer (as "input conversion failed"),
 * which XML_PARSE_NOERROR does not reach, go to its generic handler, one
 * per thread: never to dvsconfd's log. Our errors say what went wrong. */
static void quiet_libxml2(void) { xmlSetGenericErrorFunc(NULL, say_nothing); }

/* Start parsing an answer; sink may be NULL. */
static int rx_begin(vs_rx_t *rx, CURL *curl, objects_sink_t *sink, dv_err_t *err) {
  quiet_libxml2();
  xmlSAXHandler sax;
  memset(&sax, 0, sizeof sax);
  vs_mem_t mem = rx->mem; /* kept from the session's last call */
  char *buf = rx->buf;
  size_t buf_cap = rx->buf_cap;
  memset(rx, 0, sizeof *rx);
  rx->mem = mem;
  rx->buf = buf;
  rx->buf_cap = buf_cap;
  if (sink != NULL && sink->parts != NULL) {
    rx->split_head = VS_SPLIT_HEAD;
    rx->split_min = VS_SPLIT_MIN;
  }
  if (xmlSAXVersion(&sax, 2) != 0)
    return dv_err_set(err, GRPC_STATUS_INTERNAL, "libxml2: no SAX2 handler (xmlSAXVersion)");
  sax.startElementNs = rx_start_element;
  sax.endElementNs = rx_end_element;
  sax.characters = rx_characters;
  sax.cdataBlock = rx_cdata;
  sax.comment = rx_comment;
  sax.processingInstruction = rx_pi;
  sax.internalSubset = rx_doctype;
  sax.reference = rx_reference;
  rx->curl = curl;
  rx->sink = sink;
  rx->deliver = sink == NULL ? 0 : curl == NULL ? 1 : -1;
  rx->ctxt = xmlCreatePushParserCtxt(&sax, NULL, NULL, 0, "vim25.xml");
  if (rx->ctxt == NULL) return DV_NOMEM(err);
  rx->ctxt->_private = rx;
  int unknown = xmlCtxtUseOptions(rx->ctxt, VS_XML_OPTIONS);
  if (unknown != 0) {
    xmlFreeParserCtxt(rx->ctxt);
    rx->ctxt = NULL;
    return dv_err_set(err, GRPC_STATUS_INTERNAL, "libxml2: parser options 0x%x not supported",
                      (unsigned)unknown);
  }
  return 0;
}

/* Stop parsing, drop the document; the first block stays for the next call
 * unless all is true. */
static void rx_free(vs_rx_t *rx, bool all) {
  if (rx->ctxt != NULL) {
    xmlFreeDoc(rx->ctxt->myDoc);
    rx->ctxt->myDoc = NULL;
    xmlFreeParserCtxt(rx->ctxt);
    rx->ctxt = NULL;
  }
  ot_reset(rx);
  if (all) vs_mem_free(&rx->mem);
  if (all || rx->buf_cap > VS_SPLIT_KEEP) {
    free(rx->buf);
    rx->buf = NULL;
    rx->buf_cap = 0;
  }
  rx->buf_len = rx->fed = 0;
  rx->buffering = false;
}

/* The parser goes on: no fatal error, no stop by us, and not halted by
 * libxml2 itself (an input it cannot convert halts it without a fatal
 * error: the answer would end there, short but "well-formed"). */
static bool rx_going(const vs_rx_t *rx) {
  return rx->ctxt != NULL && rx->ctxt->wellFormed && !rx->ctxt->disableSAX && !rx->oom &&
         !rx->refused;
}

static void rx_feed(vs_rx_t *rx, const char *data, size_t n) {
  /* After a fatal error or a stop the answer is refused anyway: drop the rest. */
  /* In slices of a network read's size: libxml2 copies what it is given
   * into its input buffer, which then stays small and warm. */
  enum { SLICE = 64 * 1024 };
  while (n > 0 && rx_going(rx)) {
    int part = n > SLICE ? SLICE : (int)n;
    (void)xmlParseChunk(rx->ctxt, data, part, 0); /* the outcome is read in rx_end */
    data += part;
    n -= (size_t)part;
  }
}

/* Finish parsing: the document when the answer was well-formed XML, else
 * NULL with *oom telling whether we or libxml2 ran out of memory. */
static xmlDoc *rx_end(vs_rx_t *rx, bool *oom) {
  if (rx_going(rx)) (void)xmlParseChunk(rx->ctxt, NULL, 0, 1);
  xmlDoc *doc = rx->ctxt->myDoc;
  rx->ctxt->myDoc = NULL;
  *oom = rx->oom || rx->ctxt->errNo == XML_ERR_NO_MEMORY;
  if (!rx_going(rx) || doc == NULL) { /* the last bytes may halt it too */
    xmlFreeDoc(doc);
    doc = NULL;
  }
  rx_free(rx, false);
  return doc;
}

/* --- answers in two parts ------------------------------------------------- */

/* Take bytes of the answer as they arrive. An answer that may be split is
 * kept whole in rx->buf, and its first split_head bytes are parsed at once
 * (a non-SOAP answer is still refused early); rx_drain parses the rest. */
static void rx_take(vs_rx_t *rx, const char *data, size_t n) {
  if (rx->deliver == -1) {
    /* Objects go to the sink only from a 200 answer (a 500 carries a fault;
     * anything else is refused unread). curl knows the status by now. */
    long status = 0;
    if (curl_easy_getinfo(rx->curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) status = 0;
    rx->deliver = status == 200;
  }
  if (rx->split_head == 0 || rx->deliver != 1) {
    rx_feed(rx, data, n);
    return;
  }
  if (rx->buf_len + n > rx->buf_cap) {
    size_t cap = rx->buf_cap ? rx->buf_cap : 64 * 1024;
    while (cap < rx->buf_len + n && cap <= SIZE_MAX / 2) cap *= 2;
    char *b = cap >= rx->buf_len + n ? realloc(rx->buf, cap) : NULL;
    if (b == NULL) { /* no memory to keep it: parse it in one piece */
      if (rx->buffering) rx_feed(rx, rx->buf + rx->fed, rx->buf_len - rx->fed);
      rx->split_head = 0;
      rx->buffering = false;
      rx_feed(rx, data, n);
      return;
    }
    rx->buf = b;
    rx->buf_cap = cap;
  }
  memcpy(rx->buf + rx->buf_len, data, n);
  rx->buf_len += n;
  if (!rx->buffering) {
    rx_feed(rx, data, n);
    rx->fed = rx->buf_len;
    rx->buffering = rx->fed >= rx->split_head;
  }
}

/* Nothing waits in the parser's input but blanks: it stands between two
 * tokens, not inside a comment, a CDATA section or a tag. */
static bool rx_settled(const vs_rx_t *rx) {
  const xmlParserInput *in = rx->ctxt->input;
  for (const xmlChar *c = in->cur; c != NULL && c < in->end; c++)
    if (!IS_BLANK_CH(*c)) return false;
  return true;
}

/* The parser stands between two objects of the result, all well so far:
 * in element content (not in a CDATA section, whose text libxml2 hands on
 * in pieces), nothing waiting but blanks, no error or warning yet, and the
 * answer in UTF-8 (a decoder may carry a state, as a shift state, that the
 * other part's parser would not have). */
static bool rx_between_objects(const vs_rx_t *rx) {
  const xmlParserCtxt *c = rx->ctxt;
  return rx_going(rx) && c->errNo == XML_ERR_OK && c->instate == XML_PARSER_CONTENT &&
         (c->input->buf == NULL || c->input->buf->encoder == NULL) && rx->obj == NULL &&
         is_result_parent(c->node) && rx_settled(rx);
}

/* Closing tags and blanks only, from p to end. */
static bool closing_tags_only(const char *p, const char *end) {
  while (p < end) {
    if (*p == '<') {
      const char *gt = p + 1 < end && p[1] == '/' ? memchr(p, '>', (size_t)(end - p)) : NULL;
      if (gt == NULL) return false;
      p = gt + 1;
    } else if (IS_BLANK_CH(*p)) {
      p++;
    } else {
      return false;
    }
  }
  return true;
}

static atomic_ulong parts_kept, objects_scanned;
static atomic_bool scanning_off;

unsigned long vs_parts_kept(void) { return atomic_load(&parts_kept); }

unsigned long vs_objects_scanned(void) { return atomic_load(&objects_scanned); }

void vs_set_scanning(bool on) { atomic_store(&scanning_off, !on); }

/* An object the scanner read, delivered as rx_end_element delivers one. */
static int scan_deliver(void *ctx, xmlNode *obj) {
  objects_sink_t *k = ctx;
  atomic_fetch_add_explicit(&objects_scanned, 1, memory_order_relaxed);
  if (!k->failed && k->fn(k->ctx, obj, &k->err) != 0) k->failed = true;
  return k->failed;
}

/* The first object's start tag in [from, to), as vCenter writes it. */
static const char *objects_start(const char *from, const char *to) {
  static const char open[] = "<objects>";
  return from < to ? memmem(from, (size_t)(to - from), open, sizeof open - 1) : NULL;
}

/* A scanner (vsphere_scan.h) for the objects that follow where rx's parser
 * stands, when it stands between two objects of the result; its memory is
 * mem (rx's own, or another part's). */
static bool rx_scanner(vs_rx_t *rx, vs_mem_t *mem, vs_scan_t *sc) {
  return !atomic_load(&scanning_off) && rx_between_objects(rx) &&
         vs_scan_open(sc, mem, rx->ctxt->myDoc, rx->ctxt->node);
}

/* Parse [from, to) of a kept answer: libxml2 to the first object's start;
 * from there the scanner reads the objects it can, and libxml2 goes on
 * where it stopped (at the latest at the result's end). */
static void rx_feed_scanned(vs_rx_t *rx, const char *from, const char *to) {
  const char *o = objects_start(from, to);
  vs_scan_t sc;
  if (o != NULL) {
    rx_feed(rx, from, (size_t)(o - from));
    from = o;
    if (rx_scanner(rx, &rx->mem, &sc)) {
      from = vs_scan_objects(&sc, from, to, scan_deliver, rx->sink);
      vs_scan_close(&sc);
    }
  }
  rx_feed(rx, from, (size_t)(to - from));
}

/* The second part of an answer, parsed on a helper thread. */
typedef struct part {
  vs_rx_t rx;
  objects_sink_t sink; /* the caller's fn, the part's own context */
  const char *prefix, *rest; /* the answer before its first object; from the part's first on */
  size_t prefix_len, rest_len;
  const char *last_end; /* the end of the answer's last object */
  bool scanning;        /* scan is open: the part's objects are read with it first */
  vs_scan_t scan;
  bool ok; /* well-formed to its end, nothing refused */
} part_t;

/* The part's objects: with the scanner to the end of the last object if it
 * can; else with libxml2, from the first object the scanner left. */
static void *part_main(void *arg) {
  part_t *p = arg;
  vs_rx_t *rx = &p->rx;
  const char *from = p->rest, *end = p->rest + p->rest_len;
  if (p->scanning) {
    from = vs_scan_objects(&p->scan, from, p->last_end, scan_deliver, &p->sink);
    vs_scan_close(&p->scan);
    if (from == p->last_end) {
      p->ok = !p->sink.failed; /* the first part's parser reads the rest (rx_split) */
      return NULL;
    }
  }
  quiet_libxml2();
  /* the answer's start is the first part's: its objects stay in the tree */
  rx->deliver = 0;
  rx_feed(rx, p->prefix, p->prefix_len);
  rx->deliver = 1;
  if (!rx_between_objects(rx)) return NULL;
  rx->part_seen = from > p->rest; /* the scanner's objects were objects */
  rx_feed(rx, from, (size_t)(end - from));
  if (rx_going(rx)) (void)xmlParseChunk(rx->ctxt, NULL, 0, 1);
  p->ok = rx_going(rx) && rx->ctxt->errNo == XML_ERR_OK && !p->sink.failed &&
          rx->ctxt->myDoc != NULL;
  return NULL;
}

/* The kept rest of a large answer, [fed, end), in two parts at once: [fed,
 * s) here, by the parser that took the answer's start, and [s, end) on a
 * helper thread (s: an <objects> start tag past the middle). The second
 * part counts only when the first parser stands between two objects at s
 * (not in a comment, a CDATA section, or deeper in the tree), the second
 * part is objects that follow each other to the result's end, and the
 * answer ends with closing tags after its last object (t). Then the first
 * parser goes on at t, and its answer is the answer in one piece. Else the
 * second part's objects are dropped and the first parser goes on at s.
 *
 * Each part's objects are read by the scanner where it can
 * (vsphere_scan.h; rx_feed_scanned), both from where the first parser
 * stands between objects, after its first object start; the rest by
 * libxml2: the first parser, and for the second part a parser of its own,
 * first fed the answer up to its first object so that it stands where the
 * first one will stand at s. true: all was fed; false: nothing was (no
 * second part could start). */
static bool rx_split(vs_rx_t *rx) {
  static const char close[] = "</objects>";
  const size_t close_len = sizeof close - 1;
  const char *b = rx->buf, *end = b + rx->buf_len, *from = b + rx->fed;
  const char *first = objects_start(b, b + rx->fed);
  const char *mid = from + (end - from) / 2;
  const char *s = objects_start(mid, end), *t = NULL;
  if (s == NULL || (size_t)(end - s) <= close_len) return false;
  for (const char *q = end - close_len; q > s; q--) /* the tail is short */
    if (*q == '<' && memcmp(q, close, close_len) == 0) {
      t = q + close_len;
      break;
    }
  if (first == NULL || t == NULL || t == end || !closing_tags_only(t, end)) return false;
  objects_sink_t *k = rx->sink;
  void *ctx = k->parts->open(k->ctx);
  if (ctx == NULL) return false;
  part_t *p = calloc(1, sizeof *p);
  dv_err_t ignored = DV_ERR_INIT;
  pthread_t helper;
  if (p != NULL) p->sink = (objects_sink_t){k->fn, ctx, NULL, false, DV_ERR_INIT};
  if (p == NULL || rx_begin(&p->rx, NULL, &p->sink, &ignored) != 0) {
    k->parts->close(k->ctx, ctx, false, NULL);
    free(p);
    return false;
  }
  p->rx.part = true;
  p->prefix = b;
  p->prefix_len = (size_t)(first - b);
  p->rest = s;
  p->rest_len = (size_t)(end - s);
  p->last_end = t;
  /* to the first object's start here, so that both scanners know the
   * namespaces where the objects stand */
  const char *o = objects_start(from, s);
  if (o != NULL) {
    rx_feed(rx, from, (size_t)(o - from));
    from = o;
    p->scanning = rx_scanner(rx, &p->rx.mem, &p->scan);
  }
  if (pthread_create(&helper, NULL, part_main, p) != 0) {
    if (p->scanning) vs_scan_close(&p->scan);
    rx_free(&p->rx, true);
    k->parts->close(k->ctx, ctx, false, NULL);
    free(p);
    rx_feed_scanned(rx, from, end);
    return true;
  }
  rx_feed_scanned(rx, from, s);
  bool here = rx_between_objects(rx);
  pthread_join(helper, NULL);
  dv_err_t e = DV_ERR_INIT;
  if (here && p->ok && !k->failed) {
    if (k->parts->close(k->ctx, ctx, true, &e) != 0) {
      k->failed = true;
      k->err = e;
    } else {
      atomic_fetch_add(&parts_kept, 1);
    }
    rx_feed(rx, t, (size_t)(end - t));
  } else {
    k->parts->close(k->ctx, ctx, false, NULL);
    rx_feed_scanned(rx, s, end);
  }
  rx_free(&p->rx, true);
  free(p);
  return true;
}

/* All of the answer is here: parse what was kept (rx_take). */
static void rx_drain(vs_rx_t *rx) {
  if (!rx->buffering) return;
  rx->buffering = false;
  if (rx->buf_len - rx->fed >= rx->split_min && rx_split(rx)) return;
  rx_feed_scanned(rx, rx->buf + rx->fed, rx->buf + rx->buf_len);
}

/* --- sessions ------------------------------------------------------------- */

struct vs_session {
  vs_client_t *c;
  CURL *curl;
  struct curl_slist *headers;
  bool in_use, logged_in;
  vs_content_t content;
  char fault[VS_FAULT_MAX];
  vs_rx_t rx; /* the answer of the call in flight */
  char curl_err[CURL_ERROR_SIZE];
};

struct vs_client {
  char *plane, *url, *username, *password, *ca_file;
  bool insecure;
  long timeout_ms;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  vs_session_t pool[VS_POOL_SIZE];
};

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_init = CURLE_FAILED_INIT;

static void global_init(void) {
  g_curl_init = curl_global_init(CURL_GLOBAL_DEFAULT);
  xmlInitParser();
}

static char *xstrdup(const char *s) {
  return strdup(s != NULL ? s : "");
}

/* Replace every occurrence of secret (4 characters or more) in msg by "***":
 * servers should never echo a password, but a message must never carry one.
 * Truncates at cap. */
static void scrub(char *msg, size_t cap, const char *secret) {
  /* Shorter secrets would mask letters all over the message (and say little). */
  if (secret == NULL || strlen(secret) < 4) return;
  size_t sl = strlen(secret);
  char *from = msg, *hit;
  while ((hit = strstr(from, secret)) != NULL) {
    size_t pos = (size_t)(hit - msg), tail = strlen(hit + sl);
    if (pos + 3 + tail + 1 > cap) tail = cap - pos - 4; /* cap > pos + sl >= pos + 1 */
    memmove(hit + 3, hit + sl, tail);
    hit[3 + tail] = '\0';
    memcpy(hit, "***", 3);
    from = hit + 3; /* never rescan the mask: the secret may be "*" */
  }
}

static int clean_url(const char *raw, const char *plane, char **url, char **user, char **pass,
                     dv_err_t *err) {
  int rc = -1;
  char *scheme = NULL;
  CURLU *u = curl_url();
  if (u == NULL) return DV_NOMEM(err);
  /* Never echo raw: it may carry a password. */
  if (raw == NULL || curl_url_set(u, CURLUPART_URL, raw, 0) != CURLUE_OK) {
    dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "plane \"%s\": url is not a valid URL", plane);
    goto cleanup;
  }
  if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)) {
    dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "plane \"%s\": url must be http:// or https://",
               plane);
    goto cleanup;
  }
  if (curl_url_get(u, CURLUPART_USER, user, CURLU_URLDECODE) != CURLUE_OK) *user = NULL;
  if (curl_url_get(u, CURLUPART_PASSWORD, pass, CURLU_URLDECODE) != CURLUE_OK) *pass = NULL;
  if (curl_url_set(u, CURLUPART_USER, NULL, 0) != CURLUE_OK ||
      curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
    DV_NOMEM(err);
    goto cleanup;
  }
  rc = 0;
cleanup:
  curl_free(scheme);
  curl_url_cleanup(u);
  return rc;
}

vs_client_t *vs_client_new(const dv_plane_conf_t *conf, dv_err_t *err) {
  pthread_once(&g_once, global_init);
  const char *plane = conf->name != NULL ? conf->name : "";
  if (g_curl_init != CURLE_OK) {
    dv_err_set(err, GRPC_STATUS_INTERNAL, "plane \"%s\": curl_global_init failed: %s", plane,
               curl_easy_strerror(g_curl_init));
    return NULL;
  }
  char *url = NULL, *url_user = NULL, *url_pass = NULL;
  if (clean_url(conf->url, plane, &url, &url_user, &url_pass, err) != 0) return NULL;

  vs_client_t *c = calloc(1, sizeof *c);
  pthread_condattr_t ca;
  bool have_ca = false, have_mu = false;
  if (c == NULL) goto nomem;
  c->plane = xstrdup(plane);
  c->url = xstrdup(url);
  c->username = xstrdup(conf->username != NULL && conf->username[0] ? conf->username : url_user);
  c->password = xstrdup(conf->password != NULL && conf->password[0] ? conf->password : url_pass);
  c->ca_file = conf->ca_file != NULL && conf->ca_file[0] ? strdup(conf->ca_file) : NULL;
  if (c->plane == NULL || c->url == NULL || c->username == NULL || c->password == NULL ||
      (conf->ca_file != NULL && conf->ca_file[0] && c->ca_file == NULL))
    goto nomem;
  c->insecure = conf->insecure;
  c->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms : VS_DEFAULT_TIMEOUT_MS;
  if (pthread_mutex_init(&c->mu, NULL) != 0) goto nomem;
  have_mu = true;
  if (pthread_condattr_init(&ca) != 0) goto nomem;
  have_ca = true;
  if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 || pthread_cond_init(&c->cv, &ca) != 0)
    goto nomem;
  pthread_condattr_destroy(&ca);
  for (int i = 0; i < VS_POOL_SIZE; i++) c->pool[i].c = c;
  curl_free(url);
  curl_free(url_user);
  curl_free(url_pass);
  return c;

nomem:
  DV_NOMEM(err);
  if (have_ca) pthread_condattr_destroy(&ca);
  if (have_mu) pthread_mutex_destroy(&c->mu);
  if (c != NULL) {
    free(c->plane);
    free(c->url);
    free(c->username);
    free(c->password);
    free(c->ca_file);
    free(c);
  }
  curl_free(url);
  curl_free(url_user);
  curl_free(url_pass);
  return NULL;
}

const char *vs_client_plane(const vs_client_t *c) {
  return c->plane;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *user) {
  vs_rx_t *rx = user;
  size_t n = size * nmemb;
  if (rx->bytes + n > VS_MAX_RESPONSE) return 0; /* aborts with CURLE_WRITE_ERROR */
  rx->bytes += n;
  rx_take(rx, data, n);
  /* out of memory, or not a SOAP answer: the rest need not be received
   * (an object the caller refused is different: the answer's token, still
   * to come, is what cancels the rest of the result) */
  return rx->oom || rx->refused ? 0 : n;
}

static int session_init(vs_session_t *s, dv_err_t *err) {
  vs_client_t *c = s->c;
  s->curl = curl_easy_init();
  if (s->curl == NULL) return DV_NOMEM(err);
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: text/xml; charset=utf-8");
  struct curl_slist *h2 = h != NULL ? curl_slist_append(h, VS_SOAP_ACTION) : NULL;
  struct curl_slist *h3 = h2 != NULL ? curl_slist_append(h2, "Expect:") : NULL;
  if (h3 == NULL) {
    curl_slist_free_all(h);
    return DV_NOMEM(err);
  }
  s->headers = h3;
  long connect_ms = c->timeout_ms < VS_CONNECT_TIMEOUT_MS ? c->timeout_ms : VS_CONNECT_TIMEOUT_MS;
  CURLcode rc = CURLE_OK;
#define SETOPT(opt, val) \
  if (rc == CURLE_OK) rc = curl_easy_setopt(s->curl, opt, val)
  SETOPT(CURLOPT_URL, c->url);
  SETOPT(CURLOPT_HTTPHEADER, s->headers);
  SETOPT(CURLOPT_COOKIEFILE, ""); /* in-memory cookie engine: the session cookie */
  SETOPT(CURLOPT_NOSIGNAL, 1L);   /* threads + timeouts */
  SETOPT(CURLOPT_TIMEOUT_MS, c->timeout_ms);
  SETOPT(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
  SETOPT(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  SETOPT(CURLOPT_ACCEPT_ENCODING, ""); /* whatever curl can decode */
  SETOPT(CURLOPT_WRITEFUNCTION, on_write);
  SETOPT(CURLOPT_WRITEDATA, &s->rx);
  SETOPT(CURLOPT_ERRORBUFFER, s->curl_err);
  SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
  SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
  if (c->insecure) {
    SETOPT(CURLOPT_SSL_VERIFYPEER, 0L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, 0L);
  } else {
    SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->ca_file != NULL) SETOPT(CURLOPT_CAINFO, c->ca_file);
  }
#undef SETOPT
  if (rc != CURLE_OK) {
    dv_err_set(err, GRPC_STATUS_INTERNAL, "plane \"%s\": curl_easy_setopt: %s", c->plane,
               curl_easy_strerror(rc));
    curl_easy_cleanup(s->curl);
    curl_slist_free_all(s->headers);
    s->curl = NULL;
    s->headers = NULL;
    return -1;
  }
  return 0;
}

static void session_fini(vs_session_t *s) {
  if (s->curl != NULL) curl_easy_cleanup(s->curl);
  curl_slist_free_all(s->headers);
  rx_free(&s->rx, true);
  s->curl = NULL;
  s->headers = NULL;
  s->logged_in = false;
}

/* POST req; the answer is parsed into s->rx as it arrives (rx_begin first). */
static int post(vs_session_t *s, const char *method, const vs_buf_t *req, long *status,
                dv_err_t *err) {
  s->curl_err[0] = '\0';
  CURLcode rc = curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, req->p);
  if (rc == CURLE_OK) rc = curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->len);
  if (rc == CURLE_OK) rc = curl_easy_perform(s->curl);
  if (rc == CURLE_WRITE_ERROR && (s->rx.oom || s->rx.refused))
    rc = CURLE_OK; /* we stopped receiving it (on_write): the parse's verdict is the caller's */
  if (rc != CURLE_OK) {
    const char *why = "cannot reach it";
    if (rc == CURLE_OPERATION_TIMEDOUT) why = "timed out";
    if (rc == CURLE_WRITE_ERROR) why = "answer too large";
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE)
      why = "its TLS certificate is not trusted (set ca_file; insecure only in labs)";
    const char *detail = s->curl_err;
    return dv_err_set(err, GRPC_STATUS_UNAVAILABLE, "plane \"%s\": %s at %s: %s: %s%s%s%s",
                      s->c->plane, method, s->c->url, why, curl_easy_strerror(rc),
                      detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
  }
  rc = curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, status);
  if (rc != CURLE_OK) {
    return dv_err_set(err, GRPC_STATUS_INTERNAL, "plane \"%s\": %s: curl_easy_getinfo: %s",
                      s->c->plane, method, curl_easy_strerror(rc));
  }
  return 0;
}

/* The element inside soapenv:Body, or NULL. */
static xmlNode *body_child(xmlDoc *doc) {
  xmlNode *env = xmlDocGetRootElement(doc);
  if (env == NULL || !vs_is(env, "Envelope")) return NULL;
  for (xmlNode *c = vs_first(env); c != NULL; c = vs_next(c))
    if (vs_is(c, "Body")) return vs_first(c);
  return NULL;
}

/* Name of the fault in <detail> or in a task's <error><fault>. */
static const char *fault_type(const xmlNode *fault_elem) {
  const char *t = vs_xsi_type(fault_elem);
  if (t[0] != '\0' || fault_elem == NULL) return t;
  return (const char *)fault_elem->name; /* e.g. InvalidLoginFault */
}

/* The fault name for a fault element's type into dst. */
static void fault_name(char *dst, size_t cap, const char *type) {
  snprintf(dst, cap, "%s", type);
  size_t l = strlen(dst);
  /* <InvalidLoginFault> without xsi:type: the type is the name minus "Fault" */
  if (l > 5 && strcmp(dst + l - 5, "Fault") == 0 && vs_fault_code(dst) == GRPC_STATUS_UNKNOWN)
    dst[l - 5] = '\0';
}

static void set_fault(vs_session_t *s, const char *type) {
  fault_name(s->fault, sizeof s->fault, type);
}

/* One request and its answer. Objects of a property collector result go to
 * sink (when not NULL) while the answer is parsed, and only from an HTTP 200
 * answer; the call may still fail after some went there (a truncated or
 * malformed answer), and then the caller drops what the sink collected. */
static int call_once(vs_session_t *s, const char *method, const char *what, const vs_buf_t *req,
                     objects_sink_t *sink, xmlDoc **doc_out, xmlNode **resp_out, dv_err_t *err) {
  long status = 0;
  s->fault[0] = '\0';
  if (rx_begin(&s->rx, s->curl, sink, err) != 0) return -1;
  if (post(s, method, req, &status, err) != 0) {
    rx_free(&s->rx, false);
    return -1;
  }
  const char *plane = s->c->plane;
  if (status != 200 && status != 500) {
    rx_free(&s->rx, false);
    return dv_err_set(err, GRPC_STATUS_UNAVAILABLE, "plane \"%s\": %s on %s: HTTP %ld from %s",
                      plane, method, what, status, s->c->url);
  }
  bool oom;
  rx_drain(&s->rx);
  xmlDoc *doc = rx_end(&s->rx, &oom);
  if (doc == NULL && oom) return DV_NOMEM(err);
  xmlNode *inner = doc != NULL ? body_child(doc) : NULL;
  if (inner == NULL) {
    xmlFreeDoc(doc);
    return dv_err_set(err, GRPC_STATUS_UNAVAILABLE,
                      "plane \"%s\": %s on %s: the answer (HTTP %ld) is not a SOAP envelope",
                      plane, method, what, status);
  }
  if (vs_is(inner, "Fault")) {
    const char *text = vs_child_text(inner, "faultstring");
    xmlNode *detail = vs_child(inner, "detail");
    xmlNode *f = vs_first(detail);
    set_fault(s, f != NULL ? fault_type(f) : "");
    const char *shown = s->fault[0] ? s->fault : "SOAP fault";
    dv_err_set(err, s->fault[0] ? vs_fault_code(s->fault) : GRPC_STATUS_UNKNOWN,
               "plane \"%s\": %s on %s failed: %s%s%s%s", plane, method, what, shown,
               text[0] ? " (" : "", text, text[0] ? ")" : "");
    xmlFreeDoc(doc);
    return -1;
  }
  if (status != 200) {
    xmlFreeDoc(doc);
    return dv_err_set(err, GRPC_STATUS_UNAVAILABLE, "plane \"%s\": %s on %s: HTTP %ld without a fault",
                      plane, method, what, status);
  }
  *doc_out = doc;
  *resp_out = inner;
  return 0;
}

int vs_parse_answer(const char *data, size_t len, vs_object_fn fn, const vs_parts_t *parts,
                    size_t split, void *ctx, xmlDoc **doc_out, xmlNode **resp_out, dv_err_t *err) {
  /* Fed in slices, as the network delivers an answer: element names and
   * text are cut at arbitrary points, as they are in vs_call. */
  enum { SLICE = 1024 };
  objects_sink_t sink = {fn, ctx, split > 0 ? parts : NULL, false, DV_ERR_INIT};
  vs_rx_t rx = {0};
  *doc_out = NULL;
  *resp_out = NULL;
  if (rx_begin(&rx, NULL, fn != NULL ? &sink : NULL, err) != 0) return -1;
  if (sink.parts != NULL) rx.split_head = rx.split_min = split;
  for (size_t off = 0; off < len; off += SLICE)
    rx_take(&rx, data + off, len - off < SLICE ? len - off : SLICE);
  rx_drain(&rx);
  bool oom;
  xmlDoc *doc = rx_end(&rx, &oom);
  rx_free(&rx, true);
  if (doc == NULL && oom) return DV_NOMEM(err);
  xmlNode *inner = doc != NULL ? body_child(doc) : NULL;
  if (inner == NULL) {
    xmlFreeDoc(doc);
    return dv_err_set(err, GRPC_STATUS_UNAVAILABLE, "the answer is not a SOAP envelope");
  }
  if (sink.err.code != GRPC_STATUS_OK || sink.failed) {
    xmlFreeDoc(doc);
    if (err != NULL && err->code == GRPC_STATUS_OK) *err = sink.err;
    return dv_err_set(err, GRPC_STATUS_INTERNAL, "an object of the answer was refused");
  }
  *doc_out = doc;
  *resp_out = inner;
  return 0;
}

static int session_login(vs_session_t *s, dv_err_t *err);

/* Calls on objects that live only as long as the session that made them: a
 * paged result's token, a container view. After a new login they cannot be
 * sent again; the operation has to start over. */
static bool session_bound(const char *method, const vs_buf_t *req) {
  return strcmp(method, "ContinueRetrievePropertiesEx") == 0 ||
         strcmp(method, "CancelRetrievePropertiesEx") == 0 ||
         (req->p != NULL && strstr(req->p, "type=\"ContainerView\"") != NULL);
}

static bool is_login_method(const char *m) {
  return strcmp(m, "Login") == 0 || strcmp(m, "RetrieveServiceContent") == 0 ||
         strcmp(m, "Logout") == 0;
}

/* vs_call, with objects going to sink (see call_once). */
static int call(vs_session_t *s, const char *method, const char *what, vs_buf_t *req,
                objects_sink_t *sink, xmlDoc **doc, xmlNode **resp, dv_err_t *err) {
  *doc = NULL;
  *resp = NULL;
  if (what == NULL) what = "?";
  if (req->oom) return DV_NOMEM(err);
  if (req->bad_char) {
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT,
                      "plane \"%s\": %s on %s: a value holds a control character XML cannot carry",
                      s->c->plane, method, what);
  }
  for (int attempt = 0;; attempt++) {
    dv_err_t e = DV_ERR_INIT;
    /* A retried call never fed the sink: objects come only from HTTP 200. */
    if (call_once(s, method, what, req, sink, doc, resp, &e) == 0) return 0;
    scrub(e.msg, sizeof e.msg, s->c->password);
    if (strcmp(s->fault, "NotAuthenticated") == 0 && !is_login_method(method)) {
      s->logged_in = false;
      if (attempt == 0) {
        if (session_login(s, err) != 0) return -1;
        if (session_bound(method, req))
          return dv_err_set(err, GRPC_STATUS_UNAVAILABLE,
                            "plane \"%s\": the session ended during %s on %s, and what the call"
                            " continued (a paged result, a view) ended with it; try again",
                            s->c->plane, method, what);
        continue; /* the call did not run: safe to send again */
      }
      return dv_err_set(err, GRPC_STATUS_FAILED_PRECONDITION,
                        "plane \"%s\" refused our session for %s on %s right after a fresh login "
                        "(NotAuthenticated)",
                        s->c->plane, method, what);
    }
    if (err != NULL && err->code == GRPC_STATUS_OK) *err = e;
    return -1;
  }
}

int vs_call(vs_session_t *s, const char *method, const char *what, vs_buf_t *req, xmlDoc **doc,
            xmlNode **resp, dv_err_t *err) {
  return call(s, method, what, req, NULL, doc, resp, err);
}

static int copy_moref_value(char *dst, size_t cap, const xmlNode *n) {
  const char *v = vs_text(n);
  if (v[0] == '\0' || strlen(v) >= cap) return -1;
  memcpy(dst, v, strlen(v) + 1);
  return 0;
}

static int session_login(vs_session_t *s, dv_err_t *err) {
  vs_client_t *c = s->c;
  vs_buf_t b = {0};
  xmlDoc *doc = NULL;
  xmlNode *resp;
  int rc = -1;
  s->logged_in = false;
  /* A new login starts from no cookies: a stale session cookie must not go
   * with it (vcsim refuses Login on a live session). */
  CURLcode cc = curl_easy_setopt(s->curl, CURLOPT_COOKIELIST, "ALL");
  if (cc != CURLE_OK) {
    return dv_err_set(err, GRPC_STATUS_INTERNAL, "plane \"%s\": clearing cookies: %s", c->plane,
                      curl_easy_strerror(cc));
  }

  vs_req_begin(&b, "RetrieveServiceContent", (vs_moref_t){"ServiceInstance", "ServiceInstance"});
  vs_req_end(&b, "RetrieveServiceContent");
  if (vs_call(s, "RetrieveServiceContent", "ServiceInstance", &b, &doc, &resp, err) != 0)
    goto cleanup;
  xmlNode *sc = vs_child(resp, "returnval");
  if (copy_moref_value(s->content.root_folder, sizeof s->content.root_folder, vs_child(sc, "rootFolder")) ||
      copy_moref_value(s->content.property_collector, sizeof s->content.property_collector,
                       vs_child(sc, "propertyCollector")) ||
      copy_moref_value(s->content.view_manager, sizeof s->content.view_manager,
                       vs_child(sc, "viewManager")) ||
      copy_moref_value(s->content.session_manager, sizeof s->content.session_manager,
                       vs_child(sc, "sessionManager"))) {
    dv_err_set(err, GRPC_STATUS_UNAVAILABLE,
               "plane \"%s\": RetrieveServiceContent: the answer lacks rootFolder, "
               "propertyCollector, viewManager or sessionManager (is this a vCenter?)",
               c->plane);
    goto cleanup;
  }
  xmlFreeDoc(doc);
  doc = NULL;

  vs_req_begin(&b, "Login", (vs_moref_t){"SessionManager", s->content.session_manager});
  vs_put_str(&b, "userName", c->username);
  vs_put_str(&b, "password", c->password);
  vs_req_end(&b, "Login");
  dv_err_t e = DV_ERR_INIT;
  if (vs_call(s, "Login", "SessionManager", &b, &doc, &resp, &e) != 0) {
    if (s->fault[0] != '\0' && e.code != GRPC_STATUS_UNAVAILABLE) {
      /* Only the fault type: nothing the server said about our credentials. */
      dv_err_set(err, GRPC_STATUS_FAILED_PRECONDITION, "plane \"%s\" refused our login (%s)",
                 c->plane, s->fault);
    } else if (err != NULL && err->code == GRPC_STATUS_OK) {
      *err = e;
    }
    goto cleanup;
  }
  s->logged_in = true;
  rc = 0;
cleanup:
  xmlFreeDoc(doc);
  /* The request held the password: wipe it before the buffer goes. */
  if (b.p != NULL) memset(b.p, 0, b.cap);
  vs_buf_free(&b);
  return rc;
}

static void session_logout(vs_session_t *s) {
  if (!s->logged_in || s->curl == NULL) return;
  /* Do not hold a shutdown up for long when the plane is gone. */
  if (curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, 5000L) != CURLE_OK ||
      curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L) != CURLE_OK)
    return;
  vs_buf_t b = {0};
  xmlDoc *doc = NULL;
  xmlNode *resp;
  dv_err_t e = DV_ERR_INIT;
  vs_req_begin(&b, "Logout", (vs_moref_t){"SessionManager", s->content.session_manager});
  vs_req_end(&b, "Logout");
  (void)vs_call(s, "Logout", "SessionManager", &b, &doc, &resp, &e); /* best effort */
  xmlFreeDoc(doc);
  vs_buf_free(&b);
  s->logged_in = false;
}

void vs_client_free(vs_client_t *c) {
  if (c == NULL) return;
  for (int i = 0; i < VS_POOL_SIZE; i++) {
    session_logout(&c->pool[i]);
    session_fini(&c->pool[i]);
  }
  pthread_cond_destroy(&c->cv);
  pthread_mutex_destroy(&c->mu);
  free(c->plane);
  free(c->url);
  free(c->username);
  if (c->password != NULL) memset(c->password, 0, strlen(c->password));
  free(c->password);
  free(c->ca_file);
  free(c);
}

vs_session_t *vs_session_get(vs_client_t *c, dv_err_t *err) {
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += c->timeout_ms / 1000;
  deadline.tv_nsec += (c->timeout_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  vs_session_t *s = NULL;
  pthread_mutex_lock(&c->mu);
  for (;;) {
    for (int i = 0; i < VS_POOL_SIZE; i++) { /* prefer one already logged in */
      vs_session_t *x = &c->pool[i];
      if (!x->in_use && (s == NULL || (x->logged_in && !s->logged_in))) s = x;
    }
    if (s != NULL) break;
    int rc = pthread_cond_timedwait(&c->cv, &c->mu, &deadline);
    if (rc == ETIMEDOUT) break;
  }
  if (s != NULL) s->in_use = true;
  pthread_mutex_unlock(&c->mu);
  if (s == NULL) {
    dv_err_set(err, GRPC_STATUS_UNAVAILABLE,
               "plane \"%s\": all %d sessions stayed busy for %ld ms", c->plane, VS_POOL_SIZE,
               c->timeout_ms);
    return NULL;
  }
  if (vs_session_ready(s, err) != 0) {
    vs_session_put(s);
    return NULL;
  }
  return s;
}

vs_session_t *vs_session_other(const vs_session_t *s) {
  vs_client_t *c = s->c;
  vs_session_t *o = NULL;
  pthread_mutex_lock(&c->mu);
  for (int i = 0; i < VS_POOL_SIZE; i++) { /* prefer one already logged in */
    vs_session_t *x = &c->pool[i];
    if (!x->in_use && (o == NULL || (x->logged_in && !o->logged_in))) o = x;
  }
  if (o != NULL) o->in_use = true;
  pthread_mutex_unlock(&c->mu);
  return o;
}

int vs_session_ready(vs_session_t *s, dv_err_t *err) {
  if (s->curl == NULL && session_init(s, err) != 0) return -1;
  if (!s->logged_in && session_login(s, err) != 0) return -1;
  return 0;
}

void vs_session_put(vs_session_t *s) {
  if (s == NULL) return;
  vs_client_t *c = s->c;
  pthread_mutex_lock(&c->mu);
  s->in_use = false;
  pthread_cond_signal(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

const vs_content_t *vs_session_content(const vs_session_t *s) {
  return &s->content;
}

const char *vs_session_plane(const vs_session_t *s) {
  return s->c->plane;
}

const char *vs_session_fault(const vs_session_t *s) {
  return s->fault;
}

/* --- tasks ---------------------------------------------------------------- */

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct task_state {
  vs_session_t *s;
  const char *method, *what;
  dv_arena_t *a;
  vs_moref_t *result;
  int state; /* 0 running, 1 success, -1 error */
  /* The task's fault. on_task runs while the answer is still being received,
   * so it must not touch s->fault (call_once's, for that answer); wait_task
   * copies it there once the call is over. */
  char fault[VS_FAULT_MAX];
} task_state_t;

static int on_task(void *ctx, const xmlNode *objects, dv_err_t *err) {
  task_state_t *t = ctx;
  const xmlNode *cur = NULL;
  vs_prop_t p;
  while (vs_prop_next(objects, &cur, &p)) {
    if (strcmp(p.name, "info") != 0) continue;
    const char *state = vs_child_text(p.val, "state");
    if (strcmp(state, "success") == 0) {
      t->state = 1;
      xmlNode *res = vs_child(p.val, "result");
      if (t->result != NULL && res != NULL && vs_moref_dup(t->a, res, t->result) != 0)
        return DV_NOMEM(err);
    } else if (strcmp(state, "error") == 0) {
      t->state = -1;
      xmlNode *e = vs_child(p.val, "error");
      fault_name(t->fault, sizeof t->fault, fault_type(vs_child(e, "fault")));
      const char *msg = vs_child_text(e, "localizedMessage");
      const char *shown = t->fault[0] ? t->fault : "task error";
      dv_err_set(err, t->fault[0] ? vs_fault_code(t->fault) : GRPC_STATUS_UNKNOWN,
                 "plane \"%s\": %s on %s failed: %s%s%s%s", vs_session_plane(t->s), t->method,
                 t->what, shown, msg[0] ? " (" : "", msg, msg[0] ? ")" : "");
      scrub(err->msg, sizeof err->msg, t->s->c->password);
    }
  }
  return 0;
}

static int wait_task(vs_session_t *s, const char *method, const char *what, const char *task,
                     dv_arena_t *a, vs_moref_t *result, dv_err_t *err) {
  vs_buf_t spec = {0};
  vs_buf_puts(&spec, "<propSet><type>Task</type><pathSet>info</pathSet></propSet><objectSet>");
  vs_put_moref(&spec, "obj", (vs_moref_t){"Task", task});
  vs_buf_puts(&spec, "</objectSet>");
  task_state_t t = {s, method, what, a, result, 0, ""};
  long deadline = now_ms() + s->c->timeout_ms * VS_TASK_TIMEOUT_FACTOR;
  long pause = 10;
  int rc = -1;
  for (;;) {
    if (vs_retrieve(s, what, spec.p, spec.len, on_task, NULL, &t, err) != 0) goto cleanup;
    if (t.state == 1) break;
    if (t.state == -1) { /* on_task set err */
      set_fault(s, t.fault);
      goto cleanup;
    }
    if (now_ms() > deadline) {
      dv_err_set(err, GRPC_STATUS_UNAVAILABLE,
                 "plane \"%s\": %s on %s: task %s did not finish within %ld ms", s->c->plane,
                 method, what, task, s->c->timeout_ms * VS_TASK_TIMEOUT_FACTOR);
      goto cleanup;
    }
    sleep_ms(pause);
    if (pause < 500) pause *= 2;
  }
  rc = 0;
cleanup:
  vs_buf_free(&spec);
  return rc;
}

int vs_call_task(vs_session_t *s, const char *method, const char *what, vs_buf_t *req,
                 dv_arena_t *a, vs_moref_t *result_out, dv_err_t *err) {
  xmlDoc *doc;
  xmlNode *resp;
  if (vs_call(s, method, what, req, &doc, &resp, err) != 0) return -1;
  char task[128];
  int bad = copy_moref_value(task, sizeof task, vs_child(resp, "returnval"));
  xmlFreeDoc(doc);
  if (bad) {
    return dv_err_set(err, GRPC_STATUS_UNAVAILABLE, "plane \"%s\": %s on %s: no task in the answer",
                      s->c->plane, method, what);
  }
  return wait_task(s, method, what, task, a, result_out, err);
}

/* --- property collector --------------------------------------------------- */

/* Tell the server we stop reading a paged result (best effort). */
static void cancel_retrieve(vs_session_t *s, const char *what, const char *token) {
  if (token[0] == '\0') return;
  vs_buf_t b = {0};
  xmlDoc *doc = NULL;
  xmlNode *resp;
  dv_err_t ignored = DV_ERR_INIT;
  vs_req_begin(&b, "CancelRetrievePropertiesEx",
               (vs_moref_t){"PropertyCollector", s->content.property_collector});
  vs_put_str(&b, "token", token);
  vs_req_end(&b, "CancelRetrievePropertiesEx");
  (void)vs_call(s, "CancelRetrievePropertiesEx", what, &b, &doc, &resp, &ignored);
  xmlFreeDoc(doc);
  vs_buf_free(&b);
}

int vs_retrieve(vs_session_t *s, const char *what, const char *spec, size_t spec_len,
                vs_object_fn fn, const vs_parts_t *parts, void *ctx, dv_err_t *err) {
  vs_moref_t pc = {"PropertyCollector", s->content.property_collector};
  vs_buf_t b = {0};
  xmlDoc *doc = NULL;
  xmlNode *resp;
  char *token = NULL;
  int rc = -1;

  vs_req_begin(&b, "RetrievePropertiesEx", pc);
  vs_buf_puts(&b, "<specSet>");
  vs_buf_putn(&b, spec, spec_len);
  vs_buf_puts(&b, "</specSet><options/>");
  vs_req_end(&b, "RetrievePropertiesEx");
  const char *method = "RetrievePropertiesEx";
  for (;;) {
    /* fn sees each page's objects while the page is being received. */
    objects_sink_t sink = {fn, ctx, parts, false, DV_ERR_INIT};
    if (call(s, method, what, &b, &sink, &doc, &resp, err) != 0) goto cleanup;
    free(token);
    token = NULL;
    xmlNode *ret = vs_child(resp, "returnval");
    if (sink.err.code != GRPC_STATUS_OK && err != NULL && err->code == GRPC_STATUS_OK)
      *err = sink.err;
    if (sink.failed) {
      cancel_retrieve(s, what, vs_child_text(ret, "token"));
      goto cleanup;
    }
    const char *t = vs_child_text(ret, "token");
    if (t[0] == '\0') break;
    token = strdup(t);
    if (token == NULL) {
      DV_NOMEM(err);
      goto cleanup;
    }
    xmlFreeDoc(doc);
    doc = NULL;
    method = "ContinueRetrievePropertiesEx";
    vs_req_begin(&b, method, pc);
    vs_put_str(&b, "token", token);
    vs_req_end(&b, method);
  }
  rc = 0;
cleanup:
  xmlFreeDoc(doc);
  free(token);
  vs_buf_free(&b);
  return rc;
}

int vs_view_create(vs_session_t *s, vs_moref_t container, const char *const *types, size_t n_types,
                   dv_arena_t *a, vs_moref_t *view, dv_err_t *err) {
  vs_buf_t b = {0};
  xmlDoc *doc = NULL;
  xmlNode *resp;
  int rc = -1;
  vs_req_begin(&b, "CreateContainerView", (vs_moref_t){"ViewManager", s->content.view_manager});
  vs_put_moref(&b, "container", container);
  for (size_t i = 0; i < n_types; i++) vs_put_str(&b, "type", types[i]);
  vs_put_bool(&b, "recursive", true);
  vs_req_end(&b, "CreateContainerView");
  if (vs_call(s, "CreateContainerView", container.value, &b, &doc, &resp, err) != 0) goto cleanup;
  if (vs_moref_dup(a, vs_child(resp, "returnval"), view) != 0) {
    DV_NOMEM(err);
    goto cleanup;
  }
  rc = 0;
cleanup:
  xmlFreeDoc(doc);
  vs_buf_free(&b);
  return rc;
}

void vs_view_destroy(vs_session_t *s, vs_moref_t view) {
  if (view.value == NULL || view.value[0] == '\0') return;
  vs_buf_t b = {0};
  xmlDoc *doc = NULL;
  xmlNode *resp;
  dv_err_t ignored = DV_ERR_INIT;
  vs_req_begin(&b, "DestroyView", view);
  vs_req_end(&b, "DestroyView");
  (void)vs_call(s, "DestroyView", view.value, &b, &doc, &resp, &ignored);
  xmlFreeDoc(doc);
  vs_buf_free(&b);
}

void vs_put_view_object_set(vs_buf_t *b, vs_moref_t view) {
  vs_buf_puts(b, "<objectSet>");
  vs_put_moref(b, "obj", view);
  vs_buf_puts(b,
              "<skip>true</skip><selectSet xsi:type=\"TraversalSpec\"><name>view</name>"
              "<type>ContainerView</type><path>view</path><skip>false</skip></selectSet>"
              "</objectSet>");
}
