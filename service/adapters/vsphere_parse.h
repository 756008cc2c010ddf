/* vsphere_parse: the vSphere adapter's response parser, exported for the
 * fuzz target tests/fuzz/fuzz_soap.c, and a counter for tests. Not used by
 * the service itself.
 *
 * dv_vsphere_parse_switch() maps one RetrievePropertiesEx response document
 * (a whole SOAP envelope, as vCenter answers read_switch's query for one
 * switch and its port groups) to a SwitchConfig in arena a, through the same
 * code as read_switch (on_live_object and the map_* functions of vsphere.c),
 * minus the calls read_switch makes afterwards: host_members holds the
 * HostSystem moref values (read_switch looks their names up) and datacenter
 * is empty (read_switch walks the parents). split: 0, the answer is parsed
 * in one piece; else as vs_parse_answer splits it (vsphere_soap.h): the
 * first split bytes, then the rest in two parts at once when it is split
 * bytes or more. The result must not depend on it.
 *
 * Returns 0, or -1 with *err: UNAVAILABLE when the document is not a SOAP
 * envelope, the fault's code for a SOAP fault, INVALID_ARGUMENT when the body
 * is not a RetrievePropertiesExResponse, NOT_FOUND when it holds no switch
 * object, RESOURCE_EXHAUSTED when out of memory. Never crashes on any input. */
#ifndef DV_VSPHERE_PARSE_H
#define DV_VSPHERE_PARSE_H

#include <stddef.h>

#include "../arena.h"
#include "../err.h"
#include "../model.h"

int dv_vsphere_parse_switch(const char *data, size_t len, size_t split, dv_arena_t *a,
                            dv_switch_cfg_t **out, dv_err_t *err);

/* For tests: how many reads of a switch since the process started had its
 * hosts and datacenter read on a second session while its port groups
 * were still arriving (vsphere.c, read_live). */
unsigned long dv_vsphere_early_reads(void);

#endif
