"""Opportunity work beside the opportunity-win task: follow-up alerts, the call list and the pipeline forecast."""
