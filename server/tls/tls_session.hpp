#pragma once

#include "server/tls/tls_context.hpp"

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kahttpd::server {

/// One TLS connection's state: an SSL object between two memory BIOs, with no socket of its
/// own. The transport feeds it the bytes it reads (feed), takes plaintext out (read), puts
/// plaintext in (write) and drains the records to send (take_output); nothing here blocks or
/// does I/O, which is what lets it live on a libuv loop and be unit-tested with two sessions
/// talking in memory.
///
/// SNI picks the virtual host's context (Apache's rule: the vhosts of the connection's local
/// address; an unknown or absent name gets the first of them). ALPN offers http/1.1 only.
///
/// Thread: its connection's worker.
class TlsSession {
  public:
    /// `contexts`: the worker's; the session starts with the context of the host that serves
    /// `local_ip`:`local_port` with no name, and SNI may switch it.
    TlsSession(const TlsContexts& contexts, std::string_view local_ip, std::uint16_t local_port);
    TlsSession(const TlsSession&) = delete;
    TlsSession& operator=(const TlsSession&) = delete;
    ~TlsSession();

    /// False when OpenSSL could not make the SSL object (out of memory).
    bool ok() const noexcept { return ssl_ != nullptr; }

    enum class Status : std::uint8_t {
        ok,        ///< progress (handshake complete, or plaintext read)
        want_more, ///< needs more input
        closed,    ///< the peer sent close_notify
        failed,    ///< a fatal error (reason())
    };

    /// Bytes read from the socket.
    void feed(const char* data, std::size_t n) noexcept;
    /// Advances the handshake with what was fed. ok once it is complete.
    Status handshake() noexcept;
    bool established() const noexcept { return established_; }
    /// Up to `cap` bytes of plaintext into `out`: `n` is set when the status is ok.
    Status read(char* out, std::size_t cap, std::size_t& n) noexcept;
    /// Encrypts all of `data` into the output (a memory BIO never refuses). False on error.
    bool write(const char* data, std::size_t n) noexcept;
    /// Records waiting to be sent.
    std::size_t output_pending() const noexcept;
    /// Moves up to `cap` bytes of records to send into `out`; returns how many.
    std::size_t take_output(char* out, std::size_t cap) noexcept;
    /// Queues a close_notify alert (when the handshake is complete).
    void shutdown() noexcept;
    /// Between requests: when both memory BIOs are empty, replaces them with new ones, which
    /// hold no buffer until they are written (a memory BIO keeps the largest buffer it ever
    /// needed, about 1.7 KiB each after the handshake). Nothing changes if one is not empty or
    /// a BIO cannot be made.
    void release_idle_buffers() noexcept;

    /// What OpenSSL said about the last failure ("" when none).
    const std::string& reason() const noexcept { return reason_; }
    /// "TLSv1.3", "TLSv1.2" ("" before the handshake).
    std::string_view protocol() const noexcept;
    /// The negotiated cipher's OpenSSL name ("" before the handshake).
    std::string_view cipher() const noexcept;
    bool resumed() const noexcept;
    /// The host index (Site::hosts order) whose certificate was presented.
    std::size_t host() const noexcept { return host_; }
    /// The host the client's SNI names now (the address's default without one), which may be
    /// asked before the SNI callback has switched the context.
    std::size_t host_named() const noexcept;
    /// The SNI name the client sent ("" when none).
    std::string_view server_name() const noexcept;
    /// Bytes fed so far during the handshake (RequestReadTimeout handshake=,MinRate).
    std::uint64_t bytes_fed() const noexcept { return fed_; }

    /// SNI (every context's servername callback): switches to the named host's context.
    static int on_servername_cb(SSL* ssl, int* alert, void* arg) noexcept;

  private:
    Status fail(int ret) noexcept;

    const TlsContexts& contexts_;
    SSL* ssl_ = nullptr;
    BIO* in_ = nullptr;  // owned by ssl_
    BIO* out_ = nullptr; // owned by ssl_
    std::string reason_;
    std::uint64_t fed_ = 0;
    std::size_t host_ = 0;
    std::uint16_t local_port_ = 0;
    bool established_ = false;
    char local_ip_[48] = {};
};

/// The ex_data index of SSL objects that holds their TlsSession.
int tls_session_index() noexcept;

} // namespace kahttpd::server
