#pragma once

#include "server/http/close_reason.hpp"

#include <uv.h>

namespace kahttpd::server {

/// The I/O error classes, named once: a peer that went away (EOF, reset, broken pipe) is the
/// client's close; anything else is an I/O error worth a log line. `err` is a libuv code, which
/// on Unix is the negated errno, so -errno from a raw system call (sendfile) fits too.
inline CloseReason close_reason_for(int err) noexcept {
    return err == UV_EOF || err == UV_ECONNRESET || err == UV_EPIPE ? CloseReason::client_closed
                                                                    : CloseReason::io_error;
}

} // namespace kahttpd::server
