#pragma once

#include "conf/sections.hpp"
#include "parser/request_parser.hpp"
#include "server/http/byte_ranges.hpp"
#include "server/http/close_reason.hpp"
#include "server/io/connection_busy.hpp"
#include "server/obs/status_page.hpp"
#include "server/static/file_cache.hpp"
#include "server/util/intrusive_list.hpp"
#include "server/util/timer_wheel.hpp"

#include <uv.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kahttpd::server {

class Worker;
struct HostContext;
struct TargetPath;

/// One accepted TCP connection and its HTTP/1.1 state machine.
///
/// Ownership: heap-allocated by its Worker, not copyable or movable (libuv holds the address of
/// handle_). The only way out is close(), which calls uv_close(); the close callback adopts the
/// object into a unique_ptr and frees it. Nothing else deletes a Connection.
///
/// States: reading (waiting for or receiving a request) -> writing (a response is in flight)
/// -> idle (keep-alive, nothing buffered) -> ... -> lingering (write side shut, discarding
/// input) -> closing. Requests are parsed one at a time and answered strictly in order; the
/// responses to a pipelined batch accumulate in out_ and leave in one write. Parsing pauses
/// (the rest of the input is stashed and reading stops) while a write is in flight or a large
/// file is streaming, so unsent output stays bounded.
///
/// Thread: its worker's.
class Connection {
  public:
    enum class State : std::uint8_t { reading, writing, idle, lingering, closing };

    Connection(Worker& worker, std::uint64_t id) noexcept;
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection();

    /// Accepts the pending connection of `server` and starts reading. On failure the
    /// connection closes itself (and is freed by its close callback).
    /// `overload`: MaxConnections is reached; the connection is accepted and closed at once.
    void start(uv_stream_t* server, bool overload) noexcept;

    /// The one teardown path: unlinks the timer, counts the reason, calls uv_close().
    void close(CloseReason reason) noexcept;

    /// Server shutdown: close when idle (after a short floor for a request already on its
    /// way), otherwise answer the request in progress with
    /// "Connection: close" and close after it.
    void on_server_drain() noexcept;

    State state() const noexcept { return state_; }
    /// This connection as a row of the status page's table. `now_ms`: uv_hrtime() in ms.
    ConnectionRow status_row(std::uint64_t now_ms) const;
    /// The status report this connection asked for is ready (worker thread).
    void finish_status(const StatusReport& report, bool json, unsigned refresh) noexcept;
    std::uint64_t id() const noexcept { return id_; }

    ListNode<Connection> node_{this}; ///< membership in the worker's list

  private:
    enum class Deadline : std::uint8_t { none, header, body, send, idle, linger, drain };

    void start_read() noexcept;
    ConnectionBusy& busy() noexcept; // acquires from the worker's pool when needed
    void release_busy() noexcept;    // back to the pool (idle, nothing in flight)
    bool in_message() const noexcept { return busy_ && busy_->parser.in_message(); }
    void apply_tcp_options() noexcept;
    void log_access(bool parsed) noexcept;
    void on_read(ssize_t nread, const uv_buf_t* buf) noexcept;
    void consume(std::string_view input) noexcept;
    void consume_input(std::string_view input) noexcept;
    void pump() noexcept;
    void on_request() noexcept;
    void serve_file(const parser::Request& req, bool head) noexcept;
    void serve_status(const TargetPath& target) noexcept;
    void emit_status() noexcept;
    void respond_error(parser::Status status, std::string_view why, bool close_after,
                       std::string_view extra_headers = {}) noexcept;
    void serve_listing(const parser::Request& req, const TargetPath& target, const OpenedFile& dir,
                       bool head) noexcept;
    void serve_representation(const parser::Request& req, const FileEntry& entry,
                              bool head) noexcept;
    void send_file_ranges(const FileRep& rep, std::string_view boundary, std::uint64_t size,
                          bool head, std::string_view part_type = {}) noexcept;
    bool serve_error_document(parser::Status status, const conf::ErrorDocument& doc,
                              std::string_view extra) noexcept;
    bool append_file_range(int fd, std::uint64_t offset, std::uint64_t length) noexcept;
    void write_head(parser::Status status, std::string_view content_type,
                    std::uint64_t content_length, std::string_view extra_headers) noexcept;
    void write_cached_head(const FileRep& rep) noexcept;
    void append_connection_fields() noexcept;
    void select_host(const parser::Request& req) noexcept;
    bool allowed_by_require(const parser::Request& req) noexcept;
    std::uint64_t body_limit_for(const parser::Request& req) noexcept;
    const HostContext& host() const noexcept;
    const conf::Effective& settings() const noexcept;
    void flush() noexcept;
    void on_write(int status) noexcept;
    void after_output() noexcept;
    void start_linger() noexcept;
    bool nothing_more_to_read() noexcept;
    void on_timer() noexcept;
    void arm(Deadline kind, std::uint64_t delay_ms) noexcept;
    void update_deadline() noexcept;
    bool output_pending() const noexcept;
    std::string peer() const;
    std::uint64_t idle_timeout_ms() const noexcept;

    static void on_alloc_cb(uv_handle_t* h, size_t suggested, uv_buf_t* buf) noexcept;
    static void on_read_cb(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept;
    static void on_write_cb(uv_write_t* req, int status) noexcept;
    static void on_shutdown_cb(uv_shutdown_t* req, int status) noexcept;
    static void on_close_cb(uv_handle_t* h) noexcept;
    static void on_timer_cb(TimerEntry& entry, void* data) noexcept;

    uv_tcp_t handle_;
    Worker& worker_;
    TimerEntry timer_;
    std::unique_ptr<ConnectionBusy> busy_; // everything a request needs; null when idle
    std::uint64_t id_;
    std::array<std::uint8_t, 16> client_ip_{}; // IPv4 as ::ffff:a.b.c.d
    std::array<std::uint8_t, 16> local_ip_{};
    std::uint16_t local_port_ = 0;
    const HostContext* host_ = nullptr;         // the vhost of the current request
    const conf::Effective* settings_ = nullptr; // its effective settings (Directory/Location)
    FileRef file_;                              // the file of the current response (pinned:
                                                // settings_ may point into it)
    std::uint32_t requests_ = 0;                // requests started on this connection
    State state_ = State::reading;
    Deadline deadline_ = Deadline::none;
    CloseReason close_reason_ = CloseReason::client_closed; // valid once close_after_ is set
    bool close_after_ = false; // close (gracefully) once the output is written
    bool reading_ = false;     // uv_read_start is in effect
    bool write_in_flight_ = false;
    bool answered_ = false;       // the current message's response is already queued
    bool head_ = false;           // the request being answered is HEAD: no body
    bool expect_pending_ = false; // "Expect: 100-continue" with a body, not answered yet
    bool expect_guard_ = false;   // the body was read already: no 100 or close for Expect
    bool in_body_ = false;        // the head is complete and its body is being read
    bool status_wait_ = false;    // waiting for the workers' status snapshots
    bool dropped_input_ = false;  // input after the last answered request was dropped
};

} // namespace kahttpd::server
