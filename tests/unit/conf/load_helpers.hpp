#pragma once

// Shared by the conf unit tests: load a configuration from text under a fixed, non-existent
// file name, and get its errors or its Config.

#include "conf/config.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace kahttpd::conf::test {

using Strings = std::vector<std::string>;

/// A config file name that does not exist: tests touch no files unless they say so.
inline const std::filesystem::path kName = "/srv/site/conf/httpd.conf";
inline const std::string kFile = kName.string();

inline Strings messages(const std::vector<ConfigError>& errors) {
    Strings out;
    for (const ConfigError& e : errors) {
        out.push_back(e.to_string());
    }
    return out;
}

/// Loads `text` after a valid Listen on line 1, so that line N of `text` is line N+1.
inline LoadResult load(const std::string& text, const Strings& defines = {}) {
    return load_config_text("Listen 8080\n" + text, kName, defines);
}

/// Loads `text` and returns its only error, or "" when none.
inline std::string error_of(const std::string& text) {
    const LoadResult r = load(text);
    INFO(messages(r.errors));
    REQUIRE(r.errors.size() <= 1);
    return r.errors.empty() ? "" : r.errors.front().to_string();
}

/// Loads `text` and returns the config, which must have loaded without errors.
inline Config config_of(const std::string& text, const Strings& defines = {}) {
    const LoadResult r = load(text, defines);
    INFO(messages(r.errors));
    REQUIRE(r.errors.empty());
    return r.config;
}

} // namespace kahttpd::conf::test
