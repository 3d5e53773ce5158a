/*
 * echo_uring.c: a plain C liburing echo server, the limit ringline compare
 * measures the Go servers against. One thread, one ring set up like
 * ringline's (SINGLE_ISSUER, DEFER_TASKRUN), multishot accept, multishot
 * recv into a provided buffer ring, and sends straight out of the receive
 * buffers (no copy), one send in flight per connection, in order.
 *
 *   gcc -O2 bench/echo_uring.c -o /tmp/echo_uring -l:liburing.a
 *   /tmp/echo_uring [port]      prints "listening on 127.0.0.1:PORT backend=c-liburing workers=1"
 *
 * SIGINT or SIGTERM ends it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ENTRIES 4096
#define NBUFS 512 /* a power of two */
#define BUFSZ (16 << 10)
#define MAXFD 65536

enum { OP_ACCEPT = 1, OP_RECV, OP_SEND };

struct pending { unsigned short bid; unsigned off, len; };

/* One connection: the received buffers waiting to be echoed, in order. */
struct conn {
	struct pending q[NBUFS];
	unsigned head, count;
	int sending, closing, broken, recv_armed; /* closing: input ended; broken: output failed */
};

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufs;
static struct conn *conns[MAXFD];
static volatile sig_atomic_t stop;

static struct io_uring_sqe *sqe_get(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	if (!sqe) {
		io_uring_submit(&ring);
		sqe = io_uring_get_sqe(&ring);
	}
	return sqe;
}

static void arm(int op, int fd)
{
	struct io_uring_sqe *sqe = sqe_get();
	if (op == OP_ACCEPT) {
		io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, 0);
	} else {
		io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = 0;
	}
	io_uring_sqe_set_data64(sqe, (unsigned long long)op << 32 | (unsigned)fd);
}

static void give_back(unsigned short bid)
{
	io_uring_buf_ring_add(br, bufs + (size_t)bid * BUFSZ, BUFSZ, bid, NBUFS - 1, 0);
	io_uring_buf_ring_advance(br, 1);
}

static void send_head(int fd, struct conn *c)
{
	struct pending *p = &c->q[c->head];
	struct io_uring_sqe *sqe = sqe_get();
	io_uring_prep_send(sqe, fd, bufs + (size_t)p->bid * BUFSZ + p->off, p->len, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, (unsigned long long)OP_SEND << 32 | (unsigned)fd);
	c->sending = 1;
}

/* Frees the connection once nothing is in flight on it. */
static void maybe_close(int fd, struct conn *c)
{
	if (!c->closing || c->sending || c->recv_armed || (c->count && !c->broken))
		return;
	while (c->count) {
		give_back(c->q[c->head].bid);
		c->head = (c->head + 1) % NBUFS;
		c->count--;
	}
	close(fd);
	free(c);
	conns[fd] = NULL;
}

static void on_recv(int fd, struct io_uring_cqe *cqe)
{
	struct conn *c = conns[fd];
	if (!(cqe->flags & IORING_CQE_F_MORE))
		c->recv_armed = 0;
	if (cqe->res > 0) {
		unsigned short bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		if (c->closing) {
			give_back(bid);
		} else {
			c->q[(c->head + c->count) % NBUFS] = (struct pending){bid, 0, (unsigned)cqe->res};
			c->count++;
			if (!c->sending)
				send_head(fd, c);
		}
	} else if (cqe->res != -ENOBUFS) {
		c->closing = 1; /* EOF or error */
	}
	if (!c->recv_armed && !c->closing) {
		arm(OP_RECV, fd);
		c->recv_armed = 1;
	}
	maybe_close(fd, c);
}

static void on_send(int fd, struct io_uring_cqe *cqe)
{
	struct conn *c = conns[fd];
	struct pending *p = &c->q[c->head];
	c->sending = 0;
	if (cqe->res < 0) {
		c->closing = c->broken = 1;
		if (c->recv_armed)
			shutdown(fd, SHUT_RDWR); /* ends the armed recv */
	} else {
		p->off += cqe->res;
		p->len -= cqe->res;
		if (p->len == 0) {
			give_back(p->bid);
			c->head = (c->head + 1) % NBUFS;
			c->count--;
		}
		if (c->count)
			send_head(fd, c); /* after EOF too: echo what was received */
	}
	maybe_close(fd, c);
}

static void on_stop(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 0, one = 1, ret;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	socklen_t len = sizeof(sa);
	struct io_uring_params params = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN};

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1024) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len)) {
		perror("echo_uring: listen");
		return 1;
	}
	if ((ret = io_uring_queue_init_params(ENTRIES, &ring, &params)) < 0) {
		fprintf(stderr, "echo_uring: io_uring_queue_init: %s\n", strerror(-ret));
		return 1;
	}
	bufs = malloc((size_t)NBUFS * BUFSZ);
	if (posix_memalign((void **)&br, 4096, NBUFS * sizeof(struct io_uring_buf)) || !bufs) {
		fprintf(stderr, "echo_uring: out of memory\n");
		return 1;
	}
	io_uring_buf_ring_init(br);
	struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)br, .ring_entries = NBUFS, .bgid = 0};
	if ((ret = io_uring_register_buf_ring(&ring, &reg, 0)) < 0) {
		fprintf(stderr, "echo_uring: register buffer ring: %s\n", strerror(-ret));
		return 1;
	}
	for (int i = 0; i < NBUFS; i++)
		give_back(i);
	struct sigaction act = {.sa_handler = on_stop}; /* no SA_RESTART: the wait returns -EINTR */
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGTERM, &act, NULL);
	signal(SIGPIPE, SIG_IGN);
	printf("listening on 127.0.0.1:%d backend=c-liburing workers=1\n", ntohs(sa.sin_port));
	fflush(stdout);
	arm(OP_ACCEPT, lfd);
	while (!stop) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		if (io_uring_submit_and_wait(&ring, 1) < 0)
			continue; /* -EINTR from a signal: the loop checks stop */
		io_uring_for_each_cqe(&ring, head, cqe) {
			int op = cqe->user_data >> 32, fd = (int)(cqe->user_data & 0xffffffff);
			n++;
			if (op == OP_ACCEPT) {
				if (cqe->res >= 0 && cqe->res < MAXFD && (conns[cqe->res] = calloc(1, sizeof(struct conn)))) {
					arm(OP_RECV, cqe->res);
					conns[cqe->res]->recv_armed = 1;
				} else if (cqe->res >= 0) {
					close(cqe->res);
				}
				if (!(cqe->flags & IORING_CQE_F_MORE))
					arm(OP_ACCEPT, lfd);
			} else if (op == OP_RECV) {
				on_recv(fd, cqe);
			} else if (op == OP_SEND) {
				on_send(fd, cqe);
			}
		}
		io_uring_cq_advance(&ring, n);
	}
	io_uring_queue_exit(&ring);
	return 0;
}
