"""The `videokr` command: the top floor, which may import every layer (settings, warehouse, jobs, Airflow)."""
