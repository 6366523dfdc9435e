"""Channel adapters: one plain class per channel kind behind one interface.

See :mod:`channels.adapters.base` for the interface and the error contract; the kind
modules are imported on demand by :func:`adapter_for`.
"""

from channels.adapters.base import (
    ChannelAdapter,
    ChannelError,
    ChannelRejected,
    ChannelThrottled,
    ChannelUnavailable,
    LevelPush,
    ListingRef,
    PushOutcome,
    adapter_class,
    adapter_for,
)

__all__ = [
    "ChannelAdapter",
    "ChannelError",
    "ChannelRejected",
    "ChannelThrottled",
    "ChannelUnavailable",
    "LevelPush",
    "ListingRef",
    "PushOutcome",
    "adapter_class",
    "adapter_for",
]
