#include "server/io/connection.hpp"

#include "parser/host.hpp"
#include "parser/proxy_protocol.hpp"
#include "parser/text.hpp"
#include "server/http/remote_ip.hpp"
#include "server/http/response_head.hpp"
#include "server/io/io_errors.hpp"
#include "server/io/worker.hpp"
#include "server/obs/log.hpp"

#include <llhttp.h>

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>

#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

namespace kahttpd::server {

using parser::ParseEvent;
using parser::Status;

namespace {

/// File bodies up to this size are read into the output buffer and leave with the header in
/// one write; larger ones stream after it (connection_write.cpp).
constexpr std::uint64_t kInlineFileMax = kFileInlineMax;
/// A body held in memory by the open-file cache from this size on is not copied into the
/// output: it is written from the cache entry, behind the head, in the same writev (issue 16,
/// ka-64k). Smaller ones are copied, so that pipelined small responses share writes.
constexpr std::uint64_t kZeroCopyMin = 16 * 1024;
/// Parsing of pipelined requests pauses once this much output is waiting.
constexpr std::size_t kOutputHighWater = 64 * 1024;
/// The body of a request answered with an error is read and discarded up to this much; with
/// more still to come the connection closes after the answer (with the linger).
constexpr std::uint64_t kDiscardMaxBytes = 64 * 1024;
/// The lingering close (set_lingering_close) reads and discards at most this much input.
constexpr std::uint64_t kLingerMaxBytes = 1 << 20;

} // namespace

// The idle-memory goal (at most 400 bytes per idle keep-alive connection, issue 16) is this
// object plus libuv's 8-byte watcher slot per descriptor: glibc allocates it in a 384-byte
// chunk when it is at most 376 bytes. Checked where it was measured (x86-64, glibc, Debian's
// libuv 1.44, whose uv_tcp_t is 248 bytes).
#if defined(__x86_64__) && defined(__GLIBC__) && UV_VERSION_MAJOR == 1 && UV_VERSION_MINOR == 44
static_assert(sizeof(Connection) <= 376, "an idle connection no longer fits a 384-byte chunk");
#endif
static_assert(sizeof(std::uintptr_t) >= sizeof(std::uint64_t),
              "the connection id is kept in the handle's data pointer");

Connection::Connection(Worker& worker, std::uint64_t id) noexcept
    : TimerEntry(&Connection::on_timer_cb) {
    // Initialised here, not in start(): worker() reads the handle's loop.
    uv_tcp_init(worker.loop(), &handle_);
    // The handle's data word holds the id (the callbacks find the connection from the handle's
    // address, from_handle()).
    handle_.data = reinterpret_cast<void*>(static_cast<std::uintptr_t>(id));
}

Connection* Connection::from_handle(uv_handle_t* h) noexcept {
    // offsetof of a class that is not standard-layout is conditionally supported: GCC and
    // Clang compute it as for any other class without virtual bases.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
    constexpr std::size_t kHandleOffset = offsetof(Connection, handle_);
#pragma GCC diagnostic pop
    return reinterpret_cast<Connection*>(reinterpret_cast<char*>(h) - kHandleOffset);
}

std::string_view Connection::peer(char (&buf)[80]) const noexcept {
    return peer_text(client_ip(), client_port(), buf);
}

/// uv_accept() drops the address accept4() could have given, and most connections never need
/// it (no access log, no Require ip, MaxConnectionsPerIP or PROXY rule, no log line): the
/// getpeername() is made the first time something reads it (at accept when an access log or
/// LogLevel info will). After a reset the kernel no longer answers; the address then reads
/// as "::" (a status page row of a connection that is closing can show that).
void Connection::learn_peer() const noexcept {
    peer_known_ = true;
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (uv_tcp_getpeername(&handle_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
        client_ip_ = ip_bytes(ss, &client_port_);
    }
}

const IpBytes& Connection::peer_of(const void* self, std::uint16_t* port) noexcept {
    const auto& c = *static_cast<const Connection*>(self);
    if (port != nullptr) {
        *port = c.client_port();
    }
    return c.client_ip();
}

// ---- lifecycle -------------------------------------------------------------------------------

void Connection::start(uv_stream_t* server, Admission admission, const TlsContexts* tls,
                       const ListenerFacts& facts) noexcept {
    worker().link(*this);
    const int rc = uv_accept(server, reinterpret_cast<uv_stream_t*>(&handle_));
    if (rc != 0) {
        KAHTTPD_LOG(warn, "conn=%llu accept failed: %s", static_cast<unsigned long long>(id()),
                    uv_err_name(rc));
        close(CloseReason::io_error);
        return;
    }
    ++worker().stats().accepted;
    if (admission == Admission::refuse) {
        KAHTTPD_LOG(warn,
                    "conn=%llu closed at once: the connection budget (%u) and its queue are full",
                    static_cast<unsigned long long>(id()), worker().shared().connection_budget);
        close(CloseReason::overload);
        return;
    }
    if (!worker().shared().access_logs.empty() || log_enabled(LogLevel::info)) {
        // Every request will log it (or an info line may, after a reset, when the kernel no
        // longer answers): ask now.
        learn_peer();
    }
    if (facts.local_known) {
        local_ip_ = facts.local_ip;
        local_port_ = facts.local_port;
    } else {
        sockaddr_storage ss{};
        int len = sizeof ss;
        if (uv_tcp_getsockname(&handle_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
            local_ip_ = ip_bytes(ss, &local_port_);
        }
    }
    if (tls != nullptr) {
        // The SSL object starts with the context of the address's default host; SNI may
        // switch it during the handshake.
        char ip[64];
        tls_ = std::make_unique<TlsSession>(*tls, ip_text(local_ip_, ip), local_port_);
        if (!tls_->ok()) {
            KAHTTPD_LOG(error, "conn=%llu cannot start TLS (out of memory?)",
                        static_cast<unsigned long long>(id()));
            close(CloseReason::io_error);
            return;
        }
    }
    const SharedState& shared = worker().shared();
    // RemoteIPProxyProtocol: the client is known only once the PROXY header is read, and
    // MaxConnectionsPerIP counts that client, not the load balancer.
    proxy_header_ = shared.proxy_protocol &&
                    shared.config->proxy_protocol_for(local_ip_, local_port_, client_ip());
    if (!proxy_header_ && !count_client_ip()) {
        return;
    }
    since_ms_ = now32();
    if (const std::uint64_t lifetime = worker().lifetime_ms(); lifetime != 0) {
        expires_ms_ = static_cast<std::uint32_t>(since_ms_ + lifetime);
        expires_ms_ += expires_ms_ == 0 ? 1 : 0; // 0 means "no cap"
    }
    // Responses leave in whole writes; Nagle would only delay the last segment. (Copied from
    // the listener where it had it before it listened.)
    if (!facts.nodelay) {
        uv_tcp_nodelay(&handle_, 1);
    }
    apply_tcp_options();
    if (log_enabled(LogLevel::debug)) {
        char p[80];
        log_write(LogLevel::debug, "conn=%llu client=%s accepted%s",
                  static_cast<unsigned long long>(id()), peer(p).data(),
                  admission == Admission::queue ? ", queued for a slot" : "");
    }
    if (admission == Admission::queue) {
        // Unread until a slot frees (the kernel holds what it sends, as a listen backlog
        // would); the header window bounds the wait.
        phase_ = Phase::queued;
        queued_ = true;
        worker().enqueue(*this);
        arm(Deadline::header, header_timeout_ms());
        return;
    }
    start_read();
    if (proxy_header_) {
        phase_ = Phase::proxy;
        arm(Deadline::header, handshake_timeout_ms());
    } else if (tls_) {
        start_handshake();
    } else {
        // A new connection gets RequestReadTimeout header= for its first request head (nginx's
        // client_header_timeout plays the same role); KeepAliveTimeout only applies between
        // requests.
        arm(Deadline::header, header_timeout_ms());
    }
    if (facts.deferred && worker().take_early_read()) {
        read_now(); // its first bytes are there: TCP_DEFER_ACCEPT waited for them
    }
}

/// Under AcceptFilter's TCP_DEFER_ACCEPT a connection is accepted once its first bytes are in
/// (a request, a ClientHello, a PROXY header): read them at once, as nginx does after a
/// deferred accept, instead of waiting a turn of the loop for epoll to say so. (Without it they
/// usually are not there yet on a fast accept: a read would only fail.) Reading is already
/// started (uv_read_start only queues the watcher; it reaches epoll at the next poll), so the
/// answer's path is the same as from on_read_cb, and a connection closed in this turn (a
/// "Connection: close" request answered at once) is never added to epoll at all.
void Connection::read_now() noexcept {
    const int fd = socket_fd();
    if (!reading_ || fd < 0) {
        return;
    }
    char* buf = worker().read_buffer();
    ssize_t n = 0;
    do {
        n = ::read(fd, buf, Worker::kReadBufferSize);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return; // not there yet: epoll will say when
    }
    const uv_buf_t b = uv_buf_init(buf, static_cast<unsigned>(Worker::kReadBufferSize));
    on_read(n > 0 ? n : n == 0 ? UV_EOF : -errno, &b);
}

/// MaxConnectionsPerIP: counts the connection for its client, or closes it when the client has
/// its share already (false).
bool Connection::count_client_ip() noexcept {
    const std::uint32_t per_ip = worker().shared().config->max_connections_per_ip;
    if (per_ip == 0) {
        return true;
    }
    if (!worker().shared().client_counts->acquire(client_ip(), per_ip)) {
        char p[80];
        KAHTTPD_LOG(info, "conn=%llu client=%s closed at once: MaxConnectionsPerIP %u reached",
                    static_cast<unsigned long long>(id()), peer(p).data(), per_ip);
        close(CloseReason::per_ip_limit);
        return false;
    }
    ip_counted_ = true;
    return true;
}

void Connection::admit() noexcept {
    queued_ = false;
    if (proxy_header_) {
        phase_ = Phase::proxy;
        since_ms_ = now32();
        start_read();
        arm(Deadline::header, handshake_timeout_ms());
        return;
    }
    if (tls_) {
        since_ms_ = now32();
        start_read();
        start_handshake();
        return;
    }
    phase_ = Phase::head;
    // Its wait for a request head starts now: make_room() must not take the slot back before
    // the bytes already queued in the socket are read.
    since_ms_ = now32();
    start_read();
    arm(Deadline::header, header_timeout_ms());
}

/// TCPKeepAlive* and TCPUserTimeout on the accepted socket. Failures are logged, not fatal.
void Connection::apply_tcp_options() noexcept {
    const conf::Config& cfg = *worker().shared().config;
    const int fd = socket_fd();
    if (fd < 0) {
        return;
    }
    auto set = [&](int level, int name, int value, const char* what) {
        if (::setsockopt(fd, level, name, &value, sizeof value) != 0) {
            KAHTTPD_LOG(warn, "conn=%llu setsockopt %s: %s", static_cast<unsigned long long>(id()),
                        what, std::strerror(errno));
        }
    };
    if (cfg.tcp_keepalive) {
        set(SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE");
        set(IPPROTO_TCP, TCP_KEEPIDLE, static_cast<int>(cfg.tcp_keepalive_idle.count()),
            "TCP_KEEPIDLE");
        set(IPPROTO_TCP, TCP_KEEPINTVL, static_cast<int>(cfg.tcp_keepalive_interval.count()),
            "TCP_KEEPINTVL");
        set(IPPROTO_TCP, TCP_KEEPCNT, static_cast<int>(cfg.tcp_keepalive_count), "TCP_KEEPCNT");
    }
    if (cfg.tcp_user_timeout.count() > 0) {
        set(IPPROTO_TCP, TCP_USER_TIMEOUT, static_cast<int>(cfg.tcp_user_timeout.count()),
            "TCP_USER_TIMEOUT");
    }
    if (log_enabled(LogLevel::debug)) {
        // What the kernel holds now, read back (the integration test checks this line).
        auto get = [&](int level, int name) {
            int v = -1;
            socklen_t len = sizeof v;
            ::getsockopt(fd, level, name, &v, &len);
            return v;
        };
        log_write(LogLevel::debug,
                  "conn=%llu socket options: nodelay=%d keepalive=%d idle=%d interval=%d "
                  "count=%d user_timeout=%d",
                  static_cast<unsigned long long>(id()), get(IPPROTO_TCP, TCP_NODELAY),
                  get(SOL_SOCKET, SO_KEEPALIVE),
                  get(IPPROTO_TCP, TCP_KEEPIDLE), get(IPPROTO_TCP, TCP_KEEPINTVL),
                  get(IPPROTO_TCP, TCP_KEEPCNT), get(IPPROTO_TCP, TCP_USER_TIMEOUT));
    }
}

void Connection::close(CloseReason reason) noexcept {
    if (phase_ == Phase::closing || uv_is_closing(reinterpret_cast<uv_handle_t*>(&handle_))) {
        return;
    }
    if (phase_ == Phase::queued) {
        worker().dequeue(*this);
    }
    phase_ = Phase::closing;
    timer().unlink();
    if (ip_counted_) {
        worker().shared().client_counts->release(client_ip_);
        ip_counted_ = false;
    }
    if (busy_ && !busy_->log_pending_.empty()) {
        // Responses that did not get out completely: their lines say 'X' for %X.
        worker().commit_access_log(busy_->log_pending_, output_pending());
    }
    if (tls_) {
        send_close_notify(); // (best effort: nothing may be in flight)
    }
    ++worker().stats().closes[static_cast<std::size_t>(reason)];
    worker().stats().requests_per_conn.add(kRequestsPerConnBounds, requests_);
    KAHTTPD_LOG(debug, "conn=%llu closed: %s after %u requests",
                static_cast<unsigned long long>(id()), to_string(reason).data(), requests_);
    // Pending writes and the shutdown request are cancelled (UV_ECANCELED) before the close
    // callback runs; both are embedded in this object, which lives until then.
    uv_close(reinterpret_cast<uv_handle_t*>(&handle_), &Connection::on_close_cb);
}

void Connection::on_close_cb(uv_handle_t* h) noexcept {
    std::unique_ptr<Connection> self(from_handle(h));
    self->worker().on_connection_freed(*self);
}

void Connection::close_after(CloseReason reason) noexcept {
    if (!close_after_) {
        close_after_ = true;
        close_reason_ = reason;
    }
}

void Connection::close_after_framing_lost(CloseReason reason) noexcept {
    // The bytes that follow cannot be read as requests any more: whatever was decided before,
    // this is why the connection ends.
    close_after_ = true;
    close_reason_ = reason;
}

void Connection::on_server_drain() noexcept {
    switch (phase_) {
    case Phase::closing:
        return;
    case Phase::queued:
        // Nothing of it was read: as a listen backlog dropped with its listener.
        close(worker().drain_reason());
        return;
    case Phase::lingering:
        // The last response is out; waiting up to the full linger time for the client's EOF
        // would only hold the shutdown. The short floor still protects a response in flight.
        if (timer().deadline() > worker().now_ms() + kDrainIdleFloorMs) {
            arm(Deadline::linger, kDrainIdleFloorMs);
        }
        return;
    case Phase::awaiting:
        // The status page being gathered is the last response.
        close_after(worker().drain_reason());
        return;
    default:
        break;
    }
    if (!in_message() && !output_pending() && (!busy_ || busy_->stash_.empty())) {
        // Idle, as far as this worker knows. A request may already be on the wire (in the
        // socket buffer, read in a later loop iteration): give it a short floor instead of
        // cutting it. If it arrives, it is answered with "Connection: close".
        arm(Deadline::drain, kDrainIdleFloorMs);
        return;
    }
    // A response in progress has announced keep-alive already (its head is out or queued), so
    // the client may send its next request the moment it has read it: closing right after
    // would cut that request (a keep-alive client such as wrk counts a read error). Instead
    // the connection goes idle for the short drain floor like any idle one (set_keepalive),
    // and a request that arrives in it is answered with "Connection: close" (on_request checks
    // draining()).
    if (phase_ == Phase::answered) {
        // Answered, but its request body is still coming: this response is the last one, and
        // once it is out there is no need to wait for the rest of the body.
        close_after(worker().drain_reason());
        if (!output_pending()) {
            set_lingering_close();
        }
    }
}

// ---- reading ---------------------------------------------------------------------------------

ConnectionBusy& Connection::busy() noexcept {
    if (!busy_) {
        busy_ = BusyPool::for_this_thread().take(worker().shared().limits);
        busy_->write_req.data = this;
        busy_->shutdown_req.data = this;
    }
    return *busy_;
}

/// Gives the busy state back to the worker's pool. Only called where the connection has
/// nothing in flight: the parser between messages, every byte written, nothing stashed.
void Connection::release_busy() noexcept {
    if (!busy_) {
        return;
    }
    assert(!in_message() && !output_pending() && busy_->stash_.empty());
    if (!busy_->log_pending_.empty()) {
        worker().commit_access_log(busy_->log_pending_, false);
    }
    // The pinned cache entry, merged settings and vhost go with it (reset by the pool): an
    // idle connection pins nothing.
    BusyPool::for_this_thread().give(std::move(busy_));
}

void Connection::start_read() noexcept {
    if (!reading_ && phase_ != Phase::closing) {
        if (uv_read_start(reinterpret_cast<uv_stream_t*>(&handle_), &Connection::on_alloc_cb,
                          &Connection::on_read_cb) == 0) {
            reading_ = true;
        }
    }
}

void Connection::on_alloc_cb(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
    // Every read lands in the worker's buffer: consume() copies out only what must outlive the
    // callback, so an idle connection holds no read buffer at all.
    auto* self = from_handle(h);
    buf->base = self->worker().read_buffer();
    buf->len = Worker::kReadBufferSize;
}

void Connection::on_read_cb(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept {
    from_handle(reinterpret_cast<uv_handle_t*>(s))->on_read(nread, buf);
}

void Connection::on_read(ssize_t nread, const uv_buf_t* buf) noexcept {
    if (phase_ == Phase::closing || nread == 0) {
        return; // 0: EAGAIN
    }
    if (nread < 0) {
        on_read_error(static_cast<int>(nread));
        return;
    }
    // A short read drained the socket (libuv reads again only after a full one): what
    // nothing_more_to_read() decides from instead of asking the kernel.
    read_full_ = static_cast<std::size_t>(nread) == buf->len;
    if (tls_ && phase_ != Phase::proxy && phase_ != Phase::lingering) {
        // (One predictable branch on the plain path.) Records in, plaintext out, then the
        // same path as plain input (on_input), from connection_tls.cpp.
        on_tls_input(buf->base, static_cast<std::size_t>(nread));
        return;
    }
    on_input(std::string_view(buf->base, static_cast<std::size_t>(nread)));
}

/// The client's EOF (or a TLS close_notify), or a failed read.
void Connection::on_read_error(int err) noexcept {
    {
        if (phase_ == Phase::lingering) {
            close(close_reason_);
        } else if (err == UV_EOF && (output_pending() || phase_ == Phase::awaiting)) {
            // The client half-closed after its last request: finish the responses, then close
            // (an incomplete request after them is dropped).
            close_after(CloseReason::client_closed);
            uv_read_stop(reinterpret_cast<uv_stream_t*>(&handle_));
            reading_ = false;
        } else {
            const CloseReason reason = close_reason_for(err);
            if (reason == CloseReason::io_error) {
                char p[80];
                KAHTTPD_LOG(info, "conn=%llu client=%s read failed: %s while reading request",
                            static_cast<unsigned long long>(id()), peer(p).data(), uv_err_name(err));
            }
            close(reason);
        }
    }
}

/// Bytes from the client (plaintext, once TLS is taken off), by phase.
void Connection::on_input(std::string_view input) noexcept {
    switch (phase_) {
    case Phase::proxy:
        on_proxy_input(input);
        return;
    case Phase::lingering:
        busy().linger_bytes_ += input.size();
        if (busy().linger_bytes_ > kLingerMaxBytes) {
            close(close_reason_);
        }
        return;
    case Phase::idle:
        if (deadline_ == Deadline::idle && timer().armed()) {
            // The next request starts: how long the connection sat idle.
            worker().stats().idle_gaps.add(kIdleGapBoundsMs, now32() - since_ms_);
        }
        phase_ = Phase::head; // reqread_start: the idle deadline stays until a request begins
        // The wait for this head starts now (the loop's clock is close enough for the order
        // make_room() needs, and costs no system call).
        since_ms_ = static_cast<std::uint32_t>(worker().now_ms());
        break;
    default:
        break;
    }
    consume(input);
}

/// The first bytes of a connection that must start with a PROXY header (HAProxy's PROXY
/// protocol, v1 or v2). A whole header replaces the client's address (v2 LOCAL, a proxy's own
/// health check, keeps the connection's); what follows it is the first request. A missing or
/// broken header closes the connection without a response, as Apache and nginx do: the peer
/// is not the proxy this address expects, and HTTP is not what it speaks.
void Connection::on_proxy_input(std::string_view input) noexcept {
    ConnectionBusy& b = busy();
    std::string joined; // the rare header split over reads (bounded by kProxyHeaderMax)
    if (!b.stash_.empty()) {
        joined.swap(b.stash_);
        joined.append(input);
        input = joined;
    }
    const parser::ProxyHeader h = parser::parse_proxy_header(input);
    if (h.result == parser::ProxyHeader::Result::need_more) {
        b.stash_.assign(input);
        return;
    }
    if (h.result == parser::ProxyHeader::Result::invalid) {
        char p[80];
        KAHTTPD_LOG(info, "conn=%llu client=%s closed: %s while reading the PROXY protocol header",
                    static_cast<unsigned long long>(id()), peer(p).data(), h.error);
        close(CloseReason::proxy_header);
        return;
    }
    if (h.has_addresses) {
        client_ip_ = h.src;
        client_port_ = h.src_port;
        peer_known_ = true;
    }
    proxy_header_ = false;
    if (log_enabled(LogLevel::debug)) {
        char p[80];
        log_write(LogLevel::debug, "conn=%llu client=%s PROXY v%u header%s",
                  static_cast<unsigned long long>(id()), peer(p).data(), h.version,
                  h.has_addresses ? "" : " without addresses (LOCAL or UNKNOWN)");
    }
    if (!count_client_ip()) {
        return;
    }
    if (tls_) {
        // The TLS handshake follows the PROXY header (HAProxy's send-proxy in front of TLS).
        since_ms_ = now32();
        start_handshake();
        if (input.size() > h.length) {
            on_tls_input(input.data() + h.length, input.size() - h.length);
        }
        return;
    }
    // The first request's head window starts now.
    phase_ = Phase::head;
    since_ms_ = now32();
    arm(Deadline::header, header_timeout_ms());
    consume(input.substr(h.length));
}

void Connection::consume(std::string_view input) noexcept {
    consume_input(input);
    pump();
}

/// Parses and answers the requests in `input` until it is used up, the connection decides to
/// close, or backpressure stashes the rest. Does not write (but to relieve the high-water mark).
void Connection::consume_input(std::string_view input) noexcept {
    ConnectionBusy& b = busy();
    while (!input.empty() && phase_ != Phase::closing) {
        if (close_after_) {
            // The last response is decided; what follows is never answered (and the close
            // must linger: the client is pipelining).
            dropped_input_ = true;
            break;
        }
        if (b.out_.size() - b.out_sent_ > kOutputHighWater) {
            flush();
            if (phase_ == Phase::closing) {
                break; // the write failed and closed the connection
            }
        }
        if (write_in_flight_ || b.file_fd_ >= 0 || !b.mem_body_.empty() ||
            phase_ == Phase::awaiting) {
            // Backpressure: keep the unparsed rest, stop reading until the output drains.
            b.stash_.assign(input);
            if (reading_) {
                uv_read_stop(reinterpret_cast<uv_stream_t*>(&handle_));
                reading_ = false;
            }
            break;
        }
        if (b.request_start_us_ == 0 && !worker().shared().access_logs.empty()) {
            b.request_start_us_ = uv_hrtime() / 1000; // for %D in the access log
        }
        const auto r = b.parser.feed(input);
        input.remove_prefix(r.consumed);
        if (phase_ == Phase::head) {
            b.head_bytes_ += r.consumed; // for RequestReadTimeout header=,MinRate
        }
        switch (r.event) {
        case ParseEvent::need_more:
            break;
        case ParseEvent::head_complete: {
            if (!check_head()) {
                input = {};
                break;
            }
            const parser::Request& req = b.parser.request();
            phase_ = Phase::body;
            b.body_start_ms_ = now32(); // RequestReadTimeout body= counts from here
            if (req.chunked()) {
                // A chunked body has no announced length: answer once it has been read, so a
                // body over LimitRequestBody still gets its 413 instead of a 200 cut short.
                // A client waiting for "100 Continue" gets it now.
                busy().host_ = &select_host(worker().shared(), req, local_ip_, local_port_);
                resolve_useragent(req);
                b.parser.set_message_body_limit(body_limit_for(req, request_info(true)));
                if (req.expect_continue() && req.http_minor() >= 1) {
                    b.out_.append(kContinueHead);
                }
                break;
            }
            on_request();
            if (phase_ == Phase::body) {
                log_access(true);
                phase_ = Phase::answered;
            }
            break;
        }
        case ParseEvent::message_complete:
            if (phase_ == Phase::head && !check_head()) {
                input = {}; // (a chunked body's head was checked at head_complete)
                break;
            }
            if (phase_ == Phase::head || phase_ == Phase::body) {
                // Not answered yet: a message without body, or a chunked body read whole.
                on_request();
                if (phase_ != Phase::awaiting) {
                    log_access(true);
                }
            }
            if (phase_ != Phase::awaiting) {
                phase_ = Phase::head;
            }
            break;
        case ParseEvent::error:
            on_parse_error();
            input = {};
            break;
        }
    }
}

/// The parser refused the input: framing is lost, so the connection closes after the answer.
void Connection::on_parse_error() noexcept {
    ConnectionBusy& b = busy();
    if (phase_ == Phase::answered) {
        // The head was answered already and the body went wrong (too long, bad chunking).
        char p[80];
        close_after_framing_lost(CloseReason::parse_error);
        KAHTTPD_LOG_TO(
            log_host().error_log, info, "conn=%llu client=%s %s while reading request body",
            static_cast<unsigned long long>(id()), peer(p).data(), b.parser.error_reason().data());
        return;
    }
    const bool in_body = phase_ == Phase::body;
    refuse_head(b.parser.error_status(), b.parser.error_reason().data(), in_body, in_body);
}

/// A complete head must name its host validly (RFC 9112 §3.2) before anything is decided
/// from it: the vhost, a 100 Continue, a handler. Checked here, once for every handler, rather
/// than in the parser: the parser's golden cases are about framing and leave Host out.
bool Connection::check_head() noexcept {
    const parser::HostCheck verdict = parser::check_host(busy().parser.request());
    if (verdict.status == Status::ok) {
        return true;
    }
    refuse_head(verdict.status, verdict.reason, false, true);
    return false;
}

/// Answers a request that cannot be served (a parse error, an invalid Host) and closes after
/// the answer: nothing the client sends after it is read as a request. `parsed`: the head was
/// understood (the access log shows its request line).
void Connection::refuse_head(Status status, const char* reason, bool in_body,
                             bool parsed) noexcept {
    // Nothing of a previous request applies to this answer; a body's request chose its host.
    // A HEAD understood as such gets no body, even with an error (RFC 9110 §9.3.2).
    head_ =
        parsed && static_cast<llhttp_method_t>(busy().parser.request().method_id()) == HTTP_HEAD;
    if (!in_body) {
        busy().host_ = nullptr; // answered and logged as the address's default host's
    }
    char p[80];
    KAHTTPD_LOG_TO(log_host().error_log, info, "conn=%llu client=%s %u %s while reading request %s",
                   static_cast<unsigned long long>(id()), peer(p).data(), parser::code(status),
                   reason, in_body ? "body" : "head");
    close_after_framing_lost(CloseReason::parse_error);
    respond_error(status);
    log_access(parsed);
}

/// Writes what is queued and, each time the output drains, parses input stashed by
/// backpressure; when nothing is left to do, moves on (read again, or close).
void Connection::pump() noexcept {
    ConnectionBusy& b = busy();
    while (phase_ != Phase::closing) {
        flush();
        if (phase_ == Phase::closing || write_in_flight_) {
            return;
        }
        if (phase_ == Phase::awaiting) {
            if (!b.status_ready) {
                return; // the snapshots are still coming
            }
            emit_status();
            continue;
        }
        if (b.stash_.empty()) {
            on_send_complete();
            return;
        }
        std::string pending;
        pending.swap(b.stash_);
        consume_input(pending);
        if (b.stash_.empty()) {
            b.stash_.swap(pending); // keep the capacity for the next time
            b.stash_.clear();
        }
    }
}

// ---- answering -------------------------------------------------------------------------------

RequestInfo Connection::request_info(bool from_request) const noexcept {
    const SharedState& shared = worker().shared();
    RequestInfo info;
    info.site = &shared;
    info.host = &log_host();
    info.host_from_request = from_request && host() != nullptr;
    info.useragent = from_request && busy_ && busy_->has_useragent_ ? &busy_->useragent_ : nullptr;
    info.owner = this;
    info.peer = &Connection::peer_of;
    info.local_ip = &local_ip_;
    info.local_port = local_port_;
    info.now_ms = worker().now_ms();
    info.now = std::time(nullptr);
    info.conn_id = id();
    return info;
}

/// RemoteIPHeader: the client this request's proxies vouch for, when the vhost reads one
/// (Apache's mod_remoteip; server/http/remote_ip.hpp has the rules). Needs host().
void Connection::resolve_useragent(const parser::Request& req) noexcept {
    ConnectionBusy& b = busy();
    b.has_useragent_ = false;
    const SharedState& shared = worker().shared();
    const RemoteIpRules rules = remote_ip_rules(shared.config->main, *host()->vhost);
    if (rules.header.empty()) {
        return;
    }
    if (const auto field = req.header(rules.header)) {
        if (const auto ip = useragent_ip(rules, client_ip(), *field)) {
            b.useragent_ = *ip;
            b.has_useragent_ = true;
        }
    }
}

/// A complete request head (or a chunked request read whole): decide persistence, ask the
/// handler, queue its answer.
void Connection::on_request() noexcept {
    ConnectionBusy& b = busy();
    const parser::Request& req = b.parser.request();
    const conf::Config& cfg = *worker().shared().config;
    // The head is complete: its deadline is over. Every way out of pump() arms the next one
    // (send, linger, header, body or idle), so the connection is never left without one.
    timer().unlink();
    deadline_ = Deadline::none;
    ++requests_;
    ++worker().stats().requests;

    // RFC 9112 §9.3: decide persistence before the response is written, so it can say so.
    if (!req.keep_alive()) {
        close_after(CloseReason::client_requested);
    } else if (!cfg.keep_alive) {
        close_after(CloseReason::keep_alive_off);
    } else if (worker().draining()) {
        close_after(worker().drain_reason());
    } else if (cfg.max_keep_alive_requests != 0 && requests_ >= cfg.max_keep_alive_requests) {
        close_after(CloseReason::max_requests);
    } else if (expires_ms_ != 0 && static_cast<std::int32_t>(now32() - expires_ms_) >= 0) {
        // MaxKeepAliveTime (nginx's keepalive_time): the request that crosses it is the last.
        close_after(CloseReason::max_lifetime);
    }
    head_ = static_cast<llhttp_method_t>(req.method_id()) == HTTP_HEAD;
    busy().host_ = &select_host(worker().shared(), req, local_ip_, local_port_);
    resolve_useragent(req);

    // The 100 Continue decision; not for a chunked body that was read already (its 100 went
    // out at head_complete). RFC 9110 §10.1.1: Expect is ignored on HTTP/1.0.
    const bool body_read = !b.parser.in_message();
    const bool expect_continue =
        req.expect_continue() && req.has_body() && !body_read && req.http_minor() >= 1;
    b.response.reset();
    b.scope.reset();
    const RequestInfo info = request_info(true);
    // The wait for the next head (a pipelined one) starts now, from nothing.
    b.head_bytes_ = 0;
    since_ms_ = static_cast<std::uint32_t>(worker().now_ms());
    if (handle_static(req, info, b.response, b.scope) == Route::server_status) {
        start_status(req, expect_continue);
        return;
    }
    if (b.response.error && phase_ == Phase::body && req.content_length() &&
        *req.content_length() - req.body_bytes() > kDiscardMaxBytes) {
        // An error answer to a request whose large body is still coming: reading it to the end
        // only to throw it away would let a slow client hold the connection (and a fast one
        // waste the bandwidth). The lingering close after the answer discards a bounded part.
        close_after(CloseReason::error_body);
    }
    queue_response(b.response, expect_continue);
}

/// SetHandler server-status: asks every worker for its snapshot; finish_status() fills the
/// response once they have all answered. Until it is queued the connection parses nothing.
void Connection::start_status(const parser::Request& req, bool expect_continue) noexcept {
    ConnectionBusy& b = busy();
    b.status_query = parse_status_query(req.target());
    b.status_ready = false;
    b.status_expect = expect_continue;
    phase_ = Phase::awaiting;
    arm(Deadline::send, static_cast<std::uint64_t>(worker().shared().config->timeout.count()));
    worker().gather_status(id(), b.status_query.json, b.status_query.refresh, b.status_query.limit);
}

void Connection::finish_status(const StatusReport& report) noexcept {
    if (phase_ != Phase::awaiting) {
        return;
    }
    ConnectionBusy& b = busy();
    const conf::Effective* settings = b.response.settings;
    b.response.reset();
    status_response(report, b.status_query, b.response);
    b.response.settings = settings;
    b.status_ready = true;
    // Responses queued before it may still be on their way (a write in flight owns out_):
    // pump() queues the page once they are out.
    pump();
}

/// Queues the status page gathered for the waiting request (output must be idle).
void Connection::emit_status() noexcept {
    ConnectionBusy& b = busy();
    b.status_ready = false;
    phase_ = in_message() ? Phase::answered : Phase::head;
    queue_response(b.response, b.status_expect);
    log_access(true);
}

/// An error answer made by the transport itself (a parse error, a request head timeout), with
/// the settings of the host chosen so far (the address's default host when none was, as
/// Apache answers with its default server's).
void Connection::respond_error(Status status) noexcept {
    ConnectionBusy& b = busy();
    const RequestInfo info = request_info(host() != nullptr);
    const parser::Request* req = host() != nullptr ? &b.parser.request() : nullptr;
    b.scope.reset(); // (error_response resets the response itself)
    error_response(status, req, info, info.host->base, b.response, true);
    queue_response(b.response, false);
}

/// Serialises `res` into the output: the interim 100 when the client waits for it, the head,
/// and the body (inline, or queued to stream after the head).
void Connection::queue_response(const Response& res, bool expect_continue) noexcept {
    ConnectionBusy& b = busy();
    if (expect_continue && res.error) {
        // "Expect: 100-continue" refused: the final status goes out now, without a 100, so
        // the client will not send its body, and the bytes that follow are not framed any more
        // (RFC 9110 §10.1.1): close after the response.
        close_after(CloseReason::parse_error);
    } else if (expect_continue) {
        // The request is accepted: tell the client to send its body (which is then read and
        // discarded), and answer right behind it.
        b.out_.append(kContinueHead);
    }
    if (res.close) {
        close_after(res.close_reason);
    }
    b.last_status_ = parser::code(res.status);
    b.last_body_bytes_ = head_ || res.status == Status::not_modified ? 0 : res.content_length;
    const std::size_t head_at = b.out_.size();
    queue_head(res);
    b.queued_bytes_ += b.out_.size() - head_at + b.last_body_bytes_;
    if (head_) {
        return;
    }
    switch (res.body) {
    case Response::Body::none:
        return;
    case Response::Body::text:
        b.out_.append(res.text);
        return;
    case Response::Body::file:
        queue_file_body(res);
        return;
    }
}

void Connection::queue_head(const Response& res) noexcept {
    std::string& out = busy().out_;
    const std::string_view date =
        worker().date().get(res.date != 0 ? res.date : std::time(nullptr));
    if (!res.prepared_head.empty()) {
        // The common case: one copy of the cache's prepared block (made by append_head too, for
        // settings without Header rules), the current Date written into it.
        const std::size_t at = out.size();
        out.append(res.prepared_head);
        std::memcpy(out.data() + at + res.prepared_date_at, date.data(), date.size());
        if (res.prepared_expires_at != 0) {
            std::memcpy(out.data() + at + res.prepared_expires_at, res.prepared_expires.data(),
                        res.prepared_expires.size());
        }
        append_connection_fields();
        out.append("\r\n");
        return;
    }
    const HeadMarks marks = append_head(out, res.status, worker().shared().server_header, date,
                                        res.content_type, res.content_length, res.fields);
    append_connection_fields();
    end_head(out, marks.fields_at, res.status, res.settings->headers);
}

/// Connection / Keep-Alive (RFC 9112 §9.3), as decided for the current response.
void Connection::append_connection_fields() noexcept {
    const conf::Config& cfg = *worker().shared().config;
    std::string& out = busy().out_;
    if (close_after_) {
        out.append("Connection: close\r\n");
        return;
    }
    if (busy().parser.request().http_minor() == 0) {
        out.append("Connection: keep-alive\r\n"); // HTTP/1.0 asked for it: echo (§9.3)
    }
    // The idle timeout as it stands now (it slides under pressure); the idle deadline is armed
    // with this same value, so the field never promises more than the server will wait.
    const std::uint64_t idle_ms = worker().idle_timeout_ms();
    busy().keepalive_ms_ = idle_ms;
    out.append("Keep-Alive: timeout=");
    text::append_number(out, idle_ms / 1000);
    if (cfg.max_keep_alive_requests != 0) {
        out.append(", max=");
        text::append_number(out, cfg.max_keep_alive_requests - requests_);
    }
    out.append("\r\n");
}

/// A file body: the whole file or its ranges, as one range or as multipart parts. Small bodies
/// are copied into the output next to the head; larger ones stream after it (flush()).
void Connection::queue_file_body(const Response& res) noexcept {
    ConnectionBusy& b = busy();
    const ByteRange whole{0, res.file_size == 0 ? 0 : res.file_size - 1};
    const std::span<const ByteRange> ranges =
        res.ranges.empty() ? std::span<const ByteRange>(&whole, res.file_size == 0 ? 0 : 1)
                           : std::span<const ByteRange>(res.ranges);
    const bool multipart = !res.boundary.empty();
    if (!res.memory.empty() && !multipart && !tls_ && ranges.size() == 1 &&
        res.file_bytes() >= kZeroCopyMin) {
        // Written from the cache entry itself (flush()), which `scope` pins until the next
        // request, and no next request is parsed before this body is out (consume_input).
        b.mem_body_ = std::string_view(res.memory).substr(ranges[0].first, res.file_bytes());
        return;
    }
    if (res.file_bytes() <= kInlineFileMax || !res.memory.empty()) {
        for (const auto& r : ranges) {
            if (multipart) {
                append_part_header(b.out_, res.boundary, res.part_type, r, res.file_size);
            }
            if (!res.memory.empty()) {
                b.out_.append(res.memory, r.first, r.last - r.first + 1);
            } else if (!append_file_range(res.fd, r.first, r.last - r.first + 1)) {
                return;
            }
        }
        if (multipart) {
            append_closing_delimiter(b.out_, res.boundary);
        }
        return;
    }
    // The entry keeps its descriptor (it may be cached, or dropped while this body streams):
    // the stream gets its own.
    b.file_fd_ = res.fd >= 0 ? ::fcntl(res.fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (b.file_fd_ < 0) {
        KAHTTPD_LOG_TO(log_host().error_log, error, "conn=%llu cannot stream a file: %s",
                       static_cast<unsigned long long>(id()), std::strerror(errno));
        close_after_framing_lost(CloseReason::io_error);
        return;
    }
    // TLS: the file is read and encrypted in bounded chunks (connection_tls.cpp).
    b.sendfile_ = res.settings->enable_sendfile && !tls_;
    if (b.sendfile_) {
        // nginx's tcp_nopush: the head and the file leave in full segments, not in one short
        // segment per sendfile() that the socket had room for (refill_from_file uncorks).
        set_cork(true);
    }
    b.segments_.clear();
    b.segment_ = 0;
    for (const auto& r : ranges) {
        ConnectionBusy::Segment seg{{}, r.first, r.last - r.first + 1};
        if (multipart) {
            append_part_header(seg.text, res.boundary, res.part_type, r, res.file_size);
        }
        b.segments_.push_back(std::move(seg));
    }
    if (multipart) {
        ConnectionBusy::Segment closing;
        append_closing_delimiter(closing.text, res.boundary);
        b.segments_.push_back(std::move(closing));
    }
}

/// Reads `length` bytes of a file from `offset` into the output, right after the head, so
/// head and body leave in one write. False (and the connection marked to close, since the
/// head already promised the length) when the file came up short.
bool Connection::append_file_range(int fd, std::uint64_t offset, std::uint64_t length) noexcept {
    std::string& out = busy().out_;
    const std::size_t at = out.size();
    out.resize(at + length);
    std::size_t got = 0;
    while (got < length) {
        const ssize_t n =
            ::pread(fd, out.data() + at + got, length - got, static_cast<off_t>(offset + got));
        if (n <= 0) {
            break;
        }
        got += static_cast<std::size_t>(n);
    }
    if (got < length) {
        KAHTTPD_LOG_TO(log_host().error_log, error,
                       "conn=%llu short read of a file while building a response",
                       static_cast<unsigned long long>(id()));
        out.resize(at + got);
        close_after_framing_lost(CloseReason::io_error);
        return false;
    }
    return true;
}

const HostContext& Connection::default_host() const noexcept {
    return server::default_host(worker().shared(), local_ip_, local_port_);
}

/// One access-log line per CustomLog of the request's host for the response just queued (a
/// no-op when it has none). The host's sinks were resolved with it: no look-up here.
void Connection::log_access(bool parsed) noexcept {
    ConnectionBusy& b = busy();
    const HostContext& h = log_host();
    if (!h.access_logs.empty()) {
        // The clock is read only for a CustomLog (%D); without one a request reads it once,
        // for its deadline.
        const std::uint64_t now_us = uv_hrtime() / 1000;
        char ip[64];
        char peer_ip[64];
        AccessRecord r;
        if (parsed && b.has_useragent_) {
            r.client = ip_text(b.useragent_, ip); // RemoteIPHeader's
            r.peer = ip_text(client_ip(), peer_ip);
        } else {
            r.client = ip_text(client_ip(), ip); // and r.peer "": the same
        }
        r.time = std::time(nullptr);
        r.request = parsed ? &b.parser.request() : nullptr;
        r.status = b.last_status_;
        r.body_bytes = b.last_body_bytes_;
        r.duration_us = b.request_start_us_ != 0 && now_us > b.request_start_us_
                            ? now_us - b.request_start_us_
                            : 0;
        r.previous_requests = requests_ > 0 ? requests_ - 1 : 0;
        r.keep_alive = !close_after_;
        r.close_reason = close_after_ ? to_string(close_reason_) : std::string_view();
        r.server_name = h.vhost->server_name.value;
        r.local_ip = &local_ip_;
        r.local_port = local_port_;
        r.remote_port = client_port();
        if (tls_) {
            r.tls_protocol = tls_->protocol();
            r.tls_cipher = tls_->cipher();
        }
        worker().access_log(h, r, b.log_pending_);
    }
    b.request_start_us_ = 0;
}

} // namespace kahttpd::server
