#pragma once

#include "conf/sections.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace kahttpd::server {

/// Applies `Header` rules, in order, to a block of header lines ("Name: value\r\n" ...,
/// without the status line and the final empty line). `success` is true for 2xx and 304
/// responses: rules without `always` apply only to those, `always` rules to every response
/// (Apache's two tables: a locally generated error or redirect only sees `always`).
/// set: replace every field of that name with one; append: add ", value" to the existing field
/// or add the field; merge: like append unless the value is already one of its tokens; add: add
/// another field even if one exists; unset: remove every field of that name.
/// Names compare case-insensitively. Rules for the framing fields (Content-Length,
/// Transfer-Encoding, Connection, Keep-Alive) are ignored. Values never contain CR or LF (the
/// loader refuses them).
void apply_header_rules(std::string& block, const std::vector<conf::HeaderRule>& rules,
                        bool success);

} // namespace kahttpd::server
