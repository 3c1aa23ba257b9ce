#pragma once

#include "parser/detail/head_scanner.hpp"
#include "parser/request.hpp"
#include "parser/status.hpp"

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kahttpd::parser {

/// Limits enforced while parsing (Apache's LimitRequest* directives).
struct ParseLimits {
    std::uint32_t request_line = 8190; ///< bytes of "METHOD SP target SP HTTP/x.y" (no CRLF)
    std::uint32_t field_size = 8190;   ///< bytes of one "name: value" line (no CRLF)
    std::uint32_t fields = 100;        ///< number of header fields
    std::uint64_t body = 1u << 20;     ///< body bytes read and discarded before 413
};

/// What feed() stopped at.
enum class ParseEvent : std::uint8_t {
    need_more,        ///< all input consumed, the message is not finished
    head_complete,    ///< the head is complete and a body follows; request() is ready
    message_complete, ///< the message (head and any body) is complete; request() is ready
    error,            ///< parse failure; see error_status() and error_reason()
};

struct FeedResult {
    std::size_t consumed = 0; ///< bytes of the input used; the rest belongs to later calls
    ParseEvent event = ParseEvent::need_more;
};

/// Incremental HTTP/1.1 request parser over llhttp in strict mode. No I/O.
///
/// Contract: feed() consumes input up to the end of at most one message and stops there
/// (llhttp is paused in on_message_complete), so pipelined requests are handed out one by
/// one. It also stops once after the head when a body follows. Any split of the same bytes
/// across feed() calls gives the same events and the same Request. The first feed() after
/// message_complete starts the next message and clears request(). After `error` the parser
/// stays in error until reset(). Single-threaded; not copyable or movable (llhttp keeps a
/// pointer back to this object).
class RequestParser {
  public:
    explicit RequestParser(const ParseLimits& limits = {});
    RequestParser(const RequestParser&) = delete;
    RequestParser& operator=(const RequestParser&) = delete;

    FeedResult feed(std::string_view data) noexcept;

    /// The request of the current message; valid after head_complete/message_complete.
    const Request& request() const noexcept { return request_; }

    /// True when bytes of a message have been consumed but the message is not complete
    /// (used to tell an idle connection from one in the middle of a request).
    bool in_message() const noexcept { return in_message_; }

    /// Status for the last error (400, 413, 414, 431, 501, 505; 500 only if memory ran
    /// out), and a short reason for logs. The reason has static storage and is
    /// NUL-terminated, so `error_reason().data()` may be passed to printf-style logging.
    Status error_status() const noexcept { return error_status_; }
    std::string_view error_reason() const noexcept { return error_reason_; }

    /// Between messages only (not in_message()): frees the request's buffers when they hold
    /// more than `keep` bytes. request() is empty afterwards.
    void release_memory(std::size_t keep) noexcept {
        if (!in_message_) {
            request_.release(keep);
        }
    }

    /// Back to the start state, keeping capacity.
    void reset() noexcept;

    /// Replaces the body limit of the message being parsed (after head_complete: a
    /// per-directory LimitRequestBody known only once the target is resolved). 0 = unlimited.
    void set_message_body_limit(std::uint64_t limit) noexcept { active_limits_.body = limit; }

  private:
    // Trampolines (in the .cpp) reach these through parser_.data.
    friend struct ParserCallbacks;

    /// Forgets the previous message and arms the per-message state.
    void start_message() noexcept;
    /// Records an error; the reason must be a string literal (see error_reason()).
    void set_error(Status status, const char* reason) noexcept;
    /// Remembers the last bytes consumed, for on_version's look-behind.
    void remember_tail(std::string_view consumed) noexcept;
    /// llhttp gives a span (method, target, version, field name or value, body) to its
    /// callback when the span ends or the buffer does, but not when it stops at an error inside
    /// the span. This gives the bytes before the error to the callback, as a buffer ending
    /// there would have, so a limit those bytes already passed (414, 431, 413) is reported
    /// instead of the later syntax error: the same status whatever the split of the input.
    void flush_open_span() noexcept;
    /// Continues an unknown-method verdict on `rest`; `consumed` bytes precede it.
    FeedResult decide_method(std::string_view rest, std::size_t consumed) noexcept;

    llhttp_t parser_;
    ParseLimits limits_;
    ParseLimits active_limits_; // limits_ as of the start of the current message
    Request request_;
    Status error_status_ = Status::bad_request;
    std::string_view error_reason_;
    bool in_message_ = false;
    bool message_done_ = false;

    detail::HeadScanner scanner_;
    const char* feed_begin_ = nullptr; // the buffer llhttp_execute is working on
    char tail_[5] = {};                // last bytes consumed before feed_begin_, oldest first
    std::uint8_t tail_len_ = 0;
    char version_[4] = {}; // raw "x.y" as sent, to tell 505 from 400
    std::uint8_t version_len_ = 0;
    ParseEvent pause_event_ = ParseEvent::need_more; // why a callback returned HPE_PAUSED
    std::uint32_t field_count_ = 0;                  // fields (and trailer fields) so far
    std::uint32_t name_len_ = 0, value_len_ = 0;     // of the field being received
    bool in_name_ = false;      // between the first on_header_field and its _complete
    bool head_done_ = false;    // on_headers_complete has run for this message
    bool version_done_ = false; // on_version_complete has run for this message
    bool protocol_checked_ = false;
    bool callback_failed_ = false; // a callback refused the input during this feed
    // Where in the fed buffer a limit was crossed (the first byte over it), when a span
    // callback refused for a limit; npos otherwise. A head fault the scanner found before
    // this byte comes first in the stream; one found after it does not.
    std::size_t fail_pos_ = static_cast<std::size_t>(-1);
    bool failed_ = false;          // in error until reset()
    bool method_pending_ = false;  // llhttp refused the method; waiting for the token's end
};

/// Maps an llhttp error (and, for HPE_USER, the limit that was hit) to the response status.
/// One table, tested exhaustively.
Status status_for(llhttp_errno_t err) noexcept;

} // namespace kahttpd::parser
