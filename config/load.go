package config

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// MaxConfigSize is the largest config file Load reads (16 MiB). A bigger file is refused before it is read, so
// a runaway file (a log redirected onto it, a sparse 1 GB file) cannot take the daemon's memory.
const MaxConfigSize = 16 << 20

// Load reads the file at path, decodes and validates it, and reads the listeners' tokens
// (credentials from $CREDENTIALS_DIRECTORY). The file must be a regular file (symlinks are
// followed) of at most MaxConfigSize bytes. A read error is an *Error; a config error is an Errors
// list (or an *Error for a token), and errors.As finds its first *Error either way.
func Load(path string) (*Config, error) {
	data, err := Read(path)
	if err != nil {
		return nil, err
	}
	return LoadData(path, data)
}

// Read reads the config file at path as Load does: a regular file (symlinks are followed) of at most
// MaxConfigSize bytes, opened without blocking. The error is an *Error.
func Read(path string) ([]byte, error) {
	data, err := readConfig(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("read config: %v", err)}
	}
	return data, nil
}

// LoadData decodes and validates data, the content of the file at path, and reads the listeners' tokens and
// TLS certificates.
// Its errors are as Load's.
func LoadData(path string, data []byte) (*Config, error) {
	cfg, err := Decode(path, data)
	if err != nil {
		return nil, err
	}
	if err := LoadTokens(cfg, os.Getenv("CREDENTIALS_DIRECTORY")); err != nil {
		return nil, err
	}
	if err := LoadTLS(cfg, os.Getenv("CREDENTIALS_DIRECTORY")); err != nil {
		return nil, err
	}
	return cfg, nil
}

// readConfig reads a config file whole, refusing one over MaxConfigSize before reading it. The read is bounded
// as well, for a file that grows while it is read.
func readConfig(path string) ([]byte, error) {
	f, st, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st.Size() > MaxConfigSize {
		return nil, fmt.Errorf("the file is %d bytes, over the limit of %d (16 MiB)", st.Size(), MaxConfigSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
	if err != nil {
		return nil, unwrapPath(err)
	}
	if len(data) > MaxConfigSize {
		return nil, fmt.Errorf("the file grew over the limit of %d bytes (16 MiB) while it was read", MaxConfigSize)
	}
	return data, nil
}

// openRegular opens path for reading, following symlinks, and checks that it is a regular file. It opens
// with O_NONBLOCK, so a FIFO cannot block open(2) until some writer comes (a regular file ignores the
// flag), and it checks the type twice: with stat before opening, so a device is never opened at all, and
// with fstat on the open descriptor, which is what counts when the path is swapped in between. The caller
// closes the file.
func openRegular(path string) (*os.File, fs.FileInfo, error) {
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return nil, nil, notRegular(st.Mode())
	} // a failed stat is left to open, which says why
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, unwrapPath(err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, nil, unwrapPath(err)
	}
	if !st.Mode().IsRegular() {
		_ = f.Close()
		return nil, nil, notRegular(st.Mode())
	}
	return f, st, nil
}

// notRegular is the error for a file of mode m that is not a regular file.
func notRegular(m fs.FileMode) error {
	kind := m.Type().String()
	switch {
	case m.IsDir():
		kind = "a directory"
	case m&fs.ModeNamedPipe != 0:
		kind = "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		kind = "a unix socket"
	case m&fs.ModeCharDevice != 0:
		kind = "a character device"
	case m&fs.ModeDevice != 0:
		kind = "a block device"
	}
	return fmt.Errorf("not a regular file: it is %s", kind)
}
