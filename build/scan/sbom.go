package scan

import (
	"encoding/json"
	"fmt"

	"github.com/drydock-dev/drydock/attest"
)

// PackagesFromSBOM reads the packages of a signed SBOM predicate: SPDX 2.3
// JSON (packages[] with a purl external reference) or CycloneDX JSON
// (components[], nested ones too). Packages without a purl are kept:
// they count, but cannot be matched.
func PackagesFromSBOM(predicateType string, predicate []byte) ([]Package, error) {
	switch predicateType {
	case attest.PredicateSPDX:
		var doc struct {
			SPDXVersion string `json:"spdxVersion"`
			Packages    []struct {
				Name         string `json:"name"`
				VersionInfo  string `json:"versionInfo"`
				ExternalRefs []struct {
					ReferenceType    string `json:"referenceType"`
					ReferenceLocator string `json:"referenceLocator"`
				} `json:"externalRefs"`
			} `json:"packages"`
		}
		if err := json.Unmarshal(predicate, &doc); err != nil || doc.SPDXVersion == "" {
			return nil, fmt.Errorf("reading the SPDX SBOM: not an SPDX JSON document (%v)", err)
		}
		out := make([]Package, 0, len(doc.Packages))
		for _, p := range doc.Packages {
			pkg := Package{Name: p.Name, Version: p.VersionInfo}
			for _, r := range p.ExternalRefs {
				if r.ReferenceType == "purl" {
					pkg.PURL = r.ReferenceLocator
				}
			}
			out = append(out, pkg)
		}
		return out, nil
	case attest.PredicateCycloneDX:
		type component struct {
			Name       string      `json:"name"`
			Version    string      `json:"version"`
			PURL       string      `json:"purl"`
			Components []component `json:"components"`
		}
		var doc struct {
			BOMFormat  string      `json:"bomFormat"`
			Components []component `json:"components"`
		}
		if err := json.Unmarshal(predicate, &doc); err != nil || doc.BOMFormat != "CycloneDX" {
			return nil, fmt.Errorf("reading the CycloneDX SBOM: not a CycloneDX JSON document (%v)", err)
		}
		var out []Package
		var walk func([]component)
		walk = func(cs []component) {
			for _, c := range cs {
				out = append(out, Package{Name: c.Name, Version: c.Version, PURL: c.PURL})
				walk(c.Components)
			}
		}
		walk(doc.Components)
		return out, nil
	}
	return nil, fmt.Errorf("reading the SBOM: predicate type %s is neither SPDX nor CycloneDX", predicateType)
}
