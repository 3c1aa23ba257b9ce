#include "server/tls/tls_context.hpp"

#include "server/tls/tls_session.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/opensslv.h>
#include <openssl/rand.h>

#include <array>
#include <atomic>
#include <cstring>
#include <ctime>

namespace kahttpd::server {

namespace {

/// ex_data of every SSL_CTX built here: the process's TicketKeys.
int ticket_keys_index() noexcept {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

std::string openssl_error() {
    const unsigned long e = ERR_peek_last_error();
    ERR_clear_error();
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return e == 0 ? std::string("unknown error") : std::string(buf);
}

/// ALPN (RFC 7301): http/1.1 is all kahttpd speaks. A client that offers something else only
/// gets no ALPN answer and goes on with HTTP/1.1, as clients do without ALPN.
int on_alpn_select_cb(SSL*, const unsigned char** out, unsigned char* outlen,
                      const unsigned char* in, unsigned int inlen, void*) noexcept {
    static constexpr unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof kHttp11, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

/// Session tickets sealed and opened with the rotating keys of TicketKeys (RFC 5077's
/// layout: key name, IV, AES-256-CBC, HMAC-SHA256). 0 for an unknown key: a full handshake.
std::uint64_t next_ticket_keys_id() noexcept {
    static std::atomic<std::uint64_t> next{1};
    return next.fetch_add(1, std::memory_order_relaxed);
}

int on_ticket_key_cb(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                     EVP_MAC_CTX* mac, int encrypt) noexcept {
    const auto* keys = static_cast<const TicketKeys*>(
        SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ticket_keys_index()));
    if (keys == nullptr) {
        return -1;
    }
    const auto now = static_cast<std::uint64_t>(std::time(nullptr));
    // One set of keys for every host: a TLS 1.2 ticket is opened before the ClientHello's SNI
    // is read, so a per-host key could not be chosen there. (The session id context still
    // keeps a TLS 1.2 session to its host.)
    const std::uint64_t host = 0;
    TicketKeys::Key key;
    bool renew = false;
    if (encrypt != 0) {
        key = keys->key_for(now, host);
        if (RAND_bytes(iv, 16) != 1) {
            return -1;
        }
        std::memcpy(name, key.name.data(), key.name.size());
    } else if (!keys->find(name, now, key, renew, host)) {
        return 0;
    }
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac.data(), key.hmac.size()),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end()};
    if (EVP_MAC_CTX_set_params(mac, params) != 1) {
        return -1;
    }
    const int ok =
        encrypt != 0
            ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv)
            : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv);
    if (ok != 1) {
        return -1;
    }
    // 2 asks OpenSSL for a new ticket. Under TLS 1.3 always: OpenSSL (and every browser) uses
    // a TLS 1.3 ticket once, so a resumed connection that got no new ticket leaves its client
    // nothing to resume the next one with, and it pays a full handshake every second time
    // (nginx renews under TLS 1.3 for the same reason). Under TLS 1.2 only when the ticket was
    // sealed with an older key.
    if (encrypt != 0) {
        return 1;
    }
    return (renew || SSL_version(ssl) == TLS1_3_VERSION) ? 2 : 1;
}

/// One host's context. Null with `err` set on failure.
SSL_CTX* make_context(const conf::TlsSettings& t, std::size_t index, const TicketKeys& keys,
                      std::string& err) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr) {
        err = "SSL_CTX_new: " + openssl_error();
        return nullptr;
    }
    auto fail = [&](const std::string& what) {
        err = what + ": " + openssl_error();
        SSL_CTX_free(ctx);
        return nullptr;
    };
    const std::uint8_t p = t.protocols_or_default();
    SSL_CTX_set_min_proto_version(ctx, (p & conf::TlsSettings::kTls12) != 0 ? TLS1_2_VERSION
                                                                            : TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(ctx, (p & conf::TlsSettings::kTls13) != 0 ? TLS1_3_VERSION
                                                                            : TLS1_2_VERSION);
    std::uint64_t options = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION;
    if (t.honor_cipher_order_or_default()) {
        options |= SSL_OP_CIPHER_SERVER_PREFERENCE;
    }
    if (!t.session_tickets_or_default()) {
        // TLS 1.2: session ids only; TLS 1.3: stateful tickets that name a cached session.
        options |= SSL_OP_NO_TICKET;
    }
    SSL_CTX_set_options(ctx, options);
    // An idle keep-alive connection gives its 16 KiB record buffers back.
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (t.cipher_suite && SSL_CTX_set_cipher_list(ctx, t.cipher_suite->value.c_str()) != 1) {
        return fail(t.cipher_suite->from + ": SSLCipherSuite");
    }
    if (t.cipher_suite_tls13 &&
        SSL_CTX_set_ciphersuites(ctx, t.cipher_suite_tls13->value.c_str()) != 1) {
        return fail(t.cipher_suite_tls13->from + ": SSLCipherSuite");
    }
    const conf::Setting<std::filesystem::path>& cert = *t.certificate_file;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert.value.c_str()) != 1) {
        return fail(cert.from + ": SSLCertificateFile: cannot load " + cert.value.string());
    }
    const std::filesystem::path& key = t.key_file ? t.key_file->value : cert.value;
    if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        return fail((t.key_file ? t.key_file->from : cert.from) +
                    ": SSLCertificateKeyFile: cannot load " + key.string());
    }
    // The session-id cache, per worker (no lock shared with another thread). Its id context
    // names the host, so a session of one host is never resumed for another.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_timeout(ctx, static_cast<long>(std::max<std::int64_t>(
                                 1, t.session_cache_timeout_or_default().count() / 1000)));
    const std::string sid = "kahttpd-host-" + std::to_string(index);
    SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char*>(sid.data()),
                                   static_cast<unsigned>(sid.size()));
    SSL_CTX_set_ex_data(ctx, ticket_keys_index(), const_cast<TicketKeys*>(&keys));
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &on_ticket_key_cb);
    SSL_CTX_set_tlsext_servername_callback(ctx, &TlsSession::on_servername_cb);
    SSL_CTX_set_alpn_select_cb(ctx, &on_alpn_select_cb, nullptr);
    return ctx;
}

} // namespace

TicketKeys::TicketKeys(std::uint64_t period_s)
    : period_s_(period_s == 0 ? 1 : period_s), id_(next_ticket_keys_id()) {
    if (RAND_bytes(secret_.data(), static_cast<int>(secret_.size())) != 1) {
        // Without randomness no ticket could be trusted; OpenSSL's RAND does not fail on a
        // Linux with getrandom(2), so this only guards the impossible.
        std::abort();
    }
}

TicketKeys::Key TicketKeys::derive(std::uint64_t period, std::uint64_t host) const noexcept {
    // Every ticket sealed or opened asks for a key, and computing one is three HMACs with
    // OpenSSL's name look-ups (about 5 % of a TLS handshake's CPU under wrk -H "Connection:
    // close"). Each worker thread keeps the last two periods' keys: no lock, nothing shared.
    struct Cached {
        std::uint64_t owner = 0; // TicketKeys::id_; 0: empty
        std::uint64_t period = 0;
        std::uint64_t host = 0;
        Key key;
    };
    thread_local std::array<Cached, 2> cache;
    Cached& slot = cache[period & 1];
    if (slot.owner != id_ || slot.period != period || slot.host != host) {
        slot.key = compute(period, host);
        slot.owner = id_;
        slot.period = period;
        slot.host = host;
    }
    return slot.key;
}

TicketKeys::Key TicketKeys::compute(std::uint64_t period, std::uint64_t host) const noexcept {
    Key k;
    auto mac = [&](char label, unsigned char* out, std::size_t n) {
        unsigned char msg[17];
        msg[0] = static_cast<unsigned char>(label);
        for (int i = 0; i < 8; ++i) {
            msg[1 + i] = static_cast<unsigned char>(period >> (8 * i));
            msg[9 + i] = static_cast<unsigned char>(host >> (8 * i));
        }
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()), msg, sizeof msg,
             digest, &len);
        std::memcpy(out, digest, std::min<std::size_t>(n, len));
    };
    mac('n', k.name.data(), k.name.size());
    mac('h', k.hmac.data(), k.hmac.size());
    mac('a', k.aes.data(), k.aes.size());
    return k;
}

bool TicketKeys::find(const unsigned char* name, std::uint64_t now_s, Key& out, bool& renew,
                      std::uint64_t host) const noexcept {
    const std::uint64_t period = now_s / period_s_;
    for (std::uint64_t back = 0; back < 2 && back <= period; ++back) {
        Key k = derive(period - back, host);
        if (std::memcmp(k.name.data(), name, k.name.size()) == 0) {
            out = k;
            renew = back != 0;
            return true;
        }
    }
    return false;
}

std::size_t host_index(const conf::Config& cfg, const conf::VirtualHost& vh) noexcept {
    if (&vh == &cfg.main) {
        return 0;
    }
    return static_cast<std::size_t>(&vh - cfg.vhosts.data()) + 1;
}

std::unique_ptr<TlsContexts> TlsContexts::build(const conf::Config& cfg, const TicketKeys& keys,
                                                std::string& err) {
    std::unique_ptr<TlsContexts> out(new TlsContexts());
    out->config_ = &cfg;
    out->ctx_.assign(cfg.vhosts.size() + 1, nullptr);
    out->settings_.resize(cfg.vhosts.size() + 1);
    auto add = [&](std::size_t i, const conf::TlsSettings& t) {
        out->settings_[i] = t;
        if (!t.certificate_file) {
            return true;
        }
        out->ctx_[i] = make_context(t, i, keys, err);
        return out->ctx_[i] != nullptr;
    };
    if (!add(0, cfg.main.tls)) {
        return nullptr;
    }
    for (std::size_t i = 0; i < cfg.vhosts.size(); ++i) {
        if (!add(i + 1, conf::TlsSettings::merged(cfg.main.tls, cfg.vhosts[i].tls))) {
            return nullptr;
        }
    }
    return out;
}

TlsContexts::~TlsContexts() {
    for (SSL_CTX* c : ctx_) {
        SSL_CTX_free(c); // (null is fine) connections still open keep their own reference
    }
}

SSL_CTX* TlsContexts::any() const noexcept {
    for (SSL_CTX* c : ctx_) {
        if (c != nullptr) {
            return c;
        }
    }
    return nullptr;
}

std::string tls_library_version() {
    return OpenSSL_version(OPENSSL_VERSION);
}

} // namespace kahttpd::server
