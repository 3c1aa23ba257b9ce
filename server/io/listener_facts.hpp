#pragma once

#include "server/util/address.hpp"

#include <cstdint>

namespace kahttpd::server {

/// What a worker learns of a listening socket once (Worker::start_listening), so that each
/// accepted connection need not ask the kernel again.
struct ListenerFacts {
    /// The listener is bound to one address (not 0.0.0.0 or ::): every connection's local
    /// address is that one, and no getsockname() is needed.
    bool local_known = false;
    /// TCP_NODELAY was on the listener before it listened (open_listener sets it): Linux
    /// copies it to every socket it accepts, so a connection need not set it. Off for a
    /// socket inherited from systemd, whose connections set it themselves.
    bool nodelay = false;
    /// TCP_DEFER_ACCEPT is on (AcceptFilter data): a connection is accepted only once its first
    /// bytes arrived, so they are read at once instead of after a turn of the loop.
    bool deferred = false;
    IpBytes local_ip{};
    std::uint16_t local_port = 0;
};

} // namespace kahttpd::server
