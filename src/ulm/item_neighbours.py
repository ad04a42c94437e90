"""Compiled kernels behind ``recommend.item_similarities``.

Cosine is symmetric, so each pair of items is computed once, by the smaller
item: for item i the kernel walks i's users (the matrix by item) and, for each,
the user's items after i (the matrix by user, indices sorted), adding the
products of the two cells into a dense array of dots and one into a dense
count of shared users, both as long as the catalogue and reused from item to
item. Only the items touched are read back: each pair with enough support is
offered to the neighbour heaps of both of its items. A heap holds an item's k
best neighbours so far, the worst at its root, so most offers cost one
comparison.

Each thread fills its own heaps from its own ranges of items; ``merge_heaps``
then folds them into the first thread's and sorts every heap best first.
Nothing of size items x items is ever held: memory is the matrix by user, its
by-item index, and k heap slots per item and thread.

The kernels release the GIL, so plain Python threads run them side by side.
They are compiled on first use and the machine code is cached on disk, so
later processes only load it.
"""

from __future__ import annotations

import numba
import numpy as np

# Fields of a heap slot and of a heap's floor row.
VALUE, ITEM, SUPPORT = 0, 1, 2
FLOOR, SIZE = 0, 1


@numba.njit(nogil=True, cache=True)
def by_item(user_indptr, user_items, n_items):
    """The matrix's cells grouped by item, users increasing within an item.

    Returns the item pointer, the user of each cell, the cell's position in
    the matrix by user (where its weight is) and each item's work: the number
    of items after it in its users' rows, the pairs ``offer_pairs`` computes
    for it.
    """
    # Positions fit the dtype of the user pointer, whose last entry is the count.
    item_indptr = np.zeros(n_items + 1, dtype=user_indptr.dtype)
    for cell in range(user_items.size):
        item_indptr[user_items[cell] + 1] += 1
    for item in range(n_items):
        item_indptr[item + 1] += item_indptr[item]
    next_slot = item_indptr[:-1].copy()
    item_users = np.empty(user_items.size, dtype=user_items.dtype)
    item_cells = np.empty(user_items.size, dtype=user_indptr.dtype)
    work = np.zeros(n_items, dtype=np.int64)
    for user in range(user_indptr.size - 1):
        row_end = user_indptr[user + 1]
        for cell in range(user_indptr[user], row_end):
            item = user_items[cell]
            slot = next_slot[item]
            item_users[slot] = user
            item_cells[slot] = cell
            next_slot[item] = slot + 1
            work[item] += row_end - cell - 1
    return item_indptr, item_users, item_cells, work


@numba.njit(nogil=True, cache=True)
def _worse(value, item, other_value, other_item):
    """Whether (value, item) ranks after (other_value, other_item): a smaller
    similarity, or the same similarity and a larger item."""
    return value < other_value or (value == other_value and item > other_item)


@numba.njit(nogil=True, cache=True)
def _sift_down(heaps, row, size, position):
    """Restore the order of row's heap (worst at the root) below ``position``."""
    while True:
        worst = position
        for child in range(2 * position + 1, min(2 * position + 3, size)):
            if _worse(
                heaps[row, child, VALUE],
                heaps[row, child, ITEM],
                heaps[row, worst, VALUE],
                heaps[row, worst, ITEM],
            ):
                worst = child
        if worst == position:
            return
        for field in range(3):
            heaps[row, position, field], heaps[row, worst, field] = (
                heaps[row, worst, field],
                heaps[row, position, field],
            )
        position = worst


@numba.njit(nogil=True, cache=True)
def _offer(heaps, floors, row, value, item, support):
    """Put (value, item, support) into row's heap if it is among the k best.

    Callers test ``value >= floors[row, FLOOR]`` first, which turns most offers
    away without a call.
    """
    k = heaps.shape[1]
    size = int(floors[row, SIZE])
    if size < k:
        position = size
        while position > 0:
            parent = (position - 1) // 2
            if _worse(heaps[row, parent, VALUE], heaps[row, parent, ITEM], value, item):
                break
            heaps[row, position] = heaps[row, parent]
            position = parent
        floors[row, SIZE] = size + 1
    elif _worse(heaps[row, 0, VALUE], heaps[row, 0, ITEM], value, item):
        position = 0
    else:
        return
    heaps[row, position, VALUE] = value
    heaps[row, position, ITEM] = item
    heaps[row, position, SUPPORT] = support
    if size == k:
        _sift_down(heaps, row, size, 0)
    if floors[row, SIZE] == k:
        floors[row, FLOOR] = heaps[row, 0, VALUE]


@numba.njit(nogil=True, cache=True)
def offer_pairs(
    first_item,
    stop_item,
    user_indptr,
    user_items,
    user_weights,
    item_indptr,
    item_users,
    item_cells,
    norms,
    min_support,
    sums,
    touched,
    found,
    heaps,
    floors,
):
    """Offer every pair (i, j), first_item <= i < stop_item and j > i, with at
    least ``min_support`` shared users to the heaps of i and j.

    ``sums`` (n_items x 2 zeros: dot, shared users; it comes back as zeros),
    ``touched`` (n_items) and ``found`` (n_items x 2) are the thread's work
    arrays. ``heaps`` (n_items x k x 3: similarity, item, support) and
    ``floors`` (n_items x 2: the similarity a new neighbour must reach, -inf
    until the heap is full, and the heap's size) are its heaps.

    A dot adds its products one user at a time in increasing user order, the
    order of a sparse product of the by-item and by-user matrices, so a
    similarity is the same float that product gives, whichever item computes
    it.
    """
    for item in range(first_item, stop_item):
        n_touched = 0
        for cell in range(item_indptr[item], item_indptr[item + 1]):
            user = item_users[cell]
            user_cell = item_cells[cell]
            weight = user_weights[user_cell]
            for other_cell in range(user_cell + 1, user_indptr[user + 1]):
                other = user_items[other_cell]
                shared = sums[other, 1]
                # Written every time, kept only when the item is new.
                touched[n_touched] = other
                n_touched += shared == 0.0
                sums[other, 0] += weight * user_weights[other_cell]
                sums[other, 1] = shared + 1.0

        # The pairs with enough support move to the front of touched, their
        # dot and support to found.
        n_found = 0
        for position in range(n_touched):
            other = touched[position]
            support = sums[other, 1]
            touched[n_found] = other
            found[n_found, 0] = sums[other, 0]
            found[n_found, 1] = support
            n_found += support >= min_support
            sums[other, 0] = 0.0
            sums[other, 1] = 0.0
        for position in range(n_found):
            other = touched[position]
            value = min(found[position, 0] / (norms[item] * norms[other]), 1.0)
            support = found[position, 1]
            if value >= floors[item, FLOOR]:
                _offer(heaps, floors, item, value, float(other), support)
            if value >= floors[other, FLOOR]:
                _offer(heaps, floors, other, value, float(item), support)


@numba.njit(nogil=True, cache=True)
def merge_heaps(heaps, floors):
    """Fold the heaps of threads 1.. into thread 0's and sort each best first.

    The arrays are stacked by thread (threads x n_items x ...); afterwards row
    i of thread 0 holds item i's neighbours by similarity descending, then
    item ascending.
    """
    n_threads, n_items = floors.shape[:2]
    first_heaps, first_floors = heaps[0], floors[0]
    for row in range(n_items):
        for thread in range(1, n_threads):
            for slot in range(int(floors[thread, row, SIZE])):
                value = heaps[thread, row, slot, VALUE]
                if value >= first_floors[row, FLOOR]:
                    _offer(
                        first_heaps,
                        first_floors,
                        row,
                        value,
                        heaps[thread, row, slot, ITEM],
                        heaps[thread, row, slot, SUPPORT],
                    )
        # Heap sort: the worst goes to the end of the shrinking heap.
        for size in range(int(first_floors[row, SIZE]) - 1, 0, -1):
            for field in range(3):
                first_heaps[row, 0, field], first_heaps[row, size, field] = (
                    first_heaps[row, size, field],
                    first_heaps[row, 0, field],
                )
            _sift_down(first_heaps, row, size, 0)
