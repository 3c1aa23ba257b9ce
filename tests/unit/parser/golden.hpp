#pragma once

// Golden request cases (tests/data/parser/*.http) and a driver that feeds them to a
// RequestParser in any split. The format follows llhttp's Markdown specs:
//
//   ## Case name
//
//   ```http
//   GET / HTTP/1.1
//   Host: example.com
//
//   ```
//
//   ```expect
//   message
//   method GET
//   header Host: example.com
//   ```
//
// In an `http` block every line ends in CRLF, except a line that ends in a lone backslash,
// which ends in nothing (for bare LF, bodies and unfinished input). Escapes: \r, \n, \t,
// \\, \xNN, and \{N*text} for text repeated N times. Prose outside the blocks is ignored.
// The values of `expect` lines take the same escapes.
//
// An `expect` block lists, in order, the events feed() must produce: `head` (head_complete),
// `message` (message_complete) or `error <status>`. Lines after an event check it:
// `offset <n>` (stream offset where it happened), `method`, `method_id`, `target`,
// `version <x.y>`, `header <Name>: <value>` (lookup by name), `field <i> <Name>: <value>`
// (exact i-th field), `no_header <Name>`, `headers <count>`, `keep_alive`,
// `keep_alive_requested`, `has_body`, `chunked`, `expect_continue` (true/false),
// `content_length <n|none>`, `body_bytes <n>`, and for errors `reason <substring>`.
// `limits name=value...` sets ParseLimits for the case; `end idle|in_message` checks the
// state after the last byte when no error ended the run.

#include "parser/request_parser.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kahttpd::parser::test {

struct Directive {
    std::string key;
    std::string value;
    int line = 0;
};

struct GoldenCase {
    std::string file;
    int line = 0;
    std::string name;
    std::string input;
    ParseLimits limits;
    std::vector<Directive> expect;
};

inline int hex_digit(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    throw std::runtime_error("bad hex digit");
}

/// `line` with escapes resolved. Sets `line_ending` to false when the line ends in a lone
/// backslash.
inline std::string unescape(std::string_view line, bool& line_ending) {
    std::string out;
    line_ending = true;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (c != '\\') {
            out += c;
            continue;
        }
        if (i + 1 == line.size()) {
            line_ending = false; // a lone backslash at the end: no CRLF
            break;
        }
        const char e = line[++i];
        switch (e) {
        case 'r':
            out += '\r';
            break;
        case 'n':
            out += '\n';
            break;
        case 't':
            out += '\t';
            break;
        case '\\':
            out += '\\';
            break;
        case 'x': {
            if (i + 2 >= line.size()) {
                throw std::runtime_error("short \\x escape");
            }
            out += static_cast<char>(hex_digit(line[i + 1]) * 16 + hex_digit(line[i + 2]));
            i += 2;
            break;
        }
        case '{': {
            const std::size_t close = line.find('}', i);
            const std::size_t star = line.find('*', i);
            if (close == std::string_view::npos || star == std::string_view::npos || star > close) {
                throw std::runtime_error("bad \\{N*text} escape");
            }
            const std::size_t count = std::stoul(std::string(line.substr(i + 1, star - i - 1)));
            const std::string_view text = line.substr(star + 1, close - star - 1);
            for (std::size_t k = 0; k < count; ++k) {
                out.append(text);
            }
            i = close;
            break;
        }
        default:
            throw std::runtime_error(std::string("unknown escape \\") + e);
        }
    }
    return out;
}

/// One line of an `http` block with escapes resolved and its line ending appended.
inline std::string unescape_line(std::string_view line) {
    bool line_ending = true;
    std::string out = unescape(line, line_ending);
    if (line_ending) {
        out += "\r\n";
    }
    return out;
}

inline void apply_limits(ParseLimits& limits, const std::string& spec) {
    std::istringstream words(spec);
    std::string word;
    while (words >> word) {
        const std::size_t eq = word.find('=');
        if (eq == std::string::npos) {
            throw std::runtime_error("limits: expected name=value, got " + word);
        }
        const std::string name = word.substr(0, eq);
        const unsigned long long value = std::stoull(word.substr(eq + 1));
        if (name == "request_line") {
            limits.request_line = static_cast<std::uint32_t>(value);
        } else if (name == "field_size") {
            limits.field_size = static_cast<std::uint32_t>(value);
        } else if (name == "fields") {
            limits.fields = static_cast<std::uint32_t>(value);
        } else if (name == "body") {
            limits.body = value;
        } else {
            throw std::runtime_error("limits: unknown limit " + name);
        }
    }
}

/// Parses one .http file into its cases. Throws std::runtime_error on a malformed file.
inline std::vector<GoldenCase> load_cases(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot open " + path.string());
    }
    std::vector<GoldenCase> cases;
    enum class Block { none, http, expect } block = Block::none;
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        if (block == Block::none) {
            if (line.rfind("## ", 0) == 0) {
                GoldenCase c;
                c.file = path.filename().string();
                c.line = number;
                c.name = line.substr(3);
                cases.push_back(std::move(c));
            } else if (line == "```http" || line == "```expect") {
                if (cases.empty()) {
                    throw std::runtime_error(path.string() + ": block before the first case");
                }
                block = (line == "```http") ? Block::http : Block::expect;
            }
            continue;
        }
        if (line == "```") {
            block = Block::none;
            continue;
        }
        GoldenCase& c = cases.back();
        if (block == Block::http) {
            c.input += unescape_line(line);
            continue;
        }
        if (line.empty()) {
            continue;
        }
        const std::size_t space = line.find(' ');
        bool ignored = true;
        Directive d{line.substr(0, space),
                    space == std::string::npos ? std::string()
                                               : unescape(line.substr(space + 1), ignored),
                    number};
        if (d.key == "limits") {
            apply_limits(c.limits, d.value);
        } else {
            c.expect.push_back(std::move(d));
        }
    }
    if (block != Block::none) {
        throw std::runtime_error(path.string() + ": unterminated block");
    }
    return cases;
}

#ifdef KAHTTPD_TEST_DATA_DIR
/// Every case of every tests/data/parser/*.http file, in file-name order.
inline std::vector<GoldenCase> load_all_cases() {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(
             std::filesystem::path(KAHTTPD_TEST_DATA_DIR) / "parser")) {
        if (entry.path().extension() == ".http") {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    std::vector<GoldenCase> all;
    for (const auto& file : files) {
        for (auto& c : load_cases(file)) {
            all.push_back(std::move(c));
        }
    }
    return all;
}
#endif

/// One event feed() reported, with a copy of the request at that moment.
struct Record {
    ParseEvent event = ParseEvent::need_more;
    std::size_t offset = 0; ///< stream offset after the event (errors: where it stopped)
    Status status = Status::ok;
    std::string reason;
    bool in_message = false;
    Request request;
};

struct Run {
    std::vector<Record> records;
    bool ended_in_error = false;
    bool in_message_at_end = false;
};

/// Feeds `input` cut at the given (increasing) positions, each piece in its own heap buffer
/// that is scribbled over and freed once fed, so a view kept into it would show up as
/// garbage (or as an error under valgrind).
inline Run run_cut(std::string_view input, const ParseLimits& limits,
                   const std::vector<std::size_t>& cuts) {
    Run run;
    RequestParser parser(limits);
    std::size_t offset = 0;
    std::size_t start = 0;
    for (std::size_t k = 0; k <= cuts.size(); ++k) {
        const std::size_t end = (k < cuts.size()) ? cuts[k] : input.size();
        const std::size_t size = end - start;
        auto buffer = std::make_unique<char[]>(size + 1);
        std::memcpy(buffer.get(), input.data() + start, size);
        std::string_view piece(buffer.get(), size);
        start = end;
        while (true) {
            const FeedResult r = parser.feed(piece);
            if (r.consumed > piece.size()) {
                throw std::logic_error("feed() consumed more than it was given");
            }
            offset += r.consumed;
            piece.remove_prefix(r.consumed);
            if (r.event == ParseEvent::need_more) {
                if (!piece.empty()) {
                    throw std::logic_error("need_more with unconsumed input");
                }
                break;
            }
            Record rec;
            rec.event = r.event;
            rec.offset = offset;
            rec.in_message = parser.in_message();
            if (r.event == ParseEvent::error) {
                rec.status = parser.error_status();
                rec.reason = std::string(parser.error_reason());
            } else {
                rec.request = parser.request();
            }
            run.records.push_back(std::move(rec));
            if (r.event == ParseEvent::error) {
                run.ended_in_error = true;
                return run;
            }
        }
        std::memset(buffer.get(), 'X', size);
    }
    run.in_message_at_end = parser.in_message();
    return run;
}

inline Run run_whole(std::string_view input, const ParseLimits& limits) {
    return run_cut(input, limits, {});
}

inline Run run_bytewise(std::string_view input, const ParseLimits& limits) {
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < input.size(); ++i) {
        cuts.push_back(i);
    }
    return run_cut(input, limits, cuts);
}

inline std::string describe(const Request& r) {
    std::ostringstream out;
    out << r.method() << " (" << int(r.method_id()) << ") " << r.target() << " HTTP/"
        << int(r.http_major()) << '.' << int(r.http_minor()) << " ka=" << r.keep_alive()
        << " kar=" << r.keep_alive_requested() << " body=" << r.has_body()
        << " chunked=" << r.chunked() << " cl=";
    if (r.content_length()) {
        out << *r.content_length();
    } else {
        out << '-';
    }
    out << " seen=" << r.body_bytes() << " expect=" << r.expect_continue()
        << " hosts=" << r.host_fields() << ':' << r.host_field() << " [";
    for (const HeaderField& f : r.headers()) {
        out << f.name << ": " << f.value << " | ";
    }
    out << ']';
    return out.str();
}

/// A canonical text of a run, for comparing runs over different splits. An error's offset
/// is left out: llhttp may notice a violation at the end of a span or at the exact byte,
/// depending on where the input was cut.
inline std::string describe(const Run& run) {
    std::ostringstream out;
    for (const Record& rec : run.records) {
        switch (rec.event) {
        case ParseEvent::head_complete:
            out << "head@" << rec.offset << " in_message=" << rec.in_message << ' '
                << describe(rec.request) << '\n';
            break;
        case ParseEvent::message_complete:
            out << "message@" << rec.offset << " in_message=" << rec.in_message << ' '
                << describe(rec.request) << '\n';
            break;
        case ParseEvent::error:
            out << "error " << code(rec.status) << " (" << rec.reason << ")\n";
            break;
        case ParseEvent::need_more:
            break;
        }
    }
    if (!run.ended_in_error) {
        out << "end in_message=" << run.in_message_at_end << '\n';
    }
    return out.str();
}

} // namespace kahttpd::parser::test
