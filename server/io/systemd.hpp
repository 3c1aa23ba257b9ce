#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <sys/socket.h>

// What kahttpd uses of systemd's service protocol (libsystemd's sd-daemon): the readiness
// notifications (sd_notify, Type=notify) and the listening sockets a service manager passes in
// (sd_listen_fds, socket activation; the binary upgrade passes its sockets the same way).

namespace kahttpd::server {

/// A listening TCP socket passed in with LISTEN_FDS/LISTEN_PID, as found at start-up.
struct InheritedSocket {
    int fd = -1;
    sockaddr_storage addr{}; ///< getsockname()
    socklen_t len = 0;
    bool reuseport = false; ///< SO_REUSEPORT is set: more sockets may join its group
    bool claimed = false;   ///< a Listen address took it
};

/// Takes the sockets passed with LISTEN_FDS (fds 3..) when LISTEN_PID is this process, and
/// unsets the variables (so nothing started later sees them). A descriptor that is not a
/// listening TCP socket is logged and closed. The returned ones are close-on-exec and
/// non-blocking, and owned by the caller. Main thread, at start-up only.
std::vector<InheritedSocket> take_inherited_sockets();

/// True when `s` serves what `Listen host:port` asks for: the same address (an empty host, a
/// wildcard Listen, matches the IPv6 or IPv4 wildcard socket) and the same port; port 0 matches
/// any port.
bool inherited_matches(const InheritedSocket& s, const std::string& host,
                       unsigned short port) noexcept;

/// "127.0.0.1:8080", "[::]:8080" for messages.
std::string sockaddr_text(const sockaddr_storage& ss);

/// The port of a bound socket address.
unsigned short sockaddr_port(const sockaddr_storage& ss) noexcept;

/// sd_notify(3): true when NOTIFY_SOCKET was set at start-up (checked once; a process not run
/// by a service manager pays nothing more for the notifications below).
bool notify_enabled() noexcept;

/// Sends `state` ("READY=1\nSTATUS=...") to the service manager; nothing when notify_enabled()
/// is false. A failure is logged once at debug level. Any thread.
void notify(std::string_view state) noexcept;

} // namespace kahttpd::server
