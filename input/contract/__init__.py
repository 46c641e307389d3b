"""The shard contract: what ingestion writes and the pipeline reads.

`schema` (MediaSequence keys and their units), `layout` (the indexed shard
file: a record per frame, a per-video index, a footer), `preprocessing` (how
the stored frames were made: what serving must reproduce) and `log_mel` (the
stored audio feature). Imports neither `ingestion` nor `pipeline`.
"""
