#pragma once

#include "parser/request_parser.hpp"
#include "server/http/close_reason.hpp"
#include "server/http/response.hpp"
#include "server/io/connection_busy.hpp"
#include "server/io/listener_facts.hpp"
#include "server/obs/status_page.hpp"
#include "server/static/static_handler.hpp"
#include "server/tls/tls_session.hpp"
#include "server/util/address.hpp"
#include "server/util/intrusive_list.hpp"
#include "server/util/timer_wheel.hpp"

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace kahttpd::server {

class Worker;

/// One accepted TCP connection: the HTTP/1 transport. It reads and frames requests (through
/// the parser), asks a handler for each answer (handle_static, or the status page), serialises
/// the Response's head with append_head(), streams its body, and decides persistence, lingering
/// and deadlines. It never builds a page itself.
///
/// Ownership: heap-allocated by its Worker, not copyable or movable (libuv holds the address of
/// handle_). The only way out is close(), which calls uv_close(); the close callback adopts the
/// object into a unique_ptr and frees it. Nothing else deletes a Connection.
///
/// Phases (phase_, the one state that decides behaviour; the transitions are named after
/// nginx's and h2o's):
///
///     (RemoteIPProxyProtocol) proxy --PROXY header--> head (or handshake)
///     (Listen ... https) handshake --TLS established--> head
///     head --head complete--> answered (or body, for a chunked body answered at its end)
///     body --message complete, answered--> head
///     answered --message complete--> head
///     head|answered --status page--> awaiting --page queued--> answered|head
///     (all written, persistent) set_keepalive(): head --> idle --first byte--> head
///     (all written, closing) set_lingering_close(): --> lingering --EOF, timeout--> closing
///     any --close()--> closing
///
/// Requests are answered strictly in order; the responses to a pipelined batch accumulate in
/// the output and leave in one write. Parsing pauses (the rest of the input is stashed and
/// reading stops) while a write is in flight, a large file is streaming or an answer is
/// awaited, so unsent output stays bounded.
///
/// Thread: its worker's.
class Connection : public ListNode<Connection>, private TimerEntry {
  public:
    /// What the connection is doing; decides how input, output and deadlines are handled.
    enum class Phase : std::uint8_t {
        queued,    ///< accepted at the budget: waits in the worker's queue for a slot, unread
        proxy,     ///< waiting for the PROXY protocol header (RemoteIPProxyProtocol)
        handshake, ///< TLS: the handshake is under way (no request can arrive yet)
        head,      ///< waiting for or reading a request head
        body,      ///< reading a body that is answered at its end (chunked: its length is unknown)
        answered,  ///< the request is answered; the parser has yet to finish its message
        awaiting,  ///< a handler prepares the answer (the status page): nothing is parsed
        idle,      ///< keep-alive between requests: no busy state, the idle deadline runs
        lingering, ///< write side shut after the last response: input read and discarded
        closing,   ///< uv_close() called: nothing more happens
    };
    /// The status page's view of a connection (by_state, the connection table).
    enum class State : std::uint8_t { reading, writing, idle, lingering, closing };

    Connection(Worker& worker, std::uint64_t id) noexcept;
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection() = default;

    /// What a new connection gets (Worker::on_connection).
    enum class Admission : std::uint8_t {
        serve,  ///< a slot is free: start reading
        queue,  ///< the budget is full and nothing can make room yet: wait unread for a slot
        refuse, ///< the budget and its queue are full: accepted and closed at once
    };

    /// Accepts the pending connection of `server` and, as `admission` says, starts reading,
    /// waits for a slot, or closes at once. `tls`: the worker's TLS contexts when `server` is
    /// an https address (the connection starts with a handshake), else null. `facts`: what is
    /// known of `server`. On failure the connection closes itself (and is freed by its close
    /// callback).
    void start(uv_stream_t* server, Admission admission, const TlsContexts* tls,
               const ListenerFacts& facts) noexcept;
    /// A queued connection gets its slot (Worker::admit_queued): starts reading, with a fresh
    /// header window.
    void admit() noexcept;
    /// Waits in the worker's queue without a slot (not counted in open_connections).
    bool queued() const noexcept { return queued_; }

    /// The one teardown path: unlinks the timer, counts the reason, calls uv_close().
    void close(CloseReason reason) noexcept;

    /// Server shutdown: close when idle (after a short floor for a request already on its
    /// way), otherwise answer the request in progress with "Connection: close" and close
    /// after it.
    void on_server_drain() noexcept;

    /// The status page's label for what the connection is doing now.
    State state() const noexcept;
    /// This connection as a row of the status page's table. `now_ms`: uv_hrtime() in ms.
    ConnectionRow status_row(std::uint64_t now_ms) const;
    /// Worker::make_room(): closes this connection for a new one when it is idle keep-alive
    /// (or, with `slow_heads`, still waiting for its request head) and has been so for at
    /// least `floor_ms`. An idle one closes at once (a FIN: nothing is in flight, and one with
    /// a request already in its socket buffer is left alone); a slow head gets a 408 and a
    /// short linger. True when it closed.
    bool make_room(std::uint64_t now_ms, std::uint64_t floor_ms, bool slow_heads) noexcept;
    /// The status report this connection asked for is ready (worker thread).
    void finish_status(const StatusReport& report) noexcept;
    /// Unique in the process: generation, worker, then a counter (kept in the handle's data
    /// word).
    std::uint64_t id() const noexcept {
        return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(handle_.data));
    }

    /// Membership in the worker's list (connections_ or queued_).
    ListNode<Connection>& node() noexcept { return *this; }

  private:
    enum class Deadline : std::uint8_t { none, header, body, send, idle, linger, drain, handshake };
    /// At shutdown or reload, how long an idle connection stays open for a request already on
    /// its way (it is answered with "Connection: close").
    static constexpr std::uint64_t kDrainIdleFloorMs = 200;

    // Reading and framing.
    void start_read() noexcept;
    void read_now() noexcept;
    void set_cork(bool on) noexcept;
    /// The socket's descriptor; -1 once the handle is closing.
    int socket_fd() const noexcept;
    /// FIONREAD: bytes the kernel received that were not read yet; -1 when it cannot say.
    int unread_bytes() const noexcept;
    void on_read(ssize_t nread, const uv_buf_t* buf) noexcept;
    void on_read_error(int err) noexcept;
    void on_input(std::string_view input) noexcept;
    void consume(std::string_view input) noexcept;
    void on_proxy_input(std::string_view input) noexcept;
    bool count_client_ip() noexcept;
    void resolve_useragent(const parser::Request& req) noexcept;
    void consume_input(std::string_view input) noexcept;
    void on_parse_error() noexcept;
    bool check_head() noexcept;
    void refuse_head(parser::Status status, const char* reason, bool in_body, bool parsed) noexcept;
    void pump() noexcept;
    bool in_message() const noexcept { return busy_ && busy_->parser.in_message(); }

    // TLS (connection_tls.cpp): the handshake phase and the records on both sides.
    void start_handshake() noexcept;
    void on_tls_input(const char* data, std::size_t n) noexcept;
    void on_handshake_done() noexcept;
    void refuse_plain_http() noexcept;
    void flush_tls() noexcept;
    void send_close_notify() noexcept;
    void arm_handshake_window() noexcept;

    // Answering.
    void on_request() noexcept;
    RequestInfo request_info(bool from_request) const noexcept;
    void start_status(const parser::Request& req, bool expect_continue) noexcept;
    void emit_status() noexcept;
    void respond_error(parser::Status status) noexcept;
    void queue_response(const Response& res, bool expect_continue) noexcept;
    void queue_head(const Response& res) noexcept;
    void queue_file_body(const Response& res) noexcept;
    bool append_file_range(int fd, std::uint64_t offset, std::uint64_t length) noexcept;
    void append_connection_fields() noexcept;
    void log_access(bool parsed) noexcept;
    /// The first vhost of the connection's local address, else the main server
    /// (static_handler.hpp, default_host()): whose logs and error pages serve a request refused
    /// before a vhost is chosen. A look-up, on those rare paths only.
    const HostContext& default_host() const noexcept;
    /// The host whose logs get the current request's lines: its vhost once chosen, else the
    /// default one.
    const HostContext& log_host() const noexcept {
        const HostContext* h = host();
        return h != nullptr ? *h : default_host();
    }
    /// The vhost chosen from the current request, if any (kept in the busy state).
    const HostContext* host() const noexcept { return busy_ ? busy_->host_ : nullptr; }

    // Persistence: the one owner of the close decision and its reason.
    void close_after(CloseReason reason) noexcept;
    void close_after_framing_lost(CloseReason reason) noexcept;

    // Writing.
    bool output_pending() const noexcept;
    void flush() noexcept;
    bool refill_from_file() noexcept;
    /// out_ is all sent: the response is finished (its access-log line committed), or the
    /// next piece of its file is read into out_. True when there is more to send. Shared by
    /// flush() and flush_tls().
    bool next_out_or_finish() noexcept;
    void on_write(int status) noexcept;
    void on_send_complete() noexcept;
    void set_keepalive() noexcept;
    void set_lingering_close() noexcept;
    bool nothing_more_to_read() const noexcept;

    // Deadlines.
    void on_timer() noexcept;
    void arm(Deadline kind, std::uint64_t delay_ms) noexcept;
    void update_deadline() noexcept;
    void arm_read_window(Deadline kind, std::uint32_t elapsed_ms, std::chrono::milliseconds initial,
                         std::chrono::milliseconds max, std::uint32_t rate,
                         std::uint64_t bytes) noexcept;
    std::uint64_t header_timeout_ms() const noexcept;
    std::uint64_t handshake_timeout_ms() const noexcept;
    std::uint64_t body_timeout_ms() const noexcept;
    void time_out_head(CloseReason reason, std::uint64_t linger_ms) noexcept;
    std::uint32_t now32() const noexcept;

    /// The worker whose loop the connection's handle is on (Worker sets loop.data).
    Worker& worker() const noexcept { return *static_cast<Worker*>(handle_.loop->data); }
    /// The connection's one deadline in the worker's wheel (a base, not a member: its tail
    /// padding holds the small fields below, which idle connections count in).
    TimerEntry& timer() noexcept { return *this; }
    const TimerEntry& timer() const noexcept { return *this; }

    // Busy state: acquired from the worker's pool when needed, given back when idle.
    ConnectionBusy& busy() noexcept;
    void release_busy() noexcept;
    void apply_tcp_options() noexcept;
    std::string_view peer(char (&buf)[80]) const noexcept;
    /// The client's address and port: asked of the kernel the first time (learn_peer()).
    const IpBytes& client_ip() const noexcept {
        if (!peer_known_) {
            learn_peer();
        }
        return client_ip_;
    }
    std::uint16_t client_port() const noexcept {
        client_ip();
        return client_port_;
    }
    void learn_peer() const noexcept;
    static const IpBytes& peer_of(const void* self, std::uint16_t* port) noexcept;

    static void on_alloc_cb(uv_handle_t* h, size_t suggested, uv_buf_t* buf) noexcept;
    static void on_read_cb(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept;
    static void on_write_cb(uv_write_t* req, int status) noexcept;
    static void on_shutdown_cb(uv_shutdown_t* req, int status) noexcept;
    static void on_close_cb(uv_handle_t* h) noexcept;
    static Connection* from_handle(uv_handle_t* h) noexcept;
    static void on_timer_cb(TimerEntry& entry) noexcept;

    // Idle connections are counted in bytes (benchmarks/idle_memory.py; the goal is at most
    // 400 per idle keep-alive connection: this object in glibc's 384-byte chunk, at most 376
    // bytes, plus libuv's watcher slot). So the list and timer links are bases (no owner or
    // data pointers), the small fields come first, where they fill the TimerEntry base's tail
    // padding, the worker is found through the loop (handle_.loop->data), the id is kept in
    // handle_.data, and the vhost of the current request lives in the busy state.
    std::uint16_t local_port_ = 0;
    Phase phase_ = Phase::head;
    CloseReason close_reason_ = CloseReason::client_closed; // valid once close_after_ is set
    Deadline deadline_ : 4 = Deadline::none; // (a bitfield: it shares a byte with the flags)
    bool close_after_ : 1 = false; // close (gracefully) once the output is written
    bool reading_ : 1 = false;     // uv_read_start is in effect
    bool write_in_flight_ : 1 = false;
    bool head_ : 1 = false;          // the request being answered is HEAD: no body
    bool dropped_input_ : 1 = false; // input after the last answered request was dropped
    bool ip_counted_ : 1 = false;    // counted in ClientCounts (MaxConnectionsPerIP)
    bool queued_ : 1 = false;        // in the worker's queue, not in its budget (until freed)
    bool proxy_header_ : 1 = false;  // its first bytes must be a PROXY header (not read yet)
    bool read_full_ : 1 = false;     // the last read filled the buffer: the socket may hold more
    mutable bool peer_known_ : 1 = false; // client_ip_ and client_port_ are set (learn_peer())
    uv_tcp_t handle_;
    std::unique_ptr<ConnectionBusy> busy_; // everything a request needs; null when idle
    std::unique_ptr<TlsSession> tls_;      // https addresses only; null for plain HTTP
    mutable IpBytes client_ip_{}; // IPv4 as ::ffff:a.b.c.d; valid once peer_known_ (client_ip())
    IpBytes local_ip_{};
    mutable std::uint16_t client_port_ = 0;
    std::uint32_t requests_ = 0;   // requests started on this connection
    std::uint32_t since_ms_ = 0;   // when the current wait began (accept, idle): ms, low 32 bits
    std::uint32_t expires_ms_ = 0; // MaxKeepAliveTime: when it ends (low 32 bits); 0 = never
};

} // namespace kahttpd::server
