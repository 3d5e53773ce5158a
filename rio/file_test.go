//go:build linux

package rio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
)

// fileServer starts workers with no listener, for files.
func fileServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.Workers == 0 {
		cfg.Workers = 1
	}
	return startClient(t, cfg, NopHandler{})
}

// A File reads back what it wrote, reports the end of the file as
// os.File does (the bytes there are, then io.EOF), stats, syncs, and
// refuses every call once closed.
func TestFileReadAfterWrite(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		srv := fileServer(t, cfg)
		name := filepath.Join(t.TempDir(), "data")
		f, err := srv.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		want := bytes.Repeat([]byte("ringline files "), 1000)
		if n, err := f.WriteAt(want, 100); n != len(want) || err != nil {
			t.Fatalf("WriteAt: %d, %v", n, err)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		if err := f.Datasync(); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(want))
		if n, err := f.ReadAt(got, 100); n != len(want) || err != nil || !bytes.Equal(got, want) {
			t.Fatalf("ReadAt: %d, %v, equal %v", n, err, bytes.Equal(got, want))
		}
		if n, err := f.ReadAt(got, int64(100+len(want)-10)); n != 10 || err != io.EOF {
			t.Fatalf("ReadAt across the end: %d, %v; want 10, io.EOF", n, err)
		}
		fi, err := f.Stat()
		if err != nil || fi.Size() != int64(100+len(want)) || fi.Name() != "data" || !fi.Mode().IsRegular() {
			t.Fatalf("Stat: %v, %v", fi, err)
		}
		if os, err := os.Stat(name); err != nil || os.Mode() != fi.Mode() || !os.ModTime().Equal(fi.ModTime()) {
			t.Fatalf("Stat %v %v differs from os.Stat's %v", fi.Mode(), fi.ModTime(), os)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := f.ReadAt(got, 0); !errors.Is(err, fs.ErrClosed) {
			t.Fatalf("ReadAt after Close: %v, want fs.ErrClosed", err)
		}
		if err := f.Close(); !errors.Is(err, fs.ErrClosed) {
			t.Fatalf("second Close: %v, want fs.ErrClosed", err)
		}
		if on, err := os.ReadFile(name); err != nil || !bytes.Equal(on[100:], want) {
			t.Fatalf("file on disk differs: %v", err)
		}
	})
}

// Path operations succeed and fail as the os package's do: the same
// error types, operations, paths and errnos.
func TestFilePathOpsMatchOS(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		srv := fileServer(t, cfg)
		dir := t.TempDir()
		p := func(s string) string { return filepath.Join(dir, s) }
		if err := os.WriteFile(p("file"), []byte("x"), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(p("full"), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p("full/inner"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		same := func(what string, got, want error) {
			t.Helper()
			if (got == nil) != (want == nil) || got != nil && got.Error() != want.Error() {
				t.Errorf("%s: %v, want what os gives: %v", what, got, want)
			}
			var ge, we syscall.Errno
			if errors.As(want, &we) && (!errors.As(got, &ge) || ge != we || !errors.Is(got, we)) {
				t.Errorf("%s: errno %v, want %v", what, ge, we)
			}
		}
		_, osErr := os.Stat(p("missing"))
		_, err := srv.Stat(p("missing"))
		same("stat missing", err, osErr)
		same("mkdir existing", srv.Mkdir(p("full"), 0o700), os.Mkdir(p("full"), 0o700))
		same("remove missing", srv.Remove(p("missing")), os.Remove(p("missing")))
		same("remove non-empty", srv.Remove(p("full")), os.Remove(p("full")))
		same("rename missing", srv.Rename(p("missing"), p("other")), os.Rename(p("missing"), p("other")))
		same("mkdir in a file", srv.Mkdir(p("file/sub"), 0o700), os.Mkdir(p("file/sub"), 0o700))
		_, osErr = os.Open(p("missing"))
		_, err = srv.Open(p("missing"))
		same("open missing", err, osErr)

		if err := srv.Mkdir(p("new"), 0o750); err != nil {
			t.Fatal(err)
		}
		fi, err := srv.Stat(p("new"))
		ofi, oerr := os.Stat(p("new"))
		if err != nil || oerr != nil || !fi.IsDir() || fi.Mode() != ofi.Mode() || fi.Name() != "new" {
			t.Fatalf("Stat of the new directory: %v %v, os: %v %v", fi, err, ofi, oerr)
		}
		if err := srv.Rename(p("file"), p("new/moved")); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(p("new/moved")); err != nil || string(b) != "x" {
			t.Fatalf("renamed file: %q, %v", b, err)
		}
		if err := srv.Remove(p("new/moved")); err != nil {
			t.Fatal(err)
		}
		if err := srv.Remove(p("new")); err != nil { // an empty directory: unlink fails, rmdir succeeds
			t.Fatal(err)
		}
		if _, err := os.Stat(p("new")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("removed directory still there: %v", err)
		}
	})
}

// O_DIRECT: misaligned offsets, lengths and buffers are refused before
// the kernel sees them, naming which; aligned requests go through.
func TestFileDirectAlignment(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		srv := fileServer(t, cfg)
		name := filepath.Join(t.TempDir(), "direct")
		f, err := srv.OpenFile(name, os.O_RDWR|os.O_CREATE|unix.O_DIRECT, 0o600)
		if errors.Is(err, syscall.EINVAL) {
			t.Skipf("the filesystem of %s refuses O_DIRECT: %v", name, err)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		buf := AlignedBuffer(8192, 4096)
		for i := range buf {
			buf[i] = byte(i * 13)
		}
		for _, bad := range []struct {
			what string
			p    []byte
			off  int64
		}{
			{"offset 100 ", buf[:4096], 100},
			{"length 100 ", buf[:100], 0},
			{"buffer address", buf[1 : 1+4096], 0},
		} {
			_, err := f.WriteAt(bad.p, bad.off)
			var pe *fs.PathError
			if !errors.Is(err, ErrMisaligned) || !errors.As(err, &pe) || pe.Op != "write" || !bytes.Contains([]byte(err.Error()), []byte(bad.what)) {
				t.Errorf("misaligned %s: %v, want ErrMisaligned naming it", bad.what, err)
			}
		}
		if n, err := f.WriteAt(buf, 4096); n != len(buf) || err != nil {
			t.Fatalf("aligned WriteAt: %d, %v", n, err)
		}
		got := AlignedBuffer(8192, 4096)
		if n, err := f.ReadAt(got, 4096); n != len(got) || err != nil || !bytes.Equal(got, buf) {
			t.Fatalf("aligned ReadAt: %d, %v", n, err)
		}
		if st := srv.Stats().Total(); st.FileOps == 0 {
			t.Fatal("no file operation counted")
		}
	})
}

// Many goroutines write and read their own blocks of one file at once;
// every byte comes back as written.
func TestFileConcurrentGoroutines(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.FileOps = 8   // fewer slots than goroutines: calls wait for room
		cfg.PostQueue = 4 // and a post queue that fills: calls wait for it too
		srv := fileServer(t, cfg)
		f, err := srv.Create(filepath.Join(t.TempDir(), "many"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		const goroutines, blocks, size = 32, 8, 3000
		var wg sync.WaitGroup
		errc := make(chan error, goroutines)
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(g), 1))
				for b := range blocks {
					want := make([]byte, size)
					for i := range want {
						want[i] = byte(r.Uint32())
					}
					off := int64((g*blocks + b) * size)
					if _, err := f.WriteAt(want, off); err != nil {
						errc <- err
						return
					}
					got := make([]byte, size)
					if _, err := f.ReadAt(got, off); err != nil || !bytes.Equal(got, want) {
						errc <- errors.Join(err, errors.New("block read back differs"))
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Error(err)
		}
	})
}

// A worker's own file methods fail with ErrFileOpsExhausted once
// Config.FileOps operations are in flight, and a stale handle is refused.
func TestFileOpsExhaustedAndStaleHandle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.FileOps = 2
		srv := fileServer(t, cfg)
		name := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(name, make([]byte, 4096), 0o600); err != nil {
			t.Fatal(err)
		}
		type outcome struct {
			third, stale error
			reads        int
		}
		res := make(chan outcome, 1)
		err := srv.Run(0, func(w *Worker) {
			err := w.OpenFile(name, os.O_RDONLY, 0, func(h FileHandle, err error) {
				if err != nil {
					res <- outcome{third: err}
					return
				}
				var o outcome
				pending := 2
				read := func(n int, err error) {
					if err == nil {
						o.reads++
					}
					if pending--; pending == 0 {
						h.Close(func(error) {
							o.stale = h.ReadAt(make([]byte, 10), 0, func(int, error) {})
							res <- o
						})
					}
				}
				h.ReadAt(make([]byte, 100), 0, read)
				h.ReadAt(make([]byte, 100), 100, read)
				o.third = h.ReadAt(make([]byte, 100), 200, func(int, error) {})
			})
			if err != nil {
				res <- outcome{third: err}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		o := <-res
		if !errors.Is(o.third, ErrFileOpsExhausted) || o.reads != 2 {
			t.Fatalf("third read: %v (want ErrFileOpsExhausted), reads %d of 2", o.third, o.reads)
		}
		if !errors.Is(o.stale, fs.ErrClosed) {
			t.Fatalf("read on a closed handle: %v, want fs.ErrClosed", o.stale)
		}
		if srv.Stats().Total().FileOpsExhausted != 1 {
			t.Fatalf("FileOpsExhausted %d, want 1", srv.Stats().Total().FileOpsExhausted)
		}
	})
}

// faultFiles is a backend whose reads, writes, syncs and opens complete
// with an injected result instead of running: the worker's real dispatch
// handles each error.
type faultFiles struct {
	backend.Backend
	res int32
}

func (b faultFiles) ReadAt(_ int, _ []byte, _ int64, ud uint64) error  { return b.Inject(ud, b.res) }
func (b faultFiles) WriteAt(_ int, _ []byte, _ int64, ud uint64) error { return b.Inject(ud, b.res) }
func (b faultFiles) Fsync(_ int, _ bool, ud uint64) error              { return b.Inject(ud, b.res) }

// Errors arriving in completions (EIO, ENOSPC, EAGAIN, ECANCELED) come out
// as *fs.PathError with the operation, the file and the errno.
func TestFileInjectedErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		for _, errno := range []syscall.Errno{syscall.EIO, syscall.ENOSPC, syscall.EAGAIN, syscall.ECANCELED} {
			t.Run(errno.Error(), func(t *testing.T) {
				name := filepath.Join(t.TempDir(), "f")
				if err := os.WriteFile(name, make([]byte, 100), 0o600); err != nil {
					t.Fatal(err)
				}
				testHookBackend = func(b backend.Backend) (backend.Backend, error) { return faultFiles{b, -int32(errno)}, nil }
				srv := fileServer(t, cfg)
				testHookBackend = nil
				requireInject(t, srv)
				f, err := srv.OpenFile(name, os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				_, rerr := f.ReadAt(make([]byte, 10), 0)
				_, werr := f.WriteAt(make([]byte, 10), 0)
				serr := f.Sync()
				for op, err := range map[string]error{"read": rerr, "write": werr, "sync": serr} {
					var pe *fs.PathError
					if !errors.As(err, &pe) || pe.Op != op || pe.Path != name || !errors.Is(err, errno) {
						t.Errorf("%s: %v; want *fs.PathError{%s, %s, %v}", op, err, op, name, errno)
					}
				}
			})
		}
	})
}

// Closing the server while goroutines have file requests in flight ends
// every call, with its outcome or an error, and leaves no descriptor (the
// package's TestMain checks).
func TestFileShutdownWithRequestsInFlight(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		srv, err := StartClient(t.Context(), Config{Backend: cfg.Backend, Workers: 1}, NopHandler{})
		if err != nil {
			t.Fatal(err)
		}
		f, err := srv.Create(filepath.Join(t.TempDir(), "busy"))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		started := make(chan struct{}, 16)
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 4096)
				for i := 0; ; i++ {
					if _, err := f.WriteAt(buf, int64(i%64)*4096); err != nil {
						if !errors.Is(err, ErrServerClosed) && !errors.Is(err, fs.ErrClosed) {
							t.Errorf("WriteAt during shutdown: %v", err)
						}
						return
					}
					if i == 10 {
						started <- struct{}{}
					}
				}
			}()
		}
		for range 16 {
			<-started
		}
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if err := f.Close(); !errors.Is(err, ErrServerClosed) {
			t.Fatalf("Close after the server: %v, want ErrServerClosed", err)
		}
	})
}

// OpenNvme refuses what is not an NVMe generic character device: a
// regular file and /dev/null, with ErrNotNvme and no descriptor left open.
// (There is no NVMe device here; the command encodings are checked byte by
// byte in the binding and the epoll engine.)
func TestNvmeRefusesOtherFiles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		srv := fileServer(t, cfg)
		name := filepath.Join(t.TempDir(), "plain")
		if err := os.WriteFile(name, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{name, "/dev/null"} {
			errc := make(chan error, 1)
			if err := srv.Run(0, func(w *Worker) {
				if err := w.OpenNvme(path, func(_ NvmeDevice, err error) { errc <- err }); err != nil {
					errc <- err
				}
			}); err != nil {
				t.Fatal(err)
			}
			err := <-errc
			var pe *fs.PathError
			if !errors.Is(err, ErrNotNvme) || !errors.As(err, &pe) || pe.Path != path {
				t.Errorf("OpenNvme(%s): %v, want ErrNotNvme in a *fs.PathError", path, err)
			}
		}
	})
}

// What the os package refuses is refused the same way: a name with a NUL
// byte (never cut short, so no other file is touched), an empty name, and
// WriteAt on an O_APPEND file.
func TestFileRefusalsMatchOS(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		srv := fileServer(t, cfg)
		dir := t.TempDir()
		foo := filepath.Join(dir, "foo")
		if err := os.WriteFile(foo, []byte("keep"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := srv.Remove(foo + "\x00bar"); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("Remove of a name with NUL: %v, want EINVAL", err)
		}
		if _, err := os.Stat(foo); err != nil {
			t.Fatalf("%s is gone after a refused remove: %v", foo, err)
		}
		if _, err := srv.Open(""); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(\"\"): %v, want ENOENT", err)
		}
		f, err := srv.OpenFile(foo, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		of, err := os.OpenFile(foo, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer of.Close()
		_, err = f.WriteAt([]byte("x"), 0)
		_, oerr := of.WriteAt([]byte("x"), 0)
		if err == nil || oerr == nil || !strings.Contains(err.Error(), "invalid use of WriteAt on file opened with O_APPEND") || !strings.Contains(oerr.Error(), "invalid use of WriteAt") {
			t.Errorf("WriteAt on O_APPEND: %v, want os's %v", err, oerr)
		}
	})
}

// An O_DIRECT ReadAt that crosses the end of the file returns what is
// there and io.EOF, as os.File.ReadAt does.
func TestFileDirectReadAcrossEOF(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		srv := fileServer(t, cfg)
		name := filepath.Join(t.TempDir(), "short")
		want := bytes.Repeat([]byte("0123456789"), 500)
		if err := os.WriteFile(name, want, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := srv.OpenFile(name, os.O_RDONLY|unix.O_DIRECT, 0)
		if errors.Is(err, syscall.EINVAL) {
			t.Skipf("the filesystem of %s refuses O_DIRECT", name)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		buf := AlignedBuffer(8192, 4096)
		if n, err := f.ReadAt(buf, 0); n != len(want) || err != io.EOF || !bytes.Equal(buf[:n], want) {
			t.Fatalf("ReadAt across the end: %d, %v; want %d, io.EOF", n, err, len(want))
		}
	})
}

// A File call waiting for an operation slot gives up at once when its
// context ends, and Server.Close cancels a read that would wait forever
// (a FIFO no one writes to), ending its call with an error.
func TestFileContextAndCloseCancel(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		if cfg.Backend == BackendEpoll {
			t.Skip("the epoll engine's file threads block in read(2) like os.File; only io_uring can cancel it")
		}
		srv, err := StartClient(t.Context(), Config{Backend: cfg.Backend, Workers: 1, FileOps: 1}, NopHandler{})
		if err != nil {
			t.Fatal(err)
		}
		fifo := filepath.Join(t.TempDir(), "fifo")
		if err := unix.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := srv.OpenFile(fifo, os.O_RDWR, 0) // O_RDWR: open does not wait for a writer
		if err != nil {
			t.Fatal(err)
		}
		blocked := make(chan error, 1)
		go func() {
			_, err := f.ReadAt(make([]byte, 10), 0)
			blocked <- err
		}()
		for inflight := 0; inflight == 0; { // until the read holds the one slot
			got := make(chan int, 1)
			if err := srv.Run(0, func(w *Worker) { got <- w.files.inflight }); err != nil {
				t.Fatal(err)
			}
			inflight = <-got
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err = f.ReadAtContext(ctx, make([]byte, 10), 0)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("ReadAtContext waiting for a slot: %v, want context.DeadlineExceeded", err)
		}
		closed := make(chan error, 1)
		go func() { closed <- srv.Close() }()
		within(t, "Close with a FIFO read in flight", chanDone(closed), 10*time.Second)
		if err := <-blocked; err == nil {
			t.Fatal("the cancelled FIFO read succeeded")
		}
	})
}

// chanDone is a channel closed when ch has delivered one value.
func chanDone[T any](ch chan T) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		v := <-ch
		ch <- v
		close(done)
	}()
	return done
}

// A file closed in OnClose of the last connection, while the server shuts
// down, is closed for real and reports success: the worker waits for the
// close it handed to the kernel before it exits.
func TestFileCloseDuringShutdown(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		name := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(name, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		opened, closed := make(chan error, 1), make(chan error, 1)
		var fh FileHandle
		h := &hooks{
			open: func(c Conn) {
				c.Worker().OpenFile(name, os.O_RDONLY, 0, func(f FileHandle, err error) {
					fh = f
					opened <- err
				})
			},
			closed: func(Conn, error) {
				if err := fh.Close(func(err error) { closed <- err }); err != nil {
					closed <- err
				}
			},
		}
		cfg.Workers = 1
		srv, err := Listen(context.Background(), "tcp", "127.0.0.1:0", cfg, h)
		if err != nil {
			t.Fatal(err)
		}
		conn := dialTCP(t, srv)
		defer conn.Close()
		if err := <-opened; err != nil {
			t.Fatal(err)
		}
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-closed; err != nil {
			t.Errorf("the file's Close during shutdown: %v, want nil", err)
		}
	})
}
