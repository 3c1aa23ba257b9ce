#pragma once

#include "conf/expires.hpp"

#include <cstdint>
#include <ctime>
#include <string>

namespace kahttpd::server {

/// When a response governed by `spec` (not Base::none) expires, as Apache's mod_expires
/// computes it: the access time (`now`) or the file's modification time (`mtime`) plus the
/// spec's seconds, but never before `now` (an old file's "modification plus 1 day" expires
/// now, with max-age=0).
std::time_t expiry_time(const conf::ExpiresSpec& spec, std::time_t mtime, std::time_t now) noexcept;

/// Appends "Cache-Control: max-age=N\r\nExpires: DATE\r\n" for `spec` (nothing for
/// Base::none). No allocation when `out` has the capacity (the Response's storage keeps it).
void append_expires_fields(std::string& out, const conf::ExpiresSpec& spec, std::time_t mtime,
                           std::time_t now);

/// The fixed text before the date of the lines above for an access-based spec, whose max-age
/// never changes: "Cache-Control: max-age=N\r\nExpires: ". The open-file cache prepares it
/// in its 200 head, with the 29 characters of the date after it written per response.
void append_access_expires_prefix(std::string& out, const conf::ExpiresSpec& spec);

} // namespace kahttpd::server
