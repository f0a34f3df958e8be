package sbom

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const dpkgStatus = `Package: tzdata
Status: install ok installed
Priority: required
Section: localization
Installed-Size: 3260
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: all
Version: 2024a-0+deb12u1
Description: time zone and daylight-saving time data

Package: removed-pkg
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0-1
Description: left only its config files
`

const osRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION_CODENAME=bookworm
ID=debian
`

// layer is one tar layer; a path with an empty body and a ".wh." base name
// is a whiteout.
func layer(t *testing.T, files map[string]string) v1.Layer {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, p := range sortedKeys(files) {
		body := files[p]
		if err := tw.WriteHeader(&tar.Header{Name: p, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func testImage(t *testing.T, layers ...map[string]string) v1.Image {
	t.Helper()
	img := empty.Image
	for _, files := range layers {
		var err error
		if img, err = mutate.AppendLayers(img, layer(t, files)); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// The bottom layer holds npm and pip as an upstream would; the top layer
// deletes them (whiteouts), as hardening a layer at a time does. The SBOM
// is of what the image holds, so they must not be listed.
func TestGeneratePackages(t *testing.T) {
	img := testImage(t, map[string]string{
		"etc/os-release":                        osRelease,
		"var/lib/dpkg/status":                   dpkgStatus,
		"app/node_modules/zod/package.json":     `{"name":"zod","version":"3.25.76","license":"MIT"}`,
		"usr/lib/node_modules/npm/package.json": `{"name":"npm","version":"10.9.2"}`,
		"opt/venv/lib/python3.11/site-packages/mcp-1.9.4.dist-info/METADATA": "Metadata-Version: 2.1\nName: mcp\nVersion: 1.9.4\n",
		"opt/venv/lib/python3.11/site-packages/pip-24.0.dist-info/METADATA":  "Metadata-Version: 2.1\nName: pip\nVersion: 24.0\n",
	}, map[string]string{
		"usr/lib/node_modules/.wh.npm":                                 "",
		"opt/venv/lib/python3.11/site-packages/.wh.pip-24.0.dist-info": "",
	})
	s, err := Generate(context.Background(), img, WithName("127.0.0.1:5000/t/fixture@sha256:0000000000000000000000000000000000000000000000000000000000000000"))
	if err != nil {
		t.Fatalf("Generate() = %v", err)
	}
	want := []Package{
		{Name: "tzdata", Version: "2024a-0+deb12u1", Type: "deb", PURL: "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all&distro=debian-12", Locations: []string{"/var/lib/dpkg/status"}},
		{Name: "zod", Version: "3.25.76", Type: "npm", PURL: "pkg:npm/zod@3.25.76", Locations: []string{"/app/node_modules/zod/package.json"}},
		{Name: "mcp", Version: "1.9.4", Type: "python", PURL: "pkg:pypi/mcp@1.9.4", Locations: []string{"/opt/venv/lib/python3.11/site-packages/mcp-1.9.4.dist-info/METADATA"}},
	}
	got := s.Packages()
	if diff := cmp.Diff(sortedByName(want), sortedByName(got)); diff != "" {
		t.Errorf("Packages() (-want +got):\n%s", diff)
	}
}

func sortedByName(ps []Package) map[string]Package {
	m := map[string]Package{}
	for _, p := range ps {
		m[p.Name] = p
	}
	return m
}

// Both encodings carry the packages with their PURLs, in the document
// shape cosign's --type spdxjson / cyclonedx predicates are.
func TestEncode(t *testing.T) {
	img := testImage(t, map[string]string{
		"app/node_modules/zod/package.json": `{"name":"zod","version":"3.25.76"}`,
	})
	s, err := Generate(context.Background(), img)
	if err != nil {
		t.Fatalf("Generate() = %v", err)
	}
	for _, tc := range []struct {
		format, predicate string
		check             func(t *testing.T, doc map[string]any)
	}{
		{"spdx", "https://spdx.dev/Document", func(t *testing.T, doc map[string]any) {
			if doc["spdxVersion"] != "SPDX-2.3" {
				t.Errorf("spdxVersion = %v, want SPDX-2.3", doc["spdxVersion"])
			}
		}},
		{"cyclonedx", "https://cyclonedx.org/bom", func(t *testing.T, doc map[string]any) {
			if doc["bomFormat"] != "CycloneDX" {
				t.Errorf("bomFormat = %v, want CycloneDX", doc["bomFormat"])
			}
		}},
	} {
		t.Run(tc.format, func(t *testing.T) {
			pt, b, err := s.Encode(tc.format)
			if err != nil {
				t.Fatalf("Encode(%q) = %v", tc.format, err)
			}
			if pt != tc.predicate {
				t.Errorf("predicate type = %q, want %q", pt, tc.predicate)
			}
			var doc map[string]any
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatalf("the %s document is not JSON: %v", tc.format, err)
			}
			tc.check(t, doc)
			if !strings.Contains(string(b), `"pkg:npm/zod@3.25.76"`) {
				t.Errorf("the %s document does not carry pkg:npm/zod@3.25.76", tc.format)
			}
		})
	}
	if _, _, err := s.Encode("spdx-tag-value"); err == nil || !strings.Contains(err.Error(), `SBOM format "spdx-tag-value"`) {
		t.Errorf("Encode(spdx-tag-value) = %v, want a refusal naming the format", err)
	}
}
