"""prepare_data.py: FSDD checks and download, the digit corpus, LibriSpeech."""

import errno
import hashlib
import io
import json
import tarfile
import zipfile

import numpy as np
import pytest
import soundfile

import fsdd
import prepare_data
from fsdd import parse_fsdd_name


def read_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_check_fsdd_accepts_the_real_dataset(fsdd_dir):
    paths = fsdd.check_fsdd(fsdd_dir)
    assert len(paths) == 3000
    assert parse_fsdd_name("7_jackson_32.wav") == (7, "jackson", 32)
    assert parse_fsdd_name("7_jackson_50.wav") is None and parse_fsdd_name("x.wav") is None


@pytest.fixture
def fsdd_copy(fsdd_dir, tmp_path):
    """A folder of links to the 3,000 real recordings, free to damage."""
    copy = tmp_path / "recordings"
    copy.mkdir()
    for path in fsdd_dir.glob("*.wav"):
        (copy / path.name).symlink_to(path)
    return copy


def test_check_fsdd_reports_missing_and_extra_files(fsdd_copy):
    (fsdd_copy / "3_theo_7.wav").unlink()
    (fsdd_copy / "3_bob_7.wav").symlink_to(fsdd_copy / "3_theo_8.wav")
    with pytest.raises(ValueError, match=r"1 missing \(e.g. \['3_theo_7.wav'\]\), 1 unexpected"):
        fsdd.check_fsdd(fsdd_copy)


def test_check_fsdd_reports_damaged_recordings(fsdd_copy):
    (fsdd_copy / "0_george_0.wav").unlink()
    (fsdd_copy / "0_george_0.wav").write_bytes(b"RIFF broken")
    with pytest.raises(ValueError, match=r"1 FSDD recordings .*SHA-256 mismatch.*0_george_0.wav"):
        fsdd.check_fsdd(fsdd_copy)
    # A readable WAV with one sample changed is damaged too.
    samples, rate = soundfile.read(fsdd_copy / "1_theo_3.wav", dtype="int16")
    samples[100] += 1
    (fsdd_copy / "1_theo_3.wav").unlink()
    soundfile.write(fsdd_copy / "1_theo_3.wav", samples, rate, subtype="PCM_16")
    with pytest.raises(ValueError, match=r"2 FSDD recordings .*'1_theo_3.wav'"):
        fsdd.check_fsdd(fsdd_copy)


def test_find_fsdd_prefers_source_then_environment(fsdd_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FSDD_DIR", str(tmp_path / "nowhere"))
    assert fsdd.find_fsdd(fsdd_dir.parent, download=False) == fsdd_dir
    with pytest.raises(FileNotFoundError, match="nowhere.*came from the environment variable "
                                                "FSDD_DIR"):
        fsdd.find_fsdd(download=False)
    with pytest.raises(FileNotFoundError) as error:  # an explicit path is not blamed on FSDD_DIR
        fsdd.find_fsdd(tmp_path / "elsewhere", download=False)
    assert "FSDD_DIR" not in str(error.value)
    monkeypatch.delenv("FSDD_DIR")
    with pytest.raises(FileNotFoundError, match="FSDD not found"):
        fsdd.find_fsdd(out_dir=tmp_path, download=False)


def test_fsdd_download_from_an_archive_in_githubs_layout(fsdd_dir, tmp_path, monkeypatch):
    archive = tmp_path / "fsdd-master.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted(fsdd_dir.glob("*.wav")):
            bundle.write(path, f"free-spoken-digit-dataset-master/recordings/{path.name}")
    monkeypatch.delenv("FSDD_DIR", raising=False)
    monkeypatch.setattr(fsdd, "FSDD_URL", archive.as_uri())
    found = fsdd.find_fsdd(out_dir=tmp_path / "out")
    assert found.name == "recordings" and len(list(found.glob("*.wav"))) == 3000
    assert fsdd.find_fsdd(out_dir=tmp_path / "out", download=False) == found


def fsdd_archive(fsdd_dir, path, damage=None):
    """FSDD's recordings zipped as GitHub serves them; ``damage`` alters one file's bytes."""
    with zipfile.ZipFile(path, "w") as bundle:
        for wav in sorted(fsdd_dir.glob("*.wav")):
            data = wav.read_bytes()
            if wav.name == damage:
                data = data[:-2] + bytes([data[-2] ^ 1, data[-1]])
            bundle.writestr(f"free-spoken-digit-dataset-master/recordings/{wav.name}", data)
    return path


def test_a_damaged_fsdd_download_is_deleted_not_reused(fsdd_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("FSDD_DIR", raising=False)
    served = tmp_path / "served.zip"
    monkeypatch.setattr(fsdd, "FSDD_URL", served.as_uri())
    fsdd_archive(fsdd_dir, served)
    served.write_bytes(served.read_bytes()[:len(served.read_bytes()) // 2])  # cut off in transit
    with pytest.raises(ValueError, match="FSDD archive downloaded from .* is damaged.*afresh"):
        fsdd.find_fsdd(out_dir=tmp_path / "out")
    fsdd_archive(fsdd_dir, served, damage="4_lucas_9.wav")  # complete, but one file altered
    with pytest.raises(ValueError, match=r"is damaged \(1 FSDD recordings.*4_lucas_9.wav"):
        fsdd.find_fsdd(out_dir=tmp_path / "out")
    assert not list((tmp_path / "out" / "downloads").iterdir())  # nothing damaged is kept
    fsdd_archive(fsdd_dir, served)
    found = fsdd.find_fsdd(out_dir=tmp_path / "out")
    assert len(fsdd.check_fsdd(found)) == 3000


def write_librispeech(root, subset, chapters=((174, 50561), (84, 121123))):
    """A LibriSpeech subset in its exact layout: FLAC files and one .trans.txt per chapter."""
    rng = np.random.default_rng(0)
    texts = []
    for speaker, chapter in chapters:
        folder = root / "LibriSpeech" / subset / str(speaker) / str(chapter)
        folder.mkdir(parents=True)
        lines = []
        for utterance in range(2):
            key = f"{speaker}-{chapter}-{utterance:04d}"
            seconds = 0.5 + utterance
            soundfile.write(folder / f"{key}.flac", rng.uniform(-0.3, 0.3, int(16000 * seconds)),
                            16000, subtype="PCM_16")
            text = f"HER FATHER'S {subset.upper().replace('-', ' ')} NUMBER {utterance}".replace(
                "0", "ZERO").replace("1", "ONE")
            lines.append(f"{key} {text}")
            texts.append(text.lower())
        (folder / f"{speaker}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")
    return texts


def test_librispeech_corpus_from_an_extracted_folder(tmp_path):
    """dev-clean trains; test-clean's speakers split in halves: validation and test."""
    train_texts = write_librispeech(tmp_path / "src", "dev-clean")
    write_librispeech(tmp_path / "src", "test-clean",
                      chapters=((1089, 134686), (121, 121726), (237, 126133), (1188, 133604)))
    written = prepare_data.build_librispeech_corpus(tmp_path / "src", tmp_path / "out")
    assert [p.name for p in written] == ["train_corpus.json", "valid_corpus.json",
                                         "test_corpus.json"]
    train = read_lines(tmp_path / "out" / "train_corpus.json")
    assert [line["text"] for line in train] == train_texts
    assert [line["duration"] for line in train] == [0.5, 1.5, 0.5, 1.5]
    assert (tmp_path / "out" / train[0]["key"]).resolve() == (
        tmp_path / "src/LibriSpeech/dev-clean/174/50561/174-50561-0000.flac")
    speakers = {name: {line["key"].split("/")[-3] for line in read_lines(tmp_path / "out" / name)}
                for name in ("valid_corpus.json", "test_corpus.json")}
    assert speakers == {"valid_corpus.json": {"121", "1089"},  # speakers by number: 121, 237,
                        "test_corpus.json": {"237", "1188"}}   # 1089, 1188, taken alternately


def test_librispeech_training_subsets_are_chosen_by_name(tmp_path):
    write_librispeech(tmp_path / "src", "dev-clean")
    texts = write_librispeech(tmp_path / "src", "train-clean-100", chapters=((19, 198),))
    write_librispeech(tmp_path / "src", "test-clean")
    prepare_data.build_librispeech_corpus(tmp_path / "src", tmp_path / "out", ("train-clean-100",))
    assert [line["text"] for line in read_lines(tmp_path / "out" / "train_corpus.json")] == texts
    with pytest.raises(ValueError, match="unknown LibriSpeech subset 'train-clean-101'"):
        prepare_data.build_librispeech_corpus(tmp_path / "src", tmp_path / "o2",
                                              ("train-clean-101",))
    assert prepare_data.main(["librispeech", "--source", str(tmp_path / "src"), "--out",
                              str(tmp_path / "o3"), "--train", "train-clean-100", "dev-clean"]) == 0
    assert len(read_lines(tmp_path / "o3" / "train_corpus.json")) == len(texts) + 4


def test_librispeech_missing_subset_is_reported_and_the_other_written(tmp_path, capsys):
    write_librispeech(tmp_path / "src", "dev-clean")
    written = prepare_data.build_librispeech_corpus(tmp_path / "src" / "LibriSpeech", tmp_path)
    assert [p.name for p in written] == ["train_corpus.json"]
    assert "test-clean not found" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="none of dev-clean, test-clean found"):
        prepare_data.build_librispeech_corpus(tmp_path / "empty", tmp_path / "out")


def test_librispeech_malformed_transcript_line_is_named(tmp_path):
    write_librispeech(tmp_path, "dev-clean")
    transcript = tmp_path / "LibriSpeech/dev-clean/84/121123/84-121123.trans.txt"
    transcript.write_text(transcript.read_text() + "84-121123-0009\n")
    with pytest.raises(ValueError, match=r"84-121123.trans.txt, line 3"):
        prepare_data.build_librispeech_corpus(tmp_path, tmp_path / "out")


def test_librispeech_download_checks_the_archive(tmp_path):
    base_url, sums = librispeech_archives(tmp_path)
    written = prepare_data.build_librispeech_corpus(None, tmp_path / "out", base_url=base_url,
                                                    sha256=sums)
    assert [len(read_lines(path)) for path in written] == [4, 2, 2]
    bad = dict(sums, **{"dev-clean": "0" * 64})
    with pytest.raises(ValueError, match="hash does not match"):
        prepare_data.build_librispeech_corpus(None, tmp_path / "out2", base_url=base_url,
                                              sha256=bad)


def librispeech_archives(tmp_path):
    """Both subsets packed as OpenSLR serves them, and their SHA-256 sums."""
    sums = {}
    for subset in ("dev-clean", "test-clean"):
        write_librispeech(tmp_path / "src", subset)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            archive.add(tmp_path / "src/LibriSpeech" / subset, f"LibriSpeech/{subset}")
        (tmp_path / f"{subset}.tar.gz").write_bytes(buffer.getvalue())
        sums[subset] = hashlib.sha256(buffer.getvalue()).hexdigest()
    return tmp_path.as_uri() + "/", sums


def test_interrupted_librispeech_extraction_is_not_taken_for_a_finished_one(tmp_path,
                                                                            monkeypatch):
    base_url, sums = librispeech_archives(tmp_path)
    extract_all = tarfile.TarFile.extractall

    def disk_full(self, path=".", members=None, **options):
        extract_all(self, path, members=self.getmembers()[:3], **options)
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(tarfile.TarFile, "extractall", disk_full)
    with pytest.raises(OSError, match="No space left"):
        prepare_data.build_librispeech_corpus(None, tmp_path / "out", base_url=base_url,
                                              sha256=sums)
    assert not (tmp_path / "out/downloads/dev-clean_extracted").exists()
    # A run killed outright leaves its .partial folder: the next run starts it anew.
    stale = tmp_path / "out/downloads/dev-clean_extracted.partial/LibriSpeech/dev-clean/1/2"
    stale.mkdir(parents=True)
    (stale / "1-2.trans.txt").write_text("1-2-0000 STALE\n")
    monkeypatch.setattr(tarfile.TarFile, "extractall", extract_all)
    written = prepare_data.build_librispeech_corpus(None, tmp_path / "out", base_url=base_url,
                                                    sha256=sums)
    assert [len(read_lines(path)) for path in written] == [4, 2, 2]
    assert not list((tmp_path / "out/downloads").glob("*.partial"))


def test_an_empty_librispeech_subset_is_refused(tmp_path):
    (tmp_path / "src/LibriSpeech/dev-clean").mkdir(parents=True)
    with pytest.raises(ValueError, match="dev-clean holds no utterances"):
        prepare_data.build_librispeech_corpus(tmp_path / "src", tmp_path / "out")
    assert not (tmp_path / "out" / "train_corpus.json").exists()
