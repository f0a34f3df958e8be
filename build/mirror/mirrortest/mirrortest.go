// Package mirrortest builds what drydock mirror's integration and
// end-to-end tests start from: the image fixtures, many upstream variants
// in their own repositories, a key pair, a policy and a bases file, and a
// catalog over them.
package mirrortest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/mirror"
	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/testdata/fixtures"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
	"sigs.k8s.io/yaml"
)

// Password encrypts the test key.
const Password = "mirror-test"

// World is one test's registry prefix and files.
type World struct {
	Reg, Prefix string
	Fx          *fixtures.Set
	Dir         string
	// Files in Dir.
	Catalog, Policy, Bases, Key, Pub string
	Signer                           signature.SignerVerifier
	upstream                         v1.Image
}

// New pushes the fixtures under a fresh prefix and writes a key pair, the
// default policy and a bases file whose default runtime's base is the
// fixture hardened base.
func New(t testing.TB, reg string) *World {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	prefix := fmt.Sprintf("mirror-test-%d", time.Now().UnixNano())
	fx, err := fixtures.Build(ctx, reg, prefix)
	require.NoError(t, err)
	return NewWith(t, reg, fx)
}

// NewWith is New on fixtures already pushed (a set tests share, since
// building it compiles the server): the world still has its own prefix,
// files and key pair, so tests sharing fx do not see each other's entries.
func NewWith(t testing.TB, reg string, fx *fixtures.Set) *World {
	t.Helper()
	w := &World{Reg: reg, Prefix: fmt.Sprintf("mirror-test-%d", time.Now().UnixNano()), Dir: t.TempDir(), Fx: fx}
	up, err := name.NewDigest(w.Fx.Upstream)
	require.NoError(t, err)
	w.upstream, err = remote.Image(up) // read lazily, after ctx is gone
	require.NoError(t, err)
	w.Key, w.Pub, err = attest.GenerateKeyPair(w.Dir, []byte(Password))
	require.NoError(t, err)
	w.Signer, err = attest.LoadSigner(w.Key, []byte(Password))
	require.NoError(t, err)
	w.Policy, w.Bases, w.Catalog = filepath.Join(w.Dir, "policy.yaml"), filepath.Join(w.Dir, "bases.yaml"), filepath.Join(w.Dir, "catalog.yaml")
	w.WritePolicy(t, nil)
	bases := policies.Bases{APIVersion: policies.APIVersion, Kind: "Bases", Runtimes: []policies.Runtime{
		{Name: "static", Base: w.Fx.HardenedBase, Default: true},
	}}
	writeYAML(t, w.Bases, bases)
	return w
}

// WritePolicy writes the catalog's default policy: the built-in default
// with env.allow set.
func (w *World) WritePolicy(t testing.TB, env []string) {
	t.Helper()
	p := policies.Default()
	p.Env.Allow = env
	writeYAML(t, w.Policy, p)
}

// Name is the catalog name of entry i.
func Name(i int) string { return fmt.Sprintf("echo-%02d", i) }

// Source is the upstream of entry i on host (the registry, or a proxy in
// front of it).
func (w *World) Source(host string, i int) string {
	return fmt.Sprintf("%s/%s/up/%s:latest", host, w.Prefix, Name(i))
}

// Prefix is the mirror prefix on host.
func (w *World) MirrorPrefix(host string) string { return host + "/" + w.Prefix + "/mirror" }

// PushUpstreams pushes variant v of the fixture upstream as entries from..to-1.
func (w *World) PushUpstreams(t testing.TB, from, to int, v string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var eg errgroup.Group
	eg.SetLimit(8)
	for i := from; i < to; i++ {
		eg.Go(func() error {
			img, err := fixtures.Variant(w.upstream, fmt.Sprintf("%s %s-%d", w.Prefix, v, i))
			if err != nil {
				return err
			}
			tag, err := name.NewTag(w.Source(w.Reg, i))
			if err != nil {
				return err
			}
			return remote.Write(tag, img, remote.WithContext(ctx))
		})
	}
	require.NoError(t, eg.Wait())
}

// WriteCatalog writes a catalog of entries 0..n-1 with sources on host and
// the given default strategy; edit changes a server before it is written.
func (w *World) WriteCatalog(t testing.TB, host string, n int, strategy build.Strategy, edit func(i int, s *mirror.Server)) {
	t.Helper()
	c := mirror.Catalog{APIVersion: policies.APIVersion, Kind: mirror.KindCatalog,
		Defaults: mirror.Defaults{Policy: "policy.yaml", Bases: "bases.yaml", Key: "cosign.key", Strategy: strategy}}
	for i := range n {
		s := mirror.Server{Name: Name(i), Source: w.Source(host, i)}
		if edit != nil {
			edit(i, &s)
		}
		c.Servers = append(c.Servers, s)
	}
	data, err := c.Encode()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(w.Catalog, data, 0o644))
}

func writeYAML(t testing.TB, path string, v any) {
	t.Helper()
	data, err := yaml.Marshal(v)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data, 0o644))
}
