package closure_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/drydock-dev/drydock/rebase/closure"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/stretchr/testify/require"
)

// ldd is the independent oracle: the host's real loader resolving the
// host's real files. It is used only here, never by the package.
func ldd(t *testing.T, exe string) (paths []string, notFound []string) {
	t.Helper()
	bin, err := exec.LookPath("ldd")
	if err != nil {
		testenv.Unavailable(t, "ldd is the oracle for the closure (%v); it comes with libc-bin", err)
	}
	out, err := exec.Command(bin, exe).CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[1] == "=>" && f[2] == "not":
			notFound = append(notFound, f[0])
		case len(f) >= 3 && f[1] == "=>":
			paths = append(paths, f[2])
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			paths = append(paths, f[0])
		}
	}
	if len(notFound) == 0 {
		require.NoError(t, err, "ldd %s: %s", exe, out)
	}
	return paths, notFound
}

// mirror copies host path p into m at the same image path: every symlink
// on the way as a link (followed on the host, as the kernel follows it)
// and the file it ends at. It returns the image names it added.
func mirror(t *testing.T, m fstest.MapFS, p string) []string {
	t.Helper()
	var added []string
	rest := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur := "/"
	for hops := 0; len(rest) > 0; {
		c := rest[0]
		rest = rest[1:]
		if c == "" || c == "." {
			continue
		}
		if c == ".." {
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, c)
		fi, err := os.Lstat(next)
		require.NoError(t, err)
		name := strings.TrimPrefix(next, "/")
		if fi.Mode()&os.ModeSymlink != 0 {
			hops++
			require.Less(t, hops, 40, "link loop at %s", next)
			target, err := os.Readlink(next)
			require.NoError(t, err)
			m[name] = link(target)
			added = append(added, name)
			if strings.HasPrefix(target, "/") {
				cur = "/"
			}
			rest = append(strings.Split(target, "/"), rest...)
			continue
		}
		if len(rest) == 0 {
			m[name] = file(host(t, next))
			added = append(added, name)
		}
		cur = next
	}
	return added
}

func TestOfMatchesLdd(t *testing.T) {
	for _, exe := range []string{"/usr/bin/git", "/usr/bin/curl", "/usr/bin/env"} {
		t.Run(exe, func(t *testing.T) {
			host(t, exe)
			loaded, notFound := ldd(t, exe)
			require.Empty(t, notFound, "ldd %s", exe)
			require.NotEmpty(t, loaded, "ldd %s listed no library", exe)

			fsys := fstest.MapFS{}
			want := map[string]bool{}
			for _, p := range append([]string{exe}, loaded...) {
				for _, n := range mirror(t, fsys, p) {
					want[n] = true
				}
			}
			// The host's loader finds these through /etc/ld.so.cache,
			// which ldconfig built from this configuration.
			conf, err := filepath.Glob("/etc/ld.so.conf.d/*")
			require.NoError(t, err)
			for _, c := range append([]string{"/etc/ld.so.conf"}, conf...) {
				mirror(t, fsys, c)
			}

			got, err := closure.Of(fsys, []string{exe})
			require.NoError(t, err)
			wantList := make([]string, 0, len(want))
			for n := range want {
				wantList = append(wantList, n)
			}
			sort.Strings(wantList)
			require.Equal(t, wantList, got, "Of(%s) against ldd", exe)
		})
	}
}

// TestChainMatchesLdd pins the RPATH/RUNPATH difference the table relies
// on to the host's loader: the same tree on disk, resolved by ldd.
func TestChainMatchesLdd(t *testing.T) {
	for _, tc := range []struct {
		name     string
		flags    []string
		notFound []string // by ldd
	}{
		{"RPATH", []string{"--force-rpath", "--set-rpath", "$ORIGIN/../lib"}, nil},
		{"RUNPATH", []string{"--set-rpath", "$ORIGIN/../lib"}, []string{"libbar.so.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree := chain(t, tc.flags)
			dir := t.TempDir()
			for name, f := range tree {
				p := filepath.Join(dir, strings.TrimPrefix(name, "opt/app/"))
				require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
				require.NoError(t, os.WriteFile(p, f.Data, 0o755))
			}
			_, notFound := ldd(t, filepath.Join(dir, "bin/tool"))
			require.Equal(t, tc.notFound, notFound, "ldd %s", tc.name)

			fsys := debian(t)
			for k, v := range tree {
				fsys[k] = v
			}
			_, err := closure.Of(fsys, []string{"/opt/app/bin/tool"})
			if len(notFound) == 0 {
				require.NoError(t, err, "ldd finds every library")
			} else {
				require.ErrorContains(t, err, "libbar.so.1", "ldd finds no libbar.so.1")
			}
		})
	}
}
