"""Statements and transactions per caller in ``helpline serve`` processes: a diagnostic, not a
benchmark.

Put this folder on the servers' ``PYTHONPATH`` (an absolute path: they start elsewhere) and name
an output prefix in ``SQLCOUNT``; every Python process that imports SQLAlchemy then counts each
statement it runs and each transaction it begins, with the gateway's own frames that called it (through SQLAlchemy's greenlet, up to the
awaiting coroutine), and writes ``<prefix>.<pid>.txt`` every 5 s and at exit.
``bench.deployed`` passes ``PYTHONPATH`` on to the servers it starts (and strips ``HELPLINE_*``):

    PYTHONPATH=$PWD/bench/sqlcount SQLCOUNT=/tmp/sql python -m bench.deployed --setups pg-1 \\
        --rate 100 --think 1 --no-peer --duration 30
    python -m bench.sqlcount /tmp/sql.*.txt        # the busiest server's file, summed by caller

Counting costs CPU: the benchmark's own figures in such a run are not comparable with others.
"""
