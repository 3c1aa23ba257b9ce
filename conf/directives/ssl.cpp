#include "conf/detail/loader.hpp"
#include "conf/detail/values.hpp"
#include "parser/text.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <ctime>
#include <memory>
#include <set>

// mod_ssl: TLS on the `Listen ... https` addresses. The handlers read the directives; the
// checks at the end of a load (check_tls) tie them to the addresses and read every
// certificate and key, so that `kahttpd -t` (and a reload) reports what the server would
// otherwise only find when it builds its TLS contexts: an unreadable or invalid certificate, a
// key that does not match it (errors), a certificate that has expired or is not valid yet
// (warnings), an https address whose hosts have no certificate.

namespace kahttpd::conf {

TlsSettings TlsSettings::merged(const TlsSettings& main, const TlsSettings& own) {
    TlsSettings t = own;
    auto inherit = [](auto& mine, const auto& theirs) {
        if (!mine) {
            mine = theirs;
        }
    };
    inherit(t.engine, main.engine);
    inherit(t.certificate_file, main.certificate_file);
    // A key inherited without its certificate would not match the host's own certificate.
    if (!own.certificate_file) {
        inherit(t.key_file, main.key_file);
    }
    inherit(t.protocols, main.protocols);
    inherit(t.cipher_suite, main.cipher_suite);
    inherit(t.cipher_suite_tls13, main.cipher_suite_tls13);
    inherit(t.honor_cipher_order, main.honor_cipher_order);
    inherit(t.session_tickets, main.session_tickets);
    inherit(t.session_cache_timeout, main.session_cache_timeout);
    return t;
}

bool Config::tls_anywhere() const noexcept {
    return std::any_of(listen.begin(), listen.end(), [](const ListenAddr& l) { return l.https; });
}

bool Config::address_serves(const VirtualHost::Address& a, const ListenAddr& l) noexcept {
    const bool port = a.port == 0 || l.port == 0 || a.port == l.port;
    const bool host = a.host.empty() || l.host.empty() || a.host == l.host;
    return port && host;
}

} // namespace kahttpd::conf

namespace kahttpd::conf::detail {

namespace {

struct BioFree {
    void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct X509Free {
    void operator()(X509* x) const noexcept { X509_free(x); }
};
struct PkeyFree {
    void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct CtxFree {
    void operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }
};

/// OpenSSL's reason for the last failure, and the error queue emptied.
std::string openssl_reason() {
    const unsigned long e = ERR_peek_last_error();
    ERR_clear_error();
    if (e == 0) {
        return "unknown error";
    }
    const char* r = ERR_reason_error_string(e);
    return r != nullptr ? r : "error " + std::to_string(e);
}

/// "file:line" of a Setting back into a ConfigError's file and line.
ConfigError error_at(const Source& from, std::string directive, std::string message) {
    ConfigError e;
    const std::size_t colon = from.rfind(':');
    e.file = colon == std::string::npos ? from : from.substr(0, colon);
    e.line = colon == std::string::npos ? 0 : std::atoi(from.c_str() + colon + 1);
    e.directive = std::move(directive);
    e.message = std::move(message);
    return e;
}

/// A scratch context for checking cipher strings.
std::unique_ptr<SSL_CTX, CtxFree> scratch_ctx() {
    return std::unique_ptr<SSL_CTX, CtxFree>(SSL_CTX_new(TLS_server_method()));
}

std::string time_text(const ASN1_TIME* t) {
    std::unique_ptr<BIO, BioFree> b(BIO_new(BIO_s_mem()));
    ASN1_TIME_print(b.get(), t);
    char* data = nullptr;
    const long n = BIO_get_mem_data(b.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
}

} // namespace

void Loader::on_ssl_engine(const Context& c) {
    if (c.args.size() == 1 && iequals(c.args[0], "optional")) {
        error(c, "expected On or Off, found \"optional\" (RFC 2817 upgrades are " +
                     std::string(kNotSupported) + ")");
        return;
    }
    if (const auto on = on_off_arg(c)) {
        current_vhost().tls.engine = Setting<bool>{*on, where(c)};
    }
}

void Loader::on_ssl_certificate_file(const Context& c) {
    if (const auto p = path_arg(c, "a PEM certificate file")) {
        current_vhost().tls.certificate_file = Setting<fs::path>{*p, where(c)};
    }
}

void Loader::on_ssl_certificate_key_file(const Context& c) {
    if (const auto p = path_arg(c, "a PEM private key file")) {
        current_vhost().tls.key_file = Setting<fs::path>{*p, where(c)};
    }
}

void Loader::on_ssl_protocol(const Context& c) {
    // Apache's syntax: a word without a sign sets the list, +word adds, -word removes. kahttpd
    // speaks TLS 1.2 and 1.3 only: the older ones may be removed (as every modern Apache
    // configuration does) but not enabled.
    if (c.args.empty()) {
        error(c, "expected protocols as in \"all -TLSv1 -TLSv1.1\", found none");
        return;
    }
    std::uint8_t set = TlsSettings::kTls12 | TlsSettings::kTls13;
    for (std::string_view word : c.args) {
        const std::string whole(word);
        const char sign = take_sign(word);
        std::uint8_t bits = 0;
        bool obsolete = false;
        if (iequals(word, "all")) {
            bits = TlsSettings::kTls12 | TlsSettings::kTls13;
        } else if (iequals(word, "TLSv1.2")) {
            bits = TlsSettings::kTls12;
        } else if (iequals(word, "TLSv1.3")) {
            bits = TlsSettings::kTls13;
        } else if (iequals(word, "SSLv3") || iequals(word, "TLSv1") || iequals(word, "TLSv1.1")) {
            obsolete = true;
        } else {
            error(c, "expected all, TLSv1.2 or TLSv1.3 (each with an optional + or -), found " +
                         in_quotes(whole));
            return;
        }
        if (obsolete && sign != '-') {
            error(c, "expected TLSv1.2 or TLSv1.3 (kahttpd does not speak " + std::string(word) +
                         "), found " + in_quotes(whole));
            return;
        }
        if (sign == '+') {
            set |= bits;
        } else if (sign == '-') {
            set &= static_cast<std::uint8_t>(~bits);
        } else {
            set = bits;
        }
    }
    if (set == 0) {
        error(c, "expected at least one of TLSv1.2 and TLSv1.3 to remain, found none");
        return;
    }
    current_vhost().tls.protocols = Setting<std::uint8_t>{set, where(c)};
}

void Loader::on_ssl_cipher_suite(const Context& c) {
    // SSLCipherSuite [SSL|TLSv1.3] SPEC (Apache 2.4.36+): SPEC is an OpenSSL cipher list for
    // TLS 1.2 (and below), or the TLS 1.3 cipher suites.
    if (c.args.empty() || c.args.size() > 2) {
        error(c, "expected [SSL|TLSv1.3] cipher-spec, found " + args_text(c.args.size()));
        return;
    }
    const bool tls13 = c.args.size() == 2 && iequals(c.args[0], "TLSv1.3");
    if (c.args.size() == 2 && !tls13 && !iequals(c.args[0], "SSL")) {
        error(c, "expected the protocol SSL or TLSv1.3 before the cipher-spec, found " +
                     in_quotes(c.args[0]));
        return;
    }
    const std::string& spec = c.args.back();
    auto ctx = scratch_ctx();
    const int ok = tls13 ? SSL_CTX_set_ciphersuites(ctx.get(), spec.c_str())
                         : SSL_CTX_set_cipher_list(ctx.get(), spec.c_str());
    if (ok != 1) {
        error(c, std::string("expected an OpenSSL ") +
                     (tls13 ? "TLS 1.3 cipher suite list (as in TLS_AES_128_GCM_SHA256)"
                            : "cipher list (as in HIGH:!aNULL:!MD5)") +
                     " that names at least one cipher, found " + in_quotes(spec) + " (" +
                     openssl_reason() + ")");
        return;
    }
    (tls13 ? current_vhost().tls.cipher_suite_tls13 : current_vhost().tls.cipher_suite) =
        Setting<std::string>{spec, where(c)};
}

void Loader::on_ssl_honor_cipher_order(const Context& c) {
    if (const auto on = on_off_arg(c)) {
        current_vhost().tls.honor_cipher_order = Setting<bool>{*on, where(c)};
    }
}

void Loader::on_ssl_session_tickets(const Context& c) {
    if (const auto on = on_off_arg(c)) {
        current_vhost().tls.session_tickets = Setting<bool>{*on, where(c)};
    }
}

void Loader::on_ssl_session_cache_timeout(const Context& c) {
    if (!expect_one_arg(c)) {
        return;
    }
    const auto d = parse_duration(c.args[0]);
    if (!d || *d < kMinDuration || *d > std::chrono::hours(24)) {
        error(c, "expected a duration (30, 30s, 500ms, 5m, 1h) from 1ms to 24h, found " + in_quotes(c.args[0]));
        return;
    }
    current_vhost().tls.session_cache_timeout = Setting<milliseconds>{*d, where(c)};
}

/// Reads the certificate (with its chain) and the key of one host and checks that they belong
/// together; each file is checked once however many hosts share it.
void Loader::check_certificate(const TlsSettings& t, std::set<std::string>& seen) {
    const Setting<fs::path>& cert = *t.certificate_file;
    const std::string key_path = (t.key_file ? t.key_file->value : cert.value).string();
    if (!seen.insert(cert.value.string() + "\n" + key_path).second) {
        return;
    }
    std::unique_ptr<BIO, BioFree> in(BIO_new_file(cert.value.c_str(), "r"));
    std::unique_ptr<X509, X509Free> x509;
    if (in) {
        x509.reset(PEM_read_bio_X509_AUX(in.get(), nullptr, nullptr, nullptr));
    }
    if (!x509) {
        const std::string why = in ? "no PEM certificate in it" : openssl_reason();
        ERR_clear_error();
        result_.errors.push_back(error_at(cert.from, "SSLCertificateFile",
                                          "expected a readable PEM certificate, found " +
                                              in_quotes(cert.value.string()) + " (" + why + ")"));
        return;
    }
    // The chain (Apache 2.4.8+ reads intermediate certificates from the same file).
    while (X509* extra = PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr)) {
        X509_free(extra);
    }
    ERR_clear_error(); // (the end of the file reads as an error)
    std::time_t now = std::time(nullptr);
    if (X509_cmp_time(X509_get0_notAfter(x509.get()), &now) < 0) {
        result_.warnings.push_back(error_at(
            cert.from, "SSLCertificateFile",
            "expected a certificate that is valid now, found " + in_quotes(cert.value.string()) +
                ", which expired on " + time_text(X509_get0_notAfter(x509.get()))));
    } else if (X509_cmp_time(X509_get0_notBefore(x509.get()), &now) > 0) {
        result_.warnings.push_back(error_at(
            cert.from, "SSLCertificateFile",
            "expected a certificate that is valid now, found " + in_quotes(cert.value.string()) +
                ", which is not valid before " + time_text(X509_get0_notBefore(x509.get()))));
    }
    const Source& key_from = t.key_file ? t.key_file->from : cert.from;
    const char* key_directive = t.key_file ? "SSLCertificateKeyFile" : "SSLCertificateFile";
    std::unique_ptr<BIO, BioFree> kin(BIO_new_file(key_path.c_str(), "r"));
    std::unique_ptr<EVP_PKEY, PkeyFree> key;
    if (kin) {
        key.reset(PEM_read_bio_PrivateKey(kin.get(), nullptr, nullptr, nullptr));
    }
    if (!key) {
        const std::string why = kin ? "no unencrypted PEM private key in it" : openssl_reason();
        ERR_clear_error();
        result_.errors.push_back(error_at(key_from, key_directive,
                                          "expected a readable PEM private key, found " +
                                              in_quotes(key_path) + " (" + why + ")"));
        return;
    }
    if (X509_check_private_key(x509.get(), key.get()) != 1) {
        ERR_clear_error();
        result_.errors.push_back(error_at(
            key_from, key_directive,
            "expected the private key of " + in_quotes(cert.value.string()) + ", found " +
                in_quotes(key_path) + ", a key that does not match the certificate"));
    }
}

/// The end of a load: which hosts serve an https address, and whether each has what TLS needs.
void Loader::check_tls() {
    Config& c = result_.config;
    std::set<std::string> seen;
    // `https`: an https address this host serves (null: none); `unserved`: SSLEngine On in this
    // host would apply to no https address at all.
    auto check_host = [&](const VirtualHost& v, const TlsSettings& t, const ListenAddr* https,
                          bool unserved) {
        const bool is_main = &v == &c.main;
        if (https == nullptr) {
            if (unserved && t.engine_on() && v.tls.engine) {
                result_.errors.push_back(error_at(
                    v.tls.engine->from, "SSLEngine",
                    std::string("expected a Listen ... https address for this host") +
                        (is_main ? "" : "'s <VirtualHost> addresses") +
                        " (kahttpd speaks TLS on the addresses Listen marks https), found none"));
            }
            return;
        }
        if (t.engine && !t.engine->value && v.tls.engine) {
            result_.errors.push_back(error_at(
                t.engine->from, "SSLEngine",
                "expected On (or no SSLEngine) for a host served on the https address " +
                    https->where + ", found Off"));
            return;
        }
        if (!t.certificate_file) {
            result_.errors.push_back(
                is_main ? error_at(https->where, "Listen",
                                   "expected an SSLCertificateFile for the main server, which "
                                   "answers on this https address, found none")
                        : error_at(v.from, "<VirtualHost>",
                                   "expected an SSLCertificateFile for this virtual host, which "
                                   "answers on the https address of the Listen at " +
                                       https->where + ", found none"));
            return;
        }
        check_certificate(t, seen);
    };
    // The hosts of each https address: the vhosts whose addresses match it, or the main server
    // when none does (Apache's choice of a vhost).
    std::vector<const ListenAddr*> main_https;
    std::vector<const ListenAddr*> vhost_https(c.vhosts.size(), nullptr);
    for (const ListenAddr& l : c.listen) {
        if (!l.https) {
            continue;
        }
        bool any = false;
        for (std::size_t i = 0; i < c.vhosts.size(); ++i) {
            for (const VirtualHost::Address& a : c.vhosts[i].parsed_addresses) {
                if (Config::address_serves(a, l)) {
                    any = true;
                    if (vhost_https[i] == nullptr) {
                        vhost_https[i] = &l;
                    }
                }
            }
        }
        if (!any && main_https.empty()) {
            main_https.push_back(&l);
        }
    }
    check_host(c.main, c.main.tls, main_https.empty() ? nullptr : main_https.front(),
               !c.tls_anywhere());
    for (std::size_t i = 0; i < c.vhosts.size(); ++i) {
        const TlsSettings t = TlsSettings::merged(c.main.tls, c.vhosts[i].tls);
        check_host(c.vhosts[i], t, vhost_https[i], true);
    }
}

} // namespace kahttpd::conf::detail
