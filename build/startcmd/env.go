package startcmd

import "strings"

// environ is a shell's variables: the exported ones reach the program.
type environ struct {
	order    []string
	vals     map[string]string
	exported map[string]bool
}

// newEnviron starts from an image's ENV, which is exported and, as Docker
// expanded it at build time, literal.
func newEnviron(kv []string) *environ {
	e := &environ{vals: map[string]string{}, exported: map[string]bool{}}
	for _, s := range kv {
		n, v, _ := strings.Cut(s, "=")
		e.set(n, v, true)
	}
	return e
}

func (e *environ) get(n string) (string, bool) { v, ok := e.vals[n]; return v, ok }

// set assigns n; export marks it exported, and a name once exported stays so.
func (e *environ) set(n, v string, export bool) {
	if _, ok := e.vals[n]; !ok {
		e.order = append(e.order, n)
	}
	e.vals[n] = v
	if export {
		e.exported[n] = true
	}
}

func (e *environ) export(n string) {
	if _, ok := e.vals[n]; ok {
		e.exported[n] = true
	}
}

func (e *environ) unset(n string) {
	delete(e.vals, n)
	delete(e.exported, n)
}

// list is the exported variables as NAME=value, in first-assignment order.
func (e *environ) list() []string {
	var out []string
	for _, n := range e.order {
		if v, ok := e.vals[n]; ok && e.exported[n] {
			out = append(out, n+"="+v)
		}
	}
	return out
}

func (e *environ) clone() *environ {
	c := &environ{order: append([]string{}, e.order...), vals: map[string]string{}, exported: map[string]bool{}}
	for k, v := range e.vals {
		c.vals[k] = v
	}
	for k, v := range e.exported {
		c.exported[k] = v
	}
	return c
}
