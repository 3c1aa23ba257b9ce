#pragma once

#include "parser/text.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kahttpd::parser {

/// One header field as received (name case preserved, value with surrounding
/// whitespace removed). The views point into the owning Request's storage.
struct HeaderField {
    std::string_view name;
    std::string_view value;
};

/// A parsed request head. Owns the bytes of method, target and header fields, so it is valid
/// after the network buffer it came from is reused. Cleared (capacity kept, so the steady
/// state does not allocate) when the parser starts the next message.
class Request {
  public:
    /// Method token as sent, e.g. "GET".
    std::string_view method() const noexcept;
    /// llhttp's method number (llhttp_method_t), for fast comparisons.
    std::uint8_t method_id() const noexcept { return method_id_; }
    /// Request target as sent (origin-form path plus query, or "*", or absolute-form).
    std::string_view target() const noexcept;
    std::uint8_t http_major() const noexcept { return http_major_; }
    std::uint8_t http_minor() const noexcept { return http_minor_; }

    /// Header fields in arrival order.
    const std::vector<HeaderField>& headers() const noexcept { return headers_; }
    /// First field with this name (ASCII case-insensitive), if any.
    std::optional<std::string_view> header(std::string_view name) const noexcept {
        if ((names_ & name_bit(name)) == 0) {
            return std::nullopt;
        }
        return find_header(name);
    }
    /// A list-valued field (RFC 9110 §5.3): every line with this name, in order, joined with
    /// ", ". One line is returned as is; several are joined into `joined` (the only case that
    /// allocates).
    std::optional<std::string_view> header_list(std::string_view name, std::string& joined) const {
        if ((names_ & name_bit(name)) == 0) {
            return std::nullopt;
        }
        return find_header_list(name, joined);
    }

    /// RFC 9112 §9.3: HTTP/1.1 persists unless a "close" connection option is present;
    /// HTTP/1.0 persists only with a "keep-alive" connection option.
    bool keep_alive() const noexcept { return keep_alive_; }
    /// True when the client asked for persistence with HTTP/1.0's "keep-alive" option, which
    /// the response must echo.
    bool keep_alive_requested() const noexcept { return keep_alive_requested_; }
    /// True when a body follows the head (Content-Length > 0 or chunked).
    bool has_body() const noexcept { return has_body_; }
    bool chunked() const noexcept { return chunked_; }
    /// Content-Length when present.
    std::optional<std::uint64_t> content_length() const noexcept { return content_length_; }
    /// Number of body bytes seen so far (they are discarded, only counted).
    std::uint64_t body_bytes() const noexcept { return body_bytes_; }
    /// True when "Expect: 100-continue" was sent.
    bool expect_continue() const noexcept { return expect_continue_; }
    /// How many Host fields the head has (RFC 9112 §3.2: exactly one for HTTP/1.1), counted
    /// in the parser's pass over the fields so a handler need not walk them again.
    std::uint32_t host_fields() const noexcept { return host_fields_; }
    /// The value of the first Host field (empty when there is none; host_fields() tells).
    std::string_view host_field() const noexcept;

    /// Forgets the message, keeping allocated capacity.
    void clear() noexcept;
    /// Forgets the message and frees its buffers when they hold more than `keep` bytes (an
    /// idle connection should not keep the capacity of the largest head it ever saw).
    void release(std::size_t keep) noexcept;

    /// Bytes of heap capacity held for reuse (storage and field tables); lets tests check that
    /// the steady state does not grow.
    std::size_t capacity_bytes() const noexcept;

    Request() = default;
    /// Copies and moves re-point the header views at the new object's storage (a moved
    /// std::string may keep its bytes inline, so views into the old one would dangle).
    Request(const Request& other);
    Request(Request&& other) noexcept;
    Request& operator=(const Request& other);
    Request& operator=(Request&& other) noexcept;
    ~Request() = default;

  private:
    friend class RequestParser;
    friend struct ParserCallbacks;

    /// Where one field sits in storage_. Offsets rather than views, because storage_ may
    /// reallocate while the head is still arriving.
    struct FieldSpan {
        std::uint32_t name_off = 0, name_len = 0;
        std::uint32_t value_off = 0, value_len = 0;
    };

    /// A bit for a field name, from its length and first byte (ASCII case ignored): names_
    /// has the bits of every field of the head, so looking up a field the request does not
    /// have, the common case for If-Match, If-None-Match, Range ... on every request, costs
    /// one test instead of a walk over the fields.
    static constexpr std::uint64_t name_bit(std::string_view name) noexcept {
        if (name.empty()) {
            return 1;
        }
        // The multiplier keeps the fields looked up on every request (If-Match,
        // If-None-Match, If-Modified-Since, If-Unmodified-Since, Range) apart from the fields
        // browsers and proxies usually send (Host, User-Agent, Accept*, Cookie, Sec-Fetch-*,
        // X-Forwarded-* ...): for those heads the look-ups end here. A shared bit only costs
        // the walk.
        const auto first = static_cast<unsigned char>(text::to_lower(name.front()));
        return std::uint64_t{1} << ((name.size() * 11 + first) & 63);
    }

    /// header() and header_list() once the name's bit is present.
    std::optional<std::string_view> find_header(std::string_view name) const noexcept;
    std::optional<std::string_view> find_header_list(std::string_view name,
                                                     std::string& joined) const;

    /// Builds headers_ from spans_; called once the head is complete, after which storage_
    /// no longer grows for this message. May throw std::bad_alloc.
    void publish_headers();
    /// Re-points headers_ at storage_ (same spans, new buffer). No allocation.
    void repoint_headers() noexcept;

    std::string storage_;              // method, target and header bytes, in arrival order
    std::vector<FieldSpan> spans_;     // one per header field, filled while parsing
    std::vector<HeaderField> headers_; // views into storage_, built by publish_headers()
    std::uint32_t method_off_ = 0, method_len_ = 0;
    std::uint32_t target_off_ = 0, target_len_ = 0;
    std::uint8_t method_id_ = 0;
    std::uint8_t http_major_ = 0, http_minor_ = 0;
    bool keep_alive_ = false;
    bool keep_alive_requested_ = false;
    bool has_body_ = false;
    bool chunked_ = false;
    bool expect_continue_ = false;
    std::uint32_t host_fields_ = 0;
    std::uint32_t host_index_ = 0; // the first Host field's index in spans_ (host_fields_ > 0)
    std::uint64_t names_ = 0;      // name_bit() of every field in headers_
    std::optional<std::uint64_t> content_length_;
    std::uint64_t body_bytes_ = 0;
};

} // namespace kahttpd::parser
