"""Mail transactions: fragments merged into one document per message, and search."""
