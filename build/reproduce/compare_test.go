package reproduce

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"
)

// layer is a tar layer of name=content files, all 0644 at date.
func layer(t *testing.T, date time.Time, files ...string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i < len(files); i += 2 {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1])), ModTime: date, Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(files[i+1]))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	require.NoError(t, err)
	return l
}

func TestCompareImages(t *testing.T) {
	d := time.Unix(1700000000, 0)
	base := layer(t, d, "bin/app", "app")
	img := func(ls ...v1.Layer) v1.Image {
		i, err := mutate.AppendLayers(empty.Image, ls...)
		require.NoError(t, err)
		return i
	}
	tests := []struct {
		name string
		a, b v1.Image
		want string
	}{
		{"content", img(base, layer(t, d, "etc/group", "x", "etc/passwd", "a")), img(base, layer(t, d, "etc/group", "x", "etc/passwd", "b")), "first differing path /etc/passwd (content)"},
		{"time", img(base, layer(t, d, "etc/passwd", "a")), img(base, layer(t, d.Add(time.Minute), "etc/passwd", "a")), "layer 1 (sha256:"}, // checked fully below
		{"time path", img(layer(t, d, "etc/passwd", "a")), img(layer(t, d.Add(time.Minute), "etc/passwd", "a")), "first differing path /etc/passwd (modification time)"},
		{"extra file", img(layer(t, d, "a", "1")), img(layer(t, d, "a", "1", "b", "2")), "first differing path /b (only in the rebuild)"},
		{"layer count", img(base), img(base, base), "layer count: 1 published, 2 rebuilt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CompareImages(tt.a, tt.b)
			require.NoError(t, err)
			require.Contains(t, got, tt.want)
		})
	}
}

func TestJSONDiff(t *testing.T) {
	tests := []struct {
		name, a, b, want string
	}{
		{"equal", `{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1}`, ""},
		{"label", `{"config":{"Labels":{"dev.drydock.policy":"x"}}}`, `{"config":{"Labels":{"dev.drydock.policy":"y"}}}`,
			`config field config.Labels["dev.drydock.policy"]: published "x", rebuilt "y"`},
		{"first in key order", `{"b":1,"a":{"z":1}}`, `{"b":2,"a":{"z":2}}`, `config field a.z: published 1, rebuilt 2`},
		{"extra element", `{"history":[1]}`, `{"history":[1,2]}`, `config field history[1]: published (absent), rebuilt 2`},
		{"missing key", `{"created":"t"}`, `{}`, `config field created: published "t", rebuilt (absent)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jsonDiff("config", []byte(tt.a), []byte(tt.b))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
