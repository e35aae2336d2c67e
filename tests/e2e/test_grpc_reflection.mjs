// End-to-end: gRPC server reflection of `hakgal serve --grpc-listen`, with a
// reflection client written on @grpc/grpc-js and @grpc/proto-loader (our
// proto/grpc/reflection/v1alpha/reflection.proto, the protocol's messages).
// Checks, for v1alpha and v1: list_services names our services; a file by
// name and the file of a symbol (a service, a method, a message) come back
// as FileDescriptorProtos that protobufjs decodes; unknown names get an
// error_response NOT_FOUND on a stream that stays usable; and a client
// built only from the reflected descriptors (proto-loader's
// loadFileDescriptorSetFromBuffer) calls hakgal.v2.Hakgal/AddFact and
// GetFact.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const require = createRequire(import.meta.url);
const descriptor = require('protobufjs/ext/descriptor');
const bin = process.env.HAKGAL_BIN;
assert.ok(bin, 'HAKGAL_BIN must name the hakgal binary');
const src = process.env.HK_SOURCE_DIR || path.resolve(import.meta.dirname, '../..');
const tmp = path.join(process.env.HK_TEST_TMP || '/tmp', `grpc-reflect-${process.pid}`);
fs.rmSync(tmp, { recursive: true, force: true });
fs.mkdirSync(tmp, { recursive: true });

const server = spawn(bin, ['serve', '--data', path.join(tmp, 'kb'), '--listen', '127.0.0.1:0', '--threads', '2',
  '--grpc-listen', '127.0.0.1:0', '--grpc-threads', '2'], {
  env: { ...process.env, LSAN_OPTIONS: `suppressions=${path.join(src, 'tests/e2e/test_server_lsan.supp')}:print_suppressions=0` },
  stdio: ['ignore', 'ignore', 'pipe'],
});
let log = '';
const port = await new Promise((resolve, reject) => {
  const t = setTimeout(() => reject(new Error(`server did not start: ${log}`)), 20000);
  server.stderr.on('data', (d) => {
    log += d;
    const g = /gRPC on 127\.0\.0\.1:(\d+) /.exec(log);
    if (g) { clearTimeout(t); resolve(g[1]); }
  });
  server.on('exit', (code) => reject(new Error(`server exited ${code}: ${log}`)));
});
const addr = `127.0.0.1:${port}`;

const def = protoLoader.loadSync(['grpc/reflection/v1alpha/reflection.proto'], {
  includeDirs: [path.join(src, 'proto')], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
});
const alpha = grpc.loadPackageDefinition(def).grpc.reflection.v1alpha;
// v1 has the same messages on the wire: the same definition under its path.
const v1Service = {
  ServerReflectionInfo: { ...alpha.ServerReflection.service.ServerReflectionInfo, path: '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo' },
};
const V1 = grpc.makeGenericClientConstructor(v1Service, 'ServerReflection');

// Sends the requests on one stream and answers the responses in order.
function ask(client, reqs) {
  return new Promise((resolve, reject) => {
    const out = [];
    const call = client.ServerReflectionInfo();
    call.on('data', (d) => { out.push(d); if (out.length === reqs.length) call.end(); });
    call.on('error', reject);
    call.on('end', () => resolve(out));
    for (const r of reqs) call.write(r);
  });
}
const decode = (b) => descriptor.FileDescriptorProto.decode(b);
let ok = 0;
const pass = (what) => { ok++; console.log(`ok ${ok} - ${what}`); };

try {
  for (const [label, Client] of [['v1alpha', alpha.ServerReflection], ['v1', V1]]) {
    const client = new Client(addr, grpc.credentials.createInsecure());
    const res = await ask(client, [
      { list_services: '' },
      { file_by_filename: 'hakgal/v2/hakgal.proto' },
      { file_containing_symbol: 'hakgal.v2.Hakgal' },
      { file_containing_symbol: 'hakgal.v2.Hakgal.GetFact' },
      { file_containing_symbol: 'grpc.health.v1.HealthCheckResponse' },
      { file_containing_symbol: 'no.such.Symbol' },
      { file_by_filename: 'nope.proto' },
      { file_containing_extension: { containing_type: 'hakgal.v2.Fact', extension_number: 100 } },
      { file_containing_symbol: 'hakgal.v2.Fact' },
    ]);
    assert.equal(res.length, 9);
    const names = res[0].list_services_response.service.map((s) => s.name).sort();
    assert.deepEqual(names, ['grpc.health.v1.Health', 'grpc.reflection.v1alpha.ServerReflection', 'hakgal.v2.Hakgal']);
    assert.equal(res[0].original_request.list_services, '');
    const f1 = decode(res[1].file_descriptor_response.file_descriptor_proto[0]);
    assert.equal(f1.name, 'hakgal/v2/hakgal.proto');
    assert.equal(f1.package, 'hakgal.v2');
    const svc = f1.service.find((s) => s.name === 'Hakgal');
    assert.ok(svc, 'service Hakgal in the file');
    const methods = svc.method.map((m) => m.name);
    for (const m of ['GetFact', 'AddFact', 'Query', 'Export', 'BulkAdd', 'Changes']) assert.ok(methods.includes(m), m);
    const q = svc.method.find((m) => m.name === 'Query');
    assert.equal(q.inputType, '.hakgal.v2.QueryRequest');
    assert.equal(q.serverStreaming, true);
    for (const i of [2, 3, 8]) assert.equal(decode(res[i].file_descriptor_response.file_descriptor_proto[0]).name, 'hakgal/v2/hakgal.proto');
    assert.equal(decode(res[4].file_descriptor_response.file_descriptor_proto[0]).name, 'grpc/health/v1/health.proto');
    for (const i of [5, 6, 7]) {
      assert.equal(res[i].message_response, 'error_response', `request ${i}`);
      assert.equal(res[i].error_response.error_code, grpc.status.NOT_FOUND);
    }
    pass(`${label}: services, files by name and by symbol, NOT_FOUND for unknown names`);

    // A client from the reflected descriptors alone.
    const fds = descriptor.FileDescriptorSet.encode({ file: [decode(res[1].file_descriptor_response.file_descriptor_proto[0])] }).finish();
    const pkg = grpc.loadPackageDefinition(protoLoader.loadFileDescriptorSetFromBuffer(Buffer.from(fds), { longs: String, defaults: true }));
    const kb = new pkg.hakgal.v2.Hakgal(addr, grpc.credentials.createInsecure());
    const added = await new Promise((res2, rej) => kb.AddFact({ fact: { statement: `Reflected(${label})` } }, (e, r) => (e ? rej(e) : res2(r))));
    const got = await new Promise((res2, rej) => kb.GetFact({ id: added.fact.id }, (e, r) => (e ? rej(e) : res2(r))));
    assert.equal(got.statement, `Reflected(${label})`);
    kb.close();
    pass(`${label}: a client built from the reflected descriptors calls AddFact and GetFact`);
    client.close();
  }
} finally {
  server.removeAllListeners('exit');
  const code = await new Promise((resolve) => { server.on('exit', (c) => resolve(c)); server.kill('SIGTERM'); });
  fs.rmSync(tmp, { recursive: true, force: true });
  assert.equal(code, 0, `server exit code: ${log}`);
}
console.log(`PASS test_grpc_reflection (${ok} checks)`);
