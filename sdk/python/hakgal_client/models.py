"""Typed models of the hakgal /v2 answers (docs/API.md).

Each model is a dataclass built from the server's JSON by its
from_json class method; fields the server may add later are ignored, so an
older client keeps working against a newer server.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional


@dataclass
class Fact:
    """One fact: Pred(arg1, ...) with its metadata."""

    id: int
    statement: str
    predicate: str
    args: List[str]
    confidence: float = 1.0
    source: Optional[str] = None
    tags: List[str] = field(default_factory=list)
    context: Optional[Dict[str, Any]] = None
    created: Optional[str] = None  # RFC 3339, UTC
    updated: Optional[str] = None

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "Fact":
        return cls(id=int(j["id"]), statement=j["statement"],
                   predicate=j["predicate"], args=list(j.get("args") or []),
                   confidence=float(j.get("confidence", 1.0)),
                   source=j.get("source"), tags=list(j.get("tags") or []),
                   context=j.get("context"), created=j.get("created"),
                   updated=j.get("updated"))


@dataclass
class AddResult:
    """The answer of add: the fact, and whether this call created it (201)
    or found it already there (200)."""

    fact: Fact
    created: bool


@dataclass
class ApiErrorBody:
    """The error object of an answer: {"code", "message", "detail"}."""

    code: str
    message: str
    detail: Any = None

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "ApiErrorBody":
        return cls(code=str(j.get("code", "")),
                   message=str(j.get("message", "")), detail=j.get("detail"))


@dataclass
class BatchItemResult:
    """One item of a batch: status 201/200 with id, or an error."""

    index: int
    status: int
    id: Optional[int] = None
    created: bool = False
    error: Optional[ApiErrorBody] = None

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "BatchItemResult":
        e = j.get("error")
        return cls(index=int(j["index"]), status=int(j["status"]),
                   id=j.get("id"), created=bool(j.get("created", False)),
                   error=ApiErrorBody.from_json(e) if e else None)


@dataclass
class BatchResult:
    count: int
    created: int
    existing: int
    failed: int
    results: List[BatchItemResult]

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "BatchResult":
        return cls(count=int(j["count"]), created=int(j["created"]),
                   existing=int(j["existing"]), failed=int(j["failed"]),
                   results=[BatchItemResult.from_json(r)
                            for r in j.get("results") or []])


@dataclass
class QueryPage:
    """One page of a pattern query: facts[i] matched with bindings[i]."""

    query: str
    facts: List[Fact]
    bindings: List[Dict[str, str]]
    next_cursor: Optional[str]

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "QueryPage":
        return cls(query=j.get("query", ""),
                   facts=[Fact.from_json(f) for f in j.get("facts") or []],
                   bindings=list(j.get("bindings") or []),
                   next_cursor=j.get("next_cursor"))


@dataclass
class Row:
    """One row of a multi-pattern query: the variables' values and the ids
    of the facts that matched each pattern."""

    bindings: Dict[str, Any]
    facts: List[int]

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "Row":
        return cls(bindings=dict(j.get("bindings") or {}),
                   facts=[int(x) for x in j.get("facts") or []])


@dataclass
class RowPage:
    query: str
    rows: List[Row]
    next_cursor: Optional[str]

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "RowPage":
        return cls(query=j.get("query", ""),
                   rows=[Row.from_json(r) for r in j.get("rows") or []],
                   next_cursor=j.get("next_cursor"))


@dataclass
class SearchHit:
    score: float
    fact: Fact

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "SearchHit":
        return cls(score=float(j["score"]), fact=Fact.from_json(j["fact"]))


@dataclass
class EntityPage:
    """An entity, its total fact count and one page of its facts."""

    entity: str
    fact_count: int
    facts: List[Fact]
    next_cursor: Optional[str]

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "EntityPage":
        return cls(entity=j["entity"], fact_count=int(j["fact_count"]),
                   facts=[Fact.from_json(f) for f in j.get("facts") or []],
                   next_cursor=j.get("next_cursor"))


@dataclass
class Node:
    id: str
    kind: str  # "entity" or "fact"
    label: Optional[str] = None


@dataclass
class Edge:
    source: str  # "from" in the JSON
    target: str  # "to" in the JSON
    label: str
    fact: Optional[int] = None


@dataclass
class Subgraph:
    nodes: List[Node]
    edges: List[Edge]
    truncated: bool

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "Subgraph":
        return cls(nodes=[Node(id=n["id"], kind=n.get("kind", "entity"),
                               label=n.get("label"))
                          for n in j.get("nodes") or []],
                   edges=[Edge(source=e["from"], target=e["to"],
                               label=e.get("label", ""), fact=e.get("fact"))
                          for e in j.get("edges") or []],
                   truncated=bool(j.get("truncated", False)))


@dataclass
class Path:
    length: int
    nodes: List[str]
    facts: List[int]

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "Path":
        return cls(length=int(j["length"]), nodes=list(j.get("nodes") or []),
                   facts=[int(x) for x in j.get("facts") or []])


@dataclass
class AuditEntry:
    seq: int
    time: str
    actor: str
    op: str
    fact_id: Optional[int] = None
    fact_id_last: Optional[int] = None
    count: int = 0
    before: Any = None
    after: Any = None
    prev_hash: Optional[str] = None
    hash: Optional[str] = None

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "AuditEntry":
        return cls(seq=int(j["seq"]), time=j.get("time", ""),
                   actor=j.get("actor", ""), op=j.get("op", ""),
                   fact_id=j.get("fact_id"), fact_id_last=j.get("fact_id_last"),
                   count=int(j.get("count") or 0), before=j.get("before"),
                   after=j.get("after"), prev_hash=j.get("prev_hash"),
                   hash=j.get("hash"))


@dataclass
class AuditPage:
    entries: List[AuditEntry]
    next_before: Optional[int]

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "AuditPage":
        return cls(entries=[AuditEntry.from_json(e)
                            for e in j.get("entries") or []],
                   next_before=j.get("next_before"))
