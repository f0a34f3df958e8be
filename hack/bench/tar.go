package main

import (
	"archive/tar"
	"io"
	"time"
)

type tarWriter struct{ tw *tar.Writer }

func newTarWriter(w io.Writer) *tarWriter { return &tarWriter{tw: tar.NewWriter(w)} }

// file writes dir entries for app/ and one regular file of size bytes.
func (t *tarWriter) file(name string, size int64, src io.Reader) error {
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "app/", Mode: 0o755, ModTime: mtime}); err != nil {
		return err
	}
	if err := t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: size, ModTime: mtime}); err != nil {
		return err
	}
	if _, err := io.CopyN(t.tw, src, size); err != nil {
		return err
	}
	return t.tw.Close()
}
