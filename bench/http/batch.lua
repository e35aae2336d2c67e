-- wrk script: POST /v2/facts/batch with BATCH (env, default 1000) unique
-- facts per request as NDJSON.
local counter = 0
tid = 0 -- set per thread by setup()
local stamp = tostring(os.time())
local threads = 0
local batch = tonumber(os.getenv("BATCH") or "1000")

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-ndjson"
end

function request()
  local lines = {}
  for i = 1, batch do
    counter = counter + 1
    lines[i] = string.format('"BenchBatch(t%s_%d, n%d)"', stamp, tid, counter)
  end
  return wrk.format("POST", "/v2/facts/batch", nil, table.concat(lines, "\n"))
end
