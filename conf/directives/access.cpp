#include "conf/detail/apache_names.hpp"
#include "conf/detail/loader.hpp"

#include <algorithm>
#include <array>
#include <utility>

// Access: Require (who may get what), Options (what the file system exposes) and AllowOverride.

namespace kahttpd::conf::detail {

void Loader::on_options(const Context& c) {
    if (c.args.empty()) {
        error(c, "expected one or more options, found none");
        return;
    }
    static constexpr std::array kOptions{
        NamedBits{"Indexes", OptionsSpec::kIndexes},
        NamedBits{"FollowSymLinks", OptionsSpec::kFollowSymLinks},
        NamedBits{"SymLinksIfOwnerMatch", OptionsSpec::kSymLinksIfOwnerMatch},
        // Apache's All is every option but MultiViews; here that is all three.
        NamedBits{"All", OptionsSpec::kAll},
        NamedBits{"None", 0},
    };
    static constexpr std::array<std::string_view, 5> kApacheOnly{
        "ExecCGI", "Includes", "IncludesNOEXEC", "MultiViews", "RunScripts"};
    OptionsSpec spec;
    std::optional<std::string> first_signed;
    std::optional<std::string> first_plain;
    bool ok = true;
    for (const std::string& arg : c.args) {
        std::string_view word = arg;
        const char action = take_sign(word);
        if (action != 0) {
            first_signed = first_signed.value_or(arg);
        } else {
            first_plain = first_plain.value_or(arg);
        }
        const NamedBits* it = find_named(kOptions, word);
        if (it == nullptr) {
            const bool apache = std::any_of(kApacheOnly.begin(), kApacheOnly.end(),
                                            [&](std::string_view a) { return iequals(a, word); });
            error(c, apache ? not_supported(word)
                            : "expected Indexes, FollowSymLinks, SymLinksIfOwnerMatch, All or "
                              "None, found unknown option " +
                                  in_quotes(arg));
            ok = false;
            continue;
        }
        if (it->name == "None" && action != 0) {
            error(c, "expected None without + or -, found " + in_quotes(arg));
            ok = false;
            continue;
        }
        if (action == '+') {
            spec.on |= it->bits;
            spec.off &= static_cast<std::uint8_t>(~it->bits);
        } else if (action == '-') {
            spec.off |= it->bits;
            spec.on &= static_cast<std::uint8_t>(~it->bits);
        } else {
            spec.on |= it->bits;
        }
    }
    if (first_signed && first_plain) {
        // Apache 2.4's rule: a mix would be ambiguous about what is inherited.
        error(c, "expected either every option with + or - or none with them, found " +
                     in_quotes(*first_signed) + " and " + in_quotes(*first_plain));
        return;
    }
    if (!ok) {
        return;
    }
    spec.absolute = !first_signed;
    // Several Options lines in one section combine, the later ones applied over the
    // earlier ones, as in Apache.
    auto& slot = dir_target().options;
    if (!slot || spec.absolute) {
        slot = Setting<OptionsSpec>{spec, where(c)};
        return;
    }
    OptionsSpec& e = slot->value;
    if (e.absolute) {
        e.on = spec.apply(e.on);
    } else {
        e.on = static_cast<std::uint8_t>((e.on & ~spec.off) | spec.on);
        e.off = static_cast<std::uint8_t>((e.off & ~spec.on) | spec.off);
    }
    slot->from = where(c);
}

void Loader::on_require(const Context& c) {
    if (c.args.empty()) {
        error(c, "expected all, ip or local, found none");
        return;
    }
    const std::string& kind = c.args[0];
    AccessRule::Requirement req;
    if (iequals(kind, "all")) {
        if (c.args.size() != 2) {
            error(c, "expected all granted or all denied, found " + std::to_string(c.args.size()) +
                         (c.args.size() == 1 ? " word" : " words"));
            return;
        }
        if (iequals(c.args[1], "granted")) {
            req.kind = AccessRule::Kind::all_granted;
        } else if (iequals(c.args[1], "denied")) {
            req.kind = AccessRule::Kind::all_denied;
        } else {
            error(c, "expected granted or denied after all, found " + in_quotes(c.args[1]));
            return;
        }
    } else if (iequals(kind, "ip")) {
        if (c.args.size() == 1) {
            error(c, "expected one or more IP addresses or networks after ip, found none");
            return;
        }
        req.kind = AccessRule::Kind::ip;
        bool ok = true;
        for (std::size_t i = 1; i < c.args.size(); ++i) {
            if (const auto n = detail::parse_ip_network(c.args[i])) {
                req.networks.push_back(*n);
            } else {
                error(c, "expected an IP address, a partial IPv4 address as in 10.1 or a "
                         "network as in 10.0.0.0/8, found " +
                             in_quotes(c.args[i]));
                ok = false;
            }
        }
        if (!ok) {
            return;
        }
    } else if (iequals(kind, "local")) {
        if (c.args.size() != 1) {
            error(c, "expected nothing after local, found " + in_quotes(c.args[1]));
            return;
        }
        req.kind = AccessRule::Kind::local;
    } else {
        static constexpr std::array<std::string_view, 10> kApacheOnly{
            "not",   "host", "forward-dns", "user", "valid-user",
            "group", "env",  "method",      "expr", "file-owner"};
        const bool apache = std::any_of(kApacheOnly.begin(), kApacheOnly.end(),
                                        [&](std::string_view a) { return iequals(a, kind); });
        error(c, apache ? not_supported(kind, "kahttpd has Require all, ip and local")
                        : "expected all, ip or local, found " + in_quotes(kind));
        return;
    }
    // Several Require lines in one section: any of them grants (Apache's implicit
    // <RequireAny>).
    auto& slot = dir_target().require;
    if (!slot) {
        slot = Setting<AccessRule>{{}, where(c)};
    }
    slot->value.any.push_back(std::move(req));
    slot->from = where(c);
}

void Loader::on_allow_override(const Context& c) {
    // kahttpd reads no .htaccess files, which is what None says; accepting it lets stock
    // Apache <Directory> blocks load. Anything else would be a promise not kept.
    if (c.args.size() == 1 && iequals(c.args[0], "None")) {
        return;
    }
    const auto hint = detail::unsupported_directive("AllowOverride");
    if (c.args.empty()) {
        error(c, "expected None, found none");
    } else {
        error(c, not_supported(iequals(c.args[0], "None") ? c.args[1] : c.args[0],
                               std::string(hint.value_or("")) + ", so only None is accepted"));
    }
}

} // namespace kahttpd::conf::detail
