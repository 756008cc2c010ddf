/* vsphere_tree: the tree of one <objects> element of a property collector
 * answer, as the map_* code of vsphere.c reads it, built in reused memory.
 * Two builders use it: libxml2's SAX handlers (vsphere_soap.c) and the
 * scanner (vsphere_scan.c). Both must build the same tree for the same
 * bytes, so the shape is made here only.
 *
 * The nodes are real xmlNode/xmlAttr/xmlNs structs with the fields the
 * map_* code reads (type, name, children, last, next, prev, parent,
 * content, properties, ns), set as libxml2's own tree builder sets them.
 * They are never linked into a document nor passed to libxml2 functions
 * that modify or free nodes. Private to service/adapters/vsphere*.c.
 *
 * Memory: bump allocation in blocks (vs_mem_t). vs_mem_reset forgets the
 * object, keeping the first block for the next one; vs_mem_free frees all. */
#ifndef DV_VSPHERE_TREE_H
#define DV_VSPHERE_TREE_H

#include <stddef.h>
#include <string.h>

#include <libxml/tree.h>

typedef struct vs_block {
  struct vs_block *next;
  size_t cap, used;
} vs_block_t;

typedef struct vs_mem {
  vs_block_t *blocks; /* first block first */
  vs_block_t *block;  /* the one allocations come from */
} vs_mem_t;

#define VS_MEM_ALIGN ((size_t)16)
#define VS_MEM_HEAD ((sizeof(vs_block_t) + VS_MEM_ALIGN - 1) & ~(VS_MEM_ALIGN - 1))

/* The slow way of vs_mem_alloc: the next kept block, or a new one. */
void *vs_mem_grow(vs_mem_t *m, size_t size);

/* size bytes, 16-aligned; NULL when out of memory. */
static inline void *vs_mem_alloc(vs_mem_t *m, size_t size) {
  size = (size + VS_MEM_ALIGN - 1) & ~(VS_MEM_ALIGN - 1);
  vs_block_t *b = m->block;
  if (b == NULL || b->cap - b->used < size) return vs_mem_grow(m, size);
  void *p = (char *)b + VS_MEM_HEAD + b->used;
  b->used += size;
  return p;
}

/* Zeroed in 32-byte pieces (sizes are rounded to 16), which compilers
 * write as a few vector stores. A single memset of a node's 120 bytes
 * becomes `rep stos` on x86-64 (GCC 12, -O2 and -O3), whose start-up cost,
 * paid for every node, was ~10% of parsing a 2,000-port-group answer. */
static inline void *vs_mem_zalloc(vs_mem_t *m, size_t size) {
  size = (size + VS_MEM_ALIGN - 1) & ~(VS_MEM_ALIGN - 1);
  unsigned char *p = vs_mem_alloc(m, size);
  if (p != NULL) {
    unsigned char *q = p;
    size_t n = size;
    for (; n >= 32; n -= 32, q += 32) memset(q, 0, 32);
    if (n > 0) memset(q, 0, 16);
  }
  return p;
}

/* s[0..n) and a NUL. */
char *vs_mem_strndup(vs_mem_t *m, const char *s, size_t n);

/* Forget the object: its memory serves the next one. Blocks beyond the
 * first are freed so that one huge object does not pin memory. */
void vs_mem_reset(vs_mem_t *m);
void vs_mem_free(vs_mem_t *m);

/* A node of type t named name (not copied), last child of parent when
 * parent is not NULL; doc as libxml2 sets it. NULL when out of memory. */
xmlNode *vs_tree_node(vs_mem_t *m, xmlDoc *doc, xmlNode *parent, xmlElementType t,
                      const xmlChar *name);

/* An attribute named name (not copied) in namespace ns (may be NULL) with
 * value[0..len), copied, after last (NULL: the first) of element el.
 * NULL when out of memory. */
xmlAttr *vs_tree_attr(vs_mem_t *m, xmlNode *el, xmlAttr *last, const xmlChar *name, xmlNs *ns,
                      const char *value, size_t len);

/* A namespace (href and prefix not copied). NULL when out of memory. */
xmlNs *vs_tree_ns(vs_mem_t *m, const xmlChar *href, const xmlChar *prefix);

#endif
