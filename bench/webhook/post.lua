-- POSTs review.json (a ~4 KiB pod CREATE AdmissionReview) on every keep-alive connection.
-- With RATE set, requests follow one fixed schedule of RATE per second shared by all
-- connections: each request takes the next slot and waits for it (wrk's delay()). When
-- the server falls behind, late slots are sent at once, so the offered rate holds; the
-- latency is still measured from the actual send (wrk2 would count from the slot).
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } timespec_t;
  int clock_gettime(int clock, timespec_t* ts);
]]
local ts = ffi.new("timespec_t")
local CLOCK_MONOTONIC = 1
local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local f = assert(io.open(os.getenv("REVIEW"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept-Encoding"] = "gzip"  -- as the API server sends it

local rate = tonumber(os.getenv("RATE") or "0")
if rate > 0 then
  local interval = 1000 / rate
  local next_slot = nil
  function delay()
    local now = now_ms()
    -- A slot more than a second in the past is dropped, not burst: the schedule restarts.
    if next_slot == nil or next_slot < now - 1000 then next_slot = now end
    next_slot = next_slot + interval
    local wait = next_slot - now
    return wait > 0 and wait or 0
  end
end

-- No response() callback: defining one makes wrk hand every answer to Lua, which would
-- make the single wrk thread the bottleneck; summary.errors.status counts non-2xx/3xx.

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT rps=%.0f p50_us=%d p99_us=%d non200=%d socket_errors=%d " ..
    "(connect=%d read=%d write=%d timeout=%d) requests=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout, e.connect, e.read, e.write, e.timeout, summary.requests))
end
