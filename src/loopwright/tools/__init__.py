"""Tools an agent may call: specs with JSON schemas, the built-in workspace tools, permissions."""
