/*
 * replication-floor: what a synchronously replicated sequential write can cost at least on
 * this machine, with no hablock, no JVM and no NBD in the way.
 *
 * One client process writes 1 MiB requests, 8 in flight, to an "owner" process over loopback
 * TCP. The owner stores each request in its file and sends it to COPIES-1 "replica" processes,
 * which store it in theirs; the owner acknowledges when every replica has acknowledged. This is
 * the data movement of hablock's write path (ARCHITECTURE.md, "A write, from socket to disk")
 * and nothing else: no framing beyond a 16-byte header, no epochs, no checksums, no threads.
 *
 *   copy   : recv() into a buffer, pwrite() it, send() it to each replica: 2 + 2 x (COPIES-1)
 *            kernel memory copies of every byte on the nodes' side, as hablock does.
 *   splice : splice() from the socket into a pipe, tee() it to one pipe per replica, splice()
 *            those into the replicas' sockets and the first into the file; replicas splice
 *            socket -> pipe -> file. One memory copy per stored copy (into the page cache).
 *
 * Usage: replication-floor copy|splice COPIES DIR SECONDS SIZE_MIB CLIENT_CPU NODES_CPU
 *   DIR holds one SIZE_MIB file per copy (use a tmpfs); CPU -1 means not pinned.
 * Prints one line: mode copies MB/s nodes-CPU-us-per-MiB client-CPU-us-per-MiB.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (1 << 20)
#define DEPTH 8
#define MAX_COPIES 8

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

static int read_full(int fd, void *buf, size_t n) { /* 0 at EOF before any byte, else 1 */
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *) buf + got, n - got);
        if (r == 0 && got == 0) {
            return 0;
        }
        if (r <= 0) {
            if (r < 0 && errno == EINTR) {
                continue;
            }
            die("read");
        }
        got += (size_t) r;
    }
    return 1;
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

/* Moves exactly n bytes from in to out (one of them a pipe); off is the file offset or NULL. */
static void splice_full(int in, int out, loff_t *off, size_t n) {
    while (n > 0) {
        ssize_t r = splice(in, NULL, out, off, n, SPLICE_F_MOVE | SPLICE_F_MORE);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) {
                continue;
            }
            die("splice");
        }
        n -= (size_t) r;
    }
}

static void make_pipe(int p[2]) {
    if (pipe(p) != 0) {
        die("pipe");
    }
    if (fcntl(p[1], F_SETPIPE_SZ, BLOCK) < 0) {
        die("F_SETPIPE_SZ 1 MiB");
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

static int open_store(const char *dir, int k, off_t size) {
    char path[4096];
    snprintf(path, sizeof path, "%s/copy-%d.img", dir, k);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        die(path);
    }
    /*
     * Filled up front, as the bench fills its volumes: the measured writes rewrite pages that
     * exist and have been touched (a first touch can cost a fault in the hypervisor too).
     */
    static char ones[BLOCK];
    memset(ones, 1, sizeof ones);
    for (off_t off = 0; off < size; off += BLOCK) {
        pwrite_full(fd, ones, BLOCK, off);
    }
    return fd;
}

static double cpu_seconds(int who);

/*
 * A node: the owner when it has replicas to send to, a replica otherwise. Leaves the CPU time
 * it spent from its first request to the end in *cpu.
 */
static void node(int splicing, int in, int fd, const int *reps, int nreps, double *cpu) {
    static char buf[BLOCK];
    int pipes[MAX_COPIES][2];
    for (int r = 0; r <= nreps && splicing; r++) {
        make_pipe(pipes[r]);
    }
    struct header h;
    double cpu0 = -1;
    while (read_full(in, &h, sizeof h)) {
        if (cpu0 < 0) {
            cpu0 = cpu_seconds(RUSAGE_SELF);
        }
        if (h.length > BLOCK) {
            errno = EINVAL;
            die("request longer than 1 MiB");
        }
        for (int r = 0; r < nreps; r++) {
            send_full(reps[r], &h, sizeof h, MSG_MORE);
        }
        if (!splicing) {
            read_full(in, buf, h.length);
            for (int r = 0; r < nreps; r++) {
                send_full(reps[r], buf, h.length, 0);
            }
            pwrite_full(fd, buf, h.length, (off_t) h.offset);
        } else {
            loff_t off = (loff_t) h.offset;
            for (size_t left = h.length; left > 0;) {
                ssize_t n = splice(in, NULL, pipes[0][1], NULL, left, SPLICE_F_MOVE | SPLICE_F_MORE);
                if (n <= 0) {
                    die("splice from socket");
                }
                for (int r = 0; r < nreps; r++) {
                    if (tee(pipes[0][0], pipes[r + 1][1], (size_t) n, 0) != n) {
                        die("tee did not duplicate the whole chunk");
                    }
                    splice_full(pipes[r + 1][0], reps[r], NULL, (size_t) n);
                }
                splice_full(pipes[0][0], fd, &off, (size_t) n);
                left -= (size_t) n;
            }
        }
        uint64_t ack;
        for (int r = 0; r < nreps; r++) {
            read_full(reps[r], &ack, sizeof ack);
        }
        send_full(in, &h.offset, sizeof h.offset, 0);
    }
    *cpu = cpu0 < 0 ? 0 : cpu_seconds(RUSAGE_SELF) - cpu0;
    exit(0);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

static double cpu_seconds(int who) {
    struct rusage u;
    getrusage(who, &u);
    return (double) (u.ru_utime.tv_sec + u.ru_stime.tv_sec)
            + (double) (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: replication-floor copy|splice COPIES DIR SECONDS SIZE_MIB CLIENT_CPU NODES_CPU\n");
        return 2;
    }
    int splicing = strcmp(argv[1], "splice") == 0;
    int copies = atoi(argv[2]);
    double seconds = atof(argv[4]);
    off_t size = (off_t) atol(argv[5]) << 20;
    int client_cpu = atoi(argv[6]), nodes_cpu = atoi(argv[7]);
    if ((!splicing && strcmp(argv[1], "copy") != 0) || copies < 1 || copies > MAX_COPIES
            || seconds <= 0 || size < BLOCK) {
        fprintf(stderr, "replication-floor: bad arguments\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    /* replicas 1..copies-1 first, then the owner (copy 0), each a process of its own */
    double *cpu = mmap(NULL, sizeof(double) * MAX_COPIES, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (cpu == MAP_FAILED) {
        die("mmap");
    }
    uint16_t port[MAX_COPIES];
    int lsock[MAX_COPIES];
    for (int k = 0; k < copies; k++) {
        lsock[k] = listener(&port[k]);
    }
    for (int k = copies - 1; k >= 0; k--) {
        pid_t pid = fork();
        if (pid < 0) {
            die("fork");
        }
        if (pid == 0) {
            pin(nodes_cpu);
            int fd = open_store(argv[3], k, size);
            int reps[MAX_COPIES];
            for (int r = 1; k == 0 && r < copies; r++) {
                reps[r - 1] = connect_to(port[r]);
            }
            for (int j = 0; j < copies; j++) {
                if (j != k) {
                    close(lsock[j]);
                }
            }
            node(splicing, accept_one(lsock[k]), fd, reps, k == 0 ? copies - 1 : 0, &cpu[k]);
        }
    }
    for (int k = 0; k < copies; k++) {
        close(lsock[k]);
    }

    pin(client_cpu);
    int s = connect_to(port[0]);
    static char data[BLOCK];
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < BLOCK; i += sizeof x) { /* incompressible, like fio's default buffers */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(data + i, &x, sizeof x);
    }
    double client_cpu0 = cpu_seconds(RUSAGE_SELF);
    double start = now(), end = start + seconds;
    uint64_t next = 0, done = 0;
    int in_flight = 0;
    for (;;) {
        while (in_flight < DEPTH && now() < end) {
            struct header h = {.offset = next, .length = BLOCK};
            send_full(s, &h, sizeof h, MSG_MORE);
            send_full(s, data, BLOCK, 0);
            next = (next + BLOCK) % (uint64_t) size;
            in_flight++;
        }
        if (in_flight == 0) {
            break;
        }
        uint64_t ack;
        if (!read_full(s, &ack, sizeof ack)) {
            errno = EPIPE;
            die("owner closed the connection");
        }
        in_flight--;
        done++;
    }
    double elapsed = now() - start;
    double client_cpu_s = cpu_seconds(RUSAGE_SELF) - client_cpu0;
    close(s);
    while (wait(NULL) > 0) {
    }
    double nodes_cpu_s = 0;
    for (int k = 0; k < copies; k++) {
        nodes_cpu_s += cpu[k];
    }
    printf("%s %d %.0f %.0f %.0f\n", argv[1], copies, (double) done * BLOCK / elapsed / 1e6,
           nodes_cpu_s * 1e6 / (double) done, client_cpu_s * 1e6 / (double) done);
    return 0;
}
