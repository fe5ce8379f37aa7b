"""The bounded queue: past its size, requests are refused cleanly and the server carries on."""

from __future__ import annotations

from gradio_client import Client

from studio import limits
from studio.fake_engine import FakeEngine
from tests.studio.support import running_studio


def test_a_full_queue_refuses_cleanly_and_the_server_carries_on(monkeypatch):
    monkeypatch.setattr(limits, "QUEUE_SIZE", 2)
    with running_studio(FakeEngine(step_delay=0.4)) as url:
        clients = [Client(url, verbose=False) for _ in range(8)]
        jobs = [client.submit("fake-shapes-vqvae", "a red circle", 1, index, 1.0, 0, 1, api_name="/text_to_image")
                for index, client in enumerate(clients)]
        outcomes = []
        for job in jobs:
            try:
                job.result(timeout=60)
                outcomes.append("served")
            except Exception as error:  # noqa: BLE001 - we classify every outcome
                outcomes.append("refused" if "queue is full" in str(error).lower() else f"error: {error}")
        assert "refused" in outcomes and "served" in outcomes
        assert all(outcome in ("served", "refused") for outcome in outcomes), outcomes
        gallery, _ = clients[0].predict("fake-shapes-vqvae", "a blue square", 1, 0, 1.0, 0, 1,
                                        api_name="/text_to_image")
        assert len(gallery) == 1

