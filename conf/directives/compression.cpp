#include "conf/detail/loader.hpp"

#include <algorithm>
#include <array>

// Compression on the fly, with Apache's syntax: AddOutputFilterByType and SetOutputFilter
// (mod_filter, core) with the DEFLATE (mod_deflate) and BROTLI_COMPRESS (mod_brotli) filters,
// DeflateCompressionLevel, BrotliCompressionQuality, and kahttpd's CompressMinLength.

namespace kahttpd::conf::detail {

namespace {

/// Filters of a stock Apache that kahttpd does not implement: named as such rather than as
/// unknown.
constexpr std::array<std::string_view, 9> kApacheFilters{
    "INCLUDES", "INFLATE", "SUBSTITUTE", "SED", "CACHE", "BUFFER", "DATA", "RATE_LIMIT", "XML2ENC",
};

} // namespace

std::optional<std::uint8_t> Loader::filter_chain_arg(const Context& c, std::string_view chain) {
    // Apache writes a chain as "DEFLATE;BROTLI_COMPRESS"; filter names are case-insensitive.
    std::uint8_t bits = 0;
    std::size_t begin = 0;
    while (begin <= chain.size()) {
        const std::size_t end = std::min(chain.find(';', begin), chain.size());
        const std::string_view name = chain.substr(begin, end - begin);
        if (iequals(name, "DEFLATE")) {
            bits |= OutputFilters::kDeflate;
        } else if (iequals(name, "BROTLI_COMPRESS")) {
            bits |= OutputFilters::kBrotli;
        } else if (std::any_of(kApacheFilters.begin(), kApacheFilters.end(),
                               [&](std::string_view f) { return iequals(f, name); })) {
            error(c, not_supported(name, "kahttpd's output filters are DEFLATE and "
                                         "BROTLI_COMPRESS"));
            return std::nullopt;
        } else {
            error(c, "expected DEFLATE or BROTLI_COMPRESS (several joined by \";\"), found " +
                         in_quotes(name.empty() ? chain : name));
            return std::nullopt;
        }
        begin = end + 1;
    }
    return bits;
}

/// AddOutputFilterByType FILTER[;FILTER] TYPE...: the filters for responses of these media
/// types. Lines for the same type in one section add up, as in Apache.
void Loader::on_add_output_filter_by_type(const Context& c) {
    if (c.args.size() < 2) {
        error(c, "expected a filter (DEFLATE, BROTLI_COMPRESS) and one or more media types, "
                 "found " +
                     args_text(c.args.size()));
        return;
    }
    const auto bits = filter_chain_arg(c, c.args[0]);
    if (!bits) {
        return;
    }
    std::vector<std::string> types;
    for (std::size_t i = 1; i < c.args.size(); ++i) {
        // type/subtype without parameters: the Content-Type is matched without its charset.
        const std::string_view type = c.args[i];
        const std::size_t slash = type.find('/');
        if (slash == std::string_view::npos || !detail::is_token(type.substr(0, slash)) ||
            !detail::is_token(type.substr(slash + 1))) {
            error(c, "expected a media type without parameters as in text/html, found " +
                         in_quotes(type));
            return;
        }
        types.push_back(lower(type));
    }
    auto& by_type = dir_target().output_filters_by_type;
    for (const std::string& type : types) {
        Setting<std::uint8_t>& s = by_type[type];
        s.value = static_cast<std::uint8_t>(s.value | *bits);
        s.from = where(c);
    }
}

/// SetOutputFilter FILTER[;FILTER]: the filters for every response in this context.
void Loader::on_set_output_filter(const Context& c) {
    if (!expect_one_arg(c)) {
        return;
    }
    if (const auto bits = filter_chain_arg(c, c.args[0])) {
        dir_target().set_output_filter = Setting<std::uint8_t>{*bits, where(c)};
    }
}

/// kahttpd's own (as nginx's gzip_min_length): files smaller than this are sent as they are.
void Loader::on_compress_min_length(const Context& c) {
    if (const auto n = uint_arg(c, 0, 1ull << 30)) {
        dir_target().compress_min_length = Setting<std::uint64_t>{*n, where(c)};
    }
}

void Loader::on_deflate_compression_level(const Context& c) {
    if (const auto n = uint_arg(c, 1, 9)) {
        dir_target().deflate_level =
            Setting<std::uint32_t>{static_cast<std::uint32_t>(*n), where(c)};
    }
}

void Loader::on_brotli_compression_quality(const Context& c) {
    if (const auto n = uint_arg(c, 0, 11)) {
        dir_target().brotli_quality =
            Setting<std::uint32_t>{static_cast<std::uint32_t>(*n), where(c)};
    }
}

} // namespace kahttpd::conf::detail
