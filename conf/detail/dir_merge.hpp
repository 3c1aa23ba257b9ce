#pragma once

#include "conf/sections.hpp"

#include <string_view>

namespace kahttpd::conf::detail {

// The merge of per-directory settings, generated from KAHTTPD_DIR_SETTINGS. Shared by
// VirtualHost::effective() (sections.cpp), which ignores sources, and the `-T` dump (dump.cpp),
// which reports them. Pure functions, no shared state.

/// Where each effective value came from ("" = the default), one member per KAHTTPD_DIR_SETTINGS
/// entry.
struct EffectiveSources {
#define KAHTTPD_DIR_MEMBER(member, directive, kind, init) kind::source member;
    KAHTTPD_DIR_SETTINGS(KAHTTPD_DIR_MEMBER)
#undef KAHTTPD_DIR_MEMBER
};

template <typename T>
void merge_one(merge::Replace<T>, T& value, const std::optional<Setting<T>>& set, Source* from) {
    if (set) {
        value = set->value;
        if (from != nullptr) {
            *from = set->from;
        }
    }
}

inline void merge_one(merge::Options, std::uint8_t& value,
                      const std::optional<Setting<OptionsSpec>>& set, Source* from) {
    if (set) {
        value = set->value.apply(value);
        if (from != nullptr) {
            *from = set->from;
        }
    }
}

template <typename T>
void merge_one(merge::Append<T>, std::vector<T>& value, const std::vector<T>& set,
               merge::InElements*) {
    value.insert(value.end(), set.begin(), set.end());
}

template <typename K, typename V>
void merge_one(merge::PerKey<K, V>, std::map<K, V>& value, const std::map<K, Setting<V>>& set,
               std::map<K, Source>* from) {
    for (const auto& [key, entry] : set) {
        value[key] = entry.value;
        if (from != nullptr) {
            (*from)[key] = entry.from;
        }
    }
}

/// Applies one level's settings over `e`; records their sources in `from` unless it is null.
inline void merge_layer(Effective& e, const DirSettings& s, EffectiveSources* from) {
#define KAHTTPD_DIR_MERGE(member, directive, kind, init)                                           \
    merge_one(kind{}, e.member, s.member, from != nullptr ? &from->member : nullptr);
    KAHTTPD_DIR_SETTINGS(KAHTTPD_DIR_MERGE)
#undef KAHTTPD_DIR_MERGE
}

/// Number of non-empty segments: "/" is 0, "/srv" is 1, "/srv/www" is 2. <Directory> sections
/// merge in this order, shallow first, as Apache's. Defined in sections.cpp.
std::size_t path_depth(std::string_view path) noexcept;

/// Calls `visit(ctx, settings)` for every DirSettings that applies to a request for
/// `fs_path`/`url_path` on `vhost`, in merge order (see VirtualHost::effective). Defined in
/// sections.cpp.
void visit_layers(const VirtualHost& main, const VirtualHost& vhost, std::string_view fs_path,
                  std::string_view url_path, void (*visit)(void*, const DirSettings&), void* ctx);

} // namespace kahttpd::conf::detail
