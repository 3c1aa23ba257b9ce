#include "server/http/content_coding.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string_view>

using kahttpd::server::choose_coding;
using kahttpd::server::Coding;
using kahttpd::server::coding_name;

namespace {

struct Case {
    std::optional<std::string_view> accept_encoding;
    Coding both;      // with .br and .gz available
    Coding gzip_only; // with only .gz available
    Coding br_only;   // with only .br available
};

void check_cases(std::initializer_list<Case> cases) {
    for (const auto& c : cases) {
        CAPTURE(c.accept_encoding.value_or("(absent)"));
        CHECK(choose_coding(c.accept_encoding, true, true) == c.both);
        CHECK(choose_coding(c.accept_encoding, false, true) == c.gzip_only);
        CHECK(choose_coding(c.accept_encoding, true, false) == c.br_only);
        CHECK(choose_coding(c.accept_encoding, false, false) == Coding::identity);
    }
}

constexpr Coding I = Coding::identity;
constexpr Coding G = Coding::gzip;
constexpr Coding B = Coding::br;

} // namespace

TEST_SUITE("server") {

    TEST_CASE("without Accept-Encoding the file is sent as is") {
        check_cases({
            {std::nullopt, I, I, I},
            {"", I, I, I},
            {" , ", I, I, I},
        });
    }

    TEST_CASE("listed codings are chosen, br on a tie") {
        check_cases({
            {"gzip", G, G, I},
            {"br", B, I, B},
            {"gzip, br", B, G, B},
            {"br, gzip", B, G, B},
            {"gzip, deflate, br, zstd", B, G, B}, // what browsers send
            {"deflate, zstd", I, I, I},
            {"x-gzip", G, G, I},
        });
    }

    TEST_CASE("q-values order the codings") {
        check_cases({
            {"gzip;q=1.0, br;q=0.5", G, G, B},
            {"gzip;q=0.5, br;q=1.0", B, G, B},
            {"gzip;q=0.5, br;q=0.5", B, G, B},
            {"gzip;q=0.501, br;q=0.5", G, G, B},
            {"gzip;q=0.001", G, G, I},
            {"gzip;q=1, br;q=1.000", B, G, B},
            {"gzip;q=1.", G, G, I},
            {"gzip;q=0.", I, I, I},
            {"br;q=0.4, gzip;q=0.5, *;q=1", G, G, B},
        });
    }

    TEST_CASE("a zero weight rules a coding out") {
        check_cases({
            {"gzip;q=0", I, I, I},
            {"gzip;q=0, br;q=0", I, I, I},
            {"br;q=0, gzip", G, G, I},
            {"gzip;q=0.000, br", B, I, B},
            {"gzip;q=0, x-gzip;q=0.5", G, G, I}, // the highest q of an alias or repeat counts
            {"gzip, gzip;q=0", G, G, I},
        });
    }

    TEST_CASE("the star applies to codings not listed") {
        check_cases({
            {"*", B, G, B},
            {"*;q=0", I, I, I},
            {"*;q=0, gzip", G, G, I},
            {"*;q=0.5, gzip;q=0.6", G, G, B},
            {"*;q=0.7, gzip;q=0.6", B, G, B},
            {"*;q=0.3, br;q=0", G, G, I},
            {"br;q=0, *", G, G, I},
        });
    }

    TEST_CASE("identity competes only when listed, and never yields a 406") {
        check_cases({
            {"identity", I, I, I},
            {"identity;q=1, gzip;q=0.5", I, I, I},
            {"identity;q=0.5, gzip;q=0.5", G, G, I}, // a tie goes to the compressed coding
            {"identity;q=0.4, br;q=0.5, gzip;q=0.3", B, I, B},
            {"identity, gzip", G, G, I},
            {"identity;q=0", I, I, I},
            {"identity;q=0, *;q=0", I, I, I},
            {"identity;q=0, gzip;q=0", I, I, I},
        });
    }

    TEST_CASE("codings and parameter names are case-insensitive; whitespace is optional") {
        check_cases({
            {"GZIP", G, G, I},
            {"Br", B, I, B},
            {"X-Gzip", G, G, I},
            {"gzip;Q=0.5, br;q=0.4", G, G, B},
            {"gZiP ; q=0.8 , bR ; q=0.9", B, G, B},
            {"\tgzip\t;\tq=0.5\t,\tbr;q=0.1", G, G, B},
            {"  gzip  ", G, G, I},
            {",,gzip,,", G, G, I},
            {"IDENTITY;Q=1, GZIP;Q=0.5", I, I, I},
        });
    }

    TEST_CASE("malformed elements are ignored, not read as q=1") {
        check_cases({
            {"gzip;q=0.0001", I, I, I}, // four decimals
            {"gzip;q=1.001", I, I, I},  // above one
            {"gzip;q=2", I, I, I},
            {"gzip;q=-1", I, I, I},
            {"gzip;q=", I, I, I},
            {"gzip;q", I, I, I},
            {"gzip;", I, I, I},
            {"gzip;q=0.5x", I, I, I},
            {"gzip; q = 1", I, I, I},
            {"gzip;level=1", I, I, I},
            {"gzip;q=0.5;level=1", I, I, I},
            {"gzip br", I, I, I},
            {"gzip/1", I, I, I},
            {";q=1", I, I, I},
            {"\"gzip\"", I, I, I},
            {"br;q=abc, gzip", G, G, I}, // the good element still counts
            {"gzip, br;q=0.5x", G, G, I},
            {"gzip;q=0.5;x, br", B, I, B},
        });
    }

    TEST_CASE("coding names are the Content-Encoding tokens") {
        CHECK(coding_name(Coding::identity).empty());
        CHECK(coding_name(Coding::gzip) == "gzip");
        CHECK(coding_name(Coding::br) == "br");
    }
}
