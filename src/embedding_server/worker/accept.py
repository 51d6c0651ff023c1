"""Spreading new connections evenly over gunicorn's gevent workers.

Every worker waits on the same listening socket, and whichever wakes first
takes what is there: gevent's server accepts up to 100 connections per
wake-up. A client that opens a few keep-alive connections at once (a bulk
client, or wrk at 8 connections) often found most or all of them in one
worker, which then did the work of all while the other idled: with 2
workers and 8 connections, 13 runs split 4/4 five times, 3/5 four, 2/6
three and 8/0 once, which served 418 requests/s against 559-674 for 4/4.

Each worker publishes how many connections it holds in a table of shared
memory that the master creates before forking them. When the socket is
readable, a worker holding more connections than the least loaded of its
peers waits `WAIT_S` (that peer takes the connection meanwhile) and then
accepts anyway, so a busy or stuck peer costs a new connection at most that
wait; once every worker holds `BALANCED_BELOW` connections, none waits.
This is least-connections balancing, as a proxy in front would do, without
a proxy's second hop.
"""
from __future__ import annotations

import functools
import mmap
import struct
from typing import Any, Iterable

from gunicorn.workers.ggevent import GeventPyWSGIWorker, PyWSGIServer

from .handler import HttpPolicy, WorkerHandler

#: How long a more loaded worker leaves a new connection to its peers.
WAIT_S = 0.005

#: Past this many connections in every worker, new ones are taken at once.
#: A worker holding that many has work enough for its core, so balance
#: matters less than latency: under a burst of 128 connections, leaving each
#: one to a busy peer delayed the last first requests by up to half a second.
BALANCED_BELOW = 8

#: The count of a slot no serving worker holds: above any real count.
FREE = 2 ** 62

_SLOT = struct.Struct("q")


class ConnectionTable:
    """Open connections per worker, in memory shared across the fork.

    The master assigns the slots (it alone forks and reaps the workers);
    each worker writes only its own slot, so no lock is needed: an aligned
    8-byte store is atomic, and a reader at worst sees a count one
    connection old.
    """

    def __init__(self, slots: int):
        self._memory = mmap.mmap(-1, slots * _SLOT.size)  # shared, anonymous
        self._counts = memoryview(self._memory).cast("q")
        for slot in range(slots):
            self._counts[slot] = FREE

    def claim(self, taken: Iterable[int | None]) -> int | None:
        """The lowest slot not in `taken` (the live workers' slots), marked
        free until its worker starts serving; None when all are taken."""
        used = set(taken)
        for slot in range(len(self._counts)):
            if slot not in used:
                self._counts[slot] = FREE
                return slot
        return None

    def publish(self, slot: int, connections: int) -> None:
        self._counts[slot] = connections

    def release(self, slot: int) -> None:
        self._counts[slot] = FREE

    def least_other(self, slot: int) -> int | None:
        """The fewest connections any other serving worker holds."""
        least = min((count for i, count in enumerate(self._counts) if i != slot),
                    default=FREE)
        return None if least >= FREE else least


def should_wait(mine: int, least_other: int | None) -> bool:
    """Whether a worker holding `mine` connections leaves the next one to a
    peer: only to a peer holding fewer (with equal loads both accept), and
    only while that peer holds fewer than `BALANCED_BELOW`."""
    return least_other is not None and mine > least_other and least_other < BALANCED_BELOW


class BalancedServer(PyWSGIServer):
    """gunicorn's pywsgi server, accepting a connection at once only while no
    peer holds fewer, and otherwise after leaving it to them for `WAIT_S`."""

    _wait_timer: Any = None

    def __init__(self, *args: Any, table: ConnectionTable | None = None,
                 slot: int | None = None, **kwargs: Any):
        self.table, self.slot = table, slot  # before __init__, which may close()
        super().__init__(*args, **kwargs)

    def start(self) -> None:
        super().start()
        self._publish(0)

    def do_read(self) -> Any:
        if self._peer_holds_fewer():
            # Not accepting keeps the socket's watcher from firing again at
            # once; the timer brings it back, and the connection is taken
            # then if no peer has taken it.
            self.stop_accepting()
            self._start_wait()
            return None
        return self._accept()

    def do_close(self, *args: Any) -> None:
        # Called from the connection's handler, which the pool still counts.
        self._publish(len(self.pool) - 1)
        super().do_close(*args)

    def close(self) -> None:
        if self.table is not None and self.slot is not None:
            self.table.release(self.slot)  # shutting down: the peers take all
        if self._wait_timer is not None:
            self._wait_timer.close()
        super().close()

    def _start_wait(self) -> None:
        # A fresh timer each time: gevent's libev timer, once fired, fires at
        # once when started again. And the loop's clock was read before this
        # turn's work: a timer counted from it would fire early after a long
        # turn.
        if self._wait_timer is not None:
            self._wait_timer.close()
        self.loop.update_now()
        self._wait_timer = self.loop.timer(WAIT_S)
        self._wait_timer.start(self._resume)

    def _resume(self) -> None:
        """The wait is over: take the connection if no peer has (once: a
        pass left for later would let the next connection skip the check)."""
        if not self.started:
            return
        accepted = None
        if not self.full():
            try:
                accepted = self._accept()
            except OSError:
                pass  # the accept loop meets the error again and backs off
        if accepted:
            self.do_handle(*accepted)
        self.start_accepting()

    def _accept(self) -> Any:
        accepted = super().do_read()
        if accepted:
            self._publish(len(self.pool) + 1)  # its handler is spawned next
        return accepted

    def _peer_holds_fewer(self) -> bool:
        return self.table is not None and self.slot is not None and should_wait(
            len(self.pool), self.table.least_other(self.slot))

    def _publish(self, connections: int) -> None:
        if self.table is not None and self.slot is not None and not self.closed:
            self.table.publish(self.slot, max(connections, 0))


class BalancedWorker(GeventPyWSGIWorker):
    """gunicorn's gevent pywsgi worker serving through `BalancedServer`, each
    response written in one call and its request headers read without the
    email package (`handler.WorkerHandler`).

    `table` is bound by `balanced_worker_class`; the master gives each
    worker its slot before forking it (`claim_slot`) and frees it when the
    worker exits (`release_slot`).
    """

    table: ConnectionTable
    slot: int | None = None
    wsgi_handler = WorkerHandler

    def claim_slot(self, peers: Iterable[Any]) -> None:
        self.slot = self.table.claim(getattr(peer, "slot", None) for peer in peers)

    def release_slot(self) -> None:
        if self.slot is not None:
            self.table.release(self.slot)

    def run(self) -> None:
        self.server_class = functools.partial(BalancedServer, table=self.table,
                                              slot=self.slot)
        super().run()


def balanced_worker_class(workers: int, policy: HttpPolicy) -> type[BalancedWorker]:
    """A worker class with a fresh table, room for gunicorn's TTIN to add
    workers (one past the room serves unbalanced), and its handler bound to
    `policy`."""
    handler = type("WorkerHandler", (WorkerHandler,), {"policy": policy})
    return type("BalancedWorker", (BalancedWorker,),
                {"table": ConnectionTable(max(8, 4 * workers)), "wsgi_handler": handler})
