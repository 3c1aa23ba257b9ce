#include "conf/config.hpp"

#include "conf/detail/dir_merge.hpp"
#include "conf/detail/loader.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <thread>
#include <vector>

#include <sched.h>

namespace kahttpd::conf {

unsigned Config::worker_count() const noexcept {
    if (workers != 0) {
        return workers;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0) {
        return std::max(1, CPU_COUNT(&set));
    }
    return std::max(1u, std::thread::hardware_concurrency());
}

std::string ConfigError::to_string() const {
    std::string s = file;
    if (line > 0) {
        s += ':';
        s += std::to_string(line);
    }
    s += ": ";
    if (!directive.empty()) {
        s += directive;
        s += ": ";
    }
    s += message;
    return s;
}

namespace detail {

namespace {

/// The formats Apache's stock httpd.conf defines; kahttpd has them built in so that
/// `CustomLog logs/access_log combined` works without the LogFormat lines.
constexpr std::string_view kCommonFormat = "%h %l %u %t \"%r\" %>s %b";
constexpr std::string_view kCombinedFormat =
    "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"";

/// Splits "FILE:LINE" back into its parts, for warnings about a value found after the fact.
std::pair<std::string, int> split_source(const Source& from) {
    const std::size_t colon = from.rfind(':');
    if (colon == std::string::npos) {
        return {from, 0};
    }
    const auto line = parse_uint(std::string_view(from).substr(colon + 1));
    return {from.substr(0, colon), line ? static_cast<int>(*line) : 0};
}

} // namespace

LoadResult Loader::load_file(const fs::path& file) {
    const std::string display = file.string();
    start(file, display);
    std::string text;
    if (auto why = read_whole_file(file, text)) {
        result_.errors.push_back({display, 0, "", "expected a readable file, found " + *why});
        return std::move(result_);
    }
    read_text(text, display, file_identity(file));
    finish(display);
    return std::move(result_);
}

LoadResult Loader::load_text(const std::string& text, const fs::path& name) {
    const std::string display = name.string();
    start(name, display);
    read_text(text, display, file_identity(name));
    finish(display);
    return std::move(result_);
}

void Loader::start(const fs::path& file, const std::string& display) {
    Config& c = result_.config;
    c.config_file = absolute_normal(file);
    // Apache's layout: /x/conf/httpd.conf has ServerRoot /x.
    c.server_root = c.config_file.parent_path().parent_path();
    c.log_formats["common"] = kCommonFormat;
    c.log_formats["combined"] = kCombinedFormat;
    // -D NAME, or -D NAME=VALUE (a kahttpd extension: Apache's -D takes names only).
    for (const std::string& d : cli_defines_) {
        const std::size_t eq = d.find('=');
        const std::string name = d.substr(0, eq);
        if (const auto why = bad_define_name(name)) {
            result_.errors.push_back({display, 0, "-D", *why});
            continue;
        }
        c.defines[name] = eq == std::string::npos ? "" : d.substr(eq + 1);
    }
}

void Loader::finish(const std::string& main_display) {
    Config& c = result_.config;
    if (c.listen.empty() && !listen_seen_) {
        // Nothing to point at, so the error names the main file without a line.
        result_.errors.push_back(
            {main_display, 0, "Listen", "expected at least one Listen directive, found none"});
    }
    VirtualHost& main = c.main;
    if (main.document_root.from.empty()) {
        // Computed at the end so that the default follows the final ServerRoot.
        main.document_root.value = c.server_root / "www";
    }
    for (VirtualHost& v : c.vhosts) {
        // As in Apache, a vhost without its own DocumentRoot uses the main server's.
        if (v.document_root.from.empty()) {
            v.document_root = {main.document_root.value, ""};
        }
    }
    const auto by_depth = [](const Section& a, const Section& b) {
        return path_depth(a.match) < path_depth(b.match);
    };
    std::stable_sort(main.directories.begin(), main.directories.end(), by_depth);
    for (VirtualHost& v : c.vhosts) {
        std::stable_sort(v.directories.begin(), v.directories.end(), by_depth);
    }

    // The fields the server read before sections existed mirror the main server.
    c.document_root = main.document_root.value;
    c.server_name = main.server_name.value;
    c.directory_index = main.base.directory_index ? main.base.directory_index->value
                                                  : std::vector<std::string>{"index.html"};
    if (main.base.limit_request_body) {
        c.limit_request_body = main.base.limit_request_body->value;
    }

    check_tls();
    warn_keep_alive_timeout();
    warn_proxy_keep_alive();
    warn_duplicate_names();
}

/// Behind a load balancer the server must not close an idle connection the balancer still
/// thinks it may use: its idle timeout has to be the longer one (HAProxy's `timeout
/// http-keep-alive` and cloud balancers default to about 60 s).
void Loader::warn_proxy_keep_alive() {
    const Config& c = result_.config;
    const VirtualHost* on = nullptr;
    if (c.main.proxy_protocol && c.main.proxy_protocol->value) {
        on = &c.main;
    }
    for (const VirtualHost& v : c.vhosts) {
        if (on == nullptr && v.proxy_protocol && v.proxy_protocol->value) {
            on = &v;
        }
    }
    if (on == nullptr || !c.keep_alive || c.keep_alive_timeout >= std::chrono::seconds(60)) {
        return;
    }
    const Source& from = on->proxy_protocol->from;
    const std::size_t colon = from.rfind(':');
    const std::string file = colon == std::string::npos ? from : from.substr(0, colon);
    const int line = colon == std::string::npos ? 0 : std::atoi(from.c_str() + colon + 1);
    result_.warnings.push_back(
        {file, line, "RemoteIPProxyProtocol",
         "expected KeepAliveTimeout of at least 60s behind a load balancer, found " +
             duration_text(c.keep_alive_timeout) +
             "; the balancer may send a request on a connection this server is closing "
             "(docs/deployment.md)"});
}

/// An idle keep-alive connection held longer than a client may take to send a request
/// head lets idle clients hold connections the header timeout is there to reclaim.
void Loader::warn_keep_alive_timeout() {
    const Config& c = result_.config;
    if (c.proxy_protocol_anywhere()) {
        // Behind a load balancer the long idle timeout is the point (warn_proxy_keep_alive),
        // and the idle connections are the balancer's, not clients'.
        return;
    }
    const milliseconds header = c.request_read_timeout_header;
    if (header == milliseconds::zero() || c.keep_alive_timeout <= header ||
        (!keep_alive_timeout_at_ && !header_timeout_at_)) {
        return;
    }
    const bool at_keep_alive =
        !header_timeout_at_ ||
        (keep_alive_timeout_at_ && keep_alive_timeout_at_->order > header_timeout_at_->order);
    const Mark& m = at_keep_alive ? *keep_alive_timeout_at_ : *header_timeout_at_;
    const std::string why =
        "; idle connections would be held longer than a slow request head is allowed";
    result_.warnings.push_back({m.file, m.line, m.name,
                                at_keep_alive ? "expected at most RequestReadTimeout header= (" +
                                                    duration_text(header) + "), found " +
                                                    duration_text(c.keep_alive_timeout) + why
                                              : "expected header= at least KeepAliveTimeout (" +
                                                    duration_text(c.keep_alive_timeout) +
                                                    "), found " + duration_text(header) + why});
}

/// Two vhosts on one address with one name: the second never gets a request for it.
void Loader::warn_duplicate_names() {
    const auto& vhosts = result_.config.vhosts;
    const auto same_address = [](const VirtualHost& a, const VirtualHost& b, std::string& shown) {
        for (std::size_t i = 0; i < a.parsed_addresses.size(); ++i) {
            for (const VirtualHost::Address& y : b.parsed_addresses) {
                const VirtualHost::Address& x = a.parsed_addresses[i];
                if (x.host == y.host && x.port == y.port) {
                    shown = a.addresses[i];
                    return true;
                }
            }
        }
        return false;
    };
    const auto names_of = [](const VirtualHost& v) {
        std::vector<std::pair<const Setting<std::string>*, std::string_view>> names;
        if (!v.server_name.value.empty()) {
            names.emplace_back(&v.server_name, "ServerName");
        }
        for (const Setting<std::string>& alias : v.aliases) {
            names.emplace_back(&alias, "ServerAlias");
        }
        return names;
    };
    for (std::size_t j = 0; j < vhosts.size(); ++j) {
        for (const auto& [name, directive] : names_of(vhosts[j])) {
            for (std::size_t i = 0; i < j; ++i) {
                std::string address;
                if (!same_address(vhosts[i], vhosts[j], address)) {
                    continue;
                }
                const auto earlier = names_of(vhosts[i]);
                // Captured by an init-capture: clang 14 (the fuzz build) cannot capture a
                // structured binding, which C++20 allows.
                const auto hit =
                    std::find_if(earlier.begin(), earlier.end(),
                                 [n = name](const auto& e) { return e.first->value == n->value; });
                if (hit == earlier.end()) {
                    continue;
                }
                const auto [file, line] = split_source(name->from);
                result_.warnings.push_back({file, line, std::string(directive),
                                            "expected each name once per address, found " +
                                                in_quotes(name->value) + " again on " + address +
                                                " (first at " + hit->first->from +
                                                "); requests for it go to the first vhost"});
                break;
            }
        }
    }
}

} // namespace detail

LoadResult load_config(const std::filesystem::path& file, const std::vector<std::string>& defines) {
    try {
        return detail::Loader(defines).load_file(file);
    } catch (const std::exception& e) {
        // Only resource exhaustion ends up here (the filesystem calls all take error codes);
        // it is still reported rather than thrown, as the contract promises.
        LoadResult r;
        r.errors.push_back({file.string(), 0, "", std::string("internal error: ") + e.what()});
        return r;
    }
}

LoadResult load_config_text(const std::string& text, const std::filesystem::path& name,
                            const std::vector<std::string>& defines) {
    try {
        return detail::Loader(defines).load_text(text, name);
    } catch (const std::exception& e) {
        LoadResult r;
        r.errors.push_back({name.string(), 0, "", std::string("internal error: ") + e.what()});
        return r;
    }
}

} // namespace kahttpd::conf
