package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"sort"
	"strings"
)

// A mutant is one small change to a file: the bytes [start, end) become
// repl. Replacements keep the file's newlines so that line numbers in test
// output still point at the original source.
type mutant struct {
	fn         string
	line, col  int
	desc       string
	start, end int
	repl       string
}

func (m mutant) String() string {
	return fmt.Sprintf("%d:%d %s: %s", m.line, m.col, m.fn, m.desc)
}

// apply returns src with the mutation made; a shorter replacement is padded
// with spaces so that columns stay put too.
func (m mutant) apply(src []byte) []byte {
	out := make([]byte, 0, len(src)+len(m.repl))
	out = append(out, src[:m.start]...)
	out = append(out, m.repl...)
	if pad := m.end - m.start - len(m.repl); pad > 0 {
		out = append(out, bytes.Repeat([]byte(" "), pad)...)
	}
	return append(out, src[m.end:]...)
}

// blank turns every byte but newlines into a space.
func blank(b []byte) []byte {
	out := bytes.Repeat([]byte(" "), len(b))
	for i, c := range b {
		if c == '\n' {
			out[i] = '\n'
		}
	}
	return out
}

// swaps are the operator mutations: boundaries, negations, and/or.
var swaps = map[token.Token]token.Token{
	token.EQL: token.NEQ, token.NEQ: token.EQL,
	token.LSS: token.LEQ, token.LEQ: token.LSS,
	token.GTR: token.GEQ, token.GEQ: token.GTR,
	token.LAND: token.LOR, token.LOR: token.LAND,
}

// mutants lists every mutation inside the named functions of one Go file,
// in source order. A named function the file lacks is an error, so the
// targets file cannot silently go stale.
func mutants(filename string, src []byte, funcs []string) ([]mutant, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filename, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", filename, err)
	}
	want := map[string]bool{}
	for _, fn := range funcs {
		want[fn] = true
	}
	var out []mutant
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil || !want[funcName(fd)] {
			continue
		}
		delete(want, funcName(fd))
		out = append(out, inFunc(fset, src, funcName(fd), fd.Body)...)
	}
	if len(want) > 0 {
		var missing []string
		for fn := range want {
			missing = append(missing, fn)
		}
		sort.Strings(missing)
		return nil, fmt.Errorf("%s has no function %s; fix the targets file", filename, strings.Join(missing, ", "))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].start < out[j].start })
	return out, nil
}

func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	t := fd.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	switch x := t.(type) {
	case *ast.IndexExpr:
		t = x.X
	case *ast.IndexListExpr:
		t = x.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return fd.Name.Name
}

func inFunc(fset *token.FileSet, src []byte, fn string, body *ast.BlockStmt) []mutant {
	var out []mutant
	orig := func(start, end token.Pos) []byte {
		return src[fset.Position(start).Offset:fset.Position(end).Offset]
	}
	// constant replaces a condition with b; one written over several lines
	// becomes "b || b || …" (or &&) over as many lines, since a line that
	// ended in a bare true would get an automatic semicolon.
	constant := func(cond ast.Expr, b string) string {
		op := " ||\n"
		if b == "false" {
			op = " &&\n"
		}
		return b + strings.Repeat(op+b, bytes.Count(orig(cond.Pos(), cond.End()), []byte("\n")))
	}
	add := func(n ast.Node, start, end token.Pos, repl, desc string) {
		p := fset.Position(n.Pos())
		if start != n.Pos() {
			p = fset.Position(start)
		}
		out = append(out, mutant{fn: fn, line: p.Line, col: p.Column, desc: desc,
			start: fset.Position(start).Offset, end: fset.Position(end).Offset, repl: repl})
	}
	text := func(n ast.Node) string {
		s := string(src[fset.Position(n.Pos()).Offset:fset.Position(n.End()).Offset])
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[:i] + " …"
		}
		if len(s) > 60 {
			s = s[:57] + "…"
		}
		return "`" + s + "`"
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BinaryExpr:
			if to, ok := swaps[n.Op]; ok {
				op := n.OpPos
				add(n, op, op+token.Pos(len(n.Op.String())), to.String(), fmt.Sprintf("`%s` → `%s`", n.Op, to))
			}
		case *ast.UnaryExpr:
			if n.Op == token.NOT {
				add(n, n.OpPos, n.OpPos+1, "", "drop `!` in "+text(n))
			}
		case *ast.IfStmt:
			for _, b := range []string{"true", "false"} {
				add(n.Cond, n.Cond.Pos(), n.Cond.End(), constant(n.Cond, b), "if "+text(n.Cond)+" → if "+b)
			}
		case *ast.ReturnStmt:
			// Returning early with a value (an error, a refusal, a
			// verdict) is what a missing check looks like.
			if len(n.Results) > 0 && !isIdent(n.Results[len(n.Results)-1], "nil") {
				add(n, n.Pos(), n.End(), string(blank(orig(n.Pos(), n.End()))), "remove "+text(n))
			}
		case *ast.AssignStmt:
			if len(n.Rhs) == 1 && isCall(n.Rhs[0], "append") {
				add(n, n.Pos(), n.End(), string(blank(orig(n.Pos(), n.End()))), "remove "+text(n))
			}
		case *ast.ExprStmt:
			// A call made for its effect: add(...) of a violation,
			// a check that records its findings.
			if _, ok := n.X.(*ast.CallExpr); ok {
				add(n, n.Pos(), n.End(), string(blank(orig(n.Pos(), n.End()))), "remove "+text(n))
			}
		}
		return true
	})
	return out
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

func isCall(e ast.Expr, name string) bool {
	c, ok := e.(*ast.CallExpr)
	return ok && isIdent(c.Fun, name)
}
