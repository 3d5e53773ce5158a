//go:build linux && cgo

package ringline

// #include "liburing_shim.h"
import "C"

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The io_uring half of Probe. Every check sets up rings of its own on the
// probe's locked thread and closes them before it returns.

const (
	probeEntries = 8               // SQ size of every probe ring
	probeWait    = 2 * time.Second // bound on each wait for a completion
)

// probeFlags are the setup flags NewRing uses, each tried on a ring of its
// own together with the flags it depends on.
var probeFlags = []struct {
	name  string
	flags uint32
	use   string
}{
	{"IORING_SETUP_SQE128", setupSQE128, "128-byte SQEs, so NVMe passthrough shares the ring (Linux 5.19)"},
	{"IORING_SETUP_CQE32", setupCQE32, "32-byte CQEs, for passthrough results (5.19)"},
	{"IORING_SETUP_CQSIZE", setupCQSize, "a completion queue four times the submission queue (5.5)"},
	{"IORING_SETUP_SINGLE_ISSUER", setupSingleIssuer, "one thread submits, so the kernel skips its locking (6.0)"},
	{"IORING_SETUP_COOP_TASKRUN", setupCoopTaskrun, "completions are not pushed to the thread by interrupt (5.19)"},
	{"IORING_SETUP_DEFER_TASKRUN", setupSingleIssuer | setupDeferTaskrun,
		"completion work runs when the ring's thread waits (6.1); tried with SINGLE_ISSUER, which it needs"},
	{"IORING_SETUP_SQPOLL", RingConfig{SQPoll: true}.setupFlags(),
		"optional (RingConfig.SQPoll): a kernel thread polls the submission queue; tried with NewRing's SQPOLL flag set"},
}

// probeOps are the opcodes the Ring's helpers submit.
var probeOps = []struct {
	name string
	op   int
	use  string
}{
	{"IORING_OP_ACCEPT", C.IORING_OP_ACCEPT, "SubmitMultishotAcceptFd: multishot accept"},
	{"IORING_OP_RECV", C.IORING_OP_RECV, "SubmitMultishotRecv(Fd): multishot receive into provided buffers"},
	{"IORING_OP_SENDMSG", C.IORING_OP_SENDMSG, "SubmitSendMsgFd, SubmitSendMsgCoalesced: gathered sends"},
	{"IORING_OP_POLL_ADD", C.IORING_OP_POLL_ADD, "SubmitPollAdd, the *PollOut helpers: wait for a full socket to drain"},
	{"IORING_OP_CONNECT", C.IORING_OP_CONNECT, "SubmitConnect(Fd): connects"},
	{"IORING_OP_SHUTDOWN", C.IORING_OP_SHUTDOWN, "SubmitShutdown(Fd): half-close"},
	{"IORING_OP_CLOSE", C.IORING_OP_CLOSE, "SubmitClose(Fd): closes"},
	{"IORING_OP_TIMEOUT", C.IORING_OP_TIMEOUT, "SubmitTimeout(Abs), SubmitTickTimeout: timeouts"},
	{"IORING_OP_ASYNC_CANCEL", C.IORING_OP_ASYNC_CANCEL, "SubmitAsyncCancel, SubmitCancel: cancel armed requests"},
	{"IORING_OP_READ", C.IORING_OP_READ, "SubmitEventfdRead(UD), SubmitDirectRead: reads"},
	{"IORING_OP_NOP", C.IORING_OP_NOP, "SubmitNop, SubmitNopInject*: NOPs, injected completions in tests"},
	{"IORING_OP_SEND", C.IORING_OP_SEND, "SubmitSendCopied, SubmitUDPSend: copied sends"},
	{"IORING_OP_RECVMSG", C.IORING_OP_RECVMSG, "Ring: multishot recvmsg (timestamps, UDP)"},
	{"IORING_OP_SENDMSG_ZC", C.IORING_OP_SENDMSG_ZC, "Ring: zero-copy sendmsg (the SEND_ZC family, 6.1)"},
	{"IORING_OP_WRITE", C.IORING_OP_WRITE, "Ring: direct writes"},
	{"IORING_OP_FSYNC", C.IORING_OP_FSYNC, "Ring: fsync of fixed files"},
	{"IORING_OP_OPENAT", C.IORING_OP_OPENAT, "Ring: opens into fixed-file slots"},
	{"IORING_OP_STATX", C.IORING_OP_STATX, "Ring: statx"},
	{"IORING_OP_RENAMEAT", C.IORING_OP_RENAMEAT, "Ring: renameat"},
	{"IORING_OP_UNLINKAT", C.IORING_OP_UNLINKAT, "Ring: unlinkat"},
	{"IORING_OP_MKDIRAT", C.IORING_OP_MKDIRAT, "Ring: mkdirat"},
	{"IORING_OP_URING_CMD", C.IORING_OP_URING_CMD, "Ring: NVMe passthrough (uring_cmd); the device must support it too"},
}

// Capabilities checked by using them on a ring as NewRing sets it up.
const (
	featBufRing       = "provided buffer ring"
	featMultishotAcc  = "multishot accept"
	featMultishotRecv = "multishot recv"
	featNopInject     = "NOP result injection"
	nopInjectedResult = -int32(syscall.ECONNRESET)
	probeRecvGroup    = 0
	probeRecvBufSize  = 64
	probeRecvBufCount = 2
	probeRecvPayload  = "ringline probe"
)

// probeIOUring fills in everything about io_uring: whether NewRing works
// here, each feature and liburing's version.
func probeIOUring(rep *ProbeReport) {
	rep.Liburing = liburingVersion()
	if err := withRing(func(*Ring) error { return nil }); err != nil {
		rep.IOUringError = err.Error()
	} else {
		rep.IOUring = true
	}
	if ret := int(C.rl_probe_setup(probeEntries, 0, 0)); ret < 0 {
		rep.Features = notProbed(fmt.Sprintf("not probed: even a ring without setup flags cannot be set up (%v)", syscall.Errno(-ret)))
	} else {
		rep.Features = append(probeSetupFlags(), probeOpcodes()...)
		rep.Features = append(rep.Features, probeCapabilities(rep.IOUring)...)
	}
}

func liburingVersion() string {
	var major, minor C.int
	if C.rl_liburing_version(&major, &minor) < 0 {
		return "2.3 or older (no version macros)"
	}
	return fmt.Sprintf("%d.%d", major, minor)
}

// notProbed lists every feature as unchecked, for why.
func notProbed(why string) []ProbeFeature {
	var fs []ProbeFeature
	for _, f := range probeFlags {
		fs = append(fs, ProbeFeature{Name: f.name, Detail: why})
	}
	for _, o := range probeOps {
		fs = append(fs, ProbeFeature{Name: o.name, Detail: why})
	}
	return append(fs, unprobedCapabilities(why)...)
}

func unprobedCapabilities(why string) []ProbeFeature {
	var fs []ProbeFeature
	for _, name := range []string{featBufRing, featMultishotAcc, featMultishotRecv, featNopInject} {
		fs = append(fs, ProbeFeature{Name: name, Detail: why})
	}
	return fs
}

func probeSetupFlags() []ProbeFeature {
	fs := make([]ProbeFeature, 0, len(probeFlags))
	for _, f := range probeFlags {
		ret := int(C.rl_probe_setup(probeEntries, C.uint(f.flags), 4*probeEntries))
		pf := ProbeFeature{Name: f.name, Supported: ret == 0, Detail: "a ring was set up with it; " + f.use}
		if ret < 0 {
			pf.Detail = fmt.Sprintf("io_uring_setup with it failed: %v; %s", syscall.Errno(-ret), f.use)
		}
		fs = append(fs, pf)
	}
	return fs
}

func probeOpcodes() []ProbeFeature {
	var supported [C.IORING_OP_LAST]C.uint8_t
	ret := int(C.rl_probe_opcodes(&supported[0], C.uint(len(supported))))
	fs := make([]ProbeFeature, 0, len(probeOps))
	for _, o := range probeOps {
		f := ProbeFeature{Name: o.name}
		switch {
		case ret < 0:
			f.Detail = fmt.Sprintf("not probed: IORING_REGISTER_PROBE failed: %v; %s", syscall.Errno(-ret), o.use)
		case supported[o.op] != 0:
			f.Supported, f.Detail = true, "in the kernel's opcode probe; "+o.use
		default:
			f.Detail = "missing from the kernel's opcode probe; " + o.use
		}
		fs = append(fs, f)
	}
	return fs
}

// probeCapabilities uses the features receive paths depend on, on rings set
// up as NewRing sets them up.
func probeCapabilities(ringOK bool) []ProbeFeature {
	if !ringOK {
		return unprobedCapabilities("not probed: NewRing cannot set a ring up here (see io_uring_error)")
	}
	bufRing, accept, recv := probeNet()
	return []ProbeFeature{bufRing, accept, recv, probeNopInject()}
}

// probeNet follows a server's path step by step: it arms a multishot
// accept on a loopback listener, connects to it, registers a provided buffer
// ring, arms a multishot recv on the accepted socket and sends it a few bytes.
func probeNet() (bufRing, accept, recv ProbeFeature) {
	bufRing = ProbeFeature{Name: featBufRing}
	accept = ProbeFeature{Name: featMultishotAcc}
	recv = ProbeFeature{Name: featMultishotRecv}
	r, err := NewRing(RingConfig{Entries: probeEntries})
	var lfd, cfd int
	if err == nil {
		if lfd, cfd, err = probeSockets(); err != nil {
			r.Close()
		}
	}
	if err != nil {
		accept.Detail = "not probed: " + err.Error()
		recv.Detail, bufRing.Detail = accept.Detail, accept.Detail
		return
	}
	afd := -1
	defer func() {
		// Closing the ring cancels the armed requests and unregisters the
		// buffer ring; then the sockets close.
		if err := r.Close(); err != nil {
			bufRing.Supported = false
			bufRing.Detail += fmt.Sprintf("; closing the ring failed: %v", err)
		}
		for _, fd := range []int{afd, cfd, lfd} {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	}()

	accUD, _ := NewUserData(TagAccept, 0, 0)
	c, err := submitAndWaitFor(r, accUD, r.SubmitMultishotAcceptFd(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, accUD))
	if err == nil && c.Res >= 0 {
		afd = int(c.Res)
	}
	accept.Supported, accept.Detail = multishotResult(c, err, "armed on a loopback listener, then a client connected", "Linux 5.19")

	br, err := r.RegisterBufRing(probeRecvGroup, probeRecvBufCount, probeRecvBufSize)
	bufRing.Supported = err == nil
	bufRing.Detail = fmt.Sprintf("registered one (%d x %d bytes); multishot receives pick their buffers from one", probeRecvBufCount, probeRecvBufSize)
	switch {
	case err != nil:
		bufRing.Detail = fmt.Sprintf("registering one failed: %v", err)
		recv.Detail = "not probed: needs a provided buffer ring"
		return
	case afd < 0:
		recv.Detail = "not probed: needs the socket the multishot accept probe accepts"
		return
	}
	recvUD, _ := NewUserData(TagRecvMulti, 0, 0)
	err = r.SubmitMultishotRecvFd(afd, probeRecvGroup, recvUD)
	if err == nil {
		err = r.Submit()
	}
	if err == nil {
		_, err = unix.Write(cfd, []byte(probeRecvPayload))
	}
	if err != nil {
		recv.Detail = fmt.Sprintf("not probed: %v", err)
		return
	}
	c, err = submitAndWaitFor(r, recvUD, nil)
	if err == nil && c.Res >= 0 {
		bid, ok := c.BufferID()
		switch {
		case !ok:
			err = fmt.Errorf("the completion (%d bytes) names no provided buffer", c.Res)
		case int(c.Res) > len(probeRecvPayload) || string(br.Buffer(bid)[:c.Res]) != probeRecvPayload[:c.Res]:
			err = fmt.Errorf("buffer %d holds %q, %q was sent", bid, br.Buffer(bid)[:min(int(c.Res), probeRecvBufSize)], probeRecvPayload)
		}
	}
	how := fmt.Sprintf("armed on the accepted socket, then the client sent %d bytes", len(probeRecvPayload))
	if recv.Supported, recv.Detail = multishotResult(c, err, how, "Linux 6.0"); recv.Supported {
		recv.Detail += fmt.Sprintf("; %d of them arrived in a provided buffer", c.Res)
	}
	return
}

// multishotResult judges a multishot request's first completion: it worked
// if it succeeded and carries IORING_CQE_F_MORE, so it stays armed.
func multishotResult(c Completion, err error, how, needs string) (bool, string) {
	switch {
	case err != nil:
		return false, fmt.Sprintf("%s: %v (needs %s)", how, err, needs)
	case c.Res < 0:
		return false, fmt.Sprintf("%s: completed with %v (needs %s)", how, syscall.Errno(-c.Res), needs)
	case !c.More():
		return false, fmt.Sprintf("%s: completed but did not stay armed, no IORING_CQE_F_MORE (needs %s)", how, needs)
	}
	return true, how + ": the completion carried IORING_CQE_F_MORE, so it stayed armed"
}

// probeSockets opens a loopback listener and a blocking client already
// connected to it (it waits in the backlog).
func probeSockets() (lfd, cfd int, err error) {
	lfd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, -1, fmt.Errorf("loopback listener: %w", err)
	}
	loopback := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	err = unix.Bind(lfd, loopback)
	if err == nil {
		err = unix.Listen(lfd, 1)
	}
	var sa unix.Sockaddr
	if err == nil {
		sa, err = unix.Getsockname(lfd)
	}
	if err == nil {
		cfd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	}
	if err == nil {
		if err = unix.Connect(cfd, sa); err != nil {
			unix.Close(cfd)
		}
	}
	if err != nil {
		unix.Close(lfd)
		return -1, -1, fmt.Errorf("loopback connection: %w", err)
	}
	return lfd, cfd, nil
}

// probeNopInject submits a NOP asking for an injected result and checks the
// completion carries it: kernels before 6.6 ignore the flag and give 0.
func probeNopInject() ProbeFeature {
	f := ProbeFeature{Name: featNopInject}
	var got int32
	err := withRing(func(r *Ring) error {
		ud, _ := NewUserData(TagNop, 0, 0)
		c, err := submitAndWaitFor(r, ud, r.SubmitNopInject(ud, nopInjectedResult))
		got = c.Res
		return err
	})
	switch {
	case err != nil:
		f.Detail = fmt.Sprintf("submitting a NOP with IORING_NOP_INJECT_RESULT failed: %v", err)
	case got != nopInjectedResult:
		f.Detail = fmt.Sprintf("a NOP with IORING_NOP_INJECT_RESULT asking for %d completed with %d: the kernel ignores the flag (needs Linux 6.6); the tests that inject errors skip", nopInjectedResult, got)
	default:
		f.Supported = true
		f.Detail = fmt.Sprintf("a NOP with IORING_NOP_INJECT_RESULT completed with the %d asked for; the tests inject errors this way", got)
	}
	return f
}

// withRing sets up a ring as NewRing does by default, runs fn on it and
// closes it.
func withRing(fn func(*Ring) error) error {
	r, err := NewRing(RingConfig{Entries: probeEntries})
	if err != nil {
		return err
	}
	return errors.Join(fn(r), r.Close())
}

// submitAndWaitFor submits what is queued (unless queueing it failed: queued
// is that error) and waits up to probeWait for the completion of ud.
func submitAndWaitFor(r *Ring, ud UserData, queued error) (Completion, error) {
	if queued != nil {
		return Completion{}, queued
	}
	for deadline := time.Now().Add(probeWait); time.Now().Before(deadline); {
		cqes, err := r.SubmitAndWaitTimeout(1, time.Until(deadline))
		for _, c := range cqes {
			if c.UserData == ud {
				return c, nil
			}
		}
		if err != nil {
			return Completion{}, err
		}
	}
	return Completion{}, fmt.Errorf("no completion within %v", probeWait)
}
