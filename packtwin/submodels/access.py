"""Access groups of the EU Battery Regulation (2023/1542, Art. 77(2) and Annex XIII) on passport elements.

Each passport element carries its group as an AAS Extension named ``BatteryPassAccessGroup`` (value ``public``,
``legitimateInterest`` or ``authorities``). An element without the extension inherits the group of its nearest
ancestor that has one; a submodel without any is public. Groups are ordered: a caller entitled to a group sees that
group and every lower one (the Commission and authorities see everything a person with legitimate interest sees).

Every way out (HTTP API, SPARQL, AASX export, events, Ditto) filters with :func:`visible` / :func:`filter_copy`.
"""

from __future__ import annotations

import copy
from enum import IntEnum, StrEnum

from basyx.aas import model

EXTENSION_NAME = "BatteryPassAccessGroup"
# Names the regulation's clause; resolvable documentation of the extension lives in docs/passport-levels.md.
EXTENSION_SEMANTIC_ID = "https://eur-lex.europa.eu/eli/reg/2023/1542/oj#art_77"


class AccessGroup(IntEnum):
    PUBLIC = 0
    LEGITIMATE_INTEREST = 1
    AUTHORITIES = 2

    @property
    def token(self) -> str:
        return _TOKENS[self]

    @classmethod
    def parse(cls, token: str) -> AccessGroup:
        try:
            return _BY_TOKEN[token]
        except KeyError:
            raise ValueError(f"unknown access group {token!r}; expected one of {', '.join(_BY_TOKEN)}") from None


_TOKENS = {
    AccessGroup.PUBLIC: "public",
    AccessGroup.LEGITIMATE_INTEREST: "legitimateInterest",
    AccessGroup.AUTHORITIES: "authorities",
}
_BY_TOKEN = {v: k for k, v in _TOKENS.items()}


class Role(StrEnum):
    """Roles of API callers; each is entitled to the access groups up to :attr:`clearance`."""

    ANONYMOUS = "anonymous"
    LEGITIMATE_INTEREST = "legitimate_interest"  # repairer, second-life operator, recycler
    AUTHORITY = "authority"  # notified bodies, market surveillance, the Commission
    OPERATOR = "operator"  # the twin's operator: reads everything and may write

    @property
    def clearance(self) -> AccessGroup:
        return {
            Role.ANONYMOUS: AccessGroup.PUBLIC,
            Role.LEGITIMATE_INTEREST: AccessGroup.LEGITIMATE_INTEREST,
            Role.AUTHORITY: AccessGroup.AUTHORITIES,
            Role.OPERATOR: AccessGroup.AUTHORITIES,
        }[self]

    @property
    def may_write(self) -> bool:
        return self is Role.OPERATOR


def _extension(obj: model.HasExtension) -> model.Extension | None:
    for ext in obj.extension:
        if ext.name == EXTENSION_NAME:
            return ext
    return None


def set_access_group(obj: model.HasExtension, group: AccessGroup) -> None:
    ext = _extension(obj)
    if ext is None:
        obj.extension.add(model.Extension(
            EXTENSION_NAME, value_type=model.datatypes.String, value=group.token,
            semantic_id=model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, EXTENSION_SEMANTIC_ID),)),
        ))
    else:
        ext.value = group.token


def own_access_group(obj: model.HasExtension) -> AccessGroup | None:
    """The group marked on ``obj`` itself, or None."""
    ext = _extension(obj)
    return AccessGroup.parse(str(ext.value)) if ext is not None and ext.value is not None else None


def access_group_of(obj: model.Referable) -> AccessGroup:
    """The effective group of ``obj``: its own mark or the nearest marked ancestor's; public when none is."""
    node: object = obj
    while isinstance(node, model.Referable):
        if isinstance(node, model.HasExtension):
            group = own_access_group(node)
            if group is not None:
                return group
        node = node.parent
    return AccessGroup.PUBLIC


def visible(obj: model.Referable, role: Role) -> bool:
    return access_group_of(obj) <= role.clearance


def filter_copy(submodel: model.Submodel, role: Role) -> model.Submodel:
    """A deep copy of ``submodel`` without the elements above ``role``'s clearance (the original is untouched)."""
    clone = copy.deepcopy(submodel)
    _prune(clone, role.clearance, access_group_of(clone))
    return clone


def _prune(node: model.Referable, clearance: AccessGroup, inherited: AccessGroup) -> None:
    children = children_of(node)
    if children is None:
        return
    for child in list(children):
        group = own_access_group(child)
        effective = group if group is not None else inherited
        if effective > clearance:
            children.remove(child)
        else:
            _prune(child, clearance, effective)


def children_of(node: model.Referable) -> model.NamespaceSet | model.OrderedNamespaceSet | None:
    """The set that holds a submodel's or element's child elements (None for leaf elements)."""
    if isinstance(node, model.Submodel):
        return node.submodel_element
    if isinstance(node, model.SubmodelElementCollection | model.SubmodelElementList):
        return node.value
    if isinstance(node, model.Entity):
        return node.statement
    if isinstance(node, model.AnnotatedRelationshipElement):
        return node.annotation
    return None
