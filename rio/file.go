//go:build linux

package rio

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
)

// FileHandle names a file open on one worker, as Conn names a connection:
// a slot and the generation it had when opened, so a handle kept after
// Close is refused (fs.ErrClosed) even when the slot holds another file.
// Its methods start an operation and return at once; the callback runs on
// the worker when the operation completes. Call them on the worker (a
// Handler method, a timer, a function given to Server.Run); for ordinary
// goroutines, File wraps them.
//
// An error starting an operation is returned and the callback never runs;
// once started, the callback runs exactly once, with the outcome. Errors
// are *fs.PathError values with the operation and the file's name, and
// match the errno (errors.Is) and fs.ErrClosed.
type FileHandle struct {
	w   *Worker
	idx uint32
	gen uint32
}

// OpenFile opens name with os.OpenFile's flags and permission bits and
// hands done the handle. With O_DIRECT the file's alignment for direct I/O
// is read from the kernel (statx STATX_DIOALIGN) before done runs, and
// every ReadAt and WriteAt is checked against it.
func (w *Worker) OpenFile(name string, flag int, perm fs.FileMode, done func(FileHandle, error)) error {
	idx, op, err := w.takeOp(noFile, nil)
	if err != nil {
		return &fs.PathError{Op: "open", Path: name, Err: err}
	}
	op.done = func(res int32, _ uint64) {
		if res < 0 {
			done(FileHandle{}, fileErr("open", name, res))
			return
		}
		w.opened(int(res), name, flag, done)
	}
	path, err := w.files.path(idx, 0, name)
	if err == nil {
		err = w.be.OpenAt(path, flag|unix.O_CLOEXEC, uint32(perm&fs.ModePerm)|uint32(unixMode(perm)), w.files.ud(idx))
	}
	return w.startFailed(idx, "open", name, err)
}

// unixMode is perm's setuid, setgid and sticky bits as open(2) takes them.
func unixMode(perm fs.FileMode) uint32 {
	var m uint32
	if perm&fs.ModeSetuid != 0 {
		m |= unix.S_ISUID
	}
	if perm&fs.ModeSetgid != 0 {
		m |= unix.S_ISGID
	}
	if perm&fs.ModeSticky != 0 {
		m |= unix.S_ISVTX
	}
	return m
}

// startFailed undoes a started operation whose submission failed.
func (w *Worker) startFailed(idx uint32, op, name string, err error) error {
	if err == nil {
		return nil
	}
	w.releaseOp(idx)
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// opened gives descriptor fd a file slot; an O_DIRECT file first learns its
// alignment.
func (w *Worker) opened(fd int, name string, flag int, done func(FileHandle, error)) {
	direct := flag&unix.O_DIRECT != 0
	t := &w.files
	var i int32
	if n := len(t.freeFile); n > 0 {
		i = int32(t.freeFile[n-1])
		t.freeFile = t.freeFile[:n-1]
	} else {
		t.files = append(t.files, openFile{})
		i = int32(len(t.files) - 1)
	}
	f := &t.files[i]
	*f = openFile{fd: fd, gen: f.gen + 1, name: name, open: true, direct: direct, append: flag&os.O_APPEND != 0}
	t.nfiles++
	h := FileHandle{w, uint32(i), f.gen}
	if !direct {
		done(h, nil)
		return
	}
	err := h.stat(unix.STATX_DIOALIGN, func(sx *unix.Statx_t, err error) {
		if err == nil {
			f := &w.files.files[i]
			f.memAlign, f.offAlign = 4096, 4096 // what no device exceeds, when the kernel does not say
			if sx.Mask&unix.STATX_DIOALIGN != 0 && sx.Dio_offset_align != 0 {
				f.memAlign, f.offAlign = sx.Dio_mem_align, sx.Dio_offset_align
			}
			done(h, nil)
			return
		}
		unix.Close(fd)
		w.dropFile(i)
		done(FileHandle{}, &fs.PathError{Op: "open", Path: name, Err: errors.Unwrap(err)})
	})
	if err != nil {
		unix.Close(fd)
		w.dropFile(i)
		done(FileHandle{}, err)
	}
}

// dropFile frees file slot i; its handles go stale.
func (w *Worker) dropFile(i int32) {
	t := &w.files
	f := &t.files[i]
	*f = openFile{gen: f.gen}
	t.freeFile = append(t.freeFile, uint32(i))
	t.nfiles--
}

// file returns the open file h names, or an error for a stale handle or a
// file being closed.
func (h FileHandle) file(op string) (*openFile, error) {
	if h.w == nil {
		return nil, &fs.PathError{Op: op, Err: fs.ErrInvalid}
	}
	t := &h.w.files
	if int(h.idx) >= len(t.files) || t.files[h.idx].gen != h.gen || !t.files[h.idx].open {
		return nil, &fs.PathError{Op: op, Err: fs.ErrClosed}
	}
	f := &t.files[h.idx]
	if f.closing {
		return nil, &fs.PathError{Op: op, Path: f.name, Err: fs.ErrClosed}
	}
	return f, nil
}

// Name returns the name the file was opened with ("" for a stale handle).
func (h FileHandle) Name() string {
	if f, err := h.file("name"); err == nil {
		return f.name
	}
	return ""
}

// Worker returns the worker the file is open on.
func (h FileHandle) Worker() *Worker { return h.w }

// checkAlign refuses an O_DIRECT request the kernel would refuse, naming
// what is misaligned.
func (f *openFile) checkAlign(op string, buf []byte, off int64) error {
	if !f.direct {
		return nil
	}
	var what string
	var v uint64
	var align uint32
	switch addr := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(buf)))); {
	case off < 0 || uint64(off)%uint64(f.offAlign) != 0:
		what, v, align = "offset", uint64(off), f.offAlign
	case uint64(len(buf))%uint64(f.offAlign) != 0:
		what, v, align = "length", uint64(len(buf)), f.offAlign
	case addr%uint64(f.memAlign) != 0:
		return &fs.PathError{Op: op, Path: f.name, Err: fmt.Errorf("%w: buffer address %#x is not a multiple of %d", ErrMisaligned, addr, f.memAlign)}
	default:
		return nil
	}
	return &fs.PathError{Op: op, Path: f.name, Err: fmt.Errorf("%w: %s %d is not a multiple of %d", ErrMisaligned, what, v, align)}
}

// ReadAt reads up to len(buf) bytes at offset off, as one pread: done gets
// the count, which may be short, and io.EOF when the read starts at or
// past the end of the file. buf is the caller's memory; it is pinned and
// must not be touched until done runs. File.ReadAt reads in full.
func (h FileHandle) ReadAt(buf []byte, off int64, done func(n int, err error)) error {
	buf = buf[:min(len(buf), maxRW)]
	return h.rw("read", buf, off, func(name string) func(int32, uint64) {
		return func(res int32, _ uint64) {
			switch {
			case res == 0 && len(buf) > 0:
				done(0, io.EOF)
			case res < 0:
				done(0, fileErr("read", name, res))
			default:
				done(int(res), nil)
			}
		}
	})
}

// maxRW is the most one read or write asks for, as Linux's read(2) and
// write(2) cap a transfer (MAX_RW_COUNT); io_uring's length is 32 bits.
const maxRW = 0x7ffff000

// WriteAt writes buf at offset off, as one pwrite: done gets the count
// written and an error when it is short. Like write(2), one call writes
// at most 0x7ffff000 bytes, so a longer buf is written in part without an
// error; File.WriteAt writes in full. buf is pinned until done runs.
func (h FileHandle) WriteAt(buf []byte, off int64, done func(n int, err error)) error {
	buf = buf[:min(len(buf), maxRW)]
	return h.rw("write", buf, off, func(name string) func(int32, uint64) {
		return func(res int32, _ uint64) {
			switch {
			case res < 0:
				done(0, fileErr("write", name, res))
			case int(res) < len(buf):
				done(int(res), &fs.PathError{Op: "write", Path: name, Err: io.ErrShortWrite})
			default:
				done(int(res), nil)
			}
		}
	})
}

// errWriteAtAppend is os.File.WriteAt's refusal on an O_APPEND file, where
// Linux would ignore the offset.
var errWriteAtAppend = errors.New("invalid use of WriteAt on file opened with O_APPEND")

// rw starts a read or write on h; done makes the completion, given the
// file's name.
func (h FileHandle) rw(op string, buf []byte, off int64, done func(name string) func(int32, uint64)) error {
	f, err := h.file(op)
	switch {
	case err != nil:
		return err
	case off < 0:
		return &fs.PathError{Op: op, Path: f.name, Err: errors.New("negative offset")}
	case op == "write" && f.append:
		return &fs.PathError{Op: "writeat", Path: f.name, Err: errWriteAtAppend}
	}
	if err := f.checkAlign(op, buf, off); err != nil {
		return err
	}
	idx, o, err := h.w.takeOp(int32(h.idx), done(f.name))
	if err != nil {
		return &fs.PathError{Op: op, Path: f.name, Err: err}
	}
	o.pinBuf(buf)
	ud := h.w.files.ud(idx)
	if op == "read" {
		err = h.w.be.ReadAt(f.fd, buf, off, ud)
	} else {
		err = h.w.be.WriteAt(f.fd, buf, off, ud)
	}
	return h.w.startFailed(idx, op, f.name, err)
}

// Sync flushes the file's data and metadata to stable storage (fsync).
func (h FileHandle) Sync(done func(error)) error { return h.sync(false, done) }

// Datasync flushes the file's data, and only the metadata needed to read
// it back, to stable storage (fdatasync).
func (h FileHandle) Datasync(done func(error)) error { return h.sync(true, done) }

func (h FileHandle) sync(datasync bool, done func(error)) error {
	f, err := h.file("sync")
	if err != nil {
		return err
	}
	name := f.name
	idx, _, err := h.w.takeOp(int32(h.idx), func(res int32, _ uint64) { done(fileErr("sync", name, res)) })
	if err == nil {
		err = h.w.be.Fsync(f.fd, datasync, h.w.files.ud(idx))
		return h.w.startFailed(idx, "sync", name, err)
	}
	return &fs.PathError{Op: "sync", Path: name, Err: err}
}

// Stat returns the file's fs.FileInfo, as os.File.Stat does; its Sys is a
// *unix.Statx_t.
func (h FileHandle) Stat(done func(fs.FileInfo, error)) error {
	f, err := h.file("stat")
	if err != nil {
		return err
	}
	name := f.name
	return h.stat(statxMask, func(sx *unix.Statx_t, err error) {
		if err != nil {
			done(nil, err)
			return
		}
		done(newFileInfo(name, sx), nil)
	})
}

// stat runs statx on the open file for the fields of mask.
func (h FileHandle) stat(mask uint32, done func(*unix.Statx_t, error)) error {
	f, err := h.file("stat")
	if err != nil {
		return err
	}
	name := f.name
	var idx uint32
	idx, _, err = h.w.takeOp(int32(h.idx), func(res int32, _ uint64) {
		if res < 0 {
			done(nil, fileErr("stat", name, res))
			return
		}
		done(h.w.files.statx(idx), nil) // the slot is free again, but nothing reuses it before done returns
	})
	if err == nil {
		err = h.w.be.Statx(f.fd, nil, mask, h.w.files.statx(idx), h.w.files.ud(idx))
		return h.w.startFailed(idx, "stat", name, err)
	}
	return &fs.PathError{Op: "stat", Path: name, Err: err}
}

// Close closes the file once the operations in flight on it complete; new
// ones are refused from now on. done gets close(2)'s outcome.
func (h FileHandle) Close(done func(error)) error {
	f, err := h.file("close")
	if err != nil {
		return err
	}
	f.closing, f.closed = true, done
	if f.ops == 0 {
		h.w.issueClose(int32(h.idx))
	}
	return nil
}

// issueClose closes file i, whose operations have all completed. The
// close needs no operation slot: its completion names the file's own slot
// (opFileClose), which stays taken until then, so a close is never refused
// for want of room.
func (w *Worker) issueClose(i int32) {
	f := &w.files.files[i]
	if err := w.be.CloseFd(f.fd, userData(opFileClose, uint32(i), f.gen)); err != nil {
		// The descriptor must not outlive its file: closed here instead.
		w.fileClosed(i, errnoOf(unix.Close(f.fd)))
		return
	}
	w.files.closes++ // the worker does not exit before it completes
}

// onFileClose completes a file's close.
func (w *Worker) onFileClose(c *backend.Completion, i, gen uint32) {
	t := &w.files
	if int(i) >= len(t.files) || t.files[i].gen != gen || !t.files[i].open {
		w.stats.staleCompletions.Add(1)
		return
	}
	t.closes--
	w.fileClosed(int32(i), c.Res)
}

// fileClosed frees file i's slot and reports its close's result res.
func (w *Worker) fileClosed(i int32, res int32) {
	f := &w.files.files[i]
	name, done := f.name, f.closed
	w.dropFile(i)
	w.callFileDone(func(res int32, _ uint64) { done(fileErr("close", name, res)) }, res, 0)
}

// errnoOf is err's errno as a negative result: 0 for nil, EIO when it
// has none.
func errnoOf(err error) int32 {
	var e syscall.Errno
	switch {
	case err == nil:
		return 0
	case errors.As(err, &e):
		return -int32(e)
	}
	return -int32(syscall.EIO)
}

// fileErr is a completion result as the os package would report it.
func fileErr(op, name string, res int32) error {
	switch {
	case res >= 0:
		return nil
	case res == resServerClosed:
		return &fs.PathError{Op: op, Path: name, Err: ErrServerClosed}
	}
	return &fs.PathError{Op: op, Path: name, Err: syscall.Errno(-res)}
}

// Stat stats name, following symbolic links, as os.Stat does.
func (w *Worker) Stat(name string, done func(fs.FileInfo, error)) error {
	var idx uint32
	idx, _, err := w.takeOp(noFile, func(res int32, _ uint64) {
		if res < 0 {
			done(nil, fileErr("stat", name, res))
			return
		}
		done(newFileInfo(name, w.files.statx(idx)), nil)
	})
	if err != nil {
		return &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	path, err := w.files.path(idx, 0, name)
	if err == nil {
		err = w.be.Statx(-1, path, statxMask, w.files.statx(idx), w.files.ud(idx))
	}
	return w.startFailed(idx, "stat", name, err)
}

// Mkdir creates directory name with perm (before the umask), as os.Mkdir.
func (w *Worker) Mkdir(name string, perm fs.FileMode, done func(error)) error {
	idx, _, err := w.takeOp(noFile, func(res int32, _ uint64) { done(fileErr("mkdir", name, res)) })
	if err != nil {
		return &fs.PathError{Op: "mkdir", Path: name, Err: err}
	}
	path, err := w.files.path(idx, 0, name)
	if err == nil {
		err = w.be.Mkdir(path, uint32(perm&fs.ModePerm)|unixMode(perm), w.files.ud(idx))
	}
	return w.startFailed(idx, "mkdir", name, err)
}

// Rename renames oldpath to newpath, as os.Rename; errors are
// *os.LinkError. Unlike os.Rename it does not refuse a newpath that is an
// existing directory itself (it leaves that to the kernel).
func (w *Worker) Rename(oldpath, newpath string, done func(error)) error {
	linkErr := func(err error) error { return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err} }
	idx, _, err := w.takeOp(noFile, func(res int32, _ uint64) {
		switch {
		case res == resServerClosed:
			done(linkErr(ErrServerClosed))
		case res < 0:
			done(linkErr(syscall.Errno(-res)))
		default:
			done(nil)
		}
	})
	if err != nil {
		return linkErr(err)
	}
	oldp, err := w.files.path(idx, 0, oldpath)
	var newp *byte
	if err == nil {
		newp, err = w.files.path(idx, 1, newpath)
	}
	if err == nil {
		err = w.be.Rename(oldp, newp, w.files.ud(idx))
	}
	if err != nil {
		w.releaseOp(idx)
		return linkErr(err)
	}
	return nil
}

// Remove removes the file or empty directory name, as os.Remove: unlink,
// then rmdir, and the error of the two that explains the failure.
func (w *Worker) Remove(name string, done func(error)) error {
	return w.unlink(name, false, func(res int32) {
		if res >= 0 || res == resServerClosed {
			done(fileErr("remove", name, res))
			return
		}
		err := w.unlink(name, true, func(res2 int32) {
			switch {
			case res2 >= 0:
				done(nil)
			case res2 != -int32(syscall.ENOTDIR):
				done(fileErr("remove", name, res2))
			default:
				done(fileErr("remove", name, res))
			}
		})
		if err != nil {
			done(err)
		}
	})
}

func (w *Worker) unlink(name string, dir bool, done func(int32)) error {
	idx, _, err := w.takeOp(noFile, func(res int32, _ uint64) { done(res) })
	if err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	path, err := w.files.path(idx, 0, name)
	if err == nil {
		err = w.be.Unlink(path, dir, w.files.ud(idx))
	}
	return w.startFailed(idx, "remove", name, err)
}
