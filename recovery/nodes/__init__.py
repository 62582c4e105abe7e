"""What this process sees of each network's RPC endpoints, for operators."""
