package main

import (
	"flag"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func TestMutants(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "sample.go.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := mutants("sample.go", src, []string{"Floor.Check", "ok"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.String())
		mutated := m.apply(src)
		if _, err := parser.ParseFile(token.NewFileSet(), "sample.go", mutated, 0); err != nil {
			t.Errorf("%s: the mutated file does not parse: %v\n%s", m, err, mutated)
		}
		if n, want := strings.Count(string(mutated), "\n"), strings.Count(string(src), "\n"); n != want {
			t.Errorf("%s: the mutated file has %d lines, want %d", m, n, want)
		}
	}
	golden(t, "sample.mutants.txt", strings.Join(got, "\n"))
}

// The multi-line condition made constant keeps its lines without an
// automatic semicolon after the constant.
func TestApplyConstantCondition(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "sample.go.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := mutants("sample.go", src, []string{"Floor.Check"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"true":  "\t\tif true ||\ntrue ",
		"false": "\t\tif false &&\nfalse ",
	}
	seen := 0
	for _, m := range ms {
		for b, text := range want {
			if strings.HasPrefix(m.desc, "if `s == \"\"") && strings.HasSuffix(m.desc, "→ if "+b) {
				seen++
				if got := string(m.apply(src)); !strings.Contains(got, text) {
					t.Errorf("%s: mutated file lacks %q:\n%s", m, text, got)
				}
			}
		}
	}
	if seen != 2 {
		t.Fatalf("found %d constant mutations of the multi-line condition, want 2", seen)
	}
}

func TestMutantsMissingFunction(t *testing.T) {
	_, err := mutants("sample.go", []byte("package sample\nfunc a() {}\n"), []string{"a", "Floor.Check", "b"})
	want := "sample.go has no function Floor.Check, b; fix the targets file"
	if err == nil || err.Error() != want {
		t.Fatalf("mutants() = %v, want %q", err, want)
	}
}

func TestParseTargets(t *testing.T) {
	tests := []struct {
		name, text, wantErr string
		want                []target
	}{
		{name: "on and pending", text: "# comment\n\non a.go F,T.m ./a ^TestA$\npending b/b.go g ./b ^TestB\n",
			want: []target{
				{line: 3, enabled: true, file: "a.go", funcs: []string{"F", "T.m"}, pkg: "./a", run: "^TestA$"},
				{line: 4, file: "b/b.go", funcs: []string{"g"}, pkg: "./b", run: "^TestB"},
			}},
		{name: "missing field", text: "on a.go F ./a\n", wantErr: "t.txt:1: want 5 fields"},
		{name: "bad state", text: "off a.go F ./a ^T\n", wantErr: `t.txt:1: state "off" must be on or pending`},
		{name: "absolute package", text: "on a.go F github.com/x/a ^T\n", wantErr: "must be a relative path"},
		{name: "bad pattern", text: "on a.go F ./a ^(T\n", wantErr: "t.txt:1: run pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTargets(strings.NewReader(tt.text), "t.txt")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseTargets() = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("parseTargets() = %d targets, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i].String() != tt.want[i].String() || got[i].enabled != tt.want[i].enabled || got[i].line != tt.want[i].line {
					t.Errorf("target %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file missing; run go test ./hack/mutate -update: %v", err)
	}
	if strings.TrimSuffix(string(want), "\n") != got {
		t.Errorf("got:\n%s\nwant (%s):\n%s", got, path, want)
	}
}
