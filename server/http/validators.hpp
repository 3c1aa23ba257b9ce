#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace kahttpd::server {

/// One entity-tag (RFC 9110 §8.8.3). `opaque` is the text between the quotes, without them,
/// and views into the string it was parsed from (or whatever the caller points it at).
struct EntityTag {
    bool weak = false;
    std::string_view opaque;
};

/// Parses one entity-tag (W/"x" or "x") at the start of `s`. Returns the number of bytes
/// consumed, or 0 when `s` does not start with a valid entity-tag; `out` is set only on success.
/// "W/" is case-sensitive and the opaque part may hold %x21 / %x23-7E / obs-text (no DQUOTE,
/// no space, no control). Pure, thread-safe.
std::size_t parse_entity_tag(std::string_view s, EntityTag& out) noexcept;

/// Strong comparison (RFC 9110 §8.8.3.2): both tags strong and their opaque parts equal.
bool strong_match(const EntityTag& a, const EntityTag& b) noexcept;

/// Weak comparison (RFC 9110 §8.8.3.2): opaque parts equal, weakness ignored.
bool weak_match(const EntityTag& a, const EntityTag& b) noexcept;

/// Evaluates an If-Match or If-None-Match field value ("*" or a comma-separated list of
/// entity-tags; several field lines must already be joined with ", ") against `current`.
/// `strong` selects strong comparison (If-Match) or weak (If-None-Match). "*" matches when
/// `exists` (the target has a current representation).
///
/// A value that fails to parse anywhere (a bare token, "*" mixed with tags, a missing quote)
/// is "no match" as a whole, even if an earlier element matched: for If-Match that means 412,
/// the safe answer for a client that sent garbage; for If-None-Match it means the request
/// proceeds normally. Empty list elements (", ,") are skipped as RFC 9110 §5.6.1 asks; a value
/// with no element at all matches nothing. Pure, thread-safe.
bool etag_list_matches(std::string_view field, const EntityTag& current, bool strong,
                       bool exists = true) noexcept;

/// Parses an HTTP-date (RFC 9110 §5.6.7): IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", and the
/// obsolete RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994"
/// forms. Surrounding spaces and tabs are ignored. Field ranges are checked (day within its
/// month, leap years, hour 0-23, minute 0-59, second 0-60 where 60 is a leap second that rolls
/// into the next minute), the day name must be a day name but need not agree with the date
/// (Apache and nginx do not check it either). A two-digit RFC 850 year is placed in the
/// century that puts it at most 50 years after `now` (§5.6.7). nullopt when invalid.
/// Pure, thread-safe.
std::optional<std::time_t> parse_http_date(std::string_view text, std::time_t now) noexcept;

/// As above, with `now` taken from the wall clock (only two-digit RFC 850 years depend on it).
std::optional<std::time_t> parse_http_date(std::string_view text) noexcept;

/// The outcome of evaluating the conditional request fields.
enum class Precondition {
    proceed,      ///< serve the request as if unconditional
    not_modified, ///< 304 (GET/HEAD only)
    failed,       ///< 412 Precondition Failed
};

/// The raw values of the four conditional fields, absent when not sent. Views into the request.
struct ConditionalHeaders {
    std::optional<std::string_view> if_match;
    std::optional<std::string_view> if_none_match;
    std::optional<std::string_view> if_modified_since;
    std::optional<std::string_view> if_unmodified_since;
};

/// Evaluates the preconditions in the order of RFC 9110 §13.2.2, for a target that exists:
///  1. If-Match present: no strong match → failed.
///  2. Otherwise, If-Unmodified-Since present and a valid date: last_modified > date → failed.
///  3. If-None-Match present: a weak match → not_modified for GET/HEAD, failed otherwise.
///  4. Otherwise, GET/HEAD with a valid If-Modified-Since: last_modified <= date → not_modified.
///  5. proceed.
/// Invalid dates are ignored (the field is treated as absent). Without an ETag (`has_etag`
/// false, `current` unused) If-Match matches only "*" and If-None-Match matches only "*" (the
/// resource exists). If-Range is separate: see if_range_allows(). Pure, thread-safe.
Precondition evaluate_preconditions(const ConditionalHeaders& headers, bool is_get_or_head,
                                    bool has_etag, const EntityTag& current,
                                    std::time_t last_modified) noexcept;

/// If-Range (RFC 9110 §13.1.5): true when a Range request should be honoured. An entity-tag
/// must match `current` strongly, so a weak tag on either side never does; a date must equal
/// `last_modified` exactly (Last-Modified is treated as strong; the "one second older than
/// Date" refinement of §8.8.2.2 is not applied). A value that is neither, or an entity-tag when
/// `has_etag` is false, gives false (serve the whole representation). `date_is_strong` false
/// (a Last-Modified capped at the Date, whose real time is unknown, so a weak validator) makes
/// every date give false. Pure, thread-safe.
bool if_range_allows(std::string_view field, bool has_etag, const EntityTag& current,
                     std::time_t last_modified, bool date_is_strong = true) noexcept;

/// Appends a strong ETag field value built from `parts`: each in lowercase hex, separated by
/// '-', inside double quotes, e.g. "\"2a-5f3e1c00\"". The quotes are included.
void format_etag(std::string& out, std::span<const std::uint64_t> parts);

/// As above, for a braced list: format_etag(out, {inode, size, mtime_ns}).
void format_etag(std::string& out, std::initializer_list<std::uint64_t> parts);

} // namespace kahttpd::server
