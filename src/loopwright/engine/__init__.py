"""The agentic loop as small resumable steps, run against injected ports.

Nothing here knows about SQL, DBOS or HTTP: ``runtime`` supplies the ports and makes each
model request and each tool call a durable step.
"""
