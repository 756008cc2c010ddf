#include "diff.h"

#include <stdlib.h>
#include <string.h>

#include "pbtext.h"
#include "strmap.h"
#include "wire.h"

typedef struct diff {
  dv_arena_t *a;
  dv_change_t **changes;
  size_t n, cap;
  bool same_history;
  int failed;   /* out of memory */
  bool corrupt; /* an encoding that does not decode */
  /* For the port groups of the two configs (by index): their encodings
   * when they were left undecoded (reduced()), else NULL. */
  const dv_wire_pg_t *const *raw[2];
} diff_t;

/* A change's path, kept as a chain up to the root and spelled out only when
 * a change is reported: most fields compared are equal. */
typedef struct path {
  const struct path *up;
  const char *field; /* ".field", or NULL for an element */
  const char *name;  /* the element ["name"] when field is NULL */
} path_t;

static size_t path_len(const path_t *p) {
  if (p == NULL) return 0;
  size_t n = path_len(p->up);
  if (p->field != NULL) return n + (n ? 1 : 0) + strlen(p->field);
  n += 4; /* [""] */
  for (const char *c = p->name; *c; c++) n += 1 + (*c == '"' || *c == '\\');
  return n;
}

static char *path_put(const path_t *p, char *o) {
  if (p == NULL) return o;
  char *start = o;
  o = path_put(p->up, o);
  if (p->field != NULL) {
    if (o != start) *o++ = '.';
    size_t n = strlen(p->field);
    memcpy(o, p->field, n);
    return o + n;
  }
  *o++ = '[';
  *o++ = '"';
  for (const char *c = p->name; *c; c++) {
    if (*c == '"' || *c == '\\') *o++ = '\\';
    *o++ = *c;
  }
  *o++ = '"';
  *o++ = ']';
  return o;
}

/* The text of a path: fields joined by dots, elements as ["name"] with
 * quotes and backslashes escaped. */
static char *path_text(dv_arena_t *a, const path_t *p) {
  char *s = dv_arena_alloc(a, path_len(p) + 1);
  if (s != NULL) *path_put(p, s) = '\0';
  return s;
}

static void add(diff_t *d, Dvsconf__V1__ChangeKind kind, const path_t *path, const char *old_value,
                const char *new_value) {
  if (d->failed) return;
  dv_change_t *c = dv_arena_msg(d->a, &dvsconf__v1__change__descriptor);
  char *p = path_text(d->a, path);
  if (c == NULL || p == NULL || old_value == NULL || new_value == NULL) {
    d->failed = 1;
    return;
  }
  c->kind = kind;
  c->path = p;
  c->old_value = (char *)old_value;
  c->new_value = (char *)new_value;
  if (dv_arena_push(d->a, (void ***)&d->changes, &d->n, &d->cap, c) != 0) d->failed = 1;
}

static void diff_msg(diff_t *d, const path_t *path, const ProtobufCMessage *x,
                     const ProtobufCMessage *y);
static void diff_field(diff_t *d, const path_t *p, const ProtobufCMessage *x,
                       const ProtobufCMessage *y, const ProtobufCFieldDescriptor *f);
static void diff_wire(diff_t *d, const path_t *path, const ProtobufCMessageDescriptor *desc,
                      const uint8_t *x, size_t xl, const uint8_t *y, size_t yl, const char *skip);

/* A string list compared as a set: element-wise added / removed. */
static void diff_set(diff_t *d, const path_t *path, const ProtobufCMessage *x,
                     const ProtobufCMessage *y, const ProtobufCFieldDescriptor *f) {
  size_t nx = dv_pb_count(x, f), ny = dv_pb_count(y, f);
  char *const *xs = *(char *const *const *)((const char *)x + f->offset);
  char *const *ys = *(char *const *const *)((const char *)y + f->offset);
  dv_strmap_t *in_y = dv_strmap_new(d->a, ny), *in_x = dv_strmap_new(d->a, nx);
  if (in_y == NULL || in_x == NULL) {
    d->failed = 1;
    return;
  }
  for (size_t i = 0; i < ny; i++) dv_strmap_put(in_y, ys[i], (void *)1);
  for (size_t i = 0; i < nx; i++) dv_strmap_put(in_x, xs[i], (void *)1);
  for (size_t i = 0; i < nx; i++)
    if (!dv_strmap_get(in_y, xs[i]))
      add(d, DVSCONF__V1__CHANGE_KIND__CHANGE_KIND_REMOVED, &(path_t){path, NULL, xs[i]}, xs[i], "");
  for (size_t i = 0; i < ny; i++)
    if (!dv_strmap_get(in_x, ys[i]))
      add(d, DVSCONF__V1__CHANGE_KIND__CHANGE_KIND_ADDED, &(path_t){path, NULL, ys[i]}, "", ys[i]);
}

/* A port group left undecoded, decoded after all (one the wire-level
 * comparison could not pair with its counterpart). */
static dv_pg_cfg_t *full(diff_t *d, const dv_wire_pg_t *w) {
  dv_pg_cfg_t *pg =
      dvsconf__v1__portgroup_config__unpack(dv_arena_allocator(d->a), w->len, w->data);
  if (pg == NULL) d->corrupt = true;
  return pg;
}

static int cmp_pg_name(const void *p, const void *q) {
  const dv_pg_cfg_t *a = *(dv_pg_cfg_t *const *)p, *b = *(dv_pg_cfg_t *const *)q;
  return strcmp(a->name, b->name);
}

static int cmp_index_by_name(const void *p, const void *q, void *ctx) {
  const dv_switch_cfg_t *c = ctx;
  return strcmp(c->portgroups[*(const size_t *)p]->name, c->portgroups[*(const size_t *)q]->name);
}

static void diff_portgroups(diff_t *d, const path_t *path, const dv_switch_cfg_t *x,
                            const dv_switch_cfg_t *y) {
  /* pair[i] = the port group of y matched with x->portgroups[i], or NULL */
  dv_pg_cfg_t **pair = dv_arena_alloc(d->a, (x->n_portgroups + 1) * sizeof(void *));
  size_t *pair_index = dv_arena_alloc(d->a, (x->n_portgroups + 1) * sizeof(size_t));
  char *used = dv_arena_alloc(d->a, y->n_portgroups + 1);
  dv_strmap_t *ykey = dv_strmap_new(d->a, y->n_portgroups);
  dv_strmap_t *yname = dv_strmap_new(d->a, y->n_portgroups);
  if (pair == NULL || pair_index == NULL || used == NULL || ykey == NULL || yname == NULL) {
    d->failed = 1;
    return;
  }
  for (size_t j = 0; j < y->n_portgroups; j++) {
    dv_pg_cfg_t *pg = y->portgroups[j];
    if (pg->key[0]) dv_strmap_put(ykey, pg->key, (void *)(j + 1));
    if (!dv_strmap_get(yname, pg->name)) dv_strmap_put(yname, pg->name, (void *)(j + 1));
  }
  for (int pass = d->same_history ? 0 : 1; pass < 2; pass++) {
    for (size_t i = 0; i < x->n_portgroups; i++) {
      if (pair[i] != NULL) continue;
      const dv_pg_cfg_t *pg = x->portgroups[i];
      size_t j = (size_t)(uintptr_t)(pass == 0 ? (pg->key[0] ? dv_strmap_get(ykey, pg->key) : NULL)
                                               : dv_strmap_get(yname, pg->name));
      if (j == 0 || used[j - 1]) continue;
      used[j - 1] = 1;
      pair[i] = y->portgroups[j - 1];
      pair_index[i] = j - 1;
    }
  }

  /* Report in name order: matched and removed in the order of x's names,
   * then added ones in the order of y's. */
  size_t *order = dv_arena_alloc(d->a, (x->n_portgroups + 1) * sizeof(size_t));
  if (order == NULL) {
    d->failed = 1;
    return;
  }
  for (size_t i = 0; i < x->n_portgroups; i++) order[i] = i;
  qsort_r(order, x->n_portgroups, sizeof(size_t), cmp_index_by_name, (void *)x);
  for (size_t k = 0; k < x->n_portgroups; k++) {
    const dv_pg_cfg_t *pg = x->portgroups[order[k]];
    const dv_pg_cfg_t *other = pair[order[k]];
    const path_t *p = &(path_t){path, NULL, pg->name};
    const dv_wire_pg_t *wx = d->raw[0] ? d->raw[0][order[k]] : NULL;
    const dv_wire_pg_t *wy = other != NULL && d->raw[1] ? d->raw[1][pair_index[order[k]]] : NULL;
    if (wx != NULL && wy != NULL) { /* both undecoded: compared at the wire level */
      diff_wire(d, p, &dvsconf__v1__portgroup_config__descriptor, wx->data, wx->len, wy->data,
                wy->len, d->same_history ? NULL : "key");
      continue;
    }
    if ((wx != NULL && (pg = full(d, wx)) == NULL) ||
        (wy != NULL && (other = full(d, wy)) == NULL))
      return;
    if (other == NULL) {
      add(d, DVSCONF__V1__CHANGE_KIND__CHANGE_KIND_REMOVED, p, dv_pb_msg_text(d->a, &pg->base), "");
      continue;
    }
    if (!d->same_history) {
      /* keys of different switches are different by nature */
      dv_pg_cfg_t ox = *pg, oy = *other;
      ox.key = oy.key = (char *)"";
      diff_msg(d, p, &ox.base, &oy.base);
    } else {
      diff_msg(d, p, &pg->base, &other->base);
    }
  }
  dv_pg_cfg_t **added = dv_arena_alloc(d->a, (y->n_portgroups + 1) * sizeof(void *));
  if (added == NULL) {
    d->failed = 1;
    return;
  }
  size_t na = 0;
  for (size_t j = 0; j < y->n_portgroups; j++) {
    if (used[j]) continue;
    const dv_wire_pg_t *wy = d->raw[1] ? d->raw[1][j] : NULL;
    if ((added[na++] = wy != NULL ? full(d, wy) : y->portgroups[j]) == NULL) return;
  }
  qsort(added, na, sizeof(void *), cmp_pg_name);
  for (size_t j = 0; j < na; j++)
    add(d, DVSCONF__V1__CHANGE_KIND__CHANGE_KIND_ADDED, &(path_t){path, NULL, added[j]->name}, "",
        dv_pb_msg_text(d->a, &added[j]->base));
}

static void diff_msg(diff_t *d, const path_t *path, const ProtobufCMessage *x,
                     const ProtobufCMessage *y) {
  const ProtobufCMessageDescriptor *desc = x->descriptor;
  for (unsigned i = 0; i < desc->n_fields && !d->failed && !d->corrupt; i++)
    diff_field(d, &(path_t){path, desc->fields[i].name, NULL}, x, y, &desc->fields[i]);
}

/* Field f of x and y, at path p. */
static void diff_field(diff_t *d, const path_t *p, const ProtobufCMessage *x,
                       const ProtobufCMessage *y, const ProtobufCFieldDescriptor *f) {
  const ProtobufCMessageDescriptor *desc = x->descriptor;
  if (desc == &dvsconf__v1__switch_config__descriptor && strcmp(f->name, "portgroups") == 0) {
    diff_portgroups(d, p, (const dv_switch_cfg_t *)x, (const dv_switch_cfg_t *)y);
    return;
  }
  if (desc == &dvsconf__v1__switch_config__descriptor && strcmp(f->name, "host_members") == 0) {
    diff_set(d, p, x, y, f);
    return;
  }
  if (f->label != PROTOBUF_C_LABEL_REPEATED && f->type == PROTOBUF_C_TYPE_MESSAGE) {
    const ProtobufCMessage *sx = *(const ProtobufCMessage *const *)dv_pb_value(x, f, 0);
    const ProtobufCMessage *sy = *(const ProtobufCMessage *const *)dv_pb_value(y, f, 0);
    if (sx == NULL && sy == NULL) return;
    if (sx == NULL) sx = dv_pb_empty(d->a, f->descriptor);
    if (sy == NULL) sy = dv_pb_empty(d->a, f->descriptor);
    if (sx == NULL || sy == NULL) {
      d->failed = 1;
      return;
    }
    diff_msg(d, p, sx, sy);
    return;
  }
  if (dv_pb_field_same(x, y, f)) return;
  char *tx = dv_pb_field_text(d->a, x, f), *ty = dv_pb_field_text(d->a, y, f);
  if (tx == NULL || ty == NULL) {
    d->failed = 1;
    return;
  }
  if (strcmp(tx, ty) != 0) add(d, DVSCONF__V1__CHANGE_KIND__CHANGE_KIND_MODIFIED, p, tx, ty);
}

/* The bytes of each field of a message's encoding: the run of its
 * occurrences (tags included), and the payload of the last one. */
typedef struct run {
  const uint8_t *start, *payload;
  size_t len, payload_len;
  unsigned count, type;
} run_t;

#define RUNS_ON_STACK 32 /* fields of a message whose runs diff_wire keeps on its stack */

/* false when the encoding holds a field the descriptor does not know, a
 * field's occurrences apart from each other, or is malformed: then it is
 * decoded instead. */
static bool field_runs(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                       run_t *runs) {
  memset(runs, 0, desc->n_fields * sizeof *runs);
  const uint8_t *p = buf, *end = buf + len;
  long last = -1;
  while (p < end) {
    const uint8_t *start = p, *data;
    unsigned num, type;
    size_t n;
    if (dv_wire_next(&p, end, &num, &type, &data, &n) != 0) return false;
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(desc, num);
    if (f == NULL) return false;
    long i = f - desc->fields;
    run_t *r = &runs[i];
    if (r->count > 0 && i != last) return false;
    if (r->count++ == 0) r->start = start;
    r->len = (size_t)(p - r->start);
    r->payload = data;
    r->payload_len = n;
    r->type = type;
    last = i;
  }
  return true;
}

/* Two encodings of a message (desc), compared field by field as diff_msg
 * compares them decoded, with the same changes in the same order: a field
 * whose bytes are equal has nothing to report, a singular sub-message is
 * compared the same way inside, and only a message with a differing field
 * of any other kind is decoded, to compare that field. `skip` names a field
 * not compared (the key, across two switches). A port group whose VLAN
 * changed decodes one VlanSpec per side, not two whole port groups. */
static void diff_wire(diff_t *d, const path_t *path, const ProtobufCMessageDescriptor *desc,
                      const uint8_t *x, size_t xl, const uint8_t *y, size_t yl, const char *skip) {
  /* on the stack for the messages we know (a diff of many port groups
   * would otherwise take megabytes of arena, each byte touched once) */
  run_t stack_x[RUNS_ON_STACK], stack_y[RUNS_ON_STACK];
  bool small = desc->n_fields <= RUNS_ON_STACK;
  run_t *rx = small ? stack_x : dv_arena_alloc_raw(d->a, (desc->n_fields + 1) * sizeof *rx);
  run_t *ry = small ? stack_y : dv_arena_alloc_raw(d->a, (desc->n_fields + 1) * sizeof *ry);
  if (rx == NULL || ry == NULL) {
    d->failed = 1;
    return;
  }
  bool wire = field_runs(desc, x, xl, rx) && field_runs(desc, y, yl, ry);
  ProtobufCMessage *mx = NULL, *my = NULL;
  ProtobufCAllocator *al = dv_arena_allocator(d->a);
  for (unsigned i = 0; i < desc->n_fields && !d->failed && !d->corrupt; i++) {
    const ProtobufCFieldDescriptor *f = &desc->fields[i];
    if (skip != NULL && strcmp(f->name, skip) == 0) continue;
    if (wire && rx[i].len == ry[i].len &&
        (rx[i].len == 0 || memcmp(rx[i].start, ry[i].start, rx[i].len) == 0))
      continue;
    const path_t *p = &(path_t){path, f->name, NULL};
    if (wire && f->label != PROTOBUF_C_LABEL_REPEATED && f->type == PROTOBUF_C_TYPE_MESSAGE &&
        rx[i].count <= 1 && ry[i].count <= 1 && (rx[i].count == 0 || rx[i].type == 2) &&
        (ry[i].count == 0 || ry[i].type == 2)) {
      /* absent reads as empty, as diff_msg reads a NULL sub-message */
      diff_wire(d, p, f->descriptor, rx[i].count ? rx[i].payload : x, rx[i].payload_len,
                ry[i].count ? ry[i].payload : y, ry[i].payload_len, NULL);
      continue;
    }
    if ((mx == NULL && (mx = protobuf_c_message_unpack(desc, al, xl, x)) == NULL) ||
        (my == NULL && (my = protobuf_c_message_unpack(desc, al, yl, y)) == NULL)) {
      d->corrupt = true;
      return;
    }
    diff_field(d, p, mx, my, f);
  }
}

static int run_diff(diff_t *d, const dv_switch_cfg_t *from, const dv_switch_cfg_t *to,
                    dv_change_t ***out, size_t *n, dv_err_t *err) {
  diff_msg(d, NULL, &from->base, &to->base);
  if (d->failed) return DV_NOMEM(err);
  if (d->corrupt)
    return dv_err_set(err, GRPC_STATUS_DATA_LOSS, "a stored configuration does not decode");
  *out = d->changes;
  *n = d->n;
  return 0;
}

int dv_diff_configs(dv_arena_t *a, const dv_switch_cfg_t *from, const dv_switch_cfg_t *to,
                    bool same_history, dv_change_t ***out, size_t *n, dv_err_t *err) {
  diff_t d = {.a = a, .same_history = same_history};
  return run_diff(&d, from, to, out, n, err);
}

/* How dv_diff_split takes each port group. */
enum { PG_EQUAL, PG_CHANGED, PG_OTHER };

/* A config with the settings of `w` and the port groups that are not
 * PG_EQUAL: the PG_CHANGED ones left undecoded (key and name only, their
 * encodings in *raw), the others decoded. */
static dv_switch_cfg_t *reduced(dv_arena_t *a, const dv_wire_cfg_t *w, const char *how,
                                size_t n_kept, const dv_wire_pg_t ***raw) {
  ProtobufCAllocator *al = dv_arena_allocator(a);
  dv_switch_cfg_t *c = dvsconf__v1__switch_config__unpack(al, w->settings_len, w->settings);
  if (c == NULL) return NULL;
  c->portgroups = dv_arena_alloc(a, (n_kept + 1) * sizeof(void *));
  *raw = dv_arena_alloc(a, (n_kept + 1) * sizeof **raw);
  if (c->portgroups == NULL || *raw == NULL) return NULL;
  for (size_t i = 0; i < w->n_pgs; i++) {
    const dv_wire_pg_t *wp = &w->pgs[i];
    dv_pg_cfg_t *pg;
    if (how[i] == PG_EQUAL) continue;
    if (how[i] == PG_CHANGED) {
      /* as protobuf-c would decode them: a C string ends at a NUL byte */
      pg = dv_arena_msg(a, &dvsconf__v1__portgroup_config__descriptor);
      if (pg == NULL ||
          (pg->key = dv_arena_strndup(a, (const char *)wp->key, wp->key_len)) == NULL ||
          (pg->name = dv_arena_strndup(a, (const char *)wp->name, wp->name_len)) == NULL)
        return NULL;
      (*raw)[c->n_portgroups] = wp;
    } else if ((pg = dvsconf__v1__portgroup_config__unpack(al, wp->len, wp->data)) == NULL) {
      return NULL;
    }
    c->portgroups[c->n_portgroups++] = pg;
  }
  return c;
}

int dv_diff_split(dv_arena_t *a, const dv_wire_cfg_t *x, const dv_wire_cfg_t *y,
                  bool same_history, dv_change_t ***out, size_t *n, dv_err_t *err) {
  char *how_x = dv_arena_alloc_raw(a, x->n_pgs + 1), *how_y = dv_arena_alloc_raw(a, y->n_pgs + 1);
  if (how_x == NULL || how_y == NULL) return DV_NOMEM(err);
  memset(how_x, PG_OTHER, x->n_pgs + 1);
  memset(how_y, PG_OTHER, y->n_pgs + 1);
  /* Both sides are canonical, so in (key, name) order: walk them together.
   * Equal key and name and equal bytes: nothing to report, whichever way
   * the diff matches port groups (keys and names are unique per config, so
   * neither side can match anything else). Equal key and name, other
   * bytes: the pair is compared at the wire level. Anything else is
   * decoded and left to the full comparison, so an unexpected order costs
   * time, never correctness. With both sides' digests (cached versions),
   * equal digests are equal bytes, and neither port group is read; two
   * blocks of them at the same place whose digests are equal hold equal
   * digests, and are passed over whole (wire.h). */
  const uint8_t *dx = y->digests != NULL ? x->digests : NULL, *dy = dx != NULL ? y->digests : NULL;
  const uint8_t *bx = dx != NULL && y->block_digests != NULL ? x->block_digests : NULL;
  const uint8_t *by = bx != NULL ? y->block_digests : NULL;
  size_t equal = 0; /* port groups marked PG_EQUAL, on each side */
  for (size_t i = 0, j = 0; i < x->n_pgs && j < y->n_pgs;) {
    if (bx != NULL && i % DV_WIRE_BLOCK == 0 && j % DV_WIRE_BLOCK == 0) {
      size_t n = x->n_pgs - i < DV_WIRE_BLOCK ? x->n_pgs - i : DV_WIRE_BLOCK;
      size_t ny = y->n_pgs - j < DV_WIRE_BLOCK ? y->n_pgs - j : DV_WIRE_BLOCK;
      if (n == ny && memcmp(bx + i / DV_WIRE_BLOCK * DV_WIRE_DIGEST_LEN,
                            by + j / DV_WIRE_BLOCK * DV_WIRE_DIGEST_LEN, DV_WIRE_DIGEST_LEN) == 0) {
        memset(how_x + i, PG_EQUAL, n);
        memset(how_y + j, PG_EQUAL, n);
        i += n, j += n, equal += n;
        continue;
      }
    }
    const dv_wire_pg_t *px = &x->pgs[i], *py = &y->pgs[j];
    if (dx != NULL && memcmp(dx + i * DV_WIRE_DIGEST_LEN, dy + j * DV_WIRE_DIGEST_LEN,
                             DV_WIRE_DIGEST_LEN) == 0) {
      how_x[i++] = how_y[j++] = PG_EQUAL;
      equal++;
      continue;
    }
    int c = dv_wire_pg_cmp(px, py);
    if (c < 0) {
      i++;
    } else if (c > 0) {
      j++;
    } else {
      bool same = dx == NULL && px->len == py->len &&
                  (px->data == py->data || memcmp(px->data, py->data, px->len) == 0);
      how_x[i] = how_y[j] = same ? PG_EQUAL : PG_CHANGED;
      i++, j++, equal += same;
    }
  }
  const dv_wire_pg_t **raw_x, **raw_y;
  dv_switch_cfg_t *rx = reduced(a, x, how_x, x->n_pgs - equal, &raw_x);
  dv_switch_cfg_t *ry = reduced(a, y, how_y, y->n_pgs - equal, &raw_y);
  if (rx == NULL || ry == NULL)
    return dv_err_set(err, GRPC_STATUS_DATA_LOSS, "a stored configuration does not decode");
  diff_t d = {.a = a, .same_history = same_history, .raw = {raw_x, raw_y}};
  return run_diff(&d, rx, ry, out, n, err);
}

int dv_diff_packed(dv_arena_t *a, const uint8_t *from, size_t from_len, const uint8_t *to,
                   size_t to_len, bool same_history, dv_change_t ***out, size_t *n,
                   dv_err_t *err) {
  dv_wire_cfg_t x, y;
  if (dv_wire_split_config_lite(a, from, from_len, &x, err) != 0 ||
      dv_wire_split_config_lite(a, to, to_len, &y, err) != 0)
    return -1;
  return dv_diff_split(a, &x, &y, same_history, out, n, err);
}
