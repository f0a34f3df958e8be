package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIndexShard(t *testing.T) {
	for _, tc := range []struct{ shard, index, want, err string }{
		{"1/1", "", "1/1", ""},
		{"2/4", "", "2/4", ""},
		{"1/1", "0/4", "1/4", ""},
		{"1/1", "3/4", "4/4", ""},
		{"1/1", "4/4", "", `--index-shard "4/4": want I/N with 0 ≤ I < N, e.g. 0/4`},
		{"1/1", "-1/4", "", `--index-shard "-1/4": want I/N with 0 ≤ I < N, e.g. 0/4`},
		{"1/1", "$(JOB_COMPLETION_INDEX)/4", "", `--index-shard "$(JOB_COMPLETION_INDEX)/4": want I/N with 0 ≤ I < N, e.g. 0/4`},
		{"2/4", "0/4", "", "give --shard or --index-shard, not both"},
	} {
		got, err := zeroBasedShard(&mirrorFlags{shard: tc.shard, indexShard: tc.index})
		if tc.err != "" {
			require.EqualError(t, err, tc.err, tc.index)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}
}
