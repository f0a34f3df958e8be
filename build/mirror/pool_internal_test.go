package mirror

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPoolLeastBusy(t *testing.T) {
	p := newPool([]string{"a", "b", "c"})
	var got []int
	for range 3 {
		got = append(got, p.acquire())
	}
	require.Equal(t, []int{0, 1, 2}, got, "an idle fleet is used round-robin")
	p.release(1)
	require.Equal(t, 1, p.acquire(), "the least busy daemon gets the next entry")
	p.release(0)
	p.release(2)
	require.Equal(t, 2, p.acquire(), "ties go round-robin after the last pick")
	require.Equal(t, 0, p.acquire())
	require.Equal(t, []int{1, 1, 1}, p.busy)
}
