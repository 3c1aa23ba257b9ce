#include "server/dir_listing.hpp"

#include "server/http_date.hpp"
#include "server/target_path.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kahttpd::server {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD"; // U+FFFD in UTF-8

/// The length of the well-formed UTF-8 sequence at `s[i]`, or 0 when it is ill-formed; then
/// `bad` is the length of its maximal ill-formed subpart (at least 1), which becomes one
/// U+FFFD. Ranges from the Unicode Standard, table 3-7 (no overlongs, surrogates or values
/// above U+10FFFF).
std::size_t utf8_sequence(std::string_view s, std::size_t i, std::size_t& bad) noexcept {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
        return 1;
    }
    std::size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
        need = 1;
    } else if (b == 0xE0) {
        need = 2, lo = 0xA0;
    } else if (b == 0xED) {
        need = 2, hi = 0x9F;
    } else if (b >= 0xE1 && b <= 0xEF) {
        need = 2;
    } else if (b == 0xF0) {
        need = 3, lo = 0x90;
    } else if (b == 0xF4) {
        need = 3, hi = 0x8F;
    } else if (b >= 0xF1 && b <= 0xF3) {
        need = 3;
    } else {
        bad = 1;
        return 0;
    }
    std::size_t j = i + 1;
    for (std::size_t k = 0; k < need; ++k, ++j) {
        const unsigned char min = k == 0 ? lo : 0x80;
        const unsigned char max = k == 0 ? hi : 0xBF;
        const auto c = j < s.size() ? static_cast<unsigned char>(s[j]) : 0;
        if (j >= s.size() || c < min || c > max) {
            bad = j - i;
            return 0;
        }
    }
    return j - i;
}

/// Appends `s` as a JSON string, quotes included.
void append_json_string(std::string& out, std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out.push_back('"');
    for (std::size_t i = 0; i < s.size();) {
        std::size_t bad = 0;
        const std::size_t n = utf8_sequence(s, i, bad);
        if (n == 0) {
            out.append(kReplacement);
            i += bad;
            continue;
        }
        if (n > 1) {
            out.append(s.substr(i, n));
            i += n;
            continue;
        }
        const char c = s[i++];
        switch (c) {
        case '"':
            out.append("\\\"");
            break;
        case '\\':
            out.append("\\\\");
            break;
        case '\b':
            out.append("\\b");
            break;
        case '\f':
            out.append("\\f");
            break;
        case '\n':
            out.append("\\n");
            break;
        case '\r':
            out.append("\\r");
            break;
        case '\t':
            out.append("\\t");
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                out.append("\\u00");
                out.push_back(kHex[(c >> 4) & 15]);
                out.push_back(kHex[c & 15]);
            } else {
                out.push_back(c);
            }
        }
    }
    out.push_back('"');
}

/// The relative link to `e`, percent-encoded (not yet HTML-escaped).
std::string entry_href(const DirEntry& e) {
    std::string href;
    // "a:b" as a relative reference would be read as scheme "a" (RFC 3986 §4.2).
    if (e.name.find(':') != std::string::npos) {
        href = "./";
    }
    percent_encode_path(e.name, href);
    if (e.is_dir) {
        href.push_back('/');
    }
    return href;
}

void append_number(std::string& out, std::uint64_t v) {
    char buf[20];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

/// "YYYY-MM-DD HH:MM" in UTC.
void append_short_date(std::string& out, std::time_t t) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64]; // roomy: the compiler cannot prove the fields stay narrow
    const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900,
                                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min);
    out.append(buf, static_cast<std::size_t>(std::clamp(n, 0, static_cast<int>(sizeof buf) - 1)));
}

} // namespace

void append_html(std::string& out, std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        std::size_t bad = 0;
        const std::size_t n = utf8_sequence(s, i, bad);
        if (n == 0) {
            out.append(kReplacement);
            i += bad;
            continue;
        }
        if (n > 1) {
            out.append(s.substr(i, n));
            i += n;
            continue;
        }
        const char c = s[i++];
        switch (c) {
        case '&':
            out.append("&amp;");
            break;
        case '<':
            out.append("&lt;");
            break;
        case '>':
            out.append("&gt;");
            break;
        case '"':
            out.append("&quot;");
            break;
        case '\'':
            out.append("&#39;");
            break;
        default:
            // C0 controls and DEL would be parse errors (or vanish, for CR); show U+FFFD.
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
                out.append(kReplacement);
            } else {
                out.push_back(c);
            }
        }
    }
}

bool read_directory(int dir_fd, std::vector<DirEntry>& out) {
    out.clear();
    // A fresh descriptor: readdir's position and closedir() must not touch the caller's.
    const int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    DIR* dir = fdopendir(fd);
    if (dir == nullptr) {
        const int saved = errno;
        close(fd);
        errno = saved;
        return false;
    }
    const int own_fd = ::dirfd(dir);
    int error = 0;
    for (;;) {
        errno = 0;
        const dirent* ent = readdir(dir);
        if (ent == nullptr) {
            error = errno;
            break;
        }
        const std::string_view name = ent->d_name;
        if (name.empty() || name.front() == '.' || name.find('/') != std::string_view::npos) {
            continue;
        }
        // Symlinks are listed by name only: their target may be outside the root or refused
        // by the symlink options, so its size and time must not show.
        struct stat st {};
        if (fstatat(own_fd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            continue;
        }
        if (S_ISLNK(st.st_mode)) {
            out.push_back({std::string(name), false, 0, 0});
            continue;
        }
        const bool is_dir = S_ISDIR(st.st_mode);
        if (!is_dir && !S_ISREG(st.st_mode)) {
            continue;
        }
        out.push_back(
            {std::string(name), is_dir, static_cast<std::uint64_t>(st.st_size), st.st_mtim.tv_sec});
    }
    closedir(dir);
    std::sort(out.begin(), out.end(), [](const DirEntry& a, const DirEntry& b) {
        if (a.is_dir != b.is_dir) {
            return a.is_dir;
        }
        return a.name < b.name; // char_traits<char> compares as unsigned char: byte order
    });
    if (error != 0) {
        errno = error;
        return false;
    }
    return true;
}

std::string render_html(std::string_view url_path, const std::vector<DirEntry>& entries) {
    std::string out;
    out.reserve(512 + entries.size() * 160);
    out.append("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>Index of ");
    append_html(out, url_path);
    out.append("</title>\n</head>\n<body>\n<h1>Index of ");
    append_html(out, url_path);
    out.append("</h1>\n<table>\n<thead><tr><th>Name</th><th>Last modified</th><th>Size</th>"
               "</tr></thead>\n<tbody>\n");
    if (url_path != "/") {
        out.append("<tr><td><a href=\"../\">../</a></td><td></td><td>-</td></tr>\n");
    }
    for (const auto& e : entries) {
        out.append("<tr><td><a href=\"");
        append_html(out, entry_href(e));
        out.append("\">");
        append_html(out, e.name);
        if (e.is_dir) {
            out.push_back('/');
        }
        out.append("</a></td><td>");
        append_short_date(out, e.mtime);
        out.append("</td><td>");
        if (e.is_dir) {
            out.push_back('-');
        } else {
            append_number(out, e.size);
        }
        out.append("</td></tr>\n");
    }
    out.append("</tbody>\n</table>\n</body>\n</html>\n");
    return out;
}

std::string render_json(std::string_view url_path, const std::vector<DirEntry>& entries) {
    std::string out;
    out.reserve(64 + entries.size() * 128);
    out.append("{\"path\":");
    append_json_string(out, url_path);
    out.append(",\"entries\":[");
    bool first = true;
    for (const auto& e : entries) {
        if (!first) {
            out.push_back(',');
        }
        first = false;
        out.append("{\"name\":");
        append_json_string(out, e.name);
        out.append(",\"href\":");
        append_json_string(out, entry_href(e));
        out.append(e.is_dir ? ",\"type\":\"directory\"" : ",\"type\":\"file\"");
        if (!e.is_dir) {
            out.append(",\"size\":");
            append_number(out, e.size);
        }
        char date[30];
        out.append(",\"mtime\":\"").append(format_http_date(e.mtime, date)).append("\"}");
    }
    out.append("]}");
    return out;
}

} // namespace kahttpd::server
