/* vsphere_scan: see vsphere_scan.h.
 *
 * Every function returns NULL (or false, or -1) for "not read here": the
 * caller gives the whole object up, and libxml2 reads it. None of these
 * is an error in the answer; libxml2 decides that. */
#include "vsphere_scan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parserInternals.h> /* xmlStringText: text node names */

#define MAX_ATTRS 32
/* Far below libxml2's own limits (XML_MAX_NAME_LENGTH, XML_MAX_TEXT_LENGTH,
 * the 10 MB of an attribute value or of a tag it looks ahead in), which
 * make it refuse an answer: what is longer, it reads. */
#define MAX_NAME 1000
#define MAX_TEXT ((size_t)1 << 20) /* a text, a tag */

static bool is_blank(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* ASCII name characters: NAME_START may begin a name (letters, '_'),
 * NAME_CHAR may follow (those, digits, '.', '-'). */
enum { NAME_CHAR = 1, NAME_START = 2 };
#define DIGITS(v) ['0'] = v, ['1'] = v, ['2'] = v, ['3'] = v, ['4'] = v, ['5'] = v, ['6'] = v, \
                  ['7'] = v, ['8'] = v, ['9'] = v
#define LETTERS(a, v) [a] = v, [a + 1] = v, [a + 2] = v, [a + 3] = v, [a + 4] = v, [a + 5] = v,   \
                      [a + 6] = v, [a + 7] = v, [a + 8] = v, [a + 9] = v, [a + 10] = v,           \
                      [a + 11] = v, [a + 12] = v, [a + 13] = v, [a + 14] = v, [a + 15] = v,       \
                      [a + 16] = v, [a + 17] = v, [a + 18] = v, [a + 19] = v, [a + 20] = v,       \
                      [a + 21] = v, [a + 22] = v, [a + 23] = v, [a + 24] = v, [a + 25] = v
static const unsigned char name_tab[256] = {
    DIGITS(NAME_CHAR), ['.'] = NAME_CHAR, ['-'] = NAME_CHAR, ['_'] = NAME_CHAR | NAME_START,
    LETTERS('a', NAME_CHAR | NAME_START), LETTERS('A', NAME_CHAR | NAME_START),
};
#undef DIGITS
#undef LETTERS

static bool name_start(unsigned char c) { return name_tab[c] & NAME_START; }

/* A QName of ASCII name characters at p: its length, and in *colon the
 * prefix's length (0: no prefix). 0 when there is none, or when it goes on
 * with a character the scanner does not read in names (non-ASCII, a second
 * colon). */
static size_t scan_qname(const char *p, const char *end, size_t *colon) {
  const unsigned char *q = (const unsigned char *)p, *e = (const unsigned char *)end;
  *colon = 0;
  if (q >= e || !name_start(*q)) return 0;
  for (q++;; q++) {
    while (q < e && (name_tab[*q] & NAME_CHAR)) q++;
    if (q + 1 >= e || *q != ':' || *colon != 0 || !name_start(q[1])) break;
    *colon = (size_t)(q - (const unsigned char *)p);
  }
  size_t len = (size_t)(q - (const unsigned char *)p);
  if (q >= e || *q >= 0x80 || *q == ':' || len > MAX_NAME) return 0;
  return len;
}

/* --- characters ------------------------------------------------------------ */

/* Bytes that need a look in text and attribute values: controls (tab and
 * newline included), '&', '<', ']' and everything above ASCII. */
static const unsigned char special[256] = {
    ['&'] = 1, ['<'] = 1, [']'] = 1,
#define R16(b) [b] = 1, [b + 1] = 1, [b + 2] = 1, [b + 3] = 1, [b + 4] = 1, [b + 5] = 1, \
                [b + 6] = 1, [b + 7] = 1, [b + 8] = 1, [b + 9] = 1, [b + 10] = 1, [b + 11] = 1, \
                [b + 12] = 1, [b + 13] = 1, [b + 14] = 1, [b + 15] = 1
    R16(0x00), R16(0x10), R16(0x80), R16(0x90), R16(0xA0), R16(0xB0),
    R16(0xC0), R16(0xD0), R16(0xE0), R16(0xF0),
#undef R16
};

static bool cont(unsigned char c) { return (c & 0xC0) == 0x80; }

/* The length of the UTF-8 sequence at s (s[0] >= 0x80) when it is valid
 * and an XML character (not a surrogate, U+FFFE or U+FFFF); else 0. */
static size_t utf8_char(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  if (c < 0xC2) return 0;
  if (c < 0xE0) return n >= 2 && cont(s[1]) ? 2 : 0;
  if (c < 0xF0) {
    if (n < 3 || !cont(s[1]) || !cont(s[2])) return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0)) return 0;
    if (c == 0xEF && s[1] == 0xBF && s[2] >= 0xBE) return 0;
    return 3;
  }
  if (c < 0xF5) {
    if (n < 4 || !cont(s[1]) || !cont(s[2]) || !cont(s[3])) return 0;
    if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90)) return 0;
    return 4;
  }
  return 0;
}

/* XML 1.0's Char production. */
static bool xml_char(uint32_t v) {
  return v == 0x9 || v == 0xA || v == 0xD || (v >= 0x20 && v <= 0xD7FF) ||
         (v >= 0xE000 && v <= 0xFFFD) || (v >= 0x10000 && v <= 0x10FFFF);
}

static size_t utf8_put(char *out, uint32_t v) {
  unsigned char *o = (unsigned char *)out;
  if (v < 0x80) {
    o[0] = (unsigned char)v;
    return 1;
  }
  if (v < 0x800) {
    o[0] = (unsigned char)(0xC0 | v >> 6);
    o[1] = (unsigned char)(0x80 | (v & 0x3F));
    return 2;
  }
  if (v < 0x10000) {
    o[0] = (unsigned char)(0xE0 | v >> 12);
    o[1] = (unsigned char)(0x80 | ((v >> 6) & 0x3F));
    o[2] = (unsigned char)(0x80 | (v & 0x3F));
    return 3;
  }
  o[0] = (unsigned char)(0xF0 | v >> 18);
  o[1] = (unsigned char)(0x80 | ((v >> 12) & 0x3F));
  o[2] = (unsigned char)(0x80 | ((v >> 6) & 0x3F));
  o[3] = (unsigned char)(0x80 | (v & 0x3F));
  return 4;
}

static int digit(unsigned char c, bool hex) {
  if (c >= '0' && c <= '9') return c - '0';
  if (!hex) return -1;
  unsigned char l = c | 0x20;
  return l >= 'a' && l <= 'f' ? l - 'a' + 10 : -1;
}

/* The reference at s[0] == '&', of the n bytes left: its length, with its
 * character(s) written at out (never more bytes than the reference has).
 * 0: not a predefined entity or a valid character reference. */
static size_t reference(const unsigned char *s, size_t n, char *out, size_t *written) {
  static const struct {
    const char *name; /* after '&', with the ';' */
    char c;
  } predefined[] = {{"lt;", '<'}, {"gt;", '>'}, {"amp;", '&'}, {"apos;", '\''}, {"quot;", '"'}};
  if (n >= 4 && s[1] == '#') {
    bool hex = s[2] == 'x';
    size_t i = hex ? 3 : 2, digits = 0;
    uint32_t v = 0;
    for (int d; i < n && (d = digit(s[i], hex)) >= 0; i++) {
      if (++digits > 8) return 0;
      v = v * (hex ? 16 : 10) + (uint32_t)d;
    }
    if (digits == 0 || i >= n || s[i] != ';' || !xml_char(v)) return 0;
    *written = utf8_put(out, v);
    return i + 1;
  }
  for (size_t k = 0; k < sizeof predefined / sizeof predefined[0]; k++) {
    size_t len = strlen(predefined[k].name);
    if (n > len && memcmp(s + 1, predefined[k].name, len) == 0) {
      out[0] = predefined[k].c;
      *written = 1;
      return len + 1;
    }
  }
  return 0;
}

/* Text (attr false) or an attribute value (attr true), raw[0..n), decoded
 * into out, which has room for n bytes (decoding never lengthens). The
 * decoded length, or -1 when the scanner does not read it: a control
 * character, a carriage return, a tab or newline in an attribute value
 * (libxml2 normalizes those), '<', "]]>" in text, an entity other than the
 * predefined ones, a character reference XML does not allow, invalid
 * UTF-8. */
static ptrdiff_t decode(const char *raw, size_t n, char *out, bool attr) {
  const unsigned char *s = (const unsigned char *)raw;
  size_t i = 0, o = 0;
  while (i < n) {
    size_t j = i;
    while (j < n && !special[s[j]]) j++;
    memcpy(out + o, s + i, j - i);
    o += j - i;
    i = j;
    if (i == n) break;
    unsigned char c = s[i];
    size_t len = 1, written = 1;
    if (c == '&') {
      len = reference(s + i, n - i, out + o, &written);
      if (len == 0) return -1;
    } else if (c >= 0x80) {
      len = written = utf8_char(s + i, n - i);
      if (len == 0) return -1;
      memcpy(out + o, s + i, len);
    } else if (c == ']') {
      if (!attr && n - i >= 3 && s[i + 1] == ']' && s[i + 2] == '>') return -1;
      out[o] = ']';
    } else if ((c == '\t' || c == '\n') && !attr) {
      out[o] = (char)c;
    } else {
      return -1; /* '<', '\r', other controls, tab or newline in a value */
    }
    i += len;
    o += written;
  }
  return (ptrdiff_t)o;
}

/* --- namespaces ------------------------------------------------------------ */

/* A namespace name the scanner takes as libxml2 does without a word: an
 * absolute URI of plain characters (scheme ':' ...), not one of the two
 * names XML reserves. Anything else libxml2 may warn about, and the
 * scanner leaves to it. */
static bool plain_uri(const char *u, size_t n) {
  static const char xml_ns[] = "http://www.w3.org/XML/1998/namespace";
  static const char xmlns_ns[] = "http://www.w3.org/2000/xmlns/";
  size_t i = 0;
  if (n == 0 || !name_start((unsigned char)u[0]) || u[0] == '_') return false;
  while (i < n && u[i] != ':') {
    unsigned char c = (unsigned char)u[i++];
    if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z') && !(c >= '0' && c <= '9') && c != '+' &&
        c != '-' && c != '.')
      return false;
  }
  if (i == n) return false;
  for (; i < n; i++) {
    unsigned char c = (unsigned char)u[i];
    if (c <= 0x20 || c >= 0x7F || strchr("\"'<>&\\^`{|}", c) != NULL) return false;
  }
  if ((n == sizeof xml_ns - 1 && memcmp(u, xml_ns, n) == 0) ||
      (n == sizeof xmlns_ns - 1 && memcmp(u, xmlns_ns, n) == 0))
    return false;
  return true;
}

/* Whether ns is bound to prefix[0..len) (len 0: the default namespace). */
static bool ns_is(const vs_scan_ns_t *ns, const char *prefix, size_t len) {
  return len == 0 ? ns->prefix == NULL
                  : ns->prefix != NULL && ns->prefix_len == len && memcmp(ns->prefix, prefix, len) == 0;
}

/* The innermost namespace in scope for prefix[0..len) (len 0: the
 * default namespace); NULL when none. */
static vs_scan_ns_t *ns_find(vs_scan_t *sc, const char *prefix, size_t len) {
  for (size_t i = sc->n_ns; i-- > 0;)
    if (ns_is(&sc->ns[i], prefix, len)) return &sc->ns[i];
  return NULL;
}

/* The xmlNs for ns in the object being built, made on first use. */
static xmlNs *ns_made(vs_scan_t *sc, vs_scan_ns_t *ns) {
  if (ns->made != NULL) return ns->made;
  const char *href = ns->href, *prefix = ns->prefix;
  if (!ns->owned) { /* bytes of the answer: NUL-terminated copies */
    href = vs_mem_strndup(sc->mem, ns->href, ns->href_len);
    prefix = ns->prefix != NULL ? vs_mem_strndup(sc->mem, ns->prefix, ns->prefix_len) : NULL;
    if (href == NULL || (ns->prefix != NULL && prefix == NULL)) return NULL;
  }
  return ns->made = vs_tree_ns(sc->mem, (const xmlChar *)href, (const xmlChar *)prefix);
}

bool vs_scan_open(vs_scan_t *sc, vs_mem_t *mem, xmlDoc *doc, xmlNode *above) {
  memset(sc, 0, sizeof *sc);
  sc->mem = mem;
  sc->doc = doc;
  sc->above = above;
  for (const xmlNode *n = above; n != NULL && n->type == XML_ELEMENT_NODE; n = n->parent) {
    for (const xmlNs *d = n->nsDef; d != NULL; d = d->next) {
      const char *prefix = (const char *)d->prefix, *href = (const char *)d->href;
      size_t len = prefix != NULL ? strlen(prefix) : 0;
      if (href == NULL || (prefix != NULL && len == 0)) goto refuse;
      if (ns_find(sc, prefix, len) != NULL) continue; /* an inner one hides it */
      if (sc->n_ns == VS_SCAN_MAX_NS) goto refuse;
      vs_scan_ns_t *ns = &sc->ns[sc->n_ns++];
      ns->owned = true;
      ns->href = strdup(href);
      ns->prefix = prefix != NULL ? strdup(prefix) : NULL;
      if (ns->href == NULL || (prefix != NULL && ns->prefix == NULL)) goto refuse;
      ns->href_len = strlen(href);
      ns->prefix_len = len;
    }
  }
  sc->n_base = sc->n_ns;
  return true;
refuse:
  vs_scan_close(sc);
  return false;
}

void vs_scan_close(vs_scan_t *sc) {
  for (size_t i = 0; i < sc->n_ns; i++) {
    if (!sc->ns[i].owned) continue;
    free((char *)sc->ns[i].href);
    free((char *)sc->ns[i].prefix);
  }
  memset(sc, 0, sizeof *sc);
}

/* --- elements -------------------------------------------------------------- */

typedef struct raw_attr {
  const char *name, *value;
  size_t len, colon, value_len;
  bool decl; /* a namespace declaration */
} raw_attr_t;

/* The declaration a (xmlns or xmlns:p) pushed on the namespaces in scope,
 * after those of the element before it (from mark). */
static bool declare(vs_scan_t *sc, const raw_attr_t *a, size_t mark) {
  const char *prefix = a->colon != 0 ? a->name + 6 : NULL;
  size_t len = a->colon != 0 ? a->len - 6 : 0;
  if (!plain_uri(a->value, a->value_len) || sc->n_ns == VS_SCAN_MAX_NS) return false;
  if (prefix != NULL && ((len == 3 && memcmp(prefix, "xml", 3) == 0) ||
                         (len == 5 && memcmp(prefix, "xmlns", 5) == 0)))
    return false;
  for (size_t i = mark; i < sc->n_ns; i++) /* declared twice on one element */
    if (ns_is(&sc->ns[i], prefix, len)) return false;
  sc->ns[sc->n_ns++] = (vs_scan_ns_t){prefix, len, a->value, a->value_len, NULL, false};
  return true;
}

/* The namespace of a name with a prefix of colon bytes: NULL and *ok for
 * none; *ok false when the prefix is not bound (or the default namespace is
 * undeclared by xmlns=""). is_attr: an attribute without a prefix has no
 * namespace. */
static xmlNs *resolve(vs_scan_t *sc, const char *name, size_t colon, bool is_attr, bool *ok) {
  *ok = true;
  if (colon == 0 && is_attr) return NULL;
  vs_scan_ns_t *ns = ns_find(sc, name, colon);
  if (ns == NULL) {
    *ok = colon == 0;
    return NULL;
  }
  xmlNs *made = ns->href_len > 0 ? ns_made(sc, ns) : NULL;
  *ok = made != NULL;
  return made;
}

static const xmlChar *local_name(vs_scan_t *sc, const char *name, size_t len, size_t colon) {
  size_t skip = colon != 0 ? colon + 1 : 0;
  return (const xmlChar *)vs_mem_strndup(sc->mem, name + skip, len - skip);
}

/* The start tag at *pp ('<' and a name): its element, a child of parent
 * (NULL: the object itself), with its namespace declarations pushed (from
 * *mark on). *pp moves past the tag; *len is its name's length; *empty
 * tells whether it was <x/>. */
static xmlNode *start_tag(vs_scan_t *sc, xmlNode *parent, const char **pp, const char *end,
                          size_t *len_out, bool *empty, size_t *mark) {
  const char *p = *pp + 1;
  size_t colon, len = scan_qname(p, end, &colon);
  if (len == 0) return NULL;
  *len_out = len;
  const char *name = p;
  raw_attr_t at[MAX_ATTRS];
  size_t na = 0;
  p += len;
  for (;;) {
    const char *before = p;
    while (p < end && is_blank((unsigned char)*p)) p++;
    if (p >= end || (size_t)(p - *pp) > MAX_TEXT) return NULL;
    if (*p == '>' || *p == '/') {
      *empty = *p == '/';
      if (*empty && (p + 1 >= end || p[1] != '>')) return NULL;
      p += *empty ? 2 : 1;
      break;
    }
    if (p == before || na == MAX_ATTRS) return NULL; /* attributes are apart */
    raw_attr_t *a = &at[na++];
    a->name = p;
    a->len = scan_qname(p, end, &a->colon);
    if (a->len == 0) return NULL;
    for (p += a->len; p < end && is_blank((unsigned char)*p); p++) {}
    if (p >= end || *p != '=') return NULL;
    for (p++; p < end && is_blank((unsigned char)*p); p++) {}
    if (p >= end || (*p != '"' && *p != '\'')) return NULL;
    const char *close = memchr(p + 1, *p, (size_t)(end - p - 1));
    if (close == NULL) return NULL;
    a->value = p + 1;
    a->value_len = (size_t)(close - p - 1);
    a->decl = (a->len == 5 && memcmp(a->name, "xmlns", 5) == 0) ||
              (a->colon == 5 && memcmp(a->name, "xmlns", 5) == 0);
    p = close + 1;
  }
  *mark = sc->n_ns;
  for (size_t i = 0; i < na; i++)
    if (at[i].decl && !declare(sc, &at[i], *mark)) return NULL;

  bool ok;
  xmlNs *ns = resolve(sc, name, colon, false, &ok);
  const xmlChar *local = ok ? local_name(sc, name, len, colon) : NULL;
  xmlNode *el = local != NULL ? vs_tree_node(sc->mem, sc->doc, parent, XML_ELEMENT_NODE, local)
                              : NULL;
  if (el == NULL) return NULL;
  el->ns = ns;
  xmlAttr *last = NULL;
  for (size_t i = 0; i < na; i++) {
    const raw_attr_t *a = &at[i];
    if (a->decl) continue;
    xmlNs *ans = resolve(sc, a->name, a->colon, true, &ok);
    if (!ok) return NULL;
    const char *al = a->name + (a->colon != 0 ? a->colon + 1 : 0);
    size_t al_len = a->len - (size_t)(al - a->name);
    for (const xmlAttr *o = el->properties; o != NULL; o = o->next) /* the same name twice */
      if (strlen((const char *)o->name) == al_len && memcmp(o->name, al, al_len) == 0 &&
          (o->ns == NULL ? ans == NULL
                         : ans != NULL && strcmp((const char *)o->ns->href,
                                                 (const char *)ans->href) == 0))
        return NULL;
    char *value = vs_mem_alloc(sc->mem, a->value_len + 1);
    ptrdiff_t n = value != NULL ? decode(a->value, a->value_len, value, true) : -1;
    const xmlChar *aname = n >= 0 ? (const xmlChar *)vs_mem_strndup(sc->mem, al, al_len) : NULL;
    if (aname == NULL ||
        (last = vs_tree_attr(sc->mem, el, last, aname, ans, value, (size_t)n)) == NULL)
      return NULL;
  }
  *pp = p;
  return el;
}

/* The text at p (not '<') in element parent, up to the next tag. */
static const char *text(vs_scan_t *sc, xmlNode *parent, const char *p, const char *end) {
  const char *q = memchr(p, '<', (size_t)(end - p));
  /* libxml2 may drop blanks that end a text before a tag (NOBLANKS) */
  if (q == NULL || (size_t)(q - p) > MAX_TEXT || is_blank((unsigned char)q[-1])) return NULL;
  char *buf = vs_mem_alloc(sc->mem, (size_t)(q - p) + 1);
  ptrdiff_t n = buf != NULL ? decode(p, (size_t)(q - p), buf, false) : -1;
  xmlNode *t = n >= 0 ? vs_tree_node(sc->mem, sc->doc, parent, XML_TEXT_NODE, xmlStringText)
                      : NULL;
  if (t == NULL) return NULL;
  buf[n] = '\0';
  t->content = (xmlChar *)buf;
  return q;
}

/* The element at p ('<objects'), read whole into *obj: where it ends, or
 * NULL. */
static const char *object(vs_scan_t *sc, const char *p, const char *end, xmlNode **obj) {
  struct {
    xmlNode *el;
    const char *name; /* its QName in the start tag, for the end tag */
    size_t len, mark;
  } open[VS_SCAN_MAX_DEPTH];
  size_t depth = 0;
  for (size_t i = 0; i < sc->n_base; i++) sc->ns[i].made = NULL; /* the last object's memory */
  sc->n_ns = sc->n_base;
  *obj = NULL;
  while (p < end) {
    if (*p != '<') {
      if ((p = text(sc, open[depth - 1].el, p, end)) == NULL) return NULL;
      continue;
    }
    if (end - p >= 2 && p[1] == '/') {
      const char *name = open[depth - 1].name;
      size_t len = open[depth - 1].len;
      if ((size_t)(end - p) < len + 3 || memcmp(p + 2, name, len) != 0) return NULL;
      const char *tag = p;
      for (p += 2 + len; p < end && is_blank((unsigned char)*p); p++) {}
      if (p >= end || *p != '>' || (size_t)(p - tag) > MAX_TEXT) return NULL;
      p++;
      sc->n_ns = open[--depth].mark;
      if (depth == 0) return p;
      continue;
    }
    /* a start tag, or what the scanner leaves: <!-- -->, <![CDATA[, <? */
    bool empty;
    size_t len, mark;
    const char *name = p + 1;
    xmlNode *el =
        start_tag(sc, depth > 0 ? open[depth - 1].el : NULL, &p, end, &len, &empty, &mark);
    if (el == NULL) return NULL;
    if (depth == 0) {
      el->parent = sc->above; /* as in the document, but not among its children */
      *obj = el;
    }
    if (empty) {
      sc->n_ns = mark;
      if (depth == 0) return p;
      continue;
    }
    if (depth == VS_SCAN_MAX_DEPTH) return NULL;
    open[depth].el = el;
    open[depth].name = name;
    open[depth].len = len;
    open[depth].mark = mark;
    depth++;
  }
  return NULL;
}

const char *vs_scan_objects(vs_scan_t *sc, const char *p, const char *end, vs_scan_fn fn,
                            void *ctx) {
  static const char start[] = "<objects";
  const size_t n = sizeof start - 1;
  while (p < end) {
    if ((size_t)(end - p) <= n || memcmp(p, start, n) != 0 ||
        !(p[n] == '>' || p[n] == '/' || is_blank((unsigned char)p[n])))
      return p;
    xmlNode *obj;
    const char *q = object(sc, p, end, &obj);
    int stop = q != NULL ? fn(ctx, obj) : 0;
    vs_mem_reset(sc->mem);
    if (q == NULL) return p;
    p = q;
    if (stop != 0) return p;
  }
  return p;
}
