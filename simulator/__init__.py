"""Simulated agents and dashboards speaking the POA Protocol, for load and for operators.

``run_simulation(Simulation(...))`` drives N agents with the reference agent's payloads
and cadence (or at max rate) over REST or WebSocket; ``connect_dashboards`` opens
dashboard feeds that time every frame. Used by ``manage.py simulateagents`` and ``bench``.
"""
