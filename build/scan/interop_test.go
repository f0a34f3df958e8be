package scan_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/attest/cosigntest"
	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/scan"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/openvex/go-vex/pkg/vex"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/stretchr/testify/require"
)

const interopPassword = "scan-interop-password"

// TestCosignInterop: the vulnerability and OpenVEX attestations the gate
// writes are what `cosign verify-attestation --type vuln|openvex` reads;
// another key, or the attestations moved onto another image, are refused
// by cosign and by drydock alike.
func TestCosignInterop(t *testing.T) {
	reg := testenv.Registry(t)
	cosign := cosigntest.Binary(t)
	ctx := context.Background()
	keyPath, pubPath, err := attest.GenerateKeyPair(filepath.Join(t.TempDir(), "keys"), []byte(interopPassword))
	require.NoError(t, err)
	key, err := attest.LoadSigner(keyPath, []byte(interopPassword))
	require.NoError(t, err)
	_, otherPub, err := attest.GenerateKeyPair(filepath.Join(t.TempDir(), "other"), []byte(interopPassword))
	require.NoError(t, err)
	repo, err := name.NewRepository(fmt.Sprintf("%s/scan-interop-%d/node", reg, time.Now().UnixNano()))
	require.NoError(t, err)
	push := func(tag string) name.Digest {
		img, err := random.Image(64, 1)
		require.NoError(t, err)
		require.NoError(t, remote.Write(repo.Tag(tag), img))
		h, err := img.Digest()
		require.NoError(t, err)
		return repo.Digest(h.String())
	}
	d, other := push("scanned"), push("other")

	db, err := scan.LoadDB("testdata/osv")
	require.NoError(t, err)
	doc, err := scan.ParseVEX([]byte(vexServerFS), "vex.json")
	require.NoError(t, err)
	g := &scan.Gate{DB: db, VEX: []*vex.VEX{doc}, Signer: key,
		Packages: func(context.Context, name.Digest) ([]scan.Package, error) { return fixturePackages, nil }}
	sign := func(ctx context.Context, d name.Digest, _ *build.Result) error { return attest.Sign(ctx, d, key) }
	require.NoError(t, g.Wrap(sign)(ctx, d, &build.Result{}))
	require.NoError(t, attest.Sign(ctx, other, key))

	env := []string{"COSIGN_PASSWORD=" + interopPassword}
	verifyAtt := func(pub, typ string, img name.Digest) cosigntest.Result {
		return cosigntest.Run(t, cosign, env, "verify-attestation", "--key", pub, "--insecure-ignore-tlog", "--type", typ, img.String())
	}
	for _, tc := range []struct{ typ, predicateType, contains string }{
		{"vuln", attest.PredicateVuln, `"GHSA-test-pip01"`},
		{"openvex", attest.PredicateOpenVEX, `"vulnerable_code_not_in_execute_path"`},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			r := verifyAtt(pubPath, tc.typ, d)
			require.Equal(t, 0, r.Code, r.Stderr)
			var envelope struct{ Payload string }
			require.NoError(t, json.Unmarshal([]byte(r.Stdout), &envelope))
			payload, err := base64.StdEncoding.DecodeString(envelope.Payload)
			require.NoError(t, err)
			require.Contains(t, string(payload), `"predicateType":"`+tc.predicateType+`"`)
			require.Contains(t, string(payload), tc.contains)

			require.NotEqual(t, 0, verifyAtt(otherPub, tc.typ, d).Code, "cosign refuses another key")
		})
	}
	t.Run("moved onto another image", func(t *testing.T) {
		// Copy the .att tag of d onto other's: both tools must refuse it,
		// since the statements' subject is d.
		src, err := ociremote.AttestationTag(d)
		require.NoError(t, err)
		dst, err := ociremote.AttestationTag(other)
		require.NoError(t, err)
		desc, err := remote.Get(src)
		require.NoError(t, err)
		img, err := desc.Image()
		require.NoError(t, err)
		require.NoError(t, remote.Write(dst, img))

		require.NotEqual(t, 0, verifyAtt(pubPath, "vuln", other).Code, "cosign refuses a statement about another digest")
		pub, err := attest.LoadVerifier(pubPath)
		require.NoError(t, err)
		_, err = attest.Require(ctx, other, pub, attest.Requirements{Attestations: []string{attest.KindVuln}})
		var r *attest.RefusalError
		require.ErrorAs(t, err, &r)
		require.Equal(t, "subject", r.Check)
	})
}
