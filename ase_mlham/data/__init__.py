"""Reference data: molecules, configuration sampling, PySCF references, the database schema and reader."""
