#pragma once

#include "conf/config.hpp"

namespace kahttpd::server {

/// Runs the server described by `config` until SIGINT or SIGTERM: binds every Listen address
/// (one SO_REUSEPORT socket per worker), starts the workers, prints one "listening on" line per
/// address to stdout, then drains and joins them. Returns the process exit code (0 on a clean
/// stop, 1 when start-up failed). Main thread only.
int run_server(const conf::Config& config);

} // namespace kahttpd::server
