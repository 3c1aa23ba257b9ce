// Connection, TLS part: the handshake phase, records in (decrypted into the worker's read
// buffer, then the plain path), records out (plaintext encrypted in bounded pieces into a
// memory BIO, drained into libuv writes), and the close_notify. A plain connection never comes
// here: the transport tests tls_ once per read and once per flush (docs/architecture.md, "TLS").

#include "server/io/connection.hpp"

#include "parser/text.hpp"
#include "server/io/io_errors.hpp"
#include "server/io/worker.hpp"
#include "server/obs/log.hpp"

#include <algorithm>
#include <ctime>

namespace kahttpd::server {

namespace {

/// Plaintext encrypted per step: the records it makes are written (or handed to uv_write)
/// before the next piece is encrypted, so a large body costs at most this much ciphertext on
/// top of the output buffer (and the existing backpressure holds).
constexpr std::size_t kTlsEncryptChunk = 64 * 1024;
/// Records taken from the BIO per write.
constexpr std::size_t kTlsWriteChunk = 64 * 1024;
/// The first byte of a TLS record carrying a handshake message (RFC 8446 §5.1, ContentType 22).
constexpr unsigned char kTlsHandshakeRecord = 0x16;

constexpr std::string_view kPlainHttpBody =
    "Bad Request\n"
    "You're speaking plain HTTP to an SSL-enabled server port.\n"
    "Instead use the HTTPS scheme to access this URL, please.\n";

} // namespace

void Connection::start_handshake() noexcept {
    phase_ = Phase::handshake;
    arm_handshake_window();
}

/// RequestReadTimeout handshake=T[-MAX][,MinRate=R] from the start of the handshake (accept,
/// or the end of the PROXY header); without it the header window bounds the handshake.
void Connection::arm_handshake_window() noexcept {
    const conf::Config& cfg = *worker().shared().config;
    if (cfg.request_read_timeout_handshake.count() == 0) {
        arm_read_window(Deadline::handshake, now32() - since_ms_, cfg.request_read_timeout_header,
                        cfg.request_read_timeout_header_max, 0, 0);
        return;
    }
    arm_read_window(Deadline::handshake, now32() - since_ms_, cfg.request_read_timeout_handshake,
                    cfg.request_read_timeout_handshake_max,
                    cfg.request_read_timeout_handshake_min_rate, tls_->bytes_fed());
}

void Connection::on_tls_input(const char* data, std::size_t n) noexcept {
    if (phase_ == Phase::handshake && tls_->bytes_fed() == 0 && n > 0 &&
        static_cast<unsigned char>(data[0]) != kTlsHandshakeRecord) {
        refuse_plain_http();
        return;
    }
    tls_->feed(data, n);
    if (phase_ == Phase::handshake) {
        const TlsSession::Status st = tls_->handshake();
        if (st == TlsSession::Status::want_more) {
            flush_tls(); // the server's flight
            if (phase_ == Phase::handshake && !write_in_flight_) {
                arm_handshake_window(); // MinRate: more bytes, more time
            }
            return;
        }
        if (st != TlsSession::Status::ok) {
            ++worker().stats().tls_failures;
            char p[80];
            KAHTTPD_LOG(info, "conn=%llu client=%s TLS handshake failed: %s while reading the TLS "
                              "handshake",
                        static_cast<unsigned long long>(id()), peer(p).data(),
                        tls_->reason().c_str());
            flush_tls(); // the alert, best effort
            close(CloseReason::tls_error);
            return;
        }
        on_handshake_done();
    }
    // Every record the bytes completed, decrypted into the worker's read buffer (the records
    // themselves were copied into the session's BIO), each piece taken as a plain read would be.
    char* plain = worker().read_buffer();
    for (;;) {
        std::size_t got = 0;
        const TlsSession::Status st = tls_->read(plain, Worker::kReadBufferSize, got);
        if (st == TlsSession::Status::ok) {
            if (!reading_ && busy_ && !busy_->stash_.empty()) {
                // Backpressure stopped reading in the middle of this batch: the rest joins the
                // stash (bounded by what one socket read brought).
                busy_->stash_.append(plain, got);
                continue;
            }
            on_input(std::string_view(plain, got));
            if (phase_ == Phase::closing || !tls_) {
                return;
            }
            continue;
        }
        if (st == TlsSession::Status::want_more) {
            break;
        }
        if (st == TlsSession::Status::closed) {
            on_read_error(UV_EOF); // close_notify: the client's EOF
            return;
        }
        char p[80];
        KAHTTPD_LOG(info, "conn=%llu client=%s TLS error: %s while reading request",
                    static_cast<unsigned long long>(id()), peer(p).data(), tls_->reason().c_str());
        close(CloseReason::tls_error);
        return;
    }
    if (phase_ != Phase::closing && tls_->output_pending() > 0 && !write_in_flight_) {
        flush(); // records OpenSSL made while reading (session tickets, a key update)
    }
    if (busy_ && (phase_ == Phase::head || phase_ == Phase::idle) && !in_message() &&
        !output_pending() && busy_->stash_.empty() && busy_->log_pending_.empty() &&
        requests_ == 0) {
        release_busy(); // the handshake's busy state: a connection waiting for its first request
    }
}

void Connection::on_handshake_done() noexcept {
    WorkerStats& stats = worker().stats();
    ++stats.tls_handshakes;
    if (tls_->resumed()) {
        ++stats.tls_resumed;
    }
    if (log_enabled(LogLevel::debug)) {
        char p[80];
        log_write(LogLevel::debug, "conn=%llu client=%s TLS %s %s%s sni=%s",
                  static_cast<unsigned long long>(id()), peer(p).data(),
                  std::string(tls_->protocol()).c_str(), std::string(tls_->cipher()).c_str(),
                  tls_->resumed() ? " resumed" : "", std::string(tls_->server_name()).c_str());
    }
    // The first request's head window starts now (nginx and Apache count it from here too).
    phase_ = Phase::head;
    since_ms_ = now32();
    if (worker().draining()) {
        // Finished in a drain (shutdown, reload, binary upgrade): the connection is idle as far
        // as this worker knows, as on_server_drain() treats one. A request already on its way
        // still gets the floor (its head then re-arms the header window and it is answered with
        // "Connection: close"); a client that only connected ahead, as a browser's preconnect
        // does, must not hold the retiring worker for the whole header window.
        arm(Deadline::drain, kDrainIdleFloorMs);
        return;
    }
    arm(Deadline::header, header_timeout_ms());
}

/// The first byte is not a TLS handshake record: most likely "GET / HTTP/1.1" sent to an https
/// address. Answered in clear text, as Apache does, and closed (lingering, so the 400 is read).
void Connection::refuse_plain_http() noexcept {
    ++worker().stats().tls_plain_http;
    char p[80];
    KAHTTPD_LOG(info, "conn=%llu client=%s 400 plain HTTP sent to an https address while reading "
                      "the TLS handshake",
                static_cast<unsigned long long>(id()), peer(p).data());
    tls_.reset(); // plain from here on: the answer, the FIN and the linger
    phase_ = Phase::head;
    ConnectionBusy& b = busy();
    b.out_.append("HTTP/1.1 400 Bad Request\r\nDate: ");
    b.out_.append(worker().date().get(std::time(nullptr)));
    b.out_.append("\r\n");
    b.out_.append(worker().shared().server_header);
    b.out_.append("Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
    text::append_number(b.out_, kPlainHttpBody.size());
    b.out_.append("\r\nConnection: close\r\n\r\n");
    b.out_.append(kPlainHttpBody);
    close_after_framing_lost(CloseReason::parse_error);
    pump();
}

/// flush() for TLS: records first (the BIO is the queue that keeps them in order), then the
/// next piece of plaintext encrypted, then the streamed body read in chunks (never sendfile).
void Connection::flush_tls() noexcept {
    ConnectionBusy& b = busy();
    auto* stream = reinterpret_cast<uv_stream_t*>(&handle_);
    while (!write_in_flight_ && phase_ != Phase::closing) {
        if (tls_->output_pending() > 0) {
            // Sized to what is pending (a 1 KiB response is about 1.1 KiB of records): the
            // buffer keeps its capacity in the busy pool, so a keep-alive response neither
            // allocates nor zero-fills 64 KiB.
            std::string& records = b.tls_out_;
            records.resize(std::min(tls_->output_pending(), kTlsWriteChunk));
            records.resize(tls_->take_output(records.data(), records.size()));
            uv_buf_t buf = uv_buf_init(records.data(), static_cast<unsigned>(records.size()));
            int n = uv_try_write(stream, &buf, 1);
            if (n == UV_EAGAIN) {
                n = 0;
            }
            if (n < 0) {
                close(close_reason_for(n));
                return;
            }
            if (static_cast<std::size_t>(n) == records.size()) {
                continue;
            }
            // The socket is full: libuv writes the rest when it can; tls_out_ stays as it is
            // until on_write.
            buf = uv_buf_init(records.data() + n, static_cast<unsigned>(records.size() - n));
            if (uv_write(&b.write_req, stream, &buf, 1, &Connection::on_write_cb) != 0) {
                close(CloseReason::io_error);
                return;
            }
            write_in_flight_ = true;
            arm(Deadline::send,
                static_cast<std::uint64_t>(worker().shared().config->timeout.count()));
            return;
        }
        if (b.out_sent_ == b.out_.size()) {
            if (!next_out_or_finish()) {
                return;
            }
            continue;
        }
        const std::size_t n = std::min(b.out_.size() - b.out_sent_, kTlsEncryptChunk);
        if (!tls_->write(b.out_.data() + b.out_sent_, n)) {
            char p[80];
            KAHTTPD_LOG(info, "conn=%llu client=%s TLS error: %s while sending response",
                        static_cast<unsigned long long>(id()), peer(p).data(),
                        tls_->reason().c_str());
            close(CloseReason::tls_error);
            return;
        }
        b.out_sent_ += n;
    }
}

/// A close_notify alert before the connection's end, written at once if the socket takes it
/// (it is tiny); never behind a write in flight, which would put it out of order.
void Connection::send_close_notify() noexcept {
    if (!tls_ || !tls_->established() || write_in_flight_) {
        return;
    }
    tls_->shutdown();
    char alert[256];
    const std::size_t n = tls_->take_output(alert, sizeof alert);
    if (n > 0) {
        uv_buf_t buf = uv_buf_init(alert, static_cast<unsigned>(n));
        uv_try_write(reinterpret_cast<uv_stream_t*>(&handle_), &buf, 1);
    }
}

} // namespace kahttpd::server
