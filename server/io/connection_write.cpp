// Connection, second half: writing and streaming, the end of a response (keep-alive or the
// lingering close), deadlines, and what the status page sees. The first half (connection.cpp)
// reads, frames and answers.

#include "server/io/connection.hpp"
#include "server/io/io_errors.hpp"
#include "server/io/worker.hpp"
#include "server/obs/log.hpp"

#include <algorithm>
#include <cerrno>

#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <unistd.h>

namespace kahttpd::server {

using parser::Status;

namespace {

constexpr std::size_t kFileChunk = 256 * 1024;
/// With sendfile: when the socket is full, this much of the file goes through uv_write (read
/// into user space) so that libuv tells when the socket is writable again; sendfile goes on
/// from there. Small, because these bytes are copied.
constexpr std::size_t kSendfileWaitChunk = 16 * 1024;
/// After the last response of a closing connection: how long input is read and discarded
/// before the socket is closed, so the client's unread bytes do not make the kernel answer
/// with RST and destroy the response (RFC 9112 §9.6).
constexpr std::uint64_t kLingerMs = 2000;
/// An evicted slow head lingers this long only: its slot went to a new connection, and the
/// budget's headroom must cover the descriptors of those still lingering.
constexpr std::uint64_t kEvictLingerMs = 200;
/// Output this small (heads and bodies since the connection was last idle) leaves in one
/// flight on any path a client would use (three full-size segments): when the client asked
/// for the close, no SIOCOUTQ is asked before closing (nothing_more_to_read()).
constexpr std::uint64_t kOneFlightBytes = 4 * 1024;

} // namespace

// ---- writing ---------------------------------------------------------------------------------

bool Connection::output_pending() const noexcept {
    return write_in_flight_ ||
           (busy_ && (busy_->out_sent_ < busy_->out_.size() || !busy_->mem_body_.empty() ||
                      busy_->file_fd_ >= 0));
}

/// Refills the empty output from the streamed body: the segment's text, then its file bytes in
/// chunks of kFileChunk (or straight to the socket with sendfile). False when the connection
/// closed.
bool Connection::refill_from_file() noexcept {
    ConnectionBusy& b = busy();
    while (b.segment_ < b.segments_.size() && b.segments_[b.segment_].text.empty() &&
           b.segments_[b.segment_].length == 0) {
        ++b.segment_;
    }
    if (b.segment_ == b.segments_.size()) {
        ::close(b.file_fd_);
        b.file_fd_ = -1;
        if (b.corked_) {
            set_cork(false); // the last partial segment leaves now
        }
        b.segments_.clear();
        b.segment_ = 0;
        return true;
    }
    ConnectionBusy::Segment& seg = b.segments_[b.segment_];
    if (!seg.text.empty()) {
        // Copied, not swapped: out_ keeps its chunk-sized buffer for the next read and the
        // segment's small string is freed now, not at the end of the response.
        b.out_.assign(seg.text);
        std::string().swap(seg.text);
        return true;
    }
    std::size_t chunk = kFileChunk;
    if (b.sendfile_) {
        // From the page cache to the socket, never through user space. Only here, with nothing
        // of out_ unsent and no uv_write in flight, so the bytes keep their order. The socket
        // is non-blocking: when it is full, the next few bytes go through uv_write instead,
        // and its completion (the socket is writable again) brings flush() back here.
        auto offset = static_cast<off_t>(seg.offset);
        const ssize_t n =
            ::sendfile(socket_fd(), b.file_fd_, &offset,
                       static_cast<std::size_t>(std::min<std::uint64_t>(seg.length, 1u << 30)));
        if (n > 0) {
            seg.offset += static_cast<std::uint64_t>(n);
            seg.length -= static_cast<std::uint64_t>(n);
            return true;
        }
        if (n < 0 && errno == EINTR) {
            return true;
        }
        if (n < 0 && close_reason_for(-errno) == CloseReason::client_closed) {
            close(CloseReason::client_closed);
            return false;
        }
        if (n < 0 && errno != EAGAIN) {
            // A file sendfile cannot read from: read/write for the rest of the body.
            b.sendfile_ = false;
            return true;
        }
        // EAGAIN, or 0 (the file shrank: the read below finds it).
        chunk = kSendfileWaitChunk;
    }
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(seg.length, chunk));
    b.out_.resize(want);
    const ssize_t n = ::pread(b.file_fd_, b.out_.data(), want, static_cast<off_t>(seg.offset));
    if (n <= 0) {
        KAHTTPD_LOG_TO(log_host().error_log, error,
                       "conn=%llu read of file failed while sending response",
                       static_cast<unsigned long long>(id()));
        close(CloseReason::io_error);
        return false;
    }
    b.out_.resize(static_cast<std::size_t>(n));
    seg.offset += static_cast<std::uint64_t>(n);
    seg.length -= static_cast<std::uint64_t>(n);
    return true;
}

int Connection::socket_fd() const noexcept {
    uv_os_fd_t fd = -1;
    return uv_fileno(reinterpret_cast<const uv_handle_t*>(&handle_), &fd) == 0 ? fd : -1;
}

int Connection::unread_bytes() const noexcept {
    int unread = 0;
    const int fd = socket_fd();
    return fd >= 0 && ::ioctl(fd, FIONREAD, &unread) == 0 ? unread : -1;
}

void Connection::set_cork(bool on) noexcept {
    const int v = on ? 1 : 0;
    if (::setsockopt(socket_fd(), IPPROTO_TCP, TCP_CORK, &v, sizeof v) == 0) {
        busy().corked_ = on;
    }
}

bool Connection::next_out_or_finish() noexcept {
    ConnectionBusy& b = busy();
    b.out_.clear();
    b.out_sent_ = 0;
    if (b.file_fd_ < 0) {
        if (!b.log_pending_.empty()) {
            worker().commit_access_log(b.log_pending_, false); // all sent: + or -
        }
        return false;
    }
    return refill_from_file();
}

void Connection::flush() noexcept {
    if (tls_) {
        flush_tls(); // records instead of plaintext (connection_tls.cpp)
        return;
    }
    ConnectionBusy& b = busy();
    auto* stream = reinterpret_cast<uv_stream_t*>(&handle_);
    while (!write_in_flight_ && phase_ != Phase::closing) {
        if (b.out_sent_ == b.out_.size() && b.mem_body_.empty()) {
            if (!next_out_or_finish()) {
                return;
            }
            continue;
        }
        // The unsent output, then the body written from the cache entry (if any): one writev.
        uv_buf_t bufs[2];
        unsigned nbufs = 0;
        if (b.out_sent_ < b.out_.size()) {
            bufs[nbufs++] = uv_buf_init(b.out_.data() + b.out_sent_,
                                        static_cast<unsigned>(b.out_.size() - b.out_sent_));
        }
        if (!b.mem_body_.empty()) {
            // libuv's buffers are not const; the bytes are only read.
            bufs[nbufs++] = uv_buf_init(const_cast<char*>(b.mem_body_.data()),
                                        static_cast<unsigned>(b.mem_body_.size()));
        }
        const int n = uv_try_write(stream, bufs, nbufs);
        if (n > 0) {
            const std::size_t from_out =
                std::min(static_cast<std::size_t>(n), b.out_.size() - b.out_sent_);
            b.out_sent_ += from_out;
            b.mem_body_.remove_prefix(static_cast<std::size_t>(n) - from_out);
            continue;
        }
        if (n != UV_EAGAIN && n != 0) {
            close(close_reason_for(n));
            return;
        }
        // The socket is full: hand the rest to libuv, which waits for writability. out_ must
        // not change until on_write.
        const int rc = uv_write(&b.write_req, stream, bufs, nbufs, &Connection::on_write_cb);
        if (rc != 0) {
            close(CloseReason::io_error);
            return;
        }
        write_in_flight_ = true;
        arm(Deadline::send, static_cast<std::uint64_t>(worker().shared().config->timeout.count()));
    }
}

void Connection::on_write_cb(uv_write_t* req, int status) noexcept {
    static_cast<Connection*>(req->data)->on_write(status);
}

void Connection::on_write(int status) noexcept {
    write_in_flight_ = false;
    if (status == UV_ECANCELED || phase_ == Phase::closing) {
        return; // closing: release only
    }
    if (status < 0) {
        close(close_reason_for(status));
        return;
    }
    if (!tls_) {
        busy().out_sent_ = busy().out_.size(); // (TLS counts plaintext as sent when encrypted)
        busy().mem_body_ = {};
    }
    pump();
}

/// Everything queued is written (h2o's on_send_complete): close, or go back to reading.
void Connection::on_send_complete() noexcept {
    if (output_pending() || phase_ == Phase::closing || phase_ == Phase::lingering) {
        return;
    }
    if (phase_ == Phase::handshake) {
        // The server's handshake flight is out: back to waiting for the client's.
        start_read();
        arm_handshake_window();
        return;
    }
    if (close_after_) {
        if (close_reason_ == CloseReason::client_requested && nothing_more_to_read()) {
            // The client asked for the close and sent nothing after its request: no byte can
            // arrive to make the kernel answer with a reset, so the lingering close (a
            // shutdown, a wait for the client's EOF, one more wake-up) buys nothing. The FIN
            // follows the response out. (nginx's lingering_close behaves the same way.)
            close(close_reason_);
            return;
        }
        set_lingering_close();
        return;
    }
    start_read();
    update_deadline();
}

/// Safe to close without lingering: the request was read whole, nothing is stashed or was
/// dropped after it (a pipelining client), nothing waits unread in the socket, and no response
/// may still be unsent. The common case is decided from the connection's own state, as nginx
/// decides it (bytes beyond the request, the read event's readiness): reading is on and the
/// last read was short, and at most kOneFlightBytes were queued since the connection was last
/// idle. Otherwise the kernel is asked: FIONREAD when reading was stopped (backpressure) or the
/// last read filled the buffer, SIOCOUTQ after more output. What is left is a client that sends
/// more after asking for the close (RFC 9112 §9.6 forbids it) in the moment between the last
/// read and the close: its bytes meet a closed socket, whose reset drops what the kernel had
/// not sent yet, at most one small flight.
bool Connection::nothing_more_to_read() const noexcept {
    if (in_message() || dropped_input_ || (busy_ && !busy_->stash_.empty())) {
        return false;
    }
    const bool drained = reading_ && !read_full_;
    const bool sent = !busy_ || busy_->queued_bytes_ <= kOneFlightBytes;
    if (drained && sent) {
        return true;
    }
    int unacked = 0;
    return (drained || unread_bytes() == 0) &&
           (sent || (::ioctl(socket_fd(), SIOCOUTQ, &unacked) == 0 && unacked == 0));
}

/// nginx's ngx_http_set_lingering_close: shut the write side (a FIN after the last response)
/// and read and discard input until the client's EOF, kLingerMs, or kLingerMaxBytes.
void Connection::set_lingering_close() noexcept {
    phase_ = Phase::lingering;
    busy().stash_.clear();
    if (tls_) {
        send_close_notify(); // before the FIN, as TLS asks (RFC 8446 §6.1)
    }
    const int rc = uv_shutdown(&busy().shutdown_req, reinterpret_cast<uv_stream_t*>(&handle_),
                               &Connection::on_shutdown_cb);
    if (rc != 0) {
        close(close_reason_);
        return;
    }
    start_read();
    arm(Deadline::linger, kLingerMs);
}

void Connection::on_shutdown_cb(uv_shutdown_t* req, int status) noexcept {
    auto* self = static_cast<Connection*>(req->data);
    if (status < 0 && status != UV_ECANCELED && self->phase_ != Phase::closing) {
        self->close(self->close_reason_);
    }
}

/// nginx's ngx_http_set_keepalive: between requests, holding only the Connection itself (its
/// busy state back in the worker's pool) and the idle deadline.
void Connection::set_keepalive() noexcept {
    phase_ = Phase::idle;
    if (tls_) {
        tls_->release_idle_buffers();
    }
    // What the last Keep-Alive field said (0: no response since the busy state was taken).
    const std::uint64_t announced = busy_ ? busy_->keepalive_ms_ : 0;
    release_busy();
    if (deadline_ == Deadline::idle) {
        // Already idle: bytes that start no request (llhttp skips empty lines) must not
        // extend the keep-alive timeout.
        return;
    }
    if (worker().draining()) {
        // The response just sent said keep-alive: a request the client sends right after it
        // still gets an answer (with "Connection: close") within the drain floor.
        arm(Deadline::drain, kDrainIdleFloorMs);
        return;
    }
    // Least recently active first for make_room(): the idle connections line up in the order
    // they went idle.
    since_ms_ = now32();
    worker().touch(*this);
    arm(Deadline::idle, announced != 0 ? announced : worker().idle_timeout_ms());
}

bool Connection::make_room(std::uint64_t now_ms, std::uint64_t floor_ms, bool slow_heads) noexcept {
    if (static_cast<std::uint32_t>(now_ms) - since_ms_ < floor_ms) {
        return false;
    }
    if (phase_ == Phase::handshake) {
        // A TLS handshake that has not finished within the floor: nothing of HTTP is in
        // flight, so it goes first, like an idle keep-alive connection (a slowloris of
        // handshakes costs the server a slot each otherwise).
        close(CloseReason::evicted);
        return true;
    }
    if (!slow_heads) {
        if (phase_ != Phase::idle) {
            return false;
        }
        // Its next request may already be in the socket buffer: then it is not idle, and
        // closing it would answer that request with a reset.
        if (unread_bytes() != 0) {
            return false;
        }
        close(CloseReason::reaped);
        return true;
    }
    if (phase_ == Phase::proxy) {
        // A PROXY header that has not arrived: a stalled handshake, closed without a word.
        close(CloseReason::evicted);
        return true;
    }
    if (phase_ != Phase::head || output_pending()) {
        return false;
    }
    char p[80];
    // The head being read names no vhost yet (host() may still be the previous request's).
    KAHTTPD_LOG_TO(default_host().error_log, info,
                   "conn=%llu client=%s evicted for a new connection while reading request head",
                   static_cast<unsigned long long>(id()), peer(p).data());
    time_out_head(CloseReason::evicted, kEvictLingerMs);
    return true;
}

/// The request head did not come in time (or its slot is needed): a 408 as Apache sends when
/// part of a head arrived, then the lingering close (`linger_ms`); a plain close otherwise.
void Connection::time_out_head(CloseReason reason, std::uint64_t linger_ms) noexcept {
    if (!in_message() || output_pending()) {
        close(reason);
        return;
    }
    // Nothing of the previous request applies to this answer.
    head_ = false;
    if (busy_) {
        busy_->host_ = nullptr;
    }
    close_after_framing_lost(reason);
    respond_error(Status::request_timeout);
    log_access(false); // Apache's '"-" 408' line: no request line was understood
    flush();
    if (phase_ != Phase::closing && !write_in_flight_) {
        set_lingering_close();
        if (phase_ == Phase::lingering && linger_ms < kLingerMs) {
            arm(Deadline::linger, linger_ms);
        }
    }
}

std::uint32_t Connection::now32() const noexcept {
    return static_cast<std::uint32_t>(uv_hrtime() / 1000000);
}

// ---- deadlines -------------------------------------------------------------------------------

void Connection::arm(Deadline kind, std::uint64_t delay_ms) noexcept {
    deadline_ = kind;
    worker().schedule(timer(), delay_ms);
}

/// Picks the deadline that fits what the connection is waiting for now.
void Connection::update_deadline() noexcept {
    if (in_message()) {
        const conf::Config& cfg = *worker().shared().config;
        const ConnectionBusy& b = *busy_;
        if (phase_ == Phase::body || phase_ == Phase::answered) {
            // Receiving a body: RequestReadTimeout body= for the whole body, extended by its
            // MinRate (Apache's mod_reqtimeout). Disabled, the core Timeout applies between
            // reads.
            if (cfg.request_read_timeout_body.count() == 0) {
                arm(Deadline::body, body_timeout_ms());
            } else {
                arm_read_window(Deadline::body, now32() - b.body_start_ms_,
                                cfg.request_read_timeout_body, cfg.request_read_timeout_body_max,
                                cfg.request_read_timeout_body_min_rate,
                                b.parser.request().body_bytes());
            }
        } else if (cfg.request_read_timeout_header.count() == 0) {
            if (deadline_ != Deadline::header) {
                arm(Deadline::header, header_timeout_ms());
            }
        } else if (deadline_ != Deadline::header || cfg.request_read_timeout_header_min_rate != 0) {
            // The head is arriving: RequestReadTimeout header= counted from when the wait for
            // it began (accept, or the end of the idle gap), extended by 1 s per MinRate bytes
            // up to its maximum. A trickle below the rate cannot hold the connection open.
            arm_read_window(Deadline::header, now32() - since_ms_, cfg.request_read_timeout_header,
                            cfg.request_read_timeout_header_max,
                            cfg.request_read_timeout_header_min_rate, b.head_bytes_);
        }
        return;
    }
    if (requests_ == 0) {
        release_busy(); // (only empty lines so far)
        return;         // the first request's header deadline, armed at accept, still runs
    }
    set_keepalive();
}

/// Arms `kind` for a read window that began `elapsed_ms` ago: `initial`, plus one second per
/// `rate` bytes of the `bytes` received (0 = no extension), at most `max` (0 = no cap).
void Connection::arm_read_window(Deadline kind, std::uint32_t elapsed_ms,
                                 std::chrono::milliseconds initial, std::chrono::milliseconds max,
                                 std::uint32_t rate, std::uint64_t bytes) noexcept {
    auto allowed = static_cast<std::uint64_t>(initial.count());
    if (rate != 0) {
        allowed += bytes * 1000 / rate;
    }
    if (max.count() > 0) {
        allowed = std::min(allowed, static_cast<std::uint64_t>(max.count()));
    }
    arm(kind, allowed > elapsed_ms ? allowed - elapsed_ms : 0);
}

/// RequestReadTimeout header= and body=; 0 turns them off, and then the core Timeout still
/// bounds the wait (as in Apache without mod_reqtimeout), so no connection is ever left
/// without a deadline.
std::uint64_t Connection::header_timeout_ms() const noexcept {
    const conf::Config& cfg = *worker().shared().config;
    const auto ms = cfg.request_read_timeout_header.count();
    return static_cast<std::uint64_t>(ms > 0 ? ms : cfg.timeout.count());
}

/// How long a PROXY protocol header may take: RequestReadTimeout handshake= when set (Apache
/// counts the PROXY header in the handshake), else the header window.
std::uint64_t Connection::handshake_timeout_ms() const noexcept {
    const auto ms = worker().shared().config->request_read_timeout_handshake.count();
    return ms > 0 ? static_cast<std::uint64_t>(ms) : header_timeout_ms();
}

std::uint64_t Connection::body_timeout_ms() const noexcept {
    const conf::Config& cfg = *worker().shared().config;
    const auto ms = cfg.request_read_timeout_body.count();
    return static_cast<std::uint64_t>(ms > 0 ? ms : cfg.timeout.count());
}

void Connection::on_timer_cb(TimerEntry& entry) noexcept {
    static_cast<Connection&>(entry).on_timer(); // (TimerEntry is a base of Connection)
}

void Connection::on_timer() noexcept {
    char p[80];
    switch (deadline_) {
    case Deadline::none:
        return;
    case Deadline::idle:
        close(CloseReason::idle_timeout);
        return;
    case Deadline::header:
        if (phase_ == Phase::queued) {
            KAHTTPD_LOG(info,
                        "conn=%llu client=%s closed: no slot came free within the header "
                        "window",
                        static_cast<unsigned long long>(id()), peer(p).data());
            close(CloseReason::overload);
            return;
        }
        if (phase_ == Phase::proxy) {
            KAHTTPD_LOG(info,
                        "conn=%llu client=%s closed: no PROXY protocol header in time while "
                        "reading the PROXY protocol header",
                        static_cast<unsigned long long>(id()), peer(p).data());
            close(CloseReason::proxy_header);
            return;
        }
        KAHTTPD_LOG_TO(default_host().error_log, info,
                       "conn=%llu client=%s request head timed out while reading request head",
                       static_cast<unsigned long long>(id()), peer(p).data());
        // Apache answers 408 here; the response is best effort before the close.
        time_out_head(CloseReason::header_timeout, kLingerMs);
        return;
    case Deadline::body:
        close(CloseReason::body_timeout);
        return;
    case Deadline::send:
        KAHTTPD_LOG_TO(log_host().error_log, info,
                       "conn=%llu client=%s timed out while sending response",
                       static_cast<unsigned long long>(id()), peer(p).data());
        close(CloseReason::send_timeout);
        return;
    case Deadline::linger:
        close(close_reason_);
        return;
    case Deadline::drain:
        close(worker().drain_reason());
        return;
    case Deadline::handshake:
        KAHTTPD_LOG(info, "conn=%llu client=%s closed: TLS handshake timed out while reading the "
                          "TLS handshake",
                    static_cast<unsigned long long>(id()), peer(p).data());
        close(CloseReason::handshake_timeout);
        return;
    }
}

// ---- what the status page sees ---------------------------------------------------------------

Connection::State Connection::state() const noexcept {
    switch (phase_) {
    case Phase::closing:
        return State::closing;
    case Phase::lingering:
        return State::lingering;
    case Phase::idle:
        return State::idle;
    case Phase::awaiting:
        return State::writing;
    default:
        return output_pending() ? State::writing : State::reading;
    }
}

ConnectionRow Connection::status_row(std::uint64_t now_ms) const {
    static constexpr const char* kStates[] = {"reading", "writing", "idle", "lingering", "closing"};
    static constexpr const char* kDeadlines[] = {"",     "header", "body",  "send",
                                                 "idle", "linger", "drain", "handshake"};
    ConnectionRow row;
    char p[80];
    row.id = id();
    row.client = std::string(peer(p));
    row.state = kStates[static_cast<std::size_t>(state())];
    row.requests = requests_;
    if (timer().armed()) {
        row.deadline = kDeadlines[static_cast<std::size_t>(deadline_)];
        const std::uint64_t at = timer().deadline();
        row.deadline_ms = at > now_ms ? static_cast<std::int64_t>(at - now_ms) : 0;
        if (phase_ == Phase::idle && deadline_ == Deadline::idle) {
            row.idle_ms = static_cast<std::uint32_t>(now_ms) - since_ms_;
        }
    }
    if (tls_) {
        row.tls = tls_->established()
                      ? std::string(tls_->protocol()) + " " + std::string(tls_->cipher())
                      : std::string("handshake");
    }
    if (expires_ms_ != 0) {
        const auto left =
            static_cast<std::int32_t>(expires_ms_ - static_cast<std::uint32_t>(now_ms));
        row.lifetime_ms = left > 0 ? left : 0;
    }
    return row;
}

} // namespace kahttpd::server
