"""Fair turns between requesters for a model's slots, and the per-requester limits and counters.

Ollama serves a model's waiting requests first come, first served: one user who queues a
hundred requests makes everyone else wait for all of them. Here each model's waiting requests
are ordered by requester with start-time fair queuing: each requester has a virtual time that
moves by 1/weight per request admitted; when a slot frees, the waiting requester with the
earliest virtual time goes next, and a requester who starts waiting starts at the current
virtual time (no credit saved up while away). So however many requests one user queues,
another's first request waits for at most one slot to free; several users take turns; a
group's weight (OLLAMA_GROUP_WEIGHTS) gives its members that many turns to others' one.
With one requester (everyone anonymous) the order is arrival order, as before.

A requester is whoever the API layer says asks (`api.base.OllamaHandler.requester`): the Hub
user under JupyterHub, else a short hash of the request's token, else everyone together.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import math
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import TooManyRequests
from .settings import SchedulerSettings

HOUR = 3600.0


@dataclass(frozen=True)
class Requester:
    """Who a request is for: `key` decides turns and limits, `name` labels /metrics and logs."""

    key: str = ""  # "" is everyone who shows no identity, together
    name: str = ""
    groups: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.name or self.key or "anonymous"

    @staticmethod
    def of_token(token: str) -> Requester:
        """A requester known by the token it shows: a short hash of it, never the token."""
        digest = hashlib.sha256(token.encode()).hexdigest()[:12]
        return Requester(key=f"token:{digest}", name=digest)


ANONYMOUS = Requester()


@dataclass(eq=False)
class Waiter:
    """One request waiting for a slot of a model (or for its turn to load it)."""

    requester: Requester
    digest: str  # the manifest of the model it asks for (another than the loaded one's means a reload)
    num_ctx: int  # the context per slot it asks for
    must_grow: bool  # it must run in slots of at least num_ctx (its prompt did not fit the loaded ones)
    seq: int  # arrival order, which breaks ties
    future: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    since: float = field(default_factory=time.monotonic)


class ModelQueue:
    """The requests waiting for one model, in fair order (see the module's docstring).

    Who may go next also depends on what the scheduler knows (free slots, a load under way,
    per-requester caps); it asks `next` for the fair choice among the requesters it allows.
    """

    def __init__(self, key: str) -> None:
        self.key = key
        self.waiting: dict[str, deque[Waiter]] = {}  # requester key -> its waiting requests, oldest first
        self.passes: dict[str, float] = {}  # requester key -> its virtual time
        self.vtime = 0.0  # the virtual time of the last request admitted
        self.loading = False  # one request (re)loads the model: nobody is admitted until it is done
        self._seq = itertools.count()

    def __len__(self) -> int:
        return sum(len(x) for x in self.waiting.values())

    def add(self, requester: Requester, digest: str, num_ctx: int, must_grow: bool) -> Waiter:
        key = requester.key
        if key not in self.waiting:  # starts waiting now: no turns saved up from before
            self.passes[key] = max(self.passes.get(key, self.vtime), self.vtime)
            self.waiting[key] = deque()
        waiter = Waiter(requester, digest, num_ctx, must_grow, next(self._seq))
        self.waiting[key].append(waiter)
        return waiter

    def remove(self, waiter: Waiter) -> None:
        """A waiter that gave up (its client went away) before its turn."""
        mine = self.waiting.get(waiter.requester.key)
        if mine is not None and waiter in mine:
            mine.remove(waiter)
            if not mine:
                del self.waiting[waiter.requester.key]

    def next(self, allowed: Callable[[Requester], bool]) -> Waiter | None:
        """The waiter whose turn it is among the requesters `allowed` to take a slot now."""
        firsts = [q[0] for q in self.waiting.values() if allowed(q[0].requester)]
        return min(firsts, key=lambda w: (self.passes[w.requester.key], w.seq), default=None)

    def take(self, waiter: Waiter, weight: float) -> None:
        """`waiter` (the first of its requester's) goes: its requester's virtual time moves on."""
        key = waiter.requester.key
        self.remove(waiter)
        self.vtime = self.passes[key]
        self.passes[key] += 1 / weight
        # Requesters not waiting whose time is behind would start at vtime anyway: forget them.
        for gone in [k for k, p in self.passes.items() if k not in self.waiting and p <= self.vtime]:
            del self.passes[gone]

    def order(self, weight: Callable[[Requester], float]) -> list[Waiter]:
        """The waiters in the order they would go if nobody else came (for /api/ps' positions)."""
        passes = {k: self.passes[k] for k in self.waiting}
        queues = {k: list(q) for k, q in self.waiting.items()}
        out: list[Waiter] = []
        while queues:
            key = min(queues, key=lambda k: (passes[k], queues[k][0].seq))
            waiter = queues[key].pop(0)
            out.append(waiter)
            passes[key] += 1 / weight(waiter.requester)
            if not queues[key]:
                del queues[key]
        return out

    def count(self, key: str) -> int:
        return len(self.waiting.get(key, ()))


@dataclass
class Usage:
    """One requester's counters (/metrics) and what its limits look at."""

    label: str
    requests: int = 0  # requests that got a slot
    prompt_tokens: int = 0
    generated_tokens: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # limit -> requests refused by it
    busy: int = 0  # slots held now, on every model
    queued: int = 0  # requests waiting now, for every model
    recent: deque[tuple[float, int]] = field(default_factory=deque)  # (monotonic time, tokens) in the last hour

    def tokens_last_hour(self, now: float) -> int:
        while self.recent and self.recent[0][0] <= now - HOUR:
            self.recent.popleft()
        return sum(tokens for _, tokens in self.recent)


# The limits a request can be refused by: the label of /metrics' ollama_user_requests_refused_total.
QUEUE_LIMIT = "queue"
TOKEN_LIMIT = "tokens_per_hour"


class Users:
    """Every requester's usage, weights and limits (OLLAMA_USER_* and OLLAMA_GROUP_WEIGHTS)."""

    def __init__(self, settings: SchedulerSettings) -> None:
        self.settings = settings
        self.usage: dict[str, Usage] = {}

    def of(self, requester: Requester) -> Usage:
        usage = self.usage.get(requester.key)
        if usage is None:
            usage = self.usage[requester.key] = Usage(requester.label)
        return usage

    def weight(self, requester: Requester) -> float:
        """The largest weight among its groups; 1 for a requester in no weighted group."""
        weights = self.settings.group_weights
        return max((weights[g] for g in requester.groups if g in weights), default=1.0)

    def may_take_slot(self, requester: Requester) -> bool:
        cap = self.settings.user_max_slots
        return cap <= 0 or self.of(requester).busy < cap

    def check(self, requester: Requester, wait_estimate: Callable[[], float]) -> None:
        """Refuse (429) a request past its requester's queue or token limit; `wait_estimate`: seconds
        until one of its waiting requests is likely to start (for Retry-After)."""
        usage, settings = self.of(requester), self.settings
        if settings.user_max_queue > 0 and usage.queued >= settings.user_max_queue:
            raise self.refuse(usage, QUEUE_LIMIT, wait_estimate(),
                              f"too many requests waiting: {usage.queued} of yours already wait for a slot "
                              f"(OLLAMA_USER_MAX_QUEUE={settings.user_max_queue})")
        limit = settings.user_tokens_per_hour
        if limit > 0:
            now = time.monotonic()
            used = usage.tokens_last_hour(now)
            if used >= limit:
                raise self.refuse(usage, TOKEN_LIMIT, self._tokens_free_in(usage, used - limit, now),
                                  f"token limit reached: {used} tokens in the last hour "
                                  f"(OLLAMA_USER_TOKENS_PER_HOUR={limit})")

    @staticmethod
    def _tokens_free_in(usage: Usage, over: int, now: float) -> float:
        """Seconds until enough of the last hour's tokens age out to bring it under the limit."""
        for at, tokens in usage.recent:
            over -= tokens
            if over < 0:
                return at + HOUR - now
        return HOUR

    @staticmethod
    def refuse(usage: Usage, limit: str, seconds: float, message: str) -> TooManyRequests:
        usage.refused[limit] += 1
        retry_after = max(1, math.ceil(seconds))
        return TooManyRequests(f"{message}; retry in {retry_after} s", retry_after)

    def record(self, requester: Requester, prompt_tokens: int, generated_tokens: int) -> None:
        """The tokens a request of `requester` read and generated (counted against its hourly limit)."""
        usage = self.of(requester)
        usage.prompt_tokens += prompt_tokens
        usage.generated_tokens += generated_tokens
        if self.settings.user_tokens_per_hour > 0 and prompt_tokens + generated_tokens:
            usage.recent.append((time.monotonic(), prompt_tokens + generated_tokens))
