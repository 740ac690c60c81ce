"""A year in minutes: a deterministic simulation of the whole platform (issue 13).

    python -m tests.simulation.year --seed 1 --days 365 [--meters 1000] [--database-url URL]

year.py drives it; sender.py is the worker's sending pass run in a process of its own, so that
the simulation can kill it with SIGKILL mid-batch; setup.py is what both build the sending side
with (saldo.sending.open_dispatcher, as `saldo worker` does)."""
