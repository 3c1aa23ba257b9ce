-- wrk script: HTTP/1.1 pipelining. Every write carries DEPTH GET requests for the URL's
-- path (DEPTH = first script argument, default 16); wrk counts the requests in the
-- buffer and writes the next batch once all DEPTH responses are in.
--
--   wrk -t1 -c50 -d5s -s benchmarks/wrk/pipeline.lua http://127.0.0.1:8080/1k.bin -- 16
--
-- It also prints the BENCH_RESULT line of report.lua (loaded from this script's folder).

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local batch

init = function(args)
   local depth = tonumber(args[1] or "16") or 16
   local one = wrk.format("GET", wrk.path)
   local parts = {}
   for i = 1, depth do
      parts[i] = one
   end
   batch = table.concat(parts)
end

request = function()
   return batch
end
