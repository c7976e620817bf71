"""idShortPaths (``Collection.Element``, ``List[3].Element``): parsing, resolving and listing."""

from __future__ import annotations

import re
from collections.abc import Iterator

from basyx.aas import model

from packtwin.aas.api.errors import ApiError

# Deeper paths than this are refused before any lookup: bounds the work one request can cause.
MAX_DEPTH = 64
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse(path: str) -> list[str | int]:
    """``a.b[2].c`` → ``['a', 'b', 2, 'c']``; a 400 for anything that is not an idShortPath."""
    if not path or len(path) > 4096:
        raise ApiError(400, "idShortPath is empty or too long")
    tokens: list[str | int] = []
    pos = 0
    while pos < len(path):
        if tokens and path[pos] == ".":
            pos += 1
        m = _TOKEN.match(path, pos)
        if m is None:
            raise ApiError(400, f"malformed idShortPath {path[:120]!r} at position {pos}")
        tokens.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
        if len(tokens) > MAX_DEPTH:
            raise ApiError(400, f"idShortPath deeper than {MAX_DEPTH} levels")
    if not isinstance(tokens[0], str):
        raise ApiError(400, "an idShortPath starts with an idShort")
    return tokens


def children(node: object) -> list[model.SubmodelElement] | None:
    if isinstance(node, model.Submodel):
        return list(node.submodel_element)
    if isinstance(node, model.SubmodelElementCollection | model.SubmodelElementList):
        return list(node.value)
    if isinstance(node, model.Entity):
        return list(node.statement)
    if isinstance(node, model.AnnotatedRelationshipElement):
        return list(node.annotation)
    return None


def resolve(root: model.Submodel, path: str) -> model.SubmodelElement:
    node: object = root
    for token in parse(path):
        if isinstance(token, int):
            if not isinstance(node, model.SubmodelElementList):
                raise ApiError(404, f"submodel element {path!r} not found (index on a non-list)")
            items = list(node.value)
            if token >= len(items):
                raise ApiError(404, f"submodel element {path!r} not found")
            node = items[token]
        else:
            if isinstance(node, model.SubmodelElementList):
                raise ApiError(404, f"submodel element {path!r} not found (lists are indexed with [n])")
            kids = children(node)
            found = None
            for child in kids or ():
                if child.id_short == token:
                    found = child
                    break
            if found is None:
                raise ApiError(404, f"submodel element {path!r} not found")
            node = found
    assert isinstance(node, model.SubmodelElement)
    return node


def path_of(element: model.Referable) -> str:
    """The idShortPath of ``element`` inside its submodel."""
    segments: list[str] = []
    node: object = element
    while isinstance(node, model.SubmodelElement):
        parent = node.parent
        if isinstance(parent, model.SubmodelElementList):
            segments.append(f"[{list(parent.value).index(node)}]")
        else:
            segments.append(str(node.id_short))
        node = parent
    out = ""
    for seg in reversed(segments):
        out += seg if seg.startswith("[") or not out else "." + seg
    return out


def walk_paths(element: model.SubmodelElement, prefix: str, deep: bool) -> Iterator[str]:
    """``prefix`` and the idShortPaths of every descendant of ``element`` (direct children only unless deep)."""
    yield prefix
    kids = children(element)
    if not kids:
        return
    for i, child in enumerate(kids):
        sub = f"{prefix}[{i}]" if isinstance(element, model.SubmodelElementList) else f"{prefix}.{child.id_short}"
        if deep:
            yield from walk_paths(child, sub, deep)
        else:
            yield sub
