"""Sales forecasting parts: series on a regular calendar (panel), rows per origin and step,
rolling-origin backtests, statistical baselines, conformal intervals and reconciliation."""
