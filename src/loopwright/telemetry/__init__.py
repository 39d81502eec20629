"""What the server tells its operator: Prometheus metrics (``metrics``), OpenTelemetry traces
(``tracing``) and the ids every log line carries (``context``). Nothing here is on the per-delta
path: each call records one finished thing (a run, a model request, a tool call, an append)."""
