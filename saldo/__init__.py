"""The composition root: settings, the app factory, the worker and the CLI."""
