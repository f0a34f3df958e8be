package policies

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

var suffixes = []struct {
	s string
	n int64
}{
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
	{"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
}

// ParseQuantity parses a byte size in Kubernetes' notation ("512Mi", "1G",
// "65536"); drydock's users already write limits that way.
func ParseQuantity(s string) (int64, error) {
	num, mult := s, int64(1)
	for _, suf := range suffixes {
		if strings.HasSuffix(s, suf.s) {
			num, mult = strings.TrimSuffix(s, suf.s), suf.n
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * mult, nil
}

// ParseCPUs parses a decimal CPU count into nano-CPUs, the unit of Docker's
// NanoCpus, without going through floating point.
func ParseCPUs(s string) (int64, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 9 || strings.ContainsAny(s, "+-eE") {
		return 0, fmt.Errorf("%q is not a CPU count", s)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > 1024 {
		return 0, fmt.Errorf("%q is not a CPU count", s)
	}
	// No fraction pads to "000000000", which is 0.
	f, err := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a CPU count", s)
	}
	return w*1e9 + f, nil
}
