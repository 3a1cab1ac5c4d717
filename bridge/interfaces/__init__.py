"""Interfaces: the API, the command line, later the web console and the worker. Thin: parse, call a service, render."""
