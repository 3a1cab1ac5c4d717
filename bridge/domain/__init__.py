"""Domain: the pure rules of the regulation (scope policy, unit tree, planner, safety valve, lock rules, report
lines). No I/O."""
