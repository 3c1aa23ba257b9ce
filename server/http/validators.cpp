#include "server/http/validators.hpp"

#include "parser/text.hpp"

#include <array>

namespace kahttpd::server {

namespace {

using text::is_ows;

constexpr std::array<std::string_view, 7> kShortDays = {"Mon", "Tue", "Wed", "Thu",
                                                        "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> kLongDays = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool is_etagc(char ch) noexcept {
    const auto c = static_cast<unsigned char>(ch);
    return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80;
}

/// Evaluates a list against `current`, or against "no entity-tag" when `current` is null.
bool list_matches(std::string_view field, const EntityTag* current, bool strong,
                  bool exists) noexcept {
    field = text::trim_ows(field);
    if (field == "*") {
        return exists;
    }
    bool matched = false;
    std::size_t i = 0;
    // Grammar: #entity-tag, i.e. elements separated by OWS "," OWS, empty elements allowed.
    while (i < field.size()) {
        if (field[i] == ',' || is_ows(field[i])) {
            ++i;
            continue;
        }
        EntityTag tag;
        const std::size_t n = parse_entity_tag(field.substr(i), tag);
        if (n == 0) {
            return false;
        }
        i += n;
        // After a tag only OWS and then ',' or the end may follow.
        while (i < field.size() && is_ows(field[i])) {
            ++i;
        }
        if (i < field.size() && field[i] != ',') {
            return false;
        }
        if (current != nullptr &&
            (strong ? strong_match(tag, *current) : weak_match(tag, *current))) {
            matched = true;
        }
    }
    return matched;
}

/// Reads exactly `n` digits at `s[pos]`; -1 when any is not a digit or `s` is too short.
int read_digits(std::string_view s, std::size_t pos, std::size_t n) noexcept {
    if (pos + n > s.size()) {
        return -1;
    }
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/// The month (0-11) named by the three bytes at `s[pos]`, case-sensitive as the grammar says;
/// -1 when none.
int read_month(std::string_view s, std::size_t pos) noexcept {
    if (pos + 3 > s.size()) {
        return -1;
    }
    const auto name = s.substr(pos, 3);
    for (std::size_t m = 0; m < kMonths.size(); ++m) {
        if (kMonths[m] == name) {
            return static_cast<int>(m);
        }
    }
    return -1;
}

bool is_day_name(std::string_view s) noexcept {
    for (const auto d : kShortDays) {
        if (d == s) {
            return true;
        }
    }
    return false;
}

bool is_long_day_name(std::string_view s) noexcept {
    for (const auto d : kLongDays) {
        if (d == s) {
            return true;
        }
    }
    return false;
}

/// "HH:MM:SS" at `s[pos]`; false when malformed or out of range.
bool read_time(std::string_view s, std::size_t pos, int& hour, int& minute, int& second) noexcept {
    if (pos + 8 > s.size() || s[pos + 2] != ':' || s[pos + 5] != ':') {
        return false;
    }
    hour = read_digits(s, pos, 2);
    minute = read_digits(s, pos + 3, 2);
    second = read_digits(s, pos + 6, 2);
    return hour >= 0 && hour <= 23 && minute >= 0 && minute <= 59 && second >= 0 && second <= 60;
}

bool is_leap(int y) noexcept {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(int year, int month0) noexcept {
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month0 == 1 && is_leap(year) ? 29 : kDays[month0];
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

/// Validates the fields and turns them into a time_t; nullopt when a field is out of range.
std::optional<std::time_t> to_time(int year, int month0, int day, int hour, int minute,
                                   int second) noexcept {
    if (year < 0 || month0 < 0 || day < 1 || day > days_in_month(year, month0)) {
        return std::nullopt;
    }
    const std::int64_t days =
        days_from_civil(year, static_cast<unsigned>(month0 + 1), static_cast<unsigned>(day));
    return static_cast<std::time_t>(days * 86400 + hour * 3600 + minute * 60 + second);
}

// "Sun, 06 Nov 1994 08:49:37 GMT": exactly 29 bytes.
std::optional<std::time_t> parse_imf_fixdate(std::string_view s) noexcept {
    if (s.size() != 29 || !is_day_name(s.substr(0, 3)) || s.substr(3, 2) != ", " || s[7] != ' ' ||
        s[11] != ' ' || s[16] != ' ' || s.substr(25) != " GMT") {
        return std::nullopt;
    }
    const int day = read_digits(s, 5, 2);
    const int month = read_month(s, 8);
    const int year = read_digits(s, 12, 4);
    int hour = 0, minute = 0, second = 0;
    if (day < 0 || month < 0 || year < 0 || !read_time(s, 17, hour, minute, second)) {
        return std::nullopt;
    }
    return to_time(year, month, day, hour, minute, second);
}

// "Sunday, 06-Nov-94 08:49:37 GMT": the long day name, then 24 fixed bytes.
std::optional<std::time_t> parse_rfc850(std::string_view s, std::time_t now) noexcept {
    const auto comma = s.find(',');
    if (comma == std::string_view::npos || !is_long_day_name(s.substr(0, comma))) {
        return std::nullopt;
    }
    s.remove_prefix(comma + 1);
    // Now " 06-Nov-94 08:49:37 GMT".
    if (s.size() != 23 || s[0] != ' ' || s[3] != '-' || s[7] != '-' || s[10] != ' ' ||
        s.substr(19) != " GMT") {
        return std::nullopt;
    }
    const int day = read_digits(s, 1, 2);
    const int month = read_month(s, 4);
    const int yy = read_digits(s, 8, 2);
    int hour = 0, minute = 0, second = 0;
    if (day < 0 || month < 0 || yy < 0 || !read_time(s, 11, hour, minute, second)) {
        return std::nullopt;
    }
    // RFC 9110 §5.6.7: a year that appears to be more than 50 years in the future is the most
    // recent past year with the same last two digits.
    std::tm tm{};
    gmtime_r(&now, &tm);
    const int now_year = tm.tm_year + 1900;
    int year = now_year / 100 * 100 + yy;
    if (year > now_year + 50) {
        year -= 100;
    } else if (year + 100 <= now_year + 50) {
        year += 100;
    }
    return to_time(year, month, day, hour, minute, second);
}

// "Sun Nov  6 08:49:37 1994": exactly 24 bytes, the day as 2DIGIT or SP DIGIT.
std::optional<std::time_t> parse_asctime(std::string_view s) noexcept {
    if (s.size() != 24 || !is_day_name(s.substr(0, 3)) || s[3] != ' ' || s[7] != ' ' ||
        s[10] != ' ' || s[19] != ' ') {
        return std::nullopt;
    }
    const int month = read_month(s, 4);
    const int day = s[8] == ' ' ? read_digits(s, 9, 1) : read_digits(s, 8, 2);
    const int year = read_digits(s, 20, 4);
    int hour = 0, minute = 0, second = 0;
    if (day < 0 || month < 0 || year < 0 || !read_time(s, 11, hour, minute, second)) {
        return std::nullopt;
    }
    return to_time(year, month, day, hour, minute, second);
}

} // namespace

std::size_t parse_entity_tag(std::string_view s, EntityTag& out) noexcept {
    std::size_t i = 0;
    bool weak = false;
    if (s.substr(0, 2) == "W/") {
        weak = true;
        i = 2;
    }
    if (i >= s.size() || s[i] != '"') {
        return 0;
    }
    const std::size_t begin = ++i;
    while (i < s.size() && is_etagc(s[i])) {
        ++i;
    }
    if (i >= s.size() || s[i] != '"') {
        return 0;
    }
    out.weak = weak;
    out.opaque = s.substr(begin, i - begin);
    return i + 1;
}

bool strong_match(const EntityTag& a, const EntityTag& b) noexcept {
    return !a.weak && !b.weak && a.opaque == b.opaque;
}

bool weak_match(const EntityTag& a, const EntityTag& b) noexcept {
    return a.opaque == b.opaque;
}

bool etag_list_matches(std::string_view field, const EntityTag& current, bool strong,
                       bool exists) noexcept {
    return list_matches(field, &current, strong, exists);
}

std::optional<std::time_t> parse_http_date(std::string_view text, std::time_t now) noexcept {
    text = text::trim_ows(text);
    if (text.size() < 4) {
        return std::nullopt;
    }
    if (text[3] == ',') {
        return parse_imf_fixdate(text);
    }
    if (text[3] == ' ') {
        return parse_asctime(text);
    }
    return parse_rfc850(text, now);
}

std::optional<std::time_t> parse_http_date(std::string_view text) noexcept {
    return parse_http_date(text, std::time(nullptr));
}

Precondition evaluate_preconditions(const ConditionalHeaders& headers, bool is_get_or_head,
                                    bool has_etag, const EntityTag& current,
                                    std::time_t last_modified) noexcept {
    const EntityTag* tag = has_etag ? &current : nullptr;
    // Step 1 and 2 (RFC 9110 §13.2.2): If-Match wins over If-Unmodified-Since.
    if (headers.if_match) {
        if (!list_matches(*headers.if_match, tag, true, true)) {
            return Precondition::failed;
        }
    } else if (headers.if_unmodified_since) {
        const auto date = parse_http_date(*headers.if_unmodified_since);
        if (date && last_modified > *date) {
            return Precondition::failed;
        }
    }
    // Step 3 and 4: If-None-Match wins over If-Modified-Since.
    if (headers.if_none_match) {
        if (list_matches(*headers.if_none_match, tag, false, true)) {
            return is_get_or_head ? Precondition::not_modified : Precondition::failed;
        }
    } else if (is_get_or_head && headers.if_modified_since) {
        const auto date = parse_http_date(*headers.if_modified_since);
        if (date && last_modified <= *date) {
            return Precondition::not_modified;
        }
    }
    return Precondition::proceed;
}

bool if_range_allows(std::string_view field, bool has_etag, const EntityTag& current,
                     std::time_t last_modified, bool date_is_strong) noexcept {
    field = text::trim_ows(field);
    // §13.1.5: an entity-tag starts with DQUOTE within its first three bytes, a date never does.
    if (field.substr(0, 3).find('"') != std::string_view::npos) {
        EntityTag tag;
        if (!has_etag || parse_entity_tag(field, tag) != field.size()) {
            return false;
        }
        return strong_match(tag, current);
    }
    if (!date_is_strong) {
        return false; // §13.1.5: a date only validates a Range when it is strong
    }
    const auto date = parse_http_date(field);
    return date && *date == last_modified;
}

void format_etag(std::string& out, std::span<const std::uint64_t> parts) {
    static constexpr char kHex[] = "0123456789abcdef";
    out.push_back('"');
    bool first = true;
    for (const std::uint64_t part : parts) {
        if (!first) {
            out.push_back('-');
        }
        first = false;
        char digits[16];
        std::size_t n = 0;
        std::uint64_t v = part;
        do {
            digits[n++] = kHex[v & 15];
            v >>= 4;
        } while (v != 0);
        while (n > 0) {
            out.push_back(digits[--n]);
        }
    }
    out.push_back('"');
}

void format_etag(std::string& out, std::initializer_list<std::uint64_t> parts) {
    format_etag(out, std::span<const std::uint64_t>(parts.begin(), parts.size()));
}

} // namespace kahttpd::server
