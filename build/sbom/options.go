package sbom

import (
	"github.com/anchore/syft/syft/pkg"
	"github.com/anchore/syft/syft/pkg/cataloger/debian"
	"github.com/anchore/syft/syft/pkg/cataloger/golang"
	"github.com/anchore/syft/syft/pkg/cataloger/javascript"
	"github.com/anchore/syft/syft/pkg/cataloger/nix"
	"github.com/anchore/syft/syft/pkg/cataloger/python"
)

// Option configures Generate.
type Option func(*options) error

type options struct {
	name        string
	tempDir     string
	toolVersion string
	catalogers  []pkg.Cataloger
}

func makeOptions(opts ...Option) (*options, error) {
	o := &options{name: "the image", toolVersion: "devel"}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.catalogers == nil {
		o.catalogers = defaultCatalogers()
	}
	return o, nil
}

// defaultCatalogers are the catalogers for what MCP server images hold.
// None reaches the network: the Go cataloger is configured without module
// proxies (syft's default would look licenses up remotely when asked).
func defaultCatalogers() []pkg.Cataloger {
	goCfg := golang.CatalogerConfig{MainModuleVersion: golang.DefaultMainModuleVersionConfig()}
	return []pkg.Cataloger{
		debian.NewDBCataloger(),
		javascript.NewPackageCataloger(),
		python.NewInstalledPackageCataloger(),
		golang.NewGoModuleBinaryCataloger(goCfg),
		nix.NewStoreCataloger(),
	}
}

// WithName names the image in the document (its reference, e.g.
// registry/repo@sha256:...). Default: "the image".
func WithName(ref string) Option { return func(o *options) error { o.name = ref; return nil } }

// WithTempDir is where layers are unpacked while cataloguing. Default:
// os.TempDir().
func WithTempDir(dir string) Option { return func(o *options) error { o.tempDir = dir; return nil } }

// WithToolVersion is the drydock version recorded as the document's
// creator tool. Default: "devel".
func WithToolVersion(v string) Option {
	return func(o *options) error { o.toolVersion = v; return nil }
}
