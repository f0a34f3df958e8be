// Command listener is the egress tests' destination, run as a container on
// a test network (never on the host): HTTP on :8080 and :80 and HTTPS on
// :443 (a self-signed certificate for NAME, or the PEM certificate and key
// in LISTENER_CERT and LISTENER_KEY when both are set) answer every request with
// "hello from NAME" (its argument), and :5432 greets every TCP connection
// with "tcp hello from NAME" and a newline.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	name := "listener"
	if len(os.Args) > 1 {
		name = os.Args[1]
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintf(w, "hello from %s", name) })
	serve := func(addr string, cfg *tls.Config) {
		srv := &http.Server{Addr: addr, ReadHeaderTimeout: 10 * time.Second, Handler: h, TLSConfig: cfg}
		if cfg != nil {
			log.Fatal(srv.ListenAndServeTLS("", ""))
		}
		log.Fatal(srv.ListenAndServe())
	}
	go serve(":80", nil)
	cert := selfSigned(name)
	if c, k := os.Getenv("LISTENER_CERT"), os.Getenv("LISTENER_KEY"); c != "" && k != "" {
		var err error
		if cert, err = tls.X509KeyPair([]byte(c), []byte(k)); err != nil {
			log.Fatal(err)
		}
	}
	go serve(":443", &tls.Config{Certificates: []tls.Certificate{cert}})
	go greet(":5432", "tcp hello from "+name+"\n")
	serve(":8080", nil)
}

func greet(addr, line string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		_, _ = c.Write([]byte(line))
		c.Close()
	}
}

func selfSigned(name string) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		log.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
