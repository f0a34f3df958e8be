package closure_test

import (
	"encoding/binary"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"testing/fstest"

	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/stretchr/testify/require"
)

// The fixtures are this machine's real ELF files (Debian 12 x86_64 glibc),
// placed into in-memory image roots; patchelf makes variants of them.

// host reads a file of this machine, following links.
func host(t *testing.T, p string) []byte {
	t.Helper()
	if runtime.GOARCH != "amd64" || runtime.GOOS != "linux" {
		testenv.Unavailable(t, "the closure fixtures are x86_64 glibc files of the host; this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		testenv.Unavailable(t, "host file %s is needed as a fixture (%v); run on Debian 12 x86_64 with git, curl and coreutils installed", p, err)
	}
	return b
}

func file(b []byte) *fstest.MapFile { return &fstest.MapFile{Data: b, Mode: 0o755} }

func text(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s), Mode: 0o644} }

func link(target string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte(target), Mode: fs.ModeSymlink | 0o777}
}

// debian is a Debian 12 merged-/usr root holding the host's loader, libc
// and libz at Debian's paths, with Debian's links: /lib and /lib64 point
// into /usr, and /usr/lib64's loader is an absolute link through /lib.
func debian(t *testing.T) fstest.MapFS {
	t.Helper()
	return fstest.MapFS{
		"lib":                            link("usr/lib"),
		"lib64":                          link("usr/lib64"),
		"bin":                            link("usr/bin"),
		"usr/lib64/ld-linux-x86-64.so.2": link("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
		"usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2": file(host(t, "/lib64/ld-linux-x86-64.so.2")),
		"usr/lib/x86_64-linux-gnu/libc.so.6":            file(host(t, "/lib/x86_64-linux-gnu/libc.so.6")),
		"usr/lib/x86_64-linux-gnu/libz.so.1":            link("libz.so.1.2.13"),
		"usr/lib/x86_64-linux-gnu/libz.so.1.2.13":       file(host(t, "/lib/x86_64-linux-gnu/libz.so.1")),
		"usr/bin/true":   file(host(t, "/usr/bin/true")),
		"usr/bin/env":    file(host(t, "/usr/bin/env")),
		"etc/ld.so.conf": text("include /etc/ld.so.conf.d/*.conf\n"),
	}
}

// patched returns the host file src rewritten by patchelf, one run per
// step (patchelf 0.14 mangles RUNPATH when --add-needed is in the same run).
func patched(t *testing.T, src string, steps ...[]string) []byte {
	t.Helper()
	pe, err := exec.LookPath("patchelf")
	if err != nil {
		testenv.Unavailable(t, "patchelf is needed to build ELF fixtures (%v); apt-get install -y patchelf", err)
	}
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	require.NoError(t, os.WriteFile(dst, host(t, src), 0o755))
	for _, args := range steps {
		out, err := exec.Command(pe, append(args, dst)...).CombinedOutput()
		require.NoError(t, err, "patchelf %v: %s", args, out)
	}
	b, err := os.ReadFile(dst)
	require.NoError(t, err)
	return b
}

// elf32 is a bare 32-bit i386 ELF header: a library of the wrong class
// that ld.so skips.
func elf32() []byte {
	h := make([]byte, 52)
	copy(h, "\x7fELF")
	h[4], h[5], h[6] = 1, 1, 1                // ELFCLASS32, little endian, EV_CURRENT
	binary.LittleEndian.PutUint16(h[16:], 3)  // ET_DYN
	binary.LittleEndian.PutUint16(h[18:], 3)  // EM_386
	binary.LittleEndian.PutUint32(h[20:], 1)  // EV_CURRENT
	binary.LittleEndian.PutUint16(h[40:], 52) // e_ehsize
	return h
}
