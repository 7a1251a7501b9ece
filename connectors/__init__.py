"""The connector framework: sources of kind http, sql or files, declared in TOML (see connectors/README.md).

Connectors only read and yield raw records in batches with their cursor; `hub/sync/`
maps, validates, writes and commits them.
"""
