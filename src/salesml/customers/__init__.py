"""Customer value and risk: point-in-time snapshots, BG/NBD + Gamma-Gamma, the shared base of
the customer tasks (CLV, churn) and value x risk segments."""
