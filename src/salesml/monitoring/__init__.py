"""Monitoring a model in use: drift, KPI traffic lights, alerts, the report and the retrain rule.

Modules: :mod:`~salesml.monitoring.drift` (PSI, profiles, the reference stored
at training), :mod:`~salesml.monitoring.kpis` (attainment, lights, period KPIs
and alerts), :mod:`~salesml.monitoring.settings` (targets and rules from
``experiments/monitoring.yaml``), :mod:`~salesml.monitoring.monitor` (the
``monitor`` run that puts them together; its docstring holds the rules),
:mod:`~salesml.monitoring.report` (JSON summary, plots, HTML from the Jinja2
template ``templates/report.html.j2``, MLflow logging) and
:mod:`~salesml.monitoring.retrain` (``salesml retrain``).
"""
