#include "server/http/response_head.hpp"

#include "parser/text.hpp"
#include "server/http/response_headers.hpp"

namespace kahttpd::server {

HeadMarks append_head(std::string& out, parser::Status status, std::string_view server_header,
                      std::string_view date, std::string_view content_type,
                      std::uint64_t content_length, std::string_view fields) {
    HeadMarks marks;
    out.append("HTTP/1.1 ");
    text::append_number(out, parser::code(status));
    out.push_back(' ');
    out.append(parser::reason_phrase(status));
    out.append("\r\n");
    marks.fields_at = out.size();
    out.append(server_header);
    out.append("Date: ");
    marks.date_at = out.size();
    out.append(date);
    out.append("\r\n");
    if (!content_type.empty()) {
        out.append("Content-Type: ");
        out.append(content_type);
        out.append("\r\n");
    }
    if (status != parser::Status::not_modified) {
        out.append("Content-Length: ");
        text::append_number(out, content_length);
        out.append("\r\n");
    }
    out.append(fields);
    return marks;
}

void end_head(std::string& out, std::size_t fields_at, parser::Status status,
              const std::vector<conf::HeaderRule>& rules) {
    if (!rules.empty()) {
        // The rules see the field lines only; they are rewritten in a copy (rare: a site with
        // Header directives pays one copy per response, and its 200s are never prepared).
        std::string block = out.substr(fields_at);
        const auto c = parser::code(status);
        apply_header_rules(block, rules, (c >= 200 && c < 300) || c == 304);
        out.resize(fields_at);
        out.append(block);
    }
    out.append("\r\n");
}

} // namespace kahttpd::server
