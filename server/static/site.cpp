#include "server/static/site.hpp"

namespace kahttpd::server {

HostContext make_host(const conf::Config& cfg, const conf::VirtualHost& vh) {
    HostContext h;
    h.vhost = &vh;
    const auto& docroot =
        vh.document_root.value.empty() ? cfg.document_root : vh.document_root.value;
    h.root = std::make_unique<DocumentRoot>(docroot);
    h.base = vh.effective(cfg.main, docroot.native(), "/");
    h.has_sections = !cfg.main.directories.empty() || !cfg.main.locations.empty() ||
                     !vh.directories.empty() || !vh.locations.empty();
    return h;
}

} // namespace kahttpd::server
