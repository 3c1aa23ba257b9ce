#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace kahttpd::server {

/// Output buffers recycled within one worker, so that an idle keep-alive connection holds no
/// output buffer and a busy one gets its buffer back without an allocation: the connection
/// gives its (empty) buffer back when it goes idle and takes one when it writes a response
/// head. At most kMaxPooled buffers of at most kMaxCapacity bytes are kept (≤ 4 MiB per
/// worker); beyond that a buffer is freed, and an empty pool means an ordinary allocation.
/// Thread: one pool per thread (each worker has its own), no locks.
class BufferPool {
  public:
    static constexpr std::size_t kMaxPooled = 256;
    static constexpr std::size_t kMaxCapacity = 16 * 1024;

    /// The pool of the calling thread.
    static BufferPool& for_this_thread() noexcept {
        static thread_local BufferPool pool;
        return pool;
    }

    /// Takes the storage of `buf` when it is empty (else does nothing); `buf` is left holding
    /// no memory.
    void give(std::string& buf) noexcept {
        if (buf.capacity() <= kSmall || !buf.empty()) {
            return;
        }
        if (free_.size() < kMaxPooled && buf.capacity() <= kMaxCapacity) {
            free_.emplace_back();
            free_.back().swap(buf); // buf now has the empty string's (inline) storage
            return;
        }
        std::string().swap(buf);
    }

    /// Gives `buf` pooled storage when it has none of its own (it must be empty).
    void take(std::string& buf) noexcept {
        if (buf.capacity() <= kSmall && buf.empty() && !free_.empty()) {
            buf.swap(free_.back());
            free_.pop_back();
        }
    }

    std::size_t size() const noexcept { return free_.size(); }

  private:
    BufferPool() { free_.reserve(kMaxPooled); }

    /// Capacity of a std::string's inline storage: such a buffer holds no memory of its own.
    static constexpr std::size_t kSmall = 15;
    std::vector<std::string> free_;
};

} // namespace kahttpd::server
