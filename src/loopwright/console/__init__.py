"""Terminal front-ends built on the Python client: the chat and the CLI's remote commands.
They reach the server only through ``loopwright.client`` (HTTP), so they work against a remote
server and import none of the server's code."""
