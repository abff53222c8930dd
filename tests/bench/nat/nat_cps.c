/* New TCP connections per second through a NAT, for tests/bench/nat/run (CPS=c).
 *
 *   nat_cps serve ADDR PORT [P]              P processes (default 2, SO_REUSEPORT) accept,
 *                                            read one byte, close (the server closes
 *                                            first: TIME_WAIT stays on its side)
 *   nat_cps connect ADDR PORT SECONDS [N [P]]
 *                                            P processes (default 2) each keep N
 *                                            connections (default 32) in flight: connect,
 *                                            send one byte, wait for the close, again;
 *                                            prints completed connections per second
 *
 * The same exchange as nat_cps.py, in C with epoll: the Python ends spend about
 * 500 us of the machine's two cores per connection, so the NAT's own cost (a few
 * to a few tens of us) hides in their noise; here the ends cost far less and the
 * path's share shows. One process a core at each end, since a sender's system
 * call carries its packet through the gateway's namespace to the receiver: one
 * process would leave the other core idle. A connection not finished in 2 s is
 * given up and counted on stderr (a lost SYN, a full table), never waited for. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_INFLIGHT 1024
#define GIVE_UP_NS 2000000000LL

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int parse_addr(const char *addr, const char *port, struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)atoi(port));
	return inet_pton(AF_INET, addr, &sin->sin_addr) == 1 ? 0 : -1;
}

static int serve(const struct sockaddr_in *sin)
{
	int one = 1, ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int ep = epoll_create1(0);
	if (ls < 0 || ep < 0)
		return perror("socket"), 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(ls, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(ls, (const struct sockaddr *)sin, sizeof(*sin)) < 0 || listen(ls, 4096) < 0)
		return perror("bind/listen"), 1;
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = ls };
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	for (;;) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, -1);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd != ls) {
				char b;
				(void)recv(fd, &b, 1, 0);	/* the byte, EOF or an error: done */
				close(fd);	/* which also takes it out of the epoll set */
				continue;
			}
			int c;
			while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
				struct epoll_event ce = { .events = EPOLLIN, .data.fd = c };
				if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce) < 0)
					close(c);
			}
		}
	}
}

struct slot {
	int fd;
	int sent;
	long long start;
};

static int start_one(int ep, struct slot *s, const struct sockaddr_in *sin)
{
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (s->fd < 0)
		return -1;
	s->sent = 0;
	s->start = now_ns();
	if (connect(s->fd, (const struct sockaddr *)sin, sizeof(*sin)) < 0 && errno != EINPROGRESS) {
		close(s->fd);
		s->fd = -1;
		return -1;
	}
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN, .data.ptr = s };
	return epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
}

/* One readiness event of slot s: 1 when its connection completed, -1 when it
 * failed, 0 while it goes on. */
static int step(int ep, struct slot *s, uint32_t events)
{
	if (events & EPOLLERR)
		return -1;
	if (!s->sent && (events & EPOLLOUT)) {
		if (send(s->fd, "x", 1, MSG_NOSIGNAL) != 1)
			return -1;
		s->sent = 1;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
		epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
		return 0;
	}
	if (events & (EPOLLIN | EPOLLHUP)) {
		char b;
		ssize_t r = recv(s->fd, &b, 1, 0);
		if (r == 0)
			return s->sent ? 1 : -1;
		if (r < 0 && errno != EAGAIN)
			return -1;
	}
	return 0;
}

/* Completed connections in the time given (the failed ones told on stderr). */
static long connect_loop(const struct sockaddr_in *sin, double seconds, int inflight)
{
	static struct slot slots[MAX_INFLIGHT];
	int ep = epoll_create1(0);
	long long t0 = now_ns(), end = t0 + (long long)(seconds * 1e9);
	long done = 0, failed = 0;
	if (ep < 0)
		return perror("epoll"), 0;
	for (int i = 0; i < inflight; i++)
		if (start_one(ep, &slots[i], sin) < 0)
			failed++;
	while (now_ns() < end) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, 100);
		for (int i = 0; i < n; i++) {
			struct slot *s = evs[i].data.ptr;
			int r = step(ep, s, evs[i].events);
			if (r == 0)
				continue;
			r > 0 ? done++ : failed++;
			close(s->fd);
			if (start_one(ep, s, sin) < 0)
				failed++;
		}
		long long t = now_ns();
		for (int i = 0; i < inflight; i++) {
			if (slots[i].fd >= 0 && t - slots[i].start < GIVE_UP_NS)
				continue;
			if (slots[i].fd >= 0) {
				close(slots[i].fd);
				failed++;
			}
			if (start_one(ep, &slots[i], sin) < 0)
				failed++;
		}
	}
	if (failed)
		fprintf(stderr, "nat_cps: %ld connections failed or given up\n", failed);
	return done;
}

/* P children each run the connect loop and write their count to the pipe. */
static int run_children(int procs, const struct sockaddr_in *sin, double seconds, int inflight)
{
	int pfd[2];
	long long t0 = now_ns();
	if (pipe(pfd) < 0)
		return perror("pipe"), 1;
	for (int i = 0; i < procs; i++) {
		if (fork() == 0) {
			long n = connect_loop(sin, seconds, inflight);
			_exit(write(pfd[1], &n, sizeof(n)) == sizeof(n) ? 0 : 1);
		}
	}
	close(pfd[1]);
	long total = 0, n;
	while (read(pfd[0], &n, sizeof(n)) == sizeof(n))
		total += n;
	while (wait(NULL) > 0)
		;
	printf("%ld\n", (long)(total / ((double)(now_ns() - t0) / 1e9)));
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin;
	if (argc >= 4 && !strcmp(argv[1], "serve") && parse_addr(argv[2], argv[3], &sin) == 0) {
		int procs = argc > 4 ? atoi(argv[4]) : 2;
		for (int i = 1; i < procs && i < 64; i++)
			if (fork() == 0) {
				prctl(PR_SET_PDEATHSIG, SIGTERM);	/* ends with the first */
				break;
			}
		return serve(&sin);
	}
	if (argc >= 5 && !strcmp(argv[1], "connect") && parse_addr(argv[2], argv[3], &sin) == 0) {
		int n = argc > 5 ? atoi(argv[5]) : 32, procs = argc > 6 ? atoi(argv[6]) : 2;
		if (n < 1 || n > MAX_INFLIGHT)
			n = 32;
		if (procs < 1 || procs > 64)
			procs = 2;
		return run_children(procs, &sin, atof(argv[4]), n);
	}
	fprintf(stderr, "usage: nat_cps serve ADDR PORT [P] | connect ADDR PORT SECONDS [N [P]]\n");
	return 2;
}
