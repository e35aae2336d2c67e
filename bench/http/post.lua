-- wrk script: one durable POST /v2/facts per request, every fact unique
-- (thread number, connection-independent counter, run stamp).
local counter = 0
tid = 0 -- set per thread by setup()
local stamp = tostring(os.time())
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"statement":"BenchPost(t%s_%d, n%d)","source":"wrk"}',
    stamp, tid, counter)
  return wrk.format("POST", "/v2/facts", nil, body)
end
