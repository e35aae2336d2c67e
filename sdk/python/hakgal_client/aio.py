"""AsyncClient: the Client's API for asyncio programs.

Each call runs the synchronous Client's call on a worker thread
(asyncio.to_thread), so an event loop is never blocked and the behaviour
(retries, timeouts, errors) is exactly the Client's. The iterators fetch
one page per await.
"""
from __future__ import annotations

import asyncio
import functools
from typing import Any, AsyncIterator, Callable, List, Optional, TypeVar

from .client import Client
from .models import AuditEntry, Fact, Row

T = TypeVar("T")


class AsyncClient:
    """Same constructor arguments and methods as Client, as coroutines:

    >>> kb = AsyncClient("http://127.0.0.1:8080", token="...")
    >>> r = await kb.add("HasPart(Computer, CPU)")
    >>> async for f in kb.query_all("HasPart(?x, ?y)"): ...
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sync = Client(*args, **kwargs)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        fn = getattr(self.sync, name)
        if not callable(fn) or name.startswith("_") or name.endswith("_all") \
                or name == "entity_facts":
            raise AttributeError(name)

        @functools.wraps(fn)
        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(fn, *args, **kwargs)
        return call

    async def _pages(self, fetch: Callable[[Optional[Any]], Any],
                     items: Callable[[Any], List[T]],
                     nxt: Callable[[Any], Optional[Any]]
                     ) -> AsyncIterator[T]:
        cursor: Optional[Any] = None
        while True:
            page = await asyncio.to_thread(fetch, cursor)
            for x in items(page):
                yield x
            cursor = nxt(page)
            if not cursor:
                return

    def query_all(self, pattern: str, page_size: Optional[int] = None
                  ) -> AsyncIterator[Fact]:
        return self._pages(lambda c: self.sync.query(pattern, page_size, c),
                           lambda p: p.facts, lambda p: p.next_cursor)

    def query_rows_all(self, query: str, page_size: Optional[int] = None
                       ) -> AsyncIterator[Row]:
        return self._pages(
            lambda c: self.sync.query_rows(query, page_size, c),
            lambda p: p.rows, lambda p: p.next_cursor)

    def entity_facts(self, name: str, page_size: Optional[int] = None
                     ) -> AsyncIterator[Fact]:
        return self._pages(lambda c: self.sync.entity(name, page_size, c),
                           lambda p: p.facts, lambda p: p.next_cursor)

    def audit_all(self, page_size: Optional[int] = None
                  ) -> AsyncIterator[AuditEntry]:
        return self._pages(lambda c: self.sync.audit(page_size, c),
                           lambda p: p.entries, lambda p: p.next_before)
