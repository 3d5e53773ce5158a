//go:build linux

package rio

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// File is an open file for ordinary goroutines, the counterpart of
// os.File: ReadAt, WriteAt, Stat, Sync and Close block the calling
// goroutine, but the work is done by the file's worker, through its ring.
// Many goroutines with requests in flight share the worker's submissions
// in batches, and none of them holds an OS thread while it waits, as
// os.File.ReadAt does for the whole read. Its methods are safe for
// concurrent use, and it implements io.ReaderAt, io.WriterAt and
// io.Closer.
//
// A request waits for one of the worker's Config.FileOps operation slots
// when all are busy; the Context variants give up that wait, and the
// submission, when the context ends. Once the kernel has the request, it
// runs to completion: its buffer is in use until then.
type File struct {
	w      *Worker
	h      FileHandle // owned by the worker
	name   string
	closed atomic.Bool
}

// call is one goroutine's wait for a worker: what the worker sets before
// signalling done.
type call struct {
	done chan struct{}
	n    int
	err  error
	h    FileHandle
}

var calls = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

// finish records the outcome and wakes the waiting goroutine.
func (c *call) finish(n int, err error) {
	c.n, c.err = n, err
	c.done <- struct{}{}
}

// The states of a call, moved by compare-and-swap between the goroutine
// and the worker.
const (
	callPending   int32 = iota // queued, or waiting for an operation slot
	callStarting               // the worker is starting it
	callStarted                // the kernel (or a file thread) has it: it will finish
	callAbandoned              // the goroutine left before it started
)

// await runs start on worker w and waits for the call to finish. start
// returns false when it found every operation slot busy; it is then run
// again as soon as one is free. A context that ends before the request
// starts gives up at once with its error; one that ends later waits for
// the outcome, since the request's buffer is in use until then. A full
// post queue is waited out. If the worker exits with the call still
// queued, the call fails with ErrServerClosed.
func await(ctx context.Context, w *Worker, op, name string, start func(*Worker, *call) bool) (*call, error) {
	c := calls.Get().(*call)
	state := new(atomic.Int32)
	var run func(*Worker)
	run = func(w *Worker) {
		if !state.CompareAndSwap(callPending, callStarting) {
			return // abandoned: c belongs to nobody now
		}
		if start(w, c) {
			state.Store(callStarted)
			return
		}
		state.Store(callPending)
		w.files.waiting = append(w.files.waiting, run)
	}
	for pause := time.Microsecond; ; pause = min(2*pause, time.Millisecond) {
		err := w.posts.post(run)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrPostQueueFull) {
			calls.Put(c)
			return nil, &fs.PathError{Op: op, Path: name, Err: err}
		}
		select {
		case <-ctx.Done():
			calls.Put(c)
			return nil, &fs.PathError{Op: op, Path: name, Err: ctx.Err()}
		case <-time.After(pause):
		}
	}
	gone := w.srv.done
	for {
		select {
		case <-c.done:
			return c, nil
		case <-gone:
			// Every worker has exited: what they started has finished, so a
			// call not finished was never run.
			select {
			case <-c.done:
				return c, nil
			default:
				return nil, &fs.PathError{Op: op, Path: name, Err: ErrServerClosed}
			}
		case <-ctx.Done():
			if state.CompareAndSwap(callPending, callAbandoned) {
				return nil, &fs.PathError{Op: op, Path: name, Err: ctx.Err()}
			}
			if state.Load() == callStarting {
				runtime.Gosched() // the worker decides in a moment
				continue
			}
			<-c.done // started: it finishes
			return c, nil
		}
	}
}

// release returns c to the pool once its outcome has been read.
func (c *call) release() {
	*c = call{done: c.done}
	calls.Put(c)
}

// started reports a request the worker could not start for want of an
// operation slot (false: wait), or finishes c with any other failure.
func started(c *call, err error) bool {
	if errors.Is(err, ErrFileOpsExhausted) {
		return false
	}
	if err != nil {
		c.finish(0, err)
	}
	return true
}

// OpenFile opens name on one of the server's workers (chosen in turn),
// with os.OpenFile's flags and permission bits. With O_DIRECT, reads and
// writes must be aligned as the file requires; a misaligned one fails
// with ErrMisaligned before the kernel sees it (AlignedBuffer makes
// suitable buffers).
func (s *Server) OpenFile(name string, flag int, perm fs.FileMode) (*File, error) {
	return s.OpenFileContext(context.Background(), name, flag, perm)
}

// OpenFileContext is OpenFile with a context that bounds the wait for an
// operation slot.
func (s *Server) OpenFileContext(ctx context.Context, name string, flag int, perm fs.FileMode) (*File, error) {
	w := s.nextWorker()
	c, err := await(ctx, w, "open", name, func(w *Worker, c *call) bool {
		return started(c, w.OpenFile(name, flag, perm, func(h FileHandle, err error) {
			c.h = h
			c.finish(0, err)
		}))
	})
	if err != nil {
		return nil, err
	}
	defer c.release()
	if c.err != nil {
		return nil, c.err
	}
	return &File{w: w, h: c.h, name: name}, nil
}

// Open opens name for reading, as os.Open.
func (s *Server) Open(name string) (*File, error) { return s.OpenFile(name, os.O_RDONLY, 0) }

// Create creates or truncates name for reading and writing, as os.Create.
func (s *Server) Create(name string) (*File, error) {
	return s.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

// nextWorker picks the worker for a new file or path operation, in turn.
func (s *Server) nextWorker() *Worker {
	return s.workers[int(s.fileTurn.Add(1)-1)%len(s.workers)]
}

// Name returns the name the file was opened with.
func (f *File) Name() string { return f.name }

// ReadAt reads len(p) bytes at offset off, as os.File.ReadAt: it returns
// fewer only with an error, io.EOF at the end of the file. With O_DIRECT,
// p must be aligned as the file requires.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	return f.ReadAtContext(context.Background(), p, off)
}

// ReadAtContext is ReadAt with a context that bounds the wait for an
// operation slot.
func (f *File) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	return f.transfer(ctx, "read", p, off, FileHandle.ReadAt)
}

// WriteAt writes p at offset off, as os.File.WriteAt: all of it, or an
// error. With O_DIRECT, p must be aligned as the file requires.
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	return f.WriteAtContext(context.Background(), p, off)
}

// WriteAtContext is WriteAt with a context that bounds the wait for an
// operation slot.
func (f *File) WriteAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	return f.transfer(ctx, "write", p, off, FileHandle.WriteAt)
}

// transfer moves all of p at off, one request after another on the
// worker until it is done, the file ends (reads) or one fails.
func (f *File) transfer(ctx context.Context, op string, p []byte, off int64,
	do func(FileHandle, []byte, int64, func(int, error)) error) (int, error) {
	if err := f.check(op); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	c, err := await(ctx, f.w, op, f.name, func(w *Worker, c *call) bool {
		var step func(n int, err error)
		asked := min(len(p), maxRW) // what each request asks for: FileHandle caps it
		step = func(n int, err error) {
			c.n += n
			switch {
			case err != nil || c.n == len(p):
			case op == "read" && n < asked && w.files.files[f.h.idx].direct:
				err = io.EOF // a short direct read ends at the end of the file; asking on would be misaligned
			default:
				asked = min(len(p)-c.n, maxRW)
				err = do(f.h, p[c.n:], off+int64(c.n), step) // the file's own slot came free with this completion
			}
			if err != nil || c.n == len(p) {
				c.finish(c.n, err)
			}
		}
		return started(c, do(f.h, p, off, step))
	})
	if err != nil {
		return 0, err
	}
	defer c.release()
	return c.n, c.err
}

// check refuses calls on a closed File.
func (f *File) check(op string) error {
	if f == nil {
		return &fs.PathError{Op: op, Err: fs.ErrInvalid}
	}
	if f.closed.Load() {
		return &fs.PathError{Op: op, Path: f.name, Err: fs.ErrClosed}
	}
	return nil
}

// Sync commits the file's contents to stable storage, as os.File.Sync.
func (f *File) Sync() error { return f.sync(FileHandle.Sync) }

// Datasync commits the file's data, and the metadata needed to read it,
// to stable storage (fdatasync).
func (f *File) Datasync() error { return f.sync(FileHandle.Datasync) }

func (f *File) sync(do func(FileHandle, func(error)) error) error {
	if err := f.check("sync"); err != nil {
		return err
	}
	return f.simple("sync", func(c *call) error { return do(f.h, func(err error) { c.finish(0, err) }) })
}

// simple runs one operation with no result but an error.
func (f *File) simple(op string, start func(*call) error) error {
	c, err := await(context.Background(), f.w, op, f.name, func(w *Worker, c *call) bool {
		return started(c, start(c))
	})
	if err != nil {
		return err
	}
	defer c.release()
	return c.err
}

// Stat returns the file's fs.FileInfo, as os.File.Stat.
func (f *File) Stat() (fs.FileInfo, error) {
	if err := f.check("stat"); err != nil {
		return nil, err
	}
	var fi fs.FileInfo
	err := f.simple("stat", func(c *call) error {
		return f.h.Stat(func(got fs.FileInfo, err error) {
			fi = got
			c.finish(0, err)
		})
	})
	return fi, err
}

// Close closes the file once the requests in flight on it complete, as
// os.File.Close; later calls fail with fs.ErrClosed.
func (f *File) Close() error {
	if f == nil {
		return &fs.PathError{Op: "close", Err: fs.ErrInvalid}
	}
	if !f.closed.CompareAndSwap(false, true) {
		return &fs.PathError{Op: "close", Path: f.name, Err: fs.ErrClosed}
	}
	return f.simple("close", func(c *call) error { return f.h.Close(func(err error) { c.finish(0, err) }) })
}

// Stat stats name, as os.Stat.
func (s *Server) Stat(name string) (fs.FileInfo, error) {
	var fi fs.FileInfo
	err := s.pathOp("stat", name, func(w *Worker, c *call) error {
		return w.Stat(name, func(got fs.FileInfo, err error) {
			fi = got
			c.finish(0, err)
		})
	})
	return fi, err
}

// Mkdir creates directory name, as os.Mkdir.
func (s *Server) Mkdir(name string, perm fs.FileMode) error {
	return s.pathOp("mkdir", name, func(w *Worker, c *call) error {
		return w.Mkdir(name, perm, func(err error) { c.finish(0, err) })
	})
}

// Remove removes the file or empty directory name, as os.Remove.
func (s *Server) Remove(name string) error {
	return s.pathOp("remove", name, func(w *Worker, c *call) error {
		return w.Remove(name, func(err error) { c.finish(0, err) })
	})
}

// Rename renames oldpath to newpath, as os.Rename (see Worker.Rename).
func (s *Server) Rename(oldpath, newpath string) error {
	return s.pathOp("rename", oldpath, func(w *Worker, c *call) error {
		return w.Rename(oldpath, newpath, func(err error) { c.finish(0, err) })
	})
}

// pathOp runs one path operation on a worker chosen in turn and waits.
func (s *Server) pathOp(op, name string, start func(*Worker, *call) error) error {
	c, err := await(context.Background(), s.nextWorker(), op, name, func(w *Worker, c *call) bool {
		return started(c, start(w, c))
	})
	if err != nil {
		return err
	}
	defer c.release()
	return c.err
}

// AlignedBuffer returns n bytes of zeroed memory whose address is a
// multiple of align (a power of two; 4096 suits every O_DIRECT file), for
// O_DIRECT reads and writes. It is ordinary Go memory: the runtime pins it
// while a request uses it.
func AlignedBuffer(n, align int) []byte {
	if align < 1 || align&(align-1) != 0 {
		panic("rio: AlignedBuffer: alignment is not a power of two")
	}
	b := make([]byte, n+align)
	skip := int(-uintptr(unsafe.Pointer(unsafe.SliceData(b))) & uintptr(align-1))
	return b[skip : skip+n : skip+n]
}

var (
	_ io.ReaderAt = (*File)(nil)
	_ io.WriterAt = (*File)(nil)
	_ io.Closer   = (*File)(nil)
)
