"""Submodel Repository and Submodel services: submodels and their elements by idShortPath, with modifiers.

The same handlers serve ``/submodels/{id}``, ``/shells/{aasId}/submodels/{id}``, ``/submodel`` and
``/aas/submodels/{id}``: a *locator* turns the request into the submodel's id (checking the shell references it).
Reads go through the caller's :class:`~packtwin.aas.api.views.AccessView`; writes change the stored objects under
the repository lock and are persisted and announced with :meth:`Repository.commit` / :meth:`replace`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from basyx.aas import model
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from packtwin.aas.api import paths, valueonly
from packtwin.aas.api.b64 import decode_id
from packtwin.aas.api.codec import decode_model, to_dict
from packtwin.aas.api.errors import ApiError, not_found
from packtwin.aas.api.routes.common import body_bytes, body_json, locked, no_content, ok, paged
from packtwin.aas.api.state import ApiState, reader, writer
from packtwin.aas.api.views import metadata, parse_extent, parse_level, shape
from packtwin.aas.events import Operation
from packtwin.aas.interchange import file_bytes
from packtwin.submodels.access import Role, children_of

# (request, state, role) -> submodel id; raises 404 when the submodel is not reachable this way.
Locator = Callable[[Request, ApiState, Role], str]


def by_path_param(request: Request, state: ApiState, role: Role) -> str:
    return decode_id(request.path_params["submodelIdentifier"], "submodelIdentifier")


def in_shell(shell_id: Callable[[Request, ApiState], str]) -> Locator:
    def locate(request: Request, state: ApiState, role: Role) -> str:
        sm_id = decode_id(request.path_params["submodelIdentifier"], "submodelIdentifier")
        shell = state.view.get_shell(shell_id(request, state), role)
        if not any(ref.key and ref.key[0].value == sm_id for ref in shell.submodel):
            raise not_found(f"submodel {sm_id!r} in shell {shell.id!r}")
        return sm_id
    return locate


def fixed(request: Request, state: ApiState, role: Role) -> str:
    if state.service_submodel_id is None:
        raise not_found("no submodel is configured for the Submodel service interface")
    return state.service_submodel_id


# -- serialised views ------------------------------------------------------------------------------------------------

def element_json(element: model.SubmodelElement, request: Request, depth: int = 1) -> dict:
    q = request.query_params
    return shape(to_dict(element), parse_level(q.get("level")), parse_extent(q.get("extent")), depth)


def submodel_json(sm: model.Submodel, request: Request) -> dict:
    q = request.query_params
    return shape(to_dict(sm), parse_level(q.get("level")), parse_extent(q.get("extent")), 1)


def value_json(node: model.Submodel | model.SubmodelElement, request: Request) -> Any:
    q = request.query_params
    # level=core: a submodel's elements with their own values but no nested content; an element with its children.
    deep = parse_level(q.get("level"))
    with_blob = parse_extent(q.get("extent"))
    if isinstance(node, model.Submodel):
        return valueonly.collection_value(node.submodel_element, with_blob, None if deep else 0)
    value = valueonly.value_of(node, with_blob, None if deep else 1)
    if node.id_short is None:  # an item of a SubmodelElementList has no name to carry
        return value
    # Part 2 v3.0 (11.4.2): an element is serialised as a named JSON property, {idShort: value}; see docs/api.md.
    return {node.id_short: value}


# Part 2 v3.0, table of valid modifiers: $path only for elements with children.
PATH_TYPES = (model.SubmodelElementCollection, model.SubmodelElementList, model.Entity)


def reference_of(element: model.Referable) -> model.ModelReference:
    return model.ModelReference.from_referable(element)


# -- handlers --------------------------------------------------------------------------------------------------------

def make_routes(prefix: str, locate: Locator, deletable: bool = False,
                after_delete: Callable[[Request, ApiState, str], None] | None = None) -> list[Route]:
    """All submodel routes under ``prefix`` (``prefix`` itself is the submodel); ``after_delete`` runs after the
    submodel was deleted (the AAS Repository drops the shell's reference to it)."""

    def read(request: Request) -> tuple[ApiState, Role, model.Submodel]:
        state, role = reader(request)
        sm_id = locate(request, state, role)
        return state, role, state.view.get_submodel(sm_id, role)

    def target(request: Request) -> tuple[ApiState, model.Submodel]:
        state = writer(request)
        sm_id = locate(request, state, Role.OPERATOR)
        try:
            return state, state.repo.get_submodel(sm_id)
        except KeyError:
            raise not_found(f"submodel {sm_id!r}") from None

    def element_path(request: Request) -> str:
        path = request.path_params["idShortPath"]
        paths.parse(path)
        return path

    # ---- the submodel
    async def get_submodel(request: Request) -> Response:
        _, _, sm = read(request)
        return ok(submodel_json(sm, request))

    async def put_submodel(request: Request) -> Response:
        raw = await body_bytes(request)
        state, sm = target(request)
        new = decode_model(raw, model.Submodel)
        if new.id != sm.id:
            raise ApiError(400, f"body id {new.id!r} differs from the addressed submodel {sm.id!r}")
        await locked(state, lambda: state.repo.replace(new))
        return no_content()

    async def delete_submodel(request: Request) -> Response:
        state, sm = target(request)

        def write() -> None:
            state.repo.delete(sm.id)
            if after_delete is not None:
                after_delete(request, state, sm.id)
        await locked(state, write)
        return no_content()

    async def get_metadata(request: Request) -> Response:
        _, _, sm = read(request)
        return ok(metadata(to_dict(sm)))

    async def get_value(request: Request) -> Response:
        _, _, sm = read(request)
        return ok(value_json(sm, request))

    async def patch_value(request: Request) -> Response:
        raw = await body_json(request)
        state, sm = target(request)

        def write() -> None:
            valueonly.apply(valueonly.stage_collection(sm.submodel_element, raw, ""))
            # A ValueOnly PATCH sets values of the elements it names and nothing else.
            state.repo.commit(sm, changed_paths=list(raw))
        await locked(state, write)
        return no_content()

    async def get_reference(request: Request) -> Response:
        _, _, sm = read(request)
        return ok(model.ModelReference.from_referable(sm))

    async def get_path(request: Request) -> Response:
        _, _, sm = read(request)
        deep = parse_level(request.query_params.get("level"))
        out: list[str] = []
        for el in sm.submodel_element:
            out.extend(paths.walk_paths(el, str(el.id_short), deep))
        return ok(out)

    # ---- all elements
    async def get_elements(request: Request) -> Response:
        _, _, sm = read(request)
        q = request.query_params
        deep, with_blob = parse_level(q.get("level")), parse_extent(q.get("extent"))
        return paged(list(sm.submodel_element), request,
                     lambda el: shape(to_dict(el), deep, with_blob, 0))

    async def get_elements_metadata(request: Request) -> Response:
        _, _, sm = read(request)
        return paged(list(sm.submodel_element), request, lambda el: metadata(to_dict(el)))

    async def get_elements_value(request: Request) -> Response:
        _, _, sm = read(request)
        deep = parse_level(request.query_params.get("level"))
        with_blob = parse_extent(request.query_params.get("extent"))
        items = [el for el in sm.submodel_element if valueonly.has_value(el)]
        # ValueOnly of an element is {idShort: value} (IDTA-01002 Part 2, SubmodelElementValue in a paged list).
        return paged(items, request,
                     lambda el: {el.id_short: valueonly.value_of(el, with_blob, None if deep else 0)})

    async def get_elements_reference(request: Request) -> Response:
        _, _, sm = read(request)
        return paged(list(sm.submodel_element), request, reference_of)

    async def get_elements_path(request: Request) -> Response:
        _, _, sm = read(request)
        deep = parse_level(request.query_params.get("level"))
        out: list[str] = []
        for el in sm.submodel_element:
            out.extend(paths.walk_paths(el, str(el.id_short), deep))
        return paged(out, request)

    async def post_element_root(request: Request) -> Response:
        raw = await body_bytes(request)
        state, sm = target(request)
        element = _decode_element(raw)

        def write() -> None:
            _add_child(sm, sm.submodel_element, element)
            state.repo.commit(sm, str(element.id_short), Operation.CREATED, element)
        await locked(state, write)
        return ok(element, 201)

    # ---- one element
    async def get_element(request: Request) -> Response:
        path = element_path(request)
        _, _, sm = read(request)
        return ok(element_json(paths.resolve(sm, path), request))

    async def get_element_metadata(request: Request) -> Response:
        path = element_path(request)
        _, _, sm = read(request)
        element = paths.resolve(sm, path)
        if isinstance(element, model.Operation | model.Capability):
            raise ApiError(400, f"the $metadata modifier does not apply to a {type(element).__name__}")
        return ok(metadata(to_dict(element)))

    async def get_element_value(request: Request) -> Response:
        path = element_path(request)
        _, _, sm = read(request)
        element = paths.resolve(sm, path)
        if not valueonly.has_value(element):
            raise ApiError(400, f"a {type(element).__name__} has no ValueOnly serialisation")
        return ok(value_json(element, request))

    async def get_element_reference(request: Request) -> Response:
        path = element_path(request)
        _, _, sm = read(request)
        return ok(reference_of(paths.resolve(sm, path)))

    async def get_element_path(request: Request) -> Response:
        path = element_path(request)
        _, _, sm = read(request)
        deep = parse_level(request.query_params.get("level"))
        element = paths.resolve(sm, path)
        if not isinstance(element, PATH_TYPES):
            raise ApiError(400, f"the $path modifier applies to collections, lists and entities, not to a "
                                f"{type(element).__name__}")
        return ok(list(paths.walk_paths(element, path, deep)))

    async def put_element(request: Request) -> Response:
        path = element_path(request)
        raw = await body_bytes(request)
        state, sm = target(request)
        new = _decode_element(raw)

        def write() -> None:
            old = paths.resolve(sm, path)
            parent = old.parent
            container = _container(parent)
            if not isinstance(parent, model.SubmodelElementList) and new.id_short != old.id_short:
                raise ApiError(400, f"body idShort {new.id_short!r} differs from the addressed {old.id_short!r}")
            if isinstance(parent, model.SubmodelElementList):
                new.id_short = None
            _replace_child(parent, container, old, new)
            state.repo.commit(sm, path, Operation.UPDATED, new)
        await locked(state, write)
        return no_content()

    async def post_element(request: Request) -> Response:
        path = element_path(request)
        raw = await body_bytes(request)
        state, sm = target(request)
        element = _decode_element(raw)

        def write() -> None:
            parent = paths.resolve(sm, path)
            container = _container(parent)
            if container is None:
                raise ApiError(400, f"a {type(parent).__name__} cannot contain submodel elements")
            _add_child(parent, container, element)
            state.repo.commit(sm, paths.path_of(element), Operation.CREATED, element)
        await locked(state, write)
        return ok(element, 201)

    async def delete_element(request: Request) -> Response:
        path = element_path(request)
        state, sm = target(request)

        def write() -> None:
            element = paths.resolve(sm, path)
            _container(element.parent).remove(element)
            state.repo.commit(sm, path, Operation.DELETED, element)
        await locked(state, write)
        return no_content()

    async def patch_element_value(request: Request) -> Response:
        path = element_path(request)
        raw = await body_json(request)
        state, sm = target(request)

        def write() -> None:
            element = paths.resolve(sm, path)
            valueonly.set_value(element, valueonly.unwrap(element, raw), path)
            state.repo.commit(sm, path, Operation.UPDATED, element)
        await locked(state, write)
        return no_content()

    async def get_attachment(request: Request) -> Response:
        path = element_path(request)
        state, _, sm = read(request)
        element = paths.resolve(sm, path)
        if isinstance(element, model.Blob):
            if element.value is None:
                raise not_found(f"attachment of {path!r}")
            return Response(element.value, media_type=element.content_type or "application/octet-stream")
        if not isinstance(element, model.File):
            raise ApiError(400, f"{path!r} is a {type(element).__name__}, not a File or Blob")
        if element.value is None or element.value not in state.files:
            raise not_found(f"attachment of {path!r} (the File refers to {element.value!r}, not stored here)")
        data = file_bytes(state.files, element.value)
        return Response(data, media_type=element.content_type or "application/octet-stream")

    el = prefix + "/submodel-elements/{idShortPath}"
    base = prefix or "/"
    routes = [
        Route(base, get_submodel, methods=["GET"]),
        Route(base, put_submodel, methods=["PUT"]),
        Route(prefix + "/$metadata", get_metadata, methods=["GET"]),
        Route(prefix + "/$value", get_value, methods=["GET"]),
        Route(prefix + "/$value", patch_value, methods=["PATCH"]),
        Route(prefix + "/$reference", get_reference, methods=["GET"]),
        Route(prefix + "/$path", get_path, methods=["GET"]),
        Route(prefix + "/submodel-elements", get_elements, methods=["GET"]),
        Route(prefix + "/submodel-elements", post_element_root, methods=["POST"]),
        Route(prefix + "/submodel-elements/$metadata", get_elements_metadata, methods=["GET"]),
        Route(prefix + "/submodel-elements/$value", get_elements_value, methods=["GET"]),
        Route(prefix + "/submodel-elements/$reference", get_elements_reference, methods=["GET"]),
        Route(prefix + "/submodel-elements/$path", get_elements_path, methods=["GET"]),
        Route(el, get_element, methods=["GET"]),
        Route(el, put_element, methods=["PUT", "PATCH"]),
        Route(el, post_element, methods=["POST"]),
        Route(el, delete_element, methods=["DELETE"]),
        Route(el + "/$metadata", get_element_metadata, methods=["GET"]),
        Route(el + "/$value", get_element_value, methods=["GET"]),
        Route(el + "/$value", patch_element_value, methods=["PATCH"]),
        Route(el + "/$reference", get_element_reference, methods=["GET"]),
        Route(el + "/$path", get_element_path, methods=["GET"]),
        Route(el + "/attachment", get_attachment, methods=["GET"]),
    ]
    if prefix:
        routes.append(Route(prefix + "/", get_submodel, methods=["GET"]))
    if deletable:
        routes.append(Route(base, delete_submodel, methods=["DELETE"]))
    return routes


def _decode_element(raw: bytes) -> model.SubmodelElement:
    return decode_model(raw, model.SubmodelElement)


def _container(node: Any) -> Any:
    return children_of(node)


def _add_child(parent: Any, container: Any, element: model.SubmodelElement) -> None:
    if isinstance(parent, model.SubmodelElementList):
        element.id_short = None
    if element.id_short is not None and any(c.id_short == element.id_short for c in container):
        raise ApiError(409, f"an element {element.id_short!r} already exists there")
    try:
        container.add(element)
    except (KeyError, TypeError, ValueError, model.AASConstraintViolation) as e:  # e.g. a list's typeValueListElement or semanticId constraint
        raise ApiError(400, f"element does not fit here: {e}") from e


def _replace_child(parent: Any, container: Any, old: model.SubmodelElement, new: model.SubmodelElement) -> None:
    """Put ``new`` at ``old``'s position; on a constraint violation the container is restored unchanged."""
    items = list(container)
    index = items.index(old)
    for item in items:
        container.remove(item)
    replaced = items[:index] + [new] + items[index + 1:]
    try:
        for item in replaced:
            container.add(item)
    except (KeyError, TypeError, ValueError, model.AASConstraintViolation) as e:
        for item in list(container):
            container.remove(item)
        for item in items:
            container.add(item)
        raise ApiError(400, f"element does not fit here: {e}") from e

