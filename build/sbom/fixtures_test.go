package sbom_test

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/sbom"
	"github.com/drydock-dev/drydock/testdata/fixtures"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// held is what an image really holds, read from its files by this test
// (not by syft): installed dpkg status entries, node_modules package.json
// files and Python dist-info METADATA, each as "type name version".
func held(t *testing.T, img v1.Image) map[string]bool {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]bool{}
	nodeModule := regexp.MustCompile(`(^|/)node_modules/(@[^/]+/)?[^/@.][^/]*/package\.json$`)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading the image's files: %v", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		p := strings.TrimPrefix(h.Name, "./")
		switch {
		case p == "var/lib/dpkg/status":
			for _, st := range stanzas(tr) {
				if st["Status"] == "install ok installed" && st["Version"] != "" {
					out["deb "+st["Package"]+" "+st["Version"]] = true
				}
			}
		case nodeModule.MatchString(p):
			var pj struct{ Name, Version string }
			if json.NewDecoder(tr).Decode(&pj) == nil && pj.Name != "" && pj.Version != "" {
				out["npm "+pj.Name+" "+pj.Version] = true
			}
		case strings.HasSuffix(p, ".dist-info/METADATA"):
			st := stanzas(tr)
			if len(st) > 0 {
				out["python "+st[0]["Name"]+" "+st[0]["Version"]] = true
			}
		}
	}
	return out
}

// stanzas reads RFC 822-style paragraphs (dpkg status, METADATA headers).
func stanzas(r io.Reader) []map[string]string {
	var out []map[string]string
	cur := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = map[string]string{}
			}
			continue
		}
		if k, v, ok := strings.Cut(line, ": "); ok && !strings.HasPrefix(line, " ") {
			if _, seen := cur[k]; !seen {
				cur[k] = v
			}
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func listed(s *sbom.SBOM) map[string]bool {
	out := map[string]bool{}
	for _, p := range s.Packages() {
		out[p.Type+" "+p.Name+" "+p.Version] = true
	}
	return out
}

// TestFixtureSBOMs checks the SBOM of each Nixpacks-shaped fixture (a fat
// Debian base with dpkg, the npm filesystem server, a Python venv, a Go
// server) against the files each image holds, upstream and hardened: every
// package the files show is listed, the Debian base's packages are listed
// upstream and absent hardened, and the server's own package is listed in
// both.
func TestFixtureSBOMs(t *testing.T) {
	reg := testenv.Registry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	prefix := fmt.Sprintf("sbom-fixtures-%d", time.Now().UnixNano())
	set, err := fixtures.BuildNixpacks(ctx, reg, prefix)
	if err != nil {
		t.Fatalf("building the Nixpacks fixtures: %v", err)
	}
	for _, tc := range []struct {
		name, src string
		// kept are listed upstream and hardened; removed only upstream.
		kept, removed []string
	}{
		// The Debian base (dpkg, bash) is dropped by the rebase onto a
		// minimal base. npm and pip lose only their entry points (bin/)
		// to hardening; their package files stay, so the SBOM lists them
		// (logged below, not asserted either way).
		{"node", set.Node,
			[]string{"npm @modelcontextprotocol/server-filesystem 2026.8.31"},
			[]string{"deb dpkg", "deb bash"}},
		{"python", set.Python,
			[]string{"python mcp-server-stdlib 0.1.0"},
			[]string{"deb dpkg", "deb bash"}},
		{"go", set.Go,
			[]string{"go-module github.com/modelcontextprotocol/go-sdk v1.8.0"},
			[]string{"deb dpkg", "deb bash"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := image(t, tc.src)
			upSBOM, err := sbom.Generate(ctx, up)
			if err != nil {
				t.Fatalf("Generate(upstream %s) = %v", tc.src, err)
			}
			checkHeld(t, "upstream", up, upSBOM)
			for _, want := range append(append([]string{}, tc.kept...), tc.removed...) {
				if !hasPrefix(listed(upSBOM), want) {
					t.Errorf("the upstream SBOM lacks %q", want)
				}
			}

			dst := reg + "/" + prefix + "/hardened-" + tc.name
			var hooked *sbom.SBOM
			res, err := build.Harden(ctx, tc.src, dst, build.WithoutSmoke("test"),
				build.WithSBOM(func(_ context.Context, d name.Digest, s *sbom.SBOM) error {
					hooked = s
					return nil
				}))
			if err != nil {
				t.Fatalf("Harden(%s) = %v", tc.src, err)
			}
			if res.SBOM == nil || hooked != res.SBOM {
				t.Fatalf("Harden did not hand its SBOM to the hook and the result (result %p, hook %p)", res.SBOM, hooked)
			}
			if res.SBOMPackages == nil || *res.SBOMPackages != len(res.SBOM.Packages()) {
				t.Errorf("Result.SBOMPackages = %v, want %d", res.SBOMPackages, len(res.SBOM.Packages()))
			}
			hard := image(t, res.Ref)
			checkHeld(t, "hardened", hard, res.SBOM)
			for _, want := range tc.kept {
				if !hasPrefix(listed(res.SBOM), want) {
					t.Errorf("the hardened SBOM lacks %q", want)
				}
			}
			for _, gone := range tc.removed {
				if hasPrefix(listed(res.SBOM), gone) {
					t.Errorf("the hardened SBOM lists %q, which hardening removed", gone)
				}
			}
			for _, tool := range []string{"npm npm", "npm corepack", "python pip"} {
				t.Logf("%s: %q listed upstream %v, hardened %v", tc.name, tool, hasPrefix(listed(upSBOM), tool), hasPrefix(listed(res.SBOM), tool))
			}
			t.Logf("%s: upstream %d packages (files show %d), hardened %d (files show %d); SBOM of the hardened image in %v (median of 3)", tc.name,
				len(upSBOM.Packages()), len(held(t, up)), len(res.SBOM.Packages()), len(held(t, hard)), medianGenerate(t, hard))
		})
	}
}

// checkHeld fails for every package the image's files show that the SBOM
// does not list.
func checkHeld(t *testing.T, which string, img v1.Image, s *sbom.SBOM) {
	t.Helper()
	l := listed(s)
	missing := 0
	for p := range held(t, img) {
		if !l[p] {
			missing++
			if missing <= 10 {
				t.Errorf("%s: the image holds %q but the SBOM does not list it", which, p)
			}
		}
	}
	if missing > 10 {
		t.Errorf("%s: %d packages missing in all", which, missing)
	}
}

// hasPrefix reports whether a listed "type name version" starts with
// "type name" (want may also give the version).
func hasPrefix(l map[string]bool, want string) bool {
	for p := range l {
		if p == want || strings.HasPrefix(p, want+" ") {
			return true
		}
	}
	return false
}

func image(t *testing.T, ref string) v1.Image {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatalf("reading %s: %v", ref, err)
	}
	return img
}

// medianGenerate is what the SBOM step adds to a harden run of img: the
// median of three generations (the attestation push is one small blob).
func medianGenerate(t *testing.T, img v1.Image) time.Duration {
	t.Helper()
	var ds []time.Duration
	for range 3 {
		start := time.Now()
		if _, err := sbom.Generate(context.Background(), img); err != nil {
			t.Fatalf("Generate() = %v", err)
		}
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	return ds[1]
}
