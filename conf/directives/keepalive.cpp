#include "conf/detail/loader.hpp"

#include <limits>

// Connection lifetime: KeepAlive*, Timeout, RequestReadTimeout, GracefulShutdownTimeout/Delay and
// the TCP-level keepalive and user timeout.

namespace kahttpd::conf::detail {

void Loader::on_keep_alive(const Context& c) {
    if (const auto on = on_off_arg(c)) {
        result_.config.keep_alive = *on;
    }
}

void Loader::on_keep_alive_timeout(const Context& c) {
    if (const auto d = duration_arg(c)) {
        result_.config.keep_alive_timeout = *d;
        keep_alive_timeout_at_ = mark(c);
    }
}

void Loader::on_max_keep_alive_requests(const Context& c) {
    const auto n = uint_arg(c, 0, std::numeric_limits<std::uint32_t>::max());
    if (!n) {
        return;
    }
    result_.config.max_keep_alive_requests = static_cast<std::uint32_t>(*n);
    // Apache's default is 100, and a page with a few dozen assets already needs that
    // many requests; below it browsers reconnect (a TCP round trip each) mid-page.
    if (*n >= 1 && *n <= 99) {
        warning(c, "expected 0 (unlimited) or at least 100, found " + std::to_string(*n) +
                       "; pages with many assets pay reconnects");
    }
}

void Loader::on_keep_alive_min_timeout(const Context& c) {
    if (const auto d = zero_or_duration_arg(c, "expected 0 or a duration (30, 30s, 500ms, 5m, 1h)")) {
        result_.config.keep_alive_min_timeout = *d;
    }
}

void Loader::on_max_keep_alive_time(const Context& c) {
    constexpr std::string_view kExpected = "expected DURATION [JITTER%] (0 = no cap, jitter 0-50%)";
    if (c.args.empty() || c.args.size() > 2) {
        error(c,
              std::string(kExpected) + ", found " + std::to_string(c.args.size()) + " arguments");
        return;
    }
    const auto d = parse_duration(c.args[0]);
    if (!d || *d > kMaxDuration) {
        error(c, std::string(kExpected) + ", found " + in_quotes(c.args[0]));
        return;
    }
    std::uint32_t jitter = result_.config.max_keep_alive_time_jitter;
    if (c.args.size() == 2) {
        const std::string& j = c.args[1];
        const auto n = j.size() >= 2 && j.back() == '%'
                           ? parse_uint(std::string_view(j).substr(0, j.size() - 1))
                           : std::nullopt;
        if (!n || *n > 50) {
            error(c, std::string(kExpected) + ", found " + in_quotes(j));
            return;
        }
        jitter = static_cast<std::uint32_t>(*n);
    }
    result_.config.max_keep_alive_time = *d;
    result_.config.max_keep_alive_time_jitter = jitter;
}

void Loader::on_timeout(const Context& c) {
    if (const auto d = duration_arg(c)) {
        result_.config.timeout = *d;
    }
}

void Loader::on_request_read_timeout(const Context& c) {
    // Apache's mod_reqtimeout syntax: TYPE=TIMEOUT[-MAXTIMEOUT][,MinRate=RATE], TYPE one of
    // handshake, header, body. Naming a type replaces its defaults (a range or a rate only when
    // given, as in Apache).
    static constexpr std::string_view kForm =
        "<type>=<seconds>[-<max seconds>][,MinRate=<bytes/s>] (type: handshake, header, body)";
    if (c.args.empty()) {
        error(c, "expected " + std::string(kForm) + ", found none");
        return;
    }
    Config& cfg = result_.config;
    for (const std::string& arg : c.args) {
        const std::size_t eq = arg.find('=');
        const std::string key = lower(arg.substr(0, eq));
        if (eq == std::string::npos || (key != "header" && key != "body" && key != "handshake")) {
            error(c, "expected " + std::string(kForm) + ", found " + in_quotes(arg));
            continue;
        }
        std::string value = arg.substr(eq + 1);
        std::uint32_t rate = 0;
        if (const std::size_t comma = value.find(','); comma != std::string::npos) {
            const std::string rest = value.substr(comma + 1);
            const std::size_t req = rest.find('=');
            const auto n = req == std::string::npos
                               ? std::nullopt
                               : parse_uint(std::string_view(rest).substr(req + 1));
            if (req == std::string::npos || lower(rest.substr(0, req)) != "minrate" || !n ||
                *n == 0 || *n > 1000000000) {
                error(c, "expected " + key +
                             "=<seconds>[,MinRate=<bytes/s>] with a rate from 1, "
                             "found " +
                             in_quotes(arg));
                continue;
            }
            rate = static_cast<std::uint32_t>(*n);
            value.resize(comma);
        }
        std::optional<milliseconds> max;
        if (const std::size_t dash = value.find('-'); dash != std::string::npos) {
            max = parse_duration(value.substr(dash + 1));
            value.resize(dash);
            if (!max || *max > kMaxDuration) {
                error(c, "expected " + key + "=<seconds>-<max seconds>, found " + in_quotes(arg));
                continue;
            }
        }
        const auto d = parse_duration(value);
        if (!d || (*d != milliseconds::zero() && (*d < kMinDuration || *d > kMaxDuration))) {
            error(c, "expected " + key + "=0 (disabled) or a duration from 1ms to 1h, found " +
                         in_quotes(arg));
            continue;
        }
        if (max && *max < *d) {
            error(c, "expected the maximum of " + key + "= to be at least its timeout, found " +
                         in_quotes(arg));
            continue;
        }
        if (key == "handshake") {
            cfg.request_read_timeout_handshake = *d;
            cfg.request_read_timeout_handshake_max = max.value_or(milliseconds::zero());
            cfg.request_read_timeout_handshake_min_rate = rate;
        } else if (key == "header") {
            cfg.request_read_timeout_header = *d;
            cfg.request_read_timeout_header_max = max.value_or(milliseconds::zero());
            cfg.request_read_timeout_header_min_rate = rate;
            header_timeout_at_ = mark(c);
        } else {
            cfg.request_read_timeout_body = *d;
            cfg.request_read_timeout_body_max = max.value_or(milliseconds::zero());
            cfg.request_read_timeout_body_min_rate = rate;
        }
    }
}

void Loader::on_graceful_shutdown_timeout(const Context& c) {
    // 0 means close at once. Apache's 0 waits forever; kahttpd always bounds the wait so
    // that a stuck client cannot hold a restart hostage.
    if (!expect_one_arg(c)) {
        return;
    }
    const auto d = parse_duration(c.args[0]);
    if (!d) {
        error(c, "expected a duration (30, 30s, 500ms, 5m, 1h), found " + in_quotes(c.args[0]));
        return;
    }
    if (*d > kMaxDuration) {
        error(c,
              "expected 0 (close at once) or a duration up to 1h, found " + in_quotes(c.args[0]));
        return;
    }
    result_.config.graceful_shutdown_timeout = *d;
}

void Loader::on_graceful_shutdown_delay(const Context& c) {
    // 0 (the default) stops at once. The delay comes before GracefulShutdownTimeout's drain,
    // so a stop takes up to the sum of both.
    if (const auto d = zero_or_duration_arg(c, "expected 0 (no delay) or a duration up to 1h")) {
        result_.config.graceful_shutdown_delay = *d;
    }
}

void Loader::on_tcp_keepalive(const Context& c) {
    if (const auto on = on_off_arg(c)) {
        result_.config.tcp_keepalive = *on;
    }
}

/// Whole seconds, as the kernel takes them (TCP_KEEPIDLE and TCP_KEEPINTVL: 1..32767).
std::optional<std::chrono::seconds> Loader::keepalive_seconds(const Context& c) {
    if (const auto n = uint_arg(c, 1, 32767)) {
        return std::chrono::seconds(*n);
    }
    return std::nullopt;
}

void Loader::on_tcp_keepalive_idle(const Context& c) {
    if (const auto s = keepalive_seconds(c)) {
        result_.config.tcp_keepalive_idle = *s;
    }
}

void Loader::on_tcp_keepalive_interval(const Context& c) {
    if (const auto s = keepalive_seconds(c)) {
        result_.config.tcp_keepalive_interval = *s;
    }
}

void Loader::on_tcp_keepalive_count(const Context& c) {
    if (const auto n = uint_arg(c, 1, 127)) {
        result_.config.tcp_keepalive_count = static_cast<std::uint32_t>(*n);
    }
}

/// Apache's AcceptFilter protocol filter. On Linux every filter but "none" means
/// TCP_DEFER_ACCEPT (Apache's names from FreeBSD, httpready and dataready, are accepted too).
void Loader::on_accept_filter(const Context& c) {
    if (c.args.size() != 2) {
        error(c, "expected a protocol (http or https) and a filter (data or none), found " +
                     args_text(c.args.size()));
        return;
    }
    bool* on = nullptr;
    if (iequals(c.args[0], "http")) {
        on = &result_.config.accept_filter_http;
    } else if (iequals(c.args[0], "https")) {
        on = &result_.config.accept_filter_https;
    } else {
        error(c, "expected the protocol of a Listen, http or https, found " + in_quotes(c.args[0]));
        return;
    }
    const std::string& f = c.args[1];
    if (iequals(f, "none")) {
        *on = false;
    } else if (iequals(f, "data") || iequals(f, "dataready") || iequals(f, "httpready")) {
        *on = true;
    } else {
        error(c, "expected the filter data or none (httpready and dataready mean data on "
                 "Linux), found " + in_quotes(f));
    }
}

void Loader::on_tcp_user_timeout(const Context& c) {
    if (const auto d =
            zero_or_duration_arg(c, "expected 0 (the kernel's default) or a duration up to 1h")) {
        result_.config.tcp_user_timeout = *d;
    }
}

} // namespace kahttpd::conf::detail
