"""The business rules. No strawberry, no HTTP here."""
