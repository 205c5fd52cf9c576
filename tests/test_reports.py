"""The HTML reports as a grader's browser shows them: every figure drawn, every audio
player playable, no error (stderr) block and no progress widget (which a static page
can only show as a stale 0%).

The reports of ``run_all.sh`` are ``run_notebooks.export_html`` of the executed
notebooks that the repository keeps, so the test exports the committed notebooks
the same way and opens each report in headless Chromium (installed by ``.ci/run``
and ``run_all.sh``). A probe script added to a copy of the page waits for the
page and its audio to load, then writes what the browser sees into the page,
which Chromium prints with ``--dump-dom``.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

import run_notebooks

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
PROBE = """<script>
window.addEventListener("load", async () => {
  const audios = [...document.querySelectorAll("audio")];
  await Promise.all(audios.map(audio => audio.readyState >= 1 ? null : new Promise(done => {
    audio.addEventListener("loadedmetadata", done);
    audio.addEventListener("error", done);
    audio.load();
  })));
  const images = [...document.querySelectorAll("img")];
  const seen = {
    images: images.length,
    broken_images: images.filter(image => !(image.complete && image.naturalWidth > 0)).length,
    audio_players: audios.length,
    unplayable_audio: audios.filter(audio => !(audio.duration > 0)).length,
    stderr_blocks: document.querySelectorAll(
      '[data-mime-type="application/vnd.jupyter.stderr"], .output_stderr').length,
    progress_widgets: document.querySelectorAll(
      'script[type="application/vnd.jupyter.widget-view+json"]').length,
  };
  const probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify(seen);
  document.body.appendChild(probe);
});
</script>"""


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.fail("Chromium is not installed: `bash .ci/run` and `bash run_all.sh` install it "
                "(on Debian/Ubuntu: apt-get install chromium)")


def what_the_browser_sees(html_path):
    """Open the page in headless Chromium; return the probe's counts as a dict."""
    page = html_path.with_name(html_path.stem + "-probed.html")
    page.write_text(html_path.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                    encoding="utf-8")
    dom = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--mute-audio",
         "--virtual-time-budget=30000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=300, check=True).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, f"the probe never ran in {page.name}: the page did not finish loading"
    return json.loads(found.group(1).replace("&quot;", '"'))


def expected(notebook_path):
    """Figures and audio players the notebook's stored outputs hold."""
    notebook = nbformat.read(notebook_path, as_version=4)
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    data = [output.get("data", {}) for output in outputs]
    return {"images": sum("image/png" in d or "image/jpeg" in d for d in data),
            "audio_players": sum("<audio" in d.get("text/html", "") for d in data)}


@pytest.mark.parametrize("notebook_path", NOTEBOOKS, ids=lambda path: Path(path).stem)
def test_the_report_shows_every_figure_and_audio_player_and_no_error_block(notebook_path,
                                                                           tmp_path):
    report = run_notebooks.export_html(notebook_path, tmp_path)
    seen = what_the_browser_sees(report)
    stored = expected(notebook_path)
    plays_audio = notebook_path.stem != "appendix_studies"  # the appendix only plots CSVs
    assert stored["images"] > 0 and (stored["audio_players"] > 0) == plays_audio, stored
    assert seen["images"] == stored["images"], (seen, stored)
    assert seen["broken_images"] == 0, seen
    assert seen["audio_players"] == stored["audio_players"], (seen, stored)
    assert seen["unplayable_audio"] == 0, seen
    assert seen["stderr_blocks"] == 0, f"{report.name} shows error output: {seen}"
    assert seen["progress_widgets"] == 0, f"{report.name} shows stale progress widgets: {seen}"
