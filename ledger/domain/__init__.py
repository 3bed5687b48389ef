"""The pure core of Trilha (see README.md beside this file)."""
