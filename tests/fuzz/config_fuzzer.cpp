// The configuration loader under libFuzzer. The input is up to nine files separated by NUL
// bytes (a NUL is an error in any configuration, so no valid one is lost): the first is the
// main file, conf/main.conf, the next four a.conf to d.conf beside conf/ in the ServerRoot, and
// the last four conf.d/e.conf to h.conf, so that `Include a.conf`, `Include conf.d`, `Include
// *.conf` and sections spread over files (<VirtualHost>, <Directory>, <Location>, <IfModule>,
// <IfDefine>) are all one mutation away. They are written to a temp dir of this process and
// loaded with load_config(), as `kahttpd -f` does. When the load succeeds, the -T dump and the
// -S map are produced as server/main.cpp produces them, and the -T text must parse back as
// JSON. Every error and warning is formatted as -t prints it.
//
// The loader reads what Include, IncludeOptional and TypesConfig name. So that a mutation
// cannot make it read /dev/zero, /proc/kmsg or the whole of /etc (which would hang or merely
// slow the run down, and say nothing about the loader), an input is skipped when one of those,
// or ServerRoot, has an argument that is absolute, climbs with "..", or holds a ${VAR} (whose
// value could be either). Relative paths stay in the temp dir, whose ServerRoot is the default.

#include "conf/config.hpp"
#include "conf/lexer.hpp"
#include "parser/text.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using kahttpd::text::iequals;

constexpr std::array<std::string_view, 9> kFiles{
    "conf/main.conf", "a.conf",        "b.conf",        "c.conf",       "d.conf",
    "conf.d/e.conf",  "conf.d/f.conf", "conf.d/g.conf", "conf.d/h.conf"};

/// The ServerRoot of every load: a directory of this process, removed at exit.
const fs::path& root_dir() {
    static const fs::path root = [] {
        std::string pattern = (fs::temp_directory_path() / "kahttpd-fuzz-conf-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            std::perror("config_fuzzer: mkdtemp");
            std::abort();
        }
        const fs::path p = fs::canonical(pattern);
        fs::create_directories(p / "conf");
        fs::create_directories(p / "conf.d");
        fs::create_directories(p / "www" / "sub");
        // The sites of tests/data/conf/apache-style.conf, a seed.
        fs::create_directories(p / "site-a");
        fs::create_directories(p / "site-b" / "private");
        std::atexit([] {
            std::error_code ec;
            fs::remove_all(root_dir(), ec);
        });
        return p;
    }();
    return root;
}

/// False when a line of `text` could make the loader read outside the temp dir.
bool stays_inside(std::string_view text) {
    for (const kahttpd::conf::LexedLine& line : kahttpd::conf::lex(text).lines) {
        if (!iequals(line.name, "Include") && !iequals(line.name, "IncludeOptional") &&
            !iequals(line.name, "TypesConfig") && !iequals(line.name, "ServerRoot")) {
            continue;
        }
        for (const std::string& arg : line.args) {
            if (arg.starts_with('/') || arg.find("..") != std::string::npos ||
                arg.find("${") != std::string::npos) {
                return false;
            }
        }
    }
    return true;
}

void write_file(const fs::path& path, std::string_view text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!out) {
        std::fprintf(stderr, "config_fuzzer: cannot write %s\n", path.c_str());
        std::abort();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const fs::path& root = root_dir();
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    std::vector<std::string_view> texts;
    while (texts.size() < kFiles.size()) {
        const std::size_t nul = rest.find('\0');
        texts.push_back(rest.substr(0, nul));
        if (nul == std::string_view::npos) {
            break;
        }
        rest.remove_prefix(nul + 1);
    }
    for (const std::string_view text : texts) {
        if (!stays_inside(text)) {
            return -1;
        }
    }
    for (std::size_t i = 0; i < kFiles.size(); ++i) {
        const fs::path path = root / kFiles[i];
        if (i < texts.size()) {
            write_file(path, texts[i]);
        } else {
            std::error_code ec;
            fs::remove(path, ec);
        }
    }

    const kahttpd::conf::LoadResult result = kahttpd::conf::load_config(root / kFiles[0]);
    for (const auto& e : result.errors) {
        (void)e.to_string();
    }
    for (const auto& w : result.warnings) {
        (void)w.to_string();
    }
    if (!result.errors.empty()) {
        return 0;
    }
    const kahttpd::conf::Config& config = result.config;
    // -T and -S, as server/main.cpp prints them.
    const std::string dumped = kahttpd::conf::dump_json_text(config);
    if (nlohmann::json::parse(dumped, nullptr, false).is_discarded()) {
        std::fprintf(stderr, "config_fuzzer: the -T output is not JSON:\n%s\n", dumped.c_str());
        std::abort();
    }
    (void)kahttpd::conf::vhost_map(config);

    // What the server asks of a loaded configuration: the vhost for a connection and a Host,
    // and the merged settings for a path. Each name of a vhost matches itself (an alias is a
    // pattern, and '*' and '?' match themselves too).
    (void)config.select_vhost("127.0.0.1", 80, "www.example.com");
    std::vector<const kahttpd::conf::VirtualHost*> vhosts{&config.main};
    for (const auto& v : config.vhosts) {
        vhosts.push_back(&v);
        for (const auto& a : v.parsed_addresses) {
            (void)config.select_vhost(a.host, a.port, "");
            (void)config.select_vhost(a.host, a.port, v.server_name.value);
        }
    }
    for (const kahttpd::conf::VirtualHost* v : vhosts) {
        if (!v->server_name.value.empty() && !v->matches_name(v->server_name.value)) {
            std::fprintf(stderr, "config_fuzzer: ServerName %s does not match itself\n",
                         v->server_name.value.c_str());
            std::abort();
        }
        for (const auto& alias : v->aliases) {
            if (!v->matches_name(alias.value)) {
                std::fprintf(stderr, "config_fuzzer: ServerAlias %s does not match itself\n",
                             alias.value.c_str());
                std::abort();
            }
        }
        const std::string docroot = v->document_root.value.string();
        (void)v->effective(config.main, docroot + "/index.html", "/index.html");
        for (const auto& d : v->directories) {
            (void)v->effective(config.main, d.match + "/x", "/x");
        }
        for (const auto& l : v->locations) {
            (void)v->effective(config.main, docroot + l.match, l.match);
            (void)v->location_sets_require(config.main, l.match);
        }
    }
    return 0;
}
