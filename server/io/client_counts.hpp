#pragma once

#include "server/util/address.hpp"

#include <cstdint>
#include <cstring>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace kahttpd::server {

/// Open connections per client address, over every worker and configuration generation, for
/// MaxConnectionsPerIP (nginx's limit_conn). Touched only at accept and close, and only while
/// the limit is on, so the request path never takes its lock.
/// Thread: any (guarded by its mutex).
class ClientCounts {
  public:
    /// Counts one more connection from `ip`; false (and nothing counted) when it already has
    /// `limit` open.
    bool acquire(const IpBytes& ip, std::uint32_t limit) {
        std::lock_guard<std::mutex> lock(mutex_);
        std::uint32_t& n = counts_[ip];
        if (n >= limit) {
            if (n == 0) {
                counts_.erase(ip);
            }
            return false;
        }
        ++n;
        return true;
    }

    /// Counts one connection from `ip` less (one that acquire() counted).
    void release(const IpBytes& ip) {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto it = counts_.find(ip);
        if (it != counts_.end() && --it->second == 0) {
            counts_.erase(it);
        }
    }

  private:
    struct Hash {
        std::size_t operator()(const IpBytes& ip) const noexcept {
            return std::hash<std::string_view>{}(
                std::string_view(reinterpret_cast<const char*>(ip.data()), ip.size()));
        }
    };

    std::mutex mutex_;
    std::unordered_map<IpBytes, std::uint32_t, Hash> counts_;
};

} // namespace kahttpd::server
