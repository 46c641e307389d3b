"""The per-video ingestion function: one video file -> one `schema.VideoRecord`.

`ingest_video` is what both drivers (local pool, Apache Beam) call: a
module-level function of plain, picklable arguments. It streams the video
once: decode, resize, JPEG-encode the RGB frame, convert to gray, compute flow
(and warped flow) against the previous gray frame, quantize and JPEG-encode
the flow, so only two decoded frames are alive at a time. A bar counts the
flow pairs of a video that takes more than 2 s (`progress.pairs_bar`).

OpenCV threads: each OpenCV call may use several threads. Drivers that run one
process per core should call ``cv2.setNumThreads(1)`` in every worker.
"""
import contextlib
import dataclasses
import json
from typing import Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from tsn_tf.input.contract import log_mel, preprocessing, schema
from tsn_tf.input.ingestion import audio as audio_lib
from tsn_tf.input.ingestion import flow as flow_lib
from tsn_tf.input.ingestion import flow_pool
from tsn_tf.input.ingestion import flow_tf
from tsn_tf.input.ingestion import progress
from tsn_tf.input.ingestion import video as video_lib

MODALITIES = ("rgb", "flow", "warped_flow", "audio")
TSN_SIZE = preprocessing.DEFAULT_SIZE


@dataclasses.dataclass(frozen=True)
class IngestOptions:
    """How videos become records.

    modalities: subset of ("rgb", "flow", "warped_flow", "audio"); "audio"
        stores log-mel frames of the audio track (see audio.py) or, for a
        video without one, marks it `AUDIO/present` = 0.
    flow_algorithm: "tvl1" (the paper's), "dis" or "farneback" (see flow.py).
    flow_bound: flow is clipped to [-bound, bound] px before 8-bit quantization.
    size: (width, height) every frame is resized to (TSN: 340x256), or None.
    short_side: instead of `size`, the short side in px (aspect ratio kept);
        set `size=None` with it.
    jpeg_quality: OpenCV JPEG quality (0-100) of RGB and flow images.
    max_frames: keep at most this many frames of each video (memory cap).
    allow_truncated: keep the frames that decode from a truncated video
        instead of raising `VideoDecodeError`.
    """
    modalities: Tuple[str, ...] = ("rgb", "flow")
    flow_algorithm: str = preprocessing.DEFAULT_FLOW_ALGORITHM
    flow_bound: float = preprocessing.DEFAULT_FLOW_BOUND
    size: Optional[Tuple[int, int]] = TSN_SIZE
    short_side: Optional[int] = None
    jpeg_quality: int = preprocessing.DEFAULT_JPEG_QUALITY
    max_frames: Optional[int] = None
    allow_truncated: bool = False

    def __post_init__(self):
        modalities = tuple(self.modalities)
        object.__setattr__(self, "modalities", modalities)
        unknown = [m for m in modalities if m not in MODALITIES]
        if unknown or not modalities:
            raise ValueError(f"modalities must be a non-empty subset of {MODALITIES}; "
                             f"received {modalities}")
        if self.flow_algorithm not in flow_lib.FLOW_ALGORITHMS:
            raise ValueError(f"unknown flow_algorithm {self.flow_algorithm!r}; expected one "
                             f"of {flow_lib.FLOW_ALGORITHMS}")
        if self.flow_bound <= 0:
            raise ValueError(f"flow_bound must be positive; received {self.flow_bound}")
        if self.size is not None and self.short_side is not None:
            raise ValueError(f"pass size=None with short_side={self.short_side} "
                             f"(received size={self.size})")
        if not 0 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be in 0..100; received {self.jpeg_quality}")

    @property
    def has_flow(self) -> bool:
        return "flow" in self.modalities or "warped_flow" in self.modalities


def options_for(recorded: preprocessing.Preprocessing, modalities: Sequence[str], *,
                max_frames: Optional[int] = None, allow_truncated: bool = False
                ) -> IngestOptions:
    """`IngestOptions` that encode `modalities` of a video as the shards `recorded`
    describes were (tsn-predict and the serving client reproduce training with it)."""
    size, short_side = preprocessing.parse_resize(recorded.resize)
    stored = tuple(sorted({"rgb" if m in ("rgb", "rgb_diff") else m for m in modalities}))
    needs_flow = any(m in preprocessing.FLOW_MODALITIES for m in stored)
    algorithm = preprocessing.flow_to_compute(recorded.flow_algorithm)
    if needs_flow and algorithm not in flow_lib.FLOW_ALGORITHMS:
        raise ValueError(f"The model's flow was made with {recorded.flow_algorithm!r}, which "
                         f"cannot be computed here; pick one of {flow_lib.FLOW_ALGORITHMS}")
    return IngestOptions(
            modalities=stored, size=size, short_side=short_side,
            jpeg_quality=recorded.jpeg_quality, max_frames=max_frames,
            allow_truncated=allow_truncated,
            flow_algorithm=algorithm if needs_flow else preprocessing.DEFAULT_FLOW_ALGORITHM,
            flow_bound=recorded.flow_bound)


@dataclasses.dataclass
class EncodedStreams:
    """JPEG streams of one video, as `encode_frames` produces them."""
    num_frames: int = 0
    height: int = 0
    width: int = 0
    rgb_jpegs: List[bytes] = dataclasses.field(default_factory=list)
    flow_x_jpegs: List[bytes] = dataclasses.field(default_factory=list)
    flow_y_jpegs: List[bytes] = dataclasses.field(default_factory=list)
    warped_flow_x_jpegs: List[bytes] = dataclasses.field(default_factory=list)
    warped_flow_y_jpegs: List[bytes] = dataclasses.field(default_factory=list)
    timestamps_us: List[int] = dataclasses.field(default_factory=list)  # set by readers


def flow_settings(options: IngestOptions) -> flow_pool.FlowSettings:
    """The flow streams `options` asks for, as `flow_pool` computes them."""
    return flow_pool.FlowSettings(options.flow_algorithm, float(options.flow_bound),
                                  int(options.jpeg_quality),
                                  plain="flow" in options.modalities,
                                  warped="warped_flow" in options.modalities)


def _add_pair(streams: EncodedStreams, pair: flow_pool.PairJpegs):
    plain, warped = pair
    if plain is not None:
        streams.flow_x_jpegs.append(plain[0])
        streams.flow_y_jpegs.append(plain[1])
    if warped is not None:
        streams.warped_flow_x_jpegs.append(warped[0])
        streams.warped_flow_y_jpegs.append(warped[1])


def encode_frames(frames_bgr: Iterable[np.ndarray], options: IngestOptions, *,
                  progress=None, workers: int = 1) -> EncodedStreams:
    """Encodes a stream of equally sized uint8 BGR frames (OpenCV's order).

    N frames give N RGB JPEGs and N - 1 flow x/y JPEG pairs per flow modality.
    progress: told `update(1)` per flow pair (e.g. a tqdm bar), or None.
    workers: > 1 holds all frames in memory and computes the flow of frame
        ranges on that many processes (`flow_pool`); the bytes are the same.
    """
    want_rgb = "rgb" in options.modalities
    settings = flow_settings(options)
    batched = settings.plain and options.flow_algorithm in flow_lib.TF_ALGORITHMS
    parallel = workers > 1 and options.has_flow and not batched
    per_pair = dataclasses.replace(settings, plain=False) if batched else settings
    pair_encoder = flow_pool.PairEncoder(per_pair) \
        if (per_pair.plain or per_pair.warped) and not parallel else None
    batcher = None
    streams = EncodedStreams()
    grays = []
    for frame in frames_bgr:
        rgb_jpeg = flow_pool.jpeg(frame, options.jpeg_quality) if want_rgb or batched else None
        if want_rgb:
            streams.rgb_jpegs.append(rgb_jpeg)
        if batched:
            batcher = batcher or flow_tf.PairBatcher(
                    options.flow_algorithm, bound=options.flow_bound, height=frame.shape[0],
                    width=frame.shape[1])
            _add_flows(streams, batcher.add(rgb_jpeg), settings, progress)
        if pair_encoder is not None or parallel:
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            if pair_encoder is not None and grays:
                _add_pair(streams, pair_encoder(grays[-1], gray))
                if progress is not None and batcher is None:
                    progress.update(1)
            if parallel:
                grays.append(gray)
            else:
                grays = [gray]
        streams.num_frames += 1
        streams.height, streams.width = frame.shape[:2]
    if batcher is not None:
        _add_flows(streams, batcher.finish(), settings, progress)
    if parallel and len(grays) > 1:
        for pair in flow_pool.encode_pairs_parallel(grays, settings, workers, progress):
            _add_pair(streams, pair)
    return streams


def _add_flows(streams: EncodedStreams, flows, settings: flow_pool.FlowSettings, progress):
    """JPEGs of quantized flows computed in a batch (TF TV-L1), in pair order."""
    quality = settings.jpeg_quality
    for flow in flows:
        _add_pair(streams, (tuple(flow_pool.jpeg(np.ascontiguousarray(flow[..., axis]), quality)
                                  for axis in (0, 1)), None))
        if progress is not None:
            progress.update(1)


def expected_frames(header_frame_count: int, max_frames: Optional[int]) -> int:
    """Frames a video will give: the container's count (0: unknown) capped by
    `max_frames`, or `max_frames` when the container does not say."""
    if max_frames:
        return min(header_frame_count, max_frames) if header_frame_count else max_frames
    return header_frame_count


def flow_progress(reader: video_lib.VideoReader, options: IngestOptions, description: str,
                  delay: float = None):
    """A bar of the flow pairs of `reader`'s video (`progress.pairs_bar`), shown after
    `delay` s (default `progress.PAIRS_BAR_DELAY_S`); a no-op context without flow."""
    if not options.has_flow:
        return contextlib.nullcontext()
    expected = expected_frames(reader.header_frame_count, options.max_frames)
    return progress.pairs_bar(expected - 1 if expected else None, description,
                              delay=progress.PAIRS_BAR_DELAY_S if delay is None else delay)


def segments_to_us(segments: Sequence[Tuple[float, float, int, str]], media_id: str):
    """(start_s, end_s, label_index, label_string) tuples -> four parallel lists."""
    starts, ends, indices, names = [], [], [], []
    for start_s, end_s, label_index, label_string in segments:
        if not 0 <= start_s <= end_s:
            raise ValueError(f"{media_id}: segment ({start_s}, {end_s}) needs "
                             f"0 <= start <= end seconds")
        starts.append(int(round(start_s * 1_000_000)))
        ends.append(int(round(end_s * 1_000_000)))
        indices.append(int(label_index))
        names.append(str(label_string))
    return starts, ends, indices, names


def ingest_video(path, *, media_id: str, label_indices: Sequence[int],
                 label_strings: Sequence[str], options: IngestOptions = IngestOptions(),
                 segments: Sequence[Tuple[float, float, int, str]] = ()) -> schema.VideoRecord:
    """Decodes and encodes one video file into a shard record.

    Args:
        path: local video file.
        media_id: unique id of the video in the dataset.
        label_indices, label_strings: its class(es).
        options: `IngestOptions`.
        segments: for untrimmed videos, (start_s, end_s, label_index,
            label_string) per annotated action.
    Raises:
        VideoDecodeError: the file is missing, empty, not a decodable video,
            has no frames, or is truncated (unless `options.allow_truncated`).
        AudioDecodeError: with "audio", a track that exists but does not decode.
        ValueError: a segment with start < 0 or end < start.
    """
    starts, ends, segment_indices, segment_names = segments_to_us(segments, media_id)
    reader = video_lib.VideoReader(path, size=options.size, short_side=options.short_side,
                                   max_frames=options.max_frames)
    with reader, flow_progress(reader, options, media_id) as bar:
        streams = encode_frames(reader, options, progress=bar)
    reader.check_truncated(options.allow_truncated)
    rgb = "rgb" in options.modalities
    audio = audio_fields(path, reader.num_decoded / reader.frame_rate) \
        if "audio" in options.modalities else {}
    return schema.VideoRecord(
            media_id=media_id, label_indices=list(label_indices),
            label_strings=list(label_strings), height=streams.height, width=streams.width,
            frame_rate=reader.frame_rate, rgb_jpegs=streams.rgb_jpegs,
            timestamps_us=reader.timestamps_us() if rgb else [], data_path=str(path),
            flow_x_jpegs=streams.flow_x_jpegs, flow_y_jpegs=streams.flow_y_jpegs,
            warped_flow_x_jpegs=streams.warped_flow_x_jpegs,
            warped_flow_y_jpegs=streams.warped_flow_y_jpegs,
            flow_bound=float(options.flow_bound) if options.has_flow else 0.0,
            flow_algorithm=options.flow_algorithm if options.has_flow else "",
            flow_parameters=json.dumps(flow_lib.FlowEstimator(options.flow_algorithm).parameters())
            if options.has_flow else "",
            resize=preprocessing.resize_text(options.size, options.short_side),
            jpeg_quality=int(options.jpeg_quality),
            segment_start_us=starts, segment_end_us=ends,
            segment_label_indices=segment_indices, segment_label_strings=segment_names,
            source_size=reader.source_size, **audio)


def audio_fields(path, video_duration_s: float) -> dict:
    """`VideoRecord` audio fields of the file's first audio track, clipped to the video.

    A file without an audio track, or with one shorter than a 25 ms window,
    gives ``{"audio_present": False}``.
    Raises:
        AudioDecodeError: the track exists but does not decode.
    """
    decoded = audio_lib.read_audio(path, max_duration_s=video_duration_s)
    frames = log_mel.log_mel(decoded.samples) if decoded is not None else None
    if frames is None or len(frames) == 0:
        return {"audio_present": False}
    return dict(audio_present=True, audio_log_mel=frames,
                audio_timestamps_us=log_mel.frame_timestamps_us(len(frames), decoded.start_s),
                audio_mel_bins=log_mel.MEL_BINS, audio_feature_rate=log_mel.FRAME_RATE,
                audio_sample_rate=float(decoded.sample_rate),
                audio_window_samples=log_mel.WINDOW_SAMPLES,
                audio_hop_samples=log_mel.HOP_SAMPLES,
                audio_source_sample_rate=float(decoded.source_sample_rate))
