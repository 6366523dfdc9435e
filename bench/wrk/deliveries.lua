-- Signed webhook deliveries for wrk, one distinct delivery per request.
--
--   wrk -t N -s bench/wrk/deliveries.lua URL -- DATAFILE PATH RATE IDFILE_PREFIX N
--
-- DATAFILE holds one pre-signed delivery a line (written by bench/harness/wrk.py, as
-- wrk's Lua has no HMAC): webhook id, event id, HMAC, triggered-at and body, tab
-- separated. Thread i of n sends lines i+1, i+1+n, ...; a thread that reaches its last
-- line starts over and counts it in `wrapped` (its later requests repeat deliveries).
-- RATE 0 is a closed loop (each connection sends when answered); RATE > 0 spaces the
-- requests of every thread on a fixed schedule, RATE/n a second (wrk's delay() hook,
-- with the monotonic clock through LuaJIT's ffi), counting requests sent more than 5 ms
-- after their slot in `late`. IDFILE_PREFIX "-" or a path prefix: each thread appends
-- the "event_id" of every 2xx answer to PREFIX<thread>.txt, so the bench can check
-- each acknowledged delivery against the database.
-- done() prints one line `WRK_RESULT {json}` on stdout.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local timespec = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, timespec) -- CLOCK_MONOTONIC
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local datafile, path, rate, idprefix = args[1], args[2], tonumber(args[3]), args[4]
  local n = tonumber(args[5]) -- wrk -t: setup() has not seen every thread yet
  requests, count, index = {}, 0, 0
  sent, answered, ok, non2xx, duplicates, wrapped, late, max_late = 0, 0, 0, 0, 0, 0, 0, 0
  local line_no = 0
  for line in io.lines(datafile) do
    if line_no % n == thread_id then
      local webhook_id, event_id, hmac, triggered, body =
        line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      count = count + 1
      requests[count] = wrk.format("POST", path, {
        ["Content-Type"] = "application/json",
        ["X-Shopify-Topic"] = "orders/create",
        ["X-Shopify-Webhook-Id"] = webhook_id,
        ["X-Shopify-Event-Id"] = event_id,
        ["X-Shopify-Hmac-Sha256"] = hmac,
        ["X-Shopify-Shop-Domain"] = "bench.myshopify.com",
        ["X-Shopify-API-Version"] = "2025-07",
        ["X-Shopify-Triggered-At"] = triggered,
      }, body)
    end
    line_no = line_no + 1
  end
  capacity = count
  interval = rate > 0 and (1000 / (rate / n)) or 0
  if idprefix ~= "-" then
    ids = io.open(idprefix .. thread_id .. ".txt", "w")
  end
end

function delay()
  if interval == 0 then return 0 end
  local now = now_ms()
  if not due then due = now end
  local slot = due
  due = due + interval
  local wait = slot - now
  if wait < -5 then
    late = late + 1
    if -wait > max_late then max_late = -wait end
  end
  if wait <= 0 then return 0 end
  return math.floor(wait)
end

function request()
  index = index + 1
  if index > count then
    index = 1
    wrapped = wrapped + 1
  end
  sent = sent + 1
  return requests[index]
end

function response(status, headers, body)
  answered = answered + 1
  if status >= 200 and status < 300 then
    ok = ok + 1
    if string.find(body, '"duplicate"', 1, true) then duplicates = duplicates + 1 end
    if ids then
      local id = string.match(body, '"event_id"%s*:%s*(%d+)')
      if id then ids:write(id, "\n"); ids:flush() end
    end
  else
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests_stats)
  local totals = { sent = 0, answered = 0, ok = 0, non2xx = 0, duplicates = 0, wrapped = 0,
                   late = 0, max_late_ms = 0, capacity = 0 }
  for _, t in ipairs(threads) do
    for _, key in ipairs({ "sent", "answered", "ok", "non2xx", "duplicates", "wrapped", "late",
                           "capacity" }) do
      totals[key] = totals[key] + (t:get(key) or 0)
    end
    totals.max_late_ms = math.max(totals.max_late_ms, t:get("max_late") or 0)
  end
  local e = summary.errors
  local parts = {
    string.format('"duration_us":%d', summary.duration),
    string.format('"requests":%d', summary.requests),
    string.format('"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}',
      e.connect, e.read, e.write, e.status, e.timeout),
  }
  for _, p in ipairs({ 50, 90, 95, 99, 99.9 }) do
    table.insert(parts, string.format('"p%s_us":%d', tostring(p), latency:percentile(p)))
  end
  table.insert(parts, string.format('"max_us":%d,"mean_us":%.1f', latency.max, latency.mean))
  for key, value in pairs(totals) do
    table.insert(parts, string.format('"%s":%s', key, tostring(value)))
  end
  io.write("WRK_RESULT {" .. table.concat(parts, ",") .. "}\n")
end
