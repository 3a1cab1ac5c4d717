"""The console's pages, one module per page (docs/console.md)."""
