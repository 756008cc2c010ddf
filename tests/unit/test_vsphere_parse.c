/* The vSphere adapter's answer parser (dv_vsphere_parse_switch, the same
 * streaming code read_switch runs on vCenter's RetrievePropertiesEx answer):
 * what reaches the model when objects are built one at a time from parser
 * events, fed in network-sized slices. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libxml/parser.h>

#include "adapters/vsphere_parse.h"
#include "adapters/vsphere_soap.h"
#include "common/objects_dump.h"

#define HEAD                                                                              \
  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"                                           \
  "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\""        \
  " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>"               \
  "<RetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval>"
#define TAIL "</returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>"

#define SWITCH_OBJ                                                                          \
  "<objects><obj type=\"VmwareDistributedVirtualSwitch\">dvs-1</obj>"                       \
  "<propSet><name>config</name><val xsi:type=\"VMwareDVSConfigInfo\"><name>sw</name>"       \
  "<uuid>u-1</uuid><maxMtu>9000</maxMtu>"                                                   \
  "<uplinkPortgroup type=\"DistributedVirtualPortgroup\">dvpg-up</uplinkPortgroup></val>"    \
  "</propSet><propSet><name>summary.hostMember</name><val>"                                 \
  "<ManagedObjectReference type=\"HostSystem\">host-1</ManagedObjectReference></val>"       \
  "</propSet></objects>"

/* A growable string, enough for building answers. */
typedef struct sb {
  char *p;
  size_t len, cap;
} sb_t;

static void sb_add(sb_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  assert_true(n >= 0);
  if (b->len + (size_t)n + 1 > b->cap) {
    b->cap = (b->len + (size_t)n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    assert_non_null(b->p);
  }
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

/* A port group object; name and description are XML text as given. */
static void add_pg(sb_t *b, const char *key, const char *name, const char *descr, int vlan) {
  sb_add(b,
         "<objects><obj type=\"DistributedVirtualPortgroup\">%s</obj><propSet><name>config</name>"
         "<val xmlns:XMLSchema-instance=\"http://www.w3.org/2001/XMLSchema-instance\""
         " XMLSchema-instance:type=\"DVPortgroupConfigInfo\"><key>%s</key><name>%s</name>"
         "<description>%s</description><numPorts>8</numPorts><type>earlyBinding</type>"
         "<defaultPortConfig XMLSchema-instance:type=\"VMwareDVSPortSetting\">"
         "<vlan XMLSchema-instance:type=\"VmwareDistributedVirtualSwitchVlanIdSpec\">"
         "<inherited>false</inherited><vlanId>%d</vlanId></vlan></defaultPortConfig></val>"
         "</propSet></objects>",
         key, key, name, descr, vlan);
}

static dv_pg_cfg_t *pg_named(dv_switch_cfg_t *cfg, const char *name) {
  for (size_t i = 0; i < cfg->n_portgroups; i++)
    if (strcmp(cfg->portgroups[i]->name, name) == 0) return cfg->portgroups[i];
  fail_msg("no port group named \"%s\"", name);
  return NULL;
}

static int parse(const sb_t *b, dv_arena_t *a, dv_switch_cfg_t **cfg, dv_err_t *err) {
  return dv_vsphere_parse_switch(b->p, b->len, 0, a, cfg, err);
}

/* Many objects, text split across the parser's input slices, entities,
 * character references, CDATA, a comment inside text, blank-only text. */
static void objects_reach_the_model(void **state) {
  (void)state;
  dv_arena_t *a = dv_arena_new();
  sb_t b = {0};
  sb_add(&b, "%s%s", HEAD, SWITCH_OBJ);
  add_pg(&b, "dvpg-up", "uplinks", "", 0);
  char *long_text = malloc(5001);
  assert_non_null(long_text);
  for (int i = 0; i < 5000; i++) long_text[i] = (char)('a' + i % 26);
  long_text[5000] = '\0';
  add_pg(&b, "dvpg-1", "web &amp; db &#233;&lt;", long_text, 10);
  add_pg(&b, "dvpg-2", "<![CDATA[cd<a>]]>", "   ", 20);
  add_pg(&b, "dvpg-3", "a<!-- note -->b", "x", 30);
  for (int i = 0; i < 300; i++) {
    char key[32], name[32];
    snprintf(key, sizeof key, "dvpg-n%d", i);
    snprintf(name, sizeof name, "pg-%d", i);
    add_pg(&b, key, name, "", 100 + i);
  }
  sb_add(&b, "%s", TAIL);

  dv_switch_cfg_t *cfg = NULL;
  dv_err_t err = DV_ERR_INIT;
  assert_int_equal(parse(&b, a, &cfg, &err), 0);
  assert_string_equal(cfg->name, "sw");
  assert_string_equal(cfg->uuid, "u-1");
  assert_int_equal(cfg->max_mtu, 9000);
  assert_int_equal(cfg->n_host_members, 1);
  assert_string_equal(cfg->host_members[0], "host-1");
  assert_int_equal(cfg->n_portgroups, 303); /* the uplink one is not a port group of the model */

  dv_pg_cfg_t *pg = pg_named(cfg, "web & db \xc3\xa9<");
  assert_string_equal(pg->key, "dvpg-1");
  assert_string_equal(pg->description, long_text);
  assert_int_equal(pg->num_ports, 8);
  assert_string_equal(pg->binding_type, "earlyBinding");
  assert_int_equal(pg->default_port_config->vlan->vlan_id, 10);
  assert_string_equal(pg_named(cfg, "cd<a>")->description, "   ");
  assert_int_equal(pg_named(cfg, "ab")->default_port_config->vlan->vlan_id, 30);
  assert_int_equal(pg_named(cfg, "pg-299")->default_port_config->vlan->vlan_id, 399);
  free(long_text);
  free(b.p);
  dv_arena_free(a);
}

static void refused_answers(void **state) {
  (void)state;
  dv_arena_t *a = dv_arena_new();
  dv_switch_cfg_t *cfg = NULL;
  sb_t b = {0};

  /* cut after some objects were already handed over */
  sb_add(&b, "%s%s", HEAD, SWITCH_OBJ);
  for (int i = 0; i < 20; i++) add_pg(&b, "k", "n", "", 1);
  b.len -= 40;
  dv_err_t err = DV_ERR_INIT;
  assert_int_equal(parse(&b, a, &cfg, &err), -1);
  assert_int_equal(err.code, GRPC_STATUS_UNAVAILABLE);

  /* SOAP forbids a DOCTYPE: refused, its entities never expanded */
  b.len = 0;
  sb_add(&b, "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e \"EEE\">]>%s%s",
         HEAD + strlen("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"), SWITCH_OBJ);
  add_pg(&b, "k", "&e;", "", 1);
  sb_add(&b, "%s", TAIL);
  dv_err_clear(&err);
  assert_int_equal(parse(&b, a, &cfg, &err), -1);
  assert_int_equal(err.code, GRPC_STATUS_UNAVAILABLE);

  /* a fault, with objects inside it: the fault's code, no object taken */
  b.len = 0;
  sb_add(&b,
         "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\""
         " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body><soapenv:Fault>"
         "<faultcode>ServerFaultCode</faultcode><faultstring>no</faultstring><detail>"
         "<NotAuthenticatedFault xsi:type=\"NotAuthenticated\"/></detail><returnval>%s"
         "</returnval></soapenv:Fault></soapenv:Body></soapenv:Envelope>",
         SWITCH_OBJ);
  dv_err_clear(&err);
  assert_int_equal(parse(&b, a, &cfg, &err), -1);
  assert_int_equal(err.code, GRPC_STATUS_FAILED_PRECONDITION);

  /* not a RetrievePropertiesEx answer */
  b.len = 0;
  sb_add(&b, "%s", HEAD);
  memcpy(strstr(b.p, "RetrievePropertiesExResponse"), "RetrievePropertiesExRespons_", 28);
  sb_add(&b, "%s</returnval></RetrievePropertiesExRespons_></soapenv:Body></soapenv:Envelope>",
         SWITCH_OBJ);
  dv_err_clear(&err);
  assert_int_equal(parse(&b, a, &cfg, &err), -1);
  assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);

  free(b.p);
  dv_arena_free(a);
}

/* n port groups (keys dvpg-0 ...) added to b. */
static void many_pgs_after(sb_t *b, int n) {
  for (int i = 0; i < n; i++) {
    char key[32], name[32];
    snprintf(key, sizeof key, "dvpg-%d", i);
    snprintf(name, sizeof name, "pg &amp; %d", i);
    add_pg(b, key, name, "a description long enough to make objects of some size", i % 4000);
  }
}

/* An answer of n port groups, without its tail. */
static void many_pgs(sb_t *b, int n) {
  b->len = 0;
  sb_add(b, "%s%s", HEAD, SWITCH_OBJ);
  add_pg(b, "dvpg-up", "uplinks", "", 0);
  many_pgs_after(b, n);
}

/* Insert text into b before the first `before` at or after the middle of
 * what the parser keeps to parse in two parts (split bytes on: the split
 * is looked for from there, on the answer with text in it). */
static size_t insert_before(sb_t *b, size_t from, const char *before, const char *text) {
  size_t n = strlen(text);
  char *at = strstr(b->p + from, before);
  assert_non_null(at);
  size_t pos = (size_t)(at - b->p), rest = b->len - pos;
  sb_add(b, "%s", text); /* room */
  memmove(b->p + pos + n, b->p + pos, rest);
  memcpy(b->p + pos, text, n);
  return pos;
}

static size_t insert_past_middle(sb_t *b, size_t split, const char *before, const char *text) {
  return insert_before(b, split + (b->len + strlen(text) - split) / 2, before, text);
}

/* The answer parsed in two parts (split: the first split bytes, then the
 * rest) comes out as the answer in one piece: the same config, or the same
 * failure. kept: whether the second part was kept (else it was dropped,
 * or none was made, and the first part's parser read on). */
static void assert_two_parts_as_one(const char *what, const sb_t *b, size_t split, bool kept) {
  dv_arena_t *a = dv_arena_new();
  dv_switch_cfg_t *one = NULL, *two = NULL;
  dv_err_t e1 = DV_ERR_INIT, e2 = DV_ERR_INIT;
  int rc1 = dv_vsphere_parse_switch(b->p, b->len, 0, a, &one, &e1);
  unsigned long before = vs_parts_kept();
  int rc2 = dv_vsphere_parse_switch(b->p, b->len, split, a, &two, &e2);
  if (vs_parts_kept() - before != (kept ? 1u : 0u))
    fail_msg("%s: the second part was %s", what, kept ? "not kept" : "kept");
  if (rc2 != rc1 || e2.code != e1.code)
    fail_msg("%s: in two parts %d (%s), in one piece %d (%s)", what, rc2, e2.msg, rc1, e1.msg);
  if (rc1 == 0) {
    uint8_t *c1, *c2;
    size_t l1, l2;
    assert_int_equal(dv_config_encode(a, one, &c1, &l1, &e1), 0);
    assert_int_equal(dv_config_encode(a, two, &c2, &l2, &e2), 0);
    assert_int_equal(l1, l2);
    assert_memory_equal(c1, c2, l1);
  }
  dv_arena_free(a);
}

/* A large answer is parsed in two parts at once (vsphere_soap.c, rx_split)
 * only where that is exactly the answer in one piece; every way the
 * bytes could mislead the split makes it read on in one piece instead. */
static void answers_in_two_parts_are_answers_in_one(void **state) {
  (void)state;
  enum { SPLIT = 4096 };
  sb_t b = {0};
  many_pgs(&b, 300);
  sb_add(&b, "%s", TAIL);
  assert_two_parts_as_one("300 port groups", &b, SPLIT, true);
  assert_two_parts_as_one("in one piece", &b, 0, false);
  assert_two_parts_as_one("a rest too short to split", &b, b.len, false);

  /* where the second part would start: objects inside a comment; objects
   * deeper in an object; a second switch object (read as in one piece: the
   * later one wins) */
  const char *misleading[][2] = {
      {"<objects>",
       "<!-- <objects><obj type=\"DistributedVirtualPortgroup\">dvpg-x</obj></objects> -->"},
      {"</objects>", "<propSet><name>z</name><val><objects>deeper</objects></val></propSet>"},
      {"<objects>", SWITCH_OBJ},
  };
  for (size_t i = 0; i < sizeof misleading / sizeof misleading[0]; i++) {
    many_pgs(&b, 300);
    sb_add(&b, "%s", TAIL);
    insert_past_middle(&b, SPLIT, misleading[i][0], misleading[i][1]);
    assert_two_parts_as_one(misleading[i][1], &b, SPLIT, false);
  }

  /* after the split: an element that is not an object between objects;
   * a comment holding the last "</objects>"; a CDATA section after the
   * objects; no end */
  many_pgs(&b, 300);
  sb_add(&b, "%s", TAIL);
  char *last = strstr(b.p + b.len - 2000, "<objects>");
  assert_non_null(last);
  sb_t t = {0};
  sb_add(&t, "%.*s<token>t</token>%s", (int)(last - b.p), b.p, last);
  assert_two_parts_as_one("a token between objects", &t, SPLIT, false);
  free(t.p);
  many_pgs(&b, 300);
  sb_add(&b, "<!-- </objects> -->%s", TAIL);
  assert_two_parts_as_one("a comment holding the last end tag", &b, SPLIT, false);
  many_pgs(&b, 300);
  sb_add(&b, "<![CDATA[ </objects> ]]>%s", TAIL);
  assert_two_parts_as_one("a CDATA section after the objects", &b, SPLIT, false);
  many_pgs(&b, 300);
  assert_two_parts_as_one("no end", &b, SPLIT, false);

  /* before the split: an object whose start tag is not spelled "<objects>"
   * (the second part's parser reads the answer's start without taking
   * objects); "<objects>" as text in a CDATA section; a CDATA section open
   * at the split, blanks only read so far */
  sb_t one = {0};
  add_pg(&one, "dvpg-s", "spelled", "", 5);
  b.len = 0;
  sb_add(&b, "%s<objects %s%s", HEAD, one.p + strlen("<objects"), SWITCH_OBJ);
  free(one.p);
  many_pgs_after(&b, 300);
  sb_add(&b, "%s", TAIL);
  assert_two_parts_as_one("an object spelled <objects >", &b, SPLIT, true);
  b.len = 0;
  sb_add(&b, "%s<![CDATA[<objects>]]>%s", HEAD, SWITCH_OBJ);
  many_pgs_after(&b, 300);
  sb_add(&b, "<!--]]>-->");
  add_pg(&b, "dvpg-last", "last", "", 7);
  sb_add(&b, "%s", TAIL);
  assert_two_parts_as_one("<objects> in a CDATA section first", &b, SPLIT, false);
  many_pgs(&b, 300);
  sb_add(&b, "%s", TAIL);
  /* in one piece, objects as text up to the "]]>" in the comment; to a
   * second part, objects and a comment */
  size_t at = insert_past_middle(&b, SPLIT, "<objects>", "<![CDATA[    ");
  insert_before(&b, at + 2000, "<objects>", "<!-- ]]> -->");
  assert_two_parts_as_one("a CDATA section open at the split", &b, SPLIT, false);

  /* not UTF-8: read in one piece (a decoder's state is its parser's); an
   * input that cannot be converted fails, whole or in parts, instead of
   * ending the answer early */
  many_pgs(&b, 300);
  sb_add(&b, "%s", TAIL);
  sb_t latin = {0};
  sb_add(&latin, "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>%s", strchr(b.p, '\n') + 1);
  assert_two_parts_as_one("ISO-8859-1", &latin, SPLIT, false);
  latin.len = 0;
  sb_add(&latin, "<?xml version=\"1.0\" encoding=\"CP1252\"?>%s", strchr(b.p, '\n') + 1);
  *strstr(latin.p + latin.len / 2, "a description") = (char)0x81; /* undefined in CP1252 */
  assert_two_parts_as_one("CP1252 with a byte it does not define", &latin, SPLIT, false);
  /* ... and libxml2 says nothing of it on stderr (dvsconfd's log) */
  dv_arena_t *a = dv_arena_new();
  dv_switch_cfg_t *cfg;
  dv_err_t err = DV_ERR_INIT;
  FILE *said = tmpfile();
  assert_non_null(said);
  fflush(stderr);
  int saved = dup(2);
  assert_true(saved >= 0 && dup2(fileno(said), 2) == 2);
  int rc = dv_vsphere_parse_switch(latin.p, latin.len, 0, a, &cfg, &err);
  fflush(stderr);
  assert_int_equal(dup2(saved, 2), 2);
  close(saved);
  assert_int_equal(rc, -1);
  assert_int_equal(err.code, GRPC_STATUS_UNAVAILABLE);
  assert_int_equal(fseek(said, 0, SEEK_END), 0);
  assert_int_equal(ftell(said), 0);
  fclose(said);
  dv_arena_free(a);
  free(latin.p);
  free(b.p);
}

/* One case of the scanner's: an object put among 300 port groups. */
typedef struct scan_case {
  const char *what, *object;
  int outcome; /* TAKEN: the scanner reads it; LEFT: libxml2 does; REFUSED: the answer fails */
} scan_case_t;

enum { TAKEN, LEFT, REFUSED };

#define PG_OPEN "<objects><obj type=\"DistributedVirtualPortgroup\">dvpg-c</obj><propSet>"
#define PG_VAL(inner)                                                                    \
  PG_OPEN "<name>config</name><val xmlns:XMLSchema-instance=\"" VS_NS_XSI "\""          \
          " XMLSchema-instance:type=\"DVPortgroupConfigInfo\"><key>dvpg-c</key>" inner     \
          "<numPorts>8</numPorts></val></propSet></objects>"

/* The answer of 300 port groups with obj after the 150th, and its tail. */
static void answer_with(sb_t *b, const char *obj) {
  many_pgs(b, 150);
  sb_add(b, "%s", obj);
  many_pgs_after(b, 150);
  sb_add(b, "%s", TAIL);
}

/* How many objects the scanner read of b, in two parts (split), checking
 * that what was delivered is, node by node, what libxml2 alone delivers,
 * with the same outcome. -1: the answer failed. */
static long scanned_as_libxml2(const char *what, const sb_t *b, size_t split) {
  dump_t ref = {0}, d = {0};
  grpc_status_code ref_code, code;
  int ref_rc = objects_dump(b->p, b->len, 0, false, &ref, &ref_code);
  unsigned long before = vs_objects_scanned();
  int rc = objects_dump(b->p, b->len, split, true, &d, &code);
  long scanned = (long)(vs_objects_scanned() - before);
  if (rc != ref_rc || code != ref_code)
    fail_msg("%s: with the scanner %d (%d), libxml2 alone %d (%d)", what, rc, code, ref_rc,
             ref_code);
  if (d.broken || ref.broken) fail_msg("%s: a tree with broken links", what);
  if (rc == 0 && (d.len != ref.len || memcmp(d.p, ref.p, d.len) != 0))
    fail_msg("%s: the scanner's objects are not libxml2's", what);
  free(d.p);
  free(ref.p);
  return rc == 0 ? scanned : -1;
}

/* The scanner (service/adapters/vsphere_scan.h) reads the XML vCenter
 * writes, and leaves to libxml2 whatever it does not read exactly as
 * libxml2 does: either way the objects delivered are libxml2's. */
static void scanner_reads_what_libxml2_reads(void **state) {
  (void)state;
  static const scan_case_t cases[] = {
      {"a port group as vcsim writes it", PG_VAL("<name>web</name>"), TAKEN},
      {"predefined entities", PG_VAL("<name>a &amp; b &lt;c&gt; &quot;q&quot; &apos;</name>"),
       TAKEN},
      {"character references", PG_VAL("<name>&#233;&#x1F600;&#65;&#x9;&#10;</name>"), TAKEN},
      {"UTF-8", PG_VAL("<name>caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc2\x85</name>"), TAKEN},
      {"attributes in single quotes, references",
       PG_VAL("<name a='x&amp;y' b = \"&#x3c;&#62;\" >n</name >"), TAKEN},
      {"a prefix declared inside",
       PG_VAL("<v:name xmlns:v=\"urn:vim25\" v:extra=\"1\">p</v:name>"), TAKEN},
      {"another default namespace inside",
       PG_VAL("<description xmlns=\"urn:other\">d</description><name>n</name>"), TAKEN},
      {"empty elements", PG_VAL("<description/><description></description><name>e</name>"),
       TAKEN},
      {"tab and newline inside text", PG_VAL("<name>a\tb\nc</name>"), TAKEN},
      {"blanks that start a text", PG_VAL("<name> \n\tlead</name>"), TAKEN},
      {"a comment", PG_VAL("<name>a<!-- c -->b</name>"), LEFT},
      {"a CDATA section", PG_VAL("<name><![CDATA[<x>]]></name>"), LEFT},
      {"a processing instruction", PG_VAL("<name>a<?pi x?></name>"), LEFT},
      {"blanks that end a text", PG_VAL("<name>trail </name>"), LEFT},
      {"blanks between elements", PG_VAL("<name>n</name>\n  <description>d</description>"), LEFT},
      {"a carriage return", PG_VAL("<name>a\r\nb</name>"), LEFT},
      {"a tab in an attribute value", PG_VAL("<name a=\"x\ty\">n</name>"), LEFT},
      {"a non-ASCII element name", PG_VAL("<n\xc3\xa4me>n</n\xc3\xa4me><name>n</name>"), LEFT},
      {"an attribute with the xml prefix", PG_VAL("<name xml:lang=\"en\">n</name>"), LEFT},
      {"an unbound prefix", PG_VAL("<q:name>n</q:name><name>n</name>"), LEFT},
      {"the same namespace attribute twice",
       PG_VAL("<name xmlns:a=\"urn:x\" xmlns:b=\"urn:x\" a:t=\"1\" b:t=\"2\">n</name>"), LEFT},
      {"a relative namespace name", PG_VAL("<name xmlns:r=\"rel\" r:t=\"1\">n</name>"), LEFT},
      {"an object with a prefix", "<v:objects xmlns:v=\"urn:vim25\"><v:obj type=\"Folder\">f-1"
                                  "</v:obj></v:objects>", LEFT},
      {"the same attribute twice", PG_VAL("<name a=\"1\" a=\"2\">n</name>"), REFUSED},
      {"an undefined entity", PG_VAL("<name>&nbsp;</name>"), REFUSED},
      {"]]> in text", PG_VAL("<name>a]]>b</name>"), REFUSED},
      {"a reference to a character XML does not allow", PG_VAL("<name>&#1;</name>"), REFUSED},
      {"invalid UTF-8", PG_VAL("<name>\xc3\x28</name>"), REFUSED},
      {"U+FFFF", PG_VAL("<name>\xef\xbf\xbf</name>"), REFUSED},
      {"an end tag that does not match", PG_VAL("<name>n</nam>"), REFUSED},
      {"a control character", PG_VAL("<name>a\x01</name>"), REFUSED},
  };
  enum { SPLIT = 4096 };
  sb_t b = {0};
  answer_with(&b, cases[0].object);
  long all = scanned_as_libxml2("a plain answer", &b, SPLIT);
  assert_true(all > 250); /* all but those the start's parser met (in two parts) */
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const scan_case_t *c = &cases[i];
    answer_with(&b, c->object);
    long scanned = scanned_as_libxml2(c->what, &b, SPLIT);
    if (c->outcome == TAKEN && scanned != all)
      fail_msg("%s: the scanner read %ld objects, not %ld", c->what, scanned, all);
    if (c->outcome == LEFT && (scanned < 0 || scanned >= all))
      fail_msg("%s: the scanner read %ld objects of %ld", c->what, scanned, all);
    if (c->outcome == REFUSED && scanned != -1) fail_msg("%s: the answer was taken", c->what);
    /* and read on in one piece after the start (no second part) */
    if (c->outcome != REFUSED && scanned_as_libxml2(c->what, &b, b.len / 2 + 1) < 0)
      fail_msg("%s: failed read on in one piece", c->what);
  }
  /* past the scanner's length limits (1 MiB), well within libxml2's */
  enum { LONG = (1 << 20) + 10 };
  char *blanks = malloc(LONG + 1), *value = malloc(LONG + 1);
  assert_true(blanks != NULL && value != NULL);
  memset(blanks, ' ', LONG);
  memset(value, 'v', LONG);
  blanks[LONG] = value[LONG] = '\0';
  const char *formats[] = {"<name a=\"%s\">n</name>", "<name%s>n</name>", "<name>n</name%s>"};
  const char *what[] = {"a long attribute value", "a long start tag", "a long end tag"};
  for (int i = 0; i < 3; i++) {
    sb_t obj = {0}, inner = {0};
    sb_add(&inner, formats[i], i == 0 ? value : blanks);
    sb_add(&obj, PG_VAL("%s"), inner.p);
    answer_with(&b, obj.p);
    long scanned = scanned_as_libxml2(what[i], &b, SPLIT);
    if (scanned < 0 || scanned >= all)
      fail_msg("%s: the scanner read %ld objects of %ld", what[i], scanned, all);
    free(obj.p);
    free(inner.p);
  }
  free(blanks);
  free(value);
  free(b.p);
}

int main(void) {
  xmlInitParser();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(objects_reach_the_model),
      cmocka_unit_test(refused_answers),
      cmocka_unit_test(answers_in_two_parts_are_answers_in_one),
      cmocka_unit_test(scanner_reads_what_libxml2_reads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
