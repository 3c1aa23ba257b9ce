#include "server/http/expires.hpp"

#include "parser/text.hpp"
#include "server/http/http_date.hpp"

#include <algorithm>

namespace kahttpd::server {

std::time_t expiry_time(const conf::ExpiresSpec& spec, std::time_t mtime,
                        std::time_t now) noexcept {
    const std::time_t base = spec.base == conf::ExpiresSpec::Base::modification ? mtime : now;
    return std::max(base + static_cast<std::time_t>(spec.seconds), now);
}

void append_access_expires_prefix(std::string& out, const conf::ExpiresSpec& spec) {
    out.append("Cache-Control: max-age=");
    text::append_number(out, spec.seconds);
    out.append("\r\nExpires: ");
}

void append_expires_fields(std::string& out, const conf::ExpiresSpec& spec, std::time_t mtime,
                           std::time_t now) {
    if (spec.base == conf::ExpiresSpec::Base::none) {
        return;
    }
    const std::time_t expires = expiry_time(spec, mtime, now);
    out.append("Cache-Control: max-age=");
    text::append_number(out, static_cast<std::uint64_t>(expires - now));
    out.append("\r\nExpires: ");
    char date[30];
    out.append(format_http_date(expires, date));
    out.append("\r\n");
}

} // namespace kahttpd::server
