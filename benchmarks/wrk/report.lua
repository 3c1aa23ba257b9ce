-- wrk script that changes nothing about the requests (so wrk keeps its fast static path)
-- and, when the run is over, prints one line that benchmarks/run.sh parses:
--
--   BENCH_RESULT requests=N bytes=N duration_us=N connect=N read=N write=N status=N
--                timeout=N lat_p50_us=N lat_p99_us=N
--
-- "status" is wrk's count of responses with a status of 400 or more (the
-- "Non-2xx or 3xx responses" line of its text report).

done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH_RESULT requests=%d bytes=%d duration_us=%d connect=%d read=%d write=%d" ..
      " status=%d timeout=%d lat_p50_us=%d lat_p99_us=%d\n",
      summary.requests, summary.bytes, summary.duration,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(99)))
end
