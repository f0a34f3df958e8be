// Command etcd is etcd's server main, built from the Go module proxy for the
// kube tests' API server (etcd ships no Go-installable command of its own).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
