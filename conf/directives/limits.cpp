#include "conf/detail/loader.hpp"

// Size and count limits: the request head (LimitRequestLine/FieldSize/Fields), the body
// (LimitRequestBody) and MaxConnections.

namespace kahttpd::conf::detail {

// The 64 KiB ceiling on the line and field limits keeps a single header line within
// what the parser buffers for one request; Apache's own compiled-in cap is similar.
void Loader::on_limit_request_line(const Context& c) {
    if (const auto n = uint_arg(c, 1, 65536)) {
        result_.config.limit_request_line = static_cast<std::uint32_t>(*n);
    }
}

void Loader::on_limit_request_field_size(const Context& c) {
    if (const auto n = uint_arg(c, 1, 65536)) {
        result_.config.limit_request_field_size = static_cast<std::uint32_t>(*n);
    }
}

void Loader::on_limit_request_fields(const Context& c) {
    // 32767 is Apache's maximum.
    if (const auto n = uint_arg(c, 1, 32767)) {
        result_.config.limit_request_fields = static_cast<std::uint32_t>(*n);
    }
}

void Loader::on_limit_request_body(const Context& c) {
    // 0 means unlimited and 2^31-1 is the maximum, both as in Apache.
    if (const auto n = uint_arg(c, 0, 2147483647)) {
        dir_target().limit_request_body = Setting<std::uint64_t>{*n, where(c)};
    }
}

void Loader::on_max_connections_per_ip(const Context& c) {
    if (const auto n = uint_arg(c, 0, 1000000)) {
        result_.config.max_connections_per_ip = static_cast<std::uint32_t>(*n);
    }
}

void Loader::on_max_connections(const Context& c) {
    if (const auto n = uint_arg(c, 0, 1000000)) {
        result_.config.max_connections = static_cast<std::uint32_t>(*n);
    }
}

} // namespace kahttpd::conf::detail
