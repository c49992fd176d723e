"""The network view: what the backend knows of the network its agents' nodes form.

The ``network`` receiver (receivers/network/receiver.py) turns ``ethereum_metrics``
and ``networking_metrics`` messages and inactive events into a bounded store
(receivers/network/store.py: memory, or Redis shared by every process);
receivers/network/view.py computes the summary the API, ``/metrics`` and the
alert rules read: best block, block times, per-node state, block propagation and
uptime. See docs/alerts.md.
"""
