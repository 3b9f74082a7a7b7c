"""Pure version logic: no git, no network, no files. Everything here takes data and returns data."""
