package retarget

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// PlanProblem is one problem of a plan, at a line of its YAML file
// (0 when it cannot be placed).
type PlanProblem struct {
	File string
	Line int
	Msg  string
}

func (p PlanProblem) Error() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Msg)
}

// PlanError lists every problem found in a plan.
type PlanError struct {
	Problems []PlanProblem
}

func (e *PlanError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plan: %d problem(s)", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.Error())
	}
	return b.String()
}

type problems struct {
	file string
	list []PlanProblem
}

func (p *problems) add(line int, format string, args ...any) {
	p.list = append(p.list, PlanProblem{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	sort.SliceStable(p.list, func(i, j int) bool { return p.list[i].Line < p.list[j].Line })
	return &PlanError{Problems: p.list}
}

var nodeType = reflect.TypeOf(yaml.Node{})

// decodeStrict decodes n into v, reporting every unknown key and every type
// error with its line; it returns false when the value could not be decoded
// (unknown keys are reported but do not stop the decoding, so that later
// problems are found too).
func (p *problems) decodeStrict(n *yaml.Node, v any) bool {
	p.checkKeys(n, reflect.TypeOf(v))
	if err := n.Decode(v); err != nil {
		if te, ok := err.(*yaml.TypeError); ok {
			for _, e := range te.Errors {
				line, msg := splitLine(e)
				if line == 0 {
					line = n.Line
				}
				p.add(line, "%s", msg)
			}
		} else {
			p.add(n.Line, "%v", err)
		}
		return false
	}
	return true
}

// splitLine separates yaml.v3's "line N: msg".
func splitLine(e string) (int, string) {
	var line int
	if _, err := fmt.Sscanf(e, "line %d:", &line); err == nil {
		if i := strings.Index(e, ": "); i >= 0 {
			return line, e[i+2:]
		}
	}
	return 0, e
}

func (p *problems) checkKeys(n *yaml.Node, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if t == nodeType {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // Decode reports the type mismatch
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "-" || !f.IsExported() {
				continue
			}
			if tag == "" {
				tag = strings.ToLower(f.Name)
			}
			fields[tag] = f.Type
			names = append(names, tag)
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				p.add(k.Line, "unknown key %q (known here: %s)", k.Value, strings.Join(names, ", "))
				continue
			}
			if l, dup := seen[k.Value]; dup {
				p.add(k.Line, "key %q given twice (first on line %d)", k.Value, l)
			}
			seen[k.Value] = k.Line
			p.checkKeys(val, ft)
		}
	case reflect.Slice:
		if n.Kind == yaml.SequenceNode {
			for _, c := range n.Content {
				p.checkKeys(c, t.Elem())
			}
		}
	case reflect.Map:
		if n.Kind == yaml.MappingNode {
			for i := 1; i < len(n.Content); i += 2 {
				p.checkKeys(n.Content[i], t.Elem())
			}
		}
	}
}
