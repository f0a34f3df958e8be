package policies

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// gatewayPub is an ECDSA P-256 public key (a fixture; nothing signs with it).
const gatewayPub = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEmu3gdX5A5xQjHXXP/tozjpKquf9x
KMJ+2JkROiw0H+B6rnHnv9NTUhM3FZhyex/qllRk5HSMxYfopof/X85SSw==
-----END PUBLIC KEY-----
`

const gatewayDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseFloorEgress(t *testing.T) {
	head := "apiVersion: drydock.dev/v1\nkind: Floor\n"
	inlineKey := "  key: |\n" + indent(gatewayPub, "    ")
	tests := []struct {
		name, doc string
		wantErr   []string // each must appear in the error
		want      FloorEgress
	}{
		{name: "absent", doc: head, want: FloorEgress{}},
		{name: "key path", doc: head + "egress:\n  image: 127.0.0.1:5000/drydock/gateway@" + gatewayDigest + "\n  key: /etc/drydock/gateway.pub\n",
			want: FloorEgress{Image: "127.0.0.1:5000/drydock/gateway@" + gatewayDigest, Key: "/etc/drydock/gateway.pub"}},
		{name: "key path under home", doc: head + "egress: {image: registry.internal/gw@" + gatewayDigest + ", key: ~/keys/../gw.pub}\n",
			want: FloorEgress{Image: "registry.internal/gw@" + gatewayDigest, Key: "/home/dev/gw.pub"}},
		{name: "inline PEM key", doc: head + "egress:\n  image: gw@" + gatewayDigest + "\n" + inlineKey,
			want: FloorEgress{Image: "gw@" + gatewayDigest, Key: gatewayPub}},
		{name: "tag instead of digest", doc: head + "egress: {image: \"registry.internal/gw:1\", key: /k.pub}\n",
			wantErr: []string{`egress.image: "registry.internal/gw:1" is not REPO@sha256:<64 hex digits>`}},
		{name: "tag and digest", doc: head + "egress: {image: \"127.0.0.1:5000/gw:1@" + gatewayDigest + "\", key: /k.pub}\n",
			wantErr: []string{"egress.image:", "names a tag as well as a digest"}},
		{name: "short digest", doc: head + "egress: {image: \"gw@sha256:0123\", key: /k.pub}\n",
			wantErr: []string{"egress.image:", "is not REPO@sha256:<64 hex digits>"}},
		{name: "upper-case digest", doc: head + "egress: {image: \"gw@sha256:" + strings.ToUpper(gatewayDigest[7:]) + "\", key: /k.pub}\n",
			wantErr: []string{"egress.image:"}},
		{name: "other algorithm", doc: head + "egress: {image: \"gw@sha512:" + gatewayDigest[7:] + "\", key: /k.pub}\n",
			wantErr: []string{"egress.image:"}},
		{name: "image without key", doc: head + "egress: {image: \"gw@" + gatewayDigest + "\"}\n",
			wantErr: []string{"egress.key: is missing"}},
		{name: "key without image", doc: head + "egress: {key: /k.pub}\n",
			wantErr: []string{"egress.image: is missing"}},
		{name: "relative key path", doc: head + "egress: {image: \"gw@" + gatewayDigest + "\", key: keys/gw.pub}\n",
			wantErr: []string{`egress.key: "keys/gw.pub" must be an absolute path`}},
		{name: "PEM that is not a public key", doc: head + "egress:\n  image: gw@" + gatewayDigest + "\n  key: |\n    -----BEGIN CERTIFICATE-----\n    AAAA\n    -----END CERTIFICATE-----\n",
			wantErr: []string{"egress.key: is not a PEM public key"}},
		{name: "PEM public key block with garbage", doc: head + "egress:\n  image: gw@" + gatewayDigest + "\n  key: |\n    -----BEGIN PUBLIC KEY-----\n    AAAA\n    -----END PUBLIC KEY-----\n",
			wantErr: []string{"egress.key: holds a PEM block that is not a public key"}},
		{name: "two PEM blocks", doc: head + "egress:\n  image: gw@" + gatewayDigest + "\n" + inlineKey + indent(gatewayPub, "    "),
			wantErr: []string{"egress.key: holds more than one PEM block"}},
		{name: "both missing parts reported with the others", doc: head + "network: {modes: [host]}\negress: {image: \"gw:1\", key: k.pub}\n",
			wantErr: []string{"network.modes[0]", "egress.image:", "egress.key:"}},
		{name: "unknown field", doc: head + "egress: {image: \"gw@" + gatewayDigest + "\", key: /k.pub, tag: latest}\n",
			wantErr: []string{"egress.tag: unknown field"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFloor([]byte(tt.doc), "floor.yaml", "/home/dev")
			if len(tt.wantErr) > 0 {
				require.Error(t, err)
				require.True(t, strings.HasPrefix(err.Error(), "floor.yaml: "), "error names the file: %v", err)
				for _, w := range tt.wantErr {
					require.Contains(t, err.Error(), w)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, f.Egress)
			require.Equal(t, tt.want.Image != "", f.Egress.Set())
		})
	}
}

func TestParseFloorEgressWithoutHome(t *testing.T) {
	doc := "apiVersion: drydock.dev/v1\nkind: Floor\negress: {image: \"gw@" + gatewayDigest + "\", key: ~/gw.pub}\n"
	_, err := ParseFloor([]byte(doc), "floor.yaml", "")
	require.ErrorContains(t, err, `egress.key: "~/gw.pub" needs a home directory, and none is known`)
}

func TestFloorEgressKeyPEM(t *testing.T) {
	require.True(t, FloorEgress{Key: gatewayPub}.KeyPEM())
	require.True(t, FloorEgress{Key: "\n" + gatewayPub}.KeyPEM())
	require.False(t, FloorEgress{Key: "/etc/gw.pub"}.KeyPEM())
}

func indent(s, by string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	return by + strings.Join(lines, "\n"+by) + "\n"
}
