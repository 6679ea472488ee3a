"""The Gradio page of `dcpt app`: a photo in; detected degradation, before/after slider, PIQE, download.

Everything runs locally: Gradio's analytics are off (`GRADIO_ANALYTICS_ENABLED=False`, set before
Gradio is imported), no share link is made, server-side rendering (a Node process) is off and the
default theme's fonts are served by the app itself, so the page works with no network.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np

from ..errors import DcptError
from .core import ProgressFn, Result, Session, make_examples

INSTALL_HINT = "dcpt app needs Gradio: pip install 'dcpt[app]'"


def import_gradio() -> Any:
    """The gradio module, imported offline; a missing install is one DcptError line naming the extra."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gradio
    except ImportError as exc:
        raise DcptError(f"{INSTALL_HINT} ({exc})") from None
    return gradio


def piqe_text(result: Result) -> str:
    """PIQE before and after as one Markdown line."""
    before, after = result.piqe_before, result.piqe_after
    change = f" ({100.0 * (after - before) / before:+.1f}%)" if before else ""
    return f"**PIQE** (lower is better): input {before:.2f}, restored {after:.2f}{change}"


def save_download(restored: np.ndarray, folder: Optional[Path] = None) -> Path:
    """Write the restored array as `restored.png` in a fresh folder under `folder` (one per request,
    so a download never receives a later request's image)."""
    from ..data.io import write_image

    folder = Path(tempfile.mkdtemp(prefix="dcpt-app-", dir=folder))
    return write_image(folder / "restored.png", restored)


def respond(
    session: Session,
    image: Optional[np.ndarray],
    progress: Optional[ProgressFn] = None,
    folder: Optional[Path] = None,
) -> Tuple[Dict[str, float], Tuple[np.ndarray, np.ndarray], str, str]:
    """The Restore button: a photo -> (probabilities, (input, restored) for the slider, the PIQE and
    size summary in Markdown, the path of the restored PNG, written under `folder`, for the download)."""
    if image is None:
        raise DcptError("upload a photo or pick an example first")
    result = session(image, progress)
    restored = np.ascontiguousarray(result.restored)
    before = np.ascontiguousarray(image[..., :3]) if image.ndim == 3 else image
    how = "whole" if result.tiles == 1 else f"in {result.tiles} tiles"
    summary = f"{piqe_text(result)}  \nRestored {how}, {restored.shape[1]} x {restored.shape[0]} pixels."
    return result.probabilities, (before, restored), summary, str(save_download(restored, folder))


def build_app(session: Session, examples_dir: Optional[Path] = None) -> Any:
    """The `gr.Blocks` page around `session`; `examples_dir` receives the example photos.

    The example photos (unless `examples_dir` is given) and the restored PNGs go to one temporary
    folder, removed when the process ends; Gradio's own copies of uploads and results are removed
    after two hours."""
    gr = import_gradio()
    work = Path(tempfile.mkdtemp(prefix="dcpt-app-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)
    examples_dir = examples_dir or work / "examples"
    example_paths = make_examples(examples_dir)
    tracker = gr.Progress()  # Gradio finds the progress bar by this default value

    def run(image: Optional[np.ndarray], progress=tracker) -> Tuple[Dict[str, float], Any, str, str]:
        def step(done: int, total: int) -> None:
            progress((done, total), desc="restoring", unit="tiles")

        progress(0.0, desc="classifying")
        try:
            return respond(session, image, step, work)
        except DcptError as exc:
            raise gr.Error(str(exc)) from None

    tiling = (
        f"images of more than {session.tile} x {session.tile} pixels are restored in tiles of that size"
        if session.tile
        else "images are restored whole"
    )
    does = "names its degradation and restores it" if session.class_names else "(no classifier) restores it"
    with gr.Blocks(
        title="dcpt: universal image restoration", analytics_enabled=False, delete_cache=(3600, 7200)
    ) as app:
        gr.Markdown(
            "## dcpt: universal image restoration\n"
            f"Upload a photo or pick an example. Checkpoint `{session.checkpoint.name}` {does}; {tiling}."
        )
        with gr.Row():
            with gr.Column(scale=1):
                photo = gr.Image(label="Degraded photo", type="numpy", image_mode="RGB", elem_id="photo")
                button = gr.Button("Restore", variant="primary", elem_id="restore")
                gr.Examples(examples=[[str(p)] for p in example_paths], inputs=[photo], label="Examples")
            with gr.Column(scale=1):
                slider = gr.ImageSlider(
                    label="Before / after", type="numpy", format="png", elem_id="slider", interactive=False
                )
                probabilities = gr.Label(
                    label="Detected degradation",
                    num_top_classes=len(session.class_names) or None,
                    elem_id="probabilities",
                )
                piqe = gr.Markdown("**PIQE** input - , restored -", elem_id="piqe")
                download = gr.DownloadButton("Download restored PNG", elem_id="download")
        button.click(run, inputs=[photo], outputs=[probabilities, slider, piqe, download])
    app.examples_dir = examples_dir
    return app


def serve(session: Session, host: str = "127.0.0.1", port: Optional[int] = 7860, block: bool = True) -> Any:
    """Start the page on `host:port` (a local server only: no share link); blocks unless `block=False`."""
    app = build_app(session)
    app.queue(default_concurrency_limit=1).launch(
        server_name=host,
        server_port=port,
        share=False,
        inbrowser=False,
        ssr_mode=False,
        show_error=True,
        prevent_thread_lock=not block,
        allowed_paths=[str(app.examples_dir)],
        footer_links=["gradio", "settings"],
    )
    return app
