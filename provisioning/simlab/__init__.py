"""A simulated datacenter: pyghmi BMC servers on 127.0.0.1 with a machine behind each.

Runs without Django so it can live in its own process (pyghmi's client and server
share module-level state, so they never run in one process here).
"""
