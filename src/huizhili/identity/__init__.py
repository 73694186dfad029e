"""Identity: users and their roles, passwords, tokens, API keys and device credentials."""
