//go:build linux

package rio

import (
	"io/fs"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// fileInfo is an fs.FileInfo made from a statx result, as os.Stat's is
// from a stat result.
type fileInfo struct {
	name string
	sx   unix.Statx_t
}

func newFileInfo(name string, sx *unix.Statx_t) *fileInfo {
	return &fileInfo{name: filepath.Base(name), sx: *sx}
}

// Name is the base name of the file.
func (fi *fileInfo) Name() string { return fi.name }

// Size is the length in bytes.
func (fi *fileInfo) Size() int64 { return int64(fi.sx.Size) }

// Mode is the file's mode and permission bits, as os.Stat reports them.
func (fi *fileInfo) Mode() fs.FileMode {
	m := fs.FileMode(fi.sx.Mode & 0o777)
	switch fi.sx.Mode & unix.S_IFMT {
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	}
	if fi.sx.Mode&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if fi.sx.Mode&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if fi.sx.Mode&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// ModTime is the last modification time.
func (fi *fileInfo) ModTime() time.Time {
	return time.Unix(fi.sx.Mtime.Sec, int64(fi.sx.Mtime.Nsec))
}

// IsDir reports whether the file is a directory.
func (fi *fileInfo) IsDir() bool { return fi.Mode().IsDir() }

// Sys returns the *unix.Statx_t the kernel filled.
func (fi *fileInfo) Sys() any { return &fi.sx }
