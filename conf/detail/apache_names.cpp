#include "conf/detail/apache_names.hpp"

#include "parser/text.hpp"

#include <algorithm>
#include <array>

namespace kahttpd::conf::detail {

namespace {

struct Entry {
    std::string_view name;
    std::string_view hint;
};

constexpr std::string_view kUseRequire =
    "use Require all granted|denied, Require ip or Require local";
constexpr std::string_view kNoHtaccess = "kahttpd reads no .htaccess files";
constexpr std::string_view kNoTls =
    "kahttpd's TLS takes SSLEngine, SSLCertificateFile, SSLCertificateKeyFile, SSLProtocol, "
    "SSLCipherSuite, SSLHonorCipherOrder, SSLSessionTickets and SSLSessionCacheTimeout";
constexpr std::string_view kMpm = "kahttpd runs one event loop per worker; use Workers and "
                                  "MaxConnections";
constexpr std::string_view kNoCgi = "kahttpd serves static files only";
constexpr std::string_view kWholeFiles = "kahttpd compresses each file whole, once per version";

// The directives of Apache httpd 2.4 that configurations commonly carry (core, the MPMs and
// the modules of a stock build), minus those kahttpd implements. Knowing them lets a stock
// Apache snippet fail with "not supported" rather than "unknown directive", and keeps the
// "did you mean" suggestion from turning RewriteRule into something kahttpd has.
constexpr std::array kDirectives{
    // core
    Entry{"AcceptPathInfo", ""},
    Entry{"AccessFileName", kNoHtaccess},
    Entry{"AllowOverride", kNoHtaccess},
    Entry{"AllowOverrideList", kNoHtaccess},
    Entry{"CGIMapExtension", kNoCgi},
    Entry{"CGIPassAuth", kNoCgi},
    Entry{"CGIVar", kNoCgi},
    Entry{"ContentDigest", ""},
    Entry{"DefaultRuntimeDir", ""},
    Entry{"DefaultType", "use AddType"},
    Entry{"EnableMMAP", ""},
    Entry{"Error", ""},
    Entry{"ErrorLogFormat", ""},
    Entry{"ExtendedStatus", ""},
    Entry{"HostnameLookups", "kahttpd never resolves client addresses"},
    Entry{"HttpProtocolOptions", ""},
    Entry{"LimitInternalRecursion", ""},
    Entry{"LimitXMLRequestBody", ""},
    Entry{"MaxRangeOverlaps", ""},
    Entry{"MaxRangeReversals", ""},
    Entry{"MergeSlashes", ""},
    Entry{"MergeTrailers", ""},
    Entry{"Mutex", ""},
    Entry{"Protocol", ""},
    Entry{"Protocols", "kahttpd speaks HTTP/1.1 only"},
    Entry{"ProtocolsHonorOrder", "kahttpd speaks HTTP/1.1 only"},
    Entry{"QualifyRedirectURL", ""},
    Entry{"RegisterHttpMethod", ""},
    Entry{"RLimitCPU", ""},
    Entry{"RLimitMEM", ""},
    Entry{"RLimitNPROC", ""},
    Entry{"ScriptInterpreterSource", kNoCgi},
    Entry{"SeeRequestTail", ""},
    Entry{"ServerPath", ""},
    Entry{"SetInputFilter", ""},
    Entry{"TraceEnable", ""},
    Entry{"UseCanonicalName", ""},
    Entry{"UseCanonicalPhysicalPort", ""},
    // MPMs and process management (mpm_common, event, worker, prefork, unixd)
    Entry{"AsyncRequestWorkerFactor", kMpm},
    Entry{"ChrootDir", ""},
    Entry{"CoreDumpDirectory", ""},
    Entry{"EnableExceptionHook", ""},
    Entry{"ListenBacklog", ""},
    Entry{"ListenCoresBucketsRatio", ""},
    Entry{"MaxClients", "use MaxConnections"},
    Entry{"MaxConnectionsPerChild", kMpm},
    Entry{"MaxMemFree", ""},
    Entry{"MaxRequestsPerChild", kMpm},
    Entry{"MaxRequestWorkers", "use MaxConnections"},
    Entry{"MaxSpareServers", kMpm},
    Entry{"MaxSpareThreads", kMpm},
    Entry{"MinSpareServers", kMpm},
    Entry{"MinSpareThreads", kMpm},
    Entry{"ReceiveBufferSize", ""},
    Entry{"ScoreBoardFile", ""},
    Entry{"SendBufferSize", ""},
    Entry{"ServerLimit", kMpm},
    Entry{"StartServers", kMpm},
    Entry{"StartThreads", kMpm},
    Entry{"Suexec", ""},
    Entry{"ThreadLimit", kMpm},
    Entry{"ThreadsPerChild", kMpm},
    Entry{"ThreadStackSize", ""},
    // mod_so
    Entry{"LoadFile", ""},
    // mod_access_compat, mod_auth*, mod_authn*, mod_authz*
    Entry{"Allow", kUseRequire},
    Entry{"Deny", kUseRequire},
    Entry{"Order", kUseRequire},
    Entry{"Satisfy", kUseRequire},
    Entry{"AuthBasicProvider", ""},
    Entry{"AuthDigestProvider", ""},
    Entry{"AuthGroupFile", ""},
    Entry{"AuthMerging", ""},
    Entry{"AuthName", ""},
    Entry{"AuthType", ""},
    Entry{"AuthUserFile", ""},
    Entry{"AuthzSendForbiddenOnFailure", ""},
    // mod_rewrite
    Entry{"RewriteBase", ""},
    Entry{"RewriteCond", ""},
    Entry{"RewriteEngine", ""},
    Entry{"RewriteMap", ""},
    Entry{"RewriteOptions", ""},
    Entry{"RewriteRule", ""},
    // mod_alias (Alias and Redirect are kahttpd's)
    Entry{"ScriptAlias", kNoCgi},
    Entry{"ScriptAliasMatch", kNoCgi},
    // mod_proxy and friends
    Entry{"BalancerMember", ""},
    Entry{"ProxyAddHeaders", ""},
    Entry{"ProxyErrorOverride", ""},
    Entry{"ProxyPass", ""},
    Entry{"ProxyPassMatch", ""},
    Entry{"ProxyPassReverse", ""},
    Entry{"ProxyPassReverseCookieDomain", ""},
    Entry{"ProxyPassReverseCookiePath", ""},
    Entry{"ProxyPreserveHost", ""},
    Entry{"ProxyRequests", ""},
    Entry{"ProxySet", ""},
    Entry{"ProxyTimeout", ""},
    Entry{"ProxyVia", ""},
    // mod_ssl
    Entry{"SSLCACertificateFile", kNoTls},
    Entry{"SSLCACertificatePath", kNoTls},
    Entry{"SSLCertificateChainFile", kNoTls},
    Entry{"SSLCompression", kNoTls},
    Entry{"SSLOptions", kNoTls},
    Entry{"SSLPassPhraseDialog", kNoTls},
    Entry{"SSLProxyEngine", kNoTls},
    Entry{"SSLRandomSeed", kNoTls},
    Entry{"SSLSessionCache", kNoTls},
    Entry{"SSLStaplingCache", kNoTls},
    Entry{"SSLUseStapling", kNoTls},
    Entry{"SSLVerifyClient", kNoTls},
    Entry{"SSLVerifyDepth", kNoTls},
    // mod_dir
    Entry{"DirectoryCheckHandler", ""},
    Entry{"DirectoryIndexRedirect", ""},
    Entry{"DirectorySlash", ""},
    Entry{"FallbackResource", ""},
    // mod_autoindex
    Entry{"AddAlt", ""},
    Entry{"AddAltByEncoding", ""},
    Entry{"AddAltByType", ""},
    Entry{"AddDescription", ""},
    Entry{"AddIcon", ""},
    Entry{"AddIconByEncoding", ""},
    Entry{"AddIconByType", ""},
    Entry{"DefaultIcon", ""},
    Entry{"HeaderName", ""},
    Entry{"IndexHeadInsert", ""},
    Entry{"IndexIgnore", ""},
    Entry{"IndexIgnoreReset", ""},
    Entry{"IndexOptions", ""},
    Entry{"IndexOrderDefault", ""},
    Entry{"IndexStyleSheet", ""},
    Entry{"ReadmeName", ""},
    // mod_mime, mod_mime_magic, mod_negotiation
    Entry{"AddHandler", "use SetHandler"},
    Entry{"AddInputFilter", ""},
    Entry{"AddLanguage", ""},
    Entry{"AddOutputFilter", ""},
    Entry{"DefaultLanguage", ""},
    Entry{"MimeMagicFile", ""},
    Entry{"ModMimeUsePathInfo", ""},
    Entry{"MultiviewsMatch", ""},
    Entry{"CacheNegotiatedDocs", ""},
    Entry{"ForceLanguagePriority", ""},
    Entry{"LanguagePriority", ""},
    // mod_filter, mod_deflate, mod_brotli (mod_expires is kahttpd's)
    Entry{"FilterChain", ""},
    Entry{"FilterDeclare", ""},
    Entry{"FilterProvider", ""},
    Entry{"DeflateBufferSize", kWholeFiles},
    Entry{"DeflateMemLevel", kWholeFiles},
    Entry{"DeflateWindowSize", kWholeFiles},
    Entry{"DeflateAlterETag", "kahttpd always adds -gzip or -br to the ETag"},
    Entry{"DeflateFilterNote", ""},
    Entry{"DeflateInflateLimitRequestBody", ""},
    Entry{"DeflateInflateRatioBurst", ""},
    Entry{"DeflateInflateRatioLimit", ""},
    Entry{"BrotliAlterETag", "kahttpd always adds -gzip or -br to the ETag"},
    Entry{"BrotliCompressionMaxInputBlock", kWholeFiles},
    Entry{"BrotliCompressionWindow", kWholeFiles},
    Entry{"BrotliFilterNote", ""},
    // mod_cgi, mod_actions, mod_include, mod_userdir, mod_speling
    Entry{"Action", kNoCgi},
    Entry{"Script", kNoCgi},
    Entry{"ScriptLog", kNoCgi},
    Entry{"ScriptLogBuffer", kNoCgi},
    Entry{"ScriptLogLength", kNoCgi},
    Entry{"ScriptSock", kNoCgi},
    Entry{"SSIErrorMsg", ""},
    Entry{"XBitHack", ""},
    Entry{"UserDir", ""},
    Entry{"CheckCaseOnly", ""},
    Entry{"CheckSpelling", ""},
    // mod_log_config
    Entry{"BufferedLogs", ""},
    Entry{"GlobalLog", "use CustomLog"},
    Entry{"TransferLog", "use CustomLog"},
    // mod_env, mod_setenvif, mod_headers, mod_remoteip
    Entry{"BrowserMatch", ""},
    Entry{"BrowserMatchNoCase", ""},
    Entry{"PassEnv", ""},
    Entry{"SetEnv", ""},
    Entry{"SetEnvIf", ""},
    Entry{"SetEnvIfExpr", ""},
    Entry{"SetEnvIfNoCase", ""},
    Entry{"UnsetEnv", ""},
    Entry{"RequestHeader", ""},
    Entry{"RemoteIPInternalProxyList", "list the proxies with RemoteIPInternalProxy"},
    Entry{"RemoteIPTrustedProxyList", "list the proxies with RemoteIPTrustedProxy"},
    Entry{"RemoteIPProxiesHeader", ""},
    // mod_cache, mod_dav, mod_info, mod_macro, mod_substitute, mod_php
    Entry{"CacheDisable", ""},
    Entry{"CacheEnable", ""},
    Entry{"CacheRoot", ""},
    Entry{"Dav", ""},
    Entry{"DavLockDB", ""},
    Entry{"AddModuleInfo", ""},
    Entry{"UndefMacro", ""},
    Entry{"Use", ""},
    Entry{"Substitute", ""},
    Entry{"php_admin_flag", kNoCgi},
    Entry{"php_admin_value", kNoCgi},
    Entry{"php_flag", kNoCgi},
    Entry{"php_value", kNoCgi},
};

constexpr std::array kSections{
    Entry{"AuthnProviderAlias", ""},
    Entry{"AuthzProviderAlias", ""},
    Entry{"Else", ""},
    Entry{"ElseIf", ""},
    Entry{"If", ""},
    Entry{"IfDirective", ""},
    Entry{"IfFile", ""},
    Entry{"IfSection", ""},
    Entry{"IfVersion", ""},
    Entry{"Limit", ""},
    Entry{"LimitExcept", ""},
    Entry{"Macro", ""},
    Entry{"MDomainSet", ""},
    Entry{"Proxy", ""},
    Entry{"ProxyMatch", ""},
    Entry{"RequireAll", "several Require lines in one section already mean any of them"},
    Entry{"RequireAny", "several Require lines in one section already mean any of them"},
    Entry{"RequireNone", ""},
};

using text::iequals;

template <std::size_t N>
std::optional<std::string_view> find(const std::array<Entry, N>& table,
                                     std::string_view name) noexcept {
    for (const Entry& e : table) {
        if (iequals(e.name, name)) {
            return e.hint;
        }
    }
    return std::nullopt;
}

} // namespace

std::optional<std::string_view> unsupported_directive(std::string_view name) noexcept {
    return find(kDirectives, name);
}

std::optional<std::string_view> unsupported_section(std::string_view name) noexcept {
    return find(kSections, name);
}

} // namespace kahttpd::conf::detail
