/* intake: a configuration document arriving as bytes (PutVersion's config),
 * checked and made canonical port group by port group.
 *
 * A document is most often the switch's latest version with a few port
 * groups changed. A port group whose bytes equal those of the port group
 * with the same key and name in a stored version of the switch (`known`, a
 * verified canonical split that intake made, so every port group in it
 * passed these checks) is that port group, already checked and already
 * canonical: it is taken as it is, without being decoded. Every other port
 * group is decoded, checked (dv_validate_portgroup and its strings), made
 * canonical and encoded again. The switch's own fields are always decoded
 * and checked. Then the checks across port groups (names and identities
 * unique) run, and the canonical encoding is put together.
 *
 * Most often of all, the document is known's canonical bytes with a run of
 * port groups in one place replaced. Compared with those bytes as a whole,
 * it is then taken without reading the port groups that stay at all: only
 * the few replacements are decoded and checked, and checked against the
 * others (`as_known_changed`). The result is then that run (`run`,
 * wire.h), and the whole split is made only when asked for
 * (dv_intake_split): the store reads the delta off the run and makes the
 * split after the reply. Anything else about such a document is left to
 * the port-group-by-port-group way, which decides as if this had not been
 * tried.
 *
 * The result is the canonical encoding that decoding the whole document,
 * dv_validate_config and dv_config_encode give, byte for byte, and the same
 * verdict (tests/unit/test_intake.c checks this, fuzz_canon on every
 * input), at a cost that grows with what changed rather than with the size
 * of the switch. When a document has several faults, which one is reported
 * may differ: port groups are checked in canonical order. */
#ifndef DV_INTAKE_H
#define DV_INTAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"
#include "model.h"
#include "wire.h"

typedef struct dv_intake {
  dv_switch_cfg_t *settings; /* the switch's own fields (no port groups): checked, canonical */
  uint8_t *canon;            /* after dv_intake_finish: the whole config, canonical (the
                                document's own bytes when they are canonical already) */
  size_t canon_len;
  /* canon split into settings and port groups, identities set; when taken
   * whole (as_known_changed), only its settings, n_pgs, buf and validated
   * until dv_intake_split makes the rest (pgs NULL until then) */
  dv_wire_cfg_t split;
  size_t decoded;        /* port groups that had to be decoded (the rest were known) */
  bool as_known_changed; /* taken whole: known's bytes with a few port groups replaced */
  dv_wire_run_t run;     /* as_known_changed: known, and what replaces which (wire.h) */
  dv_wire_cfg_t doc;   /* the document as sent, split (its port groups point into it);
                          left empty when it was taken whole (as_known_changed) */
  const uint8_t *doc_bytes;
  size_t doc_len;
} dv_intake_t;

/* Read the document's settings and check the switch's own fields (its
 * port groups are read by dv_intake_finish). 0; -1 with *err
 * (INVALID_ARGUMENT naming the field); or 1 when the bytes are not a
 * well-formed encoding the wire-level split understands: the caller then
 * decodes the whole message the usual way, for the usual answer. The
 * document's bytes must stay alive until dv_intake_finish returns. */
int dv_intake_open(dv_arena_t *a, const uint8_t *doc, size_t len, dv_intake_t *in, dv_err_t *err);

/* Take the port groups: from `known` (a canonical split with identities of
 * a stored, verified version of the switch; NULL for none; not used unless
 * validated) when equal, else decoded and checked. Then the cross checks and the canonical
 * encoding. 0, -1 with *err, or 1 as above. */
int dv_intake_finish(dv_arena_t *a, dv_intake_t *in, const dv_wire_cfg_t *known, dv_err_t *err);

/* After dv_intake_finish: in->split made in full when it was taken whole
 * (in->run; known must still be alive). 0, or -1 when out of memory. */
int dv_intake_split(dv_arena_t *a, dv_intake_t *in);

#endif
