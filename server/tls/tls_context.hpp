#pragma once

#include "conf/config.hpp"

#include <openssl/ssl.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kahttpd::server {

/// Session-ticket keys, rotated without a lock (docs/architecture.md, "TLS"): every key is
/// derived from a secret made at start-up, the number of the rotation period it belongs to and
/// a host number, 0 for now (HMAC-SHA256(secret, period, host)), so every worker of every generation derives the same keys on
/// its own thread, a ticket issued by one worker is accepted by another, and the key in use
/// changes every `period_s` seconds. Tickets sealed with the previous period's key are still
/// accepted (and renewed); older ones are not.
///
/// Thread: any (read-only after construction).
class TicketKeys {
  public:
    static constexpr std::uint64_t kDefaultPeriodS = 3600;

    /// A fresh random secret. `period_s`: how long one key seals new tickets.
    explicit TicketKeys(std::uint64_t period_s = kDefaultPeriodS);

    /// The keys of one period: name (sent in the ticket), HMAC key, AES-256 key.
    struct Key {
        std::array<unsigned char, 16> name{};
        std::array<unsigned char, 32> hmac{};
        std::array<unsigned char, 32> aes{};
    };
    /// The key of host `host` for the period that holds unix time `now_s`.
    Key key_for(std::uint64_t now_s, std::uint64_t host = 0) const noexcept {
        return derive(now_s / period_s_, host);
    }
    /// The key `name` names, when it is host `host`'s of the current or the previous period of
    /// `now_s`. Sets `renew` for the previous one (the client gets a new ticket).
    bool find(const unsigned char* name, std::uint64_t now_s, Key& out, bool& renew,
              std::uint64_t host = 0) const noexcept;
    std::uint64_t period_s() const noexcept { return period_s_; }

  private:
    /// The key of `period`: from the calling thread's cache of the last two periods, else
    /// computed (three HMACs) and cached.
    Key derive(std::uint64_t period, std::uint64_t host) const noexcept;
    Key compute(std::uint64_t period, std::uint64_t host) const noexcept;
    std::array<unsigned char, 32> secret_{};
    std::uint64_t period_s_;
    std::uint64_t id_; ///< unique per TicketKeys in the process (the thread caches' key)
};

/// The TLS contexts of one worker: one SSL_CTX per host (main server, then each vhost, as
/// Site::hosts counts them) that serves an https address, each with its certificate chain and
/// key, protocols, ciphers, ALPN (http/1.1), SNI callback, session cache and ticket keys. One
/// set per worker, so the session caches are per worker and no lock is shared on the request
/// path. Built by the main thread when a generation is built; an SSL made from a context holds
/// a reference to it, so a connection outliving its generation's contexts keeps its own.
///
/// Thread: built on the main thread, then used by one worker thread only.
class TlsContexts {
  public:
    /// Builds the contexts for `cfg` (checked by conf: every host of an https address has a
    /// certificate). Null with `err` set when a file cannot be loaded (it changed since the
    /// check). `keys`: the process's ticket keys; outlives the contexts.
    static std::unique_ptr<TlsContexts> build(const conf::Config& cfg, const TicketKeys& keys,
                                              std::string& err);
    TlsContexts(const TlsContexts&) = delete;
    TlsContexts& operator=(const TlsContexts&) = delete;
    ~TlsContexts();

    /// The context of host `i` (Site::hosts order), or null when it has no certificate.
    SSL_CTX* for_host(std::size_t i) const noexcept { return i < ctx_.size() ? ctx_[i] : nullptr; }
    /// The first host with a context, for a connection whose address has none (cannot happen
    /// with a checked configuration).
    SSL_CTX* any() const noexcept;
    const conf::Config& config() const noexcept { return *config_; }
    /// Host `i`'s settings in force (the main server's merged in).
    const conf::TlsSettings& settings(std::size_t i) const noexcept { return settings_[i]; }

  private:
    TlsContexts() = default;
    const conf::Config* config_ = nullptr;
    std::vector<SSL_CTX*> ctx_;
    std::vector<conf::TlsSettings> settings_;
};

/// The host index (Site::hosts order) of `vh`, one of cfg's hosts.
std::size_t host_index(const conf::Config& cfg, const conf::VirtualHost& vh) noexcept;

/// OpenSSL's version line (for kahttpd -V).
std::string tls_library_version();

} // namespace kahttpd::server
