"""Imported last by the render server, the process a print run's render processes fork from.

pages.py names it after the rendering modules in the server's preload list. By then the server
has imported everything its children share (WeasyPrint and the rendering modules); freezing it
moves those objects out of the garbage collector's reach. Each forked process would otherwise
write to them whenever it collects, copying the pages they sit on into its own memory, which
counts against a print run's peak (benchmarks/batch_pdf.py measures it).
Importing it anywhere else would freeze that process's objects too, so nothing else does.
"""

import gc

gc.collect()
gc.freeze()
