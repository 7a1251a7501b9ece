"""The key behind the audit trail's keyed hashes: `HUB_AUDIT_KEY`, or in dev a generated file."""

from __future__ import annotations

import os
import secrets

from hub.config import Settings


class AuditKeyError(RuntimeError):
    pass


def audit_key(settings: Settings) -> bytes:
    if settings.audit_key is not None:
        return settings.audit_key.get_secret_value().encode()
    if not settings.is_dev:
        raise AuditKeyError(
            "HUB_AUDIT_KEY is not set: production needs a secret key for the audit trail's "
            "keyed hashes (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)"
        )
    path = settings.var_dir / "audit.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
    return path.read_text().strip().encode()
