"""The preprocessing record: from shard records (new and older), overrides, differences."""
import pytest

from tsn_tf.input.contract import schema
from tsn_tf.input.contract.preprocessing import Preprocessing
from tsn_tf.input.ingestion import encode


def _record(**fields):
    return schema.VideoRecord(media_id="v", label_indices=[0], label_strings=["a"], height=72,
                              width=128, frame_rate=30.0, rgb_jpegs=[], timestamps_us=[],
                              **fields)


def test_from_a_record_and_from_an_older_record_without_the_keys():
    recorded = Preprocessing.from_record(_record(
            resize="short_side=72", jpeg_quality=80, flow_algorithm="dis", flow_bound=15.0,
            flow_parameters='{"algorithm": "dis", "PatchSize": 8}'))
    assert recorded == Preprocessing(resize="short_side=72", jpeg_quality=80,
                                     flow_algorithm="dis", flow_bound=15.0,
                                     flow_parameters={"algorithm": "dis", "PatchSize": 8})
    assert Preprocessing.from_dict(recorded.to_dict()) == recorded
    older = Preprocessing.from_record(_record(flow_algorithm="tvl1", flow_bound=20.0))
    assert (older.resize, older.jpeg_quality, older.flow_parameters) == ("128x72", 90, None)


def test_ingest_options_and_differences_per_modality():
    recorded = Preprocessing(resize="short_side=72", flow_algorithm="dis")
    options = encode.options_for(recorded, ["rgb_diff", "flow"], max_frames=9)
    assert (options.size, options.short_side, options.flow_algorithm) == (None, 72, "dis")
    assert options.modalities == ("flow", "rgb") and options.max_frames == 9
    used = recorded.overridden(flow_algorithm="tvl1", resize="340x256")
    assert recorded.differences(used, "rgb") == [
        "resize='340x256' (training: 'short_side=72')"]
    assert recorded.differences(used, "flow") == [
        "resize='340x256' (training: 'short_side=72')",
        "flow_algorithm='tvl1' (training: 'dis')"]
    assert recorded.overridden() == recorded and recorded.differences(recorded, "flow") == []


def test_a_flow_the_reader_cannot_compute_is_named():
    synthetic = Preprocessing(flow_algorithm="synthetic")
    assert encode.options_for(synthetic, ["rgb"]).modalities == ("rgb",)
    with pytest.raises(ValueError, match="'synthetic', which cannot be computed"):
        encode.options_for(synthetic, ["flow"])
    with pytest.raises(ValueError, match="WIDTHxHEIGHT, short_side=S or source"):
        Preprocessing(resize="big")


def test_from_shard_reads_the_first_videos_index(tmp_path):
    from conftest import write_records

    first = _record(resize="short_side=72", jpeg_quality=80, flow_algorithm="dis",
                    flow_bound=15.0)
    shard = write_records(tmp_path / "s.tfrecord", [first, _record(jpeg_quality=50)])
    assert Preprocessing.from_shard(shard) == Preprocessing(
            resize="short_side=72", jpeg_quality=80, flow_algorithm="dis", flow_bound=15.0)
    with pytest.raises(ValueError, match="holds no video"):
        Preprocessing.from_shard(write_records(tmp_path / "empty.tfrecord", []))
