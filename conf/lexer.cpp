#include "conf/lexer.hpp"

#include <optional>

namespace kahttpd::conf {

namespace {

bool is_blank(char c) noexcept {
    // The vertical tab and form feed count as blanks because Apache uses isspace(); CR is
    // handled separately as part of the line end.
    return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

/// Splits one joined logical line into words. Returns the error message on failure and
/// leaves the words read so far in `words` (so the caller can name the directive).
std::optional<std::string> split_words(std::string_view s, std::vector<std::string>& words) {
    std::size_t i = 0;
    while (true) {
        while (i < s.size() && is_blank(s[i])) {
            ++i;
        }
        if (i == s.size()) {
            return std::nullopt;
        }
        std::string word;
        const char quote = s[i];
        if (quote == '"' || quote == '\'') {
            ++i;
            bool closed = false;
            while (i < s.size()) {
                const char c = s[i];
                if (c == '\\' && i + 1 < s.size() && (s[i + 1] == quote || s[i + 1] == '\\')) {
                    word += s[i + 1];
                    i += 2;
                } else if (c == quote) {
                    ++i;
                    closed = true;
                    break;
                } else {
                    word += c;
                    ++i;
                }
            }
            if (!closed) {
                return std::string("expected a closing ") + quote +
                       " for the quoted argument, found the end of the line";
            }
            if (i < s.size() && !is_blank(s[i]) && s[i] != '>') {
                // Apache would silently start a new word here; `"/srv/www"html` is almost
                // always a typo, so say so instead.
                return std::string("expected a blank after the closing ") + quote + ", found \"" +
                       std::string(s.substr(i, 1)) + "\"";
            }
        } else {
            while (i < s.size() && !is_blank(s[i])) {
                word += s[i];
                ++i;
            }
        }
        words.push_back(std::move(word));
    }
}

} // namespace

LexResult lex(std::string_view text) {
    LexResult result;
    std::string logical;
    int physical_line = 0;
    int first_line = 0;
    bool continuing = false;
    // A UTF-8 byte order mark, which some Windows editors write, is skipped as Apache's
    // configuration reader skips it; elsewhere it would glue itself to the first directive.
    std::size_t pos = text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;

    while (pos < text.size()) {
        const std::size_t nl = text.find('\n', pos);
        const std::size_t end = nl == std::string_view::npos ? text.size() : nl;
        std::string_view piece = text.substr(pos, end - pos);
        pos = nl == std::string_view::npos ? text.size() : nl + 1;
        ++physical_line;
        if (!piece.empty() && piece.back() == '\r') {
            piece.remove_suffix(1);
        }
        if (!continuing) {
            logical.clear();
            first_line = physical_line;
        }
        // Apache's rule: the backslash must be the last byte before the line end. It is
        // removed and the next physical line is appended as is (its leading blanks separate
        // the words). A continuation on the last line of the file simply ends there.
        continuing = !piece.empty() && piece.back() == '\\';
        if (continuing) {
            piece.remove_suffix(1);
        }
        logical.append(piece);
        if (continuing && pos < text.size()) {
            continue;
        }

        std::string_view line = logical;
        while (!line.empty() && is_blank(line.front())) {
            line.remove_prefix(1);
        }
        if (line.empty() || line.front() == '#') {
            continue;
        }
        std::vector<std::string> words;
        std::optional<std::string> error;
        if (line.find('\0') != std::string_view::npos) {
            // A NUL cannot be part of a path or a name, and would truncate C strings later.
            error = "expected text, found a NUL byte";
        } else {
            error = split_words(line, words);
        }
        if (error) {
            result.errors.push_back(
                LexError{first_line, words.empty() ? "" : words.front(), std::move(*error)});
            continue;
        }
        LexedLine lexed;
        lexed.line = first_line;
        lexed.name = std::move(words.front());
        lexed.args.assign(std::make_move_iterator(words.begin() + 1),
                          std::make_move_iterator(words.end()));
        result.lines.push_back(std::move(lexed));
    }
    return result;
}

} // namespace kahttpd::conf
