"""Model classification: training-compute intervals and publication status from metadata.

Pure math (counting, hardware, combine, publication) is free of I/O; readers (safetensors
headers, remote hubs, files) are separate. Entry points: `gate.compute.classify`.
"""
