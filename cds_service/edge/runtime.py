"""What the app keeps for its lifetime: settings, the hook catalog, the evaluator and the store.

A view reaches it through `api.runtime()` (i.e. `current_app.extensions["b12cds"]`);
`runtime().store` is the database (`cds_service.store.Store`), e.g. for
`cds_service.store.replay.remember_jti(runtime().store, jti, expires_at)`.
"""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.edge.evaluation import Evaluator
from cds_service.protocol.catalog import Catalog
from cds_service.settings import Settings
from cds_service.store import Store


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    catalog: Catalog
    evaluator: Evaluator
    store: Store
