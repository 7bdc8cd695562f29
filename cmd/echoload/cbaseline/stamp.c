/*
 * stamp.c - a minimal STAMP Session-Reflector (RFC 8762, unauthenticated, stateless), the baseline the
 * STAMP point of `make bench` compares echogate's reflector with.
 *
 *   cc -O2 -o stamp-c stamp.c
 *   ./stamp-c -p 8620          UDP on 127.0.0.1:8620 (and a TCP listening socket there, for readiness)
 *
 * One blocking recvmsg per test packet with the kernel's receive timestamp (SO_TIMESTAMPNS) as T2 and the
 * received TTL (IP_RECVTTL); the reflected packet is written over the test packet, of its size (44 octets
 * at least), and T3 is read with clock_gettime just before sendmsg. The Error Estimate is a constant
 * (unsynchronised, Scale 0, Multiplier 1): what is compared is the time the reflector takes, not the clock's
 * state. SIGINT/SIGTERM stop it with status 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NTP_OFFSET 2208988800ULL

static volatile sig_atomic_t stop;

static void die(const char *what) { perror(what); exit(1); }
static void on_signal(int sig) { (void)sig; stop = 1; }

static int bound(int type, int port) {
	int one = 1, fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0) die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
	if (type == SOCK_STREAM && listen(fd, 16) < 0) die("listen");
	return fd;
}

static void put32(unsigned char *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }

static void put_ntp(unsigned char *p, const struct timespec *ts) {
	put32(p, (uint32_t)(ts->tv_sec + NTP_OFFSET));
	put32(p + 4, (uint32_t)(((uint64_t)ts->tv_nsec << 32) / 1000000000ULL));
}

int main(int argc, char **argv) {
	int c, port = 0, one = 1;
	while ((c = getopt(argc, argv, "p:")) != -1) {
		if (c == 'p') port = atoi(optarg);
		else { fprintf(stderr, "usage: %s -p PORT\n", argv[0]); return 2; }
	}
	if (port <= 0) { fprintf(stderr, "usage: %s -p PORT\n", argv[0]); return 2; }
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: recvmsg returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	(void)bound(SOCK_STREAM, port);
	int fd = bound(SOCK_DGRAM, port);
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) < 0) die("SO_TIMESTAMPNS");
	if (setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &one, sizeof one) < 0) die("IP_RECVTTL");
	static unsigned char pkt[65536];
	char ctl[256];
	struct sockaddr_in from;
	while (!stop) {
		struct iovec iov = { .iov_base = pkt, .iov_len = sizeof pkt };
		struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl, .msg_controllen = sizeof ctl };
		ssize_t n = recvmsg(fd, &m, 0);
		if (n < 0) {
			if (errno == EINTR) continue;
			die("recvmsg");
		}
		if (n < 44) continue;
		struct timespec t2 = {0}, t3;
		int ttl = 0;
		for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
			if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_TIMESTAMPNS) memcpy(&t2, CMSG_DATA(h), sizeof t2);
			if (h->cmsg_level == IPPROTO_IP && h->cmsg_type == IP_TTL) memcpy(&ttl, CMSG_DATA(h), sizeof ttl);
		}
		unsigned char s[14];
		memcpy(s, pkt, 14); /* the sender's Sequence Number, Timestamp and Error Estimate */
		memset(pkt, 0, 44);
		memcpy(pkt, s, 4);       /* stateless: the sender's sequence number */
		pkt[12] = 0, pkt[13] = 1; /* Error Estimate */
		put_ntp(pkt + 16, &t2);
		memcpy(pkt + 24, s, 14);  /* Session-Sender Sequence Number, Timestamp, Error Estimate */
		pkt[40] = (unsigned char)ttl;
		struct iovec out = { .iov_base = pkt, .iov_len = (size_t)n };
		struct msghdr r = { .msg_name = &from, .msg_namelen = m.msg_namelen, .msg_iov = &out, .msg_iovlen = 1 };
		clock_gettime(CLOCK_REALTIME, &t3);
		put_ntp(pkt + 4, &t3);
		if (sendmsg(fd, &r, 0) < 0 && errno != EINTR) perror("sendmsg");
	}
	return 0;
}
