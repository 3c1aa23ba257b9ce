#include "parser/request.hpp"

#include "parser/text.hpp"

#include <utility>

namespace kahttpd::parser {

std::string_view Request::method() const noexcept {
    return std::string_view(storage_).substr(method_off_, method_len_);
}

std::string_view Request::target() const noexcept {
    return std::string_view(storage_).substr(target_off_, target_len_);
}

std::string_view Request::host_field() const noexcept {
    return host_fields_ != 0 && host_index_ < headers_.size() ? headers_[host_index_].value
                                                              : std::string_view();
}

std::optional<std::string_view> Request::find_header(std::string_view name) const noexcept {
    for (const HeaderField& field : headers_) {
        if (text::iequals(field.name, name)) {
            return field.value;
        }
    }
    return std::nullopt;
}

std::optional<std::string_view> Request::find_header_list(std::string_view name,
                                                          std::string& joined) const {
    std::optional<std::string_view> first;
    bool several = false;
    for (const HeaderField& field : headers_) {
        if (!text::iequals(field.name, name)) {
            continue;
        }
        if (!first) {
            first = field.value;
            continue;
        }
        if (!several) {
            joined.assign(*first);
            several = true;
        }
        joined.append(", ").append(field.value);
    }
    if (several) {
        return std::string_view(joined);
    }
    return first;
}

void Request::clear() noexcept {
    // clear() on std::string and std::vector keeps capacity, so a connection that parses
    // request after request stops allocating once it has seen its largest head.
    storage_.clear();
    spans_.clear();
    headers_.clear();
    method_off_ = method_len_ = 0;
    target_off_ = target_len_ = 0;
    method_id_ = 0;
    http_major_ = http_minor_ = 0;
    keep_alive_ = false;
    keep_alive_requested_ = false;
    has_body_ = false;
    chunked_ = false;
    expect_continue_ = false;
    host_fields_ = 0;
    host_index_ = 0;
    names_ = 0;
    content_length_.reset();
    body_bytes_ = 0;
}

void Request::release(std::size_t keep) noexcept {
    clear();
    if (capacity_bytes() > keep) {
        std::string().swap(storage_);
        std::vector<FieldSpan>().swap(spans_);
        std::vector<HeaderField>().swap(headers_);
    }
}

std::size_t Request::capacity_bytes() const noexcept {
    return storage_.capacity() + spans_.capacity() * sizeof(FieldSpan) +
           headers_.capacity() * sizeof(HeaderField);
}

void Request::publish_headers() {
    headers_.resize(spans_.size());
    repoint_headers();
    names_ = 0;
    for (const HeaderField& field : headers_) {
        names_ |= name_bit(field.name);
    }
}

void Request::repoint_headers() noexcept {
    const std::string_view bytes(storage_);
    // headers_ is either empty (head not complete) or has one entry per span.
    for (std::size_t i = 0; i < headers_.size() && i < spans_.size(); ++i) {
        const FieldSpan& span = spans_[i];
        headers_[i].name = bytes.substr(span.name_off, span.name_len);
        headers_[i].value = bytes.substr(span.value_off, span.value_len);
    }
}

Request::Request(const Request& other)
    : storage_(other.storage_), spans_(other.spans_), headers_(other.headers_),
      method_off_(other.method_off_), method_len_(other.method_len_),
      target_off_(other.target_off_), target_len_(other.target_len_), method_id_(other.method_id_),
      http_major_(other.http_major_), http_minor_(other.http_minor_),
      keep_alive_(other.keep_alive_), keep_alive_requested_(other.keep_alive_requested_),
      has_body_(other.has_body_), chunked_(other.chunked_),
      expect_continue_(other.expect_continue_), host_fields_(other.host_fields_),
      host_index_(other.host_index_), names_(other.names_),
      content_length_(other.content_length_), body_bytes_(other.body_bytes_) {
    repoint_headers();
}

Request::Request(Request&& other) noexcept
    : storage_(std::move(other.storage_)), spans_(std::move(other.spans_)),
      headers_(std::move(other.headers_)), method_off_(other.method_off_),
      method_len_(other.method_len_), target_off_(other.target_off_),
      target_len_(other.target_len_), method_id_(other.method_id_), http_major_(other.http_major_),
      http_minor_(other.http_minor_), keep_alive_(other.keep_alive_),
      keep_alive_requested_(other.keep_alive_requested_), has_body_(other.has_body_),
      chunked_(other.chunked_), expect_continue_(other.expect_continue_),
      host_fields_(other.host_fields_), host_index_(other.host_index_), names_(other.names_),
      content_length_(other.content_length_), body_bytes_(other.body_bytes_) {
    repoint_headers();
    other.clear();
}

Request& Request::operator=(const Request& other) {
    if (this != &other) {
        Request copy(other);
        *this = std::move(copy);
    }
    return *this;
}

Request& Request::operator=(Request&& other) noexcept {
    if (this != &other) {
        storage_ = std::move(other.storage_);
        spans_ = std::move(other.spans_);
        headers_ = std::move(other.headers_);
        method_off_ = other.method_off_;
        method_len_ = other.method_len_;
        target_off_ = other.target_off_;
        target_len_ = other.target_len_;
        method_id_ = other.method_id_;
        http_major_ = other.http_major_;
        http_minor_ = other.http_minor_;
        keep_alive_ = other.keep_alive_;
        keep_alive_requested_ = other.keep_alive_requested_;
        has_body_ = other.has_body_;
        chunked_ = other.chunked_;
        expect_continue_ = other.expect_continue_;
        host_fields_ = other.host_fields_;
        host_index_ = other.host_index_;
        names_ = other.names_;
        content_length_ = other.content_length_;
        body_bytes_ = other.body_bytes_;
        repoint_headers();
        other.clear();
    }
    return *this;
}

} // namespace kahttpd::parser
