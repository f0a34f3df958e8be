// Command vendor-metorial refreshes build/mirror/testdata/metorial from a
// git checkout (or bare git dir) of github.com/metorial/mcp-containers: the
// LICENSE, every catalog manifest.json and, per server, only the newest
// versions/<sha>/version.json by its createdAt, all byte for byte at their
// real paths. It reads the repository with git, so a bare mirror works.
//
//	go run ./hack/vendor-metorial -repo /path/to/mcp-containers -out build/mirror/testdata/metorial
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

func main() {
	repo := flag.String("repo", "", "git dir or checkout of metorial/mcp-containers")
	out := flag.String("out", "build/mirror/testdata/metorial", "folder to write (its catalog/ is replaced)")
	rev := flag.String("rev", "HEAD", "commit to vendor")
	flag.Parse()
	if *repo == "" {
		fmt.Fprintln(os.Stderr, "vendor-metorial: -repo is required (a clone of github.com/metorial/mcp-containers)")
		os.Exit(2)
	}
	if err := run(*repo, *out, *rev); err != nil {
		fmt.Fprintln(os.Stderr, "vendor-metorial:", err)
		os.Exit(1)
	}
}

func run(repo, out, rev string) error {
	commit, err := git(repo, "rev-parse", rev+"^{commit}")
	if err != nil {
		return err
	}
	rev = strings.TrimSpace(string(commit))
	list, err := git(repo, "ls-tree", "-r", "-z", "--name-only", rev, "--", "catalog", "LICENSE")
	if err != nil {
		return err
	}
	keep := []string{}
	var versions []string
	skipped := 0
	for _, p := range strings.Split(strings.TrimRight(string(list), "\x00"), "\x00") {
		switch {
		case p == "LICENSE", path.Base(p) == "manifest.json":
			keep = append(keep, p)
		case path.Base(p) == "version.json" && path.Base(path.Dir(path.Dir(p))) == "versions":
			if strings.ContainsAny(p, "\n\r") {
				// One real version sits under a directory whose name holds a
				// newline; such a path cannot be committed sanely, so skip it.
				skipped++
				continue
			}
			versions = append(versions, p)
		}
	}
	blobs, err := catFiles(repo, rev, versions)
	if err != nil {
		return err
	}
	newest := map[string]string{}      // server dir -> path of its newest version.json
	newestAt := map[string]time.Time{} // server dir -> that file's createdAt
	for i, p := range versions {
		var v struct {
			CreatedAt time.Time `json:"createdAt"`
		}
		if err := json.Unmarshal(blobs[i], &v); err != nil {
			return fmt.Errorf("reading createdAt of %s: %w", p, err)
		}
		dir := path.Dir(path.Dir(path.Dir(p)))
		if prev, ok := newestAt[dir]; !ok || v.CreatedAt.After(prev) || (v.CreatedAt.Equal(prev) && p > newest[dir]) {
			newest[dir], newestAt[dir] = p, v.CreatedAt
		}
	}
	for _, p := range newest {
		keep = append(keep, p)
	}
	slices.Sort(keep)
	if err := os.RemoveAll(filepath.Join(out, "catalog")); err != nil {
		return err
	}
	for _, p := range keep {
		data, err := git(repo, "show", rev+":"+p)
		if err != nil {
			return err
		}
		dst := filepath.Join(out, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return err
		}
	}
	date, err := git(repo, "show", "-s", "--format=%cI", rev)
	if err != nil {
		return err
	}
	fmt.Printf("vendored metorial/mcp-containers %s (%s): %d files, %d newest versions, %d odd version paths skipped\n",
		rev, strings.TrimSpace(string(date)), len(keep), len(newest), skipped)
	return nil
}

// catFiles reads many blobs with one git process.
func catFiles(repo, rev string, paths []string) ([][]byte, error) {
	var in bytes.Buffer
	for _, p := range paths {
		fmt.Fprintf(&in, "%s:%s\n", rev, p)
	}
	cmd := exec.Command("git", "--git-dir", gitDir(repo), "cat-file", "--batch")
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git cat-file: %w", err)
	}
	blobs := make([][]byte, 0, len(paths))
	for range paths {
		// Each answer is "<oid> blob <size>\n<content>\n".
		nl := bytes.IndexByte(out, '\n')
		var oid, typ string
		var size int
		if _, err := fmt.Sscanf(string(out[:nl]), "%s %s %d", &oid, &typ, &size); err != nil || typ != "blob" {
			return nil, fmt.Errorf("git cat-file: unexpected answer %q", out[:nl])
		}
		blobs = append(blobs, out[nl+1:nl+1+size])
		out = out[nl+1+size+1:]
	}
	return blobs, nil
}

func git(repo string, args ...string) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.Command("git", append([]string{"--git-dir", gitDir(repo)}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// gitDir accepts a bare git dir or a working checkout.
func gitDir(repo string) string {
	if fi, err := os.Stat(filepath.Join(repo, ".git")); err == nil && fi.IsDir() {
		return filepath.Join(repo, ".git")
	}
	return repo
}
