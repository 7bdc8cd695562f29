/*
 * echo.c - a minimal single-threaded epoll echo server, the baseline `make bench` compares echogate with.
 *
 *   cc -O2 -o echo-c echo.c
 *   ./echo-c -p 7007 [-u]        TCP (and with -u also UDP) on 127.0.0.1:7007
 *
 * Level-triggered epoll, non-blocking sockets. TCP: read up to 64 KiB and write back exactly what was read
 * (raw echo, no framing); what the kernel does not take is kept, EPOLLOUT is armed and reading stops until
 * it drains. TCP_NODELAY on accepted sockets. UDP: one recvfrom/sendto per datagram. An idle connection
 * costs no user memory. SIGINT/SIGTERM stop it with status 0.
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
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ 65536
#define MAXEV 256

struct pending { size_t len, off; char data[]; }; /* unsent output of one connection */

static struct pending **pend; /* indexed by fd; NULL while nothing is pending */
static size_t maxfd;
static int ep, tcpfd = -1, udpfd = -1;
static char buf[BUFSZ];
static volatile sig_atomic_t stop;

static void die(const char *what) { perror(what); exit(1); }
static void on_signal(int sig) { (void)sig; stop = 1; }

static int listen_on(int type, int port) {
	int one = 1, fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0) die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
	if (type == SOCK_STREAM && listen(fd, SOMAXCONN) < 0) die("listen");
	return fd;
}

static void ctl(int op, int fd, unsigned events) {
	struct epoll_event ev = { .events = events, .data.fd = fd };
	if (epoll_ctl(ep, op, fd, &ev) < 0) die("epoll_ctl");
}

static void drop(int fd) {
	free(pend[fd]);
	pend[fd] = NULL;
	close(fd); /* also leaves the epoll set */
}

static void accept_all(void) {
	for (;;) {
		int one = 1, fd = accept4(tcpfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED) continue;
			return; /* EAGAIN, or out of fds: try again on the next wake-up */
		}
		if ((size_t)fd >= maxfd) { close(fd); continue; }
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		ctl(EPOLL_CTL_ADD, fd, EPOLLIN);
	}
}

/* send_all writes n bytes; returns how many the kernel took, or -1 after closing fd on an error. */
static ssize_t send_all(int fd, const char *p, size_t n) {
	size_t done = 0;
	while (done < n) {
		ssize_t k = write(fd, p + done, n - done);
		if (k < 0) {
			if (errno == EINTR) continue;
			if (errno == EAGAIN) break;
			drop(fd);
			return -1;
		}
		done += (size_t)k;
	}
	return (ssize_t)done;
}

static void on_read(int fd) {
	ssize_t n = read(fd, buf, sizeof buf), w;
	struct pending *p;
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
	if (n <= 0) { drop(fd); return; } /* EOF or error; nothing is pending while we read */
	if ((w = send_all(fd, buf, (size_t)n)) < 0 || w == n) return;
	if (!(p = malloc(sizeof *p + (size_t)(n - w)))) { drop(fd); return; }
	p->len = (size_t)(n - w);
	p->off = 0;
	memcpy(p->data, buf + w, p->len);
	pend[fd] = p;
	ctl(EPOLL_CTL_MOD, fd, EPOLLOUT); /* stop reading until the backlog drains */
}

static void on_writable(int fd) {
	struct pending *p = pend[fd];
	ssize_t w = send_all(fd, p->data + p->off, p->len - p->off);
	if (w < 0) return;
	p->off += (size_t)w;
	if (p->off < p->len) return;
	free(p);
	pend[fd] = NULL;
	ctl(EPOLL_CTL_MOD, fd, EPOLLIN);
}

static void on_udp(void) {
	for (;;) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(udpfd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
		if (n < 0) {
			if (errno == EINTR) continue;
			return; /* EAGAIN: drained */
		}
		sendto(udpfd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
}

static void setup(int port, int udp) {
	struct rlimit rl;
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: epoll_wait returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	maxfd = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1u << 20) ? (1u << 20) : rl.rlim_cur;
	if (!(pend = calloc(maxfd, sizeof *pend))) die("calloc");
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) die("epoll_create1");
	tcpfd = listen_on(SOCK_STREAM, port);
	ctl(EPOLL_CTL_ADD, tcpfd, EPOLLIN);
	if (udp) {
		udpfd = listen_on(SOCK_DGRAM, port);
		ctl(EPOLL_CTL_ADD, udpfd, EPOLLIN);
	}
}

int main(int argc, char **argv) {
	struct epoll_event evs[MAXEV];
	int port = 7007, udp = 0, c;
	while ((c = getopt(argc, argv, "p:u")) != -1) {
		if (c == 'p') port = atoi(optarg);
		else if (c == 'u') udp = 1;
		else { fprintf(stderr, "usage: %s -p PORT [-u]\n", argv[0]); return 2; }
	}
	setup(port, udp);
	while (!stop) {
		int n = epoll_wait(ep, evs, MAXEV, -1);
		if (n < 0) {
			if (errno == EINTR) continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == tcpfd) accept_all();
			else if (fd == udpfd) on_udp();
			else if (pend[fd]) on_writable(fd);
			else on_read(fd);
		}
	}
	return 0;
}
