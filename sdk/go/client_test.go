package hakgal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// Answers a real server never sends, from an httptest server; the live
// test (tests/e2e/test_sdk_go.py) covers the real one.

func TestErrorWithoutJSONBody(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		fmt.Fprint(w, "stack trace here")
	}))
	defer s.Close()
	_, err := New(s.URL, "").Get(context.Background(), 1)
	var e *Error
	if !errors.As(err, &e) || e.Status != 500 || e.Code != "http_500" {
		t.Fatalf("want http_500, got %v", err)
	}
}

func TestAnswerNotJSON(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "{not json")
	}))
	defer s.Close()
	_, err := New(s.URL, "").Get(context.Background(), 1)
	var e *Error
	if !errors.As(err, &e) || e.Code != "invalid_answer" {
		t.Fatalf("want invalid_answer, got %v", err)
	}
}

func TestRetryAfterDateFallsBackToBackoff(t *testing.T) {
	var n int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if atomic.AddInt32(&n, 1) == 1 {
			w.Header().Set("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")
			w.WriteHeader(503)
			return
		}
		fmt.Fprint(w, `{"facts": 3}`)
	}))
	defer s.Close()
	c := New(s.URL, "tok")
	c.Backoff = time.Millisecond
	st, err := c.Stats(context.Background())
	if err != nil || st["facts"] != float64(3) || atomic.LoadInt32(&n) != 2 {
		t.Fatalf("stats %v, err %v, %d requests", st, err, n)
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(503)
	}))
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := New(s.URL, "").Stats(ctx)
	var e *Error
	if !errors.As(err, &e) || e.Code != "timeout" || time.Since(t0) > 5*time.Second {
		t.Fatalf("want a prompt timeout, got %v after %v", err, time.Since(t0))
	}
}

func TestIteratorStopsOnError(t *testing.T) {
	var n int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if atomic.AddInt32(&n, 1) == 1 {
			fmt.Fprint(w, `{"facts": [{"id": 1, "statement": "P(a)", "predicate": "P",
				"args": ["a"]}], "bindings": [{}], "next_cursor": "c1"}`)
			return
		}
		w.WriteHeader(400)
		fmt.Fprint(w, `{"error": {"code": "invalid_cursor", "message": "m", "detail": null}}`)
	}))
	defer s.Close()
	it := New(s.URL, "").QueryAll(context.Background(), "P(?x)", 1)
	got := 0
	for it.Next() {
		got++
	}
	var e *Error
	if got != 1 || !errors.As(it.Err(), &e) || e.Code != "invalid_cursor" || it.Next() {
		t.Fatalf("got %d items, err %v", got, it.Err())
	}
}
