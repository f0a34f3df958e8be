package closure_test

import (
	"errors"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/drydock-dev/drydock/rebase/closure"
	"github.com/stretchr/testify/require"
)

// debianLibc is what every dynamically linked x86_64 Debian program
// carries: the loader behind /lib64 → usr/lib64 and the absolute link
// /usr/lib64/ld-linux-x86-64.so.2 → /lib/..., and libc behind /lib → usr/lib.
var debianLibc = []string{
	"lib",
	"lib64",
	"usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
	"usr/lib/x86_64-linux-gnu/libc.so.6",
	"usr/lib64/ld-linux-x86-64.so.2",
}

const nixGlibc = "/nix/store/9vmlk5yaa1r7xyy8sf8jkvjpql1j1b3f-glibc-2.36/lib"

func with(base []string, more ...string) []string {
	return append(append([]string{}, base...), more...)
}

func TestOf(t *testing.T) {
	needZ := []string{"--add-needed", "libz.so.1"}
	tests := []struct {
		name  string
		files func(t *testing.T) fstest.MapFS // added to debian(t)
		paths []string
		opts  []closure.Option
		want  []string
		// errs are substrings the error must contain; missing marks
		// closure.ErrMissing.
		errs    []string
		missing bool
	}{{
		name:  "coreutils true: the loader and libc through Debian's links",
		paths: []string{"/usr/bin/true"},
		want: []string{
			"lib",
			"lib64",
			"usr/bin/true",
			"usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
			"usr/lib/x86_64-linux-gnu/libc.so.6",
			"usr/lib64/ld-linux-x86-64.so.2",
		},
	}, {
		name:  "a bare name is found in PATH, through the /bin link",
		paths: []string{"true"},
		opts:  []closure.Option{closure.WithPath("/bin")},
		want:  with(debianLibc, "bin", "usr/bin/true"),
	}, {
		name: "RUNPATH $ORIGIN wins over the system libz",
		files: func(t *testing.T) fstest.MapFS {
			return fstest.MapFS{
				"opt/app/bin/tool":      file(patched(t, "/usr/bin/true", needZ, []string{"--set-rpath", "$ORIGIN/../lib"})),
				"opt/app/lib/libz.so.1": file(host(t, "/lib/x86_64-linux-gnu/libz.so.1")),
			}
		},
		paths: []string{"/opt/app/bin/tool"},
		want:  with(debianLibc, "opt/app/bin/tool", "opt/app/lib/libz.so.1"),
	}, {
		name: "${ORIGIN} and $LIB expand as Debian's loader expands them",
		files: func(t *testing.T) fstest.MapFS {
			return fstest.MapFS{
				"opt/app/bin/tool":                       file(patched(t, "/usr/bin/true", needZ, []string{"--set-rpath", "${ORIGIN}/../$LIB"})),
				"opt/app/lib/x86_64-linux-gnu/libz.so.1": file(host(t, "/lib/x86_64-linux-gnu/libz.so.1")),
			}
		},
		paths: []string{"/opt/app/bin/tool"},
		want:  with(debianLibc, "opt/app/bin/tool", "opt/app/lib/x86_64-linux-gnu/libz.so.1"),
	}, {
		name: "$ORIGIN of an executable reached through a link is the link target's directory",
		files: func(t *testing.T) fstest.MapFS {
			return fstest.MapFS{
				"usr/local/bin/tool":    link("/opt/app/bin/tool"),
				"opt/app/bin/tool":      file(patched(t, "/usr/bin/true", needZ, []string{"--set-rpath", "$ORIGIN/../lib"})),
				"opt/app/lib/libz.so.1": file(host(t, "/lib/x86_64-linux-gnu/libz.so.1")),
			}
		},
		paths: []string{"/usr/local/bin/tool"},
		want:  with(debianLibc, "opt/app/bin/tool", "opt/app/lib/libz.so.1", "usr/local/bin/tool"),
	}, {
		name: "'..' in RUNPATH goes up from where a linked directory points, as the kernel resolves it",
		files: func(t *testing.T) fstest.MapFS {
			return fstest.MapFS{
				"opt/app/bin/tool":     file(patched(t, "/usr/bin/true", needZ, []string{"--set-rpath", "/opt/current/../lib"})),
				"opt/current":          link("/srv/v2/bin"),
				"srv/v2/bin":           &fstest.MapFile{Mode: fs.ModeDir | 0o755},
				"srv/v2/lib/libz.so.1": file(host(t, "/lib/x86_64-linux-gnu/libz.so.1")),
				"opt/lib/libz.so.1":    text("a lexical '..' would find this, and it is not ELF"),
			}
		},
		paths: []string{"/opt/app/bin/tool"},
		want:  with(debianLibc, "opt/app/bin/tool", "opt/current", "srv/v2/lib/libz.so.1"),
	}, {
		name: "the executable's RPATH serves its libraries' needs",
		files: func(t *testing.T) fstest.MapFS {
			return chain(t, []string{"--force-rpath", "--set-rpath", "$ORIGIN/../lib"})
		},
		paths: []string{"/opt/app/bin/tool"},
		want:  with(debianLibc, "opt/app/bin/tool", "opt/app/lib/libbar.so.1", "opt/app/lib/libfoo.so.1"),
	}, {
		name: "the executable's RUNPATH does not serve its libraries' needs",
		files: func(t *testing.T) fstest.MapFS {
			return chain(t, []string{"--set-rpath", "$ORIGIN/../lib"})
		},
		paths:   []string{"/opt/app/bin/tool"},
		errs:    []string{"/opt/app/bin/tool", "libbar.so.1", "needed by /opt/app/bin/../lib/libfoo.so.1"},
		missing: true,
	}, {
		name: "ld.so.conf include files are read in glob order, before the system dirs",
		files: func(t *testing.T) fstest.MapFS {
			return fstest.MapFS{
				"opt/app/bin/tool":            file(patched(t, "/usr/bin/true", needZ)),
				"etc/ld.so.conf.d/b.conf":     text("/opt/b\n"),
				"etc/ld.so.conf.d/a.conf":     text("# first\n  /opt/a/  \n"),
				"etc/ld.so.conf.d/c.conf.off": text("/opt/c\n"),
				"opt/c/libz.so.1":             file(host(t, "/lib/x86_64-linux-gnu/libz.so.1")),
				"opt/b/libz.so.1":             file(host(t, "/lib/x86_64-linux-gnu/libz.so.1")),
				"opt/a/libz.so.1":             file(host(t, "/lib/x86_64-linux-gnu/libz.so.1")),
			}
		},
		paths: []string{"/opt/app/bin/tool"},
		want:  with(debianLibc, "opt/a/libz.so.1", "opt/app/bin/tool"),
	}, {
		name: "a library of the wrong ELF class is passed over",
		files: func(t *testing.T) fstest.MapFS {
			return fstest.MapFS{
				"opt/app/bin/tool":        file(patched(t, "/usr/bin/true", needZ)),
				"etc/ld.so.conf.d/a.conf": text("/opt/a\n/opt/b\n"),
				"opt/a/libz.so.1":         file(elf32()),
				"opt/b/libz.so.1":         file(host(t, "/lib/x86_64-linux-gnu/libz.so.1")),
			}
		},
		paths: []string{"/opt/app/bin/tool"},
		want:  with(debianLibc, "opt/app/bin/tool", "opt/b/libz.so.1"),
	}, {
		name: "a file that is not ELF stops the search, as it stops ld.so",
		files: func(t *testing.T) fstest.MapFS {
			return fstest.MapFS{
				"opt/app/bin/tool":        file(patched(t, "/usr/bin/true", needZ)),
				"etc/ld.so.conf.d/a.conf": text("/opt/a\n"),
				"opt/a/libz.so.1":         text("INPUT(libz.so.1.2.13)\n"),
			}
		},
		paths: []string{"/opt/app/bin/tool"},
		errs:  []string{"/opt/app/bin/tool", "/opt/a/libz.so.1", "not an ELF file"},
	}, {
		name: "glibc-hwcaps variants are carried beside the baseline library",
		files: func(t *testing.T) fstest.MapFS {
			return fstest.MapFS{
				"opt/app/bin/tool":                       file(patched(t, "/usr/bin/true", needZ, []string{"--set-rpath", "/opt/a"})),
				"opt/a/glibc-hwcaps/x86-64-v3/libz.so.1": file(host(t, "/lib/x86_64-linux-gnu/libz.so.1")),
				"opt/a/libz.so.1":                        file(host(t, "/lib/x86_64-linux-gnu/libz.so.1")),
			}
		},
		paths: []string{"/opt/app/bin/tool"},
		want:  with(debianLibc, "opt/a/glibc-hwcaps/x86-64-v3/libz.so.1", "opt/a/libz.so.1", "opt/app/bin/tool"),
	}, {
		name: "DF_1_NODEFLIB keeps the default dirs out",
		files: func(t *testing.T) fstest.MapFS {
			return fstest.MapFS{
				"opt/app/bin/tool": file(patched(t, "/usr/bin/true", []string{"--no-default-lib"})),
			}
		},
		paths:   []string{"/opt/app/bin/tool"},
		errs:    []string{"/opt/app/bin/tool", "libc.so.6"},
		missing: true,
	}, {
		name: "a missing library is named with its executable",
		files: func(t *testing.T) fstest.MapFS {
			return fstest.MapFS{"opt/app/bin/tool": file(patched(t, "/usr/bin/true", []string{"--add-needed", "libnothere.so.1"}))}
		},
		paths:   []string{"/opt/app/bin/tool"},
		errs:    []string{"/opt/app/bin/tool", "libnothere.so.1"},
		missing: true,
	}, {
		name:    "a missing executable",
		paths:   []string{"/usr/bin/git"},
		errs:    []string{"/usr/bin/git"},
		missing: true,
	}, {
		name: "Nix: interpreter and RUNPATH in the store, the system libc is not used",
		files: func(t *testing.T) fstest.MapFS {
			return fstest.MapFS{
				"nix/store/9vmlk5yaa1r7xyy8sf8jkvjpql1j1b3f-glibc-2.36/lib/ld-linux-x86-64.so.2": file(host(t, "/lib64/ld-linux-x86-64.so.2")),
				"nix/store/9vmlk5yaa1r7xyy8sf8jkvjpql1j1b3f-glibc-2.36/lib/libc.so.6":            file(host(t, "/lib/x86_64-linux-gnu/libc.so.6")),
				"nix/store/0h6c8pbk8g6ra4ypnmr7j4a1jkj7n3c6-tool/bin/tool": file(patched(t, "/usr/bin/true",
					[]string{"--set-interpreter", nixGlibc + "/ld-linux-x86-64.so.2"}, []string{"--set-rpath", nixGlibc})),
			}
		},
		paths: []string{"/nix/store/0h6c8pbk8g6ra4ypnmr7j4a1jkj7n3c6-tool/bin/tool"},
		want: []string{
			"nix/store/0h6c8pbk8g6ra4ypnmr7j4a1jkj7n3c6-tool/bin/tool",
			"nix/store/9vmlk5yaa1r7xyy8sf8jkvjpql1j1b3f-glibc-2.36/lib/ld-linux-x86-64.so.2",
			"nix/store/9vmlk5yaa1r7xyy8sf8jkvjpql1j1b3f-glibc-2.36/lib/libc.so.6",
		},
	}, {
		name: "Nix: the store loader does not search /usr/lib",
		files: func(t *testing.T) fstest.MapFS {
			return fstest.MapFS{
				"nix/store/9vmlk5yaa1r7xyy8sf8jkvjpql1j1b3f-glibc-2.36/lib/ld-linux-x86-64.so.2": file(host(t, "/lib64/ld-linux-x86-64.so.2")),
				"nix/store/9vmlk5yaa1r7xyy8sf8jkvjpql1j1b3f-glibc-2.36/lib/libc.so.6":            file(host(t, "/lib/x86_64-linux-gnu/libc.so.6")),
				"nix/store/0h6c8pbk8g6ra4ypnmr7j4a1jkj7n3c6-tool/bin/tool": file(patched(t, "/usr/bin/true", needZ,
					[]string{"--set-interpreter", nixGlibc + "/ld-linux-x86-64.so.2"}, []string{"--set-rpath", nixGlibc})),
			}
		},
		paths:   []string{"/nix/store/0h6c8pbk8g6ra4ypnmr7j4a1jkj7n3c6-tool/bin/tool"},
		errs:    []string{"0h6c8pbk8g6ra4ypnmr7j4a1jkj7n3c6-tool/bin/tool", "libz.so.1"},
		missing: true,
	}, {
		name: "#!/usr/bin/env python3 carries env and python3 from PATH",
		files: func(t *testing.T) fstest.MapFS {
			return fstest.MapFS{
				"app/server.py":      text("#!/usr/bin/env python3\nprint('hi')\n"),
				"usr/bin/python3":    link("python3.11"),
				"usr/bin/python3.11": file(host(t, "/usr/bin/true")),
			}
		},
		paths: []string{"/app/server.py"},
		want:  with(debianLibc, "app/server.py", "usr/bin/env", "usr/bin/python3", "usr/bin/python3.11"),
	}, {
		name: "#!/usr/bin/env -S splits the program from its options",
		files: func(t *testing.T) fstest.MapFS {
			return fstest.MapFS{
				"app/server.py":      text("#!/usr/bin/env -S PYTHONUNBUFFERED=1 python3 -u\n"),
				"usr/bin/python3":    link("python3.11"),
				"usr/bin/python3.11": file(host(t, "/usr/bin/true")),
			}
		},
		paths: []string{"/app/server.py"},
		want:  with(debianLibc, "app/server.py", "usr/bin/env", "usr/bin/python3", "usr/bin/python3.11"),
	}, {
		name: "#!/usr/bin/env with a program that is not in PATH",
		files: func(t *testing.T) fstest.MapFS {
			return fstest.MapFS{"app/server.py": text("#!/usr/bin/env python3\n")}
		},
		paths:   []string{"/app/server.py"},
		errs:    []string{"/app/server.py", "python3"},
		missing: true,
	}, {
		name:  "a relative #! interpreter is refused",
		files: func(t *testing.T) fstest.MapFS { return fstest.MapFS{"app/run": text("#!bin/sh\n")} },
		paths: []string{"/app/run"},
		errs:  []string{"/app/run", `"bin/sh"`, "not an absolute path"},
	}, {
		name: "a symlink loop is reported",
		files: func(t *testing.T) fstest.MapFS {
			return fstest.MapFS{"usr/local/bin/a": link("b"), "usr/local/bin/b": link("/usr/local/bin/a")}
		},
		paths: []string{"/usr/local/bin/a"},
		errs:  []string{"/usr/local/bin/a", "too many levels of symbolic links"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := debian(t)
			if tc.files != nil {
				for k, v := range tc.files(t) {
					fsys[k] = v
				}
			}
			got, err := closure.Of(fsys, tc.paths, tc.opts...)
			if tc.errs != nil {
				require.Error(t, err, "Of(%v) = %v, want an error", tc.paths, got)
				for _, s := range tc.errs {
					require.ErrorContains(t, err, s)
				}
				require.Equal(t, tc.missing, errors.Is(err, closure.ErrMissing), "errors.Is(%v, ErrMissing)", err)
				return
			}
			require.NoError(t, err)
			require.ElementsMatch(t, tc.want, got, "Of(%v)", tc.paths)
		})
	}
}

// chain is /opt/app/bin/tool needing libfoo.so.1, which needs libbar.so.1,
// both in /opt/app/lib; pathFlags set the tool's RPATH or RUNPATH, the
// libraries have neither.
func chain(t *testing.T, pathFlags []string) fstest.MapFS {
	return fstest.MapFS{
		"opt/app/bin/tool": file(patched(t, "/usr/bin/true", []string{"--add-needed", "libfoo.so.1"}, pathFlags)),
		"opt/app/lib/libfoo.so.1": file(patched(t, "/lib/x86_64-linux-gnu/libz.so.1",
			[]string{"--set-soname", "libfoo.so.1"}, []string{"--add-needed", "libbar.so.1"})),
		"opt/app/lib/libbar.so.1": file(patched(t, "/lib/x86_64-linux-gnu/libz.so.1", []string{"--set-soname", "libbar.so.1"})),
	}
}

// openOnly hides everything of a file system but Open.
type openOnly struct{ fs.FS }

func TestOfNeedsReadLinkFS(t *testing.T) {
	// Without Lstat/ReadLink the links would be followed unseen (and
	// os.DirFS would follow absolute ones to the host).
	_, err := closure.Of(openOnly{debian(t)}, []string{"/usr/bin/true"})
	require.ErrorContains(t, err, "fs.ReadLinkFS")
}
