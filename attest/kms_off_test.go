//go:build !kms

package attest_test

import (
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/stretchr/testify/require"
)

// TestKMSNeedsTag: the default build has no KMS providers and says how to
// get them, in one sentence, for every scheme.
func TestKMSNeedsTag(t *testing.T) {
	require.Empty(t, attest.KMSProviders())
	for _, ref := range []string{"awskms:///arn:aws:kms:us-east-1:111122223333:key/1234", "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k", "azurekms://v.vault.azure.net/k", "hashivault://drydock"} {
		_, err := attest.LoadKMSSigner(ctx, ref)
		require.ErrorContains(t, err, "build it with `go build -tags kms ./cmd/drydock`", ref)
	}
}
