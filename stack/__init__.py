"""The composition root: builds every Fenwei service from one settings object.

``stack`` sits above every service package (edge, ingest, alerts, forecasting, api,
firmware_sim); nothing imports it but the ``fenwei`` command's entry points.
"""
