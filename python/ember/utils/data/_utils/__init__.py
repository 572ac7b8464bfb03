"""Internals of ember.utils.data: collate, worker loop, process transport."""

from . import collate, fetch, worker  # noqa: F401

MP_STATUS_CHECK_INTERVAL = 0.5
