"""The rate limiter's in-process counters under gthread's threads: many requests at once never become a 500
(limits 5.8's MemoryStorage can start one expiry timer twice; bench_load hit it twice in 38 000 requests)."""

from __future__ import annotations

import threading
import time

from limits.storage import MemoryStorage, storage_from_string

from experiment.throttle import ThreadSafeMemoryStorage, storage_uri


class SlowToSwap:
    """Swapping in a new timer takes a moment: widens the gap between storing a new timer and starting
    `self.timer`, so two threads that both found the timer dead meet there for certain."""

    @property
    def timer(self) -> threading.Timer:
        return self._timer

    @timer.setter
    def timer(self, value: threading.Timer) -> None:
        self._timer = value
        time.sleep(0.05)


class MeetBeforeStarting:
    """Every thread that stores a new timer waits there until all have stored one, then each starts
    `self.timer`: the plain storage, with no lock, then starts one timer as many times as threads passed its
    check. Starts are counted and only the first really starts (a second real start raises in the caller or,
    when two meet inside Thread.start, in the timer's own thread: either way it is the bug)."""

    def arm(self, n_threads: int) -> None:
        self._meet = threading.Barrier(n_threads, timeout=2.0)
        self.starts: dict[int, int] = {}
        self._count_lock = threading.Lock()

    @property
    def timer(self) -> threading.Timer:
        return self._timer

    @timer.setter
    def timer(self, value: threading.Timer) -> None:
        meet = getattr(self, "_meet", None)
        if meet is not None:
            value.start = self._counted(value)
        self._timer = value
        if meet is not None:
            try:
                meet.wait()
            except threading.BrokenBarrierError:  # fewer threads got here: a lock let only one through
                pass

    def _counted(self, timer: threading.Timer):
        real_start = timer.start

        def start() -> None:
            with self._count_lock:
                self.starts[id(timer)] = self.starts.get(id(timer), 0) + 1
                first = self.starts[id(timer)] == 1
            if first:
                real_start()
        return start


class RacyPlain(MeetBeforeStarting, MemoryStorage):
    pass


class SlowSafe(SlowToSwap, ThreadSafeMemoryStorage):
    pass


def hammer(storage, n_threads: int = 8) -> list[BaseException]:
    """Every thread increments at once while the expiry timer is dead; returns what they raised."""
    storage.timer.join()  # the first timer has run out: every incr now (re)starts it
    errors: list[BaseException] = []
    gate = threading.Barrier(n_threads)

    def hit() -> None:
        gate.wait()
        try:
            storage.incr("k", 60)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=hit) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_concurrent_hits_on_the_thread_safe_storage_never_raise():
    storage = SlowSafe()
    assert hammer(storage) == [] and storage.get("k") == 8


def test_the_plain_memory_storage_does_race_so_the_override_is_still_needed():
    """If this starts failing, limits has fixed its race: drop ThreadSafeMemoryStorage and storage_uri()."""
    storage = RacyPlain()
    storage.arm(8)
    assert hammer(storage, 8) == [] and max(storage.starts.values()) == 8


def test_memory_uri_maps_to_the_thread_safe_storage_and_others_pass_through():
    assert isinstance(storage_from_string(storage_uri("memory://")), ThreadSafeMemoryStorage)
    assert storage_uri("redis://localhost:6379") == "redis://localhost:6379"


def test_the_app_counts_in_the_thread_safe_storage(app):
    from experiment.throttle import EXTENSION
    assert isinstance(app.extensions[EXTENSION].storage, ThreadSafeMemoryStorage)
