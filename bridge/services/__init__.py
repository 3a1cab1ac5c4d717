"""Services: transactions, ledger rows and scope checks around the pure rules of :mod:`bridge.domain`."""
