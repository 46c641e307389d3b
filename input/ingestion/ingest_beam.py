"""Apache Beam ingestion driver: the same per-video task and shard files on any runner.

Pipeline: Create(tasks) -> ParDo(ingest; failures to a tagged output) ->
CoGroupByKey by shard -> write each shard (temp name, rename, done-marker).
The shard plan, the record order inside a shard and the writer are those of
the local driver, so both produce the same files. Shards already complete in
`output` are left out of the pipeline (resume); the launcher then builds the
manifest from the done-markers.

Remote runners (Dataflow, Flink, Spark) need `video_dir` and `output` on a
filesystem the workers share (gs://, s3://, ...); workers copy each video to
a local temp file for OpenCV.
"""
from typing import Dict, Optional, Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from tsn_tf.input.ingestion import shards
from tsn_tf.input.ingestion.lists import VideoEntry

FAILURES = "failures"


class IngestVideo(beam.DoFn):
    """(shard name, position, entry) -> (shard, (position, result)); failures tagged."""

    def __init__(self, label_map: Dict[str, int], options):
        self.label_map = label_map
        self.options = options

    def setup(self):
        import cv2
        cv2.setNumThreads(1)

    def process(self, task):
        shard_name, position, entry = task
        result = shards.ingest_entry(entry, self.label_map, self.options)
        beam.metrics.Metrics.counter("tsn_ingest", "videos").inc()
        if result.ok:
            yield shard_name, (position, result)
        else:
            beam.metrics.Metrics.counter("tsn_ingest", "failures").inc()
            yield beam.pvalue.TaggedOutput(FAILURES, (shard_name, (position, result)))


class WriteShard(beam.DoFn):
    """(shard, {"records": [...], "failures": [...]}) -> the shard file and its marker."""

    def __init__(self, output: str, plan: Dict[str, tuple]):
        self.output = output
        self.plan = plan  # shard name -> (ShardSpec without entries, fingerprint)

    def process(self, keyed):
        shard_name, grouped = keyed
        spec, shard_fingerprint = self.plan[shard_name]
        ordered = sorted(list(grouped["records"]) + list(grouped[FAILURES]),
                         key=lambda item: item[0])
        shards.remove_stale_temps(self.output, spec)
        marker = shards.write_shard(self.output, spec, (r for _, r in ordered),
                                    shard_fingerprint)
        yield shard_name, len(marker["videos"]), len(marker["failures"])


def build_pipeline(pipeline: beam.Pipeline, pending, label_map: Dict[str, int], output: str,
                   options) -> None:
    """Adds the ingest-and-write steps for `pending` [(spec, fingerprint)] to `pipeline`."""
    tasks = [(spec.name, position, entry) for spec, _ in pending
             for position, entry in enumerate(spec.entries)]
    plan = {spec.name: (shards.ShardSpec(spec.split, spec.index, spec.count, ()), fp)
            for spec, fp in pending}
    ingested = (pipeline
                | "ListVideos" >> beam.Create(tasks, reshuffle=True)
                | "Ingest" >> beam.ParDo(IngestVideo(label_map, options)).with_outputs(
                    FAILURES, main="records"))
    # Every pending shard gets a key even if all its videos failed or it is empty.
    keys = pipeline | "ShardKeys" >> beam.Create([(name, None) for name in plan])
    _ = ({"records": ingested.records, FAILURES: ingested[FAILURES], "keys": keys}
         | "GroupByShard" >> beam.CoGroupByKey()
         | "WriteShards" >> beam.ParDo(WriteShard(output, plan)))


def ingest_beam(entries: Sequence[VideoEntry], label_map: Dict[str, int], output: str,
                options, *, num_shards: Optional[int] = None,
                videos_per_shard: Optional[int] = None, runner: str = "DirectRunner",
                pipeline_args: Sequence[str] = (), retry_failures: bool = False) -> dict:
    """Runs ingestion as a Beam pipeline on `runner`, waits, returns the manifest."""
    specs = shards.plan_shards(entries, num_shards, videos_per_shard)
    shards.prepare_output(output, label_map)
    pending = shards.pending_shards(output, specs, label_map, options, retry_failures)
    if pending:
        pipeline_options = PipelineOptions(list(pipeline_args), runner=runner,
                                           save_main_session=False)
        with beam.Pipeline(options=pipeline_options) as pipeline:
            build_pipeline(pipeline, pending, label_map, output, options)
    return shards.build_manifest(output, specs, label_map, options)
