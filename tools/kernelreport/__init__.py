"""The static kernel report: tools/kernel_report.py runs it; see its docstring."""
