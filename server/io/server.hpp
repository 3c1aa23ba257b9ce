#pragma once

#include "conf/config.hpp"
#include "server/obs/log.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace kahttpd::server {

/// Reads the configuration again for a reload: the new one, or nullopt with the errors in
/// `messages` (on success `messages` holds the warnings).
using ConfigLoader = std::function<std::optional<conf::Config>(std::vector<std::string>& messages)>;

/// Runs the server described by `config` until SIGINT or SIGTERM: binds every Listen address
/// (one SO_REUSEPORT socket per worker; sockets passed with LISTEN_FDS are used instead for the
/// addresses they match), starts the workers, prints one "listening on" line per address to
/// stdout, tells a service manager (sd_notify), then drains and joins them. SIGHUP reloads
/// through `reload`; SIGUSR1 reopens the log files; SIGUSR2 starts the binary again with the
/// same `argv` and the listening sockets, and hands over to it once it serves. Returns the
/// process exit code (0 on a clean stop, 1 when start-up failed). Main thread only.
int run_server(conf::Config config, ConfigLoader reload, std::vector<std::string> argv = {});

/// The error-log level for a LogLevel (the KAHTTPD_LOG_LEVEL environment variable, when set and
/// not empty, wins: a debugging override). Apache's eight levels fold into kahttpd's four.
LogLevel server_log_level(conf::LogLevel configured);

/// Sets the process-wide error log's level from the main server's LogLevel.
void apply_log_settings(const conf::Config& config);

/// Opens the main server's ErrorLog for appending, as at start and at a reload that changes
/// it: STDERR_FILENO when it names stderr (unset or /dev/stderr); -1, with "FILE:LINE:
/// ErrorLog: cannot open PATH: reason" in `err`, when it cannot be opened.
int open_error_log(const conf::Config& config, std::string& err);

/// What `kahttpd -V` prints: the version, the compiler, the library versions (libuv, llhttp,
/// zlib, Brotli) and the features built in, one per line.
std::string build_info();

/// Writes the process id to `path` (nothing when empty); failures are logged.
void write_pid_file(const std::string& path);

} // namespace kahttpd::server
