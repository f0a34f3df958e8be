package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// maxRunELines is how long a command's RunE body may be (STYLE.md, "Keep
// each subcommand thin"): parse flags, call one package function, print.
const maxRunELines = 30

// runEBodies maps "file:line" of every RunE function literal in the
// package's non-test files to its length in lines, from the func line to
// the closing brace (the way the issue counts them).
func runEBodies(t *testing.T) map[string]int {
	t.Helper()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	out := map[string]int{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err, "parsing %s", name)
		ast.Inspect(f, func(n ast.Node) bool {
			kv, ok := n.(*ast.KeyValueExpr)
			if !ok {
				return true
			}
			if k, ok := kv.Key.(*ast.Ident); !ok || k.Name != "RunE" {
				return true
			}
			lit, ok := kv.Value.(*ast.FuncLit)
			if !ok {
				// A named function would hide its length from this check.
				t.Errorf("%s: RunE is not a function literal; write the body in place so its length is checked", fset.Position(kv.Pos()))
				return true
			}
			start, end := fset.Position(lit.Pos()), fset.Position(lit.End())
			out[start.String()] = end.Line - start.Line + 1
			return true
		})
	}
	return out
}

// TestRunEBodiesAreThin: no command's RunE body is over maxRunELines lines.
func TestRunEBodiesAreThin(t *testing.T) {
	bodies := runEBodies(t)
	// Every command is seen (18 at the time of writing), so a parse that
	// found none cannot pass by accident.
	require.GreaterOrEqual(t, len(bodies), 18)
	for pos, n := range bodies {
		t.Logf("%s: %d lines", pos, n)
		if n > maxRunELines {
			t.Errorf("%s: RunE body is %d lines (at most %d): move the logic into its package and call one function", pos, n, maxRunELines)
		}
	}
}
