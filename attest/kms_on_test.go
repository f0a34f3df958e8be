//go:build kms

package attest_test

import (
	"net"
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/stretchr/testify/require"
)

// TestKMSHashivaultUnreachable: with -tags kms a hashivault:// reference
// reaches the Vault provider, which fails to connect to a local address
// nothing listens on; the error names the reference, never the token. No
// real cloud or Vault is involved.
func TestKMSHashivaultUnreachable(t *testing.T) {
	require.ElementsMatch(t, []string{"awskms://", "gcpkms://", "azurekms://", "hashivault://"}, attest.KMSProviders())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // now nothing listens there
	const token = "hvs.drydock-test-secret-token"
	t.Setenv("VAULT_ADDR", "http://"+addr)
	t.Setenv("VAULT_TOKEN", token)
	t.Setenv("VAULT_MAX_RETRIES", "0")

	_, err = attest.LoadKMSSigner(ctx, "hashivault://drydock-test")

	t.Logf("error: %v", err)
	require.ErrorContains(t, err, "reaching KMS key hashivault://drydock-test")
	require.ErrorContains(t, err, addr, "the provider tried the configured Vault address")
	require.ErrorContains(t, err, "connection refused")
	require.NotContains(t, err.Error(), token)
}
