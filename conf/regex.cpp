#include "conf/regex.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace kahttpd::conf {

struct Regex::Code {
    pcre2_code* code = nullptr;
    ~Code() { pcre2_code_free(code); }
};

namespace {

/// One match data block per thread, big enough for $0..$9; a pattern with more groups still
/// matches (pcre2_match returns 0 and fills the first ten).
pcre2_match_data* thread_match_data() noexcept {
    struct Holder {
        pcre2_match_data* data = pcre2_match_data_create(Captures::kMax, nullptr);
        ~Holder() { pcre2_match_data_free(data); }
    };
    static thread_local Holder holder;
    return holder.data;
}

} // namespace

std::optional<Regex> Regex::compile(std::string_view pattern, std::string& why, bool caseless) {
    int err = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     caseless ? PCRE2_CASELESS : 0u, &err, &offset, nullptr);
    if (code == nullptr) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(err, message, sizeof message);
        why = std::string(reinterpret_cast<const char*>(message)) + " at offset " +
              std::to_string(offset);
        return std::nullopt;
    }
    auto owned = std::make_shared<Code>();
    owned->code = code;
    Regex r;
    r.code_ = std::move(owned);
    r.pattern_ = std::string(pattern);
    return r;
}

bool Regex::match(std::string_view subject, Captures* out) const noexcept {
    if (code_ == nullptr) {
        return false;
    }
    pcre2_match_data* md = thread_match_data();
    if (md == nullptr) {
        return false;
    }
    const int rc = pcre2_match(code_->code, reinterpret_cast<PCRE2_SPTR>(subject.data()),
                               subject.size(), 0, 0, md, nullptr);
    if (rc < 0) {
        return false; // PCRE2_ERROR_NOMATCH, or a limit hit: no match either way
    }
    if (out != nullptr) {
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        const std::size_t pairs = rc == 0 ? Captures::kMax : static_cast<std::size_t>(rc);
        for (std::size_t i = 0; i < Captures::kMax; ++i) {
            out->group[i] = {};
            if (i < pairs && ov[2 * i] != PCRE2_UNSET) {
                out->group[i] = subject.substr(ov[2 * i], ov[2 * i + 1] - ov[2 * i]);
            }
        }
    }
    return true;
}

std::string substitute_groups(std::string_view tmpl, const Captures& m) {
    std::string out;
    out.reserve(tmpl.size());
    for (std::size_t i = 0; i < tmpl.size(); ++i) {
        const char c = tmpl[i];
        if (c == '$' && i + 1 < tmpl.size() && tmpl[i + 1] >= '0' && tmpl[i + 1] <= '9') {
            out.append(m.group[static_cast<std::size_t>(tmpl[i + 1] - '0')]);
            ++i;
        } else if (c == '\\' && i + 1 < tmpl.size()) {
            out.push_back(tmpl[++i]);
        } else {
            out.push_back(c);
        }
    }
    return out;
}

std::string pcre2_version() {
    char buf[64] = {};
    if (pcre2_config(PCRE2_CONFIG_VERSION, buf) < 0) {
        return "unknown";
    }
    return buf;
}

} // namespace kahttpd::conf
