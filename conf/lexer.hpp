#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kahttpd::conf {

/// One logical line of a configuration file: a directive (or section tag) and its arguments,
/// after comments, continuations and quoting have been handled.
struct LexedLine {
    int line = 0;                  ///< 1-based physical line the logical line starts on
    std::string name;              ///< first word as written ("KeepAlive", "<IfModule", ...)
    std::vector<std::string> args; ///< remaining words, quotes removed and escapes applied
};

/// A line the lexer could not split into words; the line is dropped from the result.
struct LexError {
    int line = 0;        ///< 1-based physical line the logical line starts on
    std::string name;    ///< first word as written, or "" when the first word is the problem
    std::string message; ///< "expected ..., found ..."
};

/// Every logical line that lexed, and every one that did not, each list in line order.
struct LexResult {
    std::vector<LexedLine> lines;
    std::vector<LexError> errors;
};

/// Splits configuration text into logical lines with Apache httpd's rules:
/// - LF or CRLF line ends;
/// - a backslash as the very last byte of a line (before the line end) joins the next line
///   onto it, the backslash removed and nothing inserted, as Apache's ap_cfg_getline does;
///   a backslash followed by spaces is an ordinary byte, as Apache documents;
/// - after joining, a line whose first non-blank byte is `#` is a comment (so a comment
///   ending in a backslash swallows the next line, as in Apache), and `#` anywhere else is an
///   ordinary byte;
/// - words are separated by spaces and tabs; a word that starts with `"` or `'` runs to the
///   matching unescaped quote, may contain blanks, and turns `\"` (or `\'`) and `\\` into one
///   byte; every other backslash is kept as is (so `"C:\dir"` and regexes survive);
/// - a closing quote must be followed by a blank, the end of the line, or the `>` that ends a
///   section tag (`<Directory "/srv/www">`), which then becomes a word of its own;
/// - bytes >= 0x80 (UTF-8) pass through untouched; a NUL byte is an error;
/// - a UTF-8 byte order mark at the very start is skipped.
/// Pure function: no I/O, no shared state.
LexResult lex(std::string_view text);

} // namespace kahttpd::conf
