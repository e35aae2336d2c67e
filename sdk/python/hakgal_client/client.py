"""The synchronous hakgal client (http.client from the standard library,
one keep-alive connection per thread, so a Client may be shared by
threads).

Retries: an answer 503 or 429 is retried up to max_retries times. The wait
is the answer's Retry-After (seconds, capped at max_backoff) when present,
else backoff * 2**attempt with up to 50% random jitter. Every write of the
API is idempotent (adding a fact twice is one fact), so writes are retried
too. Network errors and timeouts are not retried: the request may have
reached the server, and the caller decides.
"""
from __future__ import annotations

import http.client
import json
import random
import socket
import ssl
import threading
import time
import urllib.parse
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Union

from .errors import HakgalError, TransportError
from .models import (AddResult, AuditEntry, AuditPage, BatchResult,
                     EntityPage, Fact, Path, QueryPage, Row, RowPage,
                     SearchHit, Subgraph)

JSON = Dict[str, Any]
_UNSET: Any = object()


def _q(s: str) -> str:
    return urllib.parse.quote(s, safe="")


class Client:
    """A client of one hakgal server.

    >>> kb = Client("http://127.0.0.1:8080", token="...")
    >>> kb.add("HasPart(Computer, CPU)").fact.id
    """

    def __init__(self, base_url: str, token: Optional[str] = None,
                 timeout: float = 30.0, max_retries: int = 3,
                 backoff: float = 0.1, max_backoff: float = 30.0,
                 user_agent: str = "hakgal-client-python/0.1",
                 ssl_context: Optional[ssl.SSLContext] = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.user_agent = user_agent
        self.ssl_context = ssl_context
        u = urllib.parse.urlsplit(self.base_url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("base_url must be http:// or https://HOST[:PORT]")
        self._https = u.scheme == "https"
        self._host = u.hostname
        self._port = u.port or (443 if self._https else 80)
        self._prefix = u.path  # a server mounted below a path
        self._local = threading.local()  # one keep-alive connection per thread

    # ==== transport ====

    def request(self, method: str, path: str,
                params: Optional[Dict[str, Any]] = None,
                body: Any = None) -> tuple[int, Any]:
        """One API call with retries; returns (status, decoded JSON).
        Raises HakgalError for an error answer, TransportError when no
        answer came (connection refused, timeout)."""
        target = self._prefix + path
        if params:
            clean = {k: v for k, v in params.items() if v is not None}
            if clean:
                target += "?" + urllib.parse.urlencode(clean)
        data = None
        headers = {"Accept": "application/json",
                   "User-Agent": self.user_agent}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        attempt = 0
        while True:
            status, hdrs, raw = self._send(method, target, data, headers,
                                           path)
            if 200 <= status < 300:
                return status, _decode(raw)
            if status in (429, 503) and attempt < self.max_retries:
                time.sleep(self._wait(attempt, hdrs.get("Retry-After")))
                attempt += 1
                continue
            raise _api_error(status, raw, method, path)

    def _send(self, method: str, target: str, data: Optional[bytes],
              headers: Dict[str, str], path: str
              ) -> tuple[int, http.client.HTTPMessage, bytes]:
        """One exchange on this thread's keep-alive connection. A reused
        connection that the server closed meanwhile (idle timeout) is
        replaced and the request sent once more on a fresh one; nothing
        else is resent."""
        for fresh in (False, True):
            conn, reused = self._conn(fresh)
            try:
                conn.request(method, target, body=data, headers=headers)
                r = conn.getresponse()
                raw = r.read()
                if r.will_close:
                    self._drop()
                return r.status, r.headers, raw
            except (socket.timeout, TimeoutError) as e:
                self._drop()
                raise TransportError("timeout", "%s %s: no answer within %gs"
                                     % (method, path, self.timeout)) from e
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError) as e:
                self._drop()
                if reused and not fresh:
                    continue
                raise TransportError("connection", "%s %s: %s" %
                                     (method, path, e)) from e
            except (OSError, http.client.HTTPException) as e:
                self._drop()
                raise TransportError("connection", "%s %s: %s" %
                                     (method, path, e)) from e
        raise AssertionError("unreachable")

    def _conn(self, fresh: bool) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection (made on first use) and whether it has
        carried a request before."""
        c = getattr(self._local, "conn", None)
        if c is not None and not fresh:
            return c, True
        self._drop()
        if self._https:
            c = http.client.HTTPSConnection(self._host, self._port,
                                            timeout=self.timeout,
                                            context=self.ssl_context)
        else:
            c = http.client.HTTPConnection(self._host, self._port,
                                           timeout=self.timeout)
        self._local.conn = c
        return c, False

    def _drop(self) -> None:
        c = getattr(self._local, "conn", None)
        self._local.conn = None
        if c is not None:
            c.close()

    def close(self) -> None:
        """Closes the calling thread's connection (others close when their
        threads end or on their next error)."""
        self._drop()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _wait(self, attempt: int, retry_after: Optional[str]) -> float:
        if retry_after is not None:
            try:
                return min(max(float(retry_after), 0.0), self.max_backoff)
            except ValueError:
                pass  # an HTTP date: fall back to the backoff
        base = min(self.backoff * (2 ** attempt), self.max_backoff)
        return base * (1 + random.random() / 2)

    # ==== facts ====

    def add(self, statement: Optional[str] = None, *,
            predicate: Optional[str] = None,
            args: Optional[Sequence[str]] = None,
            confidence: Optional[float] = None, source: Optional[str] = None,
            tags: Optional[Sequence[str]] = None,
            context: Optional[JSON] = None) -> AddResult:
        """Adds a fact given as a statement or as predicate + args.
        Idempotent: created is False when the fact was already there."""
        body: JSON = {}
        if statement is not None:
            body["statement"] = statement
        if predicate is not None:
            body["predicate"] = predicate
        if args is not None:
            body["args"] = list(args)
        _meta(body, confidence, source, tags, context)
        status, j = self.request("POST", "/v2/facts", body=body)
        return AddResult(fact=Fact.from_json(j), created=status == 201)

    def batch(self, items: Iterable[Union[str, JSON]]) -> BatchResult:
        """Adds many facts in one transaction; items are statements or fact
        objects. Invalid items are reported, the others committed."""
        _, j = self.request("POST", "/v2/facts/batch", body=list(items))
        return BatchResult.from_json(j)

    def get(self, fact_id: int) -> Fact:
        _, j = self.request("GET", "/v2/facts/%d" % fact_id)
        return Fact.from_json(j)

    def update(self, fact_id: int, statement: Optional[str] = None, *,
               confidence: Optional[float] = None, source: Any = _UNSET,
               tags: Optional[Sequence[str]] = None,
               context: Any = _UNSET) -> Fact:
        """With a statement: replaces it (PUT; HakgalError 'conflict' when
        it is another fact). Without: changes only the metadata given
        (PATCH; source=None clears the source)."""
        body: JSON = {}
        if statement is not None:
            body["statement"] = statement
        if confidence is not None:
            body["confidence"] = confidence
        if source is not _UNSET:
            body["source"] = source
        if tags is not None:
            body["tags"] = list(tags)
        if context is not _UNSET:
            body["context"] = context
        method = "PUT" if statement is not None else "PATCH"
        _, j = self.request(method, "/v2/facts/%d" % fact_id, body=body)
        return Fact.from_json(j)

    def delete(self, fact_id: int) -> Fact:
        """Deletes a fact; returns it as it was."""
        _, j = self.request("DELETE", "/v2/facts/%d" % fact_id)
        return Fact.from_json(j["fact"])

    def delete_statement(self, statement: str) -> Fact:
        _, j = self.request("DELETE", "/v2/facts",
                            params={"statement": statement})
        return Fact.from_json(j["fact"])

    def history(self, fact_id: int, limit: Optional[int] = None
                ) -> List[AuditEntry]:
        _, j = self.request("GET", "/v2/facts/%d/history" % fact_id,
                            params={"limit": limit})
        return [AuditEntry.from_json(e) for e in j.get("entries") or []]

    # ==== reads ====

    def query(self, pattern: str, limit: Optional[int] = None,
              cursor: Optional[str] = None) -> QueryPage:
        """One page of a pattern query, e.g. 'HasPart(?x, CPU)'."""
        _, j = self.request("GET", "/v2/query",
                            params={"q": pattern, "limit": limit,
                                    "cursor": cursor})
        return QueryPage.from_json(j)

    def query_all(self, pattern: str, page_size: Optional[int] = None
                  ) -> Iterator[Fact]:
        """Every fact matching the pattern, fetched page by page."""
        cursor: Optional[str] = None
        while True:
            page = self.query(pattern, page_size, cursor)
            yield from page.facts
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def query_rows(self, query: str, limit: Optional[int] = None,
                   cursor: Optional[str] = None) -> RowPage:
        """One page of a multi-pattern query (docs/QUERY.md)."""
        body: JSON = {"query": query}
        if limit is not None:
            body["limit"] = limit
        if cursor is not None:
            body["cursor"] = cursor
        _, j = self.request("POST", "/v2/query", body=body)
        return RowPage.from_json(j)

    def query_rows_all(self, query: str, page_size: Optional[int] = None
                       ) -> Iterator[Row]:
        cursor: Optional[str] = None
        while True:
            page = self.query_rows(query, page_size, cursor)
            yield from page.rows
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def search(self, text: str, limit: Optional[int] = None,
               mode: Optional[str] = None) -> List[SearchHit]:
        """Ranked text search (mode 'text', 'vector' or 'hybrid')."""
        _, j = self.request("GET", "/v2/search",
                            params={"q": text, "limit": limit, "mode": mode})
        return [SearchHit.from_json(r) for r in j.get("results") or []]

    def entity(self, name: str, limit: Optional[int] = None,
               cursor: Optional[str] = None) -> EntityPage:
        _, j = self.request("GET", "/v2/entities/" + _q(name),
                            params={"limit": limit, "cursor": cursor})
        return EntityPage.from_json(j)

    def entity_facts(self, name: str, page_size: Optional[int] = None
                     ) -> Iterator[Fact]:
        cursor: Optional[str] = None
        while True:
            page = self.entity(name, page_size, cursor)
            yield from page.facts
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def neighbours(self, entity: str, depth: Optional[int] = None,
                   fanout: Optional[int] = None,
                   max_edges: Optional[int] = None) -> Subgraph:
        _, j = self.request("GET", "/v2/graph/neighbours",
                            params={"entity": entity, "depth": depth,
                                    "fanout": fanout,
                                    "max_edges": max_edges})
        return Subgraph.from_json(j)

    def paths(self, source: str, target: str, max_len: Optional[int] = None,
              k: Optional[int] = None) -> List[Path]:
        _, j = self.request("GET", "/v2/graph/path",
                            params={"from": source, "to": target,
                                    "max_len": max_len, "k": k})
        return [Path.from_json(p) for p in j.get("paths") or []]

    def audit(self, limit: Optional[int] = None,
              before: Optional[int] = None) -> AuditPage:
        """One page of the audit log, newest first."""
        _, j = self.request("GET", "/v2/audit",
                            params={"limit": limit, "before": before})
        return AuditPage.from_json(j)

    def audit_all(self, page_size: Optional[int] = None
                  ) -> Iterator[AuditEntry]:
        before: Optional[int] = None
        while True:
            page = self.audit(page_size, before)
            yield from page.entries
            if not page.next_before:
                return
            before = page.next_before

    def stats(self) -> JSON:
        _, j = self.request("GET", "/v2/stats")
        return j


def _meta(body: JSON, confidence: Optional[float], source: Optional[str],
          tags: Optional[Sequence[str]], context: Optional[JSON]) -> None:
    if confidence is not None:
        body["confidence"] = confidence
    if source is not None:
        body["source"] = source
    if tags is not None:
        body["tags"] = list(tags)
    if context is not None:
        body["context"] = context


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as e:
        raise TransportError("invalid_answer",
                             "answer is not JSON: %s" % e) from e


def _api_error(status: int, raw: bytes, method: str, path: str
               ) -> HakgalError:
    try:
        e = json.loads(raw)["error"]
        return HakgalError(status, str(e.get("code", "")),
                           str(e.get("message", "")), e.get("detail"))
    except (ValueError, KeyError, TypeError, AttributeError):
        text = raw[:200].decode("utf-8", "replace")
        return HakgalError(status, "http_%d" % status,
                           "%s %s: %s" % (method, path, text), None)
