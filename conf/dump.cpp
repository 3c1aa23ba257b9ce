#include "conf/config.hpp"
#include "conf/detail/dir_merge.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>

namespace kahttpd::conf {

namespace {

using nlohmann::json;
using std::chrono::milliseconds;

/// How `-T` shows a built-in default.
constexpr std::string_view kDefault = "default";

json source_json(const Source& from) {
    return from.empty() ? json(kDefault) : json(from);
}

json entry(json value, const Source& from) {
    return json{{"value", std::move(value)}, {"from", source_json(from)}};
}

/// The source of a server-wide directive, "" (default) when it was not set.
const Source& server_source(const Config& c, const std::string& directive) {
    static const Source kNone;
    const auto it = c.sources.find(directive);
    return it == c.sources.end() ? kNone : it->second;
}

std::string duration_text(milliseconds d) {
    const auto ms = d.count();
    return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

/// One type of RequestReadTimeout as Apache writes it: "header=20s-40s,MinRate=500".
std::string reqtimeout_text(const char* type, milliseconds d, milliseconds max,
                            std::uint32_t rate) {
    // Built by appends: GCC 12 warns (-Wrestrict, a false positive) on "-" + std::string.
    std::string out(type);
    out.append("=").append(duration_text(d));
    if (max != milliseconds::zero()) {
        out.append("-").append(duration_text(max));
    }
    if (rate != 0) {
        out.append(",MinRate=").append(std::to_string(rate));
    }
    return out;
}

json duration_entry(milliseconds d, const Source& from) {
    json j = entry(duration_text(d), from);
    j["value_ms"] = d.count();
    return j;
}

std::string listen_text(const ListenAddr& l) {
    std::string host = l.host.empty()                          ? std::string("*")
                       : l.host.find(':') != std::string::npos ? "[" + l.host + "]"
                                                               : l.host;
    return host + ":" + std::to_string(l.port) + (l.https ? " https" : "");
}

void append_word(std::string& out, std::string_view word) {
    if (!out.empty()) {
        out += ' ';
    }
    out += word;
}

constexpr std::array<std::pair<std::uint8_t, std::string_view>, 3> kOptionNames{{
    {OptionsSpec::kIndexes, "Indexes"},
    {OptionsSpec::kFollowSymLinks, "FollowSymLinks"},
    {OptionsSpec::kSymLinksIfOwnerMatch, "SymLinksIfOwnerMatch"},
}};

std::string options_text(std::uint8_t set) {
    std::string out;
    for (const auto& [bit, name] : kOptionNames) {
        if ((set & bit) != 0) {
            append_word(out, name);
        }
    }
    return out.empty() ? "None" : out;
}

/// An Options spec as it would be written: "Indexes FollowSymLinks", "None", "+Indexes -X".
std::string options_spec_text(const OptionsSpec& spec) {
    if (spec.absolute) {
        return options_text(spec.on);
    }
    std::string out;
    for (const auto& [bit, name] : kOptionNames) {
        if ((spec.on & bit) != 0) {
            append_word(out, std::string("+").append(name));
        }
        if ((spec.off & bit) != 0) {
            append_word(out, std::string("-").append(name));
        }
    }
    return out;
}

std::string network_text(const IpNetwork& n) {
    static constexpr std::array<std::uint8_t, 12> kMapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    std::array<char, INET6_ADDRSTRLEN> buf{};
    if (n.prefix >= 96 && std::equal(kMapped.begin(), kMapped.end(), n.addr.begin())) {
        inet_ntop(AF_INET, n.addr.data() + 12, buf.data(), buf.size());
        std::string out = buf.data();
        return n.prefix == 128 ? out : out + "/" + std::to_string(n.prefix - 96);
    }
    inet_ntop(AF_INET6, n.addr.data(), buf.data(), buf.size());
    std::string out = buf.data();
    return n.prefix >= 128 ? out : out + "/" + std::to_string(n.prefix);
}

/// One string per Require line, as it would be written ("ip 10.0.0.0/8 ::1").
json require_json(const AccessRule& rule) {
    json lines = json::array();
    for (const AccessRule::Requirement& r : rule.any) {
        switch (r.kind) {
        case AccessRule::Kind::all_granted:
            lines.push_back("all granted");
            break;
        case AccessRule::Kind::all_denied:
            lines.push_back("all denied");
            break;
        case AccessRule::Kind::local:
            lines.push_back("local");
            break;
        case AccessRule::Kind::ip: {
            std::string line = "ip";
            for (const IpNetwork& n : r.networks) {
                append_word(line, network_text(n));
            }
            lines.push_back(line);
            break;
        }
        }
    }
    return lines;
}

std::string etag_text(const FileETagSpec& spec) {
    std::string out;
    if ((spec.parts & FileETagSpec::kINode) != 0) {
        append_word(out, "INode");
    }
    if ((spec.parts & FileETagSpec::kMTime) != 0) {
        append_word(out, "MTime");
    }
    if ((spec.parts & FileETagSpec::kSize) != 0) {
        append_word(out, "Size");
    }
    return out.empty() ? "None" : out;
}

std::string_view action_name(HeaderRule::Action a) {
    switch (a) {
    case HeaderRule::Action::set:
        return "set";
    case HeaderRule::Action::append:
        return "append";
    case HeaderRule::Action::merge:
        return "merge";
    case HeaderRule::Action::add:
        return "add";
    case HeaderRule::Action::unset:
        return "unset";
    }
    return "set";
}

json header_json(const HeaderRule& h) {
    json j{{"action", action_name(h.action)}, {"always", h.always}, {"name", h.name}};
    if (h.action != HeaderRule::Action::unset) {
        j["value"] = h.value;
    }
    j["from"] = source_json(h.from);
    return j;
}

json headers_json(const std::vector<HeaderRule>& headers) {
    json out = json::array();
    for (const HeaderRule& h : headers) {
        out.push_back(header_json(h));
    }
    return out;
}

std::string_view error_document_kind(ErrorDocument::Kind k) {
    switch (k) {
    case ErrorDocument::Kind::local_url:
        return "local_url";
    case ErrorDocument::Kind::redirect:
        return "redirect";
    case ErrorDocument::Kind::text:
        return "text";
    }
    return "local_url";
}

std::string handler_text(const std::string& handler) {
    return handler.empty() ? "none" : handler;
}

std::string charset_text(const std::string& charset) {
    return charset.empty() ? "Off" : charset;
}

/// OutputFilters bits as Apache writes a chain: "DEFLATE;BROTLI_COMPRESS", "" for none.
std::string filters_text(std::uint8_t filters) {
    std::string s = (filters & OutputFilters::kDeflate) != 0 ? "DEFLATE" : "";
    if ((filters & OutputFilters::kBrotli) != 0) {
        s += s.empty() ? "BROTLI_COMPRESS" : ";BROTLI_COMPRESS";
    }
    return s;
}

/// One tag per KAHTTPD_DIR_SETTINGS entry, so that a value's text may depend on its directive
/// where its type does not say enough (SetHandler's "" is "none", AddDefaultCharset's "Off").
enum class Field {
#define KAHTTPD_DIR_FIELD(member, directive, kind, init) member,
    KAHTTPD_DIR_SETTINGS(KAHTTPD_DIR_FIELD)
#undef KAHTTPD_DIR_FIELD
};
template <Field F> using FieldTag = std::integral_constant<Field, F>;

// How a value is shown: as plain JSON, except for these.
template <Field F, typename T> json value_json(FieldTag<F>, const T& value) {
    return value;
}
json value_json(FieldTag<Field::options>, const OptionsSpec& spec) {
    return options_spec_text(spec);
}
json value_json(FieldTag<Field::options>, std::uint8_t set) {
    return options_text(set);
}
json value_json(FieldTag<Field::require>, const AccessRule& rule) {
    return require_json(rule);
}
json value_json(FieldTag<Field::headers>, const std::vector<HeaderRule>& headers) {
    return headers_json(headers);
}
json value_json(FieldTag<Field::handler>, const std::string& handler) {
    return handler_text(handler);
}
json value_json(FieldTag<Field::default_charset>, const std::string& charset) {
    return charset_text(charset);
}
json value_json(FieldTag<Field::file_etag>, const FileETagSpec& spec) {
    return etag_text(spec);
}
json value_json(FieldTag<Field::output_filters_by_type>, std::uint8_t filters) {
    return filters_text(filters);
}
json value_json(FieldTag<Field::set_output_filter>, std::uint8_t filters) {
    return filters_text(filters);
}
json value_json(FieldTag<Field::expires_default>, const ExpiresSpec& e) {
    return expires_text(e);
}
json value_json(FieldTag<Field::expires_by_type>, const ExpiresSpec& e) {
    return expires_text(e);
}
json value_json(FieldTag<Field::redirect>, const SectionRedirect& r) {
    return r.status == 0 ? json(nullptr) : json{{"status", r.status}, {"url", r.target}};
}

// An effective value: as in a section, except where the default needs words.
template <Field F, typename T> json effective_value_json(FieldTag<F> field, const T& value) {
    return value_json(field, value);
}
json effective_value_json(FieldTag<Field::require>, const AccessRule& rule) {
    // No Require anywhere means every client is allowed, shown the way it would be written.
    return rule.any.empty() ? json::array({"all granted"}) : require_json(rule);
}

// A value with its source: {"value", "from"}, and an ErrorDocument's kind.
template <Field F, typename T>
json sourced_json(FieldTag<F> field, const T& value, const Source& from) {
    return entry(value_json(field, value), from);
}
json sourced_json(FieldTag<Field::error_documents>, const ErrorDocument& doc, const Source& from) {
    json j = entry(doc.target, from);
    j["kind"] = error_document_kind(doc.kind);
    return j;
}

std::string key_text(int code) {
    return std::to_string(code);
}
const std::string& key_text(const std::string& key) {
    return key;
}

// A directive set directly in one level, by merge kind; unset ones are left out, since they
// inherit.
template <Field F, typename T>
void put_set(json& j, const char* directive, FieldTag<F> field,
             const std::optional<Setting<T>>& set) {
    if (set) {
        j[directive] = sourced_json(field, set->value, set->from);
    }
}
template <Field F, typename T>
void put_set(json& j, const char* directive, FieldTag<F> field, const std::vector<T>& set) {
    if (!set.empty()) {
        j[directive] = value_json(field, set);
    }
}
template <Field F, typename K, typename V>
void put_set(json& j, const char* directive, FieldTag<F> field,
             const std::map<K, Setting<V>>& set) {
    if (set.empty()) {
        return;
    }
    json entries = json::object();
    for (const auto& [key, e] : set) {
        entries[key_text(key)] = sourced_json(field, e.value, e.from);
    }
    j[directive] = std::move(entries);
}

// An effective directive, set or default, by merge kind.
template <Field F, typename T>
void put_effective(json& j, const char* directive, FieldTag<F> field, const T& value,
                   const Source& from) {
    j[directive] = entry(effective_value_json(field, value), from);
}
template <Field F, typename T>
void put_effective(json& j, const char* directive, FieldTag<F> field, const std::vector<T>& value,
                   merge::InElements) {
    j[directive] = value_json(field, value);
}
template <Field F, typename K, typename V>
void put_effective(json& j, const char* directive, FieldTag<F> field, const std::map<K, V>& value,
                   const std::map<K, Source>& from) {
    json entries = json::object();
    for (const auto& [key, v] : value) {
        entries[key_text(key)] = sourced_json(field, v, from.at(key));
    }
    j[directive] = std::move(entries);
}

/// The directives set directly in one section (or at server/vhost level).
json dir_settings_json(const DirSettings& s) {
    json j = json::object();
#define KAHTTPD_DIR_PUT(member, directive, kind, init)                                             \
    put_set(j, directive, FieldTag<Field::member>{}, s.member);
    KAHTTPD_DIR_SETTINGS(KAHTTPD_DIR_PUT)
#undef KAHTTPD_DIR_PUT
    return j;
}

/// Effective settings plus the directive each value came from, built by the same layer walk
/// and merge as VirtualHost::effective().
struct Traced {
    Effective e;
    detail::EffectiveSources from;
};

void trace_layer(void* ctx, const DirSettings& s) {
    Traced& t = *static_cast<Traced*>(ctx);
    detail::merge_layer(t.e, s, &t.from);
}

/// Every effective directive, set or default, with its source.
json effective_json(const Traced& t) {
    json j = json::object();
#define KAHTTPD_DIR_PUT(member, directive, kind, init)                                             \
    put_effective(j, directive, FieldTag<Field::member>{}, t.e.member, t.from.member);
    KAHTTPD_DIR_SETTINGS(KAHTTPD_DIR_PUT)
#undef KAHTTPD_DIR_PUT
    return j;
}

json sections_json(const std::vector<Section>& sections) {
    json out = json::array();
    for (const Section& s : sections) {
        json j{{"path", s.match},
               {"from", source_json(s.from)},
               {"settings", dir_settings_json(s.settings)}};
        if (s.regex) {
            j["regex"] = true;
        }
        if (!s.within.empty()) {
            j["within"] = s.within;
        }
        out.push_back(std::move(j));
    }
    return out;
}

/// mod_alias's rules of one host, in the order they are tried.
json url_map_json(const VirtualHost& v) {
    json redirects = json::array();
    for (const RedirectRule& r : v.redirects) {
        json j{{"status", r.status}, {"from", source_json(r.from)}};
        j[r.regex ? "regex" : "path"] = r.regex ? r.regex.pattern() : r.url_path;
        j["url"] = r.status == 410 ? json(nullptr) : json(r.target);
        redirects.push_back(std::move(j));
    }
    json aliases = json::array();
    for (const AliasRule& a : v.url_aliases) {
        json j{{"target", a.target}, {"root", a.root}, {"from", source_json(a.from)}};
        j[a.regex ? "regex" : "path"] = a.regex ? a.regex.pattern() : a.url_path;
        aliases.push_back(std::move(j));
    }
    return json{{"redirects", std::move(redirects)}, {"aliases", std::move(aliases)}};
}

/// The main server's DocumentRoot: `main` mirrors Config::document_root, but a Config built
/// by hand may fill only the latter.
Setting<std::filesystem::path> main_document_root(const Config& c) {
    if (!c.main.document_root.value.empty()) {
        return c.main.document_root;
    }
    return {c.document_root, server_source(c, "DocumentRoot")};
}

Setting<std::string> main_server_name(const Config& c) {
    if (!c.main.server_name.value.empty()) {
        return c.main.server_name;
    }
    return {c.server_name, server_source(c, "ServerName")};
}

json string_entry(const Setting<std::string>& s) {
    return entry(s.value.empty() ? json(nullptr) : json(s.value), s.from);
}

/// mod_remoteip's settings of one host as written there (a vhost inherits what it leaves out).
json remote_ip_json(const VirtualHost& v) {
    json j = json::object();
    j["RemoteIPProxyProtocol"] =
        v.proxy_protocol ? entry(v.proxy_protocol->value, v.proxy_protocol->from) : json(nullptr);
    json exceptions = json::array();
    for (const IpNetwork& n : v.proxy_protocol_exceptions) {
        exceptions.push_back(network_text(n));
    }
    j["RemoteIPProxyProtocolExceptions"] = entry(exceptions, v.proxy_protocol_exceptions_from);
    j["RemoteIPHeader"] = string_entry(v.remote_ip_header);
    json internal = json::array(), trusted = json::array();
    for (const VirtualHost::RemoteIpProxy& p : v.remote_ip_proxies) {
        (p.internal ? internal : trusted).push_back(network_text(p.network));
    }
    j["RemoteIPInternalProxy"] = entry(internal, v.remote_ip_proxies_from);
    j["RemoteIPTrustedProxy"] = entry(trusted, v.remote_ip_proxies_from);
    return j;
}

std::string_view log_level_name(Config::LogLevel l) {
    static constexpr std::array<std::string_view, 8> kNames{"emerg", "alert",  "crit", "error",
                                                            "warn",  "notice", "info", "debug"};
    const auto i = static_cast<std::size_t>(l);
    return i < kNames.size() ? kNames[i] : "warn";
}

json custom_logs_json(const std::vector<CustomLog>& logs, bool inherited) {
    json out = json::array();
    for (const CustomLog& l : logs) {
        json j{{"target", l.target}, {"format", l.format}, {"from", source_json(l.from)}};
        if (inherited) {
            j["inherited"] = true;
        }
        out.push_back(std::move(j));
    }
    return out;
}

/// The logs a host's requests go to, as the server applies them: a <VirtualHost>'s own, or
/// the main server's marked "inherited" (a vhost with CustomLog lines of its own does not
/// write to the main server's).
void logs_json(const Config& c, const VirtualHost& v, json& j) {
    const bool is_main = &v == &c.main;
    if (!is_main && !v.error_log.value.empty()) {
        j["ErrorLog"] = entry(v.error_log.value, v.error_log.from);
    } else {
        j["ErrorLog"] =
            entry(c.error_log.empty() ? "stderr" : c.error_log, server_source(c, "ErrorLog"));
        if (!is_main) {
            j["ErrorLog"]["inherited"] = true;
        }
    }
    if (!is_main && v.log_level) {
        j["LogLevel"] = entry(log_level_name(v.log_level->value), v.log_level->from);
    } else {
        j["LogLevel"] = entry(log_level_name(c.log_level), server_source(c, "LogLevel"));
        if (!is_main) {
            j["LogLevel"]["inherited"] = true;
        }
    }
    const bool own_logs = !is_main && !v.custom_logs.empty();
    j["CustomLog"] =
        custom_logs_json(own_logs ? v.custom_logs : c.custom_logs, !is_main && !own_logs);
}

/// mod_ssl's settings of one host in force (inherited from the main server where the host
/// leaves them out, each with the line that set it; "default" otherwise).
json tls_json(const Config& c, const VirtualHost& v) {
    const TlsSettings t = &v == &c.main ? v.tls : TlsSettings::merged(c.main.tls, v.tls);
    auto opt = [](const auto& setting, json fallback) {
        return setting ? entry(json(setting->value), setting->from) : entry(fallback, "");
    };
    auto path = [](const auto& setting) {
        return setting ? entry(setting->value.string(), setting->from) : entry(nullptr, "");
    };
    json j = json::object();
    j["SSLEngine"] = opt(t.engine, false);
    j["SSLCertificateFile"] = path(t.certificate_file);
    j["SSLCertificateKeyFile"] = path(t.key_file);
    std::string protocols;
    if (t.protocols_or_default() & TlsSettings::kTls12) {
        protocols = "TLSv1.2";
    }
    if (t.protocols_or_default() & TlsSettings::kTls13) {
        protocols += protocols.empty() ? "TLSv1.3" : " TLSv1.3";
    }
    j["SSLProtocol"] = entry(protocols, t.protocols ? t.protocols->from : "");
    j["SSLCipherSuite"] = opt(t.cipher_suite, "(OpenSSL's default)");
    j["SSLCipherSuite TLSv1.3"] = opt(t.cipher_suite_tls13, "(OpenSSL's default)");
    j["SSLHonorCipherOrder"] = opt(t.honor_cipher_order, false);
    j["SSLSessionTickets"] = opt(t.session_tickets, true);
    j["SSLSessionCacheTimeout"] =
        duration_entry(t.session_cache_timeout_or_default(),
                       t.session_cache_timeout ? t.session_cache_timeout->from : "");
    return j;
}

std::string_view encoded_slashes_name(EncodedSlashes mode) {
    switch (mode) {
    case EncodedSlashes::off:
        return "Off";
    case EncodedSlashes::on:
        return "On";
    case EncodedSlashes::no_decode:
        return "NoDecode";
    }
    return "Off";
}

/// AllowEncodedSlashes in effect for `v`, marked "inherited" when it is the main server's.
json encoded_slashes_json(const Config& c, const VirtualHost& v) {
    const auto& own = v.allow_encoded_slashes;
    const auto& set = own ? own : c.main.allow_encoded_slashes;
    json j = entry(encoded_slashes_name(v.encoded_slashes(c.main)), set ? set->from : Source());
    if (!own && set && &v != &c.main) {
        j["inherited"] = true;
    }
    return j;
}

json vhost_json(const Config& c, const VirtualHost& v) {
    const bool is_main = &v == &c.main;
    json j = json::object();
    if (is_main) {
        j["name"] = "main server";
    } else {
        std::string name = "<VirtualHost";
        for (const std::string& a : v.addresses) {
            name += ' ';
            name += a;
        }
        j["name"] = name + ">";
        j["from"] = source_json(v.from);
        j["addresses"] = v.addresses;
    }
    j["ServerName"] = string_entry(is_main ? main_server_name(c) : v.server_name);
    json aliases = json::array();
    for (const Setting<std::string>& a : v.aliases) {
        aliases.push_back(entry(a.value, a.from));
    }
    j["ServerAlias"] = std::move(aliases);
    j["ServerAdmin"] = string_entry(v.server_admin);

    // A vhost without DocumentRoot serves the main server's, as in Apache.
    Setting<std::filesystem::path> root = is_main ? main_document_root(c) : v.document_root;
    const bool inherited = !is_main && root.value.empty();
    if (inherited) {
        root = main_document_root(c);
    }
    j["DocumentRoot"] = entry(root.value.string(), root.from);
    if (inherited) {
        j["DocumentRoot"]["inherited"] = true;
    }

    j["AllowEncodedSlashes"] = encoded_slashes_json(c, v);
    j["remoteip"] = remote_ip_json(v);
    logs_json(c, v, j);
    j["ssl"] = tls_json(c, v);

    j["base"] = dir_settings_json(v.base);
    Traced traced;
    // As a request for "/": the folder itself, so <Files> sees no file name.
    std::string folder = root.value.native();
    if (!folder.ends_with('/')) {
        folder.push_back('/');
    }
    detail::visit_layers(c.main, v, folder, "/", &trace_layer, &traced);
    j["effective_at_root"] = effective_json(traced);
    j["directories"] = sections_json(v.directories);
    j["directory_matches"] = sections_json(v.directory_matches);
    j["files"] = sections_json(v.files);
    j["locations"] = sections_json(v.locations);
    j["alias"] = url_map_json(v);
    return j;
}

std::string_view server_tokens_name(Config::ServerTokens t) {
    switch (t) {
    case Config::ServerTokens::prod:
        return "Prod";
    case Config::ServerTokens::major:
        return "Major";
    case Config::ServerTokens::minor:
        return "Minor";
    case Config::ServerTokens::min:
        return "Min";
    case Config::ServerTokens::os:
        return "OS";
    case Config::ServerTokens::full:
        return "Full";
    }
    return "Full";
}

std::string_view server_signature_name(Config::ServerSignature s) {
    switch (s) {
    case Config::ServerSignature::off:
        return "Off";
    case Config::ServerSignature::on:
        return "On";
    case Config::ServerSignature::email:
        return "EMail";
    }
    return "Off";
}

json server_json(const Config& c) {
    const auto src = [&c](const std::string& directive) -> const Source& {
        return server_source(c, directive);
    };
    json s = json::object();
    s["ServerRoot"] = entry(c.server_root.string(), src("ServerRoot"));
    json listen = json::array();
    for (const ListenAddr& l : c.listen) {
        listen.push_back(entry(listen_text(l), l.where));
    }
    s["Listen"] = std::move(listen);
    s["KeepAlive"] = entry(c.keep_alive, src("KeepAlive"));
    s["KeepAliveTimeout"] = duration_entry(c.keep_alive_timeout, src("KeepAliveTimeout"));
    s["MaxKeepAliveRequests"] = entry(c.max_keep_alive_requests, src("MaxKeepAliveRequests"));
    s["KeepAliveMinTimeout"] = duration_entry(c.keep_alive_min_timeout, src("KeepAliveMinTimeout"));
    s["MaxKeepAliveTime"] = json{{"value", duration_text(c.max_keep_alive_time) + " " +
                                               std::to_string(c.max_keep_alive_time_jitter) + "%"},
                                 {"ms", c.max_keep_alive_time.count()},
                                 {"jitter_percent", c.max_keep_alive_time_jitter},
                                 {"from", source_json(src("MaxKeepAliveTime"))}};
    s["Timeout"] = duration_entry(c.timeout, src("Timeout"));
    s["RequestReadTimeout"] = json{
        {"value",
         (c.request_read_timeout_handshake.count() == 0
              ? std::string()
              : reqtimeout_text("handshake", c.request_read_timeout_handshake,
                                c.request_read_timeout_handshake_max,
                                c.request_read_timeout_handshake_min_rate) +
                    " ") +
             reqtimeout_text("header", c.request_read_timeout_header, c.request_read_timeout_header_max,
                         c.request_read_timeout_header_min_rate) +
             " " +
             reqtimeout_text("body", c.request_read_timeout_body, c.request_read_timeout_body_max,
                             c.request_read_timeout_body_min_rate)},
        {"header_max_ms", c.request_read_timeout_header_max.count()},
        {"header_min_rate", c.request_read_timeout_header_min_rate},
        {"body_max_ms", c.request_read_timeout_body_max.count()},
        {"body_min_rate", c.request_read_timeout_body_min_rate},
        {"handshake_ms", c.request_read_timeout_handshake.count()},
        {"handshake_max_ms", c.request_read_timeout_handshake_max.count()},
        {"handshake_min_rate", c.request_read_timeout_handshake_min_rate},
        {"header_ms", c.request_read_timeout_header.count()},
        {"body_ms", c.request_read_timeout_body.count()},
        {"from", source_json(src("RequestReadTimeout"))}};
    s["LimitRequestLine"] = entry(c.limit_request_line, src("LimitRequestLine"));
    s["LimitRequestFieldSize"] = entry(c.limit_request_field_size, src("LimitRequestFieldSize"));
    s["LimitRequestFields"] = entry(c.limit_request_fields, src("LimitRequestFields"));
    s["LimitRequestBody"] = entry(c.limit_request_body, src("LimitRequestBody"));
    s["TypesConfig"] = entry(c.types_config.string(), src("TypesConfig"));
    s["Workers"] = entry(c.workers == 0 ? json("auto") : json(c.workers), src("Workers"));
    s["MaxConnections"] = entry(c.max_connections, src("MaxConnections"));
    s["MaxConnectionsPerIP"] = entry(c.max_connections_per_ip, src("MaxConnectionsPerIP"));
    s["TCPKeepAlive"] = entry(c.tcp_keepalive, src("TCPKeepAlive"));
    s["TCPKeepAliveIdle"] = entry(c.tcp_keepalive_idle.count(), src("TCPKeepAliveIdle"));
    s["TCPKeepAliveInterval"] =
        entry(c.tcp_keepalive_interval.count(), src("TCPKeepAliveInterval"));
    s["TCPKeepAliveCount"] = entry(c.tcp_keepalive_count, src("TCPKeepAliveCount"));
    s["TCPUserTimeout"] = duration_entry(c.tcp_user_timeout, src("TCPUserTimeout"));
    s["AcceptFilter"] = json{{"http", c.accept_filter_http ? "data" : "none"},
                             {"https", c.accept_filter_https ? "data" : "none"},
                             {"from", source_json(src("AcceptFilter"))}};
    s["GracefulShutdownTimeout"] =
        duration_entry(c.graceful_shutdown_timeout, src("GracefulShutdownTimeout"));
    s["GracefulShutdownDelay"] =
        duration_entry(c.graceful_shutdown_delay, src("GracefulShutdownDelay"));
    s["FileCacheSize"] = entry(c.file_cache_size, src("FileCacheSize"));
    s["FileCacheEntries"] = entry(c.file_cache_entries, src("FileCacheEntries"));
    s["FileCacheValid"] = duration_entry(c.file_cache_valid, src("FileCacheValid"));
    s["ServerTokens"] = entry(server_tokens_name(c.server_tokens), src("ServerTokens"));
    s["ServerSignature"] = entry(server_signature_name(c.server_signature), src("ServerSignature"));
    s["PidFile"] =
        entry(c.pid_file.empty() ? json(nullptr) : json(c.pid_file.string()), src("PidFile"));
    const auto account = [](const std::optional<Config::Account>& a) {
        return a ? json{{"name", a->name}, {"id", a->id}} : json(nullptr);
    };
    s["User"] = entry(account(c.user), src("User"));
    s["Group"] = entry(account(c.group), src("Group"));
    s["ErrorLog"] = entry(c.error_log.empty() ? "stderr" : c.error_log, src("ErrorLog"));
    s["LogLevel"] = entry(log_level_name(c.log_level), src("LogLevel"));
    s["LogFormat"] = entry(c.log_formats, src("LogFormat"));
    s["CustomLog"] = custom_logs_json(c.custom_logs, false);
    s["Define"] = entry(c.defines, src("Define"));
    return s;
}

/// "(file:line)" after a vhost in the -S map.
std::string vhost_line_end(const VirtualHost& v) {
    return " (" + v.from + ")\n";
}

/// The -S lines under a vhost that has logs of its own (apachectl -S shows none; these show
/// where a vhost's lines go instead of the main server's).
std::string vhost_log_lines(const VirtualHost& v) {
    const std::string indent(17, ' ');
    std::string out;
    if (!v.error_log.value.empty()) {
        out += indent + "ErrorLog: \"" + v.error_log.value + "\"\n";
    }
    if (v.log_level) {
        out += indent + "LogLevel: " + std::string(log_level_name(v.log_level->value)) + "\n";
    }
    for (const CustomLog& l : v.custom_logs) {
        out += indent + "CustomLog: \"" + l.target + "\"\n";
    }
    return out;
}

std::string pad_address(const std::string& address) {
    // apachectl -S prints the address left-aligned in 22 columns, then a space.
    std::string out = address;
    if (out.size() < 22) {
        out.append(22 - out.size(), ' ');
    }
    return out + ' ';
}

} // namespace

json dump_json(const Config& config) {
    json j = json::object();
    j["config_file"] = config.config_file.string();
    j["server_root"] = config.server_root.string();
    j["server"] = server_json(config);
    json vhosts = json::array();
    vhosts.push_back(vhost_json(config, config.main));
    for (const VirtualHost& v : config.vhosts) {
        vhosts.push_back(vhost_json(config, v));
    }
    j["vhosts"] = std::move(vhosts);
    return j;
}

std::string dump_json_text(const Config& config) {
    // nlohmann::json throws type_error 316 for invalid UTF-8 with the default handler, which
    // left kahttpd -T in std::terminate; `replace` writes U+FFFD instead.
    return dump_json(config).dump(2, ' ', false, json::error_handler_t::replace);
}

std::string vhost_map(const Config& config) {
    // A vhost without ServerName takes the main server's, as in Apache.
    const std::string main_name = main_server_name(config).value;
    const auto name_of = [&main_name](const VirtualHost& v) -> std::string {
        if (!v.server_name.value.empty()) {
            return v.server_name.value;
        }
        return main_name.empty() ? "(no ServerName)" : main_name;
    };

    // Vhosts grouped by address as written, groups in order of first appearance. A vhost
    // appears once per address it lists.
    struct Member {
        const VirtualHost* vhost;
        std::uint16_t port;
    };
    std::vector<std::pair<std::string, std::vector<Member>>> groups;
    for (const VirtualHost& v : config.vhosts) {
        for (std::size_t i = 0; i < v.addresses.size(); ++i) {
            const std::uint16_t port =
                i < v.parsed_addresses.size() ? v.parsed_addresses[i].port : 0;
            auto it = std::find_if(groups.begin(), groups.end(),
                                   [&](const auto& g) { return g.first == v.addresses[i]; });
            if (it == groups.end()) {
                groups.push_back({v.addresses[i], {}});
                it = std::prev(groups.end());
            }
            it->second.push_back({&v, port});
        }
    }

    std::string out = "VirtualHost configuration:\n";
    const std::string indent8(8, ' ');
    const std::string indent16(16, ' ');
    for (const auto& [address, members] : groups) {
        if (members.size() == 1) {
            const VirtualHost& v = *members.front().vhost;
            out += pad_address(address) + name_of(v) + vhost_line_end(v) + vhost_log_lines(v);
            continue;
        }
        const VirtualHost& first = *members.front().vhost;
        out += pad_address(address) + "is a NameVirtualHost\n";
        out += indent8 + " default server " + name_of(first) + vhost_line_end(first);
        for (const Member& m : members) {
            const std::string port = m.port == 0 ? "*" : std::to_string(m.port);
            out += indent8 + " port " + port + " namevhost " + name_of(*m.vhost) +
                   vhost_line_end(*m.vhost);
            for (const Setting<std::string>& alias : m.vhost->aliases) {
                const bool wild = alias.value.find_first_of("*?") != std::string::npos;
                out += indent16 + (wild ? " wild alias " : " alias ") + alias.value + "\n";
            }
            out += vhost_log_lines(*m.vhost);
        }
    }

    // kahttpd's own lines: which addresses speak TLS, and each host's certificate there.
    for (const ListenAddr& l : config.listen) {
        if (l.https) {
            out += "Listen: " + listen_text(l) + " (" + l.where + ")\n";
        }
    }
    if (config.tls_anywhere()) {
        auto tls_line = [&](const VirtualHost& v) {
            const TlsSettings t =
                &v == &config.main ? v.tls : TlsSettings::merged(config.main.tls, v.tls);
            if (!t.certificate_file) {
                return;
            }
            const std::uint8_t p = t.protocols_or_default();
            out += "SSL: " + name_of(v) + " certificate \"" + t.certificate_file->value.string() +
                   "\" protocols" + (p & TlsSettings::kTls12 ? " TLSv1.2" : "") +
                   (p & TlsSettings::kTls13 ? " TLSv1.3" : "") + " tickets " +
                   (t.session_tickets_or_default() ? "on" : "off") + "\n";
        };
        tls_line(config.main);
        for (const VirtualHost& v : config.vhosts) {
            tls_line(v);
        }
    }
    out += "ServerRoot: \"" + config.server_root.string() + "\"\n";
    out += "Main DocumentRoot: \"" + main_document_root(config).value.string() + "\"\n";
    out += config.error_log.empty() ? std::string("Main ErrorLog: stderr\n")
                                    : "Main ErrorLog: \"" + config.error_log + "\"\n";
    out += config.pid_file.empty() ? std::string("PidFile: none\n")
                                   : "PidFile: \"" + config.pid_file.string() + "\"\n";
    // As apache2 -S prints them, when set.
    for (const auto& [what, account] :
         {std::pair{"User", &config.user}, std::pair{"Group", &config.group}}) {
        if (*account) {
            out += std::string(what) + ": name=\"" + (*account)->name + "\" id=" +
                   std::to_string((*account)->id) + "\n";
        }
    }
    for (const auto& [name, value] : config.defines) {
        out += "Define: " + name + (value.empty() ? "" : "=" + value) + "\n";
    }
    return out;
}

bool builtin_module(std::string_view name) noexcept {
    // Apache names a module by its source file ("mod_mime.c") or its identifier
    // ("mime_module"); <IfModule> takes either, case-sensitively. These are the modules
    // whose features kahttpd has built in. mod_autoindex (kahttpd's own listing for Options
    // Indexes takes none of its directives, and <IfModule mod_autoindex.c> blocks hold them) and
    // mod_setenvif, among others, are deliberately absent.
    static constexpr auto kModules = std::to_array<std::string_view>({
        "core.c",           "core_module",       // core
        "http_core.c",      "http_module",       // HTTP/1.1 protocol
        "mod_so.c",         "so_module",         // LoadModule (accepted, no-op)
        "mod_mime.c",       "mime_module",       // TypesConfig, AddType, AddCharset, AddEncoding
        "mod_dir.c",        "dir_module",        // DirectoryIndex
        "mod_headers.c",    "headers_module",    // Header
        "mod_alias.c",      "alias_module",      // Alias, Redirect and their Match forms
        "mod_expires.c",    "expires_module",    // ExpiresActive, ExpiresDefault, ExpiresByType
        "mod_authz_core.c", "authz_core_module", // Require all
        "mod_authz_host.c", "authz_host_module", // Require ip, Require local
        "mod_log_config.c", "log_config_module", // LogFormat, CustomLog
        "mod_reqtimeout.c", "reqtimeout_module", // RequestReadTimeout
        "mod_remoteip.c",   "remoteip_module",   // RemoteIPHeader, RemoteIPProxyProtocol
        "mod_status.c",     "status_module",     // SetHandler server-status
        "mod_filter.c",     "filter_module",     // AddOutputFilterByType
        "mod_deflate.c",    "deflate_module",    // DEFLATE, DeflateCompressionLevel
        "mod_brotli.c",     "brotli_module",     // BROTLI_COMPRESS, BrotliCompressionQuality
        "mod_unixd.c",      "unixd_module",      // the Unix process model
        "mod_ssl.c",        "ssl_module",        // SSLEngine, SSLCertificateFile ... (TLS)
        "event.c",          "mpm_event_module",  // event-driven workers
    });
    return std::find(kModules.begin(), kModules.end(), name) != kModules.end();
}

} // namespace kahttpd::conf
