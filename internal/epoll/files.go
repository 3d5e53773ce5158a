//go:build linux

package epoll

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
)

// File operations, as libuv runs them: epoll cannot wait for a regular
// file, so a few goroutines (each an OS thread while it is in its system
// call) run the calls and post their completions back; an eventfd in the
// epoll set wakes the worker's Wait, which collects them. The pool starts
// with the first file operation, so a network-only worker has none.

// filePool is the worker's file threads and what they have finished.
type filePool struct {
	jobs    chan fileJob
	threads sync.WaitGroup
	closing atomic.Bool
	efd     int // eventfd the threads signal; in the epoll set

	mu   sync.Mutex
	done []backend.Completion // guarded by mu
}

// fileJob is one queued file operation: run makes the system call and
// returns the completion's result and first extra word.
type fileJob struct {
	ud  uint64
	run func() (int32, uint64)
}

// startFiles sets up the pool on first use.
func (b *Backend) startFiles() error {
	if b.files != nil {
		return nil
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("eventfd", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd)}
	if err := unix.EpollCtl(b.epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		unix.Close(efd)
		return os.NewSyscallError("epoll_ctl", err)
	}
	p := &filePool{jobs: make(chan fileJob, b.fileOps), efd: efd}
	for range b.fileThreads {
		p.threads.Add(1)
		go p.serve()
	}
	b.files = p
	return nil
}

// serve runs jobs until the pool closes; jobs still queued then complete
// with -ECANCELED without running.
func (p *filePool) serve() {
	defer p.threads.Done()
	for j := range p.jobs {
		res, extra := -int32(unix.ECANCELED), uint64(0)
		if !p.closing.Load() {
			res, extra = j.run()
		}
		p.mu.Lock()
		p.done = append(p.done, backend.Completion{UserData: j.ud, Res: res, Extra: [2]uint64{extra}})
		first := len(p.done) == 1
		p.mu.Unlock()
		if first {
			var one [8]byte
			binary.NativeEndian.PutUint64(one[:], 1)
			unix.Write(p.efd, one[:]) // cannot fail short of a counter overflow, which 2^64 wakes would take
		}
	}
}

// collect moves the finished operations into the worker's ready list.
func (b *Backend) collect() {
	var buf [8]byte
	unix.Read(b.files.efd, buf[:]) // EAGAIN when a signal was already read: nothing lost, done is checked below
	b.files.mu.Lock()
	b.ready = append(b.ready, b.files.done...)
	b.files.done = b.files.done[:0]
	b.files.mu.Unlock()
}

// closeFiles stops the pool: queued jobs are cancelled, running system
// calls finish (their memory belongs to the worker until then), and the
// eventfd is closed.
func (b *Backend) closeFiles() error {
	if b.files == nil {
		return nil
	}
	b.files.closing.Store(true)
	close(b.files.jobs)
	b.files.threads.Wait()
	err := unix.Close(b.files.efd)
	b.files = nil
	return err
}

// queue hands a job to the pool; the worker bounds its file operations
// to the queue's capacity, so a full queue is a caller's bug reported.
func (b *Backend) queue(ud uint64, run func() (int32, uint64)) error {
	if err := b.startFiles(); err != nil {
		return err
	}
	select {
	case b.files.jobs <- fileJob{ud: ud, run: run}:
		return nil
	default:
		return fmt.Errorf("epoll backend: %d file operations already queued", cap(b.files.jobs))
	}
}

// result is a system call's outcome as a completion result.
func result(n int, err error) (int32, uint64) {
	if err != nil {
		return errno(err), 0
	}
	return int32(n), 0
}

// OpenAt opens path on a file thread.
func (b *Backend) OpenAt(path *byte, flags int, mode uint32, ud uint64) error {
	return b.queue(ud, func() (int32, uint64) { return result(unix.Open(unix.BytePtrToString(path), flags, mode)) })
}

// ReadAt reads fd at off on a file thread.
func (b *Backend) ReadAt(fd int, buf []byte, off int64, ud uint64) error {
	return b.queue(ud, func() (int32, uint64) { return result(unix.Pread(fd, buf, off)) })
}

// WriteAt writes fd at off on a file thread.
func (b *Backend) WriteAt(fd int, buf []byte, off int64, ud uint64) error {
	return b.queue(ud, func() (int32, uint64) { return result(unix.Pwrite(fd, buf, off)) })
}

// Fsync flushes fd on a file thread.
func (b *Backend) Fsync(fd int, datasync bool, ud uint64) error {
	return b.queue(ud, func() (int32, uint64) {
		if datasync {
			return result(0, unix.Fdatasync(fd))
		}
		return result(0, unix.Fsync(fd))
	})
}

// Statx stats path, or fd when path is nil, on a file thread.
func (b *Backend) Statx(fd int, path *byte, mask uint32, buf *unix.Statx_t, ud uint64) error {
	return b.queue(ud, func() (int32, uint64) {
		if path == nil {
			return result(0, unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_STATX_SYNC_AS_STAT, int(mask), buf))
		}
		return result(0, unix.Statx(unix.AT_FDCWD, unix.BytePtrToString(path), unix.AT_STATX_SYNC_AS_STAT, int(mask), buf))
	})
}

// Rename renames on a file thread.
func (b *Backend) Rename(oldPath, newPath *byte, ud uint64) error {
	return b.queue(ud, func() (int32, uint64) {
		return result(0, unix.Rename(unix.BytePtrToString(oldPath), unix.BytePtrToString(newPath)))
	})
}

// Unlink removes path on a file thread.
func (b *Backend) Unlink(path *byte, dir bool, ud uint64) error {
	flags := 0
	if dir {
		flags = unix.AT_REMOVEDIR
	}
	return b.queue(ud, func() (int32, uint64) {
		return result(0, unix.Unlinkat(unix.AT_FDCWD, unix.BytePtrToString(path), flags))
	})
}

// Mkdir creates a directory on a file thread.
func (b *Backend) Mkdir(path *byte, mode uint32, ud uint64) error {
	return b.queue(ud, func() (int32, uint64) { return result(0, unix.Mkdir(unix.BytePtrToString(path), mode)) })
}

// nvmeIO64 is NVME_IOCTL_IO64_CMD, _IOWR('N', 0x48, struct
// nvme_passthru_cmd64): the synchronous form of the command io_uring sends
// as IORING_OP_URING_CMD. Its first 72 bytes are laid out as struct
// nvme_uring_cmd; the last 8 return the command's result.
const (
	nvmeIO64     = 0xC0504E48
	nvmeCmd64Len = 80
)

// Nvme sends the command with the NVMe I/O ioctl on a file thread.
func (b *Backend) Nvme(fd int, c *backend.NvmeCmd, ud uint64) error {
	cmd, err := nvmeIoctlCmd(c)
	if err != nil {
		return err
	}
	return b.queue(ud, func() (int32, uint64) {
		r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), nvmeIO64, uintptr(unsafe.Pointer(&cmd[0])))
		if e != 0 {
			return -int32(e), 0
		}
		return int32(r), binary.NativeEndian.Uint64(cmd[72:])
	})
}

// nvmeIoctlCmd lays c out as struct nvme_passthru_cmd64.
func nvmeIoctlCmd(c *backend.NvmeCmd) (*[nvmeCmd64Len]byte, error) {
	var cmd [nvmeCmd64Len]byte
	cmd[0] = c.Opcode
	binary.NativeEndian.PutUint32(cmd[4:], c.Nsid)
	if c.Opcode != backend.NvmeFlush {
		if c.Blocks == 0 || c.Blocks > 1<<16 || len(c.Buf) == 0 {
			return nil, fmt.Errorf("epoll backend: NVMe command of %d blocks into %d bytes", c.Blocks, len(c.Buf))
		}
		binary.NativeEndian.PutUint64(cmd[24:], uint64(uintptr(unsafe.Pointer(unsafe.SliceData(c.Buf)))))
		binary.NativeEndian.PutUint32(cmd[36:], uint32(len(c.Buf)))
		binary.NativeEndian.PutUint32(cmd[40:], uint32(c.SLBA))
		binary.NativeEndian.PutUint32(cmd[44:], uint32(c.SLBA>>32))
		binary.NativeEndian.PutUint32(cmd[48:], c.Blocks-1)
	}
	return &cmd, nil
}
