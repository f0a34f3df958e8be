package hardening_test

import (
	"archive/tar"
	"bytes"
	"io"
	"strconv"
	"testing"

	"github.com/drydock-dev/drydock/rebase/hardening"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"
)

// These tests build small layers in memory, entry by entry, and state each
// rule's outcome literally. They are the fast set the mutation check runs
// (hack/mutate/targets.txt); the corpus tests cover the same rules on the
// fixture images.

// entry is one tar entry of a hand-made layer.
type entry struct {
	hdr  tar.Header
	data string
}

func reg(name string, mode int64, data string) entry {
	return entry{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data))}, data}
}

func dir(name string, mode int64) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode}}
}

func symlink(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}

func hardlink(name, target string, mode int64) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: mode}}
}

func rawLayer(t *testing.T, es ...entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := e.hdr
		h.Format = tar.FormatPAX
		require.NoError(t, tw.WriteHeader(&h))
		_, err := tw.Write([]byte(e.data))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	require.NoError(t, err)
	return l
}

// userReady are the entries that make the default user need nothing, so
// the hardening layer holds only the fixes under test.
func userReady() []entry {
	home := dir("home/nonroot", 0o755)
	home.hdr.Uid, home.hdr.Gid = 65532, 65532
	return []entry{
		dir("etc", 0o755),
		reg("etc/passwd", 0o644, "nonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n"),
		reg("etc/group", 0o644, "nonroot:x:65532:\n"),
		dir("home", 0o755), home,
	}
}

// layerHeaders reads a layer's entries by name, with their content.
func layerHeaders(t *testing.T, l v1.Layer) (map[string]*tar.Header, map[string]string) {
	t.Helper()
	rc, err := l.Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	hdrs, data := map[string]*tar.Header{}, map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hdrs, data
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		hdrs[h.Name], data[h.Name] = h, string(b)
	}
}

func names(m map[string]*tar.Header) []string {
	out := []string{}
	for n := range m {
		out = append(out, n)
	}
	return out
}

func TestParseUser(t *testing.T) {
	tests := []struct {
		user     string
		uid, gid int
		wantErr  string
	}{
		{"1000", 1000, 1000, ""},
		{"1", 1, 1, ""},
		{"1000:2000", 1000, 2000, ""},
		{"1000:0", 1000, 0, ""},
		{"0", 0, 0, `user "0": want a numeric non-root UID[:GID]`},
		{"0:1000", 0, 0, `user "0:1000": want a numeric non-root UID[:GID]`},
		{"-5", 0, 0, `user "-5": want a numeric non-root UID[:GID]`},
		{"nobody", 0, 0, `user "nobody": want a numeric non-root UID[:GID]`},
		{"1000:staff", 0, 0, `user "1000:staff": want a numeric GID after the colon`},
		{"1000:-1", 0, 0, `user "1000:-1": want a numeric GID after the colon`},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			o := hardening.DefaultOptions()
			err := o.ParseUser(tt.user)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				require.Equal(t, 65532, o.UID, "a refused user leaves the options alone")
				require.Equal(t, 65532, o.GID)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.uid, o.UID)
			require.Equal(t, tt.gid, o.GID)
		})
	}
}

const capKey = "SCHILY.xattr.security.capability"

// TestHardenRules plants one case of every rule and checks the report and
// the layer entry by entry: what is fixed, and that nothing else is written.
func TestHardenRules(t *testing.T) {
	capped := reg("usr/bin/ping", 0o755, "ping")
	capped.hdr.PAXRecords = map[string]string{capKey: "\x01\x00\x00\x02", "SCHILY.xattr.user.note": "kept"}
	chr := entry{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev/mem", Mode: 0o600, Devmajor: 1, Devminor: 1}}
	blk := entry{hdr: tar.Header{Typeflag: tar.TypeBlock, Name: "dev/sda", Mode: 0o600, Devmajor: 8}}
	es := append(userReady(),
		dir("bin", 0o755), reg("bin/su", 0o4755, "su"), hardlink("bin/su-link", "bin/su", 0o4755),
		reg("bin/wall", 0o2755, "wall"), reg("bin/ls", 0o755, "ls"),
		dir("usr", 0o755), dir("usr/bin", 0o755), capped,
		dir("dev", 0o755), chr, blk,
		dir("tmp", 0o777), dir("scratch", 0o1777), dir("var", 0o755), dir("var/tmp", 0o777),
		reg("app.log", 0o666, "log"), reg("etc/motd", 0o644, "hi"),
		dir("app", 0o755),
		symlink("app/escape", "../../etc/shadow"),
		symlink("app/up", "../etc/motd"),
		symlink("rootup", "../etc/motd"),
		symlink("usr/bin/rel", "../../bin/ls"),
		symlink("usr/bin/abs", "/bin/ls"),
	)
	o := hardening.DefaultOptions()
	o.TmpPaths = []string{"/tmp", "scratch/"}
	res, err := hardening.Harden([]v1.Layer{rawLayer(t, es...)}, o)
	require.NoError(t, err)
	r := res.Report

	require.Equal(t, []string{"/bin/su", "/bin/su-link (hard link)", "/bin/wall"}, r.SetuidCleared)
	require.Equal(t, []string{"/usr/bin/ping"}, r.CapabilitiesDropped)
	require.Equal(t, []string{"/app.log", "/var/tmp"}, r.WorldWritableFixed)
	require.Equal(t, []string{"/dev/mem", "/dev/sda"}, r.DevicesRemoved)
	require.Equal(t, []string{"/app/escape -> ../../etc/shadow", "/rootup -> ../etc/motd"}, r.SymlinksNeutralised)
	require.Equal(t, []string{"/usr/bin/abs"}, r.AbsoluteSymlinks)
	require.False(t, r.UserAdded)
	require.False(t, r.GroupAdded)

	hdrs, data := layerHeaders(t, res.Layer)
	require.ElementsMatch(t, []string{
		"bin/su", "bin/su-link", "bin/wall", "usr/bin/ping", "dev/.wh.mem", "dev/.wh.sda",
		"tmp/", "var/tmp/", "app.log", "app/escape", "rootup",
	}, names(hdrs), "the layer holds the fixes and nothing else")
	modes := map[string]int64{
		"bin/su": 0o755, "bin/su-link": 0o755, "bin/wall": 0o755, "usr/bin/ping": 0o755,
		"tmp/": 0o1777, "var/tmp/": 0o775, "app.log": 0o664,
	}
	for n, m := range modes {
		require.Equal(t, m, hdrs[n].Mode, n)
	}
	require.Equal(t, "su", data["bin/su"], "a rewritten file keeps its content")
	require.Equal(t, "ping", data["usr/bin/ping"])
	require.Equal(t, map[string]string{"SCHILY.xattr.user.note": "kept"}, hdrs["usr/bin/ping"].PAXRecords,
		"the capability goes, other xattrs stay")
	require.Equal(t, "../etc/shadow", hdrs["app/escape"].Linkname)
	require.Equal(t, "etc/motd", hdrs["rootup"].Linkname)
	require.Equal(t, byte(tar.TypeSymlink), hdrs["rootup"].Typeflag)

	bad, err := hardening.Audit([]v1.Layer{rawLayer(t, es...), res.Layer}, o.TmpPaths)
	require.NoError(t, err)
	require.Empty(t, bad)
}

// TestAuditRules plants one case of each finding, and the exemptions the
// audit must not report, and states the sorted list literally.
func TestAuditRules(t *testing.T) {
	capped := reg("usr/bin/ping", 0o755, "ping")
	capped.hdr.PAXRecords = map[string]string{capKey: "\x01\x00\x00\x02"}
	stickyFile := reg("run/lock", 0o1666, "")
	l := rawLayer(t,
		dir("tmp", 0o1777), dir("scratch", 0o777), dir("var", 0o755), dir("var/tmp", 0o1777),
		dir("run", 0o755), stickyFile,
		dir("bin", 0o755), reg("bin/su", 0o4755, "su"), reg("bin/wall", 0o2755, "wall"), reg("bin/ls", 0o755, "ls"),
		dir("usr", 0o755), dir("usr/bin", 0o755), capped,
		dir("dev", 0o755),
		entry{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev/mem", Mode: 0o600}},
		entry{hdr: tar.Header{Typeflag: tar.TypeBlock, Name: "dev/sda", Mode: 0o600}},
		dir("app", 0o755),
		symlink("app/escape", "../../etc/shadow"),
		symlink("app/up", "../bin/ls"),
		symlink("usr/bin/abs", "/bin/ls"),
	)
	want := []string{
		"/app/escape: symlink climbs above the root",
		"/bin/su: mode 04755 has setuid/setgid",
		"/bin/wall: mode 02755 has setuid/setgid",
		"/dev/mem: device node",
		"/dev/sda: device node",
		"/run/lock: mode 01666 is world-writable",
		"/scratch: mode 0777 is world-writable",
		"/usr/bin/ping: file capabilities",
		"/var/tmp: mode 01777 is world-writable",
	}
	// Sorted every time, whatever the map order of the tree.
	for range 5 {
		bad, err := hardening.Audit([]v1.Layer{l}, []string{"/tmp", "/scratch", "/run/lock"})
		require.NoError(t, err)
		require.Equal(t, want, bad)
	}
}

// TestUnsafeNames: a name climbing out of the root is refused by the pass
// and by the audit, naming the entry; names that only look like it are not.
func TestUnsafeNames(t *testing.T) {
	for _, name := range []string{"../escape", "a/../../escape", "./../escape"} {
		t.Run(name, func(t *testing.T) {
			l := rawLayer(t, reg(name, 0o4755, "x"))
			_, err := hardening.Harden([]v1.Layer{l}, hardening.DefaultOptions())
			require.ErrorIs(t, err, hardening.ErrUnsafeLayer)
			require.ErrorContains(t, err, `"`+name+`" climbs out of the image root`)
			bad, err := hardening.Audit([]v1.Layer{l}, nil)
			require.ErrorIs(t, err, hardening.ErrUnsafeLayer)
			require.Nil(t, bad)
		})
	}
	l := rawLayer(t, reg("..data", 0o4755, "x"), reg("a/..b", 0o644, "y"))
	res, err := hardening.Harden([]v1.Layer{l}, hardening.DefaultOptions())
	require.NoError(t, err)
	require.Equal(t, []string{"/..data"}, res.Report.SetuidCleared)
}

// TestRewriteBound: only content the pass may rewrite counts against
// MaxRewriteBytes, and too much of it is refused while the layer is read.
func TestRewriteBound(t *testing.T) {
	big := string(bytes.Repeat([]byte("x"), 1<<20+1))
	// A directory header may claim a size; it has no content to hold.
	sized := dir("var/tmp", 0o777)
	sized.hdr.Size = 7
	tests := []struct {
		name    string
		es      []entry
		wantErr string
	}{
		{"plain big file", []entry{reg("srv/data.bin", 0o644, big), sized}, ""},
		{"setuid big file", []entry{reg("srv/tool", 0o4755, big)}, "srv/tool: more than 1 MiB of files to rewrite"},
		{"world-writable big file", []entry{reg("srv/log", 0o666, big)}, "srv/log: more than 1 MiB of files to rewrite"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := hardening.DefaultOptions()
			o.MaxRewriteBytes = 1 << 20
			_, err := hardening.Harden([]v1.Layer{rawLayer(t, tt.es...)}, o)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			require.NotContains(t, err.Error(), "again", "refused on the first read, before holding it")
		})
	}
}

// chain is n symlinks l0 -> l1 -> ... -> l(n-1) -> d, and the directory d.
func chain(n int) []entry {
	es := []entry{dir("d", 0o755)}
	for i := range n {
		target := "d"
		if i < n-1 {
			target = "l" + strconv.Itoa(i+1)
		}
		es = append(es, symlink("l"+strconv.Itoa(i), target))
	}
	return es
}

// TestParentSymlinks: an entry written under a symlink lands where the
// unpackers put it; the pass reports the setuid file there, or refuses the
// layer when engines disagree or the path is not a directory.
func TestParentSymlinks(t *testing.T) {
	tests := []struct {
		name    string
		layers  [][]entry
		cleared []string
		entries int
		wantErr string
	}{
		{"relative link", [][]entry{{dir("x", 0o755), dir("x/sub", 0o755), symlink("x/l", "sub"), reg("x/l/f", 0o4755, "f")}},
			[]string{"/x/sub/f"}, 4, ""},
		{"dot-dot in a link", [][]entry{{dir("x", 0o755), dir("y", 0o755), symlink("x/up", "../y"), reg("x/up/f", 0o4755, "f")}},
			[]string{"/y/f"}, 4, ""},
		{"dot-dot at the root stays there", [][]entry{{symlink("a", "../../b"), reg("a/f", 0o4755, "f")}},
			[]string{"/b/f"}, 3, ""},
		{"absolute link", [][]entry{{dir("real", 0o755), dir("x", 0o755), symlink("x/abs", "/real"), reg("x/abs/f", 0o4755, "f")}},
			[]string{"/real/f"}, 4, ""},
		{"missing parents are created", [][]entry{{reg("a/b/f", 0o4755, "f")}},
			[]string{"/a/b/f"}, 3, ""},
		{"255 hops", [][]entry{append(chain(255), reg("l0/f", 0o4755, "f"))},
			[]string{"/d/f"}, 257, ""},
		{"256 hops", [][]entry{append(chain(256), reg("l0/f", 0o4755, "f"))},
			nil, 0, "/l0/f: too many levels of symlinks in its parent path"},
		{"lower-layer link", [][]entry{{dir("etc", 0o755), dir("opt", 0o755), symlink("opt/b", "/etc")}, {reg("opt/b/f", 0o4755, "f")}},
			nil, 0, "/opt/b/f is written through /opt/b, a symlink from a lower layer"},
		{"file as parent", [][]entry{{reg("f", 0o644, "x"), reg("f/g", 0o4755, "g")}},
			nil, 0, "/f/g is written under /f, which is not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ls []v1.Layer
			for _, es := range tt.layers {
				ls = append(ls, rawLayer(t, es...))
			}
			o := hardening.DefaultOptions()
			o.Home = ""
			res, err := hardening.Harden(ls, o)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, hardening.ErrUnsafeLayer)
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.cleared, res.Report.SetuidCleared)
			require.Equal(t, tt.entries, res.Report.Entries, "the paths the unpackers create, no more")
		})
	}
}

// TestHardLinks: a hard link applies its mode and xattrs to the inode
// every name shares, and links the engines cannot unpack are refused.
func TestHardLinks(t *testing.T) {
	tool := reg("bin/tool", 0o755, "tool")
	tool.hdr.PAXRecords = map[string]string{"SCHILY.xattr.user.a": "1", "DRYDOCK.note": "writer-a"}
	capLink := hardlink("bin/alias", "bin/tool", 0o755)
	capLink.hdr.PAXRecords = map[string]string{capKey: "\x01\x00\x00\x02", "DRYDOCK.note": "writer-b"}
	t.Run("mode and xattrs reach every name", func(t *testing.T) {
		l := rawLayer(t, dir("bin", 0o755), tool, capLink,
			reg("bin/plain", 0o755, "plain"), hardlink("bin/suid", "bin/plain", 0o4755),
			reg("bin/bare", 0o755, "bare"), func() entry {
				e := hardlink("bin/bare-cap", "bin/bare", 0o755)
				e.hdr.PAXRecords = map[string]string{capKey: "\x01"}
				return e
			}(),
			dir("run", 0o755), entry{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "run/fifo", Mode: 0o600}},
			hardlink("run/fifo2", "run/fifo", 0o666),
			dir("app", 0o755), symlink("app/escape", "../../etc/shadow"), hardlink("app/escape2", "app/escape", 0o4755),
		)
		o := hardening.DefaultOptions()
		o.Home = ""
		res, err := hardening.Harden([]v1.Layer{l}, o)
		require.NoError(t, err)
		r := res.Report
		require.Equal(t, []string{"/bin/plain", "/bin/suid (hard link)"}, r.SetuidCleared)
		require.Equal(t, []string{"/bin/alias", "/bin/bare", "/bin/bare-cap", "/bin/tool"}, r.CapabilitiesDropped)
		require.Equal(t, []string{"/run/fifo2"}, r.WorldWritableFixed)
		require.Equal(t, []string{"/app/escape -> ../../etc/shadow", "/app/escape2 -> ../../etc/shadow"}, r.SymlinksNeutralised)
		hdrs, data := layerHeaders(t, res.Layer)
		require.Equal(t, map[string]string{"SCHILY.xattr.user.a": "1"}, hdrs["bin/tool"].PAXRecords,
			"the capability goes; the inode's own xattr stays; non-xattr records are not copied")
		require.Equal(t, "tool", data["bin/alias"])
		require.Equal(t, "plain", data["bin/suid"])
		require.Equal(t, int64(0o777), hdrs["app/escape2"].Mode, "a link to a symlink is that symlink, not the link entry's mode")
	})

	tests := []struct {
		name    string
		es      []entry
		wantErr string
	}{
		{"missing target", []entry{hardlink("h", "nothere", 0o644)}, "hard link /h points to /nothere, which does not exist"},
		{"itself", []entry{reg("a", 0o644, "a"), hardlink("a", "a", 0o644)}, "hard link /a points to /a, which does not exist"},
		{"directory", []entry{dir("d", 0o755), hardlink("h", "d", 0o644)}, "hard link /h points to the directory /d"},
		{"climbing target", []entry{hardlink("h", "../etc/shadow", 0o644)}, `hard link h: unsafe layer entry: "../etc/shadow" climbs out of the image root`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := hardening.Harden([]v1.Layer{rawLayer(t, tt.es...)}, hardening.DefaultOptions())
			require.ErrorIs(t, err, hardening.ErrUnsafeLayer)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
	t.Run("target through a lower-layer link", func(t *testing.T) {
		l1 := rawLayer(t, dir("etc", 0o755), reg("etc/passwd", 0o644, "root:x:0:0::/root:/bin/sh\n"), dir("opt", 0o755), symlink("opt/b", "/etc"))
		l2 := rawLayer(t, hardlink("h", "opt/b/passwd", 0o644))
		_, err := hardening.Harden([]v1.Layer{l1, l2}, hardening.DefaultOptions())
		require.ErrorIs(t, err, hardening.ErrUnsafeLayer)
		require.ErrorContains(t, err, "/opt/b/passwd is written through /opt/b, a symlink from a lower layer")
	})
	t.Run("target through a link with a missing step", func(t *testing.T) {
		// Resolving a link target creates nothing: "missing" stays absent.
		l := rawLayer(t, dir("real", 0o755), reg("real/x", 0o4755, "x"), symlink("s", "missing/../real"), hardlink("h", "s/x", 0o4755))
		o := hardening.DefaultOptions()
		o.Home = ""
		res, err := hardening.Harden([]v1.Layer{l}, o)
		require.NoError(t, err)
		require.Equal(t, []string{"/h (hard link)", "/real/x"}, res.Report.SetuidCleared)
		require.Equal(t, 4, res.Report.Entries)
	})
}
