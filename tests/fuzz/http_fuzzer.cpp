// The pure HTTP helpers of server/http/ and the access-log formatter under libFuzzer, in one
// target: the first byte of the input picks the helper (modulo 7), the rest is its input.
//
// One target rather than five because each helper is small and fast: a run of `make fuzz`
// gives every target the same time, and five targets would cost five times the CI minutes for
// code that one target covers as well (libFuzzer keeps an input for each new edge, whichever
// helper it is in). The first byte of a crash file names the helper.
//
//   0 resolve_target(), in each AllowEncodedSlashes mode: the path never names anything above
//     the root (no "", "." or ".." segment, no dotfile, no NUL or backslash, no leading '/'),
//     raw_path and query are views into the target, and percent-encoding the result and
//     resolving it again (same mode) gives it back.
//   1 parse_ranges(): [1..8] representation length (little-endian, below 2^63, as off_t),
//     [9] MaxRanges, then the Range value. Satisfiable ranges are non-empty, ascending,
//     disjoint and not touching, and inside the representation; multipart_length() equals the
//     length of the body the part-header functions build.
//   2 validators and dates: [1..8] now, [9..16] Last-Modified (little-endian), [17] flags, then
//     lines: the current entity-tag, If-Match, If-None-Match, If-Modified-Since,
//     If-Unmodified-Since, If-Range. format_http_date() writes an IMF-fixdate for any time,
//     which parses back to the same time when its year has four digits (every date that
//     parses does); an entity-tag never claims more bytes than it was given.
//   3 choose_coding(): [1] flags (bit 0 a .br sibling, bit 1 a .gz sibling, bit 2 no field),
//     then Accept-Encoding. The coding chosen is one that exists.
//   4 AccessLogFormat: [1..2] status, [3] flags, [4..11] time, then the LogFormat string, a
//     NUL, the request bytes (parsed by RequestParser), a NUL, the ServerName. The JSON line
//     parses as JSON and has no raw control byte (UTF-8 text from the request stays as it
//     is there); in the text line every control byte or byte above 0x7e comes from the
//     format (the configuration), never from the request, so a client cannot forge or split
//     a line.
//   5 parse_proxy_header(): a whole header is no longer than its input and than 4 KiB, and
//     parses the same way alone as with anything after it; a header cut short asks for more
//     (never invalid) when its whole form was valid.
//   6 useragent_ip(): [1] flags, [2..] up to 4 proxy networks as 17 bytes each (address,
//     prefix), then the X-Forwarded-For value. The address found is one the field names.

#include "parser/proxy_protocol.hpp"
#include "parser/request_parser.hpp"
#include "server/http/byte_ranges.hpp"
#include "server/http/content_coding.hpp"
#include "server/http/http_date.hpp"
#include "server/http/remote_ip.hpp"
#include "server/http/target_path.hpp"
#include "server/http/validators.hpp"
#include "server/obs/access_log.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace server = kahttpd::server;
namespace parser = kahttpd::parser;
namespace conf = kahttpd::conf;

[[noreturn]] void fail(const char* helper, const std::string& what) {
    std::fprintf(stderr, "http_fuzzer (%s): %s\n", helper, what.c_str());
    std::abort();
}

/// Reads fixed-size fields off the front of the input; missing bytes read as 0.
struct Reader {
    std::string_view rest;

    std::uint8_t u8() {
        if (rest.empty()) {
            return 0;
        }
        const auto v = static_cast<std::uint8_t>(rest.front());
        rest.remove_prefix(1);
        return v;
    }
    std::uint64_t u64() {
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i) {
            v |= std::uint64_t{u8()} << (8 * i);
        }
        return v;
    }
    /// The text up to the next `sep` (or the end), consumed with the separator; nullopt once
    /// the last field was taken.
    std::optional<std::string_view> field(char sep) {
        if (exhausted) {
            return std::nullopt;
        }
        const std::size_t at = rest.find(sep);
        const std::string_view f = rest.substr(0, at);
        if (at == std::string_view::npos) {
            rest = {};
            exhausted = true;
        } else {
            rest.remove_prefix(at + 1);
        }
        return f;
    }
    bool exhausted = false;
};

bool special(char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c < 0x20 || c >= 0x7f;
}

bool inside(std::string_view part, std::string_view whole) {
    return part.empty() || (part.data() >= whole.data() &&
                            part.data() + part.size() <= whole.data() + whole.size());
}

void fuzz_target_path(std::string_view target, conf::EncodedSlashes slashes) {
    server::TargetPath out;
    if (server::resolve_target(target, out, slashes) != parser::Status::ok) {
        return;
    }
    if (!inside(out.raw_path, target) && out.raw_path != "/") {
        fail("target_path", "raw_path is not a view into the target");
    }
    if (!inside(out.query, target)) {
        fail("target_path", "query is not a view into the target");
    }
    std::string_view rest = out.path;
    while (!rest.empty()) {
        const std::size_t slash = rest.find('/');
        const std::string_view seg = rest.substr(0, slash);
        if (seg.empty() || seg.front() == '.' || seg.find('\0') != std::string_view::npos ||
            seg.find('\\') != std::string_view::npos) {
            fail("target_path", "segment \"" + std::string(seg) + "\" in " + out.path);
        }
        rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    }
    std::string again = "/";
    server::percent_encode_path(out.path, again);
    if (out.trailing_slash) {
        again += '/'; // "//" for the root asked for as a directory
    }
    server::TargetPath round;
    if (server::resolve_target(again, round, slashes) != parser::Status::ok ||
        round.path != out.path || round.trailing_slash != out.trailing_slash) {
        fail("target_path", "resolving the encoded path " + again + " does not give " + out.path);
    }
}

void fuzz_target_path(std::string_view target) {
    for (const auto slashes :
         {conf::EncodedSlashes::off, conf::EncodedSlashes::on, conf::EncodedSlashes::no_decode}) {
        fuzz_target_path(target, slashes);
    }
}

void fuzz_byte_ranges(Reader in) {
    const std::uint64_t length = in.u64() & ((std::uint64_t{1} << 63) - 1);
    const std::uint32_t max_ranges = in.u8();
    std::vector<server::ByteRange> ranges;
    const server::RangeResult result = server::parse_ranges(in.rest, length, max_ranges, ranges);
    if (result != server::RangeResult::satisfiable) {
        if (!ranges.empty()) {
            fail("byte_ranges", "ranges left behind by a result that is not satisfiable");
        }
        std::string out;
        server::format_unsatisfied_range(out, length);
        return;
    }
    if (ranges.empty()) {
        fail("byte_ranges", "satisfiable without a range");
    }
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        const server::ByteRange& r = ranges[i];
        if (r.first > r.last || r.last >= length) {
            fail("byte_ranges", "a range outside the representation");
        }
        if (i > 0 && r.first <= ranges[i - 1].last + 1) {
            fail("byte_ranges", "ranges out of order, overlapping or touching");
        }
    }
    const std::string boundary = server::make_boundary();
    const std::string_view type = length % 2 == 0 ? "text/plain" : "";
    std::uint64_t built = 0;
    for (const server::ByteRange& r : ranges) {
        std::string head;
        server::append_part_header(head, boundary, type, r, length);
        built += head.size() + r.size();
    }
    std::string tail;
    server::append_closing_delimiter(tail, boundary);
    built += tail.size();
    if (server::multipart_length(ranges, boundary, type, length) != built) {
        fail("byte_ranges", "multipart_length() differs from the body built");
    }
}

// The times an IMF-fixdate can write: 0000-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
constexpr std::time_t kFirstImfTime = -62167219200;
constexpr std::time_t kLastImfTime = 253402300799;

/// format_http_date() writes an IMF-fixdate for any time, and one that parses back to the
/// same time when the time has a four-digit year.
void check_format(std::time_t t, std::time_t now) {
    char buf[30];
    const std::string_view formatted = server::format_http_date(t, buf);
    const auto back = server::parse_http_date(formatted, now);
    if (!back || (t >= kFirstImfTime && t <= kLastImfTime && *back != t)) {
        fail("validators", std::to_string(t) + " formats as \"" + std::string(formatted) +
                               "\", which does not parse back to it");
    }
}

void fuzz_validators(Reader in) {
    // `now` is the server's clock: the years of the next two thousand years are plenty.
    const auto now = static_cast<std::time_t>(in.u64() % (std::uint64_t{1} << 36));
    const auto last_modified = static_cast<std::time_t>(in.u64());
    const unsigned flags = in.u8();
    check_format(now, now);
    check_format(last_modified, now);

    const std::string_view etag_text = in.field('\n').value_or("");
    server::EntityTag current;
    const std::size_t n = server::parse_entity_tag(etag_text, current);
    if (n > etag_text.size() || (n > 0 && !inside(current.opaque, etag_text))) {
        fail("validators", "parse_entity_tag() claims bytes it was not given");
    }
    server::ConditionalHeaders h;
    h.if_match = in.field('\n');
    h.if_none_match = in.field('\n');
    h.if_modified_since = in.field('\n');
    h.if_unmodified_since = in.field('\n');
    const std::optional<std::string_view> if_range = in.field('\n');
    for (const auto& f :
         {h.if_match, h.if_none_match, h.if_modified_since, h.if_unmodified_since, if_range}) {
        if (f) {
            if (const auto t = server::parse_http_date(*f, now)) {
                check_format(*t, now);
            }
            (void)server::etag_list_matches(*f, current, (flags & 4) != 0, (flags & 8) != 0);
        }
    }
    (void)server::evaluate_preconditions(h, (flags & 1) != 0, (flags & 2) != 0 && n > 0, current,
                                         last_modified);
    if (if_range) {
        (void)server::if_range_allows(*if_range, (flags & 2) != 0 && n > 0, current, last_modified);
    }
}

void fuzz_content_coding(Reader in) {
    const unsigned flags = in.u8();
    const bool have_br = (flags & 1) != 0;
    const bool have_gzip = (flags & 2) != 0;
    const std::optional<std::string_view> field =
        (flags & 4) != 0 ? std::nullopt : std::optional<std::string_view>(in.rest);
    const server::Coding c = server::choose_coding(field, have_br, have_gzip);
    if ((c == server::Coding::br && !have_br) || (c == server::Coding::gzip && !have_gzip) ||
        (!field && c != server::Coding::identity)) {
        fail("content_coding", "chose a coding that is not there");
    }
    (void)server::coding_name(c);
}

void fuzz_access_log(Reader in) {
    const unsigned status = in.u8() | (in.u8() << 8);
    const unsigned flags = in.u8();
    const auto time = static_cast<std::time_t>(in.u64());
    const std::string_view format = in.field('\0').value_or("");
    const std::string_view request_bytes = in.field('\0').value_or("");
    const std::string_view server_name = in.field('\0').value_or("");

    parser::RequestParser request_parser;
    const parser::FeedResult fed = request_parser.feed(request_bytes);
    const bool parsed = fed.event == parser::ParseEvent::head_complete ||
                        fed.event == parser::ParseEvent::message_complete;
    server::AccessRecord r;
    r.client = (flags & 1) != 0 ? "2001:db8::1" : "192.0.2.1";
    r.time = time;
    r.request = parsed ? &request_parser.request() : nullptr;
    r.status = status;
    r.body_bytes = time & 0xffff;
    r.duration_us = static_cast<std::uint64_t>(time) >> 16;
    r.previous_requests = flags >> 4;
    r.keep_alive = (flags & 2) != 0;
    r.close_reason = "keep-alive limit";
    r.server_name = server_name;

    std::string line;
    server::AccessLogFormat(format).append(line, r);
    server::resolve_connection_status(line.data(), line.size(), (flags & 4) != 0);
    std::size_t from_format = 1; // the newline that ends the line
    for (const char c : format) {
        from_format += special(c) ? 1 : 0;
    }
    std::size_t in_line = 0;
    for (const char c : line) {
        in_line += special(c) ? 1 : 0;
    }
    // (A format of "json" is the JSON form, checked below: it keeps UTF-8 text from the
    // request as it is, so bytes above 0x7e may come from the client there.)
    if (line.empty() || line.back() != '\n' || (format != "json" && in_line > from_format)) {
        fail("access_log", "the text line has control bytes the format does not: " + line);
    }

    std::string json_line;
    server::AccessLogFormat("json").append(json_line, r);
    server::resolve_connection_status(json_line.data(), json_line.size(), (flags & 4) != 0);
    if (json_line.find('\n') != json_line.size() - 1 ||
        nlohmann::json::parse(json_line, nullptr, false).is_discarded()) {
        fail("access_log", "the JSON line is not one line of JSON: " + json_line);
    }
    for (std::size_t i = 0; i + 1 < json_line.size(); ++i) {
        if (static_cast<unsigned char>(json_line[i]) < 0x20 || json_line[i] == 0x7f) {
            fail("access_log", "a raw control byte in the JSON line: " + json_line);
        }
    }
}

void fuzz_proxy_header(std::string_view input) {
    using parser::ProxyHeader;
    const ProxyHeader h = parser::parse_proxy_header(input);
    if (h.result != ProxyHeader::Result::done) {
        if (h.result == ProxyHeader::Result::need_more && input.size() >= parser::kProxyHeaderMax) {
            fail("proxy_header", "asks for more beyond the 4 KiB bound");
        }
        return;
    }
    if (h.length > input.size() || h.length > parser::kProxyHeaderMax || h.length < 15) {
        fail("proxy_header", "a header of " + std::to_string(h.length) + " bytes");
    }
    const ProxyHeader alone = parser::parse_proxy_header(input.substr(0, h.length));
    if (alone.result != ProxyHeader::Result::done || alone.length != h.length ||
        alone.has_addresses != h.has_addresses || alone.src != h.src ||
        alone.src_port != h.src_port || alone.dst != h.dst || alone.dst_port != h.dst_port) {
        fail("proxy_header", "the header parses differently without what follows it");
    }
    for (const std::size_t cut : {h.length - 1, h.length / 2, std::size_t{1}}) {
        if (parser::parse_proxy_header(input.substr(0, cut)).result !=
            ProxyHeader::Result::need_more) {
            fail("proxy_header", "a prefix of " + std::to_string(cut) + " bytes is not need_more");
        }
    }
}

void fuzz_remote_ip(Reader& in) {
    const std::uint8_t flags = in.u8();
    std::vector<kahttpd::conf::VirtualHost::RemoteIpProxy> proxies;
    for (unsigned i = 0; i < (flags & 3u) + ((flags & 4u) ? 1u : 0u); ++i) {
        kahttpd::conf::VirtualHost::RemoteIpProxy p;
        for (auto& b : p.network.addr) {
            b = in.u8();
        }
        p.network.prefix = static_cast<std::uint8_t>(in.u8() % 129);
        p.internal = (flags >> (4 + i)) & 1u;
        proxies.push_back(p);
    }
    server::IpBytes peer{};
    for (auto& b : peer) {
        b = in.u8();
    }
    const server::RemoteIpRules rules{"x-forwarded-for", &proxies};
    const auto found = server::useragent_ip(rules, peer, in.rest);
    if (found && in.rest.find_first_of("0123456789abcdefABCDEF:") == std::string_view::npos) {
        fail("remote_ip", "an address from a field that names none");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return -1;
    }
    Reader in{std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1)};
    switch (data[0] % 7) {
    case 0:
        fuzz_target_path(in.rest);
        break;
    case 1:
        fuzz_byte_ranges(in);
        break;
    case 2:
        fuzz_validators(in);
        break;
    case 3:
        fuzz_content_coding(in);
        break;
    case 4:
        fuzz_access_log(in);
        break;
    case 5:
        fuzz_proxy_header(in.rest);
        break;
    default:
        fuzz_remote_ip(in);
        break;
    }
    return 0;
}
