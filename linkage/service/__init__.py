"""The resolve-identity HTTP service over the identity store (``linkage serve``).

:func:`create_app` builds the application and needs the ``service`` extra
(FastAPI, uvicorn); it is imported on first use, so key and list management
(:mod:`.auth`, :mod:`.lists`) and the audit reader work without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from linkage.service.audit import read_audit
from linkage.service.auth import ROLES, Role, create_key, list_keys, revoke_key
from linkage.service.lists import LIST_KINDS, ListInfo, list_entries, list_info, load_list

if TYPE_CHECKING:
    from linkage.service.app import create_app

__all__ = [
    "LIST_KINDS",
    "ROLES",
    "ListInfo",
    "Role",
    "create_app",
    "create_key",
    "list_entries",
    "list_info",
    "list_keys",
    "load_list",
    "read_audit",
    "revoke_key",
]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from linkage.service.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
