#include "server/tls/tls_session.hpp"

#include "server/tls/tls_context.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include <unistd.h>

using kahttpd::server::TicketKeys;
using kahttpd::server::TlsContexts;
using kahttpd::server::TlsSession;

namespace {

/// A self-signed P-256 certificate for `name`, written as cert.pem and key.pem in `dir`.
void make_certificate(const std::filesystem::path& dir, const std::string& name) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    REQUIRE(key != nullptr);
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME* subject = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
    X509_set_issuer_name(x, subject);
    REQUIRE(X509_sign(x, key, EVP_sha256()) > 0);
    std::FILE* f = std::fopen((dir / (name + ".pem")).c_str(), "w");
    PEM_write_X509(f, x);
    std::fclose(f);
    f = std::fopen((dir / (name + ".key")).c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
}

struct Fixture {
    std::filesystem::path dir;
    kahttpd::conf::LoadResult loaded;
    Fixture() {
        char tmpl[] = "/tmp/kahttpd-tls-unit-XXXXXX";
        dir = ::mkdtemp(tmpl);
        make_certificate(dir, "a.test");
        make_certificate(dir, "b.test");
        auto host = [&](const std::string& name) {
            return "<VirtualHost *>\nServerName " + name + "\nSSLCertificateFile " +
                   (dir / (name + ".pem")).string() + "\nSSLCertificateKeyFile " +
                   (dir / (name + ".key")).string() + "\n</VirtualHost>\n";
        };
        loaded = kahttpd::conf::load_config_text("Listen 127.0.0.1:443 https\n" + host("a.test") +
                                                     host("b.test"),
                                                 dir / "conf" / "httpd.conf");
        REQUIRE(loaded.errors.empty());
    }
    ~Fixture() { std::filesystem::remove_all(dir); }
};

/// A client SSL on memory BIOs, talking to `server` until both are done or stuck.
struct Client {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL* ssl = nullptr;
    Client(const char* sni, SSL_SESSION* session = nullptr) {
        static constexpr unsigned char kAlpn[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
        SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof kAlpn);
        ssl = SSL_new(ctx);
        SSL_set_bio(ssl, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
        SSL_set_connect_state(ssl);
        if (sni != nullptr) {
            SSL_set_tlsext_host_name(ssl, sni);
        }
        if (session != nullptr) {
            SSL_set_session(ssl, session);
        }
    }
    ~Client() {
        SSL_free(ssl);
        SSL_CTX_free(ctx);
    }
    /// Runs the handshake against `server`, then reads what the server sent after it (TLS
    /// 1.3 tickets). True when both sides completed.
    bool handshake(TlsSession& server) {
        char buf[16384];
        for (int round = 0; round < 10; ++round) {
            SSL_do_handshake(ssl);
            while (const int n = BIO_read(SSL_get_wbio(ssl), buf, sizeof buf)) {
                if (n <= 0) {
                    break;
                }
                server.feed(buf, static_cast<std::size_t>(n));
            }
            server.handshake();
            while (const std::size_t n = server.take_output(buf, sizeof buf)) {
                BIO_write(SSL_get_rbio(ssl), buf, static_cast<int>(n));
            }
            if (server.established() && SSL_is_init_finished(ssl)) {
                SSL_read(ssl, buf, sizeof buf); // (takes in the tickets)
                return true;
            }
        }
        return false;
    }
    std::string peer_name() const {
        X509* cert = SSL_get1_peer_certificate(ssl);
        char cn[64] = {};
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
        X509_free(cert);
        return cn;
    }
};

} // namespace

TEST_SUITE("tls") {

    TEST_CASE("ticket keys rotate by period and accept the previous period's") {
        const TicketKeys keys(3600);
        const auto now = std::uint64_t{1'700'000'000};
        const TicketKeys::Key current = keys.key_for(now);
        TicketKeys::Key found;
        bool renew = true;
        REQUIRE(keys.find(current.name.data(), now + 10, found, renew));
        CHECK_FALSE(renew);
        CHECK(found.aes == current.aes);
        // An hour later the key has changed, and the old one still opens (with a renewal).
        const TicketKeys::Key next = keys.key_for(now + 3600);
        CHECK(next.name != current.name);
        CHECK(next.aes != current.aes);
        REQUIRE(keys.find(current.name.data(), now + 3600, found, renew));
        CHECK(renew);
        // Two periods later it no longer does.
        CHECK_FALSE(keys.find(current.name.data(), now + 7200, found, renew));
        // Another secret (another process) does not know it.
        const TicketKeys other(3600);
        CHECK_FALSE(other.find(current.name.data(), now, found, renew));
    }

    TEST_CASE("a handshake in memory: SNI picks the host's certificate, ALPN says http/1.1") {
        Fixture f;
        const TicketKeys keys;
        std::string err;
        const auto contexts = TlsContexts::build(f.loaded.config, keys, err);
        REQUIRE(contexts);
        for (const char* sni : {"b.test", "a.test", "unknown.test"}) {
            CAPTURE(sni);
            TlsSession server(*contexts, "127.0.0.1", 443);
            REQUIRE(server.ok());
            Client client(sni);
            REQUIRE(client.handshake(server));
            const std::string expected = std::string(sni) == "b.test" ? "b.test" : "a.test";
            CHECK(client.peer_name() == expected);
            CHECK(server.host() == (expected == "b.test" ? 2u : 1u));
            CHECK(server.protocol() == "TLSv1.3");
            const unsigned char* alpn = nullptr;
            unsigned alpn_len = 0;
            SSL_get0_alpn_selected(client.ssl, &alpn, &alpn_len);
            CHECK(std::string(reinterpret_cast<const char*>(alpn), alpn_len) == "http/1.1");
            // Application data both ways.
            SSL_write(client.ssl, "GET / HTTP/1.1\r\n\r\n", 18);
            char buf[256];
            const int n = BIO_read(SSL_get_wbio(client.ssl), buf, sizeof buf);
            server.feed(buf, static_cast<std::size_t>(n));
            std::size_t got = 0;
            REQUIRE(server.read(buf, sizeof buf, got) == TlsSession::Status::ok);
            CHECK(std::string(buf, got) == "GET / HTTP/1.1\r\n\r\n");
            CHECK(server.read(buf, sizeof buf, got) == TlsSession::Status::want_more);
        }
    }

    TEST_CASE("a ticket from one worker's contexts resumes on another's, not with other keys") {
        Fixture f;
        const TicketKeys keys;
        const TicketKeys other_keys;
        std::string err;
        const auto worker1 = TlsContexts::build(f.loaded.config, keys, err);
        const auto worker2 = TlsContexts::build(f.loaded.config, keys, err);
        const auto other = TlsContexts::build(f.loaded.config, other_keys, err);
        REQUIRE((worker1 && worker2 && other));
        TlsSession first(*worker1, "127.0.0.1", 443);
        Client c1("a.test");
        REQUIRE(c1.handshake(first));
        CHECK_FALSE(first.resumed());
        SSL_SESSION* session = SSL_get1_session(c1.ssl);
        REQUIRE(session != nullptr);
        TlsSession second(*worker2, "127.0.0.1", 443);
        Client c2("a.test", session);
        REQUIRE(c2.handshake(second));
        CHECK(second.resumed());
        TlsSession third(*other, "127.0.0.1", 443);
        Client c3("a.test", session);
        REQUIRE(c3.handshake(third));
        CHECK_FALSE(third.resumed());
        // TODO: a TLS 1.3 ticket of a.test offered with SNI b.test is still resumed here
        // (OpenSSL 3.0; test_tls.py's Python client is refused); open point of issue 15.
        SSL_SESSION_free(session);
    }
}
