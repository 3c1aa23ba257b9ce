#pragma once

#include <cstddef>

namespace kahttpd::server {

/// The links of a circular intrusive list. Self-unlinking: the destructor removes it, so an
/// owner can be freed without telling the list. Linking never allocates.
class ListLink {
  public:
    ListLink() noexcept = default;
    ListLink(const ListLink&) = delete;
    ListLink& operator=(const ListLink&) = delete;
    ~ListLink() { unlink(); }

    void unlink() noexcept {
        if (next_ != nullptr) {
            prev_->next_ = next_;
            next_->prev_ = prev_;
            prev_ = next_ = nullptr;
        }
    }

  private:
    template <typename U> friend class IntrusiveList;
    ListLink* prev_ = nullptr;
    ListLink* next_ = nullptr;
};

/// A list member: T derives from ListNode<T>, so the owner is found from its node by a cast
/// (no owner pointer: two words per member, which idle connections count in).
template <typename T> class ListNode : public ListLink {};

/// The head of a list of T, each linked through a ListNode<T> member.
template <typename T> class IntrusiveList {
  public:
    IntrusiveList() noexcept { head_.prev_ = head_.next_ = &head_; }
    IntrusiveList(const IntrusiveList&) = delete;
    IntrusiveList& operator=(const IntrusiveList&) = delete;
    ~IntrusiveList() {
        // Detach remaining nodes so their destructors do not touch the freed head.
        while (!empty()) {
            head_.next_->unlink();
        }
    }

    bool empty() const noexcept { return head_.next_ == &head_; }
    std::size_t size() const noexcept {
        std::size_t n = 0;
        for (const ListLink* p = head_.next_; p != &head_; p = p->next_) {
            ++n;
        }
        return n;
    }

    /// The oldest owner, or nullptr when the list is empty.
    T* front() const noexcept { return empty() ? nullptr : owner(head_.next_); }

    void push_back(ListNode<T>& n) noexcept {
        n.unlink();
        n.prev_ = head_.prev_;
        n.next_ = &head_;
        head_.prev_->next_ = &n;
        head_.prev_ = &n;
    }

    /// Calls f(T&) for each owner. f may unlink the node it is given (but no other).
    template <typename F> void for_each(F&& f) {
        for (ListLink* n = head_.next_; n != &head_;) {
            ListLink* next = n->next_;
            f(*owner(n));
            n = next;
        }
    }

    /// Calls f(T&) for each owner, oldest first, until f returns true; true when one did.
    /// f may unlink the node it is given (but no other).
    template <typename F> bool any_of(F&& f) {
        for (ListLink* n = head_.next_; n != &head_;) {
            ListLink* next = n->next_;
            if (f(*owner(n))) {
                return true;
            }
            n = next;
        }
        return false;
    }

  private:
    static T* owner(ListLink* n) noexcept { return static_cast<T*>(static_cast<ListNode<T>*>(n)); }

    ListLink head_;
};

} // namespace kahttpd::server
