#include "parser/request_parser.hpp"

#include "parser/text.hpp"

#include <llhttp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>

namespace kahttpd::parser {

namespace {

// The one table from llhttp's errors to response statuses (nginx keeps the same kind of
// table in ngx_http_parse.c). Almost everything llhttp reports is a malformed request: 400.
// The cases that are not:
// - HPE_INVALID_TRANSFER_ENCODING is 400, not 501: llhttp raises it only when "chunked" is
//   not the final coding of a request (while reading a value: "chunked," or a second
//   "chunked" line; after the head: "gzip" alone, which on_headers_complete refuses first),
//   and RFC 9112 §6.3 says the body length then cannot be determined and the server MUST
//   answer 400 and close. A well-framed request that uses a coding we do not implement
//   ("gzip, chunked") gets 501 from on_headers_complete instead (§6.1).
// - HPE_INVALID_METHOD is 400 here, but feed() looks at the raw method token first: a
//   well-formed token that llhttp does not know ("BREW") is 501 (RFC 9110 §9.1).
// - HPE_INVALID_VERSION is 400 here, but feed() answers 505 when the version was
//   well-formed ("HTTP/1.2", "HTTP/3.0"), which llhttp 8.1 refuses with the same code.
// - The callback codes (HPE_CB_*) mean one of our callbacks returned something it never
//   returns, and HPE_PAUSED means a pause escaped feed(): both are our bugs, so 500.
// - HPE_USER is what our callbacks return for a limit or a rule of ours; they record the
//   real status (violation_info below), and 400 here is only a fallback.
// - The upgrade pauses cannot happen (on_headers_complete clears llhttp's upgrade flag),
//   but if they did: 501 for a protocol switch we do not implement, 505 for HTTP/2.
struct ErrnoStatus {
    llhttp_errno_t err;
    Status status;
};

constexpr std::array kErrnoTable{
    ErrnoStatus{HPE_OK, Status::ok},
    ErrnoStatus{HPE_INTERNAL, Status::internal_error},
    ErrnoStatus{HPE_STRICT, Status::bad_request},
    ErrnoStatus{HPE_LF_EXPECTED, Status::bad_request},
    ErrnoStatus{HPE_UNEXPECTED_CONTENT_LENGTH, Status::bad_request},
    ErrnoStatus{HPE_CLOSED_CONNECTION, Status::bad_request},
    ErrnoStatus{HPE_INVALID_METHOD, Status::bad_request},
    ErrnoStatus{HPE_INVALID_URL, Status::bad_request},
    ErrnoStatus{HPE_INVALID_CONSTANT, Status::bad_request},
    ErrnoStatus{HPE_INVALID_VERSION, Status::bad_request},
    ErrnoStatus{HPE_INVALID_HEADER_TOKEN, Status::bad_request},
    ErrnoStatus{HPE_INVALID_CONTENT_LENGTH, Status::bad_request},
    ErrnoStatus{HPE_INVALID_CHUNK_SIZE, Status::bad_request},
    ErrnoStatus{HPE_INVALID_STATUS, Status::bad_request},
    ErrnoStatus{HPE_INVALID_EOF_STATE, Status::bad_request},
    ErrnoStatus{HPE_INVALID_TRANSFER_ENCODING, Status::bad_request},
    ErrnoStatus{HPE_CB_MESSAGE_BEGIN, Status::internal_error},
    ErrnoStatus{HPE_CB_HEADERS_COMPLETE, Status::internal_error},
    ErrnoStatus{HPE_CB_MESSAGE_COMPLETE, Status::internal_error},
    ErrnoStatus{HPE_CB_CHUNK_HEADER, Status::internal_error},
    ErrnoStatus{HPE_CB_CHUNK_COMPLETE, Status::internal_error},
    ErrnoStatus{HPE_PAUSED, Status::internal_error},
    ErrnoStatus{HPE_PAUSED_UPGRADE, Status::not_implemented},
    ErrnoStatus{HPE_PAUSED_H2_UPGRADE, Status::version_not_supported},
    ErrnoStatus{HPE_USER, Status::bad_request},
    ErrnoStatus{HPE_CR_EXPECTED, Status::bad_request},
    ErrnoStatus{HPE_CB_URL_COMPLETE, Status::internal_error},
    ErrnoStatus{HPE_CB_STATUS_COMPLETE, Status::internal_error},
    ErrnoStatus{HPE_CB_HEADER_FIELD_COMPLETE, Status::internal_error},
    ErrnoStatus{HPE_CB_HEADER_VALUE_COMPLETE, Status::internal_error},
    ErrnoStatus{HPE_UNEXPECTED_SPACE, Status::bad_request},
    ErrnoStatus{HPE_CB_RESET, Status::internal_error},
    ErrnoStatus{HPE_CB_METHOD_COMPLETE, Status::internal_error},
    ErrnoStatus{HPE_CB_VERSION_COMPLETE, Status::internal_error},
    ErrnoStatus{HPE_CB_CHUNK_EXTENSION_NAME_COMPLETE, Status::internal_error},
    ErrnoStatus{HPE_CB_CHUNK_EXTENSION_VALUE_COMPLETE, Status::internal_error},
};

// llhttp 8.1 numbers its errors 0..35 without gaps; the table must list each exactly once.
constexpr int kLastErrno = HPE_CB_CHUNK_EXTENSION_VALUE_COMPLETE;

constexpr bool table_lists_every_errno_once() {
    for (int e = 0; e <= kLastErrno; ++e) {
        int seen = 0;
        for (const ErrnoStatus& row : kErrnoTable) {
            seen += (static_cast<int>(row.err) == e) ? 1 : 0;
        }
        if (seen != 1) {
            return false;
        }
    }
    return kErrnoTable.size() == kLastErrno + 1;
}
static_assert(table_lists_every_errno_once(), "kErrnoTable must cover llhttp_errno_t");

// Rules our callbacks and the head scanner enforce, each with its status and log reason.
// The reasons are string literals: error_reason() promises static, NUL-terminated storage.
enum class Violation : std::uint8_t {
    request_line_too_long,
    field_too_long,
    too_many_fields,
    head_too_large,
    body_too_large,
    version_not_supported,
    no_version,
    not_http,
    method_not_implemented,
    unknown_method,
    invalid_method,
    empty_field_name,
    invalid_field_name,
    te_in_http10,
    te_malformed,
    te_chunked_not_final,
    te_unsupported_coding,
    te_chunked_twice,
    bare_cr,
    bare_lf,
    obs_fold,
    out_of_memory,
};

struct ViolationInfo {
    Status status;
    const char* reason;
};

constexpr ViolationInfo violation_info(Violation v) noexcept {
    switch (v) {
    case Violation::request_line_too_long:
        return {Status::uri_too_long, "request line too long"};
    case Violation::field_too_long:
        return {Status::header_too_large, "header field too long"};
    case Violation::too_many_fields:
        return {Status::header_too_large, "too many header fields"};
    case Violation::head_too_large:
        return {Status::header_too_large, "request head too large"};
    case Violation::body_too_large:
        return {Status::payload_too_large, "request body too large"};
    case Violation::version_not_supported:
        return {Status::version_not_supported, "HTTP version not supported"};
    case Violation::no_version:
        return {Status::bad_request, "request line without HTTP version"};
    case Violation::not_http:
        return {Status::bad_request, "protocol is not HTTP"};
    case Violation::method_not_implemented:
        return {Status::not_implemented, "method not implemented"};
    case Violation::unknown_method:
        return {Status::not_implemented, "unknown method"};
    case Violation::invalid_method:
        return {Status::bad_request, "invalid method"};
    case Violation::empty_field_name:
        return {Status::bad_request, "empty header field name"};
    case Violation::invalid_field_name:
        return {Status::bad_request, "invalid header token"};
    case Violation::te_in_http10:
        return {Status::bad_request, "Transfer-Encoding in an HTTP/1.0 request"};
    case Violation::te_malformed:
        return {Status::bad_request, "invalid Transfer-Encoding"};
    case Violation::te_chunked_not_final:
        return {Status::bad_request, "chunked is not the final transfer coding"};
    case Violation::te_unsupported_coding:
        return {Status::not_implemented, "unsupported transfer coding"};
    case Violation::te_chunked_twice:
        return {Status::bad_request, "chunked transfer coding applied twice"};
    case Violation::bare_cr:
        return {Status::bad_request, "bare CR in request head"};
    case Violation::bare_lf:
        return {Status::bad_request, "bare LF in request head"};
    case Violation::obs_fold:
        return {Status::bad_request, "obsolete line folding in request head"};
    case Violation::out_of_memory:
        return {Status::internal_error, "out of memory"};
    }
    return {Status::internal_error, "unknown violation"};
}

constexpr Violation violation_for(detail::HeadFault fault) noexcept {
    switch (fault) {
    case detail::HeadFault::bare_cr:
        return Violation::bare_cr;
    case detail::HeadFault::bare_lf:
        return Violation::bare_lf;
    case detail::HeadFault::obs_fold:
    case detail::HeadFault::none:
        break;
    }
    return Violation::obs_fold;
}

// Offset of llhttp's error position in the buffer it was given, clamped to it.
std::size_t offset_in(std::string_view data, const char* pos) noexcept {
    const auto begin = reinterpret_cast<std::uintptr_t>(data.data());
    const auto at = reinterpret_cast<std::uintptr_t>(pos);
    if (pos == nullptr || at < begin || at - begin > data.size()) {
        return 0;
    }
    return at - begin;
}

// llhttp's reason for its own errors: a string literal, as error_reason() requires.
const char* llhttp_reason(const llhttp_t& parser) noexcept {
    const char* reason = llhttp_get_error_reason(&parser);
    return reason != nullptr ? reason : "malformed request";
}

// The bytes of an OWS run (RFC 9110 §5.6.3) from `i`; BWS has the same syntax.
std::size_t skip_ows(std::string_view s, std::size_t i) noexcept {
    while (i < s.size() && text::is_ows(s[i])) {
        ++i;
    }
    return i;
}

// The end of a token starting at `i` (== i when there is none).
std::size_t token_end(std::string_view s, std::size_t i) noexcept {
    while (i < s.size() && text::is_tchar(s[i])) {
        ++i;
    }
    return i;
}

// The end of a quoted-string starting at `i` (RFC 9110 §5.6.4), or npos when it is not one.
std::size_t quoted_end(std::string_view s, std::size_t i) noexcept {
    if (i >= s.size() || s[i] != '"') {
        return std::string_view::npos;
    }
    for (++i; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '"') {
            return i + 1;
        }
        if (c == '\\') {
            if (++i == s.size()) {
                break;
            }
        } else if (c < 0x20 && c != '\t') {
            break;
        }
    }
    return std::string_view::npos;
}

// transfer-coding of RFC 9112 §7 (RFC 9110 §10.1.4): token *( OWS ";" OWS
// transfer-parameter ), transfer-parameter = token BWS "=" BWS ( token / quoted-string ).
// The caller splits the list at commas first, so a quoted comma splits a parameter and the
// field is refused: no coding kahttpd could decode takes one.
bool is_transfer_coding(std::string_view s) noexcept {
    std::size_t i = token_end(s, 0);
    if (i == 0) {
        return false;
    }
    while (true) {
        i = skip_ows(s, i);
        if (i == s.size()) {
            return true;
        }
        if (s[i] != ';') {
            return false;
        }
        i = skip_ows(s, i + 1);
        const std::size_t name_end = token_end(s, i);
        if (name_end == i) {
            return false;
        }
        i = skip_ows(s, name_end);
        if (i == s.size() || s[i] != '=') {
            return false;
        }
        i = skip_ows(s, i + 1);
        const std::size_t value_end =
            i < s.size() && s[i] == '"' ? quoted_end(s, i) : token_end(s, i);
        if (value_end == std::string_view::npos || value_end == i) {
            return false;
        }
        i = value_end;
    }
}

// The transfer codings of a request, over every Transfer-Encoding field in order.
struct TransferCodings {
    bool present = false;      // a Transfer-Encoding field, even an empty one
    bool malformed = false;    // an empty element (an empty field included) or bad syntax
    bool other = false;        // a coding other than chunked
    bool last_chunked = false; // the final coding so far is chunked
    unsigned chunked = 0;

    void add(std::string_view list) noexcept {
        present = true;
        // Not text::for_each_list_element: it skips empty elements (as RFC 9110 §5.6.1 lets
        // a recipient do), and in a framing field a stricter reading is the safe one.
        while (true) {
            const std::size_t comma = list.find(',');
            const std::string_view coding = text::trim_ows(list.substr(0, comma));
            if (coding.empty()) {
                malformed = true;
            } else if (text::iequals(coding, "chunked")) {
                ++chunked;
                last_chunked = true;
            } else {
                malformed = malformed || !is_transfer_coding(coding);
                other = true;
                last_chunked = false;
            }
            if (comma == std::string_view::npos) {
                return;
            }
            list.remove_prefix(comma + 1);
        }
    }
};

// Storage offsets are 32-bit: a head is bounded by the limits, far below 4 GiB.
constexpr std::size_t kMaxStorage = std::numeric_limits<std::uint32_t>::max();

} // namespace

/// The llhttp callbacks. Each recovers the RequestParser from parser->data, copies what it
/// needs out of `at` (the pointer is dead once llhttp_execute returns, node's StringPtr
/// lesson), and returns 0, HPE_PAUSED (to stop feed() at an event) or HPE_USER (with the
/// status and reason recorded).
struct ParserCallbacks {
    static RequestParser& self(llhttp_t* p) noexcept {
        return *static_cast<RequestParser*>(p->data);
    }

    // Records the violation and returns HPE_USER. llhttp passes that code through from span
    // callbacks but replaces it with HPE_CB_<name> for the others, so feed() goes by
    // callback_failed_, not by the code.
    static int fail(RequestParser& s, Violation v) noexcept {
        const ViolationInfo info = violation_info(v);
        s.set_error(info.status, info.reason);
        s.callback_failed_ = true;
        llhttp_set_error_reason(&s.parser_, info.reason);
        return HPE_USER;
    }

    // fail() for a limit crossed inside the span that starts at `at`, `fits` bytes into it:
    // remembers where, so that feed() orders it against a head fault in the same buffer the
    // way a byte-by-byte feed would (the span may reach the callback only at its end).
    static int fail_limit(RequestParser& s, Violation v, const char* at,
                          std::uint64_t fits) noexcept {
        if (s.feed_begin_ != nullptr && at >= s.feed_begin_) {
            s.fail_pos_ = static_cast<std::size_t>(at - s.feed_begin_) +
                          static_cast<std::size_t>(fits);
        }
        return fail(s, v);
    }

    // How many bytes of a span fit when `used` of `limit` are taken already.
    static std::uint64_t room(std::uint64_t limit, std::uint64_t used) noexcept {
        return used < limit ? limit - used : 0;
    }

    // Appends a span to the request's storage. Returns 0 or the callback's error.
    static int append(RequestParser& s, const char* at, std::size_t len) noexcept {
        std::string& storage = s.request_.storage_;
        if (len > kMaxStorage - storage.size()) {
            return fail(s, Violation::head_too_large);
        }
        try {
            storage.append(at, len);
        } catch (const std::bad_alloc&) {
            return fail(s, Violation::out_of_memory);
        }
        return 0;
    }

    // "METHOD SP target SP HTTP/x.y" so far, without the CRLF.
    static std::uint64_t request_line_len(const RequestParser& s) noexcept {
        const Request& r = s.request_;
        std::uint64_t len = std::uint64_t{r.method_len_} + 1 + r.target_len_;
        if (s.protocol_checked_) {
            len += 1 + 5 + s.version_len_; // SP "HTTP/" version
        }
        return len;
    }

    // True when the five bytes before `at` are "HTTP/". They may lie in earlier feeds, whose
    // last bytes tail_ keeps.
    static bool preceded_by_http(const RequestParser& s, const char* at) noexcept {
        constexpr std::size_t kLen = 5;
        const std::size_t in_buffer =
            std::min<std::size_t>(static_cast<std::size_t>(at - s.feed_begin_), kLen);
        const std::size_t from_tail = kLen - in_buffer;
        if (from_tail > s.tail_len_) {
            return false;
        }
        char bytes[kLen];
        std::memcpy(bytes, s.tail_ + (s.tail_len_ - from_tail), from_tail);
        std::memcpy(bytes + from_tail, at - in_buffer, in_buffer);
        return std::memcmp(bytes, "HTTP/", kLen) == 0;
    }

    static int on_message_begin(llhttp_t* p) noexcept {
        // llhttp skips the empty lines allowed before a request (RFC 9112 §2.2) before it
        // calls this, so those do not count as being in a message.
        self(p).in_message_ = true;
        return 0;
    }

    static int on_method(llhttp_t* p, const char* at, std::size_t len) noexcept {
        RequestParser& s = self(p);
        Request& r = s.request_;
        if (std::uint64_t{r.method_len_} + len + 1 > s.active_limits_.request_line) {
            return fail_limit(s, Violation::request_line_too_long, at,
                              room(s.active_limits_.request_line, r.method_len_ + 1ull));
        }
        if (const int err = append(s, at, len)) {
            return err;
        }
        r.method_len_ += static_cast<std::uint32_t>(len);
        return 0;
    }

    static int on_method_complete(llhttp_t* p) noexcept {
        RequestParser& s = self(p);
        Request& r = s.request_;
        r.method_id_ = p->method;
        r.target_off_ = static_cast<std::uint32_t>(r.storage_.size());
        // In request mode llhttp also matches RTSP's methods (DESCRIBE .. FLUSH, numbered
        // after PRI) and refuses them only at the protocol, with HPE_INVALID_CONSTANT. They
        // are well-formed tokens we do not implement.
        if (p->method > HTTP_PRI) {
            return fail(s, Violation::method_not_implemented);
        }
        return 0;
    }

    static int on_url(llhttp_t* p, const char* at, std::size_t len) noexcept {
        RequestParser& s = self(p);
        Request& r = s.request_;
        // Checked before appending, so an endless target costs at most the limit in memory.
        if (request_line_len(s) + len > s.active_limits_.request_line) {
            return fail_limit(s, Violation::request_line_too_long, at,
                              room(s.active_limits_.request_line, request_line_len(s)));
        }
        if (const int err = append(s, at, len)) {
            return err;
        }
        r.target_len_ += static_cast<std::uint32_t>(len);
        return 0;
    }

    static int on_version(llhttp_t* p, const char* at, std::size_t len) noexcept {
        RequestParser& s = self(p);
        if (!s.protocol_checked_) {
            // llhttp 8.1 also takes "RTSP/1.0" and "ICE/1.0" here and reports them as
            // version 1.0; only HTTP is served.
            s.protocol_checked_ = true;
            if (!preceded_by_http(s, at)) {
                return fail(s, Violation::not_http);
            }
        }
        for (std::size_t i = 0; i < len && s.version_len_ < sizeof(s.version_); ++i) {
            s.version_[s.version_len_++] = at[i];
        }
        if (request_line_len(s) > s.active_limits_.request_line) {
            return fail(s, Violation::request_line_too_long);
        }
        return 0;
    }

    static int on_version_complete(llhttp_t* p) noexcept {
        RequestParser& s = self(p);
        Request& r = s.request_;
        s.version_done_ = true;
        // llhttp 8.1 accepts 0.9, 1.0, 1.1 and 2.0 and refuses other versions itself.
        if (p->http_major != 1 || p->http_minor > 1) {
            return fail(s, Violation::version_not_supported);
        }
        // PRI is only the HTTP/2 connection preface. With an HTTP/1.x version llhttp would
        // wait for the rest of the preface; it is an unimplemented method to us.
        if (p->method == HTTP_PRI) {
            return fail(s, Violation::method_not_implemented);
        }
        r.http_major_ = p->http_major;
        r.http_minor_ = p->http_minor;
        return 0;
    }

    static int on_header_field(llhttp_t* p, const char* at, std::size_t len) noexcept {
        RequestParser& s = self(p);
        if (!s.in_name_) {
            // A new field (or trailer field: they count against the same limits, since
            // they are not body bytes and would otherwise be unbounded).
            s.in_name_ = true;
            s.name_len_ = 0;
            s.value_len_ = 0;
            if (++s.field_count_ > s.active_limits_.fields) {
                return fail_limit(s, Violation::too_many_fields, at, 0);
            }
        }
        // Approximation of the line "name: value": name + value + 2. Leading OWS is
        // skipped by llhttp without a callback; it is not buffered either.
        if (std::uint64_t{s.name_len_} + len + 2 > s.active_limits_.field_size) {
            return fail_limit(s, Violation::field_too_long, at,
                              room(s.active_limits_.field_size, s.name_len_ + 2ull));
        }
        if (!s.head_done_) {
            if (const int err = append(s, at, len)) {
                return err;
            }
        }
        s.name_len_ += static_cast<std::uint32_t>(len);
        return 0;
    }

    static int on_header_field_complete(llhttp_t* p) noexcept {
        RequestParser& s = self(p);
        const bool had_span = s.in_name_;
        s.in_name_ = false;
        s.value_len_ = 0;
        // llhttp 8.1 accepts ": value" with an empty name, even in strict mode.
        if (!had_span || s.name_len_ == 0) {
            return fail(s, Violation::empty_field_name);
        }
        if (!s.head_done_) {
            // llhttp checks this too when built strict; the check keeps a loose build from
            // letting "Host : x" through (RFC 9112 §5.1 requires a 400).
            const std::string& storage = s.request_.storage_;
            const std::string_view name =
                std::string_view(storage).substr(storage.size() - s.name_len_);
            if (!text::is_token(name)) {
                return fail(s, Violation::invalid_field_name);
            }
        }
        return 0;
    }

    static int on_header_value(llhttp_t* p, const char* at, std::size_t len) noexcept {
        RequestParser& s = self(p);
        if (std::uint64_t{s.name_len_} + s.value_len_ + len + 2 > s.active_limits_.field_size) {
            return fail_limit(s, Violation::field_too_long, at,
                              room(s.active_limits_.field_size,
                                   std::uint64_t{s.name_len_} + s.value_len_ + 2));
        }
        if (!s.head_done_) {
            if (const int err = append(s, at, len)) {
                return err;
            }
        }
        s.value_len_ += static_cast<std::uint32_t>(len);
        return 0;
    }

    static int on_header_value_complete(llhttp_t* p) noexcept {
        RequestParser& s = self(p);
        if (s.head_done_) {
            return 0; // a trailer field: counted, not kept
        }
        Request& r = s.request_;
        // Name and value are the last bytes appended, in that order.
        const auto value_off = static_cast<std::uint32_t>(r.storage_.size() - s.value_len_);
        const std::uint32_t name_off = value_off - s.name_len_;
        // llhttp drops leading OWS; trailing OWS is part of its span (RFC 9112 §5.1 says
        // to exclude both).
        std::uint32_t value_len = s.value_len_;
        while (value_len > 0 && text::is_ows(r.storage_[value_off + value_len - 1])) {
            --value_len;
        }
        r.storage_.resize(value_off + value_len);
        try {
            r.spans_.push_back(Request::FieldSpan{name_off, s.name_len_, value_off, value_len});
        } catch (const std::bad_alloc&) {
            return fail(s, Violation::out_of_memory);
        }
        return 0;
    }

    static int on_headers_complete(llhttp_t* p) noexcept {
        RequestParser& s = self(p);
        Request& r = s.request_;
        s.head_done_ = true;
        if (!s.version_done_) {
            // llhttp 8.1 takes "GET /" followed by CRLF as an HTTP/0.9 simple request.
            return fail(s, Violation::no_version);
        }
        try {
            r.publish_headers();
        } catch (const std::bad_alloc&) {
            return fail(s, Violation::out_of_memory);
        }

        // One pass over the fields for everything the head decides: the transfer codings,
        // the Host fields (counted here so the transport's check need not walk them again),
        // the Connection options and Expect.
        TransferCodings te;
        bool close = false;
        bool keep_alive = false;
        bool expect_continue = false;
        std::uint32_t hosts = 0;
        for (std::size_t i = 0; i < r.headers_.size(); ++i) {
            const HeaderField& field = r.headers_[i];
            if (text::iequals(field.name, "host")) {
                if (hosts++ == 0) {
                    r.host_index_ = static_cast<std::uint32_t>(i);
                }
            } else if (text::iequals(field.name, "connection")) {
                // RFC 9112 §9.1: a comma-separated list, case-insensitive, possibly over
                // several fields.
                text::for_each_list_element(field.value, [&](std::string_view option) {
                    close = close || text::iequals(option, "close");
                    keep_alive = keep_alive || text::iequals(option, "keep-alive");
                });
            } else if (text::iequals(field.name, "expect")) {
                expect_continue = expect_continue || text::iequals(field.value, "100-continue");
            } else if (text::iequals(field.name, "transfer-encoding")) {
                te.add(field.value);
            }
        }

        // Framing (RFC 9112 §6). llhttp has already refused Content-Length together with a
        // non-empty Transfer-Encoding and bad or repeated-and-different Content-Length
        // values. What it lets through is judged here, before the body is framed by it:
        // llhttp ignores an empty Transfer-Encoding field (it would frame the body by
        // Content-Length, or as absent) and skips empty list elements (", chunked" is
        // chunked to it, "chunked," is not). A request whose framing we cannot be sure of is
        // a 400 and the connection closes, whatever the method.
        const bool chunked = (p->flags & F_CHUNKED) != 0;
        if (te.present) {
            if (r.http_minor_ == 0) {
                // §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
                return fail(s, Violation::te_in_http10);
            }
            if (te.malformed) {
                return fail(s, Violation::te_malformed);
            }
            if (te.chunked > 1) {
                return fail(s, Violation::te_chunked_twice); // §7: at most once
            }
            if (!te.last_chunked) {
                // §6.3: without chunked as the final coding the length of a request body
                // cannot be determined; the server MUST answer 400 and close.
                return fail(s, Violation::te_chunked_not_final);
            }
            if (te.other) {
                // Framed correctly but with a coding we cannot decode ("gzip, chunked"):
                // §6.1 says 501.
                return fail(s, Violation::te_unsupported_coding);
            }
            if (!chunked) {
                // What is left is "chunked" alone, which llhttp frames as chunked; never frame
                // a body differently from it.
                return fail(s, Violation::te_malformed);
            }
        }
        r.chunked_ = chunked;
        if ((p->flags & F_CONTENT_LENGTH) != 0 && !te.present) {
            // Read it now: llhttp counts p->content_length down while the body arrives.
            r.content_length_ = p->content_length;
        }
        r.has_body_ = chunked || r.content_length_.value_or(0) > 0;
        const std::uint64_t body_limit = s.active_limits_.body;
        if (body_limit != 0 && r.content_length_.value_or(0) > body_limit) {
            // Refuse before reading a byte of it (also spares a useless 100 Continue).
            return fail(s, Violation::body_too_large);
        }

        // Persistence (RFC 9112 §9.3): "close" always wins.
        bool persist = (r.http_minor_ >= 1) ? !close : (keep_alive && !close);
        // Never promise persistence llhttp does not share: in strict mode it refuses any
        // byte after a message it considers final (HPE_CLOSED_CONNECTION).
        persist = persist && llhttp_should_keep_alive(p) != 0;
        r.keep_alive_ = persist;
        r.keep_alive_requested_ = persist && r.http_minor_ == 0;
        r.expect_continue_ = expect_continue;
        r.host_fields_ = hosts;

        // kahttpd never switches protocols (RFC 9110 §7.8 lets a server ignore Upgrade), and
        // CONNECT is answered like any other method. Clearing the flag keeps llhttp from
        // treating the bytes after the head as another protocol (HPE_PAUSED_UPGRADE).
        p->upgrade = 0;

        if (r.has_body_) {
            s.pause_event_ = ParseEvent::head_complete;
            return HPE_PAUSED;
        }
        return 0;
    }

    static int on_body(llhttp_t* p, const char* /*at*/, std::size_t len) noexcept {
        RequestParser& s = self(p);
        Request& r = s.request_;
        r.body_bytes_ += len;
        const std::uint64_t body_limit = s.active_limits_.body;
        if (body_limit != 0 && r.body_bytes_ > body_limit) {
            return fail(s, Violation::body_too_large);
        }
        return 0;
    }

    static int on_message_complete(llhttp_t* p) noexcept {
        RequestParser& s = self(p);
        s.pause_event_ = ParseEvent::message_complete;
        // Pausing here makes llhttp_execute return with error_pos just past this message,
        // so feed() hands out pipelined requests one at a time.
        return HPE_PAUSED;
    }
};

namespace {

llhttp_settings_t make_settings() noexcept {
    llhttp_settings_t settings;
    llhttp_settings_init(&settings);
    settings.on_message_begin = &ParserCallbacks::on_message_begin;
    settings.on_method = &ParserCallbacks::on_method;
    settings.on_method_complete = &ParserCallbacks::on_method_complete;
    settings.on_url = &ParserCallbacks::on_url;
    settings.on_version = &ParserCallbacks::on_version;
    settings.on_version_complete = &ParserCallbacks::on_version_complete;
    settings.on_header_field = &ParserCallbacks::on_header_field;
    settings.on_header_field_complete = &ParserCallbacks::on_header_field_complete;
    settings.on_header_value = &ParserCallbacks::on_header_value;
    settings.on_header_value_complete = &ParserCallbacks::on_header_value_complete;
    settings.on_headers_complete = &ParserCallbacks::on_headers_complete;
    settings.on_body = &ParserCallbacks::on_body;
    settings.on_message_complete = &ParserCallbacks::on_message_complete;
    return settings;
}

// Shared by every parser; llhttp only reads it.
const llhttp_settings_t kSettings = make_settings();

} // namespace

Status status_for(llhttp_errno_t err) noexcept {
    for (const ErrnoStatus& row : kErrnoTable) {
        if (row.err == err) {
            return row.status;
        }
    }
    return Status::internal_error; // not an llhttp 8.1 error number
}

RequestParser::RequestParser(const ParseLimits& limits) : limits_(limits) {
    // No lenient flag is ever set: llhttp_init leaves them all off.
    llhttp_init(&parser_, HTTP_REQUEST, &kSettings);
    parser_.data = this;
    start_message();
}

void RequestParser::start_message() noexcept {
    request_.clear();
    scanner_.reset();
    active_limits_ = limits_;
    version_len_ = 0;
    pause_event_ = ParseEvent::need_more;
    field_count_ = 0;
    name_len_ = 0;
    value_len_ = 0;
    in_name_ = false;
    head_done_ = false;
    version_done_ = false;
    protocol_checked_ = false;
    method_pending_ = false;
    in_message_ = false;
    message_done_ = false;
}

void RequestParser::reset() noexcept {
    // Keeps settings, data and (absent) lenient flags; clears llhttp's error.
    llhttp_reset(&parser_);
    failed_ = false;
    error_status_ = Status::bad_request;
    error_reason_ = {};
    tail_len_ = 0;
    start_message();
}

void RequestParser::set_error(Status status, const char* reason) noexcept {
    error_status_ = status;
    error_reason_ = reason;
}

void RequestParser::remember_tail(std::string_view consumed) noexcept {
    constexpr std::size_t kCap = sizeof(tail_);
    if (consumed.size() >= kCap) {
        std::memcpy(tail_, consumed.data() + consumed.size() - kCap, kCap);
        tail_len_ = kCap;
        return;
    }
    const std::size_t keep = std::min<std::size_t>(tail_len_, kCap - consumed.size());
    std::memmove(tail_, tail_ + (tail_len_ - keep), keep);
    std::memcpy(tail_ + keep, consumed.data(), consumed.size());
    tail_len_ = static_cast<std::uint8_t>(keep + consumed.size());
}

FeedResult RequestParser::decide_method(std::string_view rest, std::size_t consumed) noexcept {
    const auto decision = scanner_.decide_method(rest, active_limits_.request_line);
    ViolationInfo info{};
    switch (decision.verdict) {
    case detail::MethodVerdict::pending:
        method_pending_ = true;
        return {consumed + rest.size(), ParseEvent::need_more};
    case detail::MethodVerdict::unknown_token:
        info = violation_info(Violation::unknown_method);
        break;
    case detail::MethodVerdict::garbage:
        info = violation_info(Violation::invalid_method);
        break;
    case detail::MethodVerdict::too_long:
        info = violation_info(Violation::request_line_too_long);
        break;
    }
    method_pending_ = false;
    failed_ = true;
    set_error(info.status, info.reason);
    return {consumed + decision.pos, ParseEvent::error};
}

void RequestParser::flush_open_span() noexcept {
    // llhttp keeps the open span in _span_pos0/_span_cb0 (public members of llhttp_t, which
    // llhttp_execute itself uses the same way at the end of a buffer). The callback is
    // llhttp's wrapper (llhttp__on_url ...), which calls ours with (at, length).
    const auto* start = static_cast<const char*>(parser_._span_pos0);
    const char* end = llhttp_get_error_pos(&parser_);
    if (start == nullptr || parser_._span_cb0 == nullptr || end == nullptr || end <= start) {
        return;
    }
    using SpanCallback = int (*)(llhttp_t*, const char*, const char*);
    const auto callback = reinterpret_cast<SpanCallback>(parser_._span_cb0);
    parser_._span_pos0 = nullptr;
    // Only what our callback records matters: llhttp's error stays as it is.
    (void)callback(&parser_, start, end);
}

FeedResult RequestParser::feed(std::string_view data) noexcept {
    if (failed_) {
        return {0, ParseEvent::error};
    }
    if (data.empty()) {
        return {0, ParseEvent::need_more};
    }
    if (message_done_) {
        start_message();
    }
    if (method_pending_) {
        return decide_method(data, 0);
    }

    const bool in_head = !head_done_;
    feed_begin_ = data.data();
    pause_event_ = ParseEvent::need_more;
    callback_failed_ = false;
    fail_pos_ = static_cast<std::size_t>(-1);
    const llhttp_errno_t err = llhttp_execute(&parser_, data.data(), data.size());
    if (err != HPE_OK && err != HPE_PAUSED && !callback_failed_) {
        flush_open_span();
    }
    feed_begin_ = nullptr;
    // On a pause or an error llhttp stops at error_pos; otherwise it took everything.
    const std::size_t consumed =
        (err == HPE_OK) ? data.size() : offset_in(data, llhttp_get_error_pos(&parser_));

    if (in_head) {
        // While the head is incomplete, every consumed byte is head: execution pauses at
        // the end of the head when a body follows, and at the end of the message otherwise.
        const auto finding = scanner_.scan(data.substr(0, consumed));
        const bool limit_first = callback_failed_ && fail_pos_ < finding.pos;
        if (finding.fault != detail::HeadFault::none && !limit_first) {
            // It comes first in the stream, whatever llhttp found later; a limit crossed
            // before it (fail_pos_) wins instead, as it would in a byte-by-byte feed.
            const ViolationInfo info = violation_info(violation_for(finding.fault));
            set_error(info.status, info.reason);
            failed_ = true;
            return {finding.pos, ParseEvent::error};
        }
    }
    remember_tail(data.substr(0, consumed));

    if (callback_failed_) {
        failed_ = true; // the callback recorded status and reason
        return {consumed, ParseEvent::error};
    }
    switch (err) {
    case HPE_OK:
        return {consumed, ParseEvent::need_more};
    case HPE_PAUSED:
        llhttp_resume(&parser_);
        if (pause_event_ == ParseEvent::message_complete) {
            message_done_ = true;
            in_message_ = false;
            return {consumed, ParseEvent::message_complete};
        }
        if (pause_event_ == ParseEvent::head_complete) {
            return {consumed, ParseEvent::head_complete};
        }
        set_error(Status::internal_error, "unexpected llhttp pause");
        break;
    case HPE_INVALID_METHOD:
        return decide_method(data.substr(consumed), consumed);
    case HPE_INVALID_VERSION:
        // Same code for "HTTP/1.2" (well-formed, refused: 505) and "HTTP/1." (400). A
        // complete "x.y" means the digits were fine, unless llhttp got past the version
        // and failed on what follows it ("HTTP/1.1x").
        if (!version_done_ && version_len_ == 3 && version_[0] >= '0' && version_[0] <= '9' &&
            version_[1] == '.' && version_[2] >= '0' && version_[2] <= '9') {
            const ViolationInfo info = violation_info(Violation::version_not_supported);
            set_error(info.status, info.reason);
        } else {
            set_error(Status::bad_request, llhttp_reason(parser_));
        }
        break;
    default:
        set_error(status_for(err), llhttp_reason(parser_));
        break;
    }
    failed_ = true;
    return {consumed, ParseEvent::error};
}

} // namespace kahttpd::parser
