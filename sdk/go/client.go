// Package hakgal is a client of the hakgal knowledge-base REST API (/v2),
// standard library only.
//
// Every call takes a context (cancellation, deadlines); Client.Timeout
// bounds each attempt. An answer 503 or 429 is retried up to MaxRetries
// times after the answer's Retry-After (seconds, capped at MaxBackoff) or
// else Backoff * 2^attempt with up to 50% jitter. Every write of the API is
// idempotent, so writes are retried too. Timeouts and network errors are
// not retried: the request may have reached the server.
//
// Errors are *Error values carrying the HTTP status and the server's code,
// message and detail; Status 0 means no answer came (Code "timeout",
// "connection" or "invalid_answer").
package hakgal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Error is an error answer of the server, or a request without an answer
// (Status 0).
type Error struct {
	Status  int                    // HTTP status; 0 when no answer came
	Code    string                 // e.g. "not_found", "invalid_statement", "timeout"
	Message string                 // the server's human-readable message
	Detail  map[string]interface{} // e.g. {"column": 12, "field": "statement"}
}

func (e *Error) Error() string {
	return fmt.Sprintf("hakgal: %s (%d): %s", e.Code, e.Status, e.Message)
}

// Client is a client of one hakgal server. Its fields may be set before
// the first call; it is safe for concurrent use afterwards.
type Client struct {
	BaseURL    string        // e.g. "http://127.0.0.1:8080"
	Token      string        // sent as Authorization: Bearer TOKEN
	Timeout    time.Duration // per attempt (default 30 s)
	MaxRetries int           // retries of 503/429 (New sets 3)
	Backoff    time.Duration // first wait without Retry-After (default 100 ms)
	MaxBackoff time.Duration // longest wait (default 30 s)
	HTTPClient *http.Client  // default: a client without its own timeout
}

// New returns a client with the defaults (3 retries, 30 s timeout).
func New(baseURL, token string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Token: token,
		Timeout: 30 * time.Second, MaxRetries: 3,
		Backoff: 100 * time.Millisecond, MaxBackoff: 30 * time.Second}
}

// ==== transport ====

// Do sends one API call with retries and decodes a successful answer's
// JSON into out (when not nil); it returns the HTTP status.
func (c *Client) Do(ctx context.Context, method, path string,
	params url.Values, body, out interface{}) (int, error) {
	u := strings.TrimRight(c.BaseURL, "/") + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return 0, &Error{Code: "invalid_input", Message: err.Error()}
		}
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	for attempt := 0; ; attempt++ {
		status, hdr, data, err := c.once(ctx, hc, timeout, method, u, path, payload)
		if err != nil {
			return 0, err
		}
		if status >= 200 && status < 300 {
			if out != nil && len(data) > 0 {
				if err := json.Unmarshal(data, out); err != nil {
					return status, &Error{Code: "invalid_answer",
						Message: method + " " + path + ": " + err.Error()}
				}
			}
			return status, nil
		}
		if (status == 503 || status == 429) && attempt < c.MaxRetries {
			select {
			case <-time.After(c.wait(attempt, hdr.Get("Retry-After"))):
				continue
			case <-ctx.Done():
				return 0, &Error{Code: "timeout", Message: ctx.Err().Error()}
			}
		}
		return status, apiError(status, data, method, path)
	}
}

func (c *Client) once(ctx context.Context, hc *http.Client,
	timeout time.Duration, method, u, path string,
	payload []byte) (int, http.Header, []byte, error) {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(actx, method, u, rd)
	if err != nil {
		return 0, nil, nil, &Error{Code: "invalid_input", Message: err.Error()}
	}
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	res, err := hc.Do(req)
	if err == nil {
		defer res.Body.Close()
		var data []byte
		data, err = io.ReadAll(res.Body)
		if err == nil {
			return res.StatusCode, res.Header, data, nil
		}
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout()) {
		return 0, nil, nil, &Error{Code: "timeout", Message: fmt.Sprintf(
			"%s %s: no answer within %v", method, path, timeout)}
	}
	return 0, nil, nil, &Error{Code: "connection",
		Message: method + " " + path + ": " + err.Error()}
}

func (c *Client) wait(attempt int, retryAfter string) time.Duration {
	maxb := c.MaxBackoff
	if maxb <= 0 {
		maxb = 30 * time.Second
	}
	if s, err := strconv.ParseFloat(strings.TrimSpace(retryAfter), 64); err == nil && s >= 0 {
		d := time.Duration(s * float64(time.Second))
		if d > maxb {
			d = maxb
		}
		return d
	}
	b := c.Backoff
	if b <= 0 {
		b = 100 * time.Millisecond
	}
	for i := 0; i < attempt && b < maxb; i++ {
		b *= 2
	}
	if b > maxb {
		b = maxb
	}
	return b + time.Duration(rand.Int63n(int64(b)/2+1))
}

func apiError(status int, data []byte, method, path string) error {
	var env struct {
		Error *ErrorBody `json:"error"`
	}
	if json.Unmarshal(data, &env) == nil && env.Error != nil && env.Error.Code != "" {
		return &Error{Status: status, Code: env.Error.Code,
			Message: env.Error.Message, Detail: env.Error.Detail}
	}
	text := string(data)
	if len(text) > 200 {
		text = text[:200]
	}
	return &Error{Status: status, Code: fmt.Sprintf("http_%d", status),
		Message: method + " " + path + ": " + text}
}

func values(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	return v
}

func itoa(n int) string {
	if n <= 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// ==== facts ====

// Add adds a fact given as a statement, e.g. "HasPart(Computer, CPU)".
func (c *Client) Add(ctx context.Context, statement string) (AddResult, error) {
	return c.AddFact(ctx, NewFact{Statement: statement})
}

// AddFact adds a fact with metadata.
func (c *Client) AddFact(ctx context.Context, f NewFact) (AddResult, error) {
	var r AddResult
	st, err := c.Do(ctx, "POST", "/v2/facts", nil, f, &r.Fact)
	r.Created = st == 201
	return r, err
}

// Batch adds many facts in one transaction; items are statements
// (string) or NewFact values. Invalid items are reported, the others
// committed.
func (c *Client) Batch(ctx context.Context, items []interface{}) (BatchResult, error) {
	var r BatchResult
	_, err := c.Do(ctx, "POST", "/v2/facts/batch", nil, items, &r)
	return r, err
}

// Get returns one fact.
func (c *Client) Get(ctx context.Context, id int64) (Fact, error) {
	var f Fact
	_, err := c.Do(ctx, "GET", fmt.Sprintf("/v2/facts/%d", id), nil, nil, &f)
	return f, err
}

// Update replaces the statement (PUT) when ch.Statement is set, else
// changes only the metadata given (PATCH). A replacement onto another
// fact's statement is an *Error with Code "conflict".
func (c *Client) Update(ctx context.Context, id int64, ch Change) (Fact, error) {
	method := "PATCH"
	if ch.Statement != "" {
		method = "PUT"
	}
	var f Fact
	_, err := c.Do(ctx, method, fmt.Sprintf("/v2/facts/%d", id), nil, ch, &f)
	return f, err
}

type deleted struct {
	Fact Fact `json:"fact"`
}

// Delete deletes a fact and returns it as it was.
func (c *Client) Delete(ctx context.Context, id int64) (Fact, error) {
	var d deleted
	_, err := c.Do(ctx, "DELETE", fmt.Sprintf("/v2/facts/%d", id), nil, nil, &d)
	return d.Fact, err
}

// DeleteStatement deletes the fact with that statement.
func (c *Client) DeleteStatement(ctx context.Context, statement string) (Fact, error) {
	var d deleted
	_, err := c.Do(ctx, "DELETE", "/v2/facts", values("statement", statement), nil, &d)
	return d.Fact, err
}

// ==== reads ====

// Query returns one page of a pattern query, e.g. "HasPart(?x, CPU)";
// limit 0 is the server's default, cursor "" the first page.
func (c *Client) Query(ctx context.Context, pattern string, limit int, cursor string) (QueryPage, error) {
	var p QueryPage
	_, err := c.Do(ctx, "GET", "/v2/query",
		values("q", pattern, "limit", itoa(limit), "cursor", cursor), nil, &p)
	return p, err
}

// QueryRows returns one page of a multi-pattern query (docs/QUERY.md).
func (c *Client) QueryRows(ctx context.Context, query string, limit int, cursor string) (RowPage, error) {
	body := map[string]interface{}{"query": query}
	if limit > 0 {
		body["limit"] = limit
	}
	if cursor != "" {
		body["cursor"] = cursor
	}
	var p RowPage
	_, err := c.Do(ctx, "POST", "/v2/query", nil, body, &p)
	return p, err
}

// Search is the ranked text search; mode "" (text), "vector" or "hybrid".
func (c *Client) Search(ctx context.Context, text string, limit int, mode string) ([]SearchHit, error) {
	var r struct {
		Results []SearchHit `json:"results"`
	}
	_, err := c.Do(ctx, "GET", "/v2/search",
		values("q", text, "limit", itoa(limit), "mode", mode), nil, &r)
	return r.Results, err
}

// Entity returns an entity, its fact count and one page of its facts.
func (c *Client) Entity(ctx context.Context, name string, limit int, cursor string) (EntityPage, error) {
	var p EntityPage
	_, err := c.Do(ctx, "GET", "/v2/entities/"+url.PathEscape(name),
		values("limit", itoa(limit), "cursor", cursor), nil, &p)
	return p, err
}

// Neighbours returns the neighbourhood of an entity up to depth hops
// (0: the server's default of 1).
func (c *Client) Neighbours(ctx context.Context, entity string, depth int) (Subgraph, error) {
	var g Subgraph
	_, err := c.Do(ctx, "GET", "/v2/graph/neighbours",
		values("entity", entity, "depth", itoa(depth)), nil, &g)
	return g, err
}

// Paths returns up to k shortest paths of at most maxLen edges (0: the
// server's defaults).
func (c *Client) Paths(ctx context.Context, from, to string, maxLen, k int) ([]Path, error) {
	var r struct {
		Paths []Path `json:"paths"`
	}
	_, err := c.Do(ctx, "GET", "/v2/graph/path",
		values("from", from, "to", to, "max_len", itoa(maxLen), "k", itoa(k)), nil, &r)
	return r.Paths, err
}

// Audit returns one page of the audit log, newest first (before 0: from
// the newest).
func (c *Client) Audit(ctx context.Context, limit int, before int64) (AuditPage, error) {
	var p AuditPage
	b := ""
	if before > 0 {
		b = strconv.FormatInt(before, 10)
	}
	_, err := c.Do(ctx, "GET", "/v2/audit",
		values("limit", itoa(limit), "before", b), nil, &p)
	return p, err
}

// Stats returns the KB's counters.
func (c *Client) Stats(ctx context.Context) (map[string]interface{}, error) {
	var s map[string]interface{}
	_, err := c.Do(ctx, "GET", "/v2/stats", nil, nil, &s)
	return s, err
}
