package hdf5

import (
	"sort"
	"strings"
)

// ObjectKind classifies a group member.
type ObjectKind int

// Member kinds.
const (
	KindUnknown ObjectKind = iota
	KindGroup
	KindDataset
	KindDatatype // committed (named) datatype
	KindSoftLink
	KindExternalLink
)

func (k ObjectKind) String() string {
	return [...]string{"unknown", "group", "dataset", "datatype", "soft link", "external link"}[k]
}

// Link types.
const (
	linkHard     = 0
	linkSoft     = 1
	linkExternal = 64
)

// Link describes one group member as stored in the file.
type Link struct {
	Name     string
	Type     ObjectKind // KindSoftLink, KindExternalLink, or KindUnknown for hard links
	Target   string     // soft link path, or external object path
	File     string     // external link file name
	addr     uint64
	order    int64
	hasOrder bool
}

// Group is an HDF5 group.
type Group struct {
	f     *File
	path  string
	addr  uint64
	links []Link
	// whether links carry creation order
	ordered bool
	loaded  bool
}

// Name returns the full path of the group.
func (g *Group) Name() string { return g.path }

// File returns the file containing the group.
func (g *Group) File() *File { return g.f }

func joinPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

type cachedLinks struct {
	links   []Link
	ordered bool
}

func (g *Group) load() error {
	if g.loaded {
		return nil
	}
	if c, ok := g.f.linkCache[g.addr]; ok {
		g.links, g.ordered, g.loaded = c.links, c.ordered, true
		return nil
	}
	oh, err := g.f.objectHeader(g.addr)
	if err != nil {
		return err
	}
	links, ordered, err := g.f.readLinks(oh)
	if err != nil {
		return err
	}
	sort.Slice(links, func(i, j int) bool { return links[i].Name < links[j].Name })
	g.links, g.ordered, g.loaded = links, ordered, true
	g.f.linkCache[g.addr] = &cachedLinks{links, ordered}
	return nil
}

func (f *File) readLinks(oh *objectHeader) ([]Link, bool, error) {
	var links []Link
	ordered := false
	for i := range oh.msgs {
		m := &oh.msgs[i]
		switch m.typ {
		case msgSymbolTable:
			d := newDecoder(m.data, f)
			bt := d.addr()
			hp := d.addr()
			if d.err != nil {
				return nil, false, formatErr("symbol table message", oh.addr, "truncated")
			}
			heap, err := f.localHeap(hp)
			if err != nil {
				return nil, false, err
			}
			ents, err := f.groupSymbols(bt)
			if err != nil {
				return nil, false, err
			}
			for _, e := range ents {
				if e.nameOff >= uint64(len(heap)) {
					return nil, false, formatErr("symbol table", bt, "name offset beyond local heap")
				}
				l := Link{Name: cstr(heap[e.nameOff:]), addr: e.ohAddr}
				if e.cacheType == 2 && len(e.scratch) >= 4 {
					// soft link: scratch pad holds the heap offset of its value
					off := uint64(e.scratch[0]) | uint64(e.scratch[1])<<8 | uint64(e.scratch[2])<<16 | uint64(e.scratch[3])<<24
					if off >= uint64(len(heap)) {
						return nil, false, formatErr("symbol table", bt, "soft link value beyond local heap")
					}
					l.Type, l.Target, l.addr = KindSoftLink, cstr(heap[off:]), undefAddr
				}
				links = append(links, l)
			}
		case msgLink:
			l, err := parseLink(m.data, f)
			if err != nil {
				return nil, false, err
			}
			links = append(links, l)
		case msgLinkInfo:
			d := newDecoder(m.data, f)
			d.u8()
			flags := d.u8()
			if flags&1 != 0 {
				ordered = true
				d.u64()
			}
			heapAddr := d.addr()
			nameBT := d.addr()
			if d.err != nil {
				return nil, false, formatErr("link info message", oh.addr, "truncated")
			}
			if heapAddr == undefAddr || nameBT == undefAddr {
				continue
			}
			dl, err := f.denseLinks(heapAddr, nameBT)
			if err != nil {
				return nil, false, err
			}
			links = append(links, dl...)
		}
	}
	if ordered {
		for _, l := range links {
			if !l.hasOrder {
				ordered = false
			}
		}
	}
	return links, ordered, nil
}

// openDenseIndex opens the fractal heap and the v2 B-tree name index (of
// record type typ) of dense link or attribute storage.
func (f *File) openDenseIndex(heapAddr, btAddr uint64, typ int, what string) (*fractalHeap, *btree2, error) {
	h, err := f.openFractalHeap(heapAddr)
	if err != nil {
		return nil, nil, err
	}
	t, err := f.openBTree2(btAddr)
	if err != nil {
		return nil, nil, err
	}
	if t.typ != typ {
		return nil, nil, formatErr(what, btAddr, "unexpected record type %d", t.typ)
	}
	return h, t, nil
}

func (f *File) denseLinks(heapAddr, btAddr uint64) ([]Link, error) {
	h, t, err := f.openDenseIndex(heapAddr, btAddr, bt2LinkName, "link name index")
	if err != nil {
		return nil, err
	}
	var links []Link
	err = t.each(func(rec []byte) error {
		if len(rec) < 4+h.idLen && len(rec) < 11 {
			return formatErr("link name index", btAddr, "record too short")
		}
		id := rec[4:]
		obj, err := h.get(id)
		if err != nil {
			return err
		}
		l, err := parseLink(obj, f)
		if err != nil {
			return err
		}
		links = append(links, l)
		return nil
	})
	return links, err
}

func parseLink(b []byte, f *File) (Link, error) {
	const what = "link message"
	d := newDecoder(b, f)
	var l Link
	if v := d.u8(); v != 1 {
		return l, formatErr(what, 0, "unknown version %d", v)
	}
	flags := d.u8()
	typ := uint8(linkHard)
	if flags&0x08 != 0 {
		typ = d.u8()
	}
	if flags&0x04 != 0 {
		l.order = int64(d.u64())
		l.hasOrder = true
	}
	if flags&0x10 != 0 {
		d.u8()
	}
	n := d.uvar(1 << (flags & 3))
	if n > uint64(d.remaining()) {
		return l, formatErr(what, 0, "name length overruns message")
	}
	l.Name = string(d.bytes(int(n)))
	switch typ {
	case linkHard:
		l.addr = d.addr()
	case linkSoft:
		n := d.u16()
		l.Type = KindSoftLink
		l.Target = string(d.bytes(int(n)))
	case linkExternal:
		n := d.u16()
		v := d.bytes(int(n))
		l.Type = KindExternalLink
		if len(v) > 1 {
			dd := newDecoder(v[1:], nil)
			l.File = dd.cstring()
			l.Target = dd.cstring()
		}
	default:
		l.Type = KindUnknown
		l.addr = undefAddr
	}
	if d.err != nil {
		return l, formatErr(what, 0, "truncated")
	}
	if l.Name == "" || strings.Contains(l.Name, "/") {
		return l, formatErr(what, 0, "invalid link name %q", l.Name)
	}
	return l, nil
}

// Links returns the group's links in name order.
func (g *Group) Links() ([]Link, error) {
	if err := g.load(); err != nil {
		return nil, err
	}
	return append([]Link(nil), g.links...), nil
}

// Members returns member names in name order.
func (g *Group) Members() ([]string, error) {
	if err := g.load(); err != nil {
		return nil, err
	}
	out := make([]string, len(g.links))
	for i, l := range g.links {
		out[i] = l.Name
	}
	return out, nil
}

// MembersCreationOrder returns member names in creation order when the
// group tracks it, otherwise in name order.
func (g *Group) MembersCreationOrder() ([]string, error) {
	if err := g.load(); err != nil {
		return nil, err
	}
	ls := append([]Link(nil), g.links...)
	if g.ordered {
		sort.SliceStable(ls, func(i, j int) bool { return ls[i].order < ls[j].order })
	}
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Name
	}
	return out, nil
}

func (g *Group) link(name string) (*Link, error) {
	if err := g.load(); err != nil {
		return nil, err
	}
	i := sort.Search(len(g.links), func(i int) bool { return g.links[i].Name >= name })
	if i < len(g.links) && g.links[i].Name == name {
		return &g.links[i], nil
	}
	return nil, &NotFoundError{Where: g.path, Name: name}
}

// resolve follows a slash-separated path of hard links to its last
// component's parent group and link.
func (g *Group) resolve(path string) (*Group, *Link, error) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	cur := g
	if strings.HasPrefix(path, "/") {
		cur = g.f.Root()
	}
	for i, p := range parts {
		if p == "" || p == "." {
			continue
		}
		l, err := cur.link(p)
		if err != nil {
			return nil, nil, err
		}
		if i == len(parts)-1 {
			return cur, l, nil
		}
		if l.Type != KindUnknown {
			return nil, nil, unsupported("following %s %q", l.Type, joinPath(cur.path, p))
		}
		cur = &Group{f: g.f, path: joinPath(cur.path, p), addr: l.addr}
	}
	return nil, nil, &NotFoundError{Where: g.path, Name: path}
}

// resolveHard resolves path to a hard link, also returning the member's
// full path; soft and external links are not followed.
func (g *Group) resolveHard(path string) (*Group, *Link, string, error) {
	parent, l, err := g.resolve(path)
	if err != nil {
		return nil, nil, "", err
	}
	p := joinPath(parent.path, l.Name)
	if l.Type != KindUnknown {
		return nil, nil, "", unsupported("following %s %q", l.Type, p)
	}
	return parent, l, p, nil
}

func (f *File) kindAt(addr uint64) (ObjectKind, error) {
	oh, err := f.objectHeader(addr)
	if err != nil {
		return KindUnknown, err
	}
	if oh.find(msgLayout) != nil || oh.find(msgDataspace) != nil {
		return KindDataset, nil
	}
	if oh.find(msgSymbolTable) != nil || oh.find(msgLinkInfo) != nil || oh.find(msgLink) != nil ||
		oh.find(msgGroupInfo) != nil {
		return KindGroup, nil
	}
	if oh.find(msgDatatype) != nil {
		return KindDatatype, nil
	}
	return KindGroup, nil
}

// Kind reports what the named member (a path is allowed) is.
func (g *Group) Kind(name string) (ObjectKind, error) {
	parent, l, err := g.resolve(name)
	if err != nil {
		return KindUnknown, err
	}
	if l.Type != KindUnknown {
		return l.Type, nil
	}
	_ = parent
	return g.f.kindAt(l.addr)
}

// Group opens a subgroup; name may be a path such as "a/b/c".
func (g *Group) Group(name string) (*Group, error) {
	parent, l, p, err := g.resolveHard(name)
	if err != nil {
		return nil, err
	}
	k, err := g.f.kindAt(l.addr)
	if err != nil {
		return nil, err
	}
	if k != KindGroup {
		return nil, &NotFoundError{Where: parent.path, Name: l.Name + " (not a group: " + k.String() + ")"}
	}
	return &Group{f: g.f, path: p, addr: l.addr}, nil
}

// Dataset opens a dataset; name may be a path.
func (g *Group) Dataset(name string) (*Dataset, error) {
	_, l, p, err := g.resolveHard(name)
	if err != nil {
		return nil, err
	}
	return g.f.openDataset(l.addr, p)
}

// Attrs lists the group's attribute names (name order).
func (g *Group) Attrs() ([]string, error) { return g.f.attrNames(g.addr) }

// Attr reads an attribute value (see Dataset.Attr for the Go types).
func (g *Group) Attr(name string) (any, error) { return g.f.attrValue(g.addr, g.path, name) }

// Attribute returns an attribute with its shape and type.
func (g *Group) Attribute(name string) (*Attribute, error) {
	return g.f.attribute(g.addr, g.path, name)
}

// Walk visits every object reachable from g through hard links (depth
// first, name order), each once, calling fn with the full path and the
// object kind. Soft and external links are reported but not followed.
func (g *Group) Walk(fn func(path string, kind ObjectKind) error) error {
	seen := map[uint64]bool{g.addr: true}
	return g.walk(seen, fn, 0)
}

func (g *Group) walk(seen map[uint64]bool, fn func(string, ObjectKind) error, depth int) error {
	if depth > 256 {
		return formatErr("group", g.addr, "hierarchy too deep")
	}
	links, err := g.Links()
	if err != nil {
		return err
	}
	for _, l := range links {
		p := joinPath(g.path, l.Name)
		if l.Type != KindUnknown {
			if err := fn(p, l.Type); err != nil {
				return err
			}
			continue
		}
		if seen[l.addr] {
			continue
		}
		seen[l.addr] = true
		k, err := g.f.kindAt(l.addr)
		if err != nil {
			return err
		}
		if err := fn(p, k); err != nil {
			return err
		}
		if k == KindGroup {
			sub := &Group{f: g.f, path: p, addr: l.addr}
			if err := sub.walk(seen, fn, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}
