/* For tests: the object trees a RetrievePropertiesEx answer delivers
 * (vs_parse_answer), written out node by node, so that two ways of reading
 * the same answer (libxml2 alone, or with the scanner of
 * service/adapters/vsphere_scan.h) can be compared byte for byte. Used by
 * tests/unit/test_vsphere_parse.c and tests/fuzz/fuzz_soap.c. */
#ifndef DV_TEST_OBJECTS_DUMP_H
#define DV_TEST_OBJECTS_DUMP_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "adapters/vsphere_soap.h"

typedef struct dump {
  char *p;
  size_t len, cap;
  bool broken; /* a tree whose links do not hold */
} dump_t;

static void dump_put(dump_t *d, const char *s, size_t n) {
  if (d->len + n + 1 > d->cap) {
    d->cap = 2 * (d->len + n + 1);
    d->p = realloc(d->p, d->cap);
    if (d->p == NULL) abort();
  }
  memcpy(d->p + d->len, s, n);
  d->len += n;
  d->p[d->len] = '\0';
}

/* s with its NUL; NULL as a lone "\1" */
static void dump_str(dump_t *d, const xmlChar *s) {
  if (s == NULL) dump_put(d, "\1", 1);
  else dump_put(d, (const char *)s, strlen((const char *)s) + 1);
}

/* Everything the map_* code could read of a node, with its links checked. */
static void dump_node(dump_t *d, const xmlNode *n, int depth) {
  char type = (char)('0' + n->type);
  if (depth > 300) d->broken = true;
  dump_put(d, &type, 1);
  dump_str(d, n->name);
  if (n->type != XML_ELEMENT_NODE) {
    dump_str(d, n->content);
    if (n->children != NULL) d->broken = true;
    return;
  }
  dump_str(d, n->ns != NULL ? n->ns->href : NULL);
  for (const xmlAttr *a = n->properties; a != NULL; a = a->next) {
    if (a->parent != n || (a->next != NULL && a->next->prev != a) || a->children == NULL ||
        a->children != a->last || a->children->next != NULL) {
      d->broken = true;
      return;
    }
    dump_put(d, "@", 1);
    dump_str(d, a->name);
    dump_str(d, a->ns != NULL ? a->ns->href : NULL);
    dump_str(d, a->children->content);
  }
  dump_put(d, "(", 1);
  const xmlNode *prev = NULL;
  for (const xmlNode *c = n->children; c != NULL; prev = c, c = c->next) {
    if (c->parent != n || c->prev != prev) {
      d->broken = true;
      return;
    }
    dump_node(d, c, depth + 1);
  }
  if (n->last != prev) d->broken = true;
  dump_put(d, ")", 1);
}

static int dump_object(void *ctx, const xmlNode *objects, dv_err_t *err) {
  (void)err;
  dump_node(ctx, objects, 0);
  return 0;
}

static void *dump_open(void *ctx) {
  (void)ctx;
  return calloc(1, sizeof(dump_t));
}

static int dump_close(void *ctx, void *part, bool keep, dv_err_t *err) {
  (void)err;
  dump_t *d = ctx, *p = part;
  if (keep && p->len > 0) dump_put(d, p->p, p->len);
  if (p->broken) d->broken = true;
  free(p->p);
  free(p);
  return 0;
}

static const vs_parts_t dump_parts = {dump_open, dump_close};

/* The answer's objects as delivered into d (split: as vs_parse_answer
 * takes it; scan: with the scanner). Returns vs_parse_answer's result;
 * *code its status. */
static int objects_dump(const void *data, size_t size, size_t split, bool scan, dump_t *d,
                        grpc_status_code *code) {
  xmlDoc *doc = NULL;
  xmlNode *resp = NULL;
  dv_err_t err = DV_ERR_INIT;
  vs_set_scanning(scan);
  int rc = vs_parse_answer(data, size, dump_object, &dump_parts, split, d, &doc, &resp, &err);
  vs_set_scanning(true);
  xmlFreeDoc(doc);
  *code = err.code;
  return rc;
}

#endif
