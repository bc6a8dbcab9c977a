"""Operating a deployed stack: health, canary, logs, prices, dead letters, enhanced fan-out.

Each module reads or acts on what `up` made, found by the same deterministic names; the CLI's
`ops_cmds` parses options, calls one function here and renders the result.
"""
