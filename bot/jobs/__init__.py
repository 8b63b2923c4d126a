"""One durable job queue (the `jobs` table) for everything done after a request: see queue.py, worker.py."""
