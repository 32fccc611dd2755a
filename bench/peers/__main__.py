"""Side-by-side benchmark entry point: `python -m bench.peers`."""

from bench.peers.compare import main

main()
