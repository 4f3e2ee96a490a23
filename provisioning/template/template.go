// Package template loads instance plans (templates/*.yaml) and renders a plan and an
// instance into a provisioning.Spec. Loading checks every field and reports all problems
// at once, each with its file, line and field path.
package template

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sproudstack/sproudchat/provisioning"
)

// Plan is a validated plan: what every instance of it gets.
type Plan struct {
	Name        string
	DisplayName string
	File        string
	App         provisioning.AppSpec // Image may hold {version}
	Database    provisioning.DatabaseSpec
	Lifecycle   Lifecycle
}

// Lifecycle holds the plan's time rules, read by the control plane.
type Lifecycle struct {
	ReadOnlyDays        int // how long a suspended instance stays readable before purge
	BackupRetentionDays int
}

// ErrPlan is wrapped by every load error.
var ErrPlan = errors.New("invalid plan")

// LoadError lists every problem found, "file:line: field: message" each.
type LoadError struct{ Problems []string }

func (e *LoadError) Error() string {
	return "invalid plan: " + strings.Join(e.Problems, "\n  ")
}

// Unwrap makes errors.Is(err, ErrPlan) true.
func (e *LoadError) Unwrap() error { return ErrPlan }

// schema lists the fields a plan may have; nested maps are sections.
var schema = map[string]any{
	"name": nil, "display_name": nil,
	"app":       map[string]any{"image": nil, "memory": nil, "cpus": nil, "pids": nil, "attachment_quota": nil},
	"database":  map[string]any{"kind": nil, "image": nil, "memory": nil, "cpus": nil, "pids": nil},
	"lifecycle": map[string]any{"read_only_days": nil, "backup_retention_days": nil},
}

// LoadDir loads every *.yaml file of dir. Returns a *LoadError naming every problem of
// every file, or the plans by name.
func LoadDir(dir string) (map[string]Plan, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("list plans in %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, &LoadError{Problems: []string{dir + ": no *.yaml plan files"}}
	}
	plans := map[string]Plan{}
	var all []string
	for _, f := range files {
		p, err := LoadFile(f)
		var le *LoadError
		if errors.As(err, &le) {
			all = append(all, le.Problems...)
			continue
		} else if err != nil {
			return nil, err
		}
		if prev, ok := plans[p.Name]; ok {
			all = append(all, fmt.Sprintf("%s: name: %q is also the name of %s", filepath.Base(f), p.Name, filepath.Base(prev.File)))
			continue
		}
		plans[p.Name] = p
	}
	if len(all) > 0 {
		return nil, &LoadError{Problems: all}
	}
	return plans, nil
}

// LoadFile loads one plan. Returns a *LoadError naming every problem.
func LoadFile(path string) (Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Plan{}, fmt.Errorf("read plan %s: %w", path, err)
	}
	return Parse(filepath.Base(path), b)
}

// Parse checks and converts the YAML of one plan; file names it in messages.
func Parse(file string, data []byte) (Plan, error) {
	c := &checker{file: file, values: map[string]*yaml.Node{}}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return Plan{}, &LoadError{Problems: []string{fmt.Sprintf("%s: %v", file, err)}}
	}
	if len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return Plan{}, &LoadError{Problems: []string{file + ": a plan is a YAML mapping"}}
	}
	c.walk(root.Content[0], "", schema)
	p := Plan{File: file}
	p.Name = c.str("name", true)
	if p.Name != "" && !regexp.MustCompile(`^[a-z][a-z0-9-]{1,30}$`).MatchString(p.Name) {
		c.fail("name", "must be 2-31 lower-case letters, digits or hyphens")
	}
	if want := strings.TrimSuffix(file, filepath.Ext(file)); p.Name != "" && p.Name != want {
		c.fail("name", fmt.Sprintf("%q must match the file name %q", p.Name, want))
	}
	p.DisplayName = c.str("display_name", true)
	p.App.Image = c.str("app.image", true)
	p.App.Resources = c.resources("app", true)
	p.App.AttachmentQuotaBytes = c.bytes("app.attachment_quota", true)
	p.Database.Kind = provisioning.DatabaseKind(c.str("database.kind", true))
	switch p.Database.Kind {
	case provisioning.SQLite:
		for _, f := range []string{"image", "memory", "cpus", "pids"} {
			if c.values["database."+f] != nil {
				c.fail("database."+f, "applies only to kind postgres")
			}
		}
	case provisioning.Postgres:
		p.Database.Image = c.str("database.image", true)
		p.Database.Resources = c.resources("database", true)
	case "":
	default:
		c.fail("database.kind", fmt.Sprintf("%q must be sqlite or postgres", p.Database.Kind))
	}
	p.Lifecycle.ReadOnlyDays = int(c.integer("lifecycle.read_only_days", 1, 365, 30))
	p.Lifecycle.BackupRetentionDays = int(c.integer("lifecycle.backup_retention_days", 1, 3650, 90))
	if len(c.problems) > 0 {
		return Plan{}, &LoadError{Problems: c.problems}
	}
	return p, nil
}

type checker struct {
	file     string
	values   map[string]*yaml.Node // leaf path → node
	problems []string
}

func (c *checker) fail(path, msg string) {
	line := 0
	if n := c.values[path]; n != nil {
		line = n.Line
	}
	loc := c.file
	if line > 0 {
		loc += ":" + strconv.Itoa(line)
	}
	c.problems = append(c.problems, fmt.Sprintf("%s: %s: %s", loc, path, msg))
}

// walk records every leaf by its dotted path and reports fields the schema lacks.
func (c *checker) walk(n *yaml.Node, prefix string, sch map[string]any) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		path := prefix + k.Value
		sub, known := sch[k.Value]
		switch {
		case !known:
			c.problems = append(c.problems, fmt.Sprintf("%s:%d: %s: unknown field", c.file, k.Line, path))
		case sub != nil:
			if v.Kind != yaml.MappingNode {
				c.problems = append(c.problems, fmt.Sprintf("%s:%d: %s: must be a mapping", c.file, v.Line, path))
				continue
			}
			c.walk(v, path+".", sub.(map[string]any))
		case v.Kind != yaml.ScalarNode:
			c.problems = append(c.problems, fmt.Sprintf("%s:%d: %s: must be a single value", c.file, v.Line, path))
		default:
			if _, dup := c.values[path]; dup {
				c.problems = append(c.problems, fmt.Sprintf("%s:%d: %s: given twice", c.file, k.Line, path))
			}
			c.values[path] = v
		}
	}
}

func (c *checker) str(path string, required bool) string {
	n := c.values[path]
	if n == nil || strings.TrimSpace(n.Value) == "" {
		if required {
			c.problems = append(c.problems, fmt.Sprintf("%s: %s: is required", c.file, path))
		}
		return ""
	}
	return strings.TrimSpace(n.Value)
}

func (c *checker) integer(path string, lo, hi, def int64) int64 {
	s := c.str(path, false)
	if s == "" {
		return def
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < lo || v > hi {
		c.fail(path, fmt.Sprintf("%q must be a whole number from %d to %d", s, lo, hi))
		return def
	}
	return v
}

var quantity = regexp.MustCompile(`^(\d+)(Ki|Mi|Gi|Ti|K|M|G|T)?$`)

// bytes parses 512Mi, 2Gi, 1G or a plain number of bytes; it must be positive.
func (c *checker) bytes(path string, required bool) int64 {
	s := c.str(path, required)
	if s == "" {
		return 0
	}
	m := quantity.FindStringSubmatch(s)
	if m == nil {
		c.fail(path, fmt.Sprintf("%q must be a positive size such as 256Mi or 2Gi", s))
		return 0
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	mult := map[string]int64{"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}[m[2]]
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		c.fail(path, fmt.Sprintf("%q must be a positive size such as 256Mi or 2Gi", s))
		return 0
	}
	return n * mult
}

func (c *checker) resources(section string, required bool) provisioning.Resources {
	r := provisioning.Resources{MemoryBytes: c.bytes(section+".memory", required)}
	if r.MemoryBytes > 0 && r.MemoryBytes < 32<<20 {
		c.fail(section+".memory", "must be at least 32Mi")
	}
	if s := c.str(section+".cpus", required); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0.05 || f > 64 {
			c.fail(section+".cpus", fmt.Sprintf("%q must be a number of cores from 0.05 to 64", s))
		}
		r.MilliCPUs = int64(math.Round(f * 1000))
	}
	r.PIDs = c.integer(section+".pids", 16, 65536, 256)
	return r
}

// Instance is what the control plane knows of one instance.
type Instance struct {
	ID, Slug      string
	Mode          provisioning.Mode
	ReadOnlyUntil time.Time
	BaseURL       string
	Secrets       map[string]string
}

// Options of rendering.
type Options struct {
	Version string // replaces {version} in images
}

// Render makes the spec of inst on plan p. Returns an error wrapping
// provisioning.ErrInvalid when the result is not a valid spec.
func (p Plan) Render(inst Instance, o Options) (provisioning.Spec, error) {
	s := provisioning.Spec{
		ID: inst.ID, Slug: inst.Slug, Mode: inst.Mode, ReadOnlyUntil: inst.ReadOnlyUntil, BaseURL: inst.BaseURL,
		App: p.App, Database: p.Database, Secrets: map[string]string{},
	}
	if s.Mode == "" {
		s.Mode = provisioning.ModeActive
	}
	s.App.Image = strings.ReplaceAll(s.App.Image, "{version}", o.Version)
	s.Database.Image = strings.ReplaceAll(s.Database.Image, "{version}", o.Version)
	keys := make([]string, 0, len(inst.Secrets))
	for k := range inst.Secrets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s.Secrets[k] = inst.Secrets[k]
	}
	if err := s.Validate(); err != nil {
		return provisioning.Spec{}, fmt.Errorf("render plan %s for %s: %w", p.Name, inst.Slug, err)
	}
	return s, nil
}
