#pragma once

#include "conf/sections.hpp"
#include "parser/text.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace kahttpd::conf::detail {

// Small parsers shared by the configuration loader. Pure functions: no I/O, no shared state,
// ASCII only (the locale never changes what a directive means).

using text::iequals;
using text::is_token; ///< RFC 9110 section 5.6.2: a header name, a charset, a media type part
using text::to_lower;
std::string lower(std::string_view s);

/// `s` in double quotes, for "found ..." parts of messages.
std::string in_quotes(std::string_view s);

/// Case-insensitive Levenshtein distance, for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The closest of `candidates` to `name` when it is close enough to be a typo of it: one edit
/// per three letters typed, at most three, so that short words are not "corrected" into
/// unrelated ones. The first candidate at the smallest distance wins.
///
/// A candidate whose length differs from the name's by as much as the best distance so far
/// (at first: one more than allowed) is not compared, since its distance is at least that
/// difference and it could not win. So a huge name (megabytes of letters on one line) costs
/// nothing per candidate, where comparing it in full with every directive took about a second
/// per megabyte.
template <typename Range, typename Name>
std::optional<std::string_view> suggestion(std::string_view name, const Range& candidates,
                                           Name name_of) {
    const std::size_t allowed = std::min<std::size_t>(3, std::max<std::size_t>(1, name.size() / 3));
    std::optional<std::string_view> best;
    std::size_t best_distance = allowed + 1; // anything farther is no suggestion
    for (const auto& candidate : candidates) {
        const std::string_view n = name_of(candidate);
        const std::size_t gap =
            name.size() > n.size() ? name.size() - n.size() : n.size() - name.size();
        if (gap >= best_distance) {
            continue;
        }
        const std::size_t d = edit_distance(name, n);
        if (d < best_distance) {
            best = n;
            best_distance = d;
        }
    }
    return best;
}

/// A non-negative decimal integer made of digits only: no sign, no blanks, no suffix.
/// Values too large for 64 bits saturate so that the caller's range check rejects them.
std::optional<std::uint64_t> parse_uint(std::string_view s);

/// "N" (seconds, as Apache), or with a suffix as nginx takes them: "Nms", "Ns", "Nm"
/// (minutes), "Nh" (hours); any case but "M" (nginx's months). Huge values saturate so that
/// the caller's range check rejects them.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view s);

/// "5s" for whole seconds, "250ms" otherwise: how messages show a duration.
std::string duration_text(std::chrono::milliseconds d);

/// Lexically normal, without a trailing slash (except for "/" itself).
std::filesystem::path normalize(const std::filesystem::path& p);

/// An IPv4 or IPv6 literal in canonical text form ("::1" for "0:0::1"), or nullopt.
std::optional<std::string> canonical_ip(std::string_view literal);

/// One argument of `Require ip`: a full address, a CIDR network ("10.0.0.0/8",
/// "2001:db8::/32"), an IPv4 network with a netmask ("10.0.0.0/255.0.0.0") or a partial IPv4
/// address ("10.1" = 10.1.0.0/16), all as in Apache. Host bits past the prefix are cleared, as
/// APR does. nullopt when the text is none of these.
std::optional<IpNetwork> parse_ip_network(std::string_view text);

/// One <VirtualHost> address: "*", "_default_", an IPv4 literal or an IPv6 literal in
/// brackets, each with an optional ":port" or ":*" (port 0 and '*' both mean any port, as no
/// port does). Returns the reason (an "expected ...,
/// found ..." message) in `why` on failure.
std::optional<VirtualHost::Address> parse_vhost_address(std::string_view text, std::string& why);

} // namespace kahttpd::conf::detail
