"""List parsers: every dataset format on small files, and their error cases."""
import json
import os

import pytest

from tsn_tf.input.ingestion import lists
from tsn_tf.input.ingestion.lists import ListFormatError


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return str(path)


# --- label maps --------------------------------------------------------------

def test_label_map_round_trip_and_numbered_forms(tmp_path):
    label_map = lists.build_label_map(["walk", "jump", "run", "jump"])
    assert label_map == {"jump": 0, "run": 1, "walk": 2}
    path = write(tmp_path / "label_map.txt", lists.format_label_map(label_map))
    assert lists.read_label_map(path) == label_map
    zero_based = write(tmp_path / "zero.txt", "0 b\n1 a\n")
    assert lists.read_label_map(zero_based) == {"b": 0, "a": 1}


def test_label_map_errors_name_the_line(tmp_path):
    with pytest.raises(ListFormatError, match=r"gap.txt:2: expected class number 2"):
        lists.read_label_map(write(tmp_path / "gap.txt", "1 a\n3 b\n"))
    with pytest.raises(ListFormatError, match=r"dup.txt:2: duplicate class name 'a'"):
        lists.read_label_map(write(tmp_path / "dup.txt", "a\na\n"))


# --- UCF101 ----------------------------------------------------------------------

def ucf101_files(tmp_path):
    folder = tmp_path / "ucfTrainTestlist"
    write(folder / "classInd.txt", "1 ApplyEyeMakeup\n2 Archery\n3 BabyCrawling\n")
    write(folder / "trainlist01.txt", "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\n"
          "Archery/v_Archery_g08_c01.avi 2\r\n\n")
    write(folder / "testlist01.txt", "BabyCrawling/v_BabyCrawling_g01_c01.avi\n")
    return folder


def test_ucf101_one_based_class_index_becomes_zero_based(tmp_path):
    class_index, split_files = lists.ucf101_split_files(str(ucf101_files(tmp_path)), 1)
    parsed = lists.parse_ucf101(class_index, split_files, "/videos")
    assert parsed.label_map == {"ApplyEyeMakeup": 0, "Archery": 1, "BabyCrawling": 2}
    first, second, test = parsed.entries
    assert first.media_id == "v_ApplyEyeMakeup_g08_c01"
    assert first.path == "/videos/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi"
    assert first.label_strings == ("ApplyEyeMakeup",) and first.split == "train"
    assert second.label_strings == ("Archery",)
    assert test.split == "test" and test.label_strings == ("BabyCrawling",)
    assert first.line.endswith("trainlist01.txt:1")


def test_ucf101_errors(tmp_path):
    folder = ucf101_files(tmp_path)
    class_index = str(folder / "classInd.txt")
    bad_number = write(folder / "trainlist02.txt", "Archery/v_Archery_g01_c01.avi 1\n")
    with pytest.raises(ListFormatError, match=r"trainlist02.txt:1: class number 1 disagrees "
                       r"with folder 'Archery'"):
        lists.parse_ucf101(class_index, [bad_number], "/v")
    unknown = write(folder / "testlist02.txt", "\nSkiing/v_Skiing_g01_c01.avi\n")
    with pytest.raises(ListFormatError, match=r"testlist02.txt:2: unknown label 'Skiing'.*"
                       r"got 'Skiing/v_Skiing_g01_c01.avi'"):
        lists.parse_ucf101(class_index, [unknown], "/v")
    malformed = write(folder / "trainlist03.txt", "Archery v_Archery_g01_c01.avi 2\n")
    with pytest.raises(ListFormatError, match=r"trainlist03.txt:1: expected 'Class/v_name.avi"):
        lists.parse_ucf101(class_index, [malformed], "/v")
    with pytest.raises(ListFormatError, match=r"duplicate video id 'v_ApplyEyeMakeup_g08_c01'"
                       r", first listed at .*trainlist01.txt:1"):
        lists.parse_ucf101(class_index, [str(folder / "trainlist01.txt")] * 2, "/v")


# --- HMDB51 -----------------------------------------------------------------------

def test_hmdb51_split_codes_and_unused_videos(tmp_path):
    folder = tmp_path / "testTrainMulti_7030_splits"
    write(folder / "brush_hair_test_split1.txt", "a_brush.avi 1 \nb_brush.avi 2 \nc_brush.avi 0\n")
    write(folder / "cartwheel_test_split1.txt", "a_cart.avi 2\n")
    write(folder / "cartwheel_test_split2.txt", "z_cart.avi 1\n")
    split_files = lists.hmdb51_split_files(str(folder), 1)
    assert [os.path.basename(f) for f in split_files] == [
        "brush_hair_test_split1.txt", "cartwheel_test_split1.txt"]
    parsed = lists.parse_hmdb51(split_files, "/hmdb")
    assert [(e.media_id, e.split, e.label_strings) for e in parsed.entries] == [
        ("a_brush", "train", ("brush_hair",)), ("b_brush", "test", ("brush_hair",)),
        ("a_cart", "test", ("cartwheel",))]
    assert parsed.entries[0].path == "/hmdb/brush_hair/a_brush.avi"
    assert parsed.label_map == {"brush_hair": 0, "cartwheel": 1}


def test_hmdb51_errors(tmp_path):
    bad = write(tmp_path / "run_test_split1.txt", "x.avi 1\ny.avi 3\n")
    with pytest.raises(ListFormatError, match=r"run_test_split1.txt:2: expected 'video.avi "
                       r"0\|1\|2' \(got 'y.avi 3'\)"):
        lists.parse_hmdb51([bad], "/v")
    good = write(tmp_path / "walk_test_split1.txt", "x.avi 1\n")
    with pytest.raises(ListFormatError, match=r"walk_test_split1.txt:1: unknown label 'walk'"):
        lists.parse_hmdb51([good], "/v", label_map={"run": 0})
    with pytest.raises(ListFormatError, match="no <class>_test_split3.txt"):
        lists.hmdb51_split_files(str(tmp_path), 3)


# --- Kinetics ---------------------------------------------------------------------------

def test_kinetics_csv_finds_files_by_stem_anywhere(tmp_path):
    video_dir = tmp_path / "kinetics"
    found = touch(video_dir / "train" / "abseiling" / "abc_000010_000020.mp4")
    csv_file = write(tmp_path / "train.csv",
                     "label,youtube_id,time_start,time_end,split\n"
                     "abseiling,abc,10,20,train\n"
                     '"passing American football (in game)",x-y,0,10,val\n'
                     ",tst,5.0,15.0,test\n")
    parsed = lists.parse_kinetics([csv_file], str(video_dir))
    first, second, third = parsed.entries
    assert first.media_id == "abc_000010_000020" and first.path == found
    assert second.media_id == "x-y_000000_000010" and second.split == "val"
    assert second.label_strings == ("passing American football (in game)",)
    assert second.path == str(video_dir / "x-y_000000_000010.mp4")  # missing: default place
    assert third.label_strings == () and third.split == "test"
    assert parsed.label_map == {"abseiling": 0, "passing American football (in game)": 1}


def test_kinetics_errors(tmp_path):
    header = "label,youtube_id,time_start,time_end,split\n"
    cases = {
        "short.csv": (header + "a,b,1\n", r"short.csv:2: wrong number of fields"),
        "time.csv": (header + "a,b,x,2,train\n", r"time.csv:2: time_start and time_end must"),
        "order.csv": (header + "a,b,5,2,train\n", r"order.csv:2: expected 0 <= time_start"),
        "split.csv": (header + "a,b,1,2,dev\n", r"split.csv:2: unknown split.*got 'dev'"),
        "header.csv": ("label,id,start,end\na,b,1,2\n", r"header.csv:2: header lacks"),
        "dup.csv": (header + "a,b,1,2,train\na,b,1,2,val\n",
                    r"dup.csv:3: duplicate video id 'b_000001_000002'"),
    }
    for name, (text, message) in cases.items():
        with pytest.raises(ListFormatError, match=message):
            lists.parse_kinetics([write(tmp_path / name, text)], str(tmp_path))
    unknown = write(tmp_path / "u.csv", header + "a,b,1,2,train\n")
    with pytest.raises(ListFormatError, match=r"u.csv:2: unknown label 'a'"):
        lists.parse_kinetics([unknown], str(tmp_path), label_map={"z": 0})


# --- ActivityNet ---------------------------------------------------------------------------

def activitynet_json(tmp_path, database):
    return write(tmp_path / "activity_net.v1-3.min.json",
                 json.dumps({"version": "VERSION 1.3", "database": database}))


def test_activitynet_segments_and_file_lookup(tmp_path):
    video_dir = tmp_path / "videos"
    with_prefix = touch(video_dir / "v_abc.mp4")
    without_prefix = touch(video_dir / "sub" / "def.mkv")
    json_file = activitynet_json(tmp_path, {
        "abc": {"subset": "training", "duration": 30.0, "annotations": [
            {"segment": [1.5, 9.0], "label": "Surfing"},
            {"segment": [12.0, 20.25], "label": "Surfing"}]},
        "def": {"subset": "validation", "duration": 10.0, "annotations": [
            {"segment": [0.0, 4.0], "label": "Archery"}]},
        "ghi": {"subset": "testing", "duration": 5.0, "annotations": []}})
    parsed = lists.parse_activitynet(json_file, str(video_dir))
    abc, def_, ghi = parsed.entries
    assert abc.path == with_prefix and def_.path == without_prefix
    assert abc.segments == ((1.5, 9.0, "Surfing"), (12.0, 20.25, "Surfing"))
    assert abc.label_strings == ("Surfing",) and abc.split == "train"
    assert def_.split == "val" and ghi.split == "test" and ghi.label_strings == ()
    assert ghi.path == str(video_dir / "v_ghi.mp4")
    assert parsed.label_map == {"Archery": 0, "Surfing": 1}


def test_activitynet_errors(tmp_path):
    with pytest.raises(ListFormatError, match="expected a JSON object with a 'database' key"):
        lists.parse_activitynet(write(tmp_path / "a.json", "[1, 2]"), str(tmp_path))
    bad_segment = activitynet_json(tmp_path, {"abc": {"subset": "training", "annotations": [
        {"segment": [5.0], "label": "Surfing"}]}})
    with pytest.raises(ListFormatError, match=r"database\['abc'\]: annotation needs 'segment'"):
        lists.parse_activitynet(bad_segment, str(tmp_path))
    unknown = activitynet_json(tmp_path, {"abc": {"subset": "training", "annotations": [
        {"segment": [1, 2], "label": "Surfing"}]}})
    with pytest.raises(ListFormatError, match=r"database\['abc'\]: unknown label 'Surfing'"):
        lists.parse_activitynet(unknown, str(tmp_path), label_map={"Archery": 0})


# --- THUMOS14 ------------------------------------------------------------------------------

def test_thumos14_groups_segments_per_video(tmp_path):
    folder = tmp_path / "annotation"
    write(folder / "BaseballPitch_val.txt", "video_validation_0000051  67.5 75.9\n"
          "video_validation_0000051  5.0 9.5\n")
    write(folder / "Billiards_val.txt", "video_validation_0000051 80.0 82.0\n"
          "video_validation_0000052 1.0 2.5\n")
    write(folder / "Ambiguous_val.txt", "video_validation_0000051 10 11\n")
    found = touch(tmp_path / "videos" / "video_validation_0000052.mp4")
    files = lists.thumos14_annotation_files(str(folder))
    parsed = lists.parse_thumos14(files, str(tmp_path / "videos"))
    first, second = parsed.entries
    assert first.media_id == "video_validation_0000051" and first.split == "val"
    assert first.segments == ((5.0, 9.5, "BaseballPitch"), (67.5, 75.9, "BaseballPitch"),
                              (80.0, 82.0, "Billiards"))
    assert first.label_strings == ("BaseballPitch", "Billiards")
    assert second.path == found
    assert parsed.label_map == {"BaseballPitch": 0, "Billiards": 1}


def test_thumos14_errors(tmp_path):
    bad = write(tmp_path / "Diving_test.txt", "video_test_1 3.0\n")
    with pytest.raises(ListFormatError, match=r"Diving_test.txt:1: expected 'video_name "
                       r"start_s end_s' \(got 'video_test_1 3.0'\)"):
        lists.parse_thumos14([bad], str(tmp_path))
    backwards = write(tmp_path / "Shotput_test.txt", "video_test_1 5 3\n")
    with pytest.raises(ListFormatError, match=r"Shotput_test.txt:1: .*0 <= start < end"):
        lists.parse_thumos14([backwards], str(tmp_path))
    misnamed = write(tmp_path / "Diving.txt", "video_test_1 1 3\n")
    with pytest.raises(ListFormatError, match=r"Diving.txt: THUMOS14 annotation files"):
        lists.parse_thumos14([misnamed], str(tmp_path))


# --- generic CSV -----------------------------------------------------------------------------

def test_generic_csv_multi_label_and_split_column(tmp_path):
    csv_file = write(tmp_path / "list.csv", "path,label\nrun/a.mp4,run\n"
                     "walk/a.mp4,walk;wave,test\n/abs/c.avi,run\n")
    parsed = lists.parse_csv(csv_file, "/data")
    first, second, third = parsed.entries
    assert (first.media_id, first.path, first.split) == ("run/a", "/data/run/a.mp4", "train")
    assert second.label_strings == ("walk", "wave") and second.split == "test"
    assert third.path == "/abs/c.avi" and third.label_strings == ("run",)
    assert parsed.label_map == {"run": 0, "walk": 1, "wave": 2}
    assert [e.media_id for e in lists.select_split(parsed, ["testing"]).entries] == ["walk/a"]


def test_generic_csv_errors(tmp_path):
    with pytest.raises(ListFormatError, match=r"a.csv:2: expected 'path,label"):
        lists.parse_csv(write(tmp_path / "a.csv", "x.mp4,run\nx.mp4,run,train,extra\n"), "/d")
    with pytest.raises(ListFormatError, match=r"b.csv:2: duplicate video id 'x'"):
        lists.parse_csv(write(tmp_path / "b.csv", "x.mp4,run\nx.mp4,walk\n"), "/d")
    with pytest.raises(ListFormatError, match=r"c.csv:1: unknown label 'jog'"):
        lists.parse_csv(write(tmp_path / "c.csv", "x.mp4,jog\n"), "/d", label_map={"run": 0})
    for name, text in (("d.csv", "a.mp4,run\ngood.mp4,,train\n"),
                       ("e.csv", "a.mp4,run\nb.mp4,run;\n")):
        with pytest.raises(ListFormatError, match=rf"{name[0]}.csv:2: empty label"):
            lists.parse_csv(write(tmp_path / name, text), "/d")


def test_generic_csv_split_defaults_to_the_file_name(tmp_path):
    train = lists.parse_csv(write(tmp_path / "train.csv", "a.mp4,run\n"), "/d")
    test = lists.parse_csv(write(tmp_path / "my_test_list.csv", "b.mp4,run\nc.mp4,run,val\n"),
                           "/d")
    other = lists.parse_csv(write(tmp_path / "latest.csv", "d.mp4,run\n"), "/d")
    assert [e.split for e in train.entries + test.entries + other.entries] == [
        "train", "test", "val", "train"]
    both = lists.load_list("csv", [str(tmp_path / "train.csv"),
                                   str(tmp_path / "my_test_list.csv")], "/d")
    assert [(e.media_id, e.split) for e in both.entries] == [
        ("a", "train"), ("b", "test"), ("c", "val")]


def test_load_list_accepts_official_split_folders(tmp_path):
    folder = ucf101_files(tmp_path)
    ucf = lists.load_list("ucf101", [str(folder)], "/v", split_number=1)
    assert [e.split for e in ucf.entries] == ["train", "train", "test"]
    assert ucf.label_map["ApplyEyeMakeup"] == 0
    custom = write(tmp_path / "label_map.txt", "walk\nrun\n")
    hmdb_dir = tmp_path / "hmdb"
    write(hmdb_dir / "run_test_split2.txt", "r.avi 1\n")
    write(hmdb_dir / "walk_test_split2.txt", "w.avi 2\n")
    hmdb = lists.load_list("hmdb51", [str(hmdb_dir)], "/v", class_index=custom, split_number=2)
    assert hmdb.label_map == {"walk": 0, "run": 1} and len(hmdb.entries) == 2
    with pytest.raises(ValueError, match="unknown list format 'sports1m'"):
        lists.load_list("sports1m", [str(folder)], "/v")
    with pytest.raises(ValueError, match="ucf101 needs classInd.txt"):
        lists.load_list("ucf101", [str(folder / "trainlist01.txt")], "/v")
