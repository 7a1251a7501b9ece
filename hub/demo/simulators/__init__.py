"""Department simulators: the systems GridHub's connectors pull from, built from the demo district.

`world.DepartmentWorld` converts the canonical synthetic district (`hub.demo.population`) into
each department's raw records once; the health and police HTTP APIs (`health_api`,
`police_api`), the social security SQL database (`social_db`) and the education file exports
(`education_files`) serve or write those records in the department's own format, with
switchable faults (`faults`). `run.start_simulators` starts them all for the demo and tests.
"""
