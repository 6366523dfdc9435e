"""The model-backed investigator against a local stub of an OpenAI-compatible server:
a good verdict, a malformed one, a timeout. The hub's gate decides either way."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from channels.reconcile.investigate import ModelInvestigator

EVIDENCE = {
    "expected": 20,
    "observed": 17,
    "delta": -3,
    "pending_push": None,
    "dead_push": None,
    "echo_of_our_push": None,
    "recent_orders": [],
    "unprocessed_events": False,
    "drifted_before_30d": 0,
    "recent_stock_changes": [],
}


@pytest.fixture
def model_server():
    state = {"content": "", "delay": 0.0, "requests": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state["requests"].append((self.path, body))
            time.sleep(state["delay"])
            answer = {"choices": [{"message": {"role": "assistant", "content": state["content"]}}]}
            data = json.dumps(answer).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield state
    server.shutdown()
    server.server_close()


def investigator(server, timeout=2.0):
    return ModelInvestigator(url=server["url"], model="local-7b", timeout=timeout)


def test_a_good_verdict_is_taken(model_server):
    model_server["content"] = json.dumps(
        {"understood": True, "confidence": 0.9, "reasoning": "A lost push; re-push."}
    )
    verdict = investigator(model_server).investigate(EVIDENCE)
    assert (verdict.understood, verdict.confidence) == (True, 0.9)
    assert verdict.reasoning == "A lost push; re-push."
    assert verdict.investigator == "model:local-7b"
    path, body = model_server["requests"][0]
    assert path == "/v1/chat/completions"
    assert body["model"] == "local-7b"
    assert json.loads(body["messages"][1]["content"])["observed"] == 17


@pytest.mark.parametrize(
    "content",
    [
        "sure, looks fine",
        json.dumps({"understood": True, "confidence": 1.7, "reasoning": "x"}),
        json.dumps({"understood": "yes", "confidence": 0.9, "reasoning": "x"}),
        json.dumps({"understood": True, "confidence": 0.9}),
        json.dumps({"understood": True, "confidence": 0.9, "reasoning": "x", "action": "fix"}),
    ],
)
def test_a_malformed_verdict_falls_back_to_the_rules(model_server, content):
    model_server["content"] = content
    verdict = investigator(model_server).investigate(EVIDENCE)
    assert verdict.investigator == "model->rules"
    assert verdict.confidence == 0.5  # the rules: nothing explains it
    assert "the rules decided" in verdict.reasoning


def test_a_timeout_falls_back_to_the_rules(model_server):
    model_server["delay"] = 1.0
    model_server["content"] = json.dumps({"understood": True, "confidence": 1, "reasoning": "x"})
    started = time.monotonic()
    verdict = investigator(model_server, timeout=0.2).investigate(EVIDENCE)
    assert time.monotonic() - started < 1.0
    assert verdict.investigator == "model->rules"
    assert "timed out" in verdict.reasoning


def test_an_unreachable_server_falls_back_to_the_rules():
    verdict = ModelInvestigator(url="http://127.0.0.1:9", model="m", timeout=0.5).investigate(
        EVIDENCE
    )
    assert verdict.investigator == "model->rules"


def test_a_not_understood_verdict_never_passes_the_gate(model_server):
    model_server["content"] = json.dumps(
        {"understood": False, "confidence": 0.95, "reasoning": "No idea."}
    )
    verdict = investigator(model_server).investigate(EVIDENCE)
    assert verdict.confidence == 0.5


@pytest.mark.django_db
def test_the_model_investigator_drives_a_real_reconcile(model_server, connect, sim, settings):
    from channels.models import Drift, DriftStatus

    from .conftest import drain, reconcile, stocked

    settings.DRIFT_INVESTIGATOR, settings.DRIFT_MODEL_URL = "model", model_server["url"]
    settings.DRIFT_MODEL_NAME = "local-7b"
    model_server["content"] = json.dumps(
        {"understood": True, "confidence": 0.86, "reasoning": "Channel-side typo; re-push."}
    )
    stocked("MDL", 12)
    channel = connect("sandbox", "shop", {"MDL": 12})
    drain(channel)
    sim.set_levels("shop", {"MDL": 10})
    reconcile(channel)
    drift = Drift.objects.get()
    assert drift.status == DriftStatus.AUTO_CORRECTED
    assert drift.evidence["investigator"] == "model:local-7b"
