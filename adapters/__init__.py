"""Agency adapters and the client SDK that agency systems use to reach the hub."""
