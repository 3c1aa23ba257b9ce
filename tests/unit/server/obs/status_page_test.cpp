#include "server/obs/status_page.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using kahttpd::server::CloseReason;
using kahttpd::server::kIdleGapBoundsMs;
using kahttpd::server::kRequestsPerConnBounds;
using kahttpd::server::render_status_html;
using kahttpd::server::render_status_json;
using kahttpd::server::StatusReport;
using kahttpd::server::TimerWheel;
using kahttpd::server::WorkerSnapshot;

TEST_CASE("histogram buckets: exact small counts, then powers of two, then the open end") {
    kahttpd::server::RequestsPerConnHistogram h;
    for (std::uint64_t v : {0, 1, 3, 3, 4, 5, 8, 9, 1024, 1025, 100000}) {
        h.add(kRequestsPerConnBounds, v);
    }
    CHECK(h.counts[0] == 1);  // 0
    CHECK(h.counts[1] == 1);  // 1
    CHECK(h.counts[2] == 0);  // 2
    CHECK(h.counts[3] == 2);  // 3
    CHECK(h.counts[4] == 1);  // 4
    CHECK(h.counts[5] == 2);  // 5-8
    CHECK(h.counts[6] == 1);  // 9-16
    CHECK(h.counts[12] == 1); // 513-1024
    CHECK(h.counts[13] == 2); // 1025+
    CHECK(h.total() == 11);
}

TEST_CASE("status JSON sums workers and retired totals, and reads percentiles off the lag") {
    StatusReport r;
    r.version = "kahttpd/test";
    r.uptime_ms = 2500;
    r.generation = 2;
    r.retired.accepted = 10;
    r.retired.requests = 30;
    r.retired.closes[static_cast<std::size_t>(CloseReason::reload)] = 10;
    WorkerSnapshot a;
    a.id = 0;
    a.generation = 2;
    a.stats.accepted = 5;
    a.stats.requests = 20;
    a.stats.closes[static_cast<std::size_t>(CloseReason::idle_timeout)] = 4;
    a.stats.requests_per_conn.add(kRequestsPerConnBounds, 3);
    a.stats.idle_gaps.add(kIdleGapBoundsMs, 7);
    a.by_state = {1, 0, 3, 0, 0};
    a.timers_armed = 4;
    for (int i = 0; i < 98; ++i) {
        a.timer_lag.add(TimerWheel::kLagBoundsMs, 0);
    }
    a.timer_lag.add(TimerWheel::kLagBoundsMs, 4);
    a.timer_lag.add(TimerWheel::kLagBoundsMs, 4);
    a.timer_lag_max_ms = 4;
    a.connections.push_back({42, "127.0.0.1:5000", "idle", "idle", 3, 100, 4900, -1, ""});
    WorkerSnapshot b = a;
    b.id = 1;
    b.connections.clear();
    b.by_state = {0, 1, 0, 1, 1};
    r.workers = {a, b};

    const auto j = nlohmann::json::parse(render_status_json(r));
    CHECK(j["accepted"] == 20);
    CHECK(j["requests"] == 70);
    CHECK(j["reuse_ratio"].get<double>() == doctest::Approx(3.5));
    CHECK(j["workers"] == 2);
    CHECK(j["generation"] == 2);
    CHECK(j["uptime_s"].get<double>() == doctest::Approx(2.5));
    CHECK(j["connections"]["open"] == 7);
    CHECK(j["connections"]["reading"] == 1);
    CHECK(j["connections"]["writing"] == 1);
    CHECK(j["connections"]["idle"] == 3);
    CHECK(j["connections"]["closing"] == 2);
    CHECK(j["closes"]["idle_timeout"] == 8);
    CHECK(j["closes"]["reload"] == 10);
    CHECK(j["requests_per_connection"][3]["count"] == 2);
    CHECK(j["requests_per_connection"][3]["min"] == 3);
    CHECK(j["requests_per_connection"][3]["max"] == 3);
    CHECK(j["requests_per_connection"].back()["max"].is_null());
    CHECK(j["idle_gap_ms"][3]["le_ms"] == 10); // 7 ms falls in (5, 10]
    CHECK(j["idle_gap_ms"][3]["count"] == 2);
    CHECK(j["timer_wheel"]["armed"] == 8);
    CHECK(j["timer_wheel"]["lag_ms"]["p50"] == 0);
    CHECK(j["timer_wheel"]["lag_ms"]["p99"] == 4); // bucket (2, 5] capped by the max
    CHECK(j["timer_wheel"]["lag_ms"]["max"] == 4);
    REQUIRE(j["connection_table"].size() == 1);
    CHECK(j["connection_table"][0]["client"] == "127.0.0.1:5000");
    CHECK(j["connection_table"][0]["deadline_in_ms"] == 4900);
    CHECK(j["connection_table"][0]["worker"] == 0);
}

TEST_CASE("status HTML escapes what it shows") {
    StatusReport r;
    r.version = "<v&>";
    WorkerSnapshot w;
    w.connections.push_back({1, "<client>", "idle", "idle", 1, -1, -1, -1, ""});
    r.workers = {w};
    const std::string html = render_status_html(r, 0);
    CHECK(html.find("&lt;v&amp;&gt;") != std::string::npos);
    CHECK(html.find("&lt;client&gt;") != std::string::npos);
    CHECK(html.find("<client>") == std::string::npos);
    CHECK(html.find("http-equiv") == std::string::npos);
    CHECK(render_status_html(r, 7).find("content=\"7\"") != std::string::npos);
}

TEST_CASE("status HTML draws each histogram bucket as a bar scaled to the largest") {
    StatusReport r;
    WorkerSnapshot w;
    // Requests per connection: 4 connections served 1 request, 2 served 3, none 0.
    w.stats.requests_per_conn.add(kRequestsPerConnBounds, 1);
    w.stats.requests_per_conn.add(kRequestsPerConnBounds, 1);
    w.stats.requests_per_conn.add(kRequestsPerConnBounds, 1);
    w.stats.requests_per_conn.add(kRequestsPerConnBounds, 1);
    w.stats.requests_per_conn.add(kRequestsPerConnBounds, 3);
    w.stats.requests_per_conn.add(kRequestsPerConnBounds, 3);
    r.workers = {w};
    r.budget = 200;
    r.open_connections = 50;
    const std::string html = render_status_html(r, 0);
    const std::size_t table = html.find("<h2>Requests per connection");
    REQUIRE(table != std::string::npos);
    const auto row = [&](std::string_view label) {
        const std::size_t at = html.find("<tr><td>" + std::string(label) + "</td>", table);
        REQUIRE(at != std::string::npos);
        return html.substr(at, html.find("</tr>", at) - at);
    };
    CHECK(row("1").find("width:100%") != std::string::npos);
    CHECK(row("3").find("width:50%") != std::string::npos);
    CHECK(row("0").find("width:0%") != std::string::npos);
    // The budget's occupancy: 50 of 200.
    CHECK(html.find("<td>200</td><td>50</td><td class=\"bar\"><span style=\"width:25%\"></span> "
                    "25.0 %</td>") != std::string::npos);
}
