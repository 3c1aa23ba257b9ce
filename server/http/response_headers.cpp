#include "server/http/response_headers.hpp"

#include "parser/text.hpp"

#include <cstddef>

namespace kahttpd::server {

namespace {

using text::iequals;

/// Position of the first line for `name` at or after `from`, or npos. `value_begin` and
/// `line_end` (index of the CR) describe it.
std::size_t find_field(const std::string& block, std::string_view name, std::size_t from,
                       std::size_t& value_begin, std::size_t& line_end) noexcept {
    std::size_t pos = from;
    while (pos < block.size()) {
        const std::size_t eol = block.find("\r\n", pos);
        const std::size_t end = eol == std::string::npos ? block.size() : eol;
        const std::size_t colon = block.find(':', pos);
        if (colon != std::string::npos && colon < end &&
            iequals(std::string_view(block).substr(pos, colon - pos), name)) {
            value_begin = colon + 1;
            line_end = end;
            return pos;
        }
        pos = end + 2;
    }
    return std::string::npos;
}

void remove_all(std::string& block, std::string_view name) {
    std::size_t vb = 0, le = 0;
    for (std::size_t at = find_field(block, name, 0, vb, le); at != std::string::npos;
         at = find_field(block, name, at, vb, le)) {
        block.erase(at, le + 2 - at);
    }
}

void add_line(std::string& block, std::string_view name, std::string_view value) {
    block.append(name).append(": ").append(value).append("\r\n");
}

bool has_token(std::string_view list, std::string_view token) noexcept {
    while (!list.empty()) {
        const std::size_t comma = list.find(',');
        const std::string_view item = text::trim_ows(list.substr(0, comma));
        if (iequals(item, token)) {
            return true;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        list.remove_prefix(comma + 1);
    }
    return false;
}

} // namespace

void apply_header_rules(std::string& block, const std::vector<conf::HeaderRule>& rules,
                        bool success) {
    using Action = conf::HeaderRule::Action;
    for (const auto& rule : rules) {
        if (!rule.always && !success) {
            continue;
        }
        // The framing fields belong to the server: a rule changing them would corrupt the
        // connection (Apache lets it; kahttpd ignores such rules).
        if (iequals(rule.name, "Content-Length") || iequals(rule.name, "Transfer-Encoding") ||
            iequals(rule.name, "Connection") || iequals(rule.name, "Keep-Alive")) {
            continue;
        }
        std::size_t vb = 0, le = 0;
        switch (rule.action) {
        case Action::set:
            remove_all(block, rule.name);
            add_line(block, rule.name, rule.value);
            break;
        case Action::add:
            add_line(block, rule.name, rule.value);
            break;
        case Action::unset:
            remove_all(block, rule.name);
            break;
        case Action::append:
        case Action::merge: {
            const std::size_t at = find_field(block, rule.name, 0, vb, le);
            if (at == std::string::npos) {
                add_line(block, rule.name, rule.value);
                break;
            }
            const std::string_view current =
                text::trim_ows(std::string_view(block).substr(vb, le - vb));
            if (rule.action == Action::merge && has_token(current, rule.value)) {
                break;
            }
            const std::string insert = current.empty() ? rule.value : ", " + rule.value;
            block.insert(le, insert);
            break;
        }
        }
    }
}

} // namespace kahttpd::server
