"""Data, in three rooms around one contract.

- `contract`: what the shards are (keys and units, the indexed file layout,
  how the frames were made, the audio feature). Both other rooms import it.
- `ingestion`: offline, video files and lists -> shards (tsn-ingest).
- `pipeline`: online, shards -> batches of clips in tf.data (tsn-train, tsn-eval).

`ingestion` and `pipeline` never import each other (tests/test_layering.py).
Ops that run inside the model's graph live in `tsn_tf.ops`.
"""
