#include "conf/detail/loader.hpp"

#include <algorithm>
#include <array>
#include <utility>

// What a response carries and who makes it: DirectoryIndex, Header, ErrorDocument and
// SetHandler.

namespace kahttpd::conf::detail {

void Loader::on_directory_index(const Context& c) {
    if (c.args.empty()) {
        error(c, "expected one or more file names, found none");
        return;
    }
    auto& slot = dir_target().directory_index;
    if (c.args.size() == 1 && iequals(c.args[0], "disabled")) {
        slot = Setting<std::vector<std::string>>{{}, where(c)};
        return;
    }
    std::vector<std::string> names;
    for (const std::string& name : c.args) {
        if (iequals(name, "disabled")) {
            error(c, "expected \"disabled\" alone, found it with other names");
            return;
        }
        if (name.empty() || name.find('/') != std::string::npos) {
            // Apache also takes local URLs (/cgi-bin/index.pl); kahttpd only looks for
            // files in the requested directory.
            error(c, "expected a file name without \"/\", found " + in_quotes(name));
            return;
        }
        names.push_back(name);
    }
    // As in Apache 2.4, several DirectoryIndex directives in one section add to the list;
    // the first one replaces what the section inherits.
    if (!slot) {
        slot = Setting<std::vector<std::string>>{{}, where(c)};
    }
    slot->value.insert(slot->value.end(), names.begin(), names.end());
    slot->from = where(c);
}

void Loader::on_header(const Context& c) {
    const auto& a = c.args;
    std::size_t i = 0;
    HeaderRule rule;
    rule.from = where(c);
    // The first word may name Apache's header table: "always" (every response, errors
    // too) or "onsuccess" (the default: 2xx and 3xx only).
    if (!a.empty() && (iequals(a[0], "always") || iequals(a[0], "onsuccess"))) {
        rule.always = iequals(a[0], "always");
        ++i;
    }
    static constexpr std::string_view kActions = "set, append, merge, add or unset";
    if (i == a.size()) {
        error(c, "expected " + std::string(kActions) + ", found none");
        return;
    }
    const std::string& action = a[i++];
    using A = HeaderRule::Action;
    if (iequals(action, "set")) {
        rule.action = A::set;
    } else if (iequals(action, "append")) {
        rule.action = A::append;
    } else if (iequals(action, "merge")) {
        rule.action = A::merge;
    } else if (iequals(action, "add")) {
        rule.action = A::add;
    } else if (iequals(action, "unset")) {
        rule.action = A::unset;
    } else if (iequals(action, "echo") || iequals(action, "edit") || iequals(action, "edit*") ||
               iequals(action, "setifempty") || iequals(action, "note")) {
        error(c, not_supported(action, "kahttpd has set, append, merge, add and unset"));
        return;
    } else {
        error(c, "expected " + std::string(kActions) + ", found " + in_quotes(action));
        return;
    }
    if (i == a.size()) {
        error(c, "expected a header name after " + lower(action) + ", found none");
        return;
    }
    if (!detail::is_token(a[i])) {
        error(c, "expected a header name (letters, digits and !#$%&'*+-.^_`|~), found " +
                     in_quotes(a[i]));
        return;
    }
    rule.name = a[i++];
    if (rule.action != A::unset) {
        if (i == a.size()) {
            error(c, "expected a value after the header name, found none");
            return;
        }
        rule.value = a[i++];
    }
    if (i < a.size()) {
        const std::string& extra = a[i];
        if (iequals(extra.substr(0, 4), "env=") || iequals(extra.substr(0, 5), "expr=")) {
            error(c, "conditions (" + in_quotes(extra) + ") are " + std::string(kNotSupported));
        } else if (iequals(extra, "early")) {
            error(c, not_supported(extra));
        } else {
            error(c, rule.action == A::unset
                         ? "expected nothing after the header name, found " + in_quotes(extra)
                         : "expected nothing after the value (quote a value with blanks), "
                           "found " +
                               in_quotes(extra));
        }
        return;
    }
    dir_target().headers.push_back(std::move(rule));
}

void Loader::on_error_document(const Context& c) {
    if (c.args.size() != 2) {
        error(c, "expected a status code and a URL or message, found " + args_text(c.args.size()));
        return;
    }
    const auto code = parse_uint(c.args[0]);
    if (!code || *code < 400 || *code > 599) {
        error(c, "expected a status code from 400 to 599, found " + in_quotes(c.args[0]));
        return;
    }
    const std::string& target = c.args[1];
    ErrorDocument doc;
    doc.target = target;
    // Apache 2.4's rule: a blank makes it a message, then a leading "/" a local URL, then
    // a scheme a redirect; anything else is a message. The quotes around a message are
    // gone by now, which is why the blank comes first.
    const bool is_url =
        iequals(target.substr(0, 7), "http://") || iequals(target.substr(0, 8), "https://");
    if (target.empty()) {
        error(c, "expected a URL path, a full URL or a message, found \"\"");
        return;
    }
    if (iequals(target, "default")) {
        // The data model has no "built-in page" entry that would override an inherited
        // ErrorDocument, so Apache's reset is refused rather than half-done.
        error(c, not_supported(target, "remove the ErrorDocument that set it instead"));
        return;
    }
    if (target.find(' ') != std::string::npos) {
        doc.kind = ErrorDocument::Kind::text;
    } else if (target.starts_with('/')) {
        doc.kind = ErrorDocument::Kind::local_url;
    } else if (is_url) {
        doc.kind = ErrorDocument::Kind::redirect;
    } else {
        doc.kind = ErrorDocument::Kind::text;
    }
    dir_target().error_documents[static_cast<int>(*code)] = {std::move(doc), where(c)};
}

void Loader::on_set_handler(const Context& c) {
    if (!expect_one_arg(c)) {
        return;
    }
    const std::string name = lower(c.args[0]);
    std::string handler;
    if (name == "server-status" || name == "server-health") {
        handler = name;
    } else if (name == "none" || name == "default-handler") {
        handler.clear(); // the static-file handler
    } else {
        static constexpr std::array<std::string_view, 9> kApacheOnly{
            "cgi-script",       "server-info", "imap-file",  "send-as-is", "type-map",
            "balancer-manager", "ldap-status", "lua-script", "perl-script"};
        const bool apache =
            name.starts_with("proxy:") || name.starts_with("application/x-httpd-") ||
            std::find(kApacheOnly.begin(), kApacheOnly.end(), name) != kApacheOnly.end();
        error(c, apache ? not_supported(c.args[0])
                        : "expected server-status, server-health, default-handler or none, "
                          "found unknown "
                          "handler " +
                              in_quotes(c.args[0]));
        return;
    }
    dir_target().handler = Setting<std::string>{handler, where(c)};
}

} // namespace kahttpd::conf::detail
