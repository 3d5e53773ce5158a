//go:build linux && cgo

package ringline

/*
#cgo CFLAGS: -O2 -Wall
#include <linux/nvme_ioctl.h>
#include "liburing_shim.h"
*/
import "C"

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The cgo side of the binding: the C types Go writes and reads, the flag
// values Go chooses, and build-time checks that the Go mirrors of C layouts
// agree with C. Linking is chosen in link_static.go / link_dynamic.go.

type (
	cRing = C.struct_rl_ring // a ring and its batch, owned by C memory
	cOp   = C.struct_rl_op   // one queued operation descriptor
)

// Descriptor kinds (enum rl_kind).
const (
	kindNop           = C.RL_NOP
	kindRecvMulti     = C.RL_RECV_MULTI
	kindRecvMsgMulti  = C.RL_RECVMSG_MULTI
	kindSend          = C.RL_SEND
	kindSendMsg       = C.RL_SENDMSG
	kindSendMsgZC     = C.RL_SENDMSG_ZC
	kindPollAdd       = C.RL_POLL_ADD
	kindRead          = C.RL_READ
	kindWrite         = C.RL_WRITE
	kindFsync         = C.RL_FSYNC
	kindCloseDirect   = C.RL_CLOSE_DIRECT
	kindConnect       = C.RL_CONNECT
	kindTimeout       = C.RL_TIMEOUT
	kindCancel        = C.RL_CANCEL
	kindShutdown      = C.RL_SHUTDOWN
	kindUringCmd      = C.RL_URING_CMD
	kindOpenatDirect  = C.RL_OPENAT_DIRECT
	kindStatx         = C.RL_STATX
	kindRenameat      = C.RL_RENAMEAT
	kindUnlinkat      = C.RL_UNLINKAT
	kindMkdirat       = C.RL_MKDIRAT
	kindAcceptMulti   = C.RL_ACCEPT_MULTI
	kindClose         = C.RL_CLOSE
	kindOpenat        = C.RL_OPENAT
	kindCount         = C.RL_KIND_COUNT // not a kind: the first value past them
	cmdAreaSize       = C.RL_CMD_AREA
	nopInjectResult   = C.IORING_NOP_INJECT_RESULT
	nopCQE32          = C.IORING_NOP_CQE32
	timeoutAbs        = C.IORING_TIMEOUT_ABS
	sqeFixedFile      = C.IOSQE_FIXED_FILE
	sqeIOLink         = C.IOSQE_IO_LINK
	sqeBufferSelect   = C.IOSQE_BUFFER_SELECT
	callSubmit        = C.RL_CALL_SUBMIT              // io_uring_submit
	callGetEvents     = C.RL_CALL_SUBMIT_GETEVENTS    // io_uring_submit_and_get_events
	callWait          = C.RL_CALL_SUBMIT_WAIT         // io_uring_submit_and_wait
	callWaitTimeout   = C.RL_CALL_SUBMIT_WAIT_TIMEOUT // io_uring_submit_and_wait_timeout
	cancelUserData    = 0                             // no IORING_ASYNC_CANCEL_* key: match user_data, first match only
	cancelAny         = C.IORING_ASYNC_CANCEL_ANY     // every request in flight
	setupSQE128       = C.IORING_SETUP_SQE128
	setupCQE32        = C.IORING_SETUP_CQE32
	setupCQSize       = C.IORING_SETUP_CQSIZE
	setupCoopTaskrun  = C.IORING_SETUP_COOP_TASKRUN
	setupSingleIssuer = C.IORING_SETUP_SINGLE_ISSUER
	setupDeferTaskrun = C.IORING_SETUP_DEFER_TASKRUN
	setupSQPoll       = C.IORING_SETUP_SQPOLL
	setupSQAff        = C.IORING_SETUP_SQ_AFF
)

// Completion mirrors struct rl_cqe; these fail to compile if the sizes differ.
const (
	_ = uint(unsafe.Sizeof(Completion{}) - C.sizeof_struct_rl_cqe)
	_ = uint(C.sizeof_struct_rl_cqe - unsafe.Sizeof(Completion{}))
	_ = uint(NvmeUringCmdSize - C.sizeof_struct_nvme_uring_cmd)
	_ = uint(cmdAreaSize - NvmeUringCmdSize)
	// unix.Timespec must be struct __kernel_timespec: 64-bit platforms only.
	_ = uint(unsafe.Sizeof(unix.Timespec{}) - 16)
	_ = uint(16 - unsafe.Sizeof(unix.Timespec{}))
)
