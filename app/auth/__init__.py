"""Access: users of organisations, API keys, roles, the caller (``CurrentPrincipal``)
and what each caller may see (``app.auth.scope``)."""
