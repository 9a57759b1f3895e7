"""Grid YAML with a bounded cost and a strict shape: nesting and alias uses capped while composing (a 'billion
laughs' chain is refused before anything is built), keys that repeat or are not strings refused at their line."""

from __future__ import annotations

import yaml

MAX_DEPTH, MAX_ALIASES = (
    40,
    100,
)  # a grid is a few levels deep; anchors are for sharing a block, not for bombs


class GridLoader(yaml.SafeLoader):
    """PyYAML's safe loader with a bounded cost and a stricter shape: nesting deeper than `MAX_DEPTH` and more
    than `MAX_ALIASES` alias uses (a 'billion laughs' chain) are refused while composing, before anything is
    built; a mapping key that repeats (PyYAML keeps the last, so `train:` twice silently loses one) or is not a
    string is an error at its line."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = self._aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"more than {MAX_ALIASES} alias (*name) uses",
                    self.peek_event().start_mark,
                )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"nesting deeper than {MAX_DEPTH} levels",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is not a string (quote it)", key_node.start_mark
                )
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)
