package scan_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/scan"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/stretchr/testify/require"
)

// TestGateEdges pins the gate's other paths: no --fail-on signs and
// attests whatever it found, and a listing, matching or signing error
// stops the build with that error, before any attestation.
func TestGateEdges(t *testing.T) {
	db, err := scan.LoadDB("testdata/osv")
	require.NoError(t, err)
	listed := func(pkgs []scan.Package, err error) func(context.Context, name.Digest) ([]scan.Package, error) {
		return func(context.Context, name.Digest) ([]scan.Package, error) { return pkgs, err }
	}
	for _, tc := range []struct {
		name       string
		packages   func(context.Context, name.Digest) ([]scan.Package, error)
		signErr    error
		wantSigned bool
		wantErr    string // how the error starts (%s: the digest); "" when it passes
		attested   bool
	}{
		{name: "no --fail-on: signed with the findings attested", packages: listed(fixturePackages, nil),
			wantSigned: true, attested: true},
		{name: "the listing fails", packages: listed(nil, errors.New("no package database")),
			wantErr: "scanning %s: listing its packages: no package database"},
		{name: "a package URL that does not parse", packages: listed([]scan.Package{{Name: "bad", Version: "1", PURL: "pkg:npm/%zz@1"}}, nil),
			wantErr: `scanning %s: matching bad: parsing purl "pkg:npm/%zz@1": `},
		{name: "signing fails", packages: listed(fixturePackages, nil), signErr: errors.New("the key is gone"),
			wantSigned: true, wantErr: "the key is gone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := pushRandom(t)
			key := newKey(t)
			g := &scan.Gate{DB: db, Signer: key, Packages: tc.packages}
			signed := false
			sign := func(ctx context.Context, d name.Digest, _ *build.Result) error {
				signed = true
				if tc.signErr != nil {
					return tc.signErr
				}
				return attest.Sign(ctx, d, key)
			}

			err := g.Wrap(sign)(context.Background(), d, &build.Result{})

			require.Equal(t, tc.wantSigned, signed, "signed")
			if tc.wantErr != "" {
				require.Error(t, err)
				want := strings.Replace(tc.wantErr, "%s", d.String(), 1)
				require.True(t, strings.HasPrefix(err.Error(), want), "%q starts with %q", err, want)
				require.NotErrorIs(t, err, attest.ErrRefused)
			} else {
				require.NoError(t, err)
			}
			_, verr := attest.Verify(context.Background(), d, key, attest.WithAttestation(attest.PredicateVuln))
			if !tc.attested {
				require.Error(t, verr, "no vulnerability attestation")
				return
			}
			require.NoError(t, verr)
			require.Equal(t, []string{"GHSA-test-fs01", "DRYDOCK-TEST-SUDO", "GHSA-test-pip01"}, ids(g.Result.Findings))
		})
	}
}
