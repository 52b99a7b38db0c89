"""The shared flow and what every task uses: the Task protocol, experiment config, data
contracts, feature encoding, splits, LightGBM fitting, calibration, tuning, SHAP reasons,
metrics and plots. Nothing here knows a task by name."""
