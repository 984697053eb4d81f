"""A prefix tree of block hashes: every prefix of every block-hash request seen, for the ideal cache.

A block-hash trace (``read/traces.py``) gives each call's prompt as a list of block ids; its shape
(``Measurer._shape_blocks``) has one piece per block and chain keys ``chain[k+1]`` naming blocks
0..k. The tree is kept as the set of its nodes' chain keys: since a chain key names a whole prefix,
the set is prefix-closed (a request adds every prefix it has), so "how many leading blocks of this
request has any earlier request had" is a binary search over its chain keys (``O(log n)`` set
lookups), and adding the request costs only its blocks past that point (``O(new)``, in one C-level
``set.update``): time and memory grow with new content, not with the prompt's length.
"""

from __future__ import annotations

from collections.abc import Sequence


class BlockPrefixes:
    """The nodes (chain keys) of the prefix tree of every block-hash request added so far."""

    __slots__ = ("nodes",)

    def __init__(self) -> None:
        self.nodes: set[int] = set()

    def __len__(self) -> int:
        return len(self.nodes)

    def longest(self, chain: Sequence[int]) -> int:
        """How many leading pieces of the prompt with these chain keys (len n+1) some earlier one had."""
        nodes = self.nodes
        lo, hi = 0, len(chain) - 1
        while lo < hi:  # prefix-closed: node k+1 present means nodes 1..k are too
            mid = (lo + hi + 1) // 2
            if chain[mid] in nodes:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def add(self, chain: Sequence[int], known: int) -> None:
        """Add a prompt whose first ``known`` pieces are already in the tree (``longest``)."""
        self.nodes.update(chain[known + 1 :])
