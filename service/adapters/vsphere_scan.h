/* vsphere_scan: the <objects> of a property collector answer read without
 * libxml2, when they are written plainly.
 *
 * A 2,000-port-group answer is ~3.5 MB of <objects> elements, and parsing
 * it is most of an Export's own time. vCenter and vcsim write these
 * elements in a small part of XML: start and end tags, attributes, text,
 * the predefined entities and character references, namespace declarations
 * on some elements, UTF-8, no blank text between elements. The scanner
 * reads that part and nothing else, about twice as fast as libxml2's
 * tokenizer, and builds the same tree (vsphere_tree.h) that vsphere_soap.c's
 * SAX handlers build from libxml2's events for the same bytes.
 *
 * Anything else, it leaves: comments, CDATA sections, processing
 * instructions, other entities, non-ASCII names, a blank at the end of a
 * text before a tag (libxml2 may drop such blanks: XML_PARSE_NOBLANKS), a
 * carriage return, a tab or a newline in an attribute value (normalized by
 * libxml2), an unbound prefix, a duplicate attribute, invalid UTF-8 or a
 * character XML does not allow, and any error. It then stops before the
 * object it could not read whole, and libxml2 parses the rest of the
 * answer from there: objects are delivered whole or not at all, so where
 * the scanner stops changes nothing but speed. tests/fuzz/fuzz_soap.c
 * checks that the trees delivered are the same either way.
 *
 * Known differences, none of which vCenter's answers come near (a review
 * with libxml2 2.9.14's source found them):
 * - libxml2 refuses an answer once its dictionary of names holds ~10 MB
 *   (tens of thousands of distinct long names); names the scanner reads
 *   never enter it, so such an answer is read.
 * - libxml2's push parser reads some things differently depending on where
 *   its input is cut: "]]>" in text, cut after "]]", is not seen; a run of
 *   300 or more blanks before a tag, cut in the middle, is kept where it
 *   would be dropped. The network cuts answers anywhere, so libxml2 alone
 *   does not read them one way either; the scanner leaves both cases to
 *   libxml2, which then reads them from the start of that object.
 *
 * Private to service/adapters/vsphere*.c. Not thread-safe: one scanner per
 * thread (each part of an answer has its own). */
#ifndef DV_VSPHERE_SCAN_H
#define DV_VSPHERE_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include <libxml/tree.h>

#include "vsphere_tree.h"

/* A namespace in scope: prefix NULL for the default namespace. */
typedef struct vs_scan_ns {
  const char *prefix;
  size_t prefix_len;
  const char *href;
  size_t href_len;
  xmlNs *made; /* its xmlNs in the object being built; NULL: none yet */
  bool owned;  /* prefix and href are the scanner's copies (vs_scan_open) */
} vs_scan_ns_t;

#define VS_SCAN_MAX_NS 64
#define VS_SCAN_MAX_DEPTH 128

typedef struct vs_scan {
  vs_mem_t *mem;  /* the object being built (reset after each) */
  xmlDoc *doc;    /* set on nodes, as libxml2's builder does */
  xmlNode *above; /* the objects' parent (their <returnval>) */
  vs_scan_ns_t ns[VS_SCAN_MAX_NS];
  size_t n_base; /* ns[0..n_base): in scope where the objects stand */
  size_t n_ns;
} vs_scan_t;

/* A scanner for the objects that are children of `above` in libxml2's tree
 * of the same answer (the namespaces in scope there are copied: the tree
 * may change afterwards), building them in mem (the caller's; reset after
 * each object). false when out of memory or when too many namespaces are in
 * scope: then read the objects with libxml2. */
bool vs_scan_open(vs_scan_t *sc, vs_mem_t *mem, xmlDoc *doc, xmlNode *above);
void vs_scan_close(vs_scan_t *sc);

/* Called with each object read whole; it is forgotten when the call
 * returns. Non-zero: deliver no more. */
typedef int (*vs_scan_fn)(void *ctx, xmlNode *objects);

/* Read <objects> elements that follow each other from p, up to end at
 * most, and hand each to fn. Returns where the scanner stopped: end, the
 * start of the first thing that is not an <objects> element, the start of
 * an object it could not read whole, or the end of the object after which
 * fn said stop. Everything before that point was delivered. */
const char *vs_scan_objects(vs_scan_t *sc, const char *p, const char *end, vs_scan_fn fn,
                            void *ctx);

#endif
