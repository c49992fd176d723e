"""The ethstats handler (eth-netstats' protocol): a class plus a row, like any third party's."""

from handlers.ethstats.handler import EthstatsHandler

__all__ = ["EthstatsHandler"]
