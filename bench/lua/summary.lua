-- Shared by the benchmark's wrk scripts: counts non-2xx responses exactly and prints the summary
-- line load.py parses, in the format of the peer kit's bench_post.lua.
local summary = {}
local threads = {}

function summary.setup(thread)
  table.insert(threads, thread)
end

function summary.init()
  non2xx, badstatus = 0, 0
end

function summary.count(status)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    badstatus = status
  end
end

function summary.done(result, latency, _requests)
  local n, bad = 0, 0
  for _, t in ipairs(threads) do
    n = n + t:get("non2xx")
    local b = t:get("badstatus")
    if b ~= 0 then bad = b end
  end
  local e = result.errors
  io.write(string.format(
    "rps=%.0f p50_ms=%.2f p99_ms=%.2f non2xx=%d sockerr=%d timeouts=%d requests=%d last_bad_status=%d\n",
    result.requests / (result.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    n, e.connect + e.read + e.write, e.timeout, result.requests, bad))
end

return summary
