"""Encoding a batch whose rows read windows of different lengths, computing only each row's window.

A length-bucketed GRU model reads each body cut to its bucket's length, padding included, so a
batch that mixes buckets (a server's batch of whatever requests came in) cannot simply be read
at its longest width: the short bodies would read extra padding and get other states. Encoding
each bucket in its own call keeps them exact, but a recurrent call's steps run one after the
other, and a call over a few rows costs nearly as much as one over many (on 2 cores, 1 row or 8
rows at 250 tokens: about 30 ms; 32 rows: about 100 ms).

`PackedEncoder` reads the whole batch in one pass over the positions, as PyTorch's packed
sequences do. The rows are sorted by window length, so at every position the rows whose window
covers it are a prefix of the batch. The positions are cut into segments where that prefix
changes, and each direction of the bidirectional GRU runs segment by segment on the rows of that
prefix, carrying their states from one segment into the next. A row therefore steps through
exactly its window, from a zero state, as it would cut to its window alone; rows outside a
segment cost nothing there, and the number of sequential steps is the batch's width, not the sum
of the buckets' lengths. Outputs outside a row's window are zero.
"""

from __future__ import annotations

import functools

import numpy as np


class PackedEncoder:
    """(body ids, window) → the attention encoder's (first decoder state, outputs), for a trained
    model's layers: `body_embedding`, the bidirectional `encoder_gru`, `encoder_final_states` and
    `encoder_state` (`models/attention.py`)."""

    def __init__(self, model) -> None:
        self._recurrent = model.get_layer("encoder_gru")
        self._embedding = model.get_layer("body_embedding")
        self._final_states = model.get_layer("encoder_final_states")
        self._state = model.get_layer("encoder_state")
        self.hidden = self._recurrent.forward_layer.units
        # One graph for both directions, so that TensorFlow runs them side by side as the
        # Bidirectional layer's own graph does (called one after the other, they took longer
        # than the per-bucket calls). A graph serves one number of segments, at most the
        # model's length buckets, and is compiled the first time a batch needs it.
        self._graphs: dict[int, object] = {}
        # Whether `compile` has run: a caller may prefer other means to compiling on first use.
        self.compiled = False

    def _graph(self, segments: int):
        import tensorflow as tf

        if segments not in self._graphs:
            # A partial, not a lambda: TensorFlow counts a lambda's traces together across the
            # graphs (one code object) and would warn of retracing.
            self._graphs[segments] = tf.function(
                functools.partial(self._encode, segments=segments),
                input_signature=[tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((segments, 3), tf.int32)],
                autograph=False,
            )
        return self._graphs[segments]

    def compile(self, most_segments: int) -> None:
        """Compile the graphs for 1 to `most_segments` segments now (about a second each on 2
        cores), so that no later batch waits for one."""
        for segments in range(1, most_segments + 1):
            self._graph(segments).get_concrete_function()
        self.compiled = True

    def _encode(self, ids, bounds, segments: int):
        import tensorflow as tf

        vectors = self._embedding(ids, training=False)
        rows = tf.shape(ids)[0]
        states, outputs = [], []
        for layer, order in (
            (self._recurrent.forward_layer, range(segments)),
            (self._recurrent.backward_layer, range(segments - 1, -1, -1)),
        ):
            state = tf.zeros((rows, self.hidden))
            parts = []
            for segment in order:
                start, end, count = bounds[segment, 0], bounds[segment, 1], bounds[segment, 2]
                # The backward layer reads its segment from the end and returns its outputs in that order.
                part, new_state = layer(vectors[:count, start:end], initial_state=[state[:count]], training=False)
                state = tf.concat([new_state, state[count:]], axis=0)
                if layer.go_backwards:
                    part = tf.reverse(part, axis=[1])
                parts.append(tf.pad(part, [[0, rows - count], [0, 0], [0, 0]]))
            states.append(state)
            outputs.append(tf.concat(parts if not layer.go_backwards else parts[::-1], axis=1))
        return self._state(self._final_states(states), training=False), tf.concat(outputs, axis=-1)

    def __call__(self, ids: np.ndarray, window: np.ndarray) -> tuple[np.ndarray, object]:
        """The state (rows, hidden) as a NumPy array and the outputs (rows, width, 2 × hidden) as a tensor.

        Each row's window must be one run of positions (`kept_columns`), all on the same side;
        positions outside it are not read.
        """
        import tensorflow as tf

        if ids.shape != window.shape:
            raise ValueError(f"the ids are {ids.shape} and the window {window.shape}")
        covered = window.sum(axis=1)
        if not (covered > 0).all():
            raise ValueError("every row needs at least one position in its window")
        # Longest windows first (stable, so equal windows keep their order): the rows that cover a
        # position are then a prefix, since the windows of one batch sit on the same side.
        order = np.argsort(-covered, kind="stable")
        active = window[order].sum(axis=0)  # How many rows cover each position: a prefix of `order`.
        used = np.flatnonzero(active)
        first, last = int(used[0]), int(used[-1]) + 1
        edges = [first, *(np.flatnonzero(np.diff(active[first:last])) + 1 + first), last]
        bounds = np.array(
            [(start, end, active[start]) for start, end in zip(edges[:-1], edges[1:], strict=True)], dtype=np.int32
        )
        state, outputs = self._graph(len(bounds))(tf.constant(ids[order]), tf.constant(bounds))
        # Positions no row reads (none when the batch is cut to its longest window) are zeros.
        outputs = tf.pad(outputs, [[0, 0], [first, ids.shape[1] - last], [0, 0]])
        restore = np.argsort(order)
        return np.asarray(state)[restore], tf.gather(outputs, restore)
