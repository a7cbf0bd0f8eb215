"""The schema of the paragraph tables every stage exchanges, in a module that imports only pyarrow.

:mod:`corpusclean.segment` makes these tables, but it compiles Numba kernels
on import: the flow's process needs the schema long before (if ever) it needs
them, and every MB it imports is held through the run's peaks.
"""

import pyarrow as pa

PARAGRAPH_SCHEMA = pa.schema(
    [
        pa.field("paragraph_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("paragraph_index", pa.int64(), nullable=False),
        pa.field("start_offset", pa.int64(), nullable=False),
        pa.field("end_offset", pa.int64(), nullable=False),
        pa.field("original_text", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
    ]
)
