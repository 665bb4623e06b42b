"""Exceptions raised by the storage layer."""
from __future__ import annotations


class StorageError(Exception):
    """Base class for storage failures; the message is meant for a person."""


class ObjectNotFound(StorageError):
    """The requested object does not exist."""


class StorageUnavailable(StorageError):
    """The object store cannot be reached or refused our credentials."""
