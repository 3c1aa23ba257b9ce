#include "server/io/systemd.hpp"

#include "server/obs/log.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

namespace kahttpd::server {

std::vector<InheritedSocket> take_inherited_sockets() {
    std::vector<InheritedSocket> sockets;
    // unset_environment = 1: the variables describe this process only; a binary upgrade sets
    // them afresh for its child.
    const int n = sd_listen_fds(1);
    if (n < 0) {
        KAHTTPD_LOG(warn, "LISTEN_FDS: %s; no inherited sockets used", std::strerror(-n));
        return sockets;
    }
    for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; ++fd) {
        InheritedSocket s;
        s.fd = fd;
        s.len = sizeof s.addr;
        if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0 ||
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&s.addr), &s.len) != 0 ||
            (s.addr.ss_family != AF_INET && s.addr.ss_family != AF_INET6)) {
            KAHTTPD_LOG(warn, "inherited descriptor %d is not a listening TCP socket; closing it",
                        fd);
            ::close(fd);
            continue;
        }
        int on = 0;
        socklen_t olen = sizeof on;
        s.reuseport = ::getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, &olen) == 0 && on != 0;
        // sd_listen_fds set FD_CLOEXEC; the workers' loops need it non-blocking (uv_tcp_open
        // would set it too, but only on the duplicates).
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        sockets.push_back(s);
    }
    return sockets;
}

bool inherited_matches(const InheritedSocket& s, const std::string& host,
                       unsigned short port) noexcept {
    if (port != 0 && sockaddr_port(s.addr) != port) {
        return false;
    }
    if (s.addr.ss_family == AF_INET) {
        const auto& a = reinterpret_cast<const sockaddr_in&>(s.addr);
        if (host.empty()) {
            return a.sin_addr.s_addr == htonl(INADDR_ANY);
        }
        in_addr want{};
        return inet_pton(AF_INET, host.c_str(), &want) == 1 && want.s_addr == a.sin_addr.s_addr;
    }
    const auto& a = reinterpret_cast<const sockaddr_in6&>(s.addr);
    if (host.empty()) {
        return IN6_IS_ADDR_UNSPECIFIED(&a.sin6_addr);
    }
    in6_addr want{};
    return inet_pton(AF_INET6, host.c_str(), &want) == 1 &&
           std::memcmp(&want, &a.sin6_addr, sizeof want) == 0;
}

unsigned short sockaddr_port(const sockaddr_storage& ss) noexcept {
    return ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6&>(ss).sin6_port
                                          : reinterpret_cast<const sockaddr_in&>(ss).sin_port);
}

std::string sockaddr_text(const sockaddr_storage& ss) {
    char ip[INET6_ADDRSTRLEN] = "?";
    std::string text;
    if (ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr, ip, sizeof ip);
        text.append("[").append(ip).append("]");
    } else {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(ss).sin_addr, ip, sizeof ip);
        text.append(ip);
    }
    return text.append(":").append(std::to_string(sockaddr_port(ss)));
}

bool notify_enabled() noexcept {
    static const bool enabled = [] {
        const char* socket = std::getenv("NOTIFY_SOCKET");
        return socket != nullptr && socket[0] != '\0';
    }();
    return enabled;
}

void notify(std::string_view state) noexcept {
    if (!notify_enabled()) {
        return;
    }
    const std::string text(state);
    const int rc = sd_notify(0, text.c_str());
    if (rc < 0) {
        KAHTTPD_LOG(debug, "sd_notify: %s", std::strerror(-rc));
    }
}

} // namespace kahttpd::server
