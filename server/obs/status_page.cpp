#include "server/obs/status_page.hpp"

#include "server/http/html.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace kahttpd::server {

void WorkerStats::merge(const WorkerStats& o) noexcept {
    accepted += o.accepted;
    requests += o.requests;
    queued += o.queued;
    tls_handshakes += o.tls_handshakes;
    tls_resumed += o.tls_resumed;
    tls_failures += o.tls_failures;
    tls_plain_http += o.tls_plain_http;
    for (std::size_t i = 0; i < kCloseReasonCount; ++i) {
        closes[i] += o.closes[i];
    }
    requests_per_conn.merge(o.requests_per_conn);
    idle_gaps.merge(o.idle_gaps);
}

namespace {

/// Totals over every worker of the report, the finished ones included.
struct Totals {
    WorkerStats stats;
    std::array<std::uint32_t, 5> by_state{};
    unsigned current_workers = 0;
    std::uint64_t armed = 0, scheduled = 0, expirations = 0, lag_max = 0;
    double expirations_per_s = 0;
    TimerLagHistogram lag;
};

Totals sum(const StatusReport& r) {
    Totals t;
    t.stats = r.retired;
    for (const WorkerSnapshot& w : r.workers) {
        t.stats.merge(w.stats);
        for (std::size_t i = 0; i < t.by_state.size(); ++i) {
            t.by_state[i] += w.by_state[i];
        }
        t.current_workers += w.retiring ? 0 : 1;
        t.armed += w.timers_armed;
        t.scheduled += w.timers_scheduled;
        t.expirations += w.timer_expirations;
        t.expirations_per_s += w.expirations_per_s;
        t.lag.merge(w.timer_lag);
        t.lag_max = std::max(t.lag_max, w.timer_lag_max_ms);
    }
    return t;
}

/// The upper bound of the bucket holding the p-th fraction of the values (the exact maximum
/// for the open last bucket); 0 when empty.
std::uint64_t percentile(const TimerLagHistogram& h, double p, std::uint64_t max) {
    const std::uint64_t total = h.total();
    if (total == 0) {
        return 0;
    }
    const auto want = static_cast<std::uint64_t>(p * static_cast<double>(total) + 0.999999);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < h.counts.size(); ++i) {
        seen += h.counts[i];
        if (seen >= want) {
            return i < TimerWheel::kLagBoundsMs.size() ? std::min(TimerWheel::kLagBoundsMs[i], max)
                                                       : max;
        }
    }
    return max;
}

double reuse_ratio(const WorkerStats& s) {
    return s.accepted == 0 ? 0.0
                           : static_cast<double>(s.requests) / static_cast<double>(s.accepted);
}

/// Open connections, counted by state: closing includes lingering.
struct StateCounts {
    std::uint64_t reading, writing, idle, closing, open;
};

StateCounts states(const Totals& t) {
    StateCounts s{t.by_state[0], t.by_state[1], t.by_state[2], t.by_state[3] + t.by_state[4], 0};
    s.open = s.reading + s.writing + s.idle + s.closing;
    return s;
}

std::string bucket_label_requests(std::size_t i) {
    const auto& b = kRequestsPerConnBounds;
    if (i == b.size()) {
        return std::to_string(b.back() + 1) + "+";
    }
    const std::uint64_t lo = i == 0 ? 0 : b[i - 1] + 1;
    return lo == b[i] ? std::to_string(lo) : std::to_string(lo) + "-" + std::to_string(b[i]);
}

std::string bucket_label_ms(std::size_t i) {
    const auto& b = kIdleGapBoundsMs;
    if (i == b.size()) {
        return "> " + std::to_string(b.back()) + " ms";
    }
    return "<= " + std::to_string(b[i]) + " ms";
}

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

/// A bar for `count` out of the largest bucket `max`, as a table cell a person reads at a
/// glance: its width is the share of the largest bucket, in whole percent.
/// With `label`, the share is written after the bar too (small shares draw no visible bar).
std::string bar_cell(std::uint64_t count, std::uint64_t max, bool label = false) {
    const std::uint64_t pct = max == 0 ? 0 : (count * 100 + max / 2) / max;
    std::string cell =
        "<td class=\"bar\"><span style=\"width:" + std::to_string(pct) + "%\"></span>";
    if (label && max != 0) {
        cell +=
            " " + fixed(100.0 * static_cast<double>(count) / static_cast<double>(max), 1) + " %";
    }
    return cell + "</td>";
}

/// One table row per bucket of `hist`: its label, its count and a bar scaled to the largest.
template <typename Histogram, typename Label>
void append_histogram_rows(std::string& h, const Histogram& hist, Label label) {
    std::uint64_t largest = 0;
    for (const std::uint64_t c : hist.counts) {
        largest = std::max(largest, c);
    }
    for (std::size_t i = 0; i < hist.counts.size(); ++i) {
        h += "<tr><td>" + label(i) + "</td><td>" + std::to_string(hist.counts[i]) + "</td>" +
             bar_cell(hist.counts[i], largest) + "</tr>\n";
    }
}

} // namespace

std::string render_status_json(const StatusReport& r) {
    using nlohmann::json;
    const Totals t = sum(r);
    const StateCounts st = states(t);
    json j;
    j["version"] = r.version;
    j["uptime_s"] = static_cast<double>(r.uptime_ms) / 1000.0;
    j["started_unix"] = r.started_unix;
    j["generation"] = r.generation;
    j["reloads"] = r.reloads;
    j["workers"] = t.current_workers;
    j["connections"] = {{"open", st.open},
                        {"reading", st.reading},
                        {"writing", st.writing},
                        {"idle", st.idle},
                        {"closing", st.closing}};
    j["budget"] = {{"limit", r.budget == 0 ? json(nullptr) : json(r.budget)},
                   {"open", r.open_connections},
                   {"queued", r.queued_connections},
                   {"queued_total", t.stats.queued},
                   {"occupancy", r.budget == 0 ? 0.0
                                               : static_cast<double>(r.open_connections) /
                                                     static_cast<double>(r.budget)},
                   {"keep_alive_timeout_ms", r.keep_alive_timeout_ms},
                   {"idle_timeout_ms", r.idle_timeout_ms},
                   {"reap_floor_ms", r.reap_floor_ms},
                   {"reaped", t.stats.closes[static_cast<std::size_t>(CloseReason::reaped)]},
                   {"evicted", t.stats.closes[static_cast<std::size_t>(CloseReason::evicted)]},
                   {"refused", t.stats.closes[static_cast<std::size_t>(CloseReason::overload)]}};
    j["tls"] = {{"handshakes", t.stats.tls_handshakes},
                {"resumed", t.stats.tls_resumed},
                {"failures", t.stats.tls_failures},
                {"handshake_timeouts",
                 t.stats.closes[static_cast<std::size_t>(CloseReason::handshake_timeout)]},
                {"plain_http", t.stats.tls_plain_http}};
    j["accepted"] = t.stats.accepted;
    j["requests"] = t.stats.requests;
    j["reuse_ratio"] = reuse_ratio(t.stats);

    json per_conn = json::array();
    for (std::size_t i = 0; i < t.stats.requests_per_conn.counts.size(); ++i) {
        const auto& b = kRequestsPerConnBounds;
        json bucket = {{"min", i == 0 ? 0 : b[i - 1] + 1},
                       {"count", t.stats.requests_per_conn.counts[i]}};
        bucket["max"] = i < b.size() ? json(b[i]) : json(nullptr);
        per_conn.push_back(std::move(bucket));
    }
    j["requests_per_connection"] = std::move(per_conn);

    json gaps = json::array();
    for (std::size_t i = 0; i < t.stats.idle_gaps.counts.size(); ++i) {
        json bucket = {{"count", t.stats.idle_gaps.counts[i]}};
        bucket["le_ms"] = i < kIdleGapBoundsMs.size() ? json(kIdleGapBoundsMs[i]) : json(nullptr);
        gaps.push_back(std::move(bucket));
    }
    j["idle_gap_ms"] = std::move(gaps);

    json closes = json::object();
    for (std::size_t i = 0; i < kCloseReasonCount; ++i) {
        closes[std::string(to_string(static_cast<CloseReason>(i)))] = t.stats.closes[i];
    }
    j["closes"] = std::move(closes);

    j["timer_wheel"] = {{"armed", t.armed},
                        {"scheduled", t.scheduled},
                        {"expirations", t.expirations},
                        {"expirations_per_s", t.expirations_per_s},
                        {"lag_ms",
                         {{"p50", percentile(t.lag, 0.50, t.lag_max)},
                          {"p99", percentile(t.lag, 0.99, t.lag_max)},
                          {"max", t.lag_max}}}};

    json workers = json::array();
    json table = json::array();
    bool truncated = false;
    for (const WorkerSnapshot& w : r.workers) {
        workers.push_back({{"id", w.id},
                           {"generation", w.generation},
                           {"retiring", w.retiring},
                           {"accepted", w.stats.accepted},
                           {"requests", w.stats.requests},
                           {"open", w.connections.size()},
                           {"timers_armed", w.timers_armed}});
        for (const ConnectionRow& c : w.connections) {
            if (table.size() >= r.table_limit) {
                truncated = true;
                break;
            }
            json row = {{"id", c.id},       {"worker", w.id},         {"client", c.client},
                        {"state", c.state}, {"requests", c.requests}, {"deadline", c.deadline}};
            row["idle_ms"] = c.idle_ms >= 0 ? json(c.idle_ms) : json(nullptr);
            row["deadline_in_ms"] = c.deadline_ms >= 0 ? json(c.deadline_ms) : json(nullptr);
            row["lifetime_left_ms"] = c.lifetime_ms >= 0 ? json(c.lifetime_ms) : json(nullptr);
            row["tls"] = c.tls.empty() ? json(nullptr) : json(c.tls);
            table.push_back(std::move(row));
        }
    }
    j["per_worker"] = std::move(workers);
    truncated = truncated || table.size() < st.open;
    j["connection_table"] = std::move(table);
    j["connection_table_truncated"] = truncated;
    return j.dump(2) + "\n";
}

std::string render_status_html(const StatusReport& r, unsigned refresh) {
    const Totals t = sum(r);
    const StateCounts st = states(t);
    std::string h;
    h.reserve(4096);
    h += "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>kahttpd status</title>\n";
    if (refresh > 0) {
        h += "<meta http-equiv=\"refresh\" content=\"" + std::to_string(refresh) + "\">\n";
    }
    h += "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;"
         "margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}"
         "th{background:#eee}td:first-child,th:first-child{text-align:left}"
         "td.bar{width:16em;text-align:left}td.bar span{display:inline-block;height:.8em;"
         "background:#4a7bd0}</style>\n"
         "</head><body>\n<h1>kahttpd status</h1>\n<p>";
    append_html(h, r.version);
    h += " &mdash; up " + fixed(static_cast<double>(r.uptime_ms) / 1000.0, 1) + " s, " +
         std::to_string(t.current_workers) + " workers, configuration generation " +
         std::to_string(r.generation) + " (" + std::to_string(r.reloads) + " reloads). " +
         "<a href=\"?json\">JSON</a>, <a href=\"?refresh=5\">refresh every 5 s</a></p>\n";

    h += "<h2>Connections</h2>\n<table><tr><th>open</th><th>reading</th><th>writing</th>"
         "<th>idle keep-alive</th><th>closing</th><th>accepted</th><th>requests</th>"
         "<th>requests per connection</th></tr>\n<tr>";
    for (std::uint64_t v : {st.open, st.reading, st.writing, st.idle, st.closing, t.stats.accepted,
                            t.stats.requests}) {
        h += "<td>" + std::to_string(v) + "</td>";
    }
    h += "<td>" + fixed(reuse_ratio(t.stats), 2) + "</td></tr></table>\n";

    h += "<h2>Connection budget</h2>\n<table><tr><th>limit</th><th>open</th><th>occupancy</th>"
         "<th>queued</th><th>idle timeout now</th><th>configured</th><th>floor</th><th>reaped</th>"
         "<th>evicted</th><th>refused</th></tr>\n<tr><td>" +
         (r.budget == 0 ? std::string("none") : std::to_string(r.budget)) + "</td><td>" +
         std::to_string(r.open_connections) + "</td>" +
         bar_cell(r.open_connections, r.budget == 0 ? 0 : r.budget, true) + "<td>" +
         std::to_string(r.queued_connections) + "</td><td>" + std::to_string(r.idle_timeout_ms) +
         " ms</td><td>" + std::to_string(r.keep_alive_timeout_ms) + " ms</td><td>" +
         std::to_string(r.reap_floor_ms) + " ms</td>";
    for (const CloseReason why :
         {CloseReason::reaped, CloseReason::evicted, CloseReason::overload}) {
        h += "<td>" + std::to_string(t.stats.closes[static_cast<std::size_t>(why)]) + "</td>";
    }
    h += "</tr></table>\n";

    h += "<h2>Requests per connection (closed connections)</h2>\n<table><tr><th>requests</th>"
         "<th>connections</th><th></th></tr>\n";
    append_histogram_rows(h, t.stats.requests_per_conn, bucket_label_requests);
    h += "</table>\n<h2>Idle gaps between requests on a connection</h2>\n<table><tr><th>gap"
         "</th><th>count</th><th></th></tr>\n";
    append_histogram_rows(h, t.stats.idle_gaps, bucket_label_ms);
    h += "</table>\n<h2>Closes by reason</h2>\n<table><tr><th>reason</th><th>count</th></tr>\n";
    for (std::size_t i = 0; i < kCloseReasonCount; ++i) {
        h += "<tr><td>";
        h += to_string(static_cast<CloseReason>(i));
        h += "</td><td>" + std::to_string(t.stats.closes[i]) + "</td></tr>\n";
    }
    h += "</table>\n<h2>TLS</h2>\n<table><tr><th>handshakes</th><th>resumed</th><th>failed</th>"
         "<th>timed out</th><th>plain HTTP</th></tr>\n<tr><td>" +
         std::to_string(t.stats.tls_handshakes) + "</td><td>" + std::to_string(t.stats.tls_resumed) +
         "</td><td>" + std::to_string(t.stats.tls_failures) + "</td><td>" +
         std::to_string(t.stats.closes[static_cast<std::size_t>(CloseReason::handshake_timeout)]) +
         "</td><td>" + std::to_string(t.stats.tls_plain_http) + "</td></tr>";
    h += "</table>\n<h2>Timer wheel</h2>\n<table><tr><th>armed</th><th>scheduled</th>"
         "<th>expirations</th><th>expirations/s</th><th>lag p50 ms</th><th>lag p99 ms</th>"
         "<th>lag max ms</th></tr>\n<tr><td>" +
         std::to_string(t.armed) + "</td><td>" + std::to_string(t.scheduled) + "</td><td>" +
         std::to_string(t.expirations) + "</td><td>" + fixed(t.expirations_per_s, 1) + "</td><td>" +
         std::to_string(percentile(t.lag, 0.50, t.lag_max)) + "</td><td>" +
         std::to_string(percentile(t.lag, 0.99, t.lag_max)) + "</td><td>" +
         std::to_string(t.lag_max) + "</td></tr></table>\n";

    h += "<h2>Current connections</h2>\n<table><tr><th>id</th><th>worker</th><th>client</th>"
         "<th>state</th><th>requests</th><th>idle for</th><th>deadline</th><th>in</th>"
         "<th>TLS</th></tr>\n";
    std::size_t rows = 0;
    for (const WorkerSnapshot& w : r.workers) {
        for (const ConnectionRow& c : w.connections) {
            if (rows++ >= r.table_limit) {
                break;
            }
            h += "<tr><td>" + std::to_string(c.id) + "</td><td>" + std::to_string(w.id) +
                 (w.retiring ? " (retiring)" : "") + "</td><td>";
            append_html(h, c.client);
            h += "</td><td>";
            h += c.state;
            h += "</td><td>" + std::to_string(c.requests) + "</td><td>" +
                 (c.idle_ms >= 0 ? std::to_string(c.idle_ms) + " ms" : "") + "</td><td>";
            h += c.deadline;
            h += "</td><td>" + (c.deadline_ms >= 0 ? std::to_string(c.deadline_ms) + " ms" : "") +
                 "</td><td>";
            append_html(h, c.tls);
            h += "</td></tr>\n";
        }
    }
    h += "</table>\n";
    if (rows < st.open) {
        h += "<p>" + std::to_string(std::min<std::uint64_t>(rows, r.table_limit)) + " of " +
             std::to_string(st.open) + " connections shown (<a href=\"?limit=10000\">more</a>)" +
             "</p>\n";
    }
    h += "</body></html>\n";
    return h;
}

StatusQuery parse_status_query(std::string_view target) noexcept {
    StatusQuery q;
    const std::size_t mark = target.find('?');
    std::string_view rest =
        mark == std::string_view::npos ? std::string_view() : target.substr(mark + 1);
    while (!rest.empty()) {
        const std::size_t amp = rest.find('&');
        const std::string_view part = rest.substr(0, amp);
        if (part == "json" || part == "format=json") {
            q.json = true;
        } else if (part.starts_with("limit=")) {
            std::from_chars(part.data() + 6, part.data() + part.size(), q.limit);
        } else if (part.starts_with("refresh=")) {
            std::from_chars(part.data() + 8, part.data() + part.size(), q.refresh);
            q.refresh = std::min(q.refresh, 3600u);
        }
        rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    }
    return q;
}

void status_response(const StatusReport& report, const StatusQuery& query, Response& out) {
    out.status = parser::Status::ok;
    out.text_storage =
        query.json ? render_status_json(report) : render_status_html(report, query.refresh);
    out.content_type = query.json ? "application/json" : "text/html; charset=utf-8";
    out.fields = "Cache-Control: no-store\r\n";
    out.set_text_body();
}

} // namespace kahttpd::server
