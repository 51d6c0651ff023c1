"""What the server tells its operators: logs, the request log, metrics."""
