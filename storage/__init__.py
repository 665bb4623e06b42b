"""Object storage and the database: the studio's persistence layer (never imports studio)."""
