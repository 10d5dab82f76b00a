package template

import "sync"

// Cache keeps the open renderings of the last few templates and values, so
// that a warm process rendering the same version at every step parses its
// YAML once. Safe for concurrent use; the zero value is ready.
type Cache struct {
	mu      sync.Mutex
	entries map[cacheKey]*Rendered
	order   []cacheKey // oldest first
}

// cacheSize bounds the cache: one rollout opens two versions (canary and
// stable), so eight entries serve a few microservices from one process.
const cacheSize = 8

type cacheKey struct {
	template, namespace, microservice, image, domain string
	version                                          int
}

// Open returns Open(tmpl, v), from the cache when the same template and
// values were opened before. Errors are not kept. The returned rendering is
// shared: take objects from Fill, never modify it.
func (c *Cache) Open(tmpl []byte, v Values) (*Rendered, error) {
	key := cacheKey{string(tmpl), v.Namespace, v.Microservice, v.Image, v.ServiceDomain, v.Version}
	c.mu.Lock()
	r, ok := c.entries[key]
	c.mu.Unlock()
	if ok {
		return r, nil
	}
	r, err := Open(tmpl, v)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if kept, ok := c.entries[key]; ok {
		return kept, nil // opened concurrently; keep one
	}
	if c.entries == nil {
		c.entries = map[cacheKey]*Rendered{}
	}
	if len(c.order) == cacheSize {
		delete(c.entries, c.order[0])
		c.order = append(c.order[:0], c.order[1:]...)
	}
	c.entries[key] = r
	c.order = append(c.order, key)
	return r, nil
}
