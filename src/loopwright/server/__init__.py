"""The HTTP adapter: app factory, auth, routes, SSE and WebSocket streaming."""
