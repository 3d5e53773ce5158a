/*
 * liburing_shim.h: the C half of ringline's binding.
 *
 * Go appends compact operation descriptors (struct rl_op) to a batch that
 * lives in C memory; one call of rl_enter preps them all with liburing's
 * io_uring_prep_* helpers, submits, optionally waits, and copies completions
 * (struct rl_cqe) into C memory that Go reads. That keeps the cgo crossing to
 * one per loop iteration. The C side makes no decisions: Go chooses flags,
 * user_data and buffers; C translates. Every function returns -errno on
 * failure, as liburing does.
 *
 * Builds against liburing 2.3 or newer.
 */
#ifndef RL_SHIM_H
#define RL_SHIM_H

#include <stdint.h>
#include <liburing.h>

/* Linux 6.6: a NOP completes with sqe->len as its result. liburing 2.3's
 * io_uring.h predates it, so it is defined here. */
#ifndef IORING_NOP_INJECT_RESULT
#define IORING_NOP_INJECT_RESULT (1U << 0)
#endif
/* A NOP on a CQE32 ring with this flag copies sqe->off and sqe->addr into
 * the 16 extra bytes of its completion (recent kernels; 6.18 has it). */
#ifndef IORING_NOP_CQE32
#define IORING_NOP_CQE32 (1U << 5)
#endif

/* Size of the command area of a 128-byte SQE (sqe->cmd). */
#define RL_CMD_AREA 80

/* What a descriptor asks for; each maps onto one io_uring_prep_* helper. */
enum rl_kind {
	RL_NOP = 1,       /* flags: nop flags; len: injected result; off, addr: CQE32 extra */
	RL_RECV_MULTI,    /* fd; aux: buffer group */
	RL_RECVMSG_MULTI, /* fd; addr: template msghdr; aux: buffer group; flags: msg flags */
	RL_SEND,          /* fd; addr, len: data; flags: msg flags */
	RL_SENDMSG,       /* fd; addr: msghdr; flags: msg flags */
	RL_SENDMSG_ZC,    /* fd; addr: msghdr; flags: msg flags */
	RL_POLL_ADD,      /* fd; len: poll mask */
	RL_READ,          /* fd; addr, len: buffer; off: file offset */
	RL_WRITE,         /* fd; addr, len: buffer; off: file offset */
	RL_FSYNC,         /* fd; flags: fsync flags */
	RL_CLOSE_DIRECT,  /* aux: fixed-file slot */
	RL_CONNECT,       /* fd; addr, len: sockaddr */
	RL_TIMEOUT,       /* addr: timespec; flags: timeout flags */
	RL_CANCEL,        /* addr: target user_data; flags: cancel flags */
	RL_SHUTDOWN,      /* fd; len: how */
	RL_URING_CMD,     /* fd; aux: cmd_op; the descriptor's command area */
	RL_OPENAT_DIRECT, /* addr: path; flags: open flags; len: mode; aux: slot */
	RL_STATX,         /* fd: dirfd; addr: path (0: ""); addr2: struct statx; flags: at flags; aux: mask */
	RL_RENAMEAT,      /* addr: old path; addr2: new path; flags: rename flags */
	RL_UNLINKAT,      /* addr: path; flags: unlink flags */
	RL_MKDIRAT,       /* addr: path; len: mode */
	RL_ACCEPT_MULTI,  /* fd: listener; flags: accept4 flags (SOCK_NONBLOCK ...) */
	RL_CLOSE,         /* fd: a plain descriptor */
	RL_OPENAT,        /* addr: path; flags: open flags; len: mode; the result is a plain descriptor */
	RL_KIND_COUNT     /* not a kind: the size of the shim's prep table */
};

/* One queued operation. Go writes these directly into C memory. */
struct rl_op {
	uint64_t user_data;
	uint64_t addr;
	uint64_t addr2;
	uint64_t off;
	uint32_t len;
	uint32_t flags;
	int32_t fd;
	uint32_t aux;
	uint8_t kind;      /* enum rl_kind */
	uint8_t sqe_flags; /* IOSQE_* chosen by Go */
	uint8_t pad[6];
};

/* One completion as Go reads it: the CQE and its 16 extra CQE32 bytes. */
struct rl_cqe {
	uint64_t user_data;
	int32_t res;
	uint32_t flags;
	uint64_t extra[2];
};

/* A ring and its batch. Allocated by rl_setup, freed by rl_close; Go holds
 * only this pointer and never keeps Go pointers in any of it. */
struct rl_ring {
	struct io_uring ring;
	struct rl_op *ops;    /* op_cap descriptors */
	uint8_t *cmds;        /* op_cap * RL_CMD_AREA bytes, one area per descriptor */
	struct rl_cqe *cqes;  /* cqe_cap completions filled by rl_enter */
	unsigned op_cap;
	unsigned cqe_cap;
	/* Results of the last rl_enter. */
	unsigned prepped;     /* descriptors turned into SQEs */
	unsigned bad_kinds;   /* of those, descriptors of no known kind (see rl_prep_batch) */
	int err;              /* -errno from submit or wait, 0 if none */
	unsigned sq_left;     /* SQEs the kernel has not consumed yet */
};

/* Which liburing call rl_enter makes after prepping the batch. Go chooses;
 * any other value is refused with -EINVAL and nothing is submitted. */
enum rl_call {
	RL_CALL_SUBMIT = 1,          /* io_uring_submit: no wait, no reaping of task work */
	RL_CALL_SUBMIT_GETEVENTS,    /* io_uring_submit_and_get_events: no wait, but run
					deferred task work (DEFER_TASKRUN) */
	RL_CALL_SUBMIT_WAIT,         /* io_uring_submit_and_wait: wait for wait_nr */
	RL_CALL_SUBMIT_WAIT_TIMEOUT, /* io_uring_submit_and_wait_timeout: wait for wait_nr,
					at most timeout_ns */
};

int rl_setup(struct rl_ring **out, unsigned entries, struct io_uring_params *p, unsigned cqe_cap);
void rl_close(struct rl_ring *r);
int rl_enter(struct rl_ring *r, unsigned nops, unsigned call, unsigned wait_nr,
	     long long timeout_ns, unsigned max_cqes);

int rl_sync_cancel(struct rl_ring *r, unsigned flags, int fd);
int rl_sqring_wait(struct rl_ring *r);
int rl_register_files_sparse(struct rl_ring *r, unsigned nr);
int rl_register_files_update(struct rl_ring *r, unsigned off, const int *fds, unsigned nr);
int rl_register_buffers_sparse(struct rl_ring *r, unsigned nr);
int rl_register_buffer_update(struct rl_ring *r, unsigned slot, void *base, size_t len);
int rl_register_buf_ring(struct rl_ring *r, void *ring_addr, unsigned entries, unsigned bgid);
int rl_unregister_buf_ring(struct rl_ring *r, unsigned bgid);

/* Probes for `ringline probe`: each answers one question and decides nothing. */
int rl_probe_setup(unsigned entries, unsigned flags, unsigned cq_entries);
int rl_probe_opcodes(uint8_t *supported, unsigned n);
int rl_liburing_version(int *major, int *minor);

#endif
