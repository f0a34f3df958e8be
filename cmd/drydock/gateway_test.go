package main

import (
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"
)

// releaseKey is an ECDSA P-256 public key (a fixture; nothing signs with it).
const releaseKey = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEmu3gdX5A5xQjHXXP/tozjpKquf9x
KMJ+2JkROiw0H+B6rnHnv9NTUhM3FZhyex/qllRk5HSMxYfopof/X85SSw==
-----END PUBLIC KEY-----
`

func TestGatewayOption(t *testing.T) {
	const img = "registry.internal/drydock/gateway@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		name, image, key string
		wantOpts         int
		wantErr          string
	}{
		{name: "dev build: none", wantOpts: 0},
		{name: "PEM key", image: img, key: releaseKey, wantOpts: 1},
		{name: "base64 of PEM", image: img, key: base64.StdEncoding.EncodeToString([]byte(releaseKey)), wantOpts: 1},
		{name: "key neither PEM nor base64", image: img, key: "not a key!", wantErr: "neither PEM nor base64 of PEM"},
		{name: "base64 of something else", image: img, key: base64.StdEncoding.EncodeToString([]byte("hello")), wantErr: "not a PEM public key"},
		{name: "key without image", key: releaseKey, wantErr: "sets only one of main.gatewayImage and main.gatewayKey"},
		{name: "image without key", image: img, wantErr: "sets only one of main.gatewayImage and main.gatewayKey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := gatewayOption(tt.image, tt.key)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Len(t, opts, tt.wantOpts)
		})
	}
}
