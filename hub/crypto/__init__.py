"""Field encryption at rest: ID numbers and phone numbers never stored in clear.

suites (AES-256-GCM + HMAC-SHA-256, SM4-GCM + HMAC-SM3) · ring (`KeyRing`: seal, open and
blind-index values; the format of a sealed value) · master (`HUB_FIELD_KEY`, which wraps the
data keys) · store (`FieldKeys`: the data keys kept wrapped in the database, refreshed while
the hub serves) · columns (which columns are sealed, and rows sealed in batches) · rotation
(`hub keys rotate-field-key`).
"""
