"""Alerts on the network view: rules, their pending → firing → resolved state, silences, destinations.

Serving processes take turns evaluating the rules (one an interval) and all try the
deliveries; each transition is a conditional update in the database, so exactly one
process makes it and records its event and deliveries. See docs/alerts.md.
"""
