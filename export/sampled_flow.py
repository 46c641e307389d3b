"""Flow of only the pairs a flow model reads: TSN's test protocol on a raw video.

A served flow model samples its snippets from the number of flow frames it
receives (N - 1 for N video frames): 25 segments of L = 5 flow frames for a
trimmed video (`serving.test_offsets`), one snippet a second for an untrimmed
one (`serving.snippet_offsets`, which also depends on the frame rate), or one
centred every `interval` frames for snippet features (`serving.interval_snippets`,
`snippet_features`: 5 of every 16 pairs at interval 16). It then
gathers the sampled JPEGs and decodes only those (`eval_views.eval_clip`:
gather, then `eval_views`; `serving.check_jpegs` reads only the first bytes
of every frame, `tf.io.is_jpeg`). A 60 s 30 fps video has 1,799 pairs and
the trimmed protocol reads 125 of them.

So tsn-predict sends a flow stream of the usual length N - 1 in which the
sampled positions hold the real flow JPEGs, byte for byte those of computing
every pair, and the others `PLACEHOLDER_JPEG`, a 1x1 grey JPEG the graph never
decodes: the scores are those of the full stream, and the SavedModel's
contract (signatures, inputs) is unchanged. Which positions are sampled is
computed here with the serving code's own functions on the count and frame
rate (float32, as the signature takes it) the graph will see; a selector for
several models is the union of theirs.

This holds for flow whose pair depends only on its two frames: OpenCV's TV-L1,
DIS and Farneback (`OPENCV_ALGORITHMS`; warped flow adds a homography of the
same two frames). One exception, measured with OpenCV 4.11: on tiny frames
(42x32) DIS gives another result on an object's first call than on any later
one, whatever pair came before (at 340x256 both agree); every later call
depends only on its two frames. The every-pair loop computes pair 0 on a first
call and every other pair on a later one, so a serial pass that starts past
pair 0 first computes the pair before its first (and drops it). TV-L1 and
Farneback show no such effect, which the parallel path (TV-L1, a fresh
estimator per run, as `flow_pool`'s) relies on; tests check both.

Decoding: the frame count and the rate (from the presentation timestamps) are
known only once the video is decoded, so the pairs are chosen from the
container header's count and rate while decoding (one pass, each pair
computed when its second frame arrives, only the previous grey frame kept),
and checked against the decoded count and rate afterwards; pairs the header
guessed wrong are computed in a second decode of the file.
"""
import concurrent.futures
import multiprocessing
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import cv2
import numpy as np

from tsn_tf.input.ingestion import encode
from tsn_tf.input.ingestion import flow as flow_lib
from tsn_tf.input.ingestion import flow_pool
from tsn_tf.input.ingestion import video as video_lib
from tsn_tf.input.pipeline import sampling
from tsn_tf.ops import serving

OPENCV_ALGORITHMS = flow_lib.OPENCV_ALGORITHMS  # a pair's flow depends on its frames only
MAX_RUN_PAIRS = 8  # consecutive sampled pairs given to one worker process at most

# (number of flow frames, frame rate) -> flow frame indices the model(s) read
Selector = Callable[[int, float], Iterable[int]]


def _placeholder_jpeg() -> bytes:
    return flow_pool.jpeg(np.full((1, 1), 128, np.uint8), 90)


PLACEHOLDER_JPEG = _placeholder_jpeg()


def trimmed_flow_frames(num_flow_frames: int, settings: serving.ViewSettings) -> np.ndarray:
    """Sorted flow frame indices `serving_default` reads from `num_flow_frames` frames."""
    if num_flow_frames < 1:
        return np.zeros([0], np.int64)
    offsets = serving.test_offsets(num_flow_frames, settings)
    return _snippet_frames(offsets, num_flow_frames, settings)


def untrimmed_flow_frames(num_flow_frames: int, frame_rate: float,
                          settings: serving.ViewSettings,
                          snippets_per_second: float) -> np.ndarray:
    """Sorted flow frame indices `snippet_scores` reads from `num_flow_frames` frames at
    `frame_rate` (rounded to float32, the signature's dtype)."""
    if num_flow_frames < 1:
        return np.zeros([0], np.int64)
    offsets = serving.snippet_offsets(num_flow_frames, np.float32(frame_rate),
                                      snippets_per_second)
    return _snippet_frames(offsets, num_flow_frames, settings)


def interval_flow_frames(num_flow_frames: int, interval: int,
                         settings: serving.ViewSettings) -> np.ndarray:
    """Sorted flow frame indices `snippet_features` reads from `num_flow_frames` frames
    with snippets centred every `interval` frames."""
    serving.check_interval(interval, settings)
    if num_flow_frames < 1:
        return np.zeros([0], np.int64)
    _, offsets = serving.interval_snippets(num_flow_frames, interval, settings)
    return _snippet_frames(offsets, num_flow_frames, settings)


def _snippet_frames(offsets, num_flow_frames, settings):
    indices = sampling.snippet_indices(offsets, serving.snippet_items(settings),
                                       num_flow_frames)
    return np.unique(np.asarray(indices).reshape(-1)).astype(np.int64)


def selector(view_settings: Sequence[serving.ViewSettings], *, untrimmed: bool = False,
             snippets_per_second: Sequence[float] = (),
             interval: Optional[int] = None) -> Selector:
    """The union of the flow frames that models with `view_settings` read (trimmed
    protocol, `untrimmed` with each model's `snippets_per_second`, or with `interval`
    the snippet features' snippets centred every `interval` frames)."""
    view_settings = list(view_settings)
    if interval is not None and untrimmed:
        raise ValueError("A selector takes untrimmed snippets or an interval, not both")
    for settings in view_settings if interval is not None else []:
        serving.check_interval(interval, settings)
    rates = list(snippets_per_second) if untrimmed else [None] * len(view_settings)
    if len(rates) != len(view_settings):
        raise ValueError(f"{len(rates)} snippet rates for {len(view_settings)} models")

    def frames_of(settings, rate, num_flow_frames, frame_rate):
        if interval is not None:
            return interval_flow_frames(num_flow_frames, interval, settings)
        if rate is None:
            return trimmed_flow_frames(num_flow_frames, settings)
        return untrimmed_flow_frames(num_flow_frames, frame_rate, settings, rate)

    def select(num_flow_frames: int, frame_rate: float) -> List[int]:
        chosen = set()
        for settings, rate in zip(view_settings, rates):
            chosen.update(int(i) for i in frames_of(settings, rate, num_flow_frames,
                                                    frame_rate))
        return sorted(chosen)

    return select


# --- encoding ----------------------------------------------------------------

class _Pool:
    """Runs of consecutive pairs computed on spawn processes, at most 2 runs a worker
    queued (the grey frames in flight stay few)."""

    def __init__(self, settings: flow_pool.FlowSettings, workers: int, computed, progress):
        self.settings, self.workers = settings, workers
        self.computed, self.progress = computed, progress
        self.pending = {}
        self.executor = concurrent.futures.ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=cv2.setNumThreads, initargs=(1,))

    def submit(self, first_pair: int, grays: List[np.ndarray]):
        while len(self.pending) >= 2 * self.workers:
            self._collect(concurrent.futures.FIRST_COMPLETED)
        future = self.executor.submit(flow_pool.encode_range, grays, self.settings)
        self.pending[future] = first_pair

    def _collect(self, return_when):
        done, _ = concurrent.futures.wait(list(self.pending), return_when=return_when)
        for future in done:
            first_pair = self.pending.pop(future)
            pairs = future.result()
            for k, pair in enumerate(pairs):
                self.computed[first_pair + k] = pair
            if self.progress is not None:
                self.progress.update(len(pairs))

    def finish(self):
        try:
            if self.pending:
                self._collect(concurrent.futures.ALL_COMPLETED)
        finally:
            self.executor.shutdown(cancel_futures=True)


def flow_pass(frames_bgr: Iterable[np.ndarray], options: encode.IngestOptions,
              wanted: Iterable[int], computed: Dict[int, flow_pool.PairJpegs], *,
              streams: Optional[encode.EncodedStreams] = None, progress=None,
              workers: int = 1) -> int:
    """One decode of a video: the pairs (i, i + 1) for i in `wanted` into `computed`.

    Frames are converted to grey and the pairs encoded as `encode.encode_frames`
    does (`flow_pool.PairEncoder`: quantized with the bound, JPEG quality). With
    `streams`, also appends every frame's RGB JPEG and sets its size and count.
    workers > 1: runs of consecutive wanted pairs go to that many processes, each
        run on a fresh estimator (not for DIS, which then runs here).
    Returns the number of frames decoded.
    """
    wanted = set(wanted)
    settings = encode.flow_settings(options)
    if settings.algorithm == "dis":
        workers = 1  # a fresh estimator per run would differ on tiny frames (module doc)
    pool = _Pool(settings, workers, computed, progress) if workers > 1 and wanted else None
    encoder = flow_pool.PairEncoder(settings) if pool is None and wanted else None
    run_start, run = 0, []  # the pool's current run: its first pair and grey frames
    before, previous = None, None  # grey frames index - 2 and index - 1
    warm = False  # `encoder` has computed a pair (see the module doc on DIS)
    count = 0
    try:
        for index, frame in enumerate(frames_bgr):
            count += 1
            if streams is not None:
                if "rgb" in options.modalities:
                    streams.rgb_jpegs.append(flow_pool.jpeg(frame, options.jpeg_quality))
                streams.num_frames += 1
                streams.height, streams.width = frame.shape[:2]
            ends_pair, starts_pair = index - 1 in wanted, index in wanted
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            if ends_pair and encoder is not None:
                if not warm and index > 1 and settings.algorithm == "dis":
                    encoder(before, previous)  # the pair before, as the every-pair loop
                warm = True
                computed[index - 1] = encoder(previous, gray)
                if progress is not None:
                    progress.update(1)
            elif ends_pair:
                if not run:
                    run_start, run = index - 1, [previous]
                run.append(gray)
                if len(run) > MAX_RUN_PAIRS or not starts_pair:
                    pool.submit(run_start, run)
                    run = []
            before, previous = previous, gray
        if len(run) > 1:
            pool.submit(run_start, run)
    finally:
        if pool is not None:
            pool.finish()
    return count


def encode_sampled(open_reader, options: encode.IngestOptions, select: Selector, *,
                   bar=None, workers: int = 1, allow_truncated: bool = False, reader=None):
    """Encodes a video with flow only at the positions `select` gives: (streams, reader).

    open_reader: () -> a fresh `VideoReader` of the video (called a second time
        only when the header's frame count or rate chose other pairs than the
        decoded ones); `reader`: the first one, if already open.
    select: (number of flow frames, frame rate) -> flow frame indices.
    bar: a progress bar (tqdm) of the computed pairs; its total is set here.
    Returns the streams (RGB as `encode.encode_frames`; each flow stream N - 1
    long, real JPEGs at the selected positions, `PLACEHOLDER_JPEG` elsewhere)
    and the first reader (timestamps, frame rate, truncation).
    Raises:
        VideoDecodeError: unreadable, or truncated unless `allow_truncated`.
    """
    reader = reader or open_reader()
    expected = encode.expected_frames(reader.header_frame_count, reader.max_frames)
    guess = set(select(expected - 1, reader.container_frame_rate)) if expected > 1 else set()
    if bar is not None:
        bar.total = len(guess)
        bar.refresh()
    streams = encode.EncodedStreams()
    computed = {}
    with reader:
        flow_pass(reader, options, guess, computed, streams=streams, progress=bar,
                  workers=workers)
    reader.check_truncated(allow_truncated)
    num_frames = streams.num_frames
    selected = sorted(set(select(num_frames - 1, reader.frame_rate))) if num_frames > 1 else []
    missing = [i for i in selected if i not in computed]
    if bar is not None:  # the header's guess may have named pairs past the last frame
        bar.total = bar.n + len(missing)
        bar.refresh()
    if missing:
        with open_reader() as again:
            decoded = flow_pass(again, options, missing, computed, progress=bar,
                                workers=workers)
        if decoded != num_frames:
            raise video_lib.VideoDecodeError(
                    reader.path, f"decoded {num_frames} frames, then {decoded} when read "
                    "again for its flow; cannot tell which pairs a model reads")
    _fill_flow(streams, options, {i: computed[i] for i in selected}, num_frames - 1)
    return streams, reader


def _fill_flow(streams: encode.EncodedStreams, options: encode.IngestOptions,
               pairs: Dict[int, flow_pool.PairJpegs], num_pairs: int):
    placeholder = (PLACEHOLDER_JPEG, PLACEHOLDER_JPEG)
    plain = "flow" in options.modalities
    warped = "warped_flow" in options.modalities
    for index in range(max(num_pairs, 0)):
        pair = pairs.get(index)
        if plain:
            x, y = pair[0] if pair is not None else placeholder
            streams.flow_x_jpegs.append(x)
            streams.flow_y_jpegs.append(y)
        if warped:
            x, y = pair[1] if pair is not None else placeholder
            streams.warped_flow_x_jpegs.append(x)
            streams.warped_flow_y_jpegs.append(y)
