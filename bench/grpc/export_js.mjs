// bench/grpc/export_js.mjs — one gRPC Export read by @grpc/grpc-js with
// @grpc/proto-loader (decoding every Fact, as a Node client does), to set
// beside build/grpc_load --export (the C core reader, which only walks
// the page framing). Prints facts/s and the client's CPU seconds.
//   node bench/grpc/export_js.mjs 127.0.0.1:PORT [window-bytes]
// Run from the repository root; needs tests/e2e/node_modules
// (bash scripts/test-setup.sh).
import path from 'node:path';
import { createRequire } from 'node:module';

const root = path.resolve(import.meta.dirname, '../..');
const require = createRequire(path.join(root, 'tests/e2e/package.json'));
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [addr, win] = process.argv.slice(2);
const def = protoLoader.loadSync(['hakgal/v2/hakgal.proto'], {
  includeDirs: [path.join(root, 'proto')], longs: String, defaults: false,
});
const pkg = grpc.loadPackageDefinition(def);
const opts = win ? { 'grpc.http2.lookahead_bytes': Number(win), 'grpc.max_receive_message_length': -1 }
  : { 'grpc.max_receive_message_length': -1 };
const c = new pkg.hakgal.v2.Hakgal(addr, grpc.credentials.createInsecure(), opts);
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
let facts = 0;
let msgs = 0;
for await (const page of c.Export({})) {
  msgs++;
  facts += page.facts.length;
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
console.log(`grpc-js export: ${facts} facts in ${msgs} messages, ${secs.toFixed(3)} s: `
  + `${Math.round(facts / secs)} facts/s, client CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s`);
c.close();
