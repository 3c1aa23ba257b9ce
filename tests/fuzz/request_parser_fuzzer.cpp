// RequestParser under libFuzzer: the bytes of one connection (tests/fuzz/parser_input.hpp: a
// header of LimitRequest* values, then the stream) fed whole, byte by byte and cut at points
// drawn from the input's own hash, with a property checked on every input: the outcome is the
// same whatever the split. Compared is everything tests/unit/parser/golden.hpp's describe()
// prints: each event with its stream offset, the request handed out (method, target, version,
// every field, body bytes, Content-Length, chunked, keep-alive and its echo, Expect, Host
// count), and for an error its status and reason. Any difference aborts with both outcomes.
// Beyond that, feed() must never consume more than it was given, never leave bytes behind with
// need_more, and stay in error once it reported one.

#include "parser/request_parser.hpp"
#include "tests/fuzz/parser_input.hpp"
#include "tests/unit/parser/golden.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

using kahttpd::fuzz::ParserInput;
using kahttpd::parser::FeedResult;
using kahttpd::parser::ParseEvent;
using kahttpd::parser::RequestParser;
namespace test = kahttpd::parser::test;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "request_parser_fuzzer: %s\n", what);
    std::abort();
}

/// Feeds `in.stream` cut at `cuts` (increasing), each piece in its own heap buffer that is
/// scribbled over and freed once fed, so a view kept into a fed buffer reads garbage (and
/// ASan sees the use after free). The hooks of the header apply at the same events in every
/// split, so they cannot make two splits differ.
test::Run run_cut(const ParserInput& in, const std::vector<std::size_t>& cuts) {
    test::Run run;
    RequestParser parser(in.limits);
    std::size_t offset = 0;
    std::size_t start = 0;
    for (std::size_t k = 0; k <= cuts.size(); ++k) {
        const std::size_t end = k < cuts.size() ? cuts[k] : in.stream.size();
        const std::size_t size = end - start;
        const auto buffer = std::make_unique<char[]>(size);
        std::memcpy(buffer.get(), in.stream.data() + start, size);
        std::string_view piece(buffer.get(), size);
        start = end;
        while (true) {
            const FeedResult r = parser.feed(piece);
            if (r.consumed > piece.size()) {
                fail("feed() consumed more than it was given");
            }
            offset += r.consumed;
            piece.remove_prefix(r.consumed);
            if (r.event == ParseEvent::need_more) {
                if (!piece.empty()) {
                    fail("feed() asked for more with input left");
                }
                break;
            }
            test::Record rec;
            rec.event = r.event;
            rec.offset = offset;
            rec.in_message = parser.in_message();
            if (r.event == ParseEvent::error) {
                rec.status = parser.error_status();
                rec.reason = std::string(parser.error_reason());
                if (rec.reason.empty()) {
                    fail("an error without a reason");
                }
                run.records.push_back(std::move(rec));
                run.ended_in_error = true;
                const FeedResult again = parser.feed(piece.empty() ? std::string_view("x") : piece);
                if (again.event != ParseEvent::error || again.consumed != 0) {
                    fail("the parser left its error state without reset()");
                }
                return run;
            }
            rec.request = parser.request();
            run.records.push_back(std::move(rec));
            if (r.event == ParseEvent::head_complete && in.head_body_limit) {
                parser.set_message_body_limit(*in.head_body_limit);
            }
            if (r.event == ParseEvent::message_complete) {
                if (parser.in_message()) {
                    fail("in_message() after message_complete");
                }
                if (in.release_between) {
                    parser.release_memory(0);
                }
            }
        }
        std::memset(buffer.get(), 'X', size);
    }
    run.in_message_at_end = parser.in_message();
    return run;
}

/// splitmix64: the cut points are a function of the input, so a failure reproduces.
struct SplitMix {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
};

std::uint64_t fnv1a(std::string_view s) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (const char c : s) {
        h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
    }
    return h;
}

std::string cuts_text(const std::vector<std::size_t>& cuts) {
    std::string s;
    for (const std::size_t c : cuts) {
        s += std::to_string(c) + ' ';
    }
    return s.empty() ? "none" : s;
}

void check_same(const ParserInput& in, const std::string& expected,
                const std::vector<std::size_t>& cuts) {
    const std::string got = test::describe(run_cut(in, cuts));
    if (got != expected) {
        std::fprintf(stderr,
                     "request_parser_fuzzer: the outcome depends on the split\n"
                     "stream (%zu bytes) cut at: %s\n--- whole:\n%s--- split:\n%s",
                     in.stream.size(), cuts_text(cuts).c_str(), expected.c_str(), got.c_str());
        std::abort();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    const auto in = kahttpd::fuzz::decode_parser_input(bytes);
    if (!in) {
        return -1; // too short to hold the header: not worth keeping
    }
    const std::size_t n = in->stream.size();
    const std::string expected = test::describe(run_cut(*in, {}));
    if (n < 2) {
        return 0;
    }

    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < n; ++i) {
        cuts.push_back(i);
    }
    check_same(*in, expected, cuts); // byte by byte

    SplitMix random{fnv1a(bytes)};
    for (int round = 0; round < 4; ++round) {
        // Rounds 0 and 1 cut once, the others at up to 8 points.
        const std::size_t count = round < 2 ? 1 : 1 + random.next() % 8;
        cuts.clear();
        for (std::size_t c = 0; c < count; ++c) {
            cuts.push_back(1 + random.next() % (n - 1));
        }
        std::sort(cuts.begin(), cuts.end());
        cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
        check_same(*in, expected, cuts);
    }
    return 0;
}
