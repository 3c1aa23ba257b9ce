#include "server/tls/tls_session.hpp"

#include "conf/sections.hpp"

#include <openssl/err.h>

#include <algorithm>
#include <climits>
#include <cstring>

namespace kahttpd::server {

int tls_session_index() noexcept {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

TlsSession::TlsSession(const TlsContexts& contexts, std::string_view local_ip,
                       std::uint16_t local_port)
    : contexts_(contexts), local_port_(local_port) {
    const std::size_t n = std::min(local_ip.size(), sizeof local_ip_ - 1);
    std::memcpy(local_ip_, local_ip.data(), n);
    const conf::Config& cfg = contexts.config();
    // The address's default host (the first of its vhosts, as Apache), until SNI names another.
    host_ = host_index(cfg, cfg.select_vhost(std::string_view(local_ip_, n), local_port, ""));
    SSL_CTX* ctx = contexts.for_host(host_);
    if (ctx == nullptr) {
        ctx = contexts.any();
    }
    if (ctx == nullptr) {
        return;
    }
    ssl_ = SSL_new(ctx);
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    if (ssl_ == nullptr || in_ == nullptr || out_ == nullptr) {
        BIO_free(in_);
        BIO_free(out_);
        SSL_free(ssl_);
        ssl_ = nullptr;
        return;
    }
    // An empty memory BIO says "retry" rather than EOF: the socket's EOF reaches the transport
    // through libuv, not through OpenSSL.
    BIO_set_mem_eof_return(in_, -1);
    BIO_set_mem_eof_return(out_, -1);
    SSL_set_bio(ssl_, in_, out_);
    SSL_set_accept_state(ssl_);
    SSL_set_ex_data(ssl_, tls_session_index(), this);
}

TlsSession::~TlsSession() {
    SSL_free(ssl_); // frees the BIOs; drops the reference to its SSL_CTX
}

int TlsSession::on_servername_cb(SSL* ssl, int*, void*) noexcept {
    auto* self = static_cast<TlsSession*>(SSL_get_ex_data(ssl, tls_session_index()));
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (self == nullptr || name == nullptr) {
        return SSL_TLSEXT_ERR_NOACK; // no SNI: the address's default host
    }
    const std::size_t i = self->host_named();
    SSL_CTX* ctx = self->contexts_.for_host(i);
    if (ctx == nullptr) {
        return SSL_TLSEXT_ERR_OK; // (a checked configuration always has one)
    }
    if (ctx != SSL_get_SSL_CTX(ssl)) {
        // The certificate, key and session id context follow the context; the cipher
        // preferences and options of the host are copied (the protocol version was chosen
        // from the ClientHello already, by the address's default host: docs/configuration.md).
        SSL_set_SSL_CTX(ssl, ctx);
        SSL_clear_options(ssl, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
        SSL_set_options(ssl, SSL_CTX_get_options(ctx));
        const conf::TlsSettings& t = self->contexts_.settings(i);
        SSL_set_cipher_list(ssl, t.cipher_suite ? t.cipher_suite->value.c_str()
                                                : OSSL_default_cipher_list());
        SSL_set_ciphersuites(ssl, t.cipher_suite_tls13 ? t.cipher_suite_tls13->value.c_str()
                                                       : OSSL_default_ciphersuites());
    }
    self->host_ = i;
    return SSL_TLSEXT_ERR_OK;
}

std::size_t TlsSession::host_named() const noexcept {
    const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
    if (name == nullptr) {
        return host_; // (the address's default until SNI switched it)
    }
    const conf::Config& cfg = contexts_.config();
    return host_index(cfg, cfg.select_vhost(local_ip_, local_port_, conf::normalize_host(name)));
}

void TlsSession::feed(const char* data, std::size_t n) noexcept {
    if (!established_) {
        fed_ += n;
    }
    BIO_write(in_, data, static_cast<int>(n));
}

TlsSession::Status TlsSession::fail(int ret) noexcept {
    const int err = SSL_get_error(ssl_, ret);
    switch (err) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: // (a memory BIO takes everything)
        return Status::want_more;
    case SSL_ERROR_ZERO_RETURN:
        return Status::closed;
    default: {
        const unsigned long e = ERR_peek_last_error();
        char buf[200];
        ERR_error_string_n(e, buf, sizeof buf);
        const char* r = ERR_reason_error_string(e);
        reason_ = r != nullptr ? r : (e != 0 ? buf : "TLS error");
        ERR_clear_error();
        return Status::failed;
    }
    }
}

TlsSession::Status TlsSession::handshake() noexcept {
    if (established_) {
        return Status::ok;
    }
    const int ret = SSL_do_handshake(ssl_);
    if (ret == 1) {
        established_ = true;
        return Status::ok;
    }
    return fail(ret);
}

TlsSession::Status TlsSession::read(char* out, std::size_t cap, std::size_t& n) noexcept {
    n = 0;
    const int ret = SSL_read(ssl_, out, static_cast<int>(std::min<std::size_t>(cap, INT_MAX)));
    if (ret > 0) {
        n = static_cast<std::size_t>(ret);
        return Status::ok;
    }
    return fail(ret);
}

bool TlsSession::write(const char* data, std::size_t n) noexcept {
    while (n > 0) {
        const int chunk = static_cast<int>(std::min<std::size_t>(n, 1 << 30));
        const int ret = SSL_write(ssl_, data, chunk);
        if (ret <= 0) {
            fail(ret);
            return false;
        }
        data += ret;
        n -= static_cast<std::size_t>(ret);
    }
    return true;
}

void TlsSession::release_idle_buffers() noexcept {
    if (ssl_ == nullptr || BIO_ctrl_pending(in_) != 0 || BIO_ctrl_pending(out_) != 0) {
        return;
    }
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    if (in == nullptr || out == nullptr) {
        BIO_free(in);
        BIO_free(out);
        return;
    }
    BIO_set_mem_eof_return(in, -1);
    BIO_set_mem_eof_return(out, -1);
    SSL_set_bio(ssl_, in, out); // frees the old pair (both differ from the new ones)
    in_ = in;
    out_ = out;
}

std::size_t TlsSession::output_pending() const noexcept {
    return BIO_ctrl_pending(out_);
}

std::size_t TlsSession::take_output(char* out, std::size_t cap) noexcept {
    const int n = BIO_read(out_, out, static_cast<int>(std::min<std::size_t>(cap, INT_MAX)));
    return n > 0 ? static_cast<std::size_t>(n) : 0;
}

void TlsSession::shutdown() noexcept {
    if (established_ && (SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN) == 0) {
        SSL_shutdown(ssl_);
        ERR_clear_error();
    }
}

std::string_view TlsSession::protocol() const noexcept {
    return established_ ? SSL_get_version(ssl_) : "";
}

std::string_view TlsSession::cipher() const noexcept {
    const char* c = established_ ? SSL_get_cipher_name(ssl_) : nullptr;
    return c != nullptr ? c : "";
}

bool TlsSession::resumed() const noexcept {
    return established_ && SSL_session_reused(ssl_) == 1;
}

std::string_view TlsSession::server_name() const noexcept {
    const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
    return name != nullptr ? name : "";
}

} // namespace kahttpd::server
