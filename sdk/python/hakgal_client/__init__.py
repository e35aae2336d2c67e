"""hakgal_client: a typed, standard-library-only client of the hakgal
knowledge-base REST API (/v2)."""
from .aio import AsyncClient
from .client import Client
from .errors import HakgalError, TransportError
from .models import (AddResult, ApiErrorBody, AuditEntry, AuditPage,
                     BatchItemResult, BatchResult, Edge, EntityPage, Fact,
                     Node, Path, QueryPage, Row, RowPage, SearchHit, Subgraph)

__all__ = ["AsyncClient", "Client", "HakgalError", "TransportError", "AddResult",
           "ApiErrorBody", "AuditEntry", "AuditPage", "BatchItemResult",
           "BatchResult", "Edge", "EntityPage", "Fact", "Node", "Path",
           "QueryPage", "Row", "RowPage", "SearchHit", "Subgraph"]
__version__ = "0.1.0"
