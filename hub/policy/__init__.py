"""Who may see what: agreements, hub-wide safety rules and the pure decision function."""
