"""Signature of the compiled version-5 UUID text (_uuid5.c), for the type checker."""
from _typeshed import ReadableBuffer

def from_sha1(digest: ReadableBuffer, /) -> str: ...
