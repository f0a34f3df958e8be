package mirror

import "sync"

// pool shares entries among BuildKit daemons: the least busy one gets the
// next entry, ties going round-robin, so a slow daemon gets less work and
// an idle fleet is used evenly.
type pool struct {
	mu    sync.Mutex
	addrs []string
	busy  []int
	next  int
}

func newPool(addrs []string) *pool {
	return &pool{addrs: addrs, busy: make([]int, len(addrs))}
}

// acquire picks a daemon and counts the entry on it; release it after.
func (p *pool) acquire() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	best := -1
	for k := range p.addrs {
		j := (p.next + k) % len(p.addrs)
		if best < 0 || p.busy[j] < p.busy[best] {
			best = j
		}
	}
	p.next = (best + 1) % len(p.addrs)
	p.busy[best]++
	return best
}

func (p *pool) release(i int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busy[i]--
}
