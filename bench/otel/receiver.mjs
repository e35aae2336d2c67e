// A minimal OTLP/HTTP receiver for the tracing benchmark: reads each
// export request and answers 200 with an empty response (it decodes nothing; the e2e test
// tests/e2e/test_otel_trace.mjs checks what is sent). Prints its port.
import http from 'node:http';
let spans = 0;
const srv = http.createServer((req, res) => {
  let n = 0;
  req.on('data', (d) => { n += d.length; });
  req.on('end', () => {
    spans++;
    // an empty ExportTraceServiceResponse in the request's encoding
    if (/protobuf/.test(req.headers['content-type'] || '')) {
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    } else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    }
  });
});
srv.listen(Number(process.argv[2] || 0), '127.0.0.1', () => console.log(srv.address().port));
process.on('SIGTERM', () => { console.error(`receiver: ${spans} export requests`); process.exit(0); });
