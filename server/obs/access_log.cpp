#include "server/obs/access_log.hpp"

#include "parser/text.hpp"

#include <array>
#include <charconv>
#include <cstring>

namespace kahttpd::server {

namespace {

using text::append_number;

/// Apache's %t: "[21/Nov/2026:04:40:00 +0000]" (always UTC). strftime and gmtime cost about
/// 1,200 instructions; the text changes once a second, so each thread keeps the last one.
void append_clf_time(std::string& out, std::time_t t) {
    struct Last {
        std::time_t t = -1;
        std::size_t n = 0;
        char text[40];
    };
    thread_local Last last;
    if (last.t != t) {
        std::tm tm{};
        gmtime_r(&t, &tm);
        last.n = std::strftime(last.text, sizeof last.text, "[%d/%b/%Y:%H:%M:%S +0000]", &tm);
        last.t = t;
    }
    out.append(last.text, last.n);
}

/// Whether a byte of client text is escaped in a log line: quotes, backslashes, control bytes
/// and everything above 0x7e.
constexpr std::array<bool, 256> kEscaped = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 256; ++c) {
        t[static_cast<std::size_t>(c)] = c == '"' || c == '\\' || c < 0x20 || c >= 0x7f;
    }
    return t;
}();

/// Quotes and backslashes escaped with a backslash, control bytes and bytes above 0x7f as
/// `hex_prefix` and two hex digits: Apache's log escaping ("\\x") or JSON's ("\\u00", so the
/// line stays valid JSON whatever the client sent). A line can never be split or forged. Runs
/// of bytes that need nothing are appended whole.
void append_escaped(std::string& out, std::string_view s, std::string_view hex_prefix = "\\x") {
    static constexpr char kHex[] = "0123456789abcdef";
    std::size_t plain = 0; // start of the run not appended yet
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (!kEscaped[c]) {
            continue;
        }
        out.append(s.data() + plain, i - plain);
        plain = i + 1;
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(static_cast<char>(c));
        } else {
            out.append(hex_prefix);
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
        }
    }
    out.append(s.data() + plain, s.size() - plain);
}

/// "HTTP/1.1" for the request's version, without snprintf.
std::string_view protocol_text(const parser::Request& req, char (&buf)[16]) noexcept {
    std::memcpy(buf, "HTTP/", 5);
    char* const end = buf + sizeof buf; // llhttp's versions are single bytes: at most 255
    char* p = std::to_chars(buf + 5, end, req.http_major()).ptr;
    *p++ = '.';
    p = std::to_chars(p, end, req.http_minor()).ptr;
    return std::string_view(buf, static_cast<std::size_t>(p - buf));
}

/// The length of the well-formed UTF-8 sequence at the start of `s` (RFC 3629: no overlong
/// forms, no surrogates, nothing above U+10FFFF), or 0.
std::size_t utf8_sequence(std::string_view s) {
    const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const auto cont = [&](std::size_t i) { return i < s.size() && (b(i) & 0xc0) == 0x80; };
    const unsigned char c = b(0);
    if (c >= 0xc2 && c <= 0xdf) {
        return cont(1) ? 2 : 0;
    }
    if (c >= 0xe0 && c <= 0xef) {
        if (!cont(1) || !cont(2) || (c == 0xe0 && b(1) < 0xa0) || (c == 0xed && b(1) > 0x9f)) {
            return 0;
        }
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (!cont(1) || !cont(2) || !cont(3) || (c == 0xf0 && b(1) < 0x90) ||
            (c == 0xf4 && b(1) > 0x8f)) {
            return 0;
        }
        return 4;
    }
    return 0;
}

/// A JSON string (RFC 8259), quotes included. Text in UTF-8 stays as it is (a User-Agent with
/// "é" reads as "é"), except C1 controls; quotes, backslashes, control bytes and bytes that are
/// not well-formed UTF-8 are escaped as \u00NN, so the line is valid JSON whatever the client
/// sent and can never be split.
void append_json_string(std::string& out, std::string_view s) {
    out.push_back('"');
    while (!s.empty()) {
        const auto c = static_cast<unsigned char>(s.front());
        const std::size_t n = c >= 0x80 ? utf8_sequence(s) : 0;
        const bool c1 = n == 2 && c == 0xc2 && static_cast<unsigned char>(s[1]) < 0xa0;
        if (n != 0 && !c1) {
            out.append(s.substr(0, n));
            s.remove_prefix(n);
            continue;
        }
        const std::size_t take = c1 ? 2 : 1;
        append_escaped(out, c1 ? s.substr(1, 1) : s.substr(0, 1), "\\u00");
        s.remove_prefix(take);
    }
    out.push_back('"');
}

/// Apache's %U is the path alone (r->uri): an absolute-form target (RFC 9112 §3.2.2) loses its
/// "scheme://authority", and "/" stands for an empty path. The authority ends at the first '/'
/// or '?', so a slash in the query is not taken for the path.
std::string_view url_path_of(std::string_view target) {
    if (!target.empty() && target.front() != '/') {
        if (const auto scheme_end = target.find("://"); scheme_end != std::string_view::npos) {
            const auto path = target.find_first_of("/?", scheme_end + 3);
            if (path == std::string_view::npos || target[path] == '?') {
                return "/";
            }
            target = target.substr(path);
        }
    }
    return target.substr(0, target.find('?'));
}

std::string_view query_of(std::string_view target) {
    const auto q = target.find('?');
    return q == std::string_view::npos ? std::string_view() : target.substr(q);
}

} // namespace

AccessLogFormat::AccessLogFormat(std::string_view format) {
    if (format == "json") {
        json_ = true;
        status_marks_ = true; // "connection"
        return;
    }
    std::string text;
    auto flush_text = [&] {
        if (!text.empty()) {
            pieces_.push_back({Kind::text, std::move(text)});
            text.clear();
        }
    };
    for (std::size_t i = 0; i < format.size(); ++i) {
        if (format[i] != '%' || i + 1 == format.size()) {
            text.push_back(format[i]);
            continue;
        }
        const std::size_t start = i++;
        std::string arg;
        // Apache takes the modifiers before the letter in any order: "{arg}", and '<' or '>'
        // for the original or the final request (%<s, %>s, %>{Referer}i). kahttpd has no
        // internal redirects, so both name the one request.
        bool unclosed = false;
        while (i < format.size()) {
            if (format[i] == '<' || format[i] == '>') {
                ++i;
            } else if (format[i] == '{') {
                const auto close = format.find('}', i);
                if (close == std::string_view::npos) {
                    unclosed = true;
                    break;
                }
                arg = std::string(format.substr(i + 1, close - i - 1));
                i = close + 1;
            } else {
                break;
            }
        }
        if (unclosed) {
            text.append(format.substr(start));
            break;
        }
        if (i >= format.size()) {
            break;
        }
        const char code = format[i];
        if (code == '%') {
            text.push_back('%');
            continue;
        }
        flush_text();
        Kind kind = Kind::dash;
        switch (code) {
        case 'h':
            kind = Kind::client;
            break;
        case 'a':
            // %{c}a: the connection's peer (the proxy, behind RemoteIPHeader), as Apache's.
            kind = arg == "c" ? Kind::peer : Kind::client;
            break;
        case 't':
            kind = Kind::time;
            break;
        case 'r':
            kind = Kind::request_line;
            break;
        case 's':
            kind = Kind::status;
            break;
        case 'b':
            kind = Kind::bytes_clf;
            break;
        case 'B':
            kind = Kind::bytes;
            break;
        case 'D':
            kind = Kind::duration_us;
            break;
        case 'T':
            kind = arg == "ms"   ? Kind::duration_ms
                   : arg == "us" ? Kind::duration_us
                                 : Kind::duration_s;
            break;
        case 'k':
            kind = Kind::keepalive_count;
            break;
        case 'X':
            kind = Kind::connection_status;
            status_marks_ = true;
            break;
        case 'm':
            kind = Kind::method;
            break;
        case 'U':
            kind = Kind::url_path;
            break;
        case 'q':
            kind = Kind::query;
            break;
        case 'H':
            kind = Kind::protocol;
            break;
        case 'v':
            kind = Kind::server_name;
            break;
        case 'i':
            kind = Kind::request_header;
            break;
        case 'x':
            kind = arg == "close-reason"   ? Kind::close_reason
                   : arg == "SSL_PROTOCOL" ? Kind::ssl_protocol
                   : arg == "SSL_CIPHER"   ? Kind::ssl_cipher
                                           : Kind::dash;
            break;
        case 'A':
            kind = Kind::local_ip;
            break;
        case 'p':
            // Apache's %p is the canonical port (ServerName's, or the one reached, which is
            // what kahttpd's vhosts have); %{local}p the one reached, %{remote}p the client's.
            kind = arg == "remote" ? Kind::remote_port : Kind::local_port;
            break;
        default: // %l, %u and everything kahttpd has no value for
            kind = Kind::dash;
            break;
        }
        pieces_.push_back({kind, kind == Kind::request_header ? arg : std::string()});
    }
    flush_text();
}

void AccessLogFormat::append(std::string& out, const AccessRecord& r) const {
    const parser::Request* req = r.request;
    const std::string_view method = req != nullptr ? req->method() : std::string_view();
    const std::string_view target = req != nullptr ? req->target() : std::string_view();
    char protocol_buf[16];
    const std::string_view protocol =
        req != nullptr ? protocol_text(*req, protocol_buf) : std::string_view("-");
    if (json_) {
        out.append("{\"time\":");
        append_number(out, static_cast<std::uint64_t>(r.time));
        out.append(",\"client\":");
        append_json_string(out, r.client);
        out.append(",\"method\":");
        append_json_string(out, method);
        out.append(",\"target\":");
        append_json_string(out, target);
        out.append(",\"protocol\":");
        append_json_string(out, req != nullptr ? protocol : std::string_view());
        out.append(",\"status\":");
        append_number(out, r.status);
        out.append(",\"bytes\":");
        append_number(out, r.body_bytes);
        out.append(",\"duration_us\":");
        append_number(out, r.duration_us);
        out.append(",\"keepalive_requests\":");
        append_number(out, r.previous_requests);
        out.append(",\"connection\":\"");
        out.push_back(r.keep_alive ? kPendingKeepAlive : kPendingClose);
        out.push_back('"');
        out.append(",\"close_reason\":");
        append_json_string(out, r.keep_alive ? "" : r.close_reason);
        out.append(",\"host\":");
        append_json_string(out, req != nullptr ? req->header("Host").value_or("") : "");
        out.append(",\"user_agent\":");
        append_json_string(out, req != nullptr ? req->header("User-Agent").value_or("") : "");
        if (!r.tls_protocol.empty()) {
            out.append(",\"tls_protocol\":");
            append_json_string(out, r.tls_protocol);
            out.append(",\"tls_cipher\":");
            append_json_string(out, r.tls_cipher);
        }
        out.append("}\n");
        return;
    }
    for (const auto& p : pieces_) {
        switch (p.kind) {
        case Kind::text:
            out.append(p.text);
            break;
        case Kind::client:
            out.append(r.client);
            break;
        case Kind::peer:
            out.append(r.peer.empty() ? r.client : r.peer);
            break;
        case Kind::dash:
            out.push_back('-');
            break;
        case Kind::time:
            append_clf_time(out, r.time);
            break;
        case Kind::request_line:
            if (req == nullptr) {
                out.push_back('-');
            } else {
                append_escaped(out, method);
                out.push_back(' ');
                append_escaped(out, target);
                out.push_back(' ');
                out.append(protocol);
            }
            break;
        case Kind::status:
            append_number(out, r.status);
            break;
        case Kind::bytes_clf:
            if (r.body_bytes == 0) {
                out.push_back('-');
            } else {
                append_number(out, r.body_bytes);
            }
            break;
        case Kind::bytes:
            append_number(out, r.body_bytes);
            break;
        case Kind::duration_us:
            append_number(out, r.duration_us);
            break;
        case Kind::duration_s:
            append_number(out, r.duration_us / 1000000);
            break;
        case Kind::duration_ms:
            append_number(out, r.duration_us / 1000);
            break;
        case Kind::keepalive_count:
            append_number(out, r.previous_requests);
            break;
        case Kind::connection_status:
            out.push_back(r.keep_alive ? kPendingKeepAlive : kPendingClose);
            break;
        case Kind::method:
            append_escaped(out, method.empty() ? "-" : method);
            break;
        case Kind::url_path:
            append_escaped(out, target.empty() ? "-" : url_path_of(target));
            break;
        case Kind::query:
            append_escaped(out, query_of(target));
            break;
        case Kind::protocol:
            out.append(protocol);
            break;
        case Kind::server_name:
            append_escaped(out, r.server_name.empty() ? "-" : r.server_name);
            break;
        case Kind::request_header: {
            const auto v = req != nullptr ? req->header(p.text) : std::nullopt;
            if (v) {
                append_escaped(out, *v);
            } else {
                out.push_back('-');
            }
            break;
        }
        case Kind::close_reason:
            out.append(r.keep_alive || r.close_reason.empty() ? "-" : r.close_reason);
            break;
        case Kind::ssl_protocol:
            out.append(r.tls_protocol.empty() ? "-" : r.tls_protocol);
            break;
        case Kind::ssl_cipher:
            out.append(r.tls_cipher.empty() ? "-" : r.tls_cipher);
            break;
        case Kind::local_ip:
            if (r.local_ip == nullptr) {
                out.push_back('-');
            } else {
                char ip[64];
                out.append(ip_text(*r.local_ip, ip));
            }
            break;
        case Kind::local_port:
            append_number(out, r.local_port);
            break;
        case Kind::remote_port:
            append_number(out, r.remote_port);
            break;
        }
    }
    out.push_back('\n');
}

void resolve_connection_status(char* line, std::size_t size, bool aborted) noexcept {
    for (std::size_t i = 0; i < size; ++i) {
        if (line[i] == kPendingKeepAlive) {
            line[i] = aborted ? 'X' : '+';
        } else if (line[i] == kPendingClose) {
            line[i] = aborted ? 'X' : '-';
        }
    }
}

} // namespace kahttpd::server
