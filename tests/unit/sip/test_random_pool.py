"""Random values from a pooled read: every byte handed out once, forked children
start afresh."""

from __future__ import annotations

import os

from kilopbx.sip.message import new_tag
from kilopbx.sip.random_pool import RandomPool, random_hex


def counting_source() -> tuple[list[int], RandomPool]:
    reads: list[int] = []
    counter = iter(range(1_000_000))

    def read(count: int) -> bytes:
        reads.append(count)
        return bytes(next(counter) % 256 for _ in range(count))

    return reads, RandomPool(size=16, read=read)


def test_slices_of_one_read_never_overlap() -> None:
    reads, pool = counting_source()
    taken = [pool.take(6), pool.take(6), pool.take(6)]  # the third needs a new block
    assert reads == [16, 16]
    assert taken == [bytes(range(0, 6)), bytes(range(6, 12)), bytes(range(16, 22))]


def test_a_request_larger_than_the_block_is_read_on_its_own() -> None:
    reads, pool = counting_source()
    assert len(pool.take(40)) == 40 and reads == [40]


def test_forget_drops_the_rest_of_the_block() -> None:
    reads, pool = counting_source()
    pool.take(4)
    pool.forget()
    assert pool.take(4) == bytes(range(16, 20)) and reads == [16, 16]


def test_tags_and_hex_values_differ_and_have_their_length() -> None:
    tags = {new_tag() for _ in range(5000)}
    assert len(tags) == 5000 and all(len(tag) == 12 for tag in tags)
    assert len(random_hex(8)) == 16


def test_a_forked_child_does_not_repeat_its_parents_values() -> None:
    random_hex(1)  # the parent holds a partly used block
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        os.write(write, random_hex(16).encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child != random_hex(16)
