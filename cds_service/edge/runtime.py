"""What the app keeps for its lifetime: settings, the hook catalog and the evaluator."""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.edge.evaluation import Evaluator
from cds_service.protocol.catalog import Catalog
from cds_service.settings import Settings


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    catalog: Catalog
    evaluator: Evaluator
