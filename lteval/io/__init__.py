"""Reading and writing the project's files: labels and predictions CSVs, atomic writes."""
