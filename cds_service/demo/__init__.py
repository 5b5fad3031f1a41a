"""The card preview page (demo mode only) and its trend chart."""
