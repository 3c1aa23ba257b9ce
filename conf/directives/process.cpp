#include "conf/detail/loader.hpp"

#include <cerrno>
#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include <grp.h>
#include <pwd.h>
#include <sys/types.h>

// The process: User and Group (Apache's mod_unixd). The names are resolved here, at load, so
// that `kahttpd -t` refuses a user this system does not have; server/io/privileges.cpp
// switches to them once the sockets are bound and the logs are open.

namespace kahttpd::conf::detail {

namespace {

/// "#33" as Apache takes a numeric id; nullopt for anything else.
std::optional<std::uint32_t> numeric_id(const std::string& arg) {
    if (arg.size() < 2 || arg[0] != '#') {
        return std::nullopt;
    }
    std::uint32_t id = 0;
    const char* end = arg.data() + arg.size();
    const auto [ptr, ec] = std::from_chars(arg.data() + 1, end, id);
    if (ec != std::errc{} || ptr != end) {
        return std::nullopt;
    }
    return id;
}

/// Runs a reentrant getpw*_r/getgr*_r call (the loader also runs at a reload, while workers
/// serve) with a buffer that grows on ERANGE. `call(buffer)` returns the call's result code and
/// copies what it needs out of the entry, whose strings live in the buffer.
template <typename Call>
int with_buffer(Call call) {
    std::vector<char> buffer(1024);
    while (true) {
        const int rc = call(buffer);
        if (rc != ERANGE || buffer.size() >= (1u << 20)) {
            return rc;
        }
        buffer.resize(buffer.size() * 2);
    }
}

struct UserEntry {
    std::uint32_t uid = 0;
    std::uint32_t gid = 0; ///< primary group
};

std::optional<UserEntry> user_entry(const std::string& name, std::optional<std::uint32_t> uid) {
    std::optional<UserEntry> out;
    with_buffer([&](std::vector<char>& buffer) {
        passwd entry{};
        passwd* found = nullptr;
        const int rc = uid ? ::getpwuid_r(*uid, &entry, buffer.data(), buffer.size(), &found)
                           : ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(),
                                          &found);
        if (rc == 0 && found != nullptr) {
            out = UserEntry{static_cast<std::uint32_t>(entry.pw_uid),
                            static_cast<std::uint32_t>(entry.pw_gid)};
        }
        return rc;
    });
    return out;
}

/// The group called `name`, or the group numbered `gid` (named "#gid" when it has no entry).
std::optional<Config::Account> group_entry(const std::string& name,
                                           std::optional<std::uint32_t> gid) {
    std::optional<Config::Account> out;
    with_buffer([&](std::vector<char>& buffer) {
        group entry{};
        group* found = nullptr;
        const int rc = gid ? ::getgrgid_r(*gid, &entry, buffer.data(), buffer.size(), &found)
                           : ::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(),
                                          &found);
        if (rc == 0 && found != nullptr) {
            out = Config::Account{entry.gr_name, static_cast<std::uint32_t>(entry.gr_gid)};
        }
        return rc;
    });
    if (!out && gid) {
        out = Config::Account{"#" + std::to_string(*gid), *gid};
    }
    return out;
}

} // namespace

void Loader::on_user(const Context& c) {
    if (!expect_one_arg(c)) {
        return;
    }
    const std::string& arg = c.args[0];
    Config& config = result_.config;
    const auto id = numeric_id(arg);
    const auto entry = user_entry(arg, id);
    if (!id && !entry) {
        error(c, "expected a user name of this system or #uid, found " + in_quotes(arg));
        return;
    }
    // A number without an entry is taken as it is, as Apache takes it.
    config.user = Config::Account{arg, id ? *id : entry->uid};
    // Without a Group line (before or after this one), the user's primary group: what
    // Debian's apache2 gets from APACHE_RUN_GROUP in practice, and what su would give.
    if (config.sources.count("Group") == 0) {
        config.group = entry ? group_entry("", entry->gid) : std::nullopt;
    }
}

void Loader::on_group(const Context& c) {
    if (!expect_one_arg(c)) {
        return;
    }
    const std::string& arg = c.args[0];
    const auto id = numeric_id(arg);
    auto entry = group_entry(arg, id);
    if (!entry) {
        error(c, "expected a group name of this system or #gid, found " + in_quotes(arg));
        return;
    }
    if (id) {
        entry->name = arg;
    }
    result_.config.group = std::move(entry);
}

} // namespace kahttpd::conf::detail
