"""Request and response shapes of the v1 HTTP contract (Create / Update / Public per resource)."""
