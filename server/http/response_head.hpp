#pragma once

#include "conf/sections.hpp"
#include "parser/status.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kahttpd::server {

/// The interim response a client waiting with "Expect: 100-continue" gets (RFC 9110 §15.2.1).
inline constexpr std::string_view kContinueHead = "HTTP/1.1 100 Continue\r\n\r\n";

/// Where the parts of a head appended by append_head() begin in the output.
struct HeadMarks {
    std::size_t fields_at = 0; ///< the first field line (after the status line)
    std::size_t date_at = 0;   ///< the 29 characters of the Date value
};

/// The one serialiser of a response head, used by the connection for every response, by the
/// open-file cache for its prepared 200 blocks (`date` = 29 blanks, patched per response) and
/// so by every error page. Appends, in this order: the status line, `server_header` (a whole
/// "Server: ...\r\n" line, or empty), Date, Content-Type (when not empty), Content-Length
/// (except on a 304, which describes the selected representation by its validators only, RFC
/// 9110 §15.4.5), then `fields`. The persistence fields and the blank line are the caller's
/// (end_head).
HeadMarks append_head(std::string& out, parser::Status status, std::string_view server_header,
                      std::string_view date, std::string_view content_type,
                      std::uint64_t content_length, std::string_view fields);

/// Ends a head begun at `fields_at`: applies the `Header` rules (those without `always` only
/// to 2xx and 304) to its field lines, then appends the blank line.
void end_head(std::string& out, std::size_t fields_at, parser::Status status,
              const std::vector<conf::HeaderRule>& rules);

} // namespace kahttpd::server
