#include "conf/detail/loader.hpp"

#include <algorithm>
#include <array>
#include <system_error>
#include <utility>

// The server itself: ServerRoot, Listen, Workers, the names and roots of the main server and
// its vhosts, ServerTokens/ServerSignature, PidFile, Define, and the Apache directives kept
// only so that stock configurations load (LoadModule, NameVirtualHost).

namespace kahttpd::conf::detail {

namespace {

/// A host name or an IP literal as ServerName and ServerAlias take it, after lower-casing.
/// `wildcards` admits '*' and '?' (ServerAlias patterns).
bool is_host_name(std::string_view s, bool wildcards) {
    if (s.empty()) {
        return false;
    }
    if (s.front() == '[') {
        return s.size() > 2 && s.back() == ']' &&
               std::all_of(s.begin() + 1, s.end() - 1, [](char c) {
                   return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':' || c == '.';
               });
    }
    return std::all_of(s.begin(), s.end(), [wildcards](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' || c == '.' ||
               c == '_' || (wildcards && (c == '*' || c == '?'));
    });
}

} // namespace

void Loader::on_server_root(const Context& c) {
    if (!expect_one_arg(c)) {
        return;
    }
    if (c.args[0].empty()) {
        error(c, "expected a directory, found \"\"");
        return;
    }
    // A relative ServerRoot is taken relative to the default one (the folder above the
    // config file), as Apache takes it relative to its compiled-in root.
    const fs::path root = normalize(result_.config.server_root / fs::path(c.args[0]));
    if (first_relative_use_) {
        warning(c, "expected before any relative path, found after " + *first_relative_use_ +
                       ", which was resolved against the previous ServerRoot");
        first_relative_use_.reset();
    }
    result_.config.server_root = root;
    std::error_code ec;
    const auto status = fs::status(root, ec);
    if (!fs::exists(status)) {
        error(c, "expected an existing directory, found nothing at " + in_quotes(root.string()));
    } else if (!fs::is_directory(status)) {
        error(c, "expected a directory, found a file at " + in_quotes(root.string()));
    }
}

void Loader::on_listen(const Context& c) {
    if (c.args.empty()) {
        error(c, "expected [addr:]port, found none");
        return;
    }
    if (c.args.size() > 2) {
        error(c, "expected [addr:]port and an optional protocol, found " +
                     std::to_string(c.args.size()) + " arguments");
        return;
    }
    if (c.args.size() == 2 && !iequals(c.args[1], "http") && !iequals(c.args[1], "https")) {
        error(c, "expected the protocol http or https, found " + in_quotes(c.args[1]));
        return;
    }
    const std::string& text = c.args[0];
    std::string host;
    std::string_view port_text;
    const std::string_view a = text;
    if (!a.empty() && a.front() == '[') {
        const std::size_t close = a.find(']');
        if (close == std::string_view::npos || close + 1 >= a.size() || a[close + 1] != ':') {
            error(c, "expected [IPv6 address]:port as in [::1]:8080, found " + in_quotes(text));
            return;
        }
        const auto literal = detail::canonical_ip(a.substr(1, close - 1));
        if (!literal || literal->find(':') == std::string::npos) {
            error(c, "expected an IPv6 address literal in brackets, found " + in_quotes(text));
            return;
        }
        host = *literal;
        port_text = a.substr(close + 2);
    } else if (const std::size_t colon = a.rfind(':'); colon != std::string_view::npos) {
        if (a.find(':') != colon) {
            error(c, "expected an IPv6 address in brackets as in [::1]:8080, found " +
                         in_quotes(text));
            return;
        }
        const std::string_view literal = a.substr(0, colon);
        if (literal == "*") {
            host.clear(); // Apache's "*:80": every address.
        } else if (const auto ip = detail::canonical_ip(literal);
                   ip && ip->find(':') == std::string::npos) {
            host = *ip;
        } else {
            // Apache resolves names here; kahttpd binds literals only, so that what it
            // binds never depends on DNS or /etc/hosts at start-up.
            error(c, "expected an IP address literal (kahttpd does not resolve host names), "
                     "found " +
                         in_quotes(literal));
            return;
        }
        port_text = a.substr(colon + 1);
    } else {
        if (!parse_uint(a)) {
            error(c, "expected [addr:]port, found " + in_quotes(text));
            return;
        }
        port_text = a;
    }
    const auto port = parse_uint(port_text);
    if (!port || *port > 65535) {
        error(c, "expected a port from 0 to 65535, found " + in_quotes(port_text));
        return;
    }
    ListenAddr addr{host, static_cast<std::uint16_t>(*port), where(c)};
    // Apache's default protocol: https for port 443, http for every other port.
    addr.https = c.args.size() == 2 ? iequals(c.args[1], "https") : addr.port == 443;
    // Port 0 asks for a fresh ephemeral port each time, so two of them never clash.
    if (addr.port != 0) {
        for (const ListenAddr& other : result_.config.listen) {
            if (other.host == addr.host && other.port == addr.port) {
                error(c, "expected each address once, found " + in_quotes(text) +
                             " again (first at " + other.where + ")");
                return;
            }
        }
    }
    result_.config.listen.push_back(std::move(addr));
}

void Loader::on_workers(const Context& c) {
    if (!expect_one_arg(c)) {
        return;
    }
    if (iequals(c.args[0], "auto")) {
        result_.config.workers = 0;
        return;
    }
    const auto n = parse_uint(c.args[0]);
    if (!n || *n < 1 || *n > 256) {
        error(c, "expected auto or an integer from 1 to 256, found " + in_quotes(c.args[0]));
        return;
    }
    result_.config.workers = static_cast<unsigned>(*n);
}

void Loader::on_server_name(const Context& c) {
    if (!expect_one_arg(c)) {
        return;
    }
    std::string_view text = c.args[0];
    // Apache takes [scheme://]name[:port]; the scheme and port only matter for redirects
    // Apache builds, which kahttpd does not.
    if (const std::size_t scheme = text.find("://"); scheme != std::string_view::npos) {
        text.remove_prefix(scheme + 3);
    }
    const std::string name = normalize_host(text);
    if (name.find_first_of("*?") != std::string::npos) {
        error(c, "expected a host name without wildcards (use ServerAlias for patterns), "
                 "found " +
                     in_quotes(c.args[0]));
        return;
    }
    if (!is_host_name(name, false)) {
        error(c, "expected a host name, found " + in_quotes(c.args[0]));
        return;
    }
    current_vhost().server_name = {name, where(c)};
}

void Loader::on_server_alias(const Context& c) {
    if (c.args.empty()) {
        error(c, "expected one or more host names, found none");
        return;
    }
    std::vector<Setting<std::string>> aliases;
    for (const std::string& arg : c.args) {
        std::string name = lower(arg);
        if (name.size() > 1 && name.back() == '.') {
            name.pop_back();
        }
        if (!is_host_name(name, true)) {
            error(c, "expected a host name or a pattern with * and ?, found " + in_quotes(arg));
            return;
        }
        aliases.push_back({std::move(name), where(c)});
    }
    auto& list = current_vhost().aliases;
    list.insert(list.end(), aliases.begin(), aliases.end());
}

void Loader::on_server_admin(const Context& c) {
    if (!expect_one_arg(c)) {
        return;
    }
    if (c.args[0].empty()) {
        error(c, "expected an e-mail address or a URL, found \"\"");
        return;
    }
    current_vhost().server_admin = {c.args[0], where(c)};
}

void Loader::on_allow_encoded_slashes(const Context& c) {
    // Core's AllowEncodedSlashes: what %2F in a request's path means (server/http/target_path).
    if (!expect_one_arg(c)) {
        return;
    }
    const std::string& a = c.args[0];
    EncodedSlashes mode{};
    if (iequals(a, "Off")) {
        mode = EncodedSlashes::off;
    } else if (iequals(a, "On")) {
        mode = EncodedSlashes::on;
    } else if (iequals(a, "NoDecode")) {
        mode = EncodedSlashes::no_decode;
    } else {
        error(c, "expected On, Off or NoDecode, found " + in_quotes(a));
        return;
    }
    current_vhost().allow_encoded_slashes = Setting<EncodedSlashes>{mode, where(c)};
}

void Loader::on_document_root(const Context& c) {
    const auto root = path_arg(c, "a directory");
    if (!root) {
        return;
    }
    current_vhost().document_root = {*root, where(c)};
    // Apache 2.4 only warns about a missing DocumentRoot (it may be created later, by a
    // deployment); a file where a directory should be is a plain mistake.
    std::error_code ec;
    const auto status = fs::status(*root, ec);
    if (!fs::exists(status)) {
        warning(c, "expected an existing directory, found nothing at " + in_quotes(root->string()));
    } else if (!fs::is_directory(status)) {
        error(c, "expected a directory, found a file at " + in_quotes(root->string()));
    }
}

void Loader::on_server_tokens(const Context& c) {
    if (!expect_one_arg(c)) {
        return;
    }
    using T = Config::ServerTokens;
    struct Name {
        std::string_view name;
        T value;
    };
    // Apache's spellings, long and short.
    static constexpr std::array kNames{
        Name{"Prod", T::prod},   Name{"ProductOnly", T::prod}, Name{"Major", T::major},
        Name{"Minor", T::minor}, Name{"Min", T::min},          Name{"Minimal", T::min},
        Name{"OS", T::os},       Name{"Full", T::full},
    };
    for (const Name& n : kNames) {
        if (iequals(n.name, c.args[0])) {
            result_.config.server_tokens = n.value;
            return;
        }
    }
    error(c, "expected Prod, Major, Minor, Min, OS or Full, found " + in_quotes(c.args[0]));
}

void Loader::on_server_signature(const Context& c) {
    if (!expect_one_arg(c)) {
        return;
    }
    using S = Config::ServerSignature;
    const std::string& a = c.args[0];
    if (iequals(a, "on")) {
        result_.config.server_signature = S::on;
    } else if (iequals(a, "off")) {
        result_.config.server_signature = S::off;
    } else if (iequals(a, "email")) {
        result_.config.server_signature = S::email;
    } else {
        error(c, "expected On, Off or EMail, found " + in_quotes(a));
    }
}

void Loader::on_pid_file(const Context& c) {
    if (const auto path = path_arg(c, "a file")) {
        result_.config.pid_file = *path;
    }
}

void Loader::on_define(const Context& c) {
    if (c.args.empty() || c.args.size() > 2) {
        error(c, "expected a name and an optional value, found " + args_text(c.args.size()));
        return;
    }
    if (const auto why = bad_define_name(c.args[0])) {
        error(c, *why);
        return;
    }
    result_.config.defines[c.args[0]] = c.args.size() == 2 ? c.args[1] : "";
    poisoned_.erase(c.args[0]);
}

void Loader::on_undefine(const Context& c) {
    if (expect_one_arg(c)) {
        result_.config.defines.erase(c.args[0]);
        poisoned_.erase(c.args[0]);
    }
}

void Loader::on_load_module(const Context& c) {
    if (c.args.size() != 2) {
        error(c, "expected a module name and a file, found " + args_text(c.args.size()));
        return;
    }
    warning(c, "modules are built into kahttpd; LoadModule is ignored");
}

void Loader::on_name_virtual_host(const Context& c) {
    if (c.args.size() != 1) {
        error(c, "expected one address, found " + args_text(c.args.size()));
        return;
    }
    // Apache 2.4 says the same ("NameVirtualHost has no effect").
    warning(c, "has no effect: every <VirtualHost> is name-based, as in Apache 2.4; "
               "NameVirtualHost is ignored");
}

} // namespace kahttpd::conf::detail
