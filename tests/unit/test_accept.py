"""The connection table shared by the workers, and the rule that reads it."""
from __future__ import annotations

import multiprocessing

import pytest

from embedding_server.worker.handler import HttpPolicy
from embedding_server.worker.accept import (
    BALANCED_BELOW, BalancedWorker, ConnectionTable, balanced_worker_class, should_wait)


def test_a_fresh_table_has_no_serving_peer():
    table = ConnectionTable(4)
    assert table.least_other(0) is None


def test_least_other_is_the_fewest_connections_of_the_other_slots():
    table = ConnectionTable(4)
    table.publish(0, 1)
    table.publish(1, 5)
    table.publish(2, 3)
    assert table.least_other(0) == 3  # its own count is not a peer's
    assert table.least_other(1) == 1
    table.release(0)
    assert table.least_other(1) == 3


def test_claim_takes_the_lowest_slot_no_live_worker_holds_and_marks_it_free():
    table = ConnectionTable(3)
    table.publish(1, 7)  # left by a worker that died without a release
    assert table.claim([0, None]) == 1
    assert table.least_other(0) is None  # free until its worker publishes
    assert table.claim([0, 1, 2]) is None


def _publish_in_child(table: ConnectionTable) -> None:
    table.publish(2, 9)


def test_counts_published_after_a_fork_are_seen_by_the_parent():
    table = ConnectionTable(3)
    child = multiprocessing.get_context("fork").Process(target=_publish_in_child, args=(table,))
    child.start()
    child.join(10)
    assert child.exitcode == 0
    assert table.least_other(0) == 9


@pytest.mark.parametrize("mine, least, wait", [
    (0, None, False),   # no peer serving: take it
    (3, 3, False),      # equal loads: both may take it
    (2, 3, False),      # the least loaded takes it
    (4, 3, True),       # a peer holds fewer: leave it to them
    (BALANCED_BELOW + 5, BALANCED_BELOW, False),  # every worker busy enough: take it
    (BALANCED_BELOW + 5, BALANCED_BELOW - 1, True),
])
def test_a_worker_waits_only_when_a_peer_holds_fewer_connections(mine, least, wait):
    assert should_wait(mine, least) is wait


def test_worker_classes_get_their_own_table_and_the_master_assigns_slots():
    policy = HttpPolicy(request_line=100)
    first, second = balanced_worker_class(2, policy), balanced_worker_class(2, HttpPolicy())
    assert issubclass(first, BalancedWorker)
    assert first.table is not second.table
    assert first.wsgi_handler.policy is policy and second.wsgi_handler.policy is not policy

    class Peer:
        slot = 0

    worker = object.__new__(first)  # gunicorn builds it; only the slot matters here
    worker.claim_slot([Peer()])
    assert worker.slot == 1
    first.table.publish(1, 4)
    worker.release_slot()
    assert first.table.least_other(0) is None
