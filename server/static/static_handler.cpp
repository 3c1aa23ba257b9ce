#include "server/static/static_handler.hpp"

#include "parser/host.hpp"
#include "parser/text.hpp"
#include "server/http/byte_ranges.hpp"
#include "server/http/content_coding.hpp"
#include "server/http/expires.hpp"
#include "server/http/html.hpp"
#include "server/http/http_date.hpp"
#include "server/http/target_path.hpp"
#include "server/http/validators.hpp"
#include "server/obs/log.hpp"
#include "server/static/dir_listing.hpp"

#include <llhttp.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <thread>

#include <sys/resource.h>

namespace kahttpd::server {

using parser::Status;

namespace {

/// Longest request key (host index, 8 bytes, and raw path) the open-file cache is asked about;
/// longer paths are served without it.
constexpr std::size_t kMaxCacheKey = 512;

/// `path` (absolute, from an Alias target) made relative to `root`, lexically: empty and "."
/// segments dropped, ".." applied. 403 when the result is not beneath `root` (an AliasMatch
/// substitution that climbs out, an Alias whose prefix and target disagree on a trailing
/// slash) or names a .ht file; the kernel confines symlinks when the file is opened.
Status relative_beneath(std::string_view root, std::string_view path, std::string& rel) {
    std::string norm;
    std::size_t pos = 0;
    while (pos < path.size()) {
        const std::size_t slash = path.find('/', pos);
        const std::size_t end = slash == std::string_view::npos ? path.size() : slash;
        const std::string_view seg = path.substr(pos, end - pos);
        pos = end + 1;
        if (seg.empty() || seg == ".") {
            continue;
        }
        if (seg == "..") {
            const std::size_t prev = norm.rfind('/');
            if (prev == std::string::npos) {
                return Status::forbidden;
            }
            norm.resize(prev);
            continue;
        }
        norm.push_back('/');
        norm.append(seg);
    }
    const std::string_view base = root == "/" ? std::string_view() : root;
    if (!std::string_view(norm).starts_with(base) ||
        (norm.size() > base.size() && norm[base.size()] != '/')) {
        return Status::forbidden;
    }
    rel.assign(norm, std::min(norm.size(), base.size() + 1));
    for (std::size_t at = 0; at < rel.size();) {
        const std::size_t end = std::min(rel.find('/', at), rel.size());
        if (is_htaccess_name(std::string_view(rel).substr(at, end - at))) {
            return Status::forbidden;
        }
        at = end + 1;
    }
    return Status::ok;
}

/// Where a request's path leads once mod_alias has looked at it: a redirect, or a path beneath
/// a root (the DocumentRoot, or an Alias's folder).
struct Located {
    const DocumentRoot* root = nullptr;
    TargetPath fs;        ///< the path beneath `root`; its trailing slash is the request's
    std::string url;      ///< "/" and the normalised path, its trailing '/' kept
    conf::UrlMapping map; ///< Kind::redirect: the answer
    bool aliased = false;

    /// The file-system path sections are matched against.
    std::string fs_path() const {
        return root->full_path(fs.path, fs.trailing_slash || fs.path.empty());
    }
};

/// Applies mod_alias to `target`: `out` gets the redirect or the root and path to open.
Status locate(const RequestInfo& info, const TargetPath& target, Located& out) {
    const HostContext& h = *info.host;
    out.root = h.root.get();
    out.fs.path = target.path;
    out.fs.trailing_slash = target.trailing_slash;
    out.fs.raw_path = target.raw_path;
    out.fs.query = target.query;
    out.url.assign("/").append(target.path);
    if (target.trailing_slash) {
        out.url.push_back('/');
    }
    if (!h.has_url_map) {
        return Status::ok;
    }
    out.map = h.vhost->map_url(info.site->config->main, out.url);
    if (out.map.kind != conf::UrlMapping::Kind::alias) {
        return Status::ok;
    }
    out.aliased = true;
    out.root = h.alias_roots[out.map.alias].get();
    return relative_beneath(out.root->path().native(), out.map.path, out.fs.path);
}

/// The settings of the sections that apply to `where` (the host has some), for the entry `rel`
/// beneath its root when given (a folder's index file, an entry of a listing; `folder` when
/// that entry is a folder, which a request names with its trailing slash) and else for the
/// path itself.
conf::Effective effective_at(const RequestInfo& info, const Located& where,
                             const std::string* rel = nullptr, bool folder = false) {
    const HostContext& h = *info.host;
    if (rel == nullptr) {
        return h.vhost->effective(info.site->config->main, where.fs_path(), where.url);
    }
    const std::string_view name = std::string_view(*rel).substr(rel->rfind('/') + 1);
    std::string url = std::string(where.url).append(name);
    if (folder) {
        url.push_back('/');
    }
    return h.vhost->effective(info.site->config->main, where.root->full_path(*rel, folder), url);
}

/// The same, kept in `merged` for a response (and a cache entry) that points into it.
const conf::Effective& merge_sections(const RequestInfo& info, const Located& where,
                                      std::unique_ptr<conf::Effective>& merged,
                                      const std::string* rel = nullptr) {
    merged = std::make_unique<conf::Effective>(effective_at(info, where, rel));
    return *merged;
}

bool allowed(const conf::Effective& eff, const RequestInfo& info) noexcept {
    if (!eff.require.names_addresses()) {
        // "Require all granted|denied": the client's address decides nothing, so the
        // connection is not asked for it (a getpeername() when it is not known yet).
        static constexpr std::array<std::uint8_t, 16> kNone{};
        return eff.require.allows(kNone, kNone);
    }
    return eff.require.allows(info.client_ip(), *info.local_ip);
}

/// One request being answered: the request, what the transport told, and the answer.
class Exchange {
  public:
    Exchange(const parser::Request& req, const RequestInfo& info, Response& out,
             ResponseScope& scope) noexcept
        : req_(req), info_(info), out_(out), scope_(scope) {
        out_.settings = &info.host->base;
    }

    Route run() noexcept;

  private:
    const conf::Effective& settings() const noexcept { return *out_.settings; }
    void error(Status status, bool close = false, std::string_view extra = {}) noexcept {
        error_response(status, &req_, info_, settings(), out_, close, extra);
    }
    /// A 403, with the reason at `info` in the error log (Apache logs its AH01630-style
    /// "client denied by server configuration" lines too): an operator can tell a Require
    /// rule from a file-system permission.
    void deny(const char* why) noexcept {
        const ErrorLogTarget& log = info_.host->error_log;
        if (log.enabled(LogLevel::info)) {
            char peer[80];
            const std::string_view target = req_.target();
            log_write(log, LogLevel::info, "conn=%llu client=%s access to %.*s denied: %s",
                      static_cast<unsigned long long>(info_.conn_id),
                      peer_text(info_.client_ip(), info_.client_port(), peer).data(),
                      static_cast<int>(std::min<std::size_t>(target.size(), 512)), target.data(),
                      why);
        }
        error(Status::forbidden);
    }
    bool allowed_by_require() noexcept;
    void redirect(std::uint16_t status, std::string_view location, std::string_view rest,
                  bool escape, std::string_view query) noexcept;
    Route serve_file() noexcept;
    void serve_listing(const TargetPath& target, const Located& where,
                       const OpenedFile& dir) noexcept;
    void serve_representation(const FileEntry& entry) noexcept;

    const parser::Request& req_;
    const RequestInfo& info_;
    Response& out_;
    ResponseScope& scope_;
};

Route Exchange::run() noexcept {
    // The Host rules (RFC 9112 §3.2) were enforced by the transport (parser::check_host)
    // before the vhost was chosen.
    const auto method = static_cast<llhttp_method_t>(req_.method_id());
    const bool get_or_head = method == HTTP_GET || method == HTTP_HEAD;
    if (!get_or_head && !allowed_by_require()) {
        // Access control comes before the method, as in Apache: a denied resource is 403
        // whatever is asked of it.
        deny("client denied by server configuration (Require)");
        return Route::respond;
    }
    if (method == HTTP_OPTIONS) {
        // RFC 9110 §9.3.7: the methods a static server allows, for a resource or for "*".
        out_.fields = kAllowHeader;
        return Route::respond;
    }
    if (!get_or_head) {
        // Known to HTTP but not served here (TRACE included: it only echoes the request,
        // which has no use on a static server and helps cross-site tracing).
        error(Status::method_not_allowed);
        return Route::respond;
    }
    return serve_file();
}

/// Require for the request's target, outside the file-serving path (OPTIONS, 405). "*" and
/// targets that do not resolve are judged by the host's base settings.
bool Exchange::allowed_by_require() noexcept {
    return allowed(settings_for(info_, req_.target()), info_);
}

Route Exchange::serve_file() noexcept {
    const Site& site = *info_.site;
    const HostContext& h = *info_.host;
    // The open-file cache is keyed by the host and the path as sent (the query cut off):
    // resolving a target is a pure function of it, so a hit needs no resolving, no merging of
    // sections and no system call (but a stat once per FileCacheValid).
    FileCache& cache = file_cache_for(site);
    char key_buf[kMaxCacheKey];
    std::string_view key;
    FileEntry* hit = nullptr;
    if (cache.enabled() && !req_.target().empty() && req_.target()[0] == '/') {
        const std::string_view raw = req_.target().substr(0, req_.target().find('?'));
        const std::size_t host_index = static_cast<std::size_t>(&h - site.hosts.data());
        if (raw.size() + sizeof host_index <= sizeof key_buf) {
            std::memcpy(key_buf, &host_index, sizeof host_index);
            std::memcpy(key_buf + sizeof host_index, raw.data(), raw.size());
            key = std::string_view(key_buf, raw.size() + sizeof host_index);
            hit = cache.find(key, info_.now_ms);
        }
    }
    TargetPath target;
    Located where;
    Status status = Status::ok;
    if (hit != nullptr) {
        scope_.file = FileRef(hit);
        out_.settings = hit->settings;
    } else {
        status = resolve_target(req_.target(), target, h.encoded_slashes);
        if (status == Status::ok) {
            status = locate(info_, target, where);
        }
        if (status != Status::ok) {
            error(status);
            return Route::respond;
        }
        if (where.map.kind == conf::UrlMapping::Kind::redirect) {
            // Redirect and RedirectMatch come before access control, as in Apache (its
            // translate_name hook).
            redirect(where.map.status, where.map.location, where.map.rest, true, target.query);
            return Route::respond;
        }
        if (h.has_sections) {
            out_.settings = &merge_sections(info_, where, scope_.merged);
        }
    }
    const conf::Effective& eff = settings();
    if (!allowed(eff, info_)) {
        deny("client denied by server configuration (Require)");
        return Route::respond;
    }
    if (eff.redirect.status != 0) {
        // `Redirect [status] URL` of a section (never on a hit: such a path is never cached).
        redirect(eff.redirect.status, eff.redirect.target, {}, true, target.query);
        return Route::respond;
    }
    if (eff.handler == "server-status") {
        // Local clients only, unless a <Location> over it says who may see it.
        static const conf::AccessRule kLocal{{{conf::AccessRule::Kind::local, {}}}};
        if (!h.vhost->location_sets_require(site.config->main, "/" + target.path) &&
            !kLocal.allows(info_.client_ip(), *info_.local_ip)) {
            error(Status::forbidden);
            return Route::respond;
        }
        return Route::server_status;
    }
    if (eff.handler == "server-health") {
        // A load balancer's health check: 200 while serving, 503 from the moment a stop
        // begins (during GracefulShutdownDelay the server still serves everything else), so
        // the balancer stops sending before the listeners close. Require applies as above;
        // unlike server-status it is not limited to local clients, since the balancer is not.
        const bool draining = site.draining != nullptr && site.draining->load();
        out_.status = draining ? Status::service_unavailable : Status::ok;
        out_.content_type = "text/plain; charset=utf-8";
        out_.fields = "Cache-Control: no-store\r\n";
        out_.text_storage.assign(draining ? "draining\n" : "OK\n");
        out_.set_text_body();
        return Route::respond;
    }
    if (eff.limit_request_body != 0 && req_.content_length() &&
        *req_.content_length() > eff.limit_request_body) {
        error(Status::payload_too_large, true);
        return Route::respond;
    }
    if (hit != nullptr) {
        serve_representation(*hit);
        return Route::respond;
    }
    OpenedFile file;
    if (where.aliased && where.fs.path.empty() && !where.fs.trailing_slash) {
        // The alias's own folder asked for without its slash ("/icons" for
        // "Alias /icons /usr/share/icons"): the same redirect as for any folder.
        redirect(301, {}, where.url + "/", false, target.query);
        return Route::respond;
    }
    SymlinkPolicy links = symlink_policy(eff);
    switch (where.root->open(where.fs, eff.directory_index, file, status, links)) {
    case OpenOutcome::error:
        if (status == Status::internal_error) {
            char peer[80];
            KAHTTPD_LOG_TO(info_.host->error_log, error,
                           "conn=%llu client=%s cannot open \"%s\": %s",
                           static_cast<unsigned long long>(info_.conn_id),
                           peer_text(info_.client_ip(), info_.client_port(), peer).data(),
                           target.path.c_str(), std::strerror(errno));
        } else if (status == Status::forbidden) {
            deny("the file is unreadable, not a regular file, or behind a symlink that Options "
                 "or the document root refuse");
            return Route::respond;
        } else if (status == Status::not_found && info_.host->error_log.enabled(LogLevel::info)) {
            // Apache's AH00128 line, at the same level: which file was looked for, and where.
            char peer[80];
            log_write(info_.host->error_log, LogLevel::info,
                      "conn=%llu client=%s file does not exist: %s",
                      static_cast<unsigned long long>(info_.conn_id),
                      peer_text(info_.client_ip(), info_.client_port(), peer).data(),
                      where.fs_path().c_str());
        }
        // A 500 (typically EMFILE: out of descriptors) closes the connection, which gives a
        // descriptor back instead of answering 500 on it for as long as the client stays.
        error(status, status == Status::internal_error);
        return Route::respond;
    case OpenOutcome::redirect_to_slash: {
        // Built from the normalised path, percent-encoded, never from the raw target: a raw
        // "//host" would make the redirect leave the site.
        std::string& location = out_.fields_storage;
        location.assign("Location: /");
        percent_encode_path(target.path, location);
        location.append("/");
        if (!target.query.empty()) {
            location.append("?").append(target.query);
        }
        location.append("\r\n");
        out_.status = Status::moved_permanently;
        out_.content_type = "text/html; charset=utf-8";
        out_.fields = location;
        return Route::respond;
    }
    case OpenOutcome::directory:
        serve_listing(target, where, file);
        return Route::respond;
    case OpenOutcome::file:
        break;
    }
    const bool index_file = file.rel != where.fs.path;
    // A directory's index file is cached only when it is the first DirectoryIndex name: the
    // revalidation checks that file, so an earlier name appearing later would go unnoticed.
    const bool cacheable =
        !key.empty() &&
        (!index_file || (!eff.directory_index.empty() && file.name == eff.directory_index.front()));
    if (index_file && h.has_sections) {
        // The index file has settings of its own (<Files index.html>, a deeper match), as
        // Apache's subrequest for it has.
        out_.settings = &merge_sections(info_, where, scope_.merged, &file.rel);
        if (!allowed(settings(), info_)) {
            deny("client denied by server configuration (Require, on the index file)");
            return Route::respond;
        }
        links = symlink_policy(settings());
    }
    auto entry = std::make_unique<FileEntry>();
    entry->build(*where.root, file, settings(), links, *site.mime, site.server_header, cacheable);
    if (FileEntry* cached = cacheable ? cache.insert(key, entry, info_.now_ms) : nullptr) {
        if (scope_.merged) {
            cached->merged = std::move(scope_.merged); // settings point into it and stay valid
        }
        scope_.file = FileRef(cached);
        serve_representation(*cached);
        return Route::respond;
    }
    // Not cached (the cache is off, or the entry does not fit): for this response only, freed
    // with the scope at the next request, its descriptors closed then (a streamed body has its
    // own).
    scope_.uncached = std::move(entry);
    serve_representation(*scope_.uncached);
    return Route::respond;
}

/// A redirect: `location` (Apache's escaping when `escape`, so neither configuration text nor
/// a request capture can break the header), then `rest` percent-encoded (the part of the path
/// after a Redirect's prefix), then the request's query unless the target has one of its own.
/// 410 (gone) is an error answer instead.
void Exchange::redirect(std::uint16_t status, std::string_view location, std::string_view rest,
                        bool escape, std::string_view query) noexcept {
    const auto code = static_cast<Status>(status);
    if (code == Status::gone) {
        error(Status::gone);
        return;
    }
    std::string& fields = out_.fields_storage;
    fields.assign("Location: ");
    const std::size_t at = fields.size();
    if (escape) {
        append_uri_escaped(location, fields);
    } else {
        fields.append(location);
    }
    percent_encode_path(rest, fields);
    if (!query.empty() && fields.find('?', at) == std::string::npos) {
        fields.append("?").append(query);
    }
    const std::string_view url = std::string_view(fields).substr(at);
    std::string& body = out_.text_storage;
    body.assign("<!DOCTYPE html>\n<html><head><title>");
    text::append_number(body, status);
    body.append(" ").append(parser::reason_phrase(code)).append("</title></head>\n<body><h1>");
    body.append(parser::reason_phrase(code)).append("</h1>\n<p>The document has moved <a href=\"");
    append_html(body, url);
    body.append("\">here</a>.</p>\n</body></html>\n");
    fields.append("\r\n");
    out_.status = code;
    out_.fields = fields;
    out_.content_type = "text/html; charset=utf-8";
    out_.set_text_body();
}

/// A directory without index file: a listing with Options Indexes (HTML, or JSON for a client
/// that asks for application/json), 403 without.
void Exchange::serve_listing(const TargetPath& target, const Located& where,
                             const OpenedFile& dir) noexcept {
    if ((settings().options & conf::OptionsSpec::kIndexes) == 0) {
        deny("a folder without an index file, and Options Indexes is off");
        return;
    }
    std::vector<DirEntry> entries;
    if (!read_directory(dir.fd, entries)) {
        error(Status::forbidden);
        return;
    }
    // What this client would be refused is not listed (Apache's mod_autoindex asks a
    // subrequest per entry and leaves out a 403): a <Files "*.bak"> with Require all denied
    // hides the backups, not only their bytes, and without FollowSymLinks (or
    // SymLinksIfOwnerMatch) a symbolic link is not listed either. With sections, each entry
    // gets the settings its own request would get (<Files>, <FilesMatch>, a deeper
    // <Directory>, <Location>); without, the folder's settings are every entry's.
    const bool sections = info_.host->has_sections;
    std::string rel;
    std::erase_if(entries, [&](const DirEntry& e) {
        if (!sections) {
            return e.is_link && symlink_policy(settings()) == SymlinkPolicy::refuse;
        }
        rel.assign(dir.rel);
        if (!rel.empty()) {
            rel.push_back('/');
        }
        rel.append(e.name);
        const conf::Effective eff = effective_at(info_, where, &rel, e.is_dir);
        return !allowed(eff, info_) ||
               (e.is_link && symlink_policy(eff) == SymlinkPolicy::refuse);
    });
    std::string url = "/";
    url.append(target.path);
    if (!target.path.empty()) {
        url.push_back('/');
    }
    const auto accept = req_.header("Accept");
    const bool json = accept && accept->find("application/json") != std::string_view::npos;
    out_.text_storage = json ? render_json(url, entries) : render_html(url, entries);
    out_.content_type = json ? "application/json" : "text/html; charset=utf-8";
    out_.fields = "Vary: Accept\r\n";
    out_.set_text_body();
}

/// A regular file: choose the representation (a precompressed variant), evaluate the
/// preconditions, then answer 200, 206 (one range or multipart/byteranges), 304, 412 or 416.
void Exchange::serve_representation(const FileEntry& entry) noexcept {
    // Precompressed variants beside the file: foo.css.br, foo.css.gz (PrecompressedFiles), or
    // variants compressed on the fly (AddOutputFilterByType, SetOutputFilter).
    int chosen = FileEntry::kIdentity;
    if (entry.vary) {
        bool have_br = entry.reps[FileEntry::kBr].exists;
        bool have_gzip = entry.reps[FileEntry::kGzip].exists;
        if (req_.header("Range")) {
            // A range is cut from the file itself, never from a variant compressed here: those
            // bytes depend on the level, so a client could not resume or assemble them reliably.
            have_br = have_br && !entry.reps[FileEntry::kBr].generated;
            have_gzip = have_gzip && !entry.reps[FileEntry::kGzip].generated;
        }
        const Coding coding = choose_coding(req_.header("Accept-Encoding"), have_br, have_gzip);
        chosen = coding == Coding::br     ? FileEntry::kBr
                 : coding == Coding::gzip ? FileEntry::kGzip
                                          : FileEntry::kIdentity;
    }
    // Validators of the representation actually sent.
    const FileRep& rep = entry.reps[chosen];
    const auto size = rep.size();
    const std::time_t mtime = rep.st.st_mtim.tv_sec;
    const EntityTag& current = rep.tag;
    // RFC 9110 §8.8.2.1: a modification time ahead of the clock (a file touched into the future,
    // a clock set back) is sent as the response's Date, and compared as such, as Apache's
    // ap_rationalize_mtime does; the ETag keeps the file's own time. The cached texts carry the
    // file's time, so the common case costs this one comparison, and once the clock passes the
    // file's time its own date is sent again. Expires (from the modification time) keeps it too,
    // as Apache's mod_expires.
    const std::time_t now = info_.now;
    out_.date = now;
    const bool future = mtime > now;
    const std::time_t last_modified = future ? now : mtime;
    // The cache's lines (validators or fields) into fields_storage, to append to; with the
    // capped date in their leading Last-Modified line when it applies.
    const auto copy_lines = [&](std::string_view lines) -> std::string& {
        std::string& out = out_.fields_storage;
        out.assign(lines);
        if (future) [[unlikely]] {
            assert(lines.starts_with("Last-Modified: "));
            char date[30];
            out.replace(kLastModifiedDateAt, 29, format_http_date(now, date));
        }
        return out;
    };

    // RFC 9110 §13.2.2.
    ConditionalHeaders conditions;
    std::string match_lines, none_match_lines; // only when a field is repeated
    conditions.if_match = req_.header_list("If-Match", match_lines);
    conditions.if_none_match = req_.header_list("If-None-Match", none_match_lines);
    conditions.if_modified_since = req_.header("If-Modified-Since");
    conditions.if_unmodified_since = req_.header("If-Unmodified-Since");
    // mod_expires: on 200, 206 and 304, as Apache (never on errors).
    const conf::ExpiresSpec& expires = entry.expires;
    const bool expiring = expires.base != conf::ExpiresSpec::Base::none;
    Precondition precondition =
        evaluate_preconditions(conditions, true, !rep.etag.empty(), current, last_modified);
    if (rep.generated && precondition != Precondition::not_modified) {
        // As Apache's mod_deflate, which takes "-gzip" off the tags of If-Match and
        // If-None-Match: the file's own tag matches its compressed form too, so a client holding
        // either gets its 304 (a cache that stored the identity response, then asks with gzip).
        const FileRep& file = entry.reps[FileEntry::kIdentity];
        const Precondition as_file =
            evaluate_preconditions(conditions, true, !file.etag.empty(), file.tag, last_modified);
        if (as_file == Precondition::not_modified ||
            (precondition == Precondition::failed && as_file == Precondition::proceed)) {
            precondition = as_file;
        }
    }
    switch (precondition) {
    case Precondition::not_modified:
        out_.status = Status::not_modified;
        out_.fields = rep.validators;
        if (expiring || future) {
            std::string& fields = copy_lines(rep.validators);
            if (expiring) {
                append_expires_fields(fields, expires, mtime, now);
            }
            out_.fields = fields;
        }
        return;
    case Precondition::failed:
        error(Status::precondition_failed);
        return;
    case Precondition::proceed:
        break;
    }

    // Ranges (RFC 9110 §14), only when If-Range (if any) still holds.
    RangeResult ranged = RangeResult::none;
    if (const auto range = req_.header("Range")) {
        const auto if_range = req_.header("If-Range");
        // A capped date stands for an unknown time: weak, so it never validates a Range.
        if (!if_range ||
            if_range_allows(*if_range, !rep.etag.empty(), current, last_modified, !future)) {
            ranged = parse_ranges(*range, size, settings().max_ranges, out_.ranges);
        }
    }
    if (ranged == RangeResult::unsatisfiable) {
        out_.ranges.clear();
        std::string content_range = "Content-Range: ";
        format_unsatisfied_range(content_range, size);
        content_range.append("\r\n");
        error(Status::range_not_satisfiable, false, content_range);
        return;
    }
    out_.content_type = entry.type;
    out_.body = Response::Body::file;
    out_.memory = rep.in_memory ? std::string_view(rep.body) : std::string_view();
    out_.fd = rep.fd;
    out_.file_size = size;
    if (ranged == RangeResult::none) {
        out_.ranges.clear();
        out_.content_length = size;
        out_.fields = rep.fields;
        out_.prepared_head = rep.head; // the common case: one copy of a prepared block
        out_.prepared_date_at = rep.date_at;
        if (future) [[unlikely]] {
            out_.prepared_head = {}; // its Last-Modified is the file's
            std::string& fields = copy_lines(rep.fields);
            if (expiring) {
                append_expires_fields(fields, expires, mtime, now);
            }
            out_.fields = fields;
        } else if (expiring && rep.expires_at != 0) {
            // Access-based: only the date changes, formatted once per second per expiry.
            static thread_local DateCache expiry_dates;
            const std::string_view date = expiry_dates.get(expiry_time(expires, mtime, now));
            std::copy(date.begin(), date.end(), out_.prepared_expires.begin());
            out_.prepared_expires_at = rep.expires_at;
        } else if (expiring) {
            out_.prepared_head = {};
            out_.fields_storage.assign(rep.fields);
            append_expires_fields(out_.fields_storage, expires, mtime, now);
            out_.fields = out_.fields_storage;
        }
        return;
    }
    out_.status = Status::partial_content;
    std::string& fields = copy_lines(rep.fields);
    if (expiring) {
        append_expires_fields(fields, expires, mtime, now);
    }
    if (out_.ranges.size() == 1) {
        fields.append("Content-Range: ");
        format_content_range(fields, out_.ranges[0], size);
        fields.append("\r\n");
        out_.fields = fields;
        out_.content_length = out_.ranges[0].last - out_.ranges[0].first + 1;
        return;
    }
    out_.fields = fields;
    out_.boundary_storage = make_boundary();
    out_.boundary = out_.boundary_storage;
    out_.part_type = entry.type;
    out_.content_length = multipart_length(out_.ranges, out_.boundary, entry.type, size);
    out_.type_storage.assign("multipart/byteranges; boundary=").append(out_.boundary);
    out_.content_type = out_.type_storage;
}

} // namespace

/// The settings for a request target outside the file path (OPTIONS, a chunked body's limit):
/// the host's base settings when no section applies or the target does not resolve.
conf::Effective settings_for(const RequestInfo& info, std::string_view raw_target) {
    const HostContext& h = *info.host;
    TargetPath target;
    Located where;
    if (!h.has_sections || resolve_target(raw_target, target, h.encoded_slashes) != Status::ok ||
        locate(info, target, where) != Status::ok) {
        return h.base;
    }
    return effective_at(info, where);
}

SymlinkPolicy symlink_policy(const conf::Effective& eff) noexcept {
    if ((eff.options & conf::OptionsSpec::kFollowSymLinks) != 0) {
        return SymlinkPolicy::follow;
    }
    if ((eff.options & conf::OptionsSpec::kSymLinksIfOwnerMatch) != 0) {
        return SymlinkPolicy::if_owner_match;
    }
    return SymlinkPolicy::refuse;
}

Route handle_static(const parser::Request& req, const RequestInfo& info, Response& out,
                    ResponseScope& scope) noexcept {
    return Exchange(req, info, out, scope).run();
}

const HostContext& select_vhost(const Site& site, const parser::Request& req,
                                const IpBytes& local_ip, std::uint16_t local_port) noexcept {
    const conf::Config& cfg = *site.config;
    char ip[64];
    // The absolute-form target's authority when there is one (RFC 9112 §3.2.2), else Host.
    const std::string host = conf::normalize_host(parser::request_host(req));
    return site.host_for(cfg.select_vhost(ip_text(local_ip, ip), local_port, host));
}

const HostContext& default_host(const Site& site, const IpBytes& local_ip,
                                std::uint16_t local_port) noexcept {
    const conf::Config& cfg = *site.config;
    if (cfg.vhosts.empty()) {
        return site.hosts[0];
    }
    char ip[64];
    // No name matches an empty host: the address's first vhost, else the main server.
    return site.host_for(cfg.select_vhost(ip_text(local_ip, ip), local_port, {}));
}

std::uint64_t body_limit_for(const parser::Request& req, const RequestInfo& info) noexcept {
    return settings_for(info, req.target()).limit_request_body;
}

FileCache& configure_file_cache(const Site& site) noexcept {
    FileCache& cache = FileCache::for_this_thread();
    {
        const conf::Config& cfg = *site.config;
        rlimit rl{};
        std::uint64_t fds = 1024;
        if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
            fds = rl.rlim_cur;
        }
        const std::uint64_t workers = cfg.worker_count();
        FileCache::Limits limits;
        limits.max_bytes = cfg.file_cache_size;
        limits.max_entries = cfg.file_cache_entries;
        limits.valid_ms = static_cast<std::uint64_t>(cfg.file_cache_valid.count());
        limits.max_fds =
            static_cast<std::uint32_t>(std::min<std::uint64_t>(fds / 4 / workers, 65536));
        cache.configure(limits, &site);
    }
    return cache;
}

} // namespace kahttpd::server
