// Command listener is the allowlist tests' destination: an HTTP server on
// :8080 that answers every request with "hello from NAME" (its argument).
// It runs as a container on a test network, never on the host.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"time"
)

func main() {
	name := "listener"
	if len(os.Args) > 1 {
		name = os.Args[1]
	}
	srv := &http.Server{
		Addr:              ":8080",
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, "hello from %s", name)
		}),
	}
	log.Fatal(srv.ListenAndServe())
}
