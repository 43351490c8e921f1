"""Fair turns between requesters for a model's slots, and the per-requester limits: the order requests are
admitted in, with made-up runners (no timing: each request holds its slot until the test releases it)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from jupyter_ollama.errors import TooManyRequests
from jupyter_ollama.scheduler.report import running
from jupyter_ollama.scheduler.scheduler import Scheduler
from jupyter_ollama.scheduler.settings import SchedulerSettings, parse_weights
from jupyter_ollama.scheduler.turns import ANONYMOUS, QUEUE_LIMIT, TOKEN_LIMIT, ModelQueue, Requester
from jupyter_ollama.store.store import ModelStore

from .fake_scheduler import make_store, run, until

KEY = "registry.ollama.ai/library/a:latest"


@pytest.fixture(scope="module")
def store(tmp_path_factory, smollm2_gguf) -> ModelStore:
    return make_store(tmp_path_factory.mktemp("models"), smollm2_gguf)


def user(name: str, *groups: str) -> Requester:
    return Requester(key=name, name=name, groups=groups)


class Requests:
    """Requests of several requesters for model `a`; each holds its slot until released, in admission order."""

    def __init__(self, scheduler: Scheduler, store: ModelStore) -> None:
        self.scheduler, self.model = scheduler, store.get("a")
        self.admitted: list[str] = []  # requester keys, in the order they got a slot
        self.running: list[asyncio.Event] = []  # the releases of the requests holding slots, oldest first
        self.tasks: list[asyncio.Task[None]] = []

    def send(self, who: Requester, count: int = 1, options: dict[str, Any] | None = None) -> None:
        for _ in range(count):
            self.tasks.append(asyncio.create_task(self._request(who, options or {})))

    async def _request(self, who: Requester, options: dict[str, Any]) -> None:
        release = asyncio.Event()
        async with self.scheduler.use(self.model, options, requester=who):
            self.admitted.append(who.key)
            self.running.append(release)
            await release.wait()

    @property
    def queue(self) -> ModelQueue:
        return self.scheduler.queues.get(KEY) or ModelQueue(KEY)  # none before the first request

    async def settle(self, admitted: int, queued: int) -> None:
        await until(lambda: len(self.admitted) == admitted and len(self.queue) == queued,
                    f"{admitted} admitted and {queued} queued (now {len(self.admitted)}, {len(self.queue)})")

    async def release_one(self) -> None:
        """The oldest running request ends; wait for the slot to go to the next in turn, if any waits."""
        before, waiting = len(self.admitted), len(self.queue)
        self.running.pop(0).set()
        if waiting:
            await until(lambda: len(self.admitted) == before + 1, "the next admission")

    async def finish(self) -> None:
        while self.running or len(self.queue):
            if self.running:
                await self.release_one()
            await asyncio.sleep(0)
        await asyncio.gather(*self.tasks)


def test_a_second_users_first_request_gets_the_next_slot_however_many_the_first_queued(store):
    async def scenario(scheduler: Scheduler) -> None:
        requests = Requests(scheduler, store)
        requests.send(user("ann"), 12)
        await requests.settle(admitted=4, queued=8)
        requests.send(user("bob"))
        await requests.settle(admitted=4, queued=9)
        await requests.release_one()  # one slot frees: bob's, not ann's fifth
        assert requests.admitted == ["ann"] * 4 + ["bob"]
        await requests.finish()
        assert requests.admitted == ["ann"] * 4 + ["bob"] + ["ann"] * 8

    run(store, scenario, num_parallel=4)


def test_three_users_take_turns(store):
    async def scenario(scheduler: Scheduler) -> None:
        requests = Requests(scheduler, store)
        requests.send(user("holder"))
        await requests.settle(admitted=1, queued=0)
        for name in ("ann", "bob", "cy"):
            requests.send(user(name), 3)
        await requests.settle(admitted=1, queued=9)
        await requests.finish()
        assert requests.admitted == ["holder"] + ["ann", "bob", "cy"] * 3

    run(store, scenario, num_parallel=1)


def test_a_group_weight_gives_its_members_that_many_turns(store):
    async def scenario(scheduler: Scheduler) -> None:
        requests = Requests(scheduler, store)
        requests.send(user("holder"))
        await requests.settle(admitted=1, queued=0)
        requests.send(user("tess", "teachers"), 8)
        requests.send(user("sam", "students"), 8)
        await requests.settle(admitted=1, queued=16)
        for _ in range(8):
            await requests.release_one()
        first = requests.admitted[1:9]
        assert first == ["tess", "sam", "tess", "tess", "tess", "sam", "tess", "tess"]  # three turns to one
        await requests.finish()

    run(store, scenario, num_parallel=1, group_weights={"teachers": 3.0, "students": 1.0})


def test_one_requester_is_served_in_arrival_order_as_before(store):
    async def scenario(scheduler: Scheduler) -> None:
        order: list[int] = []
        release = asyncio.Event()

        async def request(index: int) -> None:
            async with scheduler.use(store.get("a"), {}):  # nobody named: the anonymous requester
                order.append(index)
                await release.wait()

        tasks = [asyncio.create_task(request(i)) for i in range(6)]
        await until(lambda: order == [0] and KEY in scheduler.queues and len(scheduler.queues[KEY]) == 5, "one running, five queued")
        release.set()
        await asyncio.gather(*tasks)
        assert order == list(range(6))

    run(store, scenario, num_parallel=1)


def test_a_requester_at_its_slot_cap_waits_while_others_take_free_slots(store):
    async def scenario(scheduler: Scheduler) -> None:
        requests = Requests(scheduler, store)
        requests.send(user("ann"), 3)
        await requests.settle(admitted=2, queued=1)  # two slots of four free, but ann holds her two
        requests.send(user("bob"))
        await requests.settle(admitted=3, queued=1)
        await requests.release_one()  # one of ann's ends: her third goes
        assert requests.admitted == ["ann", "ann", "bob", "ann"]
        await requests.finish()

    run(store, scenario, num_parallel=4, user_max_slots=2)


def test_past_its_queue_limit_a_requester_gets_429_with_retry_after(store):
    async def scenario(scheduler: Scheduler) -> None:
        requests = Requests(scheduler, store)
        requests.send(user("ann"))  # waiting for the load counts as waiting: one at a time
        await requests.settle(admitted=1, queued=0)
        requests.send(user("ann"), 2)
        await requests.settle(admitted=1, queued=2)
        with pytest.raises(TooManyRequests) as refused:
            async with scheduler.use(store.get("a"), {}, requester=user("ann")):
                pass
        assert refused.value.status == 429 and refused.value.retry_after >= 1
        assert "OLLAMA_USER_MAX_QUEUE=2" in refused.value.message
        assert scheduler.users.of(user("ann")).refused[QUEUE_LIMIT] == 1
        requests.send(user("bob"), 2)  # another requester still queues
        await requests.settle(admitted=1, queued=4)
        await requests.finish()

    run(store, scenario, num_parallel=1, user_max_queue=2)


def test_past_its_tokens_per_hour_a_requester_gets_429_until_they_age_out(store):
    async def scenario(scheduler: Scheduler) -> None:
        ann, bob = user("ann"), user("bob")
        scheduler.users.record(ann, 30, 40)
        async with scheduler.use(store.get("a"), {}, requester=ann):  # 70 of 100
            pass
        scheduler.users.record(ann, 20, 15)
        with pytest.raises(TooManyRequests) as refused:
            async with scheduler.use(store.get("a"), {}, requester=ann):
                pass
        assert refused.value.status == 429 and 1 <= refused.value.retry_after <= 3600
        assert "105 tokens in the last hour (OLLAMA_USER_TOKENS_PER_HOUR=100)" in refused.value.message
        assert scheduler.users.of(ann).refused[TOKEN_LIMIT] == 1
        async with scheduler.use(store.get("a"), {}, requester=bob):  # the limit is each requester's
            pass
        assert scheduler.users.of(ann).requests == 1 and scheduler.users.of(bob).requests == 1

    run(store, scenario, user_tokens_per_hour=100)


def test_a_waiting_request_whose_client_left_gives_up_its_turn(store):
    async def scenario(scheduler: Scheduler) -> None:
        requests = Requests(scheduler, store)
        requests.send(user("ann"), 2)
        await requests.settle(admitted=1, queued=1)
        requests.tasks.pop().cancel()
        await requests.settle(admitted=1, queued=0)
        requests.send(user("bob"))
        await requests.settle(admitted=1, queued=1)
        await requests.release_one()
        assert requests.admitted == ["ann", "bob"]
        await requests.finish()
        assert scheduler.users.of(user("ann")).busy == scheduler.users.of(user("ann")).queued == 0

    run(store, scenario, num_parallel=1)


def test_ps_tells_each_requester_theirs(store):
    async def scenario(scheduler: Scheduler) -> None:
        requests = Requests(scheduler, store)
        requests.send(user("ann"), 3)
        await requests.settle(admitted=1, queued=2)
        requests.send(user("bob"))
        await requests.settle(admitted=1, queued=3)
        [ann] = await running(scheduler, user("ann"))
        [bob] = await running(scheduler, user("bob"))
        [nobody] = await running(scheduler, ANONYMOUS)
        assert (ann["slots_busy"], ann["requests_queued"]) == (1, 3)  # the totals, as before
        assert ann["you"] == {"busy": 1, "queued": 2, "position": 2}  # bob goes first: ann had her turn
        assert bob["you"] == {"busy": 0, "queued": 1, "position": 1}
        assert nobody["you"] == {"busy": 0, "queued": 0, "position": None}
        assert "you" not in (await running(scheduler))[0]  # /health and /metrics ask for nobody
        await requests.finish()

    run(store, scenario, num_parallel=1)


def test_requesters_are_known_by_a_hash_of_their_token_never_the_token():
    one, again, other = Requester.of_token("secret-1"), Requester.of_token("secret-1"), Requester.of_token("secret-2")
    assert one == again and one.key != other.key
    assert "secret" not in one.key + one.label and len(one.label) == 12
    assert ANONYMOUS.label == "anonymous"


def test_group_weights_from_the_environment(monkeypatch):
    monkeypatch.setenv("OLLAMA_GROUP_WEIGHTS", "teachers=4, students=1,bad,x=0,y=-2,z=abc")
    assert SchedulerSettings().group_weights == {"teachers": 4.0, "students": 1.0}
    assert parse_weights("") == {}
    for name, value in (("OLLAMA_USER_MAX_SLOTS", 2), ("OLLAMA_USER_MAX_QUEUE", 8), ("OLLAMA_USER_TOKENS_PER_HOUR", 5000)):
        monkeypatch.setenv(name, str(value))
    settings = SchedulerSettings()
    assert (settings.user_max_slots, settings.user_max_queue, settings.user_tokens_per_hour) == (2, 8, 5000)
