"""Offline ingestion: video files and their lists -> shards (the `contract`).

Decoding (`video`, `audio`), flow (`flow`, `warp`, `flow_pool`), one video's
record (`encode`), dataset lists (`lists`), shard planning and resume
(`shards`), the local and Beam drivers, and the tools tsn-ingest and
relayout. Imports the `contract`, never the `pipeline`.
"""
