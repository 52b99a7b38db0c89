"""Monitoring a model in use: drift, KPI traffic lights, alerts, the report and the retrain rule."""
