#include "conf/detail/loader.hpp"

#include <algorithm>
#include <array>
#include <utility>

// Logs: ErrorLog, LogLevel, LogFormat and CustomLog. ErrorLog, LogLevel and CustomLog may be
// written in a <VirtualHost> too (Apache's contexts); LogFormat nicknames are global, so a
// vhost's CustomLog may name one defined at server level.

namespace kahttpd::conf::detail {

/// A log target: a file (relative to ServerRoot), never a pipe or syslog.
std::optional<std::string> Loader::log_target(const Context& c, const std::string& target,
                                              bool syslog_too) {
    if (target.starts_with('|')) {
        error(c, "piped logs (" + in_quotes(target) + ") are " + std::string(kNotSupported));
        return std::nullopt;
    }
    if (syslog_too && iequals(target.substr(0, 6), "syslog") &&
        (target.size() == 6 || target[6] == ':')) {
        error(c, not_supported(target, "give a file, or /dev/stderr"));
        return std::nullopt;
    }
    const auto path = resolve_path(c, target, "a file");
    if (!path) {
        return std::nullopt;
    }
    return path->string();
}

void Loader::on_error_log(const Context& c) {
    if (!expect_one_arg(c)) {
        return;
    }
    const auto target = log_target(c, c.args[0], true);
    if (!target) {
        return;
    }
    VirtualHost& vh = current_vhost();
    if (&vh == &result_.config.main) {
        result_.config.error_log = *target;
    } else {
        vh.error_log = {*target, where(c)};
    }
}

void Loader::on_log_level(const Context& c) {
    if (c.args.empty()) {
        error(c, "expected a level from emerg to debug, found none");
        return;
    }
    using L = Config::LogLevel;
    static constexpr std::array<std::string_view, 8> kLevels{"emerg", "alert",  "crit", "error",
                                                             "warn",  "notice", "info", "debug"};
    std::optional<L> level;
    bool ok = true;
    for (const std::string& arg : c.args) {
        if (arg.find(':') != std::string::npos) {
            error(c,
                  "per-module levels (" + in_quotes(arg) + ") are " + std::string(kNotSupported));
            ok = false;
            continue;
        }
        const auto it = std::find_if(kLevels.begin(), kLevels.end(),
                                     [&](std::string_view l) { return iequals(l, arg); });
        if (it != kLevels.end()) {
            if (level) {
                error(c, "expected one level, found " + in_quotes(arg) + " as well");
                ok = false;
            }
            level = static_cast<L>(it - kLevels.begin());
        } else if (arg.size() == 6 && iequals(arg.substr(0, 5), "trace") && arg[5] >= '1' &&
                   arg[5] <= '8') {
            error(c, not_supported(arg, "debug is the most detailed level"));
            ok = false;
        } else {
            error(c, "expected emerg, alert, crit, error, warn, notice, info or debug, "
                     "found " +
                         in_quotes(arg));
            ok = false;
        }
    }
    if (!ok || !level) {
        return;
    }
    VirtualHost& vh = current_vhost();
    if (&vh == &result_.config.main) {
        result_.config.log_level = *level;
    } else {
        vh.log_level = Setting<L>{*level, where(c)};
    }
}

void Loader::on_log_format(const Context& c) {
    if (c.args.empty() || c.args.size() > 2) {
        error(c, "expected a format string and an optional nickname, found " +
                     args_text(c.args.size()));
        return;
    }
    auto& formats = result_.config.log_formats;
    std::string format = c.args[0];
    if (format.empty()) {
        error(c, "expected a format string, found \"\"");
        return;
    }
    if (c.args.size() == 1 && format.find('%') == std::string::npos) {
        // `LogFormat nickname` makes a defined format the default one, as in Apache.
        const auto it = formats.find(format);
        if (it == formats.end()) {
            error(c, "expected a format string or a nickname defined before, found " +
                         in_quotes(format));
            return;
        }
        format = it->second;
    }
    // Without a nickname the format is the default one, stored under "".
    formats[c.args.size() == 2 ? c.args[1] : ""] = std::move(format);
}

void Loader::on_custom_log(const Context& c) {
    if (c.args.size() < 2) {
        error(c, "expected a file and a format or nickname, found " + args_text(c.args.size()));
        return;
    }
    if (c.args.size() > 2) {
        const std::string& extra = c.args[2];
        if (c.args.size() == 3 &&
            (iequals(extra.substr(0, 4), "env=") || iequals(extra.substr(0, 5), "expr="))) {
            error(c, "conditions (" + in_quotes(extra) + ") are " + std::string(kNotSupported));
        } else {
            error(c, "expected a file and a format or nickname, found " +
                         std::to_string(c.args.size()) + " arguments");
        }
        return;
    }
    const auto target = log_target(c, c.args[0], false);
    if (!target) {
        return;
    }
    const std::string& spec = c.args[1];
    const auto& formats = result_.config.log_formats;
    std::string format;
    if (spec.find('%') != std::string::npos) {
        format = spec;
    } else if (const auto it = formats.find(spec); it != formats.end()) {
        format = it->second;
    } else if (spec == "json") {
        format = "json"; // kahttpd's own structured format
    } else {
        error(c, "expected a format string, json or a nickname defined by LogFormat before "
                 "this line, found " +
                     in_quotes(spec));
        return;
    }
    VirtualHost& vh = current_vhost();
    auto& logs = &vh == &result_.config.main ? result_.config.custom_logs : vh.custom_logs;
    logs.push_back({*target, std::move(format), where(c)});
}

} // namespace kahttpd::conf::detail
