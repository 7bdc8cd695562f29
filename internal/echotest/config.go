package echotest

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// SaveAtomic saves a file the way editors do: write a temporary file beside it, then rename it over the
// original (the original inode is replaced, so a watch on the file itself would be lost).
func SaveAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".swp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// SaveInPlace truncates and rewrites the file (following symlinks), keeping its inode.
func SaveInPlace(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// KeepServing runs check every 100 ms for d: a writer's pause, during which the old config must serve.
func KeepServing(d time.Duration, check func()) {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		check()
	}
}

// SlowWrite rewrites path in place the way a stalled writer does: truncate, write head, pause holding the
// file open (check runs meanwhile, every 100 ms), write the rest, close.
func SlowWrite(t *testing.T, path, head, rest string, pause time.Duration, check func()) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.WriteString(f, head); err != nil {
		t.Fatal(err)
	}
	KeepServing(pause, check)
	if _, err := io.WriteString(f, rest); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// ConfigMap lays a config out the way Kubernetes mounts a ConfigMap: echogate.toml -> ..data/echogate.toml,
// where ..data is a symlink to a versioned directory, swapped atomically.
type ConfigMap struct {
	root string
	gen  int
}

// NewConfigMap publishes content as the first version of a ConfigMap in a temporary directory.
func NewConfigMap(t *testing.T, content string) *ConfigMap {
	t.Helper()
	k := &ConfigMap{root: t.TempDir()}
	k.Swap(t, content)
	if err := os.Symlink("..data/echogate.toml", k.Path()); err != nil {
		t.Fatal(err)
	}
	return k
}

// Path is the symlink the daemon is started on.
func (k *ConfigMap) Path() string { return filepath.Join(k.root, "echogate.toml") }

// File is the current file behind the symlinks.
func (k *ConfigMap) File() string { return filepath.Join(k.root, "..data", "echogate.toml") }

// Swap publishes content in a new versioned directory, renames a new ..data symlink over the old one and
// removes the previous version, as the kubelet does.
func (k *ConfigMap) Swap(t *testing.T, content string) {
	t.Helper()
	k.gen++
	dir := fmt.Sprintf("..v%03d", k.gen)
	if err := os.Mkdir(filepath.Join(k.root, dir), 0o755); err != nil {
		t.Fatal(err)
	}
	SaveInPlace(t, filepath.Join(k.root, dir, "echogate.toml"), content)
	data, tmp := filepath.Join(k.root, "..data"), filepath.Join(k.root, "..data_tmp")
	prev, _ := os.Readlink(data)
	if err := os.Symlink(dir, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, data); err != nil {
		t.Fatal(err)
	}
	if prev != "" {
		_ = os.RemoveAll(filepath.Join(k.root, prev))
	}
}

// WriteConfig writes body as echogate.toml in a fresh directory and returns its path.
func WriteConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "echogate.toml")
	SaveInPlace(t, path, body)
	return path
}
