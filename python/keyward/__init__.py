"""keyward: decide AWS KMS authorization exactly as AWS does, from Python.

The same engine as the ``keyward`` command: load a world (keys, policies, grants, principals;
docs/formats.md), compile it once into an :class:`Engine`, and decide requests one at a time
(:meth:`Engine.check`), by the list (:meth:`Engine.check_batch`) or by the Arrow record batch
(:meth:`Engine.check_arrow`, no Python loop per row). :func:`map_records` turns raw CloudTrail
records into requests with keyward's own mapping (docs/semantics.md §8), and
:mod:`keyward.spark` replays a whole organization's trail on Spark.

>>> import keyward
>>> engine = keyward.Engine(keyward.World.load("corpus/default/world.json"))
>>> engine.check({"principal": "arn:aws:iam::111122223333:user/alice",
...               "action": "kms:Decrypt",
...               "resource": "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"})
{'decision': 'Allow', 'reasons': [...]}
"""

from __future__ import annotations

import json
from typing import Any, Dict, List

from . import _native

__all__ = ["World", "Engine", "map_records", "__version__"]

__version__: str = _native.__version__

World = _native.World
"""A policy set. ``World.load(path)`` reads a JSON file, ``World.from_json(text)`` JSON text;
both raise ``ValueError`` naming the file and field of the first problems."""


class Engine:
    """A world compiled for fast checks; safe to share between threads.

    Compiling costs time once (milliseconds for thousands of keys); each check then takes
    microseconds. The GIL is released while deciding.
    """

    __slots__ = ("_native", "world")

    def __init__(self, world: "World") -> None:
        """Compiles ``world`` (a :class:`World`)."""
        self.world = world
        self._native = _native.Engine(world)

    def check(self, request: Dict[str, Any]) -> Dict[str, Any]:
        """Decides one request, a dict in the request format (docs/formats.md, "Requests"):
        ``principal``, ``action``, ``resource`` and optionally ``context``,
        ``encryption_context``, ``grant_id``, ... Returns the decision as ``keyward check``
        prints it: ``{"decision": "Allow" | "ExplicitDeny" | "ImplicitDeny", "reasons": [...]}``.
        Raises ``ValueError`` when the request is not valid."""
        return json.loads(self._native.check_json(json.dumps(request)))

    def check_batch(self, requests: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """Decides a list of requests in order. A request that is not valid does not raise: its
        answer is ``ImplicitDeny`` with an ``error`` field saying why (failing closed)."""
        texts = [json.dumps(r) for r in requests]
        return [json.loads(d) for d in self._native.check_batch_json(texts)]

    def check_arrow(self, batch: "pyarrow.RecordBatch") -> "pyarrow.RecordBatch":  # noqa: F821
        """Decides every row of a ``pyarrow.RecordBatch`` of requests, through the Arrow C data
        interface with no Python loop per row.

        Input columns (strings): ``principal``, ``action``, ``resource``, and optionally
        ``context`` and ``encryption_context`` (JSON objects as text), ``grant_id`` and
        ``request_extra`` (a JSON object of any other request field). Output columns:
        ``decision``, ``reasons`` (JSON array as text) and ``error`` (null, or why the row is
        not a valid request; its decision is then ``ImplicitDeny``)."""
        return self._native.check_arrow(batch)

    def replay_files(
        self, batch: "pyarrow.RecordBatch", against: "Engine | None" = None  # noqa: F821
    ) -> "pyarrow.RecordBatch":  # noqa: F821
        """Replays CloudTrail log files held in a record batch (columns ``file``: the name
        reports use, ``file_index``: the file's position in the input order, ``content``: its
        bytes, gzip or not) and returns one row per record saying what happened to it, with
        ``against`` the decision changes too. :mod:`keyward.spark` adds the rows up into
        ``keyward replay --json``'s summary."""
        return self._native.replay_files(batch, None if against is None else against._native)


def map_records(batch: "pyarrow.RecordBatch") -> "pyarrow.RecordBatch":  # noqa: F821
    """Maps raw CloudTrail records (column ``record``: one record's JSON text per row) to
    requests with keyward's own mapping (docs/semantics.md §8.3), without a Python loop per row.

    Output columns: ``status`` (``request``, ``not_kms``, ``skipped`` or ``bad``), ``reason``
    (why skipped or bad), ``event_id``, ``recorded`` (what AWS recorded: ``allowed``,
    ``denied`` or the error code), and the request columns :meth:`Engine.check_arrow` takes:
    ``principal``, ``action``, ``resource``, ``context``, ``encryption_context``, ``grant_id``,
    ``request_extra``."""
    return _native.map_records(batch)
