// Command livetest is the live test of the Go SDK against a running hakgal
// (driven by tests/e2e/test_sdk_go.py; environment in
// tests/e2e/sdk_live_lib.py). It exits non-zero on the first failed check.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	hakgal "hakgal/sdk/go"
)

func check(cond bool, what string) {
	if !cond {
		fmt.Println("FAIL: " + what)
		os.Exit(1)
	}
	fmt.Println("ok: " + what)
}

func must(err error, what string) {
	if err != nil {
		fmt.Printf("FAIL: %s: %v\n", what, err)
		os.Exit(1)
	}
}

func expectError(err error, status int, code, what string) *hakgal.Error {
	var e *hakgal.Error
	if !errors.As(err, &e) {
		check(false, fmt.Sprintf("%s: want *hakgal.Error, got %v", what, err))
	}
	check(e.Status == status && e.Code == code && e.Message != "",
		fmt.Sprintf("%s -> %d %s (got %d %s: %s)", what, status, code,
			e.Status, e.Code, e.Message))
	return e
}

func f64(v float64) *float64 { return &v }
func str(v string) *string   { return &v }

func main() {
	ctx := context.Background()
	url, token := os.Getenv("HAKGAL_URL"), os.Getenv("HAKGAL_TOKEN")
	readToken, flaky := os.Getenv("HAKGAL_READ_TOKEN"), os.Getenv("HAKGAL_FLAKY_URL")
	check(url != "" && token != "" && readToken != "" && flaky != "", "environment")
	kb := hakgal.New(url, token)

	// add, idempotent add, add by parts with metadata
	r, err := kb.Add(ctx, "HasPart(Computer, CPU)")
	must(err, "add")
	check(r.Created && r.Fact.ID >= 1 && r.Fact.Predicate == "HasPart" &&
		strings.Join(r.Fact.Args, "|") == "Computer|CPU", "add creates a fact")
	again, err := kb.Add(ctx, "HasPart(Computer, CPU)")
	must(err, "add again")
	check(!again.Created && again.Fact.ID == r.Fact.ID, "add is idempotent")
	m, err := kb.AddFact(ctx, hakgal.NewFact{Predicate: "HasPart",
		Args: []string{"Computer", "RAM"}, Confidence: f64(0.9),
		Tags: []string{"hw"}, Source: str("manual")})
	must(err, "add fact")
	check(m.Created && m.Fact.Confidence == 0.9 && len(m.Fact.Tags) == 1 &&
		m.Fact.Source != nil && *m.Fact.Source == "manual",
		"add by predicate and args with metadata")

	// batch with one bad item
	b, err := kb.Batch(ctx, []interface{}{"IsA(Water, Molecule)",
		hakgal.NewFact{Statement: "HasPart(Water, Oxygen)"}, "Broken("})
	must(err, "batch")
	check(b.Count == 3 && b.Created == 2 && b.Failed == 1 &&
		b.Results[2].Error != nil && b.Results[2].Error.Code == "invalid_statement",
		"batch reports the bad item and commits the others")
	items := []interface{}{}
	for i := 0; i < 25; i++ {
		items = append(items, fmt.Sprintf("HasPart(Computer, Part%02d)", i))
	}
	items = append(items, "IsA(Computer, Machine)")
	b, err = kb.Batch(ctx, items)
	must(err, "batch of 26")
	check(b.Created == 26, "batch of 26")

	// escaping: '/', spaces, '%', '&', '?', ',' and non-ASCII in statements,
	// patterns and entity names
	odd, err := kb.Add(ctx, `Uses(TCP/IP stack, "Größe & 100%, ok?")`)
	must(err, "add odd")
	check(strings.Join(odd.Fact.Args, "|") == "TCP/IP stack|Größe & 100%, ok?",
		"quoted and non-ASCII arguments round-trip")
	for _, name := range []string{"TCP/IP stack", "Größe & 100%, ok?"} {
		ep, err := kb.Entity(ctx, name, 0, "")
		must(err, "entity "+name)
		check(ep.FactCount == 1, "entity name with reserved characters is escaped: "+name)
	}
	op, err := kb.Query(ctx, `Uses(?x, "Größe & 100%, ok?")`, 0, "")
	must(err, "odd query")
	check(len(op.Facts) == 1 && op.Bindings[0]["x"] == "TCP/IP stack",
		"patterns with reserved characters are escaped")

	// pattern query with cursors
	page, err := kb.Query(ctx, "HasPart(Computer, ?x)", 7, "")
	must(err, "query")
	check(len(page.Facts) == 7 && page.NextCursor != nil &&
		len(page.Bindings) == 7 && page.Bindings[0]["x"] != "",
		"first page of 7 with a cursor and bindings")
	seen := map[int64]bool{}
	it := kb.QueryAll(ctx, "HasPart(Computer, ?x)", 7)
	for it.Next() {
		seen[it.Value().ID] = true
	}
	must(it.Err(), "QueryAll")
	check(len(seen) == 27, "QueryAll pages through all 27 facts once each")

	// multi-pattern query with cursors
	rows := 0
	rit := kb.QueryRowsAll(ctx, "HasPart(?c, ?p), IsA(?c, Machine)", 10)
	for rit.Next() {
		row := rit.Value()
		check(row.Binding("c") == "Computer" && len(row.Facts) == 2, "row binds c")
		rows++
	}
	must(rit.Err(), "QueryRowsAll")
	check(rows == 27, "multi-pattern QueryRowsAll: 27 rows")

	// get, update (PATCH, PUT), conflict
	f, err := kb.Get(ctx, r.Fact.ID)
	must(err, "get")
	check(f.Statement == "HasPart(Computer, CPU)", "get")
	f, err = kb.Update(ctx, r.Fact.ID, hakgal.Change{Confidence: f64(0.5), Tags: []string{"chip"}})
	must(err, "patch")
	check(f.Confidence == 0.5 && len(f.Tags) == 1 && f.Tags[0] == "chip" &&
		f.Statement == "HasPart(Computer, CPU)", "update metadata (PATCH)")
	f, err = kb.Update(ctx, r.Fact.ID, hakgal.Change{Statement: "HasPart(Computer, GPU)"})
	must(err, "put")
	check(f.ID == r.Fact.ID && f.Statement == "HasPart(Computer, GPU)", "replace statement (PUT)")
	_, err = kb.Update(ctx, r.Fact.ID, hakgal.Change{Statement: "HasPart(Computer, RAM)"})
	e := expectError(err, 409, "conflict", "PUT onto another fact")
	check(e.Detail["existing_id"] == float64(m.Fact.ID), "conflict names the existing id")

	// search, entity, neighbours, paths
	hits, err := kb.Search(ctx, "has part computer", 5, "")
	must(err, "search")
	check(len(hits) > 0 && len(hits) <= 5 && hits[0].Score > 0 &&
		hits[0].Fact.Predicate == "HasPart", "search")
	ent, err := kb.Entity(ctx, "Computer", 10, "")
	must(err, "entity")
	check(ent.Entity == "Computer" && ent.FactCount == 28 && len(ent.Facts) == 10 &&
		ent.NextCursor != nil, "entity page")
	n := 0
	eit := kb.EntityFacts(ctx, "Computer", 10)
	for eit.Next() {
		n++
	}
	must(eit.Err(), "EntityFacts")
	check(n == 28, "EntityFacts pages through 28 facts")
	g, err := kb.Neighbours(ctx, "Water", 0)
	must(err, "neighbours")
	labels := map[string]bool{}
	for _, nd := range g.Nodes {
		labels[nd.Label] = true
		labels[nd.ID] = true
	}
	check(labels["Oxygen"] && labels["Molecule"] && len(g.Edges) > 0, "neighbours of Water")
	ps, err := kb.Paths(ctx, "RAM", "GPU", 4, 0)
	must(err, "paths")
	check(len(ps) >= 1 && ps[0].Nodes[0] == "RAM" &&
		ps[0].Nodes[len(ps[0].Nodes)-1] == "GPU" && len(ps[0].Facts) > 0,
		"path RAM -> Computer -> GPU")

	// audit with pagination
	a, err := kb.Audit(ctx, 2, 0)
	must(err, "audit")
	check(len(a.Entries) == 2 && a.NextBefore != nil && a.Entries[0].Seq > a.Entries[1].Seq,
		"audit page, newest first")
	var prev int64 = -1
	count := 0
	ait := kb.AuditAll(ctx, 2)
	for ait.Next() {
		x := ait.Value()
		check(x.Actor == "sdkw" && (prev < 0 || x.Seq < prev), "audit entry in order")
		prev = x.Seq
		count++
	}
	must(ait.Err(), "AuditAll")
	check(count >= 6, "AuditAll: every entry once, newest first")

	// errors
	_, err = kb.Get(ctx, 999999)
	expectError(err, 404, "not_found", "get of a missing id")
	_, err = kb.Add(ctx, "Broken(")
	e = expectError(err, 400, "invalid_statement", "add of a bad statement")
	_, hasCol := e.Detail["column"]
	check(hasCol, "bad statement error names the column")
	_, err = kb.Query(ctx, "HasPart(", 0, "")
	expectError(err, 400, "invalid_pattern", "bad pattern")
	_, err = kb.Entity(ctx, "NoSuchThing", 0, "")
	expectError(err, 404, "not_found", "missing entity")

	// delete
	d, err := kb.Delete(ctx, m.Fact.ID)
	must(err, "delete")
	check(d.ID == m.Fact.ID && d.Statement == "HasPart(Computer, RAM)", "delete returns the fact")
	_, err = kb.Get(ctx, m.Fact.ID)
	expectError(err, 404, "not_found", "get after delete")
	d, err = kb.DeleteStatement(ctx, "IsA(Water, Molecule)")
	must(err, "delete statement")
	check(d.Statement == "IsA(Water, Molecule)", "delete by statement")

	// auth
	_, err = hakgal.New(url, "").Stats(ctx)
	expectError(err, 401, "unauthorized", "no token")
	_, err = hakgal.New(url, "wrong").Stats(ctx)
	expectError(err, 401, "unauthorized", "unknown token")
	ro := hakgal.New(url, readToken)
	s, err := ro.Stats(ctx)
	must(err, "read stats")
	q, err := ro.Query(ctx, "IsA(?x, ?y)", 0, "")
	must(err, "read query")
	check(s["facts"].(float64) >= 1 && len(q.Facts) > 0, "read token reads")
	_, err = ro.Add(ctx, "IsA(Reader, Writer)")
	expectError(err, 403, "forbidden", "read token cannot write")

	// retries, Retry-After, give-up, timeout (against the flaky server)
	s, err = hakgal.New(flaky, token).Stats(ctx)
	must(err, "flaky stats")
	check(s["facts"] == float64(42), "503 then 429 are retried until success")
	fc := hakgal.New(flaky, token)
	fc.MaxRetries = 2
	_, err = fc.Get(ctx, 1)
	expectError(err, 503, "busy", "503 after the last retry is returned with its code")
	slow := hakgal.New(flaky, token)
	slow.Timeout = 500 * time.Millisecond
	t0 := time.Now()
	_, err = slow.Get(ctx, 2)
	expectError(err, 0, "timeout", "timeout is an *Error with status 0")
	check(time.Since(t0) < 2900*time.Millisecond, "timeout is prompt")
	fmt.Println("go SDK: all checks passed")
}
