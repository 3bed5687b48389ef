// In-browser verification of a lot proof bundle (see docs/FORMAT.md).
