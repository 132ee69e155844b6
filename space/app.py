"""T2T Traffic-to-Text: the Gradio Space.

Upload a pcap/pcapng capture and get time-stamped captions of what the phone was doing, its app type per window,
and the throughput with the caption segments shaded. The app is UI glue only: reading, windowing, captioning,
tables and the plot come from the ``t2t_hf`` library (``t2t_hf.report``).

Run locally:  python space/app.py            (model: $T2T_MODEL, else hub/models/t2t-small)
On Spaces:    the model is $T2T_MODEL, else the first of ``models:`` in the README.md beside app.py (see space_model)
API:          gradio_client.Client(url).predict(handle_file("x.pcap"), "auto", 10, api_name="/caption")
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
HERE = Path(__file__).resolve().parent
if not (HERE / "t2t_hf").exists() and (HERE.parent / "t2t_hf").exists():  # running from the repository
    sys.path.insert(0, str(HERE.parent))

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402

from t2t_hf.errors import T2TInputError  # noqa: E402
from t2t_hf.report import (DEFAULT_MODEL_DIR, TIMELINE_HEADERS, caption_report, capture_devices,  # noqa: E402
                           check_capture_file, default_model, load_captioner, max_upload_bytes, plot_report)

EXAMPLES_DIR = HERE / "examples"
AUTO = "auto (most active device)"
ALL = "all"
#: the Space refuses captures with more windows than this (a CPU Space captions ~100 windows/s)
MAX_WINDOWS = int(os.environ.get("T2T_MAX_WINDOWS", "5000"))

DESCRIPTION = """# T2T: Traffic-to-Text
Plain-English captions of smartphone activity from **encrypted** traffic: only packet sizes, directions and
timing are used, never payload. Upload a `.pcap`/`.pcapng` capture of a phone (or click an example made with
the T2T-Sim simulator), pick the device and the window length, and press **Caption**.
Based on *T2T: Traffic-to-Text* (Liu et al., IJCNN 2026, arXiv:2604.05642)."""


def example_files() -> list[Path]:
    """The bundled example captures (space/examples/*.pcap), sorted by name."""
    return sorted(EXAMPLES_DIR.glob("*.pcap")) + sorted(EXAMPLES_DIR.glob("*.pcapng"))


def card_model(readme: Path) -> str | None:
    """The first entry of the ``models:`` list in the YAML front matter of ``readme``; None if there is none."""
    import yaml

    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    if not text.startswith("---\n") or "\n---" not in text[4:]:
        return None
    meta = yaml.safe_load(text[4:text.index("\n---", 4)])
    models = meta.get("models") if isinstance(meta, dict) else None
    if isinstance(models, str):
        models = [models]
    return str(models[0]) if models else None


def space_model(readme: Path = HERE / "README.md") -> str:
    """The model to load when none is given: ``$T2T_MODEL`` or the checkout's hub/models/t2t-small
    (:func:`t2t_hf.report.default_model`) when either is there; otherwise (on Spaces, where ``t2t_hf/`` sits beside
    app.py without hub/) the model the Space's card names, the first of ``models:`` in ``readme``."""
    if os.environ.get("T2T_MODEL") or DEFAULT_MODEL_DIR.exists():
        return default_model()
    return card_model(readme) or default_model()


def build_demo(model: str | None = None, max_bytes: int | None = None) -> gr.Blocks:
    """The Blocks UI. ``model``: a folder or Hub id (default: :func:`space_model`), loaded on the first caption
    request; ``max_bytes``: the upload limit (default $T2T_MAX_UPLOAD_MB or 50 MiB)."""
    model_name = model or space_model()
    limit = max_upload_bytes() if max_bytes is None else int(max_bytes)
    state: dict = {}

    def captioner():
        if "pipe" not in state:
            state["pipe"] = load_captioner(model_name)
        return state["pipe"]

    def devices_of(file):
        """Upload event: check the file and fill the device selector."""
        if not file:
            return gr.update(choices=[AUTO], value=AUTO), ""
        try:
            check_capture_file(file, limit)
            devs = capture_devices(file)
        except T2TInputError as e:
            return gr.update(choices=[AUTO], value=AUTO), f"**Rejected:** {e}"
        if not devs:
            return gr.update(choices=[AUTO], value=AUTO), "**Note:** no client device found in this capture."
        return (gr.update(choices=[AUTO, *devs, ALL], value=AUTO),
                f"{len(devs)} client device(s): {', '.join(devs[:8])}{' ...' if len(devs) > 8 else ''}")

    def caption(file, device, window):
        """Caption the capture: (status, timeline table, throughput plot, app-type probabilities)."""
        try:
            check_capture_file(file, limit)
            dev = None if device in (None, "", AUTO) else device
            rep = caption_report(captioner(), file, device=dev, window=float(window or 10.0),
                                 max_windows=MAX_WINDOWS)
        except T2TInputError as e:
            raise gr.Error(str(e), title="Cannot caption this file") from None
        import matplotlib.pyplot as plt

        fig = plot_report(rep)
        plt.close(fig)  # rendered by Gradio from the Figure object; keep pyplot's registry empty
        headers, rows = rep.probability_rows()
        return (f"**{rep.summary()}.** Times are seconds since the first packet.",
                pd.DataFrame(rep.timeline_rows(), columns=TIMELINE_HEADERS), fig, pd.DataFrame(rows, columns=headers))

    # uploads land in Gradio's cache: delete files older than 10 minutes, every 10 minutes
    with gr.Blocks(title="T2T: Traffic-to-Text", delete_cache=(600, 600)) as demo:
        gr.Markdown(DESCRIPTION)
        with gr.Row():
            with gr.Column(scale=2):
                file = gr.File(label=f"Capture (.pcap / .pcapng, at most {limit / 2**20:.0f} MiB)",
                               file_types=[".pcap", ".pcapng", ".cap", ".gz"], type="filepath", elem_id="capture")
            with gr.Column(scale=1):
                device = gr.Dropdown(choices=[AUTO], value=AUTO, label="Device", allow_custom_value=True,
                                     info="client devices found in the capture", elem_id="device")
                window = gr.Slider(2, 60, value=10, step=1, label="Window length (s)", elem_id="window")
                run = gr.Button("Caption", variant="primary", elem_id="caption-button")
        status = gr.Markdown(elem_id="status")
        timeline = gr.Dataframe(headers=TIMELINE_HEADERS, label="Timeline", wrap=True, interactive=False,
                                column_widths=["8%", "8%", "14%", "48%", "11%", "11%"], elem_id="timeline")
        plot = gr.Plot(label="Throughput (uplink up, downlink down) with caption segments", elem_id="throughput")
        probs = gr.Dataframe(label="App-type probabilities per window", interactive=False, elem_id="probabilities")
        outputs = [status, timeline, plot, probs]
        file.change(devices_of, inputs=file, outputs=[device, status], api_name="devices")
        run.click(caption, inputs=[file, device, window], outputs=outputs, api_name="caption")
        examples = example_files()
        if examples:
            gr.Examples(examples=[[str(p), AUTO, 10] for p in examples], inputs=[file, device, window],
                        outputs=outputs, fn=caption, run_on_click=True, cache_examples=False,
                        label="Example captures (T2T-Sim, one click)", elem_id="examples",
                        example_labels=[p.stem.replace("_", " ") for p in examples])
        gr.Markdown(f"Model: `{model_name}`. Captured traffic is personal data: uploads are deleted from the server "
                    "within 20 minutes, nothing is logged, and T2T never looks at payload.")
    return demo


demo = build_demo() if __name__ == "__main__" or os.environ.get("SYSTEM") == "spaces" else None

if __name__ == "__main__":
    demo.queue().launch(max_file_size=max_upload_bytes(), allowed_paths=[str(EXAMPLES_DIR)])
