// The seed's load test for k6 (https://k6.io): 10,000 virtual users, each
// sending a request about once a second on its keep-alive connection,
// 90 % reads (a fact by id) and 10 % single-fact writes (POST /v2/facts,
// a new fact each time); thresholds p99 < 100 ms and errors < 1 %.
// bench/hk_load.c runs the same model where k6 is not installed
// (bench/load/run.sh); results in bench/RESULTS.md.
//
//   k6 run -e BASE_URL=http://hakgal:8080 -e TOKEN=... -e ID_MAX=100000 \
//       bench/k6/hakgal.js
import http from "k6/http";
import { check, sleep } from "k6";

const BASE = __ENV.BASE_URL || "http://127.0.0.1:8080";
const ID_MAX = parseInt(__ENV.ID_MAX || "100000", 10);
const VUS = parseInt(__ENV.VUS || "10000", 10);
const HEADERS = __ENV.TOKEN
  ? { Authorization: `Bearer ${__ENV.TOKEN}` }
  : {};

export const options = {
  scenarios: {
    seed: {
      executor: "ramping-vus",
      startVUs: 0,
      stages: [
        { duration: "1m", target: VUS }, // connect everyone
        { duration: "5m", target: VUS }, // hold
        { duration: "30s", target: 0 },
      ],
      gracefulRampDown: "30s",
    },
  },
  thresholds: {
    http_req_duration: ["p(99)<100"],
    http_req_failed: ["rate<0.01"],
    "http_req_duration{kind:read}": ["p(99)<100"],
    "http_req_duration{kind:write}": ["p(99)<100"],
  },
  noConnectionReuse: false,
};

export default function () {
  if (Math.random() < 0.1) {
    const body = JSON.stringify({
      statement: `LoadTest(u${__VU}, n${__ITER})`,
    });
    const res = http.post(`${BASE}/v2/facts`, body, {
      headers: Object.assign({ "Content-Type": "application/json" }, HEADERS),
      tags: { kind: "write", name: "POST /v2/facts" },
    });
    check(res, { "write 2xx": (r) => r.status >= 200 && r.status < 300 });
  } else {
    const id = 1 + Math.floor(Math.random() * ID_MAX);
    const res = http.get(`${BASE}/v2/facts/${id}`, {
      headers: HEADERS,
      tags: { kind: "read", name: "GET /v2/facts/{id}" },
    });
    check(res, { "read 200": (r) => r.status === 200 });
  }
  sleep(0.5 + Math.random()); // think time: 1 s on average, as hk_load
}
