#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace kahttpd::conf {

/// One mod_expires rule: the response expires `seconds` after the access (the request) or
/// after the file's modification time.
struct ExpiresSpec {
    enum class Base : std::uint8_t { none, access, modification };
    Base base = Base::none;
    std::uint32_t seconds = 0;

    bool operator==(const ExpiresSpec&) const = default;
};

/// Parses Apache's two syntaxes: "A2592000" / "M604800" (base letter, seconds), or
/// "access plus 1 month", "modification plus 2 days 3 hours" ("now" is "access", "plus" is
/// optional, units years (365 days), months (30 days), weeks, days, hours, minutes and seconds,
/// singular or abbreviated as Apache accepts: y, mo, w, d, h, mi, s). nullopt with the reason
/// in `why` ("expected ..., found ...") on failure.
std::optional<ExpiresSpec> parse_expires(std::string_view text, std::string& why);

/// The text of a spec as `kahttpd -T` shows it, e.g. "A3600" or "M86400".
std::string expires_text(const ExpiresSpec& spec);

/// mod_expires' choice for a response of media type `type` (parameters ignored): nothing unless
/// `active`; else the ExpiresByType entry for the type, then for "major/*", then the default.
ExpiresSpec expires_for(bool active, const ExpiresSpec& by_default,
                        const std::map<std::string, ExpiresSpec>& by_type, std::string_view type);

} // namespace kahttpd::conf
