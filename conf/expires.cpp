#include "conf/expires.hpp"

#include "parser/text.hpp"

#include <array>
#include <vector>

namespace kahttpd::conf {

namespace {

constexpr std::uint64_t kMaxSeconds = 0xffffffffu;

std::vector<std::string_view> words(std::string_view text) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) {
            ++i;
        }
        const std::size_t start = i;
        while (i < text.size() && text[i] != ' ' && text[i] != '\t') {
            ++i;
        }
        if (i > start) {
            out.push_back(text.substr(start, i - start));
        }
    }
    return out;
}

std::optional<std::uint64_t> digits(std::string_view s) {
    if (s.empty() || s.size() > 10) {
        return std::nullopt;
    }
    std::uint64_t n = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return n;
}

/// A unit word: a case-insensitive prefix of the unit's name, at least as long as Apache's
/// check (one letter, two for months and minutes, which share the "m").
std::optional<std::uint64_t> unit_seconds(std::string_view word) {
    struct Unit {
        std::string_view name;
        std::size_t min;
        std::uint64_t seconds;
    };
    static constexpr std::array<Unit, 7> kUnits{{{"years", 1, 365 * 86400},
                                                 {"months", 2, 30 * 86400},
                                                 {"weeks", 1, 7 * 86400},
                                                 {"days", 1, 86400},
                                                 {"hours", 1, 3600},
                                                 {"minutes", 2, 60},
                                                 {"seconds", 1, 1}}};
    for (const Unit& u : kUnits) {
        if (word.size() >= u.min && word.size() <= u.name.size() &&
            text::iequals(word, u.name.substr(0, word.size()))) {
            return u.seconds;
        }
    }
    return std::nullopt;
}

std::string quoted(std::string_view s) {
    return "\"" + std::string(s) + "\"";
}

} // namespace

std::optional<ExpiresSpec> parse_expires(std::string_view text, std::string& why) {
    ExpiresSpec spec;
    if (!text.empty() && (text[0] == 'A' || text[0] == 'M')) {
        if (const auto n = digits(text.substr(1)); n && *n <= kMaxSeconds) {
            spec.base =
                text[0] == 'A' ? ExpiresSpec::Base::access : ExpiresSpec::Base::modification;
            spec.seconds = static_cast<std::uint32_t>(*n);
            return spec;
        }
    }
    const std::vector<std::string_view> w = words(text);
    if (w.empty()) {
        why = "expected A<seconds>, M<seconds> or \"access plus 1 month\", found \"\"";
        return std::nullopt;
    }
    if (text::iequals(w[0], "access") || text::iequals(w[0], "now")) {
        spec.base = ExpiresSpec::Base::access;
    } else if (text::iequals(w[0], "modification")) {
        spec.base = ExpiresSpec::Base::modification;
    } else {
        why = "expected A<seconds>, M<seconds>, or access, now or modification first, found " +
              quoted(text);
        return std::nullopt;
    }
    std::size_t i = 1;
    if (i < w.size() && text::iequals(w[i], "plus")) {
        ++i;
    }
    if (i == w.size()) {
        why = "expected a number and a unit after " + quoted(w[i - 1]) + ", found none";
        return std::nullopt;
    }
    std::uint64_t total = 0;
    for (; i < w.size(); i += 2) {
        const auto n = digits(w[i]);
        if (!n) {
            why = "expected a number, found " + quoted(w[i]);
            return std::nullopt;
        }
        if (i + 1 == w.size()) {
            why = "expected a unit (years, months, weeks, days, hours, minutes, seconds) after " +
                  quoted(w[i]) + ", found none";
            return std::nullopt;
        }
        const auto unit = unit_seconds(w[i + 1]);
        if (!unit) {
            why = "expected years, months, weeks, days, hours, minutes or seconds, found " +
                  quoted(w[i + 1]);
            return std::nullopt;
        }
        total += *n * *unit;
        if (total > kMaxSeconds) {
            why = "expected at most 4294967295 seconds (136 years), found " + quoted(text);
            return std::nullopt;
        }
    }
    spec.seconds = static_cast<std::uint32_t>(total);
    return spec;
}

std::string expires_text(const ExpiresSpec& spec) {
    switch (spec.base) {
    case ExpiresSpec::Base::none:
        return "none";
    case ExpiresSpec::Base::access:
        return "A" + std::to_string(spec.seconds);
    case ExpiresSpec::Base::modification:
        return "M" + std::to_string(spec.seconds);
    }
    return "none";
}

ExpiresSpec expires_for(bool active, const ExpiresSpec& by_default,
                        const std::map<std::string, ExpiresSpec>& by_type, std::string_view type) {
    if (!active) {
        return {};
    }
    type = type.substr(0, type.find(';'));
    while (!type.empty() && type.back() == ' ') {
        type.remove_suffix(1);
    }
    if (!by_type.empty()) {
        // The keys are lower case; a media type is compared without its case (RFC 9110 §8.3.1).
        char buf[128];
        if (type.size() < sizeof buf) {
            for (std::size_t i = 0; i < type.size(); ++i) {
                buf[i] = text::to_lower(type[i]);
            }
            const std::string_view lower(buf, type.size());
            if (const auto it = by_type.find(std::string(lower)); it != by_type.end()) {
                return it->second;
            }
            const std::size_t slash = lower.find('/');
            if (slash != std::string_view::npos) {
                const std::string wild = std::string(lower.substr(0, slash + 1)) + "*";
                if (const auto it = by_type.find(wild); it != by_type.end()) {
                    return it->second;
                }
            }
        }
    }
    return by_default;
}

} // namespace kahttpd::conf
