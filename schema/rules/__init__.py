"""Parse- and validation-time rules that read the document: limits and cost."""
