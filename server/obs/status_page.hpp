#pragma once

#include "server/http/close_reason.hpp"
#include "server/http/response.hpp"
#include "server/util/histogram.hpp"
#include "server/util/timer_wheel.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace kahttpd::server {

class Worker;

/// Requests served by a connection, counted when it closes: 0, 1, 2, 3, 4 exactly, then
/// powers of two (5-8, 9-16, ...), the last bucket 1025 and more.
inline constexpr std::array<std::uint64_t, 13> kRequestsPerConnBounds = {
    0, 1, 2, 3, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
/// Idle gaps between two requests on one connection, in milliseconds (upper bounds).
inline constexpr std::array<std::uint64_t, 14> kIdleGapBoundsMs = {
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 60000};

using RequestsPerConnHistogram = Histogram<kRequestsPerConnBounds.size()>;
using IdleGapHistogram = Histogram<kIdleGapBoundsMs.size()>;
using TimerLagHistogram = TimerWheel::LagHistogram;

/// Counters of one worker. Only its own thread writes them; the status page reads them through
/// a snapshot taken on that thread.
struct WorkerStats {
    std::uint64_t accepted = 0;
    std::uint64_t requests = 0;
    std::uint64_t queued = 0; ///< connections that waited in the budget's queue
    // TLS (the https addresses).
    std::uint64_t tls_handshakes = 0; ///< completed handshakes
    std::uint64_t tls_resumed = 0;    ///< ... of which resumed a session (ticket or id)
    std::uint64_t tls_failures = 0;   ///< handshakes that failed (alerts, bad records)
    std::uint64_t tls_plain_http = 0; ///< plain HTTP sent to a TLS address (answered 400)
    CloseCounters closes{};
    RequestsPerConnHistogram requests_per_conn;
    IdleGapHistogram idle_gaps;

    void merge(const WorkerStats& o) noexcept;
};

/// One row of the live connection table.
struct ConnectionRow {
    std::uint64_t id = 0;
    std::string client; ///< "IP:PORT"
    const char* state = "";
    const char* deadline = ""; ///< what the armed deadline is for ("idle", "header", ...)
    std::uint32_t requests = 0;
    std::int64_t idle_ms = -1;     ///< how long it has been idle; -1 when not idle
    std::int64_t deadline_ms = -1; ///< time left before its deadline; -1 when none is armed
    std::int64_t lifetime_ms = -1; ///< time left under MaxKeepAliveTime; -1 when uncapped
    std::string tls; ///< "TLSv1.3 TLS_AES_256_GCM_SHA384"; "handshake" before; "" plain
};

/// What one worker reports to the status page, taken on its own thread.
struct WorkerSnapshot {
    unsigned id = 0;
    unsigned generation = 0;
    bool retiring = false; ///< an older configuration's worker, finishing its connections
    WorkerStats stats;
    std::array<std::uint32_t, 5> by_state{}; ///< reading, writing, idle, lingering, closing
    // Timer wheel.
    std::uint64_t timers_armed = 0;
    std::uint64_t timers_scheduled = 0;
    std::uint64_t timer_expirations = 0;
    double expirations_per_s = 0; ///< over the last 10 seconds
    TimerLagHistogram timer_lag;
    std::uint64_t timer_lag_max_ms = 0;
    std::vector<ConnectionRow> connections;
};

/// Process-wide facts for the status page: outlives every configuration generation.
/// The registry of live workers is guarded by `mutex`; the totals of workers that have
/// finished (after a reload) are folded into `retired` so the totals never go backwards.
struct StatusBoard {
    std::uint64_t started_ms = 0;  ///< uv_hrtime() at start, in ms
    std::int64_t started_unix = 0; ///< wall clock at start
    std::atomic<unsigned> generation{1};
    std::atomic<std::uint64_t> reloads{0};
    /// Connections open in every worker of every generation, for MaxConnections. Written by
    /// every worker at each accept and close, read at each keep-alive response: on a cache
    /// line of its own, so those writes do not also evict the fields around it.
    alignas(64) std::atomic<std::uint32_t> open_connections{0};
    /// Accepted at the budget and waiting for a slot (Worker::enqueue), in every worker.
    alignas(64) std::atomic<std::uint32_t> queued_connections{0};
    /// The server is stopping (from GracefulShutdownDelay on): SetHandler server-health
    /// answers 503. Set by the main thread, read by the workers.
    std::atomic<bool> draining{false};

    alignas(64) std::mutex mutex;
    std::vector<Worker*> workers; ///< every worker whose thread is running
    WorkerStats retired;          ///< sums of workers that have finished
};

/// Everything gathered for one status request.
struct StatusReport {
    std::uint64_t uptime_ms = 0;
    std::int64_t started_unix = 0;
    unsigned generation = 0;
    std::uint64_t reloads = 0;
    std::string version;
    unsigned table_limit = 1000; ///< most rows in the connection table (?limit=N)
    // Keep-alive under pressure, as the asking worker sees it now.
    std::uint32_t budget = 0;                ///< connection budget (0 = none)
    std::uint64_t open_connections = 0;      ///< open in every worker, against the budget
    std::uint64_t queued_connections = 0;    ///< waiting for a slot, in every worker
    std::uint64_t idle_timeout_ms = 0;       ///< the idle timeout a connection going idle gets now
    std::uint64_t keep_alive_timeout_ms = 0; ///< KeepAliveTimeout as configured
    std::uint64_t reap_floor_ms = 0;         ///< KeepAliveMinTimeout (at most KeepAliveTimeout)
    WorkerStats retired;
    std::vector<WorkerSnapshot> workers;
};

/// What a status request asks for: ?json (or ?format=json), ?refresh=N (at most 3600 s),
/// ?limit=N rows of the connection table (default 1000).
struct StatusQuery {
    bool json = false;
    unsigned refresh = 0;
    unsigned limit = 1000;
};

/// The query of a request target ("/server-status?json&limit=5") read as a StatusQuery;
/// unknown parts are ignored.
StatusQuery parse_status_query(std::string_view target) noexcept;

/// The status handler: the page for `report` as a Response (200, HTML or JSON, not cacheable).
/// Like the static handler it returns a value and never touches a socket; the transport
/// gathers the report first (Worker::gather_status).
void status_response(const StatusReport& report, const StatusQuery& query, Response& out);

/// The report as JSON (every field is documented in docs/status.md).
std::string render_status_json(const StatusReport& report);
/// The report as an HTML page; `refresh` seconds > 0 adds a meta refresh.
std::string render_status_html(const StatusReport& report, unsigned refresh);

} // namespace kahttpd::server
