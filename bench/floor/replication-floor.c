/*
 * replication-floor: what a synchronously replicated write can cost at least on this machine,
 * with no hablock, no JVM and no NBD in the way.
 *
 * One client process keeps DEPTH requests in flight to an "owner" process over loopback TCP.
 * The owner sends every byte it receives on to COPIES-1 "replica" processes, stores each
 * request in its file, and acknowledges a request once it stored it and every replica
 * acknowledged it; the replicas store and acknowledge. Requests are pipelined on every
 * connection: the owner forwards and stores request N+1 while the replicas still work on N,
 * as hablock does, as long as less than 1 MiB waits for them (the replication window, in
 * run_node). This is the data movement of hablock's write path (ARCHITECTURE.md, "A
 * write, from socket to disk") and nothing else: a 16-byte header, an 8-byte answer, no epochs,
 * no checksums, no threads, one process per node.
 *
 *   copy   : recv() into a buffer, send() it to each replica, pwrite() each request's bytes:
 *            2 + 2 x (COPIES-1) kernel memory copies of every byte on the nodes' side, as in
 *            hablock. One recv and one send per replica for whatever arrived at once (as a
 *            Netty read and flush), one pwrite per request (or per piece of it that arrived).
 *   splice : splice() from the socket into a pipe, tee() it to one pipe per replica, splice()
 *            those into the replicas' sockets and the first into the file; replicas splice
 *            socket -> pipe -> file. One memory copy per stored copy (into the page cache).
 *            Headers are read and sent with recv()/send(), so this mode is for large requests.
 *
 * Workloads (the names of cluster-bench.sh's rows):
 *   seq-write        1 MiB sequential, 8 in flight
 *   rand-write-qd32  4 KiB at random 4 KiB-aligned offsets, 32 in flight
 *   rand-write-qd1   4 KiB random, 1 in flight (latency)
 *
 * Steadiness: every node fills its file before it says it is ready (a file of the right size
 * is kept from an earlier run and not filled again), the client starts its clock only once all
 * nodes are ready, runs WARMUP seconds unmeasured (TCP's buffers grow to their working size),
 * then measures SECONDS. CPU time is read from the nodes' CPU clocks at the edges of the
 * measured window. See bench/README.md ("Why the floor used to be unsteady").
 *
 * Usage: replication-floor copy|splice COPIES WORKLOAD DIR SIZE_MIB WARMUP SECONDS CLIENT_CPU NODES_CPU
 *   DIR holds one SIZE_MIB file per copy (use a tmpfs); CPU -1 means not pinned.
 * Prints one line: mode copies workload MB/s IOPS nodes-CPU-us-per-request
 *   client-CPU-us-per-request p50-us p99-us (latency from sending a request to its answer).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_BLOCK (1 << 20)
#define MAX_DEPTH 64
#define MAX_COPIES 8
#define REPLICATION_WINDOW (1 << 20)
#define RECV_BUFFER (1 << 20) /* larger buffers cost ~20 % more CPU per MiB in cache misses */

struct header {
    uint64_t offset;
    uint64_t length;
};

static void die(const char *what) {
    fprintf(stderr, "replication-floor: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void pin(int cpu) {
    if (cpu < 0) {
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        die("sched_setaffinity");
    }
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

static double cpu_clock(clockid_t clock) {
    struct timespec t;
    if (clock_gettime(clock, &t) != 0) {
        die("clock_gettime (CPU clock)");
    }
    return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

static void send_full(int fd, const void *buf, size_t n, int flags) {
    size_t sent = 0;
    while (sent < n) {
        ssize_t r = send(fd, (const char *) buf + sent, n - sent, flags);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("send");
        }
        sent += (size_t) r;
    }
}

static void pwrite_full(int fd, const char *buf, size_t n, off_t off) {
    size_t done = 0;
    while (done < n) {
        ssize_t r = pwrite(fd, buf + done, n - done, off + (off_t) done);
        if (r < 0) {
            die("pwrite");
        }
        done += (size_t) r;
    }
}

/*
 * Moves exactly n bytes from in to out (one of them a pipe); off is the file offset or NULL.
 * more: more bytes of the same message follow. Only then may the socket hold back a short last
 * segment (MSG_MORE): on the last piece of a request that would keep its tail in the owner
 * until an ACK of the replica came in, up to a delayed-ACK timeout (40 ms) per request.
 */
static void splice_full(int in, int out, loff_t *off, size_t n, int more) {
    while (n > 0) {
        ssize_t r = splice(in, NULL, out, off, n, SPLICE_F_MOVE | (more ? SPLICE_F_MORE : 0));
        if (r <= 0) {
            if (r < 0 && errno == EINTR) {
                continue;
            }
            die("splice");
        }
        n -= (size_t) r;
    }
}

static int listener(uint16_t *port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *) &a, sizeof a) != 0 || listen(s, 1) != 0
            || getsockname(s, (struct sockaddr *) &a, &len) != 0) {
        die("listen");
    }
    *port = ntohs(a.sin_port);
    return s;
}

static int accept_one(int l) {
    int s = accept(l, NULL, NULL);
    int one = 1;
    if (s < 0 || setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
        die("accept");
    }
    close(l);
    return s;
}

static int connect_to(uint16_t port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (s < 0 || connect(s, (struct sockaddr *) &a, sizeof a) != 0
            || setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
        die("connect");
    }
    return s;
}

/*
 * The copy's file, filled (as the bench fills its volumes) unless a file of this size is left
 * from an earlier run: the measured writes rewrite pages that exist and have been touched (a
 * first touch can cost a fault in the hypervisor too). Filling happens before the node says it
 * is ready, so it is never inside the measured time.
 */
static int open_store(const char *dir, int k, off_t size) {
    char path[4096];
    snprintf(path, sizeof path, "%s/copy-%d.img", dir, k);
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        die(path);
    }
    if (st.st_size != size) {
        static char ones[MAX_BLOCK];
        memset(ones, 1, sizeof ones);
        if (ftruncate(fd, 0) != 0) {
            die("ftruncate");
        }
        for (off_t off = 0; off < size; off += MAX_BLOCK) {
            pwrite_full(fd, ones, MAX_BLOCK, off);
        }
    }
    return fd;
}

/* A node: the owner when it has replicas to send to, a replica otherwise. */
struct node {
    int in, fd, splicing, nreps;
    int reps[MAX_COPIES];
    int pipes[MAX_COPIES][2];   /* splice: [0] from the socket, [1 + r] to replica r */
    char hdr[sizeof(struct header)];
    size_t hlen;                /* header bytes received of the next request */
    uint64_t off, left;         /* the request being received: next file offset, bytes left (0: none) */
    uint64_t length;            /* the length of the last request */
    uint64_t stored;            /* requests stored in this node's file */
    uint64_t acked[MAX_COPIES]; /* answers received from each replica, in bytes */
    uint64_t answered;          /* requests answered to the sender */
};

static void header_done(struct node *n) {
    struct header h;
    memcpy(&h, n->hdr, sizeof h);
    if (h.length == 0 || h.length > MAX_BLOCK) {
        errno = EINVAL;
        die("request length not in 1..1 MiB");
    }
    n->off = h.offset;
    n->left = n->length = h.length;
    n->hlen = 0;
}

/* Stores the bytes just received: pieces of headers and payloads, in order. */
static void consume(struct node *n, const char *p, size_t len) {
    while (len > 0) {
        if (n->left == 0) {
            size_t k = sizeof n->hdr - n->hlen < len ? sizeof n->hdr - n->hlen : len;
            memcpy(n->hdr + n->hlen, p, k);
            n->hlen += k, p += k, len -= k;
            if (n->hlen == sizeof n->hdr) {
                header_done(n);
            }
        } else {
            size_t k = n->left < len ? (size_t) n->left : len;
            pwrite_full(n->fd, p, k, (off_t) n->off);
            n->off += k, n->left -= k, p += k, len -= k;
            if (n->left == 0) {
                n->stored++;
            }
        }
    }
}

/* Takes what arrived on the node's input; 0 at the end of the input. */
static int receive(struct node *n) {
    static char buf[RECV_BUFFER];
    if (!n->splicing) {
        /* the rest of a large payload in one call (one send per replica, one pwrite); else
         * whatever arrived: many small requests at once */
        size_t want = sizeof buf;
        int flags = 0;
        if (n->left >= (64 << 10)) {
            want = n->left < sizeof buf ? (size_t) n->left : sizeof buf;
            flags = MSG_WAITALL;
        }
        ssize_t got = recv(n->in, buf, want, flags);
        if (got <= 0) {
            if (got < 0 && errno == EINTR) {
                return 1;
            }
            if (got < 0) {
                die("recv");
            }
            return 0;
        }
        for (int r = 0; r < n->nreps; r++) {
            send_full(n->reps[r], buf, (size_t) got, 0);
        }
        consume(n, buf, (size_t) got);
        return 1;
    }
    if (n->left == 0) { /* a header: read, and sent on corked (its payload follows) */
        ssize_t got = recv(n->in, n->hdr + n->hlen, sizeof n->hdr - n->hlen, 0);
        if (got <= 0) {
            if (got < 0 && errno == EINTR) {
                return 1;
            }
            if (got < 0) {
                die("recv");
            }
            return 0;
        }
        for (int r = 0; r < n->nreps; r++) {
            send_full(n->reps[r], n->hdr + n->hlen, (size_t) got, MSG_MORE);
        }
        n->hlen += (size_t) got;
        if (n->hlen == sizeof n->hdr) {
            header_done(n);
        }
        return 1;
    }
    ssize_t got = splice(n->in, NULL, n->pipes[0][1], NULL, n->left < MAX_BLOCK ? n->left : MAX_BLOCK,
                         SPLICE_F_MOVE | SPLICE_F_MORE);
    if (got <= 0) {
        if (got < 0 && errno == EINTR) {
            return 1;
        }
        if (got < 0) {
            die("splice from the socket");
        }
        errno = EPIPE;
        die("input ended within a request");
    }
    int more = (uint64_t) got < n->left;
    for (int r = 0; r < n->nreps; r++) {
        if (tee(n->pipes[0][0], n->pipes[r + 1][1], (size_t) got, 0) != got) {
            die("tee did not duplicate the whole piece");
        }
        splice_full(n->pipes[r + 1][0], n->reps[r], NULL, (size_t) got, more);
    }
    loff_t off = (loff_t) n->off;
    splice_full(n->pipes[0][0], n->fd, &off, (size_t) got, 0);
    n->off += (uint64_t) got;
    n->left -= (uint64_t) got;
    if (n->left == 0) {
        n->stored++;
    }
    return 1;
}

/* Answers every request that this node stored and every replica acknowledged, in one send. */
static void answer(struct node *n) {
    static uint64_t answers[MAX_DEPTH * 64];
    uint64_t done = n->stored;
    for (int r = 0; r < n->nreps; r++) {
        uint64_t a = n->acked[r] / sizeof(uint64_t);
        done = a < done ? a : done;
    }
    while (n->answered < done) {
        size_t k = 0;
        while (n->answered < done && k < sizeof answers / sizeof answers[0]) {
            answers[k++] = n->answered++;
        }
        send_full(n->in, answers, k * sizeof answers[0], 0);
    }
}

static void run_node(struct node *n) {
    static char acks[64 << 10];
    for (int r = 0; r <= n->nreps && n->splicing; r++) {
        if (pipe(n->pipes[r]) != 0) {
            die("pipe");
        }
        if (fcntl(n->pipes[r][1], F_SETPIPE_SZ, MAX_BLOCK) < 0) {
            die("F_SETPIPE_SZ 1 MiB");
        }
    }
    if (n->nreps == 0) { /* a replica: its input is all it waits for */
        while (receive(n)) {
            answer(n);
        }
        exit(0);
    }
    struct pollfd p[MAX_COPIES + 1];
    p[0] = (struct pollfd) {.fd = n->in, .events = POLLIN};
    for (int r = 0; r < n->nreps; r++) {
        p[r + 1] = (struct pollfd) {.fd = n->reps[r], .events = POLLIN};
    }
    for (;;) {
        /*
         * The replication window: the owner reads on while less than REPLICATION_WINDOW of
         * stored requests waits for the replicas. Small requests are pipelined; a 1 MiB
         * request goes to the replicas alone, as its bytes are still in the cache the
         * replicas share (all nodes run on one CPU here; running ahead cost ~7 % more CPU per
         * MiB in cache misses).
         */
        int more = n->left > 0 || (n->stored - n->answered) * n->length < REPLICATION_WINDOW;
        p[0].events = more ? POLLIN : 0;
        if (poll(p, (nfds_t) n->nreps + 1, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("poll");
        }
        for (int r = 0; r < n->nreps; r++) {
            if (p[r + 1].revents) {
                ssize_t got = recv(n->reps[r], acks, sizeof acks, 0);
                if (got <= 0) {
                    errno = got < 0 ? errno : EPIPE;
                    die("a replica's answers");
                }
                n->acked[r] += (uint64_t) got;
            }
        }
        if (p[0].revents && !receive(n)) {
            exit(0); /* the client is done; closing tells the replicas */
        }
        answer(n);
    }
}

struct workload {
    const char *name;
    size_t block;
    int depth;
    int random;
};

static const struct workload workloads[] = {
    {"seq-write", 1 << 20, 8, 0},
    {"rand-write-qd32", 4096, 32, 1},
    {"rand-write-qd1", 4096, 1, 1},
};

static int by_value(const void *a, const void *b) {
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 10) {
        fprintf(stderr, "usage: replication-floor copy|splice COPIES WORKLOAD DIR SIZE_MIB WARMUP SECONDS CLIENT_CPU NODES_CPU\n"
                        "  WORKLOAD: seq-write (1 MiB, QD8), rand-write-qd32 (4 KiB random, QD32), rand-write-qd1\n");
        return 2;
    }
    int splicing = strcmp(argv[1], "splice") == 0;
    int copies = atoi(argv[2]);
    const struct workload *w = NULL;
    for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++) {
        if (strcmp(argv[3], workloads[i].name) == 0) {
            w = &workloads[i];
        }
    }
    const char *dir = argv[4];
    off_t size = (off_t) atol(argv[5]) << 20;
    double warmup = atof(argv[6]), seconds = atof(argv[7]);
    int client_cpu = atoi(argv[8]), nodes_cpu = atoi(argv[9]);
    if ((!splicing && strcmp(argv[1], "copy") != 0) || copies < 1 || copies > MAX_COPIES || w == NULL
            || warmup < 0 || seconds <= 0 || size < MAX_BLOCK) {
        fprintf(stderr, "replication-floor: bad arguments (see the usage without arguments)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    /* replicas 1..copies-1 first, then the owner (copy 0), each a process of its own; each
     * writes a byte to `ready` once its file is filled and its connections are up */
    int ready[2];
    if (pipe(ready) != 0) {
        die("pipe");
    }
    uint16_t port[MAX_COPIES] = {0};
    int lsock[MAX_COPIES];
    pid_t pids[MAX_COPIES];
    for (int k = 0; k < copies; k++) {
        lsock[k] = listener(&port[k]);
    }
    for (int k = copies - 1; k >= 0; k--) {
        pids[k] = fork();
        if (pids[k] < 0) {
            die("fork");
        }
        if (pids[k] == 0) {
            pin(nodes_cpu);
            struct node n = {.splicing = splicing, .nreps = k == 0 ? copies - 1 : 0};
            n.fd = open_store(dir, k, size);
            for (int r = 1; k == 0 && r < copies; r++) {
                n.reps[r - 1] = connect_to(port[r]);
            }
            for (int j = 0; j < copies; j++) {
                if (j != k) {
                    close(lsock[j]);
                }
            }
            n.in = accept_one(lsock[k]);
            if (write(ready[1], "r", 1) != 1) {
                die("ready");
            }
            close(ready[0]);
            close(ready[1]);
            run_node(&n);
        }
    }
    for (int k = 0; k < copies; k++) {
        close(lsock[k]);
    }
    close(ready[1]);

    pin(client_cpu);
    int s = connect_to(port[0]);
    for (int k = 0; k < copies; k++) {
        char c;
        if (read(ready[0], &c, 1) != 1) {
            errno = ECHILD;
            die("a node failed before it was ready");
        }
    }
    static char data[MAX_BLOCK];
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < sizeof data; i += sizeof x) { /* incompressible, like fio's default buffers */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(data + i, &x, sizeof x);
    }
    clockid_t node_clock[MAX_COPIES];
    for (int k = 0; k < copies; k++) {
        if (clock_getcpuclockid(pids[k], &node_clock[k]) != 0) {
            die("clock_getcpuclockid");
        }
    }

    /* phase 0: warm-up, 1: measured, 2: no new requests, waiting for the last answers */
    int phase = 0;
    double measure_from = now() + warmup, end = measure_from + seconds, t0 = 0, t1 = 0;
    double nodes_cpu_s = 0, client_cpu_s = 0;
    uint64_t blocks = (uint64_t) size / w->block, next_seq = 0, done_seq = 0, measured = 0;
    double sent_at[MAX_DEPTH];
    size_t lat_cap = 1 << 16, lat_n = 0;
    double *lat = malloc(lat_cap * sizeof *lat);
    struct header hdrs[MAX_DEPTH];
    struct iovec iov[2 * MAX_DEPTH];
    static uint64_t acks[MAX_DEPTH];
    size_t ack_bytes = 0;
    if (lat == NULL) {
        die("malloc");
    }
    for (;;) {
        double t = now();
        if (phase < 2 && t >= (phase == 0 ? measure_from : end)) {
            double sign = phase == 0 ? -1 : 1; /* CPU used in the window = at its end - at its start */
            client_cpu_s += sign * cpu_clock(CLOCK_PROCESS_CPUTIME_ID);
            for (int k = 0; k < copies; k++) {
                nodes_cpu_s += sign * cpu_clock(node_clock[k]);
            }
            *(phase == 0 ? &t0 : &t1) = t;
            phase++;
        }
        /* send as many new requests as there are free slots, in one writev */
        int k = 0;
        while (phase < 2 && next_seq - done_seq < (uint64_t) w->depth) {
            uint64_t b = w->random ? (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x % blocks) : next_seq % blocks;
            hdrs[k] = (struct header) {.offset = b * w->block, .length = w->block};
            iov[2 * k] = (struct iovec) {.iov_base = &hdrs[k], .iov_len = sizeof hdrs[k]};
            iov[2 * k + 1] = (struct iovec) {.iov_base = data + (b * w->block) % sizeof data, .iov_len = w->block};
            sent_at[next_seq % MAX_DEPTH] = t;
            next_seq++, k++;
        }
        for (int i = 0; i < 2 * k;) {
            ssize_t r = writev(s, iov + i, 2 * k - i);
            if (r < 0) {
                if (errno == EINTR) {
                    continue;
                }
                die("writev");
            }
            while (i < 2 * k && (size_t) r >= iov[i].iov_len) {
                r -= (ssize_t) iov[i++].iov_len;
            }
            if (i < 2 * k) {
                iov[i].iov_base = (char *) iov[i].iov_base + r;
                iov[i].iov_len -= (size_t) r;
            }
        }
        if (done_seq == next_seq) {
            break; /* the window closed and every request is answered */
        }
        ssize_t r = recv(s, (char *) acks + ack_bytes, sizeof acks - ack_bytes, 0);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) {
                continue;
            }
            errno = r < 0 ? errno : EPIPE;
            die("the owner's answers");
        }
        ack_bytes += (size_t) r;
        double t_ack = now();
        for (size_t a = 0; a + sizeof acks[0] <= ack_bytes; a += sizeof acks[0]) {
            if (phase == 1) {
                measured++;
                if (lat_n == lat_cap && (lat = realloc(lat, (lat_cap *= 2) * sizeof *lat)) == NULL) {
                    die("realloc");
                }
                lat[lat_n++] = t_ack - sent_at[done_seq % MAX_DEPTH];
            }
            done_seq++;
        }
        size_t rest = ack_bytes % sizeof acks[0];
        memmove(acks, (char *) acks + ack_bytes - rest, rest);
        ack_bytes = rest;
    }
    double elapsed = t1 - t0;
    close(s);
    int failed = 0;
    for (int k = 0; k < copies; k++) {
        int status;
        if (waitpid(pids[k], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            failed = 1;
        }
    }
    if (failed || measured == 0) {
        fprintf(stderr, "replication-floor: %s\n", failed ? "a node failed" : "no request was answered in the measured time");
        return 1;
    }
    qsort(lat, lat_n, sizeof *lat, by_value);
    printf("%s %d %s %.0f %.0f %.1f %.1f %.1f %.1f\n", argv[1], copies, w->name,
           (double) measured * (double) w->block / elapsed / 1e6, (double) measured / elapsed,
           nodes_cpu_s * 1e6 / (double) measured, client_cpu_s * 1e6 / (double) measured,
           lat[lat_n / 2] * 1e6, lat[(size_t) ((double) lat_n * 0.99)] * 1e6);
    return 0;
}
