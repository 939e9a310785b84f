"""LipSpool's HTTP API for integrators: jobs in, status and results out, over JSON and HTTP.

A client of the spool like the dashboard: it writes job files and reads status files through
spooler.protocol and never imports the engine's heavy parts (a file's media check loads the
engine's probe when the first upload is checked). Run it with `python -m api serve`.
"""
API_SCHEMA = 1  # the version of the JSON objects the API itself writes (pages, lists, errors, token files)
API_PREFIX = "/v1"
