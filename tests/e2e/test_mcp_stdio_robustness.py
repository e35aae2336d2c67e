"""End-to-end: `hakgal mcp` over stdio fed malformed JSON, unknown methods,
oversized and odd messages. Every bad line gets a JSON-RPC error, the
server keeps answering afterwards, stdout carries only protocol lines, and
the process exits 0 when stdin closes."""
import json
import os
import shutil
import subprocess
import sys

BIN = os.environ["HAKGAL_BIN"]
ROOT = os.path.join(os.environ.get("HK_TEST_TMP", "/tmp"), "mcp-stdio-robust-%d" % os.getpid())
shutil.rmtree(ROOT, ignore_errors=True)
os.makedirs(ROOT)
passed = 0


def check(cond, msg):
    global passed
    if not cond:
        print("FAIL:", msg, file=sys.stderr)
        sys.exit(1)
    passed += 1


class Server:
    def __init__(self, *extra):
        self.p = subprocess.Popen([BIN, "mcp", "--data", os.path.join(ROOT, "kb"), *extra],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)

    def send_raw(self, data: bytes):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def send(self, obj):
        self.send_raw(json.dumps(obj).encode() + b"\n")

    def recv(self):
        line = self.p.stdout.readline()
        check(line.endswith(b"\n"), "a full line on stdout")
        return json.loads(line)

    def call(self, obj):
        self.send(obj)
        return self.recv()

    def close(self):
        self.p.stdin.close()
        rest = self.p.stdout.read()
        rc = self.p.wait(timeout=30)
        return rc, rest, self.p.stderr.read()


try:
    s = Server()
    # requests before initialize are refused, ping is allowed
    r = s.call({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    check(r["error"]["code"] == -32600 and r["id"] == 1, "tools/list before initialize")
    r = s.call({"jsonrpc": "2.0", "id": 2, "method": "ping"})
    check(r == {"jsonrpc": "2.0", "id": 2, "result": {}}, "ping before initialize")
    r = s.call({"jsonrpc": "2.0", "id": 3, "method": "initialize",
                "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                           "clientInfo": {"name": "t", "version": "1"}}})
    check(r["result"]["protocolVersion"] == "2025-11-25", "initialize")
    r = s.call({"jsonrpc": "2.0", "id": 30, "method": "initialize",
                "params": {"protocolVersion": "2025-11-25", "capabilities": {}}})
    check(r["error"]["code"] == -32600, "second initialize refused")
    s.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    # malformed JSON
    for bad in [b"{not json", b"{\"jsonrpc\":\"2.0\",\"id\":1,", b"\xff\xfe\x00garbage", b"]"]:
        s.send_raw(bad + b"\n")
        r = s.recv()
        check(r["error"]["code"] == -32700 and r["id"] is None, "parse error for %r" % bad[:20])
    # valid JSON, not a request
    for bad, code in [([], -32600), ([{"jsonrpc": "2.0", "id": 1, "method": "ping"}], -32600),
                      (42, -32600), ("str", -32600), ({"id": 5, "method": "ping"}, -32600),
                      ({"jsonrpc": "1.0", "id": 6, "method": "ping"}, -32600),
                      ({"jsonrpc": "2.0", "id": {"x": 1}, "method": "ping"}, -32600),
                      ({"jsonrpc": "2.0", "id": 7, "method": 12}, -32600),
                      ({"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": [1]}, -32602)]:
        r = s.call(bad)
        check(r["error"]["code"] == code, "error %d for %r" % (code, bad))
    # unknown methods
    r = s.call({"jsonrpc": "2.0", "id": "abc", "method": "no/such/method"})
    check(r["error"]["code"] == -32601 and r["id"] == "abc", "unknown method keeps string id")
    s.send({"jsonrpc": "2.0", "method": "notifications/unknown"})  # ignored
    # invalid params
    r = s.call({"jsonrpc": "2.0", "id": 9, "method": "logging/setLevel", "params": {"level": "loud"}})
    check(r["error"]["code"] == -32602, "bad log level")
    r = s.call({"jsonrpc": "2.0", "id": 10, "method": "tools/list", "params": {"cursor": "bogus!"}})
    check(r["error"]["code"] == -32602, "bad cursor")
    r = s.call({"jsonrpc": "2.0", "id": 11, "method": "tools/call",
                "params": {"name": "search_knowledge", "arguments": {"query": 5}}})
    check(r["error"]["code"] == -32602 and "query" in r["error"]["message"], "argument type error names the field")
    # oversized message (5 MiB line), then the server still answers
    big = b'{"jsonrpc":"2.0","id":12,"method":"ping","params":{"pad":"' + b"x" * (5 << 20) + b'"}}\n'
    s.send_raw(big)
    r = s.recv()
    check(r["error"]["code"] == -32600 and "4 MiB" in r["error"]["message"], "oversized message refused")
    # a large but allowed message works
    r = s.call({"jsonrpc": "2.0", "id": 13, "method": "tools/call",
                "params": {"name": "search_knowledge", "arguments": {"query": "y" * 100000}}})
    check("result" in r, "100 kB argument accepted")
    # blank lines and CRLF framing
    s.send_raw(b"\n   \n")
    s.send_raw(json.dumps({"jsonrpc": "2.0", "id": 14, "method": "ping"}).encode() + b"\r\n")
    check(s.recv()["id"] == 14, "CRLF line")
    # stateless 2026-07-28 request on the same connection
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}}
    r = s.call({"jsonrpc": "2.0", "id": 15, "method": "server/discover", "params": {"_meta": meta}})
    check("2026-07-28" in r["result"]["supportedVersions"] and r["result"]["resultType"] == "complete", "discover")
    r = s.call({"jsonrpc": "2.0", "id": 16, "method": "tools/list", "params": {"_meta": meta}})
    # the 30 legacy tools + graph_neighbours, graph_path, graph_analyze, query_graph,
    # vector_spaces, vector_similar, export_graph, ask_knowledge, extract_facts,
    # review_list, review_decide, stream_status, kb_digest,
    # score_fact, predict_links, add_rule, list_rules, explain_fact,
    # suggest_links, graphql, check_statement, vector_space, vector_entities,
    # similar_entities, model_status, train_model
    check(len(r["result"]["tools"]) == 30 + 26 and r["result"]["cacheScope"] in ("public", "private")
          and isinstance(r["result"]["ttlMs"], int), "stateless tools/list with cache hints")
    r = s.call({"jsonrpc": "2.0", "id": 17, "method": "ping", "params": {"_meta": meta}})
    check(r["error"]["code"] == -32601, "ping is removed in 2026-07-28")
    r = s.call({"jsonrpc": "2.0", "id": 18, "method": "server/discover", "params": {}})
    check(r["error"]["code"] == -32602, "discover without _meta")
    bad_meta = dict(meta)
    bad_meta["io.modelcontextprotocol/protocolVersion"] = "2099-01-01"
    r = s.call({"jsonrpc": "2.0", "id": 19, "method": "tools/list", "params": {"_meta": bad_meta}})
    check(r["error"]["code"] == -32022 and r["error"]["data"]["requested"] == "2099-01-01", "unsupported version")
    # still alive
    r = s.call({"jsonrpc": "2.0", "id": 20, "method": "ping"})
    check(r["id"] == 20, "alive after all bad input")
    rc, rest, err = s.close()
    check(rc == 0, "exit 0 on stdin EOF (rc %d)" % rc)
    check(rest == b"", "nothing after the last answer")
    check(b"serving" in err, "log line on stderr")

    # EOF in the middle of a line, no trailing newline
    s = Server()
    s.send_raw(b'{"jsonrpc":"2.0","id":1,"method":"ping"}')
    rc, rest, _ = s.close()
    check(rc == 0 and json.loads(rest)["id"] == 1, "last line without newline is handled")
    print("%d passed, 0 failed" % passed)
finally:
    shutil.rmtree(ROOT, ignore_errors=True)
