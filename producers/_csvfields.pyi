"""Signatures of the compiled CSV split (_csvfields.c), for the type checker."""
from _typeshed import ReadableBuffer

FIELD_SIZE_LIMIT: int

def fields(line: ReadableBuffer, delimiter: str = ",", quotechar: str = '"', /) -> list[str] | None: ...
def pick(line: ReadableBuffer, columns: tuple[int, ...], delimiter: str = ",", quotechar: str = '"',
         /) -> tuple[int, tuple[str, ...]] | None: ...
