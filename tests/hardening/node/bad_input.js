// Bad input from an independent Node.js client (@grpc/grpc-js and
// @grpc/proto-loader), for every RPC of dvsconf.v1.ConfigManager: garbage
// bytes, no fields, oversized requests, invalid UTF-8 built by hand in every
// string field, unknown enum values, negative and huge page sizes, forged
// page tokens, unknown ids. Each refused call must get the right status and a
// message naming the field; health is SERVING after each group, and nothing
// is written (versions, imports, switches and switch_aliases counted through
// psql before and after).
//
//   node bad_input.js          (environment: deploy/up.sh's env file, PROTO_DIR)
//
// Prints one line per failed check and "node bad-input: N checks, M failed";
// exits 1 when a check failed. Checks of known bugs (see tests/hardening/
// README.md) are marked "known bug" and fail too until the bug is fixed.
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const env = process.env;
const ADDR = env.DVSCONF_ADDR;
const PLANE = env.DVSCONF_PLANE || 'vcsim';
const PROTO_DIR = env.PROTO_DIR || path.join(__dirname, '../../../proto');
const PSQL = (env.PG_BIN || '/usr/lib/postgresql/15/bin') + '/psql';
const DEADLINE_MS = 30000;
const SVC = '/dvsconf.v1.ConfigManager/';
const MiB = 1024 * 1024;
const METHODS = ['Export', 'PutVersion', 'Import', 'ListVersions', 'GetVersion', 'Diff', 'ListPlanes',
  'ListSwitches', 'ListAuditEvents'];
const Status = grpc.status;

let checks = 0;
let failed = 0;
function check(ok, what) {
  checks++;
  if (!ok) {
    failed++;
    console.log('FAIL: ' + what);
  }
}

// --- the channel: TLS + the admin token when the stack is secure ------------------
function credentials(role) {
  if (!env.DVSCONF_CA) return grpc.credentials.createInsecure();
  const ssl = grpc.credentials.createSsl(fs.readFileSync(env.DVSCONF_CA));
  if (!role) return ssl;
  const token = env['DVSCONF_' + role.toUpperCase() + '_TOKEN'];
  const bearer = grpc.credentials.createFromMetadataGenerator((_params, cb) => {
    const md = new grpc.Metadata();
    md.add('authorization', 'Bearer ' + token);
    cb(null, md);
  });
  return grpc.credentials.combineChannelCredentials(ssl, bearer);
}

const pkgDef = protoLoader.loadSync('dvsconf/v1/dvsconf.proto', {
  includeDirs: [PROTO_DIR, '/usr/include'], keepCase: true, longs: String, enums: Number, defaults: true,
});
const proto = grpc.loadPackageDefinition(pkgDef).dvsconf.v1;
const creds = credentials('admin');
const api = new proto.ConfigManager(ADDR, creds);
const rawClient = new grpc.Client(ADDR, creds);

// Every call resolves to {code, details, value}; never rejects.
function typed(method, req) {
  return new Promise((resolve) => {
    api[method](req, { deadline: Date.now() + DEADLINE_MS }, (err, value) => {
      resolve(err ? { code: err.code, details: err.details || '' } : { code: Status.OK, details: '', value });
    });
  });
}

function raw(pathOrMethod, bytes) {
  const p = pathOrMethod.startsWith('/') ? pathOrMethod : SVC + pathOrMethod;
  return new Promise((resolve) => {
    rawClient.makeUnaryRequest(p, (b) => b, (b) => b, bytes, new grpc.Metadata(),
      { deadline: Date.now() + DEADLINE_MS }, (err, value) => {
        resolve(err ? { code: err.code, details: err.details || '' } : { code: Status.OK, details: '', value });
      });
  });
}

function name(code) {
  return Object.keys(Status).find((k) => Status[k] === code) || String(code);
}

async function refused(label, promise, code, ...words) {
  const r = await promise;
  check(r.code === code, `${label}: status ${name(r.code)} (${r.details}), want ${name(code)}`);
  for (const w of words) check(r.details.includes(w), `${label}: details ${JSON.stringify(r.details)} lack ${JSON.stringify(w)}`);
  return r;
}

// --- the protobuf wire format, by hand ----------------------------------------------
function varint(n) {
  let v = BigInt.asUintN(64, BigInt(n));
  const out = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return Buffer.from(out);
}
const fieldBytes = (num, data) => Buffer.concat([varint((num << 3) | 2), varint(data.length), Buffer.from(data)]);
const fieldVarint = (num, value) => Buffer.concat([varint(num << 3), varint(value)]);
const str = (s) => Buffer.from(s, 'utf8');

// --- state --------------------------------------------------------------------------
function writeCounts() {
  return execFileSync(PSQL, [env.PGURI, '-XqAt', '-c',
    'SELECT (SELECT count(*) FROM versions), (SELECT count(*) FROM imports),' +
    ' (SELECT count(*) FROM switches), (SELECT count(*) FROM switch_aliases),' +
    ' (SELECT coalesce(sum(latest_number), 0) FROM switches)'], { encoding: 'utf8' }).trim();
}

async function serving(after) {
  const r = await raw('/grpc.health.v1.Health/Check', Buffer.alloc(0));
  check(r.code === Status.OK && Buffer.compare(r.value, Buffer.from([8, 1])) === 0,
    `health is not SERVING after ${after}: ${name(r.code)} ${r.details}`);
}

// The string fields of each request type, from the loaded descriptors.
function stringFields(method) {
  const type = pkgDef['dvsconf.v1.' + method + 'Request'].type;
  return type.field.filter((f) => f.type === 'TYPE_STRING')
    .map((f) => ({ num: f.number, name: f.name + (f.label === 'LABEL_REPEATED' ? '[0]' : '') }));
}

async function main() {
  const first = await typed('Export', { plane: PLANE, switch_name: 'DVS0' });
  if (first.code !== Status.OK) throw new Error('Export of DVS0 failed: ' + first.details);
  const vid = first.value.version.id;
  const got = await typed('GetVersion', { version_id: vid });
  const cfg = got.value.config;
  const before = writeCounts();

  // garbage, empty, oversized: every RPC
  const garbage = [Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from([0x0a, 0x10, 0x61]), Buffer.from([0x0b]),
    Buffer.from([0x0e, 0x00]), Buffer.from([0x08, 0xff])];
  const big = fieldBytes(15, Buffer.alloc(4 * MiB + 64, 0x78));
  for (const m of METHODS) {
    for (const g of garbage) await refused(`${m} garbage ${g.toString('hex')}`, raw(m, g), Status.INVALID_ARGUMENT, 'request');
    await refused(`${m} oversized`, raw(m, big), Status.RESOURCE_EXHAUSTED);
  }
  await serving('garbage');
  const emptyWant = {
    Export: [Status.INVALID_ARGUMENT, 'switch_name'], PutVersion: [Status.INVALID_ARGUMENT, 'plane'],
    Import: [Status.INVALID_ARGUMENT, 'mode'], GetVersion: [Status.INVALID_ARGUMENT, 'version_id'],
    Diff: [Status.INVALID_ARGUMENT, 'to_version_id'],
  };
  for (const m of METHODS) {
    if (emptyWant[m]) await refused(`${m} empty`, raw(m, Buffer.alloc(0)), ...emptyWant[m]);
    else check((await raw(m, Buffer.alloc(0))).code === Status.OK, `${m} empty: not OK`);
  }

  // invalid UTF-8 in every top-level string field, by hand
  const badUtf8 = [Buffer.from([0xff]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80]),
    Buffer.from([0x61, 0xe2, 0x82])];
  for (const m of METHODS) {
    for (const f of stringFields(m)) {
      for (const b of badUtf8) {
        await refused(`${m}.${f.name} = ${b.toString('hex')}`, raw(m, fieldBytes(f.num, b)),
          Status.INVALID_ARGUMENT, f.name, 'not valid UTF-8');
      }
    }
  }
  await refused('PutVersion config.portgroups[N].name invalid UTF-8',
    raw('PutVersion', Buffer.concat([fieldBytes(1, str(PLANE)), fieldBytes(2, Buffer.concat([
      fieldBytes(1, str('n')), fieldBytes(2, str('u')), fieldBytes(12, fieldBytes(2, Buffer.from([0xfe])))]))])),
    Status.INVALID_ARGUMENT, 'config.portgroups[0].name', 'not valid UTF-8');
  await serving('invalid UTF-8');

  // unknown enum values, page sizes, tokens, ids, missing fields (typed where the client allows it)
  const exp = Buffer.concat([fieldBytes(1, str(PLANE)), fieldBytes(2, str('DVS0'))]);
  for (const scope of [3, 42, -1]) {
    await refused(`Export scope ${scope}`, raw('Export', Buffer.concat([exp, fieldVarint(4, scope)])),
      Status.INVALID_ARGUMENT, `scope: unknown value ${scope}`);
  }
  for (const mode of [0, 9, -7]) {
    await refused(`Import mode ${mode}`, raw('Import', Buffer.concat([fieldBytes(1, str(vid)), fieldVarint(2, mode)])),
      Status.INVALID_ARGUMENT, 'mode');
  }
  for (const size of [-1, -2147483648, 1001, 2147483647]) {
    await refused(`ListVersions page_size ${size}`, typed('ListVersions', { page_size: size }), Status.INVALID_ARGUMENT, 'page_size');
    await refused(`ListAuditEvents page_size ${size}`, typed('ListAuditEvents', { page_size: size }), Status.INVALID_ARGUMENT, 'page_size');
  }
  for (const tok of ['forged', 'cDEuMS4wMDAwMDAwMDAwMDAwMDAw', 'x'.repeat(100), '====', 'AAAA']) {
    await refused(`ListVersions page_token ${tok}`, typed('ListVersions', { switch_name: 'DVS0', page_token: tok }),
      Status.INVALID_ARGUMENT, 'page_token');
    await refused(`ListAuditEvents page_token ${tok}`, typed('ListAuditEvents', { page_token: tok }),
      Status.INVALID_ARGUMENT, 'page_token');
  }
  const nope = '987654321098';
  await refused('GetVersion unknown', typed('GetVersion', { version_id: nope }), Status.NOT_FOUND, nope);
  await refused('GetVersion malformed', typed('GetVersion', { version_id: 'v-1' }), Status.INVALID_ARGUMENT, 'version_id');
  await refused('Diff unknown to', typed('Diff', { from_version_id: vid, to_version_id: nope }), Status.NOT_FOUND, nope);
  await refused('Diff live unknown switch', typed('Diff', { from_version_id: vid, to_plane: PLANE, to_switch_name: 'no-such-sw' }),
    Status.NOT_FOUND, 'no-such-sw');
  await refused('Import unknown version', typed('Import', { version_id: nope, mode: 3, dry_run: true }), Status.NOT_FOUND, nope);
  await refused('Import unknown target plane', typed('Import', { version_id: vid, mode: 3, target_plane: 'nope-plane', dry_run: true }),
    Status.NOT_FOUND, 'target_plane');
  await refused('Export unknown plane', typed('Export', { plane: 'nope-plane', switch_name: 'DVS0' }), Status.NOT_FOUND, 'nope-plane');
  await refused('Export unknown switch', typed('Export', { plane: PLANE, switch_name: 'no-such-sw' }), Status.NOT_FOUND, 'no-such-sw');
  await refused('Export no switch', typed('Export', { plane: PLANE }), Status.INVALID_ARGUMENT, 'switch_name');
  await refused('ListSwitches live no plane', typed('ListSwitches', { live: true }), Status.INVALID_ARGUMENT, 'plane');
  await refused('PutVersion no config', typed('PutVersion', { plane: PLANE }), Status.INVALID_ARGUMENT, 'config');
  const bad = JSON.parse(JSON.stringify(cfg));
  bad.portgroups[0].default_port_config = { vlan: { kind: 1, vlan_id: 4095, trunk_ranges: [], pvlan_id: 0 } };
  await refused('PutVersion vlan 4095', typed('PutVersion', { plane: PLANE, config: bad }), Status.INVALID_ARGUMENT,
    `config.portgroups["${bad.portgroups[0].name}"].default_port_config.vlan.vlan_id: 4095 is outside 0..4094`);
  await refused('Import create-new no name', typed('Import', { version_id: vid, mode: 2, dry_run: true }),
    Status.INVALID_ARGUMENT, 'new_name');
  await refused('Export switch name too long', typed('Export', { plane: PLANE, switch_name: 'n'.repeat(1025) }),
    Status.INVALID_ARGUMENT, 'switch_name: longer than 1024');
  await refused('Export note too long', typed('Export', { plane: PLANE, switch_name: 'DVS0', note: 'x'.repeat(65537) }),
    Status.INVALID_ARGUMENT, 'note: longer than 65536');
  await serving('invalid values');

  // no identity, or too small a role: refused before the request is even decoded
  if (env.DVSCONF_CA) {
    const anon = new grpc.Client(ADDR, credentials(null));
    const viewer = new grpc.Client(ADDR, credentials('viewer'));
    const call = (c, m, b) => new Promise((resolve) => c.makeUnaryRequest(SVC + m, (x) => x, (x) => x, b,
      new grpc.Metadata(), { deadline: Date.now() + DEADLINE_MS }, (err) => resolve(err || { code: 0, details: '' })));
    for (const m of METHODS) {
      const r = await call(anon, m, Buffer.from([0xff]));
      check(r.code === Status.UNAUTHENTICATED, `${m} without a token: ${name(r.code)} ${r.details}`);
    }
    const r = await call(viewer, 'Import', Buffer.from([0xff]));
    check(r.code === Status.PERMISSION_DENIED, `Import as viewer: ${name(r.code)} ${r.details}`);
    anon.close();
    viewer.close();
  }

  check(writeCounts() === before, `a refused call wrote something: ${before} -> ${writeCounts()}`);
  await serving('everything');

  // known bug: status messages truncated inside a UTF-8 character (see README.md)
  const r = await typed('Export', { plane: 'a' + 'é'.repeat(100), switch_name: 'DVS0' });
  check(r.code === Status.NOT_FOUND && r.details.includes('é'.repeat(10)) && !r.details.includes('\ufffd') &&
    !r.details.includes('Ã'), `known bug: a truncated status message is not UTF-8: ${JSON.stringify(r.details.slice(0, 60))}`);
}

main().then(() => {
  console.log(`node bad-input: ${checks} checks, ${failed} failed`);
  api.close();
  rawClient.close();
  process.exit(failed ? 1 : 0);
}, (e) => {
  console.log('node bad-input: error: ' + (e.stack || e));
  process.exit(2);
});
