"""Browser check of a study's review in MLflow: `coexplore ui STUDY` as a user opens it, in real
headless Chromium, with screenshots. Not run in CI (it needs Chromium).

    apt-get install -y chromium && .venv/bin/pip install websocket-client
    cd <folder holding coexplore-runs/ of a finished study>   # e.g. after `coexplore study start studies/quickstart.yaml`
    /path/to/repo/.venv/bin/python /path/to/repo/scripts/review_ui.py quickstart --out /path/to/repo/docs/review

It starts `coexplore ui STUDY` on a free port, opens the address it prints and checks:

1. the runs table lists the study's trials (``trial-<n>``) flat, with a column per objective and the
   ``on_pareto`` tag, front first (the first rows are on the front);
2. the first trial's page (on the front) shows its description, parameters, metrics, on_pareto;
3. its parent run's artifacts hold the study, space and objectives files and the resolved config,
   a Pareto PNG shows at least 600 px wide, and an interactive HTML plot draws (time printed).

Screenshots go to ``--out`` (runs_table.png, trial.png, parent_config.png, parent_plot_png.png,
parent_energy_per_layer.png, parent_plot_html.png). Exit status 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cdp import Chromium

HERE = Path(__file__).resolve().parent.parent


def shot(page: Chromium, path: Path, width: int = 1100) -> Path:
    """A screenshot scaled to ``width`` px, in 256 colours (octree, no dithering: plot colours kept),
    about 50-100 kB: small enough for docs/."""
    page.screenshot(path)
    from PIL import Image

    img = Image.open(path).convert("RGB")
    img = img.resize((width, round(img.height * width / img.width)), Image.LANCZOS)
    img.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(path, optimize=True)
    return path


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_ui(study: str, timeout_s: float = 180) -> tuple[subprocess.Popen, str]:
    """`coexplore ui STUDY --port <free>`; (process, the address it printed)."""
    exe = shutil.which("coexplore") or str(HERE / ".venv" / "bin" / "coexplore")
    proc = subprocess.Popen([exe, "ui", study, "--port", str(_free_port())], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        m = re.search(r"MLflow UI: (\S+)", line)
        if m:
            return proc, m.group(1)
    stop(proc)
    raise SystemExit("coexplore ui printed no address:\n" + "".join(seen))


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


FIND_TEXT = """((text, exact) => {
  const own = e => [...e.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
  const els = [...document.querySelectorAll('body *')].filter(e => e.getClientRects().length
    && (exact ? own(e) === text : own(e).includes(text)));
  if (!els.length) return null;
  els[0].scrollIntoView({block: 'center'});
  const r = els[0].getBoundingClientRect();
  return [r.left + r.width / 2, r.top + r.height / 2];
})"""


def click(page: Chromium, text: str, exact: bool = True, timeout_s: float = 30) -> None:
    """Click (a real mouse click) the first visible element whose text is ``text``."""
    page.wait_for(f"{FIND_TEXT}({text!r}, {str(exact).lower()})", timeout_s)
    x, y = page.eval(f"{FIND_TEXT}({text!r}, {str(exact).lower()})")
    page.click_at(x, y)
    time.sleep(1.0)


def close_assistant(page: Chromium) -> None:
    """Close MLflow's assistant side panel if it is open (it takes a third of the width)."""
    page.eval("(() => { const b = document.querySelector('button[aria-label=Close]'); if (b) b.click(); })()")
    time.sleep(0.5)


TRIAL_ROW = "[...document.querySelectorAll('[role=row]')].some(r => /trial-\\d+/.test(r.textContent))"


class Checks:
    def __init__(self) -> None:
        self.failed: list[str] = []

    def expect(self, ok: bool, what: str) -> None:
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            self.failed.append(what)


def walk(page: Chromium, url: str, study: str, objectives: list[str], out: Path, checks: Checks) -> None:
    """Open the review as a user does, check it, take the screenshots."""
    page.goto(url)
    page.wait_for(TRIAL_ROW, 90)
    close_assistant(page)
    time.sleep(2)
    text = page.eval("document.body.innerText")
    checks.expect("trial-" in text, "the runs table lists the study's trials")
    headers = page.eval("[...document.querySelectorAll('[role=columnheader]')].map(e => e.textContent.trim())")
    for obj in objectives:
        checks.expect(any(h == obj for h in headers), f"objective column {obj}")
    checks.expect("on_pareto" in headers, "on_pareto tag column")
    checks.expect("pe_type" in headers, "pe_type tag column")
    tops = page.eval("""[...document.querySelectorAll('[role=gridcell][col-id="tags.`on_pareto`"]')]
                        .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)
                        .slice(0, 3).map(c => c.textContent.trim())""")
    checks.expect(tops == ["true"] * 3, f"front first: the first rows' on_pareto is {tops}")
    shot(page, out / "runs_table.png")

    first = page.eval("""[...document.querySelectorAll('a')].map(a => a.textContent.trim())
                         .find(t => /^trial-\\d+$/.test(t))""")
    click(page, first)
    page.wait_for("document.body.innerText.includes('Parameters')", 60)
    close_assistant(page)
    time.sleep(2)
    text = page.eval("document.body.innerText")
    checks.expect("Design as evaluated" in text, f"{first}'s description says the design as evaluated")
    checks.expect("on_pareto" in text, f"{first} carries the on_pareto tag")
    shot(page, out / "trial.png")

    page.eval("[...document.querySelectorAll('a')].find(a => a.textContent.trim() === "
              f"'{study}' && a.href.includes('/runs/')).click()")  # the trial's "Parent run" link
    page.wait_for(f"document.body.innerText.includes('coexplore study {study}')", 60)
    click(page, "Artifacts")
    click(page, "config")
    time.sleep(1)
    text = page.eval("document.body.innerText")
    for part in ("study", "space", "objectives", "resolved_config.json"):
        checks.expect(part in text.split(), f"parent run artifact config/{part}")
    click(page, "objectives")
    click(page, "accuracy-energy-area.yaml", exact=False)
    time.sleep(1)
    shot(page, out / "parent_config.png")
    click(page, "plots")
    run_id = page.eval("location.href.match(/runs\\/([0-9a-f]{32})/)[1]")
    files = page.eval(f"fetch('ajax-api/2.0/mlflow/artifacts/list?run_id={run_id}&path=plots')"
                      ".then(r => r.json()).then(j => j.files.map(f => [f.path, f.file_size || 0]))")
    pages = {p: size for p, size in files if p.endswith(".html")}
    pngs = [p for p, _ in files if p.endswith(".png")]
    checks.expect(bool(pages) and max(pages.values()) < 1_000_000,
                  f"{len(pages)} HTML plots, the largest {max(pages.values(), default=0) / 1e6:.2f} MB; {len(pngs)} PNGs")
    pair = f"pareto_{objectives[0]}_vs_{objectives[1]}"
    click(page, f"{pair}.png")
    biggest = "Math.max(0, ...[...document.querySelectorAll('img')].filter(i => i.complete).map(i => i.width))"
    page.wait_for(f"{biggest} > 300", 60)
    time.sleep(1)
    width = page.eval(biggest)
    checks.expect(width >= 600, f"the Pareto PNG shows {width} px wide in the artifact pane")
    shot(page, out / "parent_plot_png.png")
    click(page, "energy_per_layer.png")
    time.sleep(2)
    shot(page, out / "parent_energy_per_layer.png")
    page.eval("window.__drawn = []; window.addEventListener('message', e => window.__drawn.push(e.data))")
    start = time.monotonic()
    click(page, f"{pair}.html")
    try:
        page.wait_for("window.__drawn.some(d => d && d.coexplorePlot === 'drawn')", 60)
        took = time.monotonic() - start
        checks.expect(took < 10, f"the interactive HTML plot drew in {took:.1f} s after the click")
    except TimeoutError:
        checks.expect(False, "the interactive HTML plot drew within 60 s")
    time.sleep(1)
    shot(page, out / "parent_plot_html.png")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study")
    ap.add_argument("--out", type=Path, default=HERE / "docs" / "review")
    ap.add_argument("--objectives", default="accuracy,energy_mj,area_mm2")
    ap.add_argument("--width", type=int, default=1440)
    args = ap.parse_args()
    objectives = args.objectives.split(",")
    checks = Checks()
    proc, url = start_ui(args.study)
    print(f"coexplore ui printed: {url}")
    if "viewStateShareKey=" not in url:
        checks.expect(False, "the printed address opens the review view (viewStateShareKey=coexplore-review)")
        url = f"{url}{'&' if '?' in url else '?'}viewStateShareKey=coexplore-review"
        print(f"continuing with {url}")
    try:
        with Chromium(width=args.width, height=900) as page:
            try:
                walk(page, url, args.study, objectives, args.out, checks)
            except Exception:
                page.screenshot(args.out / "failure.png")
                print(f"failed; the page as it was: {args.out / 'failure.png'}")
                raise
    finally:
        stop(proc)
    print(f"screenshots in {args.out}")
    if checks.failed:
        print(f"{len(checks.failed)} checks failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
