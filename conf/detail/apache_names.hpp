#pragma once

#include <optional>
#include <string_view>

namespace kahttpd::conf::detail {

/// For an Apache httpd directive that kahttpd does not implement (RewriteEngine, Order,
/// SSLEngine ...), the hint to print after "not supported by kahttpd" ("" when there is none);
/// nullopt for any other name. Case-insensitive, as directive names are. Pure function.
std::optional<std::string_view> unsupported_directive(std::string_view name) noexcept;

/// The same for Apache section tags without the angle brackets (Files, If, RequireAll ...).
std::optional<std::string_view> unsupported_section(std::string_view name) noexcept;

} // namespace kahttpd::conf::detail
