"""Plumbing shared by every stage: folders, safe writes, downloads, the machine, processes.

Where the project keeps what it makes (``DATA_DIR``, ``RESULTS_DIR``, ``CACHE_DIR``),
how it writes files so that an interrupted run leaves no half file or folder
behind (``atomic_path``, ``extract_atomically``), how it names cache files after
their inputs, what it records of the machine that timings were measured on, how
TensorFlow starts without its C++ logs, and how long steps show their progress.
"""

import argparse
import contextlib
import hashlib
import json
import os
import platform
import secrets
import shutil
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent
DATA_DIR = PROJECT_DIR / "data"  # corpora, downloads and feature caches (not in git)
RESULTS_DIR = PROJECT_DIR / "results"  # histories, weights records, summaries
CACHE_DIR = DATA_DIR / "cache"  # features and FSDD images, named after their inputs


def ensure_writable(*folders):
    """Create each folder if needed and check that a file can be written in it.

    Called before long work starts, so that an unwritable results, checkpoint or
    cache folder is reported at once rather than after an epoch or a feature pass.

    Raises:
        PermissionError: naming the folder and the reason.
    """
    for folder in folders:
        folder = Path(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as error:
            raise PermissionError(
                f"cannot write to the folder {folder} ({error.strerror or error}). "
                "Make it (and its parents) a writable folder, or free the path if a "
                "file of that name is in the way, then run again.") from error


@contextlib.contextmanager
def atomic_path(path):
    """Write a file all or nothing: yields a temporary path beside ``path`` to write to.

    When the block ends without an error the temporary file replaces ``path`` in
    one rename; otherwise it is deleted and ``path`` keeps its old content. The
    temporary name is unique to the writer, so processes writing the same file at
    once (worker processes filling one cache) never take each other's file, and
    it keeps the suffixes (``x.npz`` -> ``x.<pid>-<random>.partial.npz``,
    ``m.weights.h5`` -> ``m.<pid>-<random>.partial.weights.h5``), which ``np.savez``
    and Keras's ``save_weights`` need.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stem = path.name.split(".")[0] or path.name
    partial = path.with_name(f"{stem}.{os.getpid()}-{secrets.token_hex(4)}.partial"
                             f"{path.name[len(stem):]}")
    try:
        yield partial
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


@contextlib.contextmanager
def exclusive_lock(path):
    """Hold an exclusive lock on the file ``path`` meanwhile; another holder waits for it.

    Two processes building the same folder (two notebook kernels, a command and a
    notebook) thus build one after the other instead of mixing their files. The
    lock ends with the process, so a killed build leaves no stale lock behind.
    """
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def extract_atomically(archive, target):
    """Unpack a ``.zip`` or ``.tar.gz`` archive into the folder ``target``, all or nothing.

    The archive is unpacked into ``target.partial`` and renamed to ``target``
    only once complete, so an interrupted run never leaves a ``target`` that a
    later run would take for a finished extraction.
    """
    target = Path(target)
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)  # left behind by a run that was killed
    try:
        if str(archive).endswith(".zip"):
            with zipfile.ZipFile(archive) as bundle:
                bundle.extractall(partial)
        else:
            with tarfile.open(archive) as bundle:
                bundle.extractall(partial, filter="data")
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)


def download_file(name, origin, out_dir, sha256=None):
    """Fetch ``origin`` to ``out_dir/downloads/name`` (kept for later runs); return its path.

    ``sha256``, if given, is checked by ``keras.utils.get_file``.

    Raises:
        ConnectionError: the network failed; the message suggests a local copy.
    """
    import keras  # imported here: the commands that do not download need no TensorFlow

    ensure_writable(Path(out_dir) / "downloads")  # get_file falls back to /tmp otherwise
    try:
        return Path(keras.utils.get_file(name, origin=origin, file_hash=sha256,
                                         cache_dir=str(out_dir), cache_subdir="downloads"))
    except Exception as error:  # get_file reports a network failure as a bare Exception
        if "URL fetch failure" not in str(error):
            raise
        raise ConnectionError(f"{error}. Check the network connection, or use a copy you "
                              "already have (--source).") from error


def cache_file(prefix, settings, paths):
    """``CACHE_DIR/<prefix>-<hash>.npz``, the hash of ``settings`` and each file's path, size and time.

    A changed setting or input file therefore gets a new cache file.
    """
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for path in paths:
        stat = Path(path).stat()
        key.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return CACHE_DIR / f"{prefix}-{key.hexdigest()[:24]}.npz"


def project_path(path):
    """``path`` relative to the project folder if it lies inside it (for records and messages)."""
    path = Path(path).resolve()
    return str(path.relative_to(PROJECT_DIR)) if path.is_relative_to(PROJECT_DIR) else str(path)


def file_sha256(path):
    """The first 16 hex digits of a file's SHA-256 (``None`` for no path)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16] if path else None


def machine_description():
    """The processor and its core count, e.g. ``'x86_64 CPU, 2 cores'``, stored with timings."""
    return f"{platform.machine()} {platform.processor() or 'CPU'}, {os.cpu_count()} cores"


def usable_cpus():
    """Cores this process may run on (its CPU affinity where the system has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _limit_threads(threads):
    import tensorflow as tf  # in the worker, before its first operation

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def run_in_workers(function, jobs, processes=None, desc="runs", unit="run"):
    """Call ``function(*job)`` for every job in spawned worker processes, side by side.

    Each job runs in a worker process of its own, at most ``processes`` at once,
    so a worker that dies (killed, out of memory, crashed) takes no other job
    with it: the others still finish, and one error at the end names the jobs
    that failed. Each worker's TensorFlow is limited to its share of the usable
    cores (at least one thread), so ``processes`` runs share the machine without
    oversubscribing it. Workers are spawned (a forked child would inherit this
    process's running TensorFlow threads) and import the main module, so a
    script must call this under ``if __name__ == "__main__":``; ``function`` and
    the jobs' arguments must be picklable (module-level functions, partials).

    Args:
        function: called as ``function(*job)`` in a worker.
        jobs: a list of argument tuples; a job is named in messages by its
            string arguments (e.g. a run's name).
        processes: runs at once (default: one per usable core, at most one per job).
        desc, unit: the progress bar's label and unit.

    Returns:
        The results in the order of ``jobs``, once every job has ended. An error
        raised in a worker is raised here (the first in job order).

    Raises:
        RuntimeError: a worker process died; the message names its jobs.
    """
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool
    from multiprocessing import get_context

    processes = max(1, min(len(jobs), processes or usable_cpus()))
    threads = max(1, usable_cpus() // processes)
    waiting, running = list(enumerate(jobs)), {}  # running: future -> (job index, its pool)
    results, errors, died = [None] * len(jobs), {}, []
    bar = progress(total=len(jobs), desc=desc, unit=unit)
    try:
        while waiting or running:
            while waiting and len(running) < processes:
                index, job = waiting.pop(0)
                pool = ProcessPoolExecutor(1, mp_context=get_context("spawn"),
                                           initializer=_limit_threads, initargs=(threads,))
                # The worker starts on submit and inherits stderr: without this, each would
                # print TensorFlow's start-up log into the notebook. Its errors still reach us.
                with stderr_to_devnull():
                    running[pool.submit(function, *job)] = index, pool
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                index, pool = running.pop(future)
                pool.shutdown()
                try:
                    results[index] = future.result()
                except BrokenProcessPool:
                    died.append(index)
                except Exception as error:  # raised by the job: raised here at the end
                    errors[index] = error
                bar.update()
                if died or errors:
                    bar.set_postfix_str(f"{len(died) + len(errors)} failed")
    finally:
        for _, pool in running.values():  # only on an error here (e.g. Ctrl-C)
            pool.shutdown(wait=False, cancel_futures=True)
        bar.close()
    if died:
        failures = [f"{_job_name(jobs[i], i, unit)} died (its worker process was killed, ran out "
                    "of memory or crashed)" if i in died else
                    f"{_job_name(jobs[i], i, unit)} raised {type(errors[i]).__name__}: {errors[i]}"
                    for i in sorted(died + list(errors))]
        raise RuntimeError(
            f"{len(failures)} of {len(jobs)} {unit}s failed: {'; '.join(failures)}. The other "
            f"{unit}s finished and their results are kept (train_model writes each run's files "
            "in results/): running the same call again does only what is missing.") from None
    if errors:
        raise errors[min(errors)]
    return results


def _job_name(job, index, unit):
    """``'run 2 (george)'``: a job's number and its string arguments, for messages."""
    labels = [argument for argument in job if isinstance(argument, str)]
    return f"{unit} {index + 1}" + (f" ({', '.join(labels)})" if labels else "")


def start_tensorflow(seed=None):
    """Import and start TensorFlow with its logs silenced; seed Python, NumPy and Keras.

    Notebooks call this in their setup cell before any other project module, so
    that neither TensorFlow's C++ start-up lines (written before its logging is
    configured, whatever ``TF_CPP_MIN_LOG_LEVEL`` says) nor its later C++ errors
    (e.g. oneDNN's fallback notices) and Python warnings (retracing) reach a
    cell's output. Worker processes inherit the setting.

    Args:
        seed: passed to ``keras.utils.set_random_seed`` when given.
    """
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    with stderr_to_devnull():
        import keras
        import tensorflow as tf

        keras.ops.zeros(1)  # the first operation starts the runtime, which logs too
    tf.get_logger().setLevel("ERROR")
    if seed is not None:
        keras.utils.set_random_seed(seed)


def progress(iterable=None, **kwargs):
    """A text progress bar on stdout (``tqdm`` arguments: ``total``, ``desc``, ``unit``...).

    A text bar rather than a Jupyter widget: a saved notebook and its HTML export
    keep the bar's last state (``run_notebooks.py`` folds its carriage returns),
    where a widget would show as a stale 0%. On stdout, so it is not an error block.
    """
    from tqdm import tqdm

    return tqdm(iterable, file=sys.stdout, **kwargs)


@contextlib.contextmanager
def stderr_to_devnull():
    """Point file descriptor 2 (C libraries' writes included) at the null device meanwhile.

    TensorFlow's C++ start-up log ignores TF_CPP_MIN_LOG_LEVEL, so commands and worker
    processes import TensorFlow inside this.
    """
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class CommandParser(argparse.ArgumentParser):
    """``argparse`` for the project's commands: a bad argument ends in one line and status 2.

    argparse itself prints the whole usage before its error; here the error line
    names the argument and points at ``--help``. Options must be spelt out: argparse
    would take a prefix for the option it starts (``--fsdd`` for ``--fsdd-out``).
    """

    def __init__(self, *args, allow_abbrev=False, **kwargs):
        super().__init__(*args, allow_abbrev=allow_abbrev, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _whole_number(text, lowest):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < lowest:
        raise argparse.ArgumentTypeError(f"{value} is below {lowest}")
    return value


def positive_int(text):
    """An argparse type: a whole number of at least 1."""
    return _whole_number(text, 1)


def non_negative_int(text):
    """An argparse type: a whole number of at least 0 (a seed)."""
    return _whole_number(text, 0)


def refuse_to_run_as_command(module):
    """Exit with status 2 when a library module is run as a command (``python -m utils``)."""
    print(f"{module} is a library module, not a command: import it in a notebook or script. "
          "The commands are prepare_data.py, train.py, transcribe.py, make_exercises.py "
          "and run_notebooks.py (see README.md).", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    refuse_to_run_as_command("plumbing")
