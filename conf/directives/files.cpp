#include "conf/detail/loader.hpp"

#include <array>

// How static files are served and cached: EnableSendfile, FileETag, PrecompressedFiles,
// MaxRanges and the per-worker open-file cache (FileCache*).

namespace kahttpd::conf::detail {

/// FileCacheSize: bytes with an optional K, M or G suffix (powers of 1024, any case).
void Loader::on_file_cache_size(const Context& c) {
    if (!expect_one_arg(c)) {
        return;
    }
    std::string_view text = c.args[0];
    std::uint64_t unit = 1;
    if (!text.empty()) {
        switch (detail::to_lower(text.back())) {
        case 'k':
            unit = 1ull << 10;
            break;
        case 'm':
            unit = 1ull << 20;
            break;
        case 'g':
            unit = 1ull << 30;
            break;
        default:
            break;
        }
        if (unit != 1) {
            text.remove_suffix(1);
        }
    }
    constexpr std::uint64_t kMax = 64ull << 30;
    const auto n = parse_uint(text);
    if (!n || *n > kMax / unit) {
        error(c, "expected 0 (no cache) or bytes with an optional K, M or G suffix, up to "
                 "64G, found " +
                     in_quotes(c.args[0]));
        return;
    }
    result_.config.file_cache_size = *n * unit;
}

void Loader::on_file_cache_entries(const Context& c) {
    if (const auto n = uint_arg(c, 1, 1000000)) {
        result_.config.file_cache_entries = static_cast<std::uint32_t>(*n);
    }
}

void Loader::on_file_cache_valid(const Context& c) {
    if (const auto d = zero_or_duration_arg(
            c, "expected 0 (check on every request) or a duration (30, 30s, 500ms, 5m, 1h) up to 1h")) {
        result_.config.file_cache_valid = *d;
    }
}

void Loader::on_file_etag(const Context& c) {
    if (c.args.empty()) {
        error(c, "expected INode, MTime, Size, All or None, found none");
        return;
    }
    static constexpr std::array kParts{
        NamedBits{"INode", FileETagSpec::kINode},
        NamedBits{"MTime", FileETagSpec::kMTime},
        NamedBits{"Size", FileETagSpec::kSize},
        NamedBits{"All", FileETagSpec::kINode | FileETagSpec::kMTime | FileETagSpec::kSize},
        NamedBits{"None", 0},
    };
    // +/- forms change Apache's default (MTime Size), not the inherited value: the data
    // model keeps one absolute set per section.
    FileETagSpec spec;
    std::uint8_t plain = 0;
    std::optional<std::string> first_signed;
    std::optional<std::string> first_plain;
    for (const std::string& arg : c.args) {
        std::string_view word = arg;
        const char action = take_sign(word);
        const NamedBits* it = find_named(kParts, word);
        if (it == nullptr) {
            error(c, iequals(word, "Digest")
                         ? not_supported(word)
                         : "expected INode, MTime, Size, All or None, found " + in_quotes(arg));
            return;
        }
        const bool alone = it->name == "All" || it->name == "None";
        if (alone && (action != 0 || c.args.size() > 1)) {
            error(c, "expected " + std::string(it->name) + " alone, found " + in_quotes(arg) +
                         " with other parts");
            return;
        }
        if (action == '+') {
            spec.parts |= it->bits;
            first_signed = first_signed.value_or(arg);
        } else if (action == '-') {
            spec.parts &= static_cast<std::uint8_t>(~it->bits);
            first_signed = first_signed.value_or(arg);
        } else {
            plain |= it->bits;
            first_plain = first_plain.value_or(arg);
        }
    }
    if (first_signed && first_plain) {
        error(c, "expected either every part with + or - or none with them, found " +
                     in_quotes(*first_signed) + " and " + in_quotes(*first_plain));
        return;
    }
    if (first_plain) {
        spec.parts = plain;
    }
    dir_target().file_etag = Setting<FileETagSpec>{spec, where(c)};
}

/// kahttpd's own: serve foo.br / foo.gz beside foo to clients that accept them.
void Loader::on_precompressed_files(const Context& c) {
    if (const auto on = on_off_arg(c)) {
        dir_target().precompressed_files = Setting<bool>{*on, where(c)};
    }
}

/// Apache's MaxRanges with a count (unlimited = 0); "none"/"default" forms not supported.
void Loader::on_max_ranges(const Context& c) {
    if (const auto n = uint_arg(c, 0, 65535)) {
        dir_target().max_ranges = Setting<std::uint32_t>{static_cast<std::uint32_t>(*n), where(c)};
    }
}

void Loader::on_enable_sendfile(const Context& c) {
    if (const auto on = on_off_arg(c)) {
        dir_target().enable_sendfile = Setting<bool>{*on, where(c)};
    }
}

} // namespace kahttpd::conf::detail
