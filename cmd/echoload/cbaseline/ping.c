/*
 * ping.c - a minimal TCP ping client for the isolation points of `make bench`: one connection, one 64-byte
 * line at a time, blocking I/O, the round trip of each timed with CLOCK_MONOTONIC.
 *
 *   cc -O2 -o ping-c ping.c
 *   ./ping-c 127.0.0.1 7007 3      3 seconds of round trips; prints {"done":N,"p50_us":X,"p99_us":Y}
 *
 * It costs a few microseconds of CPU per round trip, where a Go client costs several times more, so that on
 * a 2-core machine the handshake flood beside it on the load CPU still gets the CPU it asks for. echobench
 * runs it at real-time priority (chrt) where it may, so that what it measures is the server's delay and not
 * its own wait behind the flood generator.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LINE 64
#define MAXRT (1 << 22)

static double now_us(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
	double d = *(const double *)a - *(const double *)b;
	return d < 0 ? -1 : d > 0;
}

/* roundtrip writes line and reads it back; it returns 0, or -1 on an error or an early end. */
static int roundtrip(int fd, const char *line, char *buf) {
	if (write(fd, line, LINE) != LINE) return -1;
	for (size_t got = 0; got < LINE;) {
		ssize_t n = read(fd, buf + got, LINE - got);
		if (n <= 0) return -1;
		got += (size_t)n;
	}
	return 0;
}

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: ping-c ADDR PORT SECONDS\n");
		return 2;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "ping-c: bad address %s\n", argv[1]);
		return 2;
	}
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("ping-c: connect");
		return 1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	char line[LINE], buf[LINE];
	memset(line, 'a', LINE - 1);
	line[LINE - 1] = '\n';
	double *lat = malloc(MAXRT * sizeof *lat), stop = now_us() + atof(argv[3]) * 1e6;
	size_t n = 0;
	for (double t0 = now_us(); t0 < stop && n < MAXRT; t0 = now_us()) {
		if (roundtrip(fd, line, buf) < 0) {
			perror("ping-c: round trip");
			return 1;
		}
		lat[n++] = now_us() - t0;
	}
	if (n == 0) return 1;
	qsort(lat, n, sizeof *lat, cmp);
	printf("{\"done\":%zu,\"p50_us\":%.3f,\"p99_us\":%.3f}\n", n, lat[n / 2], lat[n * 99 / 100]);
	return 0;
}
