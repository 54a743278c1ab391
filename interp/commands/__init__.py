"""CLI commands; each public module defines its commands as functions and adds them in `register(app)`, and is
discovered automatically (private modules, such as `_options`, are helpers)."""
