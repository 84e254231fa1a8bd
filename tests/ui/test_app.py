"""The page's events (ui/app.py build_blocks), built without launching for a stand-in service:
which events exist, what they share (a handler object: a concurrency limit), what Stop
cancels, that each handler gets the inputs its signature takes and returns as many values as
its event has outputs, and that the Gradio API offers only "ask"."""
from __future__ import annotations

import inspect
from types import SimpleNamespace

import pytest

from rag.conversations import Conversations
from rag.settings import Settings
from rag.types import Status
from ui.app import ASK_API_INPUTS, ASK_OUTPUTS, build_blocks

REQUEST = SimpleNamespace(username="", session_hash="s1")


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("app")
    return SimpleNamespace(settings=Settings(index_dir=str(tmp / "index")),
                           status=lambda: Status(False), docs=tmp / "uploads",
                           conversations=Conversations(tmp / "db"), documents=lambda: [],
                           scope_folders=lambda: [], example_questions=lambda n: ["Who?"])


@pytest.fixture(scope="module")
def blocks(service):
    return build_blocks(service)


def events(blocks, name: str | None = None) -> list:
    fns = [f for f in blocks.fns.values() if not f.is_cancel_function]
    return fns if name is None else [f for f in fns if getattr(f.fn, "__name__", "") == name]


def test_the_page_is_docchats(blocks):
    assert blocks.title == "docchat" and blocks.analytics_enabled is False


def test_the_gradio_api_offers_only_ask_with_the_http_apis_inputs(blocks):
    public = [f for f in events(blocks) if f.api_visibility != "private"]
    assert [(f.api_name, f.api_visibility) for f in public] == [("ask", "public")]
    (ask,) = public
    params = list(inspect.signature(ask.fn).parameters.values())
    assert [p.name for p in params] == ASK_API_INPUTS.names
    defaults = [p.default for p in params[ASK_API_INPUTS.required:]]  # None: no history
    assert [[] if d is None else d for d in defaults] == ASK_API_INPUTS.defaults
    assert sum(p.default is inspect.Parameter.empty for p in params) == ASK_API_INPUTS.required
    assert ask.concurrency_limit == 4


def test_the_five_ways_to_ask_share_one_handler_and_one_limit(blocks):
    """The box, the button and three example questions: one bound method, so Gradio counts
    them against one concurrency limit (four questions of a page at once, not twenty)."""
    asks = events(blocks, "on_ask")
    assert len(asks) == 5
    assert len({id(f.fn) for f in asks}) == 1 and len({f.concurrency_id for f in asks}) == 1
    assert {f.concurrency_limit for f in asks} == {4}
    assert all(len(f.outputs) == ASK_OUTPUTS for f in asks)
    (regenerate,) = events(blocks, "on_regenerate")
    (summarise,) = events(blocks, "on_summarise")
    assert regenerate.concurrency_limit == 4 and summarise.concurrency_limit == 2
    assert len(regenerate.outputs) == len(summarise.outputs) == ASK_OUTPUTS


def test_stop_cancels_every_answer_being_made_and_nothing_else(blocks):
    (stop,) = events(blocks, "on_stopped")
    assert stop.concurrency_limit is None  # one page's Stop never queues behind another's
    (cancel,) = [f for f in blocks.fns.values() if f.is_cancel_function]
    assert cancel.targets == stop.targets  # the same click
    cancelled = {getattr(blocks.fns[i].fn, "__name__", "") for i in cancel.cancels}
    assert cancelled == {"on_ask", "on_regenerate", "on_summarise"}
    assert len(cancel.cancels) == len(events(blocks, "on_ask")) + 2


def test_forgetting_a_pending_conversation_is_one_handler_for_its_three_events(blocks):
    forgets = events(blocks, "forget_pending")
    assert len(forgets) == 3 and len({id(f.fn) for f in forgets}) == 1
    assert {t[1] for f in forgets for t in f.targets} == {"click", "clear", "input"}


def test_picking_removing_and_cancelling_in_the_library_run_in_click_order(blocks):
    ordered = [f for f in events(blocks) if f.concurrency_id == "library-pick"]
    assert {getattr(f.fn, "__name__", "") for f in ordered} == {"on_pick", "on_pick_delete",
                                                                 "<lambda>"}
    assert {f.concurrency_limit for f in ordered} == {1}


SPECIAL = ("Request", "LikeData", "Progress")  # given by Gradio, not inputs


def test_every_handler_takes_the_inputs_its_event_gives(blocks):
    for f in events(blocks):
        params = [p for p in inspect.signature(f.fn).parameters.values()
                  if not any(s in str(p.annotation) for s in SPECIAL)
                  and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        required = [p for p in params if p.default is inspect.Parameter.empty]
        assert len(required) <= len(f.inputs) <= len(params), (f.fn, len(f.inputs))


def test_handlers_without_inputs_return_a_value_for_each_output(blocks):
    checked = 0
    for f in events(blocks):
        if f.inputs or not f.outputs:
            continue
        out = f.fn()
        assert len(out if isinstance(out, tuple) else (out,)) == len(f.outputs), f.fn
        checked += 1
    assert checked >= 4  # New, the chat's trash icon, the two Cancels, the scope reset...


def test_the_page_load_fills_every_output_it_names(blocks):
    (load,) = events(blocks, "on_load")
    out = load.fn(None, REQUEST)
    assert len(out) == len(load.outputs) == 21
    (opened,) = events(blocks, "on_open")
    assert len(opened.fn(None, REQUEST)) == len(opened.outputs)
    (deleted,) = events(blocks, "on_delete_conv")
    assert len(deleted.fn(None, REQUEST)) == len(deleted.outputs)


def test_a_conversation_opened_or_left_enables_or_disables_its_actions(blocks):
    (toggle,) = [f for f in events(blocks, "<lambda>") if len(f.outputs) == 4]
    assert [u["interactive"] for u in toggle.fn("c1")] == [True] * 4
    assert [u["interactive"] for u in toggle.fn(None)] == [False] * 4


def test_each_build_is_its_own_page_state(service):
    """Two builds (two servers in one process, as the tests make) share no pending ids."""
    one, two = build_blocks(service), build_blocks(service)
    (a,), (b,) = events(one, "on_ask")[:1], events(two, "on_ask")[:1]
    assert a.fn.__self__ is not b.fn.__self__
