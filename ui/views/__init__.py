"""The panel's views; each follows the shared TimeState."""
