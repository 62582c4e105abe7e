-- wrk script of benchmarks/api_load.py: the same requests for the ceiling and the service.
--   wrk -s benchmarks/api_load.lua URL -- MODE DATAFILE NONCE
-- MODE: get (one of the caller's cases), list (the caller's first page of 50), post (a new
-- appeal with a transaction hash no other request used), ping (no database).
-- DATAFILE: one owner a line: "key deposit_address refund_address network case_id...".
-- At the end one JSON line: requests, seconds, latency percentiles (ms), errors.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  mode, datafile, nonce = args[1], args[2], tonumber(args[3], 16)
  owners = {}
  for line in io.lines(datafile) do
    local fields = {}
    for field in line:gmatch("%S+") do table.insert(fields, field) end
    local cases = {}
    for i = 5, #fields do table.insert(cases, fields[i]) end
    table.insert(owners, {
      auth = "Bearer " .. fields[1], deposit = fields[2], refund = fields[3],
      network = fields[4], cases = cases,
    })
  end
  math.randomseed(nonce + tid)
end

local body_format = '{"case_type":"wrong_network","network":"%s","opened_for":"ethereum",'
  .. '"tx_hash":"%s","token":"native","deposit_address":"%s","refund_address":"%s",'
  .. '"claimed_amount":"1000000000000000000"}'

function request()
  local owner = owners[math.random(#owners)]
  if mode == "get" then
    local case = owner.cases[math.random(#owner.cases)]
    return wrk.format("GET", "/v1/appeals/" .. case, {["Authorization"] = owner.auth})
  elseif mode == "list" then
    return wrk.format("GET", "/v1/appeals?limit=50", {["Authorization"] = owner.auth})
  elseif mode == "post" then
    counter = counter + 1
    -- 8 hex digits of run nonce, 8 of thread, 48 decimal digits of counter: 64 hex digits.
    local tx = string.format("0x%08x%08x%048d", nonce, tid, counter)
    local body = string.format(body_format, owner.network, tx, owner.deposit, owner.refund)
    return wrk.format("POST", "/v1/appeals", {
      ["Authorization"] = owner.auth, ["Content-Type"] = "application/json",
      ["Idempotency-Key"] = tx,
    }, body)
  else
    return wrk.format("GET", "/ping")
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"seconds":%.6f,"p50_ms":%.3f,"p99_ms":%.3f,"mean_ms":%.3f,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, latency.mean / 1e3,
    e.connect, e.read, e.write, e.status, e.timeout))
end
