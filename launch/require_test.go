package launch

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/stretchr/testify/require"
)

// signedLabelled pushes a signed image carrying the default policy label
// to an in-memory registry.
func signedLabelled(t *testing.T, key signature.Signer) name.Digest {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/mcp/req")
	require.NoError(t, err)
	img, err := random.Image(64, 1)
	require.NoError(t, err)
	label, err := policies.Default().Encode()
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	cf.Config.Labels = map[string]string{policies.LabelKey: label}
	img, err = mutate.ConfigFile(img, cf)
	require.NoError(t, err)
	require.NoError(t, remote.Write(repo.Tag("v1"), img))
	h, err := img.Digest()
	require.NoError(t, err)
	d := repo.Digest(h.String())
	require.NoError(t, attest.Sign(context.Background(), d, key))
	return d
}

func ecKey(t *testing.T) signature.SignerVerifier {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	sv, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	require.NoError(t, err)
	return sv
}

const scanHigh = `{"invocation":{"parameters":null,"uri":"","event_id":"","builder.id":""},"scanner":{"uri":"u","version":"v","db":{"uri":"","version":""},
	"result":{"packages":1,"findings":[{"id":"GHSA-test-fs01","severity":"high","package":"@modelcontextprotocol/server-filesystem","version":"2026.8.31","ecosystem":"npm"}],"suppressed":[]}},
	"metadata":{"scanStartedOn":"2026-11-01T00:00:00Z","scanFinishedOn":"2026-11-01T00:00:01Z"}}`

// The floor's require section and verify --require refuse an image without
// the attestations, or whose signed scan is over the floor's limit.
func TestVerifyRequirements(t *testing.T) {
	for _, tc := range []struct {
		name      string
		floorReq  policies.FloorRequire
		flagReq   attest.Requirements
		attach    []string // predicate types attached
		wantCheck string
	}{
		{"nothing required, nothing attached", policies.FloorRequire{}, attest.Requirements{}, nil, ""},
		{"floor requires sbom, none", policies.FloorRequire{Attestations: []string{"sbom"}}, attest.Requirements{}, nil, "attestation"},
		{"--require sbom, none", policies.FloorRequire{}, attest.Requirements{Attestations: []string{"sbom"}}, nil, "attestation"},
		{"floor requires sbom and vuln, both", policies.FloorRequire{Attestations: []string{"sbom", "vuln"}}, attest.Requirements{},
			[]string{attest.PredicateSPDX, attest.PredicateVuln}, ""},
		{"floor maxSeverity high, scan high", policies.FloorRequire{MaxSeverity: "high"}, attest.Requirements{},
			[]string{attest.PredicateVuln}, ""},
		{"floor maxSeverity medium, scan high", policies.FloorRequire{MaxSeverity: "medium"}, attest.Requirements{},
			[]string{attest.PredicateVuln}, "severity"},
		{"floor and flag both apply: flag adds slsa", policies.FloorRequire{Attestations: []string{"vuln"}}, attest.Requirements{Attestations: []string{"slsa"}},
			[]string{attest.PredicateVuln}, "predicate-type"},
		{"the lower limit wins", policies.FloorRequire{MaxSeverity: "critical"}, attest.Requirements{MaxSeverity: sevPtr(attest.SeverityMedium)},
			[]string{attest.PredicateVuln}, "severity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := ecKey(t)
			d := signedLabelled(t, key)
			for _, pt := range tc.attach {
				pred := `{"spdxVersion":"SPDX-2.3","packages":[]}`
				if pt == attest.PredicateVuln {
					pred = scanHigh
				}
				require.NoError(t, attest.AttestPredicate(context.Background(), d, key, pt, json.RawMessage(pred)))
			}
			floor := policies.StrictFloor()
			floor.Require = tc.floorReq

			v, err := Verify(context.Background(), d.String(), WithVerifier(key), WithFloor(floor), WithCacheDir(""), WithRequirements(tc.flagReq))

			if tc.wantCheck == "" {
				require.NoError(t, err)
				require.Equal(t, d.String(), v.Digest.String())
				return
			}
			var r *attest.RefusalError
			require.ErrorAs(t, err, &r)
			require.ErrorIs(t, err, attest.ErrRefused)
			require.Equal(t, tc.wantCheck, r.Check)
		})
	}
}

func sevPtr(s attest.Severity) *attest.Severity { return &s }
