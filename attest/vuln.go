package attest

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Predicate types of the attestations a vulnerability scan leaves on an
// image; they are the ones `cosign attest --type vuln|openvex|spdxjson|
// cyclonedx` writes, so cosign and admission controllers read them.
const (
	PredicateVuln      = "https://cosign.sigstore.dev/attestation/vuln/v1"
	PredicateOpenVEX   = "https://openvex.dev/ns"
	PredicateSPDX      = "https://spdx.dev/Document"
	PredicateCycloneDX = "https://cyclonedx.org/bom"
)

// Severity ranks a vulnerability. An advisory that states no severity (as
// most distribution advisories do) is SeverityUnknown, which ranks below
// low: a limit of "unknown" refuses every finding, any other limit lets
// such findings through (they are still listed).
type Severity int

// Severities, lowest first.
const (
	SeverityNone Severity = iota
	SeverityUnknown
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = map[Severity]string{
	SeverityNone: "none", SeverityUnknown: "unknown", SeverityLow: "low",
	SeverityMedium: "medium", SeverityHigh: "high", SeverityCritical: "critical",
}

// String returns the lowercase name used in flags, floors and predicates.
func (s Severity) String() string {
	if n, ok := severityNames[s]; ok {
		return n
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// ParseSeverity reads a severity name (case-insensitive; "moderate", as
// GitHub advisories say, is medium).
func ParseSeverity(s string) (Severity, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "none":
		return SeverityNone, nil
	case "unknown":
		return SeverityUnknown, nil
	case "low":
		return SeverityLow, nil
	case "medium", "moderate":
		return SeverityMedium, nil
	case "high":
		return SeverityHigh, nil
	case "critical":
		return SeverityCritical, nil
	}
	return SeverityNone, fmt.Errorf("unknown severity %q: use low, medium, high or critical", s)
}

// MarshalText writes the severity's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// AtLeast reports whether s reaches limit.
func (s Severity) AtLeast(limit Severity) bool { return s >= limit }

// VulnPredicate is cosign's vulnerability attestation predicate
// (`cosign attest --type vuln`), with drydock's scan result as its
// scanner result.
type VulnPredicate struct {
	Invocation VulnInvocation `json:"invocation"`
	Scanner    VulnScanner    `json:"scanner"`
	Metadata   VulnMetadata   `json:"metadata"`
}

// VulnInvocation says what ran the scan.
type VulnInvocation struct {
	Parameters any    `json:"parameters"`
	URI        string `json:"uri"`
	EventID    string `json:"event_id"`
	BuilderID  string `json:"builder.id"`
}

// VulnScanner names the scanner, its database and its result.
type VulnScanner struct {
	URI     string     `json:"uri"`
	Version string     `json:"version"`
	DB      VulnDB     `json:"db"`
	Result  VulnResult `json:"result"`
}

// VulnDB names the vulnerability database a scan used.
type VulnDB struct {
	URI     string `json:"uri"`
	Version string `json:"version"`
}

// VulnMetadata holds when the scan ran.
type VulnMetadata struct {
	ScanStartedOn  time.Time `json:"scanStartedOn"`
	ScanFinishedOn time.Time `json:"scanFinishedOn"`
}

// VulnResult is what a scan found: every finding, the ones a VEX
// statement suppressed listed apart (never dropped), and how many
// packages were matched.
type VulnResult struct {
	Packages   int           `json:"packages"`
	Findings   []VulnFinding `json:"findings"`
	Suppressed []VulnFinding `json:"suppressed"`
}

// VulnFinding is one advisory that affects one package of the image.
type VulnFinding struct {
	ID        string   `json:"id"`
	Aliases   []string `json:"aliases,omitempty"`
	Summary   string   `json:"summary,omitempty"`
	Severity  Severity `json:"severity"`
	Package   string   `json:"package"`
	Version   string   `json:"version"`
	PURL      string   `json:"purl,omitempty"`
	Ecosystem string   `json:"ecosystem"`
	FixedIn   string   `json:"fixedIn,omitempty"`
	// Status and Justification are the VEX statement that suppressed the
	// finding (only in VulnResult.Suppressed).
	Status        string `json:"status,omitempty"`
	Justification string `json:"justification,omitempty"`
}

// Worst returns the most severe unsuppressed finding, or nil when there
// is none.
func (r *VulnResult) Worst() *VulnFinding {
	var w *VulnFinding
	for i := range r.Findings {
		f := &r.Findings[i]
		if w == nil || f.Severity > w.Severity {
			w = f
		}
	}
	return w
}

// Counts returns how many unsuppressed findings there are per severity
// name.
func (r *VulnResult) Counts() map[string]int {
	c := map[string]int{}
	for _, f := range r.Findings {
		c[f.Severity.String()]++
	}
	return c
}

// Over returns the worst unsuppressed finding if it reaches limit, else
// nil.
func (r *VulnResult) Over(limit Severity) *VulnFinding {
	if w := r.Worst(); w != nil && w.Severity.AtLeast(limit) {
		return w
	}
	return nil
}

// ParseVulnPredicate decodes a vulnerability predicate.
func ParseVulnPredicate(raw json.RawMessage) (*VulnPredicate, error) {
	var p VulnPredicate
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("reading the %s predicate: %w", PredicateVuln, err)
	}
	return &p, nil
}
