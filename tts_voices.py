"""Synthetic voices for the digit corpus: every digit said by Debian's text-to-speech engines.

FSDD has six speakers, so a model trained on five of them has heard five voices.
Here the ten digit words are spoken by eight voices of two engines, flite (kal,
kal16, awb, rms, slt) and festival (kal and ked diphones, slt HTS), each at three
speaking rates and three vocal-tract lengths (the audio resampled, which moves
pitch and formants together), 72 voices in all. ``digit_corpus`` joins their
digits into training strings like FSDD's. espeak-ng is never used: its output is
reserved for the project's independent check. The engines come from Debian
packages that ``.ci/install_system_packages.sh`` installs; the clips are made once
and cached in ``data/cache/``.
"""

if __name__ == "__main__":  # before the imports: one line, no TensorFlow start-up log
    from plumbing import refuse_to_run_as_command

    refuse_to_run_as_command("tts_voices")

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

import plumbing
from fsdd import DIGIT_WORDS
from plumbing import atomic_path, progress

VOICES = {  # name: (engine, the engine's voice)
    "flite-kal": ("flite", "kal"), "flite-kal16": ("flite", "kal16"),
    "flite-awb": ("flite", "awb"), "flite-rms": ("flite", "rms"), "flite-slt": ("flite", "slt"),
    "festival-kal": ("festival", "kal_diphone"), "festival-ked": ("festival", "ked_diphone"),
    "festival-slt": ("festival", "cmu_us_slt_arctic_hts")}
STRETCHES = (0.85, 1.0, 1.2)  # the engine's duration stretch: faster, as it is, slower
TRACTS = (0.9, 1.0, 1.12)  # speed of the resampled audio: longer tract, as it is, shorter
RATE = 8000  # Hz, as FSDD
PACKAGES = "flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts"


def is_synthetic(speaker):
    """Whether a description line's ``speaker`` is one of these voices."""
    return str(speaker).split("-")[0] in {engine for engine, _ in VOICES.values()}


def _spoken(engine, voice, word, stretch, folder):
    """One word said by an engine's voice: ``(samples, rate)``."""
    import soundfile

    path = Path(folder) / f"{word}.wav"
    if engine == "flite":
        command = ["flite", "-voice", voice, "--setf", f"duration_stretch={stretch}",
                   "-t", word, "-o", str(path)]
    else:
        (Path(folder) / "word.txt").write_text(word + "\n")
        command = ["text2wave", "-eval", f"(voice_{voice})", "-eval",
                   f"(Parameter.set 'Duration_Stretch {stretch})", str(Path(folder) / "word.txt"),
                   "-o", str(path)]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    samples, rate = soundfile.read(path, dtype="float32")
    return samples if samples.ndim == 1 else samples.mean(axis=1), rate


def check_engines():
    """Raise ``FileNotFoundError`` naming what to install when an engine is missing."""
    missing = [program for program in ("flite", "text2wave") if shutil.which(program) is None]
    if missing:
        raise FileNotFoundError(
            f"{' and '.join(missing)} not found: the synthetic voices need the Debian packages "
            f"{PACKAGES} (`bash .ci/install_system_packages.sh` installs them).")


def voice_clips(trim_db):
    """``{(voice, digit): [(name, samples, trimmed samples)]}`` of the 72 synthetic voices.

    Each clip is float32 at 8 kHz, peak 0.5, cut to what lies within 40 dB of its peak;
    ``trimmed`` is cut at ``trim_db`` as ``digit_corpus`` trims FSDD's recordings for
    connected strings. A voice's name says its engine voice, stretch and tract,
    e.g. ``'flite-awb-s0.85-t1.12'``. Made once and cached in ``plumbing.CACHE_DIR``.
    """
    import librosa

    check_engines()
    cache = plumbing.cache_file("tts-clips", {"voices": VOICES, "stretches": STRETCHES,
                                              "tracts": TRACTS, "rate": RATE}, [])
    if not cache.is_file():
        arrays = {}
        with tempfile.TemporaryDirectory() as folder:
            jobs = [(name, stretch, digit) for name in VOICES for stretch in STRETCHES
                    for digit in range(10)]
            for name, stretch, digit in progress(jobs, desc="synthetic voices", unit="word"):
                samples, rate = _spoken(*VOICES[name], DIGIT_WORDS[digit], stretch, folder)
                samples = librosa.resample(samples, orig_sr=rate, target_sr=RATE)
                for tract in TRACTS:  # played faster: higher pitch and formants, shorter
                    shifted = librosa.resample(samples, orig_sr=RATE * tract, target_sr=RATE)
                    arrays[f"{name}-s{stretch:g}-t{tract:g}/{digit}"] = shifted.astype(np.float32)
        with atomic_path(cache) as partial:
            np.savez(partial, **arrays)
    clips = {}
    with np.load(cache) as stored:
        for key in stored.files:
            voice, digit = key.split("/")
            samples, _ = librosa.effects.trim(stored[key], top_db=40, frame_length=256,
                                              hop_length=64)
            samples = 0.5 * samples / max(float(np.abs(samples).max()), 1e-6)
            trimmed, _ = librosa.effects.trim(samples, top_db=trim_db, frame_length=256,
                                              hop_length=64)
            clips[voice, int(digit)] = [(f"{voice}/{DIGIT_WORDS[int(digit)]}", samples, trimmed)]
    return clips
