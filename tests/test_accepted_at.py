"""A stored row is dated when the handler accepted the message, not when a receiver got to it."""

from datetime import UTC, datetime

from handlers.auth.tokens import issue_token
from receivers.models import EthereumStatistics, Receiver
from tests.agent_client import call, create_agent_user, sample
from tests.live import wait_until

#: Seconds the statistics storage waits between batches in this test (its row's ``linger``).
LINGER = 4.0


def test_a_rest_report_is_dated_when_it_was_accepted_however_late_storage_writes_it(live_backend):
    Receiver.objects.filter(name="ethereum_statistics").update(options={"linger": LINGER})
    create_agent_user("agent", "a-long-password")
    backend = live_backend()
    rest, token = backend.url("rest"), issue_token("agent")

    # The first report starts a batch at once; the storage then waits LINGER before the next.
    assert call(rest, "/data", sample("statistics"), token=token).status == 200
    assert wait_until(lambda: EthereumStatistics.objects.count() == 1)
    before = datetime.now(UTC)
    reply = call(rest, "/data", {**sample("statistics"), "id": "late-agent"}, token=token)
    answered = datetime.now(UTC)
    assert reply.status == 200

    assert wait_until(lambda: EthereumStatistics.objects.filter(agent_id="late-agent").exists(), LINGER + 5)
    row = EthereumStatistics.objects.get(agent_id="late-agent")
    assert before <= row.date <= answered
