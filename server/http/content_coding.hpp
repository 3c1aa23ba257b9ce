#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace kahttpd::server {

/// The content codings a precompressed static file can be served in.
enum class Coding : std::uint8_t { identity, gzip, br };

/// The Content-Encoding token for `c` ("gzip", "br"); "" for identity (send no field).
std::string_view coding_name(Coding c) noexcept;

/// Chooses how to serve a file from its precompressed siblings (`have_br`: a ".br" exists,
/// `have_gzip`: a ".gz" exists) and the Accept-Encoding field value (RFC 9110 §12.5.3; several
/// field lines must already be joined with ", "). Absent → identity.
///
/// The value is a comma list of `coding [OWS ";" OWS "q=" qvalue]`, codings and "q"
/// case-insensitive, qvalue "0" to "1" with up to three decimals, empty elements skipped. An
/// element that does not fit the grammar (a bad qvalue, another parameter, "q = 1") is ignored
/// entirely rather than read as q=1: a client that tried to say something about a coding and
/// failed has not clearly asked for it. "x-gzip" is gzip. A coding listed more than once takes
/// its highest q. "*" gives its q to every coding not listed by name.
///
/// Among the available compressed codings the one with the highest q > 0 wins, br on a tie.
/// identity competes only when listed by name ("identity;q=1, gzip;q=0.5" gives identity);
/// otherwise it is the fallback, as with nginx's gzip_static. Even when "identity;q=0" or
/// "*;q=0" rules identity out, a static server answers with identity rather than 406 (§12.5.3
/// allows either): a 406 is never produced here. Pure, thread-safe, no allocation.
Coding choose_coding(std::optional<std::string_view> accept_encoding, bool have_br,
                     bool have_gzip) noexcept;

} // namespace kahttpd::server
