#include "server/static/site.hpp"

namespace kahttpd::server {

HostContext make_host(const conf::Config& cfg, const conf::VirtualHost& vh) {
    HostContext h;
    h.vhost = &vh;
    const auto& docroot =
        vh.document_root.value.empty() ? cfg.document_root : vh.document_root.value;
    h.root = std::make_unique<DocumentRoot>(docroot);
    h.base = vh.effective(cfg.main, h.root->full_path("", true), "/");
    auto sections = [](const conf::VirtualHost& v) {
        return !v.directories.empty() || !v.locations.empty() || !v.directory_matches.empty() ||
               !v.files.empty();
    };
    h.has_sections = sections(cfg.main) || sections(vh);
    const bool own = &vh != &cfg.main;
    const std::size_t aliases = cfg.main.url_aliases.size() + (own ? vh.url_aliases.size() : 0);
    for (std::size_t i = 0; i < aliases; ++i) {
        h.alias_roots.push_back(std::make_unique<DocumentRoot>(vh.alias_at(cfg.main, i).root));
    }
    h.encoded_slashes = vh.encoded_slashes(cfg.main);
    h.has_url_map = aliases != 0 || !cfg.main.redirects.empty() || (own && !vh.redirects.empty());
    return h;
}

} // namespace kahttpd::server
