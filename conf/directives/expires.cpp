#include "conf/detail/loader.hpp"

// mod_expires: ExpiresActive, ExpiresDefault and ExpiresByType, per directory as in Apache.

namespace kahttpd::conf::detail {

std::optional<ExpiresSpec> Loader::expires_arg(const Context& c, const std::string& text) {
    std::string why;
    if (auto spec = parse_expires(text, why)) {
        return spec;
    }
    error(c, why);
    return std::nullopt;
}

void Loader::on_expires_active(const Context& c) {
    if (const auto on = on_off_arg(c)) {
        dir_target().expires_active = Setting<bool>{*on, where(c)};
    }
}

/// ExpiresDefault "access plus 1 month" | A2592000: one argument, quoted when it has blanks,
/// as Apache takes it.
void Loader::on_expires_default(const Context& c) {
    if (c.args.size() != 1) {
        error(c, "expected one argument (quote \"access plus 1 month\"), found " +
                     args_text(c.args.size()));
        return;
    }
    if (const auto spec = expires_arg(c, c.args[0])) {
        dir_target().expires_default = Setting<ExpiresSpec>{*spec, where(c)};
    }
}

/// ExpiresByType TYPE "access plus 1 month" | TYPE A2592000. TYPE may be "image/*" (Apache
/// 2.4's wildcard for a major type).
void Loader::on_expires_by_type(const Context& c) {
    if (c.args.size() != 2) {
        error(c, "expected a media type and a time (quote \"access plus 1 month\"), found " +
                     args_text(c.args.size()));
        return;
    }
    const std::string type = lower(c.args[0]);
    const std::size_t slash = type.find('/');
    const bool valid =
        slash != std::string::npos && slash > 0 && slash + 1 < type.size() &&
        is_token(std::string_view(type).substr(0, slash)) &&
        (type.substr(slash + 1) == "*" || is_token(std::string_view(type).substr(slash + 1)));
    if (!valid) {
        error(c,
              "expected a media type such as text/html or image/*, found " + in_quotes(c.args[0]));
        return;
    }
    if (const auto spec = expires_arg(c, c.args[1])) {
        dir_target().expires_by_type[type] = Setting<ExpiresSpec>{*spec, where(c)};
    }
}

} // namespace kahttpd::conf::detail
