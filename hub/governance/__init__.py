"""Grid governance: cases handled level by level, home visits, patrols, joint meetings, KPIs.

The domain layer (after Netflix/dispatch's case/): enums and the state machine are pure;
services take the session first and everything else keyword-only, flush but never commit;
who may do what is decided in `permissions` alone. Tables live in
`hub.storage.models.governance`, GraphQL (phase 2) in `schema/governance/`.
"""
