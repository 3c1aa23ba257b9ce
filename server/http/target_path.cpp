#include "server/http/target_path.hpp"

namespace kahttpd::server {

using parser::Status;

namespace {

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

} // namespace

bool is_htaccess_name(std::string_view segment) noexcept {
    return segment.size() >= 3 && segment[0] == '.' && (segment[1] | 0x20) == 'h' &&
           (segment[2] | 0x20) == 't';
}

namespace {

/// Appends `text`, each byte for which `plain` is false as %XX.
template <typename Plain> void encode_unless(std::string_view text, std::string& out, Plain plain) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (plain(c)) {
            out.push_back(ch);
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
        }
    }
}

} // namespace

void percent_encode_path(std::string_view path, std::string& out) {
    encode_unless(path, out, [](unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               std::string_view("-._~!$&'()*+,;=:@/").find(static_cast<char>(c)) !=
                   std::string_view::npos;
    });
}

void append_uri_escaped(std::string_view uri, std::string& out) {
    encode_unless(uri, out, [](unsigned char c) {
        return c > 0x20 && c < 0x7f &&
               std::string_view("\"<>\\^`{|}").find(static_cast<char>(c)) == std::string_view::npos;
    });
}

bool percent_decode(std::string_view in, std::string& out, bool keep_slashes) {
    out.clear();
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out.push_back(in[i]);
            continue;
        }
        if (i + 2 >= in.size()) {
            return false;
        }
        const int hi = hex_value(in[i + 1]);
        const int lo = hex_value(in[i + 2]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        if (keep_slashes && hi * 16 + lo == '/') {
            out.append(in.substr(i, 3));
            i += 2;
            continue;
        }
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return true;
}

Status resolve_target(std::string_view target, TargetPath& out, conf::EncodedSlashes slashes) {
    out.path.clear();
    out.trailing_slash = false;
    out.raw_path = {};
    out.query = {};

    // Absolute-form (RFC 9112 §3.2.2): drop "scheme://authority". The authority ends at the
    // first '/', '?' or '#' (RFC 3986 §3.2), so "http://h?a=/b" is the root with a query, not
    // the path "/b".
    bool absolute = false;
    if (!target.empty() && target.front() != '/') {
        const auto scheme_end = target.find("://");
        if (scheme_end == std::string_view::npos) {
            return Status::bad_request;
        }
        const auto authority_end = target.find_first_of("/?#", scheme_end + 3);
        target = authority_end == std::string_view::npos ? std::string_view()
                                                         : target.substr(authority_end);
        absolute = true;
    }
    if (const auto q = target.find('?'); q != std::string_view::npos) {
        out.query = target.substr(q + 1);
        target = target.substr(0, q);
    }
    if (const auto f = target.find('#'); f != std::string_view::npos) {
        target = target.substr(0, f);
    }
    if (absolute && target.empty()) {
        target = "/"; // an empty path in absolute-form is the root (RFC 9112 §3.2.2)
    }
    if (target.empty() || target.front() != '/') {
        return Status::bad_request;
    }

    out.raw_path = target;

    // AllowEncodedSlashes Off: check the raw path for encoded slashes before decoding merges
    // them with real ones. (A "%252F" is no encoded slash: it decodes to the name "%2F".)
    if (slashes == conf::EncodedSlashes::off) {
        for (std::size_t i = 0; i + 2 < target.size(); ++i) {
            if (target[i] == '%' && target[i + 1] == '2' &&
                (target[i + 2] == 'f' || target[i + 2] == 'F')) {
                return Status::not_found;
            }
        }
    }
    // On: "%2F" becomes '/' here, before the segments are walked, so a ".." it forms is
    // normalised (or refused above the root) like any other. NoDecode: it stays three
    // characters of a segment, which can then never be "." or "..".
    std::string decoded;
    if (!percent_decode(target, decoded, slashes == conf::EncodedSlashes::no_decode)) {
        return Status::bad_request;
    }
    out.trailing_slash = decoded.size() > 1 && decoded.back() == '/';

    // Walk the segments, building the normalised path in out.path.
    std::size_t pos = 0;
    while (pos < decoded.size()) {
        const auto slash = decoded.find('/', pos);
        const auto end = slash == std::string::npos ? decoded.size() : slash;
        const std::string_view seg(decoded.data() + pos, end - pos);
        pos = end + 1;
        if (seg.find('\0') != std::string_view::npos || seg.find('\\') != std::string_view::npos) {
            return Status::bad_request;
        }
        if (seg.empty() || seg == ".") {
            continue;
        }
        if (seg == "..") {
            if (out.path.empty()) {
                return Status::bad_request; // would climb above the document root
            }
            const auto prev = out.path.rfind('/');
            out.path.resize(prev == std::string::npos ? 0 : prev);
            continue;
        }
        if (seg.front() == '.') {
            if (is_htaccess_name(seg)) {
                return Status::forbidden; // Apache's stock <FilesMatch "^\.ht">, built in
            }
            if (seg != kWellKnown) {
                return Status::not_found; // other dotfiles are not served nor revealed
            }
        }
        if (!out.path.empty()) {
            out.path.push_back('/');
        }
        out.path.append(seg);
    }
    return Status::ok;
}

} // namespace kahttpd::server
