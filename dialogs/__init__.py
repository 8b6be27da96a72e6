"""One module per job. Each exposes `register(registry)` (bot/registry.py); the composition
root lists them (bot/app.py, JOB_MODULES). Importing a module registers nothing."""
