#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace kahttpd::conf {

/// The groups of one match: $0 (the whole match) to $9, as Apache's AP_MAX_REG_MATCH. A group
/// that did not take part is empty.
struct Captures {
    static constexpr std::size_t kMax = 10;
    std::array<std::string_view, kMax> group{};
};

/// A PCRE2 regular expression (Debian's libpcre2-8), compiled once while the configuration
/// loads and then only matched. Copies share the compiled code, which PCRE2 allows any number
/// of threads to match at once; each thread matches with its own match data, made once.
/// An empty Regex (default-constructed) matches nothing.
class Regex {
  public:
    Regex() = default;

    /// Compiles `pattern` (Perl syntax, as Apache's ap_pregcomp: no UTF-8 check, so any byte
    /// matches itself); `caseless` for a case-insensitive match. On failure returns nullopt and
    /// sets `why` to PCRE2's message and the offset, e.g. "missing closing parenthesis at
    /// offset 3".
    static std::optional<Regex> compile(std::string_view pattern, std::string& why,
                                        bool caseless = false);

    explicit operator bool() const noexcept { return code_ != nullptr; }
    /// The pattern as written (for messages and `kahttpd -T`).
    const std::string& pattern() const noexcept { return pattern_; }

    /// True when the expression matches somewhere in `subject`; fills `out` with the groups
    /// (views into `subject`) when given. No allocation after the calling thread's first match.
    bool match(std::string_view subject, Captures* out = nullptr) const noexcept;

    bool operator==(const Regex& o) const noexcept { return pattern_ == o.pattern_; }

  private:
    struct Code;
    std::shared_ptr<const Code> code_;
    std::string pattern_;
};

/// `tmpl` with $0..$9 replaced by the groups of `m`, as Apache's ap_pregsub: a backslash takes
/// the next character literally (`\$1` is "$1"), any other character is copied.
std::string substitute_groups(std::string_view tmpl, const Captures& m);

/// The version of the PCRE2 library in use ("10.42 2022-12-11"), for kahttpd -V.
std::string pcre2_version();

} // namespace kahttpd::conf
