package hakgal

import (
	"context"
	"strconv"
)

// Iterator walks every item of a paged answer, fetching the next page
// when the current one is used up:
//
//	it := kb.QueryAll(ctx, "HasPart(?x, ?y)", 500)
//	for it.Next() {
//		f := it.Value()
//	}
//	if err := it.Err(); err != nil { ... }
type Iterator[T any] struct {
	ctx    context.Context
	fetch  func(ctx context.Context, cursor string) ([]T, string, error)
	buf    []T    // the current page
	pos    int    // next index in buf
	cursor string // the next page's cursor; "" after the last page
	done   bool   // no page left to fetch
	cur    T
	err    error
}

func newIterator[T any](ctx context.Context,
	fetch func(ctx context.Context, cursor string) ([]T, string, error)) *Iterator[T] {
	return &Iterator[T]{ctx: ctx, fetch: fetch}
}

// Next advances to the next item; false at the end or on an error.
func (it *Iterator[T]) Next() bool {
	for it.pos >= len(it.buf) {
		if it.done || it.err != nil {
			return false
		}
		items, next, err := it.fetch(it.ctx, it.cursor)
		if err != nil {
			it.err = err
			return false
		}
		it.buf, it.pos, it.cursor = items, 0, next
		it.done = next == ""
	}
	it.cur = it.buf[it.pos]
	it.pos++
	return true
}

// Value is the current item.
func (it *Iterator[T]) Value() T { return it.cur }

// Err is the error that ended the iteration, if any.
func (it *Iterator[T]) Err() error { return it.err }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// QueryAll iterates over every fact matching a pattern.
func (c *Client) QueryAll(ctx context.Context, pattern string, pageSize int) *Iterator[Fact] {
	return newIterator(ctx, func(ctx context.Context, cur string) ([]Fact, string, error) {
		p, err := c.Query(ctx, pattern, pageSize, cur)
		return p.Facts, deref(p.NextCursor), err
	})
}

// QueryRowsAll iterates over every row of a multi-pattern query.
func (c *Client) QueryRowsAll(ctx context.Context, query string, pageSize int) *Iterator[Row] {
	return newIterator(ctx, func(ctx context.Context, cur string) ([]Row, string, error) {
		p, err := c.QueryRows(ctx, query, pageSize, cur)
		return p.Rows, deref(p.NextCursor), err
	})
}

// EntityFacts iterates over every fact mentioning an entity.
func (c *Client) EntityFacts(ctx context.Context, name string, pageSize int) *Iterator[Fact] {
	return newIterator(ctx, func(ctx context.Context, cur string) ([]Fact, string, error) {
		p, err := c.Entity(ctx, name, pageSize, cur)
		return p.Facts, deref(p.NextCursor), err
	})
}

// AuditAll iterates over the whole audit log, newest first.
func (c *Client) AuditAll(ctx context.Context, pageSize int) *Iterator[AuditEntry] {
	return newIterator(ctx, func(ctx context.Context, cur string) ([]AuditEntry, string, error) {
		var before int64
		if cur != "" {
			before, _ = strconv.ParseInt(cur, 10, 64)
		}
		p, err := c.Audit(ctx, pageSize, before)
		next := ""
		if p.NextBefore != nil {
			next = strconv.FormatInt(*p.NextBefore, 10)
		}
		return p.Entries, next, err
	})
}
