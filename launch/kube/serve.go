package kube

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Serve serves w at https://addr/validate with the PEM certificate and key
// in certFile and keyFile until ctx ends (then it returns nil).
func (w *Webhook) Serve(ctx context.Context, addr, certFile, keyFile string) error {
	mux := http.NewServeMux()
	mux.Handle("/validate", w)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	stop := context.AfterFunc(ctx, func() { _ = srv.Close() })
	defer stop()
	if err := srv.ListenAndServeTLS(certFile, keyFile); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
