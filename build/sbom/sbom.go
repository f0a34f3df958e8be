// Package sbom makes a software bill of materials of an image as it is
// (for drydock, the hardened image: what the hardening pass removed is not
// in it) with syft's catalogers, and encodes it as SPDX 2.3 or CycloneDX
// JSON for an in-toto attestation.
//
// Only the catalogers for what MCP server images hold are linked (dpkg,
// npm package.json, Python dist-info, Go build info, the nix store), over
// syft's squashed-image file resolver, instead of syft.CreateSBOM's whole
// task set: the rest would cost binary size for ecosystems these images
// do not use.
package sbom

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/anchore/stereoscope/pkg/file"
	"github.com/anchore/stereoscope/pkg/image"
	"github.com/anchore/syft/syft/format/cyclonedxjson"
	"github.com/anchore/syft/syft/format/spdxjson"
	"github.com/anchore/syft/syft/linux"
	"github.com/anchore/syft/syft/pkg"
	"github.com/anchore/syft/syft/sbom"
	"github.com/anchore/syft/syft/source"
	"github.com/anchore/syft/syft/source/stereoscopesource"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Formats an SBOM is encoded in, as named on the command line.
const (
	FormatSPDX      = "spdx"
	FormatCycloneDX = "cyclonedx"
)

// In-toto predicate types of the two encodings, the ones `cosign attest
// --type spdxjson|cyclonedx` writes and `cosign verify-attestation` looks
// for.
const (
	PredicateSPDX      = "https://spdx.dev/Document"
	PredicateCycloneDX = "https://cyclonedx.org/bom"
)

// Formats lists the accepted format names.
var Formats = []string{FormatSPDX, FormatCycloneDX}

// Package is one package the image holds.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// PURL is the package URL (pkg:deb/debian/tzdata@2024a?arch=all...),
	// what OSV advisories are matched against.
	PURL string `json:"purl,omitempty"`
	// Type is syft's ecosystem name: deb, npm, python, go-module, nix, ...
	Type string `json:"type"`
	// Locations are the image paths the package was found from (its dpkg
	// status file, package.json, METADATA, binary).
	Locations []string `json:"locations,omitempty"`
}

// SBOM is the bill of materials of one image.
type SBOM struct {
	doc  sbom.SBOM
	pkgs []Package
}

// Packages returns the packages found, sorted by type, name, version and
// location.
func (s *SBOM) Packages() []Package { return slices.Clone(s.pkgs) }

// SPDXJSON encodes the SBOM as an SPDX 2.3 JSON document.
func (s *SBOM) SPDXJSON() ([]byte, error) {
	cfg := spdxjson.DefaultEncoderConfig()
	cfg.Version = "2.3"
	cfg.Pretty = false
	enc, err := spdxjson.NewFormatEncoderWithConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("making the SPDX encoder: %w", err)
	}
	return s.encode(enc)
}

// CycloneDXJSON encodes the SBOM as a CycloneDX JSON document (the
// encoder's default spec version).
func (s *SBOM) CycloneDXJSON() ([]byte, error) {
	cfg := cyclonedxjson.DefaultEncoderConfig()
	cfg.Pretty = false
	enc, err := cyclonedxjson.NewFormatEncoderWithConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("making the CycloneDX encoder: %w", err)
	}
	return s.encode(enc)
}

// Encode returns the document in format (FormatSPDX or FormatCycloneDX)
// with its in-toto predicate type.
func (s *SBOM) Encode(format string) (predicateType string, doc []byte, err error) {
	switch format {
	case FormatSPDX, "":
		doc, err = s.SPDXJSON()
		return PredicateSPDX, doc, err
	case FormatCycloneDX:
		doc, err = s.CycloneDXJSON()
		return PredicateCycloneDX, doc, err
	}
	return "", nil, fmt.Errorf("SBOM format %q: use one of %s", format, strings.Join(Formats, ", "))
}

func (s *SBOM) encode(enc sbom.FormatEncoder) ([]byte, error) {
	var b bytes.Buffer
	if err := enc.Encode(&b, s.doc); err != nil {
		return nil, fmt.Errorf("encoding the SBOM as %s: %w", enc.ID(), err)
	}
	return b.Bytes(), nil
}

// Generate catalogues the packages img holds (its squashed filesystem, so
// files deleted by a later layer are not counted). Layers are unpacked
// under a temporary directory that is removed before it returns.
func Generate(ctx context.Context, img v1.Image, opts ...Option) (*SBOM, error) {
	o, err := makeOptions(opts...)
	if err != nil {
		return nil, err
	}
	if img == nil {
		return nil, errors.New("generating an SBOM: no image given")
	}
	tmp, err := os.MkdirTemp(o.tempDir, "drydock-sbom-")
	if err != nil {
		return nil, fmt.Errorf("generating an SBOM of %s: making a work directory: %w", o.name, err)
	}
	defer os.RemoveAll(tmp)
	gen := file.NewTempDirGenerator("drydock-sbom")
	defer func() { _ = gen.Cleanup() }()

	simg := image.New(img, gen, tmp)
	if err := simg.Read(ctx); err != nil {
		return nil, fmt.Errorf("generating an SBOM of %s: reading its layers: %w", o.name, err)
	}
	defer func() { _ = simg.Cleanup() }()
	src := stereoscopesource.New(simg, stereoscopesource.ImageConfig{Reference: o.name})
	resolver, err := src.FileResolver(source.SquashedScope)
	if err != nil {
		return nil, fmt.Errorf("generating an SBOM of %s: %w", o.name, err)
	}

	coll := pkg.NewCollection()
	doc := sbom.SBOM{
		Artifacts: sbom.Artifacts{Packages: coll, LinuxDistribution: linux.IdentifyRelease(resolver)},
		Source:    src.Describe(),
		Descriptor: sbom.Descriptor{
			Name:    "drydock",
			Version: o.toolVersion,
		},
	}
	for _, c := range o.catalogers {
		pkgs, rels, err := c.Catalog(ctx, resolver)
		if err != nil {
			return nil, fmt.Errorf("generating an SBOM of %s: cataloguing with %s: %w", o.name, c.Name(), err)
		}
		for i := range pkgs {
			if pkgs[i].FoundBy == "" {
				pkgs[i].FoundBy = c.Name()
			}
		}
		coll.Add(pkgs...)
		doc.Relationships = append(doc.Relationships, rels...)
	}
	return &SBOM{doc: doc, pkgs: packagesOf(coll)}, nil
}

func packagesOf(coll *pkg.Collection) []Package {
	var out []Package
	for _, p := range coll.Sorted() {
		q := Package{Name: p.Name, Version: p.Version, PURL: p.PURL, Type: string(p.Type)}
		for _, l := range p.Locations.ToSlice() {
			q.Locations = append(q.Locations, l.RealPath)
		}
		slices.Sort(q.Locations)
		q.Locations = slices.Compact(q.Locations)
		out = append(out, q)
	}
	slices.SortStableFunc(out, func(a, b Package) int {
		return strings.Compare(a.Type+"\x00"+a.Name+"\x00"+a.Version, b.Type+"\x00"+b.Name+"\x00"+b.Version)
	})
	return out
}
