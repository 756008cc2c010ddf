/* vsphere_tree: see vsphere_tree.h. */
#include "vsphere_tree.h"

#include <stdlib.h>

#include <libxml/parserInternals.h> /* xmlStringText: text node names */

#define VS_BLOCK_SIZE ((size_t)64 * 1024)

void *vs_mem_grow(vs_mem_t *m, size_t size) {
  vs_block_t *b = m->block != NULL ? m->block->next : NULL; /* blocks kept after a reset */
  while (b != NULL && b->cap - b->used < size) b = b->next;
  if (b == NULL) {
    size_t cap = size > VS_BLOCK_SIZE ? size : VS_BLOCK_SIZE;
    b = malloc(VS_MEM_HEAD + cap);
    if (b == NULL) return NULL;
    b->cap = cap;
    b->used = 0;
    b->next = NULL;
    if (m->block != NULL) {
      b->next = m->block->next;
      m->block->next = b;
    } else {
      m->blocks = b;
    }
  }
  m->block = b;
  void *p = (char *)b + VS_MEM_HEAD + b->used;
  b->used += size;
  return p;
}

char *vs_mem_strndup(vs_mem_t *m, const char *s, size_t n) {
  char *d = vs_mem_alloc(m, n + 1);
  if (d == NULL) return NULL;
  if (n > 0) memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

void vs_mem_reset(vs_mem_t *m) {
  if (m->blocks != NULL) {
    vs_block_t *b = m->blocks->next;
    while (b != NULL) {
      vs_block_t *next = b->next;
      free(b);
      b = next;
    }
    m->blocks->next = NULL;
    m->blocks->used = 0;
  }
  m->block = m->blocks;
}

void vs_mem_free(vs_mem_t *m) {
  vs_mem_reset(m);
  free(m->blocks);
  m->blocks = m->block = NULL;
}

xmlNode *vs_tree_node(vs_mem_t *m, xmlDoc *doc, xmlNode *parent, xmlElementType t,
                      const xmlChar *name) {
  xmlNode *n = vs_mem_zalloc(m, sizeof *n);
  if (n == NULL) return NULL;
  n->type = t;
  n->name = name;
  n->doc = doc;
  if (parent != NULL) {
    n->parent = parent;
    n->prev = parent->last;
    if (parent->last != NULL) parent->last->next = n;
    else parent->children = n;
    parent->last = n;
  }
  return n;
}

xmlAttr *vs_tree_attr(vs_mem_t *m, xmlNode *el, xmlAttr *last, const xmlChar *name, xmlNs *ns,
                      const char *value, size_t len) {
  xmlAttr *a = vs_mem_zalloc(m, sizeof *a);
  xmlNode *t = vs_mem_zalloc(m, sizeof *t);
  char *v = vs_mem_strndup(m, value, len);
  if (a == NULL || t == NULL || v == NULL) return NULL;
  a->type = XML_ATTRIBUTE_NODE;
  a->name = name;
  a->ns = ns;
  a->parent = el;
  a->doc = el->doc;
  a->prev = last;
  a->children = a->last = t;
  t->type = XML_TEXT_NODE;
  t->name = xmlStringText;
  t->content = (xmlChar *)v;
  t->parent = (xmlNode *)a;
  t->doc = el->doc;
  if (last != NULL) last->next = a;
  else el->properties = a;
  return a;
}

xmlNs *vs_tree_ns(vs_mem_t *m, const xmlChar *href, const xmlChar *prefix) {
  xmlNs *ns = vs_mem_zalloc(m, sizeof *ns);
  if (ns == NULL) return NULL;
  ns->type = XML_NAMESPACE_DECL;
  ns->href = href;
  ns->prefix = prefix;
  return ns;
}
