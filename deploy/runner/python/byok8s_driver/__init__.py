"""The byok8s driver: prepares a run's working directory from S3, then becomes Snakemake."""
