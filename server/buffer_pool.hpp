#pragma once

#include "parser/request_parser.hpp"

#include <uv.h>

#include <cstddef>
#include <memory>
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

/// The parts of a connection needed only while it is doing something (a request arriving, a
/// response leaving, the lingering close): the parser and libuv's write and shutdown requests,
/// about 620 bytes plus the parser's buffers. An idle keep-alive connection gives them back.
struct ConnectionBusy {
    explicit ConnectionBusy(const parser::ParseLimits& limits) : parser(limits) {}
    parser::RequestParser parser;
    uv_write_t write_req;
    uv_shutdown_t shutdown_req;
};

/// ConnectionBusy objects recycled within one worker thread, so the keep-alive path does not
/// allocate: at most kMaxPooled are kept, each with parser buffers of at most 16 KiB.
/// All objects of one pool share the parse limits of the worker's configuration (a reload
/// starts new threads, hence new pools).
class BusyPool {
  public:
    static constexpr std::size_t kMaxPooled = 256;
    static constexpr std::size_t kKeepBytes = 16 * 1024;

    static BusyPool& for_this_thread() noexcept {
        static thread_local BusyPool pool;
        return pool;
    }

    std::unique_ptr<ConnectionBusy> take(const parser::ParseLimits& limits) {
        if (free_.empty()) {
            return std::make_unique<ConnectionBusy>(limits);
        }
        std::unique_ptr<ConnectionBusy> b = std::move(free_.back());
        free_.pop_back();
        return b;
    }

    /// Takes back an object whose parser is between messages.
    void give(std::unique_ptr<ConnectionBusy> b) noexcept {
        if (free_.size() >= kMaxPooled) {
            return; // freed
        }
        b->parser.release_memory(kKeepBytes);
        b->parser.reset();
        free_.push_back(std::move(b));
    }

    std::size_t size() const noexcept { return free_.size(); }

  private:
    BusyPool() { free_.reserve(kMaxPooled); }
    std::vector<std::unique_ptr<ConnectionBusy>> free_;
};

} // namespace kahttpd::server
