"""The portals' GraphQL operations: the ``.graphql`` files beside the templates, run in-process.

Every operation a page runs is named in a ``.graphql`` file beside its template (a file may
hold several, and the fragments they share; fragments several pages use are in ``_*.graphql``
files, added to each document that spreads them). They are read once, when this module is
imported: two operations of one name, or one without a name, fail at start. A page runs an
operation by name against the app's own schema (``app.state.schema``), with the context a
``/graphql`` request would get (``api.app.DialtoneGraphQL``: the actor of the session cookie),
so the portal reads and writes through exactly what any API client may do: no second HTTP hop,
no SQL here. ``tests/frontends/test_operations.py`` validates every operation against the
schema. The same set is the allow-list of the documents a browser may send to ``/graphql`` as
persisted queries (:data:`DOCUMENTS`, by the SHA-256 of a file's text: ``api.app``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import (
    FragmentDefinitionNode,
    FragmentSpreadNode,
    OperationDefinitionNode,
    Visitor,
    parse,
    print_ast,
    visit,
)
from starlette.requests import Request
from starlette.responses import Response

from api.resolvers.context import context_for

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Operation:
    name: str
    source: str  # the whole file: its operations and fragments
    path: Path


def _spreads(node: Any) -> set[str]:
    """The names of the fragments a parsed document or definition spreads."""
    found: set[str] = set()

    class Spreads(Visitor):
        def enter_fragment_spread(self, spread: FragmentSpreadNode, *_args: Any) -> None:
            found.add(spread.name.value)

    visit(node, Spreads())
    return found


def _shared_fragments(root: Path) -> dict[str, FragmentDefinitionNode]:
    """The fragments of the ``_*.graphql`` files, which pages' documents may use by name."""
    shared: dict[str, FragmentDefinitionNode] = {}
    for path in sorted(root.rglob("_*.graphql")):
        for definition in parse(path.read_text(encoding="utf-8")).definitions:
            if not isinstance(definition, FragmentDefinitionNode):
                raise ValueError(f"{path}: a shared file holds fragments only")
            shared[definition.name.value] = definition
    return shared


def _with_shared(source: str, shared: dict[str, FragmentDefinitionNode]) -> str:
    """``source`` and the shared fragments it spreads (and those they spread), appended."""
    document = parse(source)
    own = {d.name.value for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    wanted, added = _spreads(document) - own, []
    while wanted:
        name = wanted.pop()
        if name in shared and name not in added:
            added.append(name)
            wanted |= _spreads(shared[name]) - own - set(added)
    return "\n".join([source, *(print_ast(shared[n]) for n in sorted(added))])


def load(root: Path = TEMPLATES) -> dict[str, Operation]:
    """Every named operation of the ``.graphql`` files under ``root``, each with the shared
    fragments (``_*.graphql``) its file uses."""
    shared = _shared_fragments(root)
    found: dict[str, Operation] = {}
    for path in sorted(root.rglob("*.graphql")):
        if path.name.startswith("_"):
            continue
        source = _with_shared(path.read_text(encoding="utf-8"), shared)
        for definition in parse(source).definitions:
            if not isinstance(definition, OperationDefinitionNode):
                continue
            if definition.name is None:
                raise ValueError(f"{path}: every portal operation needs a name")
            name = definition.name.value
            if name in found:
                raise ValueError(f"{path}: operation {name} is also in {found[name].path}")
            found[name] = Operation(name, source, path)
    return found


def document_id(source: str) -> str:
    """A document's persisted-query id: the hex SHA-256 of its text (Apollo's sha256Hash)."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


OPERATIONS = load()
# the persisted documents: id -> the text of one .graphql file (its operations and fragments)
DOCUMENTS = {document_id(op.source): op.source for op in OPERATIONS.values()}


class OperationFailed(Exception):
    """An operation answered GraphQL errors (never expected from a page's own operations)."""

    def __init__(self, name: str, errors: list[Any]) -> None:
        super().__init__(f"{name}: {'; '.join(str(e) for e in errors)}")
        self.errors = errors


@dataclass
class Outcome:
    data: dict[str, Any]
    response: Response  # what the resolvers set on it: cookies of login and logout


async def execute(
    request: Request,
    name: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None,
) -> Outcome:
    """Run the operation ``name`` as the holder of ``token`` (a session token, or None)."""
    operation = OPERATIONS[name]
    state = request.app.state
    response = Response()
    context = await context_for(
        request,
        response,
        settings=state.settings,
        sessions=state.sessions,
        engine=state.engine,
        token=token,
    )
    try:
        result = await state.schema.execute(
            operation.source,
            variable_values=variables,
            context_value=context,
            operation_name=name,
        )
    finally:
        await context.close()
    if result.errors:
        raise OperationFailed(name, result.errors)
    return Outcome(result.data or {}, response)
