"""Type stubs of the keyward package (see __init__.py for the documentation)."""

from typing import Any, Dict, List, Optional

import pyarrow

__version__: str

class World:
    """A policy set (docs/formats.md, "Worlds")."""

    @classmethod
    def load(cls, path: str) -> "World":
        """Loads a world from a JSON file; ValueError names the file and field when invalid."""
    @classmethod
    def from_json(cls, text: str, source: str = "(world)") -> "World":
        """Reads a world from JSON text; `source` names it in error messages."""
    @property
    def digest(self) -> str:
        """SHA-256 of the world's JSON text, hex."""

class Engine:
    """A world compiled for fast checks."""

    world: World
    def __init__(self, world: World) -> None:
        """Compiles `world`."""
    def check(self, request: Dict[str, Any]) -> Dict[str, Any]:
        """Decides one request; returns {"decision": ..., "reasons": [...]}."""
    def check_batch(self, requests: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """Decides a list of requests; an invalid one answers ImplicitDeny with an error."""
    def check_arrow(self, batch: pyarrow.RecordBatch) -> pyarrow.RecordBatch:
        """Decides a batch of requests: columns decision, reasons (JSON), error."""
    def replay_files(
        self, batch: pyarrow.RecordBatch, against: Optional["Engine"] = None
    ) -> pyarrow.RecordBatch:
        """Replays CloudTrail files (file, file_index, content): one row per record."""

def map_records(batch: pyarrow.RecordBatch) -> pyarrow.RecordBatch:
    """Maps raw CloudTrail records (column record) to request columns."""
