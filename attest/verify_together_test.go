package attest_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// sigAfterAtt holds the request for the .sig tag until the .att tag has
// been asked for (or a deadline passes, which it records): with an
// attestation required the two are read together, not one after another.
type sigAfterAtt struct {
	once      sync.Once
	att       chan struct{}
	mu        sync.Mutex
	sequenced bool
}

func (s *sigAfterAtt) RoundTrip(r *http.Request) (*http.Response, error) {
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, ".att"):
		s.once.Do(func() { close(s.att) })
	case strings.HasSuffix(p, ".sig"):
		select {
		case <-s.att:
		case <-time.After(10 * time.Second):
			s.mu.Lock()
			s.sequenced = true
			s.mu.Unlock()
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestVerifyReadsSigAndAttTogether(t *testing.T) {
	f := newFixture(t)
	k := newKey(t)
	require.NoError(t, attest.Sign(ctx, f.a, k))
	require.NoError(t, attest.Attest(ctx, f.a, k, provenance(f)))
	tr := &sigAfterAtt{att: make(chan struct{})}
	res, err := attest.Verify(ctx, f.a, k, attest.WithRemoteOptions(remote.WithTransport(tr)),
		attest.WithAttestation(attest.PredicateSLSAProvenanceV1))
	require.NoError(t, err)
	require.Len(t, res.Attestations, 1)
	require.False(t, tr.sequenced, "the .sig tag was read before the .att tag was asked for")
}
