-- The DuckLake catalog database, next to Airflow's metadata DB on the same server.
CREATE DATABASE ducklake OWNER airflow;
