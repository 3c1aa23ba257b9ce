/*
 * The floor for this machine and wrk: the least an HTTP/1.1 server can do per request.
 *
 * One thread, one epoll set (level-triggered), non-blocking sockets on 127.0.0.1. Every
 * complete request (counted by its "\r\n\r\n" terminator; no parsing, no file, no date) is
 * answered with the same 200 response carrying 1 KiB of body, whatever the path. A read that
 * holds several pipelined requests is answered with one write of as many responses. A request
 * that says "Connection: close" gets a response that says so, and the connection is closed once
 * everything for it has been written.
 *
 *   minimal_server [PORT]      PORT 0 (the default) lets the kernel choose; the port in use is
 *                              printed as "minimal: listening on 127.0.0.1:PORT".
 *
 * It stops on SIGTERM or SIGINT. It is a benchmark peer only: requests are not validated, and
 * a request split so that "Connection: close" straddles two reads keeps the connection open.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

enum { kBodySize = 1024, kReadSize = 64 * 1024, kMaxEvents = 256 };

/* Per-connection state, indexed by descriptor: 24 bytes, plus pending output while the
 * kernel's send buffer is full. */
struct conn {
    char* out;      /* bytes queued but not yet written (malloc'd; kept for reuse) */
    size_t out_len;
    unsigned char tail;        /* how many bytes of "\r\n\r\n" the last read ended with (0..3) */
    unsigned char open;
    unsigned char closing;     /* close once out is empty */
    unsigned char watching_out; /* EPOLLOUT is in the epoll set */
};

static struct conn* conns;
static int max_fds;
static int epfd;
static volatile sig_atomic_t stopping;

static char response_ka[256 + kBodySize];
static size_t response_ka_len;
static char response_close[256 + kBodySize];
static size_t response_close_len;

static void on_signal(int sig) {
    (void)sig;
    stopping = 1;
}

static void build_responses(void) {
    char body[kBodySize];
    memset(body, 'x', sizeof body);
    int n = snprintf(response_ka, sizeof response_ka,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                     "Content-Length: %d\r\n\r\n",
                     kBodySize);
    memcpy(response_ka + n, body, kBodySize);
    response_ka_len = (size_t)n + kBodySize;
    n = snprintf(response_close, sizeof response_close,
                 "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                 "Content-Length: %d\r\nConnection: close\r\n\r\n",
                 kBodySize);
    memcpy(response_close + n, body, kBodySize);
    response_close_len = (size_t)n + kBodySize;
}

static void close_conn(int fd) {
    struct conn* c = &conns[fd];
    free(c->out);
    memset(c, 0, sizeof *c);
    close(fd); /* also removes it from the epoll set */
}

/* Counts the request terminators in buf, carrying a partial "\r\n\r\n" over from the last
 * read in *tail. */
static size_t count_requests(const char* buf, size_t len, unsigned char* tail) {
    static const char kEnd[] = "\r\n\r\n";
    size_t n = 0;
    unsigned t = *tail;
    for (size_t i = 0; i < len; ++i) {
        if (buf[i] == kEnd[t]) {
            if (++t == 4) {
                ++n;
                t = 0;
            }
        } else {
            t = buf[i] == '\r' ? 1 : 0;
        }
    }
    *tail = (unsigned char)t;
    return n;
}

/* Writes as much of c->out as the socket takes; watches for writability while some is left.
 * Returns -1 when the connection is gone. */
static int flush_out(int fd) {
    struct conn* c = &conns[fd];
    size_t done = 0;
    while (done < c->out_len) {
        ssize_t w = send(fd, c->out + done, c->out_len - done, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                break;
            }
            close_conn(fd);
            return -1;
        }
        done += (size_t)w;
    }
    if (done > 0 && done < c->out_len) {
        memmove(c->out, c->out + done, c->out_len - done);
    }
    c->out_len -= done;
    /* Only a change of interest costs an epoll_ctl: the common case writes everything. */
    unsigned char want_out = c->out_len > 0;
    if (want_out != c->watching_out) {
        struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.fd = fd};
        epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
        c->watching_out = want_out;
    }
    if (c->out_len == 0 && c->closing) {
        close_conn(fd);
        return -1;
    }
    return 0;
}

/* Appends n responses to the pending output: the keep-alive one, or for the last of them the
 * closing one. */
static int queue_responses(struct conn* c, size_t n, int close_last) {
    size_t need = c->out_len + n * response_close_len;
    char* out = realloc(c->out, need);
    if (out == NULL) {
        return -1;
    }
    c->out = out;
    for (size_t i = 0; i < n; ++i) {
        int last_closes = close_last && i + 1 == n;
        const char* r = last_closes ? response_close : response_ka;
        size_t len = last_closes ? response_close_len : response_ka_len;
        memcpy(c->out + c->out_len, r, len);
        c->out_len += len;
    }
    return 0;
}

static void on_readable(int fd, char* buf) {
    struct conn* c = &conns[fd];
    ssize_t r = recv(fd, buf, kReadSize, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    if (r <= 0) {
        close_conn(fd);
        return;
    }
    if (c->closing) {
        return; /* a close is pending: ignore anything after that request */
    }
    size_t n = count_requests(buf, (size_t)r, &c->tail);
    if (n == 0) {
        return;
    }
    int close_last = memmem(buf, (size_t)r, "\r\nConnection: close\r\n", 21) != NULL ||
                     memmem(buf, (size_t)r, "\r\nconnection: close\r\n", 21) != NULL;
    if (queue_responses(c, n, close_last) != 0) {
        close_conn(fd);
        return;
    }
    c->closing = (unsigned char)close_last;
    flush_out(fd); /* one write per read batch */
}

static void on_acceptable(int lfd) {
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            return; /* EAGAIN, or out of descriptors: the backlog keeps the rest */
        }
        if (fd >= max_fds) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conns[fd].open = 1;
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close_conn(fd);
        }
    }
}

int main(int argc, char** argv) {
    int port = argc > 1 ? atoi(argv[1]) : 0;
    if (port < 0 || port > 65535) {
        fprintf(stderr, "usage: %s [PORT]\n", argv[0]);
        return 2;
    }
    build_responses();

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    max_fds = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1048576 ? 1048576 : (int)rl.rlim_cur;
    conns = calloc((size_t)max_fds, sizeof *conns);
    char* buf = malloc(kReadSize);
    if (conns == NULL || buf == NULL) {
        perror("minimal: calloc");
        return 1;
    }

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || bind(lfd, (struct sockaddr*)&addr, sizeof addr) != 0 ||
        listen(lfd, 4096) != 0) {
        perror("minimal: bind/listen");
        return 1;
    }
    socklen_t alen = sizeof addr;
    getsockname(lfd, (struct sockaddr*)&addr, &alen);

    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) != 0) {
        perror("minimal: epoll");
        return 1;
    }
    printf("minimal: listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
    fflush(stdout);

    struct epoll_event events[kMaxEvents];
    while (!stopping) {
        int n = epoll_wait(epfd, events, kMaxEvents, -1);
        for (int i = 0; i < n; ++i) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                on_acceptable(lfd);
                continue;
            }
            if (!conns[fd].open) {
                continue; /* closed earlier in this batch */
            }
            if ((events[i].events & EPOLLOUT) && flush_out(fd) != 0) {
                continue;
            }
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                on_readable(fd, buf);
            }
        }
    }
    for (int fd = 0; fd < max_fds; ++fd) {
        if (conns[fd].open) {
            close_conn(fd);
        }
    }
    close(epfd);
    close(lfd);
    free(buf);
    free(conns);
    return 0;
}
