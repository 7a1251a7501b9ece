"""The tamper-evident audit trail: records, redaction, the group-commit writer, verification."""
