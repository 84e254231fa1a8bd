"""The chat page (Gradio Blocks) and the JSON API on one FastAPI app, served by uvicorn.

Thin by design: every handler calls ui.service.Service, which calls rag/ like the CLI does.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from rag.settings import Settings  # sets HF_HUB_OFFLINE and GRADIO_ANALYTICS_ENABLED first

import gradio as gr  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402

from rag.engines import ENGINES  # noqa: E402
from rag.errors import DocchatError  # noqa: E402
from rag.loaders import SUPPORTED  # noqa: E402
from rag.types import Answer, Status, UpdateSummary  # noqa: E402
from ui import api  # noqa: E402
from ui.render import (CSS, answer_html, draft_html, error_html, sources_html,  # noqa: E402
                       text_html)
from ui.service import Service  # noqa: E402

log = logging.getLogger(__name__)
THEME = gr.themes.Base(font=["ui-sans-serif", "system-ui", "sans-serif"],  # no web fonts:
                       font_mono=["ui-monospace", "monospace"])  # the page works offline


def status_md(status: Status, docs: Path) -> str:
    if not status.exists:
        return "**Index:** none yet: upload documents or press *Refresh index*."
    when = status.built_at.replace("T", " ")[:19]
    skipped = f" · {len(status.skipped)} skipped (listed below)" if status.skipped else ""
    return (f"**Index:** {status.files} file{'s' * (status.files != 1)} · {status.chunks} "
            f"chunks · model `{os.path.basename(status.model)}` · updated {when} UTC"
            f"{skipped} · uploads go to `{docs}`")


def skipped_md(status: Status) -> str:
    return "\n".join(f"- Skipped **{text_html(os.path.basename(s.path))}**: "
                     f"{text_html(s.reason)}" for s in status.skipped)


def summary_md(summary: UpdateSummary, saved: list[str] = ()) -> str:
    lines = [f"Saved: {', '.join(text_html(s) for s in saved)}."] if saved else []
    counts = ", ".join(f"{len(getattr(summary, k))} {k}" for k in
                       ("added", "updated", "removed", "unchanged"))
    lines.append(f"Index updated in {summary.seconds:.1f} s: {counts}; {summary.embedded} "
                 f"chunks embedded, {summary.chunks} in all.")
    if summary.reason:
        lines.append(f"Full rebuild: {text_html(summary.reason)}.")
    for s in summary.skipped:
        lines.append(f"- Skipped **{text_html(os.path.basename(s.path))}**: "
                     f"{text_html(s.reason)}")
    return "\n".join(lines)


def build_blocks(service: Service) -> gr.Blocks:
    def progress_cb(progress: gr.Progress):
        return lambda frac, msg: progress(frac, desc=msg)

    def on_ask(question, msgs, history, engine, k, base_url, model):
        question = (question or "").strip()
        if not question:
            yield msgs, msgs, history, gr.skip(), gr.skip()
            return
        msgs = msgs + [{"role": "user", "content": text_html(question)},
                       {"role": "assistant", "content": draft_html("…")}]
        yield msgs, msgs, history, gr.skip(), ""
        draft, answer = "", None
        try:
            for event in service.ask(question, history, engine, int(k),
                                     openai_base_url=base_url, openai_model=model):
                if isinstance(event, Answer):
                    answer = event
                else:
                    draft += event
                    msgs[-1]["content"] = draft_html(draft)
                    yield msgs, msgs, history, gr.skip(), ""
        except DocchatError as exc:
            msgs[-1]["content"] = error_html(str(exc))
            yield msgs, msgs, history, gr.skip(), ""
            return
        msgs[-1]["content"] = answer_html(answer)
        history = history + [(answer.question, answer.answer)]
        yield msgs, msgs, history, sources_html(answer), ""

    def on_new():
        return [], [], [], sources_html(None), ""

    def on_upload(paths, progress=gr.Progress()):
        if not paths:
            return gr.skip(), gr.skip(), None
        handles = [open(p, "rb") for p in paths]
        try:
            saved, summary = service.add_files(
                ((Path(p).name, fh) for p, fh in zip(paths, handles)), progress_cb(progress))
            log_text = summary_md(summary, saved)
        except DocchatError as exc:
            log_text = f"**Upload refused:** {text_html(str(exc))}"
        finally:
            for fh in handles:
                fh.close()
        return log_text, status_md(service.status(), service.docs), None

    def on_load():  # the index may have changed since the page was built: show it as it is
        st = service.status()
        return status_md(st, service.docs), skipped_md(st)

    def on_refresh(full, progress=gr.Progress()):
        try:
            log_text = summary_md(service.refresh(bool(full), progress_cb(progress)))
        except DocchatError as exc:
            log_text = f"**Index update failed:** {text_html(str(exc))}"
        return log_text, status_md(service.status(), service.docs)

    def ask_api(question: str, history: list[list[str]] | None = None, k: int = 0,
                engine: str = "") -> dict:
        """Answer a question with verified citations (the answer shape of POST /api/ask)."""
        return service.answer(question, [tuple(t) for t in history or []], engine or None,
                              k or None).to_dict()

    s = service.settings
    with gr.Blocks(title="docchat", analytics_enabled=False) as blocks:
        gr.Markdown("## docchat: ask your documents, check every citation")
        status = gr.Markdown(status_md(service.status(), service.docs), elem_id="status")
        msgs, history = gr.State([]), gr.State([])
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(elem_id="chat", height=520, label="Conversation",
                                  feedback_options=None, show_label=False,
                                  buttons=["copy", "copy_all"])  # no "share": it posts to HF
                with gr.Row():
                    question = gr.Textbox(elem_id="question", show_label=False, scale=6,
                                          placeholder="Ask a question about your documents",
                                          max_length=s.max_question_chars, autofocus=True)
                    ask_btn = gr.Button("Ask", elem_id="ask", variant="primary", scale=1)
                new_btn = gr.Button("New conversation", elem_id="new-chat", size="sm")
            with gr.Column(scale=2):
                sources = gr.HTML(sources_html(None), elem_id="sources")
        with gr.Accordion("Documents", open=True):
            upload = gr.File(label=f"Add documents ({', '.join(SUPPORTED)}; at most "
                             f"{s.upload_max_mb:g} MiB each)", file_count="multiple",
                             file_types=list(SUPPORTED), elem_id="upload")
            with gr.Row():
                full = gr.Checkbox(label="Re-embed everything", value=False, elem_id="full")
                refresh_btn = gr.Button("Refresh index", elem_id="rebuild", size="sm")
            index_log = gr.Markdown(skipped_md(service.status()), elem_id="index-log")
        with gr.Accordion("Settings", open=False):
            engine = gr.Radio(list(ENGINES), value=s.engine, label="Answer engine",
                              elem_id="engine")
            top_k = gr.Slider(1, 20, value=s.top_k, step=1, label="Passages (top-k)")
            base_url = gr.Textbox(s.openai_base_url, label="OpenAI-compatible base URL")
            model = gr.Textbox(s.openai_model, label="Model (empty: the server's first)")

        inputs = [question, msgs, history, engine, top_k, base_url, model]
        outputs = [msgs, chat, history, sources, question]
        for trigger in (question.submit, ask_btn.click):
            trigger(on_ask, inputs, outputs, api_visibility="private", concurrency_limit=4)
        new_btn.click(on_new, None, outputs, api_visibility="private")
        chat.clear(on_new, None, outputs, api_visibility="private")  # the chat's trash icon
        upload.upload(on_upload, upload, [index_log, status, upload], api_visibility="private")
        refresh_btn.click(on_refresh, full, [index_log, status], api_visibility="private")
        blocks.load(on_load, None, [status, index_log], api_visibility="private")
        gr.api(ask_api, api_name="ask", concurrency_limit=4)
    return blocks


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    if not auth:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise DocchatError("--auth must be USER:PASS")
    return user, password


def create_app(settings: Settings, auth: str | None = None) -> FastAPI:
    """The FastAPI app: /api/* and the OpenAPI schema, with the page mounted at /."""
    credentials = parse_auth(auth)
    service = Service(settings)
    service.ensure_index()
    service.start_watching()
    app = FastAPI(title="docchat", version="0.1.0",
                  description="Ask questions about your documents; every sentence is cited.")
    api.install(app, service, credentials)
    blocks = build_blocks(service)
    return gr.mount_gradio_app(
        app, blocks, path="", server_name=settings.host, server_port=settings.port,
        auth=credentials, max_file_size=service.max_bytes,
        ssr_mode=False, footer_links=["api"], theme=THEME, css=CSS,
        allowed_paths=[], enable_monitoring=False, mcp_server=False)


def serve(settings: Settings, auth: str | None = None) -> None:
    app = create_app(settings, auth)
    print(f"docchat: chat page at http://{settings.host}:{settings.port}/ "
          f"(API docs at /docs)", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
