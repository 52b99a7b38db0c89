"""Data quality: duplicate customers, contact validity, auto-tags and quality KPIs.

Modules: :mod:`.normalise` (text, company and person names in Chinese and Latin script),
:mod:`.contacts` (phones with ``phonenumbers``, e-mails with ``email-validator``, reason codes),
:mod:`.duplicates` (entity resolution with Splink), :mod:`.evaluation` (precision / recall against
known clusters), :mod:`.tags` (YAML-declared rule and model tags), :mod:`.kpis` (the quality
report with traffic lights) and :mod:`.clean` (the whole pass behind ``salesml clean``).
Needs the ``quality`` extra: ``pip install 'salesml[quality]'``.
"""
