#pragma once

#include "conf/sections.hpp"
#include "parser/status.hpp"
#include "server/http/byte_ranges.hpp"
#include "server/http/close_reason.hpp"

#include <array>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace kahttpd::server {

/// What a handler answers, as a value: the transport (io/Connection) serialises its head with
/// append_head() and streams its body. A handler never touches a socket.
///
/// The views point into the configuration, into what the handler's ResponseScope keeps alive
/// (a cached file entry, merged settings) or into the storage strings below; they stay valid
/// until the next request (a body written from the cache entry is still being sent after the
/// response was queued). One Response lives in each busy connection and
/// is reset() for every request, so the strings keep their capacity and the cached keep-alive
/// path allocates nothing (tests/integration/test_file_cache.py counts it).
/// Thread: its connection's worker.
struct Response {
    enum class Body : std::uint8_t {
        none, ///< no body (Content-Length still says content_length, e.g. a HEAD-like 301)
        text, ///< `text`, content_length bytes
        file, ///< a file: `memory` (its bytes, held by the cache) or `fd`, whole or `ranges`
    };

    parser::Status status = parser::Status::ok;
    std::string_view content_type; ///< empty: no Content-Type field
    /// Content-Length (not sent on a 304). For a file: the whole representation, the one range
    /// or the multipart body.
    std::uint64_t content_length = 0;
    /// Header lines after Content-Length, each "Name: value\r\n".
    std::string_view fields;
    /// A head prepared once for this exact answer (the open-file cache's 200 block: status line
    /// to `fields`, 29 blanks for the Date at `prepared_date_at`), or empty.
    std::string_view prepared_head;
    std::size_t prepared_date_at = 0;
    /// mod_expires in a prepared head: the Expires date (29 characters) to write at this
    /// offset, as the Date is; 0 = none.
    std::size_t prepared_expires_at = 0;
    std::array<char, 29> prepared_expires{};
    /// The Date in seconds when the handler fixed it (a file's answer: its Last-Modified is
    /// capped at this very second, and Expires counts from it); 0: the clock when the head is
    /// queued.
    std::time_t date = 0;

    Body body = Body::none;
    std::string_view text; ///< Body::text
    // Body::file
    std::string_view memory; ///< the file's bytes when the cache holds them, else empty
    int fd = -1;             ///< else its descriptor (borrowed: the scope keeps it open)
    std::uint64_t file_size = 0;
    std::string_view boundary;  ///< multipart/byteranges boundary (several ranges)
    std::string_view part_type; ///< Content-Type of each part

    /// An error answer (4xx/5xx from the handler's error path): a client waiting for
    /// "100 Continue" gets this instead, and the connection closes after it (RFC 9110 §10.1.1).
    bool error = false;
    /// The handler asks the connection to close after this response (framing lost, a 500 that
    /// should give a descriptor back). The connection owns the final decision and its reason.
    bool close = false;
    CloseReason close_reason = CloseReason::parse_error;
    /// The settings the answer was made with: their Header rules apply to the head, their
    /// EnableSendfile to the body. Never null once a handler has answered.
    const conf::Effective* settings = nullptr;

    std::vector<ByteRange> ranges; ///< Body::file: empty: the whole file; one range; several:
                                   ///< multipart
    // Storage for what is built per request (capacity kept across requests).
    std::string text_storage;
    std::string fields_storage;
    std::string type_storage;
    std::string boundary_storage;

    /// Empties the response for the next request, keeping the storage's capacity.
    void reset() noexcept {
        status = parser::Status::ok;
        content_type = {};
        content_length = 0;
        fields = {};
        prepared_head = {};
        prepared_date_at = 0;
        prepared_expires_at = 0;
        date = 0;
        body = Body::none;
        text = {};
        memory = {};
        fd = -1;
        file_size = 0;
        ranges.clear();
        boundary = {};
        part_type = {};
        error = false;
        close = false;
        close_reason = CloseReason::parse_error;
        settings = nullptr;
        text_storage.clear();
        fields_storage.clear();
        type_storage.clear();
        boundary_storage.clear();
    }

    /// Sets a text body held in text_storage (which the caller has filled).
    void set_text_body() noexcept {
        body = Body::text;
        text = text_storage;
        content_length = text_storage.size();
    }

    /// Bytes of the file body to send (the ranges, or the whole file); 0 for other bodies.
    std::uint64_t file_bytes() const noexcept {
        if (body != Body::file) {
            return 0;
        }
        if (ranges.empty()) {
            return file_size;
        }
        std::uint64_t n = 0;
        for (const ByteRange& r : ranges) {
            n += r.last - r.first + 1;
        }
        return n;
    }
};

} // namespace kahttpd::server
