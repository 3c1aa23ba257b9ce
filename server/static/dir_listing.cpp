#include "server/static/dir_listing.hpp"

#include "parser/text.hpp"
#include "server/http/html.hpp"
#include "server/http/http_date.hpp"
#include "server/http/target_path.hpp"

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

/// Appends `s` as a JSON string, quotes included.
void append_json_string(std::string& out, std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out.push_back('"');
    append_utf8(out, s, [&out](char c) {
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
    });
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

/// "YYYY-MM-DD HH:MM" in UTC, for the years an HTTP-date can write (a time outside them is
/// written as the nearer end, as format_http_date() does: gmtime_r fails for a year past
/// INT_MAX, and tm_year + 1900 overflows just below it).
void append_short_date(std::string& out, std::time_t t) {
    t = std::clamp(t, kFirstHttpDate, kLastHttpDate);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64]; // roomy: the compiler cannot prove the fields stay narrow
    const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900,
                                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min);
    out.append(buf, static_cast<std::size_t>(std::clamp(n, 0, static_cast<int>(sizeof buf) - 1)));
}

} // namespace

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
        // by the symlink options, so its type, size and time must not show.
        struct stat st {};
        if (fstatat(own_fd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            continue;
        }
        if (S_ISLNK(st.st_mode)) {
            out.push_back({std::string(name), false, true, 0, 0});
            continue;
        }
        const bool is_dir = S_ISDIR(st.st_mode);
        if (!is_dir && !S_ISREG(st.st_mode)) {
            continue;
        }
        out.push_back({std::string(name), is_dir, false, static_cast<std::uint64_t>(st.st_size),
                       st.st_mtim.tv_sec});
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
        if (e.is_link) {
            out.push_back('-');
        } else {
            append_short_date(out, e.mtime);
        }
        out.append("</td><td>");
        if (e.is_dir || e.is_link) {
            out.push_back('-');
        } else {
            text::append_number(out, e.size);
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
        if (e.is_link) {
            out.append(",\"type\":\"link\"}");
            continue;
        }
        out.append(e.is_dir ? ",\"type\":\"directory\"" : ",\"type\":\"file\"");
        if (!e.is_dir) {
            out.append(",\"size\":");
            text::append_number(out, e.size);
        }
        char date[30];
        out.append(",\"mtime\":\"").append(format_http_date(e.mtime, date)).append("\"}");
    }
    out.append("]}");
    return out;
}

} // namespace kahttpd::server
