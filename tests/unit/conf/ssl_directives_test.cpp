#include "conf/config.hpp"

#include "tests/unit/conf/load_helpers.hpp"

#include <doctest/doctest.h>

#include <string>

using kahttpd::conf::Config;
using kahttpd::conf::TlsSettings;
using kahttpd::conf::test::config_of;
using kahttpd::conf::test::error_of;
using kahttpd::conf::test::kFile;
using kahttpd::conf::test::load;
using kahttpd::conf::test::messages;

namespace {

std::string at(int line, const std::string& directive) {
    return kFile + ":" + std::to_string(line) + ": " + directive + ": ";
}

} // namespace

// The certificate checks (files read, key matched, validity) need real files: they are in
// tests/integration/test_tls.py, through kahttpd -t.
TEST_SUITE("conf") {

    TEST_CASE("Listen takes https, and port 443 is https by default as in Apache") {
        // (No certificate anywhere: the error names the address, which shows it is https.)
        CHECK(error_of("Listen 127.0.0.1:8443 https") ==
              at(2, "Listen") + "expected an SSLCertificateFile for the main server, which "
                                "answers on this https address, found none");
        CHECK(error_of("Listen 443").starts_with(at(2, "Listen") + "expected an SSLCertificate"));
        const Config c = config_of("Listen 8443 http\n");
        REQUIRE(c.listen.size() == 2);
        CHECK_FALSE(c.listen[0].https);
        CHECK_FALSE(c.listen[1].https);
        CHECK_FALSE(c.tls_anywhere());
    }

    TEST_CASE("SSLProtocol reads Apache's +/- syntax and allows TLS 1.2 and 1.3 only") {
        auto protocols = [](const std::string& arg) {
            const Config c = config_of("SSLProtocol " + arg + "\n");
            REQUIRE(c.main.tls.protocols);
            return static_cast<int>(c.main.tls.protocols->value);
        };
        constexpr int k12 = TlsSettings::kTls12;
        constexpr int k13 = TlsSettings::kTls13;
        CHECK(protocols("all") == (k12 | k13));
        CHECK(protocols("all -TLSv1 -TLSv1.1") == (k12 | k13));
        CHECK(protocols("-all +TLSv1.3") == k13);
        CHECK(protocols("TLSv1.2") == k12);
        CHECK(protocols("+TLSv1.2 +TLSv1.3") == (k12 | k13));
        CHECK(protocols("all -TLSv1.3") == k12);
        CHECK(protocols("-SSLv3 TLSv1.3") == k13); // a word without a sign sets the list
        CHECK(error_of("SSLProtocol TLSv1.1") ==
              at(2, "SSLProtocol") +
                  "expected TLSv1.2 or TLSv1.3 (kahttpd does not speak TLSv1.1), found "
                  "\"TLSv1.1\"");
        CHECK(error_of("SSLProtocol all +SSLv3").starts_with(at(2, "SSLProtocol") + "expected"));
        CHECK(error_of("SSLProtocol TLSv9") ==
              at(2, "SSLProtocol") + "expected all, TLSv1.2 or TLSv1.3 (each with an optional + "
                                     "or -), found \"TLSv9\"");
        CHECK(error_of("SSLProtocol -all") ==
              at(2, "SSLProtocol") +
                  "expected at least one of TLSv1.2 and TLSv1.3 to remain, found none");
    }

    TEST_CASE("SSLCipherSuite takes an OpenSSL list, or TLSv1.3 and its suites") {
        const Config c = config_of("SSLCipherSuite HIGH:!aNULL:!MD5\n"
                                   "SSLCipherSuite TLSv1.3 TLS_AES_128_GCM_SHA256\n");
        REQUIRE(c.main.tls.cipher_suite);
        CHECK(c.main.tls.cipher_suite->value == "HIGH:!aNULL:!MD5");
        CHECK(c.main.tls.cipher_suite->from == kFile + ":2");
        REQUIRE(c.main.tls.cipher_suite_tls13);
        CHECK(c.main.tls.cipher_suite_tls13->value == "TLS_AES_128_GCM_SHA256");
        CHECK(config_of("SSLCipherSuite SSL ECDHE+AESGCM\n").main.tls.cipher_suite->value ==
              "ECDHE+AESGCM");
        CHECK(error_of("SSLCipherSuite NOTHING-AT-ALL")
                  .starts_with(at(2, "SSLCipherSuite") +
                               "expected an OpenSSL cipher list (as in HIGH:!aNULL:!MD5) that "
                               "names at least one cipher, found \"NOTHING-AT-ALL\""));
        CHECK(error_of("SSLCipherSuite TLSv1.3 TLS_NOPE")
                  .starts_with(at(2, "SSLCipherSuite") + "expected an OpenSSL TLS 1.3 cipher"));
        CHECK(error_of("SSLCipherSuite TLSv1.2 HIGH") ==
              at(2, "SSLCipherSuite") +
                  "expected the protocol SSL or TLSv1.3 before the cipher-spec, found "
                  "\"TLSv1.2\"");
    }

    TEST_CASE("the on/off directives and SSLSessionCacheTimeout") {
        const Config c = config_of("SSLHonorCipherOrder on\nSSLSessionTickets off\n"
                                   "SSLSessionCacheTimeout 600\n");
        CHECK(c.main.tls.honor_cipher_order_or_default());
        CHECK_FALSE(c.main.tls.session_tickets_or_default());
        CHECK(c.main.tls.session_cache_timeout_or_default().count() == 600000);
        const Config d = config_of("");
        CHECK_FALSE(d.main.tls.honor_cipher_order_or_default());
        CHECK(d.main.tls.session_tickets_or_default());
        CHECK(d.main.tls.session_cache_timeout_or_default().count() == 300000);
        CHECK(error_of("SSLSessionTickets maybe") ==
              at(2, "SSLSessionTickets") + "expected On or Off, found \"maybe\"");
        CHECK(error_of("SSLSessionCacheTimeout 0") ==
              at(2, "SSLSessionCacheTimeout") +
                  "expected a duration (30, 30s, 500ms, 5m, 1h) from 1ms to 24h, found \"0\"");
        CHECK(error_of("SSLEngine optional").starts_with(at(2, "SSLEngine") + "expected On or Off"));
    }

    TEST_CASE("a vhost inherits the main server's TLS settings it leaves out") {
        const Config c = config_of("SSLProtocol TLSv1.3\nSSLSessionTickets off\n"
                                   "<VirtualHost *:8080>\nServerName a.test\n"
                                   "SSLSessionTickets on\n</VirtualHost>\n");
        const TlsSettings t = TlsSettings::merged(c.main.tls, c.vhosts.at(0).tls);
        CHECK(t.protocols_or_default() == TlsSettings::kTls13);
        CHECK(t.protocols->from == kFile + ":2");
        CHECK(t.session_tickets_or_default());
        CHECK(t.session_tickets->from == kFile + ":6");
    }

    TEST_CASE("SSLEngine must match the https addresses") {
        CHECK(error_of("SSLEngine on") ==
              at(2, "SSLEngine") + "expected a Listen ... https address for this host (kahttpd "
                                   "speaks TLS on the addresses Listen marks https), found none");
        CHECK(error_of("<VirtualHost *:8080>\nSSLEngine on\n</VirtualHost>") ==
              at(3, "SSLEngine") +
                  "expected a Listen ... https address for this host's <VirtualHost> addresses "
                  "(kahttpd speaks TLS on the addresses Listen marks https), found none");
        // An https address whose vhost has no certificate: the vhost is named.
        const auto r = load("Listen 8443 https\n<VirtualHost *:8443>\nServerName a.test\n"
                            "</VirtualHost>\n");
        CHECK(messages(r.errors) ==
              std::vector<std::string>{
                  at(3, "<VirtualHost>") +
                  "expected an SSLCertificateFile for this virtual host, which answers on the "
                  "https address of the Listen at " +
                  kFile + ":2, found none"});
        // SSLEngine Off where the address is https.
        const auto off = load("Listen 8443 https\n<VirtualHost *:8443>\nSSLEngine off\n"
                              "</VirtualHost>\n");
        CHECK(messages(off.errors) ==
              std::vector<std::string>{at(4, "SSLEngine") +
                                       "expected On (or no SSLEngine) for a host served on the "
                                       "https address " +
                                       kFile + ":2, found Off"});
    }
}
