"""Small self-contained HTML pages for plotly figures, drawn in MLflow's artifact pane in a second.

MLflow shows an HTML artifact in a sandboxed ``blob:`` frame and serves artifacts as
``text/plain`` with ``nosniff``: a page there can run only what it carries inline (a shared
``plotly.min.js`` artifact cannot be loaded as a script, nor fetched across the opaque origin).
Inlining plotly.js (4.8 MB) made a report of megabytes that took tens of seconds to show. So each
page carries plotly.js's *basic* bundle (scatter, bar, pie: all these plots need; 1.2 MB, the
same plotly.js version as plotly.py's), gzipped and base64-encoded (~0.5 MB), and unpacks it with
the browser's ``DecompressionStream``. Each page stands alone: in the artifact pane, downloaded,
or opened from disk.

``coexplore/data/plotly-basic.min.js.gz`` is ``plotly-basic.min.js`` from the npm package
``plotly.js-basic-dist-min`` (MIT licence, Copyright 2012-2026 Plotly, Inc.), version
:data:`PLOTLY_BASIC_VERSION`, gzipped. Where it is missing, or plotly.py brings another plotly.js
version, the full bundle is packed the same way (about 2 MB a page).
"""

from __future__ import annotations

import base64
import gzip
import html
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import plotly.graph_objects as go

PLOTLY_BASIC_VERSION = "4.1.1"
_BUNDLE = "plotly-basic.min.js.gz"

_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:0}} #plot{{width:100vw;height:100vh}}</style></head>
<body><div id="plot"></div>
<script id="figure" type="application/json">{figure}</script>
<script id="plotlyjs" type="application/octet-stream">{bundle}</script>
<script>
(async function () {{
  try {{
    // plotly.js ({which}), gzipped in this page: unpacked and run here, no request made
    var b64 = document.getElementById("plotlyjs").textContent.trim();
    var bytes = Uint8Array.from(atob(b64), function (c) {{ return c.charCodeAt(0); }});
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    var code = document.createElement("script");
    code.textContent = await new Response(stream).text();
    document.head.appendChild(code);
    var fig = JSON.parse(document.getElementById("figure").textContent);
    await Plotly.newPlot("plot", fig.data, fig.layout, {{responsive: true, displaylogo: false}});
    // tells an embedding page (MLflow's artifact pane, scripts/review_ui.py) when it has drawn
    if (window.parent !== window) window.parent.postMessage({{coexplorePlot: "drawn", ms: performance.now()}}, "*");
  }} catch (err) {{
    document.body.textContent = "This plot needs a browser with DecompressionStream (2023 or later): " + err;
  }}
}})();
</script></body></html>
"""


@lru_cache(maxsize=1)
def plotly_bundle() -> tuple[str, str]:
    """(base64 of the gzipped plotly.js bundle, which bundle it is)."""
    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    if get_plotlyjs_version() == PLOTLY_BASIC_VERSION:
        try:
            data = resources.files("coexplore.data").joinpath(_BUNDLE).read_bytes()
            return base64.b64encode(data).decode("ascii"), f"basic bundle v{PLOTLY_BASIC_VERSION}"
        except (FileNotFoundError, ModuleNotFoundError, OSError):
            pass
    data = gzip.compress(get_plotlyjs().encode("utf-8"), 9, mtime=0)
    return base64.b64encode(data).decode("ascii"), f"full bundle v{get_plotlyjs_version()}"


def write_page(fig: go.Figure, path: Path, title: str) -> Path:
    """Write ``fig`` as a self-contained page (see the module docstring); returns ``path``."""
    figure = fig.to_json().replace("</", "<\\/")  # no "</script>" inside the JSON block
    bundle, which = plotly_bundle()
    path.write_text(_PAGE.format(title=html.escape(title), figure=figure, bundle=bundle, which=which),
                    encoding="utf-8")
    return path


def page_json(path: Path) -> dict:
    """The figure JSON inside a page written by :func:`write_page` (for tests and tools)."""
    text = path.read_text(encoding="utf-8")
    start = text.index('type="application/json">') + len('type="application/json">')
    return json.loads(text[start:text.index("</script>", start)])
