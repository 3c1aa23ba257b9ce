#include "server/io/connection.hpp"

#include "parser/text.hpp"
#include "server/http/byte_ranges.hpp"
#include "server/http/content_coding.hpp"
#include "server/http/html.hpp"
#include "server/http/response_headers.hpp"
#include "server/http/target_path.hpp"
#include "server/http/validators.hpp"
#include "server/io/worker.hpp"
#include "server/obs/log.hpp"
#include "server/static/dir_listing.hpp"
#include "server/static/file_cache.hpp"
#include "server/static/static_file.hpp"

#include <llhttp.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <span>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

namespace kahttpd::server {

using parser::ParseEvent;
using parser::Status;

namespace {

using text::append_number;

/// Files up to this size are read into the output buffer and leave with the header in one
/// write; larger ones stream in chunks of kFileChunk after it.
constexpr std::uint64_t kInlineFileMax = kFileInlineMax;
constexpr std::size_t kFileChunk = 256 * 1024;
/// With sendfile: when the socket is full, this much of the file goes through uv_write (read
/// into user space) so that libuv tells when the socket is writable again; sendfile goes on
/// from there. Small, because these bytes are copied.
constexpr std::size_t kSendfileWaitChunk = 16 * 1024;
/// Longest request key (host index, 8 bytes, and raw path) the open-file cache is asked about;
/// longer paths are served without it.
constexpr std::size_t kMaxCacheKey = 512;
/// Parsing of pipelined requests pauses once this much output is waiting.
constexpr std::size_t kOutputHighWater = 64 * 1024;
/// After the last response of a closing connection: how long and how much input is read and
/// discarded before the socket is closed, so the client's unread bytes do not make the kernel
/// answer with RST and destroy the response (RFC 9112 §9.6).
constexpr std::uint64_t kLingerMs = 2000;
constexpr std::uint64_t kLingerMaxBytes = 1 << 20;
/// At shutdown, how long an idle connection stays open for a request already on its way.
constexpr std::uint64_t kDrainIdleFloorMs = 200;

/// The 16-byte form used by AccessRule: IPv6 as is, IPv4 as ::ffff:a.b.c.d.
std::array<std::uint8_t, 16> ip_bytes(const sockaddr_storage& ss, std::uint16_t* port) noexcept {
    std::array<std::uint8_t, 16> out{};
    if (ss.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
        std::memcpy(out.data(), &a->sin6_addr, 16);
        *port = ntohs(a->sin6_port);
    } else {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
        out[10] = out[11] = 0xff;
        std::memcpy(out.data() + 12, &a->sin_addr, 4);
        *port = ntohs(a->sin_port);
    }
    return out;
}

/// Text of a 16-byte address; IPv4-mapped addresses print as IPv4.
std::string_view ip_text(const std::array<std::uint8_t, 16>& ip, char (&buf)[64]) noexcept {
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(ip.data(), kMapped, 12) == 0) {
        inet_ntop(AF_INET, ip.data() + 12, buf, sizeof buf);
    } else {
        inet_ntop(AF_INET6, ip.data(), buf, sizeof buf);
    }
    return buf;
}

/// Options FollowSymLinks / SymLinksIfOwnerMatch as an open policy.
SymlinkPolicy symlink_policy(const conf::Effective& eff) noexcept {
    if ((eff.options & conf::OptionsSpec::kFollowSymLinks) != 0) {
        return SymlinkPolicy::follow;
    }
    if ((eff.options & conf::OptionsSpec::kSymLinksIfOwnerMatch) != 0) {
        return SymlinkPolicy::if_owner_match;
    }
    return SymlinkPolicy::refuse;
}

/// The methods kahttpd serves, for OPTIONS and 405 responses.
constexpr std::string_view kAllowHeader = "Allow: GET, HEAD, OPTIONS\r\n";

/// RequestReadTimeout header= and body=; 0 turns them off, and then the core Timeout still
/// bounds the wait (as in Apache without mod_reqtimeout), so no connection is ever left
/// without a deadline.
std::uint64_t header_timeout_ms(const conf::Config& cfg) noexcept {
    const auto ms = cfg.request_read_timeout_header.count();
    return static_cast<std::uint64_t>(ms > 0 ? ms : cfg.timeout.count());
}

std::uint64_t body_timeout_ms(const conf::Config& cfg) noexcept {
    const auto ms = cfg.request_read_timeout_body.count();
    return static_cast<std::uint64_t>(ms > 0 ? ms : cfg.timeout.count());
}

/// The calling worker's open-file cache, set up for `shared` (FileCacheSize, FileCacheEntries,
/// FileCacheValid). Entries hold descriptors only for files too large to keep in memory; they
/// may take at most a quarter of the descriptor limit, shared among the workers.
FileCache& file_cache_for(const SharedState& shared) noexcept {
    FileCache& cache = FileCache::for_this_thread();
    if (cache.owner() != &shared) {
        const conf::Config& cfg = *shared.config;
        rlimit rl{};
        std::uint64_t fds = 1024;
        if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
            fds = rl.rlim_cur;
        }
        const std::uint64_t workers = std::max<std::size_t>(
            1, shared.config->workers != 0 ? shared.config->workers
                                           : std::thread::hardware_concurrency());
        FileCache::Limits limits;
        limits.max_bytes = cfg.file_cache_size;
        limits.max_entries = cfg.file_cache_entries;
        limits.valid_ms = static_cast<std::uint64_t>(cfg.file_cache_valid.count());
        limits.max_fds =
            static_cast<std::uint32_t>(std::min<std::uint64_t>(fds / 4 / workers, 65536));
        cache.configure(limits, &shared);
    }
    return cache;
}

} // namespace

Connection::Connection(Worker& worker, std::uint64_t id) noexcept
    : worker_(worker), timer_(&Connection::on_timer_cb, this), id_(id) {
    handle_.data = this;
}

Connection::~Connection() {}

std::string Connection::peer() const {
    sockaddr_storage ss{};
    int len = sizeof ss;
    char ip[64] = "?";
    char out[80] = "?";
    if (uv_tcp_getpeername(&handle_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
        return out;
    }
    if (ss.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
        uv_ip6_name(a, ip, sizeof ip);
        std::snprintf(out, sizeof out, "[%s]:%u", ip, ntohs(a->sin6_port));
    } else {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
        uv_ip4_name(a, ip, sizeof ip);
        std::snprintf(out, sizeof out, "%s:%u", ip, ntohs(a->sin_port));
    }
    return out;
}

// ---- lifecycle -------------------------------------------------------------------------------

void Connection::start(uv_stream_t* server, bool overload) noexcept {
    uv_tcp_init(worker_.loop(), &handle_);
    worker_.link(*this);
    const int rc = uv_accept(server, reinterpret_cast<uv_stream_t*>(&handle_));
    if (rc != 0) {
        KAHTTPD_LOG(warn, "conn=%llu accept failed: %s", static_cast<unsigned long long>(id_),
                    uv_err_name(rc));
        close(CloseReason::io_error);
        return;
    }
    ++worker_.stats().accepted;
    if (overload) {
        KAHTTPD_LOG(warn, "conn=%llu closed at once: MaxConnections %u reached",
                    static_cast<unsigned long long>(id_), worker_.shared().config->max_connections);
        close(CloseReason::overload);
        return;
    }
    sockaddr_storage ss{};
    int len = sizeof ss;
    std::uint16_t port = 0;
    if (uv_tcp_getpeername(&handle_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
        client_ip_ = ip_bytes(ss, &port);
    }
    len = sizeof ss;
    if (uv_tcp_getsockname(&handle_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
        local_ip_ = ip_bytes(ss, &local_port_);
    }
    // Responses leave in whole writes; Nagle would only delay the last segment.
    uv_tcp_nodelay(&handle_, 1);
    apply_tcp_options();
    start_read();
    // A new connection gets RequestReadTimeout header= for its first request head (nginx's
    // client_header_timeout plays the same role); KeepAliveTimeout only applies between
    // requests.
    arm(Deadline::header, header_timeout_ms(*worker_.shared().config));
    KAHTTPD_LOG(debug, "conn=%llu client=%s accepted", static_cast<unsigned long long>(id_),
                peer().c_str());
}

/// One access-log line for the response just queued (a no-op without CustomLog).
void Connection::log_access(bool parsed) noexcept {
    const std::uint64_t now_us = uv_hrtime() / 1000;
    if (!worker_.shared().access_logs.empty()) {
        char ip[64];
        AccessRecord r;
        r.client = ip_text(client_ip_, ip);
        r.time = std::time(nullptr);
        r.request = parsed ? &busy().parser.request() : nullptr;
        r.status = busy().last_status_;
        r.body_bytes = busy().last_body_bytes_;
        r.duration_us = busy().request_start_us_ != 0 && now_us > busy().request_start_us_
                            ? now_us - busy().request_start_us_
                            : 0;
        r.previous_requests = requests_ > 0 ? requests_ - 1 : 0;
        r.keep_alive = !close_after_;
        r.close_reason = close_after_ ? to_string(close_reason_) : std::string_view();
        r.server_name = host().vhost->server_name.value;
        worker_.access_log(r, busy().log_pending_);
    }
    busy().request_start_us_ = 0;
}

/// TCPKeepAlive* and TCPUserTimeout on the accepted socket. Failures are logged, not fatal.
void Connection::apply_tcp_options() noexcept {
    const conf::Config& cfg = *worker_.shared().config;
    uv_os_fd_t fd = -1;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&handle_), &fd) != 0) {
        return;
    }
    auto set = [&](int level, int name, int value, const char* what) {
        if (::setsockopt(fd, level, name, &value, sizeof value) != 0) {
            KAHTTPD_LOG(warn, "conn=%llu setsockopt %s: %s", static_cast<unsigned long long>(id_),
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
                  "conn=%llu socket options: keepalive=%d idle=%d interval=%d count=%d "
                  "user_timeout=%d",
                  static_cast<unsigned long long>(id_), get(SOL_SOCKET, SO_KEEPALIVE),
                  get(IPPROTO_TCP, TCP_KEEPIDLE), get(IPPROTO_TCP, TCP_KEEPINTVL),
                  get(IPPROTO_TCP, TCP_KEEPCNT), get(IPPROTO_TCP, TCP_USER_TIMEOUT));
    }
}

void Connection::close(CloseReason reason) noexcept {
    if (state_ == State::closing || uv_is_closing(reinterpret_cast<uv_handle_t*>(&handle_))) {
        return;
    }
    state_ = State::closing;
    timer_.unlink();
    if (busy_ && !busy_->log_pending_.empty()) {
        // Responses that did not get out completely: their lines say 'X' for %X.
        worker_.commit_access_log(busy().log_pending_, output_pending());
    }
    ++worker_.stats().closes[static_cast<std::size_t>(reason)];
    worker_.stats().requests_per_conn.add(kRequestsPerConnBounds, requests_);
    KAHTTPD_LOG(debug, "conn=%llu closed: %s after %u requests",
                static_cast<unsigned long long>(id_), to_string(reason).data(), requests_);
    // Pending writes and the shutdown request are cancelled (UV_ECANCELED) before the close
    // callback runs; both are embedded in this object, which lives until then.
    uv_close(reinterpret_cast<uv_handle_t*>(&handle_), &Connection::on_close_cb);
}

void Connection::on_close_cb(uv_handle_t* h) noexcept {
    std::unique_ptr<Connection> self(static_cast<Connection*>(h->data));
    self->worker_.on_connection_freed(*self);
}

void Connection::on_server_drain() noexcept {
    if (state_ == State::closing) {
        return;
    }
    if (state_ == State::lingering) {
        // The last response is out; waiting up to the full linger time for the client's EOF
        // would only hold the shutdown. The short floor still protects a response in flight.
        if (timer_.deadline() > worker_.now_ms() + kDrainIdleFloorMs) {
            arm(Deadline::linger, kDrainIdleFloorMs);
        }
        return;
    }
    if (status_wait_) {
        // The status page being gathered is the last response.
        close_after_ = true;
        close_reason_ = worker_.drain_reason();
        return;
    }
    if (!in_message() && !output_pending() && (!busy_ || busy_->stash_.empty())) {
        // Idle, as far as this worker knows. A request may already be on the wire (in the
        // socket buffer, read in a later loop iteration): give it a short floor instead of
        // cutting it. If it arrives, it is answered with "Connection: close".
        arm(Deadline::drain, kDrainIdleFloorMs);
        return;
    }
    if (!close_after_ && (answered_ || output_pending())) {
        // The response in progress is the last one. (A request still arriving gets
        // "Connection: close" from on_request, which checks draining().)
        close_after_ = true;
        close_reason_ = worker_.drain_reason();
    }
    if (answered_ && !output_pending()) {
        // Answered already, only its body is still coming: no need to wait for it.
        start_linger();
    }
}

// ---- reading ---------------------------------------------------------------------------------

ConnectionBusy& Connection::busy() noexcept {
    if (!busy_) {
        busy_ = BusyPool::for_this_thread().take(worker_.shared().limits);
        busy_->write_req.data = this;
        busy_->shutdown_req.data = this;
    }
    return *busy_;
}

void Connection::release_busy() noexcept {
    if (!busy_ || write_in_flight_ || state_ == State::lingering || status_wait_ || in_message() ||
        output_pending() || !busy_->stash_.empty()) {
        return;
    }
    if (!busy_->log_pending_.empty()) {
        worker_.commit_access_log(busy_->log_pending_, false);
    }
    // Per-request pointers go with it: settings_ may point into the busy object's merged
    // settings, and an idle connection pins no cache entry.
    host_ = nullptr;
    settings_ = nullptr;
    file_.reset();
    BusyPool::for_this_thread().give(std::move(busy_));
}

void Connection::start_read() noexcept {
    if (!reading_ && state_ != State::closing) {
        if (uv_read_start(reinterpret_cast<uv_stream_t*>(&handle_), &Connection::on_alloc_cb,
                          &Connection::on_read_cb) == 0) {
            reading_ = true;
        }
    }
}

void Connection::on_alloc_cb(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
    // Every read lands in the worker's buffer: consume() copies out only what must outlive the
    // callback, so an idle connection holds no read buffer at all.
    auto* self = static_cast<Connection*>(h->data);
    buf->base = self->worker_.read_buffer();
    buf->len = Worker::kReadBufferSize;
}

void Connection::on_read_cb(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept {
    static_cast<Connection*>(s->data)->on_read(nread, buf);
}

void Connection::on_read(ssize_t nread, const uv_buf_t* buf) noexcept {
    if (state_ == State::closing) {
        return;
    }
    if (nread == 0) {
        return; // EAGAIN
    }
    if (nread < 0) {
        if (state_ == State::lingering) {
            close(close_reason_);
        } else if (nread == UV_EOF && (output_pending() || status_wait_)) {
            // The client half-closed after its last request: finish the responses, then close
            // (an incomplete request after them is dropped).
            close_after_ = true;
            close_reason_ = CloseReason::client_closed;
            uv_read_stop(reinterpret_cast<uv_stream_t*>(&handle_));
            reading_ = false;
        } else {
            const bool reset = nread == UV_EOF || nread == UV_ECONNRESET;
            if (!reset) {
                KAHTTPD_LOG(info, "conn=%llu client=%s read failed: %s while reading request",
                            static_cast<unsigned long long>(id_), peer().c_str(),
                            uv_err_name(static_cast<int>(nread)));
            }
            close(reset ? CloseReason::client_closed : CloseReason::io_error);
        }
        return;
    }
    if (state_ == State::idle && deadline_ == Deadline::idle && timer_.armed()) {
        // The next request starts: how long the connection sat idle (the idle deadline was
        // armed KeepAliveTimeout + 1 ms after the gap began; see Worker::schedule).
        const std::uint64_t since = timer_.deadline() - idle_timeout_ms() - 1;
        const std::uint64_t now = uv_hrtime() / 1000000;
        worker_.stats().idle_gaps.add(kIdleGapBoundsMs, now > since ? now - since : 0);
    }
    if (state_ == State::lingering) {
        busy().linger_bytes_ += static_cast<std::uint64_t>(nread);
        if (busy().linger_bytes_ > kLingerMaxBytes) {
            close(close_reason_);
        }
        return;
    }
    consume(std::string_view(buf->base, static_cast<std::size_t>(nread)));
}

void Connection::consume(std::string_view input) noexcept {
    consume_input(input);
    pump();
}

/// Parses and answers the requests in `input` until it is used up, the connection decides to
/// close, or backpressure stashes the rest. Does not write.
void Connection::consume_input(std::string_view input) noexcept {
    ConnectionBusy& b = busy();
    while (!input.empty() && state_ != State::closing) {
        if (close_after_) {
            // The last response is decided; what follows is never answered (and the close
            // must linger: the client is pipelining).
            dropped_input_ = true;
            break;
        }
        if (b.out_.size() - b.out_sent_ > kOutputHighWater) {
            flush();
            if (state_ == State::closing) {
                break; // the write failed and closed the connection
            }
        }
        if (write_in_flight_ || b.file_fd_ >= 0 || status_wait_) {
            // Backpressure: keep the unparsed rest, stop reading until the output drains.
            b.stash_.assign(input);
            if (reading_) {
                uv_read_stop(reinterpret_cast<uv_stream_t*>(&handle_));
                reading_ = false;
            }
            break;
        }
        if (b.request_start_us_ == 0) {
            b.request_start_us_ = uv_hrtime() / 1000; // for %D in the access log
        }
        const auto r = b.parser.feed(input);
        input.remove_prefix(r.consumed);
        switch (r.event) {
        case ParseEvent::need_more:
            break;
        case ParseEvent::head_complete:
            in_body_ = true;
            if (b.parser.request().chunked()) {
                // A chunked body has no announced length: answer once it has been read, so a
                // body over LimitRequestBody still gets its 413 instead of a 200 cut short.
                // A client waiting for "100 Continue" gets it now.
                b.parser.set_message_body_limit(body_limit_for(b.parser.request()));
                if (b.parser.request().expect_continue() && b.parser.request().http_minor() >= 1) {
                    b.out_.append("HTTP/1.1 100 Continue\r\n\r\n");
                }
                break;
            }
            on_request();
            if (!status_wait_) {
                log_access(true);
            }
            answered_ = true;
            break;
        case ParseEvent::message_complete:
            if (!answered_) {
                if (in_body_ && b.parser.request().expect_continue() &&
                    b.parser.request().http_minor() >= 1) {
                    // Its 100 Continue went out at head_complete.
                    expect_guard_ = true;
                }
                on_request();
                if (!status_wait_) {
                    log_access(true);
                }
                expect_guard_ = false;
            }
            answered_ = false;
            in_body_ = false;
            break;
        case ParseEvent::error:
            if (answered_) {
                // The head was answered already and the body went wrong (too long, bad
                // chunking): framing is lost, so close after the response.
                close_after_ = true;
                close_reason_ = CloseReason::parse_error;
                KAHTTPD_LOG(info, "conn=%llu client=%s %s while reading request body",
                            static_cast<unsigned long long>(id_), peer().c_str(),
                            b.parser.error_reason().data());
            } else {
                KAHTTPD_LOG(info, "conn=%llu client=%s %u %s while reading request %s",
                            static_cast<unsigned long long>(id_), peer().c_str(),
                            parser::code(b.parser.error_status()), b.parser.error_reason().data(),
                            in_body_ ? "body" : "head");
                // Nothing of a previous request applies to this answer.
                head_ = false;
                expect_pending_ = false;
                if (!in_body_) {
                    host_ = nullptr;
                    settings_ = nullptr;
                }
                respond_error(b.parser.error_status(), b.parser.error_reason(), true);
                close_reason_ = CloseReason::parse_error;
                log_access(in_body_);
            }
            input = {};
            break;
        }
    }
}

/// Writes what is queued and, each time the output drains, parses input stashed by
/// backpressure; when nothing is left to do, moves on (read again, or close).
void Connection::pump() noexcept {
    ConnectionBusy& b = busy();
    while (state_ != State::closing) {
        flush();
        if (state_ == State::closing || write_in_flight_) {
            return;
        }
        if (status_wait_) {
            if (!b.status_ready_) {
                return; // the snapshots are still coming
            }
            emit_status();
            continue;
        }
        if (b.stash_.empty()) {
            after_output();
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

// ---- requests --------------------------------------------------------------------------------

void Connection::on_request() noexcept {
    const parser::Request& req = busy().parser.request();
    const conf::Config& cfg = *worker_.shared().config;
    // The head is complete: its deadline is over. Every way out of pump() arms the next one
    // (send, linger, header, body or idle), so the connection is never left without one.
    timer_.unlink();
    deadline_ = Deadline::none;
    host_ = nullptr;
    settings_ = nullptr;
    ++requests_;
    ++worker_.stats().requests;
    state_ = State::writing;

    // RFC 9112 §9.3: decide persistence before the response is written, so it can say so.
    if (!req.keep_alive()) {
        close_after_ = true;
        close_reason_ = CloseReason::client_requested;
    } else if (!cfg.keep_alive) {
        close_after_ = true;
        close_reason_ = CloseReason::keep_alive_off;
    } else if (worker_.draining()) {
        close_after_ = true;
        close_reason_ = worker_.drain_reason();
    } else if (cfg.max_keep_alive_requests != 0 && requests_ >= cfg.max_keep_alive_requests) {
        close_after_ = true;
        close_reason_ = CloseReason::max_requests;
    }

    const auto method = static_cast<llhttp_method_t>(req.method_id());
    head_ = method == HTTP_HEAD;
    select_host(req);

    // RFC 9112 §3.2: an HTTP/1.1 request without Host, or with more than one, is a 400.
    int hosts = 0;
    for (const auto& field : req.headers()) {
        if (field.name.size() == 4 && (field.name[0] | 0x20) == 'h' &&
            (field.name[1] | 0x20) == 'o' && (field.name[2] | 0x20) == 's' &&
            (field.name[3] | 0x20) == 't') {
            ++hosts;
        }
    }
    if (hosts > 1 || (hosts == 0 && req.http_minor() == 1)) {
        respond_error(Status::bad_request, hosts > 1 ? "several Host fields" : "no Host field",
                      true);
        return;
    }
    // The 100 Continue decision; not for a chunked body that was read already.
    // RFC 9110 §10.1.1: Expect is ignored on HTTP/1.0.
    expect_pending_ =
        req.expect_continue() && req.has_body() && !expect_guard_ && req.http_minor() >= 1;
    if (method != HTTP_GET && method != HTTP_HEAD && !allowed_by_require(req)) {
        // Access control comes before the method, as in Apache: a denied resource is 403
        // whatever is asked of it.
        respond_error(Status::forbidden, "denied by Require", close_after_);
        return;
    }
    if (method == HTTP_OPTIONS) {
        // RFC 9110 §9.3.7: the methods a static server allows, for a resource or for "*".
        write_head(Status::ok, {}, 0, kAllowHeader);
        return;
    }
    if (method != HTTP_GET && method != HTTP_HEAD) {
        // Known to HTTP but not served here (TRACE included: it only echoes the request,
        // which has no use on a static server and helps cross-site tracing).
        respond_error(Status::method_not_allowed, "method not allowed", close_after_);
        return;
    }
    serve_file(req, method == HTTP_HEAD);
}

/// Require for the request's target, outside the file-serving path (OPTIONS, 405). "*" and
/// targets that do not resolve are judged by the host's base settings.
bool Connection::allowed_by_require(const parser::Request& req) noexcept {
    const HostContext& h = host();
    TargetPath target;
    const conf::AccessRule* rule = &h.base.require;
    conf::Effective merged;
    if (h.has_sections && resolve_target(req.target(), target) == Status::ok) {
        std::string fs_path = h.root->path().native();
        if (!target.path.empty()) {
            fs_path.append("/").append(target.path);
        }
        merged = h.vhost->effective(worker_.shared().config->main, fs_path, "/" + target.path);
        rule = &merged.require;
    }
    return rule->any.empty() || rule->allows(client_ip_, local_ip_);
}

void Connection::select_host(const parser::Request& req) noexcept {
    const SharedState& shared = worker_.shared();
    const conf::Config& cfg = *shared.config;
    if (cfg.vhosts.empty()) {
        host_ = &shared.hosts[0];
    } else {
        char ip[64];
        const std::string host = conf::normalize_host(req.header("Host").value_or(""));
        host_ = &shared.host_for(cfg.select_vhost(ip_text(local_ip_, ip), local_port_, host));
    }
    settings_ = &host_->base;
}

/// LimitRequestBody for the request's target (its vhost, Directory and Location sections).
std::uint64_t Connection::body_limit_for(const parser::Request& req) noexcept {
    select_host(req);
    const HostContext& h = host();
    TargetPath target;
    if (!h.has_sections || resolve_target(req.target(), target) != Status::ok) {
        return h.base.limit_request_body;
    }
    std::string fs_path = h.root->path().native();
    if (!target.path.empty()) {
        fs_path.append("/").append(target.path);
    }
    return h.vhost->effective(worker_.shared().config->main, fs_path, "/" + target.path)
        .limit_request_body;
}

const HostContext& Connection::host() const noexcept {
    return host_ != nullptr ? *host_ : worker_.shared().hosts[0];
}

const conf::Effective& Connection::settings() const noexcept {
    return settings_ != nullptr ? *settings_ : host().base;
}

void Connection::serve_file(const parser::Request& req, bool head) noexcept {
    const SharedState& shared = worker_.shared();
    const HostContext& h = host();
    // The open-file cache is keyed by the host and the path as sent (the query cut off):
    // resolving a target is a pure function of it, so a hit needs no resolving, no merging of
    // sections and no system call (but a stat once per FileCacheValid).
    file_.reset();
    FileCache& cache = file_cache_for(shared);
    char key_buf[kMaxCacheKey];
    std::string_view key;
    FileEntry* hit = nullptr;
    const std::uint64_t now_ms = worker_.now_ms();
    if (cache.enabled() && !req.target().empty() && req.target()[0] == '/') {
        const std::string_view raw = req.target().substr(0, req.target().find('?'));
        const std::size_t host_index = static_cast<std::size_t>(&h - shared.hosts.data());
        if (raw.size() + sizeof host_index <= sizeof key_buf) {
            std::memcpy(key_buf, &host_index, sizeof host_index);
            std::memcpy(key_buf + sizeof host_index, raw.data(), raw.size());
            key = std::string_view(key_buf, raw.size() + sizeof host_index);
            hit = cache.find(key, now_ms);
        }
    }
    TargetPath target;
    Status status = Status::ok;
    if (hit != nullptr) {
        file_ = FileRef(hit);
        settings_ = hit->settings;
    } else {
        status = resolve_target(req.target(), target);
        if (status != Status::ok) {
            respond_error(status, "bad request target", close_after_);
            return;
        }
        if (h.has_sections) {
            // <Directory> and <Location> sections may apply: merge for this path.
            std::string fs_path = h.root->path().native();
            std::string url_path = "/";
            url_path.append(target.path);
            if (!target.path.empty()) {
                fs_path.append("/").append(target.path);
            }
            busy().merged_ = std::make_unique<conf::Effective>(
                h.vhost->effective(shared.config->main, fs_path, url_path));
            settings_ = busy().merged_.get();
        }
    }
    const conf::Effective& eff = settings();
    if (!eff.require.any.empty() && !eff.require.allows(client_ip_, local_ip_)) {
        respond_error(Status::forbidden, "denied by Require", close_after_);
        return;
    }
    if (eff.handler == "server-status") {
        // Local clients only, unless a <Location> over it says who may see it.
        static const conf::AccessRule kLocal{{{conf::AccessRule::Kind::local, {}}}};
        if (!h.vhost->location_sets_require(worker_.shared().config->main, "/" + target.path) &&
            !kLocal.allows(client_ip_, local_ip_)) {
            respond_error(Status::forbidden, "server-status is for local clients", close_after_);
            return;
        }
        serve_status(target);
        return;
    }
    if (eff.limit_request_body != 0 && req.content_length() &&
        *req.content_length() > eff.limit_request_body) {
        respond_error(Status::payload_too_large, "body larger than LimitRequestBody", true);
        return;
    }
    if (hit != nullptr) {
        serve_representation(req, *hit, head);
        return;
    }
    OpenedFile file;
    const SymlinkPolicy links = symlink_policy(eff);
    switch (h.root->open(target, eff.directory_index, file, status, links)) {
    case OpenOutcome::error:
        if (status == Status::internal_error) {
            KAHTTPD_LOG(error, "conn=%llu client=%s cannot open \"%s\": %s",
                        static_cast<unsigned long long>(id_), peer().c_str(), target.path.c_str(),
                        std::strerror(errno));
        }
        // A 500 (typically EMFILE: out of descriptors) closes the connection, which gives a
        // descriptor back instead of answering 500 on it for as long as the client stays.
        respond_error(status, "", close_after_ || status == Status::internal_error);
        return;
    case OpenOutcome::redirect_to_slash: {
        // Built from the normalised path, percent-encoded, never from the raw target: a raw
        // "//host" would make the redirect leave the site.
        std::string location = "Location: /";
        percent_encode_path(target.path, location);
        location.append("/");
        if (!target.query.empty()) {
            location.append("?").append(target.query);
        }
        location.append("\r\n");
        write_head(Status::moved_permanently, "text/html; charset=utf-8", 0, location);
        return;
    }
    case OpenOutcome::directory:
        serve_listing(req, target, file, head);
        return;
    case OpenOutcome::file:
        break;
    }
    // A directory's index file is cached only when it is the first DirectoryIndex name: the
    // revalidation checks that file, so an earlier name appearing later would go unnoticed.
    const bool cacheable =
        !key.empty() && (file.rel == target.path || (!eff.directory_index.empty() &&
                                                     file.name == eff.directory_index.front()));
    auto entry = std::make_unique<FileEntry>();
    entry->build(*h.root, file, eff, links, *shared.mime, shared.server_header, cacheable);
    if (FileEntry* cached = cacheable ? cache.insert(key, entry, now_ms) : nullptr) {
        if (h.has_sections) {
            cached->merged = std::move(busy().merged_); // settings_ points into it and stays valid
        }
        file_ = FileRef(cached);
        serve_representation(req, *cached, head);
        return;
    }
    // Not cached (the cache is off, or the entry does not fit): for this response only, so
    // its descriptors are closed now (a streamed body has its own).
    serve_representation(req, *entry, head);
}

/// SetHandler server-status: asks every worker for its snapshot; the response is written by
/// finish_status() once they have all answered. Until then the connection reads nothing more.
void Connection::serve_status(const TargetPath& target) noexcept {
    bool json = false;
    unsigned refresh = 0;
    unsigned limit = 1000;
    std::string_view q = target.query;
    while (!q.empty()) {
        const std::size_t amp = q.find('&');
        const std::string_view part = q.substr(0, amp);
        if (part == "json" || part == "format=json") {
            json = true;
        } else if (part.starts_with("limit=")) {
            std::from_chars(part.data() + 6, part.data() + part.size(), limit);
        } else if (part.starts_with("refresh=")) {
            std::from_chars(part.data() + 8, part.data() + part.size(), refresh);
            refresh = std::min(refresh, 3600u);
        }
        q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    }
    status_wait_ = true;
    arm(Deadline::send, static_cast<std::uint64_t>(worker_.shared().config->timeout.count()));
    worker_.gather_status(id_, json, refresh, limit);
}

void Connection::finish_status(const StatusReport& report, bool json, unsigned refresh) noexcept {
    if (!status_wait_ || state_ == State::closing) {
        return;
    }
    auto ready = std::make_unique<ConnectionBusy::PendingStatus>();
    ready->json = json;
    ready->body = json ? render_status_json(report) : render_status_html(report, refresh);
    busy().status_ready_ = std::move(ready);
    // Responses queued before it may still be on their way (a write in flight owns out_):
    // pump() queues the page once they are out.
    pump();
}

/// Queues the status page gathered for the waiting request (output must be idle).
void Connection::emit_status() noexcept {
    const std::unique_ptr<ConnectionBusy::PendingStatus> ready = std::move(busy().status_ready_);
    status_wait_ = false;
    write_head(Status::ok, ready->json ? "application/json" : "text/html; charset=utf-8",
               ready->body.size(), "Cache-Control: no-store\r\n");
    if (!head_) {
        busy().out_.append(ready->body);
    }
    log_access(true);
}

ConnectionRow Connection::status_row(std::uint64_t now_ms) const {
    static constexpr const char* kStates[] = {"reading", "writing", "idle", "lingering", "closing"};
    static constexpr const char* kDeadlines[] = {"",     "header", "body", "send",
                                                 "idle", "linger", "drain"};
    ConnectionRow row;
    row.id = id_;
    row.client = peer();
    row.state = kStates[static_cast<std::size_t>(state_)];
    row.requests = requests_;
    if (timer_.armed()) {
        row.deadline = kDeadlines[static_cast<std::size_t>(deadline_)];
        const std::uint64_t at = timer_.deadline();
        row.deadline_ms = at > now_ms ? static_cast<std::int64_t>(at - now_ms) : 0;
        if (state_ == State::idle && deadline_ == Deadline::idle) {
            const std::uint64_t since = at - idle_timeout_ms() - 1;
            row.idle_ms = now_ms > since ? static_cast<std::int64_t>(now_ms - since) : 0;
        }
    }
    return row;
}

std::uint64_t Connection::idle_timeout_ms() const noexcept {
    return static_cast<std::uint64_t>(worker_.shared().config->keep_alive_timeout.count());
}

/// A directory without index file: a listing with Options Indexes (HTML, or JSON for a client
/// that asks for application/json), 403 without.
void Connection::serve_listing(const parser::Request& req, const TargetPath& target,
                               const OpenedFile& dir, bool head) noexcept {
    if ((settings().options & conf::OptionsSpec::kIndexes) == 0) {
        respond_error(Status::forbidden, "directory without index and no Options Indexes",
                      close_after_);
        return;
    }
    std::vector<DirEntry> entries;
    if (!read_directory(dir.fd, entries)) {
        respond_error(Status::forbidden, "directory cannot be read", close_after_);
        return;
    }
    std::string url = "/";
    url.append(target.path);
    if (!target.path.empty()) {
        url.push_back('/');
    }
    const auto accept = req.header("Accept");
    const bool json = accept && accept->find("application/json") != std::string_view::npos;
    const std::string body = json ? render_json(url, entries) : render_html(url, entries);
    write_head(Status::ok, json ? "application/json" : "text/html; charset=utf-8", body.size(),
               "Vary: Accept\r\n");
    if (!head) {
        busy().out_.append(body);
    }
}

/// A regular file: choose the representation (a precompressed variant), evaluate the
/// preconditions, then answer 200, 206 (one range or multipart/byteranges), 304, 412 or 416.
void Connection::serve_representation(const parser::Request& req, const FileEntry& entry,
                                      bool head) noexcept {
    const conf::Effective& eff = settings();

    // Precompressed variants beside the file: foo.css.br, foo.css.gz (PrecompressedFiles).
    int chosen = FileEntry::kIdentity;
    if (entry.vary) {
        const Coding coding =
            choose_coding(req.header("Accept-Encoding"), entry.reps[FileEntry::kBr].exists,
                          entry.reps[FileEntry::kGzip].exists);
        chosen = coding == Coding::br     ? FileEntry::kBr
                 : coding == Coding::gzip ? FileEntry::kGzip
                                          : FileEntry::kIdentity;
    }
    // Validators of the representation actually sent.
    const FileRep& rep = entry.reps[chosen];
    const auto size = rep.size();
    const std::time_t mtime = rep.st.st_mtim.tv_sec;
    const EntityTag& current = rep.tag;

    // RFC 9110 §13.2.2.
    ConditionalHeaders conditions;
    std::string match_lines, none_match_lines; // only when a field is repeated
    conditions.if_match = req.header_list("If-Match", match_lines);
    conditions.if_none_match = req.header_list("If-None-Match", none_match_lines);
    conditions.if_modified_since = req.header("If-Modified-Since");
    conditions.if_unmodified_since = req.header("If-Unmodified-Since");
    switch (evaluate_preconditions(conditions, true, !rep.etag.empty(), current, mtime)) {
    case Precondition::not_modified:
        write_head(Status::not_modified, {}, 0, rep.validators);
        return;
    case Precondition::failed:
        respond_error(Status::precondition_failed, "precondition failed", close_after_);
        return;
    case Precondition::proceed:
        break;
    }
    const std::string_view type = entry.type;

    // Ranges (RFC 9110 §14), only when If-Range (if any) still holds.
    busy().ranges_.clear();
    RangeResult ranged = RangeResult::none;
    if (const auto range = req.header("Range")) {
        const auto if_range = req.header("If-Range");
        if (!if_range || if_range_allows(*if_range, !rep.etag.empty(), current, mtime)) {
            ranged = parse_ranges(*range, size, eff.max_ranges, busy().ranges_);
        }
    }
    if (ranged == RangeResult::unsatisfiable) {
        std::string content_range = "Content-Range: ";
        format_unsatisfied_range(content_range, size);
        content_range.append("\r\n");
        respond_error(Status::range_not_satisfiable, "range not satisfiable", close_after_,
                      content_range);
        return;
    }
    if (ranged == RangeResult::none) {
        if (!rep.head.empty() && !expect_pending_) {
            write_cached_head(rep); // the common case: one copy of a prepared block
        } else {
            write_head(Status::ok, type, size, rep.fields);
        }
        send_file_ranges(rep, {}, size, head);
        return;
    }
    std::string extra = rep.fields;
    if (busy().ranges_.size() == 1) {
        extra.append("Content-Range: ");
        format_content_range(extra, busy().ranges_[0], size);
        extra.append("\r\n");
        write_head(Status::partial_content, type,
                   busy().ranges_[0].last - busy().ranges_[0].first + 1, extra);
        send_file_ranges(rep, {}, size, head);
        return;
    }
    const std::string boundary = make_boundary();
    const std::uint64_t total = multipart_length(busy().ranges_, boundary, type, size);
    std::string multipart_type = "multipart/byteranges; boundary=";
    multipart_type.append(boundary);
    write_head(Status::partial_content, multipart_type, total, extra);
    send_file_ranges(rep, boundary, size, head, type);
}

/// The body of a file response: the whole file (busy().ranges_ empty) or busy().ranges_, as one
/// range or as multipart parts with `boundary`. Small bodies are read into the output next to the
/// header; larger ones stream after it.
void Connection::send_file_ranges(const FileRep& rep, std::string_view boundary, std::uint64_t size,
                                  bool head, std::string_view part_type) noexcept {
    if (head) {
        return;
    }
    if (busy().ranges_.empty()) {
        busy().ranges_.push_back(ByteRange{0, size == 0 ? 0 : size - 1});
        if (size == 0) {
            return;
        }
    }
    std::uint64_t bytes = 0;
    for (const auto& r : busy().ranges_) {
        bytes += r.last - r.first + 1;
    }
    const bool multipart = !boundary.empty();
    if (bytes <= kInlineFileMax) {
        for (const auto& r : busy().ranges_) {
            if (multipart) {
                append_part_header(busy().out_, boundary, part_type, r, size);
            }
            if (rep.in_memory) {
                busy().out_.append(rep.body, r.first, r.last - r.first + 1);
            } else if (!append_file_range(rep.fd, r.first, r.last - r.first + 1)) {
                return;
            }
        }
        if (multipart) {
            append_closing_delimiter(busy().out_, boundary);
        }
        return;
    }
    // The entry keeps its descriptor (it may be cached, or dropped while this body streams):
    // the stream gets its own.
    busy().file_fd_ = rep.fd >= 0 ? ::fcntl(rep.fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (busy().file_fd_ < 0) {
        KAHTTPD_LOG(error, "conn=%llu cannot stream a file: %s",
                    static_cast<unsigned long long>(id_), std::strerror(errno));
        close_after_ = true;
        close_reason_ = CloseReason::io_error;
        return;
    }
    busy().sendfile_ = settings().enable_sendfile;
    busy().segments_.clear();
    busy().segment_ = 0;
    for (const auto& r : busy().ranges_) {
        ConnectionBusy::Segment seg{{}, r.first, r.last - r.first + 1};
        if (multipart) {
            append_part_header(seg.text, boundary, part_type, r, size);
        }
        busy().segments_.push_back(std::move(seg));
    }
    if (multipart) {
        ConnectionBusy::Segment closing;
        append_closing_delimiter(closing.text, boundary);
        busy().segments_.push_back(std::move(closing));
    }
}

/// Reads `length` bytes of a file from `offset` into the output, right after the header, so
/// header and body leave in one write. False (and the connection marked to close, since the
/// header already promised the length) when the file came up short.
bool Connection::append_file_range(int fd, std::uint64_t offset, std::uint64_t length) noexcept {
    const std::size_t at = busy().out_.size();
    busy().out_.resize(at + length);
    std::size_t got = 0;
    while (got < length) {
        const ssize_t n = ::pread(fd, busy().out_.data() + at + got, length - got,
                                  static_cast<off_t>(offset + got));
        if (n <= 0) {
            break;
        }
        got += static_cast<std::size_t>(n);
    }
    if (got < length) {
        KAHTTPD_LOG(error, "conn=%llu short read of a file while building a response",
                    static_cast<unsigned long long>(id_));
        busy().out_.resize(at + got);
        close_after_ = true;
        close_reason_ = CloseReason::io_error;
        return false;
    }
    return true;
}

void Connection::write_head(Status status, std::string_view content_type,
                            std::uint64_t content_length, std::string_view extra_headers) noexcept {
    ConnectionBusy& b = busy();
    if (expect_pending_) {
        // The request is accepted: tell the client to send its body (which is then read and
        // discarded), and answer right behind it.
        expect_pending_ = false;
        b.out_.append("HTTP/1.1 100 Continue\r\n\r\n");
    }
    b.last_status_ = parser::code(status);
    b.last_body_bytes_ = head_ || status == Status::not_modified ? 0 : content_length;
    b.out_.append("HTTP/1.1 ");
    append_number(b.out_, parser::code(status));
    b.out_.push_back(' ');
    b.out_.append(parser::reason_phrase(status));
    b.out_.append("\r\n");
    const std::size_t fields = b.out_.size();
    b.out_.append(worker_.shared().server_header);
    b.out_.append("Date: ");
    b.out_.append(worker_.date().get(std::time(nullptr)));
    b.out_.append("\r\n");
    if (!content_type.empty()) {
        b.out_.append("Content-Type: ");
        b.out_.append(content_type);
        b.out_.append("\r\n");
    }
    if (status != Status::not_modified) {
        // A 304 has no body and describes the selected representation by its validators
        // only (RFC 9110 §15.4.5).
        b.out_.append("Content-Length: ");
        append_number(b.out_, content_length);
        b.out_.append("\r\n");
    }
    b.out_.append(extra_headers);
    append_connection_fields();
    if (const auto& rules = settings().headers; !rules.empty()) {
        std::string block = b.out_.substr(fields);
        const auto c = parser::code(status);
        apply_header_rules(block, rules, (c >= 200 && c < 300) || c == 304);
        b.out_.resize(fields);
        b.out_.append(block);
    }
    b.out_.append("\r\n");
}

/// The head of a 200 for a cached representation without Header rules: its prepared block with
/// the current Date, then the persistence fields. Same bytes as write_head would produce.
void Connection::write_cached_head(const FileRep& rep) noexcept {
    ConnectionBusy& b = busy();
    b.last_status_ = 200;
    b.last_body_bytes_ = head_ ? 0 : rep.size();
    const std::size_t at = b.out_.size();
    b.out_.append(rep.head);
    std::memcpy(b.out_.data() + at + rep.date_at, worker_.date().get(std::time(nullptr)).data(),
                29);
    append_connection_fields();
    b.out_.append("\r\n");
}

/// Connection / Keep-Alive (RFC 9112 §9.3), as decided for the current response.
void Connection::append_connection_fields() noexcept {
    const conf::Config& cfg = *worker_.shared().config;
    if (close_after_) {
        busy().out_.append("Connection: close\r\n");
        return;
    }
    if (busy().parser.request().http_minor() == 0) {
        busy().out_.append("Connection: keep-alive\r\n"); // HTTP/1.0 asked for it: echo (§9.3)
    }
    busy().out_.append("Keep-Alive: timeout=");
    append_number(busy().out_, static_cast<std::uint64_t>(cfg.keep_alive_timeout.count() / 1000));
    if (cfg.max_keep_alive_requests != 0) {
        busy().out_.append(", max=");
        append_number(busy().out_, cfg.max_keep_alive_requests - requests_);
    }
    busy().out_.append("\r\n");
}

void Connection::respond_error(Status status, std::string_view why, bool close_after,
                               std::string_view extra_headers) noexcept {
    if (expect_pending_) {
        // "Expect: 100-continue" refused: the final status goes out now, without a 100, so
        // the client will not send its body, and the bytes that follow are not framed any more
        // (RFC 9110 §10.1.1): close after the response.
        close_after = true;
        expect_pending_ = false;
    }
    if (close_after && !close_after_) {
        close_after_ = true;
        close_reason_ = CloseReason::parse_error;
    }
    state_ = State::writing;
    (void)why;
    std::string extra(extra_headers);
    if (status == Status::method_not_allowed) {
        extra = kAllowHeader;
    }
    const conf::Effective& eff = settings();
    if (const auto it = eff.error_documents.find(static_cast<int>(parser::code(status)));
        it != eff.error_documents.end() && serve_error_document(status, it->second, extra)) {
        return;
    }
    const auto code = parser::code(status);
    const auto reason = parser::reason_phrase(status);
    std::string body = "<!DOCTYPE html>\n<html><head><title>";
    append_number(body, code);
    body.append(" ").append(reason).append("</title></head>\n<body><h1>");
    body.append(reason).append("</h1>\n");
    const conf::Config& cfg = *worker_.shared().config;
    if (cfg.server_signature != conf::Config::ServerSignature::off) {
        // Apache's footer; the host name comes from the client, so it is escaped.
        const HostContext& h = host();
        std::string name = h.vhost->server_name.value;
        if (host_ != nullptr) {
            if (const auto hv = busy().parser.request().header("Host")) {
                name = conf::normalize_host(*hv);
            }
        }
        body.append("<hr>\n<address>");
        append_html(body, worker_.shared().server_version);
        body.append(" Server at ");
        const std::string& admin = h.vhost->server_admin.value;
        if (cfg.server_signature == conf::Config::ServerSignature::email && !admin.empty()) {
            body.append("<a href=\"mailto:");
            append_html(body, admin);
            body.append("\">");
            append_html(body, name);
            body.append("</a>");
        } else {
            append_html(body, name);
        }
        body.append(" Port ");
        append_number(body, local_port_);
        body.append("</address>\n");
    }
    body.append("</body></html>\n");
    write_head(status, "text/html; charset=utf-8", body.size(), extra);
    if (!head_) {
        busy().out_.append(body);
    }
}

/// ErrorDocument: a message, a redirect (302, as Apache does for a full URL), or a local file
/// served with the error status. False when the local file cannot be served (the built-in page
/// is used then).
bool Connection::serve_error_document(Status status, const conf::ErrorDocument& doc,
                                      std::string_view extra) noexcept {
    using Kind = conf::ErrorDocument::Kind;
    switch (doc.kind) {
    case Kind::text:
        write_head(status, "text/html; charset=utf-8", doc.target.size(), extra);
        if (!head_) {
            busy().out_.append(doc.target);
        }
        return true;
    case Kind::redirect: {
        std::string location(extra);
        location.append("Location: ").append(doc.target).append("\r\n");
        write_head(Status::found, "text/html; charset=utf-8", 0, location);
        return true;
    }
    case Kind::local_url:
        break;
    }
    TargetPath target;
    OpenedFile file;
    Status open_status = Status::ok;
    if (resolve_target(doc.target, target) != Status::ok ||
        host().root->open(target, settings().directory_index, file, open_status,
                          symlink_policy(settings())) != OpenOutcome::file ||
        static_cast<std::uint64_t>(file.st.st_size) > kInlineFileMax) {
        KAHTTPD_LOG(warn, "conn=%llu ErrorDocument %u %s cannot be served, using the built-in page",
                    static_cast<unsigned long long>(id_), parser::code(status), doc.target.c_str());
        return false;
    }
    const auto size = static_cast<std::uint64_t>(file.st.st_size);
    write_head(status, worker_.shared().mime->lookup(file.name), size, extra);
    if (!head_) {
        append_file_range(file.fd, 0, size);
    }
    return true;
}

// ---- writing ---------------------------------------------------------------------------------

bool Connection::output_pending() const noexcept {
    return write_in_flight_ ||
           (busy_ && (busy_->out_sent_ < busy_->out_.size() || busy_->file_fd_ >= 0));
}

void Connection::flush() noexcept {
    ConnectionBusy& b = busy();
    auto* stream = reinterpret_cast<uv_stream_t*>(&handle_);
    while (!write_in_flight_ && state_ != State::closing) {
        if (b.out_sent_ == b.out_.size()) {
            b.out_.clear();
            b.out_sent_ = 0;
            if (b.file_fd_ < 0) {
                if (busy_ && !busy_->log_pending_.empty()) {
                    worker_.commit_access_log(b.log_pending_, false); // all sent: + or -
                }
                return;
            }
            // Refill from the streamed body: the segment's text, then its file bytes in
            // chunks of kFileChunk.
            while (b.segment_ < b.segments_.size() && b.segments_[b.segment_].text.empty() &&
                   b.segments_[b.segment_].length == 0) {
                ++b.segment_;
            }
            if (b.segment_ == b.segments_.size()) {
                ::close(b.file_fd_);
                b.file_fd_ = -1;
                b.segments_.clear();
                b.segment_ = 0;
                continue; // all sent: commit the access-log lines above
            }
            ConnectionBusy::Segment& seg = b.segments_[b.segment_];
            if (!seg.text.empty()) {
                // Copied, not swapped: out_ keeps its chunk-sized buffer for the next read and
                // the segment's small string is freed now, not at the end of the response.
                b.out_.assign(seg.text);
                std::string().swap(seg.text);
                continue;
            }
            std::size_t chunk = kFileChunk;
            if (b.sendfile_) {
                // From the page cache to the socket, never through user space. Only here, with
                // nothing of out_ unsent and no uv_write in flight, so the bytes keep their
                // order. The socket is non-blocking: when it is full, the next few bytes go
                // through uv_write below instead, and its completion (the socket is writable
                // again) brings flush() back here.
                uv_os_fd_t sock = -1;
                uv_fileno(reinterpret_cast<const uv_handle_t*>(&handle_), &sock);
                auto offset = static_cast<off_t>(seg.offset);
                const ssize_t n = ::sendfile(
                    sock, b.file_fd_, &offset,
                    static_cast<std::size_t>(std::min<std::uint64_t>(seg.length, 1u << 30)));
                if (n > 0) {
                    seg.offset += static_cast<std::uint64_t>(n);
                    seg.length -= static_cast<std::uint64_t>(n);
                    continue;
                }
                if (n < 0 && errno == EINTR) {
                    continue;
                }
                if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
                    close(CloseReason::client_closed);
                    return;
                }
                if (n < 0 && errno != EAGAIN) {
                    // A file sendfile cannot read from: read/write for the rest of the body.
                    b.sendfile_ = false;
                    continue;
                }
                // EAGAIN, or 0 (the file shrank: the read below finds it).
                chunk = kSendfileWaitChunk;
            }
            const std::size_t want =
                static_cast<std::size_t>(std::min<std::uint64_t>(seg.length, chunk));
            b.out_.resize(want);
            const ssize_t n =
                ::pread(b.file_fd_, b.out_.data(), want, static_cast<off_t>(seg.offset));
            if (n <= 0) {
                KAHTTPD_LOG(error, "conn=%llu read of file failed while sending response",
                            static_cast<unsigned long long>(id_));
                close(CloseReason::io_error);
                return;
            }
            b.out_.resize(static_cast<std::size_t>(n));
            seg.offset += static_cast<std::uint64_t>(n);
            seg.length -= static_cast<std::uint64_t>(n);
            continue;
        }
        uv_buf_t buf = uv_buf_init(b.out_.data() + b.out_sent_,
                                   static_cast<unsigned>(b.out_.size() - b.out_sent_));
        const int n = uv_try_write(stream, &buf, 1);
        if (n > 0) {
            b.out_sent_ += static_cast<std::size_t>(n);
            continue;
        }
        if (n != UV_EAGAIN && n != 0) {
            close(n == UV_EPIPE || n == UV_ECONNRESET ? CloseReason::client_closed
                                                      : CloseReason::io_error);
            return;
        }
        // The socket is full: hand the rest to libuv, which waits for writability. out_ must
        // not change until on_write.
        const int rc = uv_write(&b.write_req, stream, &buf, 1, &Connection::on_write_cb);
        if (rc != 0) {
            close(CloseReason::io_error);
            return;
        }
        write_in_flight_ = true;
        state_ = State::writing;
        arm(Deadline::send, static_cast<std::uint64_t>(worker_.shared().config->timeout.count()));
    }
}

void Connection::on_write_cb(uv_write_t* req, int status) noexcept {
    static_cast<Connection*>(req->data)->on_write(status);
}

void Connection::on_write(int status) noexcept {
    write_in_flight_ = false;
    if (status == UV_ECANCELED || state_ == State::closing) {
        return; // closing: release only
    }
    if (status < 0) {
        close(status == UV_EPIPE || status == UV_ECONNRESET ? CloseReason::client_closed
                                                            : CloseReason::io_error);
        return;
    }
    busy().out_sent_ = busy().out_.size();
    pump();
}

/// Everything queued is written: close, or go back to reading.
void Connection::after_output() noexcept {
    if (output_pending() || state_ == State::closing || state_ == State::lingering) {
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
        start_linger();
        return;
    }
    start_read();
    update_deadline();
}

/// Safe to close without lingering: the request was read whole, nothing is stashed or was
/// dropped after it (a pipelining client), no byte waits to be read (FIONREAD), and every byte
/// of the response has been acknowledged (SIOCOUTQ) — so nothing can arrive to make the kernel
/// answer with a reset while part of the response is still unsent.
bool Connection::nothing_more_to_read() noexcept {
    if (in_message() || dropped_input_ || (busy_ && !busy_->stash_.empty())) {
        return false;
    }
    uv_os_fd_t fd = -1;
    int unread = 0;
    int unacked = 0;
    return uv_fileno(reinterpret_cast<const uv_handle_t*>(&handle_), &fd) == 0 &&
           ::ioctl(fd, FIONREAD, &unread) == 0 && unread == 0 &&
           ::ioctl(fd, SIOCOUTQ, &unacked) == 0 && unacked == 0;
}

void Connection::start_linger() noexcept {
    state_ = State::lingering;
    busy().stash_.clear();
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
    if (status < 0 && status != UV_ECANCELED && self->state_ != State::closing) {
        self->close(self->close_reason_);
    }
}

// ---- deadlines -------------------------------------------------------------------------------

void Connection::arm(Deadline kind, std::uint64_t delay_ms) noexcept {
    deadline_ = kind;
    worker_.schedule(timer_, delay_ms);
}

/// Picks the deadline that fits what the connection is waiting for now.
void Connection::update_deadline() noexcept {
    const conf::Config& cfg = *worker_.shared().config;
    if (in_message()) {
        state_ = State::reading;
        if (in_body_) {
            // Receiving a body: RequestReadTimeout body= applies between reads, so every
            // read that makes progress re-arms it.
            arm(Deadline::body, body_timeout_ms(cfg));
        } else if (deadline_ != Deadline::header) {
            // The head started arriving: it has RequestReadTimeout header= to complete,
            // counted from now and not extended by later bytes (a trickle cannot hold it open).
            arm(Deadline::header, header_timeout_ms(cfg));
        }
        return;
    }
    if (requests_ == 0) {
        release_busy(); // (only empty lines so far)
        return;         // the first request's header deadline, armed at accept, still runs
    }
    state_ = State::idle;
    release_busy();
    if (deadline_ == Deadline::idle) {
        // Already idle: bytes that start no request (llhttp skips empty lines) must not
        // extend the keep-alive timeout.
        return;
    }
    // (Its busy state, buffers included, went back to the worker's pool above.)
    if (worker_.draining()) {
        close(worker_.drain_reason());
        return;
    }
    arm(Deadline::idle, idle_timeout_ms());
}

void Connection::on_timer_cb(TimerEntry&, void* data) noexcept {
    static_cast<Connection*>(data)->on_timer();
}

void Connection::on_timer() noexcept {
    switch (deadline_) {
    case Deadline::none:
        return;
    case Deadline::idle:
        close(CloseReason::idle_timeout);
        return;
    case Deadline::header:
        KAHTTPD_LOG(info, "conn=%llu client=%s request head timed out while reading request head",
                    static_cast<unsigned long long>(id_), peer().c_str());
        if (in_message() && !output_pending()) {
            // Apache answers 408 here; the response is best effort before the close. Nothing
            // of the previous request applies to it.
            head_ = false;
            host_ = nullptr;
            settings_ = nullptr;
            respond_error(Status::request_timeout, "request head timeout", true);
            close_reason_ = CloseReason::header_timeout;
            flush();
            if (state_ != State::closing && !write_in_flight_) {
                start_linger();
            }
            return;
        }
        close(CloseReason::header_timeout);
        return;
    case Deadline::body:
        close(CloseReason::body_timeout);
        return;
    case Deadline::send:
        KAHTTPD_LOG(info, "conn=%llu client=%s timed out while sending response",
                    static_cast<unsigned long long>(id_), peer().c_str());
        close(CloseReason::send_timeout);
        return;
    case Deadline::linger:
        close(close_reason_);
        return;
    case Deadline::drain:
        close(worker_.drain_reason());
        return;
    }
}

} // namespace kahttpd::server
