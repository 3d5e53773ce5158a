/*
 * liburing_shim.c: thin translation of ringline descriptors into liburing
 * calls. See liburing_shim.h for the contract; Go owns every decision.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <linux/nvme_ioctl.h>
#include "liburing_shim.h"

/* The Go side mirrors these layouts; nvme.go encodes this exact struct. */
_Static_assert(sizeof(struct rl_op) == 56, "rl_op layout");
_Static_assert(sizeof(struct rl_cqe) == 32, "rl_cqe layout");
_Static_assert(sizeof(struct nvme_uring_cmd) == 72, "nvme_uring_cmd size");
_Static_assert(offsetof(struct nvme_uring_cmd, addr) == 24, "nvme_uring_cmd addr");
_Static_assert(offsetof(struct nvme_uring_cmd, cdw10) == 40, "nvme_uring_cmd cdw10");
_Static_assert(offsetof(struct nvme_uring_cmd, timeout_ms) == 64, "nvme_uring_cmd timeout_ms");
_Static_assert(NVME_URING_CMD_IO == 0xC0484E80u, "NVME_URING_CMD_IO");
/* rl_op.kind is one byte. */
_Static_assert(RL_KIND_COUNT <= 256, "rl_kind fits rl_op.kind");

int rl_setup(struct rl_ring **out, unsigned entries, struct io_uring_params *p, unsigned cqe_cap)
{
	struct rl_ring *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->op_cap = entries;
	r->cqe_cap = cqe_cap;
	r->ops = calloc(entries, sizeof(*r->ops));
	r->cmds = calloc(entries, RL_CMD_AREA);
	r->cqes = calloc(cqe_cap, sizeof(*r->cqes));
	int ret = -ENOMEM;
	if (r->ops && r->cmds && r->cqes)
		ret = io_uring_queue_init_params(entries, &r->ring, p);
	if (ret < 0) {
		free(r->ops), free(r->cmds), free(r->cqes), free(r);
		return ret;
	}
	*out = r;
	return 0;
}

void rl_close(struct rl_ring *r)
{
	io_uring_queue_exit(&r->ring);
	free(r->ops), free(r->cmds), free(r->cqes), free(r);
}

/*
 * One prep function per descriptor kind, each a plain translation of the
 * descriptor's fields into one io_uring_prep_* call (see enum rl_kind for
 * which field carries what). liburing's helpers rewrite every field of the
 * 64-byte SQE but user_data, which rl_prep_batch sets, so nothing of the
 * slot's previous operation survives a prep.
 */
typedef void (*rl_prep_fn)(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd);

static inline void *rl_ptr(uint64_t addr)
{
	return (void *)(uintptr_t)addr;
}

static void rl_prep_nop(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd)
{
	io_uring_prep_nop(sqe);
	sqe->len = op->len;
	sqe->rw_flags = (int)op->flags;
	sqe->off = op->off;   /* IORING_NOP_CQE32: big_cqe[0] */
	sqe->addr = op->addr; /* IORING_NOP_CQE32: big_cqe[1] */
}

static void rl_prep_recv_multi(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd)
{
	io_uring_prep_recv_multishot(sqe, op->fd, NULL, 0, 0);
	sqe->buf_group = (uint16_t)op->aux;
}

static void rl_prep_recvmsg_multi(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd)
{
	io_uring_prep_recvmsg_multishot(sqe, op->fd, rl_ptr(op->addr), op->flags);
	sqe->buf_group = (uint16_t)op->aux;
}

static void rl_prep_send(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd)
{
	io_uring_prep_send(sqe, op->fd, rl_ptr(op->addr), op->len, (int)op->flags);
}

static void rl_prep_sendmsg(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd)
{
	io_uring_prep_sendmsg(sqe, op->fd, rl_ptr(op->addr), op->flags);
}

static void rl_prep_sendmsg_zc(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd)
{
	io_uring_prep_sendmsg_zc(sqe, op->fd, rl_ptr(op->addr), op->flags);
}

static void rl_prep_poll_add(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd)
{
	io_uring_prep_poll_add(sqe, op->fd, op->len);
}

static void rl_prep_read(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd)
{
	io_uring_prep_read(sqe, op->fd, rl_ptr(op->addr), op->len, op->off);
}

static void rl_prep_write(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd)
{
	io_uring_prep_write(sqe, op->fd, rl_ptr(op->addr), op->len, op->off);
}

static void rl_prep_fsync(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd)
{
	io_uring_prep_fsync(sqe, op->fd, op->flags);
}

static void rl_prep_close_direct(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd)
{
	io_uring_prep_close_direct(sqe, op->aux);
}

static void rl_prep_connect(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd)
{
	io_uring_prep_connect(sqe, op->fd, rl_ptr(op->addr), op->len);
}

static void rl_prep_timeout(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd)
{
	io_uring_prep_timeout(sqe, rl_ptr(op->addr), 0, op->flags);
}

static void rl_prep_cancel(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd)
{
	io_uring_prep_cancel64(sqe, op->addr, (int)op->flags);
}

static void rl_prep_shutdown(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd)
{
	io_uring_prep_shutdown(sqe, op->fd, (int)op->len);
}

/* liburing 2.3 has no io_uring_prep_cmd helper: build IORING_OP_URING_CMD by hand. */
static void rl_prep_uring_cmd(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd)
{
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, op->fd, NULL, 0, 0);
	sqe->cmd_op = op->aux;
	memcpy(sqe->cmd, cmd, RL_CMD_AREA);
}

static void rl_prep_openat_direct(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd)
{
	io_uring_prep_openat_direct(sqe, AT_FDCWD, rl_ptr(op->addr), (int)op->flags, op->len, op->aux);
}

static void rl_prep_statx(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd)
{
	const char *path = op->addr ? rl_ptr(op->addr) : "";
	io_uring_prep_statx(sqe, op->fd, path, (int)op->flags, op->aux, rl_ptr(op->addr2));
}

static void rl_prep_renameat(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd)
{
	io_uring_prep_renameat(sqe, AT_FDCWD, rl_ptr(op->addr), AT_FDCWD, rl_ptr(op->addr2), op->flags);
}

static void rl_prep_unlinkat(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd)
{
	io_uring_prep_unlinkat(sqe, AT_FDCWD, rl_ptr(op->addr), (int)op->flags);
}

static void rl_prep_mkdirat(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd)
{
	io_uring_prep_mkdirat(sqe, AT_FDCWD, rl_ptr(op->addr), op->len);
}

static void rl_prep_accept_multi(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd)
{
	io_uring_prep_multishot_accept(sqe, op->fd, NULL, NULL, (int)op->flags);
}

static void rl_prep_close(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd)
{
	io_uring_prep_close(sqe, op->fd);
}

static void rl_prep_openat(struct io_uring_sqe *sqe, const struct rl_op *op, const uint8_t *cmd)
{
	io_uring_prep_openat(sqe, AT_FDCWD, rl_ptr(op->addr), (int)op->flags, op->len);
}

/* Indexed by enum rl_kind; entry 0 and any kind left out stay NULL, which
 * rl_prep_batch treats as unknown. */
static const rl_prep_fn rl_preps[RL_KIND_COUNT] = {
	[RL_NOP] = rl_prep_nop,
	[RL_RECV_MULTI] = rl_prep_recv_multi,
	[RL_RECVMSG_MULTI] = rl_prep_recvmsg_multi,
	[RL_SEND] = rl_prep_send,
	[RL_SENDMSG] = rl_prep_sendmsg,
	[RL_SENDMSG_ZC] = rl_prep_sendmsg_zc,
	[RL_POLL_ADD] = rl_prep_poll_add,
	[RL_READ] = rl_prep_read,
	[RL_WRITE] = rl_prep_write,
	[RL_FSYNC] = rl_prep_fsync,
	[RL_CLOSE_DIRECT] = rl_prep_close_direct,
	[RL_CONNECT] = rl_prep_connect,
	[RL_TIMEOUT] = rl_prep_timeout,
	[RL_CANCEL] = rl_prep_cancel,
	[RL_SHUTDOWN] = rl_prep_shutdown,
	[RL_URING_CMD] = rl_prep_uring_cmd,
	[RL_OPENAT_DIRECT] = rl_prep_openat_direct,
	[RL_STATX] = rl_prep_statx,
	[RL_RENAMEAT] = rl_prep_renameat,
	[RL_UNLINKAT] = rl_prep_unlinkat,
	[RL_MKDIRAT] = rl_prep_mkdirat,
	[RL_ACCEPT_MULTI] = rl_prep_accept_multi,
	[RL_CLOSE] = rl_prep_close,
	[RL_OPENAT] = rl_prep_openat,
};

/* The SQE flags an unknown descriptor keeps: only those that place it in a
 * chain, so a linked chain still breaks at it. Others (BUFFER_SELECT, ...)
 * would make the kernel answer something other than -EINVAL for the NOP. */
#define RL_UNKNOWN_SQE_FLAGS (IOSQE_IO_LINK | IOSQE_IO_HARDLINK | IOSQE_IO_DRAIN)

/*
 * A descriptor of no known kind: Go only queues its own constants, so this
 * is a safety net for a bug. Leaving the SQE as it is would be the worst
 * answer: liburing 2.3 does not clear a reused SQE, so the kernel would run
 * the slot's previous operation again under the new user_data. The SQE is
 * wiped and becomes a NOP whose completion carries -EINVAL under the
 * descriptor's own user_data, through the normal completion path
 * (IORING_NOP_INJECT_RESULT, Linux 6.6; an older kernel completes it with 0,
 * so r->bad_kinds counts it too and Go returns an error from the call).
 */
static void rl_prep_unknown(struct io_uring_sqe *sqe)
{
	memset(sqe, 0, sizeof(*sqe));
	io_uring_prep_nop(sqe);
	sqe->rw_flags = IORING_NOP_INJECT_RESULT;
	sqe->len = (unsigned)-EINVAL;
}

/* Prep descriptors [0, nops). Go never queues more than the free SQ space,
 * so every io_uring_get_sqe succeeds; the count prepped is returned all the
 * same, for Go to check that promise. */
static unsigned rl_prep_batch(struct rl_ring *r, unsigned nops)
{
	unsigned i;

	r->bad_kinds = 0;
	for (i = 0; i < nops; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
		const struct rl_op *op = &r->ops[i];
		rl_prep_fn prep = op->kind < RL_KIND_COUNT ? rl_preps[op->kind] : NULL;
		uint8_t sqe_flags = op->sqe_flags;

		if (!sqe)
			break;
		if (prep) {
			prep(sqe, op, r->cmds + (size_t)i * RL_CMD_AREA);
		} else {
			rl_prep_unknown(sqe);
			sqe_flags &= RL_UNKNOWN_SQE_FLAGS;
			r->bad_kinds++;
		}
		sqe->flags |= sqe_flags;
		sqe->user_data = op->user_data;
	}
	return i;
}

/* Copy up to max completions out of the CQ (CQE32 stride) and release them to
 * the kernel. liburing posts no internal timeouts of its own here: with
 * IORING_FEAT_EXT_ARG (5.11) it passes wait timeouts to io_uring_enter. */
static unsigned rl_reap(struct rl_ring *r, unsigned max)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&r->ring, head, cqe) {
		if (n == max)
			break;
		struct rl_cqe *out = &r->cqes[n++];
		out->user_data = cqe->user_data;
		out->res = cqe->res;
		out->flags = cqe->flags;
		out->extra[0] = cqe->big_cqe[0];
		out->extra[1] = cqe->big_cqe[1];
	}
	io_uring_cq_advance(&r->ring, n);
	return n;
}

/* Make the liburing call Go chose (enum rl_call); wait_nr and timeout_ns are
 * passed to the calls that take them and ignored by the others. */
static int rl_submit(struct rl_ring *r, unsigned call, unsigned wait_nr, long long timeout_ns)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = {
		.tv_sec = timeout_ns / 1000000000LL,
		.tv_nsec = timeout_ns % 1000000000LL,
	};

	switch (call) {
	case RL_CALL_SUBMIT:
		return io_uring_submit(&r->ring);
	case RL_CALL_SUBMIT_GETEVENTS:
		return io_uring_submit_and_get_events(&r->ring);
	case RL_CALL_SUBMIT_WAIT:
		return io_uring_submit_and_wait(&r->ring, wait_nr);
	case RL_CALL_SUBMIT_WAIT_TIMEOUT:
		return io_uring_submit_and_wait_timeout(&r->ring, &cqe, wait_nr, &ts, NULL);
	}
	return -EINVAL;
}

/* The one crossing of a loop iteration: prep, submit, wait, reap. Returns the
 * number of completions copied into r->cqes; submit or wait errors go to r->err.
 * An unknown call submits nothing: the prepped SQEs wait in the SQ for the
 * next call, as after a refused submit. */
int rl_enter(struct rl_ring *r, unsigned nops, unsigned call, unsigned wait_nr,
	     long long timeout_ns, unsigned max_cqes)
{
	r->prepped = rl_prep_batch(r, nops);
	int ret = rl_submit(r, call, wait_nr, timeout_ns);
	r->err = ret < 0 ? ret : 0;
	r->sq_left = io_uring_sq_ready(&r->ring);
	return (int)rl_reap(r, max_cqes < r->cqe_cap ? max_cqes : r->cqe_cap);
}

/* Cancel the requests in flight that match flags (IORING_ASYNC_CANCEL_*) and
 * fd, and wait for the cancellations with no time limit (Linux 6.0). Close
 * cancels everything this way, so nothing still uses registered memory when
 * the ring is torn down. */
int rl_sync_cancel(struct rl_ring *r, unsigned flags, int fd)
{
	struct io_uring_sync_cancel_reg reg = {
		.flags = flags,
		.fd = fd,
		.timeout = { .tv_sec = -1, .tv_nsec = -1 },
	};
	return io_uring_register_sync_cancel(&r->ring, &reg);
}

/* SQPOLL only: wait until the polling thread has consumed SQEs. */
int rl_sqring_wait(struct rl_ring *r)
{
	int ret = io_uring_sqring_wait(&r->ring);
	r->sq_left = io_uring_sq_ready(&r->ring);
	return ret;
}

int rl_register_files_sparse(struct rl_ring *r, unsigned nr)
{
	return io_uring_register_files_sparse(&r->ring, nr);
}

int rl_register_files_update(struct rl_ring *r, unsigned off, const int *fds, unsigned nr)
{
	return io_uring_register_files_update(&r->ring, off, fds, nr);
}

int rl_register_buffers_sparse(struct rl_ring *r, unsigned nr)
{
	return io_uring_register_buffers_sparse(&r->ring, nr);
}

/* A NULL base with length 0 clears the slot. */
int rl_register_buffer_update(struct rl_ring *r, unsigned slot, void *base, size_t len)
{
	struct iovec iov = { .iov_base = base, .iov_len = len };
	__u64 tag = 0;
	return io_uring_register_buffers_update_tag(&r->ring, slot, &iov, &tag, 1);
}

int rl_register_buf_ring(struct rl_ring *r, void *ring_addr, unsigned entries, unsigned bgid)
{
	struct io_uring_buf_reg reg = {
		.ring_addr = (uint64_t)(uintptr_t)ring_addr,
		.ring_entries = entries,
		.bgid = (uint16_t)bgid,
	};
	return io_uring_register_buf_ring(&r->ring, &reg, 0);
}

int rl_unregister_buf_ring(struct rl_ring *r, unsigned bgid)
{
	return io_uring_unregister_buf_ring(&r->ring, (int)bgid);
}

/* Set up a ring with the given setup flags (cq_entries is used with
 * IORING_SETUP_CQSIZE) and tear it down at once: 0 if the kernel accepts
 * them, else -errno. */
int rl_probe_setup(unsigned entries, unsigned flags, unsigned cq_entries)
{
	struct io_uring ring;
	struct io_uring_params p = { .flags = flags, .cq_entries = cq_entries };
	int ret = io_uring_queue_init_params(entries, &ring, &p);

	if (ret == 0)
		io_uring_queue_exit(&ring);
	return ret;
}

/* Ask the kernel, on a plain ring of its own, which opcodes below n it
 * supports: supported[op] = 1 or 0. Returns 0 or -errno. (liburing's
 * io_uring_get_probe would drop the errno, so the probe is registered here.) */
int rl_probe_opcodes(uint8_t *supported, unsigned n)
{
	struct io_uring ring;
	struct io_uring_probe *p = calloc(1, sizeof(*p) + 256 * sizeof(p->ops[0]));
	int ret = p ? io_uring_queue_init(2, &ring, 0) : -ENOMEM;

	if (ret == 0) {
		ret = io_uring_register_probe(&ring, p, 256);
		io_uring_queue_exit(&ring);
	}
	for (unsigned op = 0; ret >= 0 && op < n; op++)
		supported[op] = (uint8_t)io_uring_opcode_supported(p, (int)op);
	free(p);
	return ret < 0 ? ret : 0;
}

/* The liburing version of the headers built against: 0, or -ENOENT when
 * they predate the version macros (liburing 2.3 and older). */
int rl_liburing_version(int *major, int *minor)
{
#if defined(IO_URING_VERSION_MAJOR) && defined(IO_URING_VERSION_MINOR)
	*major = IO_URING_VERSION_MAJOR;
	*minor = IO_URING_VERSION_MINOR;
	return 0;
#else
	(void)major, (void)minor;
	return -ENOENT;
#endif
}
