package inputerr

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestError(t *testing.T) {
	two := New(func(n func(string) string) string { return "pass " + n("a") + " or " + n("b") }, fs.ErrExist, "a", "b")
	tests := []struct {
		name     string
		err      *Error
		lib, cli string
		fields   []string
		sentinel error
	}{
		{"two fields, one renamed", two, "pass a or b", "pass --a or b", []string{"a", "b"}, fs.ErrExist},
		{"field value", Field("jobs", "0", errors.New("give at least 1")), "jobs 0: give at least 1", "--a 0: give at least 1", []string{"jobs"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.lib, tt.err.Error())
			require.Equal(t, tt.cli, tt.err.Render(func(f string) string {
				if f == "a" || f == "jobs" {
					return "--a"
				}
				return ""
			}))
			require.Equal(t, tt.fields, tt.err.Fields)
			var got *Error
			require.ErrorAs(t, fmt.Errorf("wrapped: %w", tt.err), &got)
			require.Same(t, tt.err, got)
			if tt.sentinel != nil {
				require.ErrorIs(t, tt.err, tt.sentinel)
			}
		})
	}
}
