#pragma once

// User and Group (conf/directives/process.cpp): the switch from root to the configured
// account, once the listening sockets are bound and the logs are open, before any worker
// starts. Apache's mod_unixd does the same in each child; kahttpd has one process, so the
// switch is for good: a reload or a SIGUSR1 reopen runs as the user from then on.

#include "conf/config.hpp"

#include <string>
#include <vector>

namespace kahttpd::server {

/// Switches to config.user and config.group when the process runs as root: the log files in
/// `log_paths` that are regular files are handed to the account first (so that the server can
/// reopen them at SIGUSR1 and a reload, as nginx does with its logs), then initgroups (or
/// setgroups for a #uid), setgid, setuid, and a check that root cannot be regained. Without
/// a User, or when not started as root, nothing changes (a warning says so when the account
/// differs). Returns "" or what failed.
std::string drop_privileges(const conf::Config& config, const std::vector<std::string>& log_paths);

/// The warning a reload gives when its User or Group is not what the process runs as: the
/// switch happens only at start. "" when they match or are not set.
std::string account_change_warning(const conf::Config& config);

} // namespace kahttpd::server
