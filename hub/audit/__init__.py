"""The tamper-evident audit trail.

How an event travels, and which module holds each step::

    ledger.py        what one request was allowed, refused and returned
    records.py       the event and its hash chain (canonical form, hashes)
    trail.py         the app's entry: record_refusal; wires what follows
      floods.py        refusals that come in floods, counted per address and minute
      redaction.py     ID and mobile numbers replaced by keyed hashes (every record)
      writer.py        group commit into the chain; sinks.py: the connection it writes on
      partitions.py    PostgreSQL's monthly partitions, created ahead
      checkpointer.py  signs the chain's head (checkpoints.py: the JWS) every N events or
                       T seconds, stores it and hands it to outside.py (file, witness)

    verify.py        the database against itself and the checkpoints:
      walk.py          links, hashes, head; the access index against the events
      anchors.py       which checkpoints to trust, and what they must agree with
      report.py        the problems found, by kind
    verify_export.py the same for an export file, offline
    export.py        JSON Lines (checkpoints interleaved) or CSV
    status.py        the cheap per-chain status behind auditChainStatus
    search.py        the auditor's queries; cli.py: `hub audit …`
"""
