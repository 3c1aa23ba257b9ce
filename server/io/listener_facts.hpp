#pragma once

#include "server/util/address.hpp"

#include <cstdint>

namespace kahttpd::server {

/// What a worker learns of a listening socket once (Worker::start_listening), so that each
/// accepted connection need not ask the kernel again. (TCP_NODELAY is not here: Linux does not
/// copy it from a listener to the sockets it accepts, so each connection sets it; the
/// integration test reads it back.)
struct ListenerFacts {
    /// The listener is bound to one address (not 0.0.0.0 or ::): every connection's local
    /// address is that one, and no getsockname() is needed.
    bool local_known = false;
    IpBytes local_ip{};
    std::uint16_t local_port = 0;
};

} // namespace kahttpd::server
