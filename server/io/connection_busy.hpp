#pragma once

#include "parser/request_parser.hpp"
#include "server/http/response.hpp"
#include "server/obs/status_page.hpp"
#include "server/static/static_handler.hpp"

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

namespace kahttpd::server {

/// The parts of a connection needed only while it is doing something (a request arriving, a
/// response leaving, the lingering close): the parser, libuv's write and shutdown requests, the
/// output and stash buffers, the handler's Response and what it pins, the streamed-body queue
/// and the per-request bookkeeping. An idle
/// keep-alive connection gives them back to its worker's BusyPool, so it holds only its
/// Connection object. Members keep the names they had in Connection.
struct ConnectionBusy {
    /// A piece of a streamed body: `text` (a multipart part header, or the closing
    /// delimiter), then `length` bytes of the file from `offset`.
    struct Segment {
        std::string text;
        std::uint64_t offset = 0;
        std::uint64_t length = 0;
    };
    explicit ConnectionBusy(const parser::ParseLimits& limits) : parser(limits) {}
    ConnectionBusy(const ConnectionBusy&) = delete;
    ConnectionBusy& operator=(const ConnectionBusy&) = delete;
    ~ConnectionBusy() {
        if (file_fd_ >= 0) {
            ::close(file_fd_);
        }
    }

    /// Back to the state of a fresh object, keeping buffers up to `keep` bytes.
    void reset(std::size_t keep) noexcept {
        parser.release_memory(keep);
        parser.reset();
        // The response is reset for every request; only its page storage may have grown.
        for (std::string* s : {&out_, &stash_, &log_pending_, &response.text_storage, &tls_out_}) {
            s->clear();
            if (s->capacity() > keep) {
                std::string().swap(*s);
            }
        }
        out_sent_ = 0;
        mem_body_ = {};
        scope.reset(); // an idle connection pins no cache entry
        if (file_fd_ >= 0) {
            ::close(file_fd_);
            file_fd_ = -1;
        }
        sendfile_ = false;
        corked_ = false;
        segments_.clear();
        segment_ = 0;
        linger_bytes_ = 0;
        last_status_ = 0;
        last_body_bytes_ = 0;
        queued_bytes_ = 0;
        keepalive_ms_ = 0;
        head_bytes_ = 0;
        body_start_ms_ = 0;
        request_start_us_ = 0;
        has_useragent_ = false;
        host_ = nullptr;
    }

    parser::RequestParser parser;
    /// The vhost chosen from the current request, if any (per request: an idle connection
    /// holds none).
    const HostContext* host_ = nullptr;
    uv_write_t write_req;
    uv_shutdown_t shutdown_req;
    std::string out_; // responses not yet written; out_[out_sent_..] is unsent
    std::size_t out_sent_ = 0;
    std::string tls_out_; // TLS: records being written (uv_write owns them until on_write)
    std::string stash_;             // input received while parsing was paused
    std::string log_pending_;       // access-log lines not yet completely sent
    Response response;              // the handler's answer to the current request
    ResponseScope scope;            // what it points into (cache entry, merged settings)
    StatusQuery status_query;       // the status page being gathered (Phase::awaiting)
    bool status_ready = false;      // ... its report has arrived, in `response`
    bool status_expect = false;     // ... and its request waits for "100 Continue"
    /// A body written straight from the cache entry behind out_ (Connection::queue_file_body);
    /// `scope` pins the entry. Parsing waits until it is sent.
    std::string_view mem_body_;
    int file_fd_ = -1;              // the file whose body streams after out_ (large bodies)
    bool sendfile_ = false;         // ... with sendfile(2) (EnableSendfile), else read/write
    bool corked_ = false;           // TCP_CORK is on for a streamed file (Connection::set_cork)
    std::vector<Segment> segments_; // what to send from it, in order
    std::size_t segment_ = 0;       // the one being sent
    std::uint64_t linger_bytes_ = 0;
    unsigned last_status_ = 0;           // status of the last response queued (access log)
    std::uint64_t last_body_bytes_ = 0;  // its body length
    std::uint64_t queued_bytes_ = 0;     // heads and bodies queued since the busy state was taken
    std::uint64_t keepalive_ms_ = 0;     // the idle timeout its Keep-Alive field announced
    std::uint64_t head_bytes_ = 0;       // bytes of the request head so far (MinRate)
    std::uint32_t body_start_ms_ = 0;    // when its body began (low 32 bits of the ms clock)
    std::uint64_t request_start_us_ = 0; // first byte of the current request (0 = none yet)
    IpBytes useragent_{};                // RemoteIPHeader's client for the current request
    bool has_useragent_ = false;         // ... when one was believed
};

/// ConnectionBusy objects recycled within one worker thread, so the keep-alive path does not
/// allocate: at most kMaxPooled are kept, each with buffers of at most kKeepBytes. All objects
/// of one pool share the parse limits of the worker's configuration (a reload starts new
/// threads, hence new pools).
class BusyPool {
  public:
    static constexpr std::size_t kMaxPooled = 256;
    static constexpr std::size_t kKeepBytes = 16 * 1024;

    static BusyPool& for_this_thread() noexcept {
        static thread_local BusyPool pool;
        return pool;
    }

    std::unique_ptr<ConnectionBusy> take(const parser::ParseLimits& limits) {
        if (free_.empty()) {
            return std::make_unique<ConnectionBusy>(limits);
        }
        std::unique_ptr<ConnectionBusy> b = std::move(free_.back());
        free_.pop_back();
        return b;
    }

    /// Takes back an object whose parser is between messages and whose output is all sent.
    void give(std::unique_ptr<ConnectionBusy> b) noexcept {
        if (free_.size() >= kMaxPooled) {
            return; // freed
        }
        b->reset(kKeepBytes);
        free_.push_back(std::move(b));
    }

    std::size_t size() const noexcept { return free_.size(); }

  private:
    BusyPool() { free_.reserve(kMaxPooled); }
    std::vector<std::unique_ptr<ConnectionBusy>> free_;
};

} // namespace kahttpd::server
