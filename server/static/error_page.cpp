// Error answers: ErrorDocument (a message, a redirect, a local file) or the built-in page.

#include "conf/file_metadata.hpp"
#include "parser/host.hpp"
#include "parser/text.hpp"
#include "server/http/html.hpp"
#include "server/http/target_path.hpp"
#include "server/obs/log.hpp"
#include "server/static/file_cache.hpp"
#include "server/static/static_handler.hpp"

#include <unistd.h>

namespace kahttpd::server {

using parser::Status;

namespace {

constexpr std::string_view kHtml = "text/html; charset=utf-8";

/// Reads the whole regular file `fd` of `size` bytes into `out`. False on a short read.
bool read_all(int fd, std::uint64_t size, std::string& out) {
    out.resize(size);
    std::size_t got = 0;
    while (got < size) {
        const ssize_t n = ::pread(fd, out.data() + got, size - got, static_cast<off_t>(got));
        if (n <= 0) {
            return false;
        }
        got += static_cast<std::size_t>(n);
    }
    return true;
}

/// ErrorDocument: a message, a redirect (302, as Apache does for a full URL), or a local file
/// served with the error status. False when the local file cannot be served (the built-in page
/// is used then).
bool error_document(Status status, const conf::ErrorDocument& doc, const RequestInfo& info,
                    const conf::Effective& settings, Response& out) {
    using Kind = conf::ErrorDocument::Kind;
    switch (doc.kind) {
    case Kind::text:
        out.content_type = kHtml;
        out.body = Response::Body::text;
        out.text = doc.target; // the configuration outlives the response
        out.content_length = doc.target.size();
        return true;
    case Kind::redirect:
        out.status = Status::found;
        out.content_type = kHtml;
        out.fields_storage.append("Location: ").append(doc.target).append("\r\n");
        out.fields = out.fields_storage;
        return true;
    case Kind::local_url:
        break;
    }
    TargetPath target;
    OpenedFile file;
    Status open_status = Status::ok;
    const SymlinkPolicy links = symlink_policy(settings);
    if (resolve_target(doc.target, target, info.host->encoded_slashes) != Status::ok ||
        info.host->root->open(target, settings.directory_index, file, open_status, links) !=
            OpenOutcome::file ||
        static_cast<std::uint64_t>(file.st.st_size) > kFileInlineMax ||
        !read_all(file.fd, static_cast<std::uint64_t>(file.st.st_size), out.text_storage)) {
        KAHTTPD_LOG_TO(info.host->error_log, warn,
                       "conn=%llu ErrorDocument %u %s cannot be served, using the built-in page",
                       static_cast<unsigned long long>(info.conn_id), parser::code(status),
                       doc.target.c_str());
        out.text_storage.clear();
        return false;
    }
    // The type the file would be served with (AddType, AddCharset, AddDefaultCharset...) under
    // its own settings, as Apache's internal redirect to it gives: not the failed request's (a
    // ForceType on /downloads must not turn the 404 page into a download).
    out.type_storage =
        conf::file_metadata(file.name, settings_for(info, doc.target), *info.site->mime)
            .content_type;
    out.content_type = out.type_storage;
    out.set_text_body();
    return true;
}

/// What happened, in a sentence, for the statuses a visitor meets (Apache's wording where it
/// has one); empty for the rest. For a 404 the page also names the URL.
std::string_view explanation(Status status) {
    switch (status) {
    case Status::not_found:
        return " was not found on this server.";
    case Status::forbidden:
        return "You don't have permission to access this resource.";
    case Status::bad_request:
        return "Your browser sent a request that this server could not understand.";
    case Status::method_not_allowed:
        return "The method is not allowed for the requested URL.";
    case Status::request_timeout:
        return "The server timed out waiting for the request.";
    case Status::gone:
        return "The requested resource is no longer available on this server.";
    case Status::internal_error:
        return "The server could not answer this request; the error log says why.";
    default:
        return {};
    }
}

/// The built-in page: the status, a sentence on what happened (the URL for a 404, escaped) in
/// the style of the default site, and, as ServerSignature asks, Apache's footer.
void builtin_page(Status status, const parser::Request* req, const RequestInfo& info,
                  Response& out) {
    const auto code = parser::code(status);
    const auto reason = parser::reason_phrase(status);
    std::string& body = out.text_storage;
    body.assign("<!DOCTYPE html>\n<html><head><title>");
    text::append_number(body, code);
    body.append(" ").append(reason).append("</title>\n");
    body.append("<meta name=\"viewport\" content=\"width=device-width\">\n<style>body{margin:0 "
                "auto;max-width:44rem;padding:2rem 1.25rem;font:1.05rem/1.6 system-ui,sans-serif;"
                "color:#1d2733;background:#f7f8f6}h1{font-size:1.6rem;border-bottom:2px solid "
                "#0a7d6b}code{background:#e8ece9;padding:0 .25rem}address{font-size:.85rem;"
                "color:#5b6670}</style></head>\n<body><h1>");
    body.append(reason).append("</h1>\n");
    if (const std::string_view why = explanation(status); !why.empty()) {
        body.append("<p>");
        if (status == Status::not_found && req != nullptr) {
            const std::string_view target = req->target();
            body.append("The requested URL <code>");
            append_html(body, target.substr(0, target.find('?')));
            body.append("</code>");
        } else if (status == Status::not_found) {
            body.append("The requested URL");
        }
        body.append(why).append("</p>\n");
    }
    const conf::Config& cfg = *info.site->config;
    if (cfg.server_signature != conf::Config::ServerSignature::off) {
        // Apache's footer; the host name comes from the client, so it is escaped.
        const HostContext& h = *info.host;
        std::string name = h.vhost->server_name.value;
        if (info.host_from_request && req != nullptr) {
            if (const std::string_view asked = parser::request_host(*req); !asked.empty()) {
                name = conf::normalize_host(asked);
            }
        }
        body.append("<hr>\n<address>");
        append_html(body, info.site->server_version);
        body.append(" Server at ");
        const std::string& admin = h.vhost->server_admin.value;
        if (cfg.server_signature == conf::Config::ServerSignature::email && !admin.empty()) {
            body.append("<a href=\"mailto:");
            append_html(body, admin);
            body.append("\">");
            append_html(body, name);
            body.append("</a>");
        } else {
            append_html(body, name);
        }
        body.append(" Port ");
        text::append_number(body, info.local_port);
        body.append("</address>\n");
    }
    body.append("</body></html>\n");
    out.content_type = kHtml;
    out.set_text_body();
}

} // namespace

void error_response(Status status, const parser::Request* req, const RequestInfo& info,
                    const conf::Effective& settings, Response& out, bool close,
                    std::string_view extra) noexcept {
    // Whatever the handler had started to answer is replaced.
    out.reset();
    out.status = status;
    out.error = true;
    // A 400 always ends the connection, whatever found the request bad (a path that cannot be
    // decoded or leaves the root, here): a client that sends one malformed request is not
    // trusted with the next, as Apache (ap_status_drops_connection) and nginx do.
    out.close = close || status == Status::bad_request;
    out.settings = &settings;
    out.fields_storage.assign(status == Status::method_not_allowed ? kAllowHeader : extra);
    out.fields = out.fields_storage;
    if (const auto it = settings.error_documents.find(static_cast<int>(parser::code(status)));
        it != settings.error_documents.end() &&
        error_document(status, it->second, info, settings, out)) {
        return;
    }
    builtin_page(status, req, info, out);
}

} // namespace kahttpd::server
