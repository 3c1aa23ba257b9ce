#pragma once

#include <cstddef>

namespace kahttpd::server {

/// A node of a circular intrusive list that knows its owner. Self-unlinking: the destructor
/// removes it, so an owner can be freed without telling the list. Linking never allocates.
template <typename T> class ListNode {
  public:
    explicit ListNode(T* owner) noexcept : owner_(owner) {}
    ListNode(const ListNode&) = delete;
    ListNode& operator=(const ListNode&) = delete;
    ~ListNode() { unlink(); }

    void unlink() noexcept {
        if (next_ != nullptr) {
            prev_->next_ = next_;
            next_->prev_ = prev_;
            prev_ = next_ = nullptr;
        }
    }

  private:
    template <typename U> friend class IntrusiveList;
    T* owner_;
    ListNode* prev_ = nullptr;
    ListNode* next_ = nullptr;
};

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
        for (const ListNode<T>* p = head_.next_; p != &head_; p = p->next_) {
            ++n;
        }
        return n;
    }

    /// The oldest owner, or nullptr when the list is empty.
    T* front() const noexcept { return empty() ? nullptr : head_.next_->owner_; }

    void push_back(ListNode<T>& n) noexcept {
        n.unlink();
        n.prev_ = head_.prev_;
        n.next_ = &head_;
        head_.prev_->next_ = &n;
        head_.prev_ = &n;
    }

    /// Calls f(T&) for each owner. f may unlink the node it is given (but no other).
    template <typename F> void for_each(F&& f) {
        for (ListNode<T>* n = head_.next_; n != &head_;) {
            ListNode<T>* next = n->next_;
            f(*n->owner_);
            n = next;
        }
    }

    /// Calls f(T&) for each owner, oldest first, until f returns true; true when one did.
    /// f may unlink the node it is given (but no other).
    template <typename F> bool any_of(F&& f) {
        for (ListNode<T>* n = head_.next_; n != &head_;) {
            ListNode<T>* next = n->next_;
            if (f(*n->owner_)) {
                return true;
            }
            n = next;
        }
        return false;
    }

  private:
    ListNode<T> head_{nullptr};
};

} // namespace kahttpd::server
