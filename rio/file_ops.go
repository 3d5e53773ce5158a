//go:build linux

package rio

import (
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
	"github.com/ringline-go/ringline/internal/offheap"
)

// File operations on a worker: Config.FileOps operation slots, each with an
// off-heap area for the paths and the statx buffer the kernel reads or
// fills after the call returns, and the worker's open files. A completion
// carries its operation slot and generation (opFile), so a stale one is
// dropped. The table and its memory are made at the first file operation:
// a worker that never touches a file pays for none of it.

// opArea is one operation slot's off-heap memory: two paths (rename) of up
// to PATH_MAX bytes with their NULs, then a statx buffer.
const (
	pathMax   = unix.PathMax
	statxOff  = 2 * pathMax
	opArea    = statxOff + int(unsafe.Sizeof(unix.Statx_t{}))
	noFile    = -1
	statxMask = unix.STATX_BASIC_STATS
)

// fileOp is one file operation in flight.
type fileOp struct {
	gen  uint32
	busy bool
	file int32          // the open file it acts on, or noFile
	buf  []byte         // caller's memory the kernel reads or fills, pinned
	pin  runtime.Pinner // pins buf until the completion
	done func(res int32, extra uint64)
}

// openFile is one file a worker holds open.
type openFile struct {
	fd       int
	gen      uint32
	name     string
	open     bool
	direct   bool   // opened with O_DIRECT
	memAlign uint32 // O_DIRECT: the buffer address must be a multiple of it
	offAlign uint32 // O_DIRECT: offsets and lengths must be multiples of it
	ops      int    // operations in flight on it
	append   bool   // opened with O_APPEND: WriteAt is refused, as os does
	closing  bool   // Close was asked: no new operations
	closed   func(error)
}

// fileTable is a worker's file operations and open files.
type fileTable struct {
	ops      []fileOp
	free     []uint32
	mem      *offheap.Arena
	area     []byte // len(ops) * opArea bytes, off-heap
	inflight int
	closes   int // closes handed to the backend, not yet complete
	files    []openFile
	freeFile []uint32
	nfiles   int
	waiting  []func(*Worker) // File calls that found every slot busy, oldest first
	closed   bool            // the worker has exited, or is closing at once: nothing more starts
}

// cancelFileOps ends the file operations in flight when the worker closes
// at once (Server.Close, or a Shutdown whose context ended): each is
// cancelled, so a read that would wait forever (a FIFO, a hung mount) does
// not hold the worker, and no new one starts. An operation the kernel
// cannot interrupt still runs to its end, as the epoll engine's file
// threads do.
func (w *Worker) cancelFileOps() {
	t := &w.files
	t.closed = true
	for i := range t.ops {
		if t.ops[i].busy {
			w.cancel(t.ud(uint32(i)))
		}
	}
}

// fileOps makes the table on first use.
func (w *Worker) fileOps() (*fileTable, error) {
	t := &w.files
	if t.ops != nil {
		return t, nil
	}
	n := w.cfg.FileOps
	mem, err := offheap.New(n * opArea)
	if err != nil {
		return nil, err
	}
	area, err := mem.Alloc(n*opArea, 8)
	if err != nil {
		mem.Close()
		return nil, err
	}
	t.mem, t.area = mem, area
	t.ops = make([]fileOp, n)
	t.free = make([]uint32, n)
	for i := range t.free {
		t.free[i] = uint32(n - 1 - i)
	}
	return t, nil
}

// takeOp takes an operation slot for done, acting on file (or noFile), or
// fails with ErrFileOpsExhausted.
func (w *Worker) takeOp(file int32, done func(int32, uint64)) (uint32, *fileOp, error) {
	if w.files.closed {
		return 0, nil, ErrServerClosed
	}
	t, err := w.fileOps()
	if err != nil {
		return 0, nil, err
	}
	if len(t.free) == 0 {
		w.stats.fileOpsExhausted.Add(1)
		return 0, nil, ErrFileOpsExhausted
	}
	idx := t.free[len(t.free)-1]
	t.free = t.free[:len(t.free)-1]
	op := &t.ops[idx]
	op.busy, op.file, op.done = true, file, done
	t.inflight++
	if file != noFile {
		t.files[file].ops++
	}
	return idx, op, nil
}

// ud is the user_data of operation slot idx.
func (t *fileTable) ud(idx uint32) uint64 { return userData(opFile, idx, t.ops[idx].gen) }

// path writes name, NUL-terminated, into part (0 or 1) of slot idx's area.
func (t *fileTable) path(idx uint32, part int, name string) (*byte, error) {
	switch {
	case name == "":
		return nil, syscall.ENOENT // as open("") answers
	case strings.IndexByte(name, 0) >= 0:
		return nil, syscall.EINVAL // as the os package refuses, rather than cut the name short
	case len(name) >= pathMax:
		return nil, syscall.ENAMETOOLONG
	}
	at := int(idx)*opArea + part*pathMax
	p := t.area[at : at+len(name)+1]
	copy(p, name)
	p[len(name)] = 0
	return &p[0], nil
}

// statx is slot idx's statx buffer.
func (t *fileTable) statx(idx uint32) *unix.Statx_t {
	return (*unix.Statx_t)(unsafe.Pointer(&t.area[int(idx)*opArea+statxOff]))
}

// pinBuf keeps buf, the caller's memory, in place and alive until the
// operation completes.
func (op *fileOp) pinBuf(buf []byte) {
	op.buf = buf
	if len(buf) > 0 {
		op.pin.Pin(unsafe.SliceData(buf))
	}
}

// releaseOp frees slot idx: the buffer is unpinned, the file's count of
// operations dropped (closing it when a Close waits on them), and a waiting
// File call may take the slot.
func (w *Worker) releaseOp(idx uint32) {
	t := &w.files
	op := &t.ops[idx]
	op.pin.Unpin()
	file := op.file
	*op = fileOp{gen: op.gen + 1}
	t.free = append(t.free, idx)
	t.inflight--
	if file != noFile {
		f := &t.files[file]
		if f.ops--; f.ops == 0 && f.closing {
			w.issueClose(file)
		}
	}
}

// onFile completes a file operation: the slot is freed first, so the
// callback may start another.
func (w *Worker) onFile(c *backend.Completion, idx, gen uint32) {
	t := &w.files
	if int(idx) >= len(t.ops) || !t.ops[idx].busy || t.ops[idx].gen != gen {
		w.stats.staleCompletions.Add(1)
		return
	}
	done := t.ops[idx].done
	w.releaseOp(idx)
	w.stats.fileOps.Add(1)
	res := c.Res
	if res == -int32(syscall.ECANCELED) && t.closed {
		res = resServerClosed // cancelled by the worker's closing (cancelFileOps)
	}
	w.callFileDone(done, res, c.Extra[0])
	w.runWaiting()
}

// callFileDone runs an operation's completion; a panic in the caller's
// callback is counted and logged, and ends nothing else.
func (w *Worker) callFileDone(done func(int32, uint64), res int32, extra uint64) {
	defer func() {
		if v := recover(); v != nil {
			w.recovered("file callback", v)
		}
	}()
	done(res, extra)
}

// runWaiting starts File calls that waited for a free slot, while there
// are free slots.
func (w *Worker) runWaiting() {
	t := &w.files
	for len(t.waiting) > 0 && len(t.free) > 0 {
		fn := t.waiting[0]
		t.waiting[0] = nil
		t.waiting = t.waiting[1:]
		w.callWorker("file call", fn)
	}
}

// failFileOps ends what is still in flight when the worker exits, after
// the backend is closed (nothing in the kernel refers to their memory any
// more): each completes with ErrServerClosed's errno-less failure, waiting
// File calls too, and open files are closed.
func (w *Worker) failFileOps() {
	t := &w.files
	t.closed = true
	for i := range t.ops {
		if t.ops[i].busy {
			done := t.ops[i].done
			w.releaseOp(uint32(i))
			w.callFileDone(done, resServerClosed, 0)
		}
	}
	for _, fn := range t.waiting {
		w.callWorker("file call", fn) // finds the worker stopping and fails
	}
	t.waiting = nil
	for i := range t.files {
		if f := &t.files[i]; f.open { // none has a close in flight: the worker waited for those
			unix.Close(f.fd)
			w.dropFile(int32(i))
		}
	}
	if t.mem != nil {
		t.mem.Close()
		t.mem, t.area, t.ops = nil, nil, nil
	}
}

// resServerClosed is the result an operation ended by the worker's exit
// completes with; errFile turns it into ErrServerClosed.
const resServerClosed = -int32(syscall.ECANCELED) - 1<<20
